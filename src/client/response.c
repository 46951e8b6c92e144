/* response.c: parses each operation's answer into its typed struct. The
 * server is trusted for nothing: a body that is not JSON, a field of the
 * wrong type, a required field missing all become CCF_CLIENT_EPROTO with a
 * message that names the field. Unknown fields are ignored; an optional
 * field given as null counts as absent. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

#define BAD(err, ...) ccf_client__fail(err, CCF_CLIENT_EPROTO, __VA_ARGS__)

static int load(const char *body, size_t len, json_t **out, struct ccf_client_error *err)
{
    json_error_t je;
    json_t *root;

    if (!body || len == 0)
        return BAD(err, "the server's answer has no body");
    root = json_loadb(body, len, JSON_ALLOW_NUL, &je);
    if (!root)
        return BAD(err, "the server's answer is not JSON (%s at byte %d)", je.text, je.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return BAD(err, "the server's answer is not a JSON object");
    }
    *out = root;
    return 0;
}

/* A copy of o[key] (NULL when absent and optional). Strings holding NUL are
 * refused: no field but checkpoint_data may carry one. */
static int get_str(const json_t *o, const char *ctx, const char *key, bool required, char **out,
                   struct ccf_client_error *err)
{
    json_t *v = json_object_get(o, key);
    const char *s;
    size_t n;

    *out = NULL;
    if (!v || json_is_null(v))
        return required ? BAD(err, "%s.%s is missing", ctx, key) : 0;
    if (!json_is_string(v))
        return BAD(err, "%s.%s is not a string", ctx, key);
    s = json_string_value(v);
    n = json_string_length(v);
    if (strlen(s) != n)
        return BAD(err, "%s.%s holds a NUL character", ctx, key);
    *out = strdup(s);
    if (!*out)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    return 0;
}

static int get_int(const json_t *o, const char *ctx, const char *key, int64_t min, int64_t max,
                   bool *has, int64_t *out, struct ccf_client_error *err)
{
    json_t *v = json_object_get(o, key);

    *has = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return BAD(err, "%s.%s is not an integer from %lld to %lld", ctx, key, (long long)min,
                   (long long)max);
    *has = true;
    *out = json_integer_value(v);
    return 0;
}

/* o[key] as an object, NULL when absent. */
static int get_obj(const json_t *o, const char *ctx, const char *key, bool required, json_t **out,
                   struct ccf_client_error *err)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return required ? BAD(err, "%s.%s is missing", ctx, key) : 0;
    if (!json_is_object(v))
        return BAD(err, "%s.%s is not an object", ctx, key);
    *out = v;
    return 0;
}

static int get_array(const json_t *o, const char *ctx, const char *key, bool required, json_t **out,
                     struct ccf_client_error *err)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return required ? BAD(err, "%s.%s is missing", ctx, key) : 0;
    if (!json_is_array(v))
        return BAD(err, "%s.%s is not an array", ctx, key);
    *out = v;
    return 0;
}

static void props_clear(struct ccf_client_container_properties *p)
{
    free(p->image_uri);
    free(p->execution_role_arn);
    free(p->job_role_arn);
    for (size_t i = 0; i < p->command_len; i++)
        free(p->command[i]);
    free(p->command);
    for (size_t i = 0; i < p->environment_len; i++) {
        free(p->environment[i].name);
        free(p->environment[i].value);
    }
    free(p->environment);
    free(p->retry_strategy);
    memset(p, 0, sizeof(*p));
}

void ccf_client_connector_clear(struct ccf_client_connector *c)
{
    if (!c)
        return;
    free(c->connector_id);
    free(c->arn);
    free(c->name);
    free(c->description);
    free(c->status);
    free(c->active_job_id);
    free(c->created_at);
    free(c->updated_at);
    props_clear(&c->container_properties);
    ccf_client__schedule_clear(c);
    memset(c, 0, sizeof(*c));
}

static int parse_command(const json_t *a, struct ccf_client_container_properties *p,
                         struct ccf_client_error *err)
{
    size_t n = json_array_size(a);
    json_t *tmp;
    int rc;

