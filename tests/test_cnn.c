/* test_cnn.c - the CNN layers and architectures: backward passes against central finite
 * differences, a frozen PyTorch reference (tests/data/cnn_ref.txt from gen_cnn_ref.py), thread-count
 * consistency, batch-norm modes, the AVX-512 products of cnn_kernels.c against OpenBLAS.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "check.h"
#include "cnn.h"
#include "cnn_kernels.h"
#include "util.h"

static uint64_t rs = 12345;
static double urand(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (rs >> 11) * 0x1.0p-53;
}
static double nrand(void)
{
    return sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand());
}

/* ---- finite differences ------------------------------------------------------------------------ */

static double loss_at(cnn *n, const float *x, const int *y, int nb)
{
    cnn_forward(n, x, nb, CNN_TRAIN);
    return cnn_loss(n, y, NULL, 0);
}

/* For every layer with parameters, compare up to 8 entries of the analytic gradient with central
 * differences of the (double-accumulated) loss.  Tolerance: float32 forward passes give a loss error
 * of ~1e-7 relative, so with h = 3e-4 the difference quotient carries ~3e-4 noise plus O(h^2)
 * truncation and occasional ReLU-kink crossings; we require the relative error of the vector of
 * checked entries per layer, |fd - an| / (|fd| + |an|), to be below 2e-2 (a wrong backward gives O(1)). */
static void fd_check(const cnn_cfg *cfg, const char *label)
{
    cnn *n = cnn_alloc(cfg);
    CHECK(n != NULL);
    if (!n) return;
    cnn_init(n, 7);
    for (long j = 0; j < n->n_param; j++) /* non-trivial BN affine parameters and biases */
        if (n->param[j] == 1.0f)
            n->param[j] = (float)(0.7 + 0.6 * urand());
        else if (n->param[j] == 0.0f)
            n->param[j] = (float)(0.2 * (urand() - 0.5));
    int nb = cfg->batch, nin = cfg->in_c * cfg->in_h * cfg->in_w;
    float *x = malloc(sizeof(float) * nb * nin);
    int *y = malloc(sizeof(int) * nb);
    for (int i = 0; i < nb * nin; i++)
        x[i] = (float)nrand();
    for (int i = 0; i < nb; i++)
        y[i] = i % cfg->n_class;
    loss_at(n, x, y, nb);
    cnn_loss(n, y, NULL, 1);
    cnn_backward(n);
    float *an = malloc(sizeof(float) * n->n_param);
    memcpy(an, n->grad, sizeof(float) * n->n_param);
    double worst = 0;
    for (int i = 0; i < n->n_layer; i++) {
        const cnn_layer *L = &n->layer[i];
        if (L->np == 0) continue;
        double num = 0, den = 0;
        for (int s = 0; s < 8 && s < L->np; s++) {
            long j = L->p0 + (L->np <= 8 ? s : (long)(urand() * L->np));
            float keep = n->param[j];
            double h = 3e-4;
            n->param[j] = keep + (float)h;
            double lp = loss_at(n, x, y, nb);
            n->param[j] = keep - (float)h;
            double lm = loss_at(n, x, y, nb);
            n->param[j] = keep;
            double fd = (lp - lm) / (2 * h);
            num += fabs(fd - an[j]);
            den += fabs(fd) + fabs(an[j]);
        }
        double rel = num / (den + 1e-12);
        if (rel > worst) worst = rel;
        if (!(rel < 2e-2)) printf("  %s layer %s: relative error %.3g\n", label, L->name, rel);
        CHECK(rel < 2e-2);
    }
    printf("  finite differences %s: worst per-layer relative error %.2g\n", label, worst);
    free(an), free(x), free(y);
    cnn_free(n);
}

/* ---- thread-count consistency ------------------------------------------------------------------ */

