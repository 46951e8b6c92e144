/* metrics.c: GET /metrics and GET /readyz. The request counters are a flat
 * array of relaxed atomics indexed by (operation, status): a request does
 * two or three uncontended-in-the-common-case increments and never takes a
 * lock; a scrape reads them all once. Other modules' numbers are read
 * through their headers at scrape time. */
#include "server/metrics.h"

#include <dirent.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/histo.h"

#define CODE_MIN 100
#define CODE_N   500 /* 100..599 */

const char server__op_metrics[] = "Metrics";
const char server__op_readiness[] = "Readiness";
const char server__op_console[] = "Console";
/* Refused before the router named an operation (auth, 404, 413, ...). */
static const char op_none[] = "None";

struct server_metrics {
    struct server_metrics_config cfg;
    const char **ops; /* the api's, then ours */
    size_t nops;
    atomic_uint_fast64_t *reqs; /* [nops][CODE_N] */
    struct ccf_histo *dur;      /* [nops] */
    double start_time;          /* s since the epoch */
};

void server__metrics_create(struct server_metrics **out, const struct server_metrics_config *cfg)
{
    struct server_metrics *m = ccf_xcalloc(1, sizeof(*m));
    struct timespec ts;
    size_t n = 0;

    m->cfg = *cfg;
    while (api_operation_name(n))
        n++;
    m->nops = n + 4;
    m->ops = ccf_xcalloc(m->nops, sizeof(*m->ops));
    for (size_t i = 0; i < n; i++)
        m->ops[i] = api_operation_name(i);
    m->ops[n] = server__op_metrics;
    m->ops[n + 1] = server__op_readiness;
    m->ops[n + 2] = server__op_console;
    m->ops[n + 3] = op_none;
    m->reqs = ccf_xcalloc(m->nops * CODE_N, sizeof(*m->reqs));
    m->dur = ccf_xcalloc(m->nops, sizeof(*m->dur));
    for (size_t i = 0; i < m->nops; i++)
        ccf_histo_init(&m->dur[i], ccf_histo_latency_us, ccf_histo_latency_n, 1e-6);
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    *out = m;
}

void server__metrics_destroy(struct server_metrics *m)
{
    if (!m)
        return;
    free(m->ops);
    free(m->reqs);
    free(m->dur);
    free(m);
}

/* The names are the router's own pointers: a pointer match is the common
 * case; strcmp covers a copy. Unknown names count as None. */
static size_t op_index(const struct server_metrics *m, const char *op)
{
    if (!op)
        return m->nops - 1;
    for (size_t i = 0; i < m->nops; i++) {
        if (m->ops[i] == op)
            return i;
    }
    for (size_t i = 0; i < m->nops; i++) {
        if (strcmp(m->ops[i], op) == 0)
            return i;
    }
    return m->nops - 1;
}

void server__metrics_request(struct server_metrics *m, const char *operation, int status,
                             int64_t duration_us)
{
    size_t i;

    if (!m || status < CODE_MIN || status >= CODE_MIN + CODE_N)
        return;
    i = op_index(m, operation);
    atomic_fetch_add_explicit(&m->reqs[i * CODE_N + (size_t)(status - CODE_MIN)], 1,
                              memory_order_relaxed);
    ccf_histo_observe(&m->dur[i], duration_us > 0 ? (uint64_t)duration_us : 0);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_http(const struct server_metrics *m, FILE *f)
{
    char labels[128];

    family(f, "ccf_http_requests_total", "counter",
           "HTTP requests answered, by operation and code.");
    for (size_t i = 0; i < m->nops; i++) {
        for (size_t c = 0; c < CODE_N; c++) {
            uint64_t v = atomic_load_explicit(&m->reqs[i * CODE_N + c], memory_order_relaxed);
            if (v)
                fprintf(f, "ccf_http_requests_total{operation=\"%s\",code=\"%zu\"} %llu\n",
                        m->ops[i], c + CODE_MIN, (unsigned long long)v);
        }
    }
    family(f, "ccf_http_request_duration_seconds", "histogram",
           "From the request line to the response sent, by operation.");
    for (size_t i = 0; i < m->nops; i++) {
        snprintf(labels, sizeof(labels), "operation=\"%s\"", m->ops[i]);
        ccf_histo_write(&m->dur[i], f, "ccf_http_request_duration_seconds", labels);
    }
}

/* Read from the store at each scrape: a gauge of the whole service, which
 * no one process's counters could give (jobs outlive ccfd restarts). */
static void write_unfinished(const struct server_metrics *m, FILE *f)
{
    static const enum ccf_job_status open[] = {CCF_JOB_STARTED, CCF_JOB_RUNNING, CCF_JOB_STOPPING};
    int64_t n[CCF_JOB_STATUS_COUNT];

    if (store_count_unfinished_jobs(m->cfg.store, n) < 0)
        return; /* logged by the store; the scrape goes on without it */
    family(f, "ccf_jobs", "gauge", "Jobs that have not ended, by status.");
    for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++)
        fprintf(f, "ccf_jobs{status=\"%s\"} %lld\n", ccf_job_status_name(open[i]),
                (long long)n[open[i]]);
}

