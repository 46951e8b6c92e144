/* jobs.c: per-job credentials. Each job gets a key pair and a session token
 * scoped to its connector, valid until the job ends (revoke) or a maximum
 * lifetime passes. The table is copied on write: a writer builds the next
 * table, writes it to the per-job file (so that a job re-adopted after a
 * restart keeps working), then swaps it in. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_int.h"
#include "core/log.h"

#define TOKEN_LEN 96 /* 576 bits from the CSPRNG */

/* Swaps next in; the caller holds job_write. The file comes first. An
 * issued key that could not be stored is not handed out (strict); a revoke
 * takes effect in memory even when the file cannot be rewritten. */
static int publish(struct auth *a, struct auth__table *next, bool strict)
{
    struct auth__table *old;
    int rc = 0;

    if (a->job_credentials_path)
        rc = auth__table_write(a->job_credentials_path, AUTH__FILE_JOBS, next);
    if (rc < 0 && strict) {
        auth__table_free(next);
        return rc;
    }
    pthread_mutex_lock(&a->lock);
    old = a->jobs;
    a->jobs = next;
    pthread_mutex_unlock(&a->lock);
    auth__table_free(old);
    return rc;
}

/* Removes job_id's keys and the expired ones; true if any went. */
static bool prune(struct auth__table *t, const char *job_id, int64_t now)
{
    bool removed = false;

    for (size_t i = t->n; i-- > 0;) {
        const struct auth__cred *c = &t->v[i];
        if ((job_id && strcmp(c->job_id, job_id) == 0) ||
            (c->expires_at > 0 && c->expires_at <= now)) {
            auth__table_remove_at(t, i);
            removed = true;
        }
    }
    return removed;
}

static int new_job_cred(struct auth *a, const struct ccf_tenant *t, const char *connector_id,
                        const char *job_id, struct auth__cred *c)
{
    struct ccf_tenant check;
    int rc;

    if (!ccf_connector_id_valid(connector_id) || !ccf_job_id_valid(job_id) ||
        ccf_tenant_init(&check, t->region, t->account_id) < 0)
        return CCF_EINVAL;
    if ((rc = auth__new_key_pair("ASIA", c)) < 0 ||
        (rc = auth__random_chars(c->token, TOKEN_LEN, AUTH__BASE64)) < 0)
        return rc;
    memcpy(c->account_id, check.account_id, sizeof(c->account_id));
    memcpy(c->region, check.region, sizeof(c->region));
    memcpy(c->connector_id, connector_id, CCF_CONNECTOR_ID_LEN + 1);
    memcpy(c->job_id, job_id, CCF_JOB_ID_LEN + 1);
    c->expires_at = (int64_t)time(NULL) + a->job_lifetime_s;
    return 0;
}

int auth_job_credentials_issue(void *auth, const struct ccf_tenant *t, const char *connector_id,
                               const char *job_id, char key_id[64], char secret[128],
                               char token[512])
{
    struct auth *a = auth;
    struct auth__table *next;
    struct auth__cred c = {0};
    int rc;

    if ((rc = new_job_cred(a, t, connector_id, job_id, &c)) < 0)
        goto out;
    pthread_mutex_lock(&a->job_write);
    next = auth__table_copy(a->jobs);
    prune(next, job_id, (int64_t)time(NULL));
    /* 80 random bits: a clash means a broken CSPRNG, not bad luck. */
    if ((rc = auth__table_insert(next, &c)) < 0) {
        auth__table_free(next);
        rc = CCF_EIO;
    } else {
        rc = publish(a, next, true);
    }
    pthread_mutex_unlock(&a->job_write);
    if (rc < 0)
        goto out;
    /* 20, 40 and TOKEN_LEN characters: they fit the orchestrator's 64, 128, 512. */
    memcpy(key_id, c.key_id, strlen(c.key_id) + 1);
    memcpy(secret, c.secret, strlen(c.secret) + 1);
    memcpy(token, c.token, strlen(c.token) + 1);
    CCF_LOG_INFO("auth.job_credentials_issued", CCF_KV_STR("job_id", job_id),
                 CCF_KV_STR("connector_id", connector_id), CCF_KV_STR("access_key_id", c.key_id),
                 CCF_KV_INT("expires_at", c.expires_at));
out:
    OPENSSL_cleanse(&c, sizeof(c));
    return rc;
}

void auth_job_credentials_revoke(void *auth, const char *job_id)
{
    struct auth *a = auth;
    struct auth__table *next;
    bool removed;
    int rc = 0;

    pthread_mutex_lock(&a->job_write);
    next = auth__table_copy(a->jobs);
    removed = prune(next, job_id, (int64_t)time(NULL));
    if (removed)
        rc = publish(a, next, false);
    else
        auth__table_free(next);
    pthread_mutex_unlock(&a->job_write);
    if (rc < 0) /* revoked here, but a restart would read the key back from the file */
        CCF_LOG_ERROR("auth.job_credentials_revoke_failed", CCF_KV_STR("job_id", job_id),
                      CCF_KV_STR("hint", "after a restart the key is valid until it expires"));
    else if (removed)
        CCF_LOG_INFO("auth.job_credentials_revoked", CCF_KV_STR("job_id", job_id));
}
