/* test_slurm.c: unit tests of the Slurm backend's pure parts
 * (src/executor/slurm_cmd.c, slurm_parse.c) and of how it runs a command
 * (slurm_spawn.c): the sbatch command line, the environment split and the
 * batch script (run for real by /bin/sh), the scontrol parsers on real and
 * hostile output, and the outcome of each Slurm state. No cluster needed:
 * the service tests (tests/service/test_job_runs.py) run a real one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "executor/slurm/slurm_int.h"

static bool has(char **v, const char *s)
{
    for (; *v; v++)
        if (strcmp(*v, s) == 0)
            return true;
    return false;
}

static size_t count(char **v)
{
    size_t n = 0;

    while (v[n])
        n++;
    return n;
}

static void test_sbatch_argv(void **state)
{
    const char *argv[] = {"/bin/echo", "a b", "$HOME", "'q'", NULL};
    struct slurm__submit s = {.name = "ccj-0123456789ab.2",
                              .work_dir = "/d/work",
                              .out_file = "/d/log",
                              .script = "/d/slurm.sh",
                              .argv = argv,
                              .cpu = 1.5,
                              .memory_mib = 512,
                              .timeout_s = 61,
                              .grace_s = 10};
    char **v;
    size_t n;

    (void)state;
    assert_int_equal(slurm__sbatch_argv(&s, &v), 0);
    n = count(v);
    assert_string_equal(v[0], "sbatch");
    assert_true(has(v, "--parsable"));
    assert_true(has(v, "--export=ALL"));
    assert_true(has(v, "--no-requeue"));
    assert_true(has(v, "--job-name=ccj-0123456789ab.2"));
    assert_true(has(v, "--chdir=/d/work"));
    assert_true(has(v, "--output=/d/log"));
    assert_true(has(v, "--error=/d/log"));
    assert_true(has(v, "--cpus-per-task=2"));
    assert_true(has(v, "--mem=512M"));
    assert_true(has(v, "--time=3")); /* 71 s -> 2 min, + 1 */
    /* the script, then the command verbatim: no quoting, no shell */
    assert_string_equal(v[n - 5], "/d/slurm.sh");
    assert_string_equal(v[n - 4], "/bin/echo");
    assert_string_equal(v[n - 3], "a b");
    assert_string_equal(v[n - 2], "$HOME");
    assert_string_equal(v[n - 1], "'q'");
    slurm__strv_free(v);
}

static void test_sbatch_argv_defaults_and_refusals(void **state)
{
    const char *argv[] = {"env", NULL}, *dash[] = {"-x", NULL}, *none[] = {NULL};
    struct slurm__submit s = {
        .name = "n", .work_dir = "/w", .out_file = "/o", .script = "/s", .argv = argv};
    char **v;

    (void)state;
    assert_int_equal(slurm__sbatch_argv(&s, &v), 0);
    for (char **p = v; *p; p++) {
        assert_null(strstr(*p, "--cpus-per-task"));
        assert_null(strstr(*p, "--mem"));
        assert_null(strstr(*p, "--time"));
    }
    slurm__strv_free(v);
    s.argv = dash;
    assert_int_equal(slurm__sbatch_argv(&s, &v), CCF_EINVAL);
    s.argv = none;
    assert_int_equal(slurm__sbatch_argv(&s, &v), CCF_EINVAL);
}

static void test_time_and_cpus(void **state)
{
    (void)state;
    assert_int_equal(slurm__time_minutes(0, 10), 0);
    assert_int_equal(slurm__time_minutes(1, 0), 2);
    assert_int_equal(slurm__time_minutes(50, 10), 2);
    assert_int_equal(slurm__time_minutes(51, 10), 3);
    assert_int_equal(slurm__time_minutes(INT64_MAX, INT64_MAX), INT32_MAX);
    assert_int_equal(slurm__cpus(0), 0);
    assert_int_equal(slurm__cpus(0.25), 1);
    assert_int_equal(slurm__cpus(1), 1);
    assert_int_equal(slurm__cpus(1.0000001), 2);
    assert_int_equal(slurm__cpus(4), 4);
}

