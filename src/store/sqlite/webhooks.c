/* webhooks.c: webhooks and their deliveries in the SQLite backend. A
 * webhook is a row with a cursor into the event stream (job_changes); the
 * next event it is owed is the first row of its tenant past the cursor
 * whose type it takes. webhook_deliveries keeps each tried event's
 * attempts; the cursor moves past an event, in the transaction that
 * records its last attempt, once it is delivered or given up. */
#include "store/sqlite/sqlite_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define WH_COLS "id, tenant, url, event_types, description, secret, created_at, start_seq, cursor"

static int row_webhook(sqlite3_stmt *st, struct store_webhook *w)
{
    char tk[STORE__TENANT_KEY_MAX];

    memset(w, 0, sizeof(*w));
    if (store__col_copy(st, 0, w->id, sizeof(w->id)) < 0 ||
        store__col_copy(st, 1, tk, sizeof(tk)) < 0 || store__tenant_parse(tk, &w->tenant) < 0 ||
        store__col_copy(st, 5, w->secret, sizeof(w->secret)) < 0 || !sqlite3_column_text(st, 2)) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "webhooks"));
        return CCF_EIO;
    }
    w->url = store__col_dup(st, 2);
    w->event_types = store__col_dup(st, 3);
    w->description = store__col_dup(st, 4);
    w->created_at = sqlite3_column_int64(st, 6);
    w->start_seq = sqlite3_column_int64(st, 7);
    w->cursor = sqlite3_column_int64(st, 8);
    return 0;
}

/* The webhook id of tenant tk into *out; CCF_ENOTFOUND when none. */
static int get_tx(struct store__conn *c, const char *tk, const char *id, struct store_webhook *out,
                  const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_WH_GET,
                          "SELECT " WH_COLS " FROM webhooks WHERE id = ?1 AND tenant = ?2", &st,
                          op)) < 0)
        return rc;
    store__bind_text(st, 1, id, &b);
    store__bind_text(st, 2, tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = store__step_row(c, st, op)) == 0)
        rc = row_webhook(st, out);
out:
    store__reset(st);
    return rc;
}

int store_sqlite__get_webhook(struct store *s, const struct ccf_tenant *t, const char *id,
                              struct store_webhook *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    int rc;

    if (!store_webhook_id_valid(id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0)
        return rc;
    return get_tx(c, tk, id, out, "get_webhook");
}

struct create_webhook {
    const char *tk;
    struct store_webhook *w; /* backend_int.h's create_webhook */
    const struct store_token *tok;
    bool replay;
};

/* How many webhooks the tenant has, and the stream's end (every tenant's:
 * seq order is commit order, so later events have a larger seq). */
static int count_and_end(struct store__conn *c, const char *tk, int64_t *count, int64_t *end,
                         const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_WH_COUNT, "SELECT count(*) FROM webhooks WHERE tenant = ?1",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_int64(c, st, 0, count, op)) < 0)
        return rc;
    if ((rc = store__stmt(c, STORE__Q_WH_END,
                          /* The stream's end: pruning always keeps its
                           * newest row (events.c), so max(seq) is it. */
                          "SELECT COALESCE(max(seq), 0) FROM job_changes", &st, op)) < 0)
        return rc;
    return (rc = store__step_int64(c, st, 0, end, op)) < 0 ? rc : 0;
}

static int insert_webhook(struct store__conn *c, struct create_webhook *a, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_WH_INSERT,
                          "INSERT INTO webhooks (" WH_COLS
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->w->id, &b);
    store__bind_text(st, 2, a->tk, &b);
    store__bind_text(st, 3, a->w->url, &b);
    store__bind_text(st, 4, a->w->event_types, &b);
    store__bind_text(st, 5, a->w->description, &b);
    store__bind_text(st, 6, a->w->secret, &b);
    store__bind_int(st, 7, a->w->created_at, &b);
    store__bind_int(st, 8, a->w->start_seq, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

static int create_tx(struct store__conn *c, void *arg)
{
    struct create_webhook *a = arg;
    const char *op = "create_webhook";
    int64_t count = 0;
    int rc;

    a->replay = false;
    if (a->tok && (rc = store__token_find(c, a->tk, STORE__TOKEN_WEBHOOK, a->tok, a->w->created_at,
                                          a->w->id, sizeof(a->w->id), op)) != 0) {
        a->replay = rc == 1;
        return rc < 0 ? rc : 0;
    }
    if ((rc = count_and_end(c, a->tk, &count, &a->w->start_seq, op)) < 0)
        return rc;
    if (count >= STORE_WEBHOOKS_MAX)
        return CCF_ELIMIT;
    if ((rc = store__webhook_new(a->w->id, a->w->secret)) < 0 ||
        (rc = insert_webhook(c, a, op)) < 0)
        return rc;
    if (a->tok)
        rc = store__token_keep(c, a->tk, STORE__TOKEN_WEBHOOK, a->tok, a->w->created_at, a->w->id,
                               op);
    return rc;
}

int store_sqlite__create_webhook(struct store *s, const struct ccf_tenant *t,
                                 struct store_webhook *w, const struct store_token *tok)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct create_webhook a = {.tk = tk, .w = w, .tok = tok};
    int rc;

    store__tenant_key(t, tk);
    if ((rc = store__write(s, create_tx, &a, "create_webhook")) < 0)
        return rc;
    return a.replay ? STORE_TOKEN_REPLAY : STORE_TOKEN_NEW;
}