static void thread_check(cnn_cfg cfg)
{
    cfg.threads = 1;
    cnn *a = cnn_alloc(&cfg);
    cfg.threads = 2;
    cnn *b = cnn_alloc(&cfg);
    cnn_init(a, 3), cnn_init(b, 3);
    int nb = cfg.batch, nin = cfg.in_c * cfg.in_h * cfg.in_w;
    float *x = malloc(sizeof(float) * nb * nin);
    int *y = malloc(sizeof(int) * nb);
    for (int i = 0; i < nb * nin; i++)
        x[i] = (float)nrand();
    for (int i = 0; i < nb; i++)
        y[i] = i % cfg.n_class;
    double la = 0, lb = 0;
    for (int s = 0; s < 3; s++) {
        cnn_forward(a, x, nb, CNN_TRAIN), cnn_forward(b, x, nb, CNN_TRAIN);
        la = cnn_loss(a, y, NULL, 1), lb = cnn_loss(b, y, NULL, 1);
        cnn_backward(a), cnn_backward(b);
        cnn_sgd_step(a, 0.05, 0.9, 1e-3), cnn_sgd_step(b, 0.05, 0.9, 1e-3);
    }
    /* 1 vs 2 threads differ only in the order of the weight-gradient sums: float rounding, 1e-5 */
    CHECK_CLOSE(lb, la, 1e-5, 1e-6);
    double md = 0;
    for (long j = 0; j < a->n_param; j++)
        md = fmax(md, fabs(a->param[j] - b->param[j]));
    CHECK(md < 1e-4);
    /* Determinism: the same thread count reproduces itself bit for bit */
    cnn *c = cnn_alloc(&cfg);
    cnn_init(c, 3);
    for (int s = 0; s < 3; s++) {
        cnn_forward(c, x, nb, CNN_TRAIN);
        cnn_loss(c, y, NULL, 1);
        cnn_backward(c);
        cnn_sgd_step(c, 0.05, 0.9, 1e-3);
    }
    CHECK(memcmp(c->param, b->param, sizeof(float) * b->n_param) == 0);
    free(x), free(y);
    cnn_free(a), cnn_free(b), cnn_free(c);
}

/* ---- kernel variants against the reference kernels ------------------------------------------------ */

/* The specialised kernels (flipped-kernel backward data pass, fused masked batch-norm backward, ...)
 * against n->reference = 1 (plain im2col + sgemm + col2im) on one training step: the same
 * mathematics in a different summation order, so float rounding only: 1e-4 relative on the
 * gradients (as the 1-vs-2-thread check) and on the logits. */
static void variant_check(cnn_cfg cfg)
{
    cnn *a = cnn_alloc(&cfg), *b = cnn_alloc(&cfg);
    cnn_init(a, 5), cnn_init(b, 5);
    b->reference = 1;
    int nb = cfg.batch, nin = cfg.in_c * cfg.in_h * cfg.in_w;
    float *x = malloc(sizeof(float) * nb * nin);
    int *y = malloc(sizeof(int) * nb);
    for (int i = 0; i < nb * nin; i++)
        x[i] = (float)nrand();
    for (int i = 0; i < nb; i++)
        y[i] = i % cfg.n_class;
    cnn_forward(a, x, nb, CNN_TRAIN), cnn_forward(b, x, nb, CNN_TRAIN);
    double la = cnn_loss(a, y, NULL, 1), lb = cnn_loss(b, y, NULL, 1);
    CHECK_CLOSE(la, lb, 1e-5, 1e-6);
    cnn_backward(a), cnn_backward(b);
    double num = 0, den = 0, worst = 0;
    for (long j = 0; j < a->n_param; j++) {
        double d = fabs((double)a->grad[j] - b->grad[j]);
        num += d, den += fabs(b->grad[j]);
        if (d > worst) worst = d;
    }
    CHECK(num / (den + 1e-30) < 1e-4);
    printf(
        "  kernel variants vs reference (%dx%d, width %d, %d threads): gradient relative difference %.2g\n",
        cfg.in_h, cfg.in_w, cfg.width, cfg.threads, num / (den + 1e-30));
    free(x), free(y);
    cnn_free(a), cnn_free(b);
}

/* ---- the AVX-512 products of cnn_kernels.c against OpenBLAS ------------------------------------------ */

/* Shapes with every tail (rows not a multiple of 8 or 4, columns not a multiple of 32 or 16, leading
 * dimensions larger than the rows), beta 0 and 1.  Both sum the same K (or N) products in float in a
 * different order: the difference is float rounding, bounded by K eps sum |a b| (eps = 2^-24); with
 * entries in [-0.5, 0.5) that is below 1e-5 K / 4, checked as 1e-6 relative + 1e-6 K absolute. */
