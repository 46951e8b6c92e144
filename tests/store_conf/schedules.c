/* schedules.c: conformance cases of schedules: the schedule columns, the due queue and its head,
 * the fire transaction (start, skip, stale read) and pause. */
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHED "{\"catch_up\":true,\"expression\":\"rate(1 minute)\",\"state\":\"ENABLED\"}"

/* A connector with a schedule due at next (0: none). */
static void s_make(struct conf *f, int64_t next, struct ccf_connector *out)
{
    struct ccf_connector c = {
        .name = strdup("sched"), .properties = strdup(PROPS), .schedule = strdup(SCHED)};

    c.schedule_anchor = 1000;
    c.next_run_at = next;
    assert_int_equal(store_create_connector(f->s, &f->t1, &c), 0);
    ccf_connector_clear(out);
    assert_int_equal(store_get_connector(f->s, &f->t1, c.id, out), 0);
    ccf_connector_clear(&c);
}

static void test_schedule_columns_round_trip(void **state)
{
    struct conf *f = *state;
    struct ccf_connector c = {0};

    s_make(f, 5000, &c);
    assert_string_equal(c.schedule, SCHED);
    assert_int_equal(c.schedule_anchor, 1000);
    assert_int_equal(c.next_run_at, 5000);
    assert_false(c.paused);
    free(c.schedule);
    c.schedule = NULL;
    c.next_run_at = 0;
    assert_int_equal(store_update_connector(f->s, &f->t1, &c, c.version), 0);
    char id[CCF_CONNECTOR_ID_LEN + 1];
    memcpy(id, c.id, sizeof(id));
    ccf_connector_clear(&c);
    assert_int_equal(store_get_connector(f->s, &f->t1, id, &c), 0);
    assert_null(c.schedule);
    assert_int_equal(c.next_run_at, 0);
    ccf_connector_clear(&c);
}

static void test_due_queue_and_head(void **state)
{
    struct conf *f = *state;
    struct ccf_connector a = {0}, b = {0}, none = {0};
    struct store_due due[4];
    int64_t head = -1;

    assert_int_equal(store_schedule_head(f->s, &head), 0);
    assert_int_equal(head, 0); /* nothing scheduled */
    s_make(f, 3000, &a);
    s_make(f, 2000, &b);
    s_make(f, 0, &none);
    assert_int_equal(store_schedule_head(f->s, &head), 0);
    assert_int_equal(head, 2000);
    assert_int_equal(store_due_schedules(f->s, 1999, due, 4), 0);
    assert_int_equal(store_due_schedules(f->s, 5000, due, 4), 2);
    assert_string_equal(due[0].connector_id, b.id); /* earliest first */
    assert_string_equal(due[1].connector_id, a.id);
    assert_int_equal(due[0].next_run_at, 2000);
    assert_int_equal(due[0].schedule_anchor, 1000);
    assert_string_equal(due[0].schedule, SCHED);
    assert_memory_equal(&due[0].tenant, &f->t1, sizeof(f->t1));
    store_due_clear(due, 2);
    assert_int_equal(store_due_schedules(f->s, 5000, due, 1), 1); /* max respected */
    store_due_clear(due, 1);
    ccf_connector_clear(&a);
    ccf_connector_clear(&b);
    ccf_connector_clear(&none);
}

