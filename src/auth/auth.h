/* auth.h: AWS Signature Version 4 verification of requests (header form,
 * AWS4-HMAC-SHA256), the credentials store (a mode-0600 INI file, reloadable
 * without a restart), per-job credentials scoped to one connector, and the
 * principal a verified request yields: its tenant and its scope.
 * Must not know about storage internals, sockets or libmicrohttpd.
 *
 * A request is checked in two steps, following CONTRACT.md's order of checks:
 * auth_precheck once the headers are in and before any body byte is read
 * (presence, form, key, session token, date, credential scope), then
 * auth_verify over the whole body (payload hash, signature, scope). Every
 * refusal is a 403 whose errorType and message are in struct auth_error.
 *
 * Choices where the contract is silent (botocore is the reference client):
 * - A malformed Authorization header, a missing or malformed date and a
 *   credential scope of another date, region or service are
 *   InvalidSignatureException (AWS says IncompleteSignatureException, which
 *   the contract does not list). A skew either way says "Signature expired".
 * - An expired key is UnrecognizedClientException, "The security token
 *   included in the request is expired." (AWS: ExpiredTokenException).
 * - Host must be signed, and so must every x-amz-* header sent (the date,
 *   the session token, the payload hash). Other headers may come unsigned,
 *   as botocore's amz-sdk-* headers do.
 * - x-amz-content-sha256 is optional; when sent it must be the body's
 *   SHA-256 in lower-case hex: UNSIGNED-PAYLOAD and STREAMING-* are refused.
 * - X-Amz-Date, or else an HTTP Date header, dates the request.
 * - The canonical path is the path as sent, normalised and encoded once
 *   more (botocore, and AWS for every service but S3). curl 7.88 signs an
 *   escape in the path as sent, so such a curl request is refused; no valid
 *   id needs an escape. The query is decoded, re-encoded and sorted; empty
 *   parts (a&&b) are skipped; '+' is a literal plus.
 *
 * Thread rules: one struct auth serves every transport thread. auth_precheck,
 * auth_verify, auth_pending_free, auth_credentials_reload and the per-job
 * functions are thread-safe; a reload never shows a reader a half-loaded
 * table. auth_create and auth_destroy run with no request in flight. The
 * file functions (auth_credentials_init_file/add/list/revoke) take no
 * struct auth: they serve the admin subcommand, a separate process, and lock
 * the file's directory against each other. */
#ifndef CCF_AUTH_H
#define CCF_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define AUTH_KEY_ID_MIN        16
#define AUTH_KEY_ID_MAX        128 /* [A-Z0-9]{16,128} */
#define AUTH_SECRET_MIN        16
#define AUTH_SECRET_MAX        128 /* printable ASCII without spaces */
#define AUTH_SESSION_TOKEN_MAX 160 /* printable ASCII without spaces */
#define AUTH_MAX_SKEW_S        300 /* X-Amz-Date may be this far from server time */
#define AUTH_SERVICE_DEFAULT   "execute-api"
/* Per-job credentials outlive their job by at most this when no revoke
 * comes (the contract's longest timeout, 7 days, plus a day of queueing). */
#define AUTH_JOB_LIFETIME_DEFAULT ((int64_t)8 * 24 * 3600)
#define AUTH_MESSAGE_MAX          512

struct auth; /* defined in auth/auth.c */

struct auth_config {
    const char *credentials_path;     /* the INI file; required, must exist */
    const char *job_credentials_path; /* per-job keys survive restarts here; NULL: memory only */
    const char *region;               /* the server's region: signing scope and tenant */
    const char *service;              /* signing name; NULL: AUTH_SERVICE_DEFAULT */
    int64_t job_lifetime_s;           /* 0: AUTH_JOB_LIFETIME_DEFAULT */
};

/* Loads both files. CCF_ENOTFOUND if credentials_path does not exist (the
 * caller may create it with auth_credentials_init_file and retry);
 * CCF_EINVAL if a file is group/world accessible or an entry is invalid, or
 * cfg is; CCF_EIO if a file cannot be read. Each failure is logged with the
 * path, the line and the fix. Strings in cfg are copied. */
int auth_create(struct auth **out, const struct auth_config *cfg);
void auth_destroy(struct auth *a);

/* Re-reads the credentials file (for SIGHUP) and swaps it in at once. On
 * failure the table in use stays and the error is logged and returned
 * (same codes as auth_create). Per-job credentials are not touched. */
int auth_credentials_reload(struct auth *a);

/* ---- request verification ---- */

