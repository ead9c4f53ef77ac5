/* data.c - image data for the CNN: validated loaders, two-view sources, deficits on windows of
 * epochs, augmentation and batch assembly (API and layouts in data.h).
 *
 * Loaders.  Fashion-MNIST: gzip IDX (zlib gzopen/gzread, which also reads uncompressed files
 * transparently; FILE.gz is tried first, then FILE).  Header: magic 0x00000803 (images, u8, 3 dims:
 * n, 28, 28) / 0x00000801 (labels, u8, 1 dim: n), big-endian.  The payload must hold exactly the
 * announced bytes (a short payload is "truncated", a longer one "has trailing data"), labels are in
 * [0, 10) and the two files announce the same n.  CIFAR-10 binary: records of 1 label byte + 3072
 * pixel bytes (R, G, B planes of 32x32, row-major), data_batch_1..5.bin for training and
 * test_batch.bin for testing; every file must be a positive whole number of records.
 * The whole file is always read (and so validated), even when only a subset is kept.
 *
 * Normalisation: x = (v/255 - mean_c) / std_c with the per-channel mean and population std of the
 * WHOLE training split (all images of the files, also when a subset is kept; exact, from a byte
 * histogram), so that a zeroed pixel is the mean colour and any subset sees the same transform.
 *
 * Blur (docs/theory.md#blur): separable PIL/torchvision resampling.  For in -> out pixels along one axis,
 * scale = in/out, fs = max(scale, 1), support = fs; output i has centre c = (i + 0.5) scale and
 * reads inputs j in [max(floor(c - fs + 0.5), 0), min(floor(c + fs + 0.5), in)) with weights
 * tri((j + 0.5 - c) / fs), tri(t) = max(1 - |t|, 0), normalised to sum 1.  For downsampling this is
 * the antialiased triangle filter (half-width fs input pixels); for upsampling (fs = 1) it is exactly
 * bilinear interpolation with half-pixel centres and edge clamp.  Every weight set sums to 1, so the
 * blur commutes with the per-channel affine normalisation and can be applied to normalised images.
 *
 * Randomness: counter-based (splitmix64 finaliser of (seed, stream, epoch, index)), so each epoch's
 * shuffle, each sample's augmentation, the label permutation and the noise images are pure functions
 * of the seed and their indices: batches can be assembled in any order and a resumed run replays them.
 *
 * Per training sample, in this order: [noise: input := noise image] -> augmentation (translation with
 * zero padding, horizontal flip; skipped during `noise`, as in the lineage code) -> vertical flip ->
 * each active blur (whole image, or source P's columns taken from the blurred whole image) ->
 * views (ZERO or CROP) -> remove:P zeroes source P's channels -> random zeroing of one source
 * (cfg.rand_zero); labels -> fixed permutation.  Then, per batch, `dissociate` (source dissociation of
 * Kleinman, Achille & Soatto, CVPR 2023): sample i keeps its source a and its label and receives
 * source b of sample sigma(i) != i of the same batch, sigma a cyclic permutation drawn from (seed,
 * epoch, batch).  (Their code also draws the target from a's or b's image with probability 1/2 and
 * trains per-source heads; here the label always follows a and the network keeps its one head.)
 *
 * Non-goals: on-disk caching, PIL's uint8 rounding between the two resampling passes, threads.
 * A data_pipe is not thread-safe (one scratch image).
 */
#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "util.h"

#define DATA_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ---- counter-based random numbers ------------------------------------------------------------ */

enum { RNG_SHUFFLE = 1, RNG_AUG = 2, RNG_LABELS = 3, RNG_NOISE = 4, RNG_ZERO = 5, RNG_DISSOC = 6 };

static inline uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t hash4(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    return mix64(mix64(mix64(mix64(seed) ^ stream) ^ a) ^ b);
}

