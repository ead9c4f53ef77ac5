/* cmd_phase.c - `critsim phase`: phase portraits of one mode of the two-pathway per-mode theory in the
 * (K_a, K_b) plane (ICLR 2024 Fig. 1 and Fig. 7).
 *
 * Trajectories start from random per-layer values p ~ N(0, p-sd^2) drawn independently for a and b
 * (--start random, Fig. 1), from a grid of K(0) over [0, kmax]^2 (--start grid), or from one point
 * (--start point, --init-p P or PA,PB; Fig. 7).  Each trajectory is one "mode" of a modes engine with
 * the same s, so all advance together; deficits as in critsim modes.  Outputs:
 *   DIR/traj.dat   `traj step K_a K_b`, one block per trajectory separated by a blank line
 *   DIR/field.dat  `K_a K_b dK_a dK_b u v` deficit-free vector field on a field-n x field-n grid of
 *                  [0, kmax]^2; (u, v) is the direction scaled to 0.8 grid cells (for `with vectors`)
 *   DIR/final.dat  mean_share_b, sd_share_b (over trajectories), final_loss (mean), share_b_m0 (= mean)
 * Rows at step 0, multiples of --every, --log-rows per decade of steps, and --steps.
 * Non-goals: streamline integration (gnuplot draws the field; trajectories are the integral curves).
 */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "deficit.h"
#include "modes.h"
#include "opts.h"
#include "table.h"
#include "util.h"

extern const cmd_def cmd_phase; /* messages: opts_errmsg(&cmd_phase) names the options */

static const opt_spec specs[] = {
    {"depth", OPT_INT, "2", "number of weight matrices per pathway D >= 1", OPT_IN(1, 10000)},
    {"s", OPT_DOUBLE, "10", "target strength of the mode", OPT_ANY},
    {"init", OPT_STRING, "large", "small|large: K = p^D or K = p (p^2 + c)^((D-1)/2)", "modes_alloc.param"},
    {"c", OPT_DOUBLE, "1", "large-init constant", OPT_MIN(0)},
    {"start", OPT_STRING, "random", "random|grid|point: initial conditions"},
    {"n", OPT_INT, "100", "random: number of trajectories; grid: points per axis", OPT_IN(1, 100000)},
    {"p-sd", OPT_DOUBLE, "0.01", "random: per-layer values p ~ N(0, p-sd^2), independent for a and b",
     OPT_MIN(0)},
    {"init-p", OPT_LIST, "0.005", "point: per-layer value p0 (one value: both pathways; or PA,PB)", OPT_ANY},
    {"kmax", OPT_DOUBLE, "10", "grid starts and vector field cover [0, kmax]^2", OPT_POSITIVE},
    {"field-n", OPT_INT, "20", "vector field points per axis", OPT_IN(2, 10000)},
    {"seed", OPT_INT, "49827345", "random seed of the initial conditions", OPT_IN(0, 4294967295L)},
    {"dt", OPT_DOUBLE, "0.001", "Euler step; time per update for the flow", "modes_set_method.dt",
     OPT_POSITIVE},
    {"steps", OPT_INT, "1000", "number of updates", OPT_IN(0, 2000000000L)},
    {"every", OPT_INT, "10", "write rows every K updates (and at 0 and --steps)", OPT_IN(1, 2000000000L)},
    {"log-rows", OPT_INT, "0", "also write about N rows per decade of steps (long runs, Fig. 7)",
     OPT_IN(0, 10000)},
    {"deficit", OPT_MULTI, "gate:b@0-14", "gate:P@S-E | lesion:P:0@S-E (update t affected iff S <= t < E)"},
    {"method", OPT_STRING, "euler", "euler|gd|rk8pd|rkf45|msbdf", "modes_set_method.meth"},
    {"epsabs", OPT_DOUBLE, "1e-10", "flow: absolute tolerance", OPT_IN(0, 1)},
    {"epsrel", OPT_DOUBLE, "1e-10", "flow: relative tolerance", OPT_IN(0, 1)},
    {"out", OPT_STRING, "results/phase", "run folder"},
    {NULL, 0, NULL, NULL},
};

