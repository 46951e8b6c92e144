/* connectors.c: connectors in the DynamoDB backend: create, get, listing
 * by the local index by_created, conditional update and delete, each one
 * single-item write conditioned on the item's version or status.
 *
 * An item: pk (the tenant, "REGION#ACCOUNT"), id, ck (the page key), the
 * connector's fields by name, version; while IN_USE, active_job_id, the
 * pending_* attributes of its job (jobs.c) and in_use (the sparse index
 * recovery reads, in_use.c), all set and removed by the one write that
 * takes or frees the connector. Not yet: the events of
 * these writes (the event stream is not on DynamoDB yet), and the delete's
 * cascade to the checkpoint (not stored here yet). */
#include "store/dynamodb/ddb_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Ids come from a CSPRNG: a collision is rare, a run of them means a bug. */
#define ID_TRIES 8

static void tenant_pk(const struct ccf_tenant *t, char out[STORE__TENANT_KEY_MAX])
{
    snprintf(out, STORE__TENANT_KEY_MAX, "%s#%s", t->region, t->account_id);
}

static json_t *key_of(const char *pk, const char *id)
{
    return json_pack("{s:o,s:o}", "pk", ddb__s_val(pk), "id", ddb__s_val(id));
}

/* The item of connector c (whose id, times and version are set). */
static json_t *item_of(const char *pk, const struct ccf_connector *c)
{
    char *ck = store__key_format(c->created_at, c->id);
    json_t *it;

    if (!ck)
        return NULL;
    it = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:b}}", "pk", ddb__s_val(pk),
                   "id", ddb__s_val(c->id), "ck", ddb__s_val(ck), "name", ddb__s_val(c->name),
                   "properties", ddb__s_val(c->properties), "status", ddb__n_val(c->status),
                   "created_at", ddb__n_val(c->created_at), "updated_at", ddb__n_val(c->updated_at),
                   "version", ddb__n_val(c->version), "schedule_anchor",
                   ddb__n_val(c->schedule_anchor), "next_run_at", ddb__n_val(c->next_run_at),
                   "paused", "BOOL", c->paused);
    free(ck);
    /* The hash key of the index by_next_run (schedules.c): every connector
     * is in it, ordered by next_run_at (0: none, below every due run). */
    if (it)
        json_object_set_new(it, "sched", ddb__s_val(DDB__SCHED_KEY));
    if (it && c->description)
        json_object_set_new(it, "description", ddb__s_val(c->description));
    if (it && c->schedule)
        json_object_set_new(it, "schedule", ddb__s_val(c->schedule));
    if (it && c->active_job_id[0])
        json_object_set_new(it, "active_job_id", ddb__s_val(c->active_job_id));
    if (it && c->active_job_id[0] && c->status == CCF_CONNECTOR_IN_USE)
        json_object_set_new(it, "in_use", ddb__s_val(DDB__IN_USE_KEY));
    return it;
}

static char *dup_or_null(const char *v)
{
    return v ? ccf_xstrdup(v) : NULL;
}

/* Fills *c from item it, with owned strings; a malformed item is CCF_EIO. */
int ddb__connector_from_item(json_t *it, struct ccf_connector *c)
{
    const char *id = ddb__get_s(it, "id"), *job = ddb__get_s(it, "active_job_id");
    int bad = 0;
    int64_t status = ddb__get_n(it, "status", &bad);

    memset(c, 0, sizeof(*c));
    if (!id || !ccf_connector_id_valid(id) || (job && !ccf_job_id_valid(job)) ||
        !ddb__get_s(it, "name") || !ddb__get_s(it, "properties") ||
        (status != CCF_CONNECTOR_AVAILABLE && status != CCF_CONNECTOR_IN_USE)) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("connector_id", id ? id : ""));
        return CCF_EIO;
    }
    memcpy(c->id, id, strlen(id) + 1);
    if (job)
        memcpy(c->active_job_id, job, strlen(job) + 1);
    c->status = (enum ccf_connector_status)status;
    c->created_at = ddb__get_n(it, "created_at", &bad);
    c->updated_at = ddb__get_n(it, "updated_at", &bad);
    c->version = ddb__get_n(it, "version", &bad);
    c->schedule_anchor = ddb__get_n(it, "schedule_anchor", &bad);
    c->next_run_at = ddb__get_n(it, "next_run_at", &bad);
    c->paused = ddb__get_bool(it, "paused");
    if (bad) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("connector_id", id));
        return CCF_EIO;
    }
    c->name = ccf_xstrdup(ddb__get_s(it, "name"));
    c->properties = ccf_xstrdup(ddb__get_s(it, "properties"));
    c->description = dup_or_null(ddb__get_s(it, "description"));
    c->schedule = dup_or_null(ddb__get_s(it, "schedule"));
    return 0;
}

