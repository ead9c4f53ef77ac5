/* dln_item.c - the chains' forward maps and the gradient on item tasks (the linear engine, src/dln.c).
 *
 * Purpose: everything that works on a chain's dense end-to-end map Omega_p (n_out x in_dim[p]): the
 * forward products, the item-task loss and gradient (the fused step for linear chains, the prefix and
 * suffix products for nonlinear chains and dln_use_reference), the step of 2+ pathways on a team of
 * threads, and the readouts built from the maps: dln_maps, dln_modes, the test losses and the sampled
 * source variances of nonlinear fused networks.  Matrix completion's sparse gradient is in
 * dln_completion.c, the kernels (fx_*, gemm, activations) in dln_kernels.c.
 *
 * Mathematics (model, loss and deficits: include/dln.h).  Item tasks: the total map Omega_tot =
 * sum_p embed_p(Omega_p) (lesioned chains projected), the residual E = c (Omega_tot Sxx - Syx) and
 * G_p = E restricted to chain p's columns (lesion-projected).  For each chain, dL/dW_l = S_l^T G P_{l-1}^T
 * with prefix products P_l = W_l ... W_1 and suffix products S_l = W_D ... W_{l+1}, formed as
 * (S_l^T G) P_{l-1}^T (chain_backward_dense; G is n_out x in_dim, small).  Nonlinear chains (X = I, the
 * one-hot items): A_l = phi(W_l A_{l-1}) in the prefix buffers, D_{l-1} = (W_l^T D_l) .* phi'.
 *
 * The fused step (linear chains on item tasks, fx_*).
 * Forward per chain: P_1 = W_1, P_l = W_l P_{l-1} (l = 2..D-1), Omega_p = W_D P_{D-1}, with the transposes
 * PT_l (n x width) kept for the backward.  Backward from G = dL/dOmega_p down the layers: H_D = G,
 * dL/dW_l = H_l P_{l-1}^T (P_0 = I: dL/dW_1 = H_1), H_{l-1} = W_l^T H_l: one pass over the rows of each
 * W_l forms H_{l-1} (with the pre-step W_l) and then updates those rows in place, W_l -= lr dL/dW_l, so a
 * GD step reads each weight matrix twice (forward, backward) and writes it once, and no gradient is
 * stored (dln_grad writes dL/dW_l instead of updating).  This is about 3/4 of the flops of the suffix
 * form S_l^T G P_{l-1}^T of chain_backward_dense (no n_out x width x width suffix products).
 * Every entry is one chain of fused multiply-adds in a fixed order, started from zero: P_l[i, j] over
 * q = 0..k-1 of W_l[i, q] P_{l-1}[q, j]; H_{l-1}[q, j] over rows i = 0..m-1 of W_l[i, q] H_l[i, j];
 * dL/dW_l[i, q] over j = 0..n-1 of H_l[i, j] PT_{l-1}[j, q]; the update fma(-lr, g, w).  The AVX-512
 * kernels and the portable loops (dln_kernels.c) compute exactly these, so the results are the same bits
 * on every machine with fma (and independent of OpenBLAS's kernel).  The sums run in another order than
 * the previous engine's products (kept as dln_use_reference for tests): an output change at the rounding
 * level, measured in tests/test_dln.c.
 */
#include "dln_impl.h"

#include <math.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "rsv.h"
#include "util.h"

/* ---- chain products: nonlinear chains and the reference form --------------------------------- */

/* Nonlinear chain p on the one-hot items (X = I): activations A_l = phi(W_l A_{l-1}) into the prefix
 * buffers (A_1 = phi(W_1)), the response F (n_out x in_dim) into d->omega[p]. */
