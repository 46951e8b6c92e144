/* connectors.c: conformance cases of connectors: create, read, conditional
 * update, delete with its cascade, tenant isolation, and keyset paging of
 * connectors, jobs and documents (ties broken by id, masks, hostile page
 * keys, a visitor that stops). */
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY 250

static void test_connector_crud(void **state)
{
    struct conf *f = *state;
    struct ccf_connector c = {.name = "conn-a", .properties = PROPS}, g;
    char jid[CCF_JOB_ID_LEN + 1];

    assert_int_equal(store_create_connector(f->s, &f->t1, &c), 0);
    assert_true(ccf_connector_id_valid(c.id));
    assert_int_equal(c.status, CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(c.version, 1);
    assert_true(c.created_at > 0 && c.created_at == c.updated_at);
    assert_string_equal(c.active_job_id, "");

    get_conn(f, c.id, &g);
    assert_string_equal(g.id, c.id);
    assert_string_equal(g.name, "conn-a");
    assert_null(g.description);
    assert_string_equal(g.properties, PROPS);
    assert_int_equal(g.created_at, c.created_at);
    assert_int_equal(g.version, 1);
    ccf_connector_clear(&g);

    c.name = "conn-b";
    c.description = "a description";
    c.properties = "{\"command\":[\"/bin/false\"]}";
    assert_int_equal(store_update_connector(f->s, &f->t1, &c, 1), 0);
    assert_int_equal(c.version, 2);
    assert_true(c.updated_at >= c.created_at);
    get_conn(f, c.id, &g);
    assert_string_equal(g.name, "conn-b");
    assert_string_equal(g.description, "a description");
    assert_string_equal(g.properties, "{\"command\":[\"/bin/false\"]}");
    assert_int_equal(g.version, 2);
    assert_int_equal(g.updated_at, c.updated_at);
    ccf_connector_clear(&g);

    assert_int_equal(store_update_connector(f->s, &f->t1, &c, 1), CCF_ECONFLICT); /* stale */
    c.description = NULL;
    assert_int_equal(store_update_connector(f->s, &f->t1, &c, 2), 0);
    get_conn(f, c.id, &g);
    assert_null(g.description);
    assert_int_equal(g.version, 3);
    ccf_connector_clear(&g);

    /* A job start and end bump the version too (conditional updates see them). */
    start(f, c.id, jid);
    get_conn(f, c.id, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(g.active_job_id, jid);
    assert_int_equal(g.version, 4);
    ccf_connector_clear(&g);
    assert_int_equal(move(f, c.id, jid, BIT(CCF_JOB_STARTED), CCF_JOB_FAILED), 1);
    get_conn(f, c.id, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_AVAILABLE);
    assert_string_equal(g.active_job_id, "");
    assert_int_equal(g.version, 5);
    ccf_connector_clear(&g);

    memcpy(c.id, NO_ID_C, sizeof(c.id));
    assert_int_equal(store_update_connector(f->s, &f->t1, &c, 5), CCF_ENOTFOUND);
    assert_int_equal(store_get_connector(f->s, &f->t1, "nonsense", &g), CCF_ENOTFOUND);
    assert_int_equal(store_get_connector(f->s, &f->t1, NO_ID_C, &g), CCF_ENOTFOUND);

    struct ccf_connector bad = {.name = NULL, .properties = PROPS};
    assert_int_equal(store_create_connector(f->s, &f->t1, &bad), CCF_EINVAL);
}

static void test_connector_delete_cascades(void **state)
{
    struct conf *f = *state;
    char a[CCF_CONNECTOR_ID_LEN + 1], b[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_document docs[] = {{.id = "d1", .checksum = "0123456789abcdef0123456789abcdef"},
                                  {.id = "d2", .checksum = "0123456789abcdef0123456789abcdef"}};
    struct ccf_connector g;
    struct ccf_job j;
    struct ccf_checkpoint cp;
    char sql[256];

    mk_connector(f, &f->t1, "conn-a", a);
    mk_connector(f, &f->t1, "conn-b", b);
    assert_int_equal(store_put_documents(f->s, &f->t1, a, docs, 2), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, b, docs, 2), 0);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, a, "cp", 2), 0);
    start(f, a, jid);

    assert_int_equal(store_delete_connector(f->s, &f->t1, a), CCF_ECONFLICT); /* IN_USE */
    get_conn(f, a, &g);
    ccf_connector_clear(&g);
    assert_int_equal(move(f, a, jid, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPED), 1);
    assert_int_equal(store_delete_connector(f->s, &f->t1, a), 0);

    assert_int_equal(store_get_connector(f->s, &f->t1, a, &g), CCF_ENOTFOUND);
    assert_int_equal(store_get_job(f->s, &f->t1, a, jid, &j), CCF_ENOTFOUND);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, a, &cp), CCF_ENOTFOUND);
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM jobs WHERE connector_id = '%s') + "
             "(SELECT count(*) FROM documents WHERE connector_id = '%s') + "
             "(SELECT count(*) FROM checkpoints WHERE connector_id = '%s')",
             a, a, a);
    assert_int_equal(conf_int(f, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM documents WHERE connector_id = '%s'", b);
    assert_int_equal(conf_int(f, sql), 2); /* the other connector keeps its own */
    assert_int_equal(store_delete_connector(f->s, &f->t1, a), CCF_ENOTFOUND);
    assert_int_equal(store_delete_connector(f->s, &f->t1, "cc-bad"), CCF_ENOTFOUND);
}

static void test_tenant_isolation(void **state)
{
    struct conf *f = *state;
    char a[CCF_CONNECTOR_ID_LEN + 1], b[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_document doc = {.id = "d1", .checksum = "0123456789abcdef0123456789abcdef"};
    const char *ids[] = {"d1"};
    struct store_page p = {.limit = 10};
    struct store_transition tr = {.from_mask = ~0u, .to = CCF_JOB_FAILED};
    struct ccf_connector c, g;
    struct ccf_job j;
    struct ccf_checkpoint cp;
    struct coll l = {0};
    const struct ccf_tenant *others[] = {&f->t2, &f->t3};

    mk_connector(f, &f->t1, "conn-a", a);
    mk_connector(f, &f->t2, "conn-b", b);
    assert_int_equal(store_put_documents(f->s, &f->t1, a, &doc, 1), 0);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, a, "mine", 4), 0);
    start(f, a, jid);

    for (size_t i = 0; i < 2; i++) {
        const struct ccf_tenant *o = others[i];
        c = (struct ccf_connector){.name = "x-y-z", .properties = PROPS};
        memcpy(c.id, a, sizeof(c.id));
        assert_int_equal(store_get_connector(f->s, o, a, &g), CCF_ENOTFOUND);
        assert_int_equal(store_update_connector(f->s, o, &c, 2), CCF_ENOTFOUND);
        assert_int_equal(store_delete_connector(f->s, o, a), CCF_ENOTFOUND);
        assert_int_equal(store_start_job(f->s, o, a, NULL, &j), CCF_ENOTFOUND);
        assert_int_equal(store_get_job(f->s, o, a, jid, &j), CCF_ENOTFOUND);
        assert_int_equal(store_list_jobs(f->s, o, a, 0, &p, on_job, &l, NULL), CCF_ENOTFOUND);
        assert_int_equal(store_transition_job(f->s, o, a, jid, &tr, NULL), CCF_ENOTFOUND);
        assert_int_equal(store_put_documents(f->s, o, a, &doc, 1), CCF_ENOTFOUND);
        assert_int_equal(store_delete_documents(f->s, o, a, ids, 1), CCF_ENOTFOUND);
        assert_int_equal(store_list_documents(f->s, o, a, &p, on_doc, &l, NULL), CCF_ENOTFOUND);
        assert_int_equal(store_put_checkpoint(f->s, o, a, "theirs", 6), CCF_ENOTFOUND);
        assert_int_equal(store_get_checkpoint(f->s, o, a, &cp), CCF_ENOTFOUND);
        assert_int_equal(store_delete_checkpoint(f->s, o, a), CCF_ENOTFOUND);
    }
    assert_int_equal(l.n, 0);

    /* Nothing of t1's was touched, and lists never cross tenants. */
    get_conn(f, a, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(g.name, "conn-a");
    ccf_connector_clear(&g);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, a, &cp), 0);
    assert_memory_equal(cp.data, "mine", 4);
    ccf_checkpoint_clear(&cp);
    assert_int_equal(store_list_documents(f->s, &f->t1, a, &p, on_doc, &l, NULL), 0);
    assert_int_equal(l.n, 1);
    coll_free(&l);

    const struct ccf_tenant *ts[] = {&f->t1, &f->t2, &f->t3};
    const char *want[] = {a, b, NULL};
    for (size_t i = 0; i < 3; i++) {
        struct lister li = {.f = f, .t = ts[i], .kind = K_CONNECTORS};
        list_all(&li, 10, &l);
        assert_int_equal(l.n, want[i] ? 1 : 0);
        if (want[i])
            assert_string_equal(l.v[0].id, want[i]);
        coll_free(&l);
    }
}

