/* ratelimit.h: token buckets per key (an access key id), for
 * `rate-limit = RPS[:BURST]`. A bucket holds at most BURST tokens, gains RPS
 * a second, and a request takes one; an empty bucket means 429 with a
 * Retry-After of the whole seconds until it holds a token again.
 * Memory is bounded: buckets live in a fixed table (CCF_RATELIMIT_KEYS),
 * made once. A key seen for the first time starts full; a full bucket is
 * the same as none, so it is the first to go when its slot is needed; with
 * none full, the least recently used goes (that key then starts full
 * again: the limit errs towards letting a request through).
 * Must not know about HTTP or auth: a key is a string.
 * Thread rules: create and destroy with no caller in flight; allow is
 * thread-safe, and keys in different shards never wait on each other. */
#ifndef CCF_RATELIMIT_H
#define CCF_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define CCF_RATELIMIT_KEY_MAX   128 /* longer keys are told apart by their hash */
#define CCF_RATELIMIT_KEYS      8192
#define CCF_RATELIMIT_RPS_MIN   0.001
#define CCF_RATELIMIT_RPS_MAX   1000000.0
#define CCF_RATELIMIT_BURST_MAX 1000000u

struct ccf_ratelimit; /* defined in core/ratelimit.c */

/* "RPS[:BURST]": RPS a decimal number in [CCF_RATELIMIT_RPS_MIN,
 * CCF_RATELIMIT_RPS_MAX], BURST an integer 1..CCF_RATELIMIT_BURST_MAX
 * (default: RPS rounded up, at least 1). "0" is no limit (*rps = 0).
 * CCF_EINVAL for anything else; nothing is set then. */
int ccf_ratelimit_parse(const char *s, double *rps, unsigned *burst);

/* CCF_EINVAL if rps or burst is out of the ranges above. */
int ccf_ratelimit_create(struct ccf_ratelimit **out, double rps, unsigned burst);
/* Takes NULL. */
void ccf_ratelimit_destroy(struct ccf_ratelimit *rl);

/* Whether key may make a request at now_us (a monotonic clock, in
 * microseconds). With take, an allowed request uses up its token; without,
 * it only looks (a request not yet authenticated must not spend another's
 * tokens). When refused, *retry_after_s gets the whole seconds (>= 1)
 * until a token is there. */
bool ccf_ratelimit_allow(struct ccf_ratelimit *rl, const char *key, int64_t now_us, bool take,
                         unsigned *retry_after_s);

#endif
