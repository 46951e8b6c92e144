/* conn_changes.c: store_read_connector_changes on DynamoDB: the
 * connector.created and connector.updated records of the change log
 * (changes.c writes them), up to its horizon, for the orchestrator's
 * executor_prepare. Apart from changes.c: it only reads the log. */
#include "store/dynamodb/ddb_int.h"

#include <limits.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

#define PAGE 200
/* changes.c's LOG_PK (the one partition) and ST_COMMITTED (a settled record) */
#define LOG_PK       "c"
#define ST_COMMITTED "c"

static int from_item(json_t *rec, struct store_connector_change *out)
{
    const char *tk = ddb__get_s(rec, "tenant"), *cid = ddb__get_s(rec, "cid");
    int bad = 0;

    memset(out, 0, sizeof(*out));
    out->seq = ddb__get_n(rec, "seq", &bad);
    if (bad || !tk || store__tenant_parse(tk, &out->tenant) < 0 || !cid ||
        !ccf_connector_id_valid(cid)) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", "changes"), CCF_KV_INT("seq", out->seq));
        return CCF_EIO;
    }
    memcpy(out->connector_id, cid, strlen(cid) + 1);
    return 0;
}

/* The log is read up to its horizon (every record below it settled), as
 * read_changes; the horizon is where the caller reads on from. */
int store_ddb__read_connector_changes(struct store *s, int64_t after_seq,
                                      struct store_connector_change *out, size_t max, int64_t *upto)
{
    const char *op = "read_connector_changes";
    char table[DDB__NAME_MAX];
    json_t *start = NULL;
    int64_t h;
    size_t n = 0;
    int rc;

    if (max == 0 || !out)
        return max == 0 ? 0 : CCF_EINVAL;
    if (max > INT_MAX)
        max = INT_MAX;
    if ((rc = ddb__horizon(s, &h)) < 0)
        return rc;
    if (after_seq >= h)
        return 0;
    ddb__table(s, DDB__T_CHANGES, table);
    do {
        json_t *ans, *rec;
        size_t i;
        json_t *req = json_pack(
            "{s:s,s:s,s:s,s:{s:o,s:o,s:o,s:o,s:o,s:o},s:i,s:b}", "TableName", table,
            "KeyConditionExpression", "pk = :pk AND seq BETWEEN :a AND :h", "FilterExpression",
            "st = :c AND (#t = :cr OR #t = :up)", "ExpressionAttributeValues", ":pk",
            ddb__s_val(LOG_PK), ":a", ddb__n_val(after_seq + 1), ":h", ddb__n_val(h), ":c",
            ddb__s_val(ST_COMMITTED), ":cr", ddb__s_val("connector.created"), ":up",
            ddb__s_val("connector.updated"), "Limit", PAGE, "ConsistentRead", 1);

        json_object_set_new(req, "ExpressionAttributeNames", json_pack("{s:s}", "#t", "type"));
        if (start)
            json_object_set_new(req, "ExclusiveStartKey", start);
        start = NULL;
        if ((rc = ddb__call(s, "Query", req, &ans, op)) < 0)
            return rc;
        json_array_foreach(json_object_get(ans, "Items"), i, rec)
        {
            if (n == max || (rc = from_item(rec, &out[n])) < 0)
                break;
            n++;
        }
        if (rc == 0 && n < max && json_object_get(ans, "LastEvaluatedKey"))
            start = json_incref(json_object_get(ans, "LastEvaluatedKey"));
        json_decref(ans);
    } while (rc == 0 && start);
    if (rc < 0)
        return rc;
    *upto = n == max ? out[n - 1].seq : h;
    return (int)n;
}