static void test_connector_pagination(void **state)
{
    struct conf *f = *state;
    char *want[MANY];
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_CONNECTORS};
    char other[CCF_CONNECTOR_ID_LEN + 1];

    for (size_t i = 0; i < MANY; i++) {
        want[i] = calloc(1, CCF_CONNECTOR_ID_LEN + 1);
        mk_connector(f, &f->t1, "conn-x", want[i]);
    }
    mk_connector(f, &f->t2, "conn-other", other);
    /* Many equal created_at values: the id must break the ties. */
    conf_exec(f, "UPDATE connectors SET created_at = 1000 + (rowid % 4)",
              "UPDATE connectors SET created_at = 1000 + (ascii(substr(id, 15)) % 4)");

    list_all(&li, 7, &l);
    for (size_t i = 1; i < l.n; i++) {
        struct item *p = &l.v[i - 1], *q = &l.v[i];
        assert_true(p->at < q->at || (p->at == q->at && strcmp(p->id, q->id) < 0));
    }
    assert_same_ids(&l, want, MANY);
    coll_free(&l);

    /* An exact multiple of the limit ends without an empty page. */
    list_all(&li, 50, &l);
    assert_int_equal(l.n, MANY);
    coll_free(&l);
    list_all(&li, 1000, &l);
    assert_int_equal(l.n, MANY);
    coll_free(&l);
    for (size_t i = 0; i < MANY; i++)
        free(want[i]);
}

