/* seqlog.h: an ordered log without transactions, for the DynamoDB
 * backend's change log (changes.c) and audit log (audit.c): the one scheme
 * both keep (docs/DECISIONS.md), written once.
 *
 * A log is a table of records keyed (pk = one constant, seq N): one
 * partition, so seq order is one Query. Three numbers of the meta table
 * go with it: the counter, the horizon and the expiry mark. The order that
 * keeps a record and its effect honest without a transaction:
 *
 *   1. seq from the counter (UpdateItem ADD: never reused, never lower,
 *      even after every record was pruned);
 *   2. the record put at seq with attribute_not_exists(seq): `pending`
 *      before its effect's writes (`committed` when it has none);
 *   3. after the effect: committed or void (condition: still pending).
 *
 * Readers never read past the horizon: the highest seq such that every seq
 * up to it has a settled record. A pending record, or a gap (a seq drawn
 * but not put), younger than the log's stale_us stops it: a writer in
 * flight, and order must hold. Older, its writer is taken for dead: a gap
 * is fenced with a void record (the slow writer's put then fails and it
 * draws another seq), a pending record is handed to the log's
 * settle_stale, each log's own policy.
 *
 * A record's tenant (attribute tenant, once committed) puts it in the
 * global index by_tenant (hash tenant, range seq), a tenant's reading.
 *
 * Owns: the records' pk, seq, st and wt attributes, the meta numbers, the
 * walk to the horizon, fencing, the tenant's pages, pruning oldest first. Does not know what a
 * record holds beyond those, what its effect is, how a stale one is
 * settled, nor who reads the log (changes.c, events.c, audit.c): it calls
 * ddb.c only, and its users only through the callbacks it is given. */
#ifndef CCF_STORE_DDB_SEQLOG_H
#define CCF_STORE_DDB_SEQLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "store/dynamodb/ddb_int.h"

/* A record's state, attribute st. */
#define DDB__ST_PENDING   "p"
#define DDB__ST_COMMITTED "c"
#define DDB__ST_VOID      "v"

/* One log: static const in the file that keeps it. */
struct ddb__seqlog {
    const char *table;     /* the table's suffix, e.g. DDB__T_CHANGES */
    const char *pk;        /* the records' one hash key value */
    const char *m_seq;     /* meta items: the counter, */
    const char *m_horizon; /* the horizon, */
    const char *m_pruned;  /* the expiry mark */
    const char *name;      /* "changes", "audit": the table in logs */
    const char *settle_op; /* op of a reader's settling calls */
    int64_t stale_us;      /* a writer this late is taken for dead */
    /* A pending record (rec, as read) older than stale_us: settle it
     * (commit or void it through ddb__seqlog_mark/_replace). 0 when it is
     * settled, by this call or another; < 0 an error. */
    int (*settle_stale)(struct store *s, json_t *rec, int64_t seq);
};

/* Meta item `name`'s number (0 when there is none); raised to v only if
 * lower (a racing writer that raised it further wins: no error). */
int ddb__meta_get(struct store *s, const char *name, int64_t *out, const char *op);
int ddb__meta_raise(struct store *s, const char *name, int64_t v, const char *op);

/* A record's key {pk, seq} (a new reference). */
json_t *ddb__seqlog_key(const struct ddb__seqlog *l, int64_t seq);

/* Steps 1 and 2: puts fill(ctx, seq)'s record (a new reference, NULL for
 * out of memory; st and the body set, pk, seq and wt set here) at a fresh
 * *seq. A seq a reader fenced meanwhile is skipped for the next, up to 8
 * times, then CCF_ECONFLICT (never a condition of the caller's own). */
int ddb__seqlog_put(struct store *s, const struct ddb__seqlog *l,
                    json_t *(*fill)(void *ctx, int64_t seq), void *ctx, int64_t *seq,
                    const char *op);

/* Step 3: pending -> committed or void, removing the attributes `remove`
 * names (an UpdateExpression REMOVE list; NULL: none). _replace commits by
 * putting item (taken; its key and st set here) in place of the pending
 * one. 0 done; CCF_ECONFLICT when it was no longer pending. */
int ddb__seqlog_mark(struct store *s, const struct ddb__seqlog *l, int64_t seq, bool committed,
                     const char *remove, const char *op);
int ddb__seqlog_replace(struct store *s, const struct ddb__seqlog *l, int64_t seq, json_t *item,
                        const char *op);

/* The horizon, moved as far as the log allows now (settling stale records
 * and fencing stale gaps on the way) and kept in meta for the next reader.
 * *blocked: it stopped at a writer in flight. */
int ddb__seqlog_horizon(struct store *s, const struct ddb__seqlog *l, int64_t *h, bool *blocked,
                        const char *op);

/* A reader's start: after (-1: from the start), or the expiry mark if that
 * is higher; CCF_EEXPIRED for a cursor (>= 0) below the mark. */
int ddb__seqlog_from(struct store *s, const struct ddb__seqlog *l, int64_t after, int64_t *from,
                     const char *op);

/* The Query of the index by_tenant (a new request, the caller's; NULL
 * only when out of memory): tenant tk's records with seq in [lo, hi], up
 * to limit a page, oldest first unless backward. The index reads
 * eventually consistent: readers stop at the horizon. */
json_t *ddb__seqlog_tenant_query(struct store *s, const struct ddb__seqlog *l, const char *tk,
                                 int64_t lo, int64_t hi, size_t limit, bool backward);

/* What a prune does with a record. */
enum { DDB__PRUNE_STOP = 0, DDB__PRUNE_KEEP = 1, DDB__PRUNE_CUT = 2 };

/* Walks the records up to the horizon, oldest first (the attributes attrs
 * names, NULL-terminated), deleting those judge (ctx, rec, seq) says CUT,
 * passing over KEEP, ending at the first STOP (or judge's error, < 0).
 * Then raises the expiry mark to just below the first record kept among
 * those cut, else to the last cut. */
int ddb__seqlog_prune(struct store *s, const struct ddb__seqlog *l, const char *const *attrs,
                      int (*judge)(void *ctx, json_t *rec, int64_t seq), void *ctx, const char *op);

#endif
