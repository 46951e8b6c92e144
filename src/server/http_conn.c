/* http_conn.c: a connection's and a request's life around http.c's
 * on_access: the connection's request state (made when it opens, freed when
 * it closes), the request line (the raw target kept, the request id drawn),
 * the TLS certificate a handshake presents, and the request's end (its log
 * line, its metrics, what it held freed). It knows nothing of headers,
 * bodies, auth or the api: http.c does those, between on_uri and the end. */
#include "server/http_int.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Random bytes for request ids, drawn from the kernel 512 at a time: a
 * getrandom(2) per request was one syscall in seven of a GET. Per thread, and
 * MHD's threads never fork. */
#define ID_POOL 512
static _Thread_local unsigned char id_pool[ID_POOL];
static _Thread_local size_t id_pool_used = ID_POOL;

static int id_random(unsigned char out[16])
{
    int rc;

    if (id_pool_used + 16 > ID_POOL) {
        if ((rc = ccf_random_bytes(id_pool, ID_POOL)) < 0)
            return rc;
        id_pool_used = 0;
    }
    memcpy(out, id_pool + id_pool_used, 16);
    memset(id_pool + id_pool_used, 0, 16); /* each id is drawn once */
    id_pool_used += 16;
    return 0;
}

/* A UUID v4 from the CSPRNG. Should it fail, the clock and a counter still
 * make the id unique, though predictable. */
