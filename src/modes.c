/* modes.c - the reduced per-mode theory (docs/theory.md#per-mode-reduction): Euler recurrence of the official
 * code, GSL odeiv2 continuous flow, and the closed forms, with gate/lesion deficits.  Mathematics in modes.h.
 *
 * Euler hot loop: every update advances all modes; within an update each mode's Omega and its
 * pathways are computed together, and the modes' independent dependency chains overlap in the CPU
 * (instruction-level parallelism).  Deficits enter as 0/1 masks folded into dt * learn, constant
 * between deficit boundaries (no branches, no allocation per step); the power of p is unrolled at
 * compile time for D <= 8 and the pathway loop for two pathways.  Non-finite states are detected once per
 * chunk; the chunk is then replayed step by step from a saved copy to name the exact step and mode.
 * Non-goals: stochastic gating (prob_gate_path), non-aligned initialisations.
 */
#include "modes.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <math.h>
#include <string.h>

#include "closed.h"
#include "util.h"

#define CHUNK 4096 /* Euler steps between non-finite checks */

struct modes_gsl {
    gsl_odeiv2_system sys;
    gsl_odeiv2_driver *drv;
    unsigned long count0, fail0; /* evolve statistics accumulated before the last reset */
};

/* ---- pure kernels ------------------------------------------------------------------------- */

/* g = dp/dt / Omega and K for n entries: small |p|^(D-1), large (p^2+c)^((D-1)/2) */
static void kernel_gk(const modes *m, const double *p, double *g, double *K, int n)
{
    int D = m->depth;
    if (m->param == MODES_SMALL) {
        for (int i = 0; i < n; i++)
            g[i] = 1;
        for (int k = 1; k < D; k++)
            for (int i = 0; i < n; i++)
                g[i] *= fabs(p[i]);
    } else {
        int half = (D - 1) / 2;
        double c = m->c;
        for (int i = 0; i < n; i++)
            g[i] = ((D - 1) & 1) ? sqrt(p[i] * p[i] + c) : 1.0;
        for (int k = 0; k < half; k++)
            for (int i = 0; i < n; i++)
                g[i] *= p[i] * p[i] + c;
    }
    for (int i = 0; i < n; i++)
        K[i] = p[i] * g[i];
}

double modes_k_of_p(const modes *m, double p)
{
    double g, K;
    kernel_gk(m, &p, &g, &K, 1);
    return K;
}

double modes_p_of_k(const modes *m, double k)
{
    if (m->param == MODES_SMALL) return copysign(pow(fabs(k), 1.0 / m->depth), k);
    /* k(p) is odd and increasing; |p| <= |k| c^{-(D-1)/2} when c <= 1 is not guaranteed: bracket */
    double a = fabs(k), lo = 0, hi = 1;
    while (modes_k_of_p(m, hi) < a)
        hi *= 2;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (modes_k_of_p(m, mid) < a)
            lo = mid;
        else
            hi = mid;
    }
    return copysign(0.5 * (lo + hi), k);
}

/* masks for update t */
static void masks_at(modes *m, long t)
{
    int n = m->npaths * m->nmodes;
    for (int i = 0; i < n; i++)
        m->learn[i] = m->out[i] = 1;
    for (int d = 0; d < m->ndef; d++) {
        if (!(t >= m->def_start[d] && t < m->def_end[d])) continue;
        int q = m->def_path[d];
        if (m->def_mode[d] < 0) {
            for (int a = 0; a < m->nmodes; a++)
                m->learn[q * m->nmodes + a] = 0;
        } else {
            m->learn[q * m->nmodes + m->def_mode[d]] = 0;
            m->out[q * m->nmodes + m->def_mode[d]] = 0;
        }
    }
}