static long next_rec(long t, long every, int logrows, long steps)
{
    long nx = (t / every + 1) * every;
    if (logrows > 0) {
        double f = pow(10.0, 1.0 / logrows);
        long l = (long)ceil((t + 1) * f) - 1;
        if (l <= t) l = t + 1;
        if (l < nx) nx = l;
    }
    return nx < steps ? nx : steps;
}

/* --method, --init, --start: names to values (euler and gd name the same update) */
static const opt_enum methods[] = {{"euler", MODES_EULER}, {"gd", MODES_EULER},    {"rk8pd", MODES_RK8PD},
                                   {"rkf45", MODES_RKF45}, {"msbdf", MODES_MSBDF}, {NULL, 0}};
static const opt_enum inits[] = {{"small", MODES_SMALL}, {"large", MODES_LARGE}, {NULL, 0}};
enum { START_RANDOM, START_GRID, START_POINT };
static const opt_enum starts[] = {
    {"random", START_RANDOM}, {"grid", START_GRID}, {"point", START_POINT}, {NULL, 0}};

/* The options of a phase run, read once. */
typedef struct {
    long D, n, fn, steps, every, lr, seed;
    double s, c, psd, kmax, dt, ea, er;
    int init, start, meth;
    double *pp; /* --start point: the per-layer start values (npp = 1: both pathways, 2: PA, PB) */
    int npp;
} phase_cfg;

static int read_cfg(const opts *o, phase_cfg *p)
{
    int rc;
    memset(p, 0, sizeof *p);
    if ((rc = opts_long(o, "depth", &p->D)) || (rc = opts_double(o, "s", &p->s)) ||
        (rc = opts_enum(o, "init", inits, &p->init)) || (rc = opts_double(o, "c", &p->c)) ||
        (rc = opts_enum(o, "start", starts, &p->start)) || (rc = opts_long(o, "n", &p->n)) ||
        (rc = opts_double(o, "p-sd", &p->psd)) || (rc = opts_double(o, "kmax", &p->kmax)) ||
        (rc = opts_long(o, "field-n", &p->fn)) || (rc = opts_long(o, "seed", &p->seed)) ||
        (rc = opts_double(o, "dt", &p->dt)) || (rc = opts_long(o, "steps", &p->steps)) ||
        (rc = opts_long(o, "every", &p->every)) || (rc = opts_long(o, "log-rows", &p->lr)) ||
        (rc = opts_enum(o, "method", methods, &p->meth)) || (rc = opts_double(o, "epsabs", &p->ea)) ||
        (rc = opts_double(o, "epsrel", &p->er)))
        return rc;
    if (p->start != START_POINT && opts_is_set(o, "init-p"))
        return util_seterr(CS_EUSAGE,
                           "--start %s and --init-p: --init-p sets the start of --start point; drop one",
                           opts_str(o, "start"));
    if (p->start == START_POINT && opts_is_set(o, "n"))
        return util_seterr(CS_EUSAGE, "--start point and --n: one trajectory starts at --init-p; drop --n");
    if (p->start == START_POINT) {
        if ((rc = opts_list_double(o, "init-p", &p->pp, &p->npp))) return rc;
        if (p->npp > 2) {
            free(p->pp);
            p->pp = NULL;
            return util_seterr(CS_EUSAGE, "--init-p takes P or PA,PB");
        }
    }
    return CS_OK;
}

