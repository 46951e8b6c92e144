/* test_lambda.c: unit tests of the Lambda event decoders (src/lambda/events.h)
 * and of the Batch executor's request builders and outcome mapping
 * (src/executor/batch/batch_int.h): the shapes of AWS's documented
 * examples in, the structs and requests the handlers need out, and hostile
 * variants refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "executor/batch/batch_int.h"
#include "lambda/events.h"

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    assert_non_null(j);
    return j;
}

#define API_CTX                                                                                    \
    "\"requestContext\": {\"accountId\": \"999999999999\", \"requestId\": \"abc-1\", "             \
    "\"identity\": {\"accountId\": \"123456789012\", \"accessKey\": \"AKIAEXAMPLE01\", "           \
    "\"sourceIp\": \"2001:db8::1\"}}"

static void api_event_decodes(void **state)
{
    (void)state;
    json_t *j = parse("{\"httpMethod\": \"GET\", \"path\": \"/api/v1/custom-connectors/a b\", "
                      "\"multiValueQueryStringParameters\": {\"max_results\": [\"1\", \"2\"], "
                      "\"k\": [\"&=\"]}, \"multiValueHeaders\": {\"IF-MATCH\": [\"\\\"1\\\"\", "
                      "\"\\\"2\\\"\"], \"content-type\": [\"application/json\"]}, "
                      "\"body\": \"e30=\", \"isBase64Encoded\": true, " API_CTX "}");
    struct lambda_api_event ev;
    char err[128] = "";

    assert_int_equal(lambda_event_kind(j), LAMBDA_EVENT_API);
    assert_int_equal(lambda_api_event_decode(j, &ev, err, sizeof(err)), 0);
    assert_string_equal(ev.method, "GET");
    assert_string_equal(ev.target,
                        "/api/v1/custom-connectors/a%20b?max_results=1&max_results=2&k=%26%3D");
    assert_string_equal(ev.account_id, "123456789012"); /* the caller's, not the API's */
    assert_string_equal(ev.request_id, "abc-1");
    assert_string_equal(ev.access_key_id, "AKIAEXAMPLE01"); /* for the audit record */
    assert_string_equal(ev.source_ip, "2001:db8::1");
    assert_true(ev.if_match_repeated);
    assert_string_equal(ev.content_type, "application/json");
    assert_int_equal(ev.body_len, 2);
    assert_memory_equal(ev.body, "{}", 2);
    lambda_api_event_clear(&ev);
    json_decref(j);
}

static void api_event_falls_back_to_the_apis_account(void **state)
{
    (void)state;
    json_t *j = parse("{\"httpMethod\": \"POST\", \"path\": \"/x\", \"body\": \"{}\", "
                      "\"requestContext\": {\"accountId\": \"999999999999\", \"identity\": "
                      "{\"accountId\": null}}}");
    struct lambda_api_event ev;
    char err[128];

    assert_int_equal(lambda_api_event_decode(j, &ev, err, sizeof(err)), 0);
    assert_string_equal(ev.account_id, "999999999999");
    assert_string_equal(ev.access_key_id, ""); /* none: recorded as "" */
    assert_string_equal(ev.source_ip, "");
    assert_string_equal(ev.target, "/x");
    assert_null(ev.content_type);
    assert_int_equal(ev.body_len, 2);
    lambda_api_event_clear(&ev);
    json_decref(j);
}

static void api_event_drops_an_odd_identity(void **state)
{
    (void)state;
    json_t *j = parse("{\"httpMethod\": \"GET\", \"path\": \"/x\", \"requestContext\": "
                      "{\"identity\": {\"accountId\": \"123456789012\", \"accessKey\": "
                      "\"AKIA\\nX\", \"sourceIp\": \"1.2.3.4; drop\"}}}");
    struct lambda_api_event ev;
    char err[128];

    assert_int_equal(lambda_api_event_decode(j, &ev, err, sizeof(err)), 0);
    assert_string_equal(ev.access_key_id, "");
    assert_string_equal(ev.source_ip, "");
    lambda_api_event_clear(&ev);
    json_decref(j);
}

