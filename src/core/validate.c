/* validate.c: request-body validation for connectors and jobs, following
 * CONTRACT.md field by field. Each check writes a message naming the field. */
#include "core/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/retry.h"
#include "core/validate_int.h"

void ccf_diag_set(struct ccf_diag *d, const char *fmt, ...)
{
    va_list ap;

    if (!d)
        return;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
}

json_t *ccf_json_parse_object(const char *body, size_t len, struct ccf_diag *d)
{
    json_error_t err;
    json_t *v;

    if (!body || len == 0) {
        ccf_diag_set(d, "Request body is required and must be a JSON object");
        return NULL;
    }
    v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!v) {
        /* jansson's text names the problem and its position; it never holds
         * more than a few bytes of the input. */
        ccf_diag_set(d, "Request body is not valid JSON: %s (at byte %d)", err.text, err.position);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        ccf_diag_set(d, "Request body must be a JSON object");
        return NULL;
    }
    return v;
}

size_t ccf_utf8_count(const char *s, size_t n)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    }
    return count;
}

bool ccf_utf8_has_control(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;

    for (size_t i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7F)
            return true;
        /* U+0080..U+009F are encoded as C2 80..C2 9F. */
        if (u[i] == 0xC2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F)
            return true;
    }
    return false;
}

/* A string field: type, no NUL, length in code points. */
int v__string(const json_t *v, const char *field, size_t min, size_t max, const char **out,
              struct ccf_diag *d)
{
    const char *s;
    size_t len, cps;

    if (!json_is_string(v)) {
        ccf_diag_set(d, "%s must be a string", field);
        return CCF_EINVAL;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (memchr(s, '\0', len)) {
        ccf_diag_set(d, "%s must not contain NUL characters", field);
        return CCF_EINVAL;
    }
    cps = ccf_utf8_count(s, len);
    if (cps < min || cps > max) {
        ccf_diag_set(d, "%s must be %zu to %zu characters long", field, min, max);
        return CCF_EINVAL;
    }
    *out = s;
    return 0;
}

/* An integer field: a JSON integer (no fraction, no exponent) in range. */
int v__integer(const json_t *v, const char *field, json_int_t min, json_int_t max,
               struct ccf_diag *d)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        ccf_diag_set(d, "%s must be an integer from %lld to %lld", field, (long long)min,
                     (long long)max);
        return CCF_EINVAL;
    }
    return 0;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* The tail of a regex `.+`: at least one character, none a newline. */
static bool dot_plus(const char *s)
{
    return *s != '\0' && strchr(s, '\n') == NULL;
}

/* ^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/.+$ */
static bool image_uri_ok(const char *s)
{
    static const char dkr[] = ".dkr.ecr.", aws[] = ".amazonaws.com/";
    size_t n = 0;

    if (strlen(s) < 12 || !all_digits(s, 12) || strncmp(s + 12, dkr, sizeof(dkr) - 1) != 0)
        return false;
    s += 12 + sizeof(dkr) - 1;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-')
        n++;
    if (n == 0 || strncmp(s + n, aws, sizeof(aws) - 1) != 0)
        return false;
    return dot_plus(s + n + sizeof(aws) - 1);
}

/* ^arn:aws:iam::[0-9]{12}:role/.+$ */
static bool role_arn_ok(const char *s)
{
    static const char pre[] = "arn:aws:iam::", role[] = ":role/";

    if (strncmp(s, pre, sizeof(pre) - 1) != 0)
        return false;
    s += sizeof(pre) - 1;
    if (strlen(s) < 12 || !all_digits(s, 12) || strncmp(s + 12, role, sizeof(role) - 1) != 0)
        return false;
    return dot_plus(s + 12 + sizeof(role) - 1);
}

static int check_pattern_field(const json_t *cp, const char *key, bool (*ok)(const char *),
                               const char *pattern, struct ccf_diag *d)
{
    char field[64];
    const char *s;
    const json_t *v = json_object_get(cp, key);

    snprintf(field, sizeof(field), "container_properties.%s", key);
    if (!v)
        return 0;
    if (v__string(v, field, 20, 2048, &s, d) < 0)
        return CCF_EINVAL;
    if (!ok(s)) {
        ccf_diag_set(d, "%s must match %s", field, pattern);
        return CCF_EINVAL;
    }
    return 0;
}

/* A field with a default that is absent (never given, or removed by a
 * merge patch's null) takes its default. */
static int check_resources(json_t *rr, struct ccf_diag *d)
{
    const char *f_cpu = "container_properties.resource_requirements.cpu";
    const char *f_mem = "container_properties.resource_requirements.memory";
    json_t *cpu, *mem;

    if (!json_is_object(rr)) {
        ccf_diag_set(d, "container_properties.resource_requirements must be an object");
        return CCF_EINVAL;
    }
    cpu = json_object_get(rr, "cpu");
    mem = json_object_get(rr, "memory");
    if (!cpu)
        json_object_set_new(rr, "cpu", cpu = json_integer(1));
    if (!mem)
        json_object_set_new(rr, "memory", mem = json_integer(2048));
    if (!json_is_number(cpu) || json_number_value(cpu) < 1 || json_number_value(cpu) > 16) {
        ccf_diag_set(d, "%s must be a number from 1 to 16", f_cpu);
        return CCF_EINVAL;
    }
    return v__integer(mem, f_mem, 1024, 122880, d);
}

