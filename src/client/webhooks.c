/* webhooks.c: libccf's webhook operations (CONTRACT-OPS.md, "Webhooks").
 * The answers are handed over as JSON text: a caller prints or parses
 * them; the shapes are the contract's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

#define HOOKS_PATH "/api/v1/webhooks"

static bool id_ok(const char *id)
{
    if (!id || strncmp(id, "wh-", 3) != 0 || strlen(id) != 15)
        return false;
    return strspn(id + 3, "0123456789abcdef") == 12;
}

/* r's target: the collection, or one webhook and an optional suffix. */
static int target(struct ccf_client__req *r, const char *method, const char *id, const char *suffix,
                  struct ccf_client_error *err)
{
    size_t n = strlen(HOOKS_PATH) + 1 + 15 + (suffix ? strlen(suffix) : 0) + 1;
    int k;

    memset(r, 0, sizeof(*r));
    r->method = method;
    if (id && !id_ok(id))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "not a webhook id (wh- and 12 hex digits)");
    if (!(r->target = malloc(n)))
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    k = snprintf(r->target, n, "%s%s%s%s", HOOKS_PATH, id ? "/" : "", id ? id : "",
                 suffix ? suffix : "");
    if (k < 0 || (size_t)k >= n) {
        ccf_client__req_clear(r);
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "target too long");
    }
    return 0;
}

/* a followed by b, malloc'd; NULL when out of memory. */
static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *t = malloc(na + nb + 1);

    if (t) {
        memcpy(t, a, na);
        memcpy(t + na, b, nb + 1);
    }
    return t;
}

/* Appends "?max_results=&next_token=" (sorted, encoded) for page. */
static int page_query(struct ccf_client__req *r, const struct ccf_client_page *page,
                      struct ccf_client_error *err)
{
    struct ccf_client__query qs = {0};
    char *q = NULL, *t = NULL;
    int rc = 0;

    if (page && page->max_results > 0)
        rc = ccf_client__query_add_int(&qs, "max_results", page->max_results);
    if (rc == 0 && page && page->next_token)
        rc = ccf_client__query_add(&qs, "next_token", page->next_token);
    if (rc == 0 && (!(q = ccf_client__query_build(&qs)) || !(t = concat(r->target, q))))
        rc = CCF_CLIENT_ENOMEM;
    ccf_client__query_clear(&qs);
    free(q);
    if (rc < 0) {
        ccf_client__req_clear(r);
        return ccf_client__fail(err, rc, "out of memory");
    }
    free(r->target);
    r->target = t;
    return 0;
}

/* Sends r; with out, the answer's member key (NULL: the whole answer) as
 * JSON text. */
static int call(struct ccf_client *c, struct ccf_client__req *r, const char *key, char **out)
{
    struct ccf_client_error *err = ccf_client__err(c);
    struct ccf_client__resp resp = {0};
    json_t *root = NULL, *v;
    int rc = ccf_client__perform(c, r, &resp);

    ccf_client__req_clear(r);
    if (rc == 0 && out) {
        root = json_loadb(resp.body, resp.len, 0, NULL);
        v = key ? json_object_get(root, key) : root;
        if (!json_is_object(v) || !(*out = json_dumps(v, JSON_COMPACT)))
            rc = ccf_client__fail(err, CCF_CLIENT_EPROTO, "not a webhook answer");
    }
    if (rc == CCF_CLIENT_EPROTO && err->http_status == 0) {
        err->http_status = resp.status;
        memcpy(err->request_id, resp.request_id, sizeof(err->request_id));
    }
    json_decref(root);
    ccf_client__resp_clear(&resp);
    return rc;
}

/* "a,b" into ["a", "b"]. */
static json_t *types_array(const char *s)
{
    json_t *a = json_array();

    while (s && *s) {
        size_t n = strcspn(s, ",");
        json_array_append_new(a, json_stringn(s, n));
        s += n + (s[n] == ',');
    }
    return a;
}

int ccf_client_create_webhook(struct ccf_client *c, const struct ccf_client_webhook_create *in,
                              char **out)
{
    struct ccf_client_error *err = ccf_client__err(c);
    struct ccf_client__req r;
    int rc;

    if (!in || !in->url)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "a webhook needs a url");
    if ((rc = target(&r, "POST", NULL, NULL, err)) < 0 ||
        (rc = ccf_client__body_add(&r, "url", json_string(in->url), err)) < 0)
        return rc;
    if (in->event_types &&
        (rc = ccf_client__body_add(&r, "event_types", types_array(in->event_types), err)) < 0)
        return rc;
    if (in->description &&
        (rc = ccf_client__body_add(&r, "description", json_string(in->description), err)) < 0)
        return rc;
    if (in->client_token &&
        (rc = ccf_client__body_add(&r, "client_token", json_string(in->client_token), err)) < 0)
        return rc;
    return call(c, &r, "webhook", out);
}

int ccf_client_get_webhook(struct ccf_client *c, const char *webhook_id, char **out)
{
    struct ccf_client__req r;
    int rc;

    if ((rc = target(&r, "GET", webhook_id, NULL, ccf_client__err(c))) < 0)
        return rc;
    return call(c, &r, "webhook", out);
}

int ccf_client_delete_webhook(struct ccf_client *c, const char *webhook_id)
{
    struct ccf_client__req r;
    int rc;

    if ((rc = target(&r, "DELETE", webhook_id, NULL, ccf_client__err(c))) < 0)
        return rc;
    return call(c, &r, NULL, NULL);
}

int ccf_client_test_webhook(struct ccf_client *c, const char *webhook_id)
{
    struct ccf_client__req r;
    int rc;

    if ((rc = target(&r, "POST", webhook_id, "/test", ccf_client__err(c))) < 0)
        return rc;
    return call(c, &r, NULL, NULL);
}

int ccf_client_list_webhooks(struct ccf_client *c, const struct ccf_client_page *page, char **out)
{
    struct ccf_client__req r;
    int rc;

    if ((rc = target(&r, "GET", NULL, NULL, ccf_client__err(c))) < 0 ||
        (rc = page_query(&r, page, ccf_client__err(c))) < 0)
        return rc;
    return call(c, &r, NULL, out);
}

int ccf_client_list_webhook_deliveries(struct ccf_client *c, const char *webhook_id,
                                       const struct ccf_client_page *page, char **out)
{
    struct ccf_client__req r;
    int rc;

    if ((rc = target(&r, "GET", webhook_id, "/deliveries", ccf_client__err(c))) < 0 ||
        (rc = page_query(&r, page, ccf_client__err(c))) < 0)
        return rc;
    return call(c, &r, NULL, out);
}
