/* oneshot.c: the orchestrator and the status handler called once per
 * event, for the AWS profile's Lambda function (orchestrator.h). The same
 * handlers as ccfd's thread runs (handlers.c), with the lists emptied
 * after each call: a Lambda function may be frozen or replaced between
 * two events, so nothing it remembers may matter. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "orchestrator/orchestrator_int.h"

void orchestrator_attach(struct orchestrator *o, struct executor *executor)
{
    o->executor = executor;
    if (executor)
        orch__pools_refresh(o, true);
}

/* Applies what the executor reported while the handlers ran (a job it
 * refused at submit ends at once), while the job is still in the lists. */
static int apply_queued(struct orchestrator *o)
{
    struct executor_event *evs;
    size_t n;
    int rc = 0;

    pthread_mutex_lock(&o->mu);
    evs = o->events;
    n = o->nevents;
    o->events = NULL;
    o->nevents = o->events_cap = 0;
    pthread_mutex_unlock(&o->mu);
    for (size_t i = 0; i < n; i++) {
        int r = orch__on_event(o, &evs[i]);
        if (r < 0 && rc == 0)
            rc = r;
    }
    free(evs);
    return rc;
}

/* Forgets every job the handlers queued, and what the executor keeps of
 * the ones it took (the outcome finds them again by name); true if one was
 * left waiting to start (it did not fit, or its executor was busy). */
static bool forget_all(struct orchestrator *o)
{
    bool left = o->pending.n > 0 || o->waiting.n > 0;

    for (size_t i = 0; o->executor && i < o->running.n; i++)
        executor_forget(o->executor, o->running.items[i].ref.job_id);

    orch__list_free(&o->pending);
    orch__list_free(&o->running);
    orch__list_free(&o->waiting);
    memset(&o->pending, 0, sizeof(o->pending));
    memset(&o->running, 0, sizeof(o->running));
    memset(&o->waiting, 0, sizeof(o->waiting));
    for (int i = 0; i < ORCH__POOLS_MAX; i++) {
        o->pools[i].cpu_used = 0;
        o->pools[i].memory_used = 0;
        o->pools[i].running = 0;
    }
    return left;
}

/* A stop: a job the executor has (another instance submitted it) is
 * cancelled, and its outcome ends it STOPPED; one it never got ends now. */
static int stop_submitted(struct orchestrator *o, const struct store_change *ch, bool *done)
{
    int rc = executor_recover_attempt(o->executor, ch->job_id, 0);

    *done = rc == 0;
    if (rc == 0)
        rc = executor_cancel(o->executor, ch->job_id);
    executor_forget(o->executor, ch->job_id);
    return rc == 1 ? 0 : rc;
}

int orchestrator_handle_change(struct orchestrator *o, const struct store_change *ch)
{
    bool done = false;
    int rc;

    /* Only a new job needs the executor at once; a stop of a job it never
     * got ends without it. */
    if (!o->executor && ch->new_status == CCF_JOB_STARTED)
        return CCF_EUNAVAIL;
    if (o->executor && ch->new_status == CCF_JOB_STOPPING &&
        ((rc = stop_submitted(o, ch, &done)) < 0 || done))
        return rc < 0 ? rc : 0;
    o->retry_soon = false;
    rc = orch__on_change(o, ch);
    /* A job whose retry wait is over (the AWS profile's one-time schedule
     * fired) is due: queue it as the thread's step does. */
    orch__wake_due(o);
    if (rc >= 0 && o->executor)
        orch__pump(o);
    if (rc >= 0)
        rc = apply_queued(o);
    if (forget_all(o) || o->retry_soon)
        rc = rc < 0 ? rc : CCF_EUNAVAIL;
    return rc < 0 ? rc : 0;
}

int orchestrator_handle_outcome(struct orchestrator *o, const struct store_job_ref *ref,
                                const struct executor_event *ev)
{
    struct executor *saved = o->executor;
    ssize_t i;
    int rc;

    /* Admitted without the executor: the job already ran, whatever would
     * run it now (orch__place). */
    o->executor = NULL;
    rc = orch__admit(o, ref);
    o->executor = saved;
    if (rc < 0)
        goto out;
    /* A next attempt (its wait over: it was submitted) is admitted as
     * waiting until its next_attempt_at, which has passed. */
    orch__wake_due(o);
    if ((i = orch__list_find(&o->pending, ref->job_id)) < 0)
        goto out; /* ended already, or gone */
    orch__reserve(o, &o->pending.items[i]);
    orch__list_remove(&o->pending, (size_t)i);
    rc = orch__on_event(o, ev);
out:
    forget_all(o);
    return rc < 0 ? rc : 0;
}
