/* fuzz_webhook.c: the webhook parsers. Input: a mode byte, then:
 *   0: a URL (webhook_url_parse, pure): a URL it takes is http or https,
 *      names a host without blanks, controls or '%', and a port 1..65535;
 *      a literal host parses back as an address, and the address classes
 *      decide on it without crashing;
 *   1: a CreateWebhook body through api_handle as both tenants (the
 *      harness's checks: contract statuses, error shape, JSON, never a
 *      500); a url naming a host by name is replaced by a literal public
 *      address, so that no input makes the target wait on DNS;
 *   2: a path under /api/v1/webhooks/ with a GET, DELETE or POST. */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "webhook/webhook.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_env_reset(fuzz_env_get());
    return 0;
}

static void url(const char *s)
{
    struct webhook_url u;
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    char err[200] = "";
    bool v4, v6;

    if (webhook_url_parse(s, &u, err, sizeof(err)) < 0) {
        FUZZ_CHECK(strncmp(err, "url: ", 5) == 0, "a refusal that names no field: '%s'", err);
        return;
    }
    FUZZ_CHECK(strncmp(s, "http", 4) == 0 || strncmp(s, "HTTP", 4) == 0 || s[0] == 'h' ||
                   s[0] == 'H',
               "not http(s) but taken: '%s'", s);
    FUZZ_CHECK(u.host[0] && !strpbrk(u.host, " \t\r\n%@"), "host '%s' of '%s'", u.host, s);
    FUZZ_CHECK(u.port >= 1 && u.port <= 65535, "port %u of '%s'", u.port, s);
    v4 = inet_pton(AF_INET, u.host, &in4.sin_addr) == 1;
    v6 = inet_pton(AF_INET6, u.host, &in6.sin6_addr) == 1;
    FUZZ_CHECK(u.literal == (v4 || v6), "literal %d for host '%s'", u.literal, u.host);
    if (v4)
        (void)webhook_addr_blocked((struct sockaddr *)&in4);
    if (v6)
        (void)webhook_addr_blocked((struct sockaddr *)&in6);
}

/* The body, its url made a literal address when it names a host. */
static char *no_dns(const char *s)
{
    json_t *o = json_loads(s, JSON_DECODE_ANY, NULL);
    const char *v = json_string_value(json_object_get(o, "url"));
    struct webhook_url u;
    char err[200], *out;

    if (!json_is_object(o) || !v || webhook_url_parse(v, &u, err, sizeof(err)) < 0 || u.literal) {
        json_decref(o);
        return strdup(s);
    }
    json_object_set_new(o, "url", json_string("http://192.0.2.1/hook"));
    out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out ? out : strdup(s);
}

static void create(const char *s)
{
    struct fuzz_env *e = fuzz_env_get();
    char *body = no_dns(s);

    fuzz_request(e, false, "POST", "/api/v1/webhooks", "application/json", body, strlen(body));
    /* As the other account too, unless the body itself names the
     * fixture's ids: a 400 may quote the body back, which the harness
     * would take for a leak. */
    if (!strstr(body, e->idle_id) && !strstr(body, e->busy_id) && !strstr(body, e->job_id) &&
        !strstr(body, e->ended_id))
        fuzz_request(e, true, "POST", "/api/v1/webhooks", "application/json", body, strlen(body));
    free(body);
}

static void path(const char *s)
{
    static const char *const methods[] = {"GET", "DELETE", "POST"};
    struct fuzz_env *e = fuzz_env_get();
    size_t n = strlen(s) + 32;
    char *target = malloc(n);

    snprintf(target, n, "/api/v1/webhooks/%s", s[0] ? s + 1 : s);
    fuzz_request(e, (s[0] & 1) != 0, methods[(unsigned char)s[0] % 3], target, NULL, NULL, 0);
    free(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size < 1 || size > 4096)
        return 0;
    s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        url(s);
        break;
    case 1:
        create(s);
        break;
    default:
        path(s);
        break;
    }
    free(s);
    return 0;
}
