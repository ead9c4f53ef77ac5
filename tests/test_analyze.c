/* test_analyze.c - SVD-mode analysis (analyze.h) on planted singular structure: tracked projections
 * stay on their mode when singular values cross (a sorted SVD swaps them), share and inhibition
 * values, principal angles, half-strength steps, basis choice, non-finite snapshots. */
#include <gsl/gsl_rng.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "analyze.h"
#include "check.h"
#include "linalg.h"
#include "opts.h"
#include "snap.h"
#include "table.h"
#include "util.h"

enum { NO = 5, NI = 4, R = 3, NS = 21 };

extern const cmd_def cmd_analyze;

/* run `critsim analyze ARGS` in-process (argv[0] = "analyze") */
static int run_analyze_cmd(int argc, char **argv)
{
    opts *o = NULL;
    int rc = opts_parse(&o, &cmd_analyze, argc, argv);
    if (rc == CS_OK) rc = cmd_analyze.run(o);
    opts_free(o);
    return rc;
}

/* value of `key` in a `key value` table, NaN if absent */
static double table_value(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    char line[512], k[128];
    double v = NAN, x;
    while (fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%127s %lf", k, &x) == 2 && !strcmp(k, key)) v = x;
    fclose(f);
    return v;
}

/* table_fmt_g17 (the analyzer's row writer) against printf itself: 0 mismatches or the first one */
static uint64_t xs_state = 88172645463325252ULL;
static uint64_t xs(void)
{
    xs_state ^= xs_state << 13;
    xs_state ^= xs_state >> 7;
    xs_state ^= xs_state << 17;
    return xs_state;
}
static long g17_bad, g17_n;
static void g17_one(double x)
{
    char got[64], want[64];
    int lg = table_fmt_g17(got, x), lw = snprintf(want, sizeof want, "%.17g", x);
    g17_n++;
    if (lg != lw || strcmp(got, want)) {
        if (!g17_bad) printf("  table_fmt_g17(%a) = '%s', printf gives '%s'\n", x, got, want);
        g17_bad++;
    }
}
static void check_fmt(void)
{
    for (int i = 0; i < 100000; i++) { /* every kind of bit pattern */
        uint64_t u = xs();
        double x;
        memcpy(&x, &u, sizeof x);
        g17_one(x);
    }
    for (int i = 0; i < 100000; i++) { /* log-uniform over the fast path's range and beyond */
        double x = pow(10.0, (double)(xs() % 4400) / 100.0 - 22.0) * (xs() & 1 ? 1 : -1);
        g17_one(x);
        g17_one(nextafter(x, 0.0));
    }
    for (int e = -22; e <= 22; e++) { /* neighbours of powers of ten, round-up to the next power */
        double p = pow(10.0, e), y = p, z = p;
        for (int j = 0; j < 20; j++, y = nextafter(y, 0.0), z = nextafter(z, INFINITY)) {
            g17_one(y);
            g17_one(z);
        }
        g17_one(9.99999999999999999 * p);
    }
    for (int i = 0; i < 50000; i++) { /* exact decimal ties and short decimals */
        double x = (double)(int64_t)(xs() >> (xs() % 64));
        g17_one(x);
        g17_one(ldexp(x, -(int)(xs() % 90)));
        g17_one((double)(xs() % 100000) / 1000.0);
    }
    double special[] = {0.0, -0.0, NAN, -NAN, INFINITY, -INFINITY, 1e-16, 1e17, 0.1, 1.0 / 3.0, 5e-324};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++)
        g17_one(special[i]);
    CHECK_INT(g17_bad, 0);
    CHECK(g17_n > 400000);
    long lv[] = {0, 7, -7, 1000, LONG_MAX, LONG_MIN};
    for (size_t i = 0; i < sizeof lv / sizeof *lv; i++) {
        char got[32], want[32];
        table_fmt_long(got, lv[i]);
        snprintf(want, sizeof want, "%ld", lv[i]);
        CHECK(strcmp(got, want) == 0);
    }
}

/* The analyzer's own SVD path (LAPACKE dgesdd on the row-major map read as its column-major transpose,
 * preallocated workspaces) against GSL's one-sided Jacobi (linalg_svd_gsl, an independent algorithm)
 * on random maps of a concat run whose sources are wide (6 x 9) and tall (6 x 3): sorted singular values
 * of every source and of the total, and principal angles from GSL's left vectors. */
