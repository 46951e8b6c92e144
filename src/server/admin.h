/* admin.h (private to server/): `ccfd credentials add|list|revoke`, the
 * operator's tool for the credentials file. It runs instead of the server,
 * before any configuration is read, and never talks to a running ccfd: it
 * edits the file, and the server re-reads it on SIGHUP. */
#ifndef CCF_SERVER_ADMIN_H
#define CCF_SERVER_ADMIN_H

/* argv[0] is "credentials". Returns the process's exit status: 0, 1 when
 * the file cannot be read or changed (the message says why), 2 for a usage
 * error. */
int server__credentials_main(int argc, char **argv);

#endif