static void request_id_new(struct server_http *h, char out[REQUEST_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t o = 0;

    if (id_random(b) < 0) {
        uint64_t t = (uint64_t)ccf_now_us(), n = atomic_fetch_add(&h->seq, 1);
        for (size_t i = 0; i < 6; i++) {
            b[i] = (unsigned char)(t >> (8 * i));
            b[10 + i] = (unsigned char)(n >> (8 * i));
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (size_t i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

/* The api parses the raw target itself; MHD must not decode it first. */
size_t server__http_on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static const char *termination_name(enum MHD_RequestTerminationCode t)
{
    switch (t) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return NULL;
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_abort";
    }
    return "unknown";
}

static const char *nonempty(const char *s)
{
    return s && s[0] ? s : NULL;
}

/* Never the body, the query or any header: they may carry secrets. */
static void log_request(const struct http_req *r, enum MHD_RequestTerminationCode toe)
{
    CCF_LOG_INFO(
        "http.request", CCF_KV_STR("method", r->method), CCF_KV_STR("path", r->path),
        CCF_KV_INT("status", r->status), CCF_KV_INT("duration_us", ccf_mono_us() - r->started_us),
        CCF_KV_STR("request_id", r->request_id),
        CCF_KV_STR("account", nonempty(r->tenant.account_id)),
        CCF_KV_STR("access_key_id", nonempty(r->access_key_id)), CCF_KV_STR("op", r->operation),
        CCF_KV_STR("connector_id", nonempty(r->connector_id)),
        CCF_KV_STR("job_id", nonempty(r->job_id)), CCF_KV_INT("bytes_in", r->bytes_in),
        CCF_KV_INT("bytes_out", r->bytes_out), CCF_KV_STR("termination", termination_name(toe)),
        CCF_KV_STR("reason", r->reason));
}

/* Logs the request and frees what it holds; r is ready for the next one. */
static void req_end(struct server_http *h, struct http_req *r, enum MHD_RequestTerminationCode toe)
{
    struct server_tls *tls;
    struct server_tls_cert *tls_cert;

    if (h->access_log)
        log_request(r, toe);
    if (h->metrics_on)
        server__metrics_request(h->metrics, r->operation, r->status, ccf_mono_us() - r->started_us);
    auth_pending_free(r->auth);
    free(r->target);
    free(r->path);
    free(r->method);
    free(r->body);
    if (r->resp) { /* answered by a writer, never sent */
        api_response_clear(r->resp);
        free(r->resp);
    }
    if (r->counted)
        atomic_fetch_sub(&h->in_flight, 1);
    tls = r->tls;
    tls_cert = r->tls_cert;
    memset(r, 0, sizeof(*r));
    r->tls = tls;
    r->tls_cert = tls_cert;
}

/* The connection's request state. MHD 0.9.75 does not always call
 * NOTIFY_COMPLETED: when a second protocol error hits a request that already
 * has MHD's error response queued (a query that exhausts the pool, see
 * hide_query), it marks the connection closed directly. The connection's
 * close is always reported, so the request is ended there. */
void server__http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code)
{
    struct server_http *h = cls;
    struct http_req *r = *socket_context;

    (void)conn;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        r = ccf_xcalloc(1, sizeof(struct http_req));
        r->tls = h->tls; /* before the handshake: on_tls_cert needs it */
        *socket_context = r;
        return;
    }
    if (!r)
        return;
    if (r->live) {
        r->reason = "libmicrohttpd dropped the request";
        req_end(h, r, MHD_REQUEST_TERMINATED_WITH_ERROR);
    }
    /* MHD has deinitialised the TLS session by now: nothing uses it. */
    server__tls_release(r->tls_cert);
    free(r);
    *socket_context = NULL;
}

/* GnuTLS asks which certificate to present (MHD_OPTION_HTTPS_CERT_CALLBACK,
 * which has no closure: the session's pointer is MHD's connection, whose
 * socket context on_connection made before any byte was read). The
 * connection takes a reference to the current generation and keeps it until
 * it closes, so that a SIGHUP swap never frees what a handshake in progress
 * uses, and a second call (a renegotiation) presents the same certificate. */
int server__http_on_tls_cert(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
                             const gnutls_pk_algorithm_t *algos, int nalgos,
                             gnutls_pcert_st **pcert, unsigned *npcert, gnutls_privkey_t *key)
{
    struct MHD_Connection *conn = gnutls_session_get_ptr(s);
    const union MHD_ConnectionInfo *ci =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    struct http_req *r = ci ? ci->socket_context : NULL;

    (void)req_ca_dn;
    (void)nreqs;
    (void)algos;
    (void)nalgos;
    if (!r || !r->tls)
        return -1; /* cannot happen; GnuTLS ends the handshake */
    if (!r->tls_cert)
        r->tls_cert = server__tls_acquire(r->tls);
    server__tls_cert_get(r->tls_cert, pcert, npcert, key);
    return 0;
}

/* MHD 0.9.75 adds every query parameter to the connection's pool and, when
 * that runs out, queues its 431 but then ignores the failure and goes on
 * parsing headers into a request that it has already answered: the client
 * gets nothing until the idle timeout. Neither ccfd nor the api read MHD's
 * copy of the query (the api parses r->target), so the query is cut off in
 * MHD's buffer before MHD parses it: the byte after '?' becomes the string's
 * end. uri points into the connection's own, writable, request line there.
 * A NUL before the '?' hides it from this (not from MHD): such a request can
 * still stall until the idle timeout; if MHD gets as far as asking us, it is
 * refused (target_has_nul). */
static void hide_query(char *uri)
{
#if MHD_LINE_IN_PLACE
    char *q = strchr(uri, '?');

    if (q && q[1] != '\0')
        q[1] = '\0';
#else
    (void)uri;
#endif
}

void *server__http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct server_http *h = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct http_req *r = ci ? ci->socket_context : NULL;

    if (!r)
        return NULL; /* cannot happen: on_connection made it; on_access refuses */
    if (r->live)
        req_end(h, r, MHD_REQUEST_TERMINATED_WITH_ERROR); /* missed its end */
    r->live = true;
    r->started_us = ccf_mono_us();
    request_id_new(h, r->request_id);
    if (!uri)
        uri = "";
    r->target_len = strlen(uri);
    r->target = ccf_xstrndup(uri, r->target_len);
    r->path = ccf_xstrndup(uri, strcspn(uri, "?"));
    hide_query((char *)uri); /* MHD's buffer, or "" (nothing to hide) */
    return r;
}

/* Runs for every request on_uri saw that MHD sees to its end (response
 * sent, client gone, timeout, daemon stopping), before MHD frees the
 * connection's response; on_connection catches the others. A response that
 * MHD made itself (its 413 or 400 for a Content-Length it cannot parse) is
 * logged with MHD's status. */
void server__http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                               enum MHD_RequestTerminationCode toe)
{
    struct server_http *h = cls;
    struct http_req *r = *req_cls;
    const union MHD_ConnectionInfo *ci;

    *req_cls = NULL;
    if (!r || !r->live)
        return;
    if (r->status == 0 && (ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS))) {
        r->status = (int)ci->http_status;
        r->reason = "answered by libmicrohttpd";
    }
    req_end(h, r, toe);
}

/* MHD's messages (bind failures, protocol errors) as log lines. */
void server__http_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    int n;

    (void)cls;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        return;
    for (size_t len = strlen(msg); len > 0 && msg[len - 1] == '\n'; len--)
        msg[len - 1] = '\0';
    CCF_LOG_INFO("http.mhd", CCF_KV_STR("message", msg));
}
