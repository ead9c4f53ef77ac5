/* cnn_impl.h - what the files of the CNN engine share (cnn.c, cnn_layers.c, cnn_pool.c); private to
 * them.  The engine's interface, layouts and conventions are include/cnn.h; its convolution kernels
 * include/cnn_kernels.h.  Include this header from the engine's own files only.
 *
 *   cnn.c         the network: builder of the two architectures, allocation, initialisation, the forward
 *                 and backward passes over the layers, loss, SGD, batch-norm state
 *   cnn_layers.c  each layer's forward and backward computation on the batch (one part of it per thread)
 *   cnn_pool.c    the persistent worker threads that run a layer's parts in parallel
 */
#ifndef CRITSIM_CNN_IMPL_H
#define CRITSIM_CNN_IMPL_H

#include "cnn.h"

/* One layer's forward or backward computation, part t of T (threads over images or channels; the parts
 * are disjoint, and part t accumulates weight gradients into n->tgrad + t n_param). */
typedef void (*cnn_layer_fn)(cnn *n, const cnn_layer *L, int t, int T);

/* cnn_layers.c: forward (n->mode as set by cnn_forward) and backward of each layer type; the linear
 * layer runs on one thread (two OpenBLAS products). */
void cnnl_conv_fwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_conv_bwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_bn_fwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_bn_bwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_relu_fwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_relu_bwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_add_fwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_add_bwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_gap_fwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_gap_bwd(cnn *n, const cnn_layer *L, int t, int T);
void cnnl_linear_fwd(cnn *n, const cnn_layer *L);
void cnnl_linear_bwd(cnn *n, const cnn_layer *L);

/* cnn_pool.c: nthr - 1 workers (nthr >= 2), released for every cnn_pool_run */
cnn_pool *cnn_pool_alloc(int nthr);
void cnn_pool_free(cnn_pool *p); /* NULL: nothing */
/* fn's parts 0..T-1 on n->pool (T <= its nthr), part 0 in the caller; returns when all are done.  T <= 1
 * or no pool: fn(n, L, 0, 1) in the caller. */
void cnn_pool_run(cnn *n, const cnn_layer *L, cnn_layer_fn fn, int T);

#endif
