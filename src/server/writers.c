/* writers.c: the transport's writer pool. Writes (any method but GET and
 * HEAD) wait for their batch's fsync (group commit, src/store/group.c) or
 * for a locked database; on an MHD thread that would stall every request of
 * that thread's connections. http.c suspends the connection and submits the
 * request here; a writer runs api_handle and resumes the connection, and
 * MHD's next call to http.c queues the answer. As many writes as there are
 * writers can wait for, and share, one commit. This file never calls into
 * http.c: it hands results back through struct http_req. */
#include <stdlib.h>

#include "core/log.h"
#include "server/http_int.h"

void server__writers_init(struct server_writers *w, struct api *api)
{
    w->api = api;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->head = NULL;
    w->tail = &w->head;
    w->stop = false;
    w->threads = NULL;
    w->n = 0;
}

bool server__writers_submit(struct server_writers *w, struct MHD_Connection *conn,
                            struct http_req *r, const struct api_request *req)
{
    pthread_mutex_lock(&w->mu);
    if (w->stop) { /* the writers are gone */
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    r->conn = conn;
    r->areq = *req;
    r->resp = NULL;
    r->wnext = NULL;
    MHD_suspend_connection(conn); /* before a writer can resume it */
    *w->tail = r;
    w->tail = &r->wnext;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return true;
}

static void *writer_main(void *arg)
{
    struct server_writers *w = arg;
    struct http_req *r;
    struct api_response *resp;
    bool stopping;

    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->head) { /* stopping, and nothing is left */
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        r = w->head;
        w->head = r->wnext;
        if (!w->head)
            w->tail = &w->head;
        stopping = w->stop;
        pthread_mutex_unlock(&w->mu);
        /* Still queued once the shutdown grace is over: answered 503 (the
         * client retries elsewhere or later), not run past the grace. */
        if (stopping) {
            r->shed = true;
            MHD_resume_connection(r->conn);
            continue;
        }
        resp = ccf_xcalloc(1, sizeof(*resp));
        api_handle(w->api, &r->areq, resp);
        r->resp = resp; /* MHD_resume_connection's lock publishes it */
        MHD_resume_connection(r->conn);
    }
}

void server__writers_start(struct server_writers *w, unsigned n)
{
    int rc;

    w->threads = ccf_xcalloc(n ? n : 1, sizeof(pthread_t));
    for (; w->n < n; w->n++) {
        if ((rc = pthread_create(&w->threads[w->n], NULL, writer_main, w)) != 0) {
            CCF_LOG_ERROR("http.writer_failed", CCF_KV_INT("errno", rc),
                          CCF_KV_INT("started", w->n));
            break; /* fewer writers; none: writes run on the HTTP threads */
        }
    }
}

/* From now on a write runs on its HTTP thread (submit says false). */
void server__writers_stop(struct server_writers *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
}

void server__writers_destroy(struct server_writers *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->threads);
    w->threads = NULL;
}
