/* slurm_watch.c: the Slurm backend's watcher thread. Every poll_ms while it
 * watches jobs, one `scontrol show job -o` lists them all (one process
 * whatever their number, and no sacct database); the watcher matches each
 * by its Slurm id (or by its name when sbatch's answer was lost), reports
 * RUNNING and the outcome, and runs ccfd's own timers: the timeout, counted
 * from when RUNNING was first seen, to the second, and the stop grace
 * between `scancel --signal=TERM` and KILL. Every 30 s it also refreshes
 * what the cluster says its capacity is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/executor_int.h"
#include "executor/slurm/slurm_int.h"

#define CAPACITY_EVERY_US (30 * 1000000LL)
#define MISSING_MAX       5 /* polls that do not list a known id before it counts as lost */
#define ACTIONS_MAX       64

struct sjob *slurm__watch_find(struct executor_slurm *e, const char *id)
{
    for (struct sjob *j = e->jobs; j; j = j->next)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

void slurm__watch_add(struct executor_slurm *e, struct sjob *j)
{
    j->next = e->jobs;
    e->jobs = j;
    e->jobs_n++;
    pthread_cond_signal(&e->cond);
}

/* What one pass decided, done with no lock held. */
struct action {
    char id[CCF_JOB_ID_LEN + 1];
    char slurm_id[SLURM__JOBID_MAX + 1];
    enum {
        ACT_EVENT,        /* deliver ev (after recording an outcome) */
        ACT_TERM,         /* scancel --full --signal=TERM */
        ACT_KILL,         /* scancel --full --signal=KILL, then scancel */
        ACT_CANCEL,       /* scancel: a job that has not started */
        ACT_SAVE_ID,      /* DIR/slurm.id, for a job found by its name */
        ACT_SAVE_RUNNING, /* DIR/slurm.running */
        ACT_SAVE_TIMEOUT, /* DIR/slurm.cancel = timeout */
    } kind;
    struct executor_event ev;
    int64_t running_at_us;
};

struct pass {
    struct action acts[ACTIONS_MAX];
    int n;
};

static struct action *act(struct pass *p, const struct sjob *j, int kind)
{
    struct action *a;

