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

/* Forgets every job the handlers queued; true if one was left waiting to
 * start (it did not fit, or its executor was busy). */
static bool forget_all(struct orchestrator *o)
{
    bool left = o->pending.n > 0 || o->waiting.n > 0;

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

int orchestrator_handle_change(struct orchestrator *o, const struct store_change *ch)
{
    int rc;

    /* Only a new job needs the executor at once; a stop of a job it never
     * got ends without it. */
    if (!o->executor && ch->new_status == CCF_JOB_STARTED)
        return CCF_EUNAVAIL;
    o->retry_soon = false;
    rc = orch__on_change(o, ch);
    if (rc >= 0 && o->executor)
        orch__pump(o);
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
    if ((i = orch__list_find(&o->pending, ref->job_id)) < 0)
        goto out; /* ended already, or gone */
    orch__reserve(o, &o->pending.items[i]);
    orch__list_remove(&o->pending, (size_t)i);
    rc = orch__on_event(o, ev);
out:
    forget_all(o);
    return rc < 0 ? rc : 0;
}
