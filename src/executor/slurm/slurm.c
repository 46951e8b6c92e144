/* slurm.c: the Slurm backend behind executor.h (backend_int.h's ops):
 * submit (the batch script, the job's name, then sbatch; the Slurm job id
 * kept in the job's directory), cancel (marks the job; the watcher in
 * slurm_watch.c sends the signals), recover (finds the job again by its id
 * or name, or reports what it recorded), the logs, forget, and the
 * cluster's capacity. What a job directory holds is in slurm_int.h.
 *
 * The job directory (jobs_dir/<job_id>/) must be on storage that ccfd and
 * the cluster's nodes share at the same path: the job runs in DIR/work and
 * Slurm writes its output to DIR/log, which the logs operation reads. The
 * log cap (log-max-bytes) is not enforced there: Slurm writes the file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/backend_int.h"
#include "executor/executor_int.h"
#include "executor/local_int.h"
#include "executor/slurm/slurm_int.h"

#define DEFAULT_GRACE_S 10
#define DEFAULT_POLL_MS 200
#define DEFAULT_PATH    "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"

int slurm__open_dir(struct executor_slurm *e, const char *id)
{
    return openat(e->jobs_dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

int slurm__cmd(struct executor_slurm *e, const char *const *argv, char **out, size_t *len,
               int *status)
{
    return slurm__run(argv, (const char *const *)e->cmd_env, SLURM__CMD_TIMEOUT_MS, out, len,
                      status);
}

void slurm__scancel(struct executor_slurm *e, const char *slurm_id, const char *sig)
{
    char opt[32];
    const char *with_sig[] = {"scancel", "--full", opt, slurm_id, NULL};
    const char *plain[] = {"scancel", slurm_id, NULL};
    char *out = NULL;
    size_t len;
    int status;

    snprintf(opt, sizeof(opt), "--signal=%s", sig ? sig : "KILL");
    if (slurm__cmd(e, sig ? with_sig : plain, &out, &len, &status) == 0 && status != 0)
        CCF_LOG_WARN("slurm.scancel_failed", CCF_KV_STR("slurm_id", slurm_id),
                     CCF_KV_STR("signal", sig ? sig : "cancel"), CCF_KV_STR("output", out));
    free(out);
}

int slurm__refresh_capacity(struct executor_slurm *e)
{
    const char *argv[] = {"scontrol", "show", "node", "-o", NULL};
    struct slurm__capacity c;
    char *out = NULL;
    size_t len;
    int status, rc;

    if ((rc = slurm__cmd(e, argv, &out, &len, &status)) < 0)
        return rc;
    rc = status == 0 && slurm__parse_nodes(out, len, &c) > 0 ? 0 : CCF_EIO;
    if (rc < 0)
        CCF_LOG_ERROR("slurm.no_nodes", CCF_KV_INT("status", status), CCF_KV_STR("output", out));
    free(out);
    if (rc == 0) {
        pthread_mutex_lock(&e->mu);
        e->cap = c;
        e->cap_at_us = ccf_now_us();
        pthread_mutex_unlock(&e->mu);
    }
    return rc;
}

static int slurm_capacity(void *b, struct executor_capacity *out)
{
    struct executor_slurm *e = b;
    int rc = CCF_EUNAVAIL;

    pthread_mutex_lock(&e->mu);
    if (e->cap_at_us > 0) {
        memset(out, 0, sizeof(*out));
        snprintf(out->pool, sizeof(out->pool), "slurm");
        out->cpu = (double)e->cap.cpus;
        out->memory_mib = e->cap.memory_mib;
        rc = 0;
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- open and close ---- */

static char **make_cmd_env(const char *slurm_conf)
{
    const char *path = getenv("PATH");
    char **env = ccf_xmalloc(3 * sizeof(*env));
    size_t n = 0, len;

    /* The Slurm commands get ccfd's PATH (to find munge's helpers) and the
     * configuration, nothing else of ccfd's environment. */
    path = path && *path ? path : DEFAULT_PATH;
    len = strlen(path) + 6;
    env[n] = ccf_xmalloc(len);
    snprintf(env[n++], len, "PATH=%s", path);
    if (slurm_conf && *slurm_conf) {
        len = strlen(slurm_conf) + 12;
        env[n] = ccf_xmalloc(len);
        snprintf(env[n++], len, "SLURM_CONF=%s", slurm_conf);
    }
    env[n] = NULL;
    return env;
}

