/* fuzz_router.c: the router: a method and a raw request-target (path and
 * query) with no body, through api_handle over a real store, so that every
 * route, the contract's order of checks (404, 405, path ids, query 400) and
 * the query and pagination parsers see hostile input. Input: a flags byte
 * (bit 0: as another account), then METHOD '\n' TARGET; @A @C @J @E in
 * TARGET name the fixture (harness.h). The percent-decoder and the query
 * splitter are also checked on their own against their promises. */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_env_get();
    return 0;
}

/* api__pct_decode: never longer than its input, never a NUL inside, and a
 * string without '%' or '+' decodes to itself. */
static void check_decode(const char *s, size_t n)
{
    char *d = api__pct_decode(s, n, true);

    if (d) {
        FUZZ_CHECK(strlen(d) <= n, "decoded %zu bytes from %zu", strlen(d), n);
        if (!memchr(s, '%', n) && !memchr(s, '+', n))
            FUZZ_CHECK(strlen(d) == n && memcmp(d, s, n) == 0, "plain text changed");
    } else {
        FUZZ_CHECK(memchr(s, '%', n) || memchr(s, '\0', n), "plain text refused");
    }
    free(d);
}

/* api__query_parse: at most API__QUERY_MAX parameters, each one either
 * bad or with both strings set. */
static void check_query(struct fuzz_env *e, const char *q)
{
    struct api__call call = {.api = e->api};

    if (api__query_parse(&call, q) == 0) {
        FUZZ_CHECK(call.nquery <= API__QUERY_MAX, "%zu parameters", call.nquery);
        for (size_t i = 0; i < call.nquery; i++)
            FUZZ_CHECK(call.query[i].bad || (call.query[i].name && call.query[i].value),
                       "parameter %zu half decoded", i);
    }
    api__query_free(&call);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *e = fuzz_env_get();
    uint8_t flags;
    char *method, *raw, *target;
    const char *q;

    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    method = fuzz_field(&data, &size);
    raw = fuzz_field(&data, &size);
    target = fuzz_expand(e, raw, strlen(raw));
    check_decode(target, strlen(target));
    q = strchr(target, '?');
    check_query(e, q ? q + 1 : "");
    fuzz_env_reset(e);
    fuzz_request(e, flags & 1, method, target, NULL, NULL, 0);
    free(target);
    free(raw);
    free(method);
    return 0;
}
