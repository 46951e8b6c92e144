/* orchestrator.h: the job orchestrator and the job status handler, and the
 * thread that feeds them. The orchestrator turns a job change (a job
 * created, a job set to STOPPING) into an executor action; the status
 * handler turns an executor outcome into a store transition. Both run on
 * one thread, so job transitions are applied in one place and in order.
 * Must not know about HTTP.
 *
 * Thread rules: orchestrator_on_event may be called from any thread (it
 * queues); everything else is called from the thread that made the
 * orchestrator, before start or after stop. */
#ifndef CCF_ORCHESTRATOR_H
#define CCF_ORCHESTRATOR_H

#include <stdatomic.h>

#include "core/histo.h"
#include "executor/executor.h"
#include "store/store.h"

struct orchestrator;

/* Per-job credentials (the auth module): optional. issue() fills the three
 * values for a job's environment; revoke() ends them when the job ends. */
struct orchestrator_credentials {
    int (*issue)(void *ctx, const struct ccf_tenant *t, const char *connector_id,
                 const char *job_id, char key_id[64], char secret[128], char token[512]);
    void (*revoke)(void *ctx, const char *job_id);
    void *ctx;
};

struct orchestrator_config {
    struct store *store;       /* borrowed */
    const char *jobs_dir;      /* as given to the executor: HOME is jobs_dir/<job_id>/work */
    const char *api_endpoint;  /* root URL jobs call back, ending in '/' */
    const char *job_path;      /* PATH of every job */
    int64_t retention_s;       /* ended jobs are purged after this */
    int64_t audit_retention_s; /* audit records are pruned after this; 0: never */
    struct orchestrator_credentials credentials;
    /* The jitter of retry backoffs: a number in [0, 1]. NULL: the CSPRNG.
     * Tests make it fixed. */
    double (*random_unit)(void *ctx);
    void *random_ctx;
};

int orchestrator_create(struct orchestrator **out, const struct orchestrator_config *cfg);
/* Several replicas on one store (before start): this orchestrator is the
 * runner of replica id (borrowed, outlives o): it runs only the jobs the
 * leader assigned to it (store_runner_jobs), re-adopts them after a
 * restart, and leaves other replicas' stops to them. Unset: it runs every
 * job (one ccfd on its store). */
void orchestrator_set_replica(struct orchestrator *o, const char *id);
/* Whether this replica leads (any thread): the purge of ended jobs, old
 * changes and tokens runs on the leader only. Set by the leadership
 * thread; a runner without a replica id purges always. */
void orchestrator_set_leading(struct orchestrator *o, bool leading);
/* Sets (before start) the URL jobs call back, when it is known only once
 * the server listens. endpoint is borrowed and outlives the orchestrator. */
void orchestrator_set_endpoint(struct orchestrator *o, const char *endpoint);
/* Recovers what was in flight (re-adopting running jobs, collecting those
 * that ended, queueing those never started) and starts the thread.
 * executor is borrowed and must outlive the orchestrator's thread. */
int orchestrator_start(struct orchestrator *o, struct executor *executor);
/* Stops the thread; jobs keep running under their supervisors. */
void orchestrator_stop(struct orchestrator *o);

/* Between orchestrator_start and orchestrator_stop (for /readyz). Any
 * thread. */
bool orchestrator_running(struct orchestrator *o);

/* What the orchestrator counted, for /metrics: live as long as o, read
 * while its thread writes (relaxed atomics). */
struct orchestrator_metrics {
    atomic_uint_fast64_t finished[CCF_JOB_STATUS_COUNT]; /* terminal statuses it wrote */
    struct ccf_histo start_latency;                      /* created -> RUNNING, seconds */
    struct ccf_histo duration;                           /* RUNNING -> end, seconds */
};
const struct orchestrator_metrics *orchestrator_get_metrics(struct orchestrator *o);
void orchestrator_destroy(struct orchestrator *o);

/* The AWS profile (src/lambda): a process that keeps nothing between
 * events (a Lambda function) hands each job change and each outcome over
 * on its own thread, without orchestrator_start. executor may be NULL:
 * then outcomes are still applied, and a change that needs the executor
 * is CCF_EUNAVAIL. Borrowed; outlives o. */
void orchestrator_attach(struct orchestrator *o, struct executor *executor);
/* One job change (the orchestrator's input): 0 once acted on, or the
 * store's or executor's error (CCF_EUNAVAIL: ask again later). Nothing is
 * kept in memory afterwards: a job that was submitted is found again by
 * its outcome. */
int orchestrator_handle_change(struct orchestrator *o, const struct store_change *ch);
/* A connector created or updated (ccfd's thread: from the change stream;
 * the AWS profile: from the connectors table's stream): its run definition
 * is passed to executor_prepare (prepare.c). A failure is logged, never
 * returned: the job's submit registers what is missing. Nothing without an
 * executor. */
void orchestrator_prepare_connector(struct orchestrator *o, const struct ccf_tenant *t,
                                    const char *connector_id);
/* One outcome of job ref (the status handler's input): RUNNING makes the
 * job RUNNING, an end ends it (CONTRACT.md, "How a job ends") and frees
 * its connector. 0 also when the job is gone or already ended. */
int orchestrator_handle_outcome(struct orchestrator *o, const struct store_job_ref *ref,
                                const struct executor_event *ev);

/* The leader's part of jobs on several replicas (lead.c), on the
 * leadership thread: the jobs of replicas whose heartbeat is older than
 * lost_after_us end FAILED "runner lost" (or are retried, per their retry
 * strategy, on another replica; a stopped one ends STOPPED), then
 * unassigned jobs are assigned. Needs no executor and no orchestrator. 0
 * or the store's error. */
int orchestrator_lead(struct store *s, int64_t lost_after_us);

/* For executor_config.on_event: queues the event for the status handler. */
void orchestrator_on_event(void *ctx, const struct executor_event *ev);
/* For store_set_change_hook: wakes the thread. */
void orchestrator_wake(void *ctx);

#endif
