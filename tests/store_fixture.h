/* store_fixture.h: what the store's unit tests share: a temp directory per
 * test with the database file in it, the store opened on that file, the
 * directory removed at teardown, and SQL on a separate connection to set up
 * or read what the store's API cannot.
 *
 * Static inline, as store_downgrade.h, because the Makefile builds each
 * tests/test_*.c as its own binary. What a file's fixture holds besides
 * (tenants, connectors, settings) stays in that file. */
#ifndef CCF_TESTS_STORE_FIXTURE_H
#define CCF_TESTS_STORE_FIXTURE_H

#include <cmocka.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

#define STORE_FX_DIR_MAX  64
#define STORE_FX_PATH_MAX 128

/* dir: a new /tmp/ccf-test-<name>-XXXXXX; path: its ccf.db (not created). */
static inline void store_fx_mkdtemp(const char *name, char dir[STORE_FX_DIR_MAX],
                                    char path[STORE_FX_PATH_MAX])
{
    int n = snprintf(dir, STORE_FX_DIR_MAX, "/tmp/ccf-test-%s-XXXXXX", name);

    assert_true(n > 0 && n < STORE_FX_DIR_MAX);
    assert_non_null(mkdtemp(dir));
    n = snprintf(path, STORE_FX_PATH_MAX, "%s/ccf.db", dir);
    assert_true(n > 0 && n < STORE_FX_PATH_MAX);
}

/* store_open on path; synchronous NULL and history 0 are the defaults. */
static inline int store_fx_open(struct store **s, const char *path, const char *synchronous,
                                int history)
{
    struct store_config cfg = {
        .path = path, .synchronous = synchronous, .checkpoint_history = history};

    return store_open(s, &cfg);
}

static inline int store_fx_rm_entry(const char *path, const struct stat *sb, int flag,
                                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* For a teardown: closes s (NULL: none open) and removes dir with all in it. */
static inline void store_fx_remove(struct store *s, const char *dir)
{
    store_close(s);
    assert_int_equal(nftw(dir, store_fx_rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* sql on a connection of its own to the file at path; it must succeed. */
static inline void store_fx_exec(const char *path, const char *sql)
{
    sqlite3 *db;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The first column of the first row of sql, read as store_fx_exec writes. */
static inline int64_t store_fx_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

#endif
