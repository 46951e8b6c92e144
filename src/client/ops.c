/* ops.c: the contract's operations, each one build (request.c), perform
 * (client.c), parse (response.c). */
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

/* Sends r (unless building it failed: rc < 0) and frees it. */
static int send_req(struct ccf_client *c, int rc, struct ccf_client__req *r,
                    struct ccf_client__resp *resp)
{
    if (rc == 0)
        rc = ccf_client__perform(c, r, resp);
    ccf_client__req_clear(r);
    return rc;
}

/* After parsing: a parse failure keeps the answer's status and request id. */
static int done(struct ccf_client *c, int rc, struct ccf_client__resp *resp)
{
    struct ccf_client_error *err = ccf_client__err(c);

    if (rc == CCF_CLIENT_EPROTO && err->http_status == 0) {
        err->http_status = resp->status;
        memcpy(err->request_id, resp->request_id, sizeof(err->request_id));
    }
    ccf_client__resp_clear(resp);
    return rc;
}

static int connector_op(struct ccf_client *c, int rc, struct ccf_client__req *r, bool with_props,
                        struct ccf_client_connector *out)
{
    struct ccf_client__resp resp = {0};

    if ((rc = send_req(c, rc, r, &resp)) == 0)
        rc = ccf_client__parse_connector_response(resp.body, resp.len, with_props, out,
                                                  ccf_client__err(c));
    return done(c, rc, &resp);
}

static int job_op(struct ccf_client *c, int rc, struct ccf_client__req *r,
                  struct ccf_client_job *out)
{
    struct ccf_client__resp resp = {0};

    if ((rc = send_req(c, rc, r, &resp)) == 0)
        rc = ccf_client__parse_job_response(resp.body, resp.len, out, ccf_client__err(c));
    return done(c, rc, &resp);
}

static int empty_op(struct ccf_client *c, int rc, struct ccf_client__req *r)
{
    struct ccf_client__resp resp = {0};

    if ((rc = send_req(c, rc, r, &resp)) == 0)
        rc = ccf_client__parse_empty_response(resp.body, resp.len, ccf_client__err(c));
    return done(c, rc, &resp);
}

int ccf_client_create_connector(struct ccf_client *c, const struct ccf_client_connector_spec *spec,
                                struct ccf_client_connector *out)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_create_connector(&r, spec, ccf_client__err(c));

    if (rc == 0 && spec->client_token)
        rc = ccf_client__body_add(&r, "client_token", json_string(spec->client_token),
                                  ccf_client__err(c));

    return connector_op(c, rc, &r, false, out);
}

int ccf_client_get_connector(struct ccf_client *c, const char *connector_id,
                             struct ccf_client_connector *out)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_get_connector(&r, connector_id, ccf_client__err(c));

    return connector_op(c, rc, &r, true, out);
}

int ccf_client_update_connector(struct ccf_client *c, const char *connector_id,
                                const struct ccf_client_connector_update *upd,
                                struct ccf_client_connector *out)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_update_connector(&r, connector_id, upd, ccf_client__err(c));

    return connector_op(c, rc, &r, false, out);
}

int ccf_client_pause_connector(struct ccf_client *c, const char *connector_id, bool stop_active_job,
                               struct ccf_client_connector *out)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_pause(&r, connector_id, true, stop_active_job, ccf_client__err(c));

    return connector_op(c, rc, &r, false, out);
}

int ccf_client_resume_connector(struct ccf_client *c, const char *connector_id,
                                struct ccf_client_connector *out)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_pause(&r, connector_id, false, false, ccf_client__err(c));

    return connector_op(c, rc, &r, false, out);
}

int ccf_client_list_connectors(struct ccf_client *c, const struct ccf_client_page *page,
                               struct ccf_client_connector_list *out)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    int rc = ccf_client__build_list_connectors(&r, page, ccf_client__err(c));

    if ((rc = send_req(c, rc, &r, &resp)) == 0)
        rc = ccf_client__parse_connector_list(resp.body, resp.len, out, ccf_client__err(c));
    return done(c, rc, &resp);
}

int ccf_client_delete_connector(struct ccf_client *c, const char *connector_id)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_delete_connector(&r, connector_id, ccf_client__err(c));

    return empty_op(c, rc, &r);
}

