/* bench_table.c - critsim's side of the performance table (issue 14), one measurement per call, one
 * parseable line per figure ("key value ..."), for tests/bench/table.sh, which runs each measurement
 * back to back with its PyTorch reference and prints the ratios.  Asserts nothing.
 *
 *   bench_table blas              OpenBLAS kernel (openblas_get_corename) and dgemm / sgemm GFLOP/s at
 *                                 n = 1024 on 1 thread (the "peak" of the fractions below)
 *   bench_table mp CRITSIM REPS   the ICLR 2024 Fig. 2 multipath run: `critsim flow --model
 *                                 models/flow_fig2.ini --every 1` with b gated on [0,150), [400,550),
 *                                 [750,900), best of REPS (wall seconds for the 3 runs, start-up
 *                                 included), the same with --every 1000 (recording cost by difference),
 *                                 and the GD step in-process (no recording) with its flop rate
 *   bench_table mc REPS           deep matrix completion 100 x 100, D = 3, m = 2000, 1 thread: ms per
 *                                 iteration (best of REPS blocks) and the fraction of dgemm peak
 *   bench_table cnn ARCH W T SECS CNN training step (batch 128, 2 x 28 x 28 inputs, 10 classes; ARCH
 *                                 fused or split (fuse-after 1, sum)): images/s, the convolutions' share
 *                                 of the time and their effective fraction of T x the sgemm peak
 *   bench_table width N T         multipath GD step (Fig. 2 shapes) at hidden width N on T OpenBLAS
 *                                 threads: ms per step (CPU time at T = 1, wall at T = 2), and the
 *                                 memory-bound floor: every weight read once and written once per step,
 *                                 at the read+write bandwidth measured here (a 64 MB a += s b sweep)
 * Figures are best-of (the machine may be shared: the least disturbed run is the cleanest figure);
 * single-threaded work is also timed in CPU seconds (`..._cpu` keys), the steadier figure when other
 * processes compete for the cores (on a quiet machine the two agree).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cnn.h"
#include "dln.h"
#include "task.h"
#include "util.h"

char *openblas_get_corename(void);

/* CPU seconds of this process (all its threads): on a loaded machine the steadier figure for
 * single-threaded work; wall time (util_now) is what a user sees and what 2-thread figures need */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static double gemm_gflops(int dbl, int n, int reps)
{
    size_t sz = (size_t)n * n * (dbl ? sizeof(double) : sizeof(float));
    void *a = util_malloc(sz), *b = util_malloc(sz), *c = util_calloc(1, sz);
    for (long i = 0; i < (long)n * n; i++) {
        if (dbl)
            ((double *)a)[i] = 1.0 / (1 + i % 7), ((double *)b)[i] = 1.0 / (1 + i % 5);
        else
            ((float *)a)[i] = 1.0f / (1 + i % 7), ((float *)b)[i] = 1.0f / (1 + i % 5);
    }
    double best = INFINITY;
    for (int r = 0; r <= reps; r++) { /* r = 0: warm-up; CPU time (1 thread): steadier when shared */
        double t0 = cpu_now();
        if (dbl)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = cpu_now() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    free(a), free(b), free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

static int cmd_blas(void)
{
    openblas_set_num_threads(1);
    printf("corename %s\n", openblas_get_corename());
    printf("dgemm1024 %.2f\n", gemm_gflops(1, 1024, 5));
    printf("sgemm1024 %.2f\n", gemm_gflops(0, 1024, 5));
    return 0;
}

/* best wall time of a shell command over reps runs (-1 when it fails); *cpu: the least CPU time of its
 * processes */
static double best_cmd(const char *cmd, int reps, double *cpu)
{
    double best = INFINITY, bc = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = util_now(), c0 = children_cpu();
        if (system(cmd) != 0) return -1;
        double dt = util_now() - t0, dc = children_cpu() - c0;
        if (dt < best) best = dt;
        if (dc < bc) bc = dc;
    }
    if (cpu) *cpu = bc;
    return best;
}

/* forward multiply-adds of one multipath step on P = n_in input columns, all chains, and the flops of
 * the whole step (forward, backward to the activations, weight gradients: 3 products of each size but
 * the first layer's backward to the input) */
static double mp_flops(const dln *d)
{
    double f = 0;
    for (int p = 0; p < dln_n_chain(d); p++)
        for (int l = 1; l <= dln_depth(d); l++) {
            double m = (double)dln_rows(d, l) * dln_cols(d, p, l) * dln_in_dim(d, p);
            f += 2 * m * (l == 1 ? 2 : 3);
        }
    return f;
}

static dln *mp_alloc(int width, task *t, gsl_rng *rng)
{
    task_cfg hc = {.kind = TASK_HIER, .n_src = 1};
    if (task_build(&hc, t) != CS_OK) return NULL;
    dln_cfg mp = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 4, .width = width, .loss = DLN_LOSS_SUM};
    dln *d;
    if (dln_alloc(&mp, t, &d) != CS_OK) return NULL;
    double k0 = 0.01;
    dln_init(d, DLN_INIT_ALIGNED, 0, 0.1, &k0, 1, rng);
    return d;
}

