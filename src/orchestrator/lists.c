/* lists.c: the small arrays of pending and running jobs (tens of entries:
 * linear search is the simple and fast choice). */
#include <stdlib.h>
#include <string.h>

#include "orchestrator/orchestrator_int.h"

void orch__list_push(struct orch__list *l, const struct orch__job *j)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = ccf_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n++] = *j;
}

ssize_t orch__list_find(const struct orch__list *l, const char *job_id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].ref.job_id, job_id) == 0)
            return (ssize_t)i;
    }
    return -1;
}

void orch__list_remove(struct orch__list *l, size_t i)
{
    memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof(*l->items));
    l->n--;
}

void orch__job_free(struct orch__job *j)
{
    ccf_job_spec_clear(j->spec);
    free(j->spec);
    free(j->properties);
    free(j->status_reason);
    j->spec = NULL;
    j->properties = NULL;
    j->status_reason = NULL;
}

void orch__list_free(struct orch__list *l)
{
    for (size_t i = 0; i < l->n; i++)
        orch__job_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}
