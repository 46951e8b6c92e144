/* docstats_fixture.h: what the tests of per-job document statistics share,
 * on any backend: a job brought to RUNNING, its statistics, a one-document
 * put, and every id of the not-seen listing, page by page. Both
 * tests/test_store_docstats.c (SQLite's own cases) and the conformance
 * suite's tests/store_conf/docstats.c use it.
 *
 * Static inline, as store_fixture.h, because the Makefile builds each
 * tests/test_*.c as its own binary. Include cmocka.h (and what it needs)
 * first. */
#ifndef CCF_TESTS_DOCSTATS_FIXTURE_H
#define CCF_TESTS_DOCSTATS_FIXTURE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "store/store.h"

/* The connector the helpers act on: a test's store, tenant and connector. */
struct docs_fx_at {
    struct store *s;
    const struct ccf_tenant *t;
    const char *cid;
};

/* A job of at->cid that reached RUNNING; the connector is free again when
 * ended is true. */
static inline void docs_fx_run_job(const struct docs_fx_at *at, char jid[CCF_JOB_ID_LEN + 1],
                                   bool ended)
{
    struct store_transition run = {.from_mask = 1u << CCF_JOB_STARTED, .to = CCF_JOB_RUNNING};
    struct store_transition end = {.from_mask = 1u << CCF_JOB_RUNNING, .to = CCF_JOB_SUCCEEDED};
    struct ccf_job j;

    assert_int_equal(store_start_job(at->s, at->t, at->cid, NULL, &j), 0);
    memcpy(jid, j.id, CCF_JOB_ID_LEN + 1);
    ccf_job_clear(&j);
    assert_int_equal(store_transition_job(at->s, at->t, at->cid, jid, &run, NULL), 1);
    if (ended)
        assert_int_equal(store_transition_job(at->s, at->t, at->cid, jid, &end, NULL), 1);
}

static inline struct ccf_job_stats docs_fx_stats(const struct docs_fx_at *at, const char *jid)
{
    struct ccf_job j;
    struct ccf_job_stats st;

    assert_int_equal(store_get_job(at->s, at->t, at->cid, jid, &j), 0);
    assert_true(j.has_stats);
    st = j.stats;
    ccf_job_clear(&j);
    return st;
}

/* Puts one document, as job jid (NULL: as the operator). */
static inline void docs_fx_put(const struct docs_fx_at *at, const char *jid, const char *id,
                               const char *sum)
{
    struct ccf_document d = {.id = id, .checksum = sum};

    assert_int_equal(store_put_documents_by(at->s, at->t, at->cid, jid, &d, 1), 0);
}

/* Document ids, in the order listed. */
struct docs_fx_ids {
    char **v;
    size_t n, cap;
};

/* A listing's callback: adds d's id to the struct docs_fx_ids ctx. */
static inline int docs_fx_on_doc(void *ctx, const struct ccf_document *d)
{
    struct docs_fx_ids *l = ctx;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        assert_non_null(l->v);
    }
    l->v[l->n++] = strdup(d->id);
    return 0;
}

static inline void docs_fx_ids_free(struct docs_fx_ids *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Every page of the not-seen listing; every page but the last is full. */
static inline void docs_fx_unseen_all(const struct docs_fx_at *at, const char *jid, size_t limit,
                                      struct docs_fx_ids *out)
{
    char *after = NULL, *next;

    do {
        struct store_page p = {.after = after, .limit = limit};
        size_t before = out->n;

        assert_int_equal(store_list_documents_not_seen(at->s, at->t, at->cid, jid, &p,
                                                       docs_fx_on_doc, out, &next),
                         0);
        if (next)
            assert_int_equal(out->n - before, limit);
        else
            assert_true(out->n - before <= limit);
        free(after);
        after = next;
    } while (after);
}

#endif
