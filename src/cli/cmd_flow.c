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
 */
#include <errno.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analyze.h"
#include "deficit.h"
#include "dln.h"
#include "linalg.h"
#include "npy.h"
#include "opts.h"
#include "snap.h"
#include "table.h"
#include "task.h"
#include "util.h"

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

extern const cmd_def cmd_flow; /* messages: opts_errmsg(&cmd_flow) names the options */

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

/* Number of the target's modes: singular values above 1e-12 s_0 (below is rounding of an exact 0, e.g.
 * the latent task's n_in - k missing modes, whose split between pathways means nothing).  final.dat's
 * shares and the snapshot's U, s, V cover these modes only. */
static int target_modes(const task *t)
{
    int nz = 0;
    while (nz < t->rank && t->s[nz] > 1e-12 * t->s[0])
        nz++;
    return nz;
}

/* ---- one run folder -------------------------------------------------------------------------- */

typedef struct {
    const opts *o;
    dln *d;
    const task *t;
    int flow; /* 0: gd */
    double lr, t_wall0;
    long every, snap_every, last, first;
    int sv_top;
    char dir[PATH_MAX];
    table *loss, *modes, *sv;
    snap_writer *snap;
    double *K, *svals, *buf; /* scratch */
    const double *v0;        /* the task's V when square (rank = n_in): starting basis of linalg_sv_small */
    int fused_hidden;
    int n_units;         /* nonlinear fused runs: sampled SV_a, SV_b per snapshot (dln_rsv_sampled) */
    double *sva, *svb;   /* (n_units) */
    char act_line[160];  /* the provenance line naming the activation */
    char prec_line[160]; /* ... and the precision */
    double final_loss, final_test;
} run_out;

/* snap/ for analyze: the per-source layout of the maps, the hidden layer (linear fused networks) or the
 * engine's RSV estimate (nonlinear ones), the target's modes.  On failure the tables are discarded. */
static int open_snap(run_out *r, dln *d, const char *dir)
{
    const task *t = dln_task(d);
    int no = dln_n_out(d), ni = dln_n_in(d), rk = t->rank;
    snap_meta m;
    memset(&m, 0, sizeof m);
    m.engine = "flow";
    m.n_out = no;
    int shared = dln_config(d)->arch == DLN_PATHS && dln_in_dim(d, 0) == ni && dln_n_chain(d) > 1;
    if (dln_config(d)->arch == DLN_PATHS && dln_n_chain(d) > 1) {
        m.n_src = dln_n_chain(d);
        m.layout = shared ? SNAP_SHARED : SNAP_CONCAT;
        for (int p = 0; p < dln_n_chain(d); p++)
            m.n_in[p] = dln_in_dim(d, p);
    } else {
        m.n_src = t->n_src;
        m.layout = SNAP_CONCAT;
        for (int p = 0; p < t->n_src; p++)
            m.n_in[p] = t->src_dim[p];
        if (dln_depth(d) >= 2 && dln_config(d)->act == DLN_ACT_LINEAR) {
            m.n_hidden = dln_width(d);
            m.hidden_layer = dln_depth(d) - 1;
            r->fused_hidden = 1;
        } else if (dln_config(d)->act != DLN_ACT_LINEAR && dln_rsv_units(d) > 0) {
            /* no closed form: the engine's sampled estimate of the last hidden layer (after phi) */
            m.n_units = r->n_units = dln_rsv_units(d);
            r->sva = util_malloc(2 * (size_t)r->n_units * sizeof(double));
            r->svb = r->sva + r->n_units;
        }
    }
    if (m.n_src > SNAP_MAX_SRC) m.n_src = 0;
    /* the analyzer gets only the target's modes: U and V packed to their first nz columns */
    int nz = target_modes(t);
    double *Uz = util_malloc(((size_t)no + ni) * (nz ? nz : 1) * sizeof(double)), *Vz = Uz + (size_t)no * nz;
    for (int i = 0; i < no; i++)
        memcpy(Uz + (size_t)i * nz, t->U + (size_t)i * rk, (size_t)nz * sizeof(double));
    for (int i = 0; i < ni; i++)
        memcpy(Vz + (size_t)i * nz, t->V + (size_t)i * rk, (size_t)nz * sizeof(double));
    m.rank = nz;
    m.target = t->target;
    m.U = Uz;
    m.s = t->s;
    m.V = Vz;
    m.sxx = t->sxx;
    if (m.n_src > 0) {
        r->snap = snap_open(dir, &m); /* copies U, s, V */
        if (!r->snap) {
            free(Uz);
            table_discard(r->loss);
            table_discard(r->modes);
            table_discard(r->sv);
            return CS_EUSAGE;
        }
    }
    free(Uz);
    return CS_OK;
}

