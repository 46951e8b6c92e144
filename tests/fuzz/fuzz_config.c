/* fuzz_config.c: ccfd's configuration loader (server__config_load) on an
 * INI file of fuzzed bytes, with one flag after it. Whatever the file
 * holds, the loader either refuses it (CCF_EINVAL, having said why on
 * stderr) or yields a configuration within every key's bounds, and the flag
 * always wins over the file. It prints a line per refusal: run it with
 * -close_fd_mask=2 (tests/fuzz/run.sh does). Input: the file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "server/config.h"

static char path[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof(path), "%s/ccfd.ini", fuzz_tmpdir());
    return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    FUZZ_CHECK(fd >= 0, "open %s", path);
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "write %s", path);
    close(fd);
}

static void check_config(const struct server_config *c)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->listen_addr;

    FUZZ_CHECK(strcmp(c->region, "eu-west-1") == 0, "the flag lost to the file: %s", c->region);
    FUZZ_CHECK(c->data_dir && c->data_dir[0] && strlen(c->data_dir) <= 3072, "data-dir");
    FUZZ_CHECK(strlen(c->account_id) == CCF_ACCOUNT_ID_LEN, "account-id %s", c->account_id);
    FUZZ_CHECK(c->threads >= 1 && c->threads <= 1024, "threads %u", c->threads);
    FUZZ_CHECK(strcmp(c->synchronous, "FULL") == 0 || strcmp(c->synchronous, "NORMAL") == 0 ||
                   strcmp(c->synchronous, "OFF") == 0,
               "synchronous %s", c->synchronous);
    FUZZ_CHECK(sa->sa_family == AF_INET || sa->sa_family == AF_INET6, "listen family %d",
               (int)sa->sa_family);
    FUZZ_CHECK(c->allow_insecure_listen || server__addr_is_loopback(sa),
               "a non-loopback listen address without allow-insecure-listen");
    FUZZ_CHECK(c->job_path != NULL, "job-path");
    FUZZ_CHECK(c->cpu_budget >= 1 && c->memory_budget_mib >= 1024, "budgets");
    FUZZ_CHECK(c->connection_limit >= 1 && c->connection_timeout >= 1, "connections");
    FUZZ_CHECK(c->stop_grace >= 1 && c->job_log_max >= 4096 && c->retention >= 1, "jobs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char a0[] = "ccfd", a1[] = "--config", a3[] = "--region=eu-west-1";
    char *argv[] = {a0, a1, path, a3, NULL};
    struct server_config c;
    int rc;

    if (size > 65536)
        return 0;
    write_file(data, size);
    rc = server__config_load(&c, 4, argv);
    FUZZ_CHECK(rc == SERVER_CONFIG_RUN || rc == CCF_EINVAL, "server__config_load: %d", rc);
    if (rc == SERVER_CONFIG_RUN)
        check_config(&c);
    server__config_clear(&c);
    return 0;
}
