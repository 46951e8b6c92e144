/* retry.c: attempts inside one job (CONTRACT-OPS.md "Retries"). After a
 * failed attempt the status handler asks the job's retry strategy (frozen
 * in its spec at admission) whether to try again; if so the job goes back
 * to STARTED with next_attempt_at, in the same transaction that records
 * the attempt's outcome, and waits in the waiting list holding no
 * capacity. The orchestrator's thread sleeps until the earliest due time
 * (a timed wait on its condition variable, no polling), then queues the
 * job again; its next attempt starts like any job, in the same directory. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/log.h"
#include "core/retry.h"
#include "orchestrator/orchestrator_int.h"

static double random_unit(const struct orchestrator *o)
{
    uint64_t x = 0;

    if (o->cfg.random_unit)
        return o->cfg.random_unit(o->cfg.random_ctx);
    if (ccf_random_bytes(&x, sizeof(x)) < 0)
        return 0.5; /* no jitter rather than no retry */
    return (double)(x >> 11) / (double)(UINT64_C(1) << 53);
}

/* Whether the failed attempt tr describes is tried again. */
static bool wants_retry(const struct orch__job *j, const struct ccf_job *job,
                        const struct store_transition *tr)
{
    const struct ccf_retry_strategy *r = j->spec->retry;

    if (!r || tr->to != CCF_JOB_FAILED || job->status != CCF_JOB_RUNNING)
        return false; /* no strategy, not a failure, a stop, or an attempt that never started */
    if (job->attempt >= r->attempts)
        return false;
    return ccf_retry_should_retry(r, tr->set_exit_code, tr->exit_code,
                                  tr->failure_reason ? tr->failure_reason : "");
}

int orch__retry(struct orchestrator *o, size_t i, const struct ccf_job *job,
                const struct store_transition *failed)
{
    struct orch__job *j = &o->running.items[i], moved;
    struct store_transition tr = *failed;
    int64_t wait_ms;
    int rc;

    if (!wants_retry(j, job, failed))
        return 0;
    wait_ms = ccf_retry_backoff_ms(j->spec->retry, job->attempt, random_unit(o));
    tr.from_mask = 1u << CCF_JOB_RUNNING;
    tr.to = CCF_JOB_STARTED;
    tr.next_attempt_at = ccf_now_us() + wait_ms * 1000;
    rc = store_transition_job(o->cfg.store, &j->ref.tenant, j->ref.connector_id, j->ref.job_id, &tr,
                              NULL);
    /* Issue 13 turns this line into a job.retrying event. */
    CCF_LOG_INFO("job.retrying", CCF_KV_STR("account", j->ref.tenant.account_id),
                 CCF_KV_STR("connector_id", j->ref.connector_id),
                 CCF_KV_STR("job_id", j->ref.job_id), CCF_KV_INT("attempt", job->attempt),
                 CCF_KV_INT("exit_code", failed->exit_code),
                 CCF_KV_STR("reason", failed->failure_reason), CCF_KV_INT("wait_ms", wait_ms),
                 CCF_KV_INT("result", rc));
    if (rc == CCF_ECONFLICT)
        return 0; /* stopped meanwhile: the caller ends it */
    if (rc < 0)
        return rc;
    if (o->cfg.credentials.revoke)
        o->cfg.credentials.revoke(o->cfg.credentials.ctx, j->ref.job_id);
    orch__unreserve(o, i, &moved);
    moved.attempt = job->attempt + 1;
    moved.due_us = tr.next_attempt_at;
    orch__list_push(&o->waiting, &moved);
    return 1;
}

int64_t orch__wake_due(struct orchestrator *o)
{
    int64_t now = ccf_now_us(), next = INT64_MAX;

    for (size_t i = 0; i < o->waiting.n;) {
        struct orch__job j = o->waiting.items[i];
        if (j.due_us <= now) {
            orch__list_remove(&o->waiting, i);
            orch__list_push(&o->pending, &j);
            continue;
        }
        if (j.due_us - now < next)
            next = j.due_us - now;
        i++;
    }
    return next;
}
