/* cnn_layers.c - the layers of the float32 CNN, forward and backward on a batch (the network and its
 * passes: cnn.c; shared declarations: cnn_impl.h; layouts: include/cnn.h).  Each function computes part
 * t of T of its layer (images or channels), as cnn_pool_run calls it.
 *
 * Mathematics (per image, NCHW):
 *   convolution   y[o][p] = sum_{i,ky,kx} W[o][i][ky][kx] x[i][p*s + (ky,kx) - pad] (+ b[o]), computed
 *                 for a group of G images as Y (cout x G HWo) = W (cout x cin k k) . col (cin k k x G HWo)
 *                 with col = im2col(x) (a 1x1 stride-1 convolution uses x directly); backward
 *                 dW += dY col^T, dcol = W^T dY, dx += col2im(dcol).  These are the reference
 *                 kernels (n->reference); by default a 3x3 stride-1 layer computes dx as the
 *                 convolution of dY with the flipped kernel (no col2im), and with >= 16 channels in
 *                 and out its forward, dx and dW go through Winograd F(2x2, 3x3) (cnn_kernels.c).
 *                 Tests check every variant against the reference kernels.
 *   batch norm    xhat = (x - mu) / sqrt(var + eps), y = gamma xhat + beta over (batch, H, W) per channel;
 *                 dx = gamma/(N sigma) (N dy - sum dy - xhat sum dy xhat).
 *   ReLU, element-wise sum, global average pooling, linear y = x W^T + b.
 */
/* The kernels below are simple loops that need the vectoriser: gcc's -O2 cost model ("very cheap")
 * leaves loops with runtime aliasing checks scalar, which made batch norm and col2im several times
 * slower.  O3 here only; no fast-math (results stay IEEE and deterministic). */
#pragma GCC optimize("O3")
#include <cblas.h>
#include <math.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <string.h>

#include "cnn_impl.h"
#include "cnn_kernels.h"

#define BN_EPS      1e-5
#define BN_MOMENTUM 0.1

static void part(int total, int t, int T, int *a, int *b)
{
    *a = (int)((long)total * t / T);
    *b = (int)((long)total * (t + 1) / T);
}

static int wino_ok(const cnn *n, const cnn_layer *L, int Co, int Ci)
{
    const cnn_tensor *to = &n->t[L->out];
    return !n->reference && L->k == 3 && L->stride == 1 && Co >= WINO_MIN && Ci >= WINO_MIN && to->w <= 128;
}

/* C (M x N) = A (M x K) B (K x N) + beta C: cnn_kernels.c's AVX-512 product unless the reference
 * kernels are asked for (or the compiler does not target AVX-512) */
static void gemm_nn(const cnn *n, int M, int N, int K, const float *A, long lda, const float *B, long ldb,
                    float beta, float *C, long ldc)
{
#ifdef CNNK_SGEMM
    if (!n->reference) {
        cnnk_sgemm_nn(M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, (int)lda, B, (int)ldb, beta, C,
                (int)ldc);
}

/* C (M x K) = A (M x N) B^T + C, B (K x N): the weight gradient of an im2col convolution.  The AVX-512
 * dot-product kernel wins over OpenBLAS's packed product only for short rows of C (K <= 96: the stems
 * and the split network's first stages; measured), so longer ones stay with OpenBLAS. */
static void gemm_nt_acc(const cnn *n, int M, int K, int N, const float *A, long lda, const float *B, long ldb,
                        float *C, long ldc)
{
#ifdef CNNK_SGEMM
    if (!n->reference && K <= 96) {
        cnnk_sgemm_nt(M, K, N, A, lda, B, ldb, 1.0f, C, ldc);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, A, (int)lda, B, (int)ldb, 1.0f, C,
                (int)ldc);
}

/* Wt (rows x cols) -> Wtr (cols x rows) */
static void transpose(const float *W, int rows, int cols, float *Wtr)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            Wtr[(long)c * rows + r] = W[(long)r * cols + c];
}

