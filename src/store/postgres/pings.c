/* pings.c: TestWebhook's pings queued in PostgreSQL (store.h), so that a
 * ping a follower takes reaches the leader's deliverer: the insert
 * NOTIFYs as an event row does (leader.c wakes the leader's hooks), and a
 * take deletes what it returns, so that each ping is sent once. */
#include "store/postgres/pg_int.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

struct ping {
    const char *tk, *id;
    bool found;
};

/* The webhook's row locked, then its waiting pings counted: each
 * statement sees what committed before it, so concurrent pings of one
 * webhook count one after the other. */
static int ping_tx(struct pg__conn *c, void *arg)
{
    struct ping *a = arg;
    const char *op = "webhook_ping";
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, a->id);
    pg__p_text(&p, a->tk);
    if ((rc = pg__run(c, PG__Q_PING_LOCK,
                      "SELECT 1 FROM webhooks WHERE id = $1 AND tenant = $2 FOR UPDATE", &p, &r,
                      op)) < 0)
        return rc;
    a->found = PQntuples(r) == 1;
    PQclear(r);
    if (!a->found)
        return CCF_ENOTFOUND;
    pg__p_int(&p, ccf_now_us());
    pg__p_int(&p, STORE_PINGS_MAX);
    if ((rc = pg__run(c, PG__Q_PING_INSERT,
                      "INSERT INTO webhook_pings (webhook_id, tenant, at) SELECT $1, $2, $3 "
                      "WHERE (SELECT count(*) FROM webhook_pings WHERE webhook_id = $1) < $4",
                      &p, &r, op)) < 0)
        return rc;
    rc = pg__changed(r) == 1 ? 1 : CCF_ELIMIT;
    PQclear(r);
    if (rc < 0)
        return rc;
    if (!c->events_pending && (rc = pg__exec(c, "NOTIFY " PG__CHANNEL, op)) < 0)
        return rc;
    c->events_pending = true; /* this process's deliverer too */
    return 1;
}

int store_pg__webhook_ping(struct store *s, const struct ccf_tenant *t, const char *id)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct ping a = {.tk = tk, .id = id};

    if (!store_webhook_id_valid(id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    return pg__write(s, ping_tx, &a, "webhook_ping");
}

int store_pg__take_webhook_pings(struct store *s, struct store_ping *out, size_t max)
{
    struct pg__params p = {0};
    struct pg__conn *c;
    PGresult *r;
    int rc, n = 0;

    pg__p_int(&p, (int64_t)max);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    /* One statement, so its own transaction: rows locked by another take
     * are skipped, not waited for. */
    rc = pg__run(c, PG__Q_PING_TAKE,
                 "DELETE FROM webhook_pings WHERE seq IN (SELECT seq FROM webhook_pings "
                 "ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING tenant, webhook_id, seq",
                 &p, &r, "take_webhook_pings");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        char tk[STORE__TENANT_KEY_MAX];
        struct store_ping *o = &out[n];

        if (pg__copy(r, i, 0, tk, sizeof(tk)) < 0 || store__tenant_parse(tk, &o->tenant) < 0 ||
            pg__copy(r, i, 1, o->webhook_id, sizeof(o->webhook_id)) < 0) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "webhook_pings"));
            continue;
        }
        n++;
    }
    PQclear(r);
    return n;
}
