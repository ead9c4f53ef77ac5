/* analyze.c - per-source singular values, tracked mode projections, share, inhibition and
 * principal angles over recorded steps (definitions in analyze.h).
 *
 * Mathematics: for mode alpha with target singular vectors (u_alpha, v_alpha) held FIXED for the whole
 * run, K_{P,alpha}(t) = u_alpha^T M_P(t) v_alpha^{(P)} (docs/theory.md#per-mode-reduction: "pathway-specific
 * singular value"; [C2] plots the diagonal of U^T Omega_p V).  A sorted SVD of M_P(t) instead re-orders its
 * singular values by size, so when two modes cross the sorted curves swap identities: the analyzer reports
 * both (svd.dat sorted, share.dat tracked) and never mixes them.
 * Principal angles: for orthonormal Q_A, Q_B, cos theta_i = sigma_i(Q_A^T Q_B) (Bjorck & Golub).
 *
 * Non-goals: see analyze.h.  Cost per snapshot: one small SVD per source (with left vectors), one of
 * the total, one (k x k) per source for the angles; a source whose map did not change since the
 * previous snapshot costs nothing.
 */
#include "analyze.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "linalg.h"
#include "util.h"

/* ---- pure kernels --------------------------------------------------------------------------- */

void analyze_project(const snap_meta *m, const double *const *maps, int r, const double *U, const double *V,
                     double *K)
{
    int no = m->n_out;
    for (int p = 0; p < m->n_src; p++) {
        int ni = m->n_in[p], off = snap_in_offset(m, p);
        const double *M = maps[p];
        for (int a = 0; a < r; a++) {
            double acc = 0.0;
            for (int i = 0; i < no; i++) {
                double ui = U[i * r + a];
                if (ui == 0.0) continue;
                const double *row = M + (size_t)i * ni;
                double d = 0.0;
                for (int j = 0; j < ni; j++)
                    d += row[j] * V[(size_t)(off + j) * r + a];
                acc += ui * d;
            }
            K[p * r + a] = acc;
        }
    }
}

double analyze_share_b(int n_src, const double *K, int stride)
{
    if (n_src < 2) return NAN;
    double sum = 0.0;
    for (int p = 0; p < n_src; p++)
        sum += K[p * stride];
    return sum != 0.0 ? K[stride] / sum : NAN;
}

int analyze_blocks(int r, const double *s, double rtol, int *first)
{
    int nb = 0;
    for (int a = 0; a < r; a++) {
        int same = a > 0 && isfinite(s[a]) && isfinite(s[a - 1]) && isfinite(s[0]) &&
                   fabs(s[a] - s[a - 1]) <= rtol * fabs(s[0]);
        if (!same) first[nb++] = a;
    }
    first[nb] = r;
    return nb;
}

double analyze_block_share_b(int n_src, const double *K, int r, int a0, int a1)
{
    if (n_src < 2) return NAN;
    double sum = 0.0, kb = 0.0;
    for (int a = a0; a < a1; a++) {
        for (int p = 0; p < n_src; p++)
            sum += K[p * r + a];
        kb += K[r + a];
    }
    return sum != 0.0 ? kb / sum : NAN;
}

double analyze_inhibition(int n_src, const double *K, int stride)
{
    if (n_src < 2) return NAN;
    double mx = -INFINITY, mn = INFINITY, sabs = 0.0;
    for (int p = 0; p < n_src; p++) {
        double k = K[p * stride];
        if (k > mx) mx = k;
        if (k < mn) mn = k;
        sabs += fabs(k);
    }
    if (sabs == 0.0) return NAN;
    double v = (mx - mn) / sabs;
    return v > 1.0 ? 1.0 : v; /* only rounding can push it above 1 */
}

int analyze_principal_angles(int n, int ka, const double *A, int kb, const double *B, double *theta)
{
    CS_ASSERT(n > 0 && ka > 0 && kb > 0);
    double *C = util_malloc((size_t)ka * kb * sizeof *C);
    int k = ka < kb ? ka : kb;
    double *s = util_malloc((size_t)k * sizeof *s);
    linalg_gemm(1, 0, ka, kb, n, 1.0, A, B, 0.0, C);
    int rc = linalg_svd(ka, kb, C, NULL, s, NULL);
    if (rc == CS_OK)
        for (int i = 0; i < k; i++)
            theta[i] = acos(s[i] > 1.0 ? 1.0 : (s[i] < 0.0 ? 0.0 : s[i]));
    free(C);
    free(s);
    return rc;
}

