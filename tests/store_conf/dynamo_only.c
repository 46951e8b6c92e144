/* dynamo_only.c: cases of what only the DynamoDB backend has, run in its
 * group only: paging over several of DynamoDB's own pages (the shared
 * pagination cases set equal times with SQL, which DynamoDB has not), the
 * job item's attributes that the Lambda's stream decoder reads
 * (docs/AWS.md), recovery at open of a start that died between its two
 * writes, and of a job that ended without releasing its connector; the
 * delete's cascade to the jobs' and documents' items. */
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf_int.h"
#include "dynamo_log.h"
#include "store/dynamodb/ddb_int.h"

#define N_CONN 23
#define N_JOBS 17

static void test_dynamo_paging(void **state)
{
    struct conf *f = *state;
    char *want[N_CONN], cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    char *jobs[N_JOBS];
    struct lister lc = {.f = f, .t = &f->t1, .kind = K_CONNECTORS};
    struct lister lj = {.f = f, .t = &f->t1, .kind = K_JOBS};
    struct coll got = {0};
    char *next = SENTINEL;

    for (int i = 0; i < N_CONN; i++) {
        mk_connector(f, &f->t1, "paged", cid);
        want[i] = strdup(cid);
    }
    mk_connector(f, &f->t2, "other tenant", cid);
    for (size_t limit = 1; limit <= 25; limit += 6) {
        list_all(&lc, limit, &got);
        assert_same_ids(&got, want, N_CONN);
        for (size_t i = 1; i < got.n; i++) /* oldest first */
            assert_true(got.v[i - 1].at <= got.v[i].at);
        coll_free(&got);
    }
    /* Jobs of one connector, newest first, filtered by status. */
    lj.cid = want[0];
    for (int i = 0; i < N_JOBS; i++) {
        start(f, want[0], jid);
        jobs[i] = strdup(jid);
        assert_int_equal(
            move(f, want[0], jid, BIT(CCF_JOB_STARTED), i % 3 ? CCF_JOB_SUCCEEDED : CCF_JOB_FAILED),
            1);
    }
    list_all(&lj, 4, &got);
    assert_same_ids(&got, jobs, N_JOBS);
    for (size_t i = 1; i < got.n; i++)
        assert_true(got.v[i - 1].at >= got.v[i].at);
    coll_free(&got);
    lj.mask = BIT(CCF_JOB_FAILED);
    list_all(&lj, 2, &got);
    assert_int_equal(got.n, (N_JOBS + 2) / 3);
    for (size_t i = 0; i < got.n; i++)
        assert_int_equal(got.v[i].status, CCF_JOB_FAILED);
    coll_free(&got);
    /* A page exactly at the end has no next. */
    lj.mask = 0;
    assert_int_equal(list_page(&lj, NULL, N_JOBS, &got, &next), 0);
    assert_null(next);
    coll_free(&got);
    for (int i = 0; i < N_CONN; i++)
        free(want[i]);
    for (int i = 0; i < N_JOBS; i++)
        free(jobs[i]);
}

static void test_dynamo_job_item_layout(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    json_t *it;
    int bad = 0;

    mk_connector(f, &f->t1, "layout", cid);
    start(f, cid, jid);
    it = dyn_job_item(f, cid, jid);
    assert_string_equal(ddb__get_s(it, "region"), "us-east-1");
    assert_string_equal(ddb__get_s(it, "account_id"), "111111111111");
    assert_string_equal(ddb__get_s(it, "connector_id"), cid);
    assert_string_equal(ddb__get_s(it, "job_id"), jid);
    assert_string_equal(ddb__get_s(it, "status"), "STARTED");
    assert_int_equal(ddb__get_n(it, "version", &bad), 1);
    assert_true(ddb__get_n(it, "updated_at", &bad) > 0);
    assert_int_equal(bad, 0);
    json_decref(it);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    it = dyn_job_item(f, cid, jid);
    assert_string_equal(ddb__get_s(it, "status"), "RUNNING");
    assert_int_equal(ddb__get_n(it, "version", &bad), 2);
    json_decref(it);
}

/* A start that died after reserving the connector: reopening writes its
 * job, as the start would have, and the connector keeps naming it. */
