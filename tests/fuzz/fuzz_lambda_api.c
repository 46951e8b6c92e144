/* fuzz_lambda_api.c: API Gateway REST proxy events (lambda/events.h).
 * Input: the event's JSON, whose path may name the fixture's ids (@A, @C,
 * @J, @E: harness.h). A refusal says why in printable ASCII; an accepted
 * event gives a method of capitals, a request-target that starts with '/'
 * and holds only printable ASCII (everything else percent-encoded), a
 * 12-digit account and a body of the stated length; and the request it
 * decodes to passes api_handle with the contract's invariants. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lambda/events.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_env_get();
    return 0;
}

static void check_refusal(const char *err)
{
    FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
    for (const char *p = err; *p; p++)
        FUZZ_CHECK(*p >= 0x20 && *p < 0x7F, "unprintable reason: %s", err);
}

static void check_event(const struct lambda_api_event *ev)
{
    FUZZ_CHECK(ev->method[0] &&
                   strspn(ev->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(ev->method),
               "method %s", ev->method);
    FUZZ_CHECK(ev->target && ev->target[0] == '/', "target %s", ev->target);
    for (const char *p = ev->target; *p; p++)
        FUZZ_CHECK(*p > 0x20 && *p < 0x7F, "target byte 0x%02x", (unsigned char)*p);
    FUZZ_CHECK(strlen(ev->account_id) == 12 && strspn(ev->account_id, "0123456789") == 12,
               "account %s", ev->account_id);
    FUZZ_CHECK(!ev->body || strlen(ev->body) <= ev->body_len, "body length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *e = fuzz_env_get();
    char *text = fuzz_expand(e, (const char *)data, size), err[256] = "";
    json_t *root = json_loads(text, JSON_ALLOW_NUL, NULL); /* as dispatch.c loads events */
    struct lambda_api_event ev;

    if (root && lambda_api_event_decode(root, &ev, err, sizeof(err)) == 0) {
        check_event(&ev);
        fuzz_env_reset(e);
        fuzz_request(e, false, ev.method, ev.target, ev.content_type, ev.body ? ev.body : "",
                     ev.body_len);
        lambda_api_event_clear(&ev);
    } else if (root) {
        check_refusal(err);
    }
    json_decref(root);
    free(text);
    return 0;
}
