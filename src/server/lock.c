/* lock.c: the data directory's lock (lock.h says why fcntl record locks).
 * A refused start is immediate (F_SETLK never waits) and names the holder,
 * which F_GETLK reports; the lock file's content is only a hint. */
#include "server/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"

/* The holder may exit between our F_SETLK and our F_GETLK: try again. */
#define LOCK_TRIES 5

static void whole_file(struct flock *l, short type)
{
    memset(l, 0, sizeof(*l));
    l->l_type = type;
    l->l_whence = SEEK_SET;
    l->l_start = 0;
    l->l_len = 0; /* to the end, however long the file grows */
}

/* The pid in the file, for people who look; a failure here is not fatal. */
static void write_pid(int fd, const char *path)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

    if (n < 0 || (size_t)n >= sizeof(buf) || ftruncate(fd, 0) != 0 ||
        pwrite(fd, buf, (size_t)n, 0) != (ssize_t)n)
        CCF_LOG_WARN("ccfd.lock_pid_unwritten", CCF_KV_STR("path", path),
                     CCF_KV_STR("error", strerror(errno)));
}

/* What the operator can do about a lock file that cannot be opened or
 * locked; start-up stops either way. */
static const char *lock_hint(int err)
{
    switch (err) {
    case EROFS:
        return "the data directory's file system is read-only: make it writable (remount, or "
               "repair the volume), then start ccfd again";
    case EACCES:
    case EPERM:
        return "ccfd's user may not write in the data directory: fix its owner or mode, then "
               "start ccfd again";
    case ENOSPC:
    case EDQUOT:
        return "the data directory's file system is full: free space, then start ccfd again";
    default:
        return "fix the cause named by error, then start ccfd again";
    }
}

static void log_lock_failed(const char *path, int err)
{
    CCF_LOG_ERROR("ccfd.lock_failed", CCF_KV_STR("path", path), CCF_KV_STR("error", strerror(err)),
                  CCF_KV_INT("errno", err), CCF_KV_STR("hint", lock_hint(err)));
}

/* 0 with the lock taken, 1 when held by *holder (0: it let go meanwhile),
 * CCF_EIO on failure. */
static int try_lock(int fd, const char *path, pid_t *holder)
{
    struct flock l;

    whole_file(&l, F_WRLCK);
    if (fcntl(fd, F_SETLK, &l) == 0)
        return 0;
    if (errno != EACCES && errno != EAGAIN) {
        log_lock_failed(path, errno);
        return CCF_EIO;
    }
    whole_file(&l, F_WRLCK);
    if (fcntl(fd, F_GETLK, &l) != 0) {
        log_lock_failed(path, errno);
        return CCF_EIO;
    }
    *holder = l.l_type == F_UNLCK ? 0 : l.l_pid;
    return 1;
}

static char *lock_path(const char *dir)
{
    size_t n;
    char *p;

    if (!ccf_size_add(strlen(dir), sizeof(SERVER_LOCK_FILE) + 1, &n))
        abort(); /* a bounded path: cannot happen */
    p = ccf_xmalloc(n);
    snprintf(p, n, "%s/%s", dir, SERVER_LOCK_FILE);
    return p;
}

int server__lock_take(const char *dir, int *fd_out)
{
    char *path = lock_path(dir);
    pid_t holder = 0;
    int fd, rc = CCF_EIO;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_lock_failed(path, errno);
        goto out;
    }
    for (int i = 0; i < LOCK_TRIES; i++) {
        if ((rc = try_lock(fd, path, &holder)) <= 0)
            break;
        rc = CCF_ECONFLICT;
        if (holder > 0)
            break;
    }
    if (rc == CCF_ECONFLICT)
        CCF_LOG_ERROR("ccfd.data_dir_locked", CCF_KV_STR("data_dir", dir),
                      CCF_KV_INT("holder_pid", holder), CCF_KV_STR("lock_file", path),
                      CCF_KV_STR("hint", "another ccfd serves this data directory; stop it "
                                         "first, or give this one another --data-dir"));
    if (rc < 0)
        goto out;
    write_pid(fd, path);
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

void server__lock_release(int fd)
{
    if (fd < 0)
        return;
    /* No pid left behind for a script to signal once it is reused; still
     * ours to change, as we hold the lock. */
    if (ftruncate(fd, 0) != 0)
        CCF_LOG_WARN("ccfd.lock_pid_left", CCF_KV_STR("error", strerror(errno)));
    close(fd); /* the last descriptor of ours on the file: the lock goes */
}
