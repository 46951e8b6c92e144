/* test_client.c: libccf without a server: request building (paths, sorted
 * and encoded queries, JSON bodies), response parsing (well-formed and
 * malformed answers: an error, never a crash), error answers, headers,
 * credentials files and the configuration checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/client_int.h"

#define CID "cc-0123456789ab"
#define JID "ccj-0123456789ab"
#define T0  "2026-11-24T23:54:14.123456Z"

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

/* ---- responses ---- */

#define CONNECTOR_JSON                                                                             \
    "{\"connector_id\":\"" CID                                                                     \
    "\",\"arn\":\"arn:aws:ccf:us-east-1:123456789012:custom-connector/" CID                        \
    "\",\"name\":\"docs-sync\",\"status\":\"IN_USE\",\"active_job_id\":\"" JID                     \
    "\",\"created_at\":\"" T0 "\",\"updated_at\":\"" T0 "\""
#define JOB_JSON                                                                                   \
    "{\"job_id\":\"" JID "\",\"connector_id\":\"" CID                                              \
    "\",\"status\":\"FAILED\",\"created_at\":\"" T0 "\",\"updated_at\":\"" T0                      \
    "\",\"exit_code\":3,\"failure_reason\":\"exited with code 3\"}"

static void test_parse_connector(void **state)
{
    const char *body =
        "{\"connector\":" CONNECTOR_JSON ",\"unknown\":[1,2],\"container_properties\":{"
        "\"resource_requirements\":{\"cpu\":1.5,\"memory\":2048},\"timeout\":600,"
        "\"command\":[\"/bin/"
        "sh\",\"-c\",\"x\"],\"environment\":[{\"name\":\"A\",\"value\":\"\"}]}}}";
    struct ccf_client_connector c = {0};
    struct ccf_client_error err;

    (void)state;
    assert_int_equal(ccf_client__parse_connector_response(body, strlen(body), true, &c, &err), 0);
    assert_string_equal(c.connector_id, CID);
    assert_string_equal(c.name, "docs-sync");
    assert_string_equal(c.status, "IN_USE");
    assert_string_equal(c.active_job_id, JID);
    assert_null(c.description);
    assert_true(c.has_container_properties);
    assert_true(c.container_properties.has_cpu);
    assert_true(c.container_properties.cpu == 1.5);
    assert_int_equal(c.container_properties.memory, 2048);
    assert_int_equal(c.container_properties.timeout, 600);
    assert_int_equal(c.container_properties.command_len, 3);
    assert_string_equal(c.container_properties.command[2], "x");
    assert_int_equal(c.container_properties.environment_len, 1);
    assert_string_equal(c.container_properties.environment[0].value, "");
    assert_null(c.container_properties.image_uri);
    ccf_client_connector_clear(&c);
    ccf_client_connector_clear(&c); /* a cleared struct clears again */

    /* A summary (create, update) has no container_properties. */
    body = "{\"connector\":" CONNECTOR_JSON ",\"description\":null}}";
    assert_int_equal(ccf_client__parse_connector_response(body, strlen(body), false, &c, &err), 0);
    assert_false(c.has_container_properties);
    ccf_client_connector_clear(&c);
    assert_int_equal(ccf_client__parse_connector_response(body, strlen(body), true, &c, &err),
                     CCF_CLIENT_EPROTO);
    assert_non_null(strstr(err.message, "container_properties"));
}

static void test_parse_job_and_lists(void **state)
{
    const char *body = "{\"job\":" JOB_JSON "}";
    struct ccf_client_connector_list cl = {0};
    struct ccf_client_document_list dl = {0};
    struct ccf_client_job_list jl = {0};
    struct ccf_client_job j = {0};
    struct ccf_client_error err;

    (void)state;
    assert_int_equal(ccf_client__parse_job_response(body, strlen(body), &j, &err), 0);
    assert_string_equal(j.status, "FAILED");
    assert_true(j.has_exit_code);
    assert_int_equal(j.exit_code, 3);
    assert_null(j.started_at);
    assert_string_equal(j.failure_reason, "exited with code 3");
    assert_true(ccf_client_job_status_terminal(j.status));
    assert_false(ccf_client_job_status_terminal("STOPPING"));
    assert_false(ccf_client_job_status_terminal(NULL));
    assert_null(j.status_reason);
    ccf_client_job_clear(&j);

    /* A job waiting for capacity says why; a wrong type is refused. */
    body = "{\"job\":{\"job_id\":\"" JID "\",\"connector_id\":\"" CID
           "\",\"status\":\"STARTED\",\"created_at\":\"" T0 "\",\"updated_at\":\"" T0
           "\",\"status_reason\":\"waiting for capacity: 1 of 1 jobs running (pool machine)\"}}";
    assert_int_equal(ccf_client__parse_job_response(body, strlen(body), &j, &err), 0);
    assert_string_equal(j.status_reason,
                        "waiting for capacity: 1 of 1 jobs running (pool machine)");
    ccf_client_job_clear(&j);
    body = "{\"job\":{\"job_id\":\"" JID "\",\"connector_id\":\"" CID
           "\",\"status\":\"STARTED\",\"created_at\":\"" T0 "\",\"updated_at\":\"" T0
           "\",\"status_reason\":7}}";
    assert_int_equal(ccf_client__parse_job_response(body, strlen(body), &j, &err),
                     CCF_CLIENT_EPROTO);

    body = "{\"connectors\":[" CONNECTOR_JSON "}," CONNECTOR_JSON "}],\"next_token\":\"abc\"}";
    assert_int_equal(ccf_client__parse_connector_list(body, strlen(body), &cl, &err), 0);
    assert_int_equal(cl.len, 2);
    assert_string_equal(cl.next_token, "abc");
    ccf_client_connector_list_clear(&cl);

    body = "{\"jobs\":[]}";
    assert_int_equal(ccf_client__parse_job_list(body, strlen(body), &jl, &err), 0);
    assert_int_equal(jl.len, 0);
    assert_null(jl.next_token);
    ccf_client_job_list_clear(&jl);

    body = "{\"documents\":[{\"document_id\":\"a\",\"checksum\":\"c\",\"created_at\":\"" T0
           "\",\"updated_at\":\"" T0 "\"}]}";
    assert_int_equal(ccf_client__parse_document_list(body, strlen(body), &dl, &err), 0);
    assert_int_equal(dl.len, 1);
    assert_string_equal(dl.items[0].document_id, "a");
    ccf_client_document_list_clear(&dl);
}

