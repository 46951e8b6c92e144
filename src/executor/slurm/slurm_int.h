/* slurm_int.h: the Slurm backend's pure parts (slurm_cmd.c: the sbatch
 * command line, the batch script, parsing `scontrol show job -o` and
 * `scontrol show node -o`, the outcome of a Slurm job state) and how it
 * runs the Slurm commands (slurm_spawn.c: posix_spawn, never a shell, with
 * bounded, timed-out reads). slurm.c is the backend on top.
 *
 * Slurm's own files in a job directory DIR (beside executor_int.h's):
 *   slurm.sh      the batch script of the current attempt (see below)
 *   slurm.name    the Slurm job name of the current attempt, written before
 *                 sbatch runs: after a crash in between, the job is found
 *                 by its name, so it never runs twice
 *   slurm.id      the Slurm job id of the current attempt, once known
 *   slurm.cancel  why ccfd cancelled it ("stop" or "timeout"), written
 *                 before the first scancel so that a restart still knows
 *   slurm.running when ccfd first saw it RUNNING (µs): the timeout counts
 *                 from there, across restarts
 *   exit          the outcome, written before it is reported (as local's)
 *   log, log.meta the job's output: sbatch's --output file (shared storage)
 *
 * Thread rules: everything here is reentrant; nothing keeps state. */
#ifndef CCF_EXECUTOR_SLURM_INT_H
#define CCF_EXECUTOR_SLURM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "executor/executor.h"
#include "executor/executor_int.h"

#define SLURM__OUT_MAX   (1024u * 1024) /* bytes kept from one command's output */
#define SLURM__FIELD_MAX 64             /* JobState, Reason, ... longer are cut */
#define SLURM__SCRIPT    "slurm.sh"
#define SLURM__NAME      "slurm.name"
#define SLURM__ID        "slurm.id"
#define SLURM__CANCEL    "slurm.cancel"
#define SLURM__STARTED   "slurm.running"
#define SLURM__JOBID_MAX 20 /* digits, and "_N" of an array: never used here */
#define SLURM__NAME_LEN  (CCF_JOB_ID_LEN + 8)

/* What one sbatch needs, all borrowed. */
struct slurm__submit {
    const char *name;     /* the Slurm job name: <job_id>.<attempt> */
    const char *work_dir; /* the job's working directory (its HOME) */
    const char *out_file; /* its combined stdout and stderr */
    const char *script;   /* the batch script's path */
    const char *const *argv;
    double cpu;            /* 0: Slurm's default */
    int64_t memory_mib;    /* 0: Slurm's default */
    int64_t timeout_s;     /* 0: no limit of ours */
    int64_t grace_s;       /* what a stop or timeout may take after its TERM */
    const char *partition; /* NULL: the cluster's default */
};

/* The sbatch argv (NULL-terminated; free with slurm__strv_free). The job's
 * argv goes last, as the batch script's arguments, so nothing is quoted
 * and nothing passes through a shell's parser. CCF_EINVAL for an empty
 * argv or a missing path. */
int slurm__sbatch_argv(const struct slurm__submit *s, char ***out);
/* --time in minutes: the timeout plus the grace, rounded up, at least 1;
 * 0 when there is no timeout. A backstop only: ccfd's own timer decides. */
int64_t slurm__time_minutes(int64_t timeout_s, int64_t grace_s);
/* --cpus-per-task: whole CPUs, rounded up, at least 1 (0 when cpu <= 0). */
int64_t slurm__cpus(double cpu);

/* Splits the job's environment: sbatch's own (what it passes on with
 * --export=ALL) gets every variable but those Slurm's commands read as
 * their own options (SLURM_*, SBATCH_*, SALLOC_*, SRUN_*, SPANK_*) or that
 * Slurm sets in a batch job (HOSTNAME, ENVIRONMENT, TMPDIR, PWD, OLDPWD);
 * the batch script sets those of the job and removes the others, so the
 * command sees the job's exact environment, plus Slurm's own SLURM_*.
 * slurm_conf (or NULL) is added to sbatch's environment for sbatch itself.
 * *env_out: NULL-terminated, free with slurm__strv_free; *script_out: the
 * batch script's text, the caller's to free. CCF_EINVAL for an entry that
 * is not NAME=value with a shell-safe NAME. */
int slurm__split_env(const char *const *envp, const char *slurm_conf, char ***env_out,
                     char **script_out);

void slurm__strv_free(char **v);

/* What `scontrol show job -o` says of one job. */
struct slurm__job {
    char job_id[SLURM__JOBID_MAX + 1];
    char name[SLURM__FIELD_MAX];
    char state[SLURM__FIELD_MAX];  /* JobState, e.g. RUNNING, COMPLETED */
    char reason[SLURM__FIELD_MAX]; /* Reason, e.g. None, NonZeroExitCode */
    int exit_code;                 /* ExitCode N:S: N */
    int exit_signal;               /* ... and S */
    bool has_exit;                 /* ExitCode was there and well-formed */
};

/* Parses one line of `scontrol show job -o` (space-separated Key=Value;
 * the first of each key counts). CCF_EINVAL without a JobId and a JobState
 * that make sense. Never reads past len; any bytes are safe. */
