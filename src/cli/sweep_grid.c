/* sweep_grid.c - the grid of a sweep: axes (lists, ranges, templates), the Cartesian product and its
 * mixed-radix point index, shards, point ids (FNV-1a), the model file's [sweep] section, validation
 * against the engine's options.  Conventions, file formats and guarantees in sweep.h; the executor is
 * sweep_exec.c, summaries and merging sweep_summary.c.
 *
 * Mathematics: mixed-radix indexing of the Cartesian product (first axis slowest) and FNV-1a hashing.
 */
#define _GNU_SOURCE /* memfd_create through syscall() */
#include "sweep.h"
#include "sweep_int.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/syscall.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "publish.h"
#include "deficit.h"
#include "linalg.h"
#include "table.h"
#include "util.h"

/* ---- small helpers ---------------------------------------------------------------------- */

char *sweep_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int valid_name(const char *s)
{
    if (!*s || !(islower((unsigned char)*s) || *s == '_')) return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' || *s == '_')) return 0;
    return 1;
}

static int has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s)) return 1;
    return 0;
}

void sweep_strv_push(char ***v, int *n, int *cap, const char *s)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        char **p = realloc(*v, (size_t)*cap * sizeof *p);
        if (!p) util_malloc((size_t)-1);
        *v = p;
    }
    (*v)[(*n)++] = util_strdup(s);
}

