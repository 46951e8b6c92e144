/* aws.c: one signed AWS JSON request (aws.h): the endpoint and
 * credentials from the environment, the libcurl call signed by
 * CURLOPT_AWS_SIGV4, and the answer's decoding (status, JSON, AWS's error
 * type and message), done here once for every AWS client of ccf. */
#include "aws/aws.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_ANSWER_MAX (4u * 1024 * 1024)
#define ERROR_TYPE_HEADER  "x-amzn-ErrorType:"

struct aws_conn {
    CURL *curl;
};

/* ---- where and as whom ---- */

/* The variable's value into dst; false when unset, empty or too long. */
static bool copy_env(char *dst, size_t n, const char *name)
{
    const char *v = getenv(name);
    size_t len = v ? strlen(v) : 0;

    dst[0] = '\0';
    if (len == 0 || len >= n)
        return false;
    memcpy(dst, v, len + 1);
    return true;
}

int aws_credentials_from_env(struct aws_endpoint *ep)
{
    const char *token = getenv("AWS_SESSION_TOKEN");

    if (!copy_env(ep->key_id, sizeof(ep->key_id), "AWS_ACCESS_KEY_ID") ||
        !copy_env(ep->secret, sizeof(ep->secret), "AWS_SECRET_ACCESS_KEY") ||
        strchr(ep->key_id, ':'))
        return CCF_EINVAL;
    /* Optional; a token cut short would only be refused by AWS later. */
    if (token && *token && !copy_env(ep->token, sizeof(ep->token), "AWS_SESSION_TOKEN"))
        return CCF_EINVAL;
    return 0;
}

int aws_endpoint_init(struct aws_endpoint *ep, const char *service, const char *region,
                      const char *url_var, char *err, size_t n)
{
    const char *url = url_var ? getenv(url_var) : NULL;
    int len;

    memset(ep, 0, sizeof(*ep));
    if (snprintf(ep->service, sizeof(ep->service), "%s", service) >= (int)sizeof(ep->service) ||
        snprintf(ep->region, sizeof(ep->region), "%s", region) >= (int)sizeof(ep->region)) {
        snprintf(err, n, "the service or region name is too long");
        return CCF_EINVAL;
    }
    if (aws_credentials_from_env(ep) < 0) {
        snprintf(err, n,
                 "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN "
                 "with temporary credentials)");
        return CCF_EINVAL;
    }
    if (!url || !*url)
        url = getenv("AWS_ENDPOINT_URL");
    if (url && *url)
        len = snprintf(ep->url, sizeof(ep->url), "%s", url);
    else
        len = snprintf(ep->url, sizeof(ep->url), "https://%s.%s.amazonaws.com", service, region);
    if (len < 0 || len >= (int)sizeof(ep->url)) {
        snprintf(err, n, "the endpoint URL is longer than %d bytes", AWS_URL_MAX);
        return CCF_EINVAL;
    }
    for (; len > 0 && ep->url[len - 1] == '/'; len--)
        ep->url[len - 1] = '\0';
    return 0;
}

/* ---- the answer ---- */

/* Types AWS uses for "slow down", on 400 as often as on 429 (botocore's
 * retryhandler treats these as throttling). */
static bool throttled(const char *type)
{
    static const char *const names[] = {"Throttling",
                                        "ThrottlingException",
                                        "ThrottledException",
                                        "RequestThrottled",
                                        "RequestThrottledException",
                                        "TooManyRequestsException",
                                        "RequestLimitExceeded",
                                        "SlowDown",
                                        "ProvisionedThroughputExceededException",
                                        "BandwidthLimitExceeded"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(type, names[i]) == 0)
            return true;
    return false;
}

/* v's last '#'-part, up to the first ':' ("aws.protocols#X:http://..."),
 * into dst; control and non-ASCII bytes become '?'. */
static void copy_type(char *dst, size_t n, const char *v)
{
    const char *hash = strrchr(v, '#');
    size_t len;

    if (hash)
        v = hash + 1;
    len = strcspn(v, ":");
    if (len >= n)
        len = n - 1;
    for (size_t i = 0; i < len; i++)
        dst[i] = (unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7F ? '?' : v[i];
    dst[len] = '\0';
}

static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
            *s = '?';
}

/* The error's type and message from the JSON body (rest-json: __type or
 * code; JSON protocol: __type) or else the header. */
static void decode_error(struct aws_answer *ans, const char *header)
{
    json_t *t = json_object_get(ans->json, "__type"), *m;

    if (!json_is_string(t))
        t = json_object_get(ans->json, "code");
    if (json_is_string(t))
        copy_type(ans->type, sizeof(ans->type), json_string_value(t));
    else if (header)
        copy_type(ans->type, sizeof(ans->type), header);
    m = json_object_get(ans->json, "message");
    if (!json_is_string(m))
        m = json_object_get(ans->json, "Message");
    if (json_is_string(m)) {
        snprintf(ans->message, sizeof(ans->message), "%s", json_string_value(m));
        printable(ans->message);
    }
    snprintf(ans->error, sizeof(ans->error), "HTTP %ld: %s", ans->status,
             ans->message[0] ? ans->message : "no message");
}

