/* ops_connectors.c: the five connector operations, and pause and resume. */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

#define UPDATE_ATTEMPTS 8

/* A create with a client_token: the first answer again, as it is now. */
static int create_with_token(struct api__call *call, struct ccf_connector *c, const char *token,
                             const unsigned char *hash)
{
    struct store_token tok = {.token = token, .hash = hash};
    int rc = store_create_connector_token(call->api->store, call->tenant, c, &tok);

    if (rc == CCF_ETOKEN)
        api__fail(call, 409,
                  "client_token %s was used with a different request body; use a new token "
                  "for a different request",
                  token);
    else if (rc == STORE_TOKEN_GONE)
        api__fail(call, 409,
                  "client_token %s created connector %s, which has since been deleted; use a "
                  "new token to create another",
                  token, c->id);
    else if (rc < 0)
        api__store_fail(call, rc, "Connector", "");
    return rc < 0 || rc == STORE_TOKEN_GONE ? CCF_ECONFLICT : 0;
}

void api__create_connector(struct api__call *call)
{
    unsigned char hash[CCF_BODY_HASH_LEN];
    struct ccf_connector c = {0};
    struct ccf_diag d = {{0}};
    json_t *body = api__body(call);
    const char *token = NULL;
    int rc = 0;

    if (!body)
        return;
    if (ccf_connector_from_create(body, &c, &d) < 0 ||
        ccf_client_token_from_json(body, &token, hash, &d) < 0 ||
        (rc = api__schedule_apply(call->api, body, &c, ccf_now_us() / 1000000, &d)) == CCF_EINVAL) {
        api__fail(call, 400, "%s", d.msg);
        goto out;
    }
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", "");
        goto out;
    }
    if (token) {
        if (create_with_token(call, &c, token, hash) < 0)
            goto out;
    } else if ((rc = store_create_connector(call->api->store, call->tenant, &c)) < 0) {
        api__store_fail(call, rc, "Connector", "");
        goto out;
    }
    if (c.schedule)
        api__schedule_changed(call);
    memcpy(call->resp->connector_id, c.id, sizeof(c.id));
    api__reply(call, 201,
               json_pack("{s:o}", "connector", ccf_connector_summary_json(call->tenant, &c)));
out:
    ccf_connector_clear(&c);
    json_decref(body);
}

void api__get_connector(struct api__call *call)
{
    struct ccf_connector c = {0};
    int rc;

    if ((rc = store_get_connector(call->api->store, call->tenant, call->connector_id, &c)) < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        return;
    }
    /* The stored properties are JSON that ccfd validated and wrote: copied
     * into the answer as they are instead of parsed and dumped again. */
    if (ccf_json_object_text(c.properties))
        api__reply_with_raw(
            call, 200,
            json_pack("{s:o}", "connector", ccf_connector_summary_json(call->tenant, &c)),
            "container_properties", c.properties);
    else
        api__reply(call, 200,
                   json_pack("{s:o}", "connector", ccf_connector_full_json(call->tenant, &c)));
    ccf_connector_clear(&c);
}

/* Read, merge, validate, write if unchanged since the read; a concurrent
 * writer makes us merge again over its result. */
void api__update_connector(struct api__call *call)
{
    struct ccf_connector c = {0};
    struct ccf_diag d = {{0}};
    json_t *body = api__body(call);
    int rc = CCF_ECONFLICT;

    if (!body)
        return;
    if (ccf_connector_check_update(body, &d) < 0) {
        api__fail(call, 400, "%s", d.msg);
        goto out;
    }
    for (int i = 0; i < UPDATE_ATTEMPTS && rc == CCF_ECONFLICT; i++) {
        ccf_connector_clear(&c);
        if ((rc = store_get_connector(call->api->store, call->tenant, call->connector_id, &c)) < 0)
            break;
        if ((rc = ccf_connector_apply_update(body, &c, &d)) < 0 ||
            (rc = api__schedule_apply(call->api, body, &c, ccf_now_us() / 1000000, &d)) < 0) {
            if (rc == CCF_EINVAL) {
                api__fail(call, 400, "%s", d.msg);
                goto out;
            }
            break;
        }
        rc = store_update_connector(call->api->store, call->tenant, &c, c.version);
    }
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    if (json_object_get(body, "schedule"))
        api__schedule_changed(call);
    api__reply(call, 200,
               json_pack("{s:o}", "connector", ccf_connector_summary_json(call->tenant, &c)));
out:
    ccf_connector_clear(&c);
    json_decref(body);
}

