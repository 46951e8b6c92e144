/* events.c: a tenant's events on the DynamoDB backend: the committed
 * records of the change log (changes.c) read by the global index by_tenant
 * (hash tenant, range seq), never past the log's horizon, so that a cursor
 * handed out is never passed by a record that commits later.
 *
 * One tenant's read touches its own index partition, plus its share of
 * moving the horizon over records no reader has walked yet. */
#include "store/dynamodb/seqlog.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define PAGE 200

struct reading {
    const struct store_event_query *q;
    struct store_event *out;
    size_t n;
    int64_t last; /* the tenant's last seq seen, whatever the filters */
};

static bool wanted(const struct store_event_query *q, const char *type, const char *cid)
{
    char key[sizeof(((struct store_event *)0)->type) + 2];

    if (q->connector_id && strcmp(q->connector_id, cid) != 0)
        return false;
    if (!q->types)
        return true;
    snprintf(key, sizeof(key), ",%s,", type);
    return strstr(q->types, key) != NULL;
}

int ddb__event_from_item(json_t *rec, struct store_event *e)
{
    const char *type = ddb__get_s(rec, "type"), *cid = ddb__get_s(rec, "cid");
    const char *jid = ddb__get_s(rec, "jid"), *detail = ddb__get_s(rec, "detail");
    int bad = 0;

    memset(e, 0, sizeof(*e));
    e->seq = ddb__get_n(rec, "seq", &bad);
    e->at = ddb__get_n(rec, "at", &bad);
    if (bad || !type || strlen(type) >= sizeof(e->type) || !cid ||
        strlen(cid) >= sizeof(e->connector_id) || (jid && strlen(jid) >= sizeof(e->job_id))) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("table", "changes"), CCF_KV_INT("seq", e->seq));
        return CCF_EIO;
    }
    memcpy(e->type, type, strlen(type) + 1);
    memcpy(e->connector_id, cid, strlen(cid) + 1);
    if (jid)
        memcpy(e->job_id, jid, strlen(jid) + 1);
    e->detail = ccf_xstrdup(detail ? detail : "{}");
    return 0;
}

/* One index page: the matching committed records, until q->max. */
static int take(json_t *items, struct reading *r)
{
    json_t *rec;
    size_t i;
    int rc;

    json_array_foreach(items, i, rec)
    {
        const char *type = ddb__get_s(rec, "type"), *cid = ddb__get_s(rec, "cid");
        int64_t seq = ddb__get_n(rec, "seq", NULL);

        if (r->n == r->q->max)
            return 0;
        if (seq > r->last)
            r->last = seq;
        if (!type || !cid || !wanted(r->q, type, cid))
            continue;
        if ((rc = ddb__event_from_item(rec, &r->out[r->n])) < 0)
            return rc;
        r->n++;
    }
    return 0;
}

static int take_page(void *ctx, json_t *ans, json_t *req)
{
    struct reading *r = ctx;
    int rc;

    (void)req;
    if ((rc = take(json_object_get(ans, "Items"), r)) < 0)
        return rc;
    return r->n == r->q->max ? DDB__STOP : 0;
}

int store_ddb__read_events(struct store *s, const struct ccf_tenant *t,
                           const struct store_event_query *q, struct store_event *out,
                           int64_t *next)
{
    const char *op = "read_events";
    char tk[STORE__TENANT_KEY_MAX];
    struct reading r = {.q = q, .out = out};
    int64_t h, from;
    int rc;

    if (q->max == 0 || q->max > INT_MAX || !out || q->after < -1)
        return CCF_EINVAL;
    if ((rc = ddb__horizon(s, &h)) < 0 ||
        (rc = ddb__seqlog_from(s, &ddb__changes_log, q->after, &from, op)) < 0)
        return rc;
    r.last = from;
    store__tenant_key(t, tk);
    if (from < h && (rc = ddb__each_page(s, "Query",
                                         ddb__seqlog_tenant_query(s, &ddb__changes_log, tk,
                                                                  from + 1, h, PAGE, false),
                                         take_page, &r, op)) < 0) {
        store_events_clear(out, r.n);
        return rc;
    }
    *next = r.n == q->max ? out[r.n - 1].seq : r.last;
    return (int)r.n;
}
