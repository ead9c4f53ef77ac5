/* snap.c - snapshots of per-source maps at recorded steps: writer (engines) and loader (analyzer).
 *
 * Purpose: one documented on-disk format (see snap.h) for the per-source maps M_P(t) of a run, the
 * task's target map and the singular triples the engine used, readable from Python with numpy.load
 * and numpy.loadtxt.  Mathematics: none; this is bookkeeping.  The only invariants are shapes:
 * map_P.npy is (n_snap, n_out, n_in[P]), hidden_P.npy is (n_snap, n_hidden, n_in[P]), target.npy is
 * (n_out, n_in_total), U (n_out x r), s (r), V (n_in_total x r), sxx (n_in_total x n_in_total).
 * The loader checks every one of them against index.dat and names the file when one is wrong.
 *
 * Two writers.  snap_open keeps the snapshots in memory and writes everything at snap_close (the
 * linear engines: a 1000-step width-100 run is a few MB).  snap_open_stream (the CNN, whose runs are
 * long and resumable) writes every snapshot to disk as it is added: each .npy file has a fixed
 * 128-byte header whose first dimension is rewritten in place after every append, and index.dat is
 * republished (atomically) after every snapshot, so the folder on disk is complete after each
 * snap_add; a resumed run keeps the first n_keep slices (file truncation) and appends from there.
 *
 * Non-goals: other dtypes than float64 on output.
 */
#include "snap.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"
#include "table.h"
#include "util.h"

struct snap_writer {
    char dir[PATH_MAX];
    snap_meta m;
    char engine[32];
    int n_in_tot;
    double *target, *U, *s, *V, *sxx; /* owned copies */
    int n, cap;
    long *step;
    double *time;
    double *map[SNAP_MAX_SRC];
    double *hidden[SNAP_MAX_SRC];
    double *sv[2]; /* (cap, n_units) */
    int stream;    /* snap_open_stream: slices go to disk at once, only step/time are kept */
    char svd_note[256];
    char notes[4][256]; /* snap_add_note lines */
    int n_notes;
};

#define STREAM_HDR 128 /* bytes of a streamed .npy file's header */

/* ---- small helpers -------------------------------------------------------------------------- */

char snap_src_name(int p)
{
    return (char)('a' + p);
}

int snap_n_in_total(const snap_meta *m)
{
    if (m->layout == SNAP_SHARED) return m->n_in[0];
    int t = 0;
    for (int p = 0; p < m->n_src; p++)
        t += m->n_in[p];
    return t;
}

int snap_in_offset(const snap_meta *m, int p)
{
    if (m->layout == SNAP_SHARED) return 0;
    int o = 0;
    for (int q = 0; q < p; q++)
        o += m->n_in[q];
    return o;
}