static void test_job_pagination(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    char *all[MANY], *succeeded[MANY], *ended[MANY];
    size_t ns = 0, ne = 0;
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_JOBS, .cid = cid};

    mk_connector(f, &f->t1, "conn-x", cid);
    for (size_t i = 0; i < MANY; i++) {
        start(f, cid, jid);
        all[i] = strdup(jid);
        if (i == MANY - 1)
            break; /* the last stays RUNNING */
        if (i % 3 == 0) {
            assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
            assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_RUNNING), CCF_JOB_SUCCEEDED), 1);
            succeeded[ns++] = all[i];
        } else {
            enum ccf_job_status to = i % 3 == 1 ? CCF_JOB_FAILED : CCF_JOB_STOPPED;
            assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), to), 1);
        }
        ended[ne++] = all[i];
    }
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    conf_exec(f, "UPDATE jobs SET created_at = 5000 + (rowid % 3)",
              "UPDATE jobs SET created_at = 5000 + (ascii(substr(id, 16)) % 3)");

    list_all(&li, 7, &l);
    for (size_t i = 1; i < l.n; i++) {
        struct item *p = &l.v[i - 1], *q = &l.v[i];
        assert_true(p->at > q->at || (p->at == q->at && strcmp(p->id, q->id) > 0));
        assert_string_equal(q->checksum, cid); /* on_job keeps connector_id there */
    }
    assert_same_ids(&l, all, MANY);
    coll_free(&l);

    li.mask = BIT(CCF_JOB_SUCCEEDED); /* one status: the status index */
    list_all(&li, 7, &l);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.v[i].status, CCF_JOB_SUCCEEDED);
    assert_same_ids(&l, succeeded, ns);
    coll_free(&l);

    li.mask = BIT(CCF_JOB_SUCCEEDED) | BIT(CCF_JOB_FAILED) | BIT(CCF_JOB_STOPPED);
    list_all(&li, 7, &l);
    for (size_t i = 1; i < l.n; i++)
        assert_true(l.v[i - 1].at >= l.v[i].at);
    assert_same_ids(&l, ended, ne);
    coll_free(&l);

    li.mask = BIT(CCF_JOB_RUNNING);
    list_all(&li, 7, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].id, jid); /* the last one started */
    coll_free(&l);

    li.mask = BIT(CCF_JOB_STOPPING);
    list_all(&li, 7, &l);
    assert_int_equal(l.n, 0);
    coll_free(&l);
    for (size_t i = 0; i < MANY; i++)
        free(all[i]);
}

