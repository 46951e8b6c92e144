/* verify.c: the two steps of request verification. auth_precheck runs on
 * the headers alone, so that an unauthenticated client never makes the
 * server read a body: Authorization present and well formed, key known and
 * current, session token, date and skew, credential scope, what must be
 * signed. It leaves the canonical request minus the payload hash and the
 * signing key in a struct auth_pending; auth_verify hashes the body,
 * finishes the signature, compares it in constant time and applies the
 * key's scope. Messages follow API Gateway's where it has one. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_int.h"
#include "core/log.h"

#define T_MISSING      "MissingAuthenticationTokenException"
#define T_INVALID      "InvalidSignatureException"
#define T_UNRECOGNIZED "UnrecognizedClientException"
#define T_DENIED       "AccessDeniedException"

#define MSG_MISSING      "Missing Authentication Token"
#define MSG_UNRECOGNIZED "The security token included in the request is invalid."
#define MSG_EXPIRED      "The security token included in the request is expired."
#define MSG_MISMATCH                                                                               \
    "The request signature we calculated does not match the signature you provided. Check "        \
    "your AWS Secret Access Key and signing method."

#define SCOPE_MAX (8 + 1 + AUTH__SCOPE_PART_MAX + 1 + AUTH__SCOPE_PART_MAX + 13 + 1)

struct auth_pending {
    struct auth__buf creq; /* the canonical request through the signed-headers line */
    char amz_date[AUTH__AMZ_DATE_LEN + 1];
    char scope[SCOPE_MAX];
    unsigned char key[32]; /* kSigning: wiped on free */
    unsigned char signature[32];
    bool has_payload_hash;
    unsigned char payload_hash[32];
    bool denied; /* a scoped key outside its scope: refused once the signature holds */
    char denied_message[AUTH_MESSAGE_MAX];
    struct auth_principal principal;
};

__attribute__((format(printf, 3, 4))) static int refuse(struct auth_error *err, const char *type,
                                                        const char *fmt, ...)
{
    va_list ap;

    err->status = 403;
    err->error_type = type;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return CCF_EINVAL;
}

/* How many times the header came, and its first value. */
static int header_get(const struct auth_request *r, const char *name, const char **value)
{
    int n = 0;

    *value = NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        if (n++ == 0)
            *value = r->headers[i].value ? r->headers[i].value : "";
    }
    return n;
}

/* Client text put in a message: printable ASCII only, so that the JSON
 * error body is always valid UTF-8. */
static const char *shown(const char *s)
{
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return "(not printable)";
    return s;
}