static int open_jobs_dir(struct executor_slurm *e, const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        CCF_LOG_ERROR("slurm.jobs_dir", CCF_KV_STR("path", dir),
                      CCF_KV_STR("error", strerror(errno)));
        return CCF_EIO;
    }
    e->jobs_dir = realpath(dir, NULL);
    if (!e->jobs_dir || (e->jobs_dfd = open(e->jobs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return CCF_EIO;
    return 0;
}

static void slurm_close(void *b);

static int slurm_open(void **out, const struct executor__env *env)
{
    const struct executor_config *cfg = env->cfg;
    struct executor_slurm *e = ccf_xmalloc(sizeof(*e));
    int rc;

    memset(e, 0, sizeof(*e));
    e->jobs_dfd = -1;
    pthread_mutex_init(&e->op_mu, NULL);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cond, NULL);
    e->grace_s = cfg->stop_grace_s > 0 ? cfg->stop_grace_s : DEFAULT_GRACE_S;
    e->poll_ms = DEFAULT_POLL_MS;
    e->on_event = cfg->on_event;
    e->ctx = cfg->ctx;
    e->slurm_conf = cfg->slurm_conf && *cfg->slurm_conf ? ccf_xstrdup(cfg->slurm_conf) : NULL;
    e->partition =
        cfg->slurm_partition && *cfg->slurm_partition ? ccf_xstrdup(cfg->slurm_partition) : NULL;
    e->cmd_env = make_cmd_env(e->slurm_conf);
    if ((rc = open_jobs_dir(e, cfg->jobs_dir)) < 0 || (rc = slurm__refresh_capacity(e)) < 0 ||
        (rc = slurm__watch_start(e)) < 0) {
        slurm_close(e);
        return rc;
    }
    CCF_LOG_INFO("slurm.open", CCF_KV_STR("jobs_dir", e->jobs_dir), CCF_KV_INT("cpus", e->cap.cpus),
                 CCF_KV_INT("memory_mib", e->cap.memory_mib), CCF_KV_INT("nodes", e->cap.nodes));
    *out = e;
    return 0;
}

static void slurm_close(void *b)
{
    struct executor_slurm *e = b;

    if (!e)
        return;
    slurm__watch_stop(e);
    for (struct sjob *j = e->jobs, *next; j; j = next) {
        next = j->next;
        free(j);
    }
    if (e->jobs_dfd >= 0)
        close(e->jobs_dfd);
    slurm__strv_free(e->cmd_env);
    free(e->jobs_dir);
    free(e->slurm_conf);
    free(e->partition);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->op_mu);
    free(e);
}

/* ---- what the job directory says ---- */

/* DIR/slurm.name: "<name>\n<timeout_s>\n". */
static int name_write(int dfd, const char *name, int64_t timeout_s)
{
    char buf[SLURM__NAME_LEN + 32];
    int n = snprintf(buf, sizeof(buf), "%s\n%lld\n", name, (long long)timeout_s);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return CCF_EINVAL;
    return executor__write_atomic(dfd, SLURM__NAME, buf, (size_t)n, 0600);
}

static int name_read(int dfd, struct sjob *j)
{
    char *buf = NULL, *nl;
    size_t len;
    int rc = executor__read_file(dfd, SLURM__NAME, 128, &buf, &len);

    if (rc < 0)
        return rc;
    if (!(nl = strchr(buf, '\n')) || (size_t)(nl - buf) > SLURM__NAME_LEN) {
        free(buf);
        return CCF_EIO;
    }
    *nl = '\0';
    snprintf(j->name, sizeof(j->name), "%s", buf);
    j->timeout_s = strtoll(nl + 1, NULL, 10);
    free(buf);
    return 0;
}

/* A small file of one line, into out (cut at the first newline). */
static void line_read(int dfd, const char *file, char *out, size_t n)
{
    char *buf = NULL;
    size_t len;

    out[0] = '\0';
    if (executor__read_file(dfd, file, 64, &buf, &len) < 0)
        return;
    buf[strcspn(buf, "\n")] = '\0';
    snprintf(out, n, "%s", buf);
    free(buf);
}

/* The job as its directory describes it, for the watcher. */
static struct sjob *sjob_from_dir(int dfd, const char *id, int attempt)
{
    struct sjob *j = ccf_xmalloc(sizeof(*j));
    char running[32];

    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->attempt = attempt;
    j->watched_since_us = ccf_now_us();
    if (name_read(dfd, j) < 0) {
        free(j);
        return NULL;
    }
    line_read(dfd, SLURM__ID, j->slurm_id, sizeof(j->slurm_id));
    if (strspn(j->slurm_id, "0123456789") != strlen(j->slurm_id))
        j->slurm_id[0] = '\0'; /* found again by its name */
    line_read(dfd, SLURM__CANCEL, j->cancel, sizeof(j->cancel));
    line_read(dfd, SLURM__STARTED, running, sizeof(running));
    j->running_at_us = strtoll(running, NULL, 10);
    return j;
}

