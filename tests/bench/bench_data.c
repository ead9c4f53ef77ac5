/* bench_data.c - throughput of the CNN data layer: Fashion-MNIST load (all 70000 images decompressed
 * and validated) and training-batch assembly in images per second for clean views, augmentation,
 * blur of one source and the noise deficit.  Prints figures, asserts nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "data.h"
#include "util.h"

static void run(const data_set *tr, const char *label, int augment, const char *def)
{
    data_cfg cfg = {
        .n_src = 2, .views = DATA_VIEWS_ZERO, .batch = 128, .augment = augment, .shift = 4, .n_noise = 0};
    deficit_list l = {0};
    if (def && deficit_parse(def, &l.d[l.n++])) {
        fprintf(stderr, "%s\n", util_errmsg());
        exit(1);
    }
    data_pipe *p = data_pipe_alloc(tr, &cfg, &l, 1);
    int c, h, w;
    data_pipe_shape(p, &c, &h, &w);
    float *x = malloc(sizeof(float) * 128 * c * h * w);
    int y[128];
    int nb = data_pipe_epoch(p, 0);
    double t0 = util_now();
    for (int b = 0; b < nb; b++)
        data_pipe_batch(p, b, x, y);
    double dt = util_now() - t0;
    printf("  batch assembly %-28s %10.0f images/s\n", label, nb * 128 / dt);
    free(x);
    data_pipe_free(p);
}

int main(void)
{
    data_set tr, te;
    double t0 = util_now();
    if (data_load("fashion-mnist", NULL, 1, 10000, NULL, &tr) ||
        data_load("fashion-mnist", NULL, 0, 0, &tr, &te)) {
        printf("bench_data: %s (skipped)\n", util_errmsg());
        return 0;
    }
    printf("bench_data: fashion-mnist load (70000 images read and validated, 20000 kept): %.2f s\n",
           util_now() - t0);
    run(&tr, "clean, 2 sources (zero)", 0, NULL);
    run(&tr, "augment (shift 4 + h-flip)", 1, NULL);
    run(&tr, "augment + blur:b:8", 1, "blur:b:8@0-10");
    run(&tr, "blur:8 (whole image)", 0, "blur:8@0-10");
    run(&tr, "noise", 0, "noise@0-10");
    data_free(&tr);
    data_free(&te);
    return 0;
}
