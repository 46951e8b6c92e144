/* tls.c: loads the listener's certificate chain and private key into
 * reference-counted generations (see tls.h), checks that they belong
 * together and that the key file is not readable by everyone, and swaps a
 * new generation in on reload. The files are read by ccfd itself, bounded,
 * so that the key file's mode is checked on the descriptor that is read. */
#include "server/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/x509.h>

#include "core/log.h"

/* A PEM chain of a few certificates is a few KiB; a bigger file is a
 * mistake (a whole CA store named as the certificate). */
#define TLS_FILE_MAX ((size_t)1 << 20)
/* Leaf, intermediates and perhaps the root: more is not a chain. */
#define TLS_CHAIN_MAX 16
/* The key file: owner read-write, group read (Debian's ssl-cert group
 * convention for /etc/ssl/private); nothing for others. */
#define TLS_KEY_MODE_MAX 0640

struct server_tls_cert {
    atomic_uint refs;
    gnutls_pcert_st pcert[TLS_CHAIN_MAX];
    unsigned npcert;
    gnutls_privkey_t key;
};

struct server_tls {
    char *cert_path;
    char *key_path;
    pthread_mutex_t mu; /* guards cur */
    struct server_tls_cert *cur;
};

static void cert_free(struct server_tls_cert *c)
{
    for (unsigned i = 0; i < c->npcert; i++)
        gnutls_pcert_deinit(&c->pcert[i]);
    if (c->key)
        gnutls_privkey_deinit(c->key);
    free(c);
}

static int load_fail(const char *event, const char *path, const char *error)
{
    CCF_LOG_ERROR(event, CCF_KV_STR("path", path), CCF_KV_STR("error", error));
    return CCF_EINVAL;
}

/* The key may be read by its owner and group only. */
static int check_key_mode(const char *path, const struct stat *st)
{
    char mode[8], hint[200];

    if (!(st->st_mode & ~(mode_t)TLS_KEY_MODE_MAX & 0777))
        return 0;
    snprintf(mode, sizeof(mode), "%04o", (unsigned)(st->st_mode & 07777));
    snprintf(hint, sizeof(hint),
             "only the owner, and the group to read, may have it: chmod 600 %.120s", path);
    CCF_LOG_ERROR("tls.key_mode", CCF_KV_STR("path", path), CCF_KV_STR("mode", mode),
                  CCF_KV_STR("hint", hint));
    return CCF_EINVAL;
}

/* The whole of a regular file of at most TLS_FILE_MAX bytes, NUL-terminated;
 * out->data is ours to free (and to wipe, for a key). */
static int read_file(const char *path, bool is_key, gnutls_datum_t *out)
{
    struct stat st;
    size_t len = 0;
    unsigned char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = CCF_EIO;
    ssize_t n;

    if (fd < 0) {
        CCF_LOG_ERROR("tls.file_unreadable", CCF_KV_STR("path", path),
                      CCF_KV_STR("error", strerror(errno)));
        return CCF_EIO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > TLS_FILE_MAX) {
        rc = load_fail("tls.file_invalid", path, "not a regular file of at most 1 MiB");
        goto out;
    }
    if (is_key && (rc = check_key_mode(path, &st)) < 0)
        goto out;
    buf = ccf_xmalloc(TLS_FILE_MAX + 1);
    while (len < TLS_FILE_MAX && (n = read(fd, buf + len, TLS_FILE_MAX - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            CCF_LOG_ERROR("tls.file_unreadable", CCF_KV_STR("path", path),
                          CCF_KV_STR("error", strerror(errno)));
            rc = CCF_EIO;
            goto out;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    out->data = buf;
    out->size = (unsigned)len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

static void datum_wipe_free(gnutls_datum_t *d)
{
    if (d->data)
        gnutls_memset(d->data, 0, d->size);
    free(d->data);
    d->data = NULL;
}

/* Whether the key is the leaf certificate's: their public keys, in DER, are
 * the same bytes. */
static bool key_matches(gnutls_pcert_st *leaf, gnutls_privkey_t key)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    bool same = false;

    if (gnutls_pubkey_init(&pub) < 0)
        return false;
    if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
        gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
        gnutls_pubkey_export2(leaf->pubkey, GNUTLS_X509_FMT_DER, &b) == 0)
        same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    gnutls_free(a.data);
    gnutls_free(b.data);
    gnutls_pubkey_deinit(pub);
    return same;
}

/* One line on what is now served: which certificate (its SHA-256
 * fingerprint) and until when; a warning when it is outside its validity,
 * as clients will refuse it. */
static void log_loaded(const struct server_tls *t, const struct server_tls_cert *c)
{
    gnutls_x509_crt_t crt;
    unsigned char fp[32];
    char hex[65], until[CCF_TIME_LEN + 1] = "";
    size_t fplen = sizeof(fp);
    time_t now = time(NULL), nb = 0, na = 0;

    hex[0] = '\0';
    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &c->pcert[0].cert, GNUTLS_X509_FMT_DER) == 0) {
        if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fplen) == 0)
            for (size_t i = 0; i < fplen && i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", fp[i]);
        nb = gnutls_x509_crt_get_activation_time(crt);
        na = gnutls_x509_crt_get_expiration_time(crt);
        ccf_time_format((int64_t)na * 1000000, until);
    }
    gnutls_x509_crt_deinit(crt);
    CCF_LOG_INFO("tls.certificate_loaded", CCF_KV_STR("path", t->cert_path),
                 CCF_KV_STR("sha256", hex), CCF_KV_STR("not_after", until),
                 CCF_KV_INT("chain", c->npcert));
    if (na > 0 && (now > na || now < nb))
        CCF_LOG_WARN("tls.certificate_not_valid_now", CCF_KV_STR("path", t->cert_path),
                     CCF_KV_STR("not_after", until),
                     CCF_KV_STR("hint", "clients will refuse it; renew it, then SIGHUP"));
}

