/* test_data.c - the CNN data layer (data.h): validated loaders (Fashion-MNIST gzip IDX written here
 * with zlib, CIFAR-10 binary records), normalisation, the blur of docs/theory.md#blur, the training pipeline
 * (shuffle determinism, views, augmentation) and every deficit's effect.  Small files in a temp dir;
 * the real Debian Fashion-MNIST files are read (subset) when installed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data.h"
#include "util.h"

static char tmpdir[256];

/* ---- file writers ---- */

static void put32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

static void write_gz(const char *dir, const char *name, const unsigned char *buf, long n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gzFile f = gzopen(path, "wb");
    if (!f) abort();
    if (n > 0 && gzwrite(f, buf, (unsigned)n) != (int)n) abort();
    gzclose(f);
}

static void write_raw(const char *dir, const char *name, const unsigned char *buf, long n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n > 0 && fwrite(buf, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
}

/* Pixel value of synthetic image i at pixel q. */
static unsigned char pix(int i, int q)
{
    return (unsigned char)((i * 37 + q * 11 + (q / 28) * 5) % 256);
}

/* Writes a Fashion-MNIST-style split PREFIX in dir with n images and n labels (label i % 10), with
 * optional damage: magic/dims overrides, label count, payload truncation (bytes dropped), extra bytes. */
typedef struct {
    uint32_t imagic, lmagic, rows, cols, nlab;
    long drop_img, drop_lab, extra_img;
    int bad_label;
} damage;

static void write_fmnist(const char *dir, const char *prefix, int n, const damage *dm)
{
    long ni = 16 + (long)n * 784 + 64, nl = 8 + (long)n + 64;
    unsigned char *bi = calloc((size_t)ni, 1), *bl = calloc((size_t)nl, 1);
    put32(bi, dm && dm->imagic ? dm->imagic : 0x803);
    put32(bi + 4, (uint32_t)n);
    put32(bi + 8, dm && dm->rows ? dm->rows : 28);
    put32(bi + 12, dm && dm->cols ? dm->cols : 28);
    for (int i = 0; i < n; i++)
        for (int q = 0; q < 784; q++)
            bi[16 + (long)i * 784 + q] = pix(i, q);
    put32(bl, dm && dm->lmagic ? dm->lmagic : 0x801);
    put32(bl + 4, dm && dm->nlab ? dm->nlab : (uint32_t)n);
    for (int i = 0; i < n; i++)
        bl[8 + i] = (unsigned char)(i % 10);
    if (dm && dm->bad_label) bl[8 + n - 1] = 10;
    char name[128];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    write_gz(dir, name, bi, 16 + (long)n * 784 - (dm ? dm->drop_img : 0) + (dm ? dm->extra_img : 0));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", prefix);
    write_gz(dir, name, bl, 8 + (long)n - (dm ? dm->drop_lab : 0));
    free(bi);
    free(bl);
}

/* Expect data_load to fail with CS_EUSAGE and a message naming `file`. */
static void expect_bad(const char *dir, const char *file, const char *what, int line)
{
    data_set d;
    util_clearerr();
    int rc = data_load("fashion-mnist", dir, 1, 0, NULL, &d);
    int ok = rc == CS_EUSAGE && strstr(util_errmsg(), file) && strstr(util_errmsg(), what);
    if (!ok)
        printf("FAIL line %d: rc %d message '%s' (want '%s' and '%s')\n", line, rc, util_errmsg(), file,
               what);
    CHECK(ok);
    if (rc == CS_OK) data_free(&d);
}

static void test_fmnist_files(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/fm", tmpdir);
    util_mkdir_p(dir);
    int n = 20;
    write_fmnist(dir, "train", n, NULL);
    write_fmnist(dir, "t10k", 7, NULL);
    data_set tr, te, sub;
    CHECK_INT(data_load("fashion-mnist", dir, 1, 0, NULL, &tr), CS_OK);
    CHECK_INT(tr.n, n);
    CHECK(tr.c == 1 && tr.h == 28 && tr.w == 28 && tr.n_class == 10);
    CHECK_INT(tr.y[13], 3);
    /* exact statistics of the written bytes */
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++)
        for (int q = 0; q < 784; q++)
            s += pix(i, q) / 255.0;
    double m = s / (n * 784.0);
    for (int i = 0; i < n; i++)
        for (int q = 0; q < 784; q++)
            ss += (pix(i, q) / 255.0 - m) * (pix(i, q) / 255.0 - m);
    double sd = sqrt(ss / (n * 784.0));
    CHECK_CLOSE(tr.mean[0], m, 1e-6, 0); /* stored as float: 1e-6 relative */
    CHECK_CLOSE(tr.std[0], sd, 1e-6, 0);
    CHECK_CLOSE(tr.x[5 * 784 + 100], (pix(5, 100) / 255.0 - m) / sd, 1e-5, 1e-6); /* float rounding */
    double xm = 0;
    for (long k = 0; k < (long)n * 784; k++)
        xm += tr.x[k];
    CHECK_CLOSE(xm / (n * 784.0), 0, 0, 1e-5); /* normalised mean 0 up to float rounding */
    /* subset: first images, statistics of the whole split */
    CHECK_INT(data_load("fashion-mnist", dir, 1, 5, NULL, &sub), CS_OK);
    CHECK_INT(sub.n, 5);
    CHECK(sub.mean[0] == tr.mean[0] && sub.std[0] == tr.std[0]);
    CHECK(memcmp(sub.x, tr.x, 5 * 784 * sizeof(float)) == 0);
    data_free(&sub);
    /* test split normalised with the training statistics */
    CHECK_INT(data_load("fashion-mnist", dir, 0, 0, &tr, &te), CS_OK);
    CHECK_INT(te.n, 7);
    CHECK(te.mean[0] == tr.mean[0] && te.std[0] == tr.std[0]);
    CHECK(memcmp(te.x, tr.x, 7 * 784 * sizeof(float)) == 0); /* same generator -> same first images */
    data_free(&te);
    data_free(&tr);
    data_free(NULL);

    /* damaged files: one clear usage error naming the file */
    damage dm;
    memset(&dm, 0, sizeof dm);
    dm.imagic = 0x804;
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-images-idx3-ubyte.gz", "magic", __LINE__);
    memset(&dm, 0, sizeof dm);
    dm.lmagic = 0x803;
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-labels-idx1-ubyte.gz", "magic", __LINE__);
    memset(&dm, 0, sizeof dm);
    dm.rows = 32;
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-images-idx3-ubyte.gz", "dimensions", __LINE__);
    memset(&dm, 0, sizeof dm);
    dm.bad_label = 1;
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-labels-idx1-ubyte.gz", "out of range", __LINE__);
    memset(&dm, 0, sizeof dm);
    dm.drop_img = 100;
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-images-idx3-ubyte.gz", "truncated", __LINE__);
    memset(&dm, 0, sizeof dm);
    dm.drop_lab = 1;
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-labels-idx1-ubyte.gz", "truncated", __LINE__);
    memset(&dm, 0, sizeof dm);
    dm.drop_img = 16 + (long)n * 784 - 10; /* only 10 bytes: no full header */
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-images-idx3-ubyte.gz", "header", __LINE__);
    memset(&dm, 0, sizeof dm);
    dm.extra_img = 3;
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-images-idx3-ubyte.gz", "trailing", __LINE__);
    memset(&dm, 0, sizeof dm);
    dm.nlab = (uint32_t)n - 1; /* mismatched counts */
    write_fmnist(dir, "train", n, &dm);
    expect_bad(dir, "train-labels-idx1-ubyte.gz", "do not belong", __LINE__);
    /* corrupted gzip stream: a valid file with its compressed body overwritten */
    write_fmnist(dir, "train", n, NULL);
    {
        char path[512];
        snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
        FILE *f = fopen(path, "r+b");
        fseek(f, 30, SEEK_SET);
        for (int k = 0; k < 200; k++)
            fputc(0xff ^ k, f);
        fclose(f);
    }
    expect_bad(dir, "train-images-idx3-ubyte.gz", "corrupted", __LINE__);
    /* gzip stream cut inside its 8-byte trailer: all pixels decompress, zlib reports the early end */
    write_fmnist(dir, "train", n, NULL);
    {
        char path[512];
        snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
        FILE *f = fopen(path, "rb");
        static unsigned char buf[1 << 16];
        long len = (long)fread(buf, 1, sizeof buf, f);
        fclose(f);
        write_raw(dir, "train-images-idx3-ubyte.gz", buf, len - 3);
    }
    expect_bad(dir, "train-images-idx3-ubyte.gz", "truncated", __LINE__);
    /* missing file, with the installation hint */
    char empty[300];
    snprintf(empty, sizeof empty, "%s/none", tmpdir);
    util_mkdir_p(empty);
    expect_bad(empty, "train-images-idx3-ubyte.gz", "dataset-fashion-mnist", __LINE__);
    /* uncompressed IDX files are read too */
    {
        unsigned char b[16 + 784 * 2], l[10];
        put32(b, 0x803);
        put32(b + 4, 2);
        put32(b + 8, 28);
        put32(b + 12, 28);
        for (int q = 0; q < 784 * 2; q++)
            b[16 + q] = (unsigned char)q;
        put32(l, 0x801);
        put32(l + 4, 2);
        l[8] = 4;
        l[9] = 9;
        char raw[300];
        snprintf(raw, sizeof raw, "%s/raw", tmpdir);
        util_mkdir_p(raw);
        write_raw(raw, "train-images-idx3-ubyte", b, sizeof b);
        write_raw(raw, "train-labels-idx1-ubyte", l, sizeof l);
        data_set d;
        CHECK_INT(data_load("fashion-mnist", raw, 1, 0, NULL, &d), CS_OK);
        CHECK(d.n == 2 && d.y[0] == 4 && d.y[1] == 9);
        data_free(&d);
    }
    data_set d;
    CHECK_INT(data_load("mnist-digits", dir, 1, 0, NULL, &d), CS_EUSAGE);
}

