/* store.h: tenant-scoped storage of connectors, jobs, documents and
 * checkpoints, and the job-change stream (a transactional outbox).
 * An interface of domain operations, not of rows. Backends live behind it,
 * each in its own folder, chosen by store_config's url (backend_int.h):
 * SQLite (sqlite/, the default) and PostgreSQL (postgres/, experimental:
 * docs/DECISIONS.md lists what it does not have yet). Must not know about
 * HTTP or executors.
 *
 * Thread rules: one struct store is shared by all threads; each thread that
 * calls in gets its own connection (SQLite: opened lazily and closed at
 * thread exit or by store_close; PostgreSQL: borrowed from a small pool for
 * the call). store_close runs after every other thread stopped.
 *
 * Errors: CCF_ENOTFOUND when the record (or its connector) does not exist for
 * this tenant; CCF_ECONFLICT on a state conflict; CCF_EUNAVAIL when the
 * database is busy past the busy timeout, full, read-only or cannot be opened
 * (retry later); CCF_EIO for anything else, logged where it happened.
 * Out-parameters are set only on success. */
#ifndef CCF_STORE_H
#define CCF_STORE_H

#include "core/core.h"

struct store; /* defined in store/backend_int.h, extended by each backend */

struct store_config {
    /* NULL or "sqlite": SQLite at path; "postgresql://..." (or
     * "postgres://..."): a libpq connection URI, the password from
     * PGPASSWORD or ~/.pgpass (never logged). */
    const char *url;
    const char *path;        /* SQLite: the database file; created if missing */
    const char *synchronous; /* "FULL" (NULL: the default), "NORMAL" or "OFF" */
    int busy_timeout_ms;     /* 0: default 5000 (PostgreSQL: how long a call waits
                                for a pooled connection or the database) */
    int pool_size;           /* PostgreSQL: connections per process; 0: 8 */
    int checkpoint_history;  /* checkpoint versions kept, the current one included;
                                0: STORE_CP_HISTORY_DEFAULT */
};

#define STORE_CP_HISTORY_DEFAULT 10
#define STORE_CP_HISTORY_MAX     1000

/* Opens (creating and migrating) the database. CCF_EINVAL for a url that
 * names no backend, CCF_EUNAVAIL if it cannot be opened, CCF_EIO if its
 * schema is newer than this build understands. */
int store_open(struct store **out, const struct store_config *cfg);
void store_close(struct store *s);

/* Whether url names a backend this build has (for the config's checks). */
bool store_url_valid(const char *url);
/* url as it may be shown (--print-config, log lines) into out (always
 * terminated; cut at n - 1): a URI's password ("scheme://user:PASS@")
 * and every "password=VALUE" (a URI's query or a conninfo, quoted or
 * not) become "***". NULL: "sqlite". */
void store_url_redact(const char *url, char *out, size_t n);
/* "sqlite" or "postgresql": the backend s runs on. */
const char *store_backend_name(const struct store *s);

/* What store_backup copied. */
struct store_backup_stats {
    int64_t pages;
    int64_t bytes;
    int64_t duration_us;
};

/* Copies the database at db_path to dest_path, as it was when the copy
 * began: one read transaction (WAL) pins that snapshot, so every write
 * committed before it is in the copy and no writer, in this process or
 * another, waits for it. The copy is written beside dest_path (mode 0600),
 * checked (quick_check), fsynced and renamed over dest_path, whose
 * directory is then fsynced: dest_path is the old file or the whole new
 * one, never a part. Needs no struct store: `ccfd backup` runs beside a
 * live ccfd. CCF_ENOTFOUND if db_path does not exist; CCF_EINVAL if
 * dest_path is db_path itself or not a regular file; CCF_EIO on any other
 * failure (logged). *stats (may be NULL) is set on success. */
int store_backup(const char *db_path, const char *dest_path, struct store_backup_stats *stats);

/* A 32-byte secret generated on first open and kept in the database; used
 * to sign pagination tokens so that they survive restarts. */
int store_secret(struct store *s, unsigned char out[32]);

/* A cheap read that proves the database answers (for /healthz). */
int store_ping(struct store *s);

