/* pg_int.h: private helpers of the PostgreSQL backend, for the files of
 * src/store/postgres/ only: the handle, its connection pool, statements
 * prepared per connection, parameters and columns as text, error mapping,
 * and the transaction runner.
 *
 * Layers, each calling only the ones below it: the domain files
 * (connectors.c, jobs.c, ...) -> the transaction runner and pool (pg.c)
 * -> statements (exec.c) -> libpq.
 *
 * Thread rules: a struct pg__conn is taken from the pool for one store
 * call (or one transaction) by one thread and given back at its end. */
#ifndef CCF_STORE_PG_INT_H
#define CCF_STORE_PG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>

#include "core/histo.h"
#include "store/backend_int.h"
#include "store/store.h"

/* One slot per prepared statement; the SQL text stays at the call site.
 * A statement is prepared on a connection the first time it runs there. */
enum pg__q {
    PG__Q_PING,
    PG__Q_CONN_INSERT,
    PG__Q_CONN_GET,
    PG__Q_CONN_STATUS,
    PG__Q_CONN_LIST,
    PG__Q_CONN_UPDATE,
    PG__Q_CONN_DELETE,
    PG__Q_JOB_ID_TAKEN,
    PG__Q_JOB_CLAIM,
    PG__Q_JOB_INSERT,
    PG__Q_JOB_GET,
    PG__Q_JOB_GET_LOCK,
    PG__Q_JOB_LIST,
    PG__Q_JOB_UPDATE,
    PG__Q_JOB_RELEASE,
    PG__Q_JOB_STATUS_REASON,
    PG__Q_JOBS_UNFINISHED,
    PG__Q_JOB_UNFINISHED,
    PG__Q_OUTBOX_LOCK,
    PG__Q_CHANGE_INSERT,
    PG__Q_CHANGE_READ,
    PG__Q_CONNECTOR_CHANGE_READ,
    PG__Q_CHANGE_END,
    PG__Q_CURSOR_GET,
    PG__Q_CURSOR_SET,
    PG__Q_EVENT_PRUNED,
    PG__Q_EVENT_LAST,
    PG__Q_EVENT_READ,
    PG__Q_DOC_PUT,
    PG__Q_DOC_DELETE,
    PG__Q_DOC_LIST,
    PG__Q_CP_LOCK,
    PG__Q_CP_CURRENT,
    PG__Q_CP_PUT,
    PG__Q_CP_KEEP,
    PG__Q_CP_TRIM,
    PG__Q_CP_GET_V,
    PG__Q_CP_LIST_V,
    PG__Q_CP_DELETE,
    PG__Q_CP_DELETE_V,
    PG__Q_STATS_GET,
    PG__Q_SCHED_PAUSE,
    PG__Q_SCHED_NEXT,
    PG__Q_SCHED_DUE,
    PG__Q_SCHED_ADVANCE,
    PG__Q_JOB_PURGE,
    PG__Q_CHANGE_PRUNE,
    PG__Q_TOKEN_GET,
    PG__Q_TOKEN_PUT,
    PG__Q_TOKEN_PURGE,
    PG__Q_TOKEN_SET,
    PG__Q_STATS_SEQ,
    PG__Q_STATS_SEQ2,
    PG__Q_STATS_ADD,
    PG__Q_UNSEEN_JOB,
    PG__Q_UNSEEN_LIST,
    PG__Q_DOC_LOCK,
    PG__Q_DOC_COUNT,
    PG__Q_AUDIT_INSERT,
    PG__Q_AUDIT_LAST,
    PG__Q_AUDIT_READ,
    PG__Q_AUDIT_PRUNE,
    PG__Q_WH_LOCK,
    PG__Q_WH_COUNT,
    PG__Q_WH_INSERT,
    PG__Q_WH_GET,
    PG__Q_WH_LIST,
    PG__Q_WH_ALL,
    PG__Q_WH_DELETE,
    PG__Q_WH_HEAD,
    PG__Q_WH_EXISTS,
    PG__Q_WH_RECORD,
    PG__Q_WH_ADVANCE,
    PG__Q_WH_DELIVERIES,
    PG__Q_REPLICA_BEAT,
    PG__Q_REPLICA_LIVE,
    PG__Q_JOB_UNASSIGNED,
    PG__Q_JOB_ASSIGN,
    PG__Q_JOB_UNASSIGN,
    PG__Q_RUNNER_JOBS,
    PG__Q_LOST_JOBS,
    PG__Q_LOG_LOCK, /* joblogs.c */
    PG__Q_LOG_END,
    PG__Q_LOG_INSERT,
    PG__Q_LOG_TRIM,
    PG__Q_LOG_RANGE,
    PG__Q_LOG_READ,
    PG__Q_PING_LOCK, /* pings.c */
    PG__Q_PING_INSERT,
    PG__Q_PING_TAKE,
    PG__Q_COUNT
};

