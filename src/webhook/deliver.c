/* deliver.c: the deliverer. One thread drives every webhook over one
 * libcurl multi handle, so a slow receiver holds only its own webhook:
 * each webhook has at most one attempt in flight (its events go in order;
 * a failing one holds back the later ones), and the thread never blocks
 * on a receiver. It sleeps in curl_multi_poll until a transfer moves, a
 * retry is due, or curl_multi_wakeup: the store's commit hook (new
 * events), a webhook created or deleted, a ping. Host names are checked
 * on a resolver thread (transfer.c); pings go apart (ping.c). State is the
 * store's: the next event is read from the stream, each attempt written
 * back, so a restart (or kill -9) resends what was in flight. */
#include "webhook/webhook_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define HOUR_MS     (3600 * 1000)
#define STORE_RETRY (1000 * 1000) /* µs before reading again after a store error */

static void count(struct webhook_deliverer *d, uint64_t *field)
{
    pthread_mutex_lock(&d->mu);
    (*field)++;
    pthread_mutex_unlock(&d->mu);
}

/* The wait after the n-th failed attempt: base, 2 base, 4 base ... up to
 * an hour. */
static int64_t backoff_us(const struct webhook_deliverer *d, int n)
{
    int64_t ms = d->cfg.retry_base_ms;

    for (int i = 1; i < n && ms < HOUR_MS; i++)
        ms *= 2;
    return (ms < HOUR_MS ? ms : HOUR_MS) * 1000;
}

/* --- Outcomes -------------------------------------------------------- */

static void log_outcome(const struct send *s, int status, const char *error,
                        const struct store_delivery *d)
{
    int64_t ms = (ccf_mono_us() - s->started_mono) / 1000;

    if (d->status == STORE_DELIVERY_DELIVERED)
        CCF_LOG_INFO("webhook.delivered", CCF_KV_STR("webhook_id", s->webhook_id),
                     CCF_KV_STR("event_id", s->event_id), CCF_KV_INT("status", status),
                     CCF_KV_INT("attempts", d->attempts), CCF_KV_INT("ms", ms));
    else
        CCF_LOG_WARN(d->status == STORE_DELIVERY_FAILED ? "webhook.failed" : "webhook.retrying",
                     CCF_KV_STR("webhook_id", s->webhook_id), CCF_KV_STR("event_id", s->event_id),
                     CCF_KV_INT("status", status), CCF_KV_STR("error", error),
                     CCF_KV_INT("attempts", d->attempts), CCF_KV_INT("ms", ms));
}

/* The delivery after this attempt: delivered on a 2xx, else retried
 * after the backoff, or failed once webhook-retry-for has passed. */
static void next_state(const struct webhook_deliverer *d, const struct send *s, int status,
                       const char *error, int64_t now, struct store_delivery *out)
{
    int64_t deadline;

    *out = s->prior;
    out->attempts++;
    if (!out->first_attempt_at)
        out->first_attempt_at = now;
    out->last_attempt_at = now;
    out->last_status_code = status;
    out->next_attempt_at = 0;
    snprintf(out->last_error, sizeof(out->last_error), "%s", error ? error : "");
    if (status >= 200 && status < 300) {
        out->status = STORE_DELIVERY_DELIVERED;
        return;
    }
    deadline = out->first_attempt_at + (int64_t)d->cfg.retry_for_s * 1000000;
    if (now >= deadline) {
        out->status = STORE_DELIVERY_FAILED;
        return;
    }
    out->status = STORE_DELIVERY_PENDING;
    out->next_attempt_at = now + backoff_us(d, out->attempts);
    if (out->next_attempt_at > deadline)
        out->next_attempt_at = deadline;
}

/* Records the attempt and sets the webhook's next step; frees s. */
void webhook__finish(struct send *s, int status, const char *error)
{
    struct webhook_deliverer *d = s->d;
    struct slot *sl = s->slot;
    struct store_delivery nd;
    int64_t now = ccf_now_us();
    int rc;

    if (s->ping) {
        CCF_LOG_INFO("webhook.ping", CCF_KV_STR("webhook_id", s->webhook_id),
                     CCF_KV_INT("status", status), CCF_KV_STR("error", error ? error : ""));
        webhook__send_free(s);
        return;
    }
    if (!sl) { /* the webhook was deleted meanwhile */
        webhook__send_free(s);
        return;
    }
    sl->tx = NULL;
    next_state(d, s, status, error, now, &nd);
    if ((rc = store_webhook_record(d->cfg.store, s->webhook_id, &nd)) < 0) {
        /* Not recorded: the event is sent again (at least once). */
        CCF_LOG_WARN("webhook.record_failed", CCF_KV_STR("webhook_id", s->webhook_id),
                     CCF_KV_STR("error", ccf_strerror(rc)));
        sl->state = SLOT_WAIT;
        sl->due = now + STORE_RETRY;
        webhook__send_free(s);
        return;
    }
    log_outcome(s, status, error ? error : "", &nd);
    count(d, nd.status == STORE_DELIVERY_DELIVERED ? &d->stats.delivered
             : nd.status == STORE_DELIVERY_FAILED  ? &d->stats.failed
                                                   : &d->stats.retried);
    if (nd.status != STORE_DELIVERY_PENDING) {
        sl->w.cursor = nd.seq;
        sl->state = SLOT_IDLE;
        sl->check = true;
    } else {
        sl->state = SLOT_WAIT;
        sl->due = nd.next_attempt_at;
    }
    webhook__send_free(s);
}

