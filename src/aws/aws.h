/* aws.h: one signed AWS JSON request over libcurl, shared by ccf's AWS
 * clients (the Batch executor, the Lambda bootstrap's EventBridge
 * Scheduler client; the DynamoDB store can move onto it).
 *
 * Owns: where a call goes and as whom (the SDKs' environment variables:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL), SigV4 signing (libcurl's
 * CURLOPT_AWS_SIGV4; curl 7.88 does not add a session token by itself, so
 * X-Amz-Security-Token is set before signing and is signed too), the JSON
 * body, timeouts, the answer read under a bound, and the answer decoded
 * once: HTTP status, JSON, AWS's error type and message.
 * Must not know: any service's operations, shapes or error names (the
 * caller maps ans->type to what it means), jobs, schedules or tables.
 * Never logs a secret.
 *
 * Thread rules: aws_call is reentrant; a struct aws_conn (a kept libcurl
 * handle, so that its connection is reused) is used by one thread at a
 * time. */
#ifndef CCF_AWS_AWS_H
#define CCF_AWS_AWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

#define AWS_URL_MAX     511
#define AWS_SERVICE_MAX 31
#define AWS_KEY_ID_MAX  128
#define AWS_SECRET_MAX  256
#define AWS_TOKEN_MAX   2048
#define AWS_TYPE_MAX    127
#define AWS_MESSAGE_MAX 511
#define AWS_ERROR_MAX   (AWS_MESSAGE_MAX + 64)

/* Where calls go and as whom. Plain fields: a caller with its own
 * configuration (the DynamoDB store's URL) fills url and region itself. */
struct aws_endpoint {
    char url[AWS_URL_MAX + 1];         /* scheme://host[:port][/base], no trailing '/' */
    char service[AWS_SERVICE_MAX + 1]; /* SigV4's service name: "batch", "scheduler" */
    char region[CCF_REGION_MAX + 1];   /* the caller checked it */
    char key_id[AWS_KEY_ID_MAX + 1];   /* never ':' (libcurl's user:password) */
    char secret[AWS_SECRET_MAX + 1];   /* never logged */
    char token[AWS_TOKEN_MAX + 1];     /* "" without a session token */
};

/* ep for service in region: the credentials (aws_credentials_from_env)
 * and the URL: url_var (e.g. "AWS_ENDPOINT_URL_BATCH"; NULL: none), else
 * AWS_ENDPOINT_URL, else https://SERVICE.REGION.amazonaws.com. CCF_EINVAL
 * with the reason in err (no secret in it) when a key is missing or a
 * value is too long. */
int aws_endpoint_init(struct aws_endpoint *ep, const char *service, const char *region,
                      const char *url_var, char *err, size_t n);
/* Only the credentials into ep; CCF_EINVAL when AWS_ACCESS_KEY_ID or
 * AWS_SECRET_ACCESS_KEY is missing, empty or too long, the key id has a
 * ':', or AWS_SESSION_TOKEN is too long. */
int aws_credentials_from_env(struct aws_endpoint *ep);

/* One request. method NULL: POST. path is appended to ep->url ("/v1/
 * submitjob", "/schedules/NAME?groupName=G"; NULL: none); the caller
 * escapes it. target: the JSON protocol's X-Amz-Target (NULL for
 * rest-json). body: JSON text (NULL: none). */
struct aws_request {
    const char *method;
    const char *path;
    const char *target;
    const char *content_type; /* NULL: "application/json" */
    const char *body;
    long timeout_ms;         /* the whole call; 0: 30 s */
    long connect_timeout_ms; /* 0: libcurl's (bounded by timeout_ms) */
    size_t answer_max;       /* bytes; 0: 4 MiB. Past it the call fails (CCF_EIO) */
};

/* What came back, decoded once. */
struct aws_answer {
    long status;  /* HTTP status; 0 when there was no answer */
    json_t *json; /* the body as JSON, NULL when empty or not JSON: aws_answer_clear's */
    char type[AWS_TYPE_MAX + 1];       /* the error's type without a "namespace#" prefix
                                        * (__type, else code, else x-amzn-ErrorType); "" */
    char message[AWS_MESSAGE_MAX + 1]; /* message or Message, printable ASCII; "" */
    char error[AWS_ERROR_MAX + 1];     /* for a log or an err: "HTTP 400: <message>", the
                                        * transport's error, or "" after success */
};

/* An open connection kept between calls (one thread at a time). */
struct aws_conn;
struct aws_conn *aws_conn_create(void);
void aws_conn_destroy(struct aws_conn *c);

/* Sends req to ep (through conn when not NULL, else a handle of its own)
 * and fills *ans (aws_answer_clear it, whatever the result):
 *   0            a 2xx answer (ans->json may still be NULL: the caller
 *                decides whether it needs one),
 *   CCF_EINVAL   a refusal: 4xx but 429 and but throttling types,
 *   CCF_EUNAVAIL no answer (connection, timeout), 5xx, 429, throttling,
 *   CCF_EIO      an answer over req->answer_max.
 * ans->status and ans->type let the caller tell refusals apart (404,
 * 409, ConditionalCheckFailedException). */
int aws_call(const struct aws_endpoint *ep, struct aws_conn *conn, const struct aws_request *req,
             struct aws_answer *ans);
void aws_answer_clear(struct aws_answer *ans);

/* The decoding aws_call does (status, body of len bytes, the
 * x-amzn-ErrorType header's value or NULL) into a zeroed *ans, and the
 * class of the answer as aws_call returns it. Pure: for tests. */
int aws_answer_decode(struct aws_answer *ans, long status, const char *body, size_t len,
                      const char *error_type_header);

#endif
