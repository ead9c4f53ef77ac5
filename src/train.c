/* train.c - epochs of SGD on a cnn, evaluation with re-estimated batch-norm statistics, the
 * per-epoch table and checkpoints (see include/train.h).
 *
 * Mathematics: PyTorch SGD (g = grad + wd w; m = mu m + g; w -= lr_e m) with lr_e of epoch e from
 * the schedule (train.h: decay lr0 decay^e; restart lr0 decay^(e - R) from epoch R on; cyclic
 * lr0 (1 + cos(pi (e mod N) / N)) / 2); train_loss is the mean of the training-mode batch losses of
 * the epoch (batch statistics, deficits and augmentation active), test figures use clean test
 * images and running statistics re-estimated on the epoch's first bn_batches training batches taken
 * without the epoch's deficits (src->clean), so that the statistics match the clean test inputs.
 * Non-goals: early stopping, validation splits, mid-epoch resumption (a run killed mid-epoch
 * restarts that epoch from the last checkpoint, which gives the same result).
 */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "linalg.h"
#include "publish.h"
#include "snap.h"
#include "table.h"
#include "util.h"

#define CKPT_MAGIC   "CSCNNCKP"
#define CKPT_VERSION 2u /* 2: per-source test figures in the history, Fisher rows; version 1 is read */

/* Rows of fisher.dat (epoch, total, one value per layer), kept in memory and in the checkpoints. */
typedef struct {
    int rows, cols, cap;
    double *v; /* (rows x cols) */
} fisher_rows;

static void fisher_push(fisher_rows *f, const double *row)
{
    if (f->rows == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->v = realloc(f->v, sizeof(double) * (size_t)f->cap * f->cols);
        if (!f->v) util_malloc((size_t)-1);
    }
    memcpy(f->v + (size_t)f->rows++ * f->cols, row, sizeof(double) * f->cols);
}

/* ---- checkpoints ------------------------------------------------------------------------------------ */

typedef struct {
    FILE *f;
    uint64_t h;
    int err;
} ckio;

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ c[i]) * 0x100000001b3ull;
}
static void put(ckio *io, const void *p, size_t n)
{
    if (fwrite(p, 1, n, io->f) != n) io->err = 1;
    fnv(&io->h, p, n);
}
static void get(ckio *io, void *p, size_t n)
{
    if (io->err || fread(p, 1, n, io->f) != n) {
        io->err = 1;
        memset(p, 0, n);
        return;
    }
    fnv(&io->h, p, n);
}

/* The architecture fields that must match on load (batch and threads may differ). */
static void arch_words(const cnn *net, int32_t w[10])
{
    const cnn_cfg *c = &net->cfg;
    int32_t v[10] = {c->arch,    c->in_c,  c->in_h,  c->in_w,       c->n_src,
                     c->n_class, c->width, c->depth, c->fuse_after, c->fusion};
    if (c->arch != CNN_SPLIT) v[4] = v[8] = v[9] = 0;
    memcpy(w, v, sizeof v);
}

static int ckpt_save(const cnn *net, const char *path, uint64_t seed, int done, const train_epoch *hist,
                     const fisher_rows *fr)
{
    pub *pb = pub_open(path, PUB_SYNC);
    if (!pb) return CS_EUSAGE;
    ckio io = {pub_stream(pb), 0xcbf29ce484222325ull, 0};
    uint32_t ver = CKPT_VERSION;
    int32_t aw[10], d32 = done;
    int64_t np = net->n_param, ns = net->n_state;
    arch_words(net, aw);
    put(&io, CKPT_MAGIC, 8);
    put(&io, &ver, sizeof ver);
    put(&io, aw, sizeof aw);
    put(&io, &seed, sizeof seed);
    put(&io, &d32, sizeof d32);
    put(&io, &np, sizeof np);
    put(&io, &ns, sizeof ns);
    put(&io, net->param, sizeof(float) * np);
    put(&io, net->mom, sizeof(float) * np);
    put(&io, net->bn_state, sizeof(float) * ns);
    put(&io, hist, sizeof(train_epoch) * done);
    int32_t fdim[2] = {fr ? fr->rows : 0, fr ? fr->cols : 0};
    put(&io, fdim, sizeof fdim);
    if (fdim[0] > 0) put(&io, fr->v, sizeof(double) * (size_t)fdim[0] * fdim[1]);
    uint64_t h = io.h;
    put(&io, &h, sizeof h);
    if (io.err) {
        pub_abort(pb);
        return util_seterr(CS_EUSAGE, "cannot write checkpoint '%s' (disk full?)", path);
    }
    return pub_commit(pb); /* fsync'ed: a resumed run reads it back */
}

int train_save(const cnn *net, const char *path, uint64_t seed, int done, const train_epoch *hist)
{
    return ckpt_save(net, path, seed, done, hist, NULL);
}

