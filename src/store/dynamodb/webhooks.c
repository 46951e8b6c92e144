/* webhooks.c: webhooks and their deliveries in the DynamoDB backend.
 *
 * The webhooks table keeps a tenant's webhooks under its key
 * ("REGION#ACCOUNT") in STORE_WEBHOOKS_MAX slots (sk "slot#NN"): a create
 * takes a free slot with a conditional put, so that the limit holds under
 * racing creates without a counter or a transaction. The meta table maps
 * each id to its slot ("wh#ID"), written before the slot (an entry whose
 * slot is not there is a create that died: it reads as no webhook). The
 * deliveries table keeps each tried event's attempts under the webhook's
 * id by seq.
 *
 * The events a webhook is owed come from the event stream through the
 * store's own read_events (the change stream's backend file owns it): its
 * cursor is the seq of the last event it is done with. A record that
 * gives up or delivers an event writes the attempt, then moves the
 * cursor; a crash between the two leaves a finished attempt at the head,
 * which webhook_head finishes (moves the cursor) before going on. */
#include "store/dynamodb/ddb_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define SLOT_TRIES  (2 * STORE_WEBHOOKS_MAX) /* slots lost to racing creates */
#define EVENT_BATCH 64                       /* events read at once from the stream */

static void tenant_pk(const struct ccf_tenant *t, char out[STORE__TENANT_KEY_MAX])
{
    snprintf(out, STORE__TENANT_KEY_MAX, "%s#%s", t->region, t->account_id);
}

static void index_name(const char *id, char out[32])
{
    snprintf(out, 32, "wh#%s", id);
}

static char *dup_or_null(json_t *it, const char *name)
{
    const char *v = ddb__get_s(it, name);

    return v ? ccf_xstrdup(v) : NULL;
}

int ddb__webhook_from_item(json_t *it, struct store_webhook *w)
{
    const char *id = ddb__get_s(it, "id"), *secret = ddb__get_s(it, "secret");
    const char *url = ddb__get_s(it, "url"), *pk = ddb__get_s(it, "pk");
    const char *hash = pk ? strchr(pk, '#') : NULL;
    char region[CCF_REGION_MAX + 1];
    int bad = 0;

    memset(w, 0, sizeof(*w));
    if (!store_webhook_id_valid(id) || !secret || strlen(secret) != STORE_WEBHOOK_SECRET_LEN ||
        !url || !hash || (size_t)(hash - pk) > CCF_REGION_MAX)
        bad = 1;
    else {
        memcpy(region, pk, (size_t)(hash - pk));
        region[hash - pk] = '\0';
        bad = ccf_tenant_init(&w->tenant, region, hash + 1) < 0;
    }
    w->created_at = ddb__get_n(it, "created_at", &bad);
    w->start_seq = ddb__get_n(it, "start_seq", &bad);
    w->cursor = ddb__get_n(it, "cursor", &bad);
    if (bad) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("item", "webhook"));
        return CCF_EIO;
    }
    memcpy(w->id, id, STORE_WEBHOOK_ID_LEN + 1);
    memcpy(w->secret, secret, STORE_WEBHOOK_SECRET_LEN + 1);
    w->url = ccf_xstrdup(url);
    w->event_types = dup_or_null(it, "event_types");
    w->description = dup_or_null(it, "description");
    return 0;
}

/* Every item of the tenant's slots (at most STORE_WEBHOOKS_MAX). */
static int tenant_items(struct store *s, const char *pk, json_t **items, const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    int rc;

    ddb__table(s, DDB__T_WEBHOOKS, table);
    if ((rc = ddb__call(s, "Query",
                        json_pack("{s:s,s:s,s:{s:o},s:b}", "TableName", table,
                                  "KeyConditionExpression", "pk = :pk", "ExpressionAttributeValues",
                                  ":pk", ddb__s_val(pk), "ConsistentRead", 1),
                        &ans, op)) < 0)
        return rc;
    *items = json_incref(json_object_get(ans, "Items"));
    json_decref(ans);
    return json_is_array(*items) ? 0 : CCF_EIO;
}