/* A pooled connection. */
struct pg__conn {
    PGconn *db; /* NULL until opened, and after it broke */
    bool prepared[PG__Q_COUNT];
    bool busy;            /* taken (under the pool's mutex) */
    bool broken;          /* the server went away: reopen before next use */
    bool changes_pending; /* the open transaction wrote change rows */
    bool events_pending;  /* ... or event rows of any kind */
};

/* pg.c */

/* Checkpoint versions kept (store_config's checkpoint_history). */
int64_t pg__cp_history(const struct store *s);

/* A connection of the pool for the calling thread's call, opened (or
 * reopened) if needed; waits for a free one at most the configured time.
 * CCF_EUNAVAIL when none comes or the server cannot be reached. Give it
 * back with pg__put. */
int pg__get(struct store *s, struct pg__conn **out);
void pg__put(struct store *s, struct pg__conn *c);

/* A transaction body: runs inside BEGIN ... COMMIT on c. A negative enum
 * ccf_err rolls back; 0 or more commits and is returned. */
typedef int (*pg__tx_fn)(struct pg__conn *c, void *arg);
/* Runs fn in a transaction of its own on a pooled connection, then the
 * store's hooks if it wrote change or event rows. Inside a body (the same
 * thread, the same store) it runs fn at once, in that body's transaction,
 * in a savepoint of its own. */
int pg__write(struct store *s, pg__tx_fn fn, void *arg, const char *op);

/* exec.c */

/* Text parameters of one statement: NULL is SQL NULL. Integers are
 * formatted into the struct, so it must outlive the call. */
#define PG__PARAMS_MAX 16
struct pg__params {
    int n;
    const char *v[PG__PARAMS_MAX];
    int len[PG__PARAMS_MAX];
    int fmt[PG__PARAMS_MAX]; /* 1: binary (bytea) */
    char buf[PG__PARAMS_MAX][24];
};
void pg__p_text(struct pg__params *p, const char *v);
void pg__p_int(struct pg__params *p, int64_t v);
void pg__p_time(struct pg__params *p, int64_t v); /* 0: SQL NULL */
void pg__p_bytes(struct pg__params *p, const void *v, size_t n);

/* Runs the statement of slot q (prepared from sql on first use on c) with
 * p's parameters (p may be NULL). On success *out (may be NULL: then
 * cleared here) is its result, PGRES_TUPLES_OK or PGRES_COMMAND_OK, the
 * caller's to PQclear. Failures are logged and mapped (pg__map). */
int pg__run(struct pg__conn *c, enum pg__q q, const char *sql, const struct pg__params *p,
            PGresult **out, const char *op);
/* A one-off statement, not prepared (BEGIN, COMMIT, migrations). */
int pg__exec(struct pg__conn *c, const char *sql, const char *op);
/* Rows the statement of r changed. */
int64_t pg__changed(PGresult *r);
/* Lost connection, server shutting down or starting, standby (after a
 * failover), too many connections, disk full, serialization failure,
 * deadlock, lock or statement timeout: CCF_EUNAVAIL; anything else
 * CCF_EIO. r may be NULL (no result at all: the connection is gone). */
int pg__map(struct pg__conn *c, PGresult *r);
/* Logs event with the server's SQLSTATE and primary message (never its
 * detail, which may quote values), marks c broken if the connection is
 * lost, and maps. */
