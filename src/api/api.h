/* api.h: the API handler. Turns one HTTP request (a plain struct, no socket)
 * into one response and store calls: routing, validation, the contract's
 * errors, pagination tokens. Must not know about sockets, SQL or processes.
 *
 * Thread rules: one struct api is shared by all transport threads;
 * api_handle is thread-safe. */
#ifndef CCF_API_H
#define CCF_API_H

#include "core/core.h"
#include "store/store.h"

struct api; /* defined in api/api.c */

/* Reads one attempt's log (the executor's executor_read_attempt_log;
 * attempt 0: the latest): up to len bytes
 * from offset (negative: from the end) into buf; *size gets the bytes
 * written so far, *dropped those the cap dropped. Returns the count, or
 * CCF_ENOTFOUND when the job has no log yet. */
typedef int (*api_read_log_fn)(void *ctx, const char *job_id, int attempt, int64_t offset,
                               char *buf, size_t len, int64_t *size, int64_t *dropped);

struct ccf_tzdb;

struct api_config {
    struct store *store;   /* borrowed; outlives the api */
    struct ccf_tzdb *tzdb; /* borrowed; NULL: the api opens the system's own */
    /* Called after a write that may move the earliest due run (a schedule
     * set, changed or removed, a pause, a resume): wakes the scheduler.
     * NULL: nothing to wake. Must not block. */
    void (*schedule_changed)(void *ctx);
    void *schedule_ctx;
    api_read_log_fn read_log; /* NULL: the logs operation answers with an empty log */
    void *read_log_ctx;
    /* Webhooks: whether a URL may name a private address
     * (webhook-allow-private); the deliverer's wake after a create or a
     * delete, and its ping for the test operation (must not block; NULL:
     * no deliverer, the test answers 503). */
    bool webhook_allow_private;
    void (*webhooks_changed)(void *ctx);
    int (*webhook_ping)(void *ctx, const struct ccf_tenant *t, const char *id);
    void *webhook_ctx;
};

/* CCF_EIO if the store cannot give its token secret or the zone database
 * cannot be opened. */
int api_create(struct api **out, const struct api_config *cfg);
void api_destroy(struct api *a);

/* The i-th operation name the router can answer with (0, 1, ... until
 * NULL): the bounded set of api_response.operation values, which are these
 * very pointers. Static. */
const char *api_operation_name(size_t i);

/* One request. Every pointer is borrowed for the call. */
struct api_request {
    const char *method;       /* "GET", "POST", ... */
    const char *target;       /* raw request-target as received: path, then ?query */
    const char *content_type; /* NULL when the header is absent */
    const char *body;         /* the whole body (the transport enforces CCF_BODY_MAX) */
    size_t body_len;
    bool has_body; /* a Content-Length > 0 or a chunked body was sent */
    /* Conditional-write headers, NULL when absent; API_HEADER_REPEATED
     * when the header was sent more than once. */
    const char *if_match;
    const char *if_none_match;
    struct ccf_tenant tenant;
    const char *request_id;
    /* The job whose own credentials signed the request (auth's principal),
     * NULL or "" for any other key: its writes count in that job's stats. */
    const char *job_id;
    /* For the audit record: the signer's access key id ("" or NULL with
     * auth = none) and the client's address as text. */
    const char *access_key_id;
    const char *source_ip;
};

/* What the transport passes for a conditional header sent twice. */
extern const char API_HEADER_REPEATED[];

#define API_HEADERS_MAX 6

struct api_header {
    const char *name; /* static */
    char value[128];
};

/* One response. api_response_clear frees what it owns. */
struct api_response {
    int status;
    char *body; /* owned, NUL-terminated; NULL for no body */
    size_t body_len;
    const char *content_type; /* static; NULL with no body */
    const char *error_type;   /* static; set on errors (the x-amzn-ErrorType header) */
    struct api_header headers[API_HEADERS_MAX]; /* extra headers, e.g. Allow */
    size_t nheaders;
    /* For the request log line. */
    const char *operation; /* static, e.g. "GetCustomConnector"; NULL when unrouted */
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    char job_id[CCF_JOB_ID_LEN + 1];
    /* A long poll (ListEvents' wait_seconds) that found nothing: the
     * transport may hold the request for up to this many seconds and
     * handle it again when events are committed (store_set_event_hook);
     * the response as it is stays a correct answer. 0: send it now. */
    int wait_seconds;
};

/* An event as ListEvents shows it and webhooks receive it: compact JSON,
 * malloc'd (never NULL). */
char *api_event_text(const struct store_event *e);

/* Always fills *resp, with an error response when something fails. A
 * request that can change state (any method but GET and HEAD) runs in one
 * store transaction with its audit record (store_audited_write), so that
 * the record of an operation, whatever it is, cannot be forgotten: every
 * answered 2xx, 403, 409 and 429 of a routed operation is recorded with its
 * effect, or nothing is kept and the answer is a 5xx. */
void api_handle(struct api *a, const struct api_request *req, struct api_response *resp);

/* The operation a request would reach (one of api_operation_name's
 * pointers), or NULL for no route, with the ids its path names ("" when
 * none): what the transport records for a request refused before the api
 * runs (a 403 or a 429). Never reads the store. */
const char *api_operation_of(const char *method, const char *target,
                             char connector_id[CCF_CONNECTOR_ID_LEN + 1],
                             char job_id[CCF_JOB_ID_LEN + 1]);

/* Fills rec (but its status and error_type) from a request the transport
 * refused: tenant, request id, key, principal, address, operation, ids. */
struct store_audit;
void api_audit_refused(const struct api_request *req, struct store_audit *rec);
void api_response_clear(struct api_response *resp);

/* An error response in the contract's shape (used by the transport for 413,
 * 503 and the like). status must be one of the contract's table. */
void api_error(struct api_response *resp, int status, const char *message);
/* The same with an errorType of the caller's (static; one of the contract's
 * for status): the transport's 403s, whose type the status does not tell. */
void api_error_typed(struct api_response *resp, int status, const char *error_type,
                     const char *message);

#endif
