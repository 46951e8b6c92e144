/* admin.h (private to server/): `ccfd credentials add|list|revoke`, the
 * operator's tool for the credentials file. It runs instead of the server,
 * before any configuration is read, and never talks to a running ccfd: it
 * edits the file, and the server re-reads it on SIGHUP. */
#ifndef CCF_SERVER_ADMIN_H
#define CCF_SERVER_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

/* argv[0] is "credentials". Returns the process's exit status: 0, 1 when
 * the file cannot be read or changed (the message says why), 2 for a usage
 * error. */
int server__credentials_main(int argc, char **argv);

/* Whether the credentials file at path still holds only the key a first
 * start makes: one key of account_id, unscoped, without session token or
 * expiry (key_id gets its id). Whichever start made it: a first start that
 * failed later (a port in use) has made the file too. */
bool server__first_start_key(const char *path, const char *account_id, char *key_id,
                             size_t key_id_size);

#endif
