/* transition.c: what a job's writes do to the job, in memory, the same for
 * every backend: the STARTED job a start inserts and its copy to the
 * caller, and a transition (store.h's struct store_transition says what):
 * times, attempts, exit code, reason. A backend reads the job, checks
 * from_mask, applies this and writes the job back in one transaction. */
#include "store/backend_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

void store__job_init(struct ccf_job *j, const char *connector_id, enum ccf_job_trigger trigger,
                     const char *environment)
{
    memset(j, 0, sizeof(*j));
    memcpy(j->connector_id, connector_id, sizeof(j->connector_id));
    j->status = CCF_JOB_STARTED;
    j->trigger = trigger;
    j->created_at = j->updated_at = ccf_now_us();
    j->environment = (char *)environment; /* borrowed: store__job_give copies it */
}

void store__job_give(struct ccf_job *j, struct ccf_job *out)
{
    if (!out)
        return;
    j->environment = j->environment ? ccf_xstrdup(j->environment) : NULL;
    *out = *j;
}

/* When tr happened: the caller's time if it has one (the executor's record
 * of a job that ended while ccfd was down), kept in order with the job's
 * earlier times whatever the clocks did; else now. */
static int64_t transition_time(const struct ccf_job *j, const struct store_transition *tr,
                               int64_t now)
{
    int64_t at = tr->at > 0 && tr->at < now ? tr->at : now;

    if (at < j->created_at)
        at = j->created_at;
    if (j->started_at && at < j->started_at)
        at = j->started_at;
    return at;
}

static void replace(char **field, char *owned)
{
    free(*field);
    *field = owned;
}

/* The attempts' side of tr (store.h says what each transition does). */
static void apply_attempts(struct ccf_job *j, enum ccf_job_status from,
                           const struct store_transition *tr, int64_t at)
{
    int code;

    if (from == CCF_JOB_STARTED && tr->to == CCF_JOB_RUNNING) {
        j->attempt++;
        j->next_attempt_at = 0;
        replace(&j->attempts, ccf_attempts_begin(j->attempts, j->attempt, at));
        if (tr->spec && !j->spec)
            j->spec = ccf_xstrdup(tr->spec);
        return;
    }
    if (tr->to != CCF_JOB_STARTED && !ccf_job_status_terminal(tr->to))
        return; /* STOPPING: the attempt goes on until it ends */
    if (ccf_attempts_open(j->attempts))
        replace(&j->attempts, ccf_attempts_end(j->attempts, at, tr->set_exit_code, tr->exit_code,
                                               tr->failure_reason));
    if (tr->to == CCF_JOB_STARTED) {
        j->next_attempt_at = tr->next_attempt_at;
    } else if (ccf_job_status_terminal(tr->to)) {
        j->next_attempt_at = 0;
        if (!tr->set_exit_code && ccf_attempts_last_exit(j->attempts, &code)) {
            j->has_exit_code = true;
            j->exit_code = code;
        }
    }
}

/* Applies tr to *j in memory, as the UPDATE below will write it. */
void store__apply_transition(struct ccf_job *j, const struct store_transition *tr, int64_t now)
{
    int64_t at = transition_time(j, tr, now);
    enum ccf_job_status from = j->status;

    j->status = tr->to;
    j->updated_at = now;
    /* Why it waited no longer holds once it moves: it runs, ends, or waits
     * for its next attempt (next_attempt_at says until when). */
    free(j->status_reason);
    j->status_reason = NULL;
    if (tr->to == CCF_JOB_RUNNING && !j->started_at)
        j->started_at = at;
    if (ccf_job_status_terminal(tr->to))
        j->completed_at = at;
    apply_attempts(j, from, tr, at);
    if (tr->to == CCF_JOB_STARTED)
        return; /* a retry: its outcome is the attempt's, not yet the job's */
    if (tr->set_exit_code) {
        j->has_exit_code = true;
        j->exit_code = tr->exit_code;
    }
    if (tr->failure_reason) {
        free(j->failure_reason);
        j->failure_reason = ccf_xstrndup(
            tr->failure_reason, store__utf8_prefix(tr->failure_reason, CCF_FAILURE_REASON_MAX));
    }
    if (tr->executor_id) {
        free(j->executor_id);
        j->executor_id = ccf_xstrdup(tr->executor_id);
    }
}

const char *store__job_event_type(int old_status, enum ccf_job_status to)
{
    static const char *const names[CCF_JOB_STATUS_COUNT] = {"job.retrying", "job.running",
                                                            "job.stopping", "job.succeeded",
                                                            "job.failed",   "job.stopped"};

    if (old_status < 0)
        return "job.started";
    return (unsigned)to < CCF_JOB_STATUS_COUNT ? names[to] : "job.unknown";
}
