/* sweep.h - parameter grids of engine runs: expansion, stable point ids, sharding, resumable
 * parallel execution and summary tables.
 *
 * Purpose.  A critical period is a curve: the final outcome of an engine run (`critsim modes`,
 * `flow`, `cnn`) as a function of one or more of its options.  A grid is the Cartesian product of
 * axes; each axis is one engine option (KEY) with a list of text values:
 *
 *   KEY=V1,V2,...            a list (split only on commas: deficit=gate:b@0-20,gate:b@0-40)
 *   KEY=START:STEP:END       an arithmetic range, END included when reached (integers stay integers;
 *                            otherwise values START + i*STEP printed with %.15g); empty -> usage error
 *   KEY=TEXT{NAME=START:STEP:END}TEXT{NAME+K}...
 *                            a template: the defining brace {NAME=range} (or {NAME=V1|V2|...}) gives
 *                            the values of the variable NAME; {NAME}, {NAME+K}, {NAME-K} insert it
 *                            (shifted by K).  NAME becomes an extra numeric column of the summary,
 *                            e.g. deficit=gate:b@0-{end=10:10:400} or
 *                            deficit=gate:b@{onset=0:20:780}-{onset+150}.
 *   KEY=V                    one value (an override that is recorded as a column)
 * Values may not contain white space.  Points are numbered in row-major order: the first axis varies
 * slowest, the seed axis (--seeds N adds seed = BASE, BASE+1, ..., BASE+N-1, BASE the model's seed)
 * fastest.
 *
 * Point identity.  A point's id is the 64-bit FNV-1a hash (16 hex digits) of the engine name, the
 * bytes of the model file and the point's KEY=VALUE assignments sorted by key.  The id does not depend
 * on the grid's order or size, so a grown grid reuses the finished points, and an edited model file
 * reruns everything (a changed engine binary does not: use a fresh --out after changing an engine).
 *
 * Execution (one child process per point, forked, --jobs at a time): the child starts from the model
 * file parsed once by the parent, applies the point's values with opts_set() (highest precedence),
 * sets --out to its run folder (and --final-only when the engine has that option and the sweep is not
 * --full), sends stdout and stderr to an in-memory file, runs with single-threaded BLAS and calls the
 * engine's run() in process.  The run folder is a scratch folder /dev/shm/critsim-sweep.PID/ID
 * (deleted after the point; stale ones of killed sweeps are removed by the next sweep), or
 * OUT/points/ID with --full (or when /dev/shm is unusable).  On success the child publishes the
 * engine's final.dat, byte for byte, as OUT/points/ID.dat (temporary name + rename): a point is
 * FINISHED iff OUT/points/ID.dat exists.  On failure nothing is published; the child saves its output
 * as OUT/points/ID.log and the parent records OUT/points/ID.failed ("status N" and the last
 * "critsim ..." line); failed points run again in the next invocation.  So a sweep killed at any
 * moment (even SIGKILL; the children die with their parent) and started again skips the finished
 * points and writes the same summary, bit for bit.  (Creating one file per point instead of a folder
 * of tables matters: on a busy ext4 file system a file creation can cost milliseconds, more than a
 * reduced-theory run.)
 *
 * Files of a sweep folder OUT:
 *   grid.dat           every point of the whole grid: `index id KEY... [VAR...]` (the run's plan)
 *   points/ID.dat      the point's outcomes (a copy of its final.dat); ID.failed, ID.log on failure;
 *   points/ID/         the engine's full tables, with --full only
 *   summary.dat        one row per point (of the shard): varied columns, then the union of the
 *                      outcome keys in order of first appearance (nan where a point lacks one), then
 *                      `status` (0 ok, else the child's exit status, 128+signal when killed, -1 not
 *                      run); failed points are named in '#' lines before the column line.  No timings,
 *                      no paths.
 *   summary_seeds.dat  the same grouped over `seed`: varied columns except seed, `n`, then
 *                      OUTCOME_mean OUTCOME_sd (sample sd, n - 1; nan when n < 2) of finished points.
 * Shards: --shard I/N (1 <= I <= N) runs the points whose index p has p mod N == I - 1 (round robin,
 * so that every shard gets every depth); its grid.dat says `# shard: I/N`.  sweep_merge() copies shard
 * folders' points into one folder and writes the grid.dat and summaries the unsharded sweep would
 * have written.  It refuses (CS_EUSAGE, naming the folder) shards that are not the N parts of one
 * sweep: a part missing or given twice, another grid or model file (grid.dat differs), another build
 * (the version token "0.1.0+BUILDID" of grid.dat's first line, or of a point file's, differs).
 *
 * Deficit trunks (deficit-removal sweeps share their prefix).  For an engine with the options
 * --deficit, --epochs, --clean-epochs, --branch, --branch-mode exact, --checkpoint-at and --resume
 * (critsim cnn), a point whose varied deficit is ONE window KIND[:ARGS]@S-E (E >= 1, E not after the
 * run's end; no --branch or --resume of its own) is a removal point.  Removal points of the shard
 * whose assignments agree on every key but deficit, epochs and clean-epochs, and whose deficits
 * agree up to E (KIND[:ARGS]@S-), share a trunk when there are two or more of them: one run with the
 * deficit [S, E_max) and no clean epochs that keeps ckpt_E.bin after every E of the group (folder
 * OUT/trunks/TID, TID = hash of the shared assignments and the list of E; output in trunk.log).  Each
 * point then runs with --branch OUT/trunks/TID/ckpt_E.bin --branch-mode exact, which the engine
 * guarantees to be bit-identical to the same run from scratch (its tables differ only in wall times
 * and a '# branch:' line; its final.dat, and so the summary, not at all).  The trunk takes one of the
 * --jobs slots and is started first; its points start as soon as their checkpoint exists (polled
 * every 50 ms while a slot is free).  It runs with --resume, so a killed sweep continues it; it runs
 * only as far as the largest E whose checkpoint is missing; a shard plans its own trunks from its own
 * points (so shards + --merge equal one machine's run); a trunk's folder is removed when all its
 * points are finished.  A failed trunk fails the points still waiting for it (status and message of
 * the trunk).  --no-trunks runs every point from scratch.
 *
 * Non-goals: scheduling across machines (tools/slurm_sweep.sh submits a Slurm array of shards and the
 * merge; GNU parallel runs shards on one or a few machines), retries,
 * varying an option to a comma-separated list value (give such lists in separate model files).
 */
