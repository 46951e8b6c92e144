/* webhooks.c: conformance cases of the webhooks: the limit per tenant
 * (under concurrency too), client tokens, the head event after the cursor
 * and its types, recording attempts, the deliveries listing, and pruning
 * the attempts with their events. */
#include "conf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void make(struct conf *f, const struct ccf_tenant *t, const char *types,
                 struct store_webhook *w)
{
    memset(w, 0, sizeof(*w));
    w->url = strdup("http://127.0.0.1:9/");
    w->event_types = types ? strdup(types) : NULL;
    assert_int_equal(store_create_webhook(f->s, t, w, NULL), STORE_TOKEN_NEW);
}

/* A connector: its connector.created event. */
static void connector(struct conf *f, const struct ccf_tenant *t, char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {0};

    c.name = strdup("web-hook");
    c.properties = strdup("{\"command\":[\"/bin/true\"]}");
    assert_int_equal(store_create_connector(f->s, t, &c), 0);
    memcpy(id, c.id, sizeof(c.id));
    ccf_connector_clear(&c);
}

/* Counts the webhooks visited; the nth (n > 0) answers CCF_EIO. */
struct tally {
    int seen, fail_at;
};

static int tally(void *ctx, const struct store_webhook *w)
{
    struct tally *t = ctx;

    assert_true(store_webhook_id_valid(w->id));
    return ++t->seen == t->fail_at ? CCF_EIO : 0;
}

static void test_create_limit_and_ids(void **state)
{
    struct conf *f = *state;
    struct store_webhook w[STORE_WEBHOOKS_MAX + 1], got;
    struct tally t = {0};

    for (int i = 0; i < STORE_WEBHOOKS_MAX; i++) {
        make(f, &f->t1, NULL, &w[i]);
        assert_true(store_webhook_id_valid(w[i].id));
        assert_int_equal(strlen(w[i].secret), STORE_WEBHOOK_SECRET_LEN);
        assert_int_equal(strncmp(w[i].secret, "whsec_", 6), 0);
        assert_true(i == 0 || strcmp(w[i].secret, w[i - 1].secret) != 0);
    }
    memset(&w[20], 0, sizeof(w[20]));
    w[20].url = strdup("http://127.0.0.1:9/");
    assert_int_equal(store_create_webhook(f->s, &f->t1, &w[20], NULL), CCF_ELIMIT);
    store_webhook_clear(&w[20]);
    make(f, &f->t2, NULL, &w[20]); /* the other tenant has its own 20 */
    assert_int_equal(store_get_webhook(f->s, &f->t2, w[0].id, &got), CCF_ENOTFOUND);
    assert_int_equal(store_delete_webhook(f->s, &f->t2, w[0].id), CCF_ENOTFOUND);
    assert_int_equal(store_get_webhook(f->s, &f->t1, w[0].id, &got), 0);
    assert_string_equal(got.secret, w[0].secret);
    store_webhook_clear(&got);
    /* The deliverer's view: every tenant's, until the visitor says stop. */
    assert_int_equal(store_all_webhooks(f->s, tally, &t), 0);
    assert_int_equal(t.seen, STORE_WEBHOOKS_MAX + 1);
    t = (struct tally){.fail_at = 2};
    assert_int_equal(store_all_webhooks(f->s, tally, &t), CCF_EIO);
    assert_int_equal(t.seen, 2);
    for (int i = 0; i <= STORE_WEBHOOKS_MAX; i++)
        store_webhook_clear(&w[i]);
}

static void test_client_token(void **state)
{
    struct conf *f = *state;
    unsigned char h1[32] = {1}, h2[32] = {2};
    struct store_token tok = {.token = "abc", .hash = h1};
    struct store_webhook a = {0}, b = {0};

    a.url = strdup("http://127.0.0.1:9/");
    b.url = strdup("http://127.0.0.1:9/");
    assert_int_equal(store_create_webhook(f->s, &f->t1, &a, &tok), STORE_TOKEN_NEW);
    assert_int_equal(store_create_webhook(f->s, &f->t1, &b, &tok), STORE_TOKEN_REPLAY);
    assert_string_equal(a.id, b.id);
    assert_string_equal(a.secret, b.secret);
    tok.hash = h2;
    store_webhook_clear(&b);
    b.url = strdup("http://127.0.0.1:9/");
    assert_int_equal(store_create_webhook(f->s, &f->t1, &b, &tok), CCF_ETOKEN);
    tok.hash = h1;
    assert_int_equal(store_delete_webhook(f->s, &f->t1, a.id), 0);
    assert_int_equal(store_create_webhook(f->s, &f->t1, &b, &tok), STORE_TOKEN_GONE);
    store_webhook_clear(&a);
    store_webhook_clear(&b);
}

