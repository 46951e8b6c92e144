/* schedules.h: what the AWS profile does without ccfd's threads
 * (docs/AWS.md, "Schedules on EventBridge Scheduler"): a connector's
 * schedule mirrored as an EventBridge Scheduler schedule that invokes
 * the function when a run is due; a retry's wait as a one-time schedule;
 * and the once-a-minute tick, which catches up what a lost schedule did
 * not fire and lets the webhook deliverer send. The store stays the
 * truth: a schedule only says when to look. Must not know about the
 * Runtime API. Thread rules: one thread (the dispatcher's). */
#ifndef CCF_LAMBDA_SCHEDULES_H
#define CCF_LAMBDA_SCHEDULES_H

#include "lambda/dispatch.h"
#include "lambda/events.h"

/* A fire is taken as due when the connector's next run is at most this
 * long after the time it was scheduled for (EventBridge's rate schedules
 * count from their creation, ccf's from its anchor: a few seconds apart). */
#define LAMBDA_FIRE_SLACK_S 30
/* The tick fires runs overdue by more than this: their schedule was lost. */
#define LAMBDA_SWEEP_GRACE_S 120

/* Mirrors connector cid's schedule (the store's view now) to EventBridge
 * Scheduler: put while it has an enabled schedule with a next run and is
 * not paused, deleted otherwise (gone included). Idempotent. 0 without a
 * Scheduler client. */
int lambda_schedule_sync(struct lambda_app *app, const struct ccf_tenant *t, const char *cid);

/* A job change from the stream: RUNNING -> STARTED is a retry's wait,
 * which a one-time schedule ends. 1 when that schedule was made (nothing
 * else to do now), 0 when the orchestrator should handle the change (not
 * a wait, no Scheduler client, or already due), or an error. */
int lambda_retry_wait(struct lambda_app *app, const struct store_change *ch);

/* ccf's own event: a run due, a retry due, or the tick. 0 with *out the
 * response ("{}" or a summary), else an error for the error endpoint
 * (CCF_EUNAVAIL: retried by Lambda's asynchronous invocation). */
int lambda_ccf_event(struct lambda_app *app, const struct lambda_ccf_event *ev, char **out,
                     char *err, size_t n);

#endif
