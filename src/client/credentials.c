/* credentials.c: where a client's key pair comes from, in the order AWS
 * users expect: the standard AWS environment variables, the AWS shared
 * credentials file (profile.c), then the INI credentials file that ccfd
 * writes (one [access key id] section per key). When none has a key, the
 * error says where it looked: a request is never sent unsigned by chance. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"
#include "core/banned.h"

#define FILE_MAX        (1024 * 1024)
#define DEFAULT_FILE    "./var/credentials"
#define CREDENTIALS_ERR "CredentialsError"

int ccf_client__cred_fail(struct ccf_client_error *err, int code, const char *what, size_t line,
                          const char *msg)
{
    if (line)
        ccf_client__fail(err, code, "%.200s:%zu: %s", what, line, msg);
    else
        ccf_client__fail(err, code, "%.200s: %s", what, msg);
    if (err)
        snprintf(err->error_type, sizeof(err->error_type), "%s", CREDENTIALS_ERR);
    return code;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static bool set(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, v, n + 1);
    return true;
}

struct parse {
    const char *name;
    const char *key_id;
    struct ccf_client_credentials *out;
    bool in_match; /* inside the section we want */
    bool found;
    bool in_section;
};

static int on_section(struct parse *p, char *s, size_t line, struct ccf_client_error *err)
{
    char *end = strchr(s, ']');

    if (!end || *trim(end + 1))
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, p->name, line,
                                     "a section line is [access key id]");
    *end = '\0';
    s = trim(s + 1);
    p->in_section = true;
    p->in_match = !p->found && (!p->key_id || strcmp(p->key_id, s) == 0);
    if (!p->in_match)
        return 0;
    if (!set(p->out->access_key_id, sizeof(p->out->access_key_id), s))
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, p->name, line,
                                     "the access key id is not valid");
    p->found = true;
    return 0;
}

static int on_key(struct parse *p, char *s, size_t line, struct ccf_client_error *err)
{
    char *eq = strchr(s, '='), *k, *v;
    bool ok = true;

    if (!eq)
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, p->name, line, "expected key = value");
    if (!p->in_section)
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, p->name, line,
                                     "keys go inside an [access key id] section");
    *eq = '\0';
    k = trim(s);
    v = trim(eq + 1);
    if (!p->in_match)
        return 0;
    if (strcmp(k, "secret_access_key") == 0)
        ok = set(p->out->secret_access_key, sizeof(p->out->secret_access_key), v);
    else if (strcmp(k, "session_token") == 0)
        ok = set(p->out->session_token, sizeof(p->out->session_token), v);
    else if (strcmp(k, "account_id") == 0)
        ok = set(p->out->account_id, sizeof(p->out->account_id), v);
    if (!ok)
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, p->name, line,
                                     "a value is empty or too long");
    return 0;
}

int ccf_client__credentials_parse(const char *text, const char *name, const char *key_id,
                                  struct ccf_client_credentials *out, struct ccf_client_error *err)
{
    struct ccf_client_credentials cr = {0};
    struct parse p = {.name = name, .key_id = key_id, .out = &cr};
    char *copy = strdup(text), *save = NULL, *line;
    size_t lineno = 0;
    int rc = 0;

    if (!copy)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    /* strtok_r would skip empty lines and so miscount: split by hand. */
    for (line = copy; rc == 0 && line; line = save) {
        char *s;

        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        rc = *s == '[' ? on_section(&p, s, lineno, err) : on_key(&p, s, lineno, err);
    }
    free(copy);
    if (rc < 0)
        return rc;
    if (!p.found)
        return ccf_client__cred_fail(err, CCF_CLIENT_ENOTFOUND, name, 0,
                                     key_id ? "no section for that access key id"
                                            : "no [access key id] section");
    if (!cr.secret_access_key[0])
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, name, 0,
                                     "the access key's section has no secret_access_key");
    snprintf(cr.source, sizeof(cr.source), "file %s", name);
    *out = cr;
    return 0;
}