static void chain_forward_nl(dln *d, const double *theta, int p)
{
    int D = d->depth, w = d->width, ni = d->in_dim[p], no = d->n_out;
    dln_act a = d->cfg.act;
    if (D == 1)
        memcpy(d->omega[p], dln_weight(d, theta, p, 1), (size_t)no * ni * sizeof(double));
    else {
        double **P = d->prefix + (size_t)p * D;
        memcpy(P[1], dln_weight(d, theta, p, 1), (size_t)w * ni * sizeof(double));
        dlnk_act_apply(a, P[1], (size_t)w * ni);
        for (int l = 2; l < D; l++) {
            dlnk_gemm(0, 0, w, ni, w, 1.0, dln_weight(d, theta, p, l), w, P[l - 1], ni, 0.0, P[l], ni);
            dlnk_act_apply(a, P[l], (size_t)w * ni);
        }
        dlnk_gemm(0, 0, no, ni, w, 1.0, dln_weight(d, theta, p, D), w, P[D - 1], ni, 0.0, d->omega[p], ni);
    }
    if (d->cfg.act_output) dlnk_act_apply(a, d->omega[p], (size_t)no * ni);
}

/* Backward pass of nonlinear chain p for G = dL/dF_p (n_out x in_dim[p]); needs chain_forward_nl's
 * activations.  D_D = G (.* phi'(Z_D)), dL/dW_l = D_l A_{l-1}^T (A_0 = I), D_{l-1} = (W_l^T D_l) .* phi'. */
static void chain_backward_nl(dln *d, const double *theta, int p, const double *G, double *grad)
{
    int D = d->depth, w = d->width, ni = d->in_dim[p], no = d->n_out;
    dln_act a = d->cfg.act;
    double **P = d->prefix + (size_t)p * D, *x = d->nl_x, *y = d->nl_y;
    const double *delta = G;
    if (d->cfg.act_output) {
        memcpy(x, G, (size_t)no * ni * sizeof(double));
        dlnk_act_backward(a, d->omega[p], x, (size_t)no * ni);
        delta = x;
    }
    if (D == 1) {
        memcpy(dln_weight(d, grad, p, 1), delta, (size_t)no * ni * sizeof(double));
        return;
    }
    dlnk_gemm(0, 1, no, w, ni, 1.0, delta, ni, P[D - 1], ni, 0.0, dln_weight(d, grad, p, D), w);
    dlnk_gemm(1, 0, w, ni, no, 1.0, dln_weight(d, theta, p, D), w, delta, ni, 0.0, y, ni);
    dlnk_act_backward(a, P[D - 1], y, (size_t)w * ni);
    for (int l = D - 1; l >= 2; l--) { /* y = D_l (w x ni) */
        dlnk_gemm(0, 1, w, w, ni, 1.0, y, ni, P[l - 1], ni, 0.0, dln_weight(d, grad, p, l), w);
        dlnk_gemm(1, 0, w, ni, w, 1.0, dln_weight(d, theta, p, l), w, y, ni, 0.0, x, ni);
        dlnk_act_backward(a, P[l - 1], x, (size_t)w * ni);
        double *tmp = x;
        x = y;
        y = tmp;
    }
    memcpy(dln_weight(d, grad, p, 1), y, (size_t)w * ni * sizeof(double));
}

/* prefix products of chain p and its end-to-end map into d->omega[p]. */
static void chain_forward(dln *d, const double *theta, int p)
{
    int D = d->depth, w = d->width, ni = d->in_dim[p], no = d->n_out;
    if (d->cfg.act != DLN_ACT_LINEAR) {
        chain_forward_nl(d, theta, p);
        return;
    }
    if (D == 1) {
        memcpy(d->omega[p], dln_weight(d, theta, p, 1), (size_t)no * ni * sizeof(double));
        return;
    }
    double **P = d->prefix + (size_t)p * D;
    memcpy(P[1], dln_weight(d, theta, p, 1), (size_t)w * ni * sizeof(double));
    for (int l = 2; l < D; l++)
        dlnk_gemm(0, 0, w, ni, w, 1.0, dln_weight(d, theta, p, l), w, P[l - 1], ni, 0.0, P[l], ni);
    dlnk_gemm(0, 0, no, ni, w, 1.0, dln_weight(d, theta, p, D), w, P[D - 1], ni, 0.0, d->omega[p], ni);
}