static double *dup_or_null(const double *x, size_t n)
{
    if (!x || n == 0) return NULL;
    double *y = util_malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* Shape and consistency checks shared by writer and loader; `where` names the origin in messages. */
static int meta_check(const snap_meta *m, const char *where)
{
    if (m->n_src < 1 || m->n_src > SNAP_MAX_SRC)
        return util_seterr(CS_EUSAGE, "%s: n_src = %d, must be in 1..%d", where, m->n_src, SNAP_MAX_SRC);
    if (m->layout != SNAP_CONCAT && m->layout != SNAP_SHARED)
        return util_seterr(CS_EUSAGE, "%s: layout must be concat or shared", where);
    if (m->n_out < 1) return util_seterr(CS_EUSAGE, "%s: n_out = %d, must be >= 1", where, m->n_out);
    for (int p = 0; p < m->n_src; p++) {
        if (m->n_in[p] < 1)
            return util_seterr(CS_EUSAGE, "%s: n_in of source %c = %d, must be >= 1", where, snap_src_name(p),
                               m->n_in[p]);
        if (m->layout == SNAP_SHARED && m->n_in[p] != m->n_in[0])
            return util_seterr(CS_EUSAGE, "%s: layout shared needs equal n_in for every source", where);
    }
    if (m->n_hidden < 0) return util_seterr(CS_EUSAGE, "%s: n_hidden = %d < 0", where, m->n_hidden);
    if (m->n_units < 0) return util_seterr(CS_EUSAGE, "%s: n_units = %d < 0", where, m->n_units);
    if (m->n_units > 0 && m->n_src < 2)
        return util_seterr(CS_EUSAGE, "%s: source variances (n_units > 0) need at least 2 sources", where);
    int nt = snap_n_in_total(m), kmax = m->n_out < nt ? m->n_out : nt;
    if (m->rank < 0 || m->rank > kmax)
        return util_seterr(CS_EUSAGE, "%s: rank = %d, must be in 0..min(n_out, n_in_total) = %d", where,
                           m->rank, kmax);
    return CS_OK;
}

/* ---- writer --------------------------------------------------------------------------------- */

snap_writer *snap_open(const char *run_dir, const snap_meta *m)
{
    CS_ASSERT(run_dir && m);
    if (meta_check(m, "snapshot metadata") != CS_OK) return NULL;
    if (m->rank > 0 && (!m->U || !m->s || !m->V)) {
        util_seterr(CS_EUSAGE, "snapshot metadata: rank %d but U, s or V missing", m->rank);
        return NULL;
    }
    snap_writer *w = util_calloc(1, sizeof *w);
    if (util_path(w->dir, sizeof w->dir, run_dir, "snap") != CS_OK || util_mkdir_p(w->dir) != CS_OK) {
        free(w);
        return NULL;
    }
    w->m = *m;
    snprintf(w->engine, sizeof w->engine, "%s", m->engine ? m->engine : "unknown");
    for (char *c = w->engine; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '=') *c = '_';
    w->n_in_tot = snap_n_in_total(m);
    size_t no = (size_t)m->n_out, ni = (size_t)w->n_in_tot, r = (size_t)m->rank;
    w->target = dup_or_null(m->target, no * ni);
    w->U = dup_or_null(m->rank ? m->U : NULL, no * r);
    w->s = dup_or_null(m->rank ? m->s : NULL, r);
    w->V = dup_or_null(m->rank ? m->V : NULL, ni * r);
    w->sxx = dup_or_null(m->sxx, ni * ni);
    w->m.engine = w->engine;
    w->m.target = w->target;
    w->m.U = w->U;
    w->m.s = w->s;
    w->m.V = w->V;
    w->m.sxx = w->sxx;
    return w;
}

static void writer_grow(snap_writer *w)
{
    int cap = w->cap ? 2 * w->cap : 64;
    w->step = realloc(w->step, (size_t)cap * sizeof *w->step);
    w->time = realloc(w->time, (size_t)cap * sizeof *w->time);
    if (!w->step || !w->time) util_malloc((size_t)-1);
    for (int p = 0; p < w->m.n_src; p++) {
        size_t sm = (size_t)w->m.n_out * (size_t)w->m.n_in[p];
        w->map[p] = realloc(w->map[p], (size_t)cap * sm * sizeof(double));
        if (!w->map[p]) util_malloc((size_t)-1);
        if (w->m.n_hidden > 0) {
            size_t sh = (size_t)w->m.n_hidden * (size_t)w->m.n_in[p];
            w->hidden[p] = realloc(w->hidden[p], (size_t)cap * sh * sizeof(double));
            if (!w->hidden[p]) util_malloc((size_t)-1);
        }
    }
    if (w->m.n_units > 0)
        for (int i = 0; i < 2; i++) {
            w->sv[i] = realloc(w->sv[i], (size_t)cap * w->m.n_units * sizeof(double));
            if (!w->sv[i]) util_malloc((size_t)-1);
        }
    w->cap = cap;
}

static void writer_free(snap_writer *w);
static int load_index(const char *dir, snap_run *r, int *has_target, int *has_svd, int *has_sxx);

/* ---- streaming ------------------------------------------------------------------------------ */

/* (Re)write the fixed-size header of a streamed float64 array (n, d1[, d2]); d2 < 0: 2-D. */
static int stream_header(FILE *f, long n, long d1, long d2)
{
    char dict[STREAM_HDR];
    int hl = d2 >= 0
                 ? snprintf(dict, sizeof dict,
                            "{'descr': '<f8', 'fortran_order': False, 'shape': (%ld, %ld, %ld), }", n, d1, d2)
                 : snprintf(dict, sizeof dict,
                            "{'descr': '<f8', 'fortran_order': False, 'shape': (%ld, %ld), }", n, d1);
    CS_ASSERT(hl > 0 && hl < STREAM_HDR - 11);
    unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (STREAM_HDR - 10) & 0xff, (STREAM_HDR - 10) >> 8};
    memset(dict + hl, ' ', (size_t)(STREAM_HDR - 11 - hl));
    dict[STREAM_HDR - 11] = '\n';
    if (fseek(f, 0, SEEK_SET) || fwrite(pre, 1, 10, f) != 10 ||
        fwrite(dict, 1, STREAM_HDR - 10, f) != STREAM_HDR - 10)
        return -1;
    return 0;
}

/* Append `count` doubles (one slice) to a streamed file holding n slices; header says n + 1 after. */
static int stream_append(const char *path, long n, long d1, long d2, const double *x, size_t count)
{
    FILE *f = fopen(path, "r+b");
    if (!f) return util_seterr(CS_EUSAGE, "cannot write snapshot '%s': %s", path, strerror(errno));
    int bad = fseek(f, STREAM_HDR + (long)(n * (long)count * sizeof(double)), SEEK_SET) ||
              fwrite(x, sizeof(double), count, f) != count || stream_header(f, n + 1, d1, d2);
    if (fclose(f)) bad = 1;
    if (bad) return util_seterr(CS_EUSAGE, "write error on snapshot '%s' (disk full?)", path);
    return CS_OK;
}

