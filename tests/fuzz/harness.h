/* harness.h: what the libFuzzer targets (tests/fuzz/fuzz_*.c) share: a real
 * store and api in a temporary directory, fixture records rebuilt before
 * every input so that an input's outcome never depends on the inputs before
 * it, the contract's invariants on every response, and input splitting.
 * A broken invariant aborts with a message, which libFuzzer reports as a
 * crash and saves the input for.
 * Thread rules: single-threaded, as libFuzzer runs a target. */
#ifndef CCF_FUZZ_HARNESS_H
#define CCF_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "store/store.h"

/* libFuzzer's entry points. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a crash for libFuzzer) with the invariant that failed. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* A scratch directory of this process under $TMPDIR, removed at exit. */
const char *fuzz_tmpdir(void);

/* The world a request meets. Placeholders in a request-target name the
 * fixture's ids: @A an AVAILABLE connector with nothing stored; @C a
 * connector IN_USE by job @J (STARTED), with three documents and a
 * checkpoint; @E a job of @C that ended (SUCCEEDED). */
struct fuzz_env {
    struct store *store;
    struct api *api;
    struct ccf_tenant tenant; /* owns the fixture */
    struct ccf_tenant other;  /* another account: must see none of it */
    char idle_id[CCF_CONNECTOR_ID_LEN + 1];
    char busy_id[CCF_CONNECTOR_ID_LEN + 1];
    char job_id[CCF_JOB_ID_LEN + 1];
    char ended_id[CCF_JOB_ID_LEN + 1];
};

/* Opens the store and api once per process. */
struct fuzz_env *fuzz_env_get(void);
/* Deletes everything of both tenants and builds the fixture again. */
void fuzz_env_reset(struct fuzz_env *e);

/* Replaces the placeholders in s[0..n) (stopping at a NUL) with the
 * fixture's ids. The result is the caller's to free. */
char *fuzz_expand(const struct fuzz_env *e, const char *s, size_t n);

/* One request through api_handle, then the checks every response must
 * pass: a status of the contract's table (never 500 or 503 here), the
 * error shape, JSON bodies that parse, and tenant isolation (another
 * account never gets a 2xx on the fixture's ids). */
void fuzz_request(struct fuzz_env *e, bool other_tenant, const char *method, const char *target,
                  const char *content_type, const char *body, size_t body_len);

/* Cuts the next field, up to a '\n', off *data; the field is a new
 * NUL-terminated string (cut at any NUL inside) the caller frees. When no
 * '\n' is left, the field is the rest. */
char *fuzz_field(const uint8_t **data, size_t *size);

#endif