/* uniform in [0, 1) with 53 random bits */
static inline double u01(uint64_t r)
{
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- blur (docs/theory.md#blur) -------------------------------------------------------------- */

/* Weights of output index i for resampling in -> out (see file comment).  Returns the count and
 * sets *j0 (first input index); w has room for 2*in + 3 entries. */
static int resample_coeffs(int in, int out, int i, int *j0, double *w)
{
    double scale = (double)in / out, fs = scale > 1 ? scale : 1, c = (i + 0.5) * scale;
    int lo = (int)floor(c - fs + 0.5), hi = (int)floor(c + fs + 0.5);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    double tot = 0;
    int n = 0;
    for (int j = lo; j < hi; j++) {
        double t = fabs((j + 0.5 - c) / fs);
        w[n] = t < 1 ? 1 - t : 0;
        tot += w[n++];
    }
    for (int q = 0; q < n; q++)
        w[q] /= tot;
    *j0 = lo;
    return n;
}

/* Resample each of `rows` rows of length `in` (stride sin between elements, rstride_in between
 * rows) to length `out`, writing with element stride sout, row stride rstride_out. */
static void resample_lines(const float *src, int rows, int in, long sin, long rsin, float *dst, int out,
                           long sout, long rsout)
{
    enum { MAXW = 2 * 1024 + 3 };
    double w[MAXW];
    CS_ASSERT(in >= 1 && in <= 1024 && out >= 1);
    for (int i = 0; i < out; i++) {
        int j0, n = resample_coeffs(in, out, i, &j0, w);
        for (int r = 0; r < rows; r++) {
            const float *s = src + r * rsin + j0 * sin;
            double acc = 0;
            for (int q = 0; q < n; q++)
                acc += w[q] * s[q * sin];
            dst[r * rsout + i * sout] = (float)acc;
        }
    }
}

void data_blur(float *img, int c, int h, int w, int k, float *tmp)
{
    CS_ASSERT(c >= 1 && h >= 1 && w >= 1 && k >= 1);
    float *hk = tmp;             /* (c*h x k): rows resampled horizontally */
    float *kk = tmp + c * h * k; /* (c x k x k) */
    /* down: horizontal h x w -> h x k, then vertical -> k x k */
    resample_lines(img, c * h, w, 1, w, hk, k, 1, k);
    for (int ch = 0; ch < c; ch++)
        resample_lines(hk + (long)ch * h * k, k, h, k, 1, kk + (long)ch * k * k, k, k, 1);
    /* up: vertical k x k -> h x k, then horizontal -> h x w */
    for (int ch = 0; ch < c; ch++)
        resample_lines(kk + (long)ch * k * k, k, k, k, 1, hk + (long)ch * h * k, h, k, 1);
    resample_lines(hk, c * h, k, 1, k, img, w, 1, w);
}

/* ---- loaders --------------------------------------------------------------------------------- */

/* Accumulates kept images (u8) and labels, plus a per-channel byte histogram of every image read. */
typedef struct {
    int c, hw;         /* channels, pixels per channel */
    long keep, cap, n; /* images to keep (<= 0: all), capacity, kept so far */
    long total;        /* images read (kept or not) */
    unsigned char *px; /* (cap x c x hw) */
    int *y;
    uint64_t hist[3][256];
} accum;

static void accum_push(accum *a, const unsigned char *img, int label)
{
    for (int ch = 0; ch < a->c; ch++)
        for (int q = 0; q < a->hw; q++)
            a->hist[ch][img[ch * a->hw + q]]++;
    a->total++;
    if (a->keep > 0 && a->n >= a->keep) return;
    long sz = (long)a->c * a->hw;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 1024;
        if (a->keep > 0 && a->cap > a->keep) a->cap = a->keep;
        unsigned char *px = realloc(a->px, (size_t)a->cap * sz);
        int *y = realloc(a->y, (size_t)a->cap * sizeof *y);
        CS_ASSERT(px && y);
        a->px = px;
        a->y = y;
    }
    memcpy(a->px + a->n * sz, img, (size_t)sz);
    a->y[a->n++] = label;
}

static void accum_free(accum *a)
{
    free(a->px);
    free(a->y);
}

/* Open DIR/NAME(.gz): tries NAME.gz then NAME.  path receives the name opened (or tried). */
static gzFile open_data(const char *dir, const char *name, char *path, size_t np, const char *hint)
{
    char gzname[256];
    snprintf(gzname, sizeof gzname, "%s.gz", name);
    if (util_path(path, np, dir, gzname) != CS_OK) return NULL; /* --data-dir too long: message set */
    gzFile f = gzopen(path, "rb");
    if (f) return f;
    int err = errno;
    char plain[PATH_MAX];
    if (util_path(plain, sizeof plain, dir, name) != CS_OK) return NULL;
    f = gzopen(plain, "rb");
    if (f) {
        snprintf(path, np, "%s", plain);
        return f;
    }
    util_seterr(CS_EUSAGE, "cannot open %s: %s; %s", path, strerror(err ? err : ENOENT), hint);
    return NULL;
}

/* Read up to n bytes; returns bytes read or -1 on a stream error (message set naming path). */
static long read_bytes(gzFile f, const char *path, void *buf, long n)
{
    long got = 0;
    while (got < n) {
        unsigned chunk = (unsigned)((n - got) > (1L << 30) ? (1L << 30) : (n - got));
        int r = gzread(f, (char *)buf + got, chunk);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            util_seterr(CS_EUSAGE, "%s is corrupted (%s); re-download or reinstall it", path, msg);
            return -1;
        }
        if (r == 0) break;
        got += r;
    }
    if (got < n && !gzeof(f)) {
        int zerr;
        const char *msg = gzerror(f, &zerr);
        util_seterr(CS_EUSAGE, "%s is corrupted (%s); re-download or reinstall it", path, msg);
        return -1;
    }
    return got;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* At the end of a file: zlib saw no error (a gzip stream cut short, e.g. a missing CRC trailer,
 * shows up here as Z_BUF_ERROR "unexpected end of file"). */
static int stream_ok(gzFile f, const char *path)
{
    int zerr;
    const char *msg = gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END)
        return util_seterr(CS_EUSAGE, "%s is corrupted or truncated (%s); re-download or reinstall it", path,
                           msg);
    return CS_OK;
}

