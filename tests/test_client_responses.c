/* test_client_responses.c: libccf without a server: response parsing
 * (well-formed and malformed answers: an error, never a crash), cursor
 * pages, error answers, headers and logs. */
#include "client_fixture.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_connector),  cmocka_unit_test(test_parse_job_and_lists),
        cmocka_unit_test(test_parse_checkpoint), cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_fuzz),       cmocka_unit_test(test_parse_cursor_page),
        cmocka_unit_test(test_http_error),       cmocka_unit_test(test_copy_clean),
        cmocka_unit_test(test_resp_headers),     cmocka_unit_test(test_parse_logs),
    };

    ccf_client_global_init();
    return cmocka_run_group_tests_name("client-responses", tests, NULL, NULL);
}