/* first deficit boundary > t (or LONG_MAX) */
static long next_change(const modes *m, long t)
{
    long nx = LONG_MAX;
    for (int d = 0; d < m->ndef; d++) {
        if (m->def_start[d] > t && m->def_start[d] < nx) nx = m->def_start[d];
        if (m->def_end[d] > t && m->def_end[d] < nx) nx = m->def_end[d];
    }
    return nx;
}

static void omega(const modes *m, const double *K, double *om)
{
    int nm = m->nmodes;
    for (int a = 0; a < nm; a++)
        om[a] = m->s[a];
    for (int q = 0; q < m->npaths; q++)
        for (int a = 0; a < nm; a++)
            om[a] -= m->out[q * nm + a] * K[q * nm + a];
}

/* Fused Euler kernels: Omega, the update of p and the new g(p), K(p) in one pass per pathway, with
 * the power (D-1) (small) or (D-1)/2 (large) unrolled at compile time for D <= 8.  Arrays are
 * distinct (restrict); masks are folded into dtl = dt * learn once per segment. */
#define EULER_KERNEL(NAME, GOF)                                                                              \
    static inline __attribute__((always_inline)) void NAME##_np(modes *m, long nsteps, int e, const int np)  \
    {                                                                                                        \
        const int nm = m->nmodes;                                                                            \
        double *restrict p = m->p, *restrict g = m->g, *restrict K = m->K, *restrict om = m->om;             \
        const double *restrict dtl = m->save + np * nm, *restrict out = m->out, *restrict s = m->s;          \
        const double c = m->c;                                                                               \
        (void)c, (void)e;                                                                                    \
        (void)om;                                                                                            \
        for (long t = 0; t < nsteps; t++)                                                                    \
            for (int a = 0; a < nm; a++) { /* modes are independent chains: interleaved by ILP */            \
                double o = s[a];                                                                             \
                for (int q = 0; q < np; q++)                                                                 \
                    o -= out[q * nm + a] * K[q * nm + a];                                                    \
                for (int q = 0; q < np; q++) {                                                               \
                    int i = q * nm + a;                                                                      \
                    double pi = p[i] + dtl[i] * g[i] * o, gi;                                                \
                    GOF;                                                                                     \
                    p[i] = pi, g[i] = gi, K[i] = pi * gi;                                                    \
                }                                                                                            \
            }                                                                                                \
    }                                                                                                        \
    /* two pathways (the papers' case) with the pathway loop unrolled; any other count generic */            \
    static void NAME(modes *m, long nsteps, int e)                                                           \
    {                                                                                                        \
        if (m->npaths == 2)                                                                                  \
            NAME##_np(m, nsteps, e, 2);                                                                      \
        else                                                                                                 \
            NAME##_np(m, nsteps, e, m->npaths);                                                              \
    }
#define POW_SMALL(E)                                                                                         \
    {                                                                                                        \
        double ab = fabs(pi);                                                                                \
        gi = 1;                                                                                              \
        for (int k = 0; k < (E); k++)                                                                        \
            gi *= ab;                                                                                        \
    }
#define POW_LARGE(E, ODD)                                                                                    \
    {                                                                                                        \
        double h = pi * pi + c;                                                                              \
        gi = (ODD) ? sqrt(h) : 1;                                                                            \
        for (int k = 0; k < (E); k++)                                                                        \
            gi *= h;                                                                                         \
    }
EULER_KERNEL(eu_s0, POW_SMALL(0))
EULER_KERNEL(eu_s1, POW_SMALL(1))
EULER_KERNEL(eu_s2, POW_SMALL(2))
EULER_KERNEL(eu_s3, POW_SMALL(3))
EULER_KERNEL(eu_s4, POW_SMALL(4))
EULER_KERNEL(eu_s5, POW_SMALL(5))
EULER_KERNEL(eu_s6, POW_SMALL(6))
EULER_KERNEL(eu_s7, POW_SMALL(7))
EULER_KERNEL(eu_sn, POW_SMALL(e))
EULER_KERNEL(eu_ln, POW_LARGE((e - 1) / 2, (e - 1) & 1))

