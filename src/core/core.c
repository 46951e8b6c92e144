/* core.c: error names, statuses, ids, time, ARNs, checked sizes and the
 * aborting allocators. */
#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

#include "core/log.h"

const char *ccf_strerror(int err)
{
    switch (err) {
    case CCF_OK:
        return "ok";
    case CCF_EINVAL:
        return "invalid input";
    case CCF_ENOTFOUND:
        return "not found";
    case CCF_ECONFLICT:
        return "conflict";
    case CCF_ETOOLARGE:
        return "too large";
    case CCF_EIO:
        return "input/output error";
    case CCF_EUNAVAIL:
        return "storage unavailable";
    case CCF_ENOMEM:
        return "out of memory";
    case CCF_EPRECOND:
        return "precondition failed";
    case CCF_ETOKEN:
        return "client token reused with another request";
    case CCF_EEXPIRED:
        return "cursor expired";
    case CCF_ELIMIT:
        return "limit exceeded";
    default:
        return "unknown error";
    }
}

int ccf_tenant_init(struct ccf_tenant *out, const char *region, const char *account_id)
{
    size_t rl = strlen(region), al = strlen(account_id);

    if (rl == 0 || rl > CCF_REGION_MAX || al != CCF_ACCOUNT_ID_LEN)
        return CCF_EINVAL;
    for (size_t i = 0; i < rl; i++) {
        char c = region[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return CCF_EINVAL;
    }
    for (size_t i = 0; i < al; i++) {
        if (account_id[i] < '0' || account_id[i] > '9')
            return CCF_EINVAL;
    }
    memcpy(out->region, region, rl + 1);
    memcpy(out->account_id, account_id, al + 1);
    return 0;
}

static const char *const job_status_names[CCF_JOB_STATUS_COUNT] = {
    "STARTED", "RUNNING", "STOPPING", "SUCCEEDED", "FAILED", "STOPPED",
};

const char *ccf_connector_status_name(enum ccf_connector_status s)
{
    return s == CCF_CONNECTOR_IN_USE ? "IN_USE" : "AVAILABLE";
}

const char *ccf_job_status_name(enum ccf_job_status s)
{
    if ((unsigned)s >= CCF_JOB_STATUS_COUNT)
        return "UNKNOWN";
    return job_status_names[s];
}

int ccf_job_status_parse(const char *name, enum ccf_job_status *out)
{
    for (unsigned i = 0; i < CCF_JOB_STATUS_COUNT; i++) {
        if (strcmp(name, job_status_names[i]) == 0) {
            *out = (enum ccf_job_status)i;
            return 0;
        }
    }
    return CCF_EINVAL;
}

bool ccf_job_status_terminal(enum ccf_job_status s)
{
    return s == CCF_JOB_SUCCEEDED || s == CCF_JOB_FAILED || s == CCF_JOB_STOPPED;
}

void ccf_connector_clear(struct ccf_connector *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->description);
    free(c->properties);
    free(c->schedule);
    memset(c, 0, sizeof(*c));
}

const char *ccf_job_trigger_name(enum ccf_job_trigger t)
{
    switch (t) {
    case CCF_TRIGGER_API:
        return "API";
    case CCF_TRIGGER_SCHEDULE:
        return "SCHEDULE";
    default:
        return NULL;
    }
}

void ccf_job_clear(struct ccf_job *j)
{
    if (!j)
        return;
    free(j->failure_reason);
    free(j->status_reason);
    free(j->environment);
    free(j->executor_id);
    free(j->attempts);
    free(j->spec);
    memset(j, 0, sizeof(*j));
}

void ccf_checkpoint_clear(struct ccf_checkpoint *c)
{
    if (!c)
        return;
    free(c->data);
    memset(c, 0, sizeof(*c));
}

/* The kernel's CSPRNG through libc, not OpenSSL's: core is linked into the
 * job supervisor, which must load nothing but libc (src/supervise/main.c). */
int ccf_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    ssize_t got;

    while (n > 0) {
        if ((got = getrandom(p, n, 0)) < 0) {
            if (errno == EINTR)
                continue;
            CCF_LOG_ERROR("core.random_failed", CCF_KV_INT("bytes", n), CCF_KV_INT("errno", errno));
            return CCF_EIO;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int id_new(char *out, const char *prefix, size_t plen)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[6];
    int rc;

    if ((rc = ccf_random_bytes(raw, sizeof(raw))) < 0)
        return rc;
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[plen + 2 * i] = hex[raw[i] >> 4];
        out[plen + 2 * i + 1] = hex[raw[i] & 15];
    }
    out[plen + 12] = '\0';
    return 0;
}

int ccf_connector_id_new(char out[CCF_CONNECTOR_ID_LEN + 1])
{
    return id_new(out, "cc-", 3);
}

int ccf_job_id_new(char out[CCF_JOB_ID_LEN + 1])
{
    return id_new(out, "ccj-", 4);
}

static bool id_valid(const char *s, const char *prefix, size_t plen)
{
    if (!s || strncmp(s, prefix, plen) != 0)
        return false;
    for (size_t i = 0; i < 12; i++) {
        char c = s[plen + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return s[plen + 12] == '\0';
}

bool ccf_connector_id_valid(const char *s)
{
    return id_valid(s, "cc-", 3);
}

bool ccf_job_id_valid(const char *s)
{
    return id_valid(s, "ccj-", 4);
}

int64_t ccf_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ccf_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ccf_time_format(int64_t t, char out[CCF_TIME_LEN + 1])
{
    time_t sec = (time_t)(t / 1000000);
    long usec = (long)(t % 1000000);
    struct tm tm;

    if (usec < 0) {
        usec += 1000000;
        sec -= 1;
    }
    gmtime_r(&sec, &tm);
    /* Years past 9999 cannot be written in 27 chars: clamp rather than overflow. */
    if (tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        memcpy(out, "9999-12-31T23:59:59.999999Z", CCF_TIME_LEN + 1);
        return;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
    memcpy(out, tmp, CCF_TIME_LEN);
    out[CCF_TIME_LEN] = '\0';
}

int ccf_connector_arn(const struct ccf_tenant *t, const char *connector_id, char *out, size_t n)
{
    int w = snprintf(out, n, "arn:aws:ccf:%s:%s:custom-connector/%s", t->region, t->account_id,
                     connector_id);
    if (w < 0 || (size_t)w >= n)
        return CCF_EINVAL;
    return 0;
}

bool ccf_size_add(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b)
        return false;
    *out = a + b;
    return true;
}

bool ccf_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

static void oom(size_t n)
{
    ccf_log_flush(); /* the lines before, then this one */
    fprintf(stderr, "ccf: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ccf_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *ccf_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *ccf_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *ccf_xstrdup(const char *s)
{
    return ccf_xstrndup(s, strlen(s));
}

char *ccf_xstrndup(const char *s, size_t n)
{
    char *p = ccf_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
