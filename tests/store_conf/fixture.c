/* fixture.c: the conformance suite's backends (conf.h): each makes a fresh,
 * empty store per case and runs the cases' own SQL. PostgreSQL runs in a
 * cluster this process starts with scripts/pg-cluster.sh (initdb as the
 * postgres user, a private port, fsync off) and stops by its pidfile.
 * DynamoDB runs against a dynalite this process starts with
 * scripts/dynalite.sh (in memory, loopback), a table prefix per case. */
#include "conf.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../store_fixture.h"
#include "conf_int.h"
#include "store/dynamodb/ddb_int.h"

struct conf_backend {
    const char *name;
    void (*fresh)(struct conf *f); /* an empty database for f */
    void (*drop)(struct conf *f);  /* after the store closed */
    void (*exec)(struct conf *f, const char *sql);
    int64_t (*num)(struct conf *f, const char *sql);
};

static const struct conf_backend *current;

/* ---- SQLite: a temp dir per case ---- */

static void sqlite_fresh(struct conf *f)
{
    store_fx_mkdtemp("conf", f->dir, f->path);
}

static void sqlite_drop(struct conf *f)
{
    store_fx_remove(NULL, f->dir);
}

static void sqlite_exec(struct conf *f, const char *sql)
{
    store_fx_exec(f->path, sql);
}

static int64_t sqlite_num(struct conf *f, const char *sql)
{
    return store_fx_int(f->path, sql);
}

static const struct conf_backend sqlite_backend = {
    .name = "sqlite",
    .fresh = sqlite_fresh,
    .drop = sqlite_drop,
    .exec = sqlite_exec,
    .num = sqlite_num,
};

/* ---- PostgreSQL: one cluster per run, a database per case ---- */

static char pg_dir[64];
static int pg_port;
static unsigned pg_seq;

static PGconn *pg_connect(const char *db)
{
    char conninfo[128];
    PGconn *c;

    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=postgres dbname=%s", pg_port,
             db);
    c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect to %s: %s", db, PQerrorMessage(c));
    return c;
}

static PGresult *pg_must(PGconn *c, const char *sql, ExecStatusType want)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != want)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    return r;
}

static void pg_fresh(struct conf *f)
{
    char sql[64], db[32];
    PGconn *c = pg_connect("postgres");

    snprintf(db, sizeof(db), "conf%u", ++pg_seq);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    PQclear(pg_must(c, sql, PGRES_COMMAND_OK));
    PQfinish(c);
    snprintf(f->url, sizeof(f->url), "postgresql://postgres@127.0.0.1:%d/%s", pg_port, db);
}

static void pg_drop(struct conf *f)
{
    (void)f; /* the cluster goes at the end of the group, databases with it */
}

static const char *pg_db(const struct conf *f)
{
    return strrchr(f->url, '/') + 1;
}

static void pg_exec(struct conf *f, const char *sql)
{
    PGconn *c = pg_connect(pg_db(f));

    PQclear(pg_must(c, sql, PGRES_COMMAND_OK));
    PQfinish(c);
}