/* One header as received; names compare case-insensitively. A header sent
 * twice is passed twice: SigV4 joins the values with ','. */
struct auth_header {
    const char *name;
    const char *value;
};

/* Everything is borrowed for the call. */
struct auth_request {
    const char *method; /* as received: "GET" */
    const char *target; /* raw request-target, not decoded: path, then ?query */
    const struct auth_header *headers;
    size_t nheaders;
    int64_t now_s; /* server time, seconds since the epoch */
};

/* A refusal: always a 403 in the contract's shape. */
/* Who signed a verified request. */
struct auth_principal {
    struct ccf_tenant tenant; /* the signer's account id, in the server's region */
    char access_key_id[AUTH_KEY_ID_MAX + 1];
    char connector_id[CCF_CONNECTOR_ID_LEN + 1]; /* scope; "" when unscoped */
    char job_id[CCF_JOB_ID_LEN + 1];             /* per-job credentials: their job; else "" */
};

struct auth_error {
    int status;             /* 403 */
    const char *error_type; /* static: MissingAuthenticationTokenException, ... */
    char message[AUTH_MESSAGE_MAX];
    /* The known key the refusal is about (a bad or expired signature, a
     * scope), for the audit log; who.access_key_id is "" when the request
     * named no known key. */
    struct auth_principal who;
};

/* What auth_verify needs from auth_precheck, the signing key included
 * (never the secret itself); auth_pending_free wipes it. */
struct auth_pending;

/* Step one, before the body: on success returns 0 and *out (free it with
 * auth_pending_free, whatever happens next). On refusal returns CCF_EINVAL
 * and fills *err:
 *   no Authorization header -> MissingAuthenticationTokenException;
 *   a malformed one, or a missing or malformed date -> InvalidSignatureException;
 *   unknown, expired or revoked key, or a session token missing, unsigned,
 *   unexpected or wrong -> UnrecognizedClientException;
 *   X-Amz-Date (or Date) more than 5 minutes from now_s, a credential scope
 *   whose date, region or service is not ours, host unsigned, an x-amz-*
 *   header unsigned, x-amz-content-sha256 not a SHA-256 -> InvalidSignatureException. */
int auth_precheck(struct auth *a, const struct auth_request *req, struct auth_pending **out,
                  struct auth_error *err);

/* Step two, over the whole body: on success returns 0 and fills *out. On
 * refusal returns CCF_EINVAL and fills *err: x-amz-content-sha256 not the
 * body's hash, or a signature that does not match ->
 * InvalidSignatureException (compared in constant time); a scoped key
 * outside its scope -> AccessDeniedException. p stays the caller's. */
int auth_verify(struct auth_pending *p, const void *body, size_t len, struct auth_principal *out,
                struct auth_error *err);

/* Takes NULL. */
void auth_pending_free(struct auth_pending *p);

/* The access key id the headers named (a known key, not yet proven by the
 * signature): what a rate limit counts before the body is read. Lives as
 * long as p. */
const char *auth_pending_access_key_id(const struct auth_pending *p);
/* Who the headers say signed (not yet proven): for the audit record of a
 * request refused before its body is read. Lives as long as p. */
const struct auth_principal *auth_pending_principal(const struct auth_pending *p);

/* Whether a principal may make this request. An unscoped one may make any.
 * One scoped to connector C may use only /api/v1/custom-connectors/C/documents
 * and /api/v1/custom-connectors/C/checkpoint (any method) and, if it belongs
 * to job J, GET /api/v1/custom-connectors/C/jobs/J. target is raw: its
 * segments are percent-decoded before they are compared, as the router does. */
bool auth_principal_allows(const struct auth_principal *p, const char *method, const char *target);

/* ---- the credentials file ----
 * One section per access key id:
 *   [AKIAIOSFODNN7EXAMPLE]
 *   secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
 *   account_id = 123456789012
 *   session_token = ...                       (optional)
 *   connector_id = cc-0123456789ab            (optional: the key's scope)
 *   expires_at = 2026-12-31T23:59:59Z         (optional: RFC 3339 or epoch seconds)
 * The file must be mode 0600 or stricter; every writer below replaces it
 * atomically (temporary file, fsync, rename), keeping mode 0600. */

/* Creates path (it must not exist: CCF_ECONFLICT) with one random key pair
 * for account_id: an access key id "AKIA" + 16 of [A-Z2-7] and a 40-char
 * secret, both from the CSPRNG. key_id gets the new id; the secret is only
 * in the file. CCF_EINVAL for a bad account id, CCF_EIO on failure. */
