/* cmd_analyze.c - `critsim analyze --run RUN_DIR`: turn a run's snapshots (RUN_DIR/snap/, snap.h) into
 * the tables the papers reason with (analyze.h, rsv.h).
 *
 * Writes into --out (default: the run folder):
 *   svd.dat      step source index sigma            sorted singular values of each M_P and of the total
 *   share.dat    step mode share_b inhibition K_a K_b ... K_total s   tracked modes (fixed U, V)
 *   share_blocks.dat  step block first last share_b K_a K_b ... K_total s   the same summed over each
 *                block of degenerate modes (modes first..last; analyze.h): basis-independent
 *   angles.dat   step source index angle            principal angles (radians) to the target's top-k
 *   rsv.dat      step unit rsv sv_a sv_b            when the run has hidden maps (closed form) or the
 *                                                   engine's SV_a, SV_b estimates (snap/sv_a.npy, sv_b.npy)
 *   rsv_hist.dat step bin lo hi count               39 bins, edges linspace(-1.15, 1.15, 40)
 *   summary.dat  key value                          final share/inhibition/K per mode, half steps,
 *                                                   fused (|RSV| < 0.5) vs single-source (> 0.8) units,
 *                                                   share_b_mF_L, K_P_mF_L per degenerate block F..L
 * Every table names the blocks of degenerate modes in a line "# degenerate modes: ..." (or "none").
 * Exit status: 0 ok; 2 bad or missing snapshots (message names the file); 1 a snapshot is non-finite
 * (tables published up to the step before, ending "# FAILED at step N: ...").
 * Non-goals: computing anything the plots need beyond these tables; re-running engines.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "opts.h"
#include "rsv.h"
#include "snap.h"
#include "table.h"
#include "publish.h"
#include "util.h"

static const opt_spec specs[] = {
    {"run", OPT_STRING, NULL, "run folder to analyse (holds snap/ written by flow or cnn); required"},
    {"out", OPT_STRING, NULL, "folder for the tables (default: the run folder)"},
    {"rsv-steps", OPT_LIST, "all", "recorded steps for rsv.dat/rsv_hist.dat: all|first|last|S1,S2,..."},
    {"angle-rank", OPT_INT, "0",
     "k of the top-k subspaces compared by principal angles (0: all tracked modes)", OPT_IN(0, 1 << 20)},
    {"rsv-variance", OPT_STRING, "marginal",
     "marginal|conditional: source variance with the partner drawn independently (official) or conditioned "
     "on it"},
    {NULL, 0, NULL, NULL}};

static const char *basis_name(int b)
{
    return b == ANALYZE_BASIS_SNAPSHOT ? "the snapshot's U, V (the engine's)"
           : b == ANALYZE_BASIS_TARGET
               ? "a fresh SVD of the snapshot's target map (the run gave no U, V)"
               : "a fresh SVD of the final total map (the run gave no U, V, no target)";
}

static void src_label(char *buf, int p, int n_src)
{
    if (p == n_src)
        strcpy(buf, "total");
    else {
        buf[0] = snap_src_name(p);
        buf[1] = 0;
    }
}

/* ---- row writer: the tables hold ~10^5 numbers, so printf's parsing and its multi-precision
 * conversion dominated the command; table_fmt_g17 prints the same characters as "%.17g" and rows are
 * assembled in a 64 KiB block written with one fwrite. */
enum { OUTBUF_CAP = 1 << 16, OUTBUF_ROW = 1024 };
typedef struct {
    FILE *f;
    size_t n;
    char b[OUTBUF_CAP];
} outbuf;

