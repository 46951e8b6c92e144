/* test_store_ckpt.c: what is the SQLite backend's own about checkpoint
 * versions and client tokens (issue 12): the migration of an older file.
 * Their behaviour on every backend is the conformance suite's
 * (tests/store_conf/ckpt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_fixture.h"
#include "core/core.h"
#include "store/store.h"
#include "store_downgrade.h"
#include "store_fixture.h"

struct fx {
    char dir[STORE_FX_DIR_MAX];
    char path[STORE_FX_PATH_MAX];
    struct store *s;
    struct ccf_tenant t1;
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

/* ---- migration ---- */

static void test_migrates_a_version_5_file(void **state)
{
    struct fx *f = *state;
    struct ckpt_fx_versions l;
    char cid[CCF_CONNECTOR_ID_LEN + 1], *next = NULL;

    ckpt_fx_connector(f->s, &f->t1, cid);
    assert_int_equal(ckpt_fx_put(f->s, &f->t1, cid, "old", STORE_CP_ANY), 1);
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
    ckpt_fx_check(f->s, &f->t1, cid, 1, "old");
    assert_int_equal(ckpt_fx_list_versions(f->s, &f->t1, cid, NULL, 10, &l, &next), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0], 1);
    assert_int_equal(l.size[0], 3); /* no size column then: the data's length */
    assert_int_equal(ckpt_fx_put(f->s, &f->t1, cid, "newer", 1), 2);
    ckpt_fx_check(f->s, &f->t1, cid, 1, "old");
    assert_int_equal(ckpt_fx_list_versions(f->s, &f->t1, cid, NULL, 10, &l, &next), 0);
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
