/* test_task.c - tasks of the linear engine: exact statistics, generated targets, files and errors.
 * Oracles: the hierarchy's closed-form singular values (L1); the exact loss against a direct sum over
 * the 8 items; properties of the latent construction (redundancy 1: one source predicts y
 * perfectly; synergy 1: the first source carries no covariance with y); file round trips.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "linalg.h"
#include "npy.h"
#include "task.h"
#include "util.h"

static char tmpdir[256];

static const char *wfile(const char *name, const char *text)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

/* residual loss of the best map that reads only columns [o, o + n) of the input */
static double best_loss_from(const task *t, int o, int n)
{
    /* L* = 1/2 (tr Syy - tr(Syx_s Sxx_ss^-1 Syx_s^T)); Sxx_ss inverted by its SVD */
    double *S = malloc(sizeof(double) * n * n), *U = malloc(sizeof(double) * n * n),
           *V = malloc(sizeof(double) * n * n), *s = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            S[i * n + j] = t->sxx[(o + i) * t->n_in + o + j];
    linalg_svd(n, n, S, U, s, V);
    double expl = 0;
    for (int a = 0; a < n; a++) {
        if (s[a] < 1e-12 * s[0]) continue;
        for (int r = 0; r < t->n_out; r++) {
            double pu = 0, pv = 0;
            for (int j = 0; j < n; j++) {
                pu += t->syx[r * t->n_in + o + j] * U[j * n + a];
                pv += t->syx[r * t->n_in + o + j] * V[j * n + a];
            }
            expl += pu * pv / s[a];
        }
    }
    free(S);
    free(U);
    free(V);
    free(s);
    return 0.5 * (t->tr_syy - expl);
}

static void test_hier(void)
{
    task_cfg c = {.kind = TASK_HIER, .n_src = 1};
    task t;
    CHECK_INT(task_build(&c, &t), CS_OK);
    CHECK_INT(t.n_out, 15);
    CHECK_INT(t.n_in, 8);
    double want[8] = {sqrt(15), sqrt(7), sqrt(3), sqrt(3), 1, 1, 1, 1};
    CHECK_ARRAY_CLOSE(t.s, want, 8, 0, 1e-12); /* L1; exact integer matrix, LAPACK ~1e-15 */
    CHECK_CLOSE(t.n_items, 8, 0, 0);
    /* exact loss vs the direct sum over the 8 one-hot items */
    double om[120], yt[120];
    task_hier_yt(yt);
    for (int i = 0; i < 120; i++)
        om[i] = sin(1.0 + i);
    double direct = 0;
    for (int mu = 0; mu < 8; mu++)
        for (int i = 0; i < 15; i++)
            direct += (yt[i * 8 + mu] - om[i * 8 + mu]) * (yt[i * 8 + mu] - om[i * 8 + mu]);
    direct /= 2 * 8;
    CHECK_CLOSE(task_item_loss(15, 8, t.sxx, t.syx, t.tr_syy, om), direct, 1e-13,
                0); /* rounding of 120 terms */
    memset(om, 0, sizeof om);
    CHECK_CLOSE(task_item_loss(15, 8, t.sxx, t.syx, t.tr_syy, om), 32.0 / 16, 1e-14,
                0); /* 32 ones in Y: 4 levels x 8 items */
    /* U and V orthonormal */
    double g = 0;
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++) {
            double uu = 0, vv = 0;
            for (int i = 0; i < 15; i++)
                uu += t.U[i * 8 + a] * t.U[i * 8 + b];
            for (int j = 0; j < 8; j++)
                vv += t.V[j * 8 + a] * t.V[j * 8 + b];
            g = fmax(g, fmax(fabs(uu - (a == b)), fabs(vv - (a == b))));
        }
    CHECK(g < 1e-13);
    task_free(&t);
    /* sources split evenly and by --source-dims */
    c.n_src = 3;
    task_build(&c, &t);
    CHECK_INT(t.src_dim[0], 3);
    CHECK_INT(t.src_dim[2], 2);
    CHECK_INT(t.src_off[2], 6);
    task_free(&t);
    int bad[2] = {3, 4};
    c.n_src = 2;
    c.src_dims = bad;
    CHECK_INT(task_build(&c, &t), CS_EUSAGE); /* 3 + 4 != 8 */
}

static void test_lowrank(void)
{
    double sv[3] = {5, 2, 0.5};
    task_cfg c = {.kind = TASK_LOWRANK, .n_out = 7, .n_in = 5, .sv = sv, .n_sv = 3, .n_src = 1, .seed = 4};
    task t;
    CHECK_INT(task_build(&c, &t), CS_OK);
    CHECK_CLOSE(t.s[0], 5, 1e-12, 0);
    CHECK_CLOSE(t.s[1], 2, 1e-12, 0);
    CHECK_CLOSE(t.s[2], 0.5, 1e-12, 0);
    CHECK(t.s[3] < 1e-12);
    CHECK_CLOSE(best_loss_from(&t, 0, 5), 0, 0, 1e-12); /* the full input explains the noise-free target */
    task_free(&t);
    c.n_sv = 6;
    CHECK_INT(task_build(&c, &t), CS_EUSAGE); /* more values than min(out, in) */
}