/* Visits up to limit rows (0: all); *last gets the key of the last one
 * visited when a further row exists (the page has a next), else NULL. */
static int visit_rows(struct store__conn *c, sqlite3_stmt *st, size_t limit, store_webhook_fn visit,
                      void *ctx, char **last, const char *op)
{
    struct store_webhook w;
    size_t n = 0;
    char *key = NULL;
    int rc;

    *last = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (limit && n == limit) {
            *last = key;
            return 0;
        }
        if ((rc = row_webhook(st, &w)) < 0)
            break;
        rc = visit(ctx, &w);
        free(key);
        key = limit ? store__key_format(w.created_at, w.id) : NULL;
        store_webhook_clear(&w);
        if (rc < 0)
            break;
        n++;
    }
    free(key);
    if (rc == SQLITE_DONE)
        return 0;
    return rc < 0 ? rc : store__fail(c, rc, "store.step_failed", op);
}

int store_sqlite__list_webhooks(struct store *s, const struct ccf_tenant *t,
                                const struct store__keyset *p, store_webhook_fn visit, void *ctx,
                                char **next)
{
    const char *op = "list_webhooks";
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    char *last = NULL;
    int rc, b = SQLITE_OK;

    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_WH_LIST,
                          "SELECT " WH_COLS " FROM webhooks WHERE tenant = ?1 "
                          "AND (created_at, id) > (?2, ?3) ORDER BY created_at, id LIMIT ?4",
                          &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, tk, &b);
    store__bind_int(st, 2, p->after_at, &b);
    store__bind_text(st, 3, p->after_id, &b);
    store__bind_int(st, 4, (int64_t)p->limit + 1, &b);
    if ((rc = store__bind_check(c, b, op)) == 0)
        rc = visit_rows(c, st, p->limit, visit, ctx, &last, op);
    store__reset(st);
    if (rc < 0 || !next)
        free(last);
    else
        *next = last;
    return rc;
}

int store_sqlite__all_webhooks(struct store *s, store_webhook_fn visit, void *ctx)
{
    const char *op = "all_webhooks";
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    char *last = NULL;
    int rc;

    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_WH_ALL, "SELECT " WH_COLS " FROM webhooks ORDER BY id", &st,
                          op)) < 0)
        return rc;
    rc = visit_rows(c, st, 0, visit, ctx, &last, op);
    store__reset(st);
    free(last);
    return rc;
}

struct delete_webhook {
    const char *tk, *id;
};

static int delete_tx(struct store__conn *c, void *arg)
{
    const struct delete_webhook *a = arg;
    const char *op = "delete_webhook";
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_WH_DELETE,
                          "DELETE FROM webhooks WHERE id = ?1 AND tenant = ?2", &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, a->id, &b);
    store__bind_text(st, 2, a->tk, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    if ((rc = store__step_done(c, st, op)) < 0)
        return rc;
    return store__changes(c) == 1 ? 0 : CCF_ENOTFOUND;
}

