/* handlers.c: the job orchestrator (job change → executor action) and the
 * job status handler (executor outcome → store transition), as plain
 * functions of the orchestrator's state. Both are idempotent: the change
 * stream delivers at least once, and a restart replays what was not acked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"
#include "orchestrator/orchestrator_int.h"

#define IN_FLIGHT ((1u << CCF_JOB_STARTED) | (1u << CCF_JOB_RUNNING) | (1u << CCF_JOB_STOPPING))

static void log_transition(const struct store_job_ref *ref, enum ccf_job_status to,
                           const char *reason, int rc)
{
    CCF_LOG_INFO("job.transition", CCF_KV_STR("account", ref->tenant.account_id),
                 CCF_KV_STR("connector_id", ref->connector_id), CCF_KV_STR("job_id", ref->job_id),
                 CCF_KV_STR("to", ccf_job_status_name(to)), CCF_KV_STR("reason", reason),
                 CCF_KV_INT("result", rc));
}

/* A job this orchestrator moved to a terminal status (1: it moved, not a
 * redelivery), for /metrics. */
static void count_end(struct orchestrator *o, const struct ccf_job *job)
{
    if ((unsigned)job->status < CCF_JOB_STATUS_COUNT)
        atomic_fetch_add_explicit(&o->metrics.finished[job->status], 1, memory_order_relaxed);
    if (job->started_at > 0 && job->completed_at >= job->started_at)
        ccf_histo_observe(&o->metrics.duration,
                          (uint64_t)(job->completed_at - job->started_at) / 1000000);
}

/* Applies the terminal transition tr. Once STOPPING, a job ends STOPPED
 * whatever else would end it, also when the stop commits between the
 * caller's read of the job and this write: another terminal status is only
 * written over STARTED or RUNNING, and on a conflict the job ends STOPPED
 * instead (a job that has ended already conflicts again: nothing written). */
static int end_job(struct orchestrator *o, const struct store_job_ref *ref,
                   struct store_transition *tr)
{
    struct ccf_job after = {0};
    int rc;

    if (tr->to != CCF_JOB_STOPPED)
        tr->from_mask &= ~(1u << CCF_JOB_STOPPING);
    rc = store_transition_job(o->cfg.store, &ref->tenant, ref->connector_id, ref->job_id, tr,
                              &after);
    log_transition(ref, tr->to, tr->failure_reason, rc);
    if (rc == CCF_ECONFLICT && tr->to != CCF_JOB_STOPPED) {
        tr->from_mask = 1u << CCF_JOB_STOPPING;
        tr->to = CCF_JOB_STOPPED;
        tr->failure_reason = "stopped on request";
        rc = store_transition_job(o->cfg.store, &ref->tenant, ref->connector_id, ref->job_id, tr,
                                  &after);
        log_transition(ref, tr->to, tr->failure_reason, rc);
    }
    if (rc == 1)
        count_end(o, &after);
    ccf_job_clear(&after);
    return rc;
}

int orch__end_now(struct orchestrator *o, const struct store_job_ref *ref, enum ccf_job_status to,
                  const char *reason)
{
    struct store_transition tr = {.from_mask = IN_FLIGHT, .to = to, .failure_reason = reason};
    int rc = end_job(o, ref, &tr);

    if (rc == CCF_ECONFLICT || rc == CCF_ENOTFOUND)
        return 0; /* it ended some other way already */
    return rc < 0 ? rc : 0;
}

static bool known(const struct orchestrator *o, const char *job_id)
{
    return orch__list_find(&o->pending, job_id) >= 0 || orch__list_find(&o->running, job_id) >= 0 ||
           orch__list_find(&o->waiting, job_id) >= 0;
}

/* Decodes what the job runs: the properties frozen in the job once it has
 * run (a restart between attempts runs the same command and strategy),
 * else the connector's as they are now. */
static int decode_spec(struct orchestrator *o, const struct store_job_ref *ref,
                       const struct ccf_job *job, struct orch__job *j)
{
    struct ccf_connector c = {0};
    int rc;

    if (job->spec) {
        j->properties = ccf_xstrdup(job->spec);
    } else {
        if ((rc = store_get_connector(o->cfg.store, &ref->tenant, ref->connector_id, &c)) < 0)
            return rc;
        j->properties = c.properties;
        c.properties = NULL;
        ccf_connector_clear(&c);
    }
    j->spec = ccf_xcalloc(1, sizeof(*j->spec));
    return ccf_job_spec_decode(j->properties, j->spec) < 0 ? CCF_EINVAL : 0;
}

