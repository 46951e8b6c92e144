/* sqlite_int.h: private helpers of the SQLite backend, for the files of
 * src/store/sqlite/ only.
 *
 * Three layers, each calling only the ones below it (never up, so a write
 * goes down once and returns, instead of bouncing between files):
 *   group commit (group.c)      store__write: batches, savepoints, metrics
 *     -> connection (sqlite.c)  the handle, per-thread connections, reopen,
 *                               commit + hooks (store__commit)
 *       -> statements (exec.c)  error mapping, the statement cache, BEGIN,
 *                               COMMIT, ROLLBACK, binding and columns
 * The statement layer reads what it needs of its handle (is it open yet,
 * where to probe the file system) from a struct store__conn_env the
 * connection layer hands it, and flags an I/O-class error there; it calls
 * nothing above it. The domain files (connectors.c, jobs.c, ...) sit on
 * top and may use all three.
 *
 * Thread rules: a struct store__conn belongs to one thread; only the thread
 * that got it from store__conn uses it. */
#ifndef CCF_STORE_SQLITE_INT_H
#define CCF_STORE_SQLITE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/histo.h"
#include "store/backend_int.h"
#include "store/store.h"

/* One slot per cached statement; the SQL text stays at the call site. */
enum store__q {
    STORE__Q_BEGIN,
    STORE__Q_COMMIT,
    STORE__Q_ROLLBACK,
    STORE__Q_SAVEPOINT,
    STORE__Q_ROLLBACK_TO,
    STORE__Q_RELEASE,
    STORE__Q_PING,
    STORE__Q_CONN_INSERT,
    STORE__Q_CONN_GET,
    STORE__Q_CONN_STATUS,
    STORE__Q_CONN_LIST,
    STORE__Q_CONN_UPDATE,
    STORE__Q_CONN_DELETE,
    STORE__Q_JOB_ID_TAKEN,
    STORE__Q_JOB_CLAIM,
    STORE__Q_JOB_INSERT,
    STORE__Q_JOB_GET,
    STORE__Q_JOB_LIST_ALL,
    STORE__Q_JOB_LIST_ONE,
    STORE__Q_JOB_LIST_MASK,
    STORE__Q_JOB_UPDATE,
    STORE__Q_JOB_RELEASE,
    STORE__Q_JOB_STATUS_REASON,
    STORE__Q_DOC_PUT,
    STORE__Q_DOC_DELETE,
    STORE__Q_DOC_LIST,
    STORE__Q_CP_PUT,
    STORE__Q_CP_GET,
    STORE__Q_CP_DELETE,
    STORE__Q_CHANGE_INSERT,
    STORE__Q_CHANGE_READ,
    STORE__Q_CONNECTOR_CHANGE_READ,
    STORE__Q_CHANGE_END,
    STORE__Q_CURSOR_GET,
    STORE__Q_CURSOR_SET,
    STORE__Q_JOB_UNFINISHED,
    STORE__Q_JOB_PURGE_PICK,
    STORE__Q_JOB_PURGE,
    STORE__Q_CHANGE_PRUNE,
    STORE__Q_CHANGE_BLANK,
    STORE__Q_EVENT_PRUNED,
    STORE__Q_EVENT_LAST,
    STORE__Q_EVENT_READ,
    STORE__Q_EVENT_YOUNG,
    STORE__Q_EVENT_MARK,
    STORE__Q_EVENT_KEPT,
    /* docstats.c */
    STORE__Q_STATS_SEQ,
    STORE__Q_STATS_NEW,
    STORE__Q_STATS_ADD,
    STORE__Q_STATS_GET,
    STORE__Q_UNSEEN_JOB,
    STORE__Q_DOC_CHECKSUM,
    STORE__Q_UNSEEN_VALUE,
    STORE__Q_UNSEEN_GROUP,
    STORE__Q_SCHED_PAUSE,
    STORE__Q_SCHED_NEXT,
    STORE__Q_SCHED_DUE,
    STORE__Q_SCHED_ADVANCE,
    STORE__Q_DOC_RANGE,
    STORE__Q_DOC_KEEP,
    STORE__Q_CP_CURRENT,
    STORE__Q_CP_KEEP,
    STORE__Q_CP_TRIM,
    STORE__Q_CP_PUT_V,
    STORE__Q_CP_GET_V,
    STORE__Q_CP_LIST_V,
    STORE__Q_CP_DELETE_V,
    STORE__Q_TOKEN_GET,
    STORE__Q_TOKEN_PUT,
    STORE__Q_TOKEN_PURGE,
    STORE__Q_JOBS_UNFINISHED,
    /* webhooks.c */
    STORE__Q_WH_INSERT,
    STORE__Q_WH_COUNT,
    STORE__Q_WH_GET,
    STORE__Q_WH_LIST,
    STORE__Q_WH_ALL,
    STORE__Q_WH_DELETE,
    STORE__Q_WH_END,
    STORE__Q_WH_HEAD,
    STORE__Q_WH_EXISTS,
    STORE__Q_WH_RECORD,
    STORE__Q_WH_ADVANCE,
    STORE__Q_WH_DELIVERIES,
    STORE__Q_WH_PRUNE,
    /* audit.c */
    STORE__Q_AUDIT_INSERT,
    STORE__Q_AUDIT_PRUNED,
    STORE__Q_AUDIT_LAST,
    STORE__Q_AUDIT_READ,
    STORE__Q_AUDIT_YOUNG,
    STORE__Q_AUDIT_PRUNE,
    STORE__Q_AUDIT_BLANK,
    STORE__Q_AUDIT_MARK,
    STORE__Q_COUNT
};

