/* orchestrator_int.h: the orchestrator's state and what its files share. */
#ifndef CCF_ORCHESTRATOR_INT_H
#define CCF_ORCHESTRATOR_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "orchestrator/orchestrator.h"

/* A job the orchestrator has admitted: waiting for capacity or running.
 * Its spec was decoded at admission and serves both the capacity it holds
 * and the command it runs; it moves with the job from list to list and is
 * freed (orch__job_free) when the job leaves them for good. */
struct orch__job {
    struct store_job_ref ref;
    struct ccf_job_spec *spec; /* owned */
    char *properties;          /* owned: what spec was decoded from, frozen in the job when
                                  its first attempt starts (so a restart runs the same) */
    int attempt;               /* the attempt it runs, or runs next, from 1 */
    int pool;                  /* index in orchestrator.pools of the backend that runs it */
    int64_t due_us;            /* in the waiting list: when the next attempt may start */
    char *status_reason;       /* owned: why it waits, as last written to the store; NULL:
                                  none written (or cleared) */
};

struct orch__list {
    struct orch__job *items;
    size_t n, cap;
};

/* One budget: what a backend (or several sharing it) can run at once, as
 * the executor says (capacity.c), and what running jobs hold of it. */
struct orch__pool {
    struct executor_capacity cap;
    double cpu_used;
    int64_t memory_used;
    int running;
};

/* An attempt on this machine that the store no longer gives this runner
 * (strays.c): stopped, then its directory forgotten once its supervisor
 * has exited; nothing of it reaches the store. */
struct orch__stray {
    char job_id[CCF_JOB_ID_LEN + 1];
    int attempt;
    bool stop_sent;
    bool forgotten;           /* its directory is gone */
    bool ours;                /* the job is still this runner's (at another attempt): */
    struct store_job_ref ref; /* recovered with this ref once the stray is gone */
};

#define ORCH__POOLS_MAX 4

struct orchestrator {
    struct orchestrator_config cfg;
    struct executor *executor;
    struct orch__pool pools[ORCH__POOLS_MAX];
    int npools;
    int backend_pool[ORCH__POOLS_MAX]; /* backend index → pool index */
    int64_t pools_at;                  /* monotonic µs of the last look at capacities */
    struct orch__list pending;         /* FIFO: jobs start in the order they were created */
    struct orch__list running;         /* submitted and not yet ended: they hold capacity */
    struct orch__list waiting;         /* between attempts, until due_us: they hold nothing */
    struct orch__stray *strays;        /* strays.c: attempts being stopped and discarded */
    size_t nstrays, strays_cap;
    int64_t cursor;     /* last change handled */
    int64_t next_purge; /* monotonic seconds */
    bool retry_soon;    /* the store was unavailable: try again shortly */

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cond;
    bool woken, stopping;
    struct executor_event *events;
    size_t nevents, events_cap;
    atomic_bool thread_live; /* for orchestrator_running */
    const char *replica;     /* runner of this replica's jobs only; NULL: of every job */
    atomic_bool leading;     /* orchestrator_set_leading */
    struct orchestrator_metrics metrics;
    int64_t prepare_cursor; /* prepare.c: the connector changes told to the executor */
    bool prepare_cursor_read;
};

/* orchestrator.c: what the thread does, callable without it (tests). */
/* Recovery before the thread starts: the cursor, then every unfinished job
 * re-adopted, collected or queued again. */
int orch__recover(struct orchestrator *o, struct executor *executor);
/* One unfinished job after a restart: re-adopt it, collect its outcome,
 * or queue it again if it never reached the executor (a RUNNING one that
 * did not, on a shared store, ends "runner lost"). */
int orch__recover_one(struct orchestrator *o, const struct store_job_ref *ref);
/* One turn of the loop: queued events, then new changes, then what fits. */
void orch__step(struct orchestrator *o);

/* capacity.c */
/* Asks the executor for each backend's capacity (again after a while: a
 * cluster's may change). 0, or the executor's error. */
int orch__pools_refresh(struct orchestrator *o, bool force);
/* Routes a job to its backend and pool (j->pool); NULL if it can run, else
 * why not (a reason that starts with "cannot run", in reason or static). */
