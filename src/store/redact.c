/* redact.c: a store url without its secrets, for what is shown or logged.
 * libpq takes a password in a URI's userinfo, in its query
 * (?password=...) and in a conninfo string (password=... or
 * password='...'); each is replaced, the rest kept so that an operator
 * still sees which database is meant. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store/store.h"

#define MASK "***"

struct out {
    char *p;
    size_t n, len;
};

static void put(struct out *o, const char *s, size_t k)
{
    for (size_t i = 0; i < k && o->len + 1 < o->n; i++)
        o->p[o->len++] = s[i];
    o->p[o->len] = '\0';
}

/* The end of a "password=" value at v: a quoted conninfo value ends after
 * its closing quote (\' and \\ escaped), else at a space, '&' or '#'. */
static const char *value_end(const char *v)
{
    if (*v == '\'') {
        for (v++; *v && *v != '\''; v++)
            if (*v == '\\' && v[1])
                v++;
        return *v ? v + 1 : v;
    }
    return v + strcspn(v, " \t\n&#");
}

/* Whether "password" at p starts a key: the string's start or after a
 * separator of a conninfo or a query. */
static bool key_at(const char *url, const char *p)
{
    if (strncasecmp(p, "password", 8) != 0)
        return false;
    if (p != url && !strchr(" \t\n?&", p[-1]))
        return false;
    p += 8;
    p += strspn(p, " \t");
    return *p == '=';
}

/* The userinfo's password of "scheme://user:pass@host...": [*from, *to)
 * or false when there is none. */
static bool uri_password(const char *url, const char **from, const char **to)
{
    const char *a = strstr(url, "://"), *end, *at = NULL, *colon;

    if (!a)
        return false;
    a += 3;
    end = a + strcspn(a, "/?#");
    for (const char *q = a; q < end; q++)
        if (*q == '@')
            at = q;
    if (!at)
        return false;
    colon = memchr(a, ':', (size_t)(at - a));
    if (!colon)
        return false;
    *from = colon + 1;
    *to = at;
    return true;
}

void store_url_redact(const char *url, char *out, size_t n)
{
    struct out o = {out, n, 0};
    const char *pw_from = NULL, *pw_to = NULL, *p;

    if (n == 0)
        return;
    out[0] = '\0';
    if (!url) {
        put(&o, "sqlite", 6);
        return;
    }
    uri_password(url, &pw_from, &pw_to);
    for (p = url; *p;) {
        if (p == pw_from) {
            put(&o, MASK, 3);
            p = pw_to;
        } else if (key_at(url, p)) {
            const char *eq = strchr(p, '=');

            put(&o, p, (size_t)(eq + 1 - p));
            eq++;
            eq += strspn(eq, " \t");
            put(&o, MASK, 3);
            p = value_end(eq);
        } else {
            put(&o, p++, 1);
        }
    }
}