/* nsteps Euler updates with fixed masks; g and K must hold g(p), K(p) on entry and do on exit */
static void euler_run(modes *m, long nsteps)
{
    int n = m->npaths * m->nmodes, D = m->depth;
    double *dtl = m->save + n;
    for (int i = 0; i < n; i++)
        dtl[i] = m->dt * m->learn[i];
    if (m->param == MODES_LARGE) {
        eu_ln(m, nsteps, D);
        return;
    }
    switch (D) {
    case 1:
        eu_s0(m, nsteps, 0);
        break;
    case 2:
        eu_s1(m, nsteps, 1);
        break;
    case 3:
        eu_s2(m, nsteps, 2);
        break;
    case 4:
        eu_s3(m, nsteps, 3);
        break;
    case 5:
        eu_s4(m, nsteps, 4);
        break;
    case 6:
        eu_s5(m, nsteps, 5);
        break;
    case 7:
        eu_s6(m, nsteps, 6);
        break;
    case 8:
        eu_s7(m, nsteps, 7);
        break;
    default:
        eu_sn(m, nsteps, D - 1);
        break;
    }
}

static int first_bad(const modes *m)
{
    int n = m->npaths * m->nmodes;
    for (int i = 0; i < n; i++)
        if (!isfinite(m->p[i]) || !isfinite(m->K[i])) return i;
    return -1;
}

static int advance_euler(modes *m, long t0, long t1, long *fail_step, int *fail_mode)
{
    int n = m->npaths * m->nmodes;
    kernel_gk(m, m->p, m->g, m->K, n);
    long t = t0;
    while (t < t1) {
        long seg = next_change(m, t);
        if (seg > t1) seg = t1;
        masks_at(m, t);
        while (t < seg) {
            long len = seg - t < CHUNK ? seg - t : CHUNK;
            memcpy(m->save, m->p, (size_t)n * sizeof(double));
            euler_run(m, len);
            if (first_bad(m) >= 0) { /* replay step by step to name the step */
                memcpy(m->p, m->save, (size_t)n * sizeof(double));
                kernel_gk(m, m->p, m->g, m->K, n);
                for (long k = 0; k < len; k++) {
                    euler_run(m, 1);
                    int b = first_bad(m);
                    if (b >= 0) {
                        *fail_step = t + k + 1;
                        *fail_mode = b % m->nmodes;
                        m->nsteps += k + 1;
                        return util_seterr(
                            CS_EFAIL,
                            "state non-finite at step %ld, mode %d (pathway %c); reduce modes_set_method.dt",
                            t + k + 1, b % m->nmodes, 'a' + b / m->nmodes);
                    }
                }
            }
            t += len;
            m->nsteps += len;
        }
    }
    return CS_OK;
}

/* ---- continuous time (GSL odeiv2) ---------------------------------------------------------- */

static int rhs(double t, const double y[], double f[], void *params)
{
    modes *m = params;
    int nm = m->nmodes, n = m->npaths * nm;
    double *g = m->g, *K = m->K, *om = m->om;
    m->nrhs++;
    kernel_gk(m, y, g, K, n);
    omega(m, K, om);
    for (int i = 0; i < n; i++) {
        f[i] = m->learn[i] * g[i] * om[i % nm];
        if (!isfinite(f[i])) return GSL_EBADFUNC;
    }
    return GSL_SUCCESS;
}

/* dg/dp and dK/dp */
static void derivs(const modes *m, double p, double *dg, double *dk)
{
    int D = m->depth;
    if (D == 1) {
        *dg = 0;
        *dk = 1;
        return;
    }
    if (m->param == MODES_SMALL) {
        double a = fabs(p);
        *dg = (D - 1) * copysign(pow(a, D - 2), p);
        *dk = D * pow(a, D - 1);
    } else {
        double h = p * p + m->c;
        *dg = (D - 1) * p * pow(h, 0.5 * (D - 3));
        *dk = pow(h, 0.5 * (D - 1)) + (D - 1) * p * p * pow(h, 0.5 * (D - 3));
    }
}

