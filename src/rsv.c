/* rsv.c - Relative Source Variance: closed form for linear layers, the official sampled estimator,
 * the official histogram binning (definitions and sign convention in rsv.h;
 * docs/theory.md#relative-source-variance).
 *
 * Mathematics: for z_i = h_{a,i} . x_a + h_{b,i} . x_b with x_a independent of the fixed x_b,
 * Var_{x_a}(z_i) = h_{a,i}^T C_a h_{a,i}.  The sampled version draws x_P = L_P xi, xi ~ N(0, I).
 * Welford's update: n += 1; d = z - mean; mean += d / n; m2 += d (z - mean); var = m2 / n.
 *
 * Non-goals: see rsv.h.
 */
#include "rsv.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "linalg.h"
#include "util.h"

double rsv_value(double sv_a, double sv_b)
{
    double s = sv_a + sv_b;
    if (!(s > 0.0) || !isfinite(s)) return NAN;
    return (sv_b - sv_a) / s;
}

/* h^T C h for a row h (n) and C (n x n) or the identity. */
static double quad(int n, const double *h, const double *C)
{
    double acc = 0.0;
    if (!C) {
        for (int j = 0; j < n; j++)
            acc += h[j] * h[j];
        return acc;
    }
    for (int j = 0; j < n; j++) {
        double d = 0.0;
        for (int l = 0; l < n; l++)
            d += C[(size_t)j * n + l] * h[l];
        acc += h[j] * d;
    }
    return acc;
}

void rsv_linear(int n_hidden, int n_a, const double *H_a, const double *C_a, int n_b, const double *H_b,
                const double *C_b, double *rsv, double *sv_a, double *sv_b)
{
    for (int i = 0; i < n_hidden; i++) {
        double va = quad(n_a, H_a + (size_t)i * n_a, C_a);
        double vb = quad(n_b, H_b + (size_t)i * n_b, C_b);
        rsv[i] = rsv_value(va, vb);
        if (sv_a) sv_a[i] = va;
        if (sv_b) sv_b[i] = vb;
    }
}

/* ---- conditional covariances ---------------------------------------------------------------- */

/* S = C_xx - C_xy C_yy^+ C_yx for the blocks at offsets ox (size nx) and oy (size ny) of C (n x n). */
static int schur(int n, const double *C, int ox, int nx, int oy, int ny, double *S)
{
    double *Cyy = util_malloc((size_t)ny * ny * sizeof *Cyy), *W = util_malloc((size_t)ny * ny * sizeof *W);
    double *sv = util_malloc((size_t)ny * sizeof *sv), *P = util_malloc((size_t)ny * ny * sizeof *P);
    for (int i = 0; i < ny; i++)
        for (int j = 0; j < ny; j++)
            Cyy[i * ny + j] = C[(size_t)(oy + i) * n + oy + j];
    int rc = linalg_svd(ny, ny, Cyy, W, sv, NULL); /* symmetric PSD: C_yy = W diag(sv) W^T */
    if (rc == CS_OK) {
        double cut = 1e-12 * (ny > 0 ? sv[0] : 0.0);
        for (int i = 0; i < ny; i++)
            for (int j = 0; j < ny; j++) {
                double d = 0.0;
                for (int k = 0; k < ny; k++)
                    if (sv[k] > cut) d += W[i * ny + k] * W[j * ny + k] / sv[k];
                P[i * ny + j] = d;
            }
        for (int i = 0; i < nx; i++)
            for (int j = 0; j < nx; j++) {
                double d = 0.0;
                for (int k = 0; k < ny; k++) {
                    double cik = C[(size_t)(ox + i) * n + oy + k], t = 0.0;
                    for (int l = 0; l < ny; l++)
                        t += P[k * ny + l] * C[(size_t)(oy + l) * n + ox + j];
                    d += cik * t;
                }
                S[i * nx + j] = C[(size_t)(ox + i) * n + ox + j] - d;
            }
    }
    free(Cyy);
    free(W);
    free(sv);
    free(P);
    return rc;
}

int rsv_conditional_cov(int n_a, int n_b, const double *C, double *Ca_b, double *Cb_a)
{
    int n = n_a + n_b;
    int rc = schur(n, C, 0, n_a, n_a, n_b, Ca_b);
    if (rc == CS_OK) rc = schur(n, C, n_a, n_b, 0, n_a, Cb_a);
    return rc;
}

/* ---- Welford accumulator -------------------------------------------------------------------- */

