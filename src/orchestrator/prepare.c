/* prepare.c: connectors created or updated, told to the executor
 * (executor_prepare) so that a backend that keeps a run definition per
 * connector (batch: its job definition) registers it now, after the
 * store's commit, rather than at the connector's first start. A create or
 * update never waits on it; a failure is logged and left to the submit,
 * which checks again. Only when a configured backend prepares anything,
 * and on one replica (the leader's, as purge). */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "orchestrator/orchestrator_int.h"

#define PREPARE_BATCH    32
#define PREPARE_CONSUMER "orchestrator-connectors"

void orchestrator_prepare_connector(struct orchestrator *o, const struct ccf_tenant *t,
                                    const char *connector_id)
{
    struct ccf_connector c = {0};
    struct ccf_job_spec spec = {0};
    struct executor_spec es = {.connector_id = connector_id};
    int rc;

    /* Gone or unreadable: nothing to prepare (a start would fail anyway). */
    if (!o->executor || store_get_connector(o->cfg.store, t, connector_id, &c) < 0)
        return;
    if (c.properties && ccf_job_spec_decode(c.properties, &spec) == 0) {
        orch__exec_spec(&spec, &es);
        if ((rc = executor_prepare(o->executor, &es)) < 0)
            CCF_LOG_WARN("orchestrator.prepare_failed", CCF_KV_STR("connector_id", c.id),
                         CCF_KV_INT("rc", rc));
    }
    ccf_job_spec_clear(&spec);
    ccf_connector_clear(&c);
}

void orch__prepare_step(struct orchestrator *o)
{
    struct store_connector_change ch[PREPARE_BATCH];
    int64_t upto;
    int n;

    if (!executor_prepares(o->executor) || (o->replica && !atomic_load(&o->leading)))
        return;
    if (!o->prepare_cursor_read) {
        if (store_cursor_get(o->cfg.store, PREPARE_CONSUMER, &o->prepare_cursor) < 0)
            return; /* the next turn asks again */
        o->prepare_cursor_read = true;
    }
    do {
        if ((n = store_read_connector_changes(o->cfg.store, o->prepare_cursor, ch, PREPARE_BATCH,
                                              &upto)) < 0)
            return;
        for (int i = 0; i < n; i++)
            orchestrator_prepare_connector(o, &ch[i].tenant, ch[i].connector_id);
        if (upto == o->prepare_cursor)
            return;
        o->prepare_cursor = upto;
        /* A lost ack only means a harmless repeat (a definition that fits
         * is found, not registered again). */
        store_cursor_set(o->cfg.store, PREPARE_CONSUMER, o->prepare_cursor);
    } while (n == PREPARE_BATCH);
}
