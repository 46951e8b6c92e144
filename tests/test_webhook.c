/* test_webhook.c: the webhook module's pure parts (URL rules, the address
 * classes, the signature against an independent HMAC) and the store's
 * webhooks: the limit, client tokens, the head event after the cursor and
 * its types, recording attempts, the deliveries listing, and pruning. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "store_fixture.h"
#include "webhook/webhook.h"

static bool blocked(const char *addr)
{
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    if (inet_pton(AF_INET, addr, &in4.sin_addr) == 1)
        return webhook_addr_blocked((struct sockaddr *)&in4);
    assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
    return webhook_addr_blocked((struct sockaddr *)&in6);
}

static void test_address_classes(void **state)
{
    static const char *const refused[] = {"127.0.0.1",
                                          "127.255.0.9",
                                          "0.0.0.0",
                                          "169.254.169.254",
                                          "10.0.0.1",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "100.64.0.1",
                                          "100.127.255.255",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "::1",
                                          "::",
                                          "fe80::1",
                                          "fc00::1",
                                          "fd12::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.1.2.3",
                                          "ff02::1"};
    static const char *const allowed[] = {
        "8.8.8.8",     "172.15.255.255", "172.32.0.1",   "100.63.0.1",     "100.128.0.1",
        "192.169.0.1", "2001:db8::1",    "2606:4700::1", "::ffff:8.8.8.8", "169.253.0.1"};

    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_true(blocked(refused[i]) || (fprintf(stderr, "%s\n", refused[i]), false));
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        assert_false(blocked(allowed[i]) && (fprintf(stderr, "%s\n", allowed[i]), true));
}

static void test_url_parse(void **state)
{
    struct webhook_url u;
    char err[200];

    (void)state;
    assert_int_equal(webhook_url_parse("https://example.com/h?x=1", &u, err, sizeof(err)), 0);
    assert_true(u.https && u.port == 443 && !u.literal);
    assert_string_equal(u.host, "example.com");
    assert_int_equal(webhook_url_parse("http://[::1]:8080/", &u, err, sizeof(err)), 0);
    assert_true(!u.https && u.port == 8080 && u.literal);
    assert_string_equal(u.host, "::1");
    assert_int_equal(webhook_url_parse("HTTP://10.0.0.1", &u, err, sizeof(err)), 0);
    assert_true(u.literal && u.port == 80);
    static const char *const bad[] = {"",
                                      "ftp://example.com/",
                                      "example.com",
                                      "http:///path",
                                      "http://",
                                      "http://user:pw@example.com/",
                                      "http://user@example.com/",
                                      "http://example.com/a b",
                                      "http://example.com/\x01",
                                      "http://exa\xc3\xa9mple.com/",
                                      "http://example.com:0/",
                                      "http://example.com:70000/",
                                      "http://[fe80::1%25eth0]/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(webhook_url_parse(bad[i], &u, err, sizeof(err)), CCF_EINVAL);
        assert_non_null(strstr(err, "url"));
    }
}

static void test_url_check_resolves_and_refuses(void **state)
{
    char err[300];

    (void)state;
    assert_int_equal(webhook_url_check("http://127.0.0.1/", false, err, sizeof(err)), CCF_EINVAL);
    assert_non_null(strstr(err, "webhook-allow-private"));
    assert_int_equal(webhook_url_check("http://localhost/", false, err, sizeof(err)), CCF_EINVAL);
    assert_int_equal(webhook_url_check("http://127.0.0.1/", true, err, sizeof(err)), 0);
    assert_int_equal(webhook_url_check("http://8.8.8.8/", false, err, sizeof(err)), 0);
    assert_int_equal(webhook_url_check("http://no-such-host.invalid/", false, err, sizeof(err)),
                     CCF_EINVAL);
}

static void test_signature_is_hmac_of_t_dot_body(void **state)
{
    const char *secret = "whsec_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    const char *body = "{\"type\":\"ping\"}";
    unsigned char md[32];
    unsigned int n = 0;
    char sig[WEBHOOK_SIGNATURE_MAX], want[100], msg[64];

    (void)state;
    assert_int_equal(webhook_sign(secret, 1700000000, body, strlen(body), sig), 0);
    snprintf(msg, sizeof(msg), "1700000000.%s", body);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg), md,
         &n);
    assert_int_equal(n, 32);
    int k = snprintf(want, sizeof(want), "t=1700000000,v1=");
    for (unsigned i = 0; i < 32; i++)
        k += snprintf(want + k, sizeof(want) - (size_t)k, "%02x", md[i]);
    assert_string_equal(sig, want);
}

/* ---- the store ---- */

