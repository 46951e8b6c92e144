/* replay.c: a main for a fuzz target built without libFuzzer. It runs the
 * target's LLVMFuzzerInitialize, then LLVMFuzzerTestOneInput on every
 * regular file of the directories it is given, one input at a time, so that
 * `make test` builds every target and replays its committed seeds and
 * regression inputs (under ASan and UBSan in `make asan`): a target that no
 * longer compiles, or an input once fixed that crashes again, fails the
 * tests and not only `make fuzz`. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

/* Weak: a target without set-up need not define it (libFuzzer's rule). */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define INPUT_MAX (4u << 20) /* libFuzzer's default -max_len is far below this */

/* The whole file at path in *out (the caller frees it); -1 if unreadable. */
static long slurp(const char *path, unsigned char **out)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t n;

    if (!f)
        return -1;
    buf = malloc(INPUT_MAX);
    if (!buf) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, INPUT_MAX, f);
    fclose(f);
    *out = buf;
    return (long)n;
}

static int replay_dir(const char *dir, long *count)
{
    char path[4096];
    struct dirent *e;
    struct stat st;
    DIR *d = opendir(dir);

    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        unsigned char *buf = NULL;
        long n;
        int k = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);

        if (k < 0 || (size_t)k >= sizeof(path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if ((n = slurp(path, &buf)) < 0) {
            fprintf(stderr, "replay: cannot read %s\n", path);
            closedir(d);
            return 1;
        }
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
        (*count)++;
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    long count = 0;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (replay_dir(argv[i], &count) != 0)
            return 1;
    }
    printf("replay: %s: %ld inputs, no crash\n", argv[0], count);
    return 0;
}
