/* ccf_client.h: libccf, the C client library of the ccf API (CONTRACT.md).
 * One function per contract operation, typed requests and responses, errors
 * that carry the HTTP status, errorType and message, and helpers that page
 * through whole lists. libcurl does the HTTP (one keep-alive connection per
 * client) and signs with its built-in AWS SigV4; jansson reads and writes
 * the JSON. Must not know about the server's internals.
 *
 * Errors: every function that acts returns 0 (or a count) on success, or a
 * negative enum ccf_client_err; the details of the last failure are in
 * ccf_client_last_error(). Out-parameters are set only on success.
 *
 * Ownership: const char * arguments are borrowed for the call. Structs that
 * a call fills own their strings; free them with the matching _clear
 * function (which takes a zeroed struct too). Strings in responses are
 * NUL-terminated UTF-8; an optional field that the server left out is NULL
 * (or its has_ flag is false).
 *
 * Thread rules: a struct ccf_client is used by one thread at a time; use one
 * client per thread. Call ccf_client_global_init once before any thread
 * makes a client (it initialises libcurl). */
#ifndef CCF_CLIENT_H
#define CCF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCF_CLIENT_VERSION          "0.1.0"
#define CCF_CLIENT_DEFAULT_ENDPOINT "http://127.0.0.1:8787"
#define CCF_CLIENT_DEFAULT_REGION   "us-east-1"
#define CCF_CLIENT_DEFAULT_SERVICE  "execute-api"
#define CCF_CLIENT_BATCH_MAX        1000 /* documents per put or delete */
#define CCF_CLIENT_PAGE_MAX         100  /* connectors or jobs per page */
#define CCF_CLIENT_DOC_PAGE_MAX     1000 /* documents per page */
#define CCF_CLIENT_LOG_CHUNK_MAX    (1024 * 1024)
#define CCF_CLIENT_RESPONSE_MAX     (32u * 1024 * 1024) /* larger answers are refused */

enum ccf_client_err {
    CCF_CLIENT_OK = 0,
    CCF_CLIENT_EAPI = -1,       /* the server answered with an error (4xx/5xx) */
    CCF_CLIENT_ETRANSPORT = -2, /* no answer: connection refused, timeout, ... */
    CCF_CLIENT_EPROTO = -3,     /* an answer that breaks the contract: bad JSON, missing field */
    CCF_CLIENT_EINVAL = -4,     /* a bad argument; nothing was sent */
    CCF_CLIENT_ENOTFOUND = -5,  /* credentials: no such file or key */
    CCF_CLIENT_EIO = -6,        /* a local file could not be read */
    CCF_CLIENT_ENOMEM = -7,
};

#define CCF_CLIENT_ERROR_TYPE_MAX 64
#define CCF_CLIENT_MESSAGE_MAX    4096 /* bytes; the contract's 1024 chars fit */

/* What went wrong. error_type is the server's errorType for EAPI, else one of
 * "ConnectionError" (ETRANSPORT), "InvalidResponseError" (EPROTO),
 * "InvalidArgumentError" (EINVAL), "CredentialsError" (ENOTFOUND, and a bad
 * credentials file), "FileError" (EIO), "OutOfMemoryError". Control
 * characters in a server's message are replaced by '?'. */
struct ccf_client_error {
    int code;         /* enum ccf_client_err; 0: no error */
    long http_status; /* 0: no HTTP answer */
    char error_type[CCF_CLIENT_ERROR_TYPE_MAX];
    char message[CCF_CLIENT_MESSAGE_MAX];
    char request_id[128]; /* x-amzn-RequestId, "" when none */
};

/* Initialises libcurl; call once, before threads. CCF_CLIENT_ETRANSPORT if
 * libcurl cannot start. */
int ccf_client_global_init(void);
void ccf_client_global_cleanup(void);

/* ---- the client ---- */

struct ccf_client; /* defined in client/client.c */

struct ccf_client_config {
    const char *endpoint;          /* "http://host:port" (a path prefix is kept); NULL: default */
    const char *region;            /* NULL: CCF_CLIENT_DEFAULT_REGION */
    const char *service;           /* signing name; NULL: CCF_CLIENT_DEFAULT_SERVICE */
    const char *access_key_id;     /* NULL: requests are sent unsigned */
    const char *secret_access_key; /* required with access_key_id */
    const char *session_token;     /* NULL: none; else sent as x-amz-security-token */
    long timeout_ms;               /* per request; 0: 120 s */
    const char *user_agent;        /* NULL: "libccf/VERSION" */
    /* PEM file of the CAs to trust for https:// instead of the system's;
     * NULL: $AWS_CA_BUNDLE if set, else the system's. */
    const char *ca_bundle;
};

