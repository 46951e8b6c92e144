/* jobs.c: jobs in the DynamoDB backend: the atomic start (a conditional
 * reservation of the connector naming the job, then the job's item), get,
 * newest-first listing by the local index by_created with a status filter,
 * and conditional transitions (read, apply, write back on the version read)
 * that release the connector when the active job ends.
 *
 * A job item carries docs/AWS.md's attributes (region, account_id,
 * connector_id, job_id, status by name, updated_at, version) for the
 * Lambda's stream decoder, plus the job's own fields. A start that dies
 * between its two writes leaves the connector IN_USE with the job's
 * pending_* attributes: ddb__recover (at open) writes the job from them.
 * The job's statistics are attributes of its item (docstats.c). Each
 * write of a job goes with its change record (changes.c, ddb__job_write). */
#include "store/dynamodb/ddb_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define MOVE_TRIES 16 /* a transition re-read after losing a race */

void ddb__job_pk(const struct ccf_tenant *t, const char *connector_id, char out[DDB__JOB_PK_MAX])
{
    snprintf(out, DDB__JOB_PK_MAX, "%s#%s#%s", t->region, t->account_id, connector_id);
}

static void set_s(json_t *it, const char *name, const char *v)
{
    if (v)
        json_object_set_new(it, name, ddb__s_val(v));
}

/* The whole item of job j of tenant t, at version `version`. */
json_t *ddb__job_item(const struct ccf_tenant *t, const struct ccf_job *j, int64_t version)
{
    char pk[DDB__JOB_PK_MAX];
    char *ck = store__key_format(j->created_at, j->id);
    json_t *it;

    if (!ck)
        return NULL;
    ddb__job_pk(t, j->connector_id, pk);
    it = json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "pk", ddb__s_val(pk),
        "job_id", ddb__s_val(j->id), "ck", ddb__s_val(ck), "region", ddb__s_val(t->region),
        "account_id", ddb__s_val(t->account_id), "connector_id", ddb__s_val(j->connector_id),
        "status", ddb__s_val(ccf_job_status_name(j->status)), "created_at",
        ddb__n_val(j->created_at), "updated_at", ddb__n_val(j->updated_at), "version",
        ddb__n_val(version), "started_at", ddb__n_val(j->started_at), "completed_at",
        ddb__n_val(j->completed_at), "attempt", ddb__n_val(j->attempt), "next_attempt_at",
        ddb__n_val(j->next_attempt_at), "trigger", ddb__n_val(j->trigger));
    free(ck);
    if (!it)
        return NULL;
    if (j->has_exit_code)
        json_object_set_new(it, "exit_code", ddb__n_val(j->exit_code));
    set_s(it, "failure_reason", j->failure_reason);
    set_s(it, "environment", j->environment);
    set_s(it, "executor_id", j->executor_id);
    set_s(it, "attempts", j->attempts);
    set_s(it, "spec", j->spec);
    set_s(it, "status_reason", j->status_reason);
    /* The job's statistics (docstats.c adds to them): carried by every
     * whole-item write, so that a transition keeps them. */
    json_object_set_new(it, "st_added", ddb__n_val(j->stats.documents_added));
    json_object_set_new(it, "st_updated", ddb__n_val(j->stats.documents_updated));
    json_object_set_new(it, "st_unchanged", ddb__n_val(j->stats.documents_unchanged));
    json_object_set_new(it, "st_deleted", ddb__n_val(j->stats.documents_deleted));
    json_object_set_new(it, "st_cp_puts", ddb__n_val(j->stats.checkpoint_puts));
    ddb__job_index_attrs(it, j); /* retention.c's sparse indexes */
    return it;
}

static char *dup_s(json_t *it, const char *name)
{
    const char *v = ddb__get_s(it, name);

    return v ? ccf_xstrdup(v) : NULL;
}