void cnnl_conv_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    int nb = n->nb, hwi = ti->h * ti->w, hwo = to->h * to->w, K = L->cin * L->k * L->k;
    long csi = (long)nb * hwi, cso = (long)nb * hwo;
    const float *Wt = n->param + L->p0;
    float *col = n->col + (size_t)t * 2 * n->col_size;
    int direct = L->k == 1 && L->stride == 1, G = cnnk_chunk_images(hwo), a, b;
    int wino = wino_ok(n, L, L->cout, L->cin);
    float *U = n->wf + (size_t)t * n->wf_size;
    if (wino) cnnk_wino_weights(Wt, L->cout, L->cin, 0, U);
    part(nb, t, T, &a, &b);
    for (int g0 = a; g0 < b; g0 += G) {
        int gn = b - g0 < G ? b - g0 : G;
        const float *x = ti->x + L->in_c0 * csi + (long)g0 * hwi;
        float *y = to->x + L->out_c0 * cso + (long)g0 * hwo;
        if (wino) {
            cnnk_wino_conv(x, csi, U, L->cout, L->cin, gn, to->h, to->w, col, col + n->col_size, y, cso);
            continue;
        }
        const float *src = x;
        long ld = csi;
        if (!direct) {
            cnnk_im2col(x, csi, gn, L->cin, ti->h, ti->w, L->k, L->stride, to->h, to->w, col, !n->reference);
            src = col, ld = (long)gn * hwo;
        }
        gemm_nn(n, L->cout, gn * hwo, K, Wt, K, src, ld, 0.0f, y, cso);
    }
}

void cnnl_conv_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    int nb = n->nb, hwi = ti->h * ti->w, hwo = to->h * to->w, K = L->cin * L->k * L->k;
    long csi = (long)nb * hwi, cso = (long)nb * hwo;
    const float *Wt = n->param + L->p0;
    float *dW = n->tgrad + (size_t)t * n->n_param + L->p0;
    float *col = n->col + (size_t)t * 2 * n->col_size, *dcol = col + n->col_size;
    int direct = L->k == 1 && L->stride == 1, G = cnnk_chunk_images(hwo), a, b;
    /* 3x3 stride 1: dx is the convolution of dY with the flipped, transposed kernel,
     * dx (cin x N) = Wf (cin x cout 9) . im2col(dY), Wf[ci][co][ky][kx] = W[co][ci][2-ky][2-kx]:
     * no col2im, and the product writes cin rows instead of cin 9 */
    int flip = L->k == 3 && L->stride == 1 && ti->g && !n->reference;
    int wino = flip && wino_ok(n, L, L->cin, L->cout);
    float *Wf = n->wf + (size_t)t * 2 * n->wf_size, *dU = Wf + n->wf_size;
    /* Winograd weight gradient: dU[xi] += dM[xi] V[xi]^T over the chunks, dW += G^T dU G at the end */
    int wgrad = n->mode == CNN_TRAIN && wino_ok(n, L, L->cout, L->cin); /* no dW in cnn_backward_input */
    if (wgrad) memset(dU, 0, 16 * sizeof(float) * L->cout * L->cin);
    if (wino)
        cnnk_wino_weights(Wt, L->cin, L->cout, 1, Wf);
    else if (flip)
        for (int co = 0; co < L->cout; co++)
            for (int ci = 0; ci < L->cin; ci++)
                for (int j = 0; j < 9; j++)
                    Wf[((long)ci * L->cout + co) * 9 + j] = Wt[((long)co * L->cin + ci) * 9 + 8 - j];
    /* dx = W^T dY (1x1, or im2col + col2im): W transposed once (K x cout) into the Wf scratch (K cout
     * <= 9 cin cout < wf_size) so that the products are all of the nn form */
    float *Wtr = Wf;
    if (ti->g && !flip) transpose(Wt, L->cout, K, Wtr);
    part(nb, t, T, &a, &b);
    for (int g0 = a; g0 < b; g0 += G) {
        int gn = b - g0 < G ? b - g0 : G, N = gn * hwo;
        const float *x = ti->x + L->in_c0 * csi + (long)g0 * hwi;
        const float *dy = to->g + L->out_c0 * cso + (long)g0 * hwo;
        const float *src = x;
        long ld = csi;
        if (wgrad) {
            long P = (long)gn * ((to->h + 1) / 2) * ((to->w + 1) / 2), OI = (long)L->cout * L->cin;
            cnnk_wino_input(x, csi, gn, L->cin, ti->h, ti->w, col);
            cnnk_wino_dy(dy, cso, gn, L->cout, to->h, to->w, dcol);
            for (int xi = 0; xi < 16; xi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L->cout, L->cin, (int)P, 1.0f,
                            dcol + xi * L->cout * P, (int)P, col + xi * L->cin * P, (int)P, 1.0f,
                            dU + xi * OI, L->cin);
        } else if (n->mode == CNN_TRAIN) {
            if (!direct) {
                cnnk_im2col(x, csi, gn, L->cin, ti->h, ti->w, L->k, L->stride, to->h, to->w, col,
                            !n->reference);
                src = col, ld = N;
            }
            gemm_nt_acc(n, L->cout, K, N, dy, cso, src, ld, dW, K);
        }
        if (!ti->g) continue;
        float *dx = ti->g + L->in_c0 * csi + (long)g0 * hwi;
        if (direct)
            gemm_nn(n, L->cin, N, L->cout, Wtr, L->cout, dy, cso, 0.0f, dx, csi);
        else if (wino)
            cnnk_wino_conv(dy, cso, Wf, L->cin, L->cout, gn, to->h, to->w, dcol, col, dx, csi);
        else if (flip) {
            cnnk_im2col_3x3s1(dy, cso, gn, L->cout, to->h, to->w, dcol);
            gemm_nn(n, L->cin, N, 9 * L->cout, Wf, 9 * L->cout, dcol, N, 0.0f, dx, csi);
        } else {
            for (int ci = 0; ci < L->cin; ci++)
                memset(dx + ci * csi, 0, (size_t)gn * hwi * sizeof(float));
            gemm_nn(n, K, N, L->cout, Wtr, L->cout, dy, cso, 0.0f, dcol, N);
            cnnk_col2im_add(dcol, csi, gn, L->cin, ti->h, ti->w, L->k, L->stride, to->h, to->w, dx);
        }
    }
    if (wgrad) cnnk_wino_wgrad(dU, L->cout, L->cin, dW);
}

