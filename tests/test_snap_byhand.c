/* test_snap_byhand.c - the snapshot format can be written from outside critsim: this test writes a
 * RUN/snap/ folder byte by byte (hand-made .npy headers, little-endian payloads, a hand-written
 * index.dat; nothing from snap.c or npy.c's writer), then reads it with the library's loader and
 * analyzer and with `critsim analyze`, and checks the planted values.  It is what a PyTorch user does
 * with numpy alone (docs/formats.md, tools/snap_from_numpy.py).
 *
 * Planted run: 2 sources in the `shared` layout (both maps read the same 3-dimensional input, total map
 * = M_a + M_b), n_out = 4, rank 3, snapshots at steps 0, 5, 10, 20 (time = step / 2).
 *   U = columns 0..2 of the 4 x 4 Hadamard matrix / 2 (orthonormal), V = a signed permutation,
 *   M_P(t) = g(t) U diag(k_P) V^T with g(t) = (t / 20)^2, k_a = (3, 2, 0.5), k_b = (1, 2, 1.5).
 * Every entry is a dyadic rational, exact in float32 and float64, so map_b is written as '<f4' (the
 * loader converts) and map_a as '<f8'.  Expected, at the last step (g = 1), in exact arithmetic:
 *   tracked K_P,alpha = u_alpha^T M_P v_alpha = k_P,alpha; share_b = k_b / (k_a + k_b) = (1/4, 1/2, 3/4);
 *   inhibition = |k_a - k_b| / (|k_a| + |k_b|) = (1/2, 0, 1/2);
 *   sorted singular values: a (3, 2, 0.5), b (2, 1.5, 1), total = k_a + k_b = (4, 4, 2) -> (4, 4, 2);
 *   half step of K_total (g rises 0, 1/16, 1/4, 1 at steps 0, 5, 10, 20): half of the final value is
 *   crossed between steps 10 and 20: 10 + 10 (1/2 - 1/4) / (1 - 1/4) = 40/3 for every mode;
 *   principal angles between span(top-3 left vectors of M_P) and span(U) are 0.
 * Engine-estimated source variances (sv_a.npy, sv_b.npy, 3 units; the route nonlinear engines take):
 *   unit 0 (1, 0) -> RSV -1, unit 1 (0, 2) -> +1, unit 2 (1, 3) -> 0.5; step 0 has NaN rows (no estimate).
 * Tolerances: the analyzer's SVDs and products round at ~1e-16 relative on values of order 1, hence
 * 1e-12; RSV values of exact inputs are exact up to one division, 1e-15.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "check.h"
#include "snap.h"
#include "util.h"

#define NS   4
#define NOUT 4
#define NIN  3
#define R    3

static const long steps[NS] = {0, 5, 10, 20};

/* Write one .npy (format 1.0) by hand: magic, version, header length (u16 little-endian), the dict
 * literal padded with spaces and ended by '\n' so that the data start at a multiple of 64 bytes, then
 * the values as little-endian float64 ('<f8') or float32 ('<f4'). */
static int write_npy(const char *path, int f32, int ndim, const size_t *shape, const double *x)
{
    char dict[256], sh[96] = "";
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        char b[32];
        snprintf(b, sizeof b, ndim == 1 ? "%zu," : i ? " %zu" : "%zu", shape[i]);
        if (ndim > 1 && i < ndim - 1) strcat(b, ",");
        strcat(sh, b);
        n *= shape[i];
    }
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                      f32 ? "<f4" : "<f8", sh);
    size_t hl = (size_t)dl + 1; /* + '\n' */
    while ((10 + hl) % 64)
        hl++;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc((int)(hl & 0xff), f);
    fputc((int)(hl >> 8), f);
    fwrite(dict, 1, (size_t)dl, f);
    for (size_t i = (size_t)dl; i + 1 < hl; i++)
        fputc(' ', f);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        if (f32) {
            float v = (float)x[i];
            uint32_t u;
            memcpy(&u, &v, 4);
            for (int b = 0; b < 4; b++)
                fputc((int)((u >> (8 * b)) & 0xff), f);
        } else {
            uint64_t u;
            memcpy(&u, &x[i], 8);
            for (int b = 0; b < 8; b++)
                fputc((int)((u >> (8 * b)) & 0xff), f);
        }
    }
    return fclose(f);
}

