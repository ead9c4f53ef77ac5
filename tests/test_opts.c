/* test_opts.c - option tables, model files and validation (opts.h). */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "opts.h"
#include "util.h"

static const opt_spec specs[] = {{"depth", OPT_INT, "4", "network depth", "net_cfg.depth", OPT_IN(1, 100)},
                                 {"dt", OPT_DOUBLE, "0.01", "step", "net_cfg.dt solver.h", OPT_IN(0, 1)},
                                 {"method", OPT_STRING, "euler", "euler|gd|rk8pd"},
                                 {"sv", OPT_LIST, "3,2,1", "singular values", OPT_IN(0, 10)},
                                 {"deficit", OPT_MULTI, NULL, "deficits"},
                                 {"shared-input", OPT_FLAG, NULL, "flag"},
                                 {"out", OPT_STRING, "out", "folder"},
                                 {NULL, 0, NULL, NULL}};
static int run_nop(const opts *o)
{
    (void)o;
    return 0;
}
static const cmd_def fake = {"fake", "a test command", NULL, specs, run_nop};
static const opt_spec own_specs[] = {{"model", OPT_STRING, NULL, "the command reads this file itself"},
                                     {NULL, 0, NULL, NULL}};
static const cmd_def fakeown = {"fakeown", "own --model", NULL, own_specs, run_nop};
static const cmd_def fakepos = {"fakepos", "positional", NULL, specs, run_nop, "out"};

