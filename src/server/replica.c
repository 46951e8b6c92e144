/* replica.c: this ccfd's replica id, heartbeat and leader's tick
 * (replica.h). */
#include "server/replica.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"

#define ID_FILE "replica-id"
#define BEAT_US (2 * 1000000LL) /* SCALE.md's heartbeat, far under runner-lost-after */
#define LEAD_US (1 * 1000000LL) /* the sweep for lost runners, between notifications */

struct server_replica {
    struct store *store;
    struct orchestrator *orch;
    struct store_replica me;
    int64_t lost_after_us;
    int64_t next_beat, next_lead; /* monotonic µs */
    bool was_leading;
};

static bool id_valid(const char *id)
{
    size_t n = strlen(id);

    if (n != STORE_REPLICA_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

static int read_id(const char *path, char id[STORE_REPLICA_ID_LEN + 1])
{
    FILE *f = fopen(path, "r");
    char line[64] = "";

    if (!f)
        return errno == ENOENT ? 1 : CCF_EIO;
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    if (!id_valid(line)) {
        CCF_LOG_ERROR("ccfd.replica_id_bad", CCF_KV_STR("path", path),
                      CCF_KV_STR("hint", "remove the file: a new id is made (this replica's "
                                         "unfinished jobs then end \"runner lost\")"));
        return CCF_EIO;
    }
    memcpy(id, line, STORE_REPLICA_ID_LEN + 1);
    return 0;
}

/* A new random id, written before it is used (a crash leaves none or it). */
static int make_id(const char *path, char id[STORE_REPLICA_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[STORE_REPLICA_ID_LEN / 2];
    int fd, ok;

    if (ccf_random_bytes(raw, sizeof(raw)) < 0)
        return CCF_EIO;
    for (size_t i = 0; i < sizeof(raw); i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15];
    }
    id[STORE_REPLICA_ID_LEN] = '\0';
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        return CCF_EIO;
    ok = dprintf(fd, "%s\n", id) == STORE_REPLICA_ID_LEN + 1 && fsync(fd) == 0;
    close(fd);
    return ok ? 0 : CCF_EIO;
}

static int load_id(const char *data_dir, char id[STORE_REPLICA_ID_LEN + 1])
{
    char path[4096];
    int rc, n = snprintf(path, sizeof(path), "%s/" ID_FILE, data_dir);

    if (n < 0 || (size_t)n >= sizeof(path))
        return CCF_EINVAL;
    if ((rc = read_id(path, id)) == 1 && (rc = make_id(path, id)) < 0)
        CCF_LOG_ERROR("ccfd.replica_id_failed", CCF_KV_STR("path", path),
                      CCF_KV_STR("error", strerror(errno)));
    return rc;
}

int server__replica_open(struct server_replica **out, const char *data_dir, struct store *store,
                         int slots, unsigned lost_after_s, struct orchestrator *orch)
{
    struct server_replica *r = ccf_xcalloc(1, sizeof(*r));
    int rc;

    r->store = store;
    r->orch = orch;
    r->lost_after_us = (int64_t)lost_after_s * 1000000;
    r->me.slots = slots;
    r->me.pid = (int64_t)getpid();
    if (gethostname(r->me.host, sizeof(r->me.host) - 1) < 0)
        snprintf(r->me.host, sizeof(r->me.host), "unknown");
    if ((rc = load_id(data_dir, r->me.id)) < 0)
        goto fail;
    /* Before the first job can be assigned to it, and before a leader
     * could sweep this replica's jobs as lost after a restart. */
    if ((rc = store_replica_heartbeat(store, &r->me)) < 0)
        goto fail;
    /* Again at the first tick, once the leadership session exists: until
     * its session is recorded a replica counts as alive for assignment,
     * even killed. */
    r->next_beat = 0;
    if (orch)
        orchestrator_set_replica(orch, r->me.id);
    CCF_LOG_INFO("ccfd.replica", CCF_KV_STR("id", r->me.id), CCF_KV_INT("slots", slots),
                 CCF_KV_INT("runner_lost_after_s", lost_after_s));
    *out = r;
    return 0;
fail:
    free(r);
    return rc;
}

void server__replica_tick(void *ctx, bool leading, bool woken)
{
    struct server_replica *r = ctx;
    int64_t now = ccf_mono_us();
    int rc;

    if (now >= r->next_beat) {
        if ((rc = store_replica_heartbeat(r->store, &r->me)) < 0)
            CCF_LOG_WARN("ccfd.heartbeat_failed", CCF_KV_STR("error", ccf_strerror(rc)));
        r->next_beat = now + BEAT_US;
    }
    if (r->orch && leading != r->was_leading)
        orchestrator_set_leading(r->orch, leading);
    r->was_leading = leading;
    if (!leading || (!woken && now < r->next_lead))
        return;
    if ((rc = orchestrator_lead(r->store, r->lost_after_us)) < 0)
        CCF_LOG_WARN("ccfd.lead_failed", CCF_KV_STR("error", ccf_strerror(rc)));
    r->next_lead = ccf_mono_us() + LEAD_US;
}

void server__replica_close(struct server_replica *r)
{
    free(r);
}
