/* cmd_sweep.c - `critsim sweep`: run an engine over a grid of option values, resumably and in
 * parallel, and collect one summary table; or merge the folders of a sharded sweep.
 *
 *   critsim sweep --model FILE.ini [--vary KEY=...]... [--seeds N] [--jobs J] [--shard I/N]
 *                 [--full] --out DIR
 *   critsim sweep --merge DIR1,DIR2,... --out DIR
 *
 * The engine is named by the model file's `command = NAME` (or --command NAME) and found with
 * cmd_find(); nothing here knows any engine.  Axes come from the model file's [sweep] section
 * (`vary = KEY=...`, repeatable; `seeds = N`; `full = true`) and from --vary, which replaces a file axis of
 * the same key.  Grid syntax, point folders, resumption and summary formats: include/sweep.h.
 *
 * The model file is given with --model (or its alias --experiment).  Because sweep declares its own
 * `model` option, opts_parse() leaves the file to this command instead of loading it as the sweep's
 * own options (the file names another command).
 */
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "sweep.h"
#include "util.h"

static const opt_spec sweep_specs[] = {
    {"model", OPT_STRING, NULL,
     "model file of the experiment: engine options, command = ENGINE, [sweep] axes"},
    {"experiment", OPT_STRING, NULL, "alias of --model"},
    {"command", OPT_STRING, NULL, "engine to sweep when the model file names none (modes|flow|cnn)"},
    {"vary", OPT_MULTI, NULL, "axis KEY=V1,V2,... | KEY=START:STEP:END | KEY=TEXT{NAME=A:S:B}TEXT{NAME+K}"},
    {"seeds", OPT_INT, NULL,
     "runs per point with seed = BASE..BASE+N-1 (BASE: the model's --seed; default: the file's seeds or 1)",
     OPT_IN(1, 1000000)},
    {"jobs", OPT_INT, "0", "points run in parallel, one process each, single-threaded BLAS (0: one per core)",
     OPT_IN(0, 4096)},
    {"shard", OPT_STRING, "1/1",
     "run only the I-th of N disjoint parts of the grid (point index mod N = I-1)"},
    {"full", OPT_FLAG, NULL,
     "let every point write the engine's full tables (default: final.dat only; model file: full = true)"},
    {"plan", OPT_FLAG, NULL, "only check the grid, write DIR/grid.dat and print the number of points"},
    {"quiet", OPT_FLAG, NULL, "no progress line and no per-failure lines on stderr"},
    {"no-trunks", OPT_FLAG, NULL,
     "run every point from scratch (default: deficit-removal points branch from shared deficit trunks)"},
    {"merge", OPT_LIST, NULL, "merge these shard folders of one sweep into --out instead of running"},
    {"out", OPT_STRING, NULL, "sweep folder: grid.dat, summary.dat, summary_seeds.dat, points/"},
    {NULL, 0, NULL, NULL}};

/* OPT_MULTI splits on commas; put the values of one axis back together: an item starts a new axis
 * iff the text before its first '=' is an option name. */
static int starts_axis(const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s) return 0;
    for (const char *p = s; p < eq; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')) return 0;
    return 1;
}

static int add_cmdline_axes(const opts *o, sweep_grid *g)
{
    int n = opts_count(o, "vary");
    sweep_grid cl = {0};
    int rc = CS_OK;
    for (int i = 0; i < n && rc == CS_OK;) {
        const char *first = opts_item(o, "vary", i);
        if (!starts_axis(first))
            return util_seterr(CS_EUSAGE, "--vary '%s': write KEY=V1,V2,... or KEY=START:STEP:END", first);
        size_t len = strlen(first) + 1;
        int j = i + 1;
        while (j < n && !starts_axis(opts_item(o, "vary", j)))
            len += strlen(opts_item(o, "vary", j++)) + 1;
        char *spec = util_malloc(len);
        strcpy(spec, first);
        for (int k = i + 1; k < j; k++)
            strcat(strcat(spec, ","), opts_item(o, "vary", k));
        sweep_axis a;
        rc = sweep_axis_parse(spec, &a);
        if (rc == CS_OK) rc = sweep_grid_add(&cl, &a, 0); /* twice on the command line: an error */
        free(spec);
        i = j;
    }
    for (int i = 0; rc == CS_OK && i < cl.naxes; i++) {
        sweep_axis a = cl.ax[i];
        memset(&cl.ax[i], 0, sizeof cl.ax[i]);
        rc = sweep_grid_add(g, &a, 1);
    }
    sweep_grid_clear(&cl);
    return rc;
}

