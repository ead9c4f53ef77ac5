/* npy.h - NumPy .npy arrays (format version 1.0), and matrices from .npy or whitespace text.
 *
 * Written arrays are little-endian, C order (row-major), dtype '<f8' (double) or '<f4' (float), so
 * that numpy.load() reads them directly.  Files are written to a temporary name and renamed.
 * The reader validates the magic string, version, header dictionary (descr, fortran_order, shape)
 * and that the payload length matches the shape exactly; it converts '<f4'/'<f8'/'<i4'/'<i8' to
 * double.  Every failure records a message naming the file and what is wrong.
 */
#ifndef CRITSIM_NPY_H
#define CRITSIM_NPY_H

#include <stddef.h>

#define NPY_MAXDIM 8

typedef struct {
    int ndim;
    size_t shape[NPY_MAXDIM];
    size_t size;  /* product of shape */
    double *data; /* row-major, malloc'ed */
} npy_array;

/* dtype: "<f8" (data is double*) or "<f4" (data is float*). */
int npy_write(const char *path, const char *dtype, int ndim, const size_t *shape, const void *data);
int npy_write_f64(const char *path, int ndim, const size_t *shape, const double *data);

int npy_read(const char *path, npy_array *out);
void npy_free(npy_array *a); /* frees data; NULL-safe */

/* A 2-D matrix (rows x cols, row-major, malloc'ed) from FILE.npy or a text file of whitespace-
 * separated numbers, one row per line ('#' lines and blank lines ignored).  `what` names the
 * matrix in messages ("--target"). */
int npy_load_matrix(const char *path, const char *what, int *rows, int *cols, double **data);

#endif
