/* schema.c: the SQLite backend's schema as an ordered list of migrations,
 * applied at open in one transaction and recorded in PRAGMA user_version,
 * and the token secret kept in the meta table. */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

#define SECRET_KEY "token_secret"

/* Append only: migration i takes a database from version i to i + 1.
 *
 * connectors and jobs keep rowids: their rows carry JSON (properties,
 * environment) of up to a few hundred KiB, and WITHOUT ROWID tables suit
 * small rows only. documents rows are small and always read by key range.
 * Statuses are enum values, so that a status mask filters in SQL.
 * Timestamps are microseconds since the epoch; NULL means unset. */
static const char *const migrations[] = {
    /* 1: the initial schema. */
    "CREATE TABLE connectors ("
    "  id TEXT NOT NULL PRIMARY KEY,"
    "  tenant TEXT NOT NULL," /* "region:account_id" */
    "  name TEXT NOT NULL,"
    "  description TEXT,"
    "  properties TEXT NOT NULL,"
    "  status INTEGER NOT NULL CHECK (status IN (0, 1)),"
    "  active_job_id TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  version INTEGER NOT NULL);"
    "CREATE INDEX connectors_by_tenant ON connectors (tenant, created_at, id);"
    "CREATE TABLE jobs ("
    "  id TEXT NOT NULL PRIMARY KEY,"
    "  connector_id TEXT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,"
    "  tenant TEXT NOT NULL,"
    "  status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 5),"
    "  environment TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  started_at INTEGER,"
    "  completed_at INTEGER,"
    "  exit_code INTEGER,"
    "  failure_reason TEXT,"
    "  executor_id TEXT);"
    "CREATE INDEX jobs_by_connector ON jobs (connector_id, created_at DESC, id DESC);"
    "CREATE INDEX jobs_by_connector_status"
    "  ON jobs (connector_id, status, created_at DESC, id DESC);"
    "CREATE TABLE documents ("
    "  connector_id TEXT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,"
    "  document_id TEXT NOT NULL,"
    "  checksum TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (connector_id, document_id)) WITHOUT ROWID;"
    "CREATE TABLE checkpoints ("
    "  connector_id TEXT NOT NULL PRIMARY KEY"
    "    REFERENCES connectors (id) ON DELETE CASCADE,"
    "  data BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    /* AUTOINCREMENT: a seq is never reused, even after old rows are purged. */
    "CREATE TABLE job_changes ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  tenant TEXT NOT NULL,"
    "  connector_id TEXT NOT NULL,"
    "  job_id TEXT NOT NULL,"
    "  old_status INTEGER NOT NULL,"
    "  new_status INTEGER NOT NULL,"
    "  at INTEGER NOT NULL);"
    "CREATE TABLE stream_cursors ("
    "  consumer TEXT NOT NULL PRIMARY KEY,"
    "  seq INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE meta ("
    "  key TEXT NOT NULL PRIMARY KEY,"
    "  value BLOB NOT NULL) WITHOUT ROWID;",
    /* 2: recovery finds unfinished jobs and retention finds old ended ones
     * without scanning every job. */
    "CREATE INDEX jobs_by_status ON jobs (status, completed_at, created_at, id);",
    /* 3: per-job statistics and the job that made each document's latest
     * put (deletion detection). Documents name the job by job_stats.seq, a
     * small integer (1-3 bytes) rather than its 16-byte id, to keep the
     * documents table and its index small; AUTOINCREMENT never hands a seq
     * out twice, so a purged job's documents can never look seen by a later
     * one. Existing documents remember no job (NULL), as an operator's put
     * makes them. Listing the documents not seen by a job reads the index
     * one last_job value at a time, merged by document_id (docstats.c). */
    "CREATE TABLE job_stats ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  job_id TEXT NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,"
    "  documents_added INTEGER NOT NULL DEFAULT 0,"
    "  documents_updated INTEGER NOT NULL DEFAULT 0,"
    "  documents_unchanged INTEGER NOT NULL DEFAULT 0,"
    "  documents_deleted INTEGER NOT NULL DEFAULT 0,"
    "  checkpoint_puts INTEGER NOT NULL DEFAULT 0);"
    "ALTER TABLE documents ADD COLUMN last_job INTEGER;"
    "CREATE INDEX documents_by_last_job ON documents (connector_id, last_job, document_id);",
    /* 4 (retries): a job's attempts (a small JSON array rewritten with
     * each transition), the latest attempt's number, the end of the wait
     * before the next one, and the container_properties the job runs with,
     * frozen when its first attempt starts. Only added columns: an older
     * file keeps its jobs, which read as never retried. */
    "ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN next_attempt_at INTEGER;"
    "ALTER TABLE jobs ADD COLUMN attempts TEXT;"
    "ALTER TABLE jobs ADD COLUMN spec TEXT;",
    /* 5: schedules, pause and job triggers (issue 12). next_run_at (whole
     * seconds) is NULL unless a run is due some day; the partial index is
     * the scheduler's queue: its head is the next due run, and connectors
     * without a schedule cost it nothing. */
    "ALTER TABLE connectors ADD COLUMN schedule TEXT;"
    "ALTER TABLE connectors ADD COLUMN schedule_anchor INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE connectors ADD COLUMN next_run_at INTEGER;"
    "ALTER TABLE connectors ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN trigger INTEGER;"
    "CREATE INDEX connectors_by_next_run ON connectors (next_run_at) "
    "  WHERE next_run_at IS NOT NULL;",
    /* 6 (issue 12): checkpoint versions and client tokens. A
     * checkpoint written before has version 1. checkpoints keeps the current
     * version; checkpoint_versions the older kept ones (rowid: a row holds up
     * to 1 MiB). A start's token dies with its connector (connector_id);
     * a create's token has none, so that its replay can tell the connector
     * was deleted. */
    "ALTER TABLE checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE checkpoints ADD COLUMN size INTEGER;"
    "UPDATE checkpoints SET size = length(data);"
    /* A column stored after a big blob is read through its overflow pages
     * (~0.8 ms a MiB): the small ones come from this covering index, and
     * checkpoint_versions stores data last. */
    "CREATE INDEX checkpoints_meta"
    "  ON checkpoints (connector_id, version, size, created_at, updated_at);"
    "CREATE TABLE checkpoint_versions ("
    "  connector_id TEXT NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  UNIQUE (connector_id, version));"
    "CREATE TABLE client_tokens ("
    "  tenant TEXT NOT NULL,"
    "  operation INTEGER NOT NULL," /* 0 create, 1 start */
    "  scope TEXT NOT NULL,"        /* '' for a create, the connector id for a start */
    "  token TEXT NOT NULL,"
    "  body_hash BLOB NOT NULL,"
    "  resource_id TEXT NOT NULL,"
    "  connector_id TEXT REFERENCES connectors (id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (tenant, operation, scope, token)) WITHOUT ROWID;"
    "CREATE INDEX client_tokens_by_age ON client_tokens (created_at);"
    "CREATE INDEX client_tokens_by_connector ON client_tokens (connector_id);",
    /* 7 (issue 13): events. The outbox's rows get a type and a detail (the
     * state after the change, JSON); rows of other kinds than jobs carry
     * new_status -1, which the orchestrator skips. Older rows have neither
     * and read as their job type with an empty detail. A tenant reads its
     * stream through job_changes_by_tenant. */
    "ALTER TABLE job_changes ADD COLUMN type TEXT;"
    "ALTER TABLE job_changes ADD COLUMN detail TEXT;"
    "CREATE INDEX job_changes_by_tenant ON job_changes (tenant, seq);",
    /* 8 (issue 14): why a STARTED job has not run yet (waiting for
     * capacity); NULL once it runs or ends. A column of its own, not
     * failure_reason, which keeps its contract meaning (set on an end). */
    "ALTER TABLE jobs ADD COLUMN status_reason TEXT;",
    /* 9 (issue 13): webhooks. Deliveries are driven from the event stream
     * (job_changes): a webhook's cursor is the seq of the last event it is
     * done with (delivered, given up, or not of its types), so the next one
     * to send is the first matching row past it. start_seq, the stream's
     * end at creation, bounds the deliveries listing. webhook_deliveries
     * keeps the attempts of the events tried so far; rows go with their
     * webhook and are pruned with the events. event_types is ",a,b,"
     * (NULL: every type), as the events' filter takes it. */
    "CREATE TABLE webhooks ("
    "  id TEXT NOT NULL PRIMARY KEY,"
    "  tenant TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  event_types TEXT,"
    "  description TEXT,"
    "  secret TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  start_seq INTEGER NOT NULL,"
    "  cursor INTEGER NOT NULL);"
    "CREATE INDEX webhooks_by_tenant ON webhooks (tenant, created_at, id);"
    "CREATE TABLE webhook_deliveries ("
    "  webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),"
    "  attempts INTEGER NOT NULL,"
    "  first_attempt_at INTEGER NOT NULL,"
    "  last_attempt_at INTEGER NOT NULL,"
    "  next_attempt_at INTEGER,"
    "  last_status_code INTEGER,"
    "  last_error TEXT,"
    "  PRIMARY KEY (webhook_id, seq)) WITHOUT ROWID;"
    "CREATE INDEX webhook_deliveries_by_seq ON webhook_deliveries (seq);",
    /* 10 (issue 13): the audit log, and the outbox without AUTOINCREMENT.
     * AUTOINCREMENT cost every event (and would cost every record) an
     * update of sqlite_sequence: ~5 us of the ~8.5 us an event added to a
     * create (bench/events_cost.py). A seq is still never handed out twice:
     * pruning always keeps a table's newest row (events.c, audit.c), so
     * max(seq) + 1 never goes back; a sequence already past the newest row
     * is carried over as a placeholder row that no tenant and no
     * orchestrator reads (tenant '', new_status -1). Rows are copied once. */
    "CREATE TABLE job_changes_10 ("
    "  seq INTEGER PRIMARY KEY,"
    "  tenant TEXT NOT NULL,"
    "  connector_id TEXT NOT NULL,"
    "  job_id TEXT NOT NULL,"
    "  old_status INTEGER NOT NULL,"
    "  new_status INTEGER NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  type TEXT,"
    "  detail TEXT);"
    "INSERT INTO job_changes_10 SELECT seq, tenant, connector_id, job_id, old_status, new_status,"
    "  at, type, detail FROM job_changes;"
    "INSERT INTO job_changes_10 (seq, tenant, connector_id, job_id, old_status, new_status, at)"
    "  SELECT seq, '', '', '', -1, -1, 0 FROM sqlite_sequence WHERE name = 'job_changes'"
    "  AND seq > (SELECT COALESCE(max(seq), 0) FROM job_changes);"
    "DROP TABLE job_changes;"
    "ALTER TABLE job_changes_10 RENAME TO job_changes;"
    "CREATE INDEX job_changes_by_tenant ON job_changes (tenant, seq);"
    /* A tenant reads its log through audit_by_tenant; pruning goes by seq. */
    "CREATE TABLE audit_events ("
    "  seq INTEGER PRIMARY KEY,"
    "  tenant TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  request_id TEXT NOT NULL,"
    "  operation TEXT NOT NULL,"
    "  access_key_id TEXT NOT NULL,"
    "  principal_job TEXT," /* NULL: "key" */
    "  source_ip TEXT NOT NULL,"
    "  connector_id TEXT,"
    "  job_id TEXT,"
    "  status INTEGER NOT NULL,"
    "  error_type TEXT);"
    "CREATE INDEX audit_by_tenant ON audit_events (tenant, seq);",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Runs a one-off statement (not worth a cache slot) that yields one
 * integer row. */
static int query_int(struct store__conn *c, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL)) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_ROW) {
        rc = store__fail(c, rc, "store.migrate_failed", "open");
        goto out;
    }
    *out = sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int check_version(struct store__conn *c, const char *path, int64_t *version)
{
    int64_t v;
    int rc;

    if ((rc = query_int(c, "PRAGMA user_version", &v)) < 0)
        return rc;
    if (v < 0 || v > SCHEMA_VERSION) {
        CCF_LOG_ERROR("store.schema_too_new", CCF_KV_STR("path", path), CCF_KV_INT("version", v),
                      CCF_KV_INT("known", SCHEMA_VERSION));
        return CCF_EIO;
    }
    *version = v;
    return 0;
}