/* After the announced payload: anything more is an error. */
static int expect_eof(gzFile f, const char *path)
{
    unsigned char extra[16];
    long r = read_bytes(f, path, extra, sizeof extra);
    if (r < 0) return CS_EUSAGE;
    if (r > 0)
        return util_seterr(CS_EUSAGE,
                           "%s has trailing data after the announced payload; the file is corrupted", path);
    return stream_ok(f, path);
}

static const char FMNIST_HINT[] =
    "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass data_load.dir "
    "DIR holding {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz";

/* Fashion-MNIST split `prefix` ("train" or "t10k") into a. */
static int load_fmnist(const char *dir, const char *prefix, accum *a)
{
    char ipath[4096], lpath[4096], iname[64], lname[64];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
    int rc = CS_EUSAGE;
    gzFile fi = open_data(dir, iname, ipath, sizeof ipath, FMNIST_HINT), fl = NULL;
    unsigned char *buf = NULL, *lab = NULL;
    if (!fi) return CS_EUSAGE;
    fl = open_data(dir, lname, lpath, sizeof lpath, FMNIST_HINT);
    if (!fl) goto done;
    unsigned char hi[16], hl[8];
    long r = read_bytes(fi, ipath, hi, 16);
    if (r < 0) goto done;
    if (r < 16) {
        util_seterr(CS_EUSAGE, "%s is truncated: %ld bytes, shorter than the 16-byte IDX header", ipath, r);
        goto done;
    }
    if (be32(hi) != 0x803) {
        util_seterr(CS_EUSAGE,
                    "%s: bad magic number 0x%08x (want 0x00000803, IDX u8 images); is it the right file?",
                    ipath, be32(hi));
        goto done;
    }
    uint32_t n = be32(hi + 4), rows = be32(hi + 8), cols = be32(hi + 12);
    if (rows != 28 || cols != 28 || n == 0 || n > 100000000u) {
        util_seterr(CS_EUSAGE, "%s: dimensions %u x %u x %u, expected N x 28 x 28 with N > 0 (Fashion-MNIST)",
                    ipath, n, rows, cols);
        goto done;
    }
    r = read_bytes(fl, lpath, hl, 8);
    if (r < 0) goto done;
    if (r < 8) {
        util_seterr(CS_EUSAGE, "%s is truncated: %ld bytes, shorter than the 8-byte IDX header", lpath, r);
        goto done;
    }
    if (be32(hl) != 0x801) {
        util_seterr(CS_EUSAGE,
                    "%s: bad magic number 0x%08x (want 0x00000801, IDX u8 labels); is it the right file?",
                    lpath, be32(hl));
        goto done;
    }
    if (be32(hl + 4) != n) {
        util_seterr(CS_EUSAGE,
                    "%s announces %u labels but %s announces %u images; the files do not belong together",
                    lpath, be32(hl + 4), ipath, n);
        goto done;
    }
    lab = util_malloc(n);
    r = read_bytes(fl, lpath, lab, n);
    if (r < 0) goto done;
    if (r < (long)n) {
        util_seterr(CS_EUSAGE, "%s is truncated: %ld of %u label bytes; re-download or reinstall it", lpath,
                    r, n);
        goto done;
    }
    if (expect_eof(fl, lpath)) goto done;
    for (uint32_t i = 0; i < n; i++)
        if (lab[i] >= 10) {
            util_seterr(CS_EUSAGE, "%s: label %u of image %u is out of range [0, 9]; the file is corrupted",
                        lpath, lab[i], i);
            goto done;
        }
    a->c = 1;
    a->hw = 28 * 28;
    buf = util_malloc(28 * 28);
    for (uint32_t i = 0; i < n; i++) {
        r = read_bytes(fi, ipath, buf, 28 * 28);
        if (r < 0) goto done;
        if (r < 28 * 28) {
            util_seterr(CS_EUSAGE, "%s is truncated: %ld of %lu pixel bytes; re-download or reinstall it",
                        ipath, (long)i * 784 + r, (unsigned long)n * 784);
            goto done;
        }
        accum_push(a, buf, lab[i]);
    }
    if (expect_eof(fi, ipath)) goto done;
    rc = CS_OK;
done:
    free(buf);
    free(lab);
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    return rc;
}

