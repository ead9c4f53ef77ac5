/* sweep.c - parameter grids of engine runs: expansion, point ids, shards, resumable parallel
 * execution, summaries and merging.  Conventions, file formats and guarantees in sweep.h.
 *
 * Mathematics: none beyond mixed-radix indexing of the Cartesian product (first axis slowest),
 * FNV-1a hashing, and mean / sample standard deviation over seeds (two passes, in point order, so
 * that the summary is reproducible bit for bit).
 *
 * Non-goals: threads (each point runs in a forked child, which isolates crashes, exit() calls and the
 * engines' static state), retry policies, remote execution.
 */
#define _GNU_SOURCE /* memfd_create through syscall() */
#include "sweep.h"

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

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* ---- small helpers ---------------------------------------------------------------------- */

static char *trim(char *s)
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

static void strv_push(char ***v, int *n, int *cap, const char *s)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        char **p = realloc(*v, (size_t)*cap * sizeof *p);
        if (!p) util_malloc((size_t)-1);
        *v = p;
    }
    (*v)[(*n)++] = util_strdup(s);
}

static void strv_free(char **v, int n)
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
        strv_push(vals, nv, &cap, t);
    }
    return n;
}

/* ---- axes -------------------------------------------------------------------------------- */

void sweep_axis_clear(sweep_axis *a)
{
    strv_free(a->val, a->n);
    strv_free(a->varval, a->var[0] ? a->n : 0);
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
            t = trim(t);
            double d;
            if (!*t || util_parse_double(t, &d) != 0) {
                strv_free(vv, nv);
                return util_seterr(CS_EUSAGE, "--vary %s: {%s=...} needs START:STEP:END or numbers V1|V2|...",
                                   spec, a->var);
            }
            strv_push(&vv, &nv, &cap, t);
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
    char *k = trim(key);
    if (!valid_name(k)) return util_seterr(CS_EUSAGE, "--vary '%s': '%s' is not an option name", spec, k);
    snprintf(a->key, sizeof a->key, "%s", k);
    char *rest = util_strdup(eq + 1);
    char *r = trim(rest);
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
            strv_push(&a->val, &a->n, &cap, t);
        if (!a->n) rc = util_seterr(CS_EUSAGE, "--vary %s: empty list", spec);
    } else {
        int x = expand_range(spec, r, &a->val, &a->n);
        if (x < 0)
            rc = CS_EUSAGE;
        else if (x == 0) {
            int cap = 0;
            strv_push(&a->val, &a->n, &cap, r);
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
        strv_push(&a.val, &a.n, &cap, t);
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

static int has_spec(const cmd_def *cmd, const char *name)
{
    for (int i = 0; cmd->specs[i].name; i++)
        if (!strcmp(cmd->specs[i].name, name)) return 1;
    return 0;
}

int sweep_validate(const sweep_grid *g, const sweep_config *c)
{
    if (!has_spec(c->cmd, "out"))
        return util_seterr(CS_EUSAGE, "critsim %s has no --out option, so it cannot be swept", c->cmd->name);
    for (int i = 0; i < g->naxes; i++) {
        const char *k = g->ax[i].key;
        if (!strcmp(k, "out") || !strcmp(k, "model"))
            return util_seterr(CS_EUSAGE, "--vary %s: the sweep sets --%s itself; vary an engine option", k,
                               k);
        if (!has_spec(c->cmd, k))
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

/* ---- point files ------------------------------------------------------------------------- */

/* OUT/points/ID<suffix>: ".dat" (outcomes; the point is finished iff it exists), ".failed", ".log",
 * "" (the engine's run folder with --full). */
static void point_file(char *buf, size_t n, const char *out, unsigned long long id, const char *suffix)
{
    snprintf(buf, n, "%s/points/%016llx%s", out, id, suffix);
}

static int path_exists(const char *p)
{
    return access(p, F_OK) == 0;
}

/* rm -r of a scratch run folder (engines may write subfolders such as snap/). */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *path)
{
    if (path_exists(path)) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Scratch folders /dev/shm/critsim-sweep.PID of sweeps that were killed (PID no longer exists). */
static void remove_stale_scratch(void)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        if (strncmp(e->d_name, "critsim-sweep.", 14) != 0 || util_parse_long(e->d_name + 14, &pid) != 0)
            continue;
        if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char p[300];
            snprintf(p, sizeof p, "/dev/shm/%s", e->d_name);
            remove_tree(p);
        }
    }
    closedir(d);
}

/* Publish DIR/NAME = text atomically (publish.h). */
static int write_atomic(const char *dir, const char *name, const char *text)
{
    char fin[4300];
    util_path(fin, sizeof fin, dir, name);
    return pub_write(fin, text, strlen(text), 0);
}

/* Last line of the log file P that starts with "critsim" (else the last non-empty line), into buf. */
static void last_message(const char *p, char *buf, size_t n)
{
    char line[1024];
    buf[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f) return;
    char any[1024] = "";
    while (fgets(line, sizeof line, f)) {
        char *t = trim(line);
        if (!*t) continue;
        snprintf(any, sizeof any, "%s", t);
        if (!strncmp(t, "critsim", 7)) snprintf(buf, n, "%s", t);
    }
    fclose(f);
    if (!buf[0]) snprintf(buf, n, "%s", any);
}

/* ---- grid.dat ---------------------------------------------------------------------------- */

typedef struct {
    char engine[64];
    char version[64];     /* "0.1.0+BUILDID" from the first line: the build that wrote it */
    int shard_i, shard_n; /* "# shard: I/N" (1/1 when absent) */
    char model[1024];
    int ncols;
    char **cols; /* varied columns */
    long np;
    char **ids;  /* np ids (16 hex) */
    char **vals; /* np * ncols values */
} grid_file;

static void grid_file_free(grid_file *gf)
{
    strv_free(gf->cols, gf->ncols);
    strv_free(gf->ids, (int)gf->np);
    strv_free(gf->vals, (int)(gf->np * gf->ncols));
    memset(gf, 0, sizeof *gf);
}

static int write_grid(const sweep_grid *g, const sweep_config *c, unsigned long long mh,
                      unsigned long long *ids)
{
    table *t = table_open(c->out, "grid.dat", NULL);
    if (!t) return CS_EUSAGE;
    long np = sweep_grid_size(g);
    table_meta(t, "engine: %s", c->cmd->name);
    table_meta(t, "model: %s", c->model ? c->model : "-");
    table_meta(t, "model-hash: %016llx", mh);
    table_meta(t, "points: %ld (point folders: points/ID)", np);
    if (c->shard_n > 1) table_meta(t, "shard: %d/%d", c->shard_i, c->shard_n); /* for sweep --merge */
    char cols[4096] = "index id";
    for (int i = 0; i < g->naxes; i++) {
        strcat(cols, " ");
        strcat(cols, g->ax[i].key);
        if (g->ax[i].var[0]) {
            strcat(cols, " ");
            strcat(cols, g->ax[i].var);
        }
    }
    table_columns(t, cols);
    FILE *f = table_stream(t);
    int idx[SWEEP_MAX_AXES];
    for (long p = 0; p < np; p++) {
        sweep_grid_point(g, p, idx);
        fprintf(f, "%ld %016llx", p, ids[p]);
        for (int i = 0; i < g->naxes; i++) {
            fprintf(f, " %s", g->ax[i].val[idx[i]]);
            if (g->ax[i].var[0]) fprintf(f, " %s", g->ax[i].varval[idx[i]]);
        }
        fputc('\n', f);
    }
    return table_close(t);
}

/* Split a line into whitespace-separated tokens (in place). */
static int tokens(char *line, char **tok, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < max; t = strtok_r(NULL, " \t\r\n", &save))
        tok[n++] = t;
    return n;
}

