/* events_jobs.c: the two job event shapes. A DynamoDB Streams batch of
 * job-table records (NEW_AND_OLD_IMAGES; the attributes read are those of
 * docs/AWS.md, "The job item") becomes store_change values, the
 * orchestrator's input; an EventBridge "Batch Job State Change" becomes a
 * job reference and Batch's status, the status handler's input. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/events_int.h"

/* The S (string) value of attribute name in a DynamoDB image, or NULL. */
static const char *attr_s(const json_t *image, const char *name)
{
    return lambda__str(lambda__obj(image, name), "S");
}

/* The N (number, as a string) value of name as an int64; false if absent
 * or not an integer in range. */
static bool attr_n(const json_t *image, const char *name, int64_t *out)
{
    const char *s = lambda__str(lambda__obj(image, name), "N");
    char *end;
    long long v;

    if (!s || !*s || strlen(s) > 20)
        return false;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || v < 0 || v == LLONG_MAX)
        return false;
    *out = v;
    return true;
}

/* The job's identity and status from a NewImage or OldImage. */
static int decode_image(const json_t *image, struct store_change *ch, enum ccf_job_status *status,
                        char *err, size_t n)
{
    const char *region = attr_s(image, "region"), *account = attr_s(image, "account_id");
    const char *cid = attr_s(image, "connector_id"), *jid = attr_s(image, "job_id");
    const char *st = attr_s(image, "status");

    if (!region || !account || ccf_tenant_init(&ch->tenant, region, account) < 0)
        return lambda__fail(err, n, "job image without a valid region and account_id");
    if (!cid || !ccf_connector_id_valid(cid) || !jid || !ccf_job_id_valid(jid))
        return lambda__fail(err, n, "job image without a valid connector_id and job_id");
    if (!st || ccf_job_status_parse(st, status) < 0)
        return lambda__fail(err, n, "job image without a valid status");
    memcpy(ch->connector_id, cid, sizeof(ch->connector_id));
    memcpy(ch->job_id, jid, sizeof(ch->job_id));
    return 0;
}

/* A connector item's record (the connectors table: pk "REGION#ACCOUNT",
 * id, properties): relevant when new, or when its properties changed. */
static int decode_connector(const char *name, const json_t *db, struct lambda_stream_record *out,
                            char *err, size_t n)
{
    const json_t *now = lambda__obj(db, "NewImage");
    const char *pk = attr_s(now, "pk"), *id = attr_s(now, "id"), *props = attr_s(now, "properties");
    const char *hash = pk ? strchr(pk, '#') : NULL, *before;
    char region[CCF_REGION_MAX + 1];

    if (!hash || (size_t)(hash - pk) > CCF_REGION_MAX || !id || !ccf_connector_id_valid(id) ||
        !props)
        return lambda__fail(err, n,
                            "record %s: connector image without a valid pk, id and "
                            "properties",
                            out->sequence_number);
    memcpy(region, pk, (size_t)(hash - pk));
    region[hash - pk] = '\0';
    if (ccf_tenant_init(&out->change.tenant, region, hash + 1) < 0)
        return lambda__fail(err, n, "record %s: connector pk is not REGION#ACCOUNT",
                            out->sequence_number);
    memcpy(out->change.connector_id, id, strlen(id) + 1);
    out->connector = true;
    before = attr_s(lambda__obj(db, "OldImage"), "properties");
    /* A MODIFY without its old properties (another view type) counts as changed. */
    out->relevant = strcmp(name, "INSERT") == 0 || !before || strcmp(before, props) != 0;
    return 0;
}

