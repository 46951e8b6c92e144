/* ddb_int.h: private helpers of the DynamoDB backend, for the files of
 * src/store/dynamodb/ only: the handle, one signed request (ddb.c) and the
 * attribute values of items.
 *
 * Layers, each calling only the ones below it: the domain files
 * (connectors.c, ...) -> requests (ddb.c: DynamoDB's JSON protocol) ->
 * the shared AWS request helper (src/aws/aws.h: libcurl, SigV4) and
 * jansson.
 *
 * There are no transactions here (dynalite, the emulator the tests use,
 * has none): every atomic step is one conditional single-item write with a
 * version attribute (docs/DECISIONS.md). Thread rules: each thread keeps
 * one connection of its own (ddb.c); the handle's fields are read-only
 * after open. */
#ifndef CCF_STORE_DDB_INT_H
#define CCF_STORE_DDB_INT_H

#include <stdint.h>

#include <jansson.h>

#include "aws/aws.h"
#include "core/histo.h"
#include "store/backend_int.h"
#include "store/store.h"

/* Table names are PREFIX + one of these. */
#define DDB__T_META        "-meta"
#define DDB__T_CONNECTORS  "-connectors"
#define DDB__T_JOBS        "-jobs"
#define DDB__T_DOCUMENTS   "-documents"
#define DDB__T_CHECKPOINTS "-checkpoints"
#define DDB__T_CHANGES     "-changes"    /* changes.c: the change log */
#define DDB__T_TOKENS      "-tokens"     /* tokens.c */
#define DDB__T_WEBHOOKS    "-webhooks"   /* webhooks.c */
#define DDB__T_DELIVERIES  "-deliveries" /* webhooks.c */
#define DDB__T_AUDIT       "-audit"      /* audit.c */

/* The one hash key of the connectors' index by_next_run (schedules.c). */
#define DDB__SCHED_KEY "all"
/* The connectors' sparse global index of the IN_USE ones (in_use.c): hash
 * `in_use` (this one value, present only while IN_USE), range
 * `active_job_id`, keys only. */
#define DDB__IN_USE_INDEX "in_use"
#define DDB__IN_USE_KEY   "u"

#define DDB__PREFIX_MAX 200
#define DDB__NAME_MAX   (DDB__PREFIX_MAX + 16)

struct store_ddb {
    struct store base; /* first: the dispatcher's part (backend_int.h) */
    char prefix[DDB__PREFIX_MAX + 1];
    /* url (the url's endpoint=, else https://dynamodb.REGION.amazonaws.com),
     * service "dynamodb", region, the environment's keys (never logged) */
    struct aws_endpoint ep;
    int64_t cp_history;
    /* tables=existing: the deployment made the tables (deploy/aws), so the
     * open neither describes nor creates them: ten DescribeTable round
     * trips less in a Lambda cold start */
    bool tables_existing;
    struct ccf_histo commit_us;
    struct ccf_histo per_commit;
};

static inline struct store_ddb *ddb__s(struct store *s)
{
    return (struct store_ddb *)s;
}

/* The url's parts into s (prefix, ep's url, service, region and
 * tables_existing); CCF_EINVAL when it is not
 * dynamodb://PREFIX?region=R[&endpoint=URL][&tables=existing|ensure] (an
 * endpoint longer than AWS_URL_MAX included). ddb__url_clear forgets the
 * endpoint (nothing to free any more). */
int ddb__parse_url(struct store_ddb *s, const char *url);
void ddb__url_clear(struct store_ddb *s);
/* Items as DynamoDB answers them, decoded strictly (a malformed one is
 * CCF_EIO, logged): the endpoint is not trusted to be well formed. */
int ddb__connector_from_item(json_t *it, struct ccf_connector *c);
int ddb__job_from_item(json_t *it, struct ccf_job *j, int64_t *version);

/* PREFIX + suffix into out. */
void ddb__table(const struct store *s, const char *suffix, char out[DDB__NAME_MAX]);

/* One call of DynamoDB's API `action` (e.g. "PutItem") with body `req`
 * (taken: decref'd here). On success *resp (may be NULL to drop it) is the
 * answer. Errors: CCF_ECONFLICT for a ConditionalCheckFailedException,
 * CCF_ENOTFOUND for ResourceNotFoundException, CCF_EUNAVAIL when the
 * service is unreachable, throttles or fails (5xx), CCF_EIO for anything
 * else; each logged with op, except the first two (the caller's to judge). */
