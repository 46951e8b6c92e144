/* test_aws.c: the signed AWS JSON request helper (aws/aws.h): the
 * endpoint and credentials from the environment, the decoding of AWS's
 * answers (error types with and without a "namespace#" prefix, message and
 * Message, bodies that are not JSON, 5xx without a body, throttling), and
 * whole calls against a one-shot HTTP server on loopback (what is sent,
 * what is read back, the bound on the answer, no server at all). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "aws/aws.h"
#include "core/core.h"

/* ---- decoding ---- */

static int decode(struct aws_answer *ans, long status, const char *body, const char *header)
{
    memset(ans, 0, sizeof(*ans));
    return aws_answer_decode(ans, status, body, body ? strlen(body) : 0, header);
}

static void test_decode_success(void **state)
{
    struct aws_answer ans;

    (void)state;
    assert_int_equal(decode(&ans, 200, "{\"jobId\":\"1\"}", NULL), 0);
    assert_true(json_is_object(ans.json));
    assert_string_equal(ans.type, "");
    assert_string_equal(ans.error, "");
    aws_answer_clear(&ans);
    /* A 2xx whose body is not JSON (or empty) is still a success: the caller
     * decides whether it needed one. */
    assert_int_equal(decode(&ans, 200, "<html>", NULL), 0);
    assert_null(ans.json);
    aws_answer_clear(&ans);
    assert_int_equal(decode(&ans, 204, NULL, NULL), 0);
    assert_null(ans.json);
    assert_int_equal(ans.status, 204);
    aws_answer_clear(&ans);
}

static void test_decode_type_with_and_without_prefix(void **state)
{
    struct aws_answer ans;

    (void)state;
    /* DynamoDB's JSON protocol: a namespace before '#'. */
    assert_int_equal(decode(&ans, 400,
                            "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
                            "ConditionalCheckFailedException\",\"message\":\"The conditional "
                            "request failed\"}",
                            NULL),
                     CCF_EINVAL);
    assert_string_equal(ans.type, "ConditionalCheckFailedException");
    assert_string_equal(ans.message, "The conditional request failed");
    assert_string_equal(ans.error, "HTTP 400: The conditional request failed");
    aws_answer_clear(&ans);
    /* rest-json (Batch, Scheduler): the bare name, and Message. */
    assert_int_equal(decode(&ans, 404,
                            "{\"__type\":\"ResourceNotFoundException\",\"Message\":\"Schedule x "
                            "does not exist.\"}",
                            NULL),
                     CCF_EINVAL);
    assert_int_equal(ans.status, 404);
    assert_string_equal(ans.type, "ResourceNotFoundException");
    assert_string_equal(ans.message, "Schedule x does not exist.");
    aws_answer_clear(&ans);
    /* message wins over Message when both are there. */
    assert_int_equal(
        decode(&ans, 400, "{\"__type\":\"X\",\"Message\":\"big\",\"message\":\"small\"}", NULL),
        CCF_EINVAL);
    assert_string_equal(ans.message, "small");
    aws_answer_clear(&ans);
}

static void test_decode_type_from_code_or_header(void **state)
{
    struct aws_answer ans;

    (void)state;
    assert_int_equal(decode(&ans, 400, "{\"code\":\"ClientException\",\"message\":\"m\"}", NULL),
                     CCF_EINVAL);
    assert_string_equal(ans.type, "ClientException");
    aws_answer_clear(&ans);
    /* No type in the body: x-amzn-ErrorType's, without its ":URL" tail. */
    assert_int_equal(decode(&ans, 400, "{\"message\":\"m\"}",
                            "ValidationException:http://internal.amazon.com/coral/"),
                     CCF_EINVAL);
    assert_string_equal(ans.type, "ValidationException");
    aws_answer_clear(&ans);
    /* The body's type wins over the header's. */
    assert_int_equal(decode(&ans, 409, "{\"__type\":\"ConflictException\"}", "Other"), CCF_EINVAL);
    assert_string_equal(ans.type, "ConflictException");
    assert_string_equal(ans.error, "HTTP 409: no message");
    aws_answer_clear(&ans);
}

