/* cnn_kernels.c - convolution kernels of the CNN: im2col / col2im (portable loops and AVX-512
 * variants for the common 3x3 cases) and Winograd F(2x2, 3x3) transforms.  Kept apart from cnn.c
 * (network, passes, training step) and cnn_layers.c (the layers that call these kernels) so that kernel
 * work does not touch the network code.
 * Layouts and the role of each function: include/cnn_kernels.h.  Every fast variant is checked by
 * tests/test_cnn.c against the reference im2col + sgemm path.
 */
/* Simple loops that need the vectoriser (see cnn_layers.c): O3 here only, no fast-math. */
#pragma GCC optimize("O3")
#include "cnn_kernels.h"

#include <cblas.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <string.h>

/* ---- layout --------------------------------------------------------------------------------------
 * Inside a pass, tensors with spatial extent are stored channel-major, (C x nb x H x W): channel c of
 * the batch is one contiguous block of nb*H*W floats, so that a convolution over a group of images is
 * one sgemm and batch norm reads contiguous memory.  Tensors with H = W = 1 (pooled features, logits)
 * are (nb x C).  The input arrives as (nb x C x H x W) and is transposed once.
 */

int cnnk_chunk_images(int hwo)
{
    return hwo >= CHUNK_N ? 1 : CHUNK_N / hwo;
}

/* im2col for 3x3 stride 1 (ho = h, wo = w): each (channel, ky, kx) row of an image is the plane
 * shifted by (ky-1, kx-1): one block copy of the valid rows, then the padding zeros. */
void cnnk_im2col_3x3s1(const float *x, long cs, int gn, int c, int h, int w, float *col)
{
    int hw = h * w;
    long N = (long)gn * hw;
    for (int ci = 0; ci < c; ci++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                float *row = col + ((long)(ci * 3 + ky) * 3 + kx) * N;
                int oy0 = ky == 0 ? 1 : 0, oy1 = ky == 2 ? h - 1 : h; /* output rows with a valid input row */
                for (int g = 0; g < gn; g++) {
                    float *r = row + (long)g * hw;
                    const float *src = x + ci * cs + (long)g * hw + (long)(oy0 + ky - 1) * w;
                    float *dst = r + (long)oy0 * w;
                    long len = (long)(oy1 - oy0) * w;
                    if (oy0 > 0) memset(r, 0, w * sizeof(float));
                    if (oy1 < h) memset(r + (long)oy1 * w, 0, w * sizeof(float));
                    if (len <= 0) continue;
                    if (kx == 1)
                        memcpy(dst, src, len * sizeof(float));
                    else if (kx == 0) { /* ix = ox - 1: column 0 is padding */
                        memcpy(dst + 1, src, (len - 1) * sizeof(float));
                        for (int oy = oy0; oy < oy1; oy++)
                            r[(long)oy * w] = 0;
                    } else { /* ix = ox + 1: column w-1 is padding */
                        memcpy(dst, src + 1, (len - 1) * sizeof(float));
                        for (int oy = oy0; oy < oy1; oy++)
                            r[(long)oy * w + w - 1] = 0;
                    }
                }
            }
}

#ifdef __AVX512F__
/* im2col_3x3s2 for input rows up to 30 wide: each input row is loaded once (two registers, padded by
 * the zero column ix = -1) and split into the three kx rows with even/odd permutes. */
static void im2col_3x3s2_avx512(const float *x, long cs, int gn, int c, int h, int w, int ho, int wo,
                                float *col)
{
    int hw = h * w, hwo = ho * wo;
    long N = (long)gn * hwo;
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i ie1 = _mm512_setr_epi32(2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 0);
    __mmask16 mlo = (__mmask16)(((1u << (w < 15 ? w : 15)) - 1) << 1);
    __mmask16 mhi = (__mmask16)(w > 15 ? (1u << (w - 15)) - 1 : 0);
    __mmask16 mst = (__mmask16)((1u << wo) - 1);
    for (int ci = 0; ci < c; ci++)
        for (int ky = 0; ky < 3; ky++) {
            float *r0 = col + (long)((ci * 3 + ky) * 3) * N, *r1 = r0 + N, *r2 = r1 + N;
            for (int g = 0; g < gn; g++) {
                const float *xc = x + ci * cs + (long)g * hw;
                for (int oy = 0; oy < ho; oy++) {
                    long o = (long)g * hwo + (long)oy * wo;
                    int iy = 2 * oy + ky - 1;
                    __m512 lo = _mm512_setzero_ps(), hi = lo;
                    if (iy >= 0 && iy < h) {
                        lo =
                            _mm512_maskz_loadu_ps(mlo, xc + (long)iy * w - 1); /* masked lanes do not fault */
                        hi = _mm512_maskz_loadu_ps(mhi, xc + (long)iy * w + 15);
                    }
                    _mm512_mask_storeu_ps(r0 + o, mst,
                                          _mm512_permutex2var_ps(lo, ie, hi)); /* ix = 2 ox - 1 */
                    _mm512_mask_storeu_ps(r1 + o, mst, _mm512_permutex2var_ps(lo, io, hi)); /* ix = 2 ox */
                    _mm512_mask_storeu_ps(r2 + o, mst,
                                          _mm512_permutex2var_ps(lo, ie1, hi)); /* ix = 2 ox + 1 */
                }
            }
        }
}
#endif

