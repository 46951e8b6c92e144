/* client.c: the client handle and its transport. One libcurl easy handle
 * per client, reused so that requests share one keep-alive connection.
 * Signing is libcurl's own SigV4 (CURLOPT_AWS_SIGV4): it signs the body
 * given with CURLOPT_POSTFIELDS, every header we add, and the path and
 * query exactly as given, which request.c builds in canonical form. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"
#include "core/banned.h"

#define RETRIES        3  /* for 429 and 503 */
#define RETRY_WAIT_MAX 10 /* seconds, whatever Retry-After says */

struct ccf_client {
    CURL *curl;
    char *base; /* endpoint without a trailing '/' */
    char *sigv4;
    char *key_id;
    char *secret;
    struct curl_slist *token_header; /* x-amz-security-token, or NULL */
    long timeout_ms;
    char *user_agent;
    char *ca_bundle; /* NULL: the system's CAs */
    char curl_err[CURL_ERROR_SIZE];
    struct ccf_client_error err;
};

int ccf_client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : CCF_CLIENT_ETRANSPORT;
}

void ccf_client_global_cleanup(void)
{
    curl_global_cleanup();
}

const struct ccf_client_error *ccf_client_last_error(const struct ccf_client *c)
{
    return &c->err;
}

struct ccf_client_error *ccf_client__err(struct ccf_client *c)
{
    return &c->err;
}

bool ccf_client_signed(const struct ccf_client *c)
{
    return c->key_id != NULL;
}

/* SigV4 puts these in a header and a colon-separated curl option: only
 * visible ASCII, no ':' where curl splits on it. */
static bool token_ok(const char *s, size_t max, bool colon_ok)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (s[n] <= 0x20 || s[n] >= 0x7F || (!colon_ok && s[n] == ':'))
            return false;
    return n > 0 && n <= max;
}

static int check_config(const struct ccf_client_config *cfg, struct ccf_client_error *err)
{
    const char *ep = cfg->endpoint ? cfg->endpoint : CCF_CLIENT_DEFAULT_ENDPOINT;

    if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL,
                                "endpoint %.200s must start with http:// or https://", ep);
    if (strpbrk(ep, " \t\r\n?#"))
        return ccf_client__fail(
            err, CCF_CLIENT_EINVAL,
            "endpoint %.200s must be a plain URL (no spaces, query or fragment)", ep);
    if (cfg->region && !token_ok(cfg->region, 64, false))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "region %.80s is not valid", cfg->region);
    if (cfg->service && !token_ok(cfg->service, 64, false))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "service %.80s is not valid", cfg->service);
    if (cfg->ca_bundle && access(cfg->ca_bundle, R_OK) != 0)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "CA bundle %.200s: %s", cfg->ca_bundle,
                                strerror(errno));
    if (!cfg->access_key_id)
        return 0;
    if (!token_ok(cfg->access_key_id, CCF_CLIENT_KEY_ID_MAX, false))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "the access key id is not valid");
    if (!cfg->secret_access_key || !token_ok(cfg->secret_access_key, CCF_CLIENT_SECRET_MAX, true))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL,
                                "the access key id needs a valid secret access key");
    if (cfg->session_token && *cfg->session_token &&
        !token_ok(cfg->session_token, CCF_CLIENT_TOKEN_MAX, true))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "the session token is not valid");
    return 0;
}

/* The concatenation of parts (NULL-terminated list), malloc'ed. */
static char *join(const char *const *parts)
{
    size_t len = 1, o = 0;
    char *s;

    for (size_t i = 0; parts[i]; i++)
        len += strlen(parts[i]);
    s = malloc(len);
    if (!s)
        return NULL;
    for (size_t i = 0; parts[i]; i++) {
        size_t n = strlen(parts[i]);

        memcpy(s + o, parts[i], n);
        o += n;
    }
    s[o] = '\0';
    return s;
}

static int set_credentials(struct ccf_client *c, const struct ccf_client_config *cfg)
{
    if (!cfg->access_key_id)
        return 0;
    c->key_id = strdup(cfg->access_key_id);
    c->secret = strdup(cfg->secret_access_key);
    c->sigv4 = join(
        (const char *const[]){"aws:amz:", cfg->region ? cfg->region : CCF_CLIENT_DEFAULT_REGION,
                              ":", cfg->service ? cfg->service : CCF_CLIENT_DEFAULT_SERVICE, NULL});
    if (!c->key_id || !c->secret || !c->sigv4)
        return CCF_CLIENT_ENOMEM;
    if (cfg->session_token && *cfg->session_token) {
        char *h = join((const char *const[]){"x-amz-security-token: ", cfg->session_token, NULL});

        c->token_header = h ? curl_slist_append(NULL, h) : NULL;
        free(h);
        if (!c->token_header)
            return CCF_CLIENT_ENOMEM;
    }
    return 0;
}