/* Leadership among the replicas that share one database (SCALE.md): the
 * orchestrator, the scheduler and the webhook deliverer run on one of
 * them only. store_shared: whether other processes may use this store
 * (PostgreSQL); false for SQLite, whose data-directory lock makes its
 * ccfd the only one, and always the leader.
 *
 * store_leader_poll (one thread only, the same one every time): tries to
 * become or stay the leader and waits at most wait_ms; returns 1 while
 * this process leads, 0 while another does, CCF_EUNAVAIL when the
 * database cannot be reached (leadership, if held, is then lost). *woken
 * is set when a replica (this one included) committed a job change, an
 * event or a schedule meanwhile (LISTEN/NOTIFY); the store's hooks have
 * then been called, as after a local commit (a follower's long polls wake
 * so). A leader returns at the first such commit, a follower after
 * wait_ms. Never blocks longer than wait_ms plus a connect's timeout. */
bool store_shared(struct store *s);
int store_leader_poll(struct store *s, int wait_ms, bool *woken);

/* Replicas and their jobs (SCALE.md; docs/DECISIONS.md, "Jobs on every
 * replica"). On a shared store each replica registers and heartbeats; the
 * leader assigns each new job to a live replica (its runner) and ends or
 * retries the jobs of a replica whose heartbeat is older than live_us.
 * Heartbeats and live_us are on the database's clock, so replicas' clocks
 * may differ. A store that is not shared has one replica and no runner
 * column: heartbeat, assign and unassign do nothing (0), store_runner_jobs
 * is store_unfinished_jobs and no job is ever lost. */
#define STORE_REPLICA_ID_LEN 32
struct store_job_ref;
struct store_replica {
    char id[STORE_REPLICA_ID_LEN + 1]; /* [0-9a-f], stable across restarts */
    char host[64];                     /* for humans */
    int64_t pid;                       /* for humans; a new pid is a new started_at */
    int slots;                         /* jobs it takes at once; 0: none (executor = none) */
};
/* Upserts r's row, heartbeat_at now. Call it on the thread that calls
 * store_leader_poll (it records that thread's session: the leader gives
 * no new job to a replica whose session has ended), or before its first
 * poll. */
int store_replica_heartbeat(struct store *s, const struct store_replica *r);
/* Leader: gives up to max unassigned STARTED jobs, oldest first, each to
 * the live replica with the most free slots (left unassigned while no
 * replica with slots lives), and notifies the replicas; returns how many. */
int store_assign_jobs(struct store *s, int64_t live_us, int max);
/* Runner: the unfinished jobs assigned to runner, oldest first (malloc'd,
 * NULL when none; each ref's runner filled). */
int store_runner_jobs(struct store *s, const char *runner, struct store_job_ref **out, size_t *n);
/* Leader: unfinished jobs whose runner has not heartbeaten within live_us,
 * and unassigned ones past STARTED (stopped before assignment, or run by a
 * build that had no runners) while a replica that runs jobs lives (with
 * executor = none everywhere, jobs stay as the API left them, as on one
 * ccfd), oldest first, at most 256 per call. */
int store_lost_jobs(struct store *s, int64_t live_us, struct store_job_ref **out, size_t *n);
/* Leader: a STARTED job of runner back to unassigned; 1 moved, 0 not. */
int store_unassign_job(struct store *s, const char *job_id, const char *runner);

/* Whether a write could commit now (for /readyz): CCF_EUNAVAIL with *why
 * (static text) when the database's file system is read-only or full, or
 * the last commit failed; 0 otherwise. Writes nothing. */
int store_writable(struct store *s, const char **why);

/* The store's measurements, for /metrics; the pointers live as long as s
 * and may be read while other threads write. */
struct ccf_histo;
struct store_metrics {
    const struct ccf_histo *commit_seconds;    /* per group commit, in seconds */
    const struct ccf_histo *writes_per_commit; /* writes in one commit */
};
void store_get_metrics(struct store *s, struct store_metrics *out);

/* The jobs of every tenant that have not ended, by status: out[status] for
 * STARTED, RUNNING and STOPPING (the others are left 0). For the operator's
 * metrics; an index range per status, not a scan of ended jobs. */
int store_count_unfinished_jobs(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT]);

/* Keyset pagination. `after` is the key of the last item of the previous
 * page as this store returned it (NULL for the first page); a key the store
 * cannot parse is CCF_EINVAL. On success *next is the key to continue from
 * (malloc'd, the caller frees it) or NULL when no more items exist. */
struct store_page {
    const char *after;
    size_t limit; /* 1..1000 */
};

/* Visitors see each item of a page in order; the item and its strings are
 * valid during the call only. A negative return stops the listing and is
 * returned by the list call. */
