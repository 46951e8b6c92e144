/* ebsched.c: EventBridge Scheduler's CreateSchedule (POST /schedules/NAME),
 * UpdateSchedule (PUT, the whole schedule again) and DeleteSchedule
 * (DELETE ?groupName=), rest-json signed by libcurl's SigV4 (ebsched.h).
 * As in the Batch executor, X-Amz-Security-Token is set before signing
 * (curl 7.88 does not add it), so it is signed too. */
#include "lambda/ebsched.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define RESP_MAX       (1u * 1024 * 1024)
#define CALL_TIMEOUT_S 10L

struct ebsched {
    char url[512]; /* scheme://host[:port], no trailing '/' */
    char region[CCF_REGION_MAX + 1];
    char group[EBSCHED_NAME_MAX + 1];
    char target_arn[2048];
    char role_arn[2048];
    char key_id[129];
    char secret[257];
    char token[2049];
};

static bool copy_env(char *dst, size_t n, const char *name)
{
    const char *v = getenv(name);

    if (!v || strlen(v) >= n)
        return false;
    memcpy(dst, v, strlen(v) + 1);
    return *dst != '\0';
}

static bool name_valid(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > EBSCHED_NAME_MAX)
        return false;
    return strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.-") == len;
}

int ebsched_open(struct ebsched **out, const char *region, char *err, size_t n)
{
    struct ebsched *s;
    const char *url = getenv("AWS_ENDPOINT_URL_SCHEDULER"), *group = getenv("CCF_SCHEDULE_GROUP");

    *out = NULL;
    if (!group || !*group)
        return 0;
    s = ccf_xcalloc(1, sizeof(*s));
    snprintf(s->region, sizeof(s->region), "%s", region);
    if (!name_valid(group) || !copy_env(s->group, sizeof(s->group), "CCF_SCHEDULE_GROUP")) {
        snprintf(err, n, "CCF_SCHEDULE_GROUP must be 1..64 of [0-9A-Za-z_.-]");
        goto fail;
    }
    if (!copy_env(s->target_arn, sizeof(s->target_arn), "CCF_SCHEDULER_TARGET_ARN") ||
        !copy_env(s->role_arn, sizeof(s->role_arn), "CCF_SCHEDULER_ROLE_ARN") ||
        strncmp(s->target_arn, "arn:", 4) != 0 || strncmp(s->role_arn, "arn:", 4) != 0) {
        snprintf(err, n,
                 "CCF_SCHEDULE_GROUP needs CCF_SCHEDULER_TARGET_ARN and "
                 "CCF_SCHEDULER_ROLE_ARN (ARNs)");
        goto fail;
    }
    if (!copy_env(s->key_id, sizeof(s->key_id), "AWS_ACCESS_KEY_ID") ||
        !copy_env(s->secret, sizeof(s->secret), "AWS_SECRET_ACCESS_KEY") ||
        strchr(s->key_id, ':')) {
        snprintf(err, n, "EventBridge Scheduler needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        goto fail;
    }
    copy_env(s->token, sizeof(s->token), "AWS_SESSION_TOKEN");
    if (!url || !*url)
        url = getenv("AWS_ENDPOINT_URL");
    if (url && *url)
        snprintf(s->url, sizeof(s->url), "%s", url);
    else
        snprintf(s->url, sizeof(s->url), "https://scheduler.%s.amazonaws.com", s->region);
    for (size_t len = strlen(s->url); len > 0 && s->url[len - 1] == '/'; len--)
        s->url[len - 1] = '\0';
    *out = s;
    return 0;
fail:
    free(s);
    return CCF_EINVAL;
}

void ebsched_close(struct ebsched *s)
{
    free(s);
}

struct sink {
    char *p;
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *k = arg;
    size_t n = size * nmemb;

    if (k->len + n > RESP_MAX)
        return 0;
    k->p = ccf_xrealloc(k->p, k->len + n + 1);
    memcpy(k->p + k->len, data, n);
    k->len += n;
    k->p[k->len] = '\0';
    return n;
}

/* Scheduler's error ({"Message": ...} or {"message": ...}), printable. */
static void error_message(const struct sink *k, long status, char *err, size_t n)
{
    json_t *doc = k->p ? json_loadb(k->p, k->len, 0, NULL) : NULL;
    json_t *m = doc ? json_object_get(doc, "Message") : NULL;

    if (!m && doc)
        m = json_object_get(doc, "message");
    snprintf(err, n, "HTTP %ld: %s", status,
             json_is_string(m) ? json_string_value(m) : "no message");
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
            *p = '?';
    json_decref(doc);
}

/* One call: method on /schedules/NAME[query] with body (NULL: none).
 * CCF_ENOTFOUND for 404, CCF_ECONFLICT for 409, CCF_EINVAL for another
 * refusal, CCF_EUNAVAIL for 5xx, 429 or no answer. */
static int call(struct ebsched *s, const char *method, const char *name, const char *query,
                const char *body, char *err, size_t n)
{
    char url[sizeof(s->url) + 160], sigv4[64], userpwd[sizeof(s->key_id) + sizeof(s->secret)];
    char tok[sizeof(s->token) + 32];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct sink k = {0};
    long status = 0;
    CURL *c = curl_easy_init();
    CURLcode cc;
    int rc;

    if (!c || !h)
        abort(); /* only memory can fail here */
    if (s->token[0]) {
        snprintf(tok, sizeof(tok), "X-Amz-Security-Token: %s", s->token);
        h = curl_slist_append(h, tok);
    }
    snprintf(url, sizeof(url), "%s/schedules/%s%s", s->url, name, query ? query : "");
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:scheduler", s->region);
    snprintf(userpwd, sizeof(userpwd), "%s:%s", s->key_id, s->secret);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, CALL_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
    if ((cc = curl_easy_perform(c)) != CURLE_OK) {
        snprintf(err, n, "EventBridge Scheduler: %s", curl_easy_strerror(cc));
        rc = CCF_EUNAVAIL;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300)
            rc = 0;
        else if (status == 404)
            rc = CCF_ENOTFOUND;
        else if (status == 409)
            rc = CCF_ECONFLICT;
        else
            rc = status >= 500 || status == 429 ? CCF_EUNAVAIL : CCF_EINVAL;
        if (rc < 0)
            error_message(&k, status, err, n);
    }
    CCF_LOG_DEBUG("ebsched.call", CCF_KV_STR("method", method), CCF_KV_STR("name", name),
                  CCF_KV_INT("status", status));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(k.p);
    return rc;
}

