/* deficit.c - parsing of deficit schedules (see deficit.h for syntax and the window rule). */
#include "deficit.h"

#include <string.h>

#include "util.h"

static const char *const kind_names[DEF_NKIND] = {"gate",        "lesion", "remove",    "noise",
                                                  "decorrelate", "subset", "switch",    "blur",
                                                  "flip",        "labels", "dissociate"};

/* Maximum number of arguments each kind accepts. */
static const int kind_maxargs[DEF_NKIND] = {1, 2, 1, 2, 0, 1, 0, 2, 0, 0, 0};

const char *deficit_kind_name(deficit_kind k)
{
    return k < DEF_NKIND ? kind_names[k] : "?";
}

/* The type of argument `pos` of a deficit of kind k with nargs arguments (see deficit_val). */
static char arg_type(deficit_kind k, int nargs, int pos)
{
    switch (k) {
    case DEF_SUBSET:
        return 'i';
    case DEF_LESION:
        return pos == 0 ? 's' : 'i';
    case DEF_NOISE:
        return pos == 0 ? 's' : 'r';
    case DEF_BLUR:
        return pos == nargs - 1 ? 'i' : 's';
    default:
        return 's';
    }
}

/* argument pos of d as its type; the messages are the ones deficit_arg_* give */
static int parse_arg(deficit *d, int pos)
{
    deficit_val *v = &d->val[pos];
    const char *s = d->arg[pos];
    v->type = arg_type(d->kind, d->nargs, pos);
    if (v->type == 's') {
        if (strlen(s) != 1 || s[0] < 'a' || s[0] > 'z')
            return util_seterr(CS_EUSAGE, "deficit '%s': '%s' is not a pathway/source letter (a, b, ...)",
                               d->text, s);
        v->src = s[0] - 'a';
    } else if (v->type == 'i') {
        if (util_parse_long(s, &v->i) != 0)
            return util_seterr(CS_EUSAGE, "deficit '%s': argument %d of %s must be an integer", d->text,
                               pos + 1, kind_names[d->kind]);
    } else if (util_parse_double(s, &v->r) != 0)
        return util_seterr(CS_EUSAGE, "deficit '%s': argument %d of %s must be a number", d->text, pos + 1,
                           kind_names[d->kind]);
    return CS_OK;
}

static int parse_nonneg(const char *s, long *out)
{
    long v;
    if (util_parse_long(s, &v) != 0 || v < 0) return -1;
    *out = v;
    return 0;
}

int deficit_parse(const char *spec, deficit *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(spec) >= sizeof out->text) return util_seterr(CS_EUSAGE, "deficit '%s' is too long", spec);
    strcpy(out->text, spec);
    const char *at = strchr(spec, '@');
    if (!at)
        return util_seterr(CS_EUSAGE,
                           "deficit '%s' has no window; write KIND[:ARG]@START-END (e.g. gate:b@0-150) "
                           "or switch@STEP",
                           spec);
    char head[96];
    size_t hl = (size_t)(at - spec);
    if (hl == 0 || hl >= sizeof head)
        return util_seterr(CS_EUSAGE, "deficit '%s' has no kind before '@'", spec);
    memcpy(head, spec, hl);
    head[hl] = '\0';
    if (head[0] == ':' || strstr(head, "::") ||
        head[hl - 1] == ':') /* before strtok_r, which would skip empty fields */
        return util_seterr(CS_EUSAGE, "deficit '%s': empty argument (write KIND:ARG:ARG@START-END)", spec);
    /* kind and args */
    char *save = NULL;
    char *tok = strtok_r(head, ":", &save);
    int k;
    for (k = 0; k < DEF_NKIND; k++)
        if (tok && strcmp(tok, kind_names[k]) == 0) break;
    if (k == DEF_NKIND)
        return util_seterr(CS_EUSAGE,
                           "deficit '%s': unknown kind '%s' (known: gate lesion remove noise decorrelate "
                           "subset switch blur flip labels dissociate)",
                           spec, tok ? tok : "");
    out->kind = (deficit_kind)k;
    while ((tok = strtok_r(NULL, ":", &save))) {
        if (out->nargs >= kind_maxargs[k])
            return util_seterr(CS_EUSAGE, "deficit '%s': too many arguments for %s", spec, kind_names[k]);
        if (strlen(tok) >= sizeof out->arg[0] || !*tok)
            return util_seterr(CS_EUSAGE, "deficit '%s': bad argument '%s'", spec, tok);
        strcpy(out->arg[out->nargs++], tok);
    }
    for (int i = 0; i < out->nargs; i++)
        if (parse_arg(out, i) != CS_OK) return CS_EUSAGE;
    /* window */
    const char *w = at + 1;
    const char *dash = strchr(w, '-');
    if (out->kind == DEF_SWITCH) {
        if (dash || parse_nonneg(w, &out->start) != 0 || out->start > DEFICIT_MAX_STEP)
            return util_seterr(CS_EUSAGE, "deficit '%s': write switch@STEP with 0 <= STEP <= %ld", spec,
                               DEFICIT_MAX_STEP);
        out->end = LONG_MAX;
        return CS_OK;
    }
    char a[64], b[64];
    if (!dash || (size_t)(dash - w) >= sizeof a || strlen(dash + 1) >= sizeof b)
        return util_seterr(CS_EUSAGE, "deficit '%s': window must be START-END with 0 <= START <= END", spec);
    memcpy(a, w, (size_t)(dash - w));
    a[dash - w] = '\0';
    strcpy(b, dash + 1);
    if (parse_nonneg(a, &out->start) != 0 || parse_nonneg(b, &out->end) != 0)
        return util_seterr(CS_EUSAGE,
                           "deficit '%s': window must be START-END with integers 0 <= START <= END", spec);
    if (out->end > DEFICIT_MAX_STEP) /* engines add to END (clean epochs): keep every sum in range */
        return util_seterr(CS_EUSAGE, "deficit '%s': END %ld is beyond %ld", spec, out->end,
                           DEFICIT_MAX_STEP);
    if (out->start > out->end)
        return util_seterr(CS_EUSAGE, "deficit '%s': START %ld is after END %ld; swap them", spec, out->start,
                           out->end);
    return CS_OK;
}

