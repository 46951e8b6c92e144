/* data.c: conformance cases of documents, checkpoints, the change stream
 * (the outbox) and its hook, consumers' cursors, and data kept across a
 * reopen. */
#include "conf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_documents_upsert(void **state)
{
    struct conf *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], y[CCF_CONNECTOR_ID_LEN + 1];
    const char *s1 = "11111111111111111111111111111111", *s2 = "22222222222222222222222222222222";
    struct ccf_document d[] = {{.id = "b", .checksum = s1}, {.id = "a", .checksum = s1}};
    struct ccf_document d2 = {.id = "a", .checksum = s2};
    const char *del[] = {"a", "never-existed"};
    struct coll l = {0};
    struct lister lx = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = x};
    struct lister ly = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = y};
    int64_t created;

    mk_connector(f, &f->t1, "conn-x", x);
    mk_connector(f, &f->t1, "conn-y", y);
    assert_int_equal(store_put_documents(f->s, &f->t1, x, d, 2), 0);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].id, "a");
    assert_string_equal(l.v[0].checksum, s1);
    assert_int_equal(l.v[0].at, l.v[0].at2);
    created = l.v[0].at;
    coll_free(&l);

    usleep(2000);
    assert_int_equal(store_put_documents(f->s, &f->t1, x, &d2, 1), 0);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].checksum, s2);
    assert_int_equal(l.v[0].at, created);
    assert_true(l.v[0].at2 > created);
    assert_string_equal(l.v[1].checksum, s1);
    coll_free(&l);

    /* The same id in another connector is another document. */
    assert_int_equal(store_put_documents(f->s, &f->t1, y, d + 1, 1), 0);
    list_all(&ly, 10, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].checksum, s1);
    coll_free(&l);
    assert_int_equal(store_delete_documents(f->s, &f->t1, x, del, 2), 0);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].id, "b");
    coll_free(&l);
    list_all(&ly, 10, &l);
    assert_int_equal(l.n, 1);
    coll_free(&l);

    assert_int_equal(store_put_documents(f->s, &f->t1, NO_ID_C, d, 2), CCF_ENOTFOUND);
    assert_int_equal(store_delete_documents(f->s, &f->t1, NO_ID_C, del, 2), CCF_ENOTFOUND);
    assert_int_equal(store_put_documents(f->s, &f->t1, x, d, 0), 0);
}

static void test_checkpoint(void **state)
{
    struct conf *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    static const char data1[] = "a\0b\0\0c";
    struct ccf_checkpoint cp;
    struct ccf_connector g;
    size_t big_len = CCF_CHECKPOINT_MAX;
    char *big = malloc(big_len);
    int64_t created;

    mk_connector(f, &f->t1, "conn-x", x);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), CCF_ENOTFOUND);
    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, x), CCF_ENOTFOUND);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, x, data1, 6), 0);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), 0);
    assert_string_equal(cp.connector_id, x);
    assert_int_equal(cp.data_len, 6);
    assert_memory_equal(cp.data, data1, 6);
    assert_int_equal(cp.data[6], '\0');
    assert_int_equal(cp.created_at, cp.updated_at);
    created = cp.created_at;
    ccf_checkpoint_clear(&cp);

    /* A job running does not stop checkpoint writes, which leave the connector alone. */
    start(f, x, jid);
    usleep(2000);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 % 251);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, x, big, big_len), 0);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), 0);
    assert_int_equal(cp.data_len, big_len);
    assert_memory_equal(cp.data, big, big_len);
    assert_int_equal(cp.created_at, created);
    assert_true(cp.updated_at > created);
    ccf_checkpoint_clear(&cp);
    get_conn(f, x, &g);
    assert_int_equal(g.version, 2); /* only the start bumped it */
    ccf_connector_clear(&g);

    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, x), 0);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), CCF_ENOTFOUND);
    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, x), CCF_ENOTFOUND);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, NO_ID_C, "z", 1), CCF_ENOTFOUND);
    free(big);
}

static void count_hook(void *ctx)
{
    ++*(int *)ctx;
}

