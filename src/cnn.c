/* cnn.c - float32 convolutional network: layer kernels (forward and backward), the two
 * architectures, SGD.  See include/cnn.h for layouts and conventions.
 *
 * Mathematics (per image, NCHW):
 *   convolution   y[o][p] = sum_{i,ky,kx} W[o][i][ky][kx] x[i][p*s + (ky,kx) - pad] (+ b[o]), computed
 *                 for a group of G images as Y (cout x G HWo) = W (cout x cin k k) . col (cin k k x G HWo)
 *                 with col = im2col(x) (a 1x1 stride-1 convolution uses x directly); backward
 *                 dW += dY col^T, dcol = W^T dY, dx += col2im(dcol).  These are the reference
 *                 kernels (n->reference); by default a 3x3 stride-1 layer computes dx as the
 *                 convolution of dY with the flipped kernel (no col2im), and with >= 16 channels in
 *                 and out its forward, dx and dW go through Winograd F(2x2, 3x3) (see below).
 *                 Tests check every variant against the reference kernels.
 *   batch norm    xhat = (x - mu) / sqrt(var + eps), y = gamma xhat + beta over (batch, H, W) per channel;
 *                 dx = gamma/(N sigma) (N dy - sum dy - xhat sum dy xhat).
 *   ReLU, sum, global average pooling, linear y = x W^T + b, softmax cross-entropy averaged over the
 *   batch (dlogits = (softmax - onehot) / B).
 * Non-goals: dilation, groups, padding modes other than zeros, in-place layers.
 */
/* The kernels below are simple loops that need the vectoriser: gcc's -O2 cost model ("very cheap")
 * leaves loops with runtime aliasing checks scalar, which made batch norm and col2im several times
 * slower.  O3 here only; no fast-math (results stay IEEE and deterministic). */
#pragma GCC optimize("O3")
#include "cnn.h"

#include <cblas.h>
#include <math.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "cnn_kernels.h"
#include "util.h"

#define CNN_MAXL 256
static cnn_pool *pool_alloc(int nthr);
static void pool_free(cnn_pool *p);
#define BN_EPS      1e-5
#define BN_MOMENTUM 0.1

/* ---- builder --------------------------------------------------------------------------------- */

typedef struct {
    cnn *n;
    int nl, nt;
    long np, ns;
} builder;

static int b_tensor(builder *b, int c, int h, int w)
{
    CS_ASSERT(b->nt < CNN_MAXL);
    cnn_tensor *t = &b->n->t[b->nt];
    t->c = c, t->h = h, t->w = w;
    return b->nt++;
}

static cnn_layer *b_layer(builder *b, int type, const char *name)
{
    CS_ASSERT(b->nl < CNN_MAXL);
    cnn_layer *L = &b->n->layer[b->nl++];
    memset(L, 0, sizeof *L);
    L->type = type;
    L->in2 = -1;
    snprintf(L->name, sizeof L->name, "%s", name);
    return L;
}

/* conv (k, stride) + BN + ReLU reading channels [in_c0, in_c0+cin) of tensor `in`; the ReLU writes
 * channels [out_c0, out_c0+cout) of tensor `out` (a new tensor when out < 0).  Returns the output. */
static int b_block(builder *b, const char *name, int in, int in_c0, int cin, int cout, int k, int stride,
                   int out, int out_c0)
{
    const cnn_tensor *ti = &b->n->t[in];
    int ho = (ti->h + 2 * ((k - 1) / 2) - k) / stride + 1, wo = (ti->w + 2 * ((k - 1) / 2) - k) / stride + 1;
    char nm[40];
    snprintf(nm, sizeof nm, "%s.conv%s%s", name, k == 1 ? "1x1" : "3x3", stride == 2 ? "s2" : "");
    cnn_layer *L = b_layer(b, CNN_CONV, nm);
    L->in = in, L->in_c0 = in_c0, L->cin = cin, L->cout = cout, L->k = k, L->stride = stride;
    L->out = b_tensor(b, cout, ho, wo);
    L->p0 = b->np, L->np = (long)cout * cin * k * k;
    b->np += L->np;
    int tc = L->out;
    snprintf(nm, sizeof nm, "%s.bn+relu", name);
    L = b_layer(b, CNN_BN, nm);
    L->in = tc, L->cin = L->cout = cout, L->relu = 1;
    L->out = out >= 0 ? out : b_tensor(b, cout, ho, wo);
    L->out_c0 = out >= 0 ? out_c0 : 0;
    L->p0 = b->np, L->np = 2L * cout, L->s0 = b->ns;
    b->np += L->np, b->ns += 2L * cout;
    return L->out;
}

/* Stage j >= 1: conv 2^j W stride 2, conv 2^j W. */
static int b_stage(builder *b, const char *prefix, int j, int in, int in_c0, int cin, int width, int out,
                   int out_c0)
{
    char nm[40];
    int c = width << j;
    snprintf(nm, sizeof nm, "%.24s%c.a", prefix, '0' + j);
    int t = b_block(b, nm, in, in_c0, cin, c, 3, 2, -1, 0);
    snprintf(nm, sizeof nm, "%.24s%c.b", prefix, '0' + j);
    return b_block(b, nm, t, 0, c, c, 3, 1, out, out_c0);
}

