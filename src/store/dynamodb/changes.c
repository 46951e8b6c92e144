/* changes.c: the DynamoDB backend's change log (PREFIX-changes): the
 * records job writes and events make, the horizon below which the log is
 * settled, read_changes, the consumers' cursors and the log's pruning.
 *
 * There are no transactions (dynalite has none), so a change record and
 * the write it records are two items. The order that keeps them honest:
 *
 *   1. seq from an atomic counter (UpdateItem ADD on the meta item "seq");
 *   2. the record, `pending`, holding the job item it is about to write and
 *      that write's condition (attribute_not_exists or version = v);
 *   3. the job's conditional write, which adds seq to the job's `seqs` set;
 *   4. the record marked `committed`, or `void` if 3's condition failed.
 *
 * Readers never read past the horizon: the highest seq such that every
 * seq up to it has a settled record (committed or void). A record still
 * pending, or a seq drawn but not yet written (a gap), stops the horizon
 * while young (a writer in flight: order must hold, nothing is skipped).
 * Older than SETTLE_US, it is settled by the reader: a pending record by
 * doing its write itself (the same item, the same condition: at most one
 * of the writer and the reader succeeds), then `committed` if the job's
 * seqs holds its seq, else `void`; a gap by writing a void record there
 * (attribute_not_exists: the slow writer then fails and draws another
 * seq). So a kill -9 between any two calls leaves no lost change, no
 * phantom event, no job written twice (docs/DECISIONS.md).
 *
 * Events that are not job changes (connector.*, checkpoint.*, schedule.*)
 * are written after their effect, already committed (a crash in between
 * loses the event, never invents one). Each tenant's events are read by
 * the global index by_tenant (hash tenant, range seq; void records drop
 * out of it). */
#include "store/dynamodb/ddb_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/validate.h"

#define LOG_PK       "c"       /* one partition: seq order is one Query */
#define SETTLE_US    5000000   /* a writer this late is taken for dead */
#define WAIT_STEP_NS 20000000L /* read_changes' wait for a writer in flight */
#define PAGE         200
#define CONSUMER_MAX 200
#define ST_PENDING   "p"
#define ST_COMMITTED "c"
#define ST_VOID      "v"

static json_t *log_key(int64_t seq)
{
    return json_pack("{s:o,s:o}", "pk", ddb__s_val(LOG_PK), "seq", ddb__n_val(seq));
}

/* The number kept in meta item `name` (0 when none). */
static int meta_get(struct store *s, const char *name, int64_t *out, const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *ans, *it;
    int bad = 0, rc;

    ddb__table(s, DDB__T_META, table);
    if ((rc = ddb__call(s, "GetItem",
                        json_pack("{s:s,s:{s:o},s:b}", "TableName", table, "Key", "name",
                                  ddb__s_val(name), "ConsistentRead", 1),
                        &ans, op)) < 0)
        return rc;
    it = json_object_get(ans, "Item");
    *out = it ? ddb__get_n(it, "n", &bad) : 0;
    json_decref(ans);
    return bad ? CCF_EIO : 0;
}

/* Raises meta item `name` to v; never lowers it (a racing writer that
 * raised it further wins, which is what both wanted). */
static int meta_raise(struct store *s, const char *name, int64_t v, const char *op)
{
    char table[DDB__NAME_MAX];
    int rc;

    ddb__table(s, DDB__T_META, table);
    rc = ddb__call(s, "UpdateItem",
                   json_pack("{s:s,s:{s:o},s:s,s:s,s:{s:o}}", "TableName", table, "Key", "name",
                             ddb__s_val(name), "UpdateExpression", "SET n = :v",
                             "ConditionExpression", "attribute_not_exists(n) OR n < :v",
                             "ExpressionAttributeValues", ":v", ddb__n_val(v)),
                   NULL, op);
    return rc == CCF_ECONFLICT ? 0 : rc;
}

/* Step 1: the next seq. Never reused, never lower, even after every
 * record was pruned. */
