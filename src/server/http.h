/* http.h (private to server/): the libmicrohttpd transport. Turns each HTTP
 * request into a struct api_request, calls api_handle, and sends the
 * response; enforces the body limit, refuses ambiguous framing (conflicting
 * Content-Length, Transfer-Encoding with Content-Length) and a NUL byte in the
 * request-target with 400, authenticates every request but the open ones
 * (GET /healthz, /readyz, /metrics and the web console's files, console.h)
 * (SigV4: the headers before any body byte is read, the signature once the
 * body is in; the signer's account is the request's tenant), applies the
 * rate limit per access key (429 ThrottlingException with Retry-After: a
 * look once the key is known, before the body; a token spent once the
 * signature holds), stamps every
 * response it builds with x-amzn-RequestId and writes one log line per
 * request.
 * Memory per connection: libmicrohttpd's 64 KiB pool (request line and
 * headers must fit in it, less room for the response header: a longer URI gets
 * its 414, longer headers its 431), two copies of the request-target (each
 * under 64 KiB), auth's pending state (the canonical request: at most three
 * times the pool, as percent-encoding triples a byte) and the body (at most
 * CCF_BODY_MAX + 1 bytes). A write waiting for a writer thread keeps its body
 * and its connection suspended: still one request per connection.
 * Thread rules: start, quiesce and stop run on the main thread; in_flight may
 * be called from any thread. Reads run on libmicrohttpd's worker threads,
 * writes on the transport's writer threads (see http.c). */
#ifndef CCF_SERVER_HTTP_H
#define CCF_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "api/api.h"
#include "auth/auth.h"
#include "core/core.h"
#include "core/ratelimit.h"
#include "server/tls.h"

struct server_metrics;

struct server_http; /* defined in server/http.c */

struct server_http_config {
    const struct sockaddr *addr; /* IPv4 or IPv6; copied by libmicrohttpd at start */
    unsigned threads;
    unsigned write_threads; /* 0: writes run on the HTTP threads */
    unsigned connection_limit;
    unsigned connection_timeout;     /* seconds */
    struct api *api;                 /* borrowed; outlives the transport */
    struct auth *auth;               /* borrowed, outlives the transport; NULL: auth = none */
    struct ccf_ratelimit *ratelimit; /* borrowed, outlives the transport; NULL: no limit */
    const char *region;              /* with auth = none, the tenant of every request */
    const char *account_id;
    const char *signing_name;       /* the SigV4 service name, for the console's config.json */
    struct server_tls *tls;         /* borrowed, outlives the transport; NULL: plain HTTP */
    bool access_log;                /* a line per request at info (access-log) */
    struct server_metrics *metrics; /* borrowed, outlives the transport: /readyz, /metrics */
    bool metrics_on;                /* metrics = on: count requests, serve /metrics */
    struct store *store;            /* borrowed, outlives the transport: its event hook wakes
                                     * long polls; NULL: polls answer at once */
};

/* Binds and starts the worker threads. CCF_EINVAL if region or account_id is
 * not valid, CCF_EIO if libmicrohttpd cannot start (bind failure: its own
 * log line says why). */
int server__http_start(struct server_http **out, const struct server_http_config *cfg);

/* The port actually bound (useful with port 0). */
unsigned server__http_port(struct server_http *h);

/* Stops accepting connections (the listening socket is closed) and answers
 * every request whose headers arrive from now on with 503 and Connection:
 * close. Requests already past their headers run to their end. */
void server__http_quiesce(struct server_http *h);

/* Requests whose headers are in and which have not finished (response sent
 * or connection gone). A request still sending its headers is not counted:
 * nothing has been done for it yet, and MHD 0.9.75 may keep a connection
 * whose client left mid-headers until the idle timeout. */
size_t server__http_in_flight(struct server_http *h);

/* Closes every connection, waits for the worker threads and frees h; a
 * request still running is cut. Takes NULL. */
void server__http_stop(struct server_http *h);

#endif
