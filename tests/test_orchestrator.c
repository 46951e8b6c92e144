/* test_orchestrator.c: unit tests of the job orchestrator and the job status
 * handler (src/orchestrator) against a real store in a temp dir and a fake
 * executor. The fake is a test double of executor.h at link level: this
 * file defines the executor_* functions the orchestrator calls, so the
 * linker never takes the local backend from the archive. It records
 * submits and cancels; the tests deliver outcomes with orchestrator_on_event
 * and turn the loop by hand with orch__step, as the thread would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "core/validate.h"
#include "orchestrator/orchestrator_int.h"
#include "store/store.h"

#define BIT(s)   (1u << (s))
#define MAX_JOBS 16

/* ---- the fake executor ---- */

struct fake_submit {
    char job_id[CCF_JOB_ID_LEN + 1];
    char argv[4][64]; /* the first four arguments */
    char *env;        /* every "NAME=value", '\n'-separated */
    double cpu;
    int64_t memory_mib, timeout_s;
    int attempt;
};

struct executor {
    struct fake_submit submits[MAX_JOBS];
    size_t nsubmits;
    char cancels[MAX_JOBS][CCF_JOB_ID_LEN + 1];
    size_t ncancels;
    int submit_rc; /* returned by the next submits (0: accepted) */
    /* recover: the jobs a supervisor still runs (0: adopted); any other
     * was never submitted (1). */
    char adopted[MAX_JOBS][CCF_JOB_ID_LEN + 1];
    int adopted_attempt[MAX_JOBS]; /* the attempt its supervisor runs */
    size_t nadopted, nrecovers;
};

int executor_submit(struct executor *e, const struct executor_spec *spec)
{
    struct fake_submit *f;
    size_t len = 1, at = 0;

    if (e->submit_rc < 0)
        return e->submit_rc;
    /* Idempotent under redelivery, as the real one is (per attempt). */
    for (size_t i = 0; i < e->nsubmits; i++)
        if (strcmp(e->submits[i].job_id, spec->job_id) == 0 &&
            e->submits[i].attempt == (spec->attempt > 1 ? spec->attempt : 1))
            return 0;
    assert_true(e->nsubmits < MAX_JOBS);
    f = &e->submits[e->nsubmits++];
    memset(f, 0, sizeof(*f));
    snprintf(f->job_id, sizeof(f->job_id), "%s", spec->job_id);
    for (size_t i = 0; i < 4 && spec->argv[i]; i++)
        snprintf(f->argv[i], sizeof(f->argv[i]), "%s", spec->argv[i]);
    for (size_t i = 0; spec->envp[i]; i++)
        len += strlen(spec->envp[i]) + 1;
    f->env = calloc(1, len);
    assert_non_null(f->env);
    for (size_t i = 0; spec->envp[i]; i++)
        at += (size_t)snprintf(f->env + at, len - at, "%s\n", spec->envp[i]);
    f->cpu = spec->cpu;
    f->memory_mib = spec->memory_mib;
    f->timeout_s = spec->timeout_s;
    f->attempt = spec->attempt > 1 ? spec->attempt : 1;
    return 0;
}

int executor_cancel(struct executor *e, const char *job_id)
{
    assert_true(e->ncancels < MAX_JOBS);
    snprintf(e->cancels[e->ncancels++], CCF_JOB_ID_LEN + 1, "%s", job_id);
    return 0;
}

int executor_recover_attempt(struct executor *e, const char *job_id, int attempt)
{
    e->nrecovers++;
    for (size_t i = 0; i < e->nadopted; i++)
        if (strcmp(e->adopted[i], job_id) == 0)
            return attempt > e->adopted_attempt[i] ? 1 : 0;
    return 1;
}

int executor_recover(struct executor *e, const char *job_id)
{
    return executor_recover_attempt(e, job_id, 0);
}

/* One backend, "local", that runs commands only, in the machine's pool. */
static struct executor_capacity fake_cap;

int executor_route(struct executor *e, const struct executor_spec *spec, char *reason, size_t n)
{
    (void)e;
    if (spec->argv && spec->argv[0])
        return 0;
    snprintf(reason, n,
             "cannot run: the connector has no command, only an image_uri, and no executor "
             "that runs images is configured (executor = local)");
    return CCF_EINVAL;
}

int executor_backends(const struct executor *e)
{
    (void)e;
    return 1;
}

const char *executor_backend_name(const struct executor *e, int i)
{
    (void)e;
    return i == 0 ? "local" : NULL;
}

int executor_capacity(struct executor *e, int i, struct executor_capacity *out)
{
    (void)e;
    if (i != 0)
        return CCF_EINVAL;
    *out = fake_cap;
    return 0;
}

static void adopt_attempt(struct executor *e, const char *job_id, int attempt)
{
    e->adopted_attempt[e->nadopted] = attempt;
    snprintf(e->adopted[e->nadopted++], CCF_JOB_ID_LEN + 1, "%s", job_id);
}

static void adopt(struct executor *e, const char *job_id)
{
    adopt_attempt(e, job_id, 1);
}

int executor_forget(struct executor *e, const char *job_id)
{
    (void)e;
    (void)job_id;
    return 0;
}

/* ---- fixture ---- */