static const char CIFAR_HINT[] =
    "pass data_load.dir DIR holding the CIFAR-10 binary version (data_batch_1..5.bin, test_batch.bin)";

static int load_cifar_file(const char *dir, const char *name, accum *a)
{
    char path[4096];
    gzFile f = open_data(dir, name, path, sizeof path, CIFAR_HINT);
    if (!f) return CS_EUSAGE;
    unsigned char rec[3073];
    long nrec = 0;
    int rc = CS_EUSAGE;
    for (;;) {
        long r = read_bytes(f, path, rec, sizeof rec);
        if (r < 0) goto done;
        if (r == 0) break;
        if (r < (long)sizeof rec) {
            util_seterr(CS_EUSAGE, "%s is truncated: %ld bytes is not a whole number of 3073-byte records",
                        path, nrec * 3073 + r);
            goto done;
        }
        if (rec[0] >= 10) {
            util_seterr(CS_EUSAGE,
                        "%s: label %u of record %ld is out of range [0, 9]; not a CIFAR-10 binary file?",
                        path, rec[0], nrec);
            goto done;
        }
        accum_push(a, rec + 1, rec[0]);
        nrec++;
    }
    if (nrec == 0) {
        util_seterr(CS_EUSAGE, "%s is empty; %s", path, CIFAR_HINT);
        goto done;
    }
    rc = stream_ok(f, path);
done:
    gzclose(f);
    return rc;
}

int data_load(const char *name, const char *dir, int train, long subset, const data_set *stats, data_set *out)
{
    memset(out, 0, sizeof *out);
    accum a;
    memset(&a, 0, sizeof a);
    a.keep = subset > 0 ? subset : 0;
    int rc, h, w;
    if (strcmp(name, "fashion-mnist") == 0) {
        rc = load_fmnist(dir && *dir ? dir : DATA_FMNIST_DIR, train ? "train" : "t10k", &a);
        h = w = 28;
    } else if (strcmp(name, "cifar10") == 0) {
        if (!dir || !*dir) {
            util_seterr(CS_EUSAGE, "cifar10 has no default location (no Debian package ships it); %s",
                        CIFAR_HINT);
            return CS_EUSAGE;
        }
        a.c = 3;
        a.hw = 32 * 32;
        rc = CS_OK;
        if (train) {
            for (int b = 1; b <= 5 && rc == CS_OK; b++) {
                char fn[32];
                snprintf(fn, sizeof fn, "data_batch_%d.bin", b);
                rc = load_cifar_file(dir, fn, &a);
            }
        } else
            rc = load_cifar_file(dir, "test_batch.bin", &a);
        h = w = 32;
    } else
        return util_seterr(CS_EUSAGE, "unknown data set '%s' (known: fashion-mnist, cifar10)", name);
    if (rc) {
        accum_free(&a);
        return rc;
    }
    out->n = (int)a.n;
    out->c = a.c;
    out->h = h;
    out->w = w;
    out->n_class = 10;
    if (stats) {
        CS_ASSERT(stats->c == a.c && stats->h == h && stats->w == w);
        for (int ch = 0; ch < a.c; ch++) {
            out->mean[ch] = stats->mean[ch];
            out->std[ch] = stats->std[ch];
        }
    } else {
        for (int ch = 0; ch < a.c; ch++) {
            double cnt = 0, s = 0, ss = 0;
            for (int v = 0; v < 256; v++) {
                cnt += (double)a.hist[ch][v];
                s += (double)a.hist[ch][v] * (v / 255.0);
            }
            double m = s / cnt;
            for (int v = 0; v < 256; v++)
                ss += (double)a.hist[ch][v] * (v / 255.0 - m) * (v / 255.0 - m);
            double sd = sqrt(ss / cnt);
            out->mean[ch] = (float)m;
            out->std[ch] = sd > 1e-12 ? (float)sd : 1.0f; /* constant images: only centre them */
        }
    }
    long sz = (long)a.c * a.hw;
    out->x = util_malloc((size_t)(a.n * sz) * sizeof(float));
    out->y = util_malloc((size_t)a.n * sizeof(int));
    for (long i = 0; i < a.n; i++) {
        out->y[i] = a.y[i];
        for (int ch = 0; ch < a.c; ch++) {
            double m = out->mean[ch], inv = 1.0 / out->std[ch];
            const unsigned char *s = a.px + i * sz + (long)ch * a.hw;
            float *d = out->x + i * sz + (long)ch * a.hw;
            for (int q = 0; q < a.hw; q++)
                d[q] = (float)((s[q] / 255.0 - m) * inv);
        }
    }
    accum_free(&a);
    return CS_OK;
}

