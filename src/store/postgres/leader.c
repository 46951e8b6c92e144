/* leader.c: leadership among the replicas that share one PostgreSQL
 * database (SCALE.md, "PostgreSQL and several replicas"), and the
 * notifications that wake the leader on another replica's commit.
 *
 * The leader is the holder of a session-level advisory lock on a
 * connection of its own, outside the pool: the lock lives exactly as long
 * as that session, so a leader that dies (kill -9, a lost network, a
 * restarted server) frees it when PostgreSQL sees the session end, and a
 * follower's next try takes it. The same connection LISTENs, on every
 * replica: every write that makes a change or event row NOTIFYs in its
 * transaction (changes.c), delivered at commit, so the leader's
 * orchestrator and scheduler, and every replica's long polls, are woken
 * without polling by writes made on any replica.
 *
 * Thread rules: store_pg__leader_poll is called by one thread only (the
 * server's leadership thread); pg__leader_close after that thread ended. */
#include "store/postgres/pg_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

/* pg_try_advisory_lock's key for leadership: "ccf" and 4 (1 is the
 * migrations', 2 the outbox's, 3 the seed of the documents' locks). */
#define LEADER_LOCK "6513924"

struct pg__leader {
    PGconn *db;
    bool leading;
    /* A follower whose session ended (the server restarted) skips its
     * first try after reconnecting: the leader before the restart, which
     * retries sooner, gets its lock back and keeps its orchestrator. */
    bool defer;
};

static void drop(struct pg__leader *l)
{
    PQfinish(l->db);
    l->db = NULL;
    if (l->leading)
        CCF_LOG_WARN("store.leadership_lost",
                     CCF_KV_STR("reason", "the leader's database session ended"));
    else
        l->defer = true;
    l->leading = false;
}

/* A session with keepalives short enough that a silent network loss ends
 * it within the failover time (SCALE.md: 10 s). */
static int connect_session(struct pg__leader *l, const char *url)
{
    const char *const keys[] = {"connect_timeout",
                                "application_name",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "dbname",
                                NULL};
    const char *const vals[] = {"5", "ccfd-leader", "3", "1", "3", url, NULL};

    l->db = PQconnectdbParams(keys, vals, 1);
    if (l->db && PQstatus(l->db) == CONNECTION_OK)
        return 0;
    PQfinish(l->db);
    l->db = NULL;
    return CCF_EUNAVAIL;
}

/* One statement, its single value compared with "t". */
static int query_bool(PGconn *db, const char *sql, bool *out)
{
    PGresult *r = PQexec(db, sql);
    int rc = 0;

    if (!r || (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK))
        rc = CCF_EUNAVAIL;
    else if (out)
        *out = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Waits for the session's socket at most ms, then reads what came:
 * notifications set *woken; an ended session is CCF_EUNAVAIL. */
static int wait_notified(struct pg__leader *l, int ms, bool *woken)
{
    struct pollfd pfd = {.fd = PQsocket(l->db), .events = POLLIN};
    PGnotify *n;

    if (pfd.fd < 0)
        return CCF_EUNAVAIL;
    if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
        return CCF_EUNAVAIL;
    if (PQconsumeInput(l->db) == 0 || PQstatus(l->db) != CONNECTION_OK)
        return CCF_EUNAVAIL;
    while ((n = PQnotifies(l->db)) != NULL) {
        *woken = true;
        PQfreemem(n);
    }
    return 0;
}

/* A session if there is none, listening from its start: followers'
 * long polls are woken by other replicas' events too, and a new leader
 * misses no commit between its recovery's read of the stream and its
 * first wait. *fresh: it was just made. */
static int session(struct pg__leader *l, const char *url, bool *fresh)
{
    *fresh = false;
    if (l->db)
        return 0;
    if (connect_session(l, url) < 0)
        return CCF_EUNAVAIL;
    if (query_bool(l->db, "LISTEN " PG__CHANNEL, NULL) < 0) {
        drop(l);
        return CCF_EUNAVAIL;
    }
    *fresh = true;
    return 0;
}

/* Not leading: one try of the lock. */
static int try_lock(struct pg__leader *l, const char *url)
{
    bool got = false, fresh;

    if (session(l, url, &fresh) < 0)
        return CCF_EUNAVAIL;
    if (fresh && l->defer) {
        l->defer = false;
        return 0;
    }
    if (query_bool(l->db, "SELECT pg_try_advisory_lock(" LEADER_LOCK ")", &got) < 0) {
        drop(l);
        return CCF_EUNAVAIL;
    }
    if (!got)
        return 0;
    l->leading = true;
    CCF_LOG_INFO("store.leadership_taken", CCF_KV_STR("backend", "postgresql"));
    return 1;
}

/* A follower's wait: the whole wait_ms (its next try of the lock comes no
 * sooner, however busy the database), passing each notification on to
 * the store's hooks as it comes. */
static int follow(struct store *s, struct pg__leader *l, int wait_ms, bool *woken)
{
    int64_t until = ccf_mono_us() + (int64_t)wait_ms * 1000, left;

    if (!l->db) {
        sleep_ms(wait_ms);
        return 0;
    }
    while ((left = until - ccf_mono_us()) > 0) {
        bool w = false;

        if (wait_notified(l, (int)((left + 999) / 1000), &w) < 0) {
            drop(l);
            return CCF_EUNAVAIL;
        }
        if (w)
            store__notify(s, true);
        *woken = *woken || w;
    }
    return 0;
}

int store_pg__leader_poll(struct store *s, const char *url, struct pg__leader **lp, int wait_ms,
                          bool *woken)
{
    struct pg__leader *l = *lp;
    int rc;

    if (!l)
        l = *lp = ccf_xcalloc(1, sizeof(*l));
    if (!l->leading) {
        if ((rc = try_lock(l, url)) == 1)
            return 1; /* just taken: the caller starts its work at once */
        return follow(s, l, wait_ms, woken) < 0 ? CCF_EUNAVAIL : rc;
    }
    if (wait_notified(l, wait_ms, woken) < 0) {
        drop(l);
        return CCF_EUNAVAIL;
    }
    if (*woken)
        store__notify(s, true);
    return 1;
}

int pg__leader_pid(const struct pg__leader *l)
{
    return l && l->db ? PQbackendPID(l->db) : 0;
}

void pg__leader_close(struct pg__leader *l)
{
    if (!l)
        return;
    PQfinish(l->db); /* the session's end frees the lock */
    free(l);
}