static void ob_flush(outbuf *o)
{
    if (o->n) fwrite(o->b, 1, o->n, o->f); /* errors surface in table_close (ferror) */
    o->n = 0;
}
/* room for one more row (at most OUTBUF_ROW bytes) */
static void ob_row(outbuf *o)
{
    if (o->n > OUTBUF_CAP - OUTBUF_ROW) ob_flush(o);
}
static void ob_g(outbuf *o, double x) /* " %.17g" */
{
    o->b[o->n++] = ' ';
    o->n += (size_t)table_fmt_g17(o->b + o->n, x);
}
static void ob_long(outbuf *o, long v) /* "%ld", the first column */
{
    o->n += (size_t)table_fmt_long(o->b + o->n, v);
}
static void ob_ilong(outbuf *o, long v) /* " %ld" */
{
    o->b[o->n++] = ' ';
    o->n += (size_t)table_fmt_long(o->b + o->n, v);
}
static void ob_str(outbuf *o, const char *s) /* " %s" */
{
    size_t l = strlen(s);
    o->b[o->n++] = ' ';
    memcpy(o->b + o->n, s, l);
    o->n += l;
}
static void ob_nl(outbuf *o)
{
    o->b[o->n++] = '\n';
}

/* Which snapshots get RSV: mark[k] = 1.  Usage error for a step that was not recorded. */
static int rsv_select(const opts *o, const snap_run *run, int n_ok, char *mark)
{
    memset(mark, 0, (size_t)run->n_snap);
    int n = opts_count(o, "rsv-steps");
    for (int i = 0; i < n; i++) {
        const char *it = opts_item(o, "rsv-steps", i);
        if (!strcmp(it, "all")) {
            for (int k = 0; k < n_ok; k++)
                mark[k] = 1;
            continue;
        }
        if (!strcmp(it, "first")) {
            if (n_ok > 0) mark[0] = 1;
            continue;
        }
        if (!strcmp(it, "last")) {
            if (n_ok > 0) mark[n_ok - 1] = 1;
            continue;
        }
        long s;
        if (util_parse_long(it, &s) != 0)
            return util_seterr(CS_EUSAGE, "--rsv-steps (%s): '%s' is not all, first, last or a step number",
                               opts_origin(o, "rsv-steps"), it);
        int found = -1;
        for (int k = 0; k < n_ok; k++)
            if (run->step[k] == s) found = k;
        if (found < 0)
            return util_seterr(
                CS_EUSAGE,
                "--rsv-steps: step %ld was not recorded (recorded: %ld..%ld, %d snapshots; see "
                "snap/index.dat)",
                s, run->step[0], run->step[n_ok > 0 ? n_ok - 1 : 0], run->n_snap);
        mark[found] = 1;
    }
    return CS_OK;
}

/* Covariance block of source p (n_in[p] x n_in[p]) into C, or NULL when the input is white. */
static const double *cov_block(const snap_run *run, int p, double *C)
{
    const snap_meta *m = &run->meta;
    if (!run->sxx) return NULL;
    int nt = snap_n_in_total(m), ni = m->n_in[p], off = snap_in_offset(m, p);
    for (int i = 0; i < ni; i++)
        for (int j = 0; j < ni; j++)
            C[(size_t)i * ni + j] = run->sxx[(size_t)(off + i) * nt + off + j];
    return C;
}

static void common_meta(table *t, const snap_run *run, const analyze_result *res, const char *run_dir)
{
    table_meta(t, "run: %s (engine %s, %d sources, layout %s, %d snapshots, steps %ld..%ld)", run_dir,
               run->engine, run->meta.n_src, run->meta.layout == SNAP_SHARED ? "shared" : "concat",
               run->n_snap, run->step[0], run->step[run->n_snap - 1]);
    table_meta(t, "tracked basis: %s; %d modes", basis_name(res->basis), res->r);
    /* "# degenerate modes: 2-3 (s = 1.7320508), 4-7 (s = 1)" or "none"; blocks of one mode are not named */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return; /* out of memory: the line is left out, the tables stay correct */
    int nd = 0;
    for (int b = 0; b < res->n_blk; b++) {
        int a0 = res->blk_first[b], a1 = res->blk_first[b + 1] - 1;
        if (a1 > a0) fprintf(f, "%s%d-%d (s = %.8g)", nd++ ? ", " : "", a0, a1, res->s[a0]);
    }
    if (!nd) fputs("none", f);
    fprintf(f, "; modes alpha, alpha+1 are degenerate when |s_alpha - s_alpha+1| <= %g s_0%s",
            ANALYZE_DEGEN_RTOL, isfinite(res->s[0]) ? "" : " (singular values unknown: no blocks)");
    fclose(f);
    table_meta(t, "degenerate modes: %s", buf);
    if (nd)
        table_meta(t,
                   "inside a degenerate block the per-mode K and share depend on the SVD basis; their sums "
                   "over the block (share_blocks.dat, summary.dat share_b_mF_L) do not");
    free(buf);
}

