/* cmd_flow.c - `critsim flow`: train deep and shallow multi-source linear networks on full weight
 * matrices, by exact full-batch gradient descent or continuous gradient flow (GSL odeiv2).
 *
 * Purpose: parse options into a task (task.h) and a network (dln.h), run the steps with the deficit
 * schedule, and write the run folder:
 *   DIR/loss.dat   `step train_loss test_loss`
 *   DIR/modes.dat  `step mode s K_a [K_b ...]`  K_p = u_mode^T Omega_p v_mode against the target's
 *                  fixed singular vectors (fused: one column K_a for the whole network)
 *   DIR/sv.dat     `step index sigma_a [sigma_b ...] sigma_total`  singular values (descending, top
 *                  --sv-top) of each pathway's end-to-end map and of the total map
 *   DIR/weights_P_L.npy  final W^P_L (out x in), P = a, b, ..., L = 1..D
 *   DIR/snap/      per-source maps at recorded steps (snap.h)
 *   DIR/final.dat  final_loss, test_loss, share_b_m0, ... (two or more pathways: K_b / sum_p K_p),
 *                  share_b_mF_L for each block F..L of degenerate target modes (K summed over the block),
 *                  loss_without_P (test loss with pathway P's output removed; one pathway or fused: with
 *                  source P's inputs zeroed)
 * --act relu|tanh (one-hot tasks only; dln.h): "Omega_p" is then the pathway's response to the items,
 * F_p (column j = output for item j), in modes.dat, sv.dat and snap/map_P.npy alike; no hidden_P.npy
 * (no closed-form RSV); a fused network of depth >= 2 on two sources writes the sampled SV_a, SV_b of its
 * last hidden layer (dln_rsv_sampled) as snap/sv_a.npy, sv_b.npy for `critsim analyze`.
 * Time for the gradient flow is step * lr; rows are written at the same steps as GD would.
 * --switch-sweep T1,T2,... runs one trunk (no switch) to max T and, at each T, a branch with
 * switch@T for --continue more steps into DIR/switch_T/ (same files); DIR/switch_sweep.dat lists
 * `switch_step steps final_loss test_loss` per branch.  Exact: every branch starts from the state of
 * one deterministic trunk, as a fresh run with the same seed and switch@T would.  Branches run in
 * forked processes while the trunk goes on (--jobs); --threads splits each completion gradient.
 * Non-goals: mini-batch SGD, nonlinear networks on moment-only tasks, biases (see `critsim cnn`).
 *
 * Files (shared declarations: flow_int.h):
 *   cmd_flow.c    this file: the option table, options -> task_cfg, dln_cfg, deficits and initial
 *                 weights, and the command's run()
 *   flow_run.c    one run folder: the tables above, the snapshot, the steps (GD or gradient flow)
 *   flow_sweep.c  --switch-sweep: the trunk, the forked branches, switch_sweep.dat
 */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_int.h"
#include "linalg.h"

/* Choices: names to the library's values.  --method: gradient descent (gd and euler name the same
 * update, METH_GD) or the gradient flow with one of dln_stepper's GSL steppers. */
#define METH_GD (-1)
static const opt_enum methods[] = {{"gd", METH_GD},      {"euler", METH_GD}, {"rk8pd", DLN_RK8PD},
                                   {"rkf45", DLN_RKF45}, {"rkck", DLN_RKCK}, {NULL, 0}};
static const opt_enum task_kinds[] = {{"hier", TASK_HIER},
                                      {"lowrank", TASK_LOWRANK},
                                      {"latent", TASK_LATENT},
                                      {"completion", TASK_COMPLETION},
                                      {NULL, 0}};
static const opt_enum archs[] = {{"paths", DLN_PATHS}, {"fused", DLN_FUSED}, {NULL, 0}};
static const opt_enum losses[] = {{"sum", DLN_LOSS_SUM}, {"mean", DLN_LOSS_MEAN}, {NULL, 0}};
static const opt_enum precisions[] = {{"double", 0}, {"single", 1}, {NULL, 0}};
static const opt_enum init_kinds[] = {{"gauss", DLN_INIT_GAUSS},
                                      {"orthogonal", DLN_INIT_ORTHOGONAL},
                                      {"identity", DLN_INIT_IDENTITY},
                                      {"aligned", DLN_INIT_ALIGNED},
                                      {NULL, 0}};

