/* podman.c: the podman backend. A job runs as `podman run` under local.c's
 * supervisor, which gives it the log, the timeout, the outcome on disk and
 * re-adoption after a restart of ccfd unchanged; what differs is said in
 * the spec: stop is `podman stop -t GRACE NAME` (the container's processes
 * are not in the supervisor's process group), the container is removed
 * once its outcome is recorded, and a SIGKILL that no stop or timeout
 * explains is reported as a possible out-of-memory kill.
 *
 * The container: named ccf-<job_id>-<attempt>, the connector's image_uri
 * after image-map, its command (if any) as the container's command, the
 * job's exact environment (each variable by --env NAME, its value passed in
 * podman's own environment so that no secret is on a command line),
 * --cpus and --memory from resource_requirements, the job's working
 * directory bind-mounted at the same path as HOME and working directory,
 * --init so that the command gets SIGTERM as a local one does, and
 * --network=host by default (a job reaches a loopback API). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/backend_int.h"
#include "executor/executor_int.h"
#include "executor/local_int.h"
#include "executor/podman/imagemap.h"

extern char **environ;

struct podman {
    const struct executor_config *cfg;
    struct executor_local *local;
    struct imagemap *map;
    char *podman; /* absolute path of the binary */
    char *network;
};

struct strv {
    char **v;
    size_t n, cap;
};

static void add(struct strv *s, char *owned)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = ccf_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = owned;
    s->v[s->n] = NULL;
}

/* Adds a + b + c (b and c may be NULL). */
static void addcat(struct strv *s, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    char *p = ccf_xmalloc(la + lb + lc + 1);

    memcpy(p, a, la);
    memcpy(p + la, b ? b : "", lb);
    memcpy(p + la + lb, c ? c : "", lc);
    p[la + lb + lc] = '\0';
    add(s, p);
}

static void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* The binary: PODMAN from the configuration, else the first on ccfd's PATH. */
static char *find_podman(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? ccf_xstrdup(name) : NULL;
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t len = strcspn(p, ":");
        int n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
        if (n > 0 && (size_t)n < sizeof(buf) && buf[0] == '/' && access(buf, X_OK) == 0)
            return ccf_xstrdup(buf);
        p += len;
        if (*p == ':')
            p++;
    }
    return NULL;
}

static void podman_close(void *b)
{
    struct podman *p = b;

    if (!p)
        return;
    imagemap_free(p->map);
    free(p->podman);
    free(p->network);
    free(p);
}

static int podman_open(void **out, const struct executor__env *env)
{
    struct podman *p = ccf_xcalloc(1, sizeof(*p));
    char err[256];

    p->cfg = env->cfg;
    p->local = env->local;
    p->network = ccf_xstrdup(
        env->cfg->podman_network && *env->cfg->podman_network ? env->cfg->podman_network : "host");
    if (imagemap_parse(&p->map, env->cfg->image_map, err, sizeof(err)) < 0) {
        CCF_LOG_ERROR("executor.podman_image_map", CCF_KV_STR("error", err));
        podman_close(p);
        return CCF_EINVAL;
    }
    if (!(p->podman = find_podman("podman"))) {
        CCF_LOG_ERROR("executor.podman_missing",
                      CCF_KV_STR("hint", "executor = podman needs podman on ccfd's PATH "
                                         "(apt-get install podman runc)"));
        podman_close(p);
        return CCF_EINVAL;
    }
    *out = p;
    return 0;
}

static bool podman_can_run(void *b, const struct executor_spec *spec, char *reason, size_t n)
{
    struct podman *p = b;
    char image[IMAGEMAP_URI_MAX + 1];

    if (imagemap_apply(p->map, spec->image_uri, image, sizeof(image)) < 0 || !image[0]) {
        snprintf(reason, n, "cannot run: image-map makes image_uri too long or empty");
        return false;
    }
    return true;
}

/* The job's secrets travel in podman's environment, never in its argv. */
static bool by_name(const char *kv)
{
    return strncmp(kv, "AWS_", 4) == 0;
}

/* podman's own environment: ccfd's (its configuration: CONTAINERS_CONF and
 * the like), less any AWS_ variable, plus the job's AWS_ ones. */
static void podman_env(const struct executor_spec *spec, struct strv *env)
{
    for (char **e = environ; e && *e; e++) {
        if (!by_name(*e))
            add(env, ccf_xstrdup(*e));
    }
    for (size_t i = 0; spec->envp[i]; i++) {
        if (by_name(spec->envp[i]))
            add(env, ccf_xstrdup(spec->envp[i]));
    }
}