static int out_open(run_out *r, const opts *o, dln *d, const char *dir, long last)
{
    memset(&r->loss, 0, sizeof(run_out) - offsetof(run_out, loss));
    r->d = d;
    r->t = dln_task(d);
    r->o = o;
    r->last = last;
    if (strlen(dir) + 32 >= sizeof r->dir) /* room for "/snap/hidden_a.npy" and the like */
        return util_seterr(CS_EUSAGE, "--out '%.40s...' is %zu characters long; at most %zu fit", dir,
                           strlen(dir), sizeof r->dir - 33);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    const task *t = dln_task(d);
    snprintf(r->prec_line, sizeof r->prec_line, "%s",
             dln_config(d)->single
                 ? "precision = single (float32 weights, products and updates; the tables evaluate "
                   "the float32 weights in double)"
                 : "precision = double");
    if (dln_config(d)->act == DLN_ACT_LINEAR)
        snprintf(r->act_line, sizeof r->act_line, "act = linear (no nonlinearity)");
    else
        snprintf(r->act_line, sizeof r->act_line,
                 "act = %s after every hidden layer%s; maps = responses to the one-hot items",
                 dln_act_name(dln_config(d)->act),
                 dln_config(d)->act_output ? " and after each pathway's last layer (act-output)" : "");
    r->loss = table_open(dir, "loss.dat", opts_prov(o));
    r->modes = r->loss ? table_open(dir, "modes.dat", opts_prov(o)) : NULL;
    r->sv = r->modes ? table_open(dir, "sv.dat", opts_prov(o)) : NULL;
    if (!r->sv) {
        table_discard(r->loss);
        table_discard(r->modes);
        return CS_EUSAGE;
    }
    table *all[3] = {r->loss, r->modes, r->sv};
    for (int i = 0; i < 3; i++) {
        table_meta(all[i],
                   "engine = flow; task = %s; arch = %s%s; pathways = %d; depth = %d; width = %d; n_out = "
                   "%d; n_in = %d",
                   task_kind_name(t->kind), dln_config(d)->arch == DLN_FUSED ? "fused" : "paths",
                   dln_config(d)->arch == DLN_PATHS && dln_in_dim(d, 0) == dln_n_in(d) && dln_n_chain(d) > 1
                       ? " (shared input)"
                       : "",
                   dln_n_chain(d), dln_depth(d), dln_width(d), dln_n_out(d), dln_n_in(d));
        table_meta(all[i], "%s", r->act_line);
        table_meta(all[i], "%s", r->prec_line);
        table_meta(all[i], "method = %s; lr = %.17g (time = step * lr); loss = %s (c = %.17g)",
                   opts_str(o, "method"), r->lr,
                   t->kind == TASK_COMPLETION ? "mean over observed entries" : opts_str(o, "loss"),
                   dln_loss_scale(d));
        if (r->flow)
            table_meta(all[i], "epsabs = %.3g; epsrel = %.3g", strtod(opts_str(o, "epsabs"), NULL),
                       strtod(opts_str(o, "epsrel"), NULL));
    }
    table_meta(r->loss, "train_loss: loss of the state under the deficits of update `step`; test_loss: %s",
               t->kind == TASK_COMPLETION ? "mean over all entries of (W - M_active)^2 (no 1/2)"
                                          : "same loss on intact statistics of the active target");
    table_columns(r->loss, "step train_loss test_loss");
    char cols[512] = "step mode s";
    for (int p = 0; p < dln_n_chain(d); p++) {
        size_t n = strlen(cols);
        snprintf(cols + n, sizeof cols - n, " K_%c", 'a' + p);
    }
    table_meta(r->modes, "K_p = u_mode^T Omega_p v_mode (stored weights) against the target's fixed singular "
                         "vectors; s = target singular value");
    table_columns(r->modes, cols);
    strcpy(cols, "step index");
    for (int p = 0; p < dln_n_chain(d); p++) {
        size_t n = strlen(cols);
        snprintf(cols + n, sizeof cols - n, " sigma_%c", 'a' + p);
    }
    strcat(cols, " sigma_total");
    table_meta(r->sv, "singular values (descending) of each pathway's end-to-end map and of the total map");
    table_columns(r->sv, cols);
    int no = dln_n_out(d), ni = dln_n_in(d), rk = t->rank;
    r->K = util_malloc((size_t)dln_n_chain(d) * rk * sizeof(double));
    r->svals = util_malloc((size_t)(dln_n_chain(d) + 1) * rk * sizeof(double));
    r->v0 = rk == ni ? t->V : NULL;
    r->buf = util_malloc(((size_t)no * ni + (size_t)(dln_width(d) + 1) * ni) * sizeof(double));
    if (r->snap_every != 0) return open_snap(r, d, dir);
    return CS_OK;
}

