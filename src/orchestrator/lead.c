/* lead.c: the leader's part of jobs on several replicas (orchestrator.h,
 * orchestrator_lead; docs/DECISIONS.md, "Jobs on every replica"). Every
 * replica's runner (the orchestrator's thread) runs the jobs assigned to
 * it and applies their outcomes; the leader only decides who runs what:
 * it ends or retries the jobs of replicas that stopped heartbeating, then
 * assigns the unassigned ones. Each write is conditional on the job's
 * status (and the unassignment on its runner), so a runner that comes
 * back at the same moment, or a leader replaced mid-sweep, leaves each
 * job with one outcome. */
#include <stdint.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/retry.h"
#include "core/validate.h"
#include "orchestrator/orchestrator.h"

#define ASSIGN_BATCH 64
#define LOST_REASON  "runner lost"

static void log_lost(const struct store_job_ref *ref, const char *action, int rc)
{
    CCF_LOG_WARN("job.runner_lost", CCF_KV_STR("account", ref->tenant.account_id),
                 CCF_KV_STR("connector_id", ref->connector_id), CCF_KV_STR("job_id", ref->job_id),
                 CCF_KV_STR("runner", ref->runner), CCF_KV_STR("action", action),
                 CCF_KV_INT("result", rc));
}

static int transition(struct store *s, const struct store_job_ref *ref,
                      const struct store_transition *tr)
{
    return store_transition_job(s, &ref->tenant, ref->connector_id, ref->job_id, tr, NULL);
}

static double random_unit(void)
{
    uint64_t x = 0;

    if (ccf_random_bytes(&x, sizeof(x)) < 0)
        return 0.5;
    return (double)(x >> 11) / (double)(UINT64_C(1) << 53);
}

/* A RUNNING job whose runner is gone: its attempt failed "runner lost";
 * retried (back to STARTED, due after its backoff, then unassigned so
 * that a live replica runs it) when its frozen strategy says so, as
 * retry.c does for any failed attempt. 1 if retried, 0 if not. */
static int retry_lost(struct store *s, const struct store_job_ref *ref, const struct ccf_job *job)
{
    struct ccf_job_spec spec = {0};
    struct store_transition tr = {
        .from_mask = 1u << CCF_JOB_RUNNING, .to = CCF_JOB_STARTED, .failure_reason = LOST_REASON};
    int rc = 0;

    if (!job->spec || ccf_job_spec_decode(job->spec, &spec) < 0 || !spec.retry ||
        job->attempt >= spec.retry->attempts ||
        !ccf_retry_should_retry(spec.retry, false, 0, LOST_REASON))
        goto out;
    tr.next_attempt_at =
        ccf_now_us() + ccf_retry_backoff_ms(spec.retry, job->attempt, random_unit()) * 1000;
    rc = transition(s, ref, &tr);
    log_lost(ref, "retry", rc);
    if (rc < 0)
        goto out;
    rc = store_unassign_job(s, ref->job_id, ref->runner);
    rc = rc < 0 ? rc : 1;
out:
    ccf_job_spec_clear(&spec);
    return rc == CCF_ECONFLICT ? 0 : rc;
}

/* One job of a lost runner (or unassigned and past STARTED). A STARTED
 * job may have been handed to the lost runner's executor already: it is
 * not run elsewhere (it could run twice) unless it is between attempts,
 * its last one ended and its next not due yet. Once due, the runner may
 * have submitted it before it died (it records RUNNING after the submit;
 * make crash-replicas saw such an attempt run on both replicas). */
static int lost_one(struct store *s, const struct store_job_ref *ref)
{
    struct store_transition tr = {
        .from_mask = 1u << ref->status, .to = CCF_JOB_FAILED, .failure_reason = LOST_REASON};
    struct ccf_job job = {0};
    int rc;

    if ((rc = store_get_job(s, &ref->tenant, ref->connector_id, ref->job_id, &job)) < 0 ||
        job.status != ref->status)
        goto out; /* gone, or moved on since the read: the next sweep sees it again */
    if (job.status == CCF_JOB_STOPPING) {
        tr.to = CCF_JOB_STOPPED;
        tr.failure_reason = "stopped on request";
    } else if (job.status == CCF_JOB_RUNNING) {
        if ((rc = retry_lost(s, ref, &job)) != 0)
            goto out;
    } else if (job.attempt > 0 && !ccf_attempts_open(job.attempts) &&
               job.next_attempt_at > ccf_now_us()) {
        rc = store_unassign_job(s, ref->job_id, ref->runner);
        log_lost(ref, "reassign", rc);
        goto out;
    }
    rc = transition(s, ref, &tr);
    log_lost(ref, ccf_job_status_name(tr.to), rc);
out:
    ccf_job_clear(&job);
    return rc == CCF_ECONFLICT || rc == CCF_ENOTFOUND ? 0 : rc;
}

int orchestrator_lead(struct store *s, int64_t lost_after_us)
{
    struct store_job_ref *refs = NULL;
    size_t n = 0;
    int rc, first = 0;

    if ((rc = store_lost_jobs(s, lost_after_us, &refs, &n)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = lost_one(s, &refs[i])) < 0 && first == 0)
            first = rc;
    free(refs);
    /* Then the unassigned, those just unassigned above among them. */
    while ((rc = store_assign_jobs(s, lost_after_us, ASSIGN_BATCH)) == ASSIGN_BATCH)
        ;
    return rc < 0 ? rc : first;
}
