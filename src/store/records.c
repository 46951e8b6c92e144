/* records.c: what a backend writes the same on every backend, built once:
 * the data of a scheduled run's event. Must not know about SQL or any
 * backend. */
#include "store/backend_int.h"

#include "core/validate.h"

json_t *store__fire_data(const struct store_fire *f, const char *job_id, const char *reason)
{
    json_t *d = json_pack("{s:o}", "due_at", ccf_time_json(f->due * 1000000));

    if (!d)
        return NULL;
    if (job_id)
        json_object_set_new(d, "job_id", json_string(job_id));
    if (reason)
        json_object_set_new(d, "reason", json_string(reason));
    return d;
}