void data_free(data_set *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    d->x = NULL;
    d->y = NULL;
    d->n = 0;
}

/* ---- pipeline -------------------------------------------------------------------------------- */

typedef struct {
    deficit_kind kind;
    int src; /* source index, -1 = whole image */
    int k;   /* blur size */
    long start, end;
} pdef;

struct data_pipe {
    const data_set *d;
    data_cfg cfg;
    uint64_t seed;
    int c, h, w, wv, chans, n_noise;
    int ndef;
    pdef def[DEFICIT_MAX];
    int active[DEFICIT_MAX]; /* indices into def active in the current epoch */
    int nactive, noise_on, flip_on, labels_on, dissoc_on;
    int epoch, nbatch;
    int *sigma;     /* (batch) derangement of `dissociate` for the current batch */
    int *perm;      /* (n) sample order of the epoch */
    int lperm[256]; /* class permutation of `labels` */
    float *work;    /* (c x h x w) */
    float *blurred; /* (c x h x w) */
    float *tmp;     /* blur scratch */
};

static const char SUPPORTED[] = "blur, flip, labels, noise, remove, dissociate";

/* The configuration against the training set (sources, views, batch, augmentation, zeroing, classes). */
static int check_cfg(const data_set *train, const data_cfg *cfg)
{
    if (cfg->n_src != 1 && cfg->n_src != 2) {
        return util_seterr(
            CS_EUSAGE, "%d sources requested; the CNN data layer supports 1 (whole image) or 2 (left/right)",
            cfg->n_src);
    }
    if (cfg->views != DATA_VIEWS_ZERO && cfg->views != DATA_VIEWS_CROP) {
        return util_seterr(CS_EUSAGE, "unknown views mode %d (zero or crop)", cfg->views);
    }
    if (cfg->n_src == 2 && train->w % 2) {
        return util_seterr(CS_EUSAGE, "images of odd width %d cannot be split into two views", train->w);
    }
    if (cfg->batch < 1 || cfg->batch > train->n) {
        return util_seterr(
            CS_EUSAGE,
            "batch size %d must be in [1, %d] (the number of training images); lower data_cfg.batch",
            cfg->batch, train->n);
    }
    if (cfg->augment && (cfg->shift < 0 || cfg->shift >= train->h || cfg->shift >= train->w)) {
        return util_seterr(CS_EUSAGE, "augmentation shift %d must be in [0, %d)", cfg->shift,
                           train->h < train->w ? train->h : train->w);
    }
    if (!(cfg->rand_zero >= 0 && cfg->rand_zero <= 0.5) || (cfg->rand_zero > 0 && cfg->n_src != 2)) {
        return util_seterr(
            CS_EUSAGE, "random zeroing of a source: probability %g must be in [0, 0.5] and needs 2 sources",
            cfg->rand_zero);
    }
    if (train->n_class < 1 || train->n_class > 256) {
        return util_seterr(CS_EUSAGE, "%d classes: the data layer supports 1 to 256", train->n_class);
    }
    return CS_OK;
}

/* Deficit d of the CNN's kinds into q (its source, blur size, window); *kmax: the largest blur size so
 * far.  CS_OK or CS_EUSAGE naming the deficit. */