/* Strings in cfg are copied. CCF_CLIENT_EINVAL for an endpoint that is not
 * http:// or https://, a region or key with characters SigV4 cannot carry,
 * a key without its secret, or a CA bundle that cannot be read (*err says
 * which); CCF_CLIENT_ETRANSPORT if
 * libcurl cannot make a handle. err may be NULL. */
int ccf_client_create(struct ccf_client **out, const struct ccf_client_config *cfg,
                      struct ccf_client_error *err);
void ccf_client_destroy(struct ccf_client *c);

/* The last failure of an operation on c; lives as long as c, and until the
 * next operation. */
const struct ccf_client_error *ccf_client_last_error(const struct ccf_client *c);

/* Whether requests are signed. */
bool ccf_client_signed(const struct ccf_client *c);

/* ---- credentials ---- */

#define CCF_CLIENT_KEY_ID_MAX 128
#define CCF_CLIENT_SECRET_MAX 128
#define CCF_CLIENT_TOKEN_MAX  2048

struct ccf_client_credentials {
    char access_key_id[CCF_CLIENT_KEY_ID_MAX + 1];
    char secret_access_key[CCF_CLIENT_SECRET_MAX + 1];
    char session_token[CCF_CLIENT_TOKEN_MAX + 1]; /* "" when none */
    char account_id[16];                          /* "" when the source has none */
    char source[64]; /* where they came from: "environment", "file PATH" (cut) */
};

/* Reads a ccfd credentials file (INI: one [access key id] section with
 * secret_access_key, account_id, optional session_token; '#' and ';'
 * comments): the section named key_id, or the first one when key_id is
 * NULL. CCF_CLIENT_ENOTFOUND if the file does not exist or has no such
 * section; CCF_CLIENT_EIO if it cannot be read; CCF_CLIENT_EINVAL if it is
 * malformed (err names the line). err may be NULL. */
int ccf_client_credentials_from_file(const char *path, const char *key_id,
                                     struct ccf_client_credentials *out,
                                     struct ccf_client_error *err);

/* Reads an AWS shared credentials file (INI, as ~/.aws/credentials:
 * [profile] sections with aws_access_key_id, aws_secret_access_key and
 * optional aws_session_token; '#' and ';' comments): the named profile's
 * keys. CCF_CLIENT_ENOTFOUND if the file does not exist or has no such
 * profile; CCF_CLIENT_EIO if it cannot be read; CCF_CLIENT_EINVAL if it is
 * malformed or the profile lacks either key. err may be NULL. */
int ccf_client_credentials_from_shared_file(const char *path, const char *profile,
                                            struct ccf_client_credentials *out,
                                            struct ccf_client_error *err);

/* The default chain after command-line flags, as AWS users expect:
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
 *      skipped when profile is given (an explicit profile outranks them);
 *   2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
 *      $HOME/.aws/credentials), profile `profile`, else $AWS_PROFILE, else
 *      "default"; a profile named either way must be there;
 *   3. the file named by CCF_CREDENTIALS_FILE (which must exist when set),
 *      else ./var/credentials (ccfd's format).
 * key_id, when not NULL, picks that key: its section in a ccfd file, and a
 * source holding another key is passed over. Returns 0;
 * CCF_CLIENT_ENOTFOUND when no source has a key, with a message that lists
 * where it looked (do not send unsigned on that: tell the user); or
 * CCF_CLIENT_EINVAL / CCF_CLIENT_EIO for a broken source (*err says which).
 * Reads the environment: not thread-safe against setenv. */
int ccf_client_credentials_default(const char *profile, const char *key_id,
                                   struct ccf_client_credentials *out,
                                   struct ccf_client_error *err);

/* ---- values ---- */

struct ccf_client_env {
    char *name;
    char *value;
};

/* container_properties. In a request the pointers are borrowed; in a
 * response they are owned by the connector. */
struct ccf_client_container_properties {
    char *image_uri; /* NULL: unset */
    char *execution_role_arn;
    char *job_role_arn;
    bool has_cpu;
    double cpu;
    bool has_memory;
    int64_t memory; /* MiB */
    bool has_timeout;
    int64_t timeout; /* seconds */
    char **command;  /* program and arguments; command_len 0: unset */
    size_t command_len;
    bool has_environment; /* true with environment_len 0: an empty list */
    struct ccf_client_env *environment;
    size_t environment_len;
    char *retry_strategy; /* the retry_strategy object as JSON text; NULL: unset */
};

