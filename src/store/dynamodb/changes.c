/* changes.c: the DynamoDB backend's change log (PREFIX-changes): the
 * records job writes and events make, read_changes, the consumers' cursors
 * and the log's pruning policy. The ordered log itself (seq, pending,
 * committed or void, the horizon, fencing, pruning) is seqlog.c's; what is
 * this file's: the records' fields, how a stale one is settled, and
 * read_changes' wait.
 *
 * There are no transactions (dynalite has none), so a change record and
 * the write it records are two items. The order that keeps them honest:
 *
 *   1. seq from an atomic counter (meta item "seq");
 *   2. the record, `pending`, holding the job item it is about to write and
 *      that write's condition (attribute_not_exists or version = v);
 *   3. the job's conditional write, which adds seq to the job's `seqs` set;
 *   4. the record marked `committed`, or `void` if 3's condition failed.
 *
 * A pending record older than SETTLE_US is settled by the reader (seqlog
 * hands it to settle_pending): by doing its write itself (the same item,
 * the same condition: at most one of the writer and the reader succeeds),
 * then `committed` if the job's seqs holds its seq, else `void`. A gap is
 * fenced void by seqlog (the slow writer then fails and draws another
 * seq). So a kill -9 between any two calls leaves no lost change, no
 * phantom event, no job written twice (docs/DECISIONS.md).
 *
 * Events that are not job changes (connector.*, checkpoint.*, schedule.*)
 * are written after their effect, already committed (a crash in between
 * loses the event, never invents one). Each tenant's events are read by
 * the global index by_tenant (hash tenant, range seq; void records drop
 * out of it: voiding removes `tenant`). */
#include "store/dynamodb/seqlog.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/validate.h"

#define SETTLE_US    5000000   /* a writer this late is taken for dead */
#define WAIT_STEP_NS 20000000L /* read_changes' wait for a writer in flight */
#define PAGE         200
#define CONSUMER_MAX 200

static int settle_pending(struct store *s, json_t *rec, int64_t seq);

/* The meta items' names are those of the tables made before seqlog. */
const struct ddb__seqlog ddb__changes_log = {
    .table = DDB__T_CHANGES,
    .pk = "c",
    .m_seq = "seq",
    .m_horizon = "horizon",
    .m_pruned = "pruned",
    .name = "changes",
    .settle_op = "settle_change",
    .stale_us = SETTLE_US,
    .settle_stale = settle_pending,
};

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