/* AWS_CA_BUNDLE, as the AWS SDKs and CLI read it, when cfg names none. */
static const char *ca_bundle_of(const struct ccf_client_config *cfg)
{
    const char *env = getenv("AWS_CA_BUNDLE");

    if (cfg->ca_bundle)
        return cfg->ca_bundle;
    return env && *env ? env : NULL;
}

int ccf_client_create(struct ccf_client **out, const struct ccf_client_config *cfg,
                      struct ccf_client_error *err)
{
    const char *ep = cfg->endpoint ? cfg->endpoint : CCF_CLIENT_DEFAULT_ENDPOINT;
    struct ccf_client_config eff = *cfg;
    struct ccf_client *c;
    size_t n;
    int rc;

    eff.ca_bundle = ca_bundle_of(cfg);
    cfg = &eff;
    if ((rc = check_config(cfg, err)) < 0)
        return rc;
    c = calloc(1, sizeof(*c));
    if (!c)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 120000;
    c->base = strdup(ep);
    c->user_agent =
        cfg->user_agent ? strdup(cfg->user_agent) : strdup("libccf/" CCF_CLIENT_VERSION);
    c->ca_bundle = cfg->ca_bundle ? strdup(cfg->ca_bundle) : NULL;
    if (!c->base || !c->user_agent || (cfg->ca_bundle && !c->ca_bundle) ||
        set_credentials(c, cfg) < 0) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto fail;
    }
    for (n = strlen(c->base); n > 0 && c->base[n - 1] == '/'; n--)
        c->base[n - 1] = '\0';
    c->curl = curl_easy_init();
    if (!c->curl) {
        rc = ccf_client__fail(err, CCF_CLIENT_ETRANSPORT, "libcurl cannot make a handle");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    ccf_client_destroy(c);
    return rc;
}

void ccf_client_destroy(struct ccf_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->sigv4);
    free(c->key_id);
    if (c->secret) {
        /* volatile: the wipe must not be optimised away. */
        for (volatile char *p = c->secret; *p; p++)
            *p = '\0';
        free(c->secret);
    }
    curl_slist_free_all(c->token_header);
    free(c->user_agent);
    free(c->ca_bundle);
    free(c);
}

/* ---- responses ---- */

void ccf_client__resp_reset(struct ccf_client__resp *r)
{
    char *body = r->body;
    size_t cap = r->cap;

    memset(r, 0, sizeof(*r));
    r->body = body;
    r->cap = cap;
    if (body)
        body[0] = '\0';
    r->retry_after = -1;
}

void ccf_client__resp_clear(struct ccf_client__resp *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
    r->retry_after = -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct ccf_client__resp *r = ctx;
    size_t n = size * nmemb, need, cap;
    char *p;

    if (r->too_large || n > CCF_CLIENT_RESPONSE_MAX - r->len) {
        r->too_large = true;
        return 0; /* aborts the transfer */
    }
    need = r->len + n + 1;
    if (need > r->cap) {
        cap = r->cap ? r->cap : 16384;
        while (cap < need)
            cap *= 2;
        p = realloc(r->body, cap);
        if (!p)
            return 0;
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* Copies a header's value (trimmed) into dst when the line is that header. */
static bool header_value(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name), end;

    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    line += nl + 1;
    len -= nl + 1;
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    for (end = len; end > 0 && isspace((unsigned char)line[end - 1]); end--)
        ;
    ccf_client__copy_clean(dst, cap, line, end);
    return true;
}

/* A decimal header value; false if it is not one. */
static bool header_int(const char *v, int64_t *out)
{
    char *end;
    long long x;

    if (!*v || !isdigit((unsigned char)*v))
        return false;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno || *end)
        return false;
    *out = x;
    return true;
}