/* Runs the script as Slurm would, with sbatch's environment plus what Slurm
 * adds, and returns what `env` printed in the command. */
static char *run_script(char **env, const char *script)
{
    char path[] = "/tmp/test_slurm_XXXXXX";
    int fd = mkstemp(path);
    const char *argv[] = {"/bin/sh", path, "env", NULL};
    const char *added[] = {"HOSTNAME=node1", "ENVIRONMENT=BATCH", "TMPDIR=/tmp", "PWD=/somewhere",
                           "SLURM_JOB_ID=7"};
    const char *envp[64];
    size_t n = 0, len;
    char *out;
    int status;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, script, strlen(script)), (ssize_t)strlen(script));
    close(fd);
    for (size_t i = 0; env[i]; i++)
        envp[n++] = env[i];
    for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++)
        envp[n++] = added[i];
    envp[n] = NULL;
    assert_int_equal(slurm__run(argv, envp, 5000, &out, &len, &status), 0);
    assert_int_equal(status, 0);
    unlink(path);
    return out;
}

static void test_environment_is_exact(void **state)
{
    const char *job[] = {
        "PATH=/usr/bin:/bin",   "HOME=/d/work",    "AWS_SECRET_ACCESS_KEY=s'e c\"r$t",
        "SLURM_MINE=it's mine", "TMPDIR=/job/tmp", NULL};
    char **env, *script, *out;

    (void)state;
    assert_int_equal(slurm__split_env(job, "/etc/slurm/x.conf", &env, &script), 0);
    /* sbatch's environment: nothing Slurm would read as an option */
    assert_true(has(env, "PATH=/usr/bin:/bin"));
    assert_true(has(env, "AWS_SECRET_ACCESS_KEY=s'e c\"r$t"));
    assert_true(has(env, "SLURM_CONF=/etc/slurm/x.conf"));
    assert_false(has(env, "SLURM_MINE=it's mine"));
    assert_false(has(env, "TMPDIR=/job/tmp"));
    /* the secret never goes into the script */
    assert_null(strstr(script, "AWS_SECRET"));
    out = run_script(env, script);
    assert_non_null(strstr(out, "AWS_SECRET_ACCESS_KEY=s'e c\"r$t\n"));
    assert_non_null(strstr(out, "SLURM_MINE=it's mine\n"));
    assert_non_null(strstr(out, "TMPDIR=/job/tmp\n"));
    assert_non_null(strstr(out, "SLURM_JOB_ID=7\n"));
    assert_null(strstr(out, "HOSTNAME="));
    assert_null(strstr(out, "ENVIRONMENT="));
    assert_null(strstr(out, "PWD="));
    free(out);
    free(script);
    slurm__strv_free(env);
}

static void test_environment_refusals(void **state)
{
    const char *noeq[] = {"PATH", NULL}, *badname[] = {"SLURM_A-B=1", NULL};
    char **env, *script;

    (void)state;
    assert_int_equal(slurm__split_env(noeq, NULL, &env, &script), CCF_EINVAL);
    assert_int_equal(slurm__split_env(badname, NULL, &env, &script), CCF_EINVAL);
}

/* Real output of Slurm 22.05's `scontrol show job -o`, cut. */
static const char real_failed[] =
    "JobId=1 JobName=ccj-0123456789ab.1 UserId=root(0) GroupId=root(0) MCS_label=N/A "
    "Priority=4294901759 Nice=0 Account=(null) QOS=(null) JobState=FAILED "
    "Reason=NonZeroExitCode Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=3:0 RunTime=00:00:00 TimeLimit=00:01:00 WorkDir=/tmp/a b/w StdOut=/tmp/w/out\n";