int ddb__call(struct store *s, const char *action, json_t *req, json_t **resp, const char *op);

/* Every page of a Query or Scan (call: "Query" or "Scan") of req (taken),
 * in order: req is sent again for each next page with its
 * ExclusiveStartKey replaced by the answer's LastEvaluatedKey (an
 * ExclusiveStartKey in req starts the first page there). visit sees each
 * answer (borrowed) and req, which it may change for the next page (a
 * Limit); it returns 0 for the next page, DDB__STOP to stop, or an error.
 * 0 once no page is left or visit stopped; else the first error, ddb__call's
 * (logged as it says, with op) or visit's. ddb__each_item: visit sees each
 * item of Items in turn, and its DDB__STOP or error ends every page. */
#define DDB__STOP 1
typedef int (*ddb__page_fn)(void *ctx, json_t *ans, json_t *req);
typedef int (*ddb__item_fn)(void *ctx, json_t *item);
int ddb__each_page(struct store *s, const char *call, json_t *req, ddb__page_fn visit, void *ctx,
                   const char *op);
int ddb__each_item(struct store *s, const char *call, json_t *req, ddb__item_fn visit, void *ctx,
                   const char *op);

/* Attribute values: {"S": v}, {"N": "v"}, {"BOOL": v}. */
json_t *ddb__s_val(const char *v);
json_t *ddb__n_val(int64_t v);
/* An item's attributes; a missing or mistyped one: NULL / 0 / false, and
 * *bad set (when bad is not NULL). */
const char *ddb__get_s(json_t *item, const char *name);
int64_t ddb__get_n(json_t *item, const char *name, int *bad);
bool ddb__get_bool(json_t *item, const char *name);

/* "REGION#ACCOUNT#CONNECTOR_ID": a job's hash key (docs/AWS.md). */
#define DDB__JOB_PK_MAX (STORE__TENANT_KEY_MAX + CCF_CONNECTOR_ID_LEN + 2)

/* connectors.c: the job's side of a connector. Reserve: AVAILABLE and not
 * paused -> IN_USE naming j (with what recovery needs to write j, and in
 * the index in_use); 404 or 409. Release: IN_USE -> AVAILABLE only while it
 * names job_id (0 when it does not: nothing to do), out of the index in the
 * same write. */
int ddb__reserve_connector(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                           const struct store_fire *f, const char *op);
/* Writes connector c (id, times, version set) unless its id exists
 * (CCF_ECONFLICT). With f, the reservation is also the scheduled run's:
 * only while next_run_at and schedule are f's, and it moves next_run_at. */
int ddb__put_connector(struct store *s, const struct ccf_tenant *t, const struct ccf_connector *c,
                       const char *op);
int ddb__release_connector(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                           const char *job_id, const char *op);

/* in_use.c. At open: every IN_USE connector whose job item is missing gets
 * it (a start that died half-way, finished), whose job has ended is
 * released; found by a Query of the index in_use, or, with ensured (the
 * open made or checked the tables) while the meta item in_use_index does
 * not yet say the index holds every IN_USE connector, by one Scan that
 * also puts each in it. A missing index: CCF_EIO, logged naming it. */
int ddb__recover(struct store *s, bool ensured);
/* tables=ensure: the index in_use added to a connectors table made before
 * it (UpdateTable), and waited for until ACTIVE; CCF_EIO, logged, when the
 * endpoint accepts the update but does not add it (dynalite). */
int ddb__ensure_in_use_index(struct store *s);

/* jobs.c */
void ddb__job_pk(const struct ccf_tenant *t, const char *connector_id, char out[DDB__JOB_PK_MAX]);
json_t *ddb__job_item(const struct ccf_tenant *t, const struct ccf_job *j, int64_t version);
int ddb__put_new_job(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                     const char *op);
int ddb__load_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                  const char *job_id, struct ccf_job *out, const char *op);
/* The delete's cascade: every item under the connector's key in the
 * jobs, documents and checkpoints tables. */