static void check_svd_vs_gsl(gsl_rng *rng)
{
    enum { O = 6, IA = 9, IB = 3, IT = IA + IB, RR = 3, NSNAP = 4 };
    double Qo[O * O], Qi[IT * IT], Ub[O * RR], Vb[IT * RR];
    linalg_random_orthogonal(rng, O, Qo);
    linalg_random_orthogonal(rng, IT, Qi);
    for (int i = 0; i < O; i++)
        for (int a = 0; a < RR; a++)
            Ub[i * RR + a] = Qo[i * O + a];
    for (int i = 0; i < IT; i++)
        for (int a = 0; a < RR; a++)
            Vb[i * RR + a] = Qi[i * IT + a];
    static double A[NSNAP * O * IA], B[NSNAP * O * IB];
    for (int i = 0; i < NSNAP * O * IA; i++)
        A[i] = gsl_rng_uniform(rng) - 0.5;
    for (int i = 0; i < NSNAP * O * IB; i++)
        B[i] = gsl_rng_uniform(rng) - 0.5;
    long st[NSNAP] = {0, 1, 2, 3};
    double sr[RR] = {3, 2, 1};
    snap_run run;
    memset(&run, 0, sizeof run);
    run.n_snap = NSNAP;
    run.step = st;
    run.meta = (snap_meta){.n_src = 2, .layout = SNAP_CONCAT, .n_out = O, .n_in = {IA, IB}, .rank = RR};
    run.map[0] = A;
    run.map[1] = B;
    run.U = Ub;
    run.V = Vb;
    run.s = sr;
    analyze_result res;
    CHECK_INT(analyze_run(&run, 0, &res), CS_OK);
    CHECK_INT(res.n_sv[0], O);
    CHECK_INT(res.n_sv[1], IB);
    CHECK_INT(res.n_sv[2], O);
    double worst_sv = 0, worst_angle = 0;
    for (int k = 0; k < NSNAP; k++) {
        const double *maps[2] = {A + (size_t)k * O * IA, B + (size_t)k * O * IB};
        double tot[O * IT];
        for (int i = 0; i < O; i++)
            for (int j = 0; j < IT; j++)
                tot[i * IT + j] = j < IA ? maps[0][i * IA + j] : maps[1][i * IB + j - IA];
        for (int p = 0; p <= 2; p++) {
            int ni = p == 0 ? IA : p == 1 ? IB : IT, kk = O < ni ? O : ni;
            double Ug[O * O], Vg[IT * O], sg[O];
            CHECK_INT(linalg_svd_gsl(O, ni, p < 2 ? maps[p] : tot, Ug, sg, Vg), CS_OK);
            const double *sv = res.sv + ((size_t)k * 3 + p) * res.sv_stride;
            for (int i = 0; i < kk; i++) /* both backward stable, singular values O(1): ~k eps */
                if (fabs(sv[i] - sg[i]) > worst_sv) worst_sv = fabs(sv[i] - sg[i]);
            if (p == 2) continue;
            int ka = res.k_angle[p];
            double Qg[O * RR], th[RR];
            for (int i = 0; i < O; i++)
                for (int a = 0; a < ka; a++)
                    Qg[i * ka + a] = Ug[i * kk + a];
            CHECK_INT(analyze_principal_angles(O, ka, Qg, RR, Ub, th), CS_OK);
            const double *ang = res.angle + ((size_t)k * 2 + p) * res.angle_stride;
            for (int i = 0; i < ka; i++) /* random subspaces: angles away from 0, acos well conditioned */
                if (fabs(ang[i] - th[i]) > worst_angle) worst_angle = fabs(ang[i] - th[i]);
        }
    }
    CHECK_CLOSE(worst_sv, 0.0, 0, 1e-13);
    CHECK_CLOSE(worst_angle, 0.0, 0, 1e-10);
    analyze_result_free(&res);

    /* a source frozen over snapshots 1..3 (as under a gate deficit) and both frozen from 2 to 3: results
     * are reused, and must be bit for bit those of each snapshot analysed on its own */
    for (int k = 1; k < NSNAP; k++)
        memcpy(B + (size_t)k * O * IB, B, sizeof(double) * O * IB);
    memcpy(A + (size_t)3 * O * IA, A + (size_t)2 * O * IA, sizeof(double) * O * IA);
    CHECK_INT(analyze_run(&run, 0, &res), CS_OK);
    int differ = 0;
    for (int k = 0; k < NSNAP; k++) {
        snap_run one = run;
        one.n_snap = 1;
        one.step = st + k;
        one.map[0] = A + (size_t)k * O * IA;
        one.map[1] = B + (size_t)k * O * IB;
        analyze_result r1;
        CHECK_INT(analyze_run(&one, 0, &r1), CS_OK);
        size_t nsv = (size_t)3 * res.sv_stride, nang = (size_t)2 * res.angle_stride;
        for (size_t i = 0; i < nsv; i++) {
            double x = res.sv[k * nsv + i], y = r1.sv[i];
            differ += !(x == y || (isnan(x) && isnan(y)));
        }
        for (size_t i = 0; i < nang; i++) {
            double x = res.angle[k * nang + i], y = r1.angle[i];
            differ += !(x == y || (isnan(x) && isnan(y)));
        }
        differ += memcmp(res.K + (size_t)k * 2 * RR, r1.K, sizeof(double) * 2 * RR) != 0;
        analyze_result_free(&r1);
    }
    CHECK_INT(differ, 0);
    analyze_result_free(&res);
}