/* The version token of a table's first line "# critsim 0.1.0+ID: NAME" ("" when absent). */
static void version_token(const char *line, char *buf, size_t n)
{
    buf[0] = '\0';
    if (strncmp(line, "# critsim ", 10) != 0) return;
    const char *e = strchr(line + 10, ':');
    if (!e || e - (line + 10) >= (long)n) return;
    memcpy(buf, line + 10, (size_t)(e - (line + 10)));
    buf[e - (line + 10)] = '\0';
}

static int read_grid(const char *dir, grid_file *gf)
{
    memset(gf, 0, sizeof *gf);
    gf->shard_i = gf->shard_n = 1;
    char p[4200];
    util_path(p, sizeof p, dir, "grid.dat");
    FILE *f = fopen(p, "r");
    if (!f)
        return util_seterr(CS_EUSAGE, "cannot read '%s': %s; is '%s' a sweep folder?", p, strerror(errno),
                           dir);
    char *line = util_malloc(1 << 16), *hdr = util_malloc(1 << 16);
    hdr[0] = '\0';
    char *tok[2 + 2 * SWEEP_MAX_AXES + 1];
    int ccap = 0, icap = 0, vcap = 0, nvals = 0, nids = 0, rc = CS_OK;
    while (fgets(line, 1 << 16, f)) {
        if (line[0] == '#') {
            if (!strncmp(line, "# critsim ", 10) && !gf->version[0])
                version_token(line, gf->version, sizeof gf->version);
            else if (!strncmp(line, "# shard: ", 9) &&
                     (sscanf(line + 9, "%d/%d", &gf->shard_i, &gf->shard_n) != 2 || gf->shard_n < 1 ||
                      gf->shard_i < 1 || gf->shard_i > gf->shard_n)) {
                rc = util_seterr(CS_EUSAGE, "'%s': bad line '%s'", p, trim(line));
                break;
            }
            if (!strncmp(line, "# engine: ", 10))
                snprintf(gf->engine, sizeof gf->engine, "%s", trim(line + 10));
            else if (!strncmp(line, "# model: ", 9))
                snprintf(gf->model, sizeof gf->model, "%s", trim(line + 9));
            snprintf(hdr, 1 << 16, "%s", line + 1);
            continue;
        }
        if (!gf->cols) {
            int n = tokens(hdr, tok, (int)(sizeof tok / sizeof tok[0]));
            if (n < 2 || strcmp(tok[0], "index") || strcmp(tok[1], "id")) {
                rc = util_seterr(CS_EUSAGE,
                                 "'%s': no 'index id ...' column line; was it written by critsim sweep?", p);
                break;
            }
            for (int k = 2; k < n; k++)
                strv_push(&gf->cols, &gf->ncols, &ccap, tok[k]);
            if (!gf->cols) gf->cols = util_calloc(1, sizeof *gf->cols);
        }
        int n = tokens(line, tok, (int)(sizeof tok / sizeof tok[0]));
        if (n == 0) continue;
        if (n != 2 + gf->ncols) {
            rc = util_seterr(CS_EUSAGE, "'%s': row %ld has %d fields, want %d", p, gf->np, n, 2 + gf->ncols);
            break;
        }
        strv_push(&gf->ids, &nids, &icap, tok[1]);
        for (int k = 0; k < gf->ncols; k++)
            strv_push(&gf->vals, &nvals, &vcap, tok[2 + k]);
        gf->np++;
    }
    fclose(f);
    free(line);
    free(hdr);
    if (rc != CS_OK) grid_file_free(gf);
    return rc;
}

/* ---- summaries --------------------------------------------------------------------------- */

typedef struct {
    int status; /* 0 ok, >0 failed, -1 not run */
    char msg[512];
    int nk;
    char **keys, **vals;
} point_result;

static void read_point(const char *out, const char *id, point_result *r)
{
    char p[4300], line[4096];
    memset(r, 0, sizeof *r);
    snprintf(p, sizeof p, "%s/points/%s.dat", out, id);
    FILE *f = fopen(p, "r");
    if (f) {
        int kc = 0, vc = 0, nv = 0;
        while (fgets(line, sizeof line, f)) {
            if (line[0] == '#') continue;
            char *tok[3];
            int n = tokens(line, tok, 3);
            if (n < 2) continue;
            strv_push(&r->keys, &r->nk, &kc, tok[0]);
            strv_push(&r->vals, &nv, &vc, tok[1]);
        }
        fclose(f);
        return;
    }
    snprintf(p, sizeof p, "%s/points/%s.failed", out, id);
    f = fopen(p, "r");
    if (!f) {
        r->status = -1;
        snprintf(r->msg, sizeof r->msg, "not run");
        return;
    }
    r->status = 1;
    if (fgets(line, sizeof line, f)) sscanf(line, "status %d", &r->status);
    if (fgets(line, sizeof line, f)) snprintf(r->msg, sizeof r->msg, "%s", trim(line));
    fclose(f);
}

static int key_index(char **keys, int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], k)) return i;
    return -1;
}

/* The rows of summary.dat (t open): one per point of the shard, the grid's columns, every outcome key
 * any point wrote (okeys, in order of appearance; nan where a point lacks it) and the status. */
static int summary_rows(table *t, const grid_file *gf, const point_result *res, char **okeys, int nok,
                        int shard_i, int shard_n, long np, long nfailed)
{
    table_meta(t, "sweep of critsim %s, model %s", gf->engine, gf->model);
    if (shard_n > 1)
        table_meta(t, "shard %d/%d: %ld of the grid's %ld points", shard_i, shard_n, np, gf->np);
    else
        table_meta(t, "points: %ld", gf->np);
    table_meta(t, "finished: %ld, failed or not run: %ld", np - nfailed, nfailed);
    for (long p = 0; p < gf->np; p++) {
        if (!sweep_in_shard(p, shard_i, shard_n) || res[p].status == 0) continue;
        char as[2048] = "";
        for (int k = 0; k < gf->ncols; k++) {
            size_t l = strlen(as);
            snprintf(as + l, sizeof as - l, "%s%s=%s", k ? " " : "", gf->cols[k],
                     gf->vals[p * gf->ncols + k]);
        }
        table_meta(t, "failed: point %ld (%s) id %s status %d: %s", p, as, gf->ids[p], res[p].status,
                   res[p].msg);
    }
    size_t cl = 16;
    for (int k = 0; k < gf->ncols; k++)
        cl += strlen(gf->cols[k]) + 1;
    for (int k = 0; k < nok; k++)
        cl += strlen(okeys[k]) + 1;
    char *cols = util_malloc(cl);
    cols[0] = '\0';
    for (int k = 0; k < gf->ncols; k++)
        strcat(strcat(cols, k ? " " : ""), gf->cols[k]);
    for (int k = 0; k < nok; k++)
        strcat(strcat(cols, cols[0] ? " " : ""), okeys[k]);
    strcat(strcat(cols, cols[0] ? " " : ""), "status");
    table_columns(t, cols);
    free(cols);
    FILE *f = table_stream(t);
    for (long p = 0; p < gf->np; p++) {
        if (!sweep_in_shard(p, shard_i, shard_n)) continue;
        int first = 1;
        for (int k = 0; k < gf->ncols; k++, first = 0)
            fprintf(f, "%s%s", first ? "" : " ", gf->vals[p * gf->ncols + k]);
        for (int k = 0; k < nok; k++, first = 0) {
            int j = key_index(res[p].keys, res[p].nk, okeys[k]);
            fprintf(f, "%s%s", first ? "" : " ", j >= 0 ? res[p].vals[j] : "nan");
        }
        fprintf(f, "%s%d\n", first ? "" : " ", res[p].status);
    }
    return table_close(t);
}

/* The rows of summary_seeds.dat (t open): the finished points grouped over the seed column, the mean
 * and sample sd of every outcome key per group. */
