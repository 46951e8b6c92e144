/* dynamo_changes.c: the DynamoDB change log's crash cases (its group
 * only). A writer "dies" between two of ddb__job_write's steps (the test
 * calls the steps apart and stops); its record is then aged past the 5 s a
 * live writer gets, and the next reader must settle it: committed when the
 * job's write happened or can still happen (the reader finishes it), void
 * when it never can; a seq drawn and never written is fenced. Nothing is
 * lost, nothing is invented, and no reader passes a record still open. */
#include "conf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "dynamo_log.h"
#include "store/dynamodb/ddb_int.h"

/* The log as its items are keyed on the wire. */
static const struct dyn_log LOG = {.table = DDB__T_CHANGES, .pk = "c", .counter = "seq"};

/* The job as its item is now: j, its version and its seqs (a new ref). */
static void job_now(struct conf *f, const char *cid, const char *jid, struct ccf_job *j,
                    int64_t *version, json_t **seqs)
{
    json_t *it = dyn_job_item(f, cid, jid);

    assert_int_equal(ddb__job_from_item(it, j, version), 0);
    *seqs = json_incref(json_object_get(json_object_get(it, "seqs"), "NS"));
    json_decref(it);
}

/* A writer of cid's job jid to `to` that dies after step 2 (the record
 * pending); *item its job item's text when want_item, else freed. */
static int64_t pending_move(struct conf *f, const char *cid, const char *jid,
                            enum ccf_job_status to, char **item)
{
    struct store_transition tr = {.from_mask = 0x3f, .to = to};
    struct ccf_job j;
    int64_t version, seq;
    json_t *seqs;
    char *text;
    int old;

    job_now(f, cid, jid, &j, &version, &seqs);
    old = (int)j.status;
    store__apply_transition(&j, &tr, ccf_now_us());
    assert_int_equal(ddb__change_pending(f->s, &f->t1, &j, old, version, seqs, &seq, &text, "t"),
                     0);
    json_decref(seqs);
    ccf_job_clear(&j);
    if (item)
        *item = text;
    else
        free(text);
    return seq;
}

static int read_all(struct conf *f, struct store_change *ch, size_t max)
{
    return store_read_changes(f->s, 0, ch, max);
}

static int events(struct conf *f, struct store_event *ev, size_t max, int64_t *next)
{
    struct store_event_query q = {.after = -1, .max = max};

    return store_read_events(f->s, &f->t1, &q, ev, next);
}

static enum ccf_job_status status_of(struct conf *f, const char *cid, const char *jid)
{
    struct ccf_job j;
    enum ccf_job_status st;

    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    st = j.status;
    ccf_job_clear(&j);
    return st;
}

/* Died before the job's write: the reader does the write and commits. */
static void test_dynamo_dead_writer_before_its_write_is_finished(void **state)
{
    struct conf *f = *state;
    char cid[16], jid[17], st[4];
    struct store_change ch[8];
    struct store_event ev[8];
    int64_t seq, next;
    int n;

    mk_connector(f, &f->t1, "a", cid);
    start(f, cid, jid);
    seq = pending_move(f, cid, jid, CCF_JOB_RUNNING, NULL);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED);
    /* Young: readers stop before it (a writer in flight). */
    n = events(f, ev, 8, &next);
    assert_int_equal(n, 2);
    assert_true(next < seq);
    store_events_clear(ev, (size_t)n);
    dyn_log_age(f, &LOG, seq);
    assert_int_equal(read_all(f, ch, 8), 2);
    assert_int_equal(ch[1].seq, seq);
    assert_int_equal(ch[1].new_status, CCF_JOB_RUNNING);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_RUNNING);
    dyn_log_state(f, &LOG, seq, st);
    assert_string_equal(st, "c");
}

