/* test_log.c: the logger's buffered mode (ccfd's default): lines keep their
 * order, a warn or error line goes out at once with everything before it,
 * the flush thread writes info lines within its interval, stop writes the
 * rest, and lines of many threads never interleave. stderr is redirected
 * to a file for each test. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"

struct fx {
    char path[64];
    int saved; /* the real stderr */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    int fd;

    snprintf(f->path, sizeof(f->path), "/tmp/ccf-test-log-XXXXXX");
    if ((fd = mkstemp(f->path)) < 0)
        return -1;
    f->saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    ccf_log_setup(CCF_LOG_DEBUG, CCF_LOG_LOGFMT);
    *state = f;
    return 0;
}

static char *contents(const struct fx *f);

static int teardown(void **state)
{
    struct fx *f = *state;
    char *text, *line, *save = NULL;

    ccf_log_buffer_stop();
    dup2(f->saved, STDERR_FILENO);
    close(f->saved);
    /* cmocka reports a failure on stderr, which went to the file: pass on
     * every line that is not a log line. */
    text = contents(f);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "ts=", 3) != 0)
            fprintf(stderr, "%s\n", line);
    }
    free(text);
    unlink(f->path);
    free(f);
    return 0;
}

/* The file's contents (caller frees). */
static char *contents(const struct fx *f)
{
    FILE *in = fopen(f->path, "r");
    char *buf = calloc(1, 1 << 22);
    size_t n;

    assert_non_null(in);
    n = fread(buf, 1, (1 << 22) - 1, in);
    buf[n] = '\0';
    fclose(in);
    return buf;
}

static void test_warn_flushes_what_came_before_in_order(void **state)
{
    struct fx *f = *state;
    char *text;
    const char *a, *b, *w;

    assert_int_equal(ccf_log_buffer_start(60000), 0); /* the timer never fires here */
    CCF_LOG_INFO("t.first", CCF_KV_INT("n", 1));
    CCF_LOG_INFO("t.second", CCF_KV_INT("n", 2));
    CCF_LOG_WARN("t.warned", CCF_KV_INT("n", 3));
    text = contents(f); /* no wait: the warn line wrote everything */
    a = strstr(text, "event=t.first");
    b = strstr(text, "event=t.second");
    w = strstr(text, "event=t.warned");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(w);
    assert_true(a < b && b < w);
    free(text);
}

static void test_stop_writes_the_rest(void **state)
{
    struct fx *f = *state;
    char *text;

    assert_int_equal(ccf_log_buffer_start(60000), 0);
    CCF_LOG_INFO("t.buffered", CCF_KV_INT("n", 1));
    ccf_log_buffer_stop();
    text = contents(f);
    assert_non_null(strstr(text, "event=t.buffered"));
    free(text);
    CCF_LOG_INFO("t.after_stop", CCF_KV_INT("n", 2)); /* straight out again */
    text = contents(f);
    assert_non_null(strstr(text, "event=t.after_stop"));
    free(text);
}

static void test_flush_thread_writes_within_its_interval(void **state)
{
    struct fx *f = *state;
    struct timespec ms10 = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    char *text = NULL;

    assert_int_equal(ccf_log_buffer_start(20), 0);
    CCF_LOG_INFO("t.timed", CCF_KV_INT("n", 1));
    for (int i = 0; i < 500; i++) { /* 5 s: far more than 20 ms */
        free(text);
        text = contents(f);
        if (strstr(text, "event=t.timed"))
            break;
        nanosleep(&ms10, NULL);
    }
    assert_non_null(strstr(text, "event=t.timed"));
    free(text);
}

#define THREADS 4
#define LINES   5000

static void *logger(void *arg)
{
    long t = (long)arg;

    for (int i = 0; i < LINES; i++)
        CCF_LOG_INFO("t.many", CCF_KV_INT("thread", t), CCF_KV_INT("i", i),
                     CCF_KV_STR("pad", "0123456789012345678901234567890123456789"));
    return NULL;
}

static void test_lines_of_many_threads_stay_whole(void **state)
{
    struct fx *f = *state;
    pthread_t th[THREADS];
    int next[THREADS] = {0};
    char *text, *line, *save = NULL;
    int lines = 0;

    assert_int_equal(ccf_log_buffer_start(5), 0);
    for (long t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, logger, (void *)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    ccf_log_buffer_stop();
    text = contents(f);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int t, i;

        /* Every line whole, and each thread's lines in its own order. */
        assert_int_equal(sscanf(strstr(line, "thread="), "thread=%d i=%d", &t, &i), 2);
        assert_non_null(strstr(line, "pad=0123456789012345678901234567890123456789"));
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(i, next[t]);
        next[t]++;
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_warn_flushes_what_came_before_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_writes_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_thread_writes_within_its_interval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lines_of_many_threads_stay_whole, setup, teardown),
    };

    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