static int seeds_rows(table *t, const grid_file *gf, const point_result *res, char **okeys, int nok,
                      int shard_i, int shard_n)
{
    int seedc = key_index(gf->cols, gf->ncols, "seed");
    table_meta(t, "sweep of critsim %s, model %s: mean and sample sd over seeds of the finished points",
               gf->engine, gf->model);
    if (shard_n > 1) table_meta(t, "shard %d/%d", shard_i, shard_n);
    size_t cl = 32;
    for (int k = 0; k < gf->ncols; k++)
        cl += strlen(gf->cols[k]) + 1;
    for (int k = 0; k < nok; k++)
        cl += 2 * strlen(okeys[k]) + 12;
    char *cols = util_malloc(cl);
    cols[0] = '\0';
    for (int k = 0; k < gf->ncols; k++)
        if (k != seedc) strcat(strcat(cols, cols[0] ? " " : ""), gf->cols[k]);
    strcat(strcat(cols, cols[0] ? " " : ""), "n");
    for (int k = 0; k < nok; k++) {
        strcat(strcat(strcat(cols, " "), okeys[k]), "_mean");
        strcat(strcat(strcat(cols, " "), okeys[k]), "_sd");
    }
    table_columns(t, cols);
    free(cols);
    FILE *f = table_stream(t);
    char *done = util_calloc((size_t)gf->np + 1, 1);
    long *members = util_malloc(((size_t)gf->np + 1) * sizeof *members);
    for (long p = 0; p < gf->np; p++) {
        if (!sweep_in_shard(p, shard_i, shard_n) || done[p]) continue;
        long nm = 0;
        for (long q = p; q < gf->np; q++) {
            if (done[q] || !sweep_in_shard(q, shard_i, shard_n)) continue;
            int same = 1;
            for (int k = 0; k < gf->ncols && same; k++)
                if (k != seedc && strcmp(gf->vals[p * gf->ncols + k], gf->vals[q * gf->ncols + k])) same = 0;
            if (!same) {
                if (seedc == gf->ncols - 1) break; /* seed is the fastest axis: a group is one block */
                continue;
            }
            done[q] = 1;
            if (res[q].status == 0) members[nm++] = q;
            if (seedc < 0) break;
        }
        int first = 1;
        for (int k = 0; k < gf->ncols; k++)
            if (k != seedc) {
                fprintf(f, "%s%s", first ? "" : " ", gf->vals[p * gf->ncols + k]);
                first = 0;
            }
        fprintf(f, "%s%ld", first ? "" : " ", nm);
        for (int k = 0; k < nok; k++) {
            double sum = 0, ss = 0;
            for (long m = 0; m < nm; m++) {
                int j = key_index(res[members[m]].keys, res[members[m]].nk, okeys[k]);
                sum += j >= 0 ? strtod(res[members[m]].vals[j], NULL) : NAN;
            }
            double mean = nm ? sum / (double)nm : NAN;
            for (long m = 0; m < nm; m++) {
                int j = key_index(res[members[m]].keys, res[members[m]].nk, okeys[k]);
                double d = (j >= 0 ? strtod(res[members[m]].vals[j], NULL) : NAN) - mean;
                ss += d * d;
            }
            double sd = nm >= 2 ? sqrt(ss / (double)(nm - 1)) : NAN;
            if (isnan(mean))
                fprintf(f, " nan");
            else
                fprintf(f, " %.17g", mean);
            if (isnan(sd))
                fprintf(f, " nan");
            else
                fprintf(f, " %.17g", sd);
        }
        fputc('\n', f);
    }
    free(done);
    free(members);
    return table_close(t);
}

int sweep_summarize(const char *out, int shard_i, int shard_n, long *nfailed)
{
    grid_file gf;
    int rc = read_grid(out, &gf);
    if (rc != CS_OK) return rc;
    *nfailed = 0;
    long np = 0;
    point_result *res = util_calloc((size_t)gf.np + 1, sizeof *res);
    char **okeys = NULL;
    int nok = 0, okcap = 0;
    for (long p = 0; p < gf.np; p++) {
        if (!sweep_in_shard(p, shard_i, shard_n)) continue;
        np++;
        read_point(out, gf.ids[p], &res[p]);
        if (res[p].status != 0) (*nfailed)++;
        for (int k = 0; k < res[p].nk; k++)
            if (key_index(okeys, nok, res[p].keys[k]) < 0) strv_push(&okeys, &nok, &okcap, res[p].keys[k]);
    }
    /* summary.dat */
    table *t = table_open(out, "summary.dat", NULL);
    if (!t) rc = CS_EUSAGE;
    if (t) rc = summary_rows(t, &gf, res, okeys, nok, shard_i, shard_n, np, *nfailed);
    /* summary_seeds.dat: group over the seed column */
    if (rc == CS_OK) t = table_open(out, "summary_seeds.dat", NULL);
    if (rc == CS_OK && !t) rc = CS_EUSAGE;
    if (rc == CS_OK) rc = seeds_rows(t, &gf, res, okeys, nok, shard_i, shard_n);
    for (long p = 0; p < gf.np; p++) {
        strv_free(res[p].keys, res[p].nk);
        strv_free(res[p].vals, res[p].nk);
    }
    free(res);
    strv_free(okeys, nok);
    grid_file_free(&gf);
    return rc;
}

/* ---- execution --------------------------------------------------------------------------- */

/* Child: the point's options on top of the parent's parsed model (inherited through fork); the engine
 * runs in `rundir` (a scratch folder in memory, or OUT/points/ID with --full); on success its
 * final.dat is published as OUT/points/ID.dat (tmp + rename), on failure its output is saved as
 * OUT/points/ID.log.  Output goes to an in-memory file: creating files costs more than a small engine
 * run on some file systems. */
static void child_main(const sweep_grid *g, const sweep_config *c, opts *o, long p, unsigned long long id,
                       const char *rundir, int scratch, pid_t parent, const char *branch)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed sweep takes its points with it */
    if (getppid() != parent) _exit(128 + SIGKILL);
    char logp[4300], fin[4300], src[4300];
    point_file(logp, sizeof logp, c->out, id, ".log");
    int fd = (int)syscall(SYS_memfd_create, "critsim-point", 0);
    if (fd < 0) fd = open(logp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    linalg_blas_threads(LINALG_BLAS_WORKER);
    util_clearerr();
    const cmd_def *cmd = c->cmd;
    int idx[SWEEP_MAX_AXES];
    sweep_grid_point(g, p, idx);
    size_t cl = 64 + strlen(cmd->name) + strlen(c->out) + 40 + (c->model ? strlen(c->model) : 0);
    for (int i = 0; i < g->naxes; i++)
        cl += strlen(g->ax[i].key) + strlen(g->ax[i].val[idx[i]]) + 8;
    char *cmdline = util_malloc(cl);
    snprintf(cmdline, cl, "critsim %s%s%s", cmd->name, c->model ? " --model " : "", c->model ? c->model : "");
    int rc = CS_OK;
    for (int i = 0; rc == CS_OK && i < g->naxes; i++) {
        rc = opts_set(o, g->ax[i].key, g->ax[i].val[idx[i]]);
        strcat(strcat(strcat(strcat(cmdline, " --"), g->ax[i].key), " "), g->ax[i].val[idx[i]]);
    }
    if (rc == CS_OK) rc = opts_set(o, "out", rundir);
    if (rc == CS_OK && !c->full && has_spec(cmd, "final-only")) rc = opts_set(o, "final-only", "true");
    if (rc == CS_OK && branch) { /* continue exactly from the deficit trunk (the command line stays the
                                  * point's: the run is the same, bit for bit) */
        rc = opts_set(o, "branch", branch);
        if (rc == CS_OK) rc = opts_set(o, "branch-mode", "exact");
    }
    char home[4300]; /* provenance names the point's folder in the sweep, where --full would write */
    point_file(home, sizeof home, c->out, id, "");
    strcat(strcat(cmdline, " --out "), home);
    if (rc == CS_OK) {
        opts_set_cmdline(o, cmdline);
        rc = cmd->run(o);
    }
    fflush(NULL);
    if (rc == CS_OK) { /* publish: copy final.dat to points/ID.dat (publish.h) */
        util_path(src, sizeof src, rundir, "final.dat");
        point_file(fin, sizeof fin, c->out, id, ".dat");
        if (access(src, F_OK) != 0)
            rc = util_seterr(CS_EFAIL, "the engine exited 0 but wrote no final.dat (%s)", src);
        else if (pub_copy(src, fin, 0) != CS_OK)
            rc = CS_EFAIL;
        if (rc != CS_OK) fprintf(stderr, "critsim sweep: %s\n", util_errmsg());
    } else {
        const char *m = opts_errmsg(cmd);
        fprintf(stderr, "critsim %s: %s\n", cmd->name, m[0] ? m : "failed (no message recorded)");
    }
    fflush(stderr);
    if (scratch) remove_tree(rundir);
    struct stat sb;
    if (rc != CS_OK && fd >= 0 && fstat(fd, &sb) == 0 && sb.st_nlink == 0) { /* save the memfd as ID.log */
        pub *lp = pub_open(logp, 0);
        if (lp) {
            FILE *lf = pub_stream(lp);
            fprintf(lf, "# %s\n", cmdline);
            char buf[8192];
            ssize_t n;
            lseek(fd, 0, SEEK_SET);
            while ((n = read(fd, buf, sizeof buf)) > 0)
                fwrite(buf, 1, (size_t)n, lf);
            pub_commit(lp);
        }
    }
    _exit(rc < 0 || rc > 255 ? 1 : rc);
}

