/* ops_webhooks.c: the webhook operations (CONTRACT-OPS.md "Webhooks"):
 * create (URL rules, event types, the 20-per-tenant limit, client_token),
 * list, get and delete (never the secret), test (a ping handed to the
 * deliverer, not awaited) and the deliveries listing; and the event's
 * JSON shape, shared by ListEvents and the deliverer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/log.h"
#include "webhook/webhook.h"

#define TYPES_MAX 32 /* more elements than known types cannot all be distinct */

json_t *api__event_json(const struct store_event *e)
{
    char id[40];
    json_t *detail = json_loads(e->detail, 0, NULL), *o;

    if (!detail) {
        CCF_LOG_ERROR("api.bad_event_detail", CCF_KV_INT("seq", e->seq));
        detail = json_object();
    }
    snprintf(id, sizeof(id), "ev-%016" PRIx64, (uint64_t)e->seq);
    o = json_pack("{s:s,s:o,s:s,s:s}", "event_id", id, "time", ccf_time_json(e->at), "type",
                  e->type, "connector_id", e->connector_id);
    if (e->job_id[0])
        json_object_set_new(o, "job_id", json_string(e->job_id));
    json_object_set_new(o, "detail", detail);
    return o;
}

char *api_event_text(const struct store_event *e)
{
    json_t *o = api__event_json(e);
    char *text = json_dumps(o, JSON_COMPACT);

    json_decref(o);
    return text ? text : ccf_xstrdup("{}");
}

/* event_types: absent or ["*"]: every type (*out NULL); else 1..32
 * known types, as the store's filter (",a,b,"). */
static int types_from_json(const json_t *v, char **out, struct ccf_diag *d)
{
    char joined[TYPES_MAX * 24 + 1], bad[48];
    size_t i, o = 0;
    json_t *e;

    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > TYPES_MAX) {
        ccf_diag_set(d, "event_types must be an array of 1 to %d event types, or [\"*\"]",
                     TYPES_MAX);
        return CCF_EINVAL;
    }
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        size_t n = s ? strlen(s) : 0;

        if (!s || n == 0 || n >= 24 || n != json_string_length(e) || strchr(s, ',')) {
            ccf_diag_set(d, "event_types[%zu] must be a known event type or \"*\"", i);
            return CCF_EINVAL;
        }
        if (strcmp(s, "*") == 0) {
            if (json_array_size(v) != 1) {
                ccf_diag_set(d, "event_types: \"*\" stands alone");
                return CCF_EINVAL;
            }
            return 0;
        }
        if (o)
            joined[o++] = ',';
        memcpy(joined + o, s, n + 1);
        o += n;
    }
    if (api__event_types(joined, out, bad, sizeof(bad)) < 0) {
        ccf_diag_set(d, "event_types: unknown event type %s", bad);
        return CCF_EINVAL;
    }
    return 0;
}

static int description_from_json(const json_t *v, const char **out, struct ccf_diag *d)
{
    const char *s = json_string_value(v);
    size_t n, chars;

    *out = NULL;
    if (!v)
        return 0;
    n = s ? json_string_length(v) : 0;
    chars = s ? ccf_utf8_count(s, n) : 0;
    if (!s || chars < 1 || chars > STORE_WEBHOOK_DESC_MAX || ccf_utf8_has_control(s, n) ||
        strlen(s) != n) {
        ccf_diag_set(d, "description must be 1 to %d characters without control characters",
                     STORE_WEBHOOK_DESC_MAX);
        return CCF_EINVAL;
    }
    *out = s;
    return 0;
}

/* The webhook as responses show it; the secret only when asked. */
static json_t *webhook_json(const struct store_webhook *w, bool secret)
{
    json_t *o = json_pack("{s:s,s:s}", "webhook_id", w->id, "url", w->url), *types;
    const char *p = w->event_types;

    types = json_array();
    if (!p) {
        json_array_append_new(types, json_string("*"));
    } else {
        for (p++; *p;) {
            const char *e = strchr(p, ',');
            if (!e)
                break;
            json_array_append_new(types, json_stringn(p, (size_t)(e - p)));
            p = e + 1;
        }
    }
    json_object_set_new(o, "event_types", types);
    if (w->description)
        json_object_set_new(o, "description", json_string(w->description));
    json_object_set_new(o, "created_at", ccf_time_json(w->created_at));
    if (secret)
        json_object_set_new(o, "secret", json_string(w->secret));
    return o;
}