static void test_cifar(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/cifar", tmpdir);
    util_mkdir_p(dir);
    unsigned char rec[3 * 3073];
    for (int b = 1; b <= 6; b++) {
        int nrec = b == 6 ? 3 : 2;
        for (int r = 0; r < nrec; r++) {
            rec[r * 3073] = (unsigned char)((b * 2 + r) % 10);
            for (int q = 0; q < 3072; q++)
                rec[r * 3073 + 1 + q] = (unsigned char)((q / 1024) * 80 + (q % 7) + b);
        }
        char name[64];
        if (b == 6)
            snprintf(name, sizeof name, "test_batch.bin");
        else
            snprintf(name, sizeof name, "data_batch_%d.bin", b);
        write_raw(dir, name, rec, nrec * 3073);
    }
    data_set tr, te;
    CHECK_INT(data_load("cifar10", dir, 1, 0, NULL, &tr), CS_OK);
    CHECK(tr.n == 10 && tr.c == 3 && tr.h == 32 && tr.w == 32);
    CHECK_INT(tr.y[3], 5); /* batch 2, record 1: (2*2+1) % 10 */
    /* channel means: pixel q of the 3072 = (q/1024)*80 + (q%7) + b, b = batch (mean 3) */
    for (int ch = 0; ch < 3; ch++) {
        double mq = 0;
        for (int q = ch * 1024; q < (ch + 1) * 1024; q++)
            mq += q % 7;
        mq /= 1024;
        CHECK_CLOSE(tr.mean[ch], (ch * 80 + mq + 3.0) / 255.0, 1e-6, 0); /* float storage */
    }
    /* record layout: R plane first; image 4 = batch 3 record 0, pixel (G, row 1, col 2) */
    int q = 1024 + 32 + 2;
    CHECK_CLOSE(tr.x[4L * 3072 + q], ((80 + q % 7 + 3) / 255.0 - tr.mean[1]) / tr.std[1], 1e-5, 1e-6);
    CHECK_INT(data_load("cifar10", dir, 0, 2, &tr, &te), CS_OK);
    CHECK(te.n == 2 && te.y[1] == 3 && te.mean[2] == tr.mean[2]);
    data_free(&te);
    data_free(&tr);
    /* truncated record, bad label, missing batch, no directory */
    write_raw(dir, "data_batch_3.bin", rec, 2 * 3073 - 5);
    util_clearerr();
    CHECK_INT(data_load("cifar10", dir, 1, 0, NULL, &tr), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "data_batch_3.bin") && strstr(util_errmsg(), "truncated"));
    rec[3073] = 10;
    write_raw(dir, "data_batch_3.bin", rec, 2 * 3073);
    CHECK_INT(data_load("cifar10", dir, 1, 0, NULL, &tr), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "data_batch_3.bin") && strstr(util_errmsg(), "out of range"));
    char path[400];
    snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
    remove(path);
    CHECK_INT(data_load("cifar10", dir, 1, 0, NULL, &tr), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "data_batch_3.bin") != NULL);
    CHECK_INT(data_load("cifar10", NULL, 1, 0, NULL, &tr), CS_EUSAGE);
}