static int run_merge(const opts *o, const char *out)
{
    int n = opts_count(o, "merge");
    const char **dirs = util_malloc((size_t)n * sizeof *dirs);
    for (int i = 0; i < n; i++)
        dirs[i] = opts_item(o, "merge", i);
    long missing = 0;
    int rc = sweep_merge(dirs, n, out, &missing);
    free(dirs);
    if (rc != CS_EUSAGE && !opts_flag(o, "quiet"))
        fprintf(stderr,
                "critsim sweep: merged %d folders into %s/summary.dat (%ld points failed or missing)\n", n,
                out, missing);
    return rc;
}

/* OpenBLAS (pthread build) starts its thread pool when the program loads, and an idle pool spins in
 * sched_yield while the sweep waits for its children (a third of the CPU time of a fast sweep).  The
 * pool size is read from the environment only at load time, so re-execute once with
 * OPENBLAS_NUM_THREADS=1: the sweep and every point then run single-threaded BLAS.  Best effort: on
 * any failure the sweep continues as it is (the points still call openblas_set_num_threads(1)). */
static void reexec_single_threaded(void)
{
    const char *v = getenv("OPENBLAS_NUM_THREADS");
    if ((v && !strcmp(v, "1")) || getenv("CRITSIM_SWEEP_REEXEC")) return;
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) /* every argument, however many */
        if ((n += got) == cap) {
            char *p = realloc(buf, 2 * cap + 1);
            if (!p) free(buf);
            buf = p;
            cap *= 2;
        }
    fclose(f);
    if (!buf || n == 0) {
        free(buf);
        return;
    }
    buf[n] = '\0';
    size_t argc = 0;
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        argc++;
    char **argv = malloc((argc + 1) * sizeof *argv);
    if (!argv) {
        free(buf);
        return;
    }
    argc = 0;
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        argv[argc++] = buf + i;
    argv[argc] = NULL;
    if (setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0 && setenv("CRITSIM_SWEEP_REEXEC", "1", 1) == 0) {
        fflush(NULL);
        execv("/proc/self/exe", argv);
    }
    free(argv); /* exec failed: carry on in this process */
    free(buf);
}

