/* spec.c: what a job runs: its argv from the command its spec was admitted
 * with, and its exact environment: the framework's variables in the
 * contract's order, then the spec's defaults (the connector's when the job
 * was admitted), then the job's own (a job's variable overrides a default
 * of the same name). Nothing comes from ccfd's own environment. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "orchestrator/orchestrator_int.h"

struct strv {
    char **v;
    size_t n, cap;
};

static void strv_add(struct strv *s, char *owned)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->v = ccf_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = owned;
    s->v[s->n] = NULL;
}

static void env_add(struct strv *s, const char *name, const char *value)
{
    size_t n = strlen(name) + 1 + strlen(value) + 1;
    char *kv = ccf_xmalloc(n);

    snprintf(kv, n, "%s=%s", name, value);
    strv_add(s, kv);
}

void orch__strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static bool env_has(const json_t *list, const char *name)
{
    size_t i;
    json_t *item;

    json_array_foreach(list, i, item)
    {
        const char *n = json_string_value(json_object_get(item, "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

static void env_add_defaults(struct strv *s, const struct ccf_job_spec *spec,
                             const json_t *overrides)
{
    for (size_t i = 0; i < spec->nenv; i++) {
        if (!(overrides && env_has(overrides, spec->env[i].name)))
            env_add(s, spec->env[i].name, spec->env[i].value);
    }
}

static void env_add_list(struct strv *s, const json_t *list)
{
    size_t i;
    json_t *item;

    json_array_foreach(list, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *value = json_string_value(json_object_get(item, "value"));
        if (name && value)
            env_add(s, name, value);
    }
}

static int framework_env(const struct orchestrator *o, const struct store_job_ref *ref,
                         struct strv *env)
{
    const struct orchestrator_credentials *cr = &o->cfg.credentials;
    char arn[160], prefix[96], home[4096];
    char key_id[64], secret[128], token[512];
    int rc;

    /* A cut ARN or path would point the job at something else: refuse. */
    if (ccf_connector_arn(&ref->tenant, ref->connector_id, arn, sizeof(arn)) < 0)
        return CCF_EINVAL;
    rc = snprintf(prefix, sizeof(prefix), "arn:aws:ccf:%s:%s", ref->tenant.region,
                  ref->tenant.account_id);
    if (rc < 0 || (size_t)rc >= sizeof(prefix))
        return CCF_EINVAL;
    rc = snprintf(home, sizeof(home), "%s/%s/work", o->cfg.jobs_dir, ref->job_id);
    if (rc < 0 || (size_t)rc >= sizeof(home))
        return CCF_EINVAL;
    env_add(env, "CUSTOM_CONNECTOR_JOB_ID", ref->job_id);
    env_add(env, "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID", ref->connector_id);
    env_add(env, "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN", arn);
    env_add(env, "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN_PREFIX", prefix);
    env_add(env, "AWS_REGION", ref->tenant.region);
    env_add(env, "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT", o->cfg.api_endpoint);
    env_add(env, "PATH", o->cfg.job_path);
    env_add(env, "HOME", home);
    if (!cr->issue)
        return 0;
    if ((rc = cr->issue(cr->ctx, &ref->tenant, ref->connector_id, ref->job_id, key_id, secret,
                        token)) < 0)
        return rc;
    env_add(env, "AWS_ACCESS_KEY_ID", key_id);
    env_add(env, "AWS_SECRET_ACCESS_KEY", secret);
    env_add(env, "AWS_SESSION_TOKEN", token);
    return 0;
}

void orch__exec_spec(const struct ccf_job_spec *spec, struct executor_spec *es)
{
    es->image_uri = spec->image_uri;
    es->execution_role_arn = spec->execution_role_arn;
    es->job_role_arn = spec->job_role_arn;
    es->argv = (const char *const *)spec->command;
    es->timeout_s = spec->timeout_s;
    es->cpu = spec->cpu;
    es->memory_mib = spec->memory_mib;
}

int orch__build(const struct orchestrator *o, const struct store_job_ref *ref,
                const struct ccf_job_spec *spec, const struct ccf_job *job, char ***argv,
                char ***envp)
{
    struct strv args = {0}, env = {0};
    json_t *own = job->environment ? json_loads(job->environment, 0, NULL) : NULL;
    int rc = CCF_EIO;

    if ((job->environment && !own) || (spec->command && !spec->command[0]))
        goto out;
    /* No command: an image's own (argv is then empty). */
    args.v = ccf_xcalloc(1, sizeof(*args.v));
    args.cap = 1;
    for (size_t i = 0; spec->command && spec->command[i]; i++)
        strv_add(&args, ccf_xstrdup(spec->command[i]));
    if ((rc = framework_env(o, ref, &env)) < 0)
        goto out;
    env_add_defaults(&env, spec, own);
    env_add_list(&env, own);
    *argv = args.v;
    *envp = env.v;
    args.v = env.v = NULL;
    rc = 0;
out:
    orch__strv_free(args.v);
    orch__strv_free(env.v);
    json_decref(own);
    return rc;
}
