/* opts.c - the store of option values (conventions in opts.h; shared declarations: opts_int.h): the
 * command line, precedence (default < model file < command line < opts_set), and typed validation.
 * Values are kept as text with their origin so that every error can say where the bad value came from;
 * conversion happens in the typed getters.
 *
 * Files: opts.c (this: storing, parsing the command line, the getters), opts_model.c (model files:
 * the checked INI reader and --model FILE's keys), opts_help.c (--help, ranges as text, the provenance of
 * tables, messages in option names).
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "opts_int.h"
#include "util.h"

/* ---- helpers ---------------------------------------------------------------------------- */

int opts_spec_index(const cmd_def *cmd, const char *name)
{
    for (int i = 0; cmd->specs[i].name; i++)
        if (strcmp(cmd->specs[i].name, name) == 0) return i;
    return -1;
}

void opts_val_clear(opt_val *v)
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

/* Store `value` for spec i at `level`; lists are split on commas.  Items of an OPT_MULTI that
 * accumulate are appended to `raw` (amortised doubling: a file of many repeated keys stays linear). */
int opts_store(opts *o, int i, const char *value, int level, const char *origin)
{
    const opt_spec *sp = &o->cmd->specs[i];
    opt_val *v = &o->v[i];
    int bad = opts_text_check(value);
    if (bad >= 0) {
        char shown[128];
        opts_text_show(shown, sizeof shown, value);
        return util_seterr(CS_EUSAGE,
                           "--%s (%s): the value '%s' holds a control character (0x%02x); values and paths "
                           "must be printable text",
                           sp->name, origin, shown, (unsigned char)value[bad]);
    }
    /* numbers are checked when given, so that a value the configuration never reads is still refused
     * (ranges depend on the configuration: the typed getters check them) */
    long lx;
    double dx;
    if (sp->type == OPT_INT && util_parse_long(value, &lx) != 0)
        return util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not an integer", sp->name, origin, value);
    if (sp->type == OPT_DOUBLE && util_parse_double(value, &dx) != 0)
        return util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not a finite number", sp->name, origin, value);
    int accumulate = (sp->type == OPT_MULTI && v->level == level && v->raw);
    if (!accumulate) opts_val_clear(v);
    v->level = level;
    snprintf(v->origin, sizeof v->origin, "%s", origin);
    if (sp->type == OPT_LIST || sp->type == OPT_MULTI) {
        char *copy = util_strdup(value);
        char *save = NULL;
        int first = v->n;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *t = trim(tok);
            if (!*t) continue;
            val_push(v, t);
        }
        free(copy);
        if (v->n == first)
            return util_seterr(CS_EUSAGE, "--%s (%s): empty list; give one or more comma-separated values",
                               sp->name, origin);
        /* raw = items joined by ',' */
        if (!v->raw) {
            v->rawlen = 0;
            v->rawcap = 64;
            v->raw = util_malloc(v->rawcap);
            v->raw[0] = '\0';
        }
        for (int k = first; k < v->n; k++) {
            size_t l = strlen(v->items[k]);
            while (v->rawlen + l + 2 > v->rawcap) {
                v->rawcap *= 2;
                char *p = realloc(v->raw, v->rawcap);
                if (!p) util_malloc((size_t)-1); /* reports out of memory and exits */
                v->raw = p;
            }
            if (v->rawlen) v->raw[v->rawlen++] = ',';
            memcpy(v->raw + v->rawlen, v->items[k], l + 1);
            v->rawlen += l;
        }
    } else {
        v->raw = util_strdup(value);
    }
    return CS_OK;
}

int opts_text_check(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return (int)(p - (const unsigned char *)s);
    return -1;
}

void opts_text_show(char *buf, size_t n, const char *s)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 8 < n; p++) {
        if (o > 60) {
            o += (size_t)snprintf(buf + o, n - o, "...");
            break;
        }
        if (*p == '\n')
            o += (size_t)snprintf(buf + o, n - o, "\\n");
        else if (*p == '\t')
            o += (size_t)snprintf(buf + o, n - o, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", *p);
        else
            buf[o++] = (char)*p;
    }
    buf[o < n ? o : n - 1] = '\0';
}

