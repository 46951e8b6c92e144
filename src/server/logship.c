/* logship.c: the job-log shipper (logship.h). State is a list of the
 * unfinished jobs seen, each with the attempt it ships and how far that
 * attempt is in the store. A pass, under one mutex (the thread's ticks
 * and the executor's flushes alternate):
 *   - every unfinished job: its current attempt read from the store; a
 *     newer one than the entry's ends the older one (shipped to its end,
 *     from its archived log), then the new one ships from the store's end;
 *   - a job no longer unfinished is shipped to its end once more, then
 *     forgotten.
 * A job whose log is not on this machine (another replica runs it) reads
 * as CCF_ENOTFOUND and is skipped, without an entry or a store call. The store's end is re-read
 * when an entry starts, so a restart re-ships nothing and loses nothing still on disk. */
#include "server/logship.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define TICK_MS 1000

struct entry {
    struct store_job_ref ref;
    int attempt;     /* 0: not started */
    int64_t shipped; /* the attempt's end in the store; -1: not read yet */
    bool seen, gone;
    struct entry *next;
};

struct server_logship {
    struct store *store;
    struct executor *exec;
    int64_t cap;
    pthread_t thread;
    pthread_mutex_t mu; /* the list and buf */
    pthread_cond_t cv;
    bool stop; /* under mu */
    struct entry *jobs;
    char *buf; /* STORE_LOG_CHUNK_MAX */
};

/* Appends what the attempt's local log has past e->shipped. */
static void ship(struct server_logship *s, struct entry *e)
{
    int64_t size = 0, dropped = 0, start;
    int n, rc;

    if (e->attempt < 1 || e->gone)
        return;
    if (e->shipped < 0 && store_job_log_end(s->store, e->ref.job_id, e->attempt, &e->shipped) < 0) {
        e->shipped = -1; /* the store is away: the next pass */
        return;
    }
    for (;;) {
        n = executor_read_attempt_log(s->exec, e->ref.job_id, e->attempt, e->shipped, s->buf,
                                      STORE_LOG_CHUNK_MAX, &size, &dropped);
        if (n <= 0)
            return; /* nothing new, or not this machine's */
        /* Bytes the local log dropped before they were shipped are gone:
         * the read started at the first byte kept. */
        start = e->shipped < dropped ? dropped : e->shipped;
        rc = store_append_job_log(s->store, e->ref.job_id, e->attempt, start, s->buf, (size_t)n,
                                  s->cap);
        if (rc == CCF_ENOTFOUND)
            e->gone = true;
        if (rc <= 0) {
            if (rc < 0 && rc != CCF_ENOTFOUND)
                CCF_LOG_WARN("ccfd.log_ship_failed", CCF_KV_STR("job_id", e->ref.job_id),
                             CCF_KV_STR("error", ccf_strerror(rc)));
            return;
        }
        e->shipped = start + n;
        if (n < STORE_LOG_CHUNK_MAX)
            return;
    }
}

static struct entry *find(struct server_logship *s, const char *job_id)
{
    for (struct entry *e = s->jobs; e; e = e->next)
        if (strcmp(e->ref.job_id, job_id) == 0)
            return e;
    return NULL;
}

/* The attempt this machine may be writing: the store's, or the next one
 * while the job is STARTED and this executor already holds that attempt
 * (submitted, its RUNNING not recorded yet: the executor's EXITED of a
 * quick attempt can come before the orchestrator records its RUNNING, and
 * the flush it triggers must ship that attempt, not the one before). */
static int current_attempt(struct server_logship *s, const struct ccf_job *j)
{
    int64_t size, dropped;

    if (j->status == CCF_JOB_STARTED && executor_read_attempt_log(s->exec, j->id, j->attempt + 1, 0,
                                                                  s->buf, 0, &size, &dropped) >= 0)
        return j->attempt + 1;
    return j->attempt;
}

/* An unfinished job: moves its entry to the job's current attempt. */
static void visit(struct server_logship *s, const struct store_job_ref *r)
{
    struct entry *e = find(s, r->job_id);
    struct ccf_job j = {0};
    int64_t size, dropped;
    int attempt;

    /* Not on this machine (yet): one openat, no store call, no entry. */
    if (!e && executor_read_attempt_log(s->exec, r->job_id, 0, 0, s->buf, 0, &size, &dropped) ==
                  CCF_ENOTFOUND)
        return;
    if (!e) {
        e = ccf_xcalloc(1, sizeof(*e));
        e->ref = *r;
        e->shipped = -1;
        e->next = s->jobs;
        s->jobs = e;
    }
    e->seen = true;
    if (store_get_job(s->store, &r->tenant, r->connector_id, r->job_id, &j) == 0 &&
        (attempt = current_attempt(s, &j)) > e->attempt) {
        ship(s, e); /* the earlier attempt to its end */
        e->attempt = attempt;
        e->shipped = -1;
    }
    ccf_job_clear(&j);
    ship(s, e);
}

/* One pass over the unfinished jobs; call with mu held. */
static void pass(struct server_logship *s)
{
    struct store_job_ref *refs = NULL;
    struct entry **pp = &s->jobs, *e;
    size_t n = 0;

    if (store_unfinished_jobs(s->store, &refs, &n) < 0)
        return; /* the store is away: the next pass */
    for (e = s->jobs; e; e = e->next)
        e->seen = false;
    for (size_t i = 0; i < n; i++)
        visit(s, &refs[i]);
    free(refs);
    while ((e = *pp)) {
        if (e->seen) {
            pp = &e->next;
            continue;
        }
        ship(s, e); /* ended: the rest of its last attempt */
        *pp = e->next;
        free(e);
    }
}

static void *ship_main(void *arg)
{
    struct server_logship *s = arg;
    struct timespec until;

    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pass(s);
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += TICK_MS / 1000;
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int server__logship_start(struct server_logship **out, struct store *store, struct executor *exec,
                          int64_t cap)
{
    struct server_logship *s;
    pthread_condattr_t ca;

    *out = NULL;
    if (!store_shared(store) || !exec)
        return 0;
    s = ccf_xcalloc(1, sizeof(*s));
    s->store = store;
    s->exec = exec;
    s->cap = cap > 0 ? cap : 1;
    s->buf = ccf_xmalloc(STORE_LOG_CHUNK_MAX);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, ship_main, s) != 0) {
        CCF_LOG_ERROR("ccfd.log_shipper_failed", CCF_KV_STR("error", "cannot start its thread"));
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s->buf);
        free(s);
        return CCF_EIO;
    }
    *out = s;
    return 0;
}

void server__logship_flush(struct server_logship *s, const char *job_id)
{
    struct entry *e;

    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    /* A job that started and ended between two passes has no entry yet:
     * a pass makes it (the job is still unfinished in the store). */
    if (!(e = find(s, job_id)))
        pass(s);
    else
        visit(s, &e->ref);
    pthread_mutex_unlock(&s->mu);
}

void server__logship_stop(struct server_logship *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
}

void server__logship_free(struct server_logship *s)
{
    struct entry *e;

    if (!s)
        return;
    while ((e = s->jobs)) {
        s->jobs = e->next;
        free(e);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->buf);
    free(s);
}