/* im2col for 3x3 stride 2 (pad 1): iy = 2 oy + ky - 1, ix = 2 ox + kx - 1. */
static void im2col_3x3s2(const float *x, long cs, int gn, int c, int h, int w, int ho, int wo, float *col,
                         int fast)
{
#ifdef __AVX512F__
    if (fast && w <= 30 && wo <= 16) {
        im2col_3x3s2_avx512(x, cs, gn, c, h, w, ho, wo, col);
        return;
    }
#endif
    int hw = h * w, hwo = ho * wo;
    long N = (long)gn * hwo;
    for (int ci = 0; ci < c; ci++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                float *row = col + ((long)(ci * 3 + ky) * 3 + kx) * N;
                for (int g = 0; g < gn; g++) {
                    const float *xc = x + ci * cs + (long)g * hw;
                    for (int oy = 0; oy < ho; oy++) {
                        float *restrict r = row + (long)g * hwo + (long)oy * wo;
                        int iy = 2 * oy + ky - 1;
                        if (iy < 0 || iy >= h) {
                            memset(r, 0, wo * sizeof(float));
                            continue;
                        }
                        const float *restrict xr = xc + (long)iy * w;
                        if (kx == 1)
                            for (int ox = 0; ox < wo; ox++)
                                r[ox] = xr[2 * ox];
                        else if (kx == 0) {
                            r[0] = 0;
                            for (int ox = 1; ox < wo; ox++)
                                r[ox] = xr[2 * ox - 1];
                        } else {
                            int last = w / 2; /* number of ox with 2 ox + 1 <= w - 1 */
                            if (last > wo) last = wo;
                            for (int ox = 0; ox < last; ox++)
                                r[ox] = xr[2 * ox + 1];
                            for (int ox = last; ox < wo; ox++)
                                r[ox] = 0;
                        }
                    }
                }
            }
}

/* col2im for 3x3 stride 2 as a gather over input rows: even ix = 2j gets kx = 1 at ox = j; odd
 * ix = 2j + 1 gets kx = 2 at ox = j and kx = 0 at ox = j + 1. */
static void col2im_3x3s2(const float *col, long cs, int gn, int c, int h, int w, int ho, int wo, float *x)
{
    int hw = h * w, hwo = ho * wo;
    long N = (long)gn * hwo;
    for (int ci = 0; ci < c; ci++)
        for (int g = 0; g < gn; g++)
            for (int iy = 0; iy < h; iy++) {
                float *restrict xr = x + ci * cs + (long)g * hw + (long)iy * w;
                for (int ky = 0; ky < 3; ky++) {
                    int t = iy - ky + 1;
                    if (t < 0 || (t & 1) || t / 2 >= ho) continue;
                    int oy = t / 2;
                    const float *r0 = col + (long)((ci * 3 + ky) * 3) * N + (long)g * hwo + (long)oy * wo;
                    const float *r1 = r0 + N, *r2 = r1 + N;
                    for (int j = 0; 2 * j < w && j < wo; j++)
                        xr[2 * j] += r1[j];
                    for (int j = 0; 2 * j + 1 < w && j < wo; j++)
                        xr[2 * j + 1] += r2[j] + (j + 1 < wo ? r0[j + 1] : 0.0f);
                }
            }
}

/* im2col of gn images: image g's plane of channel ci at x + ci*cs + g*hw; col is (c k k x gn*ho*wo).
 * fast = 0 keeps to the portable loops (the reference kernels). */
