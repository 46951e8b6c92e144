/* audit.c (transport): the audit records of requests refused before the
 * api runs: a 403 of a known key (a bad or expired signature, a scoped key
 * outside its scope) and a 429. Those answers must stay cheap, a 429 most
 * of all (it is what a client that floods us gets), so the HTTP thread only
 * copies the record into a bounded queue; one thread writes what has
 * queued in one store write (which group commit may batch with others):
 * one fsync for many refusals. Each batch is a transaction of its own,
 * apart from any request's effect. A full queue drops the record, with a
 * warning: memory stays bounded under any flood. A kill -9 loses what is
 * still queued (at most one batch's worth): the refusal changed nothing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "server/http_int.h"

void server__audit_init(struct server_audit *au, struct store *store)
{
    memset(au, 0, sizeof(*au));
    au->store = store;
    pthread_mutex_init(&au->mu, NULL);
    pthread_cond_init(&au->cv, NULL);
    au->q = ccf_xcalloc(SERVER__AUDIT_QUEUE, sizeof(*au->q));
}

static void *audit_main(void *arg)
{
    struct server_audit *au = arg;
    struct store_audit *batch = ccf_xcalloc(SERVER__AUDIT_QUEUE, sizeof(*batch)), *tmp;
    size_t n;
    int rc;

    pthread_mutex_lock(&au->mu);
    for (;;) {
        while (au->n == 0 && !au->stop)
            pthread_cond_wait(&au->cv, &au->mu);
        if (au->n == 0) /* stopping, and nothing is left */
            break;
        tmp = au->q; /* swap: the HTTP threads fill the other buffer meanwhile */
        au->q = batch;
        batch = tmp;
        n = au->n;
        au->n = 0;
        pthread_mutex_unlock(&au->mu);
        if ((rc = store_audit_append(au->store, batch, n)) < 0)
            CCF_LOG_ERROR("audit.write_failed", CCF_KV_INT("records", (int64_t)n),
                          CCF_KV_INT("rc", rc));
        pthread_mutex_lock(&au->mu);
    }
    pthread_mutex_unlock(&au->mu);
    free(batch);
    return NULL;
}

void server__audit_start(struct server_audit *au)
{
    int rc;

    if (!au->store)
        return;
    if ((rc = pthread_create(&au->thread, NULL, audit_main, au)) != 0) {
        CCF_LOG_ERROR("audit.thread_failed", CCF_KV_INT("errno", rc));
        return; /* records are written on the refusing thread */
    }
    au->started = true;
}

void server__audit_stop(struct server_audit *au)
{
    if (!au->started)
        return;
    pthread_mutex_lock(&au->mu);
    au->stop = true;
    pthread_cond_signal(&au->cv);
    pthread_mutex_unlock(&au->mu);
    pthread_join(au->thread, NULL);
    au->started = false;
}

void server__audit_destroy(struct server_audit *au)
{
    pthread_cond_destroy(&au->cv);
    pthread_mutex_destroy(&au->mu);
    free(au->q);
    au->q = NULL;
}

void server__audit_peer(struct MHD_Connection *conn, struct http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    r->source_ip[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->source_ip,
                  sizeof(r->source_ip));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->source_ip,
                  sizeof(r->source_ip));
}

static void enqueue(struct server_audit *au, const struct store_audit *rec)
{
    bool full;

    if (!au->started) {
        (void)store_audit_append(au->store, rec, 1);
        return;
    }
    pthread_mutex_lock(&au->mu);
    full = au->n == SERVER__AUDIT_QUEUE;
    if (full)
        au->dropped++;
    else
        au->q[au->n++] = *rec;
    pthread_cond_signal(&au->cv);
    pthread_mutex_unlock(&au->mu);
    if (full)
        CCF_LOG_WARN("audit.dropped", CCF_KV_STR("operation", rec->operation),
                     CCF_KV_INT("status", rec->status),
                     CCF_KV_STR("access_key_id", rec->access_key_id));
}

void server__audit_refused(struct server_http *h, struct MHD_Connection *conn, struct http_req *r,
                           const struct api_response *resp, const struct ccf_tenant *t,
                           const char *key, const char *job)
{
    struct api_request req = {.method = r->method ? r->method : "",
                              .target = r->target ? r->target : "",
                              .tenant = *t,
                              .request_id = r->request_id,
                              .access_key_id = key,
                              .job_id = job,
                              .source_ip = r->source_ip};
    struct store_audit rec;

    if (!h->audit.store)
        return;
    server__audit_peer(conn, r);
    api_audit_refused(&req, &rec);
    rec.status = resp->status;
    snprintf(rec.error_type, sizeof(rec.error_type), "%s",
             resp->error_type ? resp->error_type : "");
    enqueue(&h->audit, &rec);
}