int orch__admit(struct orchestrator *o, const struct store_job_ref *ref)
{
    struct ccf_job job = {0};
    struct orch__job j = {.ref = *ref};
    char buf[256];
    const char *why;
    int rc;

    if (known(o, ref->job_id))
        return 0;
    rc = store_get_job(o->cfg.store, &ref->tenant, ref->connector_id, ref->job_id, &job);
    if (rc < 0 || ccf_job_status_terminal(job.status))
        goto out; /* gone or ended meanwhile: nothing to do */
    /* What an earlier ccfd wrote: the queue writes only what differs. */
    j.status_reason = job.status_reason;
    job.status_reason = NULL;
    /* Decoded once, here: the capacity it reserves, the command it runs and
     * its retry strategy come from this one reading. */
    if ((rc = decode_spec(o, ref, &job, &j)) < 0) {
        orch__job_free(&j);
        if (rc == CCF_EINVAL)
            rc = orch__end_now(o, ref, CCF_JOB_FAILED, "the connector's properties are unreadable");
        goto out;
    }
    if ((why = orch__place(o, &j, buf, sizeof(buf))) != NULL) {
        rc = orch__end_now(o, ref, CCF_JOB_FAILED, why);
        orch__job_free(&j);
        goto out;
    }
    /* An attempt that started and has not ended runs again only if the
     * executor says it never did; otherwise the next one is due. */
    j.attempt = ccf_attempts_open(job.attempts) ? job.attempt : job.attempt + 1;
    if (job.status == CCF_JOB_STARTED && job.attempt > 0 && !ccf_attempts_open(job.attempts)) {
        j.due_us = job.next_attempt_at;
        orch__list_push(&o->waiting, &j);
    } else {
        orch__list_push(&o->pending, &j);
    }
out:
    ccf_job_clear(&job);
    return rc == CCF_ENOTFOUND ? 0 : rc;
}

void orch__reserve(struct orchestrator *o, const struct orch__job *j)
{
    struct orch__pool *p = &o->pools[j->pool];

    orch__list_push(&o->running, j);
    p->cpu_used += j->spec->cpu;
    p->memory_used += j->spec->memory_mib;
    p->running++;
}

void orch__unreserve(struct orchestrator *o, size_t i, struct orch__job *out)
{
    struct orch__pool *p;

    *out = o->running.items[i];
    p = &o->pools[out->pool];
    p->cpu_used -= out->spec->cpu;
    p->memory_used -= out->spec->memory_mib;
    p->running--;
    orch__list_remove(&o->running, i);
}

/* The job has ended, or will never start: its credentials, capacity and spec go. */
static void release(struct orchestrator *o, size_t i)
{
    struct orch__job j;

    if (o->cfg.credentials.revoke)
        o->cfg.credentials.revoke(o->cfg.credentials.ctx, o->running.items[i].ref.job_id);
    orch__unreserve(o, i, &j);
    orch__job_free(&j);
}

/* Writes j's status_reason (NULL: clears it) unless it is the one written
 * last. The store only writes it while the job is STARTED. */
static int set_reason(struct orchestrator *o, struct orch__job *j, const char *reason)
{
    int rc;

    if (reason == j->status_reason ||
        (reason && j->status_reason && strcmp(reason, j->status_reason) == 0))
        return 0;
    rc = store_set_job_status_reason(o->cfg.store, &j->ref.tenant, j->ref.connector_id,
                                     j->ref.job_id, reason);
    if (rc < 0) {
        CCF_LOG_WARN("job.status_reason_failed", CCF_KV_STR("job_id", j->ref.job_id),
                     CCF_KV_STR("error", ccf_strerror(rc)));
        return rc;
    }
    free(j->status_reason);
    j->status_reason = reason ? ccf_xstrdup(reason) : NULL;
    return 0;
}

/* Hands the job to the executor as its spec says (the connector is not
 * read again: an update applies to the next job). Takes j: on return it is
 * in the running list or freed, except on CCF_EUNAVAIL (the store could not
 * tell whether the job still waits, or the executor cannot start the next
 * attempt yet), when j is untouched. */
