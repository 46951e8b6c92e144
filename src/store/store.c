/* store.c: the dispatcher. store_open picks a backend by store_config's url
 * (backend_int.h); every other store_* function of store.h is its
 * backend's operation of the same name. The change and event hooks and the
 * token secret are common to every backend, kept here. */
#include "store/backend_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/validate.h"

/* The backend a url names: NULL or "sqlite" is SQLite (at cfg->path);
 * "postgresql://" or "postgres://" (libpq's two URI prefixes) is
 * PostgreSQL; "dynamodb://PREFIX?..." is DynamoDB. */
static const struct store__backend *pick(const char *url)
{
    if (!url || !*url || strcmp(url, "sqlite") == 0)
        return &store__backend_sqlite;
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        return &store__backend_postgres;
    if (strncmp(url, "dynamodb://", 11) == 0)
        return &store__backend_dynamodb;
    return NULL;
}

bool store_url_valid(const char *url)
{
    return pick(url) != NULL;
}

const char *store_backend_name(const struct store *s)
{
    return s->ops->name;
}

int store_open(struct store **out, const struct store_config *cfg)
{
    const struct store__backend *b;

    if (!cfg)
        return CCF_EINVAL;
    if (!(b = pick(cfg->url))) {
        /* Never the url itself in a log line: it may hold a password. */
        CCF_LOG_ERROR(
            "store.bad_config",
            CCF_KV_STR("reason", "store is neither sqlite, a postgresql:// URI nor dynamodb://"));
        return CCF_EINVAL;
    }
    return b->open(out, cfg);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

void store__base_init(struct store *s, const struct store__backend *ops)
{
    s->ops = ops;
    pthread_mutex_init(&s->event_mu, NULL);
}

void store__base_destroy(struct store *s)
{
    pthread_mutex_destroy(&s->event_mu);
    memset(s->secret, 0, sizeof(s->secret));
}

int store__missing(struct store *s, const char *op)
{
    CCF_LOG_ERROR("store.not_implemented", CCF_KV_STR("backend", s->ops->name),
                  CCF_KV_STR("op", op));
    return CCF_EIO;
}

int store_secret(struct store *s, unsigned char out[32])
{
    memcpy(out, s->secret, sizeof(s->secret));
    return 0;
}

bool store_shared(struct store *s)
{
    return s->ops->leader_poll != NULL;
}

int store_leader_poll(struct store *s, int wait_ms, bool *woken)
{
    *woken = false;
    if (!s->ops->leader_poll)
        return 1;
    return s->ops->leader_poll(s, wait_ms, woken);
}

void store_set_change_hook(struct store *s, void (*fn)(void *ctx), void *ctx)
{
    s->hook = fn;
    s->hook_ctx = ctx;
}

void store_set_event_hook(struct store *s, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->event_mu);
    s->event_hook = fn;
    s->event_hook_ctx = ctx;
    pthread_mutex_unlock(&s->event_mu);
}

void store_set_webhook_hook(struct store *s, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->event_mu);
    s->webhook_hook = fn;
    s->webhook_hook_ctx = ctx;
    pthread_mutex_unlock(&s->event_mu);
}

void store__notify(struct store *s, bool jobs)
{
    if (jobs && s->hook)
        s->hook(s->hook_ctx);
    pthread_mutex_lock(&s->event_mu);
    if (s->event_hook)
        s->event_hook(s->event_hook_ctx);
    if (s->webhook_hook)
        s->webhook_hook(s->webhook_hook_ctx);
    pthread_mutex_unlock(&s->event_mu);
}

/* What every backend returns alike. */

void store_events_clear(struct store_event *ev, size_t n)
{
    for (size_t i = 0; ev && i < n; i++) {
        free(ev[i].detail);
        ev[i].detail = NULL;
    }
}

void store_due_clear(struct store_due *d, size_t n)
{
    for (size_t i = 0; d && i < n; i++) {
        free(d[i].schedule);
        d[i].schedule = NULL;
    }
}

/* The operations, each its backend's. */

int store_ping(struct store *s)
{
    if (!s->ops->ping)
        return store__missing(s, "ping");
    return s->ops->ping(s);
}

int store_writable(struct store *s, const char **why)
{
    if (!s->ops->writable)
        return store__missing(s, "writable");
    return s->ops->writable(s, why);
}

void store_get_metrics(struct store *s, struct store_metrics *out)
{
    s->ops->get_metrics(s, out);
}

