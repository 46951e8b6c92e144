/* dispatch.h: one Lambda event to the handler its shape names: an API
 * Gateway request to api_handle, a DynamoDB Streams batch to the
 * orchestrator, a Batch state change to the status handler; and each
 * handler's result back to what Lambda expects (a proxy response, a
 * batchItemFailures list, nothing); and ccf's own events, from the
 * EventBridge Scheduler schedules it keeps (schedules.h). Must not know about the Runtime API
 * or how the store and executor were chosen.
 * Thread rules: one thread dispatches. */
#ifndef CCF_LAMBDA_DISPATCH_H
#define CCF_LAMBDA_DISPATCH_H

#include <stddef.h>

#include "api/api.h"
#include "core/core.h"
#include "orchestrator/orchestrator.h"

struct ebsched;
struct ccf_tzdb;
struct webhook_deliverer;

struct lambda_app {
    struct api *api;                 /* borrowed */
    struct store *store;             /* borrowed */
    struct ccf_tzdb *tzdb;           /* borrowed */
    struct ebsched *sched;           /* borrowed; NULL: schedules are not mirrored */
    struct webhook_deliverer *hooks; /* borrowed; NULL: no webhook delivery */
    int tick_ms;                     /* how long a tick lets the deliverer send */
    struct orchestrator *orch;       /* borrowed, attached (orchestrator_attach) */
    char region[CCF_REGION_MAX + 1]; /* the function's: every tenant's region here */
};

/* Handles event (len bytes, the invocation's id for logs). 0 with *out
 * (malloc'd JSON, the caller's) the invocation's response; otherwise a
 * negative code with *err_type (static) and err (n bytes, printable) for
 * the error endpoint: CCF_EINVAL for an event of no known shape or a
 * malformed one, CCF_EUNAVAIL when a state change could not be applied
 * yet (Lambda retries it). */
int lambda_dispatch(struct lambda_app *app, const char *event, size_t len, const char *id,
                    char **out, const char **err_type, char *err, size_t n);

#endif
