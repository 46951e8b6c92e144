/* audit.c: the DynamoDB backend's audit log (PREFIX-audit): a record per
 * audited request and per refused one, each tenant's records in seq order
 * below a horizon, expiry and pruning (docs/DECISIONS.md, "The audit log
 * on DynamoDB").
 *
 * There is no transaction to put a record in with its effect, and the
 * effect (store_audited_write's fn) is opaque. So the record is written
 * before the effect's first write, by that write: while a thread runs an
 * audited fn, ddb__call asks ddb__audit_before_write before its first
 * single-item write, which draws a seq and puts the record `pending` (a
 * failure refuses the write: no effect without its record). After fn the
 * record is committed (its status set) or void. A fn that wrote nothing
 * gets one committed put, as a refusal does.
 *
 * Readers never read past the horizon: every seq up to it settled. A
 * pending record or a gap (a seq drawn, not put) younger than SETTLE_US
 * stops it (a writer in flight); older, its writer is taken for dead: a gap
 * gets a void record (attribute_not_exists: the slow writer's put fails and
 * it draws another before any effect), a pending record is committed with
 * status 500 InternalFailure (its request began writing and never
 * answered). */
#include "store/dynamodb/ddb_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define LOG_PK       "a"      /* one partition: seq order is one Query */
#define SETTLE_US    10000000 /* a writer this late is taken for dead */
#define PAGE         200
#define ST_PENDING   "p"
#define ST_COMMITTED "c"
#define ST_VOID      "v"
#define M_SEQ        "aseq"
#define M_HORIZON    "ahorizon"
#define M_PRUNED     "apruned"

/* The audited request running on this thread (one at a time: fn runs on
 * the request's own thread, and this store has no group commit). */
static _Thread_local struct {
    struct store *s;
    const struct store_audit *rec; /* what api_handle filled before fn */
    int64_t seq;                   /* the pending record's; 0: none yet */
    bool busy;                     /* audit.c's own calls: not an effect */
} cur;

static json_t *log_key(int64_t seq)
{
    return json_pack("{s:o,s:o}", "pk", ddb__s_val(LOG_PK), "seq", ddb__n_val(seq));
}

/* ---- meta numbers (the counter, the horizon, the expiry mark) ---- */

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

/* Raises meta item `name` to v, never lowers it. */
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

/* The next seq: never reused, never lower, even after a full prune. */
static int draw_seq(struct store *s, int64_t *seq, const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    int bad = 0, rc;

    ddb__table(s, DDB__T_META, table);
    if ((rc = ddb__call(s, "UpdateItem",
                        json_pack("{s:s,s:{s:o},s:s,s:{s:o},s:s}", "TableName", table, "Key",
                                  "name", ddb__s_val(M_SEQ), "UpdateExpression", "ADD n :one",
                                  "ExpressionAttributeValues", ":one", ddb__n_val(1),
                                  "ReturnValues", "UPDATED_NEW"),
                        &ans, op)) < 0)
        return rc;
    *seq = ddb__get_n(json_object_get(ans, "Attributes"), "n", &bad);
    json_decref(ans);
    return bad || *seq <= 0 ? CCF_EIO : 0;
}

/* ---- records ---- */

/* v as DynamoDB takes a string: bytes past ASCII become '?' (a refused
 * request's access key id is as sent, and a string must be UTF-8). */
static json_t *ascii_val(const char *in)
{
    char buf[STORE_AUDIT_KEY_MAX + 1];
    size_t i = 0;

    for (; in[i] && i + 1 < sizeof(buf); i++)
        buf[i] = (unsigned char)in[i] < 0x80 ? in[i] : '?';
    buf[i] = '\0';
    return ddb__s_val(buf);
}

static void set_opt(json_t *it, const char *name, const char *v)
{
    if (v[0])
        json_object_set_new(it, name, ascii_val(v));
}

/* r's fields as an item at seq (no state): tenant under `tname` (tenant
 * when committed, so that the index by_tenant holds it; ptenant while
 * pending). at: 0 for now. */