    if (p->n == ACTIONS_MAX)
        return NULL; /* the rest waits for the next pass */
    a = &p->acts[p->n++];
    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", j->id);
    snprintf(a->slurm_id, sizeof(a->slurm_id), "%s", j->slurm_id);
    a->kind = kind;
    snprintf(a->ev.job_id, sizeof(a->ev.job_id), "%s", j->id);
    return a;
}

/* ---- matching scontrol's listing to the table (mu held) ---- */

static void match_job(void *ctx, const struct slurm__job *sj)
{
    struct executor_slurm *e = ctx;

    for (struct sjob *j = e->jobs; j; j = j->next) {
        if (j->slurm_id[0] ? strcmp(j->slurm_id, sj->job_id) != 0 : strcmp(j->name, sj->name) != 0)
            continue;
        if (!j->slurm_id[0]) {
            snprintf(j->slurm_id, sizeof(j->slurm_id), "%s", sj->job_id);
            j->found_by_name = true;
        }
        j->seen = true;
        j->last = *sj;
        return;
    }
}

/* ---- deciding (mu held) ---- */

static void send_running(struct pass *p, struct sjob *j, int64_t now)
{
    struct action *a;

    if (j->running_sent)
        return;
    if (!j->running_at_us && (a = act(p, j, ACT_SAVE_RUNNING))) {
        j->running_at_us = now;
        a->running_at_us = now;
    }
    if ((a = act(p, j, ACT_EVENT))) {
        a->ev.state = EXECUTOR_RUNNING;
        a->ev.at_us = j->running_at_us ? j->running_at_us : now;
        j->running_sent = true;
    }
}

/* The job's outcome as an action; true when it may leave the table. */
static bool send_final(struct pass *p, struct sjob *j, const struct executor_event *ev, int64_t now)
{
    struct action *a = act(p, j, ACT_EVENT);

    if (!a)
        return false;
    a->ev = *ev;
    snprintf(a->ev.job_id, sizeof(a->ev.job_id), "%s", j->id);
    if (!a->ev.at_us)
        a->ev.at_us = now;
    return true;
}

static bool decide_ended(struct pass *p, struct sjob *j, int64_t now)
{
    struct executor_event ev;

    memset(&ev, 0, sizeof(ev));
    slurm__outcome(&j->last, j->cancel[0] ? j->cancel : NULL, &ev);
    /* A job that ran between two polls still was RUNNING. */
    if (ev.has_exit_code && !j->running_sent)
        send_running(p, j, now);
    return send_final(p, j, &ev, now);
}

static void decide_timers(struct executor_slurm *e, struct pass *p, struct sjob *j, int64_t now,
                          bool pending)
{
    if (!j->cancel[0] && j->running_sent && j->timeout_s > 0 &&
        now >= j->running_at_us + j->timeout_s * 1000000LL && act(p, j, ACT_SAVE_TIMEOUT))
        snprintf(j->cancel, sizeof(j->cancel), "timeout");
    if (!j->cancel[0])
        return;
    if (!j->term_sent && act(p, j, pending ? ACT_CANCEL : ACT_TERM)) {
        j->term_sent = true;
        j->kill_at_us = now + (int64_t)e->grace_s * 1000000LL;
        return;
    }
    if (j->term_sent && !j->killed && now >= j->kill_at_us && act(p, j, ACT_KILL))
        j->killed = true;
}

/* One job; true when it leaves the table. */
static bool decide(struct executor_slurm *e, struct pass *p, struct sjob *j, int64_t now)
{
    struct executor_event ev;
    enum slurm__phase ph;

    memset(&ev, 0, sizeof(ev));
    if (j->has_final)
        return send_final(p, j, &j->final, now);
    if (j->fail[0]) {
        ev.state = EXECUTOR_EXITED;
        snprintf(ev.reason, sizeof(ev.reason), "%s", j->fail);
        return send_final(p, j, &ev, now);
    }
    if (!j->seen) {
        if (j->slurm_id[0] ? ++j->missing < MISSING_MAX
                           : now - j->watched_since_us < SLURM__LOOKUP_MS * 1000LL)
            return false;
        ev.state = j->slurm_id[0] ? EXECUTOR_LOST : EXECUTOR_EXITED;
        snprintf(ev.reason, sizeof(ev.reason),
                 j->slurm_id[0] ? "runner lost: Slurm no longer knows job %s (MinJobAge?)"
                                : "cannot run on Slurm: job %s never appeared in the queue",
                 j->slurm_id[0] ? j->slurm_id : j->name);
        return send_final(p, j, &ev, now);
    }
    j->missing = 0;
    if (j->found_by_name && act(p, j, ACT_SAVE_ID))
        j->found_by_name = false;
    ph = slurm__phase_of(j->last.state);
    if (ph == SLURM__ENDED)
        return decide_ended(p, j, now);
    if (ph == SLURM__RUNNING)
        send_running(p, j, now);
    decide_timers(e, p, j, now, ph == SLURM__PENDING);
    return false;
}

static void decide_all(struct executor_slurm *e, struct pass *p)
{
    int64_t now = ccf_now_us();
    struct sjob **pp = &e->jobs;

    while (*pp) {
        struct sjob *j = *pp;
        if (decide(e, p, j, now)) {
            *pp = j->next;
            e->jobs_n--;
            free(j);
            continue;
        }
        j->seen = false;
        pp = &j->next;
    }
}

/* ---- acting (no lock held) ---- */

static void save(struct executor_slurm *e, const char *id, const char *file, const char *text)
{
    int dfd = slurm__open_dir(e, id);

    if (dfd < 0 || executor__write_atomic(dfd, file, text, strlen(text), 0600) < 0)
        CCF_LOG_ERROR("slurm.save_failed", CCF_KV_STR("job_id", id), CCF_KV_STR("file", file));
    if (dfd >= 0)
        close(dfd);
}

static void perform(struct executor_slurm *e, struct action *a)
{
    char buf[32];

    switch (a->kind) {
    case ACT_EVENT:
        if (a->ev.state != EXECUTOR_RUNNING)
            slurm__record(e, &a->ev);
        e->on_event(e->ctx, &a->ev);
        break;
    case ACT_TERM:
        slurm__scancel(e, a->slurm_id, "TERM");
        break;
    case ACT_KILL:
        slurm__scancel(e, a->slurm_id, "KILL");
        slurm__scancel(e, a->slurm_id, NULL);
        break;
    case ACT_CANCEL:
        slurm__scancel(e, a->slurm_id, NULL);
        break;
    case ACT_SAVE_ID:
        save(e, a->id, SLURM__ID, a->slurm_id);
        break;
    case ACT_SAVE_RUNNING:
        snprintf(buf, sizeof(buf), "%lld\n", (long long)a->running_at_us);
        save(e, a->id, SLURM__STARTED, buf);
        break;
    case ACT_SAVE_TIMEOUT:
        save(e, a->id, SLURM__CANCEL, "timeout\n");
        break;
    }
}

/* ---- the thread ---- */

static char *list_jobs(struct executor_slurm *e, size_t *len)
{
    const char *argv[] = {"scontrol", "show", "job", "-o", NULL};
    char *out = NULL;
    int status;

    if (slurm__cmd(e, argv, &out, len, &status) < 0)
        return NULL;
    if (status != 0) {
        /* "No jobs in the system" is status 0; anything else is trouble,
         * and a pass without a listing must not declare jobs gone. */
        CCF_LOG_WARN("slurm.scontrol_failed", CCF_KV_INT("status", status),
                     CCF_KV_STR("output", out));
        free(out);
        return NULL;
    }
    return out;
}

static void one_pass(struct executor_slurm *e)
{
    struct pass *p = ccf_xmalloc(sizeof(*p));
    size_t len = 0;
    char *out = list_jobs(e, &len);

    p->n = 0;
    pthread_mutex_lock(&e->mu);
    if (out) {
        slurm__parse_jobs(out, len, match_job, e);
        decide_all(e, p);
    }
    pthread_mutex_unlock(&e->mu);
    free(out);
    for (int i = 0; i < p->n; i++)
        perform(e, &p->acts[i]);
    free(p);
}

static void *watch_main(void *arg)
{
    struct executor_slurm *e = arg;
    struct timespec ts;

    pthread_mutex_lock(&e->mu);
    while (!e->closing) {
        bool busy = e->jobs_n > 0, stale = ccf_now_us() - e->cap_at_us > CAPACITY_EVERY_US;
        pthread_mutex_unlock(&e->mu);
        if (stale)
            slurm__refresh_capacity(e);
        if (busy)
            one_pass(e);
        pthread_mutex_lock(&e->mu);
        if (e->closing)
            break;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)e->poll_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        /* Woken early by a new job or a cancel; else once per poll. */
        if (e->jobs_n == 0 || !busy)
            pthread_cond_timedwait(&e->cond, &e->mu, &ts);
        else
            pthread_cond_timedwait(&e->cond, &e->mu, &ts);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int slurm__watch_start(struct executor_slurm *e)
{
    int rc = pthread_create(&e->thread, NULL, watch_main, e);

    if (rc != 0) {
        CCF_LOG_ERROR("slurm.thread", CCF_KV_STR("error", strerror(rc)));
        return CCF_EIO;
    }
    e->thread_started = true;
    return 0;
}

void slurm__watch_stop(struct executor_slurm *e)
{
    if (!e->thread_started)
        return;
    pthread_mutex_lock(&e->mu);
    e->closing = true;
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    e->thread_started = false;
}
