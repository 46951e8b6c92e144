/* logship.h (private to server/): ships the logs of the jobs this
 * process's executor runs into the store, so that any replica answers
 * GetCustomConnectorJobLogs (store.h, "What one replica shares"). Runs
 * only on a store of several processes (store_shared); on SQLite there is
 * nothing to ship: the API reads the local files as before. */
#ifndef CCF_SERVER_LOGSHIP_H
#define CCF_SERVER_LOGSHIP_H

#include <stdint.h>

#include "executor/executor.h"
#include "store/store.h"

struct server_logship;

/* Starts the shipper's thread, which looks at the unfinished jobs every
 * second and appends what their local logs gained (at most cap bytes kept
 * per attempt). store and exec are borrowed and outlive it. *out is NULL
 * (and 0 returned) when the store is not shared. */
int server__logship_start(struct server_logship **out, struct store *store, struct executor *exec,
                          int64_t cap);
/* Ships what is left of job_id's log now: called when an attempt ends,
 * before the orchestrator records it, so that the whole log is in the
 * store once the job's end is visible. Any thread; s may be NULL. */
void server__logship_flush(struct server_logship *s, const char *job_id);
/* Stops the thread; flushes after it do nothing. Jobs left running ship
 * on from the store's end at the next start. Takes NULL. */
void server__logship_stop(struct server_logship *s);
/* Frees, once no flush can come (the executor closed); takes NULL. */
void server__logship_free(struct server_logship *s);

#endif