/* GetItem of one key in table suffix; *item (owned) or NULL when absent. */
static int get_item(struct store *s, const char *suffix, json_t *key, json_t **item, const char *op)
{
    char table[DDB__NAME_MAX];
    json_t *ans;
    int rc;

    ddb__table(s, suffix, table);
    if ((rc = ddb__call(
             s, "GetItem",
             json_pack("{s:s,s:o,s:b}", "TableName", table, "Key", key, "ConsistentRead", 1), &ans,
             op)) < 0)
        return rc;
    *item = json_incref(json_object_get(ans, "Item"));
    json_decref(ans);
    return 0;
}

/* Webhook id (any tenant's) into *out, its slot key into sk;
 * CCF_ENOTFOUND when there is none. */
static int load_by_id(struct store *s, const char *id, struct store_webhook *out, char sk[16],
                      const char *op)
{
    char name[32];
    const char *pk, *slot;
    json_t *ix, *it = NULL;
    int rc;

    if (!store_webhook_id_valid(id))
        return CCF_ENOTFOUND;
    index_name(id, name);
    if ((rc = get_item(s, DDB__T_META, json_pack("{s:o}", "name", ddb__s_val(name)), &ix, op)) < 0)
        return rc;
    pk = ddb__get_s(ix, "pk");
    slot = ddb__get_s(ix, "sk");
    if (!ix || !pk || !slot || strlen(slot) >= 16) {
        json_decref(ix);
        return CCF_ENOTFOUND;
    }
    snprintf(sk, 16, "%s", slot);
    rc = get_item(s, DDB__T_WEBHOOKS,
                  json_pack("{s:o,s:o}", "pk", ddb__s_val(pk), "sk", ddb__s_val(slot)), &it, op);
    json_decref(ix);
    if (rc < 0)
        return rc;
    /* A slot taken by another webhook since (this one deleted): none. */
    if (!it || !ddb__get_s(it, "id") || strcmp(ddb__get_s(it, "id"), id) != 0)
        rc = CCF_ENOTFOUND;
    else
        rc = ddb__webhook_from_item(it, out);
    json_decref(it);
    return rc;
}

int store_ddb__get_webhook(struct store *s, const struct ccf_tenant *t, const char *id,
                           struct store_webhook *out)
{
    char sk[16];
    int rc = load_by_id(s, id, out, sk, "get_webhook");

    if (rc == 0 && (strcmp(out->tenant.region, t->region) != 0 ||
                    strcmp(out->tenant.account_id, t->account_id) != 0)) {
        store_webhook_clear(out);
        rc = CCF_ENOTFOUND;
    }
    return rc;
}

/* The end of t's event stream now (a new webhook's cursor): read through
 * to the end, since the stream keeps no per-tenant head here (a cheaper
 * one is the change stream's to give). */
static int events_end(struct store *s, const struct ccf_tenant *t, int64_t *end)
{
    struct store_event ev[EVENT_BATCH];
    struct store_event_query q = {.after = -1, .max = EVENT_BATCH};
    int64_t next = 0;
    int n;

    if (!s->ops->read_events) { /* no event stream in this build: none was written */
        *end = 0;
        return 0;
    }
    do {
        if ((n = store_read_events(s, t, &q, ev, &next)) < 0)
            return n;
        store_events_clear(ev, (size_t)n);
        q.after = next;
    } while (n == EVENT_BATCH);
    *end = next;
    return 0;
}

static json_t *webhook_item(const char *pk, const char *sk, const struct store_webhook *w)
{
    json_t *it = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "pk", ddb__s_val(pk), "sk",
                           ddb__s_val(sk), "id", ddb__s_val(w->id), "url", ddb__s_val(w->url),
                           "secret", ddb__s_val(w->secret), "created_at", ddb__n_val(w->created_at),
                           "start_seq", ddb__n_val(w->start_seq), "cursor", ddb__n_val(w->cursor));

    if (it && w->event_types)
        json_object_set_new(it, "event_types", ddb__s_val(w->event_types));
    if (it && w->description)
        json_object_set_new(it, "description", ddb__s_val(w->description));
    return it;
}

/* The first slot no item of items holds, or -1. */
static int free_slot(json_t *items, int from)
{
    for (int k = from; k < STORE_WEBHOOKS_MAX; k++) {
        char sk[16];
        size_t i;
        json_t *it;
        bool used = false;

        snprintf(sk, sizeof(sk), "slot#%02d", k);
        json_array_foreach(items, i, it)
        {
            const char *v = ddb__get_s(it, "sk");
            used = used || (v && strcmp(v, sk) == 0);
        }
        if (!used)
            return k;
    }
    return -1;
}