static int pdef_parse(const deficit *d, const data_set *train, const data_cfg *cfg, pdef *q, int *kmax)
{
    q->kind = d->kind;
    q->src = -1;
    q->start = d->start;
    q->end = d->end;
    int rc = CS_OK;
    long k;
    switch (d->kind) {
    case DEF_BLUR: {
        int lim = train->h < train->w ? train->h : train->w;
        if (d->nargs == 0) {
            rc = util_seterr(CS_EUSAGE, "deficit '%s': blur needs a size, blur[:P]:K (e.g. blur:8@0-40)",
                             d->text);
            break;
        }
        if (d->nargs == 2) rc = deficit_arg_source(d, 0, cfg->n_src, &q->src);
        if (!rc) rc = deficit_arg_long(d, d->nargs - 1, 1, lim, &k);
        if (!rc) {
            q->k = (int)k;
            if (q->k > *kmax) *kmax = q->k;
        }
        break;
    }
    case DEF_REMOVE:
        rc = deficit_arg_source(d, 0, cfg->n_src, &q->src);
        break;
    case DEF_DISSOCIATE:
        if (cfg->n_src != 2)
            rc = util_seterr(CS_EUSAGE,
                             "deficit '%s': dissociate pairs source a with source b of another image; it "
                             "needs data_cfg.n_src 2",
                             d->text);
        else if (cfg->batch < 2)
            rc = util_seterr(CS_EUSAGE,
                             "deficit '%s': dissociate takes source b from another image of the batch; "
                             "use data_cfg.batch 2 or more",
                             d->text);
        else if (d->nargs)
            rc = util_seterr(CS_EUSAGE, "deficit '%s': dissociate takes no arguments (write dissociate@S-E)",
                             d->text);
        break;
    case DEF_FLIP:
    case DEF_LABELS:
    case DEF_NOISE:
        if (d->nargs)
            rc = util_seterr(CS_EUSAGE,
                             "deficit '%s': %s takes no arguments in critsim cnn (write %s@START-END)",
                             d->text, deficit_kind_name(d->kind), deficit_kind_name(d->kind));
        break;
    default:
        rc = deficit_unsupported(d, "cnn", SUPPORTED);
    }
    return rc;
}

data_pipe *data_pipe_alloc(const data_set *train, const data_cfg *cfg, const deficit_list *defs,
                           uint64_t seed)
{
    CS_ASSERT(train && cfg && train->x && train->n >= 1);
    if (check_cfg(train, cfg) != CS_OK) return NULL;
    data_pipe *p = util_calloc(1, sizeof *p);
    p->d = train;
    p->cfg = *cfg;
    p->seed = seed;
    p->c = train->c;
    p->h = train->h;
    p->w = train->w;
    p->wv = (cfg->n_src == 2 && cfg->views == DATA_VIEWS_CROP) ? train->w / 2 : train->w;
    p->chans = cfg->n_src * train->c;
    p->n_noise = cfg->n_noise > 0 && cfg->n_noise < train->n ? cfg->n_noise : train->n;
    p->epoch = -1;
    int kmax = 1;
    for (int i = 0; defs && i < defs->n; i++) {
        if (pdef_parse(&defs->d[i], train, cfg, &p->def[p->ndef], &kmax) != CS_OK) {
            free(p);
            return NULL;
        }
        p->ndef++;
    }
    size_t img = (size_t)p->c * p->h * p->w;
    p->perm = util_malloc((size_t)train->n * sizeof(int));
    p->sigma = util_malloc((size_t)cfg->batch * sizeof(int));
    p->work = util_malloc(img * sizeof(float));
    p->blurred = util_malloc(img * sizeof(float));
    p->tmp = util_malloc(((size_t)p->c * kmax * kmax + (size_t)p->c * p->h * kmax) * sizeof(float));
    /* labels: a cyclic permutation (Sattolo), so that every class changes its label */
    int nc = train->n_class;
    for (int i = 0; i < nc; i++)
        p->lperm[i] = i;
    for (int i = nc - 1; i > 0; i--) {
        int j = (int)(hash4(seed, RNG_LABELS, 0, (uint64_t)i) % (uint64_t)i);
        int t = p->lperm[i];
        p->lperm[i] = p->lperm[j];
        p->lperm[j] = t;
    }
    return p;
}

void data_pipe_free(data_pipe *p)
{
    if (!p) return;
    free(p->perm);
    free(p->sigma);
    free(p->work);
    free(p->blurred);
    free(p->tmp);
    free(p);
}

void data_pipe_shape(const data_pipe *p, int *channels, int *h, int *w)
{
    *channels = p->chans;
    *h = p->h;
    *w = p->wv;
}