/* ---- batch norm (threads over channels) ------------------------------------------------------------ */

/* Sums in 16 independent float lanes (vectorised without reassociation, deterministic), lanes
 * added in double. */
static void sum_shift(const float *x, long N, float x0, double *s, double *s2)
{
    float a[16] = {0}, b[16] = {0};
    long i = 0;
    for (; i + 16 <= N; i += 16)
        for (int j = 0; j < 16; j++) {
            float d = x[i + j] - x0;
            a[j] += d, b[j] += d * d;
        }
    double sa = 0, sb = 0;
    for (; i < N; i++) {
        double d = x[i] - x0;
        sa += d, sb += d * d;
    }
    for (int j = 0; j < 16; j++)
        sa += a[j], sb += b[j];
    *s = sa, *s2 = sb;
}

static void sum_dy(const float *dy, const float *y, const float *x, long N, float m, double *s, double *sx)
{
    float a[16] = {0}, b[16] = {0};
    long i = 0;
    if (y) {
#ifdef __AVX512F__ /* gcc 12 leaves the masked form scalar; the same lanes, the same operations */
        __m512 va = _mm512_setzero_ps(), vb = va, vm = _mm512_set1_ps(m);
        for (; i + 16 <= N; i += 16) {
            __mmask16 k = _mm512_cmp_ps_mask(_mm512_loadu_ps(y + i), _mm512_setzero_ps(), _CMP_GT_OQ);
            __m512 d = _mm512_maskz_mov_ps(k, _mm512_loadu_ps(dy + i));
            va = _mm512_add_ps(va, d);
            vb = _mm512_add_ps(vb, _mm512_mul_ps(d, _mm512_sub_ps(_mm512_loadu_ps(x + i), vm)));
        }
        _mm512_storeu_ps(a, va), _mm512_storeu_ps(b, vb);
#else
        for (; i + 16 <= N; i += 16)
            for (int j = 0; j < 16; j++) {
                float d = y[i + j] > 0 ? dy[i + j] : 0.0f;
                a[j] += d, b[j] += d * (x[i + j] - m);
            }
#endif
    } else
        for (; i + 16 <= N; i += 16)
            for (int j = 0; j < 16; j++)
                a[j] += dy[i + j], b[j] += dy[i + j] * (x[i + j] - m);
    double sa = 0, sb = 0;
    for (; i < N; i++) {
        float d = !y || y[i] > 0 ? dy[i] : 0.0f;
        sa += d, sb += (double)d * (x[i] - m);
    }
    for (int j = 0; j < 16; j++)
        sa += a[j], sb += b[j];
    *s = sa, *sx = sb;
}

