/* test_auth_refusals.c: every refusal of the SigV4 verifier (src/auth) and
 * its errorType, in the contract's order; clock skew, session tokens and
 * scoped keys. The fixture is tests/auth_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth_fixture.h"

/* A GET signed one way, and the verifier's answer: the checks that differ
 * only in how the request was signed. */
struct signed_case {
    const char *key;
    const char *date, *region, *service; /* NULL: NOW, us-east-1, execute-api */
    const char *token;                   /* an X-Amz-Security-Token, signed */
    const char *token_after;             /* one added after signing */
    int64_t later;                       /* verified this many seconds after NOW */
    const char *type;                    /* the errorType; NULL: accepted */
    const char *prefix;                  /* the message's start, if given */
};

static void check_signed(struct auth *a, const char *target, const struct signed_case *c)
{
    struct rq r;

    rq_init(&r, "GET", target, NULL);
    if (c->token)
        rq_add(&r, "X-Amz-Security-Token", c->token);
    rq_sign_as(&r, c->key, SECRET, c->date ? c->date : NOW, c->region ? c->region : "us-east-1",
               c->service ? c->service : "execute-api");
    if (c->token_after)
        rq_add(&r, "X-Amz-Security-Token", c->token_after);
    if (c->type)
        expect_refused(a, &r, epoch(NOW) + c->later, c->type, c->prefix);
    else
        expect_ok(a, &r, epoch(NOW) + c->later, NULL);
    rq_free(&r);
}

/* ---- refusals, in the contract's order ---- */

static void test_missing_and_malformed(void **state)
{
    static const char *const bad[] = {
        "Bearer abc",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA1 Credential=" KEY "/20261125/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host, Signature=" EMPTY_SHA256,
        "AWS4-HMAC-SHA256 Credential=" KEY "/20261125/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=" KEY "/20261125/us-east-1/execute-api, "
        "SignedHeaders=host, Signature=" EMPTY_SHA256,
        "AWS4-HMAC-SHA256 Credential=" KEY "/2026112/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host, Signature=" EMPTY_SHA256,
        "AWS4-HMAC-SHA256 Credential=" KEY "/20261125/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=x-amz-date;host, Signature=" EMPTY_SHA256,
        "AWS4-HMAC-SHA256 Credential=" KEY "/20261125/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=Host, Signature=" EMPTY_SHA256,
        "AWS4-HMAC-SHA256 Credential=" KEY "/20261125/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host, Signature=xyz",
        "AWS4-HMAC-SHA256 Credential=" KEY "/20261125/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host, Signature=" EMPTY_SHA256 ", Signature=" EMPTY_SHA256,
        "AWS4-HMAC-SHA256 Credential=" KEY "/20261125/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host, Signature=" EMPTY_SHA256 ", Extra=1",
    };
    struct fx *f = *state;
    struct rq r;

    rq_init(&r, "GET", "/api/v1/custom-connectors", NULL);
    expect_refused(f->a, &r, epoch(NOW), "MissingAuthenticationTokenException",
                   "Missing Authentication Token");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rq_init(&r, "GET", "/api/v1/custom-connectors", NULL);
        rq_add(&r, "Authorization", bad[i]);
        expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    }
    /* Given twice. */
    rq_init(&r, "GET", "/api/v1/custom-connectors", NULL);
    rq_sign(&r, KEY);
    rq_add(&r, "authorization", r.authz);
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    rq_free(&r);
}

static void test_unknown_and_expired_key(void **state)
{
    static const struct signed_case cases[] = {
        {.key = "AKIAUNKNOWNEXAMPLE00",
         .type = "UnrecognizedClientException",
         .prefix = "The security token included in the request is invalid."},
        /* The unknown key is reported before a bad date: the contract's order. */
        {.key = "AKIAUNKNOWNEXAMPLE00", .later = 3600, .type = "UnrecognizedClientException"},
        {.key = EXPIRED_KEY,
         .type = "UnrecognizedClientException",
         .prefix = "The security token included in the request is expired."},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_signed(f->a, "/api/v1/custom-connectors", &cases[i]);
}

static void test_clock_skew(void **state)
{
    struct fx *f = *state;
    struct rq r;

    rq_init(&r, "GET", "/api/v1/custom-connectors", NULL);
    rq_sign(&r, KEY);
    expect_ok(f->a, &r, epoch(NOW) + 300, NULL);
    expect_ok(f->a, &r, epoch(NOW) - 300, NULL);
    expect_refused(f->a, &r, epoch(NOW) + 301, "InvalidSignatureException",
                   "Signature expired: 20261125T120000Z is now earlier than 20261125T120001Z "
                   "(20261125T120501Z - 5 min.)");
    expect_refused(f->a, &r, epoch(NOW) - 301, "InvalidSignatureException",
                   "Signature expired: 20261125T120000Z is now later than");
    rq_free(&r);
}

static void test_date_header(void **state)
{
    struct fx *f = *state;
    struct rq r;

    /* botocore's form when the request has a Date header: RFC 2822, -0000 */
    rq_bare(&r, "GET", "/api/v1/custom-connectors", NULL);
    rq_add(&r, "Host", HOST);
    rq_add(&r, "Date", "Wed, 25 Nov 2026 12:00:00 -0000");
    rq_sign(&r, KEY);
    expect_ok(f->a, &r, epoch(NOW), NULL);
    expect_refused(f->a, &r, epoch(NOW) + 400, "InvalidSignatureException", "Signature expired");
    rq_free(&r);
    /* Neither X-Amz-Date nor Date. */
    rq_bare(&r, "GET", "/", NULL);
    rq_add(&r, "Host", HOST);
    rq_sign(&r, KEY);
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException",
                   "Authorization header requires existence of either");
    rq_free(&r);
    rq_init(&r, "GET", "/", NULL);
    r.h[1].value = "2026-11-25T12:00:00Z";
    rq_sign(&r, KEY);
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", "X-Amz-Date must be");
    rq_free(&r);
}

