/* dates.c: the date formats auth reads and writes: X-Amz-Date's ISO 8601
 * basic form, the HTTP Date header, and expires_at (RFC 3339 or epoch
 * seconds). Plain arithmetic on the proleptic Gregorian calendar: no time
 * zone, no locale, no libc lock on the request path. */
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"

static bool digits(const char *s, size_t n, int *out)
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

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Seconds for a UTC calendar time, or false if a field is out of range. */
static bool utc_seconds(int y, int mon, int d, int h, int mi, int s, int64_t *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (y < 1970 || y > 9999 || mon < 1 || mon > 12 || d < 1 || h > 23 || mi > 59 || s > 59 ||
        d > mdays[mon - 1] + (mon == 2 && leap(y)))
        return false;
    *out = days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + s;
    return true;
}

bool auth__parse_amz_date(const char *s, int64_t *out)
{
    int y, mon, d, h, mi, sec;

    if (strlen(s) != AUTH__AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return false;
    return digits(s, 4, &y) && digits(s + 4, 2, &mon) && digits(s + 6, 2, &d) &&
           digits(s + 9, 2, &h) && digits(s + 11, 2, &mi) && digits(s + 13, 2, &sec) &&
           utc_seconds(y, mon, d, h, mi, sec, out);
}

bool auth__parse_http_date(const char *s, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int y, mon = 0, d, h, mi, sec;
    const char *zone;

    if (strlen(s) > 40)
        return false;
    if (s[0] && s[1] && s[2] && s[3] == ',') /* the weekday is optional and not checked */
        s += 4;
    while (*s == ' ')
        s++;
    /* "30 Aug 2015 12:36:00 GMT" */
    if (strlen(s) < 24 || s[2] != ' ' || s[6] != ' ' || s[11] != ' ' || s[14] != ':' ||
        s[17] != ':' || s[20] != ' ')
        return false;
    for (int i = 0; i < 12; i++)
        if (strncmp(s + 3, months + 3 * i, 3) == 0)
            mon = i + 1;
    zone = s + 21;
    if (strcmp(zone, "GMT") != 0 && strcmp(zone, "UTC") != 0 && strcmp(zone, "+0000") != 0 &&
        strcmp(zone, "-0000") != 0)
        return false;
    return mon > 0 && digits(s, 2, &d) && digits(s + 7, 4, &y) && digits(s + 12, 2, &h) &&
           digits(s + 15, 2, &mi) && digits(s + 18, 2, &sec) &&
           utc_seconds(y, mon, d, h, mi, sec, out);
}

void auth__format_amz_date(int64_t t, char out[AUTH__AMZ_DATE_LEN + 1])
{
    int64_t z = (t >= 0 ? t : 0) / 86400 + 719468, secs = (t >= 0 ? t : 0) % 86400;
    int64_t era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);

    if (y > 9999) /* the format has four digits for the year */
        y = 9999;
    snprintf(out, AUTH__AMZ_DATE_LEN + 1, "%04d%02d%02dT%02d%02d%02dZ", (int)y, (int)m, (int)d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* "2026-12-31T23:59:59[.123456](Z|+01:00)" */
static bool parse_rfc3339(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    const char *z;
    int64_t t;

    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) ||
        !utc_seconds(y, mo, d, h, mi, se, &t))
        return false;
    z = s + 19;
    if (*z == '.') {
        z++;
        if (*z < '0' || *z > '9')
            return false;
        while (*z >= '0' && *z <= '9')
            z++;
    }
    if (*z == '+' || *z == '-') {
        sign = *z == '+' ? 1 : -1;
        if (strlen(z) != 6 || z[3] != ':' || !digits(z + 1, 2, &oh) || !digits(z + 4, 2, &om) ||
            oh > 23 || om > 59)
            return false;
    } else if (strcmp(z, "Z") != 0 && strcmp(z, "z") != 0) {
        return false;
    }
    *out = t - sign * (oh * 3600 + om * 60);
    return true;
}

bool auth__parse_expiry(const char *s, int64_t *out)
{
    int64_t v = 0;
    size_t n = strlen(s);

    if (n == 0)
        return false;
    if (strspn(s, "0123456789") == n) {
        if (n > 12) /* past year 33658: a typo, not a date */
            return false;
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (s[i] - '0');
        *out = v;
        return true;
    }
    return parse_rfc3339(s, out);
}

bool auth_parse_expiry(const char *s, int64_t *out)
{
    return auth__parse_expiry(s, out);
}
