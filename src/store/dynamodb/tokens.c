/* tokens.c: client tokens of idempotent creates and starts in the DynamoDB
 * backend, in the tokens table under "REGION#ACCOUNT#KIND#SCOPE" (scope:
 * the connector id of a start, "" otherwise) by tk (the token).
 *
 * There is no transaction to put the token in with its resource, so a
 * token is claimed first: one conditional put names the resource id it
 * will make (pending), then the resource is made with that id, then the
 * token is marked done. Two requests with one token: the second's claim
 * fails and it reads the first's. A done token is a replay; a pending one
 * is finished by whoever reads it (the same body hash means the same
 * request), with the id it names and a conditional write, so that the
 * resource is made once: the request whose write made it answers NEW, the
 * other REPLAY. A failed make (a busy connector) drops its pending token,
 * as a rolled-back transaction does on the other backends. */
#include "store/dynamodb/ddb_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define CLAIM_TRIES 8 /* a claim lost to a token that then went (dropped, purged) */

void ddb__tkey_init(struct ddb__tkey *k, const struct ccf_tenant *t, int kind, const char *scope,
                    const struct store_token *tok)
{
    snprintf(k->pk, sizeof(k->pk), "%s#%s#%d#%s", t->region, t->account_id, kind, scope);
    k->tok = tok;
    k->now = tok->now ? tok->now : ccf_now_us(); /* set, but for tests that claim directly */
}

static void hash_hex(const unsigned char *h, char out[65])
{
    for (size_t i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static json_t *tkey_of(const struct ddb__tkey *k)
{
    return json_pack("{s:o,s:o}", "pk", ddb__s_val(k->pk), "tk", ddb__s_val(k->tok->token));
}

/* Claims k for resource id. 0: claimed (id is the token's now); 1: a live
 * token with the same body names *id (*done: its resource was made);
 * CCF_ETOKEN: live with another body. An expired token is taken over. */
int ddb__token_claim(struct store *s, const struct ddb__tkey *k, char *id, size_t n, bool *done,
                     const char *op)
{
    char table[DDB__NAME_MAX], hex[65], mine[65];
    int rc = 0;

    ddb__table(s, DDB__T_TOKENS, table);
    hash_hex(k->tok->hash, mine);
    for (int i = 0; i < CLAIM_TRIES; i++) {
        json_t *ans, *it;
        const char *h, *rid;
        int64_t at;
        int bad = 0;

        rc = ddb__call(s, "PutItem",
                       json_pack("{s:s,s:{s:o,s:o,s:o,s:o,s:o,s:{s:b}},s:s,s:{s:o}}", "TableName",
                                 table, "Item", "pk", ddb__s_val(k->pk), "tk",
                                 ddb__s_val(k->tok->token), "body_hash", ddb__s_val(mine),
                                 "resource_id", ddb__s_val(id), "created_at", ddb__n_val(k->now),
                                 "done", "BOOL", 0, "ConditionExpression",
                                 "attribute_not_exists(pk) OR created_at <= :expired",
                                 "ExpressionAttributeValues", ":expired",
                                 ddb__n_val(k->now - STORE_TOKEN_TTL_US)),
                       NULL, op);
        if (rc != CCF_ECONFLICT)
            return rc;
        if ((rc = ddb__call(s, "GetItem",
                            json_pack("{s:s,s:o,s:b}", "TableName", table, "Key", tkey_of(k),
                                      "ConsistentRead", 1),
                            &ans, op)) < 0)
            return rc;
        it = json_object_get(ans, "Item");
        h = ddb__get_s(it, "body_hash");
        rid = ddb__get_s(it, "resource_id");
        at = ddb__get_n(it, "created_at", &bad);
        if (!it || at <= k->now - STORE_TOKEN_TTL_US) {
            json_decref(ans); /* gone or expired since: claim again */
            continue;
        }
        if (bad || !h || !rid || strlen(rid) >= n) {
            json_decref(ans);
            CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                          CCF_KV_STR("item", "token"));
            return CCF_EIO;
        }
        snprintf(hex, sizeof(hex), "%s", h);
        memcpy(id, rid, strlen(rid) + 1);
        *done = ddb__get_bool(it, "done");
        json_decref(ans);
        return strcmp(hex, mine) == 0 ? 1 : CCF_ETOKEN;
    }
    return CCF_EUNAVAIL;
}

/* The token's resource was made: later readers replay it. */
void ddb__token_done(struct store *s, const struct ddb__tkey *k, const char *id, const char *op)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, DDB__T_TOKENS, table);
    /* Best effort: a pending token whose resource exists is finished as a
     * replay by its next reader all the same. */
    (void)ddb__call(s, "UpdateItem",
                    json_pack("{s:s,s:o,s:s,s:s,s:{s:{s:b},s:o}}", "TableName", table, "Key",
                              tkey_of(k), "UpdateExpression", "SET done = :t",
                              "ConditionExpression", "resource_id = :id",
                              "ExpressionAttributeValues", ":t", "BOOL", 1, ":id", ddb__s_val(id)),
                    NULL, op);
}

