/* store_downgrade.h: takes a test's SQLite database back to an older schema
 * version by undoing the migrations after it, newest first, so that a test
 * can check that a migration works on a file that already holds data.
 *
 * store_undo[i] undoes migration i + 1 of src/store/schema.c: a migration
 * added there needs its undo here, and the tests that compare the opened
 * file's user_version with STORE_TEST_SCHEMA_VERSION fail until it has one. */
#ifndef CCF_TESTS_STORE_DOWNGRADE_H
#define CCF_TESTS_STORE_DOWNGRADE_H

#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>

static const char *const store_undo[] = {
    /* 1: the initial schema; never undone. */
    NULL,
    /* 2 */
    "DROP INDEX jobs_by_status;",
    /* 3: statistics and deletion detection. */
    "DROP INDEX documents_by_last_job; DROP TABLE job_stats;"
    "ALTER TABLE documents DROP COLUMN last_job;",
    /* 4: retries. */
    "ALTER TABLE jobs DROP COLUMN attempt; ALTER TABLE jobs DROP COLUMN next_attempt_at;"
    "ALTER TABLE jobs DROP COLUMN attempts; ALTER TABLE jobs DROP COLUMN spec;",
    /* 5: schedules, pause and triggers. */
    "DROP INDEX connectors_by_next_run; ALTER TABLE connectors DROP COLUMN schedule;"
    "ALTER TABLE connectors DROP COLUMN schedule_anchor;"
    "ALTER TABLE connectors DROP COLUMN next_run_at;"
    "ALTER TABLE connectors DROP COLUMN paused; ALTER TABLE jobs DROP COLUMN trigger;",
    /* 6: checkpoint versions and client tokens (their indexes go with the
     * table; checkpoints_meta must go before the columns it covers). */
    "DROP TABLE client_tokens; DROP TABLE checkpoint_versions; DROP INDEX checkpoints_meta;"
    "ALTER TABLE checkpoints DROP COLUMN size; ALTER TABLE checkpoints DROP COLUMN version;",
    /* 7: events. */
    "DROP INDEX job_changes_by_tenant; ALTER TABLE job_changes DROP COLUMN detail;"
    "ALTER TABLE job_changes DROP COLUMN type;",
    /* 8: a waiting job's status_reason. */
    "ALTER TABLE jobs DROP COLUMN status_reason;",
    /* 9: webhooks (their indexes go with the tables). */
    "DROP TABLE webhook_deliveries; DROP TABLE webhooks;",
    /* 10: the audit log (its index goes with the table), and the outbox
     * with AUTOINCREMENT again. */
    "DROP TABLE audit_events;"
    "CREATE TABLE job_changes_9 (seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL,"
    "  connector_id TEXT NOT NULL, job_id TEXT NOT NULL, old_status INTEGER NOT NULL,"
    "  new_status INTEGER NOT NULL, at INTEGER NOT NULL, type TEXT, detail TEXT);"
    "INSERT INTO job_changes_9 SELECT * FROM job_changes WHERE tenant != '';"
    "DROP TABLE job_changes; ALTER TABLE job_changes_9 RENAME TO job_changes;"
    "CREATE INDEX job_changes_by_tenant ON job_changes (tenant, seq);",
};

#define STORE_TEST_SCHEMA_VERSION ((int)(sizeof(store_undo) / sizeof(store_undo[0])))

/* The database at path (no store open on it) back at version. */
static inline void store_downgrade(const char *path, int version)
{
    char sql[64];
    sqlite3 *db;

    assert_true(version >= 1 && version <= STORE_TEST_SCHEMA_VERSION);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    for (int i = STORE_TEST_SCHEMA_VERSION - 1; i >= version; i--)
        assert_int_equal(sqlite3_exec(db, store_undo[i], NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

#endif