static void api_event_refusals_say_why(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"httpMethod\": \"get\", \"path\": \"/x\", " API_CTX "}",
        "{\"httpMethod\": \"GET\", \"path\": \"x\", " API_CTX "}",
        "{\"httpMethod\": \"GET\", \"path\": \"/x\", \"requestContext\": {}}",
        "{\"httpMethod\": \"GET\", \"path\": \"/x\", \"body\": 5, " API_CTX "}",
        "{\"httpMethod\": \"GET\", \"path\": \"/x\", \"body\": \"!!\", \"isBase64Encoded\": "
        "true, " API_CTX "}",
        "{\"httpMethod\": \"GET\", \"path\": \"/x\", \"multiValueQueryStringParameters\": "
        "{\"a\": \"b\"}, " API_CTX "}",
        "{\"httpMethod\": \"GET\", \"path\": \"/x\", \"headers\": {\"If-Match\": 1}, " API_CTX "}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = parse(bad[i]);
        struct lambda_api_event ev;
        char err[128] = "";
        assert_int_equal(lambda_api_event_decode(j, &ev, err, sizeof(err)), CCF_EINVAL);
        assert_true(err[0] != '\0');
        json_decref(j);
    }
}

#define IMAGE(st)                                                                                  \
    "{\"region\": {\"S\": \"us-east-1\"}, \"account_id\": {\"S\": \"123456789012\"}, "             \
    "\"connector_id\": {\"S\": \"cc-0123456789ab\"}, \"job_id\": {\"S\": \"ccj-0123456789ab\"}, "  \
    "\"status\": {\"S\": \"" st "\"}, \"updated_at\": {\"N\": \"1764000000000000\"}}"
#define RECORD(name, seq, images)                                                                  \
    "{\"eventSource\": \"aws:dynamodb\", \"eventName\": \"" name "\", \"dynamodb\": "              \
    "{\"SequenceNumber\": \"" seq "\"" images "}}"

static void stream_batch_decodes_changes(void **state)
{
    (void)state;
    json_t *j = parse("{\"Records\": [" RECORD("INSERT", "1", ", \"NewImage\": " IMAGE("STARTED")) ", " RECORD(
        "MODIFY", "2",
        ", \"NewImage\": " IMAGE("STOPPING") ", \"OldImage\": " IMAGE(
            "STARTED")) ", " RECORD("MODIFY", "3",
                                    ", \"NewImage\": " IMAGE("RUNNING") ", \"OldImage\": " IMAGE(
                                        "RUNNING")) ", " RECORD("REMOVE", "4",
                                                                ", \"OldImage\": " IMAGE(
                                                                    "STOPPED")) "]}");
    struct lambda_stream_batch b;
    char err[128] = "";

    assert_int_equal(lambda_event_kind(j), LAMBDA_EVENT_STREAM);
    assert_int_equal(lambda_stream_decode(j, &b, err, sizeof(err)), 0);
    assert_int_equal(b.n, 4);
    assert_true(b.records[0].relevant);
    assert_int_equal(b.records[0].change.old_status, -1);
    assert_int_equal(b.records[0].change.new_status, CCF_JOB_STARTED);
    assert_string_equal(b.records[0].change.tenant.account_id, "123456789012");
    assert_string_equal(b.records[0].change.job_id, "ccj-0123456789ab");
    assert_int_equal(b.records[0].change.at, 1764000000000000LL);
    assert_true(b.records[1].relevant);
    assert_int_equal(b.records[1].change.old_status, CCF_JOB_STARTED);
    assert_int_equal(b.records[1].change.new_status, CCF_JOB_STOPPING);
    assert_false(b.records[2].relevant); /* the status did not move */
    assert_false(b.records[3].relevant); /* a purge */
    assert_string_equal(b.records[3].sequence_number, "4");
    lambda_stream_batch_clear(&b);
    json_decref(j);
}

static void stream_modify_needs_the_old_image(void **state)
{
    (void)state;
    json_t *j =
        parse("{\"Records\": [" RECORD("MODIFY", "2", ", \"NewImage\": " IMAGE("STOPPING")) "]}");
    struct lambda_stream_batch b;
    char err[160] = "";

    assert_int_equal(lambda_stream_decode(j, &b, err, sizeof(err)), CCF_EINVAL);
    assert_non_null(strstr(err, "NEW_AND_OLD_IMAGES"));
    json_decref(j);
}

#define BATCH_EVENT(status, extra)                                                                 \
    "{\"source\": \"aws.batch\", \"detail-type\": \"Batch Job State Change\", \"detail\": "        \
    "{\"jobName\": \"ccj-0123456789ab\", \"jobId\": \"4c7599ae-0a82\", \"status\": \"" status      \
    "\", \"stoppedAt\": 1508781350000, \"timeout\": {\"attemptDurationSeconds\": 60}, "            \
    "\"container\": {\"environment\": [{\"name\": "                                                \
    "\"CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN\", \"value\": "                             \
    "\"arn:aws:ccf:eu-west-3:123456789012:custom-connector/cc-0123456789ab\"}]" extra "}}}"