/* One row "STEP INDEX V[0] V[stride] ... V[(n-1) stride]" (index < 0: "STEP V[0] ...") with the exact
 * fast %.17g formatter (same characters as printf; modes.dat and sv.dat are the bulk of flow's output). */
static void put_row(FILE *f, long step, int index, const double *v, int n, int stride)
{
    char line[64 + (TABLE_G17_LEN + 1) * (DLN_MAX_CHAIN + 2)], *c = line;
    c += table_fmt_long(c, step);
    if (index >= 0) {
        *c++ = ' ';
        c += table_fmt_long(c, index);
    }
    for (int i = 0; i < n; i++) {
        *c++ = ' ';
        c += table_fmt_g17(c, v[(size_t)i * stride]);
    }
    *c++ = '\n';
    fwrite(line, 1, (size_t)(c - line), f);
}

/* Write the rows of `step`.  have = 0: evaluate the state (dln_grad, which leaves the gradient in
 * dln_gradient(d) for the update of this step).  have = 1: the caller's dln_gd_step at this state,
 * under this step's deficits, returned `train` and (item tasks) left the pre-step maps in dln_map(d, p)
 * and dln_total_map(d) (dln.h), so nothing is evaluated again: the test loss is a function of the
 * total map. */
static int record(run_out *r, long step, int have, double train)
{
    dln *d = r->d;
    const task *t = r->t;
    dln_set_step(d, step);
    if (!have) train = dln_grad(d, dln_params(d), dln_gradient(d));
    double test;
    int no = dln_n_out(d), ni = dln_n_in(d), rk = t->rank;
    const double *tot;          /* the total map, read in place (nothing below changes the engine) */
    if (dln_is_completion(d)) { /* dln_grad does not form the dense maps of a completion network */
        test = dln_test_loss(d, dln_params(d)); /* leaves dln_map(d, p) and the total in dln_test_map(d) */
        tot = dln_test_map(d);
    } else {
        tot = dln_total_map(d);
        test = dln_test_loss_of(d, tot);
    }
    double lv[2] = {train, test};
    put_row(table_stream(r->loss), step, -1, lv, 2, 1);
    r->final_loss = train;
    r->final_test = test;
    if (!isfinite(train) || !isfinite(test)) return CS_EFAIL;
    dln_modes(d, r->K);
    FILE *f = table_stream(r->modes);
    for (int a = 0; a < rk; a++) {
        double v[DLN_MAX_CHAIN + 1];
        v[0] = t->s[a];
        for (int p = 0; p < dln_n_chain(d); p++)
            v[1 + p] = r->K[p * rk + a];
        put_row(f, step, a, v, 1 + dln_n_chain(d), 1);
    }
    for (int p = 0; p < dln_n_chain(d); p++) {
        int rp = no < dln_in_dim(d, p) ? no : dln_in_dim(d, p);
        for (int a = 0; a < rk; a++)
            r->svals[p * rk + a] = NAN;
        if (linalg_sv_small(no, dln_in_dim(d, p), dln_map(d, p), dln_in_dim(d, p) == ni ? r->v0 : NULL,
                            r->svals + p * rk))
            return CS_EFAIL;
        for (int a = rp; a < rk; a++)
            r->svals[p * rk + a] = 0;
    }
    /* one chain on all inputs, no lesion: the total map is the chain's map */
    if (dln_n_chain(d) == 1 && dln_in_dim(d, 0) == ni && !dln_n_lesions(d, 0))
        memcpy(r->svals + rk, r->svals, (size_t)rk * sizeof(double));
    else if (linalg_sv_small(no, ni, tot, r->v0, r->svals + dln_n_chain(d) * rk))
        return CS_EFAIL;
    f = table_stream(r->sv);
    for (int a = 0; a < rk && a < r->sv_top; a++)
        put_row(f, step, a, r->svals + a, dln_n_chain(d) + 1, rk);
    long se = r->snap_every;
    if (se < 0) { /* at recorded steps, thinned to at most about 1000 snapshots per run */
        long k = (r->last - r->first) / (r->every * 1000) + 1;
        se = r->every * k;
    }
    if (r->snap && (step % se == 0 || step == r->last)) {
        const double *maps[SNAP_MAX_SRC], *hid[SNAP_MAX_SRC];
        if (dln_config(d)->arch == DLN_PATHS && dln_n_chain(d) > 1) {
            for (int p = 0; p < dln_n_chain(d) && p < SNAP_MAX_SRC; p++)
                maps[p] = dln_map(d, p);
            if (snap_add(r->snap, step, step * r->lr, maps, NULL)) return CS_EUSAGE;
        } else {
            /* per-source blocks of the total map, and of the last hidden layer's map */
            double *b = r->buf;
            int w = dln_width(d);
            const double *H = r->fused_hidden ? dln_hidden(d) : NULL; /* (w x ni), from dln_maps */
            for (int p = 0; p < t->n_src && p < SNAP_MAX_SRC; p++) {
                int o = t->src_off[p], np = t->src_dim[p];
                maps[p] = b;
                for (int i = 0; i < no; i++)
                    for (int j = 0; j < np; j++)
                        b[i * np + j] = dln_map(d, 0)[(size_t)i * ni + o + j];
                b += (size_t)no * np;
                if (H) {
                    hid[p] = b;
                    for (int i = 0; i < w; i++)
                        for (int j = 0; j < np; j++)
                            b[i * np + j] = H[(size_t)i * ni + o + j];
                    b += (size_t)w * np;
                }
            }
            if (snap_add(r->snap, step, step * r->lr, maps, H ? hid : NULL)) return CS_EUSAGE;
            if (r->n_units) {
                if (dln_rsv_sampled(d, dln_params(d), r->sva, r->svb) || snap_add_sv(r->snap, r->sva, r->svb))
                    return CS_EUSAGE;
            }
        }
    }
    return CS_OK;
}