static void test_dynamo_recovery_finishes_start(void **state)
{
    struct conf *f = *state;
    struct ccf_job j = {.status = CCF_JOB_STARTED, .trigger = CCF_TRIGGER_API}, g;
    struct ccf_connector c;

    mk_connector(f, &f->t1, "half", j.connector_id);
    assert_int_equal(ccf_job_id_new(j.id), 0);
    j.created_at = j.updated_at = ccf_now_us();
    j.environment = (char *)"[{\"name\":\"A\",\"value\":\"1\"}]";
    assert_int_equal(ddb__reserve_connector(f->s, &f->t1, &j, NULL, "test"), 0);
    assert_int_equal(store_get_job(f->s, &f->t1, j.connector_id, j.id, &g), CCF_ENOTFOUND);
    conf_reopen(f);
    assert_int_equal(store_get_job(f->s, &f->t1, j.connector_id, j.id, &g), 0);
    assert_int_equal(g.status, CCF_JOB_STARTED);
    assert_int_equal(g.created_at, j.created_at);
    assert_string_equal(g.environment, j.environment);
    ccf_job_clear(&g);
    get_conn(f, j.connector_id, &c);
    assert_int_equal(c.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(c.active_job_id, j.id);
    ccf_connector_clear(&c);
    /* The finished start is a job like any: it ends and frees the connector. */
    assert_int_equal(move(f, j.connector_id, j.id, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPED), 1);
    get_conn(f, j.connector_id, &c);
    assert_int_equal(c.status, CCF_CONNECTOR_AVAILABLE);
    ccf_connector_clear(&c);
}

/* A job that ended but died before releasing its connector: reopening
 * releases it. */
static void test_dynamo_recovery_releases_ended(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], table[DDB__NAME_MAX];
    struct ccf_connector c;
    struct ccf_job j;

    json_t *ans;

    mk_connector(f, &f->t1, "ended", cid);
    start(f, cid, jid);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    j.status = CCF_JOB_FAILED;
    ddb__table(f->s, DDB__T_JOBS, table);
    assert_int_equal(
        ddb__call(f->s, "PutItem",
                  json_pack("{s:s,s:o}", "TableName", table, "Item", ddb__job_item(&f->t1, &j, 2)),
                  NULL, "test"),
        0);
    ccf_job_clear(&j);
    /* The item as it is (a get would release it: see the next case). */
    ddb__table(f->s, DDB__T_CONNECTORS, table);
    assert_int_equal(
        ddb__call(f->s, "GetItem",
                  json_pack("{s:s,s:{s:{s:s},s:{s:s}},s:b}", "TableName", table, "Key", "pk", "S",
                            "us-east-1#111111111111", "id", "S", cid, "ConsistentRead", 1),
                  &ans, "test"),
        0);
    assert_int_equal(ddb__get_n(json_object_get(ans, "Item"), "status", NULL),
                     CCF_CONNECTOR_IN_USE);
    json_decref(ans);
    conf_reopen(f);
    get_conn(f, cid, &c);
    assert_int_equal(c.status, CCF_CONNECTOR_AVAILABLE);
    assert_string_equal(c.active_job_id, "");
    ccf_connector_clear(&c);
    start(f, cid, jid); /* free again */
}

/* The same without a reopen: reading the connector releases it, and so
 * does a start (the job's end and the release are two writes). */
static void test_dynamo_ended_job_frees_its_connector_on_read(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], table[DDB__NAME_MAX];
    struct ccf_connector c;
    struct ccf_job j;

    mk_connector(f, &f->t1, "ended2", cid);
    for (int round = 0; round < 2; round++) {
        start(f, cid, jid);
        assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
        j.status = CCF_JOB_SUCCEEDED;
        ddb__table(f->s, DDB__T_JOBS, table);
        assert_int_equal(ddb__call(f->s, "PutItem",
                                   json_pack("{s:s,s:o}", "TableName", table, "Item",
                                             ddb__job_item(&f->t1, &j, 2)),
                                   NULL, "test"),
                         0);
        ccf_job_clear(&j);
        if (round == 0) { /* a read releases it */
            get_conn(f, cid, &c);
            assert_int_equal(c.status, CCF_CONNECTOR_AVAILABLE);
            assert_string_equal(c.active_job_id, "");
            ccf_connector_clear(&c);
        }
        /* round 1: the next start releases it itself */
    }
    start(f, cid, jid);
}

