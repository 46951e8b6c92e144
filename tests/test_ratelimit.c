/* test_ratelimit.c: the token buckets behind `rate-limit = RPS[:BURST]`:
 * a burst then the rate, Retry-After in whole seconds, keys apart, looking
 * without taking, the fixed table under many keys, and many threads on one
 * key never getting more than the bucket allows. Time is passed in, so
 * every test is exact. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/ratelimit.h"

#define SEC 1000000LL
#define T0  (1000 * SEC) /* an arbitrary monotonic start */

static void test_parse(void **state)
{
    double rps = -1;
    unsigned burst = 7;

    (void)state;
    assert_int_equal(ccf_ratelimit_parse("10", &rps, &burst), 0);
    assert_true(rps == 10 && burst == 10);
    assert_int_equal(ccf_ratelimit_parse("2.5:20", &rps, &burst), 0);
    assert_true(rps == 2.5 && burst == 20);
    assert_int_equal(ccf_ratelimit_parse("0.5", &rps, &burst), 0);
    assert_true(rps == 0.5 && burst == 1);
    assert_int_equal(ccf_ratelimit_parse("0", &rps, &burst), 0);
    assert_true(rps == 0);
    static const char *const bad[] = {"",
                                      "-1",
                                      "+1",
                                      " 1",
                                      "1 ",
                                      "1:",
                                      "1:0",
                                      "1:-2",
                                      "1:x",
                                      "abc",
                                      "inf",
                                      "nan",
                                      "1e9",
                                      "0:5",
                                      "0.0001",
                                      "1:2:3",
                                      ":5",
                                      "1:1000001",
                                      "1:99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rps = 42;
        assert_int_equal(ccf_ratelimit_parse(bad[i], &rps, &burst), CCF_EINVAL);
        assert_true(rps == 42); /* untouched on failure */
    }
}

static void test_create_refuses_bad_values(void **state)
{
    struct ccf_ratelimit *rl = NULL;

    (void)state;
    assert_int_equal(ccf_ratelimit_create(&rl, 0, 1), CCF_EINVAL);
    assert_int_equal(ccf_ratelimit_create(&rl, 1, 0), CCF_EINVAL);
    assert_null(rl);
    ccf_ratelimit_destroy(NULL);
}

/* BURST at once, then one more every 1/RPS seconds. */
static void test_burst_then_rate(void **state)
{
    struct ccf_ratelimit *rl;
    unsigned ra = 0;

    (void)state;
    assert_int_equal(ccf_ratelimit_create(&rl, 2, 5), 0);
    for (int i = 0; i < 5; i++)
        assert_true(ccf_ratelimit_allow(rl, "AKIAONE", T0, true, &ra));
    assert_false(ccf_ratelimit_allow(rl, "AKIAONE", T0, true, &ra));
    assert_int_equal(ra, 1); /* 0.5 s to a token, rounded up to whole seconds */
    assert_false(ccf_ratelimit_allow(rl, "AKIAONE", T0 + SEC / 4, true, &ra));
    assert_true(ccf_ratelimit_allow(rl, "AKIAONE", T0 + SEC / 2, true, &ra));
    assert_false(ccf_ratelimit_allow(rl, "AKIAONE", T0 + SEC / 2, true, &ra));
    /* A long pause refills to BURST, not beyond. */
    for (int i = 0; i < 5; i++)
        assert_true(ccf_ratelimit_allow(rl, "AKIAONE", T0 + 3600 * SEC, true, &ra));
    assert_false(ccf_ratelimit_allow(rl, "AKIAONE", T0 + 3600 * SEC, true, &ra));
    ccf_ratelimit_destroy(rl);
}

static void test_retry_after_is_whole_seconds_to_a_token(void **state)
{
    struct ccf_ratelimit *rl;
    unsigned ra = 0;

    (void)state;
    assert_int_equal(ccf_ratelimit_create(&rl, 0.25, 1), 0);
    assert_true(ccf_ratelimit_allow(rl, "K", T0, true, &ra));
    assert_false(ccf_ratelimit_allow(rl, "K", T0, true, &ra));
    assert_int_equal(ra, 4);
    assert_false(ccf_ratelimit_allow(rl, "K", T0 + 2500000, true, &ra));
    assert_int_equal(ra, 2); /* 1.5 s left: 2 */
    assert_true(ccf_ratelimit_allow(rl, "K", T0 + 4 * SEC, true, &ra));
    ccf_ratelimit_destroy(rl);
}