void cnnk_im2col(const float *x, long cs, int gn, int c, int h, int w, int k, int s, int ho, int wo,
                 float *col, int fast)
{
    if (k == 3 && s == 1) {
        cnnk_im2col_3x3s1(x, cs, gn, c, h, w, col);
        return;
    }
    if (k == 3 && s == 2) {
        im2col_3x3s2(x, cs, gn, c, h, w, ho, wo, col, fast);
        return;
    }
    int pad = (k - 1) / 2, hw = h * w;
    long N = (long)gn * ho * wo;
    for (int ci = 0; ci < c; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((long)(ci * k + ky) * k + kx) * N;
                for (int g = 0; g < gn; g++) {
                    const float *xc = x + ci * cs + (long)g * hw;
                    float *rg = row + (long)g * ho * wo;
                    for (int oy = 0; oy < ho; oy++) {
                        int iy = oy * s + ky - pad;
                        float *r = rg + oy * wo;
                        if (iy < 0 || iy >= h) {
                            memset(r, 0, wo * sizeof(float));
                            continue;
                        }
                        const float *xr = xc + (long)iy * w;
                        if (s == 1) {
                            int ox0 = pad - kx > 0 ? pad - kx : 0,
                                ox1 = w + pad - kx < wo ? w + pad - kx : wo;
                            for (int ox = 0; ox < ox0; ox++)
                                r[ox] = 0;
                            memcpy(r + ox0, xr + ox0 + kx - pad, (ox1 - ox0) * sizeof(float));
                            for (int ox = ox1; ox < wo; ox++)
                                r[ox] = 0;
                        } else
                            for (int ox = 0; ox < wo; ox++) {
                                int ix = ox * s + kx - pad;
                                r[ox] = (ix >= 0 && ix < w) ? xr[ix] : 0.0f;
                            }
                    }
                }
            }
}

/* col2im for 3x3 stride 1 (ho = h, wo = w) as a gather: each input row receives its three kernel
 * rows' contributions in one pass per ky (x[iy][ix] += sum_kx col[ky][kx][iy-ky+1][ix-kx+1]). */
static void col2im_3x3s1(const float *col, long cs, int gn, int c, int h, int w, float *x)
{
    int hw = h * w;
    long N = (long)gn * hw;
    for (int ci = 0; ci < c; ci++)
        for (int g = 0; g < gn; g++)
            for (int iy = 0; iy < h; iy++) {
                float *restrict xr = x + ci * cs + (long)g * hw + (long)iy * w;
                for (int ky = 0; ky < 3; ky++) {
                    int oy = iy - ky + 1;
                    if (oy < 0 || oy >= h) continue;
                    const float *r0 = col + (long)((ci * 3 + ky) * 3) * N + (long)g * hw + (long)oy * w;
                    const float *r1 = r0 + N, *r2 = r1 + N;
                    if (w == 1) {
                        xr[0] += r1[0];
                        continue;
                    }
                    xr[0] += r1[0] + r0[1];
                    for (int ix = 1; ix < w - 1; ix++)
                        xr[ix] += r0[ix + 1] + r1[ix] + r2[ix - 1];
                    xr[w - 1] += r1[w - 1] + r2[w - 2];
                }
            }
}

void cnnk_col2im_add(const float *col, long cs, int gn, int c, int h, int w, int k, int s, int ho, int wo,
                     float *x)
{
    if (k == 3 && s == 1) {
        col2im_3x3s1(col, cs, gn, c, h, w, x);
        return;
    }
    if (k == 3 && s == 2) {
        col2im_3x3s2(col, cs, gn, c, h, w, ho, wo, x);
        return;
    }
    int pad = (k - 1) / 2, hw = h * w;
    long N = (long)gn * ho * wo;
    for (int ci = 0; ci < c; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((long)(ci * k + ky) * k + kx) * N;
                for (int g = 0; g < gn; g++) {
                    float *xc = x + ci * cs + (long)g * hw;
                    const float *rg = row + (long)g * ho * wo;
                    for (int oy = 0; oy < ho; oy++) {
                        int iy = oy * s + ky - pad;
                        if (iy < 0 || iy >= h) continue;
                        const float *r = rg + oy * wo;
                        float *xr = xc + (long)iy * w;
                        if (s == 1) {
                            int ox0 = pad - kx > 0 ? pad - kx : 0,
                                ox1 = w + pad - kx < wo ? w + pad - kx : wo;
                            float *xo = xr + kx - pad;
                            for (int ox = ox0; ox < ox1; ox++)
                                xo[ox] += r[ox];
                        } else
                            for (int ox = 0; ox < wo; ox++) {
                                int ix = ox * s + kx - pad;
                                if (ix >= 0 && ix < w) xr[ix] += r[ox];
                            }
                    }
                }
            }
}

/* ---- Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions ----------------------------------------------
 * (Lavin & Gray 2016.)  The output is cut into 2x2 tiles, each computed from a 4x4 input patch
 * d (rows 2ty-1 .. 2ty+2, zero outside) as  Y = A^T [ (G g G^T) . (B^T d B) ] A  per (output,
 * input) channel pair, summed over input channels: for each of the 16 transform positions xi one
 * product  M[xi] (O x P) = U[xi] (O x I) . V[xi] (I x P)  over the P tiles of a group of images:
 * 16 multiplies per tile (4 outputs) instead of 36.  The transforms use only +-1 and 1/2, so the
 * rounding is of the order of the direct method's.  Used for the forward pass and, with the
 * flipped kernel, for the backward data pass; the weight gradient stays im2col + sgemm.
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1]. */

