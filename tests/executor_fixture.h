/* executor_fixture.h: the fixture of the local executor's tests
 * (test_executor_*.c): real jobs under real supervisors, each test in its
 * own temp directory, the executor's events recorded and waited for. Each
 * test binary is its own supervisor (exec_fx_main). Static inline, as the
 * other fixtures, because each tests/test_*.c is its own binary. */
#ifndef CCF_TESTS_EXECUTOR_FIXTURE_H
#define CCF_TESTS_EXECUTOR_FIXTURE_H

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

static char self_exe[PATH_MAX]; /* set once, by exec_fx_main */

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

static inline int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static inline void on_event(void *ctx, const struct executor_event *ev)
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

static inline int fx_open(struct fx *f, int grace_s, size_t log_max)
{
    struct executor_config cfg = {.jobs_dir = f->jobs,
                                  .self_exe = self_exe,
                                  .stop_grace_s = grace_s,
                                  .log_max_bytes = log_max,
                                  .on_event = on_event,
                                  .ctx = f};
    return executor_open(&f->e, &cfg);
}

static inline int setup(void **state)
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

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* After a failed test: no supervisor (and so no command) may outlive it. */
static inline void kill_leftovers(struct fx *f)
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

static inline int teardown(void **state)
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

static inline size_t count_events(struct fx *f, const char *id, enum executor_state st)
{
    size_t c = 0;

    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++)
        c += strcmp(f->ev[i].ev.job_id, id) == 0 && f->ev[i].ev.state == st;
    pthread_mutex_unlock(&f->mu);
    return c;
}

static inline void new_id(char id[CCF_JOB_ID_LEN + 1])
{
    assert_int_equal(ccf_job_id_new(id), 0);
}

static inline void job_path(struct fx *f, const char *id, const char *name, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/%s%s%s", f->jobs, id, name[0] ? "/" : "", name);
    assert_true(k > 0 && (size_t)k < n);
}

static inline int submit_env(struct fx *f, const char *id, const char *const *argv,
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

static inline int submit(struct fx *f, const char *id, const char *const *argv, int64_t timeout_s)
{
    char home[PATH_MAX + 8], work[PATH_MAX];
    const char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", home, NULL};

    job_path(f, id, "work", work, sizeof(work));
    snprintf(home, sizeof(home), "HOME=%s", work);
    return submit_env(f, id, argv, envp, timeout_s, 0);
}

/* Runs argv to its end; the EXITED event, after checking RUNNING came first. */
static inline struct executor_event run_to_end(struct fx *f, const char *id,
                                               const char *const *argv)
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

static inline bool group_gone(pid_t pgid)
{
    return kill(-pgid, 0) < 0 && errno == ESRCH;
}

/* The whole kept log as a string (caller frees). */
static inline char *read_log(struct fx *f, const char *id, int64_t offset, int64_t *size,
                             int64_t *dropped)
{
    char *buf = calloc(1, 1 << 20);
    int n;

    assert_non_null(buf);
    n = executor_read_log(f->e, id, offset, buf, (1 << 20) - 1, size, dropped);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static inline void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* The number after "key=" in a job's file: running's pgid, supervisor.pid's pid. */
static inline pid_t read_job_pid(struct fx *f, const char *id, const char *name, const char *key)
{
    char path[PATH_MAX], line[64], *end;
    size_t n = strlen(key);
    long v;
    FILE *fp;

    job_path(f, id, name, path, sizeof(path));
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof(line), fp));
    fclose(fp);
    assert_true(strncmp(line, key, n) == 0 && line[n] == '=');
    v = strtol(line + n + 1, &end, 10);
    assert_true(end > line + n + 1 && v > 0 && v <= INT32_MAX);
    return (pid_t)v;
}

/* What each test binary's main does first. Run as `BINARY supervise DIR`,
 * the binary is its own supervisor, as ccfd is: true, and *rc is
 * executor_supervise_main's status. Otherwise it notes its own path (under
 * valgrind /proc/self/exe reads as this program, not valgrind) and becomes
 * the subreaper of commands orphaned by a killed supervisor: false, and *rc
 * is 1 if that failed. */
static inline bool exec_fx_main(int argc, char **argv, int *rc)
{
    ssize_t n;

    *rc = 0;
    if (argc == 3 && strcmp(argv[1], "supervise") == 0) {
        *rc = executor_supervise_main(argv[2]);
        return true;
    }
    n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0) {
        *rc = 1;
        return true;
    }
    self_exe[n] = '\0';
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    ccf_log_setup(CCF_LOG_WARN, CCF_LOG_LOGFMT);
    return false;
}

#endif
