/* opts_int.h - what the three files of the option module share (opts.c, opts_model.c, opts_help.c);
 * private to them.  The module's interface is opts.h.
 *
 *   opts.c        the store of values: the command line, precedence, opts_set, the typed getters
 *   opts_model.c  model files: the checked INI reader (opts_ini_read) and --model FILE's keys
 *   opts_help.c   text for people: --help, ranges, the provenance of tables, messages in option names
 */
#ifndef CRITSIM_OPTS_INT_H
#define CRITSIM_OPTS_INT_H

#include "opts.h"

enum { LV_DEFAULT = 0, LV_FILE = 1, LV_CMDLINE = 2, LV_SET = 3 };

typedef struct {
    int level;    /* LV_* of the current value */
    char *raw;    /* single value, or the items joined with ',' */
    char **items; /* split items (lists) */
    int n, cap;
    size_t rawlen, rawcap; /* lists: strlen(raw) and its allocation */
    char origin[300];      /* "command line", "FILE:LINE", "default", "sweep" */
} opt_val;

/* the provenance handed to tables, rebuilt when a value or the command line changed */
typedef struct {
    table_prov prov;
    char *model; /* prov.model's text */
    int stale;
} prov_cache;

struct opts {
    const cmd_def *cmd;
    int nspec;
    opt_val *v;
    char *cmdline;
    char model[1024];
    prov_cache *pc; /* filled by opts_prov() (a const opts may refresh it) */
};

/* opts.c */
int opts_spec_index(const cmd_def *cmd, const char *name); /* index in cmd's table, or -1 */
void opts_val_clear(opt_val *v);                           /* the value and its items (not `items`) */
/* Store `value` for spec i at `level` (LV_*) from `origin` ("command line", "FILE:LINE", ...);
 * CS_EUSAGE for a control character, a non-number for a number, an empty list. */
int opts_store(opts *o, int i, const char *value, int level, const char *origin);

/* opts_model.c: the values of model file `file` into o at LV_FILE */
int opts_load_model(opts *o, const char *file);

#endif
