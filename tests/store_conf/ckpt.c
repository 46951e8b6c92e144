/* ckpt.c: conformance cases of checkpoint versions (the kept history, conditional puts, paging) and
 * client tokens (replay, mismatch, expiry, purge, a race on one token, a
 * paused connector), and conditional puts counted in a job's stats. */
#include "conf.h"

#include "../ckpt_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The shared helpers (ckpt_fixture.h) on f's store, as tenant t1 but for
 * k_connector. */
static void k_connector(struct conf *f, const struct ccf_tenant *t,
                        char id[CCF_CONNECTOR_ID_LEN + 1])
{
    ckpt_fx_connector(f->s, t, id);
}

static int64_t k_put(struct conf *f, const char *cid, const char *data, int64_t expect)
{
    return ckpt_fx_put(f->s, &f->t1, cid, data, expect);
}

static void k_check(struct conf *f, const char *cid, int64_t version, const char *data)
{
    ckpt_fx_check(f->s, &f->t1, cid, version, data);
}

/* ---- versions ---- */

static int list_versions(struct conf *f, const char *cid, const char *after, size_t limit,
                         struct ckpt_fx_versions *out, char **next)
{
    return ckpt_fx_list_versions(f->s, &f->t1, cid, after, limit, out, next);
}

static void test_versions_count_and_restart(void **state)
{
    struct conf *f = *state;
    struct ccf_checkpoint cp;
    struct ckpt_fx_versions l;
    char cid[CCF_CONNECTOR_ID_LEN + 1], *next = NULL;

    k_connector(f, &f->t1, cid);
    assert_int_equal(list_versions(f, cid, NULL, 10, &l, &next), CCF_ENOTFOUND);
    assert_int_equal(k_put(f, cid, "a", STORE_CP_ANY), 1);
    assert_int_equal(k_put(f, cid, "bb", STORE_CP_ANY), 2);
    assert_int_equal(k_put(f, cid, "ccc", STORE_CP_ANY), 3);
    k_check(f, cid, 0, "ccc");
    k_check(f, cid, 3, "ccc");
    k_check(f, cid, 2, "bb");
    k_check(f, cid, 1, "a");
    assert_int_equal(store_get_checkpoint_version(f->s, &f->t1, cid, 4, &cp), CCF_ENOTFOUND);
    assert_int_equal(store_get_checkpoint_version(f->s, &f->t2, cid, 2, &cp), CCF_ENOTFOUND);
    assert_int_equal(list_versions(f, cid, NULL, 10, &l, &next), 0);
    assert_null(next);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.v[0], 3);
    assert_int_equal(l.size[0], 3);
    assert_int_equal(l.v[2], 1);
    assert_int_equal(l.size[2], 1);
    /* created_at is the first put's at every version. */
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, cid, &cp), 0);
    assert_int_equal(cp.version, 3);
    ccf_checkpoint_clear(&cp);

    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, cid), 0);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM checkpoint_versions"), 0);
    assert_int_equal(list_versions(f, cid, NULL, 10, &l, &next), CCF_ENOTFOUND);
    assert_int_equal(k_put(f, cid, "again", STORE_CP_ANY), 1);
    assert_int_equal(store_get_checkpoint_version(f->s, &f->t1, cid, 2, &cp), CCF_ENOTFOUND);
}

static void test_history_trimmed_and_paged(void **state)
{
    struct conf *f = *state; /* keeps 3 */
    struct ccf_checkpoint cp;
    struct ckpt_fx_versions l;
    char cid[CCF_CONNECTOR_ID_LEN + 1], *next = NULL, *next2 = NULL;
    char data[8];

    k_connector(f, &f->t1, cid);
    for (int i = 1; i <= 10; i++) {
        snprintf(data, sizeof(data), "v%d", i);
        assert_int_equal(k_put(f, cid, data, STORE_CP_ANY), i);
    }
    /* The current one lives in checkpoints; 2 older ones are kept. */
    assert_int_equal(conf_int(f, "SELECT count(*) FROM checkpoint_versions"), 2);
    k_check(f, cid, 8, "v8");
    assert_int_equal(store_get_checkpoint_version(f->s, &f->t1, cid, 7, &cp), CCF_ENOTFOUND);
    assert_int_equal(list_versions(f, cid, NULL, 2, &l, &next), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0], 10);
    assert_int_equal(l.v[1], 9);
    assert_non_null(next);
    assert_int_equal(list_versions(f, cid, next, 2, &l, &next2), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0], 8);
    assert_null(next2);
    free(next);
    assert_int_equal(list_versions(f, cid, "x", 2, &l, &next), CCF_EINVAL);
    assert_int_equal(list_versions(f, cid, "0", 2, &l, &next), CCF_EINVAL);
    /* A page past the end of an existing checkpoint is empty, not a 404. */
    assert_int_equal(list_versions(f, cid, "1", 2, &l, &next), 0);
    assert_int_equal(l.n, 0);
}

