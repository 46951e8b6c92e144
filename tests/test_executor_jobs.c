/* test_executor_jobs.c: unit tests of the local executor (src/executor):
 * what a job sees (environment, home, PATH, memory limit) and its log
 * (cap, rotation, reads while it runs). The fixture is
 * tests/executor_fixture.h. */
#include "executor_fixture.h"

/* ---- what a job sees ---- */

static void test_exact_environment(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"env", NULL};
    const char *envp[] = {"CUSTOM_CONNECTOR_JOB_ID=x",
                          "PATH=/usr/bin:/bin",
                          "HOME=/nowhere",
                          "SPACED=a b  c",
                          "EMPTY=",
                          "UTF8=h\xc3\xa9",
                          NULL};
    const char *want = "CUSTOM_CONNECTOR_JOB_ID=x\nPATH=/usr/bin:/bin\nHOME=/nowhere\n"
                       "SPACED=a b  c\nEMPTY=\nUTF8=h\xc3\xa9\n";
    char id[CCF_JOB_ID_LEN + 1], *log;
    const struct rec *x;
    int64_t size, dropped;

    setenv("CCF_TEST_LEAK", "leaked", 1);
    new_id(id);
    assert_int_equal(submit_env(f, id, argv, envp, 0, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_int_equal(x->ev.exit_code, 0);
    log = read_log(f, id, 0, &size, &dropped);
    assert_string_equal(log, want);
    assert_int_equal(size, (int64_t)strlen(want));
    assert_int_equal(dropped, 0);
    free(log);
    unsetenv("CCF_TEST_LEAK");
}

static void test_home_and_cwd(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sh", "-c", "pwd; echo \"$HOME\"; ls -a | wc -l; echo err >&2", NULL};
    char id[CCF_JOB_ID_LEN + 1], work[PATH_MAX], want[3 * PATH_MAX], *log;
    int64_t size, dropped;

    new_id(id);
    run_to_end(f, id, argv);
    job_path(f, id, "work", work, sizeof(work));
    snprintf(want, sizeof(want), "%s\n%s\n2\nerr\n", work, work); /* work starts empty */
    log = read_log(f, id, 0, &size, &dropped);
    assert_string_equal(log, want);
    free(log);
}