static json_t *record_item(const struct store_audit *r, int64_t seq, const char *tname, int64_t at)
{
    char tk[STORE__TENANT_KEY_MAX];
    json_t *it = log_key(seq);

    store__tenant_key(&r->tenant, tk);
    json_object_set_new(it, tname, ddb__s_val(tk));
    set_opt(it, "region", r->tenant.region);
    set_opt(it, "acct", r->tenant.account_id);
    json_object_set_new(it, "at", ddb__n_val(at ? at : ccf_now_us()));
    json_object_set_new(it, "wt", ddb__n_val(ccf_now_us()));
    set_opt(it, "rid", r->request_id);
    set_opt(it, "op", r->operation);
    set_opt(it, "key", r->access_key_id);
    set_opt(it, "pj", r->principal_job);
    set_opt(it, "ip", r->source_ip);
    set_opt(it, "cid", r->connector_id);
    set_opt(it, "jid", r->job_id);
    set_opt(it, "err", r->error_type);
    json_object_set_new(it, "status", ddb__n_val(r->status));
    return it;
}

static bool has_tenant(const struct store_audit *r)
{
    return r->tenant.region[0] && r->tenant.account_id[0];
}

/* Puts item (state set by the caller; taken) at a fresh seq; a seq a
 * reader fenced in the meantime is skipped for the next. */
static int put_fresh(struct store *s, const struct store_audit *r, const char *st, int64_t *seq,
                     const char *op)
{
    char table[DDB__NAME_MAX];
    bool pending = strcmp(st, ST_PENDING) == 0;
    int rc = CCF_EIO;

    ddb__table(s, DDB__T_AUDIT, table);
    for (int i = 0; i < 8; i++) {
        json_t *it;

        if ((rc = draw_seq(s, seq, op)) < 0)
            break;
        it = record_item(r, *seq, pending ? "ptenant" : "tenant", pending ? 0 : r->at);
        if (pending && !has_tenant(r))
            json_object_del(it, "ptenant"); /* unknown yet: voided if its writer dies */
        json_object_set_new(it, "st", ddb__s_val(st));
        rc = ddb__call(s, "PutItem",
                       json_pack("{s:s,s:o,s:s}", "TableName", table, "Item", it,
                                 "ConditionExpression", "attribute_not_exists(seq)"),
                       NULL, op);
        if (rc != CCF_ECONFLICT)
            break;
    }
    return rc;
}

/* Pending -> committed with r (at: r->at, or now), or void. 0 done;
 * CCF_ECONFLICT when it was no longer pending (a reader settled it). */
static int settle(struct store *s, int64_t seq, const struct store_audit *r, const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *it;

    ddb__table(s, DDB__T_AUDIT, table);
    if (!r)
        return ddb__call(s, "UpdateItem",
                         json_pack("{s:s,s:o,s:s,s:s,s:{s:o,s:o}}", "TableName", table, "Key",
                                   log_key(seq), "UpdateExpression", "SET st = :v REMOVE ptenant",
                                   "ConditionExpression", "st = :p", "ExpressionAttributeValues",
                                   ":v", ddb__s_val(ST_VOID), ":p", ddb__s_val(ST_PENDING)),
                         NULL, op);
    it = record_item(r, seq, "tenant", r->at);
    json_object_set_new(it, "st", ddb__s_val(ST_COMMITTED));
    return ddb__call(s, "PutItem",
                     json_pack("{s:s,s:o,s:s,s:{s:o}}", "TableName", table, "Item", it,
                               "ConditionExpression", "st = :p", "ExpressionAttributeValues", ":p",
                               ddb__s_val(ST_PENDING)),
                     NULL, op);
}

/* ---- the write side ---- */

int ddb__audit_before_write(struct store *s, const char *op)
{
    int rc;

    if (cur.s != s || cur.busy || cur.seq)
        return 0; /* not audited here, audit.c's own, or already recorded */
    cur.busy = true;
    rc = put_fresh(s, cur.rec, ST_PENDING, &cur.seq, op);
    cur.busy = false;
    if (rc < 0) {
        cur.seq = 0;
        CCF_LOG_ERROR("store.audit_not_written", CCF_KV_STR("op", op));
    }
    /* Not a condition of the effect's own write: never read as one. */
    return rc == CCF_ECONFLICT ? CCF_EUNAVAIL : rc;
}

int store_ddb__audited_write(struct store *s, int (*fn)(void *ctx, struct store_audit *rec),
                             void *ctx, struct store_audit *rec)
{
    int64_t seq;
    int fn_rc, rc = 0;

    rec->status = 0;
    cur.s = s;
    cur.rec = rec;
    cur.seq = 0;
    cur.busy = false;
    fn_rc = fn(ctx, rec);
    seq = cur.seq;
    cur.s = NULL;
    cur.rec = NULL;
    cur.seq = 0;
    if (seq == 0) { /* fn wrote nothing: a record only if its status says so */
        if (fn_rc >= 0 && rec->status != 0)
            rc = store_ddb__audit_append(s, rec, 1);
        return rc < 0 ? rc : fn_rc;
    }
    rc = settle(s, seq, fn_rc >= 0 && rec->status != 0 ? rec : NULL, "audit");
    if (rc == CCF_ECONFLICT) {
        /* This writer outlived SETTLE_US: a reader settled its record. */
        CCF_LOG_WARN("store.audit_settled_early", CCF_KV_INT("seq", seq));
        rc = 0;
    }
    return rc < 0 ? rc : fn_rc;
}

