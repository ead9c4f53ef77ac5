/* dln_kernels.c - the dense kernels of the linear engine (src/dln.c): small products, the fused
 * step's forward and backward layer kernels, the activations (by name and elementwise).
 *
 * Purpose: the inner loops of the full-matrix engine, apart from the bookkeeping that calls them
 * (dln_item.c, dln_completion.c).  Every function here computes one fixed arithmetic: its sums run in
 * a stated order, so the AVX-512 paths and the portable loops give the same bits (or, for
 * dln_gemm_small, the bits of OpenBLAS's Haswell dgemm kernel).
 *
 * Mathematics (row-major, natural strides unless an ld is given):
 *   dlnk_gemm      C = alpha op(A) op(B) + beta C; the small AVX-512 product dln_gemm_small for alpha 1,
 *                  beta 0 and the shapes it takes, else cblas_dgemm.
 *   dlnk_fx_fwd    C (m x n) = W (m x k) B (k x n): C[i, j] = fma chain over q = 0..k-1 of W[i, q] B[q, j],
 *                  started from zero.
 *   dlnk_fx_back   one layer of the fused backward pass: Hout (k x n) = W^T Hin, Hout[q, j] an fma chain
 *                  over rows i = 0..m-1 of W[i, q] Hin[i, j] (with the W given); then g = Hin PT (m x k),
 *                  g[i, q] an fma chain over j = 0..n-1 of Hin[i, j] PT[j, q] (PT NULL: g = Hin), written
 *                  to G or applied in place as W[i, q] = fma(-lr, g[i, q], W[i, q]).
 *   dlnk_act_*     x <- phi(x) and g <- g .* phi'(z), phi' read from y = phi(z): relu [y > 0], tanh 1 - y^2.
 * The fused step these kernels serve is described in dln_item.c.
 */
#include "dln_impl.h"

#include <gsl/gsl_cblas.h>
#include <math.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "util.h"

#ifdef __AVX512F__
/* Small products (the multipath networks: width ~100, 8 inputs, 15 outputs) without OpenBLAS's call
 * overhead and packing (a 100 x 100 by 100 x 8 product: 2.8 us against 5.8 us).  Every element of C is
 * one chain of fused multiply-adds over k in increasing order, started from zero, plus 0.0 at the end:
 * the operations and order of OpenBLAS's Haswell dgemm kernel (the one this project's machines pin) for
 * m a multiple of 4, k <= 128, alpha 1, beta 0, so with that kernel the results are the same bit for
 * bit (tests/test_dln.c checks 392 shapes when OpenBLAS reports Haswell, else a
 * rounding bound).  Other OpenBLAS kernels order their sums differently: there the results differ
 * from before in the last digits, as they already differed between kernels.  C (m x n) = op(A) op(B);
 * op(B) is read as rows of B (tb = 0) or of a transposed copy in `bt` (tb = 1, n k <= SMALL_BT
 * doubles).  Returns 0 (nothing done) outside those shapes. */
#define SMALL_BT 16384
static int small_rows(int ta, int tb, int m, int n, int k, const double *A, int lda, const double *B, int ldb,
                      double *C, int ldc);
int dln_gemm_small(int ta, int tb, int m, int n, int k, const double *A, int lda, const double *B, int ldb,
                   double *C, int ldc)
{
    if (m % 4) return 0;
    return small_rows(ta, tb, m, n, k, A, lda, B, ldb, C, ldc);
}

/* the shapes dln_gemm_small accepts, the row count aside */
static int small_fits(int tb, long m, int n, int k)
{
    return k <= 128 && m * n * k <= 400000 && !(tb && (long)n * k > SMALL_BT);
}

/* the kernel of dln_gemm_small for any m (every row's sums are the same whatever rows it is computed
 * with: a row block of a product equals those rows of the whole product, bit for bit) */