static void test_credential_scope(void **state)
{
    static const struct signed_case cases[] = {
        {.key = KEY,
         .date = "20261124T120000Z",
         .type = "InvalidSignatureException",
         .prefix = "Date in Credential scope does not match"},
        {.key = KEY,
         .region = "eu-west-1",
         .type = "InvalidSignatureException",
         .prefix = "Credential should be scoped to a valid region, not 'eu-west-1'"},
        {.key = KEY,
         .service = "s3",
         .type = "InvalidSignatureException",
         .prefix = "Credential should be scoped to correct service: 'execute-api'."},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_signed(f->a, "/api/v1/custom-connectors", &cases[i]);
}

static void test_signed_headers_rules(void **state)
{
    struct fx *f = *state;
    struct rq r;

    /* Host must be signed. */
    rq_bare(&r, "GET", "/", NULL);
    rq_add(&r, "X-Amz-Date", NOW);
    rq_sign(&r, KEY);
    rq_add(&r, "Host", HOST);
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", "'Host' must be");
    rq_free(&r);
    /* Every x-amz-* header sent must be signed. */
    rq_init(&r, "GET", "/", NULL);
    rq_sign(&r, KEY);
    rq_add(&r, "X-Amz-Meta", "added later");
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException",
                   "Header 'X-Amz-Meta' must be signed");
    rq_free(&r);
    /* Other headers may come unsigned, as botocore's amz-sdk-* do. */
    rq_init(&r, "GET", "/", NULL);
    rq_sign(&r, KEY);
    rq_add(&r, "User-Agent", "added later");
    expect_ok(f->a, &r, epoch(NOW), NULL);
    /* A signed header that is gone. */
    r.h[1].name = "X-Other";
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    rq_free(&r);
}

static void test_tampering(void **state)
{
    struct fx *f = *state;
    struct rq r;

    rq_init(&r, "POST", "/api/v1/custom-connectors/" CID "/documents?a=1", "{\"documents\":[]}");
    rq_add(&r, "Content-Type", "application/json");
    rq_sign(&r, KEY);
    expect_ok(f->a, &r, epoch(NOW), NULL);
    r.body = "{\"documents\":[1]}";
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException",
                   "The request signature we calculated does not match the signature you "
                   "provided. Check your AWS Secret Access Key and signing method.");
    r.body = "{\"documents\":[]}";
    r.target = "/api/v1/custom-connectors/" CID "/documents?a=2";
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    r.target = "/api/v1/custom-connectors/" OTHER_CID "/documents?a=1";
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    r.target = "/api/v1/custom-connectors/" CID "/documents?a=1";
    r.method = "PUT";
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    r.method = "POST";
    r.h[2].value = "text/plain";
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    rq_free(&r);
    /* Wrong secret. */
    rq_init(&r, "GET", "/", NULL);
    rq_sign_as(&r, KEY, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", NOW, "us-east-1",
               "execute-api");
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    rq_free(&r);
    /* The query is sorted and re-encoded before signing: order on the wire
     * and the case of escapes do not matter; the values do. */
    rq_init(&r, "GET", "/api/v1/custom-connectors?b=%7e&a=1", NULL);
    rq_sign(&r, KEY);
    r.target = "/api/v1/custom-connectors?a=1&b=~";
    expect_ok(f->a, &r, epoch(NOW), NULL);
    rq_free(&r);
}

static void test_payload_hash_header(void **state)
{
    const char *hash = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    struct fx *f = *state;
    struct rq r;

    /* hash is SHA-256("{}") */
    rq_init(&r, "PUT", "/api/v1/custom-connectors/" CID "/checkpoint", "{}");
    rq_add(&r, "X-Amz-Content-Sha256", hash);
    rq_sign(&r, KEY);
    expect_ok(f->a, &r, epoch(NOW), NULL);
    r.body = "{ }";
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException",
                   "The provided 'x-amz-content-sha256' header does not match");
    rq_free(&r);
    rq_init(&r, "PUT", "/api/v1/custom-connectors/" CID "/checkpoint", "{}");
    rq_add(&r, "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD");
    rq_sign(&r, KEY);
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", "x-amz-content-sha256 must");
    rq_free(&r);
}

