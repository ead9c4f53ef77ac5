/* test_dln.c - the full-matrix linear engine against independent oracles.
 *
 * 1. analytic gradients vs central finite differences, for every architecture (paths with separate
 *    inputs, paths with a shared input, fused), depth 1-3, both losses, lesions, input deficits,
 *    matrix completion (dense-free sparse path) with subset and switch;
 * 2. aligned initialisation: full-matrix GD equals the per-mode Euler recurrence written inline here
 *    (docs/theory.md#per-mode-reduction), with a gate, to 1e-10; the off-diagonal of U^T Omega_p V stays 0;
 * 3. gradient flow: layer balancedness W_{l+1}^T W_{l+1} - W_l W_l^T is conserved; GD converges to the
 *    flow at first order as lr -> 0; D = 2 aligned flow matches the Saxe sigmoid;
 * 4. sensor removal (L11): D = 1 fused, whitened: other columns bit-identical; D = 2: they change;
 *    completion D = 1 leaves unobserved entries at their initial values;
 * 5. every dimension and deficit error is a usage error.
 */
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "deficit.h"
#include "dln.h"
#include "linalg.h"
#include "npy.h"
#include "rsv.h"
#include "task.h"
#include "util.h"

static gsl_rng *rng;

static void add_def(deficit_list *dl, const char *spec)
{
    if (deficit_parse(spec, &dl->d[dl->n]) != CS_OK) {
        printf("bad deficit %s\n", spec);
        exit(1);
    }
    dl->n++;
}

/* worst relative error of the analytic gradient against central differences (all parameters or
 * a stride through them). */
static int fd_skipped;
static double fd_error(dln *d, int stride)
{
    double *g = util_malloc(dln_n_param(d) * sizeof *g);
    double l0 = dln_grad(d, dln_params(d), g);
    double worst = 0;
    fd_skipped = 0;
    for (size_t i = 0; i < dln_n_param(d); i += (size_t)stride) {
        double x = dln_params(d)[i], h = 1e-5 * (1 + fabs(x));
        dln_params(d)[i] = x + h;
        double lp = dln_grad(d, dln_params(d), dln_gradient(d));
        dln_params(d)[i] = x - h;
        double lm = dln_grad(d, dln_params(d), dln_gradient(d));
        dln_params(d)[i] = x;
        /* ReLU: a pre-activation within h of its kink has no derivative to test; there the one-sided
         * slopes differ by O(1), so lp - 2 l0 + lm ~ h |slope jump| ~ 1e-6, while on a smooth piece it
         * is h^2 L'' ~ 1e-10 L''.  Such parameters are skipped and counted (gradcheck bounds them). */
        if (dln_config(d)->act == DLN_ACT_RELU && fabs(lp - 2 * l0 + lm) > 1e-8 * (1 + fabs(l0))) {
            fd_skipped++;
            continue;
        }
        double fd = (lp - lm) / (2 * h);
        double err = fabs(fd - g[i]) / (1e-6 + fabs(g[i]) + fabs(fd));
        if (fabs(fd - g[i]) < 1e-9) err = 0; /* absolute floor: rounding of L (~1e-16 |L|) / h */
        if (err > worst) worst = err;
    }
    free(g);
    return worst;
}

static void gradcheck(const char *name, task_cfg *tc, dln_cfg *dc, const char *defs, int stride)
{
    task t;
    if (task_build(tc, &t) != CS_OK) {
        printf("FAIL %s: task_build: %s\n", name, util_errmsg());
        CHECK(0);
        return;
    }
    dln *d;
    if (dln_alloc(dc, &t, &d) != CS_OK) {
        printf("FAIL %s: dln_alloc: %s\n", name, util_errmsg());
        CHECK(0);
        task_free(&t);
        return;
    }
    dln_init(d, DLN_INIT_GAUSS, 1.0, 0, NULL, 0, rng);
    for (size_t i = 0; i < dln_n_param(d); i++)
        dln_params(d)[i] *= 1.5; /* order-one weights: large gradients */
    deficit_list dl = {0};
    if (defs) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", defs);
        for (char *s = strtok(buf, "+"); s; s = strtok(NULL, "+"))
            add_def(&dl, s);
    }
    if (dln_set_deficits(d, &dl) != CS_OK) {
        printf("FAIL %s: deficits: %s\n", name, util_errmsg());
        CHECK(0);
    }
    dln_set_step(d, 0);
    if (!t.n_obs && dc->act == DLN_ACT_LINEAR) { /* fused engine against the previous one, same state */
        double *g1 = util_malloc(2 * dln_n_param(d) * sizeof *g1), *g2 = g1 + dln_n_param(d), gmax = 0,
               diff = 0;
        double l1 = dln_grad(d, dln_params(d), g1);
        dln_use_reference(d, 1);
        double l2 = dln_grad(d, dln_params(d), g2);
        dln_use_reference(d, 0);
        for (size_t i = 0; i < dln_n_param(d); i++)
            gmax = fmax(gmax, fabs(g2[i])), diff = fmax(diff, fabs(g1[i] - g2[i]));
        /* the same sums in another order: each entry a sum of <= width * n_in products of order-one
         * factors, k eps relative to the largest gradient (~1e-14 here); 1e-12 leaves room */
        CHECK(diff <= 1e-12 * gmax);
        CHECK_CLOSE(l1, l2, 1e-13, 1e-15);
        free(g1);
    }
    double e = fd_error(d, stride);
    /* central differences with h = 1e-5: truncation O(h^2) ~ 1e-10 relative, rounding 1e-16/h ~ 1e-11 */
    if (!(e < 1e-6)) printf("  gradcheck %s: worst relative error %.3g\n", name, e);
    CHECK(e < 1e-6);
    if (fd_skipped * 20 > (int)dln_n_param(d))
        printf("  gradcheck %s: %d parameters at a kink\n", name, fd_skipped);
    CHECK(fd_skipped * 20 <= (int)dln_n_param(d)); /* at most 5% of the parameters sit within h of a kink */
    dln_free(d);
    task_free(&t);
}