/* ---- deficit trunks ---------------------------------------------------------------------------
 *
 * Points that differ only in where their single deficit window [S, E) ends (and in --epochs /
 * --clean-epochs) share their first E epochs exactly: the engine's training state after E epochs does
 * not depend on what comes later.  Such points (engines with --branch-mode exact and --checkpoint-at,
 * i.e. critsim cnn) are grouped by a trunk key; a group of two or more points of the shard gets one
 * trunk run with the deficit [S, E_max) that keeps ckpt_E.bin at every E of the group, in
 * OUT/trunks/TID/ (TID hashes the key and the list of E, so another grid or shard gets another
 * trunk).  Each point then continues from ckpt_E.bin with --branch-mode exact, which the engine
 * guarantees to be bit-identical to the run from scratch.  The trunk runs with --resume, so a killed
 * sweep continues it; the engine writes ckpt_E.bin before checkpoint.bin, so every checkpoint up to
 * the trunk's epoch exists.  A trunk's folder is removed once all its points are finished. */

enum { TR_IDLE, TR_RUNNING, TR_DONE, TR_FAILED };

typedef struct {
    unsigned long long key; /* trunk key (shared options), then the folder id */
    long p;                 /* a point of the group */
    long end;               /* its deficit's END */
} trunk_cand;

typedef struct {
    unsigned long long id;
    char dir[4300];    /* OUT/trunks/TID */
    long rep;          /* a point of the trunk: its options but for the deficit's end, epochs, clean-epochs */
    char prefix[128];  /* the deficit up to its END: KIND[:ARGS]@START- */
    long *ends, nends; /* distinct END values of the trunk's points in the shard, ascending */
    long *members, nmembers;
    long target; /* epochs to run now (0: every checkpoint the unfinished points need exists) */
    pid_t pid;
    int state, code;
    char msg[600];
} trunk;

/* The text value of option `key` for point idx: the axis value, or the model's (NULL when unset). */
static const char *point_value(const sweep_grid *g, const int *idx, const opts *base, const char *key)
{
    for (int i = 0; i < g->naxes; i++)
        if (!strcmp(g->ax[i].key, key)) return g->ax[i].val[idx[i]];
    return opts_str(base, key);
}

static int trunk_key_skip(const char *k)
{
    return !strcmp(k, "deficit") || !strcmp(k, "epochs") || !strcmp(k, "clean-epochs");
}

