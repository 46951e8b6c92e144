/* ddb.c: the DynamoDB backend's handle (store_config's url is
 * dynamodb://PREFIX?region=REGION[&endpoint=URL]): open (the tables made
 * if missing, the token secret kept in the meta table), close, one signed
 * request, ping, writable, metrics, and the backend's table of operations.
 *
 * Requests are DynamoDB's JSON protocol (X-Amz-Target) through the shared
 * AWS request helper (src/aws/aws.h: SigV4, the session token, the bounded
 * answer, AWS's error type), as the environment's AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (a Lambda role's credentials
 * come so). Each thread keeps one connection (struct aws_conn), freed when
 * the thread ends or, for the thread that closes the store, at close. */
#include "store/dynamodb/ddb_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws.h"
#include "core/log.h"

#define BODY_MAX           (16u << 20) /* a Query answer is at most 1 MB: far more than that is wrong */
#define TIMEOUT_MS         30000L
#define CONNECT_TIMEOUT_MS 5000L
#define TARGET_PREFIX      "DynamoDB_20120810."
#define ACTIVE_WAIT_MS     60000 /* a table being created, at open */

static const uint64_t per_commit_bounds[] = {1, 2, 4, 8, 16, 32, 64};

void ddb__table(const struct store *s, const char *suffix, char out[DDB__NAME_MAX])
{
    snprintf(out, DDB__NAME_MAX, "%s%s", ((const struct store_ddb *)s)->prefix, suffix);
}

json_t *ddb__s_val(const char *v)
{
    return json_pack("{s:s}", "S", v);
}

json_t *ddb__n_val(int64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return json_pack("{s:s}", "N", buf);
}

const char *ddb__get_s(json_t *item, const char *name)
{
    return json_string_value(json_object_get(json_object_get(item, name), "S"));
}

int64_t ddb__get_n(json_t *item, const char *name, int *bad)
{
    const char *v = json_string_value(json_object_get(json_object_get(item, name), "N"));
    char *end;
    long long n;

    if (!v) {
        if (bad)
            *bad = 1;
        return 0;
    }
    n = strtoll(v, &end, 10);
    if (*end != '\0' && bad)
        *bad = 1;
    return (int64_t)n;
}

bool ddb__get_bool(json_t *item, const char *name)
{
    return json_is_true(json_object_get(json_object_get(item, name), "BOOL"));
}

/* ---- one connection per thread ---- */

static pthread_key_t conn_key;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;

static void conn_free(void *c)
{
    aws_conn_destroy(c);
}

static void conn_key_init(void)
{
    if (pthread_key_create(&conn_key, conn_free) != 0)
        abort(); /* only resources can fail here, as memory */
}

/* The calling thread's connection, made on its first call: libcurl keeps
 * it open between calls (a start is five calls). */
static struct aws_conn *thread_conn(void)
{
    struct aws_conn *c;

    pthread_once(&conn_once, conn_key_init);
    if (!(c = pthread_getspecific(conn_key))) {
        c = aws_conn_create();
        if (pthread_setspecific(conn_key, c) != 0)
            abort();
    }
    return c;
}

/* The calling thread's connection closed now (its destructor would run
 * only at the thread's end, which the main thread's is not). */
static void thread_conn_drop(void)
{
    struct aws_conn *c;

    pthread_once(&conn_once, conn_key_init);
    if ((c = pthread_getspecific(conn_key))) {
        pthread_setspecific(conn_key, NULL);
        aws_conn_destroy(c);
    }
}

/* ---- one request ---- */

/* The error an answer that is not a success stands for (rc: aws_call's),
 * by AWS's error type (aws.h strips "com.amazonaws...#"). */
