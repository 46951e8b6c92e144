/* backend_int.h: what a store backend gives the dispatcher (store.c), and
 * what every backend shares: the handle's common part (its backend, the
 * token secret, the change and event hooks) and the keys and page tokens of
 * keys.c. A backend lives in its own folder (sqlite/, postgres/) and knows
 * nothing of the others; store_open picks one by store_config's url.
 *
 * Every operation has the meaning, errors and ownership of the store_*
 * function of the same name in store.h (put_checkpoint, put_checkpoint_by
 * and get_checkpoint are the dispatcher's, through put_checkpoint_if and
 * get_checkpoint_version). The dispatcher has checked what
 * every backend would check before its transaction (ids that cannot
 * name a row: CCF_ENOTFOUND; pages, limits: CCF_EINVAL) where its store_*
 * says so in store.c; the operation does not check them again. A NULL
 * operation is one this
 * backend does not have yet: the call logs store.not_implemented and fails
 * with CCF_EIO (docs/DECISIONS.md lists them for PostgreSQL).
 *
 * Thread rules: as store.h. A backend's handle begins with a struct store
 * (store__base_init), so that the dispatcher reaches ops and hooks. */
#ifndef CCF_STORE_BACKEND_INT_H
#define CCF_STORE_BACKEND_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

struct store__backend;

#define STORE__ALL_STATUSES ((1u << CCF_JOB_STATUS_COUNT) - 1)

/* A page of a keyset listing by (created_at, id) as the dispatcher decoded
 * it (store__keyset_parse): connectors, webhooks, a connector's jobs. */
struct store__keyset {
    size_t limit;      /* 1..1000 */
    const char *after; /* the page key; NULL on the first page */
    /* The first page's: -1 (before every row) listing oldest first,
     * INT64_MAX (after every row) newest first. */
    int64_t after_at;
    char after_id[CCF_JOB_ID_LEN + 1]; /* the longest id kept; "" on the first page */
};

/* A page of a connector's jobs: its key, and the mask checked. */
struct store__job_page {
    unsigned mask; /* the statuses listed: never 0 */
    struct store__keyset k;
};

/* The part of every handle the dispatcher owns. */
struct store {
    const struct store__backend *ops;
    unsigned char secret[32]; /* set by the backend's open */
    void (*hook)(void *ctx);  /* set before other threads call in */
    void *hook_ctx;
    /* Set and unset while writers run (the transport comes and goes
     * before the orchestrator): guarded, and called under the lock, so that
     * once unset no call is left running. */
    pthread_mutex_t event_mu;
    void (*event_hook)(void *ctx);
    void *event_hook_ctx;
    void (*webhook_hook)(void *ctx); /* the same rules, for the webhook deliverer */
    void *webhook_hook_ctx;
};

/* A page of a connector's checkpoint versions, newest first. */
struct store__version_page {
    size_t limit;   /* 1..1000 */
    int64_t before; /* the page key's version; INT64_MAX on the first page */
};