/* What the statement layer needs of its handle (see the top comment). */
struct store__conn_env {
    const char *probe;   /* a file beside the database: store__probe_read_only */
    atomic_bool ready;   /* store_open has returned: an error answers 503, not exit */
    atomic_bool suspect; /* an I/O-class error since the last reopen */
};

/* A thread's connection, linked in its store's list (under the store's
 * mutex) so that store_close can close the connections of live threads. */
struct store__conn {
    struct store *s;
    struct store__conn_env *env; /* the handle's; for exec.c */
    sqlite3 *db;
    sqlite3_stmt *stmt[STORE__Q_COUNT];
    bool changes_pending; /* the open transaction wrote change rows */
    bool events_pending;  /* ... or event rows of any kind */
    unsigned gen;         /* the store's generation when opened */
    struct store__conn *prev, *next;
};

/* The group-commit queue of a store (group.c). */
struct store__wreq;
struct store__group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store__wreq *head, **tail; /* writers waiting, oldest first */
    bool leader;                      /* a writer runs a batch */
    size_t waiting;                   /* in the queue */
    uint64_t batches, writes;         /* taken so far, for tests and stats */
    struct ccf_histo commit_us;       /* a batch's begin to its commit's end */
    struct ccf_histo per_commit;      /* writes in a batch */
};

/* exec.c: the statement layer */

/* Busy, locked, full, read-only, cannot open, I/O error: CCF_EUNAVAIL (retry
 * later); anything else CCF_EIO. */
int store__map(int rc);
/* Whether the file system under probe (a path beside the database) is
 * mounted read-only: creating a file there sees what access() and
 * statvfs() may not. */
bool store__probe_read_only(const char *probe);
/* Logs event with sqlite's message and op, and maps rc to an enum ccf_err. */
int store__fail(struct store__conn *c, int rc, const char *event, const char *op);
/* The cached statement of slot q, prepared from sql on first use. */
int store__stmt(struct store__conn *c, enum store__q q, const char *sql, sqlite3_stmt **out,
                const char *op);
/* Resets st and clears its bindings: every use of a statement ends here. */
void store__reset(sqlite3_stmt *st);
/* Steps st once, expecting no row, then resets it. */
int store__step_done(struct store__conn *c, sqlite3_stmt *st, const char *op);
/* Steps st once for a row to read: 0 with the row (the caller reads it,
 * then resets st), CCF_ENOTFOUND when there is none, or the step's error. */
int store__step_row(struct store__conn *c, sqlite3_stmt *st, const char *op);
/* Steps st once for a row of one integer, then resets it: 1 with the row's
 * first column in *out (NULL reads as 0), 0 when there is no row (*out =
 * dflt), or the step's error. */
int store__step_int64(struct store__conn *c, sqlite3_stmt *st, int64_t dflt, int64_t *out,
                      const char *op);
/* Rows changed by the last statement (not counting cascades). */
int64_t store__changes(struct store__conn *c);
void store__finalize_all(struct store__conn *c);

/* BEGIN IMMEDIATE: a deferred read-then-write gets SQLITE_BUSY at once;
 * taking the write lock at BEGIN lets busy_timeout wait instead. */
int store__begin(struct store__conn *c, const char *op);
/* COMMIT and nothing else (store__commit adds the hooks); on failure the
 * transaction is rolled back. Leaves changes_pending and events_pending
 * for the caller, which clears them. */
