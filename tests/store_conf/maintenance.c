/* maintenance.c: conformance cases of what spans tenants: unfinished jobs for recovery, the purge
 * of ended jobs, the pruning of the change stream, each tenant's events, and the audit log
 * (a record with its effect only, paging, pruning, expiry). */
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void m_connector(struct conf *f, const struct ccf_tenant *t,
                        char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = strdup("n"), .properties = strdup("{}")};

    assert_int_equal(store_create_connector(f->s, t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
    ccf_connector_clear(&c);
}

static void m_start(struct conf *f, const struct ccf_tenant *t, const char *cid,
                    char jid[CCF_JOB_ID_LEN + 1])
{
    struct ccf_job j = {0};

    assert_int_equal(store_start_job(f->s, t, cid, NULL, &j), 0);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
}

static void m_move(struct conf *f, const struct ccf_tenant *t, const char *cid, const char *jid,
                   enum ccf_job_status to)
{
    struct store_transition tr = {.from_mask = 0x3f, .to = to};

    assert_int_equal(store_transition_job(f->s, t, cid, jid, &tr, NULL), 1);
}

static void test_unfinished_spans_tenants_oldest_first(void **state)
{
    struct conf *f = *state;
    char c1[16], c2[16], c3[16], j1[17], j2[17], j3[17];
    struct store_job_ref *refs = NULL;
    int64_t count[CCF_JOB_STATUS_COUNT];
    size_t n = 99;

    assert_int_equal(store_unfinished_jobs(f->s, &refs, &n), 0);
    assert_int_equal(n, 0);
    free(refs);
    m_connector(f, &f->t1, c1);
    m_connector(f, &f->t2, c2);
    m_connector(f, &f->t1, c3);
    m_start(f, &f->t1, c1, j1);
    m_start(f, &f->t2, c2, j2);
    m_start(f, &f->t1, c3, j3);
    m_move(f, &f->t2, c2, j2, CCF_JOB_STOPPING);
    m_move(f, &f->t1, c3, j3, CCF_JOB_SUCCEEDED);
    assert_int_equal(store_unfinished_jobs(f->s, &refs, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(refs[0].job_id, j1);
    assert_string_equal(refs[0].tenant.account_id, "111111111111");
    assert_int_equal(refs[0].status, CCF_JOB_STARTED);
    assert_string_equal(refs[1].job_id, j2);
    assert_string_equal(refs[1].connector_id, c2);
    assert_string_equal(refs[1].tenant.account_id, "222222222222");
    assert_int_equal(refs[1].status, CCF_JOB_STOPPING);
    free(refs);
    /* The metrics' count reads the same statuses, every tenant's. */
    memset(count, 0xff, sizeof(count));
    assert_int_equal(store_count_unfinished_jobs(f->s, count), 0);
    for (int st = 0; st < CCF_JOB_STATUS_COUNT; st++)
        assert_int_equal(count[st], st == CCF_JOB_STARTED || st == CCF_JOB_STOPPING ? 1 : 0);
}

static void test_purge_takes_only_old_ended_jobs(void **state)
{
    struct conf *f = *state;
    char c1[16], c2[16], j1[17], j2[17], j3[17];
    struct store_job_ref refs[4];
    struct ccf_job j = {0};
    int64_t cut;

    m_connector(f, &f->t1, c1);
    m_connector(f, &f->t1, c2);
    m_start(f, &f->t1, c1, j1);
    m_move(f, &f->t1, c1, j1, CCF_JOB_FAILED);
    m_start(f, &f->t1, c1, j2);
    m_move(f, &f->t1, c1, j2, CCF_JOB_SUCCEEDED);
    cut = ccf_now_us() + 1;
    usleep(2000);
    m_start(f, &f->t1, c2, j3); /* unfinished: never purged */
    assert_int_equal(store_purge_jobs(f->s, cut, refs, 1), 1);
    assert_string_equal(refs[0].job_id, j1); /* oldest first */
    assert_int_equal(store_purge_jobs(f->s, cut, refs, 4), 1);
    assert_string_equal(refs[0].job_id, j2);
    assert_int_equal(store_purge_jobs(f->s, cut, refs, 4), 0);
    assert_int_equal(store_get_job(f->s, &f->t1, c1, j1, &j), CCF_ENOTFOUND);
    assert_int_equal(store_get_job(f->s, &f->t1, c2, j3, &j), 0);
    ccf_job_clear(&j);
    m_move(f, &f->t1, c2, j3, CCF_JOB_STOPPED);
    assert_int_equal(store_purge_jobs(f->s, cut, refs, 4), 0); /* ended after the cut */
}

static void test_prune_changes(void **state)
{
    struct conf *f = *state;
    struct store_change ch[8];
    struct store_event ev[8];
    struct store_event_query q = {.after = -1, .max = 8};
    char c1[16], j1[17];
    int64_t next;
    int n;

    m_connector(f, &f->t1, c1);
    m_start(f, &f->t1, c1, j1);
    m_move(f, &f->t1, c1, j1, CCF_JOB_RUNNING);
    m_move(f, &f->t1, c1, j1, CCF_JOB_SUCCEEDED);
    n = store_read_changes(f->s, 0, ch, 8);
    assert_int_equal(n, 3); /* the connector's event is not the orchestrator's */
    /* Young rows stay, acked or not. */
    assert_int_equal(store_prune_changes(f->s, ch[1].seq, ccf_now_us() - 60000000), 0);
    assert_int_equal(store_read_changes(f->s, 0, ch, 8), 3);
    /* Old ones go, but not a job row the orchestrator has not acked. */
    assert_int_equal(store_prune_changes(f->s, ch[1].seq, ccf_now_us() + 1), 0);
    n = store_read_changes(f->s, 0, ch, 8);
    assert_int_equal(n, 1);
    assert_int_equal(ch[0].new_status, CCF_JOB_SUCCEEDED);
    /* A cursor before the cut is expired; none reads from the oldest kept. */
    q.after = 1;
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &next), CCF_EEXPIRED);
    q.after = -1;
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &next), 1);
    assert_string_equal(ev[0].type, "job.succeeded");
    assert_int_equal(next, ev[0].seq);
    store_events_clear(ev, 1);
}

