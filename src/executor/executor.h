/* executor.h: runs jobs somewhere and reports what became of them. The
 * local backend (local.c) runs a connector's command as a child of a small
 * supervisor process (`ccfd supervise DIR`, supervisor.c), one per job,
 * that outlives ccfd: state lives in the job's directory, so a restarted
 * ccfd re-adopts running jobs and collects the outcomes of finished ones.
 * Must not know about HTTP or SQL.
 *
 * Thread rules: executor_* calls are thread-safe. Events are delivered on
 * the executor's own watcher thread; the callback must not block for long
 * (the orchestrator just queues them). */
#ifndef CCF_EXECUTOR_H
#define CCF_EXECUTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

struct executor; /* defined by the backend */

/* What a job runs. Every pointer is borrowed for the call. */
struct executor_spec {
    const char *job_id; /* also the executor id of the local backend */
    const char *connector_id;
    const char *const *argv; /* NULL-terminated; argv[0] relative: looked up in PATH of envp */
    const char *const *envp; /* NULL-terminated "NAME=value": the job's whole environment */
    int64_t timeout_s;       /* counted from RUNNING */
    double cpu;              /* vCPUs it reserves */
    int64_t memory_mib;      /* enforced as an address-space limit */
};

enum executor_state {
    EXECUTOR_RUNNING = 0, /* the command is executing */
    EXECUTOR_EXITED,      /* it ended: see exit_code / signal / timed_out / stopped */
    EXECUTOR_LOST,        /* it cannot have finished normally: see reason */
};

/* One thing that happened to a job. */
struct executor_event {
    char job_id[CCF_JOB_ID_LEN + 1];
    enum executor_state state;
    bool has_exit_code;
    int exit_code;    /* 0..255, or 128+N when killed by signal N */
    bool timed_out;   /* killed because its timeout expired */
    bool stopped;     /* killed because cancel was asked */
    char reason[256]; /* for LOST, and for a command that could not start */
};

typedef void (*executor_event_fn)(void *ctx, const struct executor_event *ev);

struct executor_config {
    const char *jobs_dir; /* one directory per job under it */
    const char *self_exe; /* the ccfd binary, run as `self_exe supervise DIR` */
    int stop_grace_s;     /* SIGTERM, then SIGKILL after this many seconds (default 10) */
    size_t log_max_bytes; /* per-job log cap (default 64 MiB) */
    executor_event_fn on_event;
    void *ctx;
};

/* Starts the watcher thread. CCF_EIO if jobs_dir cannot be made. */
int executor_open(struct executor **out, const struct executor_config *cfg);
/* Stops watching; jobs keep running under their supervisors. */
void executor_close(struct executor *e);

/* Starts the job unless it was already submitted (then 0 and nothing
 * happens: submit is idempotent under redelivery). A RUNNING event follows
 * once the command executes, or an EXITED one with a reason if it cannot. */
int executor_submit(struct executor *e, const struct executor_spec *spec);

/* Asks the job to stop: SIGTERM to its process group, SIGKILL after the
 * grace period. 0 if it was never submitted or already ended (nothing to do). */
int executor_cancel(struct executor *e, const char *job_id);

/* After a restart: looks at a job the store says is not finished and
 * re-adopts it (events follow as for a submitted job) or reports its
 * outcome at once. Returns 1 if the job was never submitted (its directory
 * has no spec: the caller submits it), else 0. */
int executor_recover(struct executor *e, const char *job_id);

/* The job's log: up to len bytes from offset (negative: from the end) into
 * buf. *size gets the bytes written so far, *dropped how many of the
 * oldest were dropped by the cap. Returns the count copied. CCF_ENOTFOUND
 * if the job has no directory. */
int executor_read_log(struct executor *e, const char *job_id, int64_t offset, char *buf, size_t len,
                      int64_t *size, int64_t *dropped);

/* Deletes the job's directory (retention). Only for ended jobs. */
int executor_forget(struct executor *e, const char *job_id);

/* The `ccfd supervise DIR` mode: never returns to ccfd's main. */
int executor_supervise_main(const char *dir);

#endif
