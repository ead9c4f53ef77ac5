/* cnn.c - float32 convolutional network: the two architectures (builder), allocation and
 * initialisation, the forward and backward passes over the layers, the loss, SGD.  See include/cnn.h
 * for layouts and conventions.
 *
 * Files (shared declarations: cnn_impl.h):
 *   cnn.c           this file
 *   cnn_layers.c    each layer's forward and backward computation (convolution, batch norm, ReLU, sum,
 *                   global average pooling, linear) and its mathematics
 *   cnn_pool.c      the worker threads a pass runs each layer's parts on
 *   cnn_kernels.c   the convolution kernels (im2col/col2im, Winograd F(2x2, 3x3), AVX-512 products)
 *
 * Mathematics (per image; the layers' own in cnn_layers.c):
 *   softmax cross-entropy averaged over the batch, loss = mean_img (log sum_k exp z_k - z_y), and
 *   dlogits = (softmax - onehot) / B;
 *   SGD with momentum and weight decay: g = grad + wd theta, m = momentum m + g, theta -= lr m.
 * Non-goals: dilation, groups, padding modes other than zeros, in-place layers.
 */
/* Simple loops that need the vectoriser (the layers' reasons in cnn_layers.c): O3 here only; no
 * fast-math (results stay IEEE and deterministic). */
#pragma GCC optimize("O3")
#include "cnn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "cnn_impl.h"
#include "cnn_kernels.h"
#include "util.h"

#define CNN_MAXL 256

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
    if (T > 1) n->pool = cnn_pool_alloc(T);
    cnn_init(n, 1);
    return n;
}

void cnn_free(cnn *n)
{
    if (!n) return;
    cnn_pool_free(n->pool);
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
            cnn_pool_run(n, L, cnnl_conv_fwd, T < nb ? T : nb);
            break;
        case CNN_BN:
            cnn_pool_run(n, L, cnnl_bn_fwd, T < L->cout ? T : L->cout);
            break;
        case CNN_RELU:
            cnn_pool_run(n, L, cnnl_relu_fwd, T < nb ? T : nb);
            break;
        case CNN_ADD:
            cnn_pool_run(n, L, cnnl_add_fwd, T);
            break;
        case CNN_GAP:
            cnn_pool_run(n, L, cnnl_gap_fwd, T < L->cout ? T : L->cout);
            break;
        case CNN_LINEAR:
            cnnl_linear_fwd(n, L);
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
            cnn_pool_run(n, L, cnnl_conv_bwd, T < nb ? T : nb);
            break;
        case CNN_BN:
            cnn_pool_run(n, L, cnnl_bn_bwd, T < L->cout ? T : L->cout);
            break;
        case CNN_RELU:
            cnn_pool_run(n, L, cnnl_relu_bwd, T < nb ? T : nb);
            break;
        case CNN_ADD:
            cnn_pool_run(n, L, cnnl_add_bwd, T);
            break;
        case CNN_GAP:
            cnn_pool_run(n, L, cnnl_gap_bwd, T < L->cout ? T : L->cout);
            break;
        case CNN_LINEAR:
            cnnl_linear_bwd(n, L);
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
