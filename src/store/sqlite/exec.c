/* exec.c: the statement layer of the SQLite backend (sqlite_int.h): error
 * mapping and logging, the per-connection statement cache, BEGIN, COMMIT
 * and ROLLBACK, binding and reading columns. It calls nothing of the
 * connection or group-commit layers: what it needs of its handle is in
 * c->env. */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

int store__map(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        return CCF_EUNAVAIL;
    default:
        return CCF_EIO;
    }
}

bool store__probe_read_only(const char *probe)
{
    /* Creating a file sees a file system the kernel made read-only after an
     * error, which access() and statvfs() may not. Never the database's own
     * files: closing another descriptor of them would drop SQLite's locks. */
    int fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

    if (fd >= 0) {
        close(fd);
        unlink(probe);
        return false;
    }
    return errno == EROFS;
}

/* What an operator should do about rc, or NULL if it is ccfd's own error.
 * While store_open runs, ccfd exits on the error (it does not start without
 * its database); once it serves, it answers 503 and, when the cause is
 * gone, goes on by itself: the next call retries, and a file system mounted
 * again is reopened (sqlite.c). */
static const char *hint(struct store__conn *c, int rc, int sys_errno)
{
    bool starting = c && !atomic_load(&c->env->ready);

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return starting ? "another process holds the database lock; ccfd exits: start it again "
                          "once that process has let go"
                        : "another process holds the database lock; clients get 503 until it "
                          "lets go";
    case SQLITE_FULL:
        return starting ? "the disk is full; ccfd exits: free space and start it again"
                        : "the disk is full; free space, ccfd goes on by itself";
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        if (sys_errno == EROFS || (c && store__probe_read_only(c->env->probe)))
            return starting ? "the data directory's file system is read-only (see dmesg); ccfd "
                              "exits: repair it, mount it read-write and start ccfd again"
                            : "the data directory's file system is read-only (see dmesg); repair "
                              "it and mount it again, ccfd reopens the database by itself";
        if (sys_errno == ENOSPC)
            return starting ? "the disk is full; ccfd exits: free space and start it again"
                            : "the disk is full; free space, ccfd goes on by itself";
        return starting ? "the data directory cannot be written (see errno and dmesg); ccfd "
                          "exits: fix it and start ccfd again"
                        : "the data directory cannot be written (see errno and dmesg); fix it, "
                          "ccfd goes on by itself";
    default:
        return NULL;
    }
}

/* sqlite's messages name tables and columns, never bound values, so they
 * cannot leak document contents or checkpoint data. */
int store__fail(struct store__conn *c, int rc, const char *event, const char *op)
{
    /* A code found by ccfd rather than returned by a call: sqlite's own text for it. */
    const char *msg = c && c->db && sqlite3_errcode(c->db) != SQLITE_OK ? sqlite3_errmsg(c->db)
                                                                        : sqlite3_errstr(rc);
    int sys_errno = c && c->db ? sqlite3_system_errno(c->db) : 0;
    const char *what = hint(c, rc, sys_errno);

    if (what)
        CCF_LOG_ERROR(event, CCF_KV_STR("op", op), CCF_KV_INT("sqlite_rc", rc),
                      CCF_KV_STR("sqlite_error", msg), CCF_KV_INT("errno", sys_errno),
                      CCF_KV_STR("hint", what));
    else
        CCF_LOG_ERROR(event, CCF_KV_STR("op", op), CCF_KV_INT("sqlite_rc", rc),
                      CCF_KV_STR("sqlite_error", msg));
    switch (rc & 0xff) {
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        if (c)
            atomic_store(&c->env->suspect, true);
        break;
    default:
        break;
    }
    return store__map(rc);
}

int store__stmt(struct store__conn *c, enum store__q q, const char *sql, sqlite3_stmt **out,
                const char *op)
{
    int rc;

    if (!c->stmt[q]) {
        rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[q], NULL);
        if (rc != SQLITE_OK) {
            c->stmt[q] = NULL;
            return store__fail(c, rc, "store.prepare_failed", op);
        }
    }
    *out = c->stmt[q];
    return 0;
}

void store__reset(sqlite3_stmt *st)
{
    /* reset returns the last step's error again; it was handled there. */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int store__step_done(struct store__conn *c, sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st);

    rc = rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", op);
    store__reset(st);
    return rc;
}

int store__step_row(struct store__conn *c, sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? CCF_ENOTFOUND : store__fail(c, rc, "store.step_failed", op);
}

int store__step_int64(struct store__conn *c, sqlite3_stmt *st, int64_t dflt, int64_t *out,
                      const char *op)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 1;
    } else if (rc == SQLITE_DONE) {
        *out = dflt;
        rc = 0;
    } else {
        rc = store__fail(c, rc, "store.step_failed", op);
    }
    store__reset(st);
    return rc;
}

int64_t store__changes(struct store__conn *c)
{
    return sqlite3_changes64(c->db);
}

void store__finalize_all(struct store__conn *c)
{
    for (size_t i = 0; i < STORE__Q_COUNT; i++) {
        sqlite3_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
}

int store__begin(struct store__conn *c, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    c->changes_pending = c->events_pending = false;
    if ((rc = store__stmt(c, STORE__Q_BEGIN, "BEGIN IMMEDIATE", &st, op)) < 0)
        return rc;
    if ((rc = sqlite3_step(st)) != SQLITE_DONE)
        rc = store__fail(c, rc, "store.begin_failed", op);
    else
        rc = 0;
    store__reset(st);
    return rc;
}

int store__commit_sql(struct store__conn *c, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = store__stmt(c, STORE__Q_COMMIT, "COMMIT", &st, op)) < 0)
        goto fail;
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        rc = store__fail(c, rc, "store.commit_failed", op);
        store__reset(st);
        goto fail;
    }
    store__reset(st);
    return 0;
fail:
    store__rollback(c, op);
    return rc;
}

void store__rollback(struct store__conn *c, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc;

    c->changes_pending = c->events_pending = false;
    /* Some errors (SQLITE_FULL, SQLITE_IOERR, ...) already rolled back. */
    if (sqlite3_get_autocommit(c->db))
        return;
    if (store__stmt(c, STORE__Q_ROLLBACK, "ROLLBACK", &st, op) < 0)
        return;
    if ((rc = sqlite3_step(st)) != SQLITE_DONE)
        store__fail(c, rc, "store.rollback_failed", op);
    store__reset(st);
}

void store__bind_text(sqlite3_stmt *st, int i, const char *v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

void store__bind_textn(sqlite3_stmt *st, int i, const char *v, size_t n, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_text64(st, i, v, n, SQLITE_STATIC, SQLITE_UTF8);
}

void store__bind_int(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_int64(st, i, v);
}

void store__bind_time(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

void store__bind_blob(sqlite3_stmt *st, int i, const void *v, size_t n, int *rc)
{
    /* A non-NULL pointer makes an empty blob rather than SQL NULL. */
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_blob64(st, i, v ? v : "", n, SQLITE_STATIC);
}

int store__bind_check(struct store__conn *c, int rc, const char *op)
{
    return rc == SQLITE_OK ? 0 : store__fail(c, rc, "store.bind_failed", op);
}

int store__col_copy(sqlite3_stmt *st, int i, char *out, size_t size)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);

    if (!v) {
        out[0] = '\0';
        return 0;
    }
    if (n >= size) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("column", sqlite3_column_name(st, i)),
                      CCF_KV_INT("bytes", n));
        return CCF_EIO;
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

char *store__col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *v = sqlite3_column_text(st, i);

    return v ? ccf_xstrndup((const char *)v, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}