static void test_parse_checkpoint(void **state)
{
    const char *body =
        "{\"checkpoint\":{\"connector_id\":\"" CID "\",\"checkpoint_data\":\"a\\u0000"
        "\\u00e9\",\"created_at\":\"" T0 "\",\"updated_at\":\"" T0 "\"}}";
    struct ccf_client_checkpoint cp = {0};
    struct ccf_client_error err;

    (void)state;
    assert_int_equal(ccf_client__parse_checkpoint_response(body, strlen(body), &cp, &err), 0);
    assert_int_equal(cp.data_len, 4);
    assert_memory_equal(cp.data, "a\0\xc3\xa9", 4);
    ccf_client_checkpoint_clear(&cp);
    assert_int_equal(ccf_client__parse_empty_response("", 0, &err), 0);
    assert_int_equal(ccf_client__parse_empty_response("{}", 2, &err), 0);
    assert_int_equal(ccf_client__parse_empty_response("{", 1, &err), CCF_CLIENT_EPROTO);
}

/* Every parser on every malformed body: CCF_CLIENT_EPROTO and a message. */
static void parse_all_fail(const char *body)
{
    struct ccf_client_connector c;
    struct ccf_client_job j;
    struct ccf_client_checkpoint cp;
    struct ccf_client_connector_list cl;
    struct ccf_client_job_list jl;
    struct ccf_client_document_list dl;
    struct ccf_client_error err;
    size_t len = strlen(body);

    memset(&err, 0, sizeof(err));
    assert_int_equal(ccf_client__parse_connector_response(body, len, true, &c, &err),
                     CCF_CLIENT_EPROTO);
    assert_string_equal(err.error_type, "InvalidResponseError");
    assert_true(err.message[0] != '\0');
    assert_int_equal(ccf_client__parse_job_response(body, len, &j, &err), CCF_CLIENT_EPROTO);
    assert_int_equal(ccf_client__parse_checkpoint_response(body, len, &cp, &err),
                     CCF_CLIENT_EPROTO);
    assert_int_equal(ccf_client__parse_connector_list(body, len, &cl, &err), CCF_CLIENT_EPROTO);
    assert_int_equal(ccf_client__parse_job_list(body, len, &jl, &err), CCF_CLIENT_EPROTO);
    assert_int_equal(ccf_client__parse_document_list(body, len, &dl, &err), CCF_CLIENT_EPROTO);
}

