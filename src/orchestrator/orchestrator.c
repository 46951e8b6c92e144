/* orchestrator.c: the orchestrator's thread: it sleeps on a condition
 * variable until the store commits a job change or the executor reports an
 * event, then applies events, drains the change stream past its persisted
 * cursor, starts what fits, and now and then purges ended jobs. Also the
 * recovery that runs before the thread starts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "orchestrator/orchestrator_int.h"

#define CONSUMER       "orchestrator"
#define CHANGE_BATCH   64
#define PURGE_BATCH    256
#define PURGE_EVERY_S  60
#define RETRY_DELAY_MS 500

/* Seconds: a sync runs from a second to hours. */
static const uint64_t job_duration_s[] = {1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600};
static const size_t job_duration_n = sizeof(job_duration_s) / sizeof(job_duration_s[0]);

int orchestrator_create(struct orchestrator **out, const struct orchestrator_config *cfg)
{
    struct orchestrator *o = ccf_xcalloc(1, sizeof(*o));
    pthread_condattr_t ca;

    o->cfg = *cfg;
    pthread_mutex_init(&o->mu, NULL);
    ccf_histo_init(&o->metrics.start_latency, ccf_histo_latency_us, ccf_histo_latency_n, 1e-6);
    ccf_histo_init(&o->metrics.duration, job_duration_s, job_duration_n, 1);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = o;
    return 0;
}

void orchestrator_set_replica(struct orchestrator *o, const char *id)
{
    o->replica = id;
}

void orchestrator_set_leading(struct orchestrator *o, bool leading)
{
    atomic_store(&o->leading, leading);
}

void orchestrator_set_endpoint(struct orchestrator *o, const char *endpoint)
{
    o->cfg.api_endpoint = endpoint;
}

void orchestrator_on_event(void *ctx, const struct executor_event *ev)
{
    struct orchestrator *o = ctx;

    pthread_mutex_lock(&o->mu);
    if (o->nevents == o->events_cap) {
        o->events_cap = o->events_cap ? o->events_cap * 2 : 16;
        o->events = ccf_xrealloc(o->events, o->events_cap * sizeof(*o->events));
    }
    o->events[o->nevents++] = *ev;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->mu);
}

void orchestrator_wake(void *ctx)
{
    struct orchestrator *o = ctx;

    pthread_mutex_lock(&o->mu);
    o->woken = true;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->mu);
}

/* Applies queued events in order; one the store cannot take yet stays
 * queued, with everything after it. */
static void apply_events(struct orchestrator *o)
{
    struct executor_event *evs;
    size_t n, done = 0;

    pthread_mutex_lock(&o->mu);
    evs = o->events;
    n = o->nevents;
    o->events = NULL;
    o->nevents = o->events_cap = 0;
    pthread_mutex_unlock(&o->mu);
    for (; done < n; done++) {
        int rc = orch__on_event(o, &evs[done]);
        if (rc == CCF_EUNAVAIL || rc == CCF_EIO) {
            o->retry_soon = true;
            break;
        }
    }
    for (size_t i = done; i < n; i++)
        orchestrator_on_event(o, &evs[i]);
    free(evs);
}

/* Each replica's runner reads the stream at its own pace. */
static const char *consumer(const struct orchestrator *o, char *buf, size_t n)
{
    if (!o->replica)
        return CONSUMER;
    snprintf(buf, n, "%s@%s", CONSUMER, o->replica);
    return buf;
}

/* A runner's new jobs: those the leader assigned to it since it last
 * looked (its assignment's NOTIFY woke this thread). A stop that came
 * before the job reached this runner ends it here: it never ran. Jobs it
 * holds that the store no longer gives it (it was declared lost while it
 * ran) leave it (strays.c); a job whose stray attempt is still being
 * stopped is taken once that is done. */
static void take_assigned(struct orchestrator *o)
{
    struct store_job_ref *refs = NULL;
    size_t n = 0;
    int rc = 0;

    if (!o->replica)
        return;
    if (store_runner_jobs(o->cfg.store, o->replica, &refs, &n) < 0) {
        o->retry_soon = true;
        return;
    }
    orch__strays_lost(o, refs, n);
    for (size_t i = 0; i < n && rc != CCF_EUNAVAIL; i++) {
        if (orch__is_stray(o, refs[i].job_id) ||
            orch__list_find(&o->pending, refs[i].job_id) >= 0 ||
            orch__list_find(&o->running, refs[i].job_id) >= 0 ||
            orch__list_find(&o->waiting, refs[i].job_id) >= 0)
            continue;
        if (refs[i].status == CCF_JOB_STARTED)
            rc = orch__admit(o, &refs[i]);
        else if (refs[i].status == CCF_JOB_STOPPING)
            rc = orch__end_now(o, &refs[i], CCF_JOB_STOPPED, "stopped on request");
    }
    if (rc == CCF_EUNAVAIL || rc == CCF_EIO)
        o->retry_soon = true;
    free(refs);
}