/* --- Webhooks -------------------------------------------------------- */

/* Looks for the slot's next event and sends it when it is due. */
static void pump(struct webhook_deliverer *d, struct slot *sl)
{
    struct store_event ev;
    struct store_delivery dv;
    struct send *s;
    int64_t now = ccf_now_us();
    int rc;

    sl->check = false;
    if ((rc = store_webhook_head(d->cfg.store, &sl->w, &ev, &dv)) <= 0) {
        sl->state = rc < 0 ? SLOT_WAIT : SLOT_IDLE;
        sl->due = now + STORE_RETRY;
        return;
    }
    if (dv.next_attempt_at > now) {
        sl->state = SLOT_WAIT;
        sl->due = dv.next_attempt_at;
        store_events_clear(&ev, 1);
        return;
    }
    s = webhook__send_new(d, &sl->w);
    s->slot = sl;
    s->prior = dv;
    s->body = d->cfg.event_text(&ev);
    snprintf(s->event_id, sizeof(s->event_id), "ev-%016" PRIx64, (uint64_t)ev.seq);
    store_events_clear(&ev, 1);
    sl->state = SLOT_BUSY;
    sl->tx = s;
    webhook__launch(s);
}

static int add_slot(void *ctx, const struct store_webhook *w)
{
    struct webhook_deliverer *d = ctx;
    struct slot *sl;

    for (sl = d->slots; sl; sl = sl->next) {
        if (strcmp(sl->w.id, w->id) == 0) {
            sl->seen = true;
            return 0;
        }
    }
    sl = ccf_xmalloc(sizeof(*sl));
    memset(sl, 0, sizeof(*sl));
    sl->w = *w;
    sl->w.url = ccf_xstrdup(w->url);
    sl->w.event_types = w->event_types ? ccf_xstrdup(w->event_types) : NULL;
    sl->w.description = NULL;
    sl->seen = sl->check = true;
    sl->next = d->slots;
    d->slots = sl;
    return 0;
}

/* Drops a slot whose webhook is gone: an attempt in flight is cancelled;
 * one on the resolver comes back as an orphan and is freed then. */
static void drop_slot(struct webhook_deliverer *d, struct slot *sl)
{
    struct send *s = sl->tx;

    if (s) {
        s->slot = NULL;
        if (s->in_multi) {
            curl_multi_remove_handle(d->multi, s->easy);
            webhook__send_free(s);
        }
    }
    store_webhook_clear(&sl->w);
    free(sl);
}

static void reload(struct webhook_deliverer *d)
{
    struct slot **pp = &d->slots, *sl;

    for (sl = d->slots; sl; sl = sl->next)
        sl->seen = false;
    if (store_all_webhooks(d->cfg.store, add_slot, d) < 0) {
        atomic_store(&d->list_changed, true); /* try again at the next wake */
        for (sl = d->slots; sl; sl = sl->next)
            sl->seen = true;
        return;
    }
    while ((sl = *pp)) {
        if (sl->seen) {
            pp = &sl->next;
            continue;
        }
        *pp = sl->next;
        drop_slot(d, sl);
    }
}

/* --- The thread ------------------------------------------------------ */

/* Moves every webhook that can. */
static void step_slots(struct webhook_deliverer *d)
{
    int64_t now = ccf_now_us();
    bool events = atomic_exchange(&d->events_changed, false);

    for (struct slot *sl = d->slots; sl; sl = sl->next) {
        if ((sl->state == SLOT_IDLE && (sl->check || events)) ||
            (sl->state == SLOT_WAIT && now >= sl->due))
            pump(d, sl);
    }
}

/* How long the thread may sleep, in ms: until the nearest due retry, 0
 * when a webhook is free to look for its next event, at most a minute. */