int auth_credentials_init_file(const char *path, const char *account_id,
                               char key_id[AUTH_KEY_ID_MAX + 1]);

/* A key pair to add. NULL or 0 leaves a field out; a NULL key id or secret
 * is generated. */
struct auth_credential_spec {
    const char *account_id; /* required: 12 digits */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
    const char *connector_id;
    int64_t expires_at; /* seconds since the epoch; 0: never */
};

/* Adds a key pair (creating the file if it is missing) and hands back its
 * id and secret, the only time the secret leaves the file. CCF_EINVAL for an
 * invalid spec, CCF_ECONFLICT if the key id exists, CCF_EIO on failure. */
int auth_credentials_add(const char *path, const struct auth_credential_spec *spec,
                         char key_id[AUTH_KEY_ID_MAX + 1], char secret[AUTH_SECRET_MAX + 1]);

/* One key as listed: never its secret or token. */
struct auth_credential_info {
    char access_key_id[AUTH_KEY_ID_MAX + 1];
    char account_id[CCF_ACCOUNT_ID_LEN + 1];
    char connector_id[CCF_CONNECTOR_ID_LEN + 1]; /* "" when unscoped */
    bool has_session_token;
    int64_t expires_at; /* 0: never */
};

/* *out (free() it) gets the keys sorted by id, *n their count. Same errors
 * as auth_create's load. */
int auth_credentials_list(const char *path, struct auth_credential_info **out, size_t *n);

/* Removes one key. CCF_ENOTFOUND if the file has no such key. A running
 * ccfd stops accepting it on its next reload (SIGHUP). */
int auth_credentials_revoke(const char *path, const char *access_key_id);

/* An expires_at as the file takes it: RFC 3339 ("2026-12-31T23:59:59Z",
 * offsets and fractions allowed) or seconds since the epoch; false if neither. */
bool auth_parse_expiry(const char *s, int64_t *out);

/* ---- per-job credentials ----
 * Short-lived key pairs, one per job, scoped to the job's connector, kept in
 * memory and in job_credentials_path (so that a job re-adopted after a
 * restart keeps working). Their shapes are struct orchestrator_credentials'
 * issue and revoke: pass the struct auth as ctx. */

/* Issues a key pair for job_id (replacing any it had): an id "ASIA" + 16 of
 * [A-Z2-7], a 40-char secret and a session token, valid until revoked or
 * job_lifetime_s from now. CCF_EINVAL for bad ids, CCF_EIO if the CSPRNG or
 * the file fails (then nothing is issued). */
int auth_job_credentials_issue(void *auth, const struct ccf_tenant *t, const char *connector_id,
                               const char *job_id, char key_id[64], char secret[128],
                               char token[512]);

/* Ends job_id's key pair at once; nothing if it has none. */
void auth_job_credentials_revoke(void *auth, const char *job_id);

/* ---- SigV4 building blocks (clients and tests) ---- */

/* The canonical request (method, canonical URI, canonical query, canonical
 * headers, signed headers, payload hash), as AWS documents it: the path is
 * normalised (dot segments and repeated slashes removed) and every byte but
 * the unreserved ones and '/' is percent-encoded, so an escape on the wire
 * is encoded a second time (as botocore does for every service but S3);
 * query names and values are decoded, re-encoded (RFC 3986 unreserved kept)
 * and sorted by name, then value. signed_headers is "host;x-amz-date"
 * (lower case, sorted, ';'-separated). *out is the caller's to free().
 * CCF_EINVAL if a signed header is absent or the query has over 256 parts. */
int auth_sigv4_canonical_request(const char *method, const char *target,
                                 const struct auth_header *headers, size_t nheaders,
                                 const char *signed_headers, const char *payload_hash, char **out);

/* kSigning = HMAC chain over "AWS4" + secret, date (YYYYMMDD), region,
 * service and "aws4_request". */
void auth_sigv4_signing_key(const char *secret, const char *date, const char *region,
                            const char *service, unsigned char out[32]);

/* A request to sign: every header given is signed. It must carry Host and
 * X-Amz-Date (or Date) itself, with amz_date the same instant. */
struct auth_sign_input {
    const char *method;
    const char *target;
    const struct auth_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *access_key_id;
    const char *secret;
    const char *region;
    const char *service;
    const char *amz_date; /* "20150830T123600Z" */
};

/* *authorization (free() it) gets the Authorization header's value;
 * *string_to_sign too when not NULL. CCF_EINVAL for bad input. */
int auth_sign(const struct auth_sign_input *in, char **authorization, char **string_to_sign);

#endif