static int ckpt_load(cnn *net, const char *path, uint64_t *seed, int *done, train_epoch *hist, int max_hist,
                     int weights_only, fisher_rows *fr)
{
    ckio io = {fopen(path, "rb"), 0xcbf29ce484222325ull, 0};
    if (!io.f) return util_seterr(CS_EUSAGE, "cannot open checkpoint '%s': %s", path, strerror(errno));
    char magic[8];
    uint32_t ver;
    int32_t aw[10], want[10], d32;
    int64_t np, ns;
    uint64_t sd, h, hfile;
    int rc = CS_OK;
    get(&io, magic, 8);
    if (io.err || memcmp(magic, CKPT_MAGIC, 8)) {
        rc = util_seterr(CS_EUSAGE, "'%s' is not a critsim cnn checkpoint (bad magic number)", path);
        goto out;
    }
    get(&io, &ver, sizeof ver);
    if (ver != CKPT_VERSION && ver != 1u) {
        rc = util_seterr(CS_EUSAGE, "checkpoint '%s' has version %u; this critsim reads versions 1 and %u",
                         path, ver, CKPT_VERSION);
        goto out;
    }
    get(&io, aw, sizeof aw);
    get(&io, &sd, sizeof sd);
    get(&io, &d32, sizeof d32);
    get(&io, &np, sizeof np);
    get(&io, &ns, sizeof ns);
    arch_words(net, want);
    if (io.err || memcmp(aw, want, sizeof aw) || np != net->n_param || ns != net->n_state) {
        rc = util_seterr(CS_EUSAGE,
                         "checkpoint '%s' was written by a different network (arch/data/width/depth/fusion "
                         "differ); use the options of the run that wrote it",
                         path);
        goto out;
    }
    if (d32 < 0 || d32 > 1000000) {
        rc = util_seterr(CS_EUSAGE, "checkpoint '%s' is corrupted (epochs %d)", path, d32);
        goto out;
    }
    float *mom = util_malloc(sizeof(float) * (np ? np : 1));
    float *par = util_malloc(sizeof(float) * (np ? np : 1));
    float *st = util_malloc(sizeof(float) * (ns ? ns : 1));
    train_epoch *hh = util_malloc(sizeof(train_epoch) * (d32 ? d32 : 1));
    get(&io, par, sizeof(float) * np);
    get(&io, mom, sizeof(float) * np);
    get(&io, st, sizeof(float) * ns);
    int32_t fdim[2] = {0, 0};
    double *fv = NULL;
    if (ver == 1u) /* six figures per epoch */
        for (int e = 0; e < d32; e++) {
            double r6[6];
            get(&io, r6, sizeof r6);
            hh[e] = (train_epoch){r6[0], r6[1], r6[2], r6[3], r6[4], r6[5], {NAN, NAN}, {NAN, NAN}};
        }
    else {
        get(&io, hh, sizeof(train_epoch) * d32);
        get(&io, fdim, sizeof fdim);
        if (fdim[0] < 0 || fdim[1] < 0 || fdim[0] > 1000000 || fdim[1] > 4096)
            io.err = 1, fdim[0] = fdim[1] = 0;
        fv = util_malloc(sizeof(double) * ((size_t)fdim[0] * fdim[1] + 1));
        get(&io, fv, sizeof(double) * (size_t)fdim[0] * fdim[1]);
    }
    h = io.h;
    get(&io, &hfile, sizeof hfile);
    if (io.err || h != hfile || fgetc(io.f) != EOF) {
        rc = util_seterr(CS_EUSAGE, "checkpoint '%s' is truncated or corrupted (checksum mismatch)", path);
    } else {
        memcpy(net->param, par, sizeof(float) * np);
        memcpy(net->bn_state, st, sizeof(float) * ns);
        if (weights_only)
            memset(net->mom, 0, sizeof(float) * np);
        else
            memcpy(net->mom, mom, sizeof(float) * np);
        if (seed) *seed = sd;
        if (done) *done = d32;
        if (hist) memcpy(hist, hh, sizeof(train_epoch) * (d32 < max_hist ? d32 : max_hist));
        if (fr) {
            fr->rows = 0;
            for (int r = 0; r < fdim[0] && fdim[1] == fr->cols; r++)
                fisher_push(fr, fv + (size_t)r * fdim[1]);
        }
    }
    free(mom), free(par), free(st), free(hh), free(fv);
out:
    fclose(io.f);
    return rc;
}

int train_load(cnn *net, const char *path, uint64_t *seed, int *done, train_epoch *hist, int max_hist,
               int weights_only)
{
    return ckpt_load(net, path, seed, done, hist, max_hist, weights_only, NULL);
}

/* ---- evaluation ---------------------------------------------------------------------------------------- */

void train_evaluate(cnn *net, const train_source *src, float *x, int *y, double *loss, double *acc)
{
    int B = net->cfg.batch;
    double sl = 0;
    long hits = 0;
    for (int first = 0; first < src->n_test; first += B) {
        int nb = src->n_test - first < B ? src->n_test - first : B, c;
        src->test(src->ctx, first, nb, x, y);
        cnn_forward(net, x, nb, CNN_EVAL);
        sl += cnn_loss(net, y, &c, 0) * nb;
        hits += c;
    }
    *loss = src->n_test ? sl / src->n_test : NAN;
    *acc = src->n_test ? (double)hits / src->n_test : NAN;
}

