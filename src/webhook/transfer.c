/* transfer.c: one attempt's transfer (webhook_int.h). Host names are
 * resolved on a resolver thread, every address checked, and the transfer
 * pinned to the checked addresses (CURLOPT_RESOLVE), with the socket's
 * address checked again as it opens, so a DNS answer that changes between
 * the check and the connect cannot reach a private address. */
#include "webhook/webhook_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct send *webhook__send_new(struct webhook_deliverer *d, const struct store_webhook *w)
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

void webhook__send_free(struct send *s)
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

void *webhook__resolver_main(void *arg)
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

/* Starts s: a literal host is checked here, a name on the resolver. */
void webhook__launch(struct send *s)
{
    struct webhook_deliverer *d = s->d;
    char err[160];

    s->started_mono = ccf_mono_us();
    if (webhook_url_parse(s->url, &s->u, err, sizeof(err)) < 0) {
        webhook__finish(s, 0, "the URL is no longer valid");
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
        webhook__finish(s, 0, s->error[0] ? s->error : "cannot set up the request");
}

/* --- Outcomes of transfers ------------------------------------------ */

void webhook__take_resolved(struct webhook_deliverer *d)
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
            webhook__send_free(s); /* its webhook was deleted */
        else if (s->error[0] || prepare(s) < 0)
            webhook__finish(s, 0, s->error[0] ? s->error : "cannot set up the request");
    }
}

void webhook__transfer_done(struct webhook_deliverer *d, CURLMsg *m)
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
        webhook__finish(s, (int)code, err[0] ? err : NULL);
        return;
    }
    snprintf(err, sizeof(err), "%.150s",
             s->error[0]                                  ? s->error
             : m->data.result == CURLE_OPERATION_TIMEDOUT ? "timed out"
             : s->curl_err[0]                             ? s->curl_err
                                                          : curl_easy_strerror(m->data.result));
    webhook__finish(s, 0, err);
}
