/* dynamo_log.c: the DynamoDB cases' shared wire-level helpers
 * (dynamo_log.h). */
#include "dynamo_log.h"

#include <stdio.h>

#include "store/dynamodb/ddb_int.h"

#define AGE_US 300000000 /* past either log's settle time (5 s, 10 s) */

json_t *dyn_job_item(struct conf *f, const char *cid, const char *jid)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    json_t *ans, *it;

    ddb__job_pk(&f->t1, cid, pk);
    ddb__table(f->s, DDB__T_JOBS, table);
    assert_int_equal(
        ddb__call(f->s, "GetItem",
                  json_pack("{s:s,s:{s:o,s:o},s:b}", "TableName", table, "Key", "pk",
                            ddb__s_val(pk), "job_id", ddb__s_val(jid), "ConsistentRead", 1),
                  &ans, "test"),
        0);
    it = json_incref(json_object_get(ans, "Item"));
    json_decref(ans);
    assert_non_null(it);
    return it;
}

json_t *dyn_log_key(const struct dyn_log *l, int64_t seq)
{
    return json_pack("{s:o,s:o}", "pk", ddb__s_val(l->pk), "seq", ddb__n_val(seq));
}

void dyn_log_state(struct conf *f, const struct dyn_log *l, int64_t seq, char out[4])
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    const char *st;

    ddb__table(f->s, l->table, table);
    assert_int_equal(ddb__call(f->s, "GetItem",
                               json_pack("{s:s,s:o,s:b}", "TableName", table, "Key",
                                         dyn_log_key(l, seq), "ConsistentRead", 1),
                               &ans, "test"),
                     0);
    st = ddb__get_s(json_object_get(ans, "Item"), "st");
    snprintf(out, 4, "%s", st ? st : "");
    json_decref(ans);
}

void dyn_log_age(struct conf *f, const struct dyn_log *l, int64_t seq)
{
    char table[DDB__NAME_MAX];

    ddb__table(f->s, l->table, table);
    assert_int_equal(
        ddb__call(f->s, "UpdateItem",
                  json_pack("{s:s,s:o,s:s,s:{s:o}}", "TableName", table, "Key", dyn_log_key(l, seq),
                            "UpdateExpression", "SET wt = :old", "ExpressionAttributeValues",
                            ":old", ddb__n_val(ccf_now_us() - AGE_US)),
                  NULL, "test"),
        0);
}

int64_t dyn_log_draw(struct conf *f, const struct dyn_log *l)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    int64_t seq;
    int bad = 0;

    ddb__table(f->s, DDB__T_META, table);
    assert_int_equal(ddb__call(f->s, "UpdateItem",
                               json_pack("{s:s,s:{s:o},s:s,s:{s:o},s:s}", "TableName", table, "Key",
                                         "name", ddb__s_val(l->counter), "UpdateExpression",
                                         "ADD n :one", "ExpressionAttributeValues", ":one",
                                         ddb__n_val(1), "ReturnValues", "UPDATED_NEW"),
                               &ans, "test"),
                     0);
    seq = ddb__get_n(json_object_get(ans, "Attributes"), "n", &bad);
    json_decref(ans);
    assert_int_equal(bad, 0);
    return seq;
}

int dyn_log_late_put(struct conf *f, const struct dyn_log *l, int64_t seq)
{
    char table[DDB__NAME_MAX];
    json_t *it = dyn_log_key(l, seq);

    ddb__table(f->s, l->table, table);
    json_object_set_new(it, "st", ddb__s_val("p"));
    return ddb__call(f->s, "PutItem",
                     json_pack("{s:s,s:o,s:s}", "TableName", table, "Item", it,
                               "ConditionExpression", "attribute_not_exists(seq)"),
                     NULL, "test");
}
