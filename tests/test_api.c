/* test_api.c: the API handler called directly (no socket) over a real
 * SQLite store in a temporary directory: routing, order of checks, errors,
 * pagination tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/api.h"

struct fixture {
    char dir[64];
    char db[96];
    struct store *store;
    struct api *api;
    struct ccf_tenant tenant;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct store_config sc = {0};
    struct api_config ac = {0};

    snprintf(f->dir, sizeof(f->dir), "/tmp/ccf-test-api-XXXXXX");
    if (!f->dir[0] || !mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof(f->db), "%s/ccf.db", f->dir);
    sc.path = f->db;
    sc.synchronous = "OFF";
    if (store_open(&f->store, &sc) < 0)
        return -1;
    ac.store = f->store;
    if (api_create(&f->api, &ac) < 0)
        return -1;
    ccf_tenant_init(&f->tenant, "us-east-1", "123456789012");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    api_destroy(f->api);
    store_close(f->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Runs one request; returns the status and, if out is set, the parsed body. */
static int req(struct fixture *f, const char *method, const char *target, const char *ctype,
               const char *body, json_t **out, struct api_response *keep)
{
    struct api_request rq = {
        .method = method,
        .target = target,
        .content_type = ctype,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .has_body = body && body[0],
        .tenant = f->tenant,
        .request_id = "test-request",
    };
    struct api_response rs;
    int status;

    api_handle(f->api, &rq, &rs);
    status = rs.status;
    if (out)
        *out = rs.body ? json_loads(rs.body, JSON_ALLOW_NUL, NULL) : NULL;
    if (rs.error_type) {
        /* Every error is in the contract's shape, with the header to match. */
        json_t *e = json_loads(rs.body, 0, NULL);
        assert_non_null(e);
        assert_string_equal(json_string_value(json_object_get(e, "errorType")), rs.error_type);
        assert_true(json_is_string(json_object_get(e, "message")));
        assert_int_equal(json_object_size(e), 2);
        json_decref(e);
    }
    if (keep)
        *keep = rs;
    else
        api_response_clear(&rs);
    return status;
}

static const char *error_type_of(json_t *body)
{
    return json_string_value(json_object_get(body, "errorType"));
}

static char *create(struct fixture *f, const char *name)
{
    char body[256];
    json_t *out;
    char *id;

    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"container_properties\":{\"command\":[\"/bin/true\"]}}", name);
    assert_int_equal(req(f, "POST", "/api/v1/custom-connectors", NULL, body, &out, NULL), 201);
    id = strdup(
        json_string_value(json_object_get(json_object_get(out, "connector"), "connector_id")));
    json_decref(out);
    return id;
}

static void test_routes(void **state)
{
    struct fixture *f = *state;
    struct api_response rs;
    json_t *out;

    assert_int_equal(req(f, "GET", "/healthz", NULL, NULL, NULL, NULL), 200);
    assert_int_equal(req(f, "GET", "/api/v1/nope", NULL, NULL, &out, NULL), 404);
    assert_string_equal(error_type_of(out), "ResourceNotFoundException");
    json_decref(out);
    assert_int_equal(req(f, "GET", "/api/v1/custom-connectors/", NULL, NULL, NULL, NULL), 404);
    assert_int_equal(req(f, "GET", "/api/v1//custom-connectors", NULL, NULL, NULL, NULL), 404);
    assert_int_equal(req(f, "GET", "/api/v1", NULL, NULL, NULL, NULL), 404);
    assert_int_equal(
        req(f, "PATCH", "/api/v1/custom-connectors/cc-0123456789ab", NULL, NULL, NULL, &rs), 405);
    assert_int_equal(rs.nheaders, 1);
    assert_string_equal(rs.headers[0].name, "Allow");
    assert_string_equal(rs.headers[0].value, "DELETE, GET, PUT");
    api_response_clear(&rs);
    /* 405 comes before the id check. */
    assert_int_equal(
        req(f, "GET", "/api/v1/custom-connectors/bad/jobs/bad/stop", NULL, NULL, NULL, NULL), 405);
}