static void test_parse_malformed(void **state)
{
    static const char *const bodies[] = {
        "",
        "not json",
        "[]",
        "null",
        "42",
        "\"string\"",
        "{}",
        "{\"connector\":[],\"job\":1,\"checkpoint\":\"x\",\"connectors\":{},\"jobs\":null,"
        "\"documents\":\"x\"}",
        "{\"connector\":{}, \"job\":{}, \"checkpoint\":{}, \"connectors\":[1], \"jobs\":[[]], "
        "\"documents\":[null]}",
        "{\"connector\":{\"connector_id\":5}, \"job\":{\"job_id\":true}, \"checkpoint\":"
        "{\"connector_id\":\"" CID "\"}, \"connectors\":[{\"connector_id\":\"x\"}], "
        "\"jobs\":[{}], \"documents\":[{\"document_id\":\"a\"}]}",
        "{\"connector\":" CONNECTOR_JSON ",\"container_properties\":{\"command\":\"sh\"}},"
        "\"jobs\":[" JOB_JSON "], \"next_token\":7}",
        "{\"connector\":" CONNECTOR_JSON ",\"container_properties\":{\"command\":[1]}},"
        "\"job\":{\"job_id\":\"" JID "\",\"connector_id\":\"" CID "\",\"status\":\"FAILED\","
        "\"created_at\":\"" T0 "\",\"updated_at\":\"" T0 "\",\"exit_code\":\"3\"},"
        "\"connectors\":[" CONNECTOR_JSON "}], \"next_token\":\"\"}",
        "{\"connector\":" CONNECTOR_JSON ",\"container_properties\":{\"environment\":[1]}},"
        "\"job\":{\"job_id\":\"" JID "\",\"connector_id\":\"" CID "\",\"status\":\"FAILED\","
        "\"created_at\":\"" T0 "\",\"updated_at\":\"" T0 "\",\"exit_code\":99999999999}}",
        "{\"connector\":" CONNECTOR_JSON ",\"container_properties\":{\"resource_requirements\":"
        "{\"cpu\":\"1\"}}}, \"job\":{\"job_id\":\"" JID "\",\"connector_id\":\"" CID
        "\",\"status\":\"FAILED\",\"created_at\":\"" T0 "\",\"updated_at\":\"" T0
        "\",\"exit_code\":1.0}}",
        "{\"connector\":" CONNECTOR_JSON ",\"container_properties\":{\"timeout\":-1}},"
        "\"job\":{\"job_id\":\"a\\u0000b\"}}",
        "{\"connector\":" CONNECTOR_JSON ",\"container_properties\":{\"environment\":"
        "[{\"name\":\"A\"}]}}, \"checkpoint\":{\"connector_id\":\"" CID "\",\"checkpoint_data\":"
        "5,\"created_at\":\"" T0 "\",\"updated_at\":\"" T0 "\"}}",
        "{\"connector\":" CONNECTOR_JSON ",\"container_properties\":{\"resource_requirements\":"
        "[]}}}",
        "{\"connector\":{\"connector_id\":\"" CID "\"", /* cut short */
        "{\"a\":\"\xff\xfe\"}",                         /* not UTF-8 */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        parse_all_fail(bodies[i]);
}

/* Deterministic mutations of valid answers: whatever comes back, the
 * parsers answer 0 or EPROTO and leak nothing (ASan checks). */
static void test_parse_fuzz(void **state)
{
    static const char *const seeds[] = {
        "{\"connector\":" CONNECTOR_JSON ",\"container_properties\":{\"resource_requirements\":"
        "{\"cpu\":1,\"memory\":2048},\"timeout\":3600,\"command\":[\"a\",\"b\"],\"environment\":"
        "[{\"name\":\"A\",\"value\":\"1\"}]}},\"job\":" JOB_JSON ",\"jobs\":[" JOB_JSON "],"
        "\"connectors\":[" CONNECTOR_JSON "}],\"next_token\":\"t\",\"documents\":[{"
        "\"document_id\":\"a\",\"checksum\":\"c\",\"created_at\":\"" T0 "\",\"updated_at\":\"" T0
        "\"}],\"checkpoint\":{\"connector_id\":\"" CID "\",\"checkpoint_data\":\"x\","
        "\"created_at\":\"" T0 "\",\"updated_at\":\"" T0 "\"}}",
    };
    static const char alphabet[] = "{}[]\",:0123456789.-eEtrufalsn\\u\x00\xff a";
    unsigned seed = 12345;

    (void)state;
    for (int it = 0; it < 20000; it++) {
        size_t len = strlen(seeds[0]);
        char *b = malloc(len + 1);
        struct ccf_client_connector c;
        struct ccf_client_job j;
        struct ccf_client_checkpoint cp;
        struct ccf_client_connector_list cl;
        struct ccf_client_job_list jl;
        struct ccf_client_document_list dl;
        struct ccf_client_error err;
        int rc;

        memcpy(b, seeds[0], len + 1);
        for (int k = 0; k < 1 + it % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            b[(seed >> 8) % len] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
        }
        if (it % 7 == 0)
            len = (seed >> 4) % len; /* cut short */
#define CHECK(call)                                                                                \
    rc = (call);                                                                                   \
    assert_true(rc == 0 || rc == CCF_CLIENT_EPROTO)
        CHECK(ccf_client__parse_connector_response(b, len, true, &c, &err));
        if (rc == 0)
            ccf_client_connector_clear(&c);
        CHECK(ccf_client__parse_job_response(b, len, &j, &err));
        if (rc == 0)
            ccf_client_job_clear(&j);
        CHECK(ccf_client__parse_checkpoint_response(b, len, &cp, &err));
        if (rc == 0)
            ccf_client_checkpoint_clear(&cp);
        CHECK(ccf_client__parse_connector_list(b, len, &cl, &err));
        if (rc == 0)
            ccf_client_connector_list_clear(&cl);
        CHECK(ccf_client__parse_job_list(b, len, &jl, &err));
        if (rc == 0)
            ccf_client_job_list_clear(&jl);
        CHECK(ccf_client__parse_document_list(b, len, &dl, &err));
        if (rc == 0)
            ccf_client_document_list_clear(&dl);
#undef CHECK
        free(b);
    }
}

/* ---- cursor pages (ListEvents, ListAuditEvents) ---- */

struct cursor_item {
    char *id;
    char *name; /* optional */
};

static int cursor_item_parse(const json_t *o, void *item, struct ccf_client_error *err)
{
    struct cursor_item *it = item;

    it->name = ccf_client__dup_member(o, "name"); /* before the check: cleared on failure */
    it->id = ccf_client__dup_member(o, "id");
    return it->id ? 0 : ccf_client__fail(err, CCF_CLIENT_EPROTO, "an item lacks its id");
}

static void cursor_item_clear(void *item)
{
    struct cursor_item *it = item;

    free(it->id);
    free(it->name);
}

static const struct ccf_client__cursor_list cursor_items = {
    .key = "items",
    .not_ours = "not a ListItems answer",
    .item_size = sizeof(struct cursor_item),
    .parse_item = cursor_item_parse,
    .clear_item = cursor_item_clear,
};

static int cursor_parse(const char *body, struct ccf_client__cursor_page *p,
                        struct ccf_client_error *err)
{
    memset(err, 0, sizeof(*err));
    return ccf_client__parse_cursor_page(body, strlen(body), &cursor_items, p, err);
}

static void test_parse_cursor_page(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"items\":[]}",
        "{\"items\":{},\"next_cursor\":\"c\"}",
        "{\"items\":[],\"next_cursor\":7}",
        "{\"events\":[],\"next_cursor\":\"c\"}",
    };
    struct ccf_client__cursor_page p = {0};
    struct ccf_client_error err;
    struct cursor_item *it;

    (void)state;
    assert_int_equal(cursor_parse("{\"items\":[{\"id\":\"a\",\"name\":\"x\"},{\"id\":\"b\"}],"
                                  "\"next_cursor\":\"c2\"}",
                                  &p, &err),
                     0);
    it = p.items;
    assert_int_equal(p.len, 2);
    assert_string_equal(p.next_cursor, "c2");
    assert_string_equal(it[0].id, "a");
    assert_string_equal(it[0].name, "x");
    assert_string_equal(it[1].id, "b");
    assert_null(it[1].name);
    ccf_client__cursor_page_clear(&cursor_items, &p);
    assert_null(p.items);
    assert_int_equal(p.len, 0);
    /* An empty page still says where to read on from. */
    assert_int_equal(cursor_parse("{\"items\":[],\"next_cursor\":\"c3\"}", &p, &err), 0);
    assert_int_equal(p.len, 0);
    assert_string_equal(p.next_cursor, "c3");
    ccf_client__cursor_page_clear(&cursor_items, &p);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cursor_parse(bad[i], &p, &err), CCF_CLIENT_EPROTO);
        assert_string_equal(err.message, "not a ListItems answer");
        assert_null(p.items); /* untouched on failure */
    }
    /* A bad item fails the page; what the items before it, and the bad one
     * itself, hold is freed (ASan's leak check). */
    assert_int_equal(cursor_parse("{\"items\":[{\"id\":\"a\"},{\"name\":\"n\"},{\"id\":\"c\"}],"
                                  "\"next_cursor\":\"c\"}",
                                  &p, &err),
                     CCF_CLIENT_EPROTO);
    assert_string_equal(err.message, "an item lacks its id");
    assert_null(p.items);
}

