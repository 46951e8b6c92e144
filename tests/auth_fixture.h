/* auth_fixture.h: the fixture of the auth tests (test_auth_*.c): a
 * credentials file with four keys in a temp dir, an auth handle over it,
 * and requests built, signed and checked against the verifier. Static
 * inline, as the other fixtures, because each tests/test_*.c is its own
 * binary. */
#ifndef CCF_TESTS_AUTH_FIXTURE_H
#define CCF_TESTS_AUTH_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/log.h"

#define SUITE_DATE   "20150830T123600Z"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define KEY          "AKIAIOSFODNN7EXAMPLE"
#define TOKEN_KEY    "ASIAIOSFODNN7EXAMPLE"
#define SCOPED_KEY   "AKIASCOPEDEXAMPLE000"
#define EXPIRED_KEY  "AKIAEXPIREDEXAMPLE00"
#define SECRET       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define TOKEN        "FwoGZXIvYXdzEBEaDCcfTOKENEXAMPLE0123456789"
#define ACCOUNT      "123456789012"
#define CID          "cc-0123456789ab"
#define OTHER_CID    "cc-ba9876543210"
#define NOW          "20261125T120000Z"
#define HOST         "127.0.0.1:8787"

#define KEYS_FILE                                                                                  \
    "# test keys\n"                                                                                \
    "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\n\n"                      \
    "[" TOKEN_KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT                       \
    "\nsession_token = " TOKEN "\n\n"                                                              \
    "[" SCOPED_KEY "]\nsecret_access_key = " SECRET "\naccount_id = 210987654321\n"                \
    "connector_id = " CID "\n\n"                                                                   \
    "[" EXPIRED_KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\n"                \
    "expires_at = 2020-01-01T00:00:00Z\n"

/* ---- fixture ---- */

struct fx {
    char dir[64];
    char keys[128];
    char jobs[128];
    struct auth *a;
};

static inline void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static inline int open_auth(struct fx *f, int64_t lifetime)
{
    struct auth_config c = {.credentials_path = f->keys,
                            .job_credentials_path = f->jobs,
                            .region = "us-east-1",
                            .job_lifetime_s = lifetime};
    return auth_create(&f->a, &c);
}

static inline int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/ccf-test-auth-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->keys, sizeof(f->keys), "%s/credentials", f->dir);
    snprintf(f->jobs, sizeof(f->jobs), "%s/job-credentials", f->dir);
    write_file(f->keys, KEYS_FILE, 0600);
    if (open_auth(f, 0) < 0)
        return -1;
    *state = f;
    return 0;
}

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline int teardown(void **state)
{
    struct fx *f = *state;

    auth_destroy(f->a);
    nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static inline int64_t epoch(const char *amz)
{
    struct tm tm = {0};

    assert_int_equal(sscanf(amz, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/* ---- requests ---- */

static inline char *strcpy_checked(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    assert_true(n < cap);
    memcpy(dst, src, n + 1);
    return dst;
}

#define RQ_HEADERS 16

struct rq {
    const char *method;
    const char *target;
    const char *body;
    struct auth_header h[RQ_HEADERS];
    size_t n;
    char *authz;
};

/* A request with no header yet. */
static inline void rq_bare(struct rq *r, const char *method, const char *target, const char *body)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->target = target;
    r->body = body ? body : "";
}

/* A request with Host and X-Amz-Date. */
static inline void rq_init(struct rq *r, const char *method, const char *target, const char *body)
{
    rq_bare(r, method, target, body);
    r->h[r->n++] = (struct auth_header){"Host", HOST};
    r->h[r->n++] = (struct auth_header){"X-Amz-Date", NOW};
}

static inline void rq_add(struct rq *r, const char *name, const char *value)
{
    assert_true(r->n < RQ_HEADERS);
    r->h[r->n++] = (struct auth_header){name, value};
}

/* Signs every header so far and adds Authorization. */
static inline void rq_sign_as(struct rq *r, const char *key, const char *secret, const char *date,
                              const char *region, const char *service)
{
    struct auth_sign_input in = {.method = r->method,
                                 .target = r->target,
                                 .headers = r->h,
                                 .nheaders = r->n,
                                 .body = r->body,
                                 .body_len = strlen(r->body),
                                 .access_key_id = key,
                                 .secret = secret,
                                 .region = region,
                                 .service = service,
                                 .amz_date = date};

    free(r->authz);
    assert_int_equal(auth_sign(&in, &r->authz, NULL), 0);
    rq_add(r, "Authorization", r->authz);
}

static inline void rq_sign(struct rq *r, const char *key)
{
    rq_sign_as(r, key, SECRET, NOW, "us-east-1", "execute-api");
}

static inline void rq_free(struct rq *r)
{
    free(r->authz);
    r->authz = NULL;
}

static inline int run(struct auth *a, const struct rq *r, int64_t now, struct auth_principal *p,
                      struct auth_error *e)
{
    struct auth_request req = {r->method, r->target, r->h, r->n, now};
    struct auth_pending *pend = NULL;
    struct auth_principal dummy;
    int rc;

    memset(e, 0, sizeof(*e));
    rc = auth_precheck(a, &req, &pend, e);
    if (rc == 0) {
        rc = auth_verify(pend, r->body, strlen(r->body), p ? p : &dummy, e);
        auth_pending_free(pend);
    }
    return rc;
}

static inline void expect_ok(struct auth *a, const struct rq *r, int64_t now,
                             struct auth_principal *p)
{
    struct auth_error e;
    int rc = run(a, r, now, p, &e);

    if (rc != 0)
        fail_msg("refused: %s: %s", e.error_type, e.message);
}

/* Refused with this errorType, and a message that starts with prefix. */
static inline void expect_refused(struct auth *a, const struct rq *r, int64_t now, const char *type,
                                  const char *prefix)
{
    struct auth_error e;

    assert_int_equal(run(a, r, now, NULL, &e), CCF_EINVAL);
    assert_int_equal(e.status, 403);
    assert_string_equal(e.error_type, type);
    assert_true(strlen(e.message) > 0 && strlen(e.message) <= 1024);
    if (prefix && strncmp(e.message, prefix, strlen(prefix)) != 0)
        fail_msg("message '%s' does not start with '%s'", e.message, prefix);
}

#endif
