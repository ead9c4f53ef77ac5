/* test_snap.c - snapshot format (snap.h): exact round trips of every array, and damaged folders
 * (truncated or corrupted .npy, truncated or edited index.dat, wrong shapes, missing files) give
 * CS_EUSAGE with a message that names the offending file. */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "npy.h"
#include "snap.h"
#include "util.h"

static char dir[] = "/tmp/critsim-test-snap-XXXXXX";

static void path_of(char *buf, size_t n, const char *name)
{
    char sd[256];
    util_path(sd, sizeof sd, dir, "snap");
    util_path(buf, n, sd, name);
}

static long file_size(const char *name)
{
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void save_copy(const char *name, unsigned char **buf, long *n)
{
    char p[512];
    path_of(p, sizeof p, name);
    *n = file_size(name);
    *buf = malloc((size_t)*n);
    FILE *f = fopen(p, "rb");
    if (fread(*buf, 1, (size_t)*n, f) != (size_t)*n) abort();
    fclose(f);
}

static void put_bytes(const char *name, const unsigned char *buf, long n)
{
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    fwrite(buf, 1, (size_t)n, f);
    fclose(f);
}

/* Load must fail with CS_EUSAGE and the message must contain `needle` (the file name). */
static void expect_load_error(const char *needle, const char *what)
{
    snap_run r;
    util_clearerr();
    int rc = snap_load(dir, &r);
    CHECK_INT(rc, CS_EUSAGE);
    int named = strstr(util_errmsg(), needle) != NULL;
    if (!named) printf("  (%s) message does not name %s: %s\n", what, needle, util_errmsg());
    CHECK(named);
    CHECK(r.map[0] == NULL && r.step == NULL); /* nothing leaked to the caller */
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    /* ---- a concat run: 2 sources (3 and 2 inputs), 4 outputs, 5 hidden units, rank 2 ---- */
    enum { NO = 4, NA = 3, NB = 2, NH = 5, NT = 5, R = 2, NS = 7 };
    double target[NO * NT], U[NO * R], s[R] = {2.0, 1.0}, V[NT * R], sxx[NT * NT];
    for (int i = 0; i < NO * NT; i++)
        target[i] = sin(1.0 + i);
    for (int i = 0; i < NO * R; i++)
        U[i] = cos(0.3 * i);
    for (int i = 0; i < NT * R; i++)
        V[i] = 1.0 / (1 + i);
    for (int i = 0; i < NT * NT; i++)
        sxx[i] = i % (NT + 1) == 0 ? 1.0 : 0.01 * i;
    snap_meta m = {.engine = "flow",
                   .n_src = 2,
                   .layout = SNAP_CONCAT,
                   .n_out = NO,
                   .n_in = {NA, NB},
                   .n_hidden = NH,
                   .hidden_layer = 1,
                   .rank = R,
                   .target = target,
                   .U = U,
                   .s = s,
                   .V = V,
                   .sxx = sxx,
                   .n_units = 3};
    CHECK_INT(snap_n_in_total(&m), NT);
    CHECK_INT(snap_in_offset(&m, 1), NA);
    CHECK(snap_src_name(1) == 'b');
    snap_writer *w = snap_open(dir, &m);
    CHECK(w != NULL);
    double ma[NS][NO * NA], mb[NS][NO * NB], ha[NS][NH * NA], hb[NS][NH * NB];
    for (int k = 0; k < NS; k++) {
        for (int i = 0; i < NO * NA; i++)
            ma[k][i] = k + 0.1 * i + 1.0 / 3.0;
        for (int i = 0; i < NO * NB; i++)
            mb[k][i] = -k - 0.01 * i - 1e-300;
        for (int i = 0; i < NH * NA; i++)
            ha[k][i] = exp(-0.1 * (k + i));
        for (int i = 0; i < NH * NB; i++)
            hb[k][i] = 1e200 * (k - i);
        const double *maps[2] = {ma[k], mb[k]}, *hid[2] = {ha[k], hb[k]};
        CHECK_INT(snap_add(w, 10L * k, 0.01 * 10 * k, maps, hid), CS_OK);
        if (k % 2 == 0) { /* engine-estimated source variances on even snapshots only */
            double va[3] = {k, k + 0.5, 0}, vb[3] = {1, 2, 1.0 / 3.0};
            CHECK_INT(snap_add_sv(w, va, vb), CS_OK);
        }
    }
    { /* steps must increase: a repeated step is refused and changes nothing */
        const double *maps[2] = {ma[0], mb[0]}, *hid[2] = {ha[0], hb[0]};
        CHECK_INT(snap_add(w, 60, 0.6, maps, hid), CS_EUSAGE);
        CHECK_INT(snap_add(w, 70, 0.7, maps, NULL), CS_EUSAGE); /* hidden maps required */
    }
    CHECK_INT(snap_close(w), CS_OK);
    CHECK_INT(snap_close(NULL), CS_OK);

    snap_run r;
    CHECK_INT(snap_load(dir, &r), CS_OK);
    CHECK_INT(r.n_snap, NS);
    CHECK_INT(r.meta.n_src, 2);
    CHECK_INT(r.meta.layout, SNAP_CONCAT);
    CHECK_INT(r.meta.n_out, NO);
    CHECK_INT(r.meta.n_in[0], NA);
    CHECK_INT(r.meta.n_in[1], NB);
    CHECK_INT(r.meta.n_hidden, NH);
    CHECK_INT(r.meta.hidden_layer, 1);
    CHECK_INT(r.meta.rank, R);
    CHECK(strcmp(r.engine, "flow") == 0);
    CHECK_INT(r.step[NS - 1], 10L * (NS - 1));
    CHECK_CLOSE(r.time[3], 0.01 * 10 * 3, 0, 0); /* %.17g text round trip is exact */
    /* .npy is binary float64: round trips are bit-exact, so the tolerances are 0 */
    CHECK_ARRAY_CLOSE(r.map[0], &ma[0][0], (size_t)NS * NO * NA, 0, 0);
    CHECK_ARRAY_CLOSE(r.map[1], &mb[0][0], (size_t)NS * NO * NB, 0, 0);
    CHECK_ARRAY_CLOSE(r.hidden[0], &ha[0][0], (size_t)NS * NH * NA, 0, 0);
    CHECK_ARRAY_CLOSE(r.hidden[1], &hb[0][0], (size_t)NS * NH * NB, 0, 0);
    CHECK_ARRAY_CLOSE(r.target, target, NO * NT, 0, 0);
    CHECK_ARRAY_CLOSE(r.U, U, NO * R, 0, 0);
    CHECK_ARRAY_CLOSE(r.s, s, R, 0, 0);
    CHECK_ARRAY_CLOSE(r.V, V, NT * R, 0, 0);
    CHECK_ARRAY_CLOSE(r.sxx, sxx, NT * NT, 0, 0);
    CHECK(r.meta.U == r.U && r.meta.target == r.target);
    CHECK_INT(r.meta.n_units, 3);
    CHECK(r.sv_src[0] != NULL && r.sv_src[1] != NULL);
    if (r.sv_src[0] && r.sv_src[1]) {
        CHECK_CLOSE(r.sv_src[0][4 * 3 + 1], 4.5, 0, 0);
        CHECK_CLOSE(r.sv_src[1][6 * 3 + 2], 1.0 / 3.0, 0, 0);
        CHECK(isnan(r.sv_src[0][1 * 3 + 0]) && isnan(r.sv_src[1][5 * 3 + 2])); /* odd snapshots: none */
    }
    snap_free(&r);
    snap_free(&r); /* idempotent */

    /* ---- damaged files ---- */
    unsigned char *orig;
    long n;
    save_copy("map_b.npy", &orig, &n);
    put_bytes("map_b.npy", orig, n - 8); /* truncated payload */
    expect_load_error("map_b.npy", "truncated map");
    put_bytes("map_b.npy", orig, 40); /* truncated inside the header */
    expect_load_error("map_b.npy", "truncated header");
    orig[1] = 'X'; /* corrupted magic */
    put_bytes("map_b.npy", orig, n);
    expect_load_error("map_b.npy", "bad magic");
    orig[1] = 'N';
    put_bytes("map_b.npy", orig, n);
    CHECK_INT(snap_load(dir, &r), CS_OK); /* restored */
    snap_free(&r);
    free(orig);

    { /* wrong shape: hidden_a written with one unit too few */
        char p[512];
        path_of(p, sizeof p, "hidden_a.npy");
        size_t sh[3] = {NS, NH - 1, NA};
        CHECK_INT(npy_write_f64(p, 3, sh, &ha[0][0]), CS_OK);
        expect_load_error("hidden_a.npy", "wrong shape");
        size_t ok[3] = {NS, NH, NA};
        CHECK_INT(npy_write_f64(p, 3, ok, &ha[0][0]), CS_OK);
    }
    { /* missing V.npy although has_svd = 1 */
        char p[512], q[512];
        path_of(p, sizeof p, "V.npy");
        path_of(q, sizeof q, "V.npy.away");
        CHECK(rename(p, q) == 0);
        expect_load_error("V.npy", "missing V");
        CHECK(rename(q, p) == 0);
    }
    save_copy("index.dat", &orig, &n);
    put_bytes("index.dat", orig, n - 10); /* cut inside the last row */
    expect_load_error("index.dat", "truncated index");
    {
        long cut = n - 2;
        while (cut > 0 && orig[cut] != '\n')
            cut--;
        put_bytes("index.dat", orig, cut + 1); /* whole last row gone: fewer rows than n_snap */
        expect_load_error("index.dat", "index missing a row");
    }
    put_bytes("index.dat", orig, 60); /* cut inside the metadata */
    expect_load_error("index.dat", "index without keys");
    { /* an edited layout value */
        char *txt = malloc((size_t)n + 1);
        memcpy(txt, orig, (size_t)n);
        txt[n] = 0;
        char *l = strstr(txt, "layout = concat");
        CHECK(l != NULL);
        if (l) memcpy(l, "layout = concaX", 15);
        put_bytes("index.dat", (unsigned char *)txt, n);
        expect_load_error("index.dat", "bad layout");
        l = strstr(txt, "layout = concaX");
        if (l) memcpy(l, "layout = shared", 15); /* shared with n_in 3,2: inconsistent */
        put_bytes("index.dat", (unsigned char *)txt, n);
        expect_load_error("index.dat", "shared with unequal n_in");
        free(txt);
    }
    put_bytes("index.dat", orig, n);
    CHECK_INT(snap_load(dir, &r), CS_OK);
    snap_free(&r);
    free(orig);
    {
        char p[512];
        path_of(p, sizeof p, "index.dat");
        unlink(p);
        expect_load_error("index.dat", "missing index");
    }

    /* ---- a shared-input run without hidden maps, SVD or target; a single snapshot ---- */
    char dir2[300];
    snprintf(dir2, sizeof dir2, "%s/run2", dir);
    snap_meta m2 = {.engine = "cnn", .n_src = 3, .layout = SNAP_SHARED, .n_out = 2, .n_in = {3, 3, 3}};
    w = snap_open(dir2, &m2);
    CHECK(w != NULL);
    double x[3][6];
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 6; i++)
            x[p][i] = p * 10 + i;
    const double *maps3[3] = {x[0], x[1], x[2]};
    double v3[1] = {1};
    CHECK_INT(snap_add_sv(w, v3, v3), CS_EUSAGE); /* no snapshot yet, and no units declared */
    CHECK_INT(snap_add(w, 5, 5.0, maps3, NULL), CS_OK);
    CHECK_INT(snap_add_sv(w, v3, v3), CS_EUSAGE); /* n_units = 0 */
    CHECK_INT(snap_close(w), CS_OK);
    CHECK_INT(snap_load(dir2, &r), CS_OK);
    CHECK_INT(r.n_snap, 1);
    CHECK_INT(r.meta.layout, SNAP_SHARED);
    CHECK_INT(snap_n_in_total(&r.meta), 3);
    CHECK(r.target == NULL && r.U == NULL && r.hidden[0] == NULL && r.sxx == NULL && r.sv_src[0] == NULL);
    CHECK_ARRAY_CLOSE(r.map[2], x[2], 6, 0, 0);
    snap_free(&r);

    /* invalid metadata is refused at open */
    snap_meta bad = m2;
    bad.n_in[1] = 4; /* shared layout with unequal inputs */
    util_clearerr();
    CHECK(snap_open(dir2, &bad) == NULL);
    CHECK(strstr(util_errmsg(), "shared") != NULL);
    bad = m;
    bad.U = NULL; /* rank 2 without U */
    CHECK(snap_open(dir2, &bad) == NULL);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_snap");
}
