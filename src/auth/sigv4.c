/* sigv4.c: AWS Signature Version 4 building blocks shared by the verifier
 * and the signer: the canonical URI, query and headers, the canonical
 * request, the string to sign, the signing key, the Authorization header's
 * grammar and the two date formats. Pure functions: no table, no clock.
 *
 * Where AWS's description leaves room, botocore (what our clients run) is
 * the reference: the path is normalised as its remove_dot_segments does and
 * then quoted with safe "/~", so an escape on the wire is encoded again. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_int.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* ---- string builder ---- */

void auth__buf_add(struct auth__buf *b, const char *s, size_t n)
{
    size_t need;

    if (!ccf_size_add(b->len, n, &need) || !ccf_size_add(need, 1, &need))
        abort(); /* every input is bounded far below SIZE_MAX */
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < need)
            if (!ccf_size_mul(cap, 2, &cap))
                abort();
        b->p = ccf_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void auth__buf_adds(struct auth__buf *b, const char *s)
{
    auth__buf_add(b, s, strlen(s));
}

void auth__buf_addc(struct auth__buf *b, char c)
{
    auth__buf_add(b, &c, 1);
}

void auth__buf_clear(struct auth__buf *b)
{
    if (b->p)
        OPENSSL_cleanse(b->p, b->cap);
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- hashes ---- */

void auth__sha256(const void *d, size_t n, unsigned char out[32])
{
    SHA256(d, n, out);
}

void auth__hmac(const void *key, size_t klen, const void *d, size_t n, unsigned char out[32])
{
    unsigned int len = 32;

    if (klen > (size_t)INT32_MAX || !HMAC(EVP_sha256(), key, (int)klen, d, n, out, &len))
        abort(); /* only out of memory inside OpenSSL gets here */
}

void auth__hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool auth__unhex32(const char *s, unsigned char out[32])
{
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(s[2 * i]), lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return s[64] == '\0';
}

/* ---- canonical URI and query ---- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static void add_encoded(struct auth__buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            run++;
            continue;
        }
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        auth__buf_add(b, s + i - run, run);
        auth__buf_add(b, e, 3);
        run = 0;
    }
    auth__buf_add(b, s + n - run, run);
}

/* Decodes the valid %XX escapes of s into out (n bytes at least); a '%'
 * that starts no valid escape stays a '%'. Returns the decoded length. */
size_t auth__pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* botocore's remove_dot_segments, then quote(path, safe="/~"): empty and
 * "." segments go, ".." drops the one before, a leading '/' stays, and a
 * trailing '/' stays when a segment is left. */
static void canonical_uri(struct auth__buf *b, const char *path, size_t n)
{
    size_t max = n / 2 + 1, depth = 0, i = 0;
    const char **seg = ccf_xcalloc(max, sizeof(*seg));
    size_t *len = ccf_xcalloc(max, sizeof(*len));

    while (i <= n) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (depth > 0)
                depth--;
        } else if (j > i && !(j - i == 1 && path[i] == '.')) {
            seg[depth] = path + i;
            len[depth++] = j - i;
        }
        i = j + 1;
    }
    if (n > 0 && path[0] == '/')
        auth__buf_addc(b, '/');
    for (size_t k = 0; k < depth; k++) {
        if (k > 0)
            auth__buf_addc(b, '/');
        add_encoded(b, seg[k], len[k]);
    }
    if (n > 0 && path[n - 1] == '/' && depth > 0)
        auth__buf_addc(b, '/');
    if (n == 0)
        auth__buf_addc(b, '/');
    free(seg);
    free(len);
}

struct qparam {
    char *name; /* encoded, NUL-terminated */
    char *value;
};

static int qparam_cmp(const void *x, const void *y)
{
    const struct qparam *a = x, *b = y;
    int c = strcmp(a->name, b->name);

    return c ? c : strcmp(a->value, b->value);
}

static char *reencode(const char *s, size_t n, char *scratch)
{
    struct auth__buf b = {0};
    size_t m = auth__pct_decode(s, n, scratch);

    add_encoded(&b, scratch, m);
    if (!b.p)
        auth__buf_add(&b, "", 0);
    return b.p;
}

/* Splits on '&' (empty parts are skipped), decodes and re-encodes names and
 * values, sorts by name then value. */