static int map_error(int rc, const struct aws_answer *ans, const char *action, const char *op)
{
    if (strcmp(ans->type, "ConditionalCheckFailedException") == 0)
        return CCF_ECONFLICT;
    if (strcmp(ans->type, "ResourceNotFoundException") == 0)
        return CCF_ENOTFOUND;
    if (strcmp(ans->type, "ResourceInUseException") == 0)
        return CCF_EPRECOND; /* CreateTable of a table that is there: the caller's to judge */
    if (ans->status == 0) {
        CCF_LOG_ERROR("store.dynamodb_unreachable", CCF_KV_STR("op", op),
                      CCF_KV_STR("action", action), CCF_KV_STR("curl_error", ans->error),
                      CCF_KV_INT("body_over_limit", rc == CCF_EIO));
    } else {
        CCF_LOG_ERROR("store.dynamodb_error", CCF_KV_STR("op", op), CCF_KV_STR("action", action),
                      CCF_KV_INT("http_status", ans->status), CCF_KV_STR("type", ans->type),
                      CCF_KV_STR("message", ans->message));
    }
    /* Unreachable, 5xx, throttled: the helper says so. A refusal, an
     * answer too large, or a 2xx that is not DynamoDB's: not ours to retry. */
    return rc == CCF_EUNAVAIL ? CCF_EUNAVAIL : CCF_EIO;
}

static bool is_write(const char *action)
{
    return strcmp(action, "PutItem") == 0 || strcmp(action, "UpdateItem") == 0 ||
           strcmp(action, "DeleteItem") == 0 || strcmp(action, "BatchWriteItem") == 0;
}

int ddb__call(struct store *base, const char *action, json_t *req, json_t **resp, const char *op)
{
    struct store_ddb *s = ddb__s(base);
    char target[64];
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    struct aws_answer ans;
    int64_t t0 = ccf_mono_us();
    int rc;

    json_decref(req);
    if (resp)
        *resp = NULL;
    /* An audited request's first write puts its record first (audit.c). */
    if (text && is_write(action) && (rc = ddb__audit_before_write(base, op)) < 0) {
        free(text);
        return rc;
    }
    if (!text)
        return CCF_ENOMEM;
    snprintf(target, sizeof(target), TARGET_PREFIX "%s", action);
    rc = aws_call(&s->ep, thread_conn(),
                  &(struct aws_request){.target = target,
                                        .content_type = "application/x-amz-json-1.0",
                                        .body = text,
                                        .timeout_ms = TIMEOUT_MS,
                                        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
                                        .answer_max = BODY_MAX},
                  &ans);
    free(text);
    if (rc == 0 && ans.status == 200 && json_is_object(ans.json)) {
        /* A single-item write is this store's commit (durable once
         * answered): the commit histogram counts them, one write each. */
        if (is_write(action)) {
            ccf_histo_observe(&s->commit_us, (uint64_t)(ccf_mono_us() - t0));
            ccf_histo_observe(&s->per_commit, 1);
        }
        if (resp)
            *resp = json_incref(ans.json);
        aws_answer_clear(&ans);
        return 0;
    }
    rc = map_error(rc, &ans, action, op);
    aws_answer_clear(&ans);
    return rc;
}

/* ---- every page of a Query or Scan ---- */

int ddb__each_page(struct store *s, const char *call, json_t *req, ddb__page_fn visit, void *ctx,
                   const char *op)
{
    json_t *ans, *lek;
    int rc;

    do {
        /* req is the template: each page sends it again (ddb__call takes
         * the reference it is given, not ours). */
        if ((rc = ddb__call(s, call, json_incref(req), &ans, op)) < 0)
            break;
        rc = visit(ctx, ans, req);
        lek = json_object_get(ans, "LastEvaluatedKey");
        if (rc == 0 && lek)
            json_object_set(req, "ExclusiveStartKey", lek);
        else
            lek = NULL;
        json_decref(ans);
    } while (rc == 0 && lek);
    json_decref(req);
    return rc < 0 ? rc : 0;
}

struct each_item {
    ddb__item_fn visit;
    void *ctx;
};

static int visit_items(void *ctx, json_t *ans, json_t *req)
{
    struct each_item *e = ctx;
    json_t *it;
    size_t i;
    int rc;

    (void)req;
    json_array_foreach(json_object_get(ans, "Items"), i, it)
    {
        if ((rc = e->visit(e->ctx, it)) != 0)
            return rc;
    }
    return 0;
}

