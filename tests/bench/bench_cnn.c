/* bench_cnn.c - training throughput of critsim's CNN (forward + backward + SGD update, batch 128,
 * 2 x 28 x 28 inputs, 10 classes) for the default network, a 20 M-multiply-add All-CNN-style net and a
 * ~3 M-multiply-add split net, at 1 and 2 threads; the share of time in the convolutions and their
 * effective fraction of the single-thread OpenBLAS sgemm peak (direct-method flops over time: the
 * Winograd layers do fewer multiplications, so this can exceed 100%); seconds per Fashion-MNIST epoch
 * (60000 images) of the default network; the cost of a snapshot (Jacobian + RSV, 256-image probe) and of
 * a 256-sample Fisher estimate against a 10000-image training epoch.  Prints figures, asserts nothing.  The
 * same networks in PyTorch: tests/bench/bench_cnn_torch.py.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn.h"
#include "cnn_probe.h"
#include "util.h"

static double sgemm_peak(void)
{
    int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++)
        a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double t0 = util_now();
    int reps = 5;
    for (int r = 0; r < reps; r++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double dt = util_now() - t0;
    free(a), free(b), free(c);
    return 2.0 * n * n * n * reps / dt;
}

static void bench(const char *name, cnn_cfg cfg, double peak, double *ips_out)
{
    cnn *n = cnn_alloc(&cfg);
    if (!n) {
        printf("%s: %s\n", name, util_errmsg());
        return;
    }
    cnn_init(n, 1);
    int B = cfg.batch, nin = cfg.in_c * cfg.in_h * cfg.in_w;
    float *x = malloc(sizeof(float) * B * nin);
    int *y = malloc(sizeof(int) * B);
    for (int i = 0; i < B * nin; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1;
    for (int i = 0; i < B; i++)
        y[i] = i % cfg.n_class;
    n->ltime = calloc(n->n_layer, sizeof(double));
    for (int w = 0; w < 2; w++) { /* warm-up */
        cnn_forward(n, x, B, CNN_TRAIN);
        cnn_loss(n, y, NULL, 1);
        cnn_backward(n);
        cnn_sgd_step(n, 0.01, 0.9, 5e-4);
    }
    memset(n->ltime, 0, n->n_layer * sizeof(double));
    int steps = 0;
    double t0 = util_now(), dt;
    do {
        cnn_forward(n, x, B, CNN_TRAIN);
        cnn_loss(n, y, NULL, 1);
        cnn_backward(n);
        cnn_sgd_step(n, 0.01, 0.9, 5e-4);
        steps++;
        dt = util_now() - t0;
    } while (dt < 3.0 || steps < 3);
    double ips = steps * (double)B / dt;
    double tconv = 0, tbn = 0, conv_macs = 0;
    for (int i = 0; i < n->n_layer; i++) {
        const cnn_layer *L = &n->layer[i];
        if (L->type == CNN_CONV) {
            tconv += n->ltime[i];
            const cnn_tensor *to = &n->t[L->out];
            conv_macs += (double)L->cout * L->cin * L->k * L->k * to->h * to->w;
        }
        if (L->type == CNN_BN) tbn += n->ltime[i];
    }
    /* forward + backward = 3 products of the forward's size (dx skipped for the first layer: ignored) */
    double conv_flops = 3 * 2 * conv_macs * B * steps;
    printf(
        "%-34s threads %d: %7.0f images/s  (%.3g M multiply-adds/image, %ld params); convolutions %.0f%% of "
        "the time at %.0f%% of sgemm peak (effective), batch norm %.0f%%\n",
        name, cfg.threads, ips, n->macs / 1e6, n->n_param, 100 * tconv / dt,
        100 * conv_flops / tconv / (peak * cfg.threads), 100 * tbn / dt);
    if (getenv("BENCH_LAYERS"))
        for (int i = 0; i < n->n_layer; i++)
            printf("    %-22s %6.2f ms/step\n", n->layer[i].name, 1e3 * n->ltime[i] / steps);
    if (ips_out) *ips_out = ips;
    free(n->ltime);
    n->ltime = NULL;
    free(x), free(y);
    cnn_free(n);
}

/* Cost of the measurements of `critsim cnn` (cnn_probe.h) against one training epoch of 10000 images at
 * the command's default batch (64): a snapshot (Jacobian of the logits over a 256-image probe + the RSV
 * of the default layer, 16 batches of 16) and a 256-sample Fisher estimate. */
