/* replay.c - the standalone replay driver of the fuzz harnesses (see fuzz.h), built with the normal
 * compiler and run by `make check` as build/tests/test_fuzz_replay.
 *
 *   test_fuzz_replay                 every file of tests/fuzz/corpus/NAME/ through fuzz_NAME, for
 *                                    every harness (FUZZ_CORPUS overrides the corpus root)
 *   test_fuzz_replay NAME FILE...    the given files through fuzz_NAME (to reproduce a crash that
 *                                    `make fuzz` wrote to build-fuzz/artifacts/)
 * One counted check per file: the harness returned 0 (a crash ends the program, and tests/run.sh
 * counts that as a failure).  The harness list comes from the Makefile (fuzz_targets.inc). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define FUZZ(name) int fuzz_##name(const uint8_t *data, size_t n);
#include "fuzz_targets.inc"
#undef FUZZ

typedef struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} target;

static const target targets[] = {
#define FUZZ(name) {#name, fuzz_##name},
#include "fuzz_targets.inc"
#undef FUZZ
};
enum { N_TARGETS = sizeof targets / sizeof targets[0] };

static int pass, fail;

static void replay_file(const target *t, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FAIL %s: cannot open %s\n", t->name, path);
        fail++;
        return;
    }
    size_t cap = 1 << 16, n = 0, k;
    uint8_t *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (!buf) {
        printf("FAIL %s: out of memory reading %s\n", t->name, path);
        fail++;
        return;
    }
    int rc = t->fn(buf, n);
    free(buf);
    if (rc == 0)
        pass++;
    else {
        printf("FAIL %s: %s broke a promise of the reader\n", t->name, path);
        fail++;
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_corpus(const target *t, const char *root)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, t->name);
    DIR *d = opendir(dir);
    if (!d) {
        printf("FAIL %s: no seed corpus %s\n", t->name, dir);
        fail++;
        return;
    }
    char **names = NULL;
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char **p = realloc(names, (nn + 1) * sizeof *names);
        if (!p) break;
        names = p;
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, by_name); /* same order on every machine */
    for (size_t i = 0; i < nn; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) replay_file(t, path);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc >= 2) {
        for (int i = 0; i < N_TARGETS; i++)
            if (!strcmp(targets[i].name, argv[1])) {
                for (int k = 2; k < argc; k++)
                    replay_file(&targets[i], argv[k]);
                printf("test_fuzz_replay: %d passed, %d failed\n", pass, fail);
                return fail != 0;
            }
        fprintf(stderr, "test_fuzz_replay: no harness '%s'\n", argv[1]);
        return 2;
    }
    const char *root = getenv("FUZZ_CORPUS");
    if (!root || !*root) root = "tests/fuzz/corpus";
    for (int i = 0; i < N_TARGETS; i++)
        replay_corpus(&targets[i], root);
    printf("test_fuzz_replay: %d passed, %d failed\n", pass, fail);
    return fail != 0;
}