int ddb__each_item(struct store *s, const char *call, json_t *req, ddb__item_fn visit, void *ctx,
                   const char *op)
{
    return ddb__each_page(s, call, req, visit_items, &(struct each_item){visit, ctx}, op);
}

/* ---- tables ---- */

static json_t *attr_def(const char *name, const char *type)
{
    return json_pack("{s:s,s:s}", "AttributeName", name, "AttributeType", type);
}

static json_t *key_schema(const char *hash, const char *range)
{
    json_t *k = json_pack("[{s:s,s:s}]", "AttributeName", hash, "KeyType", "HASH");

    if (range)
        json_array_append_new(k,
                              json_pack("{s:s,s:s}", "AttributeName", range, "KeyType", "RANGE"));
    return k;
}

/* Waits until DescribeTable says ACTIVE (a table just created is CREATING). */
static int wait_active(struct store *s, const char *name)
{
    for (int waited = 0; waited < ACTIVE_WAIT_MS; waited += 50) {
        json_t *ans;
        const char *st;
        int rc = ddb__call(s, "DescribeTable", json_pack("{s:s}", "TableName", name), &ans, "open");

        if (rc < 0)
            return rc;
        st = json_string_value(json_object_get(json_object_get(ans, "Table"), "TableStatus"));
        rc = st && strcmp(st, "ACTIVE") == 0;
        json_decref(ans);
        if (rc)
            return 0;
        nanosleep(&(struct timespec){.tv_nsec = 50000000L}, NULL);
    }
    CCF_LOG_ERROR("store.open_failed", CCF_KV_STR("backend", "dynamodb"), CCF_KV_STR("table", name),
                  CCF_KV_STR("reason", "the table did not become ACTIVE in time"));
    return CCF_EUNAVAIL;
}

/* Creates table `suffix` unless DescribeTable finds it, then waits for it. */
static int ensure_table(struct store *s, const char *suffix, json_t *defs, json_t *keys,
                        json_t *extra)
{
    char name[DDB__NAME_MAX];
    json_t *req;
    int rc;

    ddb__table(s, suffix, name);
    /* A table that is there is only waited for: on AWS the template makes
     * them, and the function's role has no CreateTable (template.yaml). */
    if ((rc = wait_active(s, name)) != CCF_ENOTFOUND) {
        json_decref(defs);
        json_decref(keys);
        json_decref(extra);
        return rc;
    }
    req = json_pack("{s:s,s:o,s:o,s:s}", "TableName", name, "AttributeDefinitions", defs,
                    "KeySchema", keys, "BillingMode", "PAY_PER_REQUEST");
    if (extra) {
        json_object_update(req, extra);
        json_decref(extra);
    }
    rc = ddb__call(s, "CreateTable", req, NULL, "open");
    if (rc < 0 && rc != CCF_EPRECOND)
        return rc;
    return wait_active(s, name);
}

/* meta: one item per name (the token secret; in_use_index, in_use.c).
 * connectors: under the tenant ("REGION#ACCOUNT"), by id; the local index
 * by_created orders a tenant's by ck ("<created_at as 16 hex>:<id>", the page key). jobs:
 * under "REGION#ACCOUNT#CONNECTOR_ID", by job_id, its stream with both
 * images (docs/AWS.md "The job item"), the local index by_created as for
 * connectors (listed newest first). documents: under the jobs' hash key,
 * by doc_id. checkpoints: under the same key, by sk (checkpoints.c). */
/* A log table: every record under one pk, ordered by seq; the global
 * index by_tenant (tenant, seq) gives each tenant's records in order. The
 * change log and the audit log share this shape. */
static int ensure_log_table(struct store *s, const char *suffix)
{
    return ensure_table(
        s, suffix,
        json_pack("[o,o,o]", attr_def("pk", "S"), attr_def("seq", "N"), attr_def("tenant", "S")),
        key_schema("pk", "seq"),
        json_pack("{s:[{s:s,s:o,s:{s:s}}]}", "GlobalSecondaryIndexes", "IndexName", "by_tenant",
                  "KeySchema", key_schema("tenant", "seq"), "Projection", "ProjectionType", "ALL"));
}

