/* idem.c: what idempotent requests and conditional checkpoint writes take
 * from a body: the client_token and the fingerprint of the rest of the
 * body, and a checkpoint put's expected_version. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/validate_int.h"

static bool token_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

static bool token_valid(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);

    if (!s || n < 1 || n > CCF_CLIENT_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!token_char(s[i]))
            return false;
    }
    return true;
}

/* SHA-256 of the body without client_token, dumped with sorted keys and no
 * blanks: two bodies that are the same JSON value, whatever their key order
 * and spacing, dump to the same text. */
static int fingerprint(const json_t *body, unsigned char hash[CCF_BODY_HASH_LEN])
{
    json_t *copy = body ? json_copy((json_t *)body) : json_object();
    char *text;
    int rc = 0;

    if (!copy)
        return CCF_ENOMEM;
    json_object_del(copy, "client_token");
    text = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(copy);
    if (!text)
        return CCF_ENOMEM;
    if (EVP_Digest(text, strlen(text), hash, NULL, EVP_sha256(), NULL) != 1)
        rc = CCF_EIO;
    free(text);
    return rc;
}

int ccf_client_token_from_json(const json_t *body, const char **token,
                               unsigned char hash[CCF_BODY_HASH_LEN], struct ccf_diag *d)
{
    const json_t *v = body ? json_object_get(body, "client_token") : NULL;
    int rc;

    if (v && !token_valid(v)) {
        ccf_diag_set(d,
                     "client_token must be a string of 1 to %d characters from "
                     "A-Z, a-z, 0-9, '_' and '-'",
                     CCF_CLIENT_TOKEN_MAX);
        return CCF_EINVAL;
    }
    if (!v) {
        *token = NULL;
        return 0;
    }
    if ((rc = fingerprint(body, hash)) < 0)
        return rc;
    *token = json_string_value(v);
    return 0;
}

int ccf_checkpoint_expected_version(const json_t *body, int64_t *out, struct ccf_diag *d)
{
    const json_t *v = json_object_get(body, "expected_version");

    if (!v) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        ccf_diag_set(d, "expected_version must be an integer of 0 (no checkpoint) or more");
        return CCF_EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}
