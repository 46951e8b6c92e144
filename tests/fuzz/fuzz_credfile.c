/* fuzz_credfile.c: the credentials files' loader (auth_create, and
 * auth_credentials_list for the admin command) on a file of fuzzed bytes,
 * as the keys file (flags bit 0 clear) or as the per-job keys file (set).
 * A file is refused (logged; run with -close_fd_mask=2) or loaded, and a
 * loaded keys file lists as the same keys, sorted, each well formed.
 * Input: a flags byte, then the file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "harness.h"

static const char keys_file[] = "[AKIDEXAMPLE00000]\n"
                                "secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
                                "account_id = 123456789012\n";

static char fuzzed[600], fixed[600];

static void write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    FUZZ_CHECK(fd >= 0 && write(fd, data, size) == (ssize_t)size, "write %s", path);
    close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_env_get(); /* quiets the log */
    snprintf(fuzzed, sizeof(fuzzed), "%s/fuzzed", fuzz_tmpdir());
    snprintf(fixed, sizeof(fixed), "%s/credentials", fuzz_tmpdir());
    write_file(fixed, keys_file, sizeof(keys_file) - 1);
    return 0;
}

static bool key_id_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= AUTH_KEY_ID_MIN && n <= AUTH_KEY_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

static void check_list(void)
{
    struct auth_credential_info *v = NULL;
    size_t n = 0;

    FUZZ_CHECK(auth_credentials_list(fuzzed, &v, &n) == 0, "loads but does not list");
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(key_id_ok(v[i].access_key_id), "key id %s", v[i].access_key_id);
        FUZZ_CHECK(strlen(v[i].account_id) == CCF_ACCOUNT_ID_LEN &&
                       strspn(v[i].account_id, "0123456789") == CCF_ACCOUNT_ID_LEN,
                   "account %s", v[i].account_id);
        FUZZ_CHECK(i == 0 || strcmp(v[i - 1].access_key_id, v[i].access_key_id) < 0,
                   "unsorted or repeated keys");
        FUZZ_CHECK(v[i].expires_at >= 0, "expires_at %lld", (long long)v[i].expires_at);
    }
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_config cfg = {.region = "us-east-1"};
    struct auth *a = NULL;
    bool as_jobs;
    int rc;

    if (size < 1 || size > 65536)
        return 0;
    as_jobs = data[0] & 1;
    write_file(fuzzed, data + 1, size - 1);
    cfg.credentials_path = as_jobs ? fixed : fuzzed;
    cfg.job_credentials_path = as_jobs ? fuzzed : NULL;
    rc = auth_create(&a, &cfg);
    FUZZ_CHECK(rc == 0 || rc == CCF_EINVAL, "auth_create: %d", rc);
    if (rc == 0 && !as_jobs)
        check_list();
    auth_destroy(a);
    return 0;
}