struct store__backend {
    const char *name;
    /* cfg->url chose this backend. */
    int (*open)(struct store **out, const struct store_config *cfg);
    void (*close)(struct store *s);
    int (*ping)(struct store *s);
    /* NULL: this backend's store has one process (always the leader). */
    int (*leader_poll)(struct store *s, int wait_ms, bool *woken);
    int (*writable)(struct store *s, const char **why);
    void (*get_metrics)(struct store *s, struct store_metrics *out);
    int (*count_unfinished_jobs)(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT]);
    int (*create_connector)(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c);
    int (*get_connector)(struct store *s, const struct ccf_tenant *t, const char *id,
                         struct ccf_connector *out);
    int (*list_connectors)(struct store *s, const struct ccf_tenant *t,
                           const struct store__keyset *p, store_connector_fn visit, void *ctx,
                           char **next);
    /* c: as written, like set_paused's. */
    int (*update_connector)(struct store *s, const struct ccf_tenant *t,
                            const struct ccf_connector *c, int64_t expected_version);
    int (*delete_connector)(struct store *s, const struct ccf_tenant *t, const char *id);
    /* c: the connector as written (updated_at the write's time, version
     * expected_version + 1); the dispatcher refreshes the caller's. */
    int (*set_paused)(struct store *s, const struct ccf_tenant *t, const struct ccf_connector *c,
                      int64_t expected_version);
    int (*schedule_head)(struct store *s, int64_t *out);
    int (*due_schedules)(struct store *s, int64_t until, struct store_due *out, size_t max);
    /* j: store__job_init's (trigger SCHEDULE), started when f->start; 1
     * when it started (with its id and times), 0 when not. */
    int (*fire_schedule)(struct store *s, const struct store_fire *f, struct ccf_job *j);
    /* j: store__job_init's; on success it has its id and times. */
    int (*start_job)(struct store *s, const struct ccf_tenant *t, struct ccf_job *j);
    int (*get_job)(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                   const char *job_id, struct ccf_job *out);
    int (*list_jobs)(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                     const struct store__job_page *q, store_job_fn visit, void *ctx, char **next);
    int (*transition_job)(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                          const char *job_id, const struct store_transition *tr,
                          struct ccf_job *out);
    int (*set_job_status_reason)(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, const char *job_id, const char *reason);
    int (*put_documents)(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const struct ccf_document *docs, size_t n);
    int (*delete_documents)(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const char *const *ids, size_t n);
    int (*list_documents)(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                          const struct store_page *p, store_document_fn visit, void *ctx,
                          char **next);
    int (*put_documents_by)(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const char *job_id, const struct ccf_document *docs, size_t n);
    int (*delete_documents_by)(struct store *s, const struct ccf_tenant *t,
                               const char *connector_id, const char *job_id, const char *const *ids,
                               size_t n);
    int (*list_documents_not_seen)(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const char *job_id,
                                   const struct store_page *p, store_document_fn visit, void *ctx,
                                   char **next);
    int (*delete_checkpoint)(struct store *s, const struct ccf_tenant *t, const char *connector_id);
    int (*put_checkpoint_if)(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                             const char *job_id, const char *data, size_t len, int64_t expect,
                             int64_t *version);
    int (*get_checkpoint_version)(struct store *s, const struct ccf_tenant *t,
                                  const char *connector_id, int64_t version,
                                  struct ccf_checkpoint *out);
    int (*list_checkpoint_versions)(struct store *s, const struct ccf_tenant *t,
                                    const char *connector_id, const struct store__version_page *p,
                                    store_cp_version_fn visit, void *ctx, char **next);
    /* tok: checked, and its now set. */
    int (*create_connector_token)(struct store *s, const struct ccf_tenant *t,
                                  struct ccf_connector *c, const struct store_token *tok);
    /* j: store__job_init's; tok: as create_connector_token's. */
    int (*start_job_token)(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                           const struct store_token *tok, struct ccf_job *out);
    int (*purge_tokens)(struct store *s, int64_t before);
    int (*read_changes)(struct store *s, int64_t after_seq, struct store_change *out, size_t max);
    int (*read_connector_changes)(struct store *s, int64_t after_seq,
                                  struct store_connector_change *out, size_t max, int64_t *upto);
    int (*cursor_get)(struct store *s, const char *consumer, int64_t *seq);
    int (*cursor_set)(struct store *s, const char *consumer, int64_t seq);
    int (*unfinished_jobs)(struct store *s, struct store_job_ref **out, size_t *n);
    /* NULL where the store is not shared (store.h, "Replicas"). */
    int (*replica_heartbeat)(struct store *s, const struct store_replica *r);
    int (*assign_jobs)(struct store *s, int64_t live_us, int max);
    int (*runner_jobs)(struct store *s, const char *runner, struct store_job_ref **out, size_t *n);
    int (*lost_jobs)(struct store *s, int64_t live_us, struct store_job_ref **out, size_t *n);
    int (*unassign_job)(struct store *s, const char *job_id, const char *runner);
    int (*purge_jobs)(struct store *s, int64_t ended_before, struct store_job_ref *out, size_t max);
    int (*prune_changes)(struct store *s, int64_t upto, int64_t before);
    int (*read_events)(struct store *s, const struct ccf_tenant *t,
                       const struct store_event_query *q, struct store_event *out, int64_t *next);
    int (*audited_write)(struct store *s, int (*fn)(void *ctx, struct store_audit *rec), void *ctx,
                         struct store_audit *rec);
    int (*audit_append)(struct store *s, const struct store_audit *recs, size_t n);
    int (*read_audit)(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                      struct store_audit *out, int64_t *next);
    int (*prune_audit)(struct store *s, int64_t before);
    /* w: the webhook to insert, its tenant and created_at set (strings
     * borrowed); NEW with w's id, secret and start_seq filled, or REPLAY
     * with w->id the token's webhook. tok (NULL: none): checked, now set. */
    int (*create_webhook)(struct store *s, const struct ccf_tenant *t, struct store_webhook *w,
                          const struct store_token *tok);
    int (*get_webhook)(struct store *s, const struct ccf_tenant *t, const char *id,
                       struct store_webhook *out);
    int (*list_webhooks)(struct store *s, const struct ccf_tenant *t, const struct store__keyset *p,
                         store_webhook_fn visit, void *ctx, char **next);
    int (*delete_webhook)(struct store *s, const struct ccf_tenant *t, const char *id);
    int (*all_webhooks)(struct store *s, store_webhook_fn visit, void *ctx);
    int (*webhook_head)(struct store *s, const struct store_webhook *w, struct store_event *ev,
                        struct store_delivery *d);
    int (*webhook_record)(struct store *s, const char *id, const struct store_delivery *d);
    int (*list_deliveries)(struct store *s, const struct ccf_tenant *t, const char *id,
                           const struct store_page *p, store_delivery_fn visit, void *ctx,
                           char **next);
    /* What replicas share (store.h); NULL in a backend of one process. */
    int (*append_job_log)(struct store *s, const char *job_id, int attempt, int64_t offset,
                          const char *data, size_t len, int64_t cap);
    int (*job_log_end)(struct store *s, const char *job_id, int attempt, int64_t *end);
    int (*read_job_log)(struct store *s, const char *job_id, int attempt, int64_t offset, char *buf,
                        size_t len, int64_t *size, int64_t *dropped);
    int (*webhook_ping)(struct store *s, const struct ccf_tenant *t, const char *id);
    int (*take_webhook_pings)(struct store *s, struct store_ping *out, size_t max);
};

