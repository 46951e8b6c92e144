/* config_ini.c: the --config file, an INI file of key = value lines read
 * with inih, each key set through the table's setters; errors name the file
 * and line. It knows the table only as rows (config_int.h): which keys there
 * are and what they accept is config.c's and config_slot.c's. */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>

#include "server/config_int.h"

/* The INI pass. ini_parse_stream reads through ini_read so that we know the
 * line of each key, also for lines longer than inih's buffer. */
struct ini_ctx {
    struct server_config *c;
    FILE *f;
    int line;      /* line of the key being handled */
    int next_line; /* line the next read starts on */
    int long_line; /* first line longer than inih's buffer, or 0 */
    bool failed;
    const struct config_key *keys; /* the table, nkeys rows */
    size_t nkeys;
    const struct config_key *no_file; /* the key a file may not set (config) */
    bool *given;                      /* given[i]: keys[i] was set */
};

static char *ini_read(char *str, int num, void *stream)
{
    struct ini_ctx *x = stream;
    char *r = fgets(str, num, x->f);

    if (r) {
        x->line = x->next_line;
        if (strchr(r, '\n'))
            x->next_line++;
        else if (!feof(x->f) && x->long_line == 0)
            x->long_line = x->line; /* inih would take the rest as a new line */
    }
    return r;
}

static int ini_fail(struct ini_ctx *x, const char *name, const char *msg)
{
    fprintf(stderr, "ccfd: %s:%d: %s: %s\n", x->c->config_file, x->line, name, msg);
    x->failed = true;
    return 0;
}

static int on_ini_key(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *x = user;
    const struct config_key *k;
    char key[64], err[CONFIG_ERR_MAX];

    if (x->failed)
        return 1; /* report only the first error */
    if (section[0] != '\0')
        return ini_fail(x, name, "keys go before any [section]; ccfd reads no sections");
    /* data_dir reads as data-dir: INI files often use underscores. */
    snprintf(key, sizeof(key), "%s", name);
    for (char *p = key; *p; p++)
        *p = *p == '_' ? '-' : *p;
    k = server__config_find_key(x->keys, x->nkeys, key);
    if (!k)
        return ini_fail(x, name, "unknown key (see ccfd --help)");
    if (k == x->no_file)
        return ini_fail(x, name, "a config file cannot name another one");
    if (server__config_key_set(k, x->c, value, err, sizeof(err)) < 0) {
        fprintf(stderr, "ccfd: %s:%d: invalid value '%.64s' for %s: %s\n", x->c->config_file,
                x->line, CONFIG_SHOWN(k, value), k->name, err);
        x->failed = true;
        return 0;
    }
    x->given[k - x->keys] = true;
    return 1;
}

int server__config_load_file(struct server_config *c, const struct config_key *keys, size_t nkeys,
                             const struct config_key *no_file, bool *given)
{
    struct ini_ctx x = {
        .c = c, .next_line = 1, .keys = keys, .nkeys = nkeys, .no_file = no_file, .given = given};
    int rc;

    x.f = fopen(c->config_file, "r");
    if (!x.f) {
        fprintf(stderr, "ccfd: cannot read config file %s: %s\n", c->config_file, strerror(errno));
        return CCF_EINVAL;
    }
    rc = ini_parse_stream(ini_read, &x, on_ini_key, &x);
    fclose(x.f);
    if (x.long_line > 0 && !x.failed)
        fprintf(stderr, "ccfd: %s:%d: line too long for the INI parser\n", c->config_file,
                x.long_line);
    else if (rc != 0 && !x.failed)
        fprintf(stderr, "ccfd: %s:%d: syntax error: expected key = value\n", c->config_file,
                rc > 0 ? rc : x.line);
    return rc == 0 && !x.failed && x.long_line == 0 ? 0 : CCF_EINVAL;
}
