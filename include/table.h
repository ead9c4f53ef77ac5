/* table.h - the run folder's text tables: provenance header, named columns, atomic publication.
 *
 * Format (docs/formats.md#tables): whitespace-separated text; the file opens with '#' lines (critsim version,
 * command line, seed, then whatever the engine adds: method, tolerances, solver statistics, wall
 * time); the LAST '#' line before the data names the columns, space-separated.  gnuplot and
 * numpy.loadtxt skip the '#' lines.
 *
 * Atomicity: rows are written to a hidden temporary file (publish.h: DIR/.NAME.tmp.XXXXXX, created
 * exclusively; the header as it stands goes on top when the first row is written); table_close()
 * renames it to DIR/NAME, or, when header lines were added after rows, writes a second temporary file
 * = full header + rows and renames that, so a reader never sees a half-written table under its final
 * name.  table_fail() publishes what was written,
 * ending with the line
 * "# FAILED at step N: reason", so a failed run keeps its data and says why it stopped.
 * Header lines (table_meta) may be added at any time before closing: solver statistics known only at
 * the end still appear at the top.
 */
#ifndef CRITSIM_TABLE_H
#define CRITSIM_TABLE_H

#include <stdio.h>

typedef struct table table;

/* Where a table came from: the '#' lines table_open() writes under the version line
 * ("# critsim VERSION+BUILDID: NAME", the version of this build).  The command layer fills it from its
 * options (opts_prov()); library code passes it through.  A NULL field leaves its line out. */
typedef struct {
    const char *cmdline; /* the command line, "critsim flow --depth 4 ...": "# command: ..." */
    const char *model;   /* the values a model file supplied, "key = value; key = value; ...":
                            "# from the model file: ..." (not on the command line, so recorded) */
    const char *seed;    /* the seed as given: "# seed: ..." */
    /* NULL, or the command layer's rewording of the reason of a FAILED line (table_fail): the library's
     * messages name configuration fields (train_cfg.lr0), the command writes its options in their
     * place (opts_errmsg), so a table says what the user can change.  out holds n bytes. */
    void (*reword)(const void *ctx, const char *msg, char *out, size_t n);
    const void *reword_ctx;
} table_prov;

/* Create DIR (mkdir -p) and start DIR/NAME.  `prov` (may be NULL: no provenance lines) supplies the
 * command line, the model file's values and the seed.  Returns NULL with the error recorded. */
table *table_open(const char *dir, const char *name, const table_prov *prov);
/* One provenance line "# <text>" (printf-style, no newline). */
void table_meta(table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Column names, space-separated; written as the last '#' line. */
void table_columns(table *t, const char *cols);
/* One data row (printf-style; newline added). */
void table_row(table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The body stream, for engines that write rows themselves in a hot loop (one line per row). */
FILE *table_stream(table *t);
/* Publish; frees t.  CS_OK or CS_EUSAGE (I/O error recorded). */
int table_close(table *t);
/* Publish with a final "# FAILED at step STEP: REASON" line; frees t.  Returns CS_EFAIL (or the I/O
 * error status). */
int table_fail(table *t, long step, const char *reason);
/* Drop the temporary files without publishing; frees t (NULL is a no-op). */
void table_discard(table *t);

/* Fast row formatting for hot loops (the analyzer writes ~10^5 numbers per run).
 * table_fmt_g17 writes into buf (>= TABLE_G17_LEN bytes) exactly the characters that
 * printf("%.17g", x) writes, and returns their number.  Exact integer path (the 17 correctly rounded
 * digits of m 5^k 2^(q+k), round half to even, as glibc) for 1e-16 <= |x| < 1e17 in the default
 * rounding mode; every other value (0, nan, inf, tiny, huge) goes through snprintf itself.
 * table_fmt_long does the same for "%ld". */
#define TABLE_G17_LEN 32
int table_fmt_g17(char *buf, double x);
int table_fmt_long(char *buf, long v);

/* Write DIR/final.dat: the run's key outcomes as `key value` rows (read by critsim sweep and by
 * critsim analyze).  keys[i] are names such as final_loss, share_b_m0; NAN is written as "nan". */
int table_write_outcomes(const char *dir, const table_prov *prov, int n, const char *const *keys,
                         const double *values);
/* The same for a run that failed numerically: the rows (values of the last state before the failure,
 * or NAN) and the final line "# FAILED at step STEP: REASON", so that whoever reads only final.dat (a
 * sweep's summary) sees the failure.  Returns CS_EFAIL (or the I/O error status). */
int table_write_outcomes_failed(const char *dir, const table_prov *prov, int n, const char *const *keys,
                                const double *values, long step, const char *reason);

#endif