static int build(builder *b)
{
    cnn *n = b->n;
    const cnn_cfg *cf = &n->cfg;
    int W = cf->width, D = cf->depth;
    b_tensor(b, cf->in_c, cf->in_h, cf->in_w); /* t[0]: input */
    int t, c;
    if (cf->arch == CNN_FUSED) {
        t = b_block(b, "stem", 0, 0, cf->in_c, W, 3, 1, -1, 0);
        c = W;
        for (int j = 1; j <= D; j++) {
            t = b_stage(b, "stage", j, t, 0, c, W, -1, 0);
            c = W << j;
        }
    } else {
        int S = cf->n_src, cs = cf->in_c / S, F = cf->fuse_after;
        int cf_ = W << F; /* channels of one pathway's output */
        int h = cf->in_h, w = cf->in_w;
        for (int j = 1; j <= F; j++)
            h = (h - 1) / 2 + 1, w = (w - 1) / 2 + 1;
        int fused = -1;
        if (cf->fusion == CNN_FUSE_CONCAT) fused = b_tensor(b, S * cf_, h, w);
        int pt[8] = {0};
        for (int p = 0; p < S; p++) {
            char nm[40];
            snprintf(nm, sizeof nm, "%c.stem", 'a' + p);
            int out = (F == 0 && fused >= 0) ? fused : -1;
            t = b_block(b, nm, 0, p * cs, cs, W, 3, 1, out, p * cf_);
            c = W;
            for (int j = 1; j <= F; j++) {
                snprintf(nm, sizeof nm, "%c.stage", 'a' + p);
                out = (j == F && fused >= 0) ? fused : -1;
                t = b_stage(b, nm, j, t, 0, c, W, out, p * cf_);
                c = W << j;
            }
            pt[p] = t;
        }
        if (cf->fusion == CNN_FUSE_CONCAT) {
            t = fused;
            c = S * cf_;
        } else {
            t = pt[0];
            for (int p = 1; p < S; p++) {
                cnn_layer *L = b_layer(b, CNN_ADD, "fuse.sum");
                L->in = t, L->in2 = pt[p], L->cin = L->cout = cf_;
                L->out = b_tensor(b, cf_, h, w);
                t = L->out;
            }
            c = cf_;
        }
        for (int j = F + 1; j <= D; j++) {
            t = b_stage(b, "stage", j, t, 0, c, W, -1, 0);
            c = W << j;
        }
    }
    t = b_block(b, "head", t, 0, c, c, 1, 1, -1, 0);
    cnn_layer *L = b_layer(b, CNN_GAP, "gap");
    L->in = t, L->cin = L->cout = c;
    L->out = b_tensor(b, c, 1, 1);
    t = L->out;
    L = b_layer(b, CNN_LINEAR, "linear");
    L->in = t, L->cin = c, L->cout = cf->n_class, L->bias = 1;
    L->out = b_tensor(b, cf->n_class, 1, 1);
    L->p0 = b->np, L->np = (long)c * cf->n_class + cf->n_class;
    b->np += L->np;
    return CS_OK;
}

cnn *cnn_alloc(const cnn_cfg *cfg)
{
    const cnn_cfg *c = cfg;
    if (c->arch != CNN_FUSED && c->arch != CNN_SPLIT) {
        util_seterr(CS_EUSAGE, "unknown architecture %d", c->arch);
        return NULL;
    }
    if (c->in_c < 1 || c->in_h < 1 || c->in_w < 1 || c->n_class < 2 || c->width < 1 || c->depth < 0 ||
        c->depth > 6 || c->batch < 1 || c->threads < 1 || c->threads > 64) {
        util_seterr(CS_EUSAGE,
                    "invalid network configuration (in %dx%dx%d, classes %d, width %d, depth %d, "
                    "batch %d, threads %d)",
                    c->in_c, c->in_h, c->in_w, c->n_class, c->width, c->depth, c->batch, c->threads);
        return NULL;
    }
    if (c->arch == CNN_SPLIT && (c->n_src < 2 || c->n_src > 8 || c->in_c % c->n_src || c->fuse_after < 0 ||
                                 c->fuse_after > c->depth)) {
        util_seterr(CS_EUSAGE,
                    "split network needs 2..8 sources dividing the %d input channels and "
                    "cnn_cfg.fuse_after in 0..depth (%d); got %d sources, fuse-after %d",
                    c->in_c, c->depth, c->n_src, c->fuse_after);
        return NULL;
    }
    cnn *n = util_calloc(1, sizeof *n);
    n->cfg = *cfg;
    n->layer = util_calloc(CNN_MAXL, sizeof *n->layer);
    n->t = util_calloc(CNN_MAXL, sizeof *n->t);
    builder b = {n, 0, 0, 0, 0};
    build(&b);
    n->n_layer = b.nl, n->n_tensor = b.nt, n->n_param = b.np, n->n_state = b.ns;
    int B = c->batch, T = c->threads;
    n->param = util_calloc(n->n_param, sizeof(float));
    n->grad = util_calloc(n->n_param, sizeof(float));
    n->mom = util_calloc(n->n_param, sizeof(float));
    n->tgrad = util_calloc((size_t)T * n->n_param, sizeof(float));
    n->bn_state = util_calloc(n->n_state > 0 ? n->n_state : 1, sizeof(float));
    n->bn_count = util_calloc(1, sizeof(double));
    for (int i = 0; i < n->n_tensor; i++) {
        cnn_tensor *t = &n->t[i];
        size_t sz = (size_t)B * t->c * t->h * t->w;
        t->x = util_calloc(sz, sizeof(float));
        if (i > 0) t->g = util_calloc(sz, sizeof(float)); /* no gradient for the input */
    }
    n->gin = util_calloc((size_t)B * c->in_c * c->in_h * c->in_w, sizeof(float));
    n->col_size = 1;
    n->macs = 0;
    for (int i = 0; i < n->n_layer; i++) {
        cnn_layer *L = &n->layer[i];
        const cnn_tensor *to = &n->t[L->out];
        if (L->type == CNN_CONV) {
            int G = cnnk_chunk_images(to->h * to->w);
            int cm = L->cin > L->cout ? L->cin : L->cout; /* backward cnnk_im2col of dY: cout k k rows */
            long s = (long)cm * L->k * L->k * to->h * to->w * (G < B ? G : B);
            if (16L * L->cin * L->cout > n->wf_size) n->wf_size = 16L * L->cin * L->cout;
            long tiles = (long)((to->h + 1) / 2) * ((to->w + 1) / 2) * (G < B ? G : B); /* Winograd scratch */
            if (16 * cm * tiles > s) s = 16 * cm * tiles;
            if (s > n->col_size) n->col_size = s;
            n->macs += (double)L->cout * L->cin * L->k * L->k * to->h * to->w;
        }
        if (L->type == CNN_LINEAR) n->macs += (double)L->cin * L->cout;
        if (L->type == CNN_BN) L->save = util_calloc(2 * (size_t)L->cout, sizeof(float));
    }
    n->col = util_calloc((size_t)T * 2 * n->col_size, sizeof(float));
    n->wf = util_calloc((size_t)T * 2 * (n->wf_size > 0 ? n->wf_size : 1), sizeof(float));
    openblas_set_num_threads(1); /* parallelism is ours: threads over the batch */
    if (T > 1) n->pool = pool_alloc(T);
    cnn_init(n, 1);
    return n;
}