/* DIR/final.dat (the format of table_write_outcomes) with the activation and the ablation keys named. */
static int write_final(const run_out *r, int n, const char *const *keys, const double *vals)
{
    const dln *d = r->d;
    table *t = table_open(r->dir, "final.dat", opts_prov(r->o));
    if (!t) return CS_EUSAGE;
    table_meta(t, "key outcomes of the run, one per row (read by critsim sweep)");
    table_meta(t, "%s", r->act_line);
    table_meta(t, "%s", r->prec_line);
    if (dln_n_chain(d) >= 2)
        table_meta(t, "loss_without_P: test loss (as test_loss) of the final network with pathway P's output "
                      "removed from the sum");
    else
        table_meta(t, "loss_without_P: test loss (as test_loss) of the final network with source P's inputs "
                      "zeroed (one pathway: the sources stand for the pathways)");
    table_columns(t, "key value");
    for (int i = 0; i < n; i++) {
        if (isnan(vals[i]))
            table_row(t, "%s nan", keys[i]);
        else
            table_row(t, "%s %.17g", keys[i], vals[i]);
    }
    return table_close(t);
}

static int out_close(run_out *r, int status, long fail_step, const char *why)
{
    dln *d = r->d;
    double wall = util_now() - r->t_wall0;
    table *all[3] = {r->loss, r->modes, r->sv};
    long steps = 0, failed = 0, rhs = 0;
    if (r->flow) dln_flow_stats(d, &steps, &failed, &rhs);
    int rc = CS_OK;
    for (int i = 0; i < 3; i++) {
        if (r->flow)
            table_meta(all[i], "solver: steps = %ld; failed steps = %ld; rhs evaluations = %ld (cumulative)",
                       steps, failed, rhs);
        table_meta(all[i], "wall time = %.3f s", wall);
        int s = status == CS_OK ? table_close(all[i]) : table_fail(all[i], fail_step, why);
        if (s && rc == CS_OK) rc = s;
    }
    if (r->snap) {
        int s = snap_close(r->snap);
        if (s && rc == CS_OK) rc = s;
    }
    if (status == CS_OK && rc == CS_OK) {
        char path[PATH_MAX], name[64];
        for (int p = 0; p < dln_n_chain(d) && rc == CS_OK; p++)
            for (int l = 1; l <= dln_depth(d) && rc == CS_OK; l++) {
                snprintf(name, sizeof name, "weights_%c_%d.npy", 'a' + p, l);
                if ((rc = util_path(path, sizeof path, r->dir, name))) break;
                size_t shape[2] = {(size_t)dln_rows(d, l), (size_t)dln_cols(d, p, l)};
                rc = npy_write_f64(path, 2, shape, dln_weight(d, dln_params(d), p, l));
            }
        const task *t = r->t;
        int rk = t->rank, nz = target_modes(t);
        int nsh = dln_n_chain(d) >= 2 ? (nz < 20 ? nz : 20) : 0;
        int nwo = dln_n_chain(d) >= 2 ? dln_n_chain(d) : t->n_src; /* loss_without_P keys */
        /* blocks of degenerate modes (analyze.h): their per-mode shares depend on the SVD basis, the
         * share summed over the block (share_b_mF_L) does not */
        int *bf = util_malloc((size_t)(nsh + 1) * sizeof *bf);
        int nb = analyze_blocks(nsh, t->s, ANALYZE_DEGEN_RTOL, bf), nk = 2 + nsh;
        const char **keys = util_malloc((size_t)(2 + 2 * nsh + nwo) * sizeof *keys);
        double *vals = util_malloc((size_t)(2 + 2 * nsh + nwo) * sizeof *vals);
        char(*kb)[48] = util_malloc((size_t)(2 * nsh + nwo + 1) * sizeof *kb);
        keys[0] = "final_loss";
        vals[0] = r->final_loss;
        keys[1] = "test_loss";
        vals[1] = r->final_test;
        for (int a = 0; a < nsh; a++) {
            double sum = 0;
            for (int p = 0; p < dln_n_chain(d); p++)
                sum += r->K[p * rk + a];
            snprintf(kb[a], sizeof kb[a], "share_b_m%d", a);
            keys[2 + a] = kb[a];
            vals[2 + a] = sum != 0 ? r->K[rk + a] / sum : NAN;
        }
        for (int b = 0; b < nb; b++)
            if (bf[b + 1] - bf[b] > 1) {
                snprintf(kb[nk - 2], sizeof kb[nk - 2], "share_b_m%d_%d", bf[b], bf[b + 1] - 1);
                keys[nk] = kb[nk - 2];
                vals[nk++] = analyze_block_share_b(dln_n_chain(d), r->K, rk, bf[b], bf[b + 1]);
            }
        for (int p = 0; p < nwo; p++) {
            snprintf(kb[nk - 2], sizeof kb[nk - 2], "loss_without_%c", 'a' + p);
            keys[nk] = kb[nk - 2];
            vals[nk++] = dln_loss_without(d, dln_params(d), p);
        }
        if (rc == CS_OK) rc = write_final(r, nk, keys, vals);
        free(bf);
        free(keys);
        free(vals);
        free(kb);
    } else if (status == CS_EFAIL &&
               (rc == CS_OK || rc == CS_EFAIL)) { /* final.dat says FAILED (a sweep's summary reads it) */
        const char *keys[] = {"final_loss", "test_loss"};
        double vals[] = {NAN, NAN};
        int s = table_write_outcomes_failed(r->dir, opts_prov(r->o), 2, keys, vals, fail_step, why);
        if (s != CS_EFAIL) rc = s; /* an I/O error */
    }
    free(r->sva);
    free(r->K);
    free(r->svals);
    free(r->buf);
    return status != CS_OK ? status : rc;
}

