/* test_cnn_probe.c - measurements on a cnn (cnn_probe.h): the averaged Jacobian against central finite
 * differences, the per-source blocks, the sampled RSV on networks built to have single-source units
 * (RSV -1 / +1) and symmetric units (RSV 0) and against rsv.c's generic protocol, the Fisher trace
 * against an exact trace computed independently (finite differences of log p over every label), the
 * Monte-Carlo estimator against that exact trace, and the non-finite failures.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cnn.h"
#include "cnn_probe.h"
#include "rsv.h"
#include "train.h"
#include "util.h"

static uint64_t rs = 777;
static double urand(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (rs >> 11) * 0x1.0p-53;
}
static double nrand(void)
{
    return sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand());
}

/* A network with non-trivial batch-norm affine parameters and running statistics. */
static cnn *tiny(cnn_cfg cfg, uint64_t seed)
{
    cnn *n = cnn_alloc(&cfg);
    CS_ASSERT(n);
    cnn_init(n, seed);
    for (int i = 0; i < n->n_layer; i++) {
        const cnn_layer *L = &n->layer[i];
        if (L->type != CNN_BN) continue;
        for (int c = 0; c < L->cout; c++) {
            n->param[L->p0 + c] = (float)(0.6 + 0.8 * urand());
            n->param[L->p0 + L->cout + c] = (float)(0.3 * (urand() - 0.3));
            n->bn_state[L->s0 + c] = (float)(0.2 * nrand());
            n->bn_state[L->s0 + L->cout + c] = (float)(0.5 + urand());
        }
    }
    return n;
}

static float *images(int nimg, int nin)
{
    float *x = malloc(sizeof(float) * nimg * nin);
    for (int i = 0; i < nimg * nin; i++)
        x[i] = (float)nrand();
    return x;
}

/* mean over images of the logits, accumulated in double */
static void mean_logits(cnn *n, const float *x, int nimg, double *z)
{
    int K = n->cfg.n_class;
    memset(z, 0, sizeof(double) * K);
    for (int i = 0; i < nimg; i++) {
        cnn_forward(n, x + (long)i * n->cfg.in_c * n->cfg.in_h * n->cfg.in_w, 1, CNN_EVAL);
        const float *l = cnn_logits(n);
        for (int k = 0; k < K; k++)
            z[k] += l[k] / (double)nimg;
    }
}

/* ---- Jacobian vs central differences -------------------------------------------------------------- */

/* In evaluation mode the network is piecewise linear in its input (convolutions, affine batch norm,
 * ReLU, average pooling, linear), so a central difference is exact up to rounding unless a ReLU kink
 * lies within h of the point.  Rounding: float32 logits of size O(1) carry ~1e-6 absolute error
 * (a few ulps accumulated over ~100 terms), so with h = 1e-2 the quotient carries ~1e-4; we allow
 * 3e-4 absolute + 1e-3 relative (measured: worst 4e-5).  A kink crossing shows as an O(|J|) error in a few
 * entries; with the seeds below none occurs (the test prints the count), and a wrong backward pass fails
 * almost every entry. */
