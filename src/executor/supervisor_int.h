/* supervisor_int.h: the supervisor's state, shared by supervisor.c (its
 * life) and supervisor_child.c (starting the command). Supervisor only. */
#ifndef CCF_SUPERVISOR_INT_H
#define CCF_SUPERVISOR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "executor/executor_int.h"

struct sup {
    const char *dir;
    int dfd;       /* DIR */
    int lock_fd;   /* DIR/lock, held for our whole life */
    int notify_fd; /* to ccfd, -1 when there is none or it went away */
    int sig_fd;    /* signalfd: SIGTERM, SIGINT, SIGCHLD */
    int out_fd;    /* read end of the command's stdout+stderr, -1 at EOF */
    struct executor__spec spec;
    struct executor__log log;
    pid_t child;         /* the command, 0 once reaped */
    pid_t pgid;          /* its process group (= its pid) */
    bool stop_requested; /* SIGTERM or SIGINT arrived */
    bool killed;         /* SIGKILL was sent after the grace period */
    int64_t deadline;    /* monotonic ms when the timeout expires, 0: none */
    int64_t kill_at;     /* monotonic ms when SIGKILL follows SIGTERM, 0: none */
    struct executor__exit x;
};

/* Forks and execs the command. 0 when it executes (child, pgid and out_fd
 * set); CCF_EIO when it could not, with s->x filled (exit code 127 and a
 * reason when exec failed). */
int supervisor__start(struct sup *s);

#endif
