/* docstats.c: documents written by an operator or by a job's own
 * credentials in the DynamoDB backend, the job's statistics, and the
 * listing of a connector's documents a job has not seen.
 *
 * Each document is an upsert of its own (documents.c says why) that
 * returns the item as it was, so that the put is classified exactly
 * (added: none, unchanged: the same checksum, else updated) by the write
 * itself, with no read that another writer could overtake. A job's put
 * sets the item's last_job to it, an operator's removes it; the not-seen
 * listing is the connector's documents filtered on last_job.
 *
 * The counts of a batch are then added to the job's item in one
 * UpdateItem (ADD, with the version moved so that a transition computed
 * from an older read writes again rather than overwriting them). Without
 * transactions, a batch whose process dies between its documents and its
 * count is not counted: statistics may under-count after a crash, never
 * over-count (docs/DECISIONS.md). */
#include "store/dynamodb/ddb_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* 0 when job_id is one of the connector's jobs, else CCF_ENOTFOUND. */
static int job_exists(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                      const char *job_id, const char *op)
{
    struct ccf_job j;
    int rc = ddb__load_job(s, t, connector_id, job_id, &j, op);

    if (rc == 0)
        ccf_job_clear(&j);
    return rc;
}

int ddb__job_count(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                   const char *job_id, const struct ccf_job_stats *n, const char *op)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    int rc;

    if (!n->documents_added && !n->documents_updated && !n->documents_unchanged &&
        !n->documents_deleted && !n->checkpoint_puts)
        return 0;
    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_JOBS, table);
    rc = ddb__call(
        s, "UpdateItem",
        json_pack("{s:s,s:{s:o,s:o},s:s,s:s,s:{s:o,s:o,s:o,s:o,s:o,s:o}}", "TableName", table,
                  "Key", "pk", ddb__s_val(pk), "job_id", ddb__s_val(job_id), "UpdateExpression",
                  "ADD st_added :a, st_updated :u, st_unchanged :n, st_deleted :d, "
                  "st_cp_puts :c SET version = version + :one",
                  "ConditionExpression", "attribute_exists(job_id)", "ExpressionAttributeValues",
                  ":a", ddb__n_val(n->documents_added), ":u", ddb__n_val(n->documents_updated),
                  ":n", ddb__n_val(n->documents_unchanged), ":d", ddb__n_val(n->documents_deleted),
                  ":c", ddb__n_val(n->checkpoint_puts), ":one", ddb__n_val(1)),
        NULL, op);
    /* The job went (its connector's delete) between the writes. */
    return rc == CCF_ECONFLICT ? CCF_ENOTFOUND : rc;
}

/* The common checks of a write: the connector, and the job as its own. */
static int write_check(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                       const char *job_id, const char *op)
{
    int rc;

    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if (job_id && !ccf_job_id_valid(job_id))
        return CCF_EINVAL;
    if ((rc = ddb__connector_exists(s, t, connector_id)) < 0)
        return rc;
    return job_id ? job_exists(s, t, connector_id, job_id, op) : 0;
}

/* One document's upsert; counted into *n by what it replaced. */
static int put_one(struct store *s, const char *table, const char *pk, const char *job_id,
                   const struct ccf_document *d, int64_t now, struct ccf_job_stats *n)
{
    json_t *req, *ans, *old;
    const char *was;
    int rc;

    req = json_pack("{s:s,s:{s:o,s:o},s:{s:o,s:o},s:s}", "TableName", table, "Key", "pk",
                    ddb__s_val(pk), "doc_id", ddb__s_val(d->id), "ExpressionAttributeValues", ":c",
                    ddb__s_val(d->checksum), ":now", ddb__n_val(now), "ReturnValues", "ALL_OLD");
    if (job_id) {
        json_object_set_new(json_object_get(req, "ExpressionAttributeValues"), ":j",
                            ddb__s_val(job_id));
        json_object_set_new(req, "UpdateExpression",
                            json_string("SET checksum = :c, updated_at = :now, last_job = :j, "
                                        "created_at = if_not_exists(created_at, :now)"));
    } else {
        json_object_set_new(req, "UpdateExpression",
                            json_string("SET checksum = :c, updated_at = :now, "
                                        "created_at = if_not_exists(created_at, :now) "
                                        "REMOVE last_job"));
    }
    if ((rc = ddb__call(s, "UpdateItem", req, &ans, "put_documents")) < 0)
        return rc;
    old = json_object_get(ans, "Attributes");
    was = old ? ddb__get_s(old, "checksum") : NULL;
    if (!was)
        n->documents_added++;
    else if (strcmp(was, d->checksum) == 0)
        n->documents_unchanged++;
    else
        n->documents_updated++;
    json_decref(ans);
    return 0;
}

int store_ddb__put_documents_by(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *job_id,
                                const struct ccf_document *docs, size_t n)
{
    const char *op = "put_documents";
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    struct ccf_job_stats counts = {0};
    int64_t now = ccf_now_us();
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        if (!docs[i].id || !docs[i].checksum)
            return CCF_EINVAL;
    }
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if ((rc = ddb__no_duplicates(docs, n)) < 0 ||
        (rc = write_check(s, t, connector_id, job_id, op)) < 0)
        return rc;
    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_DOCUMENTS, table);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = put_one(s, table, pk, job_id, &docs[i], now, &counts);
    /* What was written is counted, also when the batch stopped short. */
    if (job_id) {
        int crc = ddb__job_count(s, t, connector_id, job_id, &counts, op);
        if (rc == 0)
            rc = crc;
    }
    return rc;
}

int store_ddb__delete_documents_by(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const char *job_id,
                                   const char *const *ids, size_t n)
{
    const char *op = "delete_documents";
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    struct ccf_job_stats counts = {0};
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        if (!ids[i])
            return CCF_EINVAL;
    }
    if ((rc = write_check(s, t, connector_id, job_id, op)) < 0)
        return rc;
    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_DOCUMENTS, table);
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *ans;

        /* ALL_OLD says whether the id existed: only those count. */
        rc = ddb__call(s, "DeleteItem",
                       json_pack("{s:s,s:{s:o,s:o},s:s}", "TableName", table, "Key", "pk",
                                 ddb__s_val(pk), "doc_id", ddb__s_val(ids[i]), "ReturnValues",
                                 "ALL_OLD"),
                       &ans, op);
        if (rc == 0) {
            counts.documents_deleted += json_object_get(ans, "Attributes") != NULL;
            json_decref(ans);
        }
    }
    if (job_id) {
        int crc = ddb__job_count(s, t, connector_id, job_id, &counts, op);
        if (rc == 0)
            rc = crc;
    }
    return rc;
}

int store_ddb__list_documents_not_seen(struct store *s, const struct ccf_tenant *t,
                                       const char *connector_id, const char *job_id,
                                       const struct store_page *p, store_document_fn visit,
                                       void *ctx, char **next)
{
    const char *op = "list_documents_not_seen";
    int rc;

    if (store__page_check(p) < 0 || (p->after && !store__doc_key_valid(p->after)))
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id) || !job_id || !ccf_job_id_valid(job_id))
        return CCF_ENOTFOUND;
    if ((rc = ddb__connector_exists(s, t, connector_id)) < 0 ||
        (rc = job_exists(s, t, connector_id, job_id, op)) < 0)
        return rc;
    return ddb__list_docs(s, t, connector_id, job_id, p, visit, ctx, next);
}
