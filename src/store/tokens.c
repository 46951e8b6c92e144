/* tokens.c: what a create or a start with a client_token answers once its
 * backend's transaction is done, the same on every backend: the new record,
 * the one the token made before (read back through the seam), or that one's
 * id alone when it is gone. Must not know about SQL or any backend. */
#include <stdio.h>
#include <string.h>

#include "store/backend_int.h"

int store__connector_token_outcome(struct store *s, const struct ccf_tenant *t,
                                   struct ccf_connector *c, bool replay,
                                   const char id[CCF_CONNECTOR_ID_LEN + 1], int64_t now)
{
    char made[CCF_CONNECTOR_ID_LEN + 1];
    int rc;

    if (!replay) {
        store__connector_made(c, id, now);
        return STORE_TOKEN_NEW;
    }
    memcpy(made, id, sizeof(made));
    ccf_connector_clear(c);
    rc = store_get_connector(s, t, made, c);
    if (rc == CCF_ENOTFOUND) {
        memset(c, 0, sizeof(*c));
        memcpy(c->id, made, sizeof(made));
        return STORE_TOKEN_GONE;
    }
    return rc < 0 ? rc : STORE_TOKEN_REPLAY;
}

int store__job_token_outcome(struct store *s, const struct ccf_tenant *t, bool replay,
                             const char job_id[CCF_JOB_ID_LEN + 1], struct ccf_job *j,
                             struct ccf_job *out)
{
    int rc;

    if (!replay) {
        store__job_give(j, out);
        return STORE_TOKEN_NEW;
    }
    rc = store_get_job(s, t, j->connector_id, job_id, out);
    if (rc == CCF_ENOTFOUND) { /* purged after its retention */
        memset(out, 0, sizeof(*out));
        memcpy(out->id, job_id, CCF_JOB_ID_LEN + 1);
        memcpy(out->connector_id, j->connector_id, CCF_CONNECTOR_ID_LEN + 1);
        return STORE_TOKEN_GONE;
    }
    return rc < 0 ? rc : STORE_TOKEN_REPLAY;
}

int store__webhook_token_outcome(struct store *s, const struct ccf_tenant *t,
                                 struct store_webhook *w, const char *id)
{
    char made[STORE_WEBHOOK_ID_LEN + 1];
    int rc;

    snprintf(made, sizeof(made), "%s", id); /* id may be w's own */
    store_webhook_clear(w);
    if ((rc = store_get_webhook(s, t, made, w)) == CCF_ENOTFOUND) {
        memcpy(w->id, made, sizeof(made));
        return STORE_TOKEN_GONE;
    }
    return rc < 0 ? rc : STORE_TOKEN_REPLAY;
}