int store_ddb__audit_append(struct store *s, const struct store_audit *recs, size_t n)
{
    int64_t seq;
    int rc;

    for (size_t i = 0; i < n; i++) {
        if ((rc = put_fresh(s, &recs[i], ST_COMMITTED, &seq, "audit_append")) < 0)
            return rc;
    }
    return 0;
}

int ddb__audit_put_pending(struct store *s, const struct store_audit *rec, int64_t *seq)
{
    return put_fresh(s, rec, ST_PENDING, seq, "audit");
}

int ddb__audit_settle(struct store *s, int64_t seq, const struct store_audit *rec)
{
    return settle(s, seq, rec, "audit");
}

/* ---- decoding (the endpoint is not trusted: fuzz_dynamo) ---- */

static int copy_s(json_t *it, const char *name, char *out, size_t size, bool need)
{
    const char *v = ddb__get_s(it, name);
    size_t n = v ? strlen(v) : 0;

    if ((!v && (need || json_object_get(it, name))) || n >= size)
        return -1;
    memcpy(out, v ? v : "", n + 1);
    return 0;
}

int ddb__audit_from_item(json_t *it, struct store_audit *r)
{
    char region[CCF_REGION_MAX + 2], acct[CCF_ACCOUNT_ID_LEN + 2];
    int bad = 0;

    memset(r, 0, sizeof(*r));
    r->seq = ddb__get_n(it, "seq", &bad);
    r->at = ddb__get_n(it, "at", &bad);
    r->status = (int)ddb__get_n(it, "status", &bad);
    if (bad || r->seq <= 0 || r->at < 0 || r->status < 100 || r->status > 599 ||
        copy_s(it, "region", region, sizeof(region), true) < 0 ||
        copy_s(it, "acct", acct, sizeof(acct), true) < 0 ||
        ccf_tenant_init(&r->tenant, region, acct) < 0 ||
        copy_s(it, "rid", r->request_id, sizeof(r->request_id), false) < 0 ||
        copy_s(it, "op", r->operation, sizeof(r->operation), false) < 0 ||
        copy_s(it, "key", r->access_key_id, sizeof(r->access_key_id), false) < 0 ||
        copy_s(it, "pj", r->principal_job, sizeof(r->principal_job), false) < 0 ||
        copy_s(it, "ip", r->source_ip, sizeof(r->source_ip), false) < 0 ||
        copy_s(it, "cid", r->connector_id, sizeof(r->connector_id), false) < 0 ||
        copy_s(it, "jid", r->job_id, sizeof(r->job_id), false) < 0 ||
        copy_s(it, "err", r->error_type, sizeof(r->error_type), false) < 0) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", "audit"));
        memset(r, 0, sizeof(*r));
        return CCF_EIO;
    }
    return 0;
}

/* ---- the horizon ---- */

/* A seq drawn but never put, behind a record older than SETTLE_US: a void
 * record there; its writer, if alive, draws another before any effect. */
static int fence_gap(struct store *s, int64_t seq)
{
    char table[DDB__NAME_MAX];
    json_t *it = log_key(seq);
    int rc;

    ddb__table(s, DDB__T_AUDIT, table);
    json_object_set_new(it, "st", ddb__s_val(ST_VOID));
    json_object_set_new(it, "wt", ddb__n_val(ccf_now_us()));
    rc = ddb__call(s, "PutItem",
                   json_pack("{s:s,s:o,s:s}", "TableName", table, "Item", it, "ConditionExpression",
                             "attribute_not_exists(seq)"),
                   NULL, "settle_audit");
    return rc == CCF_ECONFLICT ? 0 : rc; /* its writer came after all: read again */
}

/* A pending record older than SETTLE_US: its writer died after it began
 * writing. Committed as a failed request when its tenant is known (its
 * effect may have landed: it must not go unrecorded), else void. */
