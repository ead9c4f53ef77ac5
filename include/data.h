/* data.h - image data for the CNN: loaders (Fashion-MNIST gzip IDX, CIFAR-10 binary), two-view
 * sources, deficit transforms on windows of epochs, augmentation and batch assembly.
 * (Owner: the CNN data layer.  Network code only sees float batches.)
 *
 * Storage: a data_set holds n images as float32 (n x c x h x w), row-major, already normalised per
 * channel with the training set's mean and std (so that a zeroed view is the mean colour, as in
 * [C1]), and labels as int in [0, n_class).
 *
 * Sources (views): with n_src == 2 an image is split into a left and a right view of width w/2;
 * DATA_VIEWS_ZERO keeps full width and zeroes the other half (P1), DATA_VIEWS_CROP keeps only the half
 * (width w/2).  A batch is (B x n_src*c x h x wv): source p occupies channels [p*c, (p+1)*c).  The fused
 * network reads all channels as one tensor; the split network feeds each channel group to its pathway.
 * With n_src == 1 the whole image is the single source.
 *
 * Deficits (deficit.h syntax, epochs): blur[:P]:K (antialiased bilinear down-sampling to K x K and
 * bilinear up-sampling back, docs/theory.md#blur; whole image, or only the image view P is cut from), flip
 * (vertical), labels (a fixed permutation of the classes), noise (inputs replaced by a fixed finite
 * set of Gaussian-noise images, keeping labels), remove:P (source P zeroed), dissociate (two sources:
 * source b of each sample taken from another sample of the batch; the label follows source a).  Test
 * batches are clean.
 *
 * Exact semantics (data.c has the details):
 *  - per training sample, in order: noise (input := noise image; no augmentation then) ->
 *    augmentation on the whole image (translation by (dx, dy) uniform in [-shift, shift]^2 with zero
 *    padding, i.e. the mean colour, then a horizontal flip with probability 1/2) -> vertical flip ->
 *    each active blur in the order given (blur:P takes source P's columns from the blurred WHOLE
 *    image) -> views -> remove:P zeroes source P's channels -> random zeroing of one source
 *    (rand_zero); labels -> fixed permutation.  Then, per batch, dissociate: sample i receives
 *    source b's channels of sample sigma(i), sigma a cyclic permutation of the batch (so sigma(i) != i)
 *    drawn from (seed, epoch, batch index); source a and the label stay.  Needs 2 sources, batch >= 2.
 *  - labels: a cyclic permutation of the n_class classes (Sattolo, from the seed): no class keeps
 *    its label, the same permutation in every epoch.
 *  - noise: noise image j is N(0, 1) per pixel in normalised units, a pure function of (seed, j);
 *    training image i gets noise image i % n_noise and the label of training image i % n_noise, so
 *    every noise image has one label.  cfg.n_noise <= 0 (or >= n): one noise image per training image.
 *  - randomness is counter-based (seed, epoch, position): batches of an epoch can be assembled in
 *    any order, and epoch e gives the same batches whatever happened before.
 *  - data_load: subset > n keeps all n.  mean/std are those of the whole training split (all images
 *    in the files, also with a subset).  "cifar10" has no default directory (dir required).
 *  - a data_pipe holds one scratch image: not thread-safe (one pipe per thread).
 * No allocation after data_pipe_alloc.  API of the lead's first version unchanged; one trailing field
 * (data_cfg.rand_zero) added.
 */
#ifndef CRITSIM_DATA_H
#define CRITSIM_DATA_H

#include <stdint.h>

#include "deficit.h"

typedef struct {
    int n, c, h, w; /* n images of c x h x w */
    int n_class;
    float *x;              /* (n x c x h x w), normalised */
    int *y;                /* (n) */
    float mean[3], std[3]; /* per-channel statistics used for normalisation */
} data_set;

/* Load "fashion-mnist" (DIR holds {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz; default
 * /usr/share/datasets/fashion-mnist) or "cifar10" (DIR holds data_batch_1..5.bin, test_batch.bin).
 * train: 1 training split, 0 test split.  subset > 0 keeps the first `subset` images.
 * Validates magic numbers, dimensions, label range and payload length; CS_EUSAGE with a message
 * naming the file and the fix on any problem.  Normalisation uses the TRAINING split's statistics:
 * pass the training set as `stats` when loading the test set (NULL when loading training data). */
int data_load(const char *name, const char *dir, int train, long subset, const data_set *stats,
              data_set *out);
void data_free(data_set *d); /* NULL-safe */

/* The blur (docs/theory.md#blur) of one c x h x w image in place: antialiased (triangle filter, support
 * scaled by the down-sampling factor) bilinear down-sampling to k x k, then bilinear up-sampling (half-pixel
 * centres, edge clamp) back to h x w.  `tmp` has room for c*k*k + c*h*k floats (no allocation). */
void data_blur(float *img, int c, int h, int w, int k, float *tmp);

/* two sources: each view keeps the full width with the other half zeroed, or is cropped to its half */
typedef enum { DATA_VIEWS_ZERO = 0, DATA_VIEWS_CROP = 1 } data_view_kind;

typedef struct {
    int n_src; /* 1 (whole image) or 2 (left/right views) */
    data_view_kind views;
    int batch;   /* batch size */
    int augment; /* random translation up to `shift` px (zero padding) + random horizontal flip */
    int shift;
    int n_noise; /* size of the fixed Gaussian-noise image set of the `noise` deficit */
    /* Added after the first version (trailing, so older initialisers still compile; 0 = off):
     * training only, n_src == 2: with probability rand_zero the whole source a is zeroed, with
     * probability rand_zero source b (disjoint events, so rand_zero <= 0.5), as P1's
     * --is-rand-zero-input (0.1 there) that makes single-source inputs in-distribution. */
    double rand_zero;
} data_cfg;

typedef struct data_pipe data_pipe;

/* Training pipeline over `train` (not copied; must outlive the pipe).  Validates the deficits
 * (kinds, sources, arguments); NULL with the error recorded on bad input. */
data_pipe *data_pipe_alloc(const data_set *train, const data_cfg *cfg, const deficit_list *defs,
                           uint64_t seed);
void data_pipe_free(data_pipe *p);
/* Output tensor geometry: channels = n_src * c, height, width of a view. */
void data_pipe_shape(const data_pipe *p, int *channels, int *h, int *w);
/* Start epoch `epoch`: reshuffle and select the deficits active in it.  Returns the number of
 * batches (the last partial batch is dropped).  Deterministic given the seed and the epoch, so
 * that a run resumed at an epoch boundary replays the same batches. */
int data_pipe_epoch(data_pipe *p, int epoch);
/* Assemble training batch b of the current epoch into x (batch x channels x h x w) and y. */
void data_pipe_batch(data_pipe *p, int b, float *x, int *y);
/* Training batch b of the current epoch as it would be without any deficit: the same images, the
 * same augmentation and random zeroing (cfg), no deficit transform (the batch-norm re-estimation
 * before a test uses it: the test images are clean). */
void data_pipe_batch_clean(data_pipe *p, int b, float *x, int *y);
/* Clean (no augmentation, no deficit) views of images [first, first+count) of any set with the
 * pipe's geometry, e.g. the test set; x is (count x channels x h x w). */
void data_views(const data_pipe *p, const data_set *d, int first, int count, float *x, int *y);

#endif
