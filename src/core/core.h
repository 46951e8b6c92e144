/* core.h: ccf's domain types (tenant, connector, job, document, checkpoint),
 * error codes, id and time helpers and checked sizes. Validation and JSON
 * live in validate.h and codec.h; logging in log.h.
 * Must not know about HTTP, SQL or processes.
 * Thread rules: every function here is thread-safe. */
#ifndef CCF_CORE_H
#define CCF_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/banned.h"

/* Every function that acts returns 0 (or a count) on success, or one of these. */
enum ccf_err {
    CCF_OK = 0,
    CCF_EINVAL = -1,    /* input fails validation (400) */
    CCF_ENOTFOUND = -2, /* no such record for this tenant (404) */
    CCF_ECONFLICT = -3, /* state conflict (409) */
    CCF_ETOOLARGE = -4, /* over a size limit (413) */
    CCF_EIO = -5,       /* storage or system failure, logged where it happened (500) */
    CCF_EUNAVAIL = -6,  /* storage busy, full or read-only; retry later (503) */
    CCF_ENOMEM = -7,    /* out of memory */
    CCF_EPRECOND = -8,  /* a conditional write's condition does not hold (412) */
    CCF_ETOKEN = -9,    /* a client_token reused with another request body (409) */
    CCF_EEXPIRED = -10, /* an events cursor past what is kept (400 ExpiredCursorException) */
    CCF_ELIMIT = -11,   /* a per-tenant limit reached (400 LimitExceededException) */
};

const char *ccf_strerror(int err);

/* Contract limits. */
#define CCF_BODY_MAX           (8u * 1024 * 1024)
#define CCF_CONNECTOR_ID_LEN   15 /* "cc-" + 12 hex */
#define CCF_JOB_ID_LEN         16 /* "ccj-" + 12 hex */
#define CCF_ACCOUNT_ID_LEN     12
#define CCF_REGION_MAX         31
#define CCF_NAME_MAX           128
#define CCF_DESCRIPTION_MAX    1000
#define CCF_DOC_ID_MAX         512 /* code points */
#define CCF_CHECKSUM_MIN       32
#define CCF_CHECKSUM_MAX       512
#define CCF_BATCH_MAX          1000
#define CCF_CHECKPOINT_MAX     (1024u * 1024)
#define CCF_ENV_MAX            50
#define CCF_ENV_NAME_MAX       128
#define CCF_ENV_VALUE_MAX      4096
#define CCF_FAILURE_REASON_MAX 1024
#define CCF_TOKEN_MAX          2048
#define CCF_PAGE_DEFAULT       50
#define CCF_PAGE_MAX           100
#define CCF_DOC_PAGE_MAX       1000
#define CCF_TIME_LEN           27 /* "2026-11-24T23:54:14.123456Z" */

/* The tenant every record belongs to. Both fields are validated. */
struct ccf_tenant {
    char region[CCF_REGION_MAX + 1];
    char account_id[CCF_ACCOUNT_ID_LEN + 1];
};

/* Fills *out; CCF_EINVAL if region is not [a-z0-9-]{1,31} or account_id not 12 digits. */
int ccf_tenant_init(struct ccf_tenant *out, const char *region, const char *account_id);

enum ccf_connector_status { CCF_CONNECTOR_AVAILABLE = 0, CCF_CONNECTOR_IN_USE = 1 };

enum ccf_job_status {
    CCF_JOB_STARTED = 0,
    CCF_JOB_RUNNING,
    CCF_JOB_STOPPING,
    CCF_JOB_SUCCEEDED,
    CCF_JOB_FAILED,
    CCF_JOB_STOPPED,
};
#define CCF_JOB_STATUS_COUNT 6

const char *ccf_connector_status_name(enum ccf_connector_status s);
const char *ccf_job_status_name(enum ccf_job_status s);
/* CCF_EINVAL for an unknown name; names are exact and upper case. */
int ccf_job_status_parse(const char *name, enum ccf_job_status *out);
bool ccf_job_status_terminal(enum ccf_job_status s);

/* A connector. Strings marked "owned" are freed by ccf_connector_clear. */
struct ccf_connector {
    char id[CCF_CONNECTOR_ID_LEN + 1];
    char *name;        /* owned */
    char *description; /* owned, NULL when unset */
    char *properties;  /* owned: container_properties as compact JSON, already validated */
    enum ccf_connector_status status;
    char active_job_id[CCF_JOB_ID_LEN + 1]; /* "" when AVAILABLE */
    int64_t created_at;                     /* microseconds since the epoch, UTC */
    int64_t updated_at;
    int64_t version; /* bumped by every write; for conditional updates */
    /* Schedules (CONTRACT-OPS.md "Schedules", "Pause and resume"). */
    char *schedule;          /* owned: the stored `schedule` as compact JSON, NULL when none */
    int64_t schedule_anchor; /* seconds: when a rate schedule's intervals start */
    int64_t next_run_at;     /* seconds since the epoch; 0 when no run is due */
    bool paused;
};
void ccf_connector_clear(struct ccf_connector *c);

/* What was done with a job's own credentials (CONTRACT-OPS.md, "Per-job
 * document statistics"): counts of operations, not net effects. */