/* Is point p a deficit-removal point that can branch from a trunk?  Then *end, prefix and *key. */
static int trunk_candidate(const sweep_grid *g, const sweep_config *c, const opts *base,
                           unsigned long long mh, long p, long *end, char *prefix, size_t nprefix,
                           unsigned long long *key)
{
    int idx[SWEEP_MAX_AXES], order[SWEEP_MAX_AXES], dax = -1;
    sweep_grid_point(g, p, idx);
    for (int i = 0; i < g->naxes; i++) {
        const char *k = g->ax[i].key;
        if (!strcmp(k, "deficit")) dax = i;
        if (!strcmp(k, "branch") || !strcmp(k, "branch-mode") || !strcmp(k, "resume") ||
            !strcmp(k, "checkpoint-at"))
            return 0;
    }
    if (dax < 0 || opts_str(base, "branch") || opts_flag(base, "resume")) return 0;
    const char *v = g->ax[dax].val[idx[dax]];
    deficit d;
    if (strchr(v, '+') || deficit_parse(v, &d) != CS_OK) {
        util_clearerr();
        return 0;
    }
    const char *at = strchr(v, '@'), *dash = at ? strchr(at, '-') : NULL;
    if (d.kind == DEF_SWITCH || d.end < 1 || !dash || (size_t)(dash - v) + 2 > nprefix) return 0;
    long clean = 0, epochs = 0;
    const char *cv = point_value(g, idx, base, "clean-epochs"), *ev = point_value(g, idx, base, "epochs");
    if ((cv && util_parse_long(cv, &clean)) || !ev || util_parse_long(ev, &epochs)) return 0;
    static const char *const per_epoch[] = {"snap-every", "fisher-every", NULL}; /* files an exact branch */
    for (int i = 0; per_epoch[i]; i++) {                                         /* does not carry over */
        long k = 0;
        const char *kv = has_spec(c->cmd, per_epoch[i]) ? point_value(g, idx, base, per_epoch[i]) : NULL;
        if (kv && (util_parse_long(kv, &k) || k != 0)) return 0;
    }
    if (d.end > (clean > 0 ? d.end + clean : epochs)) return 0; /* the deficit outlasts the run */
    memcpy(prefix, v, (size_t)(dash - v) + 1);
    prefix[dash - v + 1] = '\0';
    *end = d.end;
    for (int i = 0; i < g->naxes; i++)
        order[i] = i;
    for (int i = 1; i < g->naxes; i++) /* insertion sort by key, as the point id */
        for (int j = i; j > 0 && strcmp(g->ax[order[j - 1]].key, g->ax[order[j]].key) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    unsigned long long h = sweep_hash_bytes(FNV_BASIS, "trunk", 6);
    h = sweep_hash_bytes(h, c->cmd->name, strlen(c->cmd->name) + 1);
    h = sweep_hash_bytes(h, &mh, sizeof mh);
    for (int k = 0; k < g->naxes; k++) {
        const sweep_axis *a = &g->ax[order[k]];
        if (trunk_key_skip(a->key)) continue;
        h = sweep_hash_bytes(h, a->key, strlen(a->key));
        h = sweep_hash_bytes(h, "=", 1);
        h = sweep_hash_bytes(h, a->val[idx[order[k]]], strlen(a->val[idx[order[k]]]) + 1);
    }
    *key = sweep_hash_bytes(h, prefix, strlen(prefix) + 1);
    return 1;
}

static int cand_cmp(const void *a, const void *b)
{
    const trunk_cand *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->p < y->p ? -1 : x->p > y->p;
}

static int long_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static void trunk_ckpt(const trunk *t, long end, char *buf, size_t n)
{
    snprintf(buf, n, "%s/ckpt_%ld.bin", t->dir, end);
}

/* Group the shard's trunk candidates; ptr[p] = trunk index of todo point p (or -1), pend[p] its END.
 * Returns the number of trunks (array *out). */
static int plan_trunks(const sweep_grid *g, const sweep_config *c, const opts *base, unsigned long long mh,
                       const long *todo, long ntodo, int *ptr, long *pend, trunk **out)
{
    static const char *const need[] = {"deficit",     "epochs",        "clean-epochs", "branch",
                                       "branch-mode", "checkpoint-at", "resume",       NULL};
    *out = NULL;
    for (int i = 0; need[i]; i++)
        if (!has_spec(c->cmd, need[i])) return 0;
    long np = sweep_grid_size(g), nc = 0;
    trunk_cand *cand = util_malloc(((size_t)np + 1) * sizeof *cand);
    char prefix[128];
    for (long p = 0; p < np; p++) {
        if (!sweep_in_shard(p, c->shard_i, c->shard_n)) continue;
        long e;
        unsigned long long k;
        if (trunk_candidate(g, c, base, mh, p, &e, prefix, sizeof prefix, &k))
            cand[nc++] = (trunk_cand){k, p, e};
    }
    qsort(cand, (size_t)nc, sizeof *cand, cand_cmp);
    char *in_todo = util_calloc((size_t)np + 1, 1);
    for (long k = 0; k < ntodo; k++)
        in_todo[todo[k]] = 1;
    trunk *tr = NULL;
    int ntr = 0;
    for (long a = 0, b; a < nc; a = b) {
        for (b = a + 1; b < nc && cand[b].key == cand[a].key;)
            b++;
        if (b - a < 2) continue; /* one point: nothing to share */
        long nt = 0;
        for (long k = a; k < b; k++)
            nt += in_todo[cand[k].p];
        if (nt == 0) { /* all finished: a folder left by a sweep killed before its cleanup goes */
            long *e = util_malloc((size_t)(b - a) * sizeof *e), u = 0;
            for (long k = a; k < b; k++)
                e[k - a] = cand[k].end;
            qsort(e, (size_t)(b - a), sizeof *e, long_cmp);
            for (long k = 0; k < b - a; k++)
                if (!u || e[k] != e[u - 1]) e[u++] = e[k];
            char dir[4300];
            snprintf(dir, sizeof dir, "%s/trunks/%016llx", c->out,
                     sweep_hash_bytes(cand[a].key, e, (size_t)u * sizeof *e));
            if (!c->plan) remove_tree(dir);
            free(e);
            continue;
        }
        tr = realloc(tr, (size_t)(ntr + 1) * sizeof *tr);
        if (!tr) util_malloc((size_t)-1);
        trunk *t = &tr[ntr++];
        memset(t, 0, sizeof *t);
        t->rep = cand[a].p;
        long e;
        unsigned long long k0;
        trunk_candidate(g, c, base, mh, t->rep, &e, t->prefix, sizeof t->prefix, &k0);
        t->ends = util_malloc((size_t)(b - a) * sizeof *t->ends);
        t->members = util_malloc((size_t)(b - a) * sizeof *t->members);
        for (long k = a; k < b; k++) {
            t->ends[t->nends++] = cand[k].end;
            t->members[t->nmembers++] = cand[k].p;
        }
        qsort(t->ends, (size_t)t->nends, sizeof *t->ends, long_cmp);
        long u = 0;
        for (long k = 0; k < t->nends; k++)
            if (!u || t->ends[k] != t->ends[u - 1]) t->ends[u++] = t->ends[k];
        t->nends = u;
        unsigned long long h = sweep_hash_bytes(cand[a].key, t->ends, (size_t)u * sizeof *t->ends);
        t->id = h;
        snprintf(t->dir, sizeof t->dir, "%s/trunks/%016llx", c->out, h);
        for (long k = a; k < b; k++) {
            long p = cand[k].p;
            if (!in_todo[p]) continue;
            ptr[p] = ntr - 1;
            pend[p] = cand[k].end;
            char ck[4400];
            trunk_ckpt(t, cand[k].end, ck, sizeof ck);
            if (!path_exists(ck) && cand[k].end > t->target) t->target = cand[k].end;
        }
        t->state = t->target > 0 ? TR_IDLE : TR_DONE;
    }
    free(in_todo);
    free(cand);
    *out = tr;
    return ntr;
}

static void trunks_free(trunk *tr, int n)
{
    for (int i = 0; i < n; i++) {
        free(tr[i].ends);
        free(tr[i].members);
    }
    free(tr);
}

/* Child: the trunk run (engine options of its representative point; the deficit [S, E_max), no clean
 * epochs, --epochs target, --checkpoint-at every END, --resume) in t->dir, output appended to
 * t->dir/trunk.log. */
static void trunk_main(const sweep_grid *g, const sweep_config *c, opts *o, const trunk *t, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(128 + SIGKILL);
    char logp[4400];
    if (util_mkdir_p(t->dir) != CS_OK) _exit(2);
    util_path(logp, sizeof logp, t->dir, "trunk.log");
    int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    linalg_blas_threads(LINALG_BLAS_WORKER);
    util_clearerr();
    int idx[SWEEP_MAX_AXES];
    sweep_grid_point(g, t->rep, idx);
    char def[200], target[32], *at = NULL;
    size_t al = 16;
    FILE *ms = open_memstream(&at, &al);
    for (long k = 0; ms && k < t->nends; k++)
        fprintf(ms, "%s%ld", k ? "," : "", t->ends[k]);
    if (ms) fclose(ms);
    snprintf(def, sizeof def, "%s%ld", t->prefix, t->ends[t->nends - 1]);
    snprintf(target, sizeof target, "%ld", t->target);
    char *cmdline = NULL;
    size_t cl = 0;
    ms = open_memstream(&cmdline, &cl);
    int rc = at && ms ? CS_OK : util_seterr(CS_EFAIL, "out of memory");
    if (ms)
        fprintf(ms, "critsim %s%s%s", c->cmd->name, c->model ? " --model " : "", c->model ? c->model : "");
    for (int i = 0; rc == CS_OK && i < g->naxes; i++) {
        if (trunk_key_skip(g->ax[i].key)) continue;
        rc = opts_set(o, g->ax[i].key, g->ax[i].val[idx[i]]);
        fprintf(ms, " --%s %s", g->ax[i].key, g->ax[i].val[idx[i]]);
    }
    const char *set[][2] = {{"deficit", def},      {"clean-epochs", "0"},     {"epochs", target},
                            {"checkpoint-at", at}, {"checkpoint-every", "0"}, {"resume", "true"},
                            {"out", t->dir}};
    for (size_t i = 0; rc == CS_OK && i < sizeof set / sizeof set[0]; i++) {
        if (!has_spec(c->cmd, set[i][0])) continue;
        rc = opts_set(o, set[i][0], set[i][1]);
        if (!strcmp(set[i][1], "true"))
            fprintf(ms, " --%s", set[i][0]);
        else
            fprintf(ms, " --%s %s", set[i][0], set[i][1]);
    }
    if (ms) fclose(ms);
    if (rc == CS_OK) {
        opts_set_cmdline(o, cmdline);
        fprintf(stderr, "critsim sweep: trunk %s\n", cmdline);
        rc = c->cmd->run(o);
    }
    if (rc != CS_OK) {
        const char *m = opts_errmsg(c->cmd);
        fprintf(stderr, "critsim %s: %s\n", c->cmd->name, m[0] ? m : "failed (no message recorded)");
    }
    fflush(NULL);
    _exit(rc < 0 || rc > 255 ? 1 : rc);
}

/* Remove the folders of trunks whose points (of the shard) are all finished, then OUT/trunks if empty. */
static void trunks_cleanup(const sweep_config *c, const trunk *tr, int ntr, const unsigned long long *ids)
{
    char path[4300];
    for (int i = 0; i < ntr; i++) {
        int all = 1;
        for (long k = 0; all && k < tr[i].nmembers; k++) {
            point_file(path, sizeof path, c->out, ids[tr[i].members[k]], ".dat");
            all = path_exists(path);
        }
        if (all) remove_tree(tr[i].dir);
    }
    util_path(path, sizeof path, c->out, "trunks");
    rmdir(path);
}

typedef struct {
    pid_t pid;
    long p; /* point index, or -1 - trunk index */
} slot;

/* SIGINT / SIGTERM / SIGHUP in the parent: stop starting points, kill the running ones, say how to
 * resume.  (Finished points are already published; the killed ones simply run again next time.) */
static volatile sig_atomic_t sweep_stop;
static void on_stop(int sig)
{
    sweep_stop = sig;
}

static void describe(const sweep_grid *g, long p, char *buf, size_t n)
{
    int idx[SWEEP_MAX_AXES];
    sweep_grid_point(g, p, idx);
    buf[0] = '\0';
    for (int i = 0; i < g->naxes; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s=%s", i ? " " : "", g->ax[i].key, g->ax[i].val[idx[i]]);
    }
}

/* Record point p as failed: OUT/points/ID.failed ("status N" and a message) and a line on stderr. */
static void record_failure(const sweep_grid *g, const sweep_config *c, const char *pts, long p,
                           unsigned long long id, int code, char *msg)
{
    for (char *m = msg; *m; m++)
        if (*m == '\n' || *m == '\r') *m = ' ';
    char text[800], name[64];
    snprintf(text, sizeof text, "status %d\n%.760s\n", code, msg);
    snprintf(name, sizeof name, "%016llx.failed", id);
    write_atomic(pts, name, text);
    if (!c->quiet) {
        char as[2048];
        describe(g, p, as, sizeof as);
        fprintf(stderr, "critsim sweep: point %ld (%s) failed with status %d: %s\n", p, as, code, msg);
    }
}

/* The executor's state while sweep_run runs the points of its shard (sweep_run's steps below). */
typedef struct {
    const sweep_grid *g;
    const sweep_config *c;
    sweep_stats *st;
    opts *base; /* the model file parsed once; every child (after fork) changes its own copy */
    const unsigned long long *ids;
    const long *todo; /* the points to run, in order */
    long ntodo;
    trunk *tr; /* deficit trunks; ptr[p] the trunk of point p (-1: from scratch), pend[p] its END */
    int ntr;
    const int *ptr;
    const long *pend;
    char pts[4200];    /* OUT/points */
    char scratch[256]; /* scratch run folders in memory, or "" */
    slot *run;         /* jobs slots, pid 0 when free */
    int jobs, running;
    char *started;  /* started[k]: todo[k] started (or failed without starting) */
    long lo, nleft; /* todo[lo..] holds every point not started yet; nleft of them */
    pid_t self;
} exec_state;

static const int stop_sigs[3] = {SIGINT, SIGTERM, SIGHUP};

static void slot_take(exec_state *x, pid_t pid, long p)
{
    for (int s = 0; s < x->jobs; s++)
        if (!x->run[s].pid) {
            x->run[s].pid = pid;
            x->run[s].p = p;
            break;
        }
    x->running++;
}

/* Scratch run folders in memory (/dev/shm) unless the full tables are wanted or it is unusable. */
static void make_scratch(const sweep_config *c, long ntodo, char *scratch, size_t n)
{
    scratch[0] = '\0';
    if (c->full || ntodo == 0) return;
    remove_stale_scratch();
    snprintf(scratch, n, "/dev/shm/critsim-sweep.%ld", (long)getpid());
    if (mkdir(scratch, 0700) != 0 && errno == EEXIST) { /* left by an earlier process with our pid */
        remove_tree(scratch);
        if (mkdir(scratch, 0700) != 0) scratch[0] = '\0';
    } else if (!path_exists(scratch)) {
        scratch[0] = '\0';
    }
}

/* Start idle trunks while slots are free (trunks first: their points wait for them). */
static int start_trunks(exec_state *x)
{
    for (int t = 0; t < x->ntr && x->running < x->jobs && !sweep_stop; t++) {
        if (x->tr[t].state != TR_IDLE) continue;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) return util_seterr(CS_EFAIL, "fork failed: %s", strerror(errno));
        if (pid == 0) {
            for (int k = 0; k < 3; k++)
                signal(stop_sigs[k], SIG_DFL);
            trunk_main(x->g, x->c, x->base, &x->tr[t], x->self);
        }
        x->tr[t].state = TR_RUNNING;
        x->tr[t].pid = pid;
        slot_take(x, pid, -1 - t);
    }
    return CS_OK;
}