void cnnl_bn_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    int C = L->cout, nb = n->nb;
    long N = (long)nb * ti->h * ti->w;
    const float *gamma = n->param + L->p0, *beta = gamma + C;
    float *rmean = n->bn_state + L->s0, *rvar = rmean + C;
    int a, b;
    part(C, t, T, &a, &b);
    for (int c = a; c < b; c++) {
        const float *x = ti->x + (L->in_c0 + c) * N;
        float *y = to->x + (L->out_c0 + c) * N;
        double mean, var;
        if (n->mode == CNN_EVAL) {
            mean = rmean[c], var = rvar[c];
        } else {
            /* one pass, shifted by the first value against cancellation */
            double s, s2;
            float x0 = x[0];
            sum_shift(x, N, x0, &s, &s2);
            mean = x0 + s / N;
            s2 = s2 - s * s / N;
            if (s2 < 0) s2 = 0;
            var = s2 / N;
            double unb = N > 1 ? var * N / (N - 1) : var;
            if (n->mode == CNN_TRAIN) {
                rmean[c] = (float)((1 - BN_MOMENTUM) * rmean[c] + BN_MOMENTUM * mean);
                rvar[c] = (float)((1 - BN_MOMENTUM) * rvar[c] + BN_MOMENTUM * unb);
            } else {
                double k = *n->bn_count;
                rmean[c] = (float)((rmean[c] * k + mean) / (k + 1));
                rvar[c] = (float)((rvar[c] * k + unb) / (k + 1));
            }
        }
        float istd = (float)(1 / sqrt(var + BN_EPS)), m = (float)mean;
        L->save[c] = m, L->save[C + c] = istd;
        float sc = gamma[c] * istd, sh = beta[c] - m * sc;
        if (L->relu)
            for (long i = 0; i < N; i++) {
                float v = x[i] * sc + sh;
                y[i] = v > 0 ? v : 0.0f;
            }
        else
            for (long i = 0; i < N; i++)
                y[i] = x[i] * sc + sh;
    }
}

void cnnl_bn_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    int C = L->cout, nb = n->nb;
    long N = (long)nb * ti->h * ti->w;
    const float *gamma = n->param + L->p0;
    float *dg = n->tgrad + L->p0, *dbeta = dg + C; /* thread 0's accumulator; channels are disjoint */
    int a, b;
    part(C, t, T, &a, &b);
    if (n->mode == CNN_EVAL) { /* cnn_backward_input: y = gamma istd (x - mean) + beta is affine */
        for (int c = a; c < b; c++) {
            const float *dy = to->g + (L->out_c0 + c) * N, *y = to->x + (L->out_c0 + c) * N;
            float *restrict dx = ti->g + (L->in_c0 + c) * N, k1 = gamma[c] * L->save[C + c];
            for (long i = 0; i < N; i++)
                dx[i] = !L->relu || y[i] > 0 ? k1 * dy[i] : 0.0f;
        }
        return;
    }
    for (int c = a; c < b; c++) {
        const float *x = ti->x + (L->in_c0 + c) * N;
        const float *dy = to->g + (L->out_c0 + c) * N;
        /* the fused ReLU's gradient, dy [y > 0], is applied on the fly (y = NULL: no ReLU) */
        const float *y = L->relu ? to->x + (L->out_c0 + c) * N : NULL;
        float m = L->save[c], istd = L->save[C + c];
        double sdy, sdyx;
        sum_dy(dy, y, x, N, m, &sdy, &sdyx);
        sdyx *= istd; /* sum dy * xhat */
        dg[c] += (float)sdyx;
        dbeta[c] += (float)sdy;
        if (!ti->g) continue;
        float *restrict dx = ti->g + (L->in_c0 + c) * N;
        float k1 = gamma[c] * istd, k2 = (float)(sdy / N), k3 = (float)(sdyx / N) * istd;
        if (y)
            for (long i = 0; i < N; i++)
                dx[i] = k1 * ((y[i] > 0 ? dy[i] : 0.0f) - k2 - (x[i] - m) * k3);
        else
            for (long i = 0; i < N; i++)
                dx[i] = k1 * (dy[i] - k2 - (x[i] - m) * k3);
    }
}

/* ---- element-wise, pooling, linear ---------------------------------------------------------------- */