/* Advance dln_params(d) from step s0 to s1, recording at multiples of every and at r->last. */
static int run_steps(run_out *r, long s0, long s1, long *fail_step)
{
    dln *d = r->d;
    for (long t = s0; t < s1;) {
        /* have_grad: record() left the gradient of this state, under step t's deficits, in dln_gradient(d) */
        int have_grad = 0;
        int rec = t % r->every == 0 || t == r->last || t == r->first;
        /* GD on an item task: the step first, then the rows from the pre-step maps and loss it leaves
         * (one evaluation); not when a snapshot samples the network itself (dln_rsv_sampled reads theta) */
        int after = rec && !r->flow && !dln_config(d)->single && !dln_is_completion(d) && !r->n_units;
        if (rec && !after) {
            int rc = record(r, t, 0, 0);
            if (rc) {
                *fail_step = t;
                return util_seterr(CS_EFAIL, "the state is non-finite at step %ld (lower --lr?)", t);
            }
            have_grad = 1;
        }
        if (!r->flow) {
            dln_set_step(d, t);
            double loss;
            /* dln_gd_step's update, without computing the gradient twice */
            if (have_grad && !dln_config(d)->single)
                dln_gd_apply(d, r->lr), loss = r->final_loss;
            else
                loss = dln_gd_step(d, r->lr);
            if (after && record(r, t, 1, loss)) {
                *fail_step = t;
                return util_seterr(CS_EFAIL, "the state is non-finite at step %ld (lower --lr?)", t);
            }
            if (!isfinite(loss)) {
                *fail_step = t;
                return util_seterr(CS_EFAIL, "the loss became non-finite at step %ld (lower --lr?)", t);
            }
            t++;
            continue;
        }
        /* gradient flow to the next step where the deficit set or the recording may change */
        long nx = s1, nr = (t / r->every + 1) * r->every;
        if (nr < nx) nx = nr;
        for (int i = 0; i < dln_deficits(d)->n; i++) {
            const deficit *df = &dln_deficits(d)->d[i];
            if (df->start > t && df->start < nx) nx = df->start;
            if (df->end > t && df->end < nx) nx = df->end;
        }
        dln_set_step(d, t);
        int rc = dln_flow_advance(d, t * r->lr, nx * r->lr);
        if (rc) {
            *fail_step = t;
            char why[400]; /* util_seterr cannot read its own buffer */
            snprintf(why, sizeof why, "%s", opts_errmsg(&cmd_flow));
            return util_seterr(CS_EFAIL, "step %ld: %s", t, why);
        }
        t = nx;
    }
    if (s1 == r->last) {
        int rc = record(r, s1, 0, 0);
        if (rc) {
            *fail_step = s1;
            return util_seterr(CS_EFAIL, "the state is non-finite at step %ld (lower --lr?)", s1);
        }
    }
    return CS_OK;
}