/* Start points while slots are free; *waiting counts the points whose trunk has not reached their END
 * yet.  A point whose trunk failed or finished without its checkpoint fails without starting. */
static int start_points(exec_state *x, int *waiting)
{
    const sweep_config *c = x->c;
    *waiting = 0;
    while (x->lo < x->ntodo && x->started[x->lo])
        x->lo++;
    for (long k = x->lo; k < x->ntodo && x->running < x->jobs && !sweep_stop; k++) {
        if (x->started[k]) continue;
        long p = x->todo[k];
        char ck[4400] = "";
        if (x->ptr && x->ptr[p] >= 0) {
            trunk *t = &x->tr[x->ptr[p]];
            trunk_ckpt(t, x->pend[p], ck, sizeof ck);
            if (!path_exists(ck)) {
                if (t->state == TR_IDLE || t->state == TR_RUNNING) {
                    (*waiting)++;
                    continue;
                }
                char msg[9500];
                if (t->state == TR_FAILED)
                    snprintf(msg, sizeof msg, "its deficit trunk %s failed: %s", t->dir, t->msg);
                else
                    snprintf(msg, sizeof msg, "its deficit trunk %s finished without %s", t->dir, ck);
                x->started[k] = 1;
                x->nleft--;
                x->st->ran++;
                x->st->failed++;
                record_failure(x->g, c, x->pts, p, x->ids[p], t->state == TR_FAILED ? t->code : 1, msg);
                continue;
            }
        }
        char rundir[4300];
        if (x->scratch[0])
            snprintf(rundir, sizeof rundir, "%s/%016llx", x->scratch, x->ids[p]);
        else
            point_file(rundir, sizeof rundir, c->out, x->ids[p], "");
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) return util_seterr(CS_EFAIL, "fork failed: %s", strerror(errno));
        if (pid == 0) {
            for (int k2 = 0; k2 < 3; k2++)
                signal(stop_sigs[k2], SIG_DFL);
            child_main(x->g, c, x->base, p, x->ids[p], rundir, x->scratch[0] != '\0', x->self,
                       ck[0] ? ck : NULL);
        }
        x->started[k] = 1;
        x->nleft--;
        slot_take(x, pid, p);
    }
    return CS_OK;
}

/* A child ended: a trunk (its state, and its message when it failed) or a point (published, or
 * recorded as failed with the last line of its log). */
