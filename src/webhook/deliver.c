/* deliver.c: the deliverer. One thread drives every webhook over one
 * libcurl multi handle, so a slow receiver holds only its own webhook:
 * each webhook has at most one attempt in flight (its events go in order;
 * a failing one holds back the later ones), and the thread never blocks
 * on a receiver. It sleeps in curl_multi_poll until a transfer moves, a
 * retry is due, or curl_multi_wakeup: the store's commit hook (new
 * events), a webhook created or deleted, a ping. Host names are resolved
 * on a resolver thread, every address checked, and the transfer pinned
 * to the checked addresses (CURLOPT_RESOLVE), with the socket's address
 * checked again as it opens, so a DNS answer that changes between the
 * check and the connect cannot reach a private address. State is the
 * store's: the next event is read from the stream, each attempt written
 * back, so a restart (or kill -9) resends what was in flight. */
#include "webhook/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"

#define HOUR_MS     (3600 * 1000)
#define PINGS_MAX   64
#define RESOLVE_MAX 512
#define STORE_RETRY (1000 * 1000) /* µs before reading again after a store error */

enum slot_state { SLOT_IDLE, SLOT_WAIT, SLOT_BUSY };

struct send;

/* A webhook as the thread tracks it. */
struct slot {
    struct store_webhook w;
    enum slot_state state;
    bool check;  /* IDLE: look for a next event */
    bool seen;   /* still in the store at the last reload */
    int64_t due; /* WAIT: wall-clock µs of the next look */
    struct send *tx;
    struct slot *next;
};

/* One attempt (or a ping). */
struct send {
    struct webhook_deliverer *d;
    struct slot *slot; /* NULL for a ping, or once the webhook is gone */
    bool ping;
    char webhook_id[STORE_WEBHOOK_ID_LEN + 1];
    char secret[STORE_WEBHOOK_SECRET_LEN + 1];
    char *url;
    char event_id[40];
    char *body;
    struct webhook_url u;
    struct store_delivery prior; /* the event's delivery before this attempt */
    bool in_multi;
    char resolve[RESOLVE_MAX];
    char error[128]; /* a refusal found before the transfer */
    CURL *easy;
    struct curl_slist *headers, *pins;
    char curl_err[CURL_ERROR_SIZE];
    int64_t started_mono;
    struct send *next;                  /* in the resolver's queues */
    struct send *live_prev, *live_next; /* every send not yet freed (the thread's) */
};

struct ping {
    struct ccf_tenant tenant;
    char id[STORE_WEBHOOK_ID_LEN + 1];
};

struct webhook_deliverer {
    struct webhook_config cfg;
    char *ca_bundle;
    CURLM *multi;
    pthread_t thread, resolver;
    bool started;
    atomic_bool stop, list_changed, events_changed;
    atomic_bool pings_maybe; /* the store may hold pings: look */
    struct slot *slots;
    struct send *live; /* every send made and not freed: what a stop frees */
    /* Shared with other threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t resolve_cv;
    struct send *to_resolve, *resolved;
    struct ping pings[PINGS_MAX];
    size_t npings;
    struct webhook_stats stats;
};

static void send_free(struct send *s)
{
    if (!s)
        return;
    if (s->live_prev)
        s->live_prev->live_next = s->live_next;
    else
        s->d->live = s->live_next;
    if (s->live_next)
        s->live_next->live_prev = s->live_prev;
    if (s->easy)
        curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    curl_slist_free_all(s->pins);
    memset(s->secret, 0, sizeof(s->secret));
    free(s->url);
    free(s->body);
    free(s);
}

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

/* --- Resolution ------------------------------------------------------ */

/* sa as CURLOPT_RESOLVE writes it: 1.2.3.4 or [::1]; false if neither. */
static bool addr_text(const struct sockaddr *sa, char *out, size_t n)
{
    char a[INET6_ADDRSTRLEN];
    int k;

    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                         (socklen_t)n) != NULL;
    if (sa->sa_family != AF_INET6 ||
        !inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, a,
                   sizeof(a)))
        return false;
    k = snprintf(out, n, "[%s]", a);
    return k > 0 && (size_t)k < n;
}

/* Resolves s's host, refuses it if any address is blocked (unless
 * allowed), and pins the transfer to what was checked. On the resolver
 * thread (or the deliverer's for a literal address). */