int ccf_client__read_small_file(const char *path, char **out, struct ccf_client_error *err)
{
    size_t len = 0;
    char *buf = NULL;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return ccf_client__cred_fail(err, errno == ENOENT ? CCF_CLIENT_ENOTFOUND : CCF_CLIENT_EIO,
                                     path, 0, strerror(errno));
    buf = malloc(FILE_MAX + 1);
    if (!buf) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto out;
    }
    while (len <= FILE_MAX && (n = read(fd, buf + len, FILE_MAX + 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ccf_client__cred_fail(err, CCF_CLIENT_EIO, path, 0, strerror(errno));
            goto out;
        }
        len += (size_t)n;
    }
    if (len > FILE_MAX) {
        rc = ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, path, 0, "larger than 1 MiB");
        goto out;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        rc = ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, path, 0, "holds a NUL byte");
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

int ccf_client_credentials_from_file(const char *path, const char *key_id,
                                     struct ccf_client_credentials *out,
                                     struct ccf_client_error *err)
{
    char *text = NULL;
    int rc;

    if ((rc = ccf_client__read_small_file(path, &text, err)) < 0)
        return rc;
    rc = ccf_client__credentials_parse(text, path, key_id, out, err);
    free(text);
    return rc;
}

/* AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY: 0 when both are set (and match
 * key_id), ENOTFOUND when neither, EINVAL when only one is. */
static int from_env(const char *key_id, struct ccf_client_credentials *out,
                    struct ccf_client_error *err)
{
    const char *k = getenv("AWS_ACCESS_KEY_ID"), *s = getenv("AWS_SECRET_ACCESS_KEY");
    const char *t = getenv("AWS_SESSION_TOKEN");
    struct ccf_client_credentials cr = {0};

    k = k && *k ? k : NULL;
    s = s && *s ? s : NULL;
    if (!k && !s)
        return CCF_CLIENT_ENOTFOUND;
    if (!k || !s)
        return ccf_client__cred_fail(
            err, CCF_CLIENT_EINVAL, k ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY", 0,
            k ? "is set but AWS_SECRET_ACCESS_KEY is not" : "is set but AWS_ACCESS_KEY_ID is not");
    if (key_id && strcmp(key_id, k) != 0)
        return CCF_CLIENT_ENOTFOUND; /* another key was asked for */
    if (!set(cr.access_key_id, sizeof(cr.access_key_id), k) ||
        !set(cr.secret_access_key, sizeof(cr.secret_access_key), s) ||
        (t && *t && !set(cr.session_token, sizeof(cr.session_token), t)))
        return ccf_client__cred_fail(
            err, CCF_CLIENT_EINVAL, "environment", 0,
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is too long");
    snprintf(cr.source, sizeof(cr.source), "environment");
    *out = cr;
    return 0;
}

/* What the chain looked at, for the message when nothing has a key. */
struct tried {
    char text[1536];
    size_t len;
};

static void tried_add(struct tried *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tried_add(struct tried *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->len >= sizeof(t->text) - 1)
        return;
    if (t->len) {
        n = snprintf(t->text + t->len, sizeof(t->text) - t->len, "; ");
        t->len += n > 0 ? (size_t)n : 0;
    }
    va_start(ap, fmt);
    n = vsnprintf(t->text + t->len, sizeof(t->text) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < sizeof(t->text) ? t->len + (size_t)n : sizeof(t->text) - 1;
}

static const char *nonempty(const char *v)
{
    return v && *v ? v : NULL;
}

/* The shared file's path, or false with the reason in *t. */
static bool shared_path(char *buf, size_t cap, struct tried *t)
{
    const char *file = nonempty(getenv("AWS_SHARED_CREDENTIALS_FILE"));
    const char *home = nonempty(getenv("HOME"));
    int n;

    if (file)
        n = snprintf(buf, cap, "%s", file);
    else if (home)
        n = snprintf(buf, cap, "%s/.aws/credentials", home);
    else {
        tried_add(t, "~/.aws/credentials (HOME is not set)");
        return false;
    }
    if (n < 0 || (size_t)n >= cap) {
        tried_add(t, "the shared credentials file (its path is too long)");
        return false;
    }
    return true;
}

/* The shared credentials file's profile: named (--profile or AWS_PROFILE),
 * else "default". A named profile must exist, as for the AWS CLI; the
 * default one may be absent. */
static int from_shared(const char *named, const char *named_by, const char *key_id, struct tried *t,
                       struct ccf_client_credentials *out, struct ccf_client_error *err)
{
    const char *profile = named ? named : "default";
    struct ccf_client_credentials cr = {0};
    char path[4096], msg[200];
    int rc;

    if (!shared_path(path, sizeof(path), t)) {
        if (!named)
            return CCF_CLIENT_ENOTFOUND;
        snprintf(msg, sizeof(msg), "profile [%.64s] was asked for, and there is no file", profile);
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, "the shared credentials file", 0, msg);
    }
    rc = ccf_client_credentials_from_shared_file(path, profile, &cr, err);
    if (rc == 0 && key_id && strcmp(key_id, cr.access_key_id) != 0) {
        tried_add(t, "%.200s (profile [%.64s] holds another access key id)", path, profile);
        memset(&cr, 0, sizeof(cr));
        return CCF_CLIENT_ENOTFOUND;
    }
    if (rc == 0) {
        *out = cr;
        memset(&cr, 0, sizeof(cr));
        return 0;
    }
    if (rc != CCF_CLIENT_ENOTFOUND)
        return rc;
    if (named) {
        snprintf(msg, sizeof(msg), "no profile [%.64s] (named by %s)", profile, named_by);
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, path, 0, msg);
    }
    tried_add(t, "%.200s (%s)", path,
              access(path, F_OK) < 0 ? "no such file" : "no [default] profile");
    return CCF_CLIENT_ENOTFOUND;
}

