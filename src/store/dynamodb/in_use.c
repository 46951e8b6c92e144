/* in_use.c: the DynamoDB backend's recovery at open, by the connectors'
 * sparse global index in_use, and that index on tables made before it.
 *
 *   in_use: hash `in_use` (DDB__IN_USE_KEY, present only while the
 *           connector is IN_USE: set by the reservation, removed by the
 *           release, connectors.c), range `active_job_id`; KEYS_ONLY.
 *
 * A cold start (every Lambda one opens the store) reads the handful of
 * IN_USE connectors, not every connector of every tenant. The index reads
 * eventually consistent: an entry may lag its item by a moment, so it is
 * only a candidate; what is written from it is conditioned on the item
 * (the release), or read again strongly first (a start finished).
 *
 * A table made before the index (docs/DECISIONS.md "The connectors' index
 * in_use"): tables=ensure adds the index (UpdateTable), and the meta item
 * in_use_index says once every IN_USE connector is in it; until then the
 * open recovers by one Scan that also puts each in the index.
 * tables=existing trusts the stack: a missing index fails the open. */
#include "store/dynamodb/ddb_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define MARKER         "in_use_index" /* the meta item's name */
#define INDEX_WAIT_MS  60000          /* an index being built, at open */
#define INDEX_POLL_MAX 1000           /* ms between two DescribeTable */

/* The tenant, connector id and job id an IN_USE connector's item, or its
 * index entry, names (pk "REGION#ACCOUNT", id, active_job_id). */
static int item_names(json_t *it, struct ccf_tenant *t, const char **cid, const char **jid)
{
    const char *pk = ddb__get_s(it, "pk");
    const char *hash = pk ? strchr(pk, '#') : NULL;
    char region[CCF_REGION_MAX + 1];

    *cid = ddb__get_s(it, "id");
    *jid = ddb__get_s(it, "active_job_id");
    if (!hash || (size_t)(hash - pk) > CCF_REGION_MAX || !*cid || !ccf_connector_id_valid(*cid) ||
        !*jid || !ccf_job_id_valid(*jid))
        return CCF_EIO;
    memcpy(region, pk, (size_t)(hash - pk));
    region[hash - pk] = '\0';
    return ccf_tenant_init(t, region, hash + 1) < 0 ? CCF_EIO : 0;
}

/* The job a reserved connector item names, as its start would write it. */
static int pending_job(json_t *it, struct ccf_tenant *t, struct ccf_job *j)
{
    const char *cid, *jid, *env = ddb__get_s(it, "pending_env");
    int bad = 0;

    memset(j, 0, sizeof(*j));
    if (item_names(it, t, &cid, &jid) < 0)
        return CCF_EIO;
    /* environment borrowed from it */
    store__job_init(j, cid, (enum ccf_job_trigger)ddb__get_n(it, "pending_trigger", &bad),
                    env && *env ? env : NULL);
    memcpy(j->id, jid, sizeof(j->id));
    j->created_at = j->updated_at = ddb__get_n(it, "pending_created_at", &bad);
    return bad ? CCF_EIO : 0;
}

static void bad_item(void)
{
    CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                  CCF_KV_STR("reason", "an IN_USE connector without its job's attributes"));
}

/* A start that reserved the connector and died before writing its job:
 * the job written as the start would have, from the item's pending_*
 * attributes. `it` is the whole item (a Scan's, strongly read), or an
 * index entry: then the item is read again, and nothing is written unless
 * it still names job jid (a lagging entry of a connector released, and
 * perhaps deleted with its jobs, meanwhile). */
