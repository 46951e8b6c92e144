/* test_client_requests.c: libccf without a server: request building
 * (paths, sorted and encoded queries, JSON bodies). */
#include "client_fixture.h"

static json_t *body_json(const struct ccf_client__req *r)
{
    json_t *o;

    assert_non_null(r->body);
    assert_int_equal(strlen(r->body), r->body_len);
    o = json_loadb(r->body, r->body_len, JSON_ALLOW_NUL, NULL);
    assert_non_null(o);
    return o;
}

/* ---- encoding ---- */

static void test_encode(void **state)
{
    char *s;

    (void)state;
    s = ccf_client__encode("AZaz09-_.~");
    assert_string_equal(s, "AZaz09-_.~");
    free(s);
    s = ccf_client__encode("a b/c=d%&+");
    assert_string_equal(s, "a%20b%2Fc%3Dd%25%26%2B");
    free(s);
    s = ccf_client__encode("\xc3\xa9\x01");
    assert_string_equal(s, "%C3%A9%01");
    free(s);
    s = ccf_client__encode("");
    assert_string_equal(s, "");
    free(s);
}

static void test_query_sorted(void **state)
{
    struct ccf_client__query q = {0};
    char *s;

    (void)state;
    /* Added out of order: SigV4 wants them by name, then by value. */
    assert_int_equal(ccf_client__query_add(&q, "status", "RUNNING"), 0);
    assert_int_equal(ccf_client__query_add(&q, "next_token", "ab+c/d=="), 0);
    assert_int_equal(ccf_client__query_add_int(&q, "max_results", 5), 0);
    assert_int_equal(ccf_client__query_add(&q, "b", "2"), 0);
    assert_int_equal(ccf_client__query_add(&q, "b", "10"), 0);
    assert_int_equal(ccf_client__query_add(&q, "skipped", NULL), 0);
    s = ccf_client__query_build(&q);
    assert_string_equal(s, "?b=10&b=2&max_results=5&next_token=ab%2Bc%2Fd%3D%3D&status=RUNNING");
    assert_int_equal(q.n, 0);
    free(s);
    s = ccf_client__query_build(&q);
    assert_string_equal(s, "");
    free(s);
    for (int i = 0; i < CCF_CLIENT__QUERY_MAX; i++)
        assert_int_equal(ccf_client__query_add(&q, "x", "y"), 0);
    assert_int_equal(ccf_client__query_add(&q, "x", "y"), CCF_CLIENT_EINVAL);
    ccf_client__query_clear(&q);
}

/* ---- requests ---- */

static void test_build_paths(void **state)
{
    struct ccf_client_error err;
    struct ccf_client__req r;
    struct ccf_client_page pg = {.max_results = 2, .next_token = "tok=="};

    (void)state;
    assert_int_equal(ccf_client__build_get_connector(&r, CID, &err), 0);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID);
    assert_null(r.body);
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_delete_connector(&r, CID, &err), 0);
    assert_string_equal(r.method, "DELETE");
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID);
    ccf_client__req_clear(&r);

    /* An id is one path segment, whatever it holds. */
    assert_int_equal(ccf_client__build_get_connector(&r, "../x y?", &err), 0);
    assert_string_equal(r.target, "/api/v1/custom-connectors/..%2Fx%20y%3F");
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_get_connector(&r, "", &err), CCF_CLIENT_EINVAL);
    assert_string_equal(err.error_type, "InvalidArgumentError");
    assert_non_null(strstr(err.message, "connector_id"));
    assert_null(r.target);
    assert_int_equal(ccf_client__build_get_job(&r, CID, NULL, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "job_id"));

    assert_int_equal(ccf_client__build_list_connectors(&r, NULL, &err), 0);
    assert_string_equal(r.target, "/api/v1/custom-connectors");
    ccf_client__req_clear(&r);
    assert_int_equal(ccf_client__build_list_connectors(&r, &pg, &err), 0);
    assert_string_equal(r.target, "/api/v1/custom-connectors?max_results=2&next_token=tok%3D%3D");
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_list_jobs(&r, CID, "FAILED", &pg, &err), 0);
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID
                                  "/jobs?max_results=2&next_token=tok%3D%3D&status=FAILED");
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_get_job(&r, CID, JID, &err), 0);
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID "/jobs/" JID);
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_stop_job(&r, CID, JID, &err), 0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID "/jobs/" JID "/stop");
    assert_null(r.body);
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_job_logs(&r, CID, JID, 0, 0, 0, &err), 0);
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID "/jobs/" JID "/logs");
    ccf_client__req_clear(&r);
    assert_int_equal(ccf_client__build_job_logs(&r, CID, JID, 0, -100, 10, &err), 0);
    assert_string_equal(r.target,
                        "/api/v1/custom-connectors/" CID "/jobs/" JID "/logs?limit=10&offset=-100");
    ccf_client__req_clear(&r);
    assert_int_equal(
        ccf_client__build_job_logs(&r, CID, JID, 0, 0, CCF_CLIENT_LOG_CHUNK_MAX + 1, &err),
        CCF_CLIENT_EINVAL);
    /* Sorted query: attempt before limit (SigV4 canonical order). */
    assert_int_equal(ccf_client__build_job_logs(&r, CID, JID, 2, 0, 10, &err), 0);
    assert_string_equal(r.target,
                        "/api/v1/custom-connectors/" CID "/jobs/" JID "/logs?attempt=2&limit=10");
    ccf_client__req_clear(&r);
    assert_int_equal(ccf_client__build_job_logs(&r, CID, JID, -1, 0, 0, &err), CCF_CLIENT_EINVAL);

    assert_int_equal(ccf_client__build_list_documents(&r, CID, NULL, &pg, &err), 0);
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID
                                  "/documents?max_results=2&next_token=tok%3D%3D");
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_checkpoint(&r, "GET", CID, &err), 0);
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID "/checkpoint");
    ccf_client__req_clear(&r);
}

