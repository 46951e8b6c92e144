/* jobspec.c: a connector's container_properties decoded into what a job
 * runs (struct ccf_job_spec), once, when the job is admitted; the
 * orchestrator reserves capacity and builds the command from this one value. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/retry.h"

static int decode_command(const json_t *cmd, struct ccf_job_spec *out)
{
    size_t i, n = json_array_size(cmd);
    json_t *item;

    if (!cmd)
        return 0; /* image_uri only: the caller decides */
    if (!json_is_array(cmd) || n == 0)
        return CCF_EINVAL;
    out->command = ccf_xcalloc(n + 1, sizeof(*out->command));
    json_array_foreach(cmd, i, item)
    {
        if (!json_is_string(item))
            return CCF_EINVAL;
        out->command[i] = ccf_xstrdup(json_string_value(item));
    }
    return 0;
}

static int decode_env(const json_t *list, struct ccf_job_spec *out)
{
    size_t i, n = json_array_size(list);
    json_t *item;

    if (!list)
        return 0;
    if (!json_is_array(list))
        return CCF_EINVAL;
    out->env = ccf_xcalloc(n ? n : 1, sizeof(*out->env));
    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *value = json_string_value(json_object_get(item, "value"));
        if (!name || !value)
            return CCF_EINVAL;
        out->env[i].name = ccf_xstrdup(name);
        out->env[i].value = ccf_xstrdup(value);
        out->nenv = i + 1;
    }
    return 0;
}

/* The strategy is part of the spec: a job keeps the one it was admitted
 * with, attempt after attempt, whatever updates the connector meanwhile. */
static int decode_retry(const json_t *v, struct ccf_job_spec *out)
{
    struct ccf_diag d = {{0}};

    if (!v || json_is_null(v))
        return 0;
    out->retry = ccf_xcalloc(1, sizeof(*out->retry));
    if (ccf_retry_from_json(v, out->retry, &d) < 0) {
        free(out->retry);
        out->retry = NULL;
        return CCF_EINVAL;
    }
    return 0;
}

int ccf_job_spec_decode(const char *properties, struct ccf_job_spec *out)
{
    struct ccf_job_spec s = {0};
    json_t *p = properties ? json_loads(properties, 0, NULL) : NULL, *rr;
    int rc = CCF_EINVAL;

    if (!json_is_object(p))
        goto out;
    rr = json_object_get(p, "resource_requirements");
    s.cpu = json_number_value(json_object_get(rr, "cpu"));
    s.memory_mib = json_integer_value(json_object_get(rr, "memory"));
    s.timeout_s = json_integer_value(json_object_get(p, "timeout"));
    /* Validation put them there; anything else is a bug, not a default. */
    if (!(s.cpu > 0) || s.memory_mib <= 0 || s.timeout_s <= 0)
        goto out;
    if ((rc = decode_command(json_object_get(p, "command"), &s)) < 0 ||
        (rc = decode_env(json_object_get(p, "environment"), &s)) < 0 ||
        (rc = decode_retry(json_object_get(p, "retry_strategy"), &s)) < 0)
        goto out;
    if (json_is_string(json_object_get(p, "image_uri")))
        s.image_uri = ccf_xstrdup(json_string_value(json_object_get(p, "image_uri")));
    if (json_is_string(json_object_get(p, "execution_role_arn")))
        s.execution_role_arn =
            ccf_xstrdup(json_string_value(json_object_get(p, "execution_role_arn")));
    if (json_is_string(json_object_get(p, "job_role_arn")))
        s.job_role_arn = ccf_xstrdup(json_string_value(json_object_get(p, "job_role_arn")));
    *out = s;
    memset(&s, 0, sizeof(s));
    rc = 0;
out:
    ccf_job_spec_clear(&s);
    json_decref(p);
    return rc;
}

void ccf_job_spec_clear(struct ccf_job_spec *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->command && s->command[i]; i++)
        free(s->command[i]);
    free(s->command);
    free(s->image_uri);
    free(s->execution_role_arn);
    free(s->job_role_arn);
    for (size_t i = 0; i < s->nenv; i++) {
        free(s->env[i].name);
        free(s->env[i].value);
    }
    free(s->env);
    if (s->retry) {
        ccf_retry_clear(s->retry);
        free(s->retry);
    }
    memset(s, 0, sizeof(*s));
}
