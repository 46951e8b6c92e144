/* joblogs.c: job logs shipped into PostgreSQL (store.h, "What one replica
 * shares"), so that any replica answers for a job another one runs. An
 * attempt's log is rows of job_log_chunks at absolute offsets, contiguous
 * from the first kept byte to the end; appends come from one shipper per
 * job (the runner's), serialized anyway by a lock per job so that a
 * runner taken over mid-append cannot interleave. */
#include "store/postgres/pg_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* pg_advisory_xact_lock's seed per job: "ccf" and 5 (webhooks.c has 4). */
#define LOG_LOCK_SEED "6513925"

struct append {
    const char *job_id;
    int attempt;
    int64_t offset, cap;
    const char *data;
    size_t len;
    bool found;
};

/* The attempt's kept range [*first, *end); both 0 when nothing is kept. */
static int range(struct pg__conn *c, const char *job_id, int attempt, int64_t *first, int64_t *end,
                 const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, job_id);
    pg__p_int(&p, attempt);
    if ((rc = pg__run(c, PG__Q_LOG_RANGE,
                      "SELECT COALESCE(min(off), 0), COALESCE(max(off + length(data)), 0) "
                      "FROM job_log_chunks WHERE job_id = $1 AND attempt = $2",
                      &p, &r, op)) < 0)
        return rc;
    *first = pg__int(r, 0, 0);
    *end = pg__int(r, 0, 1);
    PQclear(r);
    return 0;
}

/* Under the job's lock, with the job's row held (a purge waits): whether
 * the job is still there. */
static int lock_job(struct pg__conn *c, const char *job_id, bool *found, const char *op)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, job_id);
    if ((rc = pg__run(c, PG__Q_LOG_LOCK,
                      "SELECT pg_advisory_xact_lock(hashtextextended($1, " LOG_LOCK_SEED ")), "
                      "EXISTS (SELECT 1 FROM jobs WHERE id = $1 FOR KEY SHARE)",
                      &p, &r, op)) < 0)
        return rc;
    *found = strcmp(pg__str(r, 0, 1) ? pg__str(r, 0, 1) : "", "t") == 0;
    PQclear(r);
    return 0;
}

static int insert_chunk(struct pg__conn *c, const struct append *a, int64_t off, const char *data,
                        size_t len, const char *op)
{
    struct pg__params p = {0};

    pg__p_text(&p, a->job_id);
    pg__p_int(&p, a->attempt);
    pg__p_int(&p, off);
    pg__p_bytes(&p, data, len);
    return pg__run(c, PG__Q_LOG_INSERT,
                   "INSERT INTO job_log_chunks (job_id, attempt, off, data) "
                   "VALUES ($1, $2, $3, $4)",
                   &p, NULL, op);
}

/* Deletes the chunks wholly before `before`. */
static int trim(struct pg__conn *c, const struct append *a, int64_t before, const char *op)
{
    struct pg__params p = {0};

    pg__p_text(&p, a->job_id);
    pg__p_int(&p, a->attempt);
    pg__p_int(&p, before);
    return pg__run(c, PG__Q_LOG_TRIM,
                   "DELETE FROM job_log_chunks WHERE job_id = $1 AND attempt = $2 "
                   "AND off + length(data) <= $3",
                   &p, NULL, op);
}

static int append_tx(struct pg__conn *c, void *arg)
{
    struct append *a = arg;
    const char *op = "append_job_log";
    int64_t first, end, skip, new_end;
    int rc;

    if ((rc = lock_job(c, a->job_id, &a->found, op)) < 0 || !a->found)
        return rc;
    if ((rc = range(c, a->job_id, a->attempt, &first, &end, op)) < 0)
        return rc;
    (void)first;
    if (a->offset > end && end > 0 && (rc = trim(c, a, INT64_MAX, op)) < 0)
        return rc; /* a gap: what was kept no longer joins the new bytes */
    skip = a->offset < end ? end - a->offset : 0;
    if ((uint64_t)skip >= a->len)
        return 0; /* all shipped before */
    new_end = a->offset + (int64_t)a->len;
    if ((rc = insert_chunk(c, a, a->offset + skip, a->data + skip, a->len - (size_t)skip, op)) < 0)
        return rc;
    return trim(c, a, new_end - a->cap, op);
}