static int finish_start(struct store *s, json_t *it, bool whole, const char *jid)
{
    char table[DDB__NAME_MAX];
    struct ccf_tenant t;
    struct ccf_job want;
    json_t *ans = NULL;
    int rc;

    if (!whole) {
        ddb__table(s, DDB__T_CONNECTORS, table);
        if ((rc = ddb__call(s, "GetItem",
                            json_pack("{s:s,s:{s:O,s:O},s:b}", "TableName", table, "Key", "pk",
                                      json_object_get(it, "pk"), "id", json_object_get(it, "id"),
                                      "ConsistentRead", 1),
                            &ans, "recover")) < 0)
            return rc;
        it = json_object_get(ans, "Item");
        if (!it || ddb__get_n(it, "status", NULL) != CCF_CONNECTOR_IN_USE ||
            !ddb__get_s(it, "active_job_id") || strcmp(ddb__get_s(it, "active_job_id"), jid)) {
            json_decref(ans);
            return 0;
        }
    }
    if (pending_job(it, &t, &want) < 0) {
        bad_item();
        rc = 0; /* left as it is: one bad item does not stop ccfd */
    } else {
        rc = ddb__put_new_job(s, &t, &want, "recover");
        CCF_LOG_WARN("store.recovered", CCF_KV_STR("backend", "dynamodb"),
                     CCF_KV_STR("job_id", want.id), CCF_KV_STR("action", "start finished"));
        rc = rc == CCF_ECONFLICT ? 0 : rc;
    }
    json_decref(ans);
    return rc;
}

/* One IN_USE connector (whole: its item, else its index entry): finish its
 * half-done start, or release it from an ended job. */
static int recover_one(struct store *s, json_t *it, bool whole)
{
    struct ccf_tenant t;
    struct ccf_job have;
    const char *cid, *jid;
    int rc;

    if (item_names(it, &t, &cid, &jid) < 0) {
        bad_item();
        return 0;
    }
    rc = ddb__load_job(s, &t, cid, jid, &have, "recover");
    if (rc == CCF_ENOTFOUND)
        return finish_start(s, it, whole, jid);
    if (rc < 0)
        return rc;
    /* The release is conditioned on the item naming jid: a lagging entry
     * changes nothing. */
    if (ccf_job_status_terminal(have.status)) {
        rc = ddb__release_connector(s, &t, cid, jid, "recover");
        CCF_LOG_WARN("store.recovered", CCF_KV_STR("backend", "dynamodb"),
                     CCF_KV_STR("job_id", jid), CCF_KV_STR("action", "connector released"));
    }
    ccf_job_clear(&have);
    return rc;
}

/* A connector item IN_USE from before the index: put in it (1), unless
 * released meanwhile (the condition: 0). */
static int put_in_index(struct store *s, const char *table, json_t *it)
{
    int rc = ddb__call(s, "UpdateItem",
                       json_pack("{s:s,s:{s:O,s:O},s:s,s:s,s:{s:s},s:{s:o,s:o,s:O}}", "TableName",
                                 table, "Key", "pk", json_object_get(it, "pk"), "id",
                                 json_object_get(it, "id"), "UpdateExpression", "SET in_use = :iu",
                                 "ConditionExpression", "#st = :in_use AND active_job_id = :j",
                                 "ExpressionAttributeNames", "#st", "status",
                                 "ExpressionAttributeValues", ":iu", ddb__s_val(DDB__IN_USE_KEY),
                                 ":in_use", ddb__n_val(CCF_CONNECTOR_IN_USE), ":j",
                                 json_object_get(it, "active_job_id")),
                       NULL, "recover");

    return rc == CCF_ECONFLICT ? 0 : rc < 0 ? rc : 1;
}

struct recover {
    struct store *s;
    const char *table;
    int64_t *indexed;
    bool item_failed; /* the error is an item's, not the Query's */
};

static int recover_item(void *ctx, json_t *it)
{
    struct recover *r = ctx;
    int rc = r->indexed && ddb__get_s(it, "active_job_id") && !ddb__get_s(it, "in_use")
                 ? put_in_index(r->s, r->table, it)
                 : 0;

    if (rc >= 0 && r->indexed)
        *r->indexed += rc;
    if (rc >= 0)
        rc = recover_one(r->s, it, r->indexed != NULL);
    r->item_failed = rc < 0;
    return rc < 0 ? rc : 0;
}

/* Recovery over every page of req (a Scan of every connector when
 * *indexed is not NULL: the index not yet filled, each IN_USE one put in
 * it first and counted; else a Query of the index), taken. */
