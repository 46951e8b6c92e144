/* local.c: the machinery of the backends that run jobs on this machine
 * (local, and podman on top of it), in ccfd: submit (write DIR/spec, spawn
 * `self_exe supervise DIR` in a session of its own), cancel (SIGTERM to
 * the live supervisor), recover (adopt a live supervisor or collect what
 * an ended one left), read_log and forget. What a job directory holds and
 * why is in executor_int.h; the watcher thread is in watch.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/executor.h"
#include "executor/executor_int.h"
#include "executor/local_int.h"

#define DEFAULT_GRACE_S 10
#define DEFAULT_LOG_MAX ((size_t)64 * 1024 * 1024)
#define ADOPT_TRIES     400 /* x 5 ms: a supervisor writes its pid right after it starts */

extern char **environ;

static int open_job_dir(struct executor_local *e, const char *id)
{
    return openat(e->jobs_dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* ---- recover ---- */

/* If the dead supervisor was our child (spawned by an executor this
 * process closed), its zombie goes. P_PIDFD reaps nothing that is not a
 * child of ours that has ended, and outcomes come from the files anyway. */
static void reap_stale(struct executor_local *e, int dfd)
{
    siginfo_t si;
    pid_t pid;
    int pidfd;

    if (!e->have_pidfd || executor__pid_read(dfd, &pid) < 0 ||
        (pidfd = executor__pidfd_open(pid)) < 0)
        return;
    memset(&si, 0, sizeof(si));
    waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
    close(pidfd);
}

/* The supervisor is gone: an outcome (or its absence, after the command
 * ran) is reported by the watcher; a job that never ran is submitted anew. */
static int collect_ended(struct executor_local *e, const char *id, int dfd)
{
    struct xjob_init in = {.pidfd = -1, .notify_fd = -1, .adopted = true};

    reap_stale(e, dfd);
    if (executor__exists(dfd, EXECUTOR__EXIT) || executor__exists(dfd, EXECUTOR__RUNNING))
        return executor__watch_add(e, id, &in);
    if (unlinkat(dfd, EXECUTOR__SPEC, 0) < 0 && errno != ENOENT)
        return CCF_EIO;
    CCF_LOG_INFO("executor.never_started", CCF_KV_STR("job_id", id));
    return 1;
}

/* The live supervisor's pid and (with pidfd support) pidfd. CCF_ENOTFOUND
 * to look again: no pid file yet, or the supervisor ended meanwhile. The
 * lock, still held once the pidfd is open, proves the pid was not reused. */
static int find_supervisor(struct executor_local *e, int dfd, pid_t *pid, int *pidfd)
{
    *pidfd = -1;
    if (executor__pid_read(dfd, pid) < 0)
        return CCF_ENOTFOUND;
    if (e->have_pidfd && (*pidfd = executor__pidfd_open(*pid)) < 0)
        return CCF_ENOTFOUND;
    if (!e->have_pidfd && kill(*pid, 0) < 0)
        return CCF_ENOTFOUND;
    if (!executor__lock_held(dfd)) {
        if (*pidfd >= 0)
            close(*pidfd);
        *pidfd = -1;
        return CCF_ENOTFOUND;
    }
    return 0;
}

static int try_adopt(struct executor_local *e, const char *id, int dfd)
{
    struct xjob_init in = {.notify_fd = -1, .alive = true, .adopted = true};

    if (find_supervisor(e, dfd, &in.pid, &in.pidfd) < 0)
        return CCF_ENOTFOUND;
    CCF_LOG_INFO("executor.adopt", CCF_KV_STR("job_id", id), CCF_KV_INT("pid", in.pid));
    return executor__watch_add(e, id, &in);
}

static bool watched(struct executor_local *e, const char *id)
{
    bool w;

    pthread_mutex_lock(&e->mu);
    w = executor__watch_find(e, id) != NULL;
    pthread_mutex_unlock(&e->mu);
    return w;
}

/* Adopts the live supervisor of a submitted job. When it ends meanwhile,
 * recover collects what it left; submit leaves it alone (1). */
static int adopt_or_collect(struct executor_local *e, const char *id, int dfd, bool collect)
{
    int rc;

    /* The lock first: the exit file is written before it is released. */
    for (int i = 0; i < ADOPT_TRIES; i++) {
        if (!executor__lock_held(dfd))
            return collect ? collect_ended(e, id, dfd) : 0;
        if ((rc = try_adopt(e, id, dfd)) != CCF_ENOTFOUND)
            return rc;
        sleep_ms(5);
    }
    CCF_LOG_ERROR("executor.adopt_failed", CCF_KV_STR("job_id", id));
    return CCF_EIO;
}

/* Call with op_mu held. 1 if the job has no spec (never submitted), or if
 * recovering and its supervisor died before the command ran. */
static int recover_locked(struct executor_local *e, const char *id, bool collect)
{
    int dfd, rc = 1;

    if (watched(e, id))
        return 0;
    if ((dfd = open_job_dir(e, id)) < 0)
        return errno == ENOENT ? 1 : CCF_EIO;
    if (executor__exists(dfd, EXECUTOR__SPEC))
        rc = adopt_or_collect(e, id, dfd, collect);
    close(dfd);
    return rc;
}

/* The attempt DIR holds, or 0 without a directory. */
static int dir_attempt(struct executor_local *e, const char *id)
{
    int dfd = open_job_dir(e, id), rc;

    if (dfd < 0)
        return errno == ENOENT ? 0 : CCF_EIO;
    rc = executor__attempt_read(dfd);
    close(dfd);
    return rc;
}

int executor__local_recover(struct executor_local *e, const char *id, int attempt)
{
    int rc, cur;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    pthread_mutex_lock(&e->op_mu);
    if (attempt > 0 && (cur = dir_attempt(e, id)) > 0 && cur < attempt)
        rc = 1; /* an earlier attempt's state: this one never reached us */
    else
        rc = recover_locked(e, id, true);
    pthread_mutex_unlock(&e->op_mu);
    return rc;
}

/* ---- submit ---- */

/* Fresh state for a (re)submission: nothing of an earlier attempt counts. */
static int reset_dir(int dfd)
{
    static const char *const stale[] = {EXECUTOR__PID, EXECUTOR__RUNNING, EXECUTOR__EXIT,
                                        EXECUTOR__LOG, EXECUTOR__LOG_OLD, EXECUTOR__SUP_LOG,
                                        EXECUTOR__SPEC};

    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        if (unlinkat(dfd, stale[i], 0) < 0 && errno != ENOENT)
            return CCF_EIO;
    }
    return executor__log_init(dfd);
}

/* fd moved to 5 or above (close-on-exec), so that the spawn's dup2 to 3
 * and 4 cannot clobber one with the other. */
static int high_fd(int *fd)
{
    int nfd;

    if (*fd > EXECUTOR__LOCK_FD)
        return 0;
    if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, EXECUTOR__LOCK_FD + 1)) < 0)
        return CCF_EIO;
    close(*fd);
    *fd = nfd;
    return 0;
}

