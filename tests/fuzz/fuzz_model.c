/* fuzz_model.c - the model-file parser: opts_parse(--model FILE) for a command with one option of every
 * kind, and sweep_read_model (the [sweep] section: axes, ranges, templates, seeds) on the same bytes.
 * An accepted file gives values without control characters whose origin names the file and a line
 * that exists, and axes with at least one value each, none holding white space. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "opts.h"
#include "sweep.h"

static const opt_spec specs[] = {{"depth", OPT_INT, "4", "int"},        {"dt", OPT_DOUBLE, "0.01", "double"},
                                 {"method", OPT_STRING, "euler", "s"},  {"sv", OPT_LIST, "3,2,1", "list"},
                                 {"deficit", OPT_MULTI, NULL, "multi"}, {"flag", OPT_FLAG, NULL, "flag"},
                                 {"out", OPT_STRING, "out", "folder"},  {NULL, 0, NULL, NULL}};
static int run_nop(const opts *o)
{
    (void)o;
    return 0;
}
static const cmd_def cmd = {"fake", "fuzzed model files", NULL, specs, run_nop};

/* origin "PATH:LINE" with 1 <= LINE <= nlines, or "default" */
static int origin_ok(const char *org, const char *path, long nlines)
{
    if (!strcmp(org, "default")) return 1;
    size_t pl = strlen(path);
    if (strncmp(org, path, pl) != 0 || org[pl] != ':') return 0;
    long line = strtol(org + pl + 1, NULL, 10);
    return line >= 1 && line <= nlines;
}

int fuzz_model(const uint8_t *data, size_t n)
{
    const char *tmp = fuzz_file("m.ini", data, n);
    char path[512];
    snprintf(path, sizeof path, "%s", tmp);
    long nlines = 1;
    for (size_t i = 0; i < n; i++)
        nlines += data[i] == '\n';
    int bad = 0;
    opts *o = NULL;
    char *argv[] = {"fake", "--model", path};
    if (opts_parse(&o, &cmd, 3, argv) == 0) {
        for (int i = 0; !bad && specs[i].name; i++) {
            const char *v = opts_str(o, specs[i].name);
            bad = (v && opts_text_check(v) >= 0) || !origin_ok(opts_origin(o, specs[i].name), path, nlines);
            for (int k = 0; !bad && k < opts_count(o, specs[i].name); k++)
                bad = !opts_item(o, specs[i].name, k) || opts_text_check(opts_item(o, specs[i].name, k)) >= 0;
        }
        opts_free(o);
    }
    sweep_grid g = {0};
    char command[64];
    long seeds = 0;
    if (sweep_read_model(path, &g, command, sizeof command, &seeds, NULL) == 0) {
        bad |= seeds < 0 || seeds > 1000000 || opts_text_check(command) >= 0;
        for (int a = 0; !bad && a < g.naxes; a++) {
            bad = g.ax[a].n < 1;
            for (int k = 0; !bad && k < g.ax[a].n; k++) {
                const char *v = g.ax[a].val[k];
                bad = !v || !*v;
                for (; !bad && *v; v++)
                    bad = isspace((unsigned char)*v) || (unsigned char)*v < 0x20;
            }
        }
    }
    sweep_grid_clear(&g);
    return bad ? -1 : 0;
}

FUZZ_TARGET(model)