static void test_order_of_checks(void **state)
{
    struct fixture *f = *state;
    json_t *out;

    /* A bad id is a 404 before a bad Content-Type is a 415. */
    assert_int_equal(
        req(f, "PUT", "/api/v1/custom-connectors/cc-XYZ", "text/plain", "x", &out, NULL), 404);
    assert_string_equal(json_string_value(json_object_get(out, "message")),
                        "Connector cc-XYZ not found");
    json_decref(out);
    assert_int_equal(req(f, "PUT", "/api/v1/custom-connectors/%2e%2e%2f", NULL, "{}", NULL, NULL),
                     404);
    assert_int_equal(
        req(f, "PUT", "/api/v1/custom-connectors/cc-0123456789ab%00", NULL, "{}", NULL, NULL), 404);
    /* 415 before the body is looked at. */
    assert_int_equal(
        req(f, "POST", "/api/v1/custom-connectors", "text/plain", "not json", &out, NULL), 415);
    assert_string_equal(error_type_of(out), "UnsupportedMediaTypeException");
    json_decref(out);
    /* A bad body is a 400 even for a connector that does not exist. */
    assert_int_equal(req(f, "PUT", "/api/v1/custom-connectors/cc-0123456789ab",
                         "application/json; charset=utf-8", "{\"name\":1}", NULL, NULL),
                     400);
    assert_int_equal(req(f, "PUT", "/api/v1/custom-connectors/cc-0123456789ab", NULL,
                         "{\"name\":\"abc\"}", &out, NULL),
                     404);
    assert_string_equal(json_string_value(json_object_get(out, "message")),
                        "Connector cc-0123456789ab not found");
    json_decref(out);
}

static void test_connector_lifecycle(void **state)
{
    struct fixture *f = *state;
    char path[128], *id = create(f, "life");
    json_t *out, *c;

    snprintf(path, sizeof(path), "/api/v1/custom-connectors/%s", id);
    assert_int_equal(req(f, "GET", path, NULL, NULL, &out, NULL), 200);
    c = json_object_get(out, "connector");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "AVAILABLE");
    assert_null(json_object_get(c, "description"));
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(c, "container_properties"), "resource_requirements"),
            "memory")),
        2048);
    json_decref(out);
    assert_int_equal(req(f, "PUT", path, NULL, "{\"description\":\"now set\"}", &out, NULL), 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "connector"), "description")),
        "now set");
    json_decref(out);
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, &out, NULL), 204);
    assert_null(out);
    assert_int_equal(req(f, "GET", path, NULL, NULL, NULL, NULL), 404);
    free(id);
}

static void test_jobs_and_stop(void **state)
{
    struct fixture *f = *state;
    char path[160], stop[200], *id = create(f, "jobs"), *other = create(f, "other");
    const char *job;
    json_t *out, *again;

    snprintf(path, sizeof(path), "/api/v1/custom-connectors/%s/jobs", id);
    assert_int_equal(req(f, "POST", path, NULL, NULL, &out, NULL), 201);
    job = json_string_value(json_object_get(json_object_get(out, "job"), "job_id"));
    assert_int_equal(req(f, "POST", path, NULL, "{}", &again, NULL), 409);
    assert_string_equal(error_type_of(again), "ConflictException");
    json_decref(again);
    snprintf(stop, sizeof(stop), "/api/v1/custom-connectors/%s/jobs/%s/stop", other, job);
    assert_int_equal(req(f, "POST", stop, NULL, NULL, &again, NULL), 404);
    assert_non_null(strstr(json_string_value(json_object_get(again, "message")), job));
    json_decref(again);
    snprintf(stop, sizeof(stop), "/api/v1/custom-connectors/%s/jobs/%s/stop", id, job);
    assert_int_equal(req(f, "POST", stop, NULL, NULL, NULL, NULL), 202);
    assert_int_equal(req(f, "POST", stop, NULL, NULL, NULL, NULL), 202);
    snprintf(stop, sizeof(stop), "/api/v1/custom-connectors/%s/jobs?status=STOPPING", id);
    assert_int_equal(req(f, "GET", stop, NULL, NULL, &again, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(again, "jobs")), 1);
    json_decref(again);
    snprintf(stop, sizeof(stop), "/api/v1/custom-connectors/%s/jobs?status=stopping", id);
    assert_int_equal(req(f, "GET", stop, NULL, NULL, NULL, NULL), 400);
    json_decref(out);
    free(id);
    free(other);
}

