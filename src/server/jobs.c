/* jobs.c: ccfd's job machinery: the local executor on DATA_DIR/jobs, the
 * orchestrator that feeds it from the store's change stream, and the
 * per-job credentials it hands each job. */
#include "server/jobs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "executor/executor.h"
#include "orchestrator/orchestrator.h"
#include "server/logship.h"

struct server_jobs {
    struct orchestrator *orch;
    struct executor *exec;
    struct server_logship *ship; /* NULL unless the store is shared */
    struct orchestrator_config oc;
    char jobs_dir[PATH_MAX];
    char self_exe[PATH_MAX];
    char *endpoint;
};

/* The supervisor binary: ccfd-supervise beside ccfd if it is there (it
 * starts ~9 ms faster, src/supervise/main.c), else ccfd itself; both take
 * `supervise DIR`. */
static int supervisor_exe(char out[PATH_MAX])
{
    static const char helper[] = "ccfd-supervise";
    ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
    char *slash;

    if (n <= 0) {
        CCF_LOG_ERROR("ccfd.self_exe_failed", CCF_KV_STR("error", strerror(errno)));
        return CCF_EIO;
    }
    out[n] = '\0';
    slash = strrchr(out, '/');
    if (slash && (size_t)(slash + 1 - out) + sizeof(helper) <= PATH_MAX) {
        char self[PATH_MAX];

        memcpy(self, out, (size_t)n + 1);
        memcpy(slash + 1, helper, sizeof(helper));
        if (access(out, X_OK) == 0)
            return 0;
        memcpy(out, self, (size_t)n + 1);
    }
    CCF_LOG_INFO("ccfd.supervisor", CCF_KV_STR("path", out),
                 CCF_KV_STR("hint", "install ccfd-supervise beside ccfd for faster job starts"));
    return 0;
}

/* The executor's events: an attempt that ended has its log shipped to the
 * end first (replicas), so that the end the orchestrator records next
 * finds the whole log in the store. */
static void on_event(void *ctx, const struct executor_event *ev)
{
    struct server_jobs *j = ctx;

    if (ev->state != EXECUTOR_RUNNING)
        server__logship_flush(j->ship, ev->job_id);
    orchestrator_on_event(j->orch, ev);
}

int server__jobs_open(struct server_jobs **out, const struct server_config *cfg,
                      const char *data_dir, struct store *store, struct auth *auth)
{
    struct server_jobs *j = ccf_xcalloc(1, sizeof(*j));
    struct executor_config ec = {0};
    int rc, w = snprintf(j->jobs_dir, sizeof(j->jobs_dir), "%s/jobs", data_dir);

    if (w < 0 || (size_t)w >= sizeof(j->jobs_dir) || (rc = supervisor_exe(j->self_exe)) < 0) {
        rc = CCF_EINVAL;
        goto fail;
    }
    j->oc = (struct orchestrator_config){
        .store = store,
        .jobs_dir = j->jobs_dir,
        .job_path = cfg->job_path,
        .retention_s = (int64_t)cfg->retention,
        .audit_retention_s = (int64_t)cfg->audit_retention,
    };
    if (auth)
        j->oc.credentials = (struct orchestrator_credentials){.issue = auth_job_credentials_issue,
                                                              .revoke = auth_job_credentials_revoke,
                                                              .ctx = auth};
    if ((rc = orchestrator_create(&j->orch, &j->oc)) < 0)
        goto fail;
    ec.backends = cfg->executor;
    ec.image_map = cfg->image_map;
    ec.podman_network = cfg->podman_network;
    ec.slurm_conf = cfg->slurm_conf;
    ec.slurm_partition = cfg->slurm_partition;
    ec.batch_job_queue = cfg->batch_job_queue;
    ec.region = cfg->region;
    ec.cpu_budget = cfg->cpu_budget;
    ec.memory_budget_mib = (int64_t)cfg->memory_budget_mib;
    ec.max_jobs = (int)cfg->max_jobs;
    ec.jobs_dir = j->jobs_dir;
    ec.self_exe = j->self_exe;
    ec.stop_grace_s = (int)cfg->stop_grace;
    ec.log_max_bytes = cfg->job_log_max;
    ec.on_event = on_event;
    ec.ctx = j;
    if ((rc = executor_open(&j->exec, &ec)) < 0) {
        CCF_LOG_ERROR("ccfd.executor_open_failed", CCF_KV_STR("jobs_dir", j->jobs_dir),
                      CCF_KV_STR("error", ccf_strerror(rc)));
        goto fail;
    }
    if ((rc = server__logship_start(&j->ship, store, j->exec, (int64_t)cfg->job_log_max)) < 0) {
        executor_close(j->exec);
        goto fail;
    }
    store_set_change_hook(store, orchestrator_wake, j->orch);
    *out = j;
    return 0;
fail:
    orchestrator_destroy(j->orch);
    free(j);
    return rc;
}

int server__jobs_read_log(void *ctx, const char *job_id, int attempt, int64_t offset, char *buf,
                          size_t len, int64_t *size, int64_t *dropped)
{
    struct server_jobs *j = ctx;

    return executor_read_attempt_log(j->exec, job_id, attempt, offset, buf, len, size, dropped);
}

int server__jobs_start(struct server_jobs *j, const char *endpoint)
{
    int rc;

    /* The orchestrator reads its config on its own thread from now on. */
    j->endpoint = ccf_xstrdup(endpoint);
    orchestrator_set_endpoint(j->orch, j->endpoint);
    if ((rc = orchestrator_start(j->orch, j->exec)) < 0)
        CCF_LOG_ERROR("ccfd.orchestrator_start_failed", CCF_KV_STR("error", ccf_strerror(rc)));
    return rc;
}

void server__jobs_close(struct server_jobs *j)
{
    if (!j)
        return;
    orchestrator_stop(j->orch);
    server__logship_stop(j->ship); /* before the executor it reads */
    executor_close(j->exec);
    server__logship_free(j->ship); /* after the events that flush */
    orchestrator_destroy(j->orch);
    free(j->endpoint);
    free(j);
}

struct orchestrator *server__jobs_orchestrator(struct server_jobs *j)
{
    return j->orch;
}

int server__jobs_slots(struct server_jobs *j)
{
    struct executor_capacity cap;

    if (executor_capacity(j->exec, 0, &cap) < 0)
        return 1; /* unknown now: its runner queues what does not fit */
    if (cap.max_jobs > 0)
        return cap.max_jobs;
    return cap.cpu >= 2 ? (int)cap.cpu : 1;
}
