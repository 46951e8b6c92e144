/* ebsched.h: the EventBridge Scheduler API client of the AWS profile
 * (docs/AWS.md, "Schedules on EventBridge Scheduler"): creates, updates
 * and deletes the schedules that invoke this function with ccf's own
 * events (events.h). rest-json, signed (service "scheduler", with the
 * role's session token) and sent by aws/aws.h. Knows nothing
 * of connectors or jobs: dispatch decides what to schedule.
 *
 * Configured from the environment: CCF_SCHEDULE_GROUP (the stack's
 * schedule group), CCF_SCHEDULER_TARGET_ARN (this function),
 * CCF_SCHEDULER_ROLE_ARN (the role Scheduler assumes to invoke it), the
 * role's AWS_ credentials, AWS_ENDPOINT_URL_SCHEDULER (else
 * AWS_ENDPOINT_URL, else scheduler.REGION.amazonaws.com).
 * Thread rules: one thread uses a client. */
#ifndef CCF_LAMBDA_EBSCHED_H
#define CCF_LAMBDA_EBSCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* EventBridge Scheduler's schedule names: 1..64 of [0-9A-Za-z_.-]. */
#define EBSCHED_NAME_MAX 64

struct ebsched;

/* *out NULL (and 0) when CCF_SCHEDULE_GROUP is unset: schedules are then
 * not mirrored. CCF_EINVAL with a reason in err when it is set but the
 * rest is missing or malformed. */
int ebsched_open(struct ebsched **out, const char *region, char *err, size_t n);
void ebsched_close(struct ebsched *s);

/* What one schedule is. */
struct ebsched_spec {
    const char *expression; /* at(...), rate(...) or cron(...): EventBridge's syntax */
    const char *timezone;   /* IANA name */
    const char *input;      /* the JSON text the function is invoked with */
    bool once;              /* deleted by Scheduler after its run (ActionAfterCompletion) */
    int64_t start_date;     /* StartDate, seconds since the epoch; 0: none */
};

/* The schedule named name made to be spec: UpdateSchedule, or
 * CreateSchedule when it does not exist (one created meanwhile is
 * updated). 0, or CCF_EINVAL (refused; err says why), CCF_EUNAVAIL
 * (unreachable, throttled: try again). */
int ebsched_put(struct ebsched *s, const char *name, const struct ebsched_spec *spec, char *err,
                size_t n);
/* DeleteSchedule; 0 also when it does not exist. */
int ebsched_delete(struct ebsched *s, const char *name, char *err, size_t n);

#endif