static void bench_meas(const char *name, cnn_cfg cfg)
{
    cnn *n = cnn_alloc(&cfg);
    cnn_init(n, 1);
    cnnp *p = cnnp_alloc(n);
    int B = cfg.batch, nin = cfg.in_c * cfg.in_h * cfg.in_w, np = 256, K = cfg.n_class;
    float *x = malloc(sizeof(float) * np * nin);
    int *y = malloc(sizeof(int) * B);
    for (int i = 0; i < np * nin; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1;
    for (int i = 0; i < B; i++)
        y[i] = i % K;
    int r = 0;
    double t0 = util_now(), t;
    do { /* training steps */
        cnn_forward(n, x, B, CNN_TRAIN);
        cnn_loss(n, y, NULL, 1);
        cnn_backward(n);
        cnn_sgd_step(n, 0.01, 0.9, 5e-4);
        r++;
    } while ((t = util_now() - t0) < 2.0);
    double epoch = t / r * 10000.0 / B;
    double *J = malloc(sizeof(double) * K * nin), tj, tr = 0, tf, tot;
    r = 0, t0 = util_now();
    do
        cnnp_jacobian(p, n, x, np, J), r++;
    while ((tj = util_now() - t0) < 1.0);
    tj /= r;
    int L = cnnp_default_rsv_layer(n);
    long nu = cnnp_rsv_units(n, L, 16);
    double *sa = malloc(sizeof(double) * nu), *sb = malloc(sizeof(double) * nu), tr_l[64];
    r = 0, t0 = util_now();
    do
        cnnp_rsv(p, n, L, x, 16, 16, sa, sb), r++;
    while ((tr = util_now() - t0) < 1.0);
    tr /= r;
    r = 0, t0 = util_now();
    do
        cnnp_fisher(p, n, x, np, 1, 0, tr_l, &tot), r++;
    while ((tf = util_now() - t0) < 1.0);
    tf /= r;
    printf(
        "%-34s threads %d: training epoch of 10000 images (batch %d) %.2f s; snapshot with a 256-image "
        "probe %.3f s = %.1f%% (Jacobian %.3f s, RSV of %s %.3f s); Fisher, 256 samples, %.3f s = %.1f%%\n",
        name, cfg.threads, B, epoch, tj + tr, 100 * (tj + tr) / epoch, tj, n->layer[L].name, tr, tf,
        100 * tf / epoch);
    free(J), free(sa), free(sb), free(x), free(y);
    cnnp_free(p);
    cnn_free(n);
}

int main(void)
{
    double peak = sgemm_peak();
    printf("OpenBLAS sgemm peak (1024^3, 1 thread): %.1f GFLOP/s\n", peak / 1e9);
    cnn_cfg def = {.arch = CNN_FUSED,
                   .in_c = 2,
                   .in_h = 28,
                   .in_w = 28,
                   .n_src = 2,
                   .n_class = 10,
                   .width = 16,
                   .depth = 2,
                   .batch = 128,
                   .threads = 1};
    cnn_cfg big = def;
    big.width = 32;
    cnn_cfg split = def;
    split.arch = CNN_SPLIT, split.width = 10, split.fuse_after = 1, split.fusion = CNN_FUSE_SUM;
    double ips1 = 0, ips2 = 0;
    for (int T = 1; T <= 2; T++) {
        def.threads = big.threads = split.threads = T;
        bench("default (fused W16 D2)", def, peak, T == 1 ? &ips1 : &ips2);
        bench("All-CNN-style 20M (fused W32 D2)", big, peak, NULL);
        bench("split (W10 D2 fuse-after 1 sum)", split, peak, NULL);
    }
    /* one Fashion-MNIST epoch: 60000 training images + BN re-estimation (20 batches) + 10000 test
     * images forward (a forward pass costs about a third of a training step) */
    double work = 60000 + (20 * 128 + 10000) / 3.0;
    printf(
        "default network, one Fashion-MNIST epoch (60000 images): %.1f s at 1 thread, %.1f s at 2 threads\n",
        work / ips1, work / ips2);
    cnn_cfg cdef = def, csplit = def;
    cdef.batch = csplit.batch = 64;
    csplit.arch = CNN_SPLIT, csplit.fuse_after = 1, csplit.fusion = CNN_FUSE_SUM;
    for (int T = 1; T <= 2; T++) {
        cdef.threads = csplit.threads = T;
        bench_meas("measurements, default (fused W16 D2)", cdef);
        bench_meas("measurements, split W16 D2 fuse-after 1", csplit);
    }
    return 0;
}