static int canonical_query(struct auth__buf *b, const char *q, size_t n)
{
    struct qparam *v = ccf_xcalloc(AUTH__QUERY_MAX, sizeof(*v));
    char *scratch = ccf_xmalloc(n + 1);
    size_t count = 0, i = 0;
    int rc = 0;

    while (i < n) {
        size_t j = i, eq;
        while (j < n && q[j] != '&')
            j++;
        if (j > i) {
            if (count == AUTH__QUERY_MAX) {
                rc = CCF_EINVAL;
                goto out;
            }
            for (eq = i; eq < j && q[eq] != '='; eq++)
                ;
            v[count].name = reencode(q + i, eq - i, scratch);
            v[count].value =
                eq < j ? reencode(q + eq + 1, j - eq - 1, scratch) : reencode("", 0, scratch);
            count++;
        }
        i = j + 1;
    }
    qsort(v, count, sizeof(*v), qparam_cmp);
    for (size_t k = 0; k < count; k++) {
        if (k > 0)
            auth__buf_addc(b, '&');
        auth__buf_adds(b, v[k].name);
        auth__buf_addc(b, '=');
        auth__buf_adds(b, v[k].value);
    }
out:
    for (size_t k = 0; k < count; k++) {
        free(v[k].name);
        free(v[k].value);
    }
    free(v);
    free(scratch);
    return rc;
}

/* ---- canonical headers ---- */

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trimmed, with each run of spaces made one: botocore's ' '.join(v.split()). */
static void add_trimmed(struct auth__buf *b, const char *v)
{
    bool first = true;

    while (*v) {
        size_t n;
        while (space(*v))
            v++;
        for (n = 0; v[n] && !space(v[n]); n++)
            ;
        if (n == 0)
            break;
        if (!first)
            auth__buf_addc(b, ' ');
        auth__buf_add(b, v, n);
        first = false;
        v += n;
    }
}

/* "name:v1,v2\n" over every header called name, in the order received. */
static int canonical_header(struct auth__buf *b, const char *name, size_t nlen,
                            const struct auth_header *h, size_t nh)
{
    bool found = false;

    auth__buf_add(b, name, nlen);
    auth__buf_addc(b, ':');
    for (size_t i = 0; i < nh; i++) {
        if (strlen(h[i].name) != nlen || strncasecmp(h[i].name, name, nlen) != 0)
            continue;
        if (found)
            auth__buf_addc(b, ',');
        add_trimmed(b, h[i].value ? h[i].value : "");
        found = true;
    }
    auth__buf_addc(b, '\n');
    return found ? 0 : CCF_EINVAL;
}

int auth__canonical_prefix(struct auth__buf *b, const char *method, const char *target,
                           const struct auth_header *headers, size_t nheaders,
                           const char *signed_headers)
{
    size_t plen = strcspn(target, "?#");
    const char *q = target[plen] == '?' ? target + plen + 1 : "";
    const char *s = signed_headers;
    int rc;

    auth__buf_adds(b, method);
    auth__buf_addc(b, '\n');
    canonical_uri(b, target, plen);
    auth__buf_addc(b, '\n');
    if ((rc = canonical_query(b, q, strcspn(q, "#"))) < 0)
        return rc;
    auth__buf_addc(b, '\n');
    while (*s) {
        size_t n = strcspn(s, ";");
        if ((rc = canonical_header(b, s, n, headers, nheaders)) < 0)
            return rc;
        s += n + (s[n] == ';');
    }
    auth__buf_addc(b, '\n');
    auth__buf_adds(b, signed_headers);
    auth__buf_addc(b, '\n');
    return 0;
}

int auth_sigv4_canonical_request(const char *method, const char *target,
                                 const struct auth_header *headers, size_t nheaders,
                                 const char *signed_headers, const char *payload_hash, char **out)
{
    struct auth__buf b = {0};
    int rc = auth__canonical_prefix(&b, method, target, headers, nheaders, signed_headers);

    if (rc < 0) {
        auth__buf_clear(&b);
        return rc;
    }
    auth__buf_adds(&b, payload_hash);
    *out = b.p;
    return 0;
}

/* ---- signing ---- */

