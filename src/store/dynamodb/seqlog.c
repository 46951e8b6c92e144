/* seqlog.c: the ordered log without transactions under the DynamoDB
 * backend's change log and audit log (seqlog.h says the scheme). */
#include "store/dynamodb/seqlog.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

#define PAGE      200
#define TRIES     8  /* seqs drawn before a put gives up (each one fenced) */
#define ATTRS_MAX 16 /* attributes a prune may project */

int ddb__meta_get(struct store *s, const char *name, int64_t *out, const char *op)
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

int ddb__meta_raise(struct store *s, const char *name, int64_t v, const char *op)
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

json_t *ddb__seqlog_key(const struct ddb__seqlog *l, int64_t seq)
{
    return json_pack("{s:o,s:o}", "pk", ddb__s_val(l->pk), "seq", ddb__n_val(seq));
}

/* Step 1: the next seq from the counter. */
static int draw_seq(struct store *s, const struct ddb__seqlog *l, int64_t *seq, const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    int bad = 0, rc;

    ddb__table(s, DDB__T_META, table);
    if ((rc = ddb__call(s, "UpdateItem",
                        json_pack("{s:s,s:{s:o},s:s,s:{s:o},s:s}", "TableName", table, "Key",
                                  "name", ddb__s_val(l->m_seq), "UpdateExpression", "ADD n :one",
                                  "ExpressionAttributeValues", ":one", ddb__n_val(1),
                                  "ReturnValues", "UPDATED_NEW"),
                        &ans, op)) < 0)
        return rc;
    *seq = ddb__get_n(json_object_get(ans, "Attributes"), "n", &bad);
    json_decref(ans);
    return bad || *seq <= 0 ? CCF_EIO : 0;
}

/* Puts rec (its key and wt set here; taken) unless seq exists. */
static int put_new(struct store *s, const struct ddb__seqlog *l, json_t *rec, int64_t seq,
                   const char *op)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, l->table, table);
    json_object_set_new(rec, "pk", ddb__s_val(l->pk));
    json_object_set_new(rec, "seq", ddb__n_val(seq));
    json_object_set_new(rec, "wt", ddb__n_val(ccf_now_us()));
    return ddb__call(s, "PutItem",
                     json_pack("{s:s,s:o,s:s}", "TableName", table, "Item", rec,
                               "ConditionExpression", "attribute_not_exists(seq)"),
                     NULL, op);
}

int ddb__seqlog_put(struct store *s, const struct ddb__seqlog *l,
                    json_t *(*fill)(void *ctx, int64_t seq), void *ctx, int64_t *seq,
                    const char *op)
{
    int rc = CCF_EIO;

    for (int i = 0; i < TRIES; i++) {
        json_t *rec;

        if ((rc = draw_seq(s, l, seq, op)) < 0)
            break;
        if (!(rec = fill(ctx, *seq)))
            return CCF_ENOMEM;
        if ((rc = put_new(s, l, rec, *seq, op)) != CCF_ECONFLICT)
            break; /* else a seq a reader fenced: the next one */
    }
    return rc;
}

int ddb__seqlog_mark(struct store *s, const struct ddb__seqlog *l, int64_t seq, bool committed,
                     const char *remove, const char *op)
{
    char table[DDB__NAME_MAX], expr[128];

    if (snprintf(expr, sizeof(expr), "SET st = :to%s%s", remove ? " REMOVE " : "",
                 remove ? remove : "") >= (int)sizeof(expr))
        return CCF_EINVAL;
    ddb__table(s, l->table, table);
    return ddb__call(s, "UpdateItem",
                     json_pack("{s:s,s:o,s:s,s:s,s:{s:o,s:o}}", "TableName", table, "Key",
                               ddb__seqlog_key(l, seq), "UpdateExpression", expr,
                               "ConditionExpression", "st = :p", "ExpressionAttributeValues", ":to",
                               ddb__s_val(committed ? DDB__ST_COMMITTED : DDB__ST_VOID), ":p",
                               ddb__s_val(DDB__ST_PENDING)),
                     NULL, op);
}