/* Fills *j (and *version) from item it, with owned strings. */
int ddb__job_from_item(json_t *it, struct ccf_job *j, int64_t *version)
{
    const char *id = ddb__get_s(it, "job_id"), *cid = ddb__get_s(it, "connector_id");
    const char *st = ddb__get_s(it, "status");
    enum ccf_job_status status;
    int bad = 0;

    memset(j, 0, sizeof(*j));
    if (!id || !ccf_job_id_valid(id) || !cid || !ccf_connector_id_valid(cid) || !st ||
        ccf_job_status_parse(st, &status) < 0) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("job_id", id ? id : ""));
        return CCF_EIO;
    }
    memcpy(j->id, id, sizeof(j->id));
    memcpy(j->connector_id, cid, sizeof(j->connector_id));
    j->status = status;
    j->created_at = ddb__get_n(it, "created_at", &bad);
    j->updated_at = ddb__get_n(it, "updated_at", &bad);
    j->started_at = ddb__get_n(it, "started_at", &bad);
    j->completed_at = ddb__get_n(it, "completed_at", &bad);
    j->attempt = (int)ddb__get_n(it, "attempt", &bad);
    j->next_attempt_at = ddb__get_n(it, "next_attempt_at", &bad);
    j->trigger = (enum ccf_job_trigger)ddb__get_n(it, "trigger", &bad);
    if (version)
        *version = ddb__get_n(it, "version", &bad);
    if (json_object_get(it, "exit_code")) {
        j->has_exit_code = true;
        j->exit_code = (int)ddb__get_n(it, "exit_code", &bad);
    }
    if (bad) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"), CCF_KV_STR("job_id", id));
        return CCF_EIO;
    }
    j->failure_reason = dup_s(it, "failure_reason");
    j->environment = dup_s(it, "environment");
    j->executor_id = dup_s(it, "executor_id");
    j->attempts = dup_s(it, "attempts");
    j->spec = dup_s(it, "spec");
    j->status_reason = dup_s(it, "status_reason");
    j->has_stats = j->started_at != 0; /* shown once it reached RUNNING */
    /* Absent on items written before statistics were kept: zeros. */
    j->stats.documents_added = ddb__get_n(it, "st_added", NULL);
    j->stats.documents_updated = ddb__get_n(it, "st_updated", NULL);
    j->stats.documents_unchanged = ddb__get_n(it, "st_unchanged", NULL);
    j->stats.documents_deleted = ddb__get_n(it, "st_deleted", NULL);
    j->stats.checkpoint_puts = ddb__get_n(it, "st_cp_puts", NULL);
    return 0;
}

/* Writes job j's item, with its job.started change, unless one with its
 * id exists (the start, or recovery finishing one: the same item either
 * way). */
int ddb__put_new_job(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                     const char *op)
{
    bool undoable;

    return ddb__job_write(s, t, j, -1, 0, NULL, &undoable, op);
}

/* The one start path (the API's start, a token's, the scheduler's): j
 * comes with its id, connector, trigger, times and borrowed environment. */
int ddb__start_job(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                   const struct store_fire *f, const char *op)
{
    bool undoable;
    int rc;

    /* 1: the connector names the job (and keeps what recovery needs to
     * write it), or the start fails: 404, or 409 when IN_USE or paused. */
    if ((rc = ddb__reserve_connector(s, t, j, f, op)) < 0)
        return rc;
    /* 2: the job's item with its change (changes.c). A collision of job
     * ids under one connector is impossible (the reservation names one job
     * at a time). */
    rc = ddb__job_write(s, t, j, -1, 0, NULL, &undoable, op);
    if (rc < 0 && rc != CCF_ECONFLICT) {
        /* Nothing written: undone now (if this process dies first,
         * recovery finishes it). A change record left pending is settled
         * by a reader, who finishes the start: never undone then. */
        if (undoable)
            (void)ddb__release_connector(s, t, j->connector_id, j->id, op);
        return rc;
    }
    return 0;
}

int store_ddb__start_job(struct store *s, const struct ccf_tenant *t, struct ccf_job *j)
{
    int rc;

    if ((rc = ccf_job_id_new(j->id)) < 0)
        return rc;
    return ddb__start_job(s, t, j, NULL, "start_job");
}

/* seqs (may be NULL): the item's set of change seqs (changes.c), a new
 * reference (NULL when it has none). */
static int load(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                const char *job_id, struct ccf_job *out, int64_t *version, json_t **seqs,
                const char *op)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    json_t *ans, *it;
    int rc;

    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_JOBS, table);
    if ((rc =
             ddb__call(s, "GetItem",
                       json_pack("{s:s,s:{s:o,s:o},s:b}", "TableName", table, "Key", "pk",
                                 ddb__s_val(pk), "job_id", ddb__s_val(job_id), "ConsistentRead", 1),
                       &ans, op)) < 0)
        return rc;
    it = json_object_get(ans, "Item");
    rc = it ? ddb__job_from_item(it, out, version) : CCF_ENOTFOUND;
    if (rc == 0 && seqs) {
        *seqs = json_object_get(json_object_get(it, "seqs"), "NS");
        json_incref(*seqs);
    }
    json_decref(ans);
    return rc;
}