static void sgemm_check(void)
{
#ifdef CNNK_SGEMM
    static const int shapes[][3] = {{1, 1, 1},     {3, 17, 5},   {8, 32, 9},   {13, 100, 18},
                                    {16, 245, 32}, {21, 33, 70}, {64, 320, 64}};
    double worst = 0;
    uint64_t saved = rs; /* the later checks keep their random draws */
    for (size_t q = 0; q < sizeof shapes / sizeof shapes[0]; q++) {
        int M = shapes[q][0], N = shapes[q][1], K = shapes[q][2], lda = K + 3, ldb = N + 5, ldc = N + 2;
        float *A = malloc(sizeof(float) * M * lda), *B = malloc(sizeof(float) * K * ldb);
        float *C = malloc(sizeof(float) * M * ldc), *D = malloc(sizeof(float) * M * ldc);
        for (int i = 0; i < M * lda; i++)
            A[i] = (float)(urand() - 0.5);
        for (int i = 0; i < K * ldb; i++)
            B[i] = (float)(urand() - 0.5);
        for (int beta = 0; beta <= 1; beta++) {
            for (int i = 0; i < M * ldc; i++)
                C[i] = D[i] = (float)(urand() - 0.5);
            cnnk_sgemm_nn(M, N, K, A, lda, B, ldb, (float)beta, C, ldc);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, (float)beta,
                        D, ldc);
            double ex = 0; /* worst excess over the bound */
            for (int i = 0; i < M * ldc; i++) {
                double d = fabs(C[i] - D[i]);
                ex = fmax(ex, d - (1e-6 * fabs(D[i]) + 1e-6 * K));
                worst = fmax(worst, d);
            }
            CHECK(ex <= 0);
        }
        /* nt: C (M x K) = A (M x N) B^T (+ C) with B (K x N): reuse A as (M x N) with ld lda2 */
        int lda2 = N + 1, ldb2 = N + 4, ldc2 = K + 1;
        float *A2 = malloc(sizeof(float) * M * lda2), *B2 = malloc(sizeof(float) * K * ldb2);
        float *C2 = malloc(sizeof(float) * M * ldc2), *D2 = malloc(sizeof(float) * M * ldc2);
        for (int i = 0; i < M * lda2; i++)
            A2[i] = (float)(urand() - 0.5);
        for (int i = 0; i < K * ldb2; i++)
            B2[i] = (float)(urand() - 0.5);
        for (int beta = 0; beta <= 1; beta++) {
            for (int i = 0; i < M * ldc2; i++)
                C2[i] = D2[i] = (float)(urand() - 0.5);
            cnnk_sgemm_nt(M, K, N, A2, lda2, B2, ldb2, (float)beta, C2, ldc2);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, A2, lda2, B2, ldb2,
                        (float)beta, D2, ldc2);
            double ex = 0;
            for (int i = 0; i < M * ldc2; i++) {
                double d = fabs(C2[i] - D2[i]);
                ex = fmax(ex, d - (1e-6 * fabs(D2[i]) + 1e-6 * N));
                worst = fmax(worst, d);
            }
            CHECK(ex <= 0);
        }
        free(A), free(B), free(C), free(D), free(A2), free(B2), free(C2), free(D2);
    }
    rs = saved;
    printf("  AVX-512 sgemm nn/nt vs OpenBLAS: worst difference %.2g\n", worst);
#else
    printf("  AVX-512 sgemm: not compiled (no AVX-512 target); OpenBLAS is used\n");
#endif
}

/* ---- frozen PyTorch reference -------------------------------------------------------------------- */

static double *ref_block(FILE *f, const char *name, int want)
{
    char buf[128], nm[64];
    int cnt;
    rewind(f);
    while (fgets(buf, sizeof buf, f)) {
        if (sscanf(buf, "%63s %d", nm, &cnt) == 2 && !strcmp(nm, name) && strchr(buf, '.') == NULL) {
            CHECK_INT(cnt, want);
            if (cnt != want) return NULL;
            double *v = malloc(sizeof(double) * cnt);
            for (int i = 0; i < cnt; i++)
                if (!fgets(buf, sizeof buf, f) || util_parse_double(strtok(buf, "\n"), &v[i])) {
                    free(v);
                    return NULL;
                }
            return v;
        }
    }
    printf("  reference block %s missing\n", name);
    return NULL;
}

