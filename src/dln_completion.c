/* dln_completion.c - the gradient of matrix completion, in double and in float32 (the linear engine,
 * src/dln.c).
 *
 * Purpose: the loss and gradient when the task is a matrix of observed entries (task_cfg.kind
 * completion): the sparse residual, its products with the chains' prefixes and suffixes, the split of
 * one chain's gradient over a team of threads, and the float32 step (dln_cfg.single).
 *
 * Mathematics.  L = 1/(2m) sum_{(i,j) in Obs} (Omega_ij - M_ij)^2 over the first m = m_eff observed
 * entries; G = the sparse residual / m.  Per chain the transposed prefixes PT_l = (W_l ... W_1)^T (n x w)
 * are formed once (row j of PT_l needs only row j of PT_{l-1}); the residual at (i, j) is
 * <row i of W_D, row j of PT_{D-1}> - M_ij; dL/dW_D = G P_{D-1}^T is formed by row updates over the
 * observed entries of each row, HT_{D-1} = G^T W_D by a sparse pass over each column, then
 * dL/dW_l = HT_l^T PT_{l-1} and HT_{l-1} = HT_l W_l down the layers (dL/dW_1 = W_2^T HT_2^T).  The
 * sparse passes use the vector kernels dot and accum_rows below (a BLAS call per observed entry would
 * cost more in call overhead than its multiply-adds).  With one chain (D >= 2, not gated) the gradient
 * runs as a team job (dln_set_threads): every member writes disjoint rows, and the squared residuals
 * are summed per row, then over rows in order, and each member's block of a dense product is formed by
 * the kernel the whole product would use (dlnk_gemm_rows), so the trajectory does not depend on the
 * number of threads.  float32 (single_grad): the same products through cblas_sgemm with a dense G, the sum of
 * squares in double.
 */
#include "dln_impl.h"

#include <gsl/gsl_cblas.h>
#include <string.h>

#include "util.h"

/* ---- sparse-pass kernels --------------------------------------------------------------------- */

/* Sparse-pass kernels (rows of w ~ 100 doubles): GCC vector extensions (unaligned 8-double vectors;
 * lowered to whatever the target has), accumulators kept in registers; a BLAS call per observed entry
 * would cost more in call overhead than the multiply-adds it performs. */
typedef double v8d __attribute__((vector_size(64), aligned(8)));
#define LD(p) (*(const v8d *)(p))

static double dot(int w, const double *a, const double *b)
{
    v8d s0 = {0}, s1 = {0};
    int j = 0;
    for (; j + 16 <= w; j += 16) {
        s0 += LD(a + j) * LD(b + j);
        s1 += LD(a + j + 8) * LD(b + j + 8);
    }
    for (; j + 8 <= w; j += 8)
        s0 += LD(a + j) * LD(b + j);
    s0 += s1;
    double s = ((s0[0] + s0[1]) + (s0[2] + s0[3])) + ((s0[4] + s0[5]) + (s0[6] + s0[7]));
    for (; j < w; j++)
        s += a[j] * b[j];
    return s;
}

/* y (w) += sum over the entries e in [e0, e1) with index k = kk[e] < m of r[k] * X[src[e] * w + :];
 * y is read and written once per block of 32 doubles. */