/* Degenerate blocks: analyze_blocks on planted singular values, and a planted degenerate target whose
 * block basis is rotated: the per-mode shares change, the block share (K summed over the block) does
 * not.  Run: 2 sources (concat, 3 + 3 inputs), n_out 4, s = (3, 2, 2, 2): modes 1-3 degenerate; random
 * maps; the second basis is U_B Q, V_B Q for a random 3 x 3 rotation Q. */
static void check_blocks(gsl_rng *rng)
{
    enum { O = 4, I1 = 3, IT = 2 * I1, RR = 4 };
    int first[RR + 2];
    double s1[6] = {3, 2, 2 * (1 + 1e-13), 2, 1, 1}; /* a rounding-size split stays one block */
    CHECK_INT(analyze_blocks(6, s1, ANALYZE_DEGEN_RTOL, first), 3);
    CHECK(first[0] == 0 && first[1] == 1 && first[2] == 4 && first[3] == 6);
    double s2[3] = {2, 2 * (1 - 1e-6), 1}; /* a gap of 1e-6 s_0 > 1e-9 s_0: separate modes */
    CHECK_INT(analyze_blocks(3, s2, ANALYZE_DEGEN_RTOL, first), 3);
    double s3[3] = {NAN, NAN, NAN}; /* singular values unknown: no blocks */
    CHECK_INT(analyze_blocks(3, s3, ANALYZE_DEGEN_RTOL, first), 3);
    double s4[2] = {1, 1};
    CHECK_INT(analyze_blocks(2, s4, ANALYZE_DEGEN_RTOL, first), 1);
    CHECK(first[0] == 0 && first[1] == 2);
    /* K (2 sources x 3 modes): block [1, 3) share = (K_b1 + K_b2) / (K_a1 + K_a2 + K_b1 + K_b2) */
    double K[6] = {9, 1, 2, 9, 3, 4}; /* K_a = (9, 1, 2), K_b = (9, 3, 4) */
    CHECK_CLOSE(analyze_block_share_b(2, K, 3, 1, 3), 0.7, 1e-15, 0);
    CHECK_CLOSE(analyze_block_share_b(2, K, 3, 0, 1), 0.5, 0, 0);
    CHECK(isnan(analyze_block_share_b(1, K, 3, 0, 3)));

    double Qo[O * O], Qi[IT * IT], Q3[3 * 3], U1[O * RR], V1[IT * RR], U2[O * RR], V2[IT * RR];
    linalg_random_orthogonal(rng, O, Qo);
    linalg_random_orthogonal(rng, IT, Qi);
    linalg_random_orthogonal(rng, 3, Q3);
    for (int i = 0; i < O; i++)
        for (int a = 0; a < RR; a++)
            U1[i * RR + a] = Qo[i * O + a];
    for (int i = 0; i < IT; i++)
        for (int a = 0; a < RR; a++)
            V1[i * RR + a] = Qi[i * IT + a];
    /* rotate columns 1..3 of U and V by the same Q: the target U diag(s) V^T is unchanged */
    memcpy(U2, U1, sizeof U1);
    memcpy(V2, V1, sizeof V1);
    for (int i = 0; i < O; i++)
        for (int a = 0; a < 3; a++) {
            double x = 0;
            for (int c = 0; c < 3; c++)
                x += U1[i * RR + 1 + c] * Q3[c * 3 + a];
            U2[i * RR + 1 + a] = x;
        }
    for (int i = 0; i < IT; i++)
        for (int a = 0; a < 3; a++) {
            double x = 0;
            for (int c = 0; c < 3; c++)
                x += V1[i * RR + 1 + c] * Q3[c * 3 + a];
            V2[i * RR + 1 + a] = x;
        }
    static double A[2 * O * I1], B[2 * O * I1];
    for (int i = 0; i < 2 * O * I1; i++) {
        A[i] = gsl_rng_uniform(rng) - 0.2;
        B[i] = gsl_rng_uniform(rng) - 0.2;
    }
    long st[2] = {0, 5};
    double sr[RR] = {3, 2, 2, 2};
    snap_run run;
    memset(&run, 0, sizeof run);
    run.n_snap = 2;
    run.step = st;
    run.meta = (snap_meta){.n_src = 2, .layout = SNAP_CONCAT, .n_out = O, .n_in = {I1, I1}, .rank = RR};
    run.map[0] = A;
    run.map[1] = B;
    run.U = U1;
    run.V = V1;
    run.s = sr;
    analyze_result r1, r2;
    CHECK_INT(analyze_run(&run, 0, &r1), CS_OK);
    run.U = U2;
    run.V = V2;
    CHECK_INT(analyze_run(&run, 0, &r2), CS_OK);
    CHECK_INT(r1.n_blk, 2);
    CHECK(r1.blk_first[1] == 1 && r1.blk_first[2] == 4);
    double dmode = 0, dblock = 0, dsingle = 0;
    for (int k = 0; k < 2; k++) {
        for (int a = 1; a < RR; a++)
            dmode = fmax(dmode, fabs(r1.share[k * RR + a] - r2.share[k * RR + a]));
        dblock = fmax(dblock, fabs(r1.blk_share[k * 2 + 1] - r2.blk_share[k * 2 + 1]));
        dsingle = fmax(dsingle, fabs(r1.blk_share[k * 2] - r1.share[k * RR]));
        /* the block share is the share of the block's summed K */
        double ka = 0, kb = 0;
        for (int a = 1; a < RR; a++) {
            ka += r1.K[(k * 2 + 0) * RR + a];
            kb += r1.K[(k * 2 + 1) * RR + a];
        }
        CHECK_CLOSE(r1.blk_share[k * 2 + 1], kb / (ka + kb), 1e-14, 0);
    }
    /* random maps and a random rotation: per-mode shares move by O(1) (> 1e-3 leaves a wide margin);
     * the block share agrees to rounding: sums of ~20 O(1) products, well-conditioned share -> 1e-12 */
    CHECK(dmode > 1e-3);
    CHECK_CLOSE(dblock, 0.0, 0, 1e-12);
    CHECK_CLOSE(dsingle, 0.0, 0, 0); /* a block of one mode is that mode, bit for bit */
    analyze_result_free(&r1);
    analyze_result_free(&r2);
}

