/* cursor.c: the operator lists read on with a cursor (ListEvents,
 * ListAuditEvents): the GET of one page, and its answer,
 * {"<key>": [...], "next_cursor": "..."}, parsed into an array of the
 * list's item structs. It knows no item's members: each list's
 * ccf_client__cursor_list parses and clears its own. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

char *ccf_client__dup_member(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? strdup(s) : NULL;
}

static void *item_at(const struct ccf_client__cursor_list *l, void *items, size_t i)
{
    return (char *)items + i * l->item_size;
}

void ccf_client__cursor_page_clear(const struct ccf_client__cursor_list *l,
                                   struct ccf_client__cursor_page *p)
{
    for (size_t i = 0; i < p->len; i++)
        l->clear_item(item_at(l, p->items, i));
    free(p->items);
    free(p->next_cursor);
    memset(p, 0, sizeof(*p));
}

int ccf_client__parse_cursor_page(const char *body, size_t len,
                                  const struct ccf_client__cursor_list *l,
                                  struct ccf_client__cursor_page *out, struct ccf_client_error *err)
{
    struct ccf_client__cursor_page p = {0};
    json_t *root = json_loadb(body, len, 0, NULL), *arr = json_object_get(root, l->key);
    const char *cursor = json_string_value(json_object_get(root, "next_cursor"));
    int rc = 0;

    if (!json_is_array(arr) || !cursor) {
        rc = ccf_client__fail(err, CCF_CLIENT_EPROTO, "%s", l->not_ours);
        goto out;
    }
    p.items = calloc(json_array_size(arr) + 1, l->item_size);
    p.next_cursor = strdup(cursor);
    if (!p.items || !p.next_cursor) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto out;
    }
    /* len counts the item that failed too: parse_item may have set some of it. */
    for (size_t i = 0; i < json_array_size(arr) && rc == 0; i++, p.len++)
        rc = l->parse_item(json_array_get(arr, i), item_at(l, p.items, i), err);
out:
    json_decref(root);
    if (rc < 0)
        ccf_client__cursor_page_clear(l, &p);
    else
        *out = p;
    return rc;
}

/* path then qs's query, or NULL (out of memory). */
static char *target(const char *path, struct ccf_client__query *qs)
{
    char *s = ccf_client__query_build(qs), *t = NULL;

    if (s && (t = malloc(strlen(path) + strlen(s) + 1))) {
        memcpy(t, path, strlen(path));
        memcpy(t + strlen(path), s, strlen(s) + 1);
    }
    free(s);
    return t;
}

int ccf_client__get_cursor_page(struct ccf_client *c, const char *path,
                                struct ccf_client__query *qs,
                                const struct ccf_client__cursor_list *l,
                                struct ccf_client__cursor_page *out)
{
    struct ccf_client_error *err = ccf_client__err(c);
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r = {.method = "GET", .target = target(path, qs)};
    int rc;

    ccf_client__query_clear(qs);
    if (!r.target)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    rc = ccf_client__perform(c, &r, &resp);
    ccf_client__req_clear(&r);
    if (rc == 0)
        rc = ccf_client__parse_cursor_page(resp.body, resp.len, l, out, err);
    if (rc == CCF_CLIENT_EPROTO && err->http_status == 0) {
        err->http_status = resp.status;
        memcpy(err->request_id, resp.request_id, sizeof(err->request_id));
    }
    ccf_client__resp_clear(&resp);
    return rc;
}
