/* flow_run.c - one run folder of `critsim flow` (the command: cmd_flow.c; shared: flow_int.h): the
 * tables a run writes and the steps that fill them.
 *
 * Tables (formats in docs/formats.md), one row block per recorded step:
 *   loss.dat   train loss under the deficits of that update, and the test loss (item tasks: the same loss
 *              on intact statistics of the active target; completion: mean over all entries of
 *              (W - M_active)^2)
 *   modes.dat  K_p = u_a^T Omega_p v_a for each target mode a (target's fixed singular vectors u_a, v_a,
 *              value s_a) and pathway p's end-to-end map Omega_p
 *   sv.dat     singular values (descending, top --sv-top) of each Omega_p and of the total map
 *              (linalg_sv_small, started from the task's V when it is square)
 *   snap/      the maps per source (fused: blocks of the total map's columns, and of the last hidden
 *              layer's map), at --snap-every steps (-1: every recorded step, thinned to <= ~1000)
 * and at the end weights_P_L.npy and final.dat: share_b_m<a> = K_b,a / sum_p K_p,a over the target's
 * nonzero modes (at most 20), share_b_mF_L summed over each block F..L of degenerate modes
 * (analyze_blocks), loss_without_P.
 *
 * Steps: gradient descent records before the update, except on item tasks in double precision without
 * a sampled RSV, where the update's own evaluation (the pre-step maps and loss it leaves) supplies the
 * rows; the gradient flow integrates between the steps where the deficit set or the recording may
 * change.  The arithmetic is dln.h's.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "flow_int.h"
#include "linalg.h"
#include "npy.h"

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

int flow_out_open(run_out *r, const opts *o, dln *d, const char *dir, long last)
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

int flow_out_close(run_out *r, int status, long fail_step, const char *why)
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
int flow_run_steps(run_out *r, long s0, long s1, long *fail_step)
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