/* planted per-mode strengths: modes 0 and 1 of source a cross at snapshot 10 */
static double ka(int k, int a)
{
    return a == 0 ? 3.0 - 0.2 * k : a == 1 ? 1.0 + 0.2 * k : 0.5;
}
static double kb(int k, int a)
{
    return a == 0 ? 0.1 * k : a == 1 ? 0.05 : 1.0 - 0.04 * k;
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    double Q[NO * NO], Pa[NI * NI], Pb[NI * NI];
    linalg_random_orthogonal(rng, NO, Q);
    linalg_random_orthogonal(rng, NI, Pa);
    linalg_random_orthogonal(rng, NI, Pb);
    /* U = first R columns of Q; V = [Va; Vb] / sqrt 2 with Va, Vb orthonormal (NI x R): V^T V = I */
    double U[NO * R], V[2 * NI * R];
    for (int i = 0; i < NO; i++)
        for (int a = 0; a < R; a++)
            U[i * R + a] = Q[i * NO + a];
    for (int i = 0; i < NI; i++)
        for (int a = 0; a < R; a++) {
            V[i * R + a] = Pa[i * NI + a] / sqrt(2.0);
            V[(NI + i) * R + a] = Pb[i * NI + a] / sqrt(2.0);
        }
    /* M_P(k) = sqrt 2 U diag(k_P) V_P^T, so u_a^T M_P v_a^{(P)} = k_P,a exactly (up to rounding) and the
     * singular values of M_P are sqrt 2 |k_P| */
    static double Ma[NS][NO * NI], Mb[NS][NO * NI];
    for (int k = 0; k < NS; k++)
        for (int i = 0; i < NO; i++)
            for (int j = 0; j < NI; j++) {
                double sa = 0, sb = 0;
                for (int a = 0; a < R; a++) {
                    sa += U[i * R + a] * ka(k, a) * Pa[j * NI + a];
                    sb += U[i * R + a] * kb(k, a) * Pb[j * NI + a];
                }
                Ma[k][i * NI + j] = sqrt(2.0) * sa;
                Mb[k][i * NI + j] = sqrt(2.0) * sb;
            }
    double s[R] = {3, 2, 1};
    snap_run run;
    memset(&run, 0, sizeof run);
    run.n_snap = NS;
    run.meta = (snap_meta){
        .engine = "test", .n_src = 2, .layout = SNAP_CONCAT, .n_out = NO, .n_in = {NI, NI}, .rank = R};
    long steps[NS];
    for (int k = 0; k < NS; k++)
        steps[k] = 10L * k;
    run.step = steps;
    run.map[0] = &Ma[0][0];
    run.map[1] = &Mb[0][0];
    run.U = U;
    run.V = V;
    run.s = s;

    analyze_result res;
    CHECK_INT(analyze_run(&run, 0, &res), CS_OK);
    CHECK_INT(res.n_snap, NS);
    CHECK_INT(res.r, R);
    CHECK_INT(res.basis, ANALYZE_BASIS_SNAPSHOT);
    /* tracked projections: planted values, 1e-13 = a few roundings of O(3) sums of 20 products */
    double kerr = 0, swap_seen = 0;
    for (int k = 0; k < NS; k++)
        for (int a = 0; a < R; a++) {
            kerr = fmax(kerr, fabs(res.K[(k * 2 + 0) * R + a] - ka(k, a)));
            kerr = fmax(kerr, fabs(res.K[(k * 2 + 1) * R + a] - kb(k, a)));
        }
    CHECK_CLOSE(kerr, 0.0, 0, 1e-13);
    /* mode 0 of a (3 - 0.2 k, ending at -1) stays mode 0 through its crossing with mode 1 (1 + 0.2 k)
     * at k = 5, while the sorted top singular value of M_a follows the larger curve */
    CHECK_CLOSE(res.K[(0 * 2) * R + 0], 3.0, 0, 1e-13);
    CHECK_CLOSE(res.K[((NS - 1) * 2) * R + 0], ka(NS - 1, 0), 0, 1e-13);
    CHECK_CLOSE(res.K[((NS - 1) * 2) * R + 1], ka(NS - 1, 1), 0, 1e-13);
    {
        /* sorted: sigma_0 = sqrt 2 max|k| -> at the end it is mode 1's 5.0, not mode 0's |-1| */
        const double *sv_last = res.sv + ((size_t)(NS - 1) * 3 + 0) * res.sv_stride;
        const double *sv_first = res.sv + 0;
        CHECK_CLOSE(sv_first[0], sqrt(2.0) * 3.0, 1e-13, 0); /* dgesdd: backward stable, ~1e-15 relative */
        CHECK_CLOSE(sv_last[0], sqrt(2.0) * ka(NS - 1, 1), 1e-13, 0);
        CHECK(fabs(sv_last[0] - sqrt(2.0) * fabs(ka(NS - 1, 0))) > 1.0); /* the sorted curve swapped */
        /* and the tracked K did not */
        swap_seen = fabs(res.K[((NS - 1) * 2) * R + 0] - sv_last[0] / sqrt(2.0));
        CHECK(swap_seen > 1.0);
        /* a 4x4-padded source: n_sv = min(NO, NI) = 4, the 4th value ~0 */
        CHECK_INT(res.n_sv[0], NI);
        CHECK_CLOSE(sv_last[3], 0.0, 0, 1e-13);
        /* total [M_a M_b]: singular values sqrt(2 (k_a^2 + k_b^2)) per mode (orthogonal blocks) */
        const double *svt = res.sv + ((size_t)(NS - 1) * 3 + 2) * res.sv_stride;
        double want[R];
        for (int a = 0; a < R; a++)
            want[a] = sqrt(2.0 * (ka(NS - 1, a) * ka(NS - 1, a) + kb(NS - 1, a) * kb(NS - 1, a)));
        /* sort descending */
        for (int i = 0; i < R; i++)
            for (int j = i + 1; j < R; j++)
                if (want[j] > want[i]) {
                    double t = want[i];
                    want[i] = want[j];
                    want[j] = t;
                }
        CHECK_ARRAY_CLOSE(svt, want, R, 1e-13, 1e-13);
        CHECK_INT(res.n_sv[2], NO); /* total is 5 x 8 */
    }
    /* share and inhibition at the last snapshot: mode 0: K_a = -1, K_b = 2 -> share 2/1 = 2, inhibition
     * (2 - -1)/3 = 1; mode 2: K_a = 0.5, K_b = 0.2 -> share 0.2/0.7, inhibition 0.3/0.7 */
    int L = NS - 1;
    CHECK_CLOSE(res.share[L * R + 0], 2.0, 1e-13, 0);
    CHECK_CLOSE(res.inhib[L * R + 0], 1.0, 1e-13, 0);
    CHECK_CLOSE(res.share[L * R + 2], 0.2 / 0.7, 1e-12, 0);
    CHECK_CLOSE(res.inhib[L * R + 2], 0.3 / 0.7, 1e-12, 0);
    /* snapshot 0 mode 0: K_b = 0 -> share 0, inhibition 1 (a carries everything) */
    CHECK_CLOSE(res.share[0], 0.0, 0, 1e-13);
    CHECK_CLOSE(res.inhib[0], 1.0, 1e-13, 0);
    /* principal angles: span of M_a's top-3 left vectors is span(U) exactly while all 3 k_a != 0 */
    CHECK_INT(res.k_angle[0], R);
    {
        const double *ang = res.angle + ((size_t)3 * 2 + 0) * res.angle_stride;
        /* acos near 1 loses half the digits: sqrt(2 * 1e-15) ~ 5e-8 */
        CHECK_CLOSE(ang[R - 1], 0.0, 0, 1e-7);
        /* source b at snapshot 3: strengths 0.3, 0.05, 0.88, all nonzero -> span(U) again */
        const double *angb = res.angle + ((size_t)3 * 2 + 1) * res.angle_stride;
        CHECK_CLOSE(angb[R - 1], 0.0, 0, 1e-7);
    }
    /* half-strength step of the total K: mode 1 total 1.05 + 0.2k, final 5.05 reached half 2.525 at
     * k = 7.375 -> step 73.75 (linear in k, so interpolation is exact) */
    CHECK_CLOSE(res.half_step[1], 73.75, 1e-12, 0);
    analyze_result_free(&res);
    analyze_result_free(&res); /* idempotent */

    /* ---- the same run without U, V but with the target: fresh SVD of the target.  With distinct
     * target singular values the fresh vectors equal the planted ones up to a common sign of (u, v),
     * which leaves K unchanged. */
    double T[NO * 2 * NI];
    for (int i = 0; i < NO; i++)
        for (int j = 0; j < 2 * NI; j++) {
            double d = 0;
            for (int a = 0; a < R; a++)
                d += U[i * R + a] * s[a] * V[j * R + a];
            T[i * 2 * NI + j] = d;
        }
    run.meta.rank = 0;
    run.U = run.V = run.s = NULL;
    run.target = T;
    CHECK_INT(analyze_run(&run, 2, &res), CS_OK);
    CHECK_INT(res.basis, ANALYZE_BASIS_TARGET);
    CHECK_INT(res.r, R); /* rank 3 found: numerically zero values dropped */
    CHECK_ARRAY_CLOSE(res.s, s, R, 1e-13, 0);
    CHECK_CLOSE(res.K[(L * 2 + 1) * R + 2], kb(L, 2), 1e-10,
                1e-12); /* vectors of a 3,2,1 spectrum: cond ~1 */
    CHECK_INT(res.k_angle[0], 2);
    analyze_result_free(&res);

    /* ---- degenerate target: a fresh SVD may rotate within the degenerate pair, the engine's U, V do not.
     * Target s = (2, 2, 1): with the engine's basis, K of the planted run is exact. */
    run.target = NULL;
    run.meta.rank = R;
    double s2[R] = {2, 2, 1};
    run.U = U;
    run.V = V;
    run.s = s2;
    CHECK_INT(analyze_run(&run, 0, &res), CS_OK);
    CHECK_CLOSE(res.K[(L * 2 + 0) * R + 1], ka(L, 1), 0, 1e-13);
    analyze_result_free(&res);

    /* ---- no U, V, no target: the final total map's SVD is tracked ---- */
    run.meta.rank = 0;
    run.U = run.V = run.s = NULL;
    CHECK_INT(analyze_run(&run, 0, &res), CS_OK);
    CHECK_INT(res.basis, ANALYZE_BASIS_FINAL);
    CHECK_INT(res.r, R);
    {
        /* K_total of the top final mode = its singular value */
        double t = res.K[(L * 2 + 0) * R + 0] + res.K[(L * 2 + 1) * R + 0];
        CHECK(t > 0);
        analyze_result_free(&res);
    }

    /* ---- non-finite snapshot: analysis stops there ---- */
    run.meta.rank = R;
    run.U = U;
    run.V = V;
    run.s = s;
    Mb[15][3] = NAN;
    CHECK_INT(analyze_run(&run, 0, &res), CS_OK);
    CHECK_INT(res.n_snap, 15);
    CHECK_INT(res.n_total, NS);
    analyze_result_free(&res);
    Mb[15][3] = 0.0;

    /* ---- shared layout: both sources read the same 4 inputs; K_a + K_b = u^T (M_a + M_b) v ---- */
    {
        snap_run sh;
        memset(&sh, 0, sizeof sh);
        sh.n_snap = 1;
        sh.step = steps;
        sh.meta = (snap_meta){.n_src = 2, .layout = SNAP_SHARED, .n_out = NO, .n_in = {NI, NI}, .rank = R};
        double Vs[NI * R];
        for (int i = 0; i < NI; i++)
            for (int a = 0; a < R; a++)
                Vs[i * R + a] = Pa[i * NI + a];
        double A[NO * NI], B[NO * NI];
        for (int i = 0; i < NO; i++)
            for (int j = 0; j < NI; j++) {
                double da = 0, db = 0;
                for (int a = 0; a < R; a++) {
                    da += U[i * R + a] * (a + 1.0) * Pa[j * NI + a];
                    db += U[i * R + a] * 0.5 * Pa[j * NI + a];
                }
                A[i * NI + j] = da;
                B[i * NI + j] = db;
            }
        sh.map[0] = A;
        sh.map[1] = B;
        sh.U = U;
        sh.V = Vs;
        sh.s = s;
        CHECK_INT(analyze_run(&sh, 0, &res), CS_OK);
        double wantK[2 * R] = {1, 2, 3, 0.5, 0.5, 0.5};
        CHECK_ARRAY_CLOSE(res.K, wantK, 2 * R, 0, 1e-13);
        /* total = sum: singular values 1.5, 2.5, 3.5 */
        double wt[R] = {3.5, 2.5, 1.5};
        CHECK_ARRAY_CLOSE(res.sv + 2 * res.sv_stride, wt, R, 1e-13, 0);
        CHECK_INT(res.n_sv[2], NI);
        CHECK_CLOSE(res.share[0], 0.5 / 1.5, 1e-13, 0);
        CHECK_CLOSE(res.inhib[1], 1.5 / 2.5, 1e-13, 0);
        analyze_result_free(&res);
    }

    /* ---- kernels ---- */
    {
        double K2[2] = {1.0, 1.0}, K3[3] = {2.0, 1.0, 1.0}, K0[2] = {0, 0}, Kneg[2] = {1.5, -0.5};
        CHECK_CLOSE(analyze_share_b(2, K2, 1), 0.5, 0, 0);
        CHECK_CLOSE(analyze_inhibition(2, K2, 1), 0.0, 0, 0); /* symmetric: exactly 0 */
        CHECK_CLOSE(analyze_share_b(3, K3, 1), 0.25, 0, 0);
        CHECK_CLOSE(analyze_inhibition(3, K3, 1), 0.25, 0, 0);
        CHECK(isnan(analyze_share_b(2, K0, 1)) && isnan(analyze_inhibition(2, K0, 1)));
        CHECK(isnan(analyze_share_b(1, K2, 1)));
        CHECK_CLOSE(analyze_inhibition(2, Kneg, 1), 1.0, 0, 0); /* b opposes a */
        /* principal angles of span(e1, e2) and span(e1, cos t e2 + sin t e3) in R^3: {0, t} */
        double t = 0.3, A[3 * 2] = {1, 0, 0, 1, 0, 0}, B[3 * 2] = {1, 0, 0, cos(t), 0, sin(t)}, th[2];
        CHECK_INT(analyze_principal_angles(3, 2, A, 2, B, th), CS_OK);
        CHECK_CLOSE(th[0], 0.0, 0, 1e-7); /* acos(1 - eps) ~ 1.5e-8 */
        CHECK_CLOSE(th[1], t, 1e-12, 0);  /* acos is well conditioned at cos 0.3 */
        double B1[3] = {0, 0, 1}, th1;
        CHECK_INT(analyze_principal_angles(3, 2, A, 1, B1, &th1), CS_OK);
        CHECK_CLOSE(th1, 2.0 * atan(1.0), 1e-15, 0);
        /* half steps */
        long ts[4] = {0, 10, 20, 30};
        double y[4] = {0, 1, 3, 4}, yn[4] = {0, -1, -3, -4}, yz[4] = {1, 0, 0, 0};
        CHECK_CLOSE(analyze_half_step(4, ts, y), 15.0, 1e-15, 0);
        CHECK_CLOSE(analyze_half_step(4, ts, yn), 15.0, 1e-15, 0); /* sign-normalised */
        CHECK(isnan(analyze_half_step(4, ts, yz)));
        double y2[4] = {3, 3.5, 4, 4};
        CHECK_CLOSE(analyze_half_step(4, ts, y2), 0.0, 0, 0); /* already above half at the first step */
    }
    /* ---- the command on a run whose engine estimated SV_a, SV_b itself (the CNN's path): 4 units,
     * -1, +1, 0 and dead at the last step; an earlier step without estimates is skipped ---- */
    {
        char dir[] = "/tmp/critsim-test-analyze-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        double s1[1] = {1.0}, U1[2] = {1, 0}, V1[2] = {1 / sqrt(2.0), 1 / sqrt(2.0)};
        snap_meta m = {.engine = "cnn",
                       .n_src = 2,
                       .layout = SNAP_CONCAT,
                       .n_out = 2,
                       .n_in = {1, 1},
                       .rank = 1,
                       .U = U1,
                       .s = s1,
                       .V = V1,
                       .n_units = 4};
        snap_writer *w = snap_open(dir, &m);
        CHECK(w != NULL);
        double a0[2] = {0.1, 0}, b0[2] = {0.1, 0}, a1[2] = {0.6, 0}, b1[2] = {0.1, 0};
        const double *m0[2] = {a0, b0}, *m1[2] = {a1, b1};
        double sva[4] = {2, 0, 1.5, 0}, svb[4] = {0, 3, 1.5, 0};
        CHECK_INT(snap_add(w, 0, 0, m0, NULL), CS_OK);
        CHECK_INT(snap_add(w, 5, 5, m1, NULL), CS_OK);
        CHECK_INT(snap_add_sv(w, sva, svb), CS_OK);
        CHECK_INT(snap_close(w), CS_OK);
        char *argv[] = {"analyze", "--run", dir, NULL};
        CHECK_INT(run_analyze_cmd(3, argv), CS_OK);
        char p[300];
        snprintf(p, sizeof p, "%s/summary.dat", dir);
        CHECK_CLOSE(table_value(p, "rsv_step"), 5, 0, 0);
        CHECK_CLOSE(table_value(p, "n_fused"), 1, 0, 0);
        CHECK_CLOSE(table_value(p, "n_single"), 2, 0, 0);
        CHECK_CLOSE(table_value(p, "n_dead"), 1, 0, 0);
        /* n_units counts the engine's estimated units (4), not the run's hidden maps (none) */
        CHECK_CLOSE(table_value(p, "n_units"), 4, 0, 0);
        /* K_a = u^T M_a v^(a) = 0.6 / sqrt 2, K_b = 0.1 / sqrt 2: share 1/7, inhibition 5/7 */
        CHECK_CLOSE(table_value(p, "share_b_m0"), 1.0 / 7.0, 1e-14, 0);
        CHECK_CLOSE(table_value(p, "inhibition_m0"), 5.0 / 7.0, 1e-14, 0);
        snprintf(p, sizeof p, "%s/rsv.dat", dir);
        FILE *f = fopen(p, "r");
        int rows = 0, step0 = 0;
        char line[512];
        while (f && fgets(line, sizeof line, f))
            if (line[0] != '#') {
                rows++;
                step0 += line[0] == '0';
            }
        if (f) fclose(f);
        CHECK_INT(rows, 4); /* only the step with estimates */
        CHECK_INT(step0, 0);
        /* conditional variances need hidden maps and sxx: this run has engine estimates, so the option
         * does not apply and the engine's values are used unchanged */
        char *argv2[] = {"analyze", "--run", dir, "--rsv-variance", "conditional", NULL};
        CHECK_INT(run_analyze_cmd(5, argv2), CS_OK);
        char *argv3[] = {"analyze", "--run", dir, "--rsv-steps", "3", NULL};
        CHECK_INT(run_analyze_cmd(5, argv3), CS_EUSAGE);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    check_svd_vs_gsl(rng);
    check_blocks(rng);
    check_fmt();
    gsl_rng_free(rng);
    return check_done("test_analyze");
}
