/* test_server_tls.c: the listener's certificate generations (src/server/tls.c):
 * a pair loads, a reload swaps the generation while a holder keeps the old
 * one alive (ASan would see a use after free), a pair that does not load
 * keeps the current one, and the key file's mode is enforced. Certificates
 * are made with the openssl command in a temporary directory per test. */
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

#include "core/log.h"
#include "server/tls.h"

struct fx {
    char dir[64];
    char cert[96], key[96];
};

/* Runs a shell command in the fixture's directory; openssl's chatter goes. */
static int sh(const struct fx *f, const char *cmd)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "cd '%s' && { %s; } >/dev/null 2>&1", f->dir, cmd);

    return n > 0 && (size_t)n < sizeof(line) ? system(line) : -1;
}

/* A self-signed P-256 certificate NAME.pem with its key NAME.key (0600). */
static void make_pair(const struct fx *f, const char *name)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s.key -out %s.pem -days 2 -subj /CN=%s && chmod 600 %s.key",
             name, name, name, name);
    assert_int_equal(sh(f, cmd), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/ccf-test-tls-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->cert, sizeof(f->cert), "%s/tls.pem", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/tls.key", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Points tls.pem and tls.key at NAME's pair (copies: a reload reads them). */
static void use_pair(const struct fx *f, const char *cert, const char *key)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "cp %s.pem tls.pem && cp -p %s.key tls.key", cert, key);
    assert_int_equal(sh(f, cmd), 0);
}

/* The DER of the generation's leaf, to tell generations apart. */
static gnutls_datum_t leaf_of(struct server_tls_cert *c)
{
    gnutls_pcert_st *pcert;
    gnutls_privkey_t key;
    unsigned n;

    server__tls_cert_get(c, &pcert, &n, &key);
    assert_true(n >= 1);
    assert_non_null(key);
    return pcert[0].cert;
}

static bool same(gnutls_datum_t a, gnutls_datum_t b)
{
    return a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
}

static void test_reload_swaps_and_holders_keep_theirs(void **state)
{
    struct fx *f = *state;
    struct server_tls *t = NULL;
    struct server_tls_cert *old, *cur;
    gnutls_datum_t a;

    make_pair(f, "a");
    make_pair(f, "b");
    use_pair(f, "a", "a");
    assert_int_equal(server__tls_open(&t, f->cert, f->key), 0);
    old = server__tls_acquire(t); /* a connection mid-handshake */
    a = leaf_of(old);

    use_pair(f, "b", "b");
    assert_int_equal(server__tls_reload(t), 0);
    cur = server__tls_acquire(t);
    assert_ptr_not_equal(cur, old);
    assert_false(same(leaf_of(cur), a));
    /* The old generation outlived the swap: still readable, still a. */
    assert_true(same(leaf_of(old), a));
    server__tls_release(old); /* its last holder: freed here */
    server__tls_release(cur);

    /* A key that is not the certificate's: the current one stays. */
    use_pair(f, "a", "b");
    assert_int_equal(server__tls_reload(t), CCF_EINVAL);
    old = server__tls_acquire(t);
    assert_ptr_equal(old, cur);
    server__tls_release(old);
    server__tls_close(t); /* frees the current generation */
    server__tls_close(NULL);
    server__tls_release(NULL);
}

static void test_pairs_that_do_not_load(void **state)
{
    struct fx *f = *state;
    struct server_tls *t = NULL;
    char missing[128];

    make_pair(f, "a");
    make_pair(f, "b");
    use_pair(f, "a", "b");
    assert_int_equal(server__tls_open(&t, f->cert, f->key), CCF_EINVAL); /* mismatch */
    use_pair(f, "a", "a");
    assert_int_equal(chmod(f->key, 0644), 0);
    assert_int_equal(server__tls_open(&t, f->cert, f->key), CCF_EINVAL); /* others may read */
    assert_int_equal(chmod(f->key, 0640), 0); /* ssl-cert group: allowed */
    assert_int_equal(server__tls_open(&t, f->cert, f->key), 0);
    server__tls_close(t);
    t = NULL;
    assert_int_equal(chmod(f->key, 0660), 0); /* the group may write: no */
    assert_int_equal(server__tls_open(&t, f->cert, f->key), CCF_EINVAL);
    assert_int_equal(chmod(f->key, 0600), 0);
    assert_int_equal(server__tls_open(&t, f->key, f->key), CCF_EINVAL);   /* a key as cert */
    assert_int_equal(server__tls_open(&t, f->cert, f->cert), CCF_EINVAL); /* 0644 */
    snprintf(missing, sizeof(missing), "%s/missing.pem", f->dir);
    assert_int_equal(server__tls_open(&t, missing, f->key), CCF_EIO);
    assert_int_equal(server__tls_open(&t, f->dir, f->key), CCF_EINVAL); /* a directory */
    assert_int_equal(sh(f, "printf 'no PEM here' > tls.pem"), 0);
    assert_int_equal(server__tls_open(&t, f->cert, f->key), CCF_EINVAL);
    assert_null(t);
}

/* The leaf and its issuer, in order: a chain of two is served whole; out
 * of order it is refused. */
static void test_chain(void **state)
{
    struct fx *f = *state;
    struct server_tls *t = NULL;
    struct server_tls_cert *c;
    gnutls_pcert_st *pcert;
    gnutls_privkey_t key;
    unsigned n;

    make_pair(f, "ca");
    assert_int_equal(
        sh(f, "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
              "-keyout leaf.key -out leaf.csr -subj /CN=leaf && chmod 600 leaf.key && "
              "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
              "-out leaf.pem && cat leaf.pem ca.pem > tls.pem && cp -p leaf.key tls.key"),
        0);
    assert_int_equal(server__tls_open(&t, f->cert, f->key), 0);
    c = server__tls_acquire(t);
    server__tls_cert_get(c, &pcert, &n, &key);
    assert_int_equal(n, 2);
    server__tls_release(c);
    server__tls_close(t);
    t = NULL;
    assert_int_equal(sh(f, "cat ca.pem leaf.pem > tls.pem"), 0);
    assert_int_equal(server__tls_open(&t, f->cert, f->key), CCF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_swaps_and_holders_keep_theirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pairs_that_do_not_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
    };

    ccf_log_setup(CCF_LOG_ERROR, CCF_LOG_LOGFMT); /* each refusal logs one line */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
