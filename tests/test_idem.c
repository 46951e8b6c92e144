/* test_idem.c: unit tests of core/idem.c: client_token validation, the body
 * fingerprint (a JSON value: key order and spacing do not count) and a
 * checkpoint put's expected_version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/validate.h"

static int token_of(const char *text, const char **tok, unsigned char hash[32], json_t **keep)
{
    struct ccf_diag d = {{0}};

    *keep = json_loads(text, 0, NULL);
    assert_non_null(*keep);
    return ccf_client_token_from_json(*keep, tok, hash, &d);
}

static void test_fingerprint_is_of_the_json_value(void **state)
{
    unsigned char a[32], b[32], c[32];
    const char *ta, *tb, *tc;
    json_t *ja, *jb, *jc;

    (void)state;
    assert_int_equal(
        token_of("{\"client_token\":\"t1\",\"name\":\"x\",\"p\":{\"a\":1,\"b\":[1,2]}}", &ta, a,
                 &ja),
        0);
    assert_int_equal(token_of("{ \"p\" : { \"b\" : [ 1 , 2 ] , \"a\" : 1 } ,\n \"name\":\"x\", "
                              "\"client_token\":\"t1\"}",
                              &tb, b, &jb),
                     0);
    assert_string_equal(ta, "t1");
    assert_string_equal(tb, "t1");
    assert_memory_equal(a, b, 32);
    /* Array order counts, and so does any other member. */
    assert_int_equal(
        token_of("{\"client_token\":\"t1\",\"name\":\"x\",\"p\":{\"a\":1,\"b\":[2,1]}}", &tc, c,
                 &jc),
        0);
    assert_memory_not_equal(a, c, 32);
    json_decref(jc);
    assert_int_equal(token_of("{\"client_token\":\"t2\",\"name\":\"x\",\"p\":{\"a\":1,\"b\":[1,2]},"
                              "\"z\":null}",
                              &tc, c, &jc),
                     0);
    assert_memory_not_equal(a, c, 32);
    /* The token itself is not part of the fingerprint. */
    json_decref(jc);
    assert_int_equal(
        token_of("{\"client_token\":\"t9\",\"name\":\"x\",\"p\":{\"a\":1,\"b\":[1,2]}}", &tc, c,
                 &jc),
        0);
    assert_memory_equal(a, c, 32);
    json_decref(ja);
    json_decref(jb);
    json_decref(jc);
}

static void test_token_validation(void **state)
{
    static const char *const bad[] = {
        "{\"client_token\":\"\"}",   "{\"client_token\":\"a b\"}", "{\"client_token\":\"a.b\"}",
        "{\"client_token\":5}",      "{\"client_token\":null}",    "{\"client_token\":\"\\u00e9\"}",
        "{\"client_token\":[\"a\"]}"};
    char long_tok[100];
    unsigned char h[32];
    const char *tok;
    json_t *j;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(token_of(bad[i], &tok, h, &j), CCF_EINVAL);
        json_decref(j);
    }
    snprintf(long_tok, sizeof(long_tok), "{\"client_token\":\"%065d\"}", 0);
    assert_int_equal(token_of(long_tok, &tok, h, &j), CCF_EINVAL);
    json_decref(j);
    snprintf(long_tok, sizeof(long_tok), "{\"client_token\":\"%064d\"}", 0);
    assert_int_equal(token_of(long_tok, &tok, h, &j), 0);
    assert_int_equal(strlen(tok), 64);
    json_decref(j);
    assert_int_equal(token_of("{\"name\":\"x\"}", &tok, h, &j), 0);
    assert_null(tok);
    json_decref(j);
    assert_int_equal(ccf_client_token_from_json(NULL, &tok, h, &(struct ccf_diag){{0}}), 0);
    assert_null(tok);
}

static void test_expected_version(void **state)
{
    struct ccf_diag d = {{0}};
    int64_t v = 99;
    json_t *j;

    (void)state;
    j = json_loads("{\"expected_version\":0}", 0, NULL);
    assert_int_equal(ccf_checkpoint_expected_version(j, &v, &d), 0);
    assert_int_equal(v, 0);
    json_decref(j);
    j = json_loads("{}", 0, NULL);
    assert_int_equal(ccf_checkpoint_expected_version(j, &v, &d), 0);
    assert_int_equal(v, -1);
    json_decref(j);
    j = json_loads("{\"expected_version\":1.0}", 0, NULL);
    assert_int_equal(ccf_checkpoint_expected_version(j, &v, &d), CCF_EINVAL);
    json_decref(j);
    j = json_loads("{\"expected_version\":-1}", 0, NULL);
    assert_int_equal(ccf_checkpoint_expected_version(j, &v, &d), CCF_EINVAL);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_is_of_the_json_value),
        cmocka_unit_test(test_token_validation),
        cmocka_unit_test(test_expected_version),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