/* C = (I - sum u u^T) C (I - sum v v^T) over chain p's lesioned modes; C is (n_out x n_in). */
static void lesion_project(dln *d, int p, double *C)
{
    const task *t = d->task;
    int no = d->n_out, ni = d->n_in, r = t->rank;
    double *tmp = d->vec;
    for (int k = 0; k < d->n_les[p]; k++) {
        int m = d->les_mode[p][k];
        /* tmp (n_in) = u^T C ; C -= u tmp^T */
        for (int j = 0; j < ni; j++)
            tmp[j] = 0;
        for (int i = 0; i < no; i++) {
            double ui = t->U[i * r + m];
            for (int j = 0; j < ni; j++)
                tmp[j] += ui * C[(size_t)i * ni + j];
        }
        for (int i = 0; i < no; i++) {
            double ui = t->U[i * r + m];
            for (int j = 0; j < ni; j++)
                C[(size_t)i * ni + j] -= ui * tmp[j];
        }
        /* C -= (C v) v^T */
        for (int i = 0; i < no; i++) {
            double cv = 0;
            for (int j = 0; j < ni; j++)
                cv += C[(size_t)i * ni + j] * t->V[j * r + m];
            for (int j = 0; j < ni; j++)
                C[(size_t)i * ni + j] -= cv * t->V[j * r + m];
        }
    }
}

static void embed_add(dln *d, int p, const double *M, double *tot)
{
    int ni = d->n_in, nip = d->in_dim[p], off = d->in_off[p];
    for (int i = 0; i < d->n_out; i++)
        for (int j = 0; j < nip; j++)
            tot[(size_t)i * ni + off + j] += M[(size_t)i * nip + j];
}

/* Backward pass of chain p for the dense gradient Gp (n_out x in_dim[p]) of its end-to-end map. */
static void chain_backward_dense(dln *d, const double *theta, int p, const double *Gp, double *grad)
{
    int D = d->depth, w = d->width, ni = d->in_dim[p], no = d->n_out;
    if (d->cfg.act != DLN_ACT_LINEAR) {
        chain_backward_nl(d, theta, p, Gp, grad);
        return;
    }
    if (D == 1) {
        memcpy(dln_weight(d, grad, p, 1), Gp, (size_t)no * ni * sizeof(double));
        return;
    }
    double **P = d->prefix + (size_t)p * D, **S = d->suffix;
    /* suffix S_l = W_D ... W_{l+1} (n_out x w) */
    memcpy(S[D - 1], dln_weight(d, theta, p, D), (size_t)no * w * sizeof(double));
    for (int l = D - 2; l >= 1; l--)
        dlnk_gemm(0, 0, no, w, w, 1.0, S[l + 1], w, dln_weight(d, theta, p, l + 1), w, 0.0, S[l], w);
    /* layer D: Gp P_{D-1}^T */
    dlnk_gemm(0, 1, no, w, ni, 1.0, Gp, ni, P[D - 1], ni, 0.0, dln_weight(d, grad, p, D), w);
    for (int l = D - 1; l >= 1; l--) {
        if (l == 1) { /* S_1^T Gp */
            dlnk_gemm(1, 0, w, ni, no, 1.0, S[1], w, Gp, ni, 0.0, dln_weight(d, grad, p, 1), ni);
        } else { /* (S_l^T Gp) P_{l-1}^T */
            dlnk_gemm(1, 0, w, ni, no, 1.0, S[l], w, Gp, ni, 0.0, d->A, ni);
            dlnk_gemm(0, 1, w, w, ni, 1.0, d->A, ni, P[l - 1], ni, 0.0, dln_weight(d, grad, p, l), w);
        }
    }
}

/* ---- the fused step of linear chains (mathematics: the opening comment) ---------------------- */

/* Scratch of the fused step (allocated at its first use): PT_l per chain and layer l = 1..D-1
 * (in_dim[p] x width), then two (width x n_in) backward buffers per team member (DLN_TEAM_MAX pairs: the
 * pages of members that never run are never touched). */
static double *fx_scratch(dln *d)
{
    if (!d->fx) {
        size_t w = (size_t)(d->width > 0 ? d->width : 1), n = 0;
        for (int p = 0; p < d->n_chain; p++)
            n += (size_t)(d->depth > 1 ? d->depth - 1 : 0) * w * d->in_dim[p];
        d->fx = util_malloc((n + 2 * DLN_TEAM_MAX * w * (size_t)d->n_in) * sizeof(double));
    }
    return d->fx;
}

