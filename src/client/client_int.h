/* client_int.h: libccf's internals, shared by src/client/ and its unit
 * tests. Requests are built and responses parsed by pure functions (no
 * handle, no network), so that tests check both without a server; client.c
 * only moves the bytes. */
#ifndef CCF_CLIENT_INT_H
#define CCF_CLIENT_INT_H

#include <jansson.h>

#include "client/ccf_client.h"

#define CCF_CLIENT__API       "/api/v1"
#define CCF_CLIENT__QUERY_MAX 8

/* A request ready to send. target is path then ?query, already encoded and
 * with the query sorted by name (SigV4's canonical form, which libcurl 7.88
 * does not produce itself). */
struct ccf_client__req {
    const char *method; /* static */
    char *target;       /* owned */
    char *body;         /* owned; NULL: no body */
    size_t body_len;
};
void ccf_client__req_clear(struct ccf_client__req *r);

/* What came back. */
struct ccf_client__resp {
    long status;
    char *body; /* owned, NUL-terminated */
    size_t len;
    size_t cap;
    bool too_large;
    char request_id[128];
    char error_type[CCF_CLIENT_ERROR_TYPE_MAX]; /* x-amzn-ErrorType */
    char content_type[128];
    bool has_log_size;
    int64_t log_size;
    int64_t log_dropped;
    char job_status[16];
    int64_t attempt;  /* x-ccf-job-attempt; 0: none */
    long retry_after; /* seconds; -1: none */
};
void ccf_client__resp_reset(struct ccf_client__resp *r);
void ccf_client__resp_clear(struct ccf_client__resp *r);
/* One raw header line ("Name: value\r\n"), as libcurl hands it over. */
void ccf_client__resp_header(struct ccf_client__resp *r, const char *line, size_t len);

/* ---- errors (error.c) ---- */