typedef int (*store_connector_fn)(void *ctx, const struct ccf_connector *c);
typedef int (*store_job_fn)(void *ctx, const struct ccf_job *j);
typedef int (*store_document_fn)(void *ctx, const struct ccf_document *d);

/* Connectors. */

/* Inserts a connector from c->name, c->description, c->properties,
 * c->schedule, c->schedule_anchor and c->next_run_at (not paused); fills
 * c->id (fresh, from the CSPRNG), status AVAILABLE, created_at, updated_at
 * and version. */
int store_create_connector(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c);
/* Fills *out (the caller clears it with ccf_connector_clear). */
int store_get_connector(struct store *s, const struct ccf_tenant *t, const char *id,
                        struct ccf_connector *out);
/* Ordered by created_at, then id. */
int store_list_connectors(struct store *s, const struct ccf_tenant *t, const struct store_page *p,
                          store_connector_fn visit, void *ctx, char **next);
/* Writes c->name, c->description, c->properties, c->schedule,
 * c->schedule_anchor and c->next_run_at of connector c->id if its
 * version is still expected_version (CCF_ECONFLICT otherwise: re-read and
 * merge again). On success c->updated_at and c->version are refreshed. */
int store_update_connector(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c,
                           int64_t expected_version);
/* Deletes the connector with its jobs, documents and checkpoint.
 * CCF_ECONFLICT while IN_USE. */
int store_delete_connector(struct store *s, const struct ccf_tenant *t, const char *id);

/* Schedules (CONTRACT-OPS.md "Schedules", "Pause and resume"). The store
 * keeps each connector's next_run_at (whole seconds, 0: none) as its
 * callers computed it; it never parses a schedule. */

/* Writes c->paused and c->next_run_at of connector c->id if its version is
 * still expected_version (CCF_ECONFLICT otherwise: re-read and compute
 * again). On success c->updated_at and c->version are refreshed. */
int store_set_paused(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c,
                     int64_t expected_version);

/* The earliest next_run_at of all connectors of all tenants into *out, 0
 * when no run is due ever. One index seek. */
int store_schedule_head(struct store *s, int64_t *out);

/* A connector whose run is due, as the scheduler reads it. */
struct store_due {
    struct ccf_tenant tenant;
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    int64_t next_run_at;
    int64_t schedule_anchor;
    char *schedule; /* owned: the stored JSON; free with store_due_clear */
};

/* Up to max connectors with a next_run_at <= until, earliest first, into
 * out; returns how many. */
int store_due_schedules(struct store *s, int64_t until, struct store_due *out, size_t max);
void store_due_clear(struct store_due *d, size_t n);

/* One due run, handled. */
struct store_fire {
    const struct ccf_tenant *tenant;
    const char *connector_id;
    int64_t due;             /* the next_run_at the caller read */
    const char *schedule;    /* the schedule the caller read */
    int64_t next;            /* the run after this one; 0: none */
    bool start;              /* start a job, or only move on (no catch-up) */
    const char *environment; /* the scheduled job's variables (JSON array) or NULL */
};

/* In one transaction: next_run_at moves from f->due to f->next, and with
 * f->start a job with trigger SCHEDULE starts as by store_start_job.
 * Writing both together is what makes a run neither lost nor doubled
 * across a crash. Returns 1 when a job started (*out, which may be NULL,
 * gets it), 0 when none did (start false, or the connector IN_USE or
 * paused: the run is skipped). CCF_ECONFLICT, with nothing written, when
 * the connector's next_run_at or schedule are no longer what the caller
 * read (an update or a pause came between): read again. CCF_ENOTFOUND if
 * the connector is gone. */
int store_fire_schedule(struct store *s, const struct store_fire *f, struct ccf_job *out);

/* Jobs. */

/* Atomically: connector AVAILABLE -> IN_USE, a new STARTED job inserted
 * (fresh id), and its change written to the outbox. environment is the job's
 * own variables as a JSON array, or NULL. Its trigger is API. CCF_ECONFLICT
 * if the connector is IN_USE or paused. Fills *out (clear with ccf_job_clear). */
int store_start_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                    const char *environment, struct ccf_job *out);
int store_get_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                  const char *job_id, struct ccf_job *out);
/* Newest first (created_at, then id, descending). status_mask: bit
 * (1u << status) for each status to include; 0 means all. CCF_ENOTFOUND if
 * the connector does not exist. */
int store_list_jobs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                    unsigned status_mask, const struct store_page *p, store_job_fn visit, void *ctx,
                    char **next);