static void test_pagination_tokens(void **state)
{
    struct fixture *f = *state;
    char target[4096], *ids[5], *other = create(f, "tok-other");
    const char *tok;
    json_t *out, *page2;

    for (int i = 0; i < 5; i++)
        ids[i] = create(f, "tok");
    assert_int_equal(
        req(f, "GET", "/api/v1/custom-connectors?max_results=2", NULL, NULL, &out, NULL), 200);
    tok = json_string_value(json_object_get(out, "next_token"));
    assert_non_null(tok);
    snprintf(target, sizeof(target), "/api/v1/custom-connectors?max_results=2&next_token=%s", tok);
    assert_int_equal(req(f, "GET", target, NULL, NULL, &page2, NULL), 200);
    json_decref(page2);
    /* Forged: one character changed. */
    snprintf(target, sizeof(target), "/api/v1/custom-connectors?next_token=%s", tok);
    target[strlen(target) - 1] ^= 1;
    assert_int_equal(req(f, "GET", target, NULL, NULL, NULL, NULL), 400);
    /* Another list: the jobs of a connector. */
    snprintf(target, sizeof(target), "/api/v1/custom-connectors/%s/jobs?next_token=%s", other, tok);
    assert_int_equal(req(f, "GET", target, NULL, NULL, NULL, NULL), 400);
    /* Another tenant. */
    ccf_tenant_init(&f->tenant, "us-east-1", "999999999999");
    snprintf(target, sizeof(target), "/api/v1/custom-connectors?next_token=%s", tok);
    assert_int_equal(req(f, "GET", target, NULL, NULL, NULL, NULL), 400);
    ccf_tenant_init(&f->tenant, "us-east-1", "123456789012");
    assert_int_equal(
        req(f, "GET", "/api/v1/custom-connectors?next_token=%%%", NULL, NULL, NULL, NULL), 400);
    assert_int_equal(req(f, "GET", "/api/v1/custom-connectors?max_results=1&max_results=2", NULL,
                         NULL, NULL, NULL),
                     400);
    assert_int_equal(
        req(f, "GET", "/api/v1/custom-connectors?max_results=", NULL, NULL, NULL, NULL), 400);
    assert_int_equal(
        req(f, "GET", "/api/v1/custom-connectors?max_results=101", NULL, NULL, NULL, NULL), 400);
    assert_int_equal(
        req(f, "GET", "/api/v1/custom-connectors?max_results=100&junk=%%", NULL, NULL, NULL, NULL),
        200);
    json_decref(out);
    for (int i = 0; i < 5; i++)
        free(ids[i]);
    free(other);
}

/* The longest document id (512 four-byte characters) still pages with a
 * token inside the contract's 2048 characters. */
static void test_long_document_token(void **state)
{
    struct fixture *f = *state;
    char *id = create(f, "docs"), path[128], *body, *target, *p;
    const char *tok;
    json_t *out;
    size_t cap = 64 * 1024;

    body = malloc(cap);
    p = body + snprintf(body, cap, "{\"documents\":[");
    for (int d = 0; d < 2; d++) {
        p += snprintf(p, 64, "%s{\"document_id\":\"", d ? "," : "");
        for (int i = 0; i < 512; i++) {
            memcpy(p, "\xf0\x9f\x98\x80", 4);
            p += 4;
        }
        p[-1] = (char)(0x80 + d); /* two different last characters */
        p += snprintf(p, 128, "\",\"checksum\":\"0123456789abcdef0123456789abcdef\"}");
    }
    snprintf(p, 8, "]}");
    snprintf(path, sizeof(path), "/api/v1/custom-connectors/%s/documents", id);
    assert_int_equal(req(f, "POST", path, NULL, body, NULL, NULL), 202);
    target = malloc(cap);
    snprintf(target, cap, "%s?max_results=1", path);
    assert_int_equal(req(f, "GET", target, NULL, NULL, &out, NULL), 200);
    tok = json_string_value(json_object_get(out, "next_token"));
    assert_non_null(tok);
    assert_true(strlen(tok) <= 2048);
    snprintf(target, cap, "%s?max_results=1&next_token=%s", path, tok);
    json_decref(out);
    assert_int_equal(req(f, "GET", target, NULL, NULL, &out, NULL), 200);
    assert_int_equal(json_array_size(json_object_get(out, "documents")), 1);
    assert_null(json_object_get(out, "next_token"));
    json_decref(out);
    free(target);
    free(body);
    free(id);
}

