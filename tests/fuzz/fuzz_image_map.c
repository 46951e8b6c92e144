/* fuzz_image_map.c: the image-map rule parser and rewriting
 * (src/executor/podman/imagemap.c). Input: rules, then a NUL byte, then a
 * URI. Parsing never crashes and either compiles or says why; applying a
 * compiled map never writes past its buffer, and what it writes is at most
 * IMAGEMAP_URI_MAX bytes and NUL-terminated. */
#include <stdlib.h>
#include <string.h>

#include "executor/podman/imagemap.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *rules, *uri, err[256], out[IMAGEMAP_URI_MAX + 1];
    const uint8_t *nul = memchr(data, '\0', size);
    size_t rlen = nul ? (size_t)(nul - data) : size;
    struct imagemap *m;

    if (size > 8192)
        return 0;
    rules = malloc(rlen + 1);
    memcpy(rules, data, rlen);
    rules[rlen] = '\0';
    uri = malloc(size - rlen + 1);
    memcpy(uri, nul ? nul + 1 : data + size, nul ? size - rlen - 1 : 0);
    uri[nul ? size - rlen - 1 : 0] = '\0';
    err[0] = '\0';
    if (imagemap_parse(&m, rules, err, sizeof(err)) == 0) {
        if (imagemap_apply(m, uri, out, sizeof(out)) == 0 && strlen(out) > IMAGEMAP_URI_MAX)
            abort();
        imagemap_free(m);
    } else if (err[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    free(rules);
    free(uri);
    return 0;
}
