/* train.c - epochs of SGD on a cnn, evaluation with re-estimated batch-norm statistics, the
 * per-epoch table and checkpoints (see include/train.h).
 *
 * Mathematics: PyTorch SGD (g = grad + wd w; m = mu m + g; w -= lr_e m) with lr_e of epoch e from
 * the schedule (train.h: decay lr0 decay^e; restart lr0 decay^(e - R) from epoch R on; cyclic
 * lr0 (1 + cos(pi (e mod N) / N)) / 2); train_loss is the mean of the training-mode batch losses of
 * the epoch (batch statistics, deficits and augmentation active), test figures use clean test
 * images and running statistics re-estimated on the epoch's first bn_batches training batches.
 * Non-goals: early stopping, validation splits, mid-epoch resumption (a run killed mid-epoch
 * restarts that epoch from the last checkpoint, which gives the same result).
 */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "publish.h"
#include "table.h"
#include "util.h"

#define CKPT_MAGIC   "CSCNNCKP"
#define CKPT_VERSION 1u

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

int train_save(const cnn *net, const char *path, uint64_t seed, int done, const train_epoch *hist)
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
    uint64_t h = io.h;
    put(&io, &h, sizeof h);
    if (io.err) {
        pub_abort(pb);
        return util_seterr(CS_EUSAGE, "cannot write checkpoint '%s' (disk full?)", path);
    }
    return pub_commit(pb); /* fsync'ed: a resumed run reads it back */
}

int train_load(cnn *net, const char *path, uint64_t *seed, int *done, train_epoch *hist, int max_hist,
               int weights_only)
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
    if (ver != CKPT_VERSION) {
        rc = util_seterr(CS_EUSAGE, "checkpoint '%s' has version %u; this critsim reads version %u", path,
                         ver, CKPT_VERSION);
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
    get(&io, hh, sizeof(train_epoch) * d32);
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
    }
    free(mom), free(par), free(st), free(hh);
out:
    fclose(io.f);
    return rc;
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

