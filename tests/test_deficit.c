/* test_deficit.c - deficit syntax `KIND[:ARG[:ARG]]@START-END` and the window rule (deficit.h). */
#include "check.h"
#include "deficit.h"
#include "opts.h"
#include "util.h"

int main(void)
{
    deficit d;
    CHECK_INT(deficit_parse("gate:b@0-150", &d), CS_OK);
    CHECK_INT(d.kind, DEF_GATE);
    CHECK_INT(d.start, 0);
    CHECK_INT(d.end, 150);
    int src;
    CHECK_INT(deficit_arg_source(&d, 0, 2, &src), CS_OK);
    CHECK_INT(src, 1);
    CHECK_INT(deficit_arg_source(&d, 0, 1, &src), CS_EUSAGE); /* pathway b of a 1-pathway net */
    /* window rule: update t affected iff START <= t < END */
    CHECK(deficit_active(&d, 0));
    CHECK(deficit_active(&d, 149));
    CHECK(!deficit_active(&d, 150));
    CHECK(!deficit_active(&d, -1));

    CHECK_INT(deficit_parse("lesion:a:1@10-1000", &d), CS_OK);
    CHECK_INT(d.kind, DEF_LESION);
    CHECK_INT(d.nargs, 2);
    long m;
    CHECK_INT(deficit_arg_long(&d, 1, 0, 7, &m), CS_OK);
    CHECK_INT(m, 1);
    CHECK_INT(deficit_arg_long(&d, 1, 2, 7, &m), CS_EUSAGE); /* out of range */
    CHECK(!deficit_active(&d, 9) && deficit_active(&d, 10));

    CHECK_INT(deficit_parse("noise:b:0.5@3-4", &d), CS_OK);
    double v;
    CHECK_INT(deficit_arg_double(&d, 1, 0, 1e9, &v), CS_OK);
    CHECK_CLOSE(v, 0.5, 0, 0); /* parsed exactly */
    CHECK(deficit_active(&d, 3) && !deficit_active(&d, 4));

    CHECK_INT(deficit_parse("switch@1001", &d), CS_OK);
    CHECK_INT(d.kind, DEF_SWITCH);
    CHECK(!deficit_active(&d, 1000) && deficit_active(&d, 1001) && deficit_active(&d, 1L << 40));

    CHECK_INT(deficit_parse("decorrelate@0-5", &d), CS_OK);
    CHECK_INT(d.kind, DEF_DECORRELATE);
    CHECK_INT(deficit_parse("blur:b:8@0-40", &d), CS_OK);
    CHECK_INT(d.kind, DEF_BLUR);
    CHECK_INT(deficit_parse("flip@2-3", &d), CS_OK);
    CHECK_INT(d.kind, DEF_FLIP);

    /* arguments are parsed once, into typed fields that engines read during a run */
    CHECK_INT(deficit_parse("lesion:c:12@0-5", &d), CS_OK);
    CHECK(d.val[0].type == 's' && d.val[0].src == 2 && d.val[1].type == 'i' && d.val[1].i == 12);
    CHECK_INT(deficit_parse("noise:b:0.1@0-5", &d), CS_OK);
    CHECK(d.val[0].type == 's' && d.val[0].src == 1 && d.val[1].type == 'r');
    CHECK_CLOSE(d.val[1].r, 0.1, 0, 0);                /* the double nearest 0.1, as strtod gives it */
    CHECK_INT(deficit_parse("blur:7@0-5", &d), CS_OK); /* blur:K: the size is the only argument */
    CHECK(d.val[0].type == 'i' && d.val[0].i == 7);
    CHECK_INT(deficit_parse("blur:b:4@0-5", &d), CS_OK);
    CHECK(d.val[0].type == 's' && d.val[0].src == 1 && d.val[1].type == 'i' && d.val[1].i == 4);
    CHECK_INT(deficit_parse("subset:300@0-5", &d), CS_OK);
    CHECK(d.val[0].type == 'i' && d.val[0].i == 300);
    CHECK_INT(deficit_arg_source(&d, 0, 2, &src), CS_EUSAGE); /* an integer is not a letter */

    /* malformed: every one a usage error with a message */
    const char *bad[] = {"gate:b@20-10", "gate:b", "frobnicate@0-1", "gate:b@-1-5", "gate:b@0-x",
                         "gate:b@0-10junk", "@0-10", "switch@", "gate:b@0-",
                         /* empty arguments (the check used to run after strtok_r had cut the string) */
                         "gate::b@0-10", "gate:b:@0-10", "lesion:a::1@0-5", ":gate@0-1",
                         /* bounds: every END + clean epochs must stay a representable count */
                         "gate:b@0-9223372036854775807", "gate:b@0-1000000000000001",
                         "switch@1000000000000001", "gate:b@0-99999999999999999999",
                         /* arguments of the wrong type, refused when parsed */
                         "gate:7@0-1", "gate:bb@0-1", "lesion:a:x@0-1", "lesion:a:1.5@0-1", "noise:b:zz@0-1",
                         "noise:b:nan@0-1", "subset:b@0-1", "blur:b@0-1", "blur:7:b@0-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        util_clearerr();
        int st = deficit_parse(bad[i], &d);
        CHECK_INT(st, CS_EUSAGE);
        if (st != CS_EUSAGE) printf("  (accepted '%s')\n", bad[i]);
        CHECK(strlen(util_errmsg()) > 0);
    }
    CHECK(strcmp(deficit_kind_name(DEF_LESION), "lesion") == 0);
    CHECK_INT(deficit_parse("gate:b@0-1000000000000000", &d), CS_OK); /* the largest END */
    CHECK_INT(d.end, DEFICIT_MAX_STEP);

    /* several deficits joined by '+' in one option value; an empty part is refused, not dropped */
    {
        static const opt_spec specs[] = {{"deficit", OPT_MULTI, NULL, "deficits"}, {NULL, 0, NULL, NULL}};
        static const cmd_def cmd = {"fake", "test", NULL, specs, NULL};
        struct {
            const char *value;
            int want, n;
        } cases[] = {{"gate:b@0-10+lesion:a:1@5-6", CS_OK, 2},
                     {"gate:b@0-10,gate:a@1-2+flip@0-1", CS_OK, 3},
                     {"+", CS_EUSAGE, 0},
                     {"gate:b@0-10+", CS_EUSAGE, 0},
                     {"+gate:b@0-10", CS_EUSAGE, 0},
                     {"gate:b@0-10++gate:a@0-1", CS_EUSAGE, 0},
                     {"gate:b@0-10+gate::a@0-1", CS_EUSAGE, 0}};
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
            opts *o = NULL;
            char *argv[] = {"fake", "--deficit", (char *)cases[k].value};
            CHECK_INT(opts_parse(&o, &cmd, 3, argv), CS_OK);
            deficit_list dl;
            util_clearerr();
            int st = opts_deficits(o, "deficit", &dl);
            CHECK_INT(st, cases[k].want);
            if (st != cases[k].want) printf("  ('%s')\n", cases[k].value);
            if (st == CS_OK) CHECK_INT(dl.n, cases[k].n);
            if (st != CS_OK) CHECK(strstr(util_errmsg(), "deficit") != NULL);
            opts_free(o);
        }
    }
    return check_done("test_deficit");
}