/* ---- blur ---- */

static void test_blur(void)
{
    float img[3 * 32 * 32], tmp[3 * 8 * 8 + 3 * 32 * 8];
    /* constant image: identity (weights sum to 1); 1e-6: float accumulation of ~16 terms */
    for (int k = 0; k < 3 * 32 * 32; k++)
        img[k] = k < 1024 ? 0.7f : (k < 2048 ? -1.25f : 3.0f);
    data_blur(img, 3, 32, 32, 8, tmp);
    double err = 0;
    for (int k = 0; k < 3 * 32 * 32; k++) {
        double want = k < 1024 ? 0.7 : (k < 2048 ? -1.25 : 3.0);
        err = fmax(err, fabs(img[k] - want));
    }
    CHECK_CLOSE(err, 0, 0, 1e-6);
    /* hand-computed 4x4 -> 2x2 -> 4x4 of rows [0 1 2 3]: down weights (3,3,1)/7 and (1,3,3)/7,
     * up: u0, 3/4 u0 + 1/4 u1, 1/4 u0 + 3/4 u1, u1 with u0 = 5/7, u1 = 16/7 (also what torch gives) */
    float r4[16], t4[4 + 8];
    for (int k = 0; k < 16; k++)
        r4[k] = (float)(k % 4);
    data_blur(r4, 1, 4, 4, 2, t4);
    double u0 = 5.0 / 7, u1 = 16.0 / 7, want4[4] = {u0, 0.75 * u0 + 0.25 * u1, 0.25 * u0 + 0.75 * u1, u1};
    for (int k = 0; k < 16; k++)
        CHECK_CLOSE(r4[k], want4[k % 4], 1e-6, 1e-7); /* float rounding */
    /* transposed: columns constant, rows vary -> same values along y */
    for (int k = 0; k < 16; k++)
        r4[k] = (float)(k / 4);
    data_blur(r4, 1, 4, 4, 2, t4);
    CHECK_CLOSE(r4[2 * 4 + 1], want4[2], 1e-6, 1e-7);
    /* 6 -> 3 -> 6 of a single pixel at (2, 2).  Down (scale 2, half-width 2): output 0 (centre 1)
     * reads inputs 0..2 with weights (3,3,1)/7, output 1 (centre 3) inputs 1..4 with (1,3,3,1)/8,
     * output 2 (centre 5) inputs 3..5: input 2 has per-axis weights 1/7, 3/8, 0.  Up (bilinear):
     * output 0 = d0 (edge clamp), output 2 = d0/4 + 3 d1/4, output 3 = 3 d1/4 + d2/4. */
    float p6[36], t6[9 + 18];
    memset(p6, 0, sizeof p6);
    p6[2 * 6 + 2] = 1;
    data_blur(p6, 1, 6, 6, 3, t6);
    double a0 = 1.0 / 7, a1 = 3.0 / 8, a2 = 0; /* per-axis weights of input pixel 2 in outputs 0, 1, 2 */
    double wa = 0.25 * a0 + 0.75 * a1;         /* output 2 reads d0, d1 with weights 1/4, 3/4 */
    double wb = 0.75 * a1 + 0.25 * a2;         /* output 3 reads d1, d2 with weights 3/4, 1/4 */
    CHECK_CLOSE(p6[2 * 6 + 2], wa * wa, 1e-6, 1e-8);
    CHECK_CLOSE(p6[3 * 6 + 2], wb * wa, 1e-6, 1e-8);
    CHECK_CLOSE(p6[0], a0 * a0, 1e-6, 1e-8); /* output 0 reads d0 only (edge clamp) */
    /* pixel checkerboard 32 -> 8: mapped to (almost) its mean 0.5 (high frequency removed) */
    for (int k = 0; k < 1024; k++)
        img[k] = (float)(((k / 32) + (k % 32)) % 2);
    data_blur(img, 1, 32, 32, 8, tmp);
    err = 0;
    for (int k = 0; k < 1024; k++)
        err = fmax(err, fabs(img[k] - 0.5));
    CHECK_CLOSE(err, 0, 0, 0.02); /* antialiased: |dev| <= 1/ (2 * 16) at the borders, tiny inside */
    /* a horizontal ramp stays a ramp away from the borders (bilinear reproduces linear functions) */
    for (int k = 0; k < 1024; k++)
        img[k] = (float)(k % 32);
    data_blur(img, 1, 32, 32, 8, tmp);
    CHECK_CLOSE(img[10 * 32 + 16] - img[10 * 32 + 12], 4.0, 1e-5, 0);
    CHECK_CLOSE(img[10 * 32 + 14], 14.0, 1e-5, 0);
    /* k = size: identity */
    for (int k = 0; k < 1024; k++)
        img[k] = (float)((k * 7919) % 13);
    float keep[1024];
    memcpy(keep, img, sizeof keep);
    float tbig[32 * 32 + 32 * 32];
    data_blur(img, 1, 32, 32, 32, tbig);
    CHECK(memcmp(keep, img, sizeof keep) == 0);
}

