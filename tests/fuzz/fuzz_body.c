/* fuzz_body.c: the request-body decoder (ccf_json_parse_object) and every
 * operation's validator, fed the same bytes, with what each promises
 * checked on what it accepts: a created or updated connector validates
 * again to itself (defaults and unknown fields settled once), a merge patch
 * applied twice is applied once, batches come back sorted and unique
 * within their limits, environments round-trip. Input: a request body. */
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "harness.h"

/* Connectors an update is applied to: every optional field set, and the
 * fewest fields a connector can have. */
static const char *const bases[] = {
    "{\"command\":[\"x\"],\"environment\":[{\"name\":\"A\",\"value\":\"1\"}],"
    "\"execution_role_arn\":\"arn:aws:iam::000000000000:role/r\","
    "\"image_uri\":\"000000000000.dkr.ecr.r.amazonaws.com/r\","
    "\"job_role_arn\":\"arn:aws:iam::000000000000:role/r\","
    "\"resource_requirements\":{\"cpu\":1.5,\"memory\":4096},\"timeout\":60}",
    "{\"command\":[\"/bin/true\"],\"resource_requirements\":{\"cpu\":1,\"memory\":2048},"
    "\"timeout\":3600}",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_env_get(); /* quiets the log */
    return 0;
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A connector as a create body: validating it again changes nothing. */
static void check_fixed_point(const struct ccf_connector *c)
{
    struct ccf_connector again = {0};
    struct ccf_diag d = {{0}};
    json_t *body = json_object(), *props = json_loads(c->properties, 0, NULL);

    FUZZ_CHECK(props != NULL, "properties are not JSON: %s", c->properties);
    json_object_set_new(body, "name", json_string(c->name));
    if (c->description)
        json_object_set_new(body, "description", json_string(c->description));
    json_object_set_new(body, "container_properties", props);
    FUZZ_CHECK(ccf_connector_from_create(body, &again, &d) == 0,
               "a validated connector fails validation: %s (%s)", d.msg, c->properties);
    FUZZ_CHECK(same(again.name, c->name) && same(again.description, c->description) &&
                   same(again.properties, c->properties),
               "validation is not a fixed point: %s -> %s", c->properties, again.properties);
    ccf_connector_clear(&again);
    json_decref(body);
}

static void check_create(const json_t *body)
{
    struct ccf_connector c = {0};
    struct ccf_diag d = {{0}};

    if (ccf_connector_from_create(body, &c, &d) == 0) {
        check_fixed_point(&c);
    } else {
        FUZZ_CHECK(d.msg[0] != '\0', "a 400 without a message");
        FUZZ_CHECK(!c.name && !c.properties, "output set on failure");
    }
    ccf_connector_clear(&c);
}

static void check_update(const json_t *body)
{
    struct ccf_diag d = {{0}};
    bool checked = ccf_connector_check_update(body, &d) == 0;

    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        struct ccf_connector c = {.name = ccf_xstrdup("base"),
                                  .description = i ? NULL : ccf_xstrdup("a base"),
                                  .properties = ccf_xstrdup(bases[i])};
        char *once;
        int rc = ccf_connector_apply_update(body, &c, &d);

        /* check_update's probe has every field: what fails there fails anywhere. */
        FUZZ_CHECK(rc != 0 || checked, "update refused by check_update but applied to base %zu", i);
        if (rc == 0) {
            check_fixed_point(&c);
            once = ccf_xstrdup(c.properties);
            FUZZ_CHECK(ccf_connector_apply_update(body, &c, &d) == 0,
                       "a patch applies once but not twice: %s", d.msg);
            FUZZ_CHECK(strcmp(once, c.properties) == 0, "merge patch is not idempotent");
            free(once);
        }
        ccf_connector_clear(&c);
    }
}

static void check_start(const json_t *body)
{
    struct ccf_diag d = {{0}};
    char *env = NULL, *env2 = NULL;
    json_t *arr, *again;

    if (ccf_job_start_from_json(body, &env, &d) < 0)
        return;
    if (env) {
        arr = json_loads(env, 0, NULL);
        FUZZ_CHECK(json_is_array(arr) && json_array_size(arr) >= 1 &&
                       json_array_size(arr) <= CCF_ENV_MAX,
                   "environment %s", env);
        again = json_pack("{s:o}", "environment", arr);
        FUZZ_CHECK(ccf_job_start_from_json(again, &env2, &d) == 0 && same(env, env2),
                   "environment does not round-trip: %s", env);
        json_decref(again);
    }
    free(env2);
    free(env);
}

static void check_documents(const json_t *body)
{
    struct ccf_diag d = {{0}};
    struct ccf_document *docs = NULL;
    const char **ids = NULL;
    size_t n = 0;

    if (ccf_documents_from_put(body, &docs, &n, &d) == 0) {
        FUZZ_CHECK(n >= 1 && n <= CCF_BATCH_MAX, "%zu documents", n);
        for (size_t i = 0; i < n; i++) {
            size_t cl = strlen(docs[i].checksum);
            FUZZ_CHECK(i == 0 || strcmp(docs[i - 1].id, docs[i].id) < 0, "unsorted or repeated");
            FUZZ_CHECK(!ccf_utf8_has_control(docs[i].id, strlen(docs[i].id)), "control char");
            FUZZ_CHECK(cl >= CCF_CHECKSUM_MIN && cl <= CCF_CHECKSUM_MAX, "checksum of %zu", cl);
        }
        free(docs);
    }
    if (ccf_documents_from_delete(body, &ids, &n, &d) == 0) {
        FUZZ_CHECK(n >= 1 && n <= CCF_BATCH_MAX, "%zu ids", n);
        for (size_t i = 1; i < n; i++)
            FUZZ_CHECK(strcmp(ids[i - 1], ids[i]) < 0, "ids unsorted or repeated");
        free(ids);
    }
}

static void check_checkpoint(const json_t *body)
{
    struct ccf_diag d = {{0}};
    const char *data;
    size_t len;

    if (ccf_checkpoint_from_put(body, &data, &len, &d) == 0)
        FUZZ_CHECK(len >= 1 && len <= CCF_CHECKPOINT_MAX, "checkpoint of %zu bytes", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ccf_diag d = {{0}};
    json_t *body = ccf_json_parse_object((const char *)data, size, &d);

    if (!body) {
        FUZZ_CHECK(d.msg[0] != '\0', "a malformed body without a message");
        return 0;
    }
    check_create(body);
    check_update(body);
    check_start(body);
    check_documents(body);
    check_checkpoint(body);
    json_decref(body);
    return 0;
}
