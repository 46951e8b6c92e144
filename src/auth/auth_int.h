/* auth_int.h (private to auth/): the credential tables, their files, the
 * SigV4 helpers the verifier shares with the signer, and struct auth. */
#ifndef CCF_AUTH_INT_H
#define CCF_AUTH_INT_H

#include <pthread.h>

#include "auth/auth.h"

#define AUTH__SIGNED_HEADERS_MAX 64   /* names in SignedHeaders */
#define AUTH__SIGNED_LIST_MAX    2048 /* chars of SignedHeaders */
#define AUTH__QUERY_MAX          256  /* query parameters */
#define AUTH__SCOPE_PART_MAX     63   /* region and service in a credential scope */
#define AUTH__AMZ_DATE_LEN       16   /* "20150830T123600Z" */

/* A growable string; the functions abort on overflow or out of memory. */
struct auth__buf {
    char *p; /* NUL-terminated once anything was added */
    size_t len;
    size_t cap;
};
void auth__buf_add(struct auth__buf *b, const char *s, size_t n);
void auth__buf_adds(struct auth__buf *b, const char *s);
void auth__buf_addc(struct auth__buf *b, char c);
/* Wipes and frees the contents. */
void auth__buf_clear(struct auth__buf *b);

/* One key pair. Fixed-size so that tables copy and wipe in one step. */
struct auth__cred {
    char key_id[AUTH_KEY_ID_MAX + 1];
    char secret[AUTH_SECRET_MAX + 1];
    char token[AUTH_SESSION_TOKEN_MAX + 1]; /* "" when none */
    char account_id[CCF_ACCOUNT_ID_LEN + 1];
    char region[CCF_REGION_MAX + 1];             /* per-job keys only; "" elsewhere */
    char connector_id[CCF_CONNECTOR_ID_LEN + 1]; /* "" when unscoped */
    char job_id[CCF_JOB_ID_LEN + 1];             /* per-job keys only */
    int64_t expires_at;                          /* seconds since the epoch; 0: never */
    /* The signing key of the last date seen, for the server's region and
     * service: 4 HMACs saved per request. Written under struct auth's lock,
     * never to a file. */
    char kdate[9];
    unsigned char ksigning[32];
};

/* An immutable table once published: sorted by key_id, no duplicates. */
struct auth__table {
    struct auth__cred *v;
    size_t n;
    size_t cap;
};

enum auth__file_kind { AUTH__FILE_KEYS = 0, AUTH__FILE_JOBS };

/* Reads and validates a credentials file. The file must be a regular file
 * of mode 0600 or stricter. CCF_ENOTFOUND when it does not exist, CCF_EINVAL
 * (logged with path, line and fix) when it is invalid, CCF_EIO otherwise. */
int auth__table_load(const char *path, enum auth__file_kind kind, struct auth__table **out);
/* Replaces path atomically with t (mode 0600). CCF_EIO, logged, on failure. */
int auth__table_write(const char *path, enum auth__file_kind kind, const struct auth__table *t);
struct auth__table *auth__table_new(void);
struct auth__table *auth__table_copy(const struct auth__table *t);
/* Wipes the secrets; takes NULL. */
void auth__table_free(struct auth__table *t);
const struct auth__cred *auth__table_find(const struct auth__table *t, const char *key_id);
/* Inserts c in order; CCF_ECONFLICT if its key id is there already. */
int auth__table_insert(struct auth__table *t, const struct auth__cred *c);
void auth__table_remove_at(struct auth__table *t, size_t i);
/* Whether c is a valid entry of a file of this kind; *why names the field. */
bool auth__cred_valid(const struct auth__cred *c, enum auth__file_kind kind, const char **why);

/* Holds an exclusive lock on path's directory until auth__dir_unlock, so
 * that two writers of one file take turns. Returns an fd, or CCF_EIO. */
int auth__dir_lock(const char *path);
void auth__dir_unlock(int fd);

/* n characters of alphabet (its length a power of two up to 64, so that
 * no character is likelier than another) from the CSPRNG, then a NUL. */
