/* fuzz_lambda_stream.c: DynamoDB Streams batches of job records
 * (lambda/events.h; the job item of docs/AWS.md). Input: the batch's
 * JSON. A refusal says why in printable ASCII; an accepted batch has as
 * many records as the input, each with a sequence number, and every
 * record the orchestrator is to see names a valid tenant, connector and
 * job, a known status, and a status that differs from the old one; a
 * connector record (the connectors table's stream) a valid tenant and
 * connector, and no job. */
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

static void check_record(const struct lambda_stream_record *r)
{
    const struct store_change *c = &r->change;
    struct ccf_tenant t;

    FUZZ_CHECK(r->sequence_number[0], "a record without a sequence number");
    if (!r->relevant)
        return;
    FUZZ_CHECK(ccf_tenant_init(&t, c->tenant.region, c->tenant.account_id) == 0, "tenant");
    if (r->connector) {
        FUZZ_CHECK(ccf_connector_id_valid(c->connector_id) && !c->job_id[0], "connector ids");
        return;
    }
    FUZZ_CHECK(ccf_connector_id_valid(c->connector_id) && ccf_job_id_valid(c->job_id), "ids");
    FUZZ_CHECK((unsigned)c->new_status < CCF_JOB_STATUS_COUNT, "status %d", c->new_status);
    FUZZ_CHECK(c->old_status >= -1 && c->old_status < CCF_JOB_STATUS_COUNT &&
                   c->old_status != (int)c->new_status,
               "old status %d, new %d", c->old_status, c->new_status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    struct lambda_stream_batch b;
    char err[256] = "";

    if (!root)
        return 0;
    if (lambda_stream_decode(root, &b, err, sizeof(err)) == 0) {
        FUZZ_CHECK(b.n == json_array_size(json_object_get(root, "Records")), "record count");
        for (size_t i = 0; i < b.n; i++)
            check_record(&b.records[i]);
        lambda_stream_batch_clear(&b);
    } else {
        FUZZ_CHECK(err[0], "a refusal without a reason");
        for (const char *p = err; *p; p++)
            FUZZ_CHECK(*p >= 0x20 && *p < 0x7F, "unprintable reason: %s", err);
    }
    /* Whatever the shape, telling it never fails otherwise. */
    (void)lambda_event_kind(root);
    json_decref(root);
    return 0;
}
