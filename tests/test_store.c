/* test_store.c: unit tests of the SQLite store (src/store): connectors, jobs,
 * documents, checkpoints, the change stream, tenant isolation, keyset
 * pagination and concurrency. Each test runs in its own temp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "store/store.h"
#include "store_downgrade.h"
#include "store_fixture.h"

#define BIT(s)   (1u << (s))
#define PROPS    "{\"command\":[\"/bin/true\"]}"
#define NO_ID_C  "cc-000000000000"
#define NO_ID_J  "ccj-000000000000"
#define SENTINEL ((char *)"sentinel")

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t1, t2, t3; /* t3: t1's account in another region */
};

/* ---- fixture ---- */

static int fx_open(struct fx *f, const char *sync)
{
    return store_fx_open(&f->s, f->path, sync, 0);
}

static int setup_with(void **state, const char *sync)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    store_fx_mkdtemp("store", f->dir, f->path);
    assert_int_equal(ccf_tenant_init(&f->t1, "us-east-1", "111111111111"), 0);
    assert_int_equal(ccf_tenant_init(&f->t2, "us-east-1", "222222222222"), 0);
    assert_int_equal(ccf_tenant_init(&f->t3, "eu-west-1", "111111111111"), 0);
    assert_int_equal(fx_open(f, sync), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL); /* FULL, the default */
}

static int setup_fast(void **state)
{
    return setup_with(state, "NORMAL");
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_remove(f->s, f->dir);
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(fx_open(f, NULL), 0);
}

/* SQL on a separate connection, to set up what the API cannot. */
static void raw_exec(struct fx *f, const char *sql)
{
    store_fx_exec(f->path, sql);
}

static int64_t raw_int(struct fx *f, const char *sql)
{
    return store_fx_int(f->path, sql);
}

/* ---- helpers ---- */

static void mk_connector(struct fx *f, const struct ccf_tenant *t, const char *name,
                         char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = (char *)name, .properties = (char *)PROPS};

    assert_int_equal(store_create_connector(f->s, t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
}

static void start(struct fx *f, const char *cid, char jid[CCF_JOB_ID_LEN + 1])
{
    struct ccf_job j;

    assert_int_equal(store_start_job(f->s, &f->t1, cid, NULL, &j), 0);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
}

static int move(struct fx *f, const char *cid, const char *jid, unsigned from,
                enum ccf_job_status to)
{
    struct store_transition tr = {.from_mask = from, .to = to};
    return store_transition_job(f->s, &f->t1, cid, jid, &tr, NULL);
}

static void get_conn(struct fx *f, const char *id, struct ccf_connector *c)
{
    assert_int_equal(store_get_connector(f->s, &f->t1, id, c), 0);
}

struct item {
    char *id;
    char *checksum;
    int64_t at, at2;
    int status;
};

struct coll {
    struct item *v;
    size_t n, cap;
};

static void coll_add(struct coll *c, const char *id, const char *sum, int64_t at, int64_t at2,
                     int status)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->v = realloc(c->v, c->cap * sizeof(*c->v));
        assert_non_null(c->v);
    }
    c->v[c->n++] = (struct item){strdup(id), sum ? strdup(sum) : NULL, at, at2, status};
}

static void coll_free(struct coll *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].id);
        free(c->v[i].checksum);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static int on_connector(void *ctx, const struct ccf_connector *c)
{
    coll_add(ctx, c->id, NULL, c->created_at, c->updated_at, c->status);
    return 0;
}

static int on_job(void *ctx, const struct ccf_job *j)
{
    coll_add(ctx, j->id, j->connector_id, j->created_at, j->updated_at, j->status);
    return 0;
}

static int on_doc(void *ctx, const struct ccf_document *d)
{
    coll_add(ctx, d->id, d->checksum, d->created_at, d->updated_at, 0);
    return 0;
}

/* One list call of any kind; arg says which. */
enum kind { K_CONNECTORS, K_JOBS, K_DOCS };
struct lister {
    struct fx *f;
    const struct ccf_tenant *t;
    enum kind kind;
    const char *cid;
    unsigned mask;
};

static int list_page(const struct lister *l, const char *after, size_t limit, struct coll *out,
                     char **next)
{
    struct store_page p = {.after = after, .limit = limit};

    switch (l->kind) {
    case K_CONNECTORS:
        return store_list_connectors(l->f->s, l->t, &p, on_connector, out, next);
    case K_JOBS:
        return store_list_jobs(l->f->s, l->t, l->cid, l->mask, &p, on_job, out, next);
    default:
        return store_list_documents(l->f->s, l->t, l->cid, &p, on_doc, out, next);
    }
}

