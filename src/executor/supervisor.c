/* supervisor.c: `ccfd supervise DIR`, the process that runs one job. It is
 * spawned by local.c in a session of its own, holds DIR/lock for its whole
 * life (ccfd locked it before spawning and handed it over as fd 4), starts
 * the command in a process group of its own (supervisor_child.c), copies
 * its output into the capped log, enforces the timeout and the stop
 * request (SIGTERM to the group, SIGKILL after the grace period), and
 * records the outcome atomically in DIR/exit. It tells ccfd "running" and
 * "exited" over the notify pipe (fd 3) when ccfd is still there to hear.
 * Signals arrive blocked from the spawn (a stop sent at once is not lost)
 * and are read from a signalfd. Single-threaded. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/executor.h"
#include "executor/executor_int.h"
#include "executor/supervisor_int.h"

#define GROUP_WAIT_MS 2000 /* how long to wait for a killed group to be gone */
#define CHUNK         65536

enum { RUN_RECORD = 0, RUN_ALREADY = 1 };

static void notify(struct sup *s, char msg)
{
    if (s->notify_fd >= 0 && write(s->notify_fd, &msg, 1) != 1)
        s->notify_fd = -1; /* ccfd is gone; it reads the files when it is back */
}

/* 0, 1 and 2 must be taken so that no pipe of ours lands on them. */
static void fill_std_fds(void)
{
    int fd;

    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
        ;
    if (fd > 2)
        close(fd);
}

static bool same_file(int fd, int dfd, const char *name)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The lock ccfd took for us, or (run by hand) one we take ourselves. */
static int take_lock(struct sup *s)
{
    if (same_file(EXECUTOR__LOCK_FD, s->dfd, EXECUTOR__LOCK) &&
        flock(EXECUTOR__LOCK_FD, LOCK_EX | LOCK_NB) == 0) {
        s->lock_fd = EXECUTOR__LOCK_FD;
        return fcntl(s->lock_fd, F_SETFD, FD_CLOEXEC) < 0 ? CCF_EIO : 0;
    }
    s->lock_fd = openat(s->dfd, EXECUTOR__LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        CCF_LOG_ERROR("supervisor.busy", CCF_KV_STR("dir", s->dir),
                      CCF_KV_STR("error", strerror(errno)));
        return CCF_ECONFLICT;
    }
    return 0;
}

static int setup(struct sup *s, const char *dir)
{
    struct stat st;
    sigset_t mask;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    close_range(EXECUTOR__LOCK_FD + 1, ~0U, 0); /* nothing of ccfd's but fds 3 and 4 */
    fill_std_fds();
    s->dir = dir;
    s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dfd < 0 || take_lock(s) < 0)
        return CCF_EIO;
    if (fstat(EXECUTOR__NOTIFY_FD, &st) == 0 && S_ISFIFO(st.st_mode) &&
        fcntl(EXECUTOR__NOTIFY_FD, F_SETFD, FD_CLOEXEC) == 0)
        s->notify_fd = EXECUTOR__NOTIFY_FD;
    if (executor__pid_write(s->dfd, getpid()) < 0)
        return CCF_EIO;
    /* Orphans of the job's group come back to us, so we can reap them and
     * know when the group is really gone. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    s->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    return s->sig_fd < 0 ? CCF_EIO : 0;
}

/* ---- signals, timers and the group ---- */

static void signal_group(struct sup *s, int sig)
{
    if (kill(-s->pgid, sig) < 0 && errno != ESRCH)
        CCF_LOG_WARN("supervisor.kill_failed", CCF_KV_INT("signal", sig),
                     CCF_KV_STR("error", strerror(errno)));
}

/* Starts argv (a container runtime's stop or remove) with the job's envp,
 * in our own process group, its output in supervisor.log; 0 if it could
 * not start. */
static pid_t run_aux(struct sup *s, char **argv)
{
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], NULL, NULL, argv, s->spec.envp);

    if (err != 0) {
        CCF_LOG_ERROR("supervisor.aux_failed", CCF_KV_STR("argv0", argv[0]),
                      CCF_KV_STR("error", strerror(err)));
        return 0;
    }
    return pid;
}

/* SIGTERM now and SIGKILL after the grace period, once. A container's
 * processes are not in our group: its runtime stops it with the same grace,
 * and the runtime's client is killed only if that has not ended it a few
 * seconds after (then the removal after the outcome ends the container). */
static void start_kill(struct sup *s)
{
    if (s->kill_at != 0 || s->killed)
        return;
    if (s->spec.stop_argv) {
        run_aux(s, s->spec.stop_argv);
        s->kill_at = (ccf_mono_us() / 1000) + (s->spec.grace_s + 5) * 1000;
        return;
    }
    signal_group(s, SIGTERM);
    s->kill_at = (ccf_mono_us() / 1000) + s->spec.grace_s * 1000;
    if (s->kill_at == 0)
        s->kill_at = 1;
}

