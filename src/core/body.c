/* body.c: validation of job environments, document batches and checkpoints,
 * and the JSON encoders of the domain types. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate_int.h"

/* Names the framework injects into every job; a caller may not set them. */
static const char *const reserved_env[] = {
    "AWS_REGION",        "PATH", "HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", NULL,
};

static bool env_name_reserved(const char *name)
{
    if (strncmp(name, "CUSTOM_CONNECTOR_", 17) == 0)
        return true;
    for (size_t i = 0; reserved_env[i]; i++) {
        if (strcmp(name, reserved_env[i]) == 0)
            return true;
    }
    return false;
}

static bool env_name_ok(const char *s)
{
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
           strlen(s);
}

static int env_item(const json_t *item, const char *field, size_t i, const char **name,
                    const char **value, struct ccf_diag *d)
{
    char f[96];

    if (!json_is_object(item)) {
        ccf_diag_set(d, "%s[%zu] must be an object with name and value", field, i);
        return CCF_EINVAL;
    }
    snprintf(f, sizeof(f), "%s[%zu].name", field, i);
    if (!json_object_get(item, "name")) {
        ccf_diag_set(d, "%s is required", f);
        return CCF_EINVAL;
    }
    if (v__string(json_object_get(item, "name"), f, 1, CCF_ENV_NAME_MAX, name, d) < 0)
        return CCF_EINVAL;
    if (!env_name_ok(*name)) {
        ccf_diag_set(d, "%s must match ^[a-zA-Z][a-zA-Z0-9_]*$", f);
        return CCF_EINVAL;
    }
    if (env_name_reserved(*name)) {
        ccf_diag_set(d, "%s: %s is set by the framework and cannot be given", f, *name);
        return CCF_EINVAL;
    }
    snprintf(f, sizeof(f), "%s[%zu].value", field, i);
    if (!json_object_get(item, "value")) {
        ccf_diag_set(d, "%s is required", f);
        return CCF_EINVAL;
    }
    return v__string(json_object_get(item, "value"), f, 0, CCF_ENV_VALUE_MAX, value, d);
}

int v__environment_clean(const json_t *env, const char *field, json_t **clean, struct ccf_diag *d)
{
    const char *names[CCF_ENV_MAX], *value;
    size_t i;
    json_t *item, *out;

    if (!json_is_array(env) || json_array_size(env) > CCF_ENV_MAX) {
        ccf_diag_set(d, "%s must be an array of at most %d {name, value} objects", field,
                     CCF_ENV_MAX);
        return CCF_EINVAL;
    }
    out = json_array();
    json_array_foreach(env, i, item)
    {
        if (env_item(item, field, i, &names[i], &value, d) < 0)
            goto fail;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(names[k], names[i]) == 0) {
                ccf_diag_set(d, "%s[%zu].name: %s is given more than once", field, i, names[i]);
                goto fail;
            }
        }
        json_array_append_new(out, json_pack("{s:s,s:s}", "name", names[i], "value", value));
    }
    if (clean)
        *clean = out;
    else
        json_decref(out);
    return 0;
fail:
    json_decref(out);
    return CCF_EINVAL;
}

int ccf_job_start_from_json(const json_t *body, char **environment, struct ccf_diag *d)
{
    const json_t *env = body ? json_object_get(body, "environment") : NULL;
    json_t *clean;

    *environment = NULL;
    if (!env || json_is_null(env))
        return 0;
    if (v__environment_clean(env, "environment", &clean, d) < 0)
        return CCF_EINVAL;
    if (json_array_size(clean) > 0)
        *environment = json_dumps(clean, JSON_COMPACT);
    json_decref(clean);
    return 0;
}

static int document_id(const json_t *v, const char *field, const char **out, struct ccf_diag *d)
{
    if (v__string(v, field, 1, CCF_DOC_ID_MAX, out, d) < 0)
        return CCF_EINVAL;
    if (ccf_utf8_has_control(*out, strlen(*out))) {
        ccf_diag_set(d, "%s must not contain control characters", field);
        return CCF_EINVAL;
    }
    return 0;
}

static int checksum(const json_t *v, const char *field, const char **out, struct ccf_diag *d)
{
    if (v__string(v, field, CCF_CHECKSUM_MIN, CCF_CHECKSUM_MAX, out, d) < 0)
        return CCF_EINVAL;
    for (const char *p = *out; *p; p++) {
        if (*p < 0x21 || *p > 0x7E) {
            ccf_diag_set(d, "%s must hold printable ASCII characters only (0x21-0x7E)", field);
            return CCF_EINVAL;
        }
    }
    return 0;
}

/* Sorting keeps each id's position in the request for the duplicate message. */
struct ranked {
    const char *id;
    size_t pos;
};

static int ranked_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ranked *)a)->id, ((const struct ranked *)b)->id);
}