int store_count_unfinished_jobs(struct store *s, int64_t out[CCF_JOB_STATUS_COUNT])
{
    if (!s->ops->count_unfinished_jobs)
        return store__missing(s, "count_unfinished_jobs");
    return s->ops->count_unfinished_jobs(s, out);
}

int store_create_connector(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c)
{
    if (!s->ops->create_connector)
        return store__missing(s, "create_connector");
    if (!c->name || !c->properties)
        return CCF_EINVAL;
    return s->ops->create_connector(s, t, c);
}

int store_get_connector(struct store *s, const struct ccf_tenant *t, const char *id,
                        struct ccf_connector *out)
{
    if (!s->ops->get_connector)
        return store__missing(s, "get_connector");
    if (!ccf_connector_id_valid(id))
        return CCF_ENOTFOUND;
    return s->ops->get_connector(s, t, id, out);
}

int store_list_connectors(struct store *s, const struct ccf_tenant *t, const struct store_page *p,
                          store_connector_fn visit, void *ctx, char **next)
{
    struct store__keyset k;
    int rc;

    if (!s->ops->list_connectors)
        return store__missing(s, "list_connectors");
    if ((rc = store__keyset_parse(p, ccf_connector_id_valid, -1, &k)) < 0)
        return rc;
    return s->ops->list_connectors(s, t, &k, visit, ctx, next);
}

/* A conditional write of c (update or pause): the backend gets c as it
 * will be written, updated now at version expected_version + 1, and the
 * caller's c gets those two on success. */
static int write_connector(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c,
                           int64_t expected_version,
                           int (*op)(struct store *, const struct ccf_tenant *,
                                     const struct ccf_connector *, int64_t))
{
    struct ccf_connector w = *c; /* shallow */
    int rc;

    w.updated_at = ccf_now_us();
    w.version = expected_version + 1;
    if ((rc = op(s, t, &w, expected_version)) < 0)
        return rc;
    c->updated_at = w.updated_at;
    c->version = w.version;
    return 0;
}

int store_update_connector(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c,
                           int64_t expected_version)
{
    if (!s->ops->update_connector)
        return store__missing(s, "update_connector");
    if (!ccf_connector_id_valid(c->id))
        return CCF_ENOTFOUND;
    if (!c->name || !c->properties)
        return CCF_EINVAL;
    return write_connector(s, t, c, expected_version, s->ops->update_connector);
}

int store_delete_connector(struct store *s, const struct ccf_tenant *t, const char *id)
{
    if (!s->ops->delete_connector)
        return store__missing(s, "delete_connector");
    if (!ccf_connector_id_valid(id))
        return CCF_ENOTFOUND;
    return s->ops->delete_connector(s, t, id);
}

int store_set_paused(struct store *s, const struct ccf_tenant *t, struct ccf_connector *c,
                     int64_t expected_version)
{
    if (!s->ops->set_paused)
        return store__missing(s, "set_paused");
    if (!ccf_connector_id_valid(c->id))
        return CCF_ENOTFOUND;
    return write_connector(s, t, c, expected_version, s->ops->set_paused);
}

int store_schedule_head(struct store *s, int64_t *out)
{
    if (!s->ops->schedule_head)
        return store__missing(s, "schedule_head");
    return s->ops->schedule_head(s, out);
}

int store_due_schedules(struct store *s, int64_t until, struct store_due *out, size_t max)
{
    if (!s->ops->due_schedules)
        return store__missing(s, "due_schedules");
    return s->ops->due_schedules(s, until, out, max);
}

int store_fire_schedule(struct store *s, const struct store_fire *f, struct ccf_job *out)
{
    struct ccf_job j;
    int rc;

    if (!s->ops->fire_schedule)
        return store__missing(s, "fire_schedule");
    if (!ccf_connector_id_valid(f->connector_id) || !f->schedule)
        return CCF_ENOTFOUND;
    store__job_init(&j, f->connector_id, CCF_TRIGGER_SCHEDULE, f->environment);
    if ((rc = s->ops->fire_schedule(s, f, &j)) == 1)
        store__job_give(&j, out);
    return rc;
}

int store_start_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                    const char *environment, struct ccf_job *out)
{
    struct ccf_job j;
    int rc;

    if (!s->ops->start_job)
        return store__missing(s, "start_job");
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    store__job_init(&j, connector_id, CCF_TRIGGER_API, environment);
    if ((rc = s->ops->start_job(s, t, &j)) < 0)
        return rc;
    store__job_give(&j, out);
    return 0;
}

