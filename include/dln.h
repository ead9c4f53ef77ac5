/* dln.h - deep linear networks on full weight matrices: exact full-batch gradient, gradient descent
 * and continuous gradient flow (GSL odeiv2), with deficit schedules.  Engine of `critsim flow`.
 *
 * Model.  n_chain chains ("pathways" a, b, ...), each a product of D weight matrices (no biases):
 *   Omega_p = W^p_D ... W^p_1,  W^p_l (dims[l] x dims[l-1]) row-major, dims[0] = in_dim[p],
 *   dims[1..D-1] = width, dims[D] = n_out.
 *   arch paths, separate inputs : chain p reads source p (input columns [in_off[p], in_off[p]+in_dim[p]))
 *   arch paths, --shared-input  : every chain reads the whole input (in_off = 0, in_dim = n_in)
 *   arch fused                  : one chain on the concatenated sources.
 * The total map is Omega_tot = sum_p embed_p(Omega_p) (n_out x n_in); y_hat = Omega_tot x.
 * Loss and gradient (item tasks, exact population form, c = 1 for `mean`, c = n_items for `sum`):
 *   L = c/2 [tr Syy - 2 <Omega_tot, Syx> + <Omega_tot Sxx, Omega_tot>],
 *   E = dL/dOmega_tot = c (Omega_tot Sxx - Syx),  G_p = dL/dOmega_p = E restricted to p's columns,
 *   dL/dW^p_l = (W_D ... W_{l+1})^T G_p (W_{l-1} ... W_1)^T   (empty products = identity).
 * Completion: Omega_tot is the n_out x n_in prediction; L = 1/(2m) sum_{(i,j) in Obs} (Omega_ij - M_ij)^2,
 *   G = sparse residual / m; the products use prefix P_l = W_l...W_1 and suffix S_l = W_D...W_{l+1}
 *   computed once per step and reused by every layer; the sparse G is applied by row updates, so a
 *   D = 3 step costs three dense products plus O(m n) work.
 * Deficits (window rule of deficit.h: update t is affected iff START <= t < END):
 *   gate:P     chain P's gradient is zero (its output still counts)
 *   lesion:P:M forward uses (I - u_M u_M^T) embed(Omega_P) (I - v_M v_M^T) (gradient flows through)
 *   remove:P   source P zeroed: its rows/columns of Sxx and its columns of Syx set to 0
 *   noise:P:V  V added to the diagonal of source P's block of Sxx
 *   decorrelate  off-diagonal source blocks of Sxx set to 0
 *   switch     the second target (item: Syx2 = T2 Sxx; completion: M2 at the same positions)
 *   subset:M   only the first M observed entries (loss averaged over M)
 * Gradient descent: theta <- theta - lr * grad (all layers from the same pre-step weights); gradient
 * flow: d theta/dt = -grad through gsl_odeiv2_driver (rk8pd, rkf45, rkck), time = step * lr.
 * All weights live in one block theta (n_param doubles); nothing is allocated per step.
 * Messages name what they were given as the configuration calls it: dln_cfg fields (dln_cfg.depth),
 * parameters (dln_init.kind, dln_init.k0, dln_set_threads.n), task_cfg fields, and dln_method for the
 * choice between gradient descent (dln_gd_step) and the flow; the command layer writes its options in
 * their place (opts_errmsg, docs/design.md#layering-rule).
 *
 * Nonlinear pathways (cfg.act = relu|tanh; one-hot item tasks only, task.onehot).  phi is applied
 * elementwise after every hidden layer of each chain, and with cfg.act_output also after the chain's
 * last layer, before the chains are summed:
 *   A_0 = X, Z_l = W_l A_{l-1}, A_l = phi(Z_l) (l < D), F = W_D A_{D-1} (act_output: phi(W_D A_{D-1})).
 * The task's inputs are the n_in one-hot items, X = I, so a chain's response to all items is the
 * matrix F_p (n_out x in_dim[p]), column j = the chain's output for item j (its own source's part of
 * the item; items of other sources give F = phi(0) = 0 since there are no biases and phi(0) = 0).
 * F_p takes the place of Omega_p everywhere: the total map, the loss and E = dL/dF_tot above are exact
 * for one-hot items with Sxx = I/n_items (the loss is the mean/sum over items of the squared error), and
 * K_p = U^T F_p V.  Backward: D_D = G_p (act_output: G_p .* phi'(Z_D)), dL/dW_l = D_l A_{l-1}^T,
 * D_{l-1} = (W_l^T D_l) .* phi'(Z_{l-1}); phi' is read from the activations (relu: [A > 0], tanh:
 * 1 - A^2), so only the A_l are stored (in the prefix buffers).  The deficit remove:P zeroes source P's
 * moments as for linear networks; for one-hot items this is exactly the network fed with source P's
 * inputs zeroed (those items then give F = 0 and a loss of |y_j|^2 / 2 each), so it holds for phi too.
 * noise and decorrelate edit Sxx in ways no set of input samples realises and are refused; lesion
 * projects the response matrix F_p as it projects Omega_p.
 *
 * Precision (cfg.single, matrix completion with GD only): the official code computes in float32;
 * --precision single runs the whole step in float32 (weights, products, residuals, update), the default
 * double is unchanged.  Single is a different trajectory, rounded at ~6e-8 per operation; its distance to
 * double is measured in tests/test_dln.c.
 *
 * Non-goals: biases, mini-batches, momentum, nonlinear networks on moment-only tasks.
 */