struct fx {
    char dir[64];
    char path[128];
    struct store *s;
    struct ccf_tenant t;
    struct orchestrator_config cfg;
    struct orchestrator *o;
    struct executor ex;
    int issued, revoked;
    char last_revoked[CCF_JOB_ID_LEN + 1];
};

static int fake_issue(void *ctx, const struct ccf_tenant *t, const char *connector_id,
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

static void fake_revoke(void *ctx, const char *job_id)
{
    struct fx *f = ctx;

    f->revoked++;
    snprintf(f->last_revoked, sizeof(f->last_revoked), "%s", job_id);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct store_config sc = {.synchronous = "OFF"};

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/ccf-test-orch-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/ccf.db", f->dir);
    sc.path = f->path;
    assert_int_equal(store_open(&f->s, &sc), 0);
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

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void forget_submits(struct fx *f)
{
    for (size_t i = 0; i < f->ex.nsubmits; i++)
        free(f->ex.submits[i].env);
    memset(&f->ex, 0, sizeof(f->ex));
}

static int teardown(void **state)
{
    struct fx *f = *state;

    orchestrator_destroy(f->o);
    store_close(f->s);
    forget_submits(f);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A fresh orchestrator over the fixture's store (as after a restart). */
static void orch_new(struct fx *f)
{
    orchestrator_destroy(f->o);
    assert_int_equal(orchestrator_create(&f->o, &f->cfg), 0);
    assert_int_equal(orch__recover(f->o, &f->ex), 0);
}

/* ---- helpers ---- */

static void mk_connector(struct fx *f, const char *props, char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = (char *)"c", .properties = (char *)props};

    assert_int_equal(store_create_connector(f->s, &f->t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
}

/* Properties as validation leaves them: every default filled in. */
static char *props(const char *cmd, double cpu, int memory)
{
    static char buf[4][256];
    static int n;
    char *p = buf[n++ % 4];

    snprintf(p, 256,
             "{\"command\":[\"%s\",\"arg\"],\"resource_requirements\":{\"cpu\":%g,\"memory\":%d},"
             "\"timeout\":60,\"environment\":[{\"name\":\"K\",\"value\":\"v\"}]}",
             cmd, cpu, memory);
    return p;
}

static void start(struct fx *f, const char *cid, char jid[CCF_JOB_ID_LEN + 1])
{
    struct ccf_job j;

    assert_int_equal(store_start_job(f->s, &f->t, cid, NULL, &j), 0);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
}

/* What the API does for StopCustomConnectorJob. */
static void request_stop(struct fx *f, const char *cid, const char *jid)
{
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED) | BIT(CCF_JOB_RUNNING),
                                  .to = CCF_JOB_STOPPING};

    assert_int_equal(store_transition_job(f->s, &f->t, cid, jid, &tr, NULL), 1);
}

static struct ccf_job job_of(struct fx *f, const char *cid, const char *jid)
{
    struct ccf_job j;

    assert_int_equal(store_get_job(f->s, &f->t, cid, jid, &j), 0);
    return j;
}

static enum ccf_job_status status_of(struct fx *f, const char *cid, const char *jid)
{
    struct ccf_job j = job_of(f, cid, jid);
    enum ccf_job_status st = j.status;

    ccf_job_clear(&j);
    return st;
}

static enum ccf_connector_status connector_status(struct fx *f, const char *cid)
{
    struct ccf_connector c;
    enum ccf_connector_status st;

    assert_int_equal(store_get_connector(f->s, &f->t, cid, &c), 0);
    st = c.status;
    ccf_connector_clear(&c);
    return st;
}

static void deliver(struct fx *f, const char *jid, enum executor_state state, bool has_code,
                    int code)
{
    struct executor_event ev = {.state = state, .has_exit_code = has_code, .exit_code = code};

    snprintf(ev.job_id, sizeof(ev.job_id), "%s", jid);
    orchestrator_on_event(f->o, &ev);
    orch__step(f->o);
}

static bool submitted(const struct fx *f, const char *jid)
{
    for (size_t i = 0; i < f->ex.nsubmits; i++)
        if (strcmp(f->ex.submits[i].job_id, jid) == 0)
            return true;
    return false;
}

static void assert_reason(struct fx *f, const char *cid, const char *jid, const char *part)
{
    struct ccf_job j = job_of(f, cid, jid);

    assert_non_null(j.failure_reason);
    if (!strstr(j.failure_reason, part))
        fail_msg("failure_reason \"%s\" lacks \"%s\"", j.failure_reason, part);
    ccf_job_clear(&j);
}

/* ---- tests ---- */

/* A job runs its connector's command with the exact environment, moves to
 * RUNNING and SUCCEEDED, frees its connector and ends its credentials. */
static void test_job_runs_to_success(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], want[64];
    struct ccf_job j;

    mk_connector(f, props("/bin/echo", 1, 2048), cid);
    orch_new(f);
    start(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_string_equal(f->ex.submits[0].job_id, jid);
    assert_string_equal(f->ex.submits[0].argv[0], "/bin/echo");
    assert_string_equal(f->ex.submits[0].argv[1], "arg");
    assert_true(f->ex.submits[0].cpu == 1);
    assert_int_equal(f->ex.submits[0].memory_mib, 2048);
    assert_int_equal(f->ex.submits[0].timeout_s, 60);
    snprintf(want, sizeof(want), "CUSTOM_CONNECTOR_JOB_ID=%s\n", jid);
    assert_non_null(strstr(f->ex.submits[0].env, want));
    assert_non_null(strstr(f->ex.submits[0].env, "AWS_SESSION_TOKEN=token\n"));
    assert_non_null(strstr(f->ex.submits[0].env, "\nK=v\n"));
    assert_int_equal(f->issued, 1);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED);

    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_RUNNING);
    assert_string_equal(j.executor_id, jid);
    ccf_job_clear(&j);
    deliver(f, jid, EXECUTOR_EXITED, true, 0);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_SUCCEEDED);
    assert_true(j.has_exit_code && j.exit_code == 0);
    assert_null(j.failure_reason);
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(f->revoked, 1);
    assert_string_equal(f->last_revoked, jid);
    assert_int_equal(f->o->running.n, 0);
    assert_true(f->o->pools[0].cpu_used == 0 && f->o->pools[0].memory_used == 0);
}

