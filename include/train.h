/* train.h - the CNN training loop: SGD with momentum and weight decay over epochs, batch-norm
 * re-estimation before every evaluation, per-epoch table, checkpoints and resumption.
 *
 * Schedules (epoch e = 0, 1, ..., epochs-1 is the global epoch index, also after a deficit ends or
 * when a run branches from a checkpoint):
 *   decay    lr_e = lr0 * decay^e
 *   restart  lr_e = lr0 * decay^e for e < R, lr0 * decay^(e - R) for e >= R, R = restart_at (the
 *            epoch the last deficit ends; R = 0, no deficit, is the decay schedule exactly)
 *   cyclic   lr_e = lr0 * (1 + cos(pi * (e mod N) / N)) / 2, cosine cycles of N = cycle epochs
 *            (lr0 at the first epoch of every cycle; decay unused).  After each epoch the batch-norm
 * running statistics are re-estimated on the first `bn_batches` training batches of that epoch taken
 * WITHOUT the deficits active in it (train_source.clean: the same images and augmentation; the
 * official code's dry run, cumulative average), then the clean test set is evaluated with them.  A
 * deficit thus changes the weights but not the statistics the test is normalised with (re-estimating
 * on deficit batches, e.g. with a source removed, gave test losses ~1e6 during the deficit).
 *
 * Outputs in DIR: epochs.dat (columns `epoch lr train_loss train_acc test_loss test_acc seconds`, then
 * with meas.src_eval `test_acc_a test_acc_b test_loss_a test_loss_b info_a info_b`; row `epoch` k is
 * the state after k epochs), republished after every epoch; checkpoint.bin after every epoch, and
 * ckpt_K.bin every `ckpt_every` epochs (K = epochs done) for deficit-removal branches; snap/ and
 * fisher.dat (train_meas below).  Checkpoint file (native endianness): magic "CSCNNCKP", u32 version
 * (2; version 1, without per-source figures and Fisher rows, is still read), the architecture, seed,
 * epochs done, parameters, momentum buffer, running BN statistics, the per-epoch history, the Fisher
 * rows (i32 rows, i32 columns, doubles) and an FNV-1a 64 checksum; written to a temporary name and
 * renamed.
 *
 * Measurements at the end of an epoch (after the re-estimation and the test): per-source test figures,
 * then a snapshot (Jacobian maps appended to snap/, RSV, the reference SVD) and a Fisher row, then the
 * checkpoint.  Snapshots reach the disk before the checkpoint that counts them; a resumed run cuts
 * snap/ back to the snapshots of the epochs its checkpoint has done, so a run killed anywhere and
 * resumed ends with the same files as an uninterrupted run.  The state at the first epoch (0, or a
 * branch's) is measured before training; at epoch 0 the running statistics are re-estimated for it
 * and restored afterwards.
 *
 * Determinism: the batch source must be a pure function of (seed, epoch, batch index); then a run
 * resumed from checkpoint.bin reproduces the uninterrupted run bit for bit (same thread count).
 *
 * Branches.  `branch` starts from another run's checkpoint at its epoch K.  By default only the
 * weights and running BN statistics are taken (momentum reset; rows 1..K are not in epochs.dat).
 * With branch_exact the momentum buffer and the history rows 1..K are restored as well and the seed
 * must match: training has no other state (the network draws no random numbers after cnn_init, and
 * batches depend only on (seed, epoch, batch)), so the run is bit-identical to training from scratch
 * with these options, provided the checkpoint's run used the same options in epochs 0..K-1 (same
 * deficits active there, same learning rates, same thread count).  A deficit-removal sweep uses it:
 * a trunk with the deficit [0, E_max) keeps ckpt_E.bin at every removal epoch E (ckpt_at), and the
 * run with the deficit [0, E) continues exactly from ckpt_E.bin.  ckpt_K.bin is written before
 * checkpoint.bin, so a killed trunk that resumes has every ckpt_K.bin up to its checkpoint's epoch.
 * Non-goals: learning-rate warm-up, other optimisers, mid-epoch checkpoints.
 */
#ifndef CRITSIM_TRAIN_H
#define CRITSIM_TRAIN_H

#include <stdint.h>

#include "cnn.h"
#include "cnn_probe.h"
#include "table.h"

