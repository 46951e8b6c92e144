/* profile.c: the AWS shared credentials file (~/.aws/credentials, or
 * AWS_SHARED_CREDENTIALS_FILE): INI with one [profile] section per
 * profile holding aws_access_key_id, aws_secret_access_key and optionally
 * aws_session_token, parsed with libinih as the AWS tools read it. */
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_int.h"
#include "core/banned.h"

struct shared {
    const char *profile;
    struct ccf_client_credentials cr;
    bool found;    /* the profile's section is in the file */
    bool too_long; /* a value does not fit its field */
};

static bool put(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);

    if (n >= cap)
        return false;
    memcpy(dst, v, n + 1);
    return true;
}

/* inih's callback: nonzero to go on. Key names are case-insensitive, as
 * Python's configparser (botocore's reader) makes them. */
static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct shared *s = user;
    bool ok = true;

    if (strcmp(section, s->profile) != 0)
        return 1;
    s->found = true;
    if (strcasecmp(name, "aws_access_key_id") == 0)
        ok = put(s->cr.access_key_id, sizeof(s->cr.access_key_id), value);
    else if (strcasecmp(name, "aws_secret_access_key") == 0)
        ok = put(s->cr.secret_access_key, sizeof(s->cr.secret_access_key), value);
    else if (strcasecmp(name, "aws_session_token") == 0)
        ok = put(s->cr.session_token, sizeof(s->cr.session_token), value);
    s->too_long = s->too_long || !ok;
    return 1;
}

/* A section that appears only with its name and no keys still counts:
 * inih reports sections through keys alone, so look for the header too. */
static bool has_section(const char *text, const char *profile)
{
    size_t n = strlen(profile);

    for (const char *p = text; (p = strchr(p, '[')) != NULL; p++) {
        const char *q = p + 1;

        while (*q == ' ' || *q == '\t')
            q++;
        if (strncmp(q, profile, n) != 0)
            continue;
        q += n;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == ']')
            return true;
    }
    return false;
}

int ccf_client__shared_parse(const char *text, const char *name, const char *profile,
                             struct ccf_client_credentials *out, struct ccf_client_error *err)
{
    struct shared s = {.profile = profile};
    char msg[160];
    int line = ini_parse_string(text, on_value, &s);

    if (line != 0)
        return line > 0 ? ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, name, (size_t)line,
                                                "not a line of an INI file")
                        : ccf_client__fail(err, CCF_CLIENT_ENOMEM, "out of memory");
    if (!s.found && !has_section(text, profile))
        return CCF_CLIENT_ENOTFOUND;
    if (s.too_long) {
        memset(&s.cr, 0, sizeof(s.cr));
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, name, 0,
                                     "a value in the profile's section is too long");
    }
    if (!s.cr.access_key_id[0] || !s.cr.secret_access_key[0]) {
        memset(&s.cr, 0, sizeof(s.cr));
        snprintf(msg, sizeof(msg),
                 "profile [%.64s] needs both aws_access_key_id and aws_secret_access_key", profile);
        return ccf_client__cred_fail(err, CCF_CLIENT_EINVAL, name, 0, msg);
    }
    snprintf(s.cr.source, sizeof(s.cr.source), "profile %.55s", profile);
    *out = s.cr;
    memset(&s.cr, 0, sizeof(s.cr));
    return 0;
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