int ddb__delete_all(struct store *s, const char *suffix, const char *pk, const char *rk);
int ddb__delete_under(struct store *s, const struct ccf_tenant *t, const char *connector_id);
/* The one start path: j (store__job_init, then its id) reserved and
 * written; f: a scheduled run's (NULL: none). */
int ddb__start_job(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                   const struct store_fire *f, const char *op);
int store_ddb__start_job(struct store *s, const struct ccf_tenant *t, struct ccf_job *j);
int store_ddb__get_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                       const char *job_id, struct ccf_job *out);
int store_ddb__list_jobs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const struct store__job_page *p, store_job_fn visit, void *ctx,
                         char **next);
int store_ddb__transition_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                              const char *job_id, const struct store_transition *tr,
                              struct ccf_job *out);
int store_ddb__set_job_status_reason(struct store *s, const struct ccf_tenant *t,
                                     const char *connector_id, const char *job_id,
                                     const char *reason);

/* tokens.c: a client token's item, claimed before its resource is made
 * (the file's comment says how). kind: what the token makes. */
enum { DDB__TOKEN_CREATE = 0, DDB__TOKEN_START = 1, DDB__TOKEN_WEBHOOK = 2 };
struct ddb__tkey {
    char pk[STORE__TENANT_KEY_MAX + CCF_CONNECTOR_ID_LEN + 16];
    const struct store_token *tok;
    int64_t now; /* tok->now, or now */
};
/* tok: as the dispatcher checked it (backend_int.h); now 0 reads the clock. */
void ddb__tkey_init(struct ddb__tkey *k, const struct ccf_tenant *t, int kind, const char *scope,
                    const struct store_token *tok);
/* 0: claimed for id; 1: a live token with the same body names *id (*done:
 * its resource was made); CCF_ETOKEN: live with another body. */
int ddb__token_claim(struct store *s, const struct ddb__tkey *k, char *id, size_t n, bool *done,
                     const char *op);
/* Marks the token's resource made; drops a pending claim whose make failed. */
void ddb__token_done(struct store *s, const struct ddb__tkey *k, const char *id, const char *op);
void ddb__token_drop(struct store *s, const struct ddb__tkey *k, const char *id, const char *op);
int ddb__delete_tokens_under(struct store *s, const struct ccf_tenant *t, const char *connector_id);
int store_ddb__create_connector_token(struct store *s, const struct ccf_tenant *t,
                                      struct ccf_connector *c, const struct store_token *tok);
int store_ddb__start_job_token(struct store *s, const struct ccf_tenant *t, struct ccf_job *j,
                               const struct store_token *tok, struct ccf_job *out);
int store_ddb__purge_tokens(struct store *s, int64_t before);

/* documents.c */
int store_ddb__put_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                             const struct ccf_document *docs, size_t n);
int store_ddb__delete_documents(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *const *ids, size_t n);
int store_ddb__list_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                              const struct store_page *p, store_document_fn visit, void *ctx,
                              char **next);

/* Items decoded strictly, as ddb__connector_from_item (fuzz_dynamo.c):
 * a webhook's slot item, and a connector as the due queue reads it. */
int ddb__webhook_from_item(json_t *it, struct store_webhook *w);
int ddb__due_from_item(json_t *it, struct store_due *d);

/* schedules.c */
int store_ddb__schedule_head(struct store *s, int64_t *out);
int store_ddb__due_schedules(struct store *s, int64_t until, struct store_due *out, size_t max);
int store_ddb__fire_schedule(struct store *s, const struct store_fire *f, struct ccf_job *j);

/* webhooks.c */
int store_ddb__create_webhook(struct store *s, const struct ccf_tenant *t, struct store_webhook *w,
                              const struct store_token *tok);
int store_ddb__get_webhook(struct store *s, const struct ccf_tenant *t, const char *id,
                           struct store_webhook *out);
int store_ddb__list_webhooks(struct store *s, const struct ccf_tenant *t,
                             const struct store__keyset *p, store_webhook_fn visit, void *ctx,
                             char **next);
int store_ddb__delete_webhook(struct store *s, const struct ccf_tenant *t, const char *id);
int store_ddb__all_webhooks(struct store *s, store_webhook_fn visit, void *ctx);
int store_ddb__webhook_head(struct store *s, const struct store_webhook *w, struct store_event *ev,
                            struct store_delivery *d);