static void test_http_error(void **state)
{
    struct ccf_client__resp r = {0};
    struct ccf_client_error err;
    char body[] = "{\"message\":\"Connector " CID " not found\",\"errorType\":"
                  "\"ResourceNotFoundException\"}";
    char evil[] = "{\"message\":\"a\\u001b[31mb\\n\\u0085c\",\"errorType\":\"X\\u0007\"}";
    char notjson[] = "<html>bad gateway</html>";

    (void)state;
    r.status = 404;
    r.body = body;
    r.len = strlen(body);
    snprintf(r.request_id, sizeof(r.request_id), "req-1");
    assert_int_equal(ccf_client__http_error(&r, &err), CCF_CLIENT_EAPI);
    assert_int_equal(err.code, CCF_CLIENT_EAPI);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.error_type, "ResourceNotFoundException");
    assert_string_equal(err.message, "Connector " CID " not found");
    assert_string_equal(err.request_id, "req-1");

    /* A hostile message cannot drive the terminal. */
    r.body = evil;
    r.len = strlen(evil);
    assert_int_equal(ccf_client__http_error(&r, &err), CCF_CLIENT_EAPI);
    assert_string_equal(err.message, "a?[31mb??c");
    assert_string_equal(err.error_type, "X?");

    r.status = 502;
    r.body = notjson;
    r.len = strlen(notjson);
    assert_int_equal(ccf_client__http_error(&r, &err), CCF_CLIENT_EAPI);
    assert_string_equal(err.error_type, "HttpError");
    assert_non_null(strstr(err.message, "502"));
    snprintf(r.error_type, sizeof(r.error_type), "ThrottlingException");
    r.status = 429;
    r.body = NULL;
    r.len = 0;
    assert_int_equal(ccf_client__http_error(&r, &err), CCF_CLIENT_EAPI);
    assert_string_equal(err.error_type, "ThrottlingException");
}

static void test_copy_clean(void **state)
{
    char dst[6];

    (void)state;
    ccf_client__copy_clean(dst, sizeof(dst), "ab\tc", 4);
    assert_string_equal(dst, "ab?c");
    /* "\xc3\xa9" does not fit after "abcd": cut before it, never inside. */
    ccf_client__copy_clean(dst, sizeof(dst), "abcd\xc3\xa9", 6);
    assert_string_equal(dst, "abcd");
    ccf_client__copy_clean(dst, sizeof(dst), "a\xff\xc3", 3);
    assert_string_equal(dst, "a?");
    ccf_client__copy_clean(dst, sizeof(dst), "", 0);
    assert_string_equal(dst, "");
}