static void batch_state_decodes(void **state)
{
    (void)state;
    json_t *j = parse(BATCH_EVENT("FAILED", ", \"exitCode\": 3"));
    struct lambda_batch_state s;
    char err[128] = "";

    assert_int_equal(lambda_event_kind(j), LAMBDA_EVENT_BATCH_STATE);
    assert_int_equal(lambda_batch_state_decode(j, &s, err, sizeof(err)), 0);
    assert_string_equal(s.ref.job_id, "ccj-0123456789ab");
    assert_string_equal(s.ref.connector_id, "cc-0123456789ab");
    assert_string_equal(s.ref.tenant.region, "eu-west-3");
    assert_int_equal(s.status, LAMBDA_BATCH_FAILED);
    assert_true(s.has_exit_code);
    assert_int_equal(s.exit_code, 3);
    assert_int_equal(s.timeout_s, 60);
    assert_int_equal(s.at_us, 1508781350000000LL);
    json_decref(j);
    j = parse(BATCH_EVENT("FAILED", ", \"exitCode\": 256"));
    assert_int_equal(lambda_batch_state_decode(j, &s, err, sizeof(err)), CCF_EINVAL);
    json_decref(j);
    j = parse(BATCH_EVENT("DONE", ""));
    assert_int_equal(lambda_batch_state_decode(j, &s, err, sizeof(err)), CCF_EINVAL);
    json_decref(j);
}

#define CCF_EVENT(kind, extra)                                                                     \
    "{\"ccf_event\": \"" kind "\", \"region\": \"eu-west-3\", \"account_id\": "                    \
    "\"123456789012\", \"connector_id\": \"cc-0123456789ab\"" extra "}"

static void ccf_events_decode(void **state)
{
    (void)state;
    json_t *j = parse(CCF_EVENT("schedule.fire", ", \"scheduled_time\": \"2026-12-07T10:00:00Z\""));
    struct lambda_ccf_event ev;
    char err[128] = "";

    assert_int_equal(lambda_event_kind(j), LAMBDA_EVENT_CCF);
    assert_int_equal(lambda_ccf_event_decode(j, &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.kind, LAMBDA_CCF_FIRE);
    assert_string_equal(ev.ref.connector_id, "cc-0123456789ab");
    assert_string_equal(ev.ref.tenant.account_id, "123456789012");
    assert_int_equal(ev.scheduled_at, 1796637600LL);
    json_decref(j);
    /* A fraction of a second is dropped. */
    j = parse(CCF_EVENT("schedule.fire", ", \"scheduled_time\": \"2026-12-07T10:00:00.250Z\""));
    assert_int_equal(lambda_ccf_event_decode(j, &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.scheduled_at, 1796637600LL);
    json_decref(j);
    j = parse(CCF_EVENT("job.next_attempt", ", \"job_id\": \"ccj-0123456789ab\""));
    assert_int_equal(lambda_ccf_event_decode(j, &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.kind, LAMBDA_CCF_NEXT_ATTEMPT);
    assert_string_equal(ev.ref.job_id, "ccj-0123456789ab");
    json_decref(j);
    j = parse("{\"ccf_event\": \"tick\"}");
    assert_int_equal(lambda_ccf_event_decode(j, &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.kind, LAMBDA_CCF_TICK);
    json_decref(j);
}

static void ccf_event_refusals_say_why(void **state)
{
    (void)state;
    static const char *const bad[] = {
        CCF_EVENT("schedule.fire", ""),
        CCF_EVENT("schedule.fire", ", \"scheduled_time\": \"2026-02-30T00:00:00Z\""),
        CCF_EVENT("schedule.fire", ", \"scheduled_time\": \" 2026-12-07T10:00:00Z\""),
        CCF_EVENT("schedule.fire", ", \"scheduled_time\": \"2026-12-07T10:00:00+01:00\""),
        CCF_EVENT("schedule.fire", ", \"scheduled_time\": \"2026-12-07T24:00:00Z\""),
        CCF_EVENT("job.next_attempt", ""),
        CCF_EVENT("job.next_attempt", ", \"job_id\": \"cc-0123456789ab\""),
        ("{\"ccf_event\": \"schedule.fire\", \"region\": \"nowhere\", \"account_id\": "
         "\"123456789012\", \"connector_id\": \"cc-0123456789ab\"}"),
        "{\"ccf_event\": \"\\u0007reboot\"}",
    };
    struct lambda_ccf_event ev;
    char err[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = parse(bad[i]);
        err[0] = '\0';
        assert_int_equal(lambda_ccf_event_decode(j, &ev, err, sizeof(err)), CCF_EINVAL);
        assert_true(err[0] != '\0');
        for (const char *p = err; *p; p++)
            assert_true(*p >= 0x20 && *p < 0x7F);
        json_decref(j);
    }
}

static void unknown_shapes(void **state)
{
    (void)state;
    static const char *const other[] = {"[]", "{}", "{\"Records\": []}",
                                        "{\"Records\": [{\"eventSource\": \"aws:s3\"}]}",
                                        "{\"source\": \"aws.batch\", \"detail\": {}}"};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        json_t *j = parse(other[i]);
        assert_int_equal(lambda_event_kind(j), CCF_EINVAL);
        json_decref(j);
    }
}

static const char *const envp[] = {"CUSTOM_CONNECTOR_JOB_ID=ccj-0123456789ab", "PATH=/usr/bin",
                                   "HOME=/var/lib/ccf/jobs/x/work", "A=b=c", NULL};
static const struct executor_spec spec = {.job_id = "ccj-0123456789ab",
                                          .connector_id = "cc-0123456789ab",
                                          .image_uri = "img:1",
                                          .execution_role_arn = "arn:aws:iam::1:role/e",
                                          .job_role_arn = "arn:aws:iam::1:role/j",
                                          .envp = envp,
                                          .timeout_s = 5,
                                          .cpu = 0.5,
                                          .memory_mib = 1024};

static void batch_requests(void **state)
{
    (void)state;
    json_t *def = batch__job_definition(&spec), *again = batch__job_definition(&spec);
    struct executor_spec other = spec;
    json_t *changed, *sub, *env;

    assert_string_equal(json_string_value(json_object_get(def, "jobDefinitionName")),
                        "ccf-cc-0123456789ab");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(def, "timeout"),
                                                        "attemptDurationSeconds")),
                     BATCH__MIN_TIMEOUT);
    assert_true(json_equal(def, again)); /* the hash is stable */
    other.memory_mib = 2048;
    changed = batch__job_definition(&other);
    assert_false(
        json_equal(json_object_get(def, "parameters"), json_object_get(changed, "parameters")));
    sub = batch__submit_request(&spec, "q", "arn:def:1");
    env = json_object_get(json_object_get(sub, "containerOverrides"), "environment");
    assert_int_equal(json_array_size(env), 2); /* not PATH, not HOME */
    assert_string_equal(json_string_value(json_object_get(json_array_get(env, 1), "value")), "b=c");
    assert_null(json_object_get(json_object_get(sub, "containerOverrides"), "command"));
    json_decref(def);
    json_decref(again);
    json_decref(changed);
    json_decref(sub);
}