int auth__random_chars(char *out, size_t n, const char *alphabet);
#define AUTH__BASE32 "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define AUTH__BASE64 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
/* "AKIA"/"ASIA" + 16 base32 and a 40-char secret. */
int auth__new_key_pair(const char *prefix, struct auth__cred *c);

/* RFC 3339 ("2026-12-31T23:59:59Z", offsets and fractions allowed) or epoch
 * seconds; false if neither. */
bool auth__parse_expiry(const char *s, int64_t *out);

/* ---- SigV4 ---- */
void auth__sha256(const void *d, size_t n, unsigned char out[32]);
void auth__hmac(const void *key, size_t klen, const void *d, size_t n, unsigned char out[32]);
void auth__hex(const unsigned char *in, size_t n, char *out); /* out: 2n + 1 */
/* Decodes the valid %XX escapes of s (n bytes) into out (n bytes at
 * least); a '%' that starts no valid escape stays. Returns the length. */
size_t auth__pct_decode(const char *s, size_t n, char *out);
/* 64 hex digits (either case) into 32 bytes; false otherwise. */
bool auth__unhex32(const char *s, unsigned char out[32]);

/* Appends the canonical request through the signed-headers line and its
 * newline: everything but the payload hash. CCF_EINVAL as for
 * auth_sigv4_canonical_request. */
int auth__canonical_prefix(struct auth__buf *b, const char *method, const char *target,
                           const struct auth_header *headers, size_t nheaders,
                           const char *signed_headers);
/* The signature over creq (the whole canonical request). */
void auth__signature(const unsigned char key[32], const char *amz_date, const char *scope,
                     const char *creq, size_t creq_len, unsigned char out[32],
                     struct auth__buf *sts);

/* The Authorization header, parsed. */
struct auth__authz {
    char key_id[AUTH_KEY_ID_MAX + 1];
    char date[9];
    char region[AUTH__SCOPE_PART_MAX + 1];
    char service[AUTH__SCOPE_PART_MAX + 1];
    char signed_headers[AUTH__SIGNED_LIST_MAX + 1];
    unsigned char signature[32];
};
/* CCF_EINVAL with *why (static) when v is not a well-formed
 * AWS4-HMAC-SHA256 authorization. */
int auth__parse_authorization(const char *v, struct auth__authz *out, const char **why);
/* Whether name is in a validated SignedHeaders list. */
bool auth__signed(const char *signed_headers, const char *name);

/* "20150830T123600Z" <-> seconds. */
bool auth__parse_amz_date(const char *s, int64_t *out);
/* "Sun, 30 Aug 2015 12:36:00 GMT" (also -0000/+0000/UTC, weekday optional). */
bool auth__parse_http_date(const char *s, int64_t *out);
void auth__format_amz_date(int64_t t, char out[AUTH__AMZ_DATE_LEN + 1]);

/* ---- struct auth ---- */
struct auth {
    char *credentials_path;
    char *job_credentials_path; /* NULL: memory only */
    char region[CCF_REGION_MAX + 1];
    char service[AUTH__SCOPE_PART_MAX + 1];
    int64_t job_lifetime_s;
    /* Guards the two pointers only. A reader copies what it needs while
     * holding it, so a table is freed as soon as it is swapped out. */
    pthread_mutex_t lock;
    struct auth__table *keys; /* the credentials file */
    struct auth__table *jobs; /* per-job credentials */
    /* Serialises the writers of the per-job table and its file, so that
     * readers never wait for an fsync. */
    pthread_mutex_t job_write;
};

/* Copies key_id's credential (the file's first, then the per-job ones) into
 * *out; false when unknown. Wipe *out after use. */
bool auth__lookup(struct auth *a, const char *key_id, struct auth__cred *out);
/* Remembers c's signing key for date, if c is still the credential in use. */
void auth__cache_key(struct auth *a, const struct auth__cred *c, const char *date,
                     const unsigned char key[32]);

#endif
