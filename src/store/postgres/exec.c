/* exec.c: how the PostgreSQL backend talks to libpq: statements prepared
 * per connection, text parameters, columns, and error mapping. Calls
 * nothing of the pool or the transaction runner (pg_int.h). */
#include "store/postgres/pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

void pg__p_text(struct pg__params *p, const char *v)
{
    if (p->n >= PG__PARAMS_MAX)
        abort(); /* a bug at the call site, not an input */
    p->v[p->n] = v;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

void pg__p_int(struct pg__params *p, int64_t v)
{
    if (p->n >= PG__PARAMS_MAX)
        abort();
    snprintf(p->buf[p->n], sizeof(p->buf[p->n]), "%" PRId64, v);
    pg__p_text(p, p->buf[p->n]);
}

void pg__p_time(struct pg__params *p, int64_t v)
{
    if (v)
        pg__p_int(p, v);
    else
        pg__p_text(p, NULL);
}

void pg__p_bytes(struct pg__params *p, const void *v, size_t n)
{
    if (p->n >= PG__PARAMS_MAX || n > INT32_MAX)
        abort(); /* sizes come validated (1 MiB checkpoints) */
    p->v[p->n] = v ? v : "";
    p->len[p->n] = (int)n;
    p->fmt[p->n] = 1;
    p->n++;
}

bool pg__state_is(PGresult *r, const char *state)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    return s && strcmp(s, state) == 0;
}

int pg__map(struct pg__conn *c, PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (!c->db || PQstatus(c->db) != CONNECTION_OK || !s)
        return CCF_EUNAVAIL; /* no answer from the server: it is gone */
    /* 08: connection exception; 53: insufficient resources (disk full, too
     * many connections); 57P01-57P03: shut down, crashed, starting; 25006:
     * a read-only transaction (a standby, after a failover); 40001, 40P01:
     * serialization failure, deadlock; 55P03: lock not available; 57014: a
     * statement timeout. All pass: retry later. */
    if (strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 || strncmp(s, "57P0", 4) == 0 ||
        strcmp(s, "25006") == 0 || strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
        strcmp(s, "55P03") == 0 || strcmp(s, "57014") == 0)
        return CCF_EUNAVAIL;
    return CCF_EIO;
}

int pg__fail(struct pg__conn *c, PGresult *r, const char *event, const char *op)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int rc;

    if (!msg && c->db)
        msg = PQerrorMessage(c->db);
    rc = pg__map(c, r);
    if (!c->db || PQstatus(c->db) != CONNECTION_OK)
        c->broken = true;
    if (rc == CCF_EUNAVAIL)
        CCF_LOG_ERROR(event, CCF_KV_STR("op", op), CCF_KV_STR("sqlstate", state ? state : ""),
                      CCF_KV_STR("pg_error", msg ? msg : "no connection"),
                      CCF_KV_STR("hint", "the database is unreachable or busy; clients get 503 "
                                         "and ccfd reconnects by itself"));
    else
        CCF_LOG_ERROR(event, CCF_KV_STR("op", op), CCF_KV_STR("sqlstate", state ? state : ""),
                      CCF_KV_STR("pg_error", msg ? msg : "no connection"));
    return rc;
}

static int prepare(struct pg__conn *c, enum pg__q q, const char *sql, const char *op)
{
    char name[16];
    PGresult *r;
    int rc = 0;

    snprintf(name, sizeof(name), "q%d", (int)q);
    r = PQprepare(c->db, name, sql, 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg__fail(c, r, "store.prepare_failed", op);
    else
        c->prepared[q] = true;
    PQclear(r);
    return rc;
}

int pg__run(struct pg__conn *c, enum pg__q q, const char *sql, const struct pg__params *p,
            PGresult **out, const char *op)
{
    char name[16];
    PGresult *r;
    ExecStatusType st;
    int rc;

    if (!c->prepared[q] && (rc = prepare(c, q, sql, op)) < 0)
        return rc;
    snprintf(name, sizeof(name), "q%d", (int)q);
    r = PQexecPrepared(c->db, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
                       p ? p->fmt : NULL, 0);
    st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        rc = pg__fail(c, r, "store.step_failed", op);
        PQclear(r);
        return rc;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

int pg__exec(struct pg__conn *c, const char *sql, const char *op)
{
    PGresult *r = PQexec(c->db, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        rc = pg__fail(c, r, "store.exec_failed", op);
    PQclear(r);
    return rc;
}

int64_t pg__changed(PGresult *r)
{
    const char *n = PQcmdTuples(r);

    return n && *n ? strtoll(n, NULL, 10) : 0;
}

int64_t pg__int(PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);

    return v && *v ? strtoll(v, NULL, 10) : 0;
}

bool pg__null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

const char *pg__str(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int pg__copy(PGresult *r, int row, int col, char *out, size_t size)
{
    const char *v = pg__str(r, row, col);
    size_t n = v ? (size_t)PQgetlength(r, row, col) : 0;

    if (n >= size) {
        CCF_LOG_ERROR("store.bad_row", CCF_KV_STR("column", PQfname(r, col)),
                      CCF_KV_INT("bytes", n));
        return CCF_EIO;
    }
    if (n)
        memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

char *pg__dup(PGresult *r, int row, int col)
{
    const char *v = pg__str(r, row, col);

    return v ? ccf_xstrndup(v, (size_t)PQgetlength(r, row, col)) : NULL;
}
