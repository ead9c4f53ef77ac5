/* table.c - provenance-headed text tables published atomically (see table.h).
 *
 * The header is written into the body file when the first row is (table_row, table_stream); if no
 * header line or column name changes after that, table_close() only appends the tail and publishes the
 * body file.  Otherwise (a header line added after rows, e.g. solver statistics) the body is copied
 * under the complete header into a second temporary file, which is published.  Either way the reader
 * sees the same bytes, and nothing under the final name before the table is complete.  Both temporary
 * files come from publish.h (unpredictable names, created exclusively, never through a link). */
#include "table.h"

#include <errno.h>
#include <fenv.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "publish.h"
#include "util.h"
#include "version.h"

struct table {
    char *path; /* DIR/NAME, malloc'ed */
    pub *pb;    /* the body file */
    FILE *body;
    char **meta;
    int nmeta, capmeta;
    char *columns;
    long hdr_end; /* bytes of header in the body file; -1: header not written yet */
    int stale;    /* header lines or columns changed after the header was written */
    void (*reword)(const void *ctx, const char *msg, char *out, size_t n); /* table_prov.reword */
    const void *reword_ctx;
};

static void meta_add(table *t, const char *line)
{
    if (t->nmeta == t->capmeta) {
        t->capmeta = t->capmeta ? 2 * t->capmeta : 16;
        char **p = realloc(t->meta, (size_t)t->capmeta * sizeof *p);
        if (!p) util_malloc((size_t)-1);
        t->meta = p;
    }
    t->meta[t->nmeta++] = util_strdup(line);
    if (t->hdr_end >= 0) t->stale = 1;
}

/* the header as it stands, at the top of the body file (before the first row) */
static void header_write(table *t)
{
    long n = 0;
    for (int i = 0; i < t->nmeta; i++)
        n += (long)strlen(t->meta[i]) + 3;
    if (t->columns) n += (long)strlen(t->columns) + 3;
    for (int i = 0; i < t->nmeta; i++)
        fprintf(t->body, "# %s\n", t->meta[i]);
    if (t->columns) fprintf(t->body, "# %s\n", t->columns);
    t->hdr_end = n; /* "# " + line + "\n" each; a write error shows in ferror at publication */
}

table *table_open(const char *dir, const char *name, const table_prov *prov)
{
    if (util_mkdir_p(dir) != CS_OK) return NULL;
    size_t pl = strlen(dir) + strlen(name) + 2;
    char *path = util_malloc(pl);
    snprintf(path, pl, "%s/%s", dir, name);
    pub *pb = pub_open(path, 0);
    if (!pb) {
        free(path);
        return NULL;
    }
    table *t = util_calloc(1, sizeof *t);
    t->hdr_end = -1;
    t->path = path;
    t->pb = pb;
    t->body = pub_stream(pb);
    if (prov) t->reword = prov->reword, t->reword_ctx = prov->reword_ctx;
    char line[256];
    snprintf(line, sizeof line, "critsim %s: %s", cs_version_line(), name); /* "0.1.0+BUILDID" */
    meta_add(t, line);
    if (prov && prov->cmdline) {
        size_t n = strlen(prov->cmdline) + 16;
        char *c = util_malloc(n);
        snprintf(c, n, "command: %s", prov->cmdline);
        meta_add(t, c);
        free(c);
    }
    if (prov && prov->model && prov->model[0]) {
        size_t n = strlen(prov->model) + 32;
        char *c = util_malloc(n);
        snprintf(c, n, "from the model file: %s", prov->model);
        meta_add(t, c);
        free(c);
    }
    if (prov && prov->seed) {
        snprintf(line, sizeof line, "seed: %s", prov->seed);
        meta_add(t, line);
    }
    return t;
}

void table_meta(table *t, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    meta_add(t, buf);
}

void table_columns(table *t, const char *cols)
{
    free(t->columns);
    t->columns = util_strdup(cols);
    if (t->hdr_end >= 0) t->stale = 1;
}

void table_row(table *t, const char *fmt, ...)
{
    if (t->hdr_end < 0) header_write(t);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->body, fmt, ap);
    va_end(ap);
    fputc('\n', t->body);
}

FILE *table_stream(table *t)
{
    if (t->hdr_end < 0) header_write(t);
    return t->body;
}

static void table_release(table *t)
{
    for (int i = 0; i < t->nmeta; i++)
        free(t->meta[i]);
    free(t->meta);
    free(t->columns);
    free(t->path);
    free(t);
}

