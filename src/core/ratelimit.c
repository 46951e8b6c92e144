/* ratelimit.c: token buckets in a fixed, sharded table. A key hashes to one
 * of SHARDS shards, each a mutex and SLOTS buckets searched by hash: a
 * request holds one shard's lock for a few dozen compares, and two keys
 * meet only if they share a shard. Tokens are refilled lazily, from the time
 * a bucket was last looked at. */
#include "core/ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define SHARDS 128
#define SLOTS  (CCF_RATELIMIT_KEYS / SHARDS)

struct bucket {
    uint64_t hash; /* 0: a free slot */
    int64_t last_us;
    double tokens;
    char key[CCF_RATELIMIT_KEY_MAX + 1];
};

/* Aligned so that two shards' locks never share a cache line. */
struct shard {
    _Alignas(64) pthread_mutex_t mu;
    struct bucket b[SLOTS];
};

struct ccf_ratelimit {
    double rps;
    double burst;
    struct shard *shards;
};

/* The least whole number >= x, for 0 <= x <= 1e9 (no libm for this). */
static unsigned long ceil_u(double x)
{
    unsigned long n = (unsigned long)x;

    return (double)n < x ? n + 1 : n;
}

/* FNV-1a, never 0 (0 marks a free slot). */
static uint64_t key_hash(const char *key)
{
    uint64_t h = 14695981039346656037ULL;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

int ccf_ratelimit_parse(const char *s, double *rps, unsigned *burst)
{
    char *end;
    double r;
    unsigned long b;

    if (!s || s[0] < '0' || s[0] > '9')
        return CCF_EINVAL; /* no sign, no blank, no "inf" or "nan" */
    errno = 0;
    r = strtod(s, &end);
    if (errno != 0 || end == s || (*end != '\0' && *end != ':'))
        return CCF_EINVAL;
    if (r == 0 && *end == '\0') {
        *rps = 0;
        *burst = 0;
        return 0;
    }
    if (!(r >= CCF_RATELIMIT_RPS_MIN && r <= CCF_RATELIMIT_RPS_MAX))
        return CCF_EINVAL;
    b = ceil_u(r);
    if (*end == ':') {
        s = end + 1;
        if (s[0] < '0' || s[0] > '9')
            return CCF_EINVAL;
        b = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || b < 1 || b > CCF_RATELIMIT_BURST_MAX)
            return CCF_EINVAL;
    }
    *rps = r;
    *burst = b < 1 ? 1 : (unsigned)b;
    return 0;
}

int ccf_ratelimit_create(struct ccf_ratelimit **out, double rps, unsigned burst)
{
    struct ccf_ratelimit *rl;

    if (!(rps >= CCF_RATELIMIT_RPS_MIN && rps <= CCF_RATELIMIT_RPS_MAX) || burst < 1 ||
        burst > CCF_RATELIMIT_BURST_MAX)
        return CCF_EINVAL;
    rl = ccf_xcalloc(1, sizeof(*rl));
    rl->rps = rps;
    rl->burst = burst;
    if (posix_memalign((void **)&rl->shards, 64, SHARDS * sizeof(struct shard)) != 0)
        abort(); /* as ccf_xmalloc: out of memory at start-up */
    memset(rl->shards, 0, SHARDS * sizeof(struct shard));
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_init(&rl->shards[i].mu, NULL);
    *out = rl;
    return 0;
}

void ccf_ratelimit_destroy(struct ccf_ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&rl->shards[i].mu);
    free(rl->shards);
    free(rl);
}

/* The bucket's tokens at now_us. */
static double refilled(const struct ccf_ratelimit *rl, const struct bucket *b, int64_t now_us)
{
    double t = b->tokens;

    if (now_us > b->last_us)
        t += (double)(now_us - b->last_us) * rl->rps / 1e6;
    return t < rl->burst ? t : rl->burst;
}

/* key's bucket in sh, or NULL. */
static struct bucket *find(struct shard *sh, uint64_t h, const char *key)
{
    for (size_t i = 0; i < SLOTS; i++) {
        struct bucket *b = &sh->b[i];
        if (b->hash == h && strncmp(b->key, key, CCF_RATELIMIT_KEY_MAX) == 0)
            return b;
    }
    return NULL;
}

/* A slot for a new bucket: a free one, else a full one (nothing is lost),
 * else the least recently used. */
static struct bucket *slot_for(const struct ccf_ratelimit *rl, struct shard *sh, int64_t now_us)
{
    struct bucket *lru = &sh->b[0];

    for (size_t i = 0; i < SLOTS; i++) {
        struct bucket *b = &sh->b[i];
        if (b->hash == 0 || refilled(rl, b, now_us) >= rl->burst)
            return b;
        if (b->last_us < lru->last_us)
            lru = b;
    }
    return lru;
}

static unsigned retry_after(const struct ccf_ratelimit *rl, double tokens)
{
    double s = (1.0 - tokens) / rl->rps; /* tokens < 1: s > 0 */

    if (!(s <= 86400))
        return 86400;
    return s <= 1 ? 1 : (unsigned)ceil_u(s);
}

bool ccf_ratelimit_allow(struct ccf_ratelimit *rl, const char *key, int64_t now_us, bool take,
                         unsigned *retry_after_s)
{
    uint64_t h = key_hash(key);
    struct shard *sh = &rl->shards[h % SHARDS];
    struct bucket *b;
    double t;
    size_t n;
    bool ok;

    pthread_mutex_lock(&sh->mu);
    b = find(sh, h, key);
    if (!b && !take) { /* a key with no bucket has a full one */
        pthread_mutex_unlock(&sh->mu);
        return true;
    }
    if (!b) {
        b = slot_for(rl, sh, now_us);
        b->hash = h;
        n = strnlen(key, CCF_RATELIMIT_KEY_MAX);
        memcpy(b->key, key, n);
        b->key[n] = '\0';
        b->tokens = rl->burst;
        b->last_us = now_us;
    }
    t = refilled(rl, b, now_us);
    ok = t >= 1.0;
    if (take) {
        b->tokens = ok ? t - 1.0 : t;
        b->last_us = now_us > b->last_us ? now_us : b->last_us;
    }
    pthread_mutex_unlock(&sh->mu);
    if (!ok)
        *retry_after_s = retry_after(rl, t);
    return ok;
}
