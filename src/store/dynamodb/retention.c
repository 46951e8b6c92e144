/* retention.c: the DynamoDB backend's reads across tenants: the jobs not
 * ended (recovery, metrics) and the purge of old ended ones, each by a
 * sparse global index of the jobs table rather than a Scan:
 *
 *   unfinished: hash `unf` (the status name, present only while STARTED,
 *               RUNNING or STOPPING), range `ck` (created_at hex:id);
 *   by_end:     hash `ended` ("e", present only once ended), range `eck`
 *               (completed_at hex:id).
 *
 * Both hash keys are a handful of constants: one partition each, enough
 * for one region's jobs in flight; shard them before that stops being so
 * (docs/DECISIONS.md). */
#include "store/dynamodb/ddb_int.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static const enum ccf_job_status unfinished[] = {CCF_JOB_STARTED, CCF_JOB_RUNNING,
                                                 CCF_JOB_STOPPING};

void ddb__job_index_attrs(json_t *it, const struct ccf_job *j)
{
    char eck[40];

    if (!ccf_job_status_terminal(j->status)) {
        json_object_set_new(it, "unf", ddb__s_val(ccf_job_status_name(j->status)));
        return;
    }
    snprintf(eck, sizeof(eck), "%016" PRIx64 ":%s", (uint64_t)j->completed_at, j->id);
    json_object_set_new(it, "ended", ddb__s_val("e"));
    json_object_set_new(it, "eck", ddb__s_val(eck));
}

struct ref_ck {
    struct store_job_ref ref;
    char ck[40];
};

static int by_ck(const void *a, const void *b)
{
    return strcmp(((const struct ref_ck *)a)->ck, ((const struct ref_ck *)b)->ck);
}

/* The job item it as a ref (region, account_id, connector_id, job_id,
 * status), and its `key` attribute. */
static int item_ref(json_t *it, const char *key, struct ref_ck *out)
{
    const char *region = ddb__get_s(it, "region"), *acct = ddb__get_s(it, "account_id");
    const char *cid = ddb__get_s(it, "connector_id"), *jid = ddb__get_s(it, "job_id");
    const char *st = ddb__get_s(it, "status"), *ck = ddb__get_s(it, key);
    enum ccf_job_status status;

    memset(out, 0, sizeof(*out));
    if (!region || !acct || ccf_tenant_init(&out->ref.tenant, region, acct) < 0 || !cid ||
        !ccf_connector_id_valid(cid) || !jid || !ccf_job_id_valid(jid) || !st ||
        ccf_job_status_parse(st, &status) < 0 || !ck || strlen(ck) >= sizeof(out->ck)) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", "jobs"));
        return CCF_EIO;
    }
    memcpy(out->ref.connector_id, cid, strlen(cid) + 1);
    memcpy(out->ref.job_id, jid, strlen(jid) + 1);
    out->ref.status = status;
    memcpy(out->ck, ck, strlen(ck) + 1);
    return 0;
}

struct collect {
    struct ref_ck **v;
    size_t *n, *cap;
};

static int collect_one(void *ctx, json_t *it)
{
    struct collect *c = ctx;
    int rc;

    if (*c->n == *c->cap) {
        *c->cap = *c->cap ? *c->cap * 2 : 16;
        *c->v = ccf_xrealloc(*c->v, *c->cap * sizeof(**c->v));
    }
    if ((rc = item_ref(it, "ck", &(*c->v)[*c->n])) < 0)
        return rc;
    (*c->n)++;
    return 0;
}

/* The query of the index `unfinished` under status st; with count, only
 * how many. */
static json_t *unfinished_query(struct store *s, enum ccf_job_status st, bool count)
{
    char table[DDB__NAME_MAX];
    json_t *req;

    ddb__table(s, DDB__T_JOBS, table);
    req = json_pack("{s:s,s:s,s:s,s:{s:o}}", "TableName", table, "IndexName", "unfinished",
                    "KeyConditionExpression", "unf = :s", "ExpressionAttributeValues", ":s",
                    ddb__s_val(ccf_job_status_name(st)));
    if (req && count)
        json_object_set_new(req, "Select", json_string("COUNT"));
    return req;
}