/* Writes w (id, secret, times set) into a free slot of pk: its index
 * entry first, then the slot, conditional on being free. CCF_ELIMIT when
 * none is. */
static int insert(struct store *s, const char *pk, const struct store_webhook *w, const char *op)
{
    char meta[DDB__NAME_MAX], table[DDB__NAME_MAX], name[32], sk[16];
    json_t *items = NULL;
    int rc = CCF_ELIMIT, k = 0;

    ddb__table(s, DDB__T_META, meta);
    ddb__table(s, DDB__T_WEBHOOKS, table);
    index_name(w->id, name);
    for (int tries = 0; tries < SLOT_TRIES; tries++) {
        json_t *it;

        if (!items && (rc = tenant_items(s, pk, &items, op)) < 0)
            return rc;
        if ((k = free_slot(items, k)) < 0) {
            rc = CCF_ELIMIT;
            break;
        }
        snprintf(sk, sizeof(sk), "slot#%02d", k);
        if ((rc = ddb__call(s, "PutItem",
                            json_pack("{s:s,s:{s:o,s:o,s:o}}", "TableName", meta, "Item", "name",
                                      ddb__s_val(name), "pk", ddb__s_val(pk), "sk", ddb__s_val(sk)),
                            NULL, op)) < 0)
            break;
        if (!(it = webhook_item(pk, sk, w))) {
            rc = CCF_ENOMEM;
            break;
        }
        rc = ddb__call(s, "PutItem",
                       json_pack("{s:s,s:o,s:s}", "TableName", table, "Item", it,
                                 "ConditionExpression", "attribute_not_exists(sk)"),
                       NULL, op);
        if (rc != CCF_ECONFLICT)
            break;
        /* Taken by a racing create: read the slots again. */
        json_decref(items);
        items = NULL;
        k = 0;
    }
    json_decref(items);
    if (rc < 0) /* no slot: the index entry goes (best effort; alone it names nothing) */
        (void)ddb__call(
            s, "DeleteItem",
            json_pack("{s:s,s:{s:o}}", "TableName", meta, "Key", "name", ddb__s_val(name)), NULL,
            op);
    return rc == CCF_ECONFLICT ? CCF_EUNAVAIL : rc;
}

int store_ddb__create_webhook(struct store *s, const struct ccf_tenant *t, struct store_webhook *w,
                              const struct store_token *tok)
{
    const char *op = "create_webhook";
    char pk[STORE__TENANT_KEY_MAX];
    struct ddb__tkey k = {0};
    bool done = false, claimed = false;
    int rc;

    if ((rc = store__webhook_new(w->id, w->secret)) < 0)
        return rc;
    if (tok) {
        ddb__tkey_init(&k, t, DDB__TOKEN_WEBHOOK, "", tok);
        if ((rc = ddb__token_claim(s, &k, w->id, sizeof(w->id), &done, op)) < 0)
            return rc;
        if (!store_webhook_id_valid(w->id))
            return CCF_EIO;
        if (rc == 1 && done)
            return STORE_TOKEN_REPLAY;
        if (rc == 1) { /* pending: made already by its first request? */
            struct store_webhook have;
            char sk[16];
            if ((rc = load_by_id(s, w->id, &have, sk, op)) == 0) {
                store_webhook_clear(&have);
                ddb__token_done(s, &k, w->id, op);
                return STORE_TOKEN_REPLAY;
            }
            if (rc != CCF_ENOTFOUND)
                return rc;
        }
        claimed = true;
    }
    tenant_pk(t, pk);
    if ((rc = events_end(s, t, &w->start_seq)) == 0) {
        w->cursor = w->start_seq;
        rc = insert(s, pk, w, op);
    }
    if (rc < 0) {
        if (claimed)
            ddb__token_drop(s, &k, w->id, op);
        return rc;
    }
    if (claimed)
        ddb__token_done(s, &k, w->id, op);
    return STORE_TOKEN_NEW;
}

