/* http_response.c: the transport's responses: an api_response becomes an
 * MHD response with the headers every answer carries (x-amzn-RequestId,
 * x-amzn-ErrorType, Retry-After on 429/503, Connection: close while
 * stopping). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "server/http_int.h"

static void response_free(void *cls)
{
    struct api_response *resp = cls;

    api_response_clear(resp);
    free(resp);
}

static void add_header(struct MHD_Response *m, const char *name, const char *value)
{
    if (MHD_add_response_header(m, name, value) == MHD_NO)
        CCF_LOG_ERROR("http.header_rejected", CCF_KV_STR("header", name));
}

static void add_headers(struct server_http *h, const struct http_req *r, struct MHD_Response *m,
                        const struct api_response *resp)
{
    bool retry_after = false;

    if (resp->body)
        add_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
                   resp->content_type ? resp->content_type : "application/json");
    if (resp->error_type)
        add_header(m, "x-amzn-ErrorType", resp->error_type);
    for (size_t i = 0; i < resp->nheaders && i < API_HEADERS_MAX; i++) {
        const struct api_header *x = &resp->headers[i];
        if (!x->name || !memchr(x->value, '\0', sizeof(x->value)))
            continue;
        retry_after = retry_after || strcasecmp(x->name, MHD_HTTP_HEADER_RETRY_AFTER) == 0;
        add_header(m, x->name, x->value);
    }
    add_header(m, "x-amzn-RequestId", r->request_id);
    if ((resp->status == 429 || resp->status == 503) && !retry_after)
        add_header(m, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (atomic_load(&h->stopping))
        add_header(m, MHD_HTTP_HEADER_CONNECTION, "close");
}

enum MHD_Result server__http_send(struct server_http *h, struct MHD_Connection *conn,
                                  struct http_req *r, struct api_response *resp)
{
    struct MHD_Response *m;
    enum MHD_Result ret;

    r->status = resp->status;
    r->bytes_out = resp->body ? resp->body_len : 0;
    r->operation = resp->operation;
    memcpy(r->connector_id, resp->connector_id, sizeof(r->connector_id));
    memcpy(r->job_id, resp->job_id, sizeof(r->job_id));
    r->connector_id[CCF_CONNECTOR_ID_LEN] = '\0';
    r->job_id[CCF_JOB_ID_LEN] = '\0';
    m = MHD_create_response_from_buffer_with_free_callback_cls(r->bytes_out, resp->body,
                                                               response_free, resp);
    if (!m) {
        response_free(resp);
        r->status = 0;
        return MHD_NO;
    }
    add_headers(h, r, m, resp);
    ret = MHD_queue_response(conn, (unsigned)r->status, m);
    MHD_destroy_response(m);
    if (ret == MHD_NO)
        r->status = 0;
    return ret;
}

/* The console's answers point into memory that outlives every response (the
 * compiled-in table, the console's config.json): sent without a copy. Its
 * 404 and 405 carry the contract's error body, and the console's headers. */
enum MHD_Result server__http_send_console(struct server_http *h, struct MHD_Connection *conn,
                                          struct http_req *r, const struct server_console_answer *a)
{
    struct api_response *resp = ccf_xcalloc(1, sizeof(*resp));
    struct MHD_Response *m;
    enum MHD_Result ret;

    resp->operation = server__op_console;
    if (a->message) {
        api_error(resp, a->status, a->message);
        m = MHD_create_response_from_buffer_with_free_callback_cls(resp->body_len, resp->body,
                                                                   response_free, resp);
    } else {
        resp->status = a->status;
        m = MHD_create_response_from_buffer(a->len, (void *)a->body, MHD_RESPMEM_PERSISTENT);
    }
    r->status = resp->status;
    r->bytes_out = a->message ? resp->body_len : a->len;
    r->operation = resp->operation;
    if (!m) {
        response_free(resp);
        r->status = 0;
        return MHD_NO;
    }
    add_headers(h, r, m, resp);
    if (a->content_type)
        add_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    for (size_t i = 0; i < a->nheaders; i++)
        add_header(m, a->headers[i].name, a->headers[i].value);
    ret = MHD_queue_response(conn, (unsigned)r->status, m);
    MHD_destroy_response(m);
    if (!a->message)
        response_free(resp); /* the persistent body is not resp's */
    if (ret == MHD_NO)
        r->status = 0;
    return ret;
}

enum MHD_Result server__http_send_error(struct server_http *h, struct MHD_Connection *conn,
                                        struct http_req *r, int status, const char *message)
{
    struct api_response *resp = ccf_xcalloc(1, sizeof(*resp));

    api_error(resp, status, message);
    return server__http_send(h, conn, r, resp);
}

enum MHD_Result server__http_send_refusal(struct server_http *h, struct MHD_Connection *conn,
                                          struct http_req *r, const struct auth_error *err)
{
    struct api_response *resp = ccf_xcalloc(1, sizeof(*resp));

    api_error_typed(resp, err->status, err->error_type, err->message);
    r->reason = err->error_type;
    if (err->who.access_key_id[0]) /* a known key: recorded */
        server__audit_refused(h, conn, r, resp, &err->who.tenant, err->who.access_key_id,
                              err->who.job_id);
    return server__http_send(h, conn, r, resp);
}

enum MHD_Result server__http_answer(struct server_http *h, struct MHD_Connection *conn,
                                    struct http_req *r, struct api_response *resp)
{
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
    return server__http_send(h, conn, r, resp);
}