void sweep_strv_free(char **v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int int_ok(long x)
{
    return x >= -SWEEP_MAX_INT && x <= SWEEP_MAX_INT;
}

/* Format START + i*STEP: integers exactly, doubles with %.15g (0.1:0.1:0.3 gives 0.3, not
 * 0.30000000000000004). */
static void fmt_num(char *buf, size_t n, int integer, long li, double d)
{
    if (integer)
        snprintf(buf, n, "%ld", li);
    else
        snprintf(buf, n, "%.15g", d);
}

/* Expand "A:S:B" into text values.  Returns number of values (>= 1), 0 if `s` is not a range, -1 on a
 * usage error (recorded). */
static int expand_range(const char *what, const char *s, char ***vals, int *nv)
{
    char buf[256];
    if (strlen(s) >= sizeof buf) return 0;
    strcpy(buf, s);
    char *c1 = strchr(buf, ':');
    if (!c1) return 0;
    char *c2 = strchr(c1 + 1, ':');
    if (!c2 || strchr(c2 + 1, ':')) return 0;
    *c1 = *c2 = '\0';
    const char *a = buf, *st = c1 + 1, *b = c2 + 1;
    long la, ls, lb;
    double da, ds, db;
    if (util_parse_double(a, &da) || util_parse_double(st, &ds) || util_parse_double(b, &db)) return 0;
    int integer = !util_parse_long(a, &la) && !util_parse_long(st, &ls) && !util_parse_long(b, &lb);
    if (ds == 0)
        return util_seterr(CS_EUSAGE, "--vary %s: step 0 in range '%s'; write START:STEP:END with STEP != 0",
                           what, s),
               -1;
    double cnt;
    if (integer) { /* exact: START + i*STEP of bounded integers cannot overflow */
        if (!int_ok(la) || !int_ok(ls) || !int_ok(lb))
            return util_seterr(CS_EUSAGE, "--vary %s: range '%s': integers must lie within +-%ld", what, s,
                               SWEEP_MAX_INT),
                   -1;
        long span = lb - la;
        cnt = (span != 0 && (span < 0) != (ls < 0)) ? 0 : (double)(span / ls + 1);
    } else {
        cnt = floor((db - da) / ds + 1e-9) + 1;
    }
    if (!(cnt >= 1))
        return util_seterr(CS_EUSAGE,
                           "--vary %s: range '%s' is empty (END is not reached from START in steps of STEP)",
                           what, s),
               -1;
    if (cnt > 1e6)
        return util_seterr(CS_EUSAGE, "--vary %s: range '%s' has %.0f values (more than 1000000)", what, s,
                           cnt),
               -1;
    if (!integer && (!isfinite(da + (cnt - 1) * ds)))
        return util_seterr(CS_EUSAGE, "--vary %s: range '%s' leaves the finite numbers", what, s), -1;
    int n = (int)cnt, cap = 0;
    *vals = NULL;
    *nv = 0;
    for (int i = 0; i < n; i++) {
        char t[64];
        fmt_num(t, sizeof t, integer, integer ? la + (long)i * ls : 0, da + (double)i * ds);
        sweep_strv_push(vals, nv, &cap, t);
    }
    return n;
}

/* ---- axes -------------------------------------------------------------------------------- */

void sweep_axis_clear(sweep_axis *a)
{
    sweep_strv_free(a->val, a->n);
    sweep_strv_free(a->varval, a->var[0] ? a->n : 0);
    memset(a, 0, sizeof *a);
}

/* Template "TEXT{NAME=...}TEXT{NAME+K}..." -> values and variable values. */
static int parse_template(sweep_axis *a, const char *spec, const char *tmpl)
{
    /* find the defining brace */
    const char *def = NULL;
    for (const char *p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (!e) return util_seterr(CS_EUSAGE, "--vary %s: unclosed '{'", spec);
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq) {
            if (def)
                return util_seterr(CS_EUSAGE, "--vary %s: two defining braces {NAME=...}; give one", spec);
            def = p;
        }
    }
    if (!def)
        return util_seterr(CS_EUSAGE, "--vary %s: a template needs one {NAME=START:STEP:END} or {NAME=V1|V2}",
                           spec);
    const char *e = strchr(def, '}'), *eq = memchr(def, '=', (size_t)(strchr(def, '}') - def));
    size_t nl = (size_t)(eq - def - 1);
    if (nl == 0 || nl >= sizeof a->var) return util_seterr(CS_EUSAGE, "--vary %s: bad variable name", spec);
    memcpy(a->var, def + 1, nl);
    a->var[nl] = '\0';
    if (!valid_name(a->var))
        return util_seterr(CS_EUSAGE,
                           "--vary %s: variable name '%s' must be lower-case letters, digits, '-' or '_'",
                           spec, a->var);
    char body[256];
    size_t bl = (size_t)(e - eq - 1);
    if (bl == 0 || bl >= sizeof body)
        return util_seterr(CS_EUSAGE, "--vary %s: empty or too long {%s=...}", spec, a->var);
    memcpy(body, eq + 1, bl);
    body[bl] = '\0';
    char **vv = NULL;
    int nv = 0, cap = 0;
    int r = expand_range(spec, body, &vv, &nv);
    if (r < 0) return CS_EUSAGE;
    if (r == 0) {
        char *save = NULL;
        for (char *t = strtok_r(body, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
            t = sweep_trim(t);
            double d;
            if (!*t || util_parse_double(t, &d) != 0) {
                sweep_strv_free(vv, nv);
                return util_seterr(CS_EUSAGE, "--vary %s: {%s=...} needs START:STEP:END or numbers V1|V2|...",
                                   spec, a->var);
            }
            sweep_strv_push(&vv, &nv, &cap, t);
        }
        if (!nv) return util_seterr(CS_EUSAGE, "--vary %s: {%s=} has no values", spec, a->var);
    }
    /* substitute */
    a->n = nv;
    a->varval = vv;
    a->val = util_calloc((size_t)nv, sizeof *a->val);
    for (int k = 0; k < nv; k++) {
        char out[1024];
        size_t o = 0;
        long lv;
        double dv;
        int vint = !util_parse_long(vv[k], &lv);
        CS_ASSERT(util_parse_double(vv[k], &dv) == 0);
        for (const char *p = tmpl; *p;) {
            if (*p != '{') {
                if (o + 1 >= sizeof out) goto toolong;
                out[o++] = *p++;
                continue;
            }
            const char *q = strchr(p, '}');
            char ref[128];
            size_t rl = (size_t)(q - p - 1);
            if (rl >= sizeof ref) goto badref;
            memcpy(ref, p + 1, rl);
            ref[rl] = '\0';
            char t[64];
            if (p == def) {
                snprintf(t, sizeof t, "%s", vv[k]);
            } else {
                size_t vl = strlen(a->var);
                if (strncmp(ref, a->var, vl) != 0) goto badref;
                const char *op = ref + vl;
                if (*op == '\0') {
                    snprintf(t, sizeof t, "%s", vv[k]);
                } else if (*op == '+' || *op == '-') {
                    long lk;
                    double dk;
                    if (util_parse_double(op + 1, &dk) != 0) goto badref;
                    int kint = !util_parse_long(op + 1, &lk);
                    if ((vint && kint && (!int_ok(lv) || !int_ok(lk))) || !isfinite(dv + dk))
                        return util_seterr(CS_EUSAGE, "--vary %s: '{%s}': integers must lie within +-%ld",
                                           spec, ref, SWEEP_MAX_INT);
                    if (*op == '-') {
                        lk = -lk;
                        dk = -dk;
                    }
                    fmt_num(t, sizeof t, vint && kint, lv + lk, dv + dk);
                } else {
                    goto badref;
                }
            }
            size_t tl = strlen(t);
            if (o + tl + 1 >= sizeof out) goto toolong;
            memcpy(out + o, t, tl);
            o += tl;
            p = q + 1;
            continue;
        badref:
            return util_seterr(CS_EUSAGE, "--vary %s: '{%s}' is not {%s}, {%s+K} or {%s-K}", spec, ref,
                               a->var, a->var, a->var);
        }
        out[o] = '\0';
        a->val[k] = util_strdup(out);
    }
    return CS_OK;
toolong:
    return util_seterr(CS_EUSAGE, "--vary %s: expanded value too long", spec);
}

int sweep_axis_parse(const char *spec, sweep_axis *a)
{
    memset(a, 0, sizeof *a);
    const char *eq = strchr(spec, '=');
    if (!eq) return util_seterr(CS_EUSAGE, "--vary '%s': write KEY=V1,V2,... or KEY=START:STEP:END", spec);
    size_t kl = (size_t)(eq - spec);
    char key[64];
    if (kl == 0 || kl >= sizeof key)
        return util_seterr(CS_EUSAGE, "--vary '%s': missing or too long KEY before '='", spec);
    memcpy(key, spec, kl);
    key[kl] = '\0';
    char *k = sweep_trim(key);
    if (!valid_name(k)) return util_seterr(CS_EUSAGE, "--vary '%s': '%s' is not an option name", spec, k);
    snprintf(a->key, sizeof a->key, "%s", k);
    char *rest = util_strdup(eq + 1);
    char *r = sweep_trim(rest);
    int rc = CS_OK;
    if (!*r) {
        rc = util_seterr(CS_EUSAGE, "--vary %s: no values; write %s=V1,V2,... or %s=START:STEP:END", spec,
                         a->key, a->key);
    } else if (has_space(r)) {
        rc = util_seterr(CS_EUSAGE, "--vary %s: values may not contain white space", spec);
    } else if (strchr(r, '{')) {
        rc = parse_template(a, spec, r);
    } else if (strchr(r, ',')) {
        int cap = 0;
        char *save = NULL;
        for (char *t = strtok_r(r, ",", &save); t; t = strtok_r(NULL, ",", &save))
            sweep_strv_push(&a->val, &a->n, &cap, t);
        if (!a->n) rc = util_seterr(CS_EUSAGE, "--vary %s: empty list", spec);
    } else {
        int x = expand_range(spec, r, &a->val, &a->n);
        if (x < 0)
            rc = CS_EUSAGE;
        else if (x == 0) {
            int cap = 0;
            sweep_strv_push(&a->val, &a->n, &cap, r);
        }
    }
    free(rest);
    if (rc != CS_OK) sweep_axis_clear(a);
    return rc;
}

/* ---- grids ------------------------------------------------------------------------------- */

int sweep_grid_add(sweep_grid *g, sweep_axis *a, int replace)
{
    for (int i = 0; i < a->n; i++) /* equal values would be one point folder written twice */
        for (int j = i + 1; j < a->n; j++)
            if (!strcmp(a->val[i], a->val[j])) {
                int rc = util_seterr(CS_EUSAGE, "--vary %s: value '%s' appears twice; give each value once",
                                     a->key, a->val[i]);
                sweep_axis_clear(a);
                return rc;
            }
    for (int i = 0; i < g->naxes; i++) {
        sweep_axis *b = &g->ax[i];
        if (strcmp(b->key, a->key) == 0) {
            if (!replace) {
                sweep_axis_clear(a);
                return util_seterr(CS_EUSAGE, "--vary %s given twice; give each key once", b->key);
            }
            sweep_axis_clear(b);
            *b = *a;
            memset(a, 0, sizeof *a);
            return CS_OK;
        }
    }
    for (int i = 0; i < g->naxes; i++) {
        const sweep_axis *b = &g->ax[i];
        if ((a->var[0] && (!strcmp(a->var, b->key) || !strcmp(a->var, b->var))) ||
            (b->var[0] && !strcmp(a->key, b->var))) {
            sweep_axis_clear(a);
            return util_seterr(CS_EUSAGE,
                               "--vary: template variable names must differ from each other and from keys");
        }
    }
    if (a->var[0] && !strcmp(a->var, a->key)) {
        sweep_axis_clear(a);
        return util_seterr(CS_EUSAGE, "--vary %s: the template variable needs a name other than the key",
                           a->key);
    }
    if (g->naxes == SWEEP_MAX_AXES) {
        sweep_axis_clear(a);
        return util_seterr(CS_EUSAGE, "--vary: more than %d keys", SWEEP_MAX_AXES);
    }
    g->ax[g->naxes++] = *a;
    memset(a, 0, sizeof *a);
    return CS_OK;
}

int sweep_grid_append(sweep_grid *g, sweep_axis *a)
{
    sweep_axis *b = NULL;
    for (int i = 0; i < g->naxes; i++)
        if (strcmp(g->ax[i].key, a->key) == 0) b = &g->ax[i];
    if (!b) return sweep_grid_add(g, a, 0);
    if (a->var[0] || b->var[0]) {
        int rc = util_seterr(CS_EUSAGE,
                             "vary = %s: a template axis cannot be continued on another line; give the "
                             "key once, or list every value without a template",
                             a->key);
        sweep_axis_clear(a);
        return rc;
    }
    for (int i = 0; i < a->n; i++) /* the union must not repeat a value (one point folder each) */
        for (int j = 0; j < b->n; j++)
            if (!strcmp(a->val[i], b->val[j])) {
                int rc = util_seterr(CS_EUSAGE, "vary = %s: value '%s' appears twice; give each value once",
                                     a->key, a->val[i]);
                sweep_axis_clear(a);
                return rc;
            }
    for (int i = 0; i < a->n; i++)
        for (int j = i + 1; j < a->n; j++)
            if (!strcmp(a->val[i], a->val[j])) {
                int rc = util_seterr(CS_EUSAGE, "vary = %s: value '%s' appears twice; give each value once",
                                     a->key, a->val[i]);
                sweep_axis_clear(a);
                return rc;
            }
    char **v = realloc(b->val, (size_t)(b->n + a->n) * sizeof *v);
    if (!v) util_malloc((size_t)-1); /* the project's out-of-memory exit */
    b->val = v;
    for (int i = 0; i < a->n; i++) {
        b->val[b->n + i] = a->val[i];
        a->val[i] = NULL;
    }
    b->n += a->n;
    sweep_axis_clear(a);
    return CS_OK;
}

int sweep_grid_add_seeds(sweep_grid *g, long base, long n)
{
    if (n < 1 || n > 1000000)
        return util_seterr(CS_EUSAGE, "--seeds %ld: give a number of seeds in [1, 1000000]", n);
    sweep_axis a;
    memset(&a, 0, sizeof a);
    snprintf(a.key, sizeof a.key, "seed");
    int cap = 0;
    for (long k = 0; k < n; k++) {
        char t[32];
        snprintf(t, sizeof t, "%ld", base + k);
        sweep_strv_push(&a.val, &a.n, &cap, t);
    }
    /* the seed axis is always last (fastest) */
    for (int i = 0; i < g->naxes; i++)
        if (!strcmp(g->ax[i].key, "seed")) {
            sweep_axis_clear(&g->ax[i]);
            memmove(&g->ax[i], &g->ax[i + 1], (size_t)(g->naxes - i - 1) * sizeof g->ax[0]);
            g->naxes--;
            break;
        }
    return sweep_grid_add(g, &a, 0);
}

void sweep_grid_clear(sweep_grid *g)
{
    for (int i = 0; i < g->naxes; i++)
        sweep_axis_clear(&g->ax[i]);
    g->naxes = 0;
}

long sweep_grid_size(const sweep_grid *g)
{
    long n = 1;
    for (int i = 0; i < g->naxes; i++) {
        if (n > SWEEP_MAX_POINTS / (g->ax[i].n ? g->ax[i].n : 1)) return SWEEP_MAX_POINTS + 1;
        n *= g->ax[i].n;
    }
    return n;
}

void sweep_grid_point(const sweep_grid *g, long p, int *idx)
{
    for (int i = g->naxes - 1; i >= 0; i--) {
        idx[i] = (int)(p % g->ax[i].n);
        p /= g->ax[i].n;
    }
}

int sweep_shard_parse(const char *s, int *i, int *n)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *sl = strchr(buf, '/');
    long a, b;
    if (sl) *sl = '\0';
    if (!sl || util_parse_long(buf, &a) || util_parse_long(sl + 1, &b) || b < 1 || a < 1 || a > b ||
        b > 1000000)
        return util_seterr(CS_EUSAGE, "--shard '%s': write I/N with 1 <= I <= N (e.g. --shard 3/64)", s);
    *i = (int)a;
    *n = (int)b;
    return CS_OK;
}