int slurm__parse_job(const char *line, size_t len, struct slurm__job *out);
/* Calls fn for each job of a whole `scontrol show job -o` output; lines
 * that do not parse are skipped. Returns how many parsed. */
int slurm__parse_jobs(const char *text, size_t len,
                      void (*fn)(void *ctx, const struct slurm__job *j), void *ctx);

/* What `scontrol show node -o` says of the cluster, summed over nodes that
 * can take jobs (not DOWN, DRAIN, FAIL, ...). */
struct slurm__capacity {
    int64_t cpus;
    int64_t memory_mib;
    int nodes;
};
int slurm__parse_nodes(const char *text, size_t len, struct slurm__capacity *out);

/* Where a Slurm job is. */
enum slurm__phase {
    SLURM__PENDING = 0, /* not yet running (PENDING, CONFIGURING, REQUEUED...) */
    SLURM__RUNNING,     /* RUNNING, SUSPENDED, COMPLETING, STOPPED... */
    SLURM__ENDED,       /* a terminal state: see slurm__outcome */
};
enum slurm__phase slurm__phase_of(const char *state);

/* The outcome of an ended job as the contract's "How a job ends" wants it,
 * given why ccfd cancelled it (NULL, "stop" or "timeout"). Fills ev's
 * state, exit code, flags and reason (not job_id or at_us). */
void slurm__outcome(const struct slurm__job *j, const char *cancel, struct executor_event *ev);

/* slurm_spawn.c: runs argv (argv[0] an absolute path or found in PATH of
 * envp) with envp, stdin from /dev/null, stdout and stderr into one pipe.
 * Up to SLURM__OUT_MAX bytes are kept in *out (NUL-terminated, the
 * caller's to free; the rest is read and dropped); past timeout_ms the
 * process is killed. *status: its exit status (0..255), or -1 when it was
 * killed or timed out. CCF_EIO if it cannot be spawned. */
int slurm__run(const char *const *argv, const char *const *envp, int timeout_ms, char **out,
               size_t *out_len, int *status);

/* ---- the backend's handle (slurm.c, slurm_watch.c) ----
 * Locking: op_mu serialises submit, recover, cancel and forget; mu guards
 * the jobs list, the capacity and `closing`. The watcher takes a snapshot
 * under mu, runs scontrol with no lock held, then applies what it learnt
 * under mu, and delivers events with no lock held. */
#include <pthread.h>

struct sjob {
    struct sjob *next;
    char id[CCF_JOB_ID_LEN + 1];
    char name[SLURM__NAME_LEN + 1];      /* <job_id>.<attempt> */
    char slurm_id[SLURM__JOBID_MAX + 1]; /* "" until known */
    int attempt;
    int64_t timeout_s;
    int64_t watched_since_us; /* for a job whose id is not known yet */
    int64_t running_at_us;    /* 0 until RUNNING was seen (or read from DIR) */
    char cancel[16];          /* "", "stop" or "timeout" */
    int64_t kill_at_us;       /* when a cancelled job gets KILL; 0: not yet asked */
    bool term_sent;
    bool killed;
    bool running_sent;
    bool found_by_name;              /* slurm_id learnt from the listing: save it */
    int missing;                     /* polls in a row that did not list it */
    char fail[EXECUTOR__REASON_MAX]; /* submit failed: report this */
    bool has_final;                  /* recovered with an outcome already recorded */
    struct executor_event final;
    /* What the last poll said, for the watcher only. */
    bool seen;
    struct slurm__job last;
};

struct executor_slurm {
    char *jobs_dir;
    int jobs_dfd;
    char *slurm_conf;
    char *partition;
    char **cmd_env; /* what the Slurm commands run with: PATH, SLURM_CONF */
    int grace_s;
    int poll_ms;
    executor_event_fn on_event;
    void *ctx;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t op_mu;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* wakes the watcher: a job added, or closing */
    struct sjob *jobs;
    bool closing;
    struct slurm__capacity cap;
    int jobs_n;
    int64_t cap_at_us; /* 0: never asked */
};

#define SLURM__CMD_TIMEOUT_MS 30000
#define SLURM__LOOKUP_MS      30000 /* a job not found by its name this long was never queued */

/* slurm.c */
int slurm__open_dir(struct executor_slurm *e, const char *id);
/* Runs a Slurm command with e->cmd_env. */
int slurm__cmd(struct executor_slurm *e, const char *const *argv, char **out, size_t *len,
               int *status);
/* scancel --full --signal=SIG <slurm_id>; logs a failure. */
void slurm__scancel(struct executor_slurm *e, const char *slurm_id, const char *sig);
/* Records an ended job's outcome in DIR/slurm.exit (before it is reported). */
void slurm__record(struct executor_slurm *e, const struct executor_event *ev);
int slurm__refresh_capacity(struct executor_slurm *e);

/* slurm_watch.c */
int slurm__watch_start(struct executor_slurm *e);
void slurm__watch_stop(struct executor_slurm *e);
/* Adds a job to the table (takes j) and wakes the watcher; call with mu held. */
void slurm__watch_add(struct executor_slurm *e, struct sjob *j);
struct sjob *slurm__watch_find(struct executor_slurm *e, const char *id);

#endif