static int parse(opts **o, int argc, const char **argv)
{
    return opts_parse(o, &fake, argc, (char **)argv);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

int main(void)
{
    opts *o;
    long d;
    double x;
    int idx;
    /* defaults */
    const char *a0[] = {"fake"};
    CHECK_INT(parse(&o, 1, a0), CS_OK);
    CHECK_INT(opts_long(o, "depth", &d), CS_OK);
    CHECK_INT(d, 4);
    CHECK(!opts_is_set(o, "depth"));
    CHECK_INT(opts_count(o, "sv"), 3);
    CHECK_INT(opts_count(o, "deficit"), 0);
    CHECK(!opts_flag(o, "shared-input"));
    opts_free(o);

    /* command line, --name=value, flags, lists, repeatable */
    const char *a1[] = {"fake",          "--depth",   "6",           "--dt=0.5",  "--sv",
                        "5, 4",          "--deficit", "gate:b@0-10", "--deficit", "lesion:a:1@0-5,gate:a@3-4",
                        "--shared-input"};
    CHECK_INT(parse(&o, 11, a1), CS_OK);
    CHECK_INT(opts_long(o, "depth", &d), CS_OK);
    CHECK_INT(d, 6);
    CHECK_INT(opts_double(o, "dt", &x), CS_OK);
    CHECK_CLOSE(x, 0.5, 0, 0); /* exact: parsed from text */
    double *sv;
    int n;
    CHECK_INT(opts_list_double(o, "sv", &sv, &n), CS_OK);
    CHECK_INT(n, 2);
    CHECK_CLOSE(sv[1], 4.0, 0, 0);
    free(sv);
    CHECK_INT(opts_count(o, "deficit"), 3);
    CHECK(strcmp(opts_item(o, "deficit", 2), "gate:a@3-4") == 0);
    CHECK(opts_flag(o, "shared-input"));
    CHECK(strstr(opts_cmdline(o), "--depth 6") != NULL);
    opts_free(o);
    /* the provenance command line quotes for the shell: a quote takes 4 characters (a value of quotes
     * overflowed the buffer; found by fuzz_deficit) */
    const char *aq[] = {"fake", "--out", "''''''''''''''''''''''''''''''''"};
    CHECK_INT(parse(&o, 3, aq), CS_OK);
    CHECK(o && strstr(opts_cmdline(o), "--out ''\\'''\\''") != NULL);
    CHECK_INT(strlen(opts_cmdline(o)), strlen("critsim fake --out ''") + 32 * 4);
    opts_free(o);

    /* model file + command-line precedence; file lists replaced by command line */
    char dir[] = "/tmp/critsim_test_opts_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char model[256], badm[256], other[256];
    snprintf(model, sizeof model, "%s/m.ini", dir);
    snprintf(badm, sizeof badm, "%s/bad.ini", dir);
    snprintf(other, sizeof other, "%s/other.ini", dir);
    write_file(model,
               "# experiment\ncommand = fake\n[run]\ndepth = 8\ndeficit = gate:b@0-1\ndeficit = gate:b@2-3\n"
               "[sweep]\nvary = depth=1,2\n");
    const char *a2[] = {"fake", "--model", model, "--dt", "0.25"};
    CHECK_INT(parse(&o, 5, a2), CS_OK);
    CHECK_INT(opts_long(o, "depth", &d), CS_OK);
    CHECK_INT(d, 8);
    CHECK(strstr(opts_origin(o, "depth"), "m.ini:4") != NULL); /* line 4 holds depth */
    CHECK_INT(opts_count(o, "deficit"), 2);                    /* repeated keys accumulate */
    opts_free(o);
    const char *a3[] = {"fake", "--depth", "2", "--model", model, "--deficit", "gate:a@0-1"};
    CHECK_INT(parse(&o, 7, a3), CS_OK);
    CHECK_INT(opts_long(o, "depth", &d), CS_OK);
    CHECK_INT(d, 2); /* command line beats the file wherever it stands */
    CHECK_INT(opts_count(o, "deficit"), 1);
    /* programmatic override (sweep) */
    CHECK_INT(opts_set(o, "depth", "3"), CS_OK);
    CHECK_INT(opts_long(o, "depth", &d), CS_OK);
    CHECK_INT(d, 3);
    CHECK_INT(opts_set(o, "nosuch", "3"), CS_EUSAGE);
    opts_free(o);

    /* errors: unknown key with line, command mismatch, malformed line, missing file */
    write_file(badm, "depth = 3\n\nwidth = 100\n");
    const char *a4[] = {"fake", "--model", badm};
    CHECK_INT(parse(&o, 3, a4), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "bad.ini:3") && strstr(util_errmsg(), "width"));
    write_file(other, "command = flow\n");
    const char *a5[] = {"fake", "--model", other};
    CHECK_INT(parse(&o, 3, a5), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "critsim flow") != NULL);
    write_file(badm, "depth = 3\nthis line is not ini\n");
    CHECK_INT(parse(&o, 3, a4), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "bad.ini:2") != NULL);
    const char *a6[] = {"fake", "--model", "/nonexistent/x.ini"};
    CHECK_INT(parse(&o, 3, a6), CS_EUSAGE);

    /* errors: unknown option, missing value, bad flag value, stray argument */
    const char *a7[] = {"fake", "--dpeth", "3"};
    CHECK_INT(parse(&o, 3, a7), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "--dpeth") != NULL);
    const char *a8[] = {"fake", "--depth"};
    CHECK_INT(parse(&o, 2, a8), CS_EUSAGE);
    const char *a9[] = {"fake", "--shared-input=maybe"};
    CHECK_INT(parse(&o, 2, a9), CS_EUSAGE);
    const char *a10[] = {"fake", "stray"};
    CHECK_INT(parse(&o, 2, a10), CS_EUSAGE);
    const char *a11[] = {"fake", "--sv", ","};
    CHECK_INT(parse(&o, 3, a11), CS_EUSAGE); /* empty list */

    /* typed getters: malformed numbers, ranges, choices */
    /* numbers are checked when given, used or not; ranges by the getters */
    const char *a12a[] = {"fake", "--depth", "3x"};
    CHECK_INT(parse(&o, 3, a12a), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "'3x' is not an integer") != NULL);
    const char *a12b[] = {"fake", "--dt", "1e400"};
    CHECK_INT(parse(&o, 3, a12b), CS_EUSAGE); /* overflow is not finite */
    CHECK(strstr(util_errmsg(), "--dt (command line): '1e400' is not a finite number") != NULL);
    write_file(badm, "dt = 0.1\ndepth = abc\n");
    const char *a12c[] = {"fake", "--model", badm};
    CHECK_INT(parse(&o, 3, a12c), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "bad.ini:2") && strstr(util_errmsg(), "'abc' is not an integer"));
    const char *a12[] = {"fake", "--method", "rk4", "--sv", "1,nan"};
    CHECK_INT(parse(&o, 5, a12), CS_OK);
    CHECK_INT(opts_set(o, "depth", "abc"), CS_EUSAGE); /* sweep values too */
    CHECK_INT(opts_set(o, "dt", "0.5"), CS_OK);
    CHECK_INT(opts_choice(o, "method", "euler|gd|rk8pd", &idx), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "euler|gd|rk8pd") != NULL);
    CHECK_INT(opts_list_double(o, "sv", &sv, &n), CS_EUSAGE);
    opts_set(o, "depth", "0");
    CHECK_INT(opts_long(o, "depth", &d), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "must be in [1, 100]") != NULL);
    opts_set(o, "method", "gd");
    CHECK_INT(opts_choice(o, "method", "euler|gd|rk8pd", &idx), CS_OK);
    CHECK_INT(idx, 1);
    opts_free(o);

    /* --help */
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    const char *a13[] = {"fake", "--help"};
    int rc = parse(&o, 2, a13);
    fclose(stdout);
    stdout = saved;
    CHECK_INT(rc, OPTS_HELP);

    /* model files libinih would misread are refused, naming file and line (Debian's prebuilt libinih
     * splits lines at 199 characters and reads an indented line as a continuation) */
    {
        char big[400];
        memset(big, 'x', sizeof big);
        struct {
            int len;        /* length of line 2 (a comment) */
            int want;       /* status */
            const char *at; /* line named in the message */
        } lens[] = {{198, CS_OK, NULL}, {199, CS_EUSAGE, "bad.ini:2:"}, {300, CS_EUSAGE, "bad.ini:2:"}};
        for (int k = 0; k < 3; k++) {
            char text[600];
            snprintf(text, sizeof text, "depth = 3\n#%.*s\ndt = 0.5\n", lens[k].len - 1, big);
            write_file(badm, text);
            util_clearerr();
            CHECK_INT(parse(&o, 3, a4), lens[k].want);
            if (lens[k].at) CHECK(strstr(util_errmsg(), lens[k].at) && strstr(util_errmsg(), "199"));
            if (lens[k].want == CS_OK) {
                CHECK(strstr(opts_origin(o, "dt"), "bad.ini:3") != NULL);
                opts_free(o);
            }
        }
        const char *conts[] = {"depth = 100\n   7\n", "depth = 100\n\t[sweep]\n", "# c\n  depth = 1\n"};
        for (int k = 0; k < 3; k++) {
            write_file(badm, conts[k]);
            CHECK_INT(parse(&o, 3, a4), CS_EUSAGE);
            CHECK(strstr(util_errmsg(), "bad.ini:2: indented line") != NULL);
        }
        /* indented comments, a BOM, inline comments, CRLF: accepted, lines counted right */
        write_file(badm, "\xEF\xBB\xBF# c\r\n  ; indented comment\r\n\r\n[run]\r\ndepth: 5 ; five\r\n");
        CHECK_INT(parse(&o, 3, a4), CS_OK);
        CHECK_INT(opts_long(o, "depth", &d), CS_OK);
        CHECK_INT(d, 5);
        CHECK(strstr(opts_origin(o, "depth"), "bad.ini:5") != NULL);
        opts_free(o);
        write_file(badm, "depth = 3\n[sweep\n");
        CHECK_INT(parse(&o, 3, a4), CS_EUSAGE);
        CHECK(strstr(util_errmsg(), "bad.ini:2:") != NULL);
        /* control characters: in a model file, on the command line, through opts_set */
        write_file(badm, "depth = 3\nout = a\001b\n");
        CHECK_INT(parse(&o, 3, a4), CS_EUSAGE);
        CHECK(strstr(util_errmsg(), "bad.ini:2: control character 0x01") != NULL);
        const char *actl[] = {"fake", "--out", "runs/a\nb"};
        CHECK_INT(parse(&o, 3, actl), CS_EUSAGE);
        CHECK(strstr(util_errmsg(), "'runs/a\\nb'") != NULL); /* shown escaped: one line */
        CHECK(strchr(util_errmsg(), '\n') == NULL);
        const char *actl2[] = {"fake", "--model", "m\n.ini"};
        CHECK_INT(parse(&o, 3, actl2), CS_EUSAGE);
        CHECK(strstr(util_errmsg(), "control character") != NULL);
        CHECK_INT(parse(&o, 1, a0), CS_OK);
        CHECK_INT(opts_set(o, "method", "gd\tx"), CS_EUSAGE);
        opts_free(o);
        /* a directory is not a model file */
        const char *adir[] = {"fake", "--model", dir};
        CHECK_INT(parse(&o, 3, adir), CS_EUSAGE);
        CHECK(strstr(util_errmsg(), "is a directory") != NULL);
        /* parsed once: 16,000 repeated keys (single and repeatable) take well under a second; reading
         * the file again for every key took 9-36 s.  The 5 s bound leaves room for a loaded machine. */
        FILE *f = fopen(badm, "w");
        for (int k = 0; k < 16000; k++)
            fprintf(f, "depth = %d\ndeficit = gate:b@%d-%d\n", 1 + k % 50, k, k + 1);
        fclose(f);
        double t0 = util_now();
        CHECK_INT(parse(&o, 3, a4), CS_OK);
        double t = util_now() - t0;
        CHECK(t < 5.0);
        if (t >= 5.0) printf("  (32,000 model-file lines took %.2f s)\n", t);
        CHECK_INT(opts_count(o, "deficit"), 16000);
        CHECK(strcmp(opts_item(o, "deficit", 15999), "gate:b@15999-16000") == 0);
        CHECK(strstr(opts_origin(o, "depth"), "bad.ini:31999") != NULL);
        CHECK_INT(opts_long(o, "depth", &d), CS_OK);
        CHECK_INT(d, 50);
        opts_free(o);
    }

    unlink(model);
    unlink(badm);
    unlink(other);
    rmdir(dir);
    /* positional argument: one bare argument sets the declared option; a second is refused */
    {
        const char *ap[] = {"fakepos", "runs/x", "--depth", "3"};
        CHECK_INT(opts_parse(&o, &fakepos, 4, (char **)ap), CS_OK);
        CHECK(o && strcmp(opts_str(o, "out"), "runs/x") == 0);
        opts_free(o);
        const char *ap2[] = {"fakepos", "runs/x", "runs/y"};
        CHECK_INT(opts_parse(&o, &fakepos, 3, (char **)ap2), CS_EUSAGE);
        const char *ap3[] = {"fake", "runs/x"}; /* no positional declared */
        CHECK_INT(parse(&o, 2, ap3), CS_EUSAGE);
    }
    /* a command that declares `model` keeps --model for itself (critsim sweep): the file is not read */
    {
        const char *am[] = {"fakeown", "--model", "/nonexistent/file.ini"};
        CHECK_INT(opts_parse(&o, &fakeown, 3, (char **)am), CS_OK);
        CHECK(o && strcmp(opts_str(o, "model"), "/nonexistent/file.ini") == 0);
        opts_free(o);
    }
    /* the library's messages name configuration fields; opts_errmsg writes the options instead, whole
     * words only (net_cfg.depth_max and x.net_cfg.depth are other names) */
    {
        util_seterr(CS_EUSAGE, "net_cfg.depth 0 must be >= 1; net_cfg.depth_max, x.net_cfg.depth, solver.h.");
        CHECK(strcmp(opts_errmsg(&fake),
                     "--depth 0 must be >= 1; net_cfg.depth_max, x.net_cfg.depth, --dt.") == 0);
        CHECK(strcmp(util_errmsg(), "--depth 0 must be >= 1; net_cfg.depth_max, x.net_cfg.depth, --dt.") ==
              0);
        util_seterr(CS_EUSAGE, "net_cfg.dt");
        CHECK(strcmp(opts_errmsg(&fake), "--dt") == 0);
        util_clearerr();
        CHECK(strcmp(opts_errmsg(&fake), "") == 0);
    }
    /* choices mapped to values by name, not by their position in a string */
    {
        static const opt_enum meths[] = {{"gd", 7}, {"euler", 7}, {"rk8pd", 3}, {NULL, 0}};
        const char *ae[] = {"fake", "--method", "rk8pd"};
        int v = -1;
        CHECK_INT(parse(&o, 3, ae), CS_OK);
        CHECK_INT(opts_enum(o, "method", meths, &v), CS_OK);
        CHECK_INT(v, 3);
        opts_free(o);
        const char *ae2[] = {"fake", "--method", "rk4"};
        CHECK_INT(parse(&o, 3, ae2), CS_OK);
        CHECK_INT(opts_enum(o, "method", meths, &v), CS_EUSAGE);
        CHECK(strstr(util_errmsg(), "gd|euler|rk8pd") != NULL);
        opts_free(o);
    }
    /* provenance for tables: the command line, the model file's values in option order, the seed */
    {
        char ini[512];
        snprintf(ini, sizeof ini, "/tmp/critsim_test_opts_prov_%d.ini", (int)getpid());
        write_file(ini, "sv = 5, 4\ndepth = 6\n");
        const char *ap[] = {"fake", "--model", ini, "--depth", "2"};
        CHECK_INT(parse(&o, 5, ap), CS_OK);
        const table_prov *p = opts_prov(o);
        CHECK(p->cmdline && strstr(p->cmdline, "--depth 2") != NULL);
        CHECK(p->model && strcmp(p->model, "sv = 5,4") == 0); /* depth came from the command line */
        CHECK(p->seed == NULL);                               /* no --seed option */
        CHECK_INT(opts_set(o, "depth", "3"), CS_OK);
        opts_set_cmdline(o, "critsim fake --depth 3");
        p = opts_prov(o);
        CHECK(strcmp(p->cmdline, "critsim fake --depth 3") == 0);
        opts_free(o);
        unlink(ini);
    }
    /* declared ranges: --help shows them, a value outside is one usage error naming option, value, range */
    {
        const char *ar[] = {"fake", "--depth", "101"};
        CHECK_INT(parse(&o, 3, ar), CS_OK);
        CHECK_INT(opts_long(o, "depth", &d), CS_EUSAGE);
        CHECK(strcmp(util_errmsg(), "--depth (command line): 101 is out of range; it must be in [1, 100]") ==
              0);
        opts_free(o);
        char buf[80];
        opts_range_text(&specs[0], buf, sizeof buf);
        CHECK(strcmp(buf, "1..100") == 0);
        opts_range_text(&specs[1], buf, sizeof buf);
        CHECK(strcmp(buf, "0..1") == 0);
        opts_range_text(&specs[2], buf, sizeof buf); /* text: no range */
        CHECK(strcmp(buf, "") == 0);
        static const opt_spec rs[] = {{"p", OPT_DOUBLE, "1", "positive", OPT_POSITIVE},
                                      {"m", OPT_INT, "0", "at least -1", OPT_MIN(-1)},
                                      {"a", OPT_DOUBLE, "0", "any", OPT_ANY},
                                      {NULL, 0, NULL, NULL}};
        opts_range_text(&rs[0], buf, sizeof buf);
        CHECK(strcmp(buf, "> 0") == 0);
        opts_range_text(&rs[1], buf, sizeof buf);
        CHECK(strcmp(buf, ">= -1") == 0);
        opts_range_text(&rs[2], buf, sizeof buf);
        CHECK(strcmp(buf, "any") == 0);
        const cmd_def rcmd = {"rangecmd", "ranges", NULL, rs, run_nop};
        const char *ap[] = {"rangecmd", "--p", "0", "--m", "-2", "--a", "-1e300"};
        CHECK_INT(opts_parse(&o, &rcmd, 7, (char **)ap), CS_OK);
        CHECK_INT(opts_double(o, "p", &x), CS_EUSAGE);
        CHECK(strstr(util_errmsg(), "--p (command line): 0 is out of range; it must be > 0") != NULL);
        CHECK_INT(opts_long(o, "m", &d), CS_EUSAGE);
        CHECK(strstr(util_errmsg(), "it must be >= -1") != NULL);
        CHECK_INT(opts_double(o, "a", &x), CS_OK);
        opts_free(o);
    }
    /* every command's numeric options declare a range, and an option with the same name in several
     * commands has one range, except where the name means different things (listed with the reason) */
    {
        static const char *const differ[][2] = {
            {"depth", "cnn: stride-2 stages (0..5); flow, modes, phase: weight matrices per pathway"},
            {"width", "cnn: channels of the first convolution; flow: hidden units per layer"},
            {"sources", "cnn: 1 (whole image) or 2 (halves); flow: input sources, 0 = one per pathway"},
            {"lr",
             "cnn: SGD step, 0 allowed (frozen weights); flow: also the time per step of the flow, > 0"},
            {"snap-every", "cnn: in epochs, 0 = none; flow: in steps, -1 = thinned recorded steps"},
            {"threads", "cnn: threads over the batch; flow: the gradient's team (dln.c holds at most 8)"},
            {"pathways", "modes: pathways a..z; flow: at most DLN_MAX_CHAIN chains in the engine"},
            {NULL, NULL}};
        const cmd_def *const *all = cmd_all();
        for (int c = 0; all[c]; c++)
            for (const opt_spec *s = all[c]->specs; s->name; s++) {
                if (s->type == OPT_INT || s->type == OPT_DOUBLE) {
                    if (!s->range)
                        fprintf(stderr, "  critsim %s --%s declares no range\n", all[c]->name, s->name);
                    CHECK(s->range != OPT_RANGE_NONE);
                }
                if (!s->range) continue;
                int exempt = 0, same_all = 1, others = 0;
                for (int k = 0; differ[k][0]; k++)
                    exempt |= !strcmp(differ[k][0], s->name);
                for (int c2 = 0; all[c2]; c2++)
                    for (const opt_spec *t = all[c2]->specs; c2 != c && t->name; t++)
                        if (!strcmp(t->name, s->name) && t->range) {
                            others++;
                            int same = t->range == s->range && t->lo == s->lo && t->hi == s->hi;
                            same_all &= same;
                            if (!same && !exempt)
                                fprintf(stderr,
                                        "  --%s: critsim %s and critsim %s declare different ranges\n",
                                        s->name, all[c]->name, all[c2]->name);
                        }
                CHECK(same_all || exempt);
                if (exempt && others) CHECK(!same_all); /* an exemption that is no longer needed */
            }
    }
    return check_done("test_opts");
}