static const char *env_value(const char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (; envp && *envp; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    }
    return NULL;
}

static void run_argv(struct podman *p, const struct executor_spec *spec, const char *name,
                     const char *image, struct strv *a)
{
    const char *home = env_value(spec->envp, "HOME");
    char num[64];

    add(a, ccf_xstrdup(p->podman));
    add(a, ccf_xstrdup("run"));
    addcat(a, "--name=", name, NULL);
    addcat(a, "--network=", p->network, NULL);
    add(a, ccf_xstrdup("--init"));
    add(a, ccf_xstrdup("--pull=never"));
    snprintf(num, sizeof(num), "--cpus=%g", spec->cpu > 0 ? spec->cpu : 1);
    add(a, ccf_xstrdup(num));
    if (spec->memory_mib > 0) {
        snprintf(num, sizeof(num), "--memory=%lldm", (long long)spec->memory_mib);
        add(a, ccf_xstrdup(num));
    }
    if (home && home[0] == '/') {
        addcat(a, "--volume=", home, ":");
        addcat(a, a->v[a->n - 1], home, NULL); /* --volume=HOME:HOME */
        free(a->v[a->n - 2]);
        a->v[a->n - 2] = a->v[a->n - 1];
        a->v[--a->n] = NULL;
        addcat(a, "--workdir=", home, NULL);
    }
    for (size_t i = 0; spec->envp[i]; i++) {
        size_t len = strcspn(spec->envp[i], "=");
        char *nm = ccf_xmalloc(len + 1);
        memcpy(nm, spec->envp[i], len);
        nm[len] = '\0';
        if (by_name(spec->envp[i]))
            addcat(a, "--env=", nm, NULL);
        else
            addcat(a, "--env=", spec->envp[i], NULL);
        free(nm);
    }
    add(a, ccf_xstrdup("--"));
    add(a, ccf_xstrdup(image));
    for (size_t i = 0; spec->argv && spec->argv[i]; i++)
        add(a, ccf_xstrdup(spec->argv[i]));
}

static int podman_submit(void *b, const struct executor_spec *spec)
{
    struct podman *p = b;
    struct strv argv = {0}, env = {0}, stop = {0}, rm = {0};
    struct executor_spec ps = *spec;
    struct executor__extra x = {.oom_mib = spec->memory_mib};
    char image[IMAGEMAP_URI_MAX + 1], name[64], grace[32];
    int rc;

    if (!spec->image_uri || !spec->envp)
        return CCF_EINVAL;
    if ((rc = imagemap_apply(p->map, spec->image_uri, image, sizeof(image))) < 0)
        return rc;
    snprintf(name, sizeof(name), "ccf-%s-%d", spec->job_id, spec->attempt > 1 ? spec->attempt : 1);
    snprintf(grace, sizeof(grace), "%d", executor__local_grace(p->local));
    run_argv(p, spec, name, image, &argv);
    podman_env(spec, &env);
    add(&stop, ccf_xstrdup(p->podman));
    add(&stop, ccf_xstrdup("stop"));
    add(&stop, ccf_xstrdup("-t"));
    add(&stop, ccf_xstrdup(grace));
    add(&stop, ccf_xstrdup(name));
    add(&rm, ccf_xstrdup(p->podman));
    add(&rm, ccf_xstrdup("rm"));
    add(&rm, ccf_xstrdup("-f"));
    add(&rm, ccf_xstrdup("-i"));
    add(&rm, ccf_xstrdup(name));
    ps.argv = (const char *const *)argv.v;
    ps.envp = (const char *const *)env.v;
    ps.memory_mib = 0; /* the runtime enforces it: no address-space limit on podman itself */
    x.stop_argv = (const char *const *)stop.v;
    x.rm_argv = (const char *const *)rm.v;
    rc = executor__local_submit_ext(p->local, &ps, &x);
    strv_free(&argv);
    strv_free(&env);
    strv_free(&stop);
    strv_free(&rm);
    return rc;
}

static int podman_capacity(void *b, struct executor_capacity *out)
{
    struct podman *p = b;

    return executor__machine_capacity(p->cfg, out);
}

const struct executor__backend executor__backend_podman = {
    .name = "podman",
    .container = true,
    .uses_local = true,
    .open = podman_open,
    .close = podman_close,
    .can_run = podman_can_run,
    .submit = podman_submit,
    .capacity = podman_capacity,
};

bool executor_image_map_ok(const char *rules, char *err, size_t n)
{
    struct imagemap *m;

    if (imagemap_parse(&m, rules, err, n) < 0)
        return false;
    imagemap_free(m);
    return true;
}