extern const struct store__backend store__backend_sqlite;   /* sqlite/sqlite.c */
extern const struct store__backend store__backend_postgres; /* postgres/pg.c */
extern const struct store__backend store__backend_dynamodb; /* dynamodb/ddb.c */

/* A backend's open sets up s's common part first, its close ends it last. */
void store__base_init(struct store *s, const struct store__backend *ops);
void store__base_destroy(struct store *s);
/* After a commit that wrote change rows (jobs) or any event row: calls the
 * change hook (if jobs, and one is set) and the event hook. */
void store__notify(struct store *s, bool jobs);
/* What a NULL operation returns: CCF_EIO, logged. */
int store__missing(struct store *s, const char *op);

/* records.c: c as a create makes it: AVAILABLE, no job, created and
 * updated at now, version 1, and id unless NULL (a connector id). */
void store__connector_made(struct ccf_connector *c, const char *id, int64_t now);
/* records.c: a scheduled run's event data, {due_at, job_id?, reason?};
 * NULL when out of memory. */
json_t *store__fire_data(const struct store_fire *f, const char *job_id, const char *reason);
/* transition.c: the job a start inserts: STARTED, now, with
 * connector_id (valid) and environment borrowed, no id yet (the backend
 * gives it one). After the start, store__job_give hands it to out with its
 * own copy of the environment; out NULL: nothing to give, nothing owned. */
void store__job_init(struct ccf_job *j, const char *connector_id, enum ccf_job_trigger trigger,
                     const char *environment);
void store__job_give(struct ccf_job *j, struct ccf_job *out);
/* transition.c: applies tr to *j in memory (status, times, attempts, exit
 * code, reasons), as a backend then writes it; now is the write's time. The
 * caller has checked that tr may move j. */
void store__apply_transition(struct ccf_job *j, const struct store_transition *tr, int64_t now);
/* The event type of a job's change row: job.started for its insert
 * (old_status -1), else job.<its new status>. */
const char *store__job_event_type(int old_status, enum ccf_job_status to);

/* keys.c: the strings every backend makes and parses. Page keys come back
 * from clients (through signed tokens, but still): every parser is strict. */

/* "region:account_id" as stored in the tenant columns. */
#define STORE__TENANT_KEY_MAX (CCF_REGION_MAX + 1 + CCF_ACCOUNT_ID_LEN + 1)

/* tokens.c: the answer of a create or a start with a client_token once the
 * backend's transaction is done (replay: the token had made one before;
 * id: the record made now or then; j: the job the start built, its
 * environment still borrowed). Returns STORE_TOKEN_NEW, _REPLAY or _GONE,
 * or an error of the read back. */
int store__connector_token_outcome(struct store *s, const struct ccf_tenant *t,
                                   struct ccf_connector *c, bool replay,
                                   const char id[CCF_CONNECTOR_ID_LEN + 1], int64_t now);
int store__job_token_outcome(struct store *s, const struct ccf_tenant *t, bool replay,
                             const char job_id[CCF_JOB_ID_LEN + 1], struct ccf_job *j,
                             struct ccf_job *out);
/* A webhook's replay: w cleared, then the token's webhook id as it is now
 * (STORE_TOKEN_REPLAY) or only its id (STORE_TOKEN_GONE). */
int store__webhook_token_outcome(struct store *s, const struct ccf_tenant *t,
                                 struct store_webhook *w, const char *id);
void store__tenant_key(const struct ccf_tenant *t, char out[STORE__TENANT_KEY_MAX]);
int store__tenant_parse(const char *key, struct ccf_tenant *out);
/* CCF_EINVAL unless p is set and its limit is 1..1000. */
int store__page_check(const struct store_page *p);
/* p checked and its key (ids by id_valid) parsed into *out; first_at: the
 * first page's after_at. CCF_EINVAL for a bad page. */
int store__keyset_parse(const struct store_page *p, bool (*id_valid)(const char *),
                        int64_t first_at, struct store__keyset *out);
/* Page keys of connectors and jobs: "<created_at as 16 hex digits>:<id>". */
char *store__key_format(int64_t created_at, const char *id);
int store__key_parse(const char *key, bool (*id_valid)(const char *), int64_t *created_at, char *id,
                     size_t id_size);
/* A new webhook's id ("wh-" + 12 hex) and secret ("whsec_" + 32 random
 * bytes in base64url, 43 chars). */
int store__webhook_new(char id[STORE_WEBHOOK_ID_LEN + 1],
                       char secret[STORE_WEBHOOK_SECRET_LEN + 1]);
/* A document id as a page key: 1..512 code points of UTF-8, no controls. */
bool store__doc_key_valid(const char *key);
/* Bytes taken by the first max_chars code points of UTF-8 text s. */
size_t store__utf8_prefix(const char *s, size_t max_chars);

#endif