/* Failures and their reasons (CONTRACT.md, "How a job ends"). */
static void test_failures_and_reasons(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct executor_event ev = {.state = EXECUTOR_EXITED, .has_exit_code = true};
    struct ccf_job j;

    mk_connector(f, props("/bin/false", 1, 1024), cid);
    orch_new(f);

    start(f, cid, jid);
    orch__step(f->o);
    deliver(f, jid, EXECUTOR_EXITED, true, 137);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_FAILED);
    assert_int_equal(j.exit_code, 137);
    assert_string_equal(j.failure_reason, "exited with code 137 (killed by signal 9)");
    ccf_job_clear(&j);

    start(f, cid, jid);
    orch__step(f->o);
    snprintf(ev.job_id, sizeof(ev.job_id), "%s", jid);
    ev.exit_code = 143;
    ev.timed_out = true;
    orchestrator_on_event(f->o, &ev);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_FAILED);
    assert_reason(f, cid, jid, "timed out after 60 s");

    start(f, cid, jid);
    orch__step(f->o);
    deliver(f, jid, EXECUTOR_LOST, false, 0);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_FAILED);
    assert_false(j.has_exit_code);
    assert_string_equal(j.failure_reason, "the job's supervisor was lost");
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(f->revoked, 3);
}

/* Changes are delivered at least once: the same changes again (a lost
 * ack) submit nothing twice and change nothing. */
static void test_redelivered_changes_are_harmless(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];

    char big[CCF_CONNECTOR_ID_LEN + 1], jbig[CCF_JOB_ID_LEN + 1];

    mk_connector(f, props("/bin/true", 1, 1024), cid);
    mk_connector(f, props("/bin/true", 2, 1024), big);
    orch_new(f);
    start(f, cid, jid);
    start(f, big, jbig);
    orch__step(f->o);
    /* Submitted but not RUNNING yet, and queued behind it: both still STARTED. */
    f->o->cursor = 0;
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_int_equal(f->o->running.n, 1);
    assert_int_equal(f->o->pending.n, 1);
    assert_true(f->o->pools[0].cpu_used == 1 && f->o->pools[0].memory_used == 1024);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    f->o->cursor = 0; /* everything again */
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_int_equal(f->o->running.n, 1);
    assert_true(f->o->pools[0].cpu_used == 1);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_RUNNING);

    deliver(f, jid, EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 2); /* the big one, now that it fits */
    deliver(f, jbig, EXECUTOR_EXITED, true, 0);
    f->o->cursor = 0;
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_int_equal(f->o->running.n + f->o->pending.n, 0);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_SUCCEEDED);
    assert_int_equal(f->ex.ncancels, 0);
}

/* Outcomes may come twice (a watcher and a recover): the second changes
 * nothing and gives no capacity back twice. RUNNING after the end is
 * ignored too. */
static void test_outcome_twice(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    char cid2[CCF_CONNECTOR_ID_LEN + 1], jid2[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    mk_connector(f, props("/bin/true", 1, 1024), cid);
    mk_connector(f, props("/bin/true", 1, 1024), cid2);
    orch_new(f);
    start(f, cid, jid);
    start(f, cid2, jid2);
    orch__step(f->o);
    deliver(f, jid, EXECUTOR_EXITED, true, 3);
    deliver(f, jid, EXECUTOR_EXITED, true, 0);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_FAILED);
    assert_int_equal(j.exit_code, 3);
    assert_null(j.executor_id);
    ccf_job_clear(&j);
    assert_int_equal(f->revoked, 1);
    assert_int_equal(f->o->running.n, 1); /* the other job still holds its share */
    assert_true(f->o->pools[0].cpu_used == 1 && f->o->pools[0].memory_used == 1024);
    assert_int_equal(status_of(f, cid2, jid2), CCF_JOB_STARTED);
}

/* A job stopped before it ran never runs: stopped while queued, and stopped
 * before the orchestrator ever saw it. */
