/* test_linalg.c - linalg.h: LAPACKE and GSL SVDs agree (values, vectors after sign fixing,
 * reconstruction) on several shapes; the small one-sided Jacobi singular values (linalg_sv_small) agree
 * with LAPACK's; the V (not V^T) convention; random orthogonal matrices are
 * orthogonal and Haar-distributed in their first moment; the dgemm wrapper's transposes. */
#include <gsl/gsl_rng.h>
#include <string.h>

#include "check.h"
#include "linalg.h"
#include "util.h"

static double max_abs_diff(size_t n, const double *a, const double *b)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w = fmax(w, fabs(a[i] - b[i]));
    return w;
}

/* || A - U diag(s) V^T ||_max */
static double recon_err(int m, int n, int k, const double *A, const double *U, const double *s,
                        const double *V)
{
    double w = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double d = 0;
            for (int a = 0; a < k; a++)
                d += U[i * k + a] * s[a] * V[j * k + a];
            w = fmax(w, fabs(A[i * n + j] - d));
        }
    return w;
}

int openblas_get_num_threads(void); /* OpenBLAS's own */

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 2024);
    int shapes[][2] = {{15, 8}, {8, 15}, {20, 20}, {1, 6}, {6, 1}, {100, 8}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int m = shapes[c][0], n = shapes[c][1], k = m < n ? m : n;
        double *A = util_malloc((size_t)m * n * sizeof *A);
        for (int i = 0; i < m * n; i++)
            A[i] = gsl_rng_uniform(rng) - 0.5;
        double *U1 = util_malloc((size_t)m * k * sizeof(double)),
               *U2 = util_malloc((size_t)m * k * sizeof(double));
        double *V1 = util_malloc((size_t)n * k * sizeof(double)),
               *V2 = util_malloc((size_t)n * k * sizeof(double));
        double *s1 = util_malloc((size_t)k * sizeof(double)), *s2 = util_malloc((size_t)k * sizeof(double));
        CHECK_INT(linalg_svd(m, n, A, U1, s1, V1), CS_OK);
        CHECK_INT(linalg_svd_gsl(m, n, A, U2, s2, V2), CS_OK);
        /* both backward stable: singular values agree to ~k eps ||A|| */
        CHECK_ARRAY_CLOSE(s1, s2, (size_t)k, 1e-12, 1e-13);
        int desc = 1;
        for (int a = 1; a < k; a++)
            desc &= s1[a] <= s1[a - 1];
        CHECK(desc);
        /* random matrices have well separated values (gap >~ 1e-2): vectors agree to eps / gap ~ 1e-13;
         * 1e-10 leaves room for the smallest gaps of the 20 x 20 case */
        CHECK_CLOSE(max_abs_diff((size_t)m * k, U1, U2), 0.0, 0, 1e-10);
        CHECK_CLOSE(max_abs_diff((size_t)n * k, V1, V2), 0.0, 0, 1e-10);
        /* V is V, not V^T: A = U diag(s) V^T reconstructs (would fail for V^T unless square symmetric) */
        CHECK_CLOSE(recon_err(m, n, k, A, U1, s1, V1), 0.0, 0, 1e-13);
        CHECK_CLOSE(recon_err(m, n, k, A, U2, s2, V2), 0.0, 0, 1e-13);
        free(A);
        free(U1);
        free(U2);
        free(V1);
        free(V2);
        free(s1);
        free(s2);
    }
    { /* known values: A = [[0, 2], [3, 0], [0, 0]] */
        double A[6] = {0, 2, 3, 0, 0, 0}, s[2], U[6], V[4];
        CHECK_INT(linalg_svd(3, 2, A, U, s, V), CS_OK);
        CHECK_CLOSE(s[0], 3.0, 1e-15, 0);
        CHECK_CLOSE(s[1], 2.0, 1e-15, 0);
        CHECK_CLOSE(fabs(V[0 * 2 + 0]), 1.0, 1e-15, 0); /* sigma 3 sits in column 1: top right vector e_1 */
        double B[2] = {NAN, 1};
        util_clearerr();
        CHECK_INT(linalg_svd(1, 2, B, NULL, s, NULL), CS_EFAIL); /* non-finite input refused */
        CHECK(strlen(util_errmsg()) > 0);
    }
    { /* linalg_sv_small against LAPACK: both backward stable, so the values agree to a few L eps |A|
       * (L = max(m, n) <= 40 here: 1e-14 |A|_2 bounds that); every path: the 8-lane sweeps (k <= 8),
       * the sequential ones (k > 8), with and without a starting basis V0; graded values 1 .. 1e-12
       * (absolute accuracy: the tiny ones to 1e-14 |A|, as LAPACK's); rank-deficient; zero; non-finite */
        int sh[][2] = {{15, 8}, {8, 15}, {40, 3}, {1, 6}, {6, 1}, {20, 12}, {12, 20}, {9, 9}};
        for (size_t c = 0; c < sizeof sh / sizeof sh[0]; c++)
            for (int kind = 0; kind < 4; kind++) {
                int m = sh[c][0], n = sh[c][1], k = m < n ? m : n;
                double *A = util_malloc((size_t)m * n * sizeof *A),
                       *Q = util_malloc((size_t)n * n * sizeof *Q),
                       *P = util_malloc((size_t)m * m * sizeof *P), s1[20], s2[20];
                linalg_random_orthogonal(rng, n, Q);
                linalg_random_orthogonal(rng, m, P);
                if (kind < 2)
                    for (int i = 0; i < m * n; i++)
                        A[i] = gsl_rng_uniform(rng) - 0.5;
                else { /* P diag(sigma) Q^T with sigma = 10^(-12 a / (k - 1)) (kind 3: the last one 0) */
                    memset(A, 0, (size_t)m * n * sizeof *A);
                    for (int a = 0; a < k; a++) {
                        double sg = k > 1 ? pow(10.0, -12.0 * a / (k - 1)) : 1;
                        if (kind == 3 && a == k - 1) sg = 0;
                        for (int i = 0; i < m; i++)
                            for (int j = 0; j < n; j++)
                                A[i * n + j] += P[i * m + a] * sg * Q[j * n + a];
                    }
                }
                CHECK_INT(linalg_svd(m, n, A, NULL, s1, NULL), CS_OK);
                CHECK_INT(linalg_sv_small(m, n, A, kind == 1 || kind == 2 ? Q : NULL, s2), CS_OK);
                CHECK_ARRAY_CLOSE(s2, s1, (size_t)k, 0, 1e-14 * s1[0]);
                int desc = 1;
                for (int a = 1; a < k; a++)
                    desc &= s2[a] <= s2[a - 1];
                CHECK(desc);
                free(A), free(Q), free(P);
            }
        double D[6] = {0, 2, 3, 0, 0, 0}, Z[6] = {0}, s[2];
        CHECK_INT(linalg_sv_small(3, 2, D, NULL, s), CS_OK);
        CHECK(s[0] == 3.0 && s[1] == 2.0); /* orthogonal columns: no rotation, exact norms */
        CHECK_INT(linalg_sv_small(3, 2, Z, NULL, s), CS_OK);
        CHECK(s[0] == 0 && s[1] == 0);
        double B[2] = {NAN, 1}, big[4] = {1e300, 0, 0, 3e299};
        util_clearerr();
        CHECK_INT(linalg_sv_small(1, 2, B, NULL, s), CS_EFAIL);
        CHECK(strlen(util_errmsg()) > 0);
        CHECK_INT(linalg_sv_small(2, 2, big, NULL, s), CS_OK); /* scaled: no overflow in the squared norms */
        CHECK_CLOSE(s[0], 1e300, 1e-15, 0);
        CHECK_CLOSE(s[1], 3e299, 1e-15, 0);
    }
    { /* random orthogonal: Q^T Q = I to rounding, for several sizes */
        int sizes[] = {1, 2, 8, 100};
        for (int c = 0; c < 4; c++) {
            int n = sizes[c];
            double *Q = util_malloc((size_t)n * n * sizeof *Q), *G = util_malloc((size_t)n * n * sizeof *G);
            linalg_random_orthogonal(rng, n, Q);
            linalg_gemm(1, 0, n, n, n, 1.0, Q, Q, 0.0, G);
            double w = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    w = fmax(w, fabs(G[i * n + j] - (i == j)));
            /* Householder QR: orthogonality ~ n eps */
            CHECK_CLOSE(w, 0.0, 0, 1e-13);
            free(Q);
            free(G);
        }
        /* Haar: E[Q_11^2] = 1/n and E[Q_11] = 0.  Q_11^2 ~ Beta(1/2, (n-1)/2): for n = 5 its sd is
         * 0.214, so over 4000 draws the mean has sd 0.0034: 5 sd = 0.017.  Q_11 has sd 1/sqrt 5 -> the
         * mean over 4000 has sd 0.0071: 5 sd = 0.035.  Without the sign fix of R's diagonal, Q_11 would be
         * biased (not Haar). */
        double m2 = 0, m1 = 0, Q[25];
        for (int d = 0; d < 4000; d++) {
            linalg_random_orthogonal(rng, 5, Q);
            m2 += Q[0] * Q[0] / 4000;
            m1 += Q[0] / 4000;
        }
        CHECK_CLOSE(m2, 0.2, 0, 0.017);
        CHECK_CLOSE(m1, 0.0, 0, 0.035);
    }
    { /* gemm with transposes against a hand product */
        double A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, -1, 2, 1, 0}, C[4], Ct[4];
        linalg_gemm(0, 1, 2, 2, 3, 1.0, A, B, 0.0, C); /* A (2x3) B^T (3x2) */
        double want[4] = {1 * 1 + 2 * 0 + 3 * -1, 1 * 2 + 2 * 1 + 3 * 0, 4 - 6, 8 + 5};
        CHECK_ARRAY_CLOSE(C, want, 4, 0, 0);
        /* B read as (3x2) [[1,0],[-1,2],[1,0]], A as (3x2) [[1,2],[3,4],[5,6]]: B^T A */
        linalg_gemm(1, 0, 2, 2, 3, 1.0, B, A, 0.0, Ct);
        double want_t[4] = {1 - 3 + 5, 2 - 4 + 6, 6, 8};
        CHECK_ARRAY_CLOSE(Ct, want_t, 4, 0, 0);
    }
    gsl_rng_free(rng);
    /* the one setter of OpenBLAS's thread count: a worker runs on one thread */
    linalg_blas_threads(LINALG_BLAS_WORKER);
    CHECK_INT(openblas_get_num_threads(), 1);
    return check_done("test_linalg");
}