/* Frozen torch reference (tests/data/blur_ref.txt, generated by tests/data/blur_ref.py). */
static void test_blur_ref(void)
{
    FILE *f = fopen("tests/data/blur_ref.txt", "r");
    if (!f) {
        printf("FAIL tests/data/blur_ref.txt missing (run from the repository root)\n");
        CHECK(0);
        return;
    }
    int cases = 0;
    int c, h, w, k;
    while (fscanf(f, "%d %d %d %d", &c, &h, &w, &k) == 4) {
        int sz = c * h * w;
        float *in = malloc(sizeof(float) * sz), *tmp = malloc(sizeof(float) * (c * k * k + c * h * k));
        double *want = malloc(sizeof(double) * sz);
        for (int q = 0; q < sz; q++)
            if (fscanf(f, "%f", &in[q]) != 1) abort();
        for (int q = 0; q < sz; q++)
            if (fscanf(f, "%lf", &want[q]) != 1) abort();
        data_blur(in, c, h, w, k, tmp);
        double werr = 0;
        for (int q = 0; q < sz; q++)
            werr = fmax(werr, fabs(in[q] - want[q]));
        /* torch computes in float32 as we round to float: agree to a few float ulps of O(1) values */
        CHECK_CLOSE(werr, 0, 0, 2e-6);
        free(in);
        free(tmp);
        free(want);
        cases++;
    }
    fclose(f);
    CHECK(cases >= 3);
}

/* ---- pipeline ---- */

/* In-memory data set: n images c x h x w, pixel 0 = id + 1 (ids are read back from it), a ramp plus
 * a non-smooth pattern elsewhere (so that blurring changes it), labels i % 10. */
static void fake_set(data_set *d, int n, int c, int h, int w)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->n_class = 10;
    d->x = malloc(sizeof(float) * n * c * h * w);
    d->y = malloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) {
        d->y[i] = i % 10;
        for (int q = 0; q < c * h * w; q++)
            d->x[(long)i * c * h * w + q] = (float)(i + 1) + 0.001f * (float)q + 0.05f * (float)((q * 7) % 5);
    }
}

static deficit_list defs_of(const char *a, const char *b)
{
    deficit_list l;
    memset(&l, 0, sizeof l);
    if (a && deficit_parse(a, &l.d[l.n++])) abort();
    if (b && deficit_parse(b, &l.d[l.n++])) abort();
    return l;
}

/* image id of an output sample: the clean value at (0,0) of channel 0 of source a is id + 1 */
static void test_pipe(void)
{
    data_set d;
    int n = 30, h = 8, w = 8, c = 2;
    fake_set(&d, n, c, h, w);
    data_cfg cfg = {.n_src = 2, .views = DATA_VIEWS_ZERO, .batch = 4, .augment = 0, .shift = 0, .n_noise = 0};
    data_pipe *p = data_pipe_alloc(&d, &cfg, NULL, 42), *p2 = data_pipe_alloc(&d, &cfg, NULL, 42),
              *p3 = data_pipe_alloc(&d, &cfg, NULL, 43);
    int C, H, W;
    data_pipe_shape(p, &C, &H, &W);
    CHECK(C == 4 && H == 8 && W == 8);
    CHECK_INT(data_pipe_epoch(p, 0), 7); /* 30 / 4, last partial batch dropped */
    data_pipe_epoch(p2, 0);
    data_pipe_epoch(p3, 0);
    int sz = C * H * W;
    float *x = malloc(sizeof(float) * 4 * sz), *x2 = malloc(sizeof(float) * 4 * sz);
    int y[4], y2[4], seen[30] = {0};
    int same = 1, diffseed = 0;
    for (int b = 0; b < 7; b++) {
        data_pipe_batch(p, b, x, y);
        data_pipe_batch(p2, b, x2, y2);
        same &= memcmp(x, x2, sizeof(float) * 4 * sz) == 0 && memcmp(y, y2, sizeof y) == 0;
        data_pipe_batch(p3, b, x2, y2);
        diffseed |= memcmp(x, x2, sizeof(float) * 4 * sz) != 0;
        for (int i = 0; i < 4; i++) {
            int id = (int)lroundf(x[i * sz] - 1);
            if (id >= 0 && id < n) seen[id]++;
            CHECK_INT(y[i], id % 10);
        }
    }
    CHECK(same);     /* same seed, same batches */
    CHECK(diffseed); /* another seed shuffles differently */
    int once = 1, tot = 0;
    for (int i = 0; i < n; i++) {
        once &= seen[i] <= 1;
        tot += seen[i];
    }
    CHECK(once && tot == 28); /* a permutation: each image at most once per epoch */
    /* batch order independence and epoch reshuffle: epoch 1 differs, epoch 0 replays */
    data_pipe_batch(p, 3, x, y);
    data_pipe_epoch(p2, 1);
    data_pipe_epoch(p2, 0);
    data_pipe_batch(p2, 3, x2, y2);
    CHECK(memcmp(x, x2, sizeof(float) * 4 * sz) == 0);
    data_pipe_epoch(p2, 1);
    int differ = 0;
    for (int b = 0; b < 7; b++) {
        data_pipe_batch(p, b, x, y);
        data_pipe_batch(p2, b, x2, y2);
        differ |= memcmp(y, y2, sizeof y) != 0 || memcmp(x, x2, sizeof(float) * 4 * sz) != 0;
    }
    CHECK(differ);
    /* ZERO views: source a = left half (channels 0, 1), right half 0; source b = right half */
    data_pipe_batch(p, 0, x, y);
    int id = (int)lroundf(x[0] - 1);
    const float *src = d.x + (long)id * c * h * w;
    int okv = 1;
    for (int s = 0; s < 2; s++)
        for (int ch = 0; ch < c; ch++)
            for (int r = 0; r < h; r++)
                for (int q = 0; q < w; q++) {
                    int in = s == 0 ? q < 4 : q >= 4;
                    float want = in ? src[(ch * h + r) * w + q] : 0.0f;
                    okv &= x[((s * c + ch) * h + r) * w + q] == want;
                }
    CHECK(okv);
    data_pipe_free(p2);
    data_pipe_free(p3);
    /* CROP views: width 4, source b = columns 4..7 */
    cfg.views = DATA_VIEWS_CROP;
    p2 = data_pipe_alloc(&d, &cfg, NULL, 42);
    data_pipe_shape(p2, &C, &H, &W);
    CHECK(C == 4 && H == 8 && W == 4);
    data_pipe_epoch(p2, 0);
    data_pipe_batch(p2, 0, x2, y2);
    CHECK(x2[(2 * 8 + 3) * 4 + 1] ==
          src[(0 * h + 3) * w + 5]); /* source b channel 0, row 3, col 1 <- col 5 */
    CHECK(x2[(1 * 8 + 2) * 4 + 3] == src[(1 * h + 2) * w + 3]); /* source a channel 1, row 2, col 3 */
    /* data_views: clean test views in the same geometry, in order */
    float xv[2 * 4 * 8 * 4];
    int yv[2];
    data_views(p2, &d, 5, 2, xv, yv);
    CHECK(yv[0] == 5 && yv[1] == 6);
    CHECK(xv[4 * 8 * 4 + (2 * 8 + 0) * 4 + 0] ==
          d.x[6L * c * h * w + 4]); /* image 6, source b, ch 0, (0,4) */
    data_pipe_free(p2);
    /* one source: the whole image */
    cfg.n_src = 1;
    p2 = data_pipe_alloc(&d, &cfg, NULL, 1);
    data_pipe_shape(p2, &C, &H, &W);
    CHECK(C == 2 && W == 8);
    data_pipe_free(p2);
    /* bad configurations */
    cfg.n_src = 3;
    CHECK(data_pipe_alloc(&d, &cfg, NULL, 1) == NULL);
    cfg.n_src = 2;
    cfg.batch = 31;
    CHECK(data_pipe_alloc(&d, &cfg, NULL, 1) == NULL && strstr(util_errmsg(), "batch"));
    cfg.batch = 4;
    deficit_list bad = defs_of("gate:b@0-3", NULL);
    CHECK(data_pipe_alloc(&d, &cfg, &bad, 1) == NULL && strstr(util_errmsg(), "not supported"));
    bad = defs_of("blur:c:4@0-3", NULL);
    CHECK(data_pipe_alloc(&d, &cfg, &bad, 1) == NULL && strstr(util_errmsg(), "blur:c:4@0-3"));
    bad = defs_of("blur:9@0-3", NULL);
    CHECK(data_pipe_alloc(&d, &cfg, &bad, 1) == NULL); /* larger than the 8x8 image */
    bad = defs_of("noise:b:0.5@0-3", NULL);
    CHECK(data_pipe_alloc(&d, &cfg, &bad, 1) == NULL && strstr(util_errmsg(), "no arguments"));
    data_pipe_free(p);
    data_pipe_free(NULL);
    free(x);
    free(x2);
    data_free(&d);
}