/* ---- switch-sweep branches in parallel processes --------------------------------------------- */
/* The trunk runs in this process; at each switch step its state is kept, and a forked child runs the
 * branch from it (copy-on-write of the whole engine) into DIR/switch_T/, so every branch is the same
 * computation whatever the number of jobs.  While the trunk runs it occupies one of the --jobs slots.
 * A child reports its outcome through a pipe and leaves with _exit (the trunk's open tables, inherited
 * with their stdio buffers, are never flushed twice). */
typedef struct {
    int st, crc; /* run_steps status, out_close status */
    double final_loss, final_test;
    char why[480];
} br_result;

typedef struct {
    int n, jobs, n_ready, next, running;
    const opts *o;
    const char *out; /* the sweep's run folder */
    size_t n_param;
    double *theta; /* (n x n_param) trunk states at the switch steps */
    pid_t *pid;    /* (n) 0: not started or reaped */
    int *fd;       /* (n) read end of each child's pipe */
    br_result *res;
} br_sched;

static int br_sched_init(br_sched *bs, const opts *o, const char *out, int n, size_t n_param)
{
    long jobs;
    memset(bs, 0, sizeof *bs);
    int rc = opts_long(o, "jobs", &jobs);
    if (rc) return rc;
    if (jobs == 0) jobs = sysconf(_SC_NPROCESSORS_ONLN);
    bs->jobs = jobs < 1 ? 1 : (int)jobs;
    /* the trunk shares the cores with the branches: OpenBLAS's own threads would only contend (small
     * products; 66 s instead of 44 s for the official D = 3 sweep on 2 cores) */
    if (bs->jobs > 1) linalg_blas_threads(LINALG_BLAS_WORKER);
    bs->n = n;
    bs->o = o;
    bs->out = out;
    bs->n_param = n_param;
    bs->theta = util_malloc((size_t)n * n_param * sizeof(double));
    bs->pid = util_calloc((size_t)n, sizeof(pid_t));
    bs->fd = util_calloc((size_t)n, sizeof(int));
    bs->res = util_calloc((size_t)n, sizeof(br_result));
    return CS_OK;
}

static void br_sched_free(br_sched *bs)
{
    free(bs->theta);
    free(bs->pid);
    free(bs->fd);
    free(bs->res);
}