void auth_sigv4_signing_key(const char *secret, const char *date, const char *region,
                            const char *service, unsigned char out[32])
{
    struct auth__buf k = {0};
    unsigned char a[32], c[32];

    auth__buf_adds(&k, "AWS4");
    auth__buf_adds(&k, secret);
    auth__hmac(k.p, k.len, date, strlen(date), a);
    auth__hmac(a, 32, region, strlen(region), c);
    auth__hmac(c, 32, service, strlen(service), a);
    auth__hmac(a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(c, sizeof(c));
    auth__buf_clear(&k);
}

void auth__signature(const unsigned char key[32], const char *amz_date, const char *scope,
                     const char *creq, size_t creq_len, unsigned char out[32],
                     struct auth__buf *sts)
{
    unsigned char h[32];
    char hex[65];

    auth__sha256(creq, creq_len, h);
    auth__hex(h, 32, hex);
    auth__buf_adds(sts, ALGORITHM "\n");
    auth__buf_adds(sts, amz_date);
    auth__buf_addc(sts, '\n');
    auth__buf_adds(sts, scope);
    auth__buf_addc(sts, '\n');
    auth__buf_adds(sts, hex);
    auth__hmac(key, 32, sts->p, sts->len, out);
}

static int name_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static bool tchar_lower(char c);

/* Every header name given, lower case, sorted, once each. CCF_EINVAL for a
 * name that is not an HTTP token: the verifier would refuse its signature. */
static int signed_list(const struct auth_header *h, size_t n, struct auth__buf *out)
{
    char **names;
    size_t k = 0;
    bool tokens = true;

    if (n == 0 || n > AUTH__SIGNED_HEADERS_MAX)
        return CCF_EINVAL;
    names = ccf_xcalloc(n, sizeof(*names));
    for (size_t i = 0; i < n; i++) {
        names[i] = ccf_xstrdup(h[i].name);
        for (char *p = names[i]; *p; p++) {
            *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
            tokens = tokens && tchar_lower(*p);
        }
        tokens = tokens && names[i][0] != '\0';
    }
    qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; tokens && i < n; i++) {
        if (i == 0 || strcmp(names[i], names[i - 1]) != 0) {
            if (k++ > 0)
                auth__buf_addc(out, ';');
            auth__buf_adds(out, names[i]);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return tokens ? 0 : CCF_EINVAL;
}

int auth_sign(const struct auth_sign_input *in, char **authorization, char **string_to_sign)
{
    struct auth__buf list = {0}, creq = {0}, sts = {0}, scope = {0}, out = {0};
    unsigned char h[32], key[32], sig[32];
    char hex[65], date[9];
    int64_t t;
    int rc;

    if (!auth__parse_amz_date(in->amz_date, &t))
        return CCF_EINVAL;
    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    if ((rc = signed_list(in->headers, in->nheaders, &list)) < 0 ||
        (rc = auth__canonical_prefix(&creq, in->method, in->target, in->headers, in->nheaders,
                                     list.p)) < 0)
        goto out;
    auth__sha256(in->body ? in->body : "", in->body_len, h);
    auth__hex(h, 32, hex);
    auth__buf_adds(&creq, hex);
    auth__buf_adds(&scope, date);
    auth__buf_addc(&scope, '/');
    auth__buf_adds(&scope, in->region);
    auth__buf_addc(&scope, '/');
    auth__buf_adds(&scope, in->service);
    auth__buf_adds(&scope, "/aws4_request");
    auth_sigv4_signing_key(in->secret, date, in->region, in->service, key);
    auth__signature(key, in->amz_date, scope.p, creq.p, creq.len, sig, &sts);
    auth__hex(sig, 32, hex);
    auth__buf_adds(&out, ALGORITHM " Credential=");
    auth__buf_adds(&out, in->access_key_id);
    auth__buf_addc(&out, '/');
    auth__buf_adds(&out, scope.p);
    auth__buf_adds(&out, ", SignedHeaders=");
    auth__buf_adds(&out, list.p);
    auth__buf_adds(&out, ", Signature=");
    auth__buf_adds(&out, hex);
    *authorization = out.p;
    out.p = NULL;
    if (string_to_sign) {
        *string_to_sign = sts.p;
        sts.p = NULL;
    }
out:
    OPENSSL_cleanse(key, sizeof(key));
    auth__buf_clear(&list);
    auth__buf_clear(&creq);
    auth__buf_clear(&sts);
    auth__buf_clear(&scope);
    return rc;
}

/* ---- the Authorization header ---- */

static bool tchar_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+.^_`|~-", c);
}

/* Lower-case tokens, ';'-separated, strictly ascending (so sorted and
 * unique), at most AUTH__SIGNED_HEADERS_MAX of them. */
static bool signed_headers_valid(const char *s)
{
    const char *prev = NULL;
    size_t prev_len = 0, count = 0;

    while (true) {
        size_t n = 0;
        while (s[n] && s[n] != ';') {
            if (!tchar_lower(s[n]))
                return false;
            n++;
        }
        if (n == 0 || ++count > AUTH__SIGNED_HEADERS_MAX)
            return false;
        if (prev) {
            size_t m = prev_len < n ? prev_len : n;
            int c = memcmp(prev, s, m);
            if (c > 0 || (c == 0 && prev_len >= n))
                return false;
        }
        prev = s;
        prev_len = n;
        if (!s[n])
            return true;
        s += n + 1;
    }
}

bool auth__signed(const char *signed_headers, const char *name)
{
    size_t len = strlen(name);

    for (const char *s = signed_headers; *s;) {
        size_t n = strcspn(s, ";");
        if (n == len && strncasecmp(s, name, n) == 0)
            return true;
        s += n + (s[n] == ';');
    }
    return false;
}

static bool copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* Credential=AKID/20150830/us-east-1/service/aws4_request */
static bool parse_credential(const char *s, size_t n, struct auth__authz *out, const char **why)
{
    const char *p[5];
    size_t len[5], k = 0, start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '/')
            continue;
        if (k == 5) {
            *why = "Credential must be AKID/date/region/service/aws4_request";
            return false;
        }
        p[k] = s + start;
        len[k++] = i - start;
        start = i + 1;
    }
    *why = "Credential must be AKID/date/region/service/aws4_request";
    if (k != 5 || len[4] != 12 || memcmp(p[4], "aws4_request", 12) != 0)
        return false;
    if (!copy_part(out->key_id, sizeof(out->key_id), p[0], len[0]) ||
        !copy_part(out->region, sizeof(out->region), p[2], len[2]) ||
        !copy_part(out->service, sizeof(out->service), p[3], len[3]))
        return false;
    *why = "Credential's date must be 8 digits (YYYYMMDD)";
    if (len[1] != 8 || !copy_part(out->date, sizeof(out->date), p[1], len[1]))
        return false;
    for (size_t i = 0; i < 8; i++)
        if (out->date[i] < '0' || out->date[i] > '9')
            return false;
    return true;
}

static bool parse_param(const char *name, size_t nlen, const char *val, size_t vlen,
                        struct auth__authz *out, unsigned *seen, const char **why)
{
    char sig[65];

    if (nlen == 10 && memcmp(name, "Credential", 10) == 0 && !(*seen & 1)) {
        *seen |= 1;
        return parse_credential(val, vlen, out, why);
    }
    if (nlen == 13 && memcmp(name, "SignedHeaders", 13) == 0 && !(*seen & 2)) {
        *seen |= 2;
        *why = "SignedHeaders must be lower-case header names, sorted, separated by ';'";
        return copy_part(out->signed_headers, sizeof(out->signed_headers), val, vlen) &&
               signed_headers_valid(out->signed_headers);
    }
    if (nlen == 9 && memcmp(name, "Signature", 9) == 0 && !(*seen & 4)) {
        *seen |= 4;
        *why = "Signature must be 64 hexadecimal digits";
        return vlen == 64 && copy_part(sig, sizeof(sig), val, vlen) &&
               auth__unhex32(sig, out->signature);
    }
    *why = "Authorization header has an unknown or repeated part; it takes Credential, "
           "SignedHeaders and Signature once each";
    return false;
}

int auth__parse_authorization(const char *v, struct auth__authz *out, const char **why)
{
    size_t alen = strlen(ALGORITHM);
    unsigned seen = 0;

    memset(out, 0, sizeof(*out));
    *why = "Authorization header must start with AWS4-HMAC-SHA256 (SigV4, header form)";
    if (strncmp(v, ALGORITHM, alen) != 0 || (v[alen] != ' ' && v[alen] != '\t'))
        return CCF_EINVAL;
    v += alen;
    while (true) {
        const char *name, *val;
        size_t nlen, vlen;
        while (*v == ' ' || *v == '\t')
            v++;
        name = v;
        nlen = strcspn(v, "=, \t");
        if (nlen == 0 || v[nlen] != '=') {
            *why = "Authorization header must be AWS4-HMAC-SHA256 Credential=..., "
                   "SignedHeaders=..., Signature=...";
            return CCF_EINVAL;
        }
        val = v + nlen + 1;
        vlen = strcspn(val, ", \t");
        if (!parse_param(name, nlen, val, vlen, out, &seen, why))
            return CCF_EINVAL;
        v = val + vlen;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\0')
            break;
        if (*v++ != ',') {
            *why = "Authorization header's parts must be separated by commas";
            return CCF_EINVAL;
        }
    }
    if (seen != 7) {
        *why = seen & 1 ? seen & 2 ? "Authorization header requires a Signature part"
                                   : "Authorization header requires a SignedHeaders part"
                        : "Authorization header requires a Credential part";
        return CCF_EINVAL;
    }
    return 0;
}
