/* dispatch.c: the AWS profile's three event sources, each to the handler
 * ccfd runs for it (dispatch.h). The event is decoded once (events.h);
 * what comes back is built here. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "lambda/dispatch.h"
#include "lambda/events.h"
#include "lambda/schedules.h"

#define LONG_POLL_STEP_MS 250

static int fail(const char **err_type, const char *type, int rc)
{
    *err_type = type;
    return rc;
}

/* The body as API Gateway wants it: text when it is UTF-8, else base64. */
static void set_body(json_t *doc, const struct api_response *r)
{
    json_t *text = r->body ? json_stringn(r->body, r->body_len) : json_string("");
    unsigned char *b64;
    size_t cap;

    if (text) {
        json_object_set_new(doc, "body", text);
        json_object_set_new(doc, "isBase64Encoded", json_false());
        return;
    }
    if (!ccf_size_mul(r->body_len / 3 + 1, 4, &cap) || cap > INT32_MAX)
        abort(); /* bounded by the log operation's 1 MiB */
    b64 = ccf_xmalloc(cap + 1);
    EVP_EncodeBlock(b64, (const unsigned char *)r->body, (int)r->body_len);
    json_object_set_new(doc, "body", json_string((const char *)b64));
    json_object_set_new(doc, "isBase64Encoded", json_true());
    free(b64);
}

/* The connector a successful write may have changed the schedule of:
 * create, update, delete, pause, resume. "" for any other request. */
static void schedule_touched(const struct api_response *r, char cid[CCF_CONNECTOR_ID_LEN + 1])
{
    static const char *const ops[] = {"CreateCustomConnector", "UpdateCustomConnector",
                                      "DeleteCustomConnector", "PauseCustomConnector",
                                      "ResumeCustomConnector"};

    cid[0] = '\0';
    if (r->status < 200 || r->status > 299 || !r->operation ||
        !ccf_connector_id_valid(r->connector_id))
        return;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(r->operation, ops[i]) == 0)
            memcpy(cid, r->connector_id, CCF_CONNECTOR_ID_LEN + 1);
}

static char *proxy_response(const struct api_response *r, const char *request_id)
{
    json_t *doc = json_object(), *headers = json_object();
    char *out;

    if (r->content_type)
        json_object_set_new(headers, "Content-Type", json_string(r->content_type));
    if (r->error_type)
        json_object_set_new(headers, "x-amzn-ErrorType", json_string(r->error_type));
    json_object_set_new(headers, "x-amzn-RequestId", json_string(request_id));
    for (size_t i = 0; i < r->nheaders; i++)
        json_object_set_new(headers, r->headers[i].name, json_string(r->headers[i].value));
    json_object_set_new(doc, "statusCode", json_integer(r->status));
    json_object_set_new(doc, "headers", headers);
    set_body(doc, r);
    out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!out)
        abort(); /* every value above is valid: only memory can fail */
    return out;
}

/* A long poll that found nothing (ListEvents' wait_seconds): ccfd parks
 * it until a commit's hook, but here the writes that would end it come
 * through other instances as well, which no hook of this one hears. So
 * the request runs again every LONG_POLL_STEP_MS until it finds events
 * or its wait is over (at most 20 s: the template's function timeout is
 * 30 s, API Gateway's 29 s). The last answer is a correct one either way. */
static void long_poll(struct lambda_app *app, const struct api_request *req,
                      struct api_response *resp)
{
    int64_t until = ccf_now_us() + (int64_t)resp->wait_seconds * 1000000;

    while (resp->wait_seconds > 0) {
        int64_t left = until - ccf_now_us();
        struct timespec ts;
        if (left <= 0)
            break;
        if (left > LONG_POLL_STEP_MS * 1000)
            left = LONG_POLL_STEP_MS * 1000;
        ts.tv_sec = (time_t)(left / 1000000);
        ts.tv_nsec = (long)(left % 1000000) * 1000;
        nanosleep(&ts, NULL);
        api_response_clear(resp);
        api_handle(app->api, req, resp);
    }
}