/* The make failed: the pending claim goes, unless it was done meanwhile. */
void ddb__token_drop(struct store *s, const struct ddb__tkey *k, const char *id, const char *op)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, DDB__T_TOKENS, table);
    (void)ddb__call(s, "DeleteItem",
                    json_pack("{s:s,s:o,s:s,s:{s:o,s:{s:b}}}", "TableName", table, "Key",
                              tkey_of(k), "ConditionExpression", "resource_id = :id AND done = :f",
                              "ExpressionAttributeValues", ":id", ddb__s_val(id), ":f", "BOOL", 0),
                    NULL, op);
}

int store_ddb__create_connector_token(struct store *s, const struct ccf_tenant *t,
                                      struct ccf_connector *c, const struct store_token *tok)
{
    const char *op = "create_connector";
    char id[CCF_CONNECTOR_ID_LEN + 1];
    struct ccf_connector tmp;
    struct ddb__tkey k = {0};
    bool done = false;
    int rc;

    ddb__tkey_init(&k, t, DDB__TOKEN_CREATE, "", tok);
    if ((rc = ccf_connector_id_new(id)) < 0)
        return rc;
    if ((rc = ddb__token_claim(s, &k, id, sizeof(id), &done, op)) < 0)
        return rc;
    if (rc == 1 && (done || !ccf_connector_id_valid(id))) {
        if (!ccf_connector_id_valid(id))
            return CCF_EIO;
        return store__connector_token_outcome(s, t, c, true, id, k.now);
    }
    /* Claimed now, or pending: made with the token's id, once. */
    tmp = *c;
    store__connector_made(&tmp, id, k.now);
    rc = ddb__put_connector(s, t, &tmp, op);
    if (rc < 0 && rc != CCF_ECONFLICT) {
        ddb__token_drop(s, &k, id, op);
        return rc;
    }
    ddb__token_done(s, &k, id, op);
    /* ECONFLICT: the other request holding this token made it first. */
    return store__connector_token_outcome(s, t, c, rc == CCF_ECONFLICT, id, k.now);
}

/* Whether job id was made under the connector: its item exists, or the
 * connector is reserved for it (a start between its two writes, whose
 * item is then written here: the same item recovery would write). */
static int job_made(struct store *s, const struct ccf_tenant *t, struct ccf_job *j)
{
    struct ccf_connector c;
    struct ccf_job have;
    int rc = ddb__load_job(s, t, j->connector_id, j->id, &have, "start_job");

    if (rc == 0) {
        ccf_job_clear(&have);
        return 1;
    }
    if (rc != CCF_ENOTFOUND)
        return rc;
    if ((rc = store_ddb__get_connector(s, t, j->connector_id, &c)) < 0)
        return rc;
    rc = strcmp(c.active_job_id, j->id) == 0;
    ccf_connector_clear(&c);
    if (rc == 0)
        return 0;
    rc = ddb__put_new_job(s, t, j, "start_job");
    return rc < 0 && rc != CCF_ECONFLICT ? rc : 1;
}

