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
};

struct orch__list {
    struct orch__job *items;
    size_t n, cap;
};

struct orchestrator {
    struct orchestrator_config cfg;
    struct executor *executor;
    struct orch__list pending; /* FIFO: jobs start in the order they were created */
    struct orch__list running; /* submitted and not yet ended: they hold capacity */
    double cpu_used;
    int64_t memory_used;
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
};

/* orchestrator.c: what the thread does, callable without it (tests). */
/* Recovery before the thread starts: the cursor, then every unfinished job
 * re-adopted, collected or queued again. */
int orch__recover(struct orchestrator *o, struct executor *executor);
/* One turn of the loop: queued events, then new changes, then what fits. */
void orch__step(struct orchestrator *o);

/* lists.c */
/* push and remove move a job (its spec with it); neither frees it. */
void orch__list_push(struct orch__list *l, const struct orch__job *j);
/* Index of job_id in l, or -1. */
ssize_t orch__list_find(const struct orch__list *l, const char *job_id);
void orch__list_remove(struct orch__list *l, size_t i);
/* Frees every job still in l, then l. */
void orch__list_free(struct orch__list *l);
void orch__job_free(struct orch__job *j);

/* spec.c */

/* Builds argv (the spec's command) and envp (the framework's variables, the
 * spec's defaults, the job's own) for the executor into the arrays
 * (NULL-terminated, every string malloc'd; free with orch__strv_free). */
int orch__build(const struct orchestrator *o, const struct store_job_ref *ref,
                const struct ccf_job_spec *spec, const struct ccf_job *job, char ***argv,
                char ***envp);
void orch__strv_free(char **v);

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
/* Takes a STARTED job in: queues it, or fails it at once if it can never run. */
int orch__admit(struct orchestrator *o, const struct store_job_ref *ref);
/* Ends a job that never ran (STOPPING → STOPPED) or fails one (→ FAILED). */
int orch__end_now(struct orchestrator *o, const struct store_job_ref *ref, enum ccf_job_status to,
                  const char *reason);

#endif
