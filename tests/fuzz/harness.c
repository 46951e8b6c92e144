/* harness.c: the fixture store, the response invariants and the input
 * splitting that the libFuzzer targets share (see harness.h). */
#include "harness.h"

#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/validate.h"

#define CONNECTORS_MAX 64 /* per tenant; an input creates at most a few */

static const char log_text[] = "fuzz log line 1\nfuzz log line 2\n";

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "\nFUZZ INVARIANT BROKEN at %s:%d: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static char tmp_dir[512];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tmpdir(void)
{
    if (tmp_dir[0])
        nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    int n;

    if (tmp_dir[0])
        return tmp_dir;
    n = snprintf(tmp_dir, sizeof(tmp_dir), "%s/ccf-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (n < 0 || (size_t)n >= sizeof(tmp_dir) || !mkdtemp(tmp_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_tmpdir);
    return tmp_dir;
}

/* A fixed log, read the way executor_read_log reads one. */
static int read_log(void *ctx, const char *job_id, int attempt, int64_t offset, char *buf,
                    size_t len, int64_t *size, int64_t *dropped)
{
    const int64_t total = (int64_t)sizeof(log_text) - 1;
    int64_t start = offset < 0 ? total + offset : offset;
    size_t n;

    (void)ctx;
    (void)job_id;
    (void)attempt;
    if (start < 0)
        start = 0;
    if (start > total)
        start = total;
    n = (size_t)(total - start) < len ? (size_t)(total - start) : len;
    memcpy(buf, log_text + start, n);
    *size = total;
    *dropped = 0;
    return (int)n;
}

/* TestWebhook's hand-off: the fuzz world has no deliverer, and a ping
 * taken is all the API answers for (202). */
static int take_ping(void *ctx, const struct ccf_tenant *t, const char *id)
{
    (void)ctx;
    (void)t;
    (void)id;
    return 0;
}

struct fuzz_env *fuzz_env_get(void)
{
    static struct fuzz_env env;
    static bool ready;
    struct store_config sc = {.synchronous = "OFF"};
    struct api_config ac = {.read_log = read_log, .webhook_ping = take_ping};
    char path[600];

    if (ready)
        return &env;
    /* Only a failure is worth a line; the fuzzer's own output stays readable. */
    ccf_log_setup(CCF_LOG_ERROR, CCF_LOG_LOGFMT);
    snprintf(path, sizeof(path), "%s/ccf.db", fuzz_tmpdir());
    sc.path = path;
    FUZZ_CHECK(store_open(&env.store, &sc) == 0, "store_open %s", path);
    ac.store = env.store;
    FUZZ_CHECK(api_create(&env.api, &ac) == 0, "api_create");
    FUZZ_CHECK(ccf_tenant_init(&env.tenant, "us-east-1", "123456789012") == 0, "tenant");
    FUZZ_CHECK(ccf_tenant_init(&env.other, "us-east-1", "210987654321") == 0, "tenant");
    ready = true;
    return &env;
}

/* The connectors of one tenant, as the listing saw them. */
struct seen {
    size_t n;
    char id[CONNECTORS_MAX][CCF_CONNECTOR_ID_LEN + 1];
    char active[CONNECTORS_MAX][CCF_JOB_ID_LEN + 1]; /* "" when AVAILABLE */
};

static int seen_add(void *ctx, const struct ccf_connector *c)
{
    struct seen *s = ctx;

    if (s->n == CONNECTORS_MAX)
        return CCF_ETOOLARGE;
    snprintf(s->id[s->n], sizeof(s->id[0]), "%s", c->id);
    snprintf(s->active[s->n], sizeof(s->active[0]), "%s",
             c->status == CCF_CONNECTOR_IN_USE ? c->active_job_id : "");
    FUZZ_CHECK((c->status == CCF_CONNECTOR_IN_USE) == (c->active_job_id[0] != '\0'),
               "connector %s: IN_USE iff it has an active job (status %d, active '%s')", c->id,
               (int)c->status, c->active_job_id);
    s->n++;
    return 0;
}

static void list_all(struct fuzz_env *e, const struct ccf_tenant *t, struct seen *s)
{
    struct store_page page = {.limit = CCF_PAGE_MAX};
    char *next = NULL;

    s->n = 0;
    FUZZ_CHECK(store_list_connectors(e->store, t, &page, seen_add, s, &next) == 0,
               "list connectors");
    FUZZ_CHECK(next == NULL, "more than %d connectors: the reset does not keep up", CCF_PAGE_MAX);
}

static void wipe_tenant(struct fuzz_env *e, const struct ccf_tenant *t)
{
    const struct store_transition stop = {
        .from_mask = (1u << CCF_JOB_STARTED) | (1u << CCF_JOB_RUNNING) | (1u << CCF_JOB_STOPPING),
        .to = CCF_JOB_STOPPED,
        .failure_reason = "fuzz reset",
    };
    struct seen s;
    int rc;

    list_all(e, t, &s);
    for (size_t i = 0; i < s.n; i++) {
        if (s.active[i][0]) {
            rc = store_transition_job(e->store, t, s.id[i], s.active[i], &stop, NULL);
            FUZZ_CHECK(rc >= 0, "stop %s: %d", s.active[i], rc);
        }
        rc = store_delete_connector(e->store, t, s.id[i]);
        FUZZ_CHECK(rc == 0, "delete %s after its job ended: %d", s.id[i], rc);
    }
}

static void make_connector(struct fuzz_env *e, char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {
        .name = ccf_xstrdup("fuzz-fixture"),
        .properties = ccf_xstrdup("{\"command\":[\"/bin/true\"],\"resource_requirements\":"
                                  "{\"cpu\":1,\"memory\":2048},\"timeout\":3600}"),
    };

    FUZZ_CHECK(store_create_connector(e->store, &e->tenant, &c) == 0, "create fixture");
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
    ccf_connector_clear(&c);
}

static void start_job(struct fuzz_env *e, const char *cid, char id[CCF_JOB_ID_LEN + 1])
{
    struct ccf_job j = {0};

    FUZZ_CHECK(store_start_job(e->store, &e->tenant, cid, NULL, &j) == 0, "start fixture job");
    memcpy(id, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
}

static void end_job(struct fuzz_env *e, const char *cid, const char *jid)
{
    const struct store_transition run = {.from_mask = 1u << CCF_JOB_STARTED, .to = CCF_JOB_RUNNING};
    const struct store_transition done = {
        .from_mask = 1u << CCF_JOB_RUNNING, .to = CCF_JOB_SUCCEEDED, .set_exit_code = true};

    FUZZ_CHECK(store_transition_job(e->store, &e->tenant, cid, jid, &run, NULL) == 1, "run");
    FUZZ_CHECK(store_transition_job(e->store, &e->tenant, cid, jid, &done, NULL) == 1, "end");
}

void fuzz_env_reset(struct fuzz_env *e)
{
    static const char sum[] = "0123456789abcdef0123456789abcdef";
    const struct ccf_document docs[] = {
        {"a.txt", sum, 0, 0}, {"b/c.txt", sum, 0, 0}, {"\xc3\xa9t\xc3\xa9", sum, 0, 0}};

    wipe_tenant(e, &e->tenant);
    wipe_tenant(e, &e->other);
    make_connector(e, e->idle_id);
    make_connector(e, e->busy_id);
    start_job(e, e->busy_id, e->ended_id);
    end_job(e, e->busy_id, e->ended_id);
    start_job(e, e->busy_id, e->job_id);
    FUZZ_CHECK(store_put_documents(e->store, &e->tenant, e->busy_id, docs, 3) == 0, "docs");
    FUZZ_CHECK(store_put_checkpoint(e->store, &e->tenant, e->busy_id, "cursor\0=1", 9) == 0,
               "checkpoint");
}

char *fuzz_expand(const struct fuzz_env *e, const char *s, size_t n)
{
    size_t len = strnlen(s, n), o = 0;
    /* Each two-byte placeholder grows to at most 16 bytes. */
    char *out = ccf_xmalloc(len * 8 + 1);

    for (size_t i = 0; i < len; i++) {
        const char *id = NULL;
        if (s[i] == '@' && i + 1 < len) {
            char k = s[i + 1];
            id = k == 'A'   ? e->idle_id
                 : k == 'C' ? e->busy_id
                 : k == 'J' ? e->job_id
                 : k == 'E' ? e->ended_id
                            : NULL;
        }
        if (id) {
            memcpy(out + o, id, strlen(id));
            o += strlen(id);
            i++;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static bool status_allowed(int status)
{
    static const int ok[] = {200, 201, 202, 204, 400, 404, 405, 409, 415};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (status == ok[i])
            return true;
    }
    return false;
}

/* The contract: optional fields are omitted, never null. */
static bool has_null(const json_t *v)
{
    const char *key;
    json_t *m;
    size_t i;

    if (json_is_null(v))
        return true;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m)
        {
            if (has_null(m))
                return true;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            if (has_null(m))
                return true;
        }
    }
    return false;
}

static void check_error_body(const struct api_response *r, const json_t *body)
{
    const json_t *msg = json_object_get(body, "message");
    const json_t *type = json_object_get(body, "errorType");
    size_t cps;

    FUZZ_CHECK(r->error_type != NULL, "status %d without an error type", r->status);
    FUZZ_CHECK(json_object_size(body) == 2 && json_is_string(msg) && json_is_string(type),
               "error body not {message, errorType}: %s", r->body);
    FUZZ_CHECK(strcmp(json_string_value(type), r->error_type) == 0, "errorType %s but header %s",
               json_string_value(type), r->error_type);
    cps = ccf_utf8_count(json_string_value(msg), json_string_length(msg));
    FUZZ_CHECK(cps >= 1 && cps <= 1024, "message of %zu characters", cps);
}

static void check_response(const struct api_response *r)
{
    json_error_t err;
    json_t *body;

    FUZZ_CHECK(status_allowed(r->status), "status %d: %s", r->status,
               r->body ? r->body : "(no body)");
    FUZZ_CHECK((r->status >= 400) == (r->error_type != NULL), "status %d, error type %s", r->status,
               r->error_type ? r->error_type : "(none)");
    if (r->status == 204)
        FUZZ_CHECK(r->body == NULL, "204 with a body");
    if (r->status == 405)
        FUZZ_CHECK(r->nheaders >= 1 && strcmp(r->headers[0].name, "Allow") == 0, "405, no Allow");
    FUZZ_CHECK(r->nheaders <= API_HEADERS_MAX, "%zu headers", r->nheaders);
    if (!r->body)
        return;
    FUZZ_CHECK(r->content_type != NULL, "a body without a Content-Type");
    if (strcmp(r->content_type, "application/json") != 0)
        return;
    FUZZ_CHECK(strlen(r->body) == r->body_len, "JSON body length %zu, strlen %zu", r->body_len,
               strlen(r->body));
    body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
    FUZZ_CHECK(json_is_object(body), "body is not a JSON object (%s): %s", err.text, r->body);
    FUZZ_CHECK(!has_null(body), "null in a response: %s", r->body);
    if (r->status >= 400)
        check_error_body(r, body);
    json_decref(body);
}

static int count_open(void *ctx, const struct ccf_job *j)
{
    size_t *open = ctx;

    if (!ccf_job_status_terminal(j->status))
        (*open)++;
    return 0;
}

/* A connector is IN_USE iff exactly one of its jobs has not ended, and its
 * active_job_id is that job (the API alone can only start and stop jobs). */
static void check_store(struct fuzz_env *e)
{
    struct store_page page = {.limit = CCF_PAGE_MAX};
    struct seen s;
    struct ccf_job j = {0};
    size_t open;
    char *next;

    list_all(e, &e->tenant, &s);
    for (size_t i = 0; i < s.n; i++) {
        open = 0;
        next = NULL;
        FUZZ_CHECK(
            store_list_jobs(e->store, &e->tenant, s.id[i], 0, &page, count_open, &open, &next) == 0,
            "list jobs");
        free(next);
        FUZZ_CHECK(open == (s.active[i][0] ? 1u : 0u), "connector %s: active '%s', %zu open jobs",
                   s.id[i], s.active[i], open);
        if (s.active[i][0]) {
            FUZZ_CHECK(store_get_job(e->store, &e->tenant, s.id[i], s.active[i], &j) == 0 &&
                           !ccf_job_status_terminal(j.status),
                       "active job %s of %s is missing or ended", s.active[i], s.id[i]);
            ccf_job_clear(&j);
        }
    }
}

/* Another account must never learn of the fixture: no 2xx on its ids, and
 * no fixture id in a body unless the request named it. */
static void check_isolation(const struct fuzz_env *e, const char *target,
                            const struct api_response *r)
{
    const char *ids[] = {e->idle_id, e->busy_id, e->job_id, e->ended_id};
    size_t plen = strcspn(target, "?");

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const char *at = strstr(target, ids[i]);
        bool in_path = at && (size_t)(at - target) < plen;
        FUZZ_CHECK(!in_path || r->status >= 300, "other account got %d on %s", r->status, target);
        if (r->body && r->body_len && !at)
            FUZZ_CHECK(!memmem(r->body, r->body_len, ids[i], strlen(ids[i])),
                       "other account sees %s: %s", ids[i], r->body);
    }
}

void fuzz_request(struct fuzz_env *e, bool other_tenant, const char *method, const char *target,
                  const char *content_type, const char *body, size_t body_len)
{
    struct api_request req = {
        .method = method,
        .target = target,
        .content_type = content_type,
        .body = body,
        .body_len = body_len,
        .has_body = body_len > 0,
        .tenant = other_tenant ? e->other : e->tenant,
        .request_id = "fuzz-request",
    };
    struct api_response resp;

    api_handle(e->api, &req, &resp);
    check_response(&resp);
    if (other_tenant)
        check_isolation(e, target, &resp);
    api_response_clear(&resp);
    check_store(e);
}

char *fuzz_field(const uint8_t **data, size_t *size)
{
    const uint8_t *nl = memchr(*data, '\n', *size);
    size_t n = nl ? (size_t)(nl - *data) : *size;
    char *out = ccf_xmalloc(n + 1);

    memcpy(out, *data, n);
    out[n] = '\0';
    *data += n + (nl != NULL);
    *size -= n + (nl != NULL);
    return out;
}