/* PT_l of chain p (l = 1..D-1) in the scratch */
static double *fx_pt(dln *d, int p, int l)
{
    size_t off = 0, w = (size_t)d->width;
    for (int q = 0; q < p; q++)
        off += (size_t)(d->depth - 1) * w * d->in_dim[q];
    return fx_scratch(d) + off + (size_t)(l - 1) * w * d->in_dim[p];
}

/* the two backward buffers of team member tid, after every PT_l */
static double *fx_h(dln *d, int tid)
{
    size_t off = 0;
    for (int q = 0; q < d->n_chain; q++)
        off += (size_t)(d->depth - 1) * d->width * d->in_dim[q];
    return fx_scratch(d) + off + (size_t)tid * 2 * d->width * d->n_in;
}

/* Forward of linear chain p: prefixes P_l (d->prefix), their transposes (pt != 0), Omega_p. */
static void fx_forward(dln *d, const double *theta, int p, int pt)
{
    int D = d->depth, w = d->width, n = d->in_dim[p], no = d->n_out;
    if (D == 1) {
        memcpy(d->omega[p], dln_weight(d, theta, p, 1), (size_t)no * n * sizeof(double));
        return;
    }
    double **P = d->prefix + (size_t)p * D;
    memcpy(P[1], dln_weight(d, theta, p, 1), (size_t)w * n * sizeof(double));
    for (int l = 2; l < D; l++)
        dlnk_fx_fwd(w, n, w, dln_weight(d, theta, p, l), P[l - 1], P[l]);
    dlnk_fx_fwd(no, n, w, dln_weight(d, theta, p, D), P[D - 1], d->omega[p]);
    if (pt)
        for (int l = 1; l < D; l++) {
            double *T = fx_pt(d, p, l);
            for (int i = 0; i < w; i++)
                for (int j = 0; j < n; j++)
                    T[(size_t)j * w + i] = P[l][(size_t)i * n + j];
        }
}

/* Backward of linear chain p from G = dL/dOmega_p (n_out x in_dim[p]): grad != NULL: the gradient into
 * grad; else theta (= d->theta) -= lr * gradient, in the same pass. */
static void fx_backward(dln *d, double *theta, int p, const double *G, double *grad, double lr, int tid)
{
    int D = d->depth, w = d->width, n = d->in_dim[p], no = d->n_out;
#define GR(l) (grad ? dln_weight(d, grad, p, l) : NULL)
    if (D == 1) {
        dlnk_fx_back(no, n, n, dln_weight(d, theta, p, 1), G, NULL, NULL, lr, GR(1));
        return;
    }
    double *Ha = fx_h(d, tid), *Hb = Ha + (size_t)w * d->n_in;
    dlnk_fx_back(no, w, n, dln_weight(d, theta, p, D), G, fx_pt(d, p, D - 1), Ha, lr, GR(D));
    for (int l = D - 1; l >= 2; l--) {
        dlnk_fx_back(w, w, n, dln_weight(d, theta, p, l), Ha, fx_pt(d, p, l - 1), Hb, lr, GR(l));
        double *t = Ha;
        Ha = Hb;
        Hb = t;
    }
    dlnk_fx_back(w, n, n, dln_weight(d, theta, p, 1), Ha, NULL, NULL, lr, GR(1));
#undef GR
}

/* on = 1: item tasks run through chain_forward and chain_backward_dense instead of the fused step */
void dln_use_reference(dln *d, int on)
{
    d->reference = on;
}

/* The fused linear engine applies (dln_use_reference not set): linear chains on an item task. */
int dln_items_fused(const dln *d)
{
    return !d->completion && d->cfg.act == DLN_ACT_LINEAR && !d->reference;
}

/* ---- the item-task loss and gradient --------------------------------------------------------- */

