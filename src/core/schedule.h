/* schedule.h: unattended syncs' arithmetic. Schedule expressions in the
 * EventBridge Scheduler syntax (rate, cron, at) parsed into typed values,
 * the next run time in an IANA time zone, the zone database those times
 * need, and the typed decode/encode of a connector's `schedule` object
 * (CONTRACT-OPS.md "Schedules").
 * Must not know about HTTP, SQL, processes or the clock: every "now" is an
 * argument, so every answer is reproducible.
 * Times here are whole seconds since the epoch, UTC (the store's
 * microseconds divided by 1,000,000): schedules have minute granularity.
 * Thread rules: parsed values are plain data; a ccf_tzdb is safe to share
 * between threads, and the zones it hands out are immutable. */
#ifndef CCF_SCHEDULE_H
#define CCF_SCHEDULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "core/validate.h"

#define CCF_SCHED_EXPR_MAX 256 /* EventBridge Scheduler's ScheduleExpression */
#define CCF_TZ_NAME_MAX    50  /* and its ScheduleExpressionTimezone */
#define CCF_CRON_YEAR_MIN  1970
#define CCF_CRON_YEAR_MAX  2199

enum ccf_sched_kind { CCF_SCHED_RATE = 1, CCF_SCHED_CRON, CCF_SCHED_AT };

/* How the day-of-month field picks days. */
enum ccf_dom_kind {
    CCF_DOM_ANY = 0,         /* `?`: day-of-week decides */
    CCF_DOM_SET,             /* the days in ccf_cron.mdays */
    CCF_DOM_LAST,            /* `L`: the month's last day */
    CCF_DOM_LAST_WEEKDAY,    /* `LW`: the month's last Monday-to-Friday */
    CCF_DOM_NEAREST_WEEKDAY, /* `nW`: the weekday nearest day n, within the month */
};

/* How the day-of-week field picks days. */
enum ccf_dow_kind {
    CCF_DOW_ANY = 0, /* `?`: day-of-month decides */
    CCF_DOW_SET,     /* the weekdays in ccf_cron.wdays */
    CCF_DOW_LAST,    /* `nL`: the month's last weekday n */
    CCF_DOW_NTH,     /* `n#k`: the month's k-th weekday n */
};

/* A cron expression as bit sets of the local civil times it matches.
 * Bit i of a set is value i (years: bit i is year 1970 + i). */
struct ccf_cron {
    uint64_t minutes;  /* 0-59 */
    uint32_t hours;    /* 0-23 */
    uint32_t mdays;    /* 1-31, CCF_DOM_SET only */
    uint16_t months;   /* 1-12 */
    uint8_t wdays;     /* 1-7 = SUN-SAT, CCF_DOW_SET only */
    uint8_t dom_kind;  /* enum ccf_dom_kind */
    uint8_t dom_day;   /* n of `nW` */
    uint8_t dow_kind;  /* enum ccf_dow_kind */
    uint8_t dow_day;   /* n of `nL` and `n#k` (1-7) */
    uint8_t dow_nth;   /* k of `n#k` (1-5) */
    uint64_t years[4]; /* 1970-2199 */
};

/* A parsed expression. Plain data: copy it, compare it, free nothing. */
struct ccf_sched_expr {
    enum ccf_sched_kind kind;
    int64_t rate_seconds; /* CCF_SCHED_RATE: the interval */
    int64_t at_local;     /* CCF_SCHED_AT: the local wall time, as seconds since
                             1970-01-01T00:00:00 of that wall clock */
    struct ccf_cron cron; /* CCF_SCHED_CRON */
};

/* Parses s (NUL-terminated) into *out. CCF_EINVAL with *d set to what is
 * wrong ("day-of-month: 32 is outside 1-31"; the caller prefixes the field
 * name) for anything but the full EventBridge Scheduler syntax. */
int ccf_sched_parse(const char *s, struct ccf_sched_expr *out, struct ccf_diag *d);

/* The zone database: the system's TZif files (Debian's tzdata), read once
 * per zone through GLib's GTimeZone and kept until ccf_tzdb_close. */
struct ccf_tzdb;
struct ccf_tz;

/* dir NULL means /usr/share/zoneinfo. CCF_EIO if dir cannot be resolved. */
int ccf_tzdb_open(struct ccf_tzdb **out, const char *dir);
void ccf_tzdb_close(struct ccf_tzdb *db);

/* The zone of an IANA name ("Europe/Paris", "UTC"). CCF_EINVAL with *d
 * set if the name is malformed (absolute, `..`, odd characters, over
 * CCF_TZ_NAME_MAX) or names no TZif file under the database's directory.
 * *out lives as long as db. */
int ccf_tzdb_get(struct ccf_tzdb *db, const char *name, const struct ccf_tz **out,
                 struct ccf_diag *d);
/* UTC offset in seconds east of Greenwich at the instant utc. */
int32_t ccf_tz_offset(const struct ccf_tz *z, int64_t utc);
/* The instant a local wall time names, by the contract's rule: a time in
 * a spring-forward gap moves forward by the gap's length; a time that
 * occurs twice is its first occurrence. */
int64_t ccf_tz_resolve(const struct ccf_tz *z, int64_t local);

/* The first run strictly after `after`, into *out. anchor is when a rate
 * schedule was set (its first run is anchor + interval); cron and at
 * ignore it. z may be NULL for UTC. CCF_ENOTFOUND when there is no such
 * time (an `at` that has passed, a cron with no date left before 2200 or
 * none at all, like 30 February). */
int ccf_sched_next(const struct ccf_sched_expr *e, const struct ccf_tz *z, int64_t anchor,
                   int64_t after, int64_t *out);

/* A connector's `schedule`, decoded, with its defaults filled in. */
struct ccf_schedule {
    char expression[CCF_SCHED_EXPR_MAX + 1];
    char timezone[CCF_TZ_NAME_MAX + 1];
    struct ccf_sched_expr expr;
    const struct ccf_tz *tz; /* borrowed from the ccf_tzdb it was decoded with */
    bool enabled;            /* state ENABLED */
    bool catch_up;
    json_t *environment; /* owned; NULL when not set */
};

/* Validates the JSON object v (unknown keys ignored, null as absent) and
 * fills *out. CCF_EINVAL with *d naming the field ("schedule.timezone ...").
 * An `at` in the past is not refused here: ccf_sched_next(..., now) says. */
int ccf_schedule_from_json(const json_t *v, struct ccf_tzdb *db, struct ccf_schedule *out,
                           struct ccf_diag *d);
/* The object as stored and answered: defaults filled in, environment only
 * when set, keys sorted. A new reference. */
json_t *ccf_schedule_to_json(const struct ccf_schedule *s);
void ccf_schedule_clear(struct ccf_schedule *s);

#endif