/* Conditional puts racing on one checkpoint: of the writers that expect
 * the same version, exactly one wins each round, the others get
 * CCF_EPRECOND, and the versions go up by one a round (none is lost, none
 * written twice). */
#define CP_RACERS 8

struct cp_race {
    struct store *s;
    const struct ccf_tenant *t;
    const char *cid;
    int64_t expect;
    pthread_barrier_t *bar;
    int rc;
    int64_t version;
};

static void *cp_race_put(void *arg)
{
    struct cp_race *r = arg;

    pthread_barrier_wait(r->bar);
    r->rc = store_put_checkpoint_if(r->s, r->t, r->cid, NULL, "x", 1, r->expect, &r->version);
    return NULL;
}

static void test_conditional_put_race(void **state)
{
    struct conf *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    struct cp_race r[CP_RACERS];
    pthread_t th[CP_RACERS];
    pthread_barrier_t bar;
    struct ccf_checkpoint cp;

    k_connector(f, &f->t1, cid);
    for (int64_t round = 0; round < 3; round++) {
        int won = 0;

        pthread_barrier_init(&bar, NULL, CP_RACERS);
        for (int i = 0; i < CP_RACERS; i++) {
            r[i] =
                (struct cp_race){.s = f->s, .t = &f->t1, .cid = cid, .expect = round, .bar = &bar};
            assert_int_equal(pthread_create(&th[i], NULL, cp_race_put, &r[i]), 0);
        }
        for (int i = 0; i < CP_RACERS; i++) {
            pthread_join(th[i], NULL);
            if (r[i].rc == 0) {
                won++;
                assert_int_equal(r[i].version, round + 1);
            } else {
                assert_int_equal(r[i].rc, CCF_EPRECOND);
            }
        }
        pthread_barrier_destroy(&bar);
        assert_int_equal(won, 1);
    }
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, cid, &cp), 0);
    assert_int_equal(cp.version, 3);
    ccf_checkpoint_clear(&cp);
}

static void test_conditions(void **state)
{
    struct conf *f = *state;
    struct ccf_checkpoint cp;
    char cid[CCF_CONNECTOR_ID_LEN + 1], other[CCF_CONNECTOR_ID_LEN + 1];
    int64_t v = 0;

    k_connector(f, &f->t1, cid);
    k_connector(f, &f->t2, other);
    assert_int_equal(k_put(f, cid, "x", STORE_CP_EXISTS), CCF_EPRECOND);
    assert_int_equal(k_put(f, cid, "x", 1), CCF_EPRECOND);
    assert_int_equal(k_put(f, cid, "a", 0), 1);
    assert_int_equal(k_put(f, cid, "x", 0), CCF_EPRECOND);
    assert_int_equal(k_put(f, cid, "b", 1), 2);
    assert_int_equal(k_put(f, cid, "x", 1), CCF_EPRECOND);
    assert_int_equal(k_put(f, cid, "x", 3), CCF_EPRECOND);
    k_check(f, cid, 0, "b"); /* nothing written by a failed condition */
    assert_int_equal(k_put(f, cid, "c", STORE_CP_EXISTS), 3);
    assert_int_equal(k_put(f, cid, "x", -3), CCF_EINVAL);
    /* A missing or foreign connector is not found before the condition. */
    assert_int_equal(k_put(f, other, "x", 5), CCF_ENOTFOUND);
    assert_int_equal(k_put(f, "cc-000000000000", "x", 5), CCF_ENOTFOUND);
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t2, other, NULL, "y", 1, 0, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, other, &cp), CCF_ENOTFOUND);
}

/* ---- tokens ---- */

static const unsigned char H1[32] = {1};
static const unsigned char H2[32] = {2};

static int create_tok(struct conf *f, const struct ccf_tenant *t, const char *token,
                      const unsigned char *hash, int64_t now, char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {0};
    struct store_token tok = {.token = token, .hash = hash, .now = now};
    int rc;

    c.name = strdup("n");
    c.properties = strdup(PROPS);
    rc = store_create_connector_token(f->s, t, &c, &tok);
    if (rc >= 0)
        memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
    ccf_connector_clear(&c);
    return rc;
}