    if (n == 0)
        return 0;
    p->command = calloc(n, sizeof(*p->command));
    if (!p->command)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        /* Wrap each element so that get_str's checks apply to it. */
        tmp = json_pack("{sO}", "v", json_array_get(a, i));
        rc = tmp ? get_str(tmp, "container_properties.command", "v", true, &p->command[i], err)
                 : ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        json_decref(tmp);
        if (rc < 0)
            return rc;
        p->command_len = i + 1;
    }
    return 0;
}

static int parse_env(const json_t *a, struct ccf_client_container_properties *p,
                     struct ccf_client_error *err)
{
    size_t n = json_array_size(a);
    int rc;

    p->has_environment = true;
    if (n == 0)
        return 0;
    p->environment = calloc(n, sizeof(*p->environment));
    if (!p->environment)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(a, i);
        struct ccf_client_env *e = &p->environment[i];

        p->environment_len = i + 1;
        if (!json_is_object(item))
            return BAD(err, "container_properties.environment[%zu] is not an object", i);
        if ((rc = get_str(item, "container_properties.environment[]", "name", true, &e->name,
                          err)) < 0 ||
            (rc = get_str(item, "container_properties.environment[]", "value", true, &e->value,
                          err)) < 0)
            return rc;
    }
    return 0;
}

static int parse_resources(const json_t *rr, struct ccf_client_container_properties *p,
                           struct ccf_client_error *err)
{
    const char *ctx = "container_properties.resource_requirements";
    json_t *cpu;

    if (!rr)
        return 0;
    cpu = json_object_get(rr, "cpu");
    if (cpu && !json_is_null(cpu)) {
        if (!json_is_number(cpu))
            return BAD(err, "%s.cpu is not a number", ctx);
        p->has_cpu = true;
        p->cpu = json_number_value(cpu);
    }
    return get_int(rr, ctx, "memory", 0, INT64_MAX, &p->has_memory, &p->memory, err);
}

static int parse_props(const json_t *o, struct ccf_client_container_properties *p,
                       struct ccf_client_error *err)
{
    const char *ctx = "container_properties";
    json_t *rr, *cmd, *env, *rs;
    int rc;

    if ((rc = get_str(o, ctx, "image_uri", false, &p->image_uri, err)) < 0 ||
        (rc = get_str(o, ctx, "execution_role_arn", false, &p->execution_role_arn, err)) < 0 ||
        (rc = get_str(o, ctx, "job_role_arn", false, &p->job_role_arn, err)) < 0 ||
        (rc = get_obj(o, ctx, "resource_requirements", false, &rr, err)) < 0 ||
        (rc = parse_resources(rr, p, err)) < 0 ||
        (rc = get_int(o, ctx, "timeout", 0, INT64_MAX, &p->has_timeout, &p->timeout, err)) < 0 ||
        (rc = get_array(o, ctx, "command", false, &cmd, err)) < 0 ||
        (cmd && (rc = parse_command(cmd, p, err)) < 0) ||
        (rc = get_array(o, ctx, "environment", false, &env, err)) < 0 ||
        (env && (rc = parse_env(env, p, err)) < 0) ||
        (rc = get_obj(o, ctx, "retry_strategy", false, &rs, err)) < 0)
        return rc;
    if (rs && !(p->retry_strategy = json_dumps(rs, JSON_COMPACT)))
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    return 0;
}

int ccf_client__parse_connector(const json_t *o, bool with_props, struct ccf_client_connector *out,
                                struct ccf_client_error *err)
{
    struct ccf_client_connector c = {0};
    json_t *props;
    int rc;

