/* util.h - shared error channel, status codes, assertions and small helpers.
 *
 * Two error channels (docs/design.md#errors):
 *  - programming errors (broken invariants, shape mismatches) abort with file:line via CS_ASSERT;
 *  - input and numerical failures return a status code (CS_EUSAGE, CS_EFAIL) after recording one
 *    human-readable line with util_seterr(); the CLI prints it as "critsim CMD: MESSAGE" and exits
 *    with the status.  The message names the problem and, where one exists, the fix.
 *
 * Non-goals: logging levels, localisation, thread safety of the error buffer (each sweep point runs
 * in its own process).
 */
#ifndef CRITSIM_UTIL_H
#define CRITSIM_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define CS_VERSION "0.1.0"

/* Exit statuses (docs/formats.md#exit-status): 0 ok, 1 a run failed numerically, 2 bad usage/input. */
enum { CS_OK = 0, CS_EFAIL = 1, CS_EUSAGE = 2 };

#define CS_ASSERT(cond)                                                                                      \
    do {                                                                                                     \
        if (!(cond)) util_abort(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

void util_abort(const char *file, int line, const char *expr);

/* Record the message of the current failure (printf-style, no trailing newline). Returns `status`
 * so that a failing function can `return util_seterr(CS_EUSAGE, "...", ...);`. */
int util_seterr(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *util_errmsg(void); /* "" when no error was recorded */
void util_clearerr(void);

/* malloc/calloc that exit on exhaustion (out of memory is not recoverable here).  Every large size
 * comes from the command line, so exhaustion is a usage error: one line "critsim: out of memory
 * allocating N bytes for WHAT" on stderr and exit CS_EUSAGE (2).  The command layer names WHAT (the
 * phase and the options that size it, e.g. "the task: reduce --n") with util_set_oom_hint() before it
 * allocates, and util_set_oom_hint(NULL) after; without a hint the line names the usual size options.
 * `what` must outlive the phase (a string literal or static buffer). */
void util_set_oom_hint(const char *what);
void *util_malloc(size_t n);
void *util_calloc(size_t n, size_t size);
char *util_strdup(const char *s);

/* Strict number parsing: the whole string must be consumed, no overflow, finite values only.
 * Return 0 on success, -1 otherwise (no message; callers name the option). */
int util_parse_long(const char *s, long *out);
int util_parse_double(const char *s, double *out);

/* mkdir -p (any length the system accepts; the path is copied into an allocated buffer); returns 0 or
 * sets the error message and returns CS_EUSAGE. */
int util_mkdir_p(const char *path);

/* Wall-clock seconds from a monotonic clock. */
double util_now(void);

/* Join dir and name into buf ("dir/name").  CS_OK, or CS_EUSAGE with the message "path ... is longer
 * than N characters" when it does not fit (buf then holds "", which no file operation accepts, so a
 * caller that does not check cannot open a truncated path).  Buffers are PATH_MAX (limits.h) long
 * wherever a path from the command line goes in: the system refuses longer paths anyway. */
int util_path(char *buf, size_t n, const char *dir, const char *name);

#endif