/* Test set with only source P (the other channel group zeroed, i.e. the mean colour). */
static void evaluate_source(cnn *net, const train_source *src, float *x, int *y, int P, double *loss,
                            double *acc)
{
    int B = net->cfg.batch, nin = net->cfg.in_c * net->cfg.in_h * net->cfg.in_w, half = nin / 2;
    double sl = 0;
    long hits = 0;
    for (int first = 0; first < src->n_test; first += B) {
        int nb = src->n_test - first < B ? src->n_test - first : B, c;
        src->test(src->ctx, first, nb, x, y);
        for (int i = 0; i < nb; i++)
            memset(x + (size_t)i * nin + (P ? 0 : half), 0, sizeof(float) * half);
        cnn_forward(net, x, nb, CNN_EVAL);
        sl += cnn_loss(net, y, &c, 0) * nb;
        hits += c;
    }
    *loss = src->n_test ? sl / src->n_test : NAN;
    *acc = src->n_test ? (double)hits / src->n_test : NAN;
}

/* The official dry run: running statistics := average over the first nre training batches of epoch e,
 * without the deficits of epoch e (src->clean; NULL: the training batches themselves). */
static void reestimate(cnn *net, const train_cfg *cfg, const train_source *src, int nbatch, float *x, int *y)
{
    int nre = cfg->bn_batches > 0 && cfg->bn_batches < nbatch ? cfg->bn_batches : nbatch;
    void (*batch)(void *, int, float *, int *) = src->clean ? src->clean : src->batch;
    cnn_bn_reset(net);
    for (int b = 0; b < nre; b++) {
        batch(src->ctx, b, x, y);
        cnn_forward(net, x, net->cfg.batch, CNN_REESTIMATE);
    }
}

/* ---- measurements: snapshots, RSV, Fisher -------------------------------------------------------------- */

typedef struct {
    const train_meas *m;
    cnnp *p;
    float *probe, *fx; /* probe and Fisher images */
    int nin, n_src, first, epochs;
    long spe; /* SGD updates per epoch */
    snap_writer *sw;
    double *J, *maps[2], *tot, *U, *s, *V, *sva, *svb;
    int n_in[2], nin_tot, rank, slots, n_class;
    long units;
    fisher_rows fr;
    int nfl, *fl;
    double t_snap, t_fisher;
} meas;

static int is_snap(const meas *ms, int e)
{
    const train_meas *m = ms->m;
    if (m->snap_every <= 0 || e < ms->first || e > ms->epochs) return 0;
    if (e == ms->first || e == ms->epochs || e % m->snap_every == 0) return 1;
    for (int i = 0; i < m->n_extra; i++)
        if (m->extra[i] == e) return 1;
    return 0;
}
static int is_fisher(const meas *ms, int e)
{
    return ms->m->fisher_every > 0 && e >= ms->first && e <= ms->epochs && e % ms->m->fisher_every == 0;
}
static int ref_epoch(const meas *ms)
{
    return ms->m->snap_ref >= 0 ? ms->m->snap_ref : ms->epochs;
}

/* U, s, V of the total map [M_a M_b] (ms->maps) of the snapshot at epoch e, carried by the snapshots. */
static int set_svd(meas *ms, int e)
{
    int K = ms->n_class, nt = ms->nin_tot;
    for (int k = 0; k < K; k++)
        for (int P = 0, off = 0; P < ms->n_src; off += ms->n_in[P], P++)
            memcpy(ms->tot + (size_t)k * nt + off, ms->maps[P] + (size_t)k * ms->n_in[P],
                   sizeof(double) * ms->n_in[P]);
    int rc = linalg_svd(K, nt, ms->tot, ms->U, ms->s, ms->V);
    if (rc != CS_OK) return rc;
    char note[240];
    snprintf(note, sizeof note,
             "U, s, V = SVD of the total map [M_a M_b ...] at epoch %d (step %ld), the reference epoch "
             "(set by the run; by default the last snapshot)",
             e, e * ms->spe);
    return snap_set_svd(ms->sw, ms->rank, ms->U, ms->s, ms->V, note);
}

static int snap_take(meas *ms, cnn *net, int e, char *why, size_t nwhy)
{
    double t0 = util_now();
    const train_meas *m = ms->m;
    if (cnnp_jacobian(ms->p, net, ms->probe, m->n_probe, ms->J) != CS_OK) {
        snprintf(why, nwhy, "%s at epoch %d", util_errmsg(), e);
        return CS_EFAIL;
    }
    for (int P = 0; P < ms->n_src; P++)
        cnnp_source_map(net, &m->srcs, P, ms->J, ms->maps[P]);
    const double *mp[2] = {ms->maps[0], ms->maps[1]};
    int rc = snap_add(ms->sw, e * ms->spe, e, mp, NULL);
    if (rc == CS_OK && ms->units > 0) {
        cnnp_rsv(ms->p, net, m->rsv_layer, ms->probe, m->rsv_batches, ms->slots, ms->sva, ms->svb);
        for (long u = 0; u < ms->units; u++)
            if (!isfinite(ms->sva[u]) || !isfinite(ms->svb[u])) {
                snprintf(why, nwhy, "non-finite source variance (RSV) at epoch %d", e);
                return CS_EFAIL;
            }
        rc = snap_add_sv(ms->sw, ms->sva, ms->svb);
    }
    if (rc == CS_OK && e <= ref_epoch(ms)) rc = set_svd(ms, e);
    if (rc == CS_EFAIL) snprintf(why, nwhy, "%s at epoch %d", util_errmsg(), e);
    ms->t_snap += util_now() - t0;
    return rc;
}

