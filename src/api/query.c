/* query.c: query parameters (percent-decoding, the contract's rules for
 * known parameters) and pagination on top of them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

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

char *api__pct_decode(const char *s, size_t n, bool plus_is_space)
{
    char *out = ccf_xmalloc(n + 1);
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                goto bad;
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0')
            goto bad;
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

int api__query_parse(struct api__call *call, const char *q)
{
    while (*q) {
        size_t n = strcspn(q, "&"), k = strcspn(q, "=");
        struct api__param *p;

        if (n > 0) {
            if (call->nquery == API__QUERY_MAX)
                return CCF_EINVAL;
            p = &call->query[call->nquery++];
            if (k > n)
                k = n;
            p->name = api__pct_decode(q, k, true);
            p->value = api__pct_decode(q + k + (k < n), n - k - (k < n), true);
            p->bad = !p->name || !p->value;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

void api__query_free(struct api__call *call)
{
    for (size_t i = 0; i < call->nquery; i++) {
        free(call->query[i].name);
        free(call->query[i].value);
    }
    call->nquery = 0;
}

int api__query_get(struct api__call *call, const char *name, const char **out)
{
    const struct api__param *found = NULL;

    *out = NULL;
    for (size_t i = 0; i < call->nquery; i++) {
        const struct api__param *p = &call->query[i];
        if (!p->name || strcmp(p->name, name) != 0)
            continue;
        if (found) {
            api__fail(call, 400, "Query parameter %s is given more than once", name);
            return CCF_EINVAL;
        }
        found = p;
    }
    if (!found)
        return 0;
    if (found->bad || found->value[0] == '\0') {
        api__fail(call, 400, "Query parameter %s must not be empty or malformed", name);
        return CCF_EINVAL;
    }
    *out = found->value;
    return 0;
}

int api__max_results(struct api__call *call, size_t max, size_t *out)
{
    const char *v;
    size_t n = 0, len;

    if (api__query_get(call, "max_results", &v) < 0)
        return CCF_EINVAL;
    if (!v) {
        *out = CCF_PAGE_DEFAULT;
        return 0;
    }
    len = strlen(v);
    if (len > 7 || strspn(v, "0123456789") != len)
        goto bad;
    for (size_t i = 0; i < len; i++)
        n = n * 10 + (size_t)(v[i] - '0');
    if (n < 1 || n > max)
        goto bad;
    *out = n;
    return 0;
bad:
    api__fail(call, 400, "max_results must be an integer from 1 to %zu", max);
    return CCF_EINVAL;
}

int api__page(struct api__call *call, const char *scope, const char *filter, size_t max,
              struct store_page *page)
{
    const char *tok;

    page->after = NULL;
    if (api__max_results(call, max, &page->limit) < 0 ||
        api__query_get(call, "next_token", &tok) < 0)
        return CCF_EINVAL;
    if (!tok)
        return 0;
    page->after = api__token_decode(call->api, call->tenant, scope, filter, tok);
    if (!page->after) {
        api__fail(call, 400, "next_token is not a token this list issued; start again without it");
        return CCF_EINVAL;
    }
    return 0;
}

void api__set_next(struct api__call *call, json_t *out, const char *scope, const char *filter,
                   char *next)
{
    char *tok;

    if (!next)
        return;
    tok = api__token_encode(call->api, call->tenant, scope, filter, next);
    json_object_set_new(out, "next_token", json_string(tok));
    free(tok);
    free(next);
}

/* The operator streams' cursor is the last item's sequence number, signed
 * as a token of the stream's scope (no filter: a cursor stays valid across
 * filters, as the contract's resume rules want). */
int api__cursor_after(struct api__call *call, const char *scope, const char *what, int64_t *out)
{
    const char *v;
    char *key, *end;
    long long seq;

    if (api__query_get(call, "after", &v) < 0)
        return CCF_EINVAL;
    *out = -1;
    if (!v)
        return 0;
    key = api__token_decode(call->api, call->tenant, scope, "", v);
    seq = key ? strtoll(key, &end, 10) : -1;
    if (!key || *end || seq < 0) {
        free(key);
        api__fail(call, 400, "after is not a cursor of %s; start again without it", what);
        return CCF_EINVAL;
    }
    free(key);
    *out = seq;
    return 0;
}

void api__cursor_reply(struct api__call *call, const char *scope, const char *key, json_t *items,
                       int64_t next)
{
    char seq[24], *cursor;

    snprintf(seq, sizeof(seq), "%" PRId64, next);
    cursor = api__token_encode(call->api, call->tenant, scope, "", seq);
    api__reply(call, 200, json_pack("{s:o,s:s}", key, items, "next_cursor", cursor));
    free(cursor);
}
