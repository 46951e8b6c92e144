/* imagemap.c: image-map rules (imagemap.h) on POSIX regex.h: each pattern
 * compiled once with REG_EXTENDED, and matched only where the match covers
 * the whole URI (anchored at both ends without adding a group, so \1 is the
 * rule's own first group). */
#include "executor/podman/imagemap.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

struct rule {
    regex_t re;
    char *repl;
};

struct imagemap {
    struct rule rules[IMAGEMAP_RULES_MAX];
    size_t n;
};

static int fail(char *err, size_t n, const char *why, size_t line)
{
    snprintf(err, n, "image-map rule %zu: %s", line, why);
    return CCF_EINVAL;
}

/* Every \N in repl names a group the pattern has. */
static bool repl_ok(const char *repl, size_t groups)
{
    for (const char *p = repl; *p; p++) {
        if (*p != '\\')
            continue;
        if (p[1] == '\\') {
            p++;
            continue;
        }
        if (p[1] < '1' || p[1] > '9' || (size_t)(p[1] - '0') > groups)
            return false;
        p++;
    }
    return true;
}

/* POSIX leaves stacked repetitions ("a++", "a*{2}") and back-references
 * in an ERE undefined, and glibc's take exponential time on some: both are
 * refused. Bracket expressions are skipped ([]...] and [^]...] included). */
static bool pattern_ok(const char *p)
{
    bool after_rep = false;

    for (; *p; p++) {
        if (*p == '[') {
            p += (p[1] == '^') ? 2 : 1;
            if (*p == ']')
                p++;
            while (*p && *p != ']')
                p++;
            if (!*p)
                return true; /* regcomp refuses it */
            after_rep = false;
            continue;
        }
        if (*p == '\\') {
            if (p[1] >= '1' && p[1] <= '9')
                return false;
            if (p[1])
                p++;
            after_rep = false;
            continue;
        }
        bool rep = *p == '*' || *p == '+' || *p == '?' || *p == '{';
        if (rep && after_rep)
            return false;
        if (*p == '{') {
            while (*p && *p != '}')
                p++;
            if (!*p)
                return true;
        }
        after_rep = rep;
    }
    return true;
}

static int add_rule(struct imagemap *m, const char *line, size_t len, size_t no, char *err,
                    size_t n)
{
    char buf[IMAGEMAP_RULE_MAX + 1], *eq;
    struct rule *r = &m->rules[m->n];

    if (len > IMAGEMAP_RULE_MAX)
        return fail(err, n, "longer than 1024 bytes", no);
    if (m->n == IMAGEMAP_RULES_MAX)
        return fail(err, n, "more than 64 rules", no);
    memcpy(buf, line, len);
    buf[len] = '\0';
    if (memchr(buf, '\0', len) || !(eq = strchr(buf, '=')))
        return fail(err, n, "expected PATTERN=REPLACEMENT", no);
    *eq = '\0';
    if (buf[0] == '\0')
        return fail(err, n, "the pattern is empty", no);
    if (!pattern_ok(buf))
        return fail(err, n, "stacked repetitions and back-references are not allowed", no);
    if (regcomp(&r->re, buf, REG_EXTENDED) != 0)
        return fail(err, n, "the pattern is not a POSIX extended regular expression", no);
    if (!repl_ok(eq + 1, r->re.re_nsub)) {
        regfree(&r->re);
        return fail(err, n, "the replacement names a group the pattern does not have", no);
    }
    r->repl = ccf_xstrdup(eq + 1);
    m->n++;
    return 0;
}

int imagemap_parse(struct imagemap **out, const char *rules, char *err, size_t n)
{
    struct imagemap *m = ccf_xcalloc(1, sizeof(*m));
    const char *p = rules ? rules : "";
    size_t no = 0;
    int rc;

    while (*p) {
        size_t len = strcspn(p, "\n");
        no++;
        if (len > 0 && (rc = add_rule(m, p, len, no, err, n)) < 0) {
            imagemap_free(m);
            return rc;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    *out = m;
    return 0;
}

void imagemap_free(struct imagemap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        regfree(&m->rules[i].re);
        free(m->rules[i].repl);
    }
    free(m);
}

static int put(char *out, size_t outn, size_t *at, const char *s, size_t len)
{
    if (len >= outn - *at || *at + len > IMAGEMAP_URI_MAX)
        return CCF_ETOOLARGE;
    memcpy(out + *at, s, len);
    *at += len;
    out[*at] = '\0';
    return 0;
}

static int expand(const struct rule *r, const char *uri, const regmatch_t *g, char *out,
                  size_t outn)
{
    size_t at = 0;
    int rc = 0;

    out[0] = '\0';
    for (const char *p = r->repl; *p && rc == 0; p++) {
        if (*p == '\\' && p[1] == '\\') {
            rc = put(out, outn, &at, "\\", 1);
            p++;
        } else if (*p == '\\' && p[1] >= '1' && p[1] <= '9') {
            const regmatch_t *m = &g[p[1] - '0'];
            if (m->rm_so >= 0)
                rc = put(out, outn, &at, uri + m->rm_so, (size_t)(m->rm_eo - m->rm_so));
            p++;
        } else {
            rc = put(out, outn, &at, p, 1);
        }
    }
    return rc;
}

int imagemap_apply(const struct imagemap *m, const char *uri, char *out, size_t outn)
{
    size_t len = strlen(uri);
    regmatch_t g[10];

    if (outn == 0 || len > IMAGEMAP_URI_MAX)
        return CCF_ETOOLARGE;
    for (size_t i = 0; m && i < m->n; i++) {
        if (regexec(&m->rules[i].re, uri, 10, g, 0) == 0 && g[0].rm_so == 0 &&
            (size_t)g[0].rm_eo == len)
            return expand(&m->rules[i], uri, g, out, outn);
    }
    if (len >= outn)
        return CCF_ETOOLARGE;
    memcpy(out, uri, len + 1);
    return 0;
}
