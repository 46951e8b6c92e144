/* fuzz_audit.c: ListAuditEvents' query and cursors. Input: a mode byte,
 * then:
 *   0: a query string for GET /api/v1/audit-events (placeholders @A, @C as
 *      in harness.h), run through api_handle as both tenants: the harness's
 *      checks hold (contract statuses, error shape, JSON, isolation), and
 *      the answer is never a 500;
 *   1: a cursor minted for one tenant and offered, with the input as a
 *      suffix, by the other: never accepted; nor is an events cursor, which
 *      has another scope, by the same tenant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_env_reset(fuzz_env_get());
    return 0;
}

static void query(const char *s)
{
    struct fuzz_env *e = fuzz_env_get();
    char *q = fuzz_expand(e, s, strlen(s));
    size_t n = strlen(q) + 32;
    char *target = ccf_xmalloc(n);

    snprintf(target, n, "/api/v1/audit-events?%s", q);
    fuzz_request(e, false, "GET", target, NULL, "", 0);
    fuzz_request(e, true, "GET", target, NULL, "", 0);
    free(target);
    free(q);
}

static void foreign_cursor(const char *s)
{
    struct fuzz_env *e = fuzz_env_get();
    char *tok = api__token_encode(e->api, &e->tenant, "audit", "", "1");
    char *ev = api__token_encode(e->api, &e->tenant, "events", "", "1");
    size_t n = strlen(tok) + strlen(s) + 1;
    char *t = ccf_xmalloc(n), *key;

    snprintf(t, n, "%s%s", tok, s);
    key = api__token_decode(e->api, &e->other, "audit", "", t);
    FUZZ_CHECK(key == NULL, "another tenant's cursor decoded: '%s'", t);
    key = api__token_decode(e->api, &e->tenant, "audit", "", ev);
    FUZZ_CHECK(key == NULL, "an events cursor decoded as an audit one: '%s'", ev);
    free(t);
    free(ev);
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size < 1 || size > 2048)
        return 0;
    s = ccf_xmalloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] % 2 == 0)
        query(s);
    else
        foreign_cursor(s);
    free(s);
    return 0;
}