static void test_create_tokens(void **state)
{
    struct conf *f = *state;
    char a[CCF_CONNECTOR_ID_LEN + 1], b[CCF_CONNECTOR_ID_LEN + 1];
    int64_t now = ccf_now_us();

    assert_int_equal(create_tok(f, &f->t1, "tok", H1, now, a), STORE_TOKEN_NEW);
    assert_int_equal(create_tok(f, &f->t1, "tok", H1, now + 1, b), STORE_TOKEN_REPLAY);
    assert_string_equal(a, b);
    assert_int_equal(create_tok(f, &f->t1, "tok", H2, now + 1, b), CCF_ETOKEN);
    assert_int_equal(create_tok(f, &f->t2, "tok", H2, now + 1, b), STORE_TOKEN_NEW);
    assert_string_not_equal(a, b);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM connectors"), 2);
    /* Within 24 h it replays; after, the token is free again. */
    assert_int_equal(create_tok(f, &f->t1, "tok", H1, now + STORE_TOKEN_TTL_US - 1, b),
                     STORE_TOKEN_REPLAY);
    assert_int_equal(create_tok(f, &f->t1, "tok", H2, now + STORE_TOKEN_TTL_US, b),
                     STORE_TOKEN_NEW);
    assert_string_not_equal(a, b);
    assert_int_equal(create_tok(f, &f->t1, "tok", H2, now + STORE_TOKEN_TTL_US + 1, a),
                     STORE_TOKEN_REPLAY);
    assert_string_equal(a, b);
    /* A replay whose connector was deleted. */
    assert_int_equal(store_delete_connector(f->s, &f->t1, b), 0);
    assert_int_equal(create_tok(f, &f->t1, "tok", H2, now + STORE_TOKEN_TTL_US + 2, a),
                     STORE_TOKEN_GONE);
    assert_string_equal(a, b);
    /* Purge keeps the younger ones. */
    assert_int_equal(store_purge_tokens(f->s, now + 1), 0);
    assert_int_equal(store_purge_tokens(f->s, now + 2), 1); /* t2's */
    assert_int_equal(conf_int(f, "SELECT count(*) FROM client_tokens"), 1);
}

static int start_tok(struct conf *f, const char *cid, const char *token, const unsigned char *hash,
                     char jid[CCF_JOB_ID_LEN + 1], enum ccf_job_status *status)
{
    struct store_token tok = {.token = token, .hash = hash};
    struct ccf_job j;
    int rc = store_start_job_token(f->s, &f->t1, cid, "[]", &tok, &j);

    if (rc >= 0) {
        memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
        *status = j.status;
        ccf_job_clear(&j);
    }
    return rc;
}

static void test_start_tokens(void **state)
{
    struct conf *f = *state;
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_SUCCEEDED};
    char cid[CCF_CONNECTOR_ID_LEN + 1], a[CCF_JOB_ID_LEN + 1], b[CCF_JOB_ID_LEN + 1];
    enum ccf_job_status st;

    k_connector(f, &f->t1, cid);
    assert_int_equal(start_tok(f, cid, "s", H1, a, &st), STORE_TOKEN_NEW);
    /* Busy: a replay still answers, another token is a conflict. */
    assert_int_equal(start_tok(f, cid, "s", H1, b, &st), STORE_TOKEN_REPLAY);
    assert_string_equal(a, b);
    assert_int_equal(start_tok(f, cid, "s", H2, b, &st), CCF_ETOKEN);
    assert_int_equal(start_tok(f, cid, "other", H1, b, &st), CCF_ECONFLICT);
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, a, &tr, NULL), 1);
    assert_int_equal(start_tok(f, cid, "s", H1, b, &st), STORE_TOKEN_REPLAY);
    assert_string_equal(a, b);
    assert_int_equal(st, CCF_JOB_SUCCEEDED);
    assert_int_equal(start_tok(f, "cc-000000000000", "s", H1, b, &st), CCF_ENOTFOUND);
    /* A connector's start tokens go with it. */
    assert_int_equal(conf_int(f, "SELECT count(*) FROM client_tokens"), 1);
    assert_int_equal(store_delete_connector(f->s, &f->t1, cid), 0);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM client_tokens"), 0);
}

/* Eight threads create with one token at once: one connector. */
struct racer {
    struct conf *f;
    pthread_barrier_t *bar;
    char id[CCF_CONNECTOR_ID_LEN + 1];
    int rc;
};

static void *race_create(void *arg)
{
    struct racer *r = arg;

    pthread_barrier_wait(r->bar);
    r->rc = create_tok(r->f, &r->f->t1, "race", H1, 0, r->id);
    return NULL;
}

