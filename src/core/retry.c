/* retry.c: the retry strategy's decode, encode, rule matching and backoff
 * arithmetic. on_reason globs go to fnmatch(3); on_exit_code patterns are
 * simpler than a glob (digits, then an optional trailing '*'). */
#include "core/retry.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/validate_int.h"

#define F_RS "container_properties.retry_strategy"

void ccf_retry_default(struct ccf_retry_strategy *out)
{
    memset(out, 0, sizeof(*out));
    out->attempts = 1;
    out->initial_seconds = 10;
    out->multiplier = 2;
    out->max_seconds = 3600;
}

void ccf_retry_clear(struct ccf_retry_strategy *r)
{
    for (size_t i = 0; i < r->nrules; i++) {
        free(r->rules[i].on_exit_code);
        free(r->rules[i].on_reason);
    }
    r->nrules = 0;
}

static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_null(v) ? NULL : v;
}

static bool exit_code_pattern_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");

    return (s[n] == '\0' && n > 0) || (s[n] == '*' && s[n + 1] == '\0');
}

static int take_pattern(const json_t *v, const char *field, bool exit_code, char **out,
                        struct ccf_diag *d)
{
    const char *s;

    if (v__string(v, field, 1, CCF_RETRY_PATTERN_MAX, &s, d) < 0)
        return CCF_EINVAL;
    if (exit_code && !exit_code_pattern_ok(s)) {
        ccf_diag_set(d, "%s must be digits, optionally ending in *", field);
        return CCF_EINVAL;
    }
    /* fnmatch would also read [sets] and \escapes: the contract has * and ? only. */
    if (!exit_code && (strpbrk(s, "[]\\") || ccf_utf8_has_control(s, strlen(s)))) {
        ccf_diag_set(d, "%s must not contain [, ], \\ or control characters", field);
        return CCF_EINVAL;
    }
    *out = ccf_xstrdup(s);
    return 0;
}

static int take_rule(const json_t *v, size_t i, struct ccf_retry_rule *r, struct ccf_diag *d)
{
    char field[64], sub[96];
    const json_t *code, *reason, *action;
    const char *a;

    snprintf(field, sizeof(field), F_RS ".evaluate_on_exit[%zu]", i);
    if (!json_is_object(v)) {
        ccf_diag_set(d, "%s must be an object", field);
        return CCF_EINVAL;
    }
    code = member(v, "on_exit_code");
    reason = member(v, "on_reason");
    action = member(v, "action");
    if (!code && !reason) {
        ccf_diag_set(d, "%s must name on_exit_code, on_reason or both", field);
        return CCF_EINVAL;
    }
    a = json_string_value(action);
    /* AWS Batch takes the action in any case; we store it upper case. */
    if (!a || (strcasecmp(a, "RETRY") != 0 && strcasecmp(a, "EXIT") != 0)) {
        ccf_diag_set(d, "%s.action must be RETRY or EXIT", field);
        return CCF_EINVAL;
    }
    r->action = strcasecmp(a, "RETRY") == 0 ? CCF_RETRY_RETRY : CCF_RETRY_EXIT;
    snprintf(sub, sizeof(sub), "%s.on_exit_code", field);
    if (code && take_pattern(code, sub, true, &r->on_exit_code, d) < 0)
        return CCF_EINVAL;
    snprintf(sub, sizeof(sub), "%s.on_reason", field);
    if (reason && take_pattern(reason, sub, false, &r->on_reason, d) < 0)
        return CCF_EINVAL;
    return 0;
}

static int take_rules(const json_t *v, struct ccf_retry_strategy *r, struct ccf_diag *d)
{
    size_t i;
    const json_t *item;

    if (!json_is_array(v) || json_array_size(v) > CCF_RETRY_RULES_MAX) {
        ccf_diag_set(d, F_RS ".evaluate_on_exit must be an array of at most %d rules",
                     CCF_RETRY_RULES_MAX);
        return CCF_EINVAL;
    }
    json_array_foreach(v, i, item)
    {
        r->nrules = i + 1; /* so that clear frees a half-taken rule */
        if (take_rule(item, i, &r->rules[i], d) < 0)
            return CCF_EINVAL;
    }
    return 0;
}