static void test_parse_job(void **state)
{
    struct slurm__job j;

    (void)state;
    assert_int_equal(slurm__parse_job(real_failed, strlen(real_failed), &j), 0);
    assert_string_equal(j.job_id, "1");
    assert_string_equal(j.name, "ccj-0123456789ab.1");
    assert_string_equal(j.state, "FAILED");
    assert_string_equal(j.reason, "NonZeroExitCode");
    assert_true(j.has_exit);
    assert_int_equal(j.exit_code, 3);
    assert_int_equal(j.exit_signal, 0);
}

static void test_parse_job_hostile(void **state)
{
    static const char *bad[] = {
        "",
        "JobId=1",
        "JobState=RUNNING",
        "JobId=x JobState=RUNNING",
        "JobId=1 JobState=running",
        "JobId=123456789012345678901234 JobState=RUNNING",
        "XJobId=1 JobState=RUNNING",
        "JobId=1 XJobState=RUNNING",
    };
    struct slurm__job j;
    const char *s;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(slurm__parse_job(bad[i], strlen(bad[i]), &j), CCF_EINVAL);
    /* a name that looks like fields does not shadow the real ones */
    s = "JobId=5 JobName=x JobState=RUNNING Reason=None ExitCode=0:0 JobState=COMPLETED";
    assert_int_equal(slurm__parse_job(s, strlen(s), &j), 0);
    assert_string_equal(j.state, "RUNNING");
    /* flags after '+', bad exit codes, no NUL within len */
    s = "JobId=5 JobState=CANCELLED+ ExitCode=999:0";
    assert_int_equal(slurm__parse_job(s, strlen(s), &j), 0);
    assert_string_equal(j.state, "CANCELLED");
    assert_false(j.has_exit);
    s = "JobId=5 JobState=FAILED ExitCode=1:-1";
    assert_int_equal(slurm__parse_job(s, strlen(s), &j), 0);
    assert_false(j.has_exit);
    s = "JobId=5 JobState=FAILED ExitCode=0:9XXXX";
    assert_int_equal(slurm__parse_job(s, 36, &j), 0); /* cut before the X */
    assert_true(j.has_exit);
    assert_int_equal(j.exit_signal, 9);
    s = "JobId=5 JobState=FAILED Reason=\x01\xff";
    assert_int_equal(slurm__parse_job(s, strlen(s), &j), 0);
    assert_string_equal(j.reason, "??");
}

static void count_job(void *ctx, const struct slurm__job *j)
{
    (void)j;
    ++*(int *)ctx;
}

static void test_parse_jobs_and_nodes(void **state)
{
    const char *jobs = "JobId=1 JobState=RUNNING\ngarbage\nJobId=2 JobState=PENDING";
    const char *nodes = "NodeName=vm Arch=x86_64 CPUTot=2 RealMemory=23593 State=MIXED "
                        "Partitions=ccf\n"
                        "NodeName=n2 CPUTot=8 RealMemory=1000 State=DOWN+NOT_RESPONDING\n"
                        "NodeName=n3 CPUTot=4 RealMemory=4096 State=IDLE\n"
                        "NodeName=n4 CPUTot=-4 RealMemory=4096 State=IDLE\n";
    struct slurm__capacity c;
    int n = 0;

    (void)state;
    assert_int_equal(slurm__parse_jobs(jobs, strlen(jobs), count_job, &n), 2);
    assert_int_equal(n, 2);
    assert_int_equal(slurm__parse_nodes(nodes, strlen(nodes), &c), 2);
    assert_int_equal(c.cpus, 6);
    assert_int_equal(c.memory_mib, 23593 + 4096);
}

static void outcome(const char *line, const char *cancel, struct executor_event *ev)
{
    struct slurm__job j;

    memset(ev, 0, sizeof(*ev));
    assert_int_equal(slurm__parse_job(line, strlen(line), &j), 0);
    assert_int_equal(slurm__phase_of(j.state), SLURM__ENDED);
    slurm__outcome(&j, cancel, ev);
}