static int add_connector(void *ctx, const struct ccf_connector *c)
{
    struct api__call *call = ctx;
    json_t *arr = json_object_get(call->resp_json, "connectors");

    json_array_append_new(arr, ccf_connector_summary_json(call->tenant, c));
    return 0;
}

void api__list_connectors(struct api__call *call)
{
    struct store_page page;
    char *next = NULL;
    int rc;

    if (api__page(call, "connectors", "", CCF_PAGE_MAX, &page) < 0)
        return;
    call->resp_json = json_pack("{s:[]}", "connectors");
    rc = store_list_connectors(call->api->store, call->tenant, &page, add_connector, call, &next);
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", "");
        goto out;
    }
    api__set_next(call, call->resp_json, "connectors", "", next);
    api__reply(call, 200, call->resp_json);
    call->resp_json = NULL;
out:
    json_decref(call->resp_json);
    call->resp_json = NULL;
    free((char *)page.after);
}

void api__delete_connector(struct api__call *call)
{
    int rc = store_delete_connector(call->api->store, call->tenant, call->connector_id);

    if (rc == CCF_ECONFLICT) {
        api__fail(call, 409, "Connector %s is IN_USE; stop its job before deleting it",
                  call->connector_id);
        return;
    }
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        return;
    }
    api__reply(call, 204, NULL);
}

/* Pause and resume: read, set, write if unchanged since the read (a
 * scheduled run or an update between makes us read again). Idempotent:
 * a connector already as asked is not written, so a resume never moves a
 * due run that was not paused. */
static int set_paused(struct api__call *call, bool paused, struct ccf_connector *c)
{
    int rc = CCF_ECONFLICT;

    for (int i = 0; i < UPDATE_ATTEMPTS && rc == CCF_ECONFLICT; i++) {
        ccf_connector_clear(c);
        if ((rc = store_get_connector(call->api->store, call->tenant, call->connector_id, c)) < 0)
            return rc;
        if (c->paused == paused)
            return 0;
        c->paused = paused;
        /* A resume starts from now: runs due while paused are dropped. */
        if ((rc = api__schedule_next(call->api, c, ccf_now_us() / 1000000)) < 0 ||
            (rc = store_set_paused(call->api->store, call->tenant, c, c->version)) < 0)
            continue;
    }
    if (rc == 0 && c->schedule)
        api__schedule_changed(call);
    return rc;
}

/* stop_active_job: the active job stops as by StopCustomConnectorJob; one
 * that is ending already, or none, is not an error. */
static void stop_active(struct api__call *call, const struct ccf_connector *c)
{
    struct store_transition tr = {
        .from_mask = (1u << CCF_JOB_STARTED) | (1u << CCF_JOB_RUNNING),
        .to = CCF_JOB_STOPPING,
    };

    if (c->status != CCF_CONNECTOR_IN_USE || !c->active_job_id[0])
        return;
    memcpy(call->resp->job_id, c->active_job_id, sizeof(c->active_job_id));
    (void)store_transition_job(call->api->store, call->tenant, c->id, c->active_job_id, &tr, NULL);
}

static void pause_or_resume(struct api__call *call, bool paused)
{
    struct ccf_connector c = {0};
    json_t *body = NULL, *v;
    bool stop = false;
    int rc;

    if (call->req->body_len > 0 && !(body = api__body(call)))
        return;
    if (paused && (v = json_object_get(body, "stop_active_job")) && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            api__fail(call, 400, "stop_active_job must be true or false");
            goto out;
        }
        stop = json_is_true(v);
    }
    if ((rc = set_paused(call, paused, &c)) < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    if (stop)
        stop_active(call, &c);
    api__reply(call, 200,
               json_pack("{s:o}", "connector", ccf_connector_summary_json(call->tenant, &c)));
out:
    ccf_connector_clear(&c);
    json_decref(body);
}

void api__pause_connector(struct api__call *call)
{
    pause_or_resume(call, true);
}

void api__resume_connector(struct api__call *call)
{
    pause_or_resume(call, false);
}