static int draw_seq(struct store *s, int64_t *seq, const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    int bad = 0, rc;

    ddb__table(s, DDB__T_META, table);
    if ((rc = ddb__call(s, "UpdateItem",
                        json_pack("{s:s,s:{s:o},s:s,s:{s:o},s:s}", "TableName", table, "Key",
                                  "name", ddb__s_val("seq"), "UpdateExpression", "ADD n :one",
                                  "ExpressionAttributeValues", ":one", ddb__n_val(1),
                                  "ReturnValues", "UPDATED_NEW"),
                        &ans, op)) < 0)
        return rc;
    *seq = ddb__get_n(json_object_get(ans, "Attributes"), "n", &bad);
    json_decref(ans);
    return bad || *seq <= 0 ? CCF_EIO : 0;
}

/* Writes record rec (without its key) at a fresh seq; a seq fenced by a
 * reader in the meantime is skipped for the next. rec is taken. */
static int put_record(struct store *s, json_t *rec, int64_t *seq, const char *op)
{
    char table[DDB__NAME_MAX];
    int rc = CCF_EIO;

    ddb__table(s, DDB__T_CHANGES, table);
    for (int i = 0; i < 8; i++) {
        if ((rc = draw_seq(s, seq, op)) < 0)
            break;
        json_object_set_new(rec, "pk", ddb__s_val(LOG_PK));
        json_object_set_new(rec, "seq", ddb__n_val(*seq));
        json_object_set_new(rec, "wt", ddb__n_val(ccf_now_us()));
        rc = ddb__call(s, "PutItem",
                       json_pack("{s:s,s:O,s:s}", "TableName", table, "Item", rec,
                                 "ConditionExpression", "attribute_not_exists(seq)"),
                       NULL, op);
        if (rc != CCF_ECONFLICT)
            break;
    }
    json_decref(rec);
    return rc;
}

/* The record's common part. detail is taken. */
static json_t *record(const struct ccf_tenant *t, const char *connector_id, const char *job_id,
                      int old_status, int new_status, int64_t at, const char *type, json_t *detail)
{
    char tk[STORE__TENANT_KEY_MAX];
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_t *rec;

    json_decref(detail);
    if (!text)
        return NULL;
    store__tenant_key(t, tk);
    rec = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "tenant", ddb__s_val(tk), "cid",
                    ddb__s_val(connector_id), "os", ddb__n_val(old_status), "ns",
                    ddb__n_val(new_status), "at", ddb__n_val(at), "type", ddb__s_val(type),
                    "detail", ddb__s_val(text));
    free(text);
    if (rec && job_id && *job_id)
        json_object_set_new(rec, "jid", ddb__s_val(job_id));
    return rec;
}

int ddb__event_append(struct store *s, const struct ccf_tenant *t, const char *type,
                      const char *connector_id, const char *job_id, json_t *detail, const char *op)
{
    json_t *rec = record(t, connector_id, job_id, -1, -1, ccf_now_us(), type, detail);
    int64_t seq;
    int rc;

    if (!rec) {
        CCF_LOG_ERROR("store.event_encode_failed", CCF_KV_STR("type", type));
        return CCF_EIO;
    }
    json_object_set_new(rec, "st", ddb__s_val(ST_COMMITTED));
    if ((rc = put_record(s, rec, &seq, op)) < 0) {
        /* The effect stands; its event is lost, never invented. */
        CCF_LOG_WARN("store.event_lost", CCF_KV_STR("backend", "dynamodb"),
                     CCF_KV_STR("type", type), CCF_KV_STR("connector_id", connector_id));
        return rc;
    }
    store__notify(s, false);
    return 0;
}

int ddb__event_connector(struct store *s, const struct ccf_tenant *t, const char *type,
                         const struct ccf_connector *c, const char *op)
{
    int rc = ddb__event_append(s, t, type, c->id, NULL, ccf_connector_summary_json(t, c), op);

    /* The orchestrator reads these too (store_read_connector_changes). */
    if (rc == 0 &&
        (strcmp(type, "connector.created") == 0 || strcmp(type, "connector.updated") == 0))
        store__notify(s, true);
    return rc;
}