static int check_command(const json_t *cmd, struct ccf_diag *d)
{
    char field[64];
    const char *s;
    size_t i;
    const json_t *arg;

    if (!json_is_array(cmd) || json_array_size(cmd) < 1 || json_array_size(cmd) > 64) {
        ccf_diag_set(d, "container_properties.command must be an array of 1 to 64 strings");
        return CCF_EINVAL;
    }
    json_array_foreach(cmd, i, arg)
    {
        snprintf(field, sizeof(field), "container_properties.command[%zu]", i);
        if (v__string(arg, field, 1, 4096, &s, d) < 0)
            return CCF_EINVAL;
    }
    return 0;
}

/* retry_strategy, when set, is stored as ccf_retry_to_json makes it: every
 * field with its default, so that what GetCustomConnector answers is what
 * a job will run with. */
static int check_retry(json_t *cp, struct ccf_diag *d)
{
    struct ccf_retry_strategy r;
    json_t *v = json_object_get(cp, "retry_strategy");

    if (!v)
        return 0;
    if (ccf_retry_from_json(v, &r, d) < 0)
        return CCF_EINVAL;
    json_object_set_new(cp, "retry_strategy", ccf_retry_to_json(&r));
    ccf_retry_clear(&r);
    return 0;
}

/* Validates container_properties in place (unknown keys already dropped). */
static int check_properties(json_t *cp, struct ccf_diag *d)
{
    static const char *const need[] = {"image_uri", "execution_role_arn", "job_role_arn"};
    json_t *v;

    if (!json_is_object(cp)) {
        ccf_diag_set(d, "container_properties must be an object");
        return CCF_EINVAL;
    }
    if (check_pattern_field(cp, "image_uri", image_uri_ok,
                            "^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/.+$", d) < 0 ||
        check_pattern_field(cp, "execution_role_arn", role_arn_ok,
                            "^arn:aws:iam::[0-9]{12}:role/.+$", d) < 0 ||
        check_pattern_field(cp, "job_role_arn", role_arn_ok, "^arn:aws:iam::[0-9]{12}:role/.+$",
                            d) < 0)
        return CCF_EINVAL;
    if ((v = json_object_get(cp, "command")) && check_command(v, d) < 0)
        return CCF_EINVAL;
    for (size_t i = 0; !v && i < 3; i++) {
        if (!json_object_get(cp, need[i])) {
            ccf_diag_set(d, "container_properties.%s is required when command is not given",
                         need[i]);
            return CCF_EINVAL;
        }
    }
    if (!(v = json_object_get(cp, "resource_requirements")))
        json_object_set_new(cp, "resource_requirements", v = json_object());
    if (check_resources(v, d) < 0)
        return CCF_EINVAL;
    if (!(v = json_object_get(cp, "timeout")))
        json_object_set_new(cp, "timeout", v = json_integer(3600));
    if (v__integer(v, "container_properties.timeout", 1, 604800, d) < 0)
        return CCF_EINVAL;
    return check_retry(cp, d);
}

/* Keeps the fields the contract knows at each level; the rest is ignored. */
static json_t *known_fields(const json_t *body)
{
    /* schedule is decoded by the caller (it needs the zone database); it is
     * kept here so that an update of the schedule alone is not empty. */
    static const char *const top[] = {"name", "description", "container_properties", "schedule",
                                      NULL};
    static const char *const cpk[] = {"image_uri",   "execution_role_arn",    "job_role_arn",
                                      "command",     "resource_requirements", "timeout",
                                      "environment", "retry_strategy",        NULL};
    static const char *const rrk[] = {"cpu", "memory", NULL};
    json_t *out = json_object(), *cp, *rr;

    for (size_t i = 0; top[i]; i++) {
        json_t *v = json_object_get(body, top[i]);
        if (v)
            json_object_set(out, top[i], v);
    }
    cp = json_object_get(out, "container_properties");
    if (json_is_object(cp)) {
        json_t *ncp = json_object();
        for (size_t i = 0; cpk[i]; i++) {
            json_t *v = json_object_get(cp, cpk[i]);
            if (v)
                json_object_set(ncp, cpk[i], v);
        }
        rr = json_object_get(ncp, "resource_requirements");
        if (json_is_object(rr)) {
            json_t *nrr = json_object();
            for (size_t i = 0; rrk[i]; i++) {
                json_t *v = json_object_get(rr, rrk[i]);
                if (v)
                    json_object_set(nrr, rrk[i], v);
            }
            json_object_set_new(ncp, "resource_requirements", nrr);
        }
        json_object_set_new(out, "container_properties", ncp);
    }
    return out;
}