    if (!json_is_object(o))
        return BAD(err, "a connector is not a JSON object");
    if ((rc = get_str(o, "connector", "connector_id", true, &c.connector_id, err)) < 0 ||
        (rc = get_str(o, "connector", "arn", true, &c.arn, err)) < 0 ||
        (rc = get_str(o, "connector", "name", true, &c.name, err)) < 0 ||
        (rc = get_str(o, "connector", "description", false, &c.description, err)) < 0 ||
        (rc = get_str(o, "connector", "status", true, &c.status, err)) < 0 ||
        (rc = get_str(o, "connector", "active_job_id", false, &c.active_job_id, err)) < 0 ||
        (rc = get_str(o, "connector", "created_at", true, &c.created_at, err)) < 0 ||
        (rc = get_str(o, "connector", "updated_at", true, &c.updated_at, err)) < 0 ||
        (rc = get_obj(o, "connector", "container_properties", with_props, &props, err)) < 0 ||
        (props && (rc = parse_props(props, &c.container_properties, err)) < 0) ||
        (rc = ccf_client__parse_schedule(o, &c, err)) < 0)
        goto fail;
    c.has_container_properties = props != NULL;
    *out = c;
    return 0;
fail:
    ccf_client_connector_clear(&c);
    return rc;
}

void ccf_client_job_clear(struct ccf_client_job *j)
{
    if (!j)
        return;
    free(j->job_id);
    free(j->connector_id);
    free(j->status);
    free(j->created_at);
    free(j->updated_at);
    free(j->started_at);
    free(j->completed_at);
    free(j->failure_reason);
    free(j->next_attempt_at);
    free(j->status_reason);
    for (size_t i = 0; i < j->attempts_len; i++) {
        free(j->attempts[i].started_at);
        free(j->attempts[i].completed_at);
        free(j->attempts[i].reason);
    }
    free(j->attempts);
    free(j->trigger);
    memset(j, 0, sizeof(*j));
}

/* attempts: [{attempt, started_at, completed_at?, exit_code?, reason?}]. */
static int parse_attempts(const json_t *a, struct ccf_client_job *j, struct ccf_client_error *err)
{
    const char *ctx = "job.attempts[]";
    size_t i, n = json_array_size(a);
    json_t *item;
    int64_t x;
    bool has;
    int rc;

    if (n == 0)
        return 0;
    if (!(j->attempts = calloc(n, sizeof(*j->attempts))))
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    json_array_foreach(a, i, item)
    {
        struct ccf_client_attempt *t = &j->attempts[i];
        j->attempts_len = i + 1;
        if (!json_is_object(item))
            return BAD(err, "%s is not an object", ctx);
        if ((rc = get_int(item, ctx, "attempt", 1, INT_MAX, &has, &x, err)) < 0)
            return rc;
        t->attempt = (int)x;
        if ((rc = get_str(item, ctx, "started_at", true, &t->started_at, err)) < 0 ||
            (rc = get_str(item, ctx, "completed_at", false, &t->completed_at, err)) < 0 ||
            (rc = get_str(item, ctx, "reason", false, &t->reason, err)) < 0 ||
            (rc = get_int(item, ctx, "exit_code", INT_MIN, INT_MAX, &t->has_exit_code, &x, err)) <
                0)
            return rc;
        t->exit_code = (int)x;
    }
    return 0;
}

/* attempt, attempts and next_attempt_at: present once the job has run. */
static int parse_retry_fields(const json_t *o, struct ccf_client_job *j,
                              struct ccf_client_error *err)
{
    json_t *a;
    int64_t x = 0;
    bool has;
    int rc;

    if ((rc = get_int(o, "job", "attempt", 1, INT_MAX, &has, &x, err)) < 0 ||
        (rc = get_str(o, "job", "next_attempt_at", false, &j->next_attempt_at, err)) < 0 ||
        (rc = get_array(o, "job", "attempts", false, &a, err)) < 0)
        return rc;
    j->attempt = has ? (int)x : 0;
    return a ? parse_attempts(a, j, err) : 0;
}

bool ccf_client_job_status_terminal(const char *status)
{
    return status && (strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "FAILED") == 0 ||
                      strcmp(status, "STOPPED") == 0);
}