/* Pages through everything; every page but the last is full, none empty. */
static void list_all(const struct lister *l, size_t limit, struct coll *out)
{
    char *after = NULL, *next;

    do {
        size_t before = out->n;
        next = SENTINEL;
        assert_int_equal(list_page(l, after, limit, out, &next), 0);
        assert_ptr_not_equal(next, SENTINEL);
        if (next)
            assert_int_equal(out->n - before, limit);
        else
            assert_true(out->n - before <= limit && (out->n - before > 0 || before == 0));
        free(after);
        after = next;
    } while (after);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listed ids are exactly want[0..n): no duplicate, no gap. Sorts want. */
static void assert_same_ids(const struct coll *got, char **want, size_t n)
{
    char **g = calloc(got->n + 1, sizeof(*g));

    assert_int_equal(got->n, n);
    for (size_t i = 0; i < n; i++)
        g[i] = got->v[i].id;
    qsort(g, n, sizeof(*g), cmp_str);
    qsort(want, n, sizeof(*want), cmp_str);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(g[i], want[i]);
    free(g);
}

/* ---- connectors ---- */

static void test_connector_crud(void **state)
{
    struct fx *f = *state;
    struct ccf_connector c = {.name = "conn-a", .properties = PROPS}, g;
    char jid[CCF_JOB_ID_LEN + 1];

    assert_int_equal(store_create_connector(f->s, &f->t1, &c), 0);
    assert_true(ccf_connector_id_valid(c.id));
    assert_int_equal(c.status, CCF_CONNECTOR_AVAILABLE);
    assert_int_equal(c.version, 1);
    assert_true(c.created_at > 0 && c.created_at == c.updated_at);
    assert_string_equal(c.active_job_id, "");

    get_conn(f, c.id, &g);
    assert_string_equal(g.id, c.id);
    assert_string_equal(g.name, "conn-a");
    assert_null(g.description);
    assert_string_equal(g.properties, PROPS);
    assert_int_equal(g.created_at, c.created_at);
    assert_int_equal(g.version, 1);
    ccf_connector_clear(&g);

    c.name = "conn-b";
    c.description = "a description";
    c.properties = "{\"command\":[\"/bin/false\"]}";
    assert_int_equal(store_update_connector(f->s, &f->t1, &c, 1), 0);
    assert_int_equal(c.version, 2);
    assert_true(c.updated_at >= c.created_at);
    get_conn(f, c.id, &g);
    assert_string_equal(g.name, "conn-b");
    assert_string_equal(g.description, "a description");
    assert_string_equal(g.properties, "{\"command\":[\"/bin/false\"]}");
    assert_int_equal(g.version, 2);
    assert_int_equal(g.updated_at, c.updated_at);
    ccf_connector_clear(&g);

    assert_int_equal(store_update_connector(f->s, &f->t1, &c, 1), CCF_ECONFLICT); /* stale */
    c.description = NULL;
    assert_int_equal(store_update_connector(f->s, &f->t1, &c, 2), 0);
    get_conn(f, c.id, &g);
    assert_null(g.description);
    assert_int_equal(g.version, 3);
    ccf_connector_clear(&g);

    /* A job start and end bump the version too (conditional updates see them). */
    start(f, c.id, jid);
    get_conn(f, c.id, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(g.active_job_id, jid);
    assert_int_equal(g.version, 4);
    ccf_connector_clear(&g);
    assert_int_equal(move(f, c.id, jid, BIT(CCF_JOB_STARTED), CCF_JOB_FAILED), 1);
    get_conn(f, c.id, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_AVAILABLE);
    assert_string_equal(g.active_job_id, "");
    assert_int_equal(g.version, 5);
    ccf_connector_clear(&g);

    memcpy(c.id, NO_ID_C, sizeof(c.id));
    assert_int_equal(store_update_connector(f->s, &f->t1, &c, 5), CCF_ENOTFOUND);
    assert_int_equal(store_get_connector(f->s, &f->t1, "nonsense", &g), CCF_ENOTFOUND);
    assert_int_equal(store_get_connector(f->s, &f->t1, NO_ID_C, &g), CCF_ENOTFOUND);

    struct ccf_connector bad = {.name = NULL, .properties = PROPS};
    assert_int_equal(store_create_connector(f->s, &f->t1, &bad), CCF_EINVAL);
}

static void test_connector_delete_cascades(void **state)
{
    struct fx *f = *state;
    char a[CCF_CONNECTOR_ID_LEN + 1], b[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_document docs[] = {{.id = "d1", .checksum = "0123456789abcdef0123456789abcdef"},
                                  {.id = "d2", .checksum = "0123456789abcdef0123456789abcdef"}};
    struct ccf_connector g;
    struct ccf_job j;
    struct ccf_checkpoint cp;
    char sql[256];

    mk_connector(f, &f->t1, "conn-a", a);
    mk_connector(f, &f->t1, "conn-b", b);
    assert_int_equal(store_put_documents(f->s, &f->t1, a, docs, 2), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, b, docs, 2), 0);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, a, "cp", 2), 0);
    start(f, a, jid);

    assert_int_equal(store_delete_connector(f->s, &f->t1, a), CCF_ECONFLICT); /* IN_USE */
    get_conn(f, a, &g);
    ccf_connector_clear(&g);
    assert_int_equal(move(f, a, jid, BIT(CCF_JOB_STARTED), CCF_JOB_STOPPED), 1);
    assert_int_equal(store_delete_connector(f->s, &f->t1, a), 0);

    assert_int_equal(store_get_connector(f->s, &f->t1, a, &g), CCF_ENOTFOUND);
    assert_int_equal(store_get_job(f->s, &f->t1, a, jid, &j), CCF_ENOTFOUND);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, a, &cp), CCF_ENOTFOUND);
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM jobs WHERE connector_id = '%s') + "
             "(SELECT count(*) FROM documents WHERE connector_id = '%s') + "
             "(SELECT count(*) FROM checkpoints WHERE connector_id = '%s')",
             a, a, a);
    assert_int_equal(raw_int(f, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM documents WHERE connector_id = '%s'", b);
    assert_int_equal(raw_int(f, sql), 2); /* the other connector keeps its own */
    assert_int_equal(store_delete_connector(f->s, &f->t1, a), CCF_ENOTFOUND);
    assert_int_equal(store_delete_connector(f->s, &f->t1, "cc-bad"), CCF_ENOTFOUND);
}

static void test_tenant_isolation(void **state)
{
    struct fx *f = *state;
    char a[CCF_CONNECTOR_ID_LEN + 1], b[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_document doc = {.id = "d1", .checksum = "0123456789abcdef0123456789abcdef"};
    const char *ids[] = {"d1"};
    struct store_page p = {.limit = 10};
    struct store_transition tr = {.from_mask = ~0u, .to = CCF_JOB_FAILED};
    struct ccf_connector c, g;
    struct ccf_job j;
    struct ccf_checkpoint cp;
    struct coll l = {0};
    const struct ccf_tenant *others[] = {&f->t2, &f->t3};

    mk_connector(f, &f->t1, "conn-a", a);
    mk_connector(f, &f->t2, "conn-b", b);
    assert_int_equal(store_put_documents(f->s, &f->t1, a, &doc, 1), 0);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, a, "mine", 4), 0);
    start(f, a, jid);

    for (size_t i = 0; i < 2; i++) {
        const struct ccf_tenant *o = others[i];
        c = (struct ccf_connector){.name = "x-y-z", .properties = PROPS};
        memcpy(c.id, a, sizeof(c.id));
        assert_int_equal(store_get_connector(f->s, o, a, &g), CCF_ENOTFOUND);
        assert_int_equal(store_update_connector(f->s, o, &c, 2), CCF_ENOTFOUND);
        assert_int_equal(store_delete_connector(f->s, o, a), CCF_ENOTFOUND);
        assert_int_equal(store_start_job(f->s, o, a, NULL, &j), CCF_ENOTFOUND);
        assert_int_equal(store_get_job(f->s, o, a, jid, &j), CCF_ENOTFOUND);
        assert_int_equal(store_list_jobs(f->s, o, a, 0, &p, on_job, &l, NULL), CCF_ENOTFOUND);
        assert_int_equal(store_transition_job(f->s, o, a, jid, &tr, NULL), CCF_ENOTFOUND);
        assert_int_equal(store_put_documents(f->s, o, a, &doc, 1), CCF_ENOTFOUND);
        assert_int_equal(store_delete_documents(f->s, o, a, ids, 1), CCF_ENOTFOUND);
        assert_int_equal(store_list_documents(f->s, o, a, &p, on_doc, &l, NULL), CCF_ENOTFOUND);
        assert_int_equal(store_put_checkpoint(f->s, o, a, "theirs", 6), CCF_ENOTFOUND);
        assert_int_equal(store_get_checkpoint(f->s, o, a, &cp), CCF_ENOTFOUND);
        assert_int_equal(store_delete_checkpoint(f->s, o, a), CCF_ENOTFOUND);
    }
    assert_int_equal(l.n, 0);

    /* Nothing of t1's was touched, and lists never cross tenants. */
    get_conn(f, a, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(g.name, "conn-a");
    ccf_connector_clear(&g);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, a, &cp), 0);
    assert_memory_equal(cp.data, "mine", 4);
    ccf_checkpoint_clear(&cp);
    assert_int_equal(store_list_documents(f->s, &f->t1, a, &p, on_doc, &l, NULL), 0);
    assert_int_equal(l.n, 1);
    coll_free(&l);

    const struct ccf_tenant *ts[] = {&f->t1, &f->t2, &f->t3};
    const char *want[] = {a, b, NULL};
    for (size_t i = 0; i < 3; i++) {
        struct lister li = {.f = f, .t = ts[i], .kind = K_CONNECTORS};
        list_all(&li, 10, &l);
        assert_int_equal(l.n, want[i] ? 1 : 0);
        if (want[i])
            assert_string_equal(l.v[0].id, want[i]);
        coll_free(&l);
    }
}

