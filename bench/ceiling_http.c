/* ceiling_http.c: the HTTP ceiling for `make bench`: a bare libmicrohttpd
 * server with ccfd's threading model (poll, a pool of one thread per
 * online CPU) answering every request with a fixed ~200-byte JSON body.
 * Usage: ceiling_http PORT */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] =
    "{\"connector\":{\"connector_id\":\"cc-0123456789ab\",\"arn\":\"arn:aws:ccf:us-east-1:"
    "123456789012:custom-connector/cc-0123456789ab\",\"name\":\"bench\",\"status\":\"AVAILABLE\","
    "\"created_at\":\"2026-11-25T00:00:00.000000Z\"}}";

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **req)
{
    struct MHD_Response *r = cls;

    (void)url, (void)method, (void)version, (void)data;
    if (*req == NULL) {
        *req = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        *size = 0; /* discard uploads */
        return MHD_YES;
    }
    return MHD_queue_response(c, MHD_HTTP_OK, r);
}

int main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct MHD_Response *r;
    struct MHD_Daemon *d;
    sigset_t set;
    int sig;

    if (argc != 2)
        return 2;
    r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    d = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, (uint16_t)atoi(argv[1]), NULL, NULL, answer,
                         r, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cpus > 0 ? cpus : 1),
                         MHD_OPTION_CONNECTION_LIMIT, 1024, MHD_OPTION_END);
    if (!d)
        return 1;
    printf("ready\n");
    fflush(stdout);
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(r);
    return 0;
}
