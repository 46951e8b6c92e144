/* request.c: builds each operation's request: the path with its ids
 * percent-encoded, the query sorted by name and encoded as SigV4's
 * canonical form wants it (libcurl 7.88 signs the query exactly as given),
 * and the JSON body. Pure functions: nothing here touches the network. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

#define CONNECTORS CCF_CLIENT__API "/custom-connectors"

void ccf_client__req_clear(struct ccf_client__req *r)
{
    free(r->target);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static bool unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

char *ccf_client__encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s), o = 0;
    char *out;

    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            out[o++] = (char)*p;
            continue;
        }
        out[o++] = '%';
        out[o++] = hex[*p >> 4];
        out[o++] = hex[*p & 15];
    }
    out[o] = '\0';
    return out;
}

int ccf_client__query_add(struct ccf_client__query *q, const char *name, const char *value)
{
    if (!value)
        return 0;
    if (q->n == CCF_CLIENT__QUERY_MAX)
        return CCF_CLIENT_EINVAL;
    q->p[q->n].value = ccf_client__encode(value);
    if (!q->p[q->n].value)
        return CCF_CLIENT_ENOMEM;
    q->p[q->n++].name = name;
    return 0;
}

int ccf_client__query_add_int(struct ccf_client__query *q, const char *name, int64_t value)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRId64, value);
    return ccf_client__query_add(q, name, buf);
}

void ccf_client__query_clear(struct ccf_client__query *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->p[i].value);
    q->n = 0;
}

/* Names are static and unreserved, so they need no encoding; SigV4 sorts
 * by the encoded name, then the encoded value. */
static int pair_cmp(const void *a, const void *b)
{
    const struct ccf_client__pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->value, y->value);
}

char *ccf_client__query_build(struct ccf_client__query *q)
{
    size_t len = 1, o = 0;
    char *out;

    qsort(q->p, q->n, sizeof(q->p[0]), pair_cmp);
    for (size_t i = 0; i < q->n; i++)
        len += strlen(q->p[i].name) + strlen(q->p[i].value) + 2;
    out = malloc(len);
    if (!out)
        goto out;
    out[0] = '\0';
    for (size_t i = 0; i < q->n; i++) {
        int n = snprintf(out + o, len - o, "%c%s=%s", i ? '&' : '?', q->p[i].name, q->p[i].value);

        if (n < 0 || (size_t)n >= len - o) {
            free(out);
            out = NULL;
            goto out;
        }
        o += (size_t)n;
    }
out:
    ccf_client__query_clear(q);
    return out;
}

static int check_id(const char *id, const char *what, struct ccf_client_error *err)
{
    if (!id || !*id)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "%s is required", what);
    return 0;
}

/* r->target = CONNECTORS[/cid[/sub[/jid[/tail]]]][query]; NULLs end the path. */
static int set_target(struct ccf_client__req *r, const char *cid, const char *sub, const char *jid,
                      const char *tail, const char *query, struct ccf_client_error *err)
{
    char *ec = cid ? ccf_client__encode(cid) : NULL;
    char *ej = jid ? ccf_client__encode(jid) : NULL;
    size_t len;
    int rc = CCF_CLIENT_ENOMEM, n;

    if ((cid && !ec) || (jid && !ej))
        goto out;
    len = sizeof(CONNECTORS) + (ec ? strlen(ec) + 1 : 0) + (sub ? strlen(sub) + 1 : 0) +
          (ej ? strlen(ej) + 1 : 0) + (tail ? strlen(tail) + 1 : 0) + (query ? strlen(query) : 0);
    r->target = malloc(len);
    if (!r->target)
        goto out;
    n = snprintf(r->target, len, "%s%s%s%s%s%s%s%s%s%s", CONNECTORS, ec ? "/" : "", ec ? ec : "",
                 sub ? "/" : "", sub ? sub : "", ej ? "/" : "", ej ? ej : "", tail ? "/" : "",
                 tail ? tail : "", query ? query : "");
    rc = n >= 0 && (size_t)n < len ? 0 : CCF_CLIENT_ENOMEM;
out:
    free(ec);
    free(ej);
    if (rc < 0)
        ccf_client__fail(err, rc, "out of memory");
    return rc;
}