void ccf_client__resp_header(struct ccf_client__resp *r, const char *line, size_t len)
{
    char v[128];
    int64_t x;

    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue): forget the last one's headers. */
        ccf_client__resp_reset(r);
        return;
    }
    header_value(line, len, "x-amzn-RequestId", r->request_id, sizeof(r->request_id));
    header_value(line, len, "x-amzn-ErrorType", r->error_type, sizeof(r->error_type));
    header_value(line, len, "Content-Type", r->content_type, sizeof(r->content_type));
    header_value(line, len, "x-ccf-job-status", r->job_status, sizeof(r->job_status));
    if (header_value(line, len, "x-ccf-log-size", v, sizeof(v)))
        r->has_log_size = header_int(v, &r->log_size);
    if (header_value(line, len, "x-ccf-log-truncated", v, sizeof(v)))
        r->log_dropped = header_int(v, &x) ? x : -1; /* -1: the parser reports it */
    if (header_value(line, len, "x-ccf-job-attempt", v, sizeof(v)) && header_int(v, &x) && x > 0 &&
        x <= INT_MAX)
        r->attempt = x;
    if (header_value(line, len, "Retry-After", v, sizeof(v)) && header_int(v, &x))
        r->retry_after = x > RETRY_WAIT_MAX ? RETRY_WAIT_MAX : (long)x;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    ccf_client__resp_header(ctx, data, size * nmemb);
    return size * nmemb;
}

/* ---- requests ---- */

static int setup(struct ccf_client *c, const struct ccf_client__req *r,
                 struct ccf_client__resp *resp, struct curl_slist **headers, char **url)
{
    CURL *h = c->curl;
    struct curl_slist *l = NULL;

    *url = join((const char *const[]){c->base, r->target, NULL});
    if (!*url)
        return CCF_CLIENT_ENOMEM;
    /* Every header added here is signed (curl 7.88 signs them all). */
    if (r->body && !(l = curl_slist_append(l, "Content-Type: application/json")))
        return CCF_CLIENT_ENOMEM;
    for (const struct curl_slist *t = c->token_header; t; t = t->next) {
        struct curl_slist *n = curl_slist_append(l, t->data);

        if (!n) {
            curl_slist_free_all(l);
            return CCF_CLIENT_ENOMEM;
        }
        l = n;
    }
    *headers = l;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, *url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    c->curl_err[0] = '\0';
    if (c->ca_bundle) {
        /* The bundle replaces the system's CAs, as with the AWS CLI's
         * --ca-bundle: the directory too, or a system CA would still do. */
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    if (strcmp(r->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        /* POSTFIELDS also with no body: SigV4 then hashes the empty payload. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        if (strcmp(r->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (c->key_id) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->key_id);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret);
    }
    return 0;
}

static int send_once(struct ccf_client *c, const struct ccf_client__req *r,
                     struct ccf_client__resp *resp)
{
    struct curl_slist *headers = NULL;
    char *url = NULL;
    CURLcode cc;
    int rc;

    ccf_client__resp_reset(resp);
    if ((rc = setup(c, r, resp, &headers, &url)) < 0) {
        ccf_client__fail(&c->err, rc, "out of memory");
        goto out;
    }
    cc = curl_easy_perform(c->curl);
    if (cc == CURLE_WRITE_ERROR && resp->too_large) {
        rc = ccf_client__fail(&c->err, CCF_CLIENT_EPROTO, "the answer to %s %s is over %u bytes",
                              r->method, r->target, CCF_CLIENT_RESPONSE_MAX);
        goto out;
    }
    if (cc != CURLE_OK) {
        /* curl's buffer says why ("certificate has expired"), its code only what. */
        rc = ccf_client__fail(&c->err, CCF_CLIENT_ETRANSPORT, "%s %s%s: %s", r->method, c->base,
                              r->target, c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
out:
    curl_slist_free_all(headers);
    free(url);
    return rc;
}

static void sleep_s(long s)
{
    struct timespec ts = {.tv_sec = s, .tv_nsec = 0};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int ccf_client__perform(struct ccf_client *c, const struct ccf_client__req *r,
                        struct ccf_client__resp *resp)
{
    int rc;

    memset(&c->err, 0, sizeof(c->err));
    for (int attempt = 0;; attempt++) {
        if ((rc = send_once(c, r, resp)) < 0)
            return rc;
        /* 429 and 503 were not acted on: any request may be sent again. */
        if ((resp->status != 429 && resp->status != 503) || attempt == RETRIES)
            break;
        sleep_s(resp->retry_after >= 0 ? resp->retry_after : 1L << attempt);
    }
    if (resp->status >= 200 && resp->status < 300)
        return 0;
    if (resp->status >= 400 && resp->status < 600)
        return ccf_client__http_error(resp, &c->err);
    rc = ccf_client__fail(&c->err, CCF_CLIENT_EPROTO, "%s %s: unexpected HTTP status %ld",
                          r->method, r->target, resp->status);
    c->err.http_status = resp->status;
    return rc;
}
