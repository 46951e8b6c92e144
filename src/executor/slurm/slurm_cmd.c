/* slurm_cmd.c: the Slurm backend's pure parts: the sbatch command line and
 * environment, the batch script, the parsers of `scontrol show job -o` and
 * `scontrol show node -o`, and which outcome a Slurm job state is. No
 * processes and no files here, so all of it is unit-tested and fuzzed. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "executor/slurm/slurm_int.h"

#define ARG_MAX_LEN 4096 /* one option of ours: a path plus its flag */

void slurm__strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static size_t strv_len(const char *const *v)
{
    size_t n = 0;

    while (v && v[n])
        n++;
    return n;
}

int64_t slurm__time_minutes(int64_t timeout_s, int64_t grace_s)
{
    int64_t total;

    if (timeout_s <= 0)
        return 0;
    if (grace_s < 0)
        grace_s = 0;
    /* Slurm's limit must never win the race with ccfd's own timer, which
     * sends TERM at the timeout and KILL after the grace. */
    if (timeout_s > INT64_MAX / 2 || grace_s > INT64_MAX / 2)
        return INT32_MAX;
    total = timeout_s + grace_s;
    total = total / 60 + (total % 60 != 0) + 1;
    return total > INT32_MAX ? INT32_MAX : total;
}

int64_t slurm__cpus(double cpu)
{
    if (!(cpu > 0))
        return 0;
    if (cpu >= 1e6)
        return 1000000;
    int64_t whole = (int64_t)cpu; /* no libm in libccfd's users */

    if (cpu - (double)whole > 1e-9)
        whole++;
    return whole < 1 ? 1 : whole;
}

/* "prefix" + value, or NULL past ARG_MAX_LEN. */
static char *opt_str(const char *prefix, const char *value)
{
    char buf[ARG_MAX_LEN];
    int n = snprintf(buf, sizeof(buf), "%s%s", prefix, value);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    return ccf_xstrdup(buf);
}

static char *opt_num(const char *prefix, long long v, const char *suffix)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%s%lld%s", prefix, v, suffix);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    return ccf_xstrdup(buf);
}

/* Appends to v (room checked by the caller); a NULL item (too long) makes
 * the whole argv fail. */
static int push(char **v, size_t *n, char *item)
{
    if (!item)
        return CCF_EINVAL;
    v[(*n)++] = item;
    return 0;
}

static int push_options(const struct slurm__submit *s, char **v, size_t *n)
{
    int64_t cpus = slurm__cpus(s->cpu), mins = slurm__time_minutes(s->timeout_s, s->grace_s);
    int rc = 0;

    rc |= push(v, n, ccf_xstrdup("sbatch"));
    /* --parsable: the id alone on stdout ("id" or "id;cluster"). */
    rc |= push(v, n, ccf_xstrdup("--parsable"));
    /* ALL: sbatch's own environment, which is the job's (slurm__split_env);
     * NONE would load the submitting user's login environment instead. */
    rc |= push(v, n, ccf_xstrdup("--export=ALL"));
    /* ccf retries inside one job; a requeue would run an attempt twice. */
    rc |= push(v, n, ccf_xstrdup("--no-requeue"));
    rc |= push(v, n, opt_str("--job-name=", s->name));
    rc |= push(v, n, opt_str("--chdir=", s->work_dir));
    rc |= push(v, n, opt_str("--output=", s->out_file));
    rc |= push(v, n, opt_str("--error=", s->out_file));
    rc |= push(v, n, ccf_xstrdup("--open-mode=append"));
    if (s->partition && *s->partition)
        rc |= push(v, n, opt_str("--partition=", s->partition));
    if (cpus > 0)
        rc |= push(v, n, opt_num("--cpus-per-task=", (long long)cpus, ""));
    if (s->memory_mib > 0)
        rc |= push(v, n, opt_num("--mem=", (long long)s->memory_mib, "M"));
    if (mins > 0)
        rc |= push(v, n, opt_num("--time=", (long long)mins, ""));
    return rc ? CCF_EINVAL : 0;
}

