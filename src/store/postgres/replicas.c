/* replicas.c: the replicas that share one database and the runner of each
 * job (store.h, "Replicas"; docs/DECISIONS.md, "Jobs on every replica").
 *
 * Each replica upserts its row (heartbeat_at on the database's clock, so
 * replicas' clocks never compare); the leader assigns unassigned STARTED
 * jobs to live replicas in one transaction that locks those jobs FOR
 * UPDATE SKIP LOCKED (a leader being replaced and its successor never
 * assign one job twice, and neither waits on the other) and NOTIFYs, so
 * that every runner's wait ends and it reads its jobs at once. */
#include "store/postgres/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define LOST_MAX 256
/* A replica gets new jobs only while its leadership session lives too: a
 * killed ccfd's ends at once (or within the keepalives' 6 s), long before
 * its heartbeat is old, and a job given to it would wait for
 * runner-lost-after. A replica that has no session yet (it registered
 * before its first poll) counts as alive. */
#define SESSION_LIVES                                                                              \
    "(r.session_pid IS NULL OR EXISTS (SELECT 1 FROM pg_stat_activity a WHERE "                    \
    "a.pid = r.session_pid AND a.backend_start = r.session_start))"
/* A replica lives while its heartbeat is newer than this ($1 µs ago). */
#define LIVE "heartbeat_at >= clock_timestamp() - $1::float8 * interval '1 microsecond'"

int store_pg__replica_heartbeat(struct store *s, const struct store_replica *r)
{
    struct pg__params p = {0};
    struct pg__conn *c;
    int rc;

    pg__p_text(&p, r->id);
    pg__p_text(&p, r->host);
    pg__p_int(&p, r->pid);
    pg__p_int(&p, r->slots);
    pg__p_int(&p, pg__session_pid(s));
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    /* One statement, its own short transaction: a heartbeat never waits
     * behind a long write of this replica. A new pid is a restart. */
    rc = pg__run(c, PG__Q_REPLICA_BEAT,
                 "INSERT INTO replicas (id, host, pid, slots, heartbeat_at, started_at, "
                 "session_pid, session_start) VALUES ($1, $2, $3, $4, clock_timestamp(), "
                 "clock_timestamp(), NULLIF($5::int, 0), (SELECT backend_start FROM "
                 "pg_stat_activity WHERE pid = NULLIF($5::int, 0))) "
                 "ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, slots = EXCLUDED.slots, "
                 "heartbeat_at = EXCLUDED.heartbeat_at, started_at = CASE WHEN replicas.pid = "
                 "EXCLUDED.pid THEN replicas.started_at ELSE EXCLUDED.started_at END, "
                 "pid = EXCLUDED.pid, session_pid = EXCLUDED.session_pid, "
                 "session_start = EXCLUDED.session_start",
                 &p, NULL, "replica_heartbeat");
    pg__put(s, c);
    return rc;
}

struct live {
    char id[STORE_REPLICA_ID_LEN + 1];
    int64_t free; /* slots less its unfinished jobs; may be negative */
};

struct assign {
    int64_t live_us;
    int max;
    struct live *live;
    int nlive;
};

/* The live replicas that take jobs, with their free slots. */
static int read_live(struct pg__conn *c, struct assign *a)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_int(&p, a->live_us);
    if ((rc = pg__run(c, PG__Q_REPLICA_LIVE,
                      "SELECT r.id, r.slots - (SELECT count(*) FROM jobs j WHERE j.runner = r.id "
                      "AND j.status IN (0, 1, 2)) FROM replicas r WHERE r.slots > 0 AND " LIVE
                      " AND " SESSION_LIVES " ORDER BY r.id",
                      &p, &r, "assign_jobs")) < 0)
        return rc;
    a->nlive = PQntuples(r);
    a->live = a->nlive > 0 ? ccf_xcalloc((size_t)a->nlive, sizeof(*a->live)) : NULL;
    for (int i = 0; i < a->nlive && rc == 0; i++) {
        rc = pg__copy(r, i, 0, a->live[i].id, sizeof(a->live[i].id));
        a->live[i].free = pg__int(r, i, 1);
    }
    PQclear(r);
    return rc;
}

/* The replica with the most free slots (the first by id on a tie): jobs
 * spread over the replicas as they come. One with none free still gets
 * the job: its runner queues it and says why it waits, as one ccfd does. */
static struct live *pick(struct assign *a)
{
    struct live *best = NULL;

    for (int i = 0; i < a->nlive; i++)
        if (!best || a->live[i].free > best->free)
            best = &a->live[i];
    return best;
}

