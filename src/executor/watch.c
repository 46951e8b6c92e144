/* watch.c: the executor's watcher thread. It waits (epoll) on each
 * supervisor's notify pipe ("running", "exited") and pidfd (it ended, with
 * or without a message), reaps the supervisors this process spawned, and
 * delivers RUNNING once and then EXITED or LOST once per job. Jobs queued
 * by recover are looked at on a wake-up; adopted jobs that have not run
 * yet are checked for DIR/running every POLL_MS, since no pipe tells (and,
 * without pidfds, for their lock). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/executor_int.h"
#include "executor/local_int.h"

#define POLL_MS  200
#define EVENTS_N 32

int executor__pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int executor__pidfd_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static int open_job_dir(struct executor_local *e, const char *id)
{
    return openat(e->jobs_dfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

static void deliver(struct executor_local *e, const struct xjob *j, enum executor_state state,
                    const struct executor__exit *x, const char *reason, int64_t at_us)
{
    struct executor_event ev;

    memset(&ev, 0, sizeof(ev));
    memcpy(ev.job_id, j->id, sizeof(ev.job_id));
    ev.state = state;
    ev.at_us = at_us;
    if (x) {
        ev.has_exit_code = x->has_exit_code;
        ev.exit_code = x->exit_code;
        ev.timed_out = x->timed_out;
        ev.stopped = x->stopped;
        reason = x->reason;
    }
    if (reason)
        snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
    CCF_LOG_DEBUG("executor.event", CCF_KV_STR("job_id", j->id), CCF_KV_INT("state", state),
                  CCF_KV_INT("exit_code", ev.has_exit_code ? ev.exit_code : -1));
    e->on_event(e->ctx, &ev);
}

/* When the command started, from DIR/running; 0 if it cannot be read. */
static int64_t running_since(struct executor_local *e, const struct xjob *j)
{
    int64_t at = 0;
    pid_t pgid;
    int dfd = open_job_dir(e, j->id);

    if (dfd < 0)
        return 0;
    if (executor__running_read(dfd, &pgid, &at) < 0)
        at = 0;
    close(dfd);
    return at;
}

static void send_running(struct executor_local *e, struct xjob *j)
{
    if (j->running_sent || j->final_sent)
        return;
    j->running_sent = true;
    deliver(e, j, EXECUTOR_RUNNING, NULL, NULL, running_since(e, j));
}

/* The outcome from DIR/exit; without one the supervisor died unfinished. */
static void send_final(struct executor_local *e, struct xjob *j)
{
    struct executor__exit x = {0};
    int dfd, rc = CCF_ENOTFOUND;

    if (j->final_sent)
        return;
    j->final_sent = true;
    if ((dfd = open_job_dir(e, j->id)) >= 0) {
        rc = executor__exit_read(dfd, &x);
        close(dfd);
    }
    if (rc == 0)
        deliver(e, j, EXECUTOR_EXITED, &x, NULL, x.ended_at);
    else if (rc == CCF_ENOTFOUND)
        deliver(e, j, EXECUTOR_LOST, NULL, "supervisor ended without recording an outcome", 0);
    else
        deliver(e, j, EXECUTOR_LOST, NULL, "the job's recorded outcome cannot be read", 0);
}

static void unlink_job(struct executor_local *e, struct xjob *j)
{
    struct xjob **pp;

    pthread_mutex_lock(&e->mu);
    for (pp = &e->jobs; *pp && *pp != j; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = j->next;
    pthread_mutex_unlock(&e->mu);
}

static void free_job(struct xjob *j)
{
    if (j->pidfd >= 0)
        close(j->pidfd); /* closing drops it from epoll */
    if (j->notify_fd >= 0)
        close(j->notify_fd);
    free(j);
}

/* Our own supervisors are reaped; P_PIDFD never takes someone else's. */
static void reap(struct xjob *j)
{
    siginfo_t si;
    int rc;

    memset(&si, 0, sizeof(si));
    if (j->pidfd >= 0)
        rc = waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED | WNOHANG);
    else if (!j->adopted && j->pid > 0)
        while ((rc = waitid(P_PID, (id_t)j->pid, &si, WEXITED)) < 0 && errno == EINTR)
            ;
    else
        return;
    if (rc < 0 && errno != ECHILD)
        CCF_LOG_WARN("executor.reap_failed", CCF_KV_STR("job_id", j->id),
                     CCF_KV_STR("error", strerror(errno)));
}

