/* cmd_modes.c - `critsim modes`: the reduced per-mode theory (modes.h) from the command line, and
 * `--headline`, the project's main job.
 *
 * One run writes
 *   DIR/modes.dat  `step mode s K_a K_b ...` (one row per recorded step and mode; step = number of
 *                  updates; rows at 0, every multiple of --every and at --steps)
 *   DIR/final.dat  final_loss (0.5 sum_alpha (s_alpha - sum_p K_p,alpha)^2), share_b_mA
 *                  (K_b / sum_p K_p, two or more pathways), K_P_mA, loss_without_P (the same loss with
 *                  pathway P removed from the sum: the pathway-ablation readout; it shows a split between
 *                  pathways that the output hides, e.g. the D = 1 split after an early deficit).
 * --headline: the 8-mode hierarchical task, two pathways, depths 1..6, pathway b gated early
 * [0,150), middle [400,550), late [750,900) (the windows of the ICLR 2024 Fig. 2, in updates), each
 * run in DIR/dD/WINDOW/; DIR/share_WINDOW.dat `depth share_m0 ...` and DIR/share.dat
 * `depth window mode s share_b K_a K_b`; a compact table of the final shares on stdout.
 * Non-goals: full weight matrices (critsim flow), stochastic gating.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "deficit.h"
#include "modes.h"
#include "opts.h"
#include "table.h"
#include "util.h"

#define HIER "3.872983346207417,2.6457513110645907,1.7320508075688772,1.7320508075688772,1,1,1,1"

extern const cmd_def cmd_modes; /* messages: opts_errmsg(&cmd_modes) names the options */

static const opt_spec specs[] = {
    {"depth", OPT_INT, "4", "number of weight matrices per pathway D >= 1", OPT_IN(1, 10000)},
    {"sv", OPT_LIST, HIER,
     "target strengths s_alpha, descending (default: hierarchical task sqrt15,sqrt7,sqrt3,sqrt3,1,1,1,1)",
     OPT_MIN(0)},
    {"pathways", OPT_INT, "2", "number of pathways a, b, ... (outputs summed)", OPT_IN(1, 26)},
    {"init", OPT_STRING, "small", "small|large: K = p^D (balanced) or K = p (p^2 + c)^((D-1)/2)",
     "modes_alloc.param"},
    {"c", OPT_DOUBLE, "1", "large-init constant c = q^2 - p^2", OPT_MIN(0)},
    {"init-p", OPT_DOUBLE, NULL, "per-layer value p0 of every mode and pathway (instead of --init-k)",
     OPT_ANY},
    {"init-k", OPT_LIST, "0.01", "K(0) per mode, every pathway (one value: every mode)", OPT_ANY},
    {"dt", OPT_DOUBLE, "0.01", "Euler step (= learning rate); time per update for the flow",
     "modes_set_method.dt", OPT_POSITIVE},
    {"steps", OPT_INT, "1000", "number of updates", OPT_IN(0, 2000000000L)},
    {"every", OPT_INT, "10", "write rows every K updates (and at 0 and --steps)", OPT_IN(1, 2000000000L)},
    {"deficit", OPT_MULTI, NULL,
     "gate:P@S-E (P stops learning, still counts) | lesion:P:MODE@S-E; update t affected iff S <= t < E"},
    {"method", OPT_STRING, "euler", "euler|gd|rk8pd|rkf45|msbdf|exact", "modes_set_method.meth"},
    {"epsabs", OPT_DOUBLE, "1e-10", "flow: absolute tolerance", OPT_IN(0, 1)},
    {"epsrel", OPT_DOUBLE, "1e-10", "flow: relative tolerance", OPT_IN(0, 1)},
    {"out", OPT_STRING, "results/modes", "run folder"},
    {"headline", OPT_FLAG, "false", "main job: depths 1..6 x gate b early/middle/late on the task of --sv"},
    {NULL, 0, NULL, NULL},
};

/* --method and --init: names to the engine's values (euler and gd name the same update) */
static const opt_enum methods[] = {{"euler", MODES_EULER},
                                   {"gd", MODES_EULER},
                                   {"rk8pd", MODES_RK8PD},
                                   {"rkf45", MODES_RKF45},
                                   {"msbdf", MODES_MSBDF},
                                   {"exact", MODES_EXACT},
                                   {NULL, 0}};
static const opt_enum inits[] = {{"small", MODES_SMALL}, {"large", MODES_LARGE}, {NULL, 0}};

typedef struct {
    int depth, npaths, nmodes, every;
    modes_param param;
    double c, dt, epsabs, epsrel;
    long steps;
    modes_method method;
    const char *method_name;
    double *s, *k0; /* (nmodes) */
    double p0;
    int use_p0;
} cfg;

