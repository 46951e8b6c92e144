/* backup.h (private to server/): `ccfd backup [--data-dir DIR] FILE`, a
 * consistent copy of DIR/ccf.db taken beside a running ccfd (store_backup
 * says how). It runs instead of the server, takes no lock and reads no
 * configuration file. The credentials file is not in the copy. */
#ifndef CCF_SERVER_BACKUP_H
#define CCF_SERVER_BACKUP_H

/* argv[0] is "backup". Returns the process's exit status: 0, 1 when the
 * copy fails (the message says why), 2 for a usage error. */
int server__backup_main(int argc, char **argv);

#endif