static int small_rows(int ta, int tb, int m, int n, int k, const double *A, int lda, const double *B, int ldb,
                      double *C, int ldc)
{
    static _Thread_local double bt[SMALL_BT];
    if (!small_fits(tb, m, n, k)) return 0;
    if (tb) { /* op(B) = B^T: bt (k x n) */
        for (int j = 0; j < n; j++)
            for (int q = 0; q < k; q++)
                bt[(long)q * n + j] = B[(long)j * ldb + q];
        B = bt, ldb = n;
    }
    const __m512d zero = _mm512_setzero_pd();
    for (int j = 0; j < n; j += 8) {
        __mmask8 mk = (__mmask8)(n - j >= 8 ? 0xFF : (1u << (n - j)) - 1);
        int i = 0;
        for (; i + 4 <= m; i += 4) {
            __m512d c0 = zero, c1 = zero, c2 = zero, c3 = zero;
            for (int q = 0; q < k; q++) {
                __m512d b = _mm512_maskz_loadu_pd(mk, B + (long)q * ldb + j);
                const double *a = ta ? A + (long)q * lda + i : A + (long)i * lda + q;
                long s = ta ? 1 : lda;
                c0 = _mm512_fmadd_pd(_mm512_set1_pd(a[0]), b, c0);
                c1 = _mm512_fmadd_pd(_mm512_set1_pd(a[s]), b, c1);
                c2 = _mm512_fmadd_pd(_mm512_set1_pd(a[2 * s]), b, c2);
                c3 = _mm512_fmadd_pd(_mm512_set1_pd(a[3 * s]), b, c3);
            }
            _mm512_mask_storeu_pd(C + (long)i * ldc + j, mk, _mm512_add_pd(c0, zero));
            _mm512_mask_storeu_pd(C + (long)(i + 1) * ldc + j, mk, _mm512_add_pd(c1, zero));
            _mm512_mask_storeu_pd(C + (long)(i + 2) * ldc + j, mk, _mm512_add_pd(c2, zero));
            _mm512_mask_storeu_pd(C + (long)(i + 3) * ldc + j, mk, _mm512_add_pd(c3, zero));
        }
        for (; i < m; i++) {
            __m512d c0 = zero;
            for (int q = 0; q < k; q++) {
                __m512d b = _mm512_maskz_loadu_pd(mk, B + (long)q * ldb + j);
                double a = ta ? A[(long)q * lda + i] : A[(long)i * lda + q];
                c0 = _mm512_fmadd_pd(_mm512_set1_pd(a), b, c0);
            }
            _mm512_mask_storeu_pd(C + (long)i * ldc + j, mk, _mm512_add_pd(c0, zero));
        }
    }
    return 1;
}
#endif

void dlnk_gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda, const double *B,
               int ldb, double beta, double *C, int ldc)
{
#ifdef __AVX512F__
    if (alpha == 1.0 && beta == 0.0 && dln_gemm_small(ta, tb, m, n, k, A, lda, B, ldb, C, ldc)) return;
#endif
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha,
                A, lda, B, ldb, beta, C, ldc);
}

void dlnk_gemm_rows(int m_full, int ta, int tb, int m, int n, int k, const double *A, int lda,
                    const double *B, int ldb, double *C, int ldc)
{
#ifdef __AVX512F__
    /* the kernel is chosen by the whole product's shape, so every split of its rows runs the same one */
    if (m_full % 4 == 0 && small_fits(tb, m_full, n, k) &&
        small_rows(ta, tb, m, n, k, A, lda, B, ldb, C, ldc))
        return;
#else
    (void)m_full;
#endif
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0,
                A, lda, B, ldb, 0.0, C, ldc);
}

/* the activations by name (dln_cfg.act) */
const char *dln_act_name(dln_act a)
{
    return a == DLN_ACT_RELU ? "relu" : a == DLN_ACT_TANH ? "tanh" : "linear";
}

int dln_act_parse(const char *s, dln_act *out)
{
    static const char *names[] = {"linear", "relu", "tanh"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (dln_act)i;
            return CS_OK;
        }
    return util_seterr(CS_EUSAGE, "dln_cfg.act '%s': give linear, relu or tanh", s ? s : "");
}

