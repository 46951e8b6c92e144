/* fuzz_events.c: ListEvents' new parsers. Input: a mode byte, then:
 *   0: a types filter (api__event_types): it is taken only when every
 *      comma-separated element is a known type, and then comes back as
 *      ",a,b," with exactly the input's elements;
 *   1: a query string for GET /api/v1/events (placeholders @A, @C as in
 *      harness.h), run through api_handle as both tenants: the harness's
 *      checks hold (contract statuses, error shape, JSON, isolation), and
 *      the answer is never a 500;
 *   2: a cursor minted for one tenant and offered, with the input as a
 *      suffix, by the other: never accepted. */
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

static void types(const char *s)
{
    char *out = NULL, bad[48];
    int rc = api__event_types(s, &out, bad, sizeof(bad));

    if (rc < 0) {
        FUZZ_CHECK(out == NULL, "refused types left an output");
        return;
    }
    FUZZ_CHECK(rc == 0 && out, "types: %d", rc);
    FUZZ_CHECK(strlen(out) == strlen(s) + 2 && out[0] == ',' && out[strlen(out) - 1] == ',' &&
                   strncmp(out + 1, s, strlen(s)) == 0,
               "types '%s' came back as '%s'", s, out);
    FUZZ_CHECK(strstr(out, ",,") == NULL, "an empty element was taken: '%s'", s);
    free(out);
}

static void query(const char *s)
{
    struct fuzz_env *e = fuzz_env_get();
    char *q = fuzz_expand(e, s, strlen(s));
    size_t n = strlen(q) + 32;
    char *target = ccf_xmalloc(n);

    snprintf(target, n, "/api/v1/events?%s", q);
    fuzz_request(e, false, "GET", target, NULL, "", 0);
    fuzz_request(e, true, "GET", target, NULL, "", 0);
    free(target);
    free(q);
}

static void foreign_cursor(const char *s)
{
    struct fuzz_env *e = fuzz_env_get();
    char *tok = api__token_encode(e->api, &e->tenant, "events", "", "1");
    size_t n = strlen(tok) + strlen(s) + 1;
    char *t = ccf_xmalloc(n), *key;

    snprintf(t, n, "%s%s", tok, s);
    key = api__token_decode(e->api, &e->other, "events", "", t);
    FUZZ_CHECK(key == NULL, "another tenant's cursor decoded: '%s'", t);
    free(t);
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
    switch (data[0] % 3) {
    case 0:
        types(s);
        break;
    case 1:
        query(s);
        break;
    default:
        foreign_cursor(s);
        break;
    }
    free(s);
    return 0;
}
