/* batch.c: the AWS Batch backend behind executor.h (backend_int.h's ops).
 * prepare (on a connector's create or update) and submit register the
 * connector's job definition when its properties differ from the last
 * registered revision; submit then submits the job under its ccf job id and keeps the Batch job id
 * in the job's directory; a poller thread asks DescribeJobs about the jobs in flight and reports
 * RUNNING and the end (batch__event); cancel is TerminateJob. Logs are in
 * CloudWatch, not here: the logs operation has none for these jobs.
 * (On Lambda the bootstrap gets the same outcomes from EventBridge.) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "executor/backend_int.h"
#include "executor/batch/batch_int.h"
#include "executor/executor_int.h"

#define POLL_MS      500
#define DESCRIBE_MAX 100 /* DescribeJobs takes at most 100 ids */
#define ERR_MAX      256

struct tracked {
    char job_id[CCF_JOB_ID_LEN + 1];
    char batch_id[BATCH__ID_MAX + 1];
    bool running_reported;
    bool cancelled;
};

struct executor_batch {
    const struct executor_config *cfg; /* borrowed from the dispatcher */
    struct batch__endpoint ep;
    int jobs_dfd;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cond;
    bool stopping;
    struct tracked *jobs;
    size_t n, cap;
    pthread_t thread;
    bool thread_started;
    /* The kept connection of submit, cancel and recover (the poller keeps
     * its own): a TLS handshake saved per call. Whoever holds call_mu uses
     * it; a thread that finds it held takes a handle of its own for that
     * call rather than wait behind a call of up to 30 s. */
    pthread_mutex_t call_mu;
    struct aws_conn *call_conn;
};

/* The kept connection if it is free (then give it back), else NULL: a
 * connection of the call's own. */
static struct aws_conn *conn_take(struct executor_batch *b)
{
    return pthread_mutex_trylock(&b->call_mu) == 0 ? b->call_conn : NULL;
}

static void conn_give(struct executor_batch *b, struct aws_conn *conn)
{
    if (conn)
        pthread_mutex_unlock(&b->call_mu);
}

/* ---- the job directory's batch.id ---- */

