/* test_rsv.c - Relative Source Variance (rsv.h): exact values for units that read one source or both
 * symmetrically, closed form vs the official sampled estimator on random linear layers (within the
 * derived sampling error), Welford accumulation, and numpy.histogram's binning. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <string.h>

#include "check.h"
#include "rsv.h"
#include "util.h"

/* C = L L^T for lower-triangular L (n x n) */
static void gram_lower(int n, const double *L, double *C)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double d = 0.0;
            for (int k = 0; k < n; k++)
                d += L[i * n + k] * L[j * n + k];
            C[i * n + j] = d;
        }
}

/* a linear "network" over pre-drawn batches, for rsv_sampled's callback */
typedef struct {
    int nh, na, nb, batch;
    const double *Ha, *Hb, *Xa, *Xb; /* Xa: (n_batches, batch, na) */
} lin_ctx;

static void lin_eval(void *vc, int ia, int ib, float *z)
{
    const lin_ctx *c = vc;
    for (int j = 0; j < c->batch; j++)
        for (int i = 0; i < c->nh; i++) {
            const double *xa = c->Xa + ((size_t)ia * c->batch + j) * c->na;
            const double *xb = c->Xb + ((size_t)ib * c->batch + j) * c->nb;
            double d = 0;
            for (int l = 0; l < c->na; l++)
                d += c->Ha[i * c->na + l] * xa[l];
            for (int l = 0; l < c->nb; l++)
                d += c->Hb[i * c->nb + l] * xb[l];
            z[(size_t)j * c->nh + i] = (float)d;
        }
}

