/* helpers.c: what the conformance cases share (conf.h): making connectors
 * and jobs, moving jobs, and paging through lists into a collection. */
#include "conf.h"

#include <stdlib.h>
#include <string.h>

void mk_connector(struct conf *f, const struct ccf_tenant *t, const char *name,
                  char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = (char *)name, .properties = (char *)PROPS};

    assert_int_equal(store_create_connector(f->s, t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
}

void start(struct conf *f, const char *cid, char jid[CCF_JOB_ID_LEN + 1])
{
    struct ccf_job j;

    assert_int_equal(store_start_job(f->s, &f->t1, cid, NULL, &j), 0);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
}

int move(struct conf *f, const char *cid, const char *jid, unsigned from, enum ccf_job_status to)
{
    struct store_transition tr = {.from_mask = from, .to = to};
    return store_transition_job(f->s, &f->t1, cid, jid, &tr, NULL);
}

void get_conn(struct conf *f, const char *id, struct ccf_connector *c)
{
    assert_int_equal(store_get_connector(f->s, &f->t1, id, c), 0);
}

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

void coll_free(struct coll *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].id);
        free(c->v[i].checksum);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

int on_connector(void *ctx, const struct ccf_connector *c)
{
    coll_add(ctx, c->id, NULL, c->created_at, c->updated_at, c->status);
    return 0;
}

int on_job(void *ctx, const struct ccf_job *j)
{
    coll_add(ctx, j->id, j->connector_id, j->created_at, j->updated_at, j->status);
    return 0;
}

int on_doc(void *ctx, const struct ccf_document *d)
{
    coll_add(ctx, d->id, d->checksum, d->created_at, d->updated_at, 0);
    return 0;
}

int list_page(const struct lister *l, const char *after, size_t limit, struct coll *out,
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
void list_all(const struct lister *l, size_t limit, struct coll *out)
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
void assert_same_ids(const struct coll *got, char **want, size_t n)
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