static void accum_rows(int w, double *restrict y, int e0, int e1, const int *restrict kk,
                       const int *restrict src, int m, const double *restrict r, const double *restrict X)
{
    int j = 0;
    for (; j + 32 <= w; j += 32) {
        v8d a0 = LD(y + j), a1 = LD(y + j + 8), a2 = LD(y + j + 16), a3 = LD(y + j + 24);
        for (int e = e0; e < e1; e++) {
            int k = kk[e];
            if (k >= m) continue;
            const double g = r[k], *x = X + (size_t)src[e] * w + j;
            a0 += g * LD(x);
            a1 += g * LD(x + 8);
            a2 += g * LD(x + 16);
            a3 += g * LD(x + 24);
        }
        *(v8d *)(y + j) = a0;
        *(v8d *)(y + j + 8) = a1;
        *(v8d *)(y + j + 16) = a2;
        *(v8d *)(y + j + 24) = a3;
    }
    for (; j + 8 <= w; j += 8) {
        v8d a0 = LD(y + j);
        for (int e = e0; e < e1; e++) {
            int k = kk[e];
            if (k < m) a0 += r[k] * LD(X + (size_t)src[e] * w + j);
        }
        *(v8d *)(y + j) = a0;
    }
    if (j < w)
        for (int e = e0; e < e1; e++) {
            int k = kk[e];
            if (k >= m) continue;
            const double g = r[k], *x = X + (size_t)src[e] * w;
            for (int q = j; q < w; q++)
                y[q] += g * x[q];
        }
}

/* ---- the double-precision gradient ----------------------------------------------------------- */

/* Matrix completion, chain p, D >= 2.  Rows [j0, j1) of the transposed prefixes PT_l = (W_l ... W_1)^T
 * (n x w), l = 1..D-1; row j of PT_l needs only row j of PT_{l-1}, so a thread owning rows [j0, j1)
 * needs no barrier between layers.  D = 2 stores PT_1 = W_1^T explicitly. */
static void completion_prefix(dln *d, const double *theta, int p, int j0, int j1)
{
    int D = d->depth, w = d->width, n = d->in_dim[p];
    double **PT = d->prefix + (size_t)p * D;
    const double *W1 = dln_weight(d, theta, p, 1);
    if (D == 2) {
        for (int j = j0; j < j1; j++)
            for (int i = 0; i < w; i++)
                PT[1][(size_t)j * w + i] = W1[(size_t)i * n + j];
    } else if (j1 > j0) {
        dlnk_gemm_rows(n, 1, 1, j1 - j0, w, w, W1 + j0, n, dln_weight(d, theta, p, 2), w,
                       PT[2] + (size_t)j0 * w, w);
        for (int l = 3; l < D; l++)
            dlnk_gemm_rows(n, 0, 1, j1 - j0, w, w, PT[l - 1] + (size_t)j0 * w, w, dln_weight(d, theta, p, l),
                           w, PT[l] + (size_t)j0 * w, w);
    }
}

/* Matrix completion, chain p, D >= 2, residuals r (already divided by m) in d->resid: the gradients of
 * layers 1..D-1 as member tid of nt (tm: the team, NULL for one thread).  HT_l = G^T S_l (n x w), S_l =
 * W_D ... W_{l+1}: one sparse pass gives HT_{D-1} = G^T W_D (rows [j0, j1)); then grad_l = HT_l^T PT_{l-1}
 * (rows [k0, k1)) and HT_{l-1} = HT_l W_l (rows [j0, j1)), down to grad_1 = HT_1^T = W_2^T HT_2^T. */
