/* common.c - scratch files for the fuzz harnesses (see fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "util.h"

volatile double fuzz_sink;

static char fuzz_dir_buf[64];
static char fuzz_path_buf[256];

static void fuzz_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_buf);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_buf);
}

const char *fuzz_dir(void)
{
    if (!fuzz_dir_buf[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir_buf, sizeof fuzz_dir_buf, "%s/critsim-fuzz-XXXXXX",
                 t && *t && strlen(t) < 30 ? t : "/tmp");
        if (!mkdtemp(fuzz_dir_buf)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_buf;
}

const char *fuzz_file(const char *name, const uint8_t *data, size_t n)
{
    snprintf(fuzz_path_buf, sizeof fuzz_path_buf, "%s/%s", fuzz_dir(), name);
    char *slash = strrchr(fuzz_path_buf, '/');
    if (slash > fuzz_path_buf + strlen(fuzz_dir_buf)) { /* sub-folders */
        *slash = '\0';
        util_mkdir_p(fuzz_path_buf);
        *slash = '/';
    }
    FILE *f = fopen(fuzz_path_buf, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror("fuzz: cannot write the scratch file");
        abort();
    }
    return fuzz_path_buf;
}