/* r->body = compact JSON of root, which it takes. */
static int set_body(struct ccf_client__req *r, json_t *root, struct ccf_client_error *err)
{
    r->body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!r->body)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    r->body_len = strlen(r->body);
    return 0;
}

/* The end every builder with a body shares: rc is how building root went;
 * on success r gets method, target and root's JSON (root is taken either
 * way), on failure r is left empty. */
static int with_body(struct ccf_client__req *r, const char *method, const char *cid,
                     const char *sub, json_t *root, int rc, struct ccf_client_error *err)
{
    r->method = method;
    if (rc == 0 && (rc = set_target(r, cid, sub, NULL, NULL, NULL, err)) == 0)
        return set_body(r, root, err);
    json_decref(root);
    ccf_client__req_clear(r);
    return rc;
}

/* A request on one job, CONNECTORS/cid/jobs/jid[/tail][query], without a body. */
static int job_target(struct ccf_client__req *r, const char *method, const char *cid,
                      const char *jid, const char *tail, const char *query,
                      struct ccf_client_error *err)
{
    int rc;

    if ((rc = check_id(cid, "connector_id", err)) < 0 || (rc = check_id(jid, "job_id", err)) < 0)
        return rc;
    r->method = method;
    return set_target(r, cid, "jobs", jid, tail, query, err);
}

/* ---- JSON building: a NULL from jansson is invalid UTF-8 or no memory ---- */

static int put_str(json_t *o, const char *key, const char *v, struct ccf_client_error *err)
{
    if (json_object_set_new(o, key, json_string(v)) < 0)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "%s is not valid UTF-8", key);
    return 0;
}

static int put_new(json_t *o, const char *key, json_t *v, struct ccf_client_error *err)
{
    if (json_object_set_new(o, key, v) < 0)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    return 0;
}

static json_t *number(double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v); /* "cpu": 1, not 1.0 */
    return json_real(v);
}

static int env_array(const struct ccf_client_env *env, size_t n, json_t **out,
                     struct ccf_client_error *err)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        json_t *item = json_object();

        if (!env[i].name || !env[i].value) {
            json_decref(item);
            json_decref(a);
            return ccf_client__fail(err, CCF_CLIENT_EINVAL,
                                    "environment[%zu] needs a name and value", i);
        }
        if (!item || json_array_append_new(a, item) < 0 ||
            put_str(item, "name", env[i].name, err) || put_str(item, "value", env[i].value, err)) {
            json_decref(a);
            return ccf_client__fail(err, CCF_CLIENT_EINVAL, "environment[%zu] is not valid UTF-8",
                                    i);
        }
    }
    if (!a)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    *out = a;
    return 0;
}

static int command_array(char *const *cmd, size_t n, json_t **out, struct ccf_client_error *err)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        if (!cmd[i] || json_array_append_new(a, json_string(cmd[i])) < 0) {
            json_decref(a);
            return ccf_client__fail(err, CCF_CLIENT_EINVAL, "command[%zu] is missing or not UTF-8",
                                    i);
        }
    }
    if (!a)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    *out = a;
    return 0;
}

static int put_opt_str(json_t *o, const char *key, const char *v, bool remove,
                       struct ccf_client_error *err)
{
    if (v)
        return put_str(o, key, v, err);
    return remove ? put_new(o, key, json_null(), err) : 0;
}

static int resources(const struct ccf_client_container_properties *p, unsigned remove, json_t *o,
                     struct ccf_client_error *err)
{
    json_t *rr;

