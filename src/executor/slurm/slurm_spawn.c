/* slurm_spawn.c: runs one Slurm command (sbatch, scontrol, scancel) with
 * posix_spawn, never through a shell, and reads what it prints with a
 * bound on the bytes kept and a deadline: a hung slurmctld must not hang
 * ccfd's executor thread, and a chatty one must not grow its memory. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/slurm/slurm_int.h"

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int spawn(const char *const *argv, const char *const *envp, int wfd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    /* ccfd's threads block signals; the command gets default handling. */
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wfd, 1);
    posix_spawn_file_actions_adddup2(&fa, wfd, 2);
    /* posix_spawnp looks argv[0] up in ccfd's PATH, where slurm lives. */
    rc = posix_spawnp(pid, argv[0], &fa, &at, (char *const *)argv, (char *const *)envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

/* Reads fd until end of file or the deadline; keeps at most SLURM__OUT_MAX. */
static bool drain(int fd, int64_t deadline, char *buf, size_t *len)
{
    char chunk[4096];

    for (;;) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0)
            return false;
        int pr = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return false;
        if (pr == 0)
            continue;
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return true;
        size_t keep = (size_t)n;
        if (keep > SLURM__OUT_MAX - *len)
            keep = SLURM__OUT_MAX - *len;
        memcpy(buf + *len, chunk, keep);
        *len += keep;
    }
}

static int reap(pid_t pid, bool killed)
{
    int st;

    if (killed)
        kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (killed || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int slurm__run(const char *const *argv, const char *const *envp, int timeout_ms, char **out,
               size_t *out_len, int *status)
{
    int fds[2];
    pid_t pid;
    size_t len = 0;
    char *buf;
    bool done;
    int rc;

    if (!argv || !argv[0])
        return CCF_EINVAL;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        CCF_LOG_ERROR("slurm.pipe", CCF_KV_STR("error", strerror(errno)));
        return CCF_EIO;
    }
    if ((rc = spawn(argv, envp, fds[1], &pid)) != 0) {
        CCF_LOG_ERROR("slurm.spawn", CCF_KV_STR("command", argv[0]),
                      CCF_KV_STR("error", strerror(rc)));
        close(fds[0]);
        close(fds[1]);
        return CCF_EIO;
    }
    close(fds[1]);
    buf = ccf_xmalloc(SLURM__OUT_MAX + 1);
    done = drain(fds[0], mono_ms() + timeout_ms, buf, &len);
    close(fds[0]);
    *status = reap(pid, !done);
    if (!done)
        CCF_LOG_WARN("slurm.timeout", CCF_KV_STR("command", argv[0]),
                     CCF_KV_INT("timeout_ms", timeout_ms));
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}