static int parse_create(struct api__call *call, const json_t *body, struct store_webhook *w,
                        const char **token, unsigned char *hash)
{
    const json_t *url = json_object_get(body, "url");
    const char *desc = NULL;
    struct ccf_diag d = {{0}};
    char err[320];

    if (!json_is_string(url) || strlen(json_string_value(url)) != json_string_length(url)) {
        api__fail(call, 400, "url is required: a string, the http or https URL to post to");
        return CCF_EINVAL;
    }
    if (types_from_json(json_object_get(body, "event_types"), &w->event_types, &d) < 0 ||
        description_from_json(json_object_get(body, "description"), &desc, &d) < 0 ||
        ccf_client_token_from_json(body, token, hash, &d) < 0) {
        api__fail(call, 400, "%s", d.msg);
        return CCF_EINVAL;
    }
    /* Last: it may wait on DNS, which no other mistake should cost. Done
     * already, outside the transaction, by api__create_webhook_pre. */
    if (!call->url_checked && webhook_url_check(json_string_value(url),
                                                call->api->webhook_allow_private, err,
                                                sizeof(err)) < 0) {
        api__fail(call, 400, "%s", err);
        return CCF_EINVAL;
    }
    w->url = ccf_xstrdup(json_string_value(url));
    w->description = desc ? ccf_xstrdup(desc) : NULL;
    return 0;
}

bool api__create_webhook_pre(struct api__call *call)
{
    const struct api_request *req = call->req;
    const json_t *url;
    struct ccf_diag d = {{0}};
    char err[320];

    /* Anything else wrong (Content-Type, the body, the other members) is
     * answered by the operation itself, in the contract's order. */
    if (!req->has_body || (req->content_type && !api__json_media_type(req->content_type)))
        return true;
    call->body = ccf_json_parse_object(req->body, req->body_len, &d);
    url = json_object_get(call->body, "url");
    if (!json_is_string(url) || strlen(json_string_value(url)) != json_string_length(url))
        return true;
    if (webhook_url_check(json_string_value(url), call->api->webhook_allow_private, err,
                          sizeof(err)) < 0) {
        api__fail(call, 400, "%s", err);
        return false;
    }
    call->url_checked = true;
    return true;
}

void api__create_webhook(struct api__call *call)
{
    unsigned char hash[CCF_BODY_HASH_LEN];
    struct store_webhook w = {0};
    json_t *body = api__body(call);
    const char *token = NULL;
    struct store_token tok;
    int rc;

    if (!body)
        return;
    if (parse_create(call, body, &w, &token, hash) < 0)
        goto out;
    tok = (struct store_token){.token = token, .hash = hash};
    rc = store_create_webhook(call->api->store, call->tenant, &w, token ? &tok : NULL);
    if (rc == CCF_ETOKEN || rc == STORE_TOKEN_GONE) {
        api__fail(call, 409,
                  rc == CCF_ETOKEN ? "client_token %s was used with a different request body; "
                                     "use a new token for a different request"
                                   : "client_token %s created a webhook that has since been "
                                     "deleted; use a new token to create another",
                  token);
        goto out;
    }
    if (rc == CCF_ELIMIT) {
        api_error_typed(call->resp, 400, "LimitExceededException",
                        "This account already has 20 webhooks, the most it may have; delete one "
                        "first");
        goto out;
    }
    if (rc < 0) {
        api__store_fail(call, rc, "Webhook", "");
        goto out;
    }
    call->wake_webhooks = true;
    /* A replay within the token's day answers as the create did, secret
     * included: the caller who lost the first answer needs it. */
    api__reply(call, 201, json_pack("{s:o}", "webhook", webhook_json(&w, true)));
out:
    store_webhook_clear(&w);
    json_decref(body);
}

static int add_webhook(void *ctx, const struct store_webhook *w)
{
    struct api__call *call = ctx;

    json_array_append_new(json_object_get(call->resp_json, "webhooks"), webhook_json(w, false));
    return 0;
}

