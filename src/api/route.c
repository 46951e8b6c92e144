/* route.c: api_handle: splits the raw target, finds the route, and applies
 * the contract's order of checks (route 404, method 405, path ids 404,
 * Content-Type 415) before an operation sees the request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"

#define SEG_MAX 5
#define ID_C    "{c}"
#define ID_J    "{j}"
#define ID_W    "{w}"

struct method {
    const char *method;
    const char *op;
    api__op_fn fn;
};

struct route {
    const char *seg[SEG_MAX];
    size_t nseg;
    const char *allow;
    struct method m[3];
};

static const struct route routes[] = {
    {{"custom-connectors"},
     1,
     "GET, POST",
     {{"GET", "ListCustomConnectors", api__list_connectors},
      {"POST", "CreateCustomConnector", api__create_connector}}},
    {{"custom-connectors", ID_C},
     2,
     "DELETE, GET, PUT",
     {{"GET", "GetCustomConnector", api__get_connector},
      {"PUT", "UpdateCustomConnector", api__update_connector},
      {"DELETE", "DeleteCustomConnector", api__delete_connector}}},
    {{"custom-connectors", ID_C, "pause"},
     3,
     "POST",
     {{"POST", "PauseCustomConnector", api__pause_connector}}},
    {{"custom-connectors", ID_C, "resume"},
     3,
     "POST",
     {{"POST", "ResumeCustomConnector", api__resume_connector}}},
    {{"custom-connectors", ID_C, "jobs"},
     3,
     "GET, POST",
     {{"GET", "ListCustomConnectorJobs", api__list_jobs},
      {"POST", "StartCustomConnectorJob", api__start_job}}},
    {{"custom-connectors", ID_C, "jobs", ID_J},
     4,
     "GET",
     {{"GET", "GetCustomConnectorJob", api__get_job}}},
    {{"custom-connectors", ID_C, "jobs", ID_J, "stop"},
     5,
     "POST",
     {{"POST", "StopCustomConnectorJob", api__stop_job}}},
    {{"custom-connectors", ID_C, "jobs", ID_J, "logs"},
     5,
     "GET",
     {{"GET", "GetCustomConnectorJobLogs", api__job_logs}}},
    {{"custom-connectors", ID_C, "documents"},
     3,
     "DELETE, GET, POST",
     {{"GET", "ListCustomConnectorDocuments", api__list_documents},
      {"POST", "BatchPutCustomConnectorDocuments", api__put_documents},
      {"DELETE", "BatchDeleteCustomConnectorDocuments", api__delete_documents}}},
    {{"custom-connectors", ID_C, "checkpoint"},
     3,
     "DELETE, GET, PUT",
     {{"GET", "GetCustomConnectorCheckpoint", api__get_checkpoint},
      {"PUT", "PutCustomConnectorCheckpoint", api__put_checkpoint},
      {"DELETE", "DeleteCustomConnectorCheckpoint", api__delete_checkpoint}}},
    {{"custom-connectors", ID_C, "checkpoint", "versions"},
     4,
     "GET",
     {{"GET", "ListCustomConnectorCheckpointVersions", api__list_checkpoint_versions}}},
    {{"events"}, 1, "GET", {{"GET", "ListEvents", api__list_events}}},
    {{"webhooks"},
     1,
     "GET, POST",
     {{"GET", "ListWebhooks", api__list_webhooks}, {"POST", "CreateWebhook", api__create_webhook}}},
    {{"webhooks", ID_W},
     2,
     "DELETE, GET",
     {{"GET", "GetWebhook", api__get_webhook}, {"DELETE", "DeleteWebhook", api__delete_webhook}}},
    {{"webhooks", ID_W, "test"}, 3, "POST", {{"POST", "TestWebhook", api__test_webhook}}},
    {{"webhooks", ID_W, "deliveries"},
     3,
     "GET",
     {{"GET", "ListWebhookDeliveries", api__list_deliveries}}},
    {{"audit-events"}, 1, "GET", {{"GET", "ListAuditEvents", api__list_audit_events}}},
};

/* The path split into decoded segments; a segment that does not decode is NULL. */
struct path {
    char *seg[SEG_MAX];
    size_t nseg;
};