/* Items left under a connector's key in a table. */
static size_t items_under(struct conf *f, const char *suffix, const char *cid)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    json_t *ans;
    size_t n;

    ddb__job_pk(&f->t1, cid, pk);
    ddb__table(f->s, suffix, table);
    assert_int_equal(
        ddb__call(f->s, "Query",
                  json_pack("{s:s,s:s,s:{s:o},s:b}", "TableName", table, "KeyConditionExpression",
                            "pk = :pk", "ExpressionAttributeValues", ":pk", ddb__s_val(pk),
                            "ConsistentRead", 1),
                  &ans, "test"),
        0);
    n = json_array_size(json_object_get(ans, "Items"));
    json_decref(ans);
    return n;
}

/* The shared cascade case needs checkpoints; this one checks the items. */
static void test_dynamo_delete_cascades_items(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_document d[3] = {
        {.id = "a", .checksum = "1"}, {.id = "b", .checksum = "2"}, {.id = "c", .checksum = "3"}};

    mk_connector(f, &f->t1, "cascade", cid);
    assert_int_equal(store_put_documents(f->s, &f->t1, cid, d, 3), 0);
    start(f, cid, jid);
    assert_int_equal(store_delete_connector(f->s, &f->t1, cid), CCF_ECONFLICT);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPED), 1);
    assert_int_equal(items_under(f, DDB__T_DOCUMENTS, cid), 3);
    assert_int_equal(items_under(f, DDB__T_JOBS, cid), 1);
    assert_int_equal(store_delete_connector(f->s, &f->t1, cid), 0);
    assert_int_equal(items_under(f, DDB__T_DOCUMENTS, cid), 0);
    assert_int_equal(items_under(f, DDB__T_JOBS, cid), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, cid, d, 1), CCF_ENOTFOUND);
}

static int on_version(void *ctx, const struct store_cp_version *v)
{
    int64_t *seen = ctx;

    seen[++seen[0]] = v->version;
    return 0;
}

/* Checkpoints past one item's 400 KB (split in chunks, switched by the
 * head's one write), NUL bytes kept, versions kept and trimmed to the
 * history (3 here), each version read back as it was. The shared cases
 * count versions with SQL. */
static void test_dynamo_big_checkpoints_and_versions(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    size_t len = CCF_CHECKPOINT_MAX;
    char *data = malloc(len);
    struct ccf_checkpoint cp;
    struct store_page p = {.limit = 10};
    int64_t seen[16] = {0}, v;
    char *next = SENTINEL;

    assert_non_null(data);
    mk_connector(f, &f->t1, "big", cid);
    for (int round = 1; round <= 5; round++) {
        for (size_t i = 0; i < len; i++)
            data[i] = (char)((i * 7 + (size_t)round) % 251); /* NULs included */
        assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, NULL, data,
                                                 round == 3 ? 1000 : len, round - 1, &v),
                         0);
        assert_int_equal(v, round);
    }
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, NULL, "x", 1, 4, &v), CCF_EPRECOND);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, cid, &cp), 0);
    assert_int_equal(cp.version, 5);
    assert_int_equal(cp.data_len, len);
    assert_memory_equal(cp.data, data, len);
    ccf_checkpoint_clear(&cp);
    /* Version 3 (1000 bytes of round 3) is kept; 2 is trimmed (history 3). */
    assert_int_equal(store_get_checkpoint_version(f->s, &f->t1, cid, 3, &cp), 0);
    assert_int_equal(cp.data_len, 1000);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(cp.data[i], (char)((i * 7 + 3) % 251));
    ccf_checkpoint_clear(&cp);
    assert_int_equal(store_get_checkpoint_version(f->s, &f->t1, cid, 2, &cp), CCF_ENOTFOUND);
    assert_int_equal(store_list_checkpoint_versions(f->s, &f->t1, cid, &p, on_version, seen, &next),
                     0);
    assert_null(next);
    assert_int_equal(seen[0], 3);
    assert_int_equal(seen[1], 5);
    assert_int_equal(seen[3], 3);
    /* Gone with its versions: the next put is version 1. */
    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, cid), 0);
    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, cid), CCF_ENOTFOUND);
    assert_int_equal(items_under(f, DDB__T_CHECKPOINTS, cid), 0);
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, NULL, "y", 1, 0, &v), 0);
    assert_int_equal(v, 1);
    free(data);
}

