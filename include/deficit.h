/* deficit.h - deficit schedules: parsing `KIND[:ARG[:ARG]]@START-END` and the window rule.
 *
 * Step convention (docs/formats.md#steps-and-windows): update number t (t = 0, 1, ...) takes the state after
 * t updates to the state after t + 1.  A windowed deficit `@START-END` affects update t iff START <= t < END;
 * `switch@STEP` affects every update t >= STEP.  The CNN uses the same syntax with epochs.
 *
 * Kinds and their arguments (engines validate which kinds they support and interpret the args):
 *   gate:P            pathway P's parameters get no gradient, its output still counts
 *   lesion:P:MODE     mode MODE of pathway P removed from the output and frozen
 *   remove:P          source P zeroed
 *   noise:P:VAR       noise of variance VAR added to source P (linear); `noise` alone (CNN): inputs
 *                     replaced by a fixed finite set of Gaussian-noise images
 *   decorrelate       cross-covariance between sources set to zero
 *   subset:M          only the first M observed entries used
 *   switch@STEP       task switch
 *   blur[:P]:K        (CNN) down-sample to K x K and back, whole image or source P
 *   flip, labels, dissociate   (CNN) vertical flip, fixed label permutation, source dissociation
 * Pathways and sources are letters a, b, c, ... in order.  One option value may hold several deficits
 * joined by '+' (`gate:b@0-200+lesion:a:1@0-1000`), so that a sweep can vary whole schedules.
 */
#ifndef CRITSIM_DEFICIT_H
#define CRITSIM_DEFICIT_H

#include <limits.h>

#define DEFICIT_MAX 32
/* Largest START, END or STEP (10^15 updates or epochs): sums such as END + clean epochs stay exact. */
#define DEFICIT_MAX_STEP 1000000000000000L

typedef enum {
    DEF_GATE,
    DEF_LESION,
    DEF_REMOVE,
    DEF_NOISE,
    DEF_DECORRELATE,
    DEF_SUBSET,
    DEF_SWITCH,
    DEF_BLUR,
    DEF_FLIP,
    DEF_LABELS,
    DEF_DISSOCIATE,
    DEF_NKIND
} deficit_kind;

/* One argument, converted once by deficit_parse(); its type follows from the kind and the position:
 *   a pathway/source letter  gate:P, lesion:P:_, remove:P, noise:P:_, blur:P:_     (type 's')
 *   an integer               lesion:_:MODE, subset:M, blur:K and blur:_:K            (type 'i')
 *   a real number            noise:_:VAR                                             (type 'r')
 * Engines read these fields (after checking the ranges with deficit_arg_*), never the text. */
typedef struct {
    char type; /* 's', 'i' or 'r' */
    int src;   /* 's': 0-based index of the letter (a = 0) */
    long i;    /* 'i' */
    double r;  /* 'r' */
} deficit_val;

typedef struct {
    deficit_kind kind;
    int nargs;
    char arg[2][32];    /* raw arguments after the kind, in order (for messages) */
    deficit_val val[2]; /* the same arguments, parsed */
    long start, end;    /* affects update t iff start <= t < end (switch: end = LONG_MAX) */
    char text[128];     /* the spec as written, for messages and provenance */
} deficit;

typedef struct {
    int n;
    deficit d[DEFICIT_MAX];
} deficit_list;

/* Parse one spec (no '+'), its arguments included (letters, integers, reals: see deficit_val).  CS_OK
 * or CS_EUSAGE with a message quoting the spec. */
int deficit_parse(const char *spec, deficit *out);
/* Append the deficits of one value that may join several with '+' (`gate:b@0-200+lesion:a:1@0-1000`).
 * `what` names where the value came from in messages (the command layer passes its option, "--deficit").
 * CS_OK or CS_EUSAGE (an empty part, more than DEFICIT_MAX deficits, a bad spec). */
int deficit_list_add(deficit_list *out, const char *value, const char *what);

static inline int deficit_active(const deficit *d, long t)
{
    return t >= d->start && t < d->end;
}

const char *deficit_kind_name(deficit_kind k);

/* Range checks of the parsed arguments, with messages naming the deficit (a missing argument or one of
 * another type is refused too).  Sources/pathways are letters; *out is the 0-based index, checked
 * against nsources. */
int deficit_arg_source(const deficit *d, int argi, int nsources, int *out);
int deficit_arg_long(const deficit *d, int argi, long lo, long hi, long *out);
int deficit_arg_double(const deficit *d, int argi, double lo, double hi, double *out);
/* Usage error "deficit 'TEXT': KIND is not supported by critsim CMD (supported: LIST)". */
int deficit_unsupported(const deficit *d, const char *cmd, const char *supported);

#endif
