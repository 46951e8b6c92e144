/* webhooks.c: webhooks and their deliveries in the PostgreSQL backend, with
 * the SQLite backend's semantics (sqlite/webhooks.c): a webhook is a row
 * with a cursor into the event stream (job_changes); the next event it is
 * owed is the first row of its tenant past the cursor whose type it takes;
 * webhook_deliveries keeps each tried event's attempts, and the cursor
 * moves past an event in the transaction that records its last attempt.
 *
 * Unlike SQLite, writers run concurrently: a create takes a lock per
 * tenant before counting, so that two creates racing cannot make the
 * tenant's 21st webhook; an attempt's record locks its webhook's row, so
 * that a delete waits for it or it finds the webhook gone. The id and
 * secret come from keys.c, store_webhook_clear from the SQLite file. */
#include "store/postgres/pg_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define WH_COLS "id, tenant, url, event_types, description, secret, created_at, start_seq, cursor"

/* pg_advisory_xact_lock's seed for the per-tenant webhook count: "ccf"
 * and 4 (documents.c's per-connector lock is 3). */
#define COUNT_LOCK_SEED "6513924"

static int row_webhook(PGresult *r, int i, struct store_webhook *w)
{
    char tk[STORE__TENANT_KEY_MAX];

    memset(w, 0, sizeof(*w));
    if (pg__copy(r, i, 0, w->id, sizeof(w->id)) < 0 || pg__copy(r, i, 1, tk, sizeof(tk)) < 0 ||
        store__tenant_parse(tk, &w->tenant) < 0 ||
        pg__copy(r, i, 5, w->secret, sizeof(w->secret)) < 0 || pg__null(r, i, 2)) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "webhooks"));
        return CCF_EIO;
    }
    w->url = pg__dup(r, i, 2);
    w->event_types = pg__dup(r, i, 3);
    w->description = pg__dup(r, i, 4);
    w->created_at = pg__int(r, i, 6);
    w->start_seq = pg__int(r, i, 7);
    w->cursor = pg__int(r, i, 8);
    return 0;
}

int store_pg__get_webhook(struct store *s, const struct ccf_tenant *t, const char *id,
                          struct store_webhook *out)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params p = {0};
    struct pg__conn *c;
    PGresult *r;
    int rc;

    if (!store_webhook_id_valid(id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    pg__p_text(&p, id);
    pg__p_text(&p, tk);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_WH_GET, "SELECT " WH_COLS " FROM webhooks WHERE id = $1 AND tenant = $2",
                 &p, &r, "get_webhook");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? row_webhook(r, 0, out) : CCF_ENOTFOUND;
    PQclear(r);
    return rc;
}

struct create_webhook {
    const char *tk;
    struct store_webhook *w; /* backend_int.h's create_webhook */
    const struct store_token *tok;
    bool replay;
};

/* Under the tenant's lock (held to the commit): how many webhooks the
 * tenant has, and the stream's end. Every event with a larger seq commits
 * after this read (writers draw seqs under the outbox's lock), so the new
 * webhook is owed exactly the events after it. */
static int count_and_end(struct pg__conn *c, const char *tk, int64_t *count, int64_t *end,
                         const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, tk);
    if ((rc = pg__run(c, PG__Q_WH_LOCK,
                      "SELECT pg_advisory_xact_lock(hashtextextended($1, " COUNT_LOCK_SEED "))", &p,
                      NULL, op)) < 0)
        return rc;
    if ((rc = pg__run(c, PG__Q_WH_COUNT,
                      "SELECT (SELECT count(*) FROM webhooks WHERE tenant = $1), "
                      "COALESCE((SELECT max(seq) FROM job_changes), 0)",
                      &p, &r, op)) < 0)
        return rc;
    *count = pg__int(r, 0, 0);
    *end = pg__int(r, 0, 1);
    PQclear(r);
    return 0;
}

static int insert_webhook(struct pg__conn *c, const struct create_webhook *a, const char *op)
{
    struct pg__params p = {0};

    pg__p_text(&p, a->w->id);
    pg__p_text(&p, a->tk);
    pg__p_text(&p, a->w->url);
    pg__p_text(&p, a->w->event_types);
    pg__p_text(&p, a->w->description);
    pg__p_text(&p, a->w->secret);
    pg__p_int(&p, a->w->created_at);
    pg__p_int(&p, a->w->start_seq);
    return pg__run(c, PG__Q_WH_INSERT,
                   "INSERT INTO webhooks (" WH_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                   &p, NULL, op);
}

