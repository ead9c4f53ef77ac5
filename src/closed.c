/* closed.c - closed forms of the per-mode flow (docs/theory.md#closed-forms); see closed.h for the
 * mathematics.
 * Non-goals: large-init trajectories; learning from above (K0 > s) for D >= 3.
 */
#include "closed.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_hyperg.h>
#include <math.h>

#include "util.h"

double closed_d1(double s, double k0, double t)
{
    return s + (k0 - s) * exp(-t);
}

double closed_d2(double s, double k0, double t)
{
    double e = exp(-2 * s * t);
    double phi = (s == 0) ? 2 * t : -expm1(-2 * s * t) / s;
    return k0 / (e + k0 * phi);
}

/* F(z) = 2F1(1, 2/D; 1 + 2/D; z), 0 <= z < 1 */
static int hyp(int depth, double z, double *f)
{
    double b = 2.0 / depth;
    gsl_sf_result r;
    int st = gsl_sf_hyperg_2F1_e(1.0, b, 1.0 + b, z, &r);
    if (st != GSL_SUCCESS || !isfinite(r.val))
        return util_seterr(CS_EFAIL, "2F1(1,%g;%g;%g) failed: %s", b, 1 + b, z, gsl_strerror(st));
    *f = r.val;
    return CS_OK;
}

/* antiderivative A(p) of 1/(p^(D-1) (s - p^D)), D >= 3, 0 < p^D < s */
static int antider(int depth, double s, double p, double *a)
{
    double f = NAN;
    int rc = hyp(depth, pow(p, depth) / s, &f);
    if (rc) return rc;
    *a = pow(p, 2.0 - depth) / ((2.0 - depth) * s) + p * p * f / (2 * s * s);
    return CS_OK;
}

int closed_time(int depth, double s, double k0, double k, double *t)
{
    if (depth == 1) {
        if ((k0 - s) * (k - s) <= 0 && k != k0)
            return util_seterr(CS_EUSAGE, "K does not reach %g from %g", k, k0);
        *t = (k == k0) ? 0 : log((k0 - s) / (k - s));
        return CS_OK;
    }
    if (!(s > 0 && k0 > 0 && k0 < s && k >= k0 && k < s))
        return util_seterr(CS_EUSAGE, "closed form needs 0 < K0 <= K < s (got K0 = %g, K = %g, s = %g)", k0,
                           k, s);
    if (depth == 2) {
        *t = log(k * (s - k0) / (k0 * (s - k))) / (2 * s);
        return CS_OK;
    }
    double a0, a1;
    int rc = antider(depth, s, pow(k0, 1.0 / depth), &a0);
    if (!rc) rc = antider(depth, s, pow(k, 1.0 / depth), &a1);
    if (rc) return rc;
    *t = a1 - a0;
    return CS_OK;
}

int closed_k(int depth, double s, double k0, double t, double *k)
{
    if (depth == 1) {
        *k = closed_d1(s, k0, t);
        return CS_OK;
    }
    if (depth == 2) {
        *k = closed_d2(s, k0, t);
        return CS_OK;
    }
    /* converged to rounding (K0 = s up to a few ulps): the fixed point K = s */
    if (s > 0 && fabs(k0 - s) <= 1e-13 * s && t >= 0) {
        *k = k0;
        return CS_OK;
    }
    if (!(s > 0 && k0 > 0 && k0 < s && t >= 0))
        return util_seterr(CS_EUSAGE,
                           "exact: depth %d needs 0 < K0 < s (got K0 = %g, s = %g); use an integrator", depth,
                           k0, s);
    double p0 = pow(k0, 1.0 / depth), a0, lo = p0, hi = pow(s, 1.0 / depth);
    int rc = antider(depth, s, p0, &a0);
    if (rc) return rc;
    /* t(p) increases from 0 at p0 to infinity at s^(1/D): bisection to the last bit */
    for (int it = 0; it < 200 && lo < hi; it++) {
        double mid = 0.5 * (lo + hi), a;
        if (mid <= lo || mid >= hi) break;
        rc = antider(depth, s, mid, &a);
        if (rc) return rc;
        if (a - a0 < t)
            lo = mid;
        else
            hi = mid;
    }
    *k = pow(0.5 * (lo + hi), depth);
    return CS_OK;
}

double closed_invariant(int depth, double ka, double kb)
{
    if (depth == 1) return ka - kb;
    if (depth == 2) return ka / kb;
    double e = (2.0 - depth) / depth;
    return pow(ka, e) - pow(kb, e);
}

/* G_c(p) = p c^-a 2F1(a, 1/2; 3/2; -p^2/c), a = (D-1)/2, through the Pfaff transformation
 * 2F1(a, 1/2; 3/2; z) = (1 - z)^(-1/2) 2F1(3/2 - a, 1/2; 3/2; z/(z-1)) so the argument is in [0, 1). */
static double gc(int depth, double c, double p)
{
    double a = 0.5 * (depth - 1), z = -p * p / c;
    gsl_sf_result r;
    if (gsl_sf_hyperg_2F1_e(1.5 - a, 0.5, 1.5, z / (z - 1), &r) != GSL_SUCCESS) return NAN;
    return p * pow(c, -a) * r.val / sqrt(1 - z);
}

double closed_invariant_large(int depth, double c, double pa, double pb)
{
    return gc(depth, c, pa) - gc(depth, c, pb);
}

double closed_share_early(int depth, double s, double delta)
{
    if (depth == 1) return (1 - delta) / 2;
    if (depth == 2) return 1 / (1 + exp(2 * s * delta));
    double e = (2.0 - depth) / depth, rhs = (depth - 2) * s * delta, lo = 0, hi = s / 2;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        double f = pow(mid, e) - pow(s - mid, e) - rhs; /* decreasing in mid */
        if (f > 0)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi) / s;
}