static void br_child(const br_sched *bs, int i, int wfd, const run_out *tmpl, dln *d, const deficit_list *dl,
                     const long *sw, long cont, int meth, double epsabs, double epsrel)
{
    br_result res;
    memset(&res, 0, sizeof res);
    linalg_blas_threads(LINALG_BLAS_WORKER);
    dln_forget_threads(d); /* the trunk's workers did not come through fork() */
    memcpy(dln_params(d), bs->theta + (size_t)i * bs->n_param, bs->n_param * sizeof(double));
    deficit_list bl = *dl;
    char spec[64], name[64], bdir[PATH_MAX];
    snprintf(spec, sizeof spec, "switch@%ld", sw[i]);
    deficit_parse(spec, &bl.d[bl.n++]);
    dln_set_deficits(d, &bl);
    snprintf(name, sizeof name, "switch_%ld", sw[i]);
    util_path(bdir, sizeof bdir, bs->out, name);
    run_out br = *tmpl;
    br.t_wall0 = util_now();
    br.first = sw[i];
    if ((res.crc = out_open(&br, bs->o, d, bdir, sw[i] + cont))) {
        res.st = res.crc;
        snprintf(res.why, sizeof res.why, "%s", opts_errmsg(&cmd_flow));
    } else {
        if (tmpl->flow) dln_flow_alloc(d, (dln_stepper)meth, epsabs, epsrel, tmpl->lr * 0.1);
        long bfs = 0;
        res.st = run_steps(&br, sw[i], sw[i] + cont, &bfs);
        snprintf(res.why, sizeof res.why, "%s", opts_errmsg(&cmd_flow));
        res.crc = out_close(&br, res.st, bfs, res.why);
        res.final_loss = br.final_loss;
        res.final_test = br.final_test;
    }
    ssize_t w = write(wfd, &res, sizeof res);
    _exit(w == (ssize_t)sizeof res ? 0 : 3);
}

/* Reap one finished child (block: wait for one); returns 1 if one was reaped. */
static int br_reap(br_sched *bs, int block)
{
    int status;
    pid_t pid;
    do
        pid = waitpid(-1, &status, block ? 0 : WNOHANG);
    while (pid < 0 && errno == EINTR);
    if (pid < 0 && block) { /* no child left to wait for (SIGCHLD ignored by a parent?): fail the rest */
        for (int i = 0; i < bs->n; i++)
            if (bs->pid[i]) {
                memset(&bs->res[i], 0, sizeof bs->res[i]);
                bs->res[i].st = bs->res[i].crc = CS_EFAIL;
                snprintf(bs->res[i].why, sizeof bs->res[i].why, "its process could not be waited for: %s",
                         strerror(errno));
                close(bs->fd[i]);
                bs->pid[i] = 0;
            }
        bs->running = 0;
        return 0;
    }
    if (pid <= 0) return 0;
    for (int i = 0; i < bs->n; i++) {
        if (bs->pid[i] != pid) continue;
        br_result *res = &bs->res[i];
        ssize_t got;
        do
            got = read(bs->fd[i], res, sizeof *res);
        while (got < 0 && errno == EINTR);
        close(bs->fd[i]);
        if (got != (ssize_t)sizeof *res) {
            memset(res, 0, sizeof *res);
            res->st = res->crc = CS_EFAIL;
            if (WIFSIGNALED(status))
                snprintf(res->why, sizeof res->why, "its process died of signal %d", WTERMSIG(status));
            else
                snprintf(res->why, sizeof res->why, "its process ended without a result (status %d)",
                         WEXITSTATUS(status));
        }
        bs->pid[i] = 0;
        bs->running--;
        return 1;
    }
    return 1; /* not ours (cannot happen: the engine has no other children) */
}

/* Start ready branches while slots are free; with the trunk finished, wait until all have started. */
static int br_sched_launch(br_sched *bs, const run_out *tmpl, dln *d, const deficit_list *dl, const long *sw,
                           long cont, int meth, double epsabs, double epsrel, int trunk_running)
{
    int limit = trunk_running ? bs->jobs - 1 : bs->jobs;
    for (;;) {
        while (br_reap(bs, 0)) {
        }
        while (bs->running < limit && bs->next < bs->n_ready) {
            int i = bs->next, pfd[2];
            if (pipe(pfd)) return util_seterr(CS_EFAIL, "switch sweep: pipe failed: %s", strerror(errno));
            fflush(NULL);
            pid_t self = getpid(), pid = fork();
            if (pid < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return util_seterr(CS_EFAIL, "switch sweep: fork failed: %s (try --jobs 1)", strerror(errno));
            }
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed trunk (even kill -9) takes its branches along */
                if (getppid() != self) _exit(128 + SIGKILL);
                close(pfd[0]);
                br_child(bs, i, pfd[1], tmpl, d, dl, sw, cont, meth, epsabs, epsrel);
            }
            close(pfd[1]);
            bs->pid[i] = pid;
            bs->fd[i] = pfd[0];
            bs->next++;
            bs->running++;
        }
        if (trunk_running || bs->next >= bs->n) return CS_OK;
        br_reap(bs, 1);
    }
}

/* Wait for every started branch; returns the number whose outputs could not be written. */
static int br_sched_wait(br_sched *bs)
{
    while (bs->running > 0)
        br_reap(bs, 1);
    int bad = 0;
    for (int i = 0; i < bs->next; i++)
        bad += bs->res[i].crc != 0 && bs->res[i].st == CS_OK;
    return bad;
}

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