/* A conditional job transition. Fields marked "if set" are written only when
 * set; timestamps are taken by the store (started_at on RUNNING, completed_at
 * on a terminal status) from `at` when the caller knows better (an outcome
 * the executor recorded while ccfd was down), never before the job's own
 * earlier times; updated_at is always the time of the write. */
struct store_transition {
    unsigned from_mask; /* bit (1u << status) of each status the job may be in */
    enum ccf_job_status to;
    bool set_exit_code;
    int exit_code;
    const char *failure_reason; /* if non-NULL; truncated to 1024 chars */
    const char *executor_id;    /* if non-NULL */
    int64_t at; /* when it happened (µs since the epoch), if known: the started_at of RUNNING,
                   the completed_at of a terminal status; 0, or a time in the future: now */
    /* Retries. STARTED -> RUNNING starts attempt `attempt + 1` (appended to
     * attempts, next_attempt_at cleared) and freezes spec if the job has
     * none yet. Leaving RUNNING or STOPPING ends the open attempt with
     * exit_code and failure_reason. RUNNING -> STARTED is a retry: the job
     * waits until next_attempt_at, and exit_code and failure_reason go to
     * the attempt only. A terminal status with no exit code given takes the
     * latest attempt's (a stop during the wait). */
    const char *spec;        /* if non-NULL and the job has none */
    int64_t next_attempt_at; /* for -> STARTED */
};
/* Returns 1 when the job moved, 0 when it already was in `to` (nothing
 * written: redelivery is harmless), CCF_ECONFLICT when its status is neither
 * `to` nor in from_mask. The status change writes an outbox row in the same
 * transaction; a terminal `to` also sets the connector AVAILABLE, but only if
 * its active_job_id is this job. *out (may be NULL) gets the job after. */
int store_transition_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const char *job_id, const struct store_transition *tr,
                         struct ccf_job *out);

/* Sets (reason non-NULL; truncated to 1024 chars) or clears (NULL) why a
 * STARTED job has not run yet, e.g. that it waits for capacity. Not a
 * status change: no outbox row. Any transition clears it. Returns 1 when
 * written, 0 when the job is gone, no longer STARTED, or already has this
 * reason. */
int store_set_job_status_reason(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *job_id, const char *reason);

/* Documents. */

/* Upserts all of docs in one transaction (all or nothing); created_at is
 * kept for existing ids, both timestamps are set by the store. A duplicate
 * id is CCF_EINVAL (the API refuses them first); the store sorts docs. */
int store_put_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                        const struct ccf_document *docs, size_t n);
/* Deletes the given ids in one transaction; missing ids are not an error. */
int store_delete_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                           const char *const *ids, size_t n);
/* Ordered by document_id, bytewise. */
int store_list_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const struct store_page *p, store_document_fn visit, void *ctx,
                         char **next);

/* Documents as written with a job's own credentials (job_id: that job,
 * which must be the connector's; NULL: an operator's key, as the calls
 * above). Each document put remembers job_id (or none), and the job's stats
 * count the put or delete in the same transaction: added, updated,
 * unchanged (same checksum), deleted (ids that existed). */
int store_put_documents_by(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                           const char *job_id, const struct ccf_document *docs, size_t n);
int store_delete_documents_by(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                              const char *job_id, const char *const *ids, size_t n);
/* The connector's documents whose latest put was not made with job_id's
 * credentials, paged and ordered as store_list_documents. CCF_ENOTFOUND if
 * the connector, or job_id as one of its jobs, does not exist. */
int store_list_documents_not_seen(struct store *s, const struct ccf_tenant *t,
                                  const char *connector_id, const char *job_id,
                                  const struct store_page *p, store_document_fn visit, void *ctx,
                                  char **next);
/* store_put_checkpoint, counted in job_id's checkpoint_puts (NULL: no job);
 * store_put_checkpoint_if below is the same with a condition. */
int store_put_checkpoint_by(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const char *job_id, const char *data, size_t len);

/* Checkpoints: data is stored verbatim (it may hold NUL bytes). */

/* Upsert; created_at is kept across puts. Never conflicts with job changes. */
int store_put_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const char *data, size_t len);
/* CCF_ENOTFOUND if the connector or its checkpoint does not exist; tell them
 * apart with store_get_connector. Clear *out with ccf_checkpoint_clear. */
int store_get_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         struct ccf_checkpoint *out);
/* Deletes the checkpoint and its kept versions: the next put is version 1. */
int store_delete_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id);