static int jac(double t, const double y[], double *dfdy, double dfdt[], void *params)
{
    modes *m = params;
    int nm = m->nmodes, n = m->npaths * nm;
    double *g = m->g, *K = m->K, *om = m->om;
    kernel_gk(m, y, g, K, n);
    omega(m, K, om);
    memset(dfdy, 0, (size_t)n * n * sizeof(double));
    for (int i = 0; i < n; i++) {
        double dgi, dki;
        derivs(m, y[i], &dgi, &dki);
        dfdt[i] = 0;
        for (int j = i % nm; j < n; j += nm) { /* same mode, every pathway */
            double dgj, dkj;
            derivs(m, y[j], &dgj, &dkj);
            dfdy[i * n + j] = -m->learn[i] * g[i] * m->out[j] * dkj;
        }
        dfdy[i * n + i] += m->learn[i] * dgi * om[i % nm];
    }
    return GSL_SUCCESS;
}

static int advance_flow(modes *m, long t0, long t1, long *fail_step, int *fail_mode)
{
    int n = m->npaths * m->nmodes;
    modes_gsl *G = m->gsl;
    long t = t0;
    while (t < t1) {
        long seg = next_change(m, t);
        if (seg > t1) seg = t1;
        masks_at(m, t);
        double time = t * m->dt, tend = seg * m->dt;
        G->count0 += G->drv->e->count;
        G->fail0 += G->drv->e->failed_steps;
        gsl_odeiv2_driver_reset(G->drv);
        int st = gsl_odeiv2_driver_apply(G->drv, &time, tend, m->p);
        m->nsteps = (long)(G->count0 + G->drv->e->count);
        m->nfail = (long)(G->fail0 + G->drv->e->failed_steps);
        if (st != GSL_SUCCESS) {
            int b = first_bad(m);
            *fail_step = (long)ceil(time / m->dt);
            if (*fail_step <= t) *fail_step = t + 1;
            *fail_mode = b >= 0 ? b % m->nmodes : 0;
            kernel_gk(m, m->p, m->g, m->K, n);
            return util_seterr(CS_EFAIL, "GSL driver failed near step %ld (time %.6g), mode %d: %s",
                               *fail_step, time, *fail_mode,
                               st == GSL_EBADFUNC ? "state non-finite" : gsl_strerror(st));
        }
        t = seg;
    }
    kernel_gk(m, m->p, m->g, m->K, n);
    return CS_OK;
}

/* ---- closed forms ---------------------------------------------------------------------------- */

