/* fuzz_token.c: pagination tokens (api__token_encode/decode, fixed key) and
 * the store's page-key parsers behind them. Input: a mode byte, then:
 *   0: a token as a client sends it: decoding never crashes, and nothing
 *      longer than CCF_TOKEN_MAX or not issued by us decodes;
 *   1: a store key: encode then decode gives the key back, the token is
 *      URL-safe, at most CCF_TOKEN_MAX characters for any key the store can
 *      make, and useless to another tenant, list or filter;
 *   2: the payload of a token signed with the server's key (as if the key
 *      had leaked): whatever it decodes to, the store's key parsers take it
 *      or refuse it with CCF_EINVAL.
 * Every decoded key is also tried as `after` on the three listings. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/api_int.h"
#include "harness.h"

#define MAC_LEN 16 /* token.c's layout: mode | key | mac */

static struct api token_api; /* only token_key is used */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof(token_api.token_key); i++)
        token_api.token_key[i] = (unsigned char)(i * 7 + 1);
    fuzz_env_reset(fuzz_env_get());
    return 0;
}

static int visit_connector(void *ctx, const struct ccf_connector *c)
{
    (void)ctx;
    (void)c;
    return 0;
}

static int visit_job(void *ctx, const struct ccf_job *j)
{
    (void)ctx;
    (void)j;
    return 0;
}

static int visit_document(void *ctx, const struct ccf_document *d)
{
    (void)ctx;
    (void)d;
    return 0;
}

/* A key that came out of a token goes to the store as `after`. */
static void try_as_page_key(const char *key)
{
    struct fuzz_env *e = fuzz_env_get();
    struct store_page page = {.after = key, .limit = 2};
    char *next = NULL;
    int rc;

    rc = store_list_connectors(e->store, &e->tenant, &page, visit_connector, NULL, &next);
    FUZZ_CHECK(rc == 0 || rc == CCF_EINVAL, "list connectors after '%s': %d", key, rc);
    free(next);
    next = NULL;
    rc = store_list_jobs(e->store, &e->tenant, e->busy_id, 0, &page, visit_job, NULL, &next);
    FUZZ_CHECK(rc == 0 || rc == CCF_EINVAL, "list jobs after '%s': %d", key, rc);
    free(next);
    next = NULL;
    rc = store_list_documents(e->store, &e->tenant, e->busy_id, &page, visit_document, NULL, &next);
    FUZZ_CHECK(rc == 0 || rc == CCF_EINVAL, "list documents after '%s': %d", key, rc);
    free(next);
}

static void client_token(const char *tok)
{
    const struct fuzz_env *e = fuzz_env_get();
    char *key = api__token_decode(&token_api, &e->tenant, "connectors", "", tok);

    FUZZ_CHECK(!key || strlen(tok) <= CCF_TOKEN_MAX, "a %zu-char token decoded", strlen(tok));
    if (key)
        try_as_page_key(key);
    free(key);
}

static void round_trip(const char *key)
{
    const struct fuzz_env *e = fuzz_env_get();
    json_t *utf8 = json_string(key); /* NULL unless valid UTF-8 */
    size_t cps = ccf_utf8_count(key, strlen(key));
    char *tok = api__token_encode(&token_api, &e->tenant, "documents:x", "f", key);
    char *back = api__token_decode(&token_api, &e->tenant, "documents:x", "f", tok);
    char *wrong[3];

    FUZZ_CHECK(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                   strlen(tok),
               "token not URL-safe: %s", tok);
    /* The longest store key: a document id of 512 code points. */
    if (utf8 && key[0] && cps <= CCF_DOC_ID_MAX) {
        FUZZ_CHECK(strlen(tok) <= CCF_TOKEN_MAX, "token of %zu chars for a %zu-char key",
                   strlen(tok), cps);
        FUZZ_CHECK(back && strcmp(back, key) == 0, "round trip lost key '%s'", key);
    }
    FUZZ_CHECK(!back || strcmp(back, key) == 0, "round trip changed key '%s'", key);
    wrong[0] = api__token_decode(&token_api, &e->other, "documents:x", "f", tok);
    wrong[1] = api__token_decode(&token_api, &e->tenant, "documents:y", "f", tok);
    wrong[2] = api__token_decode(&token_api, &e->tenant, "documents:x", "", tok);
    FUZZ_CHECK(!wrong[0] && !wrong[1] && !wrong[2], "token accepted outside its scope");
    if (back)
        try_as_page_key(back);
    free(back);
    free(tok);
    json_decref(utf8);
}

static char *b64url(const unsigned char *in, size_t n)
{
    char *out = ccf_xmalloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return out;
}

/* Signs payload the way token.c does, so that decoding gets past the MAC. */
static void signed_payload(const uint8_t *payload, size_t n)
{
    static const char label[] = "ccf-page-token-v1";
    const struct fuzz_env *e = fuzz_env_get();
    const char *parts[] = {label, e->tenant.region, e->tenant.account_id, "connectors", ""};
    unsigned char *msg, *tokbuf, mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t len = n, off = 0;
    char *tok, *key;

    for (size_t i = 0; i < 5; i++)
        len += strlen(parts[i]) + 1;
    msg = ccf_xmalloc(len);
    for (size_t i = 0; i < 5; i++) {
        memcpy(msg + off, parts[i], strlen(parts[i]) + 1);
        off += strlen(parts[i]) + 1;
    }
    memcpy(msg + off, payload, n);
    HMAC(EVP_sha256(), token_api.token_key, sizeof(token_api.token_key), msg, len, mac, &maclen);
    tokbuf = ccf_xmalloc(n + MAC_LEN);
    memcpy(tokbuf, payload, n);
    memcpy(tokbuf + n, mac, MAC_LEN);
    tok = b64url(tokbuf, n + MAC_LEN);
    key = api__token_decode(&token_api, &e->tenant, "connectors", "", tok);
    if (key) {
        FUZZ_CHECK(n >= 2, "a token without a key decoded");
        json_t *utf8 = json_string(key); /* NULL unless valid UTF-8 */
        FUZZ_CHECK(utf8 || payload[0] != 1, "a packed key that is not UTF-8: '%s'", key);
        json_decref(utf8);
        try_as_page_key(key);
    }
    free(key);
    free(tok);
    free(tokbuf);
    free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size < 1 || size > 4096)
        return 0;
    if (data[0] % 3 == 2) {
        signed_payload(data + 1, size - 1);
        return 0;
    }
    s = ccf_xmalloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] % 3 == 0)
        client_token(s);
    else
        round_trip(s);
    free(s);
    return 0;
}
