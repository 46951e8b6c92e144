/* strays.c: what a runner must not go on running. A replica silent for
 * longer than runner-lost-after is declared lost: the leader ends its jobs
 * ("runner lost") or gives them to another replica, while the supervisors
 * it started may live on (they outlive ccfd by design). When that replica
 * runs again (a restart, or a process that was only paused), each of its
 * local attempts that the store no longer gives it (the job ended, runs
 * elsewhere, or is at another attempt) is stopped as StopJob stops a job
 * (SIGTERM to the group, SIGKILL after the grace), and its job directory
 * is forgotten once the supervisor has exited. No outcome of it is
 * written: the store's record wins, and the log it shipped stays there.
 * One ccfd on its store (no replica id) never gets here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"
#include "orchestrator/orchestrator_int.h"

static void log_abandoned(const char *job_id, int attempt, const char *reason)
{
    CCF_LOG_WARN("job.abandoned", CCF_KV_STR("job_id", job_id), CCF_KV_INT("attempt", attempt),
                 CCF_KV_STR("reason", reason));
}

bool orch__is_stray(const struct orchestrator *o, const char *job_id)
{
    for (size_t i = 0; i < o->nstrays; i++) {
        if (strcmp(o->strays[i].job_id, job_id) == 0)
            return true;
    }
    return false;
}

/* job_id's credentials issued here end with the attempt, as on any end. */
static void add_stray(struct orchestrator *o, const char *job_id, int attempt, const char *reason,
                      const struct store_job_ref *ours)
{
    struct orch__stray *s;

    log_abandoned(job_id, attempt, reason);
    if (o->cfg.credentials.revoke)
        o->cfg.credentials.revoke(o->cfg.credentials.ctx, job_id);
    if (orch__is_stray(o, job_id))
        return;
    if (o->nstrays == o->strays_cap) {
        o->strays_cap = o->strays_cap ? o->strays_cap * 2 : 8;
        o->strays = ccf_xrealloc(o->strays, o->strays_cap * sizeof(*o->strays));
    }
    s = &o->strays[o->nstrays++];
    memset(s, 0, sizeof(*s));
    snprintf(s->job_id, sizeof(s->job_id), "%s", job_id);
    s->attempt = attempt;
    if (ours) {
        s->ours = true;
        s->ref = *ours;
    }
}

static const struct store_job_ref *find_ref(const struct store_job_ref *refs, size_t n,
                                            const char *job_id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(refs[i].job_id, job_id) == 0)
            return &refs[i];
    }
    return NULL;
}

/* Why local attempt l of ref's job must not run here (into why), or NULL
 * when it is the attempt the store expects in flight: the open one, or
 * the next one while the job is STARTED (submitted just before a crash).
 * NULL too when the store cannot say now: re-adopted as before. */
static const char *wrong_attempt(struct orchestrator *o, const struct store_job_ref *ref,
                                 const struct executor_live *l, char *why, size_t n)
{
    struct ccf_job job = {0};
    const char *r = NULL;
    int rc, expected;

    rc = store_get_job(o->cfg.store, &ref->tenant, ref->connector_id, ref->job_id, &job);
    if (rc == CCF_ENOTFOUND || (rc == 0 && ccf_job_status_terminal(job.status))) {
        r = "the job has ended";
    } else if (rc == 0) {
        expected = ccf_attempts_open(job.attempts) ? job.attempt : job.attempt + 1;
        if (l->attempt != expected) {
            snprintf(why, n, "the job is at attempt %d", expected);
            r = why;
        }
    }
    ccf_job_clear(&job);
    return r;
}

