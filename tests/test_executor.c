/* test_executor.c: unit tests of the local executor (src/executor): real
 * jobs under real supervisors. This binary is its own supervisor: run as
 * `test_executor supervise DIR` it calls executor_supervise_main, as ccfd
 * does. Each test runs in its own temp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/executor.h"

#define EVENTS_MAX 256
#define WAIT_MS    10000

static char self_exe[PATH_MAX]; /* set once in main */

struct rec {
    struct executor_event ev;
    int64_t at_ns;
};

struct fx {
    char dir[64];
    char jobs[PATH_MAX];
    struct executor *e;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct rec ev[EVENTS_MAX];
    size_t n;
};

/* ---- helpers ---- */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void on_event(void *ctx, const struct executor_event *ev)
{
    struct fx *f = ctx;

    pthread_mutex_lock(&f->mu);
    if (f->n < EVENTS_MAX) {
        f->ev[f->n].ev = *ev;
        f->ev[f->n].at_ns = now_ns();
        f->n++;
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static int fx_open(struct fx *f, int grace_s, size_t log_max)
{
    struct executor_config cfg = {.jobs_dir = f->jobs,
                                  .self_exe = self_exe,
                                  .stop_grace_s = grace_s,
                                  .log_max_bytes = log_max,
                                  .on_event = on_event,
                                  .ctx = f};
    return executor_open(&f->e, &cfg);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    pthread_condattr_t ca;
    char real[PATH_MAX];

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/ccf-test-exec-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(realpath(f->dir, real));
    assert_true(strlen(real) + 6 <= sizeof(f->jobs));
    memcpy(f->jobs, real, strlen(real));
    memcpy(f->jobs + strlen(real), "/jobs", 6);
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    assert_int_equal(fx_open(f, 2, 0), 0);
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* After a failed test: no supervisor (and so no command) may outlive it. */
static void kill_leftovers(struct fx *f)
{
    DIR *d = opendir(f->jobs);
    struct dirent *de;

    while (d && (de = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        int pid = 0, fd;
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s/lock", f->jobs, de->d_name);
        if ((fd = open(path, O_RDONLY)) < 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s/supervisor.pid", f->jobs, de->d_name);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 && (fp = fopen(path, "r")) != NULL) {
            if (fscanf(fp, "pid=%d", &pid) == 1 && pid > 0)
                kill(pid, SIGKILL);
            fclose(fp);
        }
        close(fd);
    }
    if (d)
        closedir(d);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    executor_close(f->e);
    kill_leftovers(f);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

/* The first event for id in state, waiting up to ms; NULL if none came. */
static const struct rec *wait_for(struct fx *f, const char *id, enum executor_state st, int ms)
{
    int64_t until = now_ns() + (int64_t)ms * 1000000;
    const struct rec *found = NULL;

    pthread_mutex_lock(&f->mu);
    for (;;) {
        for (size_t i = 0; i < f->n && !found; i++) {
            if (strcmp(f->ev[i].ev.job_id, id) == 0 && f->ev[i].ev.state == st)
                found = &f->ev[i];
        }
        if (found || now_ns() >= until)
            break;
        struct timespec ts = {.tv_sec = until / 1000000000, .tv_nsec = until % 1000000000};
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    }
    pthread_mutex_unlock(&f->mu);
    return found;
}

static size_t count_events(struct fx *f, const char *id, enum executor_state st)
{
    size_t c = 0;

    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++)
        c += strcmp(f->ev[i].ev.job_id, id) == 0 && f->ev[i].ev.state == st;
    pthread_mutex_unlock(&f->mu);
    return c;
}

static void new_id(char id[CCF_JOB_ID_LEN + 1])
{
    assert_int_equal(ccf_job_id_new(id), 0);
}

static void job_path(struct fx *f, const char *id, const char *name, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/%s%s%s", f->jobs, id, name[0] ? "/" : "", name);
    assert_true(k > 0 && (size_t)k < n);
}

static int submit_env(struct fx *f, const char *id, const char *const *argv,
                      const char *const *envp, int64_t timeout_s, int64_t memory_mib)
{
    struct executor_spec spec = {.job_id = id,
                                 .connector_id = "cc-0123456789ab",
                                 .argv = argv,
                                 .envp = envp,
                                 .timeout_s = timeout_s,
                                 .cpu = 0.25,
                                 .memory_mib = memory_mib};
    return executor_submit(f->e, &spec);
}

static int submit(struct fx *f, const char *id, const char *const *argv, int64_t timeout_s)
{
    char home[PATH_MAX + 8], work[PATH_MAX];
    const char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", home, NULL};

    job_path(f, id, "work", work, sizeof(work));
    snprintf(home, sizeof(home), "HOME=%s", work);
    return submit_env(f, id, argv, envp, timeout_s, 0);
}

/* Runs argv to its end; the EXITED event, after checking RUNNING came first. */
static struct executor_event run_to_end(struct fx *f, const char *id, const char *const *argv)
{
    const struct rec *r, *x;

    assert_int_equal(submit(f, id, argv, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    r = wait_for(f, id, EXECUTOR_RUNNING, 0);
    assert_non_null(r);
    assert_true(r < x);
    return x->ev;
}

static pid_t read_pgid(struct fx *f, const char *id)
{
    char path[PATH_MAX];
    int pgid = 0;
    FILE *fp;

    job_path(f, id, "running", path, sizeof(path));
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "pgid=%d", &pgid), 1);
    fclose(fp);
    return pgid;
}

static bool group_gone(pid_t pgid)
{
    return kill(-pgid, 0) < 0 && errno == ESRCH;
}

/* The whole kept log as a string (caller frees). */
static char *read_log(struct fx *f, const char *id, int64_t offset, int64_t *size, int64_t *dropped)
{
    char *buf = calloc(1, 1 << 20);
    int n;

    assert_non_null(buf);
    n = executor_read_log(f->e, id, offset, buf, (1 << 20) - 1, size, dropped);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* ---- how a job ends ---- */

static void test_exit_zero(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/true", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    struct executor_event ev;

    new_id(id);
    ev = run_to_end(f, id, argv);
    assert_true(ev.has_exit_code);
    assert_int_equal(ev.exit_code, 0);
    assert_false(ev.stopped);
    assert_false(ev.timed_out);
    assert_string_equal(ev.reason, "");
    sleep_ms(100);
    assert_int_equal(count_events(f, id, EXECUTOR_RUNNING), 1);
    assert_int_equal(count_events(f, id, EXECUTOR_EXITED), 1);
    assert_int_equal(count_events(f, id, EXECUTOR_LOST), 0);
}

static void test_exit_code(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    struct executor_event ev;

    new_id(id);
    ev = run_to_end(f, id, argv);
    assert_true(ev.has_exit_code);
    assert_int_equal(ev.exit_code, 3);
    assert_false(ev.stopped);
}

/* Events carry the times the supervisor recorded: when the command started
 * and when it ended (ccfd may read them long after, after a restart). */
static void test_event_times(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "sleep 0.3", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *r, *x;
    int64_t before = ccf_now_us(), after;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    after = ccf_now_us();
    r = wait_for(f, id, EXECUTOR_RUNNING, 0);
    assert_non_null(r);
    assert_true(r->ev.at_us >= before && r->ev.at_us <= x->ev.at_us);
    assert_true(x->ev.at_us - r->ev.at_us >= 250000);
    assert_true(x->ev.at_us <= after);
}

static void test_killed_by_signal(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    struct executor_event ev;

    new_id(id);
    ev = run_to_end(f, id, argv);
    assert_true(ev.has_exit_code);
    assert_int_equal(ev.exit_code, 137);
}

/* The group member that ignores SIGTERM proves the final SIGKILL to the group. */
static void test_cancel(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "(trap '' TERM; sleep 100) & exec sleep 100", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *x;
    int64_t t0;
    pid_t pgid;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS));
    pgid = read_pgid(f, id);
    sleep_ms(100); /* let the background member start */
    assert_false(group_gone(pgid));
    t0 = now_ns();
    assert_int_equal(executor_cancel(f->e, id), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_true(x->at_ns - t0 < 1500000000LL); /* well within the 2 s grace */
    assert_true(x->ev.stopped);
    assert_false(x->ev.timed_out);
    assert_true(x->ev.has_exit_code);
    assert_int_equal(x->ev.exit_code, 128 + SIGTERM);
    assert_true(group_gone(pgid));
    /* Cancelling what ended, or what never was, is nothing to do. */
    assert_int_equal(executor_cancel(f->e, id), 0);
    new_id(id);
    assert_int_equal(executor_cancel(f->e, id), 0);
    assert_int_equal(executor_cancel(f->e, "../etc"), CCF_EINVAL);
}

static void test_cancel_term_ignored(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 100", NULL};
    char id[CCF_JOB_ID_LEN + 1], buf[16];
    const struct rec *x;
    int64_t t0, took, size, dropped;
    pid_t pgid;
    int n = 0;

    executor_close(f->e);
    assert_int_equal(fx_open(f, 1, 0), 0);
    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    assert_non_null(wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS));
    /* Cancel only once the shell ignores TERM: before its trap, TERM kills it. */
    for (int i = 0; i < WAIT_MS / 10 && n < 6; i++) {
        n = executor_read_log(f->e, id, 0, buf, sizeof(buf), &size, &dropped);
        if (n < 6)
            usleep(10000);
    }
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "ready\n", 6);
    pgid = read_pgid(f, id);
    t0 = now_ns();
    assert_int_equal(executor_cancel(f->e, id), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    took = x->at_ns - t0;
    assert_true(took >= 900000000LL && took < 3000000000LL);
    assert_true(x->ev.stopped);
    assert_int_equal(x->ev.exit_code, 128 + SIGKILL);
    assert_true(group_gone(pgid));
}

/* A stop that arrives while the supervisor is still starting is not lost. */
static void test_cancel_at_once(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sleep", "100", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *x;

    for (int i = 0; i < 5; i++) {
        new_id(id);
        assert_int_equal(submit(f, id, argv, 0), 0);
        assert_int_equal(executor_cancel(f->e, id), 0);
        x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
        assert_non_null(x);
        assert_true(x->ev.stopped);
    }
}

static void test_timeout(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sleep", "30", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *r, *x;
    int64_t took;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 1), 0);
    r = wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS);
    assert_non_null(r);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    took = x->at_ns - r->at_ns;
    assert_true(took >= 900000000LL && took < 2500000000LL);
    assert_true(x->ev.timed_out);
    assert_false(x->ev.stopped);
    assert_int_equal(x->ev.exit_code, 128 + SIGTERM);
}