static void test_gradients(void)
{
    double sv[3] = {3, 2, 1};
    int dims2[2] = {3, 3};
    for (int D = 1; D <= 3; D++)
        for (int loss = 0; loss < 2; loss++) {
            task_cfg tc = {.kind = TASK_LOWRANK,
                           .n_out = 5,
                           .n_in = 6,
                           .sv = sv,
                           .n_sv = 3,
                           .n_src = 2,
                           .src_dims = dims2,
                           .seed = 3};
            dln_cfg dc = {.arch = DLN_PATHS, .n_chain = 2, .depth = D, .width = 4, .loss = (dln_loss)loss};
            gradcheck("paths separate", &tc, &dc, NULL, 1);
            dc.shared_input = 1;
            gradcheck("paths shared", &tc, &dc, NULL, 1);
            dc.arch = DLN_FUSED;
            gradcheck("fused", &tc, &dc, NULL, 1);
        }
    double nv[2] = {0.3, 0.1};
    task_cfg lt = {.kind = TASK_LATENT,
                   .latent_dim = 3,
                   .n_out = 4,
                   .redundancy = 0.4,
                   .synergy = 0.3,
                   .noise_var = nv,
                   .n_noise = 2,
                   .n_src = 2,
                   .seed = 5};
    dln_cfg fd = {.arch = DLN_FUSED, .depth = 3, .width = 5, .loss = DLN_LOSS_SUM};
    gradcheck("latent fused D3", &lt, &fd, NULL, 1);
    gradcheck("latent fused remove", &lt, &fd, "remove:b@0-10", 1);
    gradcheck("latent fused noise+decorrelate", &lt, &fd, "noise:a:0.7@0-10+decorrelate@0-10", 1);
    dln_cfg ps = {.arch = DLN_PATHS, .n_chain = 2, .depth = 2, .width = 5, .loss = DLN_LOSS_MEAN};
    gradcheck("latent paths separate", &lt, &ps, "noise:b:0.2@0-5", 1);
    task_cfg hier = {.kind = TASK_HIER, .n_src = 1, .seed = 1};
    dln_cfg sh = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 2, .width = 6, .loss = DLN_LOSS_SUM};
    gradcheck("hier lesion a:1", &hier, &sh, "lesion:a:1@0-100", 1);
    gradcheck("hier lesion a:0,a:2 + b:3", &hier, &sh, "lesion:a:0@0-100+lesion:a:2@0-100+lesion:b:3@0-3", 1);
    gradcheck("hier switch", &(task_cfg){.kind = TASK_HIER, .n_src = 1, .seed = 1, .need_target2 = 1}, &sh,
              "switch@0", 1);
    for (int D = 1; D <= 3; D++) {
        task_cfg mc = {.kind = TASK_COMPLETION,
                       .n = 7,
                       .rank1 = 2,
                       .rank2 = 1,
                       .n_obs = 20,
                       .seed = 9,
                       .need_target2 = 1};
        dln_cfg fc = {.arch = DLN_FUSED, .depth = D, .width = 7};
        gradcheck("completion", &mc, &fc, NULL, 1);
        gradcheck("completion subset+switch", &mc, &fc, "subset:11@0-5+switch@0", 1);
        dln_cfg pc = {.arch = DLN_PATHS, .n_chain = 2, .depth = D, .width = 7};
        gradcheck("completion 2 pathways", &mc, &pc, NULL, 2);
    }
}

/* nonlinear chains: central differences for relu and tanh, with and without act_output, every
 * architecture, depth 1-4, both losses, with gate, lesion, remove and switch; one-hot tasks only */
static void test_gradients_nl(void)
{
    double sv[3] = {3, 2, 1};
    int dims2[2] = {3, 3};
    for (int act = DLN_ACT_RELU; act <= DLN_ACT_TANH; act++)
        for (int ao = 0; ao < 2; ao++)
            for (int D = 1; D <= 4; D++) {
                task_cfg tc = {.kind = TASK_LOWRANK,
                               .n_out = 5,
                               .n_in = 6,
                               .sv = sv,
                               .n_sv = 3,
                               .n_src = 2,
                               .src_dims = dims2,
                               .seed = 3,
                               .need_target2 = 1};
                dln_cfg dc = {.arch = DLN_PATHS,
                              .n_chain = 2,
                              .depth = D,
                              .width = 4,
                              .loss = (dln_loss)(D % 2),
                              .act = (dln_act)act,
                              .act_output = ao};
                char name[200];
                snprintf(name, sizeof name, "%s%s D%d paths separate", act == DLN_ACT_RELU ? "relu" : "tanh",
                         ao ? " act-output" : "", D);
                gradcheck(name, &tc, &dc, NULL, 1);
                gradcheck(strcat(name, " remove+switch"), &tc, &dc, "remove:b@0-10+switch@0", 1);
                dc.shared_input = 1;
                gradcheck(strcat(name, " shared lesion"), &tc, &dc, "lesion:a:1@0-10", 1);
                dc.arch = DLN_FUSED;
                gradcheck(strcat(name, " fused"), &tc, &dc, NULL, 1);
                gradcheck(strcat(name, " remove"), &tc, &dc, "remove:a@0-10", 1);
            }
    task_cfg hier = {.kind = TASK_HIER, .n_src = 1, .seed = 1};
    dln_cfg sh = {.arch = DLN_PATHS,
                  .shared_input = 1,
                  .n_chain = 3,
                  .depth = 3,
                  .width = 6,
                  .loss = DLN_LOSS_SUM,
                  .act = DLN_ACT_TANH,
                  .act_output = 1};
    gradcheck("hier tanh 3 pathways", &hier, &sh, "lesion:c:0@0-100", 1);
}

/* The nonlinear forward pass against a direct evaluation: column j of F_p is the chain's output for
 * the one-hot item e_j, computed here item by item with plain loops; and remove:b equals feeding the
 * items of source b as zeros (their loss is |y_j|^2 / 2 each). */
static void test_nl_forward(void)
{
    double sv[3] = {3, 2, 1};
    int dims2[2] = {3, 3};
    task_cfg tc = {.kind = TASK_LOWRANK,
                   .n_out = 5,
                   .n_in = 6,
                   .sv = sv,
                   .n_sv = 3,
                   .n_src = 2,
                   .src_dims = dims2,
                   .seed = 3};
    task t;
    task_build(&tc, &t);
    for (int act = DLN_ACT_RELU; act <= DLN_ACT_TANH; act++) {
        dln_cfg dc = {.arch = DLN_FUSED,
                      .depth = 3,
                      .width = 4,
                      .loss = DLN_LOSS_SUM,
                      .act = (dln_act)act,
                      .act_output = 1};
        dln *d;
        dln_alloc(&dc, &t, &d);
        dln_init(d, DLN_INIT_GAUSS, 1.0, 0, NULL, 0, rng);
        dln_maps(d, dln_params(d), NULL);
        double worst = 0, want_loss = 0, want_rm = 0;
        for (int j = 0; j < 6; j++) {
            double x[6] = {0}, h1[4], h2[4], y[5];
            x[j] = 1;
            const double *W1 = dln_weight(d, dln_params(d), 0, 1), *W2 = dln_weight(d, dln_params(d), 0, 2),
                         *W3 = dln_weight(d, dln_params(d), 0, 3);
            for (int u = 0; u < 4; u++) {
                double z = 0;
                for (int k = 0; k < 6; k++)
                    z += W1[u * 6 + k] * x[k];
                h1[u] = act == DLN_ACT_RELU ? fmax(z, 0) : tanh(z);
            }
            for (int u = 0; u < 4; u++) {
                double z = 0;
                for (int k = 0; k < 4; k++)
                    z += W2[u * 4 + k] * h1[k];
                h2[u] = act == DLN_ACT_RELU ? fmax(z, 0) : tanh(z);
            }
            for (int i = 0; i < 5; i++) {
                double z = 0;
                for (int k = 0; k < 4; k++)
                    z += W3[i * 4 + k] * h2[k];
                y[i] = act == DLN_ACT_RELU ? fmax(z, 0) : tanh(z);
                double e = fabs(y[i] - dln_map(d, 0)[i * 6 + j]);
                if (e > worst) worst = e;
                double r = y[i] - t.target[i * 6 + j], r0 = t.target[i * 6 + j];
                want_loss += 0.5 * r * r;
                want_rm += 0.5 * (j < 3 ? r * r : r0 * r0); /* items 3..5 (source b) fed as zeros */
            }
        }
        CHECK(worst < 1e-14); /* same products in another order: rounding only */
        CHECK_CLOSE(dln_test_loss(d, dln_params(d)), want_loss, 1e-12, 1e-14);
        CHECK_CLOSE(dln_loss_without(d, dln_params(d), 1), want_rm, 1e-12, 1e-14); /* source b zeroed */
        deficit_list dl = {0};
        add_def(&dl, "remove:b@0-10");
        dln_set_deficits(d, &dl);
        CHECK_CLOSE(dln_grad(d, dln_params(d), dln_gradient(d)), want_rm, 1e-12, 1e-14);
        dln_free(d);
    }
    task_free(&t);
}