static int take_backoff(const json_t *v, struct ccf_retry_strategy *r, struct ccf_diag *d)
{
    const json_t *init, *mult, *max;

    if (!json_is_object(v)) {
        ccf_diag_set(d, F_RS ".backoff must be an object");
        return CCF_EINVAL;
    }
    if ((init = member(v, "initial_seconds"))) {
        if (v__integer(init, F_RS ".backoff.initial_seconds", 0, CCF_BACKOFF_SECONDS_MAX, d) < 0)
            return CCF_EINVAL;
        r->initial_seconds = json_integer_value(init);
    }
    if ((max = member(v, "max_seconds"))) {
        if (v__integer(max, F_RS ".backoff.max_seconds", 1, CCF_BACKOFF_SECONDS_MAX, d) < 0)
            return CCF_EINVAL;
        r->max_seconds = json_integer_value(max);
    }
    if ((mult = member(v, "multiplier"))) {
        if (!json_is_number(mult) || !(json_number_value(mult) >= 1) ||
            json_number_value(mult) > 10) {
            ccf_diag_set(d, F_RS ".backoff.multiplier must be a number from 1 to 10");
            return CCF_EINVAL;
        }
        r->multiplier = json_number_value(mult);
    }
    return 0;
}

int ccf_retry_from_json(const json_t *v, struct ccf_retry_strategy *out, struct ccf_diag *d)
{
    struct ccf_retry_strategy r;
    const json_t *m;

    ccf_retry_default(&r);
    if (!json_is_object(v)) {
        ccf_diag_set(d, F_RS " must be an object");
        return CCF_EINVAL;
    }
    if ((m = member(v, "attempts"))) {
        if (v__integer(m, F_RS ".attempts", 1, CCF_RETRY_ATTEMPTS_MAX, d) < 0)
            return CCF_EINVAL;
        r.attempts = (int)json_integer_value(m);
    }
    if (((m = member(v, "evaluate_on_exit")) && take_rules(m, &r, d) < 0) ||
        ((m = member(v, "backoff")) && take_backoff(m, &r, d) < 0)) {
        ccf_retry_clear(&r);
        return CCF_EINVAL;
    }
    *out = r;
    return 0;
}

/* 2 stays 2 in the stored JSON (not 2.0); 1.5 stays 1.5. */
static json_t *number(double x)
{
    return x == (double)(json_int_t)x ? json_integer((json_int_t)x) : json_real(x);
}

json_t *ccf_retry_to_json(const struct ccf_retry_strategy *r)
{
    json_t *rules = json_array();

    for (size_t i = 0; i < r->nrules; i++) {
        const struct ccf_retry_rule *rule = &r->rules[i];
        json_t *o =
            json_pack("{s:s}", "action", rule->action == CCF_RETRY_RETRY ? "RETRY" : "EXIT");
        if (rule->on_exit_code)
            json_object_set_new(o, "on_exit_code", json_string(rule->on_exit_code));
        if (rule->on_reason)
            json_object_set_new(o, "on_reason", json_string(rule->on_reason));
        json_array_append_new(rules, o);
    }
    return json_pack("{s:i,s:o,s:{s:I,s:o,s:I}}", "attempts", r->attempts, "evaluate_on_exit",
                     rules, "backoff", "initial_seconds", (json_int_t)r->initial_seconds,
                     "multiplier", number(r->multiplier), "max_seconds",
                     (json_int_t)r->max_seconds);
}

static bool exit_code_matches(const char *pattern, int code)
{
    char s[16];
    size_t n = strlen(pattern);

    snprintf(s, sizeof(s), "%d", code);
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(s, pattern, n - 1) == 0;
    return strcmp(s, pattern) == 0;
}

bool ccf_retry_should_retry(const struct ccf_retry_strategy *r, bool has_exit_code, int exit_code,
                            const char *reason)
{
    for (size_t i = 0; i < r->nrules; i++) {
        const struct ccf_retry_rule *rule = &r->rules[i];
        if (rule->on_exit_code &&
            (!has_exit_code || !exit_code_matches(rule->on_exit_code, exit_code)))
            continue;
        if (rule->on_reason && fnmatch(rule->on_reason, reason ? reason : "", FNM_NOESCAPE) != 0)
            continue;
        return rule->action == CCF_RETRY_RETRY;
    }
    return true;
}

int64_t ccf_retry_backoff_ms(const struct ccf_retry_strategy *r, int n, double u)
{
    double wait = (double)r->initial_seconds, max = (double)r->max_seconds;

    /* Multiplying step by step stops at max: no pow(), no overflow. */
    for (int i = 1; i < n && wait < max; i++)
        wait *= r->multiplier;
    if (wait > max)
        wait = max;
    if (!(u >= 0))
        u = 0;
    if (u > 1)
        u = 1;
    return (int64_t)(wait * (0.9 + 0.2 * u) * 1000.0 + 0.5);
}