static const opt_spec specs[] = {
    {"task", OPT_STRING, "hier", "hier|lowrank|latent|completion", "task_cfg.kind"},
    {"arch", OPT_STRING, "paths",
     "paths (one pathway per source, outputs summed) | fused (one network on all sources)", "dln_cfg.arch"},
    {"shared-input", OPT_FLAG, "false",
     "paths: every pathway reads the whole input (ICLR 2024 multipath model)", "dln_cfg.shared_input"},
    {"pathways", OPT_INT, "2", "number of pathways a, b, ... (arch paths)", "dln_cfg.n_chain",
     OPT_IN(1, DLN_MAX_CHAIN)},
    {"sources", OPT_INT, "0", "number of input sources (0: one per pathway; fused: 2)", "task_cfg.n_src",
     OPT_IN(0, TASK_MAX_SRC)},
    {"source-dims", OPT_LIST, NULL, "input dimension of each source (default: split the inputs evenly)",
     "task_cfg.src_dims", OPT_IN(1, 1000000)},
    {"depth", OPT_INT, "2", "number of weight matrices per pathway (1 = shallow)", "dln_cfg.depth",
     OPT_IN(1, 10000)},
    {"act", OPT_STRING, "linear",
     "linear|relu|tanh: nonlinearity after every hidden layer of each pathway (relu/tanh: one-hot tasks "
     "hier, lowrank, --target)",
     "dln_cfg.act"},
    {"act-output", OPT_FLAG, "false", "apply --act also after each pathway's last layer, before the sum"},
    {"precision", OPT_STRING, "double",
     "double|single: single = float32 weights, products and updates (completion with gd only)",
     "dln_cfg.single"},
    {"width", OPT_INT, "100", "hidden units per layer", "dln_cfg.width", OPT_IN(1, 100000)},
    {"loss", OPT_STRING, "mean",
     "sum|mean: 0.5 * sum over items of the squared error, or that divided by the number of items"},
    {"sv", OPT_LIST, "3,2,1", "lowrank: singular values of the target", "task_cfg.sv", OPT_MIN(0)},
    {"n-out", OPT_INT, "10", "lowrank/latent: output dimension", "task_cfg.n_out", OPT_IN(1, 100000)},
    {"n-in", OPT_INT, "8", "lowrank: input dimension", "task_cfg.n_in", OPT_IN(1, 100000)},
    {"latent-dim", OPT_INT, "4", "latent: dimension k of each latent block", "task_cfg.latent_dim",
     OPT_IN(1, 100000)},
    {"redundancy", OPT_DOUBLE, "0.5",
     "latent: share rho in [0,1] of the signal common to all sources (each source superposes the shared and "
     "its own latent in the same k directions: for 0 < rho < 1 the loss has a floor)",
     "task_cfg.redundancy", OPT_IN(0, 1)},
    {"synergy", OPT_DOUBLE, "0",
     "latent: share g in [0,1] of the target seen only in the difference of the sources", "task_cfg.synergy",
     OPT_IN(0, 1)},
    {"noise-var", OPT_LIST, "0", "latent: noise variance of each source (one value: all)",
     "task_cfg.noise_var", OPT_MIN(0)},
    {"n", OPT_INT, "100", "completion: the target is n x n", "task_cfg.n", OPT_IN(1, 100000)},
    {"rank", OPT_INT, "10", "completion: rank of the first target", "task_cfg.rank1", OPT_IN(1, 100000)},
    {"rank2", OPT_INT, "5", "completion: rank of the second target (switch)", "task_cfg.rank2",
     OPT_IN(1, 100000)},
    {"n-obs", OPT_INT, "2000", "completion: number of observed entries", "task_cfg.n_obs",
     OPT_IN(1, 2000000000)},
    {"task-seed", OPT_INT, "-1", "seed of the task's random matrices (-1: --seed)", OPT_IN(-1, 4294967295L)},
    {"target", OPT_STRING, NULL,
     "target matrix file (text rows or .npy): item target map (out x in) or completion M*",
     "task_cfg.target_file"},
    {"target2", OPT_STRING, NULL, "second target for switch@STEP (same shape)", "task_cfg.target2_file"},
    {"observed", OPT_STRING, NULL, "completion: observed entries, one 0-based 'row col' per line",
     "task_cfg.observed_file"},
    {"sigma-xx", OPT_STRING, NULL, "input covariance file (in x in)", "task_cfg.sxx_file"},
    {"sigma-yx", OPT_STRING, NULL, "input-output covariance file (out x in)", "task_cfg.syx_file"},
    {"init", OPT_STRING, "gauss", "gauss|orthogonal|identity|aligned", "dln_init.kind"},
    {"init-scale", OPT_DOUBLE, "0.001", "gauss/orthogonal/identity: per-layer scale init-scale^(1/D)",
     OPT_MIN(0)},
    {"init-k", OPT_LIST, "0.01", "aligned: K(0) per mode (one value: every mode)", "dln_init.k0", OPT_ANY},
    {"init-eps", OPT_DOUBLE, NULL, "aligned: K(0) = sort_desc(eps (1 + init-noise xi)) instead of --init-k",
     OPT_ANY},
    {"init-noise", OPT_DOUBLE, "0", "aligned with --init-eps: relative noise; identity: diagonal noise",
     OPT_MIN(0)},
    {"init-weights", OPT_LIST, NULL,
     "initial weights, one file per layer (first layer first, pathway a first), (out x in)"},
    {"method", OPT_STRING, "gd",
     "gd|euler (gradient descent) | rk8pd|rkf45|rkck (gradient flow, time = step * lr)", "dln_method"},
    {"lr", OPT_DOUBLE, "0.01", "learning rate (gd) / time per step (flow)", OPT_POSITIVE},
    {"steps", OPT_INT, "1000", "number of updates", OPT_IN(0, 2000000000L)},
    {"every", OPT_INT, "10", "record every K steps (and always the last)", OPT_IN(1, 2000000000L)},
    {"epsabs", OPT_DOUBLE, "1e-10", "gradient flow: absolute tolerance", OPT_IN(0, 1)},
    {"epsrel", OPT_DOUBLE, "1e-10", "gradient flow: relative tolerance", OPT_IN(0, 1)},
    {"deficit", OPT_MULTI, NULL,
     "gate:P@S-E lesion:P:M@S-E remove:P@S-E noise:P:V@S-E decorrelate@S-E subset:M@S-E switch@T"},
    {"seed", OPT_INT, "0", "random seed (initialisation; task unless --task-seed)", OPT_IN(0, 4294967295L)},
    {"out", OPT_STRING, "results/flow", "run folder"},
    {"sv-top", OPT_INT, "20", "number of singular values written per map to sv.dat", OPT_IN(0, 1000000)},
    {"snap-every", OPT_INT, "-1",
     "snapshot every K steps (-1: at recorded steps, thinned to <= ~1000 snapshots; 0: none)",
     OPT_IN(-1, 2000000000L)},
    {"switch-sweep", OPT_LIST, NULL, "switch steps T1,T2,...: shared trunk, one branch per T with switch@T",
     OPT_IN(0, 2000000000L)},
    {"continue", OPT_INT, "30000", "switch sweep: updates per branch after its switch step",
     OPT_IN(0, 2000000000L)},
    {"jobs", OPT_INT, "0", "switch sweep: processes at once, the trunk included (0: one per core)",
     OPT_IN(0, 4096)},
    {"threads", OPT_INT, "1",
     "threads per gradient (completion with one chain, D >= 2; item tasks with linear pathways on the whole "
     "input, width >= 256: a pathway per thread; same results for any count)",
     "dln_set_threads.n", OPT_IN(1, 8)},
    {NULL, 0, NULL, NULL}};

