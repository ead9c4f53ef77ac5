/* cnn.h - a small float32 convolutional network for critical-period experiments: layers, forward,
 * backward, SGD, architectures `fused` and `split`.
 *
 * The input batch is NCHW, row-major (B x C x H x W floats).  Inside a pass activations are stored
 * channel-major, (C x B x H x W), so that a convolution over many images is one sgemm; pooled
 * features and logits (H = W = 1) are (B x C).  A layer reads channels [in_c0, in_c0 + cin) of its input
 * tensor and writes channels [out_c0, out_c0 + cout) of its output tensor, so that slicing the input into
 * sources and concatenating pathways cost nothing.  Layers: 3x3 / 1x1 convolution (stride 1 or 2, padding
 * (k-1)/2 as in PyTorch, no bias), batch normalisation, ReLU, element-wise sum, global average pooling,
 * linear. Loss: mean softmax cross-entropy over the batch.
 *
 * Parameters of all layers live in one array `param` (and `grad`, `mom` of the same length), in
 * layer order; a convolution's weight is (cout x cin x k x k), a linear layer's (nout x nin), then its
 * bias; batch norm stores gamma then beta.  Running batch-norm statistics live in `bn_state`
 * (per BN layer: mean[c], var[c]).  Everything is allocated once by cnn_alloc.
 *
 * Batch norm: training mode normalises with the batch mean and biased variance and updates the
 * running statistics with momentum 0.1 (unbiased variance), as PyTorch; evaluation uses the running
 * statistics; CNN_REESTIMATE (the official code's dry run before every test) uses batch statistics
 * and replaces the running statistics by the cumulative average over the batches of the pass
 * (cnn_bn_reset starts a pass).
 *
 * Architectures (W = width, D = depth; every "conv" is conv3x3 + BN + ReLU, "conv1" is 1x1):
 *   fused: conv W - [conv 2^j W s2 - conv 2^j W] for j = 1..D - conv1 2^D W - GAP - linear n_class
 *          (All-CNN of [P3] reduced to 28x28: all sources stacked as input channels)
 *   split: one pathway per source (its channel group) running the stem and the first `fuse_after`
 *          stages, fused by sum or by concatenation, then the remaining stages as a shared trunk,
 *          conv1, GAP and the joint linear head ([P1]'s split network;
 *          docs/theory.md#the-convolutional-network).
 *
 * Convolutions: im2col + a matrix product; 3x3 stride-1 layers with >= 16 channels in and out use
 * Winograd F(2x2, 3x3) for the forward pass and both gradients (2.25x fewer multiplications,
 * rounding of the same order).  The products are cnn_kernels.c's AVX-512 kernels where the compiler
 * targets AVX-512 (OpenBLAS may be pinned to an AVX2 kernel, and packs thin products), else OpenBLAS
 * sgemm; `reference` selects the plain im2col + OpenBLAS + col2im kernels, against which the tests
 * check.
 *
 * Threads: the batch is split into `threads` contiguous parts (pthreads, OpenBLAS single-threaded
 * inside); weight gradients are reduced in thread order, so results are deterministic for a given
 * thread count.  Non-goals: other layer kinds, autograd, GPU, mixed precision.
 */
#ifndef CRITSIM_CNN_H
#define CRITSIM_CNN_H

#include <stdint.h>
#include <stdio.h>

typedef enum { CNN_FUSED = 0, CNN_SPLIT = 1 } cnn_arch;
typedef enum { CNN_FUSE_SUM = 0, CNN_FUSE_CONCAT = 1 } cnn_fusion;
/* forward pass: training (batch statistics), evaluation (running statistics), re-estimation of them */
typedef enum { CNN_TRAIN = 0, CNN_EVAL = 1, CNN_REESTIMATE = 2 } cnn_mode;
typedef enum { CNN_CONV, CNN_BN, CNN_RELU, CNN_ADD, CNN_GAP, CNN_LINEAR } cnn_layer_type;

typedef struct {
    cnn_arch arch;
    int in_c, in_h, in_w; /* input tensor (all sources): channels, height, width */
    int n_src;            /* split: number of sources, each in_c / n_src channels */
    int n_class;
    int width, depth;  /* W, D above */
    int fuse_after;    /* split: stages inside each pathway before fusion (0..depth) */
    cnn_fusion fusion; /* split */
    int batch;         /* largest batch */
    int threads;       /* >= 1 */
} cnn_cfg;

typedef struct {
    int c, h, w;
    float *x; /* (c x batch x h x w); (batch x c) when h = w = 1 */
    float *g; /* gradient, same shape; NULL for the input tensor */
} cnn_tensor;

