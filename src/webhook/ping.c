/* ping.c: TestWebhook's pings (webhook.h, webhook_int.h). A ping is an
 * event of type ping sent at once, outside the webhook's ordered stream:
 * not behind a failing event, not retried, not recorded in the deliveries.
 * On a store shared by replicas it is queued in the store, so that the
 * leader's deliverer sends it whichever replica took the request; on a
 * store of one process, in this deliverer's memory. */
#include "webhook/webhook_int.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

int webhook_deliverer_ping(struct webhook_deliverer *d, const struct ccf_tenant *t, const char *id)
{
    int rc = store_webhook_ping(d->cfg.store, t, id);

    /* Queued in the store (replicas): whichever deliverer runs takes it,
     * woken by the store's hook. */
    if (rc == CCF_ELIMIT)
        return CCF_EUNAVAIL;
    if (rc != 0)
        return rc < 0 ? rc : 0;
    /* A store of one process: this deliverer is the one, in memory. */
    pthread_mutex_lock(&d->mu);
    if (d->npings == PINGS_MAX) {
        rc = CCF_EUNAVAIL;
    } else {
        d->pings[d->npings].tenant = *t;
        snprintf(d->pings[d->npings].id, sizeof(d->pings[0].id), "%s", id);
        d->npings++;
    }
    pthread_mutex_unlock(&d->mu);
    if (rc == 0)
        curl_multi_wakeup(d->multi);
    return rc;
}

/* A ping event: no connector, an id of its own, an empty detail. */
static char *ping_body(char event_id[40])
{
    unsigned char r[8] = {0};
    char tbuf[CCF_TIME_LEN + 1];
    json_t *o;
    char *text;

    (void)ccf_random_bytes(r, sizeof(r));
    snprintf(event_id, 40, "ev-ping-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
             r[5], r[6], r[7]);
    ccf_time_format(ccf_now_us(), tbuf);
    o = json_pack("{s:s,s:s,s:s,s:{}}", "event_id", event_id, "time", tbuf, "type", "ping",
                  "detail");
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* The pings queued in the store (replicas) since the last look, which a
 * commit anywhere prompts (the store's hook); none on a store of one
 * process. Taken means deleted: a ping a crash drops is not sent. */
static size_t store_pings(struct webhook_deliverer *d, struct ping *out, size_t max)
{
    struct store_ping sp[PINGS_MAX];
    int n;

    if (max == 0 || !atomic_exchange(&d->pings_maybe, false))
        return 0;
    if ((n = store_take_webhook_pings(d->cfg.store, sp, max)) < 0) {
        atomic_store(&d->pings_maybe, true); /* the next turn tries again */
        return 0;
    }
    if ((size_t)n == max)
        atomic_store(&d->pings_maybe, true); /* maybe more */
    for (int i = 0; i < n; i++) {
        out[i].tenant = sp[i].tenant;
        memcpy(out[i].id, sp[i].webhook_id, sizeof(out[i].id));
    }
    return (size_t)n;
}

void webhook__take_pings(struct webhook_deliverer *d)
{
    struct ping p[PINGS_MAX];
    struct store_webhook w;
    size_t n;

    pthread_mutex_lock(&d->mu);
    n = d->npings;
    memcpy(p, d->pings, n * sizeof(p[0]));
    d->npings = 0;
    pthread_mutex_unlock(&d->mu);
    n += store_pings(d, p + n, PINGS_MAX - n);
    for (size_t i = 0; i < n; i++) {
        struct send *s;

        if (store_get_webhook(d->cfg.store, &p[i].tenant, p[i].id, &w) < 0)
            continue; /* deleted since: nothing to ping */
        s = webhook__send_new(d, &w);
        store_webhook_clear(&w);
        s->ping = true;
        s->body = ping_body(s->event_id);
        webhook__launch(s);
    }
}
