/* leader.c: the leadership thread (leader.h). */
#include "server/leader.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"

/* A follower tries the lock this often (SCALE.md: failover within 10 s);
 * a leader waits for notifications at most this long between checks that
 * its session lives and that it was asked to stop; a leader that just lost
 * its session tries to get it back this often, sooner than the followers. */
#define FOLLOW_MS 1000
#define LEAD_MS   250
#define REGAIN_MS 200

struct server_leader {
    struct server_leader_config cfg;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool leading;
    bool started; /* start() ran: the work runs until this process ends */
};

void server__leader_create(struct server_leader **out, const struct server_leader_config *cfg)
{
    struct server_leader *l = ccf_xcalloc(1, sizeof(*l));

    l->cfg = *cfg;
    atomic_init(&l->stop, false);
    atomic_init(&l->leading, false);
    *out = l;
}

bool server__leader_is(const struct server_leader *l)
{
    return !l || atomic_load(&l->leading);
}

/* Another replica leads while our orchestrator may still run: stop this
 * ccfd (the main thread's sigwait takes SIGTERM: a graceful stop). */
static void fence(struct server_leader *l, const char *why)
{
    CCF_LOG_ERROR("ccfd.leadership_lost", CCF_KV_STR("reason", why),
                  CCF_KV_STR("hint", "this ccfd stops so that one orchestrator runs; restart it "
                                     "and it follows the new leader"));
    atomic_store(&l->stop, true);
    kill(getpid(), SIGTERM);
}

/* One poll's result applied; false when the thread must end. */
static bool step(struct server_leader *l, int rc, bool woken)
{
    bool was = atomic_load(&l->leading);

    if (rc == 1 && !l->started) {
        l->started = true;
        CCF_LOG_INFO("ccfd.leader", CCF_KV_STR("role", "leader"));
        if (l->cfg.start(l->cfg.ctx) < 0) {
            fence(l, "the orchestrator, the scheduler or the deliverer did not start");
            return false;
        }
        /* After start: /readyz of a leader checks its orchestrator runs. */
        atomic_store(&l->leading, true);
        return true;
    }
    if (rc == 1) {
        if (!was)
            CCF_LOG_INFO("ccfd.leader", CCF_KV_STR("role", "leader again"));
        atomic_store(&l->leading, true);
        if (woken && l->cfg.wake)
            l->cfg.wake(l->cfg.ctx);
        return true;
    }
    atomic_store(&l->leading, false);
    if (l->started && rc == 0) {
        fence(l, "another replica leads");
        return false;
    }
    return true;
}

static void *run(void *arg)
{
    struct server_leader *l = arg;

    while (!atomic_load(&l->stop)) {
        bool woken = false;
        int wait = !l->started ? FOLLOW_MS : atomic_load(&l->leading) ? LEAD_MS : REGAIN_MS;
        int rc = store_leader_poll(l->cfg.store, wait, &woken);

        if (!step(l, rc, woken))
            break;
        if (l->cfg.tick)
            l->cfg.tick(l->cfg.tick_ctx, atomic_load(&l->leading), woken);
    }
    return NULL;
}

int server__leader_start(struct server_leader *l)
{
    int e;

    if ((e = pthread_create(&l->thread, NULL, run, l)) != 0) {
        CCF_LOG_ERROR("ccfd.leader_thread_failed", CCF_KV_STR("error", strerror(e)));
        return CCF_EIO;
    }
    l->thread_started = true;
    return 0;
}

void server__leader_destroy(struct server_leader *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, true);
    if (l->thread_started)
        pthread_join(l->thread, NULL);
    free(l);
}