/* ---- pagination ---- */

#define MANY 250

static void test_connector_pagination(void **state)
{
    struct fx *f = *state;
    char *want[MANY];
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_CONNECTORS};
    char other[CCF_CONNECTOR_ID_LEN + 1];

    for (size_t i = 0; i < MANY; i++) {
        want[i] = calloc(1, CCF_CONNECTOR_ID_LEN + 1);
        mk_connector(f, &f->t1, "conn-x", want[i]);
    }
    mk_connector(f, &f->t2, "conn-other", other);
    /* Many equal created_at values: the id must break the ties. */
    raw_exec(f, "UPDATE connectors SET created_at = 1000 + (rowid % 4)");

    list_all(&li, 7, &l);
    for (size_t i = 1; i < l.n; i++) {
        struct item *p = &l.v[i - 1], *q = &l.v[i];
        assert_true(p->at < q->at || (p->at == q->at && strcmp(p->id, q->id) < 0));
    }
    assert_same_ids(&l, want, MANY);
    coll_free(&l);

    /* An exact multiple of the limit ends without an empty page. */
    list_all(&li, 50, &l);
    assert_int_equal(l.n, MANY);
    coll_free(&l);
    list_all(&li, 1000, &l);
    assert_int_equal(l.n, MANY);
    coll_free(&l);
    for (size_t i = 0; i < MANY; i++)
        free(want[i]);
}

static void test_job_pagination(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    char *all[MANY], *succeeded[MANY], *ended[MANY];
    size_t ns = 0, ne = 0;
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_JOBS, .cid = cid};

    mk_connector(f, &f->t1, "conn-x", cid);
    for (size_t i = 0; i < MANY; i++) {
        start(f, cid, jid);
        all[i] = strdup(jid);
        if (i == MANY - 1)
            break; /* the last stays RUNNING */
        if (i % 3 == 0) {
            assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
            assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_RUNNING), CCF_JOB_SUCCEEDED), 1);
            succeeded[ns++] = all[i];
        } else {
            enum ccf_job_status to = i % 3 == 1 ? CCF_JOB_FAILED : CCF_JOB_STOPPED;
            assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), to), 1);
        }
        ended[ne++] = all[i];
    }
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    raw_exec(f, "UPDATE jobs SET created_at = 5000 + (rowid % 3)");

    list_all(&li, 7, &l);
    for (size_t i = 1; i < l.n; i++) {
        struct item *p = &l.v[i - 1], *q = &l.v[i];
        assert_true(p->at > q->at || (p->at == q->at && strcmp(p->id, q->id) > 0));
        assert_string_equal(q->checksum, cid); /* on_job keeps connector_id there */
    }
    assert_same_ids(&l, all, MANY);
    coll_free(&l);

    li.mask = BIT(CCF_JOB_SUCCEEDED); /* one status: the status index */
    list_all(&li, 7, &l);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.v[i].status, CCF_JOB_SUCCEEDED);
    assert_same_ids(&l, succeeded, ns);
    coll_free(&l);

    li.mask = BIT(CCF_JOB_SUCCEEDED) | BIT(CCF_JOB_FAILED) | BIT(CCF_JOB_STOPPED);
    list_all(&li, 7, &l);
    for (size_t i = 1; i < l.n; i++)
        assert_true(l.v[i - 1].at >= l.v[i].at);
    assert_same_ids(&l, ended, ne);
    coll_free(&l);

    li.mask = BIT(CCF_JOB_RUNNING);
    list_all(&li, 7, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].id, jid); /* the last one started */
    coll_free(&l);

    li.mask = BIT(CCF_JOB_STOPPING);
    list_all(&li, 7, &l);
    assert_int_equal(l.n, 0);
    coll_free(&l);
    for (size_t i = 0; i < MANY; i++)
        free(all[i]);
}

static void test_document_pagination(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], other[CCF_CONNECTOR_ID_LEN + 1];
    static const char *const shapes[] = {"doc-%03zu", "é-%zu", "日本/%zu", "Z %zu", "%zu", "a~%zu"};
    char *want[MANY];
    struct ccf_document docs[MANY];
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = cid};
    char buf[64];

    mk_connector(f, &f->t1, "conn-x", cid);
    mk_connector(f, &f->t1, "conn-y", other);
    for (size_t i = 0; i < MANY; i++) {
        /* Each shape comes from a fixed table; -Wformat-nonliteral is fine here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(buf, sizeof(buf), shapes[i % 6], (MANY - i) * 7919 % 1000);
#pragma GCC diagnostic pop
        want[i] = strdup(buf);
        docs[i] =
            (struct ccf_document){.id = want[i], .checksum = "sum-of-32-chars-0123456789abcdef"};
    }
    /* Unsorted batches of 100, 100 and 50. */
    assert_int_equal(store_put_documents(f->s, &f->t1, cid, docs, 100), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, cid, docs + 100, 100), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, cid, docs + 200, 50), 0);
    assert_int_equal(store_put_documents(f->s, &f->t1, other, docs, 10), 0);

    list_all(&li, 7, &l);
    for (size_t i = 1; i < l.n; i++)
        assert_true(strcmp(l.v[i - 1].id, l.v[i].id) < 0); /* bytewise ascending */
    assert_same_ids(&l, want, MANY);
    coll_free(&l);
    list_all(&li, 1000, &l);
    assert_int_equal(l.n, MANY);
    coll_free(&l);
    for (size_t i = 0; i < MANY; i++)
        free(want[i]);
}