static int read_cfg(const opts *o, cfg *c)
{
    long v;
    int rc, idx, n;
    memset(c, 0, sizeof *c);
    if ((rc = opts_long(o, "depth", &v))) return rc;
    c->depth = (int)v;
    if ((rc = opts_long(o, "pathways", &v))) return rc;
    c->npaths = (int)v;
    if ((rc = opts_long(o, "steps", &c->steps))) return rc;
    if ((rc = opts_long(o, "every", &v))) return rc;
    c->every = (int)(v > 1000000000 ? 1000000000 : v);
    if ((rc = opts_enum(o, "init", inits, &idx))) return rc;
    c->param = (modes_param)idx;
    if ((rc = opts_double(o, "c", &c->c))) return rc;
    if (c->param == MODES_LARGE && !(c->c > 0))
        return util_seterr(CS_EUSAGE, "--c must be > 0 with --init large");
    if ((rc = opts_double(o, "dt", &c->dt))) return rc;
    if ((rc = opts_double(o, "epsabs", &c->epsabs))) return rc;
    if ((rc = opts_double(o, "epsrel", &c->epsrel))) return rc;
    if (c->epsabs == 0 && c->epsrel == 0)
        return util_seterr(CS_EUSAGE, "--epsabs and --epsrel cannot both be 0");
    if ((rc = opts_enum(o, "method", methods, &idx))) return rc;
    c->method = (modes_method)idx;
    c->method_name = opts_str(o, "method");
    if ((rc = opts_list_double(o, "sv", &c->s, &n))) return rc;
    c->nmodes = n;
    for (int a = 1; a < n; a++)
        if (c->s[a] > c->s[a - 1])
            return util_seterr(
                CS_EUSAGE,
                "--sv must be in descending order (modes are numbered by decreasing s); sort the list");
    if (opts_is_set(o, "init-p") && opts_is_set(o, "init-k"))
        return util_seterr(CS_EUSAGE, "give --init-p or --init-k, not both");
    if (opts_is_set(o, "init-p")) {
        if ((rc = opts_double(o, "init-p", &c->p0))) return rc;
        c->use_p0 = 1;
    } else {
        double *k;
        if ((rc = opts_list_double(o, "init-k", &k, &n))) return rc;
        if (n != 1 && n != c->nmodes) {
            free(k);
            return util_seterr(CS_EUSAGE,
                               "--init-k has %d values for %d modes; give one value or one per mode", n,
                               c->nmodes);
        }
        c->k0 = util_malloc((size_t)c->nmodes * sizeof(double));
        for (int a = 0; a < c->nmodes; a++)
            c->k0[a] = k[n == 1 ? 0 : a];
        free(k);
    }
    return CS_OK;
}

static void cfg_free(cfg *c)
{
    free(c->s);
    free(c->k0);
}

/* record step t? rows at 0, multiples of every, and steps */
static long next_record(long t, long every, long steps)
{
    long nx = (t / every + 1) * every;
    return nx < steps ? nx : steps;
}

static void write_rows(table *tb, const modes *m, long step)
{
    FILE *f = table_stream(tb);
    for (int a = 0; a < m->nmodes; a++) {
        fprintf(f, "%ld %d %.17g", step, a, m->s[a]);
        for (int q = 0; q < m->npaths; q++)
            fprintf(f, " %.17g", m->K[q * m->nmodes + a]);
        fputc('\n', f);
    }
}

/* final.dat; why != NULL: the run failed at step fail_step (FAILED line) */
static int write_final(const char *dir, const opts *o, const modes *m, long fail_step, const char *why)
{
    int nm = m->nmodes, np = m->npaths, n = 0;
    int cap = 1 + nm * (1 + np) + np;
    char(*names)[32] = util_malloc((size_t)cap * sizeof *names);
    const char **keys = util_malloc((size_t)cap * sizeof *keys);
    double *vals = util_malloc((size_t)cap * sizeof *vals);
    snprintf(names[n], 32, "final_loss"), vals[n++] = modes_loss(m);
    if (np >= 2)
        for (int a = 0; a < nm; a++) {
            double sum = 0;
            for (int q = 0; q < np; q++)
                sum += m->K[q * nm + a];
            snprintf(names[n], 32, "share_b_m%d", a), vals[n++] = m->K[nm + a] / sum;
        }
    for (int a = 0; a < nm; a++)
        for (int q = 0; q < np; q++)
            snprintf(names[n], 32, "K_%c_m%d", 'a' + q, a), vals[n++] = m->K[q * nm + a];
    for (int q = 0; q < np; q++) /* ablation: the D = 1 split after an early deficit shows here */
        snprintf(names[n], 32, "loss_without_%c", 'a' + q), vals[n++] = modes_loss_without(m, q);
    for (int i = 0; i < n; i++)
        keys[i] = names[i];
    int rc = why ? table_write_outcomes_failed(dir, opts_prov(o), n, keys, vals, fail_step, why)
                 : table_write_outcomes(dir, opts_prov(o), n, keys, vals);
    free(names), free(keys), free(vals);
    return rc;
}