/* U[xi][o][i] = (G g G^T)[xi] of kernel g(o, i); flip: g(o, i) = W[i][o][2-ky][2-kx] (the backward data
 * pass, Co = cin, Ci = cout of the layer); else g(o, i) = W[o][i]. */
void cnnk_wino_weights(const float *W, int Co, int Ci, int flip, float *U)
{
    long CoCi = (long)Co * Ci;
    for (int o = 0; o < Co; o++)
        for (int i = 0; i < Ci; i++) {
            float g[9], a[4][3];
            const float *k = flip ? W + ((long)i * Co + o) * 9 : W + ((long)o * Ci + i) * 9;
            for (int j = 0; j < 9; j++)
                g[j] = flip ? k[8 - j] : k[j];
            for (int c = 0; c < 3; c++) {
                a[0][c] = g[c];
                a[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
                a[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
                a[3][c] = g[6 + c];
            }
            float *u = U + (long)o * Ci + i;
            for (int r = 0; r < 4; r++) {
                u[(r * 4 + 0) * CoCi] = a[r][0];
                u[(r * 4 + 1) * CoCi] = 0.5f * (a[r][0] + a[r][1] + a[r][2]);
                u[(r * 4 + 2) * CoCi] = 0.5f * (a[r][0] - a[r][1] + a[r][2]);
                u[(r * 4 + 3) * CoCi] = a[r][2];
            }
        }
}

#ifdef __AVX512F__
/* wino_input for planes up to 30 wide: one tile row at a time, a padded input row (w + 2 <= 32
 * values) in two registers; the rows are combined first (B^T d), then each combined row is split
 * into its even and odd columns, whose one-lane shifts give the four columns of every tile at once
 * ((B^T d) B).  The same operations in the same order as the portable loop below. */
static void wino_input_avx512(const float *x, long cs, int gn, int C, int h, int w, float *V)
{
    int th = (h + 1) / 2, tw = (w + 1) / 2, tt = th * tw;
    long P = (long)gn * tt, CP = (long)C * P;
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i ie1 = _mm512_setr_epi32(2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 0);
    const __m512i io1 = _mm512_setr_epi32(3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 0);
    /* padded row j = 0 .. 31: j = 0 is ix = -1 (zero), j = 1 .. w the row; lanes of the two loads */
    __mmask16 mlo = (__mmask16)(((1u << (w < 15 ? w : 15)) - 1) << 1);
    __mmask16 mhi = (__mmask16)(w > 15 ? (1u << (w - 15)) - 1 : 0);
    __mmask16 mst = (__mmask16)((1u << tw) - 1);
    for (int c = 0; c < C; c++)
        for (int g = 0; g < gn; g++) {
            const float *xc = x + c * cs + (long)g * h * w;
            for (int ty = 0; ty < th; ty++) {
                __m512 lo[4], hi[4];
                for (int r = 0; r < 4; r++) {
                    int iy = 2 * ty - 1 + r;
                    if (iy < 0 || iy >= h) {
                        lo[r] = hi[r] = _mm512_setzero_ps();
                        continue;
                    }
                    const float *xr = xc + (long)iy * w;
                    lo[r] = _mm512_maskz_loadu_ps(mlo, xr - 1); /* masked lanes do not fault */
                    hi[r] = _mm512_maskz_loadu_ps(mhi, xr + 15);
                }
                __m512 tl[4], thh[4];
                tl[0] = _mm512_sub_ps(lo[0], lo[2]), thh[0] = _mm512_sub_ps(hi[0], hi[2]);
                tl[1] = _mm512_add_ps(lo[1], lo[2]), thh[1] = _mm512_add_ps(hi[1], hi[2]);
                tl[2] = _mm512_sub_ps(lo[2], lo[1]), thh[2] = _mm512_sub_ps(hi[2], hi[1]);
                tl[3] = _mm512_sub_ps(lo[1], lo[3]), thh[3] = _mm512_sub_ps(hi[1], hi[3]);
                float *v = V + (long)c * P + ((long)g * th + ty) * tw;
                for (int r = 0; r < 4; r++) {
                    __m512 e0 = _mm512_permutex2var_ps(tl[r], ie, thh[r]);
                    __m512 e1 = _mm512_permutex2var_ps(tl[r], io, thh[r]);
                    __m512 e2 = _mm512_permutex2var_ps(tl[r], ie1, thh[r]);
                    __m512 e3 = _mm512_permutex2var_ps(tl[r], io1, thh[r]);
                    float *v0 = v + (r * 4) * CP;
                    _mm512_mask_storeu_ps(v0, mst, _mm512_sub_ps(e0, e2));
                    _mm512_mask_storeu_ps(v0 + CP, mst, _mm512_add_ps(e1, e2));
                    _mm512_mask_storeu_ps(v0 + 2 * CP, mst, _mm512_sub_ps(e2, e1));
                    _mm512_mask_storeu_ps(v0 + 3 * CP, mst, _mm512_sub_ps(e1, e3));
                }
            }
        }
}
#endif

/* V[xi][c][p] = (B^T d B)[xi] for the tiles p = (g th + ty) tw + tx of gn images (plane of channel c,
 * image g at x + c cs + g h w).  Per image, the plane is copied into a zero-bordered buffer, the 16
 * patch values of up to 64 tiles gathered into rows, and the transform done along those rows (the
 * planes are small: vectors along a plane's rows would be too short). */
void cnnk_wino_input(const float *x, long cs, int gn, int C, int h, int w, float *V)
{
#ifdef __AVX512F__
    if (w <= 30) {
        wino_input_avx512(x, cs, gn, C, h, w, V);
        return;
    }
#endif
    int th = (h + 1) / 2, tw = (w + 1) / 2, wp = 2 * tw + 2, hp = 2 * th + 2, tt = th * tw;
    long P = (long)gn * tt, CP = (long)C * P;
    float pb[(128 + 2) * (128 + 2)]; /* h, w <= 128 (wino_ok) */
    float d[16][64], e[16][64];
    memset(pb, 0, sizeof(float) * hp * wp);
    for (int c = 0; c < C; c++)
        for (int g = 0; g < gn; g++) {
            const float *xc = x + c * cs + (long)g * h * w;
            for (int iy = 0; iy < h; iy++)
                memcpy(pb + (long)(iy + 1) * wp + 1, xc + (long)iy * w, w * sizeof(float));
            for (int q0 = 0; q0 < tt; q0 += 64) {
                int nq = tt - q0 < 64 ? tt - q0 : 64;
                for (int q = 0; q < nq; q++) {
                    int ty = (q0 + q) / tw, tx = (q0 + q) - ty * tw;
                    const float *pt = pb + (long)(2 * ty) * wp + 2 * tx;
                    for (int r = 0; r < 4; r++)
                        for (int s2 = 0; s2 < 4; s2++)
                            d[r * 4 + s2][q] = pt[r * wp + s2];
                }
                for (int s2 = 0; s2 < 4; s2++) /* B^T d: combine rows r */
                    for (int q = 0; q < nq; q++) {
                        float d0 = d[s2][q], d1 = d[4 + s2][q], d2 = d[8 + s2][q], d3 = d[12 + s2][q];
                        e[s2][q] = d0 - d2, e[4 + s2][q] = d1 + d2, e[8 + s2][q] = d2 - d1,
                        e[12 + s2][q] = d1 - d3;
                    }
                float *v = V + (long)c * P + (long)g * tt + q0;
                for (int r = 0; r < 4; r++) { /* (B^T d) B: combine columns */
                    float *v0 = v + (r * 4) * CP, *v1 = v0 + CP, *v2 = v1 + CP, *v3 = v2 + CP;
                    const float *e0 = e[r * 4], *e1 = e[r * 4 + 1], *e2 = e[r * 4 + 2], *e3 = e[r * 4 + 3];
                    for (int q = 0; q < nq; q++)
                        v0[q] = e0[q] - e2[q], v1[q] = e1[q] + e2[q], v2[q] = e2[q] - e1[q],
                        v3[q] = e1[q] - e3[q];
                }
            }
        }
}

#ifdef __AVX512F__
/* wino_output for planes up to 30 wide: one tile row at a time (tw <= 15 lanes), the same
 * operations in the same order as the portable loop below; the two output columns of every tile are
 * interleaved into the output rows with two-register permutes. */
static void wino_output_avx512(const float *M, long cs, int gn, int Co, int h, int w, float *y)
{
    int th = (h + 1) / 2, tw = (w + 1) / 2, tt = th * tw;
    long P = (long)gn * tt, OP = (long)Co * P;
    const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ih = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __mmask16 mld = (__mmask16)((1u << tw) - 1);
    __mmask16 mlo = (__mmask16)((1u << (w < 16 ? w : 16)) - 1),
              mhi = (__mmask16)(w > 16 ? (1u << (w - 16)) - 1 : 0);
    for (int o = 0; o < Co; o++)
        for (int g = 0; g < gn; g++) {
            float *yc = y + o * cs + (long)g * h * w;
            for (int ty = 0; ty < th; ty++) {
                const float *m = M + (long)o * P + ((long)g * th + ty) * tw;
                __m512 a[8];
                for (int c = 0; c < 4; c++) {
                    __m512 m0 = _mm512_maskz_loadu_ps(mld, m + c * OP);
                    __m512 m1 = _mm512_maskz_loadu_ps(mld, m + (4 + c) * OP);
                    __m512 m2 = _mm512_maskz_loadu_ps(mld, m + (8 + c) * OP);
                    __m512 m3 = _mm512_maskz_loadu_ps(mld, m + (12 + c) * OP);
                    a[c] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
                    a[4 + c] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
                }
                for (int r = 0; r < 2; r++) {
                    int oy = 2 * ty + r;
                    if (oy >= h) break;
                    const __m512 *ar = a + 4 * r;
                    __m512 z0 = _mm512_add_ps(_mm512_add_ps(ar[0], ar[1]), ar[2]);
                    __m512 z1 = _mm512_sub_ps(_mm512_sub_ps(ar[1], ar[2]), ar[3]);
                    float *yr = yc + (long)oy * w;
                    _mm512_mask_storeu_ps(yr, mlo, _mm512_permutex2var_ps(z0, il, z1));
                    _mm512_mask_storeu_ps(yr + 16, mhi, _mm512_permutex2var_ps(z0, ih, z1));
                }
            }
        }
}
#endif

/* y (plane of channel o, image g at y + o cs + g h w) = A^T M A of the tiles (per image, up to 64
 * tiles at a time, as wino_input). */
static void wino_output(const float *M, long cs, int gn, int Co, int h, int w, float *y)
{
#ifdef __AVX512F__
    if (w <= 30) {
        wino_output_avx512(M, cs, gn, Co, h, w, y);
        return;
    }
#endif
    int th = (h + 1) / 2, tw = (w + 1) / 2, tt = th * tw;
    long P = (long)gn * tt, OP = (long)Co * P;
    float a[8][64], z[4][64];
    for (int o = 0; o < Co; o++)
        for (int g = 0; g < gn; g++) {
            float *yc = y + o * cs + (long)g * h * w;
            for (int q0 = 0; q0 < tt; q0 += 64) {
                int nq = tt - q0 < 64 ? tt - q0 : 64;
                const float *m = M + (long)o * P + (long)g * tt + q0;
                for (int c = 0; c < 4; c++) { /* A^T m: combine rows */
                    const float *m0 = m + c * OP, *m1 = m0 + 4 * OP, *m2 = m1 + 4 * OP, *m3 = m2 + 4 * OP;
                    for (int q = 0; q < nq; q++)
                        a[c][q] = m0[q] + m1[q] + m2[q], a[4 + c][q] = m1[q] - m2[q] - m3[q];
                }
                for (int r = 0; r < 2; r++) { /* (A^T m) A: combine columns */
                    const float *a0 = a[4 * r], *a1 = a[4 * r + 1], *a2 = a[4 * r + 2], *a3 = a[4 * r + 3];
                    for (int q = 0; q < nq; q++) {
                        z[2 * r][q] = a0[q] + a1[q] + a2[q];
                        z[2 * r + 1][q] = a1[q] - a2[q] - a3[q];
                    }
                }
                for (int q = 0; q < nq; q++) {
                    int ty = (q0 + q) / tw, tx = (q0 + q) - ty * tw, oy = 2 * ty, ox = 2 * tx;
                    float *yr = yc + (long)oy * w + ox;
                    int right = ox + 1 < w, down = oy + 1 < h;
                    yr[0] = z[0][q];
                    if (right) yr[1] = z[1][q];
                    if (down) {
                        yr[w] = z[2][q];
                        if (right) yr[w + 1] = z[3][q];
                    }
                }
            }
        }
}

/* D[xi][o][p] = (A dY A^T)[xi] of the 2x2 output-gradient tiles (zero outside the plane),
 * A = [1 0; 1 1; 1 -1; 0 -1]: the gradient of the products M of cnnk_wino_conv. */
void cnnk_wino_dy(const float *dy, long cs, int gn, int Co, int h, int w, float *D)
{
    int th = (h + 1) / 2, tw = (w + 1) / 2, wq = 2 * tw, tt = th * tw;
    long P = (long)gn * tt, OP = (long)Co * P;
    float pb[128 * 128]; /* h, w <= 128 (wino_ok) */
    float z[4][64], u[8][64];
    memset(pb, 0, sizeof(float) * 2 * th * wq);
    for (int o = 0; o < Co; o++)
        for (int g = 0; g < gn; g++) {
            const float *yc = dy + o * cs + (long)g * h * w;
            for (int iy = 0; iy < h; iy++)
                memcpy(pb + (long)iy * wq, yc + (long)iy * w, w * sizeof(float));
            for (int q0 = 0; q0 < tt; q0 += 64) {
                int nq = tt - q0 < 64 ? tt - q0 : 64;
                for (int q = 0; q < nq; q++) {
                    int ty = (q0 + q) / tw, tx = (q0 + q) - ty * tw;
                    const float *pt = pb + (long)(2 * ty) * wq + 2 * tx;
                    z[0][q] = pt[0], z[1][q] = pt[1], z[2][q] = pt[wq], z[3][q] = pt[wq + 1];
                }
                for (int s2 = 0; s2 < 2; s2++) /* A z: rows */
                    for (int q = 0; q < nq; q++) {
                        float z0 = z[s2][q], z1 = z[2 + s2][q];
                        u[s2][q] = z0, u[2 + s2][q] = z0 + z1, u[4 + s2][q] = z0 - z1, u[6 + s2][q] = -z1;
                    }
                float *m = D + (long)o * P + (long)g * tt + q0;
                for (int r = 0; r < 4; r++) { /* (A z) A^T: columns */
                    float *m0 = m + (r * 4) * OP, *m1 = m0 + OP, *m2 = m1 + OP, *m3 = m2 + OP;
                    const float *u0 = u[2 * r], *u1 = u[2 * r + 1];
                    for (int q = 0; q < nq; q++)
                        m0[q] = u0[q], m1[q] = u0[q] + u1[q], m2[q] = u0[q] - u1[q], m3[q] = -u1[q];
                }
            }
        }
}

/* dW[o][i] += G^T dU[.][o][i] G (the gradient of U = G g G^T), G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]. */
void cnnk_wino_wgrad(const float *dU, int Co, int Ci, float *dW)
{
    long CoCi = (long)Co * Ci;
    for (int o = 0; o < Co; o++)
        for (int i = 0; i < Ci; i++) {
            const float *u = dU + (long)o * Ci + i;
            float a[3][4], *k = dW + ((long)o * Ci + i) * 9;
            for (int c = 0; c < 4; c++) {
                float u0 = u[(0 + c) * CoCi], u1 = u[(4 + c) * CoCi], u2 = u[(8 + c) * CoCi],
                      u3 = u[(12 + c) * CoCi];
                a[0][c] = u0 + 0.5f * (u1 + u2);
                a[1][c] = 0.5f * (u1 - u2);
                a[2][c] = 0.5f * (u1 + u2) + u3;
            }
            for (int r = 0; r < 3; r++) {
                k[r * 3 + 0] += a[r][0] + 0.5f * (a[r][1] + a[r][2]);
                k[r * 3 + 1] += 0.5f * (a[r][1] - a[r][2]);
                k[r * 3 + 2] += 0.5f * (a[r][1] + a[r][2]) + a[r][3];
            }
        }
}

/* y (Co planes, stride cso) = conv3x3s1(x (Ci planes, stride csi), U) for gn images of h x w;
 * V, M: scratch of 16 Ci P and 16 Co P floats. */
void cnnk_wino_conv(const float *x, long csi, const float *U, int Co, int Ci, int gn, int h, int w, float *V,
                    float *M, float *y, long cso)
{
    long P = (long)gn * ((h + 1) / 2) * ((w + 1) / 2);
    cnnk_wino_input(x, csi, gn, Ci, h, w, V);
    for (int xi = 0; xi < 16; xi++)
#ifdef CNNK_SGEMM
        cnnk_sgemm_nn(Co, (int)P, Ci, U + (long)xi * Co * Ci, Ci, V + (long)xi * Ci * P, P, 0.0f,
                      M + (long)xi * Co * P, P);
#else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, (int)P, Ci, 1.0f, U + (long)xi * Co * Ci,
                    Ci, V + (long)xi * Ci * P, (int)P, 0.0f, M + (long)xi * Co * P, (int)P);
#endif
    wino_output(M, cso, gn, Co, h, w, y);
}

/* ---- single-precision products for the convolutions ---------------------------------------------------
 * OpenBLAS may be pinned to an older kernel (this project's machines set OPENBLAS_CORETYPE=Haswell: AVX2
 * only), and its packing copies dominate the thin products of small convolutions (M = 10..64 rows).
 * Where the compiler targets AVX-512 the convolutions use the two kernels below; elsewhere, and for the
 * reference kernels (cnn.h `reference`), OpenBLAS sgemm.  Both are plain blocked loops without packing:
 *   nn: C (M x N) = A (M x K) B (K x N) + beta C: a block of MR rows x 32 columns of C in 2 MR registers,
 *       each k one broadcast per row and two loads of B's row; every element of C is one sum over k in
 *       increasing order (one accumulator, fused multiply-adds).
 *   nt: C (M x K) = A (M x N) B^T + beta C with B (K x N): 4 x 4 dot products over n at a time, each a
 *       16-lane partial sum (lane j holds the n = j mod 16 terms, in increasing n) reduced at the end.
 * Both are deterministic (fixed order, independent of threads); they round differently from OpenBLAS
 * (its k-blocking and packing), so results differ from the reference in the last digits. */
#ifdef __AVX512F__
static inline __attribute__((always_inline)) void nn_block(int mr, int K, const float *A, long lda,
                                                           const float *B, long ldb, float beta, float *C,
                                                           long ldc, __mmask16 m0, __mmask16 m1)
{
    __m512 c0[8], c1[8];
    for (int i = 0; i < mr; i++)
        c0[i] = _mm512_setzero_ps(), c1[i] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, B + (long)k * ldb);
        __m512 b1 = _mm512_maskz_loadu_ps(m1, B + (long)k * ldb + 16);
        for (int i = 0; i < mr; i++) {
            __m512 a = _mm512_set1_ps(A[i * lda + k]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
    }
    for (int i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        if (beta != 0.0f) {
            c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, c));
            c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, c + 16));
        }
        _mm512_mask_storeu_ps(c, m0, c0[i]);
        _mm512_mask_storeu_ps(c + 16, m1, c1[i]);
    }
}

