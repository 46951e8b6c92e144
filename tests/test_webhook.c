/* test_webhook.c: the webhook module's pure parts (URL rules, the address
 * classes, the signature against an independent HMAC). The store's
 * webhooks are conformance cases, run on every backend
 * (tests/store_conf/webhooks.c). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/core.h"
#include "webhook/webhook.h"

static bool blocked(const char *addr)
{
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    if (inet_pton(AF_INET, addr, &in4.sin_addr) == 1)
        return webhook_addr_blocked((struct sockaddr *)&in4);
    assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
    return webhook_addr_blocked((struct sockaddr *)&in6);
}

static void test_address_classes(void **state)
{
    static const char *const refused[] = {"127.0.0.1",
                                          "127.255.0.9",
                                          "0.0.0.0",
                                          "169.254.169.254",
                                          "10.0.0.1",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "100.64.0.1",
                                          "100.127.255.255",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "::1",
                                          "::",
                                          "fe80::1",
                                          "fc00::1",
                                          "fd12::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.1.2.3",
                                          "ff02::1"};
    static const char *const allowed[] = {
        "8.8.8.8",     "172.15.255.255", "172.32.0.1",   "100.63.0.1",     "100.128.0.1",
        "192.169.0.1", "2001:db8::1",    "2606:4700::1", "::ffff:8.8.8.8", "169.253.0.1"};

    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_true(blocked(refused[i]) || (fprintf(stderr, "%s\n", refused[i]), false));
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        assert_false(blocked(allowed[i]) && (fprintf(stderr, "%s\n", allowed[i]), true));
}

static void test_url_parse(void **state)
{
    struct webhook_url u;
    char err[200];

    (void)state;
    assert_int_equal(webhook_url_parse("https://example.com/h?x=1", &u, err, sizeof(err)), 0);
    assert_true(u.https && u.port == 443 && !u.literal);
    assert_string_equal(u.host, "example.com");
    assert_int_equal(webhook_url_parse("http://[::1]:8080/", &u, err, sizeof(err)), 0);
    assert_true(!u.https && u.port == 8080 && u.literal);
    assert_string_equal(u.host, "::1");
    assert_int_equal(webhook_url_parse("HTTP://10.0.0.1", &u, err, sizeof(err)), 0);
    assert_true(u.literal && u.port == 80);
    static const char *const bad[] = {"",
                                      "ftp://example.com/",
                                      "example.com",
                                      "http:///path",
                                      "http://",
                                      "http://user:pw@example.com/",
                                      "http://user@example.com/",
                                      "http://example.com/a b",
                                      "http://example.com/\x01",
                                      "http://exa\xc3\xa9mple.com/",
                                      "http://example.com:0/",
                                      "http://example.com:70000/",
                                      "http://[fe80::1%25eth0]/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(webhook_url_parse(bad[i], &u, err, sizeof(err)), CCF_EINVAL);
        assert_non_null(strstr(err, "url"));
    }
}

static void test_url_check_resolves_and_refuses(void **state)
{
    char err[300];

    (void)state;
    assert_int_equal(webhook_url_check("http://127.0.0.1/", false, err, sizeof(err)), CCF_EINVAL);
    assert_non_null(strstr(err, "webhook-allow-private"));
    assert_int_equal(webhook_url_check("http://localhost/", false, err, sizeof(err)), CCF_EINVAL);
    assert_int_equal(webhook_url_check("http://127.0.0.1/", true, err, sizeof(err)), 0);
    assert_int_equal(webhook_url_check("http://8.8.8.8/", false, err, sizeof(err)), 0);
    assert_int_equal(webhook_url_check("http://no-such-host.invalid/", false, err, sizeof(err)),
                     CCF_EINVAL);
}

static void test_signature_is_hmac_of_t_dot_body(void **state)
{
    const char *secret = "whsec_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    const char *body = "{\"type\":\"ping\"}";
    unsigned char md[32];
    unsigned int n = 0;
    char sig[WEBHOOK_SIGNATURE_MAX], want[100], msg[64];

    (void)state;
    assert_int_equal(webhook_sign(secret, 1700000000, body, strlen(body), sig), 0);
    snprintf(msg, sizeof(msg), "1700000000.%s", body);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg), md,
         &n);
    assert_int_equal(n, 32);
    int k = snprintf(want, sizeof(want), "t=1700000000,v1=");
    for (unsigned i = 0; i < 32; i++)
        k += snprintf(want + k, sizeof(want) - (size_t)k, "%02x", md[i]);
    assert_string_equal(sig, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_classes),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_check_resolves_and_refuses),
        cmocka_unit_test(test_signature_is_hmac_of_t_dot_body),
    };

    return cmocka_run_group_tests_name("webhook", tests, NULL, NULL);
}