int ddb__load_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                  const char *job_id, struct ccf_job *out, const char *op)
{
    return load(s, t, connector_id, job_id, out, NULL, NULL, op);
}

int store_ddb__get_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                       const char *job_id, struct ccf_job *out)
{
    return load(s, t, connector_id, job_id, out, NULL, NULL, "get_job");
}

struct listing {
    unsigned mask;
    size_t limit, seen;
    store_job_fn visit;
    void *ctx;
    char *last;
    bool more; /* a match past the page exists */
};

/* Visits one matching item; stops at the first match past the limit (its
 * predecessor's key is the next page's). */
static int visit_job(void *ctx, json_t *it)
{
    struct listing *l = ctx;
    struct ccf_job j;
    int rc;

    if ((rc = ddb__job_from_item(it, &j, NULL)) < 0)
        return rc;
    if (!(l->mask & (1u << j.status))) {
        ccf_job_clear(&j);
        return 0;
    }
    if (l->seen == l->limit) {
        l->more = true;
        ccf_job_clear(&j);
        return DDB__STOP;
    }
    l->seen++;
    rc = l->visit(l->ctx, &j);
    free(l->last);
    l->last = store__key_format(j.created_at, j.id);
    ccf_job_clear(&j);
    if (rc < 0)
        return rc;
    return l->last ? 0 : CCF_ENOMEM;
}

int store_ddb__list_jobs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const struct store__job_page *p, store_job_fn visit, void *ctx,
                         char **next)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    struct listing l = {.mask = p->mask, .limit = p->k.limit, .visit = visit, .ctx = ctx};
    struct ccf_connector c;
    json_t *req;
    int rc;

    if ((rc = store_ddb__get_connector(s, t, connector_id, &c)) < 0)
        return rc;
    ccf_connector_clear(&c);
    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_JOBS, table);
    req = json_pack("{s:s,s:s,s:s,s:{s:o},s:I,s:b,s:b}", "TableName", table, "IndexName",
                    "by_created", "KeyConditionExpression", "pk = :pk", "ExpressionAttributeValues",
                    ":pk", ddb__s_val(pk), "Limit", (json_int_t)p->k.limit + 1, "ScanIndexForward",
                    0, "ConsistentRead", 1);
    if (req && p->k.after)
        json_object_set_new(req, "ExclusiveStartKey",
                            json_pack("{s:o,s:o,s:o}", "pk", ddb__s_val(pk), "job_id",
                                      ddb__s_val(p->k.after_id), "ck", ddb__s_val(p->k.after)));
    /* Pages of DynamoDB's until one match past the limit, or the end: the
     * status filter is ours, so that Limit counts what DynamoDB read. */
    rc = ddb__each_item(s, "Query", req, visit_job, &l, "list_jobs");
    /* A next page only when a match past this one exists. */
    if (rc >= 0 && next && l.more) {
        *next = l.last;
        l.last = NULL;
    } else if (rc >= 0 && next) {
        *next = NULL;
    }
    free(l.last);
    return rc;
}

/* 1 moved, 0 already there, or an error; one read and one conditional
 * write, again after losing a race to another writer of the job. */
static int move_once(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                     const char *job_id, const struct store_transition *tr, struct ccf_job *j)
{
    const char *op = "transition_job";
    enum ccf_job_status from;
    int64_t version;
    json_t *seqs = NULL;
    bool undoable;
    int rc;

    if ((rc = load(s, t, connector_id, job_id, j, &version, &seqs, op)) < 0)
        return rc;
    from = j->status;
    /* Nothing leaves a terminal status, whatever from_mask says. */
    if (from == tr->to || ccf_job_status_terminal(from) || !(tr->from_mask & (1u << from))) {
        json_decref(seqs);
        return from == tr->to ? 0 : CCF_ECONFLICT;
    }
    store__apply_transition(j, tr, ccf_now_us());
    /* The write with its change record (changes.c). */
    rc = ddb__job_write(s, t, j, (int)from, version, seqs, &undoable, op);
    json_decref(seqs);
    if (rc == CCF_ECONFLICT)
        return 2; /* another write came between: read again */
    if (rc < 0)
        return rc;
    /* A crash here leaves an ended job holding its connector: recovery
     * (at open) releases it. */
    if (ccf_job_status_terminal(tr->to) &&
        (rc = ddb__release_connector(s, t, connector_id, job_id, op)) < 0)
        return rc;
    return 1;
}

int store_ddb__transition_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                              const char *job_id, const struct store_transition *tr,
                              struct ccf_job *out)
{
    struct ccf_job j;
    int rc = 2;