/* Step 4: pending -> to. 0 done, CCF_ECONFLICT when it was not pending. */
static int settle(struct store *s, int64_t seq, const char *to, const char *op)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, DDB__T_CHANGES, table);
    return ddb__call(s, "UpdateItem",
                     json_pack("{s:s,s:o,s:s,s:s,s:{s:o,s:o}}", "TableName", table, "Key",
                               log_key(seq), "UpdateExpression",
                               strcmp(to, ST_VOID) == 0 ? "SET st = :to REMOVE tenant, ji"
                                                        : "SET st = :to REMOVE ji",
                               "ConditionExpression", "st = :p", "ExpressionAttributeValues", ":to",
                               ddb__s_val(to), ":p", ddb__s_val(ST_PENDING)),
                     NULL, op);
}

/* Step 3's write of `item` (text of the job item), conditioned on cv (0:
 * the job does not exist; else its version). */
static int job_put(struct store *s, const char *item, int64_t cv, const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *it = json_loads(item, 0, NULL), *req;

    if (!json_is_object(it)) {
        json_decref(it);
        return CCF_EIO;
    }
    ddb__table(s, DDB__T_JOBS, table);
    req = json_pack("{s:s,s:o}", "TableName", table, "Item", it);
    if (cv == 0) {
        json_object_set_new(req, "ConditionExpression",
                            json_string("attribute_not_exists(job_id)"));
    } else {
        json_object_set_new(req, "ConditionExpression", json_string("version = :v"));
        json_object_set_new(req, "ExpressionAttributeValues",
                            json_pack("{s:o}", ":v", ddb__n_val(cv)));
    }
    return ddb__call(s, "PutItem", req, NULL, op);
}

/* Whether the job under (pk, job_id) holds seq in its seqs set. */
static int job_has_seq(struct store *s, const char *pk, const char *job_id, int64_t seq, bool *has,
                       const char *op)
{
    char table[DDB__NAME_MAX], want[24];
    json_t *ans, *set, *v;
    size_t i;
    int rc;

    ddb__table(s, DDB__T_JOBS, table);
    if ((rc = ddb__call(s, "GetItem",
                        json_pack("{s:s,s:{s:o,s:o},s:s,s:b}", "TableName", table, "Key", "pk",
                                  ddb__s_val(pk), "job_id", ddb__s_val(job_id),
                                  "ProjectionExpression", "seqs", "ConsistentRead", 1),
                        &ans, op)) < 0)
        return rc;
    snprintf(want, sizeof(want), "%lld", (long long)seq);
    *has = false;
    set = json_object_get(json_object_get(json_object_get(ans, "Item"), "seqs"), "NS");
    json_array_foreach(set, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            *has = true;
    }
    json_decref(ans);
    return 0;
}

int ddb__change_pending(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                        int old_status, int64_t version_read, json_t *seqs, int64_t *seq,
                        char **item, const char *op)
{
    char table[DDB__NAME_MAX], pk[DDB__JOB_PK_MAX], num[24];
    json_t *rec, *it = NULL, *set;
    char *text = NULL;
    int rc = CCF_EUNAVAIL;

    rec = record(t, j->connector_id, j->id, old_status, (int)j->status, j->updated_at,
                 store__job_event_type(old_status, j->status), ccf_job_json(j));
    if (!rec)
        return CCF_ENOMEM;
    ddb__table(s, DDB__T_CHANGES, table);
    ddb__job_pk(t, j->connector_id, pk);
    for (int i = 0; i < 8; i++) {
        if ((rc = draw_seq(s, seq, op)) < 0)
            break;
        json_decref(it);
        free(text);
        text = NULL;
        if (!(it = ddb__job_item(t, j, version_read + 1))) {
            rc = CCF_ENOMEM;
            break;
        }
        set = seqs ? json_deep_copy(seqs) : json_array();
        snprintf(num, sizeof(num), "%lld", (long long)*seq);
        json_array_append_new(set, json_string(num));
        json_object_set_new(it, "seqs", json_pack("{s:o}", "NS", set));
        if (!(text = json_dumps(it, JSON_COMPACT))) {
            rc = CCF_ENOMEM;
            break;
        }
        json_object_set_new(rec, "pk", ddb__s_val(LOG_PK));
        json_object_set_new(rec, "seq", ddb__n_val(*seq));
        json_object_set_new(rec, "wt", ddb__n_val(ccf_now_us()));
        json_object_set_new(rec, "st", ddb__s_val(ST_PENDING));
        json_object_set_new(rec, "jpk", ddb__s_val(pk));
        json_object_set_new(rec, "ji", ddb__s_val(text));
        json_object_set_new(rec, "cv", ddb__n_val(version_read));
        rc = ddb__call(s, "PutItem",
                       json_pack("{s:s,s:O,s:s}", "TableName", table, "Item", rec,
                                 "ConditionExpression", "attribute_not_exists(seq)"),
                       NULL, op);
        if (rc != CCF_ECONFLICT) /* a seq a reader fenced: the next one */
            break;
    }
    json_decref(rec);
    json_decref(it);
    if (rc < 0) {
        free(text);
        return rc == CCF_ECONFLICT ? CCF_EUNAVAIL : rc;
    }
    *item = text;
    return 0;
}