static void write_jobs(const struct server_metrics *m, FILE *f)
{
    static const enum ccf_job_status ends[] = {CCF_JOB_SUCCEEDED, CCF_JOB_FAILED, CCF_JOB_STOPPED};
    const struct orchestrator_metrics *om =
        m->cfg.orch ? orchestrator_get_metrics(m->cfg.orch) : NULL;
    struct scheduler_stats ss = {0};
    struct webhook_stats ws;
    struct ccf_histo no_jobs = {.scale = 1}; /* empty: only +Inf, count 0 */

    write_unfinished(m, f);
    family(f, "ccf_jobs_finished_total", "counter",
           "Jobs this process moved to a terminal status.");
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
        fprintf(f, "ccf_jobs_finished_total{status=\"%s\"} %llu\n", ccf_job_status_name(ends[i]),
                om ? (unsigned long long)atomic_load_explicit(&om->finished[ends[i]],
                                                              memory_order_relaxed)
                   : 0ULL);
    /* The families are there without an orchestrator too (--executor
     * none), empty: a dashboard's query finds them whatever the config. */
    family(f, "ccf_job_start_latency_seconds", "histogram", "From a job's creation to RUNNING.");
    ccf_histo_write(om ? &om->start_latency : &no_jobs, f, "ccf_job_start_latency_seconds", "");
    family(f, "ccf_job_duration_seconds", "histogram", "From RUNNING to a terminal status.");
    ccf_histo_write(om ? &om->duration : &no_jobs, f, "ccf_job_duration_seconds", "");
    if (m->cfg.sched)
        scheduler_get_stats(m->cfg.sched, &ss);
    family(f, "ccf_schedule_runs_total", "counter", "Scheduled runs started or skipped (IN_USE).");
    fprintf(f, "ccf_schedule_runs_total{result=\"started\"} %llu\n",
            (unsigned long long)ss.started);
    fprintf(f, "ccf_schedule_runs_total{result=\"skipped\"} %llu\n",
            (unsigned long long)ss.skipped);
    webhook_deliverer_stats(m->cfg.webhooks, &ws);
    family(f, "ccf_webhook_deliveries_total", "counter",
           "Webhook delivery attempts by result: delivered, retried later, or given up.");
    fprintf(f, "ccf_webhook_deliveries_total{result=\"delivered\"} %llu\n",
            (unsigned long long)ws.delivered);
    fprintf(f, "ccf_webhook_deliveries_total{result=\"retried\"} %llu\n",
            (unsigned long long)ws.retried);
    fprintf(f, "ccf_webhook_deliveries_total{result=\"failed\"} %llu\n",
            (unsigned long long)ws.failed);
}

static void write_store(const struct server_metrics *m, FILE *f)
{
    struct store_metrics sm;

    store_get_metrics(m->cfg.store, &sm);
    family(f, "ccf_store_commit_duration_seconds", "histogram",
           "One group commit, from BEGIN to the end of COMMIT.");
    ccf_histo_write(sm.commit_seconds, f, "ccf_store_commit_duration_seconds", "");
    family(f, "ccf_store_writes_per_commit", "histogram", "Writes that shared one commit.");
    ccf_histo_write(sm.writes_per_commit, f, "ccf_store_writes_per_commit", "");
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* utime and stime (fields 14, 15 of /proc/self/stat, after the ")" of the
 * command name, which may hold spaces) and the resident pages (statm). */
static void write_process(const struct server_metrics *m, FILE *f)
{
    char buf[1024];
    unsigned long long ut = 0, st = 0, pages = 0, size = 0;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE), fds = open_fds();
    FILE *p;
    char *rp;
    size_t n;

    if ((p = fopen("/proc/self/stat", "re"))) {
        n = fread(buf, 1, sizeof(buf) - 1, p);
        buf[n] = '\0';
        fclose(p);
        if ((rp = strrchr(buf, ')')) &&
            sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
            ut = st = 0;
    }
    if ((p = fopen("/proc/self/statm", "re"))) {
        if (fscanf(p, "%llu %llu", &size, &pages) != 2)
            pages = 0;
        fclose(p);
    }
    family(f, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
    fprintf(f, "process_cpu_seconds_total %.2f\n", tick > 0 ? (double)(ut + st) / (double)tick : 0);
    family(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    fprintf(f, "process_resident_memory_bytes %llu\n",
            pages * (unsigned long long)(page > 0 ? page : 4096));
    family(f, "process_open_fds", "gauge", "Number of open file descriptors.");
    fprintf(f, "process_open_fds %ld\n", fds > 0 ? fds : 0);
    family(f, "process_start_time_seconds", "gauge", "Start time of the process since the epoch.");
    fprintf(f, "process_start_time_seconds %.3f\n", m->start_time);
}

int server__metrics_render(struct server_metrics *m, char **out, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);

    if (!f)
        return CCF_EIO;
    family(f, "ccf_build_info", "gauge", "Always 1; the version is in its label.");
    fprintf(f, "ccf_build_info{version=\"%s\"} 1\n", m->cfg.version);
    write_http(m, f);
    write_jobs(m, f);
    write_store(m, f);
    write_process(m, f);
    if (fclose(f) != 0) {
        free(text);
        return CCF_EIO;
    }
    *out = text;
    *len = n;
    return 0;
}

int server__metrics_ready(struct server_metrics *m, char **body, size_t *len)
{
    const char *why = NULL;
    bool leader = server__leader_is(m->cfg.leader);
    json_t *j;
    int status = 200;

    if (store_writable(m->cfg.store, &why) < 0)
        status = 503;
    else if (leader && m->cfg.orch && !orchestrator_running(m->cfg.orch)) {
        status = 503;
        why = "the orchestrator is not running";
    }
    j = status == 200 ? json_pack("{s:s,s:b}", "status", "ok", "leader", leader)
                      : json_pack("{s:s,s:s}", "status", "unavailable", "reason", why);
    *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!*body)
        abort(); /* out of memory, as ccf_xmalloc */
    *len = strlen(*body);
    return status;
}