static void test_head_follows_cursor_types_and_tenant(void **state)
{
    struct conf *f = *state;
    char before[16], c1[16], c2[16], theirs[16];
    struct store_webhook all, deleted;
    struct store_event ev;
    struct store_delivery d;

    connector(f, &f->t1, before); /* before the webhooks: never sent */
    make(f, &f->t1, NULL, &all);
    make(f, &f->t1, ",connector.deleted,", &deleted);
    assert_int_equal(store_webhook_head(f->s, &all, &ev, &d), 0);
    connector(f, &f->t2, theirs);
    connector(f, &f->t1, c1);
    connector(f, &f->t1, c2);
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
    assert_int_equal(conf_int(f, "SELECT count(*) FROM webhooks WHERE cursor > start_seq"), 1);
    /* Of its types only. */
    assert_int_equal(store_webhook_head(f->s, &deleted, &ev, &d), 0);
    assert_int_equal(store_delete_connector(f->s, &f->t1, c2), 0);
    assert_int_equal(store_webhook_head(f->s, &deleted, &ev, &d), 1);
    assert_string_equal(ev.type, "connector.deleted");
    store_events_clear(&ev, 1);
    /* A gone webhook records nothing. */
    assert_int_equal(store_delete_webhook(f->s, &f->t1, all.id), 0);
    assert_int_equal(store_webhook_record(f->s, all.id, &d), 0);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM webhook_deliveries"), 0);
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
    struct conf *f = *state;
    struct store_webhook w;
    struct store_page p = {.limit = 2};
    struct seen s = {.n = 0};
    char id[16], *next = NULL, *next2 = NULL;

    make(f, &f->t1, NULL, &w);
    for (int i = 0; i < 3; i++)
        connector(f, &f->t1, id);
    assert_int_equal(store_list_deliveries(f->s, &f->t1, w.id, &p, collect, &s, &next), 0);
    assert_int_equal(s.n, 2);
    assert_non_null(next);
    assert_true(s.d[0].seq > s.d[1].seq && s.d[0].status == STORE_DELIVERY_PENDING);
    p.after = next;
    assert_int_equal(store_list_deliveries(f->s, &f->t1, w.id, &p, collect, &s, &next2), 0);
    assert_int_equal(s.n, 3);
    assert_null(next2);
    assert_true(s.d[2].seq < s.d[1].seq);
    free(next);
    p.after = "x1";
    assert_int_equal(store_list_deliveries(f->s, &f->t1, w.id, &p, collect, &s, &next), CCF_EINVAL);
    p.after = NULL;
    assert_int_equal(store_list_deliveries(f->s, &f->t2, w.id, &p, collect, &s, &next),
                     CCF_ENOTFOUND);
    store_webhook_clear(&w);
}

static void test_pruning_drops_attempts_with_their_events(void **state)
{
    struct conf *f = *state;
    struct store_webhook w;
    struct store_event ev;
    struct store_delivery d;
    char id[16];

    make(f, &f->t1, NULL, &w);
    connector(f, &f->t1, id);
    assert_int_equal(store_webhook_head(f->s, &w, &ev, &d), 1);
    store_events_clear(&ev, 1);
    d.attempts = 1;
    d.first_attempt_at = d.last_attempt_at = 1;
    d.status = STORE_DELIVERY_FAILED;
    assert_int_equal(store_webhook_record(f->s, w.id, &d), 1);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM webhook_deliveries"), 1);
    assert_int_equal(store_prune_changes(f->s, INT64_MAX, INT64_MAX), 0);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM webhook_deliveries"), 0);
    store_webhook_clear(&w);
}

#define RACERS 8

struct racer {
    struct conf *f;
    pthread_barrier_t *bar;
    int rc;
};

static void *race_create(void *arg)
{
    struct racer *r = arg;
    struct store_webhook w = {0};

    w.url = strdup("http://127.0.0.1:9/");
    pthread_barrier_wait(r->bar);
    r->rc = store_create_webhook(r->f->s, &r->f->t1, &w, NULL);
    store_webhook_clear(&w);
    return NULL;
}

/* Creates racing for the last free places: exactly the limit is made, the
 * rest are refused (PostgreSQL runs them concurrently; a count taken
 * without a lock would let both of two racers see 19). */
static void test_limit_holds_under_racing_creates(void **state)
{
    struct conf *f = *state;
    struct store_webhook w[STORE_WEBHOOKS_MAX];
    struct racer r[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_t bar;
    int made = 0, refused = 0;

    for (int i = 0; i < STORE_WEBHOOKS_MAX - 2; i++)
        make(f, &f->t1, NULL, &w[i]);
    assert_int_equal(pthread_barrier_init(&bar, NULL, RACERS), 0);
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){.f = f, .bar = &bar};
        assert_int_equal(pthread_create(&th[i], NULL, race_create, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        made += r[i].rc == STORE_TOKEN_NEW;
        refused += r[i].rc == CCF_ELIMIT;
    }
    pthread_barrier_destroy(&bar);
    assert_int_equal(made, 2);
    assert_int_equal(refused, RACERS - 2);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM webhooks"), STORE_WEBHOOKS_MAX);
    for (int i = 0; i < STORE_WEBHOOKS_MAX - 2; i++)
        store_webhook_clear(&w[i]);
}

const struct CMUnitTest conf_webhooks[] = {
    cmocka_unit_test_setup_teardown(test_create_limit_and_ids, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_limit_holds_under_racing_creates, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_client_token, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_head_follows_cursor_types_and_tenant, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_deliveries_listing_pages_newest_first, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_pruning_drops_attempts_with_their_events, conf_setup,
                                    conf_teardown),
};
const size_t conf_webhooks_n = sizeof(conf_webhooks) / sizeof(conf_webhooks[0]);
