/* audit.c: the api's side of the audit log: which answers are recorded,
 * the record of a request (never its body, query or a secret), and
 * ListAuditEvents, read with cursors as ListEvents is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

#define AUDIT_MAX     1000
#define AUDIT_DEFAULT 100
#define CURSOR_SCOPE  "audit"

bool api__audit_recordable(const struct api__call *call, bool write)
{
    const struct api_response *resp = call->resp;

    /* Unrouted requests (404, 405) name no operation: nothing was done. */
    if (!resp->operation || strcmp(resp->operation, "Health") == 0)
        return false;
    if (resp->status == 403 || resp->status == 409 || resp->status == 429)
        return true;
    return write && resp->status >= 200 && resp->status < 300;
}

static void fill_who(const struct api_request *req, struct store_audit *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->tenant = req->tenant;
    snprintf(rec->request_id, sizeof(rec->request_id), "%s",
             req->request_id ? req->request_id : "");
    snprintf(rec->access_key_id, sizeof(rec->access_key_id), "%s",
             req->access_key_id ? req->access_key_id : "");
    snprintf(rec->principal_job, sizeof(rec->principal_job), "%s", req->job_id ? req->job_id : "");
    snprintf(rec->source_ip, sizeof(rec->source_ip), "%s", req->source_ip ? req->source_ip : "");
}

void api__audit_fill(const struct api__call *call, struct store_audit *rec)
{
    const struct api_response *resp = call->resp;

    fill_who(call->req, rec);
    snprintf(rec->operation, sizeof(rec->operation), "%s", resp->operation);
    /* The path's ids, or what the request created (a job, a connector). */
    memcpy(rec->connector_id, resp->connector_id, sizeof(rec->connector_id));
    memcpy(rec->job_id, resp->job_id, sizeof(rec->job_id));
    rec->status = resp->status;
    snprintf(rec->error_type, sizeof(rec->error_type), "%s",
             resp->error_type && resp->status >= 400 ? resp->error_type : "");
}

void api__audit_begin(const struct api__call *call, struct store_audit *rec)
{
    const char *op;

    fill_who(call->req, rec);
    op = api_operation_of(call->req->method, call->req->target, rec->connector_id, rec->job_id);
    snprintf(rec->operation, sizeof(rec->operation), "%s", op ? op : "");
}

void api_audit_refused(const struct api_request *req, struct store_audit *rec)
{
    const char *op;

    fill_who(req, rec);
    op = api_operation_of(req->method, req->target, rec->connector_id, rec->job_id);
    /* A refused request on no route still tells who tried: "None", the
     * metrics' label for the unrouted. */
    snprintf(rec->operation, sizeof(rec->operation), "%s", op ? op : "None");
}

static json_t *record_json(const struct store_audit *r)
{
    char principal[4 + CCF_JOB_ID_LEN + 1];
    json_t *o;

    if (r->principal_job[0])
        snprintf(principal, sizeof(principal), "job:%s", r->principal_job);
    else
        snprintf(principal, sizeof(principal), "key");
    o = json_pack("{s:o,s:s,s:s,s:s,s:s,s:s}", "time", ccf_time_json(r->at), "request_id",
                  r->request_id, "operation", r->operation, "access_key_id", r->access_key_id,
                  "principal", principal, "source_ip", r->source_ip);
    if (!o)
        return json_object(); /* cannot happen: every field is ASCII ccfd wrote */
    if (r->connector_id[0])
        json_object_set_new(o, "connector_id", json_string(r->connector_id));
    if (r->job_id[0])
        json_object_set_new(o, "job_id", json_string(r->job_id));
    json_object_set_new(o, "status", json_integer(r->status));
    if (r->error_type[0])
        json_object_set_new(o, "error_type", json_string(r->error_type));
    return o;
}

static void reply(struct api__call *call, const struct store_audit *recs, size_t n, int64_t next)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, record_json(&recs[i]));
    api__cursor_reply(call, CURSOR_SCOPE, "audit_events", arr, next);
}

void api__list_audit_events(struct api__call *call)
{
    struct store_audit *recs;
    const char *v;
    size_t max;
    int64_t after, next = 0;
    int n;

    if (api__max_results(call, AUDIT_MAX, &max) < 0 || api__query_get(call, "max_results", &v) < 0)
        return;
    if (!v)
        max = AUDIT_DEFAULT;
    if (api__cursor_after(call, CURSOR_SCOPE, "this audit log", &after) < 0)
        return;
    recs = ccf_xmalloc(max * sizeof(*recs));
    n = store_read_audit(call->api->store, call->tenant, after, max, recs, &next);
    if (n == CCF_EEXPIRED)
        api_error_typed(call->resp, 400, "ExpiredCursorException",
                        "The audit records after this cursor are no longer kept; start again "
                        "without after");
    else if (n < 0)
        api__store_fail(call, n, "Audit log", "");
    else
        reply(call, recs, (size_t)n, next);
    free(recs);
}