static void header(struct ccf_client__resp *r, const char *line)
{
    ccf_client__resp_header(r, line, strlen(line));
}

static void test_resp_headers(void **state)
{
    struct ccf_client__resp r = {0};

    (void)state;
    ccf_client__resp_reset(&r);
    assert_int_equal(r.retry_after, -1);
    header(&r, "x-amzn-requestid: abc-123 \r\n");
    header(&r, "X-Amzn-ErrorType: ConflictException\r\n");
    header(&r, "x-ccf-log-size: 1234\r\n");
    header(&r, "x-ccf-job-status: RUNNING\r\n");
    header(&r, "x-ccf-log-truncated: 10\r\n");
    header(&r, "Retry-After: 3600\r\n");
    header(&r, "x-amzn-requestidx: no\r\n");
    assert_string_equal(r.request_id, "abc-123");
    assert_string_equal(r.error_type, "ConflictException");
    assert_true(r.has_log_size);
    assert_int_equal(r.log_size, 1234);
    assert_string_equal(r.job_status, "RUNNING");
    assert_int_equal(r.log_dropped, 10);
    assert_int_equal(r.retry_after, 10); /* capped */
    header(&r, "x-ccf-log-size: 12x\r\n");
    assert_false(r.has_log_size);
    header(&r, "x-ccf-log-truncated: -5\r\n");
    assert_int_equal(r.log_dropped, -1);
    /* A new status line (after 100 Continue) starts over. */
    header(&r, "HTTP/1.1 200 OK\r\n");
    assert_string_equal(r.request_id, "");
    assert_false(r.has_log_size);
    ccf_client__resp_clear(&r);
}

static void test_parse_logs(void **state)
{
    struct ccf_client__resp r = {0};
    struct ccf_client_log_chunk l = {0};
    struct ccf_client_error err;
    char data[] = "hello";

    (void)state;
    ccf_client__resp_reset(&r);
    r.body = data;
    r.len = 5;
    assert_int_equal(ccf_client__parse_logs(&r, 0, &l, &err), CCF_CLIENT_EPROTO);
    r.has_log_size = true;
    r.log_size = 5;
    assert_int_equal(ccf_client__parse_logs(&r, 0, &l, &err), CCF_CLIENT_EPROTO); /* no status */
    snprintf(r.job_status, sizeof(r.job_status), "SUCCEEDED");
    assert_int_equal(ccf_client__parse_logs(&r, 0, &l, &err), 0);
    assert_int_equal(l.start, 0);
    assert_int_equal(l.len, 5);
    assert_string_equal(l.data, "hello");
    assert_string_equal(l.job_status, "SUCCEEDED");
    ccf_client_log_chunk_clear(&l);
    /* A tail: 5 bytes before the end of a 100-byte log start at 95. */
    r.log_size = 100;
    assert_int_equal(ccf_client__parse_logs(&r, -5, &l, &err), 0);
    assert_int_equal(l.start, 95);
    ccf_client_log_chunk_clear(&l);
    /* The server keeps bytes from 90 on: an offset of 10 reads from 90. */
    r.log_dropped = 90;
    assert_int_equal(ccf_client__parse_logs(&r, 10, &l, &err), 0);
    assert_int_equal(l.start, 90);
    assert_int_equal(l.dropped, 90);
    ccf_client_log_chunk_clear(&l);
    /* More bytes than the log holds from there. */
    assert_int_equal(ccf_client__parse_logs(&r, 98, &l, &err), CCF_CLIENT_EPROTO);
    r.log_dropped = -1;
    assert_int_equal(ccf_client__parse_logs(&r, 0, &l, &err), CCF_CLIENT_EPROTO);
    r.body = NULL;
}