static void test_decode_not_json_and_empty(void **state)
{
    struct aws_answer ans;

    (void)state;
    assert_int_equal(decode(&ans, 403, "<AccessDenied/>", NULL), CCF_EINVAL);
    assert_null(ans.json);
    assert_string_equal(ans.type, "");
    assert_string_equal(ans.message, "");
    assert_string_equal(ans.error, "HTTP 403: no message");
    aws_answer_clear(&ans);
    /* A JSON body that is not an object, and fields of the wrong type. */
    assert_int_equal(decode(&ans, 400, "[\"__type\"]", NULL), CCF_EINVAL);
    assert_string_equal(ans.type, "");
    aws_answer_clear(&ans);
    assert_int_equal(decode(&ans, 400, "{\"__type\":7,\"message\":[1]}", NULL), CCF_EINVAL);
    assert_string_equal(ans.type, "");
    assert_string_equal(ans.error, "HTTP 400: no message");
    aws_answer_clear(&ans);
}

static void test_decode_unavailable(void **state)
{
    struct aws_answer ans;

    (void)state;
    assert_int_equal(decode(&ans, 503, NULL, NULL), CCF_EUNAVAIL);
    assert_null(ans.json);
    assert_string_equal(ans.error, "HTTP 503: no message");
    aws_answer_clear(&ans);
    assert_int_equal(decode(&ans, 500, "", NULL), CCF_EUNAVAIL);
    aws_answer_clear(&ans);
    assert_int_equal(decode(&ans, 429, "{\"__type\":\"TooManyRequestsException\"}", NULL),
                     CCF_EUNAVAIL);
    aws_answer_clear(&ans);
    /* DynamoDB throttles with 400 and a type. */
    assert_int_equal(decode(&ans, 400,
                            "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
                            "ProvisionedThroughputExceededException\"}",
                            NULL),
                     CCF_EUNAVAIL);
    aws_answer_clear(&ans);
    assert_int_equal(decode(&ans, 400, "{\"__type\":\"ThrottlingException\"}", NULL), CCF_EUNAVAIL);
    aws_answer_clear(&ans);
}

static void test_decode_hostile_text_is_printable_and_bounded(void **state)
{
    struct aws_answer ans;
    char body[4096], type[1024];

    (void)state;
    assert_int_equal(
        decode(&ans, 400, "{\"__type\":\"A\\nB\",\"message\":\"line\\r\\nnext\\u00e9\"}", NULL),
        CCF_EINVAL);
    assert_string_equal(ans.type, "A?B");
    assert_string_equal(ans.message, "line??next??");
    aws_answer_clear(&ans);
    memset(type, 'T', sizeof(type) - 1);
    type[sizeof(type) - 1] = '\0';
    snprintf(body, sizeof(body), "{\"__type\":\"%s\",\"message\":\"%s%s\"}", type, type, type);
    assert_int_equal(decode(&ans, 400, body, NULL), CCF_EINVAL);
    assert_int_equal(strlen(ans.type), AWS_TYPE_MAX);
    assert_int_equal(strlen(ans.message), AWS_MESSAGE_MAX);
    aws_answer_clear(&ans);
}

/* ---- the endpoint ---- */

static void clear_env(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_TESTSVC");
}