int pg__fail(struct pg__conn *c, PGresult *r, const char *event, const char *op);
/* The SQLSTATE of r is state (e.g. "23505", a unique violation). */
bool pg__state_is(PGresult *r, const char *state);

/* Columns, read from text results. NULL reads as 0 or "". */
int64_t pg__int(PGresult *r, int row, int col);
bool pg__null(PGresult *r, int row, int col);
/* Copies a text column into out; CCF_EIO if it does not fit. */
int pg__copy(PGresult *r, int row, int col, char *out, size_t size);
/* A malloc'd copy of a text column, NULL for SQL NULL. */
char *pg__dup(PGresult *r, int row, int col);
/* The text of a column, NULL for SQL NULL; lives as long as r. */
const char *pg__str(PGresult *r, int row, int col);

/* leader.c */

/* The channel every change or event row's transaction notifies. */
#define PG__CHANNEL "ccf_changes"
struct pg__leader;
/* store_leader_poll (store.h) with the handle's URL and leadership state
 * (*lp, made on first call). */
int store_pg__leader_poll(struct store *s, const char *url, struct pg__leader **lp, int wait_ms,
                          bool *woken);
/* The server pid of the leadership session, 0 when there is none (l may
 * be NULL). On the leadership thread. */
int pg__leader_pid(const struct pg__leader *l);
/* pg__leader_pid of the handle's session (pg.c). */
int pg__session_pid(struct store *s);
/* Ends the leader's session (and with it the lock); l may be NULL. */
void pg__leader_close(struct pg__leader *l);

/* schema.c */

/* Applies the migrations this build knows, once, under an advisory lock
 * (several replicas may start at once), and reads (or creates) the token
 * secret. CCF_EIO if the database's schema is newer. */
int pg__migrate(struct pg__conn *c, unsigned char secret[32]);

/* connectors.c */

/* The connector's status (>= 0), or CCF_ENOTFOUND for this tenant. */
int pg__connector_status(struct pg__conn *c, const char *tk, const char *id, const char *op);
/* The transaction body of a create (arg: a struct pg__create), for
 * tokens.c too. */
struct pg__create {
    const char *tk;
    const struct ccf_connector *in;
    char id[CCF_CONNECTOR_ID_LEN + 1];
    int64_t now;
};
int pg__create_connector_tx(struct pg__conn *c, void *arg);

/* changes.c: the outbox */

/* A store_job_ref from row i of (tenant, connector_id, id, status[, runner]). */
int pg__row_ref(PGresult *r, int i, struct store_job_ref *ref);

/* Takes the lock every writer of a seq-ordered log (the outbox, the audit
 * log) holds from drawing its seq to its commit, so that seq order is
 * commit order. */
int pg__outbox_lock(struct pg__conn *c, const char *op);

/* Writes one outbox row for job j, now in j->status (old_status -1 for its
 * insert), in the open transaction: the orchestrator's change and the
 * tenant's job.* event with the job as its detail. */
int pg__change_insert(struct pg__conn *c, const char *tk, const struct ccf_job *j, int old_status,
                      const char *op);
/* A connector.* event whose detail is conn's summary. */
int pg__event_connector(struct pg__conn *c, const char *tk, const char *type,
                        const struct ccf_connector *conn, int64_t at, const char *op);
/* Any other event; takes the reference to detail. job_id may be NULL. */
int pg__event_insert(struct pg__conn *c, const char *tk, const char *type, const char *connector_id,
                     const char *job_id, json_t *detail, const char *op);

/* tokens.c: a client token of a create of another kind (webhooks.c), in
 * the open transaction. Claim: 0 when the token is ours now, 1 and the
 * resource's id in id for a live token with this body, CCF_ETOKEN for one
 * with another body. Set records the id the claimed token made. */
#define PG__TOKEN_WEBHOOK 2
int pg__token_claim(struct pg__conn *c, const char *tk, int kind, const struct store_token *tok,
                    int64_t now, char *id, size_t n, const char *op);
int pg__token_set(struct pg__conn *c, const char *tk, int kind, const struct store_token *tok,
                  int64_t now, const char *id, const char *op);

/* docstats.c */

