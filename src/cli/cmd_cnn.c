/* cmd_cnn.c - `critsim cnn`: train a small convolutional network on real images (Fashion-MNIST,
 * CIFAR-10) with deficits on windows of epochs, for critical-period experiments ([P1], [P3];
 * docs/theory.md#the-convolutional-network).
 *
 * Wiring only: data.h loads the images and assembles batches (views, deficits, augmentation),
 * cnn.h is the network, train.h the loop, the tables and the checkpoints.
 * Writes DIR/epochs.dat (epoch lr train_loss train_acc test_loss test_acc seconds; two sources add
 * test_acc_a test_acc_b test_loss_a test_loss_b info_a info_b), DIR/final.dat (final_loss = last epoch's
 * training loss, test_loss, test_acc, train_acc; two sources also test_acc_a test_acc_b info_a info_b of
 * the last epoch), DIR/checkpoint.bin, and with --snap-every DIR/snap/
 * (snap.h format: per-source Jacobians, their SVD, RSV source variances; cnn_probe.h), with
 * --fisher-every DIR/fisher.dat.
 * Exit status: 0 ok; 1 non-finite loss/weights/Jacobian/Fisher (tables end with "# FAILED at step N");
 * 2 bad options, data files or checkpoints.
 * Non-goals: per-source heads.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cnn.h"
#include "cnn_probe.h"
#include "data.h"
#include "deficit.h"
#include "opts.h"
#include "table.h"
#include "train.h"
#include "util.h"

static const opt_spec specs[] = {
    {"data", OPT_STRING, "fashion-mnist", "data set: fashion-mnist|cifar10"},
    {"data-dir", OPT_STRING, NULL, "folder of the data files (default: /usr/share/datasets/fashion-mnist)",
     "data_load.dir"},
    {"train-subset", OPT_INT, "0", "use only the first N training images (0: all)", OPT_IN(0, 100000000)},
    {"test-subset", OPT_INT, "0", "use only the first N test images (0: all)", OPT_IN(0, 100000000)},
    {"epochs", OPT_INT, "3", "training epochs", "train_cfg.epochs", OPT_IN(1, 1000000)},
    {"clean-epochs", OPT_INT, "0",
     "if > 0: train this many epochs after the last deficit ends (total = last END + N, replaces --epochs)",
     OPT_IN(0, 1000000)},
    {"seed", OPT_INT, "0", "seed of the initialisation, shuffling, augmentation and deficits",
     "train_cfg.seed", OPT_IN(0, 4294967295L)},
    {"out", OPT_STRING, "runs/cnn", "run folder (epochs.dat, final.dat, checkpoint.bin)", "train_cfg.out"},
    {"arch", OPT_STRING, "fused", "network: fused|split (see below)"},
    {"width", OPT_INT, "16", "channels W of the first convolution (stage j has W*2^j)", OPT_IN(1, 1024)},
    {"depth", OPT_INT, "2", "stride-2 stages D", OPT_IN(0, 5)},
    {"fuse-after", OPT_INT, "1", "split: stages inside each source's pathway before fusion (0..depth)",
     "cnn_cfg.fuse_after", OPT_IN(0, 5)},
    {"fusion", OPT_STRING, "sum", "split: how pathways are fused: sum|concat"},
    {"sources", OPT_INT, "2", "input sources: 1 (whole image) or 2 (left and right halves)", "data_cfg.n_src",
     OPT_IN(1, 2)},
    {"views", OPT_STRING, "zero",
     "two sources: zero (the other half zeroed, full width) or crop (half width)"},
    {"batch", OPT_INT, "64", "batch size (the last partial batch of an epoch is dropped)", "data_cfg.batch",
     OPT_IN(1, 65536)},
    {"lr", OPT_DOUBLE, "0.05", "initial learning rate lr0 (lr per epoch: see --schedule)", "train_cfg.lr0",
     OPT_IN(0, 100)},
    {"momentum", OPT_DOUBLE, "0.9", "SGD momentum", OPT_IN(0, 1)},
    {"wd", OPT_DOUBLE, "5e-4", "weight decay", OPT_IN(0, 10)},
    {"decay", OPT_DOUBLE, "0.97", "learning-rate decay per epoch (schedules decay and restart)",
     OPT_IN(0, 10)},
    {"schedule", OPT_STRING, "decay",
     "learning rate per epoch: decay|restart|cyclic (formulas below; restart: back to lr0 when the last "
     "deficit ends)"},
    {"cycle", OPT_INT, "10", "epochs N of one cosine cycle of --schedule cyclic", OPT_IN(1, 1000000)},
    {"augment", OPT_FLAG, "false", "random translation up to --shift px and random horizontal flip"},
    {"shift", OPT_INT, "4", "largest translation of --augment in pixels", OPT_IN(0, 16)},
    {"deficit", OPT_MULTI, NULL,
     "KIND[:ARGS]@START-END on epochs, repeatable: blur[:P]:K, flip, labels, noise, remove:P, dissociate"},
    {"noise-images", OPT_INT, "1000", "size of the fixed Gaussian-noise image set of the noise deficit",
     OPT_IN(1, 100000000)},
    {"rand-zero", OPT_DOUBLE, "0",
     "two sources, training only: source a zeroed with probability P, source b with probability P "
     "(disjoint, P <= 0.5), so single-source test inputs are in distribution (0: off)",
     OPT_IN(0, 0.5)},
    {"bn-batches", OPT_INT, "20",
     "training batches (without the deficits) of the BN re-estimation before each test (0: all)",
     OPT_IN(0, 100000000)},
    {"checkpoint-every", OPT_INT, "0",
     "also keep ckpt_K.bin after every K epochs (for deficit-removal branches)", OPT_IN(0, 1000000)},
    {"resume", OPT_FLAG, "false", "continue from DIR/checkpoint.bin when it exists"},
    {"branch", OPT_STRING, NULL, "start from this checkpoint at its epoch (see --branch-mode)",
     "train_cfg.branch"},
    {"branch-mode", OPT_STRING, "weights",
     "weights (weights and BN statistics, momentum reset) | exact (also momentum and history, same seed: "
     "bit-identical to the run from scratch when the checkpoint's run matched it until then)",
     "train_cfg.branch_exact"},
    {"checkpoint-at", OPT_LIST, NULL, "also keep ckpt_K.bin after each of these epochs K (e.g. 4,8,12)",
     OPT_IN(1, 1000000)},
    {"snap-every", OPT_INT, "0",
     "snapshots for critsim analyze every K epochs, at deficit boundaries, first and last epoch (0: none)",
     "train_meas.snap_every", OPT_IN(0, 1000000)},
    {"snap-ref-epoch", OPT_INT, "-1", "epoch whose total-map SVD the snapshots carry (-1: the last snapshot)",
     "train_meas.snap_ref", OPT_IN(-1, 1000000)},
    {"probe", OPT_INT, "0",
     "probe test images of the Jacobian and RSV (0: the smaller of 256 and the test set)",
     OPT_IN(0, 100000000)},
    {"rsv-layer", OPT_STRING, NULL,
     "two sources: layer whose output the RSV measures (default: split, first stage after fusion; fused, "
     "last stage)"},
    {"rsv-batches", OPT_INT, "16", "the probe is cut into this many RSV batches (variance over batches)",
     OPT_IN(2, 1000000)},
    {"fisher-every", OPT_INT, "0", "Fisher-information trace every K epochs into fisher.dat (0: none)",
     OPT_IN(0, 1000000)},
    {"fisher-samples", OPT_INT, "0",
     "test images of the Fisher estimate (0: the smaller of 256 and the test set)", OPT_IN(0, 100000000)},
    {"threads", OPT_INT, "2", "threads over the batch (results are deterministic per thread count)",
     OPT_IN(1, 64)},
    {"quiet", OPT_FLAG, "false", "no progress bar (it is shown only when stderr is a terminal)"},
    {NULL, 0, NULL, NULL}};

static const char usage[] =
    "default network (fused, width W=16, depth D=2; every conv = 3x3 conv + batch norm + ReLU):\n"
    "  conv W - conv 2W s2 - conv 2W - conv 4W s2 - conv 4W - conv1x1 4W - global avg pool - linear 10\n"
    "  (All-CNN of Achille et al. reduced to 28x28; 5.85 M multiply-adds per image, 74.7 k parameters;\n"
    "  10000 training images and 3 epochs reach about 0.84 test accuracy in 13-15 s on 2 cores)\n"
    "split: each source runs conv W and the first --fuse-after stages in its own pathway; pathways are\n"
    "  summed or concatenated, then the remaining stages, conv1x1, pooling and the joint linear head.\n"
    "schedule: SGD; the learning rate of epoch e (0-based global epoch index, also after a branch) is\n"
    "  decay:   lr0 * decay^e\n"
    "  restart: lr0 * decay^e for e < R, lr0 * decay^(e - R) for e >= R, R = the epoch the last deficit\n"
    "           ends (0 without deficits: the decay schedule)\n"
    "  cyclic:  lr0 * (1 + cos(pi * (e mod N) / N)) / 2, N = --cycle (cosine cycles, restarting at lr0)\n"
    "  BN statistics are re-estimated on training batches with the deficits switched off (the same images\n"
    "  and augmentation) before every test.  Test data are always clean.\n"
    "measurements: --snap-every K writes RUN/snap/ for critsim analyze (Jacobian of the logits w.r.t. each\n"
    "  source's own pixels over the probe set, its SVD at --snap-ref-epoch, and for two sources the RSV of\n"
    "  --rsv-layer in sv_a.npy/sv_b.npy); two-source runs add test_acc_a test_acc_b test_loss_a test_loss_b\n"
    "  info_a info_b to epochs.dat (only that source present; info = log2(n_class) - loss/ln 2 bits);\n"
    "  --fisher-every K writes fisher.dat (epoch total L1 ... Ln, Fisher trace per weight layer).\n"
    "dissociate@S-E (two sources): source b of each training image comes from another image of its\n"
    "  batch (a seeded cyclic permutation per batch and epoch); the label follows source a.\n"
    "examples:\n"
    "  critsim cnn --data fashion-mnist --train-subset 10000 --epochs 3 --seed 1 --out runs/fm\n"
    "  critsim cnn --arch split --deficit blur:b:4@0-20 --epochs 40 --checkpoint-every 10 --out runs/blur\n"
    "  critsim cnn --deficit blur:4@0-20 --epochs 40 --resume --out runs/blur   (after an interruption)\n"
    "  critsim cnn --arch split --deficit remove:b@0-10 --epochs 30 --snap-every 2 --out runs/inh\n";

typedef struct {
    data_pipe *pipe;
    const data_set *test;
} src_ctx;

static int s_epoch(void *c, int e)
{
    return data_pipe_epoch(((src_ctx *)c)->pipe, e);
}
static void s_batch(void *c, int b, float *x, int *y)
{
    data_pipe_batch(((src_ctx *)c)->pipe, b, x, y);
}
static void s_clean(void *c, int b, float *x, int *y)
{
    data_pipe_batch_clean(((src_ctx *)c)->pipe, b, x, y);
}
static void s_test(void *c, int first, int count, float *x, int *y)
{
    src_ctx *s = c;
    data_views(s->pipe, s->test, first, count, x, y);
}

/* The options of one run that decide the data, the network and the schedule, read and checked once. */
typedef struct {
    long subset, tsubset, epochs, seed, width, depth, fuse_after, sources, batch, shift, nnoise, bnb, ckev,
        threads, cycle;
    double lr, mom, wd, decay, rzero;
    int dsi, archi, fusi, viewi, schedi, bmode; /* choices: archi a cnn_arch, fusi a cnn_fusion, ... */
    int nat, ckat[256];                         /* --checkpoint-at */
    deficit_list defs;
    long last; /* the epoch the last deficit ends (0: none) */
    const char *dir, *out, *branch;
} run_args;