static int publish(table *t, const char *tail)
{
    if (t->hdr_end < 0) header_write(t); /* no rows: the header is all */
    if (!t->stale) {                     /* the body file is the table: finish it and publish it */
        if (tail) fprintf(t->body, "%s\n", tail);
        int status = pub_commit(t->pb);
        table_release(t);
        return status;
    }
    int status = CS_OK;
    if (fflush(t->body) != 0 || ferror(t->body))
        status = util_seterr(CS_EUSAGE, "write error on '%s': %s (disk full?)", t->path, strerror(errno));
    pub *out = status == CS_OK ? pub_open(t->path, 0) : NULL;
    if (status == CS_OK && !out) status = CS_EUSAGE;
    if (out) {
        FILE *o = pub_stream(out);
        for (int i = 0; i < t->nmeta; i++)
            fprintf(o, "# %s\n", t->meta[i]);
        if (t->columns) fprintf(o, "# %s\n", t->columns);
        FILE *in = fopen(pub_tmp_path(t->pb), "r");
        int rerr = !in || fseek(in, t->hdr_end, SEEK_SET) != 0;
        if (!rerr) {
            char buf[1 << 16];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                fwrite(buf, 1, n, o);
            rerr = ferror(in);
        }
        if (in) fclose(in);
        if (tail) fprintf(o, "%s\n", tail);
        if (rerr) {
            pub_abort(out);
            status =
                util_seterr(CS_EUSAGE, "cannot read back '%s' to publish '%s'", pub_tmp_path(t->pb), t->path);
        } else
            status = pub_commit(out);
    }
    pub_abort(t->pb);
    table_release(t);
    return status;
}

int table_close(table *t)
{
    return publish(t, NULL);
}

int table_fail(table *t, long step, const char *reason)
{
    char tail[1024], said[1000];
    if (t->reword && reason) {
        t->reword(t->reword_ctx, reason, said, sizeof said);
        reason = said;
    }
    snprintf(tail, sizeof tail, "# FAILED at step %ld: %s", step, reason);
    int rc = publish(t, tail);
    return rc == CS_OK ? CS_EFAIL : rc;
}

void table_discard(table *t)
{
    if (!t) return;
    pub_abort(t->pb);
    table_release(t);
}

static int outcomes(const char *dir, const table_prov *prov, int n, const char *const *keys,
                    const double *values, long fail_step, const char *why)
{
    table *t = table_open(dir, "final.dat", prov);
    if (!t) return CS_EUSAGE;
    table_meta(t, "key outcomes of the run, one per row (read by critsim sweep)");
    table_columns(t, "key value");
    for (int i = 0; i < n; i++) {
        if (isnan(values[i]))
            table_row(t, "%s nan", keys[i]);
        else
            table_row(t, "%s %.17g", keys[i], values[i]);
    }
    return why ? table_fail(t, fail_step, why) : table_close(t);
}

int table_write_outcomes(const char *dir, const table_prov *prov, int n, const char *const *keys,
                         const double *values)
{
    return outcomes(dir, prov, n, keys, values, 0, NULL);
}