/* ---- credentials ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_credentials_parse(void **state)
{
    const char *text = "# ccf credentials\n"
                       "\n"
                       "[AKIAFIRST0000000000]\n"
                       "secret_access_key = s3cr3t/with+chars=\n"
                       "account_id = 123456789012\n"
                       "connector_id = cc-0123456789ab\n"
                       "; another comment\n"
                       "[  AKIASECOND000000000 ]\r\n"
                       "secret_access_key=second\r\n"
                       "session_token = tok\r\n";
    struct ccf_client_credentials c;
    struct ccf_client_error err;

    (void)state;
    assert_int_equal(ccf_client__credentials_parse(text, "f", NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIAFIRST0000000000");
    assert_string_equal(c.secret_access_key, "s3cr3t/with+chars=");
    assert_string_equal(c.account_id, "123456789012");
    assert_string_equal(c.session_token, "");
    assert_string_equal(c.source, "file f");
    assert_int_equal(ccf_client__credentials_parse(text, "f", "AKIASECOND000000000", &c, &err), 0);
    assert_string_equal(c.secret_access_key, "second");
    assert_string_equal(c.session_token, "tok");
    assert_int_equal(ccf_client__credentials_parse(text, "f", "AKIANONE", &c, &err),
                     CCF_CLIENT_ENOTFOUND);
    assert_int_equal(ccf_client__credentials_parse("# empty\n", "f", NULL, &c, &err),
                     CCF_CLIENT_ENOTFOUND);
    assert_int_equal(ccf_client__credentials_parse("[K]\naccount_id = 1\n", "f", NULL, &c, &err),
                     CCF_CLIENT_EINVAL);
    assert_string_equal(err.error_type, "CredentialsError");
    assert_int_equal(ccf_client__credentials_parse("secret_access_key = x\n", "f", NULL, &c, &err),
                     CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "f:1:"));
    assert_int_equal(ccf_client__credentials_parse("[K]\nnonsense\n", "f", NULL, &c, &err),
                     CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "f:2:"));
    assert_int_equal(ccf_client__credentials_parse("[K\n", "f", NULL, &c, &err), CCF_CLIENT_EINVAL);
}

/* No AWS_* or CCF_* variable, and HOME at dir (no ~/.aws of the machine's). */
static void clean_env(const char *home)
{
    static const char *const vars[] = {"AWS_ACCESS_KEY_ID",           "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",           "AWS_PROFILE",
                                       "AWS_SHARED_CREDENTIALS_FILE", "CCF_CREDENTIALS_FILE"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("HOME", home, 1);
}

static void test_shared_parse(void **state)
{
    const char *text = "# ~/.aws/credentials\n"
                       "[default]\n"
                       "aws_access_key_id = AKIADEFAULT000000000\n"
                       "aws_secret_access_key = def/secret+key=\n"
                       "; a comment\n"
                       "\n"
                       "[dev]\r\n"
                       "AWS_ACCESS_KEY_ID=AKIADEV0000000000000\r\n"
                       "aws_secret_access_key=devsecret\r\n"
                       "aws_session_token = devtoken\r\n"
                       "region = eu-west-1\n"
                       "[half]\n"
                       "aws_access_key_id = AKIAHALF000000000000\n"
                       "[empty]\n";
    struct ccf_client_credentials c;
    struct ccf_client_error err;

    (void)state;
    assert_int_equal(ccf_client__shared_parse(text, "f", "default", &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIADEFAULT000000000");
    assert_string_equal(c.secret_access_key, "def/secret+key=");
    assert_string_equal(c.session_token, "");
    assert_string_equal(c.source, "profile default");
    assert_int_equal(ccf_client__shared_parse(text, "f", "dev", &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIADEV0000000000000");
    assert_string_equal(c.secret_access_key, "devsecret");
    assert_string_equal(c.session_token, "devtoken");
    assert_int_equal(ccf_client__shared_parse(text, "f", "nope", &c, &err), CCF_CLIENT_ENOTFOUND);
    assert_int_equal(ccf_client__shared_parse(text, "f", "half", &c, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "profile [half] needs both"));
    assert_string_equal(err.error_type, "CredentialsError");
    assert_int_equal(ccf_client__shared_parse(text, "f", "empty", &c, &err), CCF_CLIENT_EINVAL);
    assert_int_equal(
        ccf_client__shared_parse("[default]\nno equals sign\n", "f", "default", &c, &err),
        CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "f:2:"));
    assert_int_equal(
        ccf_client__shared_parse("aws_access_key_id = x\n[default]\n", "f", "default", &c, &err),
        CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "f:1:"));
}

/* An STS session token is a line of 400 to over 1,000 bytes (libinih, as
 * Debian builds it, cut it at 200); "key: value", a ':' inside a value,
 * and indented continuation lines, as configparser reads them. */
static void test_shared_parse_long_lines(void **state)
{
    static char text[4096], token[1801];
    struct ccf_client_credentials c;
    struct ccf_client_error err;

    (void)state;
    memset(token, 'T', sizeof(token) - 1);
    token[0] = 'F';
    token[sizeof(token) - 2] = 'Z';
    snprintf(text, sizeof(text),
             "[default]\n"
             "aws_access_key_id: AKIACOLON00000000000\n"
             "aws_secret_access_key = with:colon=and;semi\n"
             "aws_session_token = %s\n"
             "s3 =\n"
             "    max_concurrent_requests = 20\n"
             "[next]\n"
             "aws_access_key_id = AKIANEXT000000000000\n",
             token);
    assert_int_equal(ccf_client__shared_parse(text, "f", "default", &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIACOLON00000000000");
    assert_string_equal(c.secret_access_key, "with:colon=and;semi");
    assert_string_equal(c.session_token, token);
    /* Longer than the library keeps (CCF_CLIENT_TOKEN_MAX): an error, not a cut token. */
    snprintf(text, sizeof(text),
             "[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
             "aws_session_token = %s%s\n",
             token, token);
    assert_int_equal(ccf_client__shared_parse(text, "f", "default", &c, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "too long"));
}

/* Precedence, each source beating the next: the AWS_* keys, the shared
 * file (AWS_PROFILE, or default), CCF_CREDENTIALS_FILE, ./var/credentials;
 * and, with none, an error that lists where it looked. */
static void test_credentials_chain(void **state)
{
    char dir[] = "/tmp/ccf-test-chain-XXXXXX", old[4096], aws[64], shared[96], other[96];
    char ccf[96], var[64], local[96];
    struct ccf_client_credentials c;
    struct ccf_client_error err;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(old, sizeof(old)));
    assert_int_equal(chdir(dir), 0);
    clean_env(dir);
    snprintf(aws, sizeof(aws), "%s/.aws", dir);
    snprintf(shared, sizeof(shared), "%s/credentials", aws);
    snprintf(other, sizeof(other), "%s/other", dir);
    snprintf(ccf, sizeof(ccf), "%s/ccf", dir);
    snprintf(var, sizeof(var), "%s/var", dir);
    snprintf(local, sizeof(local), "%s/credentials", var);

    /* Nothing anywhere: not found, and the message names every place. */
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), CCF_CLIENT_ENOTFOUND);
    assert_string_equal(err.error_type, "CredentialsError");
    assert_non_null(strstr(err.message, "no credentials found; looked in: "));
    assert_non_null(strstr(err.message, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (not set)"));
    assert_non_null(strstr(err.message, "/.aws/credentials (no such file)"));
    assert_non_null(strstr(err.message, "CCF_CREDENTIALS_FILE (not set)"));
    assert_non_null(strstr(err.message, "./var/credentials (no such file)"));

    /* Each source, then the one before it on top. */
    assert_int_equal(mkdir(var, 0700), 0);
    write_file(local, "[AKIALOCAL00000000000]\nsecret_access_key = local\n");
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIALOCAL00000000000");
    write_file(ccf, "[AKIACCF0000000000000]\nsecret_access_key = ccf\n");
    setenv("CCF_CREDENTIALS_FILE", ccf, 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIACCF0000000000000");
    assert_int_equal(mkdir(aws, 0700), 0);
    write_file(shared, "[default]\naws_access_key_id = AKIADEFAULT000000000\n"
                       "aws_secret_access_key = default\n"
                       "[dev]\naws_access_key_id = AKIADEV0000000000000\n"
                       "aws_secret_access_key = dev\naws_session_token = devtoken\n");
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIADEFAULT000000000");
    assert_string_equal(c.source, "profile default");
    setenv("AWS_PROFILE", "dev", 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIADEV0000000000000");
    assert_string_equal(c.session_token, "devtoken");
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000000000000", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env", 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIAENV0000000000000");
    /* An explicit profile (--profile) outranks the AWS_* keys. */
    assert_int_equal(ccf_client_credentials_default("default", NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIADEFAULT000000000");
    /* A key id picks the source that holds it. */
    assert_int_equal(ccf_client_credentials_default(NULL, "AKIALOCAL00000000000", &c, &err),
                     CCF_CLIENT_ENOTFOUND); /* CCF_CREDENTIALS_FILE hides ./var/credentials */
    assert_non_null(strstr(err.message, "no secret access key for AKIALOCAL00000000000"));
    assert_int_equal(ccf_client_credentials_default(NULL, "AKIACCF0000000000000", &c, &err), 0);
    assert_string_equal(c.secret_access_key, "ccf");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    /* A named profile must exist: no falling through to another key. */
    setenv("AWS_PROFILE", "nope", 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "no profile [nope] (named by AWS_PROFILE)"));
    assert_int_equal(ccf_client_credentials_default("gone", NULL, &c, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "no profile [gone] (named by --profile)"));
    unsetenv("AWS_PROFILE");

    /* AWS_SHARED_CREDENTIALS_FILE moves the shared file; an absent one is
     * passed over, as by the AWS tools. */
    write_file(other, "[default]\naws_access_key_id = AKIAOTHER00000000000\n"
                      "aws_secret_access_key = other\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", other, 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIAOTHER00000000000");
    unlink(other);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIACCF0000000000000");

    /* A broken profile is an error, not a reason to look further. */
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    write_file(shared, "[default]\naws_access_key_id = AKIAHALF000000000000\n");
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "needs both"));

    unlink(shared);
    rmdir(aws);
    unlink(ccf);
    unlink(local);
    rmdir(var);
    assert_int_equal(chdir(old), 0);
    rmdir(dir);
    clean_env("/nonexistent");
}

static void test_credentials_sources(void **state)
{
    char dir[] = "/tmp/ccf-test-client-XXXXXX", path[128], missing[160];
    struct ccf_client_credentials c;
    struct ccf_client_error err;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/credentials", dir);
    snprintf(missing, sizeof(missing), "%s/none", dir);
    write_file(path, "[AKIAFILE00000000000]\nsecret_access_key = filesecret\n");
    clean_env(dir);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");

    assert_int_equal(ccf_client_credentials_from_file(path, NULL, &c, &err), 0);
    assert_string_equal(c.secret_access_key, "filesecret");
    assert_int_equal(ccf_client_credentials_from_file(missing, NULL, &c, &err),
                     CCF_CLIENT_ENOTFOUND);

    /* The environment first, then CCF_CREDENTIALS_FILE. */
    setenv("CCF_CREDENTIALS_FILE", path, 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIAFILE00000000000");
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV000000000000", 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "AWS_SECRET_ACCESS_KEY"));
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), 0);
    assert_string_equal(c.access_key_id, "AKIAENV000000000000");
    assert_string_equal(c.session_token, "envtoken");
    assert_string_equal(c.source, "environment");
    /* Asking for another key skips the environment's. */
    assert_int_equal(ccf_client_credentials_default(NULL, "AKIAFILE00000000000", &c, &err), 0);
    assert_string_equal(c.secret_access_key, "filesecret");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");

    /* A file named by CCF_CREDENTIALS_FILE must exist. */
    setenv("CCF_CREDENTIALS_FILE", missing, 1);
    assert_int_equal(ccf_client_credentials_default(NULL, NULL, &c, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "CCF_CREDENTIALS_FILE"));
    unsetenv("CCF_CREDENTIALS_FILE");

    unlink(path);
    rmdir(dir);
}

/* ---- the handle ---- */

static void test_client_config(void **state)
{
    struct ccf_client_config cfg = {0};
    struct ccf_client_error err;
    struct ccf_client *c = NULL;

    (void)state;
    assert_int_equal(ccf_client_create(&c, &cfg, &err), 0);
    assert_false(ccf_client_signed(c));
    assert_int_equal(ccf_client_last_error(c)->code, 0);
    ccf_client_destroy(c);
    ccf_client_destroy(NULL);

    cfg.endpoint = "ftp://x";
    assert_int_equal(ccf_client_create(&c, &cfg, &err), CCF_CLIENT_EINVAL);
    cfg.endpoint = "http://x/?q";
    assert_int_equal(ccf_client_create(&c, &cfg, &err), CCF_CLIENT_EINVAL);
    cfg.endpoint = "http://127.0.0.1:8787/";
    cfg.access_key_id = "AKIAEXAMPLE0000000";
    assert_int_equal(ccf_client_create(&c, &cfg, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "secret"));
    cfg.secret_access_key = "secret";
    cfg.region = "us east";
    assert_int_equal(ccf_client_create(&c, &cfg, &err), CCF_CLIENT_EINVAL);
    cfg.region = "eu-west-1";
    cfg.session_token = "token\nInjected: x";
    assert_int_equal(ccf_client_create(&c, &cfg, &err), CCF_CLIENT_EINVAL);
    cfg.session_token = "token";
    assert_int_equal(ccf_client_create(&c, &cfg, &err), 0);
    assert_true(ccf_client_signed(c));
    ccf_client_destroy(c);
}

/* --ca-bundle / AWS_CA_BUNDLE: a bundle that cannot be read is refused at
 * once, naming the file, rather than at the first request; the config's
 * beats the environment's. */
static void test_client_ca_bundle(void **state)
{
    struct ccf_client_config cfg = {.endpoint = "https://127.0.0.1:8787"};
    struct ccf_client_error err;
    struct ccf_client *c = NULL;
    char dir[] = "/tmp/ccf-test-ca-XXXXXX", path[64];
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    cfg.ca_bundle = path;
    assert_int_equal(ccf_client_create(&c, &cfg, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, path));
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\n", f);
    fclose(f);
    assert_int_equal(ccf_client_create(&c, &cfg, &err), 0);
    ccf_client_destroy(c);

    cfg.ca_bundle = NULL;
    setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem", 1);
    assert_int_equal(ccf_client_create(&c, &cfg, &err), CCF_CLIENT_EINVAL);
    assert_non_null(strstr(err.message, "/nonexistent/ca.pem"));
    cfg.ca_bundle = path; /* the config's wins */
    assert_int_equal(ccf_client_create(&c, &cfg, &err), 0);
    ccf_client_destroy(c);
    unsetenv("AWS_CA_BUNDLE");
    unlink(path);
    rmdir(dir);
}

/* Nothing listens on port 1: a connection error, not a crash or a hang. */
static void test_connection_refused(void **state)
{
    struct ccf_client_config cfg = {.endpoint = "http://127.0.0.1:1", .timeout_ms = 5000};
    struct ccf_client_connector out = {0};
    struct ccf_client *c = NULL;

    (void)state;
    assert_int_equal(ccf_client_create(&c, &cfg, NULL), 0);
    assert_int_equal(ccf_client_get_connector(c, CID, &out), CCF_CLIENT_ETRANSPORT);
    assert_string_equal(ccf_client_last_error(c)->error_type, "ConnectionError");
    assert_int_equal(ccf_client_last_error(c)->http_status, 0);
    /* curl's own detail, not only its code's text. */
    assert_non_null(strstr(ccf_client_last_error(c)->message, "port 1"));
    /* Invalid arguments fail before anything is sent. */
    assert_int_equal(ccf_client_get_connector(c, "", &out), CCF_CLIENT_EINVAL);
    assert_int_equal(ccf_client_put_documents(c, CID, NULL, 0), CCF_CLIENT_EINVAL);
    ccf_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_query_sorted),
        cmocka_unit_test(test_build_paths),
        cmocka_unit_test(test_build_create),
        cmocka_unit_test(test_build_update),
        cmocka_unit_test(test_build_jobs_and_data),
        cmocka_unit_test(test_parse_connector),
        cmocka_unit_test(test_parse_job_and_lists),
        cmocka_unit_test(test_parse_checkpoint),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_fuzz),
        cmocka_unit_test(test_parse_cursor_page),
        cmocka_unit_test(test_http_error),
        cmocka_unit_test(test_copy_clean),
        cmocka_unit_test(test_resp_headers),
        cmocka_unit_test(test_parse_logs),
        cmocka_unit_test(test_credentials_parse),
        cmocka_unit_test(test_credentials_sources),
        cmocka_unit_test(test_shared_parse),
        cmocka_unit_test(test_shared_parse_long_lines),
        cmocka_unit_test(test_credentials_chain),
        cmocka_unit_test(test_client_config),
        cmocka_unit_test(test_client_ca_bundle),
        cmocka_unit_test(test_connection_refused),
    };

    ccf_client_global_init();
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