/* Every item of the index `unfinished` under status st, appended to *v. */
static int collect(struct store *s, enum ccf_job_status st, struct ref_ck **v, size_t *n,
                   size_t *cap)
{
    return ddb__each_item(s, "Query", unfinished_query(s, st, false), collect_one,
                          &(struct collect){v, n, cap}, "unfinished_jobs");
}

int store_ddb__unfinished_jobs(struct store *s, struct store_job_ref **out, size_t *n)
{
    struct ref_ck *v = NULL;
    struct store_job_ref *refs = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;

    for (size_t k = 0; k < sizeof(unfinished) / sizeof(unfinished[0]) && rc == 0; k++)
        rc = collect(s, unfinished[k], &v, &cnt, &cap);
    if (rc < 0) {
        free(v);
        return rc;
    }
    /* Oldest first across the three statuses: ck is created_at hex:id. */
    if (cnt > 0) {
        qsort(v, cnt, sizeof(*v), by_ck);
        refs = ccf_xcalloc(cnt, sizeof(*refs));
        for (size_t i = 0; i < cnt; i++)
            refs[i] = v[i].ref;
    }
    free(v);
    *out = refs;
    *n = cnt;
    return 0;
}

static int add_count(void *ctx, json_t *ans, json_t *req)
{
    (void)req;
    *(int64_t *)ctx += json_integer_value(json_object_get(ans, "Count"));
    return 0;
}

int store_ddb__count_unfinished_jobs(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT])
{
    int rc = 0;

    memset(out, 0, sizeof(int64_t) * CCF_JOB_STATUS_COUNT);
    for (size_t k = 0; k < sizeof(unfinished) / sizeof(unfinished[0]) && rc == 0; k++)
        rc = ddb__each_page(s, "Query", unfinished_query(s, unfinished[k], true), add_count,
                            &out[unfinished[k]], "count_unfinished_jobs");
    return rc;
}

/* Up to max ended jobs completed before ended_before, oldest first, each
 * deleted by one DeleteItem (conditioned on still being ended: a job item
 * is never written back once ended, but a forged one is not taken). */
int store_ddb__purge_jobs(struct store *s, int64_t ended_before, struct store_job_ref *out,
                          size_t max)
{
    char table[DDB__NAME_MAX], below[24];
    json_t *ans, *it;
    size_t i, n = 0;
    int rc;

    if (max == 0)
        return 0;
    if (max > INT_MAX)
        max = INT_MAX;
    ddb__table(s, DDB__T_JOBS, table);
    snprintf(below, sizeof(below), "%016" PRIx64, (uint64_t)(ended_before < 0 ? 0 : ended_before));
    /* eck < "<ended_before hex>": completed_at < ended_before (same width). */
    if ((rc = ddb__call(s, "Query",
                        json_pack("{s:s,s:s,s:s,s:{s:o,s:o},s:I}", "TableName", table, "IndexName",
                                  "by_end", "KeyConditionExpression", "ended = :e AND eck < :b",
                                  "ExpressionAttributeValues", ":e", ddb__s_val("e"), ":b",
                                  ddb__s_val(below), "Limit", (json_int_t)max),
                        &ans, "purge_jobs")) < 0)
        return rc;
    json_array_foreach(json_object_get(ans, "Items"), i, it)
    {
        struct ref_ck r;

        if (n == max || (rc = item_ref(it, "eck", &r)) < 0)
            break;
        rc = ddb__call(s, "DeleteItem",
                       json_pack("{s:s,s:{s:O,s:O},s:s}", "TableName", table, "Key", "pk",
                                 json_object_get(it, "pk"), "job_id", json_object_get(it, "job_id"),
                                 "ConditionExpression", "attribute_exists(ended)"),
                       NULL, "purge_jobs");
        if (rc == CCF_ECONFLICT) { /* gone meanwhile (a delete's cascade) */
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        out[n++] = r.ref;
    }
    json_decref(ans);
    return rc < 0 ? rc : (int)n;
}