static void jacobian_check(cnn_cfg cfg, const char *label)
{
    cnn *n = tiny(cfg, 11);
    cnnp *p = cnnp_alloc(n);
    int nimg = 5, K = cfg.n_class, nin = cfg.in_c * cfg.in_h * cfg.in_w;
    float *x = images(nimg, nin);
    double *J = malloc(sizeof(double) * K * nin), zp[16], zm[16];
    CHECK_INT(cnnp_jacobian(p, n, x, nimg, J), CS_OK);
    long bad = 0;
    double worst = 0, h = 1e-2;
    for (int j = 0; j < nin; j++) {
        float keep[8];
        for (int i = 0; i < nimg; i++)
            keep[i] = x[i * nin + j], x[i * nin + j] = keep[i] + (float)h;
        mean_logits(n, x, nimg, zp);
        for (int i = 0; i < nimg; i++)
            x[i * nin + j] = keep[i] - (float)h;
        mean_logits(n, x, nimg, zm);
        for (int i = 0; i < nimg; i++)
            x[i * nin + j] = keep[i];
        for (int k = 0; k < K; k++) {
            /* perturbing pixel j of every image at once: the mean logit moves by the mean Jacobian */
            double fd = (zp[k] - zm[k]) / (2 * h), an = J[(long)k * nin + j], err = fabs(fd - an);
            if (err > 3e-4 + 1e-3 * fabs(fd)) bad++;
            worst = fmax(worst, err);
        }
    }
    printf("  Jacobian %s: %d entries, worst |fd - analytic| %.2g, %ld beyond tolerance\n", label, K * nin,
           worst, bad);
    CHECK_INT(bad, 0);
    /* the per-source blocks are the named columns of J */
    cnnp_sources s = {.n_src = 2, .col0 = {0, cfg.in_w / 2}, .col1 = {cfg.in_w / 2, cfg.in_w}};
    int np = cnnp_source_pixels(n, &s, 1), cg = cfg.in_c / 2, hw = cfg.in_h * cfg.in_w;
    CHECK_INT(np, cg * cfg.in_h * (cfg.in_w - cfg.in_w / 2));
    double *m = malloc(sizeof(double) * K * np);
    cnnp_source_map(n, &s, 1, J, m);
    int row = cfg.in_h - 1, col = cfg.in_w - 1, ch = cfg.in_c - 1; /* last pixel of source b */
    CHECK(m[(long)(K - 1) * np + np - 1] == J[(long)(K - 1) * nin + ch * hw + row * cfg.in_w + col]);
    CHECK(m[0] == J[cg * hw + cfg.in_w / 2]);
    free(m), free(J), free(x);
    cnnp_free(p);
    cnn_free(n);
}

/* ---- RSV ------------------------------------------------------------------------------------------------
 */

static void rsv_single_source(void)
{
    /* split network, concatenation: the fused tensor's first half of the channels comes from pathway
     * a only, the second from b only, so SV_b = 0 exactly there (RSV = -1) and SV_a = 0 (RSV = +1) */
    cnn_cfg cfg = {.arch = CNN_SPLIT,
                   .in_c = 2,
                   .in_h = 8,
                   .in_w = 8,
                   .n_src = 2,
                   .n_class = 3,
                   .width = 3,
                   .depth = 2,
                   .fuse_after = 1,
                   .fusion = CNN_FUSE_CONCAT,
                   .batch = 16,
                   .threads = 2};
    cnn *n = tiny(cfg, 5);
    cnnp *p = cnnp_alloc(n);
    int L = cnnp_find_layer(n, "a.stage1.b"), nbat = 6, slots = 4, nin = 2 * 64;
    CHECK(L >= 0);
    if (L < 0) return;
    long nu = cnnp_rsv_units(n, L, slots);
    const cnn_tensor *T = &n->t[n->layer[L].out];
    CHECK_INT(nu, (long)slots * T->c * T->h * T->w);
    float *x = images(nbat * slots, nin);
    double *sa = malloc(sizeof(double) * nu), *sb = malloc(sizeof(double) * nu);
    cnnp_rsv(p, n, L, x, nbat, slots, sa, sb);
    long wrong = 0, live = 0, hw = T->h * T->w;
    for (long u = 0; u < nu; u++) {
        int ch = (int)(u / hw % T->c);
        double r = rsv_value(sa[u], sb[u]);
        if (isnan(r)) continue; /* a dead unit */
        live++;
        if (r != (ch < T->c / 2 ? -1.0 : 1.0)) wrong++;
    }
    printf("  RSV single-source: %ld units, %ld live, %ld wrong\n", nu, live, wrong);
    CHECK_INT(wrong, 0);
    CHECK(live > nu / 2);
    free(x), free(sa), free(sb);
    cnnp_free(p);
    cnn_free(n);
}

