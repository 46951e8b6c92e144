/* test_auth_vectors.c: SigV4 canonicalisation and signing (src/auth) against
 * AWS's published vectors, and the verifier against requests that Debian's
 * botocore, curl and AWS CLI signed. The fixture is tests/auth_fixture.h;
 * refusals are in test_auth_refusals.c, the credentials files and per-job
 * keys in test_auth_keys.c.
 *
 * Sources of the published vectors (facts, not code):
 * - AWS General Reference, "Signature Version 4 test suite"
 *   https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html
 *   (aws-sig-v4-test-suite.zip: credentials AKIDEXAMPLE /
 *   wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, service "service",
 *   20150830T123600Z).
 * - AWS General Reference, the worked IAM ListUsers example:
 *   https://docs.aws.amazon.com/general/latest/gr/sigv4-create-canonical-request.html
 *   https://docs.aws.amazon.com/general/latest/gr/sigv4-create-string-to-sign.html
 *   https://docs.aws.amazon.com/general/latest/gr/sigv4-calculate-signature.html
 * The botocore vectors come from clients/botocore/sign_vectors.py (Debian's
 * python3-botocore 1.29.27 with the ccf model); the curl ones were captured
 * from curl 7.88.1 --aws-sigv4 "aws:amz:us-east-1:execute-api", the AWS CLI
 * ones from Debian 12's awscli 2.9.19, with a socket listener. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth_fixture.h"

/* ---- AWS's published vectors ---- */

struct wire {
    const char *what;
    const char *raw; /* request line, headers, blank line, body */
};

/* Splits w->raw into r (pointing into buf, which must outlive r): the
 * method, the target up to " HTTP/" (the suite has one with a space),
 * headers with the spaces after ':' dropped as a server does. *now gets the
 * instant of its X-Amz-Date. */
static void wire_rq(const struct wire *w, struct rq *r, char *buf, size_t cap, int64_t *now)
{
    char *line, *save = NULL, *sp, *proto;
    char *body = strstr(strcpy_checked(buf, cap, w->raw), "\n\n");

    memset(r, 0, sizeof(r[0]));
    assert_non_null(body);
    body[1] = '\0';
    r->body = body + 2;
    line = strtok_r(buf, "\n", &save);
    sp = strchr(line, ' ');
    proto = strstr(line, " HTTP/");
    assert_true(sp && proto && sp < proto);
    *sp = *proto = '\0';
    r->method = line;
    r->target = sp + 1;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *colon = strchr(line, ':'), *value;
        assert_non_null(colon);
        *colon = '\0';
        for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
            ;
        rq_add(r, line, value);
        if (strcasecmp(line, "X-Amz-Date") == 0)
            *now = epoch(value);
    }
}

/* The suite's .req files (request, then Host and X-Amz-Date, then the
 * case's own headers) with the signature of its .authz file. */
struct suite_case {
    const char *name;
    const char *req;
    const char *signature;
};

#define SUITE_REQ(line, headers, body) line "\n" SUITE_HEADERS headers "\n" body
#define SUITE_HEADERS                  "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n"

