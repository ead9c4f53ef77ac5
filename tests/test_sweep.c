/* test_sweep.c - grid expansion, ranges, templates, shards, point ids, summaries, resumption,
 * failures and merging (sweep.h), against a fake engine whose run() writes final.dat. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "deficit.h"
#include "opts.h"
#include "sweep.h"
#include "table.h"
#include "util.h"

/* ---- the fake engine: f = 10 x + y + seed / 1000; x = 13 "diverges"; x >= 5 adds key `big` ---- */

static const opt_spec fake_specs[] = {{"x", OPT_INT, "1", "x", OPT_IN(-1000, 1000)},
                                      {"y", OPT_DOUBLE, "0", "y", OPT_IN(-1e9, 1e9)},
                                      {"deficit", OPT_MULTI, NULL, "deficits"},
                                      {"seed", OPT_INT, "7", "seed", OPT_IN(0, 1000000)},
                                      {"final-only", OPT_FLAG, NULL, "only final.dat"},
                                      {"out", OPT_STRING, NULL, "folder"},
                                      {NULL, 0, NULL, NULL}};

static int fake_run(const opts *o)
{
    long x, seed;
    double y;
    int rc = opts_long(o, "x", &x);
    if (!rc) rc = opts_double(o, "y", &y);
    if (!rc) rc = opts_long(o, "seed", &seed);
    if (rc) return rc;
    if (x == 13) return util_seterr(CS_EFAIL, "non-finite state at step 7 (fake engine, x = 13)");
    const char *keys[] = {"f", "n_def", "final_only", "big"};
    double v[] = {10.0 * (double)x + y + (double)seed / 1000.0, opts_count(o, "deficit"),
                  opts_flag(o, "final-only"), (double)x * (double)x};
    printf("fake: x=%ld\n", x);
    return table_write_outcomes(opts_str(o, "out"), opts_prov(o), x >= 5 ? 4 : 3, keys, v);
}

static const cmd_def fake = {.name = "fake", .summary = "fake engine", .specs = fake_specs, .run = fake_run};

/* ---- a toy trained engine for deficit trunks: state s_{e+1} = 0.5 s_e + (deficit active at e) + e +
 * seed / 100 over epochs; checkpoints are text files "K s"; every trained epoch appends one byte to
 * tmpdir/work (the work done); with CRITSIM_TOY_FAIL set, epoch 2 (0-based) fails where a deficit is
 * active ---- */

static char tmpdir[256];

static const opt_spec toy_specs[] = {
    {"deficit", OPT_MULTI, NULL, "deficits"},
    {"epochs", OPT_INT, "3", "epochs", OPT_IN(1, 1000)},
    {"clean-epochs", OPT_INT, "0", "clean epochs after the last deficit", OPT_IN(0, 1000)},
    {"seed", OPT_INT, "0", "seed", OPT_IN(0, 1000)},
    {"branch", OPT_STRING, NULL, "checkpoint to continue from"},
    {"branch-mode", OPT_STRING, "weights", "weights|exact"},
    {"checkpoint-at", OPT_LIST, NULL, "epochs to keep ckpt_K"},
    {"checkpoint-every", OPT_INT, "0", "unused"},
    {"resume", OPT_FLAG, NULL, "resume from checkpoint.txt"},
    {"out", OPT_STRING, NULL, "folder"},
    {NULL, 0, NULL, NULL}};

static int toy_ckpt(const char *dir, const char *name, long k, double s)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) return util_seterr(CS_EUSAGE, "cannot write %s", p);
    fprintf(f, "%ld %.17g\n", k, s);
    fclose(f);
    return CS_OK;
}

