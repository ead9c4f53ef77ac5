/* fuzz_idx.c - the Fashion-MNIST IDX reader (data_load): the input is split into a labels file and an
 * images file (the first two bytes, little-endian, give the labels file's length); an accepted set has
 * n >= 1 images of 1 x 28 x 28 and labels in [0, 10). */
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "fuzz.h"

int fuzz_idx(const uint8_t *data, size_t n)
{
    size_t nl = n >= 2 ? (size_t)data[0] | (size_t)data[1] << 8 : 0;
    const uint8_t *rest = n >= 2 ? data + 2 : data;
    size_t nr = n >= 2 ? n - 2 : n;
    if (nl > nr) nl = nr;
    fuzz_file("idx/train-labels-idx1-ubyte", rest, nl);
    fuzz_file("idx/train-images-idx3-ubyte", rest + nl, nr - nl);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/idx", fuzz_dir());
    data_set d;
    memset(&d, 0, sizeof d);
    int bad = 0;
    if (data_load("fashion-mnist", dir, 1, 0, NULL, &d) == 0) {
        bad = d.n < 1 || d.c != 1 || d.h != 28 || d.w != 28 || d.n_class != 10;
        for (int i = 0; !bad && i < d.n; i++)
            bad = d.y[i] < 0 || d.y[i] >= 10;
        data_free(&d);
    }
    return bad ? -1 : 0;
}

FUZZ_TARGET(idx)