/* Column names of share.dat and share_blocks.dat: `lead`, then K_a K_b ... (one per source of S <=
 * SNAP_MAX_SRC), K_total, s.  cols holds >= 512 bytes. */
static void share_columns(char *cols, const char *lead, int S)
{
    strcpy(cols, lead);
    for (int p = 0; p < S; p++) {
        char b[8];
        snprintf(b, sizeof b, " K_%c", snap_src_name(p));
        strcat(cols, b);
    }
    strcat(cols, " K_total s");
}

/* What every table writer of run_analyze reads: where, the provenance, the loaded run and its analysis,
 * the row buffer (pointed at each table's stream in turn) and, for a run that failed, the FAILED line
 * every table ends with. */
typedef struct {
    const table_prov *prov;
    const char *out, *run_dir;
    const snap_run *run;
    const analyze_result *res;
    outbuf *ob;
    int failed;
    long fail_step;
    const char *fail_why;
} an_ctx;

/* RSV figures that summary.dat repeats */
typedef struct {
    int have, nh; /* RSV computed; for nh units */
    long n_fused, n_single, n_dead, last_step;
} rsv_summary;

static table *an_open(const an_ctx *c, const char *name)
{
    table *t = table_open(c->out, name, c->prov);
    if (t) common_meta(t, c->run, c->res, c->run_dir);
    return t;
}

static int an_close(const an_ctx *c, table *t)
{
    return c->failed ? table_fail(t, c->fail_step, c->fail_why) : table_close(t);
}

#define AN_VARS                                                                                              \
    const snap_run *run = c->run;                                                                            \
    const analyze_result *res = c->res;                                                                      \
    int S = run->meta.n_src, r = res->r, ns = res->n_snap;                                                   \
    (void)S, (void)r, (void)ns

/* svd.dat: the sorted singular values of every per-source map and of the total map */
static int write_svd(const an_ctx *c, table *t)
{
    AN_VARS;
    outbuf *ob = c->ob;
    table_meta(
        t,
        "sorted singular values (LAPACKE dgesdd, descending) of each per-source map M_P and of the "
        "total map (%s); sorted curves swap identity where modes cross: see share.dat for tracked modes",
        run->meta.layout == SNAP_SHARED ? "sum_P M_P" : "[M_a M_b ...]");
    table_columns(t, "step source index sigma");
    ob->f = table_stream(t);
    char lab[8];
    for (int k = 0; k < ns; k++)
        for (int p = 0; p <= S; p++) {
            src_label(lab, p, S);
            for (int i = 0; i < res->n_sv[p]; i++) { /* "%ld %s %d %.17g" */
                ob_row(ob);
                ob_long(ob, run->step[k]);
                ob_str(ob, lab);
                ob_ilong(ob, i);
                ob_g(ob, res->sv[((size_t)k * (S + 1) + p) * res->sv_stride + i]);
                ob_nl(ob);
            }
        }
    ob_flush(ob);
    return an_close(c, t);
}

