/* http.c: the libmicrohttpd transport. A request's life: on_uri (request
 * line read: keep the raw target, draw the request id), on_access first call
 * (headers read: refuse early with 503/400/413, then auth's precheck and its
 * 403), on_access with data (the body, bounded), on_access final call (the
 * signature over the body, api_handle, queue the response), on_completed
 * (log line, free). The request's state lives in the connection's
 * (on_connection), so that a request MHD gives up on without telling
 * on_completed is still logged and freed when the connection goes.
 * libmicrohttpd 0.9.75 lets a response be queued only on the first or the
 * final call, never mid-upload. This file has on_access and the daemon's
 * start and stop; on_uri, on_completed, on_connection and the other
 * callbacks around a request's life are in http_conn.c.
 *
 * Writes (any method but GET and HEAD) run on a pool of writer threads
 * (writers.c; responses are built in http_response.c): a
 * write waits for its batch's fsync (group commit, src/store/group.c) or for
 * a locked database, and on an MHD thread it would stall every request of
 * that thread's connections. The final call suspends the connection and
 * queues the request; a writer runs api_handle and resumes the connection;
 * MHD then calls on_access once more, which queues the response. As many
 * writes as there are writers can wait for, and share, one commit. */
#include "server/http_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
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
 * this; a bigger header block gets MHD's own 431 (or 414 for the URI). MHD
 * also takes one record (64 bytes) per query parameter from it, which is why
 * on_uri hides the query from MHD (see hide_query). Per connection, ccfd
 * holds at most: this pool, two copies of the request-target (each shorter
 * than the pool), a struct http_req, and the body (CCF_BODY_MAX + 1). */
#define CONN_MEMORY_LIMIT ((size_t)64 * 1024)
/* A chunked body that passes CCF_BODY_MAX is read and dropped for up to this
 * many more bytes so that the client can read our 413; past that we close. */
#define DRAIN_MAX      ((uint64_t)CCF_BODY_MAX)
#define BODY_FIRST_CAP ((size_t)16 * 1024)

#define MSG_TOO_LARGE    "Request body is over the 8388608-byte (8 MiB) limit"
#define MSG_STOPPING     "Server is shutting down; retry the request"
#define MSG_NUL          "The request-target contains a NUL byte"
#define REASON_THROTTLED "over the rate limit"
/* The targets open without a signature (a load balancer's probes, a
 * Prometheus scrape). */
#define OPEN_PATH    "/healthz"
#define READY_PATH   "/readyz"
#define METRICS_PATH "/metrics"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The console's files are open too: a browser must load the page before it
 * has a key to sign with. Its API calls are signed like any client's. */
static bool open_path(const char *path)
{
    return strcmp(path, OPEN_PATH) == 0 || strcmp(path, READY_PATH) == 0 ||
           strcmp(path, METRICS_PATH) == 0 || server__console_owns(path);
}

/* The first Content-Length is all digits (MHD answers anything else
 * itself); saturate past the limit so that no value overflows. */
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

/* How the request says its body is framed, from every header line: MHD
 * looks at the first Content-Length and the first Transfer-Encoding only. */
struct framing {
    const char *cl; /* the first Content-Length */
    const char *te; /* the first Transfer-Encoding */
    unsigned ncl, nte;
    bool cl_bad; /* a Content-Length that is not 1*DIGIT */
    bool cl_differ;
};

static const char *skip_zeros(const char *v)
{
    while (v[0] == '0' && v[1] != '\0')
        v++;
    return v;
}

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct framing *f = cls;

    (void)kind;
    if (!key || !value)
        return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        if (f->nte++ == 0)
            f->te = value;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->cl_bad = f->cl_bad || value[0] == '\0' || value[strspn(value, "0123456789")] != '\0';
        if (f->ncl++ == 0)
            f->cl = value;
        else if (strcmp(skip_zeros(f->cl), skip_zeros(value)) != 0)
            f->cl_differ = true;
    }
    return MHD_YES;
}

/* Ambiguous framing is refused before any body byte is read: behind a proxy
 * that reads it otherwise, it smuggles a second request (RFC 9112 6.1, 6.3).
 * Copies of one Content-Length value are allowed, as RFC 9112 6.3 lets us.
 * Returns the message for a 400, or NULL. */
