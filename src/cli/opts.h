/* opts.h - options of every subcommand: command line, model files (INI via libinih), defaults, --help.
 *
 * Each subcommand declares a table of opt_spec (terminated by an entry with name == NULL).  Every
 * option has a long name (`--depth`), which is also its key in a model file, a default shown by
 * --help, and one line of help.  Precedence: built-in default < model file (--model FILE) <
 * command line < opts_set() (used by `critsim sweep` for varied keys).
 *
 * Value forms (docs/formats.md#model-files-and-options):
 *   OPT_INT, OPT_DOUBLE, OPT_STRING  one value; a later occurrence replaces an earlier one.
 *   OPT_FLAG    `--name` alone on the command line; `name = true|false|1|0|yes|no` in a file.
 *   OPT_LIST    one comma-separated list (`--sv 3,2,1`); a single value is a list of length one.
 *   OPT_MULTI   repeatable (`--deficit A --deficit B`), and each occurrence may itself hold several
 *               comma-separated items; items from one source (file or command line) accumulate,
 *               command-line items replace the file's.
 * Model files: `key = value` lines, '#' or ';' comments, sections optional and ignored except
 * `[sweep]`, which is reserved for `critsim sweep`.  Each file is read once and checked before
 * libinih parses it: lines of 199 characters or more, indented lines (libinih's continuation lines),
 * control characters and malformed lines are usage errors naming file and line; a directory is
 * refused.  Control characters (newline, tab, ...) are refused in every value and argument, so that no
 * value can break a table's '#' header.  The key `command = NAME` names the engine for
 * sweep; a mismatching `command` is a usage error.  Unknown keys are usage errors naming the file and
 * line.  Every accessor validates and, on bad input, records one message naming the option and where
 * its value came from ("--depth (models/x.ini:3): ...") and returns CS_EUSAGE.
 */
#ifndef CRITSIM_OPTS_H
#define CRITSIM_OPTS_H

#include <math.h>
#include <stdio.h>

#include "deficit.h"
#include "table.h"

typedef enum { OPT_INT, OPT_DOUBLE, OPT_STRING, OPT_FLAG, OPT_LIST, OPT_MULTI } opt_type;

typedef struct {
    const char *name; /* long name without "--"; also the model-file key */
    opt_type type;
    const char *def;   /* default as text (NULL: unset unless given) */
    const char *help;  /* one line; list choices as "a|b|c" */
    const char *field; /* NULL, or the configuration field(s) the option sets, as the library's messages
                          name them ("dln_cfg.depth"; several separated by spaces): opts_errmsg()
                          writes the option ("--depth") in their place */
    /* The range of the option's numbers (OPT_INT, OPT_DOUBLE, the items of a numeric OPT_LIST),
     * declared with one of the OPT_RANGE macros below: --help shows it, the typed getters (opts_long,
     * opts_double, opts_list_*) check every value against it, and a value outside is a usage error
     * naming the option, where the value came from, the value and the range.  An option with the same
     * name and meaning in several commands has the same range (tests/test_opts.c checks it). */
    int range;     /* OPT_RANGE_NONE (text, flags), OPT_RANGE_CLOSED [lo, hi], OPT_RANGE_POSITIVE x > 0 */
    double lo, hi; /* inclusive; -INFINITY / INFINITY: no bound on that side (OPT_INT: LONG_MIN/MAX) */
} opt_spec;

enum { OPT_RANGE_NONE = 0, OPT_RANGE_CLOSED, OPT_RANGE_POSITIVE };
/* In an option table, after the help text (or the field): {"depth", OPT_INT, "2", "help", OPT_IN(1, 10000)}.
 */
#define OPT_IN(a, b) .range = OPT_RANGE_CLOSED, .lo = (a), .hi = (b)            /* a <= x <= b */
#define OPT_MIN(a)   .range = OPT_RANGE_CLOSED, .lo = (a), .hi = INFINITY       /* x >= a */
#define OPT_ANY      .range = OPT_RANGE_CLOSED, .lo = -INFINITY, .hi = INFINITY /* any finite number */
#define OPT_POSITIVE .range = OPT_RANGE_POSITIVE, .lo = 0, .hi = INFINITY       /* x > 0 */

typedef struct opts opts;

/* A subcommand: main.c finds it by name in the registry; `critsim sweep` runs it in child processes. */
typedef struct {
    const char *name;
    const char *summary;       /* one line for `critsim --help` */
    const char *usage;         /* extra text after the option list in --help (examples); may be NULL */
    const opt_spec *specs;     /* terminated by {NULL} */
    int (*run)(const opts *o); /* returns an exit status; on failure util_seterr() holds the message */
    const char *positional;    /* NULL, or the option a single bare argument sets (`analyze RUN_DIR`
                                  sets --run); a second bare argument is a usage error */
} cmd_def;