static int sweep_main(const opts *o)
{
    reexec_single_threaded();
    const char *out = opts_str(o, "out");
    if (!out) return util_seterr(CS_EUSAGE, "--out DIR is required (the sweep folder)");
    if (opts_count(o, "merge") > 0) {
        if (opts_is_set(o, "vary") || opts_is_set(o, "experiment") || opts_is_set(o, "model"))
            return util_seterr(CS_EUSAGE,
                               "--merge combines finished shard folders; give no --vary or --model");
        return run_merge(o, out);
    }
    const char *model = opts_str(o, "model");
    if (model && opts_str(o, "experiment") && strcmp(model, opts_str(o, "experiment")) != 0)
        return util_seterr(CS_EUSAGE, "--model and --experiment name different files; give one");
    if (!model) model = opts_str(o, "experiment");
    sweep_grid g = {0};
    char command[128] = "";
    long seeds = 0;
    int rc = CS_OK;
    int mfull = 0; /* full = true in the model's [sweep] section */
    if (model) rc = sweep_read_model(model, &g, command, sizeof command, &seeds, &mfull);
    if (rc == CS_OK && opts_str(o, "command")) {
        if (command[0] && strcmp(command, opts_str(o, "command")) != 0)
            rc = util_seterr(CS_EUSAGE, "--command %s contradicts 'command = %s' in %s; drop one",
                             opts_str(o, "command"), command, model);
        snprintf(command, sizeof command, "%s", opts_str(o, "command"));
    }
    if (rc == CS_OK && !command[0])
        rc = util_seterr(
            CS_EUSAGE,
            "no engine to sweep: put 'command = modes|flow|cnn' in the model file or give --command");
    const cmd_def *cmd = rc == CS_OK ? cmd_find(command) : NULL;
    if (rc == CS_OK && (!cmd || !strcmp(command, "sweep")))
        rc = util_seterr(CS_EUSAGE, "'command = %s': no such engine in this critsim (see 'critsim --help')",
                         command);
    if (rc == CS_OK) rc = add_cmdline_axes(o, &g);
    long nseeds = seeds;
    if (rc == CS_OK && opts_is_set(o, "seeds")) rc = opts_long(o, "seeds", &nseeds);
    if (rc == CS_OK && nseeds > 0) {
        /* seeds BASE.. with BASE the engine's own seed (model file or default) */
        opts *eo = NULL;
        int has_seed = 0;
        for (int i = 0; cmd->specs[i].name; i++)
            has_seed |= !strcmp(cmd->specs[i].name, "seed");
        if (!has_seed) rc = util_seterr(CS_EUSAGE, "--seeds: critsim %s has no --seed option", command);
        char *argv[3] = {(char *)cmd->name, "--model", (char *)model};
        if (rc == CS_OK) rc = opts_parse(&eo, cmd, model ? 3 : 1, argv);
        long base = 0;
        if (rc == CS_OK && opts_str(eo, "seed")) rc = opts_long(eo, "seed", &base);
        opts_free(eo);
        if (rc == CS_OK) rc = sweep_grid_add_seeds(&g, base, nseeds);
    }
    long jobs = 0;
    if (rc == CS_OK) rc = opts_long(o, "jobs", &jobs);
    if (rc == CS_OK && jobs == 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = nc > 0 ? nc : 1;
    }
    sweep_config c = {.cmd = cmd,
                      .model = model,
                      .out = out,
                      .jobs = (int)jobs,
                      .shard_i = 1,
                      .shard_n = 1,
                      .full = opts_flag(o, "full") || mfull,
                      .quiet = opts_flag(o, "quiet"),
                      .plan = opts_flag(o, "plan"),
                      .no_trunks = opts_flag(o, "no-trunks")};
    if (rc == CS_OK) rc = sweep_shard_parse(opts_str(o, "shard"), &c.shard_i, &c.shard_n);
    sweep_stats st;
    if (rc == CS_OK) {
        rc = sweep_run(&g, &c, &st);
        char tr[128] = "";
        if (st.trunks > 0)
            snprintf(tr, sizeof tr, "; %ld of them branch from %ld deficit trunks", st.branched, st.trunks);
        if (rc == CS_OK && c.plan)
            printf("%ld points (%ld of the grid's %ld in this shard; %ld finished); grid in %s/grid.dat%s\n",
                   st.points - st.skipped, st.points, sweep_grid_size(&g), st.skipped, out, tr);
        else if (rc != CS_EUSAGE && !c.quiet)
            fprintf(
                stderr,
                "critsim sweep: %ld points of %ld%s: %ld finished before, %ld run (%ld failed)%s, %d jobs, "
                "%.3f s; "
                "summary in %s/summary.dat\n",
                st.points, sweep_grid_size(&g), c.shard_n > 1 ? " (this shard)" : "", st.skipped, st.ran,
                st.failed, tr, c.jobs, st.wall_s, out);
    }
    sweep_grid_clear(&g);
    return rc;
}

const cmd_def cmd_sweep = {
    .name = "sweep",
    .summary = "run an engine over a grid of options (resumable, parallel, shardable) into one summary table",
    .usage =
        "examples:\n"
        "  critsim sweep --model models/cp_end.ini --out results/cp_end\n"
        "  critsim sweep --model m.ini --vary depth=1:1:8 --vary 'deficit=gate:b@0-{end=0:10:390}' "
        "--out s\n"
        "  critsim sweep --model m.ini --vary depth=2,4 --seeds 5 --shard 3/8 --out shard3\n"
        "  critsim sweep --merge shard1,shard2,shard3 --out merged\n"
        "A killed sweep restarted with the same command skips its finished points.\n"
        "Deficit trunks: cnn points that differ only in where their one deficit window S-E ends (and\n"
        "in --epochs/--clean-epochs) continue exactly (--branch-mode exact, bit-identical results) from\n"
        "checkpoints of one trunk run with the deficit until the largest E, kept in DIR/trunks/ until\n"
        "their points are done; --no-trunks runs every point from scratch.",
    .specs = sweep_specs,
    .run = sweep_main,
};
