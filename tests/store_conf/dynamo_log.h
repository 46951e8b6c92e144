/* dynamo_log.h: what the DynamoDB cases (dynamo_changes.c, dynamo_audit.c,
 * dynamo_only.c) share: a job's item as stored, and a log's records read,
 * aged and its counter drawn at the wire level, by the attribute names an existing table holds, not
 * through seqlog.c, so that a change of the items on the wire fails them.
 * Each call asserts its own success. */
#ifndef CCF_TESTS_STORE_CONF_DYNAMO_LOG_H
#define CCF_TESTS_STORE_CONF_DYNAMO_LOG_H

#include <stdint.h>

#include <jansson.h>

#include "conf.h"

/* t1's job jid of connector cid: its item as stored (a new reference). */
json_t *dyn_job_item(struct conf *f, const char *cid, const char *jid);

/* One log as its items are keyed: table suffix, pk value, meta counter. */
struct dyn_log {
    const char *table;
    const char *pk;
    const char *counter;
};

/* The record's key {pk, seq} (a new reference). */
json_t *dyn_log_key(const struct dyn_log *l, int64_t seq);
/* The record's state ("p", "c", "v"), or "" when there is none. */
void dyn_log_state(struct conf *f, const struct dyn_log *l, int64_t seq, char out[4]);
/* Makes record seq look written minutes ago: its writer is dead. */
void dyn_log_age(struct conf *f, const struct dyn_log *l, int64_t seq);
/* A seq drawn from the counter as a writer does, never put: a gap. */
int64_t dyn_log_draw(struct conf *f, const struct dyn_log *l);
/* A slow writer's pending put at seq (attribute_not_exists(seq)): its
 * result, CCF_ECONFLICT where a record stands. */
int dyn_log_late_put(struct conf *f, const struct dyn_log *l, int64_t seq);

#endif