static void test_stop_before_run(void **state)
{
    struct fx *f = *state;
    char big[CCF_CONNECTOR_ID_LEN + 1], cid[CCF_CONNECTOR_ID_LEN + 1];
    char cid2[CCF_CONNECTOR_ID_LEN + 1];
    char jbig[CCF_JOB_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], jid2[CCF_JOB_ID_LEN + 1];

    mk_connector(f, props("/bin/sleep", 2, 1024), big);
    mk_connector(f, props("/bin/true", 1, 1024), cid);
    mk_connector(f, props("/bin/true", 1, 1024), cid2);
    orch_new(f);
    start(f, big, jbig);
    start(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1); /* the big one fills the budget */
    assert_int_equal(f->o->pending.n, 1);
    request_stop(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STOPPED);
    assert_reason(f, cid, jid, "stopped on request");
    assert_int_equal(f->o->pending.n, 0);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);

    start(f, cid2, jid2);
    request_stop(f, cid2, jid2); /* both changes arrive in one step */
    orch__step(f->o);
    assert_int_equal(status_of(f, cid2, jid2), CCF_JOB_STOPPED);

    deliver(f, jbig, EXECUTOR_EXITED, true, 0); /* room now: still nothing to run */
    assert_int_equal(f->ex.nsubmits, 1);
    assert_false(submitted(f, jid) || submitted(f, jid2));
    assert_int_equal(f->ex.ncancels, 0);
}

/* Stop while running: cancel, and the job ends STOPPED whatever its exit
 * (0 included), with the exit code it had. A stop of an ended job does
 * nothing. */
static void test_stop_while_running(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    mk_connector(f, props("/bin/sleep", 1, 1024), cid);
    orch_new(f);
    start(f, cid, jid);
    orch__step(f->o);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    request_stop(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->ex.ncancels, 1);
    assert_string_equal(f->ex.cancels[0], jid);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STOPPING);
    deliver(f, jid, EXECUTOR_EXITED, true, 0); /* it exited 0 on SIGTERM */
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_STOPPED);
    assert_true(j.has_exit_code && j.exit_code == 0);
    assert_string_equal(j.failure_reason, "stopped on request");
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
    f->o->cursor = 0; /* the STOPPING change again, after the end */
    orch__step(f->o);
    assert_int_equal(f->ex.ncancels, 1);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STOPPED);
}

/* Jobs beyond the budget wait in STARTED and start in order as room frees. */
static void test_capacity_queues_in_order(void **state)
{
    struct fx *f = *state;
    char cid[4][CCF_CONNECTOR_ID_LEN + 1], jid[4][CCF_JOB_ID_LEN + 1];

    fake_cap.max_jobs = 3;
    for (int i = 0; i < 4; i++)
        mk_connector(f, props("/bin/true", 1, 3000), cid[i]);
    orch_new(f);
    for (int i = 0; i < 4; i++)
        start(f, cid[i], jid[i]);
    orch__step(f->o);
    /* cpu 2 allows two; memory (8192) too. */
    assert_int_equal(f->ex.nsubmits, 2);
    assert_string_equal(f->ex.submits[0].job_id, jid[0]);
    assert_string_equal(f->ex.submits[1].job_id, jid[1]);
    assert_int_equal(f->o->pending.n, 2);
    assert_int_equal(status_of(f, cid[2], jid[2]), CCF_JOB_STARTED);
    deliver(f, jid[1], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 3);
    assert_string_equal(f->ex.submits[2].job_id, jid[2]);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 4);
    assert_string_equal(f->ex.submits[3].job_id, jid[3]);
    assert_true(f->o->pools[0].cpu_used == 2 && f->o->pools[0].memory_used == 6000);
}

/* max_jobs limits on its own. */
static void test_max_jobs(void **state)
{
    struct fx *f = *state;
    char cid[2][CCF_CONNECTOR_ID_LEN + 1], jid[2][CCF_JOB_ID_LEN + 1];

    fake_cap.max_jobs = 1;
    for (int i = 0; i < 2; i++)
        mk_connector(f, props("/bin/true", 0.25, 1024), cid[i]);
    orch_new(f);
    for (int i = 0; i < 2; i++)
        start(f, cid[i], jid[i]);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 2);
}

static void assert_status_reason(struct fx *f, const char *cid, const char *jid, const char *want)
{
    struct ccf_job j = job_of(f, cid, jid);

    if (!want)
        assert_null(j.status_reason);
    else if (!j.status_reason || strcmp(j.status_reason, want) != 0)
        fail_msg("status_reason \"%s\", want \"%s\"", j.status_reason ? j.status_reason : "(null)",
                 want);
    ccf_job_clear(&j);
}

/* A job that waits for capacity says why (what its pool lacks, or that
 * earlier jobs wait first); the reason goes once it is submitted, and
 * comes back after a restart only if it still waits. */
