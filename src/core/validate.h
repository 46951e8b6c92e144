/* validate.h: the contract's validation rules for request bodies, and the
 * JSON encoding of domain types (jansson). Everything a 400 can be about is
 * decided here; the message names the offending field.
 * Must not know about HTTP status codes, SQL or processes.
 * Thread rules: all functions are thread-safe. */
#ifndef CCF_VALIDATE_H
#define CCF_VALIDATE_H

#include <jansson.h>

#include "core/core.h"

/* Why validation failed, for the 400's message. */
struct ccf_diag {
    char msg[320];
};

void ccf_diag_set(struct ccf_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decodes a request body: one JSON object, UTF-8, no duplicate keys, NUL
 * escapes allowed (only checkpoint_data may keep them). NULL with *d set
 * when the body is not such an object. The caller decrefs the result. */
json_t *ccf_json_parse_object(const char *body, size_t len, struct ccf_diag *d);

/* Number of code points in valid UTF-8 (jansson has validated it). */
size_t ccf_utf8_count(const char *s, size_t n);
/* True if s holds a control character: U+0000-U+001F or U+007F-U+009F. */
bool ccf_utf8_has_control(const char *s, size_t n);

/* CreateCustomConnector: fills c->name, c->description and c->properties
 * (defaults applied, unknown fields dropped). CCF_EINVAL with *d set. */
int ccf_connector_from_create(const json_t *body, struct ccf_connector *c, struct ccf_diag *d);

/* UpdateCustomConnector: applies body as a JSON merge patch (RFC 7396) over
 * c's name, description and properties and validates the result; on success
 * c's owned fields are replaced. CCF_EINVAL with *d set for an invalid
 * result or an empty update (no known field, or only empty objects). */
int ccf_connector_apply_update(const json_t *body, struct ccf_connector *c, struct ccf_diag *d);

/* Validates an update body on its own, before the connector is read, so
 * that a body no connector could take is a 400 even for a missing one. */
int ccf_connector_check_update(const json_t *body, struct ccf_diag *d);

/* StartCustomConnectorJob: body may be NULL (no body). *environment gets
 * the job's variables as compact JSON (caller frees) or NULL when none. */
int ccf_job_start_from_json(const json_t *body, char **environment, struct ccf_diag *d);

/* BatchPut: fills *docs (ccf_xmalloc'd array, sorted by id bytewise;
 * strings borrowed from body) and *n. Duplicates are an error. */
int ccf_documents_from_put(const json_t *body, struct ccf_document **docs, size_t *n,
                           struct ccf_diag *d);
/* BatchDelete: fills *ids (ccf_xmalloc'd, sorted, borrowed from body). */
int ccf_documents_from_delete(const json_t *body, const char ***ids, size_t *n, struct ccf_diag *d);
/* PutCheckpoint: *data borrowed from body. */
int ccf_checkpoint_from_put(const json_t *body, const char **data, size_t *len, struct ccf_diag *d);

/* Idempotent creates and starts (CONTRACT-OPS.md). */
#define CCF_CLIENT_TOKEN_MAX 64
#define CCF_BODY_HASH_LEN    32
/* *token gets body's client_token (borrowed; NULL when absent) and, when
 * there is one, hash the SHA-256 of the rest of the body as a JSON value
 * (key order and spacing do not count). body may be NULL (no body).
 * CCF_EINVAL with *d set for a token that is not 1..64 of [A-Za-z0-9_-]. */
int ccf_client_token_from_json(const json_t *body, const char **token,
                               unsigned char hash[CCF_BODY_HASH_LEN], struct ccf_diag *d);
/* A checkpoint put's expected_version: -1 when absent, else 0 (none) or
 * more. CCF_EINVAL with *d set when it is not such an integer. */
int ccf_checkpoint_expected_version(const json_t *body, int64_t *out, struct ccf_diag *d);

/* Encoders: new references the caller decrefs. */
json_t *ccf_connector_summary_json(const struct ccf_tenant *t, const struct ccf_connector *c);
/* The summary plus container_properties. */
json_t *ccf_connector_full_json(const struct ccf_tenant *t, const struct ccf_connector *c);
/* Whether s has the shape of the JSON object text ccfd stores for
 * container_properties ("{...}", compact): a check before it is copied into
 * an answer unparsed, not a validation. */
bool ccf_json_object_text(const char *s);
json_t *ccf_job_json(const struct ccf_job *j);

/* A job's attempts (core/attempts.c). stored is the job's attempts text
 * (NULL: none); the char * results are the new text, malloc'd. */
/* Appends attempt number attempt, started at `at`. */
char *ccf_attempts_begin(const char *stored, int attempt, int64_t at);
/* Ends the latest attempt if it has not ended (else the text unchanged). */
char *ccf_attempts_end(const char *stored, int64_t at, bool has_exit_code, int exit_code,
                       const char *reason);
/* Whether the latest attempt has started and not ended. */
bool ccf_attempts_open(const char *stored);
/* The latest attempt's exit code, if it has one. */
bool ccf_attempts_last_exit(const char *stored, int *exit_code);
/* As answered: [{attempt, started_at, completed_at?, exit_code?, reason?}]. */
json_t *ccf_attempts_json(const char *stored);
json_t *ccf_document_json(const struct ccf_document *d);
json_t *ccf_checkpoint_json(const struct ccf_checkpoint *c);
json_t *ccf_time_json(int64_t t);

/* The out-of-memory policy of a program (ccfd), never of a library: jansson
 * allocates with ccf_xmalloc, which aborts, so no encoder can quietly drop a
 * member it had no memory for and answer a success with a partial body
 * (json_object_set_new fails and returns -1; nothing checks each one).
 * Call once in main, before any thread and any other jansson call. */
void ccf_json_abort_on_oom(void);

#endif