/* The choices by name (opts_enum), in the order --help lists them. */
static const opt_enum archs[] = {{"fused", CNN_FUSED}, {"split", CNN_SPLIT}, {NULL, 0}};
static const opt_enum fusions[] = {{"sum", CNN_FUSE_SUM}, {"concat", CNN_FUSE_CONCAT}, {NULL, 0}};
static const opt_enum views[] = {{"zero", DATA_VIEWS_ZERO}, {"crop", DATA_VIEWS_CROP}, {NULL, 0}};
static const opt_enum schedules[] = {
    {"decay", TRAIN_DECAY}, {"restart", TRAIN_RESTART}, {"cyclic", TRAIN_CYCLIC}, {NULL, 0}};

static int read_args(const opts *o, run_args *a)
{
    int rc;
    if ((rc = opts_choice(o, "data", "fashion-mnist|cifar10", &a->dsi)) ||
        (rc = opts_long(o, "train-subset", &a->subset)) || (rc = opts_long(o, "test-subset", &a->tsubset)) ||
        (rc = opts_long(o, "epochs", &a->epochs)) || (rc = opts_long(o, "seed", &a->seed)) ||
        (rc = opts_enum(o, "arch", archs, &a->archi)) || (rc = opts_long(o, "width", &a->width)) ||
        (rc = opts_long(o, "depth", &a->depth)) || (rc = opts_long(o, "fuse-after", &a->fuse_after)) ||
        (rc = opts_enum(o, "fusion", fusions, &a->fusi)) || (rc = opts_long(o, "sources", &a->sources)) ||
        (rc = opts_enum(o, "views", views, &a->viewi)) || (rc = opts_long(o, "batch", &a->batch)) ||
        (rc = opts_double(o, "lr", &a->lr)) || (rc = opts_double(o, "momentum", &a->mom)) ||
        (rc = opts_double(o, "wd", &a->wd)) || (rc = opts_double(o, "decay", &a->decay)) ||
        (rc = opts_long(o, "shift", &a->shift)) || (rc = opts_long(o, "noise-images", &a->nnoise)) ||
        (rc = opts_double(o, "rand-zero", &a->rzero)) || (rc = opts_long(o, "bn-batches", &a->bnb)) ||
        (rc = opts_long(o, "checkpoint-every", &a->ckev)) || (rc = opts_long(o, "threads", &a->threads)) ||
        (rc = opts_enum(o, "schedule", schedules, &a->schedi)) || (rc = opts_long(o, "cycle", &a->cycle)) ||
        (rc = opts_choice(o, "branch-mode", "weights|exact", &a->bmode)))
        return rc;
    a->nat = opts_count(o, "checkpoint-at");
    if (a->nat > 256) return util_seterr(CS_EUSAGE, "--checkpoint-at: at most 256 epochs");
    if (a->nat) {
        long *at;
        if ((rc = opts_list_long(o, "checkpoint-at", &at, &a->nat))) return rc;
        for (int i = 0; i < a->nat; i++)
            a->ckat[i] = (int)at[i];
        free(at);
    }
    if (a->archi == CNN_SPLIT && a->sources != 2)
        return util_seterr(CS_EUSAGE, "--arch split needs --sources 2 (one pathway per source)");
    if (a->archi == CNN_SPLIT && a->fuse_after > a->depth)
        return util_seterr(CS_EUSAGE, "--fuse-after %ld is larger than --depth %ld; use 0..%ld",
                           a->fuse_after, a->depth, a->depth);
    if ((rc = opts_deficits(o, "deficit", &a->defs)) != CS_OK) return rc;
    long clean;
    a->last = 0;
    for (int i = 0; i < a->defs.n; i++)
        if (a->defs.d[i].kind != DEF_SWITCH &&
            a->defs.d[i].end > a->last) /* END <= 10^15: no overflow below */
            a->last = a->defs.d[i].end;
    if ((rc = opts_long(o, "clean-epochs", &clean))) return rc;
    if (clean > 0) /* [P3]'s protocol: every run gets the same clean epochs after its deficit */
        a->epochs = a->last + clean;
    if (a->epochs > 1000000)
        return util_seterr(
            CS_EUSAGE,
            "the last deficit ends at epoch %ld: with --clean-epochs %ld that is %ld epochs (at "
            "most 1000000); end it earlier",
            a->last, clean, a->epochs);
    a->dir = opts_str(o, "data-dir"), a->out = opts_str(o, "out"), a->branch = opts_str(o, "branch");
    if (!a->out || !*a->out) return util_seterr(CS_EUSAGE, "--out needs a folder name");
    return CS_OK;
}