    if (!p->has_cpu && !p->has_memory &&
        !(remove & (CCF_CLIENT_FIELD_CPU | CCF_CLIENT_FIELD_MEMORY)))
        return 0;
    if (p->has_cpu && !isfinite(p->cpu))
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "cpu must be a finite number");
    rr = json_object();
    if (put_new(o, "resource_requirements", rr, err) < 0)
        return CCF_CLIENT_ENOMEM;
    if (p->has_cpu && put_new(rr, "cpu", number(p->cpu), err))
        return CCF_CLIENT_ENOMEM;
    if (!p->has_cpu && (remove & CCF_CLIENT_FIELD_CPU) && put_new(rr, "cpu", json_null(), err))
        return CCF_CLIENT_ENOMEM;
    if (p->has_memory && put_new(rr, "memory", json_integer(p->memory), err))
        return CCF_CLIENT_ENOMEM;
    if (!p->has_memory && (remove & CCF_CLIENT_FIELD_MEMORY) &&
        put_new(rr, "memory", json_null(), err))
        return CCF_CLIENT_ENOMEM;
    return 0;
}

/* retry_strategy: the caller's JSON text, checked to be an object (the
 * server validates what is in it). */
static int retry_json(const struct ccf_client_container_properties *p, unsigned remove, json_t *o,
                      struct ccf_client_error *err)
{
    json_t *v;

    if (!p->retry_strategy)
        return (remove & CCF_CLIENT_FIELD_RETRY_STRATEGY)
                   ? put_new(o, "retry_strategy", json_null(), err)
                   : 0;
    v = json_loads(p->retry_strategy, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "retry_strategy is not a JSON object");
    }
    return put_new(o, "retry_strategy", v, err);
}

/* container_properties with the set fields, and nulls for those in remove.
 * *out is NULL when there is nothing to say. */
static int props_json(const struct ccf_client_container_properties *p, unsigned remove,
                      json_t **out, struct ccf_client_error *err)
{
    json_t *o = json_object(), *a = NULL;
    int rc;

    if (!o)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if ((rc = put_opt_str(o, "image_uri", p->image_uri, remove & CCF_CLIENT_FIELD_IMAGE_URI, err)) <
            0 ||
        (rc = put_opt_str(o, "execution_role_arn", p->execution_role_arn,
                          remove & CCF_CLIENT_FIELD_EXECUTION_ROLE_ARN, err)) < 0 ||
        (rc = put_opt_str(o, "job_role_arn", p->job_role_arn,
                          remove & CCF_CLIENT_FIELD_JOB_ROLE_ARN, err)) < 0 ||
        (rc = resources(p, remove, o, err)) < 0)
        goto fail;
    if (p->has_timeout && (rc = put_new(o, "timeout", json_integer(p->timeout), err)) < 0)
        goto fail;
    if (!p->has_timeout && (remove & CCF_CLIENT_FIELD_TIMEOUT) &&
        (rc = put_new(o, "timeout", json_null(), err)) < 0)
        goto fail;
    if (p->command_len > 0) {
        if ((rc = command_array(p->command, p->command_len, &a, err)) < 0 ||
            (rc = put_new(o, "command", a, err)) < 0)
            goto fail;
    } else if ((remove & CCF_CLIENT_FIELD_COMMAND) &&
               (rc = put_new(o, "command", json_null(), err)) < 0) {
        goto fail;
    }
    if (p->has_environment) {
        if ((rc = env_array(p->environment, p->environment_len, &a, err)) < 0 ||
            (rc = put_new(o, "environment", a, err)) < 0)
            goto fail;
    } else if ((remove & CCF_CLIENT_FIELD_ENVIRONMENT) &&
               (rc = put_new(o, "environment", json_null(), err)) < 0) {
        goto fail;
    }
    if ((rc = retry_json(p, remove, o, err)) < 0)
        goto fail;
    *out = o;
    return 0;
fail:
    json_decref(o);
    return rc;
}

/* ---- connectors ---- */

int ccf_client__build_create_connector(struct ccf_client__req *r,
                                       const struct ccf_client_connector_spec *spec,
                                       struct ccf_client_error *err)
{
    json_t *root = json_object(), *props = NULL;
    int rc;