/* Run one batch of a pipe with deficits `a`, `b` at `epoch` and a clean pipe of the same seed; the
 * sample order is the same (the shuffle does not depend on deficits). */
typedef struct {
    data_pipe *p, *q;
    float *x, *xc;
    int y[4], yc[4], sz;
} pair;

static void pair_run(pair *pr, const data_set *d, data_cfg cfg, const char *a, const char *b, int epoch,
                     int batch)
{
    deficit_list l = defs_of(a, b);
    pr->p = data_pipe_alloc(d, &cfg, &l, 7);
    pr->q = data_pipe_alloc(d, &cfg, NULL, 7);
    CS_ASSERT(pr->p && pr->q);
    int C, H, W;
    data_pipe_shape(pr->p, &C, &H, &W);
    pr->sz = C * H * W;
    pr->x = malloc(sizeof(float) * 4 * pr->sz);
    pr->xc = malloc(sizeof(float) * 4 * pr->sz);
    data_pipe_epoch(pr->p, epoch);
    data_pipe_epoch(pr->q, epoch);
    data_pipe_batch(pr->p, batch, pr->x, pr->y);
    data_pipe_batch(pr->q, batch, pr->xc, pr->yc);
}

static void pair_free(pair *pr)
{
    data_pipe_free(pr->p);
    data_pipe_free(pr->q);
    free(pr->x);
    free(pr->xc);
}