    memset(&j, 0, sizeof(j));
    for (int i = 0; i < MOVE_TRIES && rc == 2; i++) {
        ccf_job_clear(&j);
        rc = move_once(s, t, connector_id, job_id, tr, &j);
    }
    if (rc == 2) {
        CCF_LOG_WARN("store.contended", CCF_KV_STR("backend", "dynamodb"),
                     CCF_KV_STR("job_id", job_id));
        rc = CCF_EUNAVAIL;
    }
    if (rc >= 0 && out) {
        *out = j;
        return rc;
    }
    ccf_job_clear(&j);
    return rc;
}

struct delete_all {
    struct store *s;
    const char *table;
};

static int delete_item(void *ctx, json_t *it)
{
    struct delete_all *d = ctx;

    return ddb__call(d->s, "DeleteItem", json_pack("{s:s,s:O}", "TableName", d->table, "Key", it),
                     NULL, "delete_connector");
}

/* Deletes every item under hash key pk in table suffix (range key rk),
 * one DeleteItem each. */
int ddb__delete_all(struct store *s, const char *suffix, const char *pk, const char *rk)
{
    char table[DDB__NAME_MAX], proj[64];

    ddb__table(s, suffix, table);
    snprintf(proj, sizeof(proj), "pk, %s", rk);
    return ddb__each_item(s, "Query",
                          json_pack("{s:s,s:s,s:{s:o},s:s,s:b}", "TableName", table,
                                    "KeyConditionExpression", "pk = :pk",
                                    "ExpressionAttributeValues", ":pk", ddb__s_val(pk),
                                    "ProjectionExpression", proj, "ConsistentRead", 1),
                          delete_item, &(struct delete_all){s, table}, "delete_connector");
}

/* The cascade of a connector's delete, after the connector's item went. A
 * crash midway leaves items whose connector is gone: unreachable (every
 * read of them checks or names the connector) and not yet collected
 * (docs/DECISIONS.md). */
int ddb__delete_under(struct store *s, const struct ccf_tenant *t, const char *connector_id)
{
    char pk[DDB__JOB_PK_MAX];
    int rc;

    ddb__job_pk(t, connector_id, pk);
    if ((rc = ddb__delete_all(s, DDB__T_CHECKPOINTS, pk, "sk")) < 0 ||
        (rc = ddb__delete_all(s, DDB__T_DOCUMENTS, pk, "doc_id")) < 0 ||
        (rc = ddb__delete_tokens_under(s, t, connector_id)) < 0)
        return rc;
    return ddb__delete_all(s, DDB__T_JOBS, pk, "job_id");
}

/* Not a status change: one conditional update of the reason, written only
 * while the job is STARTED and the reason differs (a queue that does not
 * move costs no write). 1 when written, 0 when not. */
int store_ddb__set_job_status_reason(struct store *s, const struct ccf_tenant *t,
                                     const char *connector_id, const char *job_id,
                                     const char *reason)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    json_t *req;
    int rc;

    ddb__job_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_JOBS, table);
    req = json_pack("{s:s,s:{s:o,s:o},s:{s:s},s:{s:o,s:o,s:o}}", "TableName", table, "Key", "pk",
                    ddb__s_val(pk), "job_id", ddb__s_val(job_id), "ExpressionAttributeNames", "#st",
                    "status", "ExpressionAttributeValues", ":started",
                    ddb__s_val(ccf_job_status_name(CCF_JOB_STARTED)), ":u",
                    ddb__n_val(ccf_now_us()), ":one", ddb__n_val(1));
    if (reason) {
        json_object_set_new(json_object_get(req, "ExpressionAttributeValues"), ":r",
                            ddb__s_val(reason));
        json_object_set_new(req, "UpdateExpression",
                            json_string("SET status_reason = :r, updated_at = :u, "
                                        "version = version + :one"));
        json_object_set_new(req, "ConditionExpression",
                            json_string("#st = :started AND (attribute_not_exists(status_reason) "
                                        "OR status_reason <> :r)"));
    } else {
        json_object_set_new(req, "UpdateExpression",
                            json_string("SET updated_at = :u, version = version + :one "
                                        "REMOVE status_reason"));
        json_object_set_new(req, "ConditionExpression",
                            json_string("#st = :started AND attribute_exists(status_reason)"));
    }
    rc = ddb__call(s, "UpdateItem", req, NULL, "set_job_status_reason");
    if (rc == CCF_ECONFLICT)
        return 0;
    return rc < 0 ? rc : 1;
}