static void drain_changes(struct orchestrator *o)
{
    struct store_change ch[CHANGE_BATCH];
    char name[64 + STORE_REPLICA_ID_LEN];
    int n, rc;

    do {
        if ((n = store_read_changes(o->cfg.store, o->cursor, ch, CHANGE_BATCH)) < 0) {
            o->retry_soon = true;
            return;
        }
        for (int i = 0; i < n; i++) {
            if ((rc = orch__on_change(o, &ch[i])) == CCF_EUNAVAIL || rc == CCF_EIO) {
                o->retry_soon = true;
                break;
            }
            o->cursor = ch[i].seq;
        }
        /* A lost ack only means a harmless redelivery after a restart. */
        store_cursor_set(o->cfg.store, consumer(o, name, sizeof(name)), o->cursor);
    } while (n == CHANGE_BATCH && !o->retry_soon);
}

static void purge(struct orchestrator *o)
{
    struct store_job_ref refs[PURGE_BATCH];
    int64_t before = ccf_now_us() - o->cfg.retention_s * 1000000;
    int n;

    do {
        if ((n = store_purge_jobs(o->cfg.store, before, refs, PURGE_BATCH)) < 0)
            return;
        for (int i = 0; i < n; i++)
            executor_forget(o->executor, refs[i].job_id);
        if (n > 0)
            CCF_LOG_INFO("jobs.purged", CCF_KV_INT("count", n));
    } while (n == PURGE_BATCH);
    store_prune_changes(o->cfg.store, o->cursor, before);
    if (o->cfg.audit_retention_s > 0)
        store_prune_audit(o->cfg.store, ccf_now_us() - o->cfg.audit_retention_s * 1000000);
    /* client_token rows live 24 h (CONTRACT-OPS.md), whatever the retention. */
    if ((n = store_purge_tokens(o->cfg.store, ccf_now_us() - STORE_TOKEN_TTL_US)) > 0)
        CCF_LOG_INFO("tokens.purged", CCF_KV_INT("count", n));
}

static void wait_for_work(struct orchestrator *o, int64_t due_us)
{
    struct timespec until;
    int64_t wait_ms =
        o->retry_soon ? RETRY_DELAY_MS : (o->next_purge - (ccf_mono_us() / 1000000)) * 1000;

    /* The next attempt due, rounded up: waking early would only sleep again. */
    if (due_us != INT64_MAX && (due_us + 999) / 1000 < wait_ms)
        wait_ms = (due_us + 999) / 1000;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (wait_ms < 0)
        wait_ms = 0;
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&o->mu);
    while (!o->stopping && !o->woken && o->nevents == 0) {
        if (pthread_cond_timedwait(&o->cond, &o->mu, &until) == ETIMEDOUT)
            break;
    }
    o->woken = false;
    pthread_mutex_unlock(&o->mu);
}

/* Returns the µs until the next attempt is due (INT64_MAX: none). */
static int64_t step(struct orchestrator *o)
{
    o->retry_soon = false;
    /* A runner looks at what the store still gives it before it applies
     * events: an outcome of an attempt the store has ended or given to
     * another replica meanwhile is then never written (strays.c). */
    orch__strays_step(o); /* a stray gone frees its job for take_assigned */
    take_assigned(o);
    orch__strays_step(o); /* strays it found are stopped now */
    apply_events(o);
    drain_changes(o);
    orch__prepare_step(o);
    orch__wake_due(o);
    orch__pump(o);
    return orch__wake_due(o);
}

void orch__step(struct orchestrator *o)
{
    step(o);
}

static void *run(void *arg)
{
    struct orchestrator *o = arg;
    int64_t due_us = INT64_MAX;

    for (;;) {
        wait_for_work(o, due_us);
        pthread_mutex_lock(&o->mu);
        bool stopping = o->stopping;
        pthread_mutex_unlock(&o->mu);
        if (stopping)
            break;
        due_us = step(o);
        /* On one replica: the leader's (any runner's would do, but once). */
        if ((!o->replica || atomic_load(&o->leading)) &&
            (ccf_mono_us() / 1000000) >= o->next_purge) {
            purge(o);
            o->next_purge = (ccf_mono_us() / 1000000) + PURGE_EVERY_S;
        }
    }
    return NULL;
}

/* A job that was between attempts: its next attempt may have been handed
 * to the executor just before ccfd stopped (then it is re-adopted like any
 * running job); otherwise it keeps waiting for its stored next_attempt_at. */
static int recover_waiting(struct orchestrator *o, size_t i)
{
    struct orch__job j = o->waiting.items[i];
    int rc;

    orch__list_remove(&o->waiting, i);
    orch__reserve(o, &j);
    rc = executor_recover_attempt(o->executor, j.ref.job_id, j.attempt);
    if (rc != 1)
        return rc;
    orch__unreserve(o, (size_t)orch__list_find(&o->running, j.ref.job_id), &j);
    orch__list_push(&o->waiting, &j);
    return 0;
}

