/* checkpoints.c: connector checkpoints in the DynamoDB backend, in the
 * checkpoints table under the connector's key ("REGION#ACCOUNT#CID"):
 *
 *   sk "head"                   the current version: version, wid (the write
 *                               that made it), size, chunks, created_at (the
 *                               checkpoint's), written_at
 *   sk "v#<version, 20 digits>" a kept older version: the same fields
 *   sk "c#<wid>#<chunk, 4 digits>" the data, at most CHUNK bytes an item
 *
 * A put writes its chunks under a fresh write id (so that two racing puts
 * never overwrite each other's data), then switches the head with one
 * conditional write on the version it read: that write is the put, atomic
 * whatever the size (DynamoDB's items end at 400 KB, a checkpoint at
 * 1 MiB). Just before the switch it records the version it replaces as
 * "v#N"; after it, it trims what falls out of the history. A crash leaves
 * at most chunks or a v#N copy no listing reaches (garbage, not collected
 * yet: docs/DECISIONS.md), never a gap in the history. A put by a job counts
 * in its checkpoint_puts after the switch (docstats.c). Not yet: the
 * events of puts. */
#include "store/dynamodb/ddb_int.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define CHUNK     (256u * 1024) /* raw bytes per item: well under 400 KB */
#define PUT_TRIES 16            /* an unconditional put re-read after losing a race */

struct head {
    int64_t version, size, chunks, created_at, written_at;
    char wid[33];
};

static void cp_pk(const struct ccf_tenant *t, const char *cid, char pk[DDB__JOB_PK_MAX])
{
    ddb__job_pk(t, cid, pk);
}

static json_t *key(const char *pk, const char *sk)
{
    return json_pack("{s:o,s:o}", "pk", ddb__s_val(pk), "sk", ddb__s_val(sk));
}

static void version_sk(int64_t v, char out[32])
{
    snprintf(out, 32, "v#%020" PRId64, v);
}

static void chunk_sk(const char *wid, int64_t i, char out[64])
{
    snprintf(out, 64, "c#%s#%04" PRId64, wid, i);
}

/* Reads item sk into *h; CCF_ENOTFOUND when absent. */
static int read_head(struct store *s, const char *pk, const char *sk, struct head *h,
                     const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *ans, *it;
    const char *wid;
    int bad = 0, rc;

    ddb__table(s, DDB__T_CHECKPOINTS, table);
    if ((rc = ddb__call(s, "GetItem",
                        json_pack("{s:s,s:o,s:b}", "TableName", table, "Key", key(pk, sk),
                                  "ConsistentRead", 1),
                        &ans, op)) < 0)
        return rc;
    if (!(it = json_object_get(ans, "Item"))) {
        json_decref(ans);
        return CCF_ENOTFOUND;
    }
    h->version = ddb__get_n(it, "version", &bad);
    h->size = ddb__get_n(it, "size", &bad);
    h->chunks = ddb__get_n(it, "chunks", &bad);
    h->created_at = ddb__get_n(it, "created_at", &bad);
    h->written_at = ddb__get_n(it, "written_at", &bad);
    wid = ddb__get_s(it, "wid");
    if (!wid || strlen(wid) >= sizeof(h->wid) || h->size < 0 || h->size > CCF_CHECKPOINT_MAX ||
        h->chunks < 0 || h->chunks > (int64_t)(CCF_CHECKPOINT_MAX / CHUNK + 1))
        bad = 1;
    else
        memcpy(h->wid, wid, strlen(wid) + 1);
    json_decref(ans);
    if (bad) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("item", "checkpoint"));
        return CCF_EIO;
    }
    return 0;
}

static int write_chunks(struct store *s, const char *pk, const char *wid, const char *data,
                        size_t len, int64_t *chunks, const char *op)
{
    char table[DDB__NAME_MAX], sk[64];
    char *b64 = malloc(4 * ((CHUNK + 2) / 3) + 1);
    int64_t n = 0;
    int rc = 0;

    if (!b64)
        return CCF_ENOMEM;
    ddb__table(s, DDB__T_CHECKPOINTS, table);
    for (size_t off = 0; off < len || (len == 0 && n == 0); n++) {
        size_t part = len - off < CHUNK ? len - off : CHUNK;

        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)data + off, (int)part);
        chunk_sk(wid, n, sk);
        if ((rc = ddb__call(s, "PutItem",
                            json_pack("{s:s,s:{s:o,s:o,s:{s:s}}}", "TableName", table, "Item", "pk",
                                      ddb__s_val(pk), "sk", ddb__s_val(sk), "data", "B", b64),
                            NULL, op)) < 0)
            break;
        off += part;
        if (len == 0)
            break;
    }
    free(b64);
    *chunks = len == 0 ? 1 : n;
    return rc;
}