int ddb__change_job_put(struct store *s, const char *item, int64_t version_read, const char *op)
{
    return job_put(s, item, version_read, op);
}

int ddb__change_settle(struct store *s, int64_t seq, bool committed, const char *op)
{
    return settle(s, seq, committed ? ST_COMMITTED : ST_VOID, op);
}

int ddb__job_write(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                   int old_status, int64_t version_read, json_t *seqs, bool *undoable,
                   const char *op)
{
    char pk[DDB__JOB_PK_MAX];
    char *text;
    int64_t seq;
    bool has;
    int rc;

    *undoable = true;
    /* 1 and 2: the record, pending, with the item it is about to write. */
    if ((rc = ddb__change_pending(s, t, j, old_status, version_read, seqs, &seq, &text, op)) < 0)
        return rc;
    /* From here the record exists: a failure leaves it to a reader. */
    *undoable = false;
    rc = job_put(s, text, version_read, op);
    free(text);
    if (rc == 0) {
        if ((rc = settle(s, seq, ST_COMMITTED, op)) == CCF_ECONFLICT)
            rc = 0; /* a reader settled it first, from the job: committed */
        if (rc == 0)
            store__notify(s, true);
        return rc;
    }
    if (rc != CCF_ECONFLICT)
        return rc; /* unknown: a reader settles it later */
    /* Lost the race: void, unless a reader did this very write first. */
    if ((rc = settle(s, seq, ST_VOID, op)) != CCF_ECONFLICT)
        return rc < 0 ? rc : CCF_ECONFLICT;
    ddb__job_pk(t, j->connector_id, pk);
    if ((rc = job_has_seq(s, pk, j->id, seq, &has, op)) < 0)
        return rc;
    if (has)
        store__notify(s, true);
    return has ? 0 : CCF_ECONFLICT;
}

/* A pending record older than SETTLE_US: its writer is taken for dead.
 * Does its write (harmless if done: the condition fails), then settles it
 * by what the job holds; a terminal status releases the connector, as the
 * writer would have. */
static int settle_pending(struct store *s, json_t *rec, int64_t seq)
{
    const char *op = "settle_change";
    const char *pk = ddb__get_s(rec, "jpk"), *item = ddb__get_s(rec, "ji");
    const char *jid = ddb__get_s(rec, "jid"), *cid = ddb__get_s(rec, "cid");
    const char *tk = ddb__get_s(rec, "tenant");
    int bad = 0;
    int64_t cv = ddb__get_n(rec, "cv", &bad), ns = ddb__get_n(rec, "ns", &bad);
    struct ccf_tenant t;
    bool has = false;
    int rc;

    if (bad || !pk || !item || !jid || !cid || !tk || store__tenant_parse(tk, &t) < 0) {
        /* Not one this backend wrote: void, or the log would stop here. */
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", "changes"), CCF_KV_INT("seq", seq));
        rc = settle(s, seq, ST_VOID, op);
        return rc == CCF_ECONFLICT ? 0 : rc;
    }
    rc = job_put(s, item, cv, op);
    if (rc == 0)
        has = true;
    else if (rc != CCF_ECONFLICT || (rc = job_has_seq(s, pk, jid, seq, &has, op)) < 0)
        return rc;
    CCF_LOG_WARN("store.recovered", CCF_KV_STR("backend", "dynamodb"), CCF_KV_STR("job_id", jid),
                 CCF_KV_INT("seq", seq),
                 CCF_KV_STR("action", has ? "change committed" : "change voided"));
    rc = settle(s, seq, has ? ST_COMMITTED : ST_VOID, op);
    if (rc < 0 && rc != CCF_ECONFLICT)
        return rc;
    if (has && ns >= 0 && ns < CCF_JOB_STATUS_COUNT &&
        ccf_job_status_terminal((enum ccf_job_status)ns) &&
        (rc = ddb__release_connector(s, &t, cid, jid, op)) < 0)
        return rc;
    if (has)
        store__notify(s, true);
    return 0;
}