/* CCF_CREDENTIALS_FILE (which must exist when set), else ./var/credentials. */
static int from_ccf_files(const char *key_id, struct tried *t, struct ccf_client_credentials *out,
                          struct ccf_client_error *err)
{
    const char *file = nonempty(getenv("CCF_CREDENTIALS_FILE"));
    int rc;

    if (file) {
        rc = ccf_client_credentials_from_file(file, key_id, out, err);
        if (rc == CCF_CLIENT_ENOTFOUND && access(file, F_OK) < 0)
            return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, file, 0,
                                         "named by CCF_CREDENTIALS_FILE, does not exist");
        if (rc == CCF_CLIENT_ENOTFOUND)
            tried_add(t, "%.200s (CCF_CREDENTIALS_FILE; %s)", file,
                      key_id ? "no section for that key" : "no key in it");
        return rc;
    }
    tried_add(t, "CCF_CREDENTIALS_FILE (not set)");
    rc = ccf_client_credentials_from_file(DEFAULT_FILE, key_id, out, err);
    if (rc == CCF_CLIENT_ENOTFOUND)
        tried_add(t, DEFAULT_FILE " (%s)",
                  access(DEFAULT_FILE, F_OK) < 0 ? "no such file"
                  : key_id                       ? "no section for that key"
                                                 : "no key in it");
    return rc;
}

int ccf_client_credentials_default(const char *profile, const char *key_id,
                                   struct ccf_client_credentials *out, struct ccf_client_error *err)
{
    const char *named = profile ? profile : nonempty(getenv("AWS_PROFILE"));
    struct tried t = {.len = 0};
    int rc;

    /* As botocore: an explicit --profile outranks the AWS_* keys; AWS_PROFILE
     * does not. */
    if (!profile) {
        if ((rc = from_env(key_id, out, err)) != CCF_CLIENT_ENOTFOUND)
            return rc;
        tried_add(&t, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (%s)",
                  nonempty(getenv("AWS_ACCESS_KEY_ID")) ? "another key" : "not set");
    }
    rc = from_shared(named, profile ? "--profile" : "AWS_PROFILE", key_id, &t, out, err);
    if (rc != CCF_CLIENT_ENOTFOUND)
        return rc;
    if ((rc = from_ccf_files(key_id, &t, out, err)) != CCF_CLIENT_ENOTFOUND)
        return rc;
    if (key_id)
        ccf_client__fail(err, CCF_CLIENT_ENOTFOUND,
                         "no secret access key for %.128s; looked in: %s", key_id, t.text);
    else
        ccf_client__fail(err, CCF_CLIENT_ENOTFOUND, "no credentials found; looked in: %s", t.text);
    if (err)
        snprintf(err->error_type, sizeof(err->error_type), "%s", CREDENTIALS_ERR);
    return CCF_CLIENT_ENOTFOUND;
}
