/* jobdir.c: the files of a job directory (see executor_int.h): atomic
 * writes, the spec, exit, running and pid files, the lock probe, and the
 * recursive removal used by executor_forget. Used by ccfd and by the
 * supervisor; nothing here keeps state. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"
#include "executor/executor_int.h"

#define SPEC_MAGIC     "ccf-spec 1\n"
#define SMALL_FILE_MAX 4096
#define TREE_DEPTH_MAX 256

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int executor__write_atomic(int dfd, const char *name, const void *buf, size_t len, mode_t mode)
{
    return executor__write_file(dfd, name, buf, len, mode, true);
}

int executor__write_file(int dfd, const char *name, const void *buf, size_t len, mode_t mode,
                         bool durable)
{
    char tmp[64];
    int fd = -1, rc = CCF_EIO, n;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return CCF_EINVAL;
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        goto out;
    if (write_all(fd, buf, len) < 0 || (durable && fsync(fd) < 0))
        goto out;
    if (renameat(dfd, tmp, dfd, name) < 0)
        goto out;
    if (durable && fsync(dfd) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        CCF_LOG_ERROR("executor.write_failed", CCF_KV_STR("file", name),
                      CCF_KV_STR("error", strerror(errno)));
    if (fd >= 0)
        close(fd);
    return rc;
}

int executor__read_file(int dfd, const char *name, size_t max, char **out, size_t *len)
{
    char *buf = NULL;
    size_t got = 0;
    int fd, rc = CCF_EIO;
    struct stat st;
    size_t cap;

    fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? CCF_ENOTFOUND : CCF_EIO;
    if (fstat(fd, &st) < 0)
        goto out;
    cap = (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
    buf = ccf_xmalloc(cap + 1);
    for (;;) {
        ssize_t r;

        if (got == cap && cap <= max) { /* it grew since fstat */
            cap = cap * 2 < max + 1 ? cap * 2 : max + 1;
            buf = ccf_xrealloc(buf, cap + 1);
        }
        r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > max) {
            rc = CCF_ETOOLARGE;
            goto out;
        }
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

