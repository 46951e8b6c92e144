/* config_slot.c: the key table's generic half. A slot key (config_int.h)
 * is parsed, checked and stored here by its kind (number, bool, string,
 * enum), and a key is found by name in a table. It knows no key by name and
 * no source of values (file, environment, flags): config.c has the table and
 * the keys with rules of their own, config_ini.c and config_show.c read the
 * sources. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/config_int.h"

/* Decimal digits only (no sign, no blanks), within [min, max]. */
int server__config_parse_uint(const char *v, unsigned long min, unsigned long max,
                              unsigned long *out)
{
    char *end;
    unsigned long x;

    if (v[0] < '0' || v[0] > '9')
        return CCF_EINVAL;
    errno = 0;
    x = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        return CCF_EINVAL;
    *out = x;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return CCF_EINVAL;
}

/* "a, b or c" from a NULL-terminated list. */
static void join_words(const char *const *w, char *out, size_t n)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; w[i] && used < n; i++) {
        const char *sep = i == 0 ? "" : w[i + 1] ? ", " : " or ";
        int k = snprintf(out + used, n - used, "%s%s", sep, w[i]);

        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static int set_number(const struct config_key *k, struct server_config *c, const char *v, char *err,
                      size_t n)
{
    char *field = (char *)c + k->off;
    unsigned long x;

    if (server__config_parse_uint(v, k->min, k->max, &x) < 0) {
        if (k->max >= 1UL << 40)
            snprintf(err, n, "expected a number of %s of at least %lu", k->unit, k->min);
        else
            snprintf(err, n, "expected %s%s %lu..%lu", k->unit ? "a number of " : "an integer",
                     k->unit ? k->unit : "", k->min, k->max);
        return CCF_EINVAL;
    }
    if (k->slot == SLOT_UINT) {
        unsigned u = (unsigned)x; /* max is below UINT_MAX for every SLOT_UINT row */
        memcpy(field, &u, sizeof(u));
    } else {
        memcpy(field, &x, sizeof(x));
    }
    return 0;
}

static int set_bool(const struct config_key *k, struct server_config *c, const char *v, char *err,
                    size_t n)
{
    bool b;

    if (!k->names && parse_bool(v, &b) < 0) {
        snprintf(err, n, "expected true or false");
        return CCF_EINVAL;
    }
    if (k->names) {
        if (strcmp(v, k->names[0]) != 0 && strcmp(v, k->names[1]) != 0) {
            snprintf(err, n, "expected %s or %s", k->names[0], k->names[1]);
            return CCF_EINVAL;
        }
        b = strcmp(v, k->names[1]) == 0;
    }
    memcpy((char *)c + k->off, &b, sizeof(b));
    return 0;
}

static int set_string(const struct config_key *k, struct server_config *c, const char *v, char *err,
                      size_t n)
{
    size_t len = strlen(v);
    char *copy;

    if (len < k->min || len > k->max) {
        snprintf(err, n, "expected %s of %lu..%lu bytes", k->arg, k->min, k->max);
        return CCF_EINVAL;
    }
    memcpy(&copy, (char *)c + k->off, sizeof(copy));
    free(copy);
    copy = ccf_xstrdup(v);
    memcpy((char *)c + k->off, &copy, sizeof(copy));
    return 0;
}

static int set_enum(const struct config_key *k, struct server_config *c, const char *v, char *err,
                    size_t n)
{
    for (int i = 0; k->names[i]; i++) {
        if (strcasecmp(v, k->names[i]) == 0) {
            memcpy((char *)c + k->off, &i, sizeof(i));
            return 0;
        }
    }
    memcpy(err, "expected ", sizeof("expected "));
    join_words(k->names, err + strlen(err), n - strlen(err));
    return CCF_EINVAL;
}

int server__config_key_set(const struct config_key *k, struct server_config *c, const char *v,
                           char *err, size_t n)
{
    switch (k->slot) {
    case SLOT_UINT:
    case SLOT_ULONG:
        return set_number(k, c, v, err, n);
    case SLOT_BOOL:
        return set_bool(k, c, v, err, n);
    case SLOT_STR:
        return set_string(k, c, v, err, n);
    case SLOT_ENUM:
        return set_enum(k, c, v, err, n);
    case SLOT_NONE:
        break;
    }
    return k->set(c, v, err, n);
}

const struct config_key *server__config_find_key(const struct config_key *keys, size_t nkeys,
                                                 const char *name)
{
    for (size_t i = 0; i < nkeys; i++) {
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}