static int toy_run(const opts *o)
{
    deficit_list dl;
    long epochs, clean, seed, k0 = 0;
    double s = 0;
    int rc = opts_deficits(o, "deficit", &dl);
    if (!rc) rc = opts_long(o, "epochs", &epochs);
    if (!rc) rc = opts_long(o, "clean-epochs", &clean);
    if (!rc) rc = opts_long(o, "seed", &seed);
    if (rc) return rc;
    long last = 0;
    for (int i = 0; i < dl.n; i++)
        last = dl.d[i].end > last ? dl.d[i].end : last;
    if (clean > 0) epochs = last + clean;
    const char *out = opts_str(o, "out");
    if ((rc = util_mkdir_p(out))) return rc;
    char cp[1200];
    snprintf(cp, sizeof cp, "%s/checkpoint.txt", out);
    const char *from = opts_flag(o, "resume") && access(cp, F_OK) == 0 ? cp : opts_str(o, "branch");
    if (from) {
        if (!opts_flag(o, "resume") && strcmp(opts_str(o, "branch-mode"), "exact") != 0)
            return util_seterr(CS_EUSAGE, "toy: only exact branches");
        FILE *f = fopen(from, "r");
        if (!f || fscanf(f, "%ld %lf", &k0, &s) != 2)
            return util_seterr(CS_EUSAGE, "toy: bad checkpoint %s", from);
        fclose(f);
    }
    char wp[600];
    snprintf(wp, sizeof wp, "%s/work", tmpdir);
    for (long e = k0; e < epochs; e++) {
        int act = 0;
        for (int i = 0; i < dl.n; i++)
            act |= deficit_active(&dl.d[i], e);
        if (e == 2 && act && getenv("CRITSIM_TOY_FAIL"))
            return util_seterr(CS_EFAIL, "toy fails at epoch 2 under the deficit (CRITSIM_TOY_FAIL)");
        s = 0.5 * s + act + (double)e + (double)seed / 100.0;
        FILE *w = fopen(wp, "a");
        if (w) fputc('.', w), fclose(w);
        char nm[64];
        for (int i = 0; i < opts_count(o, "checkpoint-at"); i++)
            if (atol(opts_item(o, "checkpoint-at", i)) == e + 1) {
                snprintf(nm, sizeof nm, "ckpt_%ld.bin", e + 1);
                if ((rc = toy_ckpt(out, nm, e + 1, s))) return rc;
            }
        if ((rc = toy_ckpt(out, "checkpoint.txt", e + 1, s))) return rc;
    }
    const char *keys[] = {"s", "epochs"};
    double v[] = {s, (double)epochs};
    return table_write_outcomes(out, opts_prov(o), 2, keys, v);
}

static const cmd_def toy = {
    .name = "toy", .summary = "toy trained engine", .specs = toy_specs, .run = toy_run};

/* ---- helpers ---------------------------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = util_malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static int same_file(const char *a, const char *b)
{
    char *x = slurp(a), *y = slurp(b);
    int same = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* Data rows of a table (lines not starting with '#'), count and the column line. */
static int data_rows(const char *path, char rows[][512], int max, char *cols)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#') {
            if (cols) snprintf(cols, 512, "%s", line + 2);
            continue;
        }
        if (n < max) snprintf(rows[n], 512, "%s", line);
        n++;
    }
    fclose(f);
    return n;
}