/* Checkpoint versions. A put makes version current + 1 (1 when there is
 * none) and keeps the last checkpoint_history versions, the current one
 * included; older ones are dropped in the same transaction. */

/* expect: STORE_CP_ANY (no condition), STORE_CP_EXISTS (only if there is a
 * checkpoint), 0 (only if there is none) or N (only if the current version
 * is N). CCF_ENOTFOUND for a missing connector (before the condition),
 * CCF_EPRECOND when the condition does not hold (nothing written, nothing
 * counted). A put that is written counts in job_id's checkpoint_puts
 * (NULL: no job), in the same transaction. On success *version (may be
 * NULL) gets the new version. */
#define STORE_CP_ANY    (-1)
#define STORE_CP_EXISTS (-2)
int store_put_checkpoint_if(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const char *job_id, const char *data, size_t len, int64_t expect,
                            int64_t *version);
/* Version `version` (0: the current one) as it was when current, but with
 * the checkpoint's created_at. CCF_ENOTFOUND when the connector, its
 * checkpoint or that version (no longer kept) does not exist. */
int store_get_checkpoint_version(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, int64_t version,
                                 struct ccf_checkpoint *out);
struct store_cp_version {
    int64_t version;
    int64_t size;       /* bytes of checkpoint_data */
    int64_t created_at; /* when this version was written */
};
typedef int (*store_cp_version_fn)(void *ctx, const struct store_cp_version *v);
/* The kept versions, newest first; page keys are version numbers.
 * CCF_ENOTFOUND when the connector or its checkpoint does not exist. */
int store_list_checkpoint_versions(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const struct store_page *p,
                                   store_cp_version_fn visit, void *ctx, char **next);

/* Idempotent creates and starts (client_token). A token is kept per tenant,
 * operation (and connector, for a start) for STORE_TOKEN_TTL_US, with the
 * fingerprint of its request body; the token row is inserted in the
 * transaction that makes the resource, so of two concurrent requests with
 * one token exactly one makes it and the other replays it. */
#define STORE_TOKEN_TTL_US (INT64_C(86400) * 1000000)
struct store_token {
    const char *token;         /* 1..64 of [A-Za-z0-9_-] */
    const unsigned char *hash; /* 32 bytes: the body's fingerprint */
    int64_t now;               /* 0: the clock; tests move it */
};
enum store_token_result {
    STORE_TOKEN_NEW = 0,    /* made now; *out is the new resource */
    STORE_TOKEN_REPLAY = 1, /* the token's resource, as it is now, in *out */
    STORE_TOKEN_GONE = 2,   /* the token's resource no longer exists; only its id in *out */
};
/* store_create_connector with a token: an enum store_token_result, or
 * CCF_ETOKEN when the token was used with another body, or the errors of
 * store_create_connector. On REPLAY clear *c with ccf_connector_clear. */
int store_create_connector_token(struct store *s, const struct ccf_tenant *t,
                                 struct ccf_connector *c, const struct store_token *tok);
/* store_start_job with a token, checked before the connector's state: a
 * replay returns the first job whatever the connector's state now. */
int store_start_job_token(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                          const char *environment, const struct store_token *tok,
                          struct ccf_job *out);
/* Deletes tokens made before `before`; returns how many. */
int store_purge_tokens(struct store *s, int64_t before);

/* The job-change stream. Every job insert and status change writes one row
 * in the transaction that made it; seq grows strictly. */
struct store_change {
    int64_t seq;
    struct ccf_tenant tenant;
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    char job_id[CCF_JOB_ID_LEN + 1];
    int old_status; /* -1 for an insert, else an enum ccf_job_status */
    enum ccf_job_status new_status;
    int64_t at;
};

/* Copies up to max changes with seq > after_seq into out, in seq order;
 * returns how many. */
int store_read_changes(struct store *s, int64_t after_seq, struct store_change *out, size_t max);
/* A connector created or updated: its connector.created or
 * connector.updated row of the same stream (the change hook fires for
 * them too), for a consumer that keeps something per connector (the
 * orchestrator: an executor's run definition). */
struct store_connector_change {
    int64_t seq;
    struct ccf_tenant tenant;
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
};
/* Copies up to max of them with seq > after_seq into out, in seq order;
 * returns how many. *upto gets where to read on from: the last returned,
 * or the stream's end (as of the read) when fewer than max came, so that
 * the job rows between are not scanned again. CCF_EIO (logged) from a
 * backend that has none. */
