/* ccfd-supervise: the per-job supervisor of the local executor, as a binary
 * of its own. It is the same code as `ccfd supervise DIR`, but links only
 * libc: ccfd's libraries (libmicrohttpd with GnuTLS, libcrypto, SQLite)
 * take ~9 ms to load and initialise, on the path of every job start. ccfd
 * runs this one when it sits beside it (src/server/jobs.c).
 * Usage: ccfd-supervise supervise DIR (the same arguments as ccfd's). */
#include <stdio.h>
#include <string.h>

#include "executor/executor.h"

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "supervise") == 0)
        return executor_supervise_main(argv[2]);
    fprintf(stderr, "usage: %s supervise DIR (run by ccfd for each job)\n", argv[0]);
    return 2;
}