/* ---- session tokens ---- */

static void test_session_tokens(void **state)
{
    static const struct signed_case cases[] = {
        {.key = TOKEN_KEY, .token = TOKEN},
        /* missing */
        {.key = TOKEN_KEY, .type = "UnrecognizedClientException"},
        /* wrong, and a prefix of the right one */
        {.key = TOKEN_KEY,
         .token = "FwoGZXIvYXdzEBEaDCcfTOKENEXAMPLE012345678",
         .type = "UnrecognizedClientException"},
        /* right but unsigned (the suite's post-sts-header-after) */
        {.key = TOKEN_KEY, .token_after = TOKEN, .type = "UnrecognizedClientException"},
        /* a token for a key issued without one */
        {.key = KEY, .token = TOKEN, .type = "UnrecognizedClientException"},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_signed(f->a, "/", &cases[i]);
}

/* ---- scope ---- */

static void test_scoped_key(void **state)
{
    static const struct {
        const char *method, *target;
        bool allowed;
    } cases[] = {
        {"POST", "/api/v1/custom-connectors/" CID "/documents", true},
        {"DELETE", "/api/v1/custom-connectors/" CID "/documents", true},
        {"GET", "/api/v1/custom-connectors/" CID "/documents?max_results=5", true},
        {"PUT", "/api/v1/custom-connectors/" CID "/checkpoint", true},
        {"GET", "/api/v1/custom-connectors/" CID "/%63heckpoint", true}, /* the router decodes */
        {"GET", "/api/v1/custom-connectors/" OTHER_CID "/documents", false},
        {"GET", "/api/v1/custom-connectors/" CID, false},
        {"GET", "/api/v1/custom-connectors", false},
        {"POST", "/api/v1/custom-connectors/" CID "/jobs", false},
        {"GET", "/api/v1/custom-connectors/" CID "/documents/", false},
        {"GET", "/api/v1/custom-connectors/" CID "/documents/../../" OTHER_CID "/documents", false},
        {"GET", "/api/v1/custom-connectors/" CID "%2Fdocuments", false},
        {"GET", "/api/v1//custom-connectors/" CID "/documents", false},
    };
    struct fx *f = *state;
    struct auth_principal p;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rq r;
        rq_init(&r, cases[i].method, cases[i].target, NULL);
        rq_sign(&r, SCOPED_KEY);
        if (cases[i].allowed) {
            expect_ok(f->a, &r, epoch(NOW), &p);
            assert_string_equal(p.connector_id, CID);
            assert_string_equal(p.tenant.account_id, "210987654321");
        } else {
            expect_refused(f->a, &r, epoch(NOW), "AccessDeniedException",
                           "Access key " SCOPED_KEY " is scoped to connector " CID);
        }
        rq_free(&r);
    }
    /* The signature comes first: a forged request learns nothing of the scope. */
    {
        struct rq r;
        rq_init(&r, "GET", "/api/v1/custom-connectors", NULL);
        rq_sign_as(&r, SCOPED_KEY, "not-the-secret-at-all", NOW, "us-east-1", "execute-api");
        expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
        rq_free(&r);
    }
}

static void test_principal_allows(void **state)
{
    struct auth_principal p = {0};

    (void)state;
    assert_true(auth_principal_allows(&p, "DELETE", "/anything"));
    snprintf(p.connector_id, sizeof(p.connector_id), "%s", CID);
    snprintf(p.job_id, sizeof(p.job_id), "%s", "ccj-0123456789ab");
    assert_true(auth_principal_allows(&p, "GET",
                                      "/api/v1/custom-connectors/" CID "/jobs/ccj-0123456789ab"));
    assert_false(auth_principal_allows(
        &p, "POST", "/api/v1/custom-connectors/" CID "/jobs/ccj-0123456789ab/stop"));
    assert_false(auth_principal_allows(&p, "GET",
                                       "/api/v1/custom-connectors/" CID "/jobs/ccj-ba9876543210"));
    assert_false(auth_principal_allows(&p, "GET", "/api/v1/custom-connectors/" CID "/jobs"));
    assert_false(auth_principal_allows(
        &p, "GET", "/api/v1/custom-connectors/" CID "/jobs/ccj-0123456789ab/logs"));
    assert_false(
        auth_principal_allows(&p, "GET", "/api/v1/custom-connectors/" CID "/documents%00"));
    assert_false(auth_principal_allows(&p, "GET", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_principal_allows),
        cmocka_unit_test_setup_teardown(test_missing_and_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_expired_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_skew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_date_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_headers_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_hash_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scoped_key, setup, teardown),
    };

    /* The refusals under test log at ERROR on purpose; keep the rest quiet. */
    ccf_log_setup(CCF_LOG_ERROR, CCF_LOG_LOGFMT);
    return cmocka_run_group_tests_name("auth-refusals", tests, NULL, NULL);
}