static int cmp_hook(const void *a, const void *b)
{
    const struct store_webhook *x = a, *y = b;

    if (x->created_at != y->created_at)
        return x->created_at < y->created_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The tenant's webhooks (at most 20), ordered by created_at, then id. */
static int sorted(struct store *s, const struct ccf_tenant *t, struct store_webhook *v, size_t *n,
                  const char *op)
{
    char pk[STORE__TENANT_KEY_MAX];
    json_t *items, *it;
    size_t i;
    int rc;

    tenant_pk(t, pk);
    *n = 0;
    if ((rc = tenant_items(s, pk, &items, op)) < 0)
        return rc;
    json_array_foreach(items, i, it)
    {
        if (*n == STORE_WEBHOOKS_MAX || (rc = ddb__webhook_from_item(it, &v[*n])) < 0)
            break;
        (*n)++;
    }
    json_decref(items);
    if (rc < 0) {
        for (i = 0; i < *n; i++)
            store_webhook_clear(&v[i]);
        return rc;
    }
    qsort(v, *n, sizeof(*v), cmp_hook);
    return 0;
}

int store_ddb__list_webhooks(struct store *s, const struct ccf_tenant *t,
                             const struct store__keyset *p, store_webhook_fn visit, void *ctx,
                             char **next)
{
    struct store_webhook v[STORE_WEBHOOKS_MAX];
    size_t n, seen = 0, i;
    char *last = NULL;
    int rc;

    if ((rc = sorted(s, t, v, &n, "list_webhooks")) < 0)
        return rc;
    for (i = 0; i < n && rc == 0; i++) {
        if (v[i].created_at < p->after_at ||
            (v[i].created_at == p->after_at && strcmp(v[i].id, p->after_id) <= 0))
            continue;
        if (seen == p->limit) { /* one more exists: the page has a next */
            if (!last)
                rc = CCF_ENOMEM;
            break;
        }
        rc = visit(ctx, &v[i]);
        free(last);
        last = store__key_format(v[i].created_at, v[i].id);
        seen++;
    }
    if (rc == 0 && i == n) { /* ran out: no next */
        free(last);
        last = NULL;
    }
    for (i = 0; i < n; i++)
        store_webhook_clear(&v[i]);
    if (rc < 0 || !next)
        free(last);
    else
        *next = last;
    return rc;
}

struct all_webhooks {
    store_webhook_fn visit;
    void *ctx;
};

static int visit_webhook(void *ctx, json_t *it)
{
    struct all_webhooks *a = ctx;
    struct store_webhook w;
    int rc;

    if ((rc = ddb__webhook_from_item(it, &w)) < 0)
        return rc;
    rc = a->visit(a->ctx, &w);
    store_webhook_clear(&w);
    return rc < 0 ? rc : 0;
}

int store_ddb__all_webhooks(struct store *s, store_webhook_fn visit, void *ctx)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, DDB__T_WEBHOOKS, table);
    return ddb__each_item(s, "Scan",
                          json_pack("{s:s,s:b}", "TableName", table, "ConsistentRead", 1),
                          visit_webhook, &(struct all_webhooks){visit, ctx}, "all_webhooks");
}

int store_ddb__delete_webhook(struct store *s, const struct ccf_tenant *t, const char *id)
{
    const char *op = "delete_webhook";
    char table[DDB__NAME_MAX], pk[STORE__TENANT_KEY_MAX], sk[16], name[32];
    struct store_webhook w;
    int rc;

    if ((rc = store_ddb__get_webhook(s, t, id, &w)) < 0)
        return rc;
    store_webhook_clear(&w);
    if ((rc = load_by_id(s, id, &w, sk, op)) < 0)
        return rc;
    store_webhook_clear(&w);
    tenant_pk(t, pk);
    ddb__table(s, DDB__T_WEBHOOKS, table);
    rc = ddb__call(s, "DeleteItem",
                   json_pack("{s:s,s:{s:o,s:o},s:s,s:{s:o}}", "TableName", table, "Key", "pk",
                             ddb__s_val(pk), "sk", ddb__s_val(sk), "ConditionExpression",
                             "id = :id", "ExpressionAttributeValues", ":id", ddb__s_val(id)),
                   NULL, op);
    if (rc == CCF_ECONFLICT)
        return CCF_ENOTFOUND; /* deleted by another request meanwhile */
    if (rc < 0)
        return rc;
    /* Then what only it named: a crash here leaves items under an id no
     * webhook has (ids are random: never read again). */
    if ((rc = ddb__delete_all(s, DDB__T_DELIVERIES, id, "seq")) < 0)
        return rc;
    index_name(id, name);
    ddb__table(s, DDB__T_META, table);
    return ddb__call(
        s, "DeleteItem",
        json_pack("{s:s,s:{s:o}}", "TableName", table, "Key", "name", ddb__s_val(name)), NULL, op);
}