static int decode_record(const json_t *rec, struct lambda_stream_record *out, char *err, size_t n)
{
    json_t *db = lambda__obj(rec, "dynamodb");
    const char *name = lambda__str(rec, "eventName"), *src = lambda__str(rec, "eventSource");
    const char *seq = lambda__str(db, "SequenceNumber");
    struct store_change old = {0};
    enum ccf_job_status now, before;
    int rc;

    if (!src || strcmp(src, "aws:dynamodb") != 0 || !name || !db)
        return lambda__fail(err, n, "a record that is not a DynamoDB stream record");
    if (!seq || !*seq || strlen(seq) >= sizeof(out->sequence_number))
        return lambda__fail(err, n, "a record without a SequenceNumber");
    memcpy(out->sequence_number, seq, strlen(seq) + 1);
    if (strcmp(name, "REMOVE") == 0)
        return 0; /* a purge: nothing for the orchestrator */
    if (strcmp(name, "INSERT") != 0 && strcmp(name, "MODIFY") != 0)
        return lambda__fail(err, n, "record %s: unknown eventName", out->sequence_number);
    if (!attr_s(lambda__obj(db, "NewImage"), "job_id") &&
        attr_s(lambda__obj(db, "NewImage"), "properties"))
        return decode_connector(name, db, out, err, n);
    if ((rc = decode_image(lambda__obj(db, "NewImage"), &out->change, &now, err, n)) < 0)
        return rc;
    out->change.new_status = now;
    out->change.old_status = -1;
    if (!attr_n(lambda__obj(db, "NewImage"), "updated_at", &out->change.at))
        out->change.at = 0;
    if (strcmp(name, "MODIFY") == 0) {
        if (decode_image(lambda__obj(db, "OldImage"), &old, &before, err, n) < 0)
            return lambda__fail(err, n,
                                "record %s: MODIFY without a valid OldImage (the stream "
                                "must be NEW_AND_OLD_IMAGES)",
                                out->sequence_number);
        if (strcmp(old.job_id, out->change.job_id) != 0)
            return lambda__fail(err, n, "record %s: OldImage is another job", out->sequence_number);
        out->change.old_status = (int)before;
    }
    out->relevant = out->change.old_status != (int)now;
    return 0;
}

int lambda_stream_decode(const json_t *root, struct lambda_stream_batch *out, char *err, size_t n)
{
    json_t *records = json_object_get(root, "Records");
    struct lambda_stream_batch b = {0};
    size_t count;
    int rc;

    if (!json_is_array(records) || (count = json_array_size(records)) == 0)
        return lambda__fail(err, n, "Records is not a non-empty list");
    if (count > LAMBDA_STREAM_MAX)
        return lambda__fail(err, n, "more than %u records", LAMBDA_STREAM_MAX);
    b.records = ccf_xcalloc(count, sizeof(*b.records));
    for (b.n = 0; b.n < count; b.n++) {
        if ((rc = decode_record(json_array_get(records, b.n), &b.records[b.n], err, n)) < 0) {
            lambda_stream_batch_clear(&b);
            return rc;
        }
    }
    *out = b;
    return 0;
}

void lambda_stream_batch_clear(struct lambda_stream_batch *b)
{
    free(b->records);
    b->records = NULL;
    b->n = 0;
}

static const char *const batch_status_names[] = {
    "SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED",
};

/* The tenant and connector from the connector's ARN the orchestrator put
 * in the job's environment: arn:aws:ccf:REGION:ACCOUNT:custom-connector/ID. */
static int decode_arn(const char *arn, struct store_job_ref *ref)
{
    char region[CCF_REGION_MAX + 1], account[CCF_ACCOUNT_ID_LEN + 1];
    const char *p, *q, *r;

    if (strncmp(arn, "arn:aws:ccf:", 12) != 0)
        return CCF_EINVAL;
    p = arn + 12;
    if (!(q = strchr(p, ':')) || (size_t)(q - p) > CCF_REGION_MAX || !(r = strchr(q + 1, ':')) ||
        r - q - 1 != CCF_ACCOUNT_ID_LEN || strncmp(r + 1, "custom-connector/", 17) != 0)
        return CCF_EINVAL;
    memcpy(region, p, (size_t)(q - p));
    region[q - p] = '\0';
    memcpy(account, q + 1, CCF_ACCOUNT_ID_LEN);
    account[CCF_ACCOUNT_ID_LEN] = '\0';
    if (ccf_tenant_init(&ref->tenant, region, account) < 0 || !ccf_connector_id_valid(r + 18))
        return CCF_EINVAL;
    memcpy(ref->connector_id, r + 18, CCF_CONNECTOR_ID_LEN + 1);
    return 0;
}