/* Sampled source variances of the last hidden layer: with act = linear they equal the exact centred
 * variances h_P^T Cov(x_P) h_P over the items' empirical marginal of each source (the design visits
 * every item once per slot; float32 accumulation: 1e-6 relative); with relu a unit wired to one source
 * only has RSV -1 (a) or +1 (b). */
static void test_rsv_sampled(void)
{
    double sv[3] = {3, 2, 1};
    int dims2[2] = {3, 3};
    task_cfg tc = {.kind = TASK_LOWRANK,
                   .n_out = 5,
                   .n_in = 6,
                   .sv = sv,
                   .n_sv = 3,
                   .n_src = 2,
                   .src_dims = dims2,
                   .seed = 3};
    task t;
    task_build(&tc, &t);
    int n = 6, w = 4;
    for (int act = DLN_ACT_LINEAR; act <= DLN_ACT_RELU; act++) {
        dln_cfg dc = {.arch = DLN_FUSED, .depth = 2, .width = w, .act = (dln_act)act};
        dln *d;
        dln_alloc(&dc, &t, &d);
        dln_init(d, DLN_INIT_GAUSS, 1.0, 0, NULL, 0, rng);
        double *W1 = dln_weight(d, dln_params(d), 0, 1);
        if (act == DLN_ACT_RELU) { /* unit 0 reads only a, unit 1 only b (positive weights: alive) */
            for (int k = 0; k < 6; k++) {
                W1[0 * 6 + k] = k < 3 ? 0.5 + k : 0;
                W1[1 * 6 + k] = k < 3 ? 0 : 1.0 + k;
            }
        }
        CHECK_INT(dln_rsv_units(d), n * w);
        double sva[24], svb[24];
        CHECK_INT(dln_rsv_sampled(d, dln_params(d), sva, svb), CS_OK);
        if (act == DLN_ACT_LINEAR) {
            /* x_a: e_k (k < 3) with prob 1/6 each, 0 with prob 1/2: Var(h.x_a) = sum h_k^2/6 - (sum h_k/6)^2
             */
            double worst = 0;
            for (int u = 0; u < w; u++) {
                double s2a = 0, s1a = 0, s2b = 0, s1b = 0;
                for (int k = 0; k < 3; k++) {
                    s2a += W1[u * 6 + k] * W1[u * 6 + k] / 6, s1a += W1[u * 6 + k] / 6;
                    s2b += W1[u * 6 + 3 + k] * W1[u * 6 + 3 + k] / 6, s1b += W1[u * 6 + 3 + k] / 6;
                }
                for (int s = 0; s < n; s++) {
                    double ea = fabs(sva[s * w + u] - (s2a - s1a * s1a)) / (s2a - s1a * s1a),
                           eb = fabs(svb[s * w + u] - (s2b - s1b * s1b)) / (s2b - s1b * s1b);
                    worst = fmax(worst, fmax(ea, eb));
                }
            }
            CHECK(worst < 1e-5);
        } else
            for (int s = 0; s < n; s++) {
                CHECK_CLOSE(rsv_value(sva[s * w], svb[s * w]), -1, 0, 0);
                CHECK_CLOSE(rsv_value(sva[s * w + 1], svb[s * w + 1]), 1, 0, 0);
            }
        dln_free(d);
    }
    dln_cfg bad = {.arch = DLN_PATHS, .n_chain = 2, .depth = 2, .width = w, .act = DLN_ACT_RELU};
    dln *d;
    dln_alloc(&bad, &t, &d);
    CHECK_INT(dln_rsv_units(d), 0);
    CHECK_INT(dln_rsv_sampled(d, dln_params(d), NULL, NULL), CS_EUSAGE);
    dln_free(d);
    task_free(&t);
}

/* Gradient flow with nonlinear chains: tanh (smooth) integrates, and GD approaches it at first order as
 * lr -> 0; ReLU of depth 2 (no act_output) integrates; ReLU with act_output at depth 3 slides along a
 * kink and fails cleanly after flow_nmax steps. */
static void test_flow_nl(void)
{
    task_cfg hier = {.kind = TASK_HIER, .n_src = 1, .seed = 1};
    task t;
    task_build(&hier, &t);
    dln_cfg dc = {.arch = DLN_PATHS,
                  .shared_input = 1,
                  .n_chain = 2,
                  .depth = 3,
                  .width = 6,
                  .loss = DLN_LOSS_SUM,
                  .act = DLN_ACT_TANH,
                  .act_output = 1};
    dln *d;
    dln_alloc(&dc, &t, &d);
    dln_init(d, DLN_INIT_GAUSS, 0.5, 0, NULL, 0, rng);
    size_t np = dln_n_param(d);
    double *th0 = util_malloc(3 * np * sizeof *th0), *thf = th0 + np, *thg = thf + np;
    memcpy(th0, dln_params(d), np * sizeof *th0);
    CHECK_INT(dln_flow_alloc(d, DLN_RK8PD, 1e-12, 1e-12, 1e-3), CS_OK);
    CHECK_INT(dln_flow_advance(d, 0, 0.5), CS_OK);
    memcpy(thf, dln_params(d), np * sizeof *thf);
    double err[2];
    for (int k = 0; k < 2; k++) {
        double lr = k ? 0.0025 : 0.005;
        memcpy(dln_params(d), th0, np * sizeof *th0);
        for (int s = 0; s < (int)lround(0.5 / lr); s++)
            dln_gd_step(d, lr);
        memcpy(thg, dln_params(d), np * sizeof *thg);
        err[k] = 0;
        for (size_t i = 0; i < np; i++)
            err[k] = fmax(err[k], fabs(thg[i] - thf[i]));
    }
    printf("  tanh: |GD - flow| at lr 0.005, 0.0025: %.3g %.3g\n", err[0], err[1]);
    CHECK(err[1] < err[0] && err[0] / err[1] > 1.8 && err[0] / err[1] < 2.2); /* Euler: first order */
    dln_free(d);
    dln_cfg r2 = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 2, .width = 6, .act = DLN_ACT_RELU};
    dln_alloc(&r2, &t, &d);
    dln_init(d, DLN_INIT_GAUSS, 0.5, 0, NULL, 0, rng);
    CHECK_INT(dln_flow_alloc(d, DLN_RK8PD, 1e-10, 1e-10, 1e-3), CS_OK);
    CHECK_INT(dln_flow_advance(d, 0, 2.0), CS_OK);
    dln_free(d);
    dln_cfg r3 = {.arch = DLN_PATHS,
                  .shared_input = 1,
                  .n_chain = 2,
                  .depth = 3,
                  .width = 10,
                  .loss = DLN_LOSS_SUM,
                  .act = DLN_ACT_RELU,
                  .act_output = 1};
    dln_alloc(&r3, &t, &d);
    dln_init(d, DLN_INIT_GAUSS, 0.5, 0, NULL, 0, rng);
    dln_set_flow_nmax(d, 2000);
    CHECK_INT(dln_flow_alloc(d, DLN_RK8PD, 1e-10, 1e-10, 1e-3), CS_OK);
    CHECK_INT(dln_flow_advance(d, 0, 5.0), CS_EFAIL);
    CHECK(strstr(util_errmsg(), "kink") != NULL);
    dln_free(d);
    free(th0);
    task_free(&t);
}

