/* backup.c: store_backup, SQLite's online backup API run inside one read
 * transaction of its own. Without that transaction each backup step would
 * take a fresh snapshot and, once another connection had written, start
 * over: under a steady write load it would never end. Holding it, the
 * steps copy one snapshot in chunks, and since a WAL reader blocks no
 * writer, ccfd's writes go on meanwhile (the WAL grows until the copy ends:
 * a checkpoint cannot pass a reader's snapshot). */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define STEP_PAGES      1024 /* 4 MiB a step at the default page size */
#define BUSY_TIMEOUT_MS 5000 /* the source's first read may meet WAL recovery */

struct backup {
    const char *src_path, *dst_path;
    char *tmp; /* the copy until it is renamed; NULL once it is */
    sqlite3 *src, *dst;
    int64_t pages, page_size;
};

static int fail_sqlite(sqlite3 *db, const char *what, const char *path)
{
    CCF_LOG_ERROR("store.backup_failed", CCF_KV_STR("step", what), CCF_KV_STR("path", path),
                  CCF_KV_STR("error", db ? sqlite3_errmsg(db) : "out of memory"));
    return CCF_EIO;
}

static int fail_errno(const char *what, const char *path)
{
    CCF_LOG_ERROR("store.backup_failed", CCF_KV_STR("step", what), CCF_KV_STR("path", path),
                  CCF_KV_STR("error", strerror(errno)));
    return CCF_EIO;
}

/* Whether dst names one of the database's own files (db, db-wal, db-shm,
 * db-journal): replacing one would corrupt the live store. */
static bool is_db_file(const char *src, const char *dst)
{
    char *sd = ccf_xstrdup(src), *dd = ccf_xstrdup(dst);
    char *sslash = strrchr(sd, '/'), *dslash = strrchr(dd, '/');
    const char *sbase = sslash ? sslash + 1 : sd, *dbase = dslash ? dslash + 1 : dd;
    char *sreal, *dreal;
    bool same = false;

    if (sslash)
        *sslash = '\0';
    if (dslash)
        *dslash = '\0';
    sreal = realpath(sslash ? (sd[0] ? sd : "/") : ".", NULL);
    dreal = realpath(dslash ? (dd[0] ? dd : "/") : ".", NULL);
    if (sreal && dreal && strcmp(sreal, dreal) == 0)
        same = strncmp(dbase, sbase, strlen(sbase)) == 0;
    free(sreal);
    free(dreal);
    free(sd);
    free(dd);
    return same;
}

/* The copy must not replace the database, nor anything but a file. */
static int check_paths(const char *src, const char *dst)
{
    struct stat s, d;

    if (stat(src, &s) != 0) {
        if (errno == ENOENT)
            return CCF_ENOTFOUND;
        return fail_errno("stat", src);
    }
    if (is_db_file(src, dst)) {
        CCF_LOG_ERROR("store.backup_refused", CCF_KV_STR("path", dst),
                      CCF_KV_STR("reason", "it is one of the database's own files"));
        return CCF_EINVAL;
    }
    if (stat(dst, &d) != 0)
        return errno == ENOENT ? 0 : fail_errno("stat", dst);
    if (s.st_dev == d.st_dev && s.st_ino == d.st_ino) {
        CCF_LOG_ERROR("store.backup_refused", CCF_KV_STR("path", dst),
                      CCF_KV_STR("reason", "it is the database itself"));
        return CCF_EINVAL;
    }
    if (!S_ISREG(d.st_mode)) {
        CCF_LOG_ERROR("store.backup_refused", CCF_KV_STR("path", dst),
                      CCF_KV_STR("reason", "not a regular file"));
        return CCF_EINVAL;
    }
    return 0;
}

/* Opens the source without creating it and starts the read transaction
 * that pins the snapshot. */
static int open_source(struct backup *b)
{
    int rc = sqlite3_open_v2(b->src_path, &b->src, SQLITE_OPEN_READWRITE, NULL);

    if (rc != SQLITE_OK)
        return fail_sqlite(b->src, "open", b->src_path);
    sqlite3_busy_timeout(b->src, BUSY_TIMEOUT_MS);
    if (sqlite3_exec(b->src, "BEGIN; SELECT count(*) FROM sqlite_schema;", NULL, NULL, NULL) !=
        SQLITE_OK)
        return fail_sqlite(b->src, "begin", b->src_path);
    return 0;
}

/* An empty file of ours (0600, beside dst so that rename is atomic), which
 * SQLite then takes as a new database. */