static int load_chain(const struct server_tls *t, struct server_tls_cert *c)
{
    gnutls_datum_t pem = {NULL, 0};
    unsigned n = TLS_CHAIN_MAX;
    int rc, g;

    if ((rc = read_file(t->cert_path, false, &pem)) < 0)
        return rc;
    g = gnutls_pcert_list_import_x509_raw(c->pcert, &n, &pem, GNUTLS_X509_FMT_PEM,
                                          GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
    free(pem.data);
    if (g < 0)
        return load_fail("tls.certificate_invalid", t->cert_path,
                         g == GNUTLS_E_SHORT_MEMORY_BUFFER ? "more than 16 certificates"
                                                           : gnutls_strerror(g));
    if (n == 0)
        return load_fail("tls.certificate_invalid", t->cert_path, "no certificate in the file");
    c->npcert = n;
    return 0;
}

static int load_key(const struct server_tls *t, struct server_tls_cert *c)
{
    gnutls_datum_t pem = {NULL, 0};
    int rc, g;

    if ((rc = read_file(t->key_path, true, &pem)) < 0)
        return rc;
    if ((g = gnutls_privkey_init(&c->key)) == 0)
        g = gnutls_privkey_import_x509_raw(c->key, &pem, GNUTLS_X509_FMT_PEM, NULL, 0);
    datum_wipe_free(&pem);
    if (g < 0)
        return load_fail("tls.key_invalid", t->key_path,
                         g == GNUTLS_E_DECRYPTION_FAILED
                             ? "an encrypted key; ccfd reads only unencrypted PEM keys"
                             : gnutls_strerror(g));
    return 0;
}

/* A new generation from the files, with one reference (the caller's). */
static int load(const struct server_tls *t, struct server_tls_cert **out)
{
    struct server_tls_cert *c = ccf_xcalloc(1, sizeof(*c));
    int rc;

    atomic_init(&c->refs, 1);
    if ((rc = load_chain(t, c)) < 0 || (rc = load_key(t, c)) < 0)
        goto fail;
    if (!key_matches(&c->pcert[0], c->key)) {
        rc = load_fail("tls.key_mismatch", t->key_path,
                       "the key is not the one of the first certificate in tls-cert");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    cert_free(c);
    return rc;
}

int server__tls_open(struct server_tls **out, const char *cert_path, const char *key_path)
{
    struct server_tls *t = ccf_xcalloc(1, sizeof(*t));
    int rc;

    t->cert_path = ccf_xstrdup(cert_path);
    t->key_path = ccf_xstrdup(key_path);
    pthread_mutex_init(&t->mu, NULL);
    if ((rc = load(t, &t->cur)) < 0) {
        server__tls_close(t);
        return rc;
    }
    log_loaded(t, t->cur);
    *out = t;
    return 0;
}

int server__tls_reload(struct server_tls *t)
{
    struct server_tls_cert *c, *old;
    int rc;

    if ((rc = load(t, &c)) < 0) {
        CCF_LOG_WARN("tls.reload_failed", CCF_KV_STR("cert", t->cert_path),
                     CCF_KV_STR("key", t->key_path), CCF_KV_STR("error", ccf_strerror(rc)),
                     CCF_KV_STR("hint", "the certificate in use stays; see the tls.* line "
                                        "before this one"));
        return rc;
    }
    pthread_mutex_lock(&t->mu);
    old = t->cur;
    t->cur = c;
    pthread_mutex_unlock(&t->mu);
    server__tls_release(old); /* freed now, or by its last connection */
    log_loaded(t, c);
    return 0;
}

void server__tls_close(struct server_tls *t)
{
    if (!t)
        return;
    server__tls_release(t->cur);
    pthread_mutex_destroy(&t->mu);
    free(t->cert_path);
    free(t->key_path);
    free(t);
}

struct server_tls_cert *server__tls_acquire(struct server_tls *t)
{
    struct server_tls_cert *c;

    pthread_mutex_lock(&t->mu);
    c = t->cur;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&t->mu);
    return c;
}

void server__tls_release(struct server_tls_cert *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        cert_free(c);
}

void server__tls_cert_get(struct server_tls_cert *c, gnutls_pcert_st **pcert, unsigned *n,
                          gnutls_privkey_t *key)
{
    *pcert = c->pcert;
    *n = c->npcert;
    *key = c->key;
}