int store__commit_sql(struct store__conn *c, const char *op);
/* Safe to call when no transaction is open. */
void store__rollback(struct store__conn *c, const char *op);

/* Binding with a sticky error, as ferror: *rc keeps the first failure.
 * Text and blobs are bound SQLITE_STATIC: they must outlive the reset. */
void store__bind_text(sqlite3_stmt *st, int i, const char *v, int *rc); /* NULL: SQL NULL */
void store__bind_textn(sqlite3_stmt *st, int i, const char *v, size_t n, int *rc);
void store__bind_int(sqlite3_stmt *st, int i, int64_t v, int *rc);
void store__bind_time(sqlite3_stmt *st, int i, int64_t v, int *rc); /* 0: SQL NULL */
void store__bind_blob(sqlite3_stmt *st, int i, const void *v, size_t n, int *rc);
/* 0, or the logged and mapped failure of a bind. */
int store__bind_check(struct store__conn *c, int rc, const char *op);

/* Copies a text column (SQL NULL: "") into out; CCF_EIO if it does not fit. */
int store__col_copy(sqlite3_stmt *st, int i, char *out, size_t size);
/* A malloc'd copy of a text column, NULL for SQL NULL. */
char *store__col_dup(sqlite3_stmt *st, int i);

/* sqlite.c: the connection layer */

struct store__group *store__group_of(struct store *s);

/* The calling thread's connection, opened on first use. CCF_EUNAVAIL (or
 * CCF_EIO) if it cannot be opened, logged. */
int store__conn(struct store *s, struct store__conn **out);
/* COMMIT (store__commit_sql), then the hooks (store__notify) if the
 * transaction wrote change or event rows. On failure rolled back. */
int store__commit(struct store__conn *c, const char *op);
/* An I/O-class error: from now until it finds the database file mounted
 * again (and makes every connection reopen), store__conn looks for it. */
void store__suspect(struct store *s);
/* The file system holding the database is mounted read-only. */
bool store__read_only(struct store *s);
/* Checkpoint versions kept (store_config's checkpoint_history). */
int64_t store__cp_history(const struct store *s);

/* schema.c */

/* Applies the migrations this build knows in one transaction and reads (or
 * creates) the token secret. CCF_EIO if the file's schema is newer. */
int store__migrate(struct store__conn *c, const char *path, unsigned char secret[32]);

/* 0 if c's database holds the token secret secret, CCF_EUNAVAIL if it holds
 * another or none (a different file), or the error reading it. */
int store__same_database(struct store__conn *c, const unsigned char secret[32]);

/* group.c */

/* A transaction body: runs inside a transaction (and a savepoint) on c, the
 * connection of whichever thread leads the batch, so it uses c and arg
 * only. A negative enum ccf_err undoes its writes; 0 or more keeps them. */
typedef int (*store__tx_fn)(struct store__conn *c, void *arg);

void store__group_init(struct store__group *g);
void store__group_destroy(struct store__group *g);
/* Runs fn(c, arg) in a transaction, batched with other threads' writes
 * (group commit), and returns its result once the batch is committed, or
 * the commit's error. Inside a body it runs fn at once, in that body's
 * transaction. */
int store__write(struct store *s, store__tx_fn fn, void *arg, const char *op);

/* jobs.c: in the caller's transaction, a fresh id into j->id, the
 * connector j->connector_id claimed (AVAILABLE and not paused -> IN_USE),
 * the job inserted (j's status, environment and trigger) with its change
 * row; created_at and updated_at are set. CCF_ECONFLICT if the connector
 * is IN_USE or paused (nothing written). */
int store__start_job(struct store__conn *c, const char *tk, struct ccf_job *j, const char *op);

/* connectors.c */

/* The connector's status (>= 0), or CCF_ENOTFOUND for this tenant. */
int store__connector_status(struct store__conn *c, const char *tenant_key, const char *id,
                            const char *op);
/* The transaction body of a create, for tokens.c. arg is a struct
 * store__create. A start's is store__start_job (jobs.c). */
struct store__create {
    const char *tk;
    const struct ccf_connector *in;
    char id[CCF_CONNECTOR_ID_LEN + 1];
    int64_t now;
};
int store__create_connector_tx(struct store__conn *c, void *arg);

/* tokens.c: a client token's lookup and insert in the open transaction,
 * for creates of other kinds (webhooks.c). kind: STORE__TOKEN_WEBHOOK.
 * Lookup: 1 and the resource's id in id when a live token has this body,
 * 0 when none, CCF_ETOKEN when it was used with another body. */
