/* credfile.c: the credentials files. Loading (libinih, after refusing a
 * file that others may read or write), atomic replacement (temporary file,
 * fsync, rename or link, fsync of the directory; mode 0600 throughout) and
 * the admin operations on the file: init, add, list, revoke. */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth_int.h"
#include "core/log.h"

#define FIELD_SECRET    1u
#define FIELD_ACCOUNT   2u
#define FIELD_TOKEN     4u
#define FIELD_CONNECTOR 8u
#define FIELD_EXPIRES   16u
#define FIELD_JOB       32u
#define FIELD_REGION    64u

/* ---- loading ---- */

/* inih keeps only the first 49 characters of a section name, and a line
 * longer than its buffer comes back as two lines; reading through
 * load_read lets us see every line whole: the section names, the line
 * numbers and the lines that are too long. */
struct load_ctx {
    const char *path;
    enum auth__file_kind kind;
    FILE *f;
    int line;      /* line of the key being handled */
    int next_line; /* line the next read starts on */
    struct auth__table *t;
    struct auth__cred cur;
    bool in_section;
    int section_line;
    unsigned seen;
    bool failed;
};

static void load_fail(struct load_ctx *x, int line, const char *error)
{
    const char *hint = x->kind == AUTH__FILE_KEYS
                           ? "fix the entry, or manage keys with ccfd credentials"
                           : "ccfd writes this file itself; remove it to start over";

    if (x->failed)
        return; /* report the first error only */
    x->failed = true;
    CCF_LOG_ERROR("auth.credentials_invalid", CCF_KV_STR("path", x->path), CCF_KV_INT("line", line),
                  CCF_KV_STR("key_id", x->in_section ? x->cur.key_id : NULL),
                  CCF_KV_STR("error", error), CCF_KV_STR("hint", hint));
}

/* The section that just ended becomes an entry. */
static void finish_section(struct load_ctx *x)
{
    const char *why;

    if (!x->in_section || x->failed)
        return;
    if (!(x->seen & FIELD_SECRET) || !(x->seen & FIELD_ACCOUNT))
        load_fail(x, x->section_line, "a key needs secret_access_key and account_id");
    else if (!auth__cred_valid(&x->cur, x->kind, &why))
        load_fail(x, x->section_line, why);
    else if (auth__table_insert(x->t, &x->cur) < 0)
        load_fail(x, x->section_line, "this access key id has a section already");
    OPENSSL_cleanse(&x->cur, sizeof(x->cur));
    x->in_section = false;
}

/* A "[name]" line starts a new entry; name is taken whole, not as inih cut it. */
static void see_line(struct load_ctx *x, const char *s)
{
    const char *end, *start;
    size_t n;

    if (x->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3; /* a UTF-8 byte order mark, which inih skips too */
    start = s;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '[')
        return;
    if (s != start) {
        /* inih would read it as the continuation of the value before */
        load_fail(x, x->line, "a section header must start at the beginning of its line");
        return;
    }
    finish_section(x);
    end = strchr(s, ']');
    n = end ? (size_t)(end - s - 1) : 0;
    x->in_section = true;
    x->section_line = x->line;
    x->seen = 0;
    if (!end || n == 0 || n > AUTH_KEY_ID_MAX) {
        load_fail(x, x->line, "a section name must be an access key id of 16 to 128 characters");
        return;
    }
    memcpy(x->cur.key_id, s + 1, n);
    x->cur.key_id[n] = '\0';
}

static char *load_read(char *str, int num, void *stream)
{
    struct load_ctx *x = stream;
    char *r = fgets(str, num, x->f);

    if (!r)
        return NULL;
    x->line = x->next_line;
    if (strchr(r, '\n'))
        x->next_line++;
    else if (!feof(x->f))
        load_fail(x, x->line, "line too long for the INI parser (200 bytes)");
    see_line(x, r);
    return r;
}

static bool set_str(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);

    if (n >= cap)
        return false;
    memcpy(dst, v, n + 1);
    return true;
}

