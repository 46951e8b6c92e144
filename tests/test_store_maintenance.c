/* test_store_maintenance.c: what spans tenants: unfinished jobs for
 * recovery, the purge of ended jobs, the pruning of the change stream, the
 * audit log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "store_downgrade.h"
#include "store_fixture.h"

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant a, b;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    store_fx_mkdtemp("maint", f->dir, f->path);
    assert_int_equal(store_fx_open(&f->s, f->path, "OFF", 0), 0);
    ccf_tenant_init(&f->a, "us-east-1", "111111111111");
    ccf_tenant_init(&f->b, "eu-west-1", "222222222222");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_remove(f->s, f->dir);
    free(f);
    return 0;
}

static void connector(struct fx *f, const struct ccf_tenant *t, char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = strdup("n"), .properties = strdup("{}")};

    assert_int_equal(store_create_connector(f->s, t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
    ccf_connector_clear(&c);
}

static void start(struct fx *f, const struct ccf_tenant *t, const char *cid,
                  char jid[CCF_JOB_ID_LEN + 1])
{
    struct ccf_job j = {0};

    assert_int_equal(store_start_job(f->s, t, cid, NULL, &j), 0);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
}

static void move(struct fx *f, const struct ccf_tenant *t, const char *cid, const char *jid,
                 enum ccf_job_status to)
{
    struct store_transition tr = {.from_mask = 0x3f, .to = to};

    assert_int_equal(store_transition_job(f->s, t, cid, jid, &tr, NULL), 1);
}

static void test_unfinished_spans_tenants_oldest_first(void **state)
{
    struct fx *f = *state;
    char c1[16], c2[16], c3[16], j1[17], j2[17], j3[17];
    struct store_job_ref *refs = NULL;
    size_t n = 99;

    assert_int_equal(store_unfinished_jobs(f->s, &refs, &n), 0);
    assert_int_equal(n, 0);
    free(refs);
    connector(f, &f->a, c1);
    connector(f, &f->b, c2);
    connector(f, &f->a, c3);
    start(f, &f->a, c1, j1);
    start(f, &f->b, c2, j2);
    start(f, &f->a, c3, j3);
    move(f, &f->b, c2, j2, CCF_JOB_STOPPING);
    move(f, &f->a, c3, j3, CCF_JOB_SUCCEEDED);
    assert_int_equal(store_unfinished_jobs(f->s, &refs, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(refs[0].job_id, j1);
    assert_string_equal(refs[0].tenant.account_id, "111111111111");
    assert_int_equal(refs[0].status, CCF_JOB_STARTED);
    assert_string_equal(refs[1].job_id, j2);
    assert_string_equal(refs[1].connector_id, c2);
    assert_string_equal(refs[1].tenant.region, "eu-west-1");
    assert_int_equal(refs[1].status, CCF_JOB_STOPPING);
    free(refs);
}

static void test_purge_takes_only_old_ended_jobs(void **state)
{
    struct fx *f = *state;
    char c1[16], c2[16], j1[17], j2[17], j3[17];
    struct store_job_ref refs[4];
    struct ccf_job j = {0};
    int64_t cut;

    connector(f, &f->a, c1);
    connector(f, &f->a, c2);
    start(f, &f->a, c1, j1);
    move(f, &f->a, c1, j1, CCF_JOB_FAILED);
    start(f, &f->a, c1, j2);
    move(f, &f->a, c1, j2, CCF_JOB_SUCCEEDED);
    cut = ccf_now_us() + 1;
    usleep(2000);
    start(f, &f->a, c2, j3); /* unfinished: never purged */
    assert_int_equal(store_purge_jobs(f->s, cut, refs, 1), 1);
    assert_string_equal(refs[0].job_id, j1); /* oldest first */
    assert_int_equal(store_purge_jobs(f->s, cut, refs, 4), 1);
    assert_string_equal(refs[0].job_id, j2);
    assert_int_equal(store_purge_jobs(f->s, cut, refs, 4), 0);
    assert_int_equal(store_get_job(f->s, &f->a, c1, j1, &j), CCF_ENOTFOUND);
    assert_int_equal(store_get_job(f->s, &f->a, c2, j3, &j), 0);
    ccf_job_clear(&j);
    move(f, &f->a, c2, j3, CCF_JOB_STOPPED);
    assert_int_equal(store_purge_jobs(f->s, cut, refs, 4), 0); /* ended after the cut */
}