const char *orch__place(struct orchestrator *o, struct orch__job *j, char *reason, size_t n);
/* Whether j fits in what its pool has left now. */
bool orch__fits(const struct orchestrator *o, const struct orch__job *j);
/* Why j, which does not fit, waits, into reason: what its pool lacks when
 * j is first in line (head), else that earlier jobs wait first. The text
 * starts "waiting for capacity:" and names the pool. */
void orch__wait_reason(const struct orchestrator *o, const struct orch__job *j, bool head,
                       char *reason, size_t n);

/* lists.c */
/* push and remove move a job (its spec with it); neither frees it. */
void orch__list_push(struct orch__list *l, const struct orch__job *j);
/* Index of job_id in l, or -1. */
ssize_t orch__list_find(const struct orch__list *l, const char *job_id);
void orch__list_remove(struct orch__list *l, size_t i);
/* Frees every job still in l, then l. */
void orch__list_free(struct orch__list *l);
void orch__job_free(struct orch__job *j);

/* prepare.c: connectors created or updated since the last turn, each
 * passed to executor_prepare (when a backend prepares anything). */
void orch__prepare_step(struct orchestrator *o);

/* spec.c */

/* Builds argv (the spec's command) and envp (the framework's variables, the
 * spec's defaults, the job's own) for the executor into the arrays
 * (NULL-terminated, every string malloc'd; free with orch__strv_free). */
int orch__build(const struct orchestrator *o, const struct store_job_ref *ref,
                const struct ccf_job_spec *spec, const struct ccf_job *job, char ***argv,
                char ***envp);
void orch__strv_free(char **v);
/* What of spec an executor is told (image, roles, the command as argv,
 * timeout, cpu, memory) into es, borrowed from spec; the caller sets the
 * rest (ids, envp, attempt, or its own argv). */
void orch__exec_spec(const struct ccf_job_spec *spec, struct executor_spec *es);

/* handlers.c: the orchestrator and the status handler. */
int orch__on_change(struct orchestrator *o, const struct store_change *ch);
int orch__on_event(struct orchestrator *o, const struct executor_event *ev);
/* A job enters the running list holding its capacity, or leaves it
 * giving the capacity back (without ending its credentials or freeing it:
 * the caller has it back in *out). */
void orch__reserve(struct orchestrator *o, const struct orch__job *j);
void orch__unreserve(struct orchestrator *o, size_t i, struct orch__job *out);
/* Starts pending jobs while they fit. */
void orch__pump(struct orchestrator *o);
/* Takes an unfinished job in: queues it (a STARTED job between attempts
 * goes to the waiting list), or fails it at once if it can never run. */
int orch__admit(struct orchestrator *o, const struct store_job_ref *ref);
/* retry.c. After attempt failure tr of running job i (job as read before
 * it): 1 if the job now waits for its next attempt (it left the running
 * list), 0 if it is not retried (the caller ends it), or a store error. */
int orch__retry(struct orchestrator *o, size_t i, const struct ccf_job *job,
                const struct store_transition *tr);
/* Moves the waiting jobs whose time has come to the end of the queue;
 * returns the µs until the next one is due (INT64_MAX: none waits). */
int64_t orch__wake_due(struct orchestrator *o);
/* Ends a job that never ran (STOPPING → STOPPED) or fails one (→ FAILED). */
int orch__end_now(struct orchestrator *o, const struct store_job_ref *ref, enum ccf_job_status to,
                  const char *reason);

/* strays.c: a runner's attempts that the store no longer gives it (it was
 * declared lost: the leader ended them or gave them to another replica). */
/* At recovery, before re-adoption: every attempt whose supervisor still
 * runs here and that is not one of refs (the runner's unfinished jobs) at
 * the store's attempt becomes a stray, and is stopped. */
void orch__strays_find(struct orchestrator *o, const struct store_job_ref *refs, size_t n);
/* While it runs: jobs in its lists that refs (read just now) no longer
 * has leave them; a running one becomes a stray. */
void orch__strays_lost(struct orchestrator *o, const struct store_job_ref *refs, size_t n);
/* Whether job_id's stray attempt is still being stopped or discarded: the
 * job is not taken in (again) until it is gone. */
bool orch__is_stray(const struct orchestrator *o, const char *job_id);
/* Each turn: stops strays not yet stopped, forgets those whose supervisor
 * has exited (recovering the job when it is still this runner's), and asks
 * for another turn shortly while any is left. */
void orch__strays_step(struct orchestrator *o);

#endif