int store_read_connector_changes(struct store *s, int64_t after_seq,
                                 struct store_connector_change *out, size_t max, int64_t *upto);
/* A consumer's persisted position in the stream (0 before its first ack). */
int store_cursor_get(struct store *s, const char *consumer, int64_t *seq);
int store_cursor_set(struct store *s, const char *consumer, int64_t seq);

/* Recovery and retention; these span every tenant. */

/* A job as recovery and retention see it. */
struct store_job_ref {
    struct ccf_tenant tenant;
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    char job_id[CCF_JOB_ID_LEN + 1];
    enum ccf_job_status status;
    char runner[STORE_REPLICA_ID_LEN + 1]; /* the replica that runs it; "" none or not known */
};

/* Every job that is STARTED, RUNNING or STOPPING, oldest first, into *out
 * (malloc'd array, the caller frees it; NULL when none) and *n. */
int store_unfinished_jobs(struct store *s, struct store_job_ref **out, size_t *n);

/* Deletes up to max ended jobs whose completed_at is before ended_before,
 * oldest first, and copies their refs into out; returns how many. Call
 * again until it returns less than max. */
int store_purge_jobs(struct store *s, int64_t ended_before, struct store_job_ref *out, size_t max);

/* Deletes the change rows (events) written before `before` (microseconds),
 * oldest first, but no job row past upto (the orchestrator's ack). A cursor
 * before the last row deleted is then expired. */
int store_prune_changes(struct store *s, int64_t upto, int64_t before);

/* The tenant's event stream: the rows of the change stream with a type
 * (connector.*, job.*, schedule.*, checkpoint.updated) and a detail. */
struct store_event {
    int64_t seq; /* the position in the stream; the event id derives from it */
    int64_t at;
    char type[24];
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    char job_id[CCF_JOB_ID_LEN + 1]; /* "" when none */
    char *detail;                    /* owned: JSON object text */
};

struct store_event_query {
    int64_t after;            /* the cursor's seq; -1: from the oldest kept */
    const char *connector_id; /* NULL: every connector */
    const char *types;        /* NULL: all; else ",a,b," (commas around each) */
    size_t max;               /* 1..INT_MAX */
};

/* Up to q->max events of the tenant after q->after, in seq order, into out
 * (clear them with store_events_clear); *next gets the cursor to read on
 * from: past the last returned, or the tenant's end when fewer came.
 * Returns how many; CCF_EEXPIRED when events after q->after were pruned. */
int store_read_events(struct store *s, const struct ccf_tenant *t,
                      const struct store_event_query *q, struct store_event *out, int64_t *next);
void store_events_clear(struct store_event *ev, size_t n);

/* ---- the audit log (CONTRACT-OPS.md "Audit log") ----
 * One record per state-changing or refused request, written in the
 * transaction of the request's effect (store_audited_write) or, for a
 * request refused before the api ran, in a batch of its own
 * (store_audit_append). Never a body, a query or a secret: the fields
 * below are all there is. */
#define STORE_AUDIT_KEY_MAX 128 /* access key ids are at most 128 chars */
#define STORE_AUDIT_IP_MAX  46  /* INET6_ADDRSTRLEN */

struct store_audit {
    struct ccf_tenant tenant;
    int64_t seq; /* set by reads: the position in the tenant's log */
    int64_t at;  /* microseconds; 0 when written: now */
    char request_id[40];
    char operation[48]; /* the contract's name, e.g. CreateCustomConnector */
    char access_key_id[STORE_AUDIT_KEY_MAX + 1];
    char principal_job[CCF_JOB_ID_LEN + 1]; /* signed with this job's key; "" for any other */
    char source_ip[STORE_AUDIT_IP_MAX];
    char connector_id[CCF_CONNECTOR_ID_LEN + 1]; /* "" when none */
    char job_id[CCF_JOB_ID_LEN + 1];             /* "" when none */
    int status;                                  /* the HTTP status; 0: nothing to record */
    char error_type[48];                         /* "" on success */
};

/* Runs fn(ctx, rec) inside one write transaction (batched with others by
 * group commit; a store write fn makes runs in it, in a savepoint of its
 * own) and then, if fn left rec->status non-zero, inserts rec in the same
 * transaction: the record exists if and only if what fn wrote is committed.
 * fn runs on whichever thread leads the batch and must not wait for another
 * write. A negative return from fn undoes all it wrote and records nothing.
 * Returns fn's result, or the error of the insert or the commit (then
 * nothing fn wrote is kept). rec arrives with what is known before fn runs
 * (tenant, who, operation; status 0), or zeroed: the DynamoDB store, which
 * has no transaction, writes it before fn's first write and settles it
 * after (docs/DECISIONS.md). */
