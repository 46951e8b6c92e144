/* ops_events.c: ListEvents, the tenant's event stream: cursors (a page
 * token of scope "events" and no filter, so that one cursor serves every
 * filter), the connector and type filters, and the long poll's request to
 * the transport (api_response.wait_seconds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/log.h"

#define EVENTS_MAX     1000
#define EVENTS_DEFAULT 100
#define WAIT_MAX       20
#define CURSOR_SCOPE   "events"

static const char *const event_types[] = {
    "connector.created", "connector.updated", "connector.deleted", "connector.paused",
    "connector.resumed", "job.started",       "job.running",       "job.retrying",
    "job.stopping",      "job.succeeded",     "job.failed",        "job.stopped",
    "schedule.fired",    "schedule.skipped",  "checkpoint.updated"};

#define NTYPES (sizeof(event_types) / sizeof(event_types[0]))

static bool known_type(const char *s, size_t n)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strlen(event_types[i]) == n && memcmp(event_types[i], s, n) == 0)
            return true;
    return false;
}

int api__event_types(const char *in, char **out, char *bad, size_t bad_size)
{
    size_t len = strlen(in), o = 1;
    const char *p = in;
    char *s;

    /* Each element is at least one known type (>= 10 chars) and a comma:
     * more than all of them (each once) is refused before any work. */
    if (len == 0 || len > NTYPES * 20) {
        snprintf(bad, bad_size, "%s", len ? "(too long)" : "(empty)");
        return CCF_EINVAL;
    }
    s = ccf_xmalloc(len + 3);
    s[0] = ',';
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);

        if (!known_type(p, n)) {
            snprintf(bad, bad_size, "%.*s", n > 40 ? 40 : (int)n, p);
            free(s);
            return CCF_EINVAL;
        }
        memcpy(s + o, p, n);
        o += n;
        s[o++] = ',';
        if (!e)
            break;
        p = e + 1;
    }
    s[o] = '\0';
    *out = s;
    return 0;
}

/* wait_seconds: 0..20, default 0. */
static int wait_param(struct api__call *call, int *out)
{
    const char *v;
    size_t len;

    if (api__query_get(call, "wait_seconds", &v) < 0)
        return CCF_EINVAL;
    *out = 0;
    if (!v)
        return 0;
    len = strlen(v);
    if (len == 0 || len > 2 || strspn(v, "0123456789") != len || atoi(v) > WAIT_MAX) {
        api__fail(call, 400, "wait_seconds must be an integer from 0 to %d", WAIT_MAX);
        return CCF_EINVAL;
    }
    *out = atoi(v);
    return 0;
}

/* connector_id: must name one of the tenant's connectors (404 otherwise). */
static int connector_param(struct api__call *call, const char **out)
{
    struct ccf_connector c;
    int rc;

    if (api__query_get(call, "connector_id", out) < 0)
        return CCF_EINVAL;
    if (!*out)
        return 0;
    if ((rc = store_get_connector(call->api->store, call->tenant, *out, &c)) < 0) {
        api__store_fail(call, rc, "Connector", *out);
        return rc;
    }
    ccf_connector_clear(&c);
    return 0;
}

static void reply_events(struct api__call *call, const struct store_event *ev, size_t n,
                         int64_t next)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api__event_json(&ev[i]));
    api__cursor_reply(call, CURSOR_SCOPE, "events", arr, next);
}

static int read_params(struct api__call *call, struct store_event_query *q, char **types, int *wait)
{
    const char *v;
    char bad[48];

    if (api__max_results(call, EVENTS_MAX, &q->max) < 0)
        return CCF_EINVAL;
    if (!api__query_get(call, "max_results", &v) && !v)
        q->max = EVENTS_DEFAULT;
    if (wait_param(call, wait) < 0 ||
        api__cursor_after(call, CURSOR_SCOPE, "this stream", &q->after) < 0 ||
        api__query_get(call, "types", &v) < 0)
        return CCF_EINVAL;
    if (v && api__event_types(v, types, bad, sizeof(bad)) < 0) {
        api__fail(call, 400, "types: unknown event type %s", bad);
        return CCF_EINVAL;
    }
    q->types = *types;
    return connector_param(call, &q->connector_id);
}

void api__list_events(struct api__call *call)
{
    struct store_event_query q = {0};
    struct store_event *ev = NULL;
    char *types = NULL;
    int64_t next = 0;
    int wait = 0, n;

    if (read_params(call, &q, &types, &wait) < 0)
        goto out;
    ev = ccf_xmalloc(q.max * sizeof(*ev));
    n = store_read_events(call->api->store, call->tenant, &q, ev, &next);
    if (n == CCF_EEXPIRED) {
        api_error_typed(call->resp, 400, "ExpiredCursorException",
                        "The events after this cursor are no longer kept; start again "
                        "without after");
        goto out;
    }
    if (n < 0) {
        api__store_fail(call, n, "Events", "");
        goto out;
    }
    reply_events(call, ev, (size_t)n, next);
    /* Nothing yet: the transport may hold the request and ask again. */
    if (n == 0)
        call->resp->wait_seconds = wait;
    store_events_clear(ev, (size_t)n);
out:
    free(ev);
    free(types);
}