static void test_keys_are_apart(void **state)
{
    struct ccf_ratelimit *rl;
    unsigned ra = 0;

    (void)state;
    assert_int_equal(ccf_ratelimit_create(&rl, 1, 2), 0);
    assert_true(ccf_ratelimit_allow(rl, "AKIAONE", T0, true, &ra));
    assert_true(ccf_ratelimit_allow(rl, "AKIAONE", T0, true, &ra));
    assert_false(ccf_ratelimit_allow(rl, "AKIAONE", T0, true, &ra));
    assert_true(ccf_ratelimit_allow(rl, "AKIATWO", T0, true, &ra));
    assert_true(ccf_ratelimit_allow(rl, "AKIATWO", T0, true, &ra));
    assert_false(ccf_ratelimit_allow(rl, "AKIATWO", T0, true, &ra));
    ccf_ratelimit_destroy(rl);
}

/* A look never spends: only an authenticated request may. */
static void test_look_does_not_take(void **state)
{
    struct ccf_ratelimit *rl;
    unsigned ra = 0;

    (void)state;
    assert_int_equal(ccf_ratelimit_create(&rl, 1, 1), 0);
    for (int i = 0; i < 100; i++)
        assert_true(ccf_ratelimit_allow(rl, "K", T0, false, &ra));
    assert_true(ccf_ratelimit_allow(rl, "K", T0, true, &ra));
    assert_false(ccf_ratelimit_allow(rl, "K", T0, false, &ra));
    assert_int_equal(ra, 1);
    ccf_ratelimit_destroy(rl);
}

/* More keys than the table holds: the table stays fixed; the least recently
 * used buckets give way, so a key in use stays throttled, and a key pushed
 * out starts full again (the limit errs towards letting through). */
static void test_many_keys_keep_the_busy_ones(void **state)
{
    struct ccf_ratelimit *rl;
    unsigned ra = 0;
    char key[32];

    (void)state;
    assert_int_equal(ccf_ratelimit_create(&rl, CCF_RATELIMIT_RPS_MIN, 1), 0);
    assert_true(ccf_ratelimit_allow(rl, "BUSY", T0, true, &ra));
    for (int i = 0; i < 10 * CCF_RATELIMIT_KEYS; i++) {
        snprintf(key, sizeof(key), "K%d", i);
        assert_true(ccf_ratelimit_allow(rl, key, T0 + i, true, &ra));
        assert_false(ccf_ratelimit_allow(rl, "BUSY", T0 + i, true, &ra));
    }
    assert_false(ccf_ratelimit_allow(rl, "BUSY", T0 + SEC, false, &ra));
    assert_false(ccf_ratelimit_allow(rl, "K81919", T0 + SEC, false, &ra));
    assert_true(ccf_ratelimit_allow(rl, "K0", T0 + SEC, true, &ra)); /* pushed out long ago */
    ccf_ratelimit_destroy(rl);
}

struct race {
    struct ccf_ratelimit *rl;
    int allowed;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    unsigned ra;

    for (int i = 0; i < 1000; i++)
        r->allowed += ccf_ratelimit_allow(r->rl, "SHARED", T0, true, &ra);
    return NULL;
}

static void test_threads_never_get_more_than_the_burst(void **state)
{
    struct race r[8];
    pthread_t t[8];
    struct ccf_ratelimit *rl;
    int total = 0;

    (void)state;
    assert_int_equal(ccf_ratelimit_create(&rl, 1, 500), 0);
    for (int i = 0; i < 8; i++) {
        r[i] = (struct race){.rl = rl};
        assert_int_equal(pthread_create(&t[i], NULL, racer, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        total += r[i].allowed;
    }
    assert_int_equal(total, 500);
    ccf_ratelimit_destroy(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_create_refuses_bad_values),
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_retry_after_is_whole_seconds_to_a_token),
        cmocka_unit_test(test_keys_are_apart),
        cmocka_unit_test(test_look_does_not_take),
        cmocka_unit_test(test_many_keys_keep_the_busy_ones),
        cmocka_unit_test(test_threads_never_get_more_than_the_burst),
    };

    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
