/* executor.c: the dispatcher behind executor.h. It opens the backends
 * listed in `executor = local,podman,slurm`, routes each job to the first
 * that can run it (an image_uri to the first container backend, else the
 * command to the first process backend), writes that backend's name into
 * the job's directory before submitting, and sends every later operation on
 * the job to the backend named there. Backends that run under local.c's
 * supervisors share one instance of it (one watcher thread, one jobs_dir). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/backend_int.h"
#include "executor/executor.h"
#include "executor/executor_int.h"
#include "executor/local_int.h"

#define NAME_MAX_LEN 15

/* Every backend this build knows, by name; NULL ops: known but not built. */
static const struct {
    const char *name;
    const struct executor__backend *ops;
} known[] = {
    {"local", &executor__backend_local},
    {"podman", &executor__backend_podman},
    {"slurm", &executor__backend_slurm},
    {"batch", &executor__backend_batch},
};

struct slot {
    const struct executor__backend *ops;
    void *b;
};

struct executor {
    struct executor_config cfg;
    int jobs_dfd;
    struct executor_local *local; /* shared by the backends that use it */
    struct slot slots[EXECUTOR__BACKENDS_MAX];
    int n;
};

/* ---- open, close ---- */

static const struct executor__backend *lookup(const char *name, size_t len, bool *known_name)
{
    *known_name = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i].name) == len && memcmp(known[i].name, name, len) == 0) {
            *known_name = true;
            return known[i].ops;
        }
    }
    return NULL;
}

