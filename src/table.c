/* table.c - provenance-headed text tables published atomically (see table.h). */
#include "table.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct table {
    char dir[2048];
    char name[256];
    char body_path[2400];
    FILE *body;
    char **meta;
    int nmeta, capmeta;
    char *columns;
};

static void meta_add(table *t, const char *line)
{
    if (t->nmeta == t->capmeta) {
        t->capmeta = t->capmeta ? 2 * t->capmeta : 16;
        char **p = realloc(t->meta, (size_t)t->capmeta * sizeof *p);
        if (!p) util_malloc((size_t)-1);
        t->meta = p;
    }
    t->meta[t->nmeta++] = util_strdup(line);
}

table *table_open(const char *dir, const char *name, const opts *o)
{
    if (util_mkdir_p(dir) != CS_OK) return NULL;
    table *t = util_calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->body_path, sizeof t->body_path, "%s/.%s.body.%ld", dir, name, (long)getpid());
    t->body = fopen(t->body_path, "w");
    if (!t->body) {
        util_seterr(CS_EUSAGE, "cannot write '%s' in '%s': %s; choose a writable --out", name, dir,
                    strerror(errno));
        free(t);
        return NULL;
    }
    char line[256];
    snprintf(line, sizeof line, "critsim %s: %s", CS_VERSION, name);
    meta_add(t, line);
    if (o) {
        size_t n = strlen(opts_cmdline(o)) + 16;
        char *c = util_malloc(n);
        snprintf(c, n, "command: %s", opts_cmdline(o));
        meta_add(t, c);
        free(c);
        const opt_spec *sp = opts_cmd(o)->specs;
        for (int i = 0; sp[i].name; i++)
            if (strcmp(sp[i].name, "seed") == 0 && opts_str(o, "seed")) {
                snprintf(line, sizeof line, "seed: %s", opts_str(o, "seed"));
                meta_add(t, line);
            }
    }
    return t;
}

void table_meta(table *t, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    meta_add(t, buf);
}

void table_columns(table *t, const char *cols)
{
    free(t->columns);
    t->columns = util_strdup(cols);
}

void table_row(table *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->body, fmt, ap);
    va_end(ap);
    fputc('\n', t->body);
}

FILE *table_stream(table *t) { return t->body; }

static void table_release(table *t)
{
    for (int i = 0; i < t->nmeta; i++) free(t->meta[i]);
    free(t->meta);
    free(t->columns);
    free(t);
}

static int publish(table *t, const char *tail)
{
    char tmp[2400], final[2400];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", t->dir, t->name, (long)getpid());
    snprintf(final, sizeof final, "%s/%s", t->dir, t->name);
    int status = CS_OK;
    if (fflush(t->body) != 0 || ferror(t->body)) status = util_seterr(CS_EUSAGE, "write error on '%s': %s (disk full?)", final, strerror(errno));
    fclose(t->body);
    t->body = NULL;
    FILE *out = status == CS_OK ? fopen(tmp, "w") : NULL;
    if (status == CS_OK && !out)
        status = util_seterr(CS_EUSAGE, "cannot write '%s': %s", tmp, strerror(errno));
    if (out) {
        for (int i = 0; i < t->nmeta; i++) fprintf(out, "# %s\n", t->meta[i]);
        if (t->columns) fprintf(out, "# %s\n", t->columns);
        FILE *in = fopen(t->body_path, "r");
        if (in) {
            char buf[1 << 16];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
            fclose(in);
        }
        if (tail) fprintf(out, "%s\n", tail);
        if (fflush(out) != 0 || ferror(out))
            status = util_seterr(CS_EUSAGE, "write error on '%s': %s (disk full?)", tmp, strerror(errno));
        fclose(out);
        if (status == CS_OK && rename(tmp, final) != 0)
            status = util_seterr(CS_EUSAGE, "cannot rename '%s' to '%s': %s", tmp, final, strerror(errno));
        if (status != CS_OK) unlink(tmp);
    }
    unlink(t->body_path);
    table_release(t);
    return status;
}

int table_close(table *t) { return publish(t, NULL); }

int table_fail(table *t, long step, const char *reason)
{
    char tail[1024];
    snprintf(tail, sizeof tail, "# FAILED at step %ld: %s", step, reason);
    int rc = publish(t, tail);
    return rc == CS_OK ? CS_EFAIL : rc;
}

void table_discard(table *t)
{
    if (!t) return;
    if (t->body) fclose(t->body);
    unlink(t->body_path);
    table_release(t);
}

int table_write_outcomes(const char *dir, const opts *o, int n, const char *const *keys,
                         const double *values)
{
    table *t = table_open(dir, "final.dat", o);
    if (!t) return CS_EUSAGE;
    table_meta(t, "key outcomes of the run, one per row (read by critsim sweep)");
    table_columns(t, "key value");
    for (int i = 0; i < n; i++) {
        if (isnan(values[i])) table_row(t, "%s nan", keys[i]);
        else table_row(t, "%s %.17g", keys[i], values[i]);
    }
    return table_close(t);
}
