/* test_executor_recovery.c: unit tests of the local executor
 * (src/executor): idempotent submits, recovery after a restart, a killed
 * supervisor, forgetting and later attempts. The fixture is
 * tests/executor_fixture.h. */
#include "executor_fixture.h"

/* ---- idempotence, restarts, loss ---- */

static void test_submit_twice(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sh", "-c", "echo once >> \"$HOME/count\"; sleep 0.3", NULL};
    char id[CCF_JOB_ID_LEN + 1], path[PATH_MAX], buf[64];
    ssize_t n;
    int fd;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS));
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_EXITED, WAIT_MS));
    assert_int_equal(submit(f, id, argv, 0), 0); /* after it ended, too */
    sleep_ms(300);
    job_path(f, id, "work/count", path, sizeof(path));
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    assert_int_equal(n, 5);
    assert_int_equal(count_events(f, id, EXECUTOR_RUNNING), 1);
    assert_int_equal(count_events(f, id, EXECUTOR_EXITED), 1);
}

static void reopen(struct fx *f)
{
    executor_close(f->e);
    pthread_mutex_lock(&f->mu);
    f->n = 0;
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(fx_open(f, 2, 0), 0);
}

static void wait_exists(struct fx *f, const char *id, const char *name)
{
    char path[PATH_MAX];

    job_path(f, id, name, path, sizeof(path));
    for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
        sleep_ms(10);
    assert_int_equal(access(path, F_OK), 0);
}

static void test_recover(void **state)
{
    struct fx *f = *state;
    const char *slow[] = {"sh", "-c", "sleep 1; exit 4", NULL};
    const char *fast[] = {"sh", "-c", "sleep 0.2; exit 5", NULL};
    const char *sleeper[] = {"sleep", "100", NULL};
    char a[CCF_JOB_ID_LEN + 1], b[CCF_JOB_ID_LEN + 1], c[CCF_JOB_ID_LEN + 1];
    const struct rec *r, *x;

    new_id(a);
    new_id(b);
    new_id(c);
    assert_int_equal(submit(f, a, slow, 0), 0);
    assert_int_equal(submit(f, b, fast, 0), 0);
    assert_int_equal(submit(f, c, sleeper, 0), 0);
    assert_non_null(wait_for(f, a, EXECUTOR_RUNNING, WAIT_MS));
    assert_non_null(wait_for(f, b, EXECUTOR_RUNNING, WAIT_MS));
    assert_non_null(wait_for(f, c, EXECUTOR_RUNNING, WAIT_MS));
    executor_close(f->e); /* "ccfd" stops; the jobs go on */
    f->e = NULL;
    wait_exists(f, b, "exit");
    reopen(f);
    assert_int_equal(executor_cancel(f->e, c), 0); /* before it is recovered */
    assert_int_equal(executor_recover(f->e, a), 0);
    assert_int_equal(executor_recover(f->e, b), 0);
    assert_int_equal(executor_recover(f->e, c), 0);
    assert_int_equal(executor_recover(f->e, a), 0); /* watched already: nothing new */
    x = wait_for(f, c, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_true(x->ev.stopped);
    x = wait_for(f, b, EXECUTOR_EXITED, 1000);
    assert_non_null(x);
    assert_int_equal(x->ev.exit_code, 5);
    /* b ran and ended while "ccfd" was down: its RUNNING comes first. */
    r = wait_for(f, b, EXECUTOR_RUNNING, 1000);
    assert_non_null(r);
    assert_true(r < x);
    r = wait_for(f, a, EXECUTOR_RUNNING, 1000);
    assert_non_null(r);
    x = wait_for(f, a, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_true(r < x);
    assert_int_equal(x->ev.exit_code, 4);
    sleep_ms(100);
    assert_int_equal(count_events(f, a, EXECUTOR_RUNNING), 1);
    assert_int_equal(count_events(f, a, EXECUTOR_EXITED), 1);
    assert_int_equal(count_events(f, b, EXECUTOR_EXITED), 1);
    assert_int_equal(count_events(f, b, EXECUTOR_RUNNING), 1);
}

/* A supervisor that died before the command ran: the caller submits again. */
static void test_recover_never_started(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/true", NULL};
    char id[CCF_JOB_ID_LEN + 1], path[PATH_MAX];

    new_id(id);
    assert_int_equal(executor_recover(f->e, id), 1); /* no directory */
    job_path(f, id, "", path, sizeof(path));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(executor_recover(f->e, id), 1); /* no spec */
    job_path(f, id, "spec", path, sizeof(path));
    write_file(path, "ccf-spec 1\n", 0600);
    job_path(f, id, "lock", path, sizeof(path));
    write_file(path, "", 0600);
    assert_int_equal(executor_recover(f->e, id), 1);
    job_path(f, id, "spec", path, sizeof(path));
    assert_int_not_equal(access(path, F_OK), 0); /* so that submit runs it */
    assert_int_equal(run_to_end(f, id, argv).exit_code, 0);
    assert_int_equal(executor_recover(f->e, "nope"), CCF_EINVAL);
}

static void test_supervisor_killed(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sleep", "100", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *x;
    pid_t pgid;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS));
    pgid = read_job_pid(f, id, "running", "pgid");
    assert_int_equal(kill(read_job_pid(f, id, "supervisor.pid", "pid"), SIGKILL), 0);
    x = wait_for(f, id, EXECUTOR_LOST, WAIT_MS);
    assert_non_null(x);
    assert_string_equal(x->ev.reason, "supervisor ended without recording an outcome");
    assert_int_equal(count_events(f, id, EXECUTOR_EXITED), 0);
    /* PDEATHSIG killed the command; it was orphaned to us (subreaper). */
    for (int i = 0; i < 300 && !group_gone(pgid); i++) {
        waitpid(pgid, NULL, WNOHANG);
        sleep_ms(10);
    }
    assert_true(group_gone(pgid));
    reopen(f); /* what a restarted ccfd makes of it */
    assert_int_equal(executor_recover(f->e, id), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_LOST, WAIT_MS));
    assert_int_equal(executor_cancel(f->e, id), 0);
}