/* argv[0] is found in the spec's PATH: not the test's, not the cwd. */
static void test_path_lookup(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"hello-ccf", NULL};
    const char *true_argv[] = {"true", NULL};
    char bin[PATH_MAX], tool[PATH_MAX + 16], pathvar[PATH_MAX + 32], work[PATH_MAX];
    char id[CCF_JOB_ID_LEN + 1], *log;
    const char *envp[] = {pathvar, NULL};
    const struct rec *x;
    int64_t size, dropped;

    snprintf(bin, sizeof(bin), "%s/bin", f->dir);
    assert_int_equal(mkdir(bin, 0700), 0);
    snprintf(tool, sizeof(tool), "%s/hello-ccf", bin);
    write_file(tool, "#!/bin/sh\necho hi-from-path\n", 0700);
    snprintf(pathvar, sizeof(pathvar), "PATH=/nonexistent:%s:/usr/bin:/bin", bin);
    new_id(id);
    assert_int_equal(submit_env(f, id, argv, envp, 0, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_int_equal(x->ev.exit_code, 0);
    log = read_log(f, id, 0, &size, &dropped);
    assert_string_equal(log, "hi-from-path\n");
    free(log);

    /* A PATH without it: not found, though the test's own PATH has `true`. */
    snprintf(pathvar, sizeof(pathvar), "PATH=%s", bin);
    new_id(id);
    assert_int_equal(submit_env(f, id, true_argv, envp, 0, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_int_equal(x->ev.exit_code, 127);

    /* Relative PATH entries would mean the working directory: never. */
    snprintf(pathvar, sizeof(pathvar), "PATH=:.:work");
    new_id(id);
    job_path(f, id, "", work, sizeof(work));
    assert_int_equal(mkdir(work, 0700), 0);
    job_path(f, id, "work", work, sizeof(work));
    assert_int_equal(mkdir(work, 0700), 0);
    snprintf(tool, sizeof(tool), "%s/hello-ccf", work);
    write_file(tool, "#!/bin/sh\necho from-cwd\n", 0700);
    assert_int_equal(submit_env(f, id, argv, envp, 0, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_int_equal(x->ev.exit_code, 127);
}

static void test_memory_limit(void **state)
{
    struct fx *f = *state;
    const char *big[] = {"python3", "-c", "x = bytearray(2**31)", NULL};
    const char *small[] = {"python3", "-c", "x = bytearray(2**26)", NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *x;

    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    new_id(id);
    assert_int_equal(submit_env(f, id, big, envp, 0, 1024), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_int_not_equal(x->ev.exit_code, 0); /* MemoryError */
    new_id(id);
    assert_int_equal(submit_env(f, id, small, envp, 0, 1024), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_int_equal(x->ev.exit_code, 0);
}

/* ---- the log ---- */

static void test_log_cap(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {
        "sh", "-c", "i=0; while [ $i -lt 300 ]; do printf '%04d\\n' $i; i=$((i+1)); done", NULL};
    char id[CCF_JOB_ID_LEN + 1], want[2048], buf[64], *log;
    int64_t size, dropped;
    size_t w = 0;

    executor_close(f->e);
    assert_int_equal(fx_open(f, 2, 1000), 0); /* halves of 500 bytes */
    new_id(id);
    assert_int_equal(run_to_end(f, id, argv).exit_code, 0);
    for (int i = 100; i < 300; i++)
        w += (size_t)snprintf(want + w, sizeof(want) - w, "%04d\n", i);
    log = read_log(f, id, 0, &size, &dropped); /* below dropped: starts there */
    assert_int_equal(size, 1500);
    assert_int_equal(dropped, 500);
    assert_string_equal(log, want);
    free(log);
    log = read_log(f, id, -10, &size, &dropped);
    assert_string_equal(log, "0298\n0299\n");
    free(log);
    log = read_log(f, id, -100000, &size, &dropped);
    assert_string_equal(log, want);
    free(log);
    /* across log.old and log, and short reads */
    assert_int_equal(executor_read_log(f->e, id, 995, buf, 10, &size, &dropped), 10);
    assert_memory_equal(buf, "0199\n0200\n", 10);
    assert_int_equal(executor_read_log(f->e, id, 1200, buf, 5, &size, &dropped), 5);
    assert_memory_equal(buf, "0240\n", 5);
    assert_int_equal(executor_read_log(f->e, id, 1500, buf, 10, &size, &dropped), 0);
    assert_int_equal(executor_read_log(f->e, id, 99999, buf, 10, &size, &dropped), 0);
    assert_int_equal(size, 1500);
}

/* Byte p of `seq -f %06g`: line p / 7, "NNNNNN\n". */
static bool seq_matches(const char *buf, int n, int64_t start)
{
    for (int k = 0; k < n; k++) {
        int64_t p = start + k, line = p / 7;
        char want[24];
        snprintf(want, sizeof(want), "%06lld\n", (long long)line);
        if (buf[k] != want[p % 7])
            return false;
    }
    return true;
}

/* Reads taken while the supervisor rotates always see one consistent stream. */
static void test_log_rotating_reads(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"seq", "-f", "%06g", "0", "199999", NULL};
    char id[CCF_JOB_ID_LEN + 1], buf[4096];
    int64_t size, dropped;
    int reads = 0, n;

    executor_close(f->e);
    assert_int_equal(fx_open(f, 2, 7000), 0);
    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    while (!wait_for(f, id, EXECUTOR_EXITED, 0) && reads < 100000) {
        n = executor_read_log(f->e, id, reads % 2 ? -1000 : 0, buf, sizeof(buf), &size, &dropped);
        if (n == CCF_ENOTFOUND)
            continue;
        assert_true(n >= 0);
        assert_true(dropped <= size && size - dropped <= 7000);
        assert_true(seq_matches(buf, n, reads % 2 ? size - n : dropped));
        reads++;
    }
    assert_non_null(wait_for(f, id, EXECUTOR_EXITED, WAIT_MS));
    n = executor_read_log(f->e, id, -14, buf, sizeof(buf), &size, &dropped);
    assert_int_equal(size, 1400000);
    assert_int_equal(n, 14);
    assert_memory_equal(buf, "199998\n199999\n", 14);
    assert_true(reads > 0);
}

static void test_log_while_running(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sh", "-c", "echo started; exec sleep 100", NULL};
    char id[CCF_JOB_ID_LEN + 1], buf[64];
    int64_t size = 0, dropped = -1;
    int n = 0;

    new_id(id);
    assert_int_equal(executor_read_log(f->e, id, 0, buf, sizeof(buf), &size, &dropped),
                     CCF_ENOTFOUND);
    assert_int_equal(executor_read_log(f->e, "x/../y", 0, buf, sizeof(buf), &size, &dropped),
                     CCF_EINVAL);
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS));
    for (int i = 0; i < 200 && n < 8; i++) {
        n = executor_read_log(f->e, id, 0, buf, sizeof(buf), &size, &dropped);
        assert_true(n >= 0);
        if (n < 8)
            sleep_ms(10);
    }
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "started\n", 8);
    assert_int_equal(size, 8);
    assert_int_equal(dropped, 0);
    assert_int_equal(executor_forget(f->e, id), CCF_ECONFLICT); /* still running */
    assert_int_equal(executor_cancel(f->e, id), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_EXITED, WAIT_MS));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_and_cwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_rotating_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_while_running, setup, teardown),
    };
    int rc;

    if (exec_fx_main(argc, argv, &rc))
        return rc;
    return cmocka_run_group_tests_name("executor-jobs", tests, NULL, NULL);
}