typedef struct {
    cnn_layer_type type;
    int in, in2, out;    /* tensor indices (in2: second input of CNN_ADD) */
    int in_c0, out_c0;   /* channel offsets in the input / output tensor */
    int cin, cout;       /* channels read / written */
    int k, stride, bias; /* convolution; bias: linear layer has a bias */
    int relu;            /* BN: followed by a fused ReLU (y = max(0, gamma xhat + beta)) */
    long p0, np;         /* parameters [p0, p0 + np) of `param` */
    long s0;             /* BN: running statistics at bn_state + s0 (mean[c], var[c]) */
    float *save;         /* BN: per channel mean and inverse std of the last batch (2 x c) */
    char name[48];
} cnn_layer;

typedef struct cnn_pool cnn_pool;

typedef struct {
    cnn_cfg cfg;
    int n_layer, n_tensor;
    cnn_layer *layer;
    cnn_tensor *t; /* t[0] is the input, t[n_tensor-1] the logits (batch x n_class) */
    long n_param, n_state;
    float *param, *grad, *mom, *bn_state;
    float *tgrad; /* per-thread weight-gradient accumulators (threads x n_param) */
    float *col;   /* per-thread im2col scratch */
    long col_size;
    float *wf; /* per-thread flipped 3x3 kernels for the backward data pass (threads x wf_size) */
    long wf_size;
    double *bn_count; /* batches seen in the current re-estimation pass */
    int nb;           /* rows of the current batch */
    cnn_mode mode;
    double macs;    /* multiply-accumulates of one image's forward pass */
    double *ltime;  /* when non-NULL: seconds spent per layer (forward + backward), accumulated */
    cnn_pool *pool; /* threads - 1 persistent workers (NULL with one thread) */
    int reference;  /* nonzero: plain im2col + sgemm (+ col2im) kernels only, against which
                     * tests check the specialised variants */
    float *gin;     /* (in_c x batch x in_h x in_w): the input's gradient in cnn_backward_input */
} cnn;

/* Build the network.  NULL with the error recorded when the configuration is invalid. */
cnn *cnn_alloc(const cnn_cfg *cfg);
void cnn_free(cnn *n); /* NULL-safe */
/* PyTorch's default initialisation of convolutions and the linear layer (uniform on
 * [-1/sqrt(fan_in), 1/sqrt(fan_in)]: with batch norm the weight scale sets the effective learning
 * rate, and He-normal weights, 2.4x larger, learn about 6x slower), gamma 1, beta 0, biases 0,
 * running statistics (0, 1), momentum buffer 0.  Deterministic in the seed. */
void cnn_init(cnn *n, uint64_t seed);
/* One-line-per-layer description (name, shape, parameters) to f, each line prefixed by `prefix`. */
void cnn_describe(const cnn *n, FILE *f, const char *prefix);

/* Forward pass of nb <= batch images x (nb x in_c x in_h x in_w); logits in n->t[n_tensor-1].x. */
void cnn_forward(cnn *n, const float *x, int nb, cnn_mode mode);
/* Mean softmax cross-entropy of the logits against y (nb labels); when dlogits is nonzero the
 * gradient of the mean loss is stored in the logits' gradient.  *correct (may be NULL) receives the
 * number of arg-max hits. */
double cnn_loss(cnn *n, const int *y, int *correct, int dlogits);
/* Backward pass (after cnn_forward in CNN_TRAIN mode and cnn_loss with dlogits): fills n->grad. */
void cnn_backward(cnn *n);
/* Gradient with respect to the input (after cnn_forward in CNN_EVAL mode, with the caller's gradient
 * of the logits stored in n->t[n_tensor-1].g, (nb x n_class)): batch norm acts as the fixed affine map
 * of its running statistics, no weight gradient is formed (n->grad untouched), and every activation
 * tensor's gradient g is filled.  dx (nb x in_c x in_h x in_w, NCHW) receives the input gradient;
 * dx == NULL stops at the first layer's output gradient (cheaper; for per-example weight gradients). */
void cnn_backward_input(cnn *n, float *dx);
/* PyTorch SGD: g = grad + wd*p; m = momentum*m + g; p -= lr*m. */
void cnn_sgd_step(cnn *n, double lr, double momentum, double wd);
/* Start a batch-norm re-estimation pass (forward in CNN_REESTIMATE mode afterwards). */
void cnn_bn_reset(cnn *n);
/* 1 when every parameter and running statistic is finite. */
int cnn_finite(const cnn *n);
/* The logits of the last forward pass (nb x n_class). */
const float *cnn_logits(const cnn *n);

#endif
