/* linalg.h - dense linear-algebra helpers in double precision on LAPACKE/OpenBLAS and GSL.
 *
 * Conventions: matrices are row-major `double *` with explicit (rows x cols).  SVD wrappers return
 * the thin decomposition A = U diag(s) V^T with U (m x k), s (k, descending), V (n x k) where
 * k = min(m, n) -- V itself, never V^T (LAPACKE dgesdd returns V^T and GSL's SV_decomp returns V;
 * both wrappers convert to this convention).  Signs are fixed so that the largest-magnitude entry of
 * each column of U is positive (V follows), which makes two implementations comparable.
 */
#ifndef CRITSIM_LINALG_H
#define CRITSIM_LINALG_H

#include <gsl/gsl_rng.h>

/* Thin SVD by LAPACKE_dgesdd.  U (m x k), s (k), V (n x k), k = min(m, n); any may be NULL except s.
 * CS_OK, or CS_EFAIL with a message when LAPACK does not converge or A is not finite. */
int linalg_svd(int m, int n, const double *A, double *U, double *s, double *V);
/* The same through GSL (gsl_linalg_SV_decomp, one-sided Jacobi for m < n handled by transposing);
 * an independent implementation for tests. */
int linalg_svd_gsl(int m, int n, const double *A, double *U, double *s, double *V);

/* Singular values only (descending, k = min(m, n) of them) of a small matrix by one-sided Jacobi, without
 * LAPACK's vectors or allocations (the per-step maps of `critsim flow`); accurate to a few eps |A| like
 * linalg_svd, not the same bits.  V0: NULL, or an (n x n) orthogonal matrix close to A's right singular
 * vectors (fewer sweeps; same values up to rounding).  CS_OK, or CS_EFAIL when A is not finite. */
int linalg_sv_small(int m, int n, const double *A, const double *V0, double *s);

/* Random orthogonal (n x n): QR of a standard Gaussian matrix with the signs of R's diagonal moved
 * into Q (Haar measure), drawn from `rng`. */
void linalg_random_orthogonal(gsl_rng *rng, int n, double *Q);

/* C (m x n) = alpha * op(A) op(B) + beta * C through cblas_dgemm; ta/tb: 0 = as is, 1 = transpose.
 * op(A) is (m x k), op(B) is (k x n); A, B, C row-major with their natural leading dimensions. */
void linalg_gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A, const double *B,
                 double beta, double *C);

/* OpenBLAS's thread count for the whole process: the one place that sets it (docs/design.md#blas).
 *   LINALG_BLAS_WORKER  this process is one of several workers sharing the cores (a sweep point, a
 *                       switch-sweep branch or its trunk) or parallelises itself: one thread.
 *   LINALG_BLAS_SMALL   its products are small (largest dimension under 512, where OpenBLAS's threads
 *                       cost more than they gain): one thread unless the user set OPENBLAS_NUM_THREADS.
 * Anything else leaves OpenBLAS's own choice. */
typedef enum { LINALG_BLAS_WORKER, LINALG_BLAS_SMALL } linalg_blas_use;
void linalg_blas_threads(linalg_blas_use use);
/* Stop OpenBLAS's idle worker threads (started when it loads; each polls sched_yield for ~0.1 s before
 * it sleeps) without changing the thread count: OpenBLAS starts them again on its next multi-threaded
 * call.  The command calls it first thing; linalg_blas_threads does it too when it sets one thread. */
void linalg_blas_idle(void);

#endif