/* An event's record is the same at any seq. */
static json_t *same_record(void *rec, int64_t seq)
{
    (void)seq;
    return json_incref(rec);
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
    json_object_set_new(rec, "st", ddb__s_val(DDB__ST_COMMITTED));
    rc = ddb__seqlog_put(s, &ddb__changes_log, same_record, rec, &seq, op);
    json_decref(rec);
    if (rc < 0) {
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

/* Step 4: pending -> committed or void (which drops the record out of
 * by_tenant). 0 done, CCF_ECONFLICT when it was not pending. */
static int settle(struct store *s, int64_t seq, bool committed, const char *op)
{
    return ddb__seqlog_mark(s, &ddb__changes_log, seq, committed, committed ? "ji" : "tenant, ji",
                            op);
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

/* A job change's record at one seq: the job item it is about to write
 * holds that seq in its seqs set, so it is made again for each seq. */
struct pending {
    const struct ccf_tenant *t;
    const struct ccf_job *j;
    int64_t version_read;
    json_t *seqs; /* the job's set as read (NS values), or NULL */
    json_t *rec;  /* the record's common part */
    char *text;   /* the job item of the last seq tried */
};

static json_t *pending_record(void *ctx, int64_t seq)
{
    struct pending *p = ctx;
    char pk[DDB__JOB_PK_MAX], num[24];
    json_t *it, *set;

    free(p->text);
    p->text = NULL;
    if (!(it = ddb__job_item(p->t, p->j, p->version_read + 1)))
        return NULL;
    set = p->seqs ? json_deep_copy(p->seqs) : json_array();
    snprintf(num, sizeof(num), "%lld", (long long)seq);
    json_array_append_new(set, json_string(num));
    json_object_set_new(it, "seqs", json_pack("{s:o}", "NS", set));
    p->text = json_dumps(it, JSON_COMPACT);
    json_decref(it);
    if (!p->text)
        return NULL;
    ddb__job_pk(p->t, p->j->connector_id, pk);
    json_object_set_new(p->rec, "st", ddb__s_val(DDB__ST_PENDING));
    json_object_set_new(p->rec, "jpk", ddb__s_val(pk));
    json_object_set_new(p->rec, "ji", ddb__s_val(p->text));
    json_object_set_new(p->rec, "cv", ddb__n_val(p->version_read));
    return json_incref(p->rec);
}

int ddb__change_pending(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                        int old_status, int64_t version_read, json_t *seqs, int64_t *seq,
                        char **item, const char *op)
{
    struct pending p = {.t = t, .j = j, .version_read = version_read, .seqs = seqs};
    int rc;

    p.rec = record(t, j->connector_id, j->id, old_status, (int)j->status, j->updated_at,
                   store__job_event_type(old_status, j->status), ccf_job_json(j));
    if (!p.rec)
        return CCF_ENOMEM;
    rc = ddb__seqlog_put(s, &ddb__changes_log, pending_record, &p, seq, op);
    json_decref(p.rec);
    if (rc < 0) {
        free(p.text);
        /* Not a condition of the job's: seqs fenced again and again. */
        return rc == CCF_ECONFLICT ? CCF_EUNAVAIL : rc;
    }
    *item = p.text;
    return 0;
}

int ddb__change_job_put(struct store *s, const char *item, int64_t version_read, const char *op)
{
    return job_put(s, item, version_read, op);
}

int ddb__change_settle(struct store *s, int64_t seq, bool committed, const char *op)
{
    return settle(s, seq, committed, op);
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
        if ((rc = settle(s, seq, true, op)) == CCF_ECONFLICT)
            rc = 0; /* a reader settled it first, from the job: committed */
        if (rc == 0)
            store__notify(s, true);
        return rc;
    }
    if (rc != CCF_ECONFLICT)
        return rc; /* unknown: a reader settles it later */
    /* Lost the race: void, unless a reader did this very write first. */
    if ((rc = settle(s, seq, false, op)) != CCF_ECONFLICT)
        return rc < 0 ? rc : CCF_ECONFLICT;
    ddb__job_pk(t, j->connector_id, pk);
    if ((rc = job_has_seq(s, pk, j->id, seq, &has, op)) < 0)
        return rc;
    if (has)
        store__notify(s, true);
    return has ? 0 : CCF_ECONFLICT;
}

/* A pending record older than SETTLE_US (seqlog's settle_stale): its
 * writer is taken for dead.
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
        rc = settle(s, seq, false, op);
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
    rc = settle(s, seq, has, op);
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

/* The horizon for read_changes: a writer in flight is waited for (it
 * commits in a round trip or two; a dead one is settled after SETTLE_US),
 * so that the orchestrator, whom nothing else wakes, is not left behind. */
static int advance_waiting(struct store *s, int64_t *h)
{
    bool blocked = true;
    int rc = 0;

    for (int64_t t0 = ccf_now_us(); blocked && ccf_now_us() - t0 < SETTLE_US + 1000000;) {
        if ((rc = ddb__seqlog_horizon(s, &ddb__changes_log, h, &blocked, "read_changes")) < 0 ||
            !blocked)
            break;
        nanosleep(&(struct timespec){.tv_nsec = WAIT_STEP_NS}, NULL);
    }
    return rc;
}

int ddb__horizon(struct store *s, int64_t *h)
{
    bool blocked;

    return ddb__seqlog_horizon(s, &ddb__changes_log, h, &blocked, "read_changes");
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

struct changes_query {
    ddb__change_decode_fn decode;
    char *out;
    size_t size, max, n;
};

/* Decodes rec into the next element; stops once max (> 0) are there. */
static int decode_next(void *ctx, json_t *rec)
{
    struct changes_query *q = ctx;
    int rc;

    if ((rc = q->decode(rec, q->out + q->n * q->size)) < 0)
        return rc;
    return ++q->n == q->max ? DDB__STOP : 0;
}

int ddb__changes_query(struct store *s, int64_t after_seq, int64_t h, const char *filter,
                       json_t *values, json_t *names, ddb__change_decode_fn decode, void *out,
                       size_t size, size_t max, const char *op)
{
    char table[DDB__NAME_MAX], expr[256];
    struct changes_query q = {.decode = decode, .out = out, .size = size, .max = max};
    json_t *req;
    int rc;

    snprintf(expr, sizeof(expr), "st = :c AND (%s)", filter);
    json_object_set_new(values, ":pk", ddb__s_val(ddb__changes_log.pk));
    json_object_set_new(values, ":a", ddb__n_val(after_seq + 1));
    json_object_set_new(values, ":h", ddb__n_val(h));
    json_object_set_new(values, ":c", ddb__s_val(DDB__ST_COMMITTED));
    ddb__table(s, DDB__T_CHANGES, table);
    req = json_pack("{s:s,s:s,s:s,s:O,s:i,s:b}", "TableName", table, "KeyConditionExpression",
                    "pk = :pk AND seq BETWEEN :a AND :h", "FilterExpression", expr,
                    "ExpressionAttributeValues", values, "Limit", PAGE, "ConsistentRead", 1);
    if (req && names)
        json_object_set(req, "ExpressionAttributeNames", names);
    rc = ddb__each_item(s, "Query", req, decode_next, &q, op);
    json_decref(values);
    json_decref(names);
    return rc < 0 ? rc : (int)q.n;
}

static int change_decode(json_t *rec, void *out)
{
    return ddb__change_from_item(rec, out);
}

int store_ddb__read_changes(struct store *s, int64_t after_seq, struct store_change *out,
                            size_t max)
{
    int64_t h;
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
    return ddb__changes_query(s, after_seq, h, "ns >= :z", json_pack("{s:o}", ":z", ddb__n_val(0)),
                              NULL, change_decode, out, sizeof(*out), max, "read_changes");
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
    return ddb__meta_get(s, name, seq, "cursor_get");
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

struct prune_by {
    int64_t upto, before;
};

/* seqlog's prune judge: void records always go; others until the first
 * written at or after `before`; job changes only up to the ack. */
static int prune_judge(void *ctx, json_t *rec, int64_t seq)
{
    const struct prune_by *p = ctx;
    int64_t at = ddb__get_n(rec, "at", NULL), ns = ddb__get_n(rec, "ns", NULL);
    const char *st = ddb__get_s(rec, "st");

    if (st && strcmp(st, DDB__ST_VOID) == 0)
        return DDB__PRUNE_CUT;
    if (at >= p->before)
        return DDB__PRUNE_STOP;
    /* A job change the orchestrator has not acked is still work. */
    return ns >= 0 && seq > p->upto ? DDB__PRUNE_KEEP : DDB__PRUNE_CUT;
}

/* Records written before `before`, oldest first up to the first young one
 * and never past the horizon; job changes only up to upto. The expiry mark
 * ("pruned") goes just below the first record kept among those cut. */
int store_ddb__prune_changes(struct store *s, int64_t upto, int64_t before)
{
    static const char *const attrs[] = {"seq", "st", "at", "ns", NULL};
    struct prune_by p = {.upto = upto, .before = before};

    return ddb__seqlog_prune(s, &ddb__changes_log, attrs, prune_judge, &p, "prune_changes");
}
