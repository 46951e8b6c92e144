/* test_auth_keys.c: the credentials files of src/auth (mode, validation,
 * reload, init, add/list/revoke), per-job credentials, constant-time
 * comparison and secrets kept out of the log. The fixture is
 * tests/auth_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth_fixture.h"

/* ---- CRYPTO_memcmp, interposed: the test binary's definition wins over
 * libcrypto's, so that we can see the verifier use it. ---- */
static atomic_int memcmp_calls;

int CRYPTO_memcmp(const void *in_a, const void *in_b, size_t len)
{
    const volatile unsigned char *a = in_a, *b = in_b;
    unsigned char x = 0;

    atomic_fetch_add(&memcmp_calls, 1);
    for (size_t i = 0; i < len; i++)
        x |= (unsigned char)(a[i] ^ b[i]);
    return x;
}

/* ---- the credentials file ---- */

static int load(struct fx *f, const char *text, mode_t mode)
{
    struct auth_config c = {.credentials_path = f->keys, .region = "us-east-1"};
    struct auth *a = NULL;
    int rc;

    write_file(f->keys, text, mode);
    rc = auth_create(&a, &c);
    auth_destroy(a);
    return rc;
}

static void test_file_mode_refused(void **state)
{
    struct fx *f = *state;
    struct auth_config c = {.credentials_path = f->keys, .region = "us-east-1"};
    struct auth *a = NULL;

    assert_int_equal(load(f, KEYS_FILE, 0644), CCF_EINVAL);
    assert_int_equal(load(f, KEYS_FILE, 0640), CCF_EINVAL);
    assert_int_equal(load(f, KEYS_FILE, 0606), CCF_EINVAL);
    assert_int_equal(load(f, KEYS_FILE, 0620), CCF_EINVAL);
    assert_int_equal(load(f, KEYS_FILE, 0600), 0);
    assert_int_equal(load(f, KEYS_FILE, 0400), 0);
    unlink(f->keys);
    assert_int_equal(auth_create(&a, &c), CCF_ENOTFOUND);
    assert_null(a);
}

static void test_file_validation(void **state)
{
    static const char *const bad[] = {
        "[AKIASHORT]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\n",
        "[akiaiosfodnn7example]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\n",
        "[" KEY "]\nsecret_access_key = short\naccount_id = " ACCOUNT "\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = 12345\n",
        "[" KEY "]\naccount_id = " ACCOUNT "\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\n",
        "[" KEY "]\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\ncolour = red\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\naccount_id = " ACCOUNT
        "\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\n[" KEY "]\n"
        "secret_access_key = " SECRET "\naccount_id = " ACCOUNT "\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT
        "\nconnector_id = cc-1\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\nexpires_at = soon\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT
        "\njob_id = ccj-0123456789ab\n",
        "secret_access_key = " SECRET "\n[" KEY "]\naccount_id = " ACCOUNT "\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\n  [" TOKEN_KEY "]\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\nno equals sign\n",
        "[" KEY "]\nsecret_access_key = " SECRET "\naccount_id = " ACCOUNT "\nsession_token = "
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    };
    char good[512];
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (load(f, bad[i], 0600) != CCF_EINVAL)
            fail_msg("accepted:\n%s", bad[i]);
    /* Comments, blank lines, expiry as epoch seconds, an empty file. */
    assert_int_equal(load(f, "; nothing yet\n", 0600), 0);
    snprintf(good, sizeof(good),
             "# c\n\n[%s]\n  secret_access_key=%s\naccount_id = %s ; inline comment\n"
             "expires_at = 4102444800\n",
             KEY, SECRET, ACCOUNT);
    assert_int_equal(load(f, good, 0600), 0);
}

/* inih keeps 49 characters of a section name: a 128-character key id must
 * still be read whole, and one of 129 refused. */