#ifndef CRITSIM_DLN_H
#define CRITSIM_DLN_H

#include <gsl/gsl_rng.h>

#include "deficit.h"
#include "task.h"

#define DLN_MAX_CHAIN 16

typedef enum { DLN_PATHS = 0, DLN_FUSED = 1 } dln_arch;
typedef enum { DLN_LOSS_SUM = 0, DLN_LOSS_MEAN = 1 } dln_loss;
typedef enum { DLN_INIT_GAUSS = 0, DLN_INIT_ORTHOGONAL, DLN_INIT_IDENTITY, DLN_INIT_ALIGNED } dln_init_kind;
typedef enum { DLN_RK8PD = 0, DLN_RKF45, DLN_RKCK } dln_stepper;
typedef enum { DLN_ACT_LINEAR = 0, DLN_ACT_RELU, DLN_ACT_TANH } dln_act;

typedef struct {
    dln_arch arch;
    int shared_input; /* paths only */
    int n_chain;      /* paths: number of pathways; fused: ignored (1) */
    int depth;        /* number of weight matrices, >= 1 */
    int width;        /* hidden units (ignored for depth 1) */
    dln_loss loss;    /* item tasks; completion always averages over observed entries */
    dln_act act;      /* nonlinearity after every hidden layer (linear: none) */
    int act_output;   /* nonzero: phi also after each chain's last layer (before the sum) */
    int single;       /* completion, GD: float32 weights and gradient (dln_gd_step) */
} dln_cfg;

/* The engine's state, opaque (its layout: src/dln_impl.h): read through the accessors below. */
typedef struct dln dln;

/* Allocate for the task (dimensions checked; messages name the option; a nonlinear act needs a one-hot
 * item task).  CS_OK or CS_EUSAGE. */
int dln_alloc(const dln_cfg *cfg, const task *t, dln **out);
void dln_free(dln *d);

/* Read access, GSL-workspace style.  Dimensions as allocated (fused: one chain reading all n_in
 * inputs; paths with shared input: every chain reads all of them). */
const dln_cfg *dln_config(const dln *d); /* the configuration given to dln_alloc */
const task *dln_task(const dln *d);
int dln_n_chain(const dln *d);
int dln_depth(const dln *d);
int dln_width(const dln *d);
int dln_n_out(const dln *d);
int dln_n_in(const dln *d);
int dln_in_dim(const dln *d, int p); /* input columns of chain p */
int dln_is_completion(const dln *d); /* the task is matrix completion */
double dln_loss_scale(const dln *d); /* c of the loss: 1 (mean) or n_items (sum) */
size_t dln_n_param(const dln *d);    /* weights in the block dln_params */
size_t dln_chain_offset(const dln *d,
                        int p); /* first weight of chain p in that block (p = n_chain: n_param) */
/* The weights: one block of dln_n_param doubles, chain after chain, layers W^p_1 .. W^p_D row-major
 * (dln_weight finds one).  Callers may read and write it (initial states, branches from a checkpoint);
 * every function below evaluates the state found there. */
double *dln_params(dln *d);
/* The engine's gradient buffer (dln_n_param doubles): dln_grad(d, dln_params(d), dln_gradient(d))
 * fills it, dln_gd_apply reads it. */
double *dln_gradient(dln *d);
/* Results left by the last evaluation (read only; valid until the next call on d):
 *   dln_map(d, p)     chain p's raw map Omega_p, (n_out x in_dim[p]): dln_maps, dln_grad, dln_gd_step,
 *                     dln_test_loss, dln_loss_without;
 *   dln_total_map(d)  the total map of the state dln_grad or dln_gd_step evaluated (item tasks, lesions
 *                     applied), (n_out x n_in);
 *   dln_test_map(d)   the total map dln_test_loss or dln_loss_without evaluated, (n_out x n_in) (the
 *                     only dense total map of a completion network);
 *   dln_hidden(d)     chain 0's last hidden layer on the inputs, (width x n_in), after dln_maps of a
 *                     linear network with depth >= 2 on an item task (the prefix product W_{D-1}..W_1). */
