/* main.c: the AWS profile's Lambda function, `bootstrap` (a custom
 * runtime: provided.al2023). Configured by environment variables only
 * (SCALE.md, "The AWS profile"); opens the store, the API handler and the
 * orchestrator once, then runs the Runtime API loop: each invocation is
 * dispatched by its shape (dispatch.h) and answered, or reported to the
 * error endpoint, and the loop goes on. What cannot start is reported to
 * the init error endpoint, and the process exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/log.h"
#include "core/schedule.h"
#include "executor/executor.h"
#include "lambda/dispatch.h"
#include "lambda/ebsched.h"
#include "lambda/runtime.h"
#include "orchestrator/orchestrator.h"
#include "store/store.h"
#include "webhook/webhook.h"

#define ERR_MAX         512
#define TICK_MS_DEFAULT 20000 /* of each minute's tick, for the webhook deliverer */

struct boot {
    struct lambda_runtime *rt;
    struct executor *exec;
    char jobs_dir[512];
    struct store *store;
    struct api *api;
    struct orchestrator *orch;
    struct ccf_tzdb *tzdb;
    struct ebsched *sched;
    struct webhook_deliverer *hooks;
    struct lambda_app app;
};

static bool env_true(const char *name)
{
    const char *v = getenv(name);

    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0);
}

/* api_config's webhook_ping: the deliverer's, behind a void context. */
static int ping_webhook(void *ctx, const struct ccf_tenant *t, const char *id)
{
    return webhook_deliverer_ping(ctx, t, id);
}

/* The webhook deliverer (unless CCF_WEBHOOKS=off): ccfd's thread, which
 * runs while the function is not frozen: during each invocation, and for
 * CCF_WEBHOOK_DRAIN_MS of each minute's tick (docs/AWS.md). */
static int open_webhooks(struct boot *b, char *err, size_t n)
{
    const char *off = getenv("CCF_WEBHOOKS"), *drain = getenv("CCF_WEBHOOK_DRAIN_MS");
    struct webhook_config wc = {.store = b->store,
                                .allow_private = env_true("CCF_WEBHOOK_ALLOW_PRIVATE"),
                                .retry_for_s = 86400,
                                .retry_base_ms = 1000,
                                .timeout_s = 10,
                                .event_text = api_event_text};
    char *end;
    long ms = TICK_MS_DEFAULT;
    int rc;

    if (drain && *drain) {
        ms = strtol(drain, &end, 10);
        if (*end || ms < 0 || ms > 600000) {
            snprintf(err, n, "CCF_WEBHOOK_DRAIN_MS must be 0..600000");
            return CCF_EINVAL;
        }
    }
    b->app.tick_ms = (int)ms;
    if (off && strcmp(off, "off") == 0)
        return 0;
    if ((rc = webhook_deliverer_create(&b->hooks, &wc)) < 0 ||
        (rc = webhook_deliverer_start(b->hooks)) < 0)
        snprintf(err, n, "the webhook deliverer cannot start: %s", ccf_strerror(rc));
    return rc;
}

/* CCF_STORE: "sqlite:PATH" (a SQLite file in the function's /tmp lasts
 * only as long as its instance: for tests), or "dynamodb://PREFIX?..."
 * with CCF_STORE_EXPERIMENTAL=true while the DynamoDB store is not whole
 * (as ccfd's --store-experimental). */
static int open_store(struct boot *b, char *err, size_t n)
{
    const char *spec = getenv("CCF_STORE");
    struct store_config sc = {0};
    int rc;

    if (spec && strncmp(spec, "dynamodb://", 11) == 0) {
        if (!env_true("CCF_STORE_EXPERIMENTAL")) {
            snprintf(err, n,
                     "CCF_STORE=dynamodb://... needs CCF_STORE_EXPERIMENTAL=true: the "
                     "DynamoDB store is experimental (docs/AWS.md)");
            return CCF_EINVAL;
        }
        sc.url = spec;
    } else if (!spec || strncmp(spec, "sqlite:", 7) != 0 || !spec[7]) {
        snprintf(err, n, "CCF_STORE must be sqlite:PATH or dynamodb://PREFIX?region=R");
        return CCF_EINVAL;
    } else {
        sc.path = spec + 7;
        if (strncmp(sc.path, "//", 2) == 0)
            sc.path += 2; /* sqlite:///abs/path */
    }
    if ((rc = store_open(&b->store, &sc)) < 0)
        snprintf(err, n, "the store %s cannot be opened: %s", sc.url ? "dynamodb://" : sc.path,
                 ccf_strerror(rc));
    return rc;
}

/* CCF_EXECUTOR: batch (CCF_BATCH_JOB_QUEUE), or none. Without one, a
 * stream record of a new job is returned as a batch item failure (Lambda
 * retries it) and every outcome still ends its job. Batch's outcomes come
 * from EventBridge: no poller. Its scratch directory is under TMPDIR
 * (Lambda's /tmp); nothing there must outlive an invocation. */
static int open_executor(struct boot *b, char *err, size_t n)
{
    const char *e = getenv("CCF_EXECUTOR"), *tmp = getenv("TMPDIR");
    struct executor_config ec = {0};
    int rc;

    if (!e || !*e || strcmp(e, "none") == 0)
        return 0;
    if (strcmp(e, "batch") != 0) {
        snprintf(err, n, "CCF_EXECUTOR=%.32s: the bootstrap runs jobs on batch only (or none)", e);
        return CCF_EINVAL;
    }
    snprintf(b->jobs_dir, sizeof(b->jobs_dir), "%s/ccf-jobs", tmp && *tmp ? tmp : "/tmp");
    ec.backends = "batch";
    ec.jobs_dir = b->jobs_dir;
    ec.batch_job_queue = getenv("CCF_BATCH_JOB_QUEUE");
    ec.region = b->app.region;
    ec.batch_no_poll = true;
    ec.on_event = orchestrator_on_event;
    ec.ctx = b->orch;
    if ((rc = executor_open(&b->exec, &ec)) < 0)
        snprintf(err, n,
                 "the batch executor cannot start (CCF_BATCH_JOB_QUEUE, the AWS_ "
                 "credentials and region are needed): %s",
                 ccf_strerror(rc));
    return rc;
}