int data_pipe_epoch(data_pipe *p, int epoch)
{
    CS_ASSERT(epoch >= 0);
    int n = p->d->n;
    for (int i = 0; i < n; i++)
        p->perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        /* modulo bias < n / 2^64: negligible */
        int j = (int)(hash4(p->seed, RNG_SHUFFLE, (uint64_t)epoch, (uint64_t)i) % (uint64_t)(i + 1));
        int t = p->perm[i];
        p->perm[i] = p->perm[j];
        p->perm[j] = t;
    }
    p->nactive = p->noise_on = p->flip_on = p->labels_on = p->dissoc_on = 0;
    for (int i = 0; i < p->ndef; i++) {
        const pdef *q = &p->def[i];
        if (epoch < q->start || epoch >= q->end) continue;
        if (q->kind == DEF_NOISE)
            p->noise_on = 1;
        else if (q->kind == DEF_FLIP)
            p->flip_on = 1;
        else if (q->kind == DEF_LABELS)
            p->labels_on = 1;
        else if (q->kind == DEF_DISSOCIATE)
            p->dissoc_on = 1;
        else
            p->active[p->nactive++] = i; /* blur, remove: applied in the order given */
    }
    p->epoch = epoch;
    p->nbatch = n / p->cfg.batch;
    return p->nbatch;
}

/* Columns [lo, hi) of source s of a w-wide image. */
static void src_cols(const data_pipe *p, int s, int *lo, int *hi)
{
    if (p->cfg.n_src == 1) {
        *lo = 0;
        *hi = p->w;
    } else {
        *lo = s * (p->w / 2);
        *hi = *lo + p->w / 2;
    }
}

/* Write the views of image `img` (c x h x w) to out (chans x h x wv). */
static void emit_views(const data_pipe *p, const float *img, float *out)
{
    int c = p->c, h = p->h, w = p->w, wv = p->wv;
    for (int s = 0; s < p->cfg.n_src; s++) {
        int lo, hi;
        src_cols(p, s, &lo, &hi);
        for (int ch = 0; ch < c; ch++) {
            const float *si = img + (long)ch * h * w;
            float *so = out + ((long)s * c + ch) * h * wv;
            for (int r = 0; r < h; r++) {
                if (wv == w) {
                    for (int x = 0; x < w; x++)
                        so[r * wv + x] = (x >= lo && x < hi) ? si[r * w + x] : 0.0f;
                } else
                    memcpy(so + r * wv, si + r * w + lo, (size_t)(hi - lo) * sizeof(float));
            }
        }
    }
}

/* Noise image j (c x h x w), N(0, 1) in normalised units (the data's per-channel mean and std). */
static void noise_image(const data_pipe *p, int j, float *out)
{
    int sz = p->c * p->h * p->w;
    for (int q = 0; q < sz; q += 2) {
        double u1 = u01(hash4(p->seed, RNG_NOISE, (uint64_t)j, (uint64_t)q));
        double u2 = u01(hash4(p->seed, RNG_NOISE, (uint64_t)j, (uint64_t)q + 1));
        double r = sqrt(-2.0 * log(1.0 - u1)), a = 6.283185307179586476925 * u2;
        out[q] = (float)(r * cos(a));
        if (q + 1 < sz) out[q + 1] = (float)(r * sin(a));
    }
}

/* `dissociate`: sample i of batch b receives source b's channels of sample sigma(i), sigma a cyclic
 * permutation of the batch drawn with Sattolo's algorithm from (seed, epoch, batch), so sigma(i) != i
 * for every i (a derangement) and the batch is a pure function of its counters.  Source a and the
 * label stay: the label follows source a.  In place along the single cycle of sigma, with one view
 * of scratch (p->blurred). */
static void dissociate(data_pipe *p, int b, float *x)
{
    int B = p->cfg.batch;
    long view = (long)p->c * p->h * p->wv, out = (long)p->chans * p->h * p->wv;
    int *s = p->sigma;
    for (int i = 0; i < B; i++)
        s[i] = i;
    for (int i = B - 1; i > 0; i--) {
        int j =
            (int)(hash4(p->seed, RNG_DISSOC, (uint64_t)p->epoch, (uint64_t)b * (uint64_t)B + (uint64_t)i) %
                  (uint64_t)i);
        int t = s[i];
        s[i] = s[j];
        s[j] = t;
    }
    float *tmp = p->blurred;
    memcpy(tmp, x + view, (size_t)view * sizeof(float)); /* source b of sample 0 */
    int j = 0;
    for (int k = s[0]; k != 0; j = k, k = s[k])
        memcpy(x + j * out + view, x + k * out + view, (size_t)view * sizeof(float));
    memcpy(x + j * out + view, tmp, (size_t)view * sizeof(float));
}