int store_audited_write(struct store *s, int (*fn)(void *ctx, struct store_audit *rec), void *ctx,
                        struct store_audit *rec);
/* n records (each with its own tenant), in one write. */
int store_audit_append(struct store *s, const struct store_audit *recs, size_t n);
/* Up to max records of t after seq `after` (-1: from the oldest kept), in
 * order, into out; *next as for store_read_events. Returns how many;
 * CCF_EEXPIRED when records after `after` were pruned. */
int store_read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                     struct store_audit *out, int64_t *next);
/* Deletes the records written before `before` (microseconds). */
int store_prune_audit(struct store *s, int64_t before);

/* Called (on the writing thread, after commit) whenever a transaction wrote
 * an event (any change row); fn must not call the store and must be quick
 * (it runs under a lock). May be set and unset (NULL) at any time: once
 * this returns, the old fn is no longer running nor called. */
void store_set_event_hook(struct store *s, void (*fn)(void *ctx), void *ctx);

/* A second event hook, with the same rules, for the webhook deliverer
 * (the first is the transport's long polls). */
void store_set_webhook_hook(struct store *s, void (*fn)(void *ctx), void *ctx);

/* Webhooks (CONTRACT-OPS.md "Webhooks"). A webhook's deliveries are driven
 * from the event stream above: its cursor is the seq of the last event it
 * is done with; events past it that match its types are sent in seq order. */
#define STORE_WEBHOOK_ID_LEN     15 /* "wh-" + 12 hex */
#define STORE_WEBHOOK_SECRET_LEN 49 /* "whsec_" + 43 base64url */
#define STORE_WEBHOOKS_MAX       20 /* per tenant */
#define STORE_WEBHOOK_URL_MAX    2048
#define STORE_WEBHOOK_DESC_MAX   1000

struct store_webhook {
    char id[STORE_WEBHOOK_ID_LEN + 1];
    struct ccf_tenant tenant;
    char *url;         /* owned */
    char *event_types; /* owned: ",a,b,"; NULL: every type */
    char *description; /* owned, or NULL */
    char secret[STORE_WEBHOOK_SECRET_LEN + 1];
    int64_t created_at;
    int64_t start_seq; /* the stream's end when it was made */
    int64_t cursor;    /* the last event done with */
};
void store_webhook_clear(struct store_webhook *w);
/* "wh-" + 12 lowercase hex digits. */
bool store_webhook_id_valid(const char *id);

typedef int (*store_webhook_fn)(void *ctx, const struct store_webhook *w);

/* Inserts w (url, event_types, description; the store makes the id, the
 * secret, created_at and the cursor: the stream's end now, so that it gets
 * only later events). CCF_ELIMIT when the tenant has STORE_WEBHOOKS_MAX.
 * With tok (may be NULL): an enum store_token_result as
 * store_create_connector_token's (a replay fills *w as it is now, secret
 * included), or CCF_ETOKEN. */
int store_create_webhook(struct store *s, const struct ccf_tenant *t, struct store_webhook *w,
                         const struct store_token *tok);
/* Fills *out (clear it with store_webhook_clear). */
int store_get_webhook(struct store *s, const struct ccf_tenant *t, const char *id,
                      struct store_webhook *out);
/* Ordered by created_at, then id. */
int store_list_webhooks(struct store *s, const struct ccf_tenant *t, const struct store_page *p,
                        store_webhook_fn visit, void *ctx, char **next);
/* Deletes the webhook and its deliveries. */
int store_delete_webhook(struct store *s, const struct ccf_tenant *t, const char *id);
/* Every webhook of every tenant, for the deliverer. */
int store_all_webhooks(struct store *s, store_webhook_fn visit, void *ctx);

enum store_delivery_status {
    STORE_DELIVERY_PENDING = 0,
    STORE_DELIVERY_DELIVERED = 1,
    STORE_DELIVERY_FAILED = 2,
};

/* An event's delivery to one webhook as far as it went. */
struct store_delivery {
    int64_t seq;
    char type[24];
    enum store_delivery_status status;
    int attempts;             /* 0: not tried yet */
    int64_t first_attempt_at; /* µs; 0 when not tried */
    int64_t last_attempt_at;  /* µs; 0 when not tried */
    int64_t next_attempt_at;  /* µs; 0: at once */
    int last_status_code;     /* 0: none (no answer) */
    char last_error[128];     /* "" when none */
};

