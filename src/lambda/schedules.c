/* schedules.c: schedules, retry waits and the tick on EventBridge
 * Scheduler (schedules.h). Names are deterministic, so every write is an
 * idempotent put or delete of the one schedule a connector or job has:
 *   ccf-s-ACCOUNT-CONNECTOR_ID   a connector's schedule (34 chars)
 *   ccf-r-ACCOUNT-JOB_ID         a job's next attempt (35 chars)
 * in the stack's group (CCF_SCHEDULE_GROUP). The region is the
 * function's, so it is not in the name. */
#include "lambda/schedules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "lambda/ebsched.h"
#include "scheduler/scheduler.h"
#include "webhook/webhook.h"

#define SWEEP_BATCH  16
#define FIRE_TRIES   3
#define ERR_MAX      256
#define SCHEDULED_AT "<aws.scheduler.scheduled-time>" /* Scheduler's context attribute */

static void connector_name(const struct ccf_tenant *t, const char *cid,
                           char out[EBSCHED_NAME_MAX + 1])
{
    snprintf(out, EBSCHED_NAME_MAX + 1, "ccf-s-%s-%s", t->account_id, cid);
}

static void attempt_name(const struct ccf_tenant *t, const char *jid,
                         char out[EBSCHED_NAME_MAX + 1])
{
    snprintf(out, EBSCHED_NAME_MAX + 1, "ccf-r-%s-%s", t->account_id, jid);
}

/* The input a schedule invokes the function with (events.h). */
static char *fire_input(const struct ccf_tenant *t, const char *cid)
{
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "ccf_event", "schedule.fire", "region", t->region,
                  "account_id", t->account_id, "connector_id", cid, "scheduled_time", SCHEDULED_AT);
    char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    if (!out)
        abort(); /* valid strings: only memory can fail */
    json_decref(doc);
    return out;
}

static char *attempt_input(const struct store_job_ref *ref)
{
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ccf_event", "job.next_attempt", "region",
                            ref->tenant.region, "account_id", ref->tenant.account_id,
                            "connector_id", ref->connector_id, "job_id", ref->job_id);
    char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    if (!out)
        abort();
    json_decref(doc);
    return out;
}

/* Puts the mirror of a scheduled connector c. */
static int put_connector(struct lambda_app *app, const struct ccf_tenant *t,
                         const struct ccf_connector *c, const char *name)
{
    char err[ERR_MAX] = "";
    json_t *sch = json_loads(c->schedule, 0, NULL);
    json_t *expr = json_object_get(sch, "expression"), *tz = json_object_get(sch, "timezone");
    struct ebsched_spec spec = {0};
    int rc;

    if (!json_is_string(expr)) {
        json_decref(sch);
        return CCF_EIO; /* the API stored it: a schedule always has one */
    }
    /* The same expression and zone: ccf's schedule syntax is EventBridge's. */
    spec.expression = json_string_value(expr);
    spec.timezone = json_is_string(tz) ? json_string_value(tz) : "UTC";
    spec.input = fire_input(t, c->id);
    /* A rate counts from StartDate on Scheduler, from the anchor in ccf:
     * starting it at the next run makes both count from the same instant. */
    if (strncmp(spec.expression, "rate(", 5) == 0 && c->next_run_at > ccf_now_us() / 1000000)
        spec.start_date = c->next_run_at;
    rc = ebsched_put(app->sched, name, &spec, err, sizeof(err));
    free((char *)spec.input);
    json_decref(sch);
    return rc;
}

int lambda_schedule_sync(struct lambda_app *app, const struct ccf_tenant *t, const char *cid)
{
    struct ccf_connector c = {0};
    char name[EBSCHED_NAME_MAX + 1], err[ERR_MAX] = "";
    int rc;

    if (!app->sched)
        return 0;
    connector_name(t, cid, name);
    rc = store_get_connector(app->store, t, cid, &c);
    if (rc == CCF_ENOTFOUND || (rc == 0 && (!c.schedule || c.paused || c.next_run_at == 0)))
        rc = ebsched_delete(app->sched, name, err, sizeof(err));
    else if (rc == 0)
        rc = put_connector(app, t, &c, name);
    CCF_LOG_INFO("schedule.synced", CCF_KV_STR("account", t->account_id),
                 CCF_KV_STR("connector_id", cid), CCF_KV_STR("schedule", name),
                 CCF_KV_INT("result", rc));
    ccf_connector_clear(&c);
    return rc;
}