int store_get_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                  const char *job_id, struct ccf_job *out)
{
    if (!s->ops->get_job)
        return store__missing(s, "get_job");
    if (!ccf_connector_id_valid(connector_id) || !ccf_job_id_valid(job_id))
        return CCF_ENOTFOUND;
    return s->ops->get_job(s, t, connector_id, job_id, out);
}

int store_list_jobs(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                    unsigned status_mask, const struct store_page *p, store_job_fn visit, void *ctx,
                    char **next)
{
    struct store__job_page q = {.mask = status_mask ? status_mask : STORE__ALL_STATUSES};

    if (!s->ops->list_jobs)
        return store__missing(s, "list_jobs");
    if ((q.mask & ~STORE__ALL_STATUSES) ||
        store__keyset_parse(p, ccf_job_id_valid, INT64_MAX, &q.k) < 0)
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    return s->ops->list_jobs(s, t, connector_id, &q, visit, ctx, next);
}

int store_transition_job(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const char *job_id, const struct store_transition *tr, struct ccf_job *out)
{
    if (!s->ops->transition_job)
        return store__missing(s, "transition_job");
    if ((unsigned)tr->to >= CCF_JOB_STATUS_COUNT)
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id) || !ccf_job_id_valid(job_id))
        return CCF_ENOTFOUND;
    return s->ops->transition_job(s, t, connector_id, job_id, tr, out);
}

/* A reason past CCF_FAILURE_REASON_MAX is cut at a code point. */
int store_set_job_status_reason(struct store *s, const struct ccf_tenant *t,
                                const char *connector_id, const char *job_id, const char *reason)
{
    char *cut = NULL;
    int rc;

    if (!s->ops->set_job_status_reason)
        return store__missing(s, "set_job_status_reason");
    if (!ccf_connector_id_valid(connector_id) || !ccf_job_id_valid(job_id))
        return CCF_ENOTFOUND;
    if (reason && strlen(reason) > CCF_FAILURE_REASON_MAX)
        reason = cut = ccf_xstrndup(reason, store__utf8_prefix(reason, CCF_FAILURE_REASON_MAX));
    rc = s->ops->set_job_status_reason(s, t, connector_id, job_id, reason);
    free(cut);
    return rc;
}

int store_put_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                        const struct ccf_document *docs, size_t n)
{
    if (!s->ops->put_documents)
        return store__missing(s, "put_documents");
    return s->ops->put_documents(s, t, connector_id, docs, n);
}

int store_delete_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                           const char *const *ids, size_t n)
{
    if (!s->ops->delete_documents)
        return store__missing(s, "delete_documents");
    return s->ops->delete_documents(s, t, connector_id, ids, n);
}

int store_list_documents(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const struct store_page *p, store_document_fn visit, void *ctx,
                         char **next)
{
    if (!s->ops->list_documents)
        return store__missing(s, "list_documents");
    return s->ops->list_documents(s, t, connector_id, p, visit, ctx, next);
}

int store_put_documents_by(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                           const char *job_id, const struct ccf_document *docs, size_t n)
{
    if (!s->ops->put_documents_by)
        return store__missing(s, "put_documents_by");
    return s->ops->put_documents_by(s, t, connector_id, job_id, docs, n);
}

int store_delete_documents_by(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                              const char *job_id, const char *const *ids, size_t n)
{
    if (!s->ops->delete_documents_by)
        return store__missing(s, "delete_documents_by");
    return s->ops->delete_documents_by(s, t, connector_id, job_id, ids, n);
}

int store_list_documents_not_seen(struct store *s, const struct ccf_tenant *t,
                                  const char *connector_id, const char *job_id,
                                  const struct store_page *p, store_document_fn visit, void *ctx,
                                  char **next)
{
    if (!s->ops->list_documents_not_seen)
        return store__missing(s, "list_documents_not_seen");
    return s->ops->list_documents_not_seen(s, t, connector_id, job_id, p, visit, ctx, next);
}

int store_put_checkpoint_by(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const char *job_id, const char *data, size_t len)
{
    return store_put_checkpoint_if(s, t, connector_id, job_id, data, len, STORE_CP_ANY, NULL);
}

int store_put_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         const char *data, size_t len)
{
    return store_put_checkpoint_if(s, t, connector_id, NULL, data, len, STORE_CP_ANY, NULL);
}

int store_get_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                         struct ccf_checkpoint *out)
{
    return store_get_checkpoint_version(s, t, connector_id, 0, out);
}