/* --precision single (completion): (1) the float32 gradient at float weights against the double gradient
 * at the same weights, for one and two chains, depth 1-3, with subset, switch and gate: float32 sums of
 * ~100 products carry ~1e-6 relative error, so 1e-4 of the largest gradient entry has margin; (2) 400 GD
 * steps in float32 and in double from the same (float-representable) start: final test loss, K per mode
 * and singular values of the map agree to 1e-4 relative (measured: 1e-8 on K, 2e-7 on sigma, the test
 * loss to 6 digits: the trajectories contract, so the float rounding does not grow); (3) the weights stay
 * float-representable. */
static void test_single(void)
{
    for (int D = 1; D <= 3; D++)
        for (int nc = 1; nc <= 2; nc++) {
            task_cfg mc = {.kind = TASK_COMPLETION,
                           .n = 9,
                           .rank1 = 2,
                           .rank2 = 1,
                           .n_obs = 40,
                           .seed = 9,
                           .need_target2 = 1};
            task t;
            task_build(&mc, &t);
            dln_cfg dc = {.arch = nc == 1 ? DLN_FUSED : DLN_PATHS, .n_chain = nc, .depth = D, .width = 7};
            dln *ds, *dd;
            dc.single = 1;
            CHECK_INT(dln_alloc(&dc, &t, &ds), CS_OK);
            dc.single = 0;
            dln_alloc(&dc, &t, &dd);
            dln_init(dd, DLN_INIT_GAUSS, 1.0, 0, NULL, 0, rng);
            for (size_t i = 0; i < dln_n_param(dd); i++)
                dln_params(dd)[i] = dln_params(ds)[i] = (float)dln_params(dd)[i];
            const char *defs[3] = {NULL, "subset:25@0-5+switch@0", nc == 2 ? "gate:b@0-5" : "switch@0"};
            for (int k = 0; k < 3; k++) {
                deficit_list dl = {0};
                if (defs[k]) {
                    char buf[64];
                    snprintf(buf, sizeof buf, "%s", defs[k]);
                    for (char *q = strtok(buf, "+"); q; q = strtok(NULL, "+"))
                        add_def(&dl, q);
                }
                dln_set_deficits(ds, &dl);
                dln_set_deficits(dd, &dl);
                double *gs = util_malloc(2 * dln_n_param(dd) * sizeof *gs), *gd = gs + dln_n_param(dd);
                double ls = dln_grad_single(ds, dln_params(ds), gs), ld = dln_grad(dd, dln_params(dd), gd),
                       big = 0, err = 0;
                for (size_t i = 0; i < dln_n_param(dd); i++) {
                    big = fmax(big, fabs(gd[i]));
                    err = fmax(err, fabs(gs[i] - gd[i]));
                }
                CHECK(err <= 1e-4 * big);
                CHECK_CLOSE(ls, ld, 1e-5, 0);
                free(gs);
            }
            dln_free(ds);
            dln_free(dd);
            task_free(&t);
        }
    /* trajectories */
    task_cfg mc = {.kind = TASK_COMPLETION, .n = 30, .rank1 = 3, .n_obs = 400, .seed = 4};
    task t;
    task_build(&mc, &t);
    dln_cfg dc = {.arch = DLN_FUSED, .depth = 3, .width = 30, .single = 1};
    dln *ds, *dd;
    dln_alloc(&dc, &t, &ds);
    dc.single = 0;
    dln_alloc(&dc, &t, &dd);
    dln_init(dd, DLN_INIT_GAUSS, 0.1, 0, NULL, 0, rng);
    for (size_t i = 0; i < dln_n_param(dd); i++)
        dln_params(dd)[i] = dln_params(ds)[i] = (float)dln_params(dd)[i];
    double t0 = dln_test_loss(dd, dln_params(dd));
    for (int s = 0; s < 400; s++) {
        dln_gd_step(ds, 0.5);
        dln_gd_step(dd, 0.5);
    }
    int fl = 1;
    for (size_t i = 0; i < dln_n_param(ds); i++)
        fl &= dln_params(ds)[i] == (double)(float)dln_params(ds)[i];
    CHECK(fl);
    double ts = dln_test_loss(ds, dln_params(ds)), td = dln_test_loss(dd, dln_params(dd));
    int r = t.rank;
    double *Ks = util_malloc(4 * (size_t)r * sizeof *Ks), *Kd = Ks + r, *ss = Kd + r, *sd = ss + r;
    dln_maps(ds, dln_params(ds), NULL);
    dln_modes(ds, Ks);
    linalg_svd(30, 30, dln_map(ds, 0), NULL, ss, NULL);
    dln_maps(dd, dln_params(dd), NULL);
    dln_modes(dd, Kd);
    linalg_svd(30, 30, dln_map(dd, 0), NULL, sd, NULL);
    double ek = 0, es = 0;
    for (int a = 0; a < 3; a++) {
        ek = fmax(ek, fabs(Ks[a] - Kd[a]) / fabs(Kd[a]));
        es = fmax(es, fabs(ss[a] - sd[a]) / sd[a]);
    }
    printf("  single vs double, 400 steps: test loss %.6g vs %.6g, K (top 3) %.2g, sigma (top 3) %.2g "
           "relative\n",
           ts, td, ek, es);
    CHECK_CLOSE(ts, td, 1e-4, 0);
    CHECK(ek < 1e-4 && es < 1e-4);
    CHECK(td < 0.5 * t0); /* it learned: the test loss started at t0 */
    free(Ks);
    dln_free(ds);
    dln_free(dd);
    /* refused outside completion */
    task_cfg hier = {.kind = TASK_HIER, .n_src = 1};
    task th;
    task_build(&hier, &th);
    dln_cfg bad = {.arch = DLN_FUSED, .depth = 2, .width = 4, .single = 1};
    CHECK_INT(dln_alloc(&bad, &th, &ds), CS_EUSAGE);
    task_free(&th);
    task_free(&t);
}