static int create_tx(struct pg__conn *c, void *arg)
{
    struct create_webhook *a = arg;
    const char *op = "create_webhook";
    int64_t count = 0;
    int rc;

    a->replay = false;
    if (a->tok && (rc = pg__token_claim(c, a->tk, PG__TOKEN_WEBHOOK, a->tok, a->w->created_at,
                                        a->w->id, sizeof(a->w->id), op)) != 0) {
        a->replay = rc == 1;
        return rc < 0 ? rc : 0;
    }
    if ((rc = count_and_end(c, a->tk, &count, &a->w->start_seq, op)) < 0)
        return rc;
    if (count >= STORE_WEBHOOKS_MAX)
        return CCF_ELIMIT; /* the token's claim goes with the rollback */
    if ((rc = store__webhook_new(a->w->id, a->w->secret)) < 0 ||
        (rc = insert_webhook(c, a, op)) < 0)
        return rc;
    if (a->tok)
        rc = pg__token_set(c, a->tk, PG__TOKEN_WEBHOOK, a->tok, a->w->created_at, a->w->id, op);
    return rc;
}

int store_pg__create_webhook(struct store *s, const struct ccf_tenant *t, struct store_webhook *w,
                             const struct store_token *tok)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct create_webhook a = {.tk = tk, .w = w, .tok = tok};
    int rc;

    store__tenant_key(t, tk);
    if ((rc = pg__write(s, create_tx, &a, "create_webhook")) < 0)
        return rc;
    return a.replay ? STORE_TOKEN_REPLAY : STORE_TOKEN_NEW;
}

/* Visits up to limit rows of r (0: all); *last gets the key of the last
 * one visited when a further row exists (the page has a next), else NULL. */
static int visit_rows(PGresult *r, size_t limit, store_webhook_fn visit, void *ctx, char **last)
{
    struct store_webhook w;
    int rows = PQntuples(r), rc = 0;

    *last = NULL;
    for (int i = 0; i < rows; i++) {
        if (limit && (size_t)i == limit) {
            *last = store__key_format(pg__int(r, i - 1, 6), pg__str(r, i - 1, 0));
            return 0;
        }
        if ((rc = row_webhook(r, i, &w)) < 0)
            return rc;
        rc = visit(ctx, &w);
        store_webhook_clear(&w);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int store_pg__list_webhooks(struct store *s, const struct ccf_tenant *t,
                            const struct store__keyset *p, store_webhook_fn visit, void *ctx,
                            char **next)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params q = {0};
    struct pg__conn *c;
    char *last = NULL;
    PGresult *r;
    int rc;

    store__tenant_key(t, tk);
    pg__p_text(&q, tk);
    pg__p_int(&q, p->after_at);
    pg__p_text(&q, p->after_id);
    pg__p_int(&q, (int64_t)p->limit + 1);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_WH_LIST,
                 "SELECT " WH_COLS " FROM webhooks WHERE tenant = $1 "
                 "AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4",
                 &q, &r, "list_webhooks");
    pg__put(s, c); /* the visitor runs on the result, not the connection */
    if (rc < 0)
        return rc;
    rc = visit_rows(r, p->limit, visit, ctx, &last);
    PQclear(r);
    if (rc < 0 || !next)
        free(last);
    else
        *next = last;
    return rc;
}

int store_pg__all_webhooks(struct store *s, store_webhook_fn visit, void *ctx)
{
    struct pg__conn *c;
    char *last = NULL;
    PGresult *r;
    int rc;

    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_WH_ALL, "SELECT " WH_COLS " FROM webhooks ORDER BY id", NULL, &r,
                 "all_webhooks");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    rc = visit_rows(r, 0, visit, ctx, &last);
    PQclear(r);
    free(last);
    return rc;
}

struct delete_webhook {
    const char *tk, *id;
};

/* Its deliveries go with it (ON DELETE CASCADE). */
static int delete_tx(struct pg__conn *c, void *arg)
{
    const struct delete_webhook *a = arg;
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, a->id);
    pg__p_text(&p, a->tk);
    if ((rc = pg__run(c, PG__Q_WH_DELETE, "DELETE FROM webhooks WHERE id = $1 AND tenant = $2", &p,
                      &r, "delete_webhook")) < 0)
        return rc;
    rc = pg__changed(r) == 1 ? 0 : CCF_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_pg__delete_webhook(struct store *s, const struct ccf_tenant *t, const char *id)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct delete_webhook a = {.tk = tk, .id = id};

    if (!store_webhook_id_valid(id))
        return CCF_ENOTFOUND;
    store__tenant_key(t, tk);
    return pg__write(s, delete_tx, &a, "delete_webhook");
}

#define DELIVERY_COLS                                                                              \
    "d.status, d.attempts, d.first_attempt_at, d.last_attempt_at, d.next_attempt_at, "             \
    "d.last_status_code, d.last_error"

/* Columns col.. of a head or listing row: the delivery, if tried (status
 * NULL: not yet, the zeros). */
