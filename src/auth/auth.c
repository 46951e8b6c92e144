/* auth.c: struct auth's life: loading both credential tables, swapping in
 * a reloaded one, and the lookup every request makes. Readers copy the one
 * entry they need while holding the mutex, so an old table can be freed as
 * soon as a writer has swapped it out: no reader ever sees half a table. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_int.h"
#include "core/log.h"

static bool service_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > AUTH__SCOPE_PART_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* Per-job keys that expired while ccfd was down are dropped on load. */
static void drop_expired(struct auth__table *t, int64_t now)
{
    for (size_t i = t->n; i-- > 0;)
        if (t->v[i].expires_at > 0 && t->v[i].expires_at <= now)
            auth__table_remove_at(t, i);
}

static int load_jobs(struct auth *a)
{
    int rc;

    if (!a->job_credentials_path) {
        a->jobs = auth__table_new();
        return 0;
    }
    rc = auth__table_load(a->job_credentials_path, AUTH__FILE_JOBS, &a->jobs);
    if (rc == CCF_ENOTFOUND) {
        a->jobs = auth__table_new();
        return 0;
    }
    if (rc == 0)
        drop_expired(a->jobs, (int64_t)time(NULL));
    return rc;
}

int auth_create(struct auth **out, const struct auth_config *cfg)
{
    struct ccf_tenant t;
    const char *service = cfg->service ? cfg->service : AUTH_SERVICE_DEFAULT;
    struct auth *a;
    int rc;

    if (!cfg->credentials_path || !cfg->region ||
        ccf_tenant_init(&t, cfg->region, "000000000000") < 0 || !service_valid(service) ||
        cfg->job_lifetime_s < 0)
        return CCF_EINVAL;
    a = ccf_xcalloc(1, sizeof(*a));
    a->credentials_path = ccf_xstrdup(cfg->credentials_path);
    a->job_credentials_path =
        cfg->job_credentials_path ? ccf_xstrdup(cfg->job_credentials_path) : NULL;
    memcpy(a->region, t.region, sizeof(a->region));
    snprintf(a->service, sizeof(a->service), "%s", service);
    a->job_lifetime_s = cfg->job_lifetime_s ? cfg->job_lifetime_s : AUTH_JOB_LIFETIME_DEFAULT;
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->job_write, NULL);
    if ((rc = auth__table_load(a->credentials_path, AUTH__FILE_KEYS, &a->keys)) < 0 ||
        (rc = load_jobs(a)) < 0) {
        auth_destroy(a);
        return rc;
    }
    if (a->keys->n == 0)
        CCF_LOG_WARN("auth.credentials_empty", CCF_KV_STR("path", a->credentials_path),
                     CCF_KV_STR("hint", "every request will be refused; add a key with "
                                        "ccfd credentials add"));
    CCF_LOG_INFO("auth.credentials_loaded", CCF_KV_STR("path", a->credentials_path),
                 CCF_KV_INT("keys", a->keys->n), CCF_KV_INT("job_keys", a->jobs->n),
                 CCF_KV_STR("region", a->region), CCF_KV_STR("service", a->service));
    *out = a;
    return 0;
}

void auth_destroy(struct auth *a)
{
    if (!a)
        return;
    auth__table_free(a->keys);
    auth__table_free(a->jobs);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->job_write);
    free(a->credentials_path);
    free(a->job_credentials_path);
    free(a);
}

int auth_credentials_reload(struct auth *a)
{
    struct auth__table *t, *old;
    int rc = auth__table_load(a->credentials_path, AUTH__FILE_KEYS, &t);

    if (rc < 0) {
        CCF_LOG_ERROR("auth.reload_failed", CCF_KV_STR("path", a->credentials_path),
                      CCF_KV_STR("error", ccf_strerror(rc)),
                      CCF_KV_STR("hint", "the keys loaded before stay in use"));
        return rc;
    }
    pthread_mutex_lock(&a->lock);
    old = a->keys;
    a->keys = t;
    pthread_mutex_unlock(&a->lock);
    CCF_LOG_INFO("auth.credentials_reloaded", CCF_KV_STR("path", a->credentials_path),
                 CCF_KV_INT("keys", t->n));
    auth__table_free(old);
    return 0;
}

bool auth__lookup(struct auth *a, const char *key_id, struct auth__cred *out)
{
    const struct auth__cred *c;

    pthread_mutex_lock(&a->lock);
    c = auth__table_find(a->keys, key_id);
    if (!c)
        c = auth__table_find(a->jobs, key_id);
    if (c)
        *out = *c;
    pthread_mutex_unlock(&a->lock);
    return c != NULL;
}

/* The table the credential is in may have been swapped since the lookup:
 * store the key only where the same secret still is. */
void auth__cache_key(struct auth *a, const struct auth__cred *c, const char *date,
                     const unsigned char key[32])
{
    struct auth__cred *e;

    pthread_mutex_lock(&a->lock);
    e = (struct auth__cred *)auth__table_find(a->keys, c->key_id);
    if (!e)
        e = (struct auth__cred *)auth__table_find(a->jobs, c->key_id);
    if (e && CRYPTO_memcmp(e->secret, c->secret, sizeof(e->secret)) == 0) {
        snprintf(e->kdate, sizeof(e->kdate), "%s", date);
        memcpy(e->ksigning, key, sizeof(e->ksigning));
    }
    pthread_mutex_unlock(&a->lock);
}