/* gated chains get an exactly zero gradient and do not move under GD */
static void test_gate(void)
{
    task_cfg tc = {.kind = TASK_HIER, .n_src = 1};
    task t;
    task_build(&tc, &t);
    dln_cfg dc = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 3, .width = 10, .loss = DLN_LOSS_SUM};
    dln *d;
    dln_alloc(&dc, &t, &d);
    dln_init(d, DLN_INIT_GAUSS, 0.1, 0, NULL, 0, rng);
    deficit_list dl = {0};
    add_def(&dl, "gate:b@0-2");
    dln_set_deficits(d, &dl);
    size_t nb = dln_chain_offset(d, 2) - dln_chain_offset(d, 1);
    double *b0 = util_malloc(nb * sizeof *b0);
    memcpy(b0, dln_params(d) + dln_chain_offset(d, 1), nb * sizeof *b0);
    for (long s = 0; s < 2; s++) {
        dln_set_step(d, s);
        dln_gd_step(d, 0.05);
    }
    CHECK(memcmp(b0, dln_params(d) + dln_chain_offset(d, 1), nb * sizeof *b0) == 0); /* exactly frozen */
    dln_set_step(d, 2);
    dln_gd_step(d, 0.05);
    CHECK(memcmp(b0, dln_params(d) + dln_chain_offset(d, 1), nb * sizeof *b0) !=
          0); /* moves after the window */
    free(b0);
    dln_free(d);
    task_free(&t);
}

#ifdef __AVX512F__
char *openblas_get_corename(void);
/* dln_kernels.c's small AVX-512 product against cblas_dgemm on the shapes it takes (all four transpose forms,
 * tails in n, k up to 128): with OpenBLAS's Haswell kernel (the one this project's machines pin) the
 * same bits; with another kernel the sums are ordered differently: k eps sum |a b| bounds the
 * difference, checked as 1e-15 k (entries in [-0.5, 0.5)). */
static void test_gemm_small(void)
{
    static const int ms[] = {4, 8, 12, 100}, ns[] = {1, 3, 8, 15, 100}, ks[] = {1, 8, 15, 100, 128};
    int haswell = strstr(openblas_get_corename(), "aswell") != NULL, taken = 0, same = 1;
    double worst = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 5; b++)
                    for (int c = 0; c < 5; c++) {
                        int m = ms[a], n = ns[b], k = ks[c], lda = ta ? m : k, ldb = tb ? k : n;
                        double *A = util_malloc(sizeof(double) * m * k),
                               *B = util_malloc(sizeof(double) * k * n);
                        double *C = util_calloc((size_t)m * n, sizeof(double)),
                               *D = util_calloc((size_t)m * n, sizeof(double));
                        for (int i = 0; i < m * k; i++)
                            A[i] = gsl_rng_uniform(rng) - 0.5;
                        for (int i = 0; i < k * n; i++)
                            B[i] = gsl_rng_uniform(rng) - 0.5;
                        if (dln_gemm_small(ta, tb, m, n, k, A, lda, B, ldb, C, n)) {
                            taken++;
                            cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                                        tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, A, lda, B, ldb, 0.0, D,
                                        n);
                            for (int i = 0; i < m * n; i++) {
                                same &= memcmp(C + i, D + i, sizeof(double)) == 0;
                                worst = fmax(worst, fabs(C[i] - D[i]) / k);
                            }
                        }
                        free(A), free(B), free(C), free(D);
                    }
    CHECK(taken >= 300); /* most shapes above are small enough (m n k <= 400000, n k <= 16384 when tb) */
    if (haswell) CHECK(same);
    CHECK(worst < 1e-15);
    printf("  small AVX-512 dgemm vs OpenBLAS (%s): %d shapes, %s\n", openblas_get_corename(), taken,
           same ? "identical bits" : "last-digit differences only");
}
#endif

/* dln_grad + dln_gd_apply (flow's recorded steps) is dln_gd_step bit for bit, gated steps included:
 * two copies of the same network, one advanced each way through a gate window. */
static void test_gd_apply(void)
{
    task_cfg tc = {.kind = TASK_HIER, .n_src = 1};
    task t;
    task_build(&tc, &t);
    dln_cfg dc = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 3, .width = 10, .loss = DLN_LOSS_SUM};
    dln *a, *b;
    dln_alloc(&dc, &t, &a);
    dln_alloc(&dc, &t, &b);
    dln_init(a, DLN_INIT_GAUSS, 0.1, 0, NULL, 0, rng);
    memcpy(dln_params(b), dln_params(a), dln_n_param(a) * sizeof(double));
    deficit_list dl = {0};
    add_def(&dl, "gate:b@2-4");
    dln_set_deficits(a, &dl);
    dln_set_deficits(b, &dl);
    int same_loss = 1;
    for (long s = 0; s < 6; s++) {
        dln_set_step(a, s), dln_set_step(b, s);
        double la = dln_gd_step(a, 0.05);
        double lb = dln_grad(b, dln_params(b), dln_gradient(b));
        dln_gd_apply(b, 0.05);
        same_loss &= la == lb;
    }
    CHECK(same_loss);
    CHECK(memcmp(dln_params(a), dln_params(b), dln_n_param(a) * sizeof(double)) == 0);
    dln_free(a), dln_free(b);
    task_free(&t);
}

/* The fused linear engine (the default) against the previous one (dln_use_reference): the ICLR 2024
 * Fig. 2 run (hierarchy, two pathways of width 100 on the shared input, D = 4, sum loss, aligned init
 * with noise, lr 0.01, b gated on [0, 150)) for its 1000 steps, one copy each way.  Both round every
 * product once per term, in other orders: the states differ by rounding, ~1e-15 relative after 1000
 * steps as measured (the learning dynamics contract the differences; the small modes' growth keeps
 * them relative).  Bounds: final loss within 1e-12 L(0); K per mode and pathway within 1e-11 (K up to
 * ~4); singular values of each map within 1e-11 sigma_max; a wrong term would show at >= 1e-4. */
static void test_engine_vs_reference(void)
{
    task_cfg tc = {.kind = TASK_HIER, .n_src = 1};
    task t;
    task_build(&tc, &t);
    dln_cfg dc = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 4, .width = 100, .loss = DLN_LOSS_SUM};
    dln *a, *b;
    dln_alloc(&dc, &t, &a);
    dln_alloc(&dc, &t, &b);
    double k0[8];
    for (int m = 0; m < 8; m++)
        k0[m] = 0.01 * (1 + 0.1 * gsl_ran_gaussian_ziggurat(rng, 1.0));
    dln_init(a, DLN_INIT_ALIGNED, 0, 0, k0, 8, rng);
    memcpy(dln_params(b), dln_params(a), dln_n_param(a) * sizeof(double));
    dln_use_reference(b, 1);
    deficit_list dl = {0};
    add_def(&dl, "gate:b@0-150");
    dln_set_deficits(a, &dl);
    dln_set_deficits(b, &dl);
    double l0 = 0, la = 0, lb = 0;
    for (long s = 0; s < 1000; s++) {
        dln_set_step(a, s), dln_set_step(b, s);
        la = dln_gd_step(a, 0.01);
        lb = dln_gd_step(b, 0.01);
        if (s == 0) l0 = la;
    }
    CHECK_CLOSE(la, lb, 0, 1e-12 * l0);
    double Ka[16], Kb[16], sa[8], sb[8], kd = 0, sd = 0;
    dln_maps(a, dln_params(a), NULL);
    dln_maps(b, dln_params(b), NULL);
    dln_modes(a, Ka);
    dln_modes(b, Kb);
    for (int i = 0; i < 16; i++)
        kd = fmax(kd, fabs(Ka[i] - Kb[i]));
    CHECK(kd <= 1e-11);
    for (int p = 0; p < 2; p++) {
        linalg_svd(15, 8, dln_map(a, p), NULL, sa, NULL);
        linalg_svd(15, 8, dln_map(b, p), NULL, sb, NULL);
        for (int i = 0; i < 8; i++)
            sd = fmax(sd, fabs(sa[i] - sb[i]) / sb[0]);
    }
    CHECK(sd <= 1e-11);
    CHECK(Ka[0] > 1.5 && Kb[8] > 0); /* the run learnt (K_a of the top mode near its share of sqrt 15) */
    printf("  fused engine vs previous, Fig. 2 run: final loss %.3g vs %.3g, max |dK| %.2g, max "
           "|dsigma|/sigma_max "
           "%.2g\n",
           la, lb, kd, sd);
    dln_free(a), dln_free(b);
    task_free(&t);
}

