/* fuzz_sigv4.c: SigV4 verification (auth_precheck, auth_verify) and
 * canonicalisation (auth_sigv4_canonical_request, auth_sign), against a
 * credentials file of three keys (plain, with a session token, scoped to
 * a connector). Input: a flags byte, then METHOD '\n' TARGET '\n', header
 * lines "Name: value" up to an empty line, then the body.
 *   flags bit 0 clear: the request as given (the fuzzer writes the
 *     Authorization header): every refusal is a 403 of one of the four
 *     errorTypes with a message that never holds a secret;
 *   flags bit 0 set: the request is signed by auth_sign with the plain key
 *     first (Host and X-Amz-Date set by the harness): whatever auth_sign
 *     accepts, the verifier accepts, as that key's account, and refuses
 *     once one byte of the body changes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/auth.h"
#include "harness.h"

#define HEADERS_MAX 24
#define SECRET      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define KEY_ID      "AKIDEXAMPLE00000"
#define AMZ_DATE    "20150830T123600Z"
#define NOW_S       1440938160 /* AMZ_DATE */

static const char credentials[] = "[" KEY_ID "]\n"
                                  "secret_access_key = " SECRET "\n"
                                  "account_id = 123456789012\n"
                                  "[ASIATOKEN0000000]\n"
                                  "secret_access_key = tokensecret0000000000000000000000000000\n"
                                  "account_id = 210987654321\n"
                                  "session_token = FQoGZXIvYXdzEXAMPLETOKEN\n"
                                  "[AKIASCOPED000000]\n"
                                  "secret_access_key = scopedsecret000000000000000000000000000\n"
                                  "account_id = 123456789012\n"
                                  "connector_id = cc-0123456789ab\n";

static struct auth *auth;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct auth_config cfg = {.region = "us-east-1"};
    char path[600];
    int fd;

    (void)argc;
    (void)argv;
    fuzz_env_get(); /* quiets the log */
    snprintf(path, sizeof(path), "%s/credentials", fuzz_tmpdir());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0 && write(fd, credentials, sizeof(credentials) - 1) ==
                              (ssize_t)(sizeof(credentials) - 1),
               "write %s", path);
    close(fd);
    cfg.credentials_path = path;
    FUZZ_CHECK(auth_create(&auth, &cfg) == 0, "auth_create");
    return 0;
}

struct request {
    char *method;
    char *target;
    char *lines[HEADERS_MAX];
    struct auth_header h[HEADERS_MAX + 3]; /* + Host, X-Amz-Date, Authorization */
    size_t nh;
    const uint8_t *body;
    size_t body_len;
};

/* Splits "Name: value" lines until an empty one; names may not be empty. */
static void parse(struct request *r, const uint8_t *data, size_t size)
{
    memset(r, 0, sizeof(*r));
    r->method = fuzz_field(&data, &size);
    r->target = fuzz_field(&data, &size);
    for (size_t i = 0; i < HEADERS_MAX && size > 0; i++) {
        char *line = fuzz_field(&data, &size), *colon;
        if (!line[0]) {
            free(line);
            break;
        }
        r->lines[i] = line;
        colon = strchr(line, ':');
        if (!colon || colon == line)
            continue;
        *colon = '\0';
        r->h[r->nh].name = line;
        r->h[r->nh++].value = colon + 1 + (colon[1] == ' ');
    }
    r->body = data;
    r->body_len = size;
}

static void request_free(struct request *r)
{
    for (size_t i = 0; i < HEADERS_MAX; i++)
        free(r->lines[i]);
    free(r->target);
    free(r->method);
}

/* The request's own bytes: a message may echo what the client sent. */
static const uint8_t *input;
static size_t input_len;

/* A secret the server holds shows in no message, unless the client sent it. */
static bool leaks(const char *message, const char *secret)
{
    return strstr(message, secret) && !memmem(input, input_len, secret, strlen(secret));
}