static int submit(struct orchestrator *o, struct orch__job *j)
{
    struct ccf_job job = {0};
    struct executor_spec spec = {.job_id = j->ref.job_id, .connector_id = j->ref.connector_id};
    char **argv = NULL, **envp = NULL;
    int rc;

    rc = store_get_job(o->cfg.store, &j->ref.tenant, j->ref.connector_id, j->ref.job_id, &job);
    if (rc == CCF_EUNAVAIL)
        return rc;
    if (rc < 0 || job.status != CCF_JOB_STARTED) {
        orch__job_free(j); /* gone or stopped meanwhile: nothing to run */
        goto out;
    }
    if ((rc = orch__build(o, &j->ref, j->spec, &job, &argv, &envp)) < 0) {
        orch__job_free(j);
        rc = orch__end_now(o, &j->ref, CCF_JOB_FAILED, "the job's command could not be prepared");
        goto out;
    }
    orch__exec_spec(j->spec, &spec);
    spec.argv = (const char *const *)argv;
    spec.envp = (const char *const *)envp;
    spec.attempt = j->attempt;
    /* It no longer waits for capacity. Should this write fail, RUNNING
     * clears the reason anyway. */
    set_reason(o, j, NULL);
    orch__reserve(o, j);
    if ((rc = executor_submit(o->executor, &spec)) == CCF_EUNAVAIL) {
        /* The earlier attempt's supervisor is still exiting: again shortly. */
        orch__unreserve(o, o->running.n - 1, j);
        goto out;
    }
    if (rc < 0) {
        release(o, o->running.n - 1);
        rc = orch__end_now(o, &j->ref, CCF_JOB_FAILED, "the executor could not start the job");
    }
    CCF_LOG_INFO("job.submitted", CCF_KV_STR("account", j->ref.tenant.account_id),
                 CCF_KV_STR("connector_id", j->ref.connector_id),
                 CCF_KV_STR("job_id", j->ref.job_id), CCF_KV_INT("attempt", j->attempt),
                 CCF_KV_INT("result", rc));
out:
    orch__strv_free(argv);
    orch__strv_free(envp);
    ccf_job_clear(&job);
    return rc;
}

/* Jobs start in the order they were created within each pool; a job that
 * does not fit holds back the later ones of its pool only, and each
 * waiting job says why in its status_reason. */
void orch__pump(struct orchestrator *o)
{
    bool blocked[ORCH__POOLS_MAX] = {false};
    char reason[256];
    size_t i = 0;

    if (o->pending.n > 0)
        orch__pools_refresh(o, false);
    while (i < o->pending.n) {
        struct orch__job j = o->pending.items[i];
        if (blocked[j.pool] || !orch__fits(o, &j)) {
            orch__wait_reason(o, &j, !blocked[j.pool], reason, sizeof(reason));
            if (set_reason(o, &o->pending.items[i], reason) == CCF_EUNAVAIL)
                o->retry_soon = true;
            blocked[j.pool] = true;
            i++;
            continue;
        }
        if (submit(o, &j) == CCF_EUNAVAIL) {
            o->retry_soon = true; /* it stays first in line */
            return;
        }
        orch__list_remove(&o->pending, i);
    }
}

static int stop(struct orchestrator *o, const struct store_job_ref *ref)
{
    struct ccf_job job = {0};
    ssize_t i;
    int rc;

    if ((i = orch__list_find(&o->pending, ref->job_id)) >= 0) {
        orch__job_free(&o->pending.items[i]);
        orch__list_remove(&o->pending, (size_t)i);
        return orch__end_now(o, ref, CCF_JOB_STOPPED, "stopped on request");
    }
    /* Between attempts: it ends at once, with the last attempt's exit code. */
    if ((i = orch__list_find(&o->waiting, ref->job_id)) >= 0) {
        orch__job_free(&o->waiting.items[i]);
        orch__list_remove(&o->waiting, (size_t)i);
        return orch__end_now(o, ref, CCF_JOB_STOPPED, "stopped on request");
    }
    if (orch__list_find(&o->running, ref->job_id) >= 0)
        return executor_cancel(o->executor, ref->job_id);
    /* Several replicas: a job this runner does not hold is another's, or
     * not yet assigned (the leader ends it then, lead.c), or assigned to
     * this one and not yet taken (take_assigned ends it). */
    if (o->replica)
        return 0;
    /* Neither queued nor running: it never reached us, so it never ran. */
    rc = store_get_job(o->cfg.store, &ref->tenant, ref->connector_id, ref->job_id, &job);
    if (rc == 0 && job.status == CCF_JOB_STOPPING)
        rc = orch__end_now(o, ref, CCF_JOB_STOPPED, "stopped on request");
    ccf_job_clear(&job);
    return rc == CCF_ENOTFOUND ? 0 : rc;
}

int orch__on_change(struct orchestrator *o, const struct store_change *ch)
{
    struct store_job_ref ref = {.tenant = ch->tenant, .status = ch->new_status};

    memcpy(ref.connector_id, ch->connector_id, sizeof(ref.connector_id));
    memcpy(ref.job_id, ch->job_id, sizeof(ref.job_id));
    /* A new job, or (redelivered) one between attempts: admit reads it
     * and takes it in only while it is still STARTED. */
    if (ch->new_status == CCF_JOB_STARTED)
        return o->replica ? 0 : orch__admit(o, &ref); /* a runner takes what it is assigned */
    if (ch->new_status == CCF_JOB_STOPPING)
        return stop(o, &ref);
    return 0;
}