#define STORE__TOKEN_WEBHOOK 2
int store__token_find(struct store__conn *c, const char *tk, int kind,
                      const struct store_token *tok, int64_t now, char *id, size_t n,
                      const char *op);
int store__token_keep(struct store__conn *c, const char *tk, int kind,
                      const struct store_token *tok, int64_t now, const char *id, const char *op);

/* webhooks.c: deletes the delivery rows of events up to seq cut, in the
 * open transaction (the events' pruning). */
int store__webhook_prune(struct store__conn *c, int64_t cut, const char *op);

/* docstats.c */

/* The listing's two reads, here so that a test can show their plans.
 * INDEXED BY: a plan without the index is an error, not a slow scan. */
#define STORE__SQL_UNSEEN_RANGE                                                                    \
    "SELECT document_id, checksum, created_at, updated_at FROM documents "                         \
    "INDEXED BY documents_by_last_job WHERE connector_id = ?1 "                                    \
    "AND last_job IS ?2 AND document_id > ?3 ORDER BY document_id LIMIT ?4"
#define STORE__SQL_UNSEEN_VALUE                                                                    \
    "SELECT last_job FROM documents INDEXED BY documents_by_last_job "                             \
    "WHERE connector_id = ?1 AND last_job > ?2 ORDER BY last_job LIMIT 1"

/* Counts of one write, added to its job's stats. */
struct store__counts {
    int64_t added, updated, unchanged, deleted, checkpoint_puts;
};
/* The seq that names job_id in documents.last_job, its job_stats row made
 * on first use (in the open transaction). CCF_EIO if the job is gone. */
int store__job_seq(struct store__conn *c, const char *job_id, int64_t *seq, const char *op);
/* Adds n to the stats of the job with seq, in the open transaction. */
int store__job_count(struct store__conn *c, int64_t seq, const struct store__counts *n,
                     const char *op);
/* Sets j->stats (zeros when it did nothing) and has_stats when j has
 * reached RUNNING. */
int store__job_stats_fill(struct store__conn *c, struct ccf_job *j, const char *op);

/* events.c */

/* Writes one outbox row for job j, now in j->status (old_status -1 for its
 * insert), in the open transaction: the orchestrator's change and the
 * tenant's job.* event with the job as its detail. */
int store__change_insert(struct store__conn *c, const char *tenant_key, const struct ccf_job *j,
                         int old_status, const char *op);
/* A connector.* event whose detail is conn's summary. */
int store__event_connector(struct store__conn *c, const char *tenant_key, const char *type,
                           const struct ccf_connector *conn, int64_t at, const char *op);
/* Any other event; takes the reference to detail. job_id may be NULL. */
int store__event_insert(struct store__conn *c, const char *tenant_key, const char *type,
                        const char *connector_id, const char *job_id, json_t *detail,
                        const char *op);

/* The operations of store__backend_sqlite (sqlite.c), one per store_*
 * function of store.h, in the files of their concern. */
int store_sqlite__ping(struct store *s);
int store_sqlite__writable(struct store *s, const char **why);
void store_sqlite__get_metrics(struct store *s, struct store_metrics *out);
int store_sqlite__count_unfinished_jobs(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT]);
int store_sqlite__create_connector(struct store *s, const struct ccf_tenant *t,
                                   struct ccf_connector *c);
int store_sqlite__get_connector(struct store *s, const struct ccf_tenant *t, const char *id,
                                struct ccf_connector *out);
int store_sqlite__list_connectors(struct store *s, const struct ccf_tenant *t,
                                  const struct store__keyset *p, store_connector_fn visit,
                                  void *ctx, char **next);
int store_sqlite__update_connector(struct store *s, const struct ccf_tenant *t,
                                   const struct ccf_connector *c, int64_t expected_version);
int store_sqlite__delete_connector(struct store *s, const struct ccf_tenant *t, const char *id);
int store_sqlite__set_paused(struct store *s, const struct ccf_tenant *t,
                             const struct ccf_connector *c, int64_t expected_version);
int store_sqlite__schedule_head(struct store *s, int64_t *out);
int store_sqlite__due_schedules(struct store *s, int64_t until, struct store_due *out, size_t max);
int store_sqlite__fire_schedule(struct store *s, const struct store_fire *f, struct ccf_job *j);
int store_sqlite__start_job(struct store *s, const struct ccf_tenant *t, struct ccf_job *j);
int store_sqlite__get_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                          const char *job_id, struct ccf_job *out);
int store_sqlite__list_jobs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const struct store__job_page *q, store_job_fn visit, void *ctx,
                            char **next);
