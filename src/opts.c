/* opts.c - option tables, command line and model-file parsing (libinih), typed validation.
 * Conventions in opts.h.  Values are kept as text with their origin so that every error can say
 * where the bad value came from; conversion happens in the typed getters. */
#include "opts.h"

#include <ini.h>
#include <math.h>
#include <string.h>

#include "util.h"

enum { LV_DEFAULT = 0, LV_FILE = 1, LV_CMDLINE = 2, LV_SET = 3 };

typedef struct {
    int level;    /* LV_* of the current value */
    char *raw;    /* single value, or the items joined with ',' */
    char **items; /* split items (lists) */
    int n, cap;
    char origin[300]; /* "command line", "FILE:LINE", "default", "sweep" */
} opt_val;

struct opts {
    const cmd_def *cmd;
    int nspec;
    opt_val *v;
    char *cmdline;
    char model[1024];
};

/* ---- helpers ---------------------------------------------------------------------------- */

static int spec_index(const cmd_def *cmd, const char *name)
{
    for (int i = 0; cmd->specs[i].name; i++)
        if (strcmp(cmd->specs[i].name, name) == 0) return i;
    return -1;
}

static void val_clear(opt_val *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->items[i]);
    v->n = 0;
    free(v->raw);
    v->raw = NULL;
}

static void val_push(opt_val *v, const char *item)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 8;
        char **p = realloc(v->items, (size_t)v->cap * sizeof *p);
        if (!p) util_malloc((size_t)-1); /* reports out of memory and exits */
        v->items = p;
    }
    v->items[v->n++] = util_strdup(item);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/* Store `value` for spec i at `level`; lists are split on commas. */
static int store(opts *o, int i, const char *value, int level, const char *origin)
{
    const opt_spec *sp = &o->cmd->specs[i];
    opt_val *v = &o->v[i];
    int accumulate = (sp->type == OPT_MULTI && v->level == level);
    if (!accumulate) val_clear(v);
    v->level = level;
    snprintf(v->origin, sizeof v->origin, "%s", origin);
    if (sp->type == OPT_LIST || sp->type == OPT_MULTI) {
        char *copy = util_strdup(value);
        char *save = NULL;
        int got = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *t = trim(tok);
            if (!*t) continue;
            val_push(v, t);
            got++;
        }
        free(copy);
        if (!got) {
            free(NULL);
            return util_seterr(CS_EUSAGE, "--%s (%s): empty list; give one or more comma-separated values",
                               sp->name, origin);
        }
        /* raw = items joined by ',' */
        size_t len = 1;
        for (int k = 0; k < v->n; k++)
            len += strlen(v->items[k]) + 1;
        free(v->raw);
        v->raw = util_malloc(len);
        v->raw[0] = '\0';
        for (int k = 0; k < v->n; k++) {
            if (k) strcat(v->raw, ",");
            strcat(v->raw, v->items[k]);
        }
    } else {
        v->raw = util_strdup(value);
    }
    return CS_OK;
}

/* ---- model files ------------------------------------------------------------------------ */

typedef struct {
    opts *o;
    const char *file;
    char err[512]; /* first error, reported with the line number ini_parse returns */
} ini_ctx;

/* Line of the last `name = ...` in `section` (inih does not pass line numbers to handlers). */
static int key_line(const char *file, const char *section, const char *name)
{
    FILE *f = fopen(file, "r");
    if (!f) return 0;
    char buf[1024], sec[256] = "";
    int line = 0, found = 0;
    size_t nl = strlen(name);
    while (fgets(buf, sizeof buf, f)) {
        line++;
        char *p = trim(buf);
        if (*p == '[') {
            char *e = strchr(p, ']');
            if (e) {
                *e = '\0';
                snprintf(sec, sizeof sec, "%s", trim(p + 1));
            }
            continue;
        }
        if (strncmp(p, name, nl) == 0 && strcmp(sec, section ? section : "") == 0) {
            char *q = p + nl;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '=' || *q == ':') found = line;
        }
    }
    fclose(f);
    return found;
}

static int model_key_handler(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *c = user;
    if (c->err[0]) return 0;
    if (section && strcmp(section, "sweep") == 0) return 1; /* reserved for critsim sweep */
    if (strcmp(name, "command") == 0) {
        if (strcmp(value, c->o->cmd->name) != 0) {
            snprintf(c->err, sizeof c->err,
                     "the model file is for 'critsim %s', not 'critsim %s'; run it with that command "
                     "or with 'critsim sweep'",
                     value, c->o->cmd->name);
            return 0;
        }
        return 1;
    }
    int i = spec_index(c->o->cmd, name);
    if (i < 0) {
        snprintf(c->err, sizeof c->err, "unknown key '%s' for 'critsim %s' (see 'critsim %s --help')", name,
                 c->o->cmd->name, c->o->cmd->name);
        return 0;
    }
    if (c->o->v[i].level < LV_FILE) c->o->v[i].level = LV_FILE - 1; /* first file value replaces default */
    if (c->o->v[i].level == LV_FILE - 1 && c->o->cmd->specs[i].type == OPT_MULTI) {
        val_clear(&c->o->v[i]);
    }
    char origin[300];
    snprintf(origin, sizeof origin, "%s:%d", c->file, key_line(c->file, section, name));
    if (store(c->o, i, value, LV_FILE, origin) != CS_OK) {
        snprintf(c->err, sizeof c->err, "%s", util_errmsg());
        return 0;
    }
    return 1;
}