static void test_token_race(void **state)
{
    struct conf *f = *state;
    enum { N = 8, ROUNDS = 10 };
    pthread_barrier_t bar;
    pthread_t th[N];
    struct racer r[N];
    int fresh;

    for (int round = 0; round < ROUNDS; round++) {
        conf_exec(f, "DELETE FROM client_tokens", NULL);
        pthread_barrier_init(&bar, NULL, N);
        for (int i = 0; i < N; i++) {
            r[i] = (struct racer){.f = f, .bar = &bar};
            assert_int_equal(pthread_create(&th[i], NULL, race_create, &r[i]), 0);
        }
        fresh = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            assert_true(r[i].rc == STORE_TOKEN_NEW || r[i].rc == STORE_TOKEN_REPLAY);
            fresh += r[i].rc == STORE_TOKEN_NEW;
            assert_string_equal(r[i].id, r[0].id);
        }
        pthread_barrier_destroy(&bar);
        assert_int_equal(fresh, 1);
        assert_int_equal(conf_int(f, "SELECT count(*) FROM connectors"), round + 1);
    }
}

/* A token is checked before the connector's state: while paused, its
 * retry still returns the first job, and a start with a new token meets
 * the pause (the shared start path). The job says it came from the API. */
static void test_start_token_while_paused(void **state)
{
    struct conf *f = *state;
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_SUCCEEDED};
    char cid[CCF_CONNECTOR_ID_LEN + 1], a[CCF_JOB_ID_LEN + 1], b[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c = {0};
    enum ccf_job_status st;
    struct ccf_job j;

    k_connector(f, &f->t1, cid);
    assert_int_equal(start_tok(f, cid, "p", H1, a, &st), STORE_TOKEN_NEW);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, a, &j), 0);
    assert_int_equal(j.trigger, CCF_TRIGGER_API);
    ccf_job_clear(&j);
    assert_int_equal(store_get_connector(f->s, &f->t1, cid, &c), 0);
    c.paused = true;
    assert_int_equal(store_set_paused(f->s, &f->t1, &c, c.version), 0);
    ccf_connector_clear(&c);
    /* Paused and busy: the retry answers, a new token does not start. */
    assert_int_equal(start_tok(f, cid, "p", H1, b, &st), STORE_TOKEN_REPLAY);
    assert_string_equal(a, b);
    assert_int_equal(start_tok(f, cid, "q", H1, b, &st), CCF_ECONFLICT);
    /* Paused and idle: the same. */
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, a, &tr, NULL), 1);
    assert_int_equal(start_tok(f, cid, "p", H1, b, &st), STORE_TOKEN_REPLAY);
    assert_string_equal(a, b);
    assert_int_equal(st, CCF_JOB_SUCCEEDED);
    assert_int_equal(start_tok(f, cid, "q", H1, b, &st), CCF_ECONFLICT);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM jobs"), 1);
    assert_int_equal(conf_int(f, "SELECT count(*) FROM client_tokens"), 1);
}

/* A conditional put made with a job's key counts in its checkpoint_puts
 * in the same transaction; one refused by its condition counts nothing. */
static void test_conditional_put_counts(void **state)
{
    struct conf *f = *state;
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_RUNNING};
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;
    int64_t v = 0;

    k_connector(f, &f->t1, cid);
    assert_int_equal(store_start_job(f->s, &f->t1, cid, NULL, &j), 0);
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, j.id, &tr, NULL), 1);
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, j.id, "a", 1, 0, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, j.id, "x", 1, 0, &v), CCF_EPRECOND);
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, j.id, "x", 1, 7, &v), CCF_EPRECOND);
    assert_int_equal(store_put_checkpoint_by(f->s, &f->t1, cid, j.id, "b", 1), 0);
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, j.id, "c", 1, 2, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(k_put(f, cid, "d", STORE_CP_ANY), 4); /* no job: nobody's */
    assert_int_equal(store_put_checkpoint_if(f->s, &f->t1, cid, "ccj-zz", "x", 1, 4, &v),
                     CCF_EINVAL);
    memcpy(jid, j.id, sizeof(jid));
    ccf_job_clear(&j);
    /* Read back through the seam: the job's own statistics. */
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_true(j.has_stats);
    assert_int_equal(j.stats.checkpoint_puts, 3);
    ccf_job_clear(&j);
    k_check(f, cid, 0, "d");
}

/* ---- migration ---- */

const struct CMUnitTest conf_ckpt[] = {
    cmocka_unit_test_setup_teardown(test_versions_count_and_restart, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_history_trimmed_and_paged, conf_setup_h3, conf_teardown),
    cmocka_unit_test_setup_teardown(test_conditions, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_conditional_put_race, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_create_tokens, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_start_tokens, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_token_race, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_start_token_while_paused, conf_setup, conf_teardown),
    cmocka_unit_test_setup_teardown(test_conditional_put_counts, conf_setup, conf_teardown),
};
const size_t conf_ckpt_n = sizeof(conf_ckpt) / sizeof(conf_ckpt[0]);
