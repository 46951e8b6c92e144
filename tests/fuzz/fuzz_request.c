/* fuzz_request.c: whole requests through api_handle over a real store: the
 * parsing and validation of every operation's body, its query and path,
 * and the store calls that follow. Input: a flags byte, then
 * METHOD '\n' TARGET '\n' CONTENT-TYPE '\n' BODY. Flags: bit 0 sends the
 * request as another account (which must see none of the fixture); bit 1
 * sends no Content-Type header at all (an empty line sends an empty one).
 * In TARGET, @A @C @J @E name the fixture (harness.h). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_env_get();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *e = fuzz_env_get();
    uint8_t flags;
    char *method, *raw, *target, *ctype;

    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    method = fuzz_field(&data, &size);
    raw = fuzz_field(&data, &size);
    ctype = fuzz_field(&data, &size);
    target = fuzz_expand(e, raw, strlen(raw));
    fuzz_env_reset(e);
    fuzz_request(e, flags & 1, method, target, (flags & 2) ? NULL : ctype, (const char *)data,
                 size);
    free(target);
    free(ctype);
    free(raw);
    free(method);
    return 0;
}