static const char *framing_error(const struct framing *f, char *msg, size_t n)
{
    if (f->cl_bad)
        return "Content-Length must be a decimal number of bytes";
    if (f->cl_differ)
        return "Conflicting Content-Length headers";
    if (f->nte > 1)
        return "More than one Transfer-Encoding header";
    if (f->nte && f->ncl)
        return "Transfer-Encoding and Content-Length must not both be sent";
    if (f->te && strcasecmp(f->te, "chunked") != 0) {
        /* MHD would read such a body until the client closes. */
        snprintf(msg, n,
                 "Transfer-Encoding '%.32s' is not supported; send the body "
                 "with Content-Length or chunked",
                 f->te);
        return msg;
    }
    return NULL;
}

/* MHD 0.9.75 passes the request-target as a C string, so a NUL byte in it
 * would cut it short: "/connectors/<id>\0x" would reach <id>. The target
 * ends where MHD put a NUL in place of the space before the HTTP version
 * (STRICT_FOR_CLIENT refuses any other space in it), so the distance from url
 * (the pointer on_uri saw) to version is the target's real length plus one. */
static bool target_has_nul(const struct http_req *r, const char *url, const char *version)
{
#if MHD_LINE_IN_PLACE
    uintptr_t u = (uintptr_t)url, v = (uintptr_t)version;

    return v > u && v - u - 1 != r->target_len;
#else
    (void)r;
    (void)url;
    (void)version;
    return false;
#endif
}

/* The request's headers for auth, in the order received; MHD's strings,
 * valid until the request ends. */
struct header_list {
    struct auth_header *v;
    size_t n, cap;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct header_list *l = cls;

    (void)kind;
    if (!key || l->n == l->cap)
        return MHD_YES;
    l->v[l->n++] = (struct auth_header){key, value ? value : ""};
    return MHD_YES;
}

/* Auth's first step, on the headers alone: a refusal goes out before the
 * client can make us read (and hold) its body. */
static enum MHD_Result authenticate_headers(struct server_http *h, struct MHD_Connection *conn,
                                            struct http_req *r)
{
    int n = MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);
    struct header_list l = {.cap = n > 0 ? (size_t)n : 0};
    struct auth_request ar = {
        .method = r->method, .target = r->target, .now_s = (int64_t)time(NULL)};
    struct auth_error err;
    int rc;

    l.v = ccf_xcalloc(l.cap ? l.cap : 1, sizeof(*l.v));
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &l);
    ar.headers = l.v;
    ar.nheaders = l.n;
    rc = auth_precheck(h->auth, &ar, &r->auth, &err);
    free(l.v);
    return rc < 0 ? server__http_send_refusal(h, conn, r, &err) : MHD_YES;
}

/* Who a 429 refused: before the body, the key the headers name (not yet
 * proven, as the bucket it was counted in); after it, the signer. */
static void throttled_audit(struct server_http *h, struct MHD_Connection *conn, struct http_req *r,
                            const struct api_response *resp, const char *key)
{
    const struct auth_principal *p;

    if (r->access_key_id[0] || !r->auth)
        server__audit_refused(h, conn, r, resp, h->auth ? &r->tenant : &h->tenant, r->access_key_id,
                              r->principal_job);
    else if ((p = auth_pending_principal(r->auth)))
        server__audit_refused(h, conn, r, resp, &p->tenant, key, p->job_id);
}

/* The 429: Retry-After says when the key has a token again. */
static enum MHD_Result send_throttled(struct server_http *h, struct MHD_Connection *conn,
                                      struct http_req *r, const char *key, unsigned retry_s)
{
    struct api_response *resp = ccf_xcalloc(1, sizeof(*resp));
    char msg[AUTH_KEY_ID_MAX + 96];

    if (key[0])
        snprintf(msg, sizeof(msg), "Rate exceeded for access key %s; retry after %u s", key,
                 retry_s);
    else
        snprintf(msg, sizeof(msg), "Rate exceeded; retry after %u s", retry_s);
    api_error(resp, 429, msg);
    if (resp->nheaders < API_HEADERS_MAX) {
        struct api_header *x = &resp->headers[resp->nheaders++];
        x->name = MHD_HTTP_HEADER_RETRY_AFTER;
        snprintf(x->value, sizeof(x->value), "%u", retry_s);
    }
    r->reason = REASON_THROTTLED;
    throttled_audit(h, conn, r, resp, key);
    if (!r->access_key_id[0]) /* refused before the signature: for the log line */
        snprintf(r->access_key_id, sizeof(r->access_key_id), "%s", key);
    return server__http_send(h, conn, r, resp);
}

/* Whether key is over the rate limit (then the 429 is queued in *ret). A
 * look (take false) spends nothing: before the signature is checked, a
 * request may not be the key's owner's. With auth = none, key is "" and
 * every request shares one bucket. */