/* share.dat: K_P of every tracked mode, the share of b, the inhibition */
static int write_share(const an_ctx *c, table *t)
{
    AN_VARS;
    outbuf *ob = c->ob;
    table_meta(t, "K_P = u_alpha^T M_P v_alpha (block of v_alpha acting on source P for concat runs), fixed "
                  "u_alpha, v_alpha, never re-sorted; K_total = sum_P K_P; s = target singular value");
    table_meta(
        t, "share_b = K_b / sum_P K_P (= K_b/(K_a+K_b) for two sources; nan for one source or a zero sum)");
    table_meta(
        t, "inhibition = (max_P K_P - min_P K_P) / sum_P |K_P| in [0,1]: 0 = the sources carry the mode "
           "equally, > 0 = one source carries more of it (suppresses the other), 1 = one source carries all");
    char cols[512];
    share_columns(cols, "step mode share_b inhibition", S);
    table_columns(t, cols);
    ob->f = table_stream(t);
    for (int k = 0; k < ns; k++)
        for (int a = 0; a < r; a++) { /* "%ld %d %.17g %.17g", S x " %.17g", " %.17g %.17g" */
            double tot = 0.0;
            ob_row(ob);
            ob_long(ob, run->step[k]);
            ob_ilong(ob, a);
            ob_g(ob, res->share[(size_t)k * r + a]);
            ob_g(ob, res->inhib[(size_t)k * r + a]);
            for (int p = 0; p < S; p++) {
                double K = res->K[((size_t)k * S + p) * r + a];
                tot += K;
                ob_g(ob, K);
            }
            ob_g(ob, tot);
            ob_g(ob, res->s[a]);
            ob_nl(ob);
        }
    ob_flush(ob);
    return an_close(c, t);
}

/* share_blocks.dat: the same per block of degenerate modes */
static int write_share_blocks(const an_ctx *c, table *t)
{
    AN_VARS;
    char cols[512];
    outbuf *ob = c->ob;
    table_meta(t,
               "per block of degenerate modes first..last: K_P = sum over the block's modes of u_alpha^T M_P "
               "v_alpha (= tr(U_B^T M_P V_B), the same for every basis of the block), K_total = sum_P K_P, "
               "share_b = K_b / K_total, s = the block's singular value");
    share_columns(cols, "step block first last share_b", S);
    table_columns(t, cols);
    ob->f = table_stream(t);
    for (int k = 0; k < ns; k++)
        for (int b = 0; b < res->n_blk; b++) {
            int a0 = res->blk_first[b], a1 = res->blk_first[b + 1];
            double tot = 0.0;
            ob_row(ob);
            ob_long(ob, run->step[k]);
            ob_ilong(ob, b);
            ob_ilong(ob, a0);
            ob_ilong(ob, a1 - 1);
            ob_g(ob, res->blk_share[(size_t)k * res->n_blk + b]);
            for (int p = 0; p < S; p++) {
                double K = 0.0;
                for (int a = a0; a < a1; a++)
                    K += res->K[((size_t)k * S + p) * r + a];
                tot += K;
                ob_g(ob, K);
            }
            ob_g(ob, tot);
            ob_g(ob, res->s[a0]);
            ob_nl(ob);
        }
    ob_flush(ob);
    return an_close(c, t);
}

/* angles.dat: principal angles between each per-source map and the tracked basis */
static int write_angles(const an_ctx *c, table *t, long angle_rank)
{
    AN_VARS;
    char lab[8];
    outbuf *ob = c->ob;
    table_meta(t,
               "principal angles (radians, ascending) between the top-k left singular subspace of M_P and "
               "span(u_1..u_k) of the tracked basis; k = %d (or fewer when M_P has lower dimension)",
               angle_rank > 0 && angle_rank < r ? (int)angle_rank : r);
    table_columns(t, "step source index angle");
    ob->f = table_stream(t);
    for (int k = 0; k < ns; k++)
        for (int p = 0; p < S; p++) {
            src_label(lab, p, S);
            for (int i = 0; i < res->k_angle[p]; i++) { /* "%ld %c %d %.17g" */
                ob_row(ob);
                ob_long(ob, run->step[k]);
                ob_str(ob, lab);
                ob_ilong(ob, i);
                ob_g(ob, res->angle[((size_t)k * S + p) * res->angle_stride + i]);
                ob_nl(ob);
            }
        }
    ob_flush(ob);
    return an_close(c, t);
}

