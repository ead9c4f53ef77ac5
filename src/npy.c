/* npy.c - .npy writer/reader and text-matrix reader (see npy.h).
 * Format: "\x93NUMPY", major 1, minor 0, little-endian uint16 header length, an ASCII Python dict
 * literal padded with spaces and terminated by '\n' so that magic+len+header is a multiple of 64.
 * Written through publish.h (temporary file, then rename). */
#include "npy.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "publish.h"
#include "util.h"

int npy_write(const char *path, const char *dtype, int ndim, const size_t *shape, const void *data)
{
    CS_ASSERT(ndim >= 0 && ndim <= NPY_MAXDIM);
    size_t esize = strcmp(dtype, "<f4") == 0 ? 4 : 8;
    CS_ASSERT(esize == 4 || strcmp(dtype, "<f8") == 0);
    char shp[256] = "";
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        char b[32];
        snprintf(b, sizeof b, i ? ", %zu" : "%zu", shape[i]);
        strcat(shp, b);
        count *= shape[i];
    }
    if (ndim == 1) strcat(shp, ",");
    char header[512];
    int hl = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                      dtype, shp);
    int total = 10 + hl + 1;
    int pad = (64 - total % 64) % 64;
    pub *pb = pub_open(path, 0);
    if (!pb) return CS_EUSAGE;
    FILE *f = pub_stream(pb);
    uint16_t len = (uint16_t)(hl + pad + 1);
    unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(header, 1, (size_t)hl, f);
    for (int i = 0; i < pad; i++)
        fputc(' ', f);
    fputc('\n', f);
    if (count) fwrite(data, esize, count, f);
    return pub_commit(pb);
}

int npy_write_f64(const char *path, int ndim, const size_t *shape, const double *data)
{
    return npy_write(path, "<f8", ndim, shape, data);
}

void npy_free(npy_array *a)
{
    if (!a) return;
    free(a->data);
    a->data = NULL;
}

static int bad(const char *path, const char *why)
{
    return util_seterr(CS_EUSAGE, "'%s' is not a valid .npy file: %s; re-create it with numpy.save", path,
                       why);
}