static int recover_pages(struct store *s, const char *table, json_t *req, int64_t *indexed)
{
    struct recover r = {.s = s, .table = table, .indexed = indexed};
    int rc;

    /* Each action by name: test_aws_deploy.py reads the calls here. */
    rc = indexed ? ddb__each_item(s, "Scan", req, recover_item, &r, "recover")
                 : ddb__each_item(s, "Query", req, recover_item, &r, "recover");
    if (rc == CCF_EIO && !indexed && !r.item_failed) /* AWS's message (logged) says which */
        CCF_LOG_ERROR("store.open_failed", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", table), CCF_KV_STR("index", DDB__IN_USE_INDEX),
                      CCF_KV_STR("reason", "the Query of the connectors' index in_use "
                                           "failed: a table made before it has none "
                                           "(see docs/AWS.md)"));
    return rc;
}

/* Recovery by one Scan (strongly consistent) of every connector. */
static int recover_scan(struct store *s, int64_t *indexed)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, DDB__T_CONNECTORS, table);
    return recover_pages(s, table,
                         json_pack("{s:s,s:s,s:{s:s},s:{s:o},s:b}", "TableName", table,
                                   "FilterExpression", "#st = :in_use", "ExpressionAttributeNames",
                                   "#st", "status", "ExpressionAttributeValues", ":in_use",
                                   ddb__n_val(CCF_CONNECTOR_IN_USE), "ConsistentRead", 1),
                         indexed);
}

/* Recovery by the index: only the IN_USE connectors are read. */
static int recover_query(struct store *s)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, DDB__T_CONNECTORS, table);
    return recover_pages(s, table,
                         json_pack("{s:s,s:s,s:s,s:{s:o}}", "TableName", table, "IndexName",
                                   DDB__IN_USE_INDEX, "KeyConditionExpression", "in_use = :iu",
                                   "ExpressionAttributeValues", ":iu", ddb__s_val(DDB__IN_USE_KEY)),
                         NULL);
}

/* Whether the meta item says every IN_USE connector is in the index. */
static int index_filled(struct store *s, bool *filled)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    int rc;

    ddb__table(s, DDB__T_META, table);
    if ((rc = ddb__call(s, "GetItem",
                        json_pack("{s:s,s:{s:{s:s}},s:b}", "TableName", table, "Key", "name", "S",
                                  MARKER, "ConsistentRead", 1),
                        &ans, "open")) < 0)
        return rc;
    *filled = json_object_get(ans, "Item") != NULL;
    json_decref(ans);
    return 0;
}

int ddb__recover(struct store *s, bool ensured)
{
    char table[DDB__NAME_MAX];
    bool filled = true;
    int64_t indexed = 0;
    int rc;

    if (ensured && (rc = index_filled(s, &filled)) < 0)
        return rc;
    if (filled)
        return recover_query(s);
    /* Once: the Scan put every IN_USE connector of the moment in the index
     * and every later reservation puts its own. A crash before the marker
     * scans again next time (each step is idempotent). */
    if ((rc = recover_scan(s, &indexed)) < 0)
        return rc;
    if (indexed > 0) /* a table from before the index; a new one has none */
        CCF_LOG_WARN("store.index_filled", CCF_KV_STR("backend", "dynamodb"),
                     CCF_KV_STR("index", DDB__IN_USE_INDEX), CCF_KV_INT("indexed", indexed));
    ddb__table(s, DDB__T_META, table);
    rc = ddb__call(s, "PutItem",
                   json_pack("{s:s,s:{s:{s:s}}}", "TableName", table, "Item", "name", "S", MARKER),
                   NULL, "open");
    return rc;
}

/* ---- the index on a table made before it (tables=ensure) ---- */

