/* jobs.h (private to server/): wires the job orchestrator, the status
 * handler and the local executor into ccfd. */
#ifndef CCF_SERVER_JOBS_H
#define CCF_SERVER_JOBS_H

#include "api/api.h"
#include "auth/auth.h"
#include "server/config.h"
#include "store/store.h"

struct server_jobs;

/* Opens the executor on DIR/jobs and the orchestrator (not started yet)
 * and hooks the store's change stream to it. Call before the HTTP threads
 * start: it sets the store's change hook. With auth (borrowed; it outlives
 * the jobs), each job gets a key pair scoped to its connector, revoked when
 * it ends; NULL (auth = none): jobs get none. */
int server__jobs_open(struct server_jobs **out, const struct server_config *cfg,
                      const char *data_dir, struct store *store, struct auth *auth);
/* For api_config.read_log / read_log_ctx. */
int server__jobs_read_log(void *ctx, const char *job_id, int attempt, int64_t offset, char *buf,
                          size_t len, int64_t *size, int64_t *dropped);
/* Recovers what was in flight and starts the orchestrator's thread;
 * endpoint is the URL jobs call back. */
int server__jobs_start(struct server_jobs *j, const char *endpoint);
/* Stops the orchestrator and closes the executor; jobs keep running under
 * their supervisors and are re-adopted at the next start. */
void server__jobs_close(struct server_jobs *j);
/* Jobs this ccfd takes at once as one replica among several (the leader
 * spreads jobs by it): max-jobs if set, else the whole vCPUs of the first
 * backend, at least 1. */
int server__jobs_slots(struct server_jobs *j);
/* The orchestrator, for /readyz and /metrics; lives as long as j. */
struct orchestrator *server__jobs_orchestrator(struct server_jobs *j);

#endif