/* --rsv-layer of net (default: cnnp_default_rsv_layer) as a layer index; CS_EUSAGE listing the layers
 * when the name is not one. */
static int rsv_layer(const cnn *net, const char *rsvname, int *out)
{
    int rsvl = rsvname ? cnnp_find_layer(net, rsvname) : cnnp_default_rsv_layer(net);
    if (rsvl < 0) {
        char *buf = cnnp_layer_names(net);
        int rc = util_seterr(CS_EUSAGE, "--rsv-layer '%s' is not a layer of this network; one of: %s",
                             rsvname, buf);
        free(buf);
        return rc;
    }
    *out = rsvl;
    return CS_OK;
}

/* The measurements at epoch ends (snapshots, probe, RSV, Fisher trace) for net on images of width w
 * and a test set of n_test images.  extra (2 * DEFICIT_MAX) receives the deficit boundaries, which
 * tm->extra points to. */
static int read_meas(const opts *o, const run_args *a, const cnn *net, int n_test, int w, int *extra,
                     train_meas *tm)
{
    long snev, sref, nprobe, rsvb, fev, nfish;
    int rc;
    if ((rc = opts_long(o, "snap-every", &snev)) || (rc = opts_long(o, "snap-ref-epoch", &sref)) ||
        (rc = opts_long(o, "probe", &nprobe)) || (rc = opts_long(o, "rsv-batches", &rsvb)) ||
        (rc = opts_long(o, "fisher-every", &fev)) || (rc = opts_long(o, "fisher-samples", &nfish)))
        return rc;
    if (a->bmode == 1 && (snev > 0 || fev > 0)) /* their files would start at the branch epoch */
        return util_seterr(
            CS_EUSAGE, "--branch-mode exact does not carry snapshots or Fisher rows over; drop --snap-every "
                       "and --fisher-every, or train from scratch");
    if (nprobe > n_test || nfish > n_test)
        return util_seterr(CS_EUSAGE, "--%s %ld is larger than the test set (%d images); use at most %d",
                           nprobe > n_test ? "probe" : "fisher-samples", nprobe > n_test ? nprobe : nfish,
                           n_test, n_test);
    if (sref >= 0 && snev == 0)
        return util_seterr(CS_EUSAGE,
                           "--snap-ref-epoch needs --snap-every K (it names the snapshot whose SVD "
                           "the snapshots carry)");
    if (nprobe == 0) nprobe = n_test < 256 ? n_test : 256;
    if (nfish == 0) nfish = n_test < 256 ? n_test : 256;
    const char *rsvname = opts_str(o, "rsv-layer");
    int rsvl = -1;
    if (rsvname && a->sources != 2)
        return util_seterr(CS_EUSAGE, "--rsv-layer needs --sources 2 (the RSV compares two sources)");
    if (a->sources == 2) {
        if ((rc = rsv_layer(net, rsvname, &rsvl))) return rc;
        if (snev > 0 && (nprobe / rsvb < 1 || nprobe / rsvb > a->batch))
            return util_seterr(CS_EUSAGE,
                               "--probe %ld / --rsv-batches %ld = %ld images per RSV batch; it must be in "
                               "1..--batch (%ld): change --rsv-batches",
                               nprobe, rsvb, nprobe / rsvb, a->batch);
    }
    int nextra = 0;
    for (int i = 0; i < a->defs.n; i++) {
        extra[nextra++] = (int)a->defs.d[i].start;
        if (a->defs.d[i].end < 1000000000L) extra[nextra++] = (int)a->defs.d[i].end;
    }
    *tm = (train_meas){.snap_every = (int)snev,
                       .extra = extra,
                       .n_extra = nextra,
                       .snap_ref = (int)sref,
                       .n_probe = (int)nprobe,
                       .srcs = {.n_src = (int)a->sources},
                       .rsv_layer = rsvl,
                       .rsv_batches = (int)rsvb,
                       .fisher_every = (int)fev,
                       .n_fisher = (int)nfish,
                       .src_eval = a->sources == 2};
    for (int P = 0; P < a->sources; P++) {
        int own = a->sources == 2 && a->viewi == DATA_VIEWS_ZERO;
        tm->srcs.col0[P] = own ? P * (w / 2) : 0;
        tm->srcs.col1[P] = own ? P * (w / 2) + w / 2 : w;
    }
    return CS_OK;
}