/* A connector's schedule (CONTRACT-OPS.md "Schedules"). In a request the
 * strings are borrowed and NULL means "not given"; in a response they are
 * owned by the connector and the server has filled in the defaults. */
struct ccf_client_schedule {
    char *expression; /* rate(...), cron(...) or at(...) */
    char *timezone;   /* IANA name */
    char *state;      /* ENABLED or DISABLED */
    bool has_catch_up;
    bool catch_up;
};

struct ccf_client_connector {
    char *connector_id;
    char *arn;
    char *name;
    char *description; /* NULL: none */
    char *status;      /* "AVAILABLE", "IN_USE" */
    char *active_job_id;
    char *created_at;
    char *updated_at;
    bool has_container_properties; /* GetCustomConnector only */
    struct ccf_client_container_properties container_properties;
    bool has_schedule;
    struct ccf_client_schedule schedule;
    char *next_run_at; /* NULL: no run is due */
    bool paused;
};
void ccf_client_connector_clear(struct ccf_client_connector *c);

struct ccf_client_connector_spec {
    const char *name;
    const char *description; /* NULL: none */
    struct ccf_client_container_properties container_properties;
    const struct ccf_client_schedule *schedule; /* NULL: none */
    const char *client_token; /* NULL: none; else a retry returns the first connector */
};

/* Fields an update removes (JSON null in the merge patch). */
enum ccf_client_field {
    CCF_CLIENT_FIELD_DESCRIPTION = 1u << 0,
    CCF_CLIENT_FIELD_IMAGE_URI = 1u << 1,
    CCF_CLIENT_FIELD_EXECUTION_ROLE_ARN = 1u << 2,
    CCF_CLIENT_FIELD_JOB_ROLE_ARN = 1u << 3,
    CCF_CLIENT_FIELD_CPU = 1u << 4,
    CCF_CLIENT_FIELD_MEMORY = 1u << 5,
    CCF_CLIENT_FIELD_TIMEOUT = 1u << 6,
    CCF_CLIENT_FIELD_COMMAND = 1u << 7,
    CCF_CLIENT_FIELD_ENVIRONMENT = 1u << 8,
    CCF_CLIENT_FIELD_RETRY_STRATEGY = 1u << 9,
    CCF_CLIENT_FIELD_SCHEDULE = 1u << 9,
};

/* A merge patch: set fields change, fields in remove are removed, the rest
 * are kept. */
struct ccf_client_connector_update {
    const char *name;        /* NULL: keep */
    const char *description; /* NULL: keep */
    struct ccf_client_container_properties container_properties;
    const struct ccf_client_schedule *schedule; /* NULL: keep; its NULL members: keep */
    unsigned remove;                            /* enum ccf_client_field bits */
};

/* A job's stats (present once it has reached RUNNING): what was done with
 * its own credentials. */
struct ccf_client_job_stats {
    int64_t documents_added;
    int64_t documents_updated;
    int64_t documents_unchanged;
    int64_t documents_deleted;
    int64_t checkpoint_puts;
};

/* One attempt of a job (CONTRACT-OPS.md "Retries"). */
struct ccf_client_attempt {
    int attempt;
    char *started_at;
    char *completed_at; /* NULL: still running */
    bool has_exit_code;
    int exit_code;
    char *reason; /* NULL: none */
};

struct ccf_client_job {
    char *job_id;
    char *connector_id;
    char *status; /* STARTED, RUNNING, STOPPING, SUCCEEDED, FAILED, STOPPED */
    char *created_at;
    char *updated_at;
    char *started_at; /* NULL: not yet */
    char *completed_at;
    char *failure_reason;
    bool has_exit_code;
    int exit_code;
    bool has_stats;
    struct ccf_client_job_stats stats;
    int attempt;                         /* the latest attempt started; 0 before the first */
    char *next_attempt_at;               /* NULL unless waiting between attempts */
    struct ccf_client_attempt *attempts; /* oldest first */
    size_t attempts_len;
    char *trigger;       /* API, SCHEDULE; NULL on jobs from before triggers */
    char *status_reason; /* why a STARTED job waits (capacity); NULL: unset */
};
void ccf_client_job_clear(struct ccf_client_job *j);

/* SUCCEEDED, FAILED or STOPPED. */
bool ccf_client_job_status_terminal(const char *status);