bool executor__exists(int dfd, const char *name)
{
    struct stat st;

    return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool executor__lock_held(int dfd)
{
    bool held = false;
    int fd = openat(dfd, EXECUTOR__LOCK, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return false;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        held = errno == EWOULDBLOCK;
    close(fd); /* also drops the lock if we just took it */
    return held;
}

/* ---- a growing buffer for the spec ---- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool full;
};

static void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
    size_t need;

    if (b->full || !ccf_size_add(b->len, n, &need) || need > EXECUTOR__SPEC_MAX) {
        b->full = true;
        return;
    }
    if (need > b->cap) {
        b->cap = need > 2 * b->cap ? need : 2 * b->cap;
        b->p = ccf_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len = need;
}

static void sbuf_num(struct sbuf *b, const char *key, int64_t v)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%s=%" PRId64 "\n", key, v);

    if (n > 0 && (size_t)n < sizeof(line))
        sbuf_put(b, line, (size_t)n);
    else
        b->full = true;
}

static size_t count_strings(const char *const *v)
{
    size_t n = 0;

    while (v[n])
        n++;
    return n;
}

static size_t count_opt(const char *const *v)
{
    return v ? count_strings(v) : 0;
}

int executor__spec_encode(const char *job_id, const char *const *argv, const char *const *envp,
                          int64_t timeout_s, int64_t memory_mib, int64_t grace_s, int64_t log_max,
                          char **out, size_t *len)
{
    return executor__spec_encode_ext(job_id, argv, envp, timeout_s, memory_mib, grace_s, log_max,
                                     NULL, out, len);
}

int executor__spec_encode_ext(const char *job_id, const char *const *argv, const char *const *envp,
                              int64_t timeout_s, int64_t memory_mib, int64_t grace_s,
                              int64_t log_max, const struct executor__extra *x, char **out,
                              size_t *len)
{
    struct sbuf b = {0};
    size_t argc = count_strings(argv), envc = count_strings(envp);
    size_t stopc = x ? count_opt(x->stop_argv) : 0, rmc = x ? count_opt(x->rm_argv) : 0;

    if (argc == 0 || argc > EXECUTOR__ARGS_MAX || envc > EXECUTOR__ARGS_MAX ||
        stopc > EXECUTOR__ARGS_MAX || rmc > EXECUTOR__ARGS_MAX)
        return CCF_EINVAL;
    sbuf_put(&b, SPEC_MAGIC, strlen(SPEC_MAGIC));
    sbuf_put(&b, "job_id=", 7);
    sbuf_put(&b, job_id, strlen(job_id));
    sbuf_put(&b, "\n", 1);
    sbuf_num(&b, "timeout_s", timeout_s);
    sbuf_num(&b, "memory_mib", memory_mib);
    sbuf_num(&b, "grace_s", grace_s);
    sbuf_num(&b, "log_max", log_max);
    sbuf_num(&b, "argc", (int64_t)argc);
    sbuf_num(&b, "envc", (int64_t)envc);
    if (x) {
        sbuf_num(&b, "stopc", (int64_t)stopc);
        sbuf_num(&b, "rmc", (int64_t)rmc);
        sbuf_num(&b, "oom_mib", x->oom_mib);
    }
    sbuf_put(&b, "\n", 1);
    for (size_t i = 0; i < argc; i++)
        sbuf_put(&b, argv[i], strlen(argv[i]) + 1);
    for (size_t i = 0; i < envc; i++)
        sbuf_put(&b, envp[i], strlen(envp[i]) + 1);
    for (size_t i = 0; x && i < stopc; i++)
        sbuf_put(&b, x->stop_argv[i], strlen(x->stop_argv[i]) + 1);
    for (size_t i = 0; x && i < rmc; i++)
        sbuf_put(&b, x->rm_argv[i], strlen(x->rm_argv[i]) + 1);
    if (b.full) {
        free(b.p);
        return CCF_ETOOLARGE;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* Reads "key=<int>\n" at *p; false if the line is not exactly that. */
static bool parse_num(char **p, const char *key, int64_t min, int64_t max, int64_t *out)
{
    size_t k = strlen(key);
    char *end;
    long long v;

    if (strncmp(*p, key, k) != 0 || (*p)[k] != '=')
        return false;
    errno = 0;
    v = strtoll(*p + k + 1, &end, 10);
    if (errno != 0 || end == *p + k + 1 || *end != '\n' || v < min || v > max)
        return false;
    *out = v;
    *p = end + 1;
    return true;
}

/* Splits count NUL-terminated strings starting at *p (before end) into a new vector. */
static char **split_strings(char **p, const char *end, int64_t count)
{
    char **v = ccf_xcalloc((size_t)count + 1, sizeof(*v));

    for (int64_t i = 0; i < count; i++) {
        char *nul = memchr(*p, '\0', (size_t)(end - *p));
        if (*p >= end || !nul) {
            free(v);
            return NULL;
        }
        v[i] = *p;
        *p = nul + 1;
    }
    return v;
}

static bool parse_job_id(char **p, char out[32])
{
    char *nl;
    size_t n;

    if (strncmp(*p, "job_id=", 7) != 0 || !(nl = strchr(*p, '\n')))
        return false;
    n = (size_t)(nl - (*p + 7));
    if (n == 0 || n >= 32)
        return false;
    memcpy(out, *p + 7, n);
    out[n] = '\0';
    *p = nl + 1;
    return true;
}

int executor__spec_decode(char *buf, size_t len, struct executor__spec *out)
{
    struct executor__spec s = {.buf = buf};
    char *p = buf, *end = buf + len;
    int64_t argc, envc, stopc = 0, rmc = 0;

    /* buf is NUL-terminated past len (read_file), so the header's string
     * functions stop at the first NUL at the latest. */
    if (strncmp(p, SPEC_MAGIC, strlen(SPEC_MAGIC)) != 0)
        goto bad;
    p += strlen(SPEC_MAGIC);
    if (!parse_job_id(&p, s.job_id) || !parse_num(&p, "timeout_s", 0, INT64_MAX, &s.timeout_s) ||
        !parse_num(&p, "memory_mib", 0, INT64_MAX / 2, &s.memory_mib) ||
        !parse_num(&p, "grace_s", 0, INT32_MAX, &s.grace_s) ||
        !parse_num(&p, "log_max", EXECUTOR__LOG_MIN, INT64_MAX / 2, &s.log_max) ||
        !parse_num(&p, "argc", 1, EXECUTOR__ARGS_MAX, &argc) ||
        !parse_num(&p, "envc", 0, EXECUTOR__ARGS_MAX, &envc))
        goto bad;
    /* A container backend's lines; absent for a local job. */
    if (strncmp(p, "stopc=", 6) == 0 && (!parse_num(&p, "stopc", 0, EXECUTOR__ARGS_MAX, &stopc) ||
                                         !parse_num(&p, "rmc", 0, EXECUTOR__ARGS_MAX, &rmc) ||
                                         !parse_num(&p, "oom_mib", 0, INT64_MAX / 2, &s.oom_mib)))
        goto bad;
    if (*p++ != '\n')
        goto bad;
    if (!(s.argv = split_strings(&p, end, argc)) || !(s.envp = split_strings(&p, end, envc)) ||
        (stopc > 0 && !(s.stop_argv = split_strings(&p, end, stopc))) ||
        (rmc > 0 && !(s.rm_argv = split_strings(&p, end, rmc))) || p != end)
        goto bad;
    *out = s;
    return 0;
bad:
    executor__spec_clear(&s);
    return CCF_EINVAL;
}

void executor__spec_clear(struct executor__spec *s)
{
    free(s->argv);
    free(s->envp);
    free(s->stop_argv);
    free(s->rm_argv);
    free(s->buf);
    s->argv = s->envp = s->stop_argv = s->rm_argv = NULL;
    s->buf = NULL;
}

/* ---- exit, running and pid files: "key=value" lines ---- */

int executor__exit_write(int dfd, const struct executor__exit *x)
{
    char reason[EXECUTOR__REASON_MAX], buf[EXECUTOR__REASON_MAX + 192];
    size_t i;
    int n;

    /* One line per key: the reason must not carry a newline. */
    for (i = 0; x->reason[i] && i + 1 < sizeof(reason); i++)
        reason[i] = (unsigned char)x->reason[i] < 0x20 ? '?' : x->reason[i];
    reason[i] = '\0';
    n = snprintf(buf, sizeof(buf),
                 "has_exit_code=%d\nexit_code=%d\nsignal=%d\ntimed_out=%d\nstopped=%d\n"
                 "reason=%s\nended_at=%" PRId64 "\n",
                 x->has_exit_code, x->exit_code, x->signal, x->timed_out, x->stopped, reason,
                 x->ended_at);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return CCF_EINVAL;
    return executor__write_atomic(dfd, EXECUTOR__EXIT, buf, (size_t)n, 0600);
}

static bool parse_flag(char **p, const char *key, bool *out)
{
    int64_t v;

    if (!parse_num(p, key, 0, 1, &v))
        return false;
    *out = v != 0;
    return true;
}

int executor__exit_read(int dfd, struct executor__exit *out)
{
    struct executor__exit x = {0};
    char *buf = NULL, *p, *nl;
    int64_t code, sig, ended_at = 0;
    size_t len, n;
    int rc;

    if ((rc = executor__read_file(dfd, EXECUTOR__EXIT, SMALL_FILE_MAX, &buf, &len)) < 0)
        return rc == CCF_ENOTFOUND ? rc : CCF_EIO;
    p = buf;
    rc = CCF_EIO;
    if (!parse_flag(&p, "has_exit_code", &x.has_exit_code) ||
        !parse_num(&p, "exit_code", 0, 255, &code) || !parse_num(&p, "signal", 0, 128, &sig) ||
        !parse_flag(&p, "timed_out", &x.timed_out) || !parse_flag(&p, "stopped", &x.stopped) ||
        strncmp(p, "reason=", 7) != 0 || !(nl = strchr(p, '\n')))
        goto out;
    n = (size_t)(nl - (p + 7));
    if (n >= sizeof(x.reason))
        n = sizeof(x.reason) - 1;
    memcpy(x.reason, p + 7, n);
    x.reason[n] = '\0';
    /* Absent from a file a supervisor of an older ccfd wrote: unknown. */
    p = nl + 1;
    if (*p != '\0' && !parse_num(&p, "ended_at", 0, INT64_MAX, &ended_at))
        goto out;
    x.ended_at = ended_at;
    x.exit_code = (int)code;
    x.signal = (int)sig;
    *out = x;
    rc = 0;
out:
    if (rc < 0)
        CCF_LOG_ERROR("executor.bad_exit_file", CCF_KV_STR("file", EXECUTOR__EXIT));
    free(buf);
    return rc;
}

int executor__running_write(int dfd, pid_t pgid, int64_t started_at)
{
    char buf[96];
    int n = snprintf(buf, sizeof(buf), "pgid=%d\nstarted_at=%" PRId64 "\n", (int)pgid, started_at);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return CCF_EINVAL;
    return executor__write_atomic(dfd, EXECUTOR__RUNNING, buf, (size_t)n, 0600);
}

static int read_pid_key(int dfd, const char *name, const char *key, pid_t *out)
{
    char *buf = NULL, *p;
    int64_t v;
    size_t len;
    int rc;

    if ((rc = executor__read_file(dfd, name, SMALL_FILE_MAX, &buf, &len)) < 0)
        return rc == CCF_ENOTFOUND ? rc : CCF_EIO;
    p = buf;
    rc = parse_num(&p, key, 1, INT32_MAX, &v) ? 0 : CCF_EIO;
    if (rc == 0)
        *out = (pid_t)v;
    free(buf);
    return rc;
}

int executor__running_read(int dfd, pid_t *pgid, int64_t *started_at)
{
    char *buf = NULL, *p;
    int64_t pg, at;
    size_t len;
    int rc;

    if ((rc = executor__read_file(dfd, EXECUTOR__RUNNING, SMALL_FILE_MAX, &buf, &len)) < 0)
        return rc == CCF_ENOTFOUND ? rc : CCF_EIO;
    p = buf;
    rc = parse_num(&p, "pgid", 1, INT32_MAX, &pg) && parse_num(&p, "started_at", 0, INT64_MAX, &at)
             ? 0
             : CCF_EIO;
    if (rc == 0) {
        *pgid = (pid_t)pg;
        *started_at = at;
    }
    free(buf);
    return rc;
}

int executor__pid_write(int dfd, pid_t pid)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "pid=%d\n", (int)pid);

    if (n < 0 || (size_t)n >= sizeof(buf))
        return CCF_EINVAL;
    /* Not synced: it means something only while the supervisor lives. */
    return executor__write_file(dfd, EXECUTOR__PID, buf, (size_t)n, 0600, false);
}

