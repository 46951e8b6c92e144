/* keys.c: the strings every store backend makes and parses: tenant keys
 * ("region:account_id"), page keys and UTF-8 checks. Page keys come back from
 * clients (through signed tokens, but still): every parser here is strict. */
#include "store/backend_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define KEY_TIME_DIGITS 16

void store__tenant_key(const struct ccf_tenant *t, char out[STORE__TENANT_KEY_MAX])
{
    size_t rl = strnlen(t->region, CCF_REGION_MAX);
    size_t al = strnlen(t->account_id, CCF_ACCOUNT_ID_LEN);

    memcpy(out, t->region, rl);
    out[rl] = ':';
    memcpy(out + rl + 1, t->account_id, al);
    out[rl + 1 + al] = '\0';
}

int store__tenant_parse(const char *key, struct ccf_tenant *out)
{
    char region[CCF_REGION_MAX + 1];
    const char *colon = strchr(key, ':');
    size_t rl;

    if (!colon || (rl = (size_t)(colon - key)) > CCF_REGION_MAX)
        return CCF_EINVAL;
    memcpy(region, key, rl);
    region[rl] = '\0';
    return ccf_tenant_init(out, region, colon + 1);
}

int store__page_check(const struct store_page *p)
{
    return p && p->limit >= 1 && p->limit <= CCF_DOC_PAGE_MAX ? 0 : CCF_EINVAL;
}

char *store__key_format(int64_t created_at, const char *id)
{
    char buf[KEY_TIME_DIGITS + 1 + CCF_JOB_ID_LEN + 1];
    int n = snprintf(buf, sizeof(buf), "%016" PRIx64 ":%s", (uint64_t)created_at, id);

    /* Ids are checked when read, so this cannot happen; fail safe anyway. */
    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    return ccf_xstrdup(buf);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int store__keyset_parse(const struct store_page *p, bool (*id_valid)(const char *),
                        int64_t first_at, struct store__keyset *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    out->after_at = first_at;
    if ((rc = store__page_check(p)) < 0 ||
        (p->after && (rc = store__key_parse(p->after, id_valid, &out->after_at, out->after_id,
                                            sizeof(out->after_id))) < 0))
        return rc;
    out->limit = p->limit;
    out->after = p->after;
    return 0;
}

int store__key_parse(const char *key, bool (*id_valid)(const char *), int64_t *created_at, char *id,
                     size_t id_size)
{
    uint64_t v = 0;
    size_t idl;

    if (!key || strnlen(key, KEY_TIME_DIGITS + 1) <= KEY_TIME_DIGITS || key[KEY_TIME_DIGITS] != ':')
        return CCF_EINVAL;
    for (size_t i = 0; i < KEY_TIME_DIGITS; i++) {
        int d = hex_digit(key[i]);
        if (d < 0)
            return CCF_EINVAL;
        v = v << 4 | (uint64_t)d;
    }
    key += KEY_TIME_DIGITS + 1;
    if (v > INT64_MAX || !id_valid(key) || (idl = strlen(key)) >= id_size)
        return CCF_EINVAL;
    memcpy(id, key, idl + 1);
    *created_at = (int64_t)v;
    return 0;
}

/* Length of the UTF-8 sequence at s and its code point; 0 if malformed
 * (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    size_t n;
    uint32_t v, min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        v = s[0] & 0x1fu;
        min = 0x80;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        v = s[0] & 0x0fu;
        min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        v = s[0] & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        v = v << 6 | (s[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

bool store__doc_key_valid(const char *key)
{
    const unsigned char *p = (const unsigned char *)key;
    size_t chars = 0, n;
    uint32_t cp;

    if (!key || !*key)
        return false;
    for (; *p; p += n) {
        if (++chars > CCF_DOC_ID_MAX || (n = utf8_decode(p, &cp)) == 0)
            return false;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return false;
    }
    return true;
}

size_t store__utf8_prefix(const char *s, size_t max_chars)
{
    size_t i, chars = 0;

    /* A code point starts at every byte that is not a continuation byte. */
    for (i = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == max_chars)
            break;
    }
    return i;
}

int store__webhook_new(char id[STORE_WEBHOOK_ID_LEN + 1], char secret[STORE_WEBHOOK_SECRET_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[6 + 33];
    size_t o = 6;
    int rc;

    if ((rc = ccf_random_bytes(r, sizeof(r) - 1)) < 0)
        return rc;
    r[sizeof(r) - 1] = 0; /* pads the last group: 32 bytes are 43 chars */
    memcpy(id, "wh-", 3);
    for (size_t i = 0; i < 6; i++) {
        id[3 + 2 * i] = hex[r[i] >> 4];
        id[4 + 2 * i] = hex[r[i] & 15];
    }
    id[STORE_WEBHOOK_ID_LEN] = '\0';
    memcpy(secret, "whsec_", 6);
    for (size_t i = 6; i < 6 + 33; i += 3) {
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
        for (int k = 3; k >= 0 && o < STORE_WEBHOOK_SECRET_LEN; k--)
            secret[o++] = b64[(v >> (6 * k)) & 63];
    }
    secret[STORE_WEBHOOK_SECRET_LEN] = '\0';
    memset(r, 0, sizeof(r));
    return 0;
}