int orch__recover_one(struct orchestrator *o, const struct store_job_ref *ref)
{
    struct orch__job j;
    ssize_t i;
    int rc;

    if ((rc = orch__admit(o, ref)) < 0)
        return rc;
    if ((i = orch__list_find(&o->waiting, ref->job_id)) >= 0)
        return recover_waiting(o, (size_t)i);
    if ((i = orch__list_find(&o->pending, ref->job_id)) < 0)
        return 0; /* failed at once: it can never run */
    /* Every ref here is unfinished. Hold its capacity while the executor
     * looks at it: its events need the running entry. */
    j = o->pending.items[i];
    orch__list_remove(&o->pending, (size_t)i);
    orch__reserve(o, &j);
    rc = executor_recover_attempt(o->executor, ref->job_id, j.attempt);
    if (rc != 1)
        return rc;
    /* Never submitted here: give the capacity back and start it normally. */
    orch__unreserve(o, (size_t)orch__list_find(&o->running, ref->job_id), &j);
    if (ref->status == CCF_JOB_STOPPING) {
        orch__job_free(&j);
        return orch__end_now(o, ref, CCF_JOB_STOPPED, "stopped on request");
    }
    /* Several replicas on one store: a RUNNING job of this replica that
     * its executor does not know (its job directory is gone, or a build
     * without runners ran it elsewhere). Running it again here could run
     * it twice (its supervisor may live on): it ends "runner lost"
     * (CONTRACT-OPS.md). */
    if (ref->status == CCF_JOB_RUNNING && store_shared(o->cfg.store)) {
        orch__job_free(&j);
        return orch__end_now(o, ref, CCF_JOB_FAILED, "runner lost");
    }
    orch__list_push(&o->pending, &j);
    return 0;
}

int orch__recover(struct orchestrator *o, struct executor *executor)
{
    struct store_job_ref *refs = NULL;
    char name[64 + STORE_REPLICA_ID_LEN];
    size_t n = 0;
    int rc;

    o->executor = executor;
    /* A runner re-adopts its own jobs only (a restarted replica keeps its
     * id): the others' are their runners', or the leader's to end. */
    if ((rc = orch__pools_refresh(o, true)) < 0 ||
        (rc = store_cursor_get(o->cfg.store, consumer(o, name, sizeof(name)), &o->cursor)) < 0 ||
        (rc = o->replica ? store_runner_jobs(o->cfg.store, o->replica, &refs, &n)
                         : store_unfinished_jobs(o->cfg.store, &refs, &n)) < 0)
        return rc;
    /* Before re-adoption: a stray attempt is stopped, never adopted. */
    if (o->replica)
        orch__strays_find(o, refs, n);
    for (size_t i = 0; i < n; i++) {
        if (orch__is_stray(o, refs[i].job_id))
            continue; /* recovered once its stray attempt is gone (strays.c) */
        if ((rc = orch__recover_one(o, &refs[i])) < 0)
            CCF_LOG_ERROR("job.recover_failed", CCF_KV_STR("job_id", refs[i].job_id),
                          CCF_KV_STR("connector_id", refs[i].connector_id),
                          CCF_KV_STR("error", ccf_strerror(rc)));
    }
    CCF_LOG_INFO("orchestrator.recovered", CCF_KV_INT("unfinished", n),
                 CCF_KV_INT("running", o->running.n), CCF_KV_INT("queued", o->pending.n),
                 CCF_KV_INT("waiting", o->waiting.n), CCF_KV_INT("abandoned", o->nstrays),
                 CCF_KV_INT("cursor", o->cursor));
    free(refs);
    return 0;
}

int orchestrator_start(struct orchestrator *o, struct executor *executor)
{
    int rc;

    if ((rc = orch__recover(o, executor)) < 0)
        return rc;
    o->next_purge = ccf_mono_us() / 1000000;
    o->woken = true; /* drain what arrived while we were down */
    if (pthread_create(&o->thread, NULL, run, o) != 0) {
        CCF_LOG_ERROR("orchestrator.thread_failed", CCF_KV_STR("error", strerror(errno)));
        return CCF_EIO;
    }
    o->thread_started = true;
    atomic_store(&o->thread_live, true);
    return 0;
}

void orchestrator_stop(struct orchestrator *o)
{
    if (!o || !o->thread_started)
        return;
    pthread_mutex_lock(&o->mu);
    o->stopping = true;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL);
    o->thread_started = false;
    atomic_store(&o->thread_live, false);
}

bool orchestrator_running(struct orchestrator *o)
{
    return atomic_load(&o->thread_live);
}

const struct orchestrator_metrics *orchestrator_get_metrics(struct orchestrator *o)
{
    return &o->metrics;
}

void orchestrator_destroy(struct orchestrator *o)
{
    if (!o)
        return;
    orchestrator_stop(o);
    orch__list_free(&o->pending);
    orch__list_free(&o->running);
    orch__list_free(&o->waiting);
    free(o->strays);
    free(o->events);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->mu);
    free(o);
}
