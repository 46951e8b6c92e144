/* audit.c: the DynamoDB backend's audit log (PREFIX-audit): a record per
 * audited request and per refused one, each tenant's records in seq order
 * below a horizon, expiry and pruning (docs/DECISIONS.md, "The audit log
 * on DynamoDB"). The ordered log itself (seq, pending, committed or void,
 * the horizon, fencing, pruning) is seqlog.c's; what is this file's: the
 * records' fields, when one is written, and how a stale one is settled.
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
#include "store/dynamodb/seqlog.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define SETTLE_US 10000000 /* a writer this late is taken for dead */

static int settle_dead(struct store *s, json_t *it, int64_t seq);

static const struct ddb__seqlog audit_log = {
    .table = DDB__T_AUDIT,
    .pk = "a",
    .m_seq = "aseq",
    .m_horizon = "ahorizon",
    .m_pruned = "apruned",
    .name = "audit",
    .settle_op = "settle_audit",
    .stale_us = SETTLE_US,
    .settle_stale = settle_dead,
};

/* The audited request running on this thread (one at a time: fn runs on
 * the request's own thread, and this store has no group commit). */
static _Thread_local struct {
    struct store *s;
    const struct store_audit *rec; /* what api_handle filled before fn */
    int64_t seq;                   /* the pending record's; 0: none yet */
    bool busy;                     /* audit.c's own calls: not an effect */
} cur;

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

/* r's fields as an item (no key, no state): tenant under `tname` (tenant
 * when committed, so that the index by_tenant holds it; ptenant while
 * pending). at: 0 for now. */
static json_t *record_item(const struct store_audit *r, const char *tname, int64_t at)
{
    char tk[STORE__TENANT_KEY_MAX];
    json_t *it = json_object();

    if (!it)
        return NULL;
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

struct fresh {
    const struct store_audit *r;
    const char *st;
};

/* r's record in state st, the same at any seq. */
static json_t *fresh_record(void *ctx, int64_t seq)
{
    const struct fresh *f = ctx;
    bool pending = strcmp(f->st, DDB__ST_PENDING) == 0;
    json_t *it = record_item(f->r, pending ? "ptenant" : "tenant", pending ? 0 : f->r->at);

    (void)seq;
    if (!it)
        return NULL;
    if (pending && !has_tenant(f->r))
        json_object_del(it, "ptenant"); /* unknown yet: voided if its writer dies */
    json_object_set_new(it, "st", ddb__s_val(f->st));
    return it;
}

/* r's record at a fresh seq; a seq a reader fenced meanwhile is skipped. */
static int put_fresh(struct store *s, const struct store_audit *r, const char *st, int64_t *seq,
                     const char *op)
{
    struct fresh f = {.r = r, .st = st};

    return ddb__seqlog_put(s, &audit_log, fresh_record, &f, seq, op);
}

/* Pending -> committed with r (at: r->at, or now), or void. 0 done;
 * CCF_ECONFLICT when it was no longer pending (a reader settled it). */
static int settle(struct store *s, int64_t seq, const struct store_audit *r, const char *op)
{
    json_t *it;

    if (!r)
        return ddb__seqlog_mark(s, &audit_log, seq, false, "ptenant", op);
    if (!(it = record_item(r, "tenant", r->at)))
        return CCF_ENOMEM;
    return ddb__seqlog_replace(s, &audit_log, seq, it, op);
}

/* ---- the write side ---- */

int ddb__audit_before_write(struct store *s, const char *op)
{
    int rc;

    if (cur.s != s || cur.busy || cur.seq)
        return 0; /* not audited here, audit.c's own, or already recorded */
    cur.busy = true;
    rc = put_fresh(s, cur.rec, DDB__ST_PENDING, &cur.seq, op);
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
        if ((rc = put_fresh(s, &recs[i], DDB__ST_COMMITTED, &seq, "audit_append")) < 0)
            return rc;
    }
    return 0;
}

