/* fuzz_aws_answer.c: the decoding of an AWS answer (aws_answer_decode,
 * aws/aws.h), which every AWS client of ccf reads from the network.
 * Input: two bytes of HTTP status (big-endian, taken modulo 600), a line
 * that is the x-amzn-ErrorType header's value (empty: none), then the
 * body. Whatever comes: a 2xx is a success; anything else a refusal or
 * "unavailable" (5xx and 429 always the latter) with an error text that
 * names the status; type and message are bounded printable ASCII, the
 * type without '#'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "harness.h"

static void check_printable(const char *s, size_t max, const char *what)
{
    size_t len = strlen(s);

    FUZZ_CHECK(len <= max, "%s of %zu bytes", what, len);
    for (; *s; s++)
        FUZZ_CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7F, "%s byte 0x%02x", what,
                   (unsigned char)*s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct aws_answer ans = {0};
    const uint8_t *nl;
    char header[256], prefix[32];
    long status;
    size_t hlen;
    int rc;

    if (size < 2)
        return 0;
    status = (long)(((unsigned)data[0] << 8 | data[1]) % 600);
    data += 2;
    size -= 2;
    nl = memchr(data, '\n', size);
    hlen = nl ? (size_t)(nl - data) : size;
    if (hlen >= sizeof(header))
        hlen = sizeof(header) - 1;
    memcpy(header, data, hlen);
    header[hlen] = '\0';
    if (nl) {
        size -= (size_t)(nl + 1 - data);
        data = nl + 1;
    } else {
        size = 0;
    }
    rc = aws_answer_decode(&ans, status, (const char *)data, size, header[0] ? header : NULL);
    FUZZ_CHECK(ans.status == status, "status");
    if (status >= 200 && status < 300) {
        FUZZ_CHECK(rc == 0, "a 2xx refused: %d", rc);
        FUZZ_CHECK(!ans.error[0], "an error text on success");
    } else {
        FUZZ_CHECK(rc == CCF_EINVAL || rc == CCF_EUNAVAIL, "class %d", rc);
        FUZZ_CHECK(status < 500 && status != 429 ? 1 : rc == CCF_EUNAVAIL, "5xx/429 as %d", rc);
        snprintf(prefix, sizeof(prefix), "HTTP %ld: ", status);
        FUZZ_CHECK(strncmp(ans.error, prefix, strlen(prefix)) == 0, "error text %s", ans.error);
    }
    check_printable(ans.type, AWS_TYPE_MAX, "type");
    FUZZ_CHECK(!strchr(ans.type, '#') && !strchr(ans.type, ':'), "type %s", ans.type);
    check_printable(ans.message, AWS_MESSAGE_MAX, "message");
    check_printable(ans.error, AWS_ERROR_MAX, "error");
    aws_answer_clear(&ans);
    return 0;
}