static int batch_array(const json_t *body, const char *key, json_t **arr, struct ccf_diag *d)
{
    *arr = json_object_get(body, key);
    if (!json_is_array(*arr) || json_array_size(*arr) < 1 ||
        json_array_size(*arr) > CCF_BATCH_MAX) {
        ccf_diag_set(d, "%s must be an array of 1 to %d items", key, CCF_BATCH_MAX);
        return CCF_EINVAL;
    }
    return 0;
}

/* Sorts r and rejects a repeated id, naming where the repeat was. */
static int sort_unique(struct ranked *r, size_t n, const char *what, struct ccf_diag *d)
{
    qsort(r, n, sizeof(*r), ranked_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(r[i - 1].id, r[i].id) == 0) {
            size_t later = r[i].pos > r[i - 1].pos ? r[i].pos : r[i - 1].pos;
            ccf_diag_set(d, "%s[%zu] repeats a document_id given earlier in the batch", what,
                         later);
            return CCF_EINVAL;
        }
    }
    return 0;
}

int ccf_documents_from_put(const json_t *body, struct ccf_document **docs, size_t *n,
                           struct ccf_diag *d)
{
    char f[64];
    json_t *arr, *item;
    struct ranked *r = NULL;
    struct ccf_document *out = NULL;
    size_t i, count;
    int rc = CCF_EINVAL;

    if (batch_array(body, "documents", &arr, d) < 0)
        return CCF_EINVAL;
    count = json_array_size(arr);
    r = ccf_xcalloc(count, sizeof(*r));
    out = ccf_xcalloc(count, sizeof(*out));
    json_array_foreach(arr, i, item)
    {
        if (!json_is_object(item)) {
            ccf_diag_set(d, "documents[%zu] must be an object", i);
            goto out;
        }
        snprintf(f, sizeof(f), "documents[%zu].document_id", i);
        if (!json_object_get(item, "document_id")) {
            ccf_diag_set(d, "%s is required", f);
            goto out;
        }
        if (document_id(json_object_get(item, "document_id"), f, &r[i].id, d) < 0)
            goto out;
        r[i].pos = i;
        snprintf(f, sizeof(f), "documents[%zu].checksum", i);
        if (!json_object_get(item, "checksum")) {
            ccf_diag_set(d, "%s is required", f);
            goto out;
        }
        if (checksum(json_object_get(item, "checksum"), f, &out[i].checksum, d) < 0)
            goto out;
    }
    if (sort_unique(r, count, "documents", d) < 0)
        goto out;
    {
        /* Reorder the documents to the sorted id order. */
        struct ccf_document *sorted = ccf_xcalloc(count, sizeof(*sorted));
        for (i = 0; i < count; i++) {
            sorted[i].id = r[i].id;
            sorted[i].checksum = out[r[i].pos].checksum;
        }
        free(out);
        out = sorted;
    }
    *docs = out;
    *n = count;
    out = NULL;
    rc = 0;
out:
    free(out);
    free(r);
    return rc;
}

int ccf_documents_from_delete(const json_t *body, const char ***ids, size_t *n, struct ccf_diag *d)
{
    char f[64];
    json_t *arr, *item;
    struct ranked *r;
    const char **out;
    size_t i, count;

    if (batch_array(body, "document_ids", &arr, d) < 0)
        return CCF_EINVAL;
    count = json_array_size(arr);
    r = ccf_xcalloc(count, sizeof(*r));
    json_array_foreach(arr, i, item)
    {
        snprintf(f, sizeof(f), "document_ids[%zu]", i);
        if (document_id(item, f, &r[i].id, d) < 0)
            goto fail;
        r[i].pos = i;
    }
    if (sort_unique(r, count, "document_ids", d) < 0)
        goto fail;
    out = ccf_xcalloc(count, sizeof(*out));
    for (i = 0; i < count; i++)
        out[i] = r[i].id;
    free(r);
    *ids = out;
    *n = count;
    return 0;
fail:
    free(r);
    return CCF_EINVAL;
}

