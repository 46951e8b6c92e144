/* log.c: the structured logger: logfmt or JSON, whole lines only, so that
 * lines from different threads never interleave: one write(2) per line, or
 * (buffered mode, see log.h) whole lines appended to a buffer that is
 * written in one go. */
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
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

#define BUFFER_CAP ((size_t)64 * 1024)

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool on;
    bool stopping;
    int flush_ms;
    pthread_t thread;
    size_t len;
    char data[BUFFER_CAP];
} buffer = {.mu = PTHREAD_MUTEX_INITIALIZER}; /* cv: made by ccf_log_buffer_start */

static void write_all(const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        if ((w = write(STDERR_FILENO, p, n)) < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to say it */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void flush_locked(void)
{
    write_all(buffer.data, buffer.len);
    buffer.len = 0;
}

static void emit(enum ccf_log_level level, const char *line, size_t n)
{
    if (!atomic_load_explicit(&buffer.on, memory_order_acquire)) {
        write_all(line, n);
        return;
    }
    pthread_mutex_lock(&buffer.mu);
    if (level >= CCF_LOG_WARN || buffer.len + n > BUFFER_CAP)
        flush_locked();
    /* Stopped meanwhile (its final flush is done): straight out too. */
    if (level >= CCF_LOG_WARN || !atomic_load(&buffer.on)) {
        write_all(line, n);
    } else {
        memcpy(buffer.data + buffer.len, line, n);
        buffer.len += n;
    }
    pthread_mutex_unlock(&buffer.mu);
}

static void *flusher(void *arg)
{
    struct timespec at;

    (void)arg;
    pthread_mutex_lock(&buffer.mu);
    while (!buffer.stopping) {
        clock_gettime(CLOCK_MONOTONIC, &at); /* the cv's clock: no wall-clock steps */
        at.tv_sec += buffer.flush_ms / 1000;
        at.tv_nsec += (long)(buffer.flush_ms % 1000) * 1000000L;
        at.tv_sec += at.tv_nsec / 1000000000L;
        at.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&buffer.cv, &buffer.mu, &at);
        flush_locked();
    }
    pthread_mutex_unlock(&buffer.mu);
    return NULL;
}

int ccf_log_buffer_start(int flush_ms)
{
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    if (flush_ms <= 0 || atomic_load(&buffer.on))
        return 0;
    buffer.flush_ms = flush_ms;
    buffer.stopping = false;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&buffer.cv, &ca);
    pthread_condattr_destroy(&ca);
    /* The thread takes no signal: ccfd waits for its own with sigwait. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&buffer.thread, NULL, flusher, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&buffer.cv);
        return CCF_EIO;
    }
    atomic_store_explicit(&buffer.on, true, memory_order_release);
    return 0;
}

void ccf_log_buffer_stop(void)
{
    if (!atomic_load(&buffer.on))
        return;
    pthread_mutex_lock(&buffer.mu);
    buffer.stopping = true;
    pthread_cond_signal(&buffer.cv);
    pthread_mutex_unlock(&buffer.mu);
    pthread_join(buffer.thread, NULL);
    pthread_cond_destroy(&buffer.cv);
    pthread_mutex_lock(&buffer.mu);
    atomic_store(&buffer.on, false); /* later lines go straight out */
    flush_locked();
    pthread_mutex_unlock(&buffer.mu);
}

void ccf_log_flush(void)
{
    if (!atomic_load(&buffer.on))
        return;
    pthread_mutex_lock(&buffer.mu);
    flush_locked();
    pthread_mutex_unlock(&buffer.mu);
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
    emit(level, l.buf, l.len);
}
