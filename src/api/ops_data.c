/* ops_data.c: document batches, the state a connector keeps between runs
 * (its checkpoint is in ops_checkpoint.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

/* Whether the path's connector exists for this tenant: tells a missing
 * connector from a missing thing inside it. */
static bool connector_exists(struct api__call *call)
{
    struct ccf_connector c = {0};

    if (store_get_connector(call->api->store, call->tenant, call->connector_id, &c) < 0)
        return false;
    ccf_connector_clear(&c);
    return true;
}

void api__put_documents(struct api__call *call)
{
    struct ccf_diag d = {{0}};
    struct ccf_document *docs = NULL;
    json_t *body = api__body(call);
    size_t n = 0;
    int rc;

    if (!body)
        return;
    if (ccf_documents_from_put(body, &docs, &n, &d) < 0) {
        api__fail(call, 400, "%s", d.msg);
        goto out;
    }
    rc = store_put_documents_by(call->api->store, call->tenant, call->connector_id,
                                api__principal_job(call), docs, n);
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    api__reply(call, 202, json_object());
out:
    free(docs);
    json_decref(body);
}

void api__delete_documents(struct api__call *call)
{
    struct ccf_diag d = {{0}};
    const char **ids = NULL;
    json_t *body = api__body(call);
    size_t n = 0;
    int rc;

    if (!body)
        return;
    if (ccf_documents_from_delete(body, &ids, &n, &d) < 0) {
        api__fail(call, 400, "%s", d.msg);
        goto out;
    }
    rc = store_delete_documents_by(call->api->store, call->tenant, call->connector_id,
                                   api__principal_job(call), ids, n);
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    api__reply(call, 202, json_object());
out:
    free(ids);
    json_decref(body);
}

static int add_document(void *ctx, const struct ccf_document *doc)
{
    struct api__call *call = ctx;

    json_array_append_new(json_object_get(call->resp_json, "documents"), ccf_document_json(doc));
    return 0;
}

/* not_seen_by_job names a job of this connector: a malformed id or another
 * connector's job is that job's 404, as in the job's own path. */
static int unseen_filter(struct api__call *call, const char **job_id, char *filter, size_t size)
{
    struct ccf_job j;
    int rc;

    if (api__query_get(call, "not_seen_by_job", job_id) < 0)
        return CCF_EINVAL;
    snprintf(filter, size, "not_seen_by_job=%s", *job_id ? *job_id : "");
    if (!*job_id)
        return 0;
    memset(&j, 0, sizeof(j));
    rc = store_get_job(call->api->store, call->tenant, call->connector_id, *job_id, &j);
    ccf_job_clear(&j);
    if (rc == CCF_ENOTFOUND && connector_exists(call)) {
        api__store_fail(call, rc, "Job", *job_id);
        return rc;
    }
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        return rc;
    }
    return 0;
}

void api__list_documents(struct api__call *call)
{
    struct store_page page = {0};
    char scope[64], filter[64], *next = NULL;
    const char *job_id = NULL;
    int rc;

    snprintf(scope, sizeof(scope), "documents:%s", call->connector_id);
    if (unseen_filter(call, &job_id, filter, sizeof(filter)) < 0)
        return;
    /* The filter is "" without one, as before: old tokens stay valid. */
    if (api__page(call, scope, job_id ? filter : "", CCF_DOC_PAGE_MAX, &page) < 0)
        return;
    call->resp_json = json_pack("{s:[]}", "documents");
    if (job_id)
        rc = store_list_documents_not_seen(call->api->store, call->tenant, call->connector_id,
                                           job_id, &page, add_document, call, &next);
    else
        rc = store_list_documents(call->api->store, call->tenant, call->connector_id, &page,
                                  add_document, call, &next);
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    api__set_next(call, call->resp_json, scope, job_id ? filter : "", next);
    api__reply(call, 200, call->resp_json);
    call->resp_json = NULL;
out:
    json_decref(call->resp_json);
    call->resp_json = NULL;
    free((char *)page.after);
}
