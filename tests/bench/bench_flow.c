/* bench_flow.c - speed of the full-matrix linear engine (prints figures, asserts nothing).
 *
 *  1. GD steps/s of the ICLR 2024 multipath model: hierarchy, 2 pathways, shared input, width 100, D = 4.
 *  2. Matrix completion 100 x 100, D = 3, m = 2000 observed entries: time per iteration, the flops one
 *     iteration performs (3 dense 100^3 products + 3 sparse passes of m x 100), and that rate as a
 *     fraction of OpenBLAS dgemm at n = 100 and at n = 1000 (peak).  Reference: the official PyTorch
 *     code needs 0.35-0.9 ms per iteration (float32, 2-core EPYC); the target is at least 2x faster.
 * Run with OPENBLAS_NUM_THREADS=1 (make bench sets it) for single-core figures; the completion step is
 * also timed with its gradient split over 2 threads (dln_set_threads), which needs a quiet machine.
 */
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>

#include "dln.h"
#include "task.h"
#include "util.h"

static double dgemm_gflops(int n, int reps)
{
    double *A = util_malloc(sizeof(double) * n * n), *B = util_malloc(sizeof(double) * n * n),
           *C = util_calloc((size_t)n * n, sizeof(double));
    for (int i = 0; i < n * n; i++) {
        A[i] = 1.0 / (1 + i % 7);
        B[i] = 1.0 / (1 + i % 5);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
    double t0 = util_now();
    for (int r = 0; r < reps; r++)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
    double dt = util_now() - t0;
    free(A);
    free(B);
    free(C);
    return 2.0 * n * n * (double)n * reps / dt / 1e9;
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    /* 1. multipath */
    task_cfg hc = {.kind = TASK_HIER, .n_src = 1};
    task t;
    task_build(&hc, &t);
    dln_cfg mp = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 4, .width = 100, .loss = DLN_LOSS_SUM};
    dln *d;
    dln_alloc(&mp, &t, &d);
    double k0 = 0.01;
    dln_init(d, DLN_INIT_ALIGNED, 0, 0, &k0, 1, rng);
    long n1 = 20000;
    double t0 = util_now();
    for (long s = 0; s < n1; s++) {
        dln_set_step(d, s);
        dln_gd_step(d, 0.01);
    }
    double dt = util_now() - t0;
    printf("multipath (hier, 2 pathways, shared input, width 100, D = 4): %.0f GD steps/s (%.1f us/step)\n",
           n1 / dt, 1e6 * dt / n1);
    dln_free(d);
    task_free(&t);

    /* 2. matrix completion */
    task_cfg mc = {.kind = TASK_COMPLETION, .n = 100, .rank1 = 10, .n_obs = 2000, .seed = 1};
    task_build(&mc, &t);
    dln_cfg fc = {.arch = DLN_FUSED, .depth = 3, .width = 100};
    dln_alloc(&fc, &t, &d);
    dln_init(d, DLN_INIT_GAUSS, 0.001, 0, NULL, 0, rng);
    for (long s = 0; s < 200; s++)
        dln_gd_step(d, 0.2);
    long n2 = 5000;
    t0 = util_now();
    for (long s = 0; s < n2; s++) {
        dln_set_step(d, s);
        dln_gd_step(d, 0.2);
    }
    dt = util_now() - t0;
    double per = dt / n2, n = 100, m = 2000;
    double flops = 3 * 2 * n * n * n + 3 * 2 * m * n; /* 3 dense products + 3 sparse passes */
    double g100 = dgemm_gflops(100, 4000), g1000 = dgemm_gflops(1000, 10);
    printf("matrix completion 100x100, D = 3, m = 2000: %.3f ms/iteration, %.0f iterations/s\n", 1e3 * per,
           1 / per);
    printf("  %.2f Mflop/iteration -> %.2f GFLOP/s; dgemm n=100: %.2f GFLOP/s (%.0f%%), n=1000 (peak): %.2f "
           "GFLOP/s (%.0f%%)\n",
           flops / 1e6, flops / per / 1e9, g100, 100 * flops / per / 1e9 / g100, g1000,
           100 * flops / per / 1e9 / g1000);
    printf("  official PyTorch: 0.35-0.9 ms/iteration -> speed-up %.1fx to %.1fx\n", 0.35e-3 / per,
           0.9e-3 / per);
    /* the same gradient split over 2 threads (flow --threads 2; bit-identical trajectory) */
    if (dln_set_threads(d, 2) == CS_OK) {
        for (long s = 0; s < 200; s++)
            dln_gd_step(d, 0.2);
        t0 = util_now();
        for (long s = 0; s < n2; s++) {
            dln_set_step(d, s);
            dln_gd_step(d, 0.2);
        }
        double per2 = (util_now() - t0) / n2;
        printf("  --threads 2: %.3f ms/iteration (%.2fx the single thread) -> %.1fx to %.1fx the official "
               "code\n",
               1e3 * per2, per / per2, 0.35e-3 / per2, 0.9e-3 / per2);
        dln_set_threads(d, 1);
    }
    /* D = 1 and D = 2 for the depth sweep */
    for (int D = 1; D <= 2; D++) {
        dln *e;
        dln_cfg c2 = {.arch = DLN_FUSED, .depth = D, .width = 100};
        dln_alloc(&c2, &t, &e);
        dln_init(e, DLN_INIT_GAUSS, 0.001, 0, NULL, 0, rng);
        t0 = util_now();
        for (long s = 0; s < n2; s++)
            dln_gd_step(e, 0.2);
        printf("matrix completion D = %d: %.3f ms/iteration\n", D, 1e3 * (util_now() - t0) / n2);
        dln_free(e);
    }
    dln_free(d);
    task_free(&t);
    gsl_rng_free(rng);
    return 0;
}
