/* fuzz_deficit.c - the deficit parser: deficit_parse on the bytes as one spec, and opts_deficits on
 * them as a --deficit value (items split on ',' and '+').  An accepted spec has a known kind, at most
 * two non-empty arguments, 0 <= START <= END <= DEFICIT_MAX_STEP (switch: END = LONG_MAX), and its
 * text is the input. */
#include <stdlib.h>
#include <string.h>

#include "deficit.h"
#include "fuzz.h"
#include "opts.h"

static const opt_spec specs[] = {{"deficit", OPT_MULTI, NULL, "deficits"}, {NULL, 0, NULL, NULL}};
static const cmd_def cmd = {"fake", "fuzzed deficits", NULL, specs, NULL};

static int deficit_ok(const deficit *d)
{
    if (d->kind >= DEF_NKIND || d->nargs < 0 || d->nargs > 2 || d->start < 0 || d->start > DEFICIT_MAX_STEP)
        return 0;
    for (int k = 0; k < d->nargs; k++)
        if (!d->arg[k][0]) return 0;
    if (d->kind == DEF_SWITCH) return d->end == LONG_MAX;
    return d->start <= d->end && d->end <= DEFICIT_MAX_STEP;
}

int fuzz_deficit(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) return 0;
    memcpy(s, data, n);
    s[n] = '\0';
    int bad = 0;
    deficit d;
    if (deficit_parse(s, &d) == 0) bad = !deficit_ok(&d) || strcmp(d.text, s) != 0 || strlen(s) != n;
    opts *o = NULL;
    char *argv[] = {"fake", "--deficit", s};
    if (opts_parse(&o, &cmd, 3, argv) == 0) {
        deficit_list dl;
        if (opts_deficits(o, "deficit", &dl) == 0) {
            bad |= dl.n < 1 || dl.n > DEFICIT_MAX;
            for (int i = 0; !bad && i < dl.n; i++)
                bad = !deficit_ok(&dl.d[i]) || !strstr(s, dl.d[i].text);
        }
        opts_free(o);
    }
    free(s);
    return bad ? -1 : 0;
}

FUZZ_TARGET(deficit)