static void test_status_reason_while_waiting(void **state)
{
    struct fx *f = *state;
    char cid[4][CCF_CONNECTOR_ID_LEN + 1], jid[4][CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    mk_connector(f, props("/bin/true", 1, 1024), cid[0]);
    mk_connector(f, props("/bin/true", 1.5, 1024), cid[1]);
    mk_connector(f, props("/bin/true", 0.5, 1024), cid[2]);
    mk_connector(f, props("/bin/true", 0.5, 7500), cid[3]);
    orch_new(f);
    for (int i = 0; i < 3; i++)
        start(f, cid[i], jid[i]);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_status_reason(f, cid[0], jid[0], NULL);
    assert_status_reason(f, cid[1], jid[1],
                         "waiting for capacity: 1 of 2 vCPUs in use, the job needs 1.5 "
                         "(pool machine)");
    /* It would fit, but jobs start in order. */
    assert_status_reason(f, cid[2], jid[2],
                         "waiting for capacity: earlier jobs wait first (pool machine)");
    /* Shown in the job's JSON, and gone from it once it runs. */
    j = job_of(f, cid[1], jid[1]);
    {
        json_t *o = ccf_job_json(&j);
        assert_non_null(json_object_get(o, "status_reason"));
        json_decref(o);
    }
    ccf_job_clear(&j);
    deliver(f, jid[0], EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 3);
    assert_status_reason(f, cid[1], jid[1], NULL);
    assert_status_reason(f, cid[2], jid[2], NULL);
    deliver(f, jid[1], EXECUTOR_RUNNING, false, 0);
    assert_status_reason(f, cid[1], jid[1], NULL);
    j = job_of(f, cid[1], jid[1]);
    {
        json_t *o = ccf_job_json(&j);
        assert_null(json_object_get(o, "status_reason"));
        json_decref(o);
    }
    ccf_job_clear(&j);
    /* Memory: 1024 of 8192 held once job 2 ends; 7500 more do not fit. */
    deliver(f, jid[2], EXECUTOR_EXITED, true, 0);
    start(f, cid[3], jid[3]);
    orch__step(f->o);
    assert_status_reason(f, cid[3], jid[3],
                         "waiting for capacity: 1024 of 8192 MiB of memory in use, the job needs "
                         "7500 (pool machine)");
    /* A restart that finds job 1 still running: job 3 still waits, and
     * says so. */
    adopt(&f->ex, jid[1]);
    orch_new(f);
    orch__step(f->o);
    assert_int_equal(f->o->pending.n, 1);
    assert_status_reason(f, cid[3], jid[3],
                         "waiting for capacity: 1024 of 8192 MiB of memory in use, the job needs "
                         "7500 (pool machine)");
}

/* max-jobs names itself, and a stop of a waiting job clears the reason. */
static void test_status_reason_max_jobs_and_stop(void **state)
{
    struct fx *f = *state;
    char cid[2][CCF_CONNECTOR_ID_LEN + 1], jid[2][CCF_JOB_ID_LEN + 1];

    fake_cap.max_jobs = 1;
    for (int i = 0; i < 2; i++)
        mk_connector(f, props("/bin/true", 0.25, 1024), cid[i]);
    orch_new(f);
    for (int i = 0; i < 2; i++)
        start(f, cid[i], jid[i]);
    orch__step(f->o);
    assert_status_reason(f, cid[1], jid[1],
                         "waiting for capacity: 1 of 1 jobs running (pool machine)");
    request_stop(f, cid[1], jid[1]);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid[1], jid[1]), CCF_JOB_STOPPED);
    assert_status_reason(f, cid[1], jid[1], NULL);
    assert_int_equal(f->ex.nsubmits, 1);
}

/* A job that can never fit fails at once with a reason, and does not block
 * the queue behind it; one whose connector has no command too. */
static void test_cannot_run_fails_at_once(void **state)
{
    struct fx *f = *state;
    char huge[CCF_CONNECTOR_ID_LEN + 1], image[CCF_CONNECTOR_ID_LEN + 1];
    char ok[CCF_CONNECTOR_ID_LEN + 1];
    char jh[CCF_JOB_ID_LEN + 1], ji[CCF_JOB_ID_LEN + 1], jok[CCF_JOB_ID_LEN + 1];

    mk_connector(f, props("/bin/true", 4, 1024), huge);
    mk_connector(f,
                 "{\"image_uri\":\"123456789012.dkr.ecr.us-east-1.amazonaws.com/x\","
                 "\"resource_requirements\":{\"cpu\":1,\"memory\":1024},\"timeout\":60}",
                 image);
    mk_connector(f, props("/bin/true", 1, 1024), ok);
    orch_new(f);
    start(f, huge, jh);
    start(f, image, ji);
    start(f, ok, jok);
    orch__step(f->o);
    assert_int_equal(status_of(f, huge, jh), CCF_JOB_FAILED);
    assert_reason(f, huge, jh, "more than the executor's whole capacity");
    assert_int_equal(connector_status(f, huge), CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(status_of(f, image, ji), CCF_JOB_FAILED);
    assert_reason(f, image, ji, "no command");
    assert_int_equal(f->ex.nsubmits, 1);
    assert_string_equal(f->ex.submits[0].job_id, jok);
    assert_int_equal(f->issued, 1);
}

/* An executor that cannot start the job: FAILED, capacity and credentials
 * given back. */
static void test_submit_failure(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];

    mk_connector(f, props("/bin/true", 1, 1024), cid);
    orch_new(f);
    f->ex.submit_rc = CCF_EIO;
    start(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_FAILED);
    assert_reason(f, cid, jid, "the executor could not start the job");
    assert_int_equal(f->o->running.n + f->o->pending.n, 0);
    assert_true(f->o->pools[0].cpu_used == 0 && f->o->pools[0].memory_used == 0);
    assert_int_equal(f->revoked, 1);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
}

/* After a restart: a running job is re-adopted (its events still apply), a
 * job never submitted is submitted, a STOPPING job never submitted ends
 * STOPPED, and the cursor resumes where it was. */