/* Reads the messages waiting on the notify pipe; true at its end (then
 * closed: the supervisor exited). */
static bool read_notify(struct executor_local *e, struct xjob *j)
{
    char buf[16];
    ssize_t n;

    while (j->notify_fd >= 0) {
        n = read(j->notify_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return false;
        if (n <= 0) {
            close(j->notify_fd);
            j->notify_fd = -1;
            return true;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == EXECUTOR__MSG_RUNNING)
                send_running(e, j);
            else if (buf[i] == EXECUTOR__MSG_EXITED)
                send_final(e, j);
        }
    }
    return false;
}

/* The supervisor is gone (or was at recover): last messages, RUNNING if an
 * adopted job ran meanwhile, the outcome; then it leaves the table before
 * it is reaped, so that cancel never signals a recycled pid. A job whose
 * supervisor had already ended at recover (collected) gets its RUNNING too
 * when it ran: without it the orchestrator would take the exit of an
 * attempt it never saw start (no retry, no attempt listed). */
static void end_job(struct executor_local *e, struct xjob *j)
{
    read_notify(e, j);
    if (j->adopted && !j->running_sent && !j->final_sent) {
        int dfd = open_job_dir(e, j->id);
        if (dfd >= 0 && executor__exists(dfd, EXECUTOR__RUNNING))
            send_running(e, j);
        if (dfd >= 0)
            close(dfd);
    }
    send_final(e, j);
    unlink_job(e, j);
    reap(j);
    free_job(j);
}

/* A job queued by recover, or an adopted one that has not run yet or has
 * no pidfd. */
static void look_at(struct executor_local *e, struct xjob *j)
{
    bool ended;
    int dfd;

    j->fresh = false;
    if (!j->alive) {
        end_job(e, j);
        return;
    }
    if ((dfd = open_job_dir(e, j->id)) < 0)
        return;
    if (executor__exists(dfd, EXECUTOR__RUNNING))
        send_running(e, j);
    ended = j->pidfd < 0 && !executor__lock_held(dfd);
    close(dfd);
    if (ended)
        end_job(e, j);
}

static bool needs_look(const struct xjob *j)
{
    return j->fresh || (j->alive && j->adopted && (!j->running_sent || j->pidfd < 0));
}

/* Looks at the jobs that need it; true if some still need a periodic look. */
static bool sweep(struct executor_local *e)
{
    struct xjob *todo[EVENTS_N];
    size_t n = 0;
    bool more = false;

    /* Only this thread removes jobs, so the pointers stay valid unlocked. */
    pthread_mutex_lock(&e->mu);
    for (struct xjob *j = e->jobs; j; j = j->next) {
        if (needs_look(j) && n < EVENTS_N)
            todo[n++] = j;
        else if (needs_look(j))
            more = true; /* the rest next round */
    }
    pthread_mutex_unlock(&e->mu);
    for (size_t i = 0; i < n; i++)
        look_at(e, todo[i]);
    pthread_mutex_lock(&e->mu);
    for (struct xjob *j = e->jobs; j && !more; j = j->next)
        more = needs_look(j);
    pthread_mutex_unlock(&e->mu);
    return more;
}

static struct xjob *find_key(struct executor_local *e, uint64_t key)
{
    struct xjob *j;

    pthread_mutex_lock(&e->mu);
    for (j = e->jobs; j && j->key != key; j = j->next)
        ;
    pthread_mutex_unlock(&e->mu);
    return j;
}

