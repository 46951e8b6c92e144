/* scheduler.h: the thread that runs connectors' schedules. It sleeps until
 * the earliest next_run_at the store holds (a timed wait, woken early when
 * a schedule, a pause or a resume may have moved it; no polling), then
 * handles every run that is due: a SCHEDULE job started as by
 * StartCustomConnectorJob, or the run skipped when the connector is
 * IN_USE, the next run written in the same transaction. At start-up, runs
 * missed while ccfd was down are caught up once (CONTRACT-OPS.md
 * "Schedules"). Must not know about HTTP or executors: the orchestrator
 * sees the jobs it starts through the store's change stream.
 *
 * Thread rules: scheduler_wake may be called from any thread; the rest from
 * the thread that made the scheduler. */
#ifndef CCF_SCHEDULER_H
#define CCF_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/schedule.h"
#include "store/store.h"

struct scheduler;

struct scheduler_config {
    struct store *store;   /* borrowed; outlives the scheduler */
    struct ccf_tzdb *tzdb; /* borrowed; outlives the scheduler */
};

/* What the scheduler has done since it started. */
struct scheduler_stats {
    uint64_t started;   /* jobs started on schedule (catch-ups included) */
    uint64_t skipped;   /* runs due while the connector was IN_USE */
    uint64_t dropped;   /* runs missed while down, without catch_up */
    uint64_t caught_up; /* catch-up jobs started */
};

int scheduler_create(struct scheduler **out, const struct scheduler_config *cfg);
/* Starts the thread; runs due before this call were missed while ccfd was
 * down and follow the catch-up rule. CCF_EIO if the thread cannot start. */
int scheduler_start(struct scheduler *s);
/* For api_config.schedule_changed: the earliest due run may have moved. */
void scheduler_wake(void *ctx);
void scheduler_get_stats(struct scheduler *s, struct scheduler_stats *out);
/* Stops the thread (a run being handled finishes first). */
void scheduler_stop(struct scheduler *s);
void scheduler_destroy(struct scheduler *s);

/* One due run d (as store_due_schedules reads it), handled as the thread
 * handles each: a SCHEDULE job started, or the run skipped (IN_USE) or
 * dropped (missed, without catch_up), the next run written in the same
 * store transaction. For the AWS profile, where EventBridge Scheduler
 * says when a run is due and no thread waits (src/lambda). Returns what
 * happened (job_id, which may be NULL, gets a started job's id), or the
 * store's error: CCF_ECONFLICT or CCF_ENOTFOUND when the connector
 * changed or went since d was read. Any thread. */
enum scheduler_fired {
    SCHEDULER_NONE = 0, /* nothing to start (the schedule no longer decodes) */
    SCHEDULER_STARTED,
    SCHEDULER_SKIPPED,
    SCHEDULER_DROPPED,
};
int scheduler_fire_due(struct store *store, struct ccf_tzdb *tzdb, const struct store_due *d,
                       int64_t now_us, bool missed, char job_id[CCF_JOB_ID_LEN + 1]);

#endif