static void test_recovery(void **state)
{
    struct fx *f = *state;
    char c1[CCF_CONNECTOR_ID_LEN + 1], c2[CCF_CONNECTOR_ID_LEN + 1];
    char c3[CCF_CONNECTOR_ID_LEN + 1];
    char j1[CCF_JOB_ID_LEN + 1], j2[CCF_JOB_ID_LEN + 1], j3[CCF_JOB_ID_LEN + 1];

    mk_connector(f, props("/bin/sleep", 1, 1024), c1);
    mk_connector(f, props("/bin/true", 1, 1024), c2);
    mk_connector(f, props("/bin/true", 1, 1024), c3);
    orch_new(f);
    start(f, c1, j1);
    orch__step(f->o);
    deliver(f, j1, EXECUTOR_RUNNING, false, 0);
    store_cursor_set(f->s, "orchestrator", f->o->cursor);
    start(f, c2, j2);
    start(f, c3, j3);
    request_stop(f, c3, j3);
    /* Down before it saw j2 and j3; j1's supervisor still runs. */
    forget_submits(f);
    adopt(&f->ex, j1);
    orch_new(f);
    assert_int_equal(f->ex.nrecovers, 3);
    assert_int_equal(f->ex.nsubmits, 0);
    assert_int_equal(status_of(f, c3, j3), CCF_JOB_STOPPED);
    orch__step(f->o);
    assert_true(submitted(f, j2));
    assert_false(submitted(f, j1) || submitted(f, j3));
    assert_int_equal(f->o->running.n, 2);
    deliver(f, j2, EXECUTOR_EXITED, true, 0);
    assert_int_equal(status_of(f, c2, j2), CCF_JOB_SUCCEEDED);
    deliver(f, j1, EXECUTOR_EXITED, true, 0);
    assert_int_equal(status_of(f, c1, j1), CCF_JOB_SUCCEEDED);
    assert_int_equal(f->ex.nsubmits, 1);
}

/* A re-adopted job's events reach it without a new submit. */
static void test_recovery_adopts_running_job(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];

    mk_connector(f, props("/bin/sleep", 1, 1024), cid);
    orch_new(f);
    start(f, cid, jid);
    orch__step(f->o);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    store_cursor_set(f->s, "orchestrator", f->o->cursor);
    forget_submits(f);
    adopt(&f->ex, jid);
    orch_new(f);
    assert_int_equal(f->o->running.n, 1);
    assert_true(f->o->pools[0].cpu_used == 1);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 0);
    request_stop(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->ex.ncancels, 1);
    deliver(f, jid, EXECUTOR_EXITED, true, 143);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STOPPED);
    assert_int_equal(f->o->running.n, 0);
}

/* Issue 12: what a queued job runs is what its connector said when the job
 * was admitted. An update while it waits applies to the next job: both its
 * command and its limits, never the new command under the old limits. */
static void test_connector_updated_while_queued(void **state)
{
    struct fx *f = *state;
    char big[CCF_CONNECTOR_ID_LEN + 1], cid[CCF_CONNECTOR_ID_LEN + 1];
    char jbig[CCF_JOB_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1], jnext[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c;

    mk_connector(f, props("/bin/sleep", 2, 1024), big);
    mk_connector(f, props("/bin/old", 1, 1024), cid);
    orch_new(f);
    start(f, big, jbig);
    start(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->o->pending.n, 1);
    assert_int_equal(store_get_connector(f->s, &f->t, cid, &c), 0);
    free(c.properties);
    c.properties = ccf_xstrdup(props("/bin/new", 0.5, 4096));
    assert_int_equal(store_update_connector(f->s, &f->t, &c, c.version), 0);
    ccf_connector_clear(&c);
    deliver(f, jbig, EXECUTOR_EXITED, true, 0);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_string_equal(f->ex.submits[1].job_id, jid);
    assert_string_equal(f->ex.submits[1].argv[0], "/bin/old");
    assert_true(f->ex.submits[1].cpu == 1);
    assert_int_equal(f->ex.submits[1].memory_mib, 1024);
    assert_true(f->o->pools[0].cpu_used == 1 && f->o->pools[0].memory_used == 1024);
    deliver(f, jid, EXECUTOR_EXITED, true, 0);
    start(f, cid, jnext);
    orch__step(f->o);
    assert_string_equal(f->ex.submits[2].argv[0], "/bin/new");
    assert_int_equal(f->ex.submits[2].memory_mib, 4096);
}

/* The spec decoder (core) refuses what validation never stores. */
static void test_job_spec_decode(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"timeout\":60,\"resource_requirements\":{\"memory\":1024}}",
        "{\"timeout\":60,\"resource_requirements\":{\"cpu\":1}}",
        "{\"resource_requirements\":{\"cpu\":1,\"memory\":1024}}",
        "{\"timeout\":60,\"resource_requirements\":{\"cpu\":1,\"memory\":1024},"
        "\"command\":[]}",
        "{\"timeout\":60,\"resource_requirements\":{\"cpu\":1,\"memory\":1024},"
        "\"command\":[\"/bin/true\",7]}",
        "{\"timeout\":60,\"resource_requirements\":{\"cpu\":1,\"memory\":1024},"
        "\"command\":[\"/bin/true\"],\"environment\":[{\"name\":\"A\"}]}",
    };
    struct ccf_job_spec spec = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ccf_job_spec_decode(bad[i], &spec) != CCF_EINVAL)
            fail_msg("accepted %s", bad[i]);
    }
    assert_int_equal(ccf_job_spec_decode(NULL, &spec), CCF_EINVAL);
    assert_int_equal(ccf_job_spec_decode(props("/bin/x", 1.5, 2048), &spec), 0);
    assert_string_equal(spec.command[0], "/bin/x");
    assert_string_equal(spec.command[1], "arg");
    assert_null(spec.command[2]);
    assert_int_equal(spec.nenv, 1);
    assert_string_equal(spec.env[0].name, "K");
    assert_string_equal(spec.env[0].value, "v");
    assert_true(spec.cpu == 1.5);
    assert_int_equal(spec.memory_mib, 2048);
    assert_int_equal(spec.timeout_s, 60);
    ccf_job_spec_clear(&spec);
    assert_null(spec.command);
    ccf_job_spec_clear(NULL);
}