void data_pipe_batch(data_pipe *p, int b, float *x, int *y)
{
    CS_ASSERT(p->epoch >= 0 && b >= 0 && b < p->nbatch);
    const data_set *d = p->d;
    int c = p->c, h = p->h, w = p->w, B = p->cfg.batch;
    long img = (long)c * h * w, out = (long)p->chans * h * p->wv;
    for (int i = 0; i < B; i++) {
        long pos = (long)b * B + i;
        int idx = p->perm[pos];
        float *wk = p->work;
        int label = d->y[idx];
        if (p->noise_on) {
            int j = idx % p->n_noise;
            noise_image(p, j, wk);
            label = d->y[j];
        } else if (p->cfg.augment) {
            uint64_t r = hash4(p->seed, RNG_AUG, (uint64_t)p->epoch, (uint64_t)pos);
            int s = p->cfg.shift, span = 2 * s + 1;
            int dx = (int)(r % (uint64_t)span) - s, dy = (int)((r >> 20) % (uint64_t)span) - s;
            int hflip = (int)((r >> 40) & 1);
            const float *src = d->x + idx * img;
            for (int ch = 0; ch < c; ch++)
                for (int yy = 0; yy < h; yy++)
                    for (int xx = 0; xx < w; xx++) {
                        int sy = yy - dy, sx0 = xx - dx, sx = hflip ? w - 1 - sx0 : sx0;
                        wk[((long)ch * h + yy) * w + xx] = (sy >= 0 && sy < h && sx0 >= 0 && sx0 < w)
                                                               ? src[((long)ch * h + sy) * w + sx]
                                                               : 0.0f;
                    }
        } else
            memcpy(wk, d->x + idx * img, (size_t)img * sizeof(float));
        if (p->flip_on)
            for (int ch = 0; ch < c; ch++)
                for (int r = 0; r < h / 2; r++) {
                    float *a = wk + ((long)ch * h + r) * w, *z = wk + ((long)ch * h + h - 1 - r) * w;
                    for (int xx = 0; xx < w; xx++) {
                        float t = a[xx];
                        a[xx] = z[xx];
                        z[xx] = t;
                    }
                }
        for (int a = 0; a < p->nactive; a++) {
            const pdef *q = &p->def[p->active[a]];
            if (q->kind != DEF_BLUR) continue;
            if (q->src < 0 || p->cfg.n_src == 1) {
                data_blur(wk, c, h, w, q->k, p->tmp);
                continue;
            }
            memcpy(p->blurred, wk, (size_t)img * sizeof(float));
            data_blur(p->blurred, c, h, w, q->k, p->tmp);
            int lo, hi;
            src_cols(p, q->src, &lo, &hi);
            for (long r = 0; r < (long)c * h; r++)
                memcpy(wk + r * w + lo, p->blurred + r * w + lo, (size_t)(hi - lo) * sizeof(float));
        }
        float *xo = x + i * out;
        emit_views(p, wk, xo);
        for (int a = 0; a < p->nactive; a++) {
            const pdef *q = &p->def[p->active[a]];
            if (q->kind == DEF_REMOVE)
                memset(xo + (long)q->src * c * h * p->wv, 0, (size_t)c * h * p->wv * sizeof(float));
        }
        if (p->cfg.rand_zero > 0) {
            double u = u01(hash4(p->seed, RNG_ZERO, (uint64_t)p->epoch, (uint64_t)pos));
            int z = u < p->cfg.rand_zero ? 0 : (u < 2 * p->cfg.rand_zero ? 1 : -1);
            if (z >= 0) memset(xo + (long)z * c * h * p->wv, 0, (size_t)c * h * p->wv * sizeof(float));
        }
        y[i] = p->labels_on ? p->lperm[label] : label;
    }
    if (p->dissoc_on) dissociate(p, b, x);
}

void data_pipe_batch_clean(data_pipe *p, int b, float *x, int *y)
{
    /* the same batch with every deficit switched off for it: the sample order, augmentation and
     * random zeroing draw from (seed, epoch, position) only, so they are those of data_pipe_batch */
    int na = p->nactive, no = p->noise_on, fo = p->flip_on, lo = p->labels_on, dso = p->dissoc_on;
    p->nactive = p->noise_on = p->flip_on = p->labels_on = p->dissoc_on = 0;
    data_pipe_batch(p, b, x, y);
    p->nactive = na, p->noise_on = no, p->flip_on = fo, p->labels_on = lo, p->dissoc_on = dso;
}

void data_views(const data_pipe *p, const data_set *d, int first, int count, float *x, int *y)
{
    CS_ASSERT(d->c == p->c && d->h == p->h && d->w == p->w);
    CS_ASSERT(first >= 0 && count >= 0 && first + count <= d->n);
    long img = (long)p->c * p->h * p->w, out = (long)p->chans * p->h * p->wv;
    for (int i = 0; i < count; i++) {
        emit_views(p, d->x + (long)(first + i) * img, x + i * out);
        if (y) y[i] = d->y[first + i];
    }
}
