/* backend_int.h: what a backend gives the dispatcher (executor.c): a small
 * table of operations on a handle of its own. A backend lives in its own
 * files (local.c + supervisor*.c + watch.c, podman/, slurm/) and knows
 * nothing of the others; the dispatcher routes each job to one backend and
 * records which in the job's directory (DIR/backend), so cancel, recover,
 * logs and forget find it again after a restart.
 *
 * Every operation has the meaning and error codes of the executor_*
 * function of the same name in executor.h, for the jobs of this backend.
 * Thread rules: as executor.h; each op may be called from any thread. */
#ifndef CCF_EXECUTOR_BACKEND_INT_H
#define CCF_EXECUTOR_BACKEND_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "executor/executor.h"

#define EXECUTOR__BACKEND      "backend" /* DIR/backend: the name of the job's backend */
#define EXECUTOR__BACKENDS_MAX 4

struct executor_local;

/* What a backend's open() gets: the whole config, and the machinery of
 * jobs on this machine (local.c), open when a backend asked for it. */
struct executor__env {
    const struct executor_config *cfg;
    struct executor_local *local; /* borrowed; NULL unless uses_local */
};

struct executor__backend {
    const char *name;
    bool container;     /* runs image_uri (else: a command as a process) */
    bool uses_local;    /* runs under local.c's supervisors: cancel, recover,
                           logs and forget are local.c's, not the ops below */
    bool finds_by_name; /* cancel and recover find a job without its directory here */
    int (*open)(void **out, const struct executor__env *env);
    void (*close)(void *b);
    /* NULL: the backend runs every job its kind routes to it. Else false
     * with a reason that starts with "cannot run" for one it cannot. */
    bool (*can_run)(void *b, const struct executor_spec *spec, char *reason, size_t n);
    int (*submit)(void *b, const struct executor_spec *spec);
    int (*capacity)(void *b, struct executor_capacity *out);
    /* NULL: nothing kept per connector (executor_prepare does nothing). */
    int (*prepare)(void *b, const struct executor_spec *spec);
    /* Only for a backend that does not use local.c: */
    int (*cancel)(void *b, const char *job_id);
    int (*recover)(void *b, const char *job_id, int attempt);
    int (*read_log)(void *b, const char *job_id, int attempt, int64_t offset, char *buf, size_t len,
                    int64_t *size, int64_t *dropped);
    int (*forget)(void *b, const char *job_id);
};

/* The machine's budget for a backend that runs here: cfg's, else every
 * online CPU and all physical memory; pool "machine". */
int executor__machine_capacity(const struct executor_config *cfg, struct executor_capacity *out);

/* The backends this build has (executor.c lists them). */
extern const struct executor__backend executor__backend_local;
extern const struct executor__backend executor__backend_podman; /* podman/podman.c */
extern const struct executor__backend executor__backend_slurm;  /* slurm/slurm.c */
extern const struct executor__backend executor__backend_batch;  /* batch/batch.c */

#endif