static void test_deficits(void)
{
    data_set d;
    int n = 40, c = 1, h = 16, w = 16;
    fake_set(&d, n, c, h, w);
    data_cfg cfg = {.n_src = 2, .views = DATA_VIEWS_ZERO, .batch = 4, .augment = 0, .shift = 0, .n_noise = 0};
    pair pr;
    /* inactive window: identical to clean */
    pair_run(&pr, &d, cfg, "flip@2-5", "remove:a@5-9", 1, 0);
    CHECK(memcmp(pr.x, pr.xc, sizeof(float) * 4 * pr.sz) == 0 && memcmp(pr.y, pr.yc, sizeof pr.y) == 0);
    pair_free(&pr);
    /* vertical flip: row r <- row h-1-r, in both sources */
    pair_run(&pr, &d, cfg, "flip@2-5", NULL, 4, 1);
    int ok = 1;
    for (int s = 0; s < 2; s++)
        for (int r = 0; r < h; r++)
            for (int q = 0; q < w; q++)
                ok &= pr.x[(s * h + r) * w + q] == pr.xc[(s * h + h - 1 - r) * w + q];
    CHECK(ok);
    CHECK(memcmp(pr.y, pr.yc, sizeof pr.y) == 0);
    pair_free(&pr);
    /* remove:b: source b's channels zero, source a unchanged */
    pair_run(&pr, &d, cfg, "remove:b@0-5", NULL, 0, 2);
    ok = 1;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < h * w; k++) {
            ok &= pr.x[i * pr.sz + k] == pr.xc[i * pr.sz + k];
            ok &= pr.x[i * pr.sz + h * w + k] == 0.0f;
        }
    CHECK(ok);
    pair_free(&pr);
    /* labels: a fixed cyclic permutation (no class keeps its label), images unchanged */
    pair_run(&pr, &d, cfg, "labels@0-5", NULL, 0, 0);
    CHECK(memcmp(pr.x, pr.xc, sizeof(float) * 4 * pr.sz) == 0);
    int perm[10];
    for (int k = 0; k < 10; k++)
        perm[k] = -1;
    int consistent = 1, fixed = 0;
    for (int e = 0; e < 3; e++) {
        data_pipe_epoch(pr.p, e);
        data_pipe_epoch(pr.q, e);
        for (int b = 0; b < 10; b++) {
            data_pipe_batch(pr.p, b, pr.x, pr.y);
            data_pipe_batch(pr.q, b, pr.xc, pr.yc);
            for (int i = 0; i < 4; i++) {
                if (perm[pr.yc[i]] < 0) perm[pr.yc[i]] = pr.y[i];
                consistent &= perm[pr.yc[i]] == pr.y[i];
                fixed += pr.y[i] == pr.yc[i];
            }
        }
    }
    CHECK(consistent && fixed == 0);
    int hit[10] = {0}, bij = 1;
    for (int k = 0; k < 10; k++)
        if (perm[k] >= 0) hit[perm[k]]++;
    for (int k = 0; k < 10; k++)
        bij &= hit[k] == 1;
    CHECK(bij); /* all 10 classes seen, a bijection */
    pair_free(&pr);
    /* noise: Gaussian images (mean ~0, sd ~1), fixed per image index across epochs, label of the noise image
     */
    cfg.n_noise = 0;
    pair_run(&pr, &d, cfg, "noise@0-5", NULL, 0, 0);
    double s = 0, ss = 0;
    int cnt = 0;
    data_cfg c1 = cfg;
    c1.n_src = 1;
    deficit_list ln = defs_of("noise@0-5", NULL);
    data_pipe *pn = data_pipe_alloc(&d, &c1, &ln, 7), *pc = data_pipe_alloc(&d, &c1, NULL, 7);
    float xn[4 * 256], xn2[4 * 256], xc[4 * 256];
    int yn[4], yc[4];
    data_pipe_epoch(pn, 0);
    data_pipe_epoch(pc, 0);
    for (int b = 0; b < 10; b++) {
        data_pipe_batch(pn, b, xn, yn);
        data_pipe_batch(pc, b, xc, yc);
        for (int k = 0; k < 4 * 256; k++) {
            s += xn[k];
            ss += xn[k] * xn[k];
            cnt++;
        }
        CHECK(memcmp(yn, yc, sizeof yn) == 0); /* n_noise = n: each image keeps its own label */
    }
    CHECK_CLOSE(s / cnt, 0, 0, 0.05);  /* 10240 N(0,1) draws: sd of the mean 0.01, 5 sigma */
    CHECK_CLOSE(ss / cnt, 1, 0, 0.07); /* sd of the mean square sqrt(2/10240) = 0.014, 5 sigma */
    /* the same image gets the same noise in another epoch */
    data_pipe_batch(pc, 0, xc, yc);
    data_pipe_batch(pn, 0, xn, yn);
    int id0 = (int)lroundf(xc[0] - 1);
    data_pipe_epoch(pn, 3);
    data_pipe_epoch(pc, 3);
    int found = 0;
    for (int b = 0; b < 10 && !found; b++) {
        data_pipe_batch(pc, b, xc, yc);
        data_pipe_batch(pn, b, xn2, yn);
        for (int i = 0; i < 4; i++)
            if ((int)lroundf(xc[i * 256] - 1) == id0) {
                found = 1;
                CHECK(memcmp(xn2 + i * 256, xn, 256 * sizeof(float)) == 0);
            }
    }
    CHECK(found);
    data_pipe_free(pn);
    pair_free(&pr);
    /* noise with a finite set of 3 images: image i gets noise image i % 3 with label y[i % 3] */
    c1.n_noise = 3;
    pn = data_pipe_alloc(&d, &c1, &ln, 7);
    data_pipe_epoch(pn, 0);
    data_pipe_epoch(pc, 0);
    float first[3][256];
    int have[3] = {0}, same = 1;
    for (int b = 0; b < 10; b++) {
        data_pipe_batch(pn, b, xn, yn);
        data_pipe_batch(pc, b, xc, yc);
        for (int i = 0; i < 4; i++) {
            int id = (int)lroundf(xc[i * 256] - 1), j = id % 3;
            same &= yn[i] == j; /* labels i % 10 of images 0, 1, 2 */
            if (!have[j]) {
                memcpy(first[j], xn + i * 256, sizeof first[j]);
                have[j] = 1;
            } else
                same &= memcmp(first[j], xn + i * 256, sizeof first[j]) == 0;
        }
    }
    CHECK(same && have[0] && have[1] && have[2]);
    CHECK(memcmp(first[0], first[1], sizeof first[0]) != 0);
    data_pipe_free(pn);
    data_pipe_free(pc);
    cfg.n_noise = 0;
    /* blur (whole image): both sources cut from data_blur of the clean image */
    pair_run(&pr, &d, cfg, "blur:4@0-5", NULL, 0, 0);
    {
        int id = (int)lroundf(pr.xc[0] - 1);
        float img[256], tmp[16 + 64];
        memcpy(img, d.x + id * 256, sizeof img);
        data_blur(img, 1, 16, 16, 4, tmp);
        double err = 0;
        for (int r = 0; r < h; r++)
            for (int q = 0; q < w; q++) {
                float a = pr.x[r * w + q], b = pr.x[(h + r) * w + q];
                err = fmax(err, fabs((q < 8 ? a : b) - img[r * w + q]));
                err = fmax(err, fabs(q < 8 ? b : a));
            }
        CHECK_CLOSE(err, 0, 0, 0);                              /* same arithmetic: bit-identical */
        CHECK(fabs(pr.x[3 * w + 2] - pr.xc[3 * w + 2]) > 1e-4); /* and it did change the image */
    }
    pair_free(&pr);
    /* blur:b: source a untouched, source b = right half of the blurred WHOLE image */
    pair_run(&pr, &d, cfg, "blur:b:4@0-5", NULL, 0, 0);
    {
        int id = (int)lroundf(pr.xc[0] - 1);
        float img[256], tmp[16 + 64];
        memcpy(img, d.x + id * 256, sizeof img);
        data_blur(img, 1, 16, 16, 4, tmp);
        CHECK(memcmp(pr.x, pr.xc, sizeof(float) * h * w) == 0);
        double err = 0;
        for (int r = 0; r < h; r++)
            for (int q = 8; q < w; q++)
                err = fmax(err, fabs(pr.x[(h + r) * w + q] - img[r * w + q]));
        CHECK_CLOSE(err, 0, 0, 0);
    }
    pair_free(&pr);
    /* random zeroing of one source (P1's --is-rand-zero-input): a with prob 0.3, b with prob 0.3, never
     * both; otherwise the clean sample */
    {
        data_cfg cz = cfg;
        cz.rand_zero = 0.3;
        data_pipe *pz = data_pipe_alloc(&d, &cz, NULL, 7), *pc2 = data_pipe_alloc(&d, &cfg, NULL, 7);
        int sz = 2 * h * w, za = 0, zb = 0, tot = 0, ok2 = 1;
        float xz[4 * 512], xc2[4 * 512];
        int yz[4], yc2[4];
        for (int e = 0; e < 20; e++) {
            data_pipe_epoch(pz, e);
            data_pipe_epoch(pc2, e);
            for (int b = 0; b < 10; b++) {
                data_pipe_batch(pz, b, xz, yz);
                data_pipe_batch(pc2, b, xc2, yc2);
                for (int i = 0; i < 4; i++) {
                    const float *a = xz + i * sz, *ca = xc2 + i * sz;
                    int a0 = 1, b0 = 1;
                    for (int k = 0; k < h * w; k++) {
                        a0 &= a[k] == 0.0f;
                        b0 &= a[h * w + k] == 0.0f;
                    }
                    ok2 &= !(a0 && b0) && yz[i] == yc2[i];
                    if (!a0) ok2 &= memcmp(a, ca, sizeof(float) * h * w) == 0;
                    if (!b0) ok2 &= memcmp(a + h * w, ca + h * w, sizeof(float) * h * w) == 0;
                    za += a0;
                    zb += b0;
                    tot++;
                }
            }
        }
        CHECK(ok2);
        CHECK_CLOSE((double)za / tot, 0.3, 0, 0.08); /* 800 draws: sd 0.016, 5 sigma */
        CHECK_CLOSE((double)zb / tot, 0.3, 0, 0.08);
        cz.rand_zero = 0.6;
        CHECK(data_pipe_alloc(&d, &cz, NULL, 7) == NULL); /* two disjoint events need p <= 0.5 */
        data_pipe_free(pz);
        data_pipe_free(pc2);
    }
    /* blur applied to the test views? never: data_views is clean */
    deficit_list lb = defs_of("blur:4@0-100", "flip@0-100");
    data_pipe *pb = data_pipe_alloc(&d, &cfg, &lb, 3);
    data_pipe_epoch(pb, 0);
    float xv[2 * 256];
    int yv;
    data_views(pb, &d, 9, 1, xv, &yv);
    CHECK(xv[3 * 16 + 2] == d.x[9 * 256 + 3 * 16 + 2] && xv[256 + 3 * 16 + 2] == 0.0f && yv == 9);
    data_pipe_free(pb);
    data_free(&d);
}