/* Generic protocol of rsv.c, one evaluation per forward pass: an independent driver of the same
 * estimator against which cnnp_rsv (several evaluations per pass, its own pair order) is checked. */
typedef struct {
    cnn *n;
    const float *x;
    int slots, L;
    float *buf;
} gen_ctx;
static void gen_eval(void *c, int ia, int ib, float *z)
{
    gen_ctx *g = c;
    int nin = g->n->cfg.in_c * g->n->cfg.in_h * g->n->cfg.in_w, half = nin / 2;
    for (int j = 0; j < g->slots; j++) {
        memcpy(g->buf + j * nin, g->x + (ia * g->slots + j) * nin, sizeof(float) * half);
        memcpy(g->buf + j * nin + half, g->x + (ib * g->slots + j) * nin + half, sizeof(float) * half);
    }
    cnn_forward(g->n, g->buf, g->slots, CNN_EVAL);
    const cnn_tensor *T = &g->n->t[g->n->layer[g->L].out];
    int hw = T->h * T->w;
    for (int j = 0; j < g->slots; j++)
        for (int ch = 0; ch < T->c; ch++)
            for (int q = 0; q < hw; q++)
                *z++ = T->x[((long)ch * g->slots + j) * hw + q];
}

static void rsv_symmetric(void)
{
    /* split network, fusion by sum, pathway b a copy of pathway a, and probe images whose two halves
     * are equal: z(x_a, x_b) = g(f(x_a) + f(x_b)) with the same multiset of inputs in both passes, so
     * SV_a = SV_b up to the rounding of the sums (RSV 0 within 1e-4) */
    cnn_cfg cfg = {.arch = CNN_SPLIT,
                   .in_c = 2,
                   .in_h = 8,
                   .in_w = 8,
                   .n_src = 2,
                   .n_class = 3,
                   .width = 3,
                   .depth = 2,
                   .fuse_after = 1,
                   .fusion = CNN_FUSE_SUM,
                   .batch = 16,
                   .threads = 2};
    cnn *n = tiny(cfg, 9);
    int la = cnnp_find_layer(n, "a.stem.conv3x3"), lb = cnnp_find_layer(n, "b.stem.conv3x3");
    CHECK(la >= 0 && lb > la);
    if (la < 0 || lb < 0) return;
    for (int i = 0; i < lb - la; i++) { /* the pathways' layers are in the same order */
        const cnn_layer *A = &n->layer[la + i], *B = &n->layer[lb + i];
        CHECK_INT(A->np, B->np);
        memcpy(n->param + B->p0, n->param + A->p0, sizeof(float) * A->np);
        if (A->type == CNN_BN) memcpy(n->bn_state + B->s0, n->bn_state + A->s0, sizeof(float) * 2 * A->cout);
    }
    cnnp *p = cnnp_alloc(n);
    int nbat = 5, slots = 3, nin = 128;
    float *x = images(nbat * slots, nin);
    for (int i = 0; i < nbat * slots; i++)
        memcpy(x + i * nin + 64, x + i * nin, sizeof(float) * 64);
    int L = cnnp_default_rsv_layer(n);
    CHECK(L == cnnp_find_layer(n, "stage2.b.bn+relu"));
    /* the names a message lists: the representation layers, no convolution, no linear head */
    char *names = cnnp_layer_names(n);
    CHECK(strstr(names, "stage2.b.bn+relu") != NULL && strstr(names, "conv3x3") == NULL);
    CHECK(names[0] != ' ' && strstr(names, "  ") == NULL);
    free(names);
    long nu = cnnp_rsv_units(n, L, slots), live = 0;
    double *sa = malloc(sizeof(double) * nu), *sb = malloc(sizeof(double) * nu), worst = 0;
    cnnp_rsv(p, n, L, x, nbat, slots, sa, sb);
    for (long u = 0; u < nu; u++) {
        double r = rsv_value(sa[u], sb[u]);
        if (isnan(r) || sa[u] + sb[u] < 1e-8) continue; /* dead: no variance to compare */
        live++;
        worst = fmax(worst, fabs(r));
    }
    printf("  RSV symmetric: %ld units, %ld live, worst |RSV| %.2g\n", nu, live, worst);
    CHECK(live > nu / 4); /* ReLU units dead on every probe image carry no variance */
    CHECK(worst < 1e-4);

    /* the same estimator through rsv_sampled, on random (asymmetric) images: the same unit values in
     * the same order of accumulation, computed with another batch composition (float rounding of the
     * forward pass only: 1e-5 relative) */
    float *x2 = images(nbat * slots, nin), *buf = malloc(sizeof(float) * 16 * nin);
    double *ga = malloc(sizeof(double) * nu), *gb = malloc(sizeof(double) * nu),
           *rr = malloc(sizeof(double) * nu);
    cnnp_rsv(p, n, L, x2, nbat, slots, sa, sb);
    gen_ctx g = {n, x2, slots, L, buf};
    rsv_sampled(&g, gen_eval, nbat, (size_t)nu, rr, ga, gb);
    double w2 = 0;
    for (long u = 0; u < nu; u++)
        w2 = fmax(w2, fmax(fabs(sa[u] - ga[u]), fabs(sb[u] - gb[u])) / (1e-6 + fabs(ga[u]) + fabs(gb[u])));
    printf("  RSV vs rsv_sampled: worst relative difference %.2g\n", w2);
    CHECK(w2 < 1e-5);
    free(x), free(x2), free(buf), free(sa), free(sb), free(ga), free(gb), free(rr);
    cnnp_free(p);
    cnn_free(n);
}