void cnn_free(cnn *n)
{
    if (!n) return;
    pool_free(n->pool);
    for (int i = 0; i < n->n_tensor; i++)
        free(n->t[i].x), free(n->t[i].g);
    for (int i = 0; i < n->n_layer; i++)
        free(n->layer[i].save);
    free(n->param), free(n->grad), free(n->mom), free(n->tgrad), free(n->bn_state), free(n->bn_count);
    free(n->col), free(n->wf), free(n->gin), free(n->layer), free(n->t), free(n);
}

/* ---- initialisation ---------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unif(uint64_t *s)
{
    return ((splitmix(s) >> 11) + 0.5) * 0x1.0p-53;
}

void cnn_init(cnn *n, uint64_t seed)
{
    uint64_t s = seed ^ 0x5EEDC0FFEEull;
    for (int i = 0; i < n->n_layer; i++) {
        cnn_layer *L = &n->layer[i];
        float *p = n->param + L->p0;
        if (L->type == CNN_CONV) { /* PyTorch's default: uniform with bound 1/sqrt(fan_in) */
            double bound = 1 / sqrt((double)L->cin * L->k * L->k);
            for (long j = 0; j < L->np; j++)
                p[j] = (float)(bound * (2 * unif(&s) - 1));
        } else if (L->type == CNN_BN) {
            for (int c = 0; c < L->cout; c++)
                p[c] = 1, p[L->cout + c] = 0;
            float *st = n->bn_state + L->s0;
            for (int c = 0; c < L->cout; c++)
                st[c] = 0, st[L->cout + c] = 1;
        } else if (L->type == CNN_LINEAR) {
            double bound = 1 / sqrt((double)L->cin);
            long nw = (long)L->cin * L->cout;
            for (long j = 0; j < nw; j++)
                p[j] = (float)(bound * (2 * unif(&s) - 1));
            for (int j = 0; j < L->cout; j++)
                p[nw + j] = 0;
        }
    }
    memset(n->mom, 0, n->n_param * sizeof(float));
}

void cnn_describe(const cnn *n, FILE *f, const char *prefix)
{
    for (int i = 0; i < n->n_layer; i++) {
        const cnn_layer *L = &n->layer[i];
        const cnn_tensor *ti = &n->t[L->in], *to = &n->t[L->out];
        fprintf(f, "%s%-20s %3dx%2dx%2d [%d..%d) -> %3dx%2dx%2d [%d..%d)  params %ld\n", prefix, L->name,
                ti->c, ti->h, ti->w, L->in_c0, L->in_c0 + L->cin, to->c, to->h, to->w, L->out_c0,
                L->out_c0 + L->cout, L->np);
    }
    fprintf(f, "%sparameters %ld, forward multiply-adds per image %.3g\n", prefix, n->n_param, n->macs);
}

/* ---- parallel regions ------------------------------------------------------------------------------ */

typedef void (*par_fn)(cnn *n, const cnn_layer *L, int t, int T);

/* Barrier that polls briefly before sleeping: a training step has ~60 parallel regions a few hundred
 * microseconds apart, and waking a thread asleep in pthread_barrier_wait costs tens of microseconds
 * each time (measured: 3-9% of a 2-thread step).  POOL_SPIN polls (a few microseconds to tens of
 * microseconds) keep that cost away without burning a core between steps.  The last thread to arrive
 * resets the count and advances the generation under the mutex, so a waiter that checks the
 * generation under the mutex cannot miss the broadcast. */
#ifndef POOL_SPIN
#define POOL_SPIN 2000
#endif
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t cv;
    atomic_uint arrived, gen;
    unsigned n;
} spin_barrier;

static void sbar_init(spin_barrier *b, unsigned n)
{
    pthread_mutex_init(&b->m, NULL);
    pthread_cond_init(&b->cv, NULL);
    atomic_init(&b->arrived, 0), atomic_init(&b->gen, 0);
    b->n = n;
}

static void sbar_destroy(spin_barrier *b)
{
    pthread_mutex_destroy(&b->m), pthread_cond_destroy(&b->cv);
}