/* The starts of the trajectories: Gaussian per-layer values, a grid in (K_a, K_b), or one point. */
static void set_starts(modes *m, const phase_cfg *p, long ntraj)
{
    if (p->start == START_RANDOM) {
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(r, (unsigned long)p->seed);
        for (long i = 0; i < ntraj; i++) {
            modes_set_p(m, 0, (int)i, gsl_ran_gaussian(r, p->psd));
            modes_set_p(m, 1, (int)i, gsl_ran_gaussian(r, p->psd));
        }
        gsl_rng_free(r);
    } else if (p->start == START_GRID) {
        for (long i = 0; i < p->n; i++)
            for (long j = 0; j < p->n; j++) {
                modes_set_k(m, 0, (int)(i * p->n + j), p->kmax * (i + 0.5) / p->n);
                modes_set_k(m, 1, (int)(i * p->n + j), p->kmax * (j + 0.5) / p->n);
            }
    } else {
        modes_set_p(m, 0, 0, p->pp[0]);
        modes_set_p(m, 1, 0, p->pp[p->npp - 1]);
    }
}

/* field.dat: the deficit-free vector field on a field-n x field-n grid of (K_a, K_b) */
static int write_field(const char *dir, const table_prov *prov, const phase_cfg *p)
{
    table *tf = table_open(dir, "field.dat", prov);
    if (!tf) return CS_EUSAGE;
    table_meta(tf,
               "deficit-free vector field (dK_a/dt, dK_b/dt); depth = %ld; s = %.17g; init = %s; c = %.17g",
               p->D, p->s, p->init == MODES_LARGE ? "large" : "small", p->init == MODES_LARGE ? p->c : 0.0);
    table_meta(tf, "(u, v): direction scaled to 0.8 grid cells, for gnuplot `with vectors`");
    table_columns(tf, "K_a K_b dK_a dK_b u v");
    double one_s = p->s, K[2], dk[2], h = p->kmax / (p->fn - 1);
    modes *f1 = modes_alloc((int)p->D, 1, 2, (modes_param)p->init, p->c, &one_s);
    for (long i = 0; i < p->fn; i++)
        for (long j = 0; j < p->fn; j++) {
            K[0] = h * i, K[1] = h * j;
            modes_field(f1, K, dk);
            double nrm = hypot(dk[0], dk[1]), sc = nrm > 0 ? 0.8 * h / nrm : 0;
            table_row(tf, "%.17g %.17g %.17g %.17g %.17g %.17g", K[0], K[1], dk[0], dk[1], dk[0] * sc,
                      dk[1] * sc);
        }
    modes_free(f1);
    return table_close(tf);
}