/* Counts of one write, added to its job's stats. */
struct pg__counts {
    int64_t added, updated, unchanged, deleted, checkpoint_puts;
};
/* The seq that names job_id in documents.last_job, its job_stats row made
 * on first use (in the open transaction). CCF_EIO if the job is gone. */
int pg__job_seq(struct pg__conn *c, const char *job_id, int64_t *seq, const char *op);
/* Adds n to the stats of the job with seq, in the open transaction. */
int pg__job_count(struct pg__conn *c, int64_t seq, const struct pg__counts *n, const char *op);

/* jobs.c */

/* In the open transaction: a fresh id into j->id, the connector
 * j->connector_id claimed (AVAILABLE and not paused -> IN_USE), the job
 * inserted (j's status, environment and trigger) with its change row;
 * created_at and updated_at set. CCF_ECONFLICT if the connector is IN_USE
 * or paused, with nothing written (the transaction stays usable). */
int pg__start_job(struct pg__conn *c, const char *tk, struct ccf_job *j, const char *op);

/* Sets j->stats and has_stats when j has reached RUNNING. */
int pg__job_stats_fill(struct pg__conn *c, struct ccf_job *j, const char *op);

/* The operations of store__backend_postgres (pg.c) this backend has. */
int store_pg__ping(struct store *s);
int store_pg__writable(struct store *s, const char **why);
void store_pg__get_metrics(struct store *s, struct store_metrics *out);
int store_pg__create_connector(struct store *s, const struct ccf_tenant *t,
                               struct ccf_connector *c);
int store_pg__get_connector(struct store *s, const struct ccf_tenant *t, const char *id,
                            struct ccf_connector *out);
int store_pg__list_connectors(struct store *s, const struct ccf_tenant *t,
                              const struct store__keyset *p, store_connector_fn visit, void *ctx,
                              char **next);
int store_pg__update_connector(struct store *s, const struct ccf_tenant *t,
                               const struct ccf_connector *c, int64_t expected_version);
int store_pg__delete_connector(struct store *s, const struct ccf_tenant *t, const char *id);
int store_pg__start_job(struct store *s, const struct ccf_tenant *t, struct ccf_job *j);
int store_pg__get_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                      const char *job_id, struct ccf_job *out);
int store_pg__list_jobs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                        const struct store__job_page *q, store_job_fn visit, void *ctx,
                        char **next);
int store_pg__transition_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                             const char *job_id, const struct store_transition *tr,
                             struct ccf_job *out);
int store_pg__set_job_status_reason(struct store *s, const struct ccf_tenant *t,
                                    const char *connector_id, const char *job_id,
                                    const char *reason);
int store_pg__count_unfinished_jobs(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT]);
int store_pg__unfinished_jobs(struct store *s, struct store_job_ref **out, size_t *n);
int store_pg__read_connector_changes(struct store *s, int64_t after_seq,
                                     struct store_connector_change *out, size_t max, int64_t *upto);
int store_pg__read_changes(struct store *s, int64_t after_seq, struct store_change *out,
                           size_t max);
int store_pg__cursor_get(struct store *s, const char *consumer, int64_t *seq);
int store_pg__cursor_set(struct store *s, const char *consumer, int64_t seq);
int store_pg__read_events(struct store *s, const struct ccf_tenant *t,
                          const struct store_event_query *q, struct store_event *out,
                          int64_t *next);
int store_pg__put_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const struct ccf_document *docs, size_t n);
int store_pg__delete_documents(struct store *s, const struct ccf_tenant *t,
                               const char *connector_id, const char *const *ids, size_t n);
int store_pg__list_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                             const struct store_page *p, store_document_fn visit, void *ctx,
                             char **next);
int store_pg__put_checkpoint_if(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *job_id, const char *data,
                                size_t len, int64_t expect, int64_t *version);
int store_pg__get_checkpoint_version(struct store *s, const struct ccf_tenant *t,
                                     const char *connector_id, int64_t version,
                                     struct ccf_checkpoint *out);
int store_pg__list_checkpoint_versions(struct store *s, const struct ccf_tenant *t,
                                       const char *connector_id,
                                       const struct store__version_page *p,
                                       store_cp_version_fn visit, void *ctx, char **next);
