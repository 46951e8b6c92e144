/* ebsched.c: EventBridge Scheduler's CreateSchedule (POST /schedules/NAME),
 * UpdateSchedule (PUT, the whole schedule again) and DeleteSchedule
 * (DELETE ?groupName=), rest-json signed and sent by aws.h (ebsched.h). */
#include "lambda/ebsched.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "core/log.h"

#define ANSWER_MAX      (1u * 1024 * 1024)
#define CALL_TIMEOUT_MS 10000L

struct ebsched {
    struct aws_endpoint ep; /* service "scheduler" */
    struct aws_conn *conn;  /* one thread uses a client: its connection is kept */
    char group[EBSCHED_NAME_MAX + 1];
    char target_arn[2048];
    char role_arn[2048];
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
    const char *group = getenv("CCF_SCHEDULE_GROUP");
    char why[256];

    *out = NULL;
    if (!group || !*group)
        return 0;
    s = ccf_xcalloc(1, sizeof(*s));
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
    if (aws_endpoint_init(&s->ep, "scheduler", region, "AWS_ENDPOINT_URL_SCHEDULER", why,
                          sizeof(why)) < 0) {
        snprintf(err, n, "EventBridge Scheduler: %s", why);
        goto fail;
    }
    s->conn = aws_conn_create();
    *out = s;
    return 0;
fail:
    free(s);
    return CCF_EINVAL;
}

void ebsched_close(struct ebsched *s)
{
    if (!s)
        return;
    aws_conn_destroy(s->conn);
    free(s);
}

/* One call: method on /schedules/NAME[query] with body (NULL: none).
 * CCF_ENOTFOUND for 404, CCF_ECONFLICT for 409, CCF_EINVAL for another
 * refusal, CCF_EUNAVAIL for 5xx, 429, throttling or no answer. */
static int call(struct ebsched *s, const char *method, const char *name, const char *query,
                const char *body, char *err, size_t n)
{
    char path[EBSCHED_NAME_MAX + 160];
    struct aws_request r = {.method = method,
                            .path = path,
                            .body = body,
                            .timeout_ms = CALL_TIMEOUT_MS,
                            .answer_max = ANSWER_MAX};
    struct aws_answer ans;
    int rc;

    snprintf(path, sizeof(path), "/schedules/%s%s", name, query ? query : "");
    rc = aws_call(&s->ep, s->conn, &r, &ans);
    if (rc == CCF_EINVAL && ans.status == 404)
        rc = CCF_ENOTFOUND;
    else if (rc == CCF_EINVAL && ans.status == 409)
        rc = CCF_ECONFLICT;
    if (rc < 0)
        snprintf(err, n, "%s%s", ans.status ? "" : "EventBridge Scheduler: ", ans.error);
    CCF_LOG_DEBUG("ebsched.call", CCF_KV_STR("method", method), CCF_KV_STR("name", name),
                  CCF_KV_INT("status", ans.status));
    aws_answer_clear(&ans);
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