static int sleep_ms(const struct webhook_deliverer *d)
{
    int64_t now = ccf_now_us(), wait = 60000 * 1000LL;

    for (const struct slot *sl = d->slots; sl; sl = sl->next) {
        if (sl->state == SLOT_IDLE && sl->check)
            return 0;
        if (sl->state == SLOT_WAIT && sl->due - now < wait)
            wait = sl->due > now ? sl->due - now : 0;
    }
    return (int)((wait + 999) / 1000);
}

static void *deliver_main(void *arg)
{
    struct webhook_deliverer *d = arg;
    CURLMsg *m;
    int running, left, ms;

    while (!atomic_load(&d->stop)) {
        if (atomic_exchange(&d->list_changed, false))
            reload(d);
        webhook__take_pings(d);
        webhook__take_resolved(d);
        step_slots(d);
        curl_multi_perform(d->multi, &running);
        while ((m = curl_multi_info_read(d->multi, &left)))
            if (m->msg == CURLMSG_DONE)
                webhook__transfer_done(d, m);
        /* After the transfers: one that ended may have freed its webhook
         * for its next event, or set its retry. */
        if ((ms = sleep_ms(d)) > 0)
            curl_multi_poll(d->multi, NULL, 0, ms, NULL);
    }
    return NULL;
}

static void on_commit(void *ctx)
{
    struct webhook_deliverer *d = ctx;

    atomic_store(&d->events_changed, true);
    atomic_store(&d->pings_maybe, true);
    curl_multi_wakeup(d->multi);
}

void webhook_deliverer_changed(void *ctx)
{
    struct webhook_deliverer *d = ctx;

    if (!d)
        return;
    atomic_store(&d->list_changed, true);
    curl_multi_wakeup(d->multi);
}

int webhook_deliverer_create(struct webhook_deliverer **out, const struct webhook_config *cfg)
{
    struct webhook_deliverer *d;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CCF_EIO;
    d = ccf_xmalloc(sizeof(*d));
    memset(d, 0, sizeof(*d));
    d->cfg = *cfg;
    d->ca_bundle = cfg->ca_bundle ? ccf_xstrdup(cfg->ca_bundle) : NULL;
    d->cfg.ca_bundle = NULL;
    if (!d->cfg.timeout_s)
        d->cfg.timeout_s = 10;
    if (!d->cfg.retry_base_ms)
        d->cfg.retry_base_ms = 1000;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->resolve_cv, NULL);
    atomic_init(&d->stop, false);
    atomic_init(&d->list_changed, true);
    atomic_init(&d->events_changed, true);
    atomic_init(&d->pings_maybe, true);
    if (!(d->multi = curl_multi_init())) {
        webhook_deliverer_destroy(d);
        return CCF_EIO;
    }
    *out = d;
    return 0;
}

int webhook_deliverer_start(struct webhook_deliverer *d)
{
    if (pthread_create(&d->resolver, NULL, webhook__resolver_main, d) != 0)
        return CCF_EIO;
    if (pthread_create(&d->thread, NULL, deliver_main, d) != 0) {
        atomic_store(&d->stop, true);
        pthread_mutex_lock(&d->mu);
        pthread_cond_signal(&d->resolve_cv);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->resolver, NULL);
        return CCF_EIO;
    }
    d->started = true;
    store_set_webhook_hook(d->cfg.store, on_commit, d);
    return 0;
}

void webhook_deliverer_stats(struct webhook_deliverer *d, struct webhook_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    *out = d->stats;
    pthread_mutex_unlock(&d->mu);
}

void webhook_deliverer_destroy(struct webhook_deliverer *d)
{
    struct slot *sl, *next;

    if (!d)
        return;
    if (d->started) {
        store_set_webhook_hook(d->cfg.store, NULL, NULL);
        atomic_store(&d->stop, true);
        pthread_mutex_lock(&d->mu);
        pthread_cond_signal(&d->resolve_cv);
        pthread_mutex_unlock(&d->mu);
        curl_multi_wakeup(d->multi);
        pthread_join(d->thread, NULL);
        pthread_join(d->resolver, NULL);
    }
    /* Attempts and pings in flight, on the resolver or orphaned: all
     * dropped, to be sent again at the next start (pings are not). */
    while (d->live) {
        if (d->live->in_multi)
            curl_multi_remove_handle(d->multi, d->live->easy);
        webhook__send_free(d->live);
    }
    for (sl = d->slots; sl; sl = next) {
        next = sl->next;
        store_webhook_clear(&sl->w);
        free(sl);
    }
    if (d->multi)
        curl_multi_cleanup(d->multi);
    pthread_cond_destroy(&d->resolve_cv);
    pthread_mutex_destroy(&d->mu);
    free(d->ca_bundle);
    free(d);
    curl_global_cleanup();
}
