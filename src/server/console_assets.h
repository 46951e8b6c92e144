/* console_assets.h (private to server/): the web console's files, compiled
 * into ccfd. The table is generated at build time from console/ by
 * scripts/embed_console.py ($(BUILD)/gen/console_assets.c); console.c is
 * the only reader. Immutable after load: any thread may read it. */
#ifndef CCF_SERVER_CONSOLE_ASSETS_H
#define CCF_SERVER_CONSOLE_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct server_console_asset {
    const char *path; /* the exact request path, e.g. "/console/assets/app.0123abcd4567.js" */
    const unsigned char *data;
    size_t len;
    const char *content_type;
    bool immutable; /* a content-hashed name: cacheable for a year */
};

extern const struct server_console_asset server__console_assets[];
extern const size_t server__console_nassets;

#endif