struct spawn_fds {
    int lock_fd;
    int notify[2];
};

static int spawn_supervisor(struct executor_local *e, const char *dir, struct spawn_fds *f,
                            pid_t *pid)
{
    char log_path[PATH_MAX];
    char *argv[] = {e->self_exe, (char *)"supervise", (char *)dir, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t mask, all;
    int n, rc;

    n = snprintf(log_path, sizeof(log_path), "%s/%s", dir, EXECUTOR__SUP_LOG);
    if (n < 0 || (size_t)n >= sizeof(log_path))
        return ENAMETOOLONG;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigfillset(&all);
    posix_spawnattr_init(&at);
    /* A new session survives ccfd; signals start blocked so that a cancel
     * sent before the supervisor's signalfd exists waits for it. */
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &mask);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, f->notify[1], EXECUTOR__NOTIFY_FD);
    posix_spawn_file_actions_adddup2(&fa, f->lock_fd, EXECUTOR__LOCK_FD);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addclosefrom_np(&fa, EXECUTOR__LOCK_FD + 1);
    rc = posix_spawn(pid, e->self_exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

static int prepare(struct executor_local *e, const char *id, int attempt, const char *spec,
                   size_t len, struct spawn_fds *f)
{
    int dfd, rc = CCF_EIO;

    if (mkdirat(e->jobs_dfd, id, 0700) < 0 && errno != EEXIST)
        return CCF_EIO;
    if ((dfd = open_job_dir(e, id)) < 0)
        return CCF_EIO;
    f->lock_fd = openat(dfd, EXECUTOR__LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f->lock_fd < 0)
        goto out;
    if (flock(f->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? CCF_ECONFLICT : CCF_EIO;
        close(f->lock_fd);
        f->lock_fd = -1; /* from here on, lock_fd >= 0 means the lock is ours */
        goto out;
    }
    if (reset_dir(dfd) < 0 || executor__attempt_write(dfd, attempt) < 0 ||
        executor__write_atomic(dfd, EXECUTOR__SPEC, spec, len, 0600) < 0)
        goto out;
    if (pipe2(f->notify, O_CLOEXEC) < 0 || high_fd(&f->lock_fd) < 0 || high_fd(&f->notify[1]) < 0 ||
        fcntl(f->notify[0], F_SETFL, O_NONBLOCK) < 0)
        goto out;
    rc = 0;
out:
    close(dfd);
    return rc;
}

static void close_spawn_fds(struct spawn_fds *f)
{
    if (f->lock_fd >= 0)
        close(f->lock_fd);
    if (f->notify[0] >= 0)
        close(f->notify[0]);
    if (f->notify[1] >= 0)
        close(f->notify[1]);
}

/* The spec is written only once the lock is ours; it stays ours (fd 4 of
 * the supervisor) with no gap until the supervisor exits. */
static int spawn_job(struct executor_local *e, const char *id, int attempt, const char *spec,
                     size_t len)
{
    struct spawn_fds f = {.lock_fd = -1, .notify = {-1, -1}};
    char dir[PATH_MAX];
    struct xjob_init in = {.pidfd = -1, .alive = true};
    int n, rc, err;

    n = snprintf(dir, sizeof(dir), "%s/%s", e->jobs_dir, id);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return CCF_EINVAL;
    if ((rc = prepare(e, id, attempt, spec, len, &f)) < 0)
        goto fail;
    if ((err = spawn_supervisor(e, dir, &f, &in.pid)) != 0) {
        errno = err;
        rc = CCF_EIO;
        goto fail;
    }
    if (e->have_pidfd && (in.pidfd = executor__pidfd_open(in.pid)) < 0) {
        /* Unwatchable: end it; its command dies with it (PDEATHSIG). */
        kill(in.pid, SIGKILL);
        waitpid(in.pid, NULL, 0);
        rc = CCF_EIO;
        goto fail;
    }
    in.notify_fd = f.notify[0];
    f.notify[0] = -1;
    rc = executor__watch_add(e, id, &in);
    close_spawn_fds(&f);
    CCF_LOG_INFO("executor.submitted", CCF_KV_STR("job_id", id), CCF_KV_INT("pid", in.pid));
    return rc;
fail:
    CCF_LOG_ERROR("executor.submit_failed", CCF_KV_STR("job_id", id),
                  CCF_KV_STR("error", strerror(errno)));
    if (f.lock_fd >= 0) {
        int dfd = open_job_dir(e, id); /* not submitted after all */
        if (dfd >= 0 && unlinkat(dfd, EXECUTOR__SPEC, 0) < 0 && errno != ENOENT)
            rc = CCF_EIO;
        if (dfd >= 0)
            close(dfd);
    }
    close_spawn_fds(&f);
    return rc;
}

/* Call with op_mu held. 1 when attempt is newer than what DIR holds and
 * the earlier attempt has ended: its log is moved aside and a fresh
 * supervisor may start. 0 for the attempt DIR holds (or a first one). */
static int next_attempt(struct executor_local *e, const char *id, int attempt)
{
    int dfd, cur, rc;

    if (attempt <= 1)
        return 0;
    if ((dfd = open_job_dir(e, id)) < 0)
        return errno == ENOENT ? 0 : CCF_EIO;
    if ((cur = executor__attempt_read(dfd)) < 0 || cur >= attempt) {
        rc = cur < 0 ? cur : 0;
    } else if (!executor__exists(dfd, EXECUTOR__SPEC)) {
        /* No earlier attempt ran here (a replica handed a retry of a job
         * another one ran; the directory holds only its backend's name):
         * nothing to set aside, and no empty archive that would answer
         * for an attempt whose log is elsewhere (the store's). */
        rc = 0;
    } else if (watched(e, id) || executor__lock_held(dfd)) {
        rc = CCF_EUNAVAIL; /* the earlier supervisor is still on its way out */
    } else {
        rc = executor__attempt_archive(dfd, cur);
        rc = rc < 0 ? rc : 1;
    }
    close(dfd);
    return rc;
}

static bool spec_valid(const struct executor_spec *s)
{
    return s && s->job_id && ccf_job_id_valid(s->job_id) && s->argv && s->argv[0] &&
           s->argv[0][0] && s->envp && s->timeout_s >= 0 && s->memory_mib >= 0;
}

int executor__local_submit(struct executor_local *e, const struct executor_spec *spec)
{
    return executor__local_submit_ext(e, spec, NULL);
}

int executor__local_submit_ext(struct executor_local *e, const struct executor_spec *spec,
                               const struct executor__extra *x)
{
    char *buf = NULL;
    size_t len;
    int rc;

    if (!spec_valid(spec))
        return CCF_EINVAL;
    rc =
        executor__spec_encode_ext(spec->job_id, spec->argv, spec->envp, spec->timeout_s,
                                  spec->memory_mib, e->grace_s, (int64_t)e->log_max, x, &buf, &len);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&e->op_mu);
    /* Submitted already (a spec): nothing runs again; a live supervisor
     * left by an earlier ccfd is adopted so that its events follow. */
    if ((rc = next_attempt(e, spec->job_id, spec->attempt > 1 ? spec->attempt : 1)) == 0)
        rc = recover_locked(e, spec->job_id, false);
    if (rc == 1)
        rc = spawn_job(e, spec->job_id, spec->attempt > 1 ? spec->attempt : 1, buf, len);
    pthread_mutex_unlock(&e->op_mu);
    free(buf);
    return rc;
}

/* ---- cancel ---- */

/* A supervisor this executor does not watch (cancel before recover). */
static int signal_unwatched(struct executor_local *e, const char *id)
{
    pid_t pid;
    int dfd, pidfd = -1, rc = 0;

    if ((dfd = open_job_dir(e, id)) < 0)
        return errno == ENOENT ? 0 : CCF_EIO;
    if (!executor__exists(dfd, EXECUTOR__SPEC) || !executor__lock_held(dfd))
        goto out; /* never submitted, or ended */
    if (find_supervisor(e, dfd, &pid, &pidfd) < 0) {
        rc = executor__lock_held(dfd) ? CCF_EUNAVAIL : 0; /* still starting: ask again */
        goto out;
    }
    if ((pidfd >= 0 ? executor__pidfd_signal(pidfd, SIGTERM) : kill(pid, SIGTERM)) < 0 &&
        errno != ESRCH)
        rc = CCF_EIO;
out:
    if (pidfd >= 0)
        close(pidfd);
    close(dfd);
    return rc;
}

int executor__local_cancel(struct executor_local *e, const char *id)
{
    struct xjob *j;
    bool watched = false;
    int rc = 0;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    pthread_mutex_lock(&e->op_mu);
    pthread_mutex_lock(&e->mu);
    if ((j = executor__watch_find(e, id)) != NULL) {
        watched = true;
        rc = executor__watch_signal(j, SIGTERM);
    }
    pthread_mutex_unlock(&e->mu);
    if (!watched)
        rc = signal_unwatched(e, id);
    pthread_mutex_unlock(&e->op_mu);
    if (rc == 0)
        CCF_LOG_INFO("executor.cancel", CCF_KV_STR("job_id", id));
    return rc;
}

/* ---- logs, forget ---- */

int executor__local_read_log(struct executor_local *e, const char *id, int64_t offset, char *buf,
                             size_t len, int64_t *size, int64_t *dropped)
{
    int dfd, rc;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    if ((dfd = open_job_dir(e, id)) < 0)
        return errno == ENOENT ? CCF_ENOTFOUND : CCF_EIO;
    rc = executor__log_read(dfd, offset, buf, len, size, dropped);
    close(dfd);
    return rc;
}

int executor__local_forget(struct executor_local *e, const char *id)
{
    int dfd, rc = 0;

    if (!id || !ccf_job_id_valid(id))
        return CCF_EINVAL;
    pthread_mutex_lock(&e->op_mu);
    if ((dfd = open_job_dir(e, id)) < 0) {
        rc = errno == ENOENT ? 0 : CCF_EIO;
        goto out;
    }
    if (executor__lock_held(dfd))
        rc = CCF_ECONFLICT; /* its supervisor still runs */
    close(dfd);
    if (rc == 0)
        rc = executor__remove_tree(e->jobs_dfd, id);
out:
    pthread_mutex_unlock(&e->op_mu);
    return rc;
}

/* ---- open, close ---- */

static int open_paths(struct executor_local *e, const struct executor_config *cfg)
{
    char buf[PATH_MAX];
    ssize_t n;

    if (mkdir(cfg->jobs_dir, 0700) < 0 && errno != EEXIST)
        return CCF_EIO;
    if (!(e->jobs_dir = realpath(cfg->jobs_dir, NULL)))
        return CCF_EIO;
    if ((e->jobs_dfd = open(e->jobs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return CCF_EIO;
    if (cfg->self_exe) {
        e->self_exe = ccf_xstrdup(cfg->self_exe);
        return 0;
    }
    if ((n = readlink("/proc/self/exe", buf, sizeof(buf) - 1)) < 0)
        return CCF_EIO;
    buf[n] = '\0';
    e->self_exe = ccf_xstrdup(buf);
    return 0;
}

/* pidfds (Linux 5.3) are what the watcher waits on, when it can. */
static bool check_pidfd(void)
{
    int fd = executor__pidfd_open(getpid());

    if (fd < 0) {
        CCF_LOG_WARN("executor.no_pidfd", CCF_KV_STR("error", strerror(errno)));
        return false;
    }
    close(fd);
    return true;
}

int executor__local_grace(const struct executor_local *e)
{
    return e->grace_s;
}

int executor__local_open(struct executor_local **out, const struct executor_config *cfg)
{
    struct executor_local *e;
    int rc = CCF_EIO;

    if (!cfg || !cfg->jobs_dir || !cfg->on_event)
        return CCF_EINVAL;
    e = ccf_xcalloc(1, sizeof(*e));
    e->jobs_dfd = e->epfd = e->wakefd = -1;
    e->grace_s = cfg->stop_grace_s > 0 ? cfg->stop_grace_s : DEFAULT_GRACE_S;
    e->log_max = cfg->log_max_bytes >= EXECUTOR__LOG_MIN ? cfg->log_max_bytes : DEFAULT_LOG_MAX;
    e->on_event = cfg->on_event;
    e->ctx = cfg->ctx;
    pthread_mutex_init(&e->op_mu, NULL);
    pthread_mutex_init(&e->mu, NULL);
    if (open_paths(e, cfg) < 0)
        goto fail;
    e->have_pidfd = check_pidfd();
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->epfd < 0 || e->wakefd < 0 || executor__watch_start(e) < 0)
        goto fail;
    CCF_LOG_INFO("executor.open", CCF_KV_STR("jobs_dir", e->jobs_dir));
    *out = e;
    return 0;
fail:
    CCF_LOG_ERROR("executor.open_failed", CCF_KV_STR("jobs_dir", cfg->jobs_dir),
                  CCF_KV_STR("error", strerror(errno)));
    executor__local_close(e);
    return rc;
}

void executor__local_close(struct executor_local *e)
{
    if (!e)
        return;
    executor__watch_stop(e);
    executor__watch_free_all(e);
    if (e->wakefd >= 0)
        close(e->wakefd);
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->jobs_dfd >= 0)
        close(e->jobs_dfd);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->op_mu);
    free(e->jobs_dir);
    free(e->self_exe);
    free(e);
}