/* the header lines of rsv.dat (tr) and rsv_hist.dat (th): the sign convention and where SV_a, SV_b
 * come from (the closed form on the hidden maps, or the engine's estimates) */
static void rsv_meta(const an_ctx *c, table *tr, table *th, int from_hidden, int conditional, int nh)
{
    const snap_run *run = c->run;
    const snap_meta *m = &run->meta;
    int S = m->n_src;
    const char *sign =
        "RSV = (SV_b - SV_a)/(SV_a + SV_b) (official [C1] convention): -1 = unit driven only "
        "by source a, +1 = only by source b, 0 = both equally; nan = dead unit (SV_a+SV_b = 0)";
    const char *cov = conditional ? "conditional: Schur complements of sxx, Var(z | other source)"
                      : run->sxx  ? (m->layout == SNAP_SHARED ? "marginal: the shared input covariance sxx"
                                                              : "marginal: diagonal blocks of sxx")
                                  : "identity: white inputs";
    const char *more = S > 2 ? "; sources a and b only" : "";
    table *both[2] = {tr, th};
    for (int i = 0; i < 2; i++) {
        common_meta(both[i], c->run, c->res, c->run_dir);
        table_meta(both[i], "%s", sign);
        if (from_hidden)
            table_meta(both[i],
                       "closed form for the linear map to hidden layer %d: SV_P = h_P,i^T C_P h_P,i with "
                       "C_P the source covariance (%s), exact, no sampling%s",
                       m->hidden_layer, cov, more);
        else
            table_meta(both[i],
                       "SV_a, SV_b estimated by the engine (%s, snap/sv_a.npy, sv_b.npy; official sampled "
                       "estimator), %d unit samples; steps without an estimate are skipped",
                       run->engine, nh);
    }
    table_meta(th, "histogram: edges numpy.linspace(-1.15, 1.15, 40) = 39 bins [lo, hi) (last closed); nan "
                   "units left out");
    table_columns(tr, "step unit rsv sv_a sv_b");
    table_columns(th, "step bin lo hi count");
}

/* The input covariance blocks the closed-form RSV weighs source P's inputs with: conditional (Ca, Cb
 * from the joint covariance; two-source concat runs with snap/sxx.npy only) or marginal (the diagonal
 * blocks); *ca, *cb stay NULL for the engine's estimates. */
static int rsv_covariances(const snap_run *run, int S, int from_hidden, int conditional, double *Ca,
                           double *Cb, const double **ca, const double **cb)
{
    const snap_meta *m = &run->meta;
    if (from_hidden && conditional) {
        if (!(m->layout == SNAP_CONCAT && S == 2 && run->sxx))
            return util_seterr(CS_EUSAGE,
                               "--rsv-variance conditional needs a two-source concat run with an input "
                               "covariance (snap/sxx.npy); use marginal");
        int rc = rsv_conditional_cov(m->n_in[0], m->n_in[1], run->sxx, Ca, Cb);
        if (rc != CS_OK) return rc;
        *ca = Ca;
        *cb = Cb;
    } else if (from_hidden) {
        *ca = cov_block(run, 0, Ca);
        *cb = cov_block(run, 1, Cb);
    }
    return CS_OK;
}

/* The per-unit source variances and RSV of snapshot k: closed form from the hidden maps, or the engine's
 * estimates.  Returns 0 when the engine has no estimate at that snapshot (all NaN). */