static void row_delivery(PGresult *r, int i, int col, struct store_delivery *d)
{
    const char *err;

    if (pg__null(r, i, col))
        return;
    d->status = (enum store_delivery_status)pg__int(r, i, col);
    d->attempts = (int)pg__int(r, i, col + 1);
    d->first_attempt_at = pg__int(r, i, col + 2);
    d->last_attempt_at = pg__int(r, i, col + 3);
    d->next_attempt_at = pg__int(r, i, col + 4);
    d->last_status_code = (int)pg__int(r, i, col + 5);
    if ((err = pg__str(r, i, col + 6)))
        snprintf(d->last_error, sizeof(d->last_error), "%s", err);
}

static int row_head(PGresult *r, struct store_event *ev, struct store_delivery *d)
{
    const char *type = pg__str(r, 0, 2), *detail = pg__str(r, 0, 5);

    memset(ev, 0, sizeof(*ev));
    memset(d, 0, sizeof(*d));
    if (!type || strlen(type) >= sizeof(ev->type) ||
        pg__copy(r, 0, 3, ev->connector_id, sizeof(ev->connector_id)) < 0 ||
        pg__copy(r, 0, 4, ev->job_id, sizeof(ev->job_id)) < 0) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("table", "job_changes"));
        return CCF_EIO;
    }
    ev->seq = d->seq = pg__int(r, 0, 0);
    ev->at = pg__int(r, 0, 1);
    memcpy(ev->type, type, strlen(type) + 1);
    memcpy(d->type, type, strlen(type) + 1);
    ev->detail = ccf_xstrdup(detail ? detail : "{}");
    row_delivery(r, 0, 6, d);
    return 1;
}

int store_pg__webhook_head(struct store *s, const struct store_webhook *w, struct store_event *ev,
                           struct store_delivery *d)
{
    char tk[STORE__TENANT_KEY_MAX];
    struct pg__params p = {0};
    struct pg__conn *c;
    PGresult *r;
    int rc;

    store__tenant_key(&w->tenant, tk);
    pg__p_text(&p, w->id);
    pg__p_text(&p, tk);
    pg__p_int(&p, w->cursor);
    pg__p_text(&p, w->event_types);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_WH_HEAD,
                 "SELECT e.seq, e.at, e.type, e.connector_id, e.job_id, e.detail, " DELIVERY_COLS
                 " FROM job_changes e LEFT JOIN webhook_deliveries d "
                 "ON d.webhook_id = $1 AND d.seq = e.seq "
                 "WHERE e.tenant = $2 AND e.seq > $3 "
                 "AND ($4::text IS NULL OR strpos($4, ',' || e.type || ',') > 0) "
                 "ORDER BY e.seq LIMIT 1",
                 &p, &r, "webhook_head");
    pg__put(s, c);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? row_head(r, ev, d) : 0;
    PQclear(r);
    return rc;
}

struct record {
    const char *id;
    const struct store_delivery *d;
    int found;
};

/* Locks the webhook's row: a delete racing this record waits for it, or
 * has committed and this finds nothing. */
static int lock_webhook(struct pg__conn *c, const char *id, int *found, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, id);
    if ((rc = pg__run(c, PG__Q_WH_EXISTS, "SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE", &p, &r,
                      op)) < 0)
        return rc;
    *found = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

/* The error as PostgreSQL takes it: the deliverer's text is ASCII when
 * well formed (curl's messages, an HTTP reason), but a byte past ASCII
 * that is not UTF-8 would fail the record. */
static const char *ascii(const char *in, char *out, size_t n)
{
    size_t i = 0;

    for (; in[i] && i + 1 < n; i++)
        out[i] = (unsigned char)in[i] < 0x80 ? in[i] : '?';
    out[i] = '\0';
    return out;
}

static int upsert_delivery(struct pg__conn *c, const char *id, const struct store_delivery *d,
                           const char *op)
{
    char err[sizeof(d->last_error)];
    struct pg__params p = {0};

    pg__p_text(&p, id);
    pg__p_int(&p, d->seq);
    pg__p_int(&p, d->status);
    pg__p_int(&p, d->attempts);
    pg__p_int(&p, d->first_attempt_at);
    pg__p_int(&p, d->last_attempt_at);
    pg__p_time(&p, d->next_attempt_at);
    pg__p_time(&p, d->last_status_code);
    pg__p_text(&p, d->last_error[0] ? ascii(d->last_error, err, sizeof(err)) : NULL);
    return pg__run(c, PG__Q_WH_RECORD,
                   "INSERT INTO webhook_deliveries (webhook_id, seq, status, attempts, "
                   "first_attempt_at, last_attempt_at, next_attempt_at, last_status_code, "
                   "last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                   "ON CONFLICT (webhook_id, seq) DO UPDATE SET status = excluded.status, "
                   "attempts = excluded.attempts, first_attempt_at = excluded.first_attempt_at, "
                   "last_attempt_at = excluded.last_attempt_at, "
                   "next_attempt_at = excluded.next_attempt_at, "
                   "last_status_code = excluded.last_status_code, last_error = excluded.last_error",
                   &p, NULL, op);
}

