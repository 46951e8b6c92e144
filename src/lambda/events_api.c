/* events_api.c: an API Gateway REST proxy event (payload 1.0) decoded into
 * what api_handle takes. API Gateway hands over the path and the query
 * parameters already percent-decoded; the API handler parses a raw
 * request-target, so both are encoded again here (every byte but the
 * unreserved ones), which the handler decodes back to the same bytes. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lambda/events_int.h"

/* API Gateway's own limit on a request line is 10 KiB; encoding triples. */
#define TARGET_MAX (64u * 1024)

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
    size_t need;

    if (!ccf_size_add(b->len, n + 1, &need))
        abort(); /* bounded by TARGET_MAX checks */
    if (need > b->cap) {
        b->cap = need * 2;
        b->p = ccf_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Percent-encodes the n bytes of s (a NUL too: API Gateway decodes %00
 * into the event); keep_slash keeps '/' as the path's separator. */
static void buf_encode(struct buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s, *end = p + n; p < end; p++) {
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
                     (keep_slash && *p == '/');
        if (plain)
            buf_put(b, (const char *)p, 1);
        else
            buf_put(b, e, 3);
    }
}

/* The query from multiValueQueryStringParameters (every repetition kept:
 * the handler refuses a known parameter given twice), else from
 * queryStringParameters. */
static int add_query(struct buf *b, const json_t *root, char *err, size_t n)
{
    json_t *multi = lambda__obj(root, "multiValueQueryStringParameters");
    json_t *single = lambda__obj(root, "queryStringParameters");
    const char *key;
    json_t *v;
    char sep = '?';

    json_object_foreach(multi ? multi : single, key, v)
    {
        size_t count = multi ? (json_is_array(v) ? json_array_size(v) : 0) : 1;
        if (multi && !json_is_array(v))
            return lambda__fail(err, n, "query parameter %.64s is not a list", key);
        for (size_t i = 0; i < count; i++) {
            json_t *item = multi ? json_array_get(v, i) : v;
            if (!json_is_string(item))
                return lambda__fail(err, n, "query parameter %.64s is not a string", key);
            buf_put(b, &sep, 1);
            buf_encode(b, key, strlen(key), false);
            buf_put(b, "=", 1);
            buf_encode(b, json_string_value(item), json_string_length(item), false);
            sep = '&';
            if (b->len > TARGET_MAX)
                return lambda__fail(err, n, "query string over %u bytes", TARGET_MAX);
        }
    }
    return 0;
}

/* The values of header name (case-insensitive), from multiValueHeaders
 * when present, else headers: *value gets a copy of the first, *repeated
 * whether there were more. */
static int get_header(const json_t *root, const char *name, char **value, bool *repeated)
{
    json_t *multi = lambda__obj(root, "multiValueHeaders");
    json_t *single = lambda__obj(root, "headers");
    const char *key;
    json_t *v;
    size_t seen = 0;

    *value = NULL;
    *repeated = false;
    json_object_foreach(multi ? multi : single, key, v)
    {
        if (strcasecmp(key, name) != 0)
            continue;
        if (multi && !json_is_array(v))
            return CCF_EINVAL;
        for (size_t i = 0; i < (multi ? json_array_size(v) : 1); i++) {
            json_t *item = multi ? json_array_get(v, i) : v;
            if (!json_is_string(item))
                return CCF_EINVAL;
            if (seen++ == 0)
                *value = ccf_xstrdup(json_string_value(item));
        }
    }
    *repeated = seen > 1;
    return 0;
}

static int decode_body(const json_t *root, struct lambda_api_event *out, char *err, size_t n)
{
    json_t *body = json_object_get(root, "body");
    json_t *b64 = json_object_get(root, "isBase64Encoded");
    const char *s;
    size_t len;
    int outl = 0, fin = 0;
    EVP_ENCODE_CTX *ctx;

    if (!body || json_is_null(body))
        return 0;
    if (!json_is_string(body))
        return lambda__fail(err, n, "body is not a string");
    if (b64 && !json_is_boolean(b64) && !json_is_null(b64))
        return lambda__fail(err, n, "isBase64Encoded is not a boolean");
    s = json_string_value(body);
    len = json_string_length(body);
    if (!json_is_true(b64)) {
        out->body = ccf_xmalloc(len + 1);
        memcpy(out->body, s, len + 1);
        out->body_len = len;
        return 0;
    }
    if (len > INT32_MAX)
        return lambda__fail(err, n, "body too long");
    out->body = ccf_xmalloc(len / 4 * 3 + 4);
    ctx = EVP_ENCODE_CTX_new();
    if (!ctx)
        abort();
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, (unsigned char *)out->body, &outl, (const unsigned char *)s,
                         (int)len) < 0 ||
        EVP_DecodeFinal(ctx, (unsigned char *)out->body + outl, &fin) < 0) {
        EVP_ENCODE_CTX_free(ctx);
        return lambda__fail(err, n, "body is not valid base64");
    }
    EVP_ENCODE_CTX_free(ctx);
    out->body_len = (size_t)outl + (size_t)fin;
    out->body[out->body_len] = '\0';
    return 0;
}