/* ---- retries (CONTRACT-OPS.md "Retries") ---- */

static double no_jitter(void *ctx)
{
    (void)ctx;
    return 0.5;
}

/* Properties with a retry strategy: 75 retried, any other code ends it. */
static char *retry_props(const char *cmd, int attempts, int initial_s)
{
    static char buf[2][512];
    static int n;
    char *p = buf[n++ % 2];

    snprintf(p, 512,
             "{\"command\":[\"%s\"],\"resource_requirements\":{\"cpu\":1,\"memory\":1024},"
             "\"timeout\":60,\"retry_strategy\":{\"attempts\":%d,\"evaluate_on_exit\":["
             "{\"on_exit_code\":\"75\",\"action\":\"RETRY\"},"
             "{\"on_exit_code\":\"*\",\"action\":\"EXIT\"}],"
             "\"backoff\":{\"initial_seconds\":%d,\"multiplier\":2,\"max_seconds\":3600}}}",
             cmd, attempts, initial_s);
    return p;
}

static void retry_setup(struct fx *f, const char *props_json, char *cid, char *jid)
{
    f->cfg.random_unit = no_jitter;
    mk_connector(f, props_json, cid);
    orch_new(f);
    start(f, cid, jid);
    orch__step(f->o);
}

/* Runs the job's current attempt to exit code `code`. */
static void run_attempt(struct fx *f, const char *jid, int code)
{
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    deliver(f, jid, EXECUTOR_EXITED, true, code);
}

static void assert_attempts(struct fx *f, const char *cid, const char *jid, int attempt,
                            const char *json_part)
{
    struct ccf_job j = job_of(f, cid, jid);

    assert_int_equal(j.attempt, attempt);
    assert_non_null(j.attempts);
    if (!strstr(j.attempts, json_part))
        fail_msg("attempts %s lack %s", j.attempts, json_part);
    ccf_job_clear(&j);
}

/* A retried failure goes back to STARTED, due after the backoff, with the
 * connector still IN_USE and the credentials ended; the next attempt is a
 * new submit of the same job; an EXIT rule ends it at once. */
static void test_retry_decision(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;
    int64_t before = ccf_now_us();

    retry_setup(f, retry_props("/bin/x", 3, 0), cid, jid);
    assert_int_equal(f->ex.submits[0].attempt, 1);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    assert_int_equal(f->ex.nsubmits, 1);
    deliver(f, jid, EXECUTOR_EXITED, true, 75); /* due at once (0 s): runs again in the step */
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_STARTED);
    assert_false(j.has_exit_code); /* the attempt's, not yet the job's */
    assert_null(j.failure_reason);
    assert_true(j.next_attempt_at >= before);
    ccf_job_clear(&j);
    assert_attempts(f, cid, jid, 1, "\"exit_code\":75,\"reason\":\"exited with code 75\"");
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_IN_USE);
    assert_int_equal(f->revoked, 1);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_int_equal(f->ex.submits[1].attempt, 2);
    assert_string_equal(f->ex.submits[1].job_id, jid);
    run_attempt(f, jid, 3);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_FAILED);
    assert_attempts(f, cid, jid, 2, "{\"attempt\":2,");
    j = job_of(f, cid, jid);
    assert_true(j.has_exit_code && j.exit_code == 3);
    assert_int_equal(j.next_attempt_at, 0);
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
}

/* Attempts run out: the last failure is the job's. A success ends it. */
static void test_retry_attempts_run_out(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];

    retry_setup(f, retry_props("/bin/x", 2, 0), cid, jid);
    run_attempt(f, jid, 75);
    run_attempt(f, jid, 75);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_FAILED);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_attempts(f, cid, jid, 2, "{\"attempt\":2,");
}

/* The wait is honoured: nothing starts before next_attempt_at, the
 * thread's next wake-up is that time, and the attempt starts once due. */
static void test_retry_backoff_wait(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;
    int64_t due_in;

    retry_setup(f, retry_props("/bin/x", 3, 1), cid, jid);
    run_attempt(f, jid, 75);
    j = job_of(f, cid, jid);
    due_in = j.next_attempt_at - ccf_now_us();
    ccf_job_clear(&j);
    assert_true(due_in > 800000 && due_in <= 1000000); /* 1 s, no jitter */
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    due_in = orch__wake_due(f->o);
    assert_true(due_in > 700000 && due_in <= 1000000);
    usleep((useconds_t)due_in + 20000);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_int_equal(orch__wake_due(f->o), INT64_MAX);
}