/* Why a container's end needs more words than its exit code: its runtime
 * failed (125), or SIGKILL with no stop or timeout to explain it, which on
 * this machine's cgroup v1 is the only sign of the memory limit. */
static void container_reason(struct sup *s)
{
    if (!s->spec.stop_argv || !s->x.has_exit_code || s->x.stopped || s->x.timed_out ||
        s->x.reason[0])
        return;
    if (s->x.exit_code == 125)
        snprintf(s->x.reason, sizeof(s->x.reason),
                 "cannot run the container: its runtime exited with code 125 (see the job's log)");
    else if (s->x.exit_code == 137 && s->spec.oom_mib > 0)
        snprintf(s->x.reason, sizeof(s->x.reason),
                 "killed by signal 9 (SIGKILL) with no stop or timeout: it may have run out of "
                 "memory (limit %lld MiB)",
                 (long long)s->spec.oom_mib);
}

/* After the outcome is on disk: the container goes (waited for, bounded). */
static void remove_container(struct sup *s)
{
    int64_t until = (ccf_mono_us() / 1000) + 30000;
    pid_t pid;
    int status;

    if (!s->spec.rm_argv || !(pid = run_aux(s, s->spec.rm_argv)))
        return;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if ((ccf_mono_us() / 1000) >= until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec ts = {.tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void on_exit_status(struct sup *s, int status)
{
    /* The job's end as it happened: ccfd may be down and read it much later. */
    s->x.ended_at = ccf_now_us();
    s->x.has_exit_code = true;
    if (WIFSIGNALED(status)) {
        s->x.signal = WTERMSIG(status);
        s->x.exit_code = 128 + s->x.signal;
    } else {
        s->x.exit_code = WEXITSTATUS(status) & 0xff;
    }
}

/* Reaps whatever children are done (orphans of the group come to us too).
 * Each is looked at before it is reaped: when it is the command, its
 * group is killed first, while its zombie still pins the group id. */
static void reap(struct sup *s)
{
    for (;;) {
        siginfo_t si;
        int status;

        memset(&si, 0, sizeof(si));
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
            return;
        if (si.si_pid == s->child)
            signal_group(s, SIGKILL);
        if (waitpid(si.si_pid, &status, 0) != si.si_pid)
            return;
        if (si.si_pid == s->child) {
            on_exit_status(s, status);
            s->child = 0;
        }
    }
}

/* Reads pending signals; before the command starts only the stop counts. */
static void read_signals(struct sup *s)
{
    struct signalfd_siginfo si;

    while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            s->stop_requested = true;
    }
}

static void act_on_stop(struct sup *s)
{
    if (!s->stop_requested || s->x.stopped || s->child <= 0)
        return;
    s->x.stopped = true;
    s->deadline = 0; /* the timeout no longer matters */
    CCF_LOG_INFO("supervisor.stopping", CCF_KV_STR("job_id", s->spec.job_id));
    start_kill(s);
}

static void check_timers(struct sup *s)
{
    int64_t now = ccf_mono_us() / 1000;

    if (s->deadline != 0 && now >= s->deadline) {
        s->deadline = 0;
        s->x.timed_out = true;
        CCF_LOG_INFO("supervisor.timed_out", CCF_KV_STR("job_id", s->spec.job_id),
                     CCF_KV_INT("timeout_s", s->spec.timeout_s));
        start_kill(s);
    }
    if (s->kill_at != 0 && now >= s->kill_at) {
        s->kill_at = 0;
        s->killed = true;
        signal_group(s, SIGKILL);
    }
}

static int next_wait_ms(const struct sup *s)
{
    int64_t now = ccf_mono_us() / 1000, next = -1;

    if (s->deadline != 0)
        next = s->deadline;
    if (s->kill_at != 0 && (next < 0 || s->kill_at < next))
        next = s->kill_at;
    if (next < 0)
        return -1;
    if (next <= now)
        return 0;
    return next - now > 60000 ? 60000 : (int)(next - now);
}

/* Copies what the command wrote into the log; false at end of file. */
static bool pump(struct sup *s)
{
    char buf[CHUNK];
    ssize_t n = read(s->out_fd, buf, sizeof(buf));

    if (n > 0) {
        executor__log_append(&s->log, buf, (size_t)n);
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    close(s->out_fd);
    s->out_fd = -1;
    return false;
}

static void watch(struct sup *s)
{
    while (s->child > 0) {
        struct pollfd p[2] = {{.fd = s->sig_fd, .events = POLLIN},
                              {.fd = s->out_fd, .events = POLLIN}};
        int n = poll(p, s->out_fd >= 0 ? 2 : 1, next_wait_ms(s));

        if (n < 0 && errno != EINTR) {
            snprintf(s->x.reason, sizeof(s->x.reason), "supervisor: poll: %s", strerror(errno));
            CCF_LOG_ERROR("supervisor.poll_failed", CCF_KV_STR("error", strerror(errno)));
            break; /* finish_group kills the command */
        }
        if (n > 0 && s->out_fd >= 0 && p[1].revents)
            pump(s);
        if (n > 0 && p[0].revents) {
            read_signals(s);
            act_on_stop(s);
        }
        reap(s); /* also when SIGCHLD was read before the loop */
        check_timers(s);
    }
}

/* After the command: nothing of its group may outlive it, and what they
 * wrote before dying is still in the pipe. Leftovers that left the group
 * (setsid) are out of reach without cgroups. */
static void finish_group(struct sup *s)
{
    int64_t until = (ccf_mono_us() / 1000) + GROUP_WAIT_MS;

    if (s->pgid > 0) {
        signal_group(s, SIGKILL);
        while (kill(-s->pgid, 0) == 0 && (ccf_mono_us() / 1000) < until) {
            struct pollfd p = {.fd = s->sig_fd, .events = POLLIN};
            poll(&p, 1, 10);
            read_signals(s);
            reap(s);
        }
    }
    while (s->out_fd >= 0 && pump(s) && s->out_fd >= 0) {
        struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            break;
    }
}

/* ---- the job's life ---- */

static int load(struct sup *s)
{
    char *buf = NULL;
    size_t len;

    if (executor__read_file(s->dfd, EXECUTOR__SPEC, EXECUTOR__SPEC_MAX, &buf, &len) < 0 ||
        executor__spec_decode(buf, len, &s->spec) < 0) {
        snprintf(s->x.reason, sizeof(s->x.reason), "supervisor: cannot read the job's spec");
        return CCF_EINVAL;
    }
    if (executor__log_open(&s->log, s->dfd, s->spec.log_max) < 0) {
        snprintf(s->x.reason, sizeof(s->x.reason), "supervisor: cannot open the job's log");
        return CCF_EIO;
    }
    return 0;
}

static int run(struct sup *s)
{
    if (executor__exists(s->dfd, EXECUTOR__EXIT))
        return RUN_ALREADY;
    if (executor__exists(s->dfd, EXECUTOR__RUNNING)) {
        /* An earlier supervisor started it and died: never run a job twice. */
        CCF_LOG_ERROR("supervisor.already_ran", CCF_KV_STR("dir", s->dir));
        return CCF_ECONFLICT;
    }
    if (load(s) < 0)
        return RUN_RECORD;
    CCF_LOG_INFO("supervisor.start", CCF_KV_STR("job_id", s->spec.job_id));
    read_signals(s);
    if (s->stop_requested) {
        s->x.stopped = true;
        snprintf(s->x.reason, sizeof(s->x.reason), "stopped before it started");
        return RUN_RECORD;
    }
    if (supervisor__start(s) < 0)
        return RUN_RECORD; /* x says why */
    if (executor__running_write(s->dfd, s->pgid, ccf_now_us()) < 0)
        CCF_LOG_ERROR("supervisor.running_not_recorded", CCF_KV_STR("job_id", s->spec.job_id));
    notify(s, EXECUTOR__MSG_RUNNING);
    if (s->spec.timeout_s > 0)
        s->deadline = (ccf_mono_us() / 1000) +
                      (s->spec.timeout_s > INT32_MAX ? INT32_MAX : s->spec.timeout_s) * 1000;
    read_signals(s);
    act_on_stop(s);
    watch(s);
    finish_group(s);
    container_reason(s);
    return RUN_RECORD;
}

static void cleanup(struct sup *s)
{
    executor__log_close(&s->log);
    executor__spec_clear(&s->spec);
    if (s->out_fd >= 0)
        close(s->out_fd);
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    if (s->dfd >= 0)
        close(s->dfd);
    /* lock_fd and notify_fd close at exit, after the outcome is on disk. */
}

int executor_supervise_main(const char *dir)
{
    struct sup s = {.dfd = -1, .lock_fd = -1, .notify_fd = -1, .sig_fd = -1, .out_fd = -1};
    int rc, status = 1;

    s.log.fd = s.log.meta_fd = -1;
    if (setup(&s, dir) < 0)
        goto out;
    rc = run(&s);
    if (rc == RUN_RECORD) {
        if (s.x.ended_at == 0) /* it never ran: it ends now */
            s.x.ended_at = ccf_now_us();
        if (executor__exit_write(s.dfd, &s.x) < 0)
            goto out;
        CCF_LOG_INFO("supervisor.exit", CCF_KV_STR("job_id", s.spec.job_id),
                     CCF_KV_INT("exit_code", s.x.has_exit_code ? s.x.exit_code : -1),
                     CCF_KV_INT("timed_out", s.x.timed_out), CCF_KV_INT("stopped", s.x.stopped),
                     CCF_KV_STR("reason", s.x.reason[0] ? s.x.reason : NULL));
    }
    if (rc >= 0) {
        /* The outcome is on disk: release the lock before telling ccfd, so
         * that whoever hears "exited" finds the job ended (forget works). */
        close(s.lock_fd);
        s.lock_fd = -1;
        notify(&s, EXECUTOR__MSG_EXITED);
        if (rc == RUN_RECORD)
            remove_container(&s);
        status = 0;
    }
out:
    cleanup(&s);
    exit(status);
}