    memset(r, 0, sizeof(*r));
    if (!root)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if (!spec->name)
        rc = ccf_client__fail(err, CCF_CLIENT_EINVAL, "name is required");
    else if ((rc = put_str(root, "name", spec->name, err)) == 0 &&
             (rc = put_opt_str(root, "description", spec->description, false, err)) == 0 &&
             (rc = props_json(&spec->container_properties, 0, &props, err)) == 0 &&
             (rc = put_new(root, "container_properties", props, err)) == 0)
        rc = ccf_client__schedule_put(root, spec->schedule, false, err);
    return with_body(r, "POST", NULL, NULL, root, rc, err);
}

int ccf_client__build_get_connector(struct ccf_client__req *r, const char *connector_id,
                                    struct ccf_client_error *err)
{
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = check_id(connector_id, "connector_id", err)) < 0)
        return rc;
    r->method = "GET";
    return set_target(r, connector_id, NULL, NULL, NULL, NULL, err);
}

int ccf_client__build_update_connector(struct ccf_client__req *r, const char *connector_id,
                                       const struct ccf_client_connector_update *upd,
                                       struct ccf_client_error *err)
{
    json_t *root = json_object(), *props = NULL;
    int rc;

    memset(r, 0, sizeof(*r));
    if (!root)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if ((rc = check_id(connector_id, "connector_id", err)) < 0 ||
        (rc = put_opt_str(root, "name", upd->name, false, err)) < 0 ||
        (rc = put_opt_str(root, "description", upd->description,
                          upd->remove & CCF_CLIENT_FIELD_DESCRIPTION, err)) < 0 ||
        (rc = props_json(&upd->container_properties, upd->remove, &props, err)) < 0)
        goto fail;
    if (json_object_size(props) > 0) {
        rc = put_new(root, "container_properties", props, err); /* takes props */
        props = NULL;
        if (rc < 0)
            goto fail;
    }
    json_decref(props);
    if ((rc = ccf_client__schedule_put(root, upd->schedule, upd->remove & CCF_CLIENT_FIELD_SCHEDULE,
                                       err)) == 0 &&
        json_object_size(root) == 0)
        rc = ccf_client__fail(err, CCF_CLIENT_EINVAL, "an update needs at least one field");
fail:
    return with_body(r, "PUT", connector_id, NULL, root, rc, err);
}

/* GET path?max_results=&next_token=[&status=] */
/* filter (NULL: none) is the query parameter fname's value. */
static int build_list(struct ccf_client__req *r, const char *cid, const char *sub,
                      const char *fname, const char *filter, const struct ccf_client_page *pg,
                      struct ccf_client_error *err)
{
    struct ccf_client__query q = {0};
    char *query = NULL;
    int rc = 0;

    if (pg && pg->max_results > 0)
        rc = ccf_client__query_add_int(&q, "max_results", pg->max_results);
    if (rc == 0 && pg)
        rc = ccf_client__query_add(&q, "next_token", pg->next_token);
    if (rc == 0)
        rc = ccf_client__query_add(&q, fname, filter);
    if (rc == 0 && !(query = ccf_client__query_build(&q)))
        rc = CCF_CLIENT_ENOMEM;
    ccf_client__query_clear(&q);
    if (rc < 0)
        return ccf_client__fail(err, rc, "out of memory");
    r->method = "GET";
    rc = set_target(r, cid, sub, NULL, NULL, query, err);
    free(query);
    return rc;
}

int ccf_client__build_list_connectors(struct ccf_client__req *r, const struct ccf_client_page *pg,
                                      struct ccf_client_error *err)
{
    memset(r, 0, sizeof(*r));
    return build_list(r, NULL, NULL, NULL, NULL, pg, err);
}

