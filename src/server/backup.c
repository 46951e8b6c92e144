/* backup.c: `ccfd backup`, the command line around store_backup. Prints
 * what it copied and how to restore it. */
#include "server/backup.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "server/config.h"
#include "store/store.h"

#define EXIT_FAIL  1
#define EXIT_USAGE 2

static void usage(FILE *f)
{
    fprintf(f, "Usage: ccfd backup [--data-dir DIR] FILE\n"
               "Copies the store, DIR/ccf.db (default " SERVER_DEFAULT_DATA_DIR "), to FILE while\n"
               "ccfd runs: every write acknowledged before the copy began is in it, and no\n"
               "write waits for it. FILE appears whole or not at all (mode 0600); it must not\n"
               "be one of the store's own files. The credentials file is not copied.\n\n"
               "Restore: stop ccfd, put FILE in place as DIR/ccf.db (remove any\n"
               "DIR/ccf.db-wal and DIR/ccf.db-shm left by a crash), start ccfd.\n");
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "ccfd backup: %s%s%s; see ccfd backup --help\n", msg, arg ? " " : "",
            arg ? arg : "");
    return EXIT_USAGE;
}

static const char *failure(int rc)
{
    switch (rc) {
    case CCF_ENOTFOUND:
        return "there is no store there (is --data-dir right?)";
    case CCF_EINVAL:
        return "refused to write there (see the log line above)";
    default:
        return "the copy failed (see the log line above)";
    }
}

int server__backup_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = SERVER_DEFAULT_DATA_DIR, *file;
    char db[PATH_MAX];
    struct store_backup_stats st;
    int ch, n, rc;

    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (ch == 'd')
            dir = optarg;
        else if (ch == 'h') {
            usage(stdout);
            return 0;
        } else
            return usage_error(ch == ':' ? "missing value for option" : "unknown option",
                               argv[optind - 1]);
    }
    if (optind >= argc)
        return usage_error("missing FILE", NULL);
    file = argv[optind++];
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    n = snprintf(db, sizeof(db), "%s/ccf.db", dir);
    if (n < 0 || (size_t)n >= sizeof(db) || file[0] == '\0' || strlen(file) >= PATH_MAX - 16)
        return usage_error("path too long or empty", NULL);
    if ((rc = store_backup(db, file, &st)) < 0) {
        fprintf(stderr, "ccfd backup: %s -> %s: %s\n", db, file, failure(rc));
        return EXIT_FAIL;
    }
    printf("ccfd backup: wrote %s from %s: %lld pages, %lld bytes, in %lld ms\n", file, db,
           (long long)st.pages, (long long)st.bytes, (long long)(st.duration_us / 1000));
    return 0;
}
