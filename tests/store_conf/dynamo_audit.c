/* dynamo_audit.c: the DynamoDB audit log's crash cases (its group only).
 * A writer "dies" after putting its record pending (the test calls
 * ddb__audit_put_pending and stops), or between drawing a seq and putting
 * it; the record is then aged past the time a live writer gets, and the
 * next reader must settle it: a dead writer's pending record is committed
 * as a failed request (500 InternalFailure: it began writing), or void
 * when its request is unknown; a seq drawn and never put is fenced void.
 * While young, no reader passes it (docs/DECISIONS.md). */
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "store/dynamodb/ddb_int.h"

static json_t *log_key(int64_t seq)
{
    return json_pack("{s:o,s:o}", "pk", ddb__s_val("a"), "seq", ddb__n_val(seq));
}

/* The record's state ("p", "c", "v"), or "" when there is none. */
static void rec_state(struct conf *f, int64_t seq, char out[4])
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    const char *st;

    ddb__table(f->s, DDB__T_AUDIT, table);
    assert_int_equal(ddb__call(f->s, "GetItem",
                               json_pack("{s:s,s:o,s:b}", "TableName", table, "Key", log_key(seq),
                                         "ConsistentRead", 1),
                               &ans, "test"),
                     0);
    st = ddb__get_s(json_object_get(ans, "Item"), "st");
    snprintf(out, 4, "%s", st ? st : "");
    json_decref(ans);
}

/* Makes record seq look written a few minutes ago: its writer is dead. */
static void age(struct conf *f, int64_t seq)
{
    char table[DDB__NAME_MAX];

    ddb__table(f->s, DDB__T_AUDIT, table);
    assert_int_equal(
        ddb__call(f->s, "UpdateItem",
                  json_pack("{s:s,s:o,s:s,s:{s:o}}", "TableName", table, "Key", log_key(seq),
                            "UpdateExpression", "SET wt = :old", "ExpressionAttributeValues",
                            ":old", ddb__n_val(ccf_now_us() - 300000000)),
                  NULL, "test"),
        0);
}

/* A request's record as api_handle fills it before the request runs. */
static void begun(struct conf *f, struct store_audit *r, const char *op)
{
    memset(r, 0, sizeof(*r));
    r->tenant = f->t1;
    snprintf(r->operation, sizeof(r->operation), "%s", op);
    snprintf(r->request_id, sizeof(r->request_id), "req-%s", op);
    snprintf(r->access_key_id, sizeof(r->access_key_id), "AKIATEST");
    snprintf(r->source_ip, sizeof(r->source_ip), "127.0.0.1");
}

/* A refusal of t1's, committed at once: the record after the open one. */
static void refused(struct conf *f)
{
    struct store_audit r;

    begun(f, &r, "ListEvents");
    r.status = 429;
    snprintf(r.error_type, sizeof(r.error_type), "ThrottlingException");
    assert_int_equal(store_audit_append(f->s, &r, 1), 0);
}

/* Died after its record, when its effect had begun: committed as a failed
 * request with what was known of it, in its place in the order. */
static void test_dynamo_audit_dead_writer_recorded_as_failed(void **state)
{
    struct conf *f = *state;
    struct store_audit r, out[4];
    int64_t seq, next;
    char cid[16], st[4];

    begun(f, &r, "CreateCustomConnector");
    assert_int_equal(ddb__audit_put_pending(f->s, &r, &seq), 0);
    mk_connector(f, &f->t1, "effect", cid); /* its effect, then it dies */
    refused(f);
    /* Young: a writer in flight; nothing after it is read, and the cursor
     * stays before it. */
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 0);
    assert_true(next < seq);
    age(f, seq);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 2);
    assert_int_equal(out[0].seq, seq);
    assert_string_equal(out[0].operation, "CreateCustomConnector");
    assert_string_equal(out[0].request_id, "req-CreateCustomConnector");
    assert_string_equal(out[0].access_key_id, "AKIATEST");
    assert_int_equal(out[0].status, 500);
    assert_string_equal(out[0].error_type, "InternalFailure");
    assert_int_equal(out[1].status, 429);
    assert_int_equal(next, out[1].seq);
    rec_state(f, seq, st);
    assert_string_equal(st, "c");
    /* The writer was only slow: its own settling finds it done. */
    r.status = 201;
    assert_int_equal(ddb__audit_settle(f->s, seq, &r), CCF_ECONFLICT);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 2);
    assert_int_equal(out[0].status, 500);
}

/* A record whose request is unknown (no tenant) cannot be shown to anyone:
 * void, and the records after it are read. */