static int settle_dead(struct store *s, json_t *it, int64_t seq)
{
    struct store_audit r;
    json_t *copy = json_deep_copy(it);
    int rc;

    if (!copy)
        return CCF_ENOMEM;
    json_object_set_new(copy, "status", ddb__n_val(500));
    rc = ddb__get_s(copy, "ptenant") ? ddb__audit_from_item(copy, &r) : CCF_EINVAL;
    json_decref(copy);
    if (rc == 0)
        snprintf(r.error_type, sizeof(r.error_type), "InternalFailure");
    CCF_LOG_WARN("store.audit_settled", CCF_KV_INT("seq", seq),
                 CCF_KV_STR("as", rc == 0 ? "failed request" : "void"));
    rc = settle(s, seq, rc == 0 ? &r : NULL, "settle_audit");
    return rc == CCF_ECONFLICT ? 0 : rc; /* its writer settled it after all */
}

/* Walks one page of records after *h, moving *h over the settled ones.
 * 1: read on; 0: stopped (the end, or a writer in flight). */
static int walk(struct store *s, json_t *items, int64_t *h)
{
    int64_t now = ccf_now_us();
    json_t *it;
    size_t i;
    int rc;

    json_array_foreach(items, i, it)
    {
        int bad = 0;
        int64_t seq = ddb__get_n(it, "seq", &bad), wt = ddb__get_n(it, "wt", &bad);
        const char *st = ddb__get_s(it, "st");
        bool old = now - wt > SETTLE_US;

        if (bad || !st || seq <= *h) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("table", "audit"));
            return CCF_EIO;
        }
        if (seq != *h + 1 || strcmp(st, ST_PENDING) == 0) {
            if (!old)
                return 0;
            rc = seq != *h + 1 ? fence_gap(s, *h + 1) : settle_dead(s, it, seq);
            return rc < 0 ? rc : 1;
        }
        *h = seq;
    }
    return json_array_size(items) > 0 ? 1 : 0;
}

/* The horizon, moved as far as the log allows now (kept in meta). */
static int advance(struct store *s, int64_t *out, const char *op)
{
    char table[DDB__NAME_MAX];
    int64_t h0, h;
    int rc, more = 1;

    if ((rc = meta_get(s, M_HORIZON, &h0, op)) < 0)
        return rc;
    h = h0;
    ddb__table(s, DDB__T_AUDIT, table);
    while (more == 1) {
        json_t *ans;

        if ((rc = ddb__call(s, "Query",
                            json_pack("{s:s,s:s,s:{s:o,s:o},s:i,s:b}", "TableName", table,
                                      "KeyConditionExpression", "pk = :pk AND seq > :h",
                                      "ExpressionAttributeValues", ":pk", ddb__s_val(LOG_PK), ":h",
                                      ddb__n_val(h), "Limit", PAGE, "ConsistentRead", 1),
                            &ans, op)) < 0)
            return rc;
        more = walk(s, json_object_get(ans, "Items"), &h);
        json_decref(ans);
        if (more < 0)
            return more;
    }
    if (h > h0 && (rc = meta_raise(s, M_HORIZON, h, op)) < 0)
        return rc;
    *out = h;
    return 0;
}

/* ---- the tenant's reads ---- */

/* One Query of the index by_tenant: seq in [lo, hi], up to limit items,
 * oldest first unless backward; from *start (taken, replaced by the next
 * page's start or NULL). */
static int query_tenant(struct store *s, const char *tk, int64_t lo, int64_t hi, size_t limit,
                        bool backward, json_t **start, json_t **ans)
{
    char table[DDB__NAME_MAX];
    json_t *req;
    int rc;

    ddb__table(s, DDB__T_AUDIT, table);
    req =
        json_pack("{s:s,s:s,s:s,s:{s:o,s:o,s:o},s:i,s:b}", "TableName", table, "IndexName",
                  "by_tenant", "KeyConditionExpression", "tenant = :t AND seq BETWEEN :lo AND :hi",
                  "ExpressionAttributeValues", ":t", ddb__s_val(tk), ":lo", ddb__n_val(lo), ":hi",
                  ddb__n_val(hi), "Limit", (int)limit, "ScanIndexForward", !backward);
    if (req && *start)
        json_object_set(req, "ExclusiveStartKey", *start);
    json_decref(*start);
    *start = NULL;
    if ((rc = ddb__call(s, "Query", req, ans, "read_audit")) < 0)
        return rc;
    *start = json_incref(json_object_get(*ans, "LastEvaluatedKey"));
    return 0;
}