/* A stop during the wait ends the job STOPPED at once, with the last
 * attempt's exit code, and frees the connector. */
static void test_retry_stop_during_wait(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    retry_setup(f, retry_props("/bin/x", 3, 600), cid, jid);
    run_attempt(f, jid, 75);
    request_stop(f, cid, jid);
    orch__step(f->o);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_STOPPED);
    assert_true(j.has_exit_code && j.exit_code == 75);
    assert_string_equal(j.failure_reason, "stopped on request");
    assert_int_equal(j.next_attempt_at, 0);
    assert_int_equal(j.attempt, 1);
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(f->ex.ncancels, 0); /* nothing ran to cancel */
    assert_int_equal(orch__wake_due(f->o), INT64_MAX);
}

/* A stop that lands after the next attempt was submitted but before it
 * reported RUNNING: the executor kills it (143) and RUNNING is refused, so
 * that attempt never started as far as the job says: it ends as a stop in
 * the wait does, with the last recorded attempt's exit code. */
static void test_retry_stop_during_launch(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_job j;

    retry_setup(f, retry_props("/bin/x", 3, 0), cid, jid);
    run_attempt(f, jid, 75); /* due at once: attempt 2 is submitted in the step */
    assert_int_equal(f->ex.nsubmits, 2);
    request_stop(f, cid, jid);
    orch__step(f->o);
    assert_int_equal(f->ex.ncancels, 1);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0); /* refused: STOPPING */
    deliver(f, jid, EXECUTOR_EXITED, true, 143);
    j = job_of(f, cid, jid);
    assert_int_equal(j.status, CCF_JOB_STOPPED);
    assert_int_equal(j.attempt, 1);
    assert_true(j.has_exit_code && j.exit_code == 75);
    assert_string_equal(j.failure_reason, "stopped on request");
    ccf_job_clear(&j);
    assert_int_equal(connector_status(f, cid), CCF_CONNECTOR_AVAILABLE);
}

/* Redelivered events and changes change nothing: a second exit of an
 * attempt already retried, a second RUNNING, the retry's change again. */
static void test_retry_redelivery(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct store_change ch = {.old_status = CCF_JOB_RUNNING, .new_status = CCF_JOB_STARTED};

    retry_setup(f, retry_props("/bin/x", 3, 600), cid, jid);
    run_attempt(f, jid, 75);
    deliver(f, jid, EXECUTOR_EXITED, true, 75);
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    ch.tenant = f->t;
    memcpy(ch.connector_id, cid, sizeof(ch.connector_id));
    memcpy(ch.job_id, jid, sizeof(ch.job_id));
    assert_int_equal(orch__on_change(f->o, &ch), 0);
    orch__step(f->o);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_attempts(f, cid, jid, 1, "\"exit_code\":75");
    assert_attempts(f, cid, jid, 1, "[{\"attempt\":1,");
}

/* A restart during the wait keeps waiting for the stored time (the
 * executor's earlier attempt is not collected again); a restart during
 * attempt 2 re-adopts it. The command is the one the job started with,
 * whatever the connector says now. */
static void test_retry_restart(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c;

    retry_setup(f, retry_props("/bin/first", 3, 1), cid, jid);
    run_attempt(f, jid, 75);
    assert_int_equal(store_get_connector(f->s, &f->t, cid, &c), 0);
    free(c.properties);
    c.properties = ccf_xstrdup(retry_props("/bin/second", 1, 0));
    assert_int_equal(store_update_connector(f->s, &f->t, &c, c.version), 0);
    ccf_connector_clear(&c);
    adopt_attempt(&f->ex, jid, 1); /* its directory holds attempt 1 */
    orch_new(f);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 1);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED);
    usleep((useconds_t)orch__wake_due(f->o) + 20000);
    orch__step(f->o);
    assert_int_equal(f->ex.nsubmits, 2);
    assert_string_equal(f->ex.submits[1].argv[0], "/bin/first");
    deliver(f, jid, EXECUTOR_RUNNING, false, 0);
    f->ex.adopted_attempt[0] = 2;
    orch_new(f); /* during attempt 2: re-adopted, then its outcome decides */
    assert_int_equal(f->ex.nsubmits, 2);
    deliver(f, jid, EXECUTOR_EXITED, true, 75);
    assert_int_equal(status_of(f, cid, jid), CCF_JOB_STARTED); /* 3 attempts, frozen */
    assert_attempts(f, cid, jid, 2, "{\"attempt\":2,");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_spec_decode),
        cmocka_unit_test_setup_teardown(test_job_runs_to_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_and_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redelivered_changes_are_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_before_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity_queues_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_reason_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_reason_max_jobs_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_run_fails_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_adopts_running_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connector_updated_while_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_decision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_attempts_run_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_backoff_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_stop_during_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_stop_during_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_redelivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_restart, setup, teardown),
    };
    ccf_log_setup(CCF_LOG_WARN, CCF_LOG_LOGFMT); /* one line per expected warning, no more */
    return cmocka_run_group_tests_name("orchestrator", tests, NULL, NULL);
}
