/* events.c: libccf's ListEvents (CONTRACT-OPS.md, "Events"): one page of
 * the tenant's event stream, a long poll with wait_seconds. An event's
 * detail is handed over as JSON text: its shape depends on the type. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

#define EVENTS_PATH "/api/v1/events"

void ccf_client_event_list_clear(struct ccf_client_event_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++) {
        struct ccf_client_event *e = &l->items[i];

        free(e->event_id);
        free(e->time);
        free(e->type);
        free(e->connector_id);
        free(e->job_id);
        free(e->detail);
    }
    free(l->items);
    free(l->next_cursor);
    memset(l, 0, sizeof(*l));
}

static char *dup_member(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? strdup(s) : NULL;
}

static int parse_event(const json_t *o, struct ccf_client_event *e, struct ccf_client_error *err)
{
    const json_t *detail = json_object_get(o, "detail");

    memset(e, 0, sizeof(*e));
    e->event_id = dup_member(o, "event_id");
    e->time = dup_member(o, "time");
    e->type = dup_member(o, "type");
    e->connector_id = dup_member(o, "connector_id");
    e->job_id = dup_member(o, "job_id");
    e->detail = json_is_object(detail) ? json_dumps(detail, JSON_COMPACT) : NULL;
    if (!e->event_id || !e->time || !e->type || !e->connector_id || !e->detail)
        return ccf_client__fail(err, CCF_CLIENT_EPROTO, "an event lacks a member");
    return 0;
}

static int parse_events(const char *body, size_t len, struct ccf_client_event_list *out,
                        struct ccf_client_error *err)
{
    struct ccf_client_event_list l = {0};
    json_t *root = json_loadb(body, len, 0, NULL), *arr = json_object_get(root, "events");
    const char *cursor = json_string_value(json_object_get(root, "next_cursor"));
    int rc = 0;

    if (!json_is_array(arr) || !cursor) {
        rc = ccf_client__fail(err, CCF_CLIENT_EPROTO, "not a ListEvents answer");
        goto out;
    }
    l.items = calloc(json_array_size(arr) + 1, sizeof(*l.items));
    l.next_cursor = strdup(cursor);
    if (!l.items || !l.next_cursor) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(arr) && rc == 0; i++, l.len++)
        rc = parse_event(json_array_get(arr, i), &l.items[i], err);
out:
    json_decref(root);
    if (rc < 0)
        ccf_client_event_list_clear(&l);
    else
        *out = l;
    return rc;
}

static int build(const struct ccf_client_events_query *q, struct ccf_client__req *r,
                 struct ccf_client_error *err)
{
    struct ccf_client__query qs = {0};
    char *s = NULL;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    r->method = "GET";
    if (q && q->after)
        rc = ccf_client__query_add(&qs, "after", q->after);
    if (rc == 0 && q && q->max_results > 0)
        rc = ccf_client__query_add_int(&qs, "max_results", q->max_results);
    if (rc == 0 && q && q->wait_seconds > 0)
        rc = ccf_client__query_add_int(&qs, "wait_seconds", q->wait_seconds);
    if (rc == 0 && q && q->connector_id)
        rc = ccf_client__query_add(&qs, "connector_id", q->connector_id);
    if (rc == 0 && q && q->types)
        rc = ccf_client__query_add(&qs, "types", q->types);
    if (rc == 0 && !(s = ccf_client__query_build(&qs)))
        rc = CCF_CLIENT_ENOMEM;
    if (rc == 0 && !(r->target = malloc(strlen(EVENTS_PATH) + strlen(s) + 1)))
        rc = CCF_CLIENT_ENOMEM;
    if (rc == 0) {
        memcpy(r->target, EVENTS_PATH, strlen(EVENTS_PATH));
        memcpy(r->target + strlen(EVENTS_PATH), s, strlen(s) + 1);
    }
    ccf_client__query_clear(&qs);
    free(s);
    return rc < 0 ? ccf_client__fail(err, rc, "out of memory") : 0;
}

int ccf_client_list_events(struct ccf_client *c, const struct ccf_client_events_query *q,
                           struct ccf_client_event_list *out)
{
    struct ccf_client_error *err = ccf_client__err(c);
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    int rc;

    if (q && (q->wait_seconds < 0 || q->wait_seconds > 20 || q->max_results < 0))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "wait_seconds is 0..20");
    if ((rc = build(q, &r, err)) < 0)
        return rc;
    rc = ccf_client__perform(c, &r, &resp);
    ccf_client__req_clear(&r);
    if (rc == 0)
        rc = parse_events(resp.body, resp.len, out, err);
    if (rc == CCF_CLIENT_EPROTO && err->http_status == 0) {
        err->http_status = resp.status;
        memcpy(err->request_id, resp.request_id, sizeof(err->request_id));
    }
    ccf_client__resp_clear(&resp);
    return rc;
}
