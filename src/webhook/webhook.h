/* webhook.h: webhook delivery (CONTRACT-OPS.md "Webhooks"): the URL rules
 * (http or https, no host that resolves to a private address unless the
 * operator allows it), the Stripe-style signature, and the deliverer, a
 * thread that sends each webhook's events from the store's event stream in
 * order over libcurl's multi interface, retries with backoff, and records
 * every attempt in the store. Must not know about the API's routing or
 * the HTTP server.
 *
 * Thread rules: the URL and signature functions are pure or reentrant. One
 * deliverer runs one thread of its own (plus a resolver thread); its wake,
 * ping and stats functions may be called from any thread. */
#ifndef CCF_WEBHOOK_H
#define CCF_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/core.h"
#include "store/store.h"

/* A webhook URL, split. */
struct webhook_url {
    bool https;
    char host[256]; /* without brackets for IPv6 */
    unsigned port;  /* 80 or 443 when not given */
    bool literal;   /* host is an IP address */
};

/* Splits url (libcurl's URL parser): http or https, a host, no user or
 * password, at most STORE_WEBHOOK_URL_MAX bytes, no control characters or
 * blanks. CCF_EINVAL with a message naming what is wrong in err. Pure: no
 * DNS. */
int webhook_url_parse(const char *url, struct webhook_url *out, char *err, size_t n);

/* Whether a connection to sa is refused without webhook-allow-private:
 * loopback, unspecified, link-local, private, shared (100.64/10) or
 * multicast, IPv4-mapped IPv6 addresses by their IPv4 address. */
bool webhook_addr_blocked(const struct sockaddr *sa);

/* The check at create: parses url and, unless allow_private, resolves its
 * host and refuses it if any of its addresses is blocked, or if it does
 * not resolve. Blocks on DNS. CCF_EINVAL with a message in err. */
int webhook_url_check(const char *url, bool allow_private, char *err, size_t n);

/* The ccf-signature header's value for body sent at unix time t, signed
 * with secret (the whole "whsec_..." string as the key):
 * "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". */
#define WEBHOOK_SIGNATURE_MAX 96
int webhook_sign(const char *secret, int64_t t, const char *body, size_t len,
                 char out[WEBHOOK_SIGNATURE_MAX]);

struct webhook_deliverer;

struct webhook_config {
    struct store *store;    /* borrowed; outlives the deliverer */
    bool allow_private;     /* webhook-allow-private */
    unsigned retry_for_s;   /* webhook-retry-for: give up an event after this long */
    unsigned retry_base_ms; /* the first retry's wait; doubles up to an hour */
    unsigned timeout_s;     /* per attempt */
    const char *ca_bundle;  /* borrowed; NULL: the system's CAs */
    /* The event as a receiver gets it (the API's shape); malloc'd text. */
    char *(*event_text)(const struct store_event *e);
};

struct webhook_stats {
    uint64_t delivered, retried, failed;
};

/* Makes the deliverer (not started). CCF_EIO if libcurl cannot be set up. */
int webhook_deliverer_create(struct webhook_deliverer **out, const struct webhook_config *cfg);
/* Starts its threads and hooks it to the store's commits. */
int webhook_deliverer_start(struct webhook_deliverer *d);
/* A webhook was created or deleted: read the list again. Any thread. */
void webhook_deliverer_changed(void *d);
/* Sends a ping event to webhook id of tenant t at once, outside the
 * ordered stream; the API does not wait for it. CCF_EUNAVAIL when too
 * many pings wait. */
int webhook_deliverer_ping(struct webhook_deliverer *d, const struct ccf_tenant *t, const char *id);
void webhook_deliverer_stats(struct webhook_deliverer *d, struct webhook_stats *out);
/* Stops the threads (attempts in flight are dropped: they are sent again
 * at the next start) and frees. Takes NULL. */
void webhook_deliverer_destroy(struct webhook_deliverer *d);

#endif
