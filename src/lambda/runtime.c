/* runtime.c: the Lambda Runtime API over libcurl (runtime.h). The next
 * call has no timeout: Lambda freezes the process inside it between
 * invocations. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "lambda/events.h"
#include "lambda/runtime.h"

#define BASE_MAX 512

struct lambda_runtime {
    CURL *curl;
    char base[BASE_MAX]; /* http://HOST/2018-06-01/runtime */
};

struct sink {
    char *p;
    size_t len, cap;
    bool too_large;
    char id[128];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb, need;

    if (!ccf_size_add(s->len, n + 1, &need) || need > LAMBDA_EVENT_MAX + 1) {
        s->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (need > s->cap) {
        s->cap = need < 4096 ? 4096 : need * 2;
        if (s->cap > LAMBDA_EVENT_MAX + 1)
            s->cap = LAMBDA_EVENT_MAX + 1;
        s->p = ccf_xrealloc(s->p, s->cap);
    }
    memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    static const char name[] = "Lambda-Runtime-Aws-Request-Id:";
    struct sink *s = arg;
    size_t n = size * nmemb, len;
    const char *v;

    if (n <= sizeof(name) - 1 || strncasecmp(data, name, sizeof(name) - 1) != 0)
        return n;
    v = data + sizeof(name) - 1;
    len = n - (sizeof(name) - 1);
    while (len > 0 && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len > 0 && len < sizeof(s->id)) {
        memcpy(s->id, v, len);
        s->id[len] = '\0';
    }
    return n;
}

int lambda_runtime_open(struct lambda_runtime **out, const char *host)
{
    struct lambda_runtime *rt;
    int len;

    if (!host || !*host || strlen(host) > 256)
        return CCF_EINVAL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CCF_EIO;
    rt = ccf_xcalloc(1, sizeof(*rt));
    len = snprintf(rt->base, sizeof(rt->base), "http://%s/2018-06-01/runtime", host);
    if (len < 0 || (size_t)len >= sizeof(rt->base) || !(rt->curl = curl_easy_init())) {
        free(rt);
        curl_global_cleanup();
        return CCF_EIO;
    }
    *out = rt;
    return 0;
}

void lambda_runtime_close(struct lambda_runtime *rt)
{
    if (!rt)
        return;
    curl_easy_cleanup(rt->curl);
    free(rt);
    curl_global_cleanup();
}

/* One request to base + path; the answer's status, or CCF_EIO. */
static int call(struct lambda_runtime *rt, const char *path, const char *body, size_t len,
                struct curl_slist *headers, struct sink *s)
{
    char url[BASE_MAX + 256];
    long status = 0;
    CURLcode cc;
    int n = snprintf(url, sizeof(url), "%s%s", rt->base, path);

    if (n < 0 || (size_t)n >= sizeof(url))
        return CCF_EINVAL;
    curl_easy_reset(rt->curl);
    curl_easy_setopt(rt->curl, CURLOPT_URL, url);
    curl_easy_setopt(rt->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(rt->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(rt->curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(rt->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(rt->curl, CURLOPT_HEADERDATA, s);
    if (headers)
        curl_easy_setopt(rt->curl, CURLOPT_HTTPHEADER, headers);
    if (body) {
        curl_easy_setopt(rt->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(rt->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(rt->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if ((cc = curl_easy_perform(rt->curl)) != CURLE_OK) {
        if (s->too_large)
            return CCF_ETOOLARGE;
        CCF_LOG_ERROR("lambda.runtime_failed", CCF_KV_STR("path", path),
                      CCF_KV_STR("error", curl_easy_strerror(cc)));
        return CCF_EIO;
    }
    curl_easy_getinfo(rt->curl, CURLINFO_RESPONSE_CODE, &status);
    return (int)status;
}

int lambda_runtime_next(struct lambda_runtime *rt, char **event, size_t *len, char id[128])
{
    struct sink s = {0};
    int rc = call(rt, "/invocation/next", NULL, 0, NULL, &s);

    if (rc == 200 && s.id[0] && s.p) {
        *event = s.p;
        *len = s.len;
        memcpy(id, s.id, sizeof(s.id));
        return 0;
    }
    free(s.p);
    if (rc == CCF_ETOOLARGE && s.id[0]) {
        memcpy(id, s.id, sizeof(s.id)); /* so that the caller can report it */
        return rc;
    }
    if (rc >= 0)
        CCF_LOG_ERROR("lambda.next_failed", CCF_KV_INT("status", rc));
    return rc < 0 ? rc : CCF_EIO;
}

/* Request ids are Lambda's UUIDs; anything else would bend the path. */
static bool id_ok(const char *id)
{
    size_t n = strlen(id);

    return n > 0 && n < 128 && strspn(id, "0123456789abcdefABCDEF-") == n;
}

int lambda_runtime_respond(struct lambda_runtime *rt, const char *id, const char *body, size_t len)
{
    char path[200];
    struct sink s = {0};
    int rc;

    if (!id_ok(id))
        return CCF_EINVAL;
    snprintf(path, sizeof(path), "/invocation/%s/response", id);
    rc = call(rt, path, body, len, NULL, &s);
    free(s.p);
    return rc == 202 ? 0 : CCF_EIO;
}

int lambda_runtime_error(struct lambda_runtime *rt, const char *id, const char *type,
                         const char *message)
{
    json_t *doc =
        json_pack("{s:s, s:s, s:[]}", "errorMessage", message, "errorType", type, "stackTrace");
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    char path[200], hdr[192];
    struct curl_slist *headers = NULL;
    struct sink s = {0};
    int rc = CCF_EIO;

    json_decref(doc);
    if (!body || (id && !id_ok(id)))
        goto out;
    if (id)
        snprintf(path, sizeof(path), "/invocation/%s/error", id);
    else
        snprintf(path, sizeof(path), "/init/error");
    snprintf(hdr, sizeof(hdr), "Lambda-Runtime-Function-Error-Type: %s", type);
    headers = curl_slist_append(headers, hdr);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    rc = call(rt, path, body, strlen(body), headers, &s) == 202 ? 0 : CCF_EIO;
out:
    curl_slist_free_all(headers);
    free(s.p);
    free(body);
    return rc;
}