int lambda_retry_wait(struct lambda_app *app, const struct store_change *ch)
{
    struct ccf_job job = {0};
    struct store_job_ref ref = {.tenant = ch->tenant};
    struct ebsched_spec spec = {.timezone = "UTC", .once = true};
    char name[EBSCHED_NAME_MAX + 1], expr[40], err[ERR_MAX] = "";
    struct tm tm;
    time_t at;
    int rc;

    if (!app->sched || ch->old_status != CCF_JOB_RUNNING || ch->new_status != CCF_JOB_STARTED)
        return 0;
    rc = store_get_job(app->store, &ch->tenant, ch->connector_id, ch->job_id, &job);
    if (rc < 0 || job.status != CCF_JOB_STARTED || job.next_attempt_at <= ccf_now_us() + 1000000) {
        ccf_job_clear(&job);
        return rc == CCF_ENOTFOUND ? 1 : rc < 0 ? rc : 0; /* gone: nothing to wait for */
    }
    /* at() takes whole seconds: the first one not before the due time. */
    at = (time_t)((job.next_attempt_at + 999999) / 1000000);
    gmtime_r(&at, &tm);
    strftime(expr, sizeof(expr), "at(%Y-%m-%dT%H:%M:%S)", &tm);
    memcpy(ref.connector_id, ch->connector_id, sizeof(ref.connector_id));
    memcpy(ref.job_id, ch->job_id, sizeof(ref.job_id));
    spec.expression = expr;
    spec.input = attempt_input(&ref);
    attempt_name(&ch->tenant, ch->job_id, name);
    rc = ebsched_put(app->sched, name, &spec, err, sizeof(err));
    CCF_LOG_INFO("job.retry_scheduled", CCF_KV_STR("job_id", ch->job_id),
                 CCF_KV_STR("schedule", name), CCF_KV_STR("at", expr), CCF_KV_INT("result", rc));
    free((char *)spec.input);
    ccf_job_clear(&job);
    return rc < 0 ? rc : 1;
}

/* The connector's due run, handled by the scheduler's own fire path.
 * *fired gets what happened. */
static int fire_due(struct lambda_app *app, const struct ccf_connector *c,
                    const struct ccf_tenant *t, char jid[CCF_JOB_ID_LEN + 1], int *fired)
{
    struct store_due d = {.tenant = *t,
                          .next_run_at = c->next_run_at,
                          .schedule_anchor = c->schedule_anchor,
                          .schedule = c->schedule};

    memcpy(d.connector_id, c->id, sizeof(d.connector_id));
    /* Never "missed": EventBridge fired it, at most its retries late. */
    *fired = scheduler_fire_due(app->store, app->tzdb, &d, ccf_now_us(), false, jid);
    return *fired < 0 ? *fired : 0;
}

static const char *fired_name(int fired)
{
    switch (fired) {
    case SCHEDULER_STARTED:
        return "started";
    case SCHEDULER_SKIPPED:
        return "skipped";
    case SCHEDULER_DROPPED:
        return "dropped";
    default:
        return "none";
    }
}

/* A schedule fired for connector ref at `scheduled`. Due when the store's
 * next run is at most the slack after it; otherwise the schedule is stale
 * (an early, duplicate or outdated fire) and is put right. */
static int on_fire(struct lambda_app *app, const struct store_job_ref *ref, int64_t scheduled,
                   char **out)
{
    struct ccf_connector c = {0};
    char jid[CCF_JOB_ID_LEN + 1] = "";
    int64_t now = ccf_now_us() / 1000000, at = scheduled > now ? scheduled : now;
    int fired = SCHEDULER_NONE, rc = CCF_ECONFLICT;
    json_t *doc;
    bool resync;

    for (int i = 0; i < FIRE_TRIES && rc == CCF_ECONFLICT; i++) {
        ccf_connector_clear(&c);
        memset(&c, 0, sizeof(c));
        rc = store_get_connector(app->store, &ref->tenant, ref->connector_id, &c);
        if (rc < 0 || !c.schedule || c.paused || c.next_run_at == 0 ||
            c.next_run_at > at + LAMBDA_FIRE_SLACK_S) {
            fired = -1; /* not due */
            break;
        }
        rc = fire_due(app, &c, &ref->tenant, jid, &fired);
    }
    /* Not due, gone, or an at() that has run: the mirror follows the store
     * (an extra sync, when a value merely contains "at(", is harmless). */
    resync = fired < 0 || rc == CCF_ENOTFOUND || (c.schedule && strstr(c.schedule, "\"at("));
    ccf_connector_clear(&c);
    CCF_LOG_INFO("schedule.fire", CCF_KV_STR("connector_id", ref->connector_id),
                 CCF_KV_STR("result", fired < 0 ? "not_due" : fired_name(fired)),
                 CCF_KV_STR("job_id", jid), CCF_KV_INT("rc", rc));
    if (rc < 0 && rc != CCF_ENOTFOUND)
        return rc;
    if (resync)
        lambda_schedule_sync(app, &ref->tenant, ref->connector_id);
    doc = json_pack("{s:s}", "result", fired < 0 ? "not_due" : fired_name(fired));
    if (jid[0])
        json_object_set_new(doc, "job_id", json_string(jid));
    *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!*out)
        abort();
    return 0;
}