static int run(const opts *o)
{
    phase_cfg P;
    int rc = read_cfg(o, &P);
    if (rc) return rc;
    long ntraj = P.start == START_RANDOM ? P.n : P.start == START_GRID ? P.n * P.n : 1;
    double *sv = util_malloc((size_t)ntraj * sizeof(double));
    for (long i = 0; i < ntraj; i++)
        sv[i] = P.s;
    modes *m = modes_alloc((int)P.D, (int)ntraj, 2, (modes_param)P.init, P.c, sv);
    free(sv);
    deficit_list dl;
    rc = opts_deficits(o, "deficit", &dl);
    if (!rc) rc = modes_set_deficits(m, &dl);
    if (!rc) rc = modes_set_method(m, (modes_method)P.meth, P.dt, P.ea, P.er);
    if (rc) {
        modes_free(m);
        free(P.pp);
        return rc;
    }
    set_starts(m, &P, ntraj);
    free(P.pp);
    const char *dir = opts_str(o, "out");
    if ((rc = write_field(dir, opts_prov(o), &P))) {
        modes_free(m);
        return rc;
    }
    /* trajectories: record into memory-free streaming blocks: one table, rows grouped per record step,
     * then rewritten per trajectory would need storage; keep (steps x ntraj) rows in a buffer */
    long nrec = 1;
    for (long t = 0; t < P.steps; t = next_rec(t, P.every, (int)P.lr, P.steps))
        nrec++;
    double *buf = util_malloc((size_t)nrec * (size_t)ntraj * 2 * sizeof(double));
    long *rs = util_malloc((size_t)nrec * sizeof(long));
    long k = 0, t = 0, fs = 0;
    int fm = 0;
    double t0 = util_now();
    for (;;) {
        rs[k] = t;
        for (long i = 0; i < ntraj; i++)
            buf[(k * ntraj + i) * 2] = m->K[i], buf[(k * ntraj + i) * 2 + 1] = m->K[ntraj + i];
        k++;
        if (t >= P.steps) break;
        long nx = next_rec(t, P.every, (int)P.lr, P.steps);
        if ((rc = modes_advance(m, t, nx, &fs, &fm))) break;
        t = nx;
    }
    table *tt = table_open(dir, "traj.dat", opts_prov(o));
    if (!tt) {
        free(buf), free(rs), modes_free(m);
        return CS_EUSAGE;
    }
    table_meta(tt,
               "engine = phase (per-mode theory, one trajectory per column block); depth = %ld; s = %.17g; "
               "init = %s; c = %.17g",
               P.D, P.s, P.init == MODES_LARGE ? "large" : "small", P.init == MODES_LARGE ? P.c : 0.0);
    table_meta(tt, "method = %s; dt = %.17g; steps = %ld; start = %s; trajectories = %ld",
               opts_str(o, "method"), P.dt, P.steps, opts_str(o, "start"), ntraj);
    for (int i = 0; i < dl.n; i++)
        table_meta(tt, "deficit = %s (update t affected iff START <= t < END)", dl.d[i].text);
    table_meta(tt, "solver statistics: steps = %ld; rhs evaluations = %ld; failed steps = %ld; wall = %.6f s",
               m->nsteps, m->nrhs, m->nfail, util_now() - t0);
    table_columns(tt, "traj step K_a K_b");
    FILE *f = table_stream(tt);
    for (long i = 0; i < ntraj; i++) {
        for (long r = 0; r < k; r++)
            fprintf(f, "%ld %ld %.17g %.17g\n", i, rs[r], buf[(r * ntraj + i) * 2],
                    buf[(r * ntraj + i) * 2 + 1]);
        fputc('\n', f);
    }
    free(buf), free(rs);
    double mean = 0, sd = 0, loss = 0;
    for (long i = 0; i < ntraj; i++) {
        double sh = m->K[ntraj + i] / (m->K[i] + m->K[ntraj + i]), r = P.s - m->K[i] - m->K[ntraj + i];
        mean += sh / ntraj, sd += sh * sh / ntraj, loss += 0.5 * r * r / ntraj;
    }
    sd = ntraj > 1 ? sqrt(fmax(0, (sd - mean * mean) * ntraj / (ntraj - 1))) : 0;
    const char *keys[] = {"final_loss", "mean_share_b", "sd_share_b", "share_b_m0"};
    double vals[] = {loss, mean, sd, mean};
    if (rc == CS_EFAIL) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", opts_errmsg(&cmd_phase));
        table_write_outcomes_failed(dir, opts_prov(o), 4, keys, vals, fs, msg);
        table_fail(tt, fs, msg);
        modes_free(m);
        return util_seterr(CS_EFAIL, "%s", msg);
    }
    modes_free(m);
    if (rc) {
        table_discard(tt);
        return rc;
    }
    if ((rc = table_close(tt))) return rc;
    return table_write_outcomes(dir, opts_prov(o), 4, keys, vals);
}

const cmd_def cmd_phase = {
    "phase",
    "phase portraits (K_a, K_b) of one mode: trajectories and the deficit-free vector field",
    "examples:\n"
    "  critsim phase --depth 5 --deficit gate:b@0-14 --out results/phase/d5_early      (Fig. 1, large init)\n"
    "  critsim phase --model models/phase_small.ini --depth 3 --out results/phase7/d3_early  (Fig. 7)",
    specs,
    run,
    NULL,
};