/* One run into dir.  CS_OK / CS_EFAIL (tables published with FAILED) / CS_EUSAGE. */
static int run_one(const cfg *c, const deficit_list *dl, const char *dir, const opts *o, modes **keep)
{
    modes *m = modes_alloc(c->depth, c->nmodes, c->npaths, c->param, c->c, c->s);
    if (!m) return CS_EUSAGE;
    int rc = modes_set_deficits(m, dl);
    if (!rc) rc = modes_set_method(m, c->method, c->dt, c->epsabs, c->epsrel);
    if (rc) {
        modes_free(m);
        return rc;
    }
    for (int q = 0; q < c->npaths; q++)
        for (int a = 0; a < c->nmodes; a++) {
            if (c->use_p0)
                modes_set_p(m, q, a, c->p0);
            else
                modes_set_k(m, q, a, c->k0[a]);
        }
    table *tb = table_open(dir, "modes.dat", opts_prov(o));
    if (!tb) {
        modes_free(m);
        return CS_EUSAGE;
    }
    table_meta(tb,
               "engine = modes (reduced per-mode theory); depth = %d; pathways = %d; modes = %d; init = %s; "
               "c = %.17g",
               c->depth, c->npaths, c->nmodes,
               c->param == MODES_SMALL ? "small (K = p^D)" : "large (K = p (p^2+c)^((D-1)/2))",
               c->param == MODES_SMALL ? 0.0 : c->c);
    table_meta(tb, "method = %s; dt = %.17g; steps = %ld; every = %d%s", c->method_name, c->dt, c->steps,
               c->every,
               c->method == MODES_EULER   ? " (explicit Euler on p)"
               : c->method == MODES_EXACT ? " (closed forms)"
                                          : " (GSL odeiv2, time = step * dt)");
    if (c->method != MODES_EULER && c->method != MODES_EXACT)
        table_meta(tb, "epsabs = %.3g; epsrel = %.3g", c->epsabs, c->epsrel);
    for (int i = 0; dl && i < dl->n; i++)
        table_meta(tb, "deficit = %s (update t affected iff START <= t < END)", dl->d[i].text);
    char cols[64 + 8 * 26] = "step mode s";
    for (int q = 0; q < c->npaths; q++) {
        char b[8];
        snprintf(b, sizeof b, " K_%c", 'a' + q);
        strcat(cols, b);
    }
    table_columns(tb, cols);
    double t0 = util_now();
    write_rows(tb, m, 0);
    long t = 0, fstep = 0;
    int fmode = 0;
    while (t < c->steps) {
        long nx = next_record(t, c->every, c->steps);
        rc = modes_advance(m, t, nx, &fstep, &fmode);
        if (rc) break;
        t = nx;
        write_rows(tb, m, t);
    }
    table_meta(tb, "solver statistics: steps = %ld; rhs evaluations = %ld; failed steps = %ld; wall = %.6f s",
               c->method == MODES_EULER ? m->nsteps : m->nsteps, m->nrhs, m->nfail, util_now() - t0);
    if (rc == CS_EFAIL) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", opts_errmsg(&cmd_modes));
        write_final(dir, o, m, fstep, msg);
        table_fail(tb, fstep, msg);
        modes_free(m);
        return util_seterr(CS_EFAIL, "%s", msg);
    }
    if (rc) {
        table_discard(tb);
        modes_free(m);
        return rc;
    }
    rc = table_close(tb);
    if (!rc) rc = write_final(dir, o, m, 0, NULL);
    if (keep && !rc)
        *keep = m;
    else
        modes_free(m);
    return rc;
}

