/* test_console.c: the web console's routes (server/console.c) over the
 * real compiled-in table: the redirects, the page and config.json with
 * their headers, every asset reachable under its hashed name with a year's
 * cache, 404 for unknown names and for every traversal or encoding trick,
 * 405 with Allow for other methods, and which paths the console owns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/console.h"
#include "server/console_assets.h"

static const char *header(const struct server_console_answer *a, const char *name)
{
    for (size_t i = 0; i < a->nheaders; i++) {
        if (strcmp(a->headers[i].name, name) == 0)
            return a->headers[i].value;
    }
    return NULL;
}

static void check_security(const struct server_console_answer *a)
{
    const char *csp = header(a, "Content-Security-Policy");

    assert_non_null(csp);
    assert_non_null(strstr(csp, "default-src 'self'"));
    assert_non_null(strstr(csp, "script-src 'self'"));
    assert_non_null(strstr(csp, "connect-src 'self'"));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    assert_null(strstr(csp, "unsafe"));
    assert_string_equal(header(a, "X-Content-Type-Options"), "nosniff");
}

static int setup(void **state)
{
    struct server_console *c;

    server__console_create(&c, "eu-west-3", "execute-api");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    server__console_destroy(*state);
    return 0;
}

static void test_redirects(void **state)
{
    struct server_console_answer a;

    for (const char *const *p = (const char *const[]){"/", "/console", NULL}; *p; p++) {
        server__console_answer(*state, "GET", *p, &a);
        assert_int_equal(a.status, 302);
        assert_string_equal(header(&a, "Location"), "/console/");
        assert_null(a.body);
        check_security(&a);
    }
}

static void test_page_is_revalidated(void **state)
{
    struct server_console_answer a;

    server__console_answer(*state, "GET", "/console/", &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.content_type, "text/html; charset=utf-8");
    assert_string_equal(header(&a, "Cache-Control"), "no-cache");
    assert_true(a.len > 0 && memmem(a.body, a.len, "./assets/app.", 13));
    check_security(&a);
    server__console_answer(*state, "HEAD", "/console/", &a);
    assert_int_equal(a.status, 200);
}

static void test_config_json(void **state)
{
    struct server_console_answer a;
    static const char want[] = "{\"region\":\"eu-west-3\",\"service\":\"execute-api\"}";

    server__console_answer(*state, "GET", "/console/config.json", &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.content_type, "application/json");
    assert_int_equal(a.len, strlen(want));
    assert_memory_equal(a.body, want, a.len);
    assert_string_equal(header(&a, "Cache-Control"), "no-cache");
}

/* Every asset of the table, under its own path: hashed, cached a year. */
static void test_every_asset(void **state)
{
    struct server_console_answer a;
    size_t hashed = 0;

    assert_true(server__console_nassets >= 2);
    for (size_t i = 0; i < server__console_nassets; i++) {
        const struct server_console_asset *x = &server__console_assets[i];
        server__console_answer(*state, "GET", x->path, &a);
        assert_int_equal(a.status, 200);
        assert_ptr_equal(a.body, x->data);
        assert_int_equal(a.len, x->len);
        check_security(&a);
        if (!x->immutable)
            continue;
        hashed++;
        assert_int_equal(strncmp(x->path, "/console/assets/", 16), 0);
        assert_string_equal(header(&a, "Cache-Control"), "public, max-age=31536000, immutable");
    }
    assert_int_equal(hashed, server__console_nassets - 1); /* all but the page */
}

static void test_unknown_and_traversal_are_404(void **state)
{
    static const char *const paths[] = {
        "/console/nope",
        "/console/index.html",
        "/console/assets/",
        "/console/assets/app.js",
        "/console/../healthz",
        "/console/./",
        "/console//",
        "/console/%2e%2e/healthz",
        "/console/assets/..%2f..%2fetc%2fpasswd",
        "/console/assets/../../etc/passwd",
        "/console/config.json/",
        "/console/config.json%00",
        "/console/CONFIG.JSON",
        "/console/\\..\\healthz",
    };
    struct server_console_answer a;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        server__console_answer(*state, "GET", paths[i], &a);
        assert_int_equal(a.status, 404);
        assert_null(a.body);
        assert_non_null(a.message);
        check_security(&a);
    }
}

static void test_other_methods_are_405(void **state)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"};
    struct server_console_answer a;

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        server__console_answer(*state, methods[i], "/console/", &a);
        assert_int_equal(a.status, 405);
        assert_string_equal(header(&a, "Allow"), "GET, HEAD");
        assert_non_null(a.message);
    }
}

static void test_owns(void **state)
{
    (void)state;
    assert_true(server__console_owns("/"));
    assert_true(server__console_owns("/console"));
    assert_true(server__console_owns("/console/"));
    assert_true(server__console_owns("/console/anything"));
    assert_false(server__console_owns(""));
    assert_false(server__console_owns("/consoles"));
    assert_false(server__console_owns("/console.html"));
    assert_false(server__console_owns("/api/v1/custom-connectors"));
    assert_false(server__console_owns("/healthz"));
    assert_false(server__console_owns("//"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_redirects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_is_revalidated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_asset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_traversal_are_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_methods_are_405, setup, teardown),
        cmocka_unit_test(test_owns),
    };

    return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
