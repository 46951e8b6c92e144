/* records.c: the store's values that are the same on every backend: a
 * new connector's state, a webhook's id rule and its clear (store.h), and
 * the data of a scheduled run's event, built once. Must not know about SQL or any backend. */
#include "store/backend_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

void store__connector_made(struct ccf_connector *c, const char *id, int64_t now)
{
    if (id)
        memcpy(c->id, id, sizeof(c->id));
    c->status = CCF_CONNECTOR_AVAILABLE;
    c->active_job_id[0] = '\0';
    c->created_at = c->updated_at = now;
    c->version = 1;
}

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

void store_webhook_clear(struct store_webhook *w)
{
    if (!w)
        return;
    free(w->url);
    free(w->event_types);
    free(w->description);
    memset(w, 0, sizeof(*w));
}

bool store_webhook_id_valid(const char *s)
{
    if (!s || strncmp(s, "wh-", 3) != 0)
        return false;
    for (size_t i = 3; i < STORE_WEBHOOK_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[STORE_WEBHOOK_ID_LEN] == '\0';
}