static int read_id(struct executor_batch *b, const char *job_id, int *attempt, char *id)
{
    char *buf = NULL;
    size_t len;
    int dfd, rc = CCF_ENOTFOUND;

    if ((dfd = openat(b->jobs_dfd, job_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return CCF_ENOTFOUND;
    if (executor__read_file(dfd, BATCH__ID_FILE, BATCH__ID_MAX + 32, &buf, &len) == 0 &&
        sscanf(buf, "%d %128s", attempt, id) == 2)
        rc = 0;
    free(buf);
    close(dfd);
    return rc;
}

static int write_id(struct executor_batch *b, const char *job_id, int attempt, const char *id)
{
    char buf[BATCH__ID_MAX + 32];
    int dfd, rc, len = snprintf(buf, sizeof(buf), "%d %s\n", attempt, id);

    if ((dfd = openat(b->jobs_dfd, job_id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return CCF_EIO;
    rc = executor__write_atomic(dfd, BATCH__ID_FILE, buf, (size_t)len, 0600);
    close(dfd);
    return rc;
}

/* ---- the jobs in flight ---- */

static ssize_t find(struct executor_batch *b, const char *job_id)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->jobs[i].job_id, job_id) == 0)
            return (ssize_t)i;
    return -1;
}

static void track(struct executor_batch *b, const char *job_id, const char *batch_id)
{
    ssize_t i;

    pthread_mutex_lock(&b->mu);
    if ((i = find(b, job_id)) < 0) {
        if (b->n == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 16;
            b->jobs = ccf_xrealloc(b->jobs, b->cap * sizeof(*b->jobs));
        }
        i = (ssize_t)b->n++;
    }
    memset(&b->jobs[i], 0, sizeof(b->jobs[i]));
    snprintf(b->jobs[i].job_id, sizeof(b->jobs[i].job_id), "%s", job_id);
    snprintf(b->jobs[i].batch_id, sizeof(b->jobs[i].batch_id), "%s", batch_id);
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->mu);
}

static void untrack_locked(struct executor_batch *b, size_t i)
{
    b->jobs[i] = b->jobs[--b->n];
}

/* The Batch job named job_id that has not ended (the newest), by
 * ListJobs on the queue: how a job is found without its directory here
 * (another process submitted it, or this one died between SubmitJob and
 * batch.id). CCF_ENOTFOUND when there is none. */
static int find_by_name(struct executor_batch *b, struct aws_conn *conn, const char *job_id,
                        char id[BATCH__ID_MAX + 1])
{
    json_t *req = json_pack("{s:s, s:[{s:s, s:[s]}]}", "jobQueue", b->cfg->batch_job_queue,
                            "filters", "name", "JOB_NAME", "values", job_id);
    json_t *resp = NULL, *list, *s;
    json_int_t newest = -1;
    char err[ERR_MAX];
    size_t i;
    int rc = batch__call(&b->ep, conn, "listjobs", req, &resp, err, sizeof(err));

    json_decref(req);
    if (rc < 0)
        return rc == CCF_EINVAL ? CCF_EIO : rc;
    list = json_object_get(resp, "jobSummaryList");
    id[0] = '\0';
    json_array_foreach(list, i, s)
    {
        const char *st = json_string_value(json_object_get(s, "status"));
        json_t *jid = json_object_get(s, "jobId"), *at = json_object_get(s, "createdAt");
        json_int_t created = json_is_integer(at) ? json_integer_value(at) : 0;
        if (!st || strcmp(st, "SUCCEEDED") == 0 || strcmp(st, "FAILED") == 0 ||
            !json_is_string(jid) || strlen(json_string_value(jid)) > BATCH__ID_MAX ||
            created < newest)
            continue;
        newest = created;
        snprintf(id, BATCH__ID_MAX + 1, "%s", json_string_value(jid));
    }
    json_decref(resp);
    return id[0] ? 0 : CCF_ENOTFOUND;
}

static bool batch_can_run(void *p, const struct executor_spec *spec, char *reason, size_t n);

/* ---- submit ---- */

/* The ARN of the latest ACTIVE revision of the definition whose
 * ccfProperties parameter is hash, into arn; CCF_ENOTFOUND if there is none. */
static int find_definition(struct executor_batch *b, struct aws_conn *conn, const char *name,
                           const char *hash, char *arn, size_t n, char *err, size_t en)
{
    json_t *req = json_pack("{s:s, s:s}", "jobDefinitionName", name, "status", "ACTIVE");
    json_t *resp = NULL, *defs, *d;
    json_int_t best = -1;
    size_t i;
    int rc = batch__call(&b->ep, conn, "describejobdefinitions", req, &resp, err, en);

    json_decref(req);
    if (rc < 0)
        return rc;
    defs = json_object_get(resp, "jobDefinitions");
    json_array_foreach(defs, i, d)
    {
        json_t *rev = json_object_get(d, "revision"), *a = json_object_get(d, "jobDefinitionArn");
        json_t *h = json_object_get(json_object_get(d, "parameters"), "ccfProperties");
        if (json_is_integer(rev) && json_integer_value(rev) > best && json_is_string(a)) {
            best = json_integer_value(rev);
            /* Only the latest counts: an older one that matches is stale. */
            if (json_is_string(h) && strcmp(json_string_value(h), hash) == 0)
                snprintf(arn, n, "%s", json_string_value(a));
            else
                arn[0] = '\0';
        }
    }
    json_decref(resp);
    return arn[0] ? 0 : CCF_ENOTFOUND;
}

static int ensure_definition(struct executor_batch *b, struct aws_conn *conn,
                             const struct executor_spec *spec, char *arn, size_t n, char *err,
                             size_t en)
{
    json_t *def = batch__job_definition(spec), *resp = NULL, *a;
    const char *name = json_string_value(json_object_get(def, "jobDefinitionName"));
    const char *hash =
        json_string_value(json_object_get(json_object_get(def, "parameters"), "ccfProperties"));
    int rc;

    arn[0] = '\0';
    rc = find_definition(b, conn, name, hash, arn, n, err, en);
    if (rc == CCF_ENOTFOUND &&
        (rc = batch__call(&b->ep, conn, "registerjobdefinition", def, &resp, err, en)) == 0) {
        a = json_object_get(resp, "jobDefinitionArn");
        rc = json_is_string(a) ? 0 : CCF_EIO;
        if (rc == 0)
            snprintf(arn, n, "%s", json_string_value(a));
        CCF_LOG_INFO("batch.definition_registered", CCF_KV_STR("name", name),
                     CCF_KV_STR("arn", arn));
    }
    json_decref(resp);
    json_decref(def);
    return rc;
}

/* Batch refused the job: it ends now with Batch's reason. */
static void refused(struct executor_batch *b, const char *job_id, const char *err)
{
    struct executor_event ev = {.state = EXECUTOR_EXITED, .at_us = ccf_now_us()};

    snprintf(ev.job_id, sizeof(ev.job_id), "%s", job_id);
    snprintf(ev.reason, sizeof(ev.reason), "cannot run: AWS Batch refused the job: %.200s", err);
    b->cfg->on_event(b->cfg->ctx, &ev);
}

static int submit_on(struct executor_batch *b, struct aws_conn *conn,
                     const struct executor_spec *spec)
{
    char arn[512], err[ERR_MAX] = "", id[BATCH__ID_MAX + 1];
    int attempt = spec->attempt > 0 ? spec->attempt : 1, done, rc;
    json_t *req = NULL, *resp = NULL, *jid;

    /* Submitted already (a redelivery, or a restart): never twice. */
    if (read_id(b, spec->job_id, &done, id) == 0 && done >= attempt) {
        track(b, spec->job_id, id);
        return 0;
    }
    if ((rc = find_by_name(b, conn, spec->job_id, id)) == 0) {
        if ((rc = write_id(b, spec->job_id, attempt, id)) == 0)
            track(b, spec->job_id, id);
        return rc;
    }
    if (rc != CCF_ENOTFOUND)
        return rc;
    if ((rc = ensure_definition(b, conn, spec, arn, sizeof(arn), err, sizeof(err))) == 0) {
        req = batch__submit_request(spec, b->cfg->batch_job_queue, arn);
        rc = batch__call(&b->ep, conn, "submitjob", req, &resp, err, sizeof(err));
    }
    if (rc == CCF_EINVAL) {
        refused(b, spec->job_id, err);
        rc = 0;
        goto out;
    }
    if (rc < 0)
        goto out; /* CCF_EUNAVAIL: the orchestrator asks again shortly */
    jid = json_object_get(resp, "jobId");
    if (!json_is_string(jid) || strlen(json_string_value(jid)) > BATCH__ID_MAX ||
        strspn(json_string_value(jid), "0123456789abcdefABCDEF-:") !=
            strlen(json_string_value(jid))) {
        rc = CCF_EIO;
        goto out;
    }
    if ((rc = write_id(b, spec->job_id, attempt, json_string_value(jid))) == 0)
        track(b, spec->job_id, json_string_value(jid));
    CCF_LOG_INFO("batch.submitted", CCF_KV_STR("job_id", spec->job_id),
                 CCF_KV_STR("batch_id", json_string_value(jid)), CCF_KV_STR("definition", arn));
out:
    json_decref(req);
    json_decref(resp);
    return rc;
}

static int batch_submit(void *p, const struct executor_spec *spec)
{
    struct executor_batch *b = p;
    struct aws_conn *conn = conn_take(b);
    int rc = submit_on(b, conn, spec);

    conn_give(b, conn);
    return rc;
}

/* The connector's definition, registered now if its latest revision
 * differs (on create/update, from the orchestrator): the first submit
 * then finds it. A failure is only logged by the caller; that submit
 * registers it then. */
static int batch_prepare(void *p, const struct executor_spec *spec)
{
    struct executor_batch *b = p;
    struct aws_conn *conn;
    char arn[512], err[ERR_MAX] = "";
    int rc;

    if (!batch_can_run(b, spec, err, sizeof(err)))
        return CCF_EINVAL;
    conn = conn_take(b);
    rc = ensure_definition(b, conn, spec, arn, sizeof(arn), err, sizeof(err));
    conn_give(b, conn);
    if (rc < 0)
        CCF_LOG_WARN("batch.prepare_failed", CCF_KV_STR("connector_id", spec->connector_id),
                     CCF_KV_STR("error", err));
    return rc;
}

/* ---- cancel, recover, logs, forget, capacity ---- */

static int terminate(struct executor_batch *b, struct aws_conn *conn, const char *batch_id)
{
    json_t *req = json_pack("{s:s, s:s}", "jobId", batch_id, "reason", "ccf: stopped on request");
    json_t *resp = NULL;
    char err[ERR_MAX];
    int rc = batch__call(&b->ep, conn, "terminatejob", req, &resp, err, sizeof(err));

    json_decref(req);
    json_decref(resp);
    return rc == CCF_EINVAL ? 0 : rc; /* ended already: nothing to stop */
}

static int batch_cancel(void *p, const char *job_id)
{
    struct executor_batch *b = p;
    struct aws_conn *conn;
    char id[BATCH__ID_MAX + 1];
    int attempt, rc = 0;
    ssize_t i;

    pthread_mutex_lock(&b->mu);
    if ((i = find(b, job_id)) >= 0) {
        b->jobs[i].cancelled = true;
        snprintf(id, sizeof(id), "%s", b->jobs[i].batch_id);
    }
    pthread_mutex_unlock(&b->mu);
    conn = conn_take(b);
    /* Not found: never submitted, or ended. */
    if (i >= 0 || read_id(b, job_id, &attempt, id) == 0 || find_by_name(b, conn, job_id, id) == 0)
        rc = terminate(b, conn, id);
    conn_give(b, conn);
    return rc;
}

static int batch_recover(void *p, const char *job_id, int attempt)
{
    struct executor_batch *b = p;
    struct aws_conn *conn;
    char id[BATCH__ID_MAX + 1];
    int done, rc;

    if (read_id(b, job_id, &done, id) == 0) {
        if (attempt > 0 && done < attempt)
            return 1; /* this attempt was never submitted */
    } else {
        conn = conn_take(b);
        rc = find_by_name(b, conn, job_id, id);
        conn_give(b, conn);
        if (rc < 0)
            return 1;
    }
    track(b, job_id, id); /* the poller reports what became of it */
    return 0;
}

static int batch_read_log(void *p, const char *job_id, int attempt, int64_t offset, char *buf,
                          size_t len, int64_t *size, int64_t *dropped)
{
    (void)p, (void)job_id, (void)attempt, (void)offset, (void)buf, (void)len, (void)size;
    (void)dropped;
    return CCF_ENOTFOUND; /* in CloudWatch Logs */
}

static int batch_forget(void *p, const char *job_id)
{
    struct executor_batch *b = p;
    ssize_t i;

    pthread_mutex_lock(&b->mu);
    if ((i = find(b, job_id)) >= 0)
        untrack_locked(b, (size_t)i);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* Batch queues what its compute environment cannot run yet: no budget here. */
static int batch_capacity(void *p, struct executor_capacity *out)
{
    (void)p;
    memset(out, 0, sizeof(*out));
    snprintf(out->pool, sizeof(out->pool), "batch");
    out->cpu = 1e6;
    out->memory_mib = INT64_C(1) << 40;
    return 0;
}

static bool batch_can_run(void *p, const struct executor_spec *spec, char *reason, size_t n)
{
    (void)p;
    if (spec->execution_role_arn && spec->job_role_arn)
        return true;
    snprintf(reason, n,
             "cannot run: executor batch needs the connector's execution_role_arn and "
             "job_role_arn");
    return false;
}

/* ---- the poller ---- */

/* One DescribeJobs over up to DESCRIBE_MAX jobs in flight (on the
 * poller's connection); reports what changed. Jobs Batch does not know
 * any more are lost. */
static void poll_once(struct executor_batch *b, struct aws_conn *conn)
{
    struct tracked snap[DESCRIBE_MAX];
    json_t *ids = json_array(), *req, *resp = NULL, *jobs, *d;
    char err[ERR_MAX];
    size_t n = 0, i;

    pthread_mutex_lock(&b->mu);
    for (i = 0; i < b->n && n < DESCRIBE_MAX; i++)
        snap[n++] = b->jobs[i];
    pthread_mutex_unlock(&b->mu);
    for (i = 0; i < n; i++)
        json_array_append_new(ids, json_string(snap[i].batch_id));
    req = json_pack("{s:o}", "jobs", ids);
    if (n == 0 || batch__call(&b->ep, conn, "describejobs", req, &resp, err, sizeof(err)) < 0) {
        json_decref(req);
        return;
    }
    jobs = json_object_get(resp, "jobs");
    for (i = 0; i < n; i++) {
        struct executor_event ev;
        bool seen = false, report;
        size_t k;
        json_array_foreach(jobs, k, d)
        {
            json_t *jid = json_object_get(d, "jobId");
            if (!json_is_string(jid) || strcmp(json_string_value(jid), snap[i].batch_id) != 0)
                continue;
            seen = true;
            report = batch__event(d, snap[i].job_id, snap[i].cancelled, &ev);
            if (!report || (ev.state == EXECUTOR_RUNNING && snap[i].running_reported))
                break;
            pthread_mutex_lock(&b->mu);
            ssize_t at = find(b, snap[i].job_id);
            if (at >= 0 && ev.state == EXECUTOR_RUNNING)
                b->jobs[at].running_reported = true;
            else if (at >= 0)
                untrack_locked(b, (size_t)at);
            pthread_mutex_unlock(&b->mu);
            b->cfg->on_event(b->cfg->ctx, &ev);
            break;
        }
        if (!seen) {
            memset(&ev, 0, sizeof(ev));
            ev.state = EXECUTOR_LOST;
            memcpy(ev.job_id, snap[i].job_id, sizeof(ev.job_id));
            snprintf(ev.reason, sizeof(ev.reason), "runner lost: AWS Batch no longer knows job %s",
                     snap[i].batch_id);
            batch_forget(b, snap[i].job_id);
            b->cfg->on_event(b->cfg->ctx, &ev);
        }
    }
    json_decref(req);
    json_decref(resp);
}

static void *poller(void *arg)
{
    struct executor_batch *b = arg;
    /* Kept open: a DescribeJobs every POLL_MS would otherwise pay a TLS
     * handshake each time. The other calls come from other threads. */
    struct aws_conn *conn = aws_conn_create();
    struct timespec until;

    pthread_mutex_lock(&b->mu);
    while (!b->stopping) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->cond, &b->mu, &until);
        if (b->stopping)
            break;
        pthread_mutex_unlock(&b->mu);
        poll_once(b, conn);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    aws_conn_destroy(conn);
    return NULL;
}

/* ---- open and close ---- */

static void batch_close(void *p)
{
    struct executor_batch *b = p;

    if (!b)
        return;
    if (b->thread_started) {
        pthread_mutex_lock(&b->mu);
        b->stopping = true;
        pthread_cond_signal(&b->cond);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->thread, NULL);
    }
    if (b->jobs_dfd >= 0)
        close(b->jobs_dfd);
    aws_conn_destroy(b->call_conn);
    pthread_mutex_destroy(&b->call_mu);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->mu);
    free(b->jobs);
    free(b);
}

