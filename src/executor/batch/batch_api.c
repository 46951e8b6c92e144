/* batch_api.c: one AWS Batch API call, and the requests built from a
 * job's spec (batch_int.h). rest-json: POST /v1/<operation> with a JSON
 * body, signed (service "batch") and sent by aws.h. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "executor/batch/batch_int.h"

#define ANSWER_MAX      (4u * 1024 * 1024)
#define CALL_TIMEOUT_MS 30000L

int batch__endpoint_init(struct batch__endpoint *ep, const char *region)
{
    struct ccf_tenant probe;
    char err[256];

    memset(ep, 0, sizeof(*ep));
    if (!region || !*region)
        region = getenv("AWS_REGION");
    if (!region || ccf_tenant_init(&probe, region, "000000000000") < 0) {
        CCF_LOG_ERROR("batch.no_region", CCF_KV_STR("hint", "set region or AWS_REGION"));
        return CCF_EINVAL;
    }
    if (aws_endpoint_init(&ep->aws, "batch", probe.region, "AWS_ENDPOINT_URL_BATCH", err,
                          sizeof(err)) < 0) {
        CCF_LOG_ERROR("batch.no_credentials", CCF_KV_STR("hint", err));
        return CCF_EINVAL;
    }
    return 0;
}

int batch__call(const struct batch__endpoint *ep, struct aws_conn *conn, const char *op,
                const json_t *req, json_t **resp, char *err, size_t n)
{
    char path[64];
    char *body = json_dumps(req, JSON_COMPACT);
    struct aws_request r = {
        .path = path, .body = body, .timeout_ms = CALL_TIMEOUT_MS, .answer_max = ANSWER_MAX};
    struct aws_answer ans;
    int rc;

    if (!body)
        abort(); /* only memory can fail here */
    snprintf(path, sizeof(path), "/v1/%s", op);
    rc = aws_call(&ep->aws, conn, &r, &ans);
    if (rc == 0 && ans.status != 200) {
        /* Batch answers 200: another 2xx is not its answer. */
        snprintf(ans.error, sizeof(ans.error), "HTTP %ld: no message", ans.status);
        rc = CCF_EINVAL;
    } else if (rc == 0 && !ans.json) {
        snprintf(ans.error, sizeof(ans.error), "%s answered with something that is not JSON", op);
        rc = CCF_EIO;
    }
    if (rc < 0) {
        snprintf(err, n, "%s", ans.error);
        CCF_LOG_WARN("batch.call_failed", CCF_KV_STR("operation", op),
                     CCF_KV_INT("status", ans.status), CCF_KV_STR("error", err));
    } else {
        *resp = json_incref(ans.json);
    }
    aws_answer_clear(&ans);
    free(body);
    return rc;
}