/* ---- parsing ---------------------------------------------------------------------------- */

static char *join_argv(int argc, char **argv)
{
    size_t len = strlen("critsim") + 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) * 4 + 3; /* a quote is written '\'' (4 characters) */
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

/* opts_parse, step 1: a store holding every option's default */
static opts *opts_new(const cmd_def *cmd)
{
    opts *o = util_calloc(1, sizeof *o);
    o->pc = util_calloc(1, sizeof *o->pc);
    o->pc->stale = 1;
    o->cmd = cmd;
    while (cmd->specs[o->nspec].name)
        o->nspec++;
    o->v = util_calloc((size_t)o->nspec + 1, sizeof *o->v);
    for (int i = 0; i < o->nspec; i++) {
        snprintf(o->v[i].origin, sizeof o->v[i].origin, "default");
        if (cmd->specs[i].def) {
            int rc = opts_store(o, i, cmd->specs[i].def, LV_DEFAULT, "default");
            CS_ASSERT(rc == CS_OK);
        }
    }
    return o;
}

/* step 2: no control character in any argument (a newline would end a table's '#' header line early) */
static int check_argv_text(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        int bad = opts_text_check(argv[a]);
        if (bad >= 0) {
            char shown[128];
            opts_text_show(shown, sizeof shown, argv[a]);
            return util_seterr(CS_EUSAGE,
                               "argument %d '%s' holds a control character (0x%02x); paths and values must "
                               "be printable text",
                               a, shown, (unsigned char)argv[a][bad]);
        }
    }
    return CS_OK;
}

/* step 3 (pass 1): --help (OPTS_HELP) and --model FILE, read before the command line so that the
 * command line overrides it.  A command that declares its own `model` (critsim sweep) reads it itself. */
static int pass_help_model(opts *o, int argc, char **argv, int own_model)
{
    const cmd_def *cmd = o->cmd;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            opts_help(stdout, cmd);
            return OPTS_HELP;
        }
        const char *file = NULL;
        if (!own_model && strcmp(argv[a], "--model") == 0) {
            if (a + 1 >= argc)
                return util_seterr(CS_EUSAGE, "--model needs a file name (e.g. --model models/fig2.ini)");
            file = argv[++a];
        } else if (!own_model && strncmp(argv[a], "--model=", 8) == 0) {
            file = argv[a] + 8;
        } else if (strncmp(argv[a], "--", 2) == 0 && !strchr(argv[a], '=')) {
            int i = opts_spec_index(cmd, argv[a] + 2);
            if (i >= 0 && cmd->specs[i].type != OPT_FLAG) a++; /* skip its value */
        }
        if (file) {
            if (o->model[0]) return util_seterr(CS_EUSAGE, "--model given twice; give one model file");
            snprintf(o->model, sizeof o->model, "%s", file);
            int rc = opts_load_model(o, file);
            if (rc != CS_OK) return rc;
        }
    }
    return CS_OK;
}

/* step 4 (pass 2): every other argument, `--name value`, `--name=value`, a flag, or the positional one */
static int pass_values(opts *o, int argc, char **argv, int own_model)
{
    const cmd_def *cmd = o->cmd;
    int positional_seen = 0;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!own_model && strcmp(arg, "--model") == 0) {
            a++;
            continue;
        }
        if (!own_model && strncmp(arg, "--model=", 8) == 0) continue;
        if (cmd->positional && strncmp(arg, "--", 2) != 0 && !positional_seen) {
            int i = opts_spec_index(cmd, cmd->positional);
            CS_ASSERT(i >= 0); /* the command table names an option it does not declare */
            positional_seen = 1;
            int rc = opts_store(o, i, arg, LV_CMDLINE, "command line");
            if (rc != CS_OK) return rc;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return util_seterr(CS_EUSAGE,
                               "unexpected argument '%s'; options are written --name value "
                               "(see 'critsim %s --help')",
                               arg, cmd->name);
        char name[128];
        const char *value = NULL;
        const char *eq = strchr(arg + 2, '=');
        size_t nl = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, arg + 2, nl);
        name[nl] = '\0';
        int i = opts_spec_index(cmd, name);
        if (i < 0)
            return util_seterr(CS_EUSAGE, "unknown option '--%s' for 'critsim %s' (see 'critsim %s --help')",
                               name, cmd->name, cmd->name);
        if (eq) {
            value = eq + 1;
        } else if (cmd->specs[i].type == OPT_FLAG) {
            value = "true";
        } else {
            if (a + 1 >= argc)
                return util_seterr(CS_EUSAGE, "option '--%s' needs a value (%s)", name, cmd->specs[i].help);
            value = argv[++a];
        }
        int rc = opts_store(o, i, value, LV_CMDLINE, "command line");
        if (rc != CS_OK) return rc;
    }
    return CS_OK;
}