const cmd_def *cmd_find(const char *name); /* the registry (src/cli/registry.c); NULL if unknown */
const cmd_def *const *cmd_all(void);       /* NULL-terminated array of every command */

/* The recorded error message (util_errmsg()) with every configuration field that cmd's option table
 * declares replaced by its option: "dln_cfg.depth must be >= 1" -> "--depth must be >= 1".  The
 * library names what it was given; the command layer says which option gave it.  The recorded message
 * is replaced too; returns it. */
const char *opts_errmsg(const cmd_def *cmd);

/* A choice whose names map to the program's own values (no reliance on the order of the names): the
 * table ends with {NULL, 0}.  *out receives the value of the name given; a name not in the table is a
 * usage error listing the names. */
typedef struct {
    const char *name;
    int value;
} opt_enum;
int opts_enum(const opts *o, const char *name, const opt_enum *tab, int *out);

/* A checked model file: the handler gets every `key = value` once, in file order, with its line
 * (section "" outside sections); it returns 1, or 0 after recording a message with util_seterr(),
 * which opts_ini_read() reports as "FILE:LINE: message".  CS_OK or CS_EUSAGE. */
#define OPTS_INI_MAX_LINE  199        /* libinih's 200-byte line buffer holds 198 characters + "\n" */
#define OPTS_INI_MAX_BYTES (64 << 20) /* larger files are refused */
typedef int (*opts_ini_handler)(void *user, const char *section, const char *name, const char *value,
                                int line);
int opts_ini_read(const char *file, opts_ini_handler h, void *user);

/* Offset of the first control character (< 0x20 or 0x7f) in s, or -1 when there is none. */
int opts_text_check(const char *s);
/* s for a one-line message: control characters written as \n, \t, \xHH; long text shortened. */
void opts_text_show(char *buf, size_t n, const char *s);

/* Parse argv (argv[0] is the subcommand name; options follow).  Returns CS_OK, CS_EUSAGE with the
 * error recorded, or OPTS_HELP when --help was given (help already printed to stdout). */
#define OPTS_HELP (-1)
int opts_parse(opts **out, const cmd_def *cmd, int argc, char **argv);
void opts_free(opts *o);
void opts_help(FILE *f, const cmd_def *cmd);

/* Programmatic override (highest precedence); returns CS_EUSAGE for an unknown name. */
int opts_set(opts *o, const char *name, const char *value);
/* Replace the command line recorded for provenance (sweep records the equivalent child command). */
void opts_set_cmdline(opts *o, const char *cmdline);

int opts_is_set(const opts *o, const char *name);         /* given in a file or on the command line */
const char *opts_cmdline(const opts *o);                  /* "critsim modes --depth 4 ..." */
const char *opts_origin(const opts *o, const char *name); /* "command line", "FILE:LINE", "default" */
const cmd_def *opts_cmd(const opts *o);
/* The provenance for tables (table.h): command line, the values the model file supplied (in option
 * order, lists joined by ','), the seed when the command has --seed.  Owned by o; valid until o
 * changes or is freed. */
const table_prov *opts_prov(const opts *o);

/* Raw text of a single-valued option (or the whole list as given); NULL if unset and no default. */
const char *opts_str(const opts *o, const char *name);
int opts_flag(const opts *o, const char *name);

/* Typed, validated getters: CS_OK or CS_EUSAGE (message recorded).  The value must lie in the range its
 * opt_spec declares (no range declared: any integer, resp. any finite number). */
int opts_long(const opts *o, const char *name, long *out);
int opts_double(const opts *o, const char *name, double *out);
/* The range of an option as --help shows it ("1..10000", ">= 0", "> 0", "any"; "" when it has none). */
void opts_range_text(const opt_spec *s, char *buf, size_t n);
/* `choices` is "a|b|c"; *idx receives the position of the value in it. */
int opts_choice(const opts *o, const char *name, const char *choices, int *idx);

/* Items of an OPT_LIST or OPT_MULTI option (0 when unset). */
int opts_count(const opts *o, const char *name);
const char *opts_item(const opts *o, const char *name, int i);
/* Whole list as numbers, each in the declared range; *out is malloc'ed (caller frees), *n its length. */
int opts_list_double(const opts *o, const char *name, double **out, int *n);
int opts_list_long(const opts *o, const char *name, long **out, int *n);
/* Every deficit of the OPT_MULTI option `name`, items split on '+' and parsed (deficit.h); messages
 * name the option.  An empty list when unset.  CS_OK or CS_EUSAGE. */
int opts_deficits(const opts *o, const char *name, deficit_list *out);

#endif