static void test_dynamo_audit_dead_writer_of_no_tenant_void(void **state)
{
    struct conf *f = *state;
    struct store_audit r = {0}, out[4];
    int64_t seq, next;
    char st[4];

    assert_int_equal(ddb__audit_put_pending(f->s, &r, &seq), 0);
    refused(f);
    age(f, seq);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 1);
    assert_true(out[0].seq > seq);
    rec_state(f, seq, st);
    assert_string_equal(st, "v");
}

/* A seq drawn and never put (the writer died before its record, hence
 * before any effect): fenced void once the record after it is old; a slow
 * writer's put there then fails and it draws another. */
static void test_dynamo_audit_gap_fenced(void **state)
{
    struct conf *f = *state;
    char table[DDB__NAME_MAX], st[4];
    struct store_audit r, out[4];
    int64_t gap, next;
    json_t *ans, *it;
    int bad = 0;

    ddb__table(f->s, DDB__T_META, table);
    assert_int_equal(ddb__call(f->s, "UpdateItem",
                               json_pack("{s:s,s:{s:o},s:s,s:{s:o},s:s}", "TableName", table, "Key",
                                         "name", ddb__s_val("aseq"), "UpdateExpression",
                                         "ADD n :one", "ExpressionAttributeValues", ":one",
                                         ddb__n_val(1), "ReturnValues", "UPDATED_NEW"),
                               &ans, "test"),
                     0);
    gap = ddb__get_n(json_object_get(ans, "Attributes"), "n", &bad);
    json_decref(ans);
    assert_false(bad);
    refused(f);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 0);
    age(f, gap + 1);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 1);
    assert_int_equal(out[0].seq, gap + 1);
    rec_state(f, gap, st);
    assert_string_equal(st, "v");
    /* The slow writer's put of gap now fails on its condition. */
    begun(f, &r, "DeleteCustomConnector");
    ddb__table(f->s, DDB__T_AUDIT, table);
    it = log_key(gap);
    json_object_set_new(it, "st", ddb__s_val("p"));
    assert_int_equal(ddb__call(f->s, "PutItem",
                               json_pack("{s:s,s:o,s:s}", "TableName", table, "Item", it,
                                         "ConditionExpression", "attribute_not_exists(seq)"),
                               NULL, "test"),
                     CCF_ECONFLICT);
}

struct fx {
    struct conf *f;
    int status;
    char cid[16];
};

static int create_fn(void *ctx, struct store_audit *rec)
{
    struct fx *x = ctx;

    mk_connector(x->f, &x->f->t1, "audited", x->cid);
    snprintf(rec->connector_id, sizeof(rec->connector_id), "%s", x->cid);
    rec->status = x->status;
    return 0;
}

static int nothing_fn(void *ctx, struct store_audit *rec)
{
    struct fx *x = ctx;

    rec->status = x->status;
    return 0;
}

/* The record is put by the effect's first write, pending while the effect
 * runs, then committed; a request that wrote nothing gets one committed
 * put; a write that records nothing leaves its record void, never shown. */
static void test_dynamo_audit_record_precedes_effect(void **state)
{
    struct conf *f = *state;
    struct fx x = {.f = f, .status = 201};
    struct store_audit r, out[4];
    int64_t next;
    char st[4];

    begun(f, &r, "CreateCustomConnector");
    assert_int_equal(store_audited_write(f->s, create_fn, &x, &r), 0);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 1);
    assert_string_equal(out[0].connector_id, x.cid);
    assert_string_equal(out[0].request_id, "req-CreateCustomConnector");
    rec_state(f, out[0].seq, st);
    assert_string_equal(st, "c");
    /* A 409 met by a read: nothing written, one record. */
    begun(f, &r, "UpdateCustomConnector");
    x.status = 409;
    assert_int_equal(store_audited_write(f->s, nothing_fn, &x, &r), 0);
    assert_int_equal(store_read_audit(f->s, &f->t1, next, 4, out, &next), 1);
    assert_int_equal(out[0].status, 409);
    /* Written, status 0 (a failed request): void. */
    begun(f, &r, "CreateCustomConnector");
    x.status = 0;
    assert_int_equal(store_audited_write(f->s, create_fn, &x, &r), 0);
    rec_state(f, out[0].seq + 1, st);
    assert_string_equal(st, "v");
    assert_int_equal(store_read_audit(f->s, &f->t1, next, 4, out, &next), 0);
}

const struct CMUnitTest conf_dynamo_audit[] = {
    cmocka_unit_test_setup_teardown(test_dynamo_audit_dead_writer_recorded_as_failed, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_audit_dead_writer_of_no_tenant_void, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_audit_gap_fenced, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_audit_record_precedes_effect, conf_setup,
                                    conf_teardown),
};
const size_t conf_dynamo_audit_n = sizeof(conf_dynamo_audit) / sizeof(conf_dynamo_audit[0]);