/* Which field a key names, and where its value goes; 0 if none. */
static unsigned field_of(struct load_ctx *x, const char *name, char **dst, size_t *cap)
{
    static const struct {
        const char *name;
        unsigned bit;
        size_t off, cap;
    } f[] = {
        {"secret_access_key", FIELD_SECRET, offsetof(struct auth__cred, secret),
         AUTH_SECRET_MAX + 1},
        {"account_id", FIELD_ACCOUNT, offsetof(struct auth__cred, account_id),
         CCF_ACCOUNT_ID_LEN + 1},
        {"session_token", FIELD_TOKEN, offsetof(struct auth__cred, token),
         AUTH_SESSION_TOKEN_MAX + 1},
        {"connector_id", FIELD_CONNECTOR, offsetof(struct auth__cred, connector_id),
         CCF_CONNECTOR_ID_LEN + 1},
        {"job_id", FIELD_JOB, offsetof(struct auth__cred, job_id), CCF_JOB_ID_LEN + 1},
        {"region", FIELD_REGION, offsetof(struct auth__cred, region), CCF_REGION_MAX + 1},
        {"expires_at", FIELD_EXPIRES, 0, 0},
    };

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (strcmp(name, f[i].name) != 0)
            continue;
        if ((f[i].bit == FIELD_JOB || f[i].bit == FIELD_REGION) && x->kind != AUTH__FILE_JOBS)
            return 0;
        *dst = f[i].cap ? (char *)&x->cur + f[i].off : NULL;
        *cap = f[i].cap;
        return f[i].bit;
    }
    return 0;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *x = user;
    unsigned bit;
    char *dst;
    size_t cap;

    (void)section; /* maybe cut short: x->cur.key_id has it whole */
    if (x->failed)
        return 1;
    if (!x->in_section) {
        load_fail(x, x->line, "keys go inside an [access key id] section");
        return 1;
    }
    bit = field_of(x, name, &dst, &cap);
    if (bit == 0) {
        load_fail(x, x->line, "unknown key");
    } else if (x->seen & bit) {
        load_fail(x, x->line, "key given twice in one section");
    } else if (bit == FIELD_EXPIRES) {
        if (!auth__parse_expiry(value, &x->cur.expires_at) || x->cur.expires_at <= 0)
            load_fail(x, x->line,
                      "expires_at must be RFC 3339 (2026-12-31T23:59:59Z) or "
                      "epoch seconds");
    } else if (!set_str(dst, cap, value)) {
        load_fail(x, x->line, "value too long");
    }
    x->seen |= bit;
    return 1;
}

/* Only the owner may read or write the file. */
static int check_mode(const char *path, int fd)
{
    struct stat st;
    char mode[8], hint[200];

    if (fstat(fd, &st) != 0) {
        CCF_LOG_ERROR("auth.credentials_unreadable", CCF_KV_STR("path", path),
                      CCF_KV_STR("error", strerror(errno)));
        return CCF_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        CCF_LOG_ERROR("auth.credentials_invalid", CCF_KV_STR("path", path),
                      CCF_KV_STR("error", "not a regular file"));
        return CCF_EINVAL;
    }
    if (st.st_mode & 077) {
        snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
        snprintf(hint, sizeof(hint), "others may read or change the keys: chmod 600 %.120s", path);
        CCF_LOG_ERROR("auth.credentials_mode", CCF_KV_STR("path", path), CCF_KV_STR("mode", mode),
                      CCF_KV_STR("hint", hint));
        return CCF_EINVAL;
    }
    return 0;
}

int auth__table_load(const char *path, enum auth__file_kind kind, struct auth__table **out)
{
    struct load_ctx x = {.path = path, .kind = kind, .next_line = 1};
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0) {
        if (errno == ENOENT)
            return CCF_ENOTFOUND;
        CCF_LOG_ERROR("auth.credentials_unreadable", CCF_KV_STR("path", path),
                      CCF_KV_STR("error", strerror(errno)));
        return CCF_EIO;
    }
    if ((rc = check_mode(path, fd)) < 0) {
        close(fd);
        return rc;
    }
    x.f = fdopen(fd, "r");
    if (!x.f) {
        close(fd);
        return CCF_EIO;
    }
    x.t = auth__table_new();
    rc = ini_parse_stream(load_read, &x, on_key, &x);
    finish_section(&x);
    fclose(x.f);
    if (rc != 0 && !x.failed)
        load_fail(&x, rc > 0 ? rc : x.line, "syntax error: expected [key id] or key = value");
    OPENSSL_cleanse(&x.cur, sizeof(x.cur));
    if (x.failed) {
        auth__table_free(x.t);
        return CCF_EINVAL;
    }
    *out = x.t;
    return 0;
}

/* ---- writing ---- */

static void add_line(struct auth__buf *b, const char *key, const char *value)
{
    auth__buf_adds(b, key);
    auth__buf_adds(b, " = ");
    auth__buf_adds(b, value);
    auth__buf_addc(b, '\n');
}