static int load_model(opts *o, const char *file)
{
    ini_ctx c = {.o = o, .file = file};
    int line = ini_parse(file, model_key_handler, &c);
    if (line == -1)
        return util_seterr(CS_EUSAGE, "cannot open model file '%s'; check the path given to --model", file);
    if (line == -2) return util_seterr(CS_EUSAGE, "out of memory reading model file '%s'", file);
    if (line > 0) {
        if (c.err[0]) return util_seterr(CS_EUSAGE, "%s:%d: %s", file, line, c.err);
        return util_seterr(CS_EUSAGE,
                           "%s:%d: malformed line; expected 'key = value', '[section]' or a comment "
                           "(lines of at most 199 characters)",
                           file, line);
    }
    return CS_OK;
}

/* ---- parsing ---------------------------------------------------------------------------- */

static char *join_argv(int argc, char **argv)
{
    size_t len = strlen("critsim") + 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) * 2 + 3;
    char *s = util_malloc(len);
    strcpy(s, "critsim");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        int plain = argv[i][0] != '\0';
        for (const char *p = argv[i]; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:@/+=%", *p))
                plain = 0;
        if (plain) {
            strcat(s, argv[i]);
        } else {
            char *e = s + strlen(s);
            *e++ = '\'';
            for (const char *p = argv[i]; *p; p++) {
                if (*p == '\'') {
                    strcpy(e, "'\\''");
                    e += 4;
                } else
                    *e++ = *p;
            }
            *e++ = '\'';
            *e = '\0';
        }
    }
    return s;
}

int opts_parse(opts **out, const cmd_def *cmd, int argc, char **argv)
{
    *out = NULL;
    opts *o = util_calloc(1, sizeof *o);
    o->cmd = cmd;
    while (cmd->specs[o->nspec].name)
        o->nspec++;
    o->v = util_calloc((size_t)o->nspec + 1, sizeof *o->v);
    for (int i = 0; i < o->nspec; i++) {
        snprintf(o->v[i].origin, sizeof o->v[i].origin, "default");
        if (cmd->specs[i].def) {
            int rc = store(o, i, cmd->specs[i].def, LV_DEFAULT, "default");
            CS_ASSERT(rc == CS_OK);
        }
    }
    o->cmdline = join_argv(argc, argv);
    /* a command that declares its own `model` option (critsim sweep) reads that file itself */
    int own_model = spec_index(cmd, "model") >= 0;

    /* pass 1: --help and --model */
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            opts_help(stdout, cmd);
            opts_free(o);
            return OPTS_HELP;
        }
        const char *file = NULL;
        if (!own_model && strcmp(argv[a], "--model") == 0) {
            if (a + 1 >= argc) {
                opts_free(o);
                return util_seterr(CS_EUSAGE, "--model needs a file name (e.g. --model models/fig2.ini)");
            }
            file = argv[++a];
        } else if (!own_model && strncmp(argv[a], "--model=", 8) == 0) {
            file = argv[a] + 8;
        } else if (strncmp(argv[a], "--", 2) == 0 && !strchr(argv[a], '=')) {
            int i = spec_index(cmd, argv[a] + 2);
            if (i >= 0 && cmd->specs[i].type != OPT_FLAG) a++; /* skip its value */
        }
        if (file) {
            if (o->model[0]) {
                opts_free(o);
                return util_seterr(CS_EUSAGE, "--model given twice; give one model file");
            }
            snprintf(o->model, sizeof o->model, "%s", file);
            int rc = load_model(o, file);
            if (rc != CS_OK) {
                opts_free(o);
                return rc;
            }
        }
    }
    /* pass 2: everything else */
    int positional_seen = 0;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!own_model && strcmp(arg, "--model") == 0) {
            a++;
            continue;
        }
        if (!own_model && strncmp(arg, "--model=", 8) == 0) continue;
        if (cmd->positional && strncmp(arg, "--", 2) != 0 && !positional_seen) {
            int i = spec_index(cmd, cmd->positional);
            CS_ASSERT(i >= 0); /* the command table names an option it does not declare */
            positional_seen = 1;
            int rc = store(o, i, arg, LV_CMDLINE, "command line");
            if (rc != CS_OK) {
                opts_free(o);
                return rc;
            }
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            opts_free(o);
            return util_seterr(CS_EUSAGE,
                               "unexpected argument '%s'; options are written --name value "
                               "(see 'critsim %s --help')",
                               arg, cmd->name);
        }
        char name[128];
        const char *value = NULL;
        const char *eq = strchr(arg + 2, '=');
        size_t nl = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, arg + 2, nl);
        name[nl] = '\0';
        int i = spec_index(cmd, name);
        if (i < 0) {
            opts_free(o);
            return util_seterr(CS_EUSAGE, "unknown option '--%s' for 'critsim %s' (see 'critsim %s --help')",
                               name, cmd->name, cmd->name);
        }
        if (eq) {
            value = eq + 1;
        } else if (cmd->specs[i].type == OPT_FLAG) {
            value = "true";
        } else {
            if (a + 1 >= argc) {
                opts_free(o);
                return util_seterr(CS_EUSAGE, "option '--%s' needs a value (%s)", name, cmd->specs[i].help);
            }
            value = argv[++a];
        }
        int rc = store(o, i, value, LV_CMDLINE, "command line");
        if (rc != CS_OK) {
            opts_free(o);
            return rc;
        }
    }
    /* validate flags early so a typo in a file is caught even if the command never reads it */
    for (int i = 0; i < o->nspec; i++)
        if (cmd->specs[i].type == OPT_FLAG && o->v[i].raw) {
            const char *r = o->v[i].raw;
            if (strcmp(r, "true") && strcmp(r, "false") && strcmp(r, "1") && strcmp(r, "0") &&
                strcmp(r, "yes") && strcmp(r, "no")) {
                int rc = util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not a truth value; use true or false",
                                     cmd->specs[i].name, o->v[i].origin, r);
                opts_free(o);
                return rc;
            }
        }
    *out = o;
    return CS_OK;
}