/* Item tasks, the total map from the chains' maps d->omega[p] (in chain order), the residual
 * R = c (Omega Sxx - Syx) into d->E and the loss c/2 (trSyy + <Omega, R/c> - <Omega, Syx>). */
static double items_residual(dln *d, int fast)
{
    int no = d->n_out, ni = d->n_in;
    double *tot = d->omega_tot;
    memset(tot, 0, (size_t)no * ni * sizeof *tot);
    for (int p = 0; p < d->n_chain; p++) {
        if (d->n_les[p]) {
            memset(d->C, 0, (size_t)no * ni * sizeof(double));
            embed_add(d, p, d->omega[p], d->C);
            lesion_project(d, p, d->C);
            for (size_t i = 0; i < (size_t)no * ni; i++)
                tot[i] += d->C[i];
        } else
            embed_add(d, p, d->omega[p], tot);
    }
    /* R = Omega Sxx - Syx into E; loss = c/2 (trSyy + <Omega, R> - <Omega, Syx>) */
    if (fast)
        dlnk_fx_fwd(no, ni, ni, tot, d->sxx_eff, d->E);
    else
        dlnk_gemm(0, 0, no, ni, ni, 1.0, tot, ni, d->sxx_eff, ni, 0.0, d->E, ni);
    double a = 0, b = 0;
    for (size_t i = 0; i < (size_t)no * ni; i++) {
        d->E[i] -= d->syx_eff[i];
        a += tot[i] * d->E[i];
        b += tot[i] * d->syx_eff[i];
        d->E[i] *= d->loss_c;
    }
    if (d->tgt_item) { /* no input deficit: L = c/2 (r0 + <(Omega - T) Sxx, Omega - T>), R = (Omega - T) Sxx
                        */
        double q = 0;
        for (size_t i = 0; i < (size_t)no * ni; i++)
            q += (tot[i] - d->tgt_item[i]) * d->E[i];
        return 0.5 * d->loss_c * (d->r0_eff + q / d->loss_c);
    }
    return 0.5 * d->loss_c * (d->tr_syy_eff + a - b);
}

/* Item tasks, the backward pass of chain p from d->E (tid: the team member, whose buffers it uses). */
static void items_backward(dln *d, const double *theta, double *grad, double lr, int p, int fast, int tid)
{
    int no = d->n_out, ni = d->n_in;
    if (d->gated[p]) {
        if (grad) memset(grad + d->chain_off[p], 0, (d->chain_off[p + 1] - d->chain_off[p]) * sizeof(double));
        return;
    }
    const double *G = d->E;
    int nip = d->in_dim[p];
    if (d->n_les[p]) {
        memcpy(d->C, d->E, (size_t)no * ni * sizeof(double));
        lesion_project(d, p, d->C);
        G = d->C;
    }
    if (nip != ni || d->in_off[p] != 0) {
        for (int i = 0; i < no; i++)
            memcpy(d->Gp + (size_t)i * nip, G + (size_t)i * ni + d->in_off[p], (size_t)nip * sizeof(double));
        G = d->Gp;
    }
    if (fast)
        fx_backward(d, (double *)theta, p, G, grad, lr, tid);
    else
        chain_backward_dense(d, theta, p, G, grad);
}

/* Minimum width for the item step on a team: below it a chain's forward or backward (~width^2 n_in
 * multiply-adds) is as short as the barriers between them (tens of us when a core is shared). */
#define ITEMS_TEAM_MIN_WIDTH 256

/* The item step on a team (dln_set_threads; fused linear chains, each on the whole input, no lesion):
 * member tid runs chains tid, tid + n, ...: their forward; barrier; member 0 alone the total map,
 * residual and loss; barrier; their backward, with member tid's own buffers.  Every sum is the one
 * thread's, in the same order: the same bits for any number of members. */
static void items_team_job(dln *d, int tid)
{
    dln_team *tm = d->team;
    int nt = dln_team_size(tm);
    const double *theta = d->job_theta;
    for (int p = tid; p < d->n_chain; p += nt)
        fx_forward(d, theta, p, 1);
    dln_team_barrier(tm, tid);
    if (tid == 0) d->job_loss = items_residual(d, 1);
    dln_team_barrier(tm, tid);
    for (int p = tid; p < d->n_chain; p += nt)
        items_backward(d, theta, d->job_grad, d->job_lr, p, 1, tid);
}