struct ccf_client_document_input {
    const char *document_id;
    const char *checksum;
};

struct ccf_client_document {
    char *document_id;
    char *checksum;
    char *created_at;
    char *updated_at;
};
void ccf_client_document_clear(struct ccf_client_document *d);

struct ccf_client_checkpoint {
    char *connector_id;
    char *data; /* checkpoint_data, data_len bytes (may hold NUL) + a NUL */
    size_t data_len;
    char *created_at;
    char *updated_at;
    int64_t version; /* 0: the server sent none */
};
void ccf_client_checkpoint_clear(struct ccf_client_checkpoint *cp);

/* One page to ask for. */
struct ccf_client_page {
    int max_results;        /* 0: the server's default */
    const char *next_token; /* NULL: the first page */
};

struct ccf_client_connector_list {
    struct ccf_client_connector *items;
    size_t len;
    char *next_token; /* NULL: the last page */
};
void ccf_client_connector_list_clear(struct ccf_client_connector_list *l);

struct ccf_client_job_list {
    struct ccf_client_job *items;
    size_t len;
    char *next_token;
};
void ccf_client_job_list_clear(struct ccf_client_job_list *l);

struct ccf_client_document_list {
    struct ccf_client_document *items;
    size_t len;
    char *next_token;
};
void ccf_client_document_list_clear(struct ccf_client_document_list *l);

/* Part of a job's log. */
struct ccf_client_log_chunk {
    char *data; /* len bytes + a NUL */
    size_t len;
    int64_t start;    /* offset of data's first byte in the whole log */
    int64_t log_size; /* x-ccf-log-size: bytes written so far */
    int64_t dropped;  /* x-ccf-log-truncated: oldest bytes no longer kept; 0: none */
    char job_status[16];
    int attempt; /* x-ccf-job-attempt: the job's latest attempt; 0 when it has not run */
};
void ccf_client_log_chunk_clear(struct ccf_client_log_chunk *l);

/* ---- operations: one per contract operation ---- */

/* CreateCustomConnector. */
int ccf_client_create_connector(struct ccf_client *c, const struct ccf_client_connector_spec *spec,
                                struct ccf_client_connector *out);
/* GetCustomConnector: out has container_properties. */
int ccf_client_get_connector(struct ccf_client *c, const char *connector_id,
                             struct ccf_client_connector *out);
/* UpdateCustomConnector. */
int ccf_client_update_connector(struct ccf_client *c, const char *connector_id,
                                const struct ccf_client_connector_update *upd,
                                struct ccf_client_connector *out);
/* ListCustomConnectors: one page. */
int ccf_client_list_connectors(struct ccf_client *c, const struct ccf_client_page *page,
                               struct ccf_client_connector_list *out);
/* DeleteCustomConnector. */
int ccf_client_delete_connector(struct ccf_client *c, const char *connector_id);
/* PauseCustomConnector: its schedule stops running and starts are refused
 * (409); with stop_active_job its active job is stopped too. Idempotent. */
int ccf_client_pause_connector(struct ccf_client *c, const char *connector_id, bool stop_active_job,
                               struct ccf_client_connector *out);
/* ResumeCustomConnector; idempotent. */
int ccf_client_resume_connector(struct ccf_client *c, const char *connector_id,
                                struct ccf_client_connector *out);

/* StartCustomConnectorJob; env may be NULL with env_len 0. */
int ccf_client_start_job(struct ccf_client *c, const char *connector_id,
                         const struct ccf_client_env *env, size_t env_len,
                         struct ccf_client_job *out);
/* ListCustomConnectorJobs: one page, newest first; status NULL: all. */
int ccf_client_list_jobs(struct ccf_client *c, const char *connector_id, const char *status,
                         const struct ccf_client_page *page, struct ccf_client_job_list *out);
/* GetCustomConnectorJob. */
int ccf_client_get_job(struct ccf_client *c, const char *connector_id, const char *job_id,
                       struct ccf_client_job *out);
/* StopCustomConnectorJob. */
int ccf_client_stop_job(struct ccf_client *c, const char *connector_id, const char *job_id);
/* GetCustomConnectorJobLogs: up to limit bytes (0: the server's 1 MiB) from
 * offset (negative: from the end). */
int ccf_client_get_job_logs(struct ccf_client *c, const char *connector_id, const char *job_id,
                            int64_t offset, int64_t limit, struct ccf_client_log_chunk *out);