static int fisher_take(meas *ms, cnn *net, uint64_t seed, int e, char *why, size_t nwhy)
{
    double t0 = util_now(), *row = util_malloc(sizeof(double) * (ms->nfl + 2));
    row[0] = e;
    int rc = cnnp_fisher(ms->p, net, ms->fx, ms->m->n_fisher, seed * 0x100000001b3ull + (uint64_t)e + 1, 0,
                         row + 2, &row[1]);
    if (rc == CS_OK)
        fisher_push(&ms->fr, row);
    else
        snprintf(why, nwhy, "%s at epoch %d", util_errmsg(), e);
    free(row);
    ms->t_fisher += util_now() - t0;
    return rc;
}

static int write_fisher(const train_cfg *cfg, const table_prov *prov, const cnn *net, const meas *ms,
                        long fail_step, const char *fail)
{
    table *t = table_open(cfg->out, "fisher.dat", prov);
    if (!t) return CS_EUSAGE;
    table_meta(t,
               "Fisher information trace, Monte-Carlo estimator of Achille, Rovere & Soatto (ICLR 2019): "
               "(1/N) sum_n |grad_w log p(yhat_n | x_n)|^2 with one label yhat_n per image drawn from the "
               "model's softmax; N = %d test images, batch norm in evaluation mode (re-estimated statistics)",
               ms->m->n_fisher);
    table_meta(t,
               "columns L1 ... L%d: the same sum over one layer's weights (convolutions and the linear "
               "layer's weight matrix; batch-norm parameters and the bias excluded); total = their sum",
               ms->nfl);
    char *buf = NULL, *cols = NULL;
    size_t nb = 0, nc = 0;
    FILE *f = open_memstream(&buf, &nb), *fc = open_memstream(&cols, &nc);
    fprintf(fc, "epoch total");
    for (int l = 0; l < ms->nfl; l++) {
        fprintf(f, "%sL%d = %s", l ? ", " : "", l + 1, net->layer[ms->fl[l]].name);
        fprintf(fc, " L%d", l + 1);
    }
    fclose(f), fclose(fc);
    table_meta(t, "layers: %s", buf);
    table_columns(t, cols);
    free(buf), free(cols);
    for (int r = 0; r < ms->fr.rows; r++) {
        const double *v = ms->fr.v + (size_t)r * ms->fr.cols;
        FILE *s = table_stream(t);
        fprintf(s, "%d", (int)v[0]);
        for (int c = 1; c < ms->fr.cols; c++)
            fprintf(s, " %.9g", v[c]);
        fputc('\n', s);
    }
    if (fail) return table_fail(t, fail_step, fail);
    return table_close(t);
}

static void meas_free(meas *ms)
{
    snap_close(ms->sw);
    cnnp_free(ms->p);
    free(ms->probe), free(ms->fx), free(ms->J), free(ms->maps[0]), free(ms->maps[1]), free(ms->tot);
    free(ms->U), free(ms->s), free(ms->V), free(ms->sva), free(ms->svb), free(ms->fr.v), free(ms->fl);
}

/* Probe and Fisher images, the snapshot writer (resuming it when done > first: the snapshots of epochs
 * <= done are kept, the reference SVD is recomputed from the kept slices). */
