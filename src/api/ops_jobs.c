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

/* Why a start was refused: the store says only that it conflicted. */
static bool connector_paused(struct api__call *call)
{
    struct ccf_connector c = {0};
    bool paused =
        store_get_connector(call->api->store, call->tenant, call->connector_id, &c) == 0 &&
        c.paused;

    ccf_connector_clear(&c);
    return paused;
}

/* CCF_ECONFLICT (paused or IN_USE), a token's refusal, or the store's
 * other errors. A replayed token never gets here: the store answers it
 * before it looks at the connector's state. */
static void start_failed(struct api__call *call, int rc, const char *token,
                         const struct ccf_job *job)
{
    if (rc == CCF_ECONFLICT && connector_paused(call))
        api__fail(call, 409, "Connector %s is paused", call->connector_id);
    else if (rc == CCF_ECONFLICT)
        api__fail(call, 409, "Connector %s is IN_USE: a job is already active", call->connector_id);
    else if (rc == CCF_ETOKEN)
        api__fail(call, 409,
                  "client_token %s was used with a different request body; use a new token "
                  "for a different request",
                  token);
    else if (rc == STORE_TOKEN_GONE)
        api__fail(call, 409, "client_token %s started job %s, which is no longer kept", token,
                  job->id);
    else
        api__store_fail(call, rc, "Connector", call->connector_id);
}

void api__start_job(struct api__call *call)
{
    unsigned char hash[CCF_BODY_HASH_LEN];
    struct ccf_job job = {0};
    struct ccf_diag d = {{0}};
    json_t *body = NULL;
    const char *token = NULL;
    char *env = NULL;
    int rc;

    if (call->req->body_len > 0 && !(body = api__body(call)))
        return;
    if (ccf_job_start_from_json(body, &env, &d) < 0 ||
        ccf_client_token_from_json(body, &token, hash, &d) < 0) {
        api__fail(call, 400, "%s", d.msg);
        goto out;
    }
    if (token) {
        struct store_token tok = {.token = token, .hash = hash};
        rc = store_start_job_token(call->api->store, call->tenant, call->connector_id, env, &tok,
                                   &job);
    } else {
        rc = store_start_job(call->api->store, call->tenant, call->connector_id, env, &job);
    }
    if (rc < 0 || rc == STORE_TOKEN_GONE) {
        start_failed(call, rc, token, &job);
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

/* A signed decimal integer query parameter within [min, max]; 400 answered
 * on error. */
static int query_int(struct api__call *call, const char *name, int64_t min, int64_t max,
                     int64_t dflt, int64_t *out)
{
    const char *v, *p;
    int64_t x = 0;

    if (api__query_get(call, name, &v) < 0)
        return CCF_EINVAL;
    if (!v) {
        *out = dflt;
        return 0;
    }
    p = v + (v[0] == '-');
    if (!*p || strlen(p) > 15 || strspn(p, "0123456789") != strlen(p))
        goto bad;
    for (; *p; p++)
        x = x * 10 + (*p - '0');
    x = v[0] == '-' ? -x : x;
    if (x < min || x > max)
        goto bad;
    *out = x;
    return 0;
bad:
    api__fail(call, 400, "%s must be an integer from %lld to %lld", name, (long long)min,
              (long long)max);
    return CCF_EINVAL;
}

static void set_header(struct api_response *resp, const char *name, long long v)
{
    struct api_header *h = &resp->headers[resp->nheaders++];

    h->name = name;
    snprintf(h->value, sizeof(h->value), "%lld", v);
}

/* The attempt's log (0: the latest) from this machine's executor, where
 * the job ran here, else from the store, where the replica that runs it
 * ships it (store.h): the same bytes and offsets either way. The attempt
 * is named by number, so that a machine that ran an earlier attempt does
 * not answer for a later one run elsewhere. Not started, or nowhere: an
 * empty log. */
static int read_log(struct api__call *call, const struct ccf_job *job, int attempt, int64_t offset,
                    char *buf, size_t len, int64_t *size, int64_t *dropped)
{
    int n = CCF_ENOTFOUND;

    if (attempt == 0)
        attempt = job->attempt;
    if (call->api->read_log)
        n = call->api->read_log(call->api->read_log_ctx, job->id, attempt, offset, buf, len, size,
                                dropped);
    if (n == CCF_ENOTFOUND && attempt > 0)
        n = store_read_job_log(call->api->store, job->id, attempt, offset, buf, len, size, dropped);
    return n == CCF_ENOTFOUND ? 0 : n;
}

void api__job_logs(struct api__call *call)
{
    const int64_t cap = 1024 * 1024;
    struct ccf_job job = {0};
    int64_t offset, limit, attempt, size = 0, dropped = 0;
    char *buf = NULL;
    int rc, n = 0;

    if (query_int(call, "offset", -INT64_C(999999999999999), INT64_C(999999999999999), 0, &offset) <
            0 ||
        query_int(call, "limit", 1, cap, cap, &limit) < 0 ||
        query_int(call, "attempt", 1, 1000, 0, &attempt) < 0)
        return;
    rc = store_get_job(call->api->store, call->tenant, call->connector_id, call->job_id, &job);
    if (rc < 0) {
        job_not_found(call, rc);
        return;
    }
    /* The latest attempt is the default; one that never started has no log. */
    if (attempt > job.attempt) {
        api__fail(call, 404, "Attempt %lld of job %s not found: it has %d", (long long)attempt,
                  call->job_id, job.attempt);
        goto out;
    }
    buf = ccf_xmalloc((size_t)limit + 1);
    n = read_log(call, &job, (int)attempt, offset, buf, (size_t)limit, &size, &dropped);
    if (n < 0) {
        api__store_fail(call, n, "Job", call->job_id);
        goto out;
    }
    buf[n] = '\0';
    call->resp->status = 200;
    call->resp->body = buf;
    call->resp->body_len = (size_t)n;
    call->resp->content_type = "text/plain; charset=utf-8";
    buf = NULL;
    set_header(call->resp, "x-ccf-log-size", size);
    /* The job's latest attempt (the caller knows the one it asked for): a
     * follower moves on to the next attempt once it has read this one. */
    if (job.attempt > 0)
        set_header(call->resp, "x-ccf-job-attempt", job.attempt);
    call->resp->headers[call->resp->nheaders].name = "x-ccf-job-status";
    snprintf(call->resp->headers[call->resp->nheaders++].value, 128, "%s",
             ccf_job_status_name(job.status));
    if (dropped > 0)
        set_header(call->resp, "x-ccf-log-truncated", dropped);
out:
    free(buf);
    ccf_job_clear(&job);
}
