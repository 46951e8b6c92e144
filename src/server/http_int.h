/* http_int.h (private to the transport: http.c, http_conn.c,
 * http_response.c, writers.c, longpoll.c, audit.c): the state those files
 * share. http.c drives; the others never call back into it. */
#ifndef CCF_SERVER_HTTP_INT_H
#define CCF_SERVER_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/console.h"
#include "server/http.h"
#include "server/metrics.h"

#define REQUEST_ID_LEN 36 /* a UUID v4 */
/* The 0.9 series parses the request line in place and passes on_uri and
 * on_access pointers into it; hide_query and target_has_nul rely on that
 * layout (checked against 0.9.75 to 0.9.77). 1.0 closes the connection on a
 * NUL in the request line and answers its 431 when the query exhausts the
 * pool. */
#define MHD_LINE_IN_PLACE (MHD_VERSION < 0x01000000)

struct http_req;

/* The writer pool (writers.c): requests waiting for a writer, oldest first. */
struct server_writers {
    struct api *api; /* borrowed */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_req *head, **tail;
    bool stop;
    pthread_t *threads;
    unsigned n; /* set before MHD starts: its threads read it without a lock */
};

/* Parked long polls (longpoll.c). */
struct server_longpoll {
    struct store *store; /* borrowed; NULL: no long polls */
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* CLOCK_MONOTONIC */
    struct http_req *head; /* parked, any order */
    uint64_t gen;          /* commits that wrote events, so far */
    bool stop, started;
    pthread_t thread;
};

/* Records of requests refused before the api ran (audit.c): queued by the
 * HTTP threads, written in batches by one thread, so that a flood of 429s
 * costs a copy each, not an fsync each. */
#define SERVER__AUDIT_QUEUE 256
struct server_audit {
    struct store *store; /* borrowed; NULL: nothing is recorded */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_audit *q; /* SERVER__AUDIT_QUEUE slots; n used */
    size_t n;
    uint64_t dropped; /* the queue was full: logged, counted */
    bool stop, started;
    pthread_t thread;
};

struct server_http {
    struct MHD_Daemon *d;
    MHD_socket listen_fd; /* ours to close once quiesced */
    struct api *api;
    struct auth *auth;        /* NULL: auth = none, every request is tenant */
    struct server_tls *tls;   /* NULL: plain HTTP */
    struct ccf_ratelimit *rl; /* NULL: no rate limit */
    struct ccf_tenant tenant; /* auth = none's tenant */
    unsigned port;
    bool access_log; /* access-log: a line per request */
    struct server_metrics *metrics;
    bool metrics_on;
    atomic_bool stopping;
    atomic_size_t in_flight;
    atomic_uint_fast64_t seq; /* request ids if the CSPRNG fails */
    struct server_writers w;
    struct server_longpoll lp;
    struct server_console *console;
    struct server_audit audit;
};

/* One per connection (its socket context), reused by each request on it. */
struct http_req {
    bool live;    /* between on_uri and the request's end */
    char *target; /* raw request-target: path, then ?query, not decoded */
    size_t target_len;
    char *path;   /* target without the query, for the log */
    char *method; /* NULL until the first access call */
    char request_id[REQUEST_ID_LEN + 1];
    int64_t started_us; /* monotonic */
    size_t declared;    /* Content-Length, 0 when absent */
    char *body;         /* NUL-terminated; never more than CCF_BODY_MAX + 1 bytes */
    size_t len;
    size_t cap;
    uint64_t bytes_in; /* body bytes received, kept or not */
    bool too_large;
    bool counted;              /* in server_http.in_flight */
    struct auth_pending *auth; /* from the headers' check to the signature's */
    /* Who the request is from, once known. */
    struct ccf_tenant tenant;
    char access_key_id[AUTH_KEY_ID_MAX + 1];
    char principal_job[CCF_JOB_ID_LEN + 1]; /* signed with this job's own key; else "" */
    char source_ip[STORE_AUDIT_IP_MAX];     /* the client's address, for the audit log */
    /* What was answered, for the log line. */
    int status; /* 0: no response was sent */
    size_t bytes_out;
    const char *operation;
    const char *reason;
    char connector_id[CCF_CONNECTOR_ID_LEN + 1];
    char job_id[CCF_JOB_ID_LEN + 1];
    /* A write handed to the writer pool, while its connection is suspended. */
    struct MHD_Connection *conn;
    struct api_request areq;
    struct api_response *resp; /* set by the writer before it resumes conn */
    bool shed;                 /* not run: ccfd stopped before a writer took it */
    struct http_req *wnext;
    /* A parked long poll (areq holds the request to run again). */
    int64_t poll_deadline_us; /* monotonic; when it answers whatever it has */
    uint64_t poll_gen;        /* the events generation it last read at */
    bool poll_ready;          /* resumed by longpoll.c: run areq again */
    struct http_req *pnext;
    /* The connection's, not the request's: req_end keeps them. */
    struct server_tls *tls;           /* NULL: plain HTTP */
    struct server_tls_cert *tls_cert; /* what its handshake was given, or NULL */
};