static int meas_open(meas *ms, cnn *net, const train_cfg *cfg, const train_source *src, int first, int done,
                     long spe)
{
    const train_meas *m = &cfg->meas;
    memset(ms, 0, sizeof *ms);
    ms->m = m, ms->first = first, ms->epochs = cfg->epochs, ms->spe = spe;
    ms->nin = net->cfg.in_c * net->cfg.in_h * net->cfg.in_w;
    ms->n_class = net->cfg.n_class;
    ms->nfl = cnnp_fisher_layers(net, NULL);
    ms->fl = util_malloc(sizeof(int) * net->n_layer);
    cnnp_fisher_layers(net, ms->fl);
    ms->fr.cols = ms->nfl + 2;
    if (m->snap_every <= 0 && m->fisher_every <= 0) return CS_OK;
    ms->p = cnnp_alloc(net);
    int nmax = m->n_probe > m->n_fisher ? m->n_probe : m->n_fisher, B = net->cfg.batch;
    int *y = util_malloc(sizeof(int) * (nmax > B ? nmax : B));
    for (int which = 0; which < 2; which++) {
        int n = which ? m->n_fisher : m->n_probe, on = which ? m->fisher_every > 0 : m->snap_every > 0;
        if (!on || n <= 0) continue;
        float *x = util_malloc(sizeof(float) * (size_t)n * ms->nin);
        for (int f0 = 0; f0 < n; f0 += B)
            src->test(src->ctx, f0, n - f0 < B ? n - f0 : B, x + (size_t)f0 * ms->nin, y);
        if (which)
            ms->fx = x;
        else
            ms->probe = x;
    }
    free(y);
    if (m->snap_every <= 0) return CS_OK;
    if (m->snap_ref >= 0 && !is_snap(ms, m->snap_ref))
        return util_seterr(
            CS_EUSAGE,
            "train_meas.snap_ref %d is not a snapshot epoch (snapshots at epoch %d, every multiple of "
            "train_meas.snap_every %d, the deficit boundaries and epoch %d)",
            m->snap_ref, first, m->snap_every, cfg->epochs);
    snap_meta sm = {.engine = "cnn", .n_src = m->srcs.n_src, .layout = SNAP_CONCAT, .n_out = ms->n_class};
    ms->n_src = m->srcs.n_src;
    for (int P = 0; P < ms->n_src; P++) {
        sm.n_in[P] = ms->n_in[P] = cnnp_source_pixels(net, &m->srcs, P);
        ms->nin_tot += ms->n_in[P];
        ms->maps[P] = util_malloc(sizeof(double) * ms->n_class * ms->n_in[P]);
    }
    if (ms->n_src == 2 && m->rsv_layer >= 0) {
        ms->slots = m->n_probe / m->rsv_batches;
        ms->units = cnnp_rsv_units(net, m->rsv_layer, ms->slots);
        sm.n_units = (int)ms->units;
        ms->sva = util_malloc(sizeof(double) * ms->units);
        ms->svb = util_malloc(sizeof(double) * ms->units);
    }
    ms->rank = ms->n_class < ms->nin_tot ? ms->n_class : ms->nin_tot;
    ms->J = util_malloc(sizeof(double) * ms->n_class * ms->nin);
    ms->tot = util_malloc(sizeof(double) * ms->n_class * ms->nin_tot);
    ms->U = util_malloc(sizeof(double) * ms->n_class * ms->rank);
    ms->s = util_malloc(sizeof(double) * ms->rank);
    ms->V = util_malloc(sizeof(double) * ms->nin_tot * ms->rank);
    int nk = 0, kref = -1;
    long *ks = util_malloc(sizeof(long) * (cfg->epochs + 2));
    double *kt = util_malloc(sizeof(double) * (cfg->epochs + 2));
    for (int e = first; done > first && e <= done; e++)
        if (is_snap(ms, e)) {
            if (e <= ref_epoch(ms)) kref = nk;
            ks[nk] = e * spe, kt[nk++] = e;
        }
    int rc = CS_OK;
    if (!(ms->sw = snap_open_stream(cfg->out, &sm, nk, ks, kt))) rc = CS_EUSAGE;
    if (rc == CS_OK) {
        char note[256];
        snprintf(note, sizeof note,
                 "probe: the first %d test images (clean); map_P = Jacobian of the logits w.r.t. source P's "
                 "own pixels (channel, row, column), averaged over the probe, batch norm in evaluation mode",
                 m->n_probe);
        snap_add_note(ms->sw, note);
        if (ms->units > 0) {
            const cnn_tensor *T = &net->t[net->layer[m->rsv_layer].out];
            snprintf(
                note, sizeof note,
                "rsv: output of layer %s; units = %d slots x %d channels x %dx%d positions (slot-major); "
                "%d probe batches of %d images, the official sampled estimator",
                net->layer[m->rsv_layer].name, ms->slots, T->c, T->h, T->w, m->rsv_batches, ms->slots);
            snap_add_note(ms->sw, note);
        }
    }
    if (rc == CS_OK && kref >= 0) { /* the reference SVD as the uninterrupted run left it */
        for (int P = 0; rc == CS_OK && P < ms->n_src; P++)
            rc = snap_read_map(ms->sw, kref, P, ms->maps[P]);
        if (rc == CS_OK) rc = set_svd(ms, (int)kt[kref]);
    }
    free(ks), free(kt);
    return rc;
}

/* ---- schedule ------------------------------------------------------------------------------------------ */

double train_lr(const train_cfg *cfg, int e)
{
    switch (cfg->schedule) {
    case TRAIN_RESTART:
        return cfg->lr0 * pow(cfg->decay, e < cfg->restart_at ? e : e - cfg->restart_at);
    case TRAIN_CYCLIC: {
        int n = cfg->cycle > 0 ? cfg->cycle : 1;
        return cfg->lr0 * (1 + cos(3.14159265358979323846 * (double)(e % n) / n)) / 2;
    }
    default:
        return cfg->lr0 * pow(cfg->decay, e);
    }
}

/* ---- tables -------------------------------------------------------------------------------------------- */