/* A put that dies right after its head's switch (ddb__checkpoint_switch:
 * its chunks and the switch, then nothing) loses no version of the
 * history: the one it replaced is listed and readable, and so is every
 * older one. crash-dynamo found the v#N record written after the switch,
 * so such a crash hid version N and every version before it. */
static void test_dynamo_checkpoint_switch_then_crash(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    struct ccf_checkpoint cp;
    struct store_page p = {.limit = 10};
    int64_t seen[16] = {0}, v;
    char *next = SENTINEL;

    mk_connector(f, &f->t1, "switch", cid);
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, NULL, "one", 3, 0, &v), 0);
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, NULL, "two", 3, 1, &v), 0);
    assert_int_equal(ddb__checkpoint_switch(f->s, &f->t1, cid, "three", 5, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(store_list_checkpoint_versions(f->s, &f->t1, cid, &p, on_version, seen, &next),
                     0);
    assert_null(next);
    assert_int_equal(seen[0], 3);
    assert_int_equal(seen[1], 3);
    assert_int_equal(seen[2], 2);
    assert_int_equal(seen[3], 1);
    assert_int_equal(store_get_checkpoint_version(f->s, &f->t1, cid, 2, &cp), 0);
    assert_int_equal(cp.data_len, 3);
    assert_memory_equal(cp.data, "two", 3);
    ccf_checkpoint_clear(&cp);
    /* The next put goes on from it, with the history whole. */
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, NULL, "four", 4, 3, &v), 0);
    assert_int_equal(v, 4);
}

/* The shared cases check these with SQL or with schedules: a status
 * reason set only while STARTED and only when it differs, cleared by a
 * transition; a paused connector refuses a start, conditioned on version. */
static void test_dynamo_status_reason_and_pause(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c;
    struct ccf_job j;
    int64_t v;

    mk_connector(f, &f->t1, "reason", cid);
    start(f, cid, jid);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "waiting"), 1);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "waiting"), 0);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t2, cid, jid, "other"), 0);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_string_equal(j.status_reason, "waiting");
    ccf_job_clear(&j);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, NULL), 1);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "again"), 1);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_null(j.status_reason);
    ccf_job_clear(&j);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "late"), 0);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_RUNNING), CCF_JOB_SUCCEEDED), 1);
    /* Pause: conditioned on the version read. */
    get_conn(f, cid, &c);
    v = c.version;
    c.paused = true;
    assert_int_equal(store_set_paused(f->s, &f->t1, &c, v - 1), CCF_ECONFLICT);
    assert_int_equal(store_set_paused(f->s, &f->t1, &c, v), 0);
    assert_int_equal(c.version, v + 1);
    ccf_connector_clear(&c);
    assert_int_equal(store_start_job(f->s, &f->t1, cid, NULL, &j), CCF_ECONFLICT);
    get_conn(f, cid, &c);
    assert_true(c.paused);
    c.paused = false;
    assert_int_equal(store_set_paused(f->s, &f->t1, &c, c.version), 0);
    ccf_connector_clear(&c);
    start(f, cid, jid);
}

static void test_dynamo_bad_urls(void **state)
{
    static const char *const bad[] = {
        "dynamodb://",
        "dynamodb://p",                                   /* no region */
        "dynamodb://p?region=us-east-1&endpoint=ftp://x", /* not http(s) */
        "dynamodb://p/q?region=us-east-1",
        "dynamodb://p?region=US_EAST&endpoint=http://127.0.0.1:1",
        "dynamodb://p?region=us-east-1&other=1",
    };
    struct store *s = (struct store *)SENTINEL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct store_config cfg = {.url = bad[i]};
        assert_int_equal(store_open(&s, &cfg), CCF_EINVAL);
        assert_ptr_equal(s, SENTINEL);
    }
    {
        /* Nothing listens on port 1: unavailable, not a crash or a hang. */
        struct store_config cfg = {.url =
                                       "dynamodb://p?region=us-east-1&endpoint=http://127.0.0.1:1"};
        assert_int_equal(store_open(&s, &cfg), CCF_EUNAVAIL);
        assert_ptr_equal(s, SENTINEL);
    }
}

