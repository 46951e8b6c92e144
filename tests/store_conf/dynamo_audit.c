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
#include "dynamo_log.h"
#include "store/dynamodb/ddb_int.h"

/* The log as its items are keyed on the wire. */
static const struct dyn_log LOG = {.table = DDB__T_AUDIT, .pk = "a", .counter = "aseq"};

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
    dyn_log_age(f, &LOG, seq);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 2);
    assert_int_equal(out[0].seq, seq);
    assert_string_equal(out[0].operation, "CreateCustomConnector");
    assert_string_equal(out[0].request_id, "req-CreateCustomConnector");
    assert_string_equal(out[0].access_key_id, "AKIATEST");
    assert_int_equal(out[0].status, 500);
    assert_string_equal(out[0].error_type, "InternalFailure");
    assert_int_equal(out[1].status, 429);
    assert_int_equal(next, out[1].seq);
    dyn_log_state(f, &LOG, seq, st);
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
    dyn_log_age(f, &LOG, seq);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 1);
    assert_true(out[0].seq > seq);
    dyn_log_state(f, &LOG, seq, st);
    assert_string_equal(st, "v");
}

/* A seq drawn and never put (the writer died before its record, hence
 * before any effect): fenced void once the record after it is old; a slow
 * writer's put there then fails and it draws another. */
static void test_dynamo_audit_gap_fenced(void **state)
{
    struct conf *f = *state;
    struct store_audit out[4];
    int64_t gap, next;
    char st[4];

    gap = dyn_log_draw(f, &LOG);
    refused(f);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 0);
    dyn_log_age(f, &LOG, gap + 1);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 1);
    assert_int_equal(out[0].seq, gap + 1);
    dyn_log_state(f, &LOG, gap, st);
    assert_string_equal(st, "v");
    /* The slow writer's put of gap now fails on its condition. */
    assert_int_equal(dyn_log_late_put(f, &LOG, gap), CCF_ECONFLICT);
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
    dyn_log_state(f, &LOG, out[0].seq, st);
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
    dyn_log_state(f, &LOG, out[0].seq + 1, st);
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