int ccf_checkpoint_from_put(const json_t *body, const char **data, size_t *len, struct ccf_diag *d)
{
    const json_t *v = json_object_get(body, "checkpoint_data");

    if (!v) {
        ccf_diag_set(d, "checkpoint_data is required");
        return CCF_EINVAL;
    }
    if (!json_is_string(v) || json_string_length(v) < 1 ||
        json_string_length(v) > CCF_CHECKPOINT_MAX) {
        ccf_diag_set(d, "checkpoint_data must be a string of 1 to %u bytes", CCF_CHECKPOINT_MAX);
        return CCF_EINVAL;
    }
    *data = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

json_t *ccf_time_json(int64_t t)
{
    char buf[CCF_TIME_LEN + 1];

    ccf_time_format(t, buf);
    return json_stringn(buf, CCF_TIME_LEN);
}

/* schedule as stored, next_run_at beside it, paused only when true. The
 * store keeps next_run_at at 0 unless the schedule is ENABLED, the
 * connector not paused and a next time exists, so it is shown as is. */
static void connector_schedule_json(json_t *o, const struct ccf_connector *c)
{
    json_t *sched = c->schedule ? json_loads(c->schedule, 0, NULL) : NULL;

    if (sched)
        json_object_set_new(o, "schedule", sched);
    if (sched && c->next_run_at > 0)
        json_object_set_new(o, "next_run_at", ccf_time_json(c->next_run_at * 1000000));
    if (c->paused)
        json_object_set_new(o, "paused", json_true());
}

json_t *ccf_connector_summary_json(const struct ccf_tenant *t, const struct ccf_connector *c)
{
    char arn[160];
    json_t *o = json_object();

    ccf_connector_arn(t, c->id, arn, sizeof(arn));
    json_object_set_new(o, "connector_id", json_string(c->id));
    json_object_set_new(o, "arn", json_string(arn));
    json_object_set_new(o, "name", json_string(c->name));
    if (c->description)
        json_object_set_new(o, "description", json_string(c->description));
    json_object_set_new(o, "status", json_string(ccf_connector_status_name(c->status)));
    if (c->status == CCF_CONNECTOR_IN_USE && c->active_job_id[0])
        json_object_set_new(o, "active_job_id", json_string(c->active_job_id));
    json_object_set_new(o, "created_at", ccf_time_json(c->created_at));
    json_object_set_new(o, "updated_at", ccf_time_json(c->updated_at));
    connector_schedule_json(o, c);
    return o;
}

bool ccf_json_object_text(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n >= 2 && s[0] == '{' && s[n - 1] == '}';
}

json_t *ccf_connector_full_json(const struct ccf_tenant *t, const struct ccf_connector *c)
{
    json_t *o = ccf_connector_summary_json(t, c);
    json_t *props = json_loads(c->properties, 0, NULL);

    if (props)
        json_object_set_new(o, "container_properties", props);
    return o;
}

static json_t *job_stats_json(const struct ccf_job_stats *st)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I}", "documents_added", (json_int_t)st->documents_added,
        "documents_updated", (json_int_t)st->documents_updated, "documents_unchanged",
        (json_int_t)st->documents_unchanged, "documents_deleted", (json_int_t)st->documents_deleted,
        "checkpoint_puts", (json_int_t)st->checkpoint_puts);
}

json_t *ccf_job_json(const struct ccf_job *j)
{
    json_t *o = json_object();

    json_object_set_new(o, "job_id", json_string(j->id));
    json_object_set_new(o, "connector_id", json_string(j->connector_id));
    json_object_set_new(o, "status", json_string(ccf_job_status_name(j->status)));
    json_object_set_new(o, "created_at", ccf_time_json(j->created_at));
    json_object_set_new(o, "updated_at", ccf_time_json(j->updated_at));
    if (j->started_at)
        json_object_set_new(o, "started_at", ccf_time_json(j->started_at));
    if (j->completed_at)
        json_object_set_new(o, "completed_at", ccf_time_json(j->completed_at));
    if (j->has_exit_code)
        json_object_set_new(o, "exit_code", json_integer(j->exit_code));
    if (j->failure_reason)
        json_object_set_new(o, "failure_reason", json_string(j->failure_reason));
    if (j->status_reason)
        json_object_set_new(o, "status_reason", json_string(j->status_reason));
    if (j->has_stats)
        json_object_set_new(o, "stats", job_stats_json(&j->stats));
    if (j->attempt > 0) {
        json_object_set_new(o, "attempt", json_integer(j->attempt));
        json_object_set_new(o, "attempts", ccf_attempts_json(j->attempts));
    }
    if (j->next_attempt_at)
        json_object_set_new(o, "next_attempt_at", ccf_time_json(j->next_attempt_at));
    if (ccf_job_trigger_name(j->trigger))
        json_object_set_new(o, "trigger", json_string(ccf_job_trigger_name(j->trigger)));
    return o;
}

json_t *ccf_document_json(const struct ccf_document *d)
{
    json_t *o = json_object();

    json_object_set_new(o, "document_id", json_string(d->id));
    json_object_set_new(o, "checksum", json_string(d->checksum));
    json_object_set_new(o, "created_at", ccf_time_json(d->created_at));
    json_object_set_new(o, "updated_at", ccf_time_json(d->updated_at));
    return o;
}

json_t *ccf_checkpoint_json(const struct ccf_checkpoint *c)
{
    json_t *o = json_object();

    json_object_set_new(o, "connector_id", json_string(c->connector_id));
    json_object_set_new(o, "checkpoint_data", json_stringn(c->data, c->data_len));
    json_object_set_new(o, "created_at", ccf_time_json(c->created_at));
    json_object_set_new(o, "updated_at", ccf_time_json(c->updated_at));
    if (c->version > 0)
        json_object_set_new(o, "version", json_integer(c->version));
    return o;
}

void ccf_json_abort_on_oom(void)
{
    json_set_alloc_funcs(ccf_xmalloc, free);
}
