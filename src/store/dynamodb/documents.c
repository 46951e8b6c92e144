/* documents.c: documents in the DynamoDB backend, each an item under its
 * connector's key ("REGION#ACCOUNT#CONNECTOR_ID", the jobs' hash key, in
 * the documents table) with the document id as range key, so that one
 * Query lists them in id order (DynamoDB orders S range keys bytewise, as
 * the contract does).
 *
 * A batch is not one transaction here: each document is a conditional-free
 * upsert of its own (created_at kept with if_not_exists), in the batch's
 * order, so that a batch cut short (a crash, an error) leaves a prefix of
 * it written and a retry of the same batch converges (docs/DECISIONS.md).
 * Not yet: the by-job variants and their statistics. */
#include "store/dynamodb/ddb_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* CCF_EINVAL when an id repeats (the API refuses them first). */
static int no_duplicates(const struct ccf_document *docs, size_t n)
{
    const char **ids = ccf_xcalloc(n ? n : 1, sizeof(*ids));
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        ids[i] = docs[i].id;
    qsort(ids, n, sizeof(*ids), cmp_str);
    for (size_t i = 1; i < n && rc == 0; i++) {
        if (strcmp(ids[i - 1], ids[i]) == 0)
            rc = CCF_EINVAL;
    }
    free(ids);
    return rc;
}

/* 0 when the connector exists, else CCF_ENOTFOUND (or the read's error). */
static int connector_exists(struct store *s, const struct ccf_tenant *t, const char *connector_id)
{
    struct ccf_connector c;
    int rc = store_ddb__get_connector(s, t, connector_id, &c);

    if (rc == 0)
        ccf_connector_clear(&c);
    return rc;
}

int store_ddb__put_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                             const struct ccf_document *docs, size_t n)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    int64_t now = ccf_now_us();
    int rc;

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (!docs[i].id || !docs[i].checksum)
            return CCF_EINVAL;
    }
    if ((rc = no_duplicates(docs, n)) < 0 || (rc = connector_exists(s, t, connector_id)) < 0)
        return rc;
    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_DOCUMENTS, table);
    for (size_t i = 0; i < n; i++) {
        rc = ddb__call(s, "UpdateItem",
                       json_pack("{s:s,s:{s:o,s:o},s:s,s:{s:o,s:o}}", "TableName", table, "Key",
                                 "pk", ddb__s_val(pk), "doc_id", ddb__s_val(docs[i].id),
                                 "UpdateExpression",
                                 "SET checksum = :c, updated_at = :now, "
                                 "created_at = if_not_exists(created_at, :now)",
                                 "ExpressionAttributeValues", ":c", ddb__s_val(docs[i].checksum),
                                 ":now", ddb__n_val(now)),
                       NULL, "put_documents");
        if (rc < 0)
            return rc;
    }
    return 0;
}

int store_ddb__delete_documents(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *const *ids, size_t n)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    int rc;

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i])
            return CCF_EINVAL;
    }
    if ((rc = connector_exists(s, t, connector_id)) < 0)
        return rc;
    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_DOCUMENTS, table);
    for (size_t i = 0; i < n; i++) {
        if ((rc = ddb__call(s, "DeleteItem",
                            json_pack("{s:s,s:{s:o,s:o}}", "TableName", table, "Key", "pk",
                                      ddb__s_val(pk), "doc_id", ddb__s_val(ids[i])),
                            NULL, "delete_documents")) < 0)
            return rc;
    }
    return 0;
}

int store_ddb__list_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                              const struct store_page *p, store_document_fn visit, void *ctx,
                              char **next)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    struct ccf_document d;
    const char *last = NULL;
    json_t *req, *ans, *it;
    size_t i, n;
    int rc;

    if (store__page_check(p) < 0 || (p->after && !store__doc_key_valid(p->after)))
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if ((rc = connector_exists(s, t, connector_id)) < 0)
        return rc;
    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_DOCUMENTS, table);
    req = json_pack("{s:s,s:s,s:{s:o},s:I,s:b}", "TableName", table, "KeyConditionExpression",
                    "pk = :pk", "ExpressionAttributeValues", ":pk", ddb__s_val(pk), "Limit",
                    (json_int_t)p->limit + 1, "ConsistentRead", 1);
    /* The page key is the last id listed: with the hash key, the whole
     * ExclusiveStartKey. */
    if (p->after)
        json_object_set_new(
            req, "ExclusiveStartKey",
            json_pack("{s:o,s:o}", "pk", ddb__s_val(pk), "doc_id", ddb__s_val(p->after)));
    if ((rc = ddb__call(s, "Query", req, &ans, "list_documents")) < 0)
        return rc;
    n = json_array_size(json_object_get(ans, "Items"));
    json_array_foreach(json_object_get(ans, "Items"), i, it)
    {
        int bad = 0;

        if (i == p->limit)
            break;
        d.id = ddb__get_s(it, "doc_id");
        d.checksum = ddb__get_s(it, "checksum");
        d.created_at = ddb__get_n(it, "created_at", &bad);
        d.updated_at = ddb__get_n(it, "updated_at", &bad);
        if (!d.id || !d.checksum || bad) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("item", "document"));
            rc = CCF_EIO;
            break;
        }
        if ((rc = visit(ctx, &d)) < 0)
            break;
        last = d.id;
    }
    if (rc >= 0 && next)
        *next = n > p->limit && last ? ccf_xstrdup(last) : NULL;
    json_decref(ans);
    return rc < 0 ? rc : 0;
}

/* With an operator's key (job_id NULL) these are the plain calls; a job's
 * own writes need its statistics, not counted here yet. */
int store_ddb__put_documents_by(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *job_id,
                                const struct ccf_document *docs, size_t n)
{
    if (job_id)
        return store__missing(s, "put_documents_by");
    return store_ddb__put_documents(s, t, connector_id, docs, n);
}

int store_ddb__delete_documents_by(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const char *job_id,
                                   const char *const *ids, size_t n)
{
    if (job_id)
        return store__missing(s, "delete_documents_by");
    return store_ddb__delete_documents(s, t, connector_id, ids, n);
}