static void sbar_wait(spin_barrier *b)
{
    unsigned g = atomic_load(&b->gen);
    if (atomic_fetch_add(&b->arrived, 1) + 1 == b->n) {
        atomic_store(&b->arrived, 0);
        pthread_mutex_lock(&b->m);
        atomic_store(&b->gen, g + 1);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->m);
        return;
    }
    for (int i = 0; i < POOL_SPIN; i++) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != g) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&b->m);
    while (atomic_load(&b->gen) == g)
        pthread_cond_wait(&b->cv, &b->m);
    pthread_mutex_unlock(&b->m);
}

/* Persistent workers released by a barrier for every parallel region (no thread creation or
 * allocation inside the training loop).  Worker t runs part t of T; the caller runs part 0. */
struct cnn_pool {
    int nthr; /* workers + 1 */
    pthread_t th[64];
    spin_barrier start, done;
    cnn *n;
    const cnn_layer *L;
    par_fn fn;
    int T, quit;
};

typedef struct {
    cnn_pool *p;
    int t;
} pool_arg;

static void *pool_main(void *arg)
{
    cnn_pool *p = ((pool_arg *)arg)->p;
    int t = ((pool_arg *)arg)->t;
    free(arg);
    for (;;) {
        sbar_wait(&p->start);
        if (p->quit) break;
        if (t < p->T) p->fn(p->n, p->L, t, p->T);
        sbar_wait(&p->done);
    }
    return NULL;
}

static cnn_pool *pool_alloc(int nthr)
{
    cnn_pool *p = util_calloc(1, sizeof *p);
    p->nthr = nthr;
    sbar_init(&p->start, (unsigned)nthr);
    sbar_init(&p->done, (unsigned)nthr);
    for (int t = 1; t < nthr; t++) {
        pool_arg *a = util_malloc(sizeof *a);
        a->p = p, a->t = t;
        if (pthread_create(&p->th[t], NULL, pool_main, a)) CS_ASSERT(!"pthread_create failed");
    }
    return p;
}

static void pool_free(cnn_pool *p)
{
    if (!p) return;
    p->quit = 1;
    sbar_wait(&p->start);
    for (int t = 1; t < p->nthr; t++)
        pthread_join(p->th[t], NULL);
    sbar_destroy(&p->start);
    sbar_destroy(&p->done);
    free(p);
}

static void par_run(cnn *n, const cnn_layer *L, par_fn fn, int T)
{
    cnn_pool *p = n->pool;
    if (T <= 1 || !p) {
        fn(n, L, 0, 1);
        return;
    }
    p->n = n, p->L = L, p->fn = fn, p->T = T;
    sbar_wait(&p->start);
    fn(n, L, 0, T);
    sbar_wait(&p->done);
}

static void part(int total, int t, int T, int *a, int *b)
{
    *a = (int)((long)total * t / T);
    *b = (int)((long)total * (t + 1) / T);
}

static int wino_ok(const cnn *n, const cnn_layer *L, int Co, int Ci)
{
    const cnn_tensor *to = &n->t[L->out];
    return !n->reference && L->k == 3 && L->stride == 1 && Co >= WINO_MIN && Ci >= WINO_MIN && to->w <= 128;
}

/* C (M x N) = A (M x K) B (K x N) + beta C: cnn_kernels.c's AVX-512 product unless the reference
 * kernels are asked for (or the compiler does not target AVX-512) */
static void gemm_nn(const cnn *n, int M, int N, int K, const float *A, long lda, const float *B, long ldb,
                    float beta, float *C, long ldc)
{
#ifdef CNNK_SGEMM
    if (!n->reference) {
        cnnk_sgemm_nn(M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, (int)lda, B, (int)ldb, beta, C,
                (int)ldc);
}

/* C (M x K) = A (M x N) B^T + C, B (K x N): the weight gradient of an im2col convolution.  The AVX-512
 * dot-product kernel wins over OpenBLAS's packed product only for short rows of C (K <= 96: the stems
 * and the split network's first stages; measured), so longer ones stay with OpenBLAS. */
static void gemm_nt_acc(const cnn *n, int M, int K, int N, const float *A, long lda, const float *B, long ldb,
                        float *C, long ldc)
{
#ifdef CNNK_SGEMM
    if (!n->reference && K <= 96) {
        cnnk_sgemm_nt(M, K, N, A, lda, B, ldb, 1.0f, C, ldc);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, A, (int)lda, B, (int)ldb, 1.0f, C,
                (int)ldc);
}

/* Wt (rows x cols) -> Wtr (cols x rows) */
static void transpose(const float *W, int rows, int cols, float *Wtr)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            Wtr[(long)c * rows + r] = W[(long)r * cols + c];
}

static void conv_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    int nb = n->nb, hwi = ti->h * ti->w, hwo = to->h * to->w, K = L->cin * L->k * L->k;
    long csi = (long)nb * hwi, cso = (long)nb * hwo;
    const float *Wt = n->param + L->p0;
    float *col = n->col + (size_t)t * 2 * n->col_size;
    int direct = L->k == 1 && L->stride == 1, G = cnnk_chunk_images(hwo), a, b;
    int wino = wino_ok(n, L, L->cout, L->cin);
    float *U = n->wf + (size_t)t * n->wf_size;
    if (wino) cnnk_wino_weights(Wt, L->cout, L->cin, 0, U);
    part(nb, t, T, &a, &b);
    for (int g0 = a; g0 < b; g0 += G) {
        int gn = b - g0 < G ? b - g0 : G;
        const float *x = ti->x + L->in_c0 * csi + (long)g0 * hwi;
        float *y = to->x + L->out_c0 * cso + (long)g0 * hwo;
        if (wino) {
            cnnk_wino_conv(x, csi, U, L->cout, L->cin, gn, to->h, to->w, col, col + n->col_size, y, cso);
            continue;
        }
        const float *src = x;
        long ld = csi;
        if (!direct) {
            cnnk_im2col(x, csi, gn, L->cin, ti->h, ti->w, L->k, L->stride, to->h, to->w, col, !n->reference);
            src = col, ld = (long)gn * hwo;
        }
        gemm_nn(n, L->cout, gn * hwo, K, Wt, K, src, ld, 0.0f, y, cso);
    }
}