static void test_changes_and_hook(void **state)
{
    struct conf *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_document d = {.id = "d", .checksum = "44444444444444444444444444444444"};
    struct store_change ch[8];
    struct ccf_job j;
    int fired = 0;

    store_set_change_hook(f->s, count_hook, &fired);
    assert_int_equal(store_read_changes(f->s, 0, ch, 8), 0);
    mk_connector(f, &f->t1, "conn-x", x);
    /* A connector created (or updated) fires it too: the orchestrator
     * reads those with store_read_connector_changes. */
    assert_int_equal(fired, 1);
    fired = 0;
    assert_int_equal(store_put_documents(f->s, &f->t1, x, &d, 1), 0);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, x, "c", 1), 0);
    assert_int_equal(fired, 0); /* no job or connector change, no hook */

    start(f, x, jid);
    assert_int_equal(fired, 1);
    assert_int_equal(move(f, x, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    assert_int_equal(fired, 2);
    assert_int_equal(move(f, x, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 0);
    assert_int_equal(move(f, x, jid, BIT(CCF_JOB_STARTED), CCF_JOB_FAILED), CCF_ECONFLICT);
    assert_int_equal(store_start_job(f->s, &f->t1, x, NULL, &j), CCF_ECONFLICT);
    assert_int_equal(fired, 2);
    assert_int_equal(move(f, x, jid, BIT(CCF_JOB_RUNNING), CCF_JOB_SUCCEEDED), 1);
    assert_int_equal(fired, 3);

    assert_int_equal(store_read_changes(f->s, 0, ch, 8), 3);
    const int olds[] = {-1, CCF_JOB_STARTED, CCF_JOB_RUNNING};
    const int news[] = {CCF_JOB_STARTED, CCF_JOB_RUNNING, CCF_JOB_SUCCEEDED};
    for (int i = 0; i < 3; i++) {
        assert_true(i == 0 || ch[i].seq > ch[i - 1].seq);
        assert_string_equal(ch[i].tenant.region, "us-east-1");
        assert_string_equal(ch[i].tenant.account_id, "111111111111");
        assert_string_equal(ch[i].connector_id, x);
        assert_string_equal(ch[i].job_id, jid);
        assert_int_equal(ch[i].old_status, olds[i]);
        assert_int_equal(ch[i].new_status, news[i]);
        assert_true(ch[i].at > 0 && (i == 0 || ch[i].at >= ch[i - 1].at));
    }
    int64_t s0 = ch[0].seq, s1 = ch[1].seq, s2 = ch[2].seq;
    assert_int_equal(store_read_changes(f->s, s0, ch, 8), 2);
    assert_int_equal(ch[0].seq, s1);
    assert_int_equal(store_read_changes(f->s, 0, ch, 1), 1);
    assert_int_equal(ch[0].seq, s0);
    assert_int_equal(store_read_changes(f->s, s2, ch, 8), 0);
    assert_int_equal(store_read_changes(f->s, 0, ch, 0), 0);

    /* seq keeps growing across a restart. */
    conf_reopen(f);
    start(f, x, jid);
    assert_int_equal(store_read_changes(f->s, s2, ch, 8), 1);
    assert_true(ch[0].seq > s2);
    assert_int_equal(fired, 3); /* the new handle has no hook */
}

static void test_cursor_persists(void **state)
{
    struct conf *f = *state;
    int64_t seq = -1;

    assert_int_equal(store_cursor_get(f->s, "orchestrator", &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(store_cursor_set(f->s, "orchestrator", 5), 0);
    assert_int_equal(store_cursor_set(f->s, "other", 9), 0);
    assert_int_equal(store_cursor_get(f->s, "orchestrator", &seq), 0);
    assert_int_equal(seq, 5);
    conf_reopen(f);
    assert_int_equal(store_cursor_get(f->s, "orchestrator", &seq), 0);
    assert_int_equal(seq, 5);
    assert_int_equal(store_cursor_get(f->s, "other", &seq), 0);
    assert_int_equal(seq, 9);
    assert_int_equal(store_cursor_set(f->s, "orchestrator", 12), 0);
    assert_int_equal(store_cursor_get(f->s, "orchestrator", &seq), 0);
    assert_int_equal(seq, 12);
    assert_int_equal(store_cursor_set(f->s, "", 1), CCF_EINVAL);
    assert_int_equal(store_cursor_set(f->s, "orchestrator", -1), CCF_EINVAL);
    assert_int_equal(store_cursor_get(f->s, NULL, &seq), CCF_EINVAL);
    assert_int_equal(seq, 12);
}

static void test_data_survives_reopen(void **state)
{
    struct conf *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c = {.name = "conn-x", .description = "kept", .properties = PROPS}, g;
    struct ccf_document d = {.id = "doc", .checksum = "55555555555555555555555555555555"};
    unsigned char secret[32], secret2[32], zero[32] = {0};
    struct ccf_checkpoint cp;
    struct ccf_job j;
    struct coll l = {0};
    struct lister lx = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = x};

    assert_int_equal(store_create_connector(f->s, &f->t1, &c), 0);
    memcpy(x, c.id, sizeof(x));
    assert_int_equal(store_put_documents(f->s, &f->t1, x, &d, 1), 0);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, x, "c\0p", 3), 0);
    start(f, x, jid);
    assert_int_equal(store_secret(f->s, secret), 0);
    assert_memory_not_equal(secret, zero, 32);

    conf_reopen(f);
    assert_int_equal(store_ping(f->s), 0);
    assert_int_equal(store_secret(f->s, secret2), 0);
    assert_memory_equal(secret, secret2, 32);
    get_conn(f, x, &g);
    assert_string_equal(g.description, "kept");
    assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(g.active_job_id, jid);
    assert_int_equal(g.created_at, c.created_at);
    ccf_connector_clear(&g);
    assert_int_equal(store_get_job(f->s, &f->t1, x, jid, &j), 0);
    assert_int_equal(j.status, CCF_JOB_STARTED);
    ccf_job_clear(&j);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), 0);
    assert_int_equal(cp.data_len, 3);
    assert_memory_equal(cp.data, "c\0p", 3);
    ccf_checkpoint_clear(&cp);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].id, "doc");
    coll_free(&l);
}

const struct CMUnitTest conf_data[] = {
    cmocka_unit_test_setup_teardown(test_documents_upsert, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_checkpoint, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_changes_and_hook, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_cursor_persists, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_data_survives_reopen, conf_setup, conf_teardown),
};
const size_t conf_data_n = sizeof(conf_data) / sizeof(conf_data[0]);