int ddb__put_connector(struct store *s, const struct ccf_tenant *t, const struct ccf_connector *c,
                       const char *op)
{
    char pk[STORE__TENANT_KEY_MAX], table[DDB__NAME_MAX];
    json_t *it;

    tenant_pk(t, pk);
    ddb__table(s, DDB__T_CONNECTORS, table);
    if (!(it = item_of(pk, c)))
        return CCF_ENOMEM;
    return ddb__call(s, "PutItem",
                     json_pack("{s:s,s:o,s:s}", "TableName", table, "Item", it,
                               "ConditionExpression", "attribute_not_exists(id)"),
                     NULL, op);
}

int store_ddb__create_connector(struct store *s, const struct ccf_tenant *t,
                                struct ccf_connector *c)
{
    struct ccf_connector tmp = *c;
    int rc;

    store__connector_made(&tmp, NULL, ccf_now_us());
    for (int i = 0; i < ID_TRIES; i++) {
        if ((rc = ccf_connector_id_new(tmp.id)) < 0)
            return rc;
        rc = ddb__put_connector(s, t, &tmp, "create_connector");
        if (rc == CCF_ECONFLICT) {
            CCF_LOG_WARN("store.id_collision", CCF_KV_STR("connector_id", tmp.id));
            continue;
        }
        if (rc < 0)
            return rc;
        store__connector_made(c, tmp.id, tmp.created_at);
        (void)ddb__event_connector(s, t, "connector.created", c, "create_connector"); /* events */
        return 0;
    }
    return CCF_EIO;
}

/* The item of connector id, read strongly consistent. */
static int load(struct store *s, const char *pk, const char *id, struct ccf_connector *out,
                const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *ans, *it;
    int rc;

    ddb__table(s, DDB__T_CONNECTORS, table);
    if ((rc = ddb__call(s, "GetItem",
                        json_pack("{s:s,s:o,s:b}", "TableName", table, "Key", key_of(pk, id),
                                  "ConsistentRead", 1),
                        &ans, op)) < 0)
        return rc;
    it = json_object_get(ans, "Item");
    rc = it ? ddb__connector_from_item(it, out) : CCF_ENOTFOUND;
    json_decref(ans);
    return rc;
}

/* An IN_USE connector whose job has ended is released here: the job's
 * end and the release are two writes (no transactions), and no reader may
 * see the job ended and its connector still taken. 1 when it released
 * (read c again), 0 when there was nothing to do. */
static int release_if_ended(struct store *s, const struct ccf_tenant *t,
                            const struct ccf_connector *c, const char *op)
{
    struct ccf_job j;
    bool ended;
    int rc;

    if (c->status != CCF_CONNECTOR_IN_USE || !c->active_job_id[0])
        return 0;
    if ((rc = ddb__load_job(s, t, c->id, c->active_job_id, &j, op)) < 0)
        return rc == CCF_ENOTFOUND ? 0 : rc; /* a start in flight */
    ended = ccf_job_status_terminal(j.status);
    ccf_job_clear(&j);
    if (!ended)
        return 0;
    rc = ddb__release_connector(s, t, c->id, c->active_job_id, op);
    return rc < 0 ? rc : 1;
}

int store_ddb__get_connector(struct store *s, const struct ccf_tenant *t, const char *id,
                             struct ccf_connector *out)
{
    char pk[STORE__TENANT_KEY_MAX];
    int rc;

    if (!ccf_connector_id_valid(id))
        return CCF_ENOTFOUND;
    tenant_pk(t, pk);
    if ((rc = load(s, pk, id, out, "get_connector")) < 0 ||
        (rc = release_if_ended(s, t, out, "get_connector")) <= 0)
        return rc;
    ccf_connector_clear(out);
    return load(s, pk, id, out, "get_connector");
}

