/* tokens.c: client tokens of idempotent creates and starts in the
 * PostgreSQL backend. A request first claims its token's row (an insert
 * that waits for a concurrent one with the same key, then does nothing if
 * that one committed), so that of two requests with one token exactly one
 * makes the resource and the other replays it; the claim is in the
 * transaction that makes the resource, and goes with it if that fails. */
#include "store/postgres/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

enum token_op { TOKEN_CREATE = 0, TOKEN_START = 1, TOKEN_WEBHOOK = PG__TOKEN_WEBHOOK };

struct token_key {
    const char *tk;
    enum token_op op;
    const char *scope; /* "" or the connector id */
    const struct store_token *tok;
    int64_t now;
};

static void key_params(struct pg__params *p, const struct token_key *k)
{
    pg__p_text(p, k->tk);
    pg__p_int(p, k->op);
    pg__p_text(p, k->scope);
    pg__p_text(p, k->tok->token);
}

/* 0: the token is ours now (new, or an expired row taken over); 1 and the
 * resource's id in id: a live token with the same body; CCF_ETOKEN: one
 * with another body. */
static int token_claim(struct pg__conn *c, const struct token_key *k, char *id, size_t n,
                       const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    key_params(&p, k);
    pg__p_bytes(&p, k->tok->hash, 32);
    pg__p_int(&p, k->now);
    pg__p_int(&p, k->now - STORE_TOKEN_TTL_US);
    if ((rc = pg__run(c, PG__Q_TOKEN_PUT,
                      "INSERT INTO client_tokens (tenant, operation, scope, token, body_hash, "
                      "resource_id, connector_id, created_at) VALUES ($1, $2, $3, $4, $5, '', "
                      "NULL, $6) ON CONFLICT (tenant, operation, scope, token) DO UPDATE SET "
                      "body_hash = excluded.body_hash, resource_id = '', connector_id = NULL, "
                      "created_at = excluded.created_at WHERE client_tokens.created_at <= $7",
                      &p, &r, op)) < 0)
        return rc;
    rc = pg__changed(r) == 1;
    PQclear(r);
    if (rc)
        return 0;
    memset(&p, 0, sizeof(p));
    key_params(&p, k);
    if ((rc = pg__run(c, PG__Q_TOKEN_GET,
                      "SELECT encode(body_hash, 'hex'), resource_id FROM client_tokens "
                      "WHERE tenant = $1 AND operation = $2 AND scope = $3 AND token = $4",
                      &p, &r, op)) < 0)
        return rc;
    if (PQntuples(r) != 1) {
        rc = CCF_EUNAVAIL; /* gone between two statements: let the client retry */
    } else {
        char hex[65];

        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", k->tok->hash[i]);
        if (strcmp(pg__str(r, 0, 0), hex) != 0)
            rc = CCF_ETOKEN;
        else
            rc = pg__copy(r, 0, 1, id, n) < 0 ? CCF_EIO : 1;
    }
    PQclear(r);
    return rc;
}

static int token_set(struct pg__conn *c, const struct token_key *k, const char *id,
                     const char *connector_id, const char *op)
{
    struct pg__params p = {0};

    key_params(&p, k);
    pg__p_text(&p, id);
    pg__p_text(&p, connector_id);
    return pg__run(c, PG__Q_TOKEN_SET,
                   "UPDATE client_tokens SET resource_id = $5, connector_id = $6 "
                   "WHERE tenant = $1 AND operation = $2 AND scope = $3 AND token = $4",
                   &p, NULL, op);
}

static void token_init(struct token_key *k, const char *tk, enum token_op op, const char *scope,
                       const struct store_token *tok)
{
    *k = (struct token_key){.tk = tk, .op = op, .scope = scope, .tok = tok, .now = tok->now};
}

int pg__token_claim(struct pg__conn *c, const char *tk, int kind, const struct store_token *tok,
                    int64_t now, char *id, size_t n, const char *op)
{
    const struct token_key k = {
        .tk = tk, .op = (enum token_op)kind, .scope = "", .tok = tok, .now = now};

    return token_claim(c, &k, id, n, op);
}

int pg__token_set(struct pg__conn *c, const char *tk, int kind, const struct store_token *tok,
                  int64_t now, const char *id, const char *op)
{
    const struct token_key k = {
        .tk = tk, .op = (enum token_op)kind, .scope = "", .tok = tok, .now = now};

    return token_set(c, &k, id, NULL, op);
}

struct create_token {
    struct pg__create cr;
    struct token_key k;
    bool replay;
};

static int create_token_tx(struct pg__conn *c, void *arg)
{
    struct create_token *a = arg;
    const char *op = "create_connector";
    int rc;

    a->replay = false;
    if ((rc = token_claim(c, &a->k, a->cr.id, sizeof(a->cr.id), op)) != 0) {
        a->replay = rc == 1;
        return rc < 0 ? rc : 0;
    }
    if ((rc = pg__create_connector_tx(c, &a->cr)) < 0)
        return rc;
    return token_set(c, &a->k, a->cr.id, NULL, op);
}

int store_pg__create_connector_token(struct store *s, const struct ccf_tenant *t,
                                     struct ccf_connector *c, const struct store_token *tok)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct create_token a = {.cr = {.tk = tk, .in = c}};
    int rc;

    token_init(&a.k, tk, TOKEN_CREATE, "", tok);
    store__tenant_key(t, tk);
    a.cr.now = a.k.now;
    if ((rc = pg__write(s, create_token_tx, &a, "create_connector")) < 0)
        return rc;
    return store__connector_token_outcome(s, t, c, a.replay, a.cr.id, a.cr.now);
}

struct start_token {
    const char *tk;
    struct ccf_job *j;
    struct token_key k;
    char job_id[CCF_JOB_ID_LEN + 1];
    bool replay;
};

static int start_token_tx(struct pg__conn *c, void *arg)
{
    struct start_token *a = arg;
    const char *op = "start_job";
    int rc;

    /* Before the connector's state: a replay answers even while it is busy. */
    a->replay = false;
    if ((rc = token_claim(c, &a->k, a->job_id, sizeof(a->job_id), op)) != 0) {
        a->replay = rc == 1;
        return rc < 0 ? rc : 0;
    }
    /* A busy or paused connector is CCF_ECONFLICT, and the claim goes with
     * the rollback. */
    if ((rc = pg__start_job(c, a->tk, a->j, op)) < 0)
        return rc;
    return token_set(c, &a->k, a->j->id, a->j->connector_id, op);
}

int store_pg__start_job_token(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                              const struct store_token *tok, struct ccf_job *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct start_token a = {.tk = tk, .j = j};
    int rc;

    token_init(&a.k, tk, TOKEN_START, j->connector_id, tok);
    store__tenant_key(t, tk);
    if ((rc = pg__write(s, start_token_tx, &a, "start_job")) < 0)
        return rc;
    return store__job_token_outcome(s, t, a.replay, a.job_id, j, out);
}

int store_pg__purge_tokens(struct store *s, int64_t before)
{
    struct pg__params p = {0};
    struct pg__conn *c;
    PGresult *r;
    int rc;

    pg__p_int(&p, before);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_TOKEN_PURGE, "DELETE FROM client_tokens WHERE created_at < $1", &p, &r,
                 "purge_tokens");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    rc = (int)pg__changed(r);
    PQclear(r);
    return rc;
}