int store_pg__delete_checkpoint(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id);
int store_pg__set_paused(struct store *s, const struct ccf_tenant *t, const struct ccf_connector *c,
                         int64_t expected_version);
int store_pg__schedule_head(struct store *s, int64_t *out);
int store_pg__due_schedules(struct store *s, int64_t until, struct store_due *out, size_t max);
int store_pg__fire_schedule(struct store *s, const struct store_fire *f, struct ccf_job *j);
int store_pg__purge_jobs(struct store *s, int64_t ended_before, struct store_job_ref *out,
                         size_t max);
int store_pg__prune_changes(struct store *s, int64_t upto, int64_t before);
int store_pg__create_connector_token(struct store *s, const struct ccf_tenant *t,
                                     struct ccf_connector *c, const struct store_token *tok);
int store_pg__start_job_token(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                              const struct store_token *tok, struct ccf_job *out);
int store_pg__purge_tokens(struct store *s, int64_t before);
int store_pg__put_documents_by(struct store *s, const struct ccf_tenant *t,
                               const char *connector_id, const char *job_id,
                               const struct ccf_document *docs, size_t n);
int store_pg__delete_documents_by(struct store *s, const struct ccf_tenant *t,
                                  const char *connector_id, const char *job_id,
                                  const char *const *ids, size_t n);
int store_pg__audited_write(struct store *s, int (*fn)(void *ctx, struct store_audit *rec),
                            void *ctx, struct store_audit *rec);
int store_pg__audit_append(struct store *s, const struct store_audit *recs, size_t n);
int store_pg__read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                         struct store_audit *out, int64_t *next);
int store_pg__prune_audit(struct store *s, int64_t before);
int store_pg__create_webhook(struct store *s, const struct ccf_tenant *t, struct store_webhook *w,
                             const struct store_token *tok);
int store_pg__get_webhook(struct store *s, const struct ccf_tenant *t, const char *id,
                          struct store_webhook *out);
int store_pg__list_webhooks(struct store *s, const struct ccf_tenant *t,
                            const struct store__keyset *p, store_webhook_fn visit, void *ctx,
                            char **next);
int store_pg__delete_webhook(struct store *s, const struct ccf_tenant *t, const char *id);
int store_pg__all_webhooks(struct store *s, store_webhook_fn visit, void *ctx);
int store_pg__webhook_head(struct store *s, const struct store_webhook *w, struct store_event *ev,
                           struct store_delivery *d);
int store_pg__webhook_record(struct store *s, const char *id, const struct store_delivery *d);
int store_pg__list_deliveries(struct store *s, const struct ccf_tenant *t, const char *id,
                              const struct store_page *p, store_delivery_fn visit, void *ctx,
                              char **next);
int store_pg__list_documents_not_seen(struct store *s, const struct ccf_tenant *t,
                                      const char *connector_id, const char *job_id,
                                      const struct store_page *p, store_document_fn visit,
                                      void *ctx, char **next);
int store_pg__replica_heartbeat(struct store *s, const struct store_replica *r);
int store_pg__assign_jobs(struct store *s, int64_t live_us, int max);
int store_pg__runner_jobs(struct store *s, const char *runner, struct store_job_ref **out,
                          size_t *n);
int store_pg__lost_jobs(struct store *s, int64_t live_us, struct store_job_ref **out, size_t *n);
int store_pg__unassign_job(struct store *s, const char *job_id, const char *runner);

/* joblogs.c, pings.c: what replicas share (store.h). */
int store_pg__append_job_log(struct store *s, const char *job_id, int attempt, int64_t offset,
                             const char *data, size_t len, int64_t cap);
int store_pg__job_log_end(struct store *s, const char *job_id, int attempt, int64_t *end);
int store_pg__read_job_log(struct store *s, const char *job_id, int attempt, int64_t offset,
                           char *buf, size_t len, int64_t *size, int64_t *dropped);
int store_pg__webhook_ping(struct store *s, const struct ccf_tenant *t, const char *id);
int store_pg__take_webhook_pings(struct store *s, struct store_ping *out, size_t max);

#endif