/* --switch-sweep T1,T2,...: one trunk without the switch, run to the last T, and from the trunk's
 * state at each T a forked branch with switch@T for `cont` more updates; switch_sweep.dat collects their
 * final losses. */
static int switch_sweep(const opts *o, run_out *r, dln *d, const deficit_list *dl, const char *out, long cont,
                        int meth, double epsabs, double epsrel)
{
    for (int i = 0; i < dl->n; i++)
        if (dl->d[i].kind == DEF_SWITCH) {
            return util_seterr(CS_EUSAGE,
                               "--switch-sweep sets the switch itself; drop switch@ from --deficit");
        }
    if (dl->n + 1 > DEFICIT_MAX) return util_seterr(CS_EUSAGE, "too many deficits for --switch-sweep");
    long *sw = NULL;
    int n_sw;
    int rc = opts_list_long(o, "switch-sweep", &sw, &n_sw);
    if (rc) return rc;
    for (int i = 1; i < n_sw; i++)
        if (sw[i] <= sw[i - 1]) {
            free(sw);
            return util_seterr(CS_EUSAGE, "--switch-sweep: steps must increase strictly");
        }
    table *sum = table_open(out, "switch_sweep.dat", opts_prov(o));
    if (!sum) {
        free(sw);
        return CS_EUSAGE;
    }
    table_meta(sum,
               "one trunk without switch; branch T: switch@T, %ld more updates (steps = T + %ld); official "
               "T_c = T - 1",
               cont, cont);
    table_columns(sum, "switch_step steps final_loss test_loss");
    long trunk_last = sw[n_sw - 1];
    run_out tr;
    tr = *r;
    if ((rc = out_open(&tr, o, d, out, trunk_last))) {
        table_discard(sum);
        free(sw);
        return rc;
    }
    br_sched bs;
    long fs = 0;
    int st = br_sched_init(&bs, o, out, n_sw, dln_n_param(d));
    for (int i = 0; i < n_sw && st == CS_OK; i++) {
        st = run_steps(&tr, i ? sw[i - 1] : 0, sw[i], &fs);
        if (st) break;
        memcpy(bs.theta + (size_t)i * dln_n_param(d), dln_params(d), dln_n_param(d) * sizeof(double));
        bs.n_ready = i + 1;
        st = br_sched_launch(&bs, r, d, dl, sw, cont, meth, epsabs, epsrel, 1);
    }
    char why[512];
    snprintf(why, sizeof why, "%s", opts_errmsg(&cmd_flow));
    if (st == CS_OK) { /* trunk done: every core serves the remaining branches */
        st = br_sched_launch(&bs, r, d, dl, sw, cont, meth, epsabs, epsrel, 0);
        snprintf(why, sizeof why, "%s", opts_errmsg(&cmd_flow));
    }
    int bad = br_sched_wait(&bs);
    int nfail = 0;
    for (int i = 0; i < n_sw && st == CS_OK; i++) {
        const br_result *b = &bs.res[i];
        table_row(sum, "%ld %ld %.17g %.17g", sw[i], sw[i] + cont, b->st ? NAN : b->final_loss,
                  b->st ? NAN : b->final_test);
        if (b->st) fprintf(stderr, "critsim flow: branch switch@%ld failed: %s\n", sw[i], b->why);
        nfail += b->st != CS_OK;
    }
    if (st == CS_OK && bad) {
        st = CS_EFAIL;
        snprintf(why, sizeof why, "a branch could not write its outputs (see the messages above)");
    }
    br_sched_free(&bs);
    rc = out_close(&tr, st, fs, why);
    int s2 = st == CS_OK ? table_close(sum) : table_fail(sum, fs, why);
    if (st) {
        util_seterr(st, "%s", why);
        rc = st;
    } else if (!rc)
        rc = s2;
    if (!rc && nfail)
        rc = util_seterr(CS_EFAIL, "%d of %d switch-sweep branches failed (nan rows in switch_sweep.dat)",
                         nfail, n_sw);
    free(sw);
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
        if ((rc = out_open(&r, o, d, out, steps))) goto done;
        long fs = 0;
        int st = run_steps(&r, 0, steps, &fs);
        char why[512];
        snprintf(why, sizeof why, "%s", opts_errmsg(&cmd_flow));
        rc = out_close(&r, st, fs, why);
        if (st) {
            util_seterr(st, "%s", why);
            rc = st;
        }
        goto done;
    }
    rc = switch_sweep(o, &r, d, &dl, out, cont, meth, epsabs, epsrel);
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