static int enable_wal(struct store__conn *c, const char *path)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;
    int rc;

    if ((rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st, NULL)) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_ROW) {
        rc = store__fail(c, rc, "store.migrate_failed", "open");
        goto out;
    }
    mode = sqlite3_column_text(st, 0);
    rc = 0;
    if (!mode || strcmp((const char *)mode, "wal") != 0) {
        CCF_LOG_ERROR("store.no_wal", CCF_KV_STR("path", path),
                      CCF_KV_STR("journal_mode", (const char *)mode));
        rc = CCF_EIO;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

static int apply_migrations(struct store__conn *c, int64_t from)
{
    char sql[48];
    int rc, n;

    for (int64_t v = from; v < SCHEMA_VERSION; v++) {
        if ((rc = sqlite3_exec(c->db, migrations[v], NULL, NULL, NULL)) != SQLITE_OK)
            return store__fail(c, rc, "store.migrate_failed", "open");
        CCF_LOG_INFO("store.migrated", CCF_KV_INT("version", v + 1));
    }
    if (from == SCHEMA_VERSION)
        return 0;
    n = snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return CCF_EIO;
    if ((rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
        return store__fail(c, rc, "store.migrate_failed", "open");
    return 0;
}

/* 1 and the secret in secret if the meta table holds one, 0 if not. */
static int read_secret(struct store__conn *c, unsigned char secret[32], const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key = '" SECRET_KEY "'", -1, &st,
                            NULL);
    if (rc != SQLITE_OK || ((rc = sqlite3_step(st)) != SQLITE_ROW && rc != SQLITE_DONE)) {
        rc = store__fail(c, rc, "store.read_secret_failed", op);
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else if (sqlite3_column_bytes(st, 0) != 32) {
        CCF_LOG_ERROR("store.bad_secret", CCF_KV_INT("bytes", sqlite3_column_bytes(st, 0)));
        rc = CCF_EIO;
    } else {
        memcpy(secret, sqlite3_column_blob(st, 0), 32);
        rc = 1;
    }
    sqlite3_finalize(st);
    return rc;
}

static int load_secret(struct store__conn *c, unsigned char secret[32])
{
    sqlite3_stmt *st = NULL;
    unsigned char fresh[32];
    int rc;

    if ((rc = read_secret(c, secret, "open")) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = ccf_random_bytes(fresh, sizeof(fresh))) < 0)
        goto out;
    rc = sqlite3_prepare_v2(c->db, "INSERT INTO meta (key, value) VALUES ('" SECRET_KEY "', ?1)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK || (rc = sqlite3_bind_blob(st, 1, fresh, 32, SQLITE_STATIC)) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_DONE) {
        rc = store__fail(c, rc, "store.migrate_failed", "open");
        goto out;
    }
    memcpy(secret, fresh, 32);
    rc = 0;
out:
    sqlite3_finalize(st);
    memset(fresh, 0, sizeof(fresh));
    return rc;
}

int store__same_database(struct store__conn *c, const unsigned char secret[32])
{
    unsigned char got[32];
    int rc = read_secret(c, got, "reopen");

    if (rc < 0)
        return rc;
    rc = rc == 1 && memcmp(got, secret, sizeof(got)) == 0 ? 0 : CCF_EUNAVAIL;
    memset(got, 0, sizeof(got));
    return rc;
}

int store__migrate(struct store__conn *c, const char *path, unsigned char secret[32])
{
    int64_t version, fk;
    int rc;

    if ((rc = query_int(c, "PRAGMA foreign_keys", &fk)) < 0)
        return rc;
    if (fk != 1) {
        CCF_LOG_ERROR("store.no_foreign_keys", CCF_KV_STR("path", path));
        return CCF_EIO;
    }
    /* Refuse a newer file before touching it (journal_mode changes it). */
    if ((rc = check_version(c, path, &version)) < 0 || (rc = enable_wal(c, path)) < 0 ||
        (rc = store__begin(c, "open")) < 0)
        return rc;
    /* Again under the write lock: another process may have migrated it. */
    if ((rc = check_version(c, path, &version)) < 0 || (rc = apply_migrations(c, version)) < 0 ||
        (rc = load_secret(c, secret)) < 0)
        goto fail;
    return store__commit_sql(c, "open");
fail:
    store__rollback(c, "open");
    return rc;
}
