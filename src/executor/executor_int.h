/* executor_int.h: what the local backend's two halves share: ccfd's side
 * (local.c) and the supervisor process (supervisor.c). The job directory's
 * files, their formats (jobdir.c) and the capped log (joblog.c).
 *
 * A job directory DIR = jobs_dir/<job_id>/ (0700) holds:
 *   spec          what to run (argv, envp, limits); its presence = submitted
 *   lock          flock(LOCK_EX) held by the supervisor for its whole life
 *   supervisor.pid  the supervisor's pid, written by the lock holder
 *   running       the command executes: pgid and start time
 *   exit          the outcome, written once, atomically
 *   log, log.old, log.meta  the capped output (see joblog.c)
 *   supervisor.log  the supervisor's own log lines
 *   work/         the command's working directory and HOME
 * Every file but work/'s content is written with tmp + fsync + rename. */
#ifndef CCF_EXECUTOR_INT_H
#define CCF_EXECUTOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EXECUTOR__SPEC       "spec"
#define EXECUTOR__LOCK       "lock"
#define EXECUTOR__PID        "supervisor.pid"
#define EXECUTOR__RUNNING    "running"
#define EXECUTOR__EXIT       "exit"
#define EXECUTOR__LOG        "log"
#define EXECUTOR__LOG_OLD    "log.old"
#define EXECUTOR__LOG_META   "log.meta"
#define EXECUTOR__SUP_LOG    "supervisor.log"
#define EXECUTOR__WORK       "work"
#define EXECUTOR__NOTIFY_FD  3 /* the supervisor's end of ccfd's notify pipe */
#define EXECUTOR__LOCK_FD    4 /* DIR/lock, already locked by ccfd for the supervisor */
#define EXECUTOR__SPEC_MAX   (16u * 1024 * 1024)
#define EXECUTOR__ARGS_MAX   4096 /* argv or envp entries */
#define EXECUTOR__REASON_MAX 256
#define EXECUTOR__LOG_MIN    2 /* the smallest cap: two halves of one byte */

/* Messages on the notify pipe, one byte each. */
#define EXECUTOR__MSG_RUNNING 'R'
#define EXECUTOR__MSG_EXITED  'X'

/* What a backend built on local.c adds to a job: how to stop what the
 * command started when it is not the command's process group (a
 * container), how to clean up after the outcome is recorded, and the
 * memory limit the runtime enforces (for the reason of a SIGKILL). */
struct executor__extra {
    const char *const *stop_argv; /* NULL: SIGTERM to the group, SIGKILL after the grace */
    const char *const *rm_argv;   /* NULL: nothing to clean up */
    int64_t oom_mib;              /* 0: no runtime limit */
};

/* The spec as the supervisor reads it back. All strings point into buf. */
struct executor__spec {
    char job_id[32];
    char **argv;      /* NULL-terminated */
    char **envp;      /* NULL-terminated */
    char **stop_argv; /* NULL or NULL-terminated: run (with envp) to stop the job */
    char **rm_argv;   /* NULL or NULL-terminated: run once the outcome is recorded */
    int64_t oom_mib;  /* the runtime's memory limit, 0: none */
    int64_t timeout_s;
    int64_t memory_mib;
    int64_t grace_s;
    int64_t log_max;
    char *buf;
};

struct executor__exit {
    bool has_exit_code;
    int exit_code;
    int signal; /* 0 when it was not killed by a signal */
    bool timed_out;
    bool stopped;
    char reason[EXECUTOR__REASON_MAX];
    int64_t ended_at; /* wall clock, µs: when the supervisor saw it end; 0: unknown
                         (an exit file written before this field existed) */
};

/* jobdir.c */
/* Writes name atomically in dfd: name.tmp, fsync, rename, fsync dfd. */
int executor__write_atomic(int dfd, const char *name, const void *buf, size_t len, mode_t mode);
/* The same, with the fsyncs only when durable. */
int executor__write_file(int dfd, const char *name, const void *buf, size_t len, mode_t mode,
                         bool durable);
/* Reads a small file whole into a NUL-terminated buffer (caller frees).
 * CCF_ENOTFOUND if it does not exist, CCF_ETOOLARGE past max bytes. */
int executor__read_file(int dfd, const char *name, size_t max, char **out, size_t *len);
bool executor__exists(int dfd, const char *name);
/* True while some process holds DIR/lock exclusively (a live supervisor). */
bool executor__lock_held(int dfd);

/* The spec file: encode from what ccfd was given, decode in the supervisor. */
int executor__spec_encode(const char *job_id, const char *const *argv, const char *const *envp,
                          int64_t timeout_s, int64_t memory_mib, int64_t grace_s, int64_t log_max,
                          char **out, size_t *len);
/* The same with a container backend's extra (NULL: as above). */
int executor__spec_encode_ext(const char *job_id, const char *const *argv, const char *const *envp,
                              int64_t timeout_s, int64_t memory_mib, int64_t grace_s,
                              int64_t log_max, const struct executor__extra *x, char **out,
                              size_t *len);
int executor__spec_decode(char *buf, size_t len, struct executor__spec *out); /* takes buf */
void executor__spec_clear(struct executor__spec *s);

int executor__exit_write(int dfd, const struct executor__exit *x);
/* CCF_ENOTFOUND if there is no exit file, CCF_EIO if it is malformed. */
int executor__exit_read(int dfd, struct executor__exit *out);
int executor__running_write(int dfd, pid_t pgid, int64_t started_at);
/* Reads the pgid and the start time (wall clock, µs) from DIR/running;
 * CCF_ENOTFOUND without one. */
int executor__running_read(int dfd, pid_t *pgid, int64_t *started_at);
int executor__pid_write(int dfd, pid_t pid);
int executor__pid_read(int dfd, pid_t *pid);

/* Removes name (a directory) under dfd and everything in it, without
 * following symbolic links. */
int executor__remove_tree(int dfd, const char *name);

/* joblog.c: the log as one logical stream of absolute offsets over two files. */
struct executor__log {
    int meta_fd;
    int fd;
    int dfd;      /* borrowed */
    int64_t half; /* a file is rotated when it reaches this size */
    int64_t base; /* absolute offset of the first byte of DIR/log */
    int64_t cur;  /* size of DIR/log */
    bool failed;  /* a write failed: the rest is dropped (logged once) */
};
/* Creates DIR/log.meta with base 0 if it does not exist (ccfd, at submit). */
int executor__log_init(int dfd);
int executor__log_open(struct executor__log *l, int dfd, int64_t max_bytes);
void executor__log_append(struct executor__log *l, const char *buf, size_t n);
void executor__log_close(struct executor__log *l);
int executor__log_read(int dfd, int64_t offset, char *buf, size_t len, int64_t *size,
                       int64_t *dropped);

#endif