static void test_endpoint_from_env(void **state)
{
    struct aws_endpoint ep;
    char err[256] = "";

    (void)state;
    clear_env();
    assert_int_equal(aws_endpoint_init(&ep, "testsvc", "eu-west-1", "AWS_ENDPOINT_URL_TESTSVC", err,
                                       sizeof(err)),
                     CCF_EINVAL);
    assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID"));
    setenv("AWS_ACCESS_KEY_ID", "AKID:X", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    assert_int_equal(aws_endpoint_init(&ep, "testsvc", "eu-west-1", NULL, err, sizeof(err)),
                     CCF_EINVAL); /* ':' would split libcurl's user:password */
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    assert_int_equal(aws_endpoint_init(&ep, "testsvc", "eu-west-1", "AWS_ENDPOINT_URL_TESTSVC", err,
                                       sizeof(err)),
                     0);
    assert_string_equal(ep.url, "https://testsvc.eu-west-1.amazonaws.com");
    assert_string_equal(ep.token, "");
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9/", 1);
    assert_int_equal(aws_endpoint_init(&ep, "testsvc", "eu-west-1", "AWS_ENDPOINT_URL_TESTSVC", err,
                                       sizeof(err)),
                     0);
    assert_string_equal(ep.url, "http://127.0.0.1:9");
    assert_string_equal(ep.token, "tok");
    setenv("AWS_ENDPOINT_URL_TESTSVC", "http://localhost:8//", 1);
    assert_int_equal(aws_endpoint_init(&ep, "testsvc", "eu-west-1", "AWS_ENDPOINT_URL_TESTSVC", err,
                                       sizeof(err)),
                     0);
    assert_string_equal(ep.url, "http://localhost:8");
    assert_string_equal(ep.service, "testsvc");
    assert_string_equal(ep.region, "eu-west-1");
    clear_env();
}

/* ---- whole calls against a one-shot server ---- */

struct server {
    int fd;
    const char *reply; /* the whole HTTP answer */
    size_t reply_len;
    int rounds;          /* requests answered on the one connection accepted */
    char request[16384]; /* what came last, headers and body */
    pthread_t thread;
};

/* Reads one request (headers and a Content-Length body) from c. */
static void read_request(struct server *s, int c)
{
    size_t len = 0;
    ssize_t got;

    s->request[0] = '\0';
    while (len < sizeof(s->request) - 1 &&
           (got = read(c, s->request + len, sizeof(s->request) - 1 - len)) > 0) {
        const char *end, *cl;
        len += (size_t)got;
        s->request[len] = '\0';
        if (!(end = strstr(s->request, "\r\n\r\n")))
            continue;
        cl = strcasestr(s->request, "Content-Length:");
        if (!cl || (size_t)(end + 4 - s->request) + strtoul(cl + 15, NULL, 10) <= len)
            break;
    }
}

/* Accepts one connection, answers s->rounds requests on it, closes it. */
static void *serve(void *arg)
{
    struct server *s = arg;
    int c = accept(s->fd, NULL, NULL);

    if (c < 0)
        return NULL;
    for (int i = 0; i < s->rounds; i++) {
        read_request(s, c);
        for (size_t off = 0; off < s->reply_len;) {
            ssize_t w = send(c, s->reply + off, s->reply_len - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    close(c);
    return NULL;
}

static void server_start(struct server *s, const char *reply, size_t reply_len, int rounds,
                         struct aws_endpoint *ep)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);

    memset(s, 0, sizeof(*s));
    s->reply = reply;
    s->reply_len = reply_len;
    s->rounds = rounds;
    assert_true((s->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 1), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    memset(ep, 0, sizeof(*ep));
    snprintf(ep->url, sizeof(ep->url), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    snprintf(ep->service, sizeof(ep->service), "testsvc");
    snprintf(ep->region, sizeof(ep->region), "us-east-1");
    snprintf(ep->key_id, sizeof(ep->key_id), "AKIDEXAMPLE");
    snprintf(ep->secret, sizeof(ep->secret), "wJalrXUtnFEMI");
    snprintf(ep->token, sizeof(ep->token), "SESSIONTOKEN");
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static void test_call_sends_a_signed_request(void **state)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}";
    struct aws_request req = {.path = "/v1/op", .target = "Svc_1.Op", .body = "{\"a\":1}"};
    struct aws_answer ans;
    struct aws_endpoint ep;
    struct server s;

    (void)state;
    server_start(&s, reply, sizeof(reply) - 1, 1, &ep);
    assert_int_equal(aws_call(&ep, NULL, &req, &ans), 0);
    server_stop(&s);
    assert_int_equal(ans.status, 200);
    assert_true(json_is_true(json_object_get(ans.json, "ok")));
    aws_answer_clear(&ans);
    assert_non_null(strstr(s.request, "POST /v1/op HTTP/1.1\r\n"));
    assert_non_null(strcasestr(s.request, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strcasestr(s.request, "\r\nX-Amz-Target: Svc_1.Op\r\n"));
    assert_non_null(strcasestr(s.request, "\r\nX-Amz-Security-Token: SESSIONTOKEN\r\n"));
    assert_non_null(strstr(s.request, "Credential=AKIDEXAMPLE/"));
    assert_non_null(strstr(s.request, "/us-east-1/testsvc/aws4_request"));
    /* The token and the target are signed, not only sent. */
    assert_non_null(strstr(s.request, "x-amz-security-token"));
    assert_non_null(strstr(s.request, "x-amz-target"));
    assert_non_null(strstr(s.request, "\r\n\r\n{\"a\":1}"));
}

static void test_call_reads_an_error_with_a_kept_connection(void **state)
{
    static const char reply[] = "HTTP/1.1 404 Not Found\r\nx-amzn-ErrorType: "
                                "ResourceNotFoundException:http://x/\r\nContent-Length: 17\r\n"
                                "Connection: close\r\n\r\n{\"Message\":\"no\"}\n";
    struct aws_request req = {.method = "DELETE", .path = "/schedules/n?groupName=g"};
    struct aws_conn *conn = aws_conn_create();
    struct aws_answer ans;
    struct aws_endpoint ep;
    struct server s;

    (void)state;
    for (int i = 0; i < 2; i++) { /* the second call on the same handle starts clean */
        server_start(&s, reply, sizeof(reply) - 1, 1, &ep);
        assert_int_equal(aws_call(&ep, conn, &req, &ans), CCF_EINVAL);
        server_stop(&s);
        assert_int_equal(ans.status, 404);
        assert_string_equal(ans.type, "ResourceNotFoundException");
        assert_string_equal(ans.error, "HTTP 404: no");
        assert_non_null(strstr(s.request, "DELETE /schedules/n?groupName=g HTTP/1.1\r\n"));
        aws_answer_clear(&ans);
    }
    aws_conn_destroy(conn);
    aws_conn_destroy(NULL);
}

/* Two calls on one struct aws_conn go over one connection: the server
 * accepts only one (a second connection would never be answered and the
 * call would fail at its timeout). */
static void test_call_reuses_the_kept_connection(void **state)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: 2\r\n\r\n{}";
    struct aws_request req = {.path = "/v1/describejobs", .body = "{}", .timeout_ms = 10000};
    struct aws_conn *conn = aws_conn_create();
    struct aws_answer ans;
    struct aws_endpoint ep;
    struct server s;

    (void)state;
    server_start(&s, reply, sizeof(reply) - 1, 2, &ep);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(aws_call(&ep, conn, &req, &ans), 0);
        assert_true(json_is_object(ans.json));
        aws_answer_clear(&ans);
    }
    server_stop(&s);
    assert_non_null(strstr(s.request, "POST /v1/describejobs HTTP/1.1\r\n"));
    aws_conn_destroy(conn);
}

static void test_call_bounds_the_answer(void **state)
{
    char reply[512 + 128];
    struct aws_request req = {.path = "/", .body = "{}", .answer_max = 100};
    struct aws_answer ans;
    struct aws_endpoint ep;
    struct server s;
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 200 OK\r\nContent-Length: 512\r\nConnection: close\r\n\r\n");

    (void)state;
    memset(reply + n, ' ', 512);
    server_start(&s, reply, (size_t)n + 512, 1, &ep);
    assert_int_equal(aws_call(&ep, NULL, &req, &ans), CCF_EIO);
    server_stop(&s);
    assert_string_equal(ans.error, "answer over 100 bytes");
    assert_null(ans.json);
    aws_answer_clear(&ans);
}

static void test_call_without_a_server_is_unavailable(void **state)
{
    struct aws_request req = {.path = "/", .body = "{}", .timeout_ms = 5000};
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    struct aws_endpoint ep = {
        .service = "testsvc", .region = "us-east-1", .key_id = "A", .secret = "B"};
    struct aws_answer ans;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    /* A port that was just free: bound, then closed without listening. */
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    snprintf(ep.url, sizeof(ep.url), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    assert_int_equal(aws_call(&ep, NULL, &req, &ans), CCF_EUNAVAIL);
    assert_int_equal(ans.status, 0);
    assert_true(ans.error[0] != '\0');
    aws_answer_clear(&ans);
    /* Not http(s): refused by libcurl before any connection. */
    snprintf(ep.url, sizeof(ep.url), "file:///etc");
    assert_int_equal(aws_call(&ep, NULL, &req, &ans), CCF_EUNAVAIL);
    aws_answer_clear(&ans);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_success),
        cmocka_unit_test(test_decode_type_with_and_without_prefix),
        cmocka_unit_test(test_decode_type_from_code_or_header),
        cmocka_unit_test(test_decode_not_json_and_empty),
        cmocka_unit_test(test_decode_unavailable),
        cmocka_unit_test(test_decode_hostile_text_is_printable_and_bounded),
        cmocka_unit_test(test_endpoint_from_env),
        cmocka_unit_test(test_call_sends_a_signed_request),
        cmocka_unit_test(test_call_reads_an_error_with_a_kept_connection),
        cmocka_unit_test(test_call_reuses_the_kept_connection),
        cmocka_unit_test(test_call_bounds_the_answer),
        cmocka_unit_test(test_call_without_a_server_is_unavailable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
