/* orch_fixture.h: the fixture of the orchestrator's tests: a real store in
 * a temp dir, an orchestrator over it with fake credentials, the fake
 * executor (orch_fake.h), and helpers that drive jobs and read them back.
 * Static inline, as the store tests' headers, because each tests/test_*.c
 * is its own binary. */
#ifndef CCF_TESTS_ORCH_FIXTURE_H
#define CCF_TESTS_ORCH_FIXTURE_H

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "orch_fake.h"
#include "orchestrator/orchestrator_int.h"
#include "store/store.h"
#include "store_fixture.h"

#define BIT(s) (1u << (s))

/* ---- fixture ---- */

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t;
    struct orchestrator_config cfg;
    struct orchestrator *o;
    struct executor ex;
    int issued, revoked;
    char last_revoked[CCF_JOB_ID_LEN + 1];
};

static inline int fake_issue(void *ctx, const struct ccf_tenant *t, const char *connector_id,
                             const char *job_id, char key_id[64], char secret[128], char token[512])
{
    struct fx *f = ctx;

    (void)t;
    (void)connector_id;
    (void)job_id;
    f->issued++;
    snprintf(key_id, 64, "ASIATESTTESTTESTTEST");
    snprintf(secret, 128, "secret");
    snprintf(token, 512, "token");
    return 0;
}

static inline void fake_revoke(void *ctx, const char *job_id)
{
    struct fx *f = ctx;

    f->revoked++;
    snprintf(f->last_revoked, sizeof(f->last_revoked), "%s", job_id);
}

static inline int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    store_fx_mkdtemp("orch", f->dir, f->path);
    assert_int_equal(store_fx_open(&f->s, f->path, "OFF", 0), 0);
    assert_int_equal(ccf_tenant_init(&f->t, "us-east-1", "111111111111"), 0);
    f->cfg = (struct orchestrator_config){
        .store = f->s,
        .jobs_dir = f->dir,
        .api_endpoint = "http://127.0.0.1:8787/",
        .job_path = "/usr/bin:/bin",
        .retention_s = 3600,
        .credentials = {.issue = fake_issue, .revoke = fake_revoke, .ctx = f},
    };
    fake_cap = (struct executor_capacity){.pool = "machine", .cpu = 2, .memory_mib = 8192};
    *state = f;
    return 0;
}

static inline void forget_submits(struct fx *f)
{
    for (size_t i = 0; i < f->ex.nsubmits; i++)
        free(f->ex.submits[i].env);
    memset(&f->ex, 0, sizeof(f->ex));
}

static inline int teardown(void **state)
{
    struct fx *f = *state;

    orchestrator_destroy(f->o);
    forget_submits(f);
    store_fx_remove(f->s, f->dir);
    free(f);
    return 0;
}

/* A fresh orchestrator over the fixture's store (as after a restart). */
static inline void orch_new(struct fx *f)
{
    orchestrator_destroy(f->o);
    assert_int_equal(orchestrator_create(&f->o, &f->cfg), 0);
    assert_int_equal(orch__recover(f->o, &f->ex), 0);
}

/* ---- helpers ---- */

static inline void mk_connector(struct fx *f, const char *props, char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = (char *)"c", .properties = (char *)props};

    assert_int_equal(store_create_connector(f->s, &f->t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
}

static inline void start(struct fx *f, const char *cid, char jid[CCF_JOB_ID_LEN + 1])
{
    struct ccf_job j;

    assert_int_equal(store_start_job(f->s, &f->t, cid, NULL, &j), 0);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
}

/* What the API does for StopCustomConnectorJob. */
static inline void request_stop(struct fx *f, const char *cid, const char *jid)
{
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED) | BIT(CCF_JOB_RUNNING),
                                  .to = CCF_JOB_STOPPING};

    assert_int_equal(store_transition_job(f->s, &f->t, cid, jid, &tr, NULL), 1);
}

static inline struct ccf_job job_of(struct fx *f, const char *cid, const char *jid)
{
    struct ccf_job j;

    assert_int_equal(store_get_job(f->s, &f->t, cid, jid, &j), 0);
    return j;
}

static inline enum ccf_job_status status_of(struct fx *f, const char *cid, const char *jid)
{
    struct ccf_job j = job_of(f, cid, jid);
    enum ccf_job_status st = j.status;

    ccf_job_clear(&j);
    return st;
}

static inline enum ccf_connector_status connector_status(struct fx *f, const char *cid)
{
    struct ccf_connector c;
    enum ccf_connector_status st;

    assert_int_equal(store_get_connector(f->s, &f->t, cid, &c), 0);
    st = c.status;
    ccf_connector_clear(&c);
    return st;
}

static inline void deliver(struct fx *f, const char *jid, enum executor_state state, bool has_code,
                           int code)
{
    struct executor_event ev = {.state = state, .has_exit_code = has_code, .exit_code = code};

    snprintf(ev.job_id, sizeof(ev.job_id), "%s", jid);
    orchestrator_on_event(f->o, &ev);
    orch__step(f->o);
}

static inline bool submitted(const struct fx *f, const char *jid)
{
    for (size_t i = 0; i < f->ex.nsubmits; i++)
        if (strcmp(f->ex.submits[i].job_id, jid) == 0)
            return true;
    return false;
}

/* The set-up most tests open with: a connector for each of the
 * NULL-terminated props, a fresh orchestrator over them, a job started on
 * each of the first `started`, and one turn of the loop (which submits what
 * fits to the fake executor). */
static inline void launch(struct fx *f, const char *const props[], size_t started,
                          char cid[][CCF_CONNECTOR_ID_LEN + 1], char jid[][CCF_JOB_ID_LEN + 1])
{
    size_t n = 0;

    while (props[n])
        n++;
    assert_true(started <= n);
    for (size_t i = 0; i < n; i++)
        mk_connector(f, props[i], cid[i]);
    orch_new(f);
    for (size_t i = 0; i < started; i++)
        start(f, cid[i], jid[i]);
    orch__step(f->o);
}

/* launch with one connector and its job. */
static inline void launch_one(struct fx *f, const char *props, char cid[CCF_CONNECTOR_ID_LEN + 1],
                              char jid[CCF_JOB_ID_LEN + 1])
{
    const char *const p[] = {props, NULL};
    char c[1][CCF_CONNECTOR_ID_LEN + 1], j[1][CCF_JOB_ID_LEN + 1];

    launch(f, p, 1, c, j);
    memcpy(cid, c[0], sizeof(c[0]));
    memcpy(jid, j[0], sizeof(j[0]));
}

#endif