int store_delete_checkpoint(struct store *s, const struct ccf_tenant *t, const char *connector_id)
{
    if (!s->ops->delete_checkpoint)
        return store__missing(s, "delete_checkpoint");
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    return s->ops->delete_checkpoint(s, t, connector_id);
}

/* The API has held data to CCF_CHECKPOINT_MAX already; the store holds
 * every caller to it (DynamoDB's chunks are sized by it). */
int store_put_checkpoint_if(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                            const char *job_id, const char *data, size_t len, int64_t expect,
                            int64_t *version)
{
    if (!s->ops->put_checkpoint_if)
        return store__missing(s, "put_checkpoint_if");
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if (len > CCF_CHECKPOINT_MAX || expect < STORE_CP_EXISTS ||
        (job_id && !ccf_job_id_valid(job_id)))
        return CCF_EINVAL;
    return s->ops->put_checkpoint_if(s, t, connector_id, job_id, data, len, expect, version);
}

int store_get_checkpoint_version(struct store *s, const struct ccf_tenant *t,
                                 const char *connector_id, int64_t version,
                                 struct ccf_checkpoint *out)
{
    if (!s->ops->get_checkpoint_version)
        return store__missing(s, "get_checkpoint_version");
    if (!ccf_connector_id_valid(connector_id) || version < 0)
        return CCF_ENOTFOUND;
    return s->ops->get_checkpoint_version(s, t, connector_id, version, out);
}

/* Page keys of checkpoint versions are decimal version numbers,
 * 1..INT64_MAX without leading zeros. */
static int version_key_parse(const char *key, int64_t *out)
{
    int64_t v = 0;
    size_t n = key ? strlen(key) : 0;

    if (n == 0 || n > 18 || key[0] == '0' || strspn(key, "0123456789") != n)
        return CCF_EINVAL;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (key[i] - '0');
    *out = v;
    return 0;
}

int store_list_checkpoint_versions(struct store *s, const struct ccf_tenant *t,
                                   const char *connector_id, const struct store_page *p,
                                   store_cp_version_fn visit, void *ctx, char **next)
{
    struct store__version_page q = {.before = INT64_MAX};

    if (!s->ops->list_checkpoint_versions)
        return store__missing(s, "list_checkpoint_versions");
    if (store__page_check(p) < 0 || (p->after && version_key_parse(p->after, &q.before) < 0))
        return CCF_EINVAL;
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    q.limit = p->limit;
    return s->ops->list_checkpoint_versions(s, t, connector_id, &q, visit, ctx, next);
}

/* A client token as store.h has it (1..64 chars, a hash), copied with its
 * time set: the clock unless a test moved it. */
static int token_take(const struct store_token *tok, struct store_token *out)
{
    if (!tok || !tok->token || !tok->hash || !tok->token[0] || strlen(tok->token) > 64)
        return CCF_EINVAL;
    *out = *tok;
    if (!out->now)
        out->now = ccf_now_us();
    return 0;
}

int store_create_connector_token(struct store *s, const struct ccf_tenant *t,
                                 struct ccf_connector *c, const struct store_token *tok)
{
    struct store_token k;

    if (!s->ops->create_connector_token)
        return store__missing(s, "create_connector_token");
    if (!c->name || !c->properties || token_take(tok, &k) < 0)
        return CCF_EINVAL;
    return s->ops->create_connector_token(s, t, c, &k);
}

int store_start_job_token(struct store *s, const struct ccf_tenant *t, const char *connector_id,
                          const char *environment, const struct store_token *tok,
                          struct ccf_job *out)
{
    struct store_token k;
    struct ccf_job j;

    if (!s->ops->start_job_token)
        return store__missing(s, "start_job_token");
    if (!ccf_connector_id_valid(connector_id))
        return CCF_ENOTFOUND;
    if (token_take(tok, &k) < 0)
        return CCF_EINVAL;
    store__job_init(&j, connector_id, CCF_TRIGGER_API, environment);
    return s->ops->start_job_token(s, t, &j, &k, out);
}

int store_purge_tokens(struct store *s, int64_t before)
{
    if (!s->ops->purge_tokens)
        return store__missing(s, "purge_tokens");
    return s->ops->purge_tokens(s, before);
}

int store_read_changes(struct store *s, int64_t after_seq, struct store_change *out, size_t max)
{
    if (!s->ops->read_changes)
        return store__missing(s, "read_changes");
    return s->ops->read_changes(s, after_seq, out, max);
}

