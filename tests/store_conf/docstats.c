/* docstats.c: conformance cases of document statistics (added, updated, unchanged, deleted per
 * job, dense and sparse batches) and the documents a job has not seen. */
#include "conf.h"

#include "../docstats_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S1 "11111111111111111111111111111111"
#define S2 "22222222222222222222222222222222"

/* What docs_fx_* act on: f's store, first tenant and connector. */
#define AT(f) (&(struct docs_fx_at){(f)->s, &(f)->t1, (f)->cid})

static int d_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_counts_one_batch(void **state)
{
    struct conf *f = *state;
    char j[CCF_JOB_ID_LEN + 1];
    struct ccf_document mine[] = {{.id = "new", .checksum = S1},
                                  {.id = "same", .checksum = S1},
                                  {.id = "changed", .checksum = S2}};
    const char *del[] = {"gone", "never-existed", "also-never"};
    struct ccf_job_stats st;
    struct ccf_job started;

    docs_fx_put(AT(f), NULL, "same", S1);
    docs_fx_put(AT(f), NULL, "changed", S1);
    docs_fx_put(AT(f), NULL, "gone", S1);
    assert_int_equal(store_start_job(f->s, &f->t1, f->cid, NULL, &started), 0);
    assert_false(started.has_stats); /* not RUNNING yet */
    memcpy(j, started.id, sizeof(j));
    ccf_job_clear(&started);
    assert_int_equal(store_get_job(f->s, &f->t1, f->cid, j, &started), 0);
    assert_false(started.has_stats);
    ccf_job_clear(&started);
    assert_int_equal(
        store_transition_job(
            f->s, &f->t1, f->cid, j,
            &(struct store_transition){.from_mask = BIT(CCF_JOB_STARTED), .to = CCF_JOB_RUNNING},
            NULL),
        1);
    st = docs_fx_stats(AT(f), j);
    assert_int_equal(st.documents_added + st.documents_updated + st.documents_unchanged, 0);

    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j, mine, 3), 0);
    assert_int_equal(store_delete_documents_by(f->s, &f->t1, f->cid, j, del, 3), 0);
    assert_int_equal(store_put_checkpoint_by(f->s, &f->t1, f->cid, j, "x", 1), 0);
    assert_int_equal(store_put_checkpoint_by(f->s, &f->t1, f->cid, j, "y", 1), 0);
    /* An operator's writes are nobody's. */
    docs_fx_put(AT(f), NULL, "other", S1);
    assert_int_equal(store_put_checkpoint(f->s, &f->t1, f->cid, "z", 1), 0);
    st = docs_fx_stats(AT(f), j);
    assert_int_equal(st.documents_added, 1);
    assert_int_equal(st.documents_updated, 1);
    assert_int_equal(st.documents_unchanged, 1);
    assert_int_equal(st.documents_deleted, 1);
    assert_int_equal(st.checkpoint_puts, 2);

    /* Operations, not net effects: put again, delete twice. */
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j, mine, 3), 0);
    assert_int_equal(store_delete_documents_by(f->s, &f->t1, f->cid, j, del + 1, 1), 0);
    assert_int_equal(store_delete_documents_by(f->s, &f->t1, f->cid, j, (const char *[]){"new"}, 1),
                     0);
    st = docs_fx_stats(AT(f), j);
    assert_int_equal(st.documents_added, 1);
    assert_int_equal(st.documents_unchanged, 4);
    assert_int_equal(st.documents_deleted, 2);
}

/* The batch is classified by one range read of the stored rows from its
 * first id to its last, merged with it; a sparse batch whose range holds
 * too many rows falls back to point reads past the rows read. Both must
 * count exactly what a read per document would. */