int store_ddb__start_job_token(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                               const struct store_token *tok, struct ccf_job *out)
{
    const char *op = "start_job";
    struct ddb__tkey k = {0};
    bool done = false;
    int rc, made;

    ddb__tkey_init(&k, t, DDB__TOKEN_START, j->connector_id, tok);
    if ((rc = ccf_job_id_new(j->id)) < 0)
        return rc;
    /* Before the connector's state: a replay answers even while it is busy. */
    if ((rc = ddb__token_claim(s, &k, j->id, sizeof(j->id), &done, op)) < 0)
        return rc;
    if (!ccf_job_id_valid(j->id))
        return CCF_EIO;
    if (rc == 1 && done)
        return store__job_token_outcome(s, t, true, j->id, j, out);
    /* Pending: if its job was made (even run and ended since), replay it;
     * reserving again with its id would hold the connector for an ended
     * job. */
    if (rc == 1 && (made = job_made(s, t, j)) != 0) {
        if (made < 0)
            return made;
        ddb__token_done(s, &k, j->id, op);
        return store__job_token_outcome(s, t, true, j->id, j, out);
    }
    rc = ddb__start_job(s, t, j, NULL, op);
    if (rc == CCF_ECONFLICT) {
        /* Busy or paused, or busy with this very job (the other request
         * holding the token started it): only the first is a conflict. */
        if ((made = job_made(s, t, j)) < 0)
            return made;
        if (made) {
            ddb__token_done(s, &k, j->id, op);
            return store__job_token_outcome(s, t, true, j->id, j, out);
        }
    }
    if (rc < 0) {
        ddb__token_drop(s, &k, j->id, op);
        return rc;
    }
    ddb__token_done(s, &k, j->id, op);
    return store__job_token_outcome(s, t, false, j->id, j, out);
}

struct purge {
    struct store *s;
    const char *table;
    int64_t before;
    int n;
};

static int purge_one(void *ctx, json_t *it)
{
    struct purge *p = ctx;
    int rc = ddb__call(p->s, "DeleteItem",
                       json_pack("{s:s,s:O,s:s,s:{s:o}}", "TableName", p->table, "Key", it,
                                 "ConditionExpression", "created_at < :b",
                                 "ExpressionAttributeValues", ":b", ddb__n_val(p->before)),
                       NULL, "purge_tokens");

    if (rc == 0)
        p->n++;
    return rc == CCF_ECONFLICT ? 0 : rc;
}

/* Scans for tokens made before `before`, each deleted on that condition
 * (one taken over meanwhile stays). Returns how many went. */
int store_ddb__purge_tokens(struct store *s, int64_t before)
{
    char table[DDB__NAME_MAX];
    struct purge p = {.s = s, .table = table, .before = before};
    int rc;

    ddb__table(s, DDB__T_TOKENS, table);
    rc = ddb__each_item(s, "Scan",
                        json_pack("{s:s,s:s,s:s,s:{s:o},s:b}", "TableName", table,
                                  "FilterExpression", "created_at < :b", "ProjectionExpression",
                                  "pk, tk", "ExpressionAttributeValues", ":b", ddb__n_val(before),
                                  "ConsistentRead", 1),
                        purge_one, &p, "purge_tokens");
    return rc < 0 ? rc : p.n;
}

/* A connector's start tokens go with it (its delete's cascade). */
int ddb__delete_tokens_under(struct store *s, const struct ccf_tenant *t, const char *connector_id)
{
    char pk[STORE__TENANT_KEY_MAX + CCF_CONNECTOR_ID_LEN + 16];

    snprintf(pk, sizeof(pk), "%s#%s#%d#%s", t->region, t->account_id, DDB__TOKEN_START,
             connector_id);
    return ddb__delete_all(s, DDB__T_TOKENS, pk, "tk");
}
