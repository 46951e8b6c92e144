/* schedule_json.c: a connector's `schedule` object, decoded into a typed
 * ccf_schedule with its defaults and encoded back as it is stored and
 * answered (CONTRACT-OPS.md "Schedules"). */
#include <stdio.h>
#include <string.h>

#include "core/schedule.h"
#include "core/validate_int.h"

/* A member, with JSON null taken as absent (a merge patch's removal). */
static const json_t *member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_null(v) ? NULL : v;
}

static int take_expression(const json_t *obj, struct ccf_schedule *s, struct ccf_diag *d)
{
    const json_t *v = member(obj, "expression");
    struct ccf_diag why = {{0}};
    const char *e;

    if (!v) {
        ccf_diag_set(d, "schedule.expression is required");
        return CCF_EINVAL;
    }
    if (v__string(v, "schedule.expression", 1, CCF_SCHED_EXPR_MAX, &e, d) < 0)
        return CCF_EINVAL;
    if (ccf_sched_parse(e, &s->expr, &why) < 0) {
        ccf_diag_set(d, "schedule.expression is not valid: %s", why.msg);
        return CCF_EINVAL;
    }
    snprintf(s->expression, sizeof(s->expression), "%s", e);
    return 0;
}

static int take_timezone(const json_t *obj, struct ccf_tzdb *db, struct ccf_schedule *s,
                         struct ccf_diag *d)
{
    const json_t *v = member(obj, "timezone");
    struct ccf_diag why = {{0}};
    const char *name = "UTC";

    if (v && v__string(v, "schedule.timezone", 1, CCF_TZ_NAME_MAX, &name, d) < 0)
        return CCF_EINVAL;
    if (ccf_tzdb_get(db, name, &s->tz, &why) < 0) {
        ccf_diag_set(d, "schedule.timezone %s", why.msg);
        return CCF_EINVAL;
    }
    snprintf(s->timezone, sizeof(s->timezone), "%s", name);
    return 0;
}

static int take_flags(const json_t *obj, struct ccf_schedule *s, struct ccf_diag *d)
{
    const json_t *state = member(obj, "state"), *cu = member(obj, "catch_up");

    s->enabled = true;
    if (state) {
        const char *st = json_string_value(state);
        if (!st || (strcmp(st, "ENABLED") != 0 && strcmp(st, "DISABLED") != 0)) {
            ccf_diag_set(d, "schedule.state must be ENABLED or DISABLED");
            return CCF_EINVAL;
        }
        s->enabled = st[0] == 'E';
    }
    s->catch_up = true;
    if (cu) {
        if (!json_is_boolean(cu)) {
            ccf_diag_set(d, "schedule.catch_up must be true or false");
            return CCF_EINVAL;
        }
        s->catch_up = json_is_true(cu);
    }
    return 0;
}

int ccf_schedule_from_json(const json_t *v, struct ccf_tzdb *db, struct ccf_schedule *out,
                           struct ccf_diag *d)
{
    struct ccf_schedule s;
    const json_t *env;
    json_t *clean = NULL;

    memset(&s, 0, sizeof(s));
    if (!json_is_object(v)) {
        ccf_diag_set(d, "schedule must be an object");
        return CCF_EINVAL;
    }
    if (take_expression(v, &s, d) < 0 || take_timezone(v, db, &s, d) < 0 ||
        take_flags(v, &s, d) < 0)
        return CCF_EINVAL;
    if ((env = member(v, "environment")) &&
        v__environment_clean(env, "schedule.environment", &clean, d) < 0)
        return CCF_EINVAL;
    if (clean && json_array_size(clean) == 0) {
        json_decref(clean); /* an empty list sets nothing */
        clean = NULL;
    }
    s.environment = clean;
    *out = s;
    return 0;
}

json_t *ccf_schedule_to_json(const struct ccf_schedule *s)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "expression", s->expression, "timezone", s->timezone,
                          "state", s->enabled ? "ENABLED" : "DISABLED", "catch_up", s->catch_up);

    if (o && s->environment)
        json_object_set(o, "environment", s->environment);
    return o;
}

void ccf_schedule_clear(struct ccf_schedule *s)
{
    json_decref(s->environment);
    s->environment = NULL;
}