static void ref_check(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) {
        printf("  cannot open %s\n", path);
        return;
    }
    cnn_cfg cfg = {.arch = CNN_SPLIT,
                   .in_c = 2,
                   .in_h = 8,
                   .in_w = 8,
                   .n_src = 2,
                   .n_class = 3,
                   .width = 2,
                   .depth = 1,
                   .fuse_after = 0,
                   .fusion = CNN_FUSE_SUM,
                   .batch = 4,
                   .threads = 1};
    cnn *n = cnn_alloc(&cfg);
    CHECK_INT(n->n_param, 315);
    double *x = ref_block(f, "x", 512), *yy = ref_block(f, "y", 4), *p = ref_block(f, "params", 315);
    double *lg = ref_block(f, "logits", 12), *ls = ref_block(f, "loss", 1), *g = ref_block(f, "grads", 315);
    double *sl = ref_block(f, "sgd_losses", 10), *bn = ref_block(f, "bn_running", 32);
    fclose(f);
    if (!(x && yy && p && lg && ls && g && sl && bn) || n->n_param != 315) {
        CHECK(!"reference file incomplete");
        goto done;
    }
    float xf[512];
    int y[4];
    for (int i = 0; i < 512; i++)
        xf[i] = (float)x[i];
    for (int i = 0; i < 4; i++)
        y[i] = (int)yy[i];
    for (int i = 0; i < 315; i++)
        n->param[i] = (float)p[i];
    cnn_forward(n, xf, 4, CNN_TRAIN);
    double loss = cnn_loss(n, y, NULL, 1);
    cnn_backward(n);
    double got[315];
    for (int i = 0; i < 12; i++)
        got[i] = cnn_logits(n)[i];
    /* float32 on both sides, different summation orders: ~1e-6 relative; BN divides by small batch
     * standard deviations, which can amplify rounding to ~1e-5 */
    CHECK_ARRAY_CLOSE(got, lg, 12, 1e-4, 1e-5);
    CHECK_CLOSE(loss, ls[0], 1e-5, 1e-6);
    for (int i = 0; i < 315; i++)
        got[i] = n->grad[i];
    CHECK_ARRAY_CLOSE(got, g, 315, 1e-3, 1e-5); /* gradients: one more pass of float rounding */
    double l10[10];
    /* PyTorch's SGD copy starts from the state after the first pass (one running-statistics update),
     * then runs 10 more training passes */
    for (int k = 0; k < 10; k++) {
        cnn_forward(n, xf, 4, CNN_TRAIN);
        l10[k] = cnn_loss(n, y, NULL, 1);
        cnn_backward(n);
        cnn_sgd_step(n, 0.1, 0.9, 1e-3);
    }
    /* 10 steps let float differences grow (losses fall to ~0.1); 1e-4 relative */
    CHECK_ARRAY_CLOSE(l10, sl, 10, 1e-4, 1e-6);
    for (int i = 0; i < 32; i++)
        got[i] = n->bn_state[i];
    CHECK_ARRAY_CLOSE(got, bn, 32, 1e-4, 1e-5);
    printf("  PyTorch reference: loss %.9g (torch %.9g), 10-step loss %.9g (torch %.9g)\n", loss, ls[0],
           l10[9], sl[9]);
done:
    free(x), free(yy), free(p), free(lg), free(ls), free(g), free(sl), free(bn);
    cnn_free(n);
}

/* ---- batch norm modes, configuration errors -------------------------------------------------------- */