static void test_prune_changes(void **state)
{
    struct fx *f = *state;
    struct store_change ch[8];
    struct store_event ev[8];
    struct store_event_query q = {.after = -1, .max = 8};
    char c1[16], j1[17];
    int64_t next;
    int n;

    connector(f, &f->a, c1);
    start(f, &f->a, c1, j1);
    move(f, &f->a, c1, j1, CCF_JOB_RUNNING);
    move(f, &f->a, c1, j1, CCF_JOB_SUCCEEDED);
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
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &next), CCF_EEXPIRED);
    q.after = -1;
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &next), 1);
    assert_string_equal(ev[0].type, "job.succeeded");
    assert_int_equal(next, ev[0].seq);
    store_events_clear(ev, 1);
}

/* Each tenant reads its own events, in commit order, and the cursor of a
 * short read is the tenant's end. */
static void test_events_per_tenant(void **state)
{
    struct fx *f = *state;
    struct store_event ev[8];
    struct store_event_query q = {.after = -1, .max = 8};
    char a1[16], b1[16], j1[17];
    int64_t next, end;
    int n;

    connector(f, &f->a, a1);
    connector(f, &f->b, b1);
    start(f, &f->a, a1, j1);
    move(f, &f->a, a1, j1, CCF_JOB_RUNNING);
    move(f, &f->a, a1, j1, CCF_JOB_STARTED); /* a retry */
    move(f, &f->a, a1, j1, CCF_JOB_FAILED);
    n = store_read_events(f->s, &f->a, &q, ev, &next);
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
    n = store_read_events(f->s, &f->b, &q, ev, &next);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].connector_id, b1);
    store_events_clear(ev, 1);
    q.types = ",job.failed,";
    q.max = 1;
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &next), 1);
    assert_string_equal(ev[0].type, "job.failed");
    store_events_clear(ev, 1);
    q.after = next;
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &next), 0);
    assert_int_equal(next, end);
}

/* Pruning everything keeps the next seq above every one handed out: the
 * newest row is blanked, not deleted (the outbox has no AUTOINCREMENT). */
static void test_seq_never_goes_back_after_a_full_prune(void **state)
{
    struct fx *f = *state;
    struct store_event ev[8];
    struct store_event_query q = {.after = -1, .max = 8};
    char c1[16], c2[16];
    int64_t next, first, last;

    connector(f, &f->a, c1);
    connector(f, &f->a, c1);
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &last), 2);
    first = ev[0].seq;
    store_events_clear(ev, 2);
    assert_int_equal(store_prune_changes(f->s, 0, ccf_now_us() + 1), 0);
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &next), 0);
    q.after = first; /* its next event is gone */
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &next), CCF_EEXPIRED);
    connector(f, &f->a, c2);
    q.after = -1;
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &next), 1);
    assert_true(ev[0].seq > last);
    assert_string_equal(ev[0].connector_id, c2);
    store_events_clear(ev, 1);
}

struct audited_arg {
    struct fx *f;
    char cid[16];
    int status;
    int rc;
};

/* A write and its record, as api_handle makes them. */
static int audited_create(void *ctx, struct store_audit *rec)
{
    struct audited_arg *a = ctx;

    connector(a->f, &a->f->a, a->cid);
    rec->tenant = a->f->a;
    snprintf(rec->operation, sizeof(rec->operation), "CreateCustomConnector");
    snprintf(rec->connector_id, sizeof(rec->connector_id), "%s", a->cid);
    rec->status = a->status;
    return a->rc;
}