static int read_chunks(struct store *s, const char *pk, const struct head *h, char **out,
                       const char *op)
{
    char table[DDB__NAME_MAX], sk[64];
    char *buf = malloc((size_t)h->size + 4);
    size_t have = 0;
    int rc = 0;

    if (!buf)
        return CCF_ENOMEM;
    ddb__table(s, DDB__T_CHECKPOINTS, table);
    for (int64_t i = 0; i < h->chunks && rc == 0; i++) {
        json_t *ans;
        const char *b64;
        size_t blen;
        int n;

        chunk_sk(h->wid, i, sk);
        if ((rc = ddb__call(s, "GetItem",
                            json_pack("{s:s,s:o,s:b}", "TableName", table, "Key", key(pk, sk),
                                      "ConsistentRead", 1),
                            &ans, op)) < 0)
            break;
        b64 = json_string_value(
            json_object_get(json_object_get(json_object_get(ans, "Item"), "data"), "B"));
        blen = b64 ? strlen(b64) : 0;
        /* Decoded, a chunk is at most 3/4 of its text: checked before. */
        if (!b64 || blen % 4 != 0 || have + blen / 4 * 3 > (size_t)h->size + 3 ||
            (n = EVP_DecodeBlock((unsigned char *)buf + have, (const unsigned char *)b64,
                                 (int)blen)) < 0) {
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("item", "checkpoint chunk"));
            rc = CCF_EIO;
        } else {
            /* EVP_DecodeBlock counts the padding as zero bytes. */
            n -= (blen > 0 && b64[blen - 1] == '=') + (blen > 1 && b64[blen - 2] == '=');
            have += (size_t)n;
        }
        json_decref(ans);
    }
    if (rc == 0 && have != (size_t)h->size) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("item", "checkpoint size"));
        rc = CCF_EIO;
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[have] = '\0';
    *out = buf;
    return 0;
}

static json_t *head_item(const char *pk, const char *sk, const struct head *h)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "pk", ddb__s_val(pk), "sk",
                     ddb__s_val(sk), "version", ddb__n_val(h->version), "wid", ddb__s_val(h->wid),
                     "size", ddb__n_val(h->size), "chunks", ddb__n_val(h->chunks), "created_at",
                     ddb__n_val(h->created_at), "written_at", ddb__n_val(h->written_at));
}

/* Deletes v# items older than what the history keeps (and their chunks). */
static void trim(struct store *s, const char *pk, int64_t current, int64_t history)
{
    for (int64_t v = current - history; v > 0; v--) {
        char table[DDB__NAME_MAX], sk[32];
        struct head old;

        version_sk(v, sk);
        if (read_head(s, pk, sk, &old, "put_checkpoint") < 0)
            break; /* trimmed before: so are all older ones */
        ddb__table(s, DDB__T_CHECKPOINTS, table);
        for (int64_t i = 0; i < old.chunks; i++) {
            char csk[64];
            chunk_sk(old.wid, i, csk);
            (void)ddb__call(s, "DeleteItem",
                            json_pack("{s:s,s:o}", "TableName", table, "Key", key(pk, csk)), NULL,
                            "put_checkpoint");
        }
        (void)ddb__call(s, "DeleteItem",
                        json_pack("{s:s,s:o}", "TableName", table, "Key", key(pk, sk)), NULL,
                        "put_checkpoint");
    }
}

/* A put's head before its switch: a fresh write id (32 hex digits) and
 * the data's size. */