static void completion_backward(dln *d, const double *theta, double *grad, int p, dln_team *tm, int tid,
                                int nt)
{
    int D = d->depth, w = d->width, n = d->in_dim[p], m = d->m_eff;
    int j0 = (int)((long)n * tid / nt), j1 = (int)((long)n * (tid + 1) / nt);
    int k0 = (int)((long)w * tid / nt), k1 = (int)((long)w * (tid + 1) / nt);
    double **PT = d->prefix + (size_t)p * D;
    const double *W1 = dln_weight(d, theta, p, 1), *WD = dln_weight(d, theta, p, D);
    double *HT = d->A, *HN = d->A2;
    memset(HT + (size_t)j0 * w, 0, (size_t)(j1 - j0) * w * sizeof(double));
    for (int j = j0; j < j1; j++)
        accum_rows(w, HT + (size_t)j * w, d->col_ptr[j], d->col_ptr[j + 1], d->col_k, d->col_r, m, d->resid,
                   WD);
    dln_team_barrier(tm, tid);
    for (int l = D - 1; l >= 1; l--) {
        double *gl = dln_weight(d, grad, p, l);
        if (l == 1) { /* D = 2 only */
            for (int k = k0; k < k1; k++)
                for (int j = 0; j < n; j++)
                    gl[(size_t)k * n + j] = HT[(size_t)j * w + k];
            break;
        }
        if (k1 > k0) {
            if (l == 2)
                dlnk_gemm_rows(w, 1, 1, k1 - k0, w, n, HT + k0, w, W1, n, gl + (size_t)k0 * w,
                               w); /* HT^T W_1^T */
            else
                dlnk_gemm_rows(w, 1, 0, k1 - k0, w, n, HT + k0, w, PT[l - 1], w, gl + (size_t)k0 * w, w);
        }
        if (l == 2) { /* grad_1 = (HT_2 W_2)^T = W_2^T HT_2^T, formed directly (no transpose pass) */
            if (k1 > k0)
                dlnk_gemm_rows(w, 1, 1, k1 - k0, n, w, dln_weight(d, theta, p, 2) + k0, w, HT, w,
                               dln_weight(d, grad, p, 1) + (size_t)k0 * n, n);
            break;
        }
        if (j1 > j0)
            dlnk_gemm_rows(n, 0, 0, j1 - j0, w, w, HT + (size_t)j0 * w, w, dln_weight(d, theta, p, l), w,
                           HN + (size_t)j0 * w, w);
        dln_team_barrier(tm, tid);
        double *tmp = HT;
        HT = HN;
        HN = tmp;
    }
}

/* One chain, D >= 2, not gated (matrix completion as in the papers): the gradient as a team job.
 * Member tid of nt owns rows [j0, j1) of the n x w blocks, rows [i0, i1) of the output and rows
 * [k0, k1) of the w-row layer gradients; barriers separate the phases.  Every row's squared
 * residuals go to d->vec[i], summed in row order by the caller. */
static void completion_fused_job(dln *d, int tid)
{
    dln_team *tm = d->team;
    int nt = dln_team_size(tm);
    const double *theta = d->job_theta;
    double *grad = d->job_grad;
    int D = d->depth, w = d->width, n = d->n_in, no = d->n_out, m = d->m_eff;
    const double *M = d->tgt_active, *WD = dln_weight(d, theta, 0, D);
    double *r = d->resid, *ssr = d->vec;
    completion_prefix(d, theta, 0, (int)((long)n * tid / nt), (int)((long)n * (tid + 1) / nt));
    dln_team_barrier(tm, tid);
    /* residuals of rows [i0, i1), then each row's layer-D gradient while PL's rows are hot */
    const double *PL = d->prefix[D - 1];
    double *gD = dln_weight(d, grad, 0, D);
    for (int i = (int)((long)no * tid / nt), i1 = (int)((long)no * (tid + 1) / nt); i < i1; i++) {
        double ss = 0;
        for (int e = d->row_ptr[i]; e < d->row_ptr[i + 1]; e++) {
            int k = d->row_k[e];
            if (k >= m) continue;
            double v =
                dot(w, WD + (size_t)i * w, PL + (size_t)d->row_c[e] * w) - M[(size_t)i * n + d->row_c[e]];
            ss += v * v;
            r[k] = v / m;
        }
        ssr[i] = ss;
        double *g = gD + (size_t)i * w;
        memset(g, 0, (size_t)w * sizeof(double));
        accum_rows(w, g, d->row_ptr[i], d->row_ptr[i + 1], d->row_k, d->row_c, m, r, PL);
    }
    dln_team_barrier(tm, tid);
    completion_backward(d, theta, grad, 0, tm, tid, nt);
}