/* The same for one attempt's log (attempt 0: the latest). */
int ccf_client_get_job_attempt_logs(struct ccf_client *c, const char *connector_id,
                                    const char *job_id, int attempt, int64_t offset, int64_t limit,
                                    struct ccf_client_log_chunk *out);

/* BatchPutCustomConnectorDocuments: 1..CCF_CLIENT_BATCH_MAX documents. */
int ccf_client_put_documents(struct ccf_client *c, const char *connector_id,
                             const struct ccf_client_document_input *docs, size_t n);
/* BatchDeleteCustomConnectorDocuments: 1..CCF_CLIENT_BATCH_MAX ids. */
int ccf_client_delete_documents(struct ccf_client *c, const char *connector_id,
                                const char *const *ids, size_t n);
/* ListCustomConnectorDocuments: one page, by document_id. */
int ccf_client_list_documents(struct ccf_client *c, const char *connector_id,
                              const struct ccf_client_page *page,
                              struct ccf_client_document_list *out);

/* ListCustomConnectorDocuments?not_seen_by_job=: one page of the documents
 * whose latest put was not made with job_id's credentials. */
int ccf_client_list_documents_not_seen(struct ccf_client *c, const char *connector_id,
                                       const char *job_id, const struct ccf_client_page *page,
                                       struct ccf_client_document_list *out);

/* PutCustomConnectorCheckpoint: len bytes of UTF-8 (NUL allowed). */
int ccf_client_put_checkpoint(struct ccf_client *c, const char *connector_id, const char *data,
                              size_t len);
int ccf_client_get_checkpoint(struct ccf_client *c, const char *connector_id,
                              struct ccf_client_checkpoint *out);
int ccf_client_delete_checkpoint(struct ccf_client *c, const char *connector_id);

/* ---- checkpoint versions and idempotent starts (CONTRACT-OPS.md) ---- */

/* A random client_token (32 hex digits, from /dev/urandom) into out. */
int ccf_client_token_new(char out[33]);

/* StartCustomConnectorJob with client_token (NULL: none): within 24 h the
 * same token and environment return the first job, even if it has ended. */
int ccf_client_start_job_token(struct ccf_client *c, const char *connector_id,
                               const struct ccf_client_env *env, size_t env_len,
                               const char *client_token, struct ccf_client_job *out);

/* PutCustomConnectorCheckpoint, conditional: expected_version -1 writes
 * whatever is there, 0 only if there is no checkpoint, N only if the
 * current version is N (else CCF_CLIENT_EAPI with the server's
 * PreconditionFailedException). *version (may be NULL) gets the new one. */
int ccf_client_put_checkpoint_if(struct ccf_client *c, const char *connector_id, const char *data,
                                 size_t len, int64_t expected_version, int64_t *version);
/* GetCustomConnectorCheckpoint of a kept version (0: the current one). */
int ccf_client_get_checkpoint_version(struct ccf_client *c, const char *connector_id,
                                      int64_t version, struct ccf_client_checkpoint *out);

struct ccf_client_checkpoint_version {
    int64_t version;
    int64_t size;
    char *created_at;
};
struct ccf_client_checkpoint_version_list {
    struct ccf_client_checkpoint_version *items;
    size_t len;
    char *next_token;
};
void ccf_client_checkpoint_version_list_clear(struct ccf_client_checkpoint_version_list *l);
/* ListCustomConnectorCheckpointVersions: one page, newest first. */
int ccf_client_list_checkpoint_versions(struct ccf_client *c, const char *connector_id,
                                        const struct ccf_client_page *page,
                                        struct ccf_client_checkpoint_version_list *out);

/* ---- events (CONTRACT-OPS.md, "Events") ---- */

struct ccf_client_events_query {
    const char *after;        /* a next_cursor; NULL: from the oldest event kept */
    int max_results;          /* 0: the server's default (100); at most 1000 */
    int wait_seconds;         /* 0..20: long poll until there is at least one event */
    const char *connector_id; /* NULL: every connector */
    const char *types;        /* "job.failed,job.succeeded"; NULL: every type */
};
struct ccf_client_event {
    char *event_id, *time, *type, *connector_id;
    char *job_id; /* NULL when the event has none */
    char *detail; /* the detail object as compact JSON text */
};
struct ccf_client_event_list {
    struct ccf_client_event *items;
    size_t len;
    char *next_cursor; /* always set: read on from it */
};
void ccf_client_event_list_clear(struct ccf_client_event_list *l);
/* ListEvents: one page of the tenant's events, oldest first. A long poll
 * needs the client's timeout_ms above wait_seconds. A pruned cursor fails
 * with error type ExpiredCursorException. */