static void test_document_pagination(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], other[CCF_CONNECTOR_ID_LEN + 1];
    static const char *const shapes[] = {"doc-%03zu", "é-%zu", "日本/%zu", "Z %zu", "%zu", "a~%zu"};
    char *want[MANY];
    struct ccf_document docs[MANY];
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = cid};
    char buf[64];

    mk_connector(f, &f->t1, "conn-x", cid);
    mk_connector(f, &f->t1, "conn-y", other);
    for (size_t i = 0; i < MANY; i++) {
        /* Each shape comes from a fixed table; -Wformat-nonliteral is fine here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(buf, sizeof(buf), shapes[i % 6], (MANY - i) * 7919 % 1000);
#pragma GCC diagnostic pop
        want[i] = strdup(buf);
        docs[i] =
            (struct ccf_document){.id = want[i], .checksum = "sum-of-32-chars-0123456789abcdef"};
    }
    /* Unsorted batches of 100, 100 and 50. */
    assert_int_equal(store_put_documents(f->s, &f->t1, cid, docs, 100), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, cid, docs + 100, 100), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, cid, docs + 200, 50), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, other, docs, 10), 0);

    list_all(&li, 7, &l);
    for (size_t i = 1; i < l.n; i++)
        assert_true(strcmp(l.v[i - 1].id, l.v[i].id) < 0); /* bytewise ascending */
    assert_same_ids(&l, want, MANY);
    coll_free(&l);
    list_all(&li, 1000, &l);
    assert_int_equal(l.n, MANY);
    coll_free(&l);
    for (size_t i = 0; i < MANY; i++)
        free(want[i]);
}

