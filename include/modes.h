/* modes.h - the reduced per-mode theory of deep linear networks (docs/theory.md#per-mode-reduction): for each
 * singular mode alpha of the task (target strength s_alpha) and each pathway p (outputs summed) one scalar
 * per-layer value p_{p,alpha}, with the pathway-specific singular value K = k(p).
 *
 * Assumptions under which this is exact for the full network: whitened inputs, aligned and balanced
 * (small init, c = 0) or "large" (one layer p, D-1 layers q with q^2 - p^2 = c) initialisation.
 *   small:  K = p |p|^(D-1),        dp/dt = |p|^(D-1) Omega
 *   large:  K = p (p^2 + c)^((D-1)/2), dp/dt = (p^2 + c)^((D-1)/2) Omega
 *   Omega_alpha = s_alpha - sum_p out_{p,alpha} K_{p,alpha}           (tau = 1)
 * Deficits (window rule of deficit.h: update t affected iff START <= t < END):
 *   gate:P          pathway P does not learn (all modes); its K still counts in Omega;
 *   lesion:P:MODE   K_{P,MODE} removed from Omega and frozen.
 * Integrators (modes_method): MODES_EULER, the explicit-Euler recurrence of the official code with
 * step dt (update t uses the deficits active at t); MODES_RK8PD/RKF45/MSBDF, GSL odeiv2 adaptive
 * driver on the continuous flow, time = step * dt, the window [S,E) is the time interval
 * [S dt, E dt); MODES_EXACT, the closed forms of closed.h applied per mode and per piece of constant
 * deficits (small init; D = 1, 2 any state; D >= 3 when the learning pathways of a mode have equal p,
 * 0 < K_learning < s_eff).
 * Layout: p and K are (npaths x nmodes), row-major: index q * nmodes + m (pathway q, mode m).
 * Non-goals: non-aligned initialisations (see critsim flow), non-linear pathways.
 */
#ifndef CRITSIM_MODES_H
#define CRITSIM_MODES_H

#include "deficit.h"

typedef enum { MODES_SMALL = 0, MODES_LARGE = 1 } modes_param;
typedef enum { MODES_EULER = 0, MODES_RK8PD, MODES_RKF45, MODES_MSBDF, MODES_EXACT } modes_method;

typedef struct modes_gsl modes_gsl;

typedef struct {
    int depth, nmodes, npaths;
    modes_param param;
    double c;  /* large-init constant */
    double *s; /* (nmodes) target strengths */
    double *p; /* (npaths x nmodes) per-layer values */
    double *K; /* (npaths x nmodes) K = k(p), kept in sync by every modes_* call */
    /* deficits, expanded */
    int ndef;
    int def_path[DEFICIT_MAX], def_mode[DEFICIT_MAX]; /* def_mode -1: gate (all modes) */
    long def_start[DEFICIT_MAX], def_end[DEFICIT_MAX];
    /* method */
    modes_method method;
    double dt, epsabs, epsrel;
    modes_gsl *gsl;
    /* scratch, allocated once (no allocation while integrating) */
    double *learn, *out, *om, *g, *save;
    /* statistics */
    long nsteps, nrhs, nfail;
} modes;

/* s: nmodes strengths (copied).  Returns NULL (error recorded) on bad sizes. */
modes *modes_alloc(int depth, int nmodes, int npaths, modes_param param, double c, const double *s);
void modes_free(modes *m);

/* K of a per-layer value and its inverse (monotone; large init solved by bisection). */
double modes_k_of_p(const modes *m, double p);
double modes_p_of_k(const modes *m, double k);
void modes_set_p(modes *m, int path, int mode, double p);
void modes_set_k(modes *m, int path, int mode, double k);

/* Take gate/lesion deficits from a list; other kinds, unknown pathways or modes: CS_EUSAGE. */
int modes_set_deficits(modes *m, const deficit_list *dl);
/* Choose the integrator; allocates the GSL driver if needed. CS_OK or CS_EUSAGE.  Messages name the
 * parameters as modes_set_method.meth, modes_set_method.dt, modes_alloc.param (the command layer
 * writes its options in their place). */
int modes_set_method(modes *m, modes_method meth, double dt, double epsabs, double epsrel);

/* Advance from the state after t0 updates to the state after t1 updates (t0 <= t1).
 * CS_OK; CS_EFAIL when the state turns non-finite (*fail_step = first update count whose state is
 * non-finite, *fail_mode its mode; state left as found at that point) or the solver fails;
 * CS_EUSAGE when --method exact has no closed form for the state (message recorded). */
int modes_advance(modes *m, long t0, long t1, long *fail_step, int *fail_mode);

/* 0.5 * sum_alpha (s_alpha - sum_p K_p,alpha)^2 */
double modes_loss(const modes *m);
/* Pathway ablation: the same loss with pathway `path` removed from the sum,
 * 0.5 * sum_alpha (s_alpha - sum_{p != path} K_p,alpha)^2 (one pathway: 0.5 * sum_alpha s_alpha^2, the
 * loss of an empty network). */
double modes_loss_without(const modes *m, int path);
/* Deficit-free vector field of the flow at state K (npaths x nmodes): dK/dt into dk. */
void modes_field(const modes *m, const double *K, double *dk);

#endif