int store_sqlite__transition_job(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, const char *job_id,
                                 const struct store_transition *tr, struct ccf_job *out);
int store_sqlite__set_job_status_reason(struct store *s, const struct ccf_tenant *t,
                                        const char *connector_id, const char *job_id,
                                        const char *reason);
int store_sqlite__put_documents(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const struct ccf_document *docs,
                                size_t n);
int store_sqlite__delete_documents(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const char *const *ids, size_t n);
int store_sqlite__list_documents(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, const struct store_page *p,
                                 store_document_fn visit, void *ctx, char **next);
int store_sqlite__put_documents_by(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const char *job_id,
                                   const struct ccf_document *docs, size_t n);
int store_sqlite__delete_documents_by(struct store *s, const struct ccf_tenant *t,
                                      const char *connector_id, const char *job_id,
                                      const char *const *ids, size_t n);
int store_sqlite__list_documents_not_seen(struct store *s, const struct ccf_tenant *t,
                                          const char *connector_id, const char *job_id,
                                          const struct store_page *p, store_document_fn visit,
                                          void *ctx, char **next);
int store_sqlite__delete_checkpoint(struct store *s, const struct ccf_tenant *t,
                                    const char *connector_id);
int store_sqlite__put_checkpoint_if(struct store *s, const struct ccf_tenant *t,
                                    const char *connector_id, const char *job_id, const char *data,
                                    size_t len, int64_t expect, int64_t *version);
int store_sqlite__get_checkpoint_version(struct store *s, const struct ccf_tenant *t,
                                         const char *connector_id, int64_t version,
                                         struct ccf_checkpoint *out);
int store_sqlite__list_checkpoint_versions(struct store *s, const struct ccf_tenant *t,
                                           const char *connector_id,
                                           const struct store__version_page *p,
                                           store_cp_version_fn visit, void *ctx, char **next);
int store_sqlite__create_connector_token(struct store *s, const struct ccf_tenant *t,
                                         struct ccf_connector *c, const struct store_token *tok);
int store_sqlite__start_job_token(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                                  const struct store_token *tok, struct ccf_job *out);
int store_sqlite__purge_tokens(struct store *s, int64_t before);
int store_sqlite__read_changes(struct store *s, int64_t after_seq, struct store_change *out,
                               size_t max);
int store_sqlite__read_connector_changes(struct store *s, int64_t after_seq,
                                         struct store_connector_change *out, size_t max,
                                         int64_t *upto);
int store_sqlite__cursor_get(struct store *s, const char *consumer, int64_t *seq);
int store_sqlite__cursor_set(struct store *s, const char *consumer, int64_t seq);
int store_sqlite__unfinished_jobs(struct store *s, struct store_job_ref **out, size_t *n);
int store_sqlite__purge_jobs(struct store *s, int64_t ended_before, struct store_job_ref *out,
                             size_t max);
int store_sqlite__prune_changes(struct store *s, int64_t upto, int64_t before);
int store_sqlite__read_events(struct store *s, const struct ccf_tenant *t,
                              const struct store_event_query *q, struct store_event *out,
                              int64_t *next);

int store_sqlite__audited_write(struct store *s, int (*fn)(void *ctx, struct store_audit *rec),
                                void *ctx, struct store_audit *rec);
int store_sqlite__audit_append(struct store *s, const struct store_audit *recs, size_t n);
int store_sqlite__read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                             struct store_audit *out, int64_t *next);
int store_sqlite__prune_audit(struct store *s, int64_t before);
int store_sqlite__create_webhook(struct store *s, const struct ccf_tenant *t,
                                 struct store_webhook *w, const struct store_token *tok);
int store_sqlite__get_webhook(struct store *s, const struct ccf_tenant *t, const char *id,
                              struct store_webhook *out);
int store_sqlite__list_webhooks(struct store *s, const struct ccf_tenant *t,
                                const struct store__keyset *p, store_webhook_fn visit, void *ctx,
                                char **next);
int store_sqlite__delete_webhook(struct store *s, const struct ccf_tenant *t, const char *id);
int store_sqlite__all_webhooks(struct store *s, store_webhook_fn visit, void *ctx);
int store_sqlite__webhook_head(struct store *s, const struct store_webhook *w,
                               struct store_event *ev, struct store_delivery *d);
int store_sqlite__webhook_record(struct store *s, const char *id, const struct store_delivery *d);
int store_sqlite__list_deliveries(struct store *s, const struct ccf_tenant *t, const char *id,
                                  const struct store_page *p, store_delivery_fn visit, void *ctx,
                                  char **next);

#endif