/* step 5: flags validated early, so that a typo in a file is caught even if the command never reads it */
static int check_flags(const opts *o)
{
    for (int i = 0; i < o->nspec; i++)
        if (o->cmd->specs[i].type == OPT_FLAG && o->v[i].raw) {
            const char *r = o->v[i].raw;
            if (strcmp(r, "true") && strcmp(r, "false") && strcmp(r, "1") && strcmp(r, "0") &&
                strcmp(r, "yes") && strcmp(r, "no"))
                return util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not a truth value; use true or false",
                                   o->cmd->specs[i].name, o->v[i].origin, r);
        }
    return CS_OK;
}

int opts_parse(opts **out, const cmd_def *cmd, int argc, char **argv)
{
    *out = NULL;
    opts *o = opts_new(cmd);
    o->cmdline = join_argv(argc, argv);
    int own_model = opts_spec_index(cmd, "model") >= 0;
    int rc = check_argv_text(argc, argv);
    if (rc == CS_OK) rc = pass_help_model(o, argc, argv, own_model);
    if (rc == CS_OK) rc = pass_values(o, argc, argv, own_model);
    if (rc == CS_OK) rc = check_flags(o);
    if (rc != CS_OK) {
        opts_free(o);
        return rc;
    }
    *out = o;
    return CS_OK;
}

void opts_free(opts *o)
{
    if (!o) return;
    for (int i = 0; i < o->nspec; i++) {
        opts_val_clear(&o->v[i]);
        free(o->v[i].items);
    }
    free(o->v);
    free(o->cmdline);
    if (o->pc) free(o->pc->model);
    free(o->pc);
    free(o);
}

int opts_set(opts *o, const char *name, const char *value)
{
    int i = opts_spec_index(o->cmd, name);
    if (i < 0)
        return util_seterr(CS_EUSAGE, "unknown option '%s' for 'critsim %s' (see 'critsim %s --help')", name,
                           o->cmd->name, o->cmd->name);
    if (o->v[i].level == LV_SET && o->cmd->specs[i].type == OPT_MULTI) o->v[i].level = LV_CMDLINE;
    if (o->pc) o->pc->stale = 1;
    return opts_store(o, i, value, LV_SET, "sweep");
}

void opts_set_cmdline(opts *o, const char *cmdline)
{
    free(o->cmdline);
    o->cmdline = util_strdup(cmdline);
    if (o->pc) o->pc->stale = 1;
}

int opts_enum(const opts *o, const char *name, const opt_enum *tab, int *out)
{
    char choices[512] = "";
    size_t k = 0;
    for (int i = 0; tab[i].name; i++) {
        int w = snprintf(choices + k, sizeof choices - k, "%s%s", i ? "|" : "", tab[i].name);
        CS_ASSERT(w > 0 && (size_t)w < sizeof choices - k);
        k += (size_t)w;
    }
    int idx, rc = opts_choice(o, name, choices, &idx);
    if (rc == CS_OK) *out = tab[idx].value;
    return rc;
}

int opts_deficits(const opts *o, const char *name, deficit_list *out)
{
    char what[80];
    snprintf(what, sizeof what, "--%s", name);
    out->n = 0;
    int n = opts_count(o, name);
    for (int i = 0; i < n; i++) {
        int rc = deficit_list_add(out, opts_item(o, name, i), what);
        if (rc) return rc;
    }
    return CS_OK;
}

