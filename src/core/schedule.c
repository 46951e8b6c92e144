/* schedule.c: EventBridge Scheduler expressions (rate, cron, at): the
 * parser and the next run time. The next cron time is searched field by
 * field on the local calendar (year, month, day, hour, minute), so an
 * expression that never matches costs at most one pass over 1970-2199. */
#include "core/schedule.h"

#include <stdio.h>
#include <string.h>

#include "core/schedule_int.h"

/* One cron field: its range, the names its values may take and which of
 * EventBridge's extra wildcards it allows. */
struct field {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is value min + i */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

enum { F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR, F_COUNT };

static const struct field fields[F_COUNT] = {
    {"minutes", 0, 59, NULL},         {"hours", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day-of-week", 1, 7, day_names}, {"year", CCF_CRON_YEAR_MIN, CCF_CRON_YEAR_MAX, NULL},
};

/* A 256-bit set: wide enough for the year field's 230 values. */
struct bits {
    uint64_t w[4];
};

static void bits_set(struct bits *b, int i)
{
    b->w[i / 64] |= (uint64_t)1 << (i % 64);
}

/* Copies at most 16 printable ASCII bytes of a token for a message: the
 * input is hostile, and a 400's message must stay valid UTF-8. */
static const char *shown(const char *s, size_t n, char buf[20])
{
    size_t i;

    for (i = 0; i < n && i < 16; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7F) ? s[i] : '?';
    if (n > 16)
        buf[i++] = '~';
    buf[i] = '\0';
    return buf;
}

/* A value: digits or (for month and day-of-week) a three-letter name. */
static int parse_value(const struct field *f, const char *s, size_t n, int *out, struct ccf_diag *d)
{
    char sb[20];
    long v = 0;

    if (n == 0) {
        ccf_diag_set(d, "%s: a value is missing", f->name);
        return CCF_EINVAL;
    }
    if (s[0] >= '0' && s[0] <= '9') {
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9' || i >= 4) {
                ccf_diag_set(d, "%s: '%s' is not a number", f->name, shown(s, n, sb));
                return CCF_EINVAL;
            }
            v = v * 10 + (s[i] - '0');
        }
        if (v < f->min || v > f->max) {
            ccf_diag_set(d, "%s: %ld is outside %d-%d", f->name, v, f->min, f->max);
            return CCF_EINVAL;
        }
        *out = (int)v;
        return 0;
    }
    for (int i = 0; f->names && f->names[i]; i++) {
        if (n == 3 && memcmp(s, f->names[i], 3) == 0) {
            *out = f->min + i;
            return 0;
        }
    }
    ccf_diag_set(d, "%s: '%s' is not a value%s", f->name, shown(s, n, sb),
                 f->names ? " or an upper-case name" : "");
    return CCF_EINVAL;
}

/* One list element: `*`, `v`, `a-b`, each optionally `/step`. */
static int parse_element(const struct field *f, const char *s, size_t n, struct bits *b,
                         struct ccf_diag *d)
{
    const char *slash = memchr(s, '/', n), *dash;
    size_t head = slash ? (size_t)(slash - s) : n;
    int lo = f->min, hi = f->max, step = 1;

    if (slash) {
        char name[32];
        snprintf(name, sizeof(name), "%s step", f->name);
        if (parse_value(&(struct field){name, 1, f->max - f->min + 1, NULL}, slash + 1,
                        n - head - 1, &step, d) < 0)
            return CCF_EINVAL;
    }
    dash = memchr(s, '-', head);
    if (head == 1 && s[0] == '*') {
        /* every value */
    } else if (dash) {
        if (parse_value(f, s, (size_t)(dash - s), &lo, d) < 0 ||
            parse_value(f, dash + 1, head - (size_t)(dash - s) - 1, &hi, d) < 0)
            return CCF_EINVAL;
        if (lo > hi) {
            ccf_diag_set(d, "%s: the range %d-%d runs backwards", f->name, lo, hi);
            return CCF_EINVAL;
        }
    } else {
        if (parse_value(f, s, head, &lo, d) < 0)
            return CCF_EINVAL;
        hi = slash ? f->max : lo; /* `a/n`: from a to the field's end */
    }
    for (int v = lo; v <= hi; v += step)
        bits_set(b, v - f->min);
    return 0;
}

/* A comma-separated list of elements into a bit set (bit 0 = f->min). */
static int parse_list(const struct field *f, const char *s, size_t n, struct bits *b,
                      struct ccf_diag *d)
{
    size_t start = 0;

    memset(b, 0, sizeof(*b));
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        if (parse_element(f, s + start, i - start, b, d) < 0)
            return CCF_EINVAL;
        start = i + 1;
    }
    return 0;
}

static bool is_q(const char *s, size_t n)
{
    return n == 1 && s[0] == '?';
}