int store_sqlite__delete_webhook(struct store *s, const struct ccf_tenant *t, const char *id)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete_webhook a = {.tk = tk, .id = id};

    if (!store_webhook_id_valid(id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    return store__write(s, delete_tx, &a, "delete_webhook");
}

/* Columns 6.. of a head or listing row: the delivery, if tried (status
 * NULL: not yet). */
static void row_delivery(sqlite3_stmt *st, int col, struct store_delivery *d)
{
    const unsigned char *err;

    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return; /* PENDING, never tried: the zeros */
    d->status = (enum store_delivery_status)sqlite3_column_int(st, col);
    d->attempts = sqlite3_column_int(st, col + 1);
    d->first_attempt_at = sqlite3_column_int64(st, col + 2);
    d->last_attempt_at = sqlite3_column_int64(st, col + 3);
    d->next_attempt_at = sqlite3_column_int64(st, col + 4);
    d->last_status_code = sqlite3_column_int(st, col + 5);
    if ((err = sqlite3_column_text(st, col + 6)))
        snprintf(d->last_error, sizeof(d->last_error), "%s", (const char *)err);
}

#define DELIVERY_COLS                                                                              \
    "d.status, d.attempts, d.first_attempt_at, d.last_attempt_at, d.next_attempt_at, "             \
    "d.last_status_code, d.last_error"

int store_sqlite__webhook_head(struct store *s, const struct store_webhook *w,
                               struct store_event *ev, struct store_delivery *d)
{
    const char *op = "webhook_head";
    char tk[STORE__TENANT_KEY_MAX];
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    const char *type, *detail;
    int rc, b = SQLITE_OK;

    store__tenant_key(&w->tenant, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(
             c, STORE__Q_WH_HEAD,
             "SELECT e.seq, e.at, e.type, e.connector_id, e.job_id, e.detail, " DELIVERY_COLS
             " FROM job_changes e LEFT JOIN webhook_deliveries d "
             "ON d.webhook_id = ?1 AND d.seq = e.seq "
             "WHERE e.tenant = ?2 AND e.seq > ?3 AND e.type IS NOT NULL "
             "AND (?4 IS NULL OR instr(?4, ',' || e.type || ',') > 0) "
             "ORDER BY e.seq LIMIT 1",
             &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, w->id, &b);
    store__bind_text(st, 2, tk, &b);
    store__bind_int(st, 3, w->cursor, &b);
    store__bind_text(st, 4, w->event_types, &b);
    if ((rc = store__bind_check(c, b, op)) < 0)
        goto out;
    if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
        rc = 0;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = store__fail(c, rc, "store.step_failed", op);
        goto out;
    }
    memset(ev, 0, sizeof(*ev));
    memset(d, 0, sizeof(*d));
    type = (const char *)sqlite3_column_text(st, 2);
    detail = (const char *)sqlite3_column_text(st, 5);
    if (!type || strlen(type) >= sizeof(ev->type) ||
        store__col_copy(st, 3, ev->connector_id, sizeof(ev->connector_id)) < 0 ||
        store__col_copy(st, 4, ev->job_id, sizeof(ev->job_id)) < 0) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "job_changes"));
        rc = CCF_EIO;
        goto out;
    }
    ev->seq = d->seq = sqlite3_column_int64(st, 0);
    ev->at = sqlite3_column_int64(st, 1);
    memcpy(ev->type, type, strlen(type) + 1);
    memcpy(d->type, type, strlen(type) + 1);
    ev->detail = ccf_xstrdup(detail ? detail : "{}");
    row_delivery(st, 6, d);
    rc = 1;
out:
    store__reset(st);
    return rc;
}

struct record {
    const char *id;
    const struct store_delivery *d;
    int found;
};

static int exists_tx(struct store__conn *c, const char *id, int64_t *found, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_WH_EXISTS, "SELECT count(*) FROM webhooks WHERE id = ?1", &st,
                          op)) < 0)
        return rc;
    store__bind_text(st, 1, id, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return (rc = store__step_int64(c, st, 0, found, op)) < 0 ? rc : 0;
}

static int upsert_delivery(struct store__conn *c, const char *id, const struct store_delivery *d,
                           const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(
             c, STORE__Q_WH_RECORD,
             "INSERT OR REPLACE INTO webhook_deliveries (webhook_id, seq, status, "
             "attempts, first_attempt_at, last_attempt_at, next_attempt_at, "
             "last_status_code, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
             &st, op)) < 0)
        return rc;
    store__bind_text(st, 1, id, &b);
    store__bind_int(st, 2, d->seq, &b);
    store__bind_int(st, 3, d->status, &b);
    store__bind_int(st, 4, d->attempts, &b);
    store__bind_int(st, 5, d->first_attempt_at, &b);
    store__bind_int(st, 6, d->last_attempt_at, &b);
    store__bind_time(st, 7, d->next_attempt_at, &b);
    store__bind_time(st, 8, d->last_status_code, &b);
    store__bind_text(st, 9, d->last_error[0] ? d->last_error : NULL, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

static int advance(struct store__conn *c, const char *id, int64_t seq, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_WH_ADVANCE,
                          "UPDATE webhooks SET cursor = ?2 WHERE id = ?1 AND cursor < ?2", &st,
                          op)) < 0)
        return rc;
    store__bind_text(st, 1, id, &b);
    store__bind_int(st, 2, seq, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}

static int record_tx(struct store__conn *c, void *arg)
{
    struct record *a = arg;
    const char *op = "webhook_record";
    int64_t found = 0;
    int rc;

    if ((rc = exists_tx(c, a->id, &found, op)) < 0)
        return rc;
    a->found = found > 0;
    if (!a->found)
        return 0;
    if ((rc = upsert_delivery(c, a->id, a->d, op)) < 0)
        return rc;
    if (a->d->status == STORE_DELIVERY_PENDING)
        return 0;
    return advance(c, a->id, a->d->seq, op);
}