static void test_bad_page_keys(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct coll l = {0};
    struct lister lc = {.f = f, .t = &f->t1, .kind = K_CONNECTORS};
    struct lister lj = {.f = f, .t = &f->t1, .kind = K_JOBS, .cid = cid};
    struct lister ld = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = cid};
    char *next = SENTINEL;
    char long_id[600];
    static const char *const bad_conn[] = {
        "",
        "x",
        "0000000000000001",
        "0000000000000001:",
        "0000000000000001:cc-12345678901",
        "0000000000000001:cc-0123456789abc",
        "0000000000000001:cc-0123456789AB",
        "000000000000000g:cc-0123456789ab",
        "0000000000000001;cc-0123456789ab",
        "8000000000000000:cc-0123456789ab",
        "000000000000001:cc-0123456789ab",
        "00000000000000001:cc-0123456789ab",
        "0000000000000001:cc-0123456789ab ",
    };
    static const char *const bad_doc[] = {"",          "a\x01",    "tab\there",    "\xff",
                                          "\xc3",      "\xc0\xaf", "\xed\xa0\x80", "del\x7f",
                                          "c1\xc2\x85"};

    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    for (size_t i = 0; i < sizeof(bad_conn) / sizeof(bad_conn[0]); i++) {
        assert_int_equal(list_page(&lc, bad_conn[i], 5, &l, &next), CCF_EINVAL);
        assert_int_equal(list_page(&lj, bad_conn[i], 5, &l, &next), CCF_EINVAL);
    }
    /* A key of the other list has the other id kind. */
    assert_int_equal(list_page(&lj, "0000000000000001:cc-0123456789ab", 5, &l, &next), CCF_EINVAL);
    assert_int_equal(list_page(&lc, "0000000000000001:ccj-0123456789ab", 5, &l, &next), CCF_EINVAL);
    for (size_t i = 0; i < sizeof(bad_doc) / sizeof(bad_doc[0]); i++)
        assert_int_equal(list_page(&ld, bad_doc[i], 5, &l, &next), CCF_EINVAL);
    memset(long_id, 'a', 513);
    long_id[513] = '\0'; /* 513 code points */
    assert_int_equal(list_page(&ld, long_id, 5, &l, &next), CCF_EINVAL);
    long_id[512] = '\0';
    assert_int_equal(list_page(&ld, long_id, 5, &l, &next), 0);
    assert_null(next);
    next = SENTINEL;
    assert_int_equal(list_page(&lc, NULL, 0, &l, &next), CCF_EINVAL);
    assert_int_equal(list_page(&lc, NULL, 1001, &l, &next), CCF_EINVAL);
    assert_int_equal(store_list_connectors(f->s, &f->t1, NULL, on_connector, &l, &next),
                     CCF_EINVAL);
    lj.mask = BIT(CCF_JOB_STATUS_COUNT);
    assert_int_equal(list_page(&lj, NULL, 5, &l, &next), CCF_EINVAL);
    assert_ptr_equal(next, SENTINEL); /* untouched on failure */
    assert_int_equal(l.n, 0);

    /* Well-formed keys past the end give an empty last page. */
    lj.mask = 0;
    assert_int_equal(list_page(&lc, "7fffffffffffffff:cc-ffffffffffff", 5, &l, &next), 0);
    assert_null(next);
    assert_int_equal(list_page(&lj, "0000000000000000:ccj-000000000000", 5, &l, &next), 0);
    assert_null(next);
    assert_int_equal(l.n, 0);
}

static int stop_at_second(void *ctx, const struct ccf_connector *c)
{
    (void)c;
    return ++*(int *)ctx == 2 ? -42 : 0;
}

static void test_visitor_stops_listing(void **state)
{
    struct fx *f = *state;
    char id[CCF_CONNECTOR_ID_LEN + 1];
    struct store_page p = {.limit = 10};
    char *next = SENTINEL;
    int calls = 0;

    for (int i = 0; i < 3; i++)
        mk_connector(f, &f->t1, "conn-x", id);
    assert_int_equal(store_list_connectors(f->s, &f->t1, &p, stop_at_second, &calls, &next), -42);
    assert_int_equal(calls, 2);
    assert_ptr_equal(next, SENTINEL);
}

/* ---- jobs ---- */

struct race {
    struct store *s;
    const struct ccf_tenant *t;
    const char *cid;
    pthread_barrier_t *bar;
    int rc;
    char jid[CCF_JOB_ID_LEN + 1];
};

static void *race_start(void *arg)
{
    struct race *r = arg;
    struct ccf_job j;

    pthread_barrier_wait(r->bar);
    r->rc = store_start_job(r->s, r->t, r->cid, "[]", &j);
    if (r->rc == 0) {
        memcpy(r->jid, j.id, sizeof(r->jid));
        ccf_job_clear(&j);
    }
    return NULL; /* the thread's connection closes at exit */
}

#define RACERS 20

static void test_start_job_race(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    pthread_t th[RACERS];
    struct race r[RACERS];
    pthread_barrier_t bar;
    struct ccf_connector g;
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_JOBS, .cid = cid};

    mk_connector(f, &f->t1, "conn-x", cid);
    for (int round = 0; round < 3; round++) {
        int won = -1, conflicts = 0;
        pthread_barrier_init(&bar, NULL, RACERS);
        for (int i = 0; i < RACERS; i++) {
            r[i] = (struct race){.s = f->s, .t = &f->t1, .cid = cid, .bar = &bar, .rc = 1};
            assert_int_equal(pthread_create(&th[i], NULL, race_start, &r[i]), 0);
        }
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            if (r[i].rc == 0) {
                assert_int_equal(won, -1);
                won = i;
            } else {
                assert_int_equal(r[i].rc, CCF_ECONFLICT);
                conflicts++;
            }
        }
        pthread_barrier_destroy(&bar);
        assert_true(won >= 0);
        assert_int_equal(conflicts, RACERS - 1);
        get_conn(f, cid, &g);
        assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
        assert_string_equal(g.active_job_id, r[won].jid);
        ccf_connector_clear(&g);
        assert_int_equal(move(f, cid, r[won].jid, BIT(CCF_JOB_STARTED), CCF_JOB_FAILED), 1);
    }
    list_all(&li, 100, &l);
    assert_int_equal(l.n, 3);
    coll_free(&l);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM job_changes WHERE new_status >= 0"), 6);
}

/* Autocommit writes and BEGIN IMMEDIATE transactions from many threads at
 * once: busy_timeout absorbs the contention, nobody sees CCF_EUNAVAIL. */
struct writer {
    struct store *s;
    const struct ccf_tenant *t;
    int rc, step;
};