static const struct suite_case SUITE[] = {
    {"get-vanilla", SUITE_REQ("GET / HTTP/1.1", "", ""),
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-vanilla-query-order-key-case",
     SUITE_REQ("GET /?Param2=value2&Param1=value1 HTTP/1.1", "", ""),
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-utf8-query", SUITE_REQ("GET /?\xe1\x88\xb4=bar HTTP/1.1", "", ""),
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-vanilla-query-unreserved",
     SUITE_REQ("GET "
               "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
               "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1",
               "", ""),
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {"get-vanilla-empty-query-key", SUITE_REQ("GET /?Param1=value1 HTTP/1.1", "", ""),
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
    {"get-unreserved",
     SUITE_REQ("GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1",
               "", ""),
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-utf8", SUITE_REQ("GET /\xe1\x88\xb4 HTTP/1.1", "", ""),
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"normalize-path/get-space", SUITE_REQ("GET /example space/ HTTP/1.1", "", ""),
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {"normalize-path/get-slashes", SUITE_REQ("GET //example// HTTP/1.1", "", ""),
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
    {"normalize-path/get-slash-pointless-dot", SUITE_REQ("GET /./example HTTP/1.1", "", ""),
     "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
    {"normalize-path/get-relative", SUITE_REQ("GET /example/.. HTTP/1.1", "", ""),
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"normalize-path/get-relative-relative",
     SUITE_REQ("GET /example1/example2/../.. HTTP/1.1", "", ""),
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"normalize-path/get-slash", SUITE_REQ("GET // HTTP/1.1", "", ""),
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"normalize-path/get-slash-dot-slash", SUITE_REQ("GET /./ HTTP/1.1", "", ""),
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-header-key-duplicate",
     SUITE_REQ("GET / HTTP/1.1", "My-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\n", ""),
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-order",
     SUITE_REQ("GET / HTTP/1.1",
               "My-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\nMy-Header1:value2\n", ""),
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"get-header-value-trim",
     SUITE_REQ("GET / HTTP/1.1", "My-Header1: value1\nMy-Header2: \"a   b   c\"\n", ""),
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"post-vanilla", SUITE_REQ("POST / HTTP/1.1", "", ""),
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"post-vanilla-query", SUITE_REQ("POST /?Param1=value1 HTTP/1.1", "", ""),
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {"post-header-key-sort", SUITE_REQ("POST / HTTP/1.1", "My-Header1:value1\n", ""),
     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
    {"post-header-value-case", SUITE_REQ("POST / HTTP/1.1", "My-Header1:VALUE1\n", ""),
     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
    {"post-x-www-form-urlencoded",
     SUITE_REQ("POST / HTTP/1.1", "Content-Type:application/x-www-form-urlencoded\n",
               "Param1=value1"),
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
    {"post-x-www-form-urlencoded-parameters",
     SUITE_REQ("POST / HTTP/1.1", "Content-Type:application/x-www-form-urlencoded; charset=utf8\n",
               "Param1=value1"),
     "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
    {"post-sts-token/post-sts-header-before",
     SUITE_REQ("POST / HTTP/1.1",
               "X-Amz-Security-Token:AQoDYXdzEPT//////////"
               "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflf"
               "KD8YUuwthAx7mSEI/qkPpKPi/"
               "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6"
               "q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
               "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n",
               ""),
     "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
};

static void test_suite_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(SUITE) / sizeof(SUITE[0]); i++) {
        const struct suite_case *c = &SUITE[i];
        struct wire w = {c->name, c->req};
        char buf[1024], *authz = NULL, expected[128];
        int64_t when = 0;
        struct rq r;

        wire_rq(&w, &r, buf, sizeof(buf), &when);
        assert_int_equal(when, epoch(SUITE_DATE));
        struct auth_sign_input in = {.method = r.method,
                                     .target = r.target,
                                     .headers = r.h,
                                     .nheaders = r.n,
                                     .body = r.body,
                                     .body_len = strlen(r.body),
                                     .access_key_id = "AKIDEXAMPLE",
                                     .secret = SUITE_SECRET,
                                     .region = "us-east-1",
                                     .service = "service",
                                     .amz_date = SUITE_DATE};
        assert_int_equal(auth_sign(&in, &authz, NULL), 0);
        snprintf(expected, sizeof(expected), "Signature=%s", c->signature);
        if (!strstr(authz, expected))
            fail_msg("%s: got %s", c->name, authz);
        assert_non_null(strstr(authz, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
                                      "service/aws4_request, SignedHeaders="));
        free(authz);
    }
}

static void test_suite_canonical_request(void **state)
{
    const struct auth_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    char *creq = NULL;

    (void)state;
    /* get-vanilla-query-order-key-case.creq */
    assert_int_equal(auth_sigv4_canonical_request("GET", "/?Param2=value2&Param1=value1", h, 2,
                                                  "host;x-amz-date", EMPTY_SHA256, &creq),
                     0);
    assert_string_equal(creq, "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                              "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_SHA256);
    free(creq);
    /* get-utf8 and get-space: every byte but unreserved and '/' encoded. */
    assert_int_equal(
        auth_sigv4_canonical_request("GET", "/\xe1\x88\xb4/a b", h, 2, "host", EMPTY_SHA256, &creq),
        0);
    assert_string_equal(
        creq, "GET\n/%E1%88%B4/a%20b\n\nhost:example.amazonaws.com\n\nhost\n" EMPTY_SHA256);
    free(creq);
    /* get-header-value-trim, untrimmed as a lenient server may pass it:
     * trimmed, inner runs of spaces made one, duplicates joined with ','. */
    {
        const struct auth_header t[] = {{"Host", "h"},
                                        {"My-Header1", "  value1 \t"},
                                        {"my-header2", "\"a   b \t c\""},
                                        {"MY-HEADER1", "x  y"}};
        assert_int_equal(auth_sigv4_canonical_request(
                             "GET", "/", t, 4, "host;my-header1;my-header2", EMPTY_SHA256, &creq),
                         0);
        assert_string_equal(creq,
                            "GET\n/\n\nhost:h\nmy-header1:value1,x y\nmy-header2:\"a b c\"\n\n"
                            "host;my-header1;my-header2\n" EMPTY_SHA256);
        free(creq);
    }
    /* A signed header that is not there. */
    assert_int_equal(
        auth_sigv4_canonical_request("GET", "/", h, 2, "host;my-header1", EMPTY_SHA256, &creq),
        CCF_EINVAL);
}

/* The IAM ListUsers example: canonical request, string to sign, signing
 * key and signature, step by step. */
static void test_iam_example(void **state)
{
    const struct auth_header h[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"Host", "iam.amazonaws.com"},
        {"X-Amz-Date", SUITE_DATE}};
    const struct auth_sign_input in = {.method = "GET",
                                       .target = "/?Action=ListUsers&Version=2010-05-08",
                                       .headers = h,
                                       .nheaders = 3,
                                       .access_key_id = "AKIDEXAMPLE",
                                       .secret = SUITE_SECRET,
                                       .region = "us-east-1",
                                       .service = "iam",
                                       .amz_date = SUITE_DATE};
    unsigned char key[32];
    char *creq = NULL, *authz = NULL, *sts = NULL, hex[65];

    (void)state;
    assert_int_equal(auth_sigv4_canonical_request(in.method, in.target, h, 3,
                                                  "content-type;host;x-amz-date", EMPTY_SHA256,
                                                  &creq),
                     0);
    assert_string_equal(creq, "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                              "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
                              "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                              "content-type;host;x-amz-date\n" EMPTY_SHA256);
    auth_sigv4_signing_key(SUITE_SECRET, "20150830", "us-east-1", "iam", key);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    assert_int_equal(auth_sign(&in, &authz, &sts), 0);
    assert_string_equal(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/"
                             "aws4_request\n"
                             "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    assert_string_equal(authz, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
                               "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                               "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b592"
                               "4a6f2b5d7");
    free(creq);
    free(authz);
    free(sts);
}

/* ---- requests as real clients sign them: raw HTTP, as captured ---- */

/* clients/botocore/sign_vectors.py, verbatim (Python and awscrt signers agree). */
static const struct wire BOTOCORE[] = {
    {"list_custom_connectors: list, query already sorted",
     "GET /api/v1/custom-connectors?max_results=2&next_token=abc HTTP/1.1\n"
     "User-Agent: Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v657 awscrt/1.0.0.dev0\n"
     "X-Amz-Date: 20261125T120000Z\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=b73fe5286df906b7f0d62efd53917bc288f533b62b1e26b3b80f61debad1c592\n"
     "amz-sdk-invocation-id: c41d0c91-c67a-435d-9e15-508ef891796e\n"
     "amz-sdk-request: attempt=1\n"
     "Host: 127.0.0.1:8787\n"
     "\n"},
    {"list_custom_connectors: list, query unsorted on the wire, escapes",
     "GET /api/v1/custom-connectors?next_token=a%20b%2Fc~&max_results=2 HTTP/1.1\n"
     "User-Agent: Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v657 awscrt/1.0.0.dev0\n"
     "X-Amz-Date: 20261125T120000Z\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=e019fff4df7739fffeba1eeb1c92ed61fb8f8f848bc65c6ad45518948d9b4cfa\n"
     "amz-sdk-invocation-id: 3bb10031-717f-409d-9e34-15274d78d88a\n"
     "amz-sdk-request: attempt=1\n"
     "Host: 127.0.0.1:8787\n"
     "\n"},
    {"create_custom_connector: create, JSON body",
     "POST /api/v1/custom-connectors HTTP/1.1\n"
     "Content-Type: application/json\n"
     "User-Agent: Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v657 awscrt/1.0.0.dev0\n"
     "X-Amz-Date: 20261125T120000Z\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date, "
     "Signature=0c5d5f0c513a4a360c235807e05fadb53fd3f7310f124cd5806cfb233b0e8aff\n"
     "amz-sdk-invocation-id: 77e99c79-81f4-4b9c-859c-2aef0e514d4f\n"
     "amz-sdk-request: attempt=1\n"
     "Host: 127.0.0.1:8787\n"
     "\n"
     "{\"name\": \"my-conn\", \"description\": \"first one\", \"container_properties\": "
     "{\"command\": [\"/bin/echo\", \"hi\"]}}"},
    {"get_custom_connector: get, escape in the path (signed encoded twice)",
     "GET /api/v1/custom-connectors/cc-0123%20456789ab HTTP/1.1\n"
     "User-Agent: Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v657 awscrt/1.0.0.dev0\n"
     "X-Amz-Date: 20261125T120000Z\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=aea917eb4b6735d5af3056ed895d4f87e26b8c2e1e8b01f3c33a4cd370faa0ea\n"
     "amz-sdk-invocation-id: 89df3e2d-9178-4a69-9d5f-e84531ed1ab1\n"
     "amz-sdk-request: attempt=1\n"
     "Host: 127.0.0.1:8787\n"
     "\n"},
    {"put_custom_connector_checkpoint: put checkpoint, session token",
     "PUT /api/v1/custom-connectors/cc-0123456789ab/checkpoint HTTP/1.1\n"
     "Content-Type: application/json\n"
     "User-Agent: Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v657 awscrt/1.0.0.dev0\n"
     "X-Amz-Date: 20261125T120000Z\n"
     "X-Amz-Security-Token: FwoGZXIvYXdzEBEaDCcfTOKENEXAMPLE0123456789\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=ASIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
     "Signature=8b6eee9077e8f1d18826284ec184c56bae98658ee741780e16f82a2d96e568c9\n"
     "amz-sdk-invocation-id: de5d497b-593f-43ff-bdf8-26b9c305a0b8\n"
     "amz-sdk-request: attempt=1\n"
     "Host: 127.0.0.1:8787\n"
     "\n"
     "{\"checkpoint_data\": \"{\\\"cursor\\\": 42}\"}"},
    {"batch_delete_custom_connector_documents: delete documents: DELETE with a body",
     "DELETE /api/v1/custom-connectors/cc-0123456789ab/documents HTTP/1.1\n"
     "Content-Type: application/json\n"
     "User-Agent: Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v657 awscrt/1.0.0.dev0\n"
     "X-Amz-Date: 20261125T120000Z\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date, "
     "Signature=c4b468f442821c915eeef787e025f97d3d94a49af78a086656b042a8329028c1\n"
     "amz-sdk-invocation-id: 72d34540-a32b-40bd-b9d5-2f175c8803c8\n"
     "amz-sdk-request: attempt=1\n"
     "Host: 127.0.0.1:8787\n"
     "\n"
     "{\"document_ids\": [\"doc/1\", \"d\\u00f6c 2\"]}"},
};

/* Captured from curl 7.88.1 --aws-sigv4 "aws:amz:us-east-1:execute-api". */
static const struct wire CURL_OK[] = {
    {"curl GET, query sorted",
     "GET /api/v1/custom-connectors?max_results=2&next_token=abc HTTP/1.1\n"
     "Host: 127.0.0.1:9921\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=3ca6f749e4c24c61dde504c548d0db384c2be285f94b86de67a31842e760dea6\n"
     "X-Amz-Date: 20261125T164653Z\n"
     "User-Agent: curl/7.88.1\n"
     "Accept: */*\n"
     "\n"},
    {"curl POST, JSON body",
     "POST /api/v1/custom-connectors HTTP/1.1\n"
     "Host: 127.0.0.1:9922\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date, "
     "Signature=b055a6f69cc01212f3fc9c5746dc8f6c730b09d8d54f5b74af12baf90b3b77ff\n"
     "X-Amz-Date: 20261125T164654Z\n"
     "User-Agent: curl/7.88.1\n"
     "Accept: */*\n"
     "Content-Type: application/json\n"
     "Content-Length: 67\n"
     "\n"
     "{\"name\":\"my-conn\",\"container_properties\":{\"command\":[\"/bin/true\"]}}"},
    {"curl PUT, session token",
     "PUT /api/v1/custom-connectors/cc-0123456789ab/checkpoint HTTP/1.1\n"
     "Host: 127.0.0.1:9925\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=ASIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
     "Signature=2e31a1a34e46bccee6b575e76aef194c9d3b521044819d5b60358473a935507c\n"
     "X-Amz-Date: 20261125T164659Z\n"
     "User-Agent: curl/7.88.1\n"
     "Accept: */*\n"
     "x-amz-security-token: FwoGZXIvYXdzEBEaDCcfTOKENEXAMPLE0123456789\n"
     "Content-Type: application/json\n"
     "Content-Length: 23\n"
     "\n"
     "{\"checkpoint_data\":\"x\"}"},
};

/* What curl 7.88 signs differently from AWS, refused as AWS would: it does
 * not sort the query (DESIGN.md: libccf sends it sorted), and it signs an
 * escape in the path as sent where AWS encodes it again. */
static const struct wire CURL_REFUSED[] = {
    {"curl GET, query unsorted",
     "GET /api/v1/custom-connectors?next_token=abc&max_results=2 HTTP/1.1\n"
     "Host: 127.0.0.1:9923\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=fb00fdfb828c4a158ceac25a2635c68a81ea77fe125dae90e6e7c7af0799d175\n"
     "X-Amz-Date: 20261125T164656Z\n"
     "User-Agent: curl/7.88.1\n"
     "Accept: */*\n"
     "\n"},
    {"curl GET, escape in the path",
     "GET /api/v1/custom-connectors/cc-0123%20456789ab HTTP/1.1\n"
     "Host: 127.0.0.1:9924\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=155e9dce97067de0e755bebe2dd7d7b30b47cd887516dbb777605840cd20eac0\n"
     "X-Amz-Date: 20261125T164657Z\n"
     "User-Agent: curl/7.88.1\n"
     "Accept: */*\n"
     "\n"},
};

/* Captured from Debian 12's awscli 2.9.19 with the model added by
 * `aws configure add-model` (clients/botocore/README.md). */
static const struct wire AWSCLI[] = {
    {"aws list-custom-connectors --page-size 2",
     "GET /api/v1/custom-connectors?max_results=2 HTTP/1.1\n"
     "Host: 127.0.0.1:9932\n"
     "Accept-Encoding: identity\n"
     "User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v657 source/x86_64.debian.12 "
     "prompt/off command/ccf.list-custom-connectors\n"
     "X-Amz-Date: 20261125T165211Z\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=host;x-amz-date, "
     "Signature=9898bac924995cafe8da96d5db82b41260b352f36d30eee2580e8d238199a36d\n"
     "\n"},
    {"aws create-custom-connector",
     "POST /api/v1/custom-connectors HTTP/1.1\n"
     "Host: 127.0.0.1:9934\n"
     "Accept-Encoding: identity\n"
     "Content-Type: application/json\n"
     "User-Agent: aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v657 source/x86_64.debian.12 "
     "prompt/off command/ccf.create-custom-connector\n"
     "X-Amz-Date: 20261125T165223Z\n"
     "Authorization: AWS4-HMAC-SHA256 "
     "Credential=AKIAIOSFODNN7EXAMPLE/20261125/us-east-1/execute-api/aws4_request, "
     "SignedHeaders=content-type;host;x-amz-date, "
     "Signature=72244a783414611831bf457a002ca687405a75a05c119ae7f9108cb36fa43dcb\n"
     "Content-Length: 71\n"
     "\n"
     "{\"name\": \"my-conn\", \"container_properties\": {\"command\": [\"/bin/true\"]}}"},
};

static void test_botocore_vectors(void **state)
{
    struct fx *f = *state;
    char buf[2048];

    for (size_t i = 0; i < sizeof(BOTOCORE) / sizeof(BOTOCORE[0]); i++) {
        struct auth_principal p;
        struct auth_error e;
        int64_t now = 0;
        struct rq r;
        wire_rq(&BOTOCORE[i], &r, buf, sizeof(buf), &now);
        if (run(f->a, &r, now, &p, &e) != 0)
            fail_msg("botocore '%s': %s: %s", BOTOCORE[i].what, e.error_type, e.message);
        assert_string_equal(p.tenant.account_id, ACCOUNT);
        assert_string_equal(p.tenant.region, "us-east-1");
        assert_string_equal(p.connector_id, "");
    }
}

static void test_curl_and_cli_vectors(void **state)
{
    struct fx *f = *state;
    char buf[2048];
    int64_t now = 0;
    struct rq r;

    for (size_t i = 0; i < sizeof(CURL_OK) / sizeof(CURL_OK[0]); i++) {
        wire_rq(&CURL_OK[i], &r, buf, sizeof(buf), &now);
        expect_ok(f->a, &r, now, NULL);
    }
    for (size_t i = 0; i < sizeof(AWSCLI) / sizeof(AWSCLI[0]); i++) {
        wire_rq(&AWSCLI[i], &r, buf, sizeof(buf), &now);
        expect_ok(f->a, &r, now, NULL);
    }
    for (size_t i = 0; i < sizeof(CURL_REFUSED) / sizeof(CURL_REFUSED[0]); i++) {
        wire_rq(&CURL_REFUSED[i], &r, buf, sizeof(buf), &now);
        expect_refused(f->a, &r, now, "InvalidSignatureException",
                       "The request signature we calculated does not match");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_vectors),
        cmocka_unit_test(test_suite_canonical_request),
        cmocka_unit_test(test_iam_example),
        cmocka_unit_test_setup_teardown(test_botocore_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curl_and_cli_vectors, setup, teardown),
    };

    /* The refusals under test log at ERROR on purpose; keep the rest quiet. */
    ccf_log_setup(CCF_LOG_ERROR, CCF_LOG_LOGFMT);
    return cmocka_run_group_tests_name("auth-vectors", tests, NULL, NULL);
}