double dln_completion_grad(dln *d, const double *theta, double *grad)
{
    const task *t = d->task;
    int D = d->depth, w = d->width, n = d->n_in, no = d->n_out, m = d->m_eff;
    if (d->n_chain == 1 && D >= 2 && !d->gated[0]) {
        d->job_theta = theta;
        d->job_grad = grad;
        if (d->team)
            dln_team_run(d->team, d, completion_fused_job);
        else
            completion_fused_job(d, 0);
        double ss = 0;
        for (int i = 0; i < no; i++)
            ss += d->vec[i];
        return 0.5 * ss / m;
    }
    /* several chains (or a gated one, or D = 1), one thread: residuals summed over the chains */
    const double *M = d->tgt_active;
    double *r = d->resid, ss = 0;
    for (int k = 0; k < m; k++)
        r[k] = 0;
    for (int p = 0; p < d->n_chain; p++) {
        if (D == 1) {
            const double *W = dln_weight(d, theta, p, 1);
            for (int k = 0; k < m; k++)
                r[k] += W[(size_t)t->obs_r[k] * n + t->obs_c[k]];
            continue;
        }
        completion_prefix(d, theta, p, 0, n);
        const double *WD = dln_weight(d, theta, p, D), *PL = d->prefix[(size_t)p * D + D - 1];
        for (int i = 0; i < no; i++)
            for (int e = d->row_ptr[i]; e < d->row_ptr[i + 1]; e++) {
                int k = d->row_k[e];
                if (k < m) r[k] += dot(w, WD + (size_t)i * w, PL + (size_t)d->row_c[e] * w);
            }
    }
    for (int k = 0; k < m; k++) {
        r[k] -= M[(size_t)t->obs_r[k] * n + t->obs_c[k]];
        ss += r[k] * r[k];
        r[k] /= m;
    }
    for (int p = 0; p < d->n_chain; p++) {
        double *gw = grad + d->chain_off[p];
        if (d->gated[p] || D == 1) memset(gw, 0, (d->chain_off[p + 1] - d->chain_off[p]) * sizeof(double));
        if (d->gated[p]) continue;
        if (D == 1) {
            for (int k = 0; k < m; k++)
                gw[(size_t)t->obs_r[k] * n + t->obs_c[k]] += r[k];
            continue;
        }
        /* layer D: G P_{D-1}^T, row i += r * PT_{D-1}[j, :]; then the layers below */
        double *gD = dln_weight(d, grad, p, D);
        memset(gD, 0, (size_t)no * w * sizeof(double));
        for (int i = 0; i < no; i++)
            accum_rows(w, gD + (size_t)i * w, d->row_ptr[i], d->row_ptr[i + 1], d->row_k, d->row_c, m, r,
                       d->prefix[(size_t)p * D + D - 1]);
        completion_backward(d, theta, grad, p, NULL, 0, 1);
    }
    return 0.5 * ss / m;
}

/* ---- float32 matrix completion (cfg.single) ---------------------------------------------------- */

static void sgemm(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                A, lda, B, ldb, 0.0f, C, ldc);
}

/* Loss and gradient of the float weights thf into gf (both n_param floats), single thread.  Per chain:
 * prefixes P_l = W_l P_{l-1} (P_1 = W_1), map W_D P_{D-1}; the total map; G (no x n) = residual / m at
 * the first m_eff observed entries, 0 elsewhere; then dL/dW_D = G P_{D-1}^T, H = W_D^T G, dL/dW_l =
 * H P_{l-1}^T, H <- W_l^T H, dL/dW_1 = H (D = 1: G).  Sum of squares in double. */