void opts_free(opts *o)
{
    if (!o) return;
    for (int i = 0; i < o->nspec; i++) {
        val_clear(&o->v[i]);
        free(o->v[i].items);
    }
    free(o->v);
    free(o->cmdline);
    free(o);
}

void opts_help(FILE *f, const cmd_def *cmd)
{
    char pos[160] = "";
    if (cmd->positional) snprintf(pos, sizeof pos, " [%s]", cmd->positional);
    fprintf(f, "usage: critsim %s%s [--model FILE.ini] [options]\n%s\n\noptions (default in brackets):\n",
            cmd->name, pos, cmd->summary);
    if (cmd->positional) fprintf(f, "  (a bare argument sets --%s)\n", cmd->positional);
    if (spec_index(cmd, "model") < 0)
        fprintf(f, "  --%-18s %s\n", "model FILE",
                "read options from an INI model file (keys = option names)");
    for (int i = 0; cmd->specs[i].name; i++) {
        const opt_spec *s = &cmd->specs[i];
        const char *kind = s->type == OPT_INT      ? " N"
                           : s->type == OPT_DOUBLE ? " X"
                           : s->type == OPT_FLAG   ? ""
                           : s->type == OPT_LIST   ? " A,B,.."
                           : s->type == OPT_MULTI  ? " SPEC"
                                                   : " S";
        char left[64];
        snprintf(left, sizeof left, "%s%s", s->name, kind);
        fprintf(f, "  --%-18s %s [%s]%s\n", left, s->help,
                s->def ? s->def : (s->type == OPT_FLAG ? "off" : "unset"),
                s->type == OPT_MULTI ? " (repeatable)" : "");
    }
    fprintf(f, "  --%-18s %s\n", "help", "print this help and exit");
    if (cmd->usage) fprintf(f, "\n%s\n", cmd->usage);
}

int opts_set(opts *o, const char *name, const char *value)
{
    int i = spec_index(o->cmd, name);
    if (i < 0)
        return util_seterr(CS_EUSAGE, "unknown option '%s' for 'critsim %s' (see 'critsim %s --help')", name,
                           o->cmd->name, o->cmd->name);
    if (o->v[i].level == LV_SET && o->cmd->specs[i].type == OPT_MULTI) o->v[i].level = LV_CMDLINE;
    return store(o, i, value, LV_SET, "sweep");
}

void opts_set_cmdline(opts *o, const char *cmdline)
{
    free(o->cmdline);
    o->cmdline = util_strdup(cmdline);
}

static const opt_val *find(const opts *o, const char *name)
{
    int i = spec_index(o->cmd, name);
    CS_ASSERT(i >= 0 && "option not declared in this command's spec table");
    return &o->v[i];
}

