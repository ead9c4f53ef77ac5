/* bench_analyze.c - analysis time of a 1000-step, width-100, 8-mode run (prints figures, asserts
 * nothing).
 *
 * The snapshots are generated synthetically (no engine needed): 2 pathways reading a shared 8-d
 * input, 15 outputs, a snapshot after every update (1001 snapshots), per-source maps
 * U diag(K_P(t)) V^T with sigmoidal K_P(t) plus a small off-mode perturbation, and hidden maps
 * (100 x 8 per source) so that the RSV path runs as well.  Timed phases: writing (snap_add/close),
 * loading (snap_load), analyze_run, closed-form RSV at every step, and the whole `critsim analyze`
 * command ($CRITSIM, default ./critsim).  For comparison, the run itself: `critsim flow` on the
 * same shapes in the ICLR 2024 Fig. 2 setup (D = 4; skipped if that command is not built), with a
 * snapshot after every update and at flow's default recording (every 10 updates), and the ratio
 * analysis/run (issue 4: analysing a run should cost a small fraction of the run; at D = 2 the run is
 * about 3x cheaper and the ratio 3x larger).  Command timings are the best of NREP runs.
 */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"
#include "linalg.h"
#include "rsv.h"
#include "snap.h"
#include "util.h"

enum { NO = 15, NI = 8, NH = 100, R = 8, STEPS = 1000, NREP = 5 };

/* run cmd NREP times; *best = the shortest wall time, *cpu = the smallest CPU time (user + system) of
 * the children, steadier than the wall time on a shared machine; returns the last exit status */
