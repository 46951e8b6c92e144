/* log.c: the structured logger: logfmt or JSON, one write(2) per line so
 * that lines from different threads never interleave. */
#include "core/log.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

static enum ccf_log_level log_level = CCF_LOG_INFO;
static enum ccf_log_format log_format = CCF_LOG_LOGFMT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ccf_log_setup(enum ccf_log_level level, enum ccf_log_format format)
{
    log_level = level;
    log_format = format;
}

int ccf_log_level_parse(const char *name, enum ccf_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum ccf_log_level)i;
            return 0;
        }
    }
    return CCF_EINVAL;
}

int ccf_log_format_parse(const char *name, enum ccf_log_format *out)
{
    if (strcmp(name, "logfmt") == 0)
        *out = CCF_LOG_LOGFMT;
    else if (strcmp(name, "json") == 0)
        *out = CCF_LOG_JSON;
    else
        return CCF_EINVAL;
    return 0;
}

int ccf_log_enabled(enum ccf_log_level level)
{
    return level >= log_level;
}

/* A line buffer that drops what does not fit and says so with "...". */
struct line {
    char buf[4096];
    size_t len;
    bool cut;
};

static void put(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof(l->buf) - 5 - l->len; /* keep space for "...\n" */
    if (n > room) {
        n = room;
        l->cut = true;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_str(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static bool needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            return true;
    }
    return false;
}

/* Escapes as JSON does; logfmt readers accept the same escapes. */
static void put_escaped(struct line *l, const char *s)
{
    char esc[8];

    put(l, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            int w = snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(l, esc, (size_t)w);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
    put(l, "\"", 1);
}

static void put_field(struct line *l, const char *key, const struct ccf_kv *kv, bool first)
{
    char num[32];

    if (log_format == CCF_LOG_JSON) {
        put_str(l, first ? "" : ",");
        put_escaped(l, key);
        put(l, ":", 1);
    } else {
        put_str(l, first ? "" : " ");
        put_str(l, key);
        put(l, "=", 1);
    }
    if (kv->type == CCF_KV_T_INT) {
        int w = snprintf(num, sizeof(num), "%lld", (long long)kv->i);
        put(l, num, (size_t)w);
    } else if (log_format == CCF_LOG_JSON || needs_quotes(kv->s)) {
        put_escaped(l, kv->s);
    } else {
        put_str(l, kv->s);
    }
}

void ccf_log(enum ccf_log_level level, const char *event, const struct ccf_kv *kv)
{
    struct line l = {.len = 0, .cut = false};
    char ts[CCF_TIME_LEN + 1];
    struct ccf_kv v;

    ccf_time_format(ccf_now_us(), ts);
    if (log_format == CCF_LOG_JSON)
        put(&l, "{", 1);
    v = CCF_KV_STR("ts", ts);
    put_field(&l, "ts", &v, true);
    v = CCF_KV_STR("level", level_names[level & 3]);
    put_field(&l, "level", &v, false);
    v = CCF_KV_STR("event", event);
    put_field(&l, "event", &v, false);
    for (; kv && kv->type != CCF_KV_T_END; kv++) {
        if (kv->type == CCF_KV_T_STR && !kv->s)
            continue;
        put_field(&l, kv->key, kv, false);
    }
    if (log_format == CCF_LOG_JSON)
        put(&l, "}", 1);
    if (l.cut) {
        memcpy(l.buf + l.len, "...", 3);
        l.len += 3;
    }
    l.buf[l.len++] = '\n';
    /* One write per line; a short write to stderr is not worth a retry loop. */
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
}
