/* lock.h (private to server/): one ccfd per data directory. The lock is a
 * POSIX record lock (fcntl F_SETLK) on DATA_DIR/ccfd.lock, so that:
 * - the kernel drops it when the holder dies, kill -9 included;
 * - a refused process learns the holder's pid from F_GETLK;
 * - it is never inherited: record locks do not pass through fork, and the
 *   descriptor is O_CLOEXEC, so the job supervisors that outlive ccfd
 *   cannot keep a restart out.
 * `ccfd credentials` and `ccfd backup` run beside a live ccfd and do not
 * take it.
 * Thread rules: main thread, before any other thread starts. */
#ifndef CCF_SERVER_LOCK_H
#define CCF_SERVER_LOCK_H

#define SERVER_LOCK_FILE "ccfd.lock"

/* Takes the lock of the existing directory dir and writes our pid into the
 * lock file (for people: the lock itself is what counts). *fd gets the
 * descriptor that holds it; close it with server__lock_release. On
 * CCF_ECONFLICT another process holds it: the error line names its pid.
 * CCF_EIO if the file cannot be opened or locked (logged). */
int server__lock_take(const char *dir, int *fd);

/* Empties the lock file (its pid is stale from now on) and drops the lock;
 * takes -1. */
void server__lock_release(int fd);

#endif
