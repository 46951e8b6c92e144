/* token.c: pagination tokens. A token is base64url(mode | key | mac), where
 * mac = HMAC-SHA256(store secret, tenant, list scope, filter, mode | key)
 * truncated to 16 bytes: a client can neither forge one nor carry one to
 * another tenant, list or filter. The key is the store's page key; document
 * ids of up to 512 four-byte characters would not fit the contract's 2048
 * characters as raw UTF-8, so such keys are packed as 21-bit code points. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/api_int.h"

#define MAC_LEN     16
#define MODE_RAW    0
#define MODE_PACKED 1
#define KEY_MAX     2048 /* bytes of a store key; a document id is at most 512*4 */

static void token_mac(const struct api *a, const struct ccf_tenant *t, const char *scope,
                      const char *filter, const unsigned char *payload, size_t plen,
                      unsigned char out[MAC_LEN])
{
    static const char label[] = "ccf-page-token-v1";
    const char *parts[] = {label, t->region, t->account_id, scope, filter};
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int flen = 0;
    size_t len = plen, off = 0;
    unsigned char *msg;

    /* Each part ends in its NUL, so no two (scope, filter) pairs collide. */
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        len += strlen(parts[i]) + 1;
    msg = ccf_xmalloc(len);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        memcpy(msg + off, parts[i], strlen(parts[i]) + 1);
        off += strlen(parts[i]) + 1;
    }
    memcpy(msg + off, payload, plen);
    if (!HMAC(EVP_sha256(), a->token_key, sizeof(a->token_key), msg, len, full, &flen))
        abort(); /* only allocation can fail in a one-shot HMAC-SHA256 */
    free(msg);
    memcpy(out, full, MAC_LEN);
}

/* Decodes one UTF-8 sequence at s; returns its length, or 0 unless it is
 * the shortest form of a non-surrogate code point: only a key that
 * unpack21 gives back byte for byte may be packed (any other goes raw). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t shortest[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = s[0] < 0x80    ? 1
                 : s[0] >= 0xF8 ? 0
                 : s[0] >= 0xF0 ? 4
                 : s[0] >= 0xE0 ? 3
                 : s[0] >= 0xC0 ? 2
                                : 0;

    if (len == 0 || len > n)
        return 0;
    *cp = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7F >> len));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < shortest[len] || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

/* Packs key as 21-bit code points; returns the packed length, 0 if not UTF-8. */
static size_t pack21(const char *key, size_t n, unsigned char *out)
{
    const unsigned char *s = (const unsigned char *)key;
    uint64_t acc = 0;
    unsigned bits = 0;
    size_t o = 0, len;
    uint32_t cp;

    for (size_t i = 0; i < n; i += len) {
        if (!(len = utf8_next(s + i, n - i, &cp)) || cp == 0 || cp > 0x10FFFF)
            return 0;
        acc = (acc << 21) | cp;
        bits += 21;
        while (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    if (bits)
        out[o++] = (unsigned char)(acc << (8 - bits));
    return o;
}

static size_t utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The inverse of pack21; NULL for a code point that UTF-8 cannot hold. */
static char *unpack21(const unsigned char *in, size_t n)
{
    size_t count = n * 8 / 21, o = 0;
    char *out = ccf_xmalloc(count * 4 + 1);
    uint64_t acc = 0;
    unsigned bits = 0;
    size_t i = 0;

    for (size_t c = 0; c < count; c++) {
        while (bits < 21) {
            acc = (acc << 8) | in[i++];
            bits += 8;
        }
        bits -= 21;
        uint32_t cp = (uint32_t)(acc >> bits) & 0x1FFFFF;
        acc &= (1u << bits) - 1;
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            free(out);
            return NULL;
        }
        o += utf8_put(cp, out + o);
    }
    out[o] = '\0';
    return out;
}

static char *b64url_encode(const unsigned char *in, size_t n)
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

/* NULL unless s is canonical unpadded base64url. */
static unsigned char *b64url_decode(const char *s, size_t *outlen)
{
    size_t n = strlen(s), padded = (n + 3) / 4 * 4;
    char *tmp;
    unsigned char *out;
    int len;

    if (n == 0 || n % 4 == 1 ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789-_") != n)
        return NULL;
    tmp = ccf_xmalloc(padded + 1);
    for (size_t i = 0; i < n; i++)
        tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    memset(tmp + n, '=', padded - n);
    tmp[padded] = '\0';
    out = ccf_xmalloc(padded / 4 * 3 + 1);
    len = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded);
    free(tmp);
    if (len < 0) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)len - (padded - n);
    /* Unused low bits in the last character give several spellings of one
     * token; only the one we issue is a token. */
    tmp = b64url_encode(out, *outlen);
    if (strcmp(tmp, s) != 0) {
        free(tmp);
        free(out);
        return NULL;
    }
    free(tmp);
    return out;
}

char *api__token_encode(const struct api *a, const struct ccf_tenant *t, const char *scope,
                        const char *filter, const char *key)
{
    size_t klen = strlen(key), plen;
    unsigned char *buf = ccf_xmalloc(1 + 3 * klen + MAC_LEN); /* 21 bits per byte at worst */
    char *tok;

    plen = pack21(key, klen, buf + 1);
    if (plen > 0 && plen < klen) {
        buf[0] = MODE_PACKED;
    } else {
        buf[0] = MODE_RAW;
        memcpy(buf + 1, key, klen);
        plen = klen;
    }
    token_mac(a, t, scope, filter, buf, 1 + plen, buf + 1 + plen);
    tok = b64url_encode(buf, 1 + plen + MAC_LEN);
    free(buf);
    return tok;
}

char *api__token_decode(const struct api *a, const struct ccf_tenant *t, const char *scope,
                        const char *filter, const char *token)
{
    unsigned char mac[MAC_LEN], *buf = NULL;
    size_t n = 0, plen;
    char *key = NULL;

    if (strlen(token) > CCF_TOKEN_MAX || !(buf = b64url_decode(token, &n)) || n < 2 + MAC_LEN)
        goto out;
    plen = n - MAC_LEN;
    token_mac(a, t, scope, filter, buf, plen, mac);
    if (CRYPTO_memcmp(mac, buf + plen, MAC_LEN) != 0)
        goto out;
    if (buf[0] == MODE_PACKED)
        key = unpack21(buf + 1, plen - 1);
    else if (buf[0] == MODE_RAW && !memchr(buf + 1, '\0', plen - 1) && plen - 1 <= KEY_MAX)
        key = ccf_xstrndup((const char *)buf + 1, plen - 1);
out:
    free(buf);
    return key;
}