static void test_latent(void)
{
    task_cfg c = {.kind = TASK_LATENT,
                  .latent_dim = 3,
                  .n_out = 4,
                  .redundancy = 1,
                  .synergy = 0,
                  .n_src = 2,
                  .seed = 7};
    task t;
    CHECK_INT(task_build(&c, &t), CS_OK);
    CHECK_INT(t.n_in, 6);
    CHECK_CLOSE(t.tr_syy, 3, 1e-12, 0);                 /* one unit of variance per latent dimension */
    CHECK_CLOSE(best_loss_from(&t, 0, 3), 0, 0, 1e-10); /* fully redundant: source a alone suffices */
    CHECK_CLOSE(best_loss_from(&t, 3, 3), 0, 0, 1e-10);
    double sym = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            sym = fmax(sym, fabs(t.sxx[i * 6 + j] - t.sxx[j * 6 + i]));
    CHECK(sym < 1e-15);
    task_free(&t);
    c.redundancy = 0;
    task_build(&c, &t);
    double la = best_loss_from(&t, 0, 3), all = best_loss_from(&t, 0, 6);
    CHECK(la > 0.5);               /* no redundancy: source a misses source b's half of the target */
    CHECK_CLOSE(all, 0, 0, 1e-10); /* both sources together explain y */
    task_free(&t);
    c.synergy = 1;
    task_build(&c, &t);
    double ma = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            ma = fmax(ma, fabs(t.syx[i * 6 + j]));
    CHECK(ma < 1e-15);                                  /* full synergy: source a alone is uninformative */
    CHECK_CLOSE(best_loss_from(&t, 0, 6), 0, 0, 1e-10); /* together they determine y */
    CHECK(best_loss_from(&t, 3, 3) > 0.5);              /* b alone: half of u hidden by the nuisance */
    task_free(&t);
    double nv[2] = {0.5, 0.25};
    c.synergy = 0;
    c.noise_var = nv;
    c.n_noise = 2;
    task t0, t1;
    c.n_noise = 0;
    task_build(&c, &t0);
    c.n_noise = 2;
    task_build(&c, &t1);
    CHECK_CLOSE(t1.sxx[0] - t0.sxx[0], 0.5, 1e-14, 0);
    CHECK_CLOSE(t1.sxx[5 * 6 + 5] - t0.sxx[5 * 6 + 5], 0.25, 1e-14, 0);
    task_free(&t0);
    task_free(&t1);
    c.n_noise = 3;
    double nv3[3] = {1, 1, 1};
    c.noise_var = nv3;
    CHECK_INT(task_build(&c, &t), CS_EUSAGE);
}

static void test_completion(void)
{
    task_cfg c = {
        .kind = TASK_COMPLETION, .n = 30, .rank1 = 4, .rank2 = 2, .n_obs = 200, .seed = 1, .need_target2 = 1};
    task t;
    CHECK_INT(task_build(&c, &t), CS_OK);
    CHECK_INT(t.n_obs, 200);
    char *seen = calloc(900, 1);
    int dup = 0, range = 1;
    for (int k = 0; k < 200; k++) {
        if (t.obs_r[k] < 0 || t.obs_r[k] >= 30 || t.obs_c[k] < 0 || t.obs_c[k] >= 30)
            range = 0;
        else if (seen[t.obs_r[k] * 30 + t.obs_c[k]]++)
            dup = 1;
    }
    CHECK(range);
    CHECK(!dup);
    free(seen);
    CHECK(t.s[3] > 1e-3 && t.s[4] < 1e-10); /* rank 4 */
    double s2[30];
    linalg_svd(30, 30, t.target2, NULL, s2, NULL);
    CHECK(s2[1] > 1e-3 && s2[2] < 1e-10); /* second target rank 2 */
    double ss = 0;
    for (int i = 0; i < 900; i++)
        ss += t.target2[i] * t.target2[i];
    CHECK_CLOSE(ss, 900, 1e-12, 0);
    task_free(&t);
    c.n_obs = 901;
    CHECK_INT(task_build(&c, &t), CS_EUSAGE);
}

