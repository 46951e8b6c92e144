/* http.c: the libmicrohttpd transport. A request's life: on_uri (request
 * line read: keep the raw target, draw the request id), on_access first call
 * (headers read: refuse early with 413/400/503), on_access with data (the
 * body, bounded), on_access final call (api_handle, queue the response),
 * on_completed (log line, free). libmicrohttpd 0.9.75 lets a response be
 * queued only on the first or the final call, never mid-upload. */
#include "server/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* Request line, headers and MHD's bookkeeping for one connection must fit in
 * this; a bigger header block gets MHD's own 431 (or 414 for the URI). */
#define CONN_MEMORY_LIMIT ((size_t)64 * 1024)
/* A chunked body that passes CCF_BODY_MAX is read and dropped for up to this
 * many more bytes so that the client can read our 413; past that we close. */
#define DRAIN_MAX      ((uint64_t)CCF_BODY_MAX)
#define BODY_FIRST_CAP ((size_t)16 * 1024)
#define REQUEST_ID_LEN 36 /* a UUID v4 */

#define MSG_TOO_LARGE "Request body is over the 8388608-byte (8 MiB) limit"
#define MSG_STOPPING  "Server is shutting down; retry the request"

struct server_http {
    struct MHD_Daemon *d;
    MHD_socket listen_fd; /* ours to close once quiesced */
    struct api *api;
    struct ccf_tenant tenant;
    unsigned port;
    atomic_bool stopping;
    atomic_size_t in_flight;
    atomic_uint_fast64_t seq; /* request ids if the CSPRNG fails */
};

struct http_req {
    char *target; /* raw request-target: path, then ?query, not decoded */
    char *path;   /* target without the query, for the log */
    char *method; /* NULL until the first access call */
    char request_id[REQUEST_ID_LEN + 1];
    int64_t started_us; /* monotonic */
    size_t declared;    /* Content-Length, 0 when absent */
    char *body;         /* NUL-terminated; never more than CCF_BODY_MAX + 1 bytes */
    size_t len;
    size_t cap;
    uint64_t bytes_in; /* body bytes received, kept or not */
    bool too_large;
    bool counted; /* in server_http.in_flight */
    /* What was answered, for the log line. */
    int status; /* 0: no response was sent */
    size_t bytes_out;
    const char *operation;
    const char *reason;
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    char job_id[CCF_JOB_ID_LEN + 1];
};

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A UUID v4 from the CSPRNG. Should it fail, the clock and a counter still
 * make the id unique, though predictable. */
