/* console.c: the web console's routes (console.h). The files are a table
 * compiled into ccfd (console_assets.h); a request path is compared with
 * the table's paths byte for byte, never decoded or joined to a directory,
 * so "..", "%2e%2e" or a doubled slash simply name no asset (404). */
#include "server/console.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "server/console_assets.h"

#define ROOT        "/console"
#define INDEX       "/console/"
#define CONFIG_PATH "/console/config.json"

/* 'self' only: no inline script or style, no CDN, no framing. connect-src
 * is what the page's fetch() may reach: ccfd itself. */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
/* Hashed names change with their content: a year, never revalidated. The
 * page and config.json are revalidated every time, so a new ccfd's page
 * (and the new asset names in it) is seen at once. */
#define CACHE_ASSET "public, max-age=31536000, immutable"
#define CACHE_PAGE  "no-cache"

struct server_console {
    char *config; /* config.json's body */
    size_t config_len;
};

void server__console_create(struct server_console **out, const char *region, const char *service)
{
    struct server_console *c = ccf_xcalloc(1, sizeof(*c));
    json_t *j = json_pack("{s:s, s:s}", "region", region ? region : "", "service",
                          service ? service : "execute-api");

    c->config = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!c->config)
        abort(); /* jansson fails only out of memory; region and service are validated */
    c->config_len = strlen(c->config);
    *out = c;
}

void server__console_destroy(struct server_console *c)
{
    if (!c)
        return;
    free(c->config);
    free(c);
}

bool server__console_owns(const char *path)
{
    return strcmp(path, "/") == 0 || strcmp(path, ROOT) == 0 ||
           strncmp(path, INDEX, strlen(INDEX)) == 0;
}

static void add(struct server_console_answer *a, const char *name, const char *value)
{
    if (a->nheaders < SERVER_CONSOLE_HEADERS_MAX)
        a->headers[a->nheaders++] = (struct server_console_header){name, value};
}

/* What every answer of the console carries, errors included. */
static void add_security(struct server_console_answer *a)
{
    add(a, "Content-Security-Policy", CSP);
    add(a, "X-Content-Type-Options", "nosniff");
    add(a, "X-Frame-Options", "DENY");
    add(a, "Referrer-Policy", "no-referrer");
}

static const struct server_console_asset *find(const char *path)
{
    for (size_t i = 0; i < server__console_nassets; i++) {
        if (strcmp(server__console_assets[i].path, path) == 0)
            return &server__console_assets[i];
    }
    return NULL;
}

static void ok(struct server_console_answer *a, const void *body, size_t len, const char *type,
               const char *cache)
{
    a->status = 200;
    a->body = body;
    a->len = len;
    a->content_type = type;
    add(a, "Cache-Control", cache);
}

void server__console_answer(const struct server_console *c, const char *method, const char *path,
                            struct server_console_answer *out)
{
    const struct server_console_asset *asset;

    memset(out, 0, sizeof(*out));
    add_security(out);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        out->status = 405;
        out->message = "The console answers GET and HEAD only";
        add(out, "Allow", "GET, HEAD");
        return;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, ROOT) == 0) {
        out->status = 302;
        add(out, "Location", INDEX);
        add(out, "Cache-Control", CACHE_PAGE);
        return;
    }
    if (strcmp(path, CONFIG_PATH) == 0) {
        ok(out, c->config, c->config_len, "application/json", CACHE_PAGE);
        return;
    }
    if ((asset = find(path))) {
        ok(out, asset->data, asset->len, asset->content_type,
           asset->immutable ? CACHE_ASSET : CACHE_PAGE);
        return;
    }
    out->status = 404;
    out->message = "No such console file; open /console/";
}