/* x <- phi(x), n values */
void dlnk_act_apply(dln_act a, double *x, size_t n)
{
    if (a == DLN_ACT_RELU) {
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] > 0 ? x[i] : 0;
    } else if (a == DLN_ACT_TANH)
        for (size_t i = 0; i < n; i++)
            x[i] = tanh(x[i]);
}

/* g <- g .* phi'(z), with phi' read from the activation y = phi(z): relu [y > 0], tanh 1 - y^2 */
void dlnk_act_backward(dln_act a, const double *y, double *g, size_t n)
{
    if (a == DLN_ACT_RELU) {
        for (size_t i = 0; i < n; i++)
            if (!(y[i] > 0)) g[i] = 0;
    } else if (a == DLN_ACT_TANH)
        for (size_t i = 0; i < n; i++)
            g[i] *= 1 - y[i] * y[i];
}

/* C (m x n) = W (m x k) B (k x n), all row-major with natural strides. */
void dlnk_fx_fwd(int m, int n, int k, const double *W, const double *B, double *C)
{
#ifdef __AVX512F__
    const __m512d z = _mm512_setzero_pd();
    for (int j = 0; j < n; j += 8) {
        __mmask8 mk = (__mmask8)(n - j >= 8 ? 0xFF : (1u << (n - j)) - 1);
        int i = 0;
        for (; i + 8 <= m; i += 8) {
            __m512d c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z;
            const double *w = W + (size_t)i * k;
            for (int q = 0; q < k; q++) {
                __m512d b = _mm512_maskz_loadu_pd(mk, B + (size_t)q * n + j);
                c0 = _mm512_fmadd_pd(_mm512_set1_pd(w[q]), b, c0);
                c1 = _mm512_fmadd_pd(_mm512_set1_pd(w[(size_t)k + q]), b, c1);
                c2 = _mm512_fmadd_pd(_mm512_set1_pd(w[2 * (size_t)k + q]), b, c2);
                c3 = _mm512_fmadd_pd(_mm512_set1_pd(w[3 * (size_t)k + q]), b, c3);
                c4 = _mm512_fmadd_pd(_mm512_set1_pd(w[4 * (size_t)k + q]), b, c4);
                c5 = _mm512_fmadd_pd(_mm512_set1_pd(w[5 * (size_t)k + q]), b, c5);
                c6 = _mm512_fmadd_pd(_mm512_set1_pd(w[6 * (size_t)k + q]), b, c6);
                c7 = _mm512_fmadd_pd(_mm512_set1_pd(w[7 * (size_t)k + q]), b, c7);
            }
            double *c = C + (size_t)i * n + j;
            _mm512_mask_storeu_pd(c, mk, c0);
            _mm512_mask_storeu_pd(c + n, mk, c1);
            _mm512_mask_storeu_pd(c + 2 * (size_t)n, mk, c2);
            _mm512_mask_storeu_pd(c + 3 * (size_t)n, mk, c3);
            _mm512_mask_storeu_pd(c + 4 * (size_t)n, mk, c4);
            _mm512_mask_storeu_pd(c + 5 * (size_t)n, mk, c5);
            _mm512_mask_storeu_pd(c + 6 * (size_t)n, mk, c6);
            _mm512_mask_storeu_pd(c + 7 * (size_t)n, mk, c7);
        }
        for (; i < m; i++) {
            __m512d c0 = z;
            const double *w = W + (size_t)i * k;
            for (int q = 0; q < k; q++)
                c0 = _mm512_fmadd_pd(_mm512_set1_pd(w[q]), _mm512_maskz_loadu_pd(mk, B + (size_t)q * n + j),
                                     c0);
            _mm512_mask_storeu_pd(C + (size_t)i * n + j, mk, c0);
        }
    }
#else
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double c = 0;
            for (int q = 0; q < k; q++)
                c = fma(W[(size_t)i * k + q], B[(size_t)q * n + j], c);
            C[(size_t)i * n + j] = c;
        }
