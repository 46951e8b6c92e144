/* longpoll.c: the transport's parked long polls (ListEvents' wait_seconds).
 * A poll that found nothing is not held on its HTTP thread: http.c
 * suspends the connection and parks it here. The store's event hook (a
 * commit that wrote events) bumps a generation and wakes one thread, which
 * resumes every parked poll older than that generation, and those whose
 * wait is over; http.c then runs the request again. No polling loop: the
 * thread sleeps until a commit or the nearest deadline. Like writers.c,
 * this file never calls into http.c. */
#include <errno.h>
#include <time.h>

#include "core/log.h"
#include "server/http_int.h"
#include "store/store.h"

static void on_events(void *ctx)
{
    struct server_longpoll *lp = ctx;

    pthread_mutex_lock(&lp->mu);
    lp->gen++;
    if (lp->head) /* nobody waits: nothing to do but count */
        pthread_cond_signal(&lp->cv);
    pthread_mutex_unlock(&lp->mu);
}

/* Resumes the parked polls that are done; returns the nearest deadline of
 * those left (0: none). Under lp->mu. */
static int64_t release_done(struct server_longpoll *lp)
{
    struct http_req **pp = &lp->head, *r;
    int64_t now = ccf_mono_us(), next = 0;

    while ((r = *pp)) {
        if (lp->stop || r->poll_gen != lp->gen || now >= r->poll_deadline_us) {
            *pp = r->pnext;
            r->pnext = NULL;
            r->poll_ready = true;
            MHD_resume_connection(r->conn);
            continue;
        }
        if (!next || r->poll_deadline_us < next)
            next = r->poll_deadline_us;
        pp = &r->pnext;
    }
    return next;
}

static void *longpoll_main(void *arg)
{
    struct server_longpoll *lp = arg;
    struct timespec ts;
    int64_t next;

    pthread_mutex_lock(&lp->mu);
    while (!lp->stop) {
        next = release_done(lp);
        if (!next) {
            pthread_cond_wait(&lp->cv, &lp->mu);
            continue;
        }
        ts.tv_sec = (time_t)(next / 1000000);
        ts.tv_nsec = (long)(next % 1000000) * 1000;
        pthread_cond_timedwait(&lp->cv, &lp->mu, &ts);
    }
    release_done(lp);
    pthread_mutex_unlock(&lp->mu);
    return NULL;
}

void server__longpoll_init(struct server_longpoll *lp, struct store *store)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&lp->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lp->cv, &ca);
    pthread_condattr_destroy(&ca);
    lp->store = store;
    lp->head = NULL;
    lp->gen = 0;
    lp->stop = false;
    lp->started = false;
}

void server__longpoll_start(struct server_longpoll *lp)
{
    int rc;

    if (!lp->store)
        return;
    if ((rc = pthread_create(&lp->thread, NULL, longpoll_main, lp)) != 0) {
        /* Without it polls answer at once: correct, only not long. */
        CCF_LOG_ERROR("http.longpoll_failed", CCF_KV_INT("errno", rc));
        return;
    }
    lp->started = true;
    store_set_event_hook(lp->store, on_events, lp);
}

uint64_t server__longpoll_gen(struct server_longpoll *lp)
{
    uint64_t g;

    pthread_mutex_lock(&lp->mu);
    g = lp->gen;
    pthread_mutex_unlock(&lp->mu);
    return g;
}

bool server__longpoll_park(struct server_longpoll *lp, struct MHD_Connection *conn,
                           struct http_req *r, uint64_t gen)
{
    pthread_mutex_lock(&lp->mu);
    /* An event committed since the request read the store: run it again. */
    if (!lp->started || lp->stop || gen != lp->gen) {
        pthread_mutex_unlock(&lp->mu);
        return false;
    }
    r->conn = conn;
    r->poll_gen = gen;
    r->poll_ready = false;
    MHD_suspend_connection(conn); /* before the thread can resume it */
    r->pnext = lp->head;
    lp->head = r;
    pthread_cond_signal(&lp->cv); /* its deadline may be the nearest */
    pthread_mutex_unlock(&lp->mu);
    return true;
}

void server__longpoll_release(struct server_longpoll *lp)
{
    pthread_mutex_lock(&lp->mu);
    lp->stop = true;
    pthread_cond_signal(&lp->cv);
    pthread_mutex_unlock(&lp->mu);
}

void server__longpoll_stop(struct server_longpoll *lp)
{
    if (!lp->started)
        return;
    store_set_event_hook(lp->store, NULL, NULL);
    server__longpoll_release(lp);
    pthread_join(lp->thread, NULL);
    lp->started = false;
}

void server__longpoll_destroy(struct server_longpoll *lp)
{
    pthread_cond_destroy(&lp->cv);
    pthread_mutex_destroy(&lp->mu);
}
