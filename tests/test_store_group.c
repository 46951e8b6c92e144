/* test_store_group.c: group commit (src/store/group.c): writes of several
 * threads share one transaction, a failed body is undone alone, a write from
 * inside a body runs in that body's transaction, and concurrent writers all
 * land. Bodies here write rows of the meta table directly. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/sqlite/sqlite_int.h"
#include "store_fixture.h"

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t;
};

static int setup_sync(void **state, const char *synchronous)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    store_fx_mkdtemp("group", f->dir, f->path);
    assert_int_equal(store_fx_open(&f->s, f->path, synchronous, 0), 0);
    ccf_tenant_init(&f->t, "us-east-1", "111111111111");
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_sync(state, "OFF");
}

/* FULL: each commit waits for fsync, so writers pile up behind it. */
static int setup_full(void **state)
{
    return setup_sync(state, "FULL");
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_remove(f->s, f->dir);
    free(f);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Writers waiting in the queue; leading: whether a batch runs. */
static size_t queued(struct store *s, bool *leading)
{
    struct store__group *g = store__group_of(s);
    size_t n;

    pthread_mutex_lock(&g->mu);
    n = g->waiting;
    if (leading)
        *leading = g->leader;
    pthread_mutex_unlock(&g->mu);
    return n;
}

static void wait_queued(struct store *s, size_t n)
{
    for (int i = 0; i < 5000 && queued(s, NULL) < n; i++)
        sleep_ms(1);
    assert_true(queued(s, NULL) >= n);
}

static void wait_leading_alone(struct store *s)
{
    bool leading = false;

    for (int i = 0; i < 5000 && (queued(s, &leading) != 0 || !leading); i++)
        sleep_ms(1);
    assert_true(leading);
}

static int put_meta(struct store__conn *c, const char *key)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "INSERT INTO meta (key, value) VALUES ('%s', 'x')", key);
    return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : CCF_EIO;
}

static bool has_meta(struct fx *f, const char *key)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    bool found;

    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM meta WHERE key = ?1", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/* A body's behaviour, chosen by the test. */
struct body {
    struct store *s;
    const char *key;
    int result;       /* what the body returns after writing key */
    size_t wait_for;  /* block until this many writers are queued behind */
    const char *nest; /* a nested write of this key from inside the body */
    int nest_result;  /* what the nested body returns */
    bool keep_going;  /* the body ignores its nested write's failure */
    int nest_rc;      /* what the nested store__write returned */
    int rc;           /* what store__write returned */
};

static int body_fn(struct store__conn *c, void *arg)
{
    struct body *b = arg;
    int rc;

    if (b->wait_for)
        wait_queued(b->s, b->wait_for);
    if ((rc = put_meta(c, b->key)) < 0)
        return rc;
    if (b->nest) {
        struct body inner = {.s = b->s, .key = b->nest, .result = b->nest_result};

        b->nest_rc = store__write(b->s, body_fn, &inner, "test");
        if (b->nest_rc < 0 && !b->keep_going)
            return b->nest_rc;
    }
    return b->result;
}

static void *writer(void *arg)
{
    struct body *b = arg;

    b->rc = store__write(b->s, body_fn, b, "test");
    return NULL;
}

static void test_failed_body_is_undone_alone(void **state)
{
    struct fx *f = *state;
    struct store__group *g = store__group_of(f->s);
    struct body lead = {.s = f->s, .key = "lead", .wait_for = 3};
    struct body b[3] = {
        {.s = f->s, .key = "ok-1"},
        {.s = f->s, .key = "failed", .result = CCF_ECONFLICT},
        {.s = f->s, .key = "ok-2"},
    };
    pthread_t th[4];
    uint64_t batches0 = g->batches;

    /* lead holds its batch open until the three others wait behind it, in
     * this order; they then commit together as the next batch. */
    assert_int_equal(pthread_create(&th[0], NULL, writer, &lead), 0);
    wait_leading_alone(f->s);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&th[i + 1], NULL, writer, &b[i]), 0);
        if (i < 2) /* after the third, lead goes on and the queue empties */
            wait_queued(f->s, (size_t)i + 1);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(lead.rc, 0);
    assert_int_equal(b[0].rc, 0);
    assert_int_equal(b[1].rc, CCF_ECONFLICT);
    assert_int_equal(b[2].rc, 0);
    assert_int_equal(g->batches - batches0, 2); /* the three were one batch */
    assert_true(has_meta(f, "lead"));
    assert_true(has_meta(f, "ok-1"));
    assert_false(has_meta(f, "failed"));
    assert_true(has_meta(f, "ok-2"));
}