static void test_counts_dense_and_sparse_batches(void **state)
{
    struct conf *f = *state;
    char j[CCF_JOB_ID_LEN + 1], (*ids)[16] = calloc(6000, sizeof(*ids));
    struct ccf_document *d = calloc(3000, sizeof(*d));
    struct ccf_job_stats st;
    size_t n = 0;

    assert_non_null(ids);
    assert_non_null(d);
    for (int i = 0; i < 6000; i++)
        snprintf(ids[i], sizeof(ids[i]), "d%05d", i);
    /* Stored by an operator: the even ids, S1 when i % 4 == 0, else S2. */
    for (int i = 0; i < 6000; i += 2)
        d[n++] = (struct ccf_document){.id = ids[i], .checksum = i % 4 ? S2 : S1};
    assert_int_equal(store_put_documents(f->s, &f->t1, f->cid, d, n), 0);
    docs_fx_run_job(AT(f), j, false);

    /* Dense, in reverse order (the store sorts): 0..199 with S1, so 50
     * unchanged (i % 4 == 0), 50 updated (even, not % 4), 100 added. */
    n = 0;
    for (int i = 199; i >= 0; i--)
        d[n++] = (struct ccf_document){.id = ids[i], .checksum = S1};
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j, d, n), 0);
    st = docs_fx_stats(AT(f), j);
    assert_int_equal(st.documents_unchanged, 50);
    assert_int_equal(st.documents_updated, 50);
    assert_int_equal(st.documents_added, 100);

    /* Sparse: 3 ids over ~2900 stored rows, past what the scan may read:
     * 4000 unchanged (S1 stored), 5998 updated (S2 stored), 5999 added. */
    d[0] = (struct ccf_document){.id = ids[5999], .checksum = S1};
    d[1] = (struct ccf_document){.id = ids[4000], .checksum = S1};
    d[2] = (struct ccf_document){.id = ids[5998], .checksum = S1};
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j, d, 3), 0);
    st = docs_fx_stats(AT(f), j);
    assert_int_equal(st.documents_unchanged, 51);
    assert_int_equal(st.documents_updated, 51);
    assert_int_equal(st.documents_added, 101);

    /* A duplicate id would be counted twice against the same stored row:
     * refused, nothing written or counted. */
    d[0] = (struct ccf_document){.id = ids[7], .checksum = S1};
    d[1] = (struct ccf_document){.id = ids[7], .checksum = S2};
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j, d, 2), CCF_EINVAL);
    st = docs_fx_stats(AT(f), j);
    assert_int_equal(st.documents_added + st.documents_updated + st.documents_unchanged, 203);
    free(d);
    free(ids);
}

struct sums {
    char text[8][40]; /* "id=checksum's first char" per document, in order */
    size_t n;
};

static int on_sum(void *ctx, const struct ccf_document *d)
{
    struct sums *l = ctx;

    assert_true(l->n < 8);
    snprintf(l->text[l->n++], sizeof(l->text[0]), "%s=%c", d->id, d->checksum[0]);
    return 0;
}

static void expect_unseen(struct conf *f, const char *jid, const char *want)
{
    struct store_page p = {.limit = 10};
    struct docs_fx_ids l = {0};
    char got[64] = "";

    assert_int_equal(
        store_list_documents_not_seen(f->s, &f->t1, f->cid, jid, &p, docs_fx_on_doc, &l, NULL), 0);
    for (size_t i = 0; i < l.n; i++) {
        strncat(got, l.v[i], sizeof(got) - strlen(got) - 1);
        strncat(got, " ", sizeof(got) - strlen(got) - 1);
    }
    assert_string_equal(got, want);
    docs_fx_ids_free(&l);
}

/* A put by the writer that made the document's latest put (the same job,
 * or an operator after an operator) keeps its index entry and only
 * changes checksum and updated_at; any other moves it. One batch mixes
 * both, and both must land as a plain upsert would. */