static int on_api(struct lambda_app *app, const json_t *root, const char *id, char **out,
                  const char **err_type, char *err, size_t n)
{
    struct lambda_api_event ev;
    struct api_request req = {0};
    struct api_response resp = {0};
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    int rc;

    if ((rc = lambda_api_event_decode(root, &ev, err, n)) < 0)
        return fail(err_type, "MalformedApiGatewayEvent", rc);
    req.method = ev.method;
    req.target = ev.target;
    req.content_type = ev.content_type;
    req.body = ev.body ? ev.body : "";
    req.body_len = ev.body_len;
    req.has_body = ev.body_len > 0;
    req.if_match = ev.if_match_repeated ? API_HEADER_REPEATED : ev.if_match;
    req.if_none_match = ev.if_none_match_repeated ? API_HEADER_REPEATED : ev.if_none_match;
    req.request_id = ev.request_id[0] ? ev.request_id : id;
    req.access_key_id = ev.access_key_id;
    req.source_ip = ev.source_ip;
    if (ccf_tenant_init(&req.tenant, app->region, ev.account_id) < 0)
        abort(); /* both checked: the region at start, the account by the decoder */
    if (ev.body_len > CCF_BODY_MAX)
        api_error(&resp, 413, "The request body is over 8 MiB");
    else
        api_handle(app->api, &req, &resp);
    long_poll(app, &req, &resp);
    /* After the store's commit; what a failed sync leaves is put right by
     * the stale schedule's own fire or the tick (docs/DECISIONS.md). */
    schedule_touched(&resp, cid);
    if (cid[0])
        lambda_schedule_sync(app, &req.tenant, cid);
    *out = proxy_response(&resp, req.request_id);
    CCF_LOG_INFO("lambda.request", CCF_KV_STR("method", ev.method), CCF_KV_STR("path", ev.target),
                 CCF_KV_INT("status", resp.status), CCF_KV_STR("account", ev.account_id),
                 CCF_KV_STR("request_id", req.request_id));
    api_response_clear(&resp);
    lambda_api_event_clear(&ev);
    return 0;
}

/* Records are applied in order; the first that fails is reported, and
 * Lambda retries from it (the later ones with it: a job's stop must not
 * overtake its start). */
static int on_stream(struct lambda_app *app, const json_t *root, char **out, const char **err_type,
                     char *err, size_t n)
{
    struct lambda_stream_batch b;
    json_t *doc, *failures = json_array();
    int rc;

    if ((rc = lambda_stream_decode(root, &b, err, n)) < 0) {
        json_decref(failures);
        return fail(err_type, "MalformedStreamEvent", rc);
    }
    for (size_t i = 0; i < b.n; i++) {
        if (!b.records[i].relevant)
            continue;
        /* Never a batch item failure: the job's submit registers what a
         * failed prepare left missing. */
        if (b.records[i].connector) {
            orchestrator_prepare_connector(app->orch, &b.records[i].change.tenant,
                                           b.records[i].change.connector_id);
            continue;
        }
        /* A retry's wait: a one-time schedule starts the next attempt. */
        if ((rc = lambda_retry_wait(app, &b.records[i].change)) == 0)
            rc = orchestrator_handle_change(app->orch, &b.records[i].change);
        if (rc < 0) {
            CCF_LOG_WARN("lambda.change_failed", CCF_KV_STR("job_id", b.records[i].change.job_id),
                         CCF_KV_STR("sequence", b.records[i].sequence_number),
                         CCF_KV_STR("error", ccf_strerror(rc)));
            json_array_append_new(
                failures, json_pack("{s:s}", "itemIdentifier", b.records[i].sequence_number));
            break;
        }
    }
    doc = json_pack("{s:o}", "batchItemFailures", failures);
    *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    lambda_stream_batch_clear(&b);
    return 0;
}

