/* schedules.c: the scheduler's side of the DynamoDB backend: the queue of
 * due runs and the handling of one.
 *
 * The queue is the connectors table's global index by_next_run: hash key
 * sched (one value, DDB__SCHED_KEY, on every connector item), range key
 * next_run_at, so that the earliest runs of all tenants are one Query
 * ("next_run_at BETWEEN 1 AND until": 0 means none). A global index is
 * read eventually consistent: a run may show a little late, or once more
 * after it moved; fire_schedule's condition on the connector's item (the
 * next_run_at and schedule the caller read) makes the latter a conflict,
 * never a second run.
 *
 * A fired run that starts a job moves next_run_at in the reservation's
 * own write (ddb__reserve_connector with the fire): one single-item write
 * is the run handled, and recovery finishes the job's item if the process
 * dies after it (jobs.c). A skipped run is one conditional update. The
 * schedule.fired/skipped events go to the change log after that write. */
#include "store/dynamodb/ddb_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

#define DUE_MAX 1000 /* connectors read by one due query at most */

/* One Query of the index: next_run_at in 1..until, earliest first. */
static int query_due(struct store *s, int64_t until, size_t max, json_t **ans, const char *op)
{
    char table[DDB__NAME_MAX];

    ddb__table(s, DDB__T_CONNECTORS, table);
    return ddb__call(s, "Query",
                     json_pack("{s:s,s:s,s:s,s:{s:o,s:o,s:o},s:I,s:b}", "TableName", table,
                               "IndexName", "by_next_run", "KeyConditionExpression",
                               "sched = :s AND next_run_at BETWEEN :one AND :until",
                               "ExpressionAttributeValues", ":s", ddb__s_val(DDB__SCHED_KEY),
                               ":one", ddb__n_val(1), ":until", ddb__n_val(until), "Limit",
                               (json_int_t)max, "ScanIndexForward", 1),
                     ans, op);
}

int store_ddb__schedule_head(struct store *s, int64_t *out)
{
    json_t *ans, *it;
    int rc, bad = 0;

    if ((rc = query_due(s, INT64_MAX, 1, &ans, "schedule_head")) < 0)
        return rc;
    it = json_array_get(json_object_get(ans, "Items"), 0);
    *out = it ? ddb__get_n(it, "next_run_at", &bad) : 0;
    json_decref(ans);
    if (bad) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("item", "connector's next_run_at"));
        return CCF_EIO;
    }
    return 0;
}

/* The tenant of a connector item's pk ("REGION#ACCOUNT"). */
static int tenant_of(const char *pk, struct ccf_tenant *t)
{
    char region[CCF_REGION_MAX + 1];
    const char *hash = pk ? strchr(pk, '#') : NULL;

    if (!hash || (size_t)(hash - pk) > CCF_REGION_MAX)
        return CCF_EIO;
    memcpy(region, pk, (size_t)(hash - pk));
    region[hash - pk] = '\0';
    return ccf_tenant_init(t, region, hash + 1) < 0 ? CCF_EIO : 0;
}

int ddb__due_from_item(json_t *it, struct store_due *d)
{
    const char *id = ddb__get_s(it, "id"), *sched = ddb__get_s(it, "schedule");
    int bad = 0;

    memset(d, 0, sizeof(*d));
    if (!id || !ccf_connector_id_valid(id) || !sched ||
        tenant_of(ddb__get_s(it, "pk"), &d->tenant) < 0)
        bad = 1;
    d->next_run_at = ddb__get_n(it, "next_run_at", &bad);
    d->schedule_anchor = ddb__get_n(it, "schedule_anchor", &bad);
    if (bad) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("backend", "dynamodb"),
                      CCF_KV_STR("connector_id", id ? id : ""), CCF_KV_STR("column", "schedule"));
        return CCF_EIO;
    }
    memcpy(d->connector_id, id, strlen(id) + 1);
    d->schedule = ccf_xstrdup(sched);
    return 0;
}

int store_ddb__due_schedules(struct store *s, int64_t until, struct store_due *out, size_t max)
{
    json_t *ans, *it;
    size_t i, n = 0;
    int rc;

    if (max == 0 || until < 1)
        return 0;
    if ((rc = query_due(s, until, max < DUE_MAX ? max : DUE_MAX, &ans, "due_schedules")) < 0)
        return rc;
    json_array_foreach(json_object_get(ans, "Items"), i, it)
    {
        if (n == max)
            break;
        if ((rc = ddb__due_from_item(it, &out[n])) < 0)
            break;
        n++;
    }
    json_decref(ans);
    if (rc < 0) {
        store_due_clear(out, n);
        return rc;
    }
    return (int)n;
}

/* next_run_at due -> next, only while the connector is as the caller read
 * it; the version moves, so that an update computed from an older read is
 * refused and merged again. */
static int advance(struct store *s, const struct store_fire *f, const char *op)
{
    char pk[STORE__TENANT_KEY_MAX], table[DDB__NAME_MAX];
    struct ccf_connector c;
    int rc;

    snprintf(pk, sizeof(pk), "%s#%s", f->tenant->region, f->tenant->account_id);
    ddb__table(s, DDB__T_CONNECTORS, table);
    rc = ddb__call(
        s, "UpdateItem",
        json_pack("{s:s,s:{s:o,s:o},s:s,s:s,s:{s:o,s:o,s:o,s:o}}", "TableName", table, "Key", "pk",
                  ddb__s_val(pk), "id", ddb__s_val(f->connector_id), "UpdateExpression",
                  "SET next_run_at = :next, version = version + :one", "ConditionExpression",
                  "attribute_exists(id) AND next_run_at = :due AND schedule = :sch",
                  "ExpressionAttributeValues", ":next", ddb__n_val(f->next), ":one", ddb__n_val(1),
                  ":due", ddb__n_val(f->due), ":sch", ddb__s_val(f->schedule)),
        NULL, op);
    if (rc != CCF_ECONFLICT)
        return rc;
    /* Gone (404), or no longer as read (409). */
    if ((rc = store_ddb__get_connector(s, f->tenant, f->connector_id, &c)) < 0)
        return rc;
    ccf_connector_clear(&c);
    return CCF_ECONFLICT;
}

/* schedule.fired / schedule.skipped {due_at, job_id?, reason?}, as the
 * other stores write them; here after the fire's write (changes.c: a crash
 * between loses the event, never invents one). */
static void fire_event(struct store *s, const struct store_fire *f, const char *type,
                       const char *job_id, const char *reason)
{
    json_t *d = store__fire_data(f, job_id, reason);

    if (!d)
        return;
    (void)ddb__event_append(s, f->tenant, type, f->connector_id, job_id, d, "fire_schedule");
}

int store_ddb__fire_schedule(struct store *s, const struct store_fire *f, struct ccf_job *j)
{
    const char *op = "fire_schedule";
    int rc;

    if (f->start) {
        if ((rc = ccf_job_id_new(j->id)) < 0)
            return rc;
        rc = ddb__start_job(s, f->tenant, j, f, op);
        if (rc == 0) {
            fire_event(s, f, "schedule.fired", j->id, NULL);
            return 1;
        }
        /* IN_USE or paused: the run is skipped, the queue moves on; or
         * the connector changed since it was read: advance says so. */
        if (rc != CCF_ECONFLICT)
            return rc;
    }
    if ((rc = advance(s, f, op)) < 0)
        return rc;
    fire_event(s, f, "schedule.skipped", NULL,
               f->start ? "the connector is IN_USE" : "not started: missed while ccfd was down");
    return 0;
}
