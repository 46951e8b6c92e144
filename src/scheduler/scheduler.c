/* scheduler.c: the scheduler thread. Its queue is the store's index of
 * next_run_at (connectors_by_next_run): the head is one index seek, due
 * runs are a range of it, so 10,000 scheduled connectors cost the thread
 * nothing between runs and a few index pages when they fall due. Keeping
 * the queue in the store rather than in a heap here means the queue and
 * the jobs it starts are written in one transaction: a run is neither lost
 * nor doubled by a crash. */
#include "scheduler/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define DUE_BATCH  64
#define PASSES_MAX 64      /* batches per wake-up: a bound, not a rate */
#define IDLE_MAX_S 3600    /* wake once an hour with nothing due (a stepped clock) */
#define RETRY_US   1000000 /* the store was unavailable */

struct scheduler {
    struct scheduler_config cfg;
    int64_t boot_us; /* runs due before this were missed while ccfd was down */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cond;
    bool woken, stopping;
    struct scheduler_stats stats;
};

int scheduler_create(struct scheduler **out, const struct scheduler_config *cfg)
{
    struct scheduler *s = ccf_xcalloc(1, sizeof(*s));

    s->cfg = *cfg;
    pthread_mutex_init(&s->mu, NULL);
    /* CLOCK_REALTIME (the default): runs are due at wall-clock times, and
     * an absolute realtime wait follows a stepped clock. */
    pthread_cond_init(&s->cond, NULL);
    *out = s;
    return 0;
}

static void count(struct scheduler *s, uint64_t *field)
{
    pthread_mutex_lock(&s->mu);
    (*field)++;
    pthread_mutex_unlock(&s->mu);
}

/* The run after `due`, strictly after max(due, now): a late scheduler
 * never fires the runs it slept through one after another. */
static int64_t next_after(const struct ccf_schedule *sch, int64_t anchor, int64_t due, int64_t now)
{
    int64_t next;

    if (!sch->enabled ||
        ccf_sched_next(&sch->expr, sch->tz, anchor, due > now ? due : now, &next) < 0)
        return 0;
    return next;
}

static void log_fired(const struct store_due *d, const struct ccf_job *job, bool missed)
{
    char due[CCF_TIME_LEN + 1];

    ccf_time_format(d->next_run_at * 1000000, due);
    CCF_LOG_INFO(missed ? "schedule.caught_up" : "schedule.started",
                 CCF_KV_STR("connector_id", d->connector_id), CCF_KV_STR("job_id", job->id),
                 CCF_KV_STR("due", due),
                 CCF_KV_INT("late_ms", (job->created_at - d->next_run_at * 1000000) / 1000));
}

/* The schedule.skipped / schedule.dropped events of issue 13 are log lines
 * until the event log exists. */
static void log_not_run(const struct store_due *d, bool missed)
{
    char due[CCF_TIME_LEN + 1];

    ccf_time_format(d->next_run_at * 1000000, due);
    CCF_LOG_INFO(missed ? "schedule.dropped" : "schedule.skipped",
                 CCF_KV_STR("connector_id", d->connector_id), CCF_KV_STR("due", due),
                 CCF_KV_STR("reason", missed ? "missed while ccfd was down; catch_up is false"
                                             : "the connector is IN_USE"));
}

int scheduler_fire_due(struct store *store, struct ccf_tzdb *tzdb, const struct store_due *d,
                       int64_t now_us, bool missed, char job_id[CCF_JOB_ID_LEN + 1])
{
    struct ccf_schedule sch = {0};
    struct ccf_diag diag = {{0}};
    struct ccf_job job = {0};
    struct store_fire f = {.tenant = &d->tenant,
                           .connector_id = d->connector_id,
                           .due = d->next_run_at,
                           .schedule = d->schedule};
    char *env = NULL;
    json_t *v = json_loads(d->schedule, 0, NULL);
    int rc;

    if (job_id)
        job_id[0] = '\0';
    if (!v || ccf_schedule_from_json(v, tzdb, &sch, &diag) < 0) {
        CCF_LOG_ERROR("schedule.unreadable", CCF_KV_STR("connector_id", d->connector_id),
                      CCF_KV_STR("error", diag.msg));
    } else {
        f.next = next_after(&sch, d->schedule_anchor, d->next_run_at, now_us / 1000000);
        f.start = !missed || sch.catch_up;
        if (sch.environment && !(env = json_dumps(sch.environment, JSON_COMPACT)))
            f.start = false;
        f.environment = env;
    }
    json_decref(v);
    rc = store_fire_schedule(store, &f, &job);
    if (rc == 1) {
        log_fired(d, &job, missed);
        if (job_id)
            memcpy(job_id, job.id, CCF_JOB_ID_LEN + 1);
        rc = SCHEDULER_STARTED;
    } else if (rc == 0 && f.start) {
        log_not_run(d, false);
        rc = SCHEDULER_SKIPPED;
    } else if (rc == 0 && missed) {
        log_not_run(d, true);
        rc = SCHEDULER_DROPPED;
    } else if (rc == 0) {
        rc = SCHEDULER_NONE;
    }
    ccf_job_clear(&job);
    ccf_schedule_clear(&sch);
    free(env);
    return rc;
}

