/* executor.h: runs jobs somewhere and reports what became of them, on one
 * or several backends (executor.c dispatches; backend_int.h is what a
 * backend provides). A job goes to the first configured backend that can
 * run it: an image_uri to the first container backend (podman), else its
 * command to the first process backend (local, slurm). Which backend runs a
 * job is written in its directory (DIR/backend), so the callers never know.
 *
 * The local backend (local.c) runs a connector's command as a child of a small
 * supervisor process (`ccfd supervise DIR`, supervisor.c), one per job,
 * that outlives ccfd: state lives in the job's directory, so a restarted
 * ccfd re-adopts running jobs and collects the outcomes of finished ones.
 * Must not know about HTTP or SQL.
 *
 * Thread rules: executor_* calls are thread-safe. Events are delivered on
 * the executor's own watcher thread; the callback must not block for long
 * (the orchestrator just queues them) and must not call executor_close.
 *
 * The job directory's layout is in executor_int.h. Linux only: pidfds
 * (5.3+) when the kernel has them, else (and under valgrind 3.19) pipe
 * ends and a 200 ms look at adopted supervisors' locks. */
#ifndef CCF_EXECUTOR_H
#define CCF_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct executor; /* defined by the backend */

/* What a job runs. Every pointer is borrowed for the call. */
struct executor_spec {
    const char *job_id; /* also the executor id of the local backend */
    const char *connector_id;
    const char *image_uri;          /* NULL: none; a container backend runs it (argv its command) */
    const char *execution_role_arn; /* NULL: none; the image's roles (batch) */
    const char *job_role_arn;
    const char *const *argv; /* NULL-terminated, or NULL for an image's own command;
                                argv[0] relative: looked up in PATH of envp */
    const char *const *envp; /* NULL-terminated "NAME=value": the job's whole environment */
    int64_t timeout_s;       /* counted from RUNNING */
    double cpu;              /* vCPUs it reserves */
    int64_t memory_mib;      /* enforced as an address-space limit */
    int attempt;             /* from 1 (0 means 1): a job runs again, in the same directory and
                                work/, when submitted with a higher attempt than before */
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
    bool stopped;     /* killed because cancel was asked, or (no exit code)
                         stopped before it ever started */
    char reason[256]; /* for LOST; for a command that could not start
                         ("cannot run <argv0>: <error>", exit code 127); for
                         "stopped before it started"; for a supervisor that
                         failed before starting it (no exit code) */
    int64_t at_us;    /* when it happened, as the supervisor recorded it (wall
clock, µs since the epoch): the start of RUNNING, the
end of EXITED, also when ccfd was down then; 0 when
unknown (LOST): the caller takes its own now */
};

typedef void (*executor_event_fn)(void *ctx, const struct executor_event *ev);

/* What a backend can run at once. Backends naming the same pool share one
 * budget (local and podman both run on this machine: "machine"). */
struct executor_capacity {
    char pool[16];
    double cpu;         /* vCPUs */
    int64_t memory_mib; /* MiB */
    int max_jobs;       /* 0: cpu and memory decide */
};

struct executor_config {
    const char *backends; /* "local,podman,slurm", comma-separated, in order of
                             preference; NULL or "": "local" */
    /* The machine's budget, for the backends that run here. */
    double cpu_budget;
    int64_t memory_budget_mib;
    int max_jobs;         /* 0: no limit beyond cpu and memory */
    const char *jobs_dir; /* one directory per job under it */
    /* podman: image-map rules separated by newlines (podman/imagemap.h),
     * and the network of its containers (NULL: "host"). */
    const char *image_map;
    const char *podman_network;
    /* executor slurm: SLURM_CONF of its commands and the jobs' partition
     * (NULL: Slurm's defaults). jobs_dir must then be on storage the
     * cluster's nodes share, at the same path. */
    const char *slurm_conf;
    const char *slurm_partition;
    /* executor batch: the AWS Batch job queue (required) and the region
     * (NULL: AWS_REGION). Its endpoint is AWS_ENDPOINT_URL_BATCH, else
     * AWS_ENDPOINT_URL, else AWS's; its credentials AWS_ACCESS_KEY_ID,
     * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, as the SDKs read them. */
    const char *batch_job_queue;
    const char *region;
    bool batch_no_poll;   /* outcomes come from elsewhere (EventBridge, on Lambda): no poller */
    const char *self_exe; /* the ccfd binary, run as `self_exe supervise DIR` */
    int stop_grace_s;     /* SIGTERM, then SIGKILL after this many seconds (default 10) */
    size_t log_max_bytes; /* per-job log cap (default 64 MiB) */
    executor_event_fn on_event;
    void *ctx;
};

/* Opens every backend listed (the local one starts its watcher thread).
 * CCF_EINVAL for an unknown or repeated backend name, or one this build or
 * machine cannot run (each logged with why), CCF_EIO if
 * jobs_dir cannot be made (its parent must exist). self_exe NULL:
 * /proc/self/exe. stop_grace_s <= 0 and log_max_bytes < 2 take the
 * defaults. */
int executor_open(struct executor **out, const struct executor_config *cfg);
/* Stops watching; jobs keep running under their supervisors. */
void executor_close(struct executor *e);

/* Whether image-map rules (newline-separated, podman/imagemap.h) compile;
 * why not in err (n bytes). */