/* The connectors created and updated, across tenants and in seq order
 * (executor_prepare's input); upto moves past the job rows between, so
 * that they are not scanned again. */
static void test_connector_changes(void **state)
{
    struct conf *f = *state;
    struct store_connector_change ch[8];
    struct ccf_connector c = {.name = "n", .properties = PROPS};
    char c2[16], j1[17];
    int64_t upto, last;
    int n;

    assert_int_equal(store_create_connector(f->s, &f->t1, &c), 0);
    c.description = "changed";
    assert_int_equal(store_update_connector(f->s, &f->t1, &c, c.version), 0);
    m_start(f, &f->t1, c.id, j1);
    m_move(f, &f->t1, c.id, j1, CCF_JOB_SUCCEEDED);
    m_connector(f, &f->t2, c2);
    n = store_read_connector_changes(f->s, 0, ch, 8, &upto);
    assert_int_equal(n, 3);
    assert_string_equal(ch[0].connector_id, c.id);
    assert_string_equal(ch[1].connector_id, c.id);
    assert_string_equal(ch[2].connector_id, c2);
    assert_string_equal(ch[2].tenant.account_id, f->t2.account_id);
    assert_true(ch[0].seq < ch[1].seq && ch[1].seq < ch[2].seq);
    assert_int_equal(upto, ch[2].seq);
    /* A full page: upto is its last row (more may follow). */
    assert_int_equal(store_read_connector_changes(f->s, 0, ch, 2, &upto), 2);
    assert_int_equal(upto, ch[1].seq);
    /* Past the last one only a job row follows: none, and upto past it. */
    assert_int_equal(store_read_connector_changes(f->s, 0, ch, 8, &last), 3);
    m_start(f, &f->t2, c2, j1);
    assert_int_equal(store_read_connector_changes(f->s, last, ch, 8, &upto), 0);
    assert_true(upto > last);
    assert_int_equal(store_read_connector_changes(f->s, upto, ch, 8, &last), 0);
    assert_int_equal(last, upto);
}