static int advance(struct pg__conn *c, const char *id, int64_t seq, const char *op)
{
    struct pg__params p = {0};

    pg__p_text(&p, id);
    pg__p_int(&p, seq);
    return pg__run(c, PG__Q_WH_ADVANCE,
                   "UPDATE webhooks SET cursor = $2 WHERE id = $1 AND cursor < $2", &p, NULL, op);
}

static int record_tx(struct pg__conn *c, void *arg)
{
    struct record *a = arg;
    const char *op = "webhook_record";
    int rc;

    if ((rc = lock_webhook(c, a->id, &a->found, op)) < 0 || !a->found)
        return rc;
    if ((rc = upsert_delivery(c, a->id, a->d, op)) < 0)
        return rc;
    if (a->d->status == STORE_DELIVERY_PENDING)
        return 0;
    return advance(c, a->id, a->d->seq, op);
}

int store_pg__webhook_record(struct store *s, const char *id, const struct store_delivery *d)
{
    struct record a = {.id = id, .d = d};
    int rc;

    if (!store_webhook_id_valid(id) || d->seq <= 0)
        return CCF_EINVAL;
    if ((rc = pg__write(s, record_tx, &a, "webhook_record")) < 0)
        return rc;
    return a.found;
}

/* A deliveries page key: a seq, 1..18 decimal digits. */
static int parse_seq(const char *key, int64_t *out)
{
    if (!key || !*key || strspn(key, "0123456789") != strlen(key) || strlen(key) > 18)
        return CCF_EINVAL;
    *out = strtoll(key, NULL, 10);
    return 0;
}

/* 1 when a row past the page exists (*last is then the next page's key). */
static int visit_deliveries(PGresult *r, size_t limit, store_delivery_fn visit, void *ctx,
                            int64_t *last)
{
    struct store_delivery d;
    const char *type;
    int rows = PQntuples(r), rc;

    *last = 0;
    for (int i = 0; i < rows; i++) {
        if ((size_t)i == limit)
            return 1;
        memset(&d, 0, sizeof(d));
        d.seq = pg__int(r, i, 0);
        type = pg__str(r, i, 1);
        snprintf(d.type, sizeof(d.type), "%s", type ? type : "");
        row_delivery(r, i, 2, &d);
        if ((rc = visit(ctx, &d)) < 0)
            return rc;
        *last = d.seq;
    }
    return 0;
}

static int read_deliveries(struct store *s, const char *tk, const struct store_webhook *w,
                           int64_t before, size_t limit, PGresult **out)
{
    struct pg__params p = {0};
    struct pg__conn *c;
    int rc;

    pg__p_text(&p, w->id);
    pg__p_text(&p, tk);
    pg__p_int(&p, w->start_seq);
    pg__p_int(&p, before);
    pg__p_text(&p, w->event_types);
    pg__p_int(&p, (int64_t)limit + 1);
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, PG__Q_WH_DELIVERIES,
                 "SELECT e.seq, e.type, " DELIVERY_COLS
                 " FROM job_changes e LEFT JOIN webhook_deliveries d "
                 "ON d.webhook_id = $1 AND d.seq = e.seq "
                 "WHERE e.tenant = $2 AND e.seq > $3 AND e.seq < $4 "
                 "AND ($5::text IS NULL OR strpos($5, ',' || e.type || ',') > 0) "
                 "ORDER BY e.seq DESC LIMIT $6",
                 &p, out, "list_deliveries");
    pg__put(s, c);
    return rc;
}

int store_pg__list_deliveries(struct store *s, const struct ccf_tenant *t, const char *id,
                              const struct store_page *p, store_delivery_fn visit, void *ctx,
                              char **next)
{
    struct store_webhook w;
    int64_t before = INT64_MAX, last = 0;
    char tk[STORE__TENANT_KEY_MAX], key[24];
    PGresult *r;
    int rc;

    if ((rc = store__page_check(p)) < 0 || (p->after && (rc = parse_seq(p->after, &before)) < 0))
        return rc;
    if ((rc = store_pg__get_webhook(s, t, id, &w)) < 0)
        return rc;
    store__tenant_key(t, tk);
    rc = read_deliveries(s, tk, &w, before, p->limit, &r);
    store_webhook_clear(&w);
    if (rc < 0)
        return rc;
    rc = visit_deliveries(r, p->limit, visit, ctx, &last);
    PQclear(r);
    if (rc == 1) {
        snprintf(key, sizeof(key), "%lld", (long long)last);
        if (next)
            *next = ccf_xstrdup(key);
        rc = 0;
    } else if (rc == 0 && next) {
        *next = NULL;
    }
    return rc;
}