int ccf_client_start_job(struct ccf_client *c, const char *connector_id,
                         const struct ccf_client_env *env, size_t env_len,
                         struct ccf_client_job *out)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_start_job(&r, connector_id, env, env_len, ccf_client__err(c));

    return job_op(c, rc, &r, out);
}

int ccf_client_list_jobs(struct ccf_client *c, const char *connector_id, const char *status,
                         const struct ccf_client_page *page, struct ccf_client_job_list *out)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    int rc = ccf_client__build_list_jobs(&r, connector_id, status, page, ccf_client__err(c));

    if ((rc = send_req(c, rc, &r, &resp)) == 0)
        rc = ccf_client__parse_job_list(resp.body, resp.len, out, ccf_client__err(c));
    return done(c, rc, &resp);
}

int ccf_client_get_job(struct ccf_client *c, const char *connector_id, const char *job_id,
                       struct ccf_client_job *out)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_get_job(&r, connector_id, job_id, ccf_client__err(c));

    return job_op(c, rc, &r, out);
}

int ccf_client_stop_job(struct ccf_client *c, const char *connector_id, const char *job_id)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_stop_job(&r, connector_id, job_id, ccf_client__err(c));

    return empty_op(c, rc, &r);
}

int ccf_client_get_job_logs(struct ccf_client *c, const char *connector_id, const char *job_id,
                            int64_t offset, int64_t limit, struct ccf_client_log_chunk *out)
{
    return ccf_client_get_job_attempt_logs(c, connector_id, job_id, 0, offset, limit, out);
}

int ccf_client_get_job_attempt_logs(struct ccf_client *c, const char *connector_id,
                                    const char *job_id, int attempt, int64_t offset, int64_t limit,
                                    struct ccf_client_log_chunk *out)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    int rc = ccf_client__build_job_logs(&r, connector_id, job_id, attempt, offset, limit,
                                        ccf_client__err(c));

    if ((rc = send_req(c, rc, &r, &resp)) == 0)
        rc = ccf_client__parse_logs(&resp, offset, out, ccf_client__err(c));
    return done(c, rc, &resp);
}

int ccf_client_put_documents(struct ccf_client *c, const char *connector_id,
                             const struct ccf_client_document_input *docs, size_t n)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_put_documents(&r, connector_id, docs, n, ccf_client__err(c));

    return empty_op(c, rc, &r);
}

int ccf_client_delete_documents(struct ccf_client *c, const char *connector_id,
                                const char *const *ids, size_t n)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_delete_documents(&r, connector_id, ids, n, ccf_client__err(c));

    return empty_op(c, rc, &r);
}

int ccf_client_list_documents(struct ccf_client *c, const char *connector_id,
                              const struct ccf_client_page *page,
                              struct ccf_client_document_list *out)
{
    return ccf_client_list_documents_not_seen(c, connector_id, NULL, page, out);
}

int ccf_client_list_documents_not_seen(struct ccf_client *c, const char *connector_id,
                                       const char *job_id, const struct ccf_client_page *page,
                                       struct ccf_client_document_list *out)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    int rc = ccf_client__build_list_documents(&r, connector_id, job_id, page, ccf_client__err(c));

    if ((rc = send_req(c, rc, &r, &resp)) == 0)
        rc = ccf_client__parse_document_list(resp.body, resp.len, out, ccf_client__err(c));
    return done(c, rc, &resp);
}

int ccf_client_put_checkpoint(struct ccf_client *c, const char *connector_id, const char *data,
                              size_t len)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_put_checkpoint(&r, connector_id, data, len, ccf_client__err(c));

    return empty_op(c, rc, &r);
}

int ccf_client_get_checkpoint(struct ccf_client *c, const char *connector_id,
                              struct ccf_client_checkpoint *out)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    int rc = ccf_client__build_checkpoint(&r, "GET", connector_id, ccf_client__err(c));

    if ((rc = send_req(c, rc, &r, &resp)) == 0)
        rc = ccf_client__parse_checkpoint_response(resp.body, resp.len, out, ccf_client__err(c));
    return done(c, rc, &resp);
}

int ccf_client_delete_checkpoint(struct ccf_client *c, const char *connector_id)
{
    struct ccf_client__req r;
    int rc = ccf_client__build_checkpoint(&r, "DELETE", connector_id, ccf_client__err(c));

    return empty_op(c, rc, &r);
}