static int open_dest(struct backup *b)
{
    size_t n = strlen(b->dst_path) + sizeof(".XXXXXX");
    int fd, rc;

    b->tmp = ccf_xmalloc(n);
    if (snprintf(b->tmp, n, "%s.XXXXXX", b->dst_path) >= (int)n)
        abort(); /* n was counted for it */
    if ((fd = mkstemp(b->tmp)) < 0) {
        rc = fail_errno("create", b->tmp);
        free(b->tmp);
        b->tmp = NULL;
        return rc;
    }
    close(fd);
    if (sqlite3_open_v2(b->tmp, &b->dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return fail_sqlite(b->dst, "open", b->tmp);
    return 0;
}

static int copy(struct backup *b)
{
    sqlite3_backup *bk = sqlite3_backup_init(b->dst, "main", b->src, "main");
    int rc;

    if (!bk)
        return fail_sqlite(b->dst, "backup_init", b->tmp);
    do {
        rc = sqlite3_backup_step(bk, STEP_PAGES);
    } while (rc == SQLITE_OK);
    b->pages = sqlite3_backup_pagecount(bk);
    if (sqlite3_backup_finish(bk) != SQLITE_OK || rc != SQLITE_DONE)
        return fail_sqlite(b->dst, "backup_step", b->tmp);
    return 0;
}

/* The copy as one self-contained file (no -wal beside it), checked. */
static int finish_dest(struct backup *b)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *res;
    int rc = 0;

    if (sqlite3_exec(b->dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK)
        return fail_sqlite(b->dst, "journal_mode", b->tmp);
    if (sqlite3_prepare_v2(b->dst, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        rc = fail_sqlite(b->dst, "quick_check", b->tmp);
    else if (!(res = sqlite3_column_text(st, 0)) || strcmp((const char *)res, "ok") != 0) {
        CCF_LOG_ERROR("store.backup_failed", CCF_KV_STR("step", "quick_check"),
                      CCF_KV_STR("path", b->tmp), CCF_KV_STR("error", (const char *)res));
        rc = CCF_EIO;
    }
    sqlite3_finalize(st);
    b->page_size = 0;
    if (rc == 0 && sqlite3_prepare_v2(b->dst, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            b->page_size = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return rc;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return fail_errno("open", path);
    if (fsync(fd) != 0)
        rc = fail_errno("fsync", path);
    close(fd);
    return rc;
}

/* tmp -> dst, durably: the file's data, then the name in its directory. */
static int commit_dest(struct backup *b)
{
    char *dir = ccf_xstrdup(b->dst_path), *slash = strrchr(dir, '/');
    int rc;

    if ((rc = fsync_path(b->tmp, O_RDONLY)) < 0)
        goto out;
    if (rename(b->tmp, b->dst_path) != 0) {
        rc = fail_errno("rename", b->dst_path);
        goto out;
    }
    free(b->tmp);
    b->tmp = NULL;
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    rc = fsync_path(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
out:
    free(dir);
    return rc;
}

/* A copy left half-made goes, with what SQLite may have made beside it. */
static void remove_tmp(const char *tmp)
{
    static const char *const sfx[] = {"", "-journal", "-wal", "-shm"};
    char p[4096];

    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        int n = snprintf(p, sizeof(p), "%s%s", tmp, sfx[i]);
        if (n > 0 && (size_t)n < sizeof(p))
            (void)unlink(p);
    }
}

int store_backup(const char *db_path, const char *dest_path, struct store_backup_stats *stats)
{
    struct backup b = {.src_path = db_path, .dst_path = dest_path};
    int64_t t0 = ccf_mono_us();
    int rc;

    if ((rc = check_paths(db_path, dest_path)) < 0 || (rc = open_source(&b)) < 0 ||
        (rc = open_dest(&b)) < 0 || (rc = copy(&b)) < 0)
        goto out;
    /* The snapshot is copied: let the source's WAL be checkpointed again. */
    sqlite3_exec(b.src, "COMMIT", NULL, NULL, NULL);
    if ((rc = finish_dest(&b)) < 0)
        goto out;
    if (sqlite3_close(b.dst) != SQLITE_OK) {
        rc = fail_sqlite(b.dst, "close", b.tmp);
        goto out;
    }
    b.dst = NULL;
    rc = commit_dest(&b);
out:
    sqlite3_close(b.dst);
    sqlite3_close(b.src); /* ends the read transaction if still open */
    if (b.tmp) {
        remove_tmp(b.tmp);
        free(b.tmp);
    }
    if (rc == 0 && stats)
        *stats = (struct store_backup_stats){
            .pages = b.pages, .bytes = b.pages * b.page_size, .duration_us = ccf_mono_us() - t0};
    return rc;
}