static int start(struct boot *b, char *err, size_t n)
{
    const char *region = getenv("AWS_REGION"), *endpoint = getenv("CCF_API_ENDPOINT");
    struct ccf_tenant probe;
    struct api_config ac = {0};
    struct orchestrator_config oc = {0};
    int rc;

    if (!region || ccf_tenant_init(&probe, region, "000000000000") < 0) {
        snprintf(err, n, "AWS_REGION is missing or not a region name");
        return CCF_EINVAL;
    }
    memcpy(b->app.region, probe.region, sizeof(b->app.region));
    if ((rc = open_store(b, err, n)) < 0)
        return rc;
    if ((rc = ccf_tzdb_open(&b->tzdb, NULL)) < 0) {
        snprintf(err, n, "the time zone database cannot be read: %s", ccf_strerror(rc));
        return rc;
    }
    if ((rc = ebsched_open(&b->sched, b->app.region, err, n)) < 0 ||
        (rc = open_webhooks(b, err, n)) < 0)
        return rc;
    ac.store = b->store;
    ac.tzdb = b->tzdb;
    ac.webhook_allow_private = env_true("CCF_WEBHOOK_ALLOW_PRIVATE");
    if (b->hooks) {
        ac.webhooks_changed = webhook_deliverer_changed;
        ac.webhook_ping = ping_webhook;
        ac.webhook_ctx = b->hooks;
    }
    if ((rc = api_create(&b->api, &ac)) < 0) {
        snprintf(err, n, "the API handler cannot start: %s", ccf_strerror(rc));
        return rc;
    }
    oc.store = b->store;
    oc.jobs_dir = b->jobs_dir;                    /* filled by open_executor, before any job */
    oc.job_path = "/usr/local/bin:/usr/bin:/bin"; /* the host's: batch drops it for the image's */
    oc.api_endpoint = endpoint && *endpoint ? endpoint : "";
    oc.retention_s = 7 * 86400;
    if ((rc = orchestrator_create(&b->orch, &oc)) < 0) {
        snprintf(err, n, "the orchestrator cannot start: %s", ccf_strerror(rc));
        return rc;
    }
    if ((rc = open_executor(b, err, n)) < 0)
        return rc;
    orchestrator_attach(b->orch, b->exec);
    b->app.api = b->api;
    b->app.orch = b->orch;
    b->app.store = b->store;
    b->app.tzdb = b->tzdb;
    b->app.sched = b->sched;
    b->app.hooks = b->hooks;
    return 0;
}

/* One invocation; CCF_EIO once the Runtime API is gone. */
static int serve_one(struct boot *b)
{
    char *event = NULL, *out = NULL, id[128] = "", err[ERR_MAX] = "";
    const char *type = "InternalError";
    size_t len = 0;
    int rc = lambda_runtime_next(b->rt, &event, &len, id);

    if (rc == CCF_ETOOLARGE) {
        lambda_runtime_error(b->rt, id, "EventTooLarge", "the event is over the function's limit");
        return 0;
    }
    if (rc < 0) {
        /* Lambda's Runtime API is gone: nothing left to serve. */
        CCF_LOG_ERROR("lambda.runtime_gone", CCF_KV_STR("error", ccf_strerror(rc)));
        return rc;
    }
    if (lambda_dispatch(&b->app, event, len, id, &out, &type, err, sizeof(err)) < 0) {
        CCF_LOG_WARN("lambda.event_failed", CCF_KV_STR("request_id", id), CCF_KV_STR("type", type),
                     CCF_KV_STR("error", err));
        lambda_runtime_error(b->rt, id, type, err);
    } else if (lambda_runtime_respond(b->rt, id, out, strlen(out)) < 0) {
        CCF_LOG_ERROR("lambda.respond_failed", CCF_KV_STR("request_id", id));
    }
    free(out);
    free(event);
    return 0;
}

static void stop(struct boot *b)
{
    executor_close(b->exec);
    orchestrator_destroy(b->orch);
    api_destroy(b->api);
    webhook_deliverer_destroy(b->hooks);
    ebsched_close(b->sched);
    store_close(b->store);
    if (b->tzdb)
        ccf_tzdb_close(b->tzdb);
    lambda_runtime_close(b->rt);
}

int main(void)
{
    struct boot b = {0};
    char err[ERR_MAX] = "";
    enum ccf_log_level level = CCF_LOG_INFO;
    const char *lv = getenv("CCF_LOG_LEVEL");

    if (lv && ccf_log_level_parse(lv, &level) < 0)
        level = CCF_LOG_INFO;
    ccf_log_setup(level, CCF_LOG_JSON);
    if (lambda_runtime_open(&b.rt, getenv("AWS_LAMBDA_RUNTIME_API")) < 0) {
        fprintf(stderr, "bootstrap: AWS_LAMBDA_RUNTIME_API is not set: run under Lambda\n");
        return 1;
    }
    if (start(&b, err, sizeof(err)) < 0) {
        CCF_LOG_ERROR("lambda.init_failed", CCF_KV_STR("error", err));
        lambda_runtime_error(b.rt, NULL, "InitError", err);
        stop(&b);
        return 1;
    }
    while (serve_one(&b) == 0)
        ;
    stop(&b);
    return 1;
}
