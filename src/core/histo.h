/* histo.h: a fixed-bucket histogram that any number of threads may observe
 * into without a lock (relaxed atomics: a reader may see a bucket a moment
 * before the sum), and its Prometheus text. Owned by whichever module
 * measures; no global. Values are integers in the histogram's unit (e.g.
 * microseconds), printed times its scale (e.g. 1e-6 for seconds). */
#ifndef CCF_CORE_HISTO_H
#define CCF_CORE_HISTO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CCF_HISTO_BUCKETS_MAX 16

struct ccf_histo {
    const uint64_t *bounds; /* static, ascending, nbounds <= CCF_HISTO_BUCKETS_MAX */
    size_t nbounds;
    double scale;
    atomic_uint_fast64_t counts[CCF_HISTO_BUCKETS_MAX + 1]; /* the last: past every bound */
    atomic_uint_fast64_t sum;
};

/* Latency buckets in microseconds, 1 ms to 60 s (printed in seconds). */
extern const uint64_t ccf_histo_latency_us[];
extern const size_t ccf_histo_latency_n;

/* bounds is borrowed for h's life; nbounds is capped at the maximum. */
void ccf_histo_init(struct ccf_histo *h, const uint64_t *bounds, size_t nbounds, double scale);
void ccf_histo_observe(struct ccf_histo *h, uint64_t v);
/* name_bucket/_sum/_count lines; labels is "" or `k="v",...` (no braces). */
void ccf_histo_write(const struct ccf_histo *h, FILE *f, const char *name, const char *labels);

#endif
