/* creds.c: credential entries and tables: validation of every field,
 * sorted insertion and lookup, copies that wipe their secrets, key pairs
 * from the CSPRNG. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

struct auth__table *auth__table_new(void)
{
    return ccf_xcalloc(1, sizeof(struct auth__table));
}

struct auth__table *auth__table_copy(const struct auth__table *t)
{
    struct auth__table *c = auth__table_new();

    if (t && t->n > 0) {
        c->v = ccf_xcalloc(t->n, sizeof(*c->v));
        memcpy(c->v, t->v, t->n * sizeof(*c->v));
        c->n = c->cap = t->n;
    }
    return c;
}

void auth__table_free(struct auth__table *t)
{
    if (!t)
        return;
    if (t->v)
        OPENSSL_cleanse(t->v, t->cap * sizeof(*t->v));
    free(t->v);
    free(t);
}

/* The first index whose key id is not below key_id. */
static size_t lower_bound(const struct auth__table *t, const char *key_id)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->v[mid].key_id, key_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct auth__cred *auth__table_find(const struct auth__table *t, const char *key_id)
{
    size_t i;

    if (!t)
        return NULL;
    i = lower_bound(t, key_id);
    return i < t->n && strcmp(t->v[i].key_id, key_id) == 0 ? &t->v[i] : NULL;
}

int auth__table_insert(struct auth__table *t, const struct auth__cred *c)
{
    size_t i = lower_bound(t, c->key_id);

    if (i < t->n && strcmp(t->v[i].key_id, c->key_id) == 0)
        return CCF_ECONFLICT;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8, bytes;
        struct auth__cred *v;
        if (!ccf_size_mul(cap, sizeof(*v), &bytes))
            abort();
        /* Not realloc: the old block holds secrets and must be wiped. */
        v = ccf_xcalloc(cap, sizeof(*v));
        if (t->n > 0)
            memcpy(v, t->v, t->n * sizeof(*v));
        if (t->v)
            OPENSSL_cleanse(t->v, t->cap * sizeof(*t->v));
        free(t->v);
        t->v = v;
        t->cap = cap;
    }
    memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
    t->v[i] = *c;
    t->n++;
    return 0;
}

void auth__table_remove_at(struct auth__table *t, size_t i)
{
    memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
    t->n--;
    OPENSSL_cleanse(&t->v[t->n], sizeof(*t->v));
}

/* ---- validation ---- */

static bool key_id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < AUTH_KEY_ID_MIN || n > AUTH_KEY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* Printable ASCII without spaces: what survives an INI line, an HTTP
 * header and an environment variable unchanged. */
static bool printable(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);

    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

bool auth__cred_valid(const struct auth__cred *c, enum auth__file_kind kind, const char **why)
{
    struct ccf_tenant t;

    *why = "the section name (the access key id) must be 16 to 128 of A-Z and 0-9";
    if (!key_id_valid(c->key_id))
        return false;
    *why = "secret_access_key must be 16 to 128 printable ASCII characters without spaces";
    if (!printable(c->secret, AUTH_SECRET_MIN, AUTH_SECRET_MAX))
        return false;
    *why = "account_id must be 12 digits";
    if (ccf_tenant_init(&t, "us-east-1", c->account_id) < 0)
        return false;
    *why = "session_token must be 1 to 160 printable ASCII characters without spaces";
    if (c->token[0] && !printable(c->token, 1, AUTH_SESSION_TOKEN_MAX))
        return false;
    *why = "connector_id must be cc- and 12 lowercase hex digits";
    if (c->connector_id[0] && !ccf_connector_id_valid(c->connector_id))
        return false;
    *why = "expires_at must be after 1970";
    if (c->expires_at < 0)
        return false;
    if (kind == AUTH__FILE_JOBS) {
        *why = "a per-job key needs job_id (ccj- and 12 hex), connector_id, region and "
               "session_token";
        return ccf_job_id_valid(c->job_id) && c->connector_id[0] && c->token[0] &&
               ccf_tenant_init(&t, c->region, c->account_id) == 0;
    }
    *why = "job_id and region belong to the per-job credentials file only";
    return !c->job_id[0] && !c->region[0];
}

/* ---- generation ---- */

int auth__random_chars(char *out, size_t n, const char *alphabet)
{
    size_t len = strlen(alphabet);
    unsigned char *raw = ccf_xmalloc(n ? n : 1);
    int rc = ccf_random_bytes(raw, n);

    /* 256 is a multiple of len (32 or 64): the modulo has no bias. */
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            out[i] = alphabet[raw[i] % len];
    out[n] = '\0';
    OPENSSL_cleanse(raw, n);
    free(raw);
    return rc;
}

int auth__new_key_pair(const char *prefix, struct auth__cred *c)
{
    int rc;

    memcpy(c->key_id, prefix, 4);
    if ((rc = auth__random_chars(c->key_id + 4, 16, AUTH__BASE32)) < 0)
        return rc;
    return auth__random_chars(c->secret, 40, AUTH__BASE64);
}
