/* schedule_next.c: when a parsed expression runs next. Cron and at are
 * matched on the zone's wall clock; the wall time found is then turned
 * into an instant by the contract's daylight-saving rule (ccf_tz_resolve). */
#include <string.h>

#include "core/schedule.h"
#include "core/schedule_int.h"

/* Howard Hinnant's days_from_civil: exact for every int year we accept. */
int64_t sched__days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

void sched__civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int sched__month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

int sched__weekday(int y, int m, int d)
{
    int64_t z = sched__days_from_civil(y, m, d);

    /* 1970-01-01 was a Thursday, cron's 5. */
    return (int)(((z % 7) + 7 + 4) % 7) + 1;
}

/* The Monday-to-Friday day nearest day n, without leaving the month. */
static int nearest_weekday(int y, int m, int n)
{
    int last = sched__month_days(y, m), wd = sched__weekday(y, m, n);

    if (wd == 7) /* Saturday: Friday before, or Monday after the 1st */
        return n == 1 ? 3 : n - 1;
    if (wd == 1) /* Sunday: Monday after, or Friday before the last day */
        return n == last ? n - 2 : n + 1;
    return n;
}

static bool day_matches(const struct ccf_cron *c, int y, int m, int d)
{
    int last = sched__month_days(y, m), wd;

    switch (c->dom_kind) {
    case CCF_DOM_SET:
        return (c->mdays >> d) & 1;
    case CCF_DOM_LAST:
        return d == last;
    case CCF_DOM_LAST_WEEKDAY:
        return d == nearest_weekday(y, m, last);
    case CCF_DOM_NEAREST_WEEKDAY:
        /* A month without day n (31W in April) has no such day. */
        return c->dom_day <= last && d == nearest_weekday(y, m, c->dom_day);
    default:
        break;
    }
    wd = sched__weekday(y, m, d);
    switch (c->dow_kind) {
    case CCF_DOW_SET:
        return (c->wdays >> wd) & 1;
    case CCF_DOW_LAST:
        return wd == c->dow_day && d + 7 > last;
    case CCF_DOW_NTH:
        return wd == c->dow_day && (d - 1) / 7 + 1 == c->dow_nth;
    default:
        return false;
    }
}

/* The lowest set bit at or above i, or -1. */
static int next_bit(uint64_t set, int i)
{
    if (i > 63)
        return -1;
    set &= ~(uint64_t)0 << i;
    return set ? __builtin_ctzll(set) : -1;
}

static int next_year(const struct ccf_cron *c, int y)
{
    for (int i = y - CCF_CRON_YEAR_MIN; i <= CCF_CRON_YEAR_MAX - CCF_CRON_YEAR_MIN; i++) {
        if ((c->years[i / 64] >> (i % 64)) & 1)
            return CCF_CRON_YEAR_MIN + i;
    }
    return -1;
}

struct civil {
    int y, mo, d, h, mi;
};

/* Moves t to the first minute of the next month. */
static void next_month(struct civil *t)
{
    if (++t->mo > 12) {
        t->mo = 1;
        t->y++;
    }
    t->d = 1;
    t->h = t->mi = 0;
}

/* One step of the search: true when t matches; otherwise t moves to the
 * first candidate after the field that failed. *none when no year is left. */
static bool cron_step(const struct ccf_cron *c, struct civil *t, bool *none)
{
    int v;

    if ((v = next_year(c, t->y)) < 0) {
        *none = true;
        return false;
    }
    if (v != t->y) {
        *t = (struct civil){v, 1, 1, 0, 0};
        return false;
    }
    if ((v = next_bit(c->months, t->mo)) < 0) {
        *t = (struct civil){t->y + 1, 1, 1, 0, 0};
        return false;
    }
    if (v != t->mo) {
        *t = (struct civil){t->y, v, 1, 0, 0};
        return false;
    }
    for (v = t->d; v <= sched__month_days(t->y, t->mo) && !day_matches(c, t->y, t->mo, v); v++)
        ;
    if (v > sched__month_days(t->y, t->mo)) {
        next_month(t);
        return false;
    }
    if (v != t->d) {
        t->d = v;
        t->h = t->mi = 0;
    }
    if ((v = next_bit(c->hours, t->h)) < 0) {
        t->d++; /* past the month's end: the day scan moves on */
        t->h = t->mi = 0;
        return false;
    }
    if (v != t->h) {
        t->h = v;
        t->mi = 0;
    }
    if ((v = next_bit(c->minutes, t->mi)) < 0) {
        t->h++;
        t->mi = 0;
        return false;
    }
    t->mi = v;
    return true;
}