/* ---- identity ---------------------------------------------------------------------------- */

unsigned long long sweep_hash_bytes(unsigned long long h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t k = 0; k < n; k++) {
        h ^= p[k];
        h *= FNV_PRIME;
    }
    return h;
}

int sweep_hash_file(const char *path, unsigned long long *out)
{
    unsigned long long h = FNV_BASIS;
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) return util_seterr(CS_EUSAGE, "cannot read model file '%s': %s", path, strerror(errno));
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            h = sweep_hash_bytes(h, buf, n);
        fclose(f);
    }
    *out = h;
    return CS_OK;
}

unsigned long long sweep_point_id(const sweep_grid *g, long p, const char *engine,
                                  unsigned long long model_hash)
{
    int idx[SWEEP_MAX_AXES], order[SWEEP_MAX_AXES];
    sweep_grid_point(g, p, idx);
    for (int i = 0; i < g->naxes; i++)
        order[i] = i;
    for (int i = 1; i < g->naxes; i++) /* insertion sort by key */
        for (int j = i; j > 0 && strcmp(g->ax[order[j - 1]].key, g->ax[order[j]].key) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    unsigned long long h = sweep_hash_bytes(FNV_BASIS, engine, strlen(engine) + 1);
    h = sweep_hash_bytes(h, &model_hash, sizeof model_hash);
    for (int k = 0; k < g->naxes; k++) {
        const sweep_axis *a = &g->ax[order[k]];
        h = sweep_hash_bytes(h, a->key, strlen(a->key));
        h = sweep_hash_bytes(h, "=", 1);
        h = sweep_hash_bytes(h, a->val[idx[order[k]]], strlen(a->val[idx[order[k]]]) + 1);
    }
    return h;
}

/* ---- model file [sweep] section ---------------------------------------------------------- */

typedef struct {
    sweep_grid *g;
    char *command;
    size_t ncommand;
    long *seeds;
    int *full;
} model_ctx;

static int model_handler(void *user, const char *section, const char *name, const char *value, int line)
{
    (void)line;
    model_ctx *c = user;
    if (strcmp(section, "sweep") != 0) {
        if (!strcmp(name, "command")) snprintf(c->command, c->ncommand, "%s", value);
        return 1;
    }
    if (!strcmp(name, "vary")) {
        sweep_axis a;
        return sweep_axis_parse(value, &a) == CS_OK && sweep_grid_append(c->g, &a) == CS_OK;
    }
    if (!strcmp(name, "seeds")) {
        long n;
        if (util_parse_long(value, &n) || n < 1 || n > 1000000)
            return !util_seterr(CS_EUSAGE, "seeds = '%s' is not a number of seeds in [1, 1000000]", value);
        *c->seeds = n;
        return 1;
    }
    if (!strcmp(name, "full")) {
        int f = -1;
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes")) f = 1;
        if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no")) f = 0;
        if (f < 0) return !util_seterr(CS_EUSAGE, "full = '%s' in [sweep]: use true or false", value);
        if (c->full) *c->full = f;
        return 1;
    }
    return !util_seterr(
        CS_EUSAGE, "unknown key '%s' in [sweep]; use 'vary = KEY=...', 'seeds = N' or 'full = true'", name);
}

int sweep_read_model(const char *path, sweep_grid *g, char *command, size_t ncommand, long *seeds, int *full)
{
    model_ctx c = {.g = g, .command = command, .ncommand = ncommand, .seeds = seeds, .full = full};
    command[0] = '\0';
    return opts_ini_read(path, model_handler, &c);
}

/* ---- validation -------------------------------------------------------------------------- */

int sweep_has_spec(const cmd_def *cmd, const char *name)
{
    for (int i = 0; cmd->specs[i].name; i++)
        if (!strcmp(cmd->specs[i].name, name)) return 1;
    return 0;
}

int sweep_validate(const sweep_grid *g, const sweep_config *c)
{
    if (!sweep_has_spec(c->cmd, "out"))
        return util_seterr(CS_EUSAGE, "critsim %s has no --out option, so it cannot be swept", c->cmd->name);
    for (int i = 0; i < g->naxes; i++) {
        const char *k = g->ax[i].key;
        if (!strcmp(k, "out") || !strcmp(k, "model"))
            return util_seterr(CS_EUSAGE, "--vary %s: the sweep sets --%s itself; vary an engine option", k,
                               k);
        if (!sweep_has_spec(c->cmd, k))
            return util_seterr(CS_EUSAGE,
                               "--vary %s: critsim %s has no option --%s (see 'critsim %s --help')", k,
                               c->cmd->name, k, c->cmd->name);
    }
    if (sweep_grid_size(g) > SWEEP_MAX_POINTS)
        return util_seterr(CS_EUSAGE, "the grid has more than %ld points; split it into several sweeps",
                           SWEEP_MAX_POINTS);
    opts *o = NULL;
    char *argv[3] = {(char *)c->cmd->name, "--model", (char *)c->model};
    int rc = opts_parse(&o, c->cmd, c->model ? 3 : 1, argv);
    if (rc == OPTS_HELP) rc = util_seterr(CS_EUSAGE, "unexpected --help in the model file");
    for (int i = 0; rc == CS_OK && i < g->naxes; i++)
        for (int k = 0; rc == CS_OK && k < g->ax[i].n; k++)
            rc = opts_set(o, g->ax[i].key, g->ax[i].val[k]);
    opts_free(o);
    return rc;
}
