/* url.c: the webhook URL rules and the signature. Parsing is libcurl's
 * (the parser that will connect), the address classes are the contract's,
 * and a host name is checked by every address it resolves to, so that one
 * private address among public ones is enough to refuse it. */
#include "webhook/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t n, const char *msg, const char *arg)
    __attribute__((format(printf, 3, 0)));

static int fail(char *err, size_t n, const char *msg, const char *arg)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(err, n, msg, arg); /* msg: one of this file's literals, one %s */
#pragma GCC diagnostic pop
    return CCF_EINVAL;
}

/* No controls, no blanks, no bytes past ASCII (libcurl would escape them). */
static bool clean(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static int take_host(CURLU *u, struct webhook_url *out, char *err, size_t n)
{
    char *host = NULL;
    size_t len;
    struct in6_addr a6;
    struct in_addr a4;

    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
        curl_free(host);
        return fail(err, n, "url: %s", "names no host");
    }
    len = strlen(host);
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
        memmove(host, host + 1, len - 2);
        host[len - 2] = '\0';
        len -= 2;
    }
    if (len >= sizeof(out->host) || strchr(host, '%')) { /* no IPv6 zone ids */
        curl_free(host);
        return fail(err, n, "url: %s", "the host is not valid");
    }
    memcpy(out->host, host, len + 1);
    curl_free(host);
    out->literal =
        inet_pton(AF_INET, out->host, &a4) == 1 || inet_pton(AF_INET6, out->host, &a6) == 1;
    return 0;
}

static int take_port(CURLU *u, struct webhook_url *out, char *err, size_t n)
{
    char *port = NULL;
    long p;

    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK || !port)
        return fail(err, n, "url: %s", "has no valid port");
    p = strtol(port, NULL, 10);
    curl_free(port);
    if (p < 1 || p > 65535)
        return fail(err, n, "url: %s", "the port must be from 1 to 65535");
    out->port = (unsigned)p;
    return 0;
}

int webhook_url_parse(const char *url, struct webhook_url *out, char *err, size_t n)
{
    struct webhook_url w = {0};
    CURLU *u;
    char *part = NULL;
    int rc = CCF_EINVAL;

    if (!url || !*url || strlen(url) > STORE_WEBHOOK_URL_MAX)
        return fail(err, n, "url: %s", "must be 1 to 2048 characters");
    if (!clean(url))
        return fail(err, n, "url: %s", "must not hold blanks, control or non-ASCII characters");
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return fail(err, n, "url: %s", "must start with http:// or https://");
    if (strchr(url, ':')[3] == '/' || strchr(url, ':')[3] == '\0') /* "http:///x": no host */
        return fail(err, n, "url: %s", "names no host");
    if (!(u = curl_url()))
        return CCF_ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        fail(err, n, "url: %s", "is not a valid URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
        fail(err, n, "url: %s", "must not hold a user name or password");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_ZONEID, &part, 0) == CURLUE_OK) {
        fail(err, n, "url: %s", "must not name an IPv6 zone");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &part, 0) != CURLUE_OK || !part) {
        fail(err, n, "url: %s", "must start with http:// or https://");
        goto out;
    }
    w.https = strcasecmp(part, "https") == 0;
    if ((rc = take_host(u, &w, err, n)) < 0 || (rc = take_port(u, &w, err, n)) < 0)
        goto out;
    *out = w;
    rc = 0;
out:
    curl_free(part);
    curl_url_cleanup(u);
    return rc;
}

static bool v4_blocked(uint32_t a)
{
    static const struct {
        uint32_t net, mask;
    } nets[] = {
        {0x7f000000, 0xff000000}, /* 127/8 loopback */
        {0x00000000, 0xff000000}, /* 0/8 unspecified */
        {0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local */
        {0x0a000000, 0xff000000}, /* 10/8 */
        {0xac100000, 0xfff00000}, /* 172.16/12 */
        {0xc0a80000, 0xffff0000}, /* 192.168/16 */
        {0x64400000, 0xffc00000}, /* 100.64/10 shared */
        {0xe0000000, 0xe0000000}, /* 224/3: multicast, reserved, broadcast */
    };

    for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
        if ((a & nets[i].mask) == nets[i].net)
            return true;
    return false;
}

bool webhook_addr_blocked(const struct sockaddr *sa)
{
    const unsigned char *b;
    static const unsigned char zero[12] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (sa->sa_family == AF_INET)
        return v4_blocked(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6)
        return true; /* nothing else is a webhook's address */
    b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    /* ::ffff:a.b.c.d and the old ::a.b.c.d (:: and ::1 among them, as
     * 0.0.0.0 and 0.0.0.1) are judged by their IPv4 address. */
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0)
        return v4_blocked((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
                          b[15]);
    return (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)     /* fe80::/10 link-local */
           || (b[0] & 0xfe) == 0xfc                    /* fc00::/7 unique local */
           || b[0] == 0xff                             /* multicast */
           || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0); /* fec0::/10 site-local */
}

int webhook_url_check(const char *url, bool allow_private, char *err, size_t n)
{
    struct webhook_url w;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    int rc;

    if ((rc = webhook_url_parse(url, &w, err, n)) < 0 || allow_private)
        return rc;
    hints.ai_flags = w.literal ? AI_NUMERICHOST : 0;
    if (getaddrinfo(w.host, NULL, &hints, &res) != 0 || !res)
        return fail(err, n, "url: host %s does not resolve", w.host);
    for (ai = res; ai && rc == 0; ai = ai->ai_next)
        if (webhook_addr_blocked(ai->ai_addr))
            rc = fail(err, n,
                      "url: host %s is or resolves to a loopback, private, link-local or shared "
                      "address; such webhooks need webhook-allow-private on the server",
                      w.host);
    freeaddrinfo(res);
    return rc;
}

int webhook_sign(const char *secret, int64_t t, const char *body, size_t len,
                 char out[WEBHOOK_SIGNATURE_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char prefix[24];
    unsigned char *msg;
    size_t plen, total;
    int k;

    k = snprintf(prefix, sizeof(prefix), "%lld.", (long long)t);
    if (k < 0 || (size_t)k >= sizeof(prefix) || !ccf_size_add((size_t)k, len, &total))
        return CCF_EINVAL;
    plen = (size_t)k;
    msg = ccf_xmalloc(total ? total : 1);
    memcpy(msg, prefix, plen);
    memcpy(msg + plen, body, len);
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, total, md, &mdlen) || mdlen != 32) {
        free(msg);
        return CCF_EIO;
    }
    free(msg);
    k = snprintf(out, WEBHOOK_SIGNATURE_MAX, "t=%lld,v1=", (long long)t);
    if (k < 0 || (size_t)k + 65 > WEBHOOK_SIGNATURE_MAX)
        return CCF_EINVAL;
    for (unsigned i = 0; i < 32; i++) {
        out[k + 2 * (int)i] = hex[md[i] >> 4];
        out[k + 2 * (int)i + 1] = hex[md[i] & 15];
    }
    out[k + 64] = '\0';
    return 0;
}