/* Create an empty streamed file, or cut an existing one to n slices of `count` doubles. */
static int stream_reset(const char *path, long n, long d1, long d2, size_t count)
{
    FILE *f = fopen(path, n ? "r+b" : "wb");
    if (!f) return util_seterr(CS_EUSAGE, "cannot open snapshot '%s': %s", path, strerror(errno));
    long want = STREAM_HDR + (long)(n * (long)count * sizeof(double));
    int bad = n > 0 && (fseek(f, 0, SEEK_END) || ftell(f) < want);
    if (bad) {
        fclose(f);
        return util_seterr(CS_EUSAGE,
                           "snapshot '%s' holds fewer than the %ld snapshots the checkpoint needs; "
                           "resume with the options of the run that wrote it, or use another run folder",
                           path, n);
    }
    bad = stream_header(f, n, d1, d2) || fflush(f) || ftruncate(fileno(f), want);
    if (fclose(f)) bad = 1;
    if (bad) return util_seterr(CS_EUSAGE, "cannot write snapshot '%s' (disk full?)", path);
    return CS_OK;
}

static int write_index(snap_writer *w);

snap_writer *snap_open_stream(const char *run_dir, const snap_meta *m, int n_keep, const long *keep_step,
                              const double *keep_time)
{
    CS_ASSERT(run_dir && m && n_keep >= 0);
    if (meta_check(m, "snapshot metadata") != CS_OK) return NULL;
    CS_ASSERT(m->n_hidden == 0 && m->rank == 0 && !m->target && !m->sxx);
    snap_writer *w = util_calloc(1, sizeof *w);
    util_path(w->dir, sizeof w->dir, run_dir, "snap");
    if (util_mkdir_p(w->dir) != CS_OK) {
        free(w);
        return NULL;
    }
    w->m = *m;
    w->stream = 1;
    snprintf(w->engine, sizeof w->engine, "%s", m->engine ? m->engine : "unknown");
    w->m.engine = w->engine;
    w->n_in_tot = snap_n_in_total(m);
    char path[2400], name[64];
    int rc = CS_OK;
    if (n_keep > 0) { /* the folder must be the one this run wrote, with at least n_keep snapshots */
        snap_run old;
        memset(&old, 0, sizeof old);
        int ht = 0, hs = 0, hx = 0;
        rc = load_index(w->dir, &old, &ht, &hs, &hx);
        int same = rc == CS_OK && old.meta.n_src == m->n_src && old.meta.n_out == m->n_out &&
                   old.meta.n_units == m->n_units && old.meta.layout == m->layout && old.n_snap >= n_keep;
        for (int p = 0; same && p < m->n_src; p++)
            same = old.meta.n_in[p] == m->n_in[p];
        for (int k = 0; same && k < n_keep; k++)
            same = old.step[k] == keep_step[k] && old.time[k] == keep_time[k];
        free(old.step);
        free(old.time);
        if (rc == CS_OK && !same)
            rc = util_seterr(
                CS_EUSAGE,
                "cannot resume: '%s' does not hold the %d snapshots the checkpoint needs (another "
                "snapshot interval, probe set or network?); resume with the run's options or use another run "
                "folder",
                w->dir, n_keep);
    } else {
        const char *stale[] = {"index.dat",  "U.npy",   "s.npy",    "V.npy",
                               "target.npy", "sxx.npy", "sv_a.npy", "sv_b.npy"};
        for (size_t i = 0; i < sizeof stale / sizeof *stale; i++) {
            util_path(path, sizeof path, w->dir, stale[i]);
            unlink(path);
        }
    }
    for (int p = 0; rc == CS_OK && p < m->n_src; p++) {
        snprintf(name, sizeof name, "map_%c.npy", snap_src_name(p));
        util_path(path, sizeof path, w->dir, name);
        rc = stream_reset(path, n_keep, m->n_out, m->n_in[p], (size_t)m->n_out * m->n_in[p]);
    }
    for (int i = 0; rc == CS_OK && m->n_units > 0 && i < 2; i++) {
        util_path(path, sizeof path, w->dir, i ? "sv_b.npy" : "sv_a.npy");
        rc = stream_reset(path, n_keep, m->n_units, -1, (size_t)m->n_units);
    }
    if (rc != CS_OK) {
        free(w);
        return NULL;
    }
    w->cap = n_keep + 64;
    w->step = util_malloc((size_t)w->cap * sizeof *w->step);
    w->time = util_malloc((size_t)w->cap * sizeof *w->time);
    for (int k = 0; k < n_keep; k++)
        w->step[k] = keep_step[k], w->time[k] = keep_time[k];
    w->n = n_keep;
    if (write_index(w) != CS_OK) {
        writer_free(w);
        return NULL;
    }
    return w;
}

