/* fuzz_lambda_ccf.c: ccf's own Lambda events, the input of the EventBridge
 * Scheduler schedules the function keeps (lambda/events.h). Input: the
 * event's JSON. A refusal says why in printable ASCII; an accepted event
 * is a tick, or names a valid tenant and connector (and job, for a next
 * attempt), and a fire's time is after 1970 and before 10000. */
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
    struct lambda_ccf_event ev;
    struct ccf_tenant t;
    char err[256] = "";

    if (!root)
        return 0;
    if (lambda_ccf_event_decode(root, &ev, err, sizeof(err)) == 0) {
        FUZZ_CHECK(ev.kind >= LAMBDA_CCF_FIRE && ev.kind <= LAMBDA_CCF_TICK, "kind %d", ev.kind);
        FUZZ_CHECK(lambda_event_kind(root) > 0, "a decoded event of no shape");
        if (ev.kind != LAMBDA_CCF_TICK) {
            FUZZ_CHECK(ccf_tenant_init(&t, ev.ref.tenant.region, ev.ref.tenant.account_id) == 0,
                       "tenant");
            FUZZ_CHECK(ccf_connector_id_valid(ev.ref.connector_id), "connector id");
        }
        if (ev.kind == LAMBDA_CCF_NEXT_ATTEMPT)
            FUZZ_CHECK(ccf_job_id_valid(ev.ref.job_id), "job id %s", ev.ref.job_id);
        if (ev.kind == LAMBDA_CCF_FIRE)
            FUZZ_CHECK(ev.scheduled_at >= 0 && ev.scheduled_at < 253402300800LL, "time %lld",
                       (long long)ev.scheduled_at);
    } else {
        FUZZ_CHECK(err[0], "a refusal without a reason");
        for (const char *p = err; *p; p++)
            FUZZ_CHECK(*p >= 0x20 && *p < 0x7F, "unprintable reason: %s", err);
    }
    json_decref(root);
    return 0;
}
