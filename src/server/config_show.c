/* config_show.c: a configuration as text (--print-config writes an INI
 * file that ccfd reads back), and the keys from the environment (CCF_...).
 * Both walk the key table of config.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config_int.h"
#include "store/store.h"

#define VALUE_MAX 4200 /* job-path's 4096 and more */

void server__config_show_listen(const struct config_key *k, const struct server_config *c,
                                char *out, size_t n)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->listen_addr;
    bool v6 = sa->sa_family == AF_INET6;
    const void *a = v6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                       : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    unsigned port = ntohs(v6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                             : ((const struct sockaddr_in *)sa)->sin_port);
    char host[INET6_ADDRSTRLEN];

    (void)k;
    if (!inet_ntop(sa->sa_family, a, host, sizeof(host)))
        host[0] = '\0';
    snprintf(out, n, v6 ? "[%s]:%u" : "%s:%u", host, port);
}

void server__config_show_chars(const struct config_key *k, const struct server_config *c, char *out,
                               size_t n)
{
    snprintf(out, n, "%s", (const char *)c + k->off);
}

void server__config_show_strp(const struct config_key *k, const struct server_config *c, char *out,
                              size_t n)
{
    const char *v;

    memcpy(&v, (const char *)c + k->off, sizeof(v));
    snprintf(out, n, "%s", v ? v : "");
}

void server__config_show_store(const struct config_key *k, const struct server_config *c, char *out,
                               size_t n)
{
    const char *v;

    memcpy(&v, (const char *)c + k->off, sizeof(v));
    if (v)
        store_url_redact(v, out, n);
    else
        snprintf(out, n, "%s", "");
}

void server__config_show_cpu_budget(const struct config_key *k, const struct server_config *c,
                                    char *out, size_t n)
{
    (void)k;
    snprintf(out, n, "%g", c->cpu_budget);
}

void server__config_show(const struct config_key *k, const struct server_config *c, char *out,
                         size_t n)
{
    const char *field = (const char *)c + k->off;
    unsigned u;
    unsigned long ul;
    bool b;
    int i;

    out[0] = '\0';
    switch (k->slot) {
    case SLOT_UINT:
        memcpy(&u, field, sizeof(u));
        snprintf(out, n, "%u", u);
        break;
    case SLOT_ULONG:
        memcpy(&ul, field, sizeof(ul));
        snprintf(out, n, "%lu", ul);
        break;
    case SLOT_BOOL:
        memcpy(&b, field, sizeof(b));
        snprintf(out, n, "%s", k->names ? k->names[b] : b ? "on" : "off");
        break;
    case SLOT_STR:
        server__config_show_strp(k, c, out, n);
        break;
    case SLOT_ENUM:
        memcpy(&i, field, sizeof(i));
        snprintf(out, n, "%s", k->names[i]);
        break;
    case SLOT_NONE:
        if (k->show)
            k->show(k, c, out, n);
        break;
    }
}

void server__config_env_name(const char *name, char *out, size_t n)
{
    snprintf(out, n, "CCF_%s", name);
    for (char *p = out; *p; p++)
        *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
}

int server__config_env(struct server_config *c, const struct config_key *keys, size_t nkeys,
                       const struct config_key *skip, bool *given)
{
    char var[96], err[CONFIG_ERR_MAX];
    const char *v;

    for (size_t i = 0; i < nkeys; i++) {
        if (&keys[i] == skip)
            continue;
        server__config_env_name(keys[i].name, var, sizeof(var));
        v = getenv(var);
        /* Empty is unset: `docker run -e CCF_X=` and systemd's Environment=
         * write it to clear a variable (docs/DECISIONS.md). */
        if (!v || v[0] == '\0')
            continue;
        if (server__config_key_set(&keys[i], c, v, err, sizeof(err)) < 0) {
            fprintf(stderr, "ccfd: invalid value '%.64s' in environment variable %s (key %s): %s\n",
                    CONFIG_SHOWN(&keys[i], v), var, keys[i].name, err);
            return CCF_EINVAL;
        }
        given[i] = true;
    }
    return 0;
}

void server__config_print(const struct server_config *c, const struct config_key *keys,
                          size_t nkeys, const struct config_key *skip, const bool *given)
{
    char *v = ccf_xmalloc(VALUE_MAX);
    char var[96];

    printf("# ccfd.conf: ccfd's configuration, an INI file (ccfd(8)), written by\n"
           "# ccfd --print-config. Each key is also a flag (--data-dir DIR) and an\n"
           "# environment variable (CCF_DATA_DIR); a flag beats the environment, which\n"
           "# beats this file. A key left at its default is commented out.\n");
    for (size_t i = 0; i < nkeys; i++) {
        if (&keys[i] == skip)
            continue;
        server__config_show(&keys[i], c, v, VALUE_MAX);
        server__config_env_name(keys[i].name, var, sizeof(var));
        printf("\n# --%s, %s: %s\n", keys[i].name, var, keys[i].help);
        if (strpbrk(v, "\r\n"))
            printf("# %s: its value does not fit on one line\n", keys[i].name);
        else
            printf("%s%s =%s%s\n", given[i] ? "" : "#", keys[i].name, v[0] ? " " : "", v);
    }
    free(v);
}