static int axis(const char *spec, sweep_axis *a)
{
    return sweep_axis_parse(spec, a);
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void test_axes(void)
{
    sweep_axis a;
    CHECK_INT(axis("depth=1,2,4", &a), CS_OK);
    CHECK_INT(a.n, 3);
    CHECK(!strcmp(a.key, "depth") && !strcmp(a.val[2], "4") && a.var[0] == '\0');
    sweep_axis_clear(&a);

    CHECK_INT(axis("depth=1:1:8", &a), CS_OK); /* END included */
    CHECK_INT(a.n, 8);
    CHECK(!strcmp(a.val[0], "1") && !strcmp(a.val[7], "8"));
    sweep_axis_clear(&a);

    CHECK_INT(axis("steps=0:300:1000", &a), CS_OK); /* END not reached exactly: last value 900 */
    CHECK_INT(a.n, 4);
    CHECK(!strcmp(a.val[3], "900"));
    sweep_axis_clear(&a);

    CHECK_INT(axis("dt=0.1:0.1:0.3", &a), CS_OK); /* %.15g prints 0.3, not 0.30000000000000004 */
    CHECK_INT(a.n, 3);
    CHECK(!strcmp(a.val[1], "0.2") && !strcmp(a.val[2], "0.3"));
    sweep_axis_clear(&a);

    CHECK_INT(axis("depth=8:-2:1", &a), CS_OK);
    CHECK_INT(a.n, 4);
    CHECK(!strcmp(a.val[3], "2"));
    sweep_axis_clear(&a);

    CHECK_INT(axis("depth=5", &a), CS_OK);
    CHECK(a.n == 1 && !strcmp(a.val[0], "5"));
    sweep_axis_clear(&a);

    /* deficit lists split on commas only; a single deficit with ':' is not a range */
    CHECK_INT(axis("deficit=gate:b@0-20,gate:b@0-40,gate:b@0-200+lesion:a:1@0-1000", &a), CS_OK);
    CHECK_INT(a.n, 3);
    CHECK(!strcmp(a.val[1], "gate:b@0-40") && !strcmp(a.val[2], "gate:b@0-200+lesion:a:1@0-1000"));
    sweep_axis_clear(&a);
    CHECK_INT(axis("deficit=gate:b@0-20", &a), CS_OK);
    CHECK(a.n == 1 && !strcmp(a.val[0], "gate:b@0-20"));
    sweep_axis_clear(&a);

    /* templates */
    CHECK_INT(axis("deficit=gate:b@0-{end=10:10:400}", &a), CS_OK);
    CHECK_INT(a.n, 40);
    CHECK(!strcmp(a.var, "end") && !strcmp(a.val[0], "gate:b@0-10") && !strcmp(a.varval[39], "400"));
    sweep_axis_clear(&a);
    CHECK_INT(axis("deficit=gate:b@{onset=0:20:780}-{onset+150}", &a), CS_OK);
    CHECK_INT(a.n, 40);
    CHECK(!strcmp(a.val[1], "gate:b@20-170") && !strcmp(a.varval[1], "20"));
    sweep_axis_clear(&a);
    CHECK_INT(axis("deficit=switch@{tc=0|1000|5000}+subset:5@0-{tc-0}", &a), CS_OK);
    CHECK_INT(a.n, 3);
    CHECK(!strcmp(a.val[2], "switch@5000+subset:5@0-5000"));
    sweep_axis_clear(&a);
    CHECK_INT(axis("dt={h=0.5:0.25:1}", &a), CS_OK);
    CHECK(a.n == 3 && !strcmp(a.val[1], "0.75"));
    sweep_axis_clear(&a);

    /* usage errors */
    CHECK_INT(axis("depth=5:1:1", &a), CS_EUSAGE); /* empty range */
    CHECK(strstr(util_errmsg(), "empty") != NULL);
    CHECK_INT(axis("depth=1:0:5", &a), CS_EUSAGE);
    CHECK_INT(axis("depth=", &a), CS_EUSAGE);
    CHECK_INT(axis("depth", &a), CS_EUSAGE);
    CHECK_INT(axis("Depth=1", &a), CS_EUSAGE);
    CHECK_INT(axis("deficit=gate:b@{e=1:1:3}-{f}", &a), CS_EUSAGE);       /* unknown reference */
    CHECK_INT(axis("deficit=gate:b@{e=1:1:3}-{e=1:1:3}", &a), CS_EUSAGE); /* two definitions */
    CHECK_INT(axis("deficit=gate:b@0-{e", &a), CS_EUSAGE);
    CHECK_INT(axis("deficit=gate:b@0-{e=5:1:1}", &a), CS_EUSAGE);
}

static void test_grid(void)
{
    sweep_grid g = {0};
    sweep_axis a;
    axis("depth=1:1:3", &a);
    CHECK_INT(sweep_grid_add(&g, &a, 0), CS_OK);
    axis("deficit=gate:b@0-{end=10:10:40}", &a);
    CHECK_INT(sweep_grid_add(&g, &a, 0), CS_OK);
    CHECK_INT(sweep_grid_size(&g), 12);
    int idx[SWEEP_MAX_AXES];
    sweep_grid_point(&g, 5, idx); /* first axis slowest: 5 = 1*4 + 1 */
    CHECK(idx[0] == 1 && idx[1] == 1);
    axis("depth=4", &a);
    CHECK_INT(sweep_grid_add(&g, &a, 0), CS_EUSAGE); /* twice from one source */
    axis("depth=4,5", &a);
    CHECK_INT(sweep_grid_add(&g, &a, 1), CS_OK); /* command line replaces the file's axis, in place */
    CHECK(!strcmp(g.ax[0].key, "depth") && g.ax[0].n == 2);
    axis("depth=1,1", &a);
    CHECK_INT(sweep_grid_add(&g, &a, 1), CS_EUSAGE); /* duplicate values would share a folder */
    axis("end=1,2", &a);
    CHECK_INT(sweep_grid_add(&g, &a, 0), CS_EUSAGE); /* key equals a template variable */
    /* model files: a key given again continues its axis (values appended, in order) */
    axis("depth=6,7", &a);
    CHECK_INT(sweep_grid_append(&g, &a), CS_OK);
    CHECK(g.ax[0].n == 4 && !strcmp(g.ax[0].val[2], "6") && !strcmp(g.ax[0].val[3], "7"));
    axis("depth=7,8", &a);
    CHECK_INT(sweep_grid_append(&g, &a), CS_EUSAGE); /* 7 would repeat */
    CHECK(g.ax[0].n == 4);
    axis("deficit=gate:b@0-50", &a);
    CHECK_INT(sweep_grid_append(&g, &a), CS_EUSAGE); /* the existing axis is a template */
    axis("depth=4,5", &a);
    CHECK_INT(sweep_grid_add(&g, &a, 1), CS_OK); /* back to the grid the checks below expect */
    CHECK_INT(sweep_grid_add_seeds(&g, 7, 3), CS_OK);
    CHECK_INT(sweep_grid_size(&g), 24);
    CHECK(!strcmp(g.ax[g.naxes - 1].key, "seed") && !strcmp(g.ax[g.naxes - 1].val[2], "9"));
    sweep_grid_point(&g, 1, idx); /* seed fastest */
    CHECK(idx[0] == 0 && idx[1] == 0 && idx[2] == 1);

    /* ids: stable, distinct, independent of axis order, dependent on the model */
    unsigned long long id0 = sweep_point_id(&g, 0, "fake", 1), id1 = sweep_point_id(&g, 1, "fake", 1);
    CHECK(id0 != id1);
    CHECK(id0 == sweep_point_id(&g, 0, "fake", 1));
    CHECK(id0 != sweep_point_id(&g, 0, "fake", 2));
    CHECK(id0 != sweep_point_id(&g, 0, "modes", 1));
    sweep_grid h = {0};
    axis("deficit=gate:b@0-{end=10:10:40}", &a);
    sweep_grid_add(&h, &a, 0);
    axis("depth=4,5", &a);
    sweep_grid_add(&h, &a, 0);
    sweep_grid_add_seeds(&h, 7, 3);
    CHECK(sweep_point_id(&h, 0, "fake", 1) == id0); /* same assignment, other axis order */
    int distinct = 1;
    for (long p = 0; p < 24; p++)
        for (long q = p + 1; q < 24; q++)
            if (sweep_point_id(&g, p, "fake", 1) == sweep_point_id(&g, q, "fake", 1)) distinct = 0;
    CHECK(distinct);
    sweep_grid_clear(&h);

    /* shards: disjoint and covering for every N */
    int ok = 1;
    for (int n = 1; n <= 7; n++)
        for (long p = 0; p < 24; p++) {
            int cnt = 0;
            for (int i = 1; i <= n; i++)
                cnt += sweep_in_shard(p, i, n);
            if (cnt != 1) ok = 0;
        }
    CHECK(ok);
    int si, sn;
    CHECK(sweep_shard_parse("3/64", &si, &sn) == CS_OK && si == 3 && sn == 64);
    CHECK_INT(sweep_shard_parse("0/4", &si, &sn), CS_EUSAGE);
    CHECK_INT(sweep_shard_parse("5/4", &si, &sn), CS_EUSAGE);
    CHECK_INT(sweep_shard_parse("2", &si, &sn), CS_EUSAGE);
    sweep_grid_clear(&g);
}

static int run_sweep(const char *model, const char *out, const char *const *vary, int nvary, long seeds,
                     int si, int sn, sweep_stats *st)
{
    sweep_grid g = {0};
    char command[64];
    long ns = 0;
    int rc = sweep_read_model(model, &g, command, sizeof command, &ns, NULL);
    if (rc) return rc;
    for (int i = 0; i < nvary && rc == CS_OK; i++) {
        sweep_axis a;
        rc = sweep_axis_parse(vary[i], &a);
        if (rc == CS_OK) rc = sweep_grid_add(&g, &a, 1);
    }
    if (seeds) ns = seeds;
    if (rc == CS_OK && ns) rc = sweep_grid_add_seeds(&g, 7, ns);
    sweep_config c = {
        .cmd = &fake, .model = model, .out = out, .jobs = 2, .shard_i = si, .shard_n = sn, .quiet = 1};
    if (rc == CS_OK) rc = sweep_run(&g, &c, st);
    sweep_grid_clear(&g);
    return rc;
}

static void test_run(void)
{
    char model[512], out[512], p1[600], p2[600], cmd[2400];
    snprintf(model, sizeof model, "%s/m.ini", tmpdir);
    write_text(model,
               "command = fake\ny = 0.5\n[sweep]\nvary = x=1:1:3\nvary = deficit=gate:b@0-{end=10:10:20}\n");
    char cmdname[64];
    sweep_grid g = {0};
    long ns = 0;
    CHECK_INT(sweep_read_model(model, &g, cmdname, sizeof cmdname, &ns, NULL), CS_OK);
    CHECK(!strcmp(cmdname, "fake") && g.naxes == 2 && sweep_grid_size(&g) == 6);
    sweep_grid_clear(&g);

    /* whole grid */
    sweep_stats st;
    snprintf(out, sizeof out, "%s/full", tmpdir);
    CHECK_INT(run_sweep(model, out, NULL, 0, 0, 1, 1, &st), CS_OK);
    CHECK(st.points == 6 && st.ran == 6 && st.failed == 0 && st.skipped == 0);
    char rows[16][512], cols[512];
    snprintf(p1, sizeof p1, "%s/summary.dat", out);
    CHECK_INT(data_rows(p1, rows, 16, cols), 6);
    CHECK(!strcmp(cols, "x deficit end f n_def final_only status"));
    CHECK(!strcmp(rows[0], "1 gate:b@0-10 10 10.507 1 1 0"));
    CHECK(!strcmp(rows[5], "3 gate:b@0-20 20 30.507000000000001 1 1 0")); /* %.17g of the engine */
    snprintf(p1, sizeof p1, "%s/grid.dat", out);
    CHECK_INT(data_rows(p1, rows, 16, cols), 6);
    CHECK(!strcmp(cols, "index id x deficit end"));

    /* second invocation: everything finished, nothing runs, summary identical */
    snprintf(p1, sizeof p1, "%s/summary.dat", out);
    snprintf(p2, sizeof p2, "%s/summary.first", tmpdir);
    snprintf(cmd, sizeof cmd, "cp %s %s", p1, p2);
    CHECK(system(cmd) == 0);
    CHECK_INT(run_sweep(model, out, NULL, 0, 0, 1, 1, &st), CS_OK);
    CHECK(st.skipped == 6 && st.ran == 0);
    CHECK(same_file(p1, p2));

    /* an interrupted sweep = some points finished: shard 2/3 first, then the whole grid */
    char part[512];
    snprintf(part, sizeof part, "%s/part", tmpdir);
    CHECK_INT(run_sweep(model, part, NULL, 0, 0, 2, 3, &st), CS_OK);
    CHECK(st.points == 2 && st.ran == 2);
    snprintf(cmd, sizeof cmd, "%s/summary.dat", part);
    CHECK_INT(data_rows(cmd, rows, 16, NULL), 2);
    long nf = 0; /* the whole grid's summary of a partial folder: unfinished points are status -1 */
    CHECK_INT(sweep_summarize(part, 1, 1, &nf), CS_OK);
    CHECK_INT(nf, 4);
    CHECK_INT(data_rows(cmd, rows, 16, NULL), 6);
    CHECK(!strcmp(rows[0], "1 gate:b@0-10 10 nan nan nan -1") &&
          !strcmp(rows[1], "1 gate:b@0-20 20 10.507 1 1 0"));
    CHECK_INT(run_sweep(model, part, NULL, 0, 0, 1, 1, &st), CS_OK);
    CHECK(st.skipped == 2 && st.ran == 4);
    snprintf(cmd, sizeof cmd, "%s/summary.dat", part);
    CHECK(same_file(cmd, p1));

    /* shards merged = unsharded (with seeds, so summary_seeds.dat is compared too) */
    const char *vary[] = {"x=4:1:6"};
    char whole[512], sh[3][512], merged[512];
    snprintf(whole, sizeof whole, "%s/whole", tmpdir);
    CHECK_INT(run_sweep(model, whole, vary, 1, 3, 1, 1, &st), CS_OK);
    CHECK_INT(st.points, 18);
    for (int i = 0; i < 3; i++) {
        snprintf(sh[i], sizeof sh[i], "%s/shard%d", tmpdir, i + 1);
        CHECK_INT(run_sweep(model, sh[i], vary, 1, 3, i + 1, 3, &st), CS_OK);
        CHECK_INT(st.points, 6);
    }
    snprintf(merged, sizeof merged, "%s/merged", tmpdir);
    const char *dirs[] = {sh[0], sh[1], sh[2]};
    long missing = -1;
    CHECK_INT(sweep_merge(dirs, 3, merged, &missing), CS_OK);
    CHECK_INT(missing, 0);
    snprintf(p1, sizeof p1, "%s/summary.dat", whole);
    snprintf(p2, sizeof p2, "%s/summary.dat", merged);
    CHECK(same_file(p1, p2));
    snprintf(p1, sizeof p1, "%s/summary_seeds.dat", whole);
    snprintf(p2, sizeof p2, "%s/summary_seeds.dat", merged);
    CHECK(same_file(p1, p2));
    CHECK_INT(sweep_merge(dirs, 3, merged, &missing), CS_OK); /* re-merging into a full folder is a no-op */
    snprintf(p1, sizeof p1, "%s/grid.dat", whole);            /* the merged grid.dat is the unsharded one */
    snprintf(p2, sizeof p2, "%s/grid.dat", merged);
    CHECK(same_file(p1, p2));
    /* a missing or duplicated shard is refused, naming it */
    CHECK_INT(sweep_merge(dirs, 2, merged, &missing), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "shard 3/3 is missing") != NULL);
    const char *dup[] = {sh[0], sh[1], sh[1]};
    CHECK_INT(sweep_merge(dup, 3, merged, &missing), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "both shard 2/3") != NULL);
    const char *mix_n[] = {sh[0], sh[1], sh[2], whole}; /* parts of a 3-way split and a whole sweep */
    CHECK_INT(sweep_merge(mix_n, 4, merged, &missing), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "is part 1/1") != NULL);
    {
        const char *notsweep[] = {tmpdir}; /* no grid.dat */
        CHECK_INT(sweep_merge(notsweep, 1, merged, &missing), CS_EUSAGE);
    }
    {
        char lone[512];
        snprintf(lone, sizeof lone, "%s/lone", tmpdir);
        const char *one[] = {whole}; /* one whole sweep merges onto itself */
        CHECK_INT(sweep_merge(one, 1, lone, &missing), CS_OK);
        CHECK_INT(missing, 0);
        snprintf(p1, sizeof p1, "%s/summary.dat", whole);
        snprintf(p2, sizeof p2, "%s/summary.dat", lone);
        CHECK(same_file(p1, p2));
    }
    /* merging different grids is refused */
    const char *mixed[] = {sh[0], out};
    CHECK_INT(sweep_merge(mixed, 2, merged, &missing), CS_EUSAGE);

    /* summary_seeds: mean and sd of f = 10 x + 0.5 + seed/1000 over seeds 7, 8, 9 */
    snprintf(p1, sizeof p1, "%s/summary_seeds.dat", whole);
    CHECK_INT(data_rows(p1, rows, 16, cols), 6);
    CHECK(!strncmp(cols, "x deficit end n f_mean f_sd n_def_mean n_def_sd ", 48));
    double x, end, n, fm, fsd;
    char dtext[64];
    CHECK_INT(sscanf(rows[0], "%lf %63s %lf %lf %lf %lf", &x, dtext, &end, &n, &fm, &fsd), 6);
    CHECK_CLOSE(fm, 40.508, 1e-14, 0); /* exact up to rounding of three additions */
    CHECK_CLOSE(fsd, 0.001, 1e-9, 0);  /* sd of {.007,.008,.009}: 1e-3; rounding of values near 40 */
    CHECK_CLOSE(n, 3, 0, 0);

    /* a failing point is reported, the others finish; it is retried next time */
    const char *vary2[] = {"x=12:1:14", "deficit=gate:b@0-1"};
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad", tmpdir);
    CHECK_INT(run_sweep(model, bad, vary2, 2, 0, 1, 1, &st), CS_EFAIL);
    CHECK(st.ran == 3 && st.failed == 1);
    snprintf(p1, sizeof p1, "%s/summary.dat", bad);
    CHECK_INT(data_rows(p1, rows, 16, cols), 3);
    CHECK(!strcmp(cols, "x deficit f n_def final_only big status"));
    CHECK(!strcmp(rows[1], "13 gate:b@0-1 nan nan nan nan 1"));
    CHECK(!strcmp(rows[2], "14 gate:b@0-1 140.50700000000001 1 1 196 0"));
    char *s = slurp(p1);
    CHECK(s && strstr(s, "# failed: point 1 (x=13 deficit=gate:b@0-1)") &&
          strstr(s, "non-finite state at step 7"));
    free(s);
    snprintf(p2, sizeof p2, "%s/bad.first", tmpdir);
    snprintf(cmd, sizeof cmd, "cp %s %s", p1, p2);
    CHECK(system(cmd) == 0);
    CHECK_INT(run_sweep(model, bad, vary2, 2, 0, 1, 1, &st), CS_EFAIL);
    CHECK(st.ran == 1 && st.skipped == 2 && st.failed == 1);
    CHECK(same_file(p1, p2));

    /* validation: unknown key, key the sweep owns */
    sweep_grid v = {0};
    sweep_axis a;
    axis("nosuch=1,2", &a);
    sweep_grid_add(&v, &a, 0);
    sweep_config c = {.cmd = &fake, .model = model, .out = out, .jobs = 1, .shard_i = 1, .shard_n = 1};
    CHECK_INT(sweep_validate(&v, &c), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "no option --nosuch") != NULL);
    sweep_grid_clear(&v);
    axis("out=a,b", &a);
    sweep_grid_add(&v, &a, 0);
    CHECK_INT(sweep_validate(&v, &c), CS_EUSAGE);
    sweep_grid_clear(&v);
    axis("x=1,zz", &a); /* a value of the wrong type fails the plan, not every point */
    sweep_grid_add(&v, &a, 0);
    CHECK_INT(sweep_validate(&v, &c), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "'zz'") != NULL);
    sweep_grid_clear(&v);
    axis("x=1,2", &a); /* ranges are the engine's getters' business at run time */
    sweep_grid_add(&v, &a, 0);
    CHECK_INT(sweep_validate(&v, &c), CS_OK);
    sweep_grid_clear(&v);

    /* [sweep] section errors name the line */
    write_text(model, "command = fake\n[sweep]\nvary = x=3:1:1\n");
    CHECK_INT(sweep_read_model(model, &g, cmdname, sizeof cmdname, &ns, NULL), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "m.ini:3") != NULL);
    sweep_grid_clear(&g);
    write_text(model, "command = fake\n[sweep]\nbogus = 1\n");
    CHECK_INT(sweep_read_model(model, &g, cmdname, sizeof cmdname, &ns, NULL), CS_EUSAGE);
    sweep_grid_clear(&g);
    /* full = true|false (as --full); anything else is refused naming the value */
    int full = 0;
    write_text(model, "command = fake\n[sweep]\nfull = true\n");
    CHECK_INT(sweep_read_model(model, &g, cmdname, sizeof cmdname, &ns, &full), CS_OK);
    CHECK_INT(full, 1);
    sweep_grid_clear(&g);
    write_text(model, "command = fake\n[sweep]\nfull = no\n");
    CHECK_INT(sweep_read_model(model, &g, cmdname, sizeof cmdname, &ns, &full), CS_OK);
    CHECK_INT(full, 0);
    sweep_grid_clear(&g);
    write_text(model, "command = fake\n[sweep]\nfull = maybe\n");
    CHECK_INT(sweep_read_model(model, &g, cmdname, sizeof cmdname, &ns, &full), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "'maybe'") != NULL);
    sweep_grid_clear(&g);
}