/* One due run: decoded, then handled in one store transaction. A schedule
 * that no longer decodes (its zone removed from the system) stops. */
static int handle(struct scheduler *s, const struct store_due *d, int64_t now_us)
{
    bool missed = d->next_run_at * 1000000 < s->boot_us;
    int rc = scheduler_fire_due(s->cfg.store, s->cfg.tzdb, d, now_us, missed, NULL);

    if (rc == SCHEDULER_STARTED)
        count(s, missed ? &s->stats.caught_up : &s->stats.started);
    else if (rc == SCHEDULER_SKIPPED)
        count(s, &s->stats.skipped);
    else if (rc == SCHEDULER_DROPPED)
        count(s, &s->stats.dropped);
    /* Changed or deleted since it was read: the next pass reads it again. */
    return rc == CCF_ECONFLICT || rc == CCF_ENOTFOUND ? 0 : rc < 0 ? rc : 0;
}

/* Handles every run due now; *head gets the earliest next_run_at left. */
static int pass(struct scheduler *s, int64_t *head)
{
    struct store_due due[DUE_BATCH];
    int64_t now_us = ccf_now_us();
    int n = DUE_BATCH, rc = 0;

    for (int i = 0; i < PASSES_MAX && n == DUE_BATCH && rc >= 0; i++) {
        if ((n = store_due_schedules(s->cfg.store, now_us / 1000000, due, DUE_BATCH)) < 0)
            return n;
        for (int k = 0; k < n && rc >= 0; k++)
            rc = handle(s, &due[k], now_us);
        store_due_clear(due, (size_t)n);
    }
    if (rc < 0)
        return rc;
    return store_schedule_head(s->cfg.store, head);
}

/* The realtime instant to wake at: the head, or an hour from now. */
static struct timespec wake_at(int64_t head, int rc)
{
    int64_t now_us = ccf_now_us(), until_us;
    struct timespec ts;

    if (rc < 0)
        until_us = now_us + RETRY_US;
    else if (head == 0 || head * 1000000 > now_us + (int64_t)IDLE_MAX_S * 1000000)
        until_us = now_us + (int64_t)IDLE_MAX_S * 1000000;
    else if (head * 1000000 <= now_us)
        until_us = now_us + RETRY_US / 10; /* still due: changed under us; read again shortly */
    else
        until_us = head * 1000000;
    ts.tv_sec = (time_t)(until_us / 1000000);
    ts.tv_nsec = (long)(until_us % 1000000) * 1000;
    return ts;
}

static void *run(void *arg)
{
    struct scheduler *s = arg;
    struct timespec until;
    int64_t head = 0;
    int rc;

    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        s->woken = false;
        pthread_mutex_unlock(&s->mu);
        head = 0;
        if ((rc = pass(s, &head)) < 0)
            CCF_LOG_WARN("schedule.pass_failed", CCF_KV_STR("error", ccf_strerror(rc)));
        until = wake_at(head, rc);
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && !s->woken) {
            if (pthread_cond_timedwait(&s->cond, &s->mu, &until) == ETIMEDOUT)
                break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int scheduler_start(struct scheduler *s)
{
    int err;

    s->boot_us = ccf_now_us();
    if ((err = pthread_create(&s->thread, NULL, run, s)) != 0) {
        CCF_LOG_ERROR("schedule.thread_failed", CCF_KV_STR("error", strerror(err)));
        return CCF_EIO;
    }
    s->thread_started = true;
    return 0;
}

void scheduler_wake(void *ctx)
{
    struct scheduler *s = ctx;

    pthread_mutex_lock(&s->mu);
    s->woken = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

void scheduler_get_stats(struct scheduler *s, struct scheduler_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

void scheduler_stop(struct scheduler *s)
{
    if (!s || !s->thread_started)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->thread_started = false;
}

void scheduler_destroy(struct scheduler *s)
{
    if (!s)
        return;
    scheduler_stop(s);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
