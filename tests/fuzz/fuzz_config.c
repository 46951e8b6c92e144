/* fuzz_config.c: ccfd's configuration loader (server__config_load) on an
 * INI file of fuzzed bytes, with one flag after it. Whatever the file
 * holds, the loader either refuses it (CCF_EINVAL, having said why on
 * stderr) or yields a configuration within every key's bounds, and the flag
 * always wins over the file and the environment. It prints a line per
 * refusal: run it with -close_fd_mask=2 (tests/fuzz/run.sh does). Input:
 * the file; when it starts with "CCF_", its first line is an environment
 * variable NAME=VALUE set for the load (the CCF_ path). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "server/config.h"
#include "store/store.h"

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

/* A shown store url is shorter than its buffer and shows no more when
 * redacted again: what was a password stays "***". */
static void check_redacted(const char *url)
{
    char once[4300], twice[4300];

    store_url_redact(url, once, sizeof(once));
    store_url_redact(once, twice, sizeof(twice));
    FUZZ_CHECK(strlen(once) < sizeof(once), "redacted url too long");
    FUZZ_CHECK(strcmp(once, twice) == 0, "redacting again changed %s", once);
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
    FUZZ_CHECK(c->store && store_url_valid(c->store), "store");
    FUZZ_CHECK(strcmp(c->store, "sqlite") == 0 || strncmp(c->store, "postgres", 8) == 0 ||
                   (strncmp(c->store, "dynamodb://", 11) == 0 && c->store_experimental),
               "a store neither sqlite, a postgresql:// URI, nor dynamodb:// with "
               "store-experimental");
    check_redacted(c->store);
}

/* Sets the variable of the input's first line; returns the rest, with *name
 * set to the variable to unset after the load ("" for none). */
static const uint8_t *take_env(const uint8_t *data, size_t *size, char *name, size_t n)
{
    const uint8_t *nl = memchr(data, '\n', *size);
    char line[4200], *eq;
    size_t len;

    name[0] = '\0';
    if (*size < 4 || memcmp(data, "CCF_", 4) != 0 || !nl || (len = (size_t)(nl - data)) >= n ||
        len >= sizeof(line) || memchr(data, '\0', len))
        return data;
    memcpy(line, data, len);
    line[len] = '\0';
    eq = strchr(line, '=');
    if (!eq || eq == line)
        return data;
    *eq = '\0';
    if (setenv(line, eq + 1, 1) != 0)
        return data;
    memcpy(name, line, (size_t)(eq - line) + 1); /* fits: len < n */
    *size -= len + 1;
    return nl + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char a0[] = "ccfd", a1[] = "--config", a3[] = "--region=eu-west-1";
    char *argv[] = {a0, a1, path, a3, NULL};
    struct server_config c;
    char var[200];
    int rc;

    if (size > 65536)
        return 0;
    data = take_env(data, &size, var, sizeof(var));
    write_file(data, size);
    rc = server__config_load(&c, 4, argv);
    if (var[0])
        unsetenv(var);
    FUZZ_CHECK(rc == SERVER_CONFIG_RUN || rc == CCF_EINVAL, "server__config_load: %d", rc);
    if (rc == SERVER_CONFIG_RUN)
        check_config(&c);
    server__config_clear(&c);
    return 0;
}