static int best_of(const char *cmd, double *best, double *cpu)
{
    int rc = 0;
    *best = *cpu = INFINITY;
    for (int i = 0; i < NREP; i++) {
        struct rusage r0, r1;
        getrusage(RUSAGE_CHILDREN, &r0);
        double t0 = util_now();
        rc = system(cmd);
        double dt = util_now() - t0;
        getrusage(RUSAGE_CHILDREN, &r1);
        double c =
            (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
            1e-6 * (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                            r0.ru_stime.tv_usec);
        if (dt < *best) *best = dt;
        if (c < *cpu) *cpu = c;
    }
    return rc;
}

int main(void)
{
    const char *cs = getenv("CRITSIM") ? getenv("CRITSIM") : "./critsim";
    char dir[] = "/tmp/critsim-bench-analyze-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    double Q[NO * NO], P[NI * NI], U[NO * R], V[NI * R], s[R];
    linalg_random_orthogonal(rng, NO, Q);
    linalg_random_orthogonal(rng, NI, P);
    for (int i = 0; i < NO; i++)
        for (int a = 0; a < R; a++)
            U[i * R + a] = Q[i * NO + a];
    for (int i = 0; i < NI; i++)
        for (int a = 0; a < R; a++)
            V[i * R + a] = P[i * NI + a];
    for (int a = 0; a < R; a++)
        s[a] = 4.0 / (1 + a);
    double *H0 = malloc(sizeof(double) * NH * NI), *H1 = malloc(sizeof(double) * NH * NI);
    for (int i = 0; i < NH * NI; i++)
        H0[i] = gsl_rng_uniform(rng) - 0.5, H1[i] = gsl_rng_uniform(rng) - 0.5;

    snap_meta m = {.engine = "bench",
                   .n_src = 2,
                   .layout = SNAP_SHARED,
                   .n_out = NO,
                   .n_in = {NI, NI},
                   .n_hidden = NH,
                   .hidden_layer = 1,
                   .rank = R,
                   .U = U,
                   .s = s,
                   .V = V};
    double t0 = util_now();
    snap_writer *w = snap_open(dir, &m);
    double Ma[NO * NI], Mb[NO * NI], *Ha = malloc(sizeof(double) * NH * NI),
                                     *Hb = malloc(sizeof(double) * NH * NI);
    for (int t = 0; t <= STEPS; t++) {
        double g = 1.0 / (1.0 + exp(-(t - 200.0) / 40.0));
        for (int i = 0; i < NO; i++)
            for (int j = 0; j < NI; j++) {
                double a = 0, b = 0;
                for (int k = 0; k < R; k++) {
                    double gk = 1.0 / (1.0 + exp(-(t - 100.0 * (k + 1)) / 30.0));
                    a += U[i * R + k] * s[k] * gk * 0.8 * V[j * R + k];
                    b += U[i * R + k] * s[k] * gk * 0.2 * V[j * R + k];
                }
                Ma[i * NI + j] = a + 1e-3 * sin(i + j + t);
                Mb[i * NI + j] = b;
            }
        for (int i = 0; i < NH * NI; i++)
            Ha[i] = H0[i] * g, Hb[i] = H1[i] * (1 - g) + 0.01;
        const double *maps[2] = {Ma, Mb}, *hid[2] = {Ha, Hb};
        snap_add(w, t, 0.01 * t, maps, hid);
    }
    int rc = snap_close(w);
    double t_write = util_now() - t0;
    if (rc != CS_OK) {
        printf("snapshot write failed: %s\n", util_errmsg());
        return 1;
    }
    t0 = util_now();
    snap_run run;
    if (snap_load(dir, &run) != CS_OK) {
        printf("load failed: %s\n", util_errmsg());
        return 1;
    }
    double t_load = util_now() - t0;
    t0 = util_now();
    clock_t c0 = clock();
    analyze_result res;
    if (analyze_run(&run, 0, &res) != CS_OK) {
        printf("analyze failed: %s\n", util_errmsg());
        return 1;
    }
    double t_an = util_now() - t0, c_an = (double)(clock() - c0) / CLOCKS_PER_SEC;
    t0 = util_now();
    double rsv[NH], acc = 0;
    for (int k = 0; k < run.n_snap; k++) {
        rsv_linear(NH, NI, run.hidden[0] + (size_t)k * NH * NI, NULL, NI, run.hidden[1] + (size_t)k * NH * NI,
                   NULL, rsv, NULL, NULL);
        acc += rsv[0];
    }
    double t_rsv = util_now() - t0;
    printf("analyze bench: %d snapshots, n_out %d, n_in %d per source, %d hidden units, %d modes\n",
           run.n_snap, NO, NI, NH, R);
    printf("  write snapshots (snap_add/close) %8.4f s\n", t_write);
    printf("  snap_load                        %8.4f s\n", t_load);
    printf("  analyze_run (SVDs, K, angles)    %8.4f s  (%.1f us per snapshot; CPU %.4f s)\n", t_an,
           1e6 * t_an / run.n_snap, c_an);
    printf("  closed-form RSV, every step      %8.4f s  (check %.3g)\n", t_rsv, acc);
    analyze_result_free(&res);
    snap_free(&run);

    char cmd[1024];
    if (access(cs, X_OK) == 0) {
        /* CLI timings: best of NREP (the machine is shared; the minimum is the least disturbed run) */
        double t_all, c_all, t_last, c_last, t_flow, c_flow, t_anflow, c_anflow, t_start, c_start;
        snprintf(cmd, sizeof cmd, "%s analyze --run %s > /dev/null", cs, dir);
        rc = best_of(cmd, &t_all, &c_all);
        printf("  critsim analyze (all tables)     %8.4f s  (CPU %.4f s)%s\n", t_all, c_all,
               rc ? "  (failed)" : "");
        snprintf(cmd, sizeof cmd, "%s analyze --run %s --rsv-steps last > /dev/null", cs, dir);
        rc = best_of(cmd, &t_last, &c_last);
        printf("  critsim analyze --rsv-steps last %8.4f s  (CPU %.4f s)%s\n", t_last, c_last,
               rc ? "  (failed)" : "");
        snprintf(cmd, sizeof cmd, "%s analyze --help > /dev/null", cs);
        best_of(cmd, &t_start, &c_start);
        printf("  process start-up alone (critsim analyze --help) %8.4f s  (CPU %.4f s)\n", t_start, c_start);
        snprintf(cmd, sizeof cmd,
                 "%s flow --shared-input --init aligned --init-eps 0.01 --loss sum --depth 4 --width %d "
                 "--steps %d "
                 "--every 1 "
                 "--snap-every 1 --out %s/flowrun > /dev/null 2>&1",
                 cs, NH, STEPS, dir);
        rc = best_of(cmd, &t_flow, &c_flow);
        if (rc == 0) {
            printf("  for comparison: critsim flow, same shapes, snapshot every step %8.4f s  (CPU %.4f s)\n",
                   t_flow, c_flow);
            snprintf(cmd, sizeof cmd, "%s analyze --run %s/flowrun > /dev/null", cs, dir);
            rc = best_of(cmd, &t_anflow, &c_anflow);
            printf("  critsim analyze of that flow run %8.4f s  (CPU %.4f s)%s\n", t_anflow, c_anflow,
                   rc ? "  (failed)" : "");
            if (rc == 0) {
                printf("  analysis/run ratio: %.1f%% wall, %.1f%% CPU (critsim analyze of the flow run / "
                       "critsim "
                       "flow, best of %d each)\n",
                       100.0 * t_anflow / t_flow, 100.0 * c_anflow / c_flow, NREP);
                printf("  of which analyze_run (5 dgesdd per snapshot; bench's own process) alone: %.1f%% of "
                       "the run's CPU\n",
                       100.0 * c_an / c_flow);
            }
            /* the same run at flow's default recording (rows every 10 steps, a snapshot at each: 101) */
            snprintf(cmd, sizeof cmd,
                     "%s flow --shared-input --init aligned --init-eps 0.01 --loss sum --depth 4 --width %d "
                     "--steps %d "
                     "--out %s/flowdef > /dev/null 2>&1",
                     cs, NH, STEPS, dir);
            double t_f2, c_f2, t_a2, c_a2;
            if (best_of(cmd, &t_f2, &c_f2) == 0) {
                snprintf(cmd, sizeof cmd, "%s analyze --run %s/flowdef > /dev/null", cs, dir);
                if (best_of(cmd, &t_a2, &c_a2) == 0)
                    printf("  default recording (every 10 steps, 101 snapshots): flow %.4f s CPU, analyze "
                           "%.4f s CPU "
                           "(%.1f%% of the run)\n",
                           c_f2, c_a2, 100.0 * c_a2 / c_f2);
            }
        } else
            printf("  critsim flow not available (skipped the comparison)\n");
    } else
        printf("  %s not built: CLI timings skipped\n", cs);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    free(H0);
    free(H1);
    free(Ha);
    free(Hb);
    gsl_rng_free(rng);
    return 0;
}