static int advance_exact(modes *m, long t0, long t1)
{
    int nm = m->nmodes, np = m->npaths, D = m->depth;
    if (m->param != MODES_SMALL && D > 1)
        return util_seterr(CS_EUSAGE,
                           "modes_set_method.meth exact needs modes_alloc.param small (or depth 1); use "
                           "modes_set_method.meth rk8pd");
    kernel_gk(m, m->p, m->g, m->K, np * nm);
    long t = t0;
    while (t < t1) {
        long seg = next_change(m, t);
        if (seg > t1) seg = t1;
        masks_at(m, t);
        double tau = (seg - t) * m->dt;
        for (int a = 0; a < nm; a++) {
            double off = 0, S0 = 0, pref = NAN;
            int nl = 0, equal = 1;
            for (int q = 0; q < np; q++) {
                int i = q * nm + a;
                if (m->learn[i] != 0) {
                    S0 += m->K[i];
                    if (nl && fabs(m->p[i] - pref) > 1e-14 * fabs(pref)) equal = 0;
                    pref = m->p[i];
                    nl++;
                } else
                    off += m->out[i] * m->K[i];
            }
            if (nl == 0) continue;
            double se = m->s[a] - off, S;
            if (D == 1) {
                S = se + (S0 - se) * exp(-nl * tau);
                for (int q = 0; q < np; q++)
                    if (m->learn[q * nm + a] != 0) m->p[q * nm + a] += (S - S0) / nl;
            } else if (D == 2) {
                S = closed_d2(se, S0, tau);
                for (int q = 0; q < np; q++)
                    if (m->learn[q * nm + a] != 0)
                        m->p[q * nm + a] = modes_p_of_k(m, S0 != 0 ? m->K[q * nm + a] * S / S0 : 0);
            } else {
                if (!equal)
                    return util_seterr(
                        CS_EUSAGE,
                        "modes_set_method.meth exact, depth %d: mode %d has learning pathways with "
                        "different K at step %ld "
                        "(no closed form); use modes_set_method.meth rk8pd",
                        D, a, t);
                int rc = closed_k(D, se, S0, tau * pow(nl, (2.0 - D) / D), &S);
                if (rc) {
                    char msg[400];
                    snprintf(msg, sizeof msg, "%s", util_errmsg());
                    return util_seterr(CS_EUSAGE, "mode %d at step %ld: %s", a, t, msg);
                }
                for (int q = 0; q < np; q++)
                    if (m->learn[q * nm + a] != 0) m->p[q * nm + a] = modes_p_of_k(m, S / nl);
            }
        }
        kernel_gk(m, m->p, m->g, m->K, np * nm);
        t = seg;
    }
    return CS_OK;
}

/* ---- object lifecycle -------------------------------------------------------------------- */

modes *modes_alloc(int depth, int nmodes, int npaths, modes_param param, double c, const double *s)
{
    if (depth < 1 || nmodes < 1 || npaths < 1) {
        util_seterr(CS_EUSAGE, "modes: need depth >= 1, >= 1 mode, >= 1 pathway");
        return NULL;
    }
    modes *m = util_calloc(1, sizeof *m);
    int n = nmodes * npaths;
    m->depth = depth, m->nmodes = nmodes, m->npaths = npaths, m->param = param, m->c = c;
    /* one block carved into named arrays */
    double *blk = util_calloc((size_t)(2 * nmodes + 8 * n), sizeof(double));
    m->s = blk, m->p = blk + nmodes, m->K = m->p + n, m->learn = m->K + n, m->out = m->learn + n;
    m->g = m->out + n, m->save = m->g + n, m->om = m->save + 2 * n; /* save: p copy + dt*learn */
    memcpy(m->s, s, (size_t)nmodes * sizeof(double));
    m->dt = 0.01, m->epsabs = 1e-10, m->epsrel = 1e-10;
    for (int i = 0; i < n; i++)
        m->learn[i] = m->out[i] = 1;
    return m;
}

void modes_free(modes *m)
{
    if (!m) return;
    if (m->gsl) {
        gsl_odeiv2_driver_free(m->gsl->drv);
        free(m->gsl);
    }
    free(m->s);
    free(m);
}

void modes_set_p(modes *m, int path, int mode, double p)
{
    CS_ASSERT(path >= 0 && path < m->npaths && mode >= 0 && mode < m->nmodes);
    m->p[path * m->nmodes + mode] = p;
    m->K[path * m->nmodes + mode] = modes_k_of_p(m, p);
}

void modes_set_k(modes *m, int path, int mode, double k)
{
    modes_set_p(m, path, mode, modes_p_of_k(m, k));
}

