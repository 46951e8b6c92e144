/* slurm_parse.c: reading what `scontrol show job -o` and `scontrol show
 * node -o` print, and which outcome an ended Slurm job is. The text comes
 * from another program and, through a job's name or a node's reason, partly
 * from users: every field is bounded, numbers are checked, nothing is read
 * past the length given, and a line that does not make sense is refused
 * rather than guessed at. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "executor/slurm/slurm_int.h"

/* The value of key in line[0..len): the first token that starts with
 * "key=", a token being what follows the line's start or a space. The
 * value ends at the next space. */
static bool field(const char *line, size_t len, const char *key, char *out, size_t outsz)
{
    size_t klen = strlen(key), i = 0, v;

    while (i < len) {
        if ((i == 0 || line[i - 1] == ' ') && len - i > klen && memcmp(line + i, key, klen) == 0 &&
            line[i + klen] == '=') {
            v = i + klen + 1;
            size_t n = 0;
            while (v + n < len && line[v + n] != ' ' && line[v + n] != '\n' && line[v + n] != '\0')
                n++;
            if (n >= outsz)
                n = outsz - 1;
            memcpy(out, line + v, n);
            out[n] = '\0';
            return true;
        }
        i++;
    }
    return false;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* A decimal 0..max, whole string. */
static bool small_number(const char *s, long max, long *out)
{
    char *end;
    long v;

    if (!all_digits(s) || strlen(s) > 9)
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool state_word(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(isupper((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static void parse_exit(const char *v, struct slurm__job *out)
{
    char buf[SLURM__FIELD_MAX];
    char *colon;
    long code, sig;

    snprintf(buf, sizeof(buf), "%s", v);
    if (!(colon = strchr(buf, ':')))
        return;
    *colon = '\0';
    if (!small_number(buf, 255, &code) || !small_number(colon + 1, 127, &sig))
        return;
    out->exit_code = (int)code;
    out->exit_signal = (int)sig;
    out->has_exit = true;
}

int slurm__parse_job(const char *line, size_t len, struct slurm__job *out)
{
    struct slurm__job j;
    char buf[SLURM__FIELD_MAX];

    memset(&j, 0, sizeof(j));
    if (!field(line, len, "JobId", j.job_id, sizeof(j.job_id)) || !all_digits(j.job_id) ||
        strlen(j.job_id) >= SLURM__JOBID_MAX)
        return CCF_EINVAL;
    /* JobState may carry a flag after a '+' (e.g. CANCELLED+): the word. */
    if (!field(line, len, "JobState", j.state, sizeof(j.state)))
        return CCF_EINVAL;
    j.state[strcspn(j.state, "+")] = '\0';
    if (!state_word(j.state))
        return CCF_EINVAL;
    field(line, len, "JobName", j.name, sizeof(j.name));
    if (!field(line, len, "Reason", j.reason, sizeof(j.reason)))
        snprintf(j.reason, sizeof(j.reason), "None");
    for (char *p = j.reason; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F)
            *p = '?'; /* it goes into a failure reason */
    if (field(line, len, "ExitCode", buf, sizeof(buf)))
        parse_exit(buf, &j);
    *out = j;
    return 0;
}

int slurm__parse_jobs(const char *text, size_t len,
                      void (*fn)(void *ctx, const struct slurm__job *j), void *ctx)
{
    size_t i = 0;
    int n = 0;
    struct slurm__job j;

    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - (text + i)) : len - i;
        if (slurm__parse_job(text + i, ll, &j) == 0) {
            fn(ctx, &j);
            n++;
        }
        i += ll + 1;
    }
    return n;
}

/* A node in one of these states takes no new jobs. */
static bool node_usable(const char *state)
{
    static const char *const bad[] = {"DOWN",           "DRAIN", "FAIL",    "FUTURE", "POWER",
                                      "NOT_RESPONDING", "INVAL", "UNKNOWN", "REBOOT"};

    if (!*state)
        return false;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strstr(state, bad[i]))
            return false;
    return true;
}

int slurm__parse_nodes(const char *text, size_t len, struct slurm__capacity *out)
{
    struct slurm__capacity c = {0};
    char cpus[32], mem[32], state[SLURM__FIELD_MAX];
    size_t i = 0;
    long v, m;

    while (i < len) {
        const char *line = text + i, *nl = memchr(line, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - line) : len - i;
        i += ll + 1;
        if (!field(line, ll, "NodeName", state, sizeof(state)) ||
            !field(line, ll, "State", state, sizeof(state)) || !node_usable(state) ||
            !field(line, ll, "CPUTot", cpus, sizeof(cpus)) ||
            !field(line, ll, "RealMemory", mem, sizeof(mem)) || !small_number(cpus, 1000000, &v) ||
            !small_number(mem, 999999999, &m))
            continue;
        c.cpus += v;
        c.memory_mib += m;
        c.nodes++;
    }
    *out = c;
    return c.nodes;
}

enum slurm__phase slurm__phase_of(const char *s)
{
    static const char *const pending[] = {"PENDING",     "CONFIGURING",  "REQUEUED",
                                          "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD",
                                          "RESIZING"};
    static const char *const running[] = {"RUNNING",   "SUSPENDED", "COMPLETING",  "STOPPED",
                                          "SIGNALING", "STAGE_OUT", "SPECIAL_EXIT"};

    for (size_t i = 0; i < sizeof(pending) / sizeof(pending[0]); i++)
        if (strcmp(s, pending[i]) == 0)
            return SLURM__PENDING;
    for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
        if (strcmp(s, running[i]) == 0)
            return SLURM__RUNNING;
    /* COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, PREEMPTED,
     * BOOT_FAIL, DEADLINE, OUT_OF_MEMORY, and any state Slurm adds later:
     * a state we do not know must not keep the connector IN_USE forever. */
    return SLURM__ENDED;
}

/* An ended job's exit code as the contract counts it: 128+N for signal N. */
static bool exit_of(const struct slurm__job *j, int *code)
{
    if (!j->has_exit)
        return false;
    *code = j->exit_signal > 0 ? 128 + j->exit_signal : j->exit_code;
    return true;
}

void slurm__outcome(const struct slurm__job *j, const char *cancel, struct executor_event *ev)
{
    bool by_us = cancel && *cancel;

    ev->state = EXECUTOR_EXITED;
    ev->has_exit_code = exit_of(j, &ev->exit_code);
    ev->timed_out = by_us && strcmp(cancel, "timeout") == 0;
    ev->stopped = by_us && !ev->timed_out;
    ev->reason[0] = '\0';
    if (by_us)
        return; /* the orchestrator words stop and timeout itself */
    if (strcmp(j->state, "TIMEOUT") == 0) {
        /* Slurm's --time backstop fired (ccfd was down at the timeout). */
        ev->timed_out = true;
        return;
    }
    if (strcmp(j->state, "COMPLETED") == 0 || strcmp(j->state, "FAILED") == 0)
        return; /* the exit code says it all */
    if (strcmp(j->state, "OUT_OF_MEMORY") == 0) {
        snprintf(ev->reason, sizeof(ev->reason), "killed by Slurm: out of memory");
        return;
    }
    /* CANCELLED by someone else, NODE_FAIL, PREEMPTED, ...: no exit of the
     * command's own explains it, so say what Slurm said. */
    ev->state = ev->has_exit_code ? EXECUTOR_EXITED : EXECUTOR_LOST;
    snprintf(ev->reason, sizeof(ev->reason), "slurm job %s %s (%s)", j->job_id, j->state,
             j->reason);
}