bool executor_image_map_ok(const char *rules, char *err, size_t n);

/* The backend that would run spec (only image_uri and argv are looked at):
 * its index, from 0, in the configured list. CCF_EINVAL when none can,
 * with a reason that starts with "cannot run" in reason (n bytes). */
int executor_route(struct executor *e, const struct executor_spec *spec, char *reason, size_t n);
/* The number of backends, and backend i's name (static) and capacity
 * (CCF_EINVAL for a bad i; CCF_EUNAVAIL when it cannot say right now). */
int executor_backends(const struct executor *e);
const char *executor_backend_name(const struct executor *e, int i);
int executor_capacity(struct executor *e, int i, struct executor_capacity *out);

/* Starts the job unless it was already submitted (then 0 and nothing
 * happens: submit is idempotent under redelivery; a live supervisor left by
 * an earlier ccfd is adopted, as by recover). A RUNNING event follows once
 * the command executes, or an EXITED one with a reason if it cannot.
 * CCF_EINVAL for a bad job id or an empty argv, CCF_ETOOLARGE past 4096
 * argv or envp entries or 16 MiB in all, CCF_EIO if it cannot be started
 * (then it counts as not submitted), and CCF_EINVAL too when no backend
 * can run it (executor_route says why). */
int executor_submit(struct executor *e, const struct executor_spec *spec);
/* A connector's run definition (image, roles, resources, timeout: spec's
 * fields but job_id, argv, envp and attempt) may have changed: the backend
 * that would run it registers what it keeps per connector now (batch: its
 * job definition, when the latest revision differs), the others do
 * nothing (0). Submit checks again, so a prepare that failed or never came
 * costs only that submit's registration. 0, or CCF_EINVAL (cannot run,
 * or refused), CCF_EUNAVAIL, CCF_EIO. */
int executor_prepare(struct executor *e, const struct executor_spec *spec);
/* Whether any configured backend keeps something per connector (whether
 * executor_prepare can do anything): callers skip the work otherwise. */
bool executor_prepares(const struct executor *e);
/* A submit with an attempt higher than the directory's moves the earlier
 * attempt's log aside (executor_read_attempt_log still reads it) and
 * starts afresh; CCF_EUNAVAIL while the earlier attempt's supervisor has
 * not exited yet (ask again shortly). */

/* Asks the job to stop: SIGTERM to its process group, SIGKILL after the
 * grace period; its EXITED event says stopped. 0 if it was never submitted
 * or already ended (nothing to do). A job recovered after the cancel still
 * gets its events. CCF_EUNAVAIL in the instant a supervisor started by
 * another process has not yet said who it is: ask again. */
int executor_cancel(struct executor *e, const char *job_id);

/* After a restart: looks at a job the store says is not finished and
 * re-adopts it (events follow as for a submitted job) or reports its
 * outcome at once. Returns 1 if the job was never submitted (its directory
 * has no spec: the caller submits it), else 0. */
int executor_recover(struct executor *e, const char *job_id);
/* The same for the attempt the store expects in flight: 1 also when the
 * directory holds an earlier attempt (this one was never submitted; the
 * earlier one's outcome is not reported again). attempt 0: any. */
int executor_recover_attempt(struct executor *e, const char *job_id, int attempt);

/* An attempt whose supervisor still runs on this machine. */
struct executor_live {
    char job_id[CCF_JOB_ID_LEN + 1];
    int attempt; /* the attempt its directory holds, from 1 */
};
/* Every job of this machine's supervisors (backends on local.c: local,
 * podman) whose supervisor still runs, watched or not, into *out (malloc'd,
 * the caller frees it; NULL when none) and *n: what a replica that was
 * declared lost may still run (the orchestrator stops those the store no
 * longer gives it, with executor_cancel). Slurm and Batch jobs are not
 * listed. CCF_EIO if the jobs directory cannot be read. */
int executor_live_attempts(struct executor *e, struct executor_live **out, size_t *n);

/* The job's log: up to len bytes from offset (negative: from the end) into
 * buf. *size gets the bytes written so far, *dropped how many of the
 * oldest were dropped by the cap; an offset below *dropped reads from
 * *dropped. Returns the count copied (at most INT_MAX). Works while the
 * job writes, and never waits for it. CCF_ENOTFOUND if the job has no
 * directory. */
int executor_read_log(struct executor *e, const char *job_id, int64_t offset, char *buf, size_t len,
                      int64_t *size, int64_t *dropped);

/* The same for one attempt's log (attempt 0: the latest). CCF_ENOTFOUND if
 * that attempt left no log. */
int executor_read_attempt_log(struct executor *e, const char *job_id, int attempt, int64_t offset,
                              char *buf, size_t len, int64_t *size, int64_t *dropped);

/* Deletes the job's directory (retention), never following a link the job
 * left. Only for ended jobs: CCF_ECONFLICT while its supervisor runs. 0 if
 * there is no directory. */
int executor_forget(struct executor *e, const char *job_id);

/* The `ccfd supervise DIR` mode: never returns to ccfd's main (exits 0
 * once the outcome is recorded, 1 if it could not be). Expects fd 3 (the
 * notify pipe) and fd 4 (DIR/lock, locked) from executor_submit; run by
 * hand it takes the lock itself. */
int executor_supervise_main(const char *dir);

#endif