static void render(struct auth__buf *b, enum auth__file_kind kind, const struct auth__table *t)
{
    char when[CCF_TIME_LEN + 1];

    auth__buf_adds(b, kind == AUTH__FILE_KEYS
                          ? "# ccf credentials: one [access key id] section per key, mode 0600.\n"
                            "# Keys: secret_access_key, account_id (12 digits), and optional\n"
                            "# session_token, connector_id (the key's scope), expires_at\n"
                            "# (RFC 3339). ccfd re-reads this file on SIGHUP.\n"
                          : "# ccf per-job credentials, written by ccfd: do not edit.\n");
    for (size_t i = 0; i < t->n; i++) {
        const struct auth__cred *c = &t->v[i];
        auth__buf_adds(b, "\n[");
        auth__buf_adds(b, c->key_id);
        auth__buf_adds(b, "]\n");
        add_line(b, "secret_access_key", c->secret);
        add_line(b, "account_id", c->account_id);
        if (c->token[0])
            add_line(b, "session_token", c->token);
        if (c->connector_id[0])
            add_line(b, "connector_id", c->connector_id);
        if (c->job_id[0])
            add_line(b, "job_id", c->job_id);
        if (c->region[0])
            add_line(b, "region", c->region);
        if (c->expires_at > 0) {
            ccf_time_format(c->expires_at * 1000000, when);
            /* whole seconds: drop ".000000" */
            memmove(when + 19, when + 26, 2);
            add_line(b, "expires_at", when);
        }
    }
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static int fsync_dir(const char *path)
{
    char *copy = ccf_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0 || fsync(fd) != 0)
        rc = CCF_EIO;
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

static int write_fail(const char *path, const char *step, char *tmp, int fd)
{
    CCF_LOG_ERROR("auth.credentials_write_failed", CCF_KV_STR("path", path),
                  CCF_KV_STR("step", step), CCF_KV_STR("error", strerror(errno)));
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    return CCF_EIO;
}

/* Writes t to a temporary file beside path, then renames it over path, or
 * links it to path when exclusive (EEXIST: CCF_ECONFLICT). */
static int table_write(const char *path, enum auth__file_kind kind, const struct auth__table *t,
                       bool exclusive)
{
    struct auth__buf b = {0};
    size_t n = strlen(path) + 16;
    char *tmp = ccf_xmalloc(n);
    int fd;
    bool ok;

    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        free(tmp);
        return write_fail(path, "create", NULL, -1);
    }
    render(&b, kind, t);
    ok = fchmod(fd, 0600) == 0 && write_all(fd, b.p, b.len) && fsync(fd) == 0;
    auth__buf_clear(&b);
    if (!ok)
        return write_fail(path, "write", tmp, fd);
    close(fd);
    if (exclusive) {
        if (link(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            free(tmp);
            if (e == EEXIST)
                return CCF_ECONFLICT;
            errno = e;
            return write_fail(path, "link", NULL, -1);
        }
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        return write_fail(path, "rename", tmp, -1);
    }
    free(tmp);
    if (fsync_dir(path) < 0)
        return write_fail(path, "fsync directory", NULL, -1);
    return 0;
}

int auth__table_write(const char *path, enum auth__file_kind kind, const struct auth__table *t)
{
    return table_write(path, kind, t, false);
}

int auth__dir_lock(const char *path)
{
    char *copy = ccf_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        CCF_LOG_ERROR("auth.credentials_lock_failed", CCF_KV_STR("path", path),
                      CCF_KV_STR("error", strerror(errno)));
        if (fd >= 0)
            close(fd);
        fd = CCF_EIO;
    }
    free(copy);
    return fd;
}

void auth__dir_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* ---- admin operations ---- */

int auth_credentials_init_file(const char *path, const char *account_id,
                               char key_id[AUTH_KEY_ID_MAX + 1])
{
    struct auth__table *t = auth__table_new();
    struct auth__cred c = {0};
    const char *why;
    int rc;

    if (!set_str(c.account_id, sizeof(c.account_id), account_id)) {
        rc = CCF_EINVAL;
        goto out;
    }
    if ((rc = auth__new_key_pair("AKIA", &c)) < 0)
        goto out;
    if (!auth__cred_valid(&c, AUTH__FILE_KEYS, &why)) {
        rc = CCF_EINVAL;
        goto out;
    }
    auth__table_insert(t, &c);
    if ((rc = table_write(path, AUTH__FILE_KEYS, t, true)) < 0)
        goto out;
    memcpy(key_id, c.key_id, sizeof(c.key_id));
    CCF_LOG_INFO("auth.credentials_created", CCF_KV_STR("path", path),
                 CCF_KV_STR("access_key_id", c.key_id), CCF_KV_STR("account_id", c.account_id));
out:
    OPENSSL_cleanse(&c, sizeof(c));
    auth__table_free(t);
    return rc;
}

