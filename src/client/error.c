/* error.c: libccf's error values: client-side failures, and the contract's
 * error answers turned into status, errorType and message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

static const char *type_of(int code)
{
    switch (code) {
    case CCF_CLIENT_ETRANSPORT:
        return "ConnectionError";
    case CCF_CLIENT_EPROTO:
        return "InvalidResponseError";
    case CCF_CLIENT_EINVAL:
        return "InvalidArgumentError";
    case CCF_CLIENT_ENOTFOUND:
        return "CredentialsError";
    case CCF_CLIENT_EIO:
        return "FileError";
    case CCF_CLIENT_ENOMEM:
        return "OutOfMemoryError";
    default:
        return "Error";
    }
}

int ccf_client__fail(struct ccf_client_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    memset(err, 0, sizeof(*err));
    err->code = code;
    snprintf(err->error_type, sizeof(err->error_type), "%s", type_of(code));
    va_start(ap, fmt);
    /* A cut message is still a message: the result is not needed. */
    (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

/* Length of the UTF-8 sequence that lead byte b starts; 1 for anything else. */
static size_t seq_len(unsigned char b)
{
    if (b >= 0xF0 && b <= 0xF4)
        return 4;
    if (b >= 0xE0)
        return b <= 0xEF ? 3 : 1;
    if (b >= 0xC2)
        return 2;
    return 1;
}

static bool valid_seq(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0] < 0x80;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80)
            return false;
    return true;
}

void ccf_client__copy_clean(char *dst, size_t cap, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;

    while (i < len && o + 1 < cap) {
        size_t n = seq_len(s[i]);

        if (n > len - i || n > cap - 1 - o)
            break; /* a sequence that does not fit whole is cut off */
        if (!valid_seq(s + i, n)) {
            dst[o++] = '?';
            i++;
            continue;
        }
        if (s[i] < 0x20 || s[i] == 0x7F || (s[i] == 0xC2 && n == 2 && s[i + 1] < 0xA0)) {
            dst[o++] = '?'; /* control characters: C0, DEL, C1 */
            i += n;
            continue;
        }
        memcpy(dst + o, s + i, n);
        o += n;
        i += n;
    }
    dst[o] = '\0';
}

/* The contract's error body, when r carries one. */
static bool body_error(const struct ccf_client__resp *r, struct ccf_client_error *err)
{
    json_t *root, *msg, *type;
    bool ok = false;

    if (!r->body || r->len == 0)
        return false;
    root = json_loadb(r->body, r->len, 0, NULL);
    if (!json_is_object(root))
        goto out;
    msg = json_object_get(root, "message");
    type = json_object_get(root, "errorType");
    if (!json_is_string(msg) || !json_is_string(type) || json_string_length(type) == 0)
        goto out;
    ccf_client__copy_clean(err->error_type, sizeof(err->error_type), json_string_value(type),
                           json_string_length(type));
    ccf_client__copy_clean(err->message, sizeof(err->message), json_string_value(msg),
                           json_string_length(msg));
    ok = true;
out:
    json_decref(root);
    return ok;
}

int ccf_client__http_error(const struct ccf_client__resp *r, struct ccf_client_error *err)
{
    if (!err)
        return CCF_CLIENT_EAPI;
    memset(err, 0, sizeof(*err));
    err->code = CCF_CLIENT_EAPI;
    err->http_status = r->status;
    snprintf(err->request_id, sizeof(err->request_id), "%s", r->request_id);
    if (body_error(r, err))
        return CCF_CLIENT_EAPI;
    if (r->error_type[0])
        snprintf(err->error_type, sizeof(err->error_type), "%s", r->error_type);
    else
        snprintf(err->error_type, sizeof(err->error_type), "HttpError");
    if (r->too_large)
        snprintf(err->message, sizeof(err->message), "HTTP %ld with a body over the client's limit",
                 r->status);
    else
        snprintf(err->message, sizeof(err->message),
                 "HTTP %ld without the contract's error body (message, errorType)", r->status);
    return CCF_CLIENT_EAPI;
}
