/* sched_next.c: what a schedule costs the scheduler: ns per next-run
 * computation for a few expressions and zones, each asked from successive
 * runs over years (as the scheduler will), and the bytes a parsed schedule
 * takes. `make bench-schedule`; figures only, no thresholds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/retry.h"
#include "core/schedule.h"

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void bench(struct ccf_tzdb *db, const char *expr, const char *zone, int n)
{
    struct ccf_sched_expr e;
    struct ccf_diag d = {{0}};
    const struct ccf_tz *z = NULL;
    int64_t t = 1767225600, next; /* 2026-01-01T00:00:00Z */
    double start;
    int done = 0;

    if (ccf_sched_parse(expr, &e, &d) != 0 || (zone && ccf_tzdb_get(db, zone, &z, &d) != 0)) {
        fprintf(stderr, "%s: %s\n", expr, d.msg);
        exit(1);
    }
    start = now_ns();
    for (int i = 0; i < n; i++, done++) {
        if (ccf_sched_next(&e, z, 1767225600, t, &next) != 0)
            t = 1767225600; /* start over (an at, or the end of a cron's years) */
        else
            t = next;
    }
    printf("%-34s %-20s %8.0f ns/next\n", expr, zone ? zone : "(UTC)", (now_ns() - start) / done);
}

int main(void)
{
    struct ccf_tzdb *db;

    if (ccf_tzdb_open(&db, NULL) != 0)
        return 1;
    bench(db, "rate(5 minutes)", NULL, 2000000);
    bench(db, "cron(0/15 * * * ? *)", NULL, 200000);
    bench(db, "cron(0/15 * * * ? *)", "Europe/Paris", 200000);
    bench(db, "cron(0 3 ? * MON-FRI *)", "Europe/Paris", 200000);
    bench(db, "cron(30 2 * * ? *)", "America/New_York", 200000);
    bench(db, "cron(0 0 L * ? *)", "Australia/Lord_Howe", 100000);
    bench(db, "cron(0 9 ? * 2#1 *)", "Asia/Tokyo", 100000);
    bench(db, "cron(0 0 29 2 ? *)", NULL, 20000);
    bench(db, "cron(0 0 30 2 ? *)", NULL, 2000); /* never: a full pass to 2199 */
    printf("sizeof(struct ccf_sched_expr) = %zu bytes\n", sizeof(struct ccf_sched_expr));
    printf("sizeof(struct ccf_schedule) = %zu bytes (+ environment JSON when set)\n",
           sizeof(struct ccf_schedule));
    printf("sizeof(struct ccf_retry_strategy) = %zu bytes (+ rule patterns)\n",
           sizeof(struct ccf_retry_strategy));
    ccf_tzdb_close(db);
    return 0;
}