double analyze_half_step(int n, const long *t, const double *y)
{
    if (n < 1) return NAN;
    double f = y[n - 1];
    if (!(fabs(f) > 0.0) || !isfinite(f)) return NAN;
    /* work with the sign-normalised curve so that a negative final value is handled alike */
    for (int k = 0; k < n; k++) {
        double yk = y[k] / f;
        if (yk >= 0.5) {
            if (k == 0) return (double)t[0];
            double y0 = y[k - 1] / f;
            double frac = (0.5 - y0) / (yk - y0);
            return (double)t[k - 1] + frac * (double)(t[k] - t[k - 1]);
        }
    }
    return (double)t[n - 1];
}

/* ---- small SVDs without allocation ----------------------------------------------------------
 * A row-major (m x n) matrix is the column-major (n x m) matrix B = A^T, with the same singular
 * values; A's left singular vectors are B's right ones, returned by dgesdd as VT (k x m, column-major
 * with leading dimension k), which is exactly U_A (m x k) row-major.  So no transposition is needed.
 * Workspace sizes are queried once for every shape used; the per-snapshot loop allocates nothing. */
typedef struct {
    double *a, *vt, *work;
    lapack_int *iwork;
    lapack_int lwork;
} svd_ws;

static lapack_int svd_query(int m, int n, char jobz)
{
    int k = m < n ? m : n;
    double wq = 0.0, dummy = 0.0;
    lapack_int iw = 0;
    lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, n, m, &dummy, n, &dummy, &dummy, n, &dummy,
                                          k > 0 ? k : 1, &wq, -1, &iw);
    return info == 0 ? (lapack_int)wq + 1 : 0;
}

/* shapes: nshape pairs (m, n) */
static void svd_ws_alloc(svd_ws *w, int nshape, const int *mn)
{
    size_t amax = 1, kmax = 1, vmax = 1;
    lapack_int lw = 1;
    for (int i = 0; i < nshape; i++) {
        int m = mn[2 * i], n = mn[2 * i + 1], k = m < n ? m : n;
        if ((size_t)m * n > amax) amax = (size_t)m * n;
        if ((size_t)k > kmax) kmax = (size_t)k;
        if ((size_t)k * n > vmax) vmax = (size_t)k * n; /* B's left vectors (n x k), not used */
        lapack_int q = svd_query(m, n, 'S');
        if (q > lw) lw = q;
    }
    w->lwork = lw;
    w->a = util_malloc(amax * sizeof *w->a);
    w->vt = util_malloc(vmax * sizeof *w->vt);
    w->work = util_malloc((size_t)lw * sizeof *w->work);
    w->iwork = util_malloc(8 * kmax * sizeof *w->iwork);
}

static void svd_ws_free(svd_ws *w)
{
    free(w->a);
    free(w->vt);
    free(w->work);
    free(w->iwork);
}

/* singular values s (k, descending) and, if U != NULL, left vectors U (m x k row-major) */
static int svd_small(svd_ws *w, int m, int n, const double *A, double *s, double *U)
{
    int k = m < n ? m : n;
    memcpy(w->a, A, (size_t)m * n * sizeof *A);
    double dummy = 0.0;
    lapack_int info =
        LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, U ? 'S' : 'N', n, m, w->a, n, s, U ? w->vt : &dummy, n,
                            U ? U : &dummy, k, w->work, w->lwork, w->iwork);
    if (info != 0)
        return util_seterr(CS_EFAIL, "LAPACKE_dgesdd failed (info %d) on a %d x %d per-source map", (int)info,
                           m, n);
    return CS_OK;
}

/* ---- whole run ------------------------------------------------------------------------------ */

static int finite_all(size_t n, const double *x)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

void analyze_result_free(analyze_result *res)
{
    if (!res) return;
    free(res->U);
    free(res->V);
    free(res->s);
    free(res->sv);
    free(res->K);
    free(res->share);
    free(res->inhib);
    free(res->angle);
    free(res->half_step);
    free(res->blk_first);
    free(res->blk_share);
    memset(res, 0, sizeof *res);
}

/* Choose the tracked basis: the snapshot's U, V; else a fresh SVD of the target; else of the final
 * total map.  Keeps modes with s > 1e-12 s_max for a fresh SVD (numerically zero modes have arbitrary
 * vectors). */