/* A listing over DynamoDB's pages (at most 1 MB each: large connectors end
 * one early); *more when an item past the limit came. */
struct conn_listing {
    size_t limit, seen;
    bool more;
    char *last; /* the page key of the last one visited */
    store_connector_fn visit;
    void *ctx;
};

static int visit_items(json_t *items, struct conn_listing *l)
{
    struct ccf_connector item;
    size_t i;
    json_t *it;
    int rc;

    json_array_foreach(items, i, it)
    {
        if (l->seen == l->limit) {
            l->more = true;
            return 0;
        }
        if ((rc = ddb__connector_from_item(it, &item)) < 0)
            return rc;
        rc = l->visit(l->ctx, &item);
        free(l->last);
        l->last = store__key_format(item.created_at, item.id);
        ccf_connector_clear(&item);
        if (rc < 0)
            return rc;
        if (!l->last)
            return CCF_ENOMEM;
        l->seen++;
    }
    return 0;
}

/* A page into the listing; the next asks for one more than what is left
 * of the listing's page: whether a next exists. */
static int visit_page(void *ctx, json_t *ans, json_t *req)
{
    struct conn_listing *l = ctx;
    int rc;

    if ((rc = visit_items(json_object_get(ans, "Items"), l)) < 0)
        return rc;
    if (l->more)
        return DDB__STOP;
    json_object_set_new(req, "Limit", json_integer((json_int_t)(l->limit + 1 - l->seen)));
    return 0;
}

int store_ddb__list_connectors(struct store *s, const struct ccf_tenant *t,
                               const struct store__keyset *p, store_connector_fn visit, void *ctx,
                               char **next)
{
    char pk[STORE__TENANT_KEY_MAX], table[DDB__NAME_MAX];
    struct conn_listing l = {.limit = p->limit, .visit = visit, .ctx = ctx};
    json_t *req;
    int rc;

    tenant_pk(t, pk);
    ddb__table(s, DDB__T_CONNECTORS, table);
    req = json_pack("{s:s,s:s,s:s,s:{s:o},s:I,s:b}", "TableName", table, "IndexName", "by_created",
                    "KeyConditionExpression", "pk = :pk", "ExpressionAttributeValues", ":pk",
                    ddb__s_val(pk), "Limit", (json_int_t)(l.limit + 1), "ConsistentRead", 1);
    /* The page key (inside the caller's signed token) rebuilds the
     * ExclusiveStartKey: the index's key plus the table's. */
    if (req && p->after)
        json_object_set_new(req, "ExclusiveStartKey",
                            json_pack("{s:o,s:o,s:o}", "pk", ddb__s_val(pk), "id",
                                      ddb__s_val(p->after_id), "ck", ddb__s_val(p->after)));
    rc = ddb__each_page(s, "Query", req, visit_page, &l, "list_connectors");
    if (rc >= 0 && next && l.more) {
        *next = l.last;
        l.last = NULL;
    } else if (rc >= 0 && next) {
        *next = NULL;
    }
    free(l.last);
    return rc;
}

/* After a conditional write failed: CCF_ENOTFOUND when the connector is
 * gone, else CCF_ECONFLICT. */
static int why_not(struct store *s, const char *pk, const char *id, const char *op)
{
    struct ccf_connector now;
    int rc = load(s, pk, id, &now, op);

    if (rc == 0)
        ccf_connector_clear(&now);
    return rc == 0 ? CCF_ECONFLICT : rc;
}

