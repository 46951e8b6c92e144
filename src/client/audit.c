/* audit.c: libccf's ListAuditEvents (CONTRACT-OPS.md, "Audit log"): one
 * page of the tenant's audit records, read on with next_cursor. The page
 * itself is cursor.c's. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

#define AUDIT_PATH "/api/v1/audit-events"

static void clear_record(void *item)
{
    struct ccf_client_audit_event *e = item;

    free(e->time);
    free(e->request_id);
    free(e->operation);
    free(e->access_key_id);
    free(e->principal);
    free(e->source_ip);
    free(e->connector_id);
    free(e->job_id);
    free(e->error_type);
}

static int parse_record(const json_t *o, void *item, struct ccf_client_error *err)
{
    struct ccf_client_audit_event *e = item;
    const json_t *status = json_object_get(o, "status");

    e->time = ccf_client__dup_member(o, "time");
    e->request_id = ccf_client__dup_member(o, "request_id");
    e->operation = ccf_client__dup_member(o, "operation");
    e->access_key_id = ccf_client__dup_member(o, "access_key_id");
    e->principal = ccf_client__dup_member(o, "principal");
    e->source_ip = ccf_client__dup_member(o, "source_ip");
    e->connector_id = ccf_client__dup_member(o, "connector_id");
    e->job_id = ccf_client__dup_member(o, "job_id");
    e->error_type = ccf_client__dup_member(o, "error_type");
    e->status = json_is_integer(status) ? (int)json_integer_value(status) : 0;
    if (!e->time || !e->request_id || !e->operation || !e->access_key_id || !e->principal ||
        !e->source_ip || e->status < 100 || e->status > 599)
        return ccf_client__fail(err, CCF_CLIENT_EPROTO, "an audit record lacks a member");
    return 0;
}

static const struct ccf_client__cursor_list audit_list = {
    .key = "audit_events",
    .not_ours = "not a ListAuditEvents answer",
    .item_size = sizeof(struct ccf_client_audit_event),
    .parse_item = parse_record,
    .clear_item = clear_record,
};

void ccf_client_audit_list_clear(struct ccf_client_audit_list *l)
{
    struct ccf_client__cursor_page p;

    if (!l)
        return;
    p = (struct ccf_client__cursor_page){l->items, l->len, l->next_cursor};
    ccf_client__cursor_page_clear(&audit_list, &p);
    memset(l, 0, sizeof(*l));
}

int ccf_client_list_audit_events(struct ccf_client *c, const char *after, int max_results,
                                 struct ccf_client_audit_list *out)
{
    struct ccf_client_error *err = ccf_client__err(c);
    struct ccf_client__query qs = {0};
    struct ccf_client__cursor_page p;
    int rc = 0;

    if (max_results < 0 || max_results > 1000)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "max_results is 1..1000");
    if (after)
        rc = ccf_client__query_add(&qs, "after", after);
    if (rc == 0 && max_results > 0)
        rc = ccf_client__query_add_int(&qs, "max_results", max_results);
    if (rc < 0) {
        ccf_client__query_clear(&qs);
        return ccf_client__fail(err, rc, "out of memory");
    }
    if ((rc = ccf_client__get_cursor_page(c, AUDIT_PATH, &qs, &audit_list, &p)) < 0)
        return rc;
    *out = (struct ccf_client_audit_list){p.items, p.len, p.next_cursor};
    return 0;
}