/* ---- deliveries ---- */

static void delivery_from_item(json_t *it, struct store_delivery *d)
{
    const char *err = ddb__get_s(it, "last_error");

    d->status = (enum store_delivery_status)ddb__get_n(it, "status", NULL);
    d->attempts = (int)ddb__get_n(it, "attempts", NULL);
    d->first_attempt_at = ddb__get_n(it, "first_attempt_at", NULL);
    d->last_attempt_at = ddb__get_n(it, "last_attempt_at", NULL);
    d->next_attempt_at = ddb__get_n(it, "next_attempt_at", NULL);
    d->last_status_code = (int)ddb__get_n(it, "last_status_code", NULL);
    if (err)
        snprintf(d->last_error, sizeof(d->last_error), "%s", err);
}

/* The attempts kept for (id, seq) into *d (untouched when none). */
static int load_delivery(struct store *s, const char *id, int64_t seq, struct store_delivery *d,
                         const char *op)
{
    json_t *it;
    int rc =
        get_item(s, DDB__T_DELIVERIES,
                 json_pack("{s:o,s:o}", "pk", ddb__s_val(id), "seq", ddb__n_val(seq)), &it, op);

    if (rc == 0 && it)
        delivery_from_item(it, d);
    json_decref(it);
    return rc;
}

/* The cursor of webhook id (in slot sk of pk) moves to seq, never back. */
static int advance(struct store *s, const struct ccf_tenant *t, const char *sk, const char *id,
                   int64_t seq, const char *op)
{
    char table[DDB__NAME_MAX], pk[STORE__TENANT_KEY_MAX];
    int rc;

    tenant_pk(t, pk);
    ddb__table(s, DDB__T_WEBHOOKS, table);
    rc =
        ddb__call(s, "UpdateItem",
                  json_pack("{s:s,s:{s:o,s:o},s:s,s:s,s:{s:s},s:{s:o,s:o}}", "TableName", table,
                            "Key", "pk", ddb__s_val(pk), "sk", ddb__s_val(sk), "UpdateExpression",
                            "SET #c = :seq", "ConditionExpression", "id = :id AND #c < :seq",
                            "ExpressionAttributeNames", "#c", "cursor", "ExpressionAttributeValues",
                            ":seq", ddb__n_val(seq), ":id", ddb__s_val(id)),
                  NULL, op);
    return rc == CCF_ECONFLICT ? 0 : rc; /* gone, or already past it */
}

int store_ddb__webhook_record(struct store *s, const char *id, const struct store_delivery *d)
{
    const char *op = "webhook_record";
    char table[DDB__NAME_MAX], sk[16];
    struct store_webhook w;
    json_t *it;
    int rc;

    if (!store_webhook_id_valid(id) || d->seq <= 0)
        return CCF_EINVAL;
    if ((rc = load_by_id(s, id, &w, sk, op)) == CCF_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    ddb__table(s, DDB__T_DELIVERIES, table);
    it = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "pk", ddb__s_val(id), "seq",
                   ddb__n_val(d->seq), "status", ddb__n_val(d->status), "attempts",
                   ddb__n_val(d->attempts), "first_attempt_at", ddb__n_val(d->first_attempt_at),
                   "last_attempt_at", ddb__n_val(d->last_attempt_at), "next_attempt_at",
                   ddb__n_val(d->next_attempt_at), "last_status_code",
                   ddb__n_val(d->last_status_code));
    if (d->last_error[0])
        json_object_set_new(it, "last_error", ddb__s_val(d->last_error));
    rc = ddb__call(s, "PutItem", json_pack("{s:s,s:o}", "TableName", table, "Item", it), NULL, op);
    /* Then the cursor; webhook_head finishes it after a crash between. */
    if (rc == 0 && d->status != STORE_DELIVERY_PENDING)
        rc = advance(s, &w.tenant, sk, id, d->seq, op);
    store_webhook_clear(&w);
    return rc < 0 ? rc : 1;
}

static bool takes(const char *types, const char *type)
{
    char want[32];

    if (!types)
        return true;
    snprintf(want, sizeof(want), ",%s,", type);
    return strstr(types, want) != NULL;
}