/* dissociate: within a batch, sample i keeps source a and its label and gets source b of another
 * sample of the same batch (a derangement); a pure function of (seed, epoch, batch). */
static void test_dissociate(void)
{
    data_set d;
    int n = 40, c = 1, h = 6, w = 6, B = 8;
    fake_set(&d, n, c, h, w);
    for (int views = 0; views < 2; views++) {
        data_cfg cfg = {.n_src = 2, .views = views, .batch = B, .augment = 1, .shift = 1, .n_noise = 0};
        deficit_list l = defs_of("dissociate@1-3", NULL);
        data_pipe *p = data_pipe_alloc(&d, &cfg, &l, 11), *q = data_pipe_alloc(&d, &cfg, NULL, 11),
                  *p2 = data_pipe_alloc(&d, &cfg, &l, 11);
        CHECK(p && q && p2);
        int C, H, W;
        data_pipe_shape(p, &C, &H, &W);
        long sz = (long)C * H * W, view = sz / 2;
        float *x = malloc(sizeof(float) * B * sz), *xc = malloc(sizeof(float) * B * sz),
              *x2 = malloc(sizeof(float) * B * sz);
        int y[8], yc[8], y2[8];
        int okperm = 1, oka = 1, oky = 1, okdet = 1, nsig = 0, differs = 0;
        int first[8];
        for (int e = 0; e < 4; e++) {
            int nb = data_pipe_epoch(p, e);
            data_pipe_epoch(q, e);
            data_pipe_epoch(p2, 3 - e); /* another epoch in between: batches must not depend on it */
            data_pipe_epoch(p2, e);
            for (int b = nb - 1; b >= 0; b--) { /* any batch order */
                data_pipe_batch(p, b, x, y);
                data_pipe_batch(q, b, xc, yc);
                data_pipe_batch(p2, b, x2, y2);
                okdet &= memcmp(x, x2, sizeof(float) * B * sz) == 0 && memcmp(y, y2, sizeof y) == 0;
                oky &= memcmp(y, yc, sizeof y) == 0; /* labels follow source a */
                int sig[8], hit[8] = {0};
                for (int i = 0; i < B; i++) {
                    oka &= memcmp(x + i * sz, xc + i * sz, sizeof(float) * view) == 0;
                    sig[i] = -1;
                    for (int k = 0; k < B; k++)
                        if (memcmp(x + i * sz + view, xc + k * sz + view, sizeof(float) * view) == 0)
                            sig[i] = k;
                    if (e < 1 || e >= 3) { /* outside the window: the clean batch */
                        okperm &= sig[i] == i;
                        continue;
                    }
                    okperm &= sig[i] >= 0 && sig[i] != i; /* b comes from another image of the batch */
                    if (sig[i] >= 0) hit[sig[i]]++;
                }
                if (e < 1 || e >= 3) continue;
                for (int k = 0; k < B; k++)
                    okperm &= hit[k] == 1; /* every b-view used once: a permutation */
                if (nsig++ == 0)
                    memcpy(first, sig, sizeof first);
                else
                    differs |= memcmp(first, sig, sizeof first) != 0;
            }
        }
        CHECK(okperm);
        CHECK(oka);
        CHECK(oky);
        CHECK(okdet);
        CHECK(differs); /* the derangement is redrawn per batch and epoch */
        CHECK(nsig == 2 * (n / B));
        data_pipe_free(p);
        data_pipe_free(q);
        data_pipe_free(p2);
        free(x);
        free(xc);
        free(x2);
    }
    /* usage errors: one source, batch 1 (the library names data_cfg fields; cnn maps them to options) */
    deficit_list l = defs_of("dissociate@0-3", NULL);
    data_cfg c1 = {.n_src = 1, .views = DATA_VIEWS_ZERO, .batch = 4};
    CHECK(data_pipe_alloc(&d, &c1, &l, 1) == NULL && strstr(util_errmsg(), "data_cfg.n_src 2"));
    c1.n_src = 2;
    c1.batch = 1;
    CHECK(data_pipe_alloc(&d, &c1, &l, 1) == NULL && strstr(util_errmsg(), "data_cfg.batch 2"));
    data_free(&d);
}