int aws_answer_decode(struct aws_answer *ans, long status, const char *body, size_t len,
                      const char *error_type_header)
{
    ans->status = status;
    ans->json = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (status >= 200 && status < 300)
        return 0;
    decode_error(ans, error_type_header);
    if (status >= 500 || status == 429 || throttled(ans->type))
        return CCF_EUNAVAIL;
    return CCF_EINVAL;
}

void aws_answer_clear(struct aws_answer *ans)
{
    if (!ans)
        return;
    json_decref(ans->json);
    memset(ans, 0, sizeof(*ans));
}

/* ---- the call ---- */

struct aws_conn *aws_conn_create(void)
{
    struct aws_conn *c = ccf_xcalloc(1, sizeof(*c));

    if (!(c->curl = curl_easy_init()))
        abort(); /* only memory can fail here */
    return c;
}

void aws_conn_destroy(struct aws_conn *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

struct sink {
    char *p;
    size_t len, max;
    bool too_large;
    char type[AWS_TYPE_MAX + 1]; /* x-amzn-ErrorType's value */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *k = arg;
    size_t n = size * nmemb;

    if (n > k->max - k->len) {
        k->too_large = true;
        return 0;
    }
    k->p = ccf_xrealloc(k->p, k->len + n + 1);
    memcpy(k->p + k->len, data, n);
    k->len += n;
    k->p[k->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *k = arg;
    size_t n = size * nmemb, skip = strlen(ERROR_TYPE_HEADER), len;

    if (n > skip && strncasecmp(data, ERROR_TYPE_HEADER, skip) == 0) {
        for (; skip < n && (data[skip] == ' ' || data[skip] == '\t'); skip++)
            ;
        len = n - skip < sizeof(k->type) ? n - skip : sizeof(k->type) - 1;
        memcpy(k->type, data + skip, len);
        k->type[len] = '\0';
        k->type[strcspn(k->type, "\r\n")] = '\0';
    }
    return n;
}

/* The request's headers: Content-Type, the target, the session token. No
 * "Expect:" to suppress 100-continue: curl 7.88 would sign that empty
 * header without sending it; ccf's bodies stay far under the 1 MiB past
 * which curl sends Expect. */
static struct curl_slist *headers_for(const struct aws_endpoint *ep, const struct aws_request *req)
{
    char line[AWS_TOKEN_MAX + 32];
    struct curl_slist *h;

    snprintf(line, sizeof(line), "Content-Type: %s",
             req->content_type ? req->content_type : "application/json");
    h = curl_slist_append(NULL, line);
    if (h && req->target) {
        snprintf(line, sizeof(line), "X-Amz-Target: %s", req->target);
        h = curl_slist_append(h, line);
    }
    if (h && ep->token[0]) {
        snprintf(line, sizeof(line), "X-Amz-Security-Token: %s", ep->token);
        h = curl_slist_append(h, line);
    }
    if (!h)
        abort(); /* only memory can fail here */
    return h;
}

static void set_options(CURL *c, const struct aws_endpoint *ep, const struct aws_request *req,
                        struct curl_slist *h, struct sink *k)
{
    char url[AWS_URL_MAX + 1 + 2048], sigv4[CCF_REGION_MAX + AWS_SERVICE_MAX + 16];
    char userpwd[AWS_KEY_ID_MAX + AWS_SECRET_MAX + 2];

    snprintf(url, sizeof(url), "%s%s", ep->url, req->path ? req->path : "");
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:%s", ep->region, ep->service);
    snprintf(userpwd, sizeof(userpwd), "%s:%s", ep->key_id, ep->secret);
    /* libcurl copies the strings it is given: the buffers may go. */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
    if (req->connect_timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method ? req->method : "POST");
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req->body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, k);
}

int aws_call(const struct aws_endpoint *ep, struct aws_conn *conn, const struct aws_request *req,
             struct aws_answer *ans)
{
    struct sink k = {.max = req->answer_max ? req->answer_max : DEFAULT_ANSWER_MAX};
    struct curl_slist *h = headers_for(ep, req);
    CURL *c = conn ? conn->curl : curl_easy_init();
    long status = 0;
    CURLcode cc;
    int rc;

    memset(ans, 0, sizeof(*ans));
    if (!c)
        abort(); /* only memory can fail here */
    if (conn)
        curl_easy_reset(c); /* the last call's options go; its connection stays */
    set_options(c, ep, req, h, &k);
    if ((cc = curl_easy_perform(c)) != CURLE_OK) {
        if (k.too_large)
            snprintf(ans->error, sizeof(ans->error), "answer over %zu bytes", k.max);
        else
            snprintf(ans->error, sizeof(ans->error), "%s", curl_easy_strerror(cc));
        rc = k.too_large ? CCF_EIO : CCF_EUNAVAIL;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        rc = aws_answer_decode(ans, status, k.p, k.len, k.type[0] ? k.type : NULL);
    }
    curl_slist_free_all(h);
    if (!conn)
        curl_easy_cleanup(c);
    free(k.p);
    return rc;
}