int store_pg__append_job_log(struct store *s, const char *job_id, int attempt, int64_t offset,
                             const char *data, size_t len, int64_t cap)
{
    struct append a = {.job_id = job_id,
                       .attempt = attempt,
                       .offset = offset,
                       .cap = cap,
                       .data = data,
                       .len = len};
    int rc;

    if (len == 0)
        return 1;
    if ((rc = pg__write(s, append_tx, &a, "append_job_log")) < 0)
        return rc;
    return a.found ? 1 : CCF_ENOTFOUND;
}

int store_pg__job_log_end(struct store *s, const char *job_id, int attempt, int64_t *end)
{
    struct pg__conn *c;
    int64_t first;
    int rc;

    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    rc = range(c, job_id, attempt, &first, end, "job_log_end");
    pg__put(s, c);
    return rc < 0 ? rc : 1;
}

/* Copies the part of chunk row i within [start, start + n) into buf, which
 * starts at offset start. */
static int copy_chunk(PGresult *r, int i, int64_t start, int64_t n, char *buf)
{
    int64_t off = pg__int(r, i, 0), from, to;
    size_t len = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 1), &len);

    if (!raw)
        return CCF_ENOMEM;
    from = off > start ? off : start;
    to = off + (int64_t)len < start + n ? off + (int64_t)len : start + n;
    if (to > from)
        memcpy(buf + (from - start), raw + (from - off), (size_t)(to - from));
    PQfreemem(raw);
    return 0;
}

static int read_chunks(struct pg__conn *c, const char *job_id, int attempt, int64_t start,
                       int64_t n, char *buf)
{
    struct pg__params p = {0};
    PGresult *r;
    int rc;

    pg__p_text(&p, job_id);
    pg__p_int(&p, attempt);
    pg__p_int(&p, start);
    pg__p_int(&p, start + n);
    if ((rc = pg__run(c, PG__Q_LOG_READ,
                      "SELECT off, data FROM job_log_chunks WHERE job_id = $1 AND attempt = $2 "
                      "AND off < $4 AND off + length(data) > $3 ORDER BY off",
                      &p, &r, "read_job_log")) < 0)
        return rc;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = copy_chunk(r, i, start, n, buf);
    PQclear(r);
    return rc;
}

int store_pg__read_job_log(struct store *s, const char *job_id, int attempt, int64_t offset,
                           char *buf, size_t len, int64_t *size, int64_t *dropped)
{
    struct pg__conn *c;
    int64_t first, total, start, n;
    int rc;

    if ((rc = pg__get(s, &c)) < 0)
        return rc;
    /* One snapshot for the range and the bytes: a trim between them
     * cannot leave a hole in what is read. */
    if ((rc = pg__exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "read_job_log")) < 0)
        goto out;
    if ((rc = range(c, job_id, attempt, &first, &total, "read_job_log")) < 0)
        goto end;
    if (total == 0) {
        rc = CCF_ENOTFOUND;
        goto end;
    }
    /* As joblog.c's executor__log_read: negative from the end, clamped to
     * what is kept. */
    if (offset < 0)
        start = offset < -total ? 0 : total + offset;
    else
        start = offset > total ? total : offset;
    if (start < first)
        start = first;
    n = total - start;
    if ((uint64_t)n > len)
        n = (int64_t)len;
    if (n > INT_MAX)
        n = INT_MAX;
    if (n > 0 && (rc = read_chunks(c, job_id, attempt, start, n, buf)) < 0)
        goto end;
    *size = total;
    *dropped = first;
    rc = (int)n;
end:
    if (pg__exec(c, "COMMIT", "read_job_log") < 0 && rc >= 0)
        rc = CCF_EUNAVAIL;
out:
    pg__put(s, c);
    return rc;
}