static char *schedule_body(const struct ebsched *s, const struct ebsched_spec *spec)
{
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:{s:s, s:s, s:s}}", "GroupName", s->group,
                  "ScheduleExpression", spec->expression, "ScheduleExpressionTimezone",
                  spec->timezone, "FlexibleTimeWindow", "Mode", "OFF", "State", "ENABLED",
                  "ActionAfterCompletion", spec->once ? "DELETE" : "NONE", "Target", "Arn",
                  s->target_arn, "RoleArn", s->role_arn, "Input", spec->input);
    char *out;

    /* rest-json's timestamps are seconds since the epoch. */
    if (doc && spec->start_date > 0)
        json_object_set_new(doc, "StartDate", json_integer(spec->start_date));
    if (!doc || !(out = json_dumps(doc, JSON_COMPACT)))
        abort(); /* every value is a valid string: only memory can fail */
    json_decref(doc);
    return out;
}

int ebsched_put(struct ebsched *s, const char *name, const struct ebsched_spec *spec, char *err,
                size_t n)
{
    char *body;
    int rc;

    if (!name_valid(name))
        return CCF_EINVAL;
    body = schedule_body(s, spec);
    /* Update first: a schedule is changed more often than made. Two
     * writers racing to create it end with one update. */
    rc = call(s, "PUT", name, NULL, body, err, n);
    if (rc == CCF_ENOTFOUND)
        rc = call(s, "POST", name, NULL, body, err, n);
    if (rc == CCF_ECONFLICT)
        rc = call(s, "PUT", name, NULL, body, err, n);
    free(body);
    if (rc < 0)
        CCF_LOG_WARN("ebsched.put_failed", CCF_KV_STR("name", name), CCF_KV_STR("error", err));
    return rc;
}

int ebsched_delete(struct ebsched *s, const char *name, char *err, size_t n)
{
    char query[EBSCHED_NAME_MAX + 16];
    int rc;

    if (!name_valid(name))
        return CCF_EINVAL;
    snprintf(query, sizeof(query), "?groupName=%s", s->group);
    rc = call(s, "DELETE", name, query, NULL, err, n);
    if (rc == CCF_ENOTFOUND)
        rc = 0;
    if (rc < 0)
        CCF_LOG_WARN("ebsched.delete_failed", CCF_KV_STR("name", name), CCF_KV_STR("error", err));
    return rc;
}
