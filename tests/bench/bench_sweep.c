/* bench_sweep.c - wall time of `critsim sweep` (prints figures, asserts nothing).
 *
 *  1. the full linear critical-period sweep with the reduced theory (critsim modes): depths 1-8 x 40
 *     gating windows gate:b@0-E (E = 0, 10, ..., 390), all 8 modes of the hierarchical task per run,
 *     320 points; target: well under a second;
 *  2. the sweep's own overhead per point (fork, option parsing, point folder, final.dat, summary),
 *     with a trivial flow run, against one `critsim flow` process per point;
 *  3. the matrix-completion switch sweep per depth 1-3 (critsim flow --switch-sweep, shared trunk),
 *     reduced (T_c = 0,1k,5k,10k with 3000 continuation steps) unless BENCH_MC_FULL=1 (the official
 *     T_c = 0..100k, 30000 continuation steps: minutes).
 * Engines that are not built are reported as skipped.  Uses $CRITSIM (default ./critsim).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util.h"

static const char *cs;
static char dir[256];

static double last_cpu; /* CPU seconds (user + system) of the last timed command and its children */

static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Wall seconds of a shell command (-1 when it fails); its CPU time goes to last_cpu.  The machine may
 * be shared: CPU time is the steadier figure. */
static double timed(const char *cmd)
{
    double c0 = children_cpu(), t0 = util_now();
    int rc = system(cmd);
    double t = util_now() - t0;
    last_cpu = children_cpu() - c0;
    return rc == 0 ? t : -1;
}

static int have(const char *engine)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s --help >/dev/null 2>&1", cs, engine);
    return system(cmd) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

int main(void)
{
    cs = getenv("CRITSIM") ? getenv("CRITSIM") : "./critsim";
    snprintf(dir, sizeof dir, "/tmp/bench_sweep.XXXXXX");
    if (!mkdtemp(dir)) return 1;
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char cmd[2048], model[512];

    /* 1. linear critical-period sweep, reduced theory */
    if (have("modes")) {
        snprintf(model, sizeof model, "%s/cp.ini", dir);
        write_text(model, "command = modes\nsteps = 1000\ndt = 0.01\n[sweep]\nvary = depth=1:1:8\n"
                          "vary = deficit=gate:b@0-{end=0:10:390}\n");
        for (int jobs = 1; jobs <= (ncpu > 1 ? 2 : 1); jobs++) {
            snprintf(cmd, sizeof cmd, "%s sweep --model %s --jobs %d --quiet --out %s/cp%d", cs, model, jobs,
                     dir, jobs);
            double t = timed(cmd);
            printf("linear CP sweep (modes, 8 depths x 40 windows x 8 modes = 320 runs), --jobs %d: %.3f s "
                   "wall, "
                   "%.3f s CPU%s\n",
                   jobs, t, last_cpu, t < 0 ? " (FAILED)" : "");
            snprintf(cmd, sizeof cmd, "%s sweep --model %s --jobs %d --quiet --out %s/cp%d", cs, model, jobs,
                     dir, jobs);
            t = timed(cmd);
            printf("  the same again, all 320 points finished (resume check + summary): %.3f s wall\n", t);
        }
    } else {
        printf("linear CP sweep: skipped (critsim modes is not built)\n");
    }

    /* 2. sweep overhead per point vs one process per point */
    if (have("flow")) {
        snprintf(model, sizeof model, "%s/tiny.ini", dir);
        write_text(model,
                   "command = flow\ntask = hier\ndepth = 1\nwidth = 8\nsteps = 1\nevery = 1\nsnap-every = 0\n"
                   "[sweep]\nvary = lr=0.001:0.001:0.2\n");
        snprintf(cmd, sizeof cmd, "%s sweep --model %s --jobs 1 --quiet --out %s/tiny1", cs, model, dir);
        double t1 = timed(cmd), c1 = last_cpu;
        snprintf(cmd, sizeof cmd, "%s sweep --model %s --jobs %ld --quiet --out %s/tinyj", cs, model, ncpu,
                 dir);
        double tj = timed(cmd);
        snprintf(cmd, sizeof cmd,
                 "i=1; while [ $i -le 200 ]; do %s flow --task hier --depth 1 --width 8 --steps 1 --every 1 "
                 "--snap-every 0 --lr 0.00$i --out %s/sep >/dev/null 2>&1; i=$((i+1)); done",
                 cs, dir);
        double ts = timed(cmd), cs_ = last_cpu;
        printf("sweep of 200 trivial flow points: --jobs 1 %.3f s wall, %.3f s CPU (%.2f ms CPU/point); "
               "--jobs %ld "
               "%.3f s wall\n",
               t1, c1, 1e3 * c1 / 200, ncpu, tj);
        printf("  the same points as 200 separate critsim processes: %.3f s wall, %.3f s CPU (%.2f ms "
               "CPU/point)\n",
               ts, cs_, 1e3 * cs_ / 200);
    } else {
        printf("sweep overhead: skipped (critsim flow is not built)\n");
    }

    /* 3. matrix completion switch sweep per depth (models/mc_switch.ini: fused, lr 0.2, init 0.001),
     * branches in parallel processes (--jobs); the official code re-runs every T_c from the seed:
     * sum over T_c of (T_c + 1 + continuation) iterations at 0.35-0.9 ms each */
    int full = getenv("BENCH_MC_FULL") != NULL;
    if (have("flow")) {
        const char *list = full ? "1,1001,5001,10001,20001,40001,60001,80001,100001" : "1,1001,5001,10001";
        long cont = full ? 29998 : 3000, tsum = 0, t_last = 0, nb = 0;
        for (const char *q = list; *q;) {
            long v = strtol(q, (char **)&q, 10);
            tsum += v + cont;
            t_last = v;
            nb++;
            if (*q == ',') q++;
        }
        long trunk = t_last + nb * cont; /* what critsim computes: one trunk plus the branches */
        for (int d = 1; d <= 3; d++) {
            for (int jobs = 1; jobs <= (ncpu > 1 ? 2 : 1); jobs++) {
                snprintf(cmd, sizeof cmd,
                         "%s flow --model models/mc_switch.ini --depth %d --every 1000 --switch-sweep %s "
                         "--continue %ld "
                         "--jobs %d --out %s/mc%d_%d >/dev/null 2>%s/mc%d.err",
                         cs, d, list, cont, jobs, dir, d, jobs, dir, d);
                double t = timed(cmd);
                printf(
                    "matrix-completion switch sweep, depth %d (%s), --jobs %d: %.2f s wall, %.2f s CPU%s\n",
                    d,
                    full ? "official T_c 0..100k, 30k continuation"
                         : "reduced: T_c 0,1k,5k,10k, 3k continuation",
                    jobs, t, last_cpu, t < 0 ? " (FAILED: see the .err file)" : "");
                if (d == 3 && t > 0)
                    printf("  %ld updates (official re-runs: %ld iterations = %.0f-%.0f s at 0.35-0.9 ms) -> "
                           "%.1fx to %.1fx faster\n",
                           trunk, tsum, 0.35e-3 * tsum, 0.9e-3 * tsum, 0.35e-3 * tsum / t, 0.9e-3 * tsum / t);
            }
        }
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    return 0;
}