void snap_add_note(snap_writer *w, const char *line)
{
    CS_ASSERT(w->n_notes < 4);
    snprintf(w->notes[w->n_notes++], sizeof w->notes[0], "%s", line);
}

int snap_read_map(snap_writer *w, int k, int p, double *out)
{
    CS_ASSERT(w->stream && k >= 0 && k < w->n && p >= 0 && p < w->m.n_src);
    char path[2400], name[64];
    snprintf(name, sizeof name, "map_%c.npy", snap_src_name(p));
    util_path(path, sizeof path, w->dir, name);
    size_t cnt = (size_t)w->m.n_out * w->m.n_in[p];
    FILE *f = fopen(path, "rb");
    int bad = !f || fseek(f, STREAM_HDR + (long)(k * (long)cnt * sizeof(double)), SEEK_SET) ||
              fread(out, sizeof(double), cnt, f) != cnt;
    if (f) fclose(f);
    if (bad) return util_seterr(CS_EUSAGE, "cannot read snapshot %d of '%s'", k, path);
    return CS_OK;
}

int snap_set_svd(snap_writer *w, int rank, const double *U, const double *s, const double *V,
                 const char *note)
{
    CS_ASSERT(w->stream && rank >= 1 && U && s && V);
    size_t no = (size_t)w->m.n_out, ni = (size_t)w->n_in_tot, r = (size_t)rank;
    size_t su[2] = {no, r}, ss[1] = {r}, sv[2] = {ni, r};
    char path[2400];
    util_path(path, sizeof path, w->dir, "U.npy");
    int rc = npy_write_f64(path, 2, su, U);
    util_path(path, sizeof path, w->dir, "s.npy");
    if (rc == CS_OK) rc = npy_write_f64(path, 1, ss, s);
    util_path(path, sizeof path, w->dir, "V.npy");
    if (rc == CS_OK) rc = npy_write_f64(path, 2, sv, V);
    if (rc != CS_OK) return rc;
    w->m.rank = rank;
    snprintf(w->svd_note, sizeof w->svd_note, "%s", note ? note : "");
    return write_index(w);
}

int snap_add(snap_writer *w, long step, double time, const double *const *maps, const double *const *hidden)
{
    CS_ASSERT(w && maps);
    if (w->n > 0 && step <= w->step[w->n - 1])
        return util_seterr(CS_EUSAGE, "snapshot at step %ld after step %ld: steps must increase", step,
                           w->step[w->n - 1]);
    if (w->m.n_hidden > 0 && !hidden)
        return util_seterr(CS_EUSAGE, "snapshot at step %ld: n_hidden = %d but no hidden maps given", step,
                           w->m.n_hidden);
    if (w->stream) {
        if (w->n == w->cap) {
            w->cap *= 2;
            w->step = realloc(w->step, (size_t)w->cap * sizeof *w->step);
            w->time = realloc(w->time, (size_t)w->cap * sizeof *w->time);
            if (!w->step || !w->time) util_malloc((size_t)-1);
        }
        char path[2400], name[64];
        int rc = CS_OK;
        for (int p = 0; rc == CS_OK && p < w->m.n_src; p++) {
            snprintf(name, sizeof name, "map_%c.npy", snap_src_name(p));
            util_path(path, sizeof path, w->dir, name);
            rc = stream_append(path, w->n, w->m.n_out, w->m.n_in[p], maps[p],
                               (size_t)w->m.n_out * w->m.n_in[p]);
        }
        if (w->m.n_units > 0) { /* NaN until snap_add_sv */
            double *nan = util_malloc((size_t)w->m.n_units * sizeof *nan);
            for (int u = 0; u < w->m.n_units; u++)
                nan[u] = NAN;
            for (int i = 0; rc == CS_OK && i < 2; i++) {
                util_path(path, sizeof path, w->dir, i ? "sv_b.npy" : "sv_a.npy");
                rc = stream_append(path, w->n, w->m.n_units, -1, nan, (size_t)w->m.n_units);
            }
            free(nan);
        }
        if (rc != CS_OK) return rc;
        w->step[w->n] = step;
        w->time[w->n] = time;
        w->n++;
        return write_index(w);
    }
    if (w->n == w->cap) writer_grow(w);
    w->step[w->n] = step;
    w->time[w->n] = time;
    for (int p = 0; p < w->m.n_src; p++) {
        CS_ASSERT(maps[p]);
        size_t sm = (size_t)w->m.n_out * (size_t)w->m.n_in[p];
        memcpy(w->map[p] + (size_t)w->n * sm, maps[p], sm * sizeof(double));
        if (w->m.n_hidden > 0) {
            CS_ASSERT(hidden[p]);
            size_t sh = (size_t)w->m.n_hidden * (size_t)w->m.n_in[p];
            memcpy(w->hidden[p] + (size_t)w->n * sh, hidden[p], sh * sizeof(double));
        }
    }
    if (w->m.n_units > 0)
        for (int i = 0; i < 2; i++)
            for (int u = 0; u < w->m.n_units; u++)
                w->sv[i][(size_t)w->n * w->m.n_units + u] = NAN;
    w->n++;
    return CS_OK;
}