static int rsv_at(const snap_run *run, int k, int nh, int from_hidden, const double *ca, const double *cb,
                  double *rsv, double *sva, double *svb)
{
    const snap_meta *m = &run->meta;
    if (from_hidden) {
        int na = m->n_in[0], nb = m->n_in[1];
        rsv_linear(nh, na, run->hidden[0] + (size_t)k * nh * na, ca, nb, run->hidden[1] + (size_t)k * nh * nb,
                   cb, rsv, sva, svb);
        return 1;
    }
    int any = 0;
    for (int u = 0; u < nh; u++) {
        sva[u] = run->sv_src[0][(size_t)k * nh + u];
        svb[u] = run->sv_src[1][(size_t)k * nh + u];
        rsv[u] = rsv_value(sva[u], svb[u]);
        any |= !isnan(sva[u]) || !isnan(svb[u]);
    }
    return any;
}

/* one snapshot's rows: rsv.dat "%ld %d %.17g %.17g %.17g" per unit, rsv_hist.dat "%ld %d %.17g %.17g %ld"
 * per bin */
static void rsv_rows(outbuf *ob, outbuf *oh, long step, int nh, const double *rsv, const double *sva,
                     const double *svb, const double *edges, long *counts)
{
    for (int u = 0; u < nh; u++) {
        ob_row(ob);
        ob_long(ob, step);
        ob_ilong(ob, u);
        ob_g(ob, rsv[u]);
        ob_g(ob, sva[u]);
        ob_g(ob, svb[u]);
        ob_nl(ob);
    }
    rsv_hist((size_t)nh, rsv, counts);
    for (int b = 0; b < RSV_NBINS; b++) {
        ob_row(oh);
        ob_long(oh, step);
        ob_ilong(oh, b);
        ob_g(oh, edges[b]);
        ob_g(oh, edges[b + 1]);
        ob_ilong(oh, counts[b]);
        ob_nl(oh);
    }
}

/* rsv.dat and rsv_hist.dat, when the run has hidden maps (closed form) or the engine's estimates; rs
 * receives what summary.dat repeats.  *closed: the tables were published (rc is theirs). */
static int write_rsv(const an_ctx *c, const char *mark, int rsv_var, rsv_summary *rs, int *closed)
{
    AN_VARS;
    const snap_meta *m = &run->meta;
    outbuf *ob = c->ob;
    /* source of the per-unit variances: hidden maps (closed form, exact) or the engine's estimates */
    int from_hidden = m->n_hidden > 0 && S >= 2,
        from_engine = !from_hidden && m->n_units > 0 && run->sv_src[0];
    rs->have = from_hidden || from_engine;
    int nh = rs->nh = from_hidden   ? m->n_hidden
                      : from_engine ? m->n_units
                                    : 0; /* units the RSV is computed for */
    if (!rs->have) return CS_OK;
    int na = m->n_in[0], nb = m->n_in[1];
    int conditional = rsv_var == 1 && from_hidden;
    double *Ca = util_malloc((size_t)na * na * sizeof *Ca), *Cb = util_malloc((size_t)nb * nb * sizeof *Cb);
    double *rsv = util_malloc((size_t)nh * sizeof *rsv), *sva = util_malloc((size_t)nh * sizeof *sva),
           *svb = util_malloc((size_t)nh * sizeof *svb);
    const double *ca = NULL, *cb = NULL;
    table *tr = NULL, *th = NULL;
    int rc = rsv_covariances(run, S, from_hidden, conditional, Ca, Cb, &ca, &cb);
    if (rc == CS_OK) {
        tr = table_open(c->out, "rsv.dat", c->prov);
        th = tr ? table_open(c->out, "rsv_hist.dat", c->prov) : NULL;
        if (!tr || !th) {
            table_discard(tr);
            rc = CS_EUSAGE;
        }
    }
    if (rc == CS_OK) {
        rsv_meta(c, tr, th, from_hidden, conditional, nh);
        double edges[RSV_NEDGES];
        rsv_hist_edges(edges);
        long counts[RSV_NBINS];
        outbuf *oh = util_malloc(sizeof *oh);
        ob->f = table_stream(tr);
        oh->f = table_stream(th);
        oh->n = 0;
        for (int k = 0; k < ns; k++) {
            if (!mark[k] || !rsv_at(run, k, nh, from_hidden, ca, cb, rsv, sva, svb)) continue;
            rsv_rows(ob, oh, run->step[k], nh, rsv, sva, svb, edges, counts);
            rsv_count((size_t)nh, rsv, &rs->n_fused, &rs->n_single, &rs->n_dead);
            rs->last_step = run->step[k];
        }
        ob_flush(ob);
        ob_flush(oh);
        free(oh);
        int rc1 = an_close(c, tr), rc2 = an_close(c, th);
        *closed = 1;
        rc = rc1 != CS_OK ? rc1 : rc2;
    }
    free(Ca);
    free(Cb);
    free(rsv);
    free(sva);
    free(svb);
    return rc;
}