/* stats: absent until the job reached RUNNING. */
static int parse_stats(const json_t *o, struct ccf_client_job *j, struct ccf_client_error *err)
{
    const char *ctx = "job.stats";
    json_t *st;
    bool has;
    int rc;

    if ((rc = get_obj(o, "job", "stats", false, &st, err)) < 0 || !st)
        return rc;
    j->has_stats = true;
    if ((rc = get_int(st, ctx, "documents_added", 0, INT64_MAX, &has, &j->stats.documents_added,
                      err)) < 0 ||
        (rc = get_int(st, ctx, "documents_updated", 0, INT64_MAX, &has, &j->stats.documents_updated,
                      err)) < 0 ||
        (rc = get_int(st, ctx, "documents_unchanged", 0, INT64_MAX, &has,
                      &j->stats.documents_unchanged, err)) < 0 ||
        (rc = get_int(st, ctx, "documents_deleted", 0, INT64_MAX, &has, &j->stats.documents_deleted,
                      err)) < 0 ||
        (rc = get_int(st, ctx, "checkpoint_puts", 0, INT64_MAX, &has, &j->stats.checkpoint_puts,
                      err)) < 0)
        return rc;
    return 0;
}

int ccf_client__parse_job(const json_t *o, struct ccf_client_job *out, struct ccf_client_error *err)
{
    struct ccf_client_job j = {0};
    int64_t code = 0;
    int rc;

    if (!json_is_object(o))
        return BAD(err, "a job is not a JSON object");
    if ((rc = get_str(o, "job", "job_id", true, &j.job_id, err)) < 0 ||
        (rc = get_str(o, "job", "connector_id", true, &j.connector_id, err)) < 0 ||
        (rc = get_str(o, "job", "status", true, &j.status, err)) < 0 ||
        (rc = get_str(o, "job", "created_at", true, &j.created_at, err)) < 0 ||
        (rc = get_str(o, "job", "updated_at", true, &j.updated_at, err)) < 0 ||
        (rc = get_str(o, "job", "started_at", false, &j.started_at, err)) < 0 ||
        (rc = get_str(o, "job", "completed_at", false, &j.completed_at, err)) < 0 ||
        (rc = get_str(o, "job", "failure_reason", false, &j.failure_reason, err)) < 0 ||
        (rc = get_str(o, "job", "trigger", false, &j.trigger, err)) < 0 ||
        (rc = get_str(o, "job", "status_reason", false, &j.status_reason, err)) < 0 ||
        (rc = get_int(o, "job", "exit_code", INT_MIN, INT_MAX, &j.has_exit_code, &code, err)) < 0 ||
        (rc = parse_stats(o, &j, err)) < 0 || (rc = parse_retry_fields(o, &j, err)) < 0)
        goto fail;
    j.exit_code = (int)code;
    *out = j;
    return 0;
fail:
    ccf_client_job_clear(&j);
    return rc;
}

void ccf_client_document_clear(struct ccf_client_document *d)
{
    if (!d)
        return;
    free(d->document_id);
    free(d->checksum);
    free(d->created_at);
    free(d->updated_at);
    memset(d, 0, sizeof(*d));
}

int ccf_client__parse_document(const json_t *o, struct ccf_client_document *out,
                               struct ccf_client_error *err)
{
    struct ccf_client_document d = {0};
    int rc;

    if (!json_is_object(o))
        return BAD(err, "a document is not a JSON object");
    if ((rc = get_str(o, "document", "document_id", true, &d.document_id, err)) < 0 ||
        (rc = get_str(o, "document", "checksum", true, &d.checksum, err)) < 0 ||
        (rc = get_str(o, "document", "created_at", true, &d.created_at, err)) < 0 ||
        (rc = get_str(o, "document", "updated_at", true, &d.updated_at, err)) < 0) {
        ccf_client_document_clear(&d);
        return rc;
    }
    *out = d;
    return 0;
}

/* ---- whole answers ---- */

int ccf_client__parse_connector_response(const char *body, size_t len, bool with_props,
                                         struct ccf_client_connector *out,
                                         struct ccf_client_error *err)
{
    json_t *root = NULL, *o;
    int rc;

    if ((rc = load(body, len, &root, err)) < 0)
        return rc;
    if ((rc = get_obj(root, "answer", "connector", true, &o, err)) == 0)
        rc = ccf_client__parse_connector(o, with_props, out, err);
    json_decref(root);
    return rc;
}

int ccf_client__parse_job_response(const char *body, size_t len, struct ccf_client_job *out,
                                   struct ccf_client_error *err)
{
    json_t *root = NULL, *o;
    int rc;