static int write_round(struct writer *w)
{
    struct ccf_connector c = {.name = "conn-w", .properties = PROPS};
    struct ccf_document d = {.id = "doc", .checksum = "66666666666666666666666666666666"};
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_FAILED};
    struct ccf_job j;
    int rc;

    if ((rc = store_create_connector(w->s, w->t, &c)) < 0 ||
        (rc = store_update_connector(w->s, w->t, &c, 1)) < 0 ||
        (rc = store_put_documents(w->s, w->t, c.id, &d, 1)) < 0 ||
        (rc = store_put_checkpoint(w->s, w->t, c.id, "cp", 2)) < 0 ||
        (rc = store_start_job(w->s, w->t, c.id, NULL, &j)) < 0)
        return rc;
    rc = store_transition_job(w->s, w->t, c.id, j.id, &tr, NULL);
    ccf_job_clear(&j);
    return rc == 1 ? 0 : rc < 0 ? rc : CCF_EIO;
}

static void *writer_run(void *arg)
{
    struct writer *w = arg;

    for (w->step = 0; w->step < 25; w->step++) {
        if ((w->rc = write_round(w)) < 0)
            break;
    }
    return NULL;
}

#define WRITERS 8

static void test_concurrent_writers(void **state)
{
    struct fx *f = *state;
    pthread_t th[WRITERS];
    struct writer w[WRITERS];
    struct coll l = {0};
    struct lister li = {.f = f, .t = &f->t1, .kind = K_CONNECTORS};

    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.s = f->s, .t = &f->t1};
        assert_int_equal(pthread_create(&th[i], NULL, writer_run, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].rc, 0);
        assert_int_equal(w[i].step, 25);
    }
    list_all(&li, 100, &l);
    assert_int_equal(l.n, WRITERS * 25);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.v[i].status, CCF_CONNECTOR_AVAILABLE);
    coll_free(&l);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM job_changes WHERE new_status >= 0"),
                     2 * WRITERS * 25);
}

static void test_start_job(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1];
    struct ccf_job j, g;

    mk_connector(f, &f->t1, "conn-x", cid);
    assert_int_equal(store_start_job(f->s, &f->t1, cid, "[{\"name\":\"A\",\"value\":\"1\"}]", &j),
                     0);
    assert_true(ccf_job_id_valid(j.id));
    assert_string_equal(j.connector_id, cid);
    assert_int_equal(j.status, CCF_JOB_STARTED);
    assert_true(j.created_at > 0 && j.updated_at == j.created_at);
    assert_int_equal(j.started_at, 0);
    assert_false(j.has_exit_code);
    assert_string_equal(j.environment, "[{\"name\":\"A\",\"value\":\"1\"}]");
    assert_int_equal(store_get_job(f->s, &f->t1, cid, j.id, &g), 0);
    assert_string_equal(g.id, j.id);
    assert_int_equal(g.status, CCF_JOB_STARTED);
    assert_int_equal(g.created_at, j.created_at);
    assert_int_equal(g.started_at, 0);
    assert_int_equal(g.completed_at, 0);
    assert_string_equal(g.environment, j.environment);
    assert_null(g.executor_id);
    assert_null(g.failure_reason);
    ccf_job_clear(&g);

    assert_int_equal(store_start_job(f->s, &f->t1, cid, NULL, &g), CCF_ECONFLICT);
    assert_int_equal(store_start_job(f->s, &f->t1, NO_ID_C, NULL, &g), CCF_ENOTFOUND);
    assert_int_equal(store_start_job(f->s, &f->t1, "bogus", NULL, &g), CCF_ENOTFOUND);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, NO_ID_J, &g), CCF_ENOTFOUND);
    assert_int_equal(store_get_job(f->s, &f->t1, NO_ID_C, j.id, &g), CCF_ENOTFOUND);
    ccf_job_clear(&j);
}

static void test_transitions(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct store_transition tr = {
        .from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_RUNNING, .executor_id = "exec-1"};
    struct ccf_job j;
    struct ccf_connector g;
    int64_t started;

    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_int_equal(j.status, CCF_JOB_RUNNING);
    assert_true(j.started_at > 0);
    assert_int_equal(j.completed_at, 0);
    assert_string_equal(j.executor_id, "exec-1");
    started = j.started_at;
    ccf_job_clear(&j);

    /* Redelivery: already there, nothing written. */
    tr.executor_id = "exec-2";
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 0);
    assert_int_equal(j.status, CCF_JOB_RUNNING);
    assert_string_equal(j.executor_id, "exec-1");
    assert_int_equal(j.started_at, started);
    ccf_job_clear(&j);

    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_SUCCEEDED), CCF_ECONFLICT);
    assert_int_equal(
        move(f, cid, jid, BIT(CCF_JOB_STARTED) | BIT(CCF_JOB_RUNNING), CCF_JOB_STOPPING), 1);
    tr = (struct store_transition){.from_mask = BIT(CCF_JOB_STOPPING),
                                   .to = CCF_JOB_STOPPED,
                                   .set_exit_code = true,
                                   .exit_code = 143,
                                   .failure_reason = "stopped on request"};
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_int_equal(j.status, CCF_JOB_STOPPED);
    assert_true(j.completed_at >= j.started_at && j.started_at == started);
    assert_true(j.has_exit_code);
    assert_int_equal(j.exit_code, 143);
    assert_string_equal(j.failure_reason, "stopped on request");
    ccf_job_clear(&j);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(j.exit_code, 143);
    assert_true(j.has_exit_code && j.completed_at > 0);
    assert_string_equal(j.failure_reason, "stopped on request");
    assert_string_equal(j.executor_id, "exec-1");
    ccf_job_clear(&j);
    get_conn(f, cid, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_AVAILABLE);
    assert_string_equal(g.active_job_id, "");
    ccf_connector_clear(&g);

    /* Terminal is final, whatever from_mask says; the same terminal is a no-op. */
    assert_int_equal(move(f, cid, jid, ~0u, CCF_JOB_STOPPED), 0);
    assert_int_equal(move(f, cid, jid, ~0u, CCF_JOB_RUNNING), CCF_ECONFLICT);
    assert_int_equal(move(f, cid, jid, ~0u, CCF_JOB_FAILED), CCF_ECONFLICT);
    assert_int_equal(move(f, cid, NO_ID_J, ~0u, CCF_JOB_FAILED), CCF_ENOTFOUND);
    assert_int_equal(move(f, NO_ID_C, jid, ~0u, CCF_JOB_FAILED), CCF_ENOTFOUND);
    assert_int_equal(move(f, cid, jid, ~0u, (enum ccf_job_status)42), CCF_EINVAL);
}