#endif
}

/* One layer of the backward pass: W (m x k), Hin = dL/d(layer output) (m x n), PT = the layer input
 * transposed (n x k; NULL: the input is the identity, k = n, g = Hin).  Hout (k x n, may be NULL) =
 * W^T Hin with the W given; then g = Hin PT (m x k) is written to G, or, G NULL, W = fma(-lr, g, W).
 * Each row's g and update come after every use of that row in Hout: the AVX-512 path forms Hout for a
 * block of 16 rows (or for 8 rows in the last, shorter block) before it updates them. */
#ifdef __AVX512F__
/* Hout (k x n) += Wb^T Hb over a block of 16 rows, Wb = W's rows (row stride k) and Hb = Hin's (row
 * stride n): each Hout[q, j] gains the 16 rows in order (the block's Hin rows held in registers). */
static void fx_back_hout16(int k, int n, const double *w, const double *hb, double *Hout)
{
    for (int j = 0; j < n; j += 8) {
        __mmask8 mk = (__mmask8)(n - j >= 8 ? 0xFF : (1u << (n - j)) - 1);
        const double *h = hb + j;
        __m512d hh[16];
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++)
            hh[r] = _mm512_maskz_loadu_pd(mk, h + (size_t)r * n);
        for (int q = 0; q < k; q++) {
            double *o = Hout + (size_t)q * n + j;
            __m512d a = _mm512_maskz_loadu_pd(mk, o);
#pragma GCC unroll 16
            for (int r = 0; r < 16; r++)
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[(size_t)r * k + q]), hh[r], a);
            _mm512_mask_storeu_pd(o, mk, a);
        }
    }
}

/* The same for rb <= 8 rows (the last block of fewer than 16). */
static void fx_back_hout_rows(int rb, int k, int n, const double *w, const double *hb, double *Hout)
{
    for (int j = 0; j < n; j += 8) {
        __mmask8 mk = (__mmask8)(n - j >= 8 ? 0xFF : (1u << (n - j)) - 1);
        const double *h = hb + j;
        if (rb == 8) {
            __m512d h0 = _mm512_maskz_loadu_pd(mk, h), h1 = _mm512_maskz_loadu_pd(mk, h + n),
                    h2 = _mm512_maskz_loadu_pd(mk, h + 2 * (size_t)n),
                    h3 = _mm512_maskz_loadu_pd(mk, h + 3 * (size_t)n),
                    h4 = _mm512_maskz_loadu_pd(mk, h + 4 * (size_t)n),
                    h5 = _mm512_maskz_loadu_pd(mk, h + 5 * (size_t)n),
                    h6 = _mm512_maskz_loadu_pd(mk, h + 6 * (size_t)n),
                    h7 = _mm512_maskz_loadu_pd(mk, h + 7 * (size_t)n);
            for (int q = 0; q < k; q++) {
                double *o = Hout + (size_t)q * n + j;
                __m512d a = _mm512_maskz_loadu_pd(mk, o);
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[q]), h0, a);
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[(size_t)k + q]), h1, a);
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[2 * (size_t)k + q]), h2, a);
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[3 * (size_t)k + q]), h3, a);
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[4 * (size_t)k + q]), h4, a);
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[5 * (size_t)k + q]), h5, a);
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[6 * (size_t)k + q]), h6, a);
                a = _mm512_fmadd_pd(_mm512_set1_pd(w[7 * (size_t)k + q]), h7, a);
                _mm512_mask_storeu_pd(o, mk, a);
            }
        } else
            for (int q = 0; q < k; q++) {
                double *o = Hout + (size_t)q * n + j;
                __m512d a = _mm512_maskz_loadu_pd(mk, o);
                for (int r = 0; r < rb; r++)
                    a = _mm512_fmadd_pd(_mm512_set1_pd(w[(size_t)r * k + q]),
                                        _mm512_maskz_loadu_pd(mk, h + (size_t)r * n), a);
                _mm512_mask_storeu_pd(o, mk, a);
            }
    }
}