static void test_repeat_puts_keep_or_move(void **state)
{
    struct conf *f = *state;
    char j1[CCF_JOB_ID_LEN + 1];
    struct ccf_document first[] = {
        {.id = "a", .checksum = S1}, {.id = "b", .checksum = S1}, {.id = "c", .checksum = S1}};
    struct ccf_document again[] = {{.id = "a", .checksum = S1},  /* same job, unchanged */
                                   {.id = "b", .checksum = S2},  /* same job, updated */
                                   {.id = "e", .checksum = S1},  /* the operator's: moves */
                                   {.id = "f", .checksum = S2}}; /* new */
    struct ccf_document op[] = {{.id = "a", .checksum = S1}, {.id = "b", .checksum = S2}};
    struct store_page p = {.limit = 10};
    struct ccf_job_stats st;
    struct sums l = {0};

    docs_fx_run_job(AT(f), j1, false);
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j1, first, 3), 0);
    docs_fx_put(AT(f), NULL, "e", S1);
    expect_unseen(f, j1, "e ");
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j1, again, 4), 0);
    expect_unseen(f, j1, "");
    st = docs_fx_stats(AT(f), j1);
    assert_int_equal(st.documents_added, 4);
    assert_int_equal(st.documents_updated, 1);
    assert_int_equal(st.documents_unchanged, 2);

    /* The operator takes a and b (they move), then puts b again (kept). */
    assert_int_equal(store_put_documents(f->s, &f->t1, f->cid, op, 2), 0);
    op[1].checksum = S1;
    assert_int_equal(store_put_documents(f->s, &f->t1, f->cid, op + 1, 1), 0);
    expect_unseen(f, j1, "a b ");
    assert_int_equal(store_list_documents(f->s, &f->t1, f->cid, &p, on_sum, &l, NULL), 0);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.text[0], "a=1");
    assert_string_equal(l.text[1], "b=1");
    assert_string_equal(l.text[2], "c=1");
    assert_string_equal(l.text[3], "e=1");
    assert_string_equal(l.text[4], "f=2");
}

static void test_other_key_resets(void **state)
{
    struct conf *f = *state;
    char j1[CCF_JOB_ID_LEN + 1], j2[CCF_JOB_ID_LEN + 1];
    struct store_page p = {.limit = 10};
    struct docs_fx_ids l = {0};

    docs_fx_run_job(AT(f), j1, true);
    docs_fx_put(AT(f), j1, "a", S1);
    docs_fx_put(AT(f), j1, "b", S1);
    docs_fx_put(AT(f), j1, "c", S1);
    docs_fx_put(AT(f), NULL, "b", S1); /* same checksum: still the operator's put */
    docs_fx_run_job(AT(f), j2, false);
    docs_fx_put(AT(f), j2, "c", S1);

    assert_int_equal(
        store_list_documents_not_seen(f->s, &f->t1, f->cid, j1, &p, docs_fx_on_doc, &l, NULL), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "b");
    assert_string_equal(l.v[1], "c");
    docs_fx_ids_free(&l);
    assert_int_equal(
        store_list_documents_not_seen(f->s, &f->t1, f->cid, j2, &p, docs_fx_on_doc, &l, NULL), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "a");
    assert_string_equal(l.v[1], "b");
    docs_fx_ids_free(&l);
}

static void test_unseen_not_found(void **state)
{
    struct conf *f = *state;
    struct ccf_connector other = {.name = (char *)"o", .properties = (char *)PROPS};
    struct store_page p = {.limit = 10};
    char j[CCF_JOB_ID_LEN + 1];
    struct docs_fx_ids l = {0};
    struct ccf_tenant t2;

    docs_fx_run_job(AT(f), j, false);
    assert_int_equal(store_create_connector(f->s, &f->t1, &other), 0);
    assert_int_equal(
        store_list_documents_not_seen(f->s, &f->t1, other.id, j, &p, docs_fx_on_doc, &l, NULL),
        CCF_ENOTFOUND);
    assert_int_equal(
        store_list_documents_not_seen(f->s, &f->t1, f->cid, NO_ID_J, &p, docs_fx_on_doc, &l, NULL),
        CCF_ENOTFOUND);
    assert_int_equal(store_list_documents_not_seen(f->s, &f->t1, f->cid, "ccj-bad", &p,
                                                   docs_fx_on_doc, &l, NULL),
                     CCF_ENOTFOUND);
    assert_int_equal(ccf_tenant_init(&t2, "us-east-1", "222222222222"), 0);
    assert_int_equal(
        store_list_documents_not_seen(f->s, &t2, f->cid, j, &p, docs_fx_on_doc, &l, NULL),
        CCF_ENOTFOUND);
    p.after = "bad\x01key";
    assert_int_equal(
        store_list_documents_not_seen(f->s, &f->t1, f->cid, j, &p, docs_fx_on_doc, &l, NULL),
        CCF_EINVAL);
    assert_int_equal(l.n, 0);
}

