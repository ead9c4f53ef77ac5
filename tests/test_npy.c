/* test_npy.c - .npy round trips, validation of corrupted files, text matrices (npy.h). */
#include <unistd.h>

#include "check.h"
#include "npy.h"
#include "util.h"

static char dir[] = "/tmp/critsim-test-npy-XXXXXX";

static void put(const char *name, const void *buf, size_t n)
{
    char p[256];
    util_path(p, sizeof p, dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
}

static size_t slurp(const char *name, unsigned char *buf, size_t cap)
{
    char p[256];
    util_path(p, sizeof p, dir, name);
    FILE *f = fopen(p, "rb");
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    double a[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        a[i] = i * 0.1 - 1.0 / 3.0;
    size_t shape[3] = {2, 3, 4};
    util_path(p, sizeof p, dir, "a.npy");
    CHECK_INT(npy_write_f64(p, 3, shape, a), CS_OK);
    npy_array r;
    CHECK_INT(npy_read(p, &r), CS_OK);
    CHECK_INT(r.ndim, 3);
    CHECK(r.shape[0] == 2 && r.shape[1] == 3 && r.shape[2] == 4 && r.size == 24);
    CHECK_ARRAY_CLOSE(r.data, a, 24, 0, 0); /* float64 round trip is exact */
    npy_free(&r);
    /* the header is 64-byte aligned and ends with a newline (format 1.0) */
    unsigned char buf[4096];
    size_t n = slurp("a.npy", buf, sizeof buf);
    CHECK(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hl = buf[8] | (size_t)buf[9] << 8;
    CHECK((10 + hl) % 64 == 0 && buf[10 + hl - 1] == '\n');
    CHECK_INT(n, 10 + hl + 24 * 8);

    /* float32 written, read back as double: exact for values representable in float */
    float fa[6] = {1, -2, 0.5f, 0.25f, 3, 1e-3f};
    size_t s2[2] = {2, 3};
    util_path(p, sizeof p, dir, "f.npy");
    CHECK_INT(npy_write(p, "<f4", 2, s2, fa), CS_OK);
    CHECK_INT(npy_read(p, &r), CS_OK);
    CHECK_CLOSE(r.data[5], (double)1e-3f, 0, 0);
    CHECK_CLOSE(r.data[1], -2.0, 0, 0);
    npy_free(&r);

    /* truncated payload */
    put("trunc.npy", buf, n - 8);
    util_path(p, sizeof p, dir, "trunc.npy");
    util_clearerr();
    CHECK_INT(npy_read(p, &r), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "trunc.npy") != NULL);
    /* trailing garbage */
    unsigned char big[4200];
    memcpy(big, buf, n);
    memset(big + n, 0, 16);
    put("long.npy", big, n + 16);
    util_path(p, sizeof p, dir, "long.npy");
    CHECK_INT(npy_read(p, &r), CS_EUSAGE);
    /* bad magic */
    unsigned char bm[4096];
    memcpy(bm, buf, n);
    bm[1] = 'X';
    put("magic.npy", bm, n);
    util_path(p, sizeof p, dir, "magic.npy");
    CHECK_INT(npy_read(p, &r), CS_EUSAGE);
    /* fortran order is refused (it would silently transpose) */
    memcpy(bm, buf, n);
    char *fo = strstr((char *)bm + 10, "False");
    CHECK(fo != NULL);
    if (fo) memcpy(fo, "True ", 5);
    put("fortran.npy", bm, n);
    util_path(p, sizeof p, dir, "fortran.npy");
    CHECK_INT(npy_read(p, &r), CS_EUSAGE);
    /* missing file */
    util_path(p, sizeof p, dir, "nope.npy");
    CHECK_INT(npy_read(p, &r), CS_EUSAGE);

    /* text matrices: comments and blank lines ignored, ragged rows refused */
    const char *txt = "# a comment\n1 2 3\n\n4 5 6e-1\n";
    put("m.txt", txt, strlen(txt));
    util_path(p, sizeof p, dir, "m.txt");
    int rows, cols;
    double *m;
    CHECK_INT(npy_load_matrix(p, "--target", &rows, &cols, &m), CS_OK);
    CHECK(rows == 2 && cols == 3);
    CHECK_CLOSE(m[5], 0.6, 0, 0);
    free(m);
    const char *rag = "1 2 3\n4 5\n";
    put("rag.txt", rag, strlen(rag));
    util_path(p, sizeof p, dir, "rag.txt");
    util_clearerr();
    CHECK_INT(npy_load_matrix(p, "--target", &rows, &cols, &m), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "--target") != NULL);
    const char *junk = "1 2 x\n";
    put("junk.txt", junk, strlen(junk));
    util_path(p, sizeof p, dir, "junk.txt");
    CHECK_INT(npy_load_matrix(p, "--target", &rows, &cols, &m), CS_EUSAGE);
    CHECK(strchr(util_errmsg(), '\n') == NULL && strstr(util_errmsg(), "'x'") != NULL); /* one line */
    /* .npy through the same entry point */
    util_path(p, sizeof p, dir, "f.npy");
    CHECK_INT(npy_load_matrix(p, "--target", &rows, &cols, &m), CS_OK);
    CHECK(rows == 2 && cols == 3);
    free(m);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_npy");
}
