/* cursor.c: reading a list that goes on with a cursor (`ccf events`,
 * `ccf audit`) to its end, or with --follow until Ctrl-C; the cursor to
 * resume from goes to stderr at the end, so that stdout stays one item a
 * line. It knows no list: each command's page() reads and prints one. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/banned.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Sleeps s seconds unless Ctrl-C comes first. */
static void pause_follow(unsigned s)
{
    struct timespec t = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};

    for (unsigned i = 0; i < s * 10 && !interrupted; i++)
        nanosleep(&t, NULL);
}

static int read_on(struct cli *cli, const struct cli_cursor_list *l, const char *after, bool follow)
{
    char *cursor = after ? strdup(after) : NULL, *next;
    size_t n;
    int rc = CLI_OK;

    for (;;) {
        if (l->page(cli, l->ctx, cursor, follow, &next, &n) < 0) {
            rc = interrupted ? CLI_INTERRUPTED : cli_api_error(cli);
            break;
        }
        fflush(stdout);
        free(cursor);
        cursor = next;
        if (n == 0 && follow)
            pause_follow(l->pause_s);
        if (interrupted) {
            rc = CLI_INTERRUPTED;
            break;
        }
        if (n == 0 && !follow)
            break;
    }
    if (cursor)
        fprintf(stderr, "next_cursor: %s\n", cursor);
    free(cursor);
    return rc;
}

int cli_read_cursor_list(struct cli *cli, const struct cli_cursor_list *l, const char *after,
                         bool follow)
{
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    int rc;

    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    rc = read_on(cli, l, after, follow);
    sigaction(SIGINT, &old, NULL);
    return rc;
}