/* summary.dat: final values, half steps, the RSV counts */
static int write_summary(const an_ctx *c, table *t, double t0, const rsv_summary *rs)
{
    AN_VARS;
    table_meta(
        t, "final values at the last analysed step; half_step_mM = first step (linear interpolation between "
           "recorded steps) at which K_total of mode M reaches half its final value; half_step_P_mM the same "
           "for K_P alone (nan when its final value is 0)");
    table_meta(t, "n_fused: units with |RSV| < 0.5, n_single: |RSV| > 0.8, at rsv_step (the last RSV step); "
                  "n_dead: RSV undefined");
    table_meta(t, "wall time: %.3f s", util_now() - t0);
    table_columns(t, "key value");
    double *kser = util_malloc((size_t)(ns > 0 ? ns : 1) * sizeof *kser);
    table_row(t, "n_snap %d", ns);
    table_row(t, "final_step %ld", ns > 0 ? run->step[ns - 1] : -1L);
    table_row(t, "n_modes %d", r);
    for (int a = 0; a < r; a++) {
        size_t kl = (size_t)(ns > 0 ? ns - 1 : 0);
        double tot = 0.0;
        table_row(t, "share_b_m%d %.17g", a, ns > 0 ? res->share[kl * r + a] : NAN);
        table_row(t, "inhibition_m%d %.17g", a, ns > 0 ? res->inhib[kl * r + a] : NAN);
        for (int p = 0; p < S; p++) {
            double K = ns > 0 ? res->K[(kl * S + p) * r + a] : NAN;
            tot += K;
            table_row(t, "K_%c_m%d %.17g", snap_src_name(p), a, K);
        }
        table_row(t, "K_total_m%d %.17g", a, tot);
        table_row(t, "half_step_m%d %.17g", a, res->half_step[a]);
        for (int p = 0; p < S; p++) {
            for (int k = 0; k < ns; k++)
                kser[k] = res->K[((size_t)k * S + p) * r + a];
            table_row(t, "half_step_%c_m%d %.17g", snap_src_name(p), a,
                      analyze_half_step(ns, run->step, kser));
        }
    }
    table_row(t, "n_blocks %d", res->n_blk);
    for (int b = 0; b < res->n_blk; b++) { /* degenerate blocks only: a block of one mode is its mode */
        int a0 = res->blk_first[b], a1 = res->blk_first[b + 1];
        if (a1 - a0 < 2) continue;
        size_t kl = (size_t)(ns > 0 ? ns - 1 : 0);
        double tot = 0.0;
        table_row(t, "share_b_m%d_%d %.17g", a0, a1 - 1, ns > 0 ? res->blk_share[kl * res->n_blk + b] : NAN);
        for (int p = 0; p < S; p++) {
            double K = 0.0;
            for (int a = a0; a < a1; a++)
                K += ns > 0 ? res->K[(kl * S + p) * r + a] : NAN;
            tot += K;
            table_row(t, "K_%c_m%d_%d %.17g", snap_src_name(p), a0, a1 - 1, K);
        }
        table_row(t, "K_total_m%d_%d %.17g", a0, a1 - 1, tot);
    }
    if (rs->have) {
        table_row(t, "rsv_step %ld", rs->last_step);
        table_row(t, "n_units %d", rs->nh);
        table_row(t, "n_fused %ld", rs->n_fused);
        table_row(t, "n_single %ld", rs->n_single);
        table_row(t, "n_dead %ld", rs->n_dead);
    }
    return an_close(c, t);
}