/* ---- Fisher ---------------------------------------------------------------------------------------------
 */

/* log p(y | x) of one image, in double from the float logits */
static double logp(cnn *n, const float *x, int y)
{
    int K = n->cfg.n_class;
    cnn_forward(n, x, 1, CNN_EVAL);
    const float *z = cnn_logits(n);
    double mx = z[0], s = 0;
    for (int k = 1; k < K; k++)
        mx = fmax(mx, z[k]);
    for (int k = 0; k < K; k++)
        s += exp(z[k] - mx);
    return z[y] - mx - log(s);
}

static void fisher_check(void)
{
    cnn_cfg cfg = {.arch = CNN_FUSED,
                   .in_c = 1,
                   .in_h = 6,
                   .in_w = 6,
                   .n_class = 3,
                   .width = 2,
                   .depth = 1,
                   .batch = 8,
                   .threads = 1};
    cnn *n = tiny(cfg, 21);
    cnnp *p = cnnp_alloc(n);
    int nimg = 3, nin = 36, K = 3, nl = cnnp_fisher_layers(n, NULL), idx[64];
    cnnp_fisher_layers(n, idx);
    CHECK_INT(nl, 5); /* stem, stage1.a, stage1.b, head conv, linear */
    float *x = images(nimg, nin);
    /* independent exact trace: d log p(y|x) / d w by central differences for every weight of every
     * layer, every image and label, weighted by p(y|x).  log p is smooth in the weights between ReLU
     * kinks; float32 logits carry ~1e-7 relative rounding, so with h = 1e-3 the quotient carries
     * ~1e-4 absolute error and O(h^2) truncation: per-layer traces agree to 1e-2 relative. */
    double ex[64] = {0}, s2[3][3] = {{0}}, pr[3][3];
    for (int i = 0; i < nimg; i++)
        for (int y = 0; y < K; y++)
            pr[i][y] = exp(logp(n, x + i * nin, y));
    for (int l = 0; l < nl; l++) {
        const cnn_layer *L = &n->layer[idx[l]];
        long nw = L->type == CNN_LINEAR ? (long)L->cin * L->cout : L->np;
        for (long j = L->p0; j < L->p0 + nw; j++) {
            float keep = n->param[j];
            double h = 1e-3;
            for (int i = 0; i < nimg; i++)
                for (int y = 0; y < K; y++) {
                    n->param[j] = keep + (float)h;
                    double lp = logp(n, x + i * nin, y);
                    n->param[j] = keep - (float)h;
                    double lm = logp(n, x + i * nin, y);
                    n->param[j] = keep;
                    double d = (lp - lm) / (2 * h);
                    ex[l] += pr[i][y] * d * d / nimg;
                    s2[i][y] += d * d;
                }
        }
    }
    double tr[64], tot = 0, extot = 0;
    CHECK_INT(cnnp_fisher(p, n, x, nimg, 1, 1, tr, &tot), CS_OK);
    for (int l = 0; l < nl; l++) {
        CHECK_CLOSE(tr[l], ex[l], 1e-2, 1e-6);
        extot += ex[l];
    }
    CHECK_CLOSE(tot, extot, 1e-2, 1e-6);
    printf("  Fisher exact trace %.6g (finite differences %.6g)\n", tot, extot);

    /* the Monte-Carlo estimator (one sampled label per image) on N copies of the images: unbiased, with
     * standard error sqrt(mean_i Var_y(s_iy) / N) from the exact per-label norms s_iy; 5 standard
     * errors (a wrong sampler, e.g. true or uniform labels, is off by many) */
    int N = 1200;
    float *xr = malloc(sizeof(float) * N * nin);
    for (int r = 0; r < N; r++)
        memcpy(xr + r * nin, x + (r % nimg) * nin, sizeof(float) * nin);
    double var = 0;
    for (int i = 0; i < nimg; i++) {
        double m1 = 0, m2 = 0;
        for (int y = 0; y < K; y++)
            m1 += pr[i][y] * s2[i][y], m2 += pr[i][y] * s2[i][y] * s2[i][y];
        var += (m2 - m1 * m1) / nimg;
    }
    double se = sqrt(var / N), mc;
    CHECK_INT(cnnp_fisher(p, n, xr, N, 12345, 0, tr, &mc), CS_OK);
    printf("  Fisher Monte Carlo (N = %d) %.6g, exact %.6g, standard error %.3g\n", N, mc, extot, se);
    CHECK(fabs(mc - extot) < 5 * se);
    /* deterministic in the seed */
    double mc2;
    cnnp_fisher(p, n, xr, N, 12345, 0, tr, &mc2);
    CHECK(mc2 == mc);

    /* non-finite values are failures (CS_EFAIL), not silent numbers */
    double *J = malloc(sizeof(double) * K * nin);
    n->param[n->layer[1].p0] = 1e38f; /* the first batch norm's gamma: activations overflow */
    n->param[0] = 1e38f;
    CHECK_INT(cnnp_jacobian(p, n, x, nimg, J), CS_EFAIL);
    CHECK_INT(cnnp_fisher(p, n, x, nimg, 1, 0, tr, &mc), CS_EFAIL);
    free(J), free(x), free(xr);
    cnnp_free(p);
    cnn_free(n);
}

