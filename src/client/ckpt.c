/* ckpt.c: libccf's checkpoint versions, conditional puts and client tokens
 * (CONTRACT-OPS.md). The requests are the existing ones with a member added
 * to the body or a suffix to the target: a condition travels as the body's
 * expected_version, never as If-Match, so that nothing depends on which
 * headers libcurl's SigV4 signs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"
#include "core/banned.h"

int ccf_client_token_new(char out[33])
{
    unsigned char b[16];
    ssize_t n = -1;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        do
            n = read(fd, b, sizeof(b));
        while (n < 0 && errno == EINTR);
        close(fd);
    }
    if (n != (ssize_t)sizeof(b))
        return CCF_CLIENT_EIO;
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

int ccf_client__body_add(struct ccf_client__req *r, const char *key, json_t *v,
                         struct ccf_client_error *err)
{
    json_t *root = r->body ? json_loadb(r->body, r->body_len, JSON_ALLOW_NUL, NULL) : json_object();
    char *text;
    int rc = 0;

    if (!v) {
        rc = ccf_client__fail(err, CCF_CLIENT_EINVAL, "%s is not valid UTF-8", key);
    } else if (!json_is_object(root) || json_object_set(root, key, v) < 0 ||
               !(text = json_dumps(root, JSON_COMPACT))) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    } else {
        free(r->body);
        r->body = text;
        r->body_len = strlen(text);
    }
    json_decref(v);
    json_decref(root);
    if (rc < 0)
        ccf_client__req_clear(r);
    return rc;
}

/* Appends suffix (already encoded) to r's target. */
static int target_add(struct ccf_client__req *r, const char *suffix, struct ccf_client_error *err)
{
    size_t a = strlen(r->target), b = strlen(suffix);
    char *t = malloc(a + b + 1);

    if (!t) {
        ccf_client__req_clear(r);
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    }
    memcpy(t, r->target, a);
    memcpy(t + a, suffix, b + 1);
    free(r->target);
    r->target = t;
    return 0;
}

static int send_parse(struct ccf_client *c, int rc, struct ccf_client__req *r,
                      struct ccf_client__resp *resp)
{
    if (rc == 0)
        rc = ccf_client__perform(c, r, resp);
    ccf_client__req_clear(r);
    return rc;
}

static void done(struct ccf_client *c, int rc, struct ccf_client__resp *resp)
{
    struct ccf_client_error *err = ccf_client__err(c);

    if (rc == CCF_CLIENT_EPROTO && err->http_status == 0) {
        err->http_status = resp->status;
        memcpy(err->request_id, resp->request_id, sizeof(err->request_id));
    }
    ccf_client__resp_clear(resp);
}

int ccf_client_start_job_token(struct ccf_client *c, const char *connector_id,
                               const struct ccf_client_env *env, size_t env_len,
                               const char *client_token, struct ccf_client_job *out)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    int rc = ccf_client__build_start_job(&r, connector_id, env, env_len, ccf_client__err(c));

    if (rc == 0 && client_token)
        rc =
            ccf_client__body_add(&r, "client_token", json_string(client_token), ccf_client__err(c));
    if ((rc = send_parse(c, rc, &r, &resp)) == 0)
        rc = ccf_client__parse_job_response(resp.body, resp.len, out, ccf_client__err(c));
    done(c, rc, &resp);
    return rc;
}

int ccf_client_put_checkpoint_if(struct ccf_client *c, const char *connector_id, const char *data,
                                 size_t len, int64_t expected_version, int64_t *version)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    json_t *root = NULL, *v;
    int rc = ccf_client__build_put_checkpoint(&r, connector_id, data, len, ccf_client__err(c));

    if (rc == 0 && expected_version >= 0)
        rc = ccf_client__body_add(&r, "expected_version", json_integer(expected_version),
                                  ccf_client__err(c));
    if ((rc = send_parse(c, rc, &r, &resp)) < 0)
        goto out;
    if ((rc = ccf_client__parse_empty_response(resp.body, resp.len, ccf_client__err(c))) < 0)
        goto out;
    /* A server from before versions answers {}: version 0, unknown. */
    root = resp.len ? json_loadb(resp.body, resp.len, 0, NULL) : NULL;
    v = json_object_get(root, "version");
    if (version)
        *version = json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