static int ensure_tables(struct store *s)
{
    json_t *lsi;
    int rc;

    if ((rc = ensure_table(s, DDB__T_META, json_pack("[o]", attr_def("name", "S")),
                           key_schema("name", NULL), NULL)) < 0)
        return rc;
    lsi = json_pack("{s:[{s:s,s:o,s:{s:s}}]}", "LocalSecondaryIndexes", "IndexName", "by_created",
                    "KeySchema", key_schema("pk", "ck"), "Projection", "ProjectionType", "ALL");
    /* The AWS profile's ConnectorsStreamMapping: definitions registered on
     * create and update (executor_prepare). */
    json_object_set_new(
        lsi, "StreamSpecification",
        json_pack("{s:b,s:s}", "StreamEnabled", 1, "StreamViewType", "NEW_AND_OLD_IMAGES"));
    /* ---- the schedules' queue (schedules.c): the global index by_next_run ---- */
    json_object_set_new(lsi, "GlobalSecondaryIndexes",
                        json_pack("[{s:s,s:o,s:{s:s,s:[s,s]}}]", "IndexName", "by_next_run",
                                  "KeySchema", key_schema("sched", "next_run_at"), "Projection",
                                  "ProjectionType", "INCLUDE", "NonKeyAttributes", "schedule",
                                  "schedule_anchor"));
    /* ---- end of the schedules' queue ---- */
    /* the IN_USE ones, sparse (in_use.c): recovery's, added to an older table */
    json_array_append_new(json_object_get(lsi, "GlobalSecondaryIndexes"),
                          json_pack("{s:s,s:o,s:{s:s}}", "IndexName", DDB__IN_USE_INDEX,
                                    "KeySchema", key_schema("in_use", "active_job_id"),
                                    "Projection", "ProjectionType", "KEYS_ONLY"));
    if ((rc = ensure_table(s, DDB__T_CONNECTORS,
                           json_pack("[o,o,o,o,o,o,o]", attr_def("pk", "S"), attr_def("id", "S"),
                                     attr_def("ck", "S"), attr_def("sched", "S"),
                                     attr_def("next_run_at", "N"), attr_def("in_use", "S"),
                                     attr_def("active_job_id", "S")),
                           key_schema("pk", "id"), lsi)) < 0 ||
        (rc = ddb__ensure_in_use_index(s)) < 0)
        return rc;
    if ((rc = ensure_table(s, DDB__T_CHECKPOINTS,
                           json_pack("[o,o]", attr_def("pk", "S"), attr_def("sk", "S")),
                           key_schema("pk", "sk"), NULL)) < 0)
        return rc;
    if ((rc = ensure_table(s, DDB__T_DOCUMENTS,
                           json_pack("[o,o]", attr_def("pk", "S"), attr_def("doc_id", "S")),
                           key_schema("pk", "doc_id"), NULL)) < 0)
        return rc;
    /* ---- tokens (tokens.c): under "REGION#ACCOUNT#KIND#SCOPE", by tk ---- */
    if ((rc = ensure_table(s, DDB__T_TOKENS,
                           json_pack("[o,o]", attr_def("pk", "S"), attr_def("tk", "S")),
                           key_schema("pk", "tk"), NULL)) < 0)
        return rc;
    /* ---- end of tokens ---- */
    /* ---- webhooks (webhooks.c): under the tenant by slot; deliveries
     * under the webhook's id by seq ---- */
    if ((rc = ensure_table(s, DDB__T_WEBHOOKS,
                           json_pack("[o,o]", attr_def("pk", "S"), attr_def("sk", "S")),
                           key_schema("pk", "sk"), NULL)) < 0 ||
        (rc = ensure_table(s, DDB__T_DELIVERIES,
                           json_pack("[o,o]", attr_def("pk", "S"), attr_def("seq", "N")),
                           key_schema("pk", "seq"), NULL)) < 0)
        return rc;
    /* ---- end of webhooks ---- */
    /* jobs' global indexes unfinished and by_end: sparse, retention.c. */
    if ((rc = ensure_table(
             s, DDB__T_JOBS,
             json_pack("[o,o,o,o,o,o]", attr_def("pk", "S"), attr_def("job_id", "S"),
                       attr_def("ck", "S"), attr_def("unf", "S"), attr_def("ended", "S"),
                       attr_def("eck", "S")),
             key_schema("pk", "job_id"),
             json_pack(
                 "{s:{s:b,s:s},s:[{s:s,s:o,s:{s:s}}],s:[{s:s,s:o,s:{s:s}},{s:s,s:o,s:{s:s}}]}",
                 "StreamSpecification", "StreamEnabled", 1, "StreamViewType", "NEW_AND_OLD_IMAGES",
                 "LocalSecondaryIndexes", "IndexName", "by_created", "KeySchema",
                 key_schema("pk", "ck"), "Projection", "ProjectionType", "ALL",
                 "GlobalSecondaryIndexes", "IndexName", "unfinished", "KeySchema",
                 key_schema("unf", "ck"), "Projection", "ProjectionType", "ALL", "IndexName",
                 "by_end", "KeySchema", key_schema("ended", "eck"), "Projection", "ProjectionType",
                 "ALL"))) < 0)
        return rc;
    /* ---- changes (changes.c, events.c) and the audit log (audit.c) ---- */
    if ((rc = ensure_log_table(s, DDB__T_CHANGES)) < 0)
        return rc;
    return ensure_log_table(s, DDB__T_AUDIT);
}