/* A seq drawn but never written, behind a record older than SETTLE_US:
 * a void record there; its writer, if alive, then draws another. */
static int fence_gap(struct store *s, int64_t seq)
{
    char table[DDB__NAME_MAX];
    int rc;

    ddb__table(s, DDB__T_CHANGES, table);
    rc = ddb__call(s, "PutItem",
                   json_pack("{s:s,s:{s:o,s:o,s:o,s:o},s:s}", "TableName", table, "Item", "pk",
                             ddb__s_val(LOG_PK), "seq", ddb__n_val(seq), "st", ddb__s_val(ST_VOID),
                             "wt", ddb__n_val(ccf_now_us()), "ConditionExpression",
                             "attribute_not_exists(seq)"),
                   NULL, "settle_change");
    return rc == CCF_ECONFLICT ? 0 : rc; /* its writer came after all: read again */
}

/* Walks one page of records after *h, moving *h over the settled ones.
 * 1: read on (a page ended, or something was settled); 0: stopped (the end,
 * or a writer in flight: *blocked). */
static int walk(struct store *s, json_t *items, int64_t *h, bool *blocked)
{
    int64_t now = ccf_now_us();
    json_t *rec;
    size_t i;
    int rc;

    json_array_foreach(items, i, rec)
    {
        int bad = 0;
        int64_t seq = ddb__get_n(rec, "seq", &bad), wt = ddb__get_n(rec, "wt", &bad);
        const char *st = ddb__get_s(rec, "st");
        bool old = now - wt > SETTLE_US;

        if (bad || !st) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("table", "changes"));
            return CCF_EIO;
        }
        if (seq != *h + 1) { /* a gap: a writer between draw and put */
            if (!old) {
                *blocked = true;
                return 0;
            }
            if ((rc = fence_gap(s, *h + 1)) < 0)
                return rc;
            return 1;
        }
        if (strcmp(st, ST_PENDING) == 0) {
            if (!old) {
                *blocked = true;
                return 0;
            }
            if ((rc = settle_pending(s, rec, seq)) < 0)
                return rc;
            return 1;
        }
        *h = seq;
    }
    return json_array_size(items) > 0 ? 1 : 0;
}

/* The horizon, moved as far as the log allows now (and kept in meta for
 * the next reader). *blocked: it stopped at a writer in flight. */
static int advance(struct store *s, int64_t *out, bool *blocked)
{
    const char *op = "read_changes";
    char table[DDB__NAME_MAX];
    int64_t h0, h;
    int rc, more = 1;

    *blocked = false;
    if ((rc = meta_get(s, "horizon", &h0, op)) < 0)
        return rc;
    h = h0;
    ddb__table(s, DDB__T_CHANGES, table);
    while (more == 1) {
        json_t *ans;

        if ((rc = ddb__call(s, "Query",
                            json_pack("{s:s,s:s,s:{s:o,s:o},s:i,s:b}", "TableName", table,
                                      "KeyConditionExpression", "pk = :pk AND seq > :h",
                                      "ExpressionAttributeValues", ":pk", ddb__s_val(LOG_PK), ":h",
                                      ddb__n_val(h), "Limit", PAGE, "ConsistentRead", 1),
                            &ans, op)) < 0)
            return rc;
        more = walk(s, json_object_get(ans, "Items"), &h, blocked);
        json_decref(ans);
        if (more < 0)
            return more;
    }
    if (h > h0 && (rc = meta_raise(s, "horizon", h, op)) < 0)
        return rc;
    *out = h;
    return 0;
}

/* The horizon for read_changes: a writer in flight is waited for (it
 * commits in a round trip or two; a dead one is settled after SETTLE_US),
 * so that the orchestrator, whom nothing else wakes, is not left behind. */