static int write_epochs(const train_cfg *cfg, const table_prov *prov, const cnn *net, int first, int done,
                        const train_epoch *hist, long fail_step, const char *fail, const meas *ms)
{
    table *t = table_open(cfg->out, "epochs.dat", prov);
    if (!t) return CS_EUSAGE;
    const cnn_cfg *c = &net->cfg;
    int two = cfg->meas.src_eval;
    char lr[200];
    if (cfg->schedule == TRAIN_RESTART)
        snprintf(lr, sizeof lr, "lr = %g * %g^epoch before epoch %d, %g * %g^(epoch - %d) from it on",
                 cfg->lr0, cfg->decay, cfg->restart_at, cfg->lr0, cfg->decay, cfg->restart_at);
    else if (cfg->schedule == TRAIN_CYCLIC)
        snprintf(lr, sizeof lr, "lr = %g * (1 + cos(pi * (epoch mod %d) / %d)) / 2", cfg->lr0, cfg->cycle,
                 cfg->cycle);
    else
        snprintf(lr, sizeof lr, "lr = %g * %g^epoch", cfg->lr0, cfg->decay);
    table_meta(t, "method: SGD momentum %g weight decay %g, %s, batch %d, threads %d", cfg->momentum, cfg->wd,
               lr, c->batch, c->threads);
    static const char *const sched[] = {"decay", "restart", "cyclic"};
    table_meta(t, "schedule: %s (epoch in the formula = the row's epoch - 1, the epoch the lr was used in)",
               sched[cfg->schedule >= 0 && cfg->schedule <= 2 ? cfg->schedule : 0]);
    table_meta(t, "network: %s width %d depth %d%s, %ld parameters, %.4g forward multiply-adds per image",
               c->arch == CNN_FUSED ? "fused" : "split", c->width, c->depth,
               c->arch == CNN_SPLIT ? (c->fusion == CNN_FUSE_SUM ? " fusion sum" : " fusion concat") : "",
               net->n_param, net->macs);
    table_meta(t,
               "batch norm: running statistics re-estimated on %s training batches, deficits switched off "
               "(clean inputs, as the test's), before every test",
               cfg->bn_batches > 0 ? "the first few" : "all");
    if (cfg->bn_batches > 0) table_meta(t, "bn re-estimation batches: %d", cfg->bn_batches);
    if (cfg->branch && cfg->branch_exact)
        table_meta(t,
                   "branch: continued exactly from checkpoint %s (weights, momentum, batch-norm statistics, "
                   "history rows)",
                   cfg->branch);
    else if (cfg->branch)
        table_meta(t, "branch: weights and batch-norm statistics of checkpoint %s, momentum reset",
                   cfg->branch);
    if (two)
        table_meta(t, "per source: test_acc_P, test_loss_P (nats) with only source P present (the other "
                      "zeroed), batch norm in evaluation mode; info_P = log2(n_class) - test_loss_P / ln 2 "
                      "bits (usable information; log2(10) for 10 classes)");
    double wall = 0;
    for (int e = first; e < done; e++)
        wall += hist[e].seconds;
    table_meta(t, "epochs done: %d, wall time of this run's epochs: %.3f s", done, wall);
    if (ms && (ms->t_snap > 0 || ms->t_fisher > 0))
        table_meta(t, "wall time of this run's measurements: snapshots %.3f s, Fisher %.3f s", ms->t_snap,
                   ms->t_fisher);
    table_columns(t, two ? "epoch lr train_loss train_acc test_loss test_acc seconds test_acc_a test_acc_b "
                           "test_loss_a test_loss_b info_a info_b"
                         : "epoch lr train_loss train_acc test_loss test_acc seconds");
    double l2k = log2((double)c->n_class);
    for (int e = first; e < done; e++) {
        const train_epoch *h = &hist[e];
        if (two)
            table_row(t, "%d %.9g %.9g %.6f %.9g %.6f %.3f %.6f %.6f %.9g %.9g %.9g %.9g", e + 1, h->lr,
                      h->train_loss, h->train_acc, h->test_loss, h->test_acc, h->seconds, h->acc_src[0],
                      h->acc_src[1], h->loss_src[0], h->loss_src[1], l2k - h->loss_src[0] / log(2.0),
                      l2k - h->loss_src[1] / log(2.0));
        else
            table_row(t, "%d %.9g %.9g %.6f %.9g %.6f %.3f", e + 1, h->lr, h->train_loss, h->train_acc,
                      h->test_loss, h->test_acc, h->seconds);
    }
    if (fail) return table_fail(t, fail_step, fail);
    return table_close(t);
}

static void progress(int epoch, int epochs, int b, int nb, double loss)
{
    int w = 30, k = nb ? (int)((long)w * b / nb) : w;
    char bar[40];
    for (int i = 0; i < w; i++)
        bar[i] = i < k ? '=' : ' ';
    bar[w] = 0;
    fprintf(stderr, "\rcritsim cnn: epoch %d/%d [%s] %3d%% loss %.4f ", epoch + 1, epochs, bar,
            nb ? 100 * b / nb : 100, loss);
    fflush(stderr);
}

/* ---- training loop ----------------------------------------------------------------------------------- */

/* The state a run starts from: the --branch checkpoint (its weights; with branch_exact also its rows and
 * state) and then, with --resume, the run's own checkpoint ck.  *done: the epochs already done; *first:
 * the first epoch whose row this run writes (rows before a branch are NaN); fr0 receives the Fisher rows
 * of a resumed checkpoint (the caller frees fr0->v, also after an error). */
