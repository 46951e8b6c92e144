/* config_int.h (private to server/config*.c): the key table's row type, and
 * what config.c (the keys, the defaults, the flags and the order of the
 * sources), config_slot.c (the generic setters), config_ini.c (the file)
 * and config_show.c (a configuration as text, and the environment) share.
 * Thread rules: as config.h: used in main before any thread starts. */
#ifndef CCF_SERVER_CONFIG_INT_H
#define CCF_SERVER_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "server/config.h"

#define CONFIG_ERR_MAX 192

/* How a key's value is stored. A slot key names a field of struct
 * server_config and its bounds, and one generic setter per kind parses and
 * checks it, as nginx's ngx_conf_set_num_slot does; a key with rules of its
 * own has a set() instead. */
enum config_slot {
    SLOT_NONE = 0, /* set() does it */
    SLOT_UINT,     /* unsigned, decimal, within [min, max] */
    SLOT_ULONG,    /* unsigned long, decimal, within [min, max] */
    SLOT_BOOL,     /* bool: true/yes/on/1, false/no/off/0, or names[1]/names[0] */
    SLOT_STR,      /* char *, a copy; length within [min, max] */
    SLOT_ENUM,     /* an enum: the index of the value in names */
};

/* One key. set() validates v and stores it, or writes why not into err; a
 * slot key has no set() and is described by the fields after it. */
struct config_key {
    const char *name;
    const char *arg; /* placeholder for --help; NULL for a switch */
    const char *help;
    int (*set)(struct server_config *c, const char *v, char *err, size_t n);
    enum config_slot slot;
    size_t off; /* of the field in struct server_config */
    unsigned long min, max;
    const char *const *names; /* SLOT_ENUM: the values; SLOT_BOOL: false and true, or NULL */
    const char *unit;         /* SLOT_UINT, SLOT_ULONG: for the error message, or NULL */
    /* A set() key's value as text for --print-config ("" for none); NULL:
     * not shown. A slot key's is shown by its slot. */
    void (*show)(const struct config_key *k, const struct server_config *c, char *out, size_t n);
    bool secret; /* the value may hold a password: no error message repeats it */
};

/* What an error message shows of value v of key k. */
#define CONFIG_SHOWN(k, v) ((k)->secret ? "(not shown)" : (v))

/* offsetof(struct server_config, f), which must be a T: the pointer
 * comparison does not compile otherwise (the Linux kernel's typecheck). */
#define FIELD(f, T)                                                                                \
    (offsetof(struct server_config, f) + 0 * sizeof(&((struct server_config *)0)->f == (T *)0))
/* An enum field, stored as an int of the same size. */
#define ENUM_FIELD(f)                                                                              \
    (offsetof(struct server_config, f) +                                                           \
     0 * sizeof(char[sizeof(((struct server_config *)0)->f) == sizeof(int) ? 1 : -1]))
#define UINT_SLOT(f, lo, hi, u)                                                                    \
    .slot = SLOT_UINT, .off = FIELD(f, unsigned), .min = (lo), .max = (hi), .unit = (u)
#define ULONG_SLOT(f, lo, hi, u)                                                                   \
    .slot = SLOT_ULONG, .off = FIELD(f, unsigned long), .min = (lo), .max = (hi), .unit = (u)
#define BOOL_SLOT(f, words)  .slot = SLOT_BOOL, .off = FIELD(f, bool), .names = (words)
#define STR_SLOT(f, lo, hi)  .slot = SLOT_STR, .off = FIELD(f, char *), .min = (lo), .max = (hi)
#define ENUM_SLOT(f, values) .slot = SLOT_ENUM, .off = ENUM_FIELD(f), .names = (values)

/* A set() key whose value is the char array or the char * f. */
#define SHOW_CHARS(f) .off = offsetof(struct server_config, f), .show = server__config_show_chars
#define SHOW_STRP(f)  .off = FIELD(f, char *), .show = server__config_show_strp

void server__config_show_listen(const struct config_key *k, const struct server_config *c,
                                char *out, size_t n);
void server__config_show_chars(const struct config_key *k, const struct server_config *c, char *out,
                               size_t n);
void server__config_show_strp(const struct config_key *k, const struct server_config *c, char *out,
                              size_t n);
/* The store url with its password replaced (store_url_redact). */
void server__config_show_store(const struct config_key *k, const struct server_config *c, char *out,
                               size_t n);
void server__config_show_cpu_budget(const struct config_key *k, const struct server_config *c,
                                    char *out, size_t n);

/* Key k's value as the text that would set it; "" when it has none. */
void server__config_show(const struct config_key *k, const struct server_config *c, char *out,
                         size_t n);

/* Prints c to stdout as an INI file of every key in keys[0..nkeys) but
 * skip; a key whose given[i] is false is commented out (at its default). */
void server__config_print(const struct server_config *c, const struct config_key *keys,
                          size_t nkeys, const struct config_key *skip, const bool *given);

/* Sets each key but skip from its CCF_ variable (CCF_DATA_DIR for data-dir)
 * when that is set and not empty, marking given[i]. CCF_EINVAL, after a line
 * on stderr naming the variable, for a value its key refuses. */
int server__config_env(struct server_config *c, const struct config_key *keys, size_t nkeys,
                       const struct config_key *skip, bool *given);

/* The variable of key name: "CCF_" + name in upper case, '-' as '_'. */
void server__config_env_name(const char *name, char *out, size_t n);

/* config_slot.c. Sets key k from the text v by its set() or its slot;
 * CCF_EINVAL with why in err. */
int server__config_key_set(const struct config_key *k, struct server_config *c, const char *v,
                           char *err, size_t n);

/* Decimal digits only (no sign, no blanks), within [min, max]; CCF_EINVAL
 * otherwise, *out untouched. */
int server__config_parse_uint(const char *v, unsigned long min, unsigned long max,
                              unsigned long *out);

/* The row of keys[0..nkeys) named name, or NULL. */
const struct config_key *server__config_find_key(const struct config_key *keys, size_t nkeys,
                                                 const char *name);

/* config_ini.c. Sets the keys that c->config_file names, marking given[i];
 * no_file (the config key) is refused there. CCF_EINVAL, after a line on
 * stderr naming the file and line, at the first bad line (only that one is
 * reported). */
int server__config_load_file(struct server_config *c, const struct config_key *keys, size_t nkeys,
                             const struct config_key *no_file, bool *given);

#endif