/* The terminal status and reason an ended job gets (CONTRACT.md, "How a
 * job ends"). */
static enum ccf_job_status outcome(const struct executor_event *ev, enum ccf_job_status now,
                                   int64_t timeout_s, char *reason, size_t n)
{
    if (now == CCF_JOB_STOPPING || ev->stopped) {
        snprintf(reason, n, "stopped on request");
        return CCF_JOB_STOPPED;
    }
    if (ev->state == EXECUTOR_LOST) {
        snprintf(reason, n, "%s", ev->reason[0] ? ev->reason : "the job's supervisor was lost");
        return CCF_JOB_FAILED;
    }
    if (ev->timed_out) {
        snprintf(reason, n, "timed out after %lld s", (long long)timeout_s);
        return CCF_JOB_FAILED;
    }
    if (ev->has_exit_code && ev->exit_code == 0)
        return CCF_JOB_SUCCEEDED;
    if (ev->reason[0])
        snprintf(reason, n, "%s", ev->reason);
    else if (ev->exit_code > 128)
        snprintf(reason, n, "exited with code %d (killed by signal %d)", ev->exit_code,
                 ev->exit_code - 128);
    else
        snprintf(reason, n, "exited with code %d", ev->exit_code);
    return CCF_JOB_FAILED;
}

static int ended(struct orchestrator *o, size_t i, const struct executor_event *ev)
{
    const struct orch__job *j = &o->running.items[i];
    struct store_transition tr = {.from_mask = IN_FLIGHT};
    struct ccf_job job = {0};
    char reason[CCF_FAILURE_REASON_MAX + 1] = "";
    int rc;

    rc = store_get_job(o->cfg.store, &j->ref.tenant, j->ref.connector_id, j->ref.job_id, &job);
    if (rc == CCF_EUNAVAIL || rc == CCF_EIO)
        return rc; /* keep the event: it is applied again later */
    if (rc == 0 && !ccf_job_status_terminal(job.status)) {
        tr.to = outcome(ev, job.status, j->spec->timeout_s, reason, sizeof(reason));
        /* A stop that beat a retry's RUNNING: that attempt never started as
         * far as the job says, so it ends as a stop in the wait does, with
         * the last recorded attempt's exit code (the store's default). */
        tr.set_exit_code = ev->has_exit_code && !(job.status == CCF_JOB_STOPPING &&
                                                  job.attempt > 0 && job.attempt < j->attempt);
        tr.exit_code = ev->exit_code;
        tr.failure_reason = reason[0] ? reason : NULL;
        tr.at = ev->at_us; /* it may have ended while ccfd was down */
        if ((rc = orch__retry(o, i, &job, &tr)) == 1) {
            ccf_job_clear(&job);
            return 0; /* it waits for its next attempt */
        }
        if (rc == 0)
            rc = end_job(o, &j->ref, &tr);
        if (rc == CCF_EUNAVAIL || rc == CCF_EIO) {
            ccf_job_clear(&job);
            return rc;
        }
    }
    ccf_job_clear(&job);
    release(o, i);
    return 0;
}

int orch__on_event(struct orchestrator *o, const struct executor_event *ev)
{
    ssize_t i = orch__list_find(&o->running, ev->job_id);
    struct store_transition tr = {.from_mask = 1u << CCF_JOB_STARTED,
                                  .to = CCF_JOB_RUNNING,
                                  .executor_id = ev->job_id,
                                  .at = ev->at_us};
    struct ccf_job after = {0};
    int rc;

    if (i < 0) {
        CCF_LOG_WARN("job.event_unknown", CCF_KV_STR("job_id", ev->job_id),
                     CCF_KV_INT("state", ev->state));
        return 0;
    }
    if (ev->state != EXECUTOR_RUNNING)
        return ended(o, (size_t)i, ev);
    tr.spec = o->running.items[i].properties;
    rc = store_transition_job(o->cfg.store, &o->running.items[i].ref.tenant,
                              o->running.items[i].ref.connector_id, ev->job_id, &tr, &after);
    log_transition(&o->running.items[i].ref, CCF_JOB_RUNNING, NULL, rc);
    if (rc == 1 && after.started_at >= after.created_at)
        ccf_histo_observe(&o->metrics.start_latency,
                          (uint64_t)(after.started_at - after.created_at));
    ccf_job_clear(&after);
    if (rc == CCF_ECONFLICT || rc == CCF_ENOTFOUND)
        return 0; /* stopped meanwhile, or already ended: the exit event decides */
    return rc < 0 ? rc : 0;
}
