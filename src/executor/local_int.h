/* local_int.h: ccfd's side of the local executor: the handle, the table of
 * watched jobs, and the watcher thread (watch.c) that turns notify pipes,
 * pidfds and job files into events. local.c is the API on top.
 *
 * Locking: op_mu serialises submit, recover, cancel and forget (each looks
 * at a job directory, then acts on it). mu guards the jobs list and
 * `closing`. A job's flags and fds are touched only by the watcher thread
 * after insertion, except pid and pidfd, which cancel uses under mu; the
 * watcher reaps the supervisor and closes the pidfd only after unlinking
 * the job under mu. Callbacks run with no lock held.
 *
 * Without pidfds (old kernels, valgrind) the end of a supervisor we spawned
 * is the end of file on its notify pipe, and an adopted one is checked by
 * its lock every POLL_MS. */
#ifndef CCF_EXECUTOR_LOCAL_INT_H
#define CCF_EXECUTOR_LOCAL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"
#include "executor/executor.h"
#include "executor/executor_int.h"

/* epoll tags: a job's key shifted left by 2, plus what the fd is. */
enum { WATCH_WAKE = 0, WATCH_PIDFD = 1, WATCH_NOTIFY = 2 };

struct xjob {
    struct xjob *next;
    uint64_t key;
    char id[CCF_JOB_ID_LEN + 1];
    pid_t pid;     /* the supervisor */
    int pidfd;     /* -1 without pidfd support, or when it was gone already */
    int notify_fd; /* -1: adopted after a restart, or the pipe closed */
    bool alive;    /* the supervisor may still run (false: collected by recover) */
    bool adopted;  /* not spawned by this executor: no pipe, not ours to reap */
    bool fresh;    /* queued by recover: the watcher looks at it once */
    bool running_sent;
    bool final_sent;
};

/* How a job enters the table. */
struct xjob_init {
    pid_t pid;
    int pidfd;
    int notify_fd;
    bool alive;
    bool adopted;
};

struct executor_local {
    char *jobs_dir; /* absolute */
    int jobs_dfd;
    char *self_exe;
    int grace_s;
    size_t log_max;
    bool have_pidfd; /* pidfd_open works (Linux 5.3; not under valgrind 3.19) */
    executor_event_fn on_event;
    void *ctx;

    int epfd;
    int wakefd;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t op_mu;
    pthread_mutex_t mu;
    struct xjob *jobs;
    uint64_t next_key;
    bool closing;
};

/* local.c: the supervisor machinery as executor.h describes it for
 * executor_open, _close, _submit, _cancel, _recover_attempt, _read_log and
 * _forget; the dispatcher (executor.c) calls these for the backends that
 * run on this machine. */
int executor__local_open(struct executor_local **out, const struct executor_config *cfg);
void executor__local_close(struct executor_local *e);
int executor__local_submit(struct executor_local *e, const struct executor_spec *spec);
/* Submit with a container backend's extra (executor_int.h). */
int executor__local_submit_ext(struct executor_local *e, const struct executor_spec *spec,
                               const struct executor__extra *x);
/* The stop grace in seconds, as configured. */
int executor__local_grace(const struct executor_local *e);
int executor__local_cancel(struct executor_local *e, const char *id);
int executor__local_recover(struct executor_local *e, const char *id, int attempt);
int executor__local_read_log(struct executor_local *e, const char *id, int64_t offset, char *buf,
                             size_t len, int64_t *size, int64_t *dropped);
int executor__local_read_attempt_log(struct executor_local *e, const char *id, int attempt,
                                     int64_t offset, char *buf, size_t len, int64_t *size,
                                     int64_t *dropped);
int executor__local_forget(struct executor_local *e, const char *id);

/* Starts and stops the watcher thread (epfd and wakefd already made). */
int executor__watch_start(struct executor_local *e);
void executor__watch_stop(struct executor_local *e);
/* Adds a job to the table and its fds to epoll; takes the fds. */
int executor__watch_add(struct executor_local *e, const char *id, const struct xjob_init *in);
/* Signals the job's supervisor if it may still run; call with mu held. */
int executor__watch_signal(struct xjob *j, int sig);
/* The job if it is in the table; call with mu held. */
struct xjob *executor__watch_find(struct executor_local *e, const char *id);
/* Frees every job left in the table (after the thread stopped). */
void executor__watch_free_all(struct executor_local *e);

/* attempts.c: DIR/attempt (1 when absent, CCF_EIO if unreadable), and
 * attempt n's log moved to DIR/attempts/<n>/ (repeatable). */
int executor__attempt_read(int dfd);
int executor__attempt_write(int dfd, int attempt);
int executor__attempt_archive(int dfd, int n);

/* executor_live_attempts for the jobs under local.c's supervisors. */
int executor__local_live(struct executor_local *e, struct executor_live **out, size_t *n);

int executor__pidfd_open(pid_t pid);
int executor__pidfd_signal(int pidfd, int sig);

#endif