/* A retry's wait is over: the next attempt starts as any queued job. */
static int on_next_attempt(struct lambda_app *app, const struct store_job_ref *ref, char **out)
{
    struct store_change ch = {
        .tenant = ref->tenant, .old_status = -1, .new_status = CCF_JOB_STARTED};
    struct store_change wait;
    int rc;

    memcpy(ch.connector_id, ref->connector_id, sizeof(ch.connector_id));
    memcpy(ch.job_id, ref->job_id, sizeof(ch.job_id));
    /* Fired early (a clock apart): wait again, on a new one-time schedule. */
    wait = ch;
    wait.old_status = CCF_JOB_RUNNING;
    if ((rc = lambda_retry_wait(app, &wait)) != 0) {
        if (rc > 0)
            *out = ccf_xstrdup("{\"result\":\"waiting\"}");
        return rc < 0 ? rc : 0;
    }
    rc = orchestrator_handle_change(app->orch, &ch);
    if (rc < 0)
        return rc;
    *out = ccf_xstrdup("{}");
    return 0;
}

/* Runs overdue by more than the grace: their schedule did not fire (lost,
 * never created because Scheduler was down after the store's commit). */
static int sweep(struct lambda_app *app, int *fired_n)
{
    struct store_due due[SWEEP_BATCH];
    int64_t until = ccf_now_us() / 1000000 - LAMBDA_SWEEP_GRACE_S;
    int n = store_due_schedules(app->store, until, due, SWEEP_BATCH);

    for (int i = 0; i < n; i++) {
        int r = scheduler_fire_due(app->store, app->tzdb, &due[i], ccf_now_us(), false, NULL);
        CCF_LOG_WARN("schedule.swept", CCF_KV_STR("connector_id", due[i].connector_id),
                     CCF_KV_STR("result", r < 0 ? ccf_strerror(r) : fired_name(r)));
        if (r >= 0)
            (*fired_n)++;
        lambda_schedule_sync(app, &due[i].tenant, due[i].connector_id);
    }
    if (n > 0)
        store_due_clear(due, (size_t)n);
    return n < 0 ? n : 0;
}

/* The once-a-minute upkeep: the sweep, then the webhook deliverer sends
 * for tick_ms (its thread runs only while the function is not frozen). */
static int on_tick(struct lambda_app *app, char **out)
{
    struct timespec ts = {.tv_sec = app->tick_ms / 1000,
                          .tv_nsec = (long)(app->tick_ms % 1000) * 1000000};
    json_t *doc;
    int swept = 0, rc = sweep(app, &swept);

    if (app->hooks) {
        webhook_deliverer_changed(app->hooks); /* other instances may have added some */
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
    doc = json_pack("{s:i}", "swept", swept);
    *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!*out)
        abort();
    return rc;
}

int lambda_ccf_event(struct lambda_app *app, const struct lambda_ccf_event *ev, char **out,
                     char *err, size_t n)
{
    int rc;

    switch (ev->kind) {
    case LAMBDA_CCF_FIRE:
        rc = on_fire(app, &ev->ref, ev->scheduled_at, out);
        break;
    case LAMBDA_CCF_NEXT_ATTEMPT:
        rc = on_next_attempt(app, &ev->ref, out);
        break;
    default:
        rc = on_tick(app, out);
    }
    if (rc < 0)
        snprintf(err, n, "%s: %s", ev->kind == LAMBDA_CCF_TICK ? "tick" : ev->ref.connector_id,
                 ccf_strerror(rc));
    return rc;
}