static int assign_tx(struct pg__conn *c, void *arg)
{
    struct assign *a = arg;
    struct pg__params p = {0};
    PGresult *r;
    int rc, rows, done = 0;

    if ((rc = read_live(c, a)) < 0 || a->nlive == 0)
        return rc;
    pg__p_int(&p, a->max);
    if ((rc = pg__run(c, PG__Q_JOB_UNASSIGNED,
                      "SELECT id FROM jobs WHERE runner IS NULL AND status = 0 "
                      "ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
                      &p, &r, "assign_jobs")) < 0)
        return rc;
    rows = PQntuples(r);
    for (int i = 0; i < rows && rc == 0; i++) {
        struct live *to = pick(a);
        struct pg__params q = {0};

        pg__p_text(&q, pg__str(r, i, 0));
        pg__p_text(&q, to->id);
        rc = pg__run(c, PG__Q_JOB_ASSIGN,
                     "UPDATE jobs SET runner = $2 WHERE id = $1 AND runner IS NULL AND status = 0",
                     &q, NULL, "assign_jobs");
        to->free--;
        done++;
    }
    PQclear(r);
    if (rc == 0 && done > 0)
        rc = pg__exec(c, "NOTIFY " PG__CHANNEL, "assign_jobs");
    return rc < 0 ? rc : done;
}

int store_pg__assign_jobs(struct store *s, int64_t live_us, int max)
{
    struct assign a = {.live_us = live_us, .max = max};
    int rc = pg__write(s, assign_tx, &a, "assign_jobs");

    free(a.live);
    return rc;
}

/* The refs of a query's rows (tenant, connector_id, id, status, runner). */
static int read_refs(struct store *s, enum pg__q q, const char *sql, const struct pg__params *p,
                     struct store_job_ref **out, size_t *n, const char *op)
{
    struct store_job_ref *refs = NULL;
    struct pg__conn *c;
    PGresult *r;
    int rc, rows;

    *out = NULL;
    *n = 0;
    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = pg__run(c, q, sql, p, &r, op);
    pg__put(s, c);
    if (rc < 0)
        return rc;
    rows = PQntuples(r);
    if (rows > 0)
        refs = ccf_xcalloc((size_t)rows, sizeof(*refs));
    for (int i = 0; i < rows && rc == 0; i++)
        rc = pg__row_ref(r, i, &refs[i]);
    PQclear(r);
    if (rc < 0) {
        free(refs);
        return rc;
    }
    *out = refs;
    *n = (size_t)rows;
    return 0;
}

int store_pg__runner_jobs(struct store *s, const char *runner, struct store_job_ref **out,
                          size_t *n)
{
    struct pg__params p = {0};

    pg__p_text(&p, runner);
    return read_refs(s, PG__Q_RUNNER_JOBS,
                     "SELECT tenant, connector_id, id, status, runner FROM jobs "
                     "WHERE runner = $1 AND status IN (0, 1, 2) ORDER BY created_at, id",
                     &p, out, n, "runner_jobs");
}

int store_pg__lost_jobs(struct store *s, int64_t live_us, struct store_job_ref **out, size_t *n)
{
    struct pg__params p = {0};

    pg__p_int(&p, live_us);
    pg__p_int(&p, LOST_MAX);
    return read_refs(s, PG__Q_LOST_JOBS,
                     "SELECT j.tenant, j.connector_id, j.id, j.status, j.runner FROM jobs j "
                     "WHERE j.status IN (0, 1, 2) AND ((j.runner IS NOT NULL AND NOT EXISTS "
                     "(SELECT 1 FROM replicas r WHERE r.id = j.runner AND r." LIVE ")) OR "
                     "(j.runner IS NULL AND j.status IN (1, 2) AND EXISTS (SELECT 1 FROM "
                     "replicas r WHERE r.slots > 0 AND r." LIVE "))) "
                     "ORDER BY j.created_at, j.id LIMIT $2",
                     &p, out, n, "lost_jobs");
}

struct unassign {
    const char *job_id, *runner;
};

static int unassign_tx(struct pg__conn *c, void *arg)
{
    const struct unassign *a = arg;
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, a->job_id);
    pg__p_text(&p, a->runner);
    if ((rc = pg__run(c, PG__Q_JOB_UNASSIGN,
                      "UPDATE jobs SET runner = NULL WHERE id = $1 AND runner = $2 AND status = 0",
                      &p, &r, "unassign_job")) < 0)
        return rc;
    rc = pg__changed(r) == 1;
    PQclear(r);
    return rc;
}

int store_pg__unassign_job(struct store *s, const char *job_id, const char *runner)
{
    struct unassign a = {.job_id = job_id, .runner = runner};

    return pg__write(s, unassign_tx, &a, "unassign_job");
}
