/* webhook_int.h (private to webhook/): the deliverer's state and the
 * helpers its files share. deliver.c owns the thread, the webhooks' slots
 * and the outcome of each attempt; transfer.c the host checks and the
 * libcurl transfers; ping.c TestWebhook's pings. All of it runs on the
 * deliverer's thread except the resolver's body and webhook_deliverer_ping. */
#ifndef CCF_WEBHOOK_INT_H
#define CCF_WEBHOOK_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "webhook/webhook.h"

#define PINGS_MAX   64
#define RESOLVE_MAX 512

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

/* A send for w's next attempt or ping, on d's list of live sends; the
 * caller sets what it sends (body, event_id, slot or ping). */
struct send *webhook__send_new(struct webhook_deliverer *d, const struct store_webhook *w);
/* Frees s and takes it off the live list; takes NULL. */
void webhook__send_free(struct send *s);
/* Starts s: a literal host is checked at once, a name on the resolver
 * thread; a refusal ends in webhook__finish. */
void webhook__launch(struct send *s);
/* The resolver thread's body (arg: the deliverer). */
void *webhook__resolver_main(void *arg);
/* Starts the sends the resolver has checked. */
void webhook__take_resolved(struct webhook_deliverer *d);
/* A transfer libcurl says is done: its outcome to webhook__finish. */
void webhook__transfer_done(struct webhook_deliverer *d, CURLMsg *m);
/* Records s's outcome (status 0: no answer, error says why) and sets its
 * webhook's next step; frees s (deliver.c). */
void webhook__finish(struct send *s, int status, const char *error);
/* Sends the pings queued since the last turn, in memory and in the store
 * (ping.c). */
void webhook__take_pings(struct webhook_deliverer *d);

#endif
