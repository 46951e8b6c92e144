/* credentials.c: where a client's key pair comes from: the standard AWS
 * environment variables, or the INI credentials file that ccfd writes (one
 * [access key id] section per key). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"
#include "core/banned.h"

#define FILE_MAX        (1024 * 1024)
#define DEFAULT_FILE    "./var/credentials"
#define CREDENTIALS_ERR "CredentialsError"

static int cred_fail(struct ccf_client_error *err, int code, const char *what, size_t line,
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
        return cred_fail(err, CCF_CLIENT_EINVAL, p->name, line,
                         "a section line is [access key id]");
    *end = '\0';
    s = trim(s + 1);
    p->in_section = true;
    p->in_match = !p->found && (!p->key_id || strcmp(p->key_id, s) == 0);
    if (!p->in_match)
        return 0;
    if (!set(p->out->access_key_id, sizeof(p->out->access_key_id), s))
        return cred_fail(err, CCF_CLIENT_EINVAL, p->name, line, "the access key id is not valid");
    p->found = true;
    return 0;
}

static int on_key(struct parse *p, char *s, size_t line, struct ccf_client_error *err)
{
    char *eq = strchr(s, '='), *k, *v;
    bool ok = true;

    if (!eq)
        return cred_fail(err, CCF_CLIENT_EINVAL, p->name, line, "expected key = value");
    if (!p->in_section)
        return cred_fail(err, CCF_CLIENT_EINVAL, p->name, line,
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
        return cred_fail(err, CCF_CLIENT_EINVAL, p->name, line, "a value is empty or too long");
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
        return cred_fail(err, CCF_CLIENT_ENOTFOUND, name, 0,
                         key_id ? "no section for that access key id"
                                : "no [access key id] section");
    if (!cr.secret_access_key[0])
        return cred_fail(err, CCF_CLIENT_EINVAL, name, 0,
                         "the access key's section has no secret_access_key");
    snprintf(cr.source, sizeof(cr.source), "file %s", name);
    *out = cr;
    return 0;
}

static int read_file(const char *path, char **out, struct ccf_client_error *err)
{
    size_t len = 0;
    char *buf = NULL;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return cred_fail(err, errno == ENOENT ? CCF_CLIENT_ENOTFOUND : CCF_CLIENT_EIO, path, 0,
                         strerror(errno));
    buf = malloc(FILE_MAX + 1);
    if (!buf) {
        rc = ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
        goto out;
    }
    while (len <= FILE_MAX && (n = read(fd, buf + len, FILE_MAX + 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cred_fail(err, CCF_CLIENT_EIO, path, 0, strerror(errno));
            goto out;
        }
        len += (size_t)n;
    }
    if (len > FILE_MAX) {
        rc = cred_fail(err, CCF_CLIENT_EINVAL, path, 0, "larger than 1 MiB");
        goto out;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        rc = cred_fail(err, CCF_CLIENT_EINVAL, path, 0, "holds a NUL byte");
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

    if ((rc = read_file(path, &text, err)) < 0)
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
        return cred_fail(
            err, CCF_CLIENT_EINVAL, k ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY", 0,
            k ? "is set but AWS_SECRET_ACCESS_KEY is not" : "is set but AWS_ACCESS_KEY_ID is not");
    if (key_id && strcmp(key_id, k) != 0)
        return CCF_CLIENT_ENOTFOUND; /* another key was asked for */
    if (!set(cr.access_key_id, sizeof(cr.access_key_id), k) ||
        !set(cr.secret_access_key, sizeof(cr.secret_access_key), s) ||
        (t && *t && !set(cr.session_token, sizeof(cr.session_token), t)))
        return cred_fail(
            err, CCF_CLIENT_EINVAL, "environment", 0,
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is too long");
    snprintf(cr.source, sizeof(cr.source), "environment");
    *out = cr;
    return 0;
}

int ccf_client_credentials_default(const char *key_id, struct ccf_client_credentials *out,
                                   struct ccf_client_error *err)
{
    const char *file = getenv("CCF_CREDENTIALS_FILE");
    int rc;

    if ((rc = from_env(key_id, out, err)) != CCF_CLIENT_ENOTFOUND)
        return rc;
    if (file && *file) {
        rc = ccf_client_credentials_from_file(file, key_id, out, err);
        if (rc == CCF_CLIENT_ENOTFOUND && access(file, F_OK) < 0)
            return cred_fail(err, CCF_CLIENT_EINVAL, file, 0,
                             "named by CCF_CREDENTIALS_FILE, does not exist");
        return rc;
    }
    rc = ccf_client_credentials_from_file(DEFAULT_FILE, key_id, out, err);
    if (rc == CCF_CLIENT_ENOTFOUND && err)
        memset(err, 0, sizeof(*err));
    return rc;
}