/* Batch's state change as the executor's event (executor.h). */
static bool to_executor_event(const struct lambda_batch_state *s, struct executor_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    memcpy(ev->job_id, s->ref.job_id, sizeof(ev->job_id));
    ev->at_us = s->at_us;
    switch (s->status) {
    case LAMBDA_BATCH_RUNNING:
        ev->state = EXECUTOR_RUNNING;
        return true;
    case LAMBDA_BATCH_SUCCEEDED:
        ev->state = EXECUTOR_EXITED;
        ev->has_exit_code = true;
        ev->exit_code = s->has_exit_code ? s->exit_code : 0;
        return true;
    case LAMBDA_BATCH_FAILED:
        ev->state = EXECUTOR_EXITED;
        ev->has_exit_code = s->has_exit_code;
        ev->exit_code = s->exit_code;
        /* The timeout Batch enforced (at least 60 s), when it says which;
         * else the connector's, as the status handler words it. */
        if (s->timed_out && s->timeout_s > 0) {
            snprintf(ev->reason, sizeof(ev->reason), "timed out after %lld s",
                     (long long)s->timeout_s);
            ev->has_exit_code = false;
        } else {
            ev->timed_out = s->timed_out;
        }
        /* With an exit code the contract's own words say it; without one
         * (never started, killed by Batch) Batch's reason does. */
        if (!s->has_exit_code && !s->timed_out)
            snprintf(ev->reason, sizeof(ev->reason), "AWS Batch: %.200s",
                     s->reason[0] ? s->reason : "the job failed without an exit code");
        return true;
    default:
        return false; /* on its way: nothing to write yet */
    }
}

static int on_batch_state(struct lambda_app *app, const json_t *root, char **out,
                          const char **err_type, char *err, size_t n)
{
    struct lambda_batch_state s;
    struct executor_event ev;
    int rc;

    if ((rc = lambda_batch_state_decode(root, &s, err, n)) < 0)
        return fail(err_type, "MalformedBatchStateChange", rc);
    if (to_executor_event(&s, &ev) &&
        (rc = orchestrator_handle_outcome(app->orch, &s.ref, &ev)) < 0) {
        snprintf(err, n, "job %s: the outcome could not be applied (%s)", s.ref.job_id,
                 ccf_strerror(rc));
        return fail(err_type, "StateChangeNotApplied", rc);
    }
    *out = ccf_xstrdup("{}");
    return 0;
}

static int on_ccf(struct lambda_app *app, const json_t *root, char **out, const char **err_type,
                  char *err, size_t n)
{
    struct lambda_ccf_event ev;
    int rc;

    if ((rc = lambda_ccf_event_decode(root, &ev, err, n)) < 0)
        return fail(err_type, "MalformedCcfEvent", rc);
    /* Every tenant's region is the function's (the schedules it made say so). */
    if (ev.kind != LAMBDA_CCF_TICK && strcmp(ev.ref.tenant.region, app->region) != 0) {
        snprintf(err, n, "ccf event for region %s, not this function's (%s)", ev.ref.tenant.region,
                 app->region);
        return fail(err_type, "MalformedCcfEvent", CCF_EINVAL);
    }
    if ((rc = lambda_ccf_event(app, &ev, out, err, n)) < 0)
        return fail(err_type, "CcfEventNotApplied", rc);
    return 0;
}

int lambda_dispatch(struct lambda_app *app, const char *event, size_t len, const char *id,
                    char **out, const char **err_type, char *err, size_t n)
{
    json_error_t je;
    /* NUL allowed: API Gateway decodes a request's %00 into the event, and
     * the API handler, not the transport, says what is wrong with it. */
    json_t *root = json_loadb(event, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    int rc;

    if (!root) {
        snprintf(err, n, "the event is not JSON: %s (line %d)", je.text, je.line);
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
                *p = '?';
        return fail(err_type, "MalformedEvent", CCF_EINVAL);
    }
    switch (lambda_event_kind(root)) {
    case LAMBDA_EVENT_API:
        rc = on_api(app, root, id, out, err_type, err, n);
        break;
    case LAMBDA_EVENT_STREAM:
        rc = on_stream(app, root, out, err_type, err, n);
        break;
    case LAMBDA_EVENT_BATCH_STATE:
        rc = on_batch_state(app, root, out, err_type, err, n);
        break;
    case LAMBDA_EVENT_CCF:
        rc = on_ccf(app, root, out, err_type, err, n);
        break;
    default:
        snprintf(err, n,
                 "an event of no known shape (API Gateway REST proxy, DynamoDB Streams "
                 "Batch Job State Change, or ccf_event)");
        rc = fail(err_type, "UnknownEvent", CCF_EINVAL);
    }
    json_decref(root);
    return rc;
}