static void path_free(struct path *p)
{
    for (size_t i = 0; i < p->nseg; i++)
        free(p->seg[i]);
}

/* Splits what follows "/api/v1/"; false for too many or empty segments. */
static bool path_split(const char *s, size_t n, struct path *p)
{
    size_t start = 0;

    p->nseg = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '/')
            continue;
        if (i == start || p->nseg == SEG_MAX) {
            path_free(p);
            return false;
        }
        p->seg[p->nseg++] = api__pct_decode(s + start, i - start, false);
        start = i + 1;
    }
    return true;
}

static const struct route *route_find(const struct path *p)
{
    for (size_t r = 0; r < sizeof(routes) / sizeof(routes[0]); r++) {
        const struct route *rt = &routes[r];
        bool ok = rt->nseg == p->nseg;
        for (size_t i = 0; ok && i < p->nseg; i++) {
            const char *want = rt->seg[i];
            if (strcmp(want, ID_C) != 0 && strcmp(want, ID_J) != 0 && strcmp(want, ID_W) != 0)
                ok = p->seg[i] && strcmp(p->seg[i], want) == 0;
        }
        if (ok)
            return rt;
    }
    return NULL;
}

/* application/json, with parameters allowed, any case. */
bool api__json_media_type(const char *ct)
{
    size_t n;

    while (*ct == ' ' || *ct == '\t')
        ct++;
    n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

static const char health_op[] = "Health";

static void not_found_route(struct api__call *call)
{
    api__fail(call, 404, "No API resource at this path; see the API reference for the paths");
}

static void healthz(struct api__call *call)
{
    int rc;

    call->resp->operation = health_op;
    if (strcmp(call->req->method, "GET") != 0) {
        api__fail(call, 405, "Method %.16s is not allowed here; allowed: GET", call->req->method);
        call->resp->headers[0].name = "Allow";
        snprintf(call->resp->headers[0].value, sizeof(call->resp->headers[0].value), "GET");
        call->resp->nheaders = 1;
        return;
    }
    if ((rc = store_ping(call->api->store)) < 0) {
        api__store_fail(call, rc, "Store", "");
        return;
    }
    api__reply(call, 200, json_pack("{s:s}", "status", "ok"));
}

/* An id as given, made safe to echo: printable ASCII, at most 64 chars. */
static void echo_id(const char *seg, char out[65])
{
    size_t i = 0;

    for (; seg && seg[i] && i < 64; i++)
        out[i] = (seg[i] >= 0x20 && seg[i] < 0x7f) ? seg[i] : '?';
    out[i] = '\0';
}

/* Checks ids and Content-Type, parses the query, then runs the operation. */
static void dispatch(struct api__call *call, const struct route *rt, const struct method *m,
                     const struct path *p)
{
    const struct api_request *req = call->req;
    char shown[65];

    for (size_t i = 0; i < p->nseg; i++) {
        if (strcmp(rt->seg[i], ID_C) == 0) {
            if (!p->seg[i] || !ccf_connector_id_valid(p->seg[i])) {
                echo_id(p->seg[i], shown);
                api__fail(call, 404, "Connector %s not found", shown);
                return;
            }
            call->connector_id = p->seg[i];
            snprintf(call->resp->connector_id, sizeof(call->resp->connector_id), "%s", p->seg[i]);
        } else if (strcmp(rt->seg[i], ID_J) == 0) {
            if (!p->seg[i] || !ccf_job_id_valid(p->seg[i])) {
                echo_id(p->seg[i], shown);
                api__fail(call, 404, "Job %s not found", shown);
                return;
            }
            call->job_id = p->seg[i];
            snprintf(call->resp->job_id, sizeof(call->resp->job_id), "%s", p->seg[i]);
        } else if (strcmp(rt->seg[i], ID_W) == 0) {
            if (!p->seg[i] || !store_webhook_id_valid(p->seg[i])) {
                echo_id(p->seg[i], shown);
                api__fail(call, 404, "Webhook %s not found", shown);
                return;
            }
            call->webhook_id = p->seg[i];
        }
    }
    if (req->has_body && req->content_type && !api__json_media_type(req->content_type)) {
        api__fail(call, 415, "Content-Type must be application/json");
        return;
    }
    if (api__query_parse(call, call->query_string) < 0) {
        api__fail(call, 400, "Too many query parameters (at most %d)", API__QUERY_MAX);
        return;
    }
    m->fn(call);
}

static void route(struct api__call *call, const char *path, size_t plen)
{
    static const char prefix[] = "/api/v1/";
    const struct route *rt;
    struct path p;

    if (plen < sizeof(prefix) || strncmp(path, prefix, sizeof(prefix) - 1) != 0 ||
        !path_split(path + sizeof(prefix) - 1, plen - (sizeof(prefix) - 1), &p)) {
        not_found_route(call);
        return;
    }
    if (!(rt = route_find(&p))) {
        not_found_route(call);
        goto out;
    }
    for (size_t i = 0; i < 3 && rt->m[i].method; i++) {
        if (strcmp(rt->m[i].method, call->req->method) == 0) {
            call->resp->operation = rt->m[i].op;
            dispatch(call, rt, &rt->m[i], &p);
            goto out;
        }
    }
    api__fail(call, 405, "Method %.16s is not allowed here; allowed: %s", call->req->method,
              rt->allow);
    call->resp->headers[0].name = "Allow";
    snprintf(call->resp->headers[0].value, sizeof(call->resp->headers[0].value), "%s", rt->allow);
    call->resp->nheaders = 1;
out:
    path_free(&p);
}

/* bench/events_cost.py's build without the audit log. */
#ifdef CCF_BENCH_NO_AUDIT
#define AUDIT_ON false
#else
#define AUDIT_ON true
#endif

static bool is_write(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static void handle(struct api__call *call)
{
    const struct api_request *req = call->req;
    const char *q = strchr(req->target, '?');
    size_t plen = q ? (size_t)(q - req->target) : strlen(req->target);

    if (plen == 8 && strncmp(req->target, "/healthz", 8) == 0) {
        healthz(call);
        return;
    }
    call->query_string = q ? q + 1 : "";
    route(call, req->target, plen);
}

/* The body of a write's transaction: the operation, then its record. */
static int audited(void *ctx, struct store_audit *rec)
{
    struct api__call *call = ctx;

    handle(call);
    if (api__audit_recordable(call, true))
        api__audit_fill(call, rec);
    return 0;
}

/* The transaction did not commit: nothing the operation wrote is kept, so
 * its answer cannot stand. What the log line needs stays. */
static void audited_failed(struct api__call *call, int rc)
{
    struct api_response *resp = call->resp;
    const char *op = resp->operation;
    char cid[sizeof(resp->connector_id)], jid[sizeof(resp->job_id)];

    memcpy(cid, resp->connector_id, sizeof(cid));
    memcpy(jid, resp->job_id, sizeof(jid));
    api_response_clear(resp);
    api__store_fail(call, rc == CCF_ENOTFOUND ? CCF_EIO : rc, "", "");
    resp->operation = op;
    memcpy(resp->connector_id, cid, sizeof(cid));
    memcpy(resp->job_id, jid, sizeof(jid));
    call->wake_scheduler = false;
    call->wake_webhooks = false;
}

/* The route and method a request would reach (NULL: none), with the ids its
 * path names ("" when none). Never reads the store. */
static const struct method *method_of(const char *method, const char *target,
                                      char connector_id[CCF_CONNECTOR_ID_LEN + 1],
                                      char job_id[CCF_JOB_ID_LEN + 1])
{
    static const char prefix[] = "/api/v1/";
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    const struct method *m = NULL;
    const struct route *rt;
    struct path p;

    connector_id[0] = job_id[0] = '\0';
    if (plen < sizeof(prefix) || strncmp(target, prefix, sizeof(prefix) - 1) != 0 ||
        !path_split(target + sizeof(prefix) - 1, plen - (sizeof(prefix) - 1), &p))
        return NULL;
    if ((rt = route_find(&p))) {
        for (size_t i = 0; i < 3 && rt->m[i].method; i++)
            if (strcmp(rt->m[i].method, method) == 0)
                m = &rt->m[i];
        for (size_t i = 0; m && i < p.nseg; i++) {
            if (strcmp(rt->seg[i], ID_C) == 0 && p.seg[i] && ccf_connector_id_valid(p.seg[i]))
                snprintf(connector_id, CCF_CONNECTOR_ID_LEN + 1, "%s", p.seg[i]);
            else if (strcmp(rt->seg[i], ID_J) == 0 && p.seg[i] && ccf_job_id_valid(p.seg[i]))
                snprintf(job_id, CCF_JOB_ID_LEN + 1, "%s", p.seg[i]);
        }
    }
    path_free(&p);
    return m;
}

const char *api_operation_of(const char *method, const char *target,
                             char connector_id[CCF_CONNECTOR_ID_LEN + 1],
                             char job_id[CCF_JOB_ID_LEN + 1])
{
    const struct method *m = method_of(method, target, connector_id, job_id);

    return m ? m->op : NULL;
}

/* A write's transaction runs on whichever thread leads the group commit and
 * holds every other writer until it commits, so what may wait (a webhook
 * URL's DNS) runs here first, on the request's own thread. */
static const struct {
    const char *op;
    bool (*pre)(struct api__call *call); /* false: it answered; the operation does not run */
} pre_steps[] = {
    {"CreateWebhook", api__create_webhook_pre},
};

static bool pre_write(struct api__call *call)
{
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    const struct method *m = method_of(call->req->method, call->req->target, cid, jid);

    for (size_t i = 0; m && i < sizeof(pre_steps) / sizeof(pre_steps[0]); i++) {
        if (strcmp(pre_steps[i].op, m->op) == 0 && !pre_steps[i].pre(call)) {
            call->resp->operation = m->op;
            return false;
        }
    }
    return true;
}

void api_handle(struct api *a, const struct api_request *req, struct api_response *resp)
{
    struct api__call call = {.api = a, .req = req, .resp = resp, .tenant = &req->tenant};
    struct store_audit rec;
    int rc;

    memset(resp, 0, sizeof(*resp));
    if (AUDIT_ON && is_write(req->method)) {
        if (!pre_write(&call))
            goto out; /* answered (a 400: not a record) */
        api__audit_begin(&call, &rec);
        if ((rc = store_audited_write(a->store, audited, &call, &rec)) < 0)
            audited_failed(&call, rc);
    } else {
        handle(&call);
    }
out:
    api__query_free(&call);
    json_decref(call.body);
    /* After the commit: what they re-read must be there. */
    if (call.wake_scheduler && a->schedule_changed)
        a->schedule_changed(a->schedule_ctx);
    if (call.wake_webhooks && a->webhooks_changed)
        a->webhooks_changed(a->webhook_ctx);
}

const char *api_operation_name(size_t i)
{
    for (size_t r = 0; r < sizeof(routes) / sizeof(routes[0]); r++) {
        for (size_t k = 0; k < 3 && routes[r].m[k].method; k++) {
            if (i-- == 0)
                return routes[r].m[k].op;
        }
    }
    return i == 0 ? health_op : NULL;
}
