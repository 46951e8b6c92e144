/* retry.h: a job's retry strategy (container_properties.retry_strategy,
 * CONTRACT-OPS.md "Retries", AWS Batch's shape): the typed decode and
 * encode, which rule decides after a failed attempt, and the backoff
 * before the next one.
 * Must not know about HTTP, SQL, processes or the clock; the jitter's
 * randomness is an argument, so every answer is reproducible.
 * Thread rules: plain data and pure functions; all thread-safe. */
#ifndef CCF_RETRY_H
#define CCF_RETRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "core/validate.h"

#define CCF_RETRY_ATTEMPTS_MAX  10
#define CCF_RETRY_RULES_MAX     5
#define CCF_RETRY_PATTERN_MAX   512 /* AWS Batch's onExitCode / onReason */
#define CCF_BACKOFF_SECONDS_MAX 86400

enum ccf_retry_action { CCF_RETRY_RETRY = 1, CCF_RETRY_EXIT };

struct ccf_retry_rule {
    char *on_exit_code; /* owned; NULL when absent: digits, optionally ending in '*' */
    char *on_reason;    /* owned; NULL when absent: a glob with '*' and '?' */
    enum ccf_retry_action action;
};

struct ccf_retry_strategy {
    int attempts; /* 1-10 */
    size_t nrules;
    struct ccf_retry_rule rules[CCF_RETRY_RULES_MAX];
    int64_t initial_seconds; /* 0-86400 */
    double multiplier;       /* 1-10 */
    int64_t max_seconds;     /* 1-86400 */
};

/* The strategy with every default: one attempt, no rules, 10 s x2 up to 3600 s. */
void ccf_retry_default(struct ccf_retry_strategy *out);

/* Validates the JSON object v (unknown keys ignored, null as absent) and
 * fills *out, defaults filled in. CCF_EINVAL with *d naming the field
 * ("container_properties.retry_strategy.backoff.multiplier ..."). *out is
 * set only on success; ccf_retry_clear frees it. */
int ccf_retry_from_json(const json_t *v, struct ccf_retry_strategy *out, struct ccf_diag *d);
/* As stored and answered: every field, defaults filled in. A new reference. */
json_t *ccf_retry_to_json(const struct ccf_retry_strategy *r);
void ccf_retry_clear(struct ccf_retry_strategy *r);

/* After a failed attempt: whether to try again, by the first rule that
 * matches (no rule matching retries, as AWS Batch does). has_exit_code is
 * false for a job killed by a signal or that could not start: a rule with
 * on_exit_code then does not match. reason is the failure reason text.
 * The caller still checks the number of attempts left. */
bool ccf_retry_should_retry(const struct ccf_retry_strategy *r, bool has_exit_code, int exit_code,
                            const char *reason);

/* The wait in milliseconds before attempt n + 1 (n >= 1 failed attempts):
 * min(max, initial x multiplier^(n-1)) scaled by 0.9 + 0.2 x u, where u in
 * [0, 1] comes from the caller's random source (u = 0.5: no jitter). */
int64_t ccf_retry_backoff_ms(const struct ccf_retry_strategy *r, int n, double u);

#endif