/* The tenant's last seq at or below h (0: none). */
static int tenant_last(struct store *s, const char *tk, int64_t h, int64_t *last)
{
    json_t *start = NULL, *ans = NULL, *it;
    int bad = 0, rc;

    *last = 0;
    if (h <= 0)
        return 0;
    if ((rc = query_tenant(s, tk, 1, h, 1, true, &start, &ans)) < 0)
        return rc;
    json_decref(start);
    if ((it = json_array_get(json_object_get(ans, "Items"), 0)))
        *last = ddb__get_n(it, "seq", &bad);
    json_decref(ans);
    return bad ? CCF_EIO : 0;
}

int store_ddb__read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                          struct store_audit *out, int64_t *next)
{
    const char *op = "read_audit";
    char tk[STORE__TENANT_KEY_MAX];
    int64_t pruned = 0, h = 0, last = 0;
    json_t *start = NULL;
    size_t n = 0;
    int rc;

    if (max == 0 || max > INT_MAX || !out || after < -1)
        return CCF_EINVAL;
    store__tenant_key(t, tk);
    if ((rc = meta_get(s, M_PRUNED, &pruned, op)) < 0)
        return rc;
    if (after >= 0 && after < pruned)
        return CCF_EEXPIRED;
    if (after < pruned)
        after = pruned;
    if ((rc = advance(s, &h, op)) < 0)
        return rc;
    while (n < max && after < h) {
        json_t *ans = NULL, *it;
        size_t i;

        if ((rc = query_tenant(s, tk, after + 1, h, max - n, false, &start, &ans)) < 0)
            break;
        json_array_foreach(json_object_get(ans, "Items"), i, it)
        {
            if (n < max && (rc = ddb__audit_from_item(it, &out[n])) == 0)
                n++;
            if (rc < 0)
                break;
        }
        json_decref(ans);
        if (rc < 0 || !start)
            break;
    }
    json_decref(start);
    if (rc < 0)
        return rc;
    if (n == max) {
        *next = out[n - 1].seq;
        return (int)n;
    }
    /* A short read: the tenant's last below the horizon, so that a record
     * of another tenant never moves this tenant's cursor. */
    if ((rc = tenant_last(s, tk, h, &last)) < 0)
        return rc;
    *next = last > after ? last : after;
    return (int)n;
}

/* ---- pruning ---- */

/* Deletes the page's settled records written before `before`; stops at the
 * first young one or at the horizon. 1: read on; 0: done. */
static int prune_page(struct store *s, json_t *items, int64_t before, int64_t h, int64_t *cut)
{
    char table[DDB__NAME_MAX];
    json_t *it;
    size_t i;
    int rc;

    ddb__table(s, DDB__T_AUDIT, table);
    json_array_foreach(items, i, it)
    {
        int bad = 0;
        int64_t seq = ddb__get_n(it, "seq", &bad);
        int64_t at =
            json_object_get(it, "at") ? ddb__get_n(it, "at", &bad) : ddb__get_n(it, "wt", &bad);

        if (bad) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("table", "audit"));
            return CCF_EIO;
        }
        if (seq > h || at >= before)
            return 0;
        if ((rc = ddb__call(s, "DeleteItem",
                            json_pack("{s:s,s:o}", "TableName", table, "Key", log_key(seq)), NULL,
                            "prune_audit")) < 0)
            return rc;
        *cut = seq;
    }
    return json_array_size(items) > 0 ? 1 : 0;
}

int store_ddb__prune_audit(struct store *s, int64_t before)
{
    const char *op = "prune_audit";
    char table[DDB__NAME_MAX];
    int64_t h, cut = 0;
    int rc, more = 1;

    if ((rc = advance(s, &h, op)) < 0)
        return rc;
    ddb__table(s, DDB__T_AUDIT, table);
    while (more == 1) {
        json_t *ans;

        if ((rc = ddb__call(s, "Query",
                            json_pack("{s:s,s:s,s:{s:o},s:i,s:b}", "TableName", table,
                                      "KeyConditionExpression", "pk = :pk",
                                      "ExpressionAttributeValues", ":pk", ddb__s_val(LOG_PK),
                                      "Limit", PAGE, "ConsistentRead", 1),
                            &ans, op)) < 0)
            return rc;
        more = prune_page(s, json_object_get(ans, "Items"), before, h, &cut);
        json_decref(ans);
        if (more < 0)
            return more;
    }
    return cut > 0 ? meta_raise(s, M_PRUNED, cut, op) : 0;
}
