/* fuzz_npy.c - the .npy reader (npy_read, npy_load_matrix): an accepted file has a shape whose
 * product is the element count and every element can be read. */
#include <math.h>
#include <stdlib.h>

#include "fuzz.h"
#include "npy.h"

int fuzz_npy(const uint8_t *data, size_t n)
{
    const char *p = fuzz_file("x.npy", data, n);
    npy_array a;
    int bad = 0;
    if (npy_read(p, &a) == 0) {
        size_t prod = 1;
        for (int i = 0; i < a.ndim; i++)
            bad |= __builtin_mul_overflow(prod, a.shape[i], &prod); /* an accepted shape does not wrap */
        for (size_t i = 0; i < a.size; i++) /* every element readable (ASan checks the bounds) */
            fuzz_sink += a.data[i];
        bad |= prod != a.size || a.ndim < 0 || a.ndim > NPY_MAXDIM;
        npy_free(&a);
    }
    int rows, cols;
    double *m;
    if (npy_load_matrix(p, "fuzz", &rows, &cols, &m) == 0) {
        for (long i = 0; i < (long)rows * cols; i++)
            fuzz_sink += m[i];
        bad |= rows < 1 || cols < 1;
        for (long i = 0; !bad && i < (long)rows * cols; i++)
            bad = !isfinite(m[i]); /* every input matrix is finite */
        free(m);
    }
    return bad ? -1 : 0;
}

FUZZ_TARGET(npy)