int store_ddb__webhook_record(struct store *s, const char *id, const struct store_delivery *d);
int store_ddb__list_deliveries(struct store *s, const struct ccf_tenant *t, const char *id,
                               const struct store_page *p, store_delivery_fn visit, void *ctx,
                               char **next);

/* documents.c, for docstats.c: CCF_EINVAL when an id repeats; whether the
 * connector exists (0 or CCF_ENOTFOUND); the listing, without the
 * documents whose last_job is not_job when it is non-NULL (p checked). */
int ddb__no_duplicates(const struct ccf_document *docs, size_t n);
int ddb__connector_exists(struct store *s, const struct ccf_tenant *t, const char *connector_id);
int ddb__list_docs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                   const char *not_job, const struct store_page *p, store_document_fn visit,
                   void *ctx, char **next);

/* docstats.c: adds n to job_id's statistics (CCF_ENOTFOUND: no such job). */
int ddb__job_count(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                   const char *job_id, const struct ccf_job_stats *n, const char *op);
int store_ddb__put_documents_by(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *job_id,
                                const struct ccf_document *docs, size_t n);
int store_ddb__delete_documents_by(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const char *job_id,
                                   const char *const *ids, size_t n);
int store_ddb__list_documents_not_seen(struct store *s, const struct ccf_tenant *t,
                                       const char *connector_id, const char *job_id,
                                       const struct store_page *p, store_document_fn visit,
                                       void *ctx, char **next);

/* checkpoints.c */
/* A put's chunks and its head's switch, nothing after (tests: a put that
 * dies right after its switch leaves this). */
int ddb__checkpoint_switch(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                           const char *data, size_t len, int64_t *version);
int store_ddb__put_checkpoint_if(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, const char *job_id, const char *data,
                                 size_t len, int64_t expect, int64_t *version);
int store_ddb__get_checkpoint_version(struct store *s, const struct ccf_tenant *t,
                                      const char *connector_id, int64_t version,
                                      struct ccf_checkpoint *out);
int store_ddb__list_checkpoint_versions(struct store *s, const struct ccf_tenant *t,
                                        const char *connector_id,
                                        const struct store__version_page *p,
                                        store_cp_version_fn visit, void *ctx, char **next);
int store_ddb__delete_checkpoint(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id);

/* connectors.c */
int store_ddb__create_connector(struct store *s, const struct ccf_tenant *t,
                                struct ccf_connector *c);
int store_ddb__get_connector(struct store *s, const struct ccf_tenant *t, const char *id,
                             struct ccf_connector *out);
int store_ddb__list_connectors(struct store *s, const struct ccf_tenant *t,
                               const struct store__keyset *p, store_connector_fn visit, void *ctx,
                               char **next);
int store_ddb__update_connector(struct store *s, const struct ccf_tenant *t,
                                const struct ccf_connector *c, int64_t expected_version);
int store_ddb__delete_connector(struct store *s, const struct ccf_tenant *t, const char *id);
int store_ddb__set_paused(struct store *s, const struct ccf_tenant *t,
                          const struct ccf_connector *c, int64_t expected_version);

/* ---- the change log, events, retention (changes.c, events.c,
 * retention.c) ---- */

/* A job write with its change record (changes.c's steps 1-4): j as it
 * will be, at version version_read + 1 (version_read 0: a new job, written
 * only if absent; else only while the item is at version_read), its seqs
 * set the old one (NS values, or NULL) plus the record's seq. 0 written
 * and committed; CCF_ECONFLICT the condition failed (the record voided);
 * another error: *undoable says whether nothing was written (else the
 * record is left pending, and a reader settles it later). */
int ddb__job_write(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                   int old_status, int64_t version_read, json_t *seqs, bool *undoable,
                   const char *op);
/* ddb__job_write's steps, apart (tests simulate a writer dying between
 * them): 1-2 the record pending (*seq, *item: the job item's text, the
 * caller frees it); 3 the job's conditional write; 4 the record settled
 * (CCF_ECONFLICT when it was no longer pending). */
int ddb__change_pending(struct store *s, const struct ccf_tenant *t, const struct ccf_job *j,
                        int old_status, int64_t version_read, json_t *seqs, int64_t *seq,
                        char **item, const char *op);