static void batch_outcomes(void **state)
{
    (void)state;
    struct executor_event ev;
    json_t *d = parse("{\"status\": \"RUNNABLE\"}");

    assert_false(batch__event(d, "ccj-0123456789ab", false, &ev));
    json_decref(d);
    d = parse("{\"status\": \"SUCCEEDED\", \"container\": {\"exitCode\": 0}}");
    assert_true(batch__event(d, "ccj-0123456789ab", false, &ev));
    assert_true(ev.state == EXECUTOR_EXITED && ev.has_exit_code && ev.exit_code == 0);
    json_decref(d);
    d = parse("{\"status\": \"FAILED\", \"statusReason\": \"Job attempt duration exceeded "
              "timeout\", \"timeout\": {\"attemptDurationSeconds\": 90}}");
    assert_true(batch__event(d, "ccj-0123456789ab", false, &ev));
    assert_string_equal(ev.reason, "timed out after 90 s");
    assert_false(ev.has_exit_code);
    json_decref(d);
    d = parse("{\"status\": \"FAILED\", \"statusReason\": \"CannotPullContainerError\"}");
    assert_true(batch__event(d, "ccj-0123456789ab", false, &ev));
    assert_string_equal(ev.reason, "AWS Batch: CannotPullContainerError");
    json_decref(d);
    d = parse("{\"status\": \"FAILED\", \"container\": {\"exitCode\": 143}}");
    assert_true(batch__event(d, "ccj-0123456789ab", true, &ev));
    assert_true(ev.stopped && ev.has_exit_code && ev.exit_code == 143);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(api_event_decodes),
        cmocka_unit_test(api_event_falls_back_to_the_apis_account),
        cmocka_unit_test(api_event_drops_an_odd_identity),
        cmocka_unit_test(api_event_refusals_say_why),
        cmocka_unit_test(stream_batch_decodes_changes),
        cmocka_unit_test(stream_modify_needs_the_old_image),
        cmocka_unit_test(batch_state_decodes),
        cmocka_unit_test(ccf_events_decode),
        cmocka_unit_test(ccf_event_refusals_say_why),
        cmocka_unit_test(unknown_shapes),
        cmocka_unit_test(batch_requests),
        cmocka_unit_test(batch_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