int store_ddb__webhook_head(struct store *s, const struct store_webhook *w, struct store_event *ev,
                            struct store_delivery *d)
{
    const char *op = "webhook_head";
    struct store_event batch[EVENT_BATCH];
    struct store_event_query q = {.after = w->cursor, .max = EVENT_BATCH};
    int64_t next = 0;
    char sk[16] = "";
    int n, rc = 0;

    for (;;) {
        if ((n = store_read_events(s, &w->tenant, &q, batch, &next)) < 0)
            return n;
        for (int i = 0; i < n && rc == 0; i++) {
            if (!takes(w->event_types, batch[i].type))
                continue;
            memset(d, 0, sizeof(*d));
            d->seq = batch[i].seq;
            snprintf(d->type, sizeof(d->type), "%s", batch[i].type);
            if ((rc = load_delivery(s, w->id, d->seq, d, op)) < 0)
                break;
            if (d->status == STORE_DELIVERY_PENDING) {
                *ev = batch[i];
                batch[i].detail = NULL; /* moved to *ev */
                rc = 1;
                break;
            }
            /* Finished, but its record died before the cursor moved. */
            if (!sk[0]) {
                struct store_webhook have;
                if ((rc = load_by_id(s, w->id, &have, sk, op)) < 0)
                    break;
                store_webhook_clear(&have);
            }
            if ((rc = advance(s, &w->tenant, sk, w->id, d->seq, op)) < 0)
                break;
        }
        store_events_clear(batch, (size_t)n);
        if (rc != 0 || n < EVENT_BATCH)
            return rc == CCF_ENOTFOUND ? 0 : rc;
        q.after = next;
    }
}

static int parse_seq(const char *key, int64_t *out)
{
    size_t n = key ? strlen(key) : 0;

    if (n == 0 || n > 18 || strspn(key, "0123456789") != n)
        return CCF_EINVAL;
    *out = strtoll(key, NULL, 10);
    return 0;
}

/* The events owed since the webhook's creation, newest first: the stream
 * reads oldest first, so a page keeps the newest `limit + 1` below
 * `before` in a ring while reading up to it. */
int store_ddb__list_deliveries(struct store *s, const struct ccf_tenant *t, const char *id,
                               const struct store_page *p, store_delivery_fn visit, void *ctx,
                               char **next)
{
    const char *op = "list_deliveries";
    struct store_event batch[EVENT_BATCH];
    struct store_webhook w;
    struct store_event_query q = {.max = EVENT_BATCH};
    struct store_delivery *ring;
    int64_t before = INT64_MAX, after = 0;
    size_t cap, kept = 0, head = 0;
    int n, rc = 0;

    if ((rc = store__page_check(p)) < 0 || (p->after && (rc = parse_seq(p->after, &before)) < 0))
        return rc;
    if ((rc = store_ddb__get_webhook(s, t, id, &w)) < 0)
        return rc;
    cap = p->limit + 1;
    ring = ccf_xcalloc(cap, sizeof(*ring));
    q.after = w.start_seq;
    do {
        if ((n = store_read_events(s, t, &q, batch, &after)) < 0) {
            rc = n;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct store_delivery *d;
            if (batch[i].seq >= before || !takes(w.event_types, batch[i].type))
                continue;
            d = &ring[head];
            head = (head + 1) % cap;
            kept += kept < cap;
            memset(d, 0, sizeof(*d));
            d->seq = batch[i].seq;
            snprintf(d->type, sizeof(d->type), "%s", batch[i].type);
        }
        store_events_clear(batch, (size_t)n);
        q.after = after;
    } while (n == EVENT_BATCH);
    /* Newest first: the ring backwards from its head. */
    for (size_t k = 0; rc == 0 && k < kept && k < p->limit; k++) {
        struct store_delivery *d = &ring[(head + cap - 1 - k) % cap];
        if ((rc = load_delivery(s, w.id, d->seq, d, op)) == 0)
            rc = visit(ctx, d);
    }
    if (rc == 0 && next) {
        *next = NULL;
        if (kept == cap) {
            char key[24];
            snprintf(key, sizeof(key), "%lld",
                     (long long)ring[(head + cap - 1 - (cap - 2)) % cap].seq);
            *next = ccf_xstrdup(key);
        }
    }
    free(ring);
    store_webhook_clear(&w);
    return rc < 0 ? rc : 0;
}
