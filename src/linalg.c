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
#include <string.h>

#include "util.h"

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
