/* fuzz_ckpt.c - the CNN checkpoint reader (train_load) against a small network: an accepted checkpoint
 * gives a number of epochs in [0, 10^6] and leaves the network's parameters finite or not, but never
 * reads or writes outside them. */
#include "cnn.h"
#include "fuzz.h"
#include "train.h"

int fuzz_ckpt(const uint8_t *data, size_t n)
{
    static cnn *net;
    if (!net) {
        cnn_cfg cfg = {.arch = CNN_FUSED,
                       .in_c = 1,
                       .in_h = 6,
                       .in_w = 6,
                       .n_class = 4,
                       .width = 2,
                       .depth = 1,
                       .batch = 2,
                       .threads = 1};
        net = cnn_alloc(&cfg);
        if (!net) return -1;
    }
    const char *p = fuzz_file("ck.bin", data, n);
    uint64_t seed;
    int done = -1;
    train_epoch hist[4];
    int bad = 0;
    if (train_load(net, p, &seed, &done, hist, 4, 0) == 0) bad = done < 0 || done > 1000000;
    return bad ? -1 : 0;
}

FUZZ_TARGET(ckpt)
