/* console.h (private to server/): the web console's routes. Answers "/"
 * (a redirect to /console/), /console/ (the page), /console/config.json
 * (what the page must know to sign: region and service name) and the
 * content-hashed assets, all unsigned and from memory: no file is looked
 * up at run time, so no path can name anything outside the table. Every
 * answer carries the console's security headers. Knows nothing of MHD,
 * auth or the api: the page signs its API calls as any client does.
 * Thread rules: create before the transport starts, destroy after it
 * stops; answer from any thread. */
#ifndef CCF_SERVER_CONSOLE_H
#define CCF_SERVER_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

struct server_console; /* defined in server/console.c */

#define SERVER_CONSOLE_HEADERS_MAX 8

struct server_console_header {
    const char *name;  /* static */
    const char *value; /* static, or the console's */
};

/* An answer whose strings all live as long as the console (or are static). */
struct server_console_answer {
    int status;       /* 200, 302, 404 or 405 */
    const char *body; /* NULL for none; 404 and 405 leave it to the caller (error shape) */
    size_t len;
    const char *content_type;
    const char *message; /* 404/405: the error's words */
    struct server_console_header headers[SERVER_CONSOLE_HEADERS_MAX];
    size_t nheaders;
};

/* config.json names region and service (both validated by config.c). */
void server__console_create(struct server_console **out, const char *region, const char *service);
void server__console_destroy(struct server_console *c);

/* Whether path (raw, without the query) is the console's: "/", "/console"
 * or anything under "/console/". */
bool server__console_owns(const char *path);

/* Fills *out for a path the console owns. GET and HEAD only (405 with
 * Allow otherwise); an unknown name under /console/ is a 404. */
void server__console_answer(const struct server_console *c, const char *method, const char *path,
                            struct server_console_answer *out);

#endif