static void test_outcomes(void **state)
{
    struct executor_event ev;

    (void)state;
    assert_int_equal(slurm__phase_of("PENDING"), SLURM__PENDING);
    assert_int_equal(slurm__phase_of("RUNNING"), SLURM__RUNNING);
    assert_int_equal(slurm__phase_of("COMPLETING"), SLURM__RUNNING);
    outcome("JobId=1 JobState=COMPLETED ExitCode=0:0", NULL, &ev);
    assert_true(ev.state == EXECUTOR_EXITED && ev.has_exit_code && ev.exit_code == 0);
    assert_false(ev.stopped || ev.timed_out);
    outcome("JobId=1 JobState=FAILED ExitCode=3:0", NULL, &ev);
    assert_true(ev.has_exit_code && ev.exit_code == 3 && ev.reason[0] == '\0');
    outcome("JobId=1 JobState=FAILED ExitCode=0:9", NULL, &ev);
    assert_int_equal(ev.exit_code, 137);
    outcome("JobId=1 JobState=CANCELLED ExitCode=0:15", "stop", &ev);
    assert_true(ev.stopped && !ev.timed_out && ev.exit_code == 143);
    outcome("JobId=1 JobState=CANCELLED ExitCode=0:9", "timeout", &ev);
    assert_true(ev.timed_out && !ev.stopped);
    outcome("JobId=1 JobState=TIMEOUT ExitCode=0:15", NULL, &ev);
    assert_true(ev.timed_out);
    outcome("JobId=1 JobState=OUT_OF_MEMORY ExitCode=0:9", NULL, &ev);
    assert_non_null(strstr(ev.reason, "out of memory"));
    outcome("JobId=1 JobState=NODE_FAIL Reason=NodeDown", NULL, &ev);
    assert_int_equal(ev.state, EXECUTOR_LOST);
    assert_string_equal(ev.reason, "slurm job 1 NODE_FAIL (NodeDown)");
    outcome("JobId=1 JobState=CANCELLED Reason=None ExitCode=0:15", NULL, &ev);
    assert_true(ev.state == EXECUTOR_EXITED && !ev.stopped && ev.exit_code == 143);
    assert_non_null(strstr(ev.reason, "CANCELLED"));
    outcome("JobId=1 JobState=SOMETHING_NEW", NULL, &ev);
    assert_int_equal(ev.state, EXECUTOR_LOST);
}

static void test_run_bounds_and_timeout(void **state)
{
    const char *big[] = {"/bin/sh", "-c", "head -c 3000000 /dev/zero; exit 4", NULL};
    const char *slow[] = {"/bin/sleep", "5", NULL};
    const char *missing[] = {"/nonexistent/sbatch", NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    struct timespec t0, t1;
    size_t len;
    char *out;
    int status;

    (void)state;
    assert_int_equal(slurm__run(big, envp, 5000, &out, &len, &status), 0);
    assert_int_equal(len, SLURM__OUT_MAX);
    assert_int_equal(status, 4);
    free(out);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(slurm__run(slow, envp, 200, &out, &len, &status), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(status, -1);
    assert_true(t1.tv_sec - t0.tv_sec < 3);
    free(out);
    assert_int_equal(slurm__run(missing, envp, 200, &out, &len, &status), CCF_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbatch_argv),
        cmocka_unit_test(test_sbatch_argv_defaults_and_refusals),
        cmocka_unit_test(test_time_and_cpus),
        cmocka_unit_test(test_environment_is_exact),
        cmocka_unit_test(test_environment_refusals),
        cmocka_unit_test(test_parse_job),
        cmocka_unit_test(test_parse_job_hostile),
        cmocka_unit_test(test_parse_jobs_and_nodes),
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_run_bounds_and_timeout),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