/* The index's status in DescribeTable's answer: NULL when absent. */
static const char *index_status(json_t *ans)
{
    json_t *gsi = json_object_get(json_object_get(ans, "Table"), "GlobalSecondaryIndexes"), *g;
    size_t i;

    json_array_foreach(gsi, i, g)
    {
        const char *n = json_string_value(json_object_get(g, "IndexName"));

        if (n && strcmp(n, DDB__IN_USE_INDEX) == 0) {
            const char *st = json_string_value(json_object_get(g, "IndexStatus"));
            return st ? st : "ACTIVE"; /* an endpoint that does not say */
        }
    }
    return NULL;
}

/* UpdateTable adding the index to the table DescribeTable described as
 * desc: with the table's throughput when it is PROVISIONED (an on-demand
 * table's index must have none). */
static int add_index(struct store *s, const char *table, json_t *desc)
{
    json_t *t = json_object_get(desc, "Table");
    const char *mode =
        json_string_value(json_object_get(json_object_get(t, "BillingModeSummary"), "BillingMode"));
    json_t *pt = json_object_get(t, "ProvisionedThroughput");
    json_t *create =
        json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}],s:{s:s}}", "IndexName", DDB__IN_USE_INDEX,
                  "KeySchema", "AttributeName", "in_use", "KeyType", "HASH", "AttributeName",
                  "active_job_id", "KeyType", "RANGE", "Projection", "ProjectionType", "KEYS_ONLY");

    if ((!mode || strcmp(mode, "PAY_PER_REQUEST") != 0) && pt)
        json_object_set_new(
            create, "ProvisionedThroughput",
            json_pack("{s:O,s:O}", "ReadCapacityUnits", json_object_get(pt, "ReadCapacityUnits"),
                      "WriteCapacityUnits", json_object_get(pt, "WriteCapacityUnits")));
    CCF_LOG_WARN("store.index_added", CCF_KV_STR("backend", "dynamodb"), CCF_KV_STR("table", table),
                 CCF_KV_STR("index", DDB__IN_USE_INDEX));
    return ddb__call(s, "UpdateTable",
                     json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}],s:[{s:o}]}", "TableName", table,
                               "AttributeDefinitions", "AttributeName", "in_use", "AttributeType",
                               "S", "AttributeName", "active_job_id", "AttributeType", "S",
                               "GlobalSecondaryIndexUpdates", "Create", create),
                     NULL, "open");
}

int ddb__ensure_in_use_index(struct store *s)
{
    char table[DDB__NAME_MAX];
    bool added = false;
    long poll = 50;
    int rc, state;

    ddb__table(s, DDB__T_CONNECTORS, table);
    for (long waited = 0; waited < INDEX_WAIT_MS; waited += poll) {
        json_t *ans;
        const char *st;

        if ((rc = ddb__call(s, "DescribeTable", json_pack("{s:s}", "TableName", table), &ans,
                            "open")) < 0)
            return rc;
        st = index_status(ans); /* borrowed from ans */
        state = !st ? 0 : strcmp(st, "ACTIVE") == 0 ? 1 : 2;
        if (state == 0 && !added) {
            rc = add_index(s, table, ans);
            json_decref(ans);
            if (rc < 0)
                return rc;
            added = true;
            continue; /* described again at once */
        }
        json_decref(ans);
        if (state == 0) {
            CCF_LOG_ERROR("store.open_failed", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("table", table), CCF_KV_STR("index", DDB__IN_USE_INDEX),
                          CCF_KV_STR("reason", "the endpoint took UpdateTable but did not add "
                                               "the index (dynalite cannot): use a new prefix"));
            return CCF_EIO;
        }
        if (state == 1)
            return 0;
        /* Being built (a large table takes minutes): wait, less often. */
        nanosleep(&(struct timespec){.tv_sec = poll / 1000, .tv_nsec = (poll % 1000) * 1000000L},
                  NULL);
        poll = poll * 2 > INDEX_POLL_MAX ? INDEX_POLL_MAX : poll * 2;
    }
    CCF_LOG_ERROR("store.open_failed", CCF_KV_STR("backend", "dynamodb"),
                  CCF_KV_STR("table", table), CCF_KV_STR("index", DDB__IN_USE_INDEX),
                  CCF_KV_STR("reason", "the index is still being built: open again later"));
    return CCF_EUNAVAIL;
}