int store_read_connector_changes(struct store *s, int64_t after_seq,
                                 struct store_connector_change *out, size_t max, int64_t *upto)
{
    *upto = after_seq;
    if (!s->ops->read_connector_changes)
        return store__missing(s, "read_connector_changes");
    return s->ops->read_connector_changes(s, after_seq, out, max, upto);
}

int store_cursor_get(struct store *s, const char *consumer, int64_t *seq)
{
    if (!s->ops->cursor_get)
        return store__missing(s, "cursor_get");
    return s->ops->cursor_get(s, consumer, seq);
}

int store_cursor_set(struct store *s, const char *consumer, int64_t seq)
{
    if (!s->ops->cursor_set)
        return store__missing(s, "cursor_set");
    return s->ops->cursor_set(s, consumer, seq);
}

int store_unfinished_jobs(struct store *s, struct store_job_ref **out, size_t *n)
{
    if (!s->ops->unfinished_jobs)
        return store__missing(s, "unfinished_jobs");
    return s->ops->unfinished_jobs(s, out, n);
}

int store_replica_heartbeat(struct store *s, const struct store_replica *r)
{
    return s->ops->replica_heartbeat ? s->ops->replica_heartbeat(s, r) : 0;
}

int store_assign_jobs(struct store *s, int64_t live_us, int max)
{
    return s->ops->assign_jobs ? s->ops->assign_jobs(s, live_us, max) : 0;
}

int store_runner_jobs(struct store *s, const char *runner, struct store_job_ref **out, size_t *n)
{
    if (!s->ops->runner_jobs)
        return store_unfinished_jobs(s, out, n); /* one replica runs every job */
    return s->ops->runner_jobs(s, runner, out, n);
}

int store_lost_jobs(struct store *s, int64_t live_us, struct store_job_ref **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return s->ops->lost_jobs ? s->ops->lost_jobs(s, live_us, out, n) : 0;
}

int store_unassign_job(struct store *s, const char *job_id, const char *runner)
{
    return s->ops->unassign_job ? s->ops->unassign_job(s, job_id, runner) : 0;
}

int store_purge_jobs(struct store *s, int64_t ended_before, struct store_job_ref *out, size_t max)
{
    if (!s->ops->purge_jobs)
        return store__missing(s, "purge_jobs");
    return s->ops->purge_jobs(s, ended_before, out, max);
}

int store_prune_changes(struct store *s, int64_t upto, int64_t before)
{
    if (!s->ops->prune_changes)
        return store__missing(s, "prune_changes");
    return s->ops->prune_changes(s, upto, before);
}

int store_read_events(struct store *s, const struct ccf_tenant *t,
                      const struct store_event_query *q, struct store_event *out, int64_t *next)
{
    if (!s->ops->read_events)
        return store__missing(s, "read_events");
    return s->ops->read_events(s, t, q, out, next);
}

int store_audited_write(struct store *s, int (*fn)(void *ctx, struct store_audit *rec), void *ctx,
                        struct store_audit *rec)
{
    if (!s->ops->audited_write)
        return store__missing(s, "audited_write");
    return s->ops->audited_write(s, fn, ctx, rec);
}

int store_audit_append(struct store *s, const struct store_audit *recs, size_t n)
{
    if (!s->ops->audit_append)
        return store__missing(s, "audit_append");
    return s->ops->audit_append(s, recs, n);
}

int store_read_audit(struct store *s, const struct ccf_tenant *t, int64_t after, size_t max,
                     struct store_audit *out, int64_t *next)
{
    if (!s->ops->read_audit)
        return store__missing(s, "read_audit");
    return s->ops->read_audit(s, t, after, max, out, next);
}

int store_prune_audit(struct store *s, int64_t before)
{
    if (!s->ops->prune_audit)
        return store__missing(s, "prune_audit");
    return s->ops->prune_audit(s, before);
}

int store_create_webhook(struct store *s, const struct ccf_tenant *t, struct store_webhook *w,
                         const struct store_token *tok)
{
    struct store_webhook n;
    struct store_token k;
    int rc;

    if (!s->ops->create_webhook)
        return store__missing(s, "create_webhook");
    if (!w->url || (tok && token_take(tok, &k) < 0))
        return CCF_EINVAL;
    n = *w; /* shallow: url, event types and description borrowed */
    n.tenant = *t;
    n.created_at = tok ? k.now : ccf_now_us();
    rc = s->ops->create_webhook(s, t, &n, tok ? &k : NULL);
    if (rc == STORE_TOKEN_NEW) {
        memcpy(w->id, n.id, sizeof(n.id));
        memcpy(w->secret, n.secret, sizeof(n.secret));
        w->tenant = n.tenant;
        w->created_at = n.created_at;
        w->start_seq = w->cursor = n.start_seq;
    } else if (rc == STORE_TOKEN_REPLAY) {
        rc = store__webhook_token_outcome(s, t, w, n.id);
    }
    memset(n.secret, 0, sizeof(n.secret));
    return rc;
}