static void test_long_key_id(void **state)
{
    char id[130], text[512];
    struct fx *f = *state;
    struct auth_config c = {.credentials_path = f->keys, .region = "us-east-1"};
    struct rq r;

    memset(id, 'A', 128);
    id[128] = '\0';
    id[127] = 'Z';
    snprintf(text, sizeof(text), "[%s]\nsecret_access_key = %s\naccount_id = %s\n", id, SECRET,
             ACCOUNT);
    write_file(f->keys, text, 0600);
    auth_destroy(f->a);
    assert_int_equal(auth_create(&f->a, &c), 0);
    rq_init(&r, "GET", "/", NULL);
    rq_sign(&r, id);
    expect_ok(f->a, &r, epoch(NOW), NULL);
    rq_free(&r);
    id[128] = 'A';
    id[129] = '\0';
    snprintf(text, sizeof(text), "[%s]\nsecret_access_key = %s\naccount_id = %s\n", id, SECRET,
             ACCOUNT);
    assert_int_equal(load(f, text, 0600), CCF_EINVAL);
}

static void test_reload(void **state)
{
    struct fx *f = *state;
    struct auth_credential_spec spec = {.account_id = "333333333333"};
    char key_id[AUTH_KEY_ID_MAX + 1], secret[AUTH_SECRET_MAX + 1];
    struct auth_principal p;
    struct rq r;

    assert_int_equal(auth_credentials_add(f->keys, &spec, key_id, secret), 0);
    rq_init(&r, "GET", "/", NULL);
    rq_sign_as(&r, key_id, secret, NOW, "us-east-1", "execute-api");
    expect_refused(f->a, &r, epoch(NOW), "UnrecognizedClientException", NULL);
    assert_int_equal(auth_credentials_reload(f->a), 0);
    expect_ok(f->a, &r, epoch(NOW), &p);
    assert_string_equal(p.tenant.account_id, "333333333333");
    /* A broken file is refused and the loaded keys stay. */
    assert_int_equal(chmod(f->keys, 0644), 0);
    assert_int_equal(auth_credentials_reload(f->a), CCF_EINVAL);
    expect_ok(f->a, &r, epoch(NOW), NULL);
    assert_int_equal(chmod(f->keys, 0600), 0);
    assert_int_equal(auth_credentials_revoke(f->keys, key_id), 0);
    expect_ok(f->a, &r, epoch(NOW), NULL); /* until the reload */
    assert_int_equal(auth_credentials_reload(f->a), 0);
    expect_refused(f->a, &r, epoch(NOW), "UnrecognizedClientException", NULL);
    rq_free(&r);
}

struct reader {
    struct auth *a;
    atomic_int failures;
    atomic_bool stop;
};

static void *read_loop(void *arg)
{
    struct reader *rd = arg;

    while (!atomic_load(&rd->stop)) {
        struct auth_error e;
        struct rq r;
        rq_init(&r, "GET", "/api/v1/custom-connectors", NULL);
        rq_sign(&r, KEY);
        if (run(rd->a, &r, epoch(NOW), NULL, &e) != 0)
            atomic_fetch_add(&rd->failures, 1);
        rq_free(&r);
    }
    return NULL;
}

/* Readers on four threads never see a half-loaded table. */
static void test_reload_under_load(void **state)
{
    struct fx *f = *state;
    struct reader rd = {.a = f->a};
    pthread_t t[4];

    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, read_loop, &rd), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(auth_credentials_reload(f->a), 0);
    atomic_store(&rd.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&rd.failures), 0);
}