/* g and the update of the 8 rows i0..i0+7 when n = 8: 16 columns of PT in registers, shared by the 8
 * rows; g[i, q] over j = 0..7 in order. */
static void fx_back_g_n8(int k, int i0, double *W, const double *Hin, const double *PT, double lr, double *G)
{
    const __m512d z = _mm512_setzero_pd(), nlr = _mm512_set1_pd(-lr);
    for (int q = 0; q < k; q += 16) {
        int left = k - q;
        __mmask8 m0 = (__mmask8)(left >= 8 ? 0xFF : (1u << left) - 1),
                 m1 = (__mmask8)(left >= 16 ? 0xFF
                                 : left > 8 ? (1u << (left - 8)) - 1
                                            : 0);
        __m512d p0[8], p1[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            p0[j] = _mm512_maskz_loadu_pd(m0, PT + (size_t)j * k + q);
            p1[j] = _mm512_maskz_loadu_pd(m1, PT + (size_t)j * k + q + 8);
        }
        for (int r = 0; r < 8; r++) {
            const double *hr = Hin + (size_t)(i0 + r) * 8;
            __m512d g0 = z, g1 = z;
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                __m512d h = _mm512_set1_pd(hr[j]);
                g0 = _mm512_fmadd_pd(h, p0[j], g0);
                g1 = _mm512_fmadd_pd(h, p1[j], g1);
            }
            if (G) {
                double *o = G + (size_t)(i0 + r) * k + q;
                _mm512_mask_storeu_pd(o, m0, g0);
                _mm512_mask_storeu_pd(o + 8, m1, g1);
            } else {
                double *o = W + (size_t)(i0 + r) * k + q;
                _mm512_mask_storeu_pd(o, m0, _mm512_fmadd_pd(nlr, g0, _mm512_maskz_loadu_pd(m0, o)));
                _mm512_mask_storeu_pd(o + 8, m1, _mm512_fmadd_pd(nlr, g1, _mm512_maskz_loadu_pd(m1, o + 8)));
            }
        }
    }
}

/* g and the update of the rb rows i0..i0+rb-1, 4 chunks of 8 columns at a time; g[i, q] over j = 0..n-1
 * in order (PT NULL: g = Hin's row). */
static void fx_back_g_rows(int rb, int k, int n, int i0, double *W, const double *Hin, const double *PT,
                           double lr, double *G)
{
    const __m512d z = _mm512_setzero_pd(), nlr = _mm512_set1_pd(-lr);
    for (int r = 0; r < rb; r++) {
        double *wr = W + (size_t)(i0 + r) * k, *gr = G ? G + (size_t)(i0 + r) * k : NULL;
        const double *hr = Hin + (size_t)(i0 + r) * n;
        for (int q = 0; q < k; q += 32) {
            __mmask8 mk[4];
            for (int c = 0; c < 4; c++) {
                int left = k - q - 8 * c;
                mk[c] = (__mmask8)(left >= 8 ? 0xFF : left > 0 ? (1u << left) - 1 : 0);
            }
            __m512d g0, g1, g2, g3;
            if (PT) {
                g0 = g1 = g2 = g3 = z;
                for (int j = 0; j < n; j++) {
                    const double *pt = PT + (size_t)j * k + q;
                    __m512d h = _mm512_set1_pd(hr[j]);
                    g0 = _mm512_fmadd_pd(h, _mm512_maskz_loadu_pd(mk[0], pt), g0);
                    g1 = _mm512_fmadd_pd(h, _mm512_maskz_loadu_pd(mk[1], pt + 8), g1);
                    g2 = _mm512_fmadd_pd(h, _mm512_maskz_loadu_pd(mk[2], pt + 16), g2);
                    g3 = _mm512_fmadd_pd(h, _mm512_maskz_loadu_pd(mk[3], pt + 24), g3);
                }
            } else {
                g0 = _mm512_maskz_loadu_pd(mk[0], hr + q);
                g1 = _mm512_maskz_loadu_pd(mk[1], hr + q + 8);
                g2 = _mm512_maskz_loadu_pd(mk[2], hr + q + 16);
                g3 = _mm512_maskz_loadu_pd(mk[3], hr + q + 24);
            }
            if (gr) {
                _mm512_mask_storeu_pd(gr + q, mk[0], g0);
                _mm512_mask_storeu_pd(gr + q + 8, mk[1], g1);
                _mm512_mask_storeu_pd(gr + q + 16, mk[2], g2);
                _mm512_mask_storeu_pd(gr + q + 24, mk[3], g3);
            } else {
                double *o = wr + q;
                _mm512_mask_storeu_pd(o, mk[0], _mm512_fmadd_pd(nlr, g0, _mm512_maskz_loadu_pd(mk[0], o)));
                _mm512_mask_storeu_pd(o + 8, mk[1],
                                      _mm512_fmadd_pd(nlr, g1, _mm512_maskz_loadu_pd(mk[1], o + 8)));
                _mm512_mask_storeu_pd(o + 16, mk[2],
                                      _mm512_fmadd_pd(nlr, g2, _mm512_maskz_loadu_pd(mk[2], o + 16)));
                _mm512_mask_storeu_pd(o + 24, mk[3],
                                      _mm512_fmadd_pd(nlr, g3, _mm512_maskz_loadu_pd(mk[3], o + 24)));
            }
        }
    }
}