static int write_epochs(const train_cfg *cfg, const opts *o, const cnn *net, int first, int done,
                        const train_epoch *hist, const char *fail)
{
    table *t = table_open(cfg->out, "epochs.dat", o);
    if (!t) return CS_EUSAGE;
    const cnn_cfg *c = &net->cfg;
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
    table_meta(t, "batch norm: running statistics re-estimated on %s training batches before every test",
               cfg->bn_batches > 0 ? "the first few" : "all");
    if (cfg->bn_batches > 0) table_meta(t, "bn re-estimation batches: %d", cfg->bn_batches);
    double wall = 0;
    for (int e = first; e < done; e++)
        wall += hist[e].seconds;
    table_meta(t, "epochs done: %d, wall time of this run's epochs: %.3f s", done, wall);
    table_columns(t, "epoch lr train_loss train_acc test_loss test_acc seconds");
    for (int e = first; e < done; e++)
        table_row(t, "%d %.9g %.9g %.6f %.9g %.6f %.3f", e + 1, hist[e].lr, hist[e].train_loss,
                  hist[e].train_acc, hist[e].test_loss, hist[e].test_acc, hist[e].seconds);
    if (fail) return table_fail(t, done + 1, fail);
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

int train_run(cnn *net, const train_cfg *cfg, const train_source *src, const opts *o, train_epoch *hist,
              int *done_out)
{
    int B = net->cfg.batch, nin = net->cfg.in_c * net->cfg.in_h * net->cfg.in_w;
    char ck[4096];
    if (util_path(ck, sizeof ck, cfg->out, "checkpoint.bin") != CS_OK) return CS_EUSAGE;
    int done = 0, first = 0, rc = CS_OK;
    if (util_mkdir_p(cfg->out) != CS_OK) return CS_EUSAGE;
    if (cfg->branch) {
        rc = train_load(net, cfg->branch, NULL, &done, NULL, 0, 1);
        if (rc != CS_OK) return rc;
        if (done > cfg->epochs)
            return util_seterr(CS_EUSAGE,
                               "--branch checkpoint '%s' has %d epochs done, more than --epochs %d",
                               cfg->branch, done, cfg->epochs);
        for (int e = 0; e < done; e++)
            hist[e] = (train_epoch){NAN, NAN, NAN, NAN, NAN, 0};
        first = done;
    }
    if (cfg->resume && access(ck, R_OK) == 0) {
        uint64_t sd;
        int d;
        rc = train_load(net, ck, &sd, &d, hist, cfg->epochs, 0);
        if (rc != CS_OK) return rc;
        if (sd != cfg->seed)
            return util_seterr(CS_EUSAGE,
                               "checkpoint '%s' was written with --seed %llu, not %llu; use the same seed "
                               "or another --out",
                               ck, (unsigned long long)sd, (unsigned long long)cfg->seed);
        if (d > cfg->epochs)
            return util_seterr(CS_EUSAGE, "checkpoint '%s' has %d epochs done, more than --epochs %d", ck, d,
                               cfg->epochs);
        for (first = 0; first < d && isnan(hist[first].train_loss);)
            first++; /* rows before a branch */
        done = d;
    }
    float *x = util_malloc(sizeof(float) * (size_t)B * nin);
    int *y = util_malloc(sizeof(int) * B);
    const char *fail = NULL;
    char why[160];
    int start = done;
    for (int e = done; e < cfg->epochs; e++) {
        double t0 = util_now(), lr = train_lr(cfg, e), sl = 0;
        long hits = 0, seen = 0;
        int nbatch = src->epoch(src->ctx, e);
        for (int b = 0; b < nbatch; b++) {
            src->batch(src->ctx, b, x, y);
            cnn_forward(net, x, B, CNN_TRAIN);
            int c;
            double l = cnn_loss(net, y, &c, 1);
            if (!isfinite(l)) {
                snprintf(why, sizeof why, "non-finite training loss at epoch %d batch %d (lower --lr)", e, b);
                fail = why;
                break;
            }
            cnn_backward(net);
            cnn_sgd_step(net, lr, cfg->momentum, cfg->wd);
            sl += l * B, hits += c, seen += B;
            if (cfg->progress && (b % 4 == 0 || b == nbatch - 1))
                progress(e, cfg->epochs, b + 1, nbatch, sl / seen);
        }
        if (!fail && !cnn_finite(net)) {
            snprintf(why, sizeof why, "non-finite weights after epoch %d (lower --lr)", e);
            fail = why;
        }
        if (fail) {
            done = e;
            break;
        }
        int nre = cfg->bn_batches > 0 && cfg->bn_batches < nbatch ? cfg->bn_batches : nbatch;
        cnn_bn_reset(net);
        for (int b = 0; b < nre; b++) {
            src->batch(src->ctx, b, x, y);
            cnn_forward(net, x, B, CNN_REESTIMATE);
        }
        train_epoch *h = &hist[e];
        h->lr = lr;
        h->train_loss = seen ? sl / seen : NAN;
        h->train_acc = seen ? (double)hits / seen : NAN;
        train_evaluate(net, src, x, y, &h->test_loss, &h->test_acc);
        h->seconds = util_now() - t0;
        done = e + 1;
        if (cfg->progress)
            fprintf(stderr, "\rcritsim cnn: epoch %d/%d train loss %.4f test loss %.4f acc %.4f (%.1f s)\n",
                    e + 1, cfg->epochs, h->train_loss, h->test_loss, h->test_acc, h->seconds);
        if ((rc = train_save(net, ck, cfg->seed, done, hist)) != CS_OK) break;
        if (cfg->ckpt_every > 0 && done % cfg->ckpt_every == 0) {
            char nm[64], p[4096];
            snprintf(nm, sizeof nm, "ckpt_%d.bin", done);
            if ((rc = util_path(p, sizeof p, cfg->out, nm)) != CS_OK) break;
            if ((rc = train_save(net, p, cfg->seed, done, hist)) != CS_OK) break;
        }
        if ((rc = write_epochs(cfg, o, net, first, done, hist, NULL)) != CS_OK) break;
    }
    free(x), free(y);
    *done_out = done;
    if (rc != CS_OK) return rc;
    if (fail) {
        int r = write_epochs(cfg, o, net, first, done, hist, fail);
        util_seterr(r == CS_EFAIL ? CS_EFAIL : r, "%s", fail);
        return r == CS_EFAIL ? CS_EFAIL : r;
    }
    if (done == start) return write_epochs(cfg, o, net, first, done, hist, NULL); /* nothing left to do */
    return CS_OK;
}