static void conv_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    int nb = n->nb, hwi = ti->h * ti->w, hwo = to->h * to->w, K = L->cin * L->k * L->k;
    long csi = (long)nb * hwi, cso = (long)nb * hwo;
    const float *Wt = n->param + L->p0;
    float *dW = n->tgrad + (size_t)t * n->n_param + L->p0;
    float *col = n->col + (size_t)t * 2 * n->col_size, *dcol = col + n->col_size;
    int direct = L->k == 1 && L->stride == 1, G = cnnk_chunk_images(hwo), a, b;
    /* 3x3 stride 1: dx is the convolution of dY with the flipped, transposed kernel,
     * dx (cin x N) = Wf (cin x cout 9) . im2col(dY), Wf[ci][co][ky][kx] = W[co][ci][2-ky][2-kx]:
     * no col2im, and the product writes cin rows instead of cin 9 */
    int flip = L->k == 3 && L->stride == 1 && ti->g && !n->reference;
    int wino = flip && wino_ok(n, L, L->cin, L->cout);
    float *Wf = n->wf + (size_t)t * 2 * n->wf_size, *dU = Wf + n->wf_size;
    /* Winograd weight gradient: dU[xi] += dM[xi] V[xi]^T over the chunks, dW += G^T dU G at the end */
    int wgrad = n->mode == CNN_TRAIN && wino_ok(n, L, L->cout, L->cin); /* no dW in cnn_backward_input */
    if (wgrad) memset(dU, 0, 16 * sizeof(float) * L->cout * L->cin);
    if (wino)
        cnnk_wino_weights(Wt, L->cin, L->cout, 1, Wf);
    else if (flip)
        for (int co = 0; co < L->cout; co++)
            for (int ci = 0; ci < L->cin; ci++)
                for (int j = 0; j < 9; j++)
                    Wf[((long)ci * L->cout + co) * 9 + j] = Wt[((long)co * L->cin + ci) * 9 + 8 - j];
    /* dx = W^T dY (1x1, or im2col + col2im): W transposed once (K x cout) into the Wf scratch (K cout
     * <= 9 cin cout < wf_size) so that the products are all of the nn form */
    float *Wtr = Wf;
    if (ti->g && !flip) transpose(Wt, L->cout, K, Wtr);
    part(nb, t, T, &a, &b);
    for (int g0 = a; g0 < b; g0 += G) {
        int gn = b - g0 < G ? b - g0 : G, N = gn * hwo;
        const float *x = ti->x + L->in_c0 * csi + (long)g0 * hwi;
        const float *dy = to->g + L->out_c0 * cso + (long)g0 * hwo;
        const float *src = x;
        long ld = csi;
        if (wgrad) {
            long P = (long)gn * ((to->h + 1) / 2) * ((to->w + 1) / 2), OI = (long)L->cout * L->cin;
            cnnk_wino_input(x, csi, gn, L->cin, ti->h, ti->w, col);
            cnnk_wino_dy(dy, cso, gn, L->cout, to->h, to->w, dcol);
            for (int xi = 0; xi < 16; xi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->cout, L->cin, (int)P, 1.0f,
                            dcol + xi * L->cout * P, (int)P, col + xi * L->cin * P, (int)P, 1.0f,
                            dU + xi * OI, L->cin);
        } else if (n->mode == CNN_TRAIN) {
            if (!direct) {
                cnnk_im2col(x, csi, gn, L->cin, ti->h, ti->w, L->k, L->stride, to->h, to->w, col,
                            !n->reference);
                src = col, ld = N;
            }
            gemm_nt_acc(n, L->cout, K, N, dy, cso, src, ld, dW, K);
        }
        if (!ti->g) continue;
        float *dx = ti->g + L->in_c0 * csi + (long)g0 * hwi;
        if (direct)
            gemm_nn(n, L->cin, N, L->cout, Wtr, L->cout, dy, cso, 0.0f, dx, csi);
        else if (wino)
            cnnk_wino_conv(dy, cso, Wf, L->cin, L->cout, gn, to->h, to->w, dcol, col, dx, csi);
        else if (flip) {
            cnnk_im2col_3x3s1(dy, cso, gn, L->cout, to->h, to->w, dcol);
            gemm_nn(n, L->cin, N, 9 * L->cout, Wf, 9 * L->cout, dcol, N, 0.0f, dx, csi);
        } else {
            for (int ci = 0; ci < L->cin; ci++)
                memset(dx + ci * csi, 0, (size_t)gn * hwi * sizeof(float));
            gemm_nn(n, K, N, L->cout, Wtr, L->cout, dy, cso, 0.0f, dcol, N);
            cnnk_col2im_add(dcol, csi, gn, L->cin, ti->h, ti->w, L->k, L->stride, to->h, to->w, dx);
        }
    }
    if (wgrad) cnnk_wino_wgrad(dU, L->cout, L->cin, dW);
}

/* ---- batch norm (threads over channels) ------------------------------------------------------------ */