void cnnk_sgemm_nn(int M, int N, int K, const float *A, long lda, const float *B, long ldb, float beta,
                   float *C, long ldc)
{
    for (int n0 = 0; n0 < N; n0 += 32) {
        int nr = N - n0 < 32 ? N - n0 : 32;
        __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
        __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
        const float *b = B + n0;
        int m = 0;
        for (; m + 8 <= M; m += 8)
            nn_block(8, K, A + m * lda, lda, b, ldb, beta, C + m * ldc + n0, ldc, m0, m1);
        switch (M - m) {
        case 7:
            nn_block(7, K, A + m * lda, lda, b, ldb, beta, C + m * ldc + n0, ldc, m0, m1);
            break;
        case 6:
            nn_block(6, K, A + m * lda, lda, b, ldb, beta, C + m * ldc + n0, ldc, m0, m1);
            break;
        case 5:
            nn_block(5, K, A + m * lda, lda, b, ldb, beta, C + m * ldc + n0, ldc, m0, m1);
            break;
        case 4:
            nn_block(4, K, A + m * lda, lda, b, ldb, beta, C + m * ldc + n0, ldc, m0, m1);
            break;
        case 3:
            nn_block(3, K, A + m * lda, lda, b, ldb, beta, C + m * ldc + n0, ldc, m0, m1);
            break;
        case 2:
            nn_block(2, K, A + m * lda, lda, b, ldb, beta, C + m * ldc + n0, ldc, m0, m1);
            break;
        case 1:
            nn_block(1, K, A + m * lda, lda, b, ldb, beta, C + m * ldc + n0, ldc, m0, m1);
            break;
        default:
            break;
        }
    }
}