static void test_augment(void)
{
    data_set d;
    int n = 12, h = 10, w = 10;
    fake_set(&d, n, 1, h, w);
    data_cfg cfg = {.n_src = 1, .views = DATA_VIEWS_ZERO, .batch = 4, .augment = 1, .shift = 2, .n_noise = 0};
    data_cfg cc = cfg;
    cc.augment = 0;
    data_pipe *p = data_pipe_alloc(&d, &cfg, NULL, 5), *q = data_pipe_alloc(&d, &cc, NULL, 5);
    float x[4 * 100], xc[4 * 100];
    int y[4], yc[4], match = 1, moved = 0, flipped = 0;
    for (int e = 0; e < 4; e++) {
        data_pipe_epoch(p, e);
        data_pipe_epoch(q, e);
        for (int b = 0; b < 3; b++) {
            data_pipe_batch(p, b, x, y);
            data_pipe_batch(q, b, xc, yc);
            for (int i = 0; i < 4; i++) {
                /* find (dx, dy, flip) reproducing the output exactly from the clean image */
                int any = 0;
                for (int fl = 0; fl < 2 && !any; fl++)
                    for (int dy = -2; dy <= 2 && !any; dy++)
                        for (int dx = -2; dx <= 2 && !any; dx++) {
                            int ok = 1;
                            for (int r = 0; r < h && ok; r++)
                                for (int c = 0; c < w && ok; c++) {
                                    int sy = r - dy, sx = c - dx;
                                    float want = 0;
                                    if (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                        want = xc[i * 100 + sy * w + (fl ? w - 1 - sx : sx)];
                                    ok = x[i * 100 + r * w + c] == want;
                                }
                            if (ok) {
                                any = 1;
                                moved += dx != 0 || dy != 0;
                                flipped += fl;
                            }
                        }
                match &= any && y[i] == yc[i];
            }
        }
    }
    CHECK(match);                      /* every sample is a translated (+ flipped) clean image */
    CHECK(moved > 24 && flipped > 12); /* of 48 samples: 24/25 expected moved, half flipped */
    CHECK(flipped < 40);
    data_pipe_free(p);
    data_pipe_free(q);
    data_free(&d);
}

static void test_real_fmnist(void)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    if (access("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", R_OK) != 0) {
        printf("note: %s not installed (apt-get install dataset-fashion-mnist); real-data checks skipped\n",
               dir);
        return;
    }
    data_set tr, te;
    double t0 = util_now();
    CHECK_INT(data_load("fashion-mnist", NULL, 1, 100, NULL, &tr), CS_OK);
    CHECK_INT(tr.n, 100);
    /* published statistics of the Fashion-MNIST training split: mean 0.2860, std 0.3530 */
    CHECK_CLOSE(tr.mean[0], 0.2860, 0, 5e-4);
    CHECK_CLOSE(tr.std[0], 0.3530, 0, 5e-4);
    int want[5] = {9, 0, 0, 3, 0}; /* first training labels */
    for (int i = 0; i < 5; i++)
        CHECK_INT(tr.y[i], want[i]);
    CHECK_INT(data_load("fashion-mnist", dir, 0, 50, &tr, &te), CS_OK);
    int wt[5] = {9, 2, 1, 1, 6}; /* first test labels */
    for (int i = 0; i < 5; i++)
        CHECK_INT(te.y[i], wt[i]);
    printf("note: fashion-mnist train(100 kept, 60000 validated) + test(50) in %.2f s\n", util_now() - t0);
    data_free(&tr);
    data_free(&te);
}

/* data_pipe_batch_clean (the batch-norm re-estimation's input): with every kind of deficit active it
 * gives exactly the batch of a deficit-free pipe of the same seed (augmentation and random zeroing
 * included), and it leaves the pipe's deficits on for the next training batch. */
static void test_batch_clean(void)
{
    data_set d;
    int n = 24, h = 8, w = 8;
    fake_set(&d, n, 1, h, w);
    data_cfg cfg = {
        .n_src = 2, .views = DATA_VIEWS_ZERO, .batch = 4, .augment = 1, .shift = 1, .rand_zero = 0.2};
    const char *sets[][2] = {{"remove:b@0-3", "blur:b:2@1-4"},
                             {"flip@0-9", "labels@0-9"},
                             {"noise@0-9", NULL},
                             {"dissociate@0-9", "remove:a@0-9"}};
    for (int k = 0; k < 4; k++) {
        deficit_list l = defs_of(sets[k][0], sets[k][1]);
        data_pipe *p = data_pipe_alloc(&d, &cfg, &l, 9), *q = data_pipe_alloc(&d, &cfg, NULL, 9);
        CS_ASSERT(p && q);
        float x[4 * 128], xc[4 * 128], x2[4 * 128];
        int y[4], yc[4], y2[4], same = 1, changed = 0;
        for (int e = 0; e < 3; e++) {
            data_pipe_epoch(p, e);
            data_pipe_epoch(q, e);
            for (int b = 0; b < n / 4; b++) {
                data_pipe_batch(p, b, x, y);
                data_pipe_batch_clean(p, b, xc, yc);
                data_pipe_batch(q, b, x2, y2);
                same &= memcmp(xc, x2, sizeof x2) == 0 && memcmp(yc, y2, sizeof y2) == 0;
                changed |= memcmp(x, x2, sizeof x2) != 0 || memcmp(y, y2, sizeof y2) != 0;
                data_pipe_batch(p, b, x2, y2); /* the deficits are still on after a clean batch */
                same &= memcmp(x, x2, sizeof x2) == 0 && memcmp(y, y2, sizeof y2) == 0;
            }
        }
        CHECK(same);
        CHECK(changed);
        data_pipe_free(p);
        data_pipe_free(q);
    }
    data_free(&d);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/critsim_test_data_XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    test_fmnist_files();
    test_cifar();
    test_blur();
    test_blur_ref();
    test_pipe();
    test_deficits();
    test_dissociate();
    test_augment();
    test_batch_clean();
    test_real_fmnist();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    return check_done("test_data");
}