/* seconds per GD step (best of 5 blocks of about `secs` / 5); clock: util_now or cpu_now */
static double mp_step_time(dln *d, double secs, double (*clock)(void))
{
    long n = 1;
    double t0 = util_now();
    dln_set_step(d, 0);
    dln_gd_step(d, 0.01);
    double one = util_now() - t0;
    n = (long)(secs / 5 / (one > 1e-7 ? one : 1e-7));
    if (n < 2) n = 2;
    double best = INFINITY;
    for (int b = 0; b < 5; b++) {
        t0 = clock();
        for (long s = 0; s < n; s++)
            dln_gd_step(d, 0.01);
        double dt = (clock() - t0) / n;
        if (dt < best) best = dt;
    }
    return best;
}

static int cmd_mp(const char *cs, int reps)
{
    static const char *gates[3] = {"gate:b@0-150", "gate:b@400-550", "gate:b@750-900"};
    char dir[] = "/tmp/critsim-bench-mp-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char cmd[2048];
    for (int every = 1; every <= 1000; every *= 1000) {
        int n = 0;
        for (int g = 0; g < 3; g++)
            n += snprintf(cmd + n, sizeof cmd - n,
                          "%s flow --model models/flow_fig2.ini --every %d --deficit %s --out %s/r%d "
                          ">/dev/null 2>&1 && ",
                          cs, every, gates[g], dir, g);
        snprintf(cmd + n, sizeof cmd - n, "true");
        double c, t = best_cmd(cmd, reps, &c);
        printf("mp_wall_every%d %.4f\nmp_cpu_every%d %.4f\n", every, t, every, c);
    }
    snprintf(cmd, sizeof cmd, "%s flow --help >/dev/null 2>&1", cs);
    double sc, st0 = best_cmd(cmd, reps, &sc);
    printf("startup %.4f\nstartup_cpu %.4f\n", st0, sc);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    task t;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    dln *d = mp_alloc(100, &t, rng);
    openblas_set_num_threads(1);
    double st = mp_step_time(d, 1.0, cpu_now);
    printf("mp_step_us %.2f\n", 1e6 * st); /* CPU time, 1 thread */
    printf("mp_step_gflops %.3f\n", mp_flops(d) / st / 1e9);
    dln_free(d);
    task_free(&t);
    gsl_rng_free(rng);
    return 0;
}

static int cmd_mc(int reps)
{
    task_cfg mc = {.kind = TASK_COMPLETION, .n = 100, .rank1 = 10, .n_obs = 2000, .seed = 1};
    task t;
    if (task_build(&mc, &t) != CS_OK) return 1;
    dln_cfg fc = {.arch = DLN_FUSED, .depth = 3, .width = 100};
    dln *d;
    if (dln_alloc(&fc, &t, &d) != CS_OK) return 1;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    dln_init(d, DLN_INIT_GAUSS, 0.001, 0, NULL, 0, rng);
    openblas_set_num_threads(1);
    for (long s = 0; s < 200; s++)
        dln_gd_step(d, 0.2);
    double best = INFINITY, bc = INFINITY;
    long n = 1000;
    for (int r = 0; r < reps; r++) {
        double t0 = util_now(), c0 = cpu_now();
        for (long s = 0; s < n; s++) {
            dln_set_step(d, s);
            dln_gd_step(d, 0.2);
        }
        double dt = (util_now() - t0) / n, dc = (cpu_now() - c0) / n;
        if (dt < best) best = dt;
        if (dc < bc) bc = dc;
    }
    double N = 100, m = 2000, flops = 3 * 2 * N * N * N + 3 * 2 * m * N;
    printf("mc_ms %.4f\nmc_cpu_ms %.4f\n", 1e3 * best, 1e3 * bc);
    best = bc; /* the flop rate from the CPU time */
    printf("mc_gflops %.3f\n", flops / best / 1e9);
    dln_free(d);
    task_free(&t);
    gsl_rng_free(rng);
    return 0;
}

