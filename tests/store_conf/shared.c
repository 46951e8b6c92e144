/* shared.c: conformance cases of what replicas share through the store
 * (store.h, "What one replica shares"): job-log chunks and TestWebhook's
 * pings. A backend of one process keeps neither and says so quietly (0,
 * or CCF_ENOTFOUND for a read): that is checked too. */
#include "conf.h"

#include <stdlib.h>
#include <string.h>

#define CAP 16

static int append(struct conf *f, const char *jid, int attempt, int64_t off, const char *data)
{
    return store_append_job_log(f->s, jid, attempt, off, data, strlen(data), CAP);
}

/* Reads attempt's log from off and checks the text, size and dropped. */
static void expect_log(struct conf *f, const char *jid, int attempt, int64_t off, const char *want,
                       int64_t want_size, int64_t want_dropped)
{
    char buf[64];
    int64_t size = -1, dropped = -1;
    int n = store_read_job_log(f->s, jid, attempt, off, buf, sizeof(buf), &size, &dropped);

    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
    assert_int_equal(size, want_size);
    assert_int_equal(dropped, want_dropped);
}

static void test_job_log_chunks(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], buf[8];
    struct store_job_ref refs[4];
    int64_t end = -1, size, dropped;

    mk_connector(f, &f->t1, "logs", cid);
    start(f, cid, jid);
    if (!store_shared(f->s)) {
        assert_int_equal(append(f, jid, 1, 0, "x"), 0);
        assert_int_equal(store_job_log_end(f->s, jid, 1, &end), 0);
        assert_int_equal(store_read_job_log(f->s, jid, 1, 0, buf, 8, &size, &dropped),
                         CCF_ENOTFOUND);
        return;
    }
    assert_int_equal(store_read_job_log(f->s, jid, 1, 0, buf, 8, &size, &dropped), CCF_ENOTFOUND);
    assert_int_equal(store_job_log_end(f->s, jid, 1, &end), 1);
    assert_int_equal(end, 0);
    assert_int_equal(append(f, jid, 1, 0, "hello "), 1);
    assert_int_equal(append(f, jid, 1, 6, "world"), 1);
    assert_int_equal(store_job_log_end(f->s, jid, 1, &end), 1);
    assert_int_equal(end, 11);
    expect_log(f, jid, 1, 0, "hello world", 11, 0);
    expect_log(f, jid, 1, -5, "world", 11, 0);
    expect_log(f, jid, 1, 4, "o world", 11, 0);
    expect_log(f, jid, 1, 99, "", 11, 0);
    /* A re-ship of bytes already there adds only the new ones. */
    assert_int_equal(append(f, jid, 1, 3, "lo world!!"), 1);
    expect_log(f, jid, 1, 0, "hello world!!", 13, 0);
    /* Past the cap (16), whole chunks before end - cap go. */
    assert_int_equal(append(f, jid, 1, 13, "0123456789"), 1);
    expect_log(f, jid, 1, 0, "world!!0123456789", 23, 6);
    expect_log(f, jid, 1, -3, "789", 23, 6);
    /* Bytes are bytes, NUL included. */
    assert_int_equal(store_append_job_log(f->s, jid, 1, 23, "a\0b", 3, 1000), 1);
    assert_int_equal(store_read_job_log(f->s, jid, 1, -3, buf, 8, &size, &dropped), 3);
    assert_memory_equal(buf, "a\0b", 3);
    /* Attempts apart; a gap drops what came before it. */
    assert_int_equal(store_read_job_log(f->s, jid, 2, 0, buf, 8, &size, &dropped), CCF_ENOTFOUND);
    assert_int_equal(append(f, jid, 2, 0, "ab"), 1);
    assert_int_equal(append(f, jid, 2, 10, "cd"), 1);
    expect_log(f, jid, 2, 0, "cd", 12, 10);
    assert_int_equal(store_job_log_end(f->s, jid, 1, &end), 1);
    assert_int_equal(end, 26); /* attempt 1 untouched */
    /* A job that is not there; chunks go with their job. */
    assert_int_equal(append(f, NO_ID_J, 1, 0, "x"), CCF_ENOTFOUND);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_RUNNING), CCF_JOB_SUCCEEDED), 1);
    assert_int_equal(store_purge_jobs(f->s, ccf_now_us() + 1000000, refs, 4), 1);
    assert_int_equal(store_read_job_log(f->s, jid, 1, 0, buf, 8, &size, &dropped), CCF_ENOTFOUND);
    assert_int_equal(store_read_job_log(f->s, jid, 2, 0, buf, 8, &size, &dropped), CCF_ENOTFOUND);
}

static void test_webhook_pings(void **state)
{
    struct conf *f = *state;
    struct store_webhook w;
    struct store_ping p[4];

    memset(&w, 0, sizeof(w));
    w.url = strdup("http://127.0.0.1:9/");
    assert_int_equal(store_create_webhook(f->s, &f->t1, &w, NULL), STORE_TOKEN_NEW);
    if (!store_shared(f->s)) {
        assert_int_equal(store_webhook_ping(f->s, &f->t1, w.id), 0);
        assert_int_equal(store_take_webhook_pings(f->s, p, 4), 0);
        store_webhook_clear(&w);
        return;
    }
    assert_int_equal(store_webhook_ping(f->s, &f->t2, w.id), CCF_ENOTFOUND);
    assert_int_equal(store_webhook_ping(f->s, &f->t1, "wh-000000000000"), CCF_ENOTFOUND);
    assert_int_equal(store_webhook_ping(f->s, &f->t1, "nonsense"), CCF_ENOTFOUND);
    assert_int_equal(store_webhook_ping(f->s, &f->t1, w.id), 1);
    assert_int_equal(store_webhook_ping(f->s, &f->t1, w.id), 1);
    /* Taken once each, oldest first. */
    assert_int_equal(store_take_webhook_pings(f->s, p, 1), 1);
    assert_string_equal(p[0].webhook_id, w.id);
    assert_string_equal(p[0].tenant.account_id, f->t1.account_id);
    assert_string_equal(p[0].tenant.region, f->t1.region);
    assert_int_equal(store_take_webhook_pings(f->s, p, 4), 1);
    assert_int_equal(store_take_webhook_pings(f->s, p, 4), 0);
    /* Bounded per webhook; gone with it. */
    for (int i = 0; i < STORE_PINGS_MAX; i++)
        assert_int_equal(store_webhook_ping(f->s, &f->t1, w.id), 1);
    assert_int_equal(store_webhook_ping(f->s, &f->t1, w.id), CCF_ELIMIT);
    assert_int_equal(store_delete_webhook(f->s, &f->t1, w.id), 0);
    assert_int_equal(store_take_webhook_pings(f->s, p, 4), 0);
    store_webhook_clear(&w);
}

const struct CMUnitTest conf_shared[] = {
    cmocka_unit_test_setup_teardown(test_job_log_chunks, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_webhook_pings, conf_setup, conf_teardown),
};
const size_t conf_shared_n = sizeof(conf_shared) / sizeof(conf_shared[0]);
