/* api_int.h: what the files of the api module share: the handle, the parsed
 * request, error helpers, query parameters and pagination tokens. */
#ifndef CCF_API_INT_H
#define CCF_API_INT_H

#include <jansson.h>

#include "api/api.h"
#include "core/schedule.h"
#include "core/validate.h"

struct api {
    struct store *store;
    api_read_log_fn read_log;
    void *read_log_ctx;
    unsigned char token_key[32];
    struct ccf_tzdb *tzdb;
    bool own_tzdb;
    void (*schedule_changed)(void *ctx);
    void *schedule_ctx;
    bool webhook_allow_private;
    void (*webhooks_changed)(void *ctx);
    int (*webhook_ping)(void *ctx, const struct ccf_tenant *t, const char *id);
    void *webhook_ctx;
};

#define API__QUERY_MAX 32

/* A query parameter, percent-decoded into owned strings. */
struct api__param {
    char *name;
    char *value;
    bool bad; /* holds a malformed escape or a NUL: unusable */
};

/* The request as the operations see it. */
struct api__call {
    struct api *api;
    const struct api_request *req;
    struct api_response *resp;
    const struct ccf_tenant *tenant;
    const char *connector_id; /* from the path, already pattern-checked */
    const char *job_id;
    const char *webhook_id;
    const char *query_string; /* raw, after the '?' */
    json_t *resp_json;        /* a list response being built by visitors */
    struct api__param query[API__QUERY_MAX];
    size_t nquery;
    bool wake_scheduler; /* after the commit: api__schedule_changed */
    bool wake_webhooks;  /* after the commit: the deliverer re-reads the webhooks */
    json_t *body;        /* the body as a write's pre step parsed it (api__body) */
    bool url_checked;    /* CreateWebhook's URL resolved and allowed by its pre step */
};

typedef void (*api__op_fn)(struct api__call *call);

/* Responses. api__reply takes the reference to body (NULL: no body). */
void api__reply(struct api__call *call, int status, json_t *body);
/* api__reply, then adds "key": raw as the last member of body's one inner
 * object ({"x": {...}}). raw must be JSON text that ccfd wrote itself (a
 * stored, already validated value): it is copied as it is, not parsed. */
void api__reply_with_raw(struct api__call *call, int status, json_t *body, const char *key,
                         const char *raw);