static int cmd_cnn(const char *arch, int W, int T, double secs)
{
    cnn_cfg cfg = {.arch = CNN_FUSED,
                   .in_c = 2,
                   .in_h = 28,
                   .in_w = 28,
                   .n_src = 2,
                   .n_class = 10,
                   .width = W,
                   .depth = 2,
                   .batch = 128,
                   .threads = T};
    if (!strcmp(arch, "split")) cfg.arch = CNN_SPLIT, cfg.fuse_after = 1, cfg.fusion = CNN_FUSE_SUM;
    cnn *n = cnn_alloc(&cfg);
    if (!n) {
        printf("error %s\n", util_errmsg());
        return 1;
    }
    cnn_init(n, 1);
    int B = cfg.batch, nin = cfg.in_c * cfg.in_h * cfg.in_w;
    float *x = util_malloc(sizeof(float) * B * nin);
    int *y = util_malloc(sizeof(int) * B);
    for (int i = 0; i < B * nin; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1;
    for (int i = 0; i < B; i++)
        y[i] = i % cfg.n_class;
    n->ltime = util_calloc(n->n_layer, sizeof(double));
    double best = INFINITY, bc = INFINITY, t_start = util_now(), tconv = 0, tall = 0;
    for (int it = 0; it < 1000000 && (it < 5 || util_now() - t_start < secs); it++) {
        memset(n->ltime, 0, n->n_layer * sizeof(double));
        double t0 = util_now(), c0 = cpu_now();
        cnn_forward(n, x, B, CNN_TRAIN);
        cnn_loss(n, y, NULL, 1);
        cnn_backward(n);
        cnn_sgd_step(n, 0.01, 0.9, 5e-4);
        double dt = util_now() - t0, dc = cpu_now() - c0;
        if (it >= 2 && dc < bc) bc = dc;
        if (it >= 2 && dt < best) { /* two warm-up steps */
            best = dt, tall = dt, tconv = 0;
            for (int i = 0; i < n->n_layer; i++)
                if (n->layer[i].type == CNN_CONV) tconv += n->ltime[i];
        }
    }
    double conv_macs = 0;
    for (int i = 0; i < n->n_layer; i++) {
        const cnn_layer *L = &n->layer[i];
        const cnn_tensor *to = &n->t[L->out];
        if (L->type == CNN_CONV) conv_macs += (double)L->cout * L->cin * L->k * L->k * to->h * to->w;
    }
    printf("cnn_ips %.1f\ncnn_cpu_ips %.1f\n", B / best, B / bc); /* CPU: images per CPU second */
    printf("cnn_conv_share %.3f\n", tconv / tall);
    /* direct-method flops over the convolutions' CPU time (their share of the best step's wall time
     * applied to the best step's CPU time) */
    printf("cnn_conv_gflops %.3f\n", 3 * 2 * conv_macs * B / (bc * tconv / tall) / 1e9);
    free(n->ltime);
    n->ltime = NULL;
    free(x), free(y);
    cnn_free(n);
    return 0;
}

/* read+write bandwidth (bytes/s) of a += s b over two 32 MB arrays */
static double bandwidth(void)
{
    long n = 4L << 20;
    double *a = util_malloc(sizeof(double) * n), *b = util_malloc(sizeof(double) * n);
    for (long i = 0; i < n; i++)
        a[i] = 1, b[i] = 1e-9 * (double)i;
    double best = INFINITY;
    for (int r = 0; r < 6; r++) {
        double t0 = cpu_now();
        for (long i = 0; i < n; i++)
            a[i] += 1e-3 * b[i];
        double dt = cpu_now() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    volatile double sink = a[n / 2];
    (void)sink;
    free(a), free(b);
    return 3.0 * sizeof(double) * n / best; /* read a, read b, write a */
}

static int cmd_width(int width, int T)
{
    task t;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    dln *d = mp_alloc(width, &t, rng);
    if (!d) return 1;
    openblas_set_num_threads(T);
    if (dln_set_threads(d, T) != CS_OK) return 1; /* the step's own team: one chain per member */
    /* 1 thread: CPU time (steadier on a shared machine); 2 threads: wall time */
    double st = mp_step_time(d, width >= 1000 ? 1.5 : 0.6, T == 1 ? cpu_now : util_now);
    double bytes = 2.0 * sizeof(double) * (double)dln_n_param(d); /* every weight read and written once */
    double bw = bandwidth();
    printf("width_ms %.4f\n", 1e3 * st);
    printf("width_floor_ms %.4f\n", 1e3 * bytes / bw);
    printf("width_bw_gbs %.2f\n", bw / 1e9);
    printf("width_gflops %.3f\n", mp_flops(d) / st / 1e9);
    dln_free(d);
    task_free(&t);
    gsl_rng_free(rng);
    return 0;
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "";
    if (!strcmp(w, "blas")) return cmd_blas();
    if (!strcmp(w, "mp") && argc == 4) return cmd_mp(argv[2], atoi(argv[3]));
    if (!strcmp(w, "mc") && argc == 3) return cmd_mc(atoi(argv[2]));
    if (!strcmp(w, "cnn") && argc == 6) return cmd_cnn(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
    if (!strcmp(w, "width") && argc == 4) return cmd_width(atoi(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: bench_table blas | mp CRITSIM REPS | mc REPS | cnn fused|split W T SECS | "
                    "width N T\n");
    return 2;
}