struct rsv_acc {
    size_t n_units, count;
    double *mean, *m2;
};

rsv_acc *rsv_acc_alloc(size_t n_units)
{
    rsv_acc *a = util_calloc(1, sizeof *a);
    a->n_units = n_units;
    a->mean = util_calloc(n_units ? n_units : 1, sizeof *a->mean);
    a->m2 = util_calloc(n_units ? n_units : 1, sizeof *a->m2);
    return a;
}

void rsv_acc_free(rsv_acc *a)
{
    if (!a) return;
    free(a->mean);
    free(a->m2);
    free(a);
}

void rsv_acc_reset(rsv_acc *a)
{
    a->count = 0;
    memset(a->mean, 0, a->n_units * sizeof *a->mean);
    memset(a->m2, 0, a->n_units * sizeof *a->m2);
}

void rsv_acc_add(rsv_acc *a, const double *z)
{
    a->count++;
    double inv = 1.0 / (double)a->count;
    for (size_t i = 0; i < a->n_units; i++) {
        double d = z[i] - a->mean[i];
        a->mean[i] += d * inv;
        a->m2[i] += d * (z[i] - a->mean[i]);
    }
}

void rsv_acc_add_f(rsv_acc *a, const float *z)
{
    a->count++;
    double inv = 1.0 / (double)a->count;
    for (size_t i = 0; i < a->n_units; i++) {
        double zi = (double)z[i], d = zi - a->mean[i];
        a->mean[i] += d * inv;
        a->m2[i] += d * (zi - a->mean[i]);
    }
}

size_t rsv_acc_count(const rsv_acc *a)
{
    return a->count;
}

void rsv_acc_var(const rsv_acc *a, double *var)
{
    for (size_t i = 0; i < a->n_units; i++)
        var[i] = a->count ? a->m2[i] / (double)a->count : NAN;
}

/* ---- sampled protocol on a linear layer ----------------------------------------------------- */

/* X (batch x n) = xi L^T, xi standard normal: each row is one sample x = L xi. */
static void draw(gsl_rng *rng, int batch, int n, const double *L, double *xi, double *X)
{
    for (int j = 0; j < batch; j++) {
        double *x = X + (size_t)j * n, *e = xi;
        for (int l = 0; l < n; l++)
            e[l] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        if (!L) {
            memcpy(x, e, (size_t)n * sizeof *x);
            continue;
        }
        for (int r = 0; r < n; r++) {
            double d = 0.0;
            for (int l = 0; l <= r; l++)
                d += L[(size_t)r * n + l] * e[l];
            x[r] = d;
        }
    }
}

/* Z (batch x n_hidden) = X_a H_a^T + X_b H_b^T */
static void layer(int batch, int n_hidden, int n_a, const double *H_a, const double *Xa, int n_b,
                  const double *H_b, const double *Xb, double *Z)
{
    for (int j = 0; j < batch; j++)
        for (int i = 0; i < n_hidden; i++) {
            double d = 0.0;
            const double *ha = H_a + (size_t)i * n_a, *xa = Xa + (size_t)j * n_a;
            const double *hb = H_b + (size_t)i * n_b, *xb = Xb + (size_t)j * n_b;
            for (int l = 0; l < n_a; l++)
                d += ha[l] * xa[l];
            for (int l = 0; l < n_b; l++)
                d += hb[l] * xb[l];
            Z[(size_t)j * n_hidden + i] = d;
        }
}