static void test_nested_write_joins_the_body(void **state)
{
    struct fx *f = *state;
    struct body kept = {.s = f->s, .key = "outer-ok", .nest = "inner-ok"};
    struct body undone = {
        .s = f->s, .key = "outer-bad", .nest = "inner-bad", .result = CCF_ECONFLICT};

    /* A nested write waiting for the batch it runs in would never return. */
    assert_int_equal(store__write(f->s, body_fn, &kept, "test"), 0);
    assert_int_equal(store__write(f->s, body_fn, &undone, "test"), CCF_ECONFLICT);
    assert_true(has_meta(f, "outer-ok"));
    assert_true(has_meta(f, "inner-ok"));
    assert_false(has_meta(f, "outer-bad"));
    assert_false(has_meta(f, "inner-bad")); /* undone with the body it ran in */
}

static void test_failed_nested_write_is_undone_alone(void **state)
{
    struct fx *f = *state;
    struct body outer = {.s = f->s,
                         .key = "outer-goes-on",
                         .nest = "inner-failed",
                         .nest_result = CCF_ECONFLICT,
                         .keep_going = true};

    assert_int_equal(store__write(f->s, body_fn, &outer, "test"), 0);
    assert_int_equal(outer.nest_rc, CCF_ECONFLICT);
    assert_true(has_meta(f, "outer-goes-on"));
    assert_false(has_meta(f, "inner-failed"));
}

#define THREADS 8
#define EACH    100

struct creator {
    struct fx *f;
    int failures;
};

static void *creator(void *arg)
{
    struct creator *cr = arg;

    for (int i = 0; i < EACH; i++) {
        struct ccf_connector c = {.name = strdup("n"), .properties = strdup("{}")};

        if (store_create_connector(cr->f->s, &cr->f->t, &c) != 0)
            cr->failures++;
        ccf_connector_clear(&c);
    }
    return NULL;
}

static int count(void *ctx, const struct ccf_connector *c)
{
    (void)c;
    ++*(int *)ctx;
    return 0;
}

static void test_concurrent_writers_all_land(void **state)
{
    struct fx *f = *state;
    struct store__group *g = store__group_of(f->s);
    struct creator cr[THREADS];
    pthread_t th[THREADS];
    struct store_page page = {.limit = 1000};
    char *next = NULL;
    int n = 0;

    for (int i = 0; i < THREADS; i++) {
        cr[i] = (struct creator){.f = f};
        assert_int_equal(pthread_create(&th[i], NULL, creator, &cr[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(cr[i].failures, 0);
    }
    assert_int_equal(store_list_connectors(f->s, &f->t, &page, count, &n, &next), 0);
    assert_null(next);
    assert_int_equal(n, THREADS * EACH);
    assert_int_equal(g->writes, THREADS * EACH);
    /* With 8 writers behind each fsync, batches hold more than one write. */
    assert_true(g->batches < g->writes);
    print_message("%llu writes in %llu batches\n", (unsigned long long)g->writes,
                  (unsigned long long)g->batches);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failed_body_is_undone_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_write_joins_the_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_nested_write_is_undone_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers_all_land, setup_full, teardown),
    };

    return cmocka_run_group_tests_name("store_group", tests, NULL, NULL);
}