void cnnl_relu_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    long cs = (long)n->nb * ti->h * ti->w, tot = cs * L->cout;
    const float *x = ti->x + L->in_c0 * cs;
    float *y = to->x + L->out_c0 * cs;
    long a = tot * t / T, b = tot * (t + 1) / T;
    for (long i = a; i < b; i++)
        y[i] = x[i] > 0 ? x[i] : 0.0f;
}

void cnnl_relu_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    long cs = (long)n->nb * ti->h * ti->w, tot = cs * L->cout;
    const float *y = to->x + L->out_c0 * cs, *dy = to->g + L->out_c0 * cs;
    float *dx = ti->g + L->in_c0 * cs;
    long a = tot * t / T, b = tot * (t + 1) / T;
    for (long i = a; i < b; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0.0f;
}

void cnnl_add_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *a = &n->t[L->in], *b = &n->t[L->in2];
    cnn_tensor *o = &n->t[L->out];
    long sz = (long)n->nb * o->c * o->h * o->w, i0 = sz * t / T, i1 = sz * (t + 1) / T;
    for (long i = i0; i < i1; i++)
        o->x[i] = a->x[i] + b->x[i];
}

void cnnl_add_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    cnn_tensor *a = &n->t[L->in], *b = &n->t[L->in2];
    const cnn_tensor *o = &n->t[L->out];
    long sz = (long)n->nb * o->c * o->h * o->w, i0 = sz * t / T, i1 = sz * (t + 1) / T;
    memcpy(a->g + i0, o->g + i0, (i1 - i0) * sizeof(float));
    memcpy(b->g + i0, o->g + i0, (i1 - i0) * sizeof(float));
}

void cnnl_gap_fwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    int hw = ti->h * ti->w, c0, c1;
    long cs = (long)n->nb * hw;
    part(L->cout, t, T, &c0, &c1);
    for (int c = c0; c < c1; c++)
        for (int img = 0; img < n->nb; img++) {
            const float *x = ti->x + (L->in_c0 + c) * cs + (long)img * hw;
            float s = 0;
            for (int i = 0; i < hw; i++)
                s += x[i];
            to->x[(size_t)img * to->c + L->out_c0 + c] = s / hw;
        }
}

void cnnl_gap_bwd(cnn *n, const cnn_layer *L, int t, int T)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    int hw = ti->h * ti->w, c0, c1;
    long cs = (long)n->nb * hw;
    part(L->cout, t, T, &c0, &c1);
    for (int c = c0; c < c1; c++)
        for (int img = 0; img < n->nb; img++) {
            float *dx = ti->g + (L->in_c0 + c) * cs + (long)img * hw;
            float d = to->g[(size_t)img * to->c + L->out_c0 + c] / hw;
            for (int i = 0; i < hw; i++)
                dx[i] = d;
        }
}

void cnnl_linear_fwd(cnn *n, const cnn_layer *L)
{
    const cnn_tensor *ti = &n->t[L->in];
    cnn_tensor *to = &n->t[L->out];
    const float *Wt = n->param + L->p0, *bias = Wt + (long)L->cin * L->cout;
    for (int img = 0; img < n->nb; img++)
        memcpy(to->x + (size_t)img * L->cout, bias, L->cout * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n->nb, L->cout, L->cin, 1.0f, ti->x, ti->c, Wt,
                L->cin, 1.0f, to->x, L->cout);
}

void cnnl_linear_bwd(cnn *n, const cnn_layer *L)
{
    const cnn_tensor *ti = &n->t[L->in];
    const cnn_tensor *to = &n->t[L->out];
    const float *Wt = n->param + L->p0;
    float *dW = n->tgrad + L->p0, *db = dW + (long)L->cin * L->cout;
    if (n->mode == CNN_TRAIN) { /* no dW in cnn_backward_input */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->cout, L->cin, n->nb, 1.0f, to->g, L->cout,
                    ti->x, ti->c, 1.0f, dW, L->cin);
        for (int img = 0; img < n->nb; img++)
            for (int o = 0; o < L->cout; o++)
                db[o] += to->g[(size_t)img * L->cout + o];
    }
    if (ti->g)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n->nb, L->cin, L->cout, 1.0f, to->g, L->cout,
                    Wt, L->cin, 0.0f, ti->g, ti->c);
}