/* Sums in 16 independent float lanes (vectorised without reassociation, deterministic), lanes
 * added in double. */
static void sum_shift(const float *x, long N, float x0, double *s, double *s2)
{
    float a[16] = {0}, b[16] = {0};
    long i = 0;
    for (; i + 16 <= N; i += 16)
        for (int j = 0; j < 16; j++) {
            float d = x[i + j] - x0;
            a[j] += d, b[j] += d * d;
        }
    double sa = 0, sb = 0;
    for (; i < N; i++) {
        double d = x[i] - x0;
        sa += d, sb += d * d;
    }
    for (int j = 0; j < 16; j++)
        sa += a[j], sb += b[j];
    *s = sa, *s2 = sb;
}

static void sum_dy(const float *dy, const float *y, const float *x, long N, float m, double *s, double *sx)
{
    float a[16] = {0}, b[16] = {0};
    long i = 0;
    if (y) {
#ifdef __AVX512F__ /* gcc 12 leaves the masked form scalar; the same lanes, the same operations */
        __m512 va = _mm512_setzero_ps(), vb = va, vm = _mm512_set1_ps(m);
        for (; i + 16 <= N; i += 16) {
            __mmask16 k = _mm512_cmp_ps_mask(_mm512_loadu_ps(y + i), _mm512_setzero_ps(), _CMP_GT_OQ);
            __m512 d = _mm512_maskz_mov_ps(k, _mm512_loadu_ps(dy + i));
            va = _mm512_add_ps(va, d);
            vb = _mm512_add_ps(vb, _mm512_mul_ps(d, _mm512_sub_ps(_mm512_loadu_ps(x + i), vm)));
        }
        _mm512_storeu_ps(a, va), _mm512_storeu_ps(b, vb);
#else
        for (; i + 16 <= N; i += 16)
            for (int j = 0; j < 16; j++) {
                float d = y[i + j] > 0 ? dy[i + j] : 0.0f;
                a[j] += d, b[j] += d * (x[i + j] - m);
            }
#endif
    } else
        for (; i + 16 <= N; i += 16)
            for (int j = 0; j < 16; j++)
                a[j] += dy[i + j], b[j] += dy[i + j] * (x[i + j] - m);
    double sa = 0, sb = 0;
    for (; i < N; i++) {
        float d = !y || y[i] > 0 ? dy[i] : 0.0f;
        sa += d, sb += (double)d * (x[i] - m);
    }
    for (int j = 0; j < 16; j++)
        sa += a[j], sb += b[j];
    *s = sa, *sx = sb;
}

static void bn_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    int C = L->cout, nb = n->nb;
    long N = (long)nb * ti->h * ti->w;
    const float *gamma = n->param + L->p0, *beta = gamma + C;
    float *rmean = n->bn_state + L->s0, *rvar = rmean + C;
    int a, b;
    part(C, t, T, &a, &b);
    for (int c = a; c < b; c++) {
        const float *x = ti->x + (L->in_c0 + c) * N;
        float *y = to->x + (L->out_c0 + c) * N;
        double mean, var;
        if (n->mode == CNN_EVAL) {
            mean = rmean[c], var = rvar[c];
        } else {
            /* one pass, shifted by the first value against cancellation */
            double s, s2;
            float x0 = x[0];
            sum_shift(x, N, x0, &s, &s2);
            mean = x0 + s / N;
            s2 = s2 - s * s / N;
            if (s2 < 0) s2 = 0;
            var = s2 / N;
            double unb = N > 1 ? var * N / (N - 1) : var;
            if (n->mode == CNN_TRAIN) {
                rmean[c] = (float)((1 - BN_MOMENTUM) * rmean[c] + BN_MOMENTUM * mean);
                rvar[c] = (float)((1 - BN_MOMENTUM) * rvar[c] + BN_MOMENTUM * unb);
            } else {
                double k = *n->bn_count;
                rmean[c] = (float)((rmean[c] * k + mean) / (k + 1));
                rvar[c] = (float)((rvar[c] * k + unb) / (k + 1));
            }
        }
        float istd = (float)(1 / sqrt(var + BN_EPS)), m = (float)mean;
        L->save[c] = m, L->save[C + c] = istd;
        float sc = gamma[c] * istd, sh = beta[c] - m * sc;
        if (L->relu)
            for (long i = 0; i < N; i++) {
                float v = x[i] * sc + sh;
                y[i] = v > 0 ? v : 0.0f;
            }
        else
            for (long i = 0; i < N; i++)
                y[i] = x[i] * sc + sh;
    }
}

static void bn_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    int C = L->cout, nb = n->nb;
    long N = (long)nb * ti->h * ti->w;
    const float *gamma = n->param + L->p0;
    float *dg = n->tgrad + L->p0, *dbeta = dg + C; /* thread 0's accumulator; channels are disjoint */
    int a, b;
    part(C, t, T, &a, &b);
    if (n->mode == CNN_EVAL) { /* cnn_backward_input: y = gamma istd (x - mean) + beta is affine */
        for (int c = a; c < b; c++) {
            const float *dy = to->g + (L->out_c0 + c) * N, *y = to->x + (L->out_c0 + c) * N;
            float *restrict dx = ti->g + (L->in_c0 + c) * N, k1 = gamma[c] * L->save[C + c];
            for (long i = 0; i < N; i++)
                dx[i] = !L->relu || y[i] > 0 ? k1 * dy[i] : 0.0f;
        }
        return;
    }
    for (int c = a; c < b; c++) {
        const float *x = ti->x + (L->in_c0 + c) * N;
        const float *dy = to->g + (L->out_c0 + c) * N;
        /* the fused ReLU's gradient, dy [y > 0], is applied on the fly (y = NULL: no ReLU) */
        const float *y = L->relu ? to->x + (L->out_c0 + c) * N : NULL;
        float m = L->save[c], istd = L->save[C + c];
        double sdy, sdyx;
        sum_dy(dy, y, x, N, m, &sdy, &sdyx);
        sdyx *= istd; /* sum dy * xhat */
        dg[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!ti->g) continue;
        float *restrict dx = ti->g + (L->in_c0 + c) * N;
        float k1 = gamma[c] * istd, k2 = (float)(sdy / N), k3 = (float)(sdyx / N) * istd;
        if (y)
            for (long i = 0; i < N; i++)
                dx[i] = k1 * ((y[i] > 0 ? dy[i] : 0.0f) - k2 - (x[i] - m) * k3);
        else
            for (long i = 0; i < N; i++)
                dx[i] = k1 * (dy[i] - k2 - (x[i] - m) * k3);
    }
}

