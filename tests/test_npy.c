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

/* A version 1.0 .npy file with the header dictionary's shape given as text, followed by `payload`. */
static void put_npy(const char *name, const char *descr, const char *shape, const void *payload, size_t n)
{
    char h[256];
    int hl = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    int pad = (64 - (10 + hl + 1) % 64) % 64;
    unsigned char buf[1024];
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((hl + pad + 1) & 0xff);
    buf[9] = (unsigned char)((hl + pad + 1) >> 8);
    memcpy(buf + 10, h, (size_t)hl);
    memset(buf + 10 + hl, ' ', (size_t)pad);
    buf[10 + hl + pad] = '\n';
    size_t at = 10 + (size_t)hl + (size_t)pad + 1;
    if (n) memcpy(buf + at, payload, n);
    put(name, buf, at + n);
}

/* npy_read refuses NAME (usage error, the message names the file and contains `why`). */
static void refused(const char *name, const char *why)
{
    char p[256];
    npy_array r;
    util_path(p, sizeof p, dir, name);
    util_clearerr();
    CHECK_INT(npy_read(p, &r), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), name) != NULL && strstr(util_errmsg(), why) != NULL);
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

    /* shapes: every dimension a non-negative integer, the product checked for overflow against the
     * payload (a wrapped product once let an empty payload pass and the reader index past it) */
    double three[3] = {1, 2, 3};
    put_npy("wrap.npy", "<f8", "(256, 268435456, 268435456)", NULL, 0); /* 2^72 elements -> 0 */
    refused("wrap.npy", "too large");
    put_npy("wrap2.npy", "<f8", "(4294967296, 4294967296)", NULL, 0); /* 2^64 -> 0 */
    refused("wrap2.npy", "too large");
    put_npy("neg.npy", "<f8", "(-1, 3)", three, sizeof three);
    refused("neg.npy", "non-negative");
    put_npy("neg2.npy", "<f8", "(-1, -1)", three, 8); /* (2^64-1)^2 wraps to 1 */
    refused("neg2.npy", "non-negative");
    put_npy("plus.npy", "<f8", "(+3,)", three, sizeof three);
    refused("plus.npy", "non-negative");
    put_npy("ok3.npy", "<f8", "(3,)", three, sizeof three);
    util_path(p, sizeof p, dir, "ok3.npy");
    CHECK_INT(npy_read(p, &r), CS_OK);
    CHECK(r.ndim == 1 && r.size == 3);
    npy_free(&r);

    /* matrices: zero rows or columns and non-finite entries are usage errors naming the option and
     * the file */
    int rows, cols;
    double *m;
    put_npy("zero.npy", "<f8", "(0, 5)", NULL, 0);
    util_path(p, sizeof p, dir, "zero.npy");
    CHECK_INT(npy_load_matrix(p, "--target", &rows, &cols, &m), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "--target") && strstr(util_errmsg(), "zero.npy") &&
          strstr(util_errmsg(), "0 x 5"));
    put_npy("zc.npy", "<f8", "(4, 0)", NULL, 0);
    util_path(p, sizeof p, dir, "zc.npy");
    CHECK_INT(npy_load_matrix(p, "--sigma-yx", &rows, &cols, &m), CS_EUSAGE);
    double nanm[4] = {1, NAN, 2, 3}, infm[4] = {1, 2, -INFINITY, 3};
    put_npy("nan.npy", "<f8", "(2, 2)", nanm, sizeof nanm);
    util_path(p, sizeof p, dir, "nan.npy");
    CHECK_INT(npy_load_matrix(p, "--sigma-xx", &rows, &cols, &m), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "--sigma-xx") && strstr(util_errmsg(), "nan.npy") &&
          strstr(util_errmsg(), "(0, 1)"));
    put_npy("inf.npy", "<f8", "(2, 2)", infm, sizeof infm);
    util_path(p, sizeof p, dir, "inf.npy");
    CHECK_INT(npy_load_matrix(p, "--target", &rows, &cols, &m), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "inf.npy") && strstr(util_errmsg(), "finite"));

    /* text matrices: comments and blank lines ignored, ragged rows refused */
    const char *txt = "# a comment\n1 2 3\n\n4 5 6e-1\n";
    put("m.txt", txt, strlen(txt));
    util_path(p, sizeof p, dir, "m.txt");
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