int ccf_client_list_events(struct ccf_client *c, const struct ccf_client_events_query *q,
                           struct ccf_client_event_list *out);

/* ---- webhooks (CONTRACT-OPS.md, "Webhooks") ---- */

struct ccf_client_webhook_create {
    const char *url;          /* http or https */
    const char *event_types;  /* "job.failed,job.succeeded"; NULL: every type */
    const char *description;  /* NULL: none */
    const char *client_token; /* NULL: none */
};
/* The answers are handed over as JSON text (malloc'd; the caller frees):
 * CreateWebhook's and GetWebhook's "webhook" object (the secret only in
 * the create's), the list operations' whole answer ({"webhooks": [...]}
 * or {"deliveries": [...]}, with "next_token" when more exist). An id that
 * is not "wh-" + 12 hex digits is CCF_CLIENT_EINVAL, nothing sent. */
int ccf_client_create_webhook(struct ccf_client *c, const struct ccf_client_webhook_create *in,
                              char **out);
int ccf_client_get_webhook(struct ccf_client *c, const char *webhook_id, char **out);
int ccf_client_delete_webhook(struct ccf_client *c, const char *webhook_id);
/* TestWebhook: a ping is sent at once; the answer does not wait for it. */
int ccf_client_test_webhook(struct ccf_client *c, const char *webhook_id);
int ccf_client_list_webhooks(struct ccf_client *c, const struct ccf_client_page *page, char **out);
/* ListWebhookDeliveries: newest first. */
int ccf_client_list_webhook_deliveries(struct ccf_client *c, const char *webhook_id,
                                       const struct ccf_client_page *page, char **out);
/* ---- the audit log (CONTRACT-OPS.md, "Audit log") ---- */

struct ccf_client_audit_event {
    char *time, *request_id, *operation, *access_key_id;
    char *principal; /* "key" or "job:ccj-..." */
    char *source_ip;
    char *connector_id, *job_id, *error_type; /* NULL when the record has none */
    int status;                               /* the HTTP status answered */
};
struct ccf_client_audit_list {
    struct ccf_client_audit_event *items;
    size_t len;
    char *next_cursor; /* always set: read on from it */
};
void ccf_client_audit_list_clear(struct ccf_client_audit_list *l);
/* ListAuditEvents: one page of the tenant's audit records, oldest first,
 * after the cursor `after` (NULL: from the oldest kept); max_results 0: the
 * server's default (100), at most 1000. A pruned cursor fails with error
 * type ExpiredCursorException. */
int ccf_client_list_audit_events(struct ccf_client *c, const char *after, int max_results,
                                 struct ccf_client_audit_list *out);

/* ---- pagination helpers: every page, one item at a time ---- */

/* How far to go. page_size 0: the largest page the contract allows.
 * max_items 0: all. starting_token: a next_token to resume from. */
struct ccf_client_iter {
    int page_size;
    size_t max_items;
    const char *starting_token;
    /* Out: items delivered, and when max_items stopped the walk with more
     * items left, the token to resume from (free() it); NULL otherwise. */
    size_t count;
    char *next_token;
};

/* A callback gets each item, borrowed for the call. It returns 0 to go on,
 * 1 to stop (the walk then returns 0), or a negative value to abort (the
 * walk returns it). Pages are asked for so that max_items ends on a page
 * boundary: next_token always resumes exactly after the last item. */
typedef int (*ccf_client_connector_fn)(void *ctx, const struct ccf_client_connector *item);
typedef int (*ccf_client_job_fn)(void *ctx, const struct ccf_client_job *item);
typedef int (*ccf_client_document_fn)(void *ctx, const struct ccf_client_document *item);

int ccf_client_each_connector(struct ccf_client *c, struct ccf_client_iter *it,
                              ccf_client_connector_fn fn, void *ctx);
int ccf_client_each_job(struct ccf_client *c, const char *connector_id, const char *status,
                        struct ccf_client_iter *it, ccf_client_job_fn fn, void *ctx);
int ccf_client_each_document(struct ccf_client *c, const char *connector_id,
                             struct ccf_client_iter *it, ccf_client_document_fn fn, void *ctx);
/* Every document job_id did not see (ccf_client_list_documents_not_seen). */
int ccf_client_each_document_not_seen(struct ccf_client *c, const char *connector_id,
                                      const char *job_id, struct ccf_client_iter *it,
                                      ccf_client_document_fn fn, void *ctx);

#endif