int ddb__audit_put_pending(struct store *s, const struct store_audit *rec, int64_t *seq)
{
    return put_fresh(s, rec, DDB__ST_PENDING, seq, "audit");
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

/* A pending record older than SETTLE_US (seqlog's settle_stale): its
 * writer died after it began
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

/* The horizon, moved as far as the log allows now (kept in meta). */
static int advance(struct store *s, int64_t *h, const char *op)
{
    bool blocked;

    return ddb__seqlog_horizon(s, &audit_log, h, &blocked, op);
}

/* ---- the tenant's reads ---- */

/* The tenant's last seq at or below h (0: none). */
static int tenant_last(struct store *s, const char *tk, int64_t h, int64_t *last)
{
    json_t *ans = NULL, *it;
    int bad = 0, rc;

    *last = 0;
    if (h <= 0)
        return 0;
    if ((rc = ddb__call(s, "Query", ddb__seqlog_tenant_query(s, &audit_log, tk, 1, h, 1, true),
                        &ans, "read_audit")) < 0)
        return rc;
    if ((it = json_array_get(json_object_get(ans, "Items"), 0)))
        *last = ddb__get_n(it, "seq", &bad);
    json_decref(ans);
    return bad ? CCF_EIO : 0;
}

struct reading {
    struct store_audit *out;
    size_t n, max;
};

/* A page's records into out until max; the next page asks for what is
 * left. */
static int take_page(void *ctx, json_t *ans, json_t *req)
{
    struct reading *r = ctx;
    json_t *it;
    size_t i;
    int rc;

    json_array_foreach(json_object_get(ans, "Items"), i, it)
    {
        if (r->n == r->max)
            break;
        if ((rc = ddb__audit_from_item(it, &r->out[r->n])) < 0)
            return rc;
        r->n++;
    }
    if (r->n == r->max)
        return DDB__STOP;
    json_object_set_new(req, "Limit", json_integer((json_int_t)(r->max - r->n)));
    return 0;
}

int store_ddb__read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                          struct store_audit *out, int64_t *next)
{
    const char *op = "read_audit";
    char tk[STORE__TENANT_KEY_MAX];
    struct reading r = {.out = out, .max = max};
    int64_t h = 0, last = 0;
    int rc;

    if (max == 0 || max > INT_MAX || !out || after < -1)
        return CCF_EINVAL;
    store__tenant_key(t, tk);
    if ((rc = ddb__seqlog_from(s, &audit_log, after, &after, op)) < 0 ||
        (rc = advance(s, &h, op)) < 0)
        return rc;
    if (after < h &&
        (rc = ddb__each_page(s, "Query",
                             ddb__seqlog_tenant_query(s, &audit_log, tk, after + 1, h, max, false),
                             take_page, &r, op)) < 0)
        return rc;
    if (r.n == max) {
        *next = out[r.n - 1].seq;
        return (int)r.n;
    }
    /* A short read: the tenant's last below the horizon, so that a record
     * of another tenant never moves this tenant's cursor. */
    if ((rc = tenant_last(s, tk, h, &last)) < 0)
        return rc;
    *next = last > after ? last : after;
    return (int)r.n;
}

/* ---- pruning ---- */

/* seqlog's prune judge: settled records written before `before` (a fenced
 * gap has no `at`: its `wt`), up to the first young one. */
static int prune_judge(void *ctx, json_t *it, int64_t seq)
{
    const int64_t *before = ctx;
    int bad = 0;
    int64_t at =
        json_object_get(it, "at") ? ddb__get_n(it, "at", &bad) : ddb__get_n(it, "wt", &bad);

    (void)seq;
    if (bad) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", "audit"));
        return CCF_EIO;
    }
    return at >= *before ? DDB__PRUNE_STOP : DDB__PRUNE_CUT;
}

int store_ddb__prune_audit(struct store *s, int64_t before)
{
    static const char *const attrs[] = {"seq", "at", "wt", NULL};

    return ddb__seqlog_prune(s, &audit_log, attrs, prune_judge, &before, "prune_audit");
}