/* ---- submit ---- */

/* Fresh state for attempt `attempt` in DIR: an earlier attempt's log goes
 * to DIR/attempts/<n>/ and its Slurm files go. Repeatable after a crash. */
static int start_attempt(int dfd, int attempt)
{
    static const char *const stale[] = {SLURM__ID,      SLURM__CANCEL, EXECUTOR__EXIT,
                                        SLURM__STARTED, SLURM__NAME,   SLURM__SCRIPT};
    int cur = executor__attempt_read(dfd), rc;

    if (cur < 0)
        return cur;
    if (attempt > cur) {
        if (executor__exists(dfd, SLURM__NAME) && (rc = executor__attempt_archive(dfd, cur)) < 0)
            return rc;
        for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++)
            if (unlinkat(dfd, stale[i], 0) < 0 && errno != ENOENT)
                return CCF_EIO;
        if ((rc = executor__attempt_write(dfd, attempt)) < 0)
            return rc;
    }
    return 0;
}

/* The work directory, an empty log of offset 0, and the batch script. */
static int prepare_dir(int dfd, const char *script)
{
    int fd, rc;

    if (mkdirat(dfd, EXECUTOR__WORK, 0700) < 0 && errno != EEXIST)
        return CCF_EIO;
    if ((rc = executor__log_init(dfd)) < 0)
        return rc;
    fd = openat(dfd, EXECUTOR__LOG, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return CCF_EIO;
    close(fd);
    return executor__write_atomic(dfd, SLURM__SCRIPT, script, strlen(script), 0700);
}

/* The id sbatch --parsable printed: "123" or "123;cluster", on a line of
 * its own among any warnings. */
static bool parse_sbatch(const char *out, char id[SLURM__JOBID_MAX + 1])
{
    for (const char *p = out; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        size_t n = strspn(p, "0123456789");
        if (n > 0 && n <= SLURM__JOBID_MAX && (p[n] == '\n' || p[n] == ';' || p[n] == '\0')) {
            memcpy(id, p, n);
            id[n] = '\0';
            return true;
        }
    }
    return false;
}

/* sbatch's first line, printable, as a reason. */
static void sbatch_reason(char *reason, size_t n, const char *out, int status)
{
    char line[160];

    snprintf(line, sizeof(line), "%.*s", (int)strcspn(out, "\n"), out);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
            *p = '?';
    if (status < 0)
        snprintf(line, sizeof(line), "sbatch did not answer");
    snprintf(reason, n, "cannot run on Slurm: %s", line[0] ? line : "sbatch failed");
}

struct submit_ctx {
    const struct executor_spec *spec;
    struct sjob *j;
    char dir[PATH_MAX];
};

static int run_sbatch(struct executor_slurm *e, struct submit_ctx *c, char **env)
{
    char work[PATH_MAX + 8], log[PATH_MAX + 8], script[PATH_MAX + 16];
    struct slurm__submit s = {.name = c->j->name,
                              .work_dir = work,
                              .out_file = log,
                              .script = script,
                              .argv = c->spec->argv,
                              .cpu = c->spec->cpu,
                              .memory_mib = c->spec->memory_mib,
                              .timeout_s = c->spec->timeout_s,
                              .grace_s = e->grace_s,
                              .partition = e->partition};
    char **argv = NULL, *out = NULL;
    size_t len;
    int rc, status;

    snprintf(work, sizeof(work), "%s/" EXECUTOR__WORK, c->dir);
    snprintf(log, sizeof(log), "%s/" EXECUTOR__LOG, c->dir);
    snprintf(script, sizeof(script), "%s/" SLURM__SCRIPT, c->dir);
    if ((rc = slurm__sbatch_argv(&s, &argv)) < 0) {
        snprintf(c->j->fail, sizeof(c->j->fail), "cannot run on Slurm: %s",
                 rc == CCF_ETOOLARGE ? "too many arguments" : "a command that starts with '-'");
        return 0;
    }
    rc = slurm__run((const char *const *)argv, (const char *const *)env, SLURM__CMD_TIMEOUT_MS,
                    &out, &len, &status);
    slurm__strv_free(argv);
    if (rc < 0)
        return rc;
    if (status == 0 && parse_sbatch(out, c->j->slurm_id))
        CCF_LOG_INFO("slurm.submitted", CCF_KV_STR("job_id", c->j->id),
                     CCF_KV_STR("slurm_id", c->j->slurm_id));
    else if (status > 0)
        sbatch_reason(c->j->fail, sizeof(c->j->fail), out, status);
    /* else: sbatch timed out or said nothing we understand; it may have
     * queued the job, which the watcher then finds by its name. */
    free(out);
    return 0;
}

static int submit_new(struct executor_slurm *e, int dfd, struct submit_ctx *c)
{
    char **env = NULL, *script = NULL;
    int rc;

    if (slurm__split_env(c->spec->envp, e->slurm_conf, &env, &script) < 0) {
        snprintf(c->j->fail, sizeof(c->j->fail),
                 "cannot run on Slurm: a SLURM_* or SBATCH_* variable whose name a shell cannot "
                 "set");
        return 0;
    }
    if ((rc = prepare_dir(dfd, script)) == 0 &&
        (rc = name_write(dfd, c->j->name, c->spec->timeout_s)) == 0)
        rc = run_sbatch(e, c, env);
    if (rc == 0 && c->j->slurm_id[0])
        rc = executor__write_atomic(dfd, SLURM__ID, c->j->slurm_id, strlen(c->j->slurm_id), 0600);
    if (rc == 0 && c->j->fail[0])
        unlinkat(dfd, SLURM__NAME, 0); /* never queued: a resubmit starts afresh */
    free(script);
    slurm__strv_free(env);
    return rc;
}

static struct sjob *new_sjob(const struct executor_spec *spec, int attempt)
{
    struct sjob *j = ccf_xmalloc(sizeof(*j));

    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", spec->job_id);
    snprintf(j->name, sizeof(j->name), "%s.%d", spec->job_id, attempt);
    j->attempt = attempt;
    j->timeout_s = spec->timeout_s;
    j->watched_since_us = ccf_now_us();
    return j;
}

static int recover_locked(struct executor_slurm *e, const char *id, int attempt, bool *watched);

static int submit_locked(struct executor_slurm *e, const struct executor_spec *spec, int attempt)
{
    struct submit_ctx c = {.spec = spec};
    bool watched;
    int dfd, rc, n;

    if ((rc = recover_locked(e, spec->job_id, attempt, &watched)) <= 0)
        return rc; /* already submitted: submit is idempotent */
    if (watched)
        return CCF_EUNAVAIL; /* the earlier attempt has not ended yet */
    if ((dfd = slurm__open_dir(e, spec->job_id)) < 0)
        return CCF_EIO;
    n = snprintf(c.dir, sizeof(c.dir), "%s/%s", e->jobs_dir, spec->job_id);
    if (n < 0 || (size_t)n >= sizeof(c.dir) || (rc = start_attempt(dfd, attempt)) < 0) {
        close(dfd);
        return rc < 0 ? rc : CCF_EINVAL;
    }
    c.j = new_sjob(spec, attempt);
    rc = submit_new(e, dfd, &c);
    close(dfd);
    if (rc < 0) {
        free(c.j);
        return rc;
    }
    pthread_mutex_lock(&e->mu);
    slurm__watch_add(e, c.j);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

static int slurm_submit(void *b, const struct executor_spec *spec)
{
    struct executor_slurm *e = b;
    int rc;

    if (!spec->argv || !spec->argv[0] || !spec->envp)
        return CCF_EINVAL;
    pthread_mutex_lock(&e->op_mu);
    rc = submit_locked(e, spec, spec->attempt > 0 ? spec->attempt : 1);
    pthread_mutex_unlock(&e->op_mu);
    return rc;
}

/* ---- recover, cancel, logs, forget ---- */

/* Call with op_mu held. 0: the job (this attempt) is watched now, or its
 * recorded outcome is queued for the watcher; 1: it was never submitted
 * (*watched: an earlier attempt still is). */
static int recover_locked(struct executor_slurm *e, const char *id, int attempt, bool *watched)
{
    struct executor__exit x;
    struct sjob *j;
    int dfd, cur;

    pthread_mutex_lock(&e->mu);
    j = slurm__watch_find(e, id);
    *watched = j != NULL;
    cur = j ? j->attempt : 0;
    pthread_mutex_unlock(&e->mu);
    if (*watched)
        return attempt > 0 && cur < attempt ? 1 : 0;
    if ((dfd = slurm__open_dir(e, id)) < 0)
        return errno == ENOENT ? 1 : CCF_EIO;
    cur = executor__attempt_read(dfd);
    if (cur < 0 || !executor__exists(dfd, SLURM__NAME) || (attempt > 0 && cur < attempt)) {
        close(dfd);
        return cur < 0 ? cur : 1;
    }
    if (!(j = sjob_from_dir(dfd, id, cur))) {
        close(dfd);
        return CCF_EIO;
    }
    if (executor__exit_read(dfd, &x) == 0) {
        j->has_final = true;
        j->final.state = EXECUTOR_EXITED;
        j->final.has_exit_code = x.has_exit_code;
        j->final.exit_code = x.exit_code;
        j->final.timed_out = x.timed_out;
        j->final.stopped = x.stopped;
        j->final.at_us = x.ended_at;
        snprintf(j->final.reason, sizeof(j->final.reason), "%s", x.reason);
    }
    close(dfd);
    CCF_LOG_INFO("slurm.adopt", CCF_KV_STR("job_id", id), CCF_KV_STR("slurm_id", j->slurm_id));
    pthread_mutex_lock(&e->mu);
    slurm__watch_add(e, j);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

static int slurm_recover(void *b, const char *id, int attempt)
{
    struct executor_slurm *e = b;
    bool watched;
    int rc;

    pthread_mutex_lock(&e->op_mu);
    rc = recover_locked(e, id, attempt, &watched);
    pthread_mutex_unlock(&e->op_mu);
    return rc;
}

static int slurm_cancel(void *b, const char *id)
{
    struct executor_slurm *e = b;
    struct sjob *j;
    int dfd, rc = 0;

    pthread_mutex_lock(&e->op_mu);
    pthread_mutex_lock(&e->mu);
    j = slurm__watch_find(e, id);
    if (j && !j->cancel[0]) {
        snprintf(j->cancel, sizeof(j->cancel), "stop");
        /* Recorded first: a ccfd restarted after the TERM still knows why. */
        if ((dfd = slurm__open_dir(e, id)) >= 0) {
            rc = executor__write_atomic(dfd, SLURM__CANCEL, "stop\n", 5, 0600);
            close(dfd);
        }
        pthread_cond_signal(&e->cond);
    }
    pthread_mutex_unlock(&e->mu);
    pthread_mutex_unlock(&e->op_mu);
    return rc;
}

static int slurm_read_log(void *b, const char *id, int attempt, int64_t offset, char *buf,
                          size_t len, int64_t *size, int64_t *dropped)
{
    struct executor_slurm *e = b;
    char name[32];
    int dfd, adfd, cur, rc;

    if ((dfd = slurm__open_dir(e, id)) < 0)
        return errno == ENOENT ? CCF_ENOTFOUND : CCF_EIO;
    cur = executor__attempt_read(dfd);
    if (attempt <= 0 || attempt == cur) {
        rc = executor__log_read(dfd, offset, buf, len, size, dropped);
    } else {
        snprintf(name, sizeof(name), "attempts/%d", attempt);
        adfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        rc = adfd < 0 ? CCF_ENOTFOUND : executor__log_read(adfd, offset, buf, len, size, dropped);
        if (adfd >= 0)
            close(adfd);
    }
    close(dfd);
    return rc;
}

static int slurm_forget(void *b, const char *id)
{
    struct executor_slurm *e = b;
    bool busy;

    pthread_mutex_lock(&e->mu);
    busy = slurm__watch_find(e, id) != NULL;
    pthread_mutex_unlock(&e->mu);
    return busy ? CCF_ECONFLICT : 0; /* the dispatcher removes the directory */
}

void slurm__record(struct executor_slurm *e, const struct executor_event *ev)
{
    struct executor__exit x = {.has_exit_code = ev->has_exit_code,
                               .exit_code = ev->exit_code,
                               .timed_out = ev->timed_out,
                               .stopped = ev->stopped,
                               .ended_at = ev->at_us};
    int dfd;

    snprintf(x.reason, sizeof(x.reason), "%s", ev->reason);
    if ((dfd = slurm__open_dir(e, ev->job_id)) < 0)
        return;
    if (executor__exit_write(dfd, &x) < 0)
        CCF_LOG_ERROR("slurm.exit_write", CCF_KV_STR("job_id", ev->job_id));
    close(dfd);
}

const struct executor__backend executor__backend_slurm = {
    .name = "slurm",
    .container = false,
    .uses_local = false,
    .open = slurm_open,
    .close = slurm_close,
    .submit = slurm_submit,
    .capacity = slurm_capacity,
    .cancel = slurm_cancel,
    .recover = slurm_recover,
    .read_log = slurm_read_log,
    .forget = slurm_forget,
};
