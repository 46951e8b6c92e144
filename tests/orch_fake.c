/* orch_fake.c: the fake executor (orch_fake.h says how it stands in for
 * the real one): executor_* functions that record what the orchestrator
 * asks and answer as the local backend would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_fake.h"

int executor_submit(struct executor *e, const struct executor_spec *spec)
{
    struct fake_submit *f;
    size_t len = 1, at = 0;

    if (e->submit_rc < 0)
        return e->submit_rc;
    /* Idempotent under redelivery, as the real one is (per attempt). */
    for (size_t i = 0; i < e->nsubmits; i++)
        if (strcmp(e->submits[i].job_id, spec->job_id) == 0 &&
            e->submits[i].attempt == (spec->attempt > 1 ? spec->attempt : 1))
            return 0;
    assert_true(e->nsubmits < MAX_JOBS);
    f = &e->submits[e->nsubmits++];
    memset(f, 0, sizeof(*f));
    snprintf(f->job_id, sizeof(f->job_id), "%s", spec->job_id);
    for (size_t i = 0; i < 4 && spec->argv[i]; i++)
        snprintf(f->argv[i], sizeof(f->argv[i]), "%s", spec->argv[i]);
    for (size_t i = 0; spec->envp[i]; i++)
        len += strlen(spec->envp[i]) + 1;
    f->env = calloc(1, len);
    assert_non_null(f->env);
    for (size_t i = 0; spec->envp[i]; i++)
        at += (size_t)snprintf(f->env + at, len - at, "%s\n", spec->envp[i]);
    f->cpu = spec->cpu;
    f->memory_mib = spec->memory_mib;
    f->timeout_s = spec->timeout_s;
    f->attempt = spec->attempt > 1 ? spec->attempt : 1;
    return 0;
}

int executor_cancel(struct executor *e, const char *job_id)
{
    assert_true(e->ncancels < MAX_JOBS);
    snprintf(e->cancels[e->ncancels++], CCF_JOB_ID_LEN + 1, "%s", job_id);
    return 0;
}

int executor_recover_attempt(struct executor *e, const char *job_id, int attempt)
{
    e->nrecovers++;
    for (size_t i = 0; i < e->nadopted; i++)
        if (strcmp(e->adopted[i], job_id) == 0)
            return attempt > e->adopted_attempt[i] ? 1 : 0;
    return 1;
}

int executor_recover(struct executor *e, const char *job_id)
{
    return executor_recover_attempt(e, job_id, 0);
}

/* One backend, "local", that runs commands only, in the machine's pool. */
struct executor_capacity fake_cap;

int executor_route(struct executor *e, const struct executor_spec *spec, char *reason, size_t n)
{
    (void)e;
    if (spec->argv && spec->argv[0])
        return 0;
    snprintf(reason, n,
             "cannot run: the connector has no command, only an image_uri, and no executor "
             "that runs images is configured (executor = local)");
    return CCF_EINVAL;
}

int executor_prepare(struct executor *e, const struct executor_spec *spec)
{
    (void)e, (void)spec;
    return 0;
}

bool executor_prepares(const struct executor *e)
{
    (void)e;
    return false;
}

int executor_backends(const struct executor *e)
{
    (void)e;
    return 1;
}

const char *executor_backend_name(const struct executor *e, int i)
{
    (void)e;
    return i == 0 ? "local" : NULL;
}

int executor_capacity(struct executor *e, int i, struct executor_capacity *out)
{
    (void)e;
    if (i != 0)
        return CCF_EINVAL;
    *out = fake_cap;
    return 0;
}

int executor_forget(struct executor *e, const char *job_id)
{
    e->nforgets++;
    for (size_t i = 0; i < e->nadopted; i++) {
        if (strcmp(e->adopted[i], job_id) == 0) {
            memmove(e->adopted[i], e->adopted[i + 1],
                    (e->nadopted - i - 1) * sizeof(e->adopted[0]));
            memmove(&e->adopted_attempt[i], &e->adopted_attempt[i + 1],
                    (e->nadopted - i - 1) * sizeof(e->adopted_attempt[0]));
            e->nadopted--;
            break;
        }
    }
    return 0;
}

int executor_live_attempts(struct executor *e, struct executor_live **out, size_t *n)
{
    *out = e->nadopted ? calloc(e->nadopted, sizeof(**out)) : NULL;
    for (size_t i = 0; i < e->nadopted; i++) {
        snprintf((*out)[i].job_id, sizeof((*out)[i].job_id), "%s", e->adopted[i]);
        (*out)[i].attempt = e->adopted_attempt[i];
    }
    *n = e->nadopted;
    return 0;
}