static int run_analyze(const opts *o)
{
    double t0 = util_now();
    const char *run_dir = opts_str(o, "run");
    if (!run_dir || !run_dir[0])
        return util_seterr(CS_EUSAGE, "--run RUN_DIR is required (a folder written by critsim flow or cnn)");
    const char *out = opts_str(o, "out");
    if (!out || !out[0]) out = run_dir;
    long angle_rank;
    int rc = opts_long(o, "angle-rank", &angle_rank);
    if (rc != CS_OK) return rc;
    int rsv_var = 0;
    rc = opts_choice(o, "rsv-variance", "marginal|conditional", &rsv_var);
    if (rc != CS_OK) return rc;

    if ((rc = pub_check_unmarked(run_dir, "run folder")) != CS_OK) return rc;
    snap_run run;
    rc = snap_load(run_dir, &run);
    if (rc != CS_OK) return rc;
    analyze_result res;
    rc = analyze_run(&run, (int)angle_rank, &res);
    if (rc != CS_OK) {
        snap_free(&run);
        return rc;
    }
    int ns = res.n_snap;
    int failed = ns < res.n_total;
    long fail_step = failed ? run.step[ns] : 0;
    char fail_why[256];
    snprintf(fail_why, sizeof fail_why, "non-finite per-source map in the snapshot at step %ld", fail_step);
    char *mark = util_calloc((size_t)run.n_snap + 1, 1);
    outbuf *ob = util_calloc(1, sizeof *ob);
    an_ctx c = {opts_prov(o), out, run_dir, &run, &res, ob, failed, fail_step, fail_why};
    rsv_summary rs = {0};
    rs.last_step = -1;
    table *t;
    int closed = 0;
    rc = rsv_select(o, &run, ns, mark);
    if (rc != CS_OK) goto done;
    /* a table that cannot be opened ends the run; one that fails to publish only when the run did not fail */
    if (!(t = an_open(&c, "svd.dat"))) goto io;
    if ((rc = write_svd(&c, t)) != CS_OK && !failed) goto done;
    if (!(t = an_open(&c, "share.dat"))) goto io;
    if ((rc = write_share(&c, t)) != CS_OK && !failed) goto done;
    if (!(t = an_open(&c, "share_blocks.dat"))) goto io;
    if ((rc = write_share_blocks(&c, t)) != CS_OK && !failed) goto done;
    if (!(t = an_open(&c, "angles.dat"))) goto io;
    if ((rc = write_angles(&c, t, angle_rank)) != CS_OK && !failed) goto done;
    rc = write_rsv(&c, mark, rsv_var, &rs, &closed);
    if (rc != CS_OK && (!closed || !failed)) goto done;
    if (!(t = an_open(&c, "summary.dat"))) goto io;
    rc = write_summary(&c, t, t0, &rs);
    if (rc == CS_EFAIL) util_seterr(CS_EFAIL, "%s; tables written up to the step before", fail_why);
    goto done;
io:
    rc = CS_EUSAGE;
done:
    free(ob);
    free(mark);
    analyze_result_free(&res);
    snap_free(&run);
    return rc;
}

const cmd_def cmd_analyze = {
    "analyze",
    "per-source singular values, tracked mode shares, inhibition and RSV of a run's snapshots",
    "examples:\n  critsim analyze runs/fig2                  # writes svd.dat share.dat share_blocks.dat "
    "angles.dat "
    "summary.dat "
    "(+ rsv.dat rsv_hist.dat)\n  critsim analyze runs/fig2 --rsv-steps 0,150,last\n",
    specs,
    run_analyze,
    "run"};
