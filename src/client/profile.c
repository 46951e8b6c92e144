/* profile.c: the AWS shared credentials file (~/.aws/credentials, or
 * AWS_SHARED_CREDENTIALS_FILE): INI with one [profile] section per
 * profile holding aws_access_key_id, aws_secret_access_key and optionally
 * aws_session_token, read as botocore reads it (Python's configparser).
 *
 * Not with libinih, which ccfd uses for its config: Debian's build cuts
 * lines at 200 bytes (INI_MAX_LINE, no realloc), and a session token from
 * STS is a line of 400 to well over 1,000 bytes; it misparsed the rest of
 * the file. The walk below follows configparser instead: '#' and ';' start
 * a comment line (there are no inline comments), "key = value" or
 * "key: value", key names in any case, indented lines continue a value
 * (nested settings, which credentials never use, so they are skipped), and
 * a key before the first section, or a line that is neither, is an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_int.h"
#include "core/banned.h"

struct shared {
    const char *name; /* the file, for messages */
    const char *profile;
    struct ccf_client_credentials cr;
    bool in_profile; /* the lines are the profile's */
    bool found;      /* the profile's section is in the file */
    bool too_long;   /* a value does not fit its field */
};

static char *trim(char *s, char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *e = '\0';
    return s;
}

static bool put(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);

    if (n >= cap)
        return false;
    memcpy(dst, v, n + 1);
    return true;
}

static void on_value(struct shared *s, const char *key, const char *value)
{
    bool ok = true;

    if (strcasecmp(key, "aws_access_key_id") == 0)
        ok = put(s->cr.access_key_id, sizeof(s->cr.access_key_id), value);
    else if (strcasecmp(key, "aws_secret_access_key") == 0)
        ok = put(s->cr.secret_access_key, sizeof(s->cr.secret_access_key), value);
    else if (strcasecmp(key, "aws_session_token") == 0)
        ok = put(s->cr.session_token, sizeof(s->cr.session_token), value);
    s->too_long = s->too_long || !ok;
}

/* One line (NUL-terminated, without its newline): 0 or CCF_CLIENT_EINVAL. */
static int on_line(struct shared *s, char *line, size_t lineno, bool *in_file,
                   struct ccf_client_error *err)
{
    char *end = line + strlen(line), *t = trim(line, end), *d;

    if (!*t || *t == '#' || *t == ';')
        return 0;
    if (*t == '[') {
        if (!(d = strchr(t, ']')))
            return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, s->name, lineno,
                                         "a section line is [profile name]");
        *in_file = true;
        s->in_profile = strcmp(trim(t + 1, d), s->profile) == 0;
        s->found = s->found || s->in_profile;
        return 0;
    }
    if (line[0] == ' ' || line[0] == '\t')
        return 0; /* a continuation line: part of a nested value */
    if (!*in_file)
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, s->name, lineno,
                                     "keys go inside a [profile] section");
    d = t + strcspn(t, "=:");
    if (!*d)
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, s->name, lineno,
                                     "expected key = value");
    if (s->in_profile) {
        char *v = trim(d + 1, end);

        on_value(s, trim(t, d), v);
    }
    return 0;
}

int ccf_client__shared_parse(const char *text, const char *name, const char *profile,
                             struct ccf_client_credentials *out, struct ccf_client_error *err)
{
    struct shared s = {.name = name, .profile = profile};
    char *copy = strdup(text), *line, *next;
    bool in_file = false;
    size_t lineno = 0;
    char msg[160];
    int rc = 0;

    if (!copy)
        return ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    for (line = copy; rc == 0 && line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        rc = on_line(&s, line, ++lineno, &in_file, err);
    }
    free(copy);
    if (rc == 0 && !s.found)
        rc = CCF_CLIENT_ENOTFOUND;
    else if (rc == 0 && s.too_long)
        rc = ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, name, 0,
                                   "a value in the profile's section is too long");
    else if (rc == 0 && (!s.cr.access_key_id[0] || !s.cr.secret_access_key[0])) {
        snprintf(msg, sizeof(msg),
                 "profile [%.64s] needs both aws_access_key_id and aws_secret_access_key", profile);
        rc = ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, name, 0, msg);
    }
    if (rc == 0) {
        snprintf(s.cr.source, sizeof(s.cr.source), "profile %.55s", profile);
        *out = s.cr;
    }
    memset(&s.cr, 0, sizeof(s.cr));
    return rc;
}

int ccf_client_credentials_from_shared_file(const char *path, const char *profile,
                                            struct ccf_client_credentials *out,
                                            struct ccf_client_error *err)
{
    char *text = NULL;
    int rc;

    if (!path || !profile || !*profile)
        return ccf_client__fail(err, CCF_CLIENT_EINVAL, "a path and a profile name are needed");
    if ((rc = ccf_client__read_small_file(path, &text, err)) < 0)
        return rc;
    rc = ccf_client__shared_parse(text, path, profile, out, err);
    free(text);
    return rc;
}