static void test_transition_truncates_reason(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    char reason[1500 * 2 + 1];
    struct store_transition tr = {
        .from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_FAILED, .failure_reason = reason};
    struct ccf_job j;

    for (size_t i = 0; i < 1500; i++)
        memcpy(reason + 2 * i, "é", 2);
    reason[3000] = '\0';
    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, NULL), 1);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(strlen(j.failure_reason), 2 * CCF_FAILURE_REASON_MAX);
    assert_memory_equal(j.failure_reason, reason, 2 * CCF_FAILURE_REASON_MAX);
    ccf_job_clear(&j);
}

/* status_reason: set only on a STARTED job, written only when it
 * differs, no outbox row, truncated, another tenant's job untouched, and
 * cleared by the next transition. */
static void test_job_status_reason(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    char reason[1500 * 2 + 1];
    struct ccf_job j;
    int64_t changes;

    for (size_t i = 0; i < 1500; i++)
        memcpy(reason + 2 * i, "é", 2);
    reason[3000] = '\0';
    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    changes = raw_int(f, "SELECT count(*) FROM job_changes");
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "waiting"), 1);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "waiting"), 0);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t2, cid, jid, "other"), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM job_changes"), changes);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_string_equal(j.status_reason, "waiting");
    assert_int_equal(j.status, CCF_JOB_STARTED);
    ccf_job_clear(&j);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, reason), 1);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(strlen(j.status_reason), 2 * CCF_FAILURE_REASON_MAX);
    ccf_job_clear(&j);
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_null(j.status_reason);
    ccf_job_clear(&j);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, jid, "late"), 0);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, "ccj-000000000000", "x"), 0);
    assert_int_equal(store_set_job_status_reason(f->s, &f->t1, cid, "bad", "x"), CCF_ENOTFOUND);
}

/* A transition's `at` (the executor's record of a job that ended while
 * ccfd was down) becomes started_at / completed_at, kept in order with the
 * job's earlier times; updated_at is the write's own time. */
static void test_transition_at(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct store_transition tr = {.from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_RUNNING};
    struct ccf_job j;
    int64_t created, before;

    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    created = j.created_at;
    ccf_job_clear(&j);
    usleep(30000);
    tr.at = created + 10000; /* started 10 ms after it was created, 20 ms ago */
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_int_equal(j.started_at, created + 10000);
    assert_true(j.updated_at >= created + 30000);
    ccf_job_clear(&j);

    /* An end before the start (a clock stepped back) is the start. */
    tr = (struct store_transition){
        .from_mask = BIT(CCF_JOB_RUNNING), .to = CCF_JOB_FAILED, .at = created - 5000000};
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_int_equal(j.completed_at, created + 10000);
    ccf_job_clear(&j);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(j.completed_at, created + 10000);
    ccf_job_clear(&j);

    /* A time in the future is now; none is now. */
    start(f, cid, jid);
    before = ccf_now_us();
    tr = (struct store_transition){
        .from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_SUCCEEDED, .at = before + 3600000000LL};
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &tr, &j), 1);
    assert_true(j.completed_at >= before && j.completed_at <= ccf_now_us());
    assert_int_equal(j.completed_at, j.updated_at);
    ccf_job_clear(&j);
}

static void test_release_only_active_job(void **state)
{
    struct fx *f = *state;
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_connector g;

    mk_connector(f, &f->t1, "conn-x", cid);
    start(f, cid, jid);
    /* The connector now runs another job (as after a lost update). */
    raw_exec(f, "UPDATE connectors SET active_job_id = '" NO_ID_J "'");
    assert_int_equal(move(f, cid, jid, BIT(CCF_JOB_STARTED), CCF_JOB_FAILED), 1);
    get_conn(f, cid, &g);
    assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(g.active_job_id, NO_ID_J);
    ccf_connector_clear(&g);
}

/* ---- documents and checkpoints ---- */

static void test_documents_upsert(void **state)
{
    struct fx *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], y[CCF_CONNECTOR_ID_LEN + 1];
    const char *s1 = "11111111111111111111111111111111", *s2 = "22222222222222222222222222222222";
    struct ccf_document d[] = {{.id = "b", .checksum = s1}, {.id = "a", .checksum = s1}};
    struct ccf_document d2 = {.id = "a", .checksum = s2};
    const char *del[] = {"a", "never-existed"};
    struct coll l = {0};
    struct lister lx = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = x};
    struct lister ly = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = y};
    int64_t created;

    mk_connector(f, &f->t1, "conn-x", x);
    mk_connector(f, &f->t1, "conn-y", y);
    assert_int_equal(store_put_documents(f->s, &f->t1, x, d, 2), 0);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].id, "a");
    assert_string_equal(l.v[0].checksum, s1);
    assert_int_equal(l.v[0].at, l.v[0].at2);
    created = l.v[0].at;
    coll_free(&l);

    usleep(2000);
    assert_int_equal(store_put_documents(f->s, &f->t1, x, &d2, 1), 0);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].checksum, s2);
    assert_int_equal(l.v[0].at, created);
    assert_true(l.v[0].at2 > created);
    assert_string_equal(l.v[1].checksum, s1);
    coll_free(&l);

    /* The same id in another connector is another document. */
    assert_int_equal(store_put_documents(f->s, &f->t1, y, d + 1, 1), 0);
    list_all(&ly, 10, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].checksum, s1);
    coll_free(&l);
    assert_int_equal(store_delete_documents(f->s, &f->t1, x, del, 2), 0);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].id, "b");
    coll_free(&l);
    list_all(&ly, 10, &l);
    assert_int_equal(l.n, 1);
    coll_free(&l);

    assert_int_equal(store_put_documents(f->s, &f->t1, NO_ID_C, d, 2), CCF_ENOTFOUND);
    assert_int_equal(store_delete_documents(f->s, &f->t1, NO_ID_C, del, 2), CCF_ENOTFOUND);
    assert_int_equal(store_put_documents(f->s, &f->t1, x, d, 0), 0);
}

static void test_documents_all_or_nothing(void **state)
{
    struct fx *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1];
    const char *sum = "33333333333333333333333333333333";
    struct ccf_document d[] = {{.id = "c", .checksum = sum},
                               {.id = "boom", .checksum = sum},
                               {.id = "a", .checksum = sum}};
    struct coll l = {0};
    struct lister lx = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = x};

    mk_connector(f, &f->t1, "conn-x", x);
    raw_exec(f, "CREATE TRIGGER boom BEFORE INSERT ON documents WHEN NEW.document_id = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END");
    assert_int_equal(store_put_documents(f->s, &f->t1, x, d, 3), CCF_EIO);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 0); /* "a" was written before "boom", and rolled back */
    coll_free(&l);
    raw_exec(f, "DROP TRIGGER boom");
    assert_int_equal(store_put_documents(f->s, &f->t1, x, d, 3), 0);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 3);
    coll_free(&l);
}

