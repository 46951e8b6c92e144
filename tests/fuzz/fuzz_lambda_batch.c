/* fuzz_lambda_batch.c: EventBridge "Batch Job State Change" events
 * (lambda/events.h). Input: the event's JSON. A refusal says why in
 * printable ASCII; an accepted event names a valid job id, tenant and
 * connector, a known Batch status, an exit code in 0..255 when it has
 * one, and a reason of printable characters. */
#include <jansson.h>
#include <string.h>

#include "harness.h"
#include "lambda/events.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    struct lambda_batch_state s;
    struct ccf_tenant t;
    char err[256] = "";

    if (!root)
        return 0;
    if (lambda_batch_state_decode(root, &s, err, sizeof(err)) == 0) {
        FUZZ_CHECK(ccf_job_id_valid(s.ref.job_id), "job id %s", s.ref.job_id);
        FUZZ_CHECK(ccf_connector_id_valid(s.ref.connector_id), "connector id");
        FUZZ_CHECK(ccf_tenant_init(&t, s.ref.tenant.region, s.ref.tenant.account_id) == 0,
                   "tenant");
        FUZZ_CHECK((unsigned)s.status <= LAMBDA_BATCH_FAILED, "status %d", s.status);
        FUZZ_CHECK(!s.has_exit_code || (s.exit_code >= 0 && s.exit_code <= 255), "exit code");
        for (const char *p = s.reason; *p; p++)
            FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7F, "reason byte");
        FUZZ_CHECK(s.batch_job_id[0], "no Batch job id");
    } else {
        FUZZ_CHECK(err[0], "a refusal without a reason");
        for (const char *p = err; *p; p++)
            FUZZ_CHECK(*p >= 0x20 && *p < 0x7F, "unprintable reason: %s", err);
    }
    json_decref(root);
    return 0;
}