int store_ddb__update_connector(struct store *s, const struct ccf_tenant *t,
                                const struct ccf_connector *c, int64_t expected_version)
{
    char pk[STORE__TENANT_KEY_MAX], table[DDB__NAME_MAX];
    json_t *vals, *req;
    const char *set = "SET #n = :n, properties = :p, updated_at = :u, version = :nv, "
                      "schedule_anchor = :sa, next_run_at = :nr";
    char expr[512];
    int rc;

    tenant_pk(t, pk);
    ddb__table(s, DDB__T_CONNECTORS, table);
    vals = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", ":n", ddb__s_val(c->name), ":p",
                     ddb__s_val(c->properties), ":u", ddb__n_val(c->updated_at), ":nv",
                     ddb__n_val(c->version), ":v", ddb__n_val(expected_version), ":sa",
                     ddb__n_val(c->schedule_anchor), ":nr", ddb__n_val(c->next_run_at));
    /* Optional fields: set when given, removed when not. */
    snprintf(expr, sizeof(expr), "%s%s%s REMOVE %s%s%s", set,
             c->description ? ", description = :d" : "", c->schedule ? ", schedule = :s" : "",
             c->description ? "" : "description", !c->description && !c->schedule ? ", " : "",
             c->schedule ? "" : "schedule");
    if (c->description && c->schedule) /* nothing to remove */
        *strstr(expr, " REMOVE ") = '\0';
    if (c->description)
        json_object_set_new(vals, ":d", ddb__s_val(c->description));
    if (c->schedule)
        json_object_set_new(vals, ":s", ddb__s_val(c->schedule));
    req = json_pack("{s:s,s:o,s:s,s:s,s:{s:s},s:o}", "TableName", table, "Key", key_of(pk, c->id),
                    "UpdateExpression", expr, "ConditionExpression", "version = :v",
                    "ExpressionAttributeNames", "#n", "name", "ExpressionAttributeValues", vals);
    rc = ddb__call(s, "UpdateItem", req, NULL, "update_connector");
    if (rc == CCF_ECONFLICT)
        return why_not(s, pk, c->id, "update_connector");
    if (rc < 0)
        return rc;
    (void)ddb__event_connector(s, t, "connector.updated", c, "update_connector"); /* events */
    return 0;
}

int store_ddb__delete_connector(struct store *s, const struct ccf_tenant *t, const char *id)
{
    char pk[STORE__TENANT_KEY_MAX], table[DDB__NAME_MAX];
    struct ccf_connector gone;
    json_t *ans;
    int rc;

    tenant_pk(t, pk);
    ddb__table(s, DDB__T_CONNECTORS, table);
    /* Only an AVAILABLE connector goes: one with a job is a conflict. */
    rc = ddb__call(s, "DeleteItem",
                   json_pack("{s:s,s:o,s:s,s:{s:s},s:{s:o},s:s}", "TableName", table, "Key",
                             key_of(pk, id), "ConditionExpression",
                             "attribute_exists(id) AND #st = :avail", "ExpressionAttributeNames",
                             "#st", "status", "ExpressionAttributeValues", ":avail",
                             ddb__n_val(CCF_CONNECTOR_AVAILABLE), "ReturnValues", "ALL_OLD"),
                   &ans, "delete_connector");
    if (rc == CCF_ECONFLICT)
        return why_not(s, pk, id, "delete_connector");
    if (rc < 0)
        return rc;
    /* events: connector.deleted, with the connector as it was */
    if (ddb__connector_from_item(json_object_get(ans, "Attributes"), &gone) == 0) {
        (void)ddb__event_connector(s, t, "connector.deleted", &gone, "delete_connector");
        ccf_connector_clear(&gone);
    }
    json_decref(ans);
    return ddb__delete_under(s, t, id);
}