/* L2 + L3: aligned init, D = 4, width 100, two pathways on the hierarchy (sum loss), gate b on [0, 150). */
static void test_aligned_vs_modes(void)
{
    task_cfg tc = {.kind = TASK_HIER, .n_src = 1};
    task t;
    task_build(&tc, &t);
    /* L1: T = Y^T has singular values sqrt15, sqrt7, sqrt3, sqrt3, 1, 1, 1, 1 */
    double want[8] = {sqrt(15), sqrt(7), sqrt(3), sqrt(3), 1, 1, 1, 1};
    CHECK_ARRAY_CLOSE(t.s, want, 8, 0, 1e-12); /* LAPACK SVD of an exact integer matrix: ~1e-15 */
    int D = 4, r = 8;
    dln_cfg dc = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = D, .width = 100, .loss = DLN_LOSS_SUM};
    dln *d;
    dln_alloc(&dc, &t, &d);
    double k0[8];
    for (int a = 0; a < r; a++)
        k0[a] = 0.012 - 0.0005 * a;
    dln_init(d, DLN_INIT_ALIGNED, 0, 0, k0, r, rng);
    deficit_list dl = {0};
    add_def(&dl, "gate:b@0-150");
    dln_set_deficits(d, &dl);
    /* oracle: p_{p,a} per-layer value, K = p^D, Euler p += lr p^{D-1} (s - K_a - K_b) unless gated */
    double pa[8], pb[8], lr = 0.01;
    for (int a = 0; a < r; a++)
        pa[a] = pb[a] = pow(k0[a], 1.0 / D);
    double K[16], werr = 0, woff = 0;
    double *full = util_malloc(2 * 64 * sizeof *full);
    for (long s = 0; s <= 1000; s++) {
        if (s % 50 == 0 || s == 1000) {
            dln_maps(d, dln_params(d), NULL);
            dln_modes(d, K);
            for (int a = 0; a < r; a++) {
                double e1 = fabs(K[a] - pow(pa[a], D)), e2 = fabs(K[r + a] - pow(pb[a], D));
                if (e1 > werr) werr = e1;
                if (e2 > werr) werr = e2;
            }
            /* full U^T Omega_p V (8 x 8) off-diagonal */
            for (int p = 0; p < 2; p++)
                for (int a = 0; a < r; a++)
                    for (int b = 0; b < r; b++) {
                        if (a == b) continue;
                        double v = 0;
                        for (int i = 0; i < 15; i++)
                            for (int j = 0; j < 8; j++)
                                v += t.U[i * r + a] * dln_map(d, p)[i * 8 + j] * t.V[j * r + b];
                        if (fabs(v) > woff) woff = fabs(v);
                    }
        }
        if (s == 1000) break;
        dln_set_step(d, s);
        dln_gd_step(d, lr);
        for (int a = 0; a < r; a++) {
            double om = t.s[a] - pow(pa[a], D) - pow(pb[a], D);
            double na = pa[a] + lr * pow(pa[a], D - 1) * om;
            double nb = (s >= 0 && s < 150) ? pb[a] : pb[a] + lr * pow(pb[a], D - 1) * om;
            pa[a] = na;
            pb[a] = nb;
        }
    }
    printf("  aligned GD vs per-mode Euler: worst |dK| %.3g, worst off-diagonal %.3g\n", werr, woff);
    CHECK(werr <= 1e-10); /* L2: both are the same recurrence; differences are double rounding (~1e-14) */
    CHECK(woff <= 1e-10); /* L3 */
    /* the early gate leaves b with little of the strong modes (L4 early deficit) */
    CHECK(pow(pb[0], D) < 0.05 * t.s[0]);
    CHECK(fabs(pow(pa[0], D) + pow(pb[0], D) - t.s[0]) < 1e-3);
    /* ablation: without pathway a the map is U diag(K_b) V^T, so the sum loss (c = 8, Sxx = I/8) is
     * 1/2 sum_a (s_a - K_b,a)^2, and without b the same with K_a; the off-diagonal (<= 1e-10 above)
     * adds at most 64 * 1e-20 */
    double wa = 0, wb = 0;
    for (int a = 0; a < r; a++) {
        wa += 0.5 * (t.s[a] - pow(pb[a], D)) * (t.s[a] - pow(pb[a], D));
        wb += 0.5 * (t.s[a] - pow(pa[a], D)) * (t.s[a] - pow(pa[a], D));
    }
    CHECK_CLOSE(dln_loss_without(d, dln_params(d), 0), wa, 1e-9, 1e-12);
    CHECK_CLOSE(dln_loss_without(d, dln_params(d), 1), wb, 1e-9, 1e-12);
    CHECK(wa > 10 && wb < 0.1); /* the early gate: b alone carries almost nothing */
    free(full);
    dln_free(d);
    task_free(&t);
}

static void balancedness(dln *d, int p, int l, double *B) /* W_{l+1}^T W_{l+1} - W_l W_l^T (w x w) */
{
    int w = dln_width(d);
    const double *A = dln_weight(d, dln_params(d), p, l + 1), *Wl = dln_weight(d, dln_params(d), p, l);
    int ra = dln_rows(d, l + 1), cl = dln_cols(d, p, l);
    for (int i = 0; i < w; i++)
        for (int j = 0; j < w; j++) {
            double s = 0;
            for (int k = 0; k < ra; k++)
                s += A[k * w + i] * A[k * w + j];
            for (int k = 0; k < cl; k++)
                s -= Wl[i * cl + k] * Wl[j * cl + k];
            B[i * w + j] = s;
        }
}