static void reap(exec_state *x, pid_t pid, int status)
{
    const sweep_config *c = x->c;
    char path[4300];
    int s = 0;
    while (s < x->jobs && x->run[s].pid != pid)
        s++;
    if (s == x->jobs) return; /* not one of ours */
    long p = x->run[s].p;
    x->run[s].pid = 0;
    x->running--;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    if (p < 0) { /* a trunk */
        trunk *t = &x->tr[-1 - p];
        t->pid = 0;
        t->code = code;
        t->state = code == 0 ? TR_DONE : TR_FAILED;
        if (code != 0) {
            if (WIFSIGNALED(status))
                snprintf(t->msg, sizeof t->msg, "killed by signal %d", WTERMSIG(status));
            else {
                util_path(path, sizeof path, t->dir, "trunk.log");
                last_message(path, t->msg, sizeof t->msg);
            }
            if (!c->quiet)
                fprintf(stderr, "critsim sweep: deficit trunk %s failed with status %d: %s\n", t->dir, code,
                        t->msg);
        }
        return;
    }
    x->st->ran++;
    char msg[600] = "";
    point_file(path, sizeof path, c->out, x->ids[p], ".dat");
    if (code == 0 && !path_exists(path)) {
        code = 1;
        snprintf(msg, sizeof msg, "critsim sweep: the point exited 0 but published no %016llx.dat",
                 x->ids[p]);
    }
    if (code == 0) {
        point_file(path, sizeof path, c->out, x->ids[p], ".failed");
        unlink(path);
        point_file(path, sizeof path, c->out, x->ids[p], ".log");
        unlink(path);
        return;
    }
    x->st->failed++;
    if (x->scratch[0]) { /* a child killed by a signal leaves its scratch folder */
        char rundir[4300];
        snprintf(rundir, sizeof rundir, "%s/%016llx", x->scratch, x->ids[p]);
        remove_tree(rundir);
    }
    if (!msg[0]) {
        if (WIFSIGNALED(status))
            snprintf(msg, sizeof msg, "killed by signal %d", WTERMSIG(status));
        else {
            point_file(path, sizeof path, c->out, x->ids[p], ".log");
            last_message(path, msg, sizeof msg);
            if (!msg[0]) snprintf(msg, sizeof msg, "the point exited with status %d and no message", code);
        }
    }
    record_failure(x->g, c, x->pts, p, x->ids[p], code, msg);
}

/* The executor loop: start trunks and points on free slots, reap children, until every point ran or a
 * stop signal came.  CS_OK, or CS_EFAIL (interrupted, fork/waitpid failed). */
static int execute(exec_state *x, double t0)
{
    const sweep_config *c = x->c;
    sweep_stats *st = x->st;
    double last_note = util_now();
    while (x->nleft > 0 || x->running > 0) {
        if (sweep_stop) {
            for (int k = 0; k < x->jobs; k++)
                if (x->run[k].pid) kill(x->run[k].pid, SIGKILL);
            return util_seterr(
                CS_EFAIL,
                "interrupted by signal %d after %ld of %ld points; run the same command again to "
                "continue",
                (int)sweep_stop, st->skipped + st->ran - st->failed, st->points);
        }
        if (!c->quiet && util_now() - last_note > 10) {
            fprintf(stderr, "critsim sweep: %ld of %ld points done (%ld failed), %.0f s\n",
                    st->skipped + st->ran, st->points, st->failed, util_now() - t0);
            last_note = util_now();
        }
        int rc, waiting;
        if ((rc = start_trunks(x)) != CS_OK || (rc = start_points(x, &waiting)) != CS_OK) return rc;
        if (x->running == 0) {
            if (x->nleft > 0 && !sweep_stop) /* cannot happen: a waiting point's trunk is idle or running */
                return util_seterr(CS_EFAIL, "internal error: %ld points wait for no running trunk",
                                   x->nleft);
            continue;
        }
        int status;
        pid_t pid;
        if (waiting > 0 && x->running < x->jobs) { /* a free slot: poll, so that waiting points start as
                                                    * soon as their trunk checkpoint appears */
            pid = waitpid(-1, &status, WNOHANG);
            if (pid == 0) {
                struct timespec ts = {0, 50000000};
                nanosleep(&ts, NULL);
                continue;
            }
        } else
            pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            return util_seterr(CS_EFAIL, "waitpid failed: %s", strerror(errno));
        }
        reap(x, pid, status);
    }
    return CS_OK;
}

/* The points of this shard that have no published result yet (todo, in order), and the counts. */
static long plan_todo(const sweep_grid *g, const sweep_config *c, const unsigned long long *ids, long np,
                      long *todo, sweep_stats *st)
{
    char path[4300];
    long ntodo = 0;
    for (long p = 0; p < np; p++) {
        if (!sweep_in_shard(p, c->shard_i, c->shard_n)) continue;
        st->points++;
        point_file(path, sizeof path, c->out, ids[p], ".dat");
        if (path_exists(path))
            st->skipped++;
        else
            todo[ntodo++] = p;
    }
    return ntodo;
}

int sweep_run(const sweep_grid *g, const sweep_config *c, sweep_stats *st)
{
    double t0 = util_now();
    memset(st, 0, sizeof *st);
    int rc = sweep_validate(g, c);
    if (rc != CS_OK) return rc;
    exec_state x = {.g = g, .c = c, .st = st};
    util_path(x.pts, sizeof x.pts, c->out, "points");
    if ((rc = util_mkdir_p(x.pts)) != CS_OK) return rc;
    unsigned long long mh;
    if ((rc = sweep_hash_file(c->model, &mh)) != CS_OK) return rc;
    long np = sweep_grid_size(g);
    unsigned long long *ids = util_malloc((size_t)np * sizeof *ids);
    for (long p = 0; p < np; p++)
        ids[p] = sweep_point_id(g, p, c->cmd->name, mh);
    if ((rc = write_grid(g, c, mh, ids)) != CS_OK) {
        free(ids);
        return rc;
    }
    long *todo = util_malloc((size_t)np * sizeof *todo);
    long ntodo = plan_todo(g, c, ids, np, todo, st);
    opts *base = NULL;
    char *argv[3] = {(char *)c->cmd->name, "--model", (char *)c->model};
    rc = opts_parse(&base, c->cmd, c->model ? 3 : 1, argv);
    if (rc != CS_OK) {
        free(todo);
        free(ids);
        return rc;
    }
    trunk *tr = NULL;
    int ntr = 0;
    int *ptr = NULL;
    long *pend = NULL;
    if (!c->no_trunks && ntodo > 0) {
        ptr = util_malloc((size_t)np * sizeof *ptr);
        pend = util_malloc((size_t)np * sizeof *pend);
        for (long p = 0; p < np; p++)
            ptr[p] = -1;
        ntr = plan_trunks(g, c, base, mh, todo, ntodo, ptr, pend, &tr);
        for (long k = 0; k < ntodo; k++)
            st->branched += ptr[todo[k]] >= 0;
        st->trunks = ntr;
    }
    if (c->plan) {
        trunks_free(tr, ntr);
        free(ptr);
        free(pend);
        opts_free(base);
        free(todo);
        free(ids);
        st->wall_s = util_now() - t0;
        return CS_OK;
    }
    x.base = base;
    x.ids = ids;
    x.todo = todo;
    x.ntodo = x.nleft = ntodo;
    x.tr = tr;
    x.ntr = ntr;
    x.ptr = ptr;
    x.pend = pend;
    make_scratch(c, ntodo, x.scratch, sizeof x.scratch);
    x.jobs = c->jobs < 1 ? 1 : c->jobs;
    x.run = util_calloc((size_t)x.jobs, sizeof *x.run);
    x.started = util_calloc((size_t)ntodo + 1, 1);
    x.self = getpid();
    linalg_blas_threads(LINALG_BLAS_WORKER);
    struct sigaction sa, old[3];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: waitpid returns EINTR */
    sigemptyset(&sa.sa_mask);
    sweep_stop = 0;
    for (int k = 0; k < 3; k++)
        sigaction(stop_sigs[k], &sa, &old[k]);
    rc = execute(&x, t0);
    if (rc == CS_OK) {
        trunks_cleanup(c, tr, ntr, ids);
        long nf = 0;
        rc = sweep_summarize(c->out, c->shard_i, c->shard_n, &nf);
        if (rc == CS_OK && nf > 0)
            rc = util_seterr(CS_EFAIL,
                             "%ld of %ld points failed (named in %s/summary.dat; logs in %s/points/ID.log)",
                             nf, st->points, c->out, c->out);
    }
    while (x.running > 0) { /* only after an error: collect the children */
        int status;
        if (wait(&status) < 0 && errno != EINTR) break;
        x.running--;
    }
    for (int k = 0; k < 3; k++)
        sigaction(stop_sigs[k], &old[k], NULL);
    if (x.scratch[0]) remove_tree(x.scratch);
    st->wall_s = util_now() - t0;
    opts_free(base);
    trunks_free(tr, ntr);
    free(ptr);
    free(pend);
    free(x.started);
    free(x.run);
    free(todo);
    free(ids);
    return rc;
}