static int load_start(cnn *net, const train_cfg *cfg, const char *ck, train_epoch *hist, int *done_out,
                      int *first_out, fisher_rows *fr0)
{
    int done = 0, first = 0, rc;
    if (cfg->branch) {
        uint64_t sd = 0;
        rc = train_load(net, cfg->branch, &sd, &done, cfg->branch_exact ? hist : NULL,
                        cfg->branch_exact ? cfg->epochs : 0, !cfg->branch_exact);
        if (rc != CS_OK) return rc;
        if (done > cfg->epochs)
            return util_seterr(
                CS_EUSAGE,
                "train_cfg.branch checkpoint '%s' has %d epochs done, more than train_cfg.epochs %d",
                cfg->branch, done, cfg->epochs);
        if (cfg->branch_exact && sd != cfg->seed)
            return util_seterr(CS_EUSAGE,
                               "train_cfg.branch_exact (exact): checkpoint '%s' was written with "
                               "train_cfg.seed %llu, not %llu; "
                               "an exact continuation needs the same seed",
                               cfg->branch, (unsigned long long)sd, (unsigned long long)cfg->seed);
        if (cfg->branch_exact)
            for (first = 0; first < done && isnan(hist[first].train_loss);)
                first++; /* rows before an earlier branch */
        else {
            for (int e = 0; e < done; e++)
                hist[e] = (train_epoch){NAN, NAN, NAN, NAN, NAN, 0, {NAN, NAN}, {NAN, NAN}};
            first = done;
        }
    }
    if (cfg->resume && access(ck, R_OK) == 0) {
        uint64_t sd;
        int d;
        rc = ckpt_load(net, ck, &sd, &d, hist, cfg->epochs, 0, fr0);
        if (rc == CS_OK && sd != cfg->seed)
            rc = util_seterr(
                CS_EUSAGE,
                "checkpoint '%s' was written with train_cfg.seed %llu, not %llu; use the same seed "
                "or another train_cfg.out",
                ck, (unsigned long long)sd, (unsigned long long)cfg->seed);
        if (rc == CS_OK && d > cfg->epochs)
            rc = util_seterr(CS_EUSAGE, "checkpoint '%s' has %d epochs done, more than train_cfg.epochs %d",
                             ck, d, cfg->epochs);
        if (rc != CS_OK) return rc;
        for (first = 0; first < d && isnan(hist[first].train_loss);)
            first++; /* rows before a branch */
        done = d;
    }
    *done_out = done, *first_out = first;
    return CS_OK;
}

/* Snapshot and Fisher trace of the state training starts from (epoch `first`); at epoch 0 the running
 * statistics are re-estimated first and restored after (training never reads them, but the checkpoint
 * stores them).  CS_EFAIL with the reason in why. */
static int measure_start(meas *ms, cnn *net, const train_cfg *cfg, const train_source *src, int first,
                         float *x, int *y, char *why, size_t nwhy)
{
    float *st = util_malloc(sizeof(float) * (net->n_state + 1));
    memcpy(st, net->bn_state, sizeof(float) * net->n_state);
    if (first == 0) reestimate(net, cfg, src, src->epoch(src->ctx, 0), x, y);
    int r2 = CS_OK;
    if (is_snap(ms, first)) r2 = snap_take(ms, net, first, why, nwhy);
    if (r2 == CS_OK && is_fisher(ms, first)) r2 = fisher_take(ms, net, cfg->seed, first, why, nwhy);
    memcpy(net->bn_state, st, sizeof(float) * net->n_state);
    free(st);
    return r2;
}

/* The SGD updates of epoch e (nbatch batches, learning rate lr): *sl the summed loss times the batch,
 * *hits the correct predictions, *seen the images.  Returns NULL, or why (a non-finite loss). */
static const char *sgd_epoch(cnn *net, const train_cfg *cfg, const train_source *src, int e, int nbatch,
                             double lr, float *x, int *y, double *sl_out, long *hits_out, long *seen_out,
                             char *why, size_t nwhy)
{
    int B = net->cfg.batch;
    double sl = 0;
    long hits = 0, seen = 0;
    const char *fail = NULL;
    for (int b = 0; b < nbatch; b++) {
        src->batch(src->ctx, b, x, y);
        cnn_forward(net, x, B, CNN_TRAIN);
        int c;
        double l = cnn_loss(net, y, &c, 1);
        if (!isfinite(l)) {
            snprintf(why, nwhy, "non-finite training loss at epoch %d batch %d (lower train_cfg.lr0)", e, b);
            fail = why;
            break;
        }
        cnn_backward(net);
        cnn_sgd_step(net, lr, cfg->momentum, cfg->wd);
        sl += l * B, hits += c, seen += B;
        if (cfg->progress && (b % 4 == 0 || b == nbatch - 1))
            progress(e, cfg->epochs, b + 1, nbatch, sl / seen);
    }
    *sl_out = sl, *hits_out = hits, *seen_out = seen;
    return fail;
}

/* The row of an epoch after its updates: BN statistics re-estimated on its nbatch batches (deficits
 * off), then the training figures and the test loss and accuracy (per source with meas.src_eval). */
static void epoch_row(cnn *net, const train_cfg *cfg, const train_source *src, int nbatch, double lr,
                      double sl, long hits, long seen, float *x, int *y, train_epoch *h)
{
    reestimate(net, cfg, src, nbatch, x, y);
    h->lr = lr;
    h->train_loss = seen ? sl / seen : NAN;
    h->train_acc = seen ? (double)hits / seen : NAN;
    train_evaluate(net, src, x, y, &h->test_loss, &h->test_acc);
    for (int P = 0; P < 2; P++) {
        h->loss_src[P] = h->acc_src[P] = NAN;
        if (cfg->meas.src_eval) evaluate_source(net, src, x, y, P, &h->loss_src[P], &h->acc_src[P]);
    }
}

/* After epoch `done`: ckpt_K.bin when kept (before checkpoint.bin: a resumed run has every ckpt_K.bin up
 * to its epoch), checkpoint.bin ck, epochs.dat and fisher.dat. */
