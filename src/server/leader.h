/* leader.h (private to server/): which replica runs the orchestrator, the
 * scheduler and the webhook deliverer when several ccfd share one store
 * (SCALE.md, "PostgreSQL and several replicas"). A thread polls the
 * store's leadership (store_leader_poll) every second while it follows;
 * once it leads, it calls start() once, and wake() whenever another
 * replica's commit was notified. A leader that loses the lock gets it back
 * if nobody took it meanwhile (its database restarted); if another replica
 * leads by then, this ccfd stops (SIGTERM to itself), so that two
 * orchestrators never keep running: its service manager restarts it as a
 * follower. Must not know what start() starts.
 *
 * Thread rules: create, start and destroy on the main thread;
 * server__leader_is from any thread. */
#ifndef CCF_SERVER_LEADER_H
#define CCF_SERVER_LEADER_H

#include <stdbool.h>

#include "store/store.h"

struct server_leader;

struct server_leader_config {
    struct store *store;     /* borrowed; store_shared(store) */
    int (*start)(void *ctx); /* on the leadership thread, once */
    void (*wake)(void *ctx); /* a notified commit of another replica */
    void *ctx;
    /* Optional: after each poll, on every replica (the heartbeat, and the
     * leader's part of running jobs): whether it leads, whether a commit
     * was notified. At least every second. */
    void (*tick)(void *ctx, bool leading, bool woken);
    void *tick_ctx;
};

void server__leader_create(struct server_leader **out, const struct server_leader_config *cfg);
/* Starts the thread; CCF_EIO if it cannot. */
int server__leader_start(struct server_leader *l);
/* Whether this process leads now; true for l NULL (a store of one
 * process). */
bool server__leader_is(const struct server_leader *l);
/* Stops the thread (within about a second) and frees l; takes NULL. */
void server__leader_destroy(struct server_leader *l);

#endif
