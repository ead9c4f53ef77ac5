/* opts_model.c - model files (shared declarations: opts_int.h; conventions: opts.h): the checked INI
 * reader opts_ini_read (also `critsim sweep`'s reader of its [sweep] section), and the keys of
 * --model FILE stored as option values with their FILE:LINE origin.
 */
#include <errno.h>
#include <ini.h>
#include <string.h>
#include <sys/stat.h>

#include "opts_int.h"
#include "util.h"

/* Debian's prebuilt libinih reads lines into a 200-byte buffer (the rest of a longer line is parsed as
 * a line of its own) and treats an indented line as the continuation of the previous value; neither
 * can be changed from our build.  So the file is read once into memory and checked line by line
 * first: lines of OPTS_INI_MAX_LINE or more characters, indented lines, lines libinih would reject,
 * and control characters are usage errors naming file and line.  libinih then parses the checked
 * text once; its handler (which receives no line numbers) is mapped to the k-th key line found by the
 * check, so every value keeps its FILE:LINE origin without reading the file again. */

typedef struct {
    opts_ini_handler h;
    void *user;
    const int *keyline; /* line number of the k-th `key = value` line */
    int nkeys, k;
    int failed_line; /* first line whose handler failed (0: none) */
    char err[1024];
} ini_pass;

static int ini_pass_cb(void *user, const char *section, const char *name, const char *value)
{
    ini_pass *c = user;
    int line = c->k < c->nkeys ? c->keyline[c->k] : 0;
    c->k++;
    if (c->failed_line) return 0;
    util_clearerr();
    if (!c->h(c->user, section ? section : "", name, value ? value : "", line)) {
        c->failed_line = line > 0 ? line : -1;
        snprintf(c->err, sizeof c->err, "%s", util_errmsg()[0] ? util_errmsg() : "rejected");
        return 0;
    }
    return 1;
}

/* The check of one line s[0..len) (no '\n'; a UTF-8 BOM already skipped); NULL or the problem. */
static const char *ini_line_problem(const char *s, size_t len, int *is_key, char *why, size_t nwhy)
{
    *is_key = 0;
    for (size_t k = 0; k < len; k++) {
        unsigned char ch = (unsigned char)s[k];
        if ((ch < 0x20 && ch != '\t' && !(ch == '\r' && k == len - 1)) || ch == 0x7f) {
            snprintf(why, nwhy, "control character 0x%02x at column %zu; model files are plain text", ch,
                     k + 1);
            return why;
        }
    }
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i == len || s[i] == '#' || s[i] == ';') return NULL; /* blank or comment */
    if (i > 0) {
        snprintf(why, nwhy,
                 "indented line; start every 'key = value' at the beginning of the line (libinih would "
                 "read an indented line as a continuation of the previous value)");
        return why;
    }
    /* libinih's scan: up to the first of the wanted characters or an inline ';' after white space */
    const char *want = s[0] == '[' ? "]" : "=:";
    int was_space = 0;
    for (size_t k = s[0] == '[' ? 1 : 0; k < len; k++) {
        if (strchr(want, s[k])) {
            *is_key = s[0] != '[';
            return NULL;
        }
        if (was_space && s[k] == ';') break;
        was_space = s[k] == ' ' || s[k] == '\t';
    }
    snprintf(why, nwhy,
             s[0] == '[' ? "section line without ']'; write [section]"
                         : "malformed line; expected 'key = value', '[section]' or a comment");
    return why;
}

