/* tokens.c: client tokens of idempotent creates and starts in the SQLite
 * backend. The lookup and the insert of a token run in the transaction
 * that makes the resource, so group commit's one writer at a time and the
 * table's primary key make two requests with one token make one resource. */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

enum token_op { TOKEN_CREATE = 0, TOKEN_START = 1, TOKEN_WEBHOOK = STORE__TOKEN_WEBHOOK };

struct token_key {
    const char *tk;
    enum token_op op;
    const char *scope; /* "" or the connector id */
    const struct store_token *tok;
    int64_t now;
};

/* 1 and the resource's id in id when a live token exists with the same
 * body, 0 when none does (or it has expired), CCF_ETOKEN when it was used
 * with another body. */
static int token_lookup(struct store__conn *c, const struct token_key *k, char *id, size_t n,
                        const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_TOKEN_GET,
                          "SELECT body_hash, resource_id FROM client_tokens "
                          "WHERE tenant = ?1 AND operation = ?2 AND scope = ?3 AND token = ?4 "
                          "AND created_at > ?5",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, k->tk, &b);
    store__bind_int(st, 2, k->op, &b);
    store__bind_text(st, 3, k->scope, &b);
    store__bind_text(st, 4, k->tok->token, &b);
    store__bind_int(st, 5, k->now - STORE_TOKEN_TTL_US, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        rc = 0;
    } else if (rc != SQLITE_ROW) {
        rc = store__fail(c, rc, "store.step_failed", op);
    } else if (sqlite3_column_bytes(st, 0) != 32 ||
               memcmp(sqlite3_column_blob(st, 0), k->tok->hash, 32) != 0) {
        rc = CCF_ETOKEN;
    } else {
        rc = store__col_copy(st, 1, id, n) < 0 ? CCF_EIO : 1;
    }
out:
    store__reset(st);
    return rc;
}

/* OR REPLACE: an expired row of the same key is taken over. */
static int token_insert(struct store__conn *c, const struct token_key *k, const char *id,
                        const char *connector_id, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_TOKEN_PUT,
                          "INSERT OR REPLACE INTO client_tokens (tenant, operation, scope, token, "
                          "body_hash, resource_id, connector_id, created_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, k->tk, &b);
    store__bind_int(st, 2, k->op, &b);
    store__bind_text(st, 3, k->scope, &b);
    store__bind_text(st, 4, k->tok->token, &b);
    store__bind_blob(st, 5, k->tok->hash, 32, &b);
    store__bind_text(st, 6, id, &b);
    store__bind_text(st, 7, connector_id, &b);
    store__bind_int(st, 8, k->now, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

struct create_token {
    struct store__create cr;
    struct token_key k;
    bool replay;
};

static int create_token_tx(struct store__conn *c, void *arg)
{
    struct create_token *a = arg;
    const char *op = "create_connector";
    int rc;

    a->replay = false;
    if ((rc = token_lookup(c, &a->k, a->cr.id, sizeof(a->cr.id), op)) != 0) {
        a->replay = rc == 1;
        return rc < 0 ? rc : 0;
    }
    if ((rc = store__create_connector_tx(c, &a->cr)) < 0)
        return rc;
    return token_insert(c, &a->k, a->cr.id, NULL, op);
}

static void token_init(struct token_key *k, const char *tk, enum token_op op, const char *scope,
                       const struct store_token *tok)
{
    *k = (struct token_key){.tk = tk, .op = op, .scope = scope, .tok = tok, .now = tok->now};
}

int store_sqlite__create_connector_token(struct store *s, const struct ccf_tenant *t,
                                         struct ccf_connector *c, const struct store_token *tok)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct create_token a = {.cr = {.tk = tk, .in = c}};
    int rc;

    token_init(&a.k, tk, TOKEN_CREATE, "", tok);
    store__tenant_key(t, tk);
    a.cr.now = a.k.now;
    if ((rc = store__write(s, create_token_tx, &a, "create_connector")) < 0)
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

static int start_token_tx(struct store__conn *c, void *arg)
{
    struct start_token *a = arg;
    const char *op = "start_job";
    int rc;

    /* Before the connector's state: a replay answers even while it is busy. */
    a->replay = false;
    if ((rc = token_lookup(c, &a->k, a->job_id, sizeof(a->job_id), op)) != 0) {
        a->replay = rc == 1;
        return rc < 0 ? rc : 0;
    }
    /* The one start path, shared with store_start_job and the scheduler:
     * a paused or busy connector is CCF_ECONFLICT here, after the token. */
    if ((rc = store__start_job(c, a->tk, a->j, op)) < 0)
        return rc;
    return token_insert(c, &a->k, a->j->id, a->j->connector_id, op);
}

int store_sqlite__start_job_token(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                                  const struct store_token *tok, struct ccf_job *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct start_token a = {.tk = tk, .j = j};
    int rc;

    token_init(&a.k, tk, TOKEN_START, j->connector_id, tok);
    store__tenant_key(t, tk);
    if ((rc = store__write(s, start_token_tx, &a, "start_job")) < 0)
        return rc;
    return store__job_token_outcome(s, t, a.replay, a.job_id, j, out);
}

int store__token_find(struct store__conn *c, const char *tk, int kind,
                      const struct store_token *tok, int64_t now, char *id, size_t n,
                      const char *op)
{
    struct token_key k = {.tk = tk, .op = (enum token_op)kind, .scope = "", .tok = tok, .now = now};

    return token_lookup(c, &k, id, n, op);
}

int store__token_keep(struct store__conn *c, const char *tk, int kind,
                      const struct store_token *tok, int64_t now, const char *id, const char *op)
{
    struct token_key k = {.tk = tk, .op = (enum token_op)kind, .scope = "", .tok = tok, .now = now};

    return token_insert(c, &k, id, NULL, op);
}

int store_sqlite__purge_tokens(struct store *s, int64_t before)
{
    static const char op[] = "purge_tokens";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_TOKEN_PURGE,
                          "DELETE FROM client_tokens WHERE created_at < ?1", &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, before, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) < 0)
        return rc;
    return (int)store__changes(c);
}