static int advance_waiting(struct store *s, int64_t *h)
{
    bool blocked = true;
    int rc = 0;

    for (int64_t t0 = ccf_now_us(); blocked && ccf_now_us() - t0 < SETTLE_US + 1000000;) {
        if ((rc = advance(s, h, &blocked)) < 0 || !blocked)
            break;
        nanosleep(&(struct timespec){.tv_nsec = WAIT_STEP_NS}, NULL);
    }
    return rc;
}

int ddb__horizon(struct store *s, int64_t *h)
{
    bool blocked;

    return advance(s, h, &blocked);
}

int ddb__settle_now(struct store *s)
{
    int64_t h;

    return advance_waiting(s, &h);
}

int ddb__change_from_item(json_t *rec, struct store_change *out)
{
    const char *tk = ddb__get_s(rec, "tenant"), *cid = ddb__get_s(rec, "cid");
    const char *jid = ddb__get_s(rec, "jid");
    int bad = 0;
    int64_t os = ddb__get_n(rec, "os", &bad), ns = ddb__get_n(rec, "ns", &bad);

    memset(out, 0, sizeof(*out));
    out->seq = ddb__get_n(rec, "seq", &bad);
    out->at = ddb__get_n(rec, "at", &bad);
    if (bad || !tk || store__tenant_parse(tk, &out->tenant) < 0 || !cid ||
        !ccf_connector_id_valid(cid) || !jid || !ccf_job_id_valid(jid) || os < -1 ||
        os >= CCF_JOB_STATUS_COUNT || ns < 0 || ns >= CCF_JOB_STATUS_COUNT) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", "changes"), CCF_KV_INT("seq", out->seq));
        return CCF_EIO;
    }
    memcpy(out->connector_id, cid, strlen(cid) + 1);
    memcpy(out->job_id, jid, strlen(jid) + 1);
    out->old_status = (int)os;
    out->new_status = (enum ccf_job_status)ns;
    return 0;
}

int store_ddb__read_changes(struct store *s, int64_t after_seq, struct store_change *out,
                            size_t max)
{
    const char *op = "read_changes";
    char table[DDB__NAME_MAX];
    json_t *start = NULL;
    int64_t h;
    size_t n = 0;
    int rc;

    if (max == 0)
        return 0;
    if (!out)
        return CCF_EINVAL;
    if (max > INT_MAX)
        max = INT_MAX;
    if ((rc = advance_waiting(s, &h)) < 0)
        return rc;
    if (after_seq >= h)
        return 0;
    ddb__table(s, DDB__T_CHANGES, table);
    do {
        json_t *ans, *rec;
        size_t i;
        json_t *req = json_pack(
            "{s:s,s:s,s:s,s:{s:o,s:o,s:o,s:o,s:o},s:i,s:b}", "TableName", table,
            "KeyConditionExpression", "pk = :pk AND seq BETWEEN :a AND :h", "FilterExpression",
            "st = :c AND ns >= :z", "ExpressionAttributeValues", ":pk", ddb__s_val(LOG_PK), ":a",
            ddb__n_val(after_seq + 1), ":h", ddb__n_val(h), ":c", ddb__s_val(ST_COMMITTED), ":z",
            ddb__n_val(0), "Limit", PAGE, "ConsistentRead", 1);

        if (start)
            json_object_set_new(req, "ExclusiveStartKey", start);
        start = NULL;
        if ((rc = ddb__call(s, "Query", req, &ans, op)) < 0)
            return rc;
        json_array_foreach(json_object_get(ans, "Items"), i, rec)
        {
            if (n == max || (rc = ddb__change_from_item(rec, &out[n])) < 0)
                break;
            n++;
        }
        if (rc == 0 && n < max && json_object_get(ans, "LastEvaluatedKey"))
            start = json_incref(json_object_get(ans, "LastEvaluatedKey"));
        json_decref(ans);
    } while (rc == 0 && start);
    return rc < 0 ? rc : (int)n;
}

static void cursor_name(const char *consumer, char out[CONSUMER_MAX + 8])
{
    snprintf(out, CONSUMER_MAX + 8, "cursor#%s", consumer);
}

int store_ddb__cursor_get(struct store *s, const char *consumer, int64_t *seq)
{
    char name[CONSUMER_MAX + 8];

    if (!consumer || !*consumer || strlen(consumer) > CONSUMER_MAX)
        return CCF_EINVAL;
    cursor_name(consumer, name);
    return meta_get(s, name, seq, "cursor_get");
}

