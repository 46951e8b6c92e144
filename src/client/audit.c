/* audit.c: libccf's ListAuditEvents (CONTRACT-OPS.md, "Audit log"): one
 * page of the tenant's audit records, read on with next_cursor. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

#define AUDIT_PATH "/api/v1/audit-events"

void ccf_client_audit_list_clear(struct ccf_client_audit_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++) {
        struct ccf_client_audit_event *e = &l->items[i];

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
    free(l->items);
    free(l->next_cursor);
    memset(l, 0, sizeof(*l));
}

static char *dup_member(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? strdup(s) : NULL;
}

static int parse_record(const json_t *o, struct ccf_client_audit_event *e,
                        struct ccf_client_error *err)
{
    const json_t *status = json_object_get(o, "status");

    memset(e, 0, sizeof(*e));
    e->time = dup_member(o, "time");
    e->request_id = dup_member(o, "request_id");
    e->operation = dup_member(o, "operation");
    e->access_key_id = dup_member(o, "access_key_id");
    e->principal = dup_member(o, "principal");
    e->source_ip = dup_member(o, "source_ip");
    e->connector_id = dup_member(o, "connector_id");
    e->job_id = dup_member(o, "job_id");
    e->error_type = dup_member(o, "error_type");
    e->status = json_is_integer(status) ? (int)json_integer_value(status) : 0;
    if (!e->time || !e->request_id || !e->operation || !e->access_key_id || !e->principal ||
        !e->source_ip || e->status < 100 || e->status > 599)
        return ccf_client__fail(err, CCF_CLIENT_EPROTO, "an audit record lacks a member");
    return 0;
}

static int parse_page(const char *body, size_t len, struct ccf_client_audit_list *out,
                      struct ccf_client_error *err)
{
    struct ccf_client_audit_list l = {0};
    json_t *root = json_loadb(body, len, 0, NULL), *arr = json_object_get(root, "audit_events");
    const char *cursor = json_string_value(json_object_get(root, "next_cursor"));
    int rc = 0;

    if (!json_is_array(arr) || !cursor) {
        rc = ccf_client__fail(err, CCF_CLIENT_EPROTO, "not a ListAuditEvents answer");
        goto out;
    }
    l.items = calloc(json_array_size(arr) + 1, sizeof(*l.items));
    l.next_cursor = strdup(cursor);
    if (!l.items || !l.next_cursor) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(arr) && rc == 0; i++, l.len++)
        rc = parse_record(json_array_get(arr, i), &l.items[i], err);
out:
    json_decref(root);
    if (rc < 0)
        ccf_client_audit_list_clear(&l);
    else
        *out = l;
    return rc;
}

static int build(const char *after, int max_results, struct ccf_client__req *r,
                 struct ccf_client_error *err)
{
    struct ccf_client__query qs = {0};
    char *s = NULL;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    r->method = "GET";
    if (after)
        rc = ccf_client__query_add(&qs, "after", after);
    if (rc == 0 && max_results > 0)
        rc = ccf_client__query_add_int(&qs, "max_results", max_results);
    if (rc == 0 && !(s = ccf_client__query_build(&qs)))
        rc = CCF_CLIENT_ENOMEM;
    if (rc == 0 && !(r->target = malloc(strlen(AUDIT_PATH) + strlen(s) + 1)))
        rc = CCF_CLIENT_ENOMEM;
    if (rc == 0) {
        memcpy(r->target, AUDIT_PATH, strlen(AUDIT_PATH));
        memcpy(r->target + strlen(AUDIT_PATH), s, strlen(s) + 1);
    }
    ccf_client__query_clear(&qs);
    free(s);
    return rc < 0 ? ccf_client__fail(err, rc, "out of memory") : 0;
}

int ccf_client_list_audit_events(struct ccf_client *c, const char *after, int max_results,
                                 struct ccf_client_audit_list *out)
{
    struct ccf_client_error *err = ccf_client__err(c);
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    int rc;

    if (max_results < 0 || max_results > 1000)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "max_results is 1..1000");
    if ((rc = build(after, max_results, &r, err)) < 0)
        return rc;
    rc = ccf_client__perform(c, &r, &resp);
    ccf_client__req_clear(&r);
    if (rc == 0)
        rc = parse_page(resp.body, resp.len, out, err);
    if (rc == CCF_CLIENT_EPROTO && err->http_status == 0) {
        err->http_status = resp.status;
        memcpy(err->request_id, resp.request_id, sizeof(err->request_id));
    }
    ccf_client__resp_clear(&resp);
    return rc;
}