static void test_not_found(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"no-such-command-ccf", "x", NULL};
    const char *abs_argv[] = {"/nonexistent/tool", NULL};
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *x;

    new_id(id);
    assert_int_equal(submit(f, id, argv, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_true(x->ev.has_exit_code);
    assert_int_equal(x->ev.exit_code, 127);
    assert_string_equal(x->ev.reason, "cannot run no-such-command-ccf: No such file or directory");
    assert_int_equal(count_events(f, id, EXECUTOR_RUNNING), 0);

    new_id(id);
    assert_int_equal(submit(f, id, abs_argv, 0), 0);
    x = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
    assert_non_null(x);
    assert_int_equal(x->ev.exit_code, 127);
    assert_non_null(strstr(x->ev.reason, "cannot run /nonexistent/tool"));
}

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

static pid_t read_supervisor_pid(struct fx *f, const char *id)
{
    char path[PATH_MAX];
    int pid = 0;
    FILE *fp;

    job_path(f, id, "supervisor.pid", path, sizeof(path));
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "pid=%d", &pid), 1);
    fclose(fp);
    return pid;
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
    pgid = read_pgid(f, id);
    assert_int_equal(kill(read_supervisor_pid(f, id), SIGKILL), 0);
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

/* ---- latency (printed, not asserted) ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_latency(void **state)
{
    struct fx *f = *state;
    const char *argv[] = {"sleep", "100", NULL};
    int64_t start[20], stop[20];
    char id[CCF_JOB_ID_LEN + 1];
    const struct rec *r;

    for (int i = 0; i < 20; i++) {
        int64_t t0;
        new_id(id);
        t0 = now_ns();
        assert_int_equal(submit(f, id, argv, 0), 0);
        r = wait_for(f, id, EXECUTOR_RUNNING, WAIT_MS);
        assert_non_null(r);
        start[i] = r->at_ns - t0;
        t0 = now_ns();
        assert_int_equal(executor_cancel(f->e, id), 0);
        r = wait_for(f, id, EXECUTOR_EXITED, WAIT_MS);
        assert_non_null(r);
        stop[i] = r->at_ns - t0;
    }
    qsort(start, 20, sizeof(start[0]), cmp_i64);
    qsort(stop, 20, sizeof(stop[0]), cmp_i64);
    printf("executor latency (median of 20): submit->RUNNING %.2f ms, cancel->EXITED %.2f ms\n",
           (double)(start[9] + start[10]) / 2e6, (double)(stop[9] + stop[10]) / 2e6);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_by_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_term_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_home_and_cwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_rotating_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_never_started, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_attempt_first_here, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latency, setup, teardown),
    };
    ssize_t n;

    if (argc == 3 && strcmp(argv[1], "supervise") == 0)
        return executor_supervise_main(argv[2]);
    /* Under valgrind, /proc/self/exe reads as this program, not valgrind. */
    n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0)
        return 1;
    self_exe[n] = '\0';
    /* Commands orphaned by a killed supervisor come to us, to be reaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    ccf_log_setup(CCF_LOG_WARN, CCF_LOG_LOGFMT);
    return cmocka_run_group_tests_name("executor", tests, NULL, NULL);
}