/* Where batches come from (the data layer in cmd_cnn.c, synthetic tensors in tests). */
typedef struct {
    void *ctx;
    int (*epoch)(void *ctx, int epoch);                /* start an epoch; number of training batches */
    void (*batch)(void *ctx, int b, float *x, int *y); /* training batch b of the current epoch */
    int n_test;                                        /* test images */
    void (*test)(void *ctx, int first, int count, float *x, int *y); /* clean test images */
    /* Added later (trailing; NULL = batch): training batch b of the current epoch without the deficits
     * active in it (same images and augmentation), the input of the batch-norm re-estimation. */
    void (*clean)(void *ctx, int b, float *x, int *y);
} train_source;

/* Measurements during training (all off when zeroed).  Probe and Fisher images are the first n_probe /
 * n_fisher clean test images.  Snapshot epochs: the run's first epoch (0, or a branch's epoch), every
 * multiple of snap_every, every epoch in extra[] (deficit boundaries) and the last epoch. */
typedef struct {
    int snap_every;   /* 0: no snapshots */
    const int *extra; /* further snapshot epochs */
    int n_extra;
    int snap_ref;      /* epoch of the SVD carried by the snapshots (-1: the last snapshot) */
    int n_probe;       /* probe images for the Jacobian and the RSV */
    cnnp_sources srcs; /* where each source's own pixels are */
    int rsv_layer;     /* layer index of the RSV representation (-1: none) */
    int rsv_batches;   /* the probe is cut into this many batches (units per batch = probe/batches) */
    int fisher_every;  /* 0: no Fisher trace */
    int n_fisher;      /* Fisher images */
    int src_eval;      /* two sources: per-source test columns in epochs.dat every epoch */
} train_meas;

typedef enum { TRAIN_DECAY = 0, TRAIN_RESTART = 1, TRAIN_CYCLIC = 2 } train_schedule;

typedef struct {
    int epochs;
    double lr0, momentum, wd, decay;
    int bn_batches;     /* batches of the re-estimation pass (0: every training batch) */
    int ckpt_every;     /* also keep ckpt_K.bin every K epochs (0: never) */
    int resume;         /* continue from DIR/checkpoint.bin when it exists */
    const char *branch; /* start from this checkpoint at its epoch: weights (momentum reset), or exact */
    int progress;       /* progress bar on stderr */
    uint64_t seed;
    const char *out; /* run folder */
    /* Added after the first version (trailing; zero = the decay schedule): */
    train_schedule schedule; /* (zero: TRAIN_DECAY) */
    int restart_at;          /* restart: R, the epoch from which lr0 * decay^(e - R) applies */
    int cycle;               /* cyclic: N >= 1 */
    train_meas meas;         /* snapshots, RSV, Fisher, per-source columns */
    int branch_exact;        /* with branch: restore the momentum buffer and the history too and require the
                              * same seed: an exact continuation (see "Branches" above) */
    const int *ckpt_at;      /* also keep ckpt_K.bin after these epochs K (n_ckpt_at of them; may be NULL) */
    int n_ckpt_at;
} train_cfg;

/* The learning rate of epoch e (0-based) under cfg's schedule (formulas above). */
double train_lr(const train_cfg *cfg, int e);

typedef struct {
    double lr, train_loss, train_acc, test_loss, test_acc, seconds;
    double loss_src[2], acc_src[2]; /* test with only source a / b (the other zeroed); NaN if not measured */
} train_epoch;

/* Train `net` (already initialised) and write the outputs (their provenance lines from prov, which may
 * be NULL).  hist (room for cfg->epochs rows)
 * receives the per-epoch figures; *done the number of epochs completed.  CS_OK, CS_EFAIL (non-finite
 * loss or weights; tables end with a FAILED line) or CS_EUSAGE (I/O, checkpoint mismatch). */
int train_run(cnn *net, const train_cfg *cfg, const train_source *src, const table_prov *prov,
              train_epoch *hist, int *done);

/* Evaluate on the test set with the current running statistics: mean loss and accuracy. */
void train_evaluate(cnn *net, const train_source *src, float *x, int *y, double *loss, double *acc);

/* Checkpoints.  save: atomically; load: validates magic, version, checksum and that the architecture
 * matches `net`; restores weights, running statistics and (unless weights_only) the momentum buffer;
 * returns the epochs done and up to max_hist history rows.  CS_EUSAGE with a message on any problem. */
int train_save(const cnn *net, const char *path, uint64_t seed, int done, const train_epoch *hist);
int train_load(cnn *net, const char *path, uint64_t *seed, int *done, train_epoch *hist, int max_hist,
               int weights_only);

#endif