/* npy_read's steps.  The magic string, the version and the header text (*hdr, malloc'ed). */
static int read_header(FILE *f, const char *path, char **hdr)
{
    unsigned char pre[10];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return bad(path, "missing magic string");
    size_t hlen;
    if (pre[6] == 1) {
        if (fread(pre + 8, 1, 2, f) != 2) return bad(path, "truncated header");
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else if (pre[6] == 2 || pre[6] == 3) {
        unsigned char l4[4];
        if (fread(l4, 1, 4, f) != 4) return bad(path, "truncated header");
        hlen = (size_t)l4[0] | ((size_t)l4[1] << 8) | ((size_t)l4[2] << 16) | ((size_t)l4[3] << 24);
    } else {
        return bad(path, "unsupported format version");
    }
    if (hlen > 1 << 20) return bad(path, "header too long");
    *hdr = util_malloc(hlen + 1);
    if (fread(*hdr, 1, hlen, f) != hlen) return bad(path, "truncated header");
    (*hdr)[hlen] = '\0';
    return CS_OK;
}

/* The header's dtype (*esize bytes; *kind 0 f8, 1 f4, 2 i4, 3 i8), C order, and shape (out->shape,
 * out->ndim, out->size, the product checked for overflow). */
static int parse_header(const char *path, const char *hdr, size_t *esize, int *kind, npy_array *out)
{
    const char *d = strstr(hdr, "'descr'");
    const char *fo = strstr(hdr, "'fortran_order'");
    const char *sh = strstr(hdr, "'shape'");
    if (!d || !fo || !sh) return bad(path, "header lacks descr/fortran_order/shape");
    char descr[16] = "";
    if (sscanf(d, "'descr' : '%15[^']'", descr) != 1 && sscanf(d, "'descr': '%15[^']'", descr) != 1)
        return bad(path, "cannot read descr");
    if (strstr(fo, "True") && (!strstr(fo, "False") || strstr(fo, "True") < strstr(fo, "False")))
        return bad(path, "Fortran order is not supported (save a C-contiguous array)");
    if (!strcmp(descr, "<f8") || !strcmp(descr, "=f8")) {
        *esize = 8;
        *kind = 0;
    } else if (!strcmp(descr, "<f4") || !strcmp(descr, "=f4")) {
        *esize = 4;
        *kind = 1;
    } else if (!strcmp(descr, "<i4") || !strcmp(descr, "=i4")) {
        *esize = 4;
        *kind = 2;
    } else if (!strcmp(descr, "<i8") || !strcmp(descr, "=i8")) {
        *esize = 8;
        *kind = 3;
    } else {
        return bad(path, "dtype must be float64, float32, int32 or int64");
    }
    const char *p = strchr(sh, '(');
    const char *q = p ? strchr(p, ')') : NULL;
    if (!p || !q) return bad(path, "cannot read shape");
    out->ndim = 0;
    out->size = 1;
    for (p++; p < q;) {
        while (p < q && (*p == ' ' || *p == ','))
            p++;
        if (p >= q) break;
        if (*p < '0' || *p > '9') /* strtoull would accept "-1" (as 2^64 - 1) and "+1" */
            return bad(path, "bad shape (every dimension must be a non-negative integer)");
        char *e;
        errno = 0;
        unsigned long long v = strtoull(p, &e, 10);
        if (e == p || e > q || errno || out->ndim >= NPY_MAXDIM || v > SIZE_MAX)
            return bad(path, "bad shape");
        out->shape[out->ndim++] = (size_t)v;
        p = e;
    }
    /* the product of the dimensions, checked for overflow (a wrapped product could pass the payload
     * check with an empty payload and index far outside it) */
    for (int i = 0; i < out->ndim; i++)
        if (__builtin_mul_overflow(out->size, out->shape[i], &out->size) || out->size > ((size_t)1 << 34))
            return bad(path, "array too large (the shape's product exceeds 2^34 elements)");
    return CS_OK;
}

/* n elements of the given kind (little-endian, as stored) as doubles */
static void to_double(const unsigned char *raw, int kind, size_t n, double *x)
{
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: {
            double v;
            memcpy(&v, raw + 8 * i, 8);
            x[i] = v;
            break;
        }
        case 1: {
            float v;
            memcpy(&v, raw + 4 * i, 4);
            x[i] = v;
            break;
        }
        case 2: {
            int32_t v;
            memcpy(&v, raw + 4 * i, 4);
            x[i] = v;
            break;
        }
        default: {
            int64_t v;
            memcpy(&v, raw + 8 * i, 8);
            x[i] = (double)v;
            break;
        }
        }
    }
}

int npy_read(const char *path, npy_array *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return util_seterr(CS_EUSAGE, "cannot open '%s': %s", path, strerror(errno));
    char *hdr = NULL;
    size_t esize = 0;
    int kind = 0;
    int rc = read_header(f, path, &hdr);
    if (rc == CS_OK) rc = parse_header(path, hdr, &esize, &kind, out);
    if (rc != CS_OK) goto done;
    long here = ftell(f);
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    if (here < 0 || end < here || (size_t)(end - here) != out->size * esize) {
        char why[160];
        snprintf(why, sizeof why, "payload is %ld bytes but the shape needs %zu (truncated or corrupted)",
                 end - here, out->size * esize);
        rc = bad(path, why);
        goto done;
    }
    fseek(f, here, SEEK_SET);
    unsigned char *raw = util_malloc(out->size * esize + 1);
    if (fread(raw, esize, out->size, f) != out->size) {
        free(raw);
        rc = bad(path, "short read");
        goto done;
    }
    out->data = util_malloc((out->size ? out->size : 1) * sizeof(double));
    to_double(raw, kind, out->size, out->data);
    free(raw);
done:
    free(hdr);
    fclose(f);
    if (rc != CS_OK) npy_free(out);
    return rc;
}