static int choose_basis(const snap_run *run, const double *final_total, analyze_result *res)
{
    const snap_meta *m = &run->meta;
    int no = m->n_out, ni = res->n_in_total;
    if (m->rank > 0 && run->U && run->V) {
        int r = m->rank;
        res->r = r;
        res->basis = ANALYZE_BASIS_SNAPSHOT;
        res->U = util_malloc((size_t)no * r * sizeof(double));
        res->V = util_malloc((size_t)ni * r * sizeof(double));
        res->s = util_malloc((size_t)r * sizeof(double));
        memcpy(res->U, run->U, (size_t)no * r * sizeof(double));
        memcpy(res->V, run->V, (size_t)ni * r * sizeof(double));
        if (run->s)
            memcpy(res->s, run->s, (size_t)r * sizeof(double));
        else
            for (int a = 0; a < r; a++)
                res->s[a] = NAN;
        return CS_OK;
    }
    const double *A = run->target ? run->target : final_total;
    res->basis = run->target ? ANALYZE_BASIS_TARGET : ANALYZE_BASIS_FINAL;
    if (!A)
        return util_seterr(CS_EUSAGE, "snapshot: no U/V, no target and no finite snapshot: nothing to track");
    int k = no < ni ? no : ni;
    double *U = util_malloc((size_t)no * k * sizeof *U), *V = util_malloc((size_t)ni * k * sizeof *V);
    double *s = util_malloc((size_t)k * sizeof *s);
    int rc = linalg_svd(no, ni, A, U, s, V);
    if (rc != CS_OK) {
        free(U);
        free(V);
        free(s);
        return rc;
    }
    int r = 0;
    while (r < k && s[r] > 1e-12 * s[0])
        r++;
    if (r == 0) r = k; /* zero map: keep every direction rather than none */
    res->r = r;
    res->U = util_malloc((size_t)no * r * sizeof(double));
    res->V = util_malloc((size_t)ni * r * sizeof(double));
    res->s = util_malloc((size_t)r * sizeof(double));
    for (int i = 0; i < no; i++)
        for (int a = 0; a < r; a++)
            res->U[i * r + a] = U[i * k + a];
    for (int i = 0; i < ni; i++)
        for (int a = 0; a < r; a++)
            res->V[i * r + a] = V[i * k + a];
    memcpy(res->s, s, (size_t)r * sizeof *s);
    free(U);
    free(V);
    free(s);
    return CS_OK;
}

/* Total map of snapshot k into tot (n_out x n_in_total). */
static void total_map(const snap_run *run, int k, double *tot)
{
    const snap_meta *m = &run->meta;
    int no = m->n_out, nt = snap_n_in_total(m);
    memset(tot, 0, (size_t)no * nt * sizeof *tot);
    for (int p = 0; p < m->n_src; p++) {
        int ni = m->n_in[p], off = snap_in_offset(m, p);
        const double *M = run->map[p] + (size_t)k * no * ni;
        for (int i = 0; i < no; i++)
            for (int j = 0; j < ni; j++)
                tot[(size_t)i * nt + off + j] += M[(size_t)i * ni + j];
    }
}

/* analyze_run's scratch, allocated once for every snapshot */
typedef struct {
    svd_ws ws;
    double *Cang; /* (astride x astride) Q_P^T U_k */
    double *Up;   /* (n_out x stride) left singular vectors of a per-source map */
    double *Uk;   /* (n_out x astride) the target's top-k left singular vectors */
    double *Qp;   /* (n_out x astride) the map's top-k */
    double *sp;   /* (stride) singular values */
} an_scratch;

static void an_scratch_alloc(an_scratch *w, const snap_meta *m, int nt, int stride, int astride)
{
    int no = m->n_out, S = m->n_src, a1 = astride > 0 ? astride : 1;
    int shapes[2 * (SNAP_MAX_SRC + 2)], nsh = 0;
    for (int p = 0; p < S; p++) {
        shapes[2 * nsh] = no;
        shapes[2 * nsh++ + 1] = m->n_in[p];
    }
    shapes[2 * nsh] = no;
    shapes[2 * nsh++ + 1] = nt;
    shapes[2 * nsh] = a1;
    shapes[2 * nsh++ + 1] = a1;
    svd_ws_alloc(&w->ws, nsh, shapes);
    w->Cang = util_malloc((size_t)(astride ? astride * astride : 1) * sizeof *w->Cang);
    w->Up = util_malloc((size_t)no * stride * sizeof *w->Up);
    w->Uk = util_malloc((size_t)no * a1 * sizeof *w->Uk);
    w->Qp = util_malloc((size_t)no * a1 * sizeof *w->Qp);
    w->sp = util_malloc((size_t)stride * sizeof *w->sp);
}