static int new_wid(struct head *next, size_t len)
{
    unsigned char raw[16];
    int rc;

    memset(next, 0, sizeof(*next));
    if ((rc = ccf_random_bytes(raw, sizeof(raw))) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(next->wid + 2 * i, 3, "%02x", raw[i]);
    next->size = (int64_t)len;
    return 0;
}

/* The put's decisive step, its chunks written: the head read, expect
 * judged, the version it replaces kept as v#N, then the head switched by
 * one conditional write (retried when another put came between). v#N goes
 * first so that a crash right after the switch loses no version of the
 * history (crash-dynamo found one lost, and every older one hidden with
 * it); a put that loses the race wrote a copy of a version that exists.
 * 0, CCF_EPRECOND, CCF_EUNAVAIL when contended, or the call's error. */
static int switch_head(struct store *s, const char *pk, struct head *next, int64_t expect,
                       const char *op)
{
    char table[DDB__NAME_MAX], vsk[32];
    struct head cur;
    int rc;

    ddb__table(s, DDB__T_CHECKPOINTS, table);
    for (int tries = 0; tries < PUT_TRIES; tries++) {
        bool none;
        json_t *req;

        rc = read_head(s, pk, "head", &cur, op);
        if (rc < 0 && rc != CCF_ENOTFOUND)
            return rc;
        none = rc == CCF_ENOTFOUND;
        if ((expect == STORE_CP_EXISTS && none) || (expect == 0 && !none) ||
            (expect > 0 && (none || cur.version != expect)))
            return CCF_EPRECOND;
        next->version = none ? 1 : cur.version + 1;
        next->written_at = ccf_now_us();
        next->created_at = none ? next->written_at : cur.created_at;
        if (!none) {
            version_sk(cur.version, vsk);
            if ((rc = ddb__call(
                     s, "PutItem",
                     json_pack("{s:s,s:o}", "TableName", table, "Item", head_item(pk, vsk, &cur)),
                     NULL, op)) < 0)
                return rc;
        }
        req = json_pack("{s:s,s:o}", "TableName", table, "Item", head_item(pk, "head", next));
        if (none)
            json_object_set_new(req, "ConditionExpression",
                                json_string("attribute_not_exists(sk)"));
        else {
            json_object_set_new(req, "ConditionExpression", json_string("version = :v"));
            json_object_set_new(req, "ExpressionAttributeValues",
                                json_pack("{s:o}", ":v", ddb__n_val(cur.version)));
        }
        rc = ddb__call(s, "PutItem", req, NULL, op);
        if (rc != CCF_ECONFLICT)
            return rc; /* else another put came between: judged again */
    }
    return CCF_EUNAVAIL;
}

int ddb__checkpoint_switch(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                           const char *data, size_t len, int64_t *version)
{
    char pk[DDB__JOB_PK_MAX];
    struct head next;
    int rc;

    cp_pk(t, connector_id, pk);
    if ((rc = new_wid(&next, len)) < 0 ||
        (rc = write_chunks(s, pk, next.wid, data, len, &next.chunks, "put_checkpoint")) < 0 ||
        (rc = switch_head(s, pk, &next, STORE_CP_ANY, "put_checkpoint")) < 0)
        return rc;
    *version = next.version;
    return 0;
}

int store_ddb__put_checkpoint_if(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, const char *job_id, const char *data,
                                 size_t len, int64_t expect, int64_t *version)
{
    const char *op = "put_checkpoint";
    char pk[DDB__JOB_PK_MAX];
    struct ccf_connector c;
    struct head next;
    int rc;

    if ((rc = store_ddb__get_connector(s, t, connector_id, &c)) < 0)
        return rc;
    ccf_connector_clear(&c);
    if (job_id) { /* the job must be the connector's: its count is on its item */
        struct ccf_job j;
        if ((rc = ddb__load_job(s, t, connector_id, job_id, &j, op)) < 0)
            return rc;
        ccf_job_clear(&j);
    }
    cp_pk(t, connector_id, pk);
    if ((rc = new_wid(&next, len)) < 0 ||
        (rc = write_chunks(s, pk, next.wid, data, len, &next.chunks, op)) < 0)
        return rc;
    if ((rc = switch_head(s, pk, &next, expect, op)) < 0) {
        if (rc == CCF_EUNAVAIL)
            CCF_LOG_WARN("store.contended", CCF_KV_STR("backend", "dynamodb"),
                         CCF_KV_STR("connector_id", connector_id));
        return rc;
    }
    /* Switched: what falls out of the history is trimmed (a failure here
     * leaves garbage, never a gap). */
    trim(s, pk, next.version, ddb__s(s)->cp_history);
    if (version)
        *version = next.version;
    /* events (changes.c): after the switch, lost if this dies first */
    (void)ddb__event_append(s, t, "checkpoint.updated", connector_id, NULL,
                            json_pack("{s:I}", "version", (json_int_t)next.version), op);
    /* Counted after the switch (docstats.c: a crash between loses the
     * count, never the put). */
    if (job_id)
        return ddb__job_count(s, t, connector_id, job_id,
                              &(struct ccf_job_stats){.checkpoint_puts = 1}, op);
    return 0;
}

int store_ddb__get_checkpoint_version(struct store *s, const struct ccf_tenant *t,
                                      const char *connector_id, int64_t version,
                                      struct ccf_checkpoint *out)
{
    const char *op = "get_checkpoint";
    char pk[DDB__JOB_PK_MAX], vsk[32];
    struct ccf_connector c;
    struct head cur, h;
    char *data;
    int rc;

    if ((rc = store_ddb__get_connector(s, t, connector_id, &c)) < 0)
        return rc;
    ccf_connector_clear(&c);
    cp_pk(t, connector_id, pk);
    if ((rc = read_head(s, pk, "head", &cur, op)) < 0)
        return rc;
    h = cur;
    if (version != 0 && version != cur.version) {
        if (version > cur.version)
            return CCF_ENOTFOUND;
        version_sk(version, vsk);
        if ((rc = read_head(s, pk, vsk, &h, op)) < 0)
            return rc;
    }
    if ((rc = read_chunks(s, pk, &h, &data, op)) < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    memcpy(out->connector_id, connector_id, sizeof(out->connector_id));
    out->data = data;
    out->data_len = (size_t)h.size;
    out->created_at = cur.created_at;
    out->updated_at = h.written_at;
    out->version = h.version;
    return 0;
}

int store_ddb__list_checkpoint_versions(struct store *s, const struct ccf_tenant *t,
                                        const char *connector_id,
                                        const struct store__version_page *p,
                                        store_cp_version_fn visit, void *ctx, char **next)
{
    const char *op = "list_checkpoint_versions";
    char pk[DDB__JOB_PK_MAX], sk[32];
    struct ccf_connector c;
    struct head cur;
    int64_t from, v, last = 0;
    size_t seen = 0;
    int rc;

    if ((rc = store_ddb__get_connector(s, t, connector_id, &c)) < 0)
        return rc;
    ccf_connector_clear(&c);
    cp_pk(t, connector_id, pk);
    if ((rc = read_head(s, pk, "head", &cur, op)) < 0)
        return rc;
    from = p->before == INT64_MAX ? cur.version : p->before - 1;
    /* Newest first: the head, then the kept v# items, one read each (at
     * most checkpoint_history of them). */
    for (v = from; v >= 1 && v > cur.version - ddb__s(s)->cp_history; v--) {
        struct head h = cur;
        struct store_cp_version item;

        if (v != cur.version) {
            version_sk(v, sk);
            rc = read_head(s, pk, sk, &h, op);
            if (rc == CCF_ENOTFOUND)
                break; /* trimmed, or lost by a crash: nothing older is listed */
            if (rc < 0)
                return rc;
        }
        if (seen == p->limit) {
            if (next) {
                char buf[24];
                snprintf(buf, sizeof(buf), "%" PRId64, last);
                *next = ccf_xstrdup(buf);
            }
            return 0;
        }
        item = (struct store_cp_version){
            .version = h.version, .size = h.size, .created_at = h.written_at};
        if ((rc = visit(ctx, &item)) < 0)
            return rc;
        seen++;
        last = v;
    }
    if (next)
        *next = NULL;
    return 0;
}

int store_ddb__delete_checkpoint(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id)
{
    char pk[DDB__JOB_PK_MAX], table[DDB__NAME_MAX];
    struct ccf_connector c;
    int rc;

    if ((rc = store_ddb__get_connector(s, t, connector_id, &c)) < 0)
        return rc;
    ccf_connector_clear(&c);
    cp_pk(t, connector_id, pk);
    ddb__table(s, DDB__T_CHECKPOINTS, table);
    /* The head first: once it is gone there is no checkpoint, whatever of
     * the rest a crash leaves (then unreachable). */
    rc = ddb__call(s, "DeleteItem",
                   json_pack("{s:s,s:o,s:s}", "TableName", table, "Key", key(pk, "head"),
                             "ConditionExpression", "attribute_exists(sk)"),
                   NULL, "delete_checkpoint");
    if (rc == CCF_ECONFLICT)
        return CCF_ENOTFOUND;
    if (rc < 0)
        return rc;
    return ddb__delete_all(s, DDB__T_CHECKPOINTS, pk, "sk");
}