static void test_fire_starts_then_skips(void **state)
{
    struct conf *f = *state;
    struct ccf_connector c = {0};
    struct ccf_job job = {0};
    struct store_fire fire;
    int64_t head;

    s_make(f, 2000, &c);
    fire = (struct store_fire){.tenant = &f->t1,
                               .connector_id = c.id,
                               .due = 2000,
                               .schedule = SCHED,
                               .next = 2060,
                               .start = true,
                               .environment = "[{\"name\":\"A\",\"value\":\"1\"}]"};
    assert_int_equal(store_fire_schedule(f->s, &fire, &job), 1);
    assert_int_equal(job.trigger, CCF_TRIGGER_SCHEDULE);
    assert_string_equal(job.environment, "[{\"name\":\"A\",\"value\":\"1\"}]");
    ccf_job_clear(&job);
    /* the same due run again: it has moved on, nothing is doubled */
    assert_int_equal(store_fire_schedule(f->s, &fire, &job), CCF_ECONFLICT);
    /* the next one falls due while IN_USE: skipped, and the queue moves */
    fire.due = 2060;
    fire.next = 2120;
    assert_int_equal(store_fire_schedule(f->s, &fire, &job), 0);
    assert_int_equal(store_schedule_head(f->s, &head), 0);
    assert_int_equal(head, 2120);
    /* a stale schedule text is refused */
    fire.due = 2120;
    fire.schedule = "{}";
    assert_int_equal(store_fire_schedule(f->s, &fire, &job), CCF_ECONFLICT);
    char id[CCF_CONNECTOR_ID_LEN + 1];
    memcpy(id, c.id, sizeof(id));
    ccf_connector_clear(&c);
    assert_int_equal(store_get_connector(f->s, &f->t1, id, &c), 0);
    assert_int_equal(c.status, CCF_CONNECTOR_IN_USE);
    assert_int_equal(c.next_run_at, 2120);
    ccf_connector_clear(&c);
}

static void test_fire_without_start_moves_on(void **state)
{
    struct conf *f = *state;
    struct ccf_connector c = {0};
    struct store_fire fire;
    struct ccf_job job = {0};
    int64_t head = -1;

    s_make(f, 2000, &c);
    fire = (struct store_fire){
        .tenant = &f->t1, .connector_id = c.id, .due = 2000, .schedule = SCHED, .next = 0};
    assert_int_equal(store_fire_schedule(f->s, &fire, &job), 0);
    assert_int_equal(store_schedule_head(f->s, &head), 0);
    assert_int_equal(head, 0); /* an at(): no next time */
    char id[CCF_CONNECTOR_ID_LEN + 1];
    memcpy(id, c.id, sizeof(id));
    ccf_connector_clear(&c);
    assert_int_equal(store_get_connector(f->s, &f->t1, id, &c), 0);
    assert_int_equal(c.status, CCF_CONNECTOR_AVAILABLE);
    ccf_connector_clear(&c);
}

static void test_pause_refuses_starts(void **state)
{
    struct conf *f = *state;
    struct ccf_connector c = {0};
    struct ccf_job job = {0};
    struct store_fire fire;
    int64_t v;

    s_make(f, 2000, &c);
    c.paused = true;
    c.next_run_at = 0;
    v = c.version;
    assert_int_equal(store_set_paused(f->s, &f->t1, &c, v + 7), CCF_ECONFLICT);
    assert_int_equal(store_set_paused(f->s, &f->t1, &c, v), 0);
    assert_int_equal(c.version, v + 1);
    assert_int_equal(store_start_job(f->s, &f->t1, c.id, NULL, &job), CCF_ECONFLICT);
    /* a scheduler that read the run before the pause cannot start it */
    fire = (struct store_fire){.tenant = &f->t1,
                               .connector_id = c.id,
                               .due = 2000,
                               .schedule = SCHED,
                               .next = 2060,
                               .start = true};
    assert_int_equal(store_fire_schedule(f->s, &fire, &job), CCF_ECONFLICT);
    c.paused = false;
    assert_int_equal(store_set_paused(f->s, &f->t1, &c, c.version), 0);
    assert_int_equal(store_start_job(f->s, &f->t1, c.id, NULL, &job), 0);
    assert_int_equal(job.trigger, CCF_TRIGGER_API);
    ccf_job_clear(&job);
    ccf_connector_clear(&c);
}

const struct CMUnitTest conf_schedules[] = {
    cmocka_unit_test_setup_teardown(test_schedule_columns_round_trip, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_due_queue_and_head, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_fire_starts_then_skips, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_fire_without_start_moves_on, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_pause_refuses_starts, conf_setup, conf_teardown),
};
const size_t conf_schedules_n = sizeof(conf_schedules) / sizeof(conf_schedules[0]);
