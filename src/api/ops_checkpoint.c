/* ops_checkpoint.c: the checkpoint operations: versions and their ETag,
 * conditional puts (If-Match, If-None-Match: *, expected_version), the
 * kept history and reading a kept version. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/log.h"

/* A version as a decimal of 1..18 digits without sign or leading zero. */
static bool parse_version(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;

    if (n == 0 || n > 18 || s[0] == '0')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* If-Match: "N" (an ETag as ccfd sends it; a bare N is taken too) or *.
 * A list of ETags or a weak one is refused: a checkpoint has one strong
 * version and a write must name it. */
static int parse_if_match(struct api__call *call, const char *v, int64_t *expect)
{
    size_t n;

    while (*v == ' ' || *v == '\t')
        v++;
    n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 1 && v[0] == '*') {
        *expect = STORE_CP_EXISTS;
        return 0;
    }
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (!parse_version(v, n, expect)) {
        api__fail(call, 400,
                  "If-Match must be one ETag as GetCustomConnectorCheckpoint returns "
                  "it (\"N\") or *");
        return CCF_EINVAL;
    }
    return 0;
}

/* The put's condition into *expect: STORE_CP_ANY when it has none. At most
 * one of If-Match, If-None-Match and expected_version: two could contradict
 * each other, and a client that sends two is confused about which holds. */
static int put_condition(struct api__call *call, const json_t *body, int64_t *expect)
{
    const struct api_request *req = call->req;
    struct ccf_diag d = {{0}};
    int64_t ev;
    int given = (req->if_match != NULL) + (req->if_none_match != NULL);

    if (ccf_checkpoint_expected_version(body, &ev, &d) < 0) {
        api__fail(call, 400, "%s", d.msg);
        return CCF_EINVAL;
    }
    given += ev >= 0;
    if (given > 1) {
        api__fail(call, 400, "Give at most one of If-Match, If-None-Match and expected_version");
        return CCF_EINVAL;
    }
    *expect = ev >= 0 ? ev : STORE_CP_ANY;
    if (req->if_match)
        return parse_if_match(call, req->if_match, expect);
    if (req->if_none_match) {
        if (strcmp(req->if_none_match, "*") != 0) {
            api__fail(call, 400,
                      "If-None-Match takes only * (write only if there is no "
                      "checkpoint)");
            return CCF_EINVAL;
        }
        *expect = 0;
    }
    return 0;
}

void api__put_checkpoint(struct api__call *call)
{
    struct ccf_diag d = {{0}};
    json_t *body = api__body(call);
    const char *data;
    int64_t expect, version = 0;
    size_t len;
    int rc;

    if (!body)
        return;
    if (ccf_checkpoint_from_put(body, &data, &len, &d) < 0) {
        api__fail(call, 400, "%s", d.msg);
        goto out;
    }
    if (put_condition(call, body, &expect) < 0)
        goto out;
    rc = store_put_checkpoint_if(call->api->store, call->tenant, call->connector_id,
                                 api__principal_job(call), data, len, expect, &version);
    if (rc == CCF_EPRECOND) {
        api__fail(call, 412,
                  "The checkpoint of connector %s is not at the version this write expects; "
                  "read it again and retry",
                  call->connector_id);
        goto out;
    }
    if (rc < 0) {
        api__store_fail(call, rc, "Connector", call->connector_id);
        goto out;
    }
    /* A log line stands in for the checkpoint.updated event of issue 13. */
    CCF_LOG_INFO("checkpoint.updated", CCF_KV_STR("connector_id", call->connector_id),
                 CCF_KV_INT("version", version));
    api__reply(call, 202, json_pack("{s:I}", "version", (json_int_t)version));
    api__header(call, "ETag", "\"%" PRId64 "\"", version);
out:
    json_decref(body);
}

/* The store's CCF_ENOTFOUND covers both a missing connector and a missing
 * checkpoint; the contract has a message for each. */
static void checkpoint_not_found(struct api__call *call, int rc)
{
    struct ccf_connector c = {0};

    if (rc == CCF_ENOTFOUND &&
        store_get_connector(call->api->store, call->tenant, call->connector_id, &c) == 0) {
        ccf_connector_clear(&c);
        api__store_fail(call, rc, "Checkpoint for connector", call->connector_id);
        return;
    }
    api__store_fail(call, rc, "Connector", call->connector_id);
}

/* ?version=N: 0 and *out 0 when absent; 400 answered when not 1..10^18-1. */
static int query_version(struct api__call *call, int64_t *out)
{
    const char *v;

    if (api__query_get(call, "version", &v) < 0)
        return CCF_EINVAL;
    *out = 0;
    if (v && !parse_version(v, strlen(v), out)) {
        api__fail(call, 400, "version must be a positive integer (a checkpoint version)");
        return CCF_EINVAL;
    }
    return 0;
}

void api__get_checkpoint(struct api__call *call)
{
    struct ccf_checkpoint cp = {.data = NULL};
    int64_t version;
    int rc;

    if (query_version(call, &version) < 0)
        return;
    rc = store_get_checkpoint_version(call->api->store, call->tenant, call->connector_id, version,
                                      &cp);
    if (rc == CCF_ENOTFOUND && version > 0 &&
        store_get_checkpoint(call->api->store, call->tenant, call->connector_id, &cp) == 0) {
        ccf_checkpoint_clear(&cp);
        api__fail(call, 404, "Version %" PRId64 " of the checkpoint of connector %s is not kept",
                  version, call->connector_id);
        return;
    }
    if (rc < 0) {
        checkpoint_not_found(call, rc);
        return;
    }
    api__reply(call, 200, json_pack("{s:o}", "checkpoint", ccf_checkpoint_json(&cp)));
    api__header(call, "ETag", "\"%" PRId64 "\"", cp.version);
    ccf_checkpoint_clear(&cp);
}

static int add_version(void *ctx, const struct store_cp_version *v)
{
    struct api__call *call = ctx;

    json_array_append_new(json_object_get(call->resp_json, "versions"),
                          json_pack("{s:I,s:I,s:o}", "version", (json_int_t)v->version, "size",
                                    (json_int_t)v->size, "created_at",
                                    ccf_time_json(v->created_at)));
    return 0;
}

void api__list_checkpoint_versions(struct api__call *call)
{
    struct store_page page = {0};
    char scope[64], *next = NULL;
    int rc;

    snprintf(scope, sizeof(scope), "checkpoint-versions:%s", call->connector_id);
    if (api__page(call, scope, "", CCF_PAGE_MAX, &page) < 0)
        return;
    call->resp_json = json_pack("{s:[]}", "versions");
    rc = store_list_checkpoint_versions(call->api->store, call->tenant, call->connector_id, &page,
                                        add_version, call, &next);
    if (rc < 0) {
        checkpoint_not_found(call, rc);
        goto out;
    }
    api__set_next(call, call->resp_json, scope, "", next);
    api__reply(call, 200, call->resp_json);
    call->resp_json = NULL;
out:
    json_decref(call->resp_json);
    call->resp_json = NULL;
    free((char *)page.after);
}

void api__delete_checkpoint(struct api__call *call)
{
    int rc = store_delete_checkpoint(call->api->store, call->tenant, call->connector_id);

    if (rc < 0) {
        checkpoint_not_found(call, rc);
        return;
    }
    api__reply(call, 204, NULL);
}