/* http_conn.c: MHD's callbacks around on_access (http.c), cls being the
 * struct server_http. on_connection makes a connection's struct http_req
 * when it opens and frees it when it closes; on_uri starts a request on it
 * (returned as on_access's req_cls), on_completed ends it (the log line,
 * the metrics; see req_end); on_tls_cert presents the certificate;
 * on_unescape leaves the target undecoded; on_mhd_log logs MHD's messages. */
void server__http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code);
void *server__http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
void server__http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                               enum MHD_RequestTerminationCode toe);
int server__http_on_tls_cert(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
                             const gnutls_pk_algorithm_t *algos, int nalgos,
                             gnutls_pcert_st **pcert, unsigned *npcert, gnutls_privkey_t *key);
size_t server__http_on_unescape(void *cls, struct MHD_Connection *conn, char *s);
__attribute__((format(printf, 2, 0))) void server__http_on_mhd_log(void *cls, const char *fmt,
                                                                   va_list ap);

/* writers.c. init and destroy cannot fail; destroy follows stop. */
void server__writers_init(struct server_writers *w, struct api *api);
/* Starts up to n writers (fewer if a thread cannot start: logged). Before
 * MHD starts. */
void server__writers_start(struct server_writers *w, unsigned n);
/* Suspends conn and queues r (with a copy of req) for a writer, which runs
 * api_handle, sets r->resp (or r->shed) and resumes conn. false when the
 * writers are stopped: the caller runs the request itself. */
bool server__writers_submit(struct server_writers *w, struct MHD_Connection *conn,
                            struct http_req *r, const struct api_request *req);
/* Joins the writers: those running a write finish it, what is still queued
 * is shed (r->shed, answered 503 by http.c). */
void server__writers_stop(struct server_writers *w);
void server__writers_destroy(struct server_writers *w);

/* longpoll.c. init cannot fail; start sets the store's event hook and
 * starts the thread (without it, polls answer at once); release resumes
 * every parked poll and refuses new ones (ccfd is stopping); stop also
 * unsets the hook and joins the thread; destroy follows stop. */
void server__longpoll_init(struct server_longpoll *lp, struct store *store);
void server__longpoll_start(struct server_longpoll *lp);
/* The events generation, read before the request reads the store. */
uint64_t server__longpoll_gen(struct server_longpoll *lp);
/* Suspends conn and parks r (r->poll_deadline_us and r->areq set) until an
 * event commits after gen or the deadline. false when it cannot wait (an
 * event came since gen, or stopping): the caller runs it again or answers. */
bool server__longpoll_park(struct server_longpoll *lp, struct MHD_Connection *conn,
                           struct http_req *r, uint64_t gen);
void server__longpoll_release(struct server_longpoll *lp);
void server__longpoll_stop(struct server_longpoll *lp);
void server__longpoll_destroy(struct server_longpoll *lp);

/* audit.c. init cannot fail; start starts the thread (without it, records
 * are written at once, on the caller's thread); stop writes what is queued
 * and joins it; destroy follows stop. */
void server__audit_init(struct server_audit *au, struct store *store);
void server__audit_start(struct server_audit *au);
void server__audit_stop(struct server_audit *au);
void server__audit_destroy(struct server_audit *au);
/* The client's address as text into r->source_ip ("" if unknown). */
void server__audit_peer(struct MHD_Connection *conn, struct http_req *r);
/* Queues the record of r, refused before the api ran with resp (a 403 or
 * a 429), signed (or said to be) by key of tenant t, job's key if job is
 * not "". */
void server__audit_refused(struct server_http *h, struct MHD_Connection *conn, struct http_req *r,
                           const struct api_response *resp, const struct ccf_tenant *t,
                           const char *key, const char *job);

/* http_response.c: queue a response stamped with the transport's headers
 * and note in r what was answered, for the log line. Each takes ownership
 * of resp (freed with the MHD response). MHD_NO when MHD refuses it. */
enum MHD_Result server__http_send(struct server_http *h, struct MHD_Connection *conn,
                                  struct http_req *r, struct api_response *resp);
/* The api's answer is in: frees r's body first, then sends resp. */
enum MHD_Result server__http_answer(struct server_http *h, struct MHD_Connection *conn,
                                    struct http_req *r, struct api_response *resp);
enum MHD_Result server__http_send_error(struct server_http *h, struct MHD_Connection *conn,
                                        struct http_req *r, int status, const char *message);
/* One of the console's answers (console.h); a stays the caller's. */
enum MHD_Result server__http_send_console(struct server_http *h, struct MHD_Connection *conn,
                                          struct http_req *r,
                                          const struct server_console_answer *a);
/* A 403 of auth's, with its errorType. */
enum MHD_Result server__http_send_refusal(struct server_http *h, struct MHD_Connection *conn,
                                          struct http_req *r, const struct auth_error *err);

#endif