int ddb__reserve_connector(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                           const struct store_fire *f, const char *op)
{
    char pk[STORE__TENANT_KEY_MAX], table[DDB__NAME_MAX], set[512], cond[256];
    json_t *vals;
    int rc;

    tenant_pk(t, pk);
    ddb__table(s, DDB__T_CONNECTORS, table);
    vals = json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:{s:b}}", ":in_use", ddb__n_val(CCF_CONNECTOR_IN_USE), ":avail",
        ddb__n_val(CCF_CONNECTOR_AVAILABLE), ":j", ddb__s_val(j->id), ":one", ddb__n_val(1), ":ca",
        ddb__n_val(j->created_at), ":tr", ddb__n_val(j->trigger), ":f", "BOOL", 0);
    json_object_set_new(vals, ":env", ddb__s_val(j->environment ? j->environment : ""));
    json_object_set_new(vals, ":iu", ddb__s_val(DDB__IN_USE_KEY));
    snprintf(set, sizeof(set),
             "SET #st = :in_use, active_job_id = :j, version = version + :one, "
             "pending_created_at = :ca, pending_trigger = :tr, pending_env = :env, "
             "in_use = :iu%s",
             f ? ", next_run_at = :next" : "");
    snprintf(cond, sizeof(cond), "attribute_exists(id) AND #st = :avail AND paused = :f%s",
             f ? " AND next_run_at = :due AND schedule = :sch" : "");
    /* A scheduled start moves next_run_at in the same write: the run is
     * neither lost nor doubled whatever dies after it. */
    if (f) {
        json_object_set_new(vals, ":next", ddb__n_val(f->next));
        json_object_set_new(vals, ":due", ddb__n_val(f->due));
        json_object_set_new(vals, ":sch", ddb__s_val(f->schedule));
    }
    for (int i = 0;; i++) {
        struct ccf_connector now;

        rc = ddb__call(s, "UpdateItem",
                       json_pack("{s:s,s:o,s:s,s:s,s:{s:s},s:O}", "TableName", table, "Key",
                                 key_of(pk, j->connector_id), "UpdateExpression", set,
                                 "ConditionExpression", cond, "ExpressionAttributeNames", "#st",
                                 "status", "ExpressionAttributeValues", vals),
                       NULL, op);
        if (rc != CCF_ECONFLICT || i == 1)
            break;
        /* Taken by a job that has ended but not yet released it: release,
         * then once more. Released meanwhile (the job's end is two writes,
         * and its writer may release between our write and this read):
         * once more too. */
        if ((rc = load(s, pk, j->connector_id, &now, op)) < 0)
            break;
        rc = release_if_ended(s, t, &now, op);
        if (rc == 0 && now.status == CCF_CONNECTOR_AVAILABLE)
            rc = 1;
        ccf_connector_clear(&now);
        if (rc <= 0) {
            rc = rc < 0 ? rc : CCF_ECONFLICT;
            break;
        }
    }
    json_decref(vals);
    if (rc == CCF_ECONFLICT)
        return why_not(s, pk, j->connector_id, op);
    return rc;
}

int ddb__release_connector(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                           const char *job_id, const char *op)
{
    char pk[STORE__TENANT_KEY_MAX], table[DDB__NAME_MAX];
    int rc;

    tenant_pk(t, pk);
    ddb__table(s, DDB__T_CONNECTORS, table);
    rc =
        ddb__call(s, "UpdateItem",
                  json_pack("{s:s,s:o,s:s,s:s,s:{s:s},s:{s:o,s:o,s:o}}", "TableName", table, "Key",
                            key_of(pk, connector_id), "UpdateExpression",
                            "SET #st = :avail, version = version + :one REMOVE active_job_id, "
                            "pending_created_at, pending_trigger, pending_env, in_use",
                            "ConditionExpression", "active_job_id = :j", "ExpressionAttributeNames",
                            "#st", "status", "ExpressionAttributeValues", ":avail",
                            ddb__n_val(CCF_CONNECTOR_AVAILABLE), ":one", ddb__n_val(1), ":j",
                            ddb__s_val(job_id)),
                  NULL, op);
    return rc == CCF_ECONFLICT ? 0 : rc;
}

int store_ddb__set_paused(struct store *s, const struct ccf_tenant *t,
                          const struct ccf_connector *c, int64_t expected_version)
{
    char pk[STORE__TENANT_KEY_MAX], table[DDB__NAME_MAX];
    int rc;

    tenant_pk(t, pk);
    ddb__table(s, DDB__T_CONNECTORS, table);
    rc = ddb__call(s, "UpdateItem",
                   json_pack("{s:s,s:o,s:s,s:s,s:{s:{s:b},s:o,s:o,s:o,s:o}}", "TableName", table,
                             "Key", key_of(pk, c->id), "UpdateExpression",
                             "SET paused = :p, next_run_at = :nr, updated_at = :u, version = :nv",
                             "ConditionExpression", "version = :v", "ExpressionAttributeValues",
                             ":p", "BOOL", c->paused, ":nr", ddb__n_val(c->next_run_at), ":u",
                             ddb__n_val(c->updated_at), ":nv", ddb__n_val(c->version), ":v",
                             ddb__n_val(expected_version)),
                   NULL, "set_paused");
    if (rc == CCF_ECONFLICT)
        return why_not(s, pk, c->id, "set_paused");
    if (rc < 0)
        return rc;
    (void)ddb__event_connector(s, t, c->paused ? "connector.paused" : "connector.resumed", c,
                               "set_paused"); /* events */
    return 0;
}