static int save_epoch(const cnn *net, const train_cfg *cfg, const table_prov *prov, const char *ck, int first,
                      int done, const train_epoch *hist, const meas *ms)
{
    int rc, keep = cfg->ckpt_every > 0 && done % cfg->ckpt_every == 0;
    for (int k = 0; k < cfg->n_ckpt_at; k++)
        keep |= cfg->ckpt_at[k] == done;
    if (keep) {
        char nm[64], p[4096];
        snprintf(nm, sizeof nm, "ckpt_%d.bin", done);
        if ((rc = util_path(p, sizeof p, cfg->out, nm)) != CS_OK) return rc;
        if ((rc = ckpt_save(net, p, cfg->seed, done, hist, &ms->fr)) != CS_OK) return rc;
    }
    if ((rc = ckpt_save(net, ck, cfg->seed, done, hist, &ms->fr)) != CS_OK) return rc;
    if ((rc = write_epochs(cfg, prov, net, first, done, hist, 0, NULL, ms)) != CS_OK) return rc;
    if (cfg->meas.fisher_every > 0 && (rc = write_fisher(cfg, prov, net, ms, 0, NULL)) != CS_OK) return rc;
    return CS_OK;
}

int train_run(cnn *net, const train_cfg *cfg, const train_source *src, const table_prov *prov,
              train_epoch *hist, int *done_out)
{
    int B = net->cfg.batch, nin = net->cfg.in_c * net->cfg.in_h * net->cfg.in_w;
    char ck[4096];
    if (util_path(ck, sizeof ck, cfg->out, "checkpoint.bin") != CS_OK) return CS_EUSAGE;
    int done = 0, first = 0, rc = CS_OK;
    if (util_mkdir_p(cfg->out) != CS_OK) return CS_EUSAGE;
    fisher_rows fr0 = {0, cnnp_fisher_layers(net, NULL) + 2, 0, NULL};
    if ((rc = load_start(net, cfg, ck, hist, &done, &first, &fr0)) != CS_OK) {
        free(fr0.v);
        return rc;
    }
    float *x = util_malloc(sizeof(float) * (size_t)B * nin);
    int *y = util_malloc(sizeof(int) * B);
    const char *fail = NULL;
    char why[512];
    long fail_step = 0;
    int start = done;
    long spe = src->epoch(src->ctx, done < cfg->epochs ? done : 0); /* SGD updates per epoch (constant) */
    meas ms;
    rc = meas_open(&ms, net, cfg, src, first, done, spe);
    for (int r = 0; r < fr0.rows; r++)
        fisher_push(&ms.fr, fr0.v + (size_t)r * fr0.cols);
    free(fr0.v);
    if (rc == CS_OK && done == first && (is_snap(&ms, first) || is_fisher(&ms, first))) {
        int r2 = measure_start(&ms, net, cfg, src, first, x, y, why, sizeof why);
        if (r2 == CS_EFAIL)
            fail = why, fail_step = first;
        else
            rc = r2;
    }
    for (int e = done; rc == CS_OK && !fail && e < cfg->epochs; e++) {
        double t0 = util_now(), lr = train_lr(cfg, e), sl;
        long hits, seen;
        int nbatch = src->epoch(src->ctx, e);
        fail = sgd_epoch(net, cfg, src, e, nbatch, lr, x, y, &sl, &hits, &seen, why, sizeof why);
        if (!fail && !cnn_finite(net)) {
            snprintf(why, sizeof why, "non-finite weights after epoch %d (lower train_cfg.lr0)", e);
            fail = why;
        }
        if (fail) {
            done = e, fail_step = e + 1;
            break;
        }
        train_epoch *h = &hist[e];
        epoch_row(net, cfg, src, nbatch, lr, sl, hits, seen, x, y, h);
        h->seconds = util_now() - t0;
        if (cfg->progress)
            fprintf(stderr, "\rcritsim cnn: epoch %d/%d train loss %.4f test loss %.4f acc %.4f (%.1f s)\n",
                    e + 1, cfg->epochs, h->train_loss, h->test_loss, h->test_acc, h->seconds);
        /* measurements go to disk before the checkpoint that counts them: a run killed in between
         * redoes this epoch and cuts the extra snapshot off when it resumes */
        int r2 = CS_OK;
        if (is_snap(&ms, e + 1)) r2 = snap_take(&ms, net, e + 1, why, sizeof why);
        if (r2 == CS_OK && is_fisher(&ms, e + 1))
            r2 = fisher_take(&ms, net, cfg->seed, e + 1, why, sizeof why);
        if (r2 != CS_OK) {
            if (r2 == CS_EFAIL) fail = why, fail_step = e + 1;
            rc = r2 == CS_EFAIL ? CS_OK : r2;
            done = e;
            break;
        }
        done = e + 1;
        if ((rc = save_epoch(net, cfg, prov, ck, first, done, hist, &ms)) != CS_OK) break;
    }
    free(x), free(y);
    *done_out = done;
    if (rc == CS_OK && fail) {
        int r = write_epochs(cfg, prov, net, first, done, hist, fail_step, fail, &ms);
        if (cfg->meas.fisher_every > 0) write_fisher(cfg, prov, net, &ms, fail_step, fail);
        util_seterr(r == CS_EFAIL ? CS_EFAIL : r, "%s", fail);
        rc = r == CS_EFAIL ? CS_EFAIL : r;
    } else if (rc == CS_OK && done == start) { /* nothing left to do */
        rc = write_epochs(cfg, prov, net, first, done, hist, 0, NULL, &ms);
        if (rc == CS_OK && cfg->meas.fisher_every > 0) rc = write_fisher(cfg, prov, net, &ms, 0, NULL);
    }
    meas_free(&ms);
    return rc;
}