static void test_init_file(void **state)
{
    struct fx *f = *state;
    char path[160], key_id[AUTH_KEY_ID_MAX + 1], again[AUTH_KEY_ID_MAX + 1];
    struct auth_credential_info *list = NULL;
    struct stat st;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/fresh", f->dir);
    assert_int_equal(auth_credentials_init_file(path, "12345", key_id), CCF_EINVAL);
    assert_int_equal(auth_credentials_init_file(path, ACCOUNT, key_id), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(strlen(key_id), 20);
    assert_memory_equal(key_id, "AKIA", 4);
    assert_int_equal(strspn(key_id + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 16);
    assert_int_equal(auth_credentials_init_file(path, ACCOUNT, again), CCF_ECONFLICT);
    assert_int_equal(auth_credentials_list(path, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].access_key_id, key_id);
    assert_string_equal(list[0].account_id, ACCOUNT);
    assert_false(list[0].has_session_token);
    free(list);
}

static void test_add_list_revoke(void **state)
{
    struct fx *f = *state;
    struct auth_credential_spec spec = {.account_id = ACCOUNT,
                                        .access_key_id = "AKIAADDEDEXAMPLE0000",
                                        .secret_access_key = SECRET,
                                        .session_token = "tok",
                                        .connector_id = CID,
                                        .expires_at = 4102444800};
    struct auth_credential_spec bad = {.account_id = "1"};
    char key_id[AUTH_KEY_ID_MAX + 1], secret[AUTH_SECRET_MAX + 1];
    struct auth_credential_info *list = NULL;
    struct stat st;
    char tmp[200];
    size_t n = 0;
    FILE *p;

    assert_int_equal(auth_credentials_add(f->keys, &spec, key_id, secret), 0);
    assert_string_equal(key_id, "AKIAADDEDEXAMPLE0000");
    assert_int_equal(auth_credentials_add(f->keys, &spec, key_id, secret), CCF_ECONFLICT);
    assert_int_equal(auth_credentials_add(f->keys, &bad, key_id, secret), CCF_EINVAL);
    assert_int_equal(auth_credentials_list(f->keys, &list, &n), 0);
    assert_int_equal(n, 5);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(list[i - 1].access_key_id, list[i].access_key_id) < 0);
    assert_string_equal(list[0].access_key_id, "AKIAADDEDEXAMPLE0000");
    assert_string_equal(list[0].connector_id, CID);
    assert_true(list[0].has_session_token);
    assert_int_equal(list[0].expires_at, 4102444800);
    free(list);
    assert_int_equal(auth_credentials_revoke(f->keys, "AKIANOSUCHKEYEXAMPLE"), CCF_ENOTFOUND);
    assert_int_equal(auth_credentials_revoke(f->keys, "AKIAADDEDEXAMPLE0000"), 0);
    assert_int_equal(stat(f->keys, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* No temporary file left behind. */
    snprintf(tmp, sizeof(tmp), "ls %s | grep -c tmp", f->dir);
    p = popen(tmp, "r");
    assert_non_null(p);
    assert_non_null(fgets(tmp, sizeof(tmp), p));
    pclose(p);
    assert_string_equal(tmp, "0\n");
    /* A rewritten file reloads to the same keys. */
    assert_int_equal(auth_credentials_reload(f->a), 0);
    assert_int_equal(auth_credentials_list(f->keys, &list, &n), 0);
    assert_int_equal(n, 4);
    free(list);
}

/* ---- per-job credentials ---- */

static void job_rq(struct rq *r, const char *method, const char *target, const char *key,
                   const char *secret, const char *token)
{
    rq_init(r, method, target, NULL);
    if (token)
        rq_add(r, "X-Amz-Security-Token", token);
    rq_sign_as(r, key, secret, NOW, "us-east-1", "execute-api");
}

static void test_job_credentials(void **state)
{
    struct fx *f = *state;
    struct ccf_tenant t;
    char key[64], secret[128], token[512];
    struct auth_principal p;
    struct stat st;
    struct rq r;

    ccf_tenant_init(&t, "us-east-1", "444444444444");
    assert_int_equal(
        auth_job_credentials_issue(f->a, &t, "cc-bad", "ccj-0123456789ab", key, secret, token),
        CCF_EINVAL);
    assert_int_equal(
        auth_job_credentials_issue(f->a, &t, CID, "ccj-0123456789ab", key, secret, token), 0);
    assert_int_equal(strlen(key), 20);
    assert_memory_equal(key, "ASIA", 4);
    assert_int_equal(strlen(secret), 40);
    assert_true(strlen(token) >= 64 && strlen(token) <= AUTH_SESSION_TOKEN_MAX);
    assert_int_equal(stat(f->jobs, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    job_rq(&r, "POST", "/api/v1/custom-connectors/" CID "/documents", key, secret, token);
    expect_ok(f->a, &r, epoch(NOW), &p);
    assert_string_equal(p.tenant.account_id, "444444444444");
    assert_string_equal(p.connector_id, CID);
    assert_string_equal(p.job_id, "ccj-0123456789ab");
    rq_free(&r);
    job_rq(&r, "GET", "/api/v1/custom-connectors/" CID "/jobs/ccj-0123456789ab", key, secret,
           token);
    expect_ok(f->a, &r, epoch(NOW), NULL);
    rq_free(&r);
    job_rq(&r, "PUT", "/api/v1/custom-connectors/" OTHER_CID "/checkpoint", key, secret, token);
    expect_refused(f->a, &r, epoch(NOW), "AccessDeniedException", NULL);
    rq_free(&r);
    job_rq(&r, "PUT", "/api/v1/custom-connectors/" CID "/checkpoint", key, secret, NULL);
    expect_refused(f->a, &r, epoch(NOW), "UnrecognizedClientException", NULL);
    rq_free(&r);
    /* It outlives a restart: another struct auth reads it from the file. */
    auth_destroy(f->a);
    assert_int_equal(open_auth(f, 0), 0);
    job_rq(&r, "PUT", "/api/v1/custom-connectors/" CID "/checkpoint", key, secret, token);
    expect_ok(f->a, &r, epoch(NOW), NULL);
    /* Revoked: at once, and after a restart too. */
    auth_job_credentials_revoke(f->a, "ccj-0123456789ab");
    expect_refused(f->a, &r, epoch(NOW), "UnrecognizedClientException", NULL);
    auth_destroy(f->a);
    assert_int_equal(open_auth(f, 0), 0);
    expect_refused(f->a, &r, epoch(NOW), "UnrecognizedClientException", NULL);
    auth_job_credentials_revoke(f->a, "ccj-0123456789ab"); /* twice: nothing */
    rq_free(&r);
}

static void test_job_credentials_reissue_and_expiry(void **state)
{
    struct fx *f = *state;
    struct ccf_tenant t;
    char k1[64], s1[128], t1[512], k2[64], s2[128], t2[512];
    struct rq r;

    ccf_tenant_init(&t, "us-east-1", "444444444444");
    auth_destroy(f->a);
    assert_int_equal(open_auth(f, 60), 0);
    assert_int_equal(auth_job_credentials_issue(f->a, &t, CID, "ccj-0123456789ab", k1, s1, t1), 0);
    assert_int_equal(auth_job_credentials_issue(f->a, &t, CID, "ccj-0123456789ab", k2, s2, t2), 0);
    assert_string_not_equal(k1, k2);
    job_rq(&r, "GET", "/api/v1/custom-connectors/" CID "/documents", k1, s1, t1);
    expect_refused(f->a, &r, (int64_t)time(NULL), "UnrecognizedClientException", NULL);
    rq_free(&r);
    /* The lifetime: valid now, expired past it (the request's date
     * follows the clock, as a real client's would). */
    {
        char date[17];
        time_t later = time(NULL) + 120, now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
        rq_init(&r, "GET", "/api/v1/custom-connectors/" CID "/documents", NULL);
        r.h[1].value = date;
        rq_add(&r, "X-Amz-Security-Token", t2);
        rq_sign_as(&r, k2, s2, date, "us-east-1", "execute-api");
        expect_ok(f->a, &r, (int64_t)now, NULL);
        expect_refused(f->a, &r, (int64_t)later, "UnrecognizedClientException",
                       "The security token included in the request is expired.");
        rq_free(&r);
    }
}

/* ---- constant time and secrets ---- */

static void test_constant_time_compare(void **state)
{
    struct fx *f = *state;
    struct rq r;
    int before;

    rq_init(&r, "GET", "/", NULL);
    rq_sign(&r, KEY);
    before = atomic_load(&memcmp_calls);
    expect_ok(f->a, &r, epoch(NOW), NULL);
    assert_true(atomic_load(&memcmp_calls) > before);
    rq_free(&r);
    rq_init(&r, "GET", "/", NULL);
    rq_sign_as(&r, KEY, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", NOW, "us-east-1",
               "execute-api");
    before = atomic_load(&memcmp_calls);
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    assert_true(atomic_load(&memcmp_calls) > before);
    rq_free(&r);
    rq_init(&r, "GET", "/", NULL);
    rq_add(&r, "X-Amz-Security-Token", "wrong");
    rq_sign(&r, TOKEN_KEY);
    before = atomic_load(&memcmp_calls);
    expect_refused(f->a, &r, epoch(NOW), "UnrecognizedClientException", NULL);
    assert_true(atomic_load(&memcmp_calls) > before); /* the token too */
    rq_free(&r);
}

/* Every log line written while keys are created, issued, used and refused,
 * at DEBUG, holds no secret and no token. */
static void test_no_secret_in_log(void **state)
{
    struct fx *f = *state;
    char path[160], log[160], key_id[AUTH_KEY_ID_MAX + 1], secret[AUTH_SECRET_MAX + 1];
    char key[64], jsecret[128], token[512], *text;
    struct auth_credential_spec spec = {.account_id = ACCOUNT};
    struct ccf_tenant t;
    int saved, fd;
    struct rq r;
    long len;
    FILE *in;

    snprintf(path, sizeof(path), "%s/fresh", f->dir);
    snprintf(log, sizeof(log), "%s/log", f->dir);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    saved = dup(2);
    dup2(fd, 2);
    ccf_log_setup(CCF_LOG_DEBUG, CCF_LOG_LOGFMT);
    assert_int_equal(auth_credentials_init_file(path, ACCOUNT, key_id), 0);
    assert_int_equal(auth_credentials_add(f->keys, &spec, key_id, secret), 0);
    assert_int_equal(auth_credentials_reload(f->a), 0);
    ccf_tenant_init(&t, "us-east-1", ACCOUNT);
    assert_int_equal(
        auth_job_credentials_issue(f->a, &t, CID, "ccj-0123456789ab", key, jsecret, token), 0);
    job_rq(&r, "GET", "/api/v1/custom-connectors", key, jsecret, token);
    expect_refused(f->a, &r, epoch(NOW), "AccessDeniedException", NULL);
    r.body = "tampered";
    expect_refused(f->a, &r, epoch(NOW), "InvalidSignatureException", NULL);
    rq_free(&r);
    auth_job_credentials_revoke(f->a, "ccj-0123456789ab");
    ccf_log_setup(CCF_LOG_INFO, CCF_LOG_LOGFMT);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    in = fopen(log, "r");
    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    len = ftell(in);
    rewind(in);
    text = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(text, 1, (size_t)len, in), (size_t)len);
    fclose(in);
    assert_non_null(strstr(text, "auth.job_credentials_issued")); /* the log was captured */
    assert_non_null(strstr(text, "auth.signature_mismatch"));
    assert_null(strstr(text, secret));
    assert_null(strstr(text, jsecret));
    assert_null(strstr(text, token));
    assert_null(strstr(text, SECRET));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_mode_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_key_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_list_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_credentials_reissue_and_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constant_time_compare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_secret_in_log, setup, teardown),
    };

    /* The refusals under test log at ERROR on purpose; keep the rest quiet. */
    ccf_log_setup(CCF_LOG_ERROR, CCF_LOG_LOGFMT);
    return cmocka_run_group_tests_name("auth-keys", tests, NULL, NULL);
}