static void fx_back_avx512(int m, int k, int n, double *W, const double *Hin, const double *PT, double *Hout,
                           double lr, double *G)
{
    for (int b0 = 0; b0 < m; b0 += 16) { /* blocks of 16 rows: Hout (all 16 rows), then the update */
        int bb = m - b0 < 16 ? m - b0 : 16;
        if (Hout && bb == 16) fx_back_hout16(k, n, W + (size_t)b0 * k, Hin + (size_t)b0 * n, Hout);
        for (int i0 = b0; i0 < b0 + bb; i0 += 8) { /* rows of 8 */
            int rb = b0 + bb - i0 < 8 ? b0 + bb - i0 : 8;
            if (Hout && bb != 16) fx_back_hout_rows(rb, k, n, W + (size_t)i0 * k, Hin + (size_t)i0 * n, Hout);
            if (rb == 8 && n == 8 && PT)
                fx_back_g_n8(k, i0, W, Hin, PT, lr, G);
            else
                fx_back_g_rows(rb, k, n, i0, W, Hin, PT, lr, G);
        }
    }
}
#else
/* Row by row: the row's contribution to Hout, then its g and update. */
static void fx_back_portable(int m, int k, int n, double *W, const double *Hin, const double *PT,
                             double *Hout, double lr, double *G)
{
    for (int i = 0; i < m; i++) {
        double *wr = W + (size_t)i * k;
        const double *hr = Hin + (size_t)i * n;
        if (Hout)
            for (int q = 0; q < k; q++)
                for (int j = 0; j < n; j++)
                    Hout[(size_t)q * n + j] = fma(wr[q], hr[j], Hout[(size_t)q * n + j]);
        for (int q = 0; q < k; q++) {
            double g = 0;
            if (PT)
                for (int j = 0; j < n; j++)
                    g = fma(hr[j], PT[(size_t)j * k + q], g);
            else
                g = hr[q];
            if (G)
                G[(size_t)i * k + q] = g;
            else
                wr[q] = fma(-lr, g, wr[q]);
        }
    }
}
#endif

void dlnk_fx_back(int m, int k, int n, double *W, const double *Hin, const double *PT, double *Hout,
                  double lr, double *G)
{
    if (Hout) memset(Hout, 0, (size_t)k * n * sizeof *Hout);
#ifdef __AVX512F__
    fx_back_avx512(m, k, n, W, Hin, PT, Hout, lr, G);
#else
    fx_back_portable(m, k, n, W, Hin, PT, Hout, lr, G);
#endif
}