static void test_checkpoint_messages(void **state)
{
    struct fixture *f = *state;
    char path[160], msg[128], *id = create(f, "ckpt");
    json_t *out;

    snprintf(path, sizeof(path), "/api/v1/custom-connectors/%s/checkpoint", id);
    assert_int_equal(req(f, "GET", path, NULL, NULL, &out, NULL), 404);
    snprintf(msg, sizeof(msg), "Checkpoint for connector %s not found", id);
    assert_string_equal(json_string_value(json_object_get(out, "message")), msg);
    json_decref(out);
    assert_int_equal(req(f, "PUT", path, NULL, "{\"checkpoint_data\":\"a\\u0000b\"}", NULL, NULL),
                     202);
    assert_int_equal(req(f, "GET", path, NULL, NULL, &out, NULL), 200);
    assert_int_equal(
        json_string_length(json_object_get(json_object_get(out, "checkpoint"), "checkpoint_data")),
        3);
    json_decref(out);
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, NULL, NULL), 204);
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, NULL, NULL), 404);
    free(id);
}

/* Every routed write that answers 2xx or 409 leaves one record, in the
 * order of the answers; reads, 400s and 404s none; api_operation_of names
 * a refused request's operation without running it. */
static void test_audit_records(void **state)
{
    struct fixture *f = *state;
    char path[128], cid[16] = "", jid[17] = "", *id = create(f, "audited");
    struct store_audit recs[8];
    int64_t next;
    int n;

    snprintf(path, sizeof(path), "/api/v1/custom-connectors/%s/jobs", id);
    assert_int_equal(req(f, "POST", path, NULL, NULL, NULL, NULL), 201);
    assert_int_equal(req(f, "POST", path, NULL, NULL, NULL, NULL), 409);
    assert_int_equal(req(f, "GET", path, NULL, NULL, NULL, NULL), 200);
    assert_int_equal(req(f, "POST", "/api/v1/custom-connectors", NULL, "{}", NULL, NULL), 400);
    assert_int_equal(
        req(f, "DELETE", "/api/v1/custom-connectors/cc-000000000000", NULL, NULL, NULL, NULL), 404);
    assert_int_equal(req(f, "POST", "/api/v1/nowhere", NULL, NULL, NULL, NULL), 404);
    n = store_read_audit(f->store, &f->tenant, -1, 8, recs, &next);
    assert_int_equal(n, 3);
    assert_string_equal(recs[0].operation, "CreateCustomConnector");
    assert_string_equal(recs[0].connector_id, id);
    assert_int_equal(recs[0].status, 201);
    assert_string_equal(recs[0].request_id, "test-request");
    assert_string_equal(recs[1].operation, "StartCustomConnectorJob");
    assert_int_equal(strlen(recs[1].job_id), 16);
    assert_string_equal(recs[2].error_type, "ConflictException");
    assert_string_equal(recs[2].job_id, "");
    assert_null(api_operation_of("DELETE", path, cid, jid)); /* a 405 */
    assert_null(api_operation_of("GET", "/api/v1/nowhere", cid, jid));
    snprintf(path, sizeof(path), "/api/v1/custom-connectors/%s/jobs/ccj-0123456789ab/stop?x=1", id);
    assert_string_equal(api_operation_of("POST", path, cid, jid), "StopCustomConnectorJob");
    assert_string_equal(cid, id);
    assert_string_equal(jid, "ccj-0123456789ab");
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_of_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connector_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pagination_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_document_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_records, setup, teardown),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