int store_sqlite__webhook_record(struct store *s, const char *id, const struct store_delivery *d)
{
    struct record a = {.id = id, .d = d};
    int rc;

    if (!store_webhook_id_valid(id) || d->seq <= 0)
        return CCF_EINVAL;
    if ((rc = store__write(s, record_tx, &a, "webhook_record")) < 0)
        return rc;
    return a.found;
}

static int parse_seq(const char *key, int64_t *out)
{
    char *end;
    long long v;

    if (!key || !*key || strspn(key, "0123456789") != strlen(key) || strlen(key) > 18)
        return CCF_EINVAL;
    v = strtoll(key, &end, 10);
    *out = v;
    return 0;
}

static int visit_deliveries(struct store__conn *c, sqlite3_stmt *st, size_t limit,
                            store_delivery_fn visit, void *ctx, int64_t *last, const char *op)
{
    struct store_delivery d;
    const char *type;
    size_t n = 0;
    int rc;

    *last = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit)
            return 1; /* one more exists: *last is the next page's key */
        memset(&d, 0, sizeof(d));
        d.seq = sqlite3_column_int64(st, 0);
        type = (const char *)sqlite3_column_text(st, 1);
        snprintf(d.type, sizeof(d.type), "%s", type ? type : "");
        row_delivery(st, 2, &d);
        if ((rc = visit(ctx, &d)) < 0)
            return rc;
        *last = d.seq;
        n++;
    }
    return rc == SQLITE_DONE ? 0 : store__fail(c, rc, "store.step_failed", op);
}

int store_sqlite__list_deliveries(struct store *s, const struct ccf_tenant *t, const char *id,
                                  const struct store_page *p, store_delivery_fn visit, void *ctx,
                                  char **next)
{
    const char *op = "list_deliveries";
    struct store_webhook w;
    struct store__conn *c;
    sqlite3_stmt *st = NULL;
    int64_t before = INT64_MAX, last = 0;
    char tk[STORE__TENANT_KEY_MAX], key[24];
    int rc, b = SQLITE_OK;

    if ((rc = store__page_check(p)) < 0 || (p->after && (rc = parse_seq(p->after, &before)) < 0))
        return rc;
    if ((rc = store_get_webhook(s, t, id, &w)) < 0)
        return rc;
    store__tenant_key(t, tk);
    if ((rc = store__conn(s, &c)) < 0 ||
        (rc = store__stmt(c, STORE__Q_WH_DELIVERIES,
                          "SELECT e.seq, e.type, " DELIVERY_COLS
                          " FROM job_changes e LEFT JOIN webhook_deliveries d "
                          "ON d.webhook_id = ?1 AND d.seq = e.seq "
                          "WHERE e.tenant = ?2 AND e.seq > ?3 AND e.seq < ?4 "
                          "AND e.type IS NOT NULL "
                          "AND (?5 IS NULL OR instr(?5, ',' || e.type || ',') > 0) "
                          "ORDER BY e.seq DESC LIMIT ?6",
                          &st, op)) < 0)
        goto out;
    store__bind_text(st, 1, w.id, &b);
    store__bind_text(st, 2, tk, &b);
    store__bind_int(st, 3, w.start_seq, &b);
    store__bind_int(st, 4, before, &b);
    store__bind_text(st, 5, w.event_types, &b);
    store__bind_int(st, 6, (int64_t)p->limit + 1, &b);
    if ((rc = store__bind_check(c, b, op)) == 0)
        rc = visit_deliveries(c, st, p->limit, visit, ctx, &last, op);
    store__reset(st);
    if (rc == 1) {
        snprintf(key, sizeof(key), "%lld", (long long)last);
        if (next)
            *next = ccf_xstrdup(key);
        rc = 0;
    } else if (rc == 0 && next) {
        *next = NULL;
    }
out:
    store_webhook_clear(&w);
    return rc;
}

/* Part of the events' pruning (events.c): attempts of events no longer kept. */
int store__webhook_prune(struct store__conn *c, int64_t cut, const char *op)
{
    sqlite3_stmt *st = NULL;
    int rc, b = SQLITE_OK;

    if ((rc = store__stmt(c, STORE__Q_WH_PRUNE, "DELETE FROM webhook_deliveries WHERE seq <= ?1",
                          &st, op)) < 0)
        return rc;
    store__bind_int(st, 1, cut, &b);
    if ((rc = store__bind_check(c, b, op)) < 0) {
        store__reset(st);
        return rc;
    }
    return store__step_done(c, st, op);
}