int main(void)
{
    /* ---- exact cases ---- */
    {
        enum { NH = 5, NA = 3, NB = 3 };
        double Ha[NH * NA] = {0}, Hb[NH * NB] = {0}, rsv[NH], sa[NH], sb[NH];
        Ha[0 * NA + 0] = 1.0;
        Ha[0 * NA + 2] = -2.0; /* unit 0 reads only a */
        Hb[1 * NB + 1] = 0.3;  /* unit 1 reads only b */
        for (int j = 0; j < 3; j++)
            Ha[2 * NA + j] = Hb[2 * NB + j] = 0.1 * (j + 1); /* unit 2 symmetric */
        /* unit 3 dead; unit 4 reads b with 3x the variance of a: RSV = (3 - 1)/(3 + 1) = 0.5 */
        Ha[4 * NA + 0] = 1.0;
        Hb[4 * NB + 0] = 1.0;
        Hb[4 * NB + 1] = 1.0;
        Hb[4 * NB + 2] = 1.0;
        rsv_linear(NH, NA, Ha, NULL, NB, Hb, NULL, rsv, sa, sb);
        CHECK_CLOSE(rsv[0], -1.0, 0, 0); /* exact: SV_b = 0 exactly */
        CHECK_CLOSE(rsv[1], 1.0, 0, 0);
        CHECK_CLOSE(rsv[2], 0.0, 0, 0);     /* identical rows: identical sums, exactly 0 */
        CHECK(isnan(rsv[3]));               /* dead unit */
        CHECK_CLOSE(rsv[4], 0.5, 0, 1e-15); /* one rounding in the ratio */
        CHECK_CLOSE(sa[0], 5.0, 0, 0);
        CHECK_CLOSE(sb[4], 3.0, 0, 0);
        /* with covariances: C_a = 4 I and h_a = h_b / 2 gives equal variances -> 0 */
        double Ca[9] = {4, 0, 0, 0, 4, 0, 0, 0, 4}, ha[3] = {0.5, -1.0, 0.25}, hb[3] = {1.0, -2.0, 0.5}, r1;
        rsv_linear(1, 3, ha, Ca, 3, hb, NULL, &r1, NULL, NULL);
        CHECK_CLOSE(r1, 0.0, 0, 1e-15); /* equal up to rounding of two 3-term sums */
        /* a correlated C_a changes SV_a as h^T C h: h = (1, 1), C = [[1, .5], [.5, 1]] -> 3 */
        double C2[4] = {1, 0.5, 0.5, 1}, h2[2] = {1, 1}, g2[1] = {sqrt(3.0)}, sa2, sb2;
        rsv_linear(1, 2, h2, C2, 1, g2, NULL, &r1, &sa2, &sb2);
        CHECK_CLOSE(sa2, 3.0, 0, 1e-15);
        CHECK_CLOSE(r1, 0.0, 0, 1e-15); /* sqrt(3)^2 = 3 up to one rounding */
        CHECK(isnan(rsv_value(0.0, 0.0)));
        CHECK_CLOSE(rsv_value(1.0, 3.0), 0.5, 0, 0);
    }

    /* ---- conditional variances: x_a = x0 + n_a, x_b = x0 + n_b (the synthetic calibration of
     * docs/theory.md#relative-source-variance), Var x0 = v0, Var n_P = vn: Var x_P = v0 + vn, Cov(x_a,
     * x_b) = v0.  For z = w x_a + (1 - w) x_b the calibration script's formula is Var(z | x_b) = Var
     * z - Cov(z, x_b)^2 / Var x_b, which must equal w^2 (C_aa - C_ab^2 / C_bb) from the Schur
     * complement. ---- */
    {
        double v0 = 1.0, vn = 0.7, C[4] = {v0 + vn, v0, v0, v0 + vn}, Cab, Cba;
        CHECK_INT(rsv_conditional_cov(1, 1, C, &Cab, &Cba), CS_OK);
        double w = 0.3, vz = w * w * C[0] + (1 - w) * (1 - w) * C[3] + 2 * w * (1 - w) * v0;
        double cov_zb = w * v0 + (1 - w) * C[3], cov_za = w * C[0] + (1 - w) * v0;
        double ha = w, hb = 1 - w, sva, svb, r;
        rsv_linear(1, 1, &ha, &Cab, 1, &hb, &Cba, &r, &sva, &svb);
        CHECK_CLOSE(sva, vz - cov_zb * cov_zb / C[3], 1e-14, 0); /* a few roundings of O(1) terms */
        CHECK_CLOSE(svb, vz - cov_za * cov_za / C[0], 1e-14, 0);
        /* independent sources: conditional = marginal; singular C_bb (a zero-variance input) is handled
         * by the pseudo-inverse */
        double D[9] = {2, 0, 0, 0, 3, 0, 0, 0, 0}, Ca[1], Cb[4];
        CHECK_INT(rsv_conditional_cov(1, 2, D, Ca, Cb), CS_OK);
        CHECK_CLOSE(Ca[0], 2.0, 1e-15, 0);
        CHECK_CLOSE(Cb[0], 3.0, 1e-15, 0);
        CHECK_CLOSE(Cb[3], 0.0, 0, 1e-15);
        /* fully redundant sources (x_a = x_b): nothing is left when the other is fixed */
        double E[4] = {1, 1, 1, 1};
        CHECK_INT(rsv_conditional_cov(1, 1, E, Ca, Cb), CS_OK);
        CHECK_CLOSE(Ca[0], 0.0, 0, 1e-14);
    }

    /* ---- Welford vs two-pass ---- */
    {
        enum { NU = 3, NK = 1000 };
        static double z[NK][NU];
        static float zf[NK][NU];
        rsv_acc *a = rsv_acc_alloc(NU), *af = rsv_acc_alloc(NU);
        for (int k = 0; k < NK; k++)
            for (int u = 0; u < NU; u++) {
                z[k][u] = 1e6 * (u + 1) + sin(0.37 * k * (u + 1)); /* large mean */
                zf[k][u] = (float)(0.5 * u + cos(0.11 * k));
            }
        for (int k = 0; k < NK; k++) {
            rsv_acc_add(a, z[k]);
            rsv_acc_add_f(af, zf[k]);
        }
        CHECK_INT(rsv_acc_count(a), NK);
        double v[NU], vf[NU];
        rsv_acc_var(a, v);
        rsv_acc_var(af, vf);
        for (int u = 0; u < NU; u++) {
            double m = 0, s = 0, mf = 0, sf = 0;
            for (int k = 0; k < NK; k++)
                m += z[k][u], mf += zf[k][u];
            m /= NK;
            mf /= NK;
            for (int k = 0; k < NK; k++)
                s += (z[k][u] - m) * (z[k][u] - m), sf += (zf[k][u] - mf) * (zf[k][u] - mf);
            /* Welford's error grows like eps * |mean| / sd per step: 1e-16 * 3e6 / 0.7 ~ 4e-10 relative */
            CHECK_CLOSE(v[u], s / NK, 1e-8, 0);
            CHECK_CLOSE(vf[u], sf / NK, 1e-12, 0); /* float inputs, double accumulation: no large mean */
        }
        rsv_acc_reset(a);
        CHECK_INT(rsv_acc_count(a), 0);
        rsv_acc_free(a);
        rsv_acc_free(af);
        rsv_acc_free(NULL);
    }

    /* ---- closed form vs the official sampled estimator on random linear layers ----
     * Error bound: for a unit sample, z over the n_batches draws is Gaussian, so each population
     * variance estimate has relative error eps with sd sqrt(2/N) (N = n_batches), and the two
     * estimates (different draws) are independent.  RSV = (b - a)/(a + b) has
     * dRSV = 2ab/(a+b)^2 (eps_b - eps_a) = (1 - RSV^2)/2 (eps_b - eps_a), so
     *     sd(RSV_sampled - RSV) = (1 - RSV^2) / sqrt(N),
     * plus a bias of order 1/N from the nonlinearity of the ratio (the (N-1)/N factor cancels).
     * Checks: (1) every unit sample within 5.5 sd + 2/N (500 samples: a false alarm has probability
     * ~1e-5; the seed is fixed anyway); (2) the mean squared standardised error is 1 within 4 sd of
     * its chi-square spread sqrt(2/500) = 0.063, so an estimator with the wrong variance (e.g. mixed
     * up passes, or sample means instead of variances) fails; (3) the slot average per unit, 25
     * independent samples, within 5 sd / 5 + 2/N. */
    {
        enum { NH = 20, NA = 5, NB = 7, NBATCH = 400, SLOTS = 25 };
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 12345);
        for (int net = 0; net < 2; net++) {
            double Ha[NH * NA], Hb[NH * NB], La[NA * NA] = {0}, Lb[NB * NB] = {0}, Ca[NA * NA], Cb[NB * NB];
            for (int i = 0; i < NH; i++) {
                /* mixed dominance: scale rows so that RSV spreads over (-1, 1) */
                double sa = pow(10.0, (double)(i % 5 - 2) / 2.0);
                for (int j = 0; j < NA; j++)
                    Ha[i * NA + j] = sa * (gsl_rng_uniform(rng) - 0.5);
                for (int j = 0; j < NB; j++)
                    Hb[i * NB + j] = gsl_rng_uniform(rng) - 0.5;
            }
            for (int i = 0; i < NA; i++)
                for (int j = 0; j <= i; j++)
                    La[i * NA + j] = i == j ? 1.0 + gsl_rng_uniform(rng) : 0.3 * (gsl_rng_uniform(rng) - 0.5);
            for (int i = 0; i < NB; i++)
                for (int j = 0; j <= i; j++)
                    Lb[i * NB + j] = i == j ? 0.5 + gsl_rng_uniform(rng) : 0.3 * (gsl_rng_uniform(rng) - 0.5);
            gram_lower(NA, La, Ca);
            gram_lower(NB, Lb, Cb);
            double exact[NH], sv_a[NH], sv_b[NH];
            rsv_linear(NH, NA, Ha, net ? Ca : NULL, NB, Hb, net ? Cb : NULL, exact, sv_a, sv_b);
            static double samp[SLOTS * NH];
            rsv_sampled_linear(rng, NH, NA, Ha, net ? La : NULL, NB, Hb, net ? Lb : NULL, NBATCH, SLOTS, samp,
                               NULL, NULL);
            double worst = 0.0, msq = 0.0;
            int bad_slot = 0, bad_mean = 0;
            for (int i = 0; i < NH; i++) {
                double sd = (1.0 - exact[i] * exact[i]) / sqrt((double)NBATCH), mean = 0.0;
                for (int j = 0; j < SLOTS; j++) {
                    double e = samp[j * NH + i] - exact[i];
                    mean += samp[j * NH + i] / SLOTS;
                    if (fabs(e) > 5.5 * sd + 2.0 / NBATCH) bad_slot++;
                    if (fabs(e) / sd > worst) worst = fabs(e) / sd;
                    msq += (e / sd) * (e / sd) / (SLOTS * NH);
                }
                if (fabs(mean - exact[i]) > 5.0 * sd / sqrt((double)SLOTS) + 2.0 / NBATCH) bad_mean++;
            }
            printf("  rsv sampled vs closed form (net %d): worst %.2f sd, mean squared standardised error "
                   "%.3f\n",
                   net, worst, msq);
            CHECK_INT(bad_slot, 0);
            CHECK_INT(bad_mean, 0);
            CHECK_CLOSE(msq, 1.0, 0, 0.25);
            /* the spread of the test itself: RSV really spans dominance by a and by b */
            double lo = 1, hi = -1;
            for (int i = 0; i < NH; i++)
                lo = fmin(lo, exact[i]), hi = fmax(hi, exact[i]);
            CHECK(lo < -0.5 && hi > 0.3);
        }
        /* the generic callback protocol (float representation, batches indexed as in [C1]) on a
         * white-input linear layer: same bound, plus float rounding (1e-7 relative, negligible) */
        {
            enum { NB2 = 200, SL2 = 10, NH2 = 6, NA2 = 3, NB3 = 4 };
            static double Xa[NB2 * SL2 * NA2], Xb[NB2 * SL2 * NB3];
            double Ha[NH2 * NA2], Hb[NH2 * NB3], exact[NH2], got[SL2 * NH2];
            for (int i = 0; i < NH2 * NA2; i++)
                Ha[i] = (i % NA2 == 0 ? 0.2 * (i / NA2) : 0.3) * (gsl_rng_uniform(rng) - 0.5);
            for (int i = 0; i < NH2 * NB3; i++)
                Hb[i] = gsl_rng_uniform(rng) - 0.5;
            for (int i = 0; i < NB2 * SL2 * NA2; i++)
                Xa[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
            for (int i = 0; i < NB2 * SL2 * NB3; i++)
                Xb[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
            rsv_linear(NH2, NA2, Ha, NULL, NB3, Hb, NULL, exact, NULL, NULL);
            lin_ctx c = {NH2, NA2, NB3, SL2, Ha, Hb, Xa, Xb};
            rsv_sampled(&c, lin_eval, NB2, (size_t)SL2 * NH2, got, NULL, NULL);
            int bad = 0;
            for (int j = 0; j < SL2; j++)
                for (int i = 0; i < NH2; i++) {
                    double sd = (1 - exact[i] * exact[i]) / sqrt((double)NB2);
                    if (fabs(got[j * NH2 + i] - exact[i]) > 5.5 * sd + 2.0 / NB2) bad++;
                }
            CHECK_INT(bad, 0);
        }
        /* the sampled estimator gives exactly -1 / +1 for units reading one source */
        double Ha[2 * 2] = {1, 2, 0, 0}, Hb[2 * 2] = {0, 0, 3, -1}, s4[3 * 2];
        rsv_sampled_linear(rng, 2, 2, Ha, NULL, 2, Hb, NULL, 10, 3, s4, NULL, NULL);
        CHECK_CLOSE(s4[0], -1.0, 0, 0);
        CHECK_CLOSE(s4[5], 1.0, 0, 0);
        gsl_rng_free(rng);
    }

    /* ---- histogram: numpy.histogram(x, bins=numpy.linspace(-1.15, 1.15, 40)) ---- */
    {
        double e[RSV_NEDGES];
        rsv_hist_edges(e);
        CHECK_CLOSE(e[0], -1.15, 0, 0);
        CHECK_CLOSE(e[RSV_NEDGES - 1], 1.15, 0, 0);
        /* reference values printed by numpy 1.24 (repr): linspace is start + i * step */
        CHECK_CLOSE(e[5], -0.855128205128205, 0, 0);
        CHECK_CLOSE(e[20], 0.029487179487179604, 0, 0);
        CHECK_CLOSE(e[38], 1.0910256410256411, 0, 0);
        double x[] = {-1.15, -1.0,  -0.5,
                      0.0,   1e-17, 0.5,
                      0.8,   1.0,   1.15,
                      e[5],  e[20], nextafter(e[20], -2),
                      -0.0,  e[38], nextafter(e[38], -2),
                      NAN,   1.2,   -1.3};
        /* bin of each value according to numpy (same script); -1 = left out */
        int want[] = {0, 2, 11, 19, 19, 27, 33, 36, 38, 5, 20, 19, 19, 38, 37, -1, -1, -1};
        int n = (int)(sizeof x / sizeof x[0]);
        long counts[RSV_NBINS], all[RSV_NBINS] = {0};
        int agree = 1;
        for (int i = 0; i < n; i++) {
            size_t out = rsv_hist(1, &x[i], counts);
            int got = -1;
            for (int b = 0; b < RSV_NBINS; b++)
                if (counts[b]) got = b;
            if (got != want[i] || (want[i] < 0) != (out == 1)) {
                printf("  histogram: value %.17g in bin %d, numpy puts it in %d\n", x[i], got, want[i]);
                agree = 0;
            }
            if (want[i] >= 0) all[want[i]]++;
        }
        CHECK(agree);
        size_t out = rsv_hist((size_t)n, x, counts);
        CHECK_INT(out, 3);
        int same = 1;
        for (int b = 0; b < RSV_NBINS; b++)
            same &= counts[b] == all[b];
        CHECK(same);
        long nf, ns, nn;
        rsv_count((size_t)n, x, &nf, &ns, &nn);
        /* |x| < 0.5: -0, 0, 1e-17, e[20], its neighbour = 5; |x| > 0.8: -1.15, -1, 1, 1.15, e[5], e[38],
         * its neighbour, 1.2, -1.3 = 9 (0.5 and 0.8 themselves are in neither) */
        CHECK_INT(nf, 5);
        CHECK_INT(ns, 9);
        CHECK_INT(nn, 1);
    }
    return check_done("test_rsv");
}
