/* snap.h - snapshots of per-source maps at recorded steps: the format both engines write and
 * `critsim analyze` reads.  (Owner: the analyzer.  The format is documented in the README.)
 *
 * A run folder RUN holds RUN/snap/:
 *   index.dat       table (table.h format): '# key = value' metadata lines, then columns `k step time`
 *   map_P.npy       float64 (n_snap, n_out, n_in[P])  per-source map of source P = a, b, ...: for a
 *                   linear network the end-to-end map of pathway P (or the block of the end-to-end map
 *                   acting on source P); for the CNN the input-output Jacobian w.r.t. source P averaged
 *                   over data
 *   hidden_P.npy    float64 (n_snap, n_hidden, n_in[P])  optional: map from source P to the hidden layer
 *                   whose units the RSV is computed for (linear networks)
 *   target.npy      float64 (n_out, n_in_total)  the (effective) target map Sigma^yx
 *   U.npy, s.npy, V.npy   the task's singular triples the engine used: U (n_out x r), s (r),
 *                   V (n_in_total x r) -- V itself, NOT V^T; columns are modes in descending s
 *   sxx.npy         float64 (n_in_total x n_in_total) input covariance (absent: identity)
 *   sv_a.npy, sv_b.npy   float64 (n_snap, n_units)  optional: per-unit source variances SV_a, SV_b
 *                   estimated by the engine itself (rsv.h, sampled estimator; for networks whose RSV
 *                   layer is not linear, e.g. the CNN); NaN rows for snapshots without an estimate
 * Layout of sources in the total input: `concat` (x = [x_a; x_b; ...], total map = [M_a M_b ...]) or
 * `shared` (every source/pathway reads the same input, total map = sum_P M_P; n_in[P] = n_in_total).
 *
 * index.dat metadata keys (one '# key = value' line each; readers ignore other '#' lines):
 *   snap_format = 1, engine, n_src, layout = concat|shared, n_out, n_in = I_a,I_b,..., n_hidden,
 *   hidden_layer, rank, n_snap, then optional arrays present: has_target, has_svd, has_sxx = 0|1,
 *   n_units (0: no sv_a/sv_b).
 * Row k of index.dat (k = 0..n_snap-1) gives the `step` (updates done; docs/formats.md#steps-and-windows) and
 * `time` (step * dt, or the epoch for the CNN) of slice k of every map_P.npy / hidden_P.npy.
 * All .npy files are little-endian C-order '<f8'; index.dat is written last, so a folder without it
 * is incomplete.  Python:  M = np.load('snap/map_a.npy'); k, step, t = np.loadtxt('snap/index.dat').T
 *
 * Writer: the snapshots are kept in memory and written by snap_close(); an engine that fails
 * numerically should still call snap_close() so the snapshots before the failure are kept.  The
 * streaming writer (snap_open_stream, below) writes each snapshot at once instead.
 * Steps must increase strictly from one snap_add() to the next.
 */
#ifndef CRITSIM_SNAP_H
#define CRITSIM_SNAP_H

#define SNAP_MAX_SRC 8
#define SNAP_FORMAT  1

enum { SNAP_CONCAT = 0, SNAP_SHARED = 1 };

typedef struct {
    const char *engine;      /* "flow", "cnn", ... */
    int n_src;               /* number of sources/pathways */
    int layout;              /* SNAP_CONCAT or SNAP_SHARED */
    int n_out;               /* output dimension */
    int n_in[SNAP_MAX_SRC];  /* input dimension of each source's map */
    int n_hidden;            /* units of the RSV layer (0: no hidden maps) */
    int hidden_layer;        /* which hidden layer (1 = after W_1), for the header */
    int rank;                /* number of singular triples given (0: none) */
    const double *target;    /* (n_out x n_in_total) or NULL */
    const double *U, *s, *V; /* see above, or NULL */
    const double *sxx;       /* (n_in_total x n_in_total) or NULL */
    int n_units;             /* units with engine-estimated SV_a, SV_b (snap_add_sv); 0: none */
} snap_meta;

typedef struct snap_writer snap_writer;

/* Start RUN/snap/ (created).  NULL with the error recorded on failure. */
snap_writer *snap_open(const char *run_dir, const snap_meta *m);
/* Add one snapshot: maps[P] is (n_out x n_in[P]) row-major; hidden[P] is (n_hidden x n_in[P]) or
 * hidden == NULL when n_hidden == 0.  Copies the data. */
int snap_add(snap_writer *w, long step, double time, const double *const *maps, const double *const *hidden);
/* Attach the engine's per-unit source variances SV_a, SV_b (n_units each, rsv.h convention) to the
 * most recent snapshot (meta.n_units > 0 required); snapshots without them hold NaN. */
int snap_add_sv(snap_writer *w, const double *sv_a, const double *sv_b);
/* Write the files and free the writer (NULL-safe). */
int snap_close(snap_writer *w);

/* Streaming writer (the CNN): the same folder, but every snap_add / snap_add_sv goes to disk at once
 * (each .npy file has a fixed 128-byte header whose first dimension is rewritten after each append;
 * index.dat is republished after each snapshot), so memory stays bounded and the folder is complete
 * after every snapshot.  Metadata without hidden maps, target, sxx or SVD (rank 0; see snap_set_svd).
 * n_keep = 0 starts afresh (stale files removed); n_keep > 0 resumes: the folder must hold at least
 * n_keep snapshots whose steps and times equal keep_step/keep_time and the same shapes; later slices
 * are cut off.  snap_close only frees the writer.  NULL with the error recorded on failure. */
snap_writer *snap_open_stream(const char *run_dir, const snap_meta *m, int n_keep, const long *keep_step,
                              const double *keep_time);
/* One more '# LINE' in index.dat (at most 4; written from the next index.dat on). */
void snap_add_note(snap_writer *w, const char *line);
/* Read back slice k of map_P (n_out x n_in[P]) of a streaming writer. */
int snap_read_map(snap_writer *w, int k, int p, double *out);
/* Streaming writer: (re)write U.npy, s.npy, V.npy (rank triples; shapes as above) and name their origin
 * in index.dat with the line '# svd: NOTE'. */
int snap_set_svd(snap_writer *w, int rank, const double *U, const double *s, const double *V,
                 const char *note);

/* A loaded snapshot set (all arrays malloc'ed; NULL where absent). */
typedef struct {
    snap_meta meta; /* pointers inside refer to the arrays below */
    char engine[32];
    int n_snap;
    long *step;
    double *time;
    double *map[SNAP_MAX_SRC];    /* (n_snap, n_out, n_in[P]) */
    double *hidden[SNAP_MAX_SRC]; /* (n_snap, n_hidden, n_in[P]) or NULL */
    double *target, *U, *s, *V, *sxx;
    double *sv_src[2]; /* (n_snap, n_units) SV_a, SV_b, or NULL */
} snap_run;

/* Load RUN/snap/; CS_OK or CS_EUSAGE with a message naming the file and what is wrong. */
int snap_load(const char *run_dir, snap_run *out);
void snap_free(snap_run *r);

/* Total input dimension: sum of n_in for SNAP_CONCAT, n_in[0] for SNAP_SHARED. */
int snap_n_in_total(const snap_meta *m);
/* Column offset of source P in the total input (0 for SNAP_SHARED). */
int snap_in_offset(const snap_meta *m, int p);
/* Name of source P: 'a' + P. */
char snap_src_name(int p);

#endif
