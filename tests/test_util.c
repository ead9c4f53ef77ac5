/* test_util.c - strict number parsing, error channel, paths (util.h). */
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "util.h"

int main(void)
{
    long l;
    double x;
    /* strict parsing: the whole string, no overflow, finite */
    CHECK(util_parse_long("42", &l) == 0 && l == 42);
    CHECK(util_parse_long("-7", &l) == 0 && l == -7);
    CHECK(util_parse_long("4x", &l) != 0);
    CHECK(util_parse_long("", &l) != 0);
    CHECK(util_parse_long("99999999999999999999999", &l) != 0);
    CHECK(util_parse_long("1.5", &l) != 0);
    CHECK(util_parse_double("0.25", &x) == 0 && x == 0.25);
    CHECK(util_parse_double("1e-3", &x) == 0 && x == 1e-3);
    CHECK(util_parse_double("nan", &x) != 0);
    CHECK(util_parse_double("inf", &x) != 0);
    CHECK(util_parse_double("1e999", &x) != 0);
    CHECK(util_parse_double("0.1.2", &x) != 0);
    CHECK(util_parse_double(" ", &x) != 0);

    /* error channel: the status is returned, the message kept until cleared */
    util_clearerr();
    CHECK(util_errmsg()[0] == '\0');
    CHECK_INT(util_seterr(CS_EUSAGE, "bad %s %d", "depth", 0), CS_EUSAGE);
    CHECK(strcmp(util_errmsg(), "bad depth 0") == 0);
    util_clearerr();
    CHECK(util_errmsg()[0] == '\0');

    /* mkdir -p creates nested folders and accepts existing ones */
    char dir[] = "/tmp/critsim-test-util-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[512];
    util_path(p, sizeof p, dir, "a/b/c");
    CHECK_INT(util_mkdir_p(p), CS_OK);
    CHECK_INT(util_mkdir_p(p), CS_OK);
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
    /* a path through a regular file cannot be created: usage error with a message */
    char f[600];
    util_path(f, sizeof f, dir, "file");
    FILE *fp = fopen(f, "w");
    fclose(fp);
    char g[700];
    util_path(g, sizeof g, f, "sub");
    CHECK_INT(util_mkdir_p(g), CS_EUSAGE);
    CHECK(strlen(util_errmsg()) > 0);

    double t0 = util_now(), t1 = util_now();
    CHECK(t1 >= t0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_util");
}