static int items_team_ok(const dln *d)
{
    if (!d->team || d->n_chain < 2 || d->width < ITEMS_TEAM_MIN_WIDTH || d->depth < 2) return 0;
    for (int p = 0; p < d->n_chain; p++)
        if (d->n_les[p] || d->in_dim[p] != d->n_in || d->in_off[p] != 0) return 0;
    return 1;
}

/* Item tasks: loss at theta and, grad != NULL, its gradient; grad NULL (fused engine only): theta (=
 * d->theta) -= lr * gradient in the same pass. */
double dln_items_grad(dln *d, const double *theta, double *grad, double lr)
{
    int fast = dln_items_fused(d);
    if (fast && items_team_ok(d)) {
        fx_scratch(d); /* allocated here, not by two members at once on their first use */
        d->job_theta = theta;
        d->job_grad = grad;
        d->job_lr = lr;
        dln_team_run(d->team, d, items_team_job);
        return d->job_loss;
    }
    for (int p = 0; p < d->n_chain; p++)
        if (fast)
            fx_forward(d, theta, p, 1);
        else
            chain_forward(d, theta, p);
    double loss = items_residual(d, fast);
    for (int p = 0; p < d->n_chain; p++)
        items_backward(d, theta, grad, lr, p, fast, 0);
    return loss;
}

/* ---- readouts: maps, modes, test losses ------------------------------------------------------ */

void dln_maps(dln *d, const double *theta, double *omega_tot)
{
    int no = d->n_out, ni = d->n_in;
    if (omega_tot) memset(omega_tot, 0, (size_t)no * ni * sizeof *omega_tot);
    for (int p = 0; p < d->n_chain; p++) {
        int D = d->depth, w = d->width, nip = d->in_dim[p];
        if (d->cfg.act != DLN_ACT_LINEAR)
            chain_forward_nl(d, theta, p);
        else if (dln_items_fused(d))
            fx_forward(d, theta, p, 0);
        else if (D == 1)
            memcpy(d->omega[p], dln_weight(d, theta, p, 1), (size_t)no * nip * sizeof(double));
        else {
            double **P = d->prefix + (size_t)p * D;
            memcpy(P[1], dln_weight(d, theta, p, 1), (size_t)w * nip * sizeof(double));
            for (int l = 2; l < D; l++)
                dlnk_gemm(0, 0, w, nip, w, 1.0, dln_weight(d, theta, p, l), w, P[l - 1], nip, 0.0, P[l], nip);
            dlnk_gemm(0, 0, no, nip, w, 1.0, dln_weight(d, theta, p, D), w, P[D - 1], nip, 0.0, d->omega[p],
                      nip);
        }
        if (omega_tot) {
            if (d->n_les[p] && !d->completion) {
                memset(d->C, 0, (size_t)no * ni * sizeof(double));
                embed_add(d, p, d->omega[p], d->C);
                lesion_project(d, p, d->C);
                for (size_t i = 0; i < (size_t)no * ni; i++)
                    omega_tot[i] += d->C[i];
            } else
                embed_add(d, p, d->omega[p], omega_tot);
        }
    }
}