int ddb__seqlog_replace(struct store *s, const struct ddb__seqlog *l, int64_t seq, json_t *item,
                        const char *op)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, l->table, table);
    json_object_set_new(item, "pk", ddb__s_val(l->pk));
    json_object_set_new(item, "seq", ddb__n_val(seq));
    json_object_set_new(item, "st", ddb__s_val(DDB__ST_COMMITTED));
    return ddb__call(s, "PutItem",
                     json_pack("{s:s,s:o,s:s,s:{s:o}}", "TableName", table, "Item", item,
                               "ConditionExpression", "st = :p", "ExpressionAttributeValues", ":p",
                               ddb__s_val(DDB__ST_PENDING)),
                     NULL, op);
}

/* A seq drawn but never put, behind a record older than stale_us: a void
 * record there; its writer, if alive, then draws another. */
static int fence_gap(struct store *s, const struct ddb__seqlog *l, int64_t seq)
{
    json_t *rec = json_pack("{s:o}", "st", ddb__s_val(DDB__ST_VOID));
    int rc = put_new(s, l, rec, seq, l->settle_op);

    return rc == CCF_ECONFLICT ? 0 : rc; /* its writer came after all: read again */
}

/* Walks one page of records after *h, moving *h over the settled ones.
 * 1: read on (a page ended, or something was settled); 0: stopped (the end,
 * or a writer in flight: *blocked). */
static int walk(struct store *s, const struct ddb__seqlog *l, json_t *items, int64_t *h,
                bool *blocked)
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
        bool gap = seq != *h + 1;

        if (bad || !st || seq <= *h) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("table", l->name));
            return CCF_EIO;
        }
        if (gap || strcmp(st, DDB__ST_PENDING) == 0) {
            if (now - wt <= l->stale_us) { /* a writer in flight */
                *blocked = true;
                return 0;
            }
            rc = gap ? fence_gap(s, l, *h + 1) : l->settle_stale(s, rec, seq);
            return rc < 0 ? rc : 1;
        }
        *h = seq;
    }
    return json_array_size(items) > 0 ? 1 : 0;
}

int ddb__seqlog_horizon(struct store *s, const struct ddb__seqlog *l, int64_t *out, bool *blocked,
                        const char *op)
{
    char table[DDB__NAME_MAX];
    int64_t h0, h;
    int rc, more = 1;

    *blocked = false;
    if ((rc = ddb__meta_get(s, l->m_horizon, &h0, op)) < 0)
        return rc;
    h = h0;
    ddb__table(s, l->table, table);
    while (more == 1) {
        json_t *ans;

        if ((rc = ddb__call(s, "Query",
                            json_pack("{s:s,s:s,s:{s:o,s:o},s:i,s:b}", "TableName", table,
                                      "KeyConditionExpression", "pk = :pk AND seq > :h",
                                      "ExpressionAttributeValues", ":pk", ddb__s_val(l->pk), ":h",
                                      ddb__n_val(h), "Limit", PAGE, "ConsistentRead", 1),
                            &ans, op)) < 0)
            return rc;
        more = walk(s, l, json_object_get(ans, "Items"), &h, blocked);
        json_decref(ans);
        if (more < 0)
            return more;
    }
    if (h > h0 && (rc = ddb__meta_raise(s, l->m_horizon, h, op)) < 0)
        return rc;
    *out = h;
    return 0;
}

int ddb__seqlog_from(struct store *s, const struct ddb__seqlog *l, int64_t after, int64_t *from,
                     const char *op)
{
    int64_t pruned;
    int rc;

    if ((rc = ddb__meta_get(s, l->m_pruned, &pruned, op)) < 0)
        return rc;
    if (after >= 0 && after < pruned)
        return CCF_EEXPIRED;
    *from = after < pruned ? pruned : after;
    return 0;
}

json_t *ddb__seqlog_tenant_query(struct store *s, const struct ddb__seqlog *l, const char *tk,
                                 int64_t lo, int64_t hi, size_t limit, bool backward)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, l->table, table);
    /* A global index reads eventually consistent: no ConsistentRead. */
    return json_pack("{s:s,s:s,s:s,s:{s:o,s:o,s:o},s:i,s:b}", "TableName", table, "IndexName",
                     "by_tenant", "KeyConditionExpression",
                     "tenant = :t AND seq BETWEEN :lo AND :hi", "ExpressionAttributeValues", ":t",
                     ddb__s_val(tk), ":lo", ddb__n_val(lo), ":hi", ddb__n_val(hi), "Limit",
                     (int)limit, "ScanIndexForward", !backward);
}