static long work_done(void)
{
    char p[600];
    snprintf(p, sizeof p, "%s/work", tmpdir);
    char *w = slurp(p);
    long n = w ? (long)strlen(w) : 0;
    free(w);
    unlink(p);
    return n;
}

static int toy_sweep(const char *model, const char *out, int no_trunks, int si, int sn, int jobs,
                     sweep_stats *st)
{
    sweep_grid g = {0};
    char command[64];
    long ns = 0;
    int rc = sweep_read_model(model, &g, command, sizeof command, &ns, NULL);
    if (rc == CS_OK && ns) rc = sweep_grid_add_seeds(&g, 0, ns);
    sweep_config c = {.cmd = &toy,
                      .model = model,
                      .out = out,
                      .jobs = jobs,
                      .shard_i = si,
                      .shard_n = sn,
                      .quiet = 1,
                      .no_trunks = no_trunks};
    if (rc == CS_OK) rc = sweep_run(&g, &c, st);
    sweep_grid_clear(&g);
    return rc;
}

/* Deficit trunks: the summary equals the sweep without trunks, the work is E_max + sum(clean) per trunk
 * instead of sum(E + clean); shards + merge equal the whole; a failing trunk fails its waiting points. */
static void test_trunks(void)
{
    char model[512], a[512], b[512], p1[600], p2[600];
    snprintf(model, sizeof model, "%s/toy.ini", tmpdir);
    write_text(model, "command = toy\nclean-epochs = 2\n[sweep]\nvary = deficit=blur:4@1-{end=1:1:5}\n"
                      "seeds = 2\n");
    sweep_stats st;
    work_done();
    for (int jobs = 1; jobs <= 3; jobs += 2) {
        snprintf(a, sizeof a, "%s/toy_t%d", tmpdir, jobs);
        CHECK_INT(toy_sweep(model, a, 0, 1, 1, jobs, &st), CS_OK);
        CHECK(st.trunks == 2 && st.branched == 10 && st.ran == 10 && st.failed == 0);
        CHECK_INT(work_done(), 2 * (5 + 5 * 2)); /* per seed: trunk to E = 5, then 2 clean epochs each */
        snprintf(p1, sizeof p1, "%s/trunks", a);
        CHECK(access(p1, F_OK) != 0); /* removed once every point is finished */
    }
    snprintf(b, sizeof b, "%s/toy_s", tmpdir);
    CHECK_INT(toy_sweep(model, b, 1, 1, 1, 2, &st), CS_OK);
    CHECK(st.trunks == 0 && st.branched == 0);
    CHECK_INT(work_done(), 2 * (1 + 2 + 3 + 4 + 5 + 5 * 2)); /* from scratch */
    snprintf(p1, sizeof p1, "%s/summary.dat", a);
    snprintf(p2, sizeof p2, "%s/summary.dat", b);
    CHECK(same_file(p1, p2));
    snprintf(p1, sizeof p1, "%s/summary_seeds.dat", a);
    snprintf(p2, sizeof p2, "%s/summary_seeds.dat", b);
    CHECK(same_file(p1, p2));
    /* the toy's closed form: E = 3, seed 1: s after 5 epochs of 0.5 s + [1 <= e < 3] + e + 0.01 */
    double s = 0;
    for (int e = 0; e < 5; e++)
        s = 0.5 * s + (e >= 1 && e < 3) + e + 0.01;
    char rows[16][512], cols[512], want[128];
    CHECK_INT(data_rows(p2, rows, 16, cols), 5);
    snprintf(p1, sizeof p1, "%s/summary.dat", a);
    CHECK_INT(data_rows(p1, rows, 16, cols), 10);
    snprintf(want, sizeof want, "blur:4@1-3 3 1 %.17g 5 0", s);
    CHECK(!strcmp(rows[5], want));
    /* shards: each plans its own trunks; merged = whole */
    char s1[512], s2[512], m[512];
    snprintf(s1, sizeof s1, "%s/toy_sh1", tmpdir);
    snprintf(s2, sizeof s2, "%s/toy_sh2", tmpdir);
    snprintf(m, sizeof m, "%s/toy_m", tmpdir);
    CHECK_INT(toy_sweep(model, s1, 0, 1, 2, 2, &st), CS_OK);
    CHECK(st.trunks == 1 && st.branched == 5); /* round robin: shard 1 holds seed 0 of every END */
    CHECK_INT(toy_sweep(model, s2, 0, 2, 2, 2, &st), CS_OK);
    const char *dirs[2] = {s1, s2};
    long miss;
    CHECK_INT(sweep_merge(dirs, 2, m, &miss), CS_OK);
    snprintf(p1, sizeof p1, "%s/summary.dat", m);
    snprintf(p2, sizeof p2, "%s/summary.dat", b);
    CHECK(same_file(p1, p2));
    /* one seed: the whole sweep again after its points are removed (the trunk is recomputed) */
    snprintf(a, sizeof a, "%s/toy_r", tmpdir);
    write_text(model, "command = toy\nclean-epochs = 2\n[sweep]\nvary = deficit=blur:4@1-{end=1:1:5}\n");
    work_done();
    CHECK_INT(toy_sweep(model, a, 0, 1, 1, 1, &st), CS_OK);
    CHECK_INT(work_done(), 5 + 5 * 2);
    snprintf(p1, sizeof p1, "%s/summary.dat", a);
    char *ref = slurp(p1);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf %s/points/*.dat %s/summary.dat", a, a); /* every point to redo */
    CHECK(system(cmd) == 0);
    CHECK_INT(toy_sweep(model, a, 0, 1, 1, 1, &st), CS_OK); /* trunk folder gone: recomputed */
    CHECK_INT(work_done(), 5 + 5 * 2);
    char *again = slurp(p1);
    CHECK(ref && again && !strcmp(ref, again));
    free(again);
    /* a failing trunk (CRITSIM_TOY_FAIL: epoch 2 fails where the deficit is active): points E = 1, 2
     * branch before it and finish, E = 3, 4, 5 fail with the trunk's status and message; the trunk's
     * folder is kept, and the next sweep resumes the trunk at epoch 2 (3 epochs) and gives the
     * reference summary */
    snprintf(cmd, sizeof cmd, "rm -rf %s/points/*.dat %s/summary.dat", a, a);
    CHECK(system(cmd) == 0);
    setenv("CRITSIM_TOY_FAIL", "1", 1);
    CHECK_INT(toy_sweep(model, a, 0, 1, 1, 2, &st), CS_EFAIL);
    unsetenv("CRITSIM_TOY_FAIL");
    CHECK(st.trunks == 1 && st.failed == 3 && st.ran == 5);
    CHECK_INT(data_rows(p1, rows, 16, cols), 5);
    char *sum = slurp(p1);
    CHECK(sum && strstr(sum, "deficit trunk") && strstr(sum, "toy fails"));
    free(sum);
    snprintf(p2, sizeof p2, "%s/trunks", a);
    CHECK(access(p2, F_OK) == 0); /* kept for the retry */
    work_done();
    CHECK_INT(toy_sweep(model, a, 0, 1, 1, 2, &st), CS_OK);
    CHECK(st.skipped == 2 && st.ran == 3 && st.trunks == 1);
    CHECK_INT(work_done(), 3 + 3 * 2);
    again = slurp(p1);
    CHECK(ref && again && !strcmp(ref, again));
    free(again);
    free(ref);
    CHECK(access(p2, F_OK) != 0);
    work_done();
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_sweep.XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    test_axes();
    test_grid();
    test_run();
    test_trunks();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (getenv("KEEP") == NULL && check_fail_ == 0 && system(cmd) != 0)
        printf("warning: could not remove %s\n", tmpdir);
    return check_done("test_sweep");
}