/* Day-of-month: `?`, `L`, `LW`, `nW` (each alone), or a list. */
static int parse_dom(const char *s, size_t n, struct ccf_cron *c, struct ccf_diag *d)
{
    const struct field *f = &fields[F_DOM];
    struct bits b;
    int day;

    if (is_q(s, n)) {
        c->dom_kind = CCF_DOM_ANY;
        return 0;
    }
    if (n == 1 && s[0] == 'L') {
        c->dom_kind = CCF_DOM_LAST;
        return 0;
    }
    if (n == 2 && memcmp(s, "LW", 2) == 0) {
        c->dom_kind = CCF_DOM_LAST_WEEKDAY;
        return 0;
    }
    if (n >= 2 && s[n - 1] == 'W' && memchr(s, ',', n) == NULL) {
        if (parse_value(f, s, n - 1, &day, d) < 0)
            return CCF_EINVAL;
        c->dom_kind = CCF_DOM_NEAREST_WEEKDAY;
        c->dom_day = (uint8_t)day;
        return 0;
    }
    if (memchr(s, 'L', n) || memchr(s, 'W', n)) {
        ccf_diag_set(d, "day-of-month: L, LW and nW must stand alone");
        return CCF_EINVAL;
    }
    if (parse_list(f, s, n, &b, d) < 0)
        return CCF_EINVAL;
    c->dom_kind = CCF_DOM_SET;
    c->mdays = (uint32_t)(b.w[0] << 1);
    return 0;
}

/* Day-of-week: `?`, `L` (Saturday), `nL`, `n#k` (each alone), or a list. */
static int parse_dow(const char *s, size_t n, struct ccf_cron *c, struct ccf_diag *d)
{
    const struct field *f = &fields[F_DOW];
    const char *hash = memchr(s, '#', n);
    struct bits b;
    int day, nth;

    if (is_q(s, n)) {
        c->dow_kind = CCF_DOW_ANY;
        return 0;
    }
    if (hash && !memchr(s, ',', n)) {
        if (parse_value(f, s, (size_t)(hash - s), &day, d) < 0 ||
            parse_value(&(struct field){"day-of-week #", 1, 5, NULL}, hash + 1,
                        n - (size_t)(hash - s) - 1, &nth, d) < 0)
            return CCF_EINVAL;
        c->dow_kind = CCF_DOW_NTH;
        c->dow_day = (uint8_t)day;
        c->dow_nth = (uint8_t)nth;
        return 0;
    }
    if (n >= 2 && s[n - 1] == 'L' && !memchr(s, ',', n)) {
        if (parse_value(f, s, n - 1, &day, d) < 0)
            return CCF_EINVAL;
        c->dow_kind = CCF_DOW_LAST;
        c->dow_day = (uint8_t)day;
        return 0;
    }
    if (hash || (memchr(s, 'L', n) && !(n == 1 && s[0] == 'L'))) {
        ccf_diag_set(d, "day-of-week: nL and n#k must stand alone");
        return CCF_EINVAL;
    }
    c->dow_kind = CCF_DOW_SET;
    if (n == 1 && s[0] == 'L') { /* the week's last day */
        c->wdays = 1u << 7;
        return 0;
    }
    if (parse_list(f, s, n, &b, d) < 0)
        return CCF_EINVAL;
    c->wdays = (uint8_t)(b.w[0] << 1);
    return 0;
}

static int parse_plain(int fi, const char *s, size_t n, struct ccf_cron *c, struct ccf_diag *d)
{
    struct bits b;

    if (parse_list(&fields[fi], s, n, &b, d) < 0)
        return CCF_EINVAL;
    switch (fi) {
    case F_MIN:
        c->minutes = b.w[0];
        break;
    case F_HOUR:
        c->hours = (uint32_t)b.w[0];
        break;
    case F_MONTH:
        c->months = (uint16_t)(b.w[0] << 1);
        break;
    default:
        memcpy(c->years, b.w, sizeof(c->years));
        break;
    }
    return 0;
}

/* Six fields separated by runs of spaces. */
static int parse_cron(const char *s, size_t n, struct ccf_cron *c, struct ccf_diag *d)
{
    const char *tok[F_COUNT];
    size_t len[F_COUNT], nf = 0, i = 0;
    int rc = 0;

    while (i < n) {
        size_t start;
        if (s[i] == ' ') {
            i++;
            continue;
        }
        start = i;
        while (i < n && s[i] != ' ')
            i++;
        if (nf == F_COUNT) {
            nf++;
            break;
        }
        tok[nf] = s + start;
        len[nf++] = i - start;
    }
    if (nf != F_COUNT) {
        ccf_diag_set(d, "cron() takes 6 fields (minutes hours day-of-month month day-of-week "
                        "year), separated by spaces");
        return CCF_EINVAL;
    }
    memset(c, 0, sizeof(*c));
    for (int fi = 0; fi < F_COUNT && rc == 0; fi++) {
        if (fi != F_DOM && fi != F_DOW && is_q(tok[fi], len[fi])) {
            ccf_diag_set(d, "%s: ? is allowed only in day-of-month and day-of-week",
                         fields[fi].name);
            return CCF_EINVAL;
        }
        if (fi == F_DOM)
            rc = parse_dom(tok[fi], len[fi], c, d);
        else if (fi == F_DOW)
            rc = parse_dow(tok[fi], len[fi], c, d);
        else
            rc = parse_plain(fi, tok[fi], len[fi], c, d);
    }
    if (rc == 0 && (c->dom_kind == CCF_DOM_ANY) == (c->dow_kind == CCF_DOW_ANY)) {
        ccf_diag_set(d, "exactly one of day-of-month and day-of-week must be ?");
        rc = CCF_EINVAL;
    }
    return rc;
}