struct fx {
    char dir[STORE_FX_DIR_MAX], path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t, other;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    store_fx_mkdtemp("webhook", f->dir, f->path);
    assert_int_equal(store_fx_open(&f->s, f->path, "OFF", 0), 0);
    assert_int_equal(ccf_tenant_init(&f->t, "us-east-1", "123456789012"), 0);
    assert_int_equal(ccf_tenant_init(&f->other, "us-east-1", "210987654321"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_remove(f->s, f->dir);
    free(f);
    return 0;
}

static void make(struct fx *f, const struct ccf_tenant *t, const char *types,
                 struct store_webhook *w)
{
    memset(w, 0, sizeof(*w));
    w->url = strdup("http://127.0.0.1:9/");
    w->event_types = types ? strdup(types) : NULL;
    assert_int_equal(store_create_webhook(f->s, t, w, NULL), STORE_TOKEN_NEW);
}

/* A connector: its connector.created event. */
static void connector(struct fx *f, const struct ccf_tenant *t, char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {0};

    c.name = strdup("web-hook");
    c.properties = strdup("{\"command\":[\"/bin/true\"]}");
    assert_int_equal(store_create_connector(f->s, t, &c), 0);
    memcpy(id, c.id, sizeof(c.id));
    ccf_connector_clear(&c);
}

static void test_create_limit_and_ids(void **state)
{
    struct fx *f = *state;
    struct store_webhook w[STORE_WEBHOOKS_MAX + 1], got;

    for (int i = 0; i < STORE_WEBHOOKS_MAX; i++) {
        make(f, &f->t, NULL, &w[i]);
        assert_true(store_webhook_id_valid(w[i].id));
        assert_int_equal(strlen(w[i].secret), STORE_WEBHOOK_SECRET_LEN);
        assert_int_equal(strncmp(w[i].secret, "whsec_", 6), 0);
        assert_true(i == 0 || strcmp(w[i].secret, w[i - 1].secret) != 0);
    }
    memset(&w[20], 0, sizeof(w[20]));
    w[20].url = strdup("http://127.0.0.1:9/");
    assert_int_equal(store_create_webhook(f->s, &f->t, &w[20], NULL), CCF_ELIMIT);
    store_webhook_clear(&w[20]);
    make(f, &f->other, NULL, &w[20]); /* the other tenant has its own 20 */
    assert_int_equal(store_get_webhook(f->s, &f->other, w[0].id, &got), CCF_ENOTFOUND);
    assert_int_equal(store_delete_webhook(f->s, &f->other, w[0].id), CCF_ENOTFOUND);
    assert_int_equal(store_get_webhook(f->s, &f->t, w[0].id, &got), 0);
    assert_string_equal(got.secret, w[0].secret);
    store_webhook_clear(&got);
    for (int i = 0; i <= STORE_WEBHOOKS_MAX; i++)
        store_webhook_clear(&w[i]);
}

static void test_client_token(void **state)
{
    struct fx *f = *state;
    unsigned char h1[32] = {1}, h2[32] = {2};
    struct store_token tok = {.token = "abc", .hash = h1};
    struct store_webhook a = {0}, b = {0};

    a.url = strdup("http://127.0.0.1:9/");
    b.url = strdup("http://127.0.0.1:9/");
    assert_int_equal(store_create_webhook(f->s, &f->t, &a, &tok), STORE_TOKEN_NEW);
    assert_int_equal(store_create_webhook(f->s, &f->t, &b, &tok), STORE_TOKEN_REPLAY);
    assert_string_equal(a.id, b.id);
    assert_string_equal(a.secret, b.secret);
    tok.hash = h2;
    store_webhook_clear(&b);
    b.url = strdup("http://127.0.0.1:9/");
    assert_int_equal(store_create_webhook(f->s, &f->t, &b, &tok), CCF_ETOKEN);
    tok.hash = h1;
    assert_int_equal(store_delete_webhook(f->s, &f->t, a.id), 0);
    assert_int_equal(store_create_webhook(f->s, &f->t, &b, &tok), STORE_TOKEN_GONE);
    store_webhook_clear(&a);
    store_webhook_clear(&b);
}

static void test_head_follows_cursor_types_and_tenant(void **state)
{
    struct fx *f = *state;
    char before[16], c1[16], c2[16], theirs[16];
    struct store_webhook all, deleted;
    struct store_event ev;
    struct store_delivery d;

    connector(f, &f->t, before); /* before the webhooks: never sent */
    make(f, &f->t, NULL, &all);
    make(f, &f->t, ",connector.deleted,", &deleted);
    assert_int_equal(store_webhook_head(f->s, &all, &ev, &d), 0);
    connector(f, &f->other, theirs);
    connector(f, &f->t, c1);
    connector(f, &f->t, c2);
    assert_int_equal(store_webhook_head(f->s, &all, &ev, &d), 1);
    assert_string_equal(ev.connector_id, c1);
    assert_string_equal(ev.type, "connector.created");
    assert_true(d.attempts == 0 && d.status == STORE_DELIVERY_PENDING && d.seq == ev.seq);
    /* A failed attempt is kept; the head stays. */
    d.attempts = 1;
    d.first_attempt_at = d.last_attempt_at = 1000;
    d.next_attempt_at = 2000;
    d.last_status_code = 500;
    snprintf(d.last_error, sizeof(d.last_error), "answered non-2xx");
    assert_int_equal(store_webhook_record(f->s, all.id, &d), 1);
    store_events_clear(&ev, 1);
    assert_int_equal(store_webhook_head(f->s, &all, &ev, &d), 1);
    assert_string_equal(ev.connector_id, c1);
    assert_true(d.attempts == 1 && d.next_attempt_at == 2000 && d.last_status_code == 500);
    /* Delivered: the cursor moves past it, in the store and for the caller. */
    d.attempts = 2;
    d.status = STORE_DELIVERY_DELIVERED;
    d.last_status_code = 200;
    assert_int_equal(store_webhook_record(f->s, all.id, &d), 1);
    all.cursor = d.seq;
    store_events_clear(&ev, 1);
    assert_int_equal(store_webhook_head(f->s, &all, &ev, &d), 1);
    assert_string_equal(ev.connector_id, c2);
    store_events_clear(&ev, 1);
    assert_int_equal(
        store_fx_int(f->path, "SELECT count(*) FROM webhooks WHERE cursor > start_seq"), 1);
    /* Of its types only. */
    assert_int_equal(store_webhook_head(f->s, &deleted, &ev, &d), 0);
    assert_int_equal(store_delete_connector(f->s, &f->t, c2), 0);
    assert_int_equal(store_webhook_head(f->s, &deleted, &ev, &d), 1);
    assert_string_equal(ev.type, "connector.deleted");
    store_events_clear(&ev, 1);
    /* A gone webhook records nothing. */
    assert_int_equal(store_delete_webhook(f->s, &f->t, all.id), 0);
    assert_int_equal(store_webhook_record(f->s, all.id, &d), 0);
    assert_int_equal(store_fx_int(f->path, "SELECT count(*) FROM webhook_deliveries"), 0);
    store_webhook_clear(&all);
    store_webhook_clear(&deleted);
}

struct seen {
    struct store_delivery d[16];
    size_t n;
};

static int collect(void *ctx, const struct store_delivery *d)
{
    struct seen *s = ctx;

    assert_true(s->n < 16);
    s->d[s->n++] = *d;
    return 0;
}

static void test_deliveries_listing_pages_newest_first(void **state)
{
    struct fx *f = *state;
    struct store_webhook w;
    struct store_page p = {.limit = 2};
    struct seen s = {.n = 0};
    char id[16], *next = NULL, *next2 = NULL;

    make(f, &f->t, NULL, &w);
    for (int i = 0; i < 3; i++)
        connector(f, &f->t, id);
    assert_int_equal(store_list_deliveries(f->s, &f->t, w.id, &p, collect, &s, &next), 0);
    assert_int_equal(s.n, 2);
    assert_non_null(next);
    assert_true(s.d[0].seq > s.d[1].seq && s.d[0].status == STORE_DELIVERY_PENDING);
    p.after = next;
    assert_int_equal(store_list_deliveries(f->s, &f->t, w.id, &p, collect, &s, &next2), 0);
    assert_int_equal(s.n, 3);
    assert_null(next2);
    assert_true(s.d[2].seq < s.d[1].seq);
    free(next);
    p.after = "x1";
    assert_int_equal(store_list_deliveries(f->s, &f->t, w.id, &p, collect, &s, &next), CCF_EINVAL);
    p.after = NULL;
    assert_int_equal(store_list_deliveries(f->s, &f->other, w.id, &p, collect, &s, &next),
                     CCF_ENOTFOUND);
    store_webhook_clear(&w);
}

static void test_pruning_drops_attempts_with_their_events(void **state)
{
    struct fx *f = *state;
    struct store_webhook w;
    struct store_event ev;
    struct store_delivery d;
    char id[16];

    make(f, &f->t, NULL, &w);
    connector(f, &f->t, id);
    assert_int_equal(store_webhook_head(f->s, &w, &ev, &d), 1);
    store_events_clear(&ev, 1);
    d.attempts = 1;
    d.first_attempt_at = d.last_attempt_at = 1;
    d.status = STORE_DELIVERY_FAILED;
    assert_int_equal(store_webhook_record(f->s, w.id, &d), 1);
    assert_int_equal(store_fx_int(f->path, "SELECT count(*) FROM webhook_deliveries"), 1);
    assert_int_equal(store_prune_changes(f->s, INT64_MAX, INT64_MAX), 0);
    assert_int_equal(store_fx_int(f->path, "SELECT count(*) FROM webhook_deliveries"), 0);
    store_webhook_clear(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_classes),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_check_resolves_and_refuses),
        cmocka_unit_test(test_signature_is_hmac_of_t_dot_body),
        cmocka_unit_test_setup_teardown(test_create_limit_and_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_follows_cursor_types_and_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliveries_listing_pages_newest_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pruning_drops_attempts_with_their_events, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("webhook", tests, NULL, NULL);
}
