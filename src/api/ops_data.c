/* ops_data.c: document batches, the state a connector keeps between runs
 * (its checkpoint is in ops_checkpoint.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

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
    rc = store_put_documents(call->api->store, call->tenant, call->connector_id, docs, n);
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
    rc = store_delete_documents(call->api->store, call->tenant, call->connector_id, ids, n);
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

void api__list_documents(struct api__call *call)
{
    struct store_page page = {0};
    char scope[64], *next = NULL;
    int rc;

    snprintf(scope, sizeof(scope), "documents:%s", call->connector_id);
    if (api__page(call, scope, "", CCF_DOC_PAGE_MAX, &page) < 0)
        return;
    call->resp_json = json_pack("{s:[]}", "documents");
    rc = store_list_documents(call->api->store, call->tenant, call->connector_id, &page,
                              add_document, call, &next);
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    api__set_next(call, call->resp_json, scope, "", next);
    api__reply(call, 200, call->resp_json);
    call->resp_json = NULL;
out:
    json_decref(call->resp_json);
    call->resp_json = NULL;
    free((char *)page.after);
}
