/* joblog.c: a job's capped log. The supervisor appends the command's output
 * to DIR/log; when that file reaches half the cap it becomes DIR/log.old
 * (replacing the previous one) and a new DIR/log starts, so between half
 * the cap and the whole cap of the newest bytes are kept. DIR/log.meta
 * holds `base`, the absolute offset of DIR/log's first byte, rewritten in
 * place under an exclusive flock at each rotation; a reader takes the same
 * lock shared while it opens the files, so it always sees one consistent
 * pair. Then:
 *   size    = base + size(log)           bytes ever written
 *   dropped = base - size(log.old)       bytes no longer kept
 * The open files stay readable whatever the writer does next. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/executor_int.h"

#define META_LEN 26 /* "base=" + 20 digits + "\n" */

static int meta_write(int fd, int64_t base)
{
    char rec[META_LEN + 1];
    int n = snprintf(rec, sizeof(rec), "base=%020" PRId64 "\n", base);

    if (n != META_LEN || pwrite(fd, rec, META_LEN, 0) != META_LEN)
        return CCF_EIO;
    return 0;
}

/* An empty file is base 0 (it was just created). */
static int meta_read(int fd, int64_t *base)
{
    char rec[META_LEN + 1];
    ssize_t n = pread(fd, rec, META_LEN, 0);
    char *end;
    long long v;

    if (n == 0) {
        *base = 0;
        return 0;
    }
    if (n != META_LEN || strncmp(rec, "base=", 5) != 0)
        return CCF_EIO;
    rec[META_LEN] = '\0';
    errno = 0;
    v = strtoll(rec + 5, &end, 10);
    if (errno != 0 || *end != '\n' || v < 0)
        return CCF_EIO;
    *base = v;
    return 0;
}

int executor__log_init(int dfd)
{
    int fd = openat(dfd, EXECUTOR__LOG_META, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
    int rc;

    if (fd < 0)
        return CCF_EIO;
    rc = meta_write(fd, 0);
    close(fd);
    return rc;
}

int executor__log_open(struct executor__log *l, int dfd, int64_t max_bytes)
{
    struct stat st;

    *l = (struct executor__log){.meta_fd = -1, .fd = -1, .dfd = dfd};
    l->half = max_bytes < EXECUTOR__LOG_MIN ? 1 : max_bytes / 2;
    l->meta_fd = openat(dfd, EXECUTOR__LOG_META, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (l->meta_fd < 0 || meta_read(l->meta_fd, &l->base) < 0)
        goto fail;
    l->fd =
        openat(dfd, EXECUTOR__LOG, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (l->fd < 0 || fstat(l->fd, &st) < 0)
        goto fail;
    l->cur = st.st_size;
    return 0;
fail:
    CCF_LOG_ERROR("executor.log_open_failed", CCF_KV_STR("error", strerror(errno)));
    executor__log_close(l);
    return CCF_EIO;
}

void executor__log_close(struct executor__log *l)
{
    if (l->fd >= 0)
        close(l->fd);
    if (l->meta_fd >= 0)
        close(l->meta_fd);
    l->fd = l->meta_fd = -1;
}

static int rotate(struct executor__log *l)
{
    int fd = -1, rc = CCF_EIO;

    if (flock(l->meta_fd, LOCK_EX) < 0)
        return CCF_EIO;
    if (renameat(l->dfd, EXECUTOR__LOG, l->dfd, EXECUTOR__LOG_OLD) < 0)
        goto out;
    fd = openat(l->dfd, EXECUTOR__LOG,
                O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto out;
    if (meta_write(l->meta_fd, l->base + l->cur) < 0)
        goto out;
    close(l->fd);
    l->fd = fd;
    fd = -1;
    l->base += l->cur;
    l->cur = 0;
    rc = 0;
out:
    flock(l->meta_fd, LOCK_UN);
    if (fd >= 0)
        close(fd);
    return rc;
}

void executor__log_append(struct executor__log *l, const char *buf, size_t n)
{
    while (n > 0 && !l->failed) {
        size_t k;
        ssize_t w;

        if (l->cur >= l->half && rotate(l) < 0)
            goto fail;
        k = (size_t)(l->half - l->cur);
        if (k > n)
            k = n;
        w = write(l->fd, buf, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        l->cur += w;
        buf += w;
        n -= (size_t)w;
    }
    return;
fail:
    /* The job keeps running; its further output is drained and dropped. */
    CCF_LOG_ERROR("executor.log_write_failed", CCF_KV_STR("error", strerror(errno)));
    l->failed = true;
}

/* ---- reading ---- */

struct snapshot {
    int old_fd, fd;
    int64_t base, old_size, cur;
};

static int64_t fd_size(int fd)
{
    struct stat st;

    return fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
}

static int take_snapshot(int dfd, struct snapshot *s)
{
    int meta = openat(dfd, EXECUTOR__LOG_META, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int rc = 0;

    *s = (struct snapshot){.old_fd = -1, .fd = -1};
    if (meta < 0)
        return errno == ENOENT ? 0 : CCF_EIO; /* nothing written yet */
    if (flock(meta, LOCK_SH) < 0 || meta_read(meta, &s->base) < 0) {
        rc = CCF_EIO;
        goto out;
    }
    s->old_fd = openat(dfd, EXECUTOR__LOG_OLD, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    s->fd = openat(dfd, EXECUTOR__LOG, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    /* Sizes after the lock is dropped: log.old no longer changes once it
     * is open, and the writer only appends to the log we hold. */
out:
    close(meta);
    s->old_size = fd_size(s->old_fd);
    s->cur = fd_size(s->fd);
    if (s->old_size > s->base)
        s->old_size = s->base;
    return rc;
}

static int read_range(int fd, int64_t pos, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(pos + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return CCF_EIO;
        got += (size_t)r;
    }
    return 0;
}

int executor__log_read(int dfd, int64_t offset, char *buf, size_t len, int64_t *size,
                       int64_t *dropped)
{
    struct snapshot s;
    int64_t total, first, start, n, from_old = 0;
    int rc;

    if ((rc = take_snapshot(dfd, &s)) < 0)
        goto out;
    total = s.base + s.cur;
    first = s.base - s.old_size;
    if (offset < 0)
        start = offset < -total ? 0 : total + offset;
    else
        start = offset > total ? total : offset;
    if (start < first)
        start = first;
    n = total - start;
    if ((uint64_t)n > len)
        n = (int64_t)len;
    if (n > INT_MAX)
        n = INT_MAX;
    if (start < s.base) {
        from_old = s.base - start < n ? s.base - start : n;
        rc = read_range(s.old_fd, start - first, buf, (size_t)from_old);
    }
    if (rc == 0 && n > from_old)
        rc = read_range(s.fd, start + from_old - s.base, buf + from_old, (size_t)(n - from_old));
    if (rc == 0) {
        *size = total;
        *dropped = first;
        rc = (int)n;
    }
out:
    if (s.old_fd >= 0)
        close(s.old_fd);
    if (s.fd >= 0)
        close(s.fd);
    return rc;
}