int opts_ini_read(const char *file, opts_ini_handler h, void *user)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return util_seterr(CS_EUSAGE, "cannot open model file '%s': %s; check the path given to --model",
                           file, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return util_seterr(CS_EUSAGE, "--model '%s' is a directory; give a model file (e.g. models/fig2.ini)",
                           file);
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = util_malloc(cap + 1);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= OPTS_INI_MAX_BYTES) break;
            cap *= 2;
            char *p = realloc(buf, cap + 1);
            if (!p) util_malloc((size_t)-1); /* reports out of memory and exits */
            buf = p;
        }
    }
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    if (rerr || n > OPTS_INI_MAX_BYTES) {
        free(buf);
        if (rerr) return util_seterr(CS_EUSAGE, "cannot read model file '%s': %s", file, strerror(rerr));
        return util_seterr(CS_EUSAGE, "model file '%s' is larger than %d MiB; is it a model file?", file,
                           OPTS_INI_MAX_BYTES >> 20);
    }
    buf[n] = '\0';
    /* the check, and the line of every key line in order */
    int nlines = 1;
    for (size_t i = 0; i < n; i++)
        nlines += buf[i] == '\n';
    int *keyline = util_malloc((size_t)nlines * sizeof *keyline);
    int nkeys = 0, line = 0, rc = CS_OK;
    char why[300];
    for (size_t i = 0; i < n && rc == CS_OK;) {
        line++;
        size_t b = i;
        while (i < n && buf[i] != '\n')
            i++;
        size_t len = i - b, skip = 0;
        if (line == 1 && len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) skip = 3; /* UTF-8 BOM */
        int is_key = 0;
        const char *problem = why;
        if (len >= OPTS_INI_MAX_LINE)
            snprintf(why, sizeof why,
                     "line of %zu characters; model-file lines must be shorter than %d characters (libinih "
                     "would split it and read the rest as a line of its own)",
                     len, OPTS_INI_MAX_LINE);
        else
            problem = ini_line_problem(buf + b + skip, len - skip, &is_key, why, sizeof why);
        if (problem)
            rc = util_seterr(CS_EUSAGE, "%s:%d: %s", file, line, problem);
        else if (is_key)
            keyline[nkeys++] = line;
        if (i < n) i++; /* the '\n' */
    }
    if (rc == CS_OK) {
        ini_pass c = {.h = h, .user = user, .keyline = keyline, .nkeys = nkeys};
        int bad = ini_parse_string(buf, ini_pass_cb, &c);
        if (c.failed_line)
            rc = c.failed_line > 0 ? util_seterr(CS_EUSAGE, "%s:%d: %s", file, c.failed_line, c.err)
                                   : util_seterr(CS_EUSAGE, "%s: %s", file, c.err);
        else if (bad == -2)
            rc = util_seterr(CS_EUSAGE, "out of memory reading model file '%s'", file);
        else if (bad != 0)
            rc = util_seterr(CS_EUSAGE,
                             "%s:%d: malformed line; expected 'key = value', '[section]' or a comment", file,
                             bad);
        else if (c.k != nkeys) /* the check and libinih disagree about the lines: never trust either */
            rc = util_seterr(CS_EUSAGE, "%s: %d settings read where %d lines hold one; check the file", file,
                             c.k, nkeys);
    }
    free(keyline);
    free(buf);
    return rc;
}

static int model_key_handler(void *user, const char *section, const char *name, const char *value, int line)
{
    opts *o = ((void **)user)[0];
    const char *file = ((void **)user)[1];
    if (strcmp(section, "sweep") == 0) return 1; /* reserved for critsim sweep */
    if (strcmp(name, "command") == 0) {
        if (strcmp(value, o->cmd->name) != 0)
            return !util_seterr(CS_EUSAGE,
                                "the model file is for 'critsim %s', not 'critsim %s'; run it with that "
                                "command or with 'critsim sweep'",
                                value, o->cmd->name);
        return 1;
    }
    int i = opts_spec_index(o->cmd, name);
    if (i < 0)
        return !util_seterr(CS_EUSAGE, "unknown key '%s' for 'critsim %s' (see 'critsim %s --help')", name,
                            o->cmd->name, o->cmd->name);
    if (o->v[i].level < LV_FILE) o->v[i].level = LV_FILE - 1; /* first file value replaces default */
    if (o->v[i].level == LV_FILE - 1 && o->cmd->specs[i].type == OPT_MULTI) {
        opts_val_clear(&o->v[i]);
    }
    char origin[300];
    snprintf(origin, sizeof origin, "%s:%d", file, line);
    return opts_store(o, i, value, LV_FILE, origin) == CS_OK;
}

int opts_load_model(opts *o, const char *file)
{
    void *ctx[2] = {o, (void *)file};
    return opts_ini_read(file, model_key_handler, ctx);
}