int ccf_client__build_delete_connector(struct ccf_client__req *r, const char *connector_id,
                                       struct ccf_client_error *err)
{
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = check_id(connector_id, "connector_id", err)) < 0)
        return rc;
    r->method = "DELETE";
    return set_target(r, connector_id, NULL, NULL, NULL, NULL, err);
}

/* ---- jobs ---- */

int ccf_client__build_start_job(struct ccf_client__req *r, const char *connector_id,
                                const struct ccf_client_env *env, size_t env_len,
                                struct ccf_client_error *err)
{
    json_t *root = json_object(), *a = NULL;
    int rc;

    memset(r, 0, sizeof(*r));
    if (!root)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if ((rc = check_id(connector_id, "connector_id", err)) == 0 && env_len > 0 &&
        (rc = env_array(env, env_len, &a, err)) == 0)
        rc = put_new(root, "environment", a, err);
    return with_body(r, "POST", connector_id, "jobs", root, rc, err);
}

int ccf_client__build_list_jobs(struct ccf_client__req *r, const char *connector_id,
                                const char *status, const struct ccf_client_page *pg,
                                struct ccf_client_error *err)
{
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = check_id(connector_id, "connector_id", err)) < 0)
        return rc;
    return build_list(r, connector_id, "jobs", "status", status, pg, err);
}

int ccf_client__build_get_job(struct ccf_client__req *r, const char *connector_id,
                              const char *job_id, struct ccf_client_error *err)
{
    memset(r, 0, sizeof(*r));
    return job_target(r, "GET", connector_id, job_id, NULL, NULL, err);
}

int ccf_client__build_stop_job(struct ccf_client__req *r, const char *connector_id,
                               const char *job_id, struct ccf_client_error *err)
{
    memset(r, 0, sizeof(*r));
    return job_target(r, "POST", connector_id, job_id, "stop", NULL, err);
}

int ccf_client__build_pause(struct ccf_client__req *r, const char *connector_id, bool pause,
                            bool stop_active_job, struct ccf_client_error *err)
{
    json_t *root;
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = check_id(connector_id, "connector_id", err)) < 0)
        return rc;
    r->method = "POST";
    if ((rc = set_target(r, connector_id, pause ? "pause" : "resume", NULL, NULL, NULL, err)) < 0)
        return rc;
    if (!stop_active_job)
        return 0;
    if (!(root = json_pack("{s:b}", "stop_active_job", 1))) {
        ccf_client__req_clear(r);
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    }
    return set_body(r, root, err);
}

int ccf_client__build_job_logs(struct ccf_client__req *r, const char *connector_id,
                               const char *job_id, int attempt, int64_t offset, int64_t limit,
                               struct ccf_client_error *err)
{
    struct ccf_client__query q = {0};
    char *query = NULL;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    if (limit < 0 || limit > CCF_CLIENT_LOG_CHUNK_MAX)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "limit must be from 0 to %d",
                                CCF_CLIENT_LOG_CHUNK_MAX);
    if (attempt < 0)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "attempt must be 1 or more (0: latest)");
    if (offset != 0)
        rc = ccf_client__query_add_int(&q, "offset", offset);
    if (rc == 0 && attempt > 0)
        rc = ccf_client__query_add_int(&q, "attempt", attempt);
    if (rc == 0 && limit > 0)
        rc = ccf_client__query_add_int(&q, "limit", limit);
    if (rc == 0 && !(query = ccf_client__query_build(&q)))
        rc = CCF_CLIENT_ENOMEM;
    ccf_client__query_clear(&q);
    if (rc < 0)
        return ccf_client__fail(err, rc, "out of memory");
    rc = job_target(r, "GET", connector_id, job_id, "logs", query, err);
    free(query);
    return rc;
}

/* ---- documents ---- */

static int check_batch(size_t n, const char *what, struct ccf_client_error *err)
{
    if (n == 0 || n > CCF_CLIENT_BATCH_MAX)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "a batch holds 1 to %d %s",
                                CCF_CLIENT_BATCH_MAX, what);
    return 0;
}