static void test_bad_page_keys(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct coll l = {0};
    struct lister lc = {.f = f, .t = &f->t1, .kind = K_CONNECTORS};
    struct lister lj = {.f = f, .t = &f->t1, .kind = K_JOBS, .cid = cid};
    struct lister ld = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = cid};
    char *next = SENTINEL;
    char long_id[600];
    static const char *const bad_conn[] = {
        "",
        "x",
        "0000000000000001",
        "0000000000000001:",
        "0000000000000001:cc-12345678901",
        "0000000000000001:cc-0123456789abc",
        "0000000000000001:cc-0123456789AB",
        "000000000000000g:cc-0123456789ab",
        "0000000000000001;cc-0123456789ab",
        "8000000000000000:cc-0123456789ab",
        "000000000000001:cc-0123456789ab",
        "00000000000000001:cc-0123456789ab",
        "0000000000000001:cc-0123456789ab ",
    };
    static const char *const bad_doc[] = {"",          "a\x01",    "tab\there",    "\xff",
                                          "\xc3",      "\xc0\xaf", "\xed\xa0\x80", "del\x7f",
                                          "c1\xc2\x85"};

    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    for (size_t i = 0; i < sizeof(bad_conn) / sizeof(bad_conn[0]); i++) {
        assert_int_equal(list_page(&lc, bad_conn[i], 5, &l, &next), CCF_EINVAL);
        assert_int_equal(list_page(&lj, bad_conn[i], 5, &l, &next), CCF_EINVAL);
    }
    /* A key of the other list has the other id kind. */
    assert_int_equal(list_page(&lj, "0000000000000001:cc-0123456789ab", 5, &l, &next), CCF_EINVAL);
    assert_int_equal(list_page(&lc, "0000000000000001:ccj-0123456789ab", 5, &l, &next), CCF_EINVAL);
    for (size_t i = 0; i < sizeof(bad_doc) / sizeof(bad_doc[0]); i++)
        assert_int_equal(list_page(&ld, bad_doc[i], 5, &l, &next), CCF_EINVAL);
    memset(long_id, 'a', 513);
    long_id[513] = '\0'; /* 513 code points */
    assert_int_equal(list_page(&ld, long_id, 5, &l, &next), CCF_EINVAL);
    long_id[512] = '\0';
    assert_int_equal(list_page(&ld, long_id, 5, &l, &next), 0);
    assert_null(next);
    next = SENTINEL;
    assert_int_equal(list_page(&lc, NULL, 0, &l, &next), CCF_EINVAL);
    assert_int_equal(list_page(&lc, NULL, 1001, &l, &next), CCF_EINVAL);
    assert_int_equal(store_list_connectors(f->s, &f->t1, NULL, on_connector, &l, &next),
                     CCF_EINVAL);
    lj.mask = BIT(CCF_JOB_STATUS_COUNT);
    assert_int_equal(list_page(&lj, NULL, 5, &l, &next), CCF_EINVAL);
    assert_ptr_equal(next, SENTINEL); /* untouched on failure */
    assert_int_equal(l.n, 0);

    /* Well-formed keys past the end give an empty last page. */
    lj.mask = 0;
    assert_int_equal(list_page(&lc, "7fffffffffffffff:cc-ffffffffffff", 5, &l, &next), 0);
    assert_null(next);
    assert_int_equal(list_page(&lj, "0000000000000000:ccj-000000000000", 5, &l, &next), 0);
    assert_null(next);
    assert_int_equal(l.n, 0);
}

static int stop_at_second(void *ctx, const struct ccf_connector *c)
{
    (void)c;
    return ++*(int *)ctx == 2 ? -42 : 0;
}

static void test_visitor_stops_listing(void **state)
{
    struct conf *f = *state;
    char id[CCF_CONNECTOR_ID_LEN + 1];
    struct store_page p = {.limit = 10};
    char *next = SENTINEL;
    int calls = 0;

    for (int i = 0; i < 3; i++)
        mk_connector(f, &f->t1, "conn-x", id);
    assert_int_equal(store_list_connectors(f->s, &f->t1, &p, stop_at_second, &calls, &next), -42);
    assert_int_equal(calls, 2);
    assert_ptr_equal(next, SENTINEL);
}

const struct CMUnitTest conf_connectors[] = {
    cmocka_unit_test_setup_teardown(test_connector_crud, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_connector_delete_cascades, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_tenant_isolation, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_connector_pagination, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_job_pagination, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_document_pagination, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_bad_page_keys, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_visitor_stops_listing, conf_setup, conf_teardown),
};
const size_t conf_connectors_n = sizeof(conf_connectors) / sizeof(conf_connectors[0]);
