/* cnn_kernels.h - the convolution kernels of the CNN (internal to its layers, cnn_layers.c; tests reach
 * them through the network's reference switch).  Pure functions on float arrays: im2col / col2im for k x k
 * stride-s convolutions with padding (k-1)/2, and Winograd F(2x2, 3x3) transforms for 3x3 stride-1 layers.
 *
 * Layout (cnn.h): a tensor with spatial extent is channel-major, (C x nb x H x W); `cs` is the stride
 * between channel planes (nb*H*W of the whole tensor), `gn` the number of images of one group, whose
 * planes start at x (the group's first image).  A column buffer `col` is (C k k) x (gn Ho Wo),
 * row-major.  Winograd buffers are 16 slices, one per transform position xi: U[xi] (Co x Ci),
 * V[xi] (Ci x P), M[xi] (Co x P), with P = gn ceil(h/2) ceil(w/2) tiles.
 */
#ifndef CRITSIM_CNN_KERNELS_H
#define CRITSIM_CNN_KERNELS_H

/* CHUNK_N: columns of one im2col block: images are grouped until G*Ho*Wo >= CHUNK_N */
#ifndef CHUNK_N
#define CHUNK_N 1024
#ifdef __AVX512F__
#define CNNK_SGEMM 1 /* the AVX-512 products below exist */
/* C (M x N, row stride ldc) = A (M x K, lda) B (K x N, ldb) + beta C; beta 0 or 1 */
void cnnk_sgemm_nn(int M, int N, int K, const float *A, long lda, const float *B, long ldb, float beta,
                   float *C, long ldc);
/* C (M x K, ldc) = A (M x N, lda) B^T + beta C, B (K x N, ldb); beta 0 or 1 */
void cnnk_sgemm_nt(int M, int K, int N, const float *A, long lda, const float *B, long ldb, float beta,
                   float *C, long ldc);
#endif

#endif
#ifndef WINO_MIN
#define WINO_MIN 16 /* fewer channels: the 16 products are too thin, im2col + one sgemm wins */
#ifdef __AVX512F__
#define CNNK_SGEMM 1 /* the AVX-512 products below exist */
/* C (M x N, row stride ldc) = A (M x K, lda) B (K x N, ldb) + beta C; beta 0 or 1 */
void cnnk_sgemm_nn(int M, int N, int K, const float *A, long lda, const float *B, long ldb, float beta,
                   float *C, long ldc);
/* C (M x K, ldc) = A (M x N, lda) B^T + beta C, B (K x N, ldb); beta 0 or 1 */
void cnnk_sgemm_nt(int M, int K, int N, const float *A, long lda, const float *B, long ldb, float beta,
                   float *C, long ldc);
#endif

#endif

/* images per im2col group for an output plane of hwo pixels */
int cnnk_chunk_images(int hwo);
/* col = im2col(x) for 3x3 stride 1 (ho = h, wo = w) */
void cnnk_im2col_3x3s1(const float *x, long cs, int gn, int c, int h, int w, float *col);
/* col = im2col(x) for any k, s; fast: use the AVX-512 variants where they exist */
void cnnk_im2col(const float *x, long cs, int gn, int c, int h, int w, int k, int s, int ho, int wo,
                 float *col, int fast);
/* x += col2im(col) */
void cnnk_col2im_add(const float *col, long cs, int gn, int c, int h, int w, int k, int s, int ho, int wo,
                     float *x);
/* U[xi] = G g G^T of each kernel (flip: the transposed, flipped kernel of the backward data pass) */
void cnnk_wino_weights(const float *W, int Co, int Ci, int flip, float *U);
/* V[xi] = B^T d B of every 4x4 input patch */
void cnnk_wino_input(const float *x, long cs, int gn, int C, int h, int w, float *V);
/* D[xi] = transformed output gradient (for the weight gradient) */
void cnnk_wino_dy(const float *dy, long cs, int gn, int Co, int h, int w, float *D);
/* dW (Co x Ci x 3 x 3) = G^T dU G */
void cnnk_wino_wgrad(const float *dU, int Co, int Ci, float *dW);
/* y (Co planes, stride cso) = conv3x3s1(x (Ci planes, stride csi), U); V, M scratch */
void cnnk_wino_conv(const float *x, long csi, const float *U, int Co, int Ci, int gn, int h, int w, float *V,
                    float *M, float *y, long cso);

#ifdef __AVX512F__
#define CNNK_SGEMM 1 /* the AVX-512 products below exist */
/* C (M x N, row stride ldc) = A (M x K, lda) B (K x N, ldb) + beta C; beta 0 or 1 */
void cnnk_sgemm_nn(int M, int N, int K, const float *A, long lda, const float *B, long ldb, float beta,
                   float *C, long ldc);
/* C (M x K, ldc) = A (M x N, lda) B^T + beta C, B (K x N, ldb); beta 0 or 1 */
void cnnk_sgemm_nt(int M, int K, int N, const float *A, long lda, const float *B, long ldb, float beta,
                   float *C, long ldc);
#endif

#endif