static int batch_open(void **out, const struct executor__env *env)
{
    struct executor_batch *b;
    int rc;

    if (!env->cfg->batch_job_queue || !*env->cfg->batch_job_queue) {
        CCF_LOG_ERROR("batch.no_queue", CCF_KV_STR("hint", "set batch-job-queue"));
        return CCF_EINVAL;
    }
    b = ccf_xcalloc(1, sizeof(*b));
    b->cfg = env->cfg;
    b->jobs_dfd = -1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cond, NULL);
    pthread_mutex_init(&b->call_mu, NULL);
    b->call_conn = aws_conn_create();
    if ((rc = batch__endpoint_init(&b->ep, env->cfg->region)) < 0)
        goto fail;
    rc = CCF_EIO;
    if ((b->jobs_dfd = open(env->cfg->jobs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        goto fail;
    if (!env->cfg->batch_no_poll) {
        if (pthread_create(&b->thread, NULL, poller, b) != 0)
            goto fail;
        b->thread_started = true;
    }
    *out = b;
    return 0;
fail:
    batch_close(b);
    return rc;
}

const struct executor__backend executor__backend_batch = {
    .name = "batch",
    .container = true,
    .uses_local = false,
    .finds_by_name = true,
    .open = batch_open,
    .close = batch_close,
    .can_run = batch_can_run,
    .submit = batch_submit,
    .capacity = batch_capacity,
    .prepare = batch_prepare,
    .cancel = batch_cancel,
    .recover = batch_recover,
    .read_log = batch_read_log,
    .forget = batch_forget,
};