/* Died before its write, and another write came first: void, never read. */
static void test_dynamo_dead_writer_that_lost_the_race_is_void(void **state)
{
    struct conf *f = *state;
    char cid[16], jid[17], st[4];
    struct store_change ch[8];
    struct store_event ev[8];
    int64_t seq, next;
    int n;

    mk_connector(f, &f->t1, "b", cid);
    start(f, cid, jid);
    seq = pending_move(f, cid, jid, CCF_JOB_RUNNING, NULL);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPING), 1);
    dyn_log_age(f, &LOG, seq);
    assert_int_equal(read_all(f, ch, 8), 2);
    assert_int_equal(ch[0].new_status, CCF_JOB_STARTED);
    assert_int_equal(ch[1].new_status, CCF_JOB_STOPPING);
    assert_true(ch[1].seq > seq);
    dyn_log_state(f, &LOG, seq, st);
    assert_string_equal(st, "v");
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STOPPING);
    n = events(f, ev, 8, &next);
    assert_int_equal(n, 3);
    assert_string_equal(ev[0].type, "connector.created");
    assert_string_equal(ev[1].type, "job.started");
    assert_string_equal(ev[2].type, "job.stopping");
    store_events_clear(ev, (size_t)n);
}

/* Died after its write, before the commit, and the job moved on since:
 * committed (the job's seqs hold it), in its place in the order. */
static void test_dynamo_dead_writer_after_its_write_is_committed(void **state)
{
    struct conf *f = *state;
    char cid[16], jid[17], st[4];
    struct store_change ch[8];
    struct store_event ev[8];
    struct ccf_connector c;
    int64_t seq, next;
    char *item;
    int n;

    mk_connector(f, &f->t1, "c", cid);
    start(f, cid, jid);
    seq = pending_move(f, cid, jid, CCF_JOB_RUNNING, &item);
    assert_int_equal(ddb__change_job_put(f->s, item, 1, "t"), 0);
    free(item);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_RUNNING), CCF_JOB_SUCCEEDED), 1);
    /* Still open: the events after it wait. */
    n = events(f, ev, 8, &next);
    assert_int_equal(n, 2);
    store_events_clear(ev, (size_t)n);
    dyn_log_age(f, &LOG, seq);
    assert_int_equal(read_all(f, ch, 8), 3);
    assert_int_equal(ch[1].seq, seq);
    assert_int_equal(ch[1].new_status, CCF_JOB_RUNNING);
    assert_int_equal(ch[2].new_status, CCF_JOB_SUCCEEDED);
    dyn_log_state(f, &LOG, seq, st);
    assert_string_equal(st, "c");
    n = events(f, ev, 8, &next);
    assert_int_equal(n, 4);
    assert_string_equal(ev[2].type, "job.running");
    assert_string_equal(ev[3].type, "job.succeeded");
    assert_int_equal(next, ev[3].seq);
    store_events_clear(ev, (size_t)n);
    get_conn(f, cid, &c);
    assert_int_equal(c.status, CCF_CONNECTOR_AVAILABLE);
    ccf_connector_clear(&c);
}

/* A seq drawn by a writer that died before writing it: readers wait while
 * the record after it is young, then fence it (a void record there, which
 * a late writer cannot overwrite). */
static void test_dynamo_gap_is_fenced(void **state)
{
    struct conf *f = *state;
    char cid[16], jid[17], st[4];
    struct store_change ch[8];
    struct store_event ev[8];
    int64_t next, gap;
    int n;

    mk_connector(f, &f->t1, "d", cid);
    gap = dyn_log_draw(f, &LOG);
    start(f, cid, jid);
    n = events(f, ev, 8, &next);
    assert_int_equal(n, 1); /* connector.created only: the gap holds the rest */
    assert_true(next < gap);
    store_events_clear(ev, (size_t)n);
    dyn_log_age(f, &LOG, gap + 1);
    assert_int_equal(read_all(f, ch, 8), 1);
    assert_int_equal(ch[0].seq, gap + 1);
    dyn_log_state(f, &LOG, gap, st);
    assert_string_equal(st, "v");
    /* The slow writer's put of gap now fails on its condition. */
    assert_int_equal(dyn_log_late_put(f, &LOG, gap), CCF_ECONFLICT);
    n = events(f, ev, 8, &next);
    assert_int_equal(n, 2);
    store_events_clear(ev, (size_t)n);
}

/* A start that died after its record: the reader finishes it (the
 * connector names the job); after recovery at open wrote the job with a
 * record of its own, the dead one is void: one job.started either way. */