int table_write_outcomes_failed(const char *dir, const table_prov *prov, int n, const char *const *keys,
                                const double *values, long step, const char *reason)
{
    char why[1024]; /* the reason is often util_errmsg(), which table_open may overwrite */
    snprintf(why, sizeof why, "%s", reason && reason[0] ? reason : "numerical failure");
    for (char *c = why; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    return outcomes(dir, prov, n, keys, values, step, why);
}

/* ---- fast row formatting ---------------------------------------------------------------------
 * |x| = m 2^q (m < 2^53).  With E = floor(log10 |x|) and k = 16 - E in 0..32, |x| 10^k = m 5^k 2^(q+k)
 * is computed exactly in 128 bits (m 5^32 < 2^128): its integer part has the 17 significant digits,
 * the remainder decides the rounding exactly (half to even, as glibc in FE_TONEAREST).  The layout then
 * follows C11 7.21.6.1 for %.17g: style f when -4 <= E < 17, else style e (two-digit exponent at
 * least), trailing zeros and a bare '.' removed. */
typedef unsigned __int128 u128;
/* 5^k, k = 0..32 */
#define G17_U128(hi, lo) (((u128)(hi) << 64) | (u128)(lo))
static const u128 g17_pow5[33] = {
    1ULL,
    5ULL,
    25ULL,
    125ULL,
    625ULL,
    3125ULL,
    15625ULL,
    78125ULL,
    390625ULL,
    1953125ULL,
    9765625ULL,
    48828125ULL,
    244140625ULL,
    1220703125ULL,
    6103515625ULL,
    30517578125ULL,
    152587890625ULL,
    762939453125ULL,
    3814697265625ULL,
    19073486328125ULL,
    95367431640625ULL,
    476837158203125ULL,
    2384185791015625ULL,
    11920928955078125ULL,
    59604644775390625ULL,
    298023223876953125ULL,
    1490116119384765625ULL,
    7450580596923828125ULL,
    G17_U128(2ULL, 359414837200037393ULL),
    G17_U128(10ULL, 1797074186000186965ULL),
    G17_U128(50ULL, 8985370930000934825ULL),
    G17_U128(252ULL, 8033366502585570893ULL),
    G17_U128(1262ULL, 3273344365508751233ULL),
};

/* floor(m 5^k 2^(q+k)) into *ip and the remainder against one half into *cmp (-1, 0, 1); 0 when the
 * case is out of range */
static int g17_scaled(uint64_t m, int q, int k, uint64_t *ip, int *cmp)
{
    if (k < 0 || k > 32) return 0;
    u128 P = (u128)m * g17_pow5[k];
    int s = q + k;
    if (s >= 0) {
        if (s > 63 || (P >> (64 - s)) != 0) return 0;
        *ip = (uint64_t)(P << s);
        *cmp = -1;
        return 1;
    }
    int t = -s;
    if (t > 127) return 0;
    u128 hi = P >> t, rem = P - (hi << t), half = (u128)1 << (t - 1);
    if (hi >> 64) return 0;
    *ip = (uint64_t)hi;
    *cmp = rem < half ? -1 : rem == half ? 0 : 1;
    return 1;
}

int table_fmt_g17(char *buf, double x)
{
    const uint64_t e16 = 10000000000000000ULL, e17 = 100000000000000000ULL;
    double ax = fabs(x);
    if (ax == 0.0 || isnan(ax)) { /* common in the tables: "0", "-0", "nan", "-nan" as glibc */
        const char *w = ax == 0.0 ? (signbit(x) ? "-0" : "0") : (signbit(x) ? "-nan" : "nan");
        size_t l = strlen(w);
        memcpy(buf, w, l + 1);
        return (int)l;
    }
    if (!(ax >= 1e-16 && ax < 1e17) || fegetround() != FE_TONEAREST)
        return snprintf(buf, TABLE_G17_LEN, "%.17g", x);
    uint64_t bits;
    memcpy(&bits, &ax, sizeof bits);
    int be = (int)(bits >> 52);
    uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    int q = be - 1075;
    /* |x| in [2^(q+52), 2^(q+53)): this E is floor(log10 |x|) or one less */
    int E = (int)floor((double)(q + 52) * 0.30102999566398120);
    uint64_t ip = 0;
    int cmp = 0, it = 0;
    for (;; it++) {
        if (it == 4 || !g17_scaled(m, q, 16 - E, &ip, &cmp)) return snprintf(buf, TABLE_G17_LEN, "%.17g", x);
        if (ip < e16)
            E--;
        else if (ip >= e17)
            E++;
        else
            break;
    }
    if (cmp > 0 || (cmp == 0 && (ip & 1))) ip++;
    if (ip == e17) {
        ip = e16;
        E++;
    }
    /* the 17 digits of ip (< 10^17): its high 9 and low 8 digits two at a time, in two independent
     * chains of 32-bit divisions (one 64-bit division per digit was most of the formatter's time) */
    static const char dig2[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char d[17];
    uint32_t hi = (uint32_t)(ip / 100000000u), lo = (uint32_t)(ip % 100000000u);
    for (int i = 15; i >= 9; i -= 2) {
        memcpy(d + i, dig2 + 2 * (lo % 100), 2);
        lo /= 100;
        memcpy(d + i - 8, dig2 + 2 * (hi % 100), 2);
        hi /= 100;
    }
    d[0] = (char)('0' + hi);
    int last = 16; /* last significant digit once trailing zeros are removed */
    while (last > 0 && d[last] == '0')
        last--;
    char *o = buf;
    if (x < 0) *o++ = '-';
    if (E >= -4 && E < 17) {
        if (E >= 0) {
            memcpy(o, d, (size_t)E + 1);
            o += E + 1;
            if (last > E) {
                *o++ = '.';
                memcpy(o, d + E + 1, (size_t)(last - E));
                o += last - E;
            }
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -E - 1; i++)
                *o++ = '0';
            memcpy(o, d, (size_t)last + 1);
            o += last + 1;
        }
    } else {
        *o++ = d[0];
        if (last > 0) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)last);
            o += last;
        }
        *o++ = 'e';
        *o++ = E < 0 ? '-' : '+';
        int ae = E < 0 ? -E : E;
        if (ae >= 100) *o++ = (char)('0' + ae / 100);
        *o++ = (char)('0' + ae / 10 % 10);
        *o++ = (char)('0' + ae % 10);
    }
    *o = 0;
    return (int)(o - buf);
}

int table_fmt_long(char *buf, long v)
{
    char tmp[24];
    int n = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    char *o = buf;
    if (v < 0) *o++ = '-';
    while (n)
        *o++ = tmp[--n];
    *o = 0;
    return (int)(o - buf);
}
