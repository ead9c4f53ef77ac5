/* test_modes.c - the per-mode engine (modes.h): Euler recurrence, GSL flow on every stepper and the
 * closed forms against each other; conserved quantities; the exact D = 2 Euler identities; Euler ->
 * flow first-order convergence; the spec's reduced-theory targets L4-L8. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "check.h"
#include "closed.h"
#include "deficit.h"
#include "modes.h"
#include "util.h"

static const double HIER[8] = {
    3.872983346207417, 2.6457513110645907, 1.7320508075688772, 1.7320508075688772, 1, 1, 1, 1};

/* build an engine; defs: NULL-terminated deficit specs */
static modes *mk(int D, int np, int nm, modes_param par, const double *s, double k0, modes_method meth,
                 double dt, double tol, const char *const *defs)
{
    modes *m = modes_alloc(D, nm, np, par, 1.0, s);
    deficit_list dl = {0};
    for (int i = 0; defs && defs[i]; i++)
        CS_ASSERT(deficit_parse(defs[i], &dl.d[dl.n++]) == CS_OK);
    CS_ASSERT(modes_set_deficits(m, &dl) == CS_OK);
    CS_ASSERT(modes_set_method(m, meth, dt, tol, tol) == CS_OK);
    for (int q = 0; q < np; q++)
        for (int a = 0; a < nm; a++)
            modes_set_k(m, q, a, k0);
    return m;
}

static double run_k(int D, double s, double k0, modes_method meth, double dt, long steps)
{
    modes *m = mk(D, 1, 1, MODES_SMALL, &s, k0, meth, dt, 1e-12, NULL);
    int rc = modes_advance(m, 0, steps, NULL, NULL);
    double k = rc ? NAN : m->K[0];
    modes_free(m);
    return k;
}

static double share(const modes *m, int a)
{
    return m->K[m->nmodes + a] / (m->K[a] + m->K[m->nmodes + a]);
}