int snap_add_sv(snap_writer *w, const double *sv_a, const double *sv_b)
{
    CS_ASSERT(w && sv_a && sv_b);
    if (w->m.n_units <= 0)
        return util_seterr(CS_EUSAGE, "snap_add_sv: the snapshot metadata declares no units (n_units = 0)");
    if (w->n == 0)
        return util_seterr(CS_EUSAGE, "snap_add_sv: no snapshot to attach the source variances to");
    if (w->stream) { /* overwrite the NaN slice snap_add appended */
        char path[2400];
        int rc = CS_OK;
        for (int i = 0; rc == CS_OK && i < 2; i++) {
            util_path(path, sizeof path, w->dir, i ? "sv_b.npy" : "sv_a.npy");
            rc = stream_append(path, w->n - 1, w->m.n_units, -1, i ? sv_b : sv_a, (size_t)w->m.n_units);
        }
        return rc;
    }
    size_t off = (size_t)(w->n - 1) * w->m.n_units;
    memcpy(w->sv[0] + off, sv_a, (size_t)w->m.n_units * sizeof(double));
    memcpy(w->sv[1] + off, sv_b, (size_t)w->m.n_units * sizeof(double));
    return CS_OK;
}

static void writer_free(snap_writer *w)
{
    free(w->target);
    free(w->U);
    free(w->s);
    free(w->V);
    free(w->sxx);
    free(w->step);
    free(w->time);
    for (int p = 0; p < SNAP_MAX_SRC; p++) {
        free(w->map[p]);
        free(w->hidden[p]);
    }
    free(w->sv[0]);
    free(w->sv[1]);
    free(w);
}

int snap_close(snap_writer *w)
{
    if (!w) return CS_OK;
    if (w->stream) { /* everything is on disk already */
        writer_free(w);
        return CS_OK;
    }
    const snap_meta *m = &w->m;
    char path[PATH_MAX], name[64];
    int rc = CS_OK;
    size_t no = (size_t)m->n_out, ni = (size_t)w->n_in_tot, r = (size_t)m->rank;
    for (int p = 0; p < m->n_src && rc == CS_OK; p++) {
        size_t sh[3] = {(size_t)w->n, no, (size_t)m->n_in[p]};
        snprintf(name, sizeof name, "map_%c.npy", snap_src_name(p));
        rc = util_path(path, sizeof path, w->dir, name);
        if (rc == CS_OK) rc = npy_write_f64(path, 3, sh, w->map[p]);
        if (rc == CS_OK && m->n_hidden > 0) {
            size_t hh[3] = {(size_t)w->n, (size_t)m->n_hidden, (size_t)m->n_in[p]};
            snprintf(name, sizeof name, "hidden_%c.npy", snap_src_name(p));
            rc = util_path(path, sizeof path, w->dir, name);
            if (rc == CS_OK) rc = npy_write_f64(path, 3, hh, w->hidden[p]);
        }
    }
    if (rc == CS_OK && w->target) {
        size_t sh[2] = {no, ni};
        rc = util_path(path, sizeof path, w->dir, "target.npy");
        if (rc == CS_OK) rc = npy_write_f64(path, 2, sh, w->target);
    }
    if (rc == CS_OK && r > 0) {
        size_t su[2] = {no, r}, ss[1] = {r}, sv[2] = {ni, r};
        rc = util_path(path, sizeof path, w->dir, "U.npy");
        if (rc == CS_OK) rc = npy_write_f64(path, 2, su, w->U);
        if (rc == CS_OK) rc = util_path(path, sizeof path, w->dir, "s.npy");
        if (rc == CS_OK) rc = npy_write_f64(path, 1, ss, w->s);
        if (rc == CS_OK) rc = util_path(path, sizeof path, w->dir, "V.npy");
        if (rc == CS_OK) rc = npy_write_f64(path, 2, sv, w->V);
    }
    if (rc == CS_OK && w->sxx) {
        size_t sh[2] = {ni, ni};
        rc = util_path(path, sizeof path, w->dir, "sxx.npy");
        if (rc == CS_OK) rc = npy_write_f64(path, 2, sh, w->sxx);
    }
    for (int i = 0; i < 2 && rc == CS_OK && m->n_units > 0; i++) {
        size_t sh[2] = {(size_t)w->n, (size_t)m->n_units};
        rc = util_path(path, sizeof path, w->dir, i ? "sv_b.npy" : "sv_a.npy");
        if (rc == CS_OK) rc = npy_write_f64(path, 2, sh, w->sv[i]);
    }
    if (rc == CS_OK) rc = write_index(w);
    writer_free(w);
    return rc;
}

