/* attempts.c: several attempts of one job in one job directory. The job
 * keeps its directory and work/ (its HOME) from attempt to attempt; DIR/
 * attempt names the attempt the directory's spec, exit and log belong to
 * (absent: 1). Before attempt n + 1 starts, attempt n's log (log, log.old,
 * log.meta) moves to DIR/attempts/<n>/, where the logs operation still
 * reads it. Every step is safe to repeat after a crash: a file already
 * moved is not moved again (RENAME_NOREPLACE), and DIR/attempt is
 * rewritten only once the old state is gone. Also the list of the attempts
 * whose supervisors still run here (executor_live_attempts). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "executor/executor.h"
#include "executor/executor_int.h"
#include "executor/local_int.h"

#define ATTEMPT_FILE "attempt"
#define ATTEMPTS_DIR "attempts"

int executor__attempt_read(int dfd)
{
    char *buf = NULL;
    size_t len;
    long v;
    int rc = executor__read_file(dfd, ATTEMPT_FILE, 16, &buf, &len);

    if (rc == CCF_ENOTFOUND)
        return 1;
    if (rc < 0)
        return rc;
    v = strtol(buf, NULL, 10);
    free(buf);
    return v >= 1 && v <= 1000 ? (int)v : CCF_EIO;
}

int executor__attempt_write(int dfd, int attempt)
{
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%d\n", attempt);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return CCF_EINVAL;
    return executor__write_atomic(dfd, ATTEMPT_FILE, buf, (size_t)n, 0600);
}

/* Opens DIR/attempts/<n>/, making it if make. */
static int open_archive(int dfd, int n, bool make)
{
    char name[32];
    int fd;

    if (make && mkdirat(dfd, ATTEMPTS_DIR, 0700) < 0 && errno != EEXIST)
        return -1;
    snprintf(name, sizeof(name), ATTEMPTS_DIR "/%d", n);
    if (make && mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
        return -1;
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    return fd;
}

int executor__attempt_archive(int dfd, int n)
{
    static const char *const logs[] = {EXECUTOR__LOG, EXECUTOR__LOG_OLD, EXECUTOR__LOG_META};
    int adfd = open_archive(dfd, n, true), rc = 0;

    if (adfd < 0)
        return CCF_EIO;
    for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
        if (renameat2(dfd, logs[i], adfd, logs[i], RENAME_NOREPLACE) < 0 && errno != ENOENT &&
            errno != EEXIST)
            rc = CCF_EIO;
    }
    if (rc == 0 && (fsync(adfd) < 0 || fsync(dfd) < 0))
        rc = CCF_EIO;
    close(adfd);
    return rc;
}

int executor__local_read_attempt_log(struct executor_local *e, const char *id, int attempt,
                                     int64_t offset, char *buf, size_t len, int64_t *size,
                                     int64_t *dropped)
{
    int dfd, adfd, cur, rc;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    if ((dfd = openat(e->jobs_dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return errno == ENOENT ? CCF_ENOTFOUND : CCF_EIO;
    cur = executor__attempt_read(dfd);
    if (attempt <= 0 || attempt == cur) {
        rc = executor__log_read(dfd, offset, buf, len, size, dropped);
    } else if ((adfd = open_archive(dfd, attempt, false)) >= 0) {
        rc = executor__log_read(adfd, offset, buf, len, size, dropped);
        close(adfd);
    } else {
        rc = CCF_ENOTFOUND;
    }
    close(dfd);
    return rc;
}

/* The attempt held by job directory name when its supervisor still runs
 * (it holds DIR/lock); 0 otherwise. */
static int live_attempt(struct executor_local *e, const char *name)
{
    int dfd, attempt = 0;

    if (!ccf_job_id_valid(name) ||
        (dfd = openat(e->jobs_dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return 0;
    if (executor__exists(dfd, EXECUTOR__SPEC) && executor__lock_held(dfd))
        attempt = executor__attempt_read(dfd);
    close(dfd);
    return attempt > 0 ? attempt : 0;
}

static int list_live(struct executor_local *e, DIR *d, struct executor_live **out, size_t *n)
{
    struct dirent *de;
    size_t cap = 0;
    int attempt;

    while ((errno = 0, de = readdir(d)) != NULL) {
        if ((attempt = live_attempt(e, de->d_name)) == 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = ccf_xrealloc(*out, cap * sizeof(**out));
        }
        /* A valid job id (live_attempt checked it) fits. */
        memcpy((*out)[*n].job_id, de->d_name, strlen(de->d_name) + 1);
        (*out)[(*n)++].attempt = attempt;
    }
    return errno ? CCF_EIO : 0;
}

int executor__local_live(struct executor_local *e, struct executor_live **out, size_t *n)
{
    DIR *d;
    int fd, rc;

    *out = NULL;
    *n = 0;
    /* op_mu: the look at a free lock takes it for an instant, which must
     * not make a submit's own flock fail. */
    pthread_mutex_lock(&e->op_mu);
    if ((fd = openat(e->jobs_dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        pthread_mutex_unlock(&e->op_mu);
        return CCF_EIO;
    }
    rc = list_live(e, d, out, n);
    closedir(d);
    pthread_mutex_unlock(&e->op_mu);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