/* ---- half-done writes of tokens and scheduled runs ---- */

static const unsigned char TOK_H[32] = {7};

/* A create whose process died after claiming its token (pending, naming
 * an id) but before making the connector: the retry makes it with that
 * id, once, and answers NEW; the next one replays it. */
static void test_dynamo_pending_create_token_finished(void **state)
{
    struct conf *f = *state;
    struct store_token tok = {.token = "half", .hash = TOK_H};
    /* Owned: a replay clears *c and fills it with the stored one. */
    struct ccf_connector c = {.name = strdup("tok"), .properties = strdup(PROPS)}, d;
    char id[CCF_CONNECTOR_ID_LEN + 1];
    struct ddb__tkey k;
    bool done = true;

    assert_int_equal(ccf_connector_id_new(id), 0);
    ddb__tkey_init(&k, &f->t1, DDB__TOKEN_CREATE, "", &tok);
    assert_int_equal(ddb__token_claim(f->s, &k, id, sizeof(id), &done, "test"), 0);
    assert_int_equal(store_get_connector(f->s, &f->t1, id, &d), CCF_ENOTFOUND);
    assert_int_equal(store_create_connector_token(f->s, &f->t1, &c, &tok), STORE_TOKEN_NEW);
    assert_string_equal(c.id, id);
    assert_int_equal(store_create_connector_token(f->s, &f->t1, &c, &tok), STORE_TOKEN_REPLAY);
    assert_string_equal(c.id, id);
    ccf_connector_clear(&c);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM connectors"), 1);
}

/* A start that died after claiming its token and reserving the connector
 * (no job item yet): the retry writes that job and replays it, and a
 * start with another token is still a conflict. */
static void test_dynamo_pending_start_token_finished(void **state)
{
    struct conf *f = *state;
    struct store_token tok = {.token = "half", .hash = TOK_H};
    struct store_token other = {.token = "other", .hash = TOK_H};
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    struct ccf_connector c;
    struct ccf_job j, g;
    struct ddb__tkey k;
    bool done = true;

    mk_connector(f, &f->t1, "half", cid);
    store__job_init(&j, cid, CCF_TRIGGER_API, NULL);
    assert_int_equal(ccf_job_id_new(j.id), 0);
    ddb__tkey_init(&k, &f->t1, DDB__TOKEN_START, cid, &tok);
    assert_int_equal(ddb__token_claim(f->s, &k, j.id, sizeof(j.id), &done, "test"), 0);
    assert_int_equal(ddb__reserve_connector(f->s, &f->t1, &j, NULL, "test"), 0);
    assert_int_equal(store_start_job_token(f->s, &f->t1, cid, NULL, &tok, &g), STORE_TOKEN_REPLAY);
    assert_string_equal(g.id, j.id);
    assert_int_equal(g.status, CCF_JOB_STARTED);
    ccf_job_clear(&g);
    assert_int_equal(store_start_job_token(f->s, &f->t1, cid, NULL, &other, &g), CCF_ECONFLICT);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM jobs"), 1);
    /* A pending claim whose start never reserved (died before it): the
     * retry starts it, with the token's id, as NEW. */
    assert_int_equal(move(f, cid, j.id, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPED), 1);
    tok.token = "half2";
    store__job_init(&j, cid, CCF_TRIGGER_API, NULL);
    assert_int_equal(ccf_job_id_new(j.id), 0);
    ddb__tkey_init(&k, &f->t1, DDB__TOKEN_START, cid, &tok);
    assert_int_equal(ddb__token_claim(f->s, &k, j.id, sizeof(j.id), &done, "test"), 0);
    assert_int_equal(store_start_job_token(f->s, &f->t1, cid, NULL, &tok, &g), STORE_TOKEN_NEW);
    assert_string_equal(g.id, j.id);
    ccf_job_clear(&g);
    /* A pending claim whose job was made, ran and ended (the process died
     * before marking it done): the retry replays it and leaves the
     * connector free. */
    assert_int_equal(move(f, cid, j.id, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPED), 1);
    tok.token = "half3";
    assert_int_equal(store_start_job(f->s, &f->t1, cid, NULL, &g), 0);
    memcpy(j.id, g.id, sizeof(j.id));
    ccf_job_clear(&g);
    assert_int_equal(move(f, cid, j.id, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPED), 1);
    ddb__tkey_init(&k, &f->t1, DDB__TOKEN_START, cid, &tok);
    assert_int_equal(ddb__token_claim(f->s, &k, j.id, sizeof(j.id), &done, "test"), 0);
    assert_int_equal(store_start_job_token(f->s, &f->t1, cid, NULL, &tok, &g), STORE_TOKEN_REPLAY);
    assert_string_equal(g.id, j.id);
    assert_int_equal(g.status, CCF_JOB_STOPPED);
    ccf_job_clear(&g);
    assert_int_equal(store_get_connector(f->s, &f->t1, cid, &c), 0);
    assert_int_equal(c.status, CCF_CONNECTOR_AVAILABLE);
    ccf_connector_clear(&c);
}