int ddb__change_job_put(struct store *s, const char *item, int64_t version_read, const char *op);
int ddb__change_settle(struct store *s, int64_t seq, bool committed, const char *op);
/* An event that is not a job change, written committed after its effect
 * (detail is taken); a failure loses the event, logged. */
int ddb__event_append(struct store *s, const struct ccf_tenant *t, const char *type,
                      const char *connector_id, const char *job_id, json_t *detail, const char *op);
int ddb__event_connector(struct store *s, const struct ccf_tenant *t, const char *type,
                         const struct ccf_connector *c, const char *op);
/* The log's horizon (every seq up to it settled), moved as far as it goes
 * now; ddb__settle_now also waits out writers in flight. */
int ddb__horizon(struct store *s, int64_t *h);
int ddb__settle_now(struct store *s);
/* The change log as seqlog.h describes it (changes.c), for events.c. */
struct ddb__seqlog;
extern const struct ddb__seqlog ddb__changes_log;
/* A change record as a job change (changes.c) or an event (events.c),
 * decoded strictly (CCF_EIO, logged): fuzzed by fuzz_dynamo. An event's
 * detail is owned (store_events_clear). */
int ddb__change_from_item(json_t *rec, struct store_change *out);
int ddb__event_from_item(json_t *rec, struct store_event *e);
/* The committed records of the change log after after_seq up to the
 * horizon h that pass filter (a FilterExpression over a record; values
 * and names, both taken, its :placeholders and #names, names may be
 * NULL), each decoded by decode into the next of max (> 0) elements of size
 * bytes at out: how many, or the error (changes.c; conn_changes.c). */
typedef int (*ddb__change_decode_fn)(json_t *rec, void *elem);
int ddb__changes_query(struct store *s, int64_t after_seq, int64_t h, const char *filter,
                       json_t *values, json_t *names, ddb__change_decode_fn decode, void *out,
                       size_t size, size_t max, const char *op);
/* The sparse index attributes of job j's item (retention.c). */
void ddb__job_index_attrs(json_t *it, const struct ccf_job *j);
int store_ddb__read_changes(struct store *s, int64_t after_seq, struct store_change *out,
                            size_t max);
int store_ddb__read_connector_changes(struct store *s, int64_t after_seq,
                                      struct store_connector_change *out, size_t max,
                                      int64_t *upto); /* conn_changes.c */
int store_ddb__cursor_get(struct store *s, const char *consumer, int64_t *seq);
int store_ddb__cursor_set(struct store *s, const char *consumer, int64_t seq);
int store_ddb__prune_changes(struct store *s, int64_t upto, int64_t before);
int store_ddb__read_events(struct store *s, const struct ccf_tenant *t,
                           const struct store_event_query *q, struct store_event *out,
                           int64_t *next);
int store_ddb__unfinished_jobs(struct store *s, struct store_job_ref **out, size_t *n);
int store_ddb__count_unfinished_jobs(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT]);
int store_ddb__purge_jobs(struct store *s, int64_t ended_before, struct store_job_ref *out,
                          size_t max);

/* ---- the audit log (audit.c) ---- */

/* Called by ddb__call before each single-item write: the first one made
 * by an audited fn on this thread first puts its record pending (an error
 * refuses the write). 0 otherwise. */
int ddb__audit_before_write(struct store *s, const char *op);
/* The two halves apart (tests simulate a writer dying between them): a
 * pending record of rec at a fresh *seq; then committed as rec, or void
 * (rec NULL); CCF_ECONFLICT when no longer pending. */
int ddb__audit_put_pending(struct store *s, const struct store_audit *rec, int64_t *seq);
int ddb__audit_settle(struct store *s, int64_t seq, const struct store_audit *rec);
/* A record as read, decoded strictly (CCF_EIO, logged): fuzz_dynamo. */
int ddb__audit_from_item(json_t *it, struct store_audit *r);
int store_ddb__audited_write(struct store *s, int (*fn)(void *ctx, struct store_audit *rec),
                             void *ctx, struct store_audit *rec);
int store_ddb__audit_append(struct store *s, const struct store_audit *recs, size_t n);
int store_ddb__read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                          struct store_audit *out, int64_t *next);
int store_ddb__prune_audit(struct store *s, int64_t before);

#endif
