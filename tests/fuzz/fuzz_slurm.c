/* fuzz_slurm.c: the parsers of what Slurm's commands print (`scontrol show
 * job -o`, `scontrol show node -o`) and the outcome of a parsed job. The
 * input is the output. What is checked: nothing is read past the input
 * (ASan, on a copy without a NUL), every field comes out NUL-terminated
 * and bounded, a parsed job has a decimal id and an upper-case state, an
 * exit code is 0..255 and a signal 0..127, capacity sums never go negative,
 * and an outcome's reason is printable and NUL-terminated. */
#include <stdlib.h>
#include <string.h>

#include "executor/slurm/slurm_int.h"
#include "harness.h"

static void check_printable(const char *s, size_t max)
{
    size_t n = strnlen(s, max);

    FUZZ_CHECK(n < max, "a field is not NUL-terminated");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7F,
                   "unprintable byte 0x%02x", (unsigned char)s[i]);
}

static void check_job(void *ctx, const struct slurm__job *j)
{
    struct executor_event ev;
    static const char *const cancels[] = {NULL, "stop", "timeout"};

    (void)ctx;
    FUZZ_CHECK(j->job_id[0] != '\0' && strspn(j->job_id, "0123456789") == strlen(j->job_id),
               "job id %s", j->job_id);
    FUZZ_CHECK(strspn(j->state, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == strlen(j->state) && j->state[0],
               "state %s", j->state);
    check_printable(j->reason, sizeof(j->reason));
    FUZZ_CHECK(strnlen(j->name, sizeof(j->name)) < sizeof(j->name), "name not terminated");
    if (j->has_exit)
        FUZZ_CHECK(j->exit_code >= 0 && j->exit_code <= 255 && j->exit_signal >= 0 &&
                       j->exit_signal <= 127,
                   "exit %d:%d", j->exit_code, j->exit_signal);
    (void)slurm__phase_of(j->state);
    for (size_t i = 0; i < 3; i++) {
        memset(&ev, 0, sizeof(ev));
        slurm__outcome(j, cancels[i], &ev);
        check_printable(ev.reason, sizeof(ev.reason));
        FUZZ_CHECK(!ev.has_exit_code || (ev.exit_code >= 0 && ev.exit_code <= 255), "exit code %d",
                   ev.exit_code);
        FUZZ_CHECK(!(ev.stopped && ev.timed_out), "stopped and timed out");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1); /* no NUL after it: overreads trip ASan */
    struct slurm__capacity c;
    struct slurm__job j;

    memcpy(copy, data, size);
    (void)slurm__parse_jobs(copy, size, check_job, NULL);
    if (slurm__parse_job(copy, size, &j) == 0)
        check_job(NULL, &j);
    FUZZ_CHECK(slurm__parse_nodes(copy, size, &c) >= 0 && c.cpus >= 0 && c.memory_mib >= 0,
               "capacity %lld cpus %lld MiB", (long long)c.cpus, (long long)c.memory_mib);
    free(copy);
    return 0;
}