static bool throttled(struct server_http *h, struct MHD_Connection *conn, struct http_req *r,
                      const char *key, bool take, enum MHD_Result *ret)
{
    unsigned retry_s = 1;

    if (!h->rl || open_path(r->path) ||
        ccf_ratelimit_allow(h->rl, key, ccf_mono_us(), take, &retry_s))
        return false;
    *ret = send_throttled(h, conn, r, key, retry_s);
    return true;
}

/* Auth's second step, over the whole body: on success the request has its
 * tenant. Returns false when the refusal has been queued in *ret. */
static bool authenticate_body(struct server_http *h, struct MHD_Connection *conn,
                              struct http_req *r, enum MHD_Result *ret)
{
    struct auth_principal p;
    struct auth_error err;
    int rc;

    if (!r->auth) {
        if (!h->auth)
            r->tenant = h->tenant;
        if (!h->auth || open_path(r->path))
            return true; /* /healthz needs no tenant */
        /* Cannot happen: on_headers either checked the headers or answered. */
        *ret = server__http_send_error(h, conn, r, 500,
                                       "Internal error: the request was not authenticated");
        return false;
    }
    rc = auth_verify(r->auth, r->body, r->len, &p, &err);
    auth_pending_free(r->auth);
    r->auth = NULL;
    if (rc < 0) {
        *ret = server__http_send_refusal(h, conn, r, &err);
        return false;
    }
    r->tenant = p.tenant;
    memcpy(r->access_key_id, p.access_key_id, sizeof(r->access_key_id));
    memcpy(r->principal_job, p.job_id, sizeof(r->principal_job));
    return true;
}