/* A scheduled run that died between the reservation (which moved
 * next_run_at) and the job's item: reopening writes the SCHEDULE job; the
 * run is neither lost nor fired again. */
static void test_dynamo_recovery_finishes_scheduled_start(void **state)
{
    struct conf *f = *state;
    struct ccf_connector c = {.name = (char *)"sched", .properties = (char *)PROPS};
    struct store_fire fire = {.tenant = &f->t1, .due = 2000, .next = 2060, .start = true};
    struct ccf_job j, g;
    int64_t head = -1;

    c.schedule = (char *)"{\"rate\":\"1 minute\"}";
    c.next_run_at = 2000;
    c.schedule_anchor = 1000;
    assert_int_equal(store_create_connector(f->s, &f->t1, &c), 0);
    fire.connector_id = c.id;
    fire.schedule = c.schedule;
    store__job_init(&j, c.id, CCF_TRIGGER_SCHEDULE, NULL);
    assert_int_equal(ccf_job_id_new(j.id), 0);
    assert_int_equal(ddb__reserve_connector(f->s, &f->t1, &j, &fire, "test"), 0);
    assert_int_equal(store_schedule_head(f->s, &head), 0);
    assert_int_equal(head, 2060);
    assert_int_equal(store_fire_schedule(f->s, &fire, &g), CCF_ECONFLICT); /* not twice */
    conf_reopen(f);
    assert_int_equal(store_get_job(f->s, &f->t1, c.id, j.id, &g), 0);
    assert_int_equal(g.trigger, CCF_TRIGGER_SCHEDULE);
    ccf_job_clear(&g);
}

/* ---- the connectors' index in_use (in_use.c) ---- */

/* How many entries of the index in_use name job jid (0 or 1). */
static size_t in_index(struct conf *f, const char *jid)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    size_t n;

    ddb__table(f->s, DDB__T_CONNECTORS, table);
    assert_int_equal(
        ddb__call(f->s, "Query",
                  json_pack("{s:s,s:s,s:s,s:{s:o,s:o}}", "TableName", table, "IndexName",
                            DDB__IN_USE_INDEX, "KeyConditionExpression",
                            "in_use = :u AND active_job_id = :j", "ExpressionAttributeValues", ":u",
                            ddb__s_val(DDB__IN_USE_KEY), ":j", ddb__s_val(jid)),
                  &ans, "test"),
        0);
    n = json_array_size(json_object_get(ans, "Items"));
    json_decref(ans);
    return n;
}

/* A start puts its connector in the index; its job's end (SUCCEEDED, or
 * STOPPED through STOPPING) takes it out in the release. */