/* Fills *err (code, type, formatted message) and returns code. */
int ccf_client__fail(struct ccf_client_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error of a non-2xx answer: the contract's {"message", "errorType"}
 * body, else x-amzn-ErrorType, else a generic "HttpError" naming the status.
 * Returns CCF_CLIENT_EAPI. */
int ccf_client__http_error(const struct ccf_client__resp *r, struct ccf_client_error *err);
/* Copies src (len bytes) into dst (cap bytes, cap > 0) with control
 * characters as '?', cut at a UTF-8 boundary. */
void ccf_client__copy_clean(char *dst, size_t cap, const char *src, size_t len);

/* ---- encoding (request.c) ---- */

/* Percent-encodes every byte but RFC 3986's unreserved ones. */
char *ccf_client__encode(const char *s);

struct ccf_client__pair {
    const char *name; /* static, unreserved characters only */
    char *value;      /* owned, encoded */
};

struct ccf_client__query {
    struct ccf_client__pair p[CCF_CLIENT__QUERY_MAX];
    size_t n;
};
/* A NULL value is skipped. */
int ccf_client__query_add(struct ccf_client__query *q, const char *name, const char *value);
int ccf_client__query_add_int(struct ccf_client__query *q, const char *name, int64_t value);
/* "?a=1&b=2" sorted by name then value, encoded; "" when empty. Clears q. */
char *ccf_client__query_build(struct ccf_client__query *q);
void ccf_client__query_clear(struct ccf_client__query *q);

/* ---- requests (request.c): fill *r, or return CCF_CLIENT_EINVAL with *err ---- */

int ccf_client__build_create_connector(struct ccf_client__req *r,
                                       const struct ccf_client_connector_spec *spec,
                                       struct ccf_client_error *err);
int ccf_client__build_get_connector(struct ccf_client__req *r, const char *connector_id,
                                    struct ccf_client_error *err);
int ccf_client__build_update_connector(struct ccf_client__req *r, const char *connector_id,
                                       const struct ccf_client_connector_update *upd,
                                       struct ccf_client_error *err);
int ccf_client__build_list_connectors(struct ccf_client__req *r, const struct ccf_client_page *pg,
                                      struct ccf_client_error *err);
int ccf_client__build_delete_connector(struct ccf_client__req *r, const char *connector_id,
                                       struct ccf_client_error *err);
int ccf_client__build_start_job(struct ccf_client__req *r, const char *connector_id,
                                const struct ccf_client_env *env, size_t env_len,
                                struct ccf_client_error *err);
int ccf_client__build_list_jobs(struct ccf_client__req *r, const char *connector_id,
                                const char *status, const struct ccf_client_page *pg,
                                struct ccf_client_error *err);
int ccf_client__build_get_job(struct ccf_client__req *r, const char *connector_id,
                              const char *job_id, struct ccf_client_error *err);
int ccf_client__build_stop_job(struct ccf_client__req *r, const char *connector_id,
                               const char *job_id, struct ccf_client_error *err);
int ccf_client__build_job_logs(struct ccf_client__req *r, const char *connector_id,
                               const char *job_id, int attempt, int64_t offset, int64_t limit,
                               struct ccf_client_error *err);
int ccf_client__build_put_documents(struct ccf_client__req *r, const char *connector_id,
                                    const struct ccf_client_document_input *docs, size_t n,
                                    struct ccf_client_error *err);
int ccf_client__build_delete_documents(struct ccf_client__req *r, const char *connector_id,
                                       const char *const *ids, size_t n,
                                       struct ccf_client_error *err);
/* not_seen_by_job: NULL for every document. */
int ccf_client__build_list_documents(struct ccf_client__req *r, const char *connector_id,
                                     const char *not_seen_by_job, const struct ccf_client_page *pg,
                                     struct ccf_client_error *err);
int ccf_client__build_put_checkpoint(struct ccf_client__req *r, const char *connector_id,
                                     const char *data, size_t len, struct ccf_client_error *err);
int ccf_client__build_checkpoint(struct ccf_client__req *r, const char *method,
                                 const char *connector_id, struct ccf_client_error *err);

/* Adds key: v (a new reference it takes; NULL: invalid UTF-8) to the JSON
 * object body of r (ckpt.c). */
int ccf_client__body_add(struct ccf_client__req *r, const char *key, json_t *v,
                         struct ccf_client_error *err);

/* ---- responses (response.c): fill *out, or return CCF_CLIENT_EPROTO with
 * *err naming what is wrong. Never crash on any input. ---- */

/* {"connector": {...}}; with_props: container_properties is required. */
int ccf_client__parse_connector_response(const char *body, size_t len, bool with_props,
                                         struct ccf_client_connector *out,
                                         struct ccf_client_error *err);
int ccf_client__parse_job_response(const char *body, size_t len, struct ccf_client_job *out,
                                   struct ccf_client_error *err);
int ccf_client__parse_checkpoint_response(const char *body, size_t len,
                                          struct ccf_client_checkpoint *out,
                                          struct ccf_client_error *err);
/* An empty body or a JSON object (its content ignored). */
int ccf_client__parse_empty_response(const char *body, size_t len, struct ccf_client_error *err);

/* A list page: {"<key>": [...], "next_token"?}. *items is a new reference. */
int ccf_client__parse_page(const char *body, size_t len, const char *key, json_t **items,
                           char **next_token, struct ccf_client_error *err);
int ccf_client__parse_connector(const json_t *o, bool with_props, struct ccf_client_connector *out,
                                struct ccf_client_error *err);
int ccf_client__parse_job(const json_t *o, struct ccf_client_job *out,
                          struct ccf_client_error *err);
int ccf_client__parse_document(const json_t *o, struct ccf_client_document *out,
                               struct ccf_client_error *err);

int ccf_client__parse_connector_list(const char *body, size_t len,
                                     struct ccf_client_connector_list *out,
                                     struct ccf_client_error *err);
int ccf_client__parse_job_list(const char *body, size_t len, struct ccf_client_job_list *out,
                               struct ccf_client_error *err);
int ccf_client__parse_document_list(const char *body, size_t len,
                                    struct ccf_client_document_list *out,
                                    struct ccf_client_error *err);

/* schedule.c: a schedule as the `schedule` member of a create or update
 * body (a merge patch on update: with remove, JSON null), and the schedule
 * members of a connector answer. */
int ccf_client__schedule_put(json_t *root, const struct ccf_client_schedule *s, bool remove,
                             struct ccf_client_error *err);
int ccf_client__parse_schedule(const json_t *o, struct ccf_client_connector *c,
                               struct ccf_client_error *err);
void ccf_client__schedule_clear(struct ccf_client_connector *c);
int ccf_client__build_pause(struct ccf_client__req *r, const char *connector_id, bool pause,
                            bool stop_active_job, struct ccf_client_error *err);

/* A logs answer: the headers x-ccf-log-size and x-ccf-job-status are
 * required. offset is what was asked for. */
int ccf_client__parse_logs(const struct ccf_client__resp *r, int64_t offset,
                           struct ccf_client_log_chunk *out, struct ccf_client_error *err);

/* ---- transport (client.c) ---- */

/* Sends r. 0 for a 2xx answer in *resp; CCF_CLIENT_EAPI for 4xx/5xx (after
 * retrying 429 and 503 as Retry-After says), CCF_CLIENT_ETRANSPORT,
 * CCF_CLIENT_EPROTO for a reply that is no HTTP the contract allows. The
 * client's last error is set on failure. */
int ccf_client__perform(struct ccf_client *c, const struct ccf_client__req *r,
                        struct ccf_client__resp *resp);
struct ccf_client_error *ccf_client__err(struct ccf_client *c);

/* ---- cursor pages (cursor.c): ListEvents, ListAuditEvents ---- */

/* A list read on with a cursor: its array's member, the EPROTO message for
 * an answer of another shape, and its items' struct. parse_item fills a
 * zeroed item from o (on failure, what it set is cleared by clear_item);
 * clear_item frees what an item holds, not the item. */
struct ccf_client__cursor_list {
    const char *key;      /* "events" */
    const char *not_ours; /* "not a ListEvents answer" */
    size_t item_size;
    int (*parse_item)(const json_t *o, void *item, struct ccf_client_error *err);
    void (*clear_item)(void *item);
};

/* One page: len items of item_size (the public lists' items, len and
 * next_cursor); next_cursor is always set. */
struct ccf_client__cursor_page {
    void *items;
    size_t len;
    char *next_cursor;
};

/* {"<key>": [...], "next_cursor": "..."}: CCF_CLIENT_EPROTO (err says why)
 * or ENOMEM; *out is set, and the caller's, only on success. */
int ccf_client__parse_cursor_page(const char *body, size_t len,
                                  const struct ccf_client__cursor_list *l,
                                  struct ccf_client__cursor_page *out,
                                  struct ccf_client_error *err);
/* Frees what p holds (each item by clear_item) and zeroes it. */
void ccf_client__cursor_page_clear(const struct ccf_client__cursor_list *l,
                                   struct ccf_client__cursor_page *p);
/* GETs path with qs's query (qs is cleared) and parses the page, as
 * ccf_client__perform fails or as above; an EPROTO error carries the
 * answer's status and request id. */
int ccf_client__get_cursor_page(struct ccf_client *c, const char *path,
                                struct ccf_client__query *qs,
                                const struct ccf_client__cursor_list *l,
                                struct ccf_client__cursor_page *out);
/* A copy of o's string member key; NULL when absent, not a string, or out
 * of memory. */
char *ccf_client__dup_member(const json_t *o, const char *key);

/* ---- credentials (credentials.c) ---- */

/* Parses credentials file text (NUL-terminated); name is for messages. */
int ccf_client__credentials_parse(const char *text, const char *name, const char *key_id,
                                  struct ccf_client_credentials *out, struct ccf_client_error *err);
/* Parses AWS shared credentials file text (NUL-terminated; profile.c):
 * profile's section. CCF_CLIENT_ENOTFOUND without that section;
 * CCF_CLIENT_EINVAL for a line that is not INI (err names it) or a section
 * without both keys. name is for messages. */
int ccf_client__shared_parse(const char *text, const char *name, const char *profile,
                             struct ccf_client_credentials *out, struct ccf_client_error *err);
/* Reads a whole file of at most 1 MiB without NUL bytes into *out (the
 * caller's to free). CCF_CLIENT_ENOTFOUND if it does not exist, EIO, EINVAL. */
int ccf_client__read_small_file(const char *path, char **out, struct ccf_client_error *err);
/* Fills *err as ccf_client__fail with "what[:line]: msg" and the error type
 * CredentialsError; returns code. */
int ccf_client__cred_fail(struct ccf_client_error *err, int code, const char *what, size_t line,
                          const char *msg);

#endif