static void test_flow(void)
{
    double sv[3] = {3, 2, 1};
    task_cfg tc = {.kind = TASK_LOWRANK, .n_out = 5, .n_in = 4, .sv = sv, .n_sv = 3, .n_src = 1, .seed = 2};
    task t;
    task_build(&tc, &t);
    dln_cfg dc = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 3, .width = 6, .loss = DLN_LOSS_SUM};
    dln *d;
    dln_alloc(&dc, &t, &d);
    gsl_rng_set(rng, 11);
    dln_init(d, DLN_INIT_GAUSS, 0.3, 0, NULL, 0, rng);
    double *th0 = util_malloc(dln_n_param(d) * sizeof *th0);
    memcpy(th0, dln_params(d), dln_n_param(d) * sizeof *th0);
    double B0[2][36], B1[36];
    balancedness(d, 0, 1, B0[0]);
    balancedness(d, 1, 2, B0[1]);
    const dln_stepper st[3] = {DLN_RK8PD, DLN_RKF45, DLN_RKCK};
    for (int k = 0; k < 3; k++) {
        memcpy(dln_params(d), th0, dln_n_param(d) * sizeof *th0);
        dln_flow_alloc(d, st[k], 1e-12, 1e-12, 1e-3);
        CHECK(dln_flow_advance(d, 0, 3.0) == CS_OK);
        balancedness(d, 0, 1, B1);
        CHECK_ARRAY_CLOSE(B1, B0[0], 36, 0,
                          1e-8); /* conserved by the flow; integrator tolerance 1e-12 per step */
        balancedness(d, 1, 2, B1);
        CHECK_ARRAY_CLOSE(B1, B0[1], 36, 0, 1e-8);
    }
    /* the trained map approaches the target T (loss -> 0) after enough time */
    memcpy(dln_params(d), th0, dln_n_param(d) * sizeof *th0);
    dln_flow_alloc(d, DLN_RK8PD, 1e-10, 1e-10, 1e-3);
    dln_flow_advance(d, 0, 30.0);
    CHECK(dln_grad(d, dln_params(d), dln_gradient(d)) < 1e-8);
    /* GD -> flow as lr -> 0: error at time 1 is first order in lr */
    memcpy(dln_params(d), th0, dln_n_param(d) * sizeof *th0);
    dln_flow_alloc(d, DLN_RK8PD, 1e-13, 1e-13, 1e-3);
    dln_flow_advance(d, 0, 1.0);
    double *ref = util_malloc(dln_n_param(d) * sizeof *ref);
    memcpy(ref, dln_params(d), dln_n_param(d) * sizeof *ref);
    double err[2];
    for (int k = 0; k < 2; k++) {
        double lr = k ? 0.005 : 0.01;
        memcpy(dln_params(d), th0, dln_n_param(d) * sizeof *th0);
        long n = (long)lround(1.0 / lr);
        for (long s = 0; s < n; s++)
            dln_gd_step(d, lr);
        double e = 0;
        for (size_t i = 0; i < dln_n_param(d); i++)
            e = fmax(e, fabs(dln_params(d)[i] - ref[i]));
        err[k] = e;
    }
    printf("  GD vs flow at t = 1: lr 0.01 -> %.3g, lr 0.005 -> %.3g (ratio %.3f)\n", err[0], err[1],
           err[0] / err[1]);
    CHECK(err[1] < err[0]);
    CHECK(err[0] / err[1] > 1.8 && err[0] / err[1] < 2.2); /* Euler is first order: ratio 2 + O(lr) */
    free(ref);
    free(th0);
    dln_free(d);
    task_free(&t);

    /* L10 in full matrices: D = 2 aligned flow, one pathway, follows K(t) = s e^{2st} / (e^{2st} - 1 + s/K0)
     */
    task_cfg hc = {.kind = TASK_HIER, .n_src = 1};
    task_build(&hc, &t);
    dln_cfg one = {.arch = DLN_FUSED, .depth = 2, .width = 10, .loss = DLN_LOSS_SUM};
    dln_alloc(&one, &t, &d);
    double k0 = 0.01;
    dln_init(d, DLN_INIT_ALIGNED, 0, 0, &k0, 1, rng);
    dln_flow_alloc(d, DLN_RK8PD, 1e-12, 1e-12, 1e-3);
    dln_flow_advance(d, 0, 1.5);
    double K[8], w = 0;
    dln_maps(d, dln_params(d), NULL);
    dln_modes(d, K);
    for (int a = 0; a < 8; a++) {
        double s = t.s[a], e = exp(2 * s * 1.5), want = s * e / (e - 1 + s / k0);
        w = fmax(w, fabs(K[a] - want) / want);
    }
    printf("  aligned D=2 flow vs Saxe sigmoid: worst relative error %.3g\n", w);
    CHECK(w < 1e-8); /* rk8pd at 1e-12 tolerances */
    dln_free(d);
    task_free(&t);
}