static int64_t pg_num(struct conf *f, const char *sql)
{
    PGconn *c = pg_connect(pg_db(f));
    PGresult *r = pg_must(c, sql, PGRES_TUPLES_OK);
    int64_t v;

    assert_true(PQntuples(r) >= 1);
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

static const struct conf_backend pg_backend = {
    .name = "postgresql",
    .fresh = pg_fresh,
    .drop = pg_drop,
    .exec = pg_exec,
    .num = pg_num,
};

/* scripts/pg-cluster.sh from the repository root (where make runs the
 * tests), or CCF_PG_CLUSTER. */
static const char *cluster_script(void)
{
    const char *s = getenv("CCF_PG_CLUSTER");

    return s && *s ? s : "scripts/pg-cluster.sh";
}

int conf_group_setup_pg(void **state)
{
    char cmd[256], line[256];
    FILE *p;

    (void)state;
    snprintf(pg_dir, sizeof(pg_dir), "/tmp/ccf-conf-pg-XXXXXX");
    if (!mkdtemp(pg_dir))
        return -1;
    setenv("PG_CLUSTER_FAST", "1", 1); /* fsync off: durability is not what is tested */
    /* Our pid: the cluster goes with this process even if it dies before
     * the group's teardown (a crash, a pipe closed on it). */
    snprintf(cmd, sizeof(cmd), "%s start %s %ld", cluster_script(), pg_dir, (long)getpid());
    if (!(p = popen(cmd, "r")))
        return -1;
    while (fgets(line, sizeof(line), p)) {
        if (strncmp(line, "PGPORT=", 7) == 0)
            pg_port = atoi(line + 7);
    }
    if (pclose(p) != 0 || pg_port <= 0) {
        fprintf(stderr,
                "store conformance: could not start PostgreSQL (%s); see "
                "scripts/pg-cluster.sh check\n",
                cmd);
        return -1;
    }
    current = &pg_backend;
    return 0;
}

int conf_group_teardown_pg(void **state)
{
    char cmd[256];

    (void)state;
    snprintf(cmd, sizeof(cmd), "%s stop %s", cluster_script(), pg_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- DynamoDB: one dynalite per run, a table prefix per case ---- */

static char dyn_dir[64];
static char dyn_endpoint[64];
static unsigned dyn_seq;

static void dyn_fresh(struct conf *f)
{
    snprintf(f->url, sizeof(f->url), "dynamodb://conf%u?region=us-east-1&endpoint=%s", ++dyn_seq,
             dyn_endpoint);
}

static void dyn_drop(struct conf *f)
{
    (void)f; /* dynalite is in memory: its tables go with it */
}

/* The few SQL forms the shared cases use that mean the same on DynamoDB:
 * "SELECT count(*) FROM T" (a Scan's count of T's items) and "DELETE FROM
 * T" (each item, by its key), for the tables below. Any other SQL fails
 * the case: it is then on test_store_conf.c's dynamo_not_yet list. */
static const struct {
    const char *sql, *suffix, *hash, *range;
} dyn_tables[] = {
    {"connectors", DDB__T_CONNECTORS, "pk", "id"},
    {"jobs", DDB__T_JOBS, "pk", "job_id"},
    {"client_tokens", DDB__T_TOKENS, "pk", "tk"},
    {"webhooks", DDB__T_WEBHOOKS, "pk", "sk"},
    {"webhook_deliveries", DDB__T_DELIVERIES, "pk", "seq"},
};

static int dyn_table(const char *sql, const char *verb, char out[DDB__NAME_MAX], struct conf *f)
{
    size_t n = strlen(verb);

    if (strncmp(sql, verb, n) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(dyn_tables) / sizeof(dyn_tables[0]); i++) {
        if (strcmp(sql + n, dyn_tables[i].sql) == 0) {
            ddb__table(f->s, dyn_tables[i].suffix, out);
            return (int)i;
        }
    }
    return -1;
}

/* Scans table (every page); with del, deletes each item by its key. */
static int64_t dyn_scan(struct conf *f, const char *table, int del, const char *hash,
                        const char *range)
{
    json_t *start = NULL;
    int64_t n = 0;

    do {
        json_t *ans, *req = json_pack("{s:s,s:b}", "TableName", table, "ConsistentRead", 1), *it;
        size_t i;

        if (start)
            json_object_set_new(req, "ExclusiveStartKey", start);
        start = NULL;
        assert_int_equal(ddb__call(f->s, "Scan", req, &ans, "test"), 0);
        json_array_foreach(json_object_get(ans, "Items"), i, it)
        {
            n++;
            if (del)
                assert_int_equal(ddb__call(f->s, "DeleteItem",
                                           json_pack("{s:s,s:{s:O,s:O}}", "TableName", table, "Key",
                                                     hash, json_object_get(it, hash), range,
                                                     json_object_get(it, range)),
                                           NULL, "test"),
                                 0);
        }
        if (json_object_get(ans, "LastEvaluatedKey"))
            start = json_incref(json_object_get(ans, "LastEvaluatedKey"));
        json_decref(ans);
    } while (start);
    return n;
}

static void dyn_exec(struct conf *f, const char *sql)
{
    char table[DDB__NAME_MAX];
    int i = dyn_table(sql, "DELETE FROM ", table, f);

    if (i < 0)
        fail_msg("SQL on the DynamoDB store: %s", sql);
    (void)dyn_scan(f, table, 1, dyn_tables[i].hash, dyn_tables[i].range);
}

static int64_t dyn_num(struct conf *f, const char *sql)
{
    char table[DDB__NAME_MAX];
    int i = dyn_table(sql, "SELECT count(*) FROM ", table, f);

    if (i < 0)
        fail_msg("SQL on the DynamoDB store: %s", sql);
    return dyn_scan(f, table, 0, dyn_tables[i].hash, dyn_tables[i].range);
}

static const struct conf_backend dyn_backend = {
    .name = "dynamodb",
    .fresh = dyn_fresh,
    .drop = dyn_drop,
    .exec = dyn_exec,
    .num = dyn_num,
};

static const char *dynalite_script(void)
{
    const char *s = getenv("CCF_DYNALITE");

    return s && *s ? s : "scripts/dynalite.sh";
}

int conf_group_setup_dynamo(void **state)
{
    char cmd[256], line[256];
    FILE *p;

    (void)state;
    snprintf(dyn_dir, sizeof(dyn_dir), "/tmp/ccf-conf-dyn-XXXXXX");
    if (!mkdtemp(dyn_dir))
        return -1;
    /* dynalite checks that requests are signed, not by whom. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDCONFORMANCE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "conformance-secret", 1);
    snprintf(cmd, sizeof(cmd), "%s start %s %ld", dynalite_script(), dyn_dir, (long)getpid());
    if (!(p = popen(cmd, "r")))
        return -1;
    while (fgets(line, sizeof(line), p)) {
        if (strncmp(line, "CCF_TEST_DYNAMO_ENDPOINT=", 25) == 0)
            snprintf(dyn_endpoint, sizeof(dyn_endpoint), "%.*s", (int)strcspn(line + 25, "\n"),
                     line + 25);
    }
    if (pclose(p) != 0 || !dyn_endpoint[0]) {
        fprintf(stderr,
                "store conformance: could not start dynalite (%s); see "
                "scripts/dynalite.sh check\n",
                cmd);
        return -1;
    }
    current = &dyn_backend;
    return 0;
}

int conf_group_teardown_dynamo(void **state)
{
    char cmd[256];

    (void)state;
    snprintf(cmd, sizeof(cmd), "%s stop %s", dynalite_script(), dyn_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int conf_group_setup_sqlite(void **state)
{
    (void)state;
    current = &sqlite_backend;
    return 0;
}

/* ---- the cases' side ---- */

const char *conf_backend_name(const struct conf *f)
{
    return f->b->name;
}

static int conf_open(struct conf *f)
{
    struct store_config cfg = {.url = f->b != &sqlite_backend ? f->url : NULL,
                               .path = f->path,
                               .checkpoint_history = f->history};

    return store_open(&f->s, &cfg);
}

static int setup_with(void **state, int history)
{
    struct conf *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_non_null(current);
    f->b = current;
    assert_int_equal(ccf_tenant_init(&f->t1, "us-east-1", "111111111111"), 0);
    assert_int_equal(ccf_tenant_init(&f->t2, "us-east-1", "222222222222"), 0);
    assert_int_equal(ccf_tenant_init(&f->t3, "eu-west-1", "111111111111"), 0);
    f->history = history;
    f->b->fresh(f);
    assert_int_equal(conf_open(f), 0);
    *state = f;
    return 0;
}

int conf_setup(void **state)
{
    return setup_with(state, 0);
}

int conf_setup_h3(void **state)
{
    return setup_with(state, 3);
}

int conf_setup_cid(void **state)
{
    struct ccf_connector c = {.name = (char *)"c", .properties = (char *)PROPS};
    struct conf *f;

    setup_with(state, 0);
    f = *state;
    assert_int_equal(store_create_connector(f->s, &f->t1, &c), 0);
    memcpy(f->cid, c.id, sizeof(f->cid));
    return 0;
}

int conf_teardown(void **state)
{
    struct conf *f = *state;

    store_close(f->s);
    f->b->drop(f);
    free(f);
    return 0;
}

void conf_reopen(struct conf *f)
{
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(conf_open(f), 0);
}

void conf_exec(struct conf *f, const char *sqlite_sql, const char *pg_sql)
{
    f->b->exec(f, f->b == &pg_backend && pg_sql ? pg_sql : sqlite_sql);
}

int64_t conf_int(struct conf *f, const char *sql)
{
    return f->b->num(f, sql);
}