static const opt_val *find(const opts *o, const char *name)
{
    int i = opts_spec_index(o->cmd, name);
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

/* The declared range of spec s as longs (OPT_RANGE_POSITIVE: >= 1; none or infinite: the whole type). */
static void range_long(const opt_spec *s, long *lo, long *hi)
{
    *lo = s->range == OPT_RANGE_POSITIVE ? 1 : s->range && s->lo > -INFINITY ? (long)s->lo : LONG_MIN;
    *hi = s->range && s->hi < INFINITY ? (long)s->hi : LONG_MAX;
}

static int check_long(const opt_spec *sp, const char *origin, const char *s, long *out)
{
    long x, lo, hi;
    range_long(sp, &lo, &hi);
    if (util_parse_long(s, &x) != 0)
        return util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not an integer", sp->name, origin, s);
    if (x < lo || x > hi) {
        if (hi == LONG_MAX)
            return util_seterr(CS_EUSAGE, "--%s (%s): %ld is out of range; it must be >= %ld", sp->name,
                               origin, x, lo);
        if (lo == LONG_MIN)
            return util_seterr(CS_EUSAGE, "--%s (%s): %ld is out of range; it must be <= %ld", sp->name,
                               origin, x, hi);
        return util_seterr(CS_EUSAGE, "--%s (%s): %ld is out of range; it must be in [%ld, %ld]", sp->name,
                           origin, x, lo, hi);
    }
    *out = x;
    return CS_OK;
}

static int check_double(const opt_spec *sp, const char *origin, const char *s, double *out)
{
    double x, lo = sp->range ? sp->lo : -INFINITY, hi = sp->range ? sp->hi : INFINITY;
    const char *name = sp->name;
    if (util_parse_double(s, &x) != 0)
        return util_seterr(CS_EUSAGE, "--%s (%s): '%s' is not a finite number", name, origin, s);
    if (sp->range == OPT_RANGE_POSITIVE && !(x > 0))
        return util_seterr(CS_EUSAGE, "--%s (%s): %g is out of range; it must be > 0", name, origin, x);
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

static const opt_spec *spec_of(const opts *o, const char *name)
{
    return &o->cmd->specs[opts_spec_index(o->cmd, name)];
}

int opts_long(const opts *o, const char *name, long *out)
{
    const opt_val *v = find(o, name);
    int rc = need(o, name, v);
    return rc ? rc : check_long(spec_of(o, name), v->origin, v->raw, out);
}

int opts_double(const opts *o, const char *name, double *out)
{
    const opt_val *v = find(o, name);
    int rc = need(o, name, v);
    return rc ? rc : check_double(spec_of(o, name), v->origin, v->raw, out);
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

/* The items of a list option as numbers, each checked against the declared range: doubles (is_long = 0,
 * *out a double *) or longs (is_long = 1, *out a long *). */
static int list_numbers(const opts *o, const char *name, int is_long, void **out, int *n)
{
    const opt_val *v = find(o, name);
    const opt_spec *sp = spec_of(o, name);
    int rc = need(o, name, v);
    if (rc) return rc;
    int cnt = opts_count(o, name);
    void *x = util_malloc((size_t)cnt * (is_long ? sizeof(long) : sizeof(double)));
    for (int i = 0; i < cnt && rc == CS_OK; i++)
        rc = is_long ? check_long(sp, v->origin, opts_item(o, name, i), (long *)x + i)
                     : check_double(sp, v->origin, opts_item(o, name, i), (double *)x + i);
    if (rc) {
        free(x);
        return rc;
    }
    *out = x;
    *n = cnt;
    return CS_OK;
}

int opts_list_double(const opts *o, const char *name, double **out, int *n)
{
    void *x;
    int rc = list_numbers(o, name, 0, &x, n);
    if (rc == CS_OK) *out = x;
    return rc;
}

int opts_list_long(const opts *o, const char *name, long **out, int *n)
{
    void *x;
    int rc = list_numbers(o, name, 1, &x, n);
    if (rc == CS_OK) *out = x;
    return rc;
}