/* ---- the training loop's failure path ------------------------------------------------------------------ */

static int syn_epoch(void *c, int e)
{
    return 2;
}
static void syn_fill(float *x, int *y, int n, int nin, int salt)
{
    for (int i = 0; i < n * nin; i++)
        x[i] = (float)sin(0.37 * i + salt);
    for (int i = 0; i < n; i++)
        y[i] = (i + salt) % 3;
}
static void syn_batch(void *c, int b, float *x, int *y)
{
    syn_fill(x, y, 8, 128, b);
}
static void syn_test(void *c, int first, int count, float *x, int *y)
{
    syn_fill(x, y, count, 128, 7 + first);
}

static void train_failure_check(void)
{
    /* a network with finite weights whose Jacobian overflows (the head's batch-norm gamma and the linear
     * weights 1e38: their product exceeds the float range): the run stops with CS_EFAIL at the snapshot
     * of the initial state, before training, and epochs.dat ends with the contract's line naming the
     * epoch and the reason */
    cnn_cfg cfg = {.arch = CNN_FUSED,
                   .in_c = 2,
                   .in_h = 8,
                   .in_w = 8,
                   .n_src = 2,
                   .n_class = 3,
                   .width = 2,
                   .depth = 1,
                   .batch = 8,
                   .threads = 1};
    cnn *n = cnn_alloc(&cfg);
    cnn_init(n, 1);
    const cnn_layer *hb = &n->layer[cnnp_find_layer(n, "head")], *lin = &n->layer[n->n_layer - 1];
    for (int c = 0; c < hb->cout; c++)
        n->param[hb->p0 + c] = 1e38f;
    for (long j = 0; j < (long)lin->cin * lin->cout; j++)
        n->param[lin->p0 + j] = 1e38f;
    char dir[] = "/tmp/critsim_cnnp_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    train_source src = {NULL, syn_epoch, syn_batch, 16, syn_test};
    train_cfg tc = {.epochs = 2, .lr0 = 0.01, .momentum = 0.9, .decay = 1, .bn_batches = 1, .out = dir};
    tc.meas = (train_meas){.snap_every = 1,
                           .snap_ref = -1,
                           .n_probe = 16,
                           .srcs = {2, {0, 4}, {4, 8}},
                           .rsv_layer = -1,
                           .rsv_batches = 2,
                           .src_eval = 1};
    train_epoch hist[2];
    int done = -1;
    CHECK_INT(train_run(n, &tc, &src, NULL, hist, &done), CS_EFAIL);
    CHECK_INT(done, 0);
    char path[256], line[512], last[512] = "";
    snprintf(path, sizeof path, "%s/epochs.dat", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    while (f && fgets(line, sizeof line, f))
        snprintf(last, sizeof last, "%s", line);
    if (f) fclose(f);
    CHECK(strncmp(last, "# FAILED at step 0: non-finite Jacobian", 39) == 0);
    printf("  failure: %s", last);
    snprintf(path, sizeof path, "%s/snap/index.dat", dir);
    f = fopen(path, "r");
    CHECK(f != NULL); /* the snapshot folder is complete (no snapshot) */
    if (f) fclose(f);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    cnn_free(n);
}

int main(void)
{
    cnn_cfg fused = {.arch = CNN_FUSED,
                     .in_c = 2,
                     .in_h = 7,
                     .in_w = 8,
                     .n_src = 2,
                     .n_class = 4,
                     .width = 3,
                     .depth = 1,
                     .batch = 4,
                     .threads = 2};
    jacobian_check(fused, "fused");
    cnn_cfg split = {.arch = CNN_SPLIT,
                     .in_c = 2,
                     .in_h = 8,
                     .in_w = 6,
                     .n_src = 2,
                     .n_class = 3,
                     .width = 2,
                     .depth = 2,
                     .fuse_after = 1,
                     .fusion = CNN_FUSE_CONCAT,
                     .batch = 3,
                     .threads = 1};
    jacobian_check(split, "split (batch 3 < 5 images: several chunks)");
    /* Winograd layers (>= 16 channels) in the input-gradient pass */
    cnn_cfg wide = {.arch = CNN_FUSED,
                    .in_c = 2,
                    .in_h = 6,
                    .in_w = 6,
                    .n_src = 2,
                    .n_class = 3,
                    .width = 16,
                    .depth = 1,
                    .batch = 8,
                    .threads = 2};
    jacobian_check(wide, "fused width 16");
    rsv_single_source();
    rsv_symmetric();
    fisher_check();
    train_failure_check();
    return check_done("test_cnn_probe");
}