static void test_build_create(void **state)
{
    char *cmd[] = {"/bin/sh", "-c", "echo \"hi\""};
    struct ccf_client_env env[] = {{"KEY", "VALUE"}, {"EMPTY", ""}};
    struct ccf_client_connector_spec spec = {
        .name = "docs-sync",
        .container_properties = {.command = cmd,
                                 .command_len = 3,
                                 .has_timeout = true,
                                 .timeout = 600,
                                 .has_cpu = true,
                                 .cpu = 1.0,
                                 .has_environment = true,
                                 .environment = env,
                                 .environment_len = 2},
    };
    struct ccf_client_error err;
    struct ccf_client__req r;
    json_t *o, *p;

    (void)state;
    assert_int_equal(ccf_client__build_create_connector(&r, &spec, &err), 0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.target, "/api/v1/custom-connectors");
    o = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "docs-sync");
    assert_null(json_object_get(o, "description"));
    p = json_object_get(o, "container_properties");
    assert_true(json_is_object(p));
    assert_int_equal(json_integer_value(json_object_get(p, "timeout")), 600);
    /* An integral cpu goes as an integer, as the contract writes it. */
    assert_true(
        json_is_integer(json_object_get(json_object_get(p, "resource_requirements"), "cpu")));
    assert_null(json_object_get(json_object_get(p, "resource_requirements"), "memory"));
    assert_int_equal(json_array_size(json_object_get(p, "command")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "command"), 2)),
                        "echo \"hi\"");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(p, "environment"), 1), "name")),
                        "EMPTY");
    assert_null(json_object_get(p, "image_uri"));
    json_decref(o);
    ccf_client__req_clear(&r);

    spec.description = "about it";
    spec.container_properties.cpu = 1.5;
    spec.container_properties.has_environment = false;
    assert_int_equal(ccf_client__build_create_connector(&r, &spec, &err), 0);
    o = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(o, "description")), "about it");
    p = json_object_get(json_object_get(o, "container_properties"), "resource_requirements");
    assert_true(json_is_real(json_object_get(p, "cpu")));
    assert_null(json_object_get(json_object_get(o, "container_properties"), "environment"));
    json_decref(o);
    ccf_client__req_clear(&r);

    spec.name = "bad\xff";
    assert_int_equal(ccf_client__build_create_connector(&r, &spec, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "name"));
    spec.name = NULL;
    assert_int_equal(ccf_client__build_create_connector(&r, &spec, &err), CCF_CLIENT_EINVAL);
    spec.name = "ok-name";
    cmd[1] = NULL;
    assert_int_equal(ccf_client__build_create_connector(&r, &spec, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "command[1]"));
    assert_null(r.target);
}

