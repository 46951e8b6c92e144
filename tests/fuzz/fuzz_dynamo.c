/* fuzz_dynamo.c: what the DynamoDB store parses (src/store/dynamodb/): the
 * store url (ddb__parse_url) and the items DynamoDB answers with, as
 * connectors, jobs, webhooks and due runs (ddb__connector_from_item,
 * ddb__job_from_item, ddb__webhook_from_item, ddb__due_from_item), and the
 * change log's records as job changes and as events (ddb__change_from_item,
 * ddb__event_from_item), and the audit log's records (ddb__audit_from_item),
 * since an endpoint is not trusted to be well formed. Input: a first byte
 * choosing the parser, then the url or the item's JSON. Never a crash or a
 * leak; an accepted url has a prefix, a region and an http(s) endpoint; an
 * accepted connector or job has valid ids (and a known status). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "store/dynamodb/ddb_int.h"

static void url(const char *text)
{
    struct store_ddb s;

    memset(&s, 0, sizeof(s));
    if (ddb__parse_url(&s, text) == 0 &&
        (!s.prefix[0] || !s.ep.region[0] || !s.ep.url[0] ||
         (strncmp(s.ep.url, "http://", 7) != 0 && strncmp(s.ep.url, "https://", 8) != 0)))
        abort();
    ddb__url_clear(&s);
}

static void change(json_t *it)
{
    struct store_change ch;

    if (ddb__change_from_item(it, &ch) == 0 &&
        (!ccf_connector_id_valid(ch.connector_id) || !ccf_job_id_valid(ch.job_id) ||
         ch.old_status < -1 || ch.old_status >= CCF_JOB_STATUS_COUNT ||
         (unsigned)ch.new_status >= CCF_JOB_STATUS_COUNT))
        abort();
}

static void event(json_t *it)
{
    struct store_event e;

    if (ddb__event_from_item(it, &e) == 0) {
        if (!e.detail || strlen(e.type) >= sizeof(e.type))
            abort();
        store_events_clear(&e, 1);
    }
}

static void audit(json_t *it)
{
    struct store_audit r;

    if (ddb__audit_from_item(it, &r) == 0 &&
        (r.seq <= 0 || r.status < 100 || r.status > 599 || !r.tenant.region[0] ||
         strlen(r.access_key_id) >= sizeof(r.access_key_id) ||
         strlen(r.operation) >= sizeof(r.operation)))
        abort();
}

static void item(const char *text, size_t len, int kind)
{
    json_t *it = json_loadb(text, len, 0, NULL);
    struct ccf_connector c;
    struct ccf_job j;
    struct store_webhook w;
    struct store_due d;
    int64_t version;

    if (!it)
        return;
    if (kind == 1 && ddb__connector_from_item(it, &c) == 0) {
        if (!ccf_connector_id_valid(c.id) ||
            (c.active_job_id[0] && !ccf_job_id_valid(c.active_job_id)) || !c.name || !c.properties)
            abort();
        ccf_connector_clear(&c);
    } else if (kind == 2 && ddb__job_from_item(it, &j, &version) == 0) {
        if (!ccf_job_id_valid(j.id) || !ccf_connector_id_valid(j.connector_id) ||
            (unsigned)j.status >= CCF_JOB_STATUS_COUNT)
            abort();
        ccf_job_clear(&j);
    } else if (kind == 3) {
        change(it);
    } else if (kind == 4) {
        event(it);
    } else if (kind == 5 && ddb__webhook_from_item(it, &w) == 0) {
        if (!store_webhook_id_valid(w.id) || strlen(w.secret) != STORE_WEBHOOK_SECRET_LEN || !w.url)
            abort();
        store_webhook_clear(&w);
    } else if (kind == 6 && ddb__due_from_item(it, &d) == 0) {
        if (!ccf_connector_id_valid(d.connector_id) || !d.schedule)
            abort();
        store_due_clear(&d, 1);
    } else if (kind == 7) {
        audit(it);
    }
    json_decref(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;

    if (size < 1 || size > 16384)
        return 0;
    text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 8) { /* 0 url; 1..7 the item kinds above */
    case 0:
        url(text);
        break;
    default:
        item(text, size - 1, data[0] % 8);
        break;
    }
    free(text);
    return 0;
}