int npy_load_matrix(const char *path, const char *what, int *rows, int *cols, double **data)
{
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".npy") == 0) {
        npy_array a;
        int rc = npy_read(path, &a);
        if (rc) {
            char msg[1024]; /* util_errmsg() is the buffer util_seterr writes: copy it first */
            snprintf(msg, sizeof msg, "%s", util_errmsg());
            return util_seterr(rc, "%s: %s", what, msg);
        }
        if (a.ndim != 2) {
            npy_free(&a);
            return util_seterr(CS_EUSAGE, "%s: '%s' holds a %d-D array; a matrix (2-D) is needed", what, path,
                               a.ndim);
        }
        if (a.shape[0] == 0 || a.shape[1] == 0 || a.shape[0] > INT_MAX || a.shape[1] > INT_MAX) {
            size_t r = a.shape[0], c = a.shape[1];
            npy_free(&a);
            return util_seterr(
                CS_EUSAGE, "%s: '%s' holds a %zu x %zu matrix; at least one row and one column are needed",
                what, path, r, c);
        }
        for (size_t i = 0; i < a.size; i++)
            if (!isfinite(a.data[i])) {
                size_t c = a.shape[1];
                double v = a.data[i];
                npy_free(&a);
                return util_seterr(CS_EUSAGE, "%s: '%s' entry (%zu, %zu) is %g; every entry must be finite",
                                   what, path, i / c, i % c, v);
            }
        *rows = (int)a.shape[0];
        *cols = (int)a.shape[1];
        *data = a.data;
        return CS_OK;
    }
    FILE *f = fopen(path, "r");
    if (!f) return util_seterr(CS_EUSAGE, "%s: cannot open '%s': %s", what, path, strerror(errno));
    size_t cap = 256, cnt = 0;
    double *x = util_malloc(cap * sizeof *x);
    int r = 0, c = -1, line = 0;
    char buf[1 << 16];
    while (fgets(buf, sizeof buf, f)) {
        line++;
        if (!strchr(buf, '\n') && !feof(f)) {
            fclose(f);
            free(x);
            return util_seterr(CS_EUSAGE, "%s: '%s' line %d is longer than %zu characters", what, path, line,
                               sizeof buf);
        }
        char *p = buf;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') continue;
        int k = 0;
        for (;;) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            if (*p == '\n' || *p == '\r' || *p == '\0') break;
            char *e;
            double v = strtod(p, &e);
            if (e == p || !isfinite(v) || (*e && !strchr(" \t,\r\n", *e))) {
                fclose(f);
                free(x);
                int tl = (int)strcspn(p, " \t,\r\n"); /* quote the token only, never the newline */
                if (tl > 20) tl = 20;
                return util_seterr(CS_EUSAGE, "%s: '%s' line %d: '%.*s' is not a finite number", what, path,
                                   line, tl, p);
            }
            if (cnt == cap) {
                cap *= 2;
                double *y = realloc(x, cap * sizeof *x);
                if (!y) util_malloc((size_t)-1);
                x = y;
            }
            x[cnt++] = v;
            k++;
            p = e;
        }
        if (c < 0)
            c = k;
        else if (k != c) {
            fclose(f);
            free(x);
            return util_seterr(CS_EUSAGE, "%s: '%s' line %d has %d columns, earlier rows have %d", what, path,
                               line, k, c);
        }
        r++;
    }
    fclose(f);
    if (r == 0) {
        free(x);
        return util_seterr(CS_EUSAGE, "%s: '%s' holds no numbers", what, path);
    }
    *rows = r;
    *cols = c;
    *data = x;
    return CS_OK;
}