/* ---- the token secret: made once, by whichever open writes it first ---- */

static int read_secret(struct store *s, bool *found)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    const char *hex;
    int rc;

    ddb__table(s, DDB__T_META, table);
    if ((rc = ddb__call(s, "GetItem",
                        json_pack("{s:s,s:{s:o},s:b}", "TableName", table, "Key", "name",
                                  ddb__s_val("secret"), "ConsistentRead", 1),
                        &ans, "open")) < 0)
        return rc;
    hex = ddb__get_s(json_object_get(ans, "Item"), "value");
    *found = hex != NULL;
    if (hex) {
        if (strlen(hex) != 64)
            rc = CCF_EIO;
        for (size_t i = 0; rc == 0 && i < 32; i++) {
            unsigned v;
            if (sscanf(hex + 2 * i, "%2x", &v) != 1)
                rc = CCF_EIO;
            s->secret[i] = (unsigned char)v;
        }
        if (rc < 0)
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("item", "secret"));
    }
    json_decref(ans);
    return rc;
}

static int ensure_secret(struct store *s)
{
    char table[DDB__NAME_MAX], hex[65];
    unsigned char raw[32];
    bool found;
    int rc;

    if ((rc = read_secret(s, &found)) < 0 || found)
        return rc;
    if ((rc = ccf_random_bytes(raw, sizeof(raw))) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    memset(raw, 0, sizeof(raw));
    ddb__table(s, DDB__T_META, table);
    rc = ddb__call(s, "PutItem",
                   json_pack("{s:s,s:{s:o,s:o},s:s,s:{s:s}}", "TableName", table, "Item", "name",
                             ddb__s_val("secret"), "value", ddb__s_val(hex), "ConditionExpression",
                             "attribute_not_exists(#n)", "ExpressionAttributeNames", "#n", "name"),
                   NULL, "open");
    memset(hex, 0, sizeof(hex));
    /* Lost the race to another opener: theirs is the secret. */
    if (rc < 0 && rc != CCF_ECONFLICT)
        return rc;
    if ((rc = read_secret(s, &found)) < 0)
        return rc;
    return found ? 0 : CCF_EIO;
}

/* ---- the url ---- */

static bool prefix_valid(const char *p, size_t n)
{
    if (n == 0 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* dynamodb://PREFIX?region=R[&endpoint=URL][&tables=existing|ensure]; no
 * percent-escapes. */
int ddb__parse_url(struct store_ddb *s, const char *url)
{
    const char *p, *q;
    size_t plen;

    if (strncmp(url, "dynamodb://", 11) != 0)
        return CCF_EINVAL;
    p = url + 11;
    q = strchr(p, '?');
    plen = q ? (size_t)(q - p) : strlen(p);
    if (!prefix_valid(p, plen))
        return CCF_EINVAL;
    memcpy(s->prefix, p, plen);
    s->prefix[plen] = '\0';
    while (q && *q) {
        const char *k = q + 1, *amp = strchr(k, '&');
        size_t len = amp ? (size_t)(amp - k) : strlen(k);

        if (len > 7 && strncmp(k, "region=", 7) == 0 && len - 7 < sizeof(s->ep.region)) {
            memcpy(s->ep.region, k + 7, len - 7);
            s->ep.region[len - 7] = '\0';
            if (strspn(s->ep.region, "abcdefghijklmnopqrstuvwxyz0123456789-") != len - 7)
                return CCF_EINVAL;
        } else if (len > 9 && strncmp(k, "endpoint=", 9) == 0 && !s->ep.url[0] &&
                   len - 9 < sizeof(s->ep.url)) {
            memcpy(s->ep.url, k + 9, len - 9);
            s->ep.url[len - 9] = '\0';
            if ((strncmp(s->ep.url, "http://", 7) != 0 && strncmp(s->ep.url, "https://", 8) != 0) ||
                strpbrk(s->ep.url, " \t\r\n?#"))
                return CCF_EINVAL;
        } else if (len == 15 && strncmp(k, "tables=existing", 15) == 0) {
            s->tables_existing = true;
        } else if (len == 13 && strncmp(k, "tables=ensure", 13) == 0) {
            s->tables_existing = false;
        } else {
            return CCF_EINVAL;
        }
        q = amp;
    }
    if (!s->ep.region[0])
        return CCF_EINVAL;
    if (!s->ep.url[0])
        snprintf(s->ep.url, sizeof(s->ep.url), "https://dynamodb.%s.amazonaws.com", s->ep.region);
    snprintf(s->ep.service, sizeof(s->ep.service), "dynamodb");
    return 0;
}

void ddb__url_clear(struct store_ddb *s)
{
    s->ep.url[0] = '\0';
}

static void ddb_close(struct store *base)
{
    struct store_ddb *s = ddb__s(base);

    thread_conn_drop();
    explicit_bzero(&s->ep, sizeof(s->ep)); /* the keys */
    store__base_destroy(&s->base);
    free(s);
}

static int ddb_open(struct store **out, const struct store_config *cfg)
{
    struct store_ddb *s;
    int rc;

    if (!cfg->url || strncmp(cfg->url, "dynamodb://", 11) != 0)
        return CCF_EINVAL;
    s = ccf_xcalloc(1, sizeof(*s));
    store__base_init(&s->base, &store__backend_dynamodb);
    ccf_histo_init(&s->commit_us, ccf_histo_latency_us, ccf_histo_latency_n, 1e-6);
    ccf_histo_init(&s->per_commit, per_commit_bounds,
                   sizeof(per_commit_bounds) / sizeof(per_commit_bounds[0]), 1);
    if (cfg->checkpoint_history < 0 || cfg->checkpoint_history > STORE_CP_HISTORY_MAX) {
        rc = CCF_EINVAL;
        goto fail;
    }
    s->cp_history =
        cfg->checkpoint_history > 0 ? cfg->checkpoint_history : STORE_CP_HISTORY_DEFAULT;
    if ((rc = ddb__parse_url(s, cfg->url)) < 0) {
        CCF_LOG_ERROR("store.bad_config", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("reason", "expected dynamodb://PREFIX?region=R[&endpoint=URL]"
                                           "[&tables=existing|ensure]"));
        goto fail;
    }
    if ((rc = aws_credentials_from_env(&s->ep)) < 0) {
        CCF_LOG_ERROR("store.bad_config", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("reason", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
        goto fail;
    }
    if ((!s->tables_existing && (rc = ensure_tables(&s->base)) < 0) ||
        (rc = ensure_secret(&s->base)) < 0 ||
        (rc = ddb__recover(&s->base, !s->tables_existing)) < 0)
        goto fail;
    CCF_LOG_WARN("store.experimental", CCF_KV_STR("backend", "dynamodb"));
    *out = &s->base;
    return 0;
fail:
    ddb_close(&s->base);
    return rc;
}

static int ddb_ping(struct store *s)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, DDB__T_META, table);
    return ddb__call(s, "DescribeTable", json_pack("{s:s}", "TableName", table), NULL, "ping");
}

static int ddb_writable(struct store *s, const char **why)
{
    if (ddb_ping(s) < 0) {
        *why = "DynamoDB does not answer";
        return CCF_EUNAVAIL;
    }
    return 0;
}

static void ddb_get_metrics(struct store *s, struct store_metrics *out)
{
    out->commit_seconds = &ddb__s(s)->commit_us;
    out->writes_per_commit = &ddb__s(s)->per_commit;
}

/* NULL: not there yet (docs/DECISIONS.md lists them). */
const struct store__backend store__backend_dynamodb = {
    .name = "dynamodb",
    .open = ddb_open,
    .close = ddb_close,
    .ping = ddb_ping,
    .writable = ddb_writable,
    .get_metrics = ddb_get_metrics,
    .create_connector = store_ddb__create_connector,
    .get_connector = store_ddb__get_connector,
    .list_connectors = store_ddb__list_connectors,
    .update_connector = store_ddb__update_connector,
    .delete_connector = store_ddb__delete_connector,
    .start_job = store_ddb__start_job,
    .get_job = store_ddb__get_job,
    .list_jobs = store_ddb__list_jobs,
    .transition_job = store_ddb__transition_job,
    .set_job_status_reason = store_ddb__set_job_status_reason,
    .set_paused = store_ddb__set_paused,
    .schedule_head = store_ddb__schedule_head,
    .due_schedules = store_ddb__due_schedules,
    .fire_schedule = store_ddb__fire_schedule,
    .audited_write = store_ddb__audited_write,
    .put_documents = store_ddb__put_documents,
    .delete_documents = store_ddb__delete_documents,
    .list_documents = store_ddb__list_documents,
    .put_documents_by = store_ddb__put_documents_by,
    .delete_documents_by = store_ddb__delete_documents_by,
    .list_documents_not_seen = store_ddb__list_documents_not_seen,
    .put_checkpoint_if = store_ddb__put_checkpoint_if,
    .get_checkpoint_version = store_ddb__get_checkpoint_version,
    .list_checkpoint_versions = store_ddb__list_checkpoint_versions,
    .delete_checkpoint = store_ddb__delete_checkpoint,
    /* the change log, events, retention (changes.c, events.c, retention.c) */
    .read_changes = store_ddb__read_changes,
    .read_connector_changes = store_ddb__read_connector_changes,
    .cursor_get = store_ddb__cursor_get,
    .cursor_set = store_ddb__cursor_set,
    .prune_changes = store_ddb__prune_changes,
    .read_events = store_ddb__read_events,
    .unfinished_jobs = store_ddb__unfinished_jobs,
    .count_unfinished_jobs = store_ddb__count_unfinished_jobs,
    .purge_jobs = store_ddb__purge_jobs,
    /* tokens and webhooks (tokens.c, webhooks.c) */
    .create_connector_token = store_ddb__create_connector_token,
    .start_job_token = store_ddb__start_job_token,
    .purge_tokens = store_ddb__purge_tokens,
    .create_webhook = store_ddb__create_webhook,
    .get_webhook = store_ddb__get_webhook,
    .list_webhooks = store_ddb__list_webhooks,
    .delete_webhook = store_ddb__delete_webhook,
    .all_webhooks = store_ddb__all_webhooks,
    .webhook_head = store_ddb__webhook_head,
    .webhook_record = store_ddb__webhook_record,
    .list_deliveries = store_ddb__list_deliveries,
    /* the audit log (audit.c) */
    .audit_append = store_ddb__audit_append,
    .read_audit = store_ddb__read_audit,
    .prune_audit = store_ddb__prune_audit,
};