void rsv_sampled_linear(gsl_rng *rng, int n_hidden, int n_a, const double *H_a, const double *L_a, int n_b,
                        const double *H_b, const double *L_b, int n_batches, int batch, double *rsv,
                        double *sv_a, double *sv_b)
{
    CS_ASSERT(n_batches >= 2 && batch >= 1 && n_hidden >= 1);
    size_t nu = (size_t)batch * n_hidden;
    int nmax = n_a > n_b ? n_a : n_b;
    double *xi = util_malloc((size_t)nmax * sizeof *xi);
    double *Xa = util_malloc((size_t)batch * n_a * sizeof *Xa);
    double *Xb = util_malloc((size_t)batch * n_b * sizeof *Xb);
    double *Z = util_malloc(nu * sizeof *Z);
    double *vfa = util_malloc(nu * sizeof *vfa), *vfb = util_malloc(nu * sizeof *vfb);
    rsv_acc *acc = rsv_acc_alloc(nu);
    /* pass "fix a": x_a fixed, x_b varies -> SV_b */
    draw(rng, batch, n_a, L_a, xi, Xa);
    for (int k = 0; k < n_batches; k++) {
        draw(rng, batch, n_b, L_b, xi, Xb);
        layer(batch, n_hidden, n_a, H_a, Xa, n_b, H_b, Xb, Z);
        rsv_acc_add(acc, Z);
    }
    rsv_acc_var(acc, vfa);
    /* pass "fix b": x_b fixed (the last batch of the previous pass, as in [C1]), x_a varies -> SV_a */
    rsv_acc_reset(acc);
    for (int k = 0; k < n_batches; k++) {
        draw(rng, batch, n_a, L_a, xi, Xa);
        layer(batch, n_hidden, n_a, H_a, Xa, n_b, H_b, Xb, Z);
        rsv_acc_add(acc, Z);
    }
    rsv_acc_var(acc, vfb);
    for (size_t u = 0; u < nu; u++) {
        rsv[u] = rsv_value(vfb[u], vfa[u]);
        if (sv_a) sv_a[u] = vfb[u];
        if (sv_b) sv_b[u] = vfa[u];
    }
    rsv_acc_free(acc);
    free(xi);
    free(Xa);
    free(Xb);
    free(Z);
    free(vfa);
    free(vfb);
}

void rsv_sampled(void *ctx, rsv_eval_fn eval, int n_batches, size_t n_units, double *rsv, double *sv_a,
                 double *sv_b)
{
    CS_ASSERT(n_batches >= 2 && n_units >= 1);
    float *z = util_malloc(n_units * sizeof *z);
    double *vfa = util_malloc(n_units * sizeof *vfa), *vfb = util_malloc(n_units * sizeof *vfb);
    rsv_acc *acc = rsv_acc_alloc(n_units);
    for (int k = 0; k < n_batches; k++) { /* fix a: SV_b */
        eval(ctx, n_batches - 1, k, z);
        rsv_acc_add_f(acc, z);
    }
    rsv_acc_var(acc, vfa);
    rsv_acc_reset(acc);
    for (int k = 0; k < n_batches; k++) { /* fix b: SV_a */
        eval(ctx, k, n_batches - 1, z);
        rsv_acc_add_f(acc, z);
    }
    rsv_acc_var(acc, vfb);
    for (size_t u = 0; u < n_units; u++) {
        rsv[u] = rsv_value(vfb[u], vfa[u]);
        if (sv_a) sv_a[u] = vfb[u];
        if (sv_b) sv_b[u] = vfa[u];
    }
    rsv_acc_free(acc);
    free(z);
    free(vfa);
    free(vfb);
}

/* ---- histogram ------------------------------------------------------------------------------ */

void rsv_hist_edges(double *edges)
{
    /* numpy.linspace: step = (stop - start) / (num - 1); y = start + i * step; y[-1] = stop */
    double step = (RSV_HI - RSV_LO) / (double)(RSV_NEDGES - 1);
    for (int i = 0; i < RSV_NEDGES; i++)
        edges[i] = RSV_LO + i * step;
    edges[RSV_NEDGES - 1] = RSV_HI;
}

size_t rsv_hist(size_t n, const double *x, long *counts)
{
    double e[RSV_NEDGES];
    rsv_hist_edges(e);
    memset(counts, 0, RSV_NBINS * sizeof *counts);
    size_t out = 0;
    for (size_t u = 0; u < n; u++) {
        double v = x[u];
        if (!(v >= e[0] && v <= e[RSV_NEDGES - 1])) {
            out++;
            continue;
        }
        int b = (int)((v - e[0]) / (e[RSV_NEDGES - 1] - e[0]) * RSV_NBINS);
        if (b >= RSV_NBINS) b = RSV_NBINS - 1;
        /* numpy's correction against the actual edges */
        if (b > 0 && v < e[b]) b--;
        if (b < RSV_NBINS - 1 && v >= e[b + 1]) b++;
        counts[b]++;
    }
    return out;
}

void rsv_count(size_t n, const double *x, long *n_fused, long *n_single, long *n_nan)
{
    long f = 0, s = 0, z = 0;
    for (size_t u = 0; u < n; u++) {
        if (isnan(x[u]))
            z++;
        else if (fabs(x[u]) < 0.5)
            f++;
        else if (fabs(x[u]) > 0.8)
            s++;
    }
    *n_fused = f;
    *n_single = s;
    *n_nan = z;
}
