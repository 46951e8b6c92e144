/* events.c: libccf's ListEvents (CONTRACT-OPS.md, "Events"): one page of
 * the tenant's event stream, a long poll with wait_seconds. An event's
 * detail is handed over as JSON text: its shape depends on the type. The
 * page itself is cursor.c's. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

#define EVENTS_PATH "/api/v1/events"

static void clear_event(void *item)
{
    struct ccf_client_event *e = item;

    free(e->event_id);
    free(e->time);
    free(e->type);
    free(e->connector_id);
    free(e->job_id);
    free(e->detail);
}

static int parse_event(const json_t *o, void *item, struct ccf_client_error *err)
{
    struct ccf_client_event *e = item;
    const json_t *detail = json_object_get(o, "detail");

    e->event_id = ccf_client__dup_member(o, "event_id");
    e->time = ccf_client__dup_member(o, "time");
    e->type = ccf_client__dup_member(o, "type");
    e->connector_id = ccf_client__dup_member(o, "connector_id");
    e->job_id = ccf_client__dup_member(o, "job_id");
    e->detail = json_is_object(detail) ? json_dumps(detail, JSON_COMPACT) : NULL;
    if (!e->event_id || !e->time || !e->type || !e->connector_id || !e->detail)
        return ccf_client__fail(err, CCF_CLIENT_EPROTO, "an event lacks a member");
    return 0;
}

static const struct ccf_client__cursor_list events_list = {
    .key = "events",
    .not_ours = "not a ListEvents answer",
    .item_size = sizeof(struct ccf_client_event),
    .parse_item = parse_event,
    .clear_item = clear_event,
};

void ccf_client_event_list_clear(struct ccf_client_event_list *l)
{
    struct ccf_client__cursor_page p;

    if (!l)
        return;
    p = (struct ccf_client__cursor_page){l->items, l->len, l->next_cursor};
    ccf_client__cursor_page_clear(&events_list, &p);
    memset(l, 0, sizeof(*l));
}

static int query(const struct ccf_client_events_query *q, struct ccf_client__query *qs)
{
    int rc = 0;

    if (q && q->after)
        rc = ccf_client__query_add(qs, "after", q->after);
    if (rc == 0 && q && q->max_results > 0)
        rc = ccf_client__query_add_int(qs, "max_results", q->max_results);
    if (rc == 0 && q && q->wait_seconds > 0)
        rc = ccf_client__query_add_int(qs, "wait_seconds", q->wait_seconds);
    if (rc == 0 && q && q->connector_id)
        rc = ccf_client__query_add(qs, "connector_id", q->connector_id);
    if (rc == 0 && q && q->types)
        rc = ccf_client__query_add(qs, "types", q->types);
    return rc;
}

int ccf_client_list_events(struct ccf_client *c, const struct ccf_client_events_query *q,
                           struct ccf_client_event_list *out)
{
    struct ccf_client_error *err = ccf_client__err(c);
    struct ccf_client__query qs = {0};
    struct ccf_client__cursor_page p;
    int rc;

    if (q && (q->wait_seconds < 0 || q->wait_seconds > 20 || q->max_results < 0))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "wait_seconds is 0..20");
    if ((rc = query(q, &qs)) < 0) {
        ccf_client__query_clear(&qs);
        return ccf_client__fail(err, rc, "out of memory");
    }
    if ((rc = ccf_client__get_cursor_page(c, EVENTS_PATH, &qs, &events_list, &p)) < 0)
        return rc;
    *out = (struct ccf_client_event_list){p.items, p.len, p.next_cursor};
    return 0;
}