static void resolve_one(struct send *s, bool allow_private)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    char addr[INET6_ADDRSTRLEN + 2];
    size_t o, prefix;
    int k;

    hints.ai_flags = s->u.literal ? AI_NUMERICHOST : 0;
    if (getaddrinfo(s->u.host, NULL, &hints, &res) != 0 || !res) {
        snprintf(s->error, sizeof(s->error), "host does not resolve");
        return;
    }
    k = snprintf(s->resolve, sizeof(s->resolve), "%s:%u:", s->u.host, s->u.port);
    prefix = o = k > 0 && (size_t)k < sizeof(s->resolve) ? (size_t)k : sizeof(s->resolve) - 1;
    for (ai = res; ai && !s->error[0]; ai = ai->ai_next) {
        if (!allow_private && webhook_addr_blocked(ai->ai_addr)) {
            snprintf(s->error, sizeof(s->error), "host resolves to a private address (refused)");
            break;
        }
        if (!addr_text(ai->ai_addr, addr, sizeof(addr)) || strstr(s->resolve + prefix, addr))
            continue; /* not IP, or already pinned */
        k = snprintf(s->resolve + o, sizeof(s->resolve) - o, "%s%s", o == prefix ? "" : ",", addr);
        if (k > 0 && (size_t)k < sizeof(s->resolve) - o)
            o += (size_t)k;
    }
    freeaddrinfo(res);
    /* A literal address is connected to as it is: nothing to pin. */
    if (s->u.literal || o == prefix)
        s->resolve[0] = '\0';
}