/* rate(N unit): N from 1 to 999999999; singular or plural for any N. */
static int parse_rate(const char *s, size_t n, int64_t *out, struct ccf_diag *d)
{
    static const struct {
        const char *name;
        int64_t seconds;
    } units[] = {{"minute", 60},  {"minutes", 60}, {"hour", 3600},
                 {"hours", 3600}, {"day", 86400},  {"days", 86400}};
    int64_t v = 0;
    size_t i = 0;

    while (i < n && s[i] >= '0' && s[i] <= '9' && i < 10)
        v = v * 10 + (s[i++] - '0');
    if (i == 0 || i > 9 || i == n || s[i] != ' ') {
        ccf_diag_set(d, "rate() takes a whole number from 1 to 999999999, a space and a unit "
                        "(minutes, hours or days)");
        return CCF_EINVAL;
    }
    if (v < 1) {
        ccf_diag_set(d, "rate(): the value must be at least 1");
        return CCF_EINVAL;
    }
    while (i < n && s[i] == ' ')
        i++;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        if (n - i == strlen(units[u].name) && memcmp(s + i, units[u].name, n - i) == 0) {
            *out = v * units[u].seconds;
            return 0;
        }
    }
    ccf_diag_set(d, "rate(): the unit must be minute(s), hour(s) or day(s)");
    return CCF_EINVAL;
}

static bool digits_at(const char *s, size_t n, int *out)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* at(yyyy-mm-ddThh:mm:ss), a real date of 1970-2199. */
static int parse_at(const char *s, size_t n, int64_t *out, struct ccf_diag *d)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    int y, mo, da, h, mi, se;

    for (size_t i = 0; i < n && n == sizeof(shape) - 1; i++) {
        if (shape[i] != 'd' && s[i] != shape[i])
            n = 0;
    }
    if (n != sizeof(shape) - 1 || !digits_at(s, 4, &y) || !digits_at(s + 5, 2, &mo) ||
        !digits_at(s + 8, 2, &da) || !digits_at(s + 11, 2, &h) || !digits_at(s + 14, 2, &mi) ||
        !digits_at(s + 17, 2, &se)) {
        ccf_diag_set(d, "at() takes a local date and time as yyyy-mm-ddThh:mm:ss");
        return CCF_EINVAL;
    }
    if (y < CCF_CRON_YEAR_MIN || y > CCF_CRON_YEAR_MAX || mo < 1 || mo > 12 || da < 1 ||
        da > sched__month_days(y, mo) || h > 23 || mi > 59 || se > 59) {
        ccf_diag_set(d, "at(): %.19s is not a date and time of %d-%d", s, CCF_CRON_YEAR_MIN,
                     CCF_CRON_YEAR_MAX);
        return CCF_EINVAL;
    }
    *out = sched__days_from_civil(y, mo, da) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

static bool has_form(const char *s, size_t n, const char *pre, size_t *inner)
{
    size_t p = strlen(pre);

    if (n < p + 1 || memcmp(s, pre, p) != 0 || s[n - 1] != ')')
        return false;
    *inner = n - p - 1;
    return true;
}

int ccf_sched_parse(const char *s, struct ccf_sched_expr *out, struct ccf_diag *d)
{
    struct ccf_sched_expr e;
    size_t n = strlen(s), inner;
    int rc;

    memset(&e, 0, sizeof(e));
    if (n == 0 || n > CCF_SCHED_EXPR_MAX) {
        ccf_diag_set(d, "must be 1 to %d characters long", CCF_SCHED_EXPR_MAX);
        return CCF_EINVAL;
    }
    if (has_form(s, n, "rate(", &inner)) {
        e.kind = CCF_SCHED_RATE;
        rc = parse_rate(s + 5, inner, &e.rate_seconds, d);
    } else if (has_form(s, n, "cron(", &inner)) {
        e.kind = CCF_SCHED_CRON;
        rc = parse_cron(s + 5, inner, &e.cron, d);
    } else if (has_form(s, n, "at(", &inner)) {
        e.kind = CCF_SCHED_AT;
        rc = parse_at(s + 3, inner, &e.at_local, d);
    } else {
        ccf_diag_set(d, "must be rate(N unit), cron(6 fields) or at(yyyy-mm-ddThh:mm:ss)");
        return CCF_EINVAL;
    }
    if (rc == 0)
        *out = e;
    return rc;
}