/* false when the executor is closing. */
static bool handle(struct executor_local *e, uint64_t tag)
{
    uint64_t v;
    struct xjob *j;
    bool go_on = true;

    if ((tag & 3) == WATCH_WAKE) {
        if (read(e->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            CCF_LOG_WARN("executor.wake_failed", CCF_KV_STR("error", strerror(errno)));
        pthread_mutex_lock(&e->mu);
        go_on = !e->closing;
        pthread_mutex_unlock(&e->mu);
        return go_on;
    }
    if (!(j = find_key(e, tag >> 2)))
        return true; /* already removed in this batch */
    if ((tag & 3) == WATCH_PIDFD)
        end_job(e, j);
    else if (read_notify(e, j) && j->pidfd < 0)
        end_job(e, j); /* without a pidfd, the pipe's end is the supervisor's */
    return true;
}

static void *watch_main(void *arg)
{
    struct executor_local *e = arg;
    struct epoll_event evs[EVENTS_N];
    bool more = false, go_on = true;

    while (go_on) {
        int n = epoll_wait(e->epfd, evs, EVENTS_N, more ? POLL_MS : -1);
        if (n < 0 && errno != EINTR) {
            CCF_LOG_ERROR("executor.epoll_failed", CCF_KV_STR("error", strerror(errno)));
            break;
        }
        for (int i = 0; i < n && go_on; i++)
            go_on = handle(e, evs[i].data.u64);
        if (go_on)
            more = sweep(e);
    }
    return NULL;
}

int executor__watch_start(struct executor_local *e)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WATCH_WAKE};
    sigset_t all, old;
    int rc;

    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev) < 0)
        return CCF_EIO;
    /* The thread takes no signals: they are ccfd's main thread's business. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&e->thread, NULL, watch_main, e);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return CCF_EIO;
    e->thread_started = true;
    return 0;
}

static void wake(struct executor_local *e)
{
    uint64_t one = 1;

    if (write(e->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        CCF_LOG_WARN("executor.wake_failed", CCF_KV_STR("error", strerror(errno)));
}

void executor__watch_stop(struct executor_local *e)
{
    if (!e->thread_started)
        return;
    pthread_mutex_lock(&e->mu);
    e->closing = true;
    pthread_mutex_unlock(&e->mu);
    wake(e);
    pthread_join(e->thread, NULL);
    e->thread_started = false;
}

static int epoll_add(struct executor_local *e, int fd, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

    return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int executor__watch_add(struct executor_local *e, const char *id, const struct xjob_init *in)
{
    struct xjob *j = ccf_xcalloc(1, sizeof(*j));
    int rc = 0;

    memcpy(j->id, id, sizeof(j->id) - 1);
    j->pid = in->pid;
    j->pidfd = in->pidfd;
    j->notify_fd = in->notify_fd;
    j->alive = in->alive;
    j->adopted = in->adopted;
    j->fresh = in->adopted;
    pthread_mutex_lock(&e->mu);
    j->key = ++e->next_key;
    j->next = e->jobs;
    e->jobs = j;
    /* Under mu: the watcher cannot look the key up before it is listed. */
    if ((j->pidfd >= 0 && epoll_add(e, j->pidfd, j->key << 2 | WATCH_PIDFD) < 0) ||
        (j->notify_fd >= 0 && epoll_add(e, j->notify_fd, j->key << 2 | WATCH_NOTIFY) < 0)) {
        CCF_LOG_ERROR("executor.epoll_add_failed", CCF_KV_STR("job_id", id),
                      CCF_KV_STR("error", strerror(errno)));
        rc = CCF_EIO;
    }
    pthread_mutex_unlock(&e->mu);
    if (j->fresh)
        wake(e);
    return rc;
}

int executor__watch_signal(struct xjob *j, int sig)
{
    int rc;

    if (!j->alive)
        return 0;
    if (j->pidfd >= 0)
        rc = executor__pidfd_signal(j->pidfd, sig);
    else
        rc = kill(j->pid, sig);
    return rc < 0 && errno != ESRCH ? CCF_EIO : 0;
}

struct xjob *executor__watch_find(struct executor_local *e, const char *id)
{
    struct xjob *j;

    for (j = e->jobs; j && strcmp(j->id, id) != 0; j = j->next)
        ;
    return j;
}

void executor__watch_free_all(struct executor_local *e)
{
    while (e->jobs) {
        struct xjob *j = e->jobs;
        e->jobs = j->next;
        if (j->pidfd >= 0)
            close(j->pidfd);
        if (j->notify_fd >= 0)
            close(j->notify_fd);
        free(j);
    }
}