/* L11: remove one sensor of a fused network on the (whitened, diagonal Sxx) hierarchy. */
static double removal_effect(int D, int *bitident)
{
    int dims[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    task_cfg tc = {.kind = TASK_HIER, .n_src = 8, .src_dims = dims};
    task t;
    task_build(&tc, &t);
    dln_cfg dc = {.arch = DLN_FUSED, .depth = D, .width = 20, .loss = DLN_LOSS_SUM};
    dln *d0, *d1;
    dln_alloc(&dc, &t, &d0);
    dln_alloc(&dc, &t, &d1);
    gsl_rng_set(rng, 4);
    dln_init(d0, DLN_INIT_GAUSS, 1e-3, 0, NULL, 0, rng);
    memcpy(dln_params(d1), dln_params(d0), dln_n_param(d0) * sizeof(double));
    deficit_list dl = {0};
    add_def(&dl, "remove:c@0-150");
    dln_set_deficits(d1, &dl);
    double diff = 0;
    *bitident = 1;
    double *m0 = util_malloc(15 * 8 * sizeof *m0), *m1 = util_malloc(15 * 8 * sizeof *m1);
    for (long s = 0; s < 600; s++) {
        dln_set_step(d0, s);
        dln_set_step(d1, s);
        dln_gd_step(d0, 0.05);
        dln_gd_step(d1, 0.05);
        dln_maps(d0, dln_params(d0), m0);
        dln_maps(d1, dln_params(d1), m1);
        for (int i = 0; i < 15; i++)
            for (int j = 0; j < 8; j++) {
                if (j == 2) continue;
                if (m0[i * 8 + j] != m1[i * 8 + j]) *bitident = 0;
                diff = fmax(diff, fabs(m0[i * 8 + j] - m1[i * 8 + j]));
            }
    }
    free(m0);
    free(m1);
    dln_free(d0);
    dln_free(d1);
    task_free(&t);
    return diff;
}

static void test_removal(void)
{
    int bit;
    double e1 = removal_effect(1, &bit);
    CHECK(bit); /* D = 1: each column's update only reads its own column (diagonal Sxx) */
    CHECK(e1 == 0);
    double e2 = removal_effect(2, &bit);
    printf("  D=2 fused: removing source c changes the other columns by up to %.3g\n", e2);
    CHECK(!bit);
    CHECK(e2 > 1e-3); /* coupled through the shared hidden layer */
}

static void test_completion_d1(void)
{
    task_cfg tc = {.kind = TASK_COMPLETION, .n = 12, .rank1 = 2, .n_obs = 40, .seed = 3};
    task t;
    task_build(&tc, &t);
    /* generated target: mean squared entry 1 */
    double ss = 0;
    for (int i = 0; i < 144; i++)
        ss += t.target[i] * t.target[i];
    CHECK_CLOSE(ss / 144, 1.0, 1e-12, 0);
    dln_cfg dc = {.arch = DLN_FUSED, .depth = 1};
    dln *d;
    dln_alloc(&dc, &t, &d);
    dln_init(d, DLN_INIT_GAUSS, 0.01, 0, NULL, 0, rng);
    double *w0 = util_malloc(144 * sizeof *w0);
    memcpy(w0, dln_params(d), 144 * sizeof *w0);
    for (long s = 0; s < 3000; s++)
        dln_gd_step(d, 5.0);
    char *obs = calloc(144, 1);
    for (int k = 0; k < t.n_obs; k++)
        obs[t.obs_r[k] * 12 + t.obs_c[k]] = 1;
    int same = 1;
    double fit = 0;
    for (int i = 0; i < 144; i++) {
        if (!obs[i] && dln_params(d)[i] != w0[i]) same = 0;
        if (obs[i]) fit = fmax(fit, fabs(dln_params(d)[i] - t.target[i]));
    }
    CHECK(same);       /* unobserved entries never receive a gradient: bit-identical */
    CHECK(fit < 1e-6); /* observed entries converge: factor (1 - lr/m)^3000 = (1 - 1/8)^3000 */
    /* test loss: mean over all entries */
    double tl = dln_test_loss(d, dln_params(d)), want = 0;
    for (int i = 0; i < 144; i++)
        want += (dln_params(d)[i] - t.target[i]) * (dln_params(d)[i] - t.target[i]);
    CHECK_CLOSE(tl, want / 144, 1e-12, 0);
    free(obs);
    free(w0);
    dln_free(d);
    task_free(&t);
}

static void test_errors(void)
{
    task_cfg tc = {.kind = TASK_HIER, .n_src = 2};
    task t;
    task_build(&tc, &t);
    dln *d;
    dln_cfg bad = {.arch = DLN_PATHS, .n_chain = 3, .depth = 2, .width = 4};
    CHECK_INT(dln_alloc(&bad, &t, &d), CS_EUSAGE); /* 3 pathways, 2 sources */
    bad.depth = 0;
    bad.n_chain = 2;
    CHECK_INT(dln_alloc(&bad, &t, &d), CS_EUSAGE);
    dln_cfg ok = {.arch = DLN_PATHS, .n_chain = 2, .depth = 2, .width = 4};
    CHECK_INT(dln_alloc(&ok, &t, &d), CS_OK);
    double k0 = 0.01;
    CHECK_INT(dln_init(d, DLN_INIT_ALIGNED, 0, 0, &k0, 1, rng), CS_EUSAGE); /* separate inputs */
    double w[12] = {0};
    CHECK_INT(dln_set_layer(d, 0, 1, w, 3, 4, "test"), CS_EUSAGE); /* layer 1 is 4 x 4 */
    CHECK(strstr(util_errmsg(), "4 x 4") != NULL);
    CHECK_INT(dln_set_layer(d, 1, 2, w, 3, 4, "test"), CS_EUSAGE); /* layer 2 is 15 x 4 */
    deficit_list dl = {0};
    add_def(&dl, "gate:c@0-10");
    CHECK_INT(dln_set_deficits(d, &dl), CS_EUSAGE);
    dl.n = 0;
    add_def(&dl, "lesion:a:9@0-10");
    CHECK_INT(dln_set_deficits(d, &dl), CS_EUSAGE);
    dl.n = 0;
    add_def(&dl, "subset:10@0-10");
    CHECK_INT(dln_set_deficits(d, &dl), CS_EUSAGE);
    dl.n = 0;
    add_def(&dl, "switch@5");
    CHECK_INT(dln_set_deficits(d, &dl), CS_EUSAGE); /* no second target */
    dl.n = 0;
    add_def(&dl, "remove:c@0-5");
    CHECK_INT(dln_set_deficits(d, &dl), CS_EUSAGE);
    dl.n = 0;
    add_def(&dl, "flip@0-5");
    CHECK_INT(dln_set_deficits(d, &dl), CS_EUSAGE);
    dln_free(d);
    task_free(&t);
}

/* frozen PyTorch plain-SGD reference (tests/data/gen_flow_ref.py, float64): hierarchy, two pathways
 * on a shared input, D = 3, width 6, 0.5 * sum MSE, lr 0.05, 100 steps, b gated (detached) on [0, 20). */
static void test_torch_reference(void)
{
    task_cfg tc = {.kind = TASK_HIER, .n_src = 1};
    task t;
    task_build(&tc, &t);
    dln_cfg dc = {
        .arch = DLN_PATHS, .shared_input = 1, .n_chain = 2, .depth = 3, .width = 6, .loss = DLN_LOSS_SUM};
    dln *d;
    dln_alloc(&dc, &t, &d);
    char path[256];
    int okload = 1;
    for (int p = 0; p < 2; p++)
        for (int l = 1; l <= 3; l++) {
            npy_array a;
            snprintf(path, sizeof path, "tests/data/flow_ref/init_%c_%d.npy", 'a' + p, l);
            if (npy_read(path, &a) != CS_OK) {
                okload = 0;
                printf("  cannot read %s\n", path);
                continue;
            }
            if (a.ndim != 2 ||
                dln_set_layer(d, p, l, a.data, (int)a.shape[0], (int)a.shape[1], path) != CS_OK)
                okload = 0;
            npy_free(&a);
        }
    CHECK(okload);
    npy_array L;
    int okl = npy_read("tests/data/flow_ref/loss.npy", &L) == CS_OK && L.size == 100;
    CHECK(okl);
    deficit_list dl = {0};
    add_def(&dl, "gate:b@0-20");
    dln_set_deficits(d, &dl);
    double lerr = 0;
    for (long s = 0; s < 100; s++) {
        dln_set_step(d, s);
        double loss = dln_gd_step(d, 0.05);
        if (okl) lerr = fmax(lerr, fabs(loss - L.data[s]) / (1e-12 + fabs(L.data[s])));
    }
    if (okl) npy_free(&L);
    double werr = 0;
    for (int p = 0; p < 2; p++)
        for (int l = 1; l <= 3; l++) {
            npy_array a;
            snprintf(path, sizeof path, "tests/data/flow_ref/final_%c_%d.npy", 'a' + p, l);
            if (npy_read(path, &a) != CS_OK) {
                werr = INFINITY;
                continue;
            }
            const double *w = dln_weight(d, dln_params(d), p, l);
            for (size_t i = 0; i < a.size; i++)
                werr = fmax(werr, fabs(w[i] - a.data[i]));
            npy_free(&a);
        }
    printf("  torch SGD reference (float64): worst weight error %.3g, worst relative loss error %.3g\n", werr,
           lerr);
    /* same float64 arithmetic up to summation order: 100 steps amplify rounding to ~1e-13 */
    CHECK(werr < 1e-10);
    CHECK(lerr < 1e-10);
    dln_free(d);
    task_free(&t);
}

int main(void)
{
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    test_gradients();
    test_gradients_nl();
    test_nl_forward();
    test_rsv_sampled();
    test_flow_nl();
    test_single();
    test_gate();
    test_gd_apply();
#ifdef __AVX512F__
    test_gemm_small();
#endif
    test_aligned_vs_modes();
    test_engine_vs_reference();
    test_flow();
    test_removal();
    test_completion_d1();
    test_errors();
    test_torch_reference();
    gsl_rng_free(rng);
    return check_done("test_dln");
}
