/* schema.c: the PostgreSQL backend's schema as an ordered list of
 * migrations, applied at open in one transaction under an advisory lock
 * (whichever replica starts first migrates; the others wait, then find
 * nothing to do), recorded in ccf_schema; and the token secret, kept in
 * meta so that every replica signs page tokens alike. */
#include "store/postgres/pg_int.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* pg_advisory_xact_lock's key for migrations: "ccf" and 1. */
#define MIGRATE_LOCK "6513921"
#define SECRET_KEY   "token_secret"

/* Append only: migration i takes a database from version i to i + 1.
 *
 * The SQLite schema's ideas (schema.c there): keyset indexes, statuses as
 * integers so that a mask filters in SQL, microseconds since the epoch,
 * NULL for unset. Keys that are compared or ordered (ids, tenants,
 * document ids) are COLLATE "C": bytewise, whatever the database's
 * locale, as the contract orders documents. The outbox's seq is an
 * identity; writers take an advisory lock before inserting into it, so
 * that seq order is commit order (changes.c). */
static const char *const migrations[] = {
    /* 1: the schema of the SQLite backend's migration 8. */
    "CREATE TABLE connectors ("
    "  id TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  name TEXT NOT NULL,"
    "  description TEXT,"
    "  properties TEXT NOT NULL,"
    "  status SMALLINT NOT NULL CHECK (status IN (0, 1)),"
    "  active_job_id TEXT COLLATE \"C\","
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  version BIGINT NOT NULL,"
    "  schedule TEXT,"
    "  schedule_anchor BIGINT NOT NULL DEFAULT 0,"
    "  next_run_at BIGINT,"
    "  paused SMALLINT NOT NULL DEFAULT 0);"
    "CREATE INDEX connectors_by_tenant ON connectors (tenant, created_at, id);"
    "CREATE INDEX connectors_by_next_run ON connectors (next_run_at)"
    "  WHERE next_run_at IS NOT NULL;"
    "CREATE TABLE jobs ("
    "  id TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,"
    "  connector_id TEXT COLLATE \"C\" NOT NULL"
    "    REFERENCES connectors (id) ON DELETE CASCADE,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  status SMALLINT NOT NULL CHECK (status BETWEEN 0 AND 5),"
    "  environment TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  started_at BIGINT,"
    "  completed_at BIGINT,"
    "  exit_code INTEGER,"
    "  failure_reason TEXT,"
    "  executor_id TEXT,"
    "  attempt INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at BIGINT,"
    "  attempts TEXT,"
    "  spec TEXT,"
    "  trigger SMALLINT,"
    "  status_reason TEXT);"
    "CREATE INDEX jobs_by_connector ON jobs (connector_id, created_at DESC, id DESC);"
    "CREATE INDEX jobs_by_connector_status"
    "  ON jobs (connector_id, status, created_at DESC, id DESC);"
    "CREATE INDEX jobs_by_status ON jobs (status, completed_at, created_at, id);"
    "CREATE TABLE job_stats ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  job_id TEXT COLLATE \"C\" NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,"
    "  documents_added BIGINT NOT NULL DEFAULT 0,"
    "  documents_updated BIGINT NOT NULL DEFAULT 0,"
    "  documents_unchanged BIGINT NOT NULL DEFAULT 0,"
    "  documents_deleted BIGINT NOT NULL DEFAULT 0,"
    "  checkpoint_puts BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE documents ("
    "  connector_id TEXT COLLATE \"C\" NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,"
    "  document_id TEXT COLLATE \"C\" NOT NULL,"
    "  checksum TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  last_job BIGINT,"
    "  PRIMARY KEY (connector_id, document_id));"
    "CREATE INDEX documents_by_last_job ON documents (connector_id, last_job, document_id);"
    "CREATE TABLE checkpoints ("
    "  connector_id TEXT COLLATE \"C\" NOT NULL PRIMARY KEY"
    "    REFERENCES connectors (id) ON DELETE CASCADE,"
    "  data BYTEA NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  version BIGINT NOT NULL DEFAULT 1,"
    "  size BIGINT NOT NULL);"
    "CREATE TABLE checkpoint_versions ("
    "  connector_id TEXT COLLATE \"C\" NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,"
    "  version BIGINT NOT NULL,"
    "  size BIGINT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  data BYTEA NOT NULL,"
    "  PRIMARY KEY (connector_id, version));"
    "CREATE TABLE client_tokens ("
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  operation SMALLINT NOT NULL,"
    "  scope TEXT COLLATE \"C\" NOT NULL,"
    "  token TEXT COLLATE \"C\" NOT NULL,"
    "  body_hash BYTEA NOT NULL,"
    "  resource_id TEXT NOT NULL,"
    "  connector_id TEXT COLLATE \"C\" REFERENCES connectors (id) ON DELETE CASCADE,"
    "  created_at BIGINT NOT NULL,"
    "  PRIMARY KEY (tenant, operation, scope, token));"
    "CREATE INDEX client_tokens_by_age ON client_tokens (created_at);"
    "CREATE INDEX client_tokens_by_connector ON client_tokens (connector_id);"
    "CREATE TABLE job_changes ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  connector_id TEXT COLLATE \"C\" NOT NULL,"
    "  job_id TEXT COLLATE \"C\" NOT NULL,"
    "  old_status SMALLINT NOT NULL,"
    "  new_status SMALLINT NOT NULL,"
    "  at BIGINT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  detail TEXT NOT NULL);"
    "CREATE INDEX job_changes_by_tenant ON job_changes (tenant, seq);"
    "CREATE TABLE stream_cursors ("
    "  consumer TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,"
    "  seq BIGINT NOT NULL);",
    /* 2: the audit log (SQLite's migration 10; the outbox's seq is an
     * identity already, which never goes back). Its writers take the
     * outbox's lock before drawing seq (audit.c). */
    "CREATE TABLE audit_events ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  at BIGINT NOT NULL,"
    "  request_id TEXT NOT NULL,"
    "  operation TEXT NOT NULL,"
    "  access_key_id TEXT NOT NULL,"
    "  principal_job TEXT,"
    "  source_ip TEXT NOT NULL,"
    "  connector_id TEXT,"
    "  job_id TEXT,"
    "  status INTEGER NOT NULL,"
    "  error_type TEXT);"
    "CREATE INDEX audit_by_tenant ON audit_events (tenant, seq);",
    /* 3: webhooks (SQLite's migration 9): a cursor into the event stream
     * per webhook, and each tried event's attempts, deleted with their
     * webhook and pruned with their events (changes.c). event_types is
     * ",a,b," or NULL for every type. */
    "CREATE TABLE webhooks ("
    "  id TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  url TEXT NOT NULL,"
    "  event_types TEXT,"
    "  description TEXT,"
    "  secret TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  start_seq BIGINT NOT NULL,"
    "  cursor BIGINT NOT NULL);"
    "CREATE INDEX webhooks_by_tenant ON webhooks (tenant, created_at, id);"
    "CREATE TABLE webhook_deliveries ("
    "  webhook_id TEXT COLLATE \"C\" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,"
    "  seq BIGINT NOT NULL,"
    "  status SMALLINT NOT NULL CHECK (status IN (0, 1, 2)),"
    "  attempts INTEGER NOT NULL,"
    "  first_attempt_at BIGINT NOT NULL,"
    "  last_attempt_at BIGINT NOT NULL,"
    "  next_attempt_at BIGINT,"
    "  last_status_code INTEGER,"
    "  last_error TEXT,"
    "  PRIMARY KEY (webhook_id, seq));"
    "CREATE INDEX webhook_deliveries_by_seq ON webhook_deliveries (seq);",
    /* 4: replicas and the runner of each job (replicas.c). Heartbeats are
     * on the database's clock; session_pid and session_start name the
     * replica's leadership session, whose end says at once that it died. A job's runner is NULL
     * until the leader assigns it; the partial indexes keep the leader's and each runner's queries
     * off the ended jobs. */
    "CREATE TABLE replicas ("
    "  id TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,"
    "  host TEXT NOT NULL,"
    "  pid BIGINT NOT NULL,"
    "  slots INTEGER NOT NULL,"
    "  heartbeat_at TIMESTAMPTZ NOT NULL,"
    "  started_at TIMESTAMPTZ NOT NULL,"
    "  session_pid INTEGER,"
    "  session_start TIMESTAMPTZ);"
    "ALTER TABLE jobs ADD COLUMN runner TEXT COLLATE \"C\";"
    "CREATE INDEX jobs_by_runner ON jobs (runner, created_at, id) WHERE status IN (0, 1, 2);"
    "CREATE INDEX jobs_unassigned ON jobs (created_at, id) WHERE runner IS NULL AND status = 0;",
    /* 5: job logs shipped by the replica running the job, read by any
     * (joblogs.c); TestWebhook's pings waiting for the leader's deliverer
     * (pings.c). Both go with their job or webhook. */
    "CREATE TABLE job_log_chunks ("
    "  job_id TEXT COLLATE \"C\" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
    "  attempt INTEGER NOT NULL,"
    "  off BIGINT NOT NULL,"
    "  data BYTEA NOT NULL,"
    "  PRIMARY KEY (job_id, attempt, off));"
    "CREATE TABLE webhook_pings ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  webhook_id TEXT COLLATE \"C\" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,"
    "  tenant TEXT COLLATE \"C\" NOT NULL,"
    "  at BIGINT NOT NULL);"
    "CREATE INDEX webhook_pings_by_webhook ON webhook_pings (webhook_id);",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The recorded version (0 for an empty database). */
static int read_version(struct pg__conn *c, int64_t *out)
{
    PGresult *r = PQexec(c->db, "SELECT COALESCE(max(version), 0) FROM ccf_schema");
    int rc = 0;

    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = pg__fail(c, r, "store.migrate_failed", "open");
    else
        *out = pg__int(r, 0, 0);
    PQclear(r);
    return rc;
}

static int apply(struct pg__conn *c, int64_t from)
{
    char sql[64];
    int rc;

    for (int64_t v = from; v < SCHEMA_VERSION; v++) {
        if ((rc = pg__exec(c, migrations[v], "open")) < 0)
            return rc;
        CCF_LOG_INFO("store.migrated", CCF_KV_STR("backend", "postgresql"),
                     CCF_KV_INT("version", v + 1));
    }
    if (from == SCHEMA_VERSION)
        return 0;
    snprintf(sql, sizeof(sql), "DELETE FROM ccf_schema; INSERT INTO ccf_schema VALUES (%d)",
             SCHEMA_VERSION);
    return pg__exec(c, sql, "open");
}

/* Reads the secret, making it first if the database has none (the first
 * replica to migrate makes it; the lock orders the others after). */
static int secret(struct pg__conn *c, unsigned char out[32])
{
    const char *params[1];
    int lens[1] = {32}, fmts[1] = {1};
    unsigned char fresh[32];
    PGresult *r;
    int rc;

    if ((rc = ccf_random_bytes(fresh, sizeof(fresh))) < 0)
        return rc;
    params[0] = (const char *)fresh;
    r = PQexecParams(c->db,
                     "INSERT INTO meta (key, value) VALUES ('" SECRET_KEY "', $1) "
                     "ON CONFLICT (key) DO NOTHING",
                     1, NULL, params, lens, fmts, 0);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg__fail(c, r, "store.migrate_failed", "open");
        PQclear(r);
        return rc;
    }
    PQclear(r);
    r = PQexecParams(c->db, "SELECT value FROM meta WHERE key = '" SECRET_KEY "'", 0, NULL, NULL,
                     NULL, NULL, 1);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
        PQgetlength(r, 0, 0) != 32) {
        rc = r && PQresultStatus(r) == PGRES_TUPLES_OK
                 ? CCF_EIO
                 : pg__fail(c, r, "store.migrate_failed", "open");
        if (rc == CCF_EIO)
            CCF_LOG_ERROR("store.bad_secret", CCF_KV_STR("backend", "postgresql"));
    } else {
        memcpy(out, PQgetvalue(r, 0, 0), 32);
        rc = 0;
    }
    PQclear(r);
    memset(fresh, 0, sizeof(fresh));
    return rc;
}

int pg__migrate(struct pg__conn *c, unsigned char out[32])
{
    int64_t v = 0;
    int rc;

    if ((rc = pg__exec(c, "BEGIN", "open")) < 0)
        return rc;
    if ((rc = pg__exec(c,
                       "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
                       "CREATE TABLE IF NOT EXISTS ccf_schema (version INTEGER NOT NULL);"
                       "CREATE TABLE IF NOT EXISTS meta ("
                       "  key TEXT COLLATE \"C\" NOT NULL PRIMARY KEY, value BYTEA NOT NULL)",
                       "open")) < 0 ||
        (rc = read_version(c, &v)) < 0)
        goto fail;
    if (v < 0 || v > SCHEMA_VERSION) {
        CCF_LOG_ERROR("store.schema_too_new", CCF_KV_STR("backend", "postgresql"),
                      CCF_KV_INT("version", v), CCF_KV_INT("known", SCHEMA_VERSION));
        rc = CCF_EIO;
        goto fail;
    }
    if ((rc = apply(c, v)) < 0 || (rc = secret(c, out)) < 0)
        goto fail;
    return pg__exec(c, "COMMIT", "open");
fail:
    (void)pg__exec(c, "ROLLBACK", "open");
    return rc;
}
