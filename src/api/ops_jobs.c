/* ops_jobs.c: start, list, get and stop a connector's jobs. Jobs only reach
 * the store here; the orchestrator acts on the changes the store records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

/* A missing job: say which of connector or job is missing. */
static void job_not_found(struct api__call *call, int rc)
{
    struct ccf_connector c = {0};

    if (rc == CCF_ENOTFOUND &&
        store_get_connector(call->api->store, call->tenant, call->connector_id, &c) == 0) {
        ccf_connector_clear(&c);
        api__store_fail(call, rc, "Job", call->job_id);
        return;
    }
    api__store_fail(call, rc, "Connector", call->connector_id);
}

void api__start_job(struct api__call *call)
{
    struct ccf_job job = {0};
    struct ccf_diag d = {{0}};
    json_t *body = NULL;
    char *env = NULL;
    int rc;

    if (call->req->body_len > 0 && !(body = api__body(call)))
        return;
    if (ccf_job_start_from_json(body, &env, &d) < 0) {
        api__fail(call, 400, "%s", d.msg);
        goto out;
    }
    rc = store_start_job(call->api->store, call->tenant, call->connector_id, env, &job);
    if (rc == CCF_ECONFLICT) {
        api__fail(call, 409, "Connector %s is IN_USE: a job is already active", call->connector_id);
        goto out;
    }
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    memcpy(call->resp->job_id, job.id, sizeof(job.id));
    api__reply(call, 201, json_pack("{s:o}", "job", ccf_job_json(&job)));
out:
    ccf_job_clear(&job);
    free(env);
    json_decref(body);
}

static int add_job(void *ctx, const struct ccf_job *j)
{
    struct api__call *call = ctx;

    json_array_append_new(json_object_get(call->resp_json, "jobs"), ccf_job_json(j));
    return 0;
}

void api__list_jobs(struct api__call *call)
{
    struct store_page page = {0};
    enum ccf_job_status st;
    const char *status;
    unsigned mask = 0;
    char scope[64], *next = NULL;
    int rc;

    if (api__query_get(call, "status", &status) < 0)
        return;
    if (status) {
        if (ccf_job_status_parse(status, &st) < 0) {
            api__fail(call, 400,
                      "status must be one of STARTED, RUNNING, STOPPING, SUCCEEDED, FAILED, "
                      "STOPPED");
            return;
        }
        mask = 1u << st;
    }
    snprintf(scope, sizeof(scope), "jobs:%s", call->connector_id);
    if (api__page(call, scope, status ? status : "", CCF_PAGE_MAX, &page) < 0)
        return;
    call->resp_json = json_pack("{s:[]}", "jobs");
    rc = store_list_jobs(call->api->store, call->tenant, call->connector_id, mask, &page, add_job,
                         call, &next);
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    api__set_next(call, call->resp_json, scope, status ? status : "", next);
    api__reply(call, 200, call->resp_json);
    call->resp_json = NULL;
out:
    json_decref(call->resp_json);
    call->resp_json = NULL;
    free((char *)page.after);
}

void api__get_job(struct api__call *call)
{
    struct ccf_job job = {0};
    int rc = store_get_job(call->api->store, call->tenant, call->connector_id, call->job_id, &job);

    if (rc < 0) {
        job_not_found(call, rc);
        return;
    }
    api__reply(call, 200, json_pack("{s:o}", "job", ccf_job_json(&job)));
    ccf_job_clear(&job);
}

void api__stop_job(struct api__call *call)
{
    struct store_transition tr = {
        .from_mask = (1u << CCF_JOB_STARTED) | (1u << CCF_JOB_RUNNING),
        .to = CCF_JOB_STOPPING,
    };
    struct ccf_job job = {0};
    int rc;

    rc = store_transition_job(call->api->store, call->tenant, call->connector_id, call->job_id, &tr,
                              NULL);
    if (rc == CCF_ECONFLICT && store_get_job(call->api->store, call->tenant, call->connector_id,
                                             call->job_id, &job) == 0) {
        api__fail(call, 409, "Job %s has already ended with status %s", call->job_id,
                  ccf_job_status_name(job.status));
        ccf_job_clear(&job);
        return;
    }
    if (rc < 0) {
        job_not_found(call, rc);
        return;
    }
    api__reply(call, 202, json_object());
}