const double *dln_map(const dln *d, int p);
const double *dln_total_map(const dln *d);
const double *dln_test_map(const dln *d);
const double *dln_hidden(const dln *d);
/* The active deficit state (dln_set_deficits, dln_set_step): the installed list, and the number of
 * lesioned modes now projected out of chain p (0: none). */
const deficit_list *dln_deficits(const dln *d);
int dln_n_lesions(const dln *d, int p);

/* Layer l (1..D) of chain p inside a weight block theta laid out as the engine's (n_param doubles:
 * chain after chain, W^p_1 first, each row-major), and its shape (dln_rows x dln_cols). */
double *dln_weight(const dln *d, const double *theta, int p, int l);
int dln_rows(const dln *d, int l);
int dln_cols(const dln *d, int p, int l);

/* Initialisation.  aligned: W_1 = R D V^T, W_l = R D R^T, W_D = U D R^T from the task's SVD with
 * K(0) = k0[mode] per mode (n_k values; 1 value = every mode); needs every chain to read the whole
 * input.  gauss: N(0, (scale^{1/D})^2 / fan_in); orthogonal: scale^{1/D} times a slice of a Haar
 * orthogonal matrix; identity: scale^{1/D} I + noise * diag(xi).  CS_OK or CS_EUSAGE. */
int dln_init(dln *d, dln_init_kind kind, double scale, double noise, const double *k0, int n_k, gsl_rng *rng);
/* Set layer l (1..D) of chain p from an (rows x cols) matrix; CS_EUSAGE naming `what` on mismatch. */
int dln_set_layer(dln *d, int p, int l, const double *w, int rows, int cols, const char *what);

/* Validate and install the deficit list (kinds, pathway/source letters, modes).  CS_OK or CS_EUSAGE. */
int dln_set_deficits(dln *d, const deficit_list *dl);
/* Make the deficits of update t active (recomputes effective statistics only when the set changes). */
void dln_set_step(dln *d, long t);

/* Train loss at theta under the active deficits, and its gradient (zero on gated chains). */
double dln_grad(dln *d, const double *theta, double *grad);
/* One GD update of the weights (dln_params); returns the train loss of the pre-step state.  cfg.single
 * (completion): the step runs in float32 on theta rounded to float (dense sgemm products, the residual matrix
 * G dense with the observed entries only), and theta holds the float32 weights again afterwards (exactly, as
 * doubles), so every other function (records, test loss, maps) evaluates the float32 network in double. */
double dln_gd_step(dln *d, double lr);
/* cfg.single: the float32 train loss and gradient at theta rounded to float (gradient returned as
 * doubles into grad; gated chains zero).  For tests and dln_gd_step. */
double dln_grad_single(dln *d, const double *theta, double *grad);
/* The GD update from the gradient already in dln_gradient(d) (left there by
 * dln_grad(d, dln_params(d), dln_gradient(d))
 * under the same active deficits): theta -= lr grad on the chains not gated.  dln_gd_step = dln_grad +
 * this; a caller that has just computed the gradient (flow's recording) saves the second pass.  Not for
 * cfg.single (the recorded gradient is the double one): use dln_gd_step. */
void dln_gd_apply(dln *d, double lr);
/* Test loss: item tasks, the loss on intact statistics of the active target (same c as training);
 * completion, mean over all entries of the squared error against the active target (no 1/2). */
double dln_test_loss(dln *d, const double *theta);
/* The same loss of a given total map tot (n_out x n_in).  Item tasks: dln_grad and dln_gd_step leave the
 * raw maps of the state they evaluated in dln_map(d, p) and its total map (lesions applied, as dln_maps
 * forms it) in dln_total_map(d), so dln_test_loss_of(d, dln_total_map(d)) is that state's test loss without a
 * second forward pass (completion: dln_grad forms no dense maps; use dln_test_loss). */
double dln_test_loss_of(const dln *d, const double *tot);
/* Raw end-to-end maps Omega_p (stored weights, no lesion projection) into dln_map(d, p), and
 * omega_tot = sum_p embed_p(Omega_p) when omega_tot != NULL ((n_out x n_in)). */
