/* fuzz_matrix.c - the text-matrix reader (npy_load_matrix on a whitespace text file): an accepted file
 * gives rows, cols >= 1, every element finite and readable. */
#include <math.h>
#include <stdlib.h>

#include "fuzz.h"
#include "npy.h"

int fuzz_matrix(const uint8_t *data, size_t n)
{
    const char *p = fuzz_file("m.txt", data, n);
    int rows, cols, bad = 0;
    double *m;
    if (npy_load_matrix(p, "fuzz", &rows, &cols, &m) == 0) {
        bad = rows < 1 || cols < 1;
        for (long i = 0; !bad && i < (long)rows * cols; i++)
            bad = !isfinite(m[i]);
        free(m);
    }
    return bad ? -1 : 0;
}

FUZZ_TARGET(matrix)