/* ---- element-wise, pooling, linear ---------------------------------------------------------------- */

static void relu_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    long cs = (long)n->nb * ti->h * ti->w, tot = cs * L->cout;
    const float *x = ti->x + L->in_c0 * cs;
    float *y = to->x + L->out_c0 * cs;
    long a = tot * t / T, b = tot * (t + 1) / T;
    for (long i = a; i < b; i++)
        y[i] = x[i] > 0 ? x[i] : 0.0f;
}

static void relu_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    long cs = (long)n->nb * ti->h * ti->w, tot = cs * L->cout;
    const float *y = to->x + L->out_c0 * cs, *dy = to->g + L->out_c0 * cs;
    float *dx = ti->g + L->in_c0 * cs;
    long a = tot * t / T, b = tot * (t + 1) / T;
    for (long i = a; i < b; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0.0f;
}

static void add_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *a = &n->t[L->in], *b = &n->t[L->in2];
    cnn_tensor *o = &n->t[L->out];
    long sz = (long)n->nb * o->c * o->h * o->w, i0 = sz * t / T, i1 = sz * (t + 1) / T;
    for (long i = i0; i < i1; i++)
        o->x[i] = a->x[i] + b->x[i];
}

static void add_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    cnn_tensor *a = &n->t[L->in], *b = &n->t[L->in2];
    const cnn_tensor *o = &n->t[L->out];
    long sz = (long)n->nb * o->c * o->h * o->w, i0 = sz * t / T, i1 = sz * (t + 1) / T;
    memcpy(a->g + i0, o->g + i0, (i1 - i0) * sizeof(float));
    memcpy(b->g + i0, o->g + i0, (i1 - i0) * sizeof(float));
}

static void gap_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    int hw = ti->h * ti->w, c0, c1;
    long cs = (long)n->nb * hw;
    part(L->cout, t, T, &c0, &c1);
    for (int c = c0; c < c1; c++)
        for (int img = 0; img < n->nb; img++) {
            const float *x = ti->x + (L->in_c0 + c) * cs + (long)img * hw;
            float s = 0;
            for (int i = 0; i < hw; i++)
                s += x[i];
            to->x[(size_t)img * to->c + L->out_c0 + c] = s / hw;
        }
}

static void gap_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    int hw = ti->h * ti->w, c0, c1;
    long cs = (long)n->nb * hw;
    part(L->cout, t, T, &c0, &c1);
    for (int c = c0; c < c1; c++)
        for (int img = 0; img < n->nb; img++) {
            float *dx = ti->g + (L->in_c0 + c) * cs + (long)img * hw;
            float d = to->g[(size_t)img * to->c + L->out_c0 + c] / hw;
            for (int i = 0; i < hw; i++)
                dx[i] = d;
        }
}

static void linear_fwd(cnn *n, const cnn_layer *L)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    const float *Wt = n->param + L->p0, *bias = Wt + (long)L->cin * L->cout;
    for (int img = 0; img < n->nb; img++)
        memcpy(to->x + (size_t)img * L->cout, bias, L->cout * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n->nb, L->cout, L->cin, 1.0f, ti->x, ti->c, Wt,
                L->cin, 1.0f, to->x, L->cout);
}

static void linear_bwd(cnn *n, const cnn_layer *L)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    const float *Wt = n->param + L->p0;
    float *dW = n->tgrad + L->p0, *db = dW + (long)L->cin * L->cout;
    if (n->mode == CNN_TRAIN) { /* no dW in cnn_backward_input */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->cout, L->cin, n->nb, 1.0f, to->g, L->cout,
                    ti->x, ti->c, 1.0f, dW, L->cin);
        for (int img = 0; img < n->nb; img++)
            for (int o = 0; o < L->cout; o++)
                db[o] += to->g[(size_t)img * L->cout + o];
    }
    if (ti->g)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n->nb, L->cin, L->cout, 1.0f, to->g, L->cout,
                    Wt, L->cin, 0.0f, ti->g, ti->c);
}

/* ---- passes -------------------------------------------------------------------------------------------- */

