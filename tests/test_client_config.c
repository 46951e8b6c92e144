/* test_client_config.c: libccf without a server: credentials files, the
 * credentials chain and the handle's configuration checks. */
#include "client_fixture.h"

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
        cmocka_unit_test(test_credentials_parse), cmocka_unit_test(test_credentials_sources),
        cmocka_unit_test(test_shared_parse),      cmocka_unit_test(test_shared_parse_long_lines),
        cmocka_unit_test(test_credentials_chain), cmocka_unit_test(test_client_config),
        cmocka_unit_test(test_client_ca_bundle),  cmocka_unit_test(test_connection_refused),
    };

    ccf_client_global_init();
    return cmocka_run_group_tests_name("client-config", tests, NULL, NULL);
}