void api__list_webhooks(struct api__call *call)
{
    struct store_page page;
    char *next = NULL;
    int rc;

    if (api__page(call, "webhooks", "", CCF_PAGE_MAX, &page) < 0)
        return;
    call->resp_json = json_pack("{s:[]}", "webhooks");
    rc = store_list_webhooks(call->api->store, call->tenant, &page, add_webhook, call, &next);
    if (rc < 0) {
        api__store_fail(call, rc, "Webhook", "");
    } else {
        api__set_next(call, call->resp_json, "webhooks", "", next);
        api__reply(call, 200, call->resp_json);
        call->resp_json = NULL;
    }
    json_decref(call->resp_json);
    call->resp_json = NULL;
    free((char *)page.after);
}

void api__get_webhook(struct api__call *call)
{
    struct store_webhook w;
    int rc;

    if ((rc = store_get_webhook(call->api->store, call->tenant, call->webhook_id, &w)) < 0) {
        api__store_fail(call, rc, "Webhook", call->webhook_id);
        return;
    }
    api__reply(call, 200, json_pack("{s:o}", "webhook", webhook_json(&w, false)));
    store_webhook_clear(&w);
}

void api__delete_webhook(struct api__call *call)
{
    int rc = store_delete_webhook(call->api->store, call->tenant, call->webhook_id);

    if (rc < 0) {
        api__store_fail(call, rc, "Webhook", call->webhook_id);
        return;
    }
    call->wake_webhooks = true;
    api__reply(call, 204, NULL);
}

void api__test_webhook(struct api__call *call)
{
    struct store_webhook w;
    int rc;

    if ((rc = store_get_webhook(call->api->store, call->tenant, call->webhook_id, &w)) < 0) {
        api__store_fail(call, rc, "Webhook", call->webhook_id);
        return;
    }
    store_webhook_clear(&w);
    rc = call->api->webhook_ping
             ? call->api->webhook_ping(call->api->webhook_ctx, call->tenant, call->webhook_id)
             : CCF_EUNAVAIL;
    if (rc < 0) {
        api__fail(call, 503,
                  "Webhook deliveries are not running or too many tests wait; retry "
                  "later");
        return;
    }
    api__reply(call, 202, json_object());
}

static const char *const status_names[] = {"PENDING", "DELIVERED", "FAILED"};

static int add_delivery(void *ctx, const struct store_delivery *d)
{
    struct api__call *call = ctx;
    char id[40];
    json_t *o;

    snprintf(id, sizeof(id), "ev-%016" PRIx64, (uint64_t)d->seq);
    o = json_pack("{s:s,s:s,s:s,s:i}", "event_id", id, "type", d->type, "status",
                  status_names[(unsigned)d->status < 3 ? d->status : 0], "attempts",
                  (json_int_t)d->attempts);
    if (d->last_attempt_at)
        json_object_set_new(o, "last_attempt_at", ccf_time_json(d->last_attempt_at));
    if (d->last_status_code)
        json_object_set_new(o, "last_status_code", json_integer(d->last_status_code));
    if (d->last_error[0])
        json_object_set_new(o, "last_error", json_string(d->last_error));
    json_array_append_new(json_object_get(call->resp_json, "deliveries"), o);
    return 0;
}

void api__list_deliveries(struct api__call *call)
{
    struct store_page page;
    char *next = NULL;
    int rc;

    /* The token is bound to the webhook: its filter. */
    if (api__page(call, "deliveries", call->webhook_id, CCF_PAGE_MAX, &page) < 0)
        return;
    call->resp_json = json_pack("{s:[]}", "deliveries");
    rc = store_list_deliveries(call->api->store, call->tenant, call->webhook_id, &page,
                               add_delivery, call, &next);
    if (rc < 0) {
        api__store_fail(call, rc, "Webhook", call->webhook_id);
    } else {
        api__set_next(call, call->resp_json, "deliveries", call->webhook_id, next);
        api__reply(call, 200, call->resp_json);
        call->resp_json = NULL;
    }
    json_decref(call->resp_json);
    call->resp_json = NULL;
    free((char *)page.after);
}