    if ((rc = load(body, len, &root, err)) < 0)
        return rc;
    if ((rc = get_obj(root, "answer", "job", true, &o, err)) == 0)
        rc = ccf_client__parse_job(o, out, err);
    json_decref(root);
    return rc;
}

void ccf_client_checkpoint_clear(struct ccf_client_checkpoint *cp)
{
    if (!cp)
        return;
    free(cp->connector_id);
    free(cp->data);
    free(cp->created_at);
    free(cp->updated_at);
    memset(cp, 0, sizeof(*cp));
}

int ccf_client__parse_checkpoint_response(const char *body, size_t len,
                                          struct ccf_client_checkpoint *out,
                                          struct ccf_client_error *err)
{
    struct ccf_client_checkpoint cp = {0};
    json_t *root = NULL, *o, *data;
    int rc;

    if ((rc = load(body, len, &root, err)) < 0)
        return rc;
    if ((rc = get_obj(root, "answer", "checkpoint", true, &o, err)) < 0 ||
        (rc = get_str(o, "checkpoint", "connector_id", true, &cp.connector_id, err)) < 0 ||
        (rc = get_str(o, "checkpoint", "created_at", true, &cp.created_at, err)) < 0 ||
        (rc = get_str(o, "checkpoint", "updated_at", true, &cp.updated_at, err)) < 0)
        goto out;
    data = json_object_get(o, "checkpoint_data");
    if (!json_is_string(data)) {
        rc = BAD(err, "checkpoint.checkpoint_data is missing or not a string");
        goto out;
    }
    /* Byte for byte, NUL included. */
    cp.data_len = json_string_length(data);
    cp.data = malloc(cp.data_len + 1);
    if (!cp.data) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(cp.data, json_string_value(data), cp.data_len);
    cp.data[cp.data_len] = '\0';
    if (json_is_integer(json_object_get(o, "version")))
        cp.version = json_integer_value(json_object_get(o, "version"));
    *out = cp;
    memset(&cp, 0, sizeof(cp));
out:
    ccf_client_checkpoint_clear(&cp);
    json_decref(root);
    return rc;
}

int ccf_client__parse_empty_response(const char *body, size_t len, struct ccf_client_error *err)
{
    json_t *root = NULL;
    int rc;

    if (!body || len == 0)
        return 0;
    rc = load(body, len, &root, err);
    json_decref(root);
    return rc;
}

int ccf_client__parse_page(const char *body, size_t len, const char *key, json_t **items,
                           char **next_token, struct ccf_client_error *err)
{
    json_t *root = NULL, *a;
    char *tok = NULL;
    int rc;

    if ((rc = load(body, len, &root, err)) < 0)
        return rc;
    if ((rc = get_array(root, "answer", key, true, &a, err)) < 0 ||
        (rc = get_str(root, "answer", "next_token", false, &tok, err)) < 0)
        goto out;
    if (tok && !*tok) {
        rc = BAD(err, "answer.next_token is empty");
        goto out;
    }
    *items = json_incref(a);
    *next_token = tok;
    tok = NULL;
out:
    free(tok);
    json_decref(root);
    return rc;
}

void ccf_client_connector_list_clear(struct ccf_client_connector_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++)
        ccf_client_connector_clear(&l->items[i]);
    free(l->items);
    free(l->next_token);
    memset(l, 0, sizeof(*l));
}

void ccf_client_job_list_clear(struct ccf_client_job_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++)
        ccf_client_job_clear(&l->items[i]);
    free(l->items);
    free(l->next_token);
    memset(l, 0, sizeof(*l));
}

void ccf_client_document_list_clear(struct ccf_client_document_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++)
        ccf_client_document_clear(&l->items[i]);
    free(l->items);
    free(l->next_token);
    memset(l, 0, sizeof(*l));
}

/* The three list parsers differ only in the item type; each keeps the
 * items parsed so far in out->len, so its _clear frees a partial list. */