/* s into out (size n) when it is only chars from set and fits; else "".
 * API Gateway sets these fields itself, so an odd one is dropped, not refused. */
static void copy_if(char *out, size_t n, const char *s, const char *set)
{
    out[0] = '\0';
    if (s && strlen(s) < n && strspn(s, set) == strlen(s))
        memcpy(out, s, strlen(s) + 1);
}

/* The caller's account under IAM auth; the API's own account otherwise. */
static int decode_account(const json_t *root, struct lambda_api_event *out, char *err, size_t n)
{
    json_t *rc = lambda__obj(root, "requestContext");
    json_t *identity = lambda__obj(rc, "identity");
    const char *acct = lambda__str(identity, "accountId");
    const char *rid = lambda__str(rc, "requestId");

    /* Access key ids are [A-Z0-9] (IAM's AccessKeyId: 16..128). */
    copy_if(out->access_key_id, sizeof(out->access_key_id), lambda__str(identity, "accessKey"),
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    copy_if(out->source_ip, sizeof(out->source_ip), lambda__str(identity, "sourceIp"),
            "0123456789abcdefABCDEF.:");

    if (!acct)
        acct = lambda__str(rc, "accountId");
    if (!acct || strlen(acct) != CCF_ACCOUNT_ID_LEN || strspn(acct, "0123456789") != 12)
        return lambda__fail(err, n, "requestContext has no 12-digit accountId");
    memcpy(out->account_id, acct, CCF_ACCOUNT_ID_LEN + 1);
    if (rid && strlen(rid) < sizeof(out->request_id) &&
        strspn(rid, "0123456789abcdefABCDEF-") == strlen(rid))
        memcpy(out->request_id, rid, strlen(rid) + 1);
    return 0;
}

static int decode_headers(const json_t *root, struct lambda_api_event *out, char *err, size_t n)
{
    bool rep;

    if (get_header(root, "content-type", &out->content_type, &rep) < 0 ||
        get_header(root, "if-match", &out->if_match, &out->if_match_repeated) < 0 ||
        get_header(root, "if-none-match", &out->if_none_match, &out->if_none_match_repeated) < 0)
        return lambda__fail(err, n, "a header value is not a string");
    return 0;
}

int lambda_api_event_decode(const json_t *root, struct lambda_api_event *out, char *err, size_t n)
{
    struct lambda_api_event ev = {0};
    const char *method = lambda__str(root, "httpMethod");
    const char *path = lambda__str(root, "path");
    struct buf target = {0};
    int rc;

    if (!method || strlen(method) >= sizeof(ev.method) ||
        strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method) || !*method) {
        rc = lambda__fail(err, n, "httpMethod is missing or not a method");
        goto fail;
    }
    memcpy(ev.method, method, strlen(method) + 1);
    if (!path || path[0] != '/' || json_string_length(json_object_get(root, "path")) > TARGET_MAX) {
        rc = lambda__fail(err, n, "path is missing or does not start with /");
        goto fail;
    }
    buf_encode(&target, path, json_string_length(json_object_get(root, "path")), true);
    ev.target = target.p;
    if ((rc = add_query(&target, root, err, n)) < 0)
        goto fail;
    ev.target = target.p;
    if ((rc = decode_account(root, &ev, err, n)) < 0 ||
        (rc = decode_headers(root, &ev, err, n)) < 0 || (rc = decode_body(root, &ev, err, n)) < 0)
        goto fail;
    *out = ev;
    return 0;
fail:
    ev.target = target.p;
    lambda_api_event_clear(&ev);
    return rc;
}

void lambda_api_event_clear(struct lambda_api_event *ev)
{
    free(ev->target);
    free(ev->content_type);
    free(ev->if_match);
    free(ev->if_none_match);
    free(ev->body);
    memset(ev, 0, sizeof(*ev));
}
