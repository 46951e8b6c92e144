/* histo.c: lock-free histograms and their Prometheus text format 0.0.4. */
#include "core/histo.h"

/* Wide enough for a GET (a millisecond) and a job's start (tens of seconds). */
const uint64_t ccf_histo_latency_us[] = {1000,    2500,    5000,     10000,    25000,
                                         50000,   100000,  250000,   500000,   1000000,
                                         2500000, 5000000, 10000000, 30000000, 60000000};
const size_t ccf_histo_latency_n = sizeof(ccf_histo_latency_us) / sizeof(ccf_histo_latency_us[0]);

void ccf_histo_init(struct ccf_histo *h, const uint64_t *bounds, size_t nbounds, double scale)
{
    h->bounds = bounds;
    h->nbounds = nbounds < CCF_HISTO_BUCKETS_MAX ? nbounds : CCF_HISTO_BUCKETS_MAX;
    h->scale = scale;
    for (size_t i = 0; i <= CCF_HISTO_BUCKETS_MAX; i++)
        atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum, 0);
}

void ccf_histo_observe(struct ccf_histo *h, uint64_t v)
{
    size_t i = 0;

    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

void ccf_histo_write(const struct ccf_histo *h, FILE *f, const char *name, const char *labels)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;

    /* One read per bucket: the cumulative counts and _count always agree. */
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        fprintf(f, "%s_bucket{%s%sle=\"%.6g\"} %llu\n", name, labels, sep,
                (double)h->bounds[i] * h->scale, (unsigned long long)cum);
    }
    cum += atomic_load_explicit(&h->counts[h->nbounds], memory_order_relaxed);
    fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    fprintf(f, "%s_sum%s%s%s %.9g\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
            (double)atomic_load_explicit(&h->sum, memory_order_relaxed) * h->scale);
    fprintf(f, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
            (unsigned long long)cum);
}
