/* conf.h: the store conformance suite (tests/test_store_conf.c and the
 * cases in tests/store_conf/): store.h's behaviour, the same cases run
 * against every backend, each started for real: SQLite in a temp dir,
 * PostgreSQL in a throw-away cluster (scripts/pg-cluster.sh) with a fresh
 * database per case.
 *
 * A case sees only struct conf and store.h. What the API cannot set up or
 * read goes through conf_exec / conf_int, plain SQL on a connection of the
 * test's own, in the dialect both backends share (or one text each). */
#ifndef CCF_TESTS_STORE_CONF_H
#define CCF_TESTS_STORE_CONF_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/core.h"
#include "store/store.h"

#define BIT(s)   (1u << (s))
#define PROPS    "{\"command\":[\"/bin/true\"]}"
#define NO_ID_C  "cc-000000000000"
#define NO_ID_J  "ccj-000000000000"
#define SENTINEL ((char *)"sentinel")

struct conf_backend;

struct conf {
    const struct conf_backend *b;
    struct store *s;
    struct ccf_tenant t1, t2, t3;       /* t3: t1's account in another region */
    char dir[64];                       /* SQLite: the case's temp dir */
    char path[128];                     /* SQLite: its ccf.db */
    char url[160];                      /* PostgreSQL: the case's database */
    int history;                        /* checkpoint versions kept; 0: the default */
    char cid[CCF_CONNECTOR_ID_LEN + 1]; /* conf_setup_cid's connector */
};

/* The backend the running group tests ("sqlite" or "postgresql"). */
const char *conf_backend_name(const struct conf *f);

/* cmocka setup and teardown of one case: a fresh, empty store. */
int conf_setup(void **state);
int conf_teardown(void **state);
/* conf_setup with 3 checkpoint versions kept. */
int conf_setup_h3(void **state);
/* conf_setup, then a connector of t1 in f->cid. */
int conf_setup_cid(void **state);
/* Closes and opens the store again on the same data. */
void conf_reopen(struct conf *f);
/* SQL on a connection of the test's own; it must succeed. sqlite_sql for
 * SQLite, pg_sql for PostgreSQL (NULL: the same text). */
void conf_exec(struct conf *f, const char *sqlite_sql, const char *pg_sql);
/* The first column of the first row of sql, as an integer. */
int64_t conf_int(struct conf *f, const char *sql);

/* helpers shared by the cases (helpers.c) */

void mk_connector(struct conf *f, const struct ccf_tenant *t, const char *name,
                  char id[CCF_CONNECTOR_ID_LEN + 1]);
void start(struct conf *f, const char *cid, char jid[CCF_JOB_ID_LEN + 1]);
int move(struct conf *f, const char *cid, const char *jid, unsigned from, enum ccf_job_status to);
void get_conn(struct conf *f, const char *id, struct ccf_connector *c);

struct item {
    char *id;
    char *checksum; /* a job's connector_id */
    int64_t at, at2;
    int status;
};

struct coll {
    struct item *v;
    size_t n, cap;
};

void coll_free(struct coll *c);
int on_connector(void *ctx, const struct ccf_connector *c);
int on_job(void *ctx, const struct ccf_job *j);
int on_doc(void *ctx, const struct ccf_document *d);

enum kind { K_CONNECTORS, K_JOBS, K_DOCS };
struct lister {
    struct conf *f;
    const struct ccf_tenant *t;
    enum kind kind;
    const char *cid;
    unsigned mask;
};
int list_page(const struct lister *l, const char *after, size_t limit, struct coll *out,
              char **next);
/* Pages through everything; every page but the last is full, none empty. */
void list_all(const struct lister *l, size_t limit, struct coll *out);
/* The listed ids are exactly want[0..n): no duplicate, no gap. Sorts want. */
void assert_same_ids(const struct coll *got, char **want, size_t n);

/* The cases, by area. */
extern const struct CMUnitTest conf_connectors[];
extern const size_t conf_connectors_n;
extern const struct CMUnitTest conf_jobs[];
extern const size_t conf_jobs_n;
extern const struct CMUnitTest conf_data[];
extern const size_t conf_data_n;
extern const struct CMUnitTest conf_ckpt[];
extern const size_t conf_ckpt_n;
extern const struct CMUnitTest conf_schedules[];
extern const size_t conf_schedules_n;
extern const struct CMUnitTest conf_maintenance[];
extern const size_t conf_maintenance_n;
extern const struct CMUnitTest conf_replicas[];
extern const size_t conf_replicas_n;
extern const struct CMUnitTest conf_docstats[];
extern const size_t conf_docstats_n;
extern const struct CMUnitTest conf_webhooks[];
extern const size_t conf_webhooks_n;
/* What replicas share (shared.c): checked as absent where it is. */
extern const struct CMUnitTest conf_shared[];
extern const size_t conf_shared_n;
/* PostgreSQL's own (pg_only.c), in its group only. */
extern const struct CMUnitTest conf_pg_only[];
extern const size_t conf_pg_only_n;
/* DynamoDB's own (dynamo_only.c), in its group only. */
extern const struct CMUnitTest conf_dynamo_only[];
extern const size_t conf_dynamo_only_n;
/* dynamo_changes.c: the change log's crash cases, run with the above. */
extern const struct CMUnitTest conf_dynamo_changes[];
extern const size_t conf_dynamo_changes_n;
/* dynamo_audit.c: the audit log's crash cases, run with the above. */
extern const struct CMUnitTest conf_dynamo_audit[];
extern const size_t conf_dynamo_audit_n;

#endif