#ifndef CRITSIM_SWEEP_H
#define CRITSIM_SWEEP_H

#include "opts.h"

#define SWEEP_MAX_AXES   16
#define SWEEP_MAX_POINTS 10000000L
#define SWEEP_MAX_INT    (1L << 53) /* integers of ranges and template shifts: |x| <= 2^53 */

typedef struct {
    char key[64];  /* engine option name (or "seed") */
    char var[64];  /* template variable name, "" when none */
    int n;         /* number of values (>= 1) */
    char **val;    /* n option values as text */
    char **varval; /* n variable values as text (NULL when var is "") */
} sweep_axis;

typedef struct {
    int naxes;
    sweep_axis ax[SWEEP_MAX_AXES];
} sweep_grid;

/* Parse one axis spec "KEY=..." (forms above).  CS_OK or CS_EUSAGE with a message quoting it. */
int sweep_axis_parse(const char *spec, sweep_axis *out);
void sweep_axis_clear(sweep_axis *a);

/* Add an axis; an axis of the same key is replaced when `replace` (command line over model file),
 * otherwise giving a key twice is a usage error.  Takes ownership of *a (cleared on return). */
int sweep_grid_add(sweep_grid *g, sweep_axis *a, int replace);
/* Model files: a `vary` line whose key is already an axis continues that axis (its values are
 * appended, so a long list can span lines shorter than the file's line limit); refused (CS_EUSAGE)
 * when either is a template or a value would repeat.  Otherwise as sweep_grid_add(g, a, 0). */
