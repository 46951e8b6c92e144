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
 * The writes themselves, by an operator or a job, are docstats.c's. */
#include "store/dynamodb/ddb_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define FILTER_READ 256 /* items a filtered Query reads at least */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* CCF_EINVAL when an id repeats (the API refuses them first). */
int ddb__no_duplicates(const struct ccf_document *docs, size_t n)
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
int ddb__connector_exists(struct store *s, const struct ccf_tenant *t, const char *connector_id)
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
    return store_ddb__put_documents_by(s, t, connector_id, NULL, docs, n);
}

int store_ddb__delete_documents(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *const *ids, size_t n)
{
    return store_ddb__delete_documents_by(s, t, connector_id, NULL, ids, n);
}

/* One of DynamoDB's pages (at most 1 MB: large ids end it early) into the
 * listing; *more when an item past the limit came. */
struct doc_listing {
    size_t limit, seen;
    bool filtered; /* the listing of the documents a job has not seen */
    bool more;
    char *last; /* the last id visited */
    store_document_fn visit;
    void *ctx;
};

static int visit_docs(json_t *items, struct doc_listing *l)
{
    struct ccf_document d;
    size_t i;
    json_t *it;
    int rc;

    json_array_foreach(items, i, it)
    {
        int bad = 0;

        if (l->seen == l->limit) {
            l->more = true;
            return 0;
        }
        d.id = ddb__get_s(it, "doc_id");
        d.checksum = ddb__get_s(it, "checksum");
        d.created_at = ddb__get_n(it, "created_at", &bad);
        d.updated_at = ddb__get_n(it, "updated_at", &bad);
        if (!d.id || !d.checksum || bad) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("item", "document"));
            return CCF_EIO;
        }
        if ((rc = l->visit(l->ctx, &d)) < 0)
            return rc;
        l->seen++;
        free(l->last);
        l->last = ccf_xstrdup(d.id);
    }
    return 0;
}

int store_ddb__list_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                              const struct store_page *p, store_document_fn visit, void *ctx,
                              char **next)
{
    int rc;

    if (store__page_check(p) < 0 || (p->after && !store__doc_key_valid(p->after)))
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if ((rc = ddb__connector_exists(s, t, connector_id)) < 0)
        return rc;
    return ddb__list_docs(s, t, connector_id, NULL, p, visit, ctx, next);
}

/* A page into the listing; the next asks for one more than what is left
 * of the listing's page (whether a next exists), or with not_job at least
 * FILTER_READ. */
static int visit_page(void *ctx, json_t *ans, json_t *req)
{
    struct doc_listing *l = ctx;
    size_t want;
    int rc;

    if ((rc = visit_docs(json_object_get(ans, "Items"), l)) < 0)
        return rc;
    if (l->more)
        return DDB__STOP;
    want = l->limit + 1 - l->seen;
    if (l->filtered && want < FILTER_READ)
        want = FILTER_READ;
    json_object_set_new(req, "Limit", json_integer((json_int_t)want));
    return 0;
}

int ddb__list_docs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                   const char *not_job, const struct store_page *p, store_document_fn visit,
                   void *ctx, char **next)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    struct doc_listing l = {
        .limit = p->limit, .filtered = not_job != NULL, .visit = visit, .ctx = ctx};
    json_t *req;
    int rc;

    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_DOCUMENTS, table);
    /* One more than the page: whether a next exists. */
    req = json_pack("{s:s,s:s,s:{s:o},s:I,s:b}", "TableName", table, "KeyConditionExpression",
                    "pk = :pk", "ExpressionAttributeValues", ":pk", ddb__s_val(pk), "Limit",
                    (json_int_t)(l.limit + 1), "ConsistentRead", 1);
    /* Not seen by a job: the filter is applied after Limit counts, so a
     * page reads at least FILTER_READ items of DynamoDB's. */
    if (req && not_job) {
        json_object_set_new(req, "FilterExpression",
                            json_string("attribute_not_exists(last_job) OR last_job <> :j"));
        json_object_set_new(json_object_get(req, "ExpressionAttributeValues"), ":j",
                            ddb__s_val(not_job));
        if (l.limit + 1 < FILTER_READ)
            json_object_set_new(req, "Limit", json_integer(FILTER_READ));
    }
    /* The page key is the last id listed: with the hash key, the whole
     * ExclusiveStartKey. */
    if (req && p->after)
        json_object_set_new(
            req, "ExclusiveStartKey",
            json_pack("{s:o,s:o}", "pk", ddb__s_val(pk), "doc_id", ddb__s_val(p->after)));
    rc = ddb__each_page(s, "Query", req, visit_page, &l, "list_documents");
    if (rc >= 0 && next && l.more) {
        *next = l.last;
        l.last = NULL;
    } else if (rc >= 0 && next) {
        *next = NULL;
    }
    free(l.last);
    return rc;
}
