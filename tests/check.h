/* check.h - the test harness: counted checks with explicit, NaN-aware tolerances.
 *
 * Every CHECK* counts one check.  A failure prints
 *     FAIL file:line expr: got G want W (|err| E > tol T)
 * and the program continues.  check_done() prints "NAME: N passed, M failed" and returns the exit
 * status (non-zero on any failure).  tests/run.sh sums the programs into the final line.
 *
 * CHECK_CLOSE(got, want, rtol, atol) passes iff |got - want| <= atol + rtol * |want|; a NaN on either
 * side fails unless both are NaN (NaN-aware).  Always write next to each tolerance where it comes from.
 */
#ifndef CRITSIM_CHECK_H
#define CRITSIM_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_pass_, check_fail_;

#define CHECK(expr)                                                                                          \
    do {                                                                                                     \
        if (expr)                                                                                            \
            check_pass_++;                                                                                   \
        else {                                                                                               \
            check_fail_++;                                                                                   \
            printf("FAIL %s:%d %s\n", __FILE__, __LINE__, #expr);                                            \
        }                                                                                                    \
    } while (0)

#define CHECK_CLOSE(got, want, rtol, atol)                                                                   \
    check_close_(__FILE__, __LINE__, #got, (double)(got), (double)(want), (rtol), (atol))

#define CHECK_INT(got, want)                                                                                 \
    do {                                                                                                     \
        long g_ = (long)(got), w_ = (long)(want);                                                            \
        if (g_ == w_)                                                                                        \
            check_pass_++;                                                                                   \
        else {                                                                                               \
            check_fail_++;                                                                                   \
            printf("FAIL %s:%d %s: got %ld want %ld\n", __FILE__, __LINE__, #got, g_, w_);                   \
        }                                                                                                    \
    } while (0)

static inline int check_close_(const char *file, int line, const char *expr, double got, double want,
                               double rtol, double atol)
{
    double err = fabs(got - want), tol = atol + rtol * fabs(want);
    int ok = (isnan(got) && isnan(want)) || (!isnan(got) && !isnan(want) && err <= tol) ||
             (isinf(got) && got == want);
    if (ok)
        check_pass_++;
    else {
        check_fail_++;
        printf("FAIL %s:%d %s: got %.17g want %.17g (|err| %.3g > tol %.3g)\n", file, line, expr, got, want,
               err, tol);
    }
    return ok;
}

/* Largest |a_i - b_i| - (atol + rtol |b_i|) over n values, as one check; prints the worst entry. */
static inline int check_array_close_(const char *file, int line, const char *expr, const double *a,
                                     const double *b, size_t n, double rtol, double atol)
{
    size_t worst = 0;
    double wexc = -INFINITY;
    int nan_bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) != isnan(b[i])) {
            nan_bad = 1;
            worst = i;
            break;
        }
        if (isnan(a[i])) continue;
        double exc = fabs(a[i] - b[i]) - (atol + rtol * fabs(b[i]));
        if (exc > wexc) {
            wexc = exc;
            worst = i;
        }
    }
    int ok = !nan_bad && (n == 0 || wexc <= 0);
    if (ok)
        check_pass_++;
    else {
        check_fail_++;
        printf("FAIL %s:%d %s: worst at [%zu]: got %.17g want %.17g\n", file, line, expr, worst,
               n ? a[worst] : 0.0, n ? b[worst] : 0.0);
    }
    return ok;
}
#define CHECK_ARRAY_CLOSE(a, b, n, rtol, atol)                                                               \
    check_array_close_(__FILE__, __LINE__, #a " vs " #b, (a), (b), (n), (rtol), (atol))

static inline int check_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}

#endif
