/* events.h: the three event shapes the AWS profile's Lambda function gets
 * (SCALE.md, "The AWS profile"), each decoded once into a typed struct:
 * an API Gateway REST proxy event (payload 1.0), a DynamoDB Streams batch
 * of job-table records (docs/AWS.md, "The job item"), and an EventBridge
 * "Batch Job State Change". Pure decoding over jansson: must not know
 * about HTTP transports, the store's backends, or the Runtime API.
 *
 * Every decoder takes a hostile document: it fails with CCF_EINVAL and a
 * printable reason in err (n bytes) rather than trusting any field.
 * Thread rules: every function is thread-safe (no shared state). */
#ifndef CCF_LAMBDA_EVENTS_H
#define CCF_LAMBDA_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "store/store.h"

/* The biggest event the function reads: Lambda's 6 MB synchronous payload
 * with room for its JSON escaping (a body's bytes may each become \u00XX). */
#define LAMBDA_EVENT_MAX (40u * 1024 * 1024)
/* Records in one stream batch (Lambda's own maximum batch size is 10000). */
#define LAMBDA_STREAM_MAX 10000

enum lambda_event_kind {
    LAMBDA_EVENT_API = 1,     /* API Gateway REST proxy, payload 1.0 */
    LAMBDA_EVENT_STREAM,      /* DynamoDB Streams batch */
    LAMBDA_EVENT_BATCH_STATE, /* EventBridge "Batch Job State Change" */
    LAMBDA_EVENT_CCF          /* ccf's own, from EventBridge Scheduler (docs/AWS.md) */
};

/* The kind of root by its shape, or CCF_EINVAL for no known shape. */
int lambda_event_kind(const json_t *root);

/* One API request, as api_request wants it. Strings are owned; free with
 * lambda_api_event_clear. */
struct lambda_api_event {
    char method[16];
    char *target;       /* path, then ?query rebuilt percent-encoded from the event's parameters */
    char *content_type; /* NULL when absent */
    char *if_match;     /* NULL when absent; API_HEADER_REPEATED's text is the caller's */
    bool if_match_repeated;
    char *if_none_match;
    bool if_none_match_repeated;
    char *body; /* decoded (base64 when isBase64Encoded); NULL when none */
    size_t body_len;
    char account_id[CCF_ACCOUNT_ID_LEN + 1]; /* the caller's (IAM auth), else the API's */
    char request_id[128];                    /* requestContext.requestId, or "" */
    /* For the audit record: requestContext.identity's accessKey and
     * sourceIp as API Gateway set them, "" when absent or not of their form. */
    char access_key_id[STORE_AUDIT_KEY_MAX + 1];
    char source_ip[STORE_AUDIT_IP_MAX];
};

int lambda_api_event_decode(const json_t *root, struct lambda_api_event *out, char *err, size_t n);
void lambda_api_event_clear(struct lambda_api_event *ev);

/* One stream record. relevant is false for a record that is no job change
 * for the orchestrator (a REMOVE, or a MODIFY that kept the status). A
 * record of the connectors table's stream (an item with id and
 * properties, docs/AWS.md) has connector set, only change.tenant and
 * change.connector_id, and is relevant when it is an INSERT or a MODIFY
 * whose properties changed (the executor's run definition may have). */
struct lambda_stream_record {
    char sequence_number[64]; /* dynamodb.SequenceNumber: batchItemFailures' itemIdentifier */
    bool relevant;
    bool connector;
    struct store_change change; /* seq 0; at from updated_at */
};

/* A batch. A record that cannot be decoded fails the whole batch
 * (CCF_EINVAL): Lambda's retry of the batch would never fix it, and the
 * error endpoint is where the operator looks. */
struct lambda_stream_batch {
    struct lambda_stream_record *records; /* owned */
    size_t n;
};

int lambda_stream_decode(const json_t *root, struct lambda_stream_batch *out, char *err, size_t n);
void lambda_stream_batch_clear(struct lambda_stream_batch *b);

/* Batch's job statuses, as the state-change event names them. */
enum lambda_batch_status {
    LAMBDA_BATCH_SUBMITTED = 0,
    LAMBDA_BATCH_PENDING,
    LAMBDA_BATCH_RUNNABLE,
    LAMBDA_BATCH_STARTING,
    LAMBDA_BATCH_RUNNING,
    LAMBDA_BATCH_SUCCEEDED,
    LAMBDA_BATCH_FAILED,
};

/* A "Batch Job State Change": whose job it is (the job name is the ccf job
 * id; the tenant and connector come from the ARN the orchestrator put in
 * the job's environment) and what became of it. */
struct lambda_batch_state {
    struct store_job_ref ref; /* status unused */
    char batch_job_id[128];
    enum lambda_batch_status status;
    bool has_exit_code;
    int exit_code;
    bool timed_out;    /* Batch's statusReason says the attempt's timeout expired */
    int64_t timeout_s; /* detail.timeout.attemptDurationSeconds: the timeout Batch enforced;
                          0 when absent */
    char reason[256];  /* Batch's statusReason, or "" */
    int64_t at_us;     /* startedAt for RUNNING, stoppedAt when ended; 0 unknown */
};

int lambda_batch_state_decode(const json_t *root, struct lambda_batch_state *out, char *err,
                              size_t n);

/* ccf's own events, the input of the EventBridge Scheduler schedules the
 * function keeps (docs/AWS.md, "Schedules on EventBridge Scheduler"):
 *   {"ccf_event": "schedule.fire", "region", "account_id", "connector_id",
 *    "scheduled_time": RFC 3339 UTC, whole seconds}  a connector's run is due
 *   {"ccf_event": "job.next_attempt", "region", "account_id",
 *    "connector_id", "job_id"}                        a retry's wait is over
 *   {"ccf_event": "tick"}                            the once-a-minute upkeep
 * Told by its string member "ccf_event". */
enum lambda_ccf_kind {
    LAMBDA_CCF_FIRE = 1,
    LAMBDA_CCF_NEXT_ATTEMPT,
    LAMBDA_CCF_TICK,
};

struct lambda_ccf_event {
    enum lambda_ccf_kind kind;
    struct store_job_ref ref; /* tenant and connector_id (FIRE, NEXT_ATTEMPT), job_id
                                 (NEXT_ATTEMPT); status unused */
    int64_t scheduled_at;     /* FIRE: seconds since the epoch */
};

int lambda_ccf_event_decode(const json_t *root, struct lambda_ccf_event *out, char *err, size_t n);

#endif