/* ---- merge ------------------------------------------------------------------------------- */

static int copy_file(const char *from, const char *todir, const char *name)
{
    char fin[4300];
    util_path(fin, sizeof fin, todir, name);
    return pub_copy(from, fin, 0);
}

/* The shards must be the N parts of one sweep: one grid, one build, each part I/N exactly once. */
static int check_shards(const char *const *dirs, int ndirs, const grid_file *gs)
{
    const grid_file *g0 = &gs[0];
    for (int d = 1; d < ndirs; d++) {
        const grid_file *gd = &gs[d];
        if (strcmp(gd->version, g0->version) != 0)
            return util_seterr(CS_EUSAGE,
                               "shard '%s' was run by critsim %s, shard '%s' by critsim %s (another build); "
                               "run every shard with one build",
                               dirs[d], gd->version[0] ? gd->version : "(no version line)", dirs[0],
                               g0->version[0] ? g0->version : "(no version line)");
        int same = gd->np == g0->np && gd->ncols == g0->ncols && !strcmp(gd->engine, g0->engine);
        for (int k = 0; same && k < g0->ncols; k++)
            same = !strcmp(gd->cols[k], g0->cols[k]);
        for (long p = 0; same && p < g0->np; p++)
            same = !strcmp(gd->ids[p], g0->ids[p]);
        if (!same)
            return util_seterr(CS_EUSAGE,
                               "shard '%s' is a sweep of another grid or model file than '%s' (grid.dat "
                               "differs); merge the shards of one sweep",
                               dirs[d], dirs[0]);
        if (gd->shard_n != g0->shard_n)
            return util_seterr(
                CS_EUSAGE, "shard '%s' is part %d/%d, but '%s' is part %d/%d; merge the parts of one split",
                dirs[d], gd->shard_i, gd->shard_n, dirs[0], g0->shard_i, g0->shard_n);
        for (int e = 0; e < d; e++)
            if (gs[e].shard_i == gd->shard_i)
                return util_seterr(CS_EUSAGE, "'%s' and '%s' are both shard %d/%d; give each shard once",
                                   dirs[e], dirs[d], gd->shard_i, gd->shard_n);
    }
    for (int i = 1; i <= g0->shard_n; i++) {
        int found = 0;
        for (int d = 0; d < ndirs && !found; d++)
            found = gs[d].shard_i == i;
        if (!found)
            return util_seterr(CS_EUSAGE, "shard %d/%d is missing (%d of %d folders given); add its folder",
                               i, g0->shard_n, ndirs, g0->shard_n);
    }
    return CS_OK;
}

/* A point file's first line must carry the build of its shard's grid.dat. */
static int check_point_build(const char *path, const char *dir, const char *version)
{
    FILE *f = fopen(path, "r");
    if (!f) return util_seterr(CS_EUSAGE, "cannot read '%s': %s", path, strerror(errno));
    char line[256] = "", v[64] = "";
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    fclose(f);
    version_token(line, v, sizeof v);
    if (strcmp(v, version) != 0)
        return util_seterr(CS_EUSAGE,
                           "shard '%s': '%s' was written by critsim %s, the shard's grid.dat by critsim %s "
                           "(another build); rerun the shard with one build in a fresh folder",
                           dir, path, v[0] ? v : "(no version line)", version);
    return CS_OK;
}

/* OUT/grid.dat = the shards' grid.dat without the shard line: the unsharded sweep's grid.dat. */
static int write_merged_grid(const char *dir, const char *out)
{
    char src[4200], fin[4300];
    util_path(src, sizeof src, dir, "grid.dat");
    util_path(fin, sizeof fin, out, "grid.dat");
    FILE *in = fopen(src, "r");
    if (!in) return util_seterr(CS_EUSAGE, "cannot read '%s': %s", src, strerror(errno));
    pub *p = pub_open(fin, 0);
    if (!p) {
        fclose(in);
        return CS_EUSAGE;
    }
    char *line = util_malloc(1 << 16);
    while (fgets(line, 1 << 16, in))
        if (strncmp(line, "# shard: ", 9) != 0) fputs(line, pub_stream(p));
    int bad = ferror(in);
    fclose(in);
    free(line);
    if (bad) {
        pub_abort(p);
        return util_seterr(CS_EUSAGE, "cannot read '%s'", src);
    }
    return pub_commit(p);
}

int sweep_merge(const char *const *dirs, int ndirs, const char *out, long *nmissing)
{
    *nmissing = 0;
    if (ndirs < 1) return util_seterr(CS_EUSAGE, "--merge needs one or more sweep folders DIR1,DIR2,...");
    for (int d = 0; d < ndirs; d++) /* a shard still running (or stopped midway) is not merged */
        if (strcmp(dirs[d], out) != 0 && pub_check_unmarked(dirs[d], "sweep shard") != CS_OK)
            return CS_EUSAGE;
    grid_file *gs = util_calloc((size_t)ndirs, sizeof *gs);
    int rc = CS_OK, nread = 0;
    for (; nread < ndirs && rc == CS_OK; nread++)
        rc = read_grid(dirs[nread], &gs[nread]);
    if (rc == CS_OK) rc = check_shards(dirs, ndirs, gs);
    grid_file g0 = gs[0];
    memset(&gs[0], 0, sizeof gs[0]);
    for (int d = 0; d < nread; d++)
        grid_file_free(&gs[d]);
    free(gs);
    if (rc != CS_OK) {
        grid_file_free(&g0);
        return rc;
    }
    if (rc == CS_OK) {
        char pts[4200];
        util_path(pts, sizeof pts, out, "points");
        rc = util_mkdir_p(pts);
    }
    if (rc == CS_OK) rc = write_merged_grid(dirs[0], out);
    for (long p = 0; rc == CS_OK && p < g0.np; p++) {
        char opts_dir[4200], fin[4300], from[4300] = "", name[64];
        int fromd = 0;
        util_path(opts_dir, sizeof opts_dir, out, "points");
        snprintf(fin, sizeof fin, "%s/%s.dat", opts_dir, g0.ids[p]);
        if (path_exists(fin)) continue;
        for (int pass = 0; pass < 2 && !from[0]; pass++) /* a finished copy wins over a failure record */
            for (int d = 0; d < ndirs && !from[0]; d++) {
                snprintf(name, sizeof name, "%s%s", g0.ids[p], pass == 0 ? ".dat" : ".failed");
                char cand[4300];
                snprintf(cand, sizeof cand, "%s/points/%s", dirs[d], name);
                if (strcmp(dirs[d], out) != 0 && path_exists(cand)) {
                    snprintf(from, sizeof from, "%s", cand);
                    fromd = d;
                }
            }
        if (!from[0]) continue;
        if (strstr(name, ".dat")) rc = check_point_build(from, dirs[fromd], g0.version);
        if (rc == CS_OK) rc = copy_file(from, opts_dir, name);
        if (rc == CS_OK && strstr(name, ".dat")) {
            snprintf(fin, sizeof fin, "%s/%s.failed", opts_dir, g0.ids[p]);
            unlink(fin);
        }
    }
    grid_file_free(&g0);
    if (rc != CS_OK) return rc;
    rc = sweep_summarize(out, 1, 1, nmissing);
    if (rc == CS_OK && *nmissing > 0)
        return util_seterr(CS_EFAIL,
                           "%ld points failed or are missing from the shards (named in %s/summary.dat)",
                           *nmissing, out);
    return rc;
}
