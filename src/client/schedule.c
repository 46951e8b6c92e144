/* schedule.c: libccf's side of schedules: the `schedule` member of create
 * and update bodies, and schedule, next_run_at and paused in answers. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

#define BAD(err, ...) ccf_client__fail(err, CCF_CLIENT_EPROTO, __VA_ARGS__)

static int set_str(json_t *o, const char *key, const char *v)
{
    return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

int ccf_client__schedule_put(json_t *root, const struct ccf_client_schedule *s, bool remove,
                             struct ccf_client_error *err)
{
    json_t *o;

    if (remove)
        return json_object_set_new(root, "schedule", json_null()) == 0
                   ? 0
                   : ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if (!s)
        return 0;
    if (!(o = json_object()) || set_str(o, "expression", s->expression) < 0 ||
        set_str(o, "timezone", s->timezone) < 0 || set_str(o, "state", s->state) < 0 ||
        (s->has_catch_up && json_object_set_new(o, "catch_up", json_boolean(s->catch_up)) < 0) ||
        json_object_set_new(root, "schedule", o) < 0)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    return 0;
}

/* An optional string member, copied; a wrong type is the server's fault. */
static int opt_str(const json_t *o, const char *ctx, const char *key, char **out,
                   struct ccf_client_error *err)
{
    const json_t *v = json_object_get(o, key);

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return BAD(err, "%s.%s is not a string", ctx, key);
    if (!(*out = strdup(json_string_value(v))))
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    return 0;
}

int ccf_client__parse_schedule(const json_t *o, struct ccf_client_connector *c,
                               struct ccf_client_error *err)
{
    const json_t *s = json_object_get(o, "schedule"), *v;
    int rc;

    if ((rc = opt_str(o, "connector", "next_run_at", &c->next_run_at, err)) < 0)
        return rc;
    v = json_object_get(o, "paused");
    if (v && !json_is_boolean(v))
        return BAD(err, "connector.paused is not a boolean");
    c->paused = json_is_true(v);
    if (!s || json_is_null(s))
        return 0;
    if (!json_is_object(s))
        return BAD(err, "connector.schedule is not an object");
    c->has_schedule = true;
    if ((rc = opt_str(s, "schedule", "expression", &c->schedule.expression, err)) < 0 ||
        (rc = opt_str(s, "schedule", "timezone", &c->schedule.timezone, err)) < 0 ||
        (rc = opt_str(s, "schedule", "state", &c->schedule.state, err)) < 0)
        return rc;
    v = json_object_get(s, "catch_up");
    if (v && !json_is_boolean(v))
        return BAD(err, "schedule.catch_up is not a boolean");
    c->schedule.has_catch_up = v != NULL;
    c->schedule.catch_up = json_is_true(v);
    return 0;
}

void ccf_client__schedule_clear(struct ccf_client_connector *c)
{
    free(c->schedule.expression);
    free(c->schedule.timezone);
    free(c->schedule.state);
    free(c->next_run_at);
    memset(&c->schedule, 0, sizeof(c->schedule));
    c->next_run_at = NULL;
}