/* The next event for webhook w after w->cursor that matches its types,
 * into *ev (clear it with store_events_clear), and its delivery so far
 * into *d. Returns 1, or 0 when there is none yet. */
int store_webhook_head(struct store *s, const struct store_webhook *w, struct store_event *ev,
                       struct store_delivery *d);
/* Writes the attempt d (d->seq, its counts and times as they are now) for
 * webhook id; when d->status is DELIVERED or FAILED, moves the webhook's
 * cursor to d->seq in the same transaction. Returns 1, or 0 when the
 * webhook is gone (nothing written). */
int store_webhook_record(struct store *s, const char *id, const struct store_delivery *d);

typedef int (*store_delivery_fn)(void *ctx, const struct store_delivery *d);
/* The events for the webhook since its creation, newest first, with their
 * deliveries (PENDING with 0 attempts when not tried yet); page keys are
 * seqs. CCF_ENOTFOUND when the webhook is not the tenant's. */
int store_list_deliveries(struct store *s, const struct ccf_tenant *t, const char *id,
                          const struct store_page *p, store_delivery_fn visit, void *ctx,
                          char **next);

/* Called (on the writing thread, after commit) whenever a transaction wrote
 * change rows. Set before any thread calls in; fn must not call the store. */
void store_set_change_hook(struct store *s, void (*fn)(void *ctx), void *ctx);

/* ---- What one replica shares with the others (several processes on one
 * database). A backend of one process (SQLite) keeps none of it: its
 * operations answer 0 (or CCF_ENOTFOUND for a read), quietly, and the
 * caller keeps to its own memory and files. ---- */

/* Job logs shipped into the store by the process whose executor runs the
 * job, so that any replica answers GetCustomConnectorJobLogs. An
 * attempt's log is kept as chunks at absolute offsets, contiguous; at
 * most the cap's newest bytes (the same cap as the local log's). Deleted
 * with the job. Job ids are unique across tenants: the caller has checked
 * the job is the tenant's. */
#define STORE_LOG_CHUNK_MAX (1024 * 1024)
/* Appends data[0..len) (len <= STORE_LOG_CHUNK_MAX) at offset of attempt
 * `attempt` (>= 1) of job_id. Bytes before the attempt's end in the store
 * are skipped (a re-ship after a restart); an offset past the end (the
 * local log dropped bytes the shipper had not read) drops what was kept
 * before it. Chunks wholly before end - cap are deleted in the same
 * transaction. Returns 1, or 0 when this backend keeps no logs;
 * CCF_ENOTFOUND when the job is gone. */
int store_append_job_log(struct store *s, const char *job_id, int attempt, int64_t offset,
                         const char *data, size_t len, int64_t cap);
/* The attempt's end in the store into *end (0 when nothing is kept).
 * Returns 1, or 0 when this backend keeps no logs. */
int store_job_log_end(struct store *s, const char *job_id, int attempt, int64_t *end);
/* As executor_read_attempt_log, from the store (attempt >= 1): up to len
 * bytes from offset (negative: from the end; clamped to what is kept)
 * into buf; *size the bytes ever written, *dropped those no longer kept.
 * Returns the bytes read; CCF_ENOTFOUND when nothing is kept for it (or
 * the backend keeps no logs). */
int store_read_job_log(struct store *s, const char *job_id, int attempt, int64_t offset, char *buf,
                       size_t len, int64_t *size, int64_t *dropped);

/* TestWebhook's ping, queued in the store for whichever replica delivers
 * (the leader), at most STORE_PINGS_MAX waiting per webhook. Returns 1
 * when queued, 0 when this backend keeps no pings (the caller's deliverer
 * holds it in memory), CCF_ENOTFOUND when the webhook is not the tenant's,
 * CCF_ELIMIT when too many wait. Wakes the deliverers as an event does. */
#define STORE_PINGS_MAX 64
int store_webhook_ping(struct store *s, const struct ccf_tenant *t, const char *id);
/* A queued ping, taken. */
struct store_ping {
    struct ccf_tenant tenant;
    char webhook_id[STORE_WEBHOOK_ID_LEN + 1];
};
/* Takes (deletes, so that one deliverer sends each) up to max queued
 * pings, oldest first, into out; returns how many (0 when this backend
 * keeps none). */
int store_take_webhook_pings(struct store *s, struct store_ping *out, size_t max);

#endif