static int write_index(snap_writer *w)
{
    const snap_meta *m = &w->m;
    int rc;
    {
        table *t = table_open(w->dir, "index.dat", NULL);
        if (!t)
            rc = CS_EUSAGE;
        else {
            char nin[256] = "";
            for (int p = 0; p < m->n_src; p++) {
                char b[24];
                snprintf(b, sizeof b, p ? ",%d" : "%d", m->n_in[p]);
                strcat(nin, b);
            }
            table_meta(t, "snapshot index: slice k of every map_P.npy / hidden_P.npy is the state after "
                          "`step` updates");
            table_meta(t, "snap_format = %d", SNAP_FORMAT);
            table_meta(t, "engine = %s", w->engine);
            table_meta(t, "n_src = %d", m->n_src);
            table_meta(t, "layout = %s", m->layout == SNAP_SHARED ? "shared" : "concat");
            table_meta(t, "n_out = %d", m->n_out);
            table_meta(t, "n_in = %s", nin);
            table_meta(t, "n_hidden = %d", m->n_hidden);
            table_meta(t, "hidden_layer = %d", m->hidden_layer);
            table_meta(t, "rank = %d", m->rank);
            table_meta(t, "n_snap = %d", w->n);
            table_meta(t, "has_target = %d", w->target != NULL);
            table_meta(t, "has_svd = %d", m->rank > 0);
            if (w->svd_note[0]) table_meta(t, "svd: %s", w->svd_note);
            for (int i = 0; i < w->n_notes; i++)
                table_meta(t, "%s", w->notes[i]);
            table_meta(t, "has_sxx = %d", w->sxx != NULL);
            table_meta(t, "n_units = %d", m->n_units);
            table_columns(t, "k step time");
            for (int k = 0; k < w->n; k++)
                table_row(t, "%d %ld %.17g", k, w->step[k], w->time[k]);
            rc = table_close(t);
        }
    }
    return rc;
}

/* ---- loader --------------------------------------------------------------------------------- */

/* Read one array and check its shape; `want` has `ndim` entries.  finite: every entry must be finite
 * (the task's arrays and the hidden maps; map_P keeps the analyzer's numerical-failure path, exit 1,
 * and sv_a/sv_b hold NaN rows for snapshots without an estimate). */
static int load_array(const char *dir, const char *name, int ndim, const size_t *want, int finite,
                      double **out)
{
    char path[PATH_MAX];
    if (util_path(path, sizeof path, dir, name) != CS_OK) return CS_EUSAGE;
    npy_array a;
    int rc = npy_read(path, &a);
    if (rc != CS_OK) {
        char why[1024]; /* copy: util_seterr must not read its own buffer */
        snprintf(why, sizeof why, "%s", util_errmsg());
        return util_seterr(CS_EUSAGE, "snapshot: %s (the run folder is damaged; re-run the engine)", why);
    }
    int ok = a.ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = a.shape[i] == want[i];
    if (!ok) {
        char got[128] = "", exp[128] = "";
        for (int i = 0; i < a.ndim; i++) {
            char b[24];
            snprintf(b, sizeof b, i ? ",%zu" : "%zu", a.shape[i]);
            strcat(got, b);
        }
        for (int i = 0; i < ndim; i++) {
            char b[24];
            snprintf(b, sizeof b, i ? ",%zu" : "%zu", want[i]);
            strcat(exp, b);
        }
        npy_free(&a);
        return util_seterr(CS_EUSAGE,
                           "snapshot: '%s' has shape (%s) but snap/index.dat says (%s); the run folder is "
                           "inconsistent, re-run the engine",
                           path, got, exp);
    }
    for (size_t i = 0; finite && i < a.size; i++)
        if (!isfinite(a.data[i])) {
            double v = a.data[i];
            npy_free(&a);
            return util_seterr(CS_EUSAGE,
                               "snapshot: '%s' entry %zu is %g; the run folder is damaged, re-run the engine",
                               path, i, v);
        }
    *out = a.data;
    return CS_OK;
}

static int parse_int_key(const char *path, const char *key, const char *val, int lo, int hi, int *out)
{
    long v;
    if (util_parse_long(val, &v) != 0 || v < lo || v > hi)
        return util_seterr(CS_EUSAGE, "snapshot: '%s': '%s = %s' is not an integer in %d..%d", path, key, val,
                           lo, hi);
    *out = (int)v;
    return CS_OK;
}

/* Parse index.dat: metadata keys and the rows `k step time`. */
/* The keys of index.dat's '#' lines seen so far (load_index). */
typedef struct {
    int format, nsrc, nout, nin, nsnap, layout; /* seen */
    int n_in_count;
    int *has_target, *has_svd, *has_sxx;
} index_keys;

