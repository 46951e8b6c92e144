/* schedule.c: a connector's `schedule` on create and update (merge patch,
 * decoded once, stored with its defaults), its rate anchor and its
 * next_run_at, by the rules of CONTRACT-OPS.md "Schedules". */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

void api__schedule_changed(struct api__call *call)
{
    call->wake_scheduler = true;
}

/* Whether member key of a and b differ (both objects as stored or decoded). */
static bool member_differs(const json_t *a, const json_t *b, const char *key)
{
    return !json_equal(json_object_get(a, key), json_object_get(b, key));
}

/* The next run strictly after now of schedule s, 0 when none. */
static int64_t next_of(const struct ccf_schedule *s, int64_t anchor, int64_t now)
{
    int64_t next;

    if (!s->enabled || ccf_sched_next(&s->expr, s->tz, anchor, now, &next) < 0)
        return 0;
    return next;
}

int api__schedule_next(struct api *a, struct ccf_connector *c, int64_t now)
{
    struct ccf_schedule s = {0};
    struct ccf_diag d = {{0}};
    json_t *v;
    int rc;

    c->next_run_at = 0;
    if (!c->schedule || c->paused)
        return 0;
    if (!(v = json_loads(c->schedule, 0, NULL)))
        return CCF_EIO; /* the store holds only what api__schedule_apply wrote */
    rc = ccf_schedule_from_json(v, a->tzdb, &s, &d);
    json_decref(v);
    if (rc < 0)
        return CCF_EIO; /* a zone removed from the system since: no run */
    c->next_run_at = next_of(&s, c->schedule_anchor, now);
    ccf_schedule_clear(&s);
    return 0;
}

/* RFC 7396 over the stored schedule: its members are scalars and an
 * array, so one level is the whole patch. A new reference. */
static json_t *schedule_patch(const char *stored, const json_t *patch)
{
    json_t *out = stored ? json_loads(stored, 0, NULL) : NULL, *v;
    const char *key;

    if (!out)
        out = json_object();
    json_object_foreach((json_t *)patch, key, v)
    {
        if (json_is_null(v))
            json_object_del(out, key);
        else
            json_object_set(out, key, v);
    }
    return out;
}

/* The `at` time of a schedule being set must still be ahead. */
static int check_not_past(const struct ccf_schedule *s, int64_t now, struct ccf_diag *d)
{
    int64_t next;

    if (s->expr.kind == CCF_SCHED_AT && ccf_sched_next(&s->expr, s->tz, now, now, &next) < 0) {
        ccf_diag_set(d, "schedule.expression: %s is in the past", s->expression);
        return CCF_EINVAL;
    }
    return 0;
}

/* Moves the decoded schedule into c: the anchor moves when the expression,
 * the zone or the state (to ENABLED) changed; next_run_at is computed again
 * when the expression, zone or state changed, and kept otherwise (a change
 * of environment or catch_up alone moves nothing, and a due run not yet
 * handled stays due). */
static int schedule_take(struct ccf_connector *c, const struct ccf_schedule *s, json_t *old,
                         int64_t now, struct ccf_diag *d)
{
    json_t *stored = ccf_schedule_to_json(s);
    bool when = !old || member_differs(old, stored, "expression") ||
                member_differs(old, stored, "timezone");
    bool state = !old || member_differs(old, stored, "state");
    char *text;
    int rc = 0;

    if (when && (rc = check_not_past(s, now, d)) < 0)
        goto out;
    if (!(text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS))) {
        rc = CCF_ENOMEM;
        goto out;
    }
    free(c->schedule);
    c->schedule = text;
    if (when || (state && s->enabled))
        c->schedule_anchor = now;
    if (when || state)
        c->next_run_at = c->paused ? 0 : next_of(s, c->schedule_anchor, now);
out:
    json_decref(stored);
    return rc;
}

int api__schedule_apply(struct api *a, const json_t *body, struct ccf_connector *c, int64_t now,
                        struct ccf_diag *d)
{
    const json_t *v = json_object_get(body, "schedule");
    struct ccf_schedule s = {0};
    json_t *merged = NULL, *old = NULL;
    int rc;

    if (!v)
        return 0;
    if (json_is_null(v)) {
        free(c->schedule);
        c->schedule = NULL;
        c->schedule_anchor = c->next_run_at = 0;
        return 0;
    }
    if (!json_is_object(v)) {
        ccf_diag_set(d, "schedule must be an object");
        return CCF_EINVAL;
    }
    if (c->schedule && !(old = json_loads(c->schedule, 0, NULL)))
        return CCF_EIO;
    merged = schedule_patch(c->schedule, v);
    if ((rc = ccf_schedule_from_json(merged, a->tzdb, &s, d)) == 0)
        rc = schedule_take(c, &s, old, now, d);
    ccf_schedule_clear(&s);
    json_decref(merged);
    json_decref(old);
    return rc;
}