static json_t *resources(const struct executor_spec *spec)
{
    char cpu[32], mem[32];

    snprintf(cpu, sizeof(cpu), "%g", spec->cpu > 0 ? spec->cpu : 1.0);
    snprintf(mem, sizeof(mem), "%lld", (long long)(spec->memory_mib > 0 ? spec->memory_mib : 2048));
    return json_pack("[{s:s, s:s}, {s:s, s:s}]", "type", "VCPU", "value", cpu, "type", "MEMORY",
                     "value", mem);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;

    EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

json_t *batch__job_definition(const struct executor_spec *spec)
{
    char name[64], hash[65];
    json_t *props = json_pack("{s:s, s:o}", "image", spec->image_uri ? spec->image_uri : "",
                              "resourceRequirements", resources(spec));
    json_t *def;
    char *text;
    int64_t timeout = spec->timeout_s > BATCH__MIN_TIMEOUT ? spec->timeout_s : BATCH__MIN_TIMEOUT;

    if (spec->execution_role_arn)
        json_object_set_new(props, "executionRoleArn", json_string(spec->execution_role_arn));
    if (spec->job_role_arn)
        json_object_set_new(props, "jobRoleArn", json_string(spec->job_role_arn));
    snprintf(name, sizeof(name), "ccf-%s", spec->connector_id ? spec->connector_id : "none");
    def = json_pack("{s:s, s:s, s:[s], s:o, s:{s:I}, s:{s:i}}", "jobDefinitionName", name, "type",
                    "container", "platformCapabilities", "FARGATE", "containerProperties", props,
                    "timeout", "attemptDurationSeconds", (json_int_t)timeout, "retryStrategy",
                    "attempts", 1);
    /* What decides whether a new revision is needed: everything above. */
    text = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
    sha256_hex(text, hash);
    free(text);
    json_object_set_new(def, "parameters", json_pack("{s:s}", "ccfProperties", hash));
    return def;
}

/* PATH and HOME are the host's (orchestrator's spec.c): the image has its own. */
static bool host_only(const char *var)
{
    return strncmp(var, "PATH=", 5) == 0 || strncmp(var, "HOME=", 5) == 0;
}

json_t *batch__submit_request(const struct executor_spec *spec, const char *queue,
                              const char *definition_arn)
{
    json_t *env = json_array(), *over = json_object();

    for (size_t i = 0; spec->envp && spec->envp[i]; i++) {
        const char *eq = strchr(spec->envp[i], '=');
        if (!eq || host_only(spec->envp[i]))
            continue;
        json_array_append_new(env, json_pack("{s:s%, s:s}", "name", spec->envp[i],
                                             (size_t)(eq - spec->envp[i]), "value", eq + 1));
    }
    json_object_set_new(over, "environment", env);
    if (spec->argv && spec->argv[0]) {
        json_t *cmd = json_array();
        for (size_t i = 0; spec->argv[i]; i++)
            json_array_append_new(cmd, json_string(spec->argv[i]));
        json_object_set_new(over, "command", cmd);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "jobName", spec->job_id, "jobQueue", queue,
                     "jobDefinition", definition_arn, "containerOverrides", over);
}

static int64_t ms_to_us(const json_t *v)
{
    json_int_t ms = json_is_integer(v) ? json_integer_value(v) : 0;

    return ms > 0 && ms < INT64_MAX / 1000 ? (int64_t)ms * 1000 : 0;
}

/* The end of a FAILED job (CONTRACT.md, "How a job ends"). */
static void failed(const json_t *detail, struct executor_event *ev)
{
    json_t *code = json_object_get(json_object_get(detail, "container"), "exitCode");
    json_t *limit = json_object_get(json_object_get(detail, "timeout"), "attemptDurationSeconds");
    json_t *why = json_object_get(detail, "statusReason");
    const char *reason = json_is_string(why) ? json_string_value(why) : "";

    if (json_is_integer(code) && json_integer_value(code) >= 0 && json_integer_value(code) <= 255) {
        ev->has_exit_code = true;
        ev->exit_code = (int)json_integer_value(code);
    }
    if (ev->stopped)
        return;
    if (strstr(reason, "duration exceeded timeout")) {
        /* The timeout Batch enforced, which may be longer than the connector's. */
        snprintf(ev->reason, sizeof(ev->reason), "timed out after %lld s",
                 json_is_integer(limit) ? (long long)json_integer_value(limit)
                                        : (long long)BATCH__MIN_TIMEOUT);
        ev->has_exit_code = false;
    } else if (!ev->has_exit_code) {
        snprintf(ev->reason, sizeof(ev->reason), "AWS Batch: %.200s",
                 *reason ? reason : "the job failed without an exit code");
    }
    for (char *p = ev->reason; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7F)
            *p = ' ';
}

bool batch__event(const json_t *detail, const char *job_id, bool cancelled,
                  struct executor_event *ev)
{
    json_t *st = json_object_get(detail, "status");
    const char *status = json_is_string(st) ? json_string_value(st) : "";

    memset(ev, 0, sizeof(*ev));
    snprintf(ev->job_id, sizeof(ev->job_id), "%s", job_id);
    if (strcmp(status, "RUNNING") == 0) {
        ev->state = EXECUTOR_RUNNING;
        ev->at_us = ms_to_us(json_object_get(detail, "startedAt"));
        return true;
    }
    if (strcmp(status, "SUCCEEDED") != 0 && strcmp(status, "FAILED") != 0)
        return false;
    ev->state = EXECUTOR_EXITED;
    ev->at_us = ms_to_us(json_object_get(detail, "stoppedAt"));
    ev->stopped = cancelled;
    if (strcmp(status, "SUCCEEDED") == 0) {
        ev->has_exit_code = true;
        return true;
    }
    failed(detail, ev);
    return true;
}