/* One '#' line of index.dat: `# key = value` sets a field of r (other '#' lines are comments). */
static int index_key(const char *path, const char *line, snap_run *r, index_keys *ix)
{
    snap_meta *m = &r->meta;
    int rc = CS_OK;
    char key[64], val[1024];
    if (sscanf(line, "# %63[A-Za-z_] = %1023s", key, val) != 2) return CS_OK; /* a comment */
    if (!strcmp(key, "snap_format")) {
        int v = 0;
        rc = parse_int_key(path, key, val, 1, 1000000, &v);
        if (rc == CS_OK && v != SNAP_FORMAT)
            rc = util_seterr(CS_EUSAGE, "snapshot: '%s' has snap_format %d; this critsim reads format %d",
                             path, v, SNAP_FORMAT);
        ix->format = 1;
    } else if (!strcmp(key, "engine"))
        snprintf(r->engine, sizeof r->engine, "%.31s", val);
    else if (!strcmp(key, "n_src"))
        rc = parse_int_key(path, key, val, 1, SNAP_MAX_SRC, &m->n_src), ix->nsrc = 1;
    else if (!strcmp(key, "n_out"))
        rc = parse_int_key(path, key, val, 1, 1 << 28, &m->n_out), ix->nout = 1;
    else if (!strcmp(key, "n_hidden"))
        rc = parse_int_key(path, key, val, 0, 1 << 28, &m->n_hidden);
    else if (!strcmp(key, "n_units"))
        rc = parse_int_key(path, key, val, 0, 1 << 30, &m->n_units);
    else if (!strcmp(key, "hidden_layer"))
        rc = parse_int_key(path, key, val, 0, 1 << 20, &m->hidden_layer);
    else if (!strcmp(key, "rank"))
        rc = parse_int_key(path, key, val, 0, 1 << 28, &m->rank);
    else if (!strcmp(key, "n_snap"))
        rc = parse_int_key(path, key, val, 0, 1 << 30, &r->n_snap), ix->nsnap = 1;
    else if (!strcmp(key, "has_target"))
        rc = parse_int_key(path, key, val, 0, 1, ix->has_target);
    else if (!strcmp(key, "has_svd"))
        rc = parse_int_key(path, key, val, 0, 1, ix->has_svd);
    else if (!strcmp(key, "has_sxx"))
        rc = parse_int_key(path, key, val, 0, 1, ix->has_sxx);
    else if (!strcmp(key, "layout")) {
        ix->layout = 1;
        if (!strcmp(val, "concat"))
            m->layout = SNAP_CONCAT;
        else if (!strcmp(val, "shared"))
            m->layout = SNAP_SHARED;
        else
            rc = util_seterr(CS_EUSAGE, "snapshot: '%s': layout '%s' is not concat or shared", path, val);
    } else if (!strcmp(key, "n_in")) {
        ix->nin = 1;
        char *save = NULL;
        for (char *tok = strtok_r(val, ",", &save); tok && rc == CS_OK; tok = strtok_r(NULL, ",", &save)) {
            if (ix->n_in_count >= SNAP_MAX_SRC) {
                rc = util_seterr(CS_EUSAGE, "snapshot: '%s': n_in lists more than %d sources", path,
                                 SNAP_MAX_SRC);
                break;
            }
            rc = parse_int_key(path, key, tok, 1, 1 << 28, &m->n_in[ix->n_in_count++]);
        }
    }
    return rc;
}

static int load_index(const char *dir, snap_run *r, int *has_target, int *has_svd, int *has_sxx)
{
    char path[PATH_MAX];
    if (util_path(path, sizeof path, dir, "index.dat") != CS_OK) return CS_EUSAGE;
    FILE *f = fopen(path, "r");
    if (!f)
        return util_seterr(
            CS_EUSAGE,
            "cannot open '%s': %s; not a run folder with snapshots (critsim flow writes them unless told "
            "not to, critsim cnn when asked to)",
            path, strerror(errno));
    snap_meta *m = &r->meta;
    index_keys ix = {.has_target = has_target, .has_svd = has_svd, .has_sxx = has_sxx};
    int rows = 0, cap = 0, rc = CS_OK, lineno = 0;
    char line[4096];
    while (rc == CS_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n') { /* table.h ends every line with '\n' */
            rc = util_seterr(
                CS_EUSAGE,
                feof(f) ? "snapshot: '%s' line %d ends without a newline (truncated?); re-run the engine"
                        : "snapshot: '%s' line %d is too long",
                path, lineno);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = 0;
        if (line[0] == '#') {
            rc = index_key(path, line, r, &ix);
            continue;
        }
        if (len == 0) continue;
        long k, step;
        double t;
        char extra[8];
        if (sscanf(line, "%ld %ld %lf %7s", &k, &step, &t, extra) != 3 || k != rows) {
            rc = util_seterr(CS_EUSAGE, "snapshot: '%s' line %d: expected row `%d STEP TIME`, got '%.60s'",
                             path, lineno, rows, line);
            break;
        }
        if (rows > 0 && step <= r->step[rows - 1]) {
            rc = util_seterr(CS_EUSAGE, "snapshot: '%s' line %d: steps must increase (%ld after %ld)", path,
                             lineno, step, r->step[rows - 1]);
            break;
        }
        if (rows == cap) {
            cap = cap ? 2 * cap : 64;
            r->step = realloc(r->step, (size_t)cap * sizeof *r->step);
            r->time = realloc(r->time, (size_t)cap * sizeof *r->time);
            if (!r->step || !r->time) util_malloc((size_t)-1);
        }
        r->step[rows] = step;
        r->time[rows] = t;
        rows++;
    }
    fclose(f);
    if (rc != CS_OK) return rc;
    if (!ix.format || !ix.nsrc || !ix.nout || !ix.nin || !ix.nsnap || !ix.layout)
        return util_seterr(
            CS_EUSAGE,
            "snapshot: '%s' lacks one of the keys snap_format, n_src, layout, n_out, n_in, n_snap "
            "(truncated or not a snapshot index)",
            path);
    if (ix.n_in_count != m->n_src)
        return util_seterr(CS_EUSAGE, "snapshot: '%s': n_in lists %d sources but n_src = %d", path,
                           ix.n_in_count, m->n_src);
    if (rows != r->n_snap)
        return util_seterr(CS_EUSAGE,
                           "snapshot: '%s' has %d rows but n_snap = %d (truncated?); re-run the engine", path,
                           rows, r->n_snap);
    return meta_check(m, path);
}

