/* ckpt_fixture.h: what the tests of checkpoint versions share, on any
 * backend: a connector to hold them, a conditional put, a version's data
 * checked, and one page of the version list. Both tests/test_store_ckpt.c
 * (SQLite's own cases) and the conformance suite's tests/store_conf/ckpt.c
 * use it.
 *
 * Static inline, as store_fixture.h, because the Makefile builds each
 * tests/test_*.c as its own binary. Include cmocka.h (and what it needs)
 * first. */
#ifndef CCF_TESTS_CKPT_FIXTURE_H
#define CCF_TESTS_CKPT_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "store/store.h"

/* A new connector of tenant t, its id in id. */
static inline void ckpt_fx_connector(struct store *s, const struct ccf_tenant *t,
                                     char id[CCF_CONNECTOR_ID_LEN + 1])
{
    struct ccf_connector c = {.name = (char *)"n",
                              .properties = (char *)"{\"command\":[\"/bin/true\"]}"};

    assert_int_equal(store_create_connector(s, t, &c), 0);
    memcpy(id, c.id, CCF_CONNECTOR_ID_LEN + 1);
}

/* store_put_checkpoint_if as the operator: the new version, or the
 * negative error. */
static inline int64_t ckpt_fx_put(struct store *s, const struct ccf_tenant *t, const char *cid,
                                  const char *data, int64_t expect)
{
    int64_t v = -7;
    int rc = store_put_checkpoint_if(s, t, cid, NULL, data, strlen(data), expect, &v);

    return rc < 0 ? rc : v;
}

/* Version version (0: the latest) holds data. */
static inline void ckpt_fx_check(struct store *s, const struct ccf_tenant *t, const char *cid,
                                 int64_t version, const char *data)
{
    struct ccf_checkpoint cp;

    assert_int_equal(store_get_checkpoint_version(s, t, cid, version, &cp), 0);
    assert_string_equal(cp.data, data);
    if (version)
        assert_int_equal(cp.version, version);
    ccf_checkpoint_clear(&cp);
}

/* One page of the version list: each version and its size, in order. */
struct ckpt_fx_versions {
    int64_t v[32];
    int64_t size[32];
    size_t n;
};

static inline int ckpt_fx_on_version(void *ctx, const struct store_cp_version *v)
{
    struct ckpt_fx_versions *l = ctx;

    assert_true(l->n < 32);
    l->v[l->n] = v->version;
    l->size[l->n++] = v->size;
    return 0;
}

/* store_list_checkpoint_versions into *out (emptied first). */
static inline int ckpt_fx_list_versions(struct store *s, const struct ccf_tenant *t,
                                        const char *cid, const char *after, size_t limit,
                                        struct ckpt_fx_versions *out, char **next)
{
    struct store_page p = {.after = after, .limit = limit};

    memset(out, 0, sizeof(*out));
    return store_list_checkpoint_versions(s, t, cid, &p, ckpt_fx_on_version, out, next);
}

#endif
