/* fuzz_schedule.c: schedule expressions, zone names, and the schedule and
 * retry_strategy decoders. Input: a zone name, '\n', an expression, '\n',
 * then up to 8 bytes of "after" (seconds, little-endian, folded into
 * 1969-2201). What an accepted expression promises is checked: parsing is
 * deterministic, every next run is strictly after the time asked, runs
 * strictly increase, asking from just before a run gives that run (no run
 * is skipped by the search), cron runs end before 2200, a rate never waits
 * longer than its interval. A refusal always says why, in printable ASCII.
 * The whole input is also decoded as a schedule and a retry_strategy
 * object: what decodes encodes to JSON that decodes to the same JSON. */
#include <stdlib.h>
#include <string.h>

#include "core/retry.h"
#include "core/schedule.h"
#include "harness.h"

static struct ccf_tzdb *db;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (ccf_tzdb_open(&db, NULL) != 0)
        abort();
    return 0;
}

static void check_message(const struct ccf_diag *d)
{
    FUZZ_CHECK(d->msg[0] != '\0', "a refusal without a message");
    for (const char *p = d->msg; *p; p++)
        FUZZ_CHECK(*p >= 0x20 && *p < 0x7F, "unprintable message: %s", d->msg);
}

static int64_t fold_after(const uint8_t *data, size_t size)
{
    uint64_t v = 0;
    const int64_t lo = -86400 * 365LL, span = 7258118400LL + 2 * 86400 * 365LL - lo;

    for (size_t i = 0; i < size && i < 8; i++)
        v |= (uint64_t)data[i] << (8 * i);
    return lo + (int64_t)(v % (uint64_t)span);
}

static void check_runs(const struct ccf_sched_expr *e, const struct ccf_tz *z, int64_t after)
{
    int64_t anchor = after - 1000, prev = after, t, again;

    for (int i = 0; i < 5; i++) {
        if (ccf_sched_next(e, z, anchor, prev, &t) != 0)
            return;
        FUZZ_CHECK(t > prev, "run %lld not after %lld", (long long)t, (long long)prev);
        FUZZ_CHECK(ccf_sched_next(e, z, anchor, t - 1, &again) == 0 && again == t,
                   "from %lld the next run is %lld, not %lld", (long long)(t - 1), (long long)again,
                   (long long)t);
        if (e->kind == CCF_SCHED_CRON)
            FUZZ_CHECK(t < 7258118400LL + 86400, "cron run %lld after 2199", (long long)t);
        if (e->kind == CCF_SCHED_RATE)
            FUZZ_CHECK(prev < anchor || t - prev <= e->rate_seconds, "rate waits too long");
        prev = t;
    }
}

static void check_expression(const char *zone, const char *expr, int64_t after)
{
    struct ccf_sched_expr e, e2;
    struct ccf_diag d = {{0}};
    const struct ccf_tz *z = NULL;

    if (ccf_tzdb_get(db, zone, &z, &d) != 0) {
        check_message(&d);
        z = NULL; /* go on in UTC */
    }
    if (ccf_sched_parse(expr, &e, &d) != 0) {
        check_message(&d);
        return;
    }
    FUZZ_CHECK(ccf_sched_parse(expr, &e2, &d) == 0 && memcmp(&e, &e2, sizeof(e)) == 0,
               "parsing %s twice differs", expr);
    check_runs(&e, z, after);
}

static void check_json(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size, 0, NULL), *out, *out2;
    struct ccf_schedule s, s2;
    struct ccf_retry_strategy r, r2;
    struct ccf_diag d = {{0}};

    if (!v)
        return;
    if (ccf_schedule_from_json(v, db, &s, &d) == 0) {
        out = ccf_schedule_to_json(&s);
        FUZZ_CHECK(ccf_schedule_from_json(out, db, &s2, &d) == 0, "schedule: %s", d.msg);
        out2 = ccf_schedule_to_json(&s2);
        FUZZ_CHECK(json_equal(out, out2), "schedule does not round-trip");
        json_decref(out2);
        json_decref(out);
        ccf_schedule_clear(&s2);
        ccf_schedule_clear(&s);
    } else {
        check_message(&d);
    }
    if (ccf_retry_from_json(v, &r, &d) == 0) {
        out = ccf_retry_to_json(&r);
        FUZZ_CHECK(ccf_retry_from_json(out, &r2, &d) == 0, "retry: %s", d.msg);
        out2 = ccf_retry_to_json(&r2);
        FUZZ_CHECK(json_equal(out, out2), "retry_strategy does not round-trip");
        for (int n = 1; n <= r.attempts; n++) {
            int64_t ms = ccf_retry_backoff_ms(&r, n, 1.0);
            FUZZ_CHECK(ms >= 0 && ms <= r.max_seconds * 1100, "backoff %lld ms", (long long)ms);
        }
        (void)ccf_retry_should_retry(&r, true, 75, "exited with code 75");
        (void)ccf_retry_should_retry(&r, false, 0, "timed out after 5 s");
        json_decref(out2);
        json_decref(out);
        ccf_retry_clear(&r2);
        ccf_retry_clear(&r);
    }
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t n = size;
    char *zone = fuzz_field(&p, &n), *expr = fuzz_field(&p, &n);

    check_expression(zone, expr, fold_after(p, n));
    free(expr);
    free(zone);
    check_json(data, size);
    return 0;
}