int deficit_list_add(deficit_list *out, const char *value, const char *what)
{
    /* split on '+' by hand: strtok_r would skip empty parts, and "+" would read as no deficit */
    for (const char *p = value;;) {
        const char *plus = strchr(p, '+');
        size_t len = plus ? (size_t)(plus - p) : strlen(p);
        if (len == 0)
            return util_seterr(CS_EUSAGE,
                               "%s '%s': empty deficit around '+'; join deficits as A+B (e.g. "
                               "gate:b@0-10+gate:a@20-30)",
                               what, value);
        if (out->n == DEFICIT_MAX)
            return util_seterr(CS_EUSAGE, "too many deficits (at most %d)", DEFICIT_MAX);
        char *one = util_malloc(len + 1);
        memcpy(one, p, len);
        one[len] = '\0';
        int rc = deficit_parse(one, &out->d[out->n]);
        free(one);
        if (rc) return rc;
        out->n++;
        if (!plus) break;
        p = plus + 1;
    }
    return CS_OK;
}

int deficit_arg_source(const deficit *d, int argi, int nsources, int *out)
{
    if (argi >= d->nargs)
        return util_seterr(CS_EUSAGE, "deficit '%s': %s needs a pathway/source letter (a, b, ...)", d->text,
                           kind_names[d->kind]);
    const deficit_val *v = &d->val[argi];
    if (v->type != 's')
        return util_seterr(CS_EUSAGE, "deficit '%s': '%s' is not a pathway/source letter (a, b, ...)",
                           d->text, d->arg[argi]);
    if (v->src >= nsources) {
        char last[3] = {'-', (char)('a' + nsources - 1), 0};
        return util_seterr(CS_EUSAGE, "deficit '%s': there is no pathway/source '%s' (this run has %d: a%s)",
                           d->text, d->arg[argi], nsources, nsources > 1 ? last : "");
    }
    *out = v->src;
    return CS_OK;
}

int deficit_arg_long(const deficit *d, int argi, long lo, long hi, long *out)
{
    if (argi >= d->nargs || d->val[argi].type != 'i')
        return util_seterr(CS_EUSAGE, "deficit '%s': argument %d of %s must be an integer", d->text, argi + 1,
                           kind_names[d->kind]);
    long v = d->val[argi].i;
    if (v < lo || v > hi)
        return util_seterr(CS_EUSAGE, "deficit '%s': %ld is out of range [%ld, %ld]", d->text, v, lo, hi);
    *out = v;
    return CS_OK;
}

int deficit_arg_double(const deficit *d, int argi, double lo, double hi, double *out)
{
    if (argi >= d->nargs || d->val[argi].type != 'r')
        return util_seterr(CS_EUSAGE, "deficit '%s': argument %d of %s must be a number", d->text, argi + 1,
                           kind_names[d->kind]);
    double v = d->val[argi].r;
    if (v < lo || v > hi)
        return util_seterr(CS_EUSAGE, "deficit '%s': %g is out of range [%g, %g]", d->text, v, lo, hi);
    *out = v;
    return CS_OK;
}

int deficit_unsupported(const deficit *d, const char *cmd, const char *supported)
{
    return util_seterr(CS_EUSAGE, "deficit '%s': %s is not supported by critsim %s (supported: %s)", d->text,
                       kind_names[d->kind], cmd, supported);
}