static double single_grad(dln *d, const float *thf, float *gf)
{
    const task *t = d->task;
    int D = d->depth, w = d->width, n = d->n_in, no = d->n_out, m = d->m_eff, nc = d->n_chain;
    size_t np = d->n_param;
    float *pre = d->sp + 2 * np, *tot = pre + (size_t)nc * (D > 1 ? D - 1 : 0) * w * n,
          *G = tot + (size_t)no * n, *H = G + (size_t)no * n, *H2 = H + (size_t)(w > 0 ? w : 1) * n;
#define WF(p, l) (thf + d->w_off[(size_t)(p)*D + (l)-1])
#define GF(p, l) (gf + d->w_off[(size_t)(p)*D + (l)-1])
#define PF(p, l) (pre + ((size_t)(p) * (D - 1) + (l)-1) * w * n) /* l = 1..D-1 */
    for (int p = 0; p < nc; p++) {
        if (D == 1) {
            if (p == 0)
                memcpy(tot, WF(0, 1), (size_t)no * n * sizeof(float));
            else
                for (size_t i = 0; i < (size_t)no * n; i++)
                    tot[i] += WF(p, 1)[i];
            continue;
        }
        memcpy(PF(p, 1), WF(p, 1), (size_t)w * n * sizeof(float));
        for (int l = 2; l < D; l++)
            sgemm(0, 0, w, n, w, WF(p, l), w, PF(p, l - 1), n, PF(p, l), n);
        if (p == 0)
            sgemm(0, 0, no, n, w, WF(p, D), w, PF(p, D - 1), n, tot, n);
        else {
            sgemm(0, 0, no, n, w, WF(p, D), w, PF(p, D - 1), n, G, n);
            for (size_t i = 0; i < (size_t)no * n; i++)
                tot[i] += G[i];
        }
    }
    memset(G, 0, (size_t)no * n * sizeof(float));
    const double *M = d->tgt_active;
    double ss = 0;
    for (int k = 0; k < m; k++) {
        size_t e = (size_t)t->obs_r[k] * n + t->obs_c[k];
        float r = tot[e] - (float)M[e];
        ss += (double)r * r;
        G[e] = r / (float)m;
    }
    for (int p = 0; p < nc; p++) {
        size_t len = d->chain_off[p + 1] - d->chain_off[p];
        if (d->gated[p]) {
            memset(gf + d->chain_off[p], 0, len * sizeof(float));
            continue;
        }
        if (D == 1) {
            memcpy(GF(p, 1), G, (size_t)no * n * sizeof(float));
            continue;
        }
        sgemm(0, 1, no, w, n, G, n, PF(p, D - 1), n, GF(p, D), w);
        sgemm(1, 0, w, n, no, WF(p, D), w, G, n, H, n);
        for (int l = D - 1; l >= 2; l--) {
            sgemm(0, 1, w, w, n, H, n, PF(p, l - 1), n, GF(p, l), w);
            sgemm(1, 0, w, n, w, WF(p, l), w, H, n, H2, n);
            float *tmp = H;
            H = H2;
            H2 = tmp;
        }
        memcpy(GF(p, 1), H, (size_t)w * n * sizeof(float));
    }
#undef WF
#undef GF
#undef PF
    return 0.5 * ss / m;
}

double dln_grad_single(dln *d, const double *theta, double *grad)
{
    CS_ASSERT(d->sp);
    float *thf = d->sp, *gf = d->sp + d->n_param;
    for (size_t i = 0; i < d->n_param; i++)
        thf[i] = (float)theta[i];
    double loss = single_grad(d, thf, gf);
    for (size_t i = 0; i < d->n_param; i++)
        grad[i] = gf[i];
    return loss;
}

/* float32 GD step: theta rounded, stepped in float, stored back exactly */
double dln_single_gd_step(dln *d, double lr)
{
    float *thf = d->sp, *gf = d->sp + d->n_param, a = (float)lr;
    for (size_t i = 0; i < d->n_param; i++)
        thf[i] = (float)d->theta[i];
    double loss = single_grad(d, thf, gf);
    for (int p = 0; p < d->n_chain; p++) {
        if (d->gated[p]) continue;
        for (size_t i = d->chain_off[p]; i < d->chain_off[p + 1]; i++)
            thf[i] -= a * gf[i];
    }
    for (size_t i = 0; i < d->n_param; i++)
        d->theta[i] = thf[i];
    return loss;
}