static void an_scratch_free(an_scratch *w)
{
    svd_ws_free(&w->ws);
    free(w->Cang);
    free(w->Up);
    free(w->Uk);
    free(w->Qp);
    free(w->sp);
}

/* The shapes of the result and its arrays (for n1 snapshots): singular values per source and of the
 * total map, k_angle per source, the blocks of degenerate modes. */
static void result_alloc(const snap_meta *m, int nt, int n_ok, int k_angle, analyze_result *res)
{
    int S = m->n_src, no = m->n_out, r = res->r, stride = 0;
    for (int p = 0; p <= S; p++) {
        int ni = p < S ? m->n_in[p] : nt;
        res->n_sv[p] = no < ni ? no : ni;
        if (res->n_sv[p] > stride) stride = res->n_sv[p];
    }
    res->sv_stride = stride;
    int kA = k_angle > 0 ? k_angle : r, astride = 0;
    if (kA > r) kA = r;
    for (int p = 0; p < S; p++) {
        res->k_angle[p] = kA < res->n_sv[p] ? kA : res->n_sv[p];
        if (res->k_angle[p] > astride) astride = res->k_angle[p];
    }
    res->angle_stride = astride;
    size_t n1 = (size_t)(n_ok > 0 ? n_ok : 1);
    res->sv = util_malloc(n1 * (S + 1) * stride * sizeof(double));
    res->K = util_malloc(n1 * S * r * sizeof(double));
    res->share = util_malloc(n1 * r * sizeof(double));
    res->inhib = util_malloc(n1 * r * sizeof(double));
    res->angle = util_malloc(n1 * S * (astride ? astride : 1) * sizeof(double));
    res->half_step = util_malloc((size_t)r * sizeof(double));
    res->blk_first = util_malloc((size_t)(r + 1) * sizeof *res->blk_first);
    res->n_blk = analyze_blocks(r, res->s, ANALYZE_DEGEN_RTOL, res->blk_first);
    res->blk_share = util_malloc(n1 * res->n_blk * sizeof(double));
}

/* Snapshot k, per source: the sorted singular values into svk, and the principal angles between the
 * source's top-k left subspace and the target's.  A map identical to the previous snapshot's (a source
 * frozen by a deficit, e.g. gate:b) has the same results: copied, not recomputed (the same LAPACK calls
 * on the same bits would give the same bits); *n_same counts those sources. */
static int source_svds(const snap_run *run, int k, const double *const *maps, analyze_result *res,
                       an_scratch *w, double *svk, int *n_same_out)
{
    const snap_meta *m = &run->meta;
    int S = m->n_src, no = m->n_out, r = res->r, stride = res->sv_stride, astride = res->angle_stride;
    int rc = CS_OK;
    int n_same = 0;
    for (int p = 0; p < S && rc == CS_OK; p++) {
        int ni = m->n_in[p], kp = res->n_sv[p], ka = res->k_angle[p];
        size_t sz = (size_t)no * ni;
        if (k > 0 && memcmp(maps[p], maps[p] - sz, sz * sizeof(double)) == 0) {
            memcpy(svk + p * stride, svk - (size_t)(S + 1) * stride + p * stride, (size_t)kp * sizeof *svk);
            double *ang = res->angle + ((size_t)k * S + p) * astride;
            memcpy(ang, ang - (size_t)S * astride, (size_t)astride * sizeof *ang);
            n_same++;
            continue;
        }
        rc = svd_small(&w->ws, no, ni, maps[p], w->sp, ka > 0 ? w->Up : NULL);
        if (rc != CS_OK) break;
        memcpy(svk + p * stride, w->sp, (size_t)kp * sizeof *w->sp);
        double *ang = res->angle + ((size_t)k * S + p) * astride;
        for (int i = 0; i < astride; i++)
            ang[i] = NAN;
        if (ka > 0) {
            for (int i = 0; i < no; i++)
                for (int a = 0; a < ka; a++) {
                    w->Qp[i * ka + a] = w->Up[i * kp + a];
                    w->Uk[i * ka + a] = res->U[i * r + a];
                }
            /* cos theta = sigma(Q_P^T U_k), ascending angles (analyze_principal_angles, no allocation) */
            linalg_gemm(1, 0, ka, ka, no, 1.0, w->Qp, w->Uk, 0.0, w->Cang);
            rc = svd_small(&w->ws, ka, ka, w->Cang, ang, NULL);
            for (int i = 0; rc == CS_OK && i < ka; i++)
                ang[i] = acos(ang[i] > 1.0 ? 1.0 : (ang[i] < 0.0 ? 0.0 : ang[i]));
        }
    }
    *n_same_out = n_same;
    return rc;
}

