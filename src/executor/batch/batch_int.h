/* batch_int.h: the AWS Batch backend's parts. batch_api.c makes one Batch
 * API call (rest-json: POST /v1/<operation>, signed and sent by aws.h) and
 * builds the requests from a job's spec; batch.c is the backend on top (backend_int.h's ops)
 * with its DescribeJobs poller.
 *
 * Batch's file in a job directory DIR (beside executor_int.h's):
 *   batch.id   "ATTEMPT BATCH_JOB_ID\n" of the attempt submitted last,
 *              written once SubmitJob answered: cancel and recover find
 *              the Batch job by it after a restart.
 *
 * Thread rules: batch__call is reentrant; a conn is one thread's (aws.h). */
#ifndef CCF_EXECUTOR_BATCH_INT_H
#define CCF_EXECUTOR_BATCH_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "aws/aws.h"
#include "core/core.h"
#include "executor/executor.h"

#define BATCH__ID_FILE     "batch.id"
#define BATCH__ID_MAX      128 /* Batch's job ids are UUIDs */
#define BATCH__MIN_TIMEOUT 60  /* Batch's shortest attemptDurationSeconds */

/* Where and as whom the calls go (from the environment at open). */
struct batch__endpoint {
    struct aws_endpoint aws; /* service "batch" */
};

/* Fills ep from region (NULL: AWS_REGION) and the SDKs' variables.
 * CCF_EINVAL (logged with what is missing) without a region or keys. */
int batch__endpoint_init(struct batch__endpoint *ep, const char *region);

/* POST /v1/<op> with req (borrowed), on conn (NULL: a connection of its
 * own); *resp the answer's JSON (the caller's). CCF_EINVAL when Batch refused the request (4xx but
 * 429; err gets its message), CCF_EUNAVAIL when it could not be reached or was busy (5xx, 429),
 * CCF_EIO for an answer that is not JSON. */
int batch__call(const struct batch__endpoint *ep, struct aws_conn *conn, const char *op,
                const json_t *req, json_t **resp, char *err, size_t n);

/* The job definition a spec needs: containerProperties (image, roles,
 * resourceRequirements), timeout (at least BATCH__MIN_TIMEOUT), a retry
 * strategy of one attempt (ccf retries by itself), and a parameter
 * ccfProperties holding the SHA-256 of all that, which tells whether the
 * last registered revision still fits. New reference. */
json_t *batch__job_definition(const struct executor_spec *spec);
/* The SubmitJob request: the job's name is its ccf job id; its
 * environment (but PATH and HOME, which are the host's) and command go in
 * containerOverrides. New reference. */
json_t *batch__submit_request(const struct executor_spec *spec, const char *queue,
                              const char *definition_arn);

/* A Batch job detail (DescribeJobs' or an EventBridge event's) as an
 * executor event: true for RUNNING, SUCCEEDED and FAILED, false for the
 * statuses on the way. cancelled: ccf asked TerminateJob. */
bool batch__event(const json_t *detail, const char *job_id, bool cancelled,
                  struct executor_event *ev);

#endif
