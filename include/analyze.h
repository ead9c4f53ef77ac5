/* analyze.h - SVD-mode analysis of per-source maps at recorded steps (docs/theory.md#analyzer-quantities).
 *
 * Input: a snapshot set (snap.h) with per-source maps M_P(t) (n_out x n_in[P]) and the task's
 * singular triples (U, s, V) the engine used.  Per recorded step the analyzer computes:
 *
 *  - sorted singular values of every M_P and of the total map M_tot (concat layout:
 *    M_tot = [M_a M_b ...], n_out x n_in_total; shared layout: M_tot = sum_P M_P);
 *  - tracked projections onto the target's FIXED singular vectors (never re-sorted):
 *        K_{P,alpha} = u_alpha^T M_P v_alpha^{(P)},
 *    where v_alpha^{(P)} is the block of v_alpha acting on source P (concat) or v_alpha itself
 *    (shared); so sum_P K_{P,alpha} = u_alpha^T M_tot v_alpha.  U, V are the snapshot's; a fresh SVD
 *    (of the target map, else of the final total map) is taken only when the run gives none;
 *  - share of source b per mode:  share_b = K_b / sum_P K_P  (= K_b / (K_a + K_b) for two sources);
 *    NaN when the sum is 0 or when the run has a single source;
 *  - inhibition index per mode:
 *        inhibition = (max_P K_P - min_P K_P) / sum_P |K_P|
 *    (two sources: |K_a - K_b| / (|K_a| + |K_b|)), in [0, 1]:
 *    0 when the sources carry the mode equally (fused / symmetric), positive as soon as one source
 *    carries more of the mode than another, and 1 when one source carries all of it while the other
 *    has none (or opposes it: opposite signs give 1 as well).  NaN when sum_P |K_P| = 0 or for a
 *    single source.  It is a state measure: a gated source is "suppressed" during the gate as well;
 *    read it after the deficit.
 *  - principal angles (radians, ascending) between the top-k LEFT singular subspace of each M_P
 *    (output side, so comparable for every layout) and span(u_1..u_k) of the target:
 *    theta_i = acos(sigma_i(Q_P^T U_k)), k = min(k_angle, n_out, n_in[P], r).
 *  - per mode: the step at which the tracked total K_tot,alpha = sum_P K_{P,alpha} first reaches
 *    half of its final value, interpolated linearly between recorded steps (NaN if the final value is 0).
 *  - degenerate blocks: consecutive modes whose target singular values are equal within
 *    ANALYZE_DEGEN_RTOL * s_0 form one block B (a block of one mode otherwise).  Inside a block the
 *    singular vectors are defined only up to a rotation Q (U_B -> U_B Q, V_B -> V_B Q leaves the
 *    target unchanged), and so is every per-mode K_{P,alpha}; their sum over the block,
 *        K_{P,B} = sum_{alpha in B} u_alpha^T M_P v_alpha^{(P)} = tr(U_B^T M_P V_B^{(P)}),
 *    is not (tr(Q^T X Q) = tr X).  The block share share_b,B = K_{b,B} / sum_P K_{P,B} is therefore the
 *    basis-independent share of a degenerate target; for a block of one mode it is the mode's share.
 *
 * Non-goals: right-side (input) subspace angles for concat runs, re-alignment of degenerate modes
 * (tracked modes are exactly the given columns of U and V; use the block sums).
 */
#ifndef CRITSIM_ANALYZE_H
#define CRITSIM_ANALYZE_H

#include "snap.h"

enum { ANALYZE_BASIS_SNAPSHOT = 0, ANALYZE_BASIS_TARGET = 1, ANALYZE_BASIS_FINAL = 2 };

/* Relative tolerance of degeneracy: |s_alpha - s_{alpha+1}| <= ANALYZE_DEGEN_RTOL * s_0.  Singular
 * values that are equal in exact arithmetic come out of an SVD within a few n eps s_0 (~1e-14 here);
 * the designed gaps of every task are >= 1e-3 s_0.  1e-9 sits far from both. */
#define ANALYZE_DEGEN_RTOL 1e-9

typedef struct {
    int n_snap;  /* snapshots analysed: the leading finite ones (n_ok <= run's n_snap) */
    int n_total; /* snapshots in the run */
    int n_src, n_out, n_in_total;
    int r;                      /* tracked modes */
    int basis;                  /* ANALYZE_BASIS_*: where U, V came from */
    int n_sv[SNAP_MAX_SRC + 1]; /* singular values per source (P < n_src) and of the total (P = n_src) */
    int sv_stride;              /* max of n_sv */
    int k_angle[SNAP_MAX_SRC];  /* principal angles per source */
    int angle_stride;
    double *U, *V, *s; /* (n_out x r), (n_in_total x r), (r): the basis used */
    double *sv;        /* (n_snap, n_src + 1, sv_stride), descending, NaN-padded */
    double *K;         /* (n_snap, n_src, r) tracked projections */
    double *share;     /* (n_snap, r) share_b */
    double *inhib;     /* (n_snap, r) inhibition index */
    double *angle;     /* (n_snap, n_src, angle_stride) radians, ascending, NaN-padded */
    double *half_step; /* (r) */
    int n_blk;         /* blocks of degenerate modes (analyze_blocks); n_blk = r when none is degenerate */
    int *blk_first;    /* (n_blk + 1): block B holds modes blk_first[B] .. blk_first[B + 1] - 1 */
    double *blk_share; /* (n_snap, n_blk) share_b of each block (K summed over the block's modes) */
} analyze_result;

/* Tracked projections for one snapshot: K (n_src x r) from maps[P] (n_out x n_in[P]), U (n_out x r),
 * V (n_in_total x r).  Pure, no allocation. */
void analyze_project(const snap_meta *m, const double *const *maps, int r, const double *U, const double *V,
                     double *K);
/* share_b and inhibition of one mode from K_P (n_src values, stride `stride` between sources). */
double analyze_share_b(int n_src, const double *K, int stride);
double analyze_inhibition(int n_src, const double *K, int stride);
/* Principal angles (ascending, radians) between span of the orthonormal columns of A (n x ka) and of
 * B (n x kb), k = min(ka, kb) angles.  CS_OK or CS_EFAIL (SVD failure, message recorded). */
int analyze_principal_angles(int n, int ka, const double *A, int kb, const double *B, double *theta);
/* Blocks of degenerate modes of descending singular values s (r values): returns n_blk and fills
 * first (r + 1 values; first[n_blk] = r).  Modes alpha, alpha + 1 share a block iff
 * |s_alpha - s_{alpha+1}| <= rtol * |s_0|; a NaN s (singular values unknown) makes every mode its own
 * block.  Pure. */
int analyze_blocks(int r, const double *s, double rtol, int *first);
/* share_b of a block of modes [a0, a1): sum_alpha K_b,alpha / sum_alpha sum_P K_P,alpha (K as in
 * analyze_project: n_src x r); NaN for one source or a zero sum. */
double analyze_block_share_b(int n_src, const double *K, int r, int a0, int a1);
/* First step at which y (n values at steps t) reaches half its final value, linear interpolation. */
double analyze_half_step(int n, const long *t, const double *y);

/* Analyse the whole run.  k_angle <= 0: k = r.  CS_OK, CS_EUSAGE (nothing to analyse) or CS_EFAIL
 * (an SVD failed); a non-finite snapshot ends the analysis there (res->n_snap < res->n_total, CS_OK). */
int analyze_run(const snap_run *run, int k_angle, analyze_result *res);
void analyze_result_free(analyze_result *res);

#endif