void dln_modes(const dln *d, double *K)
{
    const task *t = d->task;
    int r = t->rank, no = d->n_out;
    for (int p = 0; p < d->n_chain; p++) {
        int nip = d->in_dim[p], off = d->in_off[p];
#ifdef __AVX512F__
        /* eight modes a at a time, lane a summing in the order of the loop below, with its separate
         * products and sums (ISO C: no contraction): the same bits */
        const double *om = d->omega[p];
        const __m512d z = _mm512_setzero_pd();
        for (int a0 = 0; a0 < r; a0 += 8) {
            __mmask8 mk = (__mmask8)(r - a0 >= 8 ? 0xFF : (1u << (r - a0)) - 1);
            __m512d sv = z;
            for (int i = 0; i < no; i++) {
                __m512d ui = _mm512_maskz_loadu_pd(mk, t->U + (size_t)i * r + a0);
                __mmask8 nz = _mm512_mask_cmp_pd_mask(mk, ui, z, _CMP_NEQ_UQ); /* ui != 0 (NaN too) */
                if (!nz) continue;
                __m512d rv = z;
                for (int j = 0; j < nip; j++)
                    rv = _mm512_add_pd(
                        rv, _mm512_mul_pd(_mm512_set1_pd(om[(size_t)i * nip + j]),
                                          _mm512_maskz_loadu_pd(mk, t->V + (size_t)(off + j) * r + a0)));
                sv = _mm512_mask_add_pd(sv, nz, sv, _mm512_mul_pd(ui, rv));
            }
            _mm512_mask_storeu_pd(K + (size_t)p * r + a0, mk, sv);
        }
        continue;
#endif
        for (int a = 0; a < r; a++) {
            double s = 0;
            for (int i = 0; i < no; i++) {
                double ui = t->U[i * r + a];
                if (ui == 0) continue;
                double rv = 0;
                for (int j = 0; j < nip; j++)
                    rv += d->omega[p][(size_t)i * nip + j] * t->V[(off + j) * r + a];
                s += ui * rv;
            }
            K[p * r + a] = s;
        }
    }
}

double dln_test_loss_of(const dln *d, const double *tot)
{
    const task *t = d->task;
    int no = d->n_out, ni = d->n_in;
    if (d->completion) {
        const double *M = d->switched ? t->target2 : t->target;
        double ss = 0;
        for (size_t i = 0; i < (size_t)no * ni; i++)
            ss += (tot[i] - M[i]) * (tot[i] - M[i]);
        return ss / ((double)no * ni);
    }
    /* stable form: c/2 (r0 + <(Omega - T) Sxx, Omega - T>), T the active target (the minimiser) */
    const double *syx = d->switched ? t->syx2 : t->syx, *T = d->switched ? t->target2 : t->target;
    double r0 = d->switched ? t->tr_syy2 : t->tr_syy, q = 0;
    for (size_t i = 0; i < (size_t)no * ni; i++)
        r0 -= T[i] * syx[i];
#ifdef __AVX512F__
    /* rs for eight columns j at a time, each lane summing over k in order with separate products and
     * sums (ISO C: no contraction); q then summed over j in order: the same bits as the loop below */
    for (int i = 0; i < no; i++) {
        const double *oi = tot + (size_t)i * ni, *ti = T + (size_t)i * ni;
        for (int j0 = 0; j0 < ni; j0 += 8) {
            __mmask8 mk = (__mmask8)(ni - j0 >= 8 ? 0xFF : (1u << (ni - j0)) - 1);
            __m512d rv = _mm512_setzero_pd();
            for (int k = 0; k < ni; k++)
                rv =
                    _mm512_add_pd(rv, _mm512_mul_pd(_mm512_set1_pd(oi[k] - ti[k]),
                                                    _mm512_maskz_loadu_pd(mk, t->sxx + (size_t)k * ni + j0)));
            double rs[8];
            _mm512_storeu_pd(rs, rv);
            for (int j = j0; j < ni && j < j0 + 8; j++)
                q += rs[j - j0] * (oi[j] - ti[j]);
        }
    }
#else
    for (int i = 0; i < no; i++)
        for (int j = 0; j < ni; j++) {
            double rs = 0;
            for (int k = 0; k < ni; k++)
                rs += (tot[(size_t)i * ni + k] - T[(size_t)i * ni + k]) * t->sxx[(size_t)k * ni + j];
            q += rs * (tot[(size_t)i * ni + j] - T[(size_t)i * ni + j]);
        }
#endif
    return 0.5 * d->loss_c * ((r0 > 0 ? r0 : 0) + q);
}

double dln_test_loss(dln *d, const double *theta)
{
    double *tot = d->E; /* scratch: E is recomputed by every dln_grad */
    dln_maps(d, theta, tot);
    return dln_test_loss_of(d, tot);
}

