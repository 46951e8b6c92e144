/* metrics.h (private to server/): the operator endpoints' state: counts the
 * transport's requests (lock-free: relaxed atomics per operation and
 * status), renders GET /metrics (Prometheus text 0.0.4) from them and from
 * what the store, the orchestrator and the scheduler count behind their own
 * headers, and answers GET /readyz. Labels are bounded: operations come
 * from the router's table (api_operation_name), codes are HTTP statuses;
 * never an id. */
#ifndef CCF_SERVER_METRICS_H
#define CCF_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "orchestrator/orchestrator.h"
#include "scheduler/scheduler.h"
#include "server/leader.h"
#include "store/store.h"
#include "webhook/webhook.h"

struct server_metrics; /* defined in server/metrics.c */

struct server_metrics_config {
    struct store *store;                /* borrowed; outlives the metrics */
    struct scheduler *sched;            /* borrowed, or NULL */
    struct orchestrator *orch;          /* borrowed, or NULL (executor = none: no jobs run) */
    struct webhook_deliverer *webhooks; /* borrowed, or NULL: counts read 0 */
    const char *version;                /* static */
    const struct server_leader *leader; /* borrowed, or NULL: one process, the leader */
};

void server__metrics_create(struct server_metrics **out, const struct server_metrics_config *cfg);
void server__metrics_destroy(struct server_metrics *m);

/* The operator endpoints' own operation names (for the request log line). */
extern const char server__op_metrics[];
extern const char server__op_readiness[];
extern const char server__op_console[]; /* the web console's files (console.h) */

/* One request answered: operation is one of api_operation_name's, one of
 * the above, or NULL (not routed); status 100..599 (else not counted). Any
 * thread; no lock. */
void server__metrics_request(struct server_metrics *m, const char *operation, int status,
                             int64_t duration_us);

/* The exposition text, malloc'd (*out is the caller's to free). CCF_EIO if
 * no stream could be made. */
int server__metrics_render(struct server_metrics *m, char **out, size_t *len);

/* The readiness body (malloc'd JSON): 200 {"status":"ok","leader":true} or
 * 503 {"status":"unavailable","reason":...}; returns the status. A
 * follower replica (leader false) is ready without a running orchestrator:
 * only the leader runs one. */
int server__metrics_ready(struct server_metrics *m, char **body, size_t *len);

#endif