static void test_checkpoint(void **state)
{
    struct fx *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    static const char data1[] = "a\0b\0\0c";
    struct ccf_checkpoint cp;
    struct ccf_connector g;
    size_t big_len = CCF_CHECKPOINT_MAX;
    char *big = malloc(big_len);
    int64_t created;

    mk_connector(f, &f->t1, "conn-x", x);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), CCF_ENOTFOUND);
    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, x), CCF_ENOTFOUND);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, x, data1, 6), 0);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), 0);
    assert_string_equal(cp.connector_id, x);
    assert_int_equal(cp.data_len, 6);
    assert_memory_equal(cp.data, data1, 6);
    assert_int_equal(cp.data[6], '\0');
    assert_int_equal(cp.created_at, cp.updated_at);
    created = cp.created_at;
    ccf_checkpoint_clear(&cp);

    /* A job running does not stop checkpoint writes, which leave the connector alone. */
    start(f, x, jid);
    usleep(2000);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 % 251);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, x, big, big_len), 0);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), 0);
    assert_int_equal(cp.data_len, big_len);
    assert_memory_equal(cp.data, big, big_len);
    assert_int_equal(cp.created_at, created);
    assert_true(cp.updated_at > created);
    ccf_checkpoint_clear(&cp);
    get_conn(f, x, &g);
    assert_int_equal(g.version, 2); /* only the start bumped it */
    ccf_connector_clear(&g);

    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, x), 0);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), CCF_ENOTFOUND);
    assert_int_equal(store_delete_checkpoint(f->s, &f->t1, x), CCF_ENOTFOUND);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, NO_ID_C, "z", 1), CCF_ENOTFOUND);
    free(big);
}

/* ---- change stream ---- */

static void count_hook(void *ctx)
{
    ++*(int *)ctx;
}

static void test_changes_and_hook(void **state)
{
    struct fx *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_document d = {.id = "d", .checksum = "44444444444444444444444444444444"};
    struct store_change ch[8];
    struct ccf_job j;
    int fired = 0;

    store_set_change_hook(f->s, count_hook, &fired);
    assert_int_equal(store_read_changes(f->s, 0, ch, 8), 0);
    mk_connector(f, &f->t1, "conn-x", x);
    assert_int_equal(store_put_documents(f->s, &f->t1, x, &d, 1), 0);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, x, "c", 1), 0);
    assert_int_equal(fired, 0); /* no job change, no hook */

    start(f, x, jid);
    assert_int_equal(fired, 1);
    assert_int_equal(move(f, x, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 1);
    assert_int_equal(fired, 2);
    assert_int_equal(move(f, x, jid, BIT(CCF_JOB_STARTED), CCF_JOB_RUNNING), 0);
    assert_int_equal(move(f, x, jid, BIT(CCF_JOB_STARTED), CCF_JOB_FAILED), CCF_ECONFLICT);
    assert_int_equal(store_start_job(f->s, &f->t1, x, NULL, &j), CCF_ECONFLICT);
    assert_int_equal(fired, 2);
    assert_int_equal(move(f, x, jid, BIT(CCF_JOB_RUNNING), CCF_JOB_SUCCEEDED), 1);
    assert_int_equal(fired, 3);

    assert_int_equal(store_read_changes(f->s, 0, ch, 8), 3);
    const int olds[] = {-1, CCF_JOB_STARTED, CCF_JOB_RUNNING};
    const int news[] = {CCF_JOB_STARTED, CCF_JOB_RUNNING, CCF_JOB_SUCCEEDED};
    for (int i = 0; i < 3; i++) {
        assert_true(i == 0 || ch[i].seq > ch[i - 1].seq);
        assert_string_equal(ch[i].tenant.region, "us-east-1");
        assert_string_equal(ch[i].tenant.account_id, "111111111111");
        assert_string_equal(ch[i].connector_id, x);
        assert_string_equal(ch[i].job_id, jid);
        assert_int_equal(ch[i].old_status, olds[i]);
        assert_int_equal(ch[i].new_status, news[i]);
        assert_true(ch[i].at > 0 && (i == 0 || ch[i].at >= ch[i - 1].at));
    }
    int64_t s0 = ch[0].seq, s1 = ch[1].seq, s2 = ch[2].seq;
    assert_int_equal(store_read_changes(f->s, s0, ch, 8), 2);
    assert_int_equal(ch[0].seq, s1);
    assert_int_equal(store_read_changes(f->s, 0, ch, 1), 1);
    assert_int_equal(ch[0].seq, s0);
    assert_int_equal(store_read_changes(f->s, s2, ch, 8), 0);
    assert_int_equal(store_read_changes(f->s, 0, ch, 0), 0);

    /* seq keeps growing across a restart. */
    reopen(f);
    start(f, x, jid);
    assert_int_equal(store_read_changes(f->s, s2, ch, 8), 1);
    assert_true(ch[0].seq > s2);
    assert_int_equal(fired, 3); /* the new handle has no hook */
}