int analyze_run(const snap_run *run, int k_angle, analyze_result *res)
{
    memset(res, 0, sizeof *res);
    const snap_meta *m = &run->meta;
    int ns = run->n_snap, S = m->n_src, no = m->n_out, nt = snap_n_in_total(m);
    res->n_total = ns;
    res->n_src = S;
    res->n_out = no;
    res->n_in_total = nt;
    if (ns < 1) return util_seterr(CS_EUSAGE, "snapshot: the run recorded no snapshots; nothing to analyse");
    /* leading finite snapshots */
    int n_ok = 0;
    for (int k = 0; k < ns; k++) {
        int ok = 1;
        for (int p = 0; p < S && ok; p++) {
            size_t sz = (size_t)no * m->n_in[p];
            ok = finite_all(sz, run->map[p] + (size_t)k * sz);
        }
        if (!ok) break;
        n_ok++;
    }
    res->n_snap = n_ok;
    double *tot = util_malloc((size_t)no * nt * sizeof *tot);
    if (n_ok > 0) total_map(run, n_ok - 1, tot);
    int rc = choose_basis(run, n_ok > 0 ? tot : NULL, res);
    if (rc != CS_OK) {
        free(tot);
        analyze_result_free(res);
        return rc;
    }
    int r = res->r;
    result_alloc(m, nt, n_ok, k_angle, res);
    int stride = res->sv_stride;
    an_scratch w;
    an_scratch_alloc(&w, m, nt, stride, res->angle_stride);
    double *ktot = util_malloc((size_t)(n_ok > 0 ? n_ok : 1) * sizeof *ktot);
    const double *maps[SNAP_MAX_SRC];
    for (int k = 0; k < n_ok && rc == CS_OK; k++) {
        for (int p = 0; p < S; p++)
            maps[p] = run->map[p] + (size_t)k * no * m->n_in[p];
        double *svk = res->sv + (size_t)k * (S + 1) * stride;
        for (int i = 0; i < (S + 1) * stride; i++)
            svk[i] = NAN;
        int n_same;
        rc = source_svds(run, k, maps, res, &w, svk, &n_same);
        if (rc != CS_OK) break;
        if (n_same == S) /* every map as before: so is the total */
            memcpy(svk + S * stride, svk - (size_t)(S + 1) * stride + S * stride,
                   (size_t)res->n_sv[S] * sizeof *svk);
        else {
            total_map(run, k, tot);
            rc = svd_small(&w.ws, no, nt, tot, w.sp, NULL);
            if (rc != CS_OK) break;
            memcpy(svk + S * stride, w.sp, (size_t)res->n_sv[S] * sizeof *w.sp);
        }
        double *Kk = res->K + (size_t)k * S * r;
        analyze_project(m, maps, r, res->U, res->V, Kk);
        for (int a = 0; a < r; a++) {
            res->share[(size_t)k * r + a] = analyze_share_b(S, Kk + a, r);
            res->inhib[(size_t)k * r + a] = analyze_inhibition(S, Kk + a, r);
        }
        for (int b = 0; b < res->n_blk; b++)
            res->blk_share[(size_t)k * res->n_blk + b] =
                analyze_block_share_b(S, Kk, r, res->blk_first[b], res->blk_first[b + 1]);
    }
    if (rc == CS_OK)
        for (int a = 0; a < r; a++) {
            for (int k = 0; k < n_ok; k++) {
                double t = 0.0;
                for (int p = 0; p < S; p++)
                    t += res->K[((size_t)k * S + p) * r + a];
                ktot[k] = t;
            }
            res->half_step[a] = analyze_half_step(n_ok, run->step, ktot);
        }
    an_scratch_free(&w);
    free(ktot);
    free(tot);
    if (rc != CS_OK) analyze_result_free(res);
    return rc;
}