int opts_is_set(const opts *o, const char *name)
{
    return find(o, name)->level > LV_DEFAULT;
}
const char *opts_cmdline(const opts *o)
{
    return o->cmdline;
}
const char *opts_origin(const opts *o, const char *name)
{
    return find(o, name)->origin;
}
const cmd_def *opts_cmd(const opts *o)
{
    return o->cmd;
}
const char *opts_str(const opts *o, const char *name)
{
    return find(o, name)->raw;
}

int opts_flag(const opts *o, const char *name)
{
    const char *r = find(o, name)->raw;
    return r && (!strcmp(r, "true") || !strcmp(r, "1") || !strcmp(r, "yes"));
}

static int need(const opts *o, const char *name, const opt_val *v)
{
    if (!v->raw)
        return util_seterr(CS_EUSAGE, "option --%s is required (see 'critsim %s --help')", name,
                           o->cmd->name);
    return CS_OK;
}

static int check_long(const char *name, const char *origin, const char *s, long lo, long hi, long *out)
{
    long x;
    if (util_parse_long(s, &x) != 0)
        return util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not an integer", name, origin, s);
    if (x < lo || x > hi) {
        if (hi == __LONG_MAX__)
            return util_seterr(CS_EUSAGE, "--%s (%s): %ld is out of range; it must be >= %ld", name, origin,
                               x, lo);
        return util_seterr(CS_EUSAGE, "--%s (%s): %ld is out of range; it must be in [%ld, %ld]", name,
                           origin, x, lo, hi);
    }
    *out = x;
    return CS_OK;
}

static int check_double(const char *name, const char *origin, const char *s, double lo, double hi,
                        double *out)
{
    double x;
    if (util_parse_double(s, &x) != 0)
        return util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not a finite number", name, origin, s);
    if (x < lo || x > hi) {
        if (isinf(hi))
            return util_seterr(CS_EUSAGE, "--%s (%s): %g is out of range; it must be >= %g", name, origin, x,
                               lo);
        if (isinf(lo))
            return util_seterr(CS_EUSAGE, "--%s (%s): %g is out of range; it must be <= %g", name, origin, x,
                               hi);
        return util_seterr(CS_EUSAGE, "--%s (%s): %g is out of range; it must be in [%g, %g]", name, origin,
                           x, lo, hi);
    }
    *out = x;
    return CS_OK;
}

int opts_long(const opts *o, const char *name, long lo, long hi, long *out)
{
    const opt_val *v = find(o, name);
    int rc = need(o, name, v);
    return rc ? rc : check_long(name, v->origin, v->raw, lo, hi, out);
}

int opts_double(const opts *o, const char *name, double lo, double hi, double *out)
{
    const opt_val *v = find(o, name);
    int rc = need(o, name, v);
    return rc ? rc : check_double(name, v->origin, v->raw, lo, hi, out);
}

int opts_choice(const opts *o, const char *name, const char *choices, int *idx)
{
    const opt_val *v = find(o, name);
    int rc = need(o, name, v);
    if (rc) return rc;
    size_t n = strlen(v->raw);
    const char *p = choices;
    for (int k = 0;; k++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v->raw, n) == 0) {
            *idx = k;
            return CS_OK;
        }
        if (!bar) break;
        p = bar + 1;
    }
    return util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not one of %s", name, v->origin, v->raw, choices);
}

int opts_count(const opts *o, const char *name)
{
    const opt_val *v = find(o, name);
    if (!v->raw) return 0;
    return v->n ? v->n : 1;
}

const char *opts_item(const opts *o, const char *name, int i)
{
    const opt_val *v = find(o, name);
    if (!v->raw) return NULL;
    if (!v->n) return i == 0 ? v->raw : NULL;
    return i >= 0 && i < v->n ? v->items[i] : NULL;
}

int opts_list_double(const opts *o, const char *name, double lo, double hi, double **out, int *n)
{
    const opt_val *v = find(o, name);
    int rc = need(o, name, v);
    if (rc) return rc;
    int cnt = opts_count(o, name);
    double *x = util_malloc((size_t)cnt * sizeof *x);
    for (int i = 0; i < cnt; i++) {
        rc = check_double(name, v->origin, opts_item(o, name, i), lo, hi, &x[i]);
        if (rc) {
            free(x);
            return rc;
        }
    }
    *out = x;
    *n = cnt;
    return CS_OK;
}

int opts_list_long(const opts *o, const char *name, long lo, long hi, long **out, int *n)
{
    const opt_val *v = find(o, name);
    int rc = need(o, name, v);
    if (rc) return rc;
    int cnt = opts_count(o, name);
    long *x = util_malloc((size_t)cnt * sizeof *x);
    for (int i = 0; i < cnt; i++) {
        rc = check_long(name, v->origin, opts_item(o, name, i), lo, hi, &x[i]);
        if (rc) {
            free(x);
            return rc;
        }
    }
    *out = x;
    *n = cnt;
    return CS_OK;
}