int store_ddb__cursor_set(struct store *s, const char *consumer, int64_t seq)
{
    char name[CONSUMER_MAX + 8], table[DDB__NAME_MAX];

    if (!consumer || !*consumer || strlen(consumer) > CONSUMER_MAX || seq < 0)
        return CCF_EINVAL;
    cursor_name(consumer, name);
    ddb__table(s, DDB__T_META, table);
    return ddb__call(s, "PutItem",
                     json_pack("{s:s,s:{s:o,s:o}}", "TableName", table, "Item", "name",
                               ddb__s_val(name), "n", ddb__n_val(seq)),
                     NULL, "cursor_set");
}

int ddb__pruned_mark(struct store *s, int64_t *out)
{
    return meta_get(s, "pruned", out, "read_events");
}

struct prune {
    int64_t upto, before;
    int64_t kept_min, cut; /* the first kept below the cut; the last seq cut */
    bool young;            /* reached a record at or after `before` */
};

/* Deletes the page's records the prune takes; stops at the first young. */
static int prune_page(struct store *s, json_t *items, struct prune *p)
{
    char table[DDB__NAME_MAX];
    json_t *rec;
    size_t i;
    int rc;

    ddb__table(s, DDB__T_CHANGES, table);
    json_array_foreach(items, i, rec)
    {
        int bad = 0;
        int64_t seq = ddb__get_n(rec, "seq", &bad), at = ddb__get_n(rec, "at", NULL);
        int64_t ns = ddb__get_n(rec, "ns", NULL);
        const char *st = ddb__get_s(rec, "st");
        bool is_void = st && strcmp(st, ST_VOID) == 0;

        if (bad)
            return CCF_EIO;
        if (!is_void && at >= p->before) {
            p->young = true;
            return 0;
        }
        /* A job change the orchestrator has not acked is still work. */
        if (!is_void && ns >= 0 && seq > p->upto) {
            if (p->kept_min == 0)
                p->kept_min = seq;
            continue;
        }
        if ((rc = ddb__call(s, "DeleteItem",
                            json_pack("{s:s,s:o}", "TableName", table, "Key", log_key(seq)), NULL,
                            "prune_changes")) < 0)
            return rc;
        p->cut = seq;
    }
    return 0;
}

/* Records written before `before`, oldest first up to the first young one
 * and never past the horizon; job changes only up to upto. The expiry mark
 * ("pruned") goes just below the first record kept among those cut. */
int store_ddb__prune_changes(struct store *s, int64_t upto, int64_t before)
{
    const char *op = "prune_changes";
    struct prune p = {.upto = upto, .before = before};
    char table[DDB__NAME_MAX];
    json_t *start = NULL;
    int64_t h;
    int rc;

    if ((rc = ddb__horizon(s, &h)) < 0)
        return rc;
    ddb__table(s, DDB__T_CHANGES, table);
    do {
        json_t *ans;
        json_t *req = json_pack("{s:s,s:s,s:{s:o,s:o},s:s,s:i,s:b}", "TableName", table,
                                "KeyConditionExpression", "pk = :pk AND seq <= :h",
                                "ExpressionAttributeValues", ":pk", ddb__s_val(LOG_PK), ":h",
                                ddb__n_val(h), "ProjectionExpression", "seq, st, #at, ns", "Limit",
                                PAGE, "ConsistentRead", 1);

        json_object_set_new(req, "ExpressionAttributeNames", json_pack("{s:s}", "#at", "at"));
        if (start)
            json_object_set_new(req, "ExclusiveStartKey", start);
        start = NULL;
        if ((rc = ddb__call(s, "Query", req, &ans, op)) < 0)
            return rc;
        rc = prune_page(s, json_object_get(ans, "Items"), &p);
        if (rc == 0 && !p.young && json_object_get(ans, "LastEvaluatedKey"))
            start = json_incref(json_object_get(ans, "LastEvaluatedKey"));
        json_decref(ans);
    } while (rc == 0 && start);
    if (rc < 0 || p.cut == 0)
        return rc;
    return meta_raise(s, "pruned", p.kept_min && p.kept_min < p.cut ? p.kept_min - 1 : p.cut, op);
}
