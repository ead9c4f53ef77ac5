/* opts_help.c - the option module's text for people (shared declarations: opts_int.h; conventions:
 * opts.h): the --help text of a command, an option's range as text, the provenance handed to tables
 * (opts_prov: command line, model-file values, seed), and messages of lower layers reworded so that
 * they name options instead of configuration fields (opts_errmsg, a FAILED line's reason).
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "opts_int.h"
#include "util.h"

void opts_help(FILE *f, const cmd_def *cmd)
{
    char pos[160] = "";
    if (cmd->positional) snprintf(pos, sizeof pos, " [%s]", cmd->positional);
    fprintf(f, "usage: critsim %s%s [--model FILE.ini] [options]\n%s\n\noptions (default in brackets):\n",
            cmd->name, pos, cmd->summary);
    if (cmd->positional) fprintf(f, "  (a bare argument sets --%s)\n", cmd->positional);
    if (opts_spec_index(cmd, "model") < 0)
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
        char range[80] = "";
        opts_range_text(s, range, sizeof range);
        fprintf(f, "  --%-18s %s [%s]%s%s%s%s\n", left, s->help,
                s->def ? s->def : (s->type == OPT_FLAG ? "off" : "unset"),
                s->type == OPT_MULTI ? " (repeatable)" : "", *range ? " (range " : "", range,
                *range ? ")" : "");
    }
    fprintf(f, "  --%-18s %s\n", "help", "print this help and exit");
    if (cmd->usage) fprintf(f, "\n%s\n", cmd->usage);
}

static void prov_reword(const void *ctx, const char *msg, char *out, size_t n);

const table_prov *opts_prov(const opts *o)
{
    prov_cache *pc = o->pc;
    if (!pc->stale) return &pc->prov;
    free(pc->model);
    pc->model = NULL;
    pc->prov = (table_prov){.cmdline = o->cmdline, .reword = prov_reword, .reword_ctx = o->cmd};
    /* values read from a model file are not on the command line: record them, so that the table alone
     * says how the run was made even after the model file changes */
    const opt_spec *sp = o->cmd->specs;
    size_t len = 0;
    FILE *ms = open_memstream(&pc->model, &len);
    int any = 0;
    for (int i = 0; ms && sp[i].name; i++) {
        const char *org = opts_origin(o, sp[i].name);
        if (!strchr(org, ':') || !strcmp(org, "command line")) continue; /* "FILE:LINE" only */
        fprintf(ms, "%s%s = ", any++ ? "; " : "", sp[i].name);
        int nit = (sp[i].type == OPT_LIST || sp[i].type == OPT_MULTI) ? opts_count(o, sp[i].name) : 0;
        if (!nit) fputs(opts_str(o, sp[i].name) ? opts_str(o, sp[i].name) : "", ms);
        for (int k = 0; k < nit; k++)
            fprintf(ms, "%s%s", k ? "," : "", opts_item(o, sp[i].name, k));
    }
    if (ms) fclose(ms);
    if (any) pc->prov.model = pc->model;
    int si = opts_spec_index(o->cmd, "seed");
    if (si >= 0) pc->prov.seed = opts_str(o, "seed");
    (void)len;
    pc->stale = 0;
    return &pc->prov;
}

/* m with every configuration field that cmd's option table declares replaced by its option, into out
 * (n bytes). */
static void fieldmap(const cmd_def *cmd, const char *m, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = m; *p && k + 1 < n;) {
        int hit = 0;
        /* a field starts a word: not inside another identifier or after a '.' */
        int starts = p == m || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.');
        for (int i = 0; starts && !hit && cmd->specs[i].name; i++) {
            for (const char *f = cmd->specs[i].field; f && *f && !hit;) {
                size_t fl = strcspn(f, " ");
                if (fl && !strncmp(p, f, fl) && !isalnum((unsigned char)p[fl]) && p[fl] != '_') {
                    int w = snprintf(out + k, n - k, "--%s", cmd->specs[i].name);
                    k = w < 0 || (size_t)w >= n - k ? n - 1 : k + (size_t)w;
                    p += fl;
                    hit = 1;
                }
                f += fl;
                while (*f == ' ')
                    f++;
            }
        }
        if (!hit) out[k++] = *p++;
    }
    out[k] = '\0';
}

/* table_prov.reword: a FAILED line's reason in the options' words */
static void prov_reword(const void *ctx, const char *msg, char *out, size_t n)
{
    fieldmap(ctx, msg, out, n);
}

const char *opts_errmsg(const cmd_def *cmd)
{
    char out[1024];
    fieldmap(cmd, util_errmsg(), out, sizeof out);
    util_seterr(CS_OK, "%s", out);
    return util_errmsg();
}

void opts_range_text(const opt_spec *s, char *buf, size_t n)
{
    int isint = s->type == OPT_INT || s->type == OPT_LIST || s->type == OPT_MULTI;
    double lo = s->lo, hi = s->hi;
    if (s->range == OPT_RANGE_POSITIVE)
        snprintf(buf, n, "> 0");
    else if (!s->range)
        snprintf(buf, n, "%s", "");
    else if (isinf(lo) && isinf(hi))
        snprintf(buf, n, "any");
    else if (isinf(hi))
        snprintf(buf, n, isint && lo == floor(lo) ? ">= %.0f" : ">= %g", lo);
    else if (isinf(lo))
        snprintf(buf, n, isint && hi == floor(hi) ? "<= %.0f" : "<= %g", hi);
    else if (isint && lo == floor(lo) && hi == floor(hi))
        snprintf(buf, n, "%.0f..%.0f", lo, hi);
    else
        snprintf(buf, n, "%g..%g", lo, hi);
}