void api__fail(struct api__call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a store error to the contract's error; for CCF_ENOTFOUND the message
 * is "<kind> <id> not found" (kind: "Connector", "Job", ...). */
void api__store_fail(struct api__call *call, int err, const char *kind, const char *id);
/* Parses the body as a JSON object (once: a pre step's parse is reused; each
 * call returns a reference of its own); answers 400 and returns NULL if it
 * is not. */
json_t *api__body(struct api__call *call);

/* Query: percent-decodes target's query into call->query. CCF_EINVAL when
 * there are more than API__QUERY_MAX parameters. */
int api__query_parse(struct api__call *call, const char *query);
void api__query_free(struct api__call *call);
/* The value of a known parameter: 0 and *out NULL when absent; CCF_EINVAL
 * (400 already answered) when given twice, empty or malformed. */
int api__query_get(struct api__call *call, const char *name, const char **out);
/* max_results: default CCF_PAGE_DEFAULT, in [1, max]; 400 answered on error. */
int api__max_results(struct api__call *call, size_t max, size_t *out);
/* Percent-decodes s[0..n) into a new string; NULL if malformed or it holds NUL. */
char *api__pct_decode(const char *s, size_t n, bool plus_is_space);

/* Pagination tokens: an opaque, URL-safe, HMAC-signed wrapping of a store
 * key, bound to the tenant, the list (scope) and its filter. */
char *api__token_encode(const struct api *a, const struct ccf_tenant *t, const char *scope,
                        const char *filter, const char *key);
/* The store key inside token, or NULL (caller frees) if the token is not one
 * this server issued for exactly this tenant, scope and filter. */
char *api__token_decode(const struct api *a, const struct ccf_tenant *t, const char *scope,
                        const char *filter, const char *token);
/* Reads next_token and max_results into *page; 400 answered on error.
 * page->after is owned by the caller (free). */
int api__page(struct api__call *call, const char *scope, const char *filter, size_t max,
              struct store_page *page);
/* Adds "next_token" to out when next (consumed) is not NULL. */
void api__set_next(struct api__call *call, json_t *out, const char *scope, const char *filter,
                   char *next);
/* The operator streams (ListEvents, ListAuditEvents), read on with a
 * cursor: the "after" parameter as the sequence number inside a cursor of
 * scope, -1 when absent; CCF_EINVAL with the 400 answered ("after is not a
 * cursor of <what>"). */
int api__cursor_after(struct api__call *call, const char *scope, const char *what, int64_t *out);
/* Answers 200 {"<key>": items (taken), "next_cursor": a cursor of scope
 * for sequence number next}. */
void api__cursor_reply(struct api__call *call, const char *scope, const char *key, json_t *items,
                       int64_t next);

/* Adds a response header (name static); at most API_HEADERS_MAX. */
void api__header(struct api__call *call, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The job whose own key signed the request (its writes count in that
 * job's stats), or NULL for any other key. */
const char *api__principal_job(const struct api__call *call);

/* The operations. */
void api__create_connector(struct api__call *call);
void api__get_connector(struct api__call *call);
void api__update_connector(struct api__call *call);
void api__list_connectors(struct api__call *call);
void api__delete_connector(struct api__call *call);
void api__start_job(struct api__call *call);
void api__list_jobs(struct api__call *call);
void api__get_job(struct api__call *call);
void api__stop_job(struct api__call *call);
void api__job_logs(struct api__call *call);
void api__put_documents(struct api__call *call);
void api__delete_documents(struct api__call *call);
void api__list_documents(struct api__call *call);
void api__put_checkpoint(struct api__call *call);
void api__get_checkpoint(struct api__call *call);
void api__list_checkpoint_versions(struct api__call *call);
void api__delete_checkpoint(struct api__call *call);
void api__pause_connector(struct api__call *call);
void api__resume_connector(struct api__call *call);
void api__list_events(struct api__call *call);
void api__create_webhook(struct api__call *call);
/* CreateWebhook's URL check, DNS included, before the write's transaction. */
bool api__json_media_type(const char *ct); /* route.c: application/json[; params] */
bool api__create_webhook_pre(struct api__call *call);
void api__list_webhooks(struct api__call *call);
void api__get_webhook(struct api__call *call);
void api__delete_webhook(struct api__call *call);
void api__test_webhook(struct api__call *call);
void api__list_deliveries(struct api__call *call);

/* ops_webhooks.c: an event as ListEvents and webhooks show it. */
json_t *api__event_json(const struct store_event *e);
void api__list_audit_events(struct api__call *call);

/* audit.c: whether the answer in call->resp is one the audit log records
 * (write says the method can change state), and the record of it. */
bool api__audit_recordable(const struct api__call *call, bool write);
void api__audit_fill(const struct api__call *call, struct store_audit *rec);
/* The request's part of its record (who, operation, the path's ids;
 * status 0), known before it runs: a store that must write the record
 * before the effect (DynamoDB) has it then. */
void api__audit_begin(const struct api__call *call, struct store_audit *rec);

/* ops_events.c: the types filter ("a,b", each a known event type) as the
 * store takes it (",a,b,"; *out is the caller's to free). CCF_EINVAL with
 * the offending element (cut) in bad otherwise. */
int api__event_types(const char *in, char **out, char *bad, size_t bad_size);

/* schedule.c: a connector's schedule on create and update. */
/* Applies body's `schedule` (absent: unchanged; null: removed; an object:
 * set on create, merge patch over the stored one on update) to c with
 * c->schedule, c->schedule_anchor and c->next_run_at recomputed at now
 * (seconds). CCF_EINVAL with *d naming the field. */
int api__schedule_apply(struct api *a, const json_t *body, struct ccf_connector *c, int64_t now,
                        struct ccf_diag *d);
/* c->next_run_at for c as it is (schedule, state, paused) at now. */
int api__schedule_next(struct api *a, struct ccf_connector *c, int64_t now);
/* Wakes the scheduler, if there is one. */
/* The scheduler is woken once the request's transaction has committed
 * (before, it would read the store without the change and sleep on). */
void api__schedule_changed(struct api__call *call);

#endif