out:
    json_decref(root);
    done(c, rc, &resp);
    return rc;
}

int ccf_client_get_checkpoint_version(struct ccf_client *c, const char *connector_id,
                                      int64_t version, struct ccf_client_checkpoint *out)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__req r;
    char q[40];
    int rc;

    if (version < 0)
        return ccf_client__fail(ccf_client__err(c), CCF_CLIENT_EINVAL, "version must be >= 1");
    rc = ccf_client__build_checkpoint(&r, "GET", connector_id, ccf_client__err(c));
    snprintf(q, sizeof(q), "?version=%" PRId64, version);
    if (rc == 0 && version > 0)
        rc = target_add(&r, q, ccf_client__err(c));
    if ((rc = send_parse(c, rc, &r, &resp)) == 0)
        rc = ccf_client__parse_checkpoint_response(resp.body, resp.len, out, ccf_client__err(c));
    done(c, rc, &resp);
    return rc;
}

void ccf_client_checkpoint_version_list_clear(struct ccf_client_checkpoint_version_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i].created_at);
    free(l->items);
    free(l->next_token);
    memset(l, 0, sizeof(*l));
}

static int parse_versions(const char *body, size_t len,
                          struct ccf_client_checkpoint_version_list *out,
                          struct ccf_client_error *err)
{
    struct ccf_client_checkpoint_version_list l = {0};
    json_t *items = NULL, *it;
    size_t i;
    int rc;

    if ((rc = ccf_client__parse_page(body, len, "versions", &items, &l.next_token, err)) < 0)
        return rc;
    l.items = calloc(json_array_size(items) + 1, sizeof(*l.items));
    if (!l.items) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(items, i, it)
    {
        json_t *v = json_object_get(it, "version"), *sz = json_object_get(it, "size");
        const char *at = json_string_value(json_object_get(it, "created_at"));

        if (!json_is_integer(v) || !json_is_integer(sz) || !at) {
            rc = ccf_client__fail(err, CCF_CLIENT_EPROTO, "versions[%zu] is malformed", i);
            goto out;
        }
        l.items[l.len].version = json_integer_value(v);
        l.items[l.len].size = json_integer_value(sz);
        if (!(l.items[l.len++].created_at = strdup(at))) {
            rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = l;
    memset(&l, 0, sizeof(l));
out:
    ccf_client_checkpoint_version_list_clear(&l);
    json_decref(items);
    return rc;
}

int ccf_client_list_checkpoint_versions(struct ccf_client *c, const char *connector_id,
                                        const struct ccf_client_page *page,
                                        struct ccf_client_checkpoint_version_list *out)
{
    struct ccf_client__resp resp = {0};
    struct ccf_client__query q = {0};
    struct ccf_client__req r;
    char *qs = NULL;
    int rc = ccf_client__build_checkpoint(&r, "GET", connector_id, ccf_client__err(c));

    if (rc == 0 && page && page->max_results > 0)
        rc = ccf_client__query_add_int(&q, "max_results", page->max_results);
    if (rc == 0 && page)
        rc = ccf_client__query_add(&q, "next_token", page->next_token);
    if (rc == 0 && !(qs = ccf_client__query_build(&q)))
        rc = ccf_client__fail(ccf_client__err(c), CCF_CLIENT_ENOMEM, "out of memory");
    if (rc == 0 && (rc = target_add(&r, "/versions", ccf_client__err(c))) == 0)
        rc = target_add(&r, qs, ccf_client__err(c));
    ccf_client__query_clear(&q);
    free(qs);
    if (rc < 0 && r.target)
        ccf_client__req_clear(&r);
    if ((rc = send_parse(c, rc, &r, &resp)) == 0)
        rc = parse_versions(resp.body, resp.len, out, ccf_client__err(c));
    done(c, rc, &resp);
    return rc;
}
