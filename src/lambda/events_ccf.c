/* events_ccf.c: ccf's own event shape (events.h), the input the function
 * gives the EventBridge Scheduler schedules it creates. Only EventBridge
 * Scheduler, with the role the template lets it assume, may invoke the
 * function with one, but the decoder trusts none of its fields: a wrong
 * one is refused, never acted on. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lambda/events_int.h"

/* "YYYY-MM-DDTHH:MM:SSZ" (EventBridge Scheduler's <aws.scheduler.scheduled-time>,
 * optionally with a fraction of a second, which is dropped) to seconds. */
static bool parse_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    unsigned y, mo, d, h, mi, sec;
    char tail[16] = "";
    int used = 0;
    time_t t;

    static const char shape[] = "dddd-dd-ddTdd:dd:dd";

    for (size_t i = 0; i < sizeof(shape) - 1; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return false; /* also ends at a short string's NUL */
    if (strlen(s) > 40 ||
        sscanf(s, "%4u-%2u-%2uT%2u:%2u:%2u%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
        used != 19)
        return false;
    s += used;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++)
            ;
    }
    if (sscanf(s, "%15s", tail) != 1 || strcmp(tail, "Z") != 0 || strlen(s) != 1)
        return false;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 59)
        return false;
    tm.tm_year = (int)y - 1900;
    tm.tm_mon = (int)mo - 1;
    tm.tm_mday = (int)d;
    tm.tm_hour = (int)h;
    tm.tm_min = (int)mi;
    tm.tm_sec = (int)sec;
    t = timegm(&tm);
    if (t < 0 || tm.tm_mday != (int)d) /* 31 February normalised away: refused */
        return false;
    *out = (int64_t)t;
    return true;
}

/* The tenant and connector every event but the tick names. */
static int decode_ref(const json_t *root, struct store_job_ref *ref, char *err, size_t n)
{
    const char *region = lambda__str(root, "region"), *account = lambda__str(root, "account_id");
    const char *cid = lambda__str(root, "connector_id");

    if (!region || !account || ccf_tenant_init(&ref->tenant, region, account) < 0)
        return lambda__fail(err, n, "ccf event without a valid region and account_id");
    if (!cid || !ccf_connector_id_valid(cid))
        return lambda__fail(err, n, "ccf event without a valid connector_id");
    memcpy(ref->connector_id, cid, strlen(cid) + 1);
    return 0;
}

int lambda_ccf_event_decode(const json_t *root, struct lambda_ccf_event *out, char *err, size_t n)
{
    const char *kind = lambda__str(root, "ccf_event"), *v;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!kind)
        return lambda__fail(err, n, "not a ccf event (no ccf_event)");
    if (strcmp(kind, "tick") == 0) {
        out->kind = LAMBDA_CCF_TICK;
        return 0;
    }
    if (strcmp(kind, "schedule.fire") == 0) {
        out->kind = LAMBDA_CCF_FIRE;
        if ((rc = decode_ref(root, &out->ref, err, n)) < 0)
            return rc;
        if (!(v = lambda__str(root, "scheduled_time")) || !parse_time(v, &out->scheduled_at))
            return lambda__fail(err, n, "schedule.fire without a valid scheduled_time");
        return 0;
    }
    if (strcmp(kind, "job.next_attempt") == 0) {
        out->kind = LAMBDA_CCF_NEXT_ATTEMPT;
        if ((rc = decode_ref(root, &out->ref, err, n)) < 0)
            return rc;
        if (!(v = lambda__str(root, "job_id")) || !ccf_job_id_valid(v))
            return lambda__fail(err, n, "job.next_attempt without a valid job_id");
        memcpy(out->ref.job_id, v, strlen(v) + 1);
        return 0;
    }
    return lambda__fail(err, n, "ccf_event %.40s: unknown", kind);
}
