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
 * Layout of sources in the total input: `concat` (x = [x_a; x_b; ...], total map = [M_a M_b ...]) or
 * `shared` (every source/pathway reads the same input, total map = sum_P M_P; n_in[P] = n_in_total).
 */
#ifndef CRITSIM_SNAP_H
#define CRITSIM_SNAP_H

#define SNAP_MAX_SRC 8

enum { SNAP_CONCAT = 0, SNAP_SHARED = 1 };

typedef struct {
    const char *engine;     /* "flow", "cnn", ... */
    int n_src;              /* number of sources/pathways */
    int layout;             /* SNAP_CONCAT or SNAP_SHARED */
    int n_out;              /* output dimension */
    int n_in[SNAP_MAX_SRC]; /* input dimension of each source's map */
    int n_hidden;           /* units of the RSV layer (0: no hidden maps) */
    int hidden_layer;       /* which hidden layer (1 = after W_1), for the header */
    int rank;               /* number of singular triples given (0: none) */
    const double *target;   /* (n_out x n_in_total) or NULL */
    const double *U, *s, *V;/* see above, or NULL */
    const double *sxx;      /* (n_in_total x n_in_total) or NULL */
} snap_meta;

typedef struct snap_writer snap_writer;

/* Start RUN/snap/ (created).  NULL with the error recorded on failure. */
snap_writer *snap_open(const char *run_dir, const snap_meta *m);
/* Add one snapshot: maps[P] is (n_out x n_in[P]) row-major; hidden[P] is (n_hidden x n_in[P]) or
 * hidden == NULL when n_hidden == 0.  Copies the data. */
int snap_add(snap_writer *w, long step, double time, const double *const *maps, const double *const *hidden);
/* Write the files and free the writer (NULL-safe). */
int snap_close(snap_writer *w);

/* A loaded snapshot set (all arrays malloc'ed; NULL where absent). */
typedef struct {
    snap_meta meta;          /* pointers inside refer to the arrays below */
    char engine[32];
    int n_snap;
    long *step;
    double *time;
    double *map[SNAP_MAX_SRC];    /* (n_snap, n_out, n_in[P]) */
    double *hidden[SNAP_MAX_SRC]; /* (n_snap, n_hidden, n_in[P]) or NULL */
    double *target, *U, *s, *V, *sxx;
} snap_run;

/* Load RUN/snap/; CS_OK or CS_EUSAGE with a message naming the file and what is wrong. */
int snap_load(const char *run_dir, snap_run *out);
void snap_free(snap_run *r);

#endif