static void check_refusal(int rc, const struct auth_error *err)
{
    static const char *const types[] = {"MissingAuthenticationTokenException",
                                        "InvalidSignatureException", "UnrecognizedClientException",
                                        "AccessDeniedException"};
    bool known = false;

    FUZZ_CHECK(rc == CCF_EINVAL && err->status == 403 && err->error_type, "refusal %d/%d", rc,
               err->status);
    for (size_t i = 0; i < 4; i++)
        known = known || strcmp(err->error_type, types[i]) == 0;
    FUZZ_CHECK(known, "errorType %s", err->error_type);
    FUZZ_CHECK(err->message[0] && strnlen(err->message, AUTH_MESSAGE_MAX) < AUTH_MESSAGE_MAX,
               "message");
    FUZZ_CHECK(!leaks(err->message, SECRET) &&
                   !leaks(err->message, "tokensecret0000000000000000000000000000") &&
                   !leaks(err->message, "scopedsecret000000000000000000000000000") &&
                   !leaks(err->message, "FQoGZXIvYXdzEXAMPLETOKEN"),
               "a secret in an error message: %s", err->message);
}

/* Runs both steps; returns 0 and fills *who when the request is accepted. */
static int verify(const struct request *r, const void *body, size_t len, struct auth_principal *who)
{
    const struct auth_request req = {.method = r->method,
                                     .target = r->target,
                                     .headers = r->h,
                                     .nheaders = r->nh,
                                     .now_s = NOW_S};
    struct auth_pending *p = NULL;
    struct auth_error err = {0};
    int rc = auth_precheck(auth, &req, &p, &err);

    if (rc == 0) {
        rc = auth_verify(p, body, len, who, &err);
        auth_pending_free(p);
    }
    if (rc != 0)
        check_refusal(rc, &err);
    return rc;
}

static bool reserved(const char *name)
{
    static const char *const names[] = {
        "host",          "x-amz-date",           "date",
        "authorization", "x-amz-security-token", "x-amz-content-sha256"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

static void sign_then_verify(struct request *r)
{
    struct auth_sign_input in = {.method = r->method,
                                 .target = r->target,
                                 .body = r->body,
                                 .body_len = r->body_len,
                                 .access_key_id = KEY_ID,
                                 .secret = SECRET,
                                 .region = "us-east-1",
                                 .service = "execute-api",
                                 .amz_date = AMZ_DATE};
    struct auth_principal who;
    size_t n = 0;
    char *authz = NULL, *flipped;

    for (size_t i = 0; i < r->nh; i++) {
        if (!reserved(r->h[i].name))
            r->h[n++] = r->h[i];
    }
    r->h[n++] = (struct auth_header){"Host", "127.0.0.1:8787"};
    r->h[n++] = (struct auth_header){"X-Amz-Date", AMZ_DATE};
    r->nh = n;
    in.headers = r->h;
    in.nheaders = n;
    if (auth_sign(&in, &authz, NULL) < 0)
        return;
    r->h[r->nh++] = (struct auth_header){"Authorization", authz};
    FUZZ_CHECK(verify(r, r->body, r->body_len, &who) == 0,
               "a request auth_sign signed is refused: %s %s (Authorization: %s)", r->method,
               r->target, authz);
    FUZZ_CHECK(strcmp(who.tenant.account_id, "123456789012") == 0, "account %s",
               who.tenant.account_id);
    flipped = ccf_xmalloc(r->body_len + 1);
    memcpy(flipped, r->body, r->body_len);
    flipped[r->body_len > 0 ? r->body_len - 1 : 0] ^= 1;
    FUZZ_CHECK(verify(r, flipped, r->body_len ? r->body_len : 1, &who) != 0,
               "a changed body passes the signature");
    free(flipped);
    free(authz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request r;
    struct auth_principal who;
    char *creq = NULL;

    if (size < 1 || size > 16384)
        return 0;
    input = data;
    input_len = size;
    parse(&r, data + 1, size - 1);
    if (auth_sigv4_canonical_request(r.method, r.target, r.h, r.nh, "host;x-amz-date",
                                     "UNSIGNED-PAYLOAD", &creq) == 0)
        FUZZ_CHECK(creq != NULL, "canonical request");
    free(creq);
    if (data[0] & 1)
        sign_then_verify(&r);
    else if (verify(&r, r.body, r.body_len, &who) == 0)
        FUZZ_CHECK(strlen(who.tenant.account_id) == CCF_ACCOUNT_ID_LEN, "principal");
    request_free(&r);
    return 0;
}