/* Each tenant reads its own events, in commit order, and the cursor of a
 * short read is the tenant's end. */
static void test_events_per_tenant(void **state)
{
    struct conf *f = *state;
    struct store_event ev[8];
    struct store_event_query q = {.after = -1, .max = 8};
    char a1[16], b1[16], j1[17];
    int64_t next, end;
    int n;

    m_connector(f, &f->t1, a1);
    m_connector(f, &f->t2, b1);
    m_start(f, &f->t1, a1, j1);
    m_move(f, &f->t1, a1, j1, CCF_JOB_RUNNING);
    m_move(f, &f->t1, a1, j1, CCF_JOB_STARTED); /* a retry */
    m_move(f, &f->t1, a1, j1, CCF_JOB_FAILED);
    n = store_read_events(f->s, &f->t1, &q, ev, &next);
    assert_int_equal(n, 5);
    assert_string_equal(ev[0].type, "connector.created");
    assert_string_equal(ev[1].type, "job.started");
    assert_string_equal(ev[2].type, "job.running");
    assert_string_equal(ev[3].type, "job.retrying");
    assert_string_equal(ev[4].type, "job.failed");
    assert_string_equal(ev[4].job_id, j1);
    assert_non_null(strstr(ev[4].detail, "\"FAILED\""));
    for (int i = 1; i < n; i++)
        assert_true(ev[i].seq > ev[i - 1].seq);
    end = next;
    assert_int_equal(next, ev[4].seq);
    store_events_clear(ev, (size_t)n);
    /* The other tenant sees only its own; a filter keeps the cursor moving. */
    n = store_read_events(f->s, &f->t2, &q, ev, &next);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].connector_id, b1);
    store_events_clear(ev, 1);
    q.types = ",job.failed,";
    q.max = 1;
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &next), 1);
    assert_string_equal(ev[0].type, "job.failed");
    store_events_clear(ev, 1);
    q.after = next;
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &next), 0);
    assert_int_equal(next, end);
}

/* Pruning everything keeps the next seq above every one handed out (SQLite:
 * the newest row is blanked, not deleted, as the outbox has no
 * AUTOINCREMENT; PostgreSQL: an identity never goes back). */
static void test_seq_never_goes_back_after_a_full_prune(void **state)
{
    struct conf *f = *state;
    struct store_event ev[8];
    struct store_event_query q = {.after = -1, .max = 8};
    char c1[16], c2[16];
    int64_t next, first, last;

    m_connector(f, &f->t1, c1);
    m_connector(f, &f->t1, c1);
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &last), 2);
    first = ev[0].seq;
    store_events_clear(ev, 2);
    assert_int_equal(store_prune_changes(f->s, 0, ccf_now_us() + 1), 0);
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &next), 0);
    q.after = first; /* its next event is gone */
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &next), CCF_EEXPIRED);
    m_connector(f, &f->t1, c2);
    q.after = -1;
    assert_int_equal(store_read_events(f->s, &f->t1, &q, ev, &next), 1);
    assert_true(ev[0].seq > last);
    assert_string_equal(ev[0].connector_id, c2);
    store_events_clear(ev, 1);
}

struct audited_arg {
    struct conf *f;
    char cid[16];
    int status;
    int rc;
};

/* A write and its record, as api_handle makes them. */
static int audited_create(void *ctx, struct store_audit *rec)
{
    struct audited_arg *a = ctx;

    m_connector(a->f, &a->f->t1, a->cid);
    rec->tenant = a->f->t1;
    snprintf(rec->operation, sizeof(rec->operation), "CreateCustomConnector");
    snprintf(rec->connector_id, sizeof(rec->connector_id), "%s", a->cid);
    rec->status = a->status;
    return a->rc;
}

static int count_connectors(struct conf *f)
{
    return (int)conf_int(f, "SELECT count(*) FROM connectors");
}

