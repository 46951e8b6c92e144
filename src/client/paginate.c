/* paginate.c: walks every page of a list, item by item. Page sizes are
 * chosen so that max_items ends on a page boundary, which makes the
 * server's next_token an exact place to resume from. A server that sends
 * an empty page with a next_token, the same token twice, or more items than
 * asked would loop or lose items: that is reported, never followed. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "core/banned.h"

enum kind { CONNECTORS, JOBS, DOCUMENTS };

struct walk {
    enum kind kind;
    const char *cid;
    const char *status;
    const char *not_seen_by_job; /* documents: NULL for all */
    ccf_client_connector_fn connector_fn;
    ccf_client_job_fn job_fn;
    ccf_client_document_fn document_fn;
    void *ctx;
};

/* One page: delivers its items; *next gets its token (owned), *n its size. */
static int one_page(struct ccf_client *c, const struct walk *w, const struct ccf_client_page *pg,
                    char **next, size_t *n)
{
    struct ccf_client_connector_list cl = {0};
    struct ccf_client_job_list jl = {0};
    struct ccf_client_document_list dl = {0};
    int rc;

    if (w->kind == CONNECTORS)
        rc = ccf_client_list_connectors(c, pg, &cl);
    else if (w->kind == JOBS)
        rc = ccf_client_list_jobs(c, w->cid, w->status, pg, &jl);
    else
        rc = ccf_client_list_documents_not_seen(c, w->cid, w->not_seen_by_job, pg, &dl);
    if (rc < 0)
        return rc;
    *n = cl.len + jl.len + dl.len;
    if (*n > (size_t)pg->max_results) {
        rc = ccf_client__fail(ccf_client__err(c), CCF_CLIENT_EPROTO,
                              "a page holds %zu items, more than the %d asked for", *n,
                              pg->max_results);
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < *n; i++) {
        if (w->kind == CONNECTORS)
            rc = w->connector_fn(w->ctx, &cl.items[i]);
        else if (w->kind == JOBS)
            rc = w->job_fn(w->ctx, &jl.items[i]);
        else
            rc = w->document_fn(w->ctx, &dl.items[i]);
        if (rc > 0)
            *n = i + 1; /* the callback stopped here */
    }
    *next = cl.next_token ? cl.next_token : jl.next_token ? jl.next_token : dl.next_token;
    cl.next_token = jl.next_token = dl.next_token = NULL;
out:
    ccf_client_connector_list_clear(&cl);
    ccf_client_job_list_clear(&jl);
    ccf_client_document_list_clear(&dl);
    return rc;
}

static int walk_all(struct ccf_client *c, const struct walk *w, struct ccf_client_iter *it)
{
    int max = w->kind == DOCUMENTS ? CCF_CLIENT_DOC_PAGE_MAX : CCF_CLIENT_PAGE_MAX;
    int size = it->page_size > 0 && it->page_size < max ? it->page_size : max;
    char *token = it->starting_token ? strdup(it->starting_token) : NULL, *next;
    size_t n;
    int rc = 0;

    it->count = 0;
    it->next_token = NULL;
    if (it->starting_token && !token)
        return ccf_client__fail(ccf_client__err(c), CCF_CLIENT_ENOMEM, "out of memory");
    for (;;) {
        struct ccf_client_page pg = {.max_results = size, .next_token = token};

        if (it->max_items > 0 && it->max_items - it->count < (size_t)size)
            pg.max_results = (int)(it->max_items - it->count);
        next = NULL;
        n = 0;
        rc = one_page(c, w, &pg, &next, &n);
        it->count += n;
        if (rc != 0)
            break;
        if (next && (n == 0 || (token && strcmp(next, token) == 0))) {
            rc = ccf_client__fail(ccf_client__err(c), CCF_CLIENT_EPROTO,
                                  n ? "the server sent the same next_token twice"
                                    : "the server sent an empty page with a next_token");
            break;
        }
        free(token);
        token = next;
        next = NULL;
        if (!token)
            break;
        if (it->max_items > 0 && it->count >= it->max_items) {
            it->next_token = token; /* more items remain: resume here */
            token = NULL;
            break;
        }
    }
    free(next);
    free(token);
    return rc > 0 ? 0 : rc;
}

int ccf_client_each_connector(struct ccf_client *c, struct ccf_client_iter *it,
                              ccf_client_connector_fn fn, void *ctx)
{
    struct walk w = {.kind = CONNECTORS, .connector_fn = fn, .ctx = ctx};

    return walk_all(c, &w, it);
}

int ccf_client_each_job(struct ccf_client *c, const char *connector_id, const char *status,
                        struct ccf_client_iter *it, ccf_client_job_fn fn, void *ctx)
{
    struct walk w = {.kind = JOBS, .cid = connector_id, .status = status, .job_fn = fn, .ctx = ctx};

    return walk_all(c, &w, it);
}

int ccf_client_each_document(struct ccf_client *c, const char *connector_id,
                             struct ccf_client_iter *it, ccf_client_document_fn fn, void *ctx)
{
    struct walk w = {.kind = DOCUMENTS, .cid = connector_id, .document_fn = fn, .ctx = ctx};

    return walk_all(c, &w, it);
}

int ccf_client_each_document_not_seen(struct ccf_client *c, const char *connector_id,
                                      const char *job_id, struct ccf_client_iter *it,
                                      ccf_client_document_fn fn, void *ctx)
{
    struct walk w = {.kind = DOCUMENTS,
                     .cid = connector_id,
                     .not_seen_by_job = job_id,
                     .document_fn = fn,
                     .ctx = ctx};

    return walk_all(c, &w, it);
}
