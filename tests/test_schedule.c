/* test_schedule.c: schedule expressions, their next run in IANA zones, the
 * zone database's name checks, the schedule object's decode, and the retry
 * strategy (rules, backoff, decode).
 * Every expected time below was worked out by hand from the calendar and
 * the zones' published rules, stated next to it; none was taken from this
 * code's output. Calendar facts used (proleptic Gregorian):
 *   2026-01-01 Thu, 2026-01-02 Fri, 2026-01-31 Sat, 2026-03-08 Sun,
 *   2026-03-29 Sun, 2026-05-31 Sun, 2026-08-01 Sat, 2026-08-15 Sat,
 *   2026-10-04 Sun, 2026-10-25 Sun, 2026-11-01 Sun, 2028-02-29 Tue.
 * Zone rules used: Europe/Paris CET +1, CEST +2 from the last Sunday of
 * March 01:00Z to the last Sunday of October 01:00Z; America/New_York EST
 * -5, EDT -4 from the second Sunday of March 02:00 local to the first
 * Sunday of November 02:00 local; Australia/Lord_Howe +10:30, +11 from the
 * first Sunday of October 02:00 local (the clock jumps to 02:30). */
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

#include "core/retry.h"
#include "core/schedule.h"

static struct ccf_tzdb *db;

static int setup(void **state)
{
    (void)state;
    return ccf_tzdb_open(&db, NULL);
}

static int teardown(void **state)
{
    (void)state;
    ccf_tzdb_close(db);
    return 0;
}

/* "2026-03-29T01:30:00Z" as epoch seconds, by libc (not by the code under test). */
static int64_t utc(const char *s)
{
    struct tm tm = {0};

    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm));
    return (int64_t)timegm(&tm);
}