static void test_files(void)
{
    task t;
    task_cfg c = {.kind = TASK_HIER, .n_src = 1};
    c.sxx_file = wfile("sxx.txt", "2 0 0\n0 1 0\n0 0 1\n");
    c.syx_file = wfile("syx.txt", "# comment\n1 2 3\n4 5 6\n");
    CHECK_INT(task_build(&c, &t), CS_OK);
    CHECK_INT(t.kind, TASK_FILE);
    CHECK_CLOSE(t.target[0], 0.5, 1e-14, 0); /* T = Syx Sxx^-1 */
    CHECK_CLOSE(t.target[5], 6, 1e-14, 0);
    CHECK_CLOSE(t.tr_syy, 0.5 + 4 + 9 + 8 + 25 + 36, 1e-13, 0);
    task_free(&t);
    c.sxx_file = wfile("sxx2.txt", "1 0\n0 1\n");
    CHECK_INT(task_build(&c, &t), CS_EUSAGE);                  /* 2 x 2 vs 3 inputs */
    CHECK(strstr(util_errmsg(), "task_cfg.sxx_file") != NULL); /* the field; critsim flow writes --sigma-xx */
    CHECK(strstr(util_errmsg(), "--") == NULL);
    c.sxx_file = wfile("sxx3.txt", "1 0 0\n0 1 x\n0 0 1\n");
    CHECK_INT(task_build(&c, &t), CS_EUSAGE); /* malformed number */
    c.sxx_file = wfile("sxx4.txt", "1 0.5 0\n0 1 0\n0 0 1\n");
    CHECK_INT(task_build(&c, &t), CS_EUSAGE); /* not symmetric */
    c.sxx_file = wfile("sxx5.txt", "1 0 0\n0 1\n0 0 1\n");
    CHECK_INT(task_build(&c, &t), CS_EUSAGE); /* ragged */
    c.syx_file = NULL;
    CHECK_INT(task_build(&c, &t), CS_EUSAGE); /* only one of the pair */
    c.sxx_file = NULL;
    c.sxx_file = "/nonexistent/sxx.txt";
    c.syx_file = "/nonexistent/syx.txt";
    CHECK_INT(task_build(&c, &t), CS_EUSAGE);

    /* completion from files, .npy target */
    char npy[512];
    snprintf(npy, sizeof npy, "%s/m.npy", tmpdir);
    double m[12];
    for (int i = 0; i < 12; i++)
        m[i] = i;
    size_t shape[2] = {3, 4};
    npy_write_f64(npy, 2, shape, m);
    task_cfg mc = {
        .kind = TASK_COMPLETION, .target_file = npy, .observed_file = wfile("obs.txt", "0 0\n2 3\n1 1\n")};
    CHECK_INT(task_build(&mc, &t), CS_OK);
    CHECK_INT(t.n_out, 3);
    CHECK_INT(t.n_in, 4);
    CHECK_INT(t.obs_c[1], 3);
    task_free(&t);
    mc.observed_file = wfile("obs2.txt", "0 0\n3 0\n");
    CHECK_INT(task_build(&mc, &t), CS_EUSAGE); /* row 3 outside 3 x 4 */
    mc.observed_file = wfile("obs3.txt", "0 0 1\n");
    CHECK_INT(task_build(&mc, &t), CS_EUSAGE); /* three numbers */
    mc.observed_file = wfile("obs4.txt", "1 2\n1 2\n");
    CHECK_INT(task_build(&mc, &t), CS_EUSAGE); /* duplicate */
    mc.observed_file = wfile("obs5.txt", "# nothing\n");
    CHECK_INT(task_build(&mc, &t), CS_EUSAGE); /* empty */
    mc.observed_file = wfile("obs6.txt", "0 0\n");
    mc.target2_file = wfile("t2.txt", "1 2 3\n4 5 6\n");
    CHECK_INT(task_build(&mc, &t), CS_EUSAGE); /* 2 x 3 vs 3 x 4 */
    CHECK(strstr(util_errmsg(), "task_cfg.target2_file") != NULL);
    CHECK(strstr(util_errmsg(), "--") == NULL);
    /* item task with a target file and a wrong second target */
    task_cfg it = {.kind = TASK_LOWRANK,
                   .n_src = 1,
                   .target_file = wfile("t.txt", "1 0\n0 2\n1 1\n"),
                   .target2_file = wfile("t2b.txt", "1 0\n0 2\n")};
    CHECK_INT(task_build(&it, &t), CS_EUSAGE);
    it.target2_file = wfile("t2c.txt", "0 1\n2 0\n1 1\n");
    CHECK_INT(task_build(&it, &t), CS_OK);
    CHECK_CLOSE(t.n_items, 2, 0, 0);
    CHECK_CLOSE(t.syx2[2], 1.0, 1e-15, 0); /* Syx2 = T2 Sxx = T2 / 2 */
    task_free(&t);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_task.%d", (int)getpid());
    util_mkdir_p(tmpdir);
    test_hier();
    test_lowrank();
    test_latent();
    test_completion();
    test_files();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) {
    }
    return check_done("test_task");
}