int slurm__sbatch_argv(const struct slurm__submit *s, char ***out)
{
    size_t nargs = strv_len(s->argv), n = 0, cap;
    char **v;
    int rc;

    if (nargs == 0 || !s->name || !*s->name || !s->work_dir || !s->out_file || !s->script ||
        s->argv[0][0] == '\0' || s->argv[0][0] == '-')
        return CCF_EINVAL; /* `exec -x` would be an option of the shell's */
    if (nargs > 4096)
        return CCF_ETOOLARGE;
    cap = 16 + 1 + nargs + 1;
    v = ccf_xmalloc(cap * sizeof(*v));
    memset(v, 0, cap * sizeof(*v));
    rc = push_options(s, v, &n);
    if (rc == 0)
        rc = push(v, &n, ccf_xstrdup(s->script));
    for (size_t i = 0; rc == 0 && i < nargs; i++)
        rc = push(v, &n, ccf_xstrdup(s->argv[i]));
    if (rc < 0) {
        slurm__strv_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* ---- the environment and the batch script ---- */

static const char *const slurm_sets[] = {"HOSTNAME", "ENVIRONMENT", "TMPDIR", "PWD", "OLDPWD"};
static const char *const slurm_prefixes[] = {"SLURM_", "SBATCH_", "SALLOC_", "SRUN_", "SPANK_"};

static bool name_is(const char *entry, size_t nlen, const char *name)
{
    return strlen(name) == nlen && memcmp(entry, name, nlen) == 0;
}

/* Variables that must not reach sbatch, or that Slurm overwrites. */
static bool is_slurm_name(const char *entry, size_t nlen)
{
    for (size_t i = 0; i < sizeof(slurm_sets) / sizeof(slurm_sets[0]); i++)
        if (name_is(entry, nlen, slurm_sets[i]))
            return true;
    for (size_t i = 0; i < sizeof(slurm_prefixes) / sizeof(slurm_prefixes[0]); i++)
        if (nlen >= strlen(slurm_prefixes[i]) &&
            memcmp(entry, slurm_prefixes[i], strlen(slurm_prefixes[i])) == 0)
            return true;
    return false;
}

static bool shell_name(const char *s, size_t n)
{
    if (n == 0 || isdigit((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_') || (unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    size_t need;

    if (!ccf_size_add(b->len, n + 1, &need))
        abort(); /* inputs are bounded far below this by the spec's 16 MiB */
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* value in single quotes; a quote inside as '\'' */
static void sb_quoted(struct sbuf *b, const char *s)
{
    sb_str(b, "'");
    for (const char *q; (q = strchr(s, '\'')); s = q + 1) {
        sb_add(b, s, (size_t)(q - s));
        sb_str(b, "'\\''");
    }
    sb_str(b, s);
    sb_str(b, "'");
}

static bool env_has(const char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; envp[i]; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
            return true;
    return false;
}

static void script_head(struct sbuf *b, const char *const *envp)
{
    sb_str(b, "#!/bin/sh\n"
              "# ccf: the job's exact environment (Slurm adds only SLURM_*), then its\n"
              "# command, given as this script's arguments.\n");
    for (size_t i = 0; i < sizeof(slurm_sets) / sizeof(slurm_sets[0]); i++) {
        if (env_has(envp, slurm_sets[i]))
            continue;
        sb_str(b, "unset ");
        sb_str(b, slurm_sets[i]);
        sb_str(b, "\n");
    }
}

int slurm__split_env(const char *const *envp, const char *slurm_conf, char ***env_out,
                     char **script_out)
{
    size_t n = strv_len(envp), k = 0;
    char **env = ccf_xmalloc((n + 2) * sizeof(*env));
    struct sbuf b = {0};

    script_head(&b, envp);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(envp[i], '=');
        size_t nlen = eq ? (size_t)(eq - envp[i]) : 0;
        if (!eq || nlen == 0)
            goto bad;
        if (!is_slurm_name(envp[i], nlen)) {
            env[k++] = ccf_xstrdup(envp[i]);
            continue;
        }
        if (!shell_name(envp[i], nlen))
            goto bad;
        sb_str(&b, "export ");
        sb_add(&b, envp[i], nlen);
        sb_str(&b, "=");
        sb_quoted(&b, eq + 1);
        sb_str(&b, "\n");
    }
    if (slurm_conf && *slurm_conf) {
        env[k] = opt_str("SLURM_CONF=", slurm_conf);
        if (!env[k])
            goto bad;
        k++;
    }
    env[k] = NULL;
    sb_str(&b, "exec \"$@\"\n");
    *env_out = env;
    *script_out = b.p;
    return 0;
bad:
    env[k] = NULL;
    slurm__strv_free(env);
    free(b.p);
    return CCF_EINVAL;
}