static int find_arn(const json_t *container, struct store_job_ref *ref)
{
    json_t *env = json_object_get(container, "environment"), *item;
    size_t i;

    if (!json_is_array(env))
        return CCF_EINVAL;
    json_array_foreach(env, i, item)
    {
        const char *name = lambda__str(item, "name"), *value = lambda__str(item, "value");
        if (name && value && strcmp(name, "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN") == 0)
            return decode_arn(value, ref);
    }
    return CCF_EINVAL;
}

/* Batch's times are ms since the epoch. */
static int64_t ms_field(const json_t *detail, const char *key)
{
    json_t *v = json_object_get(detail, key);
    json_int_t ms = json_is_integer(v) ? json_integer_value(v) : 0;

    return ms > 0 && ms < INT64_MAX / 1000 ? (int64_t)ms * 1000 : 0;
}

static int decode_outcome(const json_t *detail, struct lambda_batch_state *out)
{
    json_t *container = lambda__obj(detail, "container");
    json_t *code = json_object_get(container, "exitCode");
    const char *reason = lambda__str(detail, "statusReason");

    if (code && json_is_integer(code)) {
        json_int_t c = json_integer_value(code);
        if (c < 0 || c > 255)
            return CCF_EINVAL;
        out->has_exit_code = true;
        out->exit_code = (int)c;
    }
    if (reason)
        snprintf(out->reason, sizeof(out->reason), "%s", reason);
    for (char *p = out->reason; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7F)
            *p = ' ';
    /* Batch's own words for an attempt it killed at its timeout. */
    out->timed_out = reason && strstr(reason, "duration exceeded timeout") != NULL;
    code = json_object_get(lambda__obj(detail, "timeout"), "attemptDurationSeconds");
    if (json_is_integer(code) && json_integer_value(code) > 0 &&
        json_integer_value(code) < INT32_MAX)
        out->timeout_s = (int64_t)json_integer_value(code);
    out->at_us = ms_field(detail, out->status == LAMBDA_BATCH_RUNNING ? "startedAt" : "stoppedAt");
    return 0;
}

int lambda_batch_state_decode(const json_t *root, struct lambda_batch_state *out, char *err,
                              size_t n)
{
    json_t *detail = lambda__obj(root, "detail");
    const char *name = lambda__str(detail, "jobName"), *st = lambda__str(detail, "status");
    const char *bid = lambda__str(detail, "jobId");
    struct lambda_batch_state s = {0};
    size_t i;

    if (!name || !ccf_job_id_valid(name))
        return lambda__fail(err, n, "detail.jobName is not a ccf job id");
    memcpy(s.ref.job_id, name, CCF_JOB_ID_LEN + 1);
    if (!bid || !*bid || strlen(bid) >= sizeof(s.batch_job_id))
        return lambda__fail(err, n, "detail.jobId is missing");
    memcpy(s.batch_job_id, bid, strlen(bid) + 1);
    for (i = 0; st && i < sizeof(batch_status_names) / sizeof(batch_status_names[0]); i++)
        if (strcmp(st, batch_status_names[i]) == 0)
            break;
    if (!st || i == sizeof(batch_status_names) / sizeof(batch_status_names[0]))
        return lambda__fail(err, n, "detail.status is not a Batch job status");
    s.status = (enum lambda_batch_status)i;
    if (find_arn(lambda__obj(detail, "container"), &s.ref) < 0)
        return lambda__fail(err, n, "job %s: no connector ARN in its container's environment",
                            s.ref.job_id);
    if (decode_outcome(detail, &s) < 0)
        return lambda__fail(err, n, "job %s: container.exitCode out of range", s.ref.job_id);
    *out = s;
    return 0;
}