static int docs_array(const struct ccf_client_document_input *docs, size_t n, json_t **out,
                      struct ccf_client_error *err)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        json_t *d = json_object();

        if (!docs[i].document_id || !docs[i].checksum) {
            json_decref(d);
            json_decref(a);
            return ccf_client__fail(err, CCF_CLIENT_EINVAL,
                                    "documents[%zu] needs a document_id and a checksum", i);
        }
        if (!d || json_array_append_new(a, d) < 0 ||
            put_str(d, "document_id", docs[i].document_id, err) < 0 ||
            put_str(d, "checksum", docs[i].checksum, err) < 0) {
            json_decref(a);
            return ccf_client__fail(err, CCF_CLIENT_EINVAL, "documents[%zu] is not valid UTF-8", i);
        }
    }
    if (!a)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    *out = a;
    return 0;
}

int ccf_client__build_put_documents(struct ccf_client__req *r, const char *connector_id,
                                    const struct ccf_client_document_input *docs, size_t n,
                                    struct ccf_client_error *err)
{
    json_t *root = json_object(), *a = NULL;
    int rc;

    memset(r, 0, sizeof(*r));
    if (!root)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if ((rc = check_id(connector_id, "connector_id", err)) == 0 &&
        (rc = check_batch(n, "documents", err)) == 0 && (rc = docs_array(docs, n, &a, err)) == 0)
        rc = put_new(root, "documents", a, err);
    return with_body(r, "POST", connector_id, "documents", root, rc, err);
}

int ccf_client__build_delete_documents(struct ccf_client__req *r, const char *connector_id,
                                       const char *const *ids, size_t n,
                                       struct ccf_client_error *err)
{
    json_t *root = json_object(), *a = json_array();
    int rc;

    memset(r, 0, sizeof(*r));
    if (!root || !a || json_object_set(root, "document_ids", a) < 0) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = check_id(connector_id, "connector_id", err)) < 0 ||
        (rc = check_batch(n, "document ids", err)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i] || json_array_append_new(a, json_string(ids[i])) < 0) {
            rc = ccf_client__fail(err, CCF_CLIENT_EINVAL,
                                  "document_ids[%zu] is missing or not UTF-8", i);
            goto fail;
        }
    }
fail:
    json_decref(a);
    return with_body(r, "DELETE", connector_id, "documents", root, rc, err);
}

int ccf_client__build_list_documents(struct ccf_client__req *r, const char *connector_id,
                                     const char *not_seen_by_job, const struct ccf_client_page *pg,
                                     struct ccf_client_error *err)
{
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = check_id(connector_id, "connector_id", err)) < 0 ||
        (not_seen_by_job && (rc = check_id(not_seen_by_job, "not_seen_by_job", err)) < 0))
        return rc;
    return build_list(r, connector_id, "documents", "not_seen_by_job", not_seen_by_job, pg, err);
}

/* ---- checkpoint ---- */

int ccf_client__build_put_checkpoint(struct ccf_client__req *r, const char *connector_id,
                                     const char *data, size_t len, struct ccf_client_error *err)
{
    json_t *root = json_object(), *s;
    int rc;

    memset(r, 0, sizeof(*r));
    if (!root)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if ((rc = check_id(connector_id, "connector_id", err)) == 0) {
        s = data ? json_stringn(data, len) : NULL;
        if (!s || json_object_set_new(root, "checkpoint_data", s) < 0)
            rc = ccf_client__fail(err, CCF_CLIENT_EINVAL, "checkpoint data is not valid UTF-8");
    }
    return with_body(r, "PUT", connector_id, "checkpoint", root, rc, err);
}

int ccf_client__build_checkpoint(struct ccf_client__req *r, const char *method,
                                 const char *connector_id, struct ccf_client_error *err)
{
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = check_id(connector_id, "connector_id", err)) < 0)
        return rc;
    r->method = method;
    return set_target(r, connector_id, "checkpoint", NULL, NULL, NULL, err);
}