/* ---- option handling ------------------------------------------------------------------------- */

/* An option whose declared range fits an int. */
static int get_int(const opts *o, const char *name, int *out)
{
    long v;
    int rc = opts_long(o, name, &v);
    if (rc == CS_OK) *out = (int)v;
    return rc;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Options that another option would silently override are refused, naming both. */
static int flow_conflicts(const opts *o, int kind, const dln_cfg *dc)
{
    const char *sig = opts_str(o, "sigma-xx") ? "--sigma-xx" : opts_str(o, "sigma-yx") ? "--sigma-yx" : NULL;
    if (opts_str(o, "target") && sig)
        return util_seterr(CS_EUSAGE,
                           "--target and %s both define the task; give the target or the covariances", sig);
    if (opts_str(o, "target") && kind == TASK_LATENT)
        return util_seterr(CS_EUSAGE,
                           "--target and --task latent: the latent task builds its own target; drop one");
    if (sig && (kind == TASK_COMPLETION || kind == TASK_LATENT))
        return util_seterr(CS_EUSAGE, "%s and --task %s: the covariance files define an item task; drop one",
                           sig, kind == TASK_COMPLETION ? "completion" : "latent");
    if (dc->arch == DLN_FUSED && opts_is_set(o, "pathways") && dc->n_chain != 1)
        return util_seterr(
            CS_EUSAGE,
            "--arch fused and --pathways %d: a fused network is one pathway fed by every source; "
            "drop --pathways (or use --arch paths)",
            dc->n_chain);
    long jobs; /* read only by a switch sweep, checked always */
    return opts_long(o, "jobs", &jobs);
}

/* The network's options into dc (the task kind is read first, by build). */
static int read_dln_cfg(const opts *o, dln_cfg *dc)
{
    int rc, arch, loss, prec;
    memset(dc, 0, sizeof *dc);
    if ((rc = opts_enum(o, "arch", archs, &arch))) return rc;
    if ((rc = opts_enum(o, "loss", losses, &loss))) return rc;
    dc->arch = (dln_arch)arch;
    dc->shared_input = opts_flag(o, "shared-input");
    dc->loss = (dln_loss)loss;
    if ((rc = dln_act_parse(opts_str(o, "act"), &dc->act))) return rc;
    dc->act_output = opts_flag(o, "act-output");
    if ((rc = opts_enum(o, "precision", precisions, &prec))) return rc;
    dc->single = prec;
    if ((rc = get_int(o, "pathways", &dc->n_chain))) return rc;
    if ((rc = get_int(o, "depth", &dc->depth))) return rc;
    return get_int(o, "width", &dc->width);
}

/* The task's options into c (c->kind set; sdims holds the source dimensions c->src_dims points to).
 * c->sv and c->noise_var point to *sv_out and *nv_out, which the caller frees after success (freed here
 * on failure). */
static int read_task_cfg(const opts *o, const dln_cfg *dc, task_cfg *c, int *sdims, double **sv_out,
                         double **nv_out)
{
    int rc;
    int nsrc;
    if ((rc = get_int(o, "sources", &nsrc))) return rc;
    long *sd = NULL;
    int nsd = 0;
    if (opts_count(o, "source-dims")) {
        if ((rc = opts_list_long(o, "source-dims", &sd, &nsd))) return rc;
        if (nsd > TASK_MAX_SRC) {
            free(sd);
            return util_seterr(CS_EUSAGE, "--source-dims: at most %d sources", TASK_MAX_SRC);
        }
        if (nsrc && nsrc != nsd) {
            free(sd);
            return util_seterr(CS_EUSAGE, "--sources %d but --source-dims lists %d", nsrc, nsd);
        }
        for (int i = 0; i < nsd; i++)
            sdims[i] = (int)sd[i];
        free(sd);
        nsrc = nsd;
        c->src_dims = sdims;
    }
    if (nsrc == 0) nsrc = dc->arch == DLN_FUSED ? 2 : (dc->shared_input ? 1 : dc->n_chain);
    c->n_src = nsrc;
    long seed, tseed;
    if ((rc = opts_long(o, "seed", &seed))) return rc;
    if ((rc = opts_long(o, "task-seed", &tseed))) return rc;
    c->seed = (unsigned long)(tseed < 0 ? seed : tseed);
    double *sv = NULL, *nv = NULL;
    if ((rc = opts_list_double(o, "sv", &sv, &c->n_sv))) return rc;
    c->sv = sv;
    if ((rc = opts_list_double(o, "noise-var", &nv, &c->n_noise))) {
        free(sv);
        return rc;
    }
    c->noise_var = nv;
    if ((rc = get_int(o, "n-out", &c->n_out)) || (rc = get_int(o, "n-in", &c->n_in)) ||
        (rc = get_int(o, "latent-dim", &c->latent_dim)) ||
        (rc = opts_double(o, "redundancy", &c->redundancy)) ||
        (rc = opts_double(o, "synergy", &c->synergy)) || (rc = get_int(o, "n", &c->n)) ||
        (rc = get_int(o, "rank", &c->rank1)) || (rc = get_int(o, "rank2", &c->rank2)) ||
        (rc = get_int(o, "n-obs", &c->n_obs))) {
        free(sv);
        free(nv);
        return rc;
    }
    c->target_file = opts_str(o, "target");
    c->target2_file = opts_str(o, "target2");
    c->observed_file = opts_str(o, "observed");
    c->sxx_file = opts_str(o, "sigma-xx");
    c->syx_file = opts_str(o, "sigma-yx");
    if (c->observed_file && c->kind != TASK_COMPLETION) {
        free(sv);
        free(nv);
        return util_seterr(CS_EUSAGE, "--observed needs --task completion");
    }
    *sv_out = sv;
    *nv_out = nv;
    return CS_OK;
}

static int build(const opts *o, task *t, dln **dout, deficit_list *dl)
{
    int rc, kind;
    task_cfg c;
    memset(&c, 0, sizeof c);
    if ((rc = opts_enum(o, "task", task_kinds, &kind))) return rc;
    c.kind = (task_kind)kind;
    dln_cfg dc;
    if ((rc = read_dln_cfg(o, &dc))) return rc;
    int sdims[TASK_MAX_SRC];
    double *sv = NULL, *nv = NULL;
    if ((rc = read_task_cfg(o, &dc, &c, sdims, &sv, &nv))) return rc;
    if ((rc = flow_conflicts(o, kind, &dc))) {
        free(sv);
        free(nv);
        return rc;
    }
    if ((rc = opts_deficits(o, "deficit", dl))) {
        free(sv);
        free(nv);
        return rc;
    }
    for (int i = 0; i < dl->n; i++)
        if (dl->d[i].kind == DEF_SWITCH) c.need_target2 = 1;
    if (opts_count(o, "switch-sweep")) c.need_target2 = 1;
    /* out of memory below is a usage error naming the options that asked for the size (util.h) */
    static char hint[160];
    if (kind == TASK_COMPLETION)
        snprintf(hint, sizeof hint, "the task (--task completion --n %d: an n x n target): reduce --n", c.n);
    else
        snprintf(hint, sizeof hint,
                 "the task: reduce --n-out, --n-in, --latent-dim, --source-dims or --n-obs");
    util_set_oom_hint(hint);
    rc = task_build(&c, t);
    free(sv);
    free(nv);
    if (rc) {
        util_set_oom_hint(NULL);
        return rc;
    }
    snprintf(hint, sizeof hint,
             "the network (--arch %s --width %d --depth %d --pathways %d on a %d-output task): reduce "
             "--width, --depth, --pathways or the task size",
             opts_str(o, "arch"), dc.width, dc.depth, dc.n_chain, t->n_out);
    dln *d;
    rc = dln_alloc(&dc, t, &d);
    util_set_oom_hint(NULL);
    if (rc) {
        task_free(t);
        return rc;
    }
    rc = dln_set_deficits(d, dl);
    if (rc) {
        dln_free(d);
        task_free(t);
        return rc;
    }
    *dout = d;
    return CS_OK;
}

static int init_weights(const opts *o, dln *d)
{
    int rc, kind;
    if ((rc = opts_enum(o, "init", init_kinds, &kind))) return rc;
    long seed;
    if ((rc = opts_long(o, "seed", &seed))) return rc;
    int nf = opts_count(o, "init-weights");
    if (nf) {
        if (nf != dln_n_chain(d) * dln_depth(d))
            return util_seterr(
                CS_EUSAGE, "--init-weights lists %d files but the model has %d pathway(s) x %d layers = %d",
                nf, dln_n_chain(d), dln_depth(d), dln_n_chain(d) * dln_depth(d));
        for (int i = 0; i < nf; i++) {
            int r, c;
            double *w;
            const char *f = opts_item(o, "init-weights", i);
            if ((rc = task_load_matrix(f, "--init-weights", &r, &c, &w))) return rc;
            for (long k = 0; k < (long)r * c; k++)
                if (!isfinite(w[k])) {
                    free(w);
                    return util_seterr(CS_EUSAGE, "--init-weights: '%s' holds a non-finite value", f);
                }
            char what[1200];
            snprintf(what, sizeof what, "--init-weights '%s'", f);
            rc = dln_set_layer(d, i / dln_depth(d), i % dln_depth(d) + 1, w, r, c, what);
            free(w);
            if (rc) return rc;
        }
        return CS_OK;
    }
    double scale, noise;
    if ((rc = opts_double(o, "init-scale", &scale)) || (rc = opts_double(o, "init-noise", &noise))) return rc;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)seed);
    double *k0 = NULL;
    int nk = 0;
    if (kind == DLN_INIT_ALIGNED) {
        if (opts_is_set(o, "init-eps")) {
            double eps;
            if ((rc = opts_double(o, "init-eps", &eps))) {
                gsl_rng_free(rng);
                return rc;
            }
            nk = dln_task(d)->rank;
            k0 = util_malloc((size_t)nk * sizeof *k0);
            for (int i = 0; i < nk; i++)
                k0[i] = eps * (1 + noise * gsl_ran_gaussian_ziggurat(rng, 1.0));
            qsort(k0, (size_t)nk, sizeof *k0, cmp_desc);
        } else if ((rc = opts_list_double(o, "init-k", &k0, &nk))) {
            gsl_rng_free(rng);
            return rc;
        }
    }
    rc = dln_init(d, (dln_init_kind)kind, scale, noise, k0, nk, rng);
    free(k0);
    gsl_rng_free(rng);
    return rc;
}
static int run(const opts *o)
{
    int rc, meth;
    if ((rc = opts_enum(o, "method", methods, &meth))) return rc;
    long steps, every, se, cont;
    int svtop;
    double lr, epsabs, epsrel;
    if ((rc = opts_long(o, "steps", &steps)) || (rc = opts_long(o, "every", &every)) ||
        (rc = opts_long(o, "snap-every", &se)) || (rc = opts_long(o, "continue", &cont)) ||
        (rc = get_int(o, "sv-top", &svtop)) || (rc = opts_double(o, "lr", &lr)) ||
        (rc = opts_double(o, "epsabs", &epsabs)) || (rc = opts_double(o, "epsrel", &epsrel)))
        return rc;
    if (epsabs == 0 && epsrel == 0) return util_seterr(CS_EUSAGE, "--epsabs and --epsrel cannot both be 0");
    const char *out = opts_str(o, "out");
    task t;
    dln *d = NULL;
    deficit_list dl;
    if ((rc = build(o, &t, &d, &dl))) return rc;
    if ((rc = init_weights(o, d))) goto done;
    long nthr;
    if ((rc = opts_long(o, "threads", &nthr))) goto done;
    if (dln_config(d)->single && (nthr > 1 || meth != METH_GD)) {
        rc = util_seterr(CS_EUSAGE,
                         "--precision single runs gradient descent on one thread: use --method gd and "
                         "--threads 1, or --precision double");
        goto done;
    }
    if ((rc = dln_set_threads(d, (int)nthr))) goto done;
    /* below 512 OpenBLAS's own threads cost more than they gain (width 100: 1.6 s wall and twice the
     * CPU instead of 1.3 s for 3000 completion steps); OPENBLAS_NUM_THREADS set by the user wins */
    int mxd = dln_width(d) > dln_n_in(d) ? dln_width(d) : dln_n_in(d);
    if (dln_n_out(d) > mxd) mxd = dln_n_out(d);
    if (mxd < 512) linalg_blas_threads(LINALG_BLAS_SMALL);
    int flow = meth != METH_GD;
    if (flow && (rc = dln_flow_alloc(d, (dln_stepper)meth, epsabs, epsrel, lr * 0.1))) goto done;

    run_out r;
    memset(&r, 0, sizeof r);
    r.flow = flow;
    r.lr = lr;
    r.every = every;
    r.snap_every = se;
    r.sv_top = svtop;
    r.t_wall0 = util_now();

    int nsw = opts_count(o, "switch-sweep");
    if (!nsw) {
        if ((rc = flow_out_open(&r, o, d, out, steps))) goto done;
        long fs = 0;
        int st = flow_run_steps(&r, 0, steps, &fs);
        char why[512];
        snprintf(why, sizeof why, "%s", opts_errmsg(&cmd_flow));
        rc = flow_out_close(&r, st, fs, why);
        if (st) {
            util_seterr(st, "%s", why);
            rc = st;
        }
        goto done;
    }
    rc = flow_switch_sweep(o, &r, d, &dl, out, cont, meth, epsabs, epsrel);
done:
    dln_free(d);
    task_free(&t);
    return rc;
}

const cmd_def cmd_flow = {
    "flow", "train deep/shallow multi-source linear networks on full matrices (GD or gradient flow)",
    "examples:\n"
    "  critsim flow --task hier --shared-input --depth 4 --loss sum --init aligned --init-eps 0.01 \\\n"
    "      --init-noise 0.1 --lr 0.01 --steps 1000 --deficit gate:b@0-150 --out runs/fig2\n"
    "  critsim flow --task completion --arch fused --depth 3 --lr 0.2 --init-scale 0.001 \\\n"
    "      --switch-sweep 1,1001,5001 --continue 29998 --every 100 --out runs/mc\n"
    "outputs: loss.dat, modes.dat, sv.dat, weights_P_L.npy, snap/, final.dat (see README)",
    specs, run};