static void test_dynamo_in_use_index_follows_the_connector(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], jid2[CCF_JOB_ID_LEN + 1];

    mk_connector(f, &f->t1, "indexed", cid);
    start(f, cid, jid);
    assert_int_equal(in_index(f, jid), 1);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    assert_int_equal(in_index(f, jid), 1);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_RUNNING), CCF_JOB_SUCCEEDED), 1);
    assert_int_equal(in_index(f, jid), 0);
    start(f, cid, jid2);
    assert_int_equal(in_index(f, jid2), 1);
    assert_int_equal(move(f, cid, jid2, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPING), 1);
    assert_int_equal(in_index(f, jid2), 1);
    assert_int_equal(move(f, cid, jid2, BIT(CCF_JOB_STOPPING), CCF_JOB_STOPPED), 1);
    assert_int_equal(in_index(f, jid2), 0);
    assert_int_equal(store_delete_connector(f->s, &f->t1, cid), 0);
}

/* A start that died after reserving, as an earlier version left it: the
 * connector IN_USE without the index's attribute. */
static void reserve_unindexed(struct conf *f, struct ccf_job *j)
{
    char table[DDB__NAME_MAX];

    mk_connector(f, &f->t1, "old half", j->connector_id);
    assert_int_equal(ccf_job_id_new(j->id), 0);
    j->created_at = j->updated_at = ccf_now_us();
    assert_int_equal(ddb__reserve_connector(f->s, &f->t1, j, NULL, "test"), 0);
    ddb__table(f->s, DDB__T_CONNECTORS, table);
    assert_int_equal(ddb__call(f->s, "UpdateItem",
                               json_pack("{s:s,s:{s:{s:s},s:{s:s}},s:s}", "TableName", table, "Key",
                                         "pk", "S", "us-east-1#111111111111", "id", "S",
                                         j->connector_id, "UpdateExpression", "REMOVE in_use"),
                               NULL, "test"),
                     0);
    assert_int_equal(in_index(f, j->id), 0);
}

static bool has_job(struct conf *f, const struct ccf_job *j)
{
    struct ccf_job g;
    int rc = store_get_job(f->s, &f->t1, j->connector_id, j->id, &g);

    assert_true(rc == 0 || rc == CCF_ENOTFOUND);
    if (rc == 0)
        ccf_job_clear(&g);
    return rc == 0;
}

/* Recovery reads the index, not every connector: a half-done start in the
 * index is finished (tables=ensure and tables=existing alike), one outside
 * it is not, until the meta item in_use_index is gone (a table from before
 * the index): then the open's one Scan finishes it and puts it in. */
static void test_dynamo_recovery_by_the_index(void **state)
{
    struct conf *f = *state;
    struct ccf_job a = {.status = CCF_JOB_STARTED, .trigger = CCF_TRIGGER_API};
    struct ccf_job b = a, old = a;
    char url[sizeof(f->url)], table[DDB__NAME_MAX];

    mk_connector(f, &f->t1, "half a", a.connector_id);
    assert_int_equal(ccf_job_id_new(a.id), 0);
    a.created_at = a.updated_at = ccf_now_us();
    assert_int_equal(ddb__reserve_connector(f->s, &f->t1, &a, NULL, "test"), 0);
    assert_int_equal(in_index(f, a.id), 1);
    reserve_unindexed(f, &old);
    conf_reopen(f);
    assert_true(has_job(f, &a));
    assert_false(has_job(f, &old)); /* not scanned */
    /* tables=existing: the same Query, nothing described */
    memcpy(url, f->url, sizeof(url));
    assert_true((size_t)snprintf(f->url, sizeof(f->url), "%s&tables=existing", url) <
                sizeof(f->url));
    mk_connector(f, &f->t1, "half b", b.connector_id);
    assert_int_equal(ccf_job_id_new(b.id), 0);
    b.created_at = b.updated_at = ccf_now_us();
    assert_int_equal(ddb__reserve_connector(f->s, &f->t1, &b, NULL, "test"), 0);
    conf_reopen(f);
    assert_true(has_job(f, &b));
    assert_false(has_job(f, &old));
    memcpy(f->url, url, sizeof(url));
    /* Without the marker (tables=ensure): one Scan, which indexes it. */
    ddb__table(f->s, DDB__T_META, table);
    assert_int_equal(ddb__call(f->s, "DeleteItem",
                               json_pack("{s:s,s:{s:{s:s}}}", "TableName", table, "Key", "name",
                                         "S", "in_use_index"),
                               NULL, "test"),
                     0);
    conf_reopen(f);
    assert_true(has_job(f, &old));
    assert_int_equal(in_index(f, old.id), 1);
    assert_int_equal(move(f, old.connector_id, old.id, BIT(CCF_JOB_STARTED), CCF_JOB_SUCCEEDED), 1);
    assert_int_equal(in_index(f, old.id), 0);
}