static inline __attribute__((always_inline)) void nt_block(int mr, int kr, int N, const float *A, long lda,
                                                           const float *B, long ldb, float beta, float *C,
                                                           long ldc)
{
    __m512 acc[4][4];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < kr; j++)
            acc[i][j] = _mm512_setzero_ps();
    int n = 0;
    for (; n + 16 <= N; n += 16) {
        __m512 a[4], b[4];
        for (int i = 0; i < mr; i++)
            a[i] = _mm512_loadu_ps(A + i * lda + n);
        for (int j = 0; j < kr; j++)
            b[j] = _mm512_loadu_ps(B + j * ldb + n);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < kr; j++)
                acc[i][j] = _mm512_fmadd_ps(a[i], b[j], acc[i][j]);
    }
    if (n < N) {
        __mmask16 mk = (__mmask16)((1u << (N - n)) - 1);
        __m512 a[4], b[4];
        for (int i = 0; i < mr; i++)
            a[i] = _mm512_maskz_loadu_ps(mk, A + i * lda + n);
        for (int j = 0; j < kr; j++)
            b[j] = _mm512_maskz_loadu_ps(mk, B + j * ldb + n);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < kr; j++)
                acc[i][j] = _mm512_fmadd_ps(a[i], b[j], acc[i][j]);
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < kr; j++) {
            float s = _mm512_reduce_add_ps(acc[i][j]);
            C[i * ldc + j] = beta != 0.0f ? C[i * ldc + j] + s : s;
        }
}

#define NT_CASE(MR, KR)                                                                                      \
    case (MR)*8 + (KR):                                                                                      \
        nt_block(MR, KR, N, a, lda, b, ldb, beta, c, ldc);                                                   \
        break
#define NT_CASES(MR)                                                                                         \
    NT_CASE(MR, 4);                                                                                          \
    NT_CASE(MR, 3);                                                                                          \
    NT_CASE(MR, 2);                                                                                          \
    NT_CASE(MR, 1)
void cnnk_sgemm_nt(int M, int K, int N, const float *A, long lda, const float *B, long ldb, float beta,
                   float *C, long ldc)
{
    for (int m = 0; m < M; m += 4) {
        int mr = M - m < 4 ? M - m : 4;
        for (int k = 0; k < K; k += 4) {
            int kr = K - k < 4 ? K - k : 4;
            const float *a = A + m * lda, *b = B + k * ldb;
            float *c = C + m * ldc + k;
            switch (mr * 8 + kr) {
                NT_CASES(4);
                NT_CASES(3);
                NT_CASES(2);
                NT_CASES(1);
            default:
                break;
            }
        }
    }
}
#undef NT_CASES
#undef NT_CASE
#endif