/* final.dat after train_run returned rc with ndone epochs in hist: the last epoch's figures; two sources
 * add the per-source test accuracy and usable information of that epoch (test_acc_a test_acc_b info_a
 * info_b, as in epochs.dat).  A numerical failure (CS_EFAIL) writes the FAILED form (a sweep's summary
 * reads only final.dat).  Returns the run's status. */
static int write_final(const opts *o, const run_args *a, int n_class, const train_epoch *hist, int ndone,
                       int rc)
{
    const char *keys[] = {"final_loss", "test_loss",  "test_acc", "train_acc",
                          "test_acc_a", "test_acc_b", "info_a",   "info_b"};
    int nkeys = a->sources == 2 ? 8 : 4;
    double v[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    if (ndone > 0) {
        const train_epoch *e = &hist[ndone - 1];
        double l2k = log2((double)n_class);
        v[0] = e->train_loss, v[1] = e->test_loss, v[2] = e->test_acc, v[3] = e->train_acc;
        v[4] = e->acc_src[0], v[5] = e->acc_src[1];
        v[6] = l2k - e->loss_src[0] / log(2.0), v[7] = l2k - e->loss_src[1] / log(2.0);
    }
    if (rc == CS_OK && ndone > 0) {
        rc = table_write_outcomes(a->out, opts_prov(o), nkeys, keys, v);
    } else if (rc == CS_EFAIL) {
        char why[1024];
        snprintf(why, sizeof why, "%s", util_errmsg());
        int r = table_write_outcomes_failed(a->out, opts_prov(o), nkeys, keys, v, ndone + 1, why);
        util_seterr(r, "%s", why);
        rc = r;
    }
    return rc;
}

/* Read the options, load the data, build the pipeline and the network, train, write final.dat. */
static int run(const opts *o)
{
    run_args a;
    int rc = read_args(o, &a);
    if (rc) return rc;
    const char *dname = a.dsi == 0 ? "fashion-mnist" : "cifar10";

    data_set train = {0}, test = {0};
    data_pipe *pipe = NULL;
    cnn *net = NULL;
    train_epoch *hist = NULL;
    if ((rc = data_load(dname, a.dir, 1, a.subset, NULL, &train)) != CS_OK) goto done;
    if ((rc = data_load(dname, a.dir, 0, a.tsubset, &train, &test)) != CS_OK) goto done;
    data_cfg dc = {.n_src = (int)a.sources,
                   .views = (data_view_kind)a.viewi,
                   .batch = (int)a.batch,
                   .augment = opts_flag(o, "augment"),
                   .shift = (int)a.shift,
                   .n_noise = (int)a.nnoise,
                   .rand_zero = a.rzero};
    if (!(pipe = data_pipe_alloc(&train, &dc, &a.defs, (uint64_t)a.seed))) {
        rc = CS_EUSAGE;
        goto done;
    }
    int ch, h, w;
    data_pipe_shape(pipe, &ch, &h, &w);
    cnn_cfg cc = {.arch = (cnn_arch)a.archi,
                  .in_c = ch,
                  .in_h = h,
                  .in_w = w,
                  .n_src = (int)a.sources,
                  .n_class = train.n_class,
                  .width = (int)a.width,
                  .depth = (int)a.depth,
                  .fuse_after = (int)a.fuse_after,
                  .fusion = (cnn_fusion)a.fusi,
                  .batch = (int)a.batch,
                  .threads = (int)a.threads};
    if (!(net = cnn_alloc(&cc))) {
        rc = CS_EUSAGE;
        goto done;
    }
    cnn_init(net, (uint64_t)a.seed);
    int extra[2 * DEFICIT_MAX];
    train_meas tm;
    if ((rc = read_meas(o, &a, net, test.n, w, extra, &tm))) goto done;
    src_ctx sc = {pipe, &test};
    train_source src = {&sc, s_epoch, s_batch, test.n, s_test, s_clean};
    train_cfg tc = {.epochs = (int)a.epochs,
                    .lr0 = a.lr,
                    .momentum = a.mom,
                    .wd = a.wd,
                    .decay = a.decay,
                    .bn_batches = (int)a.bnb,
                    .ckpt_every = (int)a.ckev,
                    .resume = opts_flag(o, "resume"),
                    .branch = a.branch,
                    .progress = !opts_flag(o, "quiet") && isatty(2),
                    .seed = (uint64_t)a.seed,
                    .out = a.out,
                    .schedule = (train_schedule)a.schedi,
                    .restart_at = a.last < 1000000 ? (int)a.last : 1000000, /* >= epochs: never */
                    .cycle = (int)a.cycle,
                    .meas = tm,
                    .branch_exact = a.bmode == 1,
                    .ckpt_at = a.ckat,
                    .n_ckpt_at = a.nat};
    hist = util_calloc((size_t)a.epochs, sizeof *hist);
    int ndone = 0;
    rc = train_run(net, &tc, &src, opts_prov(o), hist, &ndone);
    rc = write_final(o, &a, train.n_class, hist, ndone, rc);
done:
    free(hist);
    cnn_free(net);
    data_pipe_free(pipe);
    data_free(&train);
    data_free(&test);
    return rc;
}

const cmd_def cmd_cnn = {.name = "cnn",
                         .summary =
                             "train a small CNN on Fashion-MNIST/CIFAR-10 with deficits on epoch windows",
                         .usage = usage,
                         .specs = specs,
                         .run = run};