int main(void)
{
    gsl_set_error_handler_off();
    const modes_method steppers[3] = {MODES_RK8PD, MODES_RKF45, MODES_MSBDF};

    /* 1. single pathway: every GSL stepper vs the closed form, D = 1..5, at t = 2 (s = 2, K0 = 0.05).
     * Tolerances 1e-12 per step; the global error of an adaptive driver is a few orders larger: 1e-8. */
    for (int D = 1; D <= 5; D++) {
        double s = 2, k0 = 0.05, want;
        CHECK(closed_k(D, s, k0, 2.0, &want) == CS_OK);
        for (int i = 0; i < 3; i++)
            CHECK_CLOSE(run_k(D, s, k0, steppers[i], 0.01, 200), want, 1e-8, 1e-10);
        /* the exact method is the closed form itself (1e-12: bisection + p <-> K round trips) */
        CHECK_CLOSE(run_k(D, s, k0, MODES_EXACT, 0.01, 200), want, 1e-12, 0);
    }
    /* 2. Euler -> flow, first order: error(dt) / error(dt/4) ~ 4 at fixed time t = 2, D = 1..4 (the
     * leading error term is O(dt); the ratio stays in [3.5, 4.5] once dt is small) */
    for (int D = 1; D <= 4; D++) {
        double s = 2, k0 = 0.05, want, e[3];
        CHECK(closed_k(D, s, k0, 2.0, &want) == CS_OK);
        for (int i = 0; i < 3; i++) {
            double dt = 0.01 / pow(4, i);
            e[i] = fabs(run_k(D, s, k0, MODES_EULER, dt, lround(2.0 / dt)) - want);
        }
        CHECK(e[0] / e[1] > 3.5 && e[0] / e[1] < 4.5);
        CHECK(e[1] / e[2] > 3.5 && e[1] / e[2] < 4.5);
        CHECK(e[2] < 2e-3 * want); /* dt = 6.25e-4: error well below the 1e-3 level */
    }
    /* 3. two pathways with a gate: exact closed forms per piece vs rk8pd (D = 1, 2 any split;
     * D = 3, 4 only symmetric, i.e. no deficit). Flow tolerance 1e-12 -> compare at 1e-8. */
    for (int D = 1; D <= 2; D++) {
        const char *defs[] = {"gate:b@0-37", "lesion:a:1@50-80", NULL};
        modes *ex = mk(D, 2, 3, MODES_SMALL, HIER, 0.01, MODES_EXACT, 0.01, 0, defs);
        modes *fl = mk(D, 2, 3, MODES_SMALL, HIER, 0.01, MODES_RK8PD, 0.01, 1e-12, defs);
        CHECK(modes_advance(ex, 0, 300, NULL, NULL) == CS_OK);
        CHECK(modes_advance(fl, 0, 300, NULL, NULL) == CS_OK);
        CHECK_ARRAY_CLOSE(ex->K, fl->K, 6, 1e-8, 1e-12);
        modes_free(ex), modes_free(fl);
    }
    for (int D = 3; D <= 4; D++) {
        modes *ex = mk(D, 2, 8, MODES_SMALL, HIER, 0.01, MODES_EXACT, 0.01, 0, NULL);
        modes *fl = mk(D, 2, 8, MODES_SMALL, HIER, 0.01, MODES_MSBDF, 0.01, 1e-12, NULL);
        CHECK(modes_advance(ex, 0, 400, NULL, NULL) == CS_OK);
        CHECK(modes_advance(fl, 0, 400, NULL, NULL) == CS_OK);
        CHECK_ARRAY_CLOSE(ex->K, fl->K, 16, 1e-7, 1e-10);
        modes_free(ex), modes_free(fl);
        /* asymmetric D >= 3 has no closed form: usage error, not a wrong answer */
        const char *defs[] = {"gate:b@0-10", NULL};
        ex = mk(D, 2, 1, MODES_SMALL, HIER, 0.01, MODES_EXACT, 0.01, 0, defs);
        CHECK(modes_advance(ex, 0, 20, NULL, NULL) == CS_EUSAGE);
        modes_free(ex);
    }

    /* 4. conserved quantities before and after a deficit (Euler: D = 1 and D = 2 exactly, 1e-12 relative
     * for rounding over ~1000 updates; flow: D = 3, 5 and large init to the integrator tolerance 1e-8) */
    for (int D = 1; D <= 2; D++) {
        const char *defs[] = {"gate:b@100-130", NULL};
        double s = 3;
        modes *m = mk(D, 2, 1, MODES_SMALL, &s, 0.01, MODES_EULER, 0.01, 0, defs);
        modes_set_k(m, 1, 0, 0.02);
        double i0 = closed_invariant(D, m->K[0], m->K[1]);
        CHECK(modes_advance(m, 0, 100, NULL, NULL) == CS_OK);
        CHECK_CLOSE(closed_invariant(D, m->K[0], m->K[1]), i0, 1e-12, 1e-15);
        CHECK(modes_advance(m, 100, 130, NULL, NULL) == CS_OK);
        double i1 = closed_invariant(D, m->K[0], m->K[1]);
        CHECK(fabs(i1 - i0) > 1e-3 * fabs(i0)); /* the gate changed it */
        CHECK(modes_advance(m, 130, 1000, NULL, NULL) == CS_OK);
        CHECK_CLOSE(closed_invariant(D, m->K[0], m->K[1]), i1, 1e-12, 1e-15);
        modes_free(m);
    }
    for (int D = 3; D <= 5; D += 2) {
        const char *defs[] = {"gate:b@5-20", NULL};
        double s = 3;
        modes *m = mk(D, 2, 1, MODES_SMALL, &s, 0.05, MODES_RK8PD, 0.01, 1e-13, defs);
        modes_set_k(m, 1, 0, 0.04);
        double i0 = closed_invariant(D, m->K[0], m->K[1]);
        CHECK(modes_advance(m, 0, 5, NULL, NULL) == CS_OK);
        CHECK_CLOSE(closed_invariant(D, m->K[0], m->K[1]), i0, 1e-8, 0);
        CHECK(modes_advance(m, 5, 20, NULL, NULL) == CS_OK);
        double i1 = closed_invariant(D, m->K[0], m->K[1]);
        CHECK(modes_advance(m, 20, 500, NULL, NULL) == CS_OK);
        CHECK_CLOSE(closed_invariant(D, m->K[0], m->K[1]), i1, 1e-8, 0);
        CHECK_CLOSE(m->K[0] + m->K[1], s, 1e-8, 0); /* converged onto K_a + K_b = s */
        modes_free(m);
    }
    { /* large init: G_c(p_a) - G_c(p_b) while both learn (rk8pd, 1e-8) */
        const char *defs[] = {"gate:b@0-15", NULL};
        double s = 10;
        modes *m = mk(5, 2, 1, MODES_LARGE, &s, 0, MODES_RK8PD, 0.001, 1e-13, defs);
        modes_set_p(m, 0, 0, 0.012), modes_set_p(m, 1, 0, -0.004);
        CHECK(modes_advance(m, 0, 15, NULL, NULL) == CS_OK);
        double i1 = closed_invariant_large(5, 1.0, m->p[0], m->p[1]);
        CHECK(modes_advance(m, 15, 1000, NULL, NULL) == CS_OK);
        CHECK_CLOSE(closed_invariant_large(5, 1.0, m->p[0], m->p[1]), i1, 1e-8, 1e-12);
        /* p <-> K round trip for large init (bisection to the last bit) */
        CHECK_CLOSE(modes_k_of_p(m, modes_p_of_k(m, 7.3)), 7.3, 1e-14, 0);
        CHECK_CLOSE(modes_p_of_k(m, modes_k_of_p(m, -0.37)), -0.37, 1e-14, 0);
        modes_free(m);
    }

    /* 5. exact D = 2 Euler identities: an ungated update keeps K_a/K_b; an update gating b multiplies it
     * by (1 + dt Omega_t)^2 (rounding only: 1e-14 per update) */
    {
        const char *defs[] = {"gate:b@3-9", NULL};
        double s = 10, dt = 0.01;
        modes *m = mk(2, 2, 1, MODES_SMALL, &s, 0, MODES_EULER, dt, 0, defs);
        modes_set_p(m, 0, 0, 0.005), modes_set_p(m, 1, 0, 0.003);
        double prod = 1, r0 = m->K[0] / m->K[1];
        int ok_ungated = 1;
        for (long t = 0; t < 12; t++) {
            double om = s - m->K[0] - m->K[1], before = m->K[0] / m->K[1];
            CHECK(modes_advance(m, t, t + 1, NULL, NULL) == CS_OK);
            double after = m->K[0] / m->K[1];
            if (t >= 3 && t < 9) {
                prod *= (1 + dt * om) * (1 + dt * om);
                CHECK_CLOSE(after / before, (1 + dt * om) * (1 + dt * om), 1e-14, 0);
            } else if (fabs(after / before - 1) > 4e-16)
                ok_ungated = 0;
        }
        CHECK(ok_ungated);
        CHECK_CLOSE(m->K[0] / m->K[1], r0 * prod, 1e-13, 0);
        modes_free(m);
    }

    /* 6. L7 (Fig. 7): D = 2, s = 10, p0 = 0.005, dt 0.01, 4 gated updates -> share ~ 0.3181, close to
     * 1/(1 + 1.1^8) = 0.318108 (which assumes Omega = s while gated: 1e-3); decreasing with D;
     * late gate -> 0.5 (1e-6). 10^6 updates each. */
    {
        double s = 10, prev = 1;
        for (int D = 2; D <= 4; D++) {
            const char *early[] = {"gate:b@0-4", NULL}, *late[] = {"gate:b@499999-509999", NULL};
            modes *m = mk(D, 2, 1, MODES_SMALL, &s, 0, MODES_EULER, 0.01, 0, early);
            modes_set_p(m, 0, 0, 0.005), modes_set_p(m, 1, 0, 0.005);
            CHECK(modes_advance(m, 0, 1000000, NULL, NULL) == CS_OK);
            if (D == 2) CHECK_CLOSE(share(m, 0), 1 / (1 + pow(1.1, 8)), 0, 1e-3);
            CHECK(share(m, 0) < prev);
            prev = share(m, 0);
            modes_free(m);
            m = mk(D, 2, 1, MODES_SMALL, &s, 0, MODES_EULER, 0.01, 0, late);
            modes_set_p(m, 0, 0, 0.005), modes_set_p(m, 1, 0, 0.005);
            CHECK(modes_advance(m, 0, 1000000, NULL, NULL) == CS_OK);
            CHECK_CLOSE(share(m, 0), 0.5, 0, 1e-6);
            modes_free(m);
        }
    }
    /* 7. L4 (Fig. 2): D = 4, hierarchical task, K0 = 0.01, dt 0.01, 1000 updates */
    {
        const char *e[] = {"gate:b@0-150", NULL}, *mi[] = {"gate:b@400-550", NULL},
                   *la[] = {"gate:b@750-900", NULL};
        modes *m = mk(4, 2, 8, MODES_SMALL, HIER, 0.01, MODES_EULER, 0.01, 0, e);
        CHECK(modes_advance(m, 0, 1000, NULL, NULL) == CS_OK);
        CHECK(share(m, 0) < 0.01 && share(m, 4) > share(m, 0)); /* strong modes lost, weak ones less */
        CHECK(modes_loss(m) < 1e-6);                            /* K_a + K_b -> s */
        modes_free(m);
        m = mk(4, 2, 8, MODES_SMALL, HIER, 0.01, MODES_EULER, 0.01, 0, mi);
        CHECK(modes_advance(m, 0, 1000, NULL, NULL) == CS_OK);
        CHECK_CLOSE(share(m, 0), 0.5, 0, 1e-3); /* learned before the deficit */
        CHECK(share(m, 4) < 0.3);               /* s = 1 modes, still learning, go to a */
        modes_free(m);
        m = mk(4, 2, 8, MODES_SMALL, HIER, 0.01, MODES_EULER, 0.01, 0, la);
        CHECK(modes_advance(m, 0, 1000, NULL, NULL) == CS_OK);
        double w[8] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, sh[8];
        for (int a = 0; a < 8; a++)
            sh[a] = share(m, a);
        CHECK_ARRAY_CLOSE(sh, w, 8, 0, 1e-3); /* late: no effect */
        modes_free(m);
    }
    /* 8. L5 (Fig. 3): D = 3, b gated [0,200), mode 1 of a lesioned all run: b learns mode 1 fully */
    {
        const char *defs[] = {"gate:b@0-200", "lesion:a:1@0-1000", NULL};
        modes *m = mk(3, 2, 8, MODES_SMALL, HIER, 0.01, MODES_EULER, 0.01, 0, defs);
        CHECK(modes_advance(m, 0, 1000, NULL, NULL) == CS_OK);
        CHECK_CLOSE(m->K[8 + 1], HIER[1], 1e-6, 0);
        CHECK_CLOSE(m->K[1], 0.01, 1e-12, 0); /* lesioned K_a frozen at init */
        CHECK(m->K[8 + 0] < 0.05);            /* little of mode 0 */
        modes_free(m);
    }
    /* 9. L6 (Fig. 1): large init c = 1, s = 10, dt 0.001, 1000 updates, 100 inits p ~ N(0, 0.01^2) per
     * pathway: mean share after gate [0,15) (critsim's gate:b@0-14) decreases with depth 2,5,8,13; after
     * the late gate [100,115) (gate:b@99-114) it is ~0.5 for D >= 5 (0.05: mean over 100 random draws) */
    {
        double s[100], prev = 1;
        int Ds[4] = {2, 5, 8, 13};
        for (int i = 0; i < 100; i++)
            s[i] = 10;
        for (int k = 0; k < 4; k++)
            for (int late = 0; late < 2; late++) {
                const char *defs[] = {late ? "gate:b@99-114" : "gate:b@0-14", NULL};
                modes *m = mk(Ds[k], 2, 100, MODES_LARGE, s, 0, MODES_EULER, 0.001, 0, defs);
                gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
                gsl_rng_set(r, 49827345);
                for (int i = 0; i < 100; i++) {
                    modes_set_p(m, 0, i, gsl_ran_gaussian(r, 0.01));
                    modes_set_p(m, 1, i, gsl_ran_gaussian(r, 0.01));
                }
                gsl_rng_free(r);
                CHECK(modes_advance(m, 0, 1000, NULL, NULL) == CS_OK);
                double mean = 0;
                for (int i = 0; i < 100; i++)
                    mean += share(m, i) / 100;
                if (!late) {
                    CHECK(mean < prev);
                    prev = mean;
                } else if (Ds[k] >= 5)
                    CHECK_CLOSE(mean, 0.5, 0, 0.05);
                modes_free(m);
            }
    }
    /* 9b. L9: a short early deficit (b gated for delta = 0.05) hurts more with depth and with s; for D = 1
     * the share is the same for every mode.  Continuous flow (rk8pd) from K0 = 1e-4 against the invariants
     * table (closed_share_early assumes K ~ 0 and Omega ~ s during the gap: agreement to ~1e-3 measured, 5e-3
     * allowed); Euler D = 1 modes agree with each other to 1e-4 (K0 offsets only). */
    {
        double prev[8], worst = 0;
        for (int D = 1; D <= 6; D++) {
            const char *defs[] = {"gate:b@0-5", NULL};
            modes *m = mk(D, 2, 8, MODES_SMALL, HIER, 1e-4, MODES_RK8PD, 0.01, 1e-11, defs);
            CHECK(modes_advance(m, 0, D <= 2 ? 3000 : 30000, NULL, NULL) == CS_OK);
            int mono_s = 1, mono_d = 1;
            for (int a = 0; a < 8; a++) {
                double sh = share(m, a), want = closed_share_early(D, HIER[a], 0.05);
                if (fabs(sh - want) > worst) worst = fabs(sh - want);
                if (a > 0 && D >= 2 && !(sh >= share(m, a - 1))) mono_s = 0; /* smaller s, less damage */
                if (D >= 2 && !(sh < prev[a])) mono_d = 0;                   /* deeper, more damage */
                prev[a] = sh;
            }
            CHECK(mono_s);
            CHECK(mono_d);
            if (D == 1) CHECK_CLOSE(share(m, 0), share(m, 7), 0, 1e-4);
            modes_free(m);
        }
        printf("L9: flow vs closed_share_early (delta = 0.05, D = 1..6, 8 modes): worst |diff| %.3g\n",
               worst);
        CHECK(worst < 5e-3);
    }
    /* 10. non-finite state: named at the exact step (replay) and the state before it is finite */
    {
        modes *m = mk(2, 2, 2, MODES_SMALL, (double[]){1e3, 1}, 1.0, MODES_EULER, 1.0, 0, NULL);
        long fs = -1;
        int fm = -1;
        CHECK(modes_advance(m, 0, 100000, &fs, &fm) == CS_EFAIL);
        CHECK_INT(fm, 0);
        modes_free(m);
        m = mk(2, 2, 2, MODES_SMALL, (double[]){1e3, 1}, 1.0, MODES_EULER, 1.0, 0, NULL);
        CHECK(fs > 1 && modes_advance(m, 0, fs - 1, NULL, NULL) == CS_OK);
        CHECK(isfinite(m->K[0]));
        modes_free(m);
    }
    /* 11. deficit-free vector field: D = 2 small init dK/dt = 2 K (s - K_a - K_b) (rounding 1e-14) */
    {
        double s = 3, K[2] = {0.7, 1.1}, dk[2];
        modes *m = mk(2, 2, 1, MODES_SMALL, &s, 0.01, MODES_EULER, 0.01, 0, NULL);
        modes_field(m, K, dk);
        CHECK_CLOSE(dk[0], 2 * 0.7 * (3 - 1.8), 1e-14, 0);
        CHECK_CLOSE(dk[1], 2 * 1.1 * (3 - 1.8), 1e-14, 0);
        modes_free(m);
    }
    /* 13. pathway ablation: at K = 0.01 everywhere the loss without one pathway is
     * 1/2 sum_a (s_a - 0.01)^2 = 1/2 (32 - 0.02 sum_a s_a + 8e-4) for the hierarchical task (sum s^2 = 32);
     * after an early gate at D = 1 the split is permanent: without b the loss stays ~0 (a carries
     * almost everything), without a it is large, while the deficit-free run splits evenly. */
    {
        modes *m = mk(1, 2, 8, MODES_SMALL, HIER, 0.01, MODES_EULER, 0.01, 0, NULL);
        double ss = 0;
        for (int a = 0; a < 8; a++)
            ss += HIER[a];
        CHECK_CLOSE(modes_loss_without(m, 0), 0.5 * (32 - 0.02 * ss + 8e-4), 1e-14, 0); /* rounding only */
        CHECK_CLOSE(modes_loss_without(m, 1), 0.5 * (32 - 0.02 * ss + 8e-4), 1e-14, 0);
        CHECK(modes_advance(m, 0, 1000, NULL, NULL) == CS_OK);
        double free_a = modes_loss_without(m, 0), free_b = modes_loss_without(m, 1);
        modes_free(m);
        const char *e[] = {"gate:b@0-150", NULL};
        m = mk(1, 2, 8, MODES_SMALL, HIER, 0.01, MODES_EULER, 0.01, 0, e);
        CHECK(modes_advance(m, 0, 1000, NULL, NULL) == CS_OK);
        double la = modes_loss_without(m, 0), lb = modes_loss_without(m, 1);
        printf("  D = 1 ablation: free %.4g / %.4g, early gate on b: without a %.4g, without b %.4g\n",
               free_a, free_b, la, lb);
        CHECK_CLOSE(free_a, free_b, 1e-12, 0); /* symmetric init and no deficit: equal halves */
        CHECK(la > 2 * free_a && lb < 0.5 * free_b);
        /* the definition, term by term */
        double want = 0;
        for (int a = 0; a < 8; a++)
            want += 0.5 * (HIER[a] - m->K[8 + a]) * (HIER[a] - m->K[8 + a]);
        CHECK_CLOSE(la, want, 1e-15, 0);
        modes_free(m);
        double s1 = 2;
        m = mk(2, 1, 1, MODES_SMALL, &s1, 0.3, MODES_EULER, 0.01, 0, NULL);
        CHECK_CLOSE(modes_loss_without(m, 0), 2.0, 0, 0); /* one pathway: the empty network, s^2 / 2 */
        modes_free(m);
    }
    /* 12. bad deficits: unsupported kind, unknown pathway, mode out of range */
    {
        double s = 1;
        modes *m = modes_alloc(2, 1, 2, MODES_SMALL, 1, &s);
        deficit_list dl = {1};
        CHECK(deficit_parse("remove:b@0-10", &dl.d[0]) == CS_OK);
        CHECK(modes_set_deficits(m, &dl) == CS_EUSAGE);
        CHECK(deficit_parse("gate:c@0-10", &dl.d[0]) == CS_OK);
        CHECK(modes_set_deficits(m, &dl) == CS_EUSAGE);
        CHECK(deficit_parse("lesion:a:1@0-10", &dl.d[0]) == CS_OK);
        CHECK(modes_set_deficits(m, &dl) == CS_EUSAGE);
        modes_free(m);
        CHECK(modes_alloc(0, 1, 1, MODES_SMALL, 1, &s) == NULL);
    }
    return check_done("test_modes");
}
