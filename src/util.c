/* util.c - error channel, checked allocation, strict number parsing, paths and clocks.
 * See util.h for the conventions.  Nothing here is numerically interesting. */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char util_err_buf[1024];

void util_abort(const char *file, int line, const char *expr)
{
    fprintf(stderr, "critsim: internal error at %s:%d: assertion '%s' failed (please report)\n", file, line,
            expr);
    abort();
}

int util_seterr(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(util_err_buf, sizeof util_err_buf, fmt, ap);
    va_end(ap);
    return status;
}

const char *util_errmsg(void)
{
    return util_err_buf;
}
void util_clearerr(void)
{
    util_err_buf[0] = '\0';
}

/* What the command layer is sizing right now (e.g. "the task: reduce --n"), named in the out-of-memory
 * line; NULL outside any sized phase. */
static const char *util_oom_what;

void util_set_oom_hint(const char *what)
{
    util_oom_what = what;
}

/* Out of memory: the sizes come from the command line, so this is a usage error (exit 2), reported on
 * one line that names the options to reduce. */
static void util_oom(double bytes)
{
    if (util_oom_what)
        fprintf(stderr, "critsim: out of memory allocating %.0f bytes for %s\n", bytes, util_oom_what);
    else
        fprintf(stderr,
                "critsim: out of memory allocating %.0f bytes: reduce the sizes the options ask for "
                "(matrix sizes, units, layers, ...)\n",
                bytes);
    exit(CS_EUSAGE);
}

void *util_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) util_oom((double)n);
    return p;
}

void *util_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) util_oom((double)n * (double)size);
    return p;
}

char *util_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = util_malloc(n);
    memcpy(p, s, n);
    return p;
}

int util_parse_long(const char *s, long *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0') return -1;
    *out = v;
    return 0;
}

int util_parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)) return -1;
    if (end == s || *end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int util_mkdir_p(const char *path)
{
    size_t n = strlen(path);
    if (n == 0) return util_seterr(CS_EUSAGE, "invalid directory name ''");
    char *buf = util_strdup(path);
    int rc = CS_OK;
    for (char *p = buf + 1; *p && rc == CS_OK; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            rc = util_seterr(CS_EUSAGE, "cannot create directory '%.200s%s': %s", buf,
                             strlen(buf) > 200 ? "..." : "", strerror(errno));
        *p = '/';
    }
    if (rc == CS_OK && mkdir(buf, 0777) != 0 && errno != EEXIST)
        rc = util_seterr(CS_EUSAGE, "cannot create directory '%.200s%s': %s", buf, n > 200 ? "..." : "",
                         strerror(errno));
    struct stat st;
    if (rc == CS_OK && (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = util_seterr(CS_EUSAGE, "'%.200s%s' exists and is not a directory; choose another folder", buf,
                         n > 200 ? "..." : "");
    free(buf);
    return rc;
}

double util_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int util_path(char *buf, size_t n, const char *dir, const char *name)
{
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k > 0 && (size_t)k < n) return CS_OK;
    if (n) buf[0] = '\0';
    return util_seterr(CS_EUSAGE,
                       "path '%.40s...%s' is longer than %zu characters; choose a shorter folder name", dir,
                       name, n - 1);
}
