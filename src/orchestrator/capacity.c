/* capacity.c: which backend runs a job and what it may hold. The executor
 * routes each job to a backend and reports each backend's capacity; the
 * backends that report the same pool (local and podman both run on this
 * machine) share one budget here. The orchestrator never learns more of a
 * backend than its capacity. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "orchestrator/orchestrator_int.h"

#define REFRESH_US (5 * 1000000LL) /* a cluster's capacity is looked at again this often */

static int pool_of(struct orchestrator *o, const struct executor_capacity *cap)
{
    for (int i = 0; i < o->npools; i++) {
        if (strcmp(o->pools[i].cap.pool, cap->pool) == 0) {
            o->pools[i].cap = *cap; /* the latest word */
            return i;
        }
    }
    if (o->npools == ORCH__POOLS_MAX)
        return CCF_EINVAL;
    o->pools[o->npools].cap = *cap;
    return o->npools++;
}

int orch__pools_refresh(struct orchestrator *o, bool force)
{
    int64_t now = ccf_mono_us();
    int n = executor_backends(o->executor), rc;

    if (!force && o->npools > 0 && now - o->pools_at < REFRESH_US)
        return 0;
    o->pools_at = now;
    for (int i = 0; i < n && i < ORCH__POOLS_MAX; i++) {
        struct executor_capacity cap;
        if ((rc = executor_capacity(o->executor, i, &cap)) < 0) {
            CCF_LOG_WARN("orchestrator.capacity_unknown",
                         CCF_KV_STR("executor", executor_backend_name(o->executor, i)),
                         CCF_KV_STR("error", ccf_strerror(rc)));
            if (o->npools > 0)
                continue; /* keep the last word */
            return rc;
        }
        if ((rc = pool_of(o, &cap)) < 0)
            return rc;
        o->backend_pool[i] = rc;
    }
    return 0;
}

const char *orch__place(struct orchestrator *o, struct orch__job *j, char *reason, size_t n)
{
    struct executor_spec es = {.job_id = j->ref.job_id};
    const struct executor_capacity *cap;
    int b, len;

    orch__exec_spec(j->spec, &es);
    /* No executor (the AWS profile's status handler, orchestrator_handle_outcome):
     * the job ran already; what it holds here is only bookkeeping. */
    if (!o->executor) {
        j->pool = 0;
        return NULL;
    }
    if ((b = executor_route(o->executor, &es, reason, n)) < 0)
        return reason;
    if (orch__pools_refresh(o, false) < 0 || b >= ORCH__POOLS_MAX)
        return "cannot run: the executor's capacity is unknown";
    j->pool = o->backend_pool[b];
    cap = &o->pools[j->pool].cap;
    if (j->spec->cpu <= cap->cpu + 1e-9 && j->spec->memory_mib <= cap->memory_mib)
        return NULL;
    len = snprintf(reason, n,
                   "cannot run: the job needs %g vCPU and %lld MiB, more than the executor's whole "
                   "capacity (%g vCPU, %lld MiB)",
                   j->spec->cpu, (long long)j->spec->memory_mib, cap->cpu,
                   (long long)cap->memory_mib);
    /* Cannot truncate (bounded numbers in 256 bytes); if it did, still say why. */
    return len > 0 && (size_t)len < n
               ? reason
               : "cannot run: the job needs more than the executor's capacity";
}

bool orch__fits(const struct orchestrator *o, const struct orch__job *j)
{
    const struct orch__pool *p = &o->pools[j->pool];

    if (p->cap.max_jobs > 0 && p->running >= p->cap.max_jobs)
        return false;
    return p->cpu_used + j->spec->cpu <= p->cap.cpu + 1e-9 &&
           p->memory_used + j->spec->memory_mib <= p->cap.memory_mib;
}

void orch__wait_reason(const struct orchestrator *o, const struct orch__job *j, bool head,
                       char *reason, size_t n)
{
    const struct orch__pool *p = &o->pools[j->pool];
    int len;

    /* Only the first in line says what is short: the text of a job behind
     * it stays the same while the queue moves, so it is written once. */
    if (!head)
        len = snprintf(reason, n, "waiting for capacity: earlier jobs wait first (pool %s)",
                       p->cap.pool);
    else if (p->cap.max_jobs > 0 && p->running >= p->cap.max_jobs)
        len = snprintf(reason, n, "waiting for capacity: %d of %d jobs running (pool %s)",
                       p->running, p->cap.max_jobs, p->cap.pool);
    else if (p->cpu_used + j->spec->cpu > p->cap.cpu + 1e-9)
        len = snprintf(reason, n,
                       "waiting for capacity: %g of %g vCPUs in use, the job needs %g "
                       "(pool %s)",
                       p->cpu_used, p->cap.cpu, j->spec->cpu, p->cap.pool);
    else
        len = snprintf(reason, n,
                       "waiting for capacity: %lld of %lld MiB of memory in use, the job needs "
                       "%lld (pool %s)",
                       (long long)p->memory_used, (long long)p->cap.memory_mib,
                       (long long)j->spec->memory_mib, p->cap.pool);
    if (len < 0 || (size_t)len >= n)
        snprintf(reason, n, "waiting for capacity");
}
