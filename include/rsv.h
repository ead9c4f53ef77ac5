/* rsv.h - Relative Source Variance (docs/theory.md#relative-source-variance): how much each unit of
 * a representation depends on source a versus source b.
 *
 * Definitions (official [C1] `get_dominance`, followed exactly):
 *   SV_a(i) = Var over x_a ~ p(x_a) of z_i(x_a, x_b) with x_b held fixed   (variance caused by a)
 *   SV_b(i) = Var over x_b ~ p(x_b) of z_i(x_a, x_b) with x_a held fixed   (variance caused by b)
 *   RSV(i)  = (SV_b - SV_a) / (SV_a + SV_b)  in [-1, 1]
 * SIGN CONVENTION (the code's): RSV = -1: the unit varies only with source a; +1: only with source b;
 * 0: both sources cause the same variance.  The fixed partner is drawn independently of the varying
 * source, so the variances are MARGINAL ones (x_a drawn from its marginal, not conditioned on x_b).
 * A unit with SV_a + SV_b = 0 (dead unit) has RSV = NaN and is left out of histograms and counts.
 *
 * Closed form for a linear layer z = H_a x_a + H_b x_b (+ const) with source covariances C_a, C_b:
 *   SV_a(i) = h_{a,i}^T C_a h_{a,i},   SV_b(i) = h_{b,i}^T C_b h_{b,i}   (h_{P,i} = row i of H_P);
 * exact and independent of the fixed partner.  The sampled estimator (rsv_acc, rsv_sampled_linear)
 * reproduces the official protocol: population variance over n_batches batches, every (slot in the
 * batch, unit) is one unit sample, Welford accumulation.  Its error on RSV is about
 * (1 - RSV^2) / sqrt(n_batches) per unit sample (see tests/test_rsv.c for the derivation).
 *
 * Histogram: the official binning, numpy.linspace(-1.15, 1.15, 40) as edges, i.e. 39 bins; bins are
 * half-open [e_i, e_{i+1}) except the last, closed, as in numpy.histogram.
 *
 * Conditional variant (not the official estimator; for correlated sources such as x_a = x_0 + n_a,
 * x_b = x_0 + n_b): SV_a = Var(z | x_b) = h_a^T (C_aa - C_ab C_bb^+ C_ba) h_a, the Schur complement
 * (pseudo-inverse for singular C_bb); rsv_conditional_cov gives both Schur complements.  For
 * independent sources (C_ab = 0) it equals the marginal one.
 *
 * Non-goals: the alternative normalisation sqrt(SV / Var_joint) of the official code (not its default).
 */
#ifndef CRITSIM_RSV_H
#define CRITSIM_RSV_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#define RSV_NEDGES 40
#define RSV_NBINS  39
#define RSV_LO     (-1.15)
#define RSV_HI     1.15

/* RSV = (sv_b - sv_a)/(sv_a + sv_b); NaN when the sum is not positive.  In the official passes,
 * var_fixA (x_a fixed) is SV_b and var_fixB (x_b fixed) is SV_a. */
double rsv_value(double sv_a, double sv_b);

/* Closed form for a linear layer: H_a (n_hidden x n_a), H_b (n_hidden x n_b) row-major; C_a (n_a x n_a),
 * C_b (n_b x n_b) covariances or NULL for the identity.  Writes rsv (n_hidden) and, if non-NULL,
 * sv_a, sv_b (n_hidden). */
void rsv_linear(int n_hidden, int n_a, const double *H_a, const double *C_a, int n_b, const double *H_b,
                const double *C_b, double *rsv, double *sv_a, double *sv_b);

/* Schur complements of the joint covariance C ((n_a + n_b) square, sources a then b, row-major):
 * Ca_b = C_aa - C_ab C_bb^+ C_ba (n_a x n_a), Cb_a = C_bb - C_ba C_aa^+ C_ab (n_b x n_b).  Pseudo-inverse
 * by SVD with cut-off 1e-12 * largest singular value.  CS_OK or CS_EFAIL (SVD failure). */
int rsv_conditional_cov(int n_a, int n_b, const double *C, double *Ca_b, double *Cb_a);

/* Welford accumulator of per-unit population variance over repeated evaluations. */
typedef struct rsv_acc rsv_acc;
rsv_acc *rsv_acc_alloc(size_t n_units);
void rsv_acc_free(rsv_acc *a); /* NULL-safe */
void rsv_acc_reset(rsv_acc *a);
void rsv_acc_add(rsv_acc *a, const double *z); /* z: n_units values of one evaluation */
void rsv_acc_add_f(rsv_acc *a, const float *z);
size_t rsv_acc_count(const rsv_acc *a);
void rsv_acc_var(const rsv_acc *a, double *var); /* population variance (divide by the count) */

/* The official sampled protocol on a linear layer with Gaussian sources x_P = L_P xi (L_P lower
 * Cholesky factor (n_P x n_P) of C_P, or NULL for the identity): pass "fix a" (x_a = one fixed batch,
 * x_b = batch k, k = 1..n_batches) gives SV_b; pass "fix b" gives SV_a.  Writes rsv, and optionally
 * sv_a, sv_b, each (batch x n_hidden): one value per (slot, unit).  No bias term: it cancels. */
void rsv_sampled_linear(gsl_rng *rng, int n_hidden, int n_a, const double *H_a, const double *L_a, int n_b,
                        const double *H_b, const double *L_b, int n_batches, int batch, double *rsv,
                        double *sv_a, double *sv_b);

/* The official protocol for any network (the CNN): eval(ctx, ia, ib, z) writes the n_units values of
 * the representation for source a taken from batch ia and source b from batch ib (every (slot,
 * channel, position) is one unit sample; the two halves of a slot need not come from one image).
 * Pass "fix a": ia = n_batches-1 fixed, ib = 0..n_batches-1 -> SV_b; pass "fix b": ib = n_batches-1
 * fixed, ia = 0..n_batches-1 -> SV_a ([C1] get_dominance: the fixed partner is the last batch).
 * Writes rsv and optionally sv_a, sv_b (n_units each). */
typedef void (*rsv_eval_fn)(void *ctx, int ia, int ib, float *z);
void rsv_sampled(void *ctx, rsv_eval_fn eval, int n_batches, size_t n_units, double *rsv, double *sv_a,
                 double *sv_b);

/* Histogram edges (RSV_NEDGES values, numpy.linspace semantics) and counts (RSV_NBINS); returns the
 * number of values left out (NaN or outside [RSV_LO, RSV_HI]). */
void rsv_hist_edges(double *edges);
size_t rsv_hist(size_t n, const double *x, long *counts);

/* Units with |RSV| < 0.5 (fused) and |RSV| > 0.8 (single-source); NaN units are in neither. */
void rsv_count(size_t n, const double *x, long *n_fused, long *n_single, long *n_nan);

#endif