static int headline(cfg *c, const opts *o)
{
    static const char *wname[3] = {"early", "middle", "late"};
    static const char *wspec[3] = {"gate:b@0-150", "gate:b@400-550", "gate:b@750-900"};
    const char *out = opts_str(o, "out");
    if (c->npaths < 2) return util_seterr(CS_EUSAGE, "--headline needs --pathways >= 2");
    int nm = c->nmodes, rc = CS_OK;
    double t0 = util_now();
    table *share = table_open(out, "share.dat", opts_prov(o)), *sw[3] = {0};
    if (!share) return CS_EUSAGE;
    table_meta(share, "headline: final share K_b / sum_p K_p per depth, window and mode; b gated early "
                      "[0,150), middle [400,550), late [750,900)");
    table_meta(share, "method = %s; dt = %.17g; steps = %ld; window index 0 early, 1 middle, 2 late",
               c->method_name, c->dt, c->steps);
    table_columns(share, "depth window mode s share_b K_a K_b");
    for (int w = 0; w < 3; w++) {
        char nm_[64], cols[32 + 16 * 64] = "depth";
        snprintf(nm_, sizeof nm_, "share_%s.dat", wname[w]);
        sw[w] = table_open(out, nm_, opts_prov(o));
        if (!sw[w]) {
            rc = CS_EUSAGE;
            goto done;
        }
        table_meta(sw[w], "final share K_b / sum_p K_p after gating b with %s; one column per mode",
                   wspec[w]);
        for (int a = 0; a < nm && a < 64; a++) {
            char b[16];
            snprintf(b, sizeof b, " share_m%d", a);
            strcat(cols, b);
        }
        table_columns(sw[w], cols);
    }
    printf("# final share K_b/(K_a+K_b) per mode; s =");
    for (int a = 0; a < nm; a++)
        printf(" %.4g", c->s[a]);
    printf("\n%-5s %-7s", "depth", "window");
    for (int a = 0; a < nm; a++)
        printf("  m%-5d", a);
    printf("\n");
    for (int d = 1; d <= 6 && !rc; d++)
        for (int w = 0; w < 3 && !rc; w++) {
            deficit_list dl = {0};
            if ((rc = deficit_parse(wspec[w], &dl.d[0]))) break;
            dl.n = 1;
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/d%d/%s", out, d, wname[w]);
            c->depth = d;
            modes *m = NULL;
            rc = run_one(c, &dl, dir, o, &m);
            if (rc) break;
            printf("%-5d %-7s", d, wname[w]);
            FILE *f = table_stream(sw[w]);
            fprintf(f, "%d", d);
            for (int a = 0; a < nm; a++) {
                double ka = m->K[a], kb = m->K[nm + a], tot = 0;
                for (int q = 0; q < m->npaths; q++)
                    tot += m->K[q * nm + a];
                printf("  %.4f", kb / tot);
                fprintf(f, " %.17g", kb / tot);
                table_row(share, "%d %d %d %.17g %.17g %.17g %.17g", d, w, a, c->s[a], kb / tot, ka, kb);
            }
            fputc('\n', f);
            printf("\n");
            modes_free(m);
        }
done:
    if (rc) {
        table_discard(share);
        for (int w = 0; w < 3; w++)
            table_discard(sw[w]);
        return rc;
    }
    table_meta(share, "wall = %.3f s for 18 runs", util_now() - t0);
    rc = table_close(share);
    for (int w = 0; w < 3; w++) {
        int r2 = table_close(sw[w]);
        if (!rc) rc = r2;
    }
    if (!rc)
        printf("# tables in %s (share.dat, share_early/middle/late.dat, dD/WINDOW/modes.dat); %.3f s\n", out,
               util_now() - t0);
    return rc;
}

static int run(const opts *o)
{
    cfg c;
    int rc = read_cfg(o, &c);
    if (rc) {
        cfg_free(&c);
        return rc;
    }
    deficit_list dl;
    if (opts_flag(o, "headline")) {
        const char *own = opts_is_set(o, "depth") ? "--depth" : opts_count(o, "deficit") ? "--deficit" : NULL;
        rc = own ? util_seterr(CS_EUSAGE,
                               "--headline and %s: the headline runs depths 1..6 with its own gate windows; "
                               "drop %s",
                               own, own)
                 : headline(&c, o);
        cfg_free(&c);
        return rc;
    }
    rc = opts_deficits(o, "deficit", &dl);
    if (!rc) rc = run_one(&c, &dl, opts_str(o, "out"), o, NULL);
    cfg_free(&c);
    return rc;
}

const cmd_def cmd_modes = {
    "modes",
    "reduced per-mode theory of deep linear networks: Euler recurrence, GSL flow, closed forms",
    "examples:\n"
    "  critsim modes --depth 4 --deficit gate:b@0-150 --out results/fig2_early\n"
    "  critsim modes --depth 2 --sv 10 --init-p 0.005 --dt 0.01 --steps 1000000 --every 1000 --deficit "
    "gate:b@0-4\n"
    "  critsim modes --depth 3 --method rk8pd --epsrel 1e-12 --out results/flow3\n"
    "  critsim modes --headline --out results/headline   (the main job)",
    specs,
    run,
    NULL,
};