void orch__strays_find(struct orchestrator *o, const struct store_job_ref *refs, size_t n)
{
    struct executor_live *live = NULL;
    const struct store_job_ref *ref;
    const char *why;
    char buf[64];
    size_t nlive = 0;
    int rc;

    if ((rc = executor_live_attempts(o->executor, &live, &nlive)) < 0) {
        CCF_LOG_ERROR("orchestrator.strays_unreadable", CCF_KV_STR("error", ccf_strerror(rc)));
        return;
    }
    for (size_t i = 0; i < nlive; i++) {
        if (!(ref = find_ref(refs, n, live[i].job_id)))
            why = "the job ended or runs on another replica";
        else
            why = wrong_attempt(o, ref, &live[i], buf, sizeof(buf));
        if (why)
            add_stray(o, live[i].job_id, live[i].attempt, why, ref);
    }
    free(live);
    orch__strays_step(o); /* the stops go out now */
}

/* Removes list l's entries that refs does not have; running: whether they
 * hold capacity (and an attempt here, which becomes a stray). */
static void drop_missing(struct orchestrator *o, struct orch__list *l, bool running,
                         const struct store_job_ref *refs, size_t n)
{
    static const char why[] = "the store no longer gives the job to this replica";
    struct orch__job j;

    for (size_t i = l->n; i-- > 0;) {
        if (find_ref(refs, n, l->items[i].ref.job_id))
            continue;
        if (running) {
            orch__unreserve(o, i, &j);
            add_stray(o, j.ref.job_id, j.attempt, why, NULL);
        } else {
            j = l->items[i];
            orch__list_remove(l, i);
            log_abandoned(j.ref.job_id, j.attempt, why);
        }
        orch__job_free(&j);
    }
}

void orch__strays_lost(struct orchestrator *o, const struct store_job_ref *refs, size_t n)
{
    drop_missing(o, &o->running, true, refs, n);
    drop_missing(o, &o->waiting, false, refs, n);
    drop_missing(o, &o->pending, false, refs, n);
}

/* 1 when stray s is done with (stopped, and its directory forgotten), 0
 * to look again on a later turn. */
static int settle(struct orchestrator *o, struct orch__stray *s)
{
    int rc;

    if (!s->stop_sent) {
        if ((rc = executor_cancel(o->executor, s->job_id)) == CCF_EUNAVAIL)
            return 0; /* its supervisor is still saying who it is */
        if (rc < 0)
            CCF_LOG_ERROR("job.abandon_stop_failed", CCF_KV_STR("job_id", s->job_id),
                          CCF_KV_STR("error", ccf_strerror(rc)));
        s->stop_sent = true;
    }
    /* A later attempt given back to this runner owns the directory now. */
    if (orch__list_find(&o->running, s->job_id) >= 0)
        return 1;
    if ((rc = executor_forget(o->executor, s->job_id)) == CCF_ECONFLICT)
        return 0; /* the supervisor is still on its way out */
    if (rc < 0) {
        CCF_LOG_ERROR("job.abandon_forget_failed", CCF_KV_STR("job_id", s->job_id),
                      CCF_KV_STR("error", ccf_strerror(rc)));
    } else if (!s->forgotten) {
        CCF_LOG_INFO("job.abandon_done", CCF_KV_STR("job_id", s->job_id),
                     CCF_KV_INT("attempt", s->attempt));
    }
    s->forgotten = true;
    /* Still this runner's job: now that its directory is gone, recovered
     * as at a start (queued, or "runner lost" if the store says RUNNING). */
    if (!s->ours || (rc = orch__recover_one(o, &s->ref)) >= 0)
        return 1;
    if (rc == CCF_EUNAVAIL || rc == CCF_EIO)
        return 0; /* the store, again on a later turn */
    CCF_LOG_ERROR("job.recover_failed", CCF_KV_STR("job_id", s->job_id),
                  CCF_KV_STR("error", ccf_strerror(rc)));
    return 1;
}

void orch__strays_step(struct orchestrator *o)
{
    for (size_t i = o->nstrays; i-- > 0;) {
        if (settle(o, &o->strays[i]) == 1) {
            memmove(&o->strays[i], &o->strays[i + 1], (o->nstrays - i - 1) * sizeof(*o->strays));
            o->nstrays--;
        }
    }
    if (o->nstrays > 0)
        o->retry_soon = true;
}