int modes_set_deficits(modes *m, const deficit_list *dl)
{
    m->ndef = 0;
    for (int i = 0; dl && i < dl->n; i++) {
        const deficit *d = &dl->d[i];
        int q, rc;
        long md = -1;
        if (d->kind != DEF_GATE && d->kind != DEF_LESION)
            return deficit_unsupported(d, "modes", "gate:P, lesion:P:MODE");
        if (d->nargs < 1)
            return util_seterr(CS_EUSAGE, "deficit '%s': name the pathway (e.g. gate:b@0-150)", d->text);
        if ((rc = deficit_arg_source(d, 0, m->npaths, &q))) return rc;
        if (d->kind == DEF_LESION) {
            if (d->nargs < 2)
                return util_seterr(CS_EUSAGE, "deficit '%s': name the mode (e.g. lesion:a:1@0-1000)",
                                   d->text);
            if ((rc = deficit_arg_long(d, 1, 0, m->nmodes - 1, &md))) return rc;
        }
        m->def_path[m->ndef] = q, m->def_mode[m->ndef] = (int)md;
        m->def_start[m->ndef] = d->start, m->def_end[m->ndef] = d->end;
        m->ndef++;
    }
    return CS_OK;
}

int modes_set_method(modes *m, modes_method meth, double dt, double epsabs, double epsrel)
{
    if (!(dt > 0)) return util_seterr(CS_EUSAGE, "modes_set_method.dt must be > 0");
    m->method = meth, m->dt = dt, m->epsabs = epsabs, m->epsrel = epsrel;
    if (meth == MODES_EULER || meth == MODES_EXACT) return CS_OK;
    const gsl_odeiv2_step_type *T = meth == MODES_RK8PD   ? gsl_odeiv2_step_rk8pd
                                    : meth == MODES_RKF45 ? gsl_odeiv2_step_rkf45
                                                          : gsl_odeiv2_step_msbdf;
    if (m->gsl) {
        gsl_odeiv2_driver_free(m->gsl->drv);
        free(m->gsl);
    }
    m->gsl = util_calloc(1, sizeof *m->gsl);
    m->gsl->sys = (gsl_odeiv2_system){rhs, jac, (size_t)(m->npaths * m->nmodes), m};
    m->gsl->drv = gsl_odeiv2_driver_alloc_y_new(&m->gsl->sys, T, dt * 1e-3, epsabs, epsrel);
    if (!m->gsl->drv) return util_seterr(CS_EUSAGE, "cannot allocate the GSL driver");
    gsl_odeiv2_driver_set_nmax(m->gsl->drv, 0);
    return CS_OK;
}

int modes_advance(modes *m, long t0, long t1, long *fail_step, int *fail_mode)
{
    CS_ASSERT(t0 <= t1);
    long fs = 0;
    int fm = 0, rc;
    if (!fail_step) fail_step = &fs;
    if (!fail_mode) fail_mode = &fm;
    switch (m->method) {
    case MODES_EULER:
        rc = advance_euler(m, t0, t1, fail_step, fail_mode);
        break;
    case MODES_EXACT:
        rc = advance_exact(m, t0, t1);
        break;
    default:
        rc = advance_flow(m, t0, t1, fail_step, fail_mode);
        break;
    }
    return rc;
}

double modes_loss(const modes *m)
{
    double l = 0;
    for (int a = 0; a < m->nmodes; a++) {
        double r = m->s[a];
        for (int q = 0; q < m->npaths; q++)
            r -= m->K[q * m->nmodes + a];
        l += r * r;
    }
    return 0.5 * l;
}

double modes_loss_without(const modes *m, int path)
{
    double l = 0;
    for (int a = 0; a < m->nmodes; a++) {
        double r = m->s[a];
        for (int q = 0; q < m->npaths; q++)
            if (q != path) r -= m->K[q * m->nmodes + a];
        l += r * r;
    }
    return 0.5 * l;
}

void modes_field(const modes *m, const double *K, double *dk)
{
    int nm = m->nmodes, n = m->npaths * nm;
    for (int i = 0; i < n; i++) {
        int a = i % nm;
        double om = m->s[a], p = modes_p_of_k(m, K[i]), dg, dkp, g, kk;
        for (int q = 0; q < m->npaths; q++)
            om -= K[q * nm + a];
        kernel_gk(m, &p, &g, &kk, 1);
        derivs(m, p, &dg, &dkp);
        dk[i] = dkp * g * om;
    }
}
