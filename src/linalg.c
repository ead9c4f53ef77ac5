/* linalg.c - SVD (LAPACKE and GSL), Haar-random orthogonal matrices, a dgemm wrapper.
 * See linalg.h for the conventions (thin SVD, V not V^T, sign fixing).
 * Note: <cblas.h> (OpenBLAS) and <gsl/gsl_blas.h> must not meet in one translation unit; only GSL's
 * linalg and matrix headers are used here. */
#include "linalg.h"

/* cblas_dgemm is declared by <gsl/gsl_cblas.h> (via gsl_linalg.h) and resolved to OpenBLAS at link time */
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* OpenBLAS's own (its cblas.h cannot meet GSL's in one translation unit).  blas_thread_shutdown_
 * (the pthread build's; what its fork handler calls) stops the worker threads, which the next
 * multi-threaded call starts again; weak, so that a build without it still links and runs. */
void openblas_set_num_threads(int n);
int blas_thread_shutdown_(void) __attribute__((weak));

/* Flip signs so that the largest-|.| entry of each column of U is positive. */
static void fix_signs(int m, int n, int k, double *U, double *V)
{
    if (!U) return;
    for (int j = 0; j < k; j++) {
        int best = 0;
        for (int i = 1; i < m; i++)
            if (fabs(U[i * k + j]) > fabs(U[best * k + j]) + 1e-12) best = i;
        if (U[best * k + j] < 0) {
            for (int i = 0; i < m; i++)
                U[i * k + j] = -U[i * k + j];
            if (V)
                for (int i = 0; i < n; i++)
                    V[i * k + j] = -V[i * k + j];
        }
    }
}

static int all_finite(int m, int n, const double *A)
{
    for (long i = 0; i < (long)m * n; i++)
        if (!isfinite(A[i])) return 0;
    return 1;
}

int linalg_svd(int m, int n, const double *A, double *U, double *s, double *V)
{
    CS_ASSERT(m > 0 && n > 0 && s);
    if (!all_finite(m, n, A)) return util_seterr(CS_EFAIL, "SVD of a matrix with non-finite entries");
    int k = m < n ? m : n;
    double *a = util_malloc((size_t)m * n * sizeof *a);
    double *u = util_malloc((size_t)m * k * sizeof *u);
    double *vt = util_malloc((size_t)k * n * sizeof *vt);
    memcpy(a, A, (size_t)m * n * sizeof *a);
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', m, n, a, n, s, u, k, vt, n);
    if (info != 0) {
        free(a);
        free(u);
        free(vt);
        return util_seterr(CS_EFAIL, "LAPACKE_dgesdd failed (info %d) on a %d x %d matrix", (int)info, m, n);
    }
    double *v = util_malloc((size_t)n * k * sizeof *v);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            v[i * k + j] = vt[j * n + i];
    fix_signs(m, n, k, u, v);
    if (U) memcpy(U, u, (size_t)m * k * sizeof *u);
    if (V) memcpy(V, v, (size_t)n * k * sizeof *v);
    free(a);
    free(u);
    free(vt);
    free(v);
    return CS_OK;
}

/* Singular values only, of a small matrix, by one-sided Jacobi (Hestenes 1958): the k = min(m, n)
 * columns of B (B = A V0 when m >= n, else (A V0)^T; each of length L = max(m, n)) are rotated pairwise, [b_i
 * b_j] <- [b_i b_j] [c s; -s c] with t = tan theta the smaller root of t^2 + 2 zeta t - 1 = 0, zeta =
 * (|b_j|^2 - |b_i|^2) / (2 b_i.b_j), in cyclic sweeps until every pair is orthogonal to working precision
 * (|b_i.b_j| <= L eps |b_i| |b_j|); s = the column norms, sorted. V0 (optional, n x n orthogonal) does not
 * change the values; when it is close to A's right singular vectors, B's columns start nearly orthogonal and
 * one or two sweeps suffice.  B's columns stay B V for an orthogonal V, so the norms are A's singular values,
 * each to within a few eps |A| (Demmel and Veselic 1992: one-sided Jacobi is as accurate as LAPACK's
 * bidiagonal QR, often more in the small values).  The squared norms are refreshed at every sweep and updated
 * in between by |b_i|^2 -= t g, |b_j|^2 += t g (g = b_i.b_j).  A is scaled by a power of two (exact) so that
 * no sum overflows.  No vectors are formed and nothing is allocated when k L <= 4096.  The sums run in a
 * fixed order (8 lanes, then lanes paired), so the values are the same on every machine. */
typedef double sv8 __attribute__((vector_size(64), aligned(8)));
typedef long sv8l __attribute__((vector_size(64)));
static double sv_dot(int L8, const double *x, const double *y)
{
    sv8 acc = {0};
    for (int q = 0; q < L8; q += 8)
        acc += *(const sv8 *)(x + q) * *(const sv8 *)(y + q);
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* k <= 8 columns as the 8 lanes of each of the L rows of B (B[q] = row q, padded with zero columns);
 * the pairs of a cyclic sweep in the round-robin order (7 rounds of 4 disjoint pairs), so that one
 * round's dots, norm updates and rotations are lane-wise operations on the rows. */
static void sv_lanes(int L, sv8 *B, int k, double *s)
{
    static const int part[7][8] = {{1, 0, 3, 2, 5, 4, 7, 6}, {2, 3, 0, 1, 6, 7, 4, 5},
                                   {3, 2, 1, 0, 7, 6, 5, 4}, {4, 5, 6, 7, 0, 1, 2, 3},
                                   {5, 4, 7, 6, 1, 0, 3, 2}, {6, 7, 4, 5, 2, 3, 0, 1},
                                   {7, 6, 5, 4, 3, 2, 1, 0}};
    const double tol2 = (L * 2.220446049250313e-16) * (L * 2.220446049250313e-16);
    for (int sweep = 0, rot = 1; rot && sweep < 64; sweep++) {
        rot = 0;
        sv8 w = {0};
        for (int q = 0; q < L; q++)
            w += B[q] * B[q];
        for (int r = 0; r < 7; r++) {
            sv8l ix = {part[r][0], part[r][1], part[r][2], part[r][3],
                       part[r][4], part[r][5], part[r][6], part[r][7]};
            sv8 g = {0};
            for (int q = 0; q < L; q++)
                g += B[q] * __builtin_shuffle(B[q], ix);
            sv8 cv = {1, 1, 1, 1, 1, 1, 1, 1}, sn = {0}, tv = {0};
            int any = 0;
            for (int i = 0; i < 8; i++) {
                int j = part[r][i];
                if (j < i || j >= k || i >= k) continue;
                double gg = g[i];
                if (gg == 0 || gg * gg <= tol2 * w[i] * w[j]) continue;
                double zeta = (w[j] - w[i]) / (2 * gg), az = fabs(zeta);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (az > 1e150 ? 2 * az : az + sqrt(1 + zeta * zeta));
                double c = 1 / sqrt(1 + t * t);
                cv[i] = cv[j] = c;
                sn[i] = c * t; /* x_i' = c x_i - s x_j, x_j' = c x_j + s x_i */
                sn[j] = -(c * t);
                tv[i] = t;
                tv[j] = -t;
                any = 1;
            }
            if (!any) continue;
            rot = 1;
            for (int q = 0; q < L; q++)
                B[q] = cv * B[q] - sn * __builtin_shuffle(B[q], ix);
            w -= tv * g;
        }
    }
    sv8 w = {0};
    for (int q = 0; q < L; q++)
        w += B[q] * B[q];
    for (int j = 0; j < k; j++) { /* sorted descending (insertion) */
        double v = sqrt(w[j]);
        int p = j;
        for (; p > 0 && s[p - 1] < v; p--)
            s[p] = s[p - 1];
        s[p] = v;
    }
}

/* (A V0)[i, j] (A: rows of n, V0: n x n or NULL) */
static double sv_entry(int n, const double *A, const double *V0, int i, int j)
{
    if (!V0) return A[(size_t)i * n + j];
    double v = 0;
    for (int q = 0; q < n; q++)
        v += A[(size_t)i * n + q] * V0[(size_t)q * n + j];
    return v;
}

#define SV_STACK 4096
int linalg_sv_small(int m, int n, const double *A, const double *V0, double *s)
{
    CS_ASSERT(m > 0 && n > 0 && s);
    if (!all_finite(m, n, A)) return util_seterr(CS_EFAIL, "SVD of a matrix with non-finite entries");
    int k = m < n ? m : n, L = m < n ? n : m, L8 = (L + 7) / 8 * 8;
    double amax = 0;
    for (long i = 0; i < (long)m * n; i++)
        amax = fabs(A[i]) > amax ? fabs(A[i]) : amax; /* (no libm call per entry) */
    if (amax == 0) {
        for (int j = 0; j < k; j++)
            s[j] = 0;
        return CS_OK;
    }
    int e;
    frexp(amax, &e);
    double sc = ldexp(1.0, -e); /* |A sc| < 1: squared norms of up to 2^30 entries cannot overflow */
    if (k <= 8 && L <= 512) {   /* rows of B as 8 lanes */
        sv8 R[512];
        if (V0 && m >= n) { /* R[q] = row q of A V0, lane-wise the sums of sv_entry in its order */
            sv8 v[8];
            for (int c = 0; c < n; c++) /* lane by lane (GCC would make a plain copy a memcpy call) */
                for (int j = 0; j < 8; j++)
                    v[c][j] = j < n ? V0[(size_t)c * n + j] : 0;
            for (int q = 0; q < L; q++) {
                sv8 acc = {0};
                for (int c = 0; c < n; c++)
                    acc += A[(size_t)q * n + c] * v[c];
                R[q] = acc * sc;
            }
        } else
            for (int q = 0; q < L; q++)
                for (int j = 0; j < 8; j++)
                    R[q][j] = j < k ? sc * sv_entry(n, A, V0, m >= n ? q : j, m >= n ? j : q) : 0;
        sv_lanes(L, R, k, s);
        for (int j = 0; j < k; j++)
            s[j] /= sc;
        return CS_OK;
    }
    double stack[SV_STACK], nrm[64],
        *b = (size_t)k * L8 <= SV_STACK ? stack : util_malloc((size_t)k * L8 * sizeof *b);
    double *w = k <= 64 ? nrm : util_malloc((size_t)k * sizeof *w);
    for (int j = 0; j < k; j++) { /* row j of b: column j of B */
        double *x = b + (size_t)j * L8;
        for (int i = 0; i < L; i++)
            x[i] = sc * (m >= n ? sv_entry(n, A, V0, i, j) : sv_entry(n, A, V0, j, i));
        for (int i = L; i < L8; i++)
            x[i] = 0;
    }
    const double tol = L * 2.220446049250313e-16;
    for (int sweep = 0, rot = 1; rot && sweep < 64; sweep++) {
        rot = 0;
        for (int j = 0; j < k; j++)
            w[j] = sv_dot(L8, b + (size_t)j * L8, b + (size_t)j * L8);
        for (int i = 0; i < k - 1; i++)
            for (int j = i + 1; j < k; j++) {
                double *x = b + (size_t)i * L8, *y = b + (size_t)j * L8, g = sv_dot(L8, x, y);
                if (g == 0 || fabs(g) <= tol * sqrt(w[i]) * sqrt(w[j])) continue;
                rot = 1;
                double zeta = (w[j] - w[i]) / (2 * g), az = fabs(zeta);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (az > 1e150 ? 2 * az : az + sqrt(1 + zeta * zeta));
                double cs = 1 / sqrt(1 + t * t);
                sv8 c8 = {cs, cs, cs, cs, cs, cs, cs, cs}, s8 = c8 * t;
                for (int q = 0; q < L8; q += 8) {
                    sv8 u = *(sv8 *)(x + q), v = *(sv8 *)(y + q);
                    *(sv8 *)(x + q) = c8 * u - s8 * v;
                    *(sv8 *)(y + q) = s8 * u + c8 * v;
                }
                w[i] -= t * g;
                w[j] += t * g;
            }
    }
    for (int j = 0; j < k; j++) { /* norms, sorted descending (insertion) */
        double v = sqrt(sv_dot(L8, b + (size_t)j * L8, b + (size_t)j * L8)) / sc;
        int p = j;
        for (; p > 0 && s[p - 1] < v; p--)
            s[p] = s[p - 1];
        s[p] = v;
    }
    if (b != stack) free(b);
    if (w != nrm) free(w);
    return CS_OK;
}

int linalg_svd_gsl(int m, int n, const double *A, double *U, double *s, double *V)
{
    CS_ASSERT(m > 0 && n > 0 && s);
    if (!all_finite(m, n, A)) return util_seterr(CS_EFAIL, "SVD of a matrix with non-finite entries");
    int k = m < n ? m : n;
    int tr = m < n; /* GSL needs rows >= cols: decompose A^T = V S U^T instead */
    int M = tr ? n : m, N = tr ? m : n;
    gsl_matrix *a = gsl_matrix_alloc((size_t)M, (size_t)N);
    gsl_matrix *v = gsl_matrix_alloc((size_t)N, (size_t)N);
    gsl_vector *sv = gsl_vector_alloc((size_t)N);
    gsl_vector *work = gsl_vector_alloc((size_t)N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            gsl_matrix_set(a, (size_t)i, (size_t)j, tr ? A[j * n + i] : A[i * n + j]);
    int st = gsl_linalg_SV_decomp(a, v, sv, work);
    if (st) {
        gsl_matrix_free(a);
        gsl_matrix_free(v);
        gsl_vector_free(sv);
        gsl_vector_free(work);
        return util_seterr(CS_EFAIL, "gsl_linalg_SV_decomp failed: %s", gsl_strerror(st));
    }
    /* now A' = a * diag(sv) * v^T with a (M x N) and v (N x N); k = N */
    double *u = util_malloc((size_t)m * k * sizeof *u), *vv = util_malloc((size_t)n * k * sizeof *vv);
    for (int j = 0; j < k; j++) {
        s[j] = gsl_vector_get(sv, (size_t)j);
        for (int i = 0; i < m; i++)
            u[i * k + j] =
                tr ? gsl_matrix_get(v, (size_t)i, (size_t)j) : gsl_matrix_get(a, (size_t)i, (size_t)j);
        for (int i = 0; i < n; i++)
            vv[i * k + j] =
                tr ? gsl_matrix_get(a, (size_t)i, (size_t)j) : gsl_matrix_get(v, (size_t)i, (size_t)j);
    }
    fix_signs(m, n, k, u, vv);
    if (U) memcpy(U, u, (size_t)m * k * sizeof *u);
    if (V) memcpy(V, vv, (size_t)n * k * sizeof *vv);
    free(u);
    free(vv);
    gsl_matrix_free(a);
    gsl_matrix_free(v);
    gsl_vector_free(sv);
    gsl_vector_free(work);
    return CS_OK;
}

void linalg_random_orthogonal(gsl_rng *rng, int n, double *Q)
{
    gsl_matrix *a = gsl_matrix_alloc((size_t)n, (size_t)n);
    gsl_vector *tau = gsl_vector_alloc((size_t)n);
    gsl_matrix *q = gsl_matrix_alloc((size_t)n, (size_t)n), *r = gsl_matrix_alloc((size_t)n, (size_t)n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            gsl_matrix_set(a, (size_t)i, (size_t)j, gsl_ran_gaussian_ziggurat(rng, 1.0));
    gsl_linalg_QR_decomp(a, tau);
    gsl_linalg_QR_unpack(a, tau, q, r);
    for (int j = 0; j < n; j++) {
        double sgn = gsl_matrix_get(r, (size_t)j, (size_t)j) < 0 ? -1.0 : 1.0;
        for (int i = 0; i < n; i++)
            Q[i * n + j] = sgn * gsl_matrix_get(q, (size_t)i, (size_t)j);
    }
    gsl_matrix_free(a);
    gsl_matrix_free(q);
    gsl_matrix_free(r);
    gsl_vector_free(tau);
}

void linalg_gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A, const double *B,
                 double beta, double *C)
{
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha,
                A, ta ? m : k, B, tb ? k : n, beta, C, n);
}

void linalg_blas_idle(void)
{
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

void linalg_blas_threads(linalg_blas_use use)
{
    if (use == LINALG_BLAS_SMALL && getenv("OPENBLAS_NUM_THREADS")) return; /* the user's choice wins */
    openblas_set_num_threads(1);
    /* OpenBLAS starts its workers when it loads, and an idle worker polls (sched_yield) for about 2^28
     * cycles, ~0.1 s, before it sleeps: a whole short run's worth of a second core, taken from the
     * other processes of a sweep.  With one thread they have nothing to do: stop them now. */
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}