static void test_cursor_persists(void **state)
{
    struct fx *f = *state;
    int64_t seq = -1;

    assert_int_equal(store_cursor_get(f->s, "orchestrator", &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(store_cursor_set(f->s, "orchestrator", 5), 0);
    assert_int_equal(store_cursor_set(f->s, "other", 9), 0);
    assert_int_equal(store_cursor_get(f->s, "orchestrator", &seq), 0);
    assert_int_equal(seq, 5);
    reopen(f);
    assert_int_equal(store_cursor_get(f->s, "orchestrator", &seq), 0);
    assert_int_equal(seq, 5);
    assert_int_equal(store_cursor_get(f->s, "other", &seq), 0);
    assert_int_equal(seq, 9);
    assert_int_equal(store_cursor_set(f->s, "orchestrator", 12), 0);
    assert_int_equal(store_cursor_get(f->s, "orchestrator", &seq), 0);
    assert_int_equal(seq, 12);
    assert_int_equal(store_cursor_set(f->s, "", 1), CCF_EINVAL);
    assert_int_equal(store_cursor_set(f->s, "orchestrator", -1), CCF_EINVAL);
    assert_int_equal(store_cursor_get(f->s, NULL, &seq), CCF_EINVAL);
    assert_int_equal(seq, 12);
}

/* ---- open, close, durability ---- */

static void test_data_survives_reopen(void **state)
{
    struct fx *f = *state;
    char x[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct ccf_connector c = {.name = "conn-x", .description = "kept", .properties = PROPS}, g;
    struct ccf_document d = {.id = "doc", .checksum = "55555555555555555555555555555555"};
    unsigned char secret[32], secret2[32], zero[32] = {0};
    struct ccf_checkpoint cp;
    struct ccf_job j;
    struct coll l = {0};
    struct lister lx = {.f = f, .t = &f->t1, .kind = K_DOCS, .cid = x};

    assert_int_equal(store_create_connector(f->s, &f->t1, &c), 0);
    memcpy(x, c.id, sizeof(x));
    assert_int_equal(store_put_documents(f->s, &f->t1, x, &d, 1), 0);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, x, "c\0p", 3), 0);
    start(f, x, jid);
    assert_int_equal(store_secret(f->s, secret), 0);
    assert_memory_not_equal(secret, zero, 32);

    reopen(f);
    assert_int_equal(store_ping(f->s), 0);
    assert_int_equal(store_secret(f->s, secret2), 0);
    assert_memory_equal(secret, secret2, 32);
    get_conn(f, x, &g);
    assert_string_equal(g.description, "kept");
    assert_int_equal(g.status, CCF_CONNECTOR_IN_USE);
    assert_string_equal(g.active_job_id, jid);
    assert_int_equal(g.created_at, c.created_at);
    ccf_connector_clear(&g);
    assert_int_equal(store_get_job(f->s, &f->t1, x, jid, &j), 0);
    assert_int_equal(j.status, CCF_JOB_STARTED);
    ccf_job_clear(&j);
    assert_int_equal(store_get_checkpoint(f->s, &f->t1, x, &cp), 0);
    assert_int_equal(cp.data_len, 3);
    assert_memory_equal(cp.data, "c\0p", 3);
    ccf_checkpoint_clear(&cp);
    list_all(&lx, 10, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].id, "doc");
    coll_free(&l);
    assert_int_equal(raw_int(f, "PRAGMA user_version"), STORE_TEST_SCHEMA_VERSION);
    assert_int_equal(
        raw_int(f, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
}

static void test_open_refuses(void **state)
{
    struct fx *f = *state;
    struct store *s = (struct store *)SENTINEL;
    struct store_config cfg = {.path = f->path};

    store_close(f->s);
    f->s = NULL;
    raw_exec(f, "PRAGMA user_version = 99");
    assert_int_equal(store_open(&s, &cfg), CCF_EIO); /* newer than this build */
    assert_ptr_equal(s, SENTINEL);
    cfg.path = "/nonexistent-ccf-dir/sub/ccf.db";
    assert_int_equal(store_open(&s, &cfg), CCF_EUNAVAIL);
    cfg.path = f->path;
    cfg.synchronous = "FAST";
    assert_int_equal(store_open(&s, &cfg), CCF_EINVAL);
    assert_ptr_equal(s, SENTINEL);
    /* A version 1 database is migrated to the current version at open. */
    store_downgrade(f->path, 1);
    cfg.synchronous = "off";
    assert_int_equal(store_open(&f->s, &cfg), 0);
    assert_int_equal(store_ping(f->s), 0);
    assert_int_equal(raw_int(f, "PRAGMA user_version"), STORE_TEST_SCHEMA_VERSION);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM sqlite_master WHERE name = 'jobs_by_status'"),
                     1);
}

/* Migration 4 (retries) on a version 3 file that holds a running job: the
 * job reads as one that has not started an attempt here, and its next
 * transitions record attempts as for any job. */
static void test_migrate_attempts(void **state)
{
    struct fx *f = *state;
    struct store_config cfg = {.path = f->path, .synchronous = "off"};
    char cid[CCF_CONNECTOR_ID_LEN + 1], jid[CCF_JOB_ID_LEN + 1];
    struct store_transition end = {.from_mask = 1u << CCF_JOB_RUNNING,
                                   .to = CCF_JOB_FAILED,
                                   .set_exit_code = true,
                                   .exit_code = 3,
                                   .failure_reason = "exited with code 3"};
    struct ccf_job j;

    mk_connector(f, &f->t1, "old", cid);
    start(f, cid, jid);
    assert_int_equal(move(f, cid, jid, 1u << CCF_JOB_STARTED, CCF_JOB_RUNNING), 1);
    store_close(f->s);
    f->s = NULL;
    raw_exec(f, "UPDATE jobs SET attempt = 0, attempts = NULL"); /* as a v3 file has it */
    store_downgrade(f->path, 3);
    assert_int_equal(store_open(&f->s, &cfg), 0);
    assert_int_equal(raw_int(f, "PRAGMA user_version"), STORE_TEST_SCHEMA_VERSION);
    assert_int_equal(store_get_job(f->s, &f->t1, cid, jid, &j), 0);
    assert_int_equal(j.status, CCF_JOB_RUNNING);
    assert_int_equal(j.attempt, 0);
    assert_null(j.attempts);
    assert_int_equal(j.next_attempt_at, 0);
    ccf_job_clear(&j);
    assert_int_equal(store_transition_job(f->s, &f->t1, cid, jid, &end, &j), 1);
    assert_true(j.has_exit_code && j.exit_code == 3);
    assert_int_equal(j.attempt, 0); /* no attempt was open: nothing invented */
    ccf_job_clear(&j);
}

/* A thread that used the store is still alive (idle) when store_close runs:
 * store_close closes its connection, and its exit must not close it again. */
struct idler {
    struct store *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage;
    int rc;
};

static void *idle_thread(void *arg)
{
    struct idler *d = arg;

    d->rc = store_ping(d->s);
    pthread_mutex_lock(&d->mu);
    d->stage = 1;
    pthread_cond_broadcast(&d->cv);
    while (d->stage != 2)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void test_close_with_live_threads(void **state)
{
    struct fx *f = *state;
    struct idler d = {.s = f->s, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t th;

    assert_int_equal(pthread_create(&th, NULL, idle_thread, &d), 0);
    pthread_mutex_lock(&d.mu);
    while (d.stage != 1)
        pthread_cond_wait(&d.cv, &d.mu);
    pthread_mutex_unlock(&d.mu);
    store_close(f->s);
    f->s = NULL;
    pthread_mutex_lock(&d.mu);
    d.stage = 2;
    pthread_cond_broadcast(&d.cv);
    pthread_mutex_unlock(&d.mu);
    pthread_join(th, NULL);
    assert_int_equal(d.rc, 0);
    assert_int_equal(fx_open(f, NULL), 0); /* and the file is fine */
    assert_int_equal(store_ping(f->s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connector_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connector_delete_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connector_pagination, setup_fast, teardown),
        cmocka_unit_test_setup_teardown(test_job_pagination, setup_fast, teardown),
        cmocka_unit_test_setup_teardown(test_document_pagination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_page_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_visitor_stops_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_job_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transition_truncates_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_status_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transition_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_only_active_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_documents_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_and_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_persists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_live_threads, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