static void fmt(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct next_case {
    const char *expr, *zone, *after, *want; /* want "none": no next time */
};

static void check_next(const struct next_case *c, int64_t anchor)
{
    struct ccf_sched_expr e;
    struct ccf_diag d = {{0}};
    const struct ccf_tz *z = NULL;
    int64_t got = 0;
    char buf[32] = "none";
    int rc;

    if (ccf_sched_parse(c->expr, &e, &d) != 0)
        fail_msg("%s: %s", c->expr, d.msg);
    if (c->zone && ccf_tzdb_get(db, c->zone, &z, &d) != 0)
        fail_msg("%s: %s", c->zone, d.msg);
    rc = ccf_sched_next(&e, z, anchor, utc(c->after), &got);
    if (rc == 0)
        fmt(got, buf);
    else
        assert_int_equal(rc, CCF_ENOTFOUND);
    if (strcmp(buf, c->want) != 0)
        fail_msg("%s in %s after %s: got %s, want %s", c->expr, c->zone ? c->zone : "UTC", c->after,
                 buf, c->want);
}

static void run_cases(const struct next_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_next(&cases[i], 0);
}

static void test_cron_fields(void **state)
{
    static const struct next_case cases[] = {
        {"cron(0 10 * * ? *)", NULL, "2026-01-01T00:00:00Z", "2026-01-01T10:00:00Z"},
        /* strictly after: a run at `after` itself is not next */
        {"cron(0 10 * * ? *)", NULL, "2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z"},
        {"cron(0 10 * * ? *)", NULL, "2026-01-01T09:59:59Z", "2026-01-01T10:00:00Z"},
        {"cron(0/15 * * * ? *)", NULL, "2026-01-01T10:07:00Z", "2026-01-01T10:15:00Z"},
        {"cron(0/15 * * * ? *)", NULL, "2026-01-01T10:45:00Z", "2026-01-01T11:00:00Z"},
        {"cron(*/20 * * * ? *)", NULL, "2026-01-01T10:41:00Z", "2026-01-01T11:00:00Z"},
        {"cron(5,35 8-10 * * ? *)", NULL, "2026-01-01T10:35:00Z", "2026-01-02T08:05:00Z"},
        {"cron(5,35 8-10 * * ? *)", NULL, "2026-01-01T08:06:00Z", "2026-01-01T08:35:00Z"},
        /* 1/6 in hours: 1, 7, 13, 19 */
        {"cron(0 1/6 * * ? *)", NULL, "2026-01-01T13:00:00Z", "2026-01-01T19:00:00Z"},
        {"cron(0 1/6 * * ? *)", NULL, "2026-01-01T19:00:00Z", "2026-01-02T01:00:00Z"},
        /* Friday 2 January 18:00 -> Monday 5 January */
        {"cron(0 18 ? * MON-FRI *)", NULL, "2026-01-02T18:00:00Z", "2026-01-05T18:00:00Z"},
        /* 2 = MON: the first Monday after Thursday 1 January is the 5th */
        {"cron(0 9 ? * 2 *)", NULL, "2026-01-01T00:00:00Z", "2026-01-05T09:00:00Z"},
        {"cron(0 9 ? * SUN,SAT *)", NULL, "2026-01-01T00:00:00Z", "2026-01-03T09:00:00Z"},
        {"cron(0 0 1 JAN,JUL ? *)", NULL, "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"},
        {"cron(0 0 1 FEB-APR/2 ? *)", NULL, "2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z"},
        /* 1-31/10: days 1, 11, 21, 31 */
        {"cron(0 0 1-31/10 * ? *)", NULL, "2026-01-21T00:00:00Z", "2026-01-31T00:00:00Z"},
        {"cron(0 0 1-31/10 * ? *)", NULL, "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"},
        /* April has 30 days: the next 31st is 31 May */
        {"cron(0 0 31 * ? *)", NULL, "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},
        /* the next 29 February is in 2028 */
        {"cron(0 12 29 2 ? *)", NULL, "2026-01-01T00:00:00Z", "2028-02-29T12:00:00Z"},
        {"cron(0 0 L * ? *)", NULL, "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z"},
        {"cron(0 0 L * ? *)", NULL, "2028-02-01T00:00:00Z", "2028-02-29T00:00:00Z"},
        {"cron(0 0 L 4 ? *)", NULL, "2026-01-01T00:00:00Z", "2026-04-30T00:00:00Z"},
        {"cron(0 0 1 1 ? 2199)", NULL, "2026-01-01T00:00:00Z", "2199-01-01T00:00:00Z"},
        {"cron(0 0 1 1 ? 2030-2040/5)", NULL, "2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z"},
        {"cron(0 0 1 1 ? 2030-2040/5)", NULL, "2030-01-01T00:00:00Z", "2035-01-01T00:00:00Z"},
        {"cron(59 23 31 12 ? 1970)", NULL, "1969-06-01T00:00:00Z", "1970-12-31T23:59:00Z"},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_cron_special_days(void **state)
{
    static const struct next_case cases[] = {
        /* 15 August 2026 is a Saturday: the nearest weekday is Friday the 14th */
        {"cron(0 0 15W * ? *)", NULL, "2026-08-01T00:00:00Z", "2026-08-14T00:00:00Z"},
        /* 1 August is a Saturday: not Friday 31 July, Monday the 3rd */
        {"cron(0 0 1W * ? *)", NULL, "2026-07-31T12:00:00Z", "2026-08-03T00:00:00Z"},
        /* 31 May is a Sunday: not Monday 1 June, Friday the 29th */
        {"cron(0 0 31W * ? *)", NULL, "2026-05-01T00:00:00Z", "2026-05-29T00:00:00Z"},
        /* 31W never fires in a 30-day month: after May, the next is July 31 (Fri) */
        {"cron(0 0 31W * ? *)", NULL, "2026-05-29T00:00:00Z", "2026-07-31T00:00:00Z"},
        /* January 2026 ends on Saturday the 31st: its last weekday is Friday the 30th */
        {"cron(0 0 LW * ? *)", NULL, "2026-01-01T00:00:00Z", "2026-01-30T00:00:00Z"},
        /* second Tuesday of January 2026: Tuesdays are 6, 13 */
        {"cron(0 0 ? * 3#2 *)", NULL, "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"},
        {"cron(0 0 ? * TUE#2 *)", NULL, "2026-01-13T00:00:00Z", "2026-02-10T00:00:00Z"},
        /* fifth Monday: none in January (5..26) or February (2..23); March 30 */
        {"cron(0 0 ? * 2#5 *)", NULL, "2026-01-01T00:00:00Z", "2026-03-30T00:00:00Z"},
        /* last Friday of January 2026: Fridays 2..30 */
        {"cron(0 0 ? * 6L *)", NULL, "2026-01-01T00:00:00Z", "2026-01-30T00:00:00Z"},
        /* L alone in day-of-week is its last day, Saturday */
        {"cron(0 0 ? * L *)", NULL, "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_cron_never(void **state)
{
    static const struct next_case cases[] = {
        {"cron(0 0 30 2 ? *)", NULL, "2026-01-01T00:00:00Z", "none"},
        {"cron(0 0 31 4,6,9,11 ? *)", NULL, "2026-01-01T00:00:00Z", "none"},
        {"cron(0 0 1 1 ? 2020)", NULL, "2026-01-01T00:00:00Z", "none"},
        {"cron(0 0 1 1 ? 2199)", NULL, "2199-01-01T00:00:00Z", "none"},
        {"cron(* * * * ? *)", NULL, "2199-12-31T23:59:00Z", "none"},
        /* 29 February of a year that has none */
        {"cron(0 0 29 2 ? 2100)", NULL, "2026-01-01T00:00:00Z", "none"},
        {"cron(0 0 ? 2 2#5 2026)", NULL, "2026-01-01T00:00:00Z", "none"},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_dst(void **state)
{
    static const struct next_case cases[] = {
        /* Paris, 29 March 2026: 02:00 CET -> 03:00 CEST at 01:00Z. 02:30 does
         * not exist: it runs at 03:30 CEST = 01:30Z, then 02:30 CEST again */
        {"cron(30 2 * * ? *)", "Europe/Paris", "2026-03-28T02:00:00Z", "2026-03-29T01:30:00Z"},
        {"cron(30 2 * * ? *)", "Europe/Paris", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"},
        /* asked at 03:10 CEST, the shifted 02:30 run (03:30) is still ahead */
        {"cron(30 2 * * ? *)", "Europe/Paris", "2026-03-29T01:10:00Z", "2026-03-29T01:30:00Z"},
        /* 02:30 (shifted) and 03:30 are the same instant: one run */
        {"cron(30 2,3 * * ? *)", "Europe/Paris", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"},
        /* 25 October 2026: 03:00 CEST -> 02:00 CET at 01:00Z; 02:30 happens at
         * 00:30Z (CEST) and 01:30Z (CET): only the first runs */
        {"cron(30 2 * * ? *)", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
        {"cron(30 2 * * ? *)", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
        /* every 30 minutes: after 02:30 CEST, the repeated 02:00 and 02:30 CET
         * are skipped; next is 03:00 CET = 02:00Z */
        {"cron(0/30 * * * ? *)", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"},
        {"cron(0 12 1 7 ? *)", "Europe/Paris", "2026-01-01T00:00:00Z", "2026-07-01T10:00:00Z"},
        {"cron(0 12 1 1 ? *)", "Europe/Paris", "2026-01-01T00:00:00Z", "2026-01-01T11:00:00Z"},
        /* New York, 8 March 2026: 02:30 does not exist -> 03:30 EDT = 07:30Z */
        {"cron(30 2 * * ? *)", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:30:00Z"},
        /* 1 November 2026: 01:30 EDT = 05:30Z runs, 01:30 EST = 06:30Z does not */
        {"cron(30 1 * * ? *)", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
        {"cron(30 1 * * ? *)", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
        /* the same zone through a link name */
        {"cron(30 1 * * ? *)", "US/Eastern", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
        /* Lord Howe, 4 October 2026: 02:00 -> 02:30 (+10:30 -> +11); 02:15 runs
         * 30 minutes later, 02:45 +11 = 15:45Z on the 3rd */
        {"cron(15 2 * * ? *)", "Australia/Lord_Howe", "2026-10-03T00:00:00Z",
         "2026-10-03T15:45:00Z"},
        /* past the TZif transitions (2037): the footer rule; July 2100 is EDT */
        {"cron(0 12 1 7 ? 2100)", "America/New_York", "2026-01-01T00:00:00Z",
         "2100-07-01T16:00:00Z"},
        {"cron(0 12 1 1 ? 2100)", "America/New_York", "2026-01-01T00:00:00Z",
         "2100-01-01T17:00:00Z"},
        /* Monday-Friday 03:00 in Paris, the contract's example; Jan 2 is a Friday */
        {"cron(0 3 ? * MON-FRI *)", "Europe/Paris", "2026-01-02T02:00:00Z", "2026-01-05T02:00:00Z"},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_at(void **state)
{
    static const struct next_case cases[] = {
        {"at(2026-07-01T09:00:00)", "Europe/Paris", "2026-01-01T00:00:00Z", "2026-07-01T07:00:00Z"},
        {"at(2026-07-01T09:00:00)", "Europe/Paris", "2026-07-01T07:00:00Z", "none"},
        {"at(2026-07-01T09:00:00)", NULL, "2026-01-01T00:00:00Z", "2026-07-01T09:00:00Z"},
        /* in the spring-forward gap: shifted to 03:30 CEST */
        {"at(2026-03-29T02:30:00)", "Europe/Paris", "2026-01-01T00:00:00Z", "2026-03-29T01:30:00Z"},
        /* twice on fall-back night: the first (EDT) */
        {"at(2026-11-01T01:30:00)", "America/New_York", "2026-01-01T00:00:00Z",
         "2026-11-01T05:30:00Z"},
    };
    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_rate(void **state)
{
    int64_t a = utc("2026-01-01T00:00:00Z");
    static const struct {
        const char *expr;
        int64_t after_offset, want_offset; /* seconds from the anchor */
    } cases[] = {
        {"rate(5 minutes)", 0, 300},     /* the first run: one interval after */
        {"rate(5 minutes)", -1000, 300}, /* asked before the anchor */
        {"rate(5 minutes)", 300, 600},   /* strictly after */
        {"rate(5 minutes)", 301, 600},
        {"rate(1 minute)", 59, 60},
        {"rate(2 minute)", 0, 120}, /* singular or plural for any N */
        {"rate(1 hours)", 3600 * 5, 3600 * 6},
        {"rate(3 hours)", 1, 10800},
        {"rate(1 day)", 86400 * 3, 86400 * 4},
        {"rate(7 days)", 0, 7 * 86400},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ccf_sched_expr e;
        struct ccf_diag d = {{0}};
        int64_t got;

        assert_int_equal(ccf_sched_parse(cases[i].expr, &e, &d), 0);
        assert_int_equal(ccf_sched_next(&e, NULL, a, a + cases[i].after_offset, &got), 0);
        if (got != a + cases[i].want_offset)
            fail_msg("%s after +%lld: got +%lld, want +%lld", cases[i].expr,
                     (long long)cases[i].after_offset, (long long)(got - a),
                     (long long)cases[i].want_offset);
    }
}

static void test_rejections(void **state)
{
    static const struct {
        const char *expr, *msg; /* msg: a part of the message */
    } cases[] = {
        {"", "1 to 256 characters"},
        {"every 5 minutes", "rate(N unit), cron(6 fields) or at("},
        {"cron(", "rate(N unit), cron(6 fields)"},
        {"CRON(0 0 * * ? *)", "rate(N unit), cron(6 fields)"},
        {"cron(0 0 * * * *)", "exactly one of day-of-month and day-of-week must be ?"},
        {"cron(0 0 ? * ? *)", "exactly one of day-of-month and day-of-week must be ?"},
        {"cron(0 0 1 * MON *)", "exactly one of day-of-month and day-of-week must be ?"},
        {"cron(60 0 * * ? *)", "minutes: 60 is outside 0-59"},
        {"cron(0 24 * * ? *)", "hours: 24 is outside 0-23"},
        {"cron(0 0 32 * ? *)", "day-of-month: 32 is outside 1-31"},
        {"cron(0 0 0 * ? *)", "day-of-month: 0 is outside 1-31"},
        {"cron(0 0 * 13 ? *)", "month: 13 is outside 1-12"},
        {"cron(0 0 ? * 8 *)", "day-of-week: 8 is outside 1-7"},
        {"cron(0 0 ? * 0 *)", "day-of-week: 0 is outside 1-7"},
        {"cron(0 0 1 1 ? 1969)", "year: 1969 is outside 1970-2199"},
        {"cron(0 0 1 1 ? 2200)", "year: 2200 is outside 1970-2199"},
        {"cron(0 0 * * ?)", "takes 6 fields"},
        {"cron(0 0 * * ? * *)", "takes 6 fields"},
        {"cron(0 0 * FOO ? *)", "month: 'FOO' is not a value or an upper-case name"},
        {"cron(0 0 * jan ? *)", "month: 'jan' is not a value"},
        {"cron(0 0 ? * MON-FRX *)", "day-of-week: 'FRX' is not a value"},
        {"cron(MON 0 * * ? *)", "minutes: 'MON' is not a value"},
        {"cron(0 0 L,1 * ? *)", "day-of-month: L, LW and nW must stand alone"},
        {"cron(0 0 1W,15W * ? *)", "day-of-month: L, LW and nW must stand alone"},
        {"cron(0 0 ? * 3#1,6#3 *)", "day-of-week: nL and n#k must stand alone"},
        {"cron(0 0 ? * 3#6 *)", "day-of-week #: 6 is outside 1-5"},
        {"cron(0 0 ? * 8#1 *)", "day-of-week: 8 is outside 1-7"},
        {"cron(0 0 ? * 1L,2 *)", "day-of-week: nL and n#k must stand alone"},
        {"cron(0 0 L * 1 *)", "exactly one"},
        {"cron(0/0 0 * * ? *)", "minutes step: 0 is outside 1-60"},
        {"cron(0/61 0 * * ? *)", "minutes step: 61 is outside 1-60"},
        {"cron(5-1 0 * * ? *)", "minutes: the range 5-1 runs backwards"},
        {"cron(? 0 * * ? *)", "minutes: ? is allowed only in day-of-month and day-of-week"},
        {"cron(0 0 * * ? ?)", "year: ? is allowed only"},
        {"cron(0 0 # * ? *)", "day-of-month: '#' is not a value"},
        {"cron(0 0 1- * ? *)", "day-of-month: a value is missing"},
        {"cron(0 0 ,1 * ? *)", "day-of-month: a value is missing"},
        {"cron(99999 0 * * ? *)", "minutes: '99999' is not a number"},
        {"cron(0\t0 * * ? *)", "takes 6 fields"},
        {"rate(0 minutes)", "the value must be at least 1"},
        {"rate(5 weeks)", "the unit must be minute(s), hour(s) or day(s)"},
        {"rate(5 Minutes)", "the unit must be"},
        {"rate(-1 minutes)", "a whole number from 1 to 999999999"},
        {"rate(5minutes)", "a whole number from 1 to 999999999"},
        {"rate(1.5 hours)", "a whole number from 1 to 999999999"},
        {"rate(1000000000 minutes)", "a whole number from 1 to 999999999"},
        {"rate(5 minutes )", "the unit must be"},
        {"at(2026-02-29T00:00:00)", "2026-02-29T00:00:00 is not a date and time of 1970-2199"},
        {"at(2026-01-01T24:00:00)", "is not a date and time"},
        {"at(2200-01-01T00:00:00)", "is not a date and time"},
        {"at(2026-01-01 00:00:00)", "at() takes a local date and time as yyyy-mm-ddThh:mm:ss"},
        {"at(2026-01-01T00:00:00Z)", "yyyy-mm-ddThh:mm:ss"},
        {"at(2026-1-01T00:00:00)", "yyyy-mm-ddThh:mm:ss"},
    };
    char long_expr[300];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ccf_sched_expr e;
        struct ccf_diag d = {{0}};

        if (ccf_sched_parse(cases[i].expr, &e, &d) != CCF_EINVAL)
            fail_msg("accepted: %s", cases[i].expr);
        if (!strstr(d.msg, cases[i].msg))
            fail_msg("%s: message '%s' lacks '%s'", cases[i].expr, d.msg, cases[i].msg);
    }
    memset(long_expr, ' ', sizeof(long_expr));
    memcpy(long_expr, "cron(0 0 * * ? *", 16);
    memcpy(long_expr + 260, ")", 2);
    {
        struct ccf_sched_expr e;
        struct ccf_diag d = {{0}};
        assert_int_equal(ccf_sched_parse(long_expr, &e, &d), CCF_EINVAL);
        assert_non_null(strstr(d.msg, "1 to 256 characters"));
    }
}

static void test_zone_names(void **state)
{
    static const char *const good[] = {
        "UTC",       "Europe/Paris",           "America/Argentina/Buenos_Aires",
        "Etc/GMT+5", "America/Port-au-Prince", "US/Eastern"};
    static const char *const bad[] = {"",
                                      "../etc/passwd",
                                      "Europe/../UTC",
                                      "/usr/share/zoneinfo/UTC",
                                      "/etc/localtime",
                                      "Mars/Olympus",
                                      "zone.tab",
                                      "tzdata.zi",
                                      "leapseconds",
                                      "right/UTC",
                                      "posix/UTC",
                                      "localtime",
                                      "Europe//Paris",
                                      "Europe/",
                                      "Europe",
                                      "europe/paris",
                                      "EST5EDT,M3.2.0,M11.1.0",
                                      "UTC ",
                                      "America/Argentina/Buenos_Aires/Extra/Padding/Long"};
    const struct ccf_tz *z, *z2;
    struct ccf_diag d = {{0}};

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (ccf_tzdb_get(db, good[i], &z, &d) != 0)
            fail_msg("%s refused: %s", good[i], d.msg);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ccf_tzdb_get(db, bad[i], &z, &d) != CCF_EINVAL)
            fail_msg("%s accepted", bad[i]);
    }
    /* cached: the same zone object again */
    assert_int_equal(ccf_tzdb_get(db, "Europe/Paris", &z, &d), 0);
    assert_int_equal(ccf_tzdb_get(db, "Europe/Paris", &z2, &d), 0);
    assert_ptr_equal(z, z2);
    /* Etc/GMT+5 is five hours west (POSIX sign) */
    assert_int_equal(ccf_tzdb_get(db, "Etc/GMT+5", &z, &d), 0);
    assert_int_equal(ccf_tz_offset(z, 0), -5 * 3600);
}

/* A database directory of our own: a TZif copy is a zone; a symlink out of
 * the directory and a file that is not TZif are not. */
static void test_zone_dir(void **state)
{
    char dir[] = "/tmp/ccf-tzdb-XXXXXX", path[256], cmd[512];
    struct ccf_tzdb *mine;
    const struct ccf_tz *z;
    struct ccf_diag d = {{0}};
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "cp /usr/share/zoneinfo/Europe/Paris %s/Good", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/Evil", dir);
    assert_int_equal(symlink("/usr/share/zoneinfo/UTC", path), 0);
    snprintf(path, sizeof(path), "%s/Junk", dir);
    assert_non_null(f = fopen(path, "w"));
    fputs("EST5EDT\n", f);
    fclose(f);
    assert_int_equal(ccf_tzdb_open(&mine, dir), 0);
    assert_int_equal(ccf_tzdb_get(mine, "Good", &z, &d), 0);
    assert_int_equal(ccf_tz_offset(z, utc("2026-07-01T00:00:00Z")), 7200);
    assert_int_equal(ccf_tzdb_get(mine, "Evil", &z, &d), CCF_EINVAL);
    assert_int_equal(ccf_tzdb_get(mine, "Junk", &z, &d), CCF_EINVAL);
    assert_int_equal(ccf_tzdb_get(mine, "Europe/Paris", &z, &d), CCF_EINVAL);
    ccf_tzdb_close(mine);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ccf_tzdb_open(&mine, "/nonexistent/zoneinfo"), CCF_EIO);
}

/* Threads that load zones for the first time and compute in them at once
 * get what one thread gets: zones are shared, no TZ is process-global. */
static const char *const thread_zones[] = {"Asia/Tokyo",       "America/Chicago",  "Europe/Berlin",
                                           "Australia/Sydney", "Pacific/Auckland", "Africa/Cairo"};

static void *zone_worker(void *arg)
{
    struct ccf_sched_expr e;
    struct ccf_diag d = {{0}};
    int64_t *out = arg, t = 1767225600; /* 2026-01-01T00:00:00Z */

    if (ccf_sched_parse("cron(30 2 ? * SUN *)", &e, &d) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof(thread_zones) / sizeof(thread_zones[0]); i++) {
        const struct ccf_tz *z;
        out[i] = -1;
        if (ccf_tzdb_get(db, thread_zones[i], &z, &d) == 0)
            for (int k = 0; k < 200 && ccf_sched_next(&e, z, 0, t, &out[i]) == 0; k++)
                t = out[i];
    }
    return NULL;
}

static void test_threads(void **state)
{
    enum { NT = 4, NZ = sizeof(thread_zones) / sizeof(thread_zones[0]) };
    pthread_t th[NT];
    int64_t got[NT][NZ], want[NZ];

    (void)state;
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_create(&th[i], NULL, zone_worker, got[i]), 0);
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    zone_worker(want);
    for (int i = 0; i < NT; i++) {
        for (int k = 0; k < NZ; k++) {
            assert_true(want[k] > 1767225600);
            assert_int_equal(got[i][k], want[k]);
        }
    }
}

static json_t *parse(const char *s)
{
    json_t *v = json_loads(s, 0, NULL);

    assert_non_null(v);
    return v;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

static void test_schedule_json(void **state)
{
    struct ccf_schedule s;
    struct ccf_diag d = {{0}};
    json_t *in = parse("{\"expression\":\"rate(5 minutes)\",\"unknown\":1,\"timezone\":null}");
    json_t *out;
    char *text;

    (void)state;
    assert_int_equal(ccf_schedule_from_json(in, db, &s, &d), 0);
    assert_int_equal(s.expr.kind, CCF_SCHED_RATE);
    assert_int_equal(s.expr.rate_seconds, 300);
    text = dump(out = ccf_schedule_to_json(&s));
    assert_string_equal(text, "{\"catch_up\":true,\"expression\":\"rate(5 minutes)\","
                              "\"state\":\"ENABLED\",\"timezone\":\"UTC\"}");
    free(text);
    json_decref(out);
    ccf_schedule_clear(&s);
    json_decref(in);

    in = parse("{\"expression\":\"cron(0 3 ? * MON-FRI *)\",\"timezone\":\"Europe/Paris\","
               "\"state\":\"DISABLED\",\"catch_up\":false,"
               "\"environment\":[{\"name\":\"SYNC_MODE\",\"value\":\"FULL\",\"x\":1}]}");
    assert_int_equal(ccf_schedule_from_json(in, db, &s, &d), 0);
    assert_false(s.enabled);
    assert_false(s.catch_up);
    text = dump(out = ccf_schedule_to_json(&s));
    assert_string_equal(text, "{\"catch_up\":false,\"environment\":[{\"name\":\"SYNC_MODE\","
                              "\"value\":\"FULL\"}],\"expression\":\"cron(0 3 ? * MON-FRI *)\","
                              "\"state\":\"DISABLED\",\"timezone\":\"Europe/Paris\"}");
    free(text);
    json_decref(out);
    ccf_schedule_clear(&s);
    json_decref(in);
}

static void test_schedule_json_rejections(void **state)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"[]", "schedule must be an object"},
        {"{}", "schedule.expression is required"},
        {"{\"expression\":5}", "schedule.expression must be a string"},
        {"{\"expression\":\"rate(0 days)\"}",
         "schedule.expression is not valid: rate(): the value must be at least 1"},
        {"{\"expression\":\"cron(0 0 32 * ? *)\"}",
         "schedule.expression is not valid: day-of-month: 32 is outside 1-31"},
        {"{\"expression\":\"rate(1 day)\",\"timezone\":\"Mars/Olympus\"}",
         "schedule.timezone names no time zone of the IANA database ('Mars/Olympus')"},
        {"{\"expression\":\"rate(1 day)\",\"timezone\":\"../../etc/passwd\"}",
         "schedule.timezone is not an IANA time zone name"},
        {"{\"expression\":\"rate(1 day)\",\"timezone\":\"\"}", "schedule.timezone must be 1 to 50"},
        {"{\"expression\":\"rate(1 day)\",\"state\":\"enabled\"}",
         "schedule.state must be ENABLED or DISABLED"},
        {"{\"expression\":\"rate(1 day)\",\"catch_up\":\"yes\"}",
         "schedule.catch_up must be true or false"},
        {"{\"expression\":\"rate(1 day)\",\"environment\":{}}", "schedule.environment must be"},
        {"{\"expression\":\"rate(1 day)\",\"environment\":[{\"name\":\"1A\",\"value\":\"\"}]}",
         "schedule.environment[0].name"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ccf_schedule s;
        struct ccf_diag d = {{0}};
        json_t *in = parse(cases[i].body);

        if (ccf_schedule_from_json(in, db, &s, &d) != CCF_EINVAL)
            fail_msg("accepted: %s", cases[i].body);
        if (!strstr(d.msg, cases[i].msg))
            fail_msg("%s: message '%s' lacks '%s'", cases[i].body, d.msg, cases[i].msg);
        json_decref(in);
    }
}

static void test_backoff(void **state)
{
    struct ccf_retry_strategy r;

    (void)state;
    ccf_retry_default(&r); /* 10 s, x2, at most 3600 s */
    assert_int_equal(ccf_retry_backoff_ms(&r, 1, 0.5), 10000);
    assert_int_equal(ccf_retry_backoff_ms(&r, 2, 0.5), 20000);
    assert_int_equal(ccf_retry_backoff_ms(&r, 3, 0.5), 40000);
    /* 10 x 2^8 = 2560 s; 10 x 2^9 = 5120 s is over the 3600 s cap */
    assert_int_equal(ccf_retry_backoff_ms(&r, 9, 0.5), 2560000);
    assert_int_equal(ccf_retry_backoff_ms(&r, 10, 0.5), 3600000);
    assert_int_equal(ccf_retry_backoff_ms(&r, 1000000, 0.5), 3600000);
    /* jitter: +-10 % at the ends of u */
    assert_int_equal(ccf_retry_backoff_ms(&r, 1, 0.0), 9000);
    assert_int_equal(ccf_retry_backoff_ms(&r, 1, 1.0), 11000);
    assert_int_equal(ccf_retry_backoff_ms(&r, 10, 1.0), 3960000);
    assert_int_equal(ccf_retry_backoff_ms(&r, 1, -3.0), 9000); /* clamped */
    r.multiplier = 1.5;                                        /* 10 x 1.5^2 = 22.5 s */
    assert_int_equal(ccf_retry_backoff_ms(&r, 3, 0.5), 22500);
    r.initial_seconds = 0;
    assert_int_equal(ccf_retry_backoff_ms(&r, 5, 1.0), 0);
    r.initial_seconds = 86400;
    r.max_seconds = 86400;
    r.multiplier = 10;
    assert_int_equal(ccf_retry_backoff_ms(&r, 10, 0.5), 86400000);
}

static void test_rules(void **state)
{
    struct ccf_retry_strategy r;
    struct ccf_diag d = {{0}};
    json_t *in = parse("{\"attempts\":3,\"evaluate_on_exit\":["
                       "{\"on_exit_code\":\"75\",\"action\":\"RETRY\"},"
                       "{\"on_reason\":\"timed out*\",\"action\":\"retry\"},"
                       "{\"on_exit_code\":\"4*\",\"on_reason\":\"exited with code 4?\","
                       "\"action\":\"RETRY\"},"
                       "{\"on_exit_code\":\"*\",\"action\":\"EXIT\"}]}");

    (void)state;
    assert_int_equal(ccf_retry_from_json(in, &r, &d), 0);
    assert_true(ccf_retry_should_retry(&r, true, 75, "exited with code 75"));
    assert_false(ccf_retry_should_retry(&r, true, 1, "exited with code 1"));
    assert_false(ccf_retry_should_retry(&r, true, 175, "exited with code 175"));
    assert_true(ccf_retry_should_retry(&r, false, 0, "timed out after 600 s"));
    /* both conditions of rule 3 hold for 42; for 4 the reason glob fails */
    assert_true(ccf_retry_should_retry(&r, true, 42, "exited with code 42"));
    assert_false(ccf_retry_should_retry(&r, true, 4, "exited with code 4"));
    /* no exit code: "*" needs one; no rule matches, so it is retried */
    assert_true(ccf_retry_should_retry(&r, false, 0, "killed by signal 9"));
    ccf_retry_clear(&r);
    json_decref(in);

    /* no rules: every failure is retried */
    ccf_retry_default(&r);
    assert_true(ccf_retry_should_retry(&r, true, 1, "exited with code 1"));
    in = parse("{\"evaluate_on_exit\":[{\"on_reason\":\"cannot run*\",\"action\":\"EXIT\"}]}");
    assert_int_equal(ccf_retry_from_json(in, &r, &d), 0);
    assert_false(ccf_retry_should_retry(&r, false, 0, "cannot run: no such file"));
    assert_true(ccf_retry_should_retry(&r, false, 0, "runner lost"));
    assert_true(ccf_retry_should_retry(&r, false, 0, NULL));
    ccf_retry_clear(&r);
    json_decref(in);
}

static void test_retry_json(void **state)
{
    struct ccf_retry_strategy r;
    struct ccf_diag d = {{0}};
    json_t *in = parse("{\"attempts\":null,\"backoff\":{\"multiplier\":1.5},\"x\":1}"), *out;
    char *text;

    (void)state;
    assert_int_equal(ccf_retry_from_json(in, &r, &d), 0);
    text = dump(out = ccf_retry_to_json(&r));
    assert_string_equal(text, "{\"attempts\":1,\"backoff\":{\"initial_seconds\":10,"
                              "\"max_seconds\":3600,\"multiplier\":1.5},"
                              "\"evaluate_on_exit\":[]}");
    free(text);
    json_decref(out);
    ccf_retry_clear(&r);
    json_decref(in);

    in = parse("{\"attempts\":10,\"evaluate_on_exit\":[{\"on_exit_code\":\"1\","
               "\"on_reason\":\"e*\",\"action\":\"exit\"}],\"backoff\":{\"initial_seconds\":0,"
               "\"multiplier\":2.0,\"max_seconds\":86400}}");
    assert_int_equal(ccf_retry_from_json(in, &r, &d), 0);
    text = dump(out = ccf_retry_to_json(&r));
    assert_string_equal(text,
                        "{\"attempts\":10,\"backoff\":{\"initial_seconds\":0,"
                        "\"max_seconds\":86400,\"multiplier\":2},\"evaluate_on_exit\":"
                        "[{\"action\":\"EXIT\",\"on_exit_code\":\"1\",\"on_reason\":\"e*\"}]}");
    free(text);
    json_decref(out);
    ccf_retry_clear(&r);
    json_decref(in);
}

#define RS "container_properties.retry_strategy"

static void test_retry_rejections(void **state)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"[]", RS " must be an object"},
        {"{\"attempts\":0}", RS ".attempts must be an integer from 1 to 10"},
        {"{\"attempts\":11}", RS ".attempts must be an integer from 1 to 10"},
        {"{\"attempts\":\"3\"}", RS ".attempts must be an integer"},
        {"{\"attempts\":2.0}", RS ".attempts must be an integer"},
        {"{\"evaluate_on_exit\":{}}", RS ".evaluate_on_exit must be an array of at most 5"},
        {"{\"evaluate_on_exit\":[{\"on_exit_code\":\"1\",\"action\":\"EXIT\"},"
         "{\"on_exit_code\":\"1\",\"action\":\"EXIT\"},{\"on_exit_code\":\"1\",\"action\":\"EXIT\"}"
         ","
         "{\"on_exit_code\":\"1\",\"action\":\"EXIT\"},{\"on_exit_code\":\"1\",\"action\":\"EXIT\"}"
         ","
         "{\"on_exit_code\":\"1\",\"action\":\"EXIT\"}]}",
         RS ".evaluate_on_exit must be an array of at most 5"},
        {"{\"evaluate_on_exit\":[1]}", RS ".evaluate_on_exit[0] must be an object"},
        {"{\"evaluate_on_exit\":[{\"action\":\"EXIT\"}]}",
         RS ".evaluate_on_exit[0] must name on_exit_code, on_reason or both"},
        {"{\"evaluate_on_exit\":[{\"on_exit_code\":\"1\"}]}",
         RS ".evaluate_on_exit[0].action must be RETRY or EXIT"},
        {"{\"evaluate_on_exit\":[{\"on_exit_code\":\"1\",\"action\":\"MAYBE\"}]}",
         RS ".evaluate_on_exit[0].action must be RETRY or EXIT"},
        {"{\"evaluate_on_exit\":[{\"on_exit_code\":\"1\",\"action\":\"EXIT\"},"
         "{\"on_exit_code\":\"7a\",\"action\":\"EXIT\"}]}",
         RS ".evaluate_on_exit[1].on_exit_code must be digits, optionally ending in *"},
        {"{\"evaluate_on_exit\":[{\"on_exit_code\":\"*7\",\"action\":\"EXIT\"}]}",
         "on_exit_code must be digits"},
        {"{\"evaluate_on_exit\":[{\"on_exit_code\":\"\",\"action\":\"EXIT\"}]}",
         "on_exit_code must be 1 to 512 characters"},
        {"{\"evaluate_on_exit\":[{\"on_exit_code\":7,\"action\":\"EXIT\"}]}",
         "on_exit_code must be a string"},
        {"{\"evaluate_on_exit\":[{\"on_reason\":\"[abc]\",\"action\":\"EXIT\"}]}",
         RS ".evaluate_on_exit[0].on_reason must not contain [, ], \\ or control characters"},
        {"{\"backoff\":[]}", RS ".backoff must be an object"},
        {"{\"backoff\":{\"initial_seconds\":-1}}",
         RS ".backoff.initial_seconds must be an integer from 0 to 86400"},
        {"{\"backoff\":{\"initial_seconds\":86401}}", "initial_seconds must be an integer"},
        {"{\"backoff\":{\"max_seconds\":0}}",
         RS ".backoff.max_seconds must be an integer from 1 to 86400"},
        {"{\"backoff\":{\"multiplier\":0.5}}",
         RS ".backoff.multiplier must be a number from 1 to 10"},
        {"{\"backoff\":{\"multiplier\":10.5}}", "multiplier must be a number from 1 to 10"},
        {"{\"backoff\":{\"multiplier\":\"2\"}}", "multiplier must be a number from 1 to 10"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ccf_retry_strategy r;
        struct ccf_diag d = {{0}};
        json_t *in = parse(cases[i].body);

        if (ccf_retry_from_json(in, &r, &d) != CCF_EINVAL)
            fail_msg("accepted: %s", cases[i].body);
        if (!strstr(d.msg, cases[i].msg))
            fail_msg("%s: message '%s' lacks '%s'", cases[i].body, d.msg, cases[i].msg);
        json_decref(in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_fields),
        cmocka_unit_test(test_cron_special_days),
        cmocka_unit_test(test_cron_never),
        cmocka_unit_test(test_dst),
        cmocka_unit_test(test_at),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_zone_names),
        cmocka_unit_test(test_zone_dir),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_schedule_json),
        cmocka_unit_test(test_schedule_json_rejections),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_retry_json),
        cmocka_unit_test(test_retry_rejections),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