/* Three jobs and an operator leave documents in four ranges of the index
 * (NULL, j1, j3 and j2's own); the merge must give exactly the expected
 * ids, in order, across page boundaries of any size. */
static void test_unseen_pages(void **state)
{
    struct conf *f = *state;
    enum { N = 2500 };
    char j1[CCF_JOB_ID_LEN + 1], j2[CCF_JOB_ID_LEN + 1], j3[CCF_JOB_ID_LEN + 1];
    struct ccf_document *d = calloc(N, sizeof(*d));
    char(*id)[16] = calloc(N, sizeof(*id));
    struct docs_fx_ids want = {0}, got = {0};
    size_t n2 = 0, n3 = 0, limits[] = {1, 7, 1000};
    struct ccf_document *d2 = calloc(N, sizeof(*d2)), *d3 = calloc(N, sizeof(*d3));

    for (size_t i = 0; i < N; i++) {
        snprintf(id[i], sizeof(id[i]), "doc-%05zu", (i * 7919) % N); /* not in id order */
        d[i] = (struct ccf_document){.id = id[i], .checksum = S1};
    }
    docs_fx_run_job(AT(f), j1, true);
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j1, d, N), 0);
    docs_fx_run_job(AT(f), j2, true);
    for (size_t i = 0; i < N; i++) {
        if (i % 3 != 0)
            d2[n2++] = d[i];
    }
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j2, d2, n2), 0);
    docs_fx_run_job(AT(f), j3, false);
    for (size_t i = 0; i < N; i++) {
        if (i % 5 == 0)
            d3[n3++] = d[i];
    }
    assert_int_equal(store_put_documents_by(f->s, &f->t1, f->cid, j3, d3, n3), 0);
    for (size_t i = 0; i < N; i += 7)
        docs_fx_put(AT(f), NULL, id[i], S2);
    for (size_t i = 0; i < N; i++) {
        if (i % 3 == 0 || i % 5 == 0 || i % 7 == 0)
            docs_fx_on_doc(&want, &d[i]);
    }
    qsort(want.v, want.n, sizeof(*want.v), d_cmp_str);
    for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
        docs_fx_unseen_all(AT(f), j2, limits[k], &got);
        assert_int_equal(got.n, want.n);
        for (size_t i = 0; i < want.n; i++)
            assert_string_equal(got.v[i], want.v[i]);
        docs_fx_ids_free(&got);
    }
    docs_fx_ids_free(&want);
    free(d);
    free(d2);
    free(d3);
    free(id);
}

const struct CMUnitTest conf_docstats[] = {
    cmocka_unit_test_setup_teardown(test_counts_one_batch, conf_setup_cid, conf_teardown),
    cmocka_unit_test_setup_teardown(test_counts_dense_and_sparse_batches, conf_setup_cid,
                                    conf_teardown),
    cmocka_unit_test_setup_teardown(test_repeat_puts_keep_or_move, conf_setup_cid, conf_teardown),
    cmocka_unit_test_setup_teardown(test_other_key_resets, conf_setup_cid, conf_teardown),
    cmocka_unit_test_setup_teardown(test_unseen_not_found, conf_setup_cid, conf_teardown),
    cmocka_unit_test_setup_teardown(test_unseen_pages, conf_setup_cid, conf_teardown),
};
const size_t conf_docstats_n = sizeof(conf_docstats) / sizeof(conf_docstats[0]);