/* The first wall time at or after `from` (local seconds) that c matches. */
static bool cron_next_local(const struct ccf_cron *c, int64_t from, int64_t *out)
{
    int64_t days, secs;
    struct civil t;
    bool none = false;

    if (from < 0)
        from = 0;
    from = (from + 59) / 60 * 60;
    days = from / 86400;
    secs = from % 86400;
    sched__civil_from_days(days, &t.y, &t.mo, &t.d);
    t.h = (int)(secs / 3600);
    t.mi = (int)(secs % 3600 / 60);
    /* Each failed step moves a field forward; 1970-2199 bounds them all. */
    while (!cron_step(c, &t, &none)) {
        if (none)
            return false;
    }
    *out = sched__days_from_civil(t.y, t.mo, t.d) * 86400 + t.h * 3600 + t.mi * 60;
    return true;
}

static int32_t offset(const struct ccf_tz *z, int64_t utc)
{
    return z ? ccf_tz_offset(z, utc) : 0;
}

static int64_t resolve(const struct ccf_tz *z, int64_t local)
{
    return z ? ccf_tz_resolve(z, local) : local;
}

/* 2200-01-01T00:00:00 as UTC and two days: no cron runs after it. */
#define CRON_END (7258118400LL + 2 * 86400)

static int next_cron(const struct ccf_cron *c, const struct ccf_tz *z, int64_t after, int64_t *out)
{
    int32_t lo;
    int64_t local, u;

    if (after > CRON_END)
        return CCF_ENOTFOUND;
    if (after < -4 * 86400) /* every answer is after 1970 anyway */
        after = -4 * 86400;
    lo = offset(z, after);

    /* A wall time L resolves to L - o for an offset o in force near it, so
     * the first one to resolve after `after` is at or after after + the
     * smallest such o: a time in a gap just behind the clock may still run
     * (shifted forward). Resolving is monotonic, so the first match that
     * resolves after `after` is the answer. */
    for (int k = -2; k <= 2; k += 4) {
        int32_t o = offset(z, after + k * 86400);
        lo = o < lo ? o : lo;
    }
    local = after + lo + 1;
    for (int i = 0; i < 4096; i++) {
        if (!cron_next_local(c, local, &local))
            return CCF_ENOTFOUND;
        u = resolve(z, local);
        if (u > after) {
            *out = u;
            return 0;
        }
        local += 60;
    }
    return CCF_ENOTFOUND; /* unreachable with real zones: offsets differ by < 2 days */
}

int ccf_sched_next(const struct ccf_sched_expr *e, const struct ccf_tz *z, int64_t anchor,
                   int64_t after, int64_t *out)
{
    int64_t k, t;

    switch (e->kind) {
    case CCF_SCHED_RATE:
        if (e->rate_seconds < 1)
            return CCF_EINVAL;
        if (after < anchor)
            k = 1;
        else if (__builtin_sub_overflow(after, anchor, &k))
            return CCF_ENOTFOUND;
        else
            k = k / e->rate_seconds + 1;
        if (__builtin_mul_overflow(k, e->rate_seconds, &t) || __builtin_add_overflow(anchor, t, &t))
            return CCF_ENOTFOUND;
        *out = t;
        return 0;
    case CCF_SCHED_AT:
        t = resolve(z, e->at_local);
        if (t <= after)
            return CCF_ENOTFOUND;
        *out = t;
        return 0;
    case CCF_SCHED_CRON:
        return next_cron(&e->cron, z, after, out);
    }
    return CCF_EINVAL;
}