static void request_id_new(struct server_http *h, char out[REQUEST_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t o = 0;

    if (ccf_random_bytes(b, sizeof(b)) < 0) {
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

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct server_http *h = cls;
    struct http_req *r = ccf_xcalloc(1, sizeof(*r));

    (void)conn;
    if (!uri)
        uri = "";
    r->started_us = mono_us();
    r->target = ccf_xstrdup(uri);
    r->path = ccf_xstrndup(uri, strcspn(uri, "?"));
    request_id_new(h, r->request_id);
    return r;
}

/* The api parses the raw target itself; MHD must not decode it first. */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
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
static void log_request(const struct server_http *h, const struct http_req *r,
                        enum MHD_RequestTerminationCode toe)
{
    CCF_LOG_INFO(
        "http.request", CCF_KV_STR("method", r->method), CCF_KV_STR("path", r->path),
        CCF_KV_INT("status", r->status), CCF_KV_INT("duration_us", mono_us() - r->started_us),
        CCF_KV_STR("request_id", r->request_id), CCF_KV_STR("account", h->tenant.account_id),
        CCF_KV_STR("op", r->operation), CCF_KV_STR("connector_id", nonempty(r->connector_id)),
        CCF_KV_STR("job_id", nonempty(r->job_id)), CCF_KV_INT("bytes_in", r->bytes_in),
        CCF_KV_INT("bytes_out", r->bytes_out), CCF_KV_STR("termination", termination_name(toe)),
        CCF_KV_STR("reason", r->reason));
}

/* Runs for every request on_uri saw, however it ended (client gone,
 * timeout, daemon stopping), before MHD frees the connection's response. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server_http *h = cls;
    struct http_req *r = *req_cls;

    (void)conn;
    if (!r)
        return;
    log_request(h, r, toe);
    free(r->target);
    free(r->path);
    free(r->method);
    free(r->body);
    if (r->counted)
        atomic_fetch_sub(&h->in_flight, 1);
    free(r);
    *req_cls = NULL;
}

/* MHD's messages (bind failures, protocol errors) as log lines. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
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

static void response_free(void *cls)
{
    struct api_response *resp = cls;

    api_response_clear(resp);
    free(resp);
}

static void add_header(struct MHD_Response *m, const char *name, const char *value)
{
    if (MHD_add_response_header(m, name, value) == MHD_NO)
        CCF_LOG_ERROR("http.header_rejected", CCF_KV_STR("header", name));
}

static void add_headers(struct server_http *h, const struct http_req *r, struct MHD_Response *m,
                        const struct api_response *resp)
{
    bool retry_after = false;

    if (resp->body)
        add_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
                   resp->content_type ? resp->content_type : "application/json");
    if (resp->error_type)
        add_header(m, "x-amzn-ErrorType", resp->error_type);
    for (size_t i = 0; i < resp->nheaders && i < API_HEADERS_MAX; i++) {
        const struct api_header *x = &resp->headers[i];
        if (!x->name || !memchr(x->value, '\0', sizeof(x->value)))
            continue;
        retry_after = retry_after || strcasecmp(x->name, MHD_HTTP_HEADER_RETRY_AFTER) == 0;
        add_header(m, x->name, x->value);
    }
    add_header(m, "x-amzn-RequestId", r->request_id);
    if ((resp->status == 429 || resp->status == 503) && !retry_after)
        add_header(m, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (atomic_load(&h->stopping))
        add_header(m, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Queues resp, whose ownership passes to the MHD response (freed with it). */
static enum MHD_Result send_response(struct server_http *h, struct MHD_Connection *conn,
                                     struct http_req *r, struct api_response *resp)
{
    struct MHD_Response *m;
    enum MHD_Result ret;

    r->status = resp->status;
    r->bytes_out = resp->body ? resp->body_len : 0;
    r->operation = resp->operation;
    memcpy(r->connector_id, resp->connector_id, sizeof(r->connector_id));
    memcpy(r->job_id, resp->job_id, sizeof(r->job_id));
    r->connector_id[CCF_CONNECTOR_ID_LEN] = '\0';
    r->job_id[CCF_JOB_ID_LEN] = '\0';
    m = MHD_create_response_from_buffer_with_free_callback_cls(r->bytes_out, resp->body,
                                                               response_free, resp);
    if (!m) {
        response_free(resp);
        r->status = 0;
        return MHD_NO;
    }
    add_headers(h, r, m, resp);
    ret = MHD_queue_response(conn, (unsigned)r->status, m);
    MHD_destroy_response(m);
    if (ret == MHD_NO)
        r->status = 0;
    return ret;
}

static enum MHD_Result send_error(struct server_http *h, struct MHD_Connection *conn,
                                  struct http_req *r, int status, const char *message)
{
    struct api_response *resp = ccf_xcalloc(1, sizeof(*resp));

    api_error(resp, status, message);
    return send_response(h, conn, r, resp);
}

/* MHD answered a Content-Length that is not all digits itself; saturate
 * past the limit so that no value overflows. */
static size_t parse_length(const char *v)
{
    size_t n = 0;

    for (; *v >= '0' && *v <= '9'; v++) {
        n = n * 10 + (size_t)(*v - '0');
        if (n > CCF_BODY_MAX)
            return (size_t)CCF_BODY_MAX + 1;
    }
    return n;
}

/* Headers are in, no body byte has been read: refuse what we can now. */
static enum MHD_Result on_headers(struct server_http *h, struct MHD_Connection *conn,
                                  struct http_req *r, const char *method)
{
    const char *te, *cl;
    char msg[160];

    r->method = ccf_xstrdup(method);
    r->counted = true;
    atomic_fetch_add(&h->in_flight, 1);
    if (atomic_load(&h->stopping))
        return send_error(h, conn, r, 503, MSG_STOPPING);
    te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasecmp(te, "chunked") != 0) {
        /* MHD would read such a body until the client closes; refuse it. */
        snprintf(msg, sizeof(msg),
                 "Transfer-Encoding '%.32s' is not supported; send the body "
                 "with Content-Length or chunked",
                 te);
        return send_error(h, conn, r, 400, msg);
    }
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!te && cl) {
        r->declared = parse_length(cl);
        if (r->declared > CCF_BODY_MAX)
            return send_error(h, conn, r, 413, MSG_TOO_LARGE);
    }
    return MHD_YES;
}

/* Makes room for total bytes plus a NUL; total <= CCF_BODY_MAX. Grows by
 * doubling, so that a client must send bytes to make us hold memory. */
static void body_reserve(struct http_req *r, size_t total)
{
    size_t cap = r->cap ? r->cap : BODY_FIRST_CAP;
    size_t max = r->declared >= total ? r->declared + 1 : (size_t)CCF_BODY_MAX + 1;

    if (total < r->cap)
        return;
    while (cap <= total)
        cap *= 2; /* cannot overflow: total <= 8 MiB */
    if (cap > max)
        cap = max;
    r->body = ccf_xrealloc(r->body, cap);
    r->cap = cap;
}