static void test_build_update(void **state)
{
    struct ccf_client_connector_update u = {0};
    struct ccf_client_error err;
    struct ccf_client__req r;
    json_t *o, *p;

    (void)state;
    assert_int_equal(ccf_client__build_update_connector(&r, CID, &u, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "at least one field"));

    u.name = "renamed";
    assert_int_equal(ccf_client__build_update_connector(&r, CID, &u, &err), 0);
    assert_string_equal(r.method, "PUT");
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID);
    assert_string_equal(r.body, "{\"name\":\"renamed\"}");
    ccf_client__req_clear(&r);

    /* A merge patch: set fields, nulls for removed ones, the rest absent. */
    u.name = NULL;
    u.container_properties.has_memory = true;
    u.container_properties.memory = 4096;
    u.remove = CCF_CLIENT_FIELD_DESCRIPTION | CCF_CLIENT_FIELD_CPU | CCF_CLIENT_FIELD_TIMEOUT |
               CCF_CLIENT_FIELD_ENVIRONMENT | CCF_CLIENT_FIELD_IMAGE_URI;
    assert_int_equal(ccf_client__build_update_connector(&r, CID, &u, &err), 0);
    o = body_json(&r);
    assert_true(json_is_null(json_object_get(o, "description")));
    assert_null(json_object_get(o, "name"));
    p = json_object_get(o, "container_properties");
    assert_true(json_is_null(json_object_get(p, "timeout")));
    assert_true(json_is_null(json_object_get(p, "environment")));
    assert_true(json_is_null(json_object_get(p, "image_uri")));
    assert_null(json_object_get(p, "command"));
    assert_null(json_object_get(p, "job_role_arn"));
    assert_true(json_is_null(json_object_get(json_object_get(p, "resource_requirements"), "cpu")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(p, "resource_requirements"), "memory")),
        4096);
    json_decref(o);
    ccf_client__req_clear(&r);

    /* An empty environment replaces the list with an empty one. */
    memset(&u, 0, sizeof(u));
    u.container_properties.has_environment = true;
    assert_int_equal(ccf_client__build_update_connector(&r, CID, &u, &err), 0);
    assert_string_equal(r.body, "{\"container_properties\":{\"environment\":[]}}");
    ccf_client__req_clear(&r);
}

static void test_build_jobs_and_data(void **state)
{
    struct ccf_client_env env[] = {{"A", "1"}};
    struct ccf_client_document_input docs[2] = {{"a.txt", "0123456789abcdef0123456789abcdef"},
                                                {"b\xc3\xa9", "fedcba9876543210fedcba9876543210"}};
    const char *ids[] = {"a.txt", "b"};
    struct ccf_client_document_input *many;
    struct ccf_client_error err;
    struct ccf_client__req r;
    json_t *o;

    (void)state;
    assert_int_equal(ccf_client__build_start_job(&r, CID, NULL, 0, &err), 0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID "/jobs");
    assert_string_equal(r.body, "{}");
    ccf_client__req_clear(&r);
    assert_int_equal(ccf_client__build_start_job(&r, CID, env, 1, &err), 0);
    assert_string_equal(r.body, "{\"environment\":[{\"name\":\"A\",\"value\":\"1\"}]}");
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_put_documents(&r, CID, docs, 2, &err), 0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.target, "/api/v1/custom-connectors/" CID "/documents");
    o = body_json(&r);
    assert_int_equal(json_array_size(json_object_get(o, "documents")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(o, "documents"), 1), "document_id")),
                        "b\xc3\xa9");
    json_decref(o);
    ccf_client__req_clear(&r);

    assert_int_equal(ccf_client__build_put_documents(&r, CID, docs, 0, &err), CCF_CLIENT_EINVAL);
    many = calloc(CCF_CLIENT_BATCH_MAX + 1, sizeof(*many));
    for (size_t i = 0; i <= CCF_CLIENT_BATCH_MAX; i++)
        many[i] = docs[0];
    assert_int_equal(ccf_client__build_put_documents(&r, CID, many, CCF_CLIENT_BATCH_MAX, &err), 0);
    ccf_client__req_clear(&r);
    assert_int_equal(ccf_client__build_put_documents(&r, CID, many, CCF_CLIENT_BATCH_MAX + 1, &err),
                     CCF_CLIENT_EINVAL);
    free(many);
    docs[1].document_id = "bad\xc3";
    assert_int_equal(ccf_client__build_put_documents(&r, CID, docs, 2, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "documents[1]"));

    assert_int_equal(ccf_client__build_delete_documents(&r, CID, ids, 2, &err), 0);
    assert_string_equal(r.method, "DELETE");
    assert_string_equal(r.body, "{\"document_ids\":[\"a.txt\",\"b\"]}");
    ccf_client__req_clear(&r);
    assert_int_equal(ccf_client__build_delete_documents(&r, CID, ids, 0, &err), CCF_CLIENT_EINVAL);

    /* checkpoint_data goes byte for byte, NUL included. */
    assert_int_equal(ccf_client__build_put_checkpoint(&r, CID, "a\0b", 3, &err), 0);
    assert_string_equal(r.method, "PUT");
    assert_string_equal(r.body, "{\"checkpoint_data\":\"a\\u0000b\"}");
    ccf_client__req_clear(&r);
    assert_int_equal(ccf_client__build_put_checkpoint(&r, CID, "\xff", 1, &err), CCF_CLIENT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),       cmocka_unit_test(test_query_sorted),
        cmocka_unit_test(test_build_paths),  cmocka_unit_test(test_build_create),
        cmocka_unit_test(test_build_update), cmocka_unit_test(test_build_jobs_and_data),
    };

    ccf_client_global_init();
    return cmocka_run_group_tests_name("client-requests", tests, NULL, NULL);
}
