/* cnn_probe.h - measurements of a trained cnn on a fixed probe set: the input-output Jacobian per
 * source, the Relative Source Variance of a representation (sampled estimator), and the trace of the
 * Fisher information (per layer).  Every measurement runs with batch norm in evaluation mode (the
 * running statistics, re-estimated by the caller beforehand) and leaves the weights untouched.
 *
 * Layouts: probe images are NCHW (n x in_c x in_h x in_w) as the training batches.  A source P of
 * an n_src-source input occupies channel group P (in_c / n_src channels) and, within it, the columns
 * [col0[P], col1[P]) (the other columns of the group are zero by construction: the `zero` views);
 * its own pixels are ordered (channel, row, column) row-major.
 *
 * Jacobian: J[k][i] = (1/n) sum_images d logit_k / d x_i, i over the whole input; one backward pass
 * per class with the gradient of the logits set to the one-hot e_k for every image, summed over the
 * batch (batch norm in evaluation mode makes images independent, so the batch sum is the sum of
 * the per-image Jacobian rows).  Cost: one forward and n_class input-gradient passes per probe image.
 *
 * RSV (Kleinman, Achille & Soatto, CVPR 2023; the official code's estimator): the probe set is cut
 * into nbat batches of `slots` images (images [k slots, (k+1) slots)); every (slot, channel, position)
 * of the representation is one unit.  Pass "fix a": source a taken from the last batch for every
 * evaluation, source b from batch k = 0..nbat-1; the population variance over k of each unit is SV_b.
 * Pass "fix b": source b fixed to the last batch, source a from batch k: SV_a.  RSV = (SV_b - SV_a) /
 * (SV_a + SV_b) (rsv.h).  Several evaluations share one forward pass.  Units are ordered (slot,
 * channel, position).
 *
 * Fisher (Achille, Rovere & Soatto, ICLR 2019, the direct Monte-Carlo estimator):
 *   tr F = (1/n) sum_n || grad_w log p_w(yhat_n | x_n) ||^2,  yhat_n ~ softmax(f_w(x_n)),
 * one label per image drawn from the model's own posterior (a counter-based draw from (seed, image)),
 * per layer = the same sum over that layer's weights (convolution and linear weights; batch-norm
 * parameters and the linear bias excluded).  Per-example weight gradients: one input-gradient pass
 * gives every layer's output gradient dY_n for the batch, then dW_n = dY_n col(x_n)^T per image
 * (linear layer: ||dW_n||^2 = ||dy_n||^2 ||x_n||^2).  `exact` replaces the draw by the expectation
 * over all labels, sum_y p(y|x_n) ||grad log p(y|x_n)||^2 (n_class passes; for tests).
 *
 * Non-goals: gradients through batch-norm statistics (evaluation mode throughout), the noise-injection
 * Fisher estimator, RSV with more than two sources.
 */
#ifndef CRITSIM_CNN_PROBE_H
#define CRITSIM_CNN_PROBE_H

#include <stdint.h>

#include "cnn.h"

typedef struct {
    int n_src;            /* 1 or 2 */
    int col0[2], col1[2]; /* own columns of each source within its channel group */
} cnnp_sources;

typedef struct cnnp cnnp;

/* Scratch for measurements on `n` (sized by its batch and layers); afterwards only cnnp_rsv allocates
 * (its two variance accumulators, once per call). */
cnnp *cnnp_alloc(const cnn *n);
void cnnp_free(cnnp *p); /* NULL-safe */

/* Pixels of source P: (in_c / n_src) * in_h * (col1 - col0). */
int cnnp_source_pixels(const cnn *n, const cnnp_sources *s, int P);
/* J (n_class x in_c in_h in_w), averaged over the nimg probe images x.  CS_OK, or CS_EFAIL with a
 * message when an entry is not finite. */
int cnnp_jacobian(cnnp *p, cnn *n, const float *x, int nimg, double *J);
/* The block of J acting on source P's own pixels: map (n_class x cnnp_source_pixels). */
void cnnp_source_map(const cnn *n, const cnnp_sources *s, int P, const double *J, double *map);

/* Layer whose output tensor is the representation: by name (the names of cnn_describe; a block name
 * such as "stage2.b" means its batch norm + ReLU), -1 when there is none. */
int cnnp_find_layer(const cnn *n, const char *name);
/* The names of the layers whose output can be the representation (every layer but the convolutions
 * and the linear head), separated by single spaces, for a message listing them; malloc'ed. */
char *cnnp_layer_names(const cnn *n);
/* Default: split network, the output of the first stage after fusion (the head's conv1x1 block when
 * every stage is inside the pathways); fused network, the last stage's output (before the head). */
int cnnp_default_rsv_layer(const cnn *n);
/* Units of the representation: slots x channels x positions of the layer's output tensor. */
long cnnp_rsv_units(const cnn *n, int layer, int slots);
/* SV_a, SV_b (cnnp_rsv_units each) from the first nbat * slots probe images (two-source input:
 * source a = channel group 0, b = group 1).  nbat >= 2. */
void cnnp_rsv(cnnp *p, cnn *n, int layer, const float *x, int nbat, int slots, double *sv_a, double *sv_b);

/* Layers with weights measured by the Fisher trace (convolutions, the linear layer), in order. */
int cnnp_fisher_layers(const cnn *n, int *idx); /* idx (room for n->n_layer) may be NULL */
/* tr_layer (cnnp_fisher_layers values) and *total.  CS_OK, or CS_EFAIL when a value is not finite. */
int cnnp_fisher(cnnp *p, cnn *n, const float *x, int nimg, uint64_t seed, int exact, double *tr_layer,
                double *total);

#endif