/* Whether the client has closed its side, without consuming any data.
 * MHD 0.9.75's epoll loop misses a FIN that arrives with the last data bytes
 * (upstream bug #7192, fixed in 0.9.76) and would keep such a connection, and
 * the body buffered so far, until the idle timeout. */
static bool peer_closed(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char c;

    return ci && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* A piece of the body. Past the limit (only a chunked body gets there) the
 * buffer goes and the rest is drained, up to DRAIN_MAX, then we hang up. */
static enum MHD_Result on_upload(struct MHD_Connection *conn, struct http_req *r, const char *data,
                                 size_t *size)
{
    size_t n = *size, total;

    *size = 0;
    r->bytes_in += n;
    if (!r->too_large && (!ccf_size_add(r->len, n, &total) || total > CCF_BODY_MAX)) {
        r->too_large = true;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
    }
    if (r->too_large) {
        if (r->bytes_in - CCF_BODY_MAX <= DRAIN_MAX && !peer_closed(conn))
            return MHD_YES;
        r->reason = "body over the limit; connection closed";
        return MHD_NO;
    }
    body_reserve(r, total);
    memcpy(r->body + r->len, data, n);
    r->len = total;
    r->body[total] = '\0';
    /* With Content-Length, MHD hands over all it has buffered in one call:
     * short of the declared length with the peer gone, nothing more comes. */
    if (r->declared > total && peer_closed(conn)) {
        r->reason = "client closed the connection mid-body";
        return MHD_NO;
    }
    return MHD_YES;
}

/* The whole request is in. */
static enum MHD_Result on_request(struct server_http *h, struct MHD_Connection *conn,
                                  struct http_req *r)
{
    struct api_request req;
    struct api_response *resp;

    if (r->too_large)
        return send_error(h, conn, r, 413, MSG_TOO_LARGE);
    memset(&req, 0, sizeof(req));
    req.method = r->method;
    req.target = r->target;
    req.content_type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    req.body = r->body ? r->body : "";
    req.body_len = r->len;
    req.has_body = r->declared > 0 || r->bytes_in > 0;
    req.tenant = h->tenant;
    req.request_id = r->request_id;
    resp = ccf_xcalloc(1, sizeof(*resp));
    api_handle(h->api, &req, resp);
    free(r->body); /* before the response goes out: keep the peak low */
    r->body = NULL;
    r->len = r->cap = 0;
    return send_response(h, conn, r, resp);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct server_http *h = cls;
    struct http_req *r = *req_cls;

    (void)url; /* decoded by nobody, but without the query: r->target has both */
    (void)version;
    if (!r)
        return MHD_NO; /* on_uri always runs first */
    if (!r->method)
        return on_headers(h, conn, r, method);
    if (*upload_data_size > 0)
        return on_upload(conn, r, upload_data, upload_data_size);
    return on_request(h, conn, r);
}

/* MHD binds to the address given with MHD_OPTION_SOCK_ADDR but names the
 * port argument in its messages. */
static uint16_t sockaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

int server__http_start(struct server_http **out, const struct server_http_config *cfg)
{
    struct server_http *h = ccf_xcalloc(1, sizeof(*h));
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    /* MHD warns about a pool of one: a single internal thread is the same. */
    struct MHD_OptionItem pool[2] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
    const union MHD_DaemonInfo *info;
    int rc;

    if (cfg->threads > 1)
        pool[0] =
            (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->threads, NULL};
    if ((rc = ccf_tenant_init(&h->tenant, cfg->region, cfg->account_id)) < 0)
        goto fail;
    h->api = cfg->api;
    h->listen_fd = MHD_INVALID_SOCKET;
    atomic_init(&h->stopping, false);
    atomic_init(&h->in_flight, 0);
    atomic_init(&h->seq, 0);
    if (cfg->addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, sockaddr_port(cfg->addr), NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, h, MHD_OPTION_SOCK_ADDR, cfg->addr, MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, cfg->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY_LIMIT,
        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_END);
    if (!h->d) {
        rc = CCF_EIO; /* MHD's own line says why */
        goto fail;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return 0;
fail:
    free(h);
    return rc;
}

unsigned server__http_port(struct server_http *h)
{
    return h->port;
}

void server__http_quiesce(struct server_http *h)
{
    atomic_store(&h->stopping, true);
    h->listen_fd = MHD_quiesce_daemon(h->d);
    /* MHD says close it only after MHD_stop_daemon; shutting it down now
     * makes new clients see a refused connection instead of a silent queue. */
    if (h->listen_fd != MHD_INVALID_SOCKET)
        shutdown(h->listen_fd, SHUT_RDWR);
}

size_t server__http_in_flight(struct server_http *h)
{
    return atomic_load(&h->in_flight);
}

void server__http_stop(struct server_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    if (h->listen_fd != MHD_INVALID_SOCKET)
        close(h->listen_fd);
    free(h);
}