static void bn_modes(void)
{
    cnn_cfg cfg = {.arch = CNN_FUSED,
                   .in_c = 1,
                   .in_h = 6,
                   .in_w = 6,
                   .n_class = 4,
                   .width = 2,
                   .depth = 1,
                   .batch = 8,
                   .threads = 1};
    cnn *n = cnn_alloc(&cfg);
    float x[8 * 36];
    for (int i = 0; i < 8 * 36; i++)
        x[i] = (float)nrand();
    /* re-estimation over one batch = that batch's statistics, so EVAL reproduces TRAIN's logits */
    cnn_forward(n, x, 8, CNN_TRAIN);
    float l1[32];
    memcpy(l1, cnn_logits(n), sizeof l1);
    cnn_bn_reset(n);
    cnn_forward(n, x, 8, CNN_REESTIMATE);
    cnn_forward(n, x, 8, CNN_EVAL);
    double a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = cnn_logits(n)[i], b[i] = l1[i];
    /* running variance is the unbiased one (factor N/(N-1) = 288/287 on the first layer): ~3e-3 */
    CHECK_ARRAY_CLOSE(a, b, 32, 2e-2, 2e-2);
    CHECK(cnn_finite(n));
    cnn_free(n);
    cnn_cfg bad = cfg;
    bad.arch = CNN_SPLIT, bad.n_src = 2; /* 1 channel cannot be split into 2 sources */
    CHECK(cnn_alloc(&bad) == NULL);
    CHECK(strstr(util_errmsg(), "sources") != NULL);
}

int main(int argc, char **argv)
{
    const char *ref = argc > 1 ? argv[1] : "tests/data/cnn_ref.txt";
    sgemm_check();
    ref_check(ref);
    cnn_cfg fused = {.arch = CNN_FUSED,
                     .in_c = 2,
                     .in_h = 7,
                     .in_w = 7,
                     .n_class = 3,
                     .width = 2,
                     .depth = 2,
                     .batch = 4,
                     .threads = 1};
    fd_check(&fused, "fused");
    cnn_cfg sum = {.arch = CNN_SPLIT,
                   .in_c = 2,
                   .in_h = 6,
                   .in_w = 6,
                   .n_src = 2,
                   .n_class = 3,
                   .width = 2,
                   .depth = 1,
                   .fuse_after = 0,
                   .fusion = CNN_FUSE_SUM,
                   .batch = 4,
                   .threads = 2};
    fd_check(&sum, "split-sum");
    cnn_cfg cat = {.arch = CNN_SPLIT,
                   .in_c = 2,
                   .in_h = 8,
                   .in_w = 8,
                   .n_src = 2,
                   .n_class = 3,
                   .width = 2,
                   .depth = 2,
                   .fuse_after = 1,
                   .fusion = CNN_FUSE_CONCAT,
                   .batch = 3,
                   .threads = 2};
    fd_check(&cat, "split-concat");
    cnn_cfg big = {.arch = CNN_SPLIT,
                   .in_c = 2,
                   .in_h = 12,
                   .in_w = 12,
                   .n_src = 2,
                   .n_class = 5,
                   .width = 4,
                   .depth = 2,
                   .fuse_after = 1,
                   .fusion = CNN_FUSE_SUM,
                   .batch = 6,
                   .threads = 1};
    thread_check(big);
    variant_check(big);
    cnn_cfg wide = {.arch = CNN_FUSED,
                    .in_c = 2,
                    .in_h = 14,
                    .in_w = 14,
                    .n_class = 10,
                    .width = 8,
                    .depth = 2,
                    .batch = 9,
                    .threads = 2};
    variant_check(wide);
    /* non-square planes, odd and even sides, widths above the Winograd threshold (16 channels) */
    cnn_cfg odd = {.arch = CNN_FUSED,
                   .in_c = 2,
                   .in_h = 9,
                   .in_w = 12,
                   .n_class = 4,
                   .width = 16,
                   .depth = 1,
                   .batch = 3,
                   .threads = 1};
    variant_check(odd);
    cnn_cfg sq = {.arch = CNN_SPLIT,
                  .in_c = 2,
                  .in_h = 11,
                  .in_w = 11,
                  .n_src = 2,
                  .n_class = 4,
                  .width = 16,
                  .depth = 2,
                  .fuse_after = 1,
                  .fusion = CNN_FUSE_CONCAT,
                  .batch = 5,
                  .threads = 2};
    variant_check(sq);
    bn_modes();
    return check_done("test_cnn");
}