int executor__pid_read(int dfd, pid_t *pid)
{
    return read_pid_key(dfd, EXECUTOR__PID, "pid", pid);
}

/* ---- recursive removal ---- */

static int remove_entries(int fd, int depth);

/* Removes name under dfd: a file or link by unlinkat, a directory by
 * descending first. Never follows a symbolic link. */
static int remove_one(int dfd, const char *name, int depth)
{
    int fd, rc;

    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return CCF_EIO;
    if (depth >= TREE_DEPTH_MAX)
        return CCF_EIO;
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return CCF_EIO;
    if ((rc = remove_entries(fd, depth + 1)) < 0)
        return rc; /* remove_entries closed fd */
    if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return CCF_EIO;
    return 0;
}

/* Removes everything in the directory fd, then closes it. */
static int remove_entries(int fd, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *de;
    int rc = 0;

    if (!d) {
        close(fd);
        return CCF_EIO;
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rc = remove_one(dirfd(d), de->d_name, depth);
    }
    closedir(d);
    return rc;
}

int executor__remove_tree(int dfd, const char *name)
{
    int rc = remove_one(dfd, name, 0);

    if (rc < 0)
        CCF_LOG_ERROR("executor.remove_failed", CCF_KV_STR("dir", name),
                      CCF_KV_STR("error", strerror(errno)));
    return rc;
}