static void *resolver_main(void *arg)
{
    struct webhook_deliverer *d = arg;
    struct send *s;

    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stop)) {
        if (!(s = d->to_resolve)) {
            pthread_cond_wait(&d->resolve_cv, &d->mu);
            continue;
        }
        d->to_resolve = s->next;
        pthread_mutex_unlock(&d->mu);
        resolve_one(s, d->cfg.allow_private);
        pthread_mutex_lock(&d->mu);
        s->next = d->resolved;
        d->resolved = s;
        curl_multi_wakeup(d->multi);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* --- Transfers ------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* The connect-time check: the address libcurl is about to connect to. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct send *s = ctx;

    (void)purpose;
    if (!s->d->cfg.allow_private && webhook_addr_blocked(&a->addr)) {
        snprintf(s->error, sizeof(s->error), "connection to a private address refused");
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static struct curl_slist *header(struct curl_slist *l, const char *name, const char *value)
{
    char line[256];
    int k = snprintf(line, sizeof(line), "%s: %s", name, value);

    return k > 0 && (size_t)k < sizeof(line) ? curl_slist_append(l, line) : l;
}

static int prepare(struct send *s)
{
    struct webhook_deliverer *d = s->d;
    char sig[WEBHOOK_SIGNATURE_MAX];
    CURL *e;

    if (webhook_sign(s->secret, ccf_now_us() / 1000000, s->body, strlen(s->body), sig) < 0 ||
        !(e = s->easy = curl_easy_init()))
        return CCF_EIO;
    s->headers = header(NULL, "Content-Type", "application/json");
    s->headers = header(s->headers, "User-Agent", "ccf-webhooks/1");
    s->headers = header(s->headers, "Expect", "");
    s->headers = header(s->headers, "ccf-webhook-id", s->webhook_id);
    s->headers = header(s->headers, "ccf-event-id", s->event_id);
    s->headers = header(s->headers, "ccf-signature", sig);
    if (s->resolve[0])
        s->pins = curl_slist_append(NULL, s->resolve);
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_RESOLVE, s->pins);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->cfg.timeout_s * 1000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    if (d->ca_bundle)
        curl_easy_setopt(e, CURLOPT_CAINFO, d->ca_bundle);
    if (curl_multi_add_handle(d->multi, e) != CURLM_OK)
        return CCF_EIO;
    s->in_multi = true;
    return 0;
}

static void finish(struct send *s, int status, const char *error);

/* Starts s: a literal host is checked here, a name on the resolver. */
static void launch(struct send *s)
{
    struct webhook_deliverer *d = s->d;
    char err[160];

    s->started_mono = ccf_mono_us();
    if (webhook_url_parse(s->url, &s->u, err, sizeof(err)) < 0) {
        finish(s, 0, "the URL is no longer valid");
        return;
    }
    if (!s->u.literal) {
        pthread_mutex_lock(&d->mu);
        s->next = d->to_resolve;
        d->to_resolve = s;
        pthread_cond_signal(&d->resolve_cv);
        pthread_mutex_unlock(&d->mu);
        return;
    }
    resolve_one(s, d->cfg.allow_private);
    if (s->error[0] || prepare(s) < 0)
        finish(s, 0, s->error[0] ? s->error : "cannot set up the request");
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
static void finish(struct send *s, int status, const char *error)
{
    struct webhook_deliverer *d = s->d;
    struct slot *sl = s->slot;
    struct store_delivery nd;
    int64_t now = ccf_now_us();
    int rc;

    if (s->ping) {
        CCF_LOG_INFO("webhook.ping", CCF_KV_STR("webhook_id", s->webhook_id),
                     CCF_KV_INT("status", status), CCF_KV_STR("error", error ? error : ""));
        send_free(s);
        return;
    }
    if (!sl) { /* the webhook was deleted meanwhile */
        send_free(s);
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
        send_free(s);
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
    send_free(s);
}

static void transfer_done(struct webhook_deliverer *d, CURLMsg *m)
{
    struct send *s = NULL;
    long code = 0;
    char err[160];

    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    curl_multi_remove_handle(d->multi, m->easy_handle);
    s->in_multi = false;
    if (m->data.result == CURLE_OK) {
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        snprintf(err, sizeof(err), "%s", code >= 200 && code < 300 ? "" : "answered non-2xx");
        finish(s, (int)code, err[0] ? err : NULL);
        return;
    }
    snprintf(err, sizeof(err), "%.150s",
             s->error[0]                                  ? s->error
             : m->data.result == CURLE_OPERATION_TIMEDOUT ? "timed out"
             : s->curl_err[0]                             ? s->curl_err
                                                          : curl_easy_strerror(m->data.result));
    finish(s, 0, err);
}

/* --- Webhooks -------------------------------------------------------- */

static struct send *send_new(struct webhook_deliverer *d, const struct store_webhook *w)
{
    struct send *s = ccf_xmalloc(sizeof(*s));

    memset(s, 0, sizeof(*s));
    s->d = d;
    memcpy(s->webhook_id, w->id, sizeof(s->webhook_id));
    memcpy(s->secret, w->secret, sizeof(s->secret));
    s->url = ccf_xstrdup(w->url);
    s->live_next = d->live;
    if (d->live)
        d->live->live_prev = s;
    d->live = s;
    return s;
}

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
    s = send_new(d, &sl->w);
    s->slot = sl;
    s->prior = dv;
    s->body = d->cfg.event_text(&ev);
    snprintf(s->event_id, sizeof(s->event_id), "ev-%016" PRIx64, (uint64_t)ev.seq);
    store_events_clear(&ev, 1);
    sl->state = SLOT_BUSY;
    sl->tx = s;
    launch(s);
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
            send_free(s);
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

/* --- Pings ----------------------------------------------------------- */

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

static void take_pings(struct webhook_deliverer *d)
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
        s = send_new(d, &w);
        store_webhook_clear(&w);
        s->ping = true;
        s->body = ping_body(s->event_id);
        launch(s);
    }
}

/* --- The thread ------------------------------------------------------ */

static void take_resolved(struct webhook_deliverer *d)
{
    struct send *s, *next;

    pthread_mutex_lock(&d->mu);
    s = d->resolved;
    d->resolved = NULL;
    pthread_mutex_unlock(&d->mu);
    for (; s; s = next) {
        next = s->next;
        s->next = NULL;
        if (!s->slot && !s->ping)
            send_free(s); /* its webhook was deleted */
        else if (s->error[0] || prepare(s) < 0)
            finish(s, 0, s->error[0] ? s->error : "cannot set up the request");
    }
}

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
        take_pings(d);
        take_resolved(d);
        step_slots(d);
        curl_multi_perform(d->multi, &running);
        while ((m = curl_multi_info_read(d->multi, &left)))
            if (m->msg == CURLMSG_DONE)
                transfer_done(d, m);
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
    if (pthread_create(&d->resolver, NULL, resolver_main, d) != 0)
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
        send_free(d->live);
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