static int count_connectors(struct fx *f)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int n;

    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM connectors", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_audited_write_records_with_its_effect_only(void **state)
{
    struct fx *f = *state;
    struct audited_arg a = {.f = f, .status = 201};
    struct store_audit rec, out[4];
    int64_t next, first;

    assert_int_equal(store_audited_write(f->s, audited_create, &a, &rec), 0);
    assert_int_equal(store_read_audit(f->s, &f->a, -1, 4, out, &next), 1);
    assert_string_equal(out[0].connector_id, a.cid);
    assert_int_equal(out[0].status, 201);
    assert_true(out[0].at > 0);
    first = next;
    /* A failed body: neither its effect nor its record. */
    a.rc = CCF_EIO;
    assert_int_equal(store_audited_write(f->s, audited_create, &a, &rec), CCF_EIO);
    assert_int_equal(count_connectors(f), 1);
    /* Status 0: the effect, no record. */
    a.rc = 0;
    a.status = 0;
    assert_int_equal(store_audited_write(f->s, audited_create, &a, &rec), 0);
    assert_int_equal(count_connectors(f), 2);
    assert_int_equal(store_read_audit(f->s, &f->a, first, 4, out, &next), 0);
    assert_int_equal(next, first);
    /* Another tenant sees nothing; refusals go in a write of their own. */
    assert_int_equal(store_read_audit(f->s, &f->b, -1, 4, out, &next), 0);
    memset(&rec, 0, sizeof(rec));
    rec.tenant = f->b;
    rec.status = 429;
    snprintf(rec.operation, sizeof(rec.operation), "ListEvents");
    assert_int_equal(store_audit_append(f->s, &rec, 1), 0);
    assert_int_equal(store_read_audit(f->s, &f->b, -1, 4, out, &next), 1);
    assert_int_equal(out[0].status, 429);
    assert_int_equal(store_read_audit(f->s, &f->a, first, 4, out, &next), 0);
}

static void test_audit_pages_prunes_and_expires(void **state)
{
    struct fx *f = *state;
    struct store_audit rec = {.tenant = f->a, .status = 202}, out[4];
    int64_t next = -1, last = 0, seqs[5];
    int n, got = 0;

    snprintf(rec.operation, sizeof(rec.operation), "PutCustomConnectorCheckpoint");
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_audit_append(f->s, &rec, 1), 0);
    while ((n = store_read_audit(f->s, &f->a, next, 2, out, &next)) > 0) {
        for (int i = 0; i < n; i++) {
            assert_true(out[i].seq > last);
            seqs[got++] = last = out[i].seq;
        }
    }
    assert_int_equal(n, 0);
    assert_int_equal(got, 5);
    assert_int_equal(store_prune_audit(f->s, ccf_now_us() + 1), 0);
    assert_int_equal(store_read_audit(f->s, &f->a, -1, 4, out, &next), 0);
    assert_int_equal(store_read_audit(f->s, &f->a, seqs[0], 4, out, &next), CCF_EEXPIRED);
    /* The next record comes after every seq handed out. */
    assert_int_equal(store_audit_append(f->s, &rec, 1), 0);
    assert_int_equal(store_read_audit(f->s, &f->a, -1, 4, out, &next), 1);
    assert_true(out[0].seq > seqs[4]);
}

/* Migration 10 drops the outbox's AUTOINCREMENT: a file whose sequence is
 * past its newest row (that row was pruned) keeps it, as a placeholder row
 * that no tenant reads, so the next seq is past every one handed out. */
static void test_migration_keeps_the_sequence(void **state)
{
    struct fx *f = *state;
    struct store_event ev[8];
    struct store_event_query q = {.after = -1, .max = 8};
    char c1[16], c2[16], c3[16];
    int64_t next;
    sqlite3 *db;

    connector(f, &f->a, c1);
    connector(f, &f->a, c2);
    store_close(f->s);
    f->s = NULL;
    store_downgrade(f->path, 9);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM job_changes WHERE seq = 2", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_fx_open(&f->s, f->path, "OFF", 0), 0);
    connector(f, &f->a, c3);
    assert_int_equal(store_read_events(f->s, &f->a, &q, ev, &next), 2);
    assert_string_equal(ev[0].connector_id, c1);
    assert_int_equal(ev[0].seq, 1);
    assert_string_equal(ev[1].connector_id, c3);
    assert_int_equal(ev[1].seq, 3);
    store_events_clear(ev, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unfinished_spans_tenants_oldest_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_purge_takes_only_old_ended_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_per_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_never_goes_back_after_a_full_prune, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audited_write_records_with_its_effect_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_pages_prunes_and_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_keeps_the_sequence, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_maintenance", tests, NULL, NULL);
}