int snap_load(const char *run_dir, snap_run *out)
{
    memset(out, 0, sizeof *out);
    char dir[PATH_MAX];
    if (util_path(dir, sizeof dir, run_dir, "snap") != CS_OK) return CS_EUSAGE;
    int has_target = 0, has_svd = 0, has_sxx = 0;
    snprintf(out->engine, sizeof out->engine, "unknown");
    int rc = load_index(dir, out, &has_target, &has_svd, &has_sxx);
    snap_meta *m = &out->meta;
    if (rc == CS_OK && has_svd && m->rank == 0) has_svd = 0;
    if (rc == CS_OK && !has_svd) m->rank = 0;
    size_t ns = (size_t)out->n_snap, no = (size_t)m->n_out;
    size_t ni = rc == CS_OK ? (size_t)snap_n_in_total(m) : 0, rk = (size_t)m->rank;
    char name[64];
    for (int p = 0; rc == CS_OK && p < m->n_src; p++) {
        size_t sh[3] = {ns, no, (size_t)m->n_in[p]};
        snprintf(name, sizeof name, "map_%c.npy", snap_src_name(p));
        rc = load_array(dir, name, 3, sh, 0, &out->map[p]);
        if (rc == CS_OK && m->n_hidden > 0) {
            size_t hh[3] = {ns, (size_t)m->n_hidden, (size_t)m->n_in[p]};
            snprintf(name, sizeof name, "hidden_%c.npy", snap_src_name(p));
            rc = load_array(dir, name, 3, hh, 1, &out->hidden[p]);
        }
    }
    if (rc == CS_OK && has_target) {
        size_t sh[2] = {no, ni};
        rc = load_array(dir, "target.npy", 2, sh, 1, &out->target);
    }
    if (rc == CS_OK && has_svd) {
        size_t su[2] = {no, rk}, ss[1] = {rk}, sv[2] = {ni, rk};
        rc = load_array(dir, "U.npy", 2, su, 1, &out->U);
        if (rc == CS_OK) rc = load_array(dir, "s.npy", 1, ss, 1, &out->s);
        if (rc == CS_OK) rc = load_array(dir, "V.npy", 2, sv, 1, &out->V);
    }
    if (rc == CS_OK && has_sxx) {
        size_t sh[2] = {ni, ni};
        rc = load_array(dir, "sxx.npy", 2, sh, 1, &out->sxx);
    }
    for (int i = 0; i < 2 && rc == CS_OK && m->n_units > 0; i++) {
        size_t sh[2] = {ns, (size_t)m->n_units};
        rc = load_array(dir, i ? "sv_b.npy" : "sv_a.npy", 2, sh, 0, &out->sv_src[i]);
    }
    if (rc != CS_OK) {
        snap_free(out);
        return rc;
    }
    m->engine = out->engine;
    m->target = out->target;
    m->U = out->U;
    m->s = out->s;
    m->V = out->V;
    m->sxx = out->sxx;
    return CS_OK;
}

void snap_free(snap_run *r)
{
    if (!r) return;
    free(r->step);
    free(r->time);
    for (int p = 0; p < SNAP_MAX_SRC; p++) {
        free(r->map[p]);
        free(r->hidden[p]);
    }
    free(r->target);
    free(r->U);
    free(r->s);
    free(r->V);
    free(r->sxx);
    free(r->sv_src[0]);
    free(r->sv_src[1]);
    memset(r, 0, sizeof *r);
}