static void test_audited_write_records_with_its_effect_only(void **state)
{
    struct conf *f = *state;
    struct audited_arg a = {.f = f, .status = 201};
    struct store_audit rec = {0}, out[4];
    int64_t next, first, n0;

    assert_int_equal(store_audited_write(f->s, audited_create, &a, &rec), 0);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 1);
    assert_string_equal(out[0].connector_id, a.cid);
    assert_int_equal(out[0].status, 201);
    assert_true(out[0].at > 0);
    first = next;
    /* A failed body: no record (its effect undone where a transaction can:
     * test_audited_write_failed_body_undone). */
    a.rc = CCF_EIO;
    assert_int_equal(store_audited_write(f->s, audited_create, &a, &rec), CCF_EIO);
    assert_int_equal(store_read_audit(f->s, &f->t1, first, 4, out, &next), 0);
    /* Status 0: the effect, no record. */
    n0 = count_connectors(f);
    a.rc = 0;
    a.status = 0;
    assert_int_equal(store_audited_write(f->s, audited_create, &a, &rec), 0);
    assert_int_equal(count_connectors(f), n0 + 1);
    assert_int_equal(store_read_audit(f->s, &f->t1, first, 4, out, &next), 0);
    assert_int_equal(next, first);
    /* Another tenant sees nothing; refusals go in a write of their own. */
    assert_int_equal(store_read_audit(f->s, &f->t2, -1, 4, out, &next), 0);
    memset(&rec, 0, sizeof(rec));
    rec.tenant = f->t2;
    rec.status = 429;
    snprintf(rec.operation, sizeof(rec.operation), "ListEvents");
    assert_int_equal(store_audit_append(f->s, &rec, 1), 0);
    assert_int_equal(store_read_audit(f->s, &f->t2, -1, 4, out, &next), 1);
    assert_int_equal(out[0].status, 429);
    assert_int_equal(store_read_audit(f->s, &f->t1, first, 4, out, &next), 0);
}

/* A failed body: neither its effect nor its record (one transaction). */
static void test_audited_write_failed_body_undone(void **state)
{
    struct conf *f = *state;
    struct audited_arg a = {.f = f, .status = 201, .rc = CCF_EIO};
    struct store_audit rec = {0}, out[4];
    int64_t next;

    assert_int_equal(store_audited_write(f->s, audited_create, &a, &rec), CCF_EIO);
    assert_int_equal(count_connectors(f), 0);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 0);
}

static void test_audit_pages_prunes_and_expires(void **state)
{
    struct conf *f = *state;
    struct store_audit rec = {.tenant = f->t1, .status = 202}, out[4];
    int64_t next = -1, last = 0, seqs[5];
    int n, got = 0;

    snprintf(rec.operation, sizeof(rec.operation), "PutCustomConnectorCheckpoint");
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_audit_append(f->s, &rec, 1), 0);
    while ((n = store_read_audit(f->s, &f->t1, next, 2, out, &next)) > 0) {
        for (int i = 0; i < n; i++) {
            assert_true(out[i].seq > last);
            seqs[got++] = last = out[i].seq;
        }
    }
    assert_int_equal(n, 0);
    assert_int_equal(got, 5);
    assert_int_equal(store_prune_audit(f->s, ccf_now_us() + 1), 0);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 0);
    assert_int_equal(store_read_audit(f->s, &f->t1, seqs[0], 4, out, &next), CCF_EEXPIRED);
    /* The next record comes after every seq handed out. */
    assert_int_equal(store_audit_append(f->s, &rec, 1), 0);
    assert_int_equal(store_read_audit(f->s, &f->t1, -1, 4, out, &next), 1);
    assert_true(out[0].seq > seqs[4]);
}

const struct CMUnitTest conf_maintenance[] = {
    cmocka_unit_test_setup_teardown(test_unfinished_spans_tenants_oldest_first, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_purge_takes_only_old_ended_jobs, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_prune_changes, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_events_per_tenant, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_connector_changes, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_seq_never_goes_back_after_a_full_prune, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_audited_write_records_with_its_effect_only, conf_setup,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_audit_pages_prunes_and_expires, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_audited_write_failed_body_undone, conf_setup,
                                    conf_teardown),
};
const size_t conf_maintenance_n = sizeof(conf_maintenance) / sizeof(conf_maintenance[0]);
