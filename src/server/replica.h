/* replica.h (private to server/): this ccfd as one replica among several
 * on a shared store (SCALE.md; docs/DECISIONS.md, "Jobs on every
 * replica"): its stable id, kept in DATA_DIR/replica-id so that a
 * restarted replica is the same one and re-adopts its jobs; its heartbeat;
 * and, while it leads, the leader's part of running jobs on every replica
 * (orchestrator_lead). Both are driven by the leadership thread's tick.
 *
 * Thread rules: open and close on the main thread; server__replica_tick
 * on the leadership thread only. */
#ifndef CCF_SERVER_REPLICA_H
#define CCF_SERVER_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

#include "orchestrator/orchestrator.h"
#include "store/store.h"

struct server_replica;

/* Reads (or makes) the id, registers the replica with slots (0: it runs
 * no job) and tells orch (NULL: executor = none) it is this replica's
 * runner. CCF_EIO if the id cannot be kept; the store's error if the
 * first heartbeat fails. */
int server__replica_open(struct server_replica **out, const char *data_dir, struct store *store,
                         int slots, unsigned lost_after_s, struct orchestrator *orch);
/* For server_leader_config.tick: a heartbeat every 2 s; while leading,
 * orchestrator_lead at each notified commit and at least every second. */
void server__replica_tick(void *ctx, bool leading, bool woken);
/* Takes NULL. */
void server__replica_close(struct server_replica *r);

#endif