static void start_dead_after_record(struct conf *f, bool reopen)
{
    struct ccf_job j = {.status = CCF_JOB_STARTED, .trigger = CCF_TRIGGER_API};
    struct store_change ch[8];
    struct ccf_connector c;
    char st[4];
    int64_t seq;
    char *item;

    mk_connector(f, &f->t1, "e", j.connector_id);
    assert_int_equal(ccf_job_id_new(j.id), 0);
    j.created_at = j.updated_at = ccf_now_us();
    assert_int_equal(ddb__reserve_connector(f->s, &f->t1, &j, NULL, "t"), 0);
    assert_int_equal(ddb__change_pending(f->s, &f->t1, &j, -1, 0, NULL, &seq, &item, "t"), 0);
    free(item);
    if (reopen)
        conf_reopen(f);
    dyn_log_age(f, &LOG, seq);
    assert_int_equal(read_all(f, ch, 8), 1);
    assert_string_equal(ch[0].job_id, j.id);
    assert_int_equal(ch[0].old_status, -1);
    assert_int_equal(ch[0].seq == seq, !reopen);
    dyn_log_state(f, &LOG, seq, st);
    assert_string_equal(st, reopen ? "v" : "c");
    assert_int_equal(status_of(f, j.connector_id, j.id), CCF_JOB_STARTED);
    get_conn(f, j.connector_id, &c);
    assert_int_equal(c.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(c.active_job_id, j.id);
    ccf_connector_clear(&c);
}

static void test_dynamo_dead_start_is_finished_by_the_reader(void **state)
{
    start_dead_after_record(*state, false);
}

static void test_dynamo_dead_start_finished_by_recovery_voids_its_record(void **state)
{
    start_dead_after_record(*state, true);
}

#define RACERS 8

struct racer {
    struct conf *f;
    const char *cid;
    pthread_barrier_t *bar;
    int rc;
    char jid[CCF_JOB_ID_LEN + 1];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct ccf_job j = {0};

    pthread_barrier_wait(r->bar);
    r->rc = store_start_job(r->f->s, &r->f->t1, r->cid, NULL, &j);
    if (r->rc == 0)
        memcpy(r->jid, j.id, sizeof(r->jid));
    ccf_job_clear(&j);
    return NULL;
}

/* Racing starts on one connector: one wins per round, and the log holds
 * exactly its job.started and its end, in order (the SQL-counting
 * conformance race case cannot run here). */
static void test_dynamo_start_race_logs_one_start(void **state)
{
    struct conf *f = *state;
    char cid[16];
    struct store_change ch[16];
    struct racer r[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_t bar;
    char won[3][CCF_JOB_ID_LEN + 1];
    int n;

    mk_connector(f, &f->t1, "race", cid);
    for (int round = 0; round < 3; round++) {
        int wins = 0;

        pthread_barrier_init(&bar, NULL, RACERS);
        for (int i = 0; i < RACERS; i++) {
            r[i] = (struct racer){.f = f, .cid = cid, .bar = &bar};
            assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
        }
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            if (r[i].rc == 0) {
                wins++;
                memcpy(won[round], r[i].jid, sizeof(won[round]));
            } else {
                assert_int_equal(r[i].rc, CCF_ECONFLICT);
            }
        }
        pthread_barrier_destroy(&bar);
        assert_int_equal(wins, 1);
        assert_int_equal(move(f, cid, won[round], BIT(CCF_JOB_STARTED), CCF_JOB_STOPPED), 1);
    }
    n = read_all(f, ch, 16);
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++) {
        assert_string_equal(ch[i].job_id, won[i / 2]);
        assert_int_equal(ch[i].new_status, i % 2 ? CCF_JOB_STOPPED : CCF_JOB_STARTED);
    }
}

const struct CMUnitTest conf_dynamo_changes[] = {
    cmocka_unit_test_setup_teardown(test_dynamo_start_race_logs_one_start, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_dead_writer_before_its_write_is_finished,
                                    conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_dead_writer_that_lost_the_race_is_void, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_dead_writer_after_its_write_is_committed,
                                    conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_gap_is_fenced, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_dead_start_is_finished_by_the_reader, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_dynamo_dead_start_finished_by_recovery_voids_its_record,
                                    conf_setup, conf_teardown),
};
const size_t conf_dynamo_changes_n = sizeof(conf_dynamo_changes) / sizeof(conf_dynamo_changes[0]);