/* Compares hashes rather than strings: constant time whatever the lengths. */
static bool token_equal(const char *given, const char *expected)
{
    unsigned char a[32], b[32];

    auth__sha256(given, strlen(given), a);
    auth__sha256(expected, strlen(expected), b);
    return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

static int check_key(const struct auth__cred *c, const struct auth_request *req,
                     const struct auth__authz *az, struct auth_error *err)
{
    const char *tok;
    int n = header_get(req, "x-amz-security-token", &tok);

    if (c->expires_at > 0 && c->expires_at <= req->now_s)
        return refuse(err, T_UNRECOGNIZED, MSG_EXPIRED);
    if (c->token[0]) {
        if (n != 1 || !auth__signed(az->signed_headers, "x-amz-security-token") ||
            !token_equal(tok, c->token))
            return refuse(err, T_UNRECOGNIZED, MSG_UNRECOGNIZED);
    } else if (n > 0) {
        return refuse(err, T_UNRECOGNIZED, MSG_UNRECOGNIZED);
    }
    return 0;
}

/* The request's instant: X-Amz-Date, else Date; 5 minutes either way. */
static int check_date(const struct auth_request *req, const struct auth__authz *az,
                      char amz_date[AUTH__AMZ_DATE_LEN + 1], struct auth_error *err)
{
    const char *x, *d;
    int nx = header_get(req, "x-amz-date", &x), nd = header_get(req, "date", &d);
    char lim[AUTH__AMZ_DATE_LEN + 1], now[AUTH__AMZ_DATE_LEN + 1];
    int64_t t;

    if (nx > 1 || (nx == 0 && nd > 1))
        return refuse(err, T_INVALID, "The date header must be given once");
    if (nx == 1) {
        if (!auth__parse_amz_date(x, &t))
            return refuse(err, T_INVALID,
                          "X-Amz-Date must be in the ISO 8601 basic format "
                          "YYYYMMDD'T'HHMMSS'Z', e.g. 20150830T123600Z");
        memcpy(amz_date, x, AUTH__AMZ_DATE_LEN + 1);
    } else if (nd == 1) {
        if (!auth__parse_http_date(d, &t))
            return refuse(err, T_INVALID,
                          "Date must be an HTTP date in UTC, e.g. "
                          "Sun, 30 Aug 2015 12:36:00 GMT");
        auth__format_amz_date(t, amz_date);
    } else {
        return refuse(err, T_INVALID,
                      "Authorization header requires existence of either a "
                      "'X-Amz-Date' or a 'Date' header.");
    }
    if (t < req->now_s - AUTH_MAX_SKEW_S) {
        auth__format_amz_date(req->now_s, now);
        auth__format_amz_date(req->now_s - AUTH_MAX_SKEW_S, lim);
        return refuse(err, T_INVALID, "Signature expired: %s is now earlier than %s (%s - 5 min.)",
                      amz_date, lim, now);
    }
    if (t > req->now_s + AUTH_MAX_SKEW_S) {
        auth__format_amz_date(req->now_s, now);
        auth__format_amz_date(req->now_s + AUTH_MAX_SKEW_S, lim);
        return refuse(err, T_INVALID, "Signature expired: %s is now later than %s (%s + 5 min.)",
                      amz_date, lim, now);
    }
    if (memcmp(az->date, amz_date, 8) != 0)
        return refuse(err, T_INVALID,
                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                      "of date from HTTP: '%s' != '%.8s', from '%s'.",
                      az->date, amz_date, amz_date);
    return 0;
}

static int check_scope(const struct auth *a, const struct auth__authz *az, struct auth_error *err)
{
    if (strcmp(az->region, a->region) != 0)
        return refuse(err, T_INVALID,
                      "Credential should be scoped to a valid region, not '%s'; this server "
                      "is in '%s'.",
                      shown(az->region), a->region);
    if (strcmp(az->service, a->service) != 0)
        return refuse(err, T_INVALID, "Credential should be scoped to correct service: '%s'.",
                      a->service);
    return 0;
}

/* Host is signed; every signed header is present; every x-amz-* header
 * sent is signed (so that the date, the token and the payload hash are). */
static int check_signed(const struct auth_request *req, const struct auth__authz *az,
                        struct auth_error *err)
{
    const char *s = az->signed_headers, *v;

    if (!auth__signed(s, "host"))
        return refuse(err, T_INVALID, "'Host' must be a 'SignedHeader' in the AWS Authorization.");
    while (*s) {
        size_t n = strcspn(s, ";");
        char name[AUTH__SIGNED_LIST_MAX + 1];
        memcpy(name, s, n);
        name[n] = '\0';
        if (header_get(req, name, &v) == 0)
            return refuse(err, T_INVALID, "Signed header '%.64s' is not in the request", name);
        s += n + (s[n] == ';');
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name;
        if (strncasecmp(name, "x-amz-", 6) == 0 && !auth__signed(az->signed_headers, name))
            return refuse(err, T_INVALID, "Header '%.64s' must be signed (in SignedHeaders)",
                          shown(name));
    }
    return 0;
}

static int check_payload_header(const struct auth_request *req, struct auth_pending *p,
                                struct auth_error *err)
{
    const char *v;
    int n = header_get(req, "x-amz-content-sha256", &v);

    if (n == 0)
        return 0;
    if (n > 1)
        return refuse(err, T_INVALID, "x-amz-content-sha256 must be given once");
    if (strcmp(v, "UNSIGNED-PAYLOAD") == 0 || strncmp(v, "STREAMING-", 10) == 0)
        return refuse(err, T_INVALID,
                      "x-amz-content-sha256 must be the SHA-256 of the body: unsigned and "
                      "streaming payloads are not accepted");
    if (strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64 ||
        !auth__unhex32(v, p->payload_hash))
        return refuse(err, T_INVALID,
                      "x-amz-content-sha256 must be 64 lower-case hexadecimal digits");
    p->has_payload_hash = true;
    return 0;
}

static void set_principal(const struct auth *a, const struct auth__cred *c,
                          const struct auth_request *req, struct auth_pending *p)
{
    struct auth_principal *pr = &p->principal;

    /* Both were validated on load. */
    ccf_tenant_init(&pr->tenant, c->region[0] ? c->region : a->region, c->account_id);
    memcpy(pr->access_key_id, c->key_id, sizeof(pr->access_key_id));
    memcpy(pr->connector_id, c->connector_id, sizeof(pr->connector_id));
    memcpy(pr->job_id, c->job_id, sizeof(pr->job_id));
    if (auth_principal_allows(pr, req->method, req->target))
        return;
    p->denied = true;
    snprintf(p->denied_message, sizeof(p->denied_message),
             "Access key %s is scoped to connector %s: it may use only that connector's "
             "documents and checkpoint%s%s; this request is outside that scope",
             pr->access_key_id, pr->connector_id, pr->job_id[0] ? " and GET its own job " : "",
             pr->job_id);
}

/* Everything past the key lookup; c is the key's copy. */
static int precheck_key(struct auth *a, const struct auth_request *req,
                        const struct auth__authz *az, const struct auth__cred *c,
                        struct auth_pending *p, struct auth_error *err)
{
    int rc;

    if ((rc = check_key(c, req, az, err)) < 0 || (rc = check_date(req, az, p->amz_date, err)) < 0 ||
        (rc = check_scope(a, az, err)) < 0 || (rc = check_signed(req, az, err)) < 0 ||
        (rc = check_payload_header(req, p, err)) < 0)
        return rc;
    if (auth__canonical_prefix(&p->creq, req->method, req->target, req->headers, req->nheaders,
                               az->signed_headers) < 0)
        return refuse(err, T_INVALID, "The query string has more than %d parameters",
                      AUTH__QUERY_MAX);
    snprintf(p->scope, sizeof(p->scope), "%s/%s/%s/aws4_request", az->date, az->region,
             az->service);
    if (strcmp(c->kdate, az->date) == 0) {
        memcpy(p->key, c->ksigning, sizeof(p->key));
    } else {
        auth_sigv4_signing_key(c->secret, az->date, az->region, az->service, p->key);
        auth__cache_key(a, c, az->date, p->key);
    }
    memcpy(p->signature, az->signature, sizeof(p->signature));
    set_principal(a, c, req, p);
    return 0;
}

int auth_precheck(struct auth *a, const struct auth_request *req, struct auth_pending **out,
                  struct auth_error *err)
{
    struct auth__authz az;
    struct auth__cred c;
    struct auth_pending *p;
    const char *v, *why;
    int n = header_get(req, "authorization", &v), rc;

    memset(&err->who, 0, sizeof(err->who));
    if (n == 0)
        return refuse(err, T_MISSING, MSG_MISSING);
    if (n > 1)
        return refuse(err, T_INVALID, "The Authorization header must be given once");
    if (auth__parse_authorization(v, &az, &why) < 0)
        return refuse(err, T_INVALID, "%s", why);
    if (!auth__lookup(a, az.key_id, &c)) {
        CCF_LOG_DEBUG("auth.unknown_key", CCF_KV_STR("access_key_id", shown(az.key_id)));
        return refuse(err, T_UNRECOGNIZED, MSG_UNRECOGNIZED);
    }
    p = ccf_xcalloc(1, sizeof(*p));
    rc = precheck_key(a, req, &az, &c, p, err);
    if (rc < 0) { /* a known key: who it was, never its secret */
        ccf_tenant_init(&err->who.tenant, c.region[0] ? c.region : a->region, c.account_id);
        memcpy(err->who.access_key_id, c.key_id, sizeof(err->who.access_key_id));
        memcpy(err->who.job_id, c.job_id, sizeof(err->who.job_id));
    }
    OPENSSL_cleanse(&c, sizeof(c));
    if (rc < 0) {
        CCF_LOG_DEBUG("auth.refused", CCF_KV_STR("access_key_id", az.key_id),
                      CCF_KV_STR("error_type", err->error_type));
        auth_pending_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int auth_verify(struct auth_pending *p, const void *body, size_t len, struct auth_principal *out,
                struct auth_error *err)
{
    struct auth__buf sts = {0};
    unsigned char h[32], sig[32];
    char hex[65];
    size_t mark = p->creq.len;
    bool match;

    err->who = p->principal; /* a known key, whatever the outcome */
    auth__sha256(body ? body : "", len, h);
    if (p->has_payload_hash && CRYPTO_memcmp(h, p->payload_hash, sizeof(h)) != 0)
        return refuse(err, T_INVALID,
                      "The provided 'x-amz-content-sha256' header does not "
                      "match what was computed.");
    auth__hex(h, sizeof(h), hex);
    auth__buf_adds(&p->creq, hex);
    auth__signature(p->key, p->amz_date, p->scope, p->creq.p, p->creq.len, sig, &sts);
    if (ccf_log_enabled(CCF_LOG_DEBUG)) {
        /* The hash, never the text: a canonical request carries the token. */
        auth__sha256(p->creq.p, p->creq.len, h);
        auth__hex(h, sizeof(h), hex);
    }
    p->creq.len = mark;
    p->creq.p[mark] = '\0';
    match = CRYPTO_memcmp(sig, p->signature, sizeof(sig)) == 0;
    OPENSSL_cleanse(sig, sizeof(sig));
    auth__buf_clear(&sts);
    if (!match) {
        CCF_LOG_DEBUG("auth.signature_mismatch",
                      CCF_KV_STR("access_key_id", p->principal.access_key_id),
                      CCF_KV_STR("canonical_request_sha256", hex));
        return refuse(err, T_INVALID, MSG_MISMATCH);
    }
    if (p->denied)
        return refuse(err, T_DENIED, "%s", p->denied_message);
    *out = p->principal;
    return 0;
}

void auth_pending_free(struct auth_pending *p)
{
    if (!p)
        return;
    auth__buf_clear(&p->creq);
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
}

const char *auth_pending_access_key_id(const struct auth_pending *p)
{
    return p->principal.access_key_id;
}

const struct auth_principal *auth_pending_principal(const struct auth_pending *p)
{
    return &p->principal;
}

/* ---- scope ---- */

#define SEGS_MAX 7
#define SEG_MAX  32 /* longer than any segment compared to */

/* The percent-decoded segments of target's path, or -1 past SEGS_MAX. A
 * segment too long or holding a NUL becomes "\x01", which equals none. */
static int split_path(const char *target, char seg[SEGS_MAX][SEG_MAX])
{
    size_t plen = strcspn(target, "?#");
    int n = 0;

    if (plen == 0 || target[0] != '/')
        return -1;
    for (size_t i = 1; i <= plen; n++) {
        size_t j = i, m = 0;
        if (n == SEGS_MAX)
            return -1;
        while (j < plen && target[j] != '/')
            j++;
        if (j - i < SEG_MAX)
            m = auth__pct_decode(target + i, j - i, seg[n]);
        if (j - i >= SEG_MAX || memchr(seg[n], '\0', m)) {
            seg[n][0] = '\x01';
            m = 1;
        }
        seg[n][m] = '\0';
        i = j + 1;
    }
    return n;
}

bool auth_principal_allows(const struct auth_principal *p, const char *method, const char *target)
{
    char seg[SEGS_MAX][SEG_MAX];
    int n;

    if (!p->connector_id[0])
        return true;
    n = split_path(target, seg);
    if (n < 5 || strcmp(seg[0], "api") != 0 || strcmp(seg[1], "v1") != 0 ||
        strcmp(seg[2], "custom-connectors") != 0 || strcmp(seg[3], p->connector_id) != 0)
        return false;
    if (n == 5)
        return strcmp(seg[4], "documents") == 0 || strcmp(seg[4], "checkpoint") == 0;
    return n == 6 && p->job_id[0] && strcmp(seg[4], "jobs") == 0 &&
           strcmp(seg[5], p->job_id) == 0 && strcmp(method, "GET") == 0;
}