/* Headers are in, no body byte has been read: refuse what we can now. */
static enum MHD_Result on_headers(struct server_http *h, struct MHD_Connection *conn,
                                  struct http_req *r, const char *method, const char *url,
                                  const char *version)
{
    struct framing f;
    const char *err;
    char msg[160];
    enum MHD_Result ret;

    r->method = ccf_xstrdup(method);
    r->counted = true;
    atomic_fetch_add(&h->in_flight, 1);
    if (atomic_load(&h->stopping))
        return server__http_send_error(h, conn, r, 503, MSG_STOPPING);
    if (target_has_nul(r, url, version))
        return server__http_send_error(h, conn, r, 400, MSG_NUL);
    memset(&f, 0, sizeof(f));
    MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_header, &f);
    if ((err = framing_error(&f, msg, sizeof(msg))))
        return server__http_send_error(h, conn, r, 400, err);
    if (f.cl) {
        r->declared = parse_length(f.cl);
        if (r->declared > CCF_BODY_MAX)
            return server__http_send_error(h, conn, r, 413, MSG_TOO_LARGE);
    }
    if (h->auth && !open_path(r->path)) {
        ret = authenticate_headers(h, conn, r);
        if (r->status != 0 || ret != MHD_YES)
            return ret; /* refused */
    }
    /* Known key, body not read yet: a throttled client cannot make us
     * read (and hash) its body. */
    if (throttled(h, conn, r, r->auth ? auth_pending_access_key_id(r->auth) : "", false, &ret))
        return ret;
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
 * MHD 0.9.75's epoll loop missed a FIN that arrives with the last data bytes
 * (upstream bug #7192, fixed in 0.9.76) and would keep such a connection, and
 * the body buffered so far, until the idle timeout; ccfd now runs MHD's poll
 * loop, and the check, one recv, stays as a guard. */
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

static bool is_write(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* A conditional header's value: NULL when absent, API_HEADER_REPEATED when
 * sent more than once (MHD would hand us the first only). */
struct cond_header {
    const char *name;
    const char *value;
};

static enum MHD_Result find_cond_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    struct cond_header *h = cls;

    (void)kind;
    if (strcasecmp(key, h->name) == 0)
        h->value = h->value ? API_HEADER_REPEATED : (value ? value : "");
    return MHD_YES;
}

static const char *cond_header(struct MHD_Connection *conn, const char *name)
{
    struct cond_header h = {.name = name};

    MHD_get_connection_values(conn, MHD_HEADER_KIND, find_cond_header, &h);
    return h.value;
}

/* GET /readyz, and GET /metrics unless metrics = off; NULL: not ours (the
 * api answers, a 404 for /metrics when off). */
static struct api_response *operator_answer(struct server_http *h, const struct http_req *r)
{
    bool ready = strcmp(r->path, READY_PATH) == 0;
    struct api_response *resp;

    if (!ready && !(h->metrics_on && strcmp(r->path, METRICS_PATH) == 0))
        return NULL;
    resp = ccf_xcalloc(1, sizeof(*resp));
    resp->operation = ready ? server__op_readiness : server__op_metrics;
    if (strcmp(r->method, "GET") != 0) {
        api_error(resp, 405, "Only GET is allowed here");
        resp->headers[0].name = "Allow";
        snprintf(resp->headers[0].value, sizeof(resp->headers[0].value), "GET");
        resp->nheaders = 1;
        return resp;
    }
    if (ready) {
        resp->status = server__metrics_ready(h->metrics, &resp->body, &resp->body_len);
        resp->content_type = "application/json";
    } else if (server__metrics_render(h->metrics, &resp->body, &resp->body_len) < 0) {
        api_error(resp, 500, "Internal error: the metrics could not be rendered");
    } else {
        resp->status = 200;
        resp->content_type = METRICS_TYPE;
    }
    return resp;
}

/* A read, on this HTTP thread. A long poll that found nothing is parked
 * (its connection suspended) rather than answered, until its deadline. */
static enum MHD_Result run_read(struct server_http *h, struct MHD_Connection *conn,
                                struct http_req *r)
{
    struct api_response *resp = ccf_xcalloc(1, sizeof(*resp));
    uint64_t gen;

    for (;;) {
        gen = server__longpoll_gen(&h->lp);
        api_handle(h->api, &r->areq, resp);
        if (resp->wait_seconds <= 0)
            break;
        if (!r->poll_deadline_us)
            r->poll_deadline_us = ccf_mono_us() + (int64_t)resp->wait_seconds * 1000000;
        if (ccf_mono_us() >= r->poll_deadline_us || atomic_load(&h->stopping))
            break;
        if (server__longpoll_park(&h->lp, conn, r, gen)) {
            api_response_clear(resp);
            free(resp);
            return MHD_YES;
        }
        if (!h->lp.started)
            break;
        api_response_clear(resp); /* an event came meanwhile: read again */
        memset(resp, 0, sizeof(*resp));
    }
    return server__http_answer(h, conn, r, resp);
}

/* The whole request is in. */
static enum MHD_Result on_request(struct server_http *h, struct MHD_Connection *conn,
                                  struct http_req *r)
{
    struct api_request req;
    struct api_response *resp;
    enum MHD_Result ret;

    if (r->too_large)
        return server__http_send_error(h, conn, r, 413, MSG_TOO_LARGE);
    if (!authenticate_body(h, conn, r, &ret))
        return ret;
    if (throttled(h, conn, r, r->access_key_id, true, &ret))
        return ret;
    if (open_path(r->path) && (resp = operator_answer(h, r)))
        return server__http_answer(h, conn, r, resp);
    if (server__console_owns(r->path)) {
        struct server_console_answer a;

        server__console_answer(h->console, r->method, r->path, &a);
        free(r->body); /* a console answer has no use for a body */
        r->body = NULL;
        r->len = r->cap = 0;
        return server__http_send_console(h, conn, r, &a);
    }
    memset(&req, 0, sizeof(req));
    req.method = r->method;
    req.target = r->target;
    req.content_type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    req.body = r->body ? r->body : "";
    req.body_len = r->len;
    req.has_body = r->declared > 0 || r->bytes_in > 0;
    req.if_match = cond_header(conn, MHD_HTTP_HEADER_IF_MATCH);
    req.if_none_match = cond_header(conn, MHD_HTTP_HEADER_IF_NONE_MATCH);
    req.tenant = r->tenant;
    req.request_id = r->request_id;
    req.job_id = r->principal_job;
    req.access_key_id = r->access_key_id;
    if (is_write(r->method)) /* reads are never recorded: no lookup */
        server__audit_peer(conn, r);
    req.source_ip = r->source_ip;
    if (h->w.n && is_write(r->method) && server__writers_submit(&h->w, conn, r, &req))
        return MHD_YES;
    r->areq = req;
    r->poll_deadline_us = 0;
    return run_read(h, conn, r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct server_http *h = cls;
    struct http_req *r = *req_cls;

    /* url is decoded by nobody and has lost its query: r->target has both */
    if (!r)
        return MHD_NO; /* on_uri always runs first */
    if (r->shed) {     /* resumed without running: ccfd is stopping */
        r->shed = false;
        return server__http_send_error(h, conn, r, 503, MSG_STOPPING);
    }
    if (r->resp) { /* resumed: a writer has the answer */
        struct api_response *resp = r->resp;

        r->resp = NULL;
        return server__http_answer(h, conn, r, resp);
    }
    if (r->poll_ready) { /* resumed: a parked long poll's events or deadline */
        r->poll_ready = false;
        return run_read(h, conn, r);
    }
    if (!r->method)
        return on_headers(h, conn, r, method, url, version);
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

/* poll, not epoll: libmicrohttpd 0.9.75's MHD_quiesce_daemon on an epoll
 * daemon with worker threads races with the workers' own removal of the
 * listening socket from their epoll sets and aborts the process ("Failed to
 * remove listen FD from epoll set", seen in CI at shutdown). In poll mode
 * quiescing only tells each worker through its ITC. Each of the one-per-CPU
 * workers polls its share of at most connection-limit sockets. */
int server__http_start(struct server_http **out, const struct server_http_config *cfg)
{
    struct server_http *h = ccf_xcalloc(1, sizeof(*h));
    unsigned flags =
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    /* MHD warns about a pool of one: a single internal thread is the same. */
    struct MHD_OptionItem pool[2] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
    struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}};
    const union MHD_DaemonInfo *info;
    int rc;

    server__writers_init(&h->w, cfg->api);
    server__longpoll_init(&h->lp, cfg->store);
    server__audit_init(&h->audit, cfg->store);
    if (cfg->threads > 1)
        pool[0] =
            (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->threads, NULL};
    if ((rc = ccf_tenant_init(&h->tenant, cfg->region, cfg->account_id)) < 0)
        goto fail;
    h->api = cfg->api;
    h->auth = cfg->auth;
    h->tls = cfg->tls;
    h->rl = cfg->ratelimit;
    h->access_log = cfg->access_log;
    h->metrics = cfg->metrics;
    h->metrics_on = cfg->metrics_on;
    h->listen_fd = MHD_INVALID_SOCKET;
    server__console_create(&h->console, cfg->region, cfg->signing_name);
    atomic_init(&h->stopping, false);
    atomic_init(&h->in_flight, 0);
    atomic_init(&h->seq, 0);
    server__writers_start(&h->w, cfg->write_threads);
    server__longpoll_start(&h->lp);
    server__audit_start(&h->audit);
    if (cfg->addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls) {
        flags |= MHD_USE_TLS;
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
                                         (void *)server__http_on_tls_cert};
        tls[1] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)SERVER_TLS_PRIORITIES};
        tls[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    h->d = MHD_start_daemon(
        flags, sockaddr_port(cfg->addr), NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER,
        server__http_on_mhd_log, h, MHD_OPTION_SOCK_ADDR, cfg->addr, MHD_OPTION_ARRAY, pool,
        MHD_OPTION_ARRAY, tls, MHD_OPTION_CONNECTION_LIMIT, cfg->connection_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        CONN_MEMORY_LIMIT, MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_URI_LOG_CALLBACK,
        server__http_on_uri, h, MHD_OPTION_UNESCAPE_CALLBACK, server__http_on_unescape, h,
        MHD_OPTION_NOTIFY_COMPLETED, server__http_on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
        server__http_on_connection, h, MHD_OPTION_END);
    if (!h->d) {
        rc = CCF_EIO; /* MHD's own line says why */
        goto fail;
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return 0;
fail:
    server__audit_stop(&h->audit);
    server__audit_destroy(&h->audit);
    server__longpoll_stop(&h->lp);
    server__longpoll_destroy(&h->lp);
    server__writers_stop(&h->w);
    server__writers_destroy(&h->w);
    server__console_destroy(h->console);
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
    server__longpoll_release(&h->lp); /* parked polls answer now, not after 20 s */
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
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};

    if (!h)
        return;
    server__longpoll_stop(&h->lp); /* MHD must not stop with a connection suspended */
    server__writers_stop(&h->w);
    /* The writers' last answers (and the 503s of what they shed) are queued
     * but maybe not sent: give them up to a second before closing. */
    for (int i = 0; i < 100 && atomic_load(&h->in_flight) > 0; i++)
        nanosleep(&tick, NULL);
    MHD_stop_daemon(h->d);
    if (h->listen_fd != MHD_INVALID_SOCKET)
        close(h->listen_fd);
    server__audit_stop(&h->audit); /* no HTTP thread queues a record any more */
    server__audit_destroy(&h->audit);
    server__writers_destroy(&h->w);
    server__longpoll_destroy(&h->lp);
    server__console_destroy(h->console);
    free(h);
}