static double U[NOUT * R], V[NIN * R];
static const double ka[R] = {3, 2, 0.5}, kb[R] = {1, 2, 1.5};

static double g_of(long t)
{
    return (t / 20.0) * (t / 20.0);
}

/* M (NOUT x NIN) = g U diag(k) V^T */
static void planted(const double *k, double g, double *M)
{
    for (int i = 0; i < NOUT; i++)
        for (int j = 0; j < NIN; j++) {
            double s = 0;
            for (int a = 0; a < R; a++)
                s += U[i * R + a] * k[a] * V[j * R + a];
            M[i * NIN + j] = g * s;
        }
}

/* value of `key` in a `key value` table, NAN when absent */
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

int main(void)
{
    /* U: Hadamard columns / 2; V: signed permutation (column a of V = +-e_perm[a]) */
    static const int H[4][4] = {{1, 1, 1, 1}, {1, -1, 1, -1}, {1, 1, -1, -1}, {1, -1, -1, 1}};
    for (int i = 0; i < NOUT; i++)
        for (int a = 0; a < R; a++)
            U[i * R + a] = 0.5 * H[i][a];
    memset(V, 0, sizeof V);
    V[2 * R + 0] = 1;  /* v_0 = e_2 */
    V[0 * R + 1] = -1; /* v_1 = -e_0 */
    V[1 * R + 2] = 1;  /* v_2 = e_1 */
    double s[R] = {4, 4, 2};

    char dir[] = "/tmp/critsim-byhand-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char snapdir[256], path[512];
    snprintf(snapdir, sizeof snapdir, "%s/snap", dir);
    CHECK(mkdir(snapdir, 0755) == 0);

    double ma[NS * NOUT * NIN], mb[NS * NOUT * NIN];
    for (int k = 0; k < NS; k++) {
        planted(ka, g_of(steps[k]), ma + k * NOUT * NIN);
        planted(kb, g_of(steps[k]), mb + k * NOUT * NIN);
    }
    double sva[NS * 3], svb[NS * 3];
    const double ua[3] = {1, 0, 1}, ub[3] = {0, 2, 3};
    for (int k = 0; k < NS; k++)
        for (int u = 0; u < 3; u++) {
            sva[k * 3 + u] = k ? ua[u] : NAN;
            svb[k * 3 + u] = k ? ub[u] : NAN;
        }
    size_t s3[3] = {NS, NOUT, NIN}, su[2] = {NOUT, R}, ss[1] = {R}, sv[2] = {NIN, R}, sn[2] = {NS, 3};
    struct {
        const char *name;
        int f32, ndim;
        const size_t *shape;
        const double *x;
    } files[] = {{"map_a.npy", 0, 3, s3, ma}, {"map_b.npy", 1, 3, s3, mb}, {"U.npy", 0, 2, su, U},
                 {"s.npy", 0, 1, ss, s},      {"V.npy", 0, 2, sv, V},      {"sv_a.npy", 0, 2, sn, sva},
                 {"sv_b.npy", 0, 2, sn, svb}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", snapdir, files[i].name);
        CHECK(write_npy(path, files[i].f32, files[i].ndim, files[i].shape, files[i].x) == 0);
    }
    /* index.dat last: only the keys the format requires, plus rank/has_svd and n_units */
    snprintf(path, sizeof path, "%s/index.dat", snapdir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return check_done("test_snap_byhand");
    fprintf(f, "# written by hand (tests/test_snap_byhand.c)\n# snap_format = 1\n# engine = byhand\n"
               "# n_src = 2\n# layout = shared\n# n_out = 4\n# n_in = 3,3\n# rank = 3\n# has_svd = 1\n"
               "# n_units = 3\n# n_snap = 4\n# k step time\n");
    for (int k = 0; k < NS; k++)
        fprintf(f, "%d %ld %g\n", k, steps[k], steps[k] / 2.0);
    CHECK(fclose(f) == 0);

    /* ---- the library's loader and analyzer ---- */
    snap_run run;
    int rc = snap_load(dir, &run);
    CHECK_INT(rc, CS_OK);
    if (rc != CS_OK) {
        printf("snap_load: %s\n", util_errmsg());
        return check_done("test_snap_byhand");
    }
    CHECK_INT(run.n_snap, NS);
    CHECK_INT(run.meta.layout, SNAP_SHARED);
    CHECK_INT(run.meta.n_units, 3);
    CHECK(!strcmp(run.engine, "byhand"));
    CHECK_CLOSE(run.time[3], 10.0, 0, 0);
    /* the float32 map arrives as the same doubles (dyadic values are exact in both) */
    double maxdiff = 0;
    for (int i = 0; i < NS * NOUT * NIN; i++)
        maxdiff = fmax(maxdiff, fabs(run.map[1][i] - mb[i]));
    CHECK_CLOSE(maxdiff, 0, 0, 0);

    analyze_result res;
    rc = analyze_run(&run, 0, &res);
    CHECK_INT(rc, CS_OK);
    if (rc == CS_OK) {
        CHECK_INT(res.basis, ANALYZE_BASIS_SNAPSHOT);
        CHECK_INT(res.n_snap, NS);
        int last = NS - 1, S = 2;
        for (int a = 0; a < R; a++) {
            CHECK_CLOSE(res.K[((size_t)last * S + 0) * R + a], ka[a], 1e-12, 1e-12);
            CHECK_CLOSE(res.K[((size_t)last * S + 1) * R + a], kb[a], 1e-12, 1e-12);
            CHECK_CLOSE(res.share[last * R + a], kb[a] / (ka[a] + kb[a]), 1e-12, 1e-12);
            CHECK_CLOSE(res.inhib[last * R + a], fabs(ka[a] - kb[a]) / (ka[a] + kb[a]), 1e-12, 1e-12);
            CHECK_CLOSE(res.half_step[a], 40.0 / 3.0, 1e-12, 1e-12);
        }
        /* step 0: zero maps, so share and inhibition are undefined (NaN) */
        CHECK(isnan(res.share[0]) && isnan(res.inhib[0]));
        const double want_sv[3][3] = {{3, 2, 0.5}, {2, 1.5, 1}, {4, 4, 2}};
        for (int p = 0; p <= S; p++)
            for (int i = 0; i < 3; i++)
                CHECK_CLOSE(res.sv[((size_t)last * (S + 1) + p) * res.sv_stride + i], want_sv[p][i], 1e-12,
                            1e-12);
        for (int p = 0; p < S; p++)
            for (int i = 0; i < res.k_angle[p]; i++)
                CHECK_CLOSE(res.angle[((size_t)last * S + p) * res.angle_stride + i], 0, 0, 1e-7);
        analyze_result_free(&res);
    }
    snap_free(&run);

    /* ---- the command: share.dat, rsv.dat and summary.dat ---- */
    const char *cs = getenv("CRITSIM");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s analyze %s > %s/analyze.log 2>&1", cs ? cs : "./critsim", dir, dir);
    rc = system(cmd);
    CHECK_INT(rc, 0);
    snprintf(path, sizeof path, "%s/summary.dat", dir);
    for (int a = 0; a < R; a++) {
        char key[32];
        snprintf(key, sizeof key, "share_b_m%d", a);
        CHECK_CLOSE(table_value(path, key), kb[a] / (ka[a] + kb[a]), 1e-12, 1e-12);
    }
    CHECK_CLOSE(table_value(path, "n_units"), 3, 0, 0);
    CHECK_CLOSE(table_value(path, "n_single"), 2, 0, 0); /* units 0, 1: |RSV| = 1 > 0.8 */
    CHECK_CLOSE(table_value(path, "n_fused"), 0, 0, 0);  /* unit 2: |RSV| = 0.5 is not < 0.5 */
    CHECK_CLOSE(table_value(path, "rsv_step"), 20, 0, 0);
    snprintf(path, sizeof path, "%s/rsv.dat", dir);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        char line[512];
        long st;
        int u, rows = 0, rows0 = 0;
        double r, a, b;
        const double want[3] = {-1, 1, 0.5};
        while (fgets(line, sizeof line, f)) {
            if (line[0] == '#' || sscanf(line, "%ld %d %lf %lf %lf", &st, &u, &r, &a, &b) != 5) continue;
            rows++;
            if (st == 0) rows0++;
            if (u >= 0 && u < 3) CHECK_CLOSE(r, want[u], 0, 1e-15);
        }
        fclose(f);
        CHECK_INT(rows, 9);  /* steps 5, 10, 20 x 3 units */
        CHECK_INT(rows0, 0); /* step 0 has no estimate (NaN rows) and is skipped */
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
    return check_done("test_snap_byhand");
}