/* A connectors table made before the index (dynalite cannot add one): the
 * open fails, with tables=existing (the Query) and tables=ensure alike
 * (dynalite refuses UpdateTable's index without throughput on an on-demand
 * table, and takes it on a provisioned one without adding it). */
static void test_dynamo_table_without_the_index(void **state)
{
    struct conf *f = *state;
    char url[sizeof(f->url)], prefix[32], table[DDB__NAME_MAX], endpoint[sizeof(f->url)];
    struct store *s = NULL;

    assert_non_null(strstr(f->url, "&endpoint="));
    snprintf(endpoint, sizeof(endpoint), "%s", strstr(f->url, "&endpoint="));
    snprintf(prefix, sizeof(prefix), "old%08x", (unsigned)(ccf_now_us() & 0xffffffff));
    assert_true((size_t)snprintf(url, sizeof(url), "dynamodb://%s?region=us-east-1%s", prefix,
                                 endpoint) < sizeof(url));
    assert_int_equal(store_open(&s, &(struct store_config){.url = url}), 0);
    store_close(s);
    s = NULL;
    assert_true((size_t)snprintf(table, sizeof(table), "%s%s", prefix, DDB__T_CONNECTORS) <
                sizeof(table));
    for (int provisioned = 0; provisioned < 2; provisioned++) {
        json_t *req =
            json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:s},{s:s,s:s}]}", "TableName", table,
                      "AttributeDefinitions", "AttributeName", "pk", "AttributeType", "S",
                      "AttributeName", "id", "AttributeType", "S", "KeySchema", "AttributeName",
                      "pk", "KeyType", "HASH", "AttributeName", "id", "KeyType", "RANGE");

        if (provisioned)
            json_object_set_new(
                req, "ProvisionedThroughput",
                json_pack("{s:i,s:i}", "ReadCapacityUnits", 5, "WriteCapacityUnits", 5));
        else
            json_object_set_new(req, "BillingMode", json_string("PAY_PER_REQUEST"));
        assert_int_equal(
            ddb__call(f->s, "DeleteTable", json_pack("{s:s}", "TableName", table), NULL, "test"),
            0);
        for (int i = 0;
             i < 200 && ddb__call(f->s, "DescribeTable", json_pack("{s:s}", "TableName", table),
                                  NULL, "test") != CCF_ENOTFOUND;
             i++) /* DELETING a moment, even in dynalite */
            nanosleep(&(struct timespec){.tv_nsec = 50000000L}, NULL);
        assert_int_equal(ddb__call(f->s, "CreateTable", req, NULL, "test"), 0);
        assert_int_equal(store_open(&s, &(struct store_config){.url = url}), CCF_EIO);
        assert_null(s);
    }
    memcpy(endpoint, url, sizeof(url));
    assert_true((size_t)snprintf(url, sizeof(url), "%s&tables=existing", endpoint) < sizeof(url));
    assert_int_equal(store_open(&s, &(struct store_config){.url = url}), CCF_EIO);
    assert_null(s);
}

const struct CMUnitTest conf_dynamo_only[] = {
    cmocka_unit_test_setup_teardown(test_dynamo_paging, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_job_item_layout, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_recovery_finishes_start, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_recovery_releases_ended, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_ended_job_frees_its_connector_on_read, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_delete_cascades_items, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_big_checkpoints_and_versions, conf_setup_h3,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_checkpoint_switch_then_crash, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_status_reason_and_pause, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_bad_urls, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_pending_create_token_finished, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_pending_start_token_finished, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_recovery_finishes_scheduled_start, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_in_use_index_follows_the_connector, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_recovery_by_the_index, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_table_without_the_index, conf_setup, conf_teardown),
};
const size_t conf_dynamo_only_n = sizeof(conf_dynamo_only) / sizeof(conf_dynamo_only[0]);