double dln_loss_without(dln *d, const double *theta, int p)
{
    const task *t = d->task;
    int no = d->n_out, ni = d->n_in;
    double *tot = d->E;
    dln_maps(d, theta, tot);
    if (d->n_chain >= 2) { /* the total without chain p: the other chains' (lesioned) maps */
        memset(tot, 0, (size_t)no * ni * sizeof *tot);
        for (int q = 0; q < d->n_chain; q++) {
            if (q == p) continue;
            if (d->n_les[q] && !d->completion) {
                memset(d->C, 0, (size_t)no * ni * sizeof(double));
                embed_add(d, q, d->omega[q], d->C);
                lesion_project(d, q, d->C);
                for (size_t i = 0; i < (size_t)no * ni; i++)
                    tot[i] += d->C[i];
            } else
                embed_add(d, q, d->omega[q], tot);
        }
    } else
        for (int i = 0; i < no; i++)
            memset(tot + (size_t)i * ni + t->src_off[p], 0, (size_t)t->src_dim[p] * sizeof *tot);
    return dln_test_loss_of(d, tot);
}

/* ---- sampled source variances (nonlinear fused networks) -------------------------------------- */

int dln_rsv_units(const dln *d)
{
    const task *t = d->task;
    if (d->n_chain != 1 || d->depth < 2 || !t->onehot || t->n_src != 2 || d->in_dim[0] != d->n_in) return 0;
    return d->n_in * d->width;
}

typedef struct {
    dln *d;
    const double *theta;
    double *X, *H, *H2; /* (n x n) inputs of one evaluation, (w x n) hidden scratch */
} rsv_ctx;

/* Last hidden layer (after phi) for slot s = 0..n-1: source a from item (s + ia) mod n, source b from
 * item (s + ib) mod n; z[s * w + u]. */
static void rsv_eval(void *vc, int ia, int ib, float *z)
{
    rsv_ctx *c = vc;
    dln *d = c->d;
    const task *t = d->task;
    int n = d->n_in, w = d->width, D = d->depth, nb = t->src_off[1];
    memset(c->X, 0, (size_t)n * n * sizeof(double));
    for (int s = 0; s < n; s++) { /* X column s: a's part of item ja, b's part of item jb */
        int ja = (s + ia) % n, jb = (s + ib) % n;
        if (ja < nb) c->X[(size_t)ja * n + s] = 1;
        if (jb >= nb) c->X[(size_t)jb * n + s] = 1;
    }
    double *h = c->H, *h2 = c->H2;
    dlnk_gemm(0, 0, w, n, n, 1.0, dln_weight(d, c->theta, 0, 1), n, c->X, n, 0.0, h, n);
    dlnk_act_apply(d->cfg.act, h, (size_t)w * n);
    for (int l = 2; l < D; l++) {
        dlnk_gemm(0, 0, w, n, w, 1.0, dln_weight(d, c->theta, 0, l), w, h, n, 0.0, h2, n);
        dlnk_act_apply(d->cfg.act, h2, (size_t)w * n);
        double *tmp = h;
        h = h2;
        h2 = tmp;
    }
    for (int s = 0; s < n; s++)
        for (int u = 0; u < w; u++)
            z[(size_t)s * w + u] = (float)h[(size_t)u * n + s];
}

int dln_rsv_sampled(dln *d, const double *theta, double *sv_a, double *sv_b)
{
    int nu = dln_rsv_units(d);
    if (!nu)
        return util_seterr(CS_EUSAGE, "sampled source variances need a fused network (dln_cfg.arch fused, "
                                      "dln_cfg.depth >= 2) on a one-hot task with two sources");
    int n = d->n_in, w = d->width;
    rsv_ctx c = {d, theta, NULL, NULL, NULL};
    c.X = util_malloc(((size_t)n * n + 2 * (size_t)w * n) * sizeof(double));
    c.H = c.X + (size_t)n * n;
    c.H2 = c.H + (size_t)w * n;
    double *rsv = util_malloc((size_t)nu * sizeof *rsv);
    rsv_sampled(&c, rsv_eval, n, (size_t)nu, rsv, sv_a, sv_b);
    free(rsv);
    free(c.X);
    return CS_OK;
}
