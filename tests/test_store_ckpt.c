/* test_store_ckpt.c: what is the SQLite backend's own about checkpoint
 * versions and client tokens (issue 12): the migration of an older file.
 * Their behaviour on every backend is the conformance suite's
 * (tests/store_conf/ckpt.c). */
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

#define PROPS  "{\"command\":[\"/bin/true\"]}"
#define BIT(s) (1u << (s))

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t1, t2;
};

static int fx_open(struct fx *f, int history)
{
    return store_fx_open(&f->s, f->path, "NORMAL", history);
}

static int setup_history(void **state, int history)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    store_fx_mkdtemp("ckpt", f->dir, f->path);
    assert_int_equal(ccf_tenant_init(&f->t1, "us-east-1", "111111111111"), 0);
    assert_int_equal(ccf_tenant_init(&f->t2, "us-east-1", "222222222222"), 0);
    assert_int_equal(fx_open(f, history), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_history(state, 0); /* the default, 10 */
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_remove(f->s, f->dir);
    free(f);
    return 0;
}

static int64_t raw_int(struct fx *f, const char *sql)
{
    return store_fx_int(f->path, sql);
}

static void mk_connector(struct fx *f, const struct ccf_tenant *t,
                         char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = (char *)"n", .properties = (char *)PROPS};

    assert_int_equal(store_create_connector(f->s, t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
}

static int64_t put(struct fx *f, const char *cid, const char *data, int64_t expect)
{
    int64_t v = -7;
    int rc = store_put_checkpoint_if(f->s, &f->t1, cid, NULL, data, strlen(data), expect, &v);

    return rc < 0 ? rc : v;
}

static void check_version(struct fx *f, const char *cid, int64_t version, const char *data)
{
    struct ccf_checkpoint cp;

    assert_int_equal(store_get_checkpoint_version(f->s, &f->t1, cid, version, &cp), 0);
    assert_string_equal(cp.data, data);
    if (version)
        assert_int_equal(cp.version, version);
    ccf_checkpoint_clear(&cp);
}

/* ---- versions ---- */

struct vlist {
    int64_t v[32];
    int64_t size[32];
    size_t n;
};

static int on_version(void *ctx, const struct store_cp_version *v)
{
    struct vlist *l = ctx;

    assert_true(l->n < 32);
    l->v[l->n] = v->version;
    l->size[l->n++] = v->size;
    return 0;
}

static int list_versions(struct fx *f, const char *cid, const char *after, size_t limit,
                         struct vlist *out, char **next)
{
    struct store_page p = {.after = after, .limit = limit};

    memset(out, 0, sizeof(*out));
    return store_list_checkpoint_versions(f->s, &f->t1, cid, &p, on_version, out, next);
}

/* ---- tokens ---- */

/* Eight threads create with one token at once: one connector. */
struct racer {
    struct fx *f;
    pthread_barrier_t *bar;
    char id[CCF_CONNECTOR_ID_LEN + 1];
    int rc;
};

/* ---- migration ---- */

static void test_migrates_a_version_5_file(void **state)
{
    struct fx *f = *state;
    struct vlist l;
    char cid[CCF_CONNECTOR_ID_LEN + 1], *next = NULL;

    mk_connector(f, &f->t1, cid);
    assert_int_equal(put(f, cid, "old", STORE_CP_ANY), 1);
    store_close(f->s);
    f->s = NULL;
    /* Back to what a version 5 file (schedules, before versions) holds,
     * data kept. */
    store_downgrade(f->path, 5);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM pragma_table_info('checkpoints') "
                                "WHERE name = 'version'"),
                     0);
    assert_int_equal(fx_open(f, 0), 0);
    assert_int_equal(raw_int(f, "PRAGMA user_version"), STORE_TEST_SCHEMA_VERSION);
    check_version(f, cid, 1, "old");
    assert_int_equal(list_versions(f, cid, NULL, 10, &l, &next), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0], 1);
    assert_int_equal(l.size[0], 3); /* no size column then: the data's length */
    assert_int_equal(put(f, cid, "newer", 1), 2);
    check_version(f, cid, 1, "old");
    assert_int_equal(list_versions(f, cid, NULL, 10, &l, &next), 0);
    assert_int_equal(l.size[0], 5);
    assert_int_equal(l.size[1], 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrates_a_version_5_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
