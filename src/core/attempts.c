/* attempts.c: a job's attempts as the store keeps them (a JSON array in the
 * job's row, times in µs since the epoch, oldest first) and as the API
 * answers them (RFC 3339 times). The store rewrites the array in the same
 * transaction as the job's transition, so the list and the status never
 * disagree. At most CCF_RETRY_ATTEMPTS_MAX entries: small enough to
 * rewrite whole. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/validate.h"

static json_t *load(const char *stored)
{
    json_t *a = stored ? json_loads(stored, 0, NULL) : NULL;

    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

static char *dump(json_t *a)
{
    char *s = json_dumps(a, JSON_COMPACT);

    json_decref(a);
    if (!s)
        abort(); /* only out of memory, and ccf_xmalloc aborts first */
    return s;
}

char *ccf_attempts_begin(const char *stored, int attempt, int64_t at)
{
    json_t *a = load(stored);

    json_array_append_new(a,
                          json_pack("{s:i,s:I}", "attempt", attempt, "started_at", (json_int_t)at));
    return dump(a);
}

/* The latest attempt, if it has not ended yet. */
static json_t *open_attempt(json_t *a)
{
    json_t *last = json_array_get(a, json_array_size(a) - 1);

    return json_is_object(last) && !json_object_get(last, "completed_at") ? last : NULL;
}

bool ccf_attempts_open(const char *stored)
{
    json_t *a = load(stored);
    bool open = open_attempt(a) != NULL;

    json_decref(a);
    return open;
}

char *ccf_attempts_end(const char *stored, int64_t at, bool has_exit_code, int exit_code,
                       const char *reason)
{
    json_t *a = load(stored), *last = open_attempt(a);

    if (last) {
        json_object_set_new(last, "completed_at", json_integer(at));
        if (has_exit_code)
            json_object_set_new(last, "exit_code", json_integer(exit_code));
        if (reason)
            json_object_set_new(last, "reason", json_string(reason));
    }
    return dump(a);
}

bool ccf_attempts_last_exit(const char *stored, int *exit_code)
{
    json_t *a = load(stored);
    json_t *x = json_object_get(json_array_get(a, json_array_size(a) - 1), "exit_code");
    bool has = json_is_integer(x);

    if (has)
        *exit_code = (int)json_integer_value(x);
    json_decref(a);
    return has;
}

json_t *ccf_attempts_json(const char *stored)
{
    static const char *const times[] = {"started_at", "completed_at"};
    json_t *a = load(stored), *item;
    size_t i;

    json_array_foreach(a, i, item)
    {
        for (size_t k = 0; k < 2; k++) {
            json_t *t = json_object_get(item, times[k]);
            if (json_is_integer(t))
                json_object_set_new(item, times[k], ccf_time_json(json_integer_value(t)));
        }
    }
    return a;
}