struct ccf_job_stats {
    int64_t documents_added;
    int64_t documents_updated;
    int64_t documents_unchanged;
    int64_t documents_deleted;
    int64_t checkpoint_puts;
};
/* What started a job. NONE: a job made before triggers were recorded. */
enum ccf_job_trigger { CCF_TRIGGER_NONE = 0, CCF_TRIGGER_API = 1, CCF_TRIGGER_SCHEDULE = 2 };
/* "API", "SCHEDULE"; NULL for CCF_TRIGGER_NONE or an unknown value. */
const char *ccf_job_trigger_name(enum ccf_job_trigger t);

struct ccf_job {
    char id[CCF_JOB_ID_LEN + 1];
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    enum ccf_job_status status;
    int64_t created_at;
    int64_t updated_at;
    int64_t started_at;   /* 0 when unset */
    int64_t completed_at; /* 0 when unset */
    bool has_exit_code;
    int exit_code;
    char *failure_reason; /* owned, NULL when unset */
    char *environment;    /* owned: the job's own variables as a JSON array, NULL when none */
    char *executor_id;    /* owned, NULL until submitted */
    bool has_stats;       /* the job has reached RUNNING: stats are shown */
    struct ccf_job_stats stats;
    /* Retries (CONTRACT-OPS.md "Retries"): */
    int attempt;             /* the latest attempt started, from 1; 0 before the first */
    int64_t next_attempt_at; /* 0 unless waiting before the next attempt */
    char *attempts;          /* owned: the stored JSON array (core/attempts.c), NULL before */
    char *spec;              /* owned: the container_properties the job runs with, frozen
                                when its first attempt starts; NULL before */
    enum ccf_job_trigger trigger;
    char *status_reason; /* owned: why a STARTED job waits (capacity); NULL when unset */
};
void ccf_job_clear(struct ccf_job *j);

/* What a job runs, decoded once from its connector's container_properties
 * when the orchestrator admits the job: an update of the connector while
 * the job waits applies to the next job, to its command and its limits
 * alike (CONTRACT.md: an update applies to the next job). */
struct ccf_env_var {
    char *name; /* owned */
    char *value;
};
struct ccf_retry_strategy;
struct ccf_job_spec {
    char **command;  /* owned, NULL-terminated; NULL when the connector has none (image_uri) */
    char *image_uri; /* owned; NULL when the connector has none */
    /* owned; NULL when absent: the IAM roles of an image's job (executor batch) */
    char *execution_role_arn;
    char *job_role_arn;
    struct ccf_env_var *env; /* owned: the connector's default variables, in order */
    size_t nenv;
    double cpu;
    int64_t memory_mib;
    int64_t timeout_s;
    struct ccf_retry_strategy *retry; /* owned; NULL: one attempt (core/retry.h) */
};
/* Decodes properties (compact JSON, as validation stored them) into *out.
 * CCF_EINVAL if they do not hold what validation guarantees: positive
 * cpu, memory and timeout, a command of strings, variables of strings. */
int ccf_job_spec_decode(const char *properties, struct ccf_job_spec *out);
/* Takes NULL; leaves *s zeroed. */
void ccf_job_spec_clear(struct ccf_job_spec *s);

/* A document as passed to and from the store; strings are borrowed. */
struct ccf_document {
    const char *id; /* NUL-terminated UTF-8 without control characters */
    const char *checksum;
    int64_t created_at;
    int64_t updated_at;
};

struct ccf_checkpoint {
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    char *data; /* owned; may contain NUL bytes, hence data_len */
    size_t data_len;
    int64_t created_at;
    int64_t updated_at;
    int64_t version; /* 1 on the first put, +1 each put; 0 when unknown */
};
void ccf_checkpoint_clear(struct ccf_checkpoint *c);

/* Ids from a CSPRNG (OpenSSL RAND_bytes). CCF_EIO if the CSPRNG fails. */
int ccf_connector_id_new(char out[CCF_CONNECTOR_ID_LEN + 1]);
int ccf_job_id_new(char out[CCF_JOB_ID_LEN + 1]);
bool ccf_connector_id_valid(const char *s);
bool ccf_job_id_valid(const char *s);
/* Fills buf with n random bytes from the CSPRNG; CCF_EIO on failure. */
int ccf_random_bytes(void *buf, size_t n);

/* Wall-clock time in microseconds since the epoch. */
int64_t ccf_now_us(void);
/* Microseconds on CLOCK_MONOTONIC: for durations and deadlines, never for
 * timestamps (those are ccf_now_us). */
int64_t ccf_mono_us(void);
/* Formats t as RFC 3339 UTC with microseconds and Z; out gets CCF_TIME_LEN chars + NUL. */
void ccf_time_format(int64_t t, char out[CCF_TIME_LEN + 1]);

/* Writes the connector ARN into out (size n); CCF_EINVAL if it does not fit. */
int ccf_connector_arn(const struct ccf_tenant *t, const char *connector_id, char *out, size_t n);

/* Overflow-checked size arithmetic: false on overflow, *out untouched. */
bool ccf_size_add(size_t a, size_t b, size_t *out);
bool ccf_size_mul(size_t a, size_t b, size_t *out);

/* Allocation that aborts on failure (ccfd cannot do anything useful without memory). */
void *ccf_xmalloc(size_t n);
void *ccf_xcalloc(size_t n, size_t size);
void *ccf_xrealloc(void *p, size_t n);
char *ccf_xstrdup(const char *s);
char *ccf_xstrndup(const char *s, size_t n);

#endif
