/* api.c: the API handler's entry point: routing in the contract's order of
 * checks, and the response and error helpers every operation uses. */
#include "api/api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "core/log.h"

const char API_HEADER_REPEATED[] = ",";

int api_create(struct api **out, const struct api_config *cfg)
{
    struct api *a = ccf_xcalloc(1, sizeof(*a));
    int rc;

    a->store = cfg->store;
    a->read_log = cfg->read_log;
    a->read_log_ctx = cfg->read_log_ctx;
    a->schedule_changed = cfg->schedule_changed;
    a->schedule_ctx = cfg->schedule_ctx;
    a->webhook_allow_private = cfg->webhook_allow_private;
    a->webhooks_changed = cfg->webhooks_changed;
    a->webhook_ping = cfg->webhook_ping;
    a->webhook_ctx = cfg->webhook_ctx;
    a->tzdb = cfg->tzdb;
    if (!a->tzdb) {
        if ((rc = ccf_tzdb_open(&a->tzdb, NULL)) < 0) {
            free(a);
            return rc;
        }
        a->own_tzdb = true;
    }
    if ((rc = store_secret(a->store, a->token_key)) < 0) {
        if (a->own_tzdb)
            ccf_tzdb_close(a->tzdb);
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void api_destroy(struct api *a)
{
    if (!a)
        return;
    OPENSSL_cleanse(a->token_key, sizeof(a->token_key));
    if (a->own_tzdb)
        ccf_tzdb_close(a->tzdb);
    free(a);
}

void api_response_clear(struct api_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static const char *error_type(int status)
{
    switch (status) {
    case 400:
        return "BadRequestException";
    case 403:
        return "AccessDeniedException";
    case 404:
        return "ResourceNotFoundException";
    case 405:
        return "MethodNotAllowedException";
    case 409:
        return "ConflictException";
    case 412:
        return "PreconditionFailedException";
    case 413:
        return "PayloadTooLargeException";
    case 415:
        return "UnsupportedMediaTypeException";
    case 429:
        return "ThrottlingException";
    case 503:
        return "ServiceUnavailableException";
    default:
        return "InternalServerErrorException";
    }
}

static void set_body(struct api_response *resp, json_t *body)
{
    free(resp->body);
    resp->body = json_dumps(body, JSON_COMPACT);
    if (!resp->body) {
        /* Only allocation can fail here: every string in body is valid UTF-8. */
        resp->body = ccf_xstrdup("{}");
    }
    resp->body_len = strlen(resp->body);
    resp->content_type = "application/json";
    json_decref(body);
}

void api_error(struct api_response *resp, int status, const char *message)
{
    api_error_typed(resp, status, error_type(status), message);
}

void api_error_typed(struct api_response *resp, int status, const char *type, const char *message)
{
    json_t *body;

    resp->status = status;
    resp->error_type = type;
    body = json_pack("{s:s,s:s}", "message", message, "errorType", resp->error_type);
    if (!body) /* a message that is not UTF-8: never send an empty error */
        body = json_pack("{s:s,s:s}", "message", "The request is invalid", "errorType",
                         resp->error_type);
    set_body(resp, body);
}

void api__reply(struct api__call *call, int status, json_t *body)
{
    call->resp->status = status;
    if (body)
        set_body(call->resp, body);
}

void api__reply_with_raw(struct api__call *call, int status, json_t *body, const char *key,
                         const char *raw)
{
    static const char tail[] = "}}";
    struct api_response *resp = call->resp;
    size_t head, klen = strlen(key), rlen = strlen(raw), n;
    char *out;

    api__reply(call, status, body);
    head = resp->body_len;
    /* body dumps as {"k":{...}}: the raw member goes before the last "}}". */
    if (head < 4 || memcmp(resp->body + head - 2, tail, 2) != 0 || resp->body[head - 3] == '{') {
        CCF_LOG_ERROR("api.raw_member_failed", CCF_KV_STR("key", key));
        return;
    }
    head -= 2;
    n = head + 2 + klen + 2 + rlen + 2;
    out = ccf_xmalloc(n + 1);
    memcpy(out, resp->body, head);
    snprintf(out + head, n + 1 - head, ",\"%s\":%s}}", key, raw);
    free(resp->body);
    resp->body = out;
    resp->body_len = n;
}

void api__fail(struct api__call *call, int status, const char *fmt, ...)
{
    char msg[1025];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_error(call->resp, status, msg);
}

void api__store_fail(struct api__call *call, int err, const char *kind, const char *id)
{
    switch (err) {
    case CCF_ENOTFOUND:
        api__fail(call, 404, "%s %s not found", kind, id);
        break;
    case CCF_ECONFLICT:
        api__fail(call, 409, "The request conflicts with the current state; retry");
        break;
    case CCF_EPRECOND:
        api__fail(call, 412, "The condition of this write does not hold; read again and retry");
        break;
    case CCF_EUNAVAIL:
        api__fail(call, 503, "The store is temporarily unavailable; retry later");
        break;
    case CCF_ELIMIT:
        api_error_typed(call->resp, 400, "LimitExceededException",
                        "This account has reached its limit of this resource; delete one first");
        break;
    default:
        api__fail(call, 500, "Internal error; report request id %s",
                  call->req->request_id ? call->req->request_id : "-");
        break;
    }
}

json_t *api__body(struct api__call *call)
{
    struct ccf_diag d = {{0}};
    json_t *v;

    if (call->body)
        return json_incref(call->body);
    v = ccf_json_parse_object(call->req->body, call->req->body_len, &d);
    if (!v)
        api__fail(call, 400, "%s", d.msg);
    return v;
}

void api__header(struct api__call *call, const char *name, const char *fmt, ...)
{
    struct api_response *resp = call->resp;
    va_list ap;

    if (resp->nheaders >= API_HEADERS_MAX)
        return;
    resp->headers[resp->nheaders].name = name;
    va_start(ap, fmt);
    vsnprintf(resp->headers[resp->nheaders].value, sizeof(resp->headers[0].value), fmt, ap);
    va_end(ap);
    resp->nheaders++;
}

const char *api__principal_job(const struct api__call *call)
{
    const char *j = call->req->job_id;

    return j && *j ? j : NULL;
}
