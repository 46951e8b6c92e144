/* orch_fake.h: the fake executor of the orchestrator's tests, a test double
 * of executor.h at link level: tests/orch_fake.c defines the executor_*
 * functions the orchestrator calls, and the test binaries link it ahead of
 * libccfd.a, so the linker never takes the local backend from the archive.
 * It records submits and cancels in struct executor, which the tests read
 * and set (submit_rc, what recover adopts). The adopted jobs are also what
 * executor_live_attempts lists. */
#ifndef CCF_TESTS_ORCH_FAKE_H
#define CCF_TESTS_ORCH_FAKE_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "executor/executor.h"

#define MAX_JOBS 16

struct fake_submit {
    char job_id[CCF_JOB_ID_LEN + 1];
    char argv[4][64]; /* the first four arguments */
    char *env;        /* every "NAME=value", '\n'-separated */
    double cpu;
    int64_t memory_mib, timeout_s;
    int attempt;
};

struct executor {
    struct fake_submit submits[MAX_JOBS];
    size_t nsubmits;
    char cancels[MAX_JOBS][CCF_JOB_ID_LEN + 1];
    size_t ncancels;
    int submit_rc; /* returned by the next submits (0: accepted) */
    /* recover: the jobs a supervisor still runs (0: adopted); any other
     * was never submitted (1). */
    char adopted[MAX_JOBS][CCF_JOB_ID_LEN + 1];
    int adopted_attempt[MAX_JOBS]; /* the attempt its supervisor runs */
    size_t nadopted, nrecovers;
    size_t nforgets; /* executor_forget calls (each drops the job from adopted) */
};

/* What executor_capacity reports for the one backend, "local"; each
 * test's setup sets it. */
extern struct executor_capacity fake_cap;

static inline void adopt_attempt(struct executor *e, const char *job_id, int attempt)
{
    e->adopted_attempt[e->nadopted] = attempt;
    snprintf(e->adopted[e->nadopted++], CCF_JOB_ID_LEN + 1, "%s", job_id);
}

static inline void adopt(struct executor *e, const char *job_id)
{
    adopt_attempt(e, job_id, 1);
}

#endif
