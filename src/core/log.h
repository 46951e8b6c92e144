/* log.h: structured log lines, one per event: an event name, then key=value
 * fields, written as logfmt or JSON to stderr with one write(2) per line.
 * The logger escapes every value. Never pass it a secret.
 * Thread rules: ccf_log_setup runs before any thread starts; ccf_log is
 * thread-safe. */
#ifndef CCF_LOG_H
#define CCF_LOG_H

#include <stddef.h>
#include <stdint.h>

enum ccf_log_level { CCF_LOG_DEBUG = 0, CCF_LOG_INFO, CCF_LOG_WARN, CCF_LOG_ERROR };
enum ccf_log_format { CCF_LOG_LOGFMT = 0, CCF_LOG_JSON };

enum ccf_kv_type { CCF_KV_T_END = 0, CCF_KV_T_STR, CCF_KV_T_INT };
struct ccf_kv {
    const char *key;
    enum ccf_kv_type type;
    const char *s; /* NULL: the field is left out */
    int64_t i;
};

#define CCF_KV_STR(k, v) ((struct ccf_kv){.key = (k), .type = CCF_KV_T_STR, .s = (v)})
#define CCF_KV_INT(k, v) ((struct ccf_kv){.key = (k), .type = CCF_KV_T_INT, .i = (int64_t)(v)})

/* Sets the threshold and format; the default is INFO, logfmt. */
void ccf_log_setup(enum ccf_log_level level, enum ccf_log_format format);
/* 0 on success, CCF_EINVAL for an unknown name. */
int ccf_log_level_parse(const char *name, enum ccf_log_level *out);
int ccf_log_format_parse(const char *name, enum ccf_log_format *out);
int ccf_log_enabled(enum ccf_log_level level);

/* kv is terminated by an entry of type CCF_KV_T_END. */
void ccf_log(enum ccf_log_level level, const char *event, const struct ccf_kv *kv);

#define CCF_LOG__(lvl, event, ...)                                                                 \
    do {                                                                                           \
        if (ccf_log_enabled(lvl))                                                                  \
            ccf_log((lvl), (event), (const struct ccf_kv[]){__VA_ARGS__, {0}});                    \
    } while (0)
/* Buffered mode, for the server: lines below warn go to a buffer that a
 * thread of the logger writes every flush_ms (or as soon as it fills); a
 * warn or error line writes the buffer and itself at once, so lines keep
 * their order and nothing important waits. Like nginx's access_log buffer:
 * a kill -9 loses at most the last flush_ms of info and debug lines.
 * Without it (the default) every line is one write(2). CCF_EIO if the
 * thread cannot start (the logger stays unbuffered). */
int ccf_log_buffer_start(int flush_ms);
/* Writes what is buffered and goes back to one write per line. */
void ccf_log_buffer_stop(void);
/* Writes what is buffered now (before an abort, say). */
void ccf_log_flush(void);

/* At least one field is required: CCF_LOG_INFO("store.open", CCF_KV_STR("path", p)). */
#define CCF_LOG_DEBUG(event, ...) CCF_LOG__(CCF_LOG_DEBUG, event, __VA_ARGS__)
#define CCF_LOG_INFO(event, ...)  CCF_LOG__(CCF_LOG_INFO, event, __VA_ARGS__)
#define CCF_LOG_WARN(event, ...)  CCF_LOG__(CCF_LOG_WARN, event, __VA_ARGS__)
#define CCF_LOG_ERROR(event, ...) CCF_LOG__(CCF_LOG_ERROR, event, __VA_ARGS__)

#endif