int ccf_client__parse_connector_list(const char *body, size_t len,
                                     struct ccf_client_connector_list *out,
                                     struct ccf_client_error *err)
{
    struct ccf_client_connector_list l = {0};
    json_t *a = NULL;
    int rc;

    if ((rc = ccf_client__parse_page(body, len, "connectors", &a, &l.next_token, err)) < 0)
        return rc;
    l.items = calloc(json_array_size(a) + 1, sizeof(*l.items));
    if (!l.items)
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < json_array_size(a); i++)
        if ((rc = ccf_client__parse_connector(json_array_get(a, i), false, &l.items[i], err)) == 0)
            l.len = i + 1;
    json_decref(a);
    if (rc < 0) {
        ccf_client_connector_list_clear(&l);
        return rc;
    }
    *out = l;
    return 0;
}

int ccf_client__parse_job_list(const char *body, size_t len, struct ccf_client_job_list *out,
                               struct ccf_client_error *err)
{
    struct ccf_client_job_list l = {0};
    json_t *a = NULL;
    int rc;

    if ((rc = ccf_client__parse_page(body, len, "jobs", &a, &l.next_token, err)) < 0)
        return rc;
    l.items = calloc(json_array_size(a) + 1, sizeof(*l.items));
    if (!l.items)
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < json_array_size(a); i++)
        if ((rc = ccf_client__parse_job(json_array_get(a, i), &l.items[i], err)) == 0)
            l.len = i + 1;
    json_decref(a);
    if (rc < 0) {
        ccf_client_job_list_clear(&l);
        return rc;
    }
    *out = l;
    return 0;
}

int ccf_client__parse_document_list(const char *body, size_t len,
                                    struct ccf_client_document_list *out,
                                    struct ccf_client_error *err)
{
    struct ccf_client_document_list l = {0};
    json_t *a = NULL;
    int rc;

    if ((rc = ccf_client__parse_page(body, len, "documents", &a, &l.next_token, err)) < 0)
        return rc;
    l.items = calloc(json_array_size(a) + 1, sizeof(*l.items));
    if (!l.items)
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < json_array_size(a); i++)
        if ((rc = ccf_client__parse_document(json_array_get(a, i), &l.items[i], err)) == 0)
            l.len = i + 1;
    json_decref(a);
    if (rc < 0) {
        ccf_client_document_list_clear(&l);
        return rc;
    }
    *out = l;
    return 0;
}

/* ---- logs ---- */

void ccf_client_log_chunk_clear(struct ccf_client_log_chunk *l)
{
    if (!l)
        return;
    free(l->data);
    memset(l, 0, sizeof(*l));
}

int ccf_client__parse_logs(const struct ccf_client__resp *r, int64_t offset,
                           struct ccf_client_log_chunk *out, struct ccf_client_error *err)
{
    struct ccf_client_log_chunk l = {0};
    int64_t start;

    if (!r->has_log_size || r->log_size < 0)
        return BAD(err, "the logs answer lacks a valid x-ccf-log-size header");
    if (!r->job_status[0])
        return BAD(err, "the logs answer lacks the x-ccf-job-status header");
    if (r->log_dropped < 0 || r->log_dropped > r->log_size)
        return BAD(err, "the logs answer has an invalid x-ccf-log-truncated header");
    /* Where the bytes start: the server reads from offset (from the end
     * when negative), never past the end and never before what it keeps. */
    if (offset < 0)
        start = offset < -r->log_size ? 0 : r->log_size + offset;
    else
        start = offset > r->log_size ? r->log_size : offset;
    if (start < r->log_dropped)
        start = r->log_dropped;
    if ((int64_t)r->len > r->log_size - start)
        return BAD(err, "the logs answer holds %zu bytes, more than the log has from %lld", r->len,
                   (long long)start);
    l.data = malloc(r->len + 1);
    if (!l.data)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if (r->len)
        memcpy(l.data, r->body, r->len);
    l.data[r->len] = '\0';
    l.len = r->len;
    l.start = start;
    l.log_size = r->log_size;
    l.dropped = r->log_dropped;
    memcpy(l.job_status, r->job_status, sizeof(l.job_status));
    l.attempt = (int)r->attempt;
    *out = l;
    return 0;
}