void cnn_forward(cnn *n, const float *x, int nb, cnn_mode mode)
{
    CS_ASSERT(nb >= 1 && nb <= n->cfg.batch);
    n->nb = nb, n->mode = mode;
    const cnn_tensor *t0 = &n->t[0];
    int hw = t0->h * t0->w;
    for (int img = 0; img < nb; img++) /* (nb x C x HW) -> (C x nb x HW) */
        for (int c = 0; c < t0->c; c++)
            memcpy(t0->x + ((long)c * nb + img) * hw, x + ((long)img * t0->c + c) * hw, hw * sizeof(float));
    int T = n->cfg.threads;
    for (int i = 0; i < n->n_layer; i++) {
        const cnn_layer *L = &n->layer[i];
        double tl = n->ltime ? util_now() : 0; /* the layer's start, for ltime */
        switch (L->type) {
        case CNN_CONV:
            par_run(n, L, conv_fwd, T < nb ? T : nb);
            break;
        case CNN_BN:
            par_run(n, L, bn_fwd, T < L->cout ? T : L->cout);
            break;
        case CNN_RELU:
            par_run(n, L, relu_fwd, T < nb ? T : nb);
            break;
        case CNN_ADD:
            par_run(n, L, add_fwd, T);
            break;
        case CNN_GAP:
            par_run(n, L, gap_fwd, T < L->cout ? T : L->cout);
            break;
        case CNN_LINEAR:
            linear_fwd(n, L);
            break;
        }
        if (n->ltime) n->ltime[i] += util_now() - tl;
    }
    if (mode == CNN_REESTIMATE) *n->bn_count += 1;
}

const float *cnn_logits(const cnn *n)
{
    return n->t[n->n_tensor - 1].x;
}

double cnn_loss(cnn *n, const int *y, int *correct, int dlogits)
{
    const cnn_tensor *to = &n->t[n->n_tensor - 1];
    int K = to->c, hits = 0;
    double loss = 0;
    for (int img = 0; img < n->nb; img++) {
        const float *z = to->x + (size_t)img * K;
        int am = 0;
        double mx = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > mx) mx = z[k], am = k;
        double s = 0;
        for (int k = 0; k < K; k++)
            s += exp(z[k] - mx);
        loss += log(s) + mx - z[y[img]];
        hits += am == y[img];
        if (dlogits) {
            float *g = to->g + (size_t)img * K;
            for (int k = 0; k < K; k++)
                g[k] = (float)((exp(z[k] - mx) / s - (k == y[img])) / n->nb);
        }
    }
    if (correct) *correct = hits;
    return loss / n->nb;
}

static void backward_layers(cnn *n);

void cnn_backward(cnn *n)
{
    CS_ASSERT(n->mode == CNN_TRAIN);
    int T = n->cfg.threads;
    /* No zeroing of activation gradients: the builder gives every tensor with a gradient exactly one
     * consumer per channel range, so each layer's backward writes (not accumulates) its input's
     * gradient. */
    memset(n->tgrad, 0, (size_t)T * n->n_param * sizeof(float));
    backward_layers(n);
    memcpy(n->grad, n->tgrad, n->n_param * sizeof(float));
    for (int t = 1; t < T; t++) {
        const float *g = n->tgrad + (size_t)t * n->n_param;
        for (long j = 0; j < n->n_param; j++)
            n->grad[j] += g[j];
    }
}

void cnn_backward_input(cnn *n, float *dx)
{
    CS_ASSERT(n->mode == CNN_EVAL);
    cnn_tensor *t0 = &n->t[0];
    t0->g = dx ? n->gin : NULL;
    backward_layers(n);
    t0->g = NULL;
    if (!dx) return;
    int hw = t0->h * t0->w, nb = n->nb;
    for (int img = 0; img < nb; img++) /* (C x nb x HW) -> (nb x C x HW) */
        for (int c = 0; c < t0->c; c++)
            memcpy(dx + ((long)img * t0->c + c) * hw, n->gin + ((long)c * nb + img) * hw, hw * sizeof(float));
}

static void backward_layers(cnn *n)
{
    int T = n->cfg.threads, nb = n->nb;
    for (int i = n->n_layer - 1; i >= 0; i--) {
        const cnn_layer *L = &n->layer[i];
        double tl = n->ltime ? util_now() : 0; /* the layer's start, for ltime */
        switch (L->type) {
        case CNN_CONV:
            par_run(n, L, conv_bwd, T < nb ? T : nb);
            break;
        case CNN_BN:
            par_run(n, L, bn_bwd, T < L->cout ? T : L->cout);
            break;
        case CNN_RELU:
            par_run(n, L, relu_bwd, T < nb ? T : nb);
            break;
        case CNN_ADD:
            par_run(n, L, add_bwd, T);
            break;
        case CNN_GAP:
            par_run(n, L, gap_bwd, T < L->cout ? T : L->cout);
            break;
        case CNN_LINEAR:
            linear_bwd(n, L);
            break;
        }
        if (n->ltime) n->ltime[i] += util_now() - tl;
    }
}

void cnn_sgd_step(cnn *n, double lr, double momentum, double wd)
{
    float flr = (float)lr, fm = (float)momentum, fwd = (float)wd;
    for (long j = 0; j < n->n_param; j++) {
        float g = n->grad[j] + fwd * n->param[j];
        n->mom[j] = fm * n->mom[j] + g;
        n->param[j] -= flr * n->mom[j];
    }
}

void cnn_bn_reset(cnn *n)
{
    *n->bn_count = 0;
    for (int i = 0; i < n->n_layer; i++) {
        const cnn_layer *L = &n->layer[i];
        if (L->type != CNN_BN) continue;
        float *st = n->bn_state + L->s0;
        for (int c = 0; c < L->cout; c++)
            st[c] = 0, st[L->cout + c] = 1;
    }
}

int cnn_finite(const cnn *n)
{
    for (long j = 0; j < n->n_param; j++)
        if (!isfinite(n->param[j])) return 0;
    for (long j = 0; j < n->n_state; j++)
        if (!isfinite(n->bn_state[j])) return 0;
    return 1;
}
