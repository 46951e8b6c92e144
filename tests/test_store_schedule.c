/* test_store_schedule.c: what is the SQLite backend's own about schedules:
 * the migration of a database written before schedules existed. Their
 * behaviour on every backend is the conformance suite's
 * (tests/store_conf/schedules.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "store/store.h"
#include "store_downgrade.h"
#include "store_fixture.h"

#define PROPS "{\"command\":[\"/bin/true\"]}"
#define SCHED "{\"catch_up\":true,\"expression\":\"rate(1 minute)\",\"state\":\"ENABLED\"}"

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    store_fx_mkdtemp("sched", f->dir, f->path);
    assert_int_equal(ccf_tenant_init(&f->t, "us-east-1", "111111111111"), 0);
    assert_int_equal(store_fx_open(&f->s, f->path, "OFF", 0), 0);
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

/* A connector with a schedule due at next (0: none). */
static void make(struct fx *f, int64_t next, struct ccf_connector *out)
{
    struct ccf_connector c = {
        .name = strdup("sched"), .properties = strdup(PROPS), .schedule = strdup(SCHED)};

    c.schedule_anchor = 1000;
    c.next_run_at = next;
    assert_int_equal(store_create_connector(f->s, &f->t, &c), 0);
    ccf_connector_clear(out);
    assert_int_equal(store_get_connector(f->s, &f->t, c.id, out), 0);
    ccf_connector_clear(&c);
}

/* A database written before schedules (schema version 2), with a connector
 * and a job in it, migrates and keeps them: no schedule, not paused, the
 * old job without a trigger. */
static void test_migrates_older_file(void **state)
{
    struct fx *f = *state;
    struct ccf_connector c = {0};
    struct ccf_job job = {0};
    struct store_config cfg = {.path = f->path};
    char id[CCF_CONNECTOR_ID_LEN + 1];
    int64_t head = -1;

    make(f, 0, &c);
    memcpy(id, c.id, sizeof(id));
    assert_int_equal(store_start_job(f->s, &f->t, id, NULL, &job), 0);
    ccf_connector_clear(&c);
    store_close(f->s);
    f->s = NULL;
    store_downgrade(f->path, 4);
    assert_int_equal(store_open(&f->s, &cfg), 0);
    assert_int_equal(store_get_connector(f->s, &f->t, id, &c), 0);
    assert_null(c.schedule);
    assert_false(c.paused);
    assert_int_equal(c.next_run_at, 0);
    assert_int_equal(c.status, CCF_CONNECTOR_IN_USE);
    ccf_connector_clear(&c);
    char jid[CCF_JOB_ID_LEN + 1];
    memcpy(jid, job.id, sizeof(jid));
    ccf_job_clear(&job);
    assert_int_equal(store_get_job(f->s, &f->t, id, jid, &job), 0);
    assert_int_equal(job.trigger, CCF_TRIGGER_NONE);
    ccf_job_clear(&job);
    assert_int_equal(store_schedule_head(f->s, &head), 0);
    assert_int_equal(head, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrates_older_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