/* Fills e->slots from the list; CCF_EINVAL or CCF_EINVAL (logged). */
static int parse_backends(struct executor *e, const char *list)
{
    const char *p = list && *list ? list : "local";

    while (*p) {
        size_t len = strcspn(p, ",");
        bool is_known;
        const struct executor__backend *ops = lookup(p, len, &is_known);
        char name[NAME_MAX_LEN + 1];

        snprintf(name, sizeof(name), "%.*s", (int)(len > NAME_MAX_LEN ? NAME_MAX_LEN : len), p);
        if (!is_known || e->n == EXECUTOR__BACKENDS_MAX) {
            CCF_LOG_ERROR("executor.unknown_backend", CCF_KV_STR("name", name));
            return CCF_EINVAL;
        }
        if (!ops) {
            CCF_LOG_ERROR("executor.backend_not_built", CCF_KV_STR("name", name));
            return CCF_EINVAL;
        }
        for (int i = 0; i < e->n; i++) {
            if (e->slots[i].ops == ops) {
                CCF_LOG_ERROR("executor.repeated_backend", CCF_KV_STR("name", name));
                return CCF_EINVAL;
            }
        }
        e->slots[e->n++].ops = ops;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int open_backends(struct executor *e)
{
    struct executor__env env = {.cfg = &e->cfg};
    int rc;

    for (int i = 0; i < e->n; i++) {
        if (e->slots[i].ops->uses_local && !e->local &&
            (rc = executor__local_open(&e->local, &e->cfg)) < 0)
            return rc;
    }
    env.local = e->local;
    for (int i = 0; i < e->n; i++) {
        if ((rc = e->slots[i].ops->open(&e->slots[i].b, &env)) < 0) {
            CCF_LOG_ERROR("executor.backend_open_failed", CCF_KV_STR("name", e->slots[i].ops->name),
                          CCF_KV_STR("error", ccf_strerror(rc)));
            return rc;
        }
    }
    return 0;
}

int executor_open(struct executor **out, const struct executor_config *cfg)
{
    struct executor *e;
    int rc;

    if (!cfg || !cfg->jobs_dir || !cfg->on_event)
        return CCF_EINVAL;
    e = ccf_xcalloc(1, sizeof(*e));
    e->cfg = *cfg;
    e->jobs_dfd = -1;
    if ((rc = parse_backends(e, cfg->backends)) < 0)
        goto fail;
    rc = CCF_EIO;
    if (mkdir(cfg->jobs_dir, 0700) < 0 && errno != EEXIST)
        goto fail;
    if ((e->jobs_dfd = open(cfg->jobs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        goto fail;
    if ((rc = open_backends(e)) < 0)
        goto fail;
    *out = e;
    return 0;
fail:
    executor_close(e);
    return rc;
}

void executor_close(struct executor *e)
{
    if (!e)
        return;
    /* Backends first: they may still use the local machinery. */
    for (int i = 0; i < e->n; i++) {
        if (e->slots[i].b)
            e->slots[i].ops->close(e->slots[i].b);
    }
    executor__local_close(e->local);
    if (e->jobs_dfd >= 0)
        close(e->jobs_dfd);
    free(e);
}

/* ---- routing ---- */

static int first_of_kind(const struct executor *e, bool container)
{
    for (int i = 0; i < e->n; i++) {
        if (e->slots[i].ops->container == container)
            return i;
    }
    return -1;
}

static const char *list_text(const struct executor *e)
{
    return e->cfg.backends && *e->cfg.backends ? e->cfg.backends : "local";
}

int executor_route(struct executor *e, const struct executor_spec *spec, char *reason, size_t n)
{
    bool has_cmd = spec->argv && spec->argv[0];
    int i = -1;

    if (spec->image_uri)
        i = first_of_kind(e, true);
    if (i < 0 && has_cmd)
        i = first_of_kind(e, false);
    if (i < 0) {
        if (!spec->image_uri && !has_cmd)
            snprintf(reason, n, "cannot run: the connector has neither a command nor an image_uri");
        else if (!has_cmd)
            snprintf(reason, n,
                     "cannot run: the connector has no command, only an image_uri, and no executor "
                     "that runs images is configured (executor = %s)",
                     list_text(e));
        else
            snprintf(reason, n,
                     "cannot run: the connector has a command, and no executor that runs "
                     "processes is configured (executor = %s)",
                     list_text(e));
        return CCF_EINVAL;
    }
    if (e->slots[i].ops->can_run && !e->slots[i].ops->can_run(e->slots[i].b, spec, reason, n))
        return CCF_EINVAL;
    return i;
}

int executor_prepare(struct executor *e, const struct executor_spec *spec)
{
    char reason[256];
    int i;

    if ((i = executor_route(e, spec, reason, sizeof(reason))) < 0)
        return 0; /* nothing would run it: its submit says why */
    return e->slots[i].ops->prepare ? e->slots[i].ops->prepare(e->slots[i].b, spec) : 0;
}

bool executor_prepares(const struct executor *e)
{
    for (int i = 0; i < e->n; i++) {
        if (e->slots[i].ops->prepare)
            return true;
    }
    return false;
}

int executor_backends(const struct executor *e)
{
    return e->n;
}

const char *executor_backend_name(const struct executor *e, int i)
{
    return i >= 0 && i < e->n ? e->slots[i].ops->name : NULL;
}

int executor_capacity(struct executor *e, int i, struct executor_capacity *out)
{
    if (i < 0 || i >= e->n)
        return CCF_EINVAL;
    return e->slots[i].ops->capacity(e->slots[i].b, out);
}

/* ---- the job's backend, in DIR/backend ---- */

static int write_backend(struct executor *e, const char *id, const char *name)
{
    char buf[NAME_MAX_LEN + 2];
    int dfd, rc, len = snprintf(buf, sizeof(buf), "%s\n", name);

    if (mkdirat(e->jobs_dfd, id, 0700) < 0 && errno != EEXIST)
        return CCF_EIO;
    if ((dfd = openat(e->jobs_dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return CCF_EIO;
    rc = executor__write_atomic(dfd, EXECUTOR__BACKEND, buf, (size_t)len, 0600);
    close(dfd);
    return rc;
}

/* The slot of the job's backend. A directory without DIR/backend (a job
 * from before backends were recorded, or none at all) is local.c's.
 * CCF_ENOTFOUND when the job's backend is not configured now (name says
 * which), or when nothing can hold it. */
static int job_slot(struct executor *e, const char *id, char name[NAME_MAX_LEN + 1])
{
    char *buf = NULL;
    size_t len;
    int dfd;

    snprintf(name, NAME_MAX_LEN + 1, "local");
    if ((dfd = openat(e->jobs_dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
        if (executor__read_file(dfd, EXECUTOR__BACKEND, NAME_MAX_LEN + 1, &buf, &len) == 0)
            snprintf(name, NAME_MAX_LEN + 1, "%.*s", (int)strcspn(buf, "\n"), buf);
        free(buf);
        close(dfd);
    }
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->slots[i].ops->name, name) == 0)
            return i;
    }
    /* No directory here (the job was submitted by another process, such as
     * another Lambda instance): the one backend, when it finds its jobs
     * without one (batch, by the job's name). */
    if (dfd < 0 && e->n == 1 && e->slots[0].ops->finds_by_name)
        return 0;
    /* local.c runs the job whichever of its backends sent it there. */
    for (int i = 0; i < e->n && strcmp(name, "local") == 0; i++) {
        if (e->slots[i].ops->uses_local)
            return i;
    }
    return CCF_ENOTFOUND;
}

/* ---- operations on one job ---- */

int executor_submit(struct executor *e, const struct executor_spec *spec)
{
    char reason[EXECUTOR__REASON_MAX];
    int i, rc;

    if (!spec || !spec->job_id || !ccf_job_id_valid(spec->job_id))
        return CCF_EINVAL;
    if ((i = executor_route(e, spec, reason, sizeof(reason))) < 0)
        return i;
    if ((rc = write_backend(e, spec->job_id, e->slots[i].ops->name)) < 0)
        return rc;
    if (e->slots[i].ops->uses_local)
        return e->slots[i].ops->submit ? e->slots[i].ops->submit(e->slots[i].b, spec)
                                       : executor__local_submit(e->local, spec);
    return e->slots[i].ops->submit(e->slots[i].b, spec);
}

int executor_cancel(struct executor *e, const char *id)
{
    char name[NAME_MAX_LEN + 1];
    int i;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    if ((i = job_slot(e, id, name)) < 0)
        return 0; /* nothing of ours runs it */
    if (e->slots[i].ops->uses_local)
        return executor__local_cancel(e->local, id);
    return e->slots[i].ops->cancel(e->slots[i].b, id);
}

/* A job whose backend is no longer configured cannot be watched: it ends
 * now with a reason, rather than run twice somewhere else. */
static int report_orphan(struct executor *e, const char *id, const char *name)
{
    struct executor_event ev = {.state = EXECUTOR_LOST};

    snprintf(ev.job_id, sizeof(ev.job_id), "%s", id);
    snprintf(ev.reason, sizeof(ev.reason),
             "runner lost: the job ran on executor %s, which is no longer configured", name);
    CCF_LOG_ERROR("executor.backend_gone", CCF_KV_STR("job_id", id), CCF_KV_STR("name", name));
    e->cfg.on_event(e->cfg.ctx, &ev);
    return 0;
}

int executor_recover_attempt(struct executor *e, const char *id, int attempt)
{
    char name[NAME_MAX_LEN + 1];
    struct stat st;
    int i;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    if ((i = job_slot(e, id, name)) < 0) {
        if (fstatat(e->jobs_dfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return errno == ENOENT ? 1 : CCF_EIO; /* never submitted */
        return report_orphan(e, id, name);
    }
    if (e->slots[i].ops->uses_local)
        return executor__local_recover(e->local, id, attempt);
    return e->slots[i].ops->recover(e->slots[i].b, id, attempt);
}

int executor_recover(struct executor *e, const char *id)
{
    return executor_recover_attempt(e, id, 0);
}

int executor_live_attempts(struct executor *e, struct executor_live **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return e->local ? executor__local_live(e->local, out, n) : 0;
}

int executor_read_attempt_log(struct executor *e, const char *id, int attempt, int64_t offset,
                              char *buf, size_t len, int64_t *size, int64_t *dropped)
{
    char name[NAME_MAX_LEN + 1];
    int i;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    i = job_slot(e, id, name);
    if (i < 0 || e->slots[i].ops->uses_local) {
        /* The log stays readable whichever backend ran it here. */
        if (!e->local)
            return CCF_ENOTFOUND;
        return executor__local_read_attempt_log(e->local, id, attempt, offset, buf, len, size,
                                                dropped);
    }
    return e->slots[i].ops->read_log(e->slots[i].b, id, attempt, offset, buf, len, size, dropped);
}

int executor_read_log(struct executor *e, const char *id, int64_t offset, char *buf, size_t len,
                      int64_t *size, int64_t *dropped)
{
    return executor_read_attempt_log(e, id, 0, offset, buf, len, size, dropped);
}

int executor_forget(struct executor *e, const char *id)
{
    char name[NAME_MAX_LEN + 1];
    int i, rc = 0;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    i = job_slot(e, id, name);
    if (i >= 0 && e->slots[i].ops->uses_local)
        return executor__local_forget(e->local, id);
    if (i >= 0 && (rc = e->slots[i].ops->forget(e->slots[i].b, id)) < 0)
        return rc;
    /* What the backend left, and the backend file itself. */
    rc = executor__remove_tree(e->jobs_dfd, id);
    return rc == CCF_ENOTFOUND ? 0 : rc;
}

/* ---- the local backend: local.c's machinery as it is ---- */

static int local_open(void **out, const struct executor__env *env)
{
    *out = (void *)env->cfg; /* all it needs for its capacity */
    return 0;
}

static void local_close(void *b)
{
    (void)b; /* the dispatcher closes local.c's machinery */
}

/* The machine's budget: what the configuration says, else all of it. */
int executor__machine_capacity(const struct executor_config *cfg, struct executor_capacity *out)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

    memset(out, 0, sizeof(*out));
    snprintf(out->pool, sizeof(out->pool), "machine");
    out->cpu = cfg->cpu_budget > 0 ? cfg->cpu_budget : (double)(cpus > 0 ? cpus : 1);
    out->memory_mib = cfg->memory_budget_mib > 0
                          ? cfg->memory_budget_mib
                          : (pages > 0 && psize > 0 ? (int64_t)pages * psize / (1 << 20) : 1024);
    out->max_jobs = cfg->max_jobs > 0 ? cfg->max_jobs : 0;
    return 0;
}

static int local_capacity(void *b, struct executor_capacity *out)
{
    return executor__machine_capacity(b, out);
}

const struct executor__backend executor__backend_local = {
    .name = "local",
    .container = false,
    .uses_local = true,
    .open = local_open,
    .close = local_close,
    .capacity = local_capacity,
};