/* On create, an optional field given as null is simply not set. */
static void drop_nulls(json_t *obj)
{
    const char *key;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(obj, tmp, key, v)
    {
        if (json_is_null(v))
            json_object_del(obj, key);
        else if (json_is_object(v))
            drop_nulls(v);
    }
}

/* RFC 7396: returns a new reference to target patched by patch. */
static json_t *merge_patch(json_t *target, const json_t *patch)
{
    const char *key;
    json_t *v, *out;

    if (!json_is_object(patch))
        return json_incref((json_t *)patch);
    out = json_is_object(target) ? json_deep_copy(target) : json_object();
    json_object_foreach((json_t *)patch, key, v)
    {
        if (json_is_null(v)) {
            json_object_del(out, key);
        } else {
            json_object_set_new(out, key, merge_patch(json_object_get(out, key), v));
        }
    }
    return out;
}

/* An update that changes something: a known field that is not an empty object. */
static bool has_content(const json_t *v)
{
    const char *key;
    json_t *m;

    if (!json_is_object(v))
        return true;
    json_object_foreach((json_t *)v, key, m)
    {
        if (has_content(m))
            return true;
    }
    return false;
}

/* Validates a whole connector document and, on success, moves it into c. */
static int take_connector(json_t *doc, struct ccf_connector *c, struct ccf_diag *d)
{
    const char *name, *desc = NULL;
    json_t *cp = json_object_get(doc, "container_properties"), *v, *env;
    char *props;

    if (!(v = json_object_get(doc, "name"))) {
        ccf_diag_set(d, "name is required");
        return CCF_EINVAL;
    }
    if (v__string(v, "name", 3, CCF_NAME_MAX, &name, d) < 0)
        return CCF_EINVAL;
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
        strlen(name)) {
        ccf_diag_set(d, "name must match ^[a-zA-Z0-9-]+$");
        return CCF_EINVAL;
    }
    v = json_object_get(doc, "description");
    if (v && v__string(v, "description", 3, CCF_DESCRIPTION_MAX, &desc, d) < 0)
        return CCF_EINVAL;
    if (!cp) {
        ccf_diag_set(d, "container_properties is required");
        return CCF_EINVAL;
    }
    if (check_properties(cp, d) < 0)
        return CCF_EINVAL;
    if ((v = json_object_get(cp, "environment"))) {
        if (v__environment_clean(v, "container_properties.environment", &env, d) < 0)
            return CCF_EINVAL;
        json_object_set_new(cp, "environment", env);
    }
    props = json_dumps(cp, JSON_COMPACT | JSON_SORT_KEYS);
    if (!props)
        return CCF_ENOMEM;
    free(c->name);
    free(c->description);
    free(c->properties);
    c->name = ccf_xstrdup(name);
    c->description = desc ? ccf_xstrdup(desc) : NULL;
    c->properties = props;
    return 0;
}

int ccf_connector_from_create(const json_t *body, struct ccf_connector *c, struct ccf_diag *d)
{
    json_t *doc = known_fields(body);
    int rc;

    drop_nulls(doc);
    rc = take_connector(doc, c, d);
    json_decref(doc);
    return rc;
}

int ccf_connector_apply_update(const json_t *body, struct ccf_connector *c, struct ccf_diag *d)
{
    json_t *patch = known_fields(body), *cur = json_object(), *props, *merged = NULL;
    int rc = CCF_EINVAL;

    if (json_object_size(patch) == 0 || !has_content(patch)) {
        ccf_diag_set(d, "The update is empty: give at least one of name, description, "
                        "container_properties, schedule");
        goto out;
    }
    json_object_set_new(cur, "name", json_string(c->name));
    if (c->description)
        json_object_set_new(cur, "description", json_string(c->description));
    props = json_loads(c->properties, 0, NULL);
    if (!props) {
        rc = CCF_EIO; /* the store holds only what take_connector wrote */
        goto out;
    }
    json_object_set_new(cur, "container_properties", props);
    merged = merge_patch(cur, patch);
    rc = take_connector(merged, c, d);
out:
    json_decref(merged);
    json_decref(cur);
    json_decref(patch);
    return rc;
}

int ccf_connector_check_update(const json_t *body, struct ccf_diag *d)
{
    /* Every optional field set: a patch that fails on this connector fails
     * on every connector, whatever it holds. */
    struct ccf_connector probe = {
        .name = ccf_xstrdup("probe"),
        .description = ccf_xstrdup("probe"),
        .properties =
            ccf_xstrdup("{\"command\":[\"x\"],\"environment\":[],"
                        "\"execution_role_arn\":\"arn:aws:iam::000000000000:role/r\","
                        "\"image_uri\":\"000000000000.dkr.ecr.r.amazonaws.com/r\","
                        "\"job_role_arn\":\"arn:aws:iam::000000000000:role/r\","
                        "\"resource_requirements\":{\"cpu\":1,\"memory\":2048},\"timeout\":1}"),
    };
    int rc = ccf_connector_apply_update(body, &probe, d);

    ccf_connector_clear(&probe);
    return rc;
}
