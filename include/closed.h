/* closed.h - closed-form solutions of the per-mode flow (docs/theory.md#closed-forms), tau = 1, small
 * (balanced) init.
 *
 * Single learner, dK/dt = D K^(2-2/D) (s - K), i.e. dp/dt = p^(D-1) (s - p^D), K = p^D:
 *   D = 1  K(t) = s + (K0 - s) e^{-t}
 *   D = 2  K(t) = K0 / (e^{-2st} + K0 (1 - e^{-2st}) / s)          (Saxe sigmoid; any s, K0)
 *   D >= 3 t(K) = (1/s) (p^{2-D} - p0^{2-D}) / (2-D) + (1/(2 s^2)) [p^2 F(p^D/s) - p0^2 F(p0^D/s)],
 *          F(z) = 2F1(1, 2/D; 1 + 2/D; z) (gsl_sf_hyperg_2F1), solved for K by bisection on p;
 *          needs 0 < K0 < s and K0 <= K < s.
 * m learners with equal p and a constant offset: the same formulas with s -> s_eff and time scaled
 * by m^((2-D)/D) for the total K (modes.c does this).
 * Two-pathway invariants while both learn: D = 1 K_a - K_b; D = 2 K_a / K_b;
 * D >= 3 K_a^{(2-D)/D} - K_b^{(2-D)/D}; large init G_c(p_a) - G_c(p_b),
 * G_c(p) = int_0^p (x^2 + c)^{-(D-1)/2} dx.
 * Non-goals: large-init trajectories in closed form (none is known; use an integrator).
 */
#ifndef CRITSIM_CLOSED_H
#define CRITSIM_CLOSED_H

double closed_d1(double s, double k0, double t);
double closed_d2(double s, double k0, double t);
/* Time to go from k0 to k (single learner, depth D >= 1). CS_OK or CS_EUSAGE (outside the domain). */
int closed_time(int depth, double s, double k0, double k, double *t);
/* K(t) for depth D >= 1 from k0.  CS_OK or CS_EUSAGE (message recorded). */
int closed_k(int depth, double s, double k0, double t, double *k);
/* Small-init two-pathway invariant (docs/theory.md#two-pathway-invariants). */
double closed_invariant(int depth, double ka, double kb);
/* Large init: G_c(p_a) - G_c(p_b). */
double closed_invariant_large(int depth, double c, double pa, double pb);
/* Final share K_b/s after b is gated early for a short time delta with K ~ 0, Omega ~ s (invariants). */
double closed_share_early(int depth, double s, double delta);

#endif