int store_get_webhook(struct store *s, const struct ccf_tenant *t, const char *id,
                      struct store_webhook *out)
{
    if (!s->ops->get_webhook)
        return store__missing(s, "get_webhook");
    return s->ops->get_webhook(s, t, id, out);
}

int store_list_webhooks(struct store *s, const struct ccf_tenant *t, const struct store_page *p,
                        store_webhook_fn visit, void *ctx, char **next)
{
    struct store__keyset k;
    int rc;

    if (!s->ops->list_webhooks)
        return store__missing(s, "list_webhooks");
    if ((rc = store__keyset_parse(p, store_webhook_id_valid, -1, &k)) < 0)
        return rc;
    return s->ops->list_webhooks(s, t, &k, visit, ctx, next);
}

int store_delete_webhook(struct store *s, const struct ccf_tenant *t, const char *id)
{
    if (!s->ops->delete_webhook)
        return store__missing(s, "delete_webhook");
    return s->ops->delete_webhook(s, t, id);
}

int store_all_webhooks(struct store *s, store_webhook_fn visit, void *ctx)
{
    if (!s->ops->all_webhooks)
        return store__missing(s, "all_webhooks");
    return s->ops->all_webhooks(s, visit, ctx);
}

int store_webhook_head(struct store *s, const struct store_webhook *w, struct store_event *ev,
                       struct store_delivery *d)
{
    if (!s->ops->webhook_head)
        return store__missing(s, "webhook_head");
    return s->ops->webhook_head(s, w, ev, d);
}

int store_webhook_record(struct store *s, const char *id, const struct store_delivery *d)
{
    if (!s->ops->webhook_record)
        return store__missing(s, "webhook_record");
    return s->ops->webhook_record(s, id, d);
}

int store_list_deliveries(struct store *s, const struct ccf_tenant *t, const char *id,
                          const struct store_page *p, store_delivery_fn visit, void *ctx,
                          char **next)
{
    if (!s->ops->list_deliveries)
        return store__missing(s, "list_deliveries");
    return s->ops->list_deliveries(s, t, id, p, visit, ctx, next);
}

/* What replicas share: a NULL operation is a backend of one process, not
 * a missing one (store.h), so it answers quietly. */

int store_append_job_log(struct store *s, const char *job_id, int attempt, int64_t offset,
                         const char *data, size_t len, int64_t cap)
{
    if (!s->ops->append_job_log)
        return 0;
    if (!job_id || !ccf_job_id_valid(job_id) || attempt < 1 || offset < 0 ||
        len > STORE_LOG_CHUNK_MAX || cap < 1)
        return CCF_EINVAL;
    return s->ops->append_job_log(s, job_id, attempt, offset, data, len, cap);
}

int store_job_log_end(struct store *s, const char *job_id, int attempt, int64_t *end)
{
    if (!s->ops->job_log_end)
        return 0;
    if (!job_id || !ccf_job_id_valid(job_id) || attempt < 1)
        return CCF_EINVAL;
    return s->ops->job_log_end(s, job_id, attempt, end);
}

int store_read_job_log(struct store *s, const char *job_id, int attempt, int64_t offset, char *buf,
                       size_t len, int64_t *size, int64_t *dropped)
{
    if (!s->ops->read_job_log)
        return CCF_ENOTFOUND;
    if (!job_id || !ccf_job_id_valid(job_id) || attempt < 1)
        return CCF_EINVAL;
    return s->ops->read_job_log(s, job_id, attempt, offset, buf, len, size, dropped);
}

int store_webhook_ping(struct store *s, const struct ccf_tenant *t, const char *id)
{
    if (!s->ops->webhook_ping)
        return 0;
    return s->ops->webhook_ping(s, t, id);
}

int store_take_webhook_pings(struct store *s, struct store_ping *out, size_t max)
{
    if (!s->ops->take_webhook_pings || max == 0)
        return 0;
    return s->ops->take_webhook_pings(s, out, max);
}