static void test_forget(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sh", "-c", "ln -s \"$OUT\" link; mkdir -p a/b/c; echo x > a/b/c/f",
                          NULL};
    char out[PATH_MAX], outvar[PATH_MAX + 8], path[PATH_MAX], id[CCF_JOB_ID_LEN + 1], buf[8];
    const char *envp[] = {"PATH=/usr/bin:/bin", outvar, NULL};
    int64_t size, dropped;

    snprintf(out, sizeof(out), "%s/outside", f->dir);
    write_file(out, "keep", 0600);
    snprintf(outvar, sizeof(outvar), "OUT=%s", out);
    new_id(id);
    assert_int_equal(submit_env(f, id, argv, envp, 0, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_EXITED, WAIT_MS));
    job_path(f, id, "work/a/b/c/f", path, sizeof(path));
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(executor_forget(f->e, id), 0);
    job_path(f, id, "", path, sizeof(path));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(access(out, F_OK), 0); /* the link's target stays */
    assert_int_equal(executor_read_log(f->e, id, 0, buf, sizeof(buf), &size, &dropped),
                     CCF_ENOTFOUND);
    assert_int_equal(executor_forget(f->e, id), 0);
}

/* An attempt after the first submitted where no earlier one ran (a replica
 * given a retry of a job another ran): it runs as that attempt, and the
 * earlier attempts read as not here (the API then reads the store). */
static void test_later_attempt_first_here(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sh", "-c", "echo two", NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    struct executor_spec spec = {.job_id = NULL,
                                 .connector_id = "cc-0123456789ab",
                                 .argv = argv,
                                 .envp = envp,
                                 .cpu = 0.25,
                                 .attempt = 2};
    char id[CCF_JOB_ID_LEN + 1], buf[16];
    int64_t size, dropped;

    new_id(id);
    spec.job_id = id;
    assert_int_equal(executor_submit(f->e, &spec), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_EXITED, WAIT_MS));
    assert_int_equal(executor_read_attempt_log(f->e, id, 2, 0, buf, sizeof(buf), &size, &dropped),
                     4);
    assert_memory_equal(buf, "two\n", 4);
    assert_int_equal(executor_read_attempt_log(f->e, id, 1, 0, buf, sizeof(buf), &size, &dropped),
                     CCF_ENOTFOUND);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_never_started, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_attempt_first_here, setup, teardown),
    };
    int rc;

    if (exec_fx_main(argc, argv, &rc))
        return rc;
    return cmocka_run_group_tests_name("executor-recovery", tests, NULL, NULL);
}
