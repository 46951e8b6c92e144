/* tls.h (private to server/): the listener's certificate and key, as GnuTLS
 * objects that libmicrohttpd's certificate callback hands to each new
 * handshake. A reload (SIGHUP) loads the files into a new generation and
 * swaps it in; a connection keeps a reference to the generation its
 * handshake used, so open connections keep their certificate and the old
 * generation is freed when its last connection closes. A file that does not
 * load (unreadable, malformed, key not matching, key readable by everyone)
 * leaves the current generation in place, and a log line says why.
 * Thread rules: open, reload and close on the main thread; acquire and
 * release from any thread (a mutex guards the current generation, an atomic
 * count each generation's life). */
#ifndef CCF_SERVER_TLS_H
#define CCF_SERVER_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "core/core.h"

/* TLS 1.2 and 1.3 only (CONTRACT-OPS.md), the rest of GnuTLS's NORMAL. */
#define SERVER_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"

struct server_tls;      /* defined in server/tls.c */
struct server_tls_cert; /* one generation: certificate chain and key */

/* Loads cert_path (PEM: the leaf first, then its chain) and key_path (PEM,
 * unencrypted). CCF_EINVAL for files that do not hold a matching certificate
 * and key or a key file others can read, CCF_EIO for unreadable files; the
 * log line says which. The paths are copied. */
int server__tls_open(struct server_tls **out, const char *cert_path, const char *key_path);

/* Reads the files again; on success new handshakes get the new generation.
 * On failure the current one stays, and the error is returned and logged. */
int server__tls_reload(struct server_tls *t);

/* Frees t and its current generation. Connections still holding a
 * generation keep it until they release it. Takes NULL. */
void server__tls_close(struct server_tls *t);

/* The current generation, with a reference for the caller. */
struct server_tls_cert *server__tls_acquire(struct server_tls *t);

/* Drops a reference; the last one frees the generation. Takes NULL. */
void server__tls_release(struct server_tls_cert *c);

/* What GnuTLS's certificate callback returns: borrowed from c, valid while
 * the caller holds its reference. */
void server__tls_cert_get(struct server_tls_cert *c, gnutls_pcert_st **pcert, unsigned *n,
                          gnutls_privkey_t *key);

#endif