struct prune {
    struct store *s;
    const struct ddb__seqlog *l;
    const char *op;
    int (*judge)(void *ctx, json_t *rec, int64_t seq);
    void *ctx;
    int64_t kept_min, cut; /* the first kept below the cut; the last seq cut */
    bool stopped;          /* judge said STOP */
};

/* Deletes the page's records judge cuts; stops at the first STOP. */
static int prune_page(json_t *items, struct prune *p)
{
    struct store *s = p->s;
    const struct ddb__seqlog *l = p->l;
    char table[DDB__NAME_MAX];
    json_t *rec;
    size_t i;
    int rc;

    ddb__table(s, l->table, table);
    json_array_foreach(items, i, rec)
    {
        int bad = 0;
        int64_t seq = ddb__get_n(rec, "seq", &bad);

        if (bad) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("table", l->name));
            return CCF_EIO;
        }
        if ((rc = p->judge(p->ctx, rec, seq)) < 0)
            return rc;
        if (rc == DDB__PRUNE_STOP) {
            p->stopped = true;
            return 0;
        }
        if (rc == DDB__PRUNE_KEEP) {
            if (p->kept_min == 0)
                p->kept_min = seq;
            continue;
        }
        if ((rc = ddb__call(
                 s, "DeleteItem",
                 json_pack("{s:s,s:o}", "TableName", table, "Key", ddb__seqlog_key(l, seq)), NULL,
                 p->op)) < 0)
            return rc;
        p->cut = seq;
    }
    return 0;
}

/* The prune's Query up to h, projecting attrs as #p0, #p1, ... (so that
 * no attribute name clashes with a reserved word). */
static json_t *prune_query(struct store *s, const struct ddb__seqlog *l, const char *const *attrs,
                           int64_t h)
{
    char table[DDB__NAME_MAX], proj[ATTRS_MAX * 6], ref[8];
    json_t *req, *names = json_object();
    size_t n = 0;

    ddb__table(s, l->table, table);
    proj[0] = '\0';
    for (size_t i = 0; attrs && attrs[i] && i < ATTRS_MAX; i++) {
        snprintf(ref, sizeof(ref), "#p%zu", i);
        n += (size_t)snprintf(proj + n, sizeof(proj) - n, "%s%s", i ? ", " : "", ref);
        json_object_set_new(names, ref, json_string(attrs[i]));
    }
    req = json_pack("{s:s,s:s,s:{s:o,s:o},s:i,s:b}", "TableName", table, "KeyConditionExpression",
                    "pk = :pk AND seq <= :h", "ExpressionAttributeValues", ":pk", ddb__s_val(l->pk),
                    ":h", ddb__n_val(h), "Limit", PAGE, "ConsistentRead", 1);
    if (req && proj[0]) {
        json_object_set_new(req, "ProjectionExpression", json_string(proj));
        json_object_set(req, "ExpressionAttributeNames", names);
    }
    json_decref(names);
    return req;
}

static int prune_visit(void *ctx, json_t *ans, json_t *req)
{
    struct prune *p = ctx;
    int rc;

    (void)req;
    if ((rc = prune_page(json_object_get(ans, "Items"), p)) < 0)
        return rc;
    return p->stopped ? DDB__STOP : 0;
}

int ddb__seqlog_prune(struct store *s, const struct ddb__seqlog *l, const char *const *attrs,
                      int (*judge)(void *ctx, json_t *rec, int64_t seq), void *ctx, const char *op)
{
    struct prune p = {.s = s, .l = l, .op = op, .judge = judge, .ctx = ctx};
    int64_t h;
    bool blocked;
    int rc;

    if ((rc = ddb__seqlog_horizon(s, l, &h, &blocked, op)) < 0 ||
        (rc = ddb__each_page(s, "Query", prune_query(s, l, attrs, h), prune_visit, &p, op)) < 0 ||
        p.cut == 0)
        return rc;
    return ddb__meta_raise(s, l->m_pruned,
                           p.kept_min && p.kept_min < p.cut ? p.kept_min - 1 : p.cut, op);
}