int sweep_grid_append(sweep_grid *g, sweep_axis *a);
/* Add the seed axis seed = base .. base+n-1 (replaces a varied seed). */
int sweep_grid_add_seeds(sweep_grid *g, long base, long n);
void sweep_grid_clear(sweep_grid *g);
long sweep_grid_size(const sweep_grid *g);                    /* product of the axis sizes */
void sweep_grid_point(const sweep_grid *g, long p, int *idx); /* idx[naxes]: value index per axis */

/* "I/N" with 1 <= I <= N.  CS_OK or CS_EUSAGE. */
int sweep_shard_parse(const char *s, int *i, int *n);
static inline int sweep_in_shard(long p, int i, int n)
{
    return n <= 1 || p % n == i - 1;
}

/* 64-bit FNV-1a of point p (see "Point identity"); model_hash is sweep_hash_file() of the model. */
unsigned long long sweep_point_id(const sweep_grid *g, long p, const char *engine,
                                  unsigned long long model_hash);
unsigned long long sweep_hash_bytes(unsigned long long h, const void *data, size_t n);
/* Hash of a file's bytes (FNV offset basis when path is NULL); CS_EUSAGE if unreadable. */
int sweep_hash_file(const char *path, unsigned long long *out);

/* Read the [sweep] section of a model file: `vary = KEY=...` (repeatable; a key given again continues
 * its axis: sweep_grid_append), `seeds = N`, `full = true|false` (as --full: every point keeps its full
 * tables, e.g. epochs.dat and snapshots); and the top-level `command = NAME`.  `command` receives the
 * engine name ("" when absent).  Axes are added to g (not replacing); *seeds and *full (may be NULL)
 * are set when given (else left alone). */
int sweep_read_model(const char *path, sweep_grid *g, char *command, size_t ncommand, long *seeds, int *full);

typedef struct {
    const cmd_def *cmd;   /* the engine */
    const char *model;    /* model file (may be NULL) */
    const char *out;      /* sweep folder */
    int jobs;             /* parallel children (>= 1) */
    int shard_i, shard_n; /* 1/1 for the whole grid */
    int full;             /* keep the engine's full tables (do not set --final-only) */
    int quiet;            /* no per-failure lines on stderr */
    int plan;             /* only validate and write grid.dat (st->points and st->skipped are filled) */
    int no_trunks;        /* run every point from scratch (no deficit trunks) */
} sweep_config;

typedef struct {
    long points;  /* points in this shard */
    long skipped; /* already finished */
    long ran;     /* run now */
    long failed;  /* failed now */
    double wall_s;
    long trunks;   /* deficit trunks planned for the unfinished points */
    long branched; /* unfinished points that continue from a trunk */
} sweep_stats;

/* Check that every axis key is an option of the engine (not out/model), and that the model file
 * parses for it.  CS_OK or CS_EUSAGE. */
int sweep_validate(const sweep_grid *g, const sweep_config *c);
/* Write OUT/grid.dat, run the unfinished points of the shard, write the summaries.  Returns CS_OK,
 * CS_EFAIL when a point failed (message names how many; the summary is still written), or CS_EUSAGE. */
int sweep_run(const sweep_grid *g, const sweep_config *c, sweep_stats *st);
/* Summaries of OUT from OUT/grid.dat and OUT/points (shard i/n; 1/1 = all).  *nfailed receives the
 * number of points that failed or have not run.  CS_OK or CS_EUSAGE. */
int sweep_summarize(const char *out, int shard_i, int shard_n, long *nfailed);
/* Merge shard folders into OUT (the N parts of one sweep, see "Shards"); writes OUT's grid.dat and
 * summaries.  CS_OK, CS_EFAIL when points failed or did not run, CS_EUSAGE on shards that do not fit. */
int sweep_merge(const char *const *dirs, int ndirs, const char *out, long *nmissing);

#endif