static int spec_to_cred(const struct auth_credential_spec *s, struct auth__cred *c)
{
    const char *why;
    int rc;

    if ((rc = auth__new_key_pair("AKIA", c)) < 0)
        return rc;
    if ((s->access_key_id && !set_str(c->key_id, sizeof(c->key_id), s->access_key_id)) ||
        (s->secret_access_key && !set_str(c->secret, sizeof(c->secret), s->secret_access_key)) ||
        !s->account_id || !set_str(c->account_id, sizeof(c->account_id), s->account_id) ||
        (s->session_token && !set_str(c->token, sizeof(c->token), s->session_token)) ||
        (s->connector_id && !set_str(c->connector_id, sizeof(c->connector_id), s->connector_id)) ||
        s->expires_at < 0)
        return CCF_EINVAL;
    c->expires_at = s->expires_at;
    if (!auth__cred_valid(c, AUTH__FILE_KEYS, &why)) {
        CCF_LOG_ERROR("auth.credentials_add_invalid", CCF_KV_STR("error", why));
        return CCF_EINVAL;
    }
    return 0;
}

int auth_credentials_add(const char *path, const struct auth_credential_spec *spec,
                         char key_id[AUTH_KEY_ID_MAX + 1], char secret[AUTH_SECRET_MAX + 1])
{
    struct auth__table *t = NULL;
    struct auth__cred c = {0};
    int lock, rc;

    if ((rc = spec_to_cred(spec, &c)) < 0)
        goto out;
    if ((lock = auth__dir_lock(path)) < 0) {
        rc = lock;
        goto out;
    }
    rc = auth__table_load(path, AUTH__FILE_KEYS, &t);
    if (rc == CCF_ENOTFOUND) {
        t = auth__table_new();
        rc = 0;
    }
    if (rc == 0 && (rc = auth__table_insert(t, &c)) == 0 &&
        (rc = auth__table_write(path, AUTH__FILE_KEYS, t)) == 0) {
        memcpy(key_id, c.key_id, sizeof(c.key_id));
        memcpy(secret, c.secret, sizeof(c.secret));
    }
    auth__dir_unlock(lock);
out:
    OPENSSL_cleanse(&c, sizeof(c));
    auth__table_free(t);
    return rc;
}

int auth_credentials_list(const char *path, struct auth_credential_info **out, size_t *n)
{
    struct auth__table *t;
    struct auth_credential_info *v;
    int rc = auth__table_load(path, AUTH__FILE_KEYS, &t);

    if (rc < 0)
        return rc;
    v = ccf_xcalloc(t->n ? t->n : 1, sizeof(*v));
    for (size_t i = 0; i < t->n; i++) {
        const struct auth__cred *c = &t->v[i];
        memcpy(v[i].access_key_id, c->key_id, sizeof(v[i].access_key_id));
        memcpy(v[i].account_id, c->account_id, sizeof(v[i].account_id));
        memcpy(v[i].connector_id, c->connector_id, sizeof(v[i].connector_id));
        v[i].has_session_token = c->token[0] != '\0';
        v[i].expires_at = c->expires_at;
    }
    *out = v;
    *n = t->n;
    auth__table_free(t);
    return 0;
}

int auth_credentials_revoke(const char *path, const char *access_key_id)
{
    struct auth__table *t = NULL;
    const struct auth__cred *c;
    int lock = auth__dir_lock(path), rc;

    if (lock < 0)
        return lock;
    if ((rc = auth__table_load(path, AUTH__FILE_KEYS, &t)) == 0) {
        c = auth__table_find(t, access_key_id);
        if (!c) {
            rc = CCF_ENOTFOUND;
        } else {
            auth__table_remove_at(t, (size_t)(c - t->v));
            rc = auth__table_write(path, AUTH__FILE_KEYS, t);
        }
    }
    auth__dir_unlock(lock);
    auth__table_free(t);
    return rc;
}
