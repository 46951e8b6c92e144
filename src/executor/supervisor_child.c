/* supervisor_child.c: how the supervisor starts the command: fork, then in
 * the child a process group of its own, death with the supervisor, clean
 * signal state, resource limits, DIR/work as working directory, stdin from
 * /dev/null, stdout and stderr into the log pipe, and exec with exactly the
 * spec's environment. argv[0] without a slash is looked up in the spec's
 * PATH (absolute entries only: never ccfd's PATH, never a working
 * directory). An exec failure comes back over a close-on-exec pipe. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/supervisor_int.h"

#define ARGV0_SHOWN 128 /* of argv[0] in a reason */

static const char *env_value(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (; *envp; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    }
    return NULL;
}

static bool try_next(int err)
{
    return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT ||
           err == ELOOP || err == ENAMETOOLONG;
}

/* Runs in the child: only async-signal-safe calls. Returns an errno. */
static int exec_search(char *const *argv, char *const *envp)
{
    const char *file = argv[0], *path, *p;
    size_t flen = strlen(file);
    char buf[PATH_MAX];
    bool eacces = false;

    if (flen == 0)
        return ENOENT;
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return errno;
    }
    if (!(path = env_value(envp, "PATH")))
        return ENOENT;
    for (p = path;; p++) {
        const char *q = strchr(p, ':');
        size_t dlen = q ? (size_t)(q - p) : strlen(p);

        if (dlen > 0 && p[0] == '/' && dlen + 1 + flen < sizeof(buf)) {
            memcpy(buf, p, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, file, flen + 1);
            execve(buf, argv, envp);
            if (errno == EACCES)
                eacces = true;
            else if (!try_next(errno))
                return errno;
        }
        if (!q)
            break;
        p = q;
    }
    return eacces ? EACCES : ENOENT;
}

struct child_fds {
    int out_w, err_w, null_fd, work_fd;
};

static void reset_signals(void)
{
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, RT internals */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void set_limits(int64_t memory_mib)
{
    struct rlimit core = {0, 0};

    if (memory_mib > 0 && (uint64_t)memory_mib <= (uint64_t)RLIM_INFINITY >> 21) {
        struct rlimit as = {(rlim_t)memory_mib << 20, (rlim_t)memory_mib << 20};
        setrlimit(RLIMIT_AS, &as);
    }
    setrlimit(RLIMIT_CORE, &core);
}

static _Noreturn void child_main(struct sup *s, const struct child_fds *f, pid_t parent)
{
    int err;

    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(127);
    set_limits(s->spec.memory_mib);
    if (fchdir(f->work_fd) < 0 || dup2(f->null_fd, 0) < 0 || dup2(f->out_w, 1) < 0 ||
        dup2(f->out_w, 2) < 0) {
        err = errno;
        goto fail;
    }
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC); /* already so; belt and braces */
    reset_signals(); /* last: a SIGTERM to the group meanwhile ends us here */
    err = exec_search(s->spec.argv, s->spec.envp);
fail:
    if (write(f->err_w, &err, sizeof(err)) < 0)
        _exit(127);
    _exit(127);
}

static int open_fds(struct sup *s, struct child_fds *f, int out[2], int errp[2])
{
    if (mkdirat(s->dfd, EXECUTOR__WORK, 0700) < 0 && errno != EEXIST)
        return CCF_EIO;
    f->work_fd = openat(s->dfd, EXECUTOR__WORK, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    f->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (f->work_fd < 0 || f->null_fd < 0)
        return CCF_EIO;
    if (pipe2(out, O_CLOEXEC) < 0)
        return CCF_EIO;
    if (pipe2(errp, O_CLOEXEC) < 0)
        return CCF_EIO;
    f->out_w = out[1];
    f->err_w = errp[1];
    return fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 ? CCF_EIO : 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* 0 when exec succeeded (the pipe closed empty), else the child's errno. */
static int read_exec_error(int fd)
{
    int err = 0;
    ssize_t n;

    do
        n = read(fd, &err, sizeof(err));
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(err) ? err : 0;
}

static void record_exec_failure(struct sup *s, int err)
{
    int status;

    while (waitpid(s->child, &status, 0) < 0 && errno == EINTR)
        ;
    s->child = 0;
    s->x.has_exit_code = true;
    s->x.exit_code = 127;
    snprintf(s->x.reason, sizeof(s->x.reason), "cannot run %.*s: %s", ARGV0_SHOWN, s->spec.argv[0],
             strerror(err));
}

int supervisor__start(struct sup *s)
{
    struct child_fds f = {-1, -1, -1, -1};
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, rc = CCF_EIO, err;
    pid_t parent = getpid();

    if (open_fds(s, &f, out, errp) < 0) {
        snprintf(s->x.reason, sizeof(s->x.reason), "supervisor: cannot prepare the job: %s",
                 strerror(errno));
        goto out;
    }
    s->child = fork();
    if (s->child < 0) {
        s->child = 0;
        snprintf(s->x.reason, sizeof(s->x.reason), "supervisor: fork: %s", strerror(errno));
        goto out;
    }
    if (s->child == 0)
        child_main(s, &f, parent);
    /* Both sides set the group, so a stop right after fork reaches it. */
    setpgid(s->child, s->child);
    s->pgid = s->child;
    close_fd(&out[1]);
    close_fd(&errp[1]);
    if ((err = read_exec_error(errp[0])) != 0) {
        record_exec_failure(s, err);
        s->pgid = 0;
        goto out;
    }
    s->out_fd = out[0];
    out[0] = -1;
    rc = 0;
out:
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    close_fd(&f.null_fd);
    close_fd(&f.work_fd);
    return rc;
}