void dln_maps(dln *d, const double *theta, double *omega_tot);
/* Test loss (as dln_test_loss) of the network with one part removed: with two or more chains, chain p's
 * output removed from the sum; with one chain (fused, or a single pathway), source p's inputs zeroed
 * (columns of source p of the total map set to 0: exact for linear maps, and for nonlinear networks on
 * one-hot items, which then output phi(0) = 0).  p < n_chain, resp. p < task->n_src.  Leaves dln_map. */
double dln_loss_without(dln *d, const double *theta, int p);
/* Name of an activation ("linear", "relu", "tanh"); dln_act_parse: CS_OK or CS_EUSAGE naming dln_cfg.act. */
const char *dln_act_name(dln_act a);
int dln_act_parse(const char *s, dln_act *out);
/* Sampled source variances of the last hidden layer (layer D-1, after phi) of a fused network (D >= 2)
 * on a one-hot task with two sources, by the official protocol of rsv.h (rsv_sampled): batch k holds
 * in slot s the item (s + k) mod n (n = n_items = n_in); a sample combines source a's part of one batch
 * with source b's part of another, so with the partner's batch fixed each slot's varying source runs
 * through the exact empirical marginal of that source (every item once): the population variance over
 * the n batches is exact, with no random draws.  Units: every (slot, hidden unit), n_in * width of them,
 * unit index s * width + u.  sv_a, sv_b: (n_in * width).  CS_OK or CS_EUSAGE when the model is not of
 * this kind. */
int dln_rsv_sampled(dln *d, const double *theta, double *sv_a, double *sv_b);
int dln_rsv_units(const dln *d); /* n_in * width when dln_rsv_sampled applies, else 0 */

/* Linear networks on item tasks run through a fused engine (dln_item.c: forward, then one pass over each
 * weight matrix that forms the next backward factor and updates the rows; every sum a fixed chain of
 * fused multiply-adds).  on = 1: the previous engine instead (prefix and suffix products through
 * OpenBLAS and dln_kernels.c's small kernel, a separate update), for tests that compare the two. */
void dln_use_reference(dln *d, int on);

/* K_p diagonal against the task's fixed singular vectors: K[p * rank + a] = u_a^T embed(Omega_p) v_a
 * (uses dln_map(d, p), so call dln_maps first). */
void dln_modes(const dln *d, double *K);

#ifdef __AVX512F__
/* Internal, for tests: C (m x n, row stride ldc) = op(A) op(B) (ta/tb: transposed) through
 * dln_kernels.c's small AVX-512 product; returns 0 without touching C for shapes it does not take. */
int dln_gemm_small(int ta, int tb, int m, int n, int k, const double *A, int lda, const double *B, int ldb,
                   double *C, int ldc);
#endif

/* Threads for the gradient (default 1): matrix completion with one chain (--arch fused, D >= 2) splits
 * each gradient over n threads, every thread writing disjoint rows, so the trajectory is the same for
 * every n (bit for bit) and so is the loss (summed per row, then in row order).  Item tasks with two or
 * more linear pathways (D >= 2), each on the whole input, none lesioned, width >= 256, run one pathway
 * per thread (forward; the total map and loss on one thread; backward): the same bits for every n.
 * Other models ignore it.  CS_OK, or CS_EUSAGE/CS_EFAIL with a message. */
int dln_set_threads(dln *d, int n);
/* In a child after fork(): the workers live only in the parent; go back to one thread. */
void dln_forget_threads(dln *d);

/* Gradient flow: prepare the driver; advance theta from time t0 to t1 under the active deficits.
 * CS_OK, or CS_EFAIL with a message when the state turns non-finite or the driver fails.  With ReLU the
 * flow is a differential inclusion where a unit's input slides along the kink (pushed onto it by some
 * items, off it by others; possible from depth 3, or depth 2 with act_output): one call then stops
 * after dln_set_flow_nmax's limit (default DLN_RELU_NMAX) solver steps with CS_EFAIL naming the cause (use
 * GD).  Depth 1-2 ReLU without act_output cannot slide with one-hot items (each first-layer entry sees one
 * item) and integrates. */
#define DLN_RELU_NMAX 100000
int dln_flow_alloc(dln *d, dln_stepper st, double epsabs, double epsrel, double h0);
int dln_flow_advance(dln *d, double t0, double t1);
void dln_flow_stats(const dln *d, long *steps, long *failed, long *rhs);
/* Solver steps allowed per dln_flow_advance with ReLU (default DLN_RELU_NMAX); before dln_flow_alloc. */
void dln_set_flow_nmax(dln *d, unsigned long n);

#endif
