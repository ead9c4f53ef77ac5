/* test_table.c - provenance header, named columns, atomic publication, FAILED marker (table.h). */
#include <ctype.h>
#include <dirent.h>
#include <unistd.h>

#include "check.h"
#include "table.h"
#include "util.h"

static char dir[] = "/tmp/critsim-test-table-XXXXXX";

static size_t slurp(const char *name, char *buf, size_t cap)
{
    char p[256];
    util_path(p, sizeof p, dir, name);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return n;
}

static int exists(const char *name)
{
    char p[256];
    util_path(p, sizeof p, dir, name);
    return access(p, F_OK) == 0;
}

static int hidden_files(void) /* temporaries left in the folder */
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* a table_prov.reword for the test: upper case, and the context appended */
static void upper_reword(const void *ctx, const char *msg, char *out, size_t n)
{
    size_t k = 0;
    for (; msg[k] && k + 1 < n; k++)
        out[k] = (char)toupper((unsigned char)msg[k]);
    snprintf(out + k, n - k, " (%s)", (const char *)ctx);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    char buf[4096];
    table *t = table_open(dir, "x.dat", NULL);
    CHECK(t != NULL);
    table_meta(t, "method: euler dt=%g", 0.01);
    table_columns(t, "step value");
    table_row(t, "%d %.17g", 0, 0.1);
    CHECK(!exists("x.dat"));   /* nothing under the final name before closing */
    table_meta(t, "steps: 1"); /* statistics known only at the end still go on top */
    table_row(t, "%d %.17g", 1, 0.2);
    CHECK_INT(table_close(t), CS_OK);
    CHECK(exists("x.dat"));
    CHECK_INT(hidden_files(), 0);
    slurp("x.dat", buf, sizeof buf);
    CHECK(strncmp(buf, "# critsim " CS_VERSION, 10 + strlen(CS_VERSION)) == 0);
    /* the last '#' line names the columns and comes right before the data */
    char *cols = strstr(buf, "# step value\n");
    CHECK(cols != NULL);
    CHECK(cols && strncmp(cols + strlen("# step value\n"), "0 0.10000000000000001\n1 0.20000000000000001\n",
                          44) == 0);
    CHECK(strstr(buf, "# steps: 1\n") != NULL && strstr(buf, "# steps: 1\n") < cols);

    /* failure: the table is still published, ending with the FAILED line */
    t = table_open(dir, "f.dat", NULL);
    table_columns(t, "step value");
    table_row(t, "0 1");
    CHECK_INT(table_fail(t, 17, "non-finite K_b in mode 3"), CS_EFAIL);
    size_t n = slurp("f.dat", buf, sizeof buf);
    CHECK(n > 0 && strstr(buf, "0 1\n# FAILED at step 17: non-finite K_b in mode 3\n") != NULL);
    CHECK(n > 0 && buf[n - 1] == '\n');
    /* the provenance's reword turns the library's field names into the command's options */
    table_prov rp = {.reword = upper_reword, .reword_ctx = "ctx"};
    t = table_open(dir, "r.dat", &rp);
    table_columns(t, "step value");
    CHECK_INT(table_fail(t, 3, "lower cfg.lr"), CS_EFAIL);
    slurp("r.dat", buf, sizeof buf);
    CHECK(strstr(buf, "# FAILED at step 3: LOWER CFG.LR (ctx)\n") != NULL);

    /* discard leaves nothing behind */
    t = table_open(dir, "d.dat", NULL);
    table_row(t, "1");
    table_discard(t);
    CHECK(!exists("d.dat"));
    CHECK_INT(hidden_files(), 0);

    /* outcomes file: key value rows, NaN as nan */
    const char *keys[] = {"final_loss", "share_b_m0"};
    double vals[] = {0.125, NAN};
    CHECK_INT(table_write_outcomes(dir, NULL, 2, keys, vals), CS_OK);
    slurp("final.dat", buf, sizeof buf);
    CHECK(strstr(buf, "final_loss 0.125\n") != NULL);
    CHECK(strstr(buf, "share_b_m0 nan\n") != NULL);

    /* a failed run's outcomes end with the FAILED line (one line even if the reason has a newline) */
    CHECK_INT(table_write_outcomes_failed(dir, NULL, 2, keys, vals, 17, "diverged\nbadly"), CS_EFAIL);
    slurp("final.dat", buf, sizeof buf);
    CHECK(strstr(buf, "share_b_m0 nan\n# FAILED at step 17: diverged badly\n") != NULL);

    /* an unwritable folder is a usage error naming the problem */
    util_clearerr();
    CHECK(table_open("/proc/critsim-no-such/x", "y.dat", NULL) == NULL);
    CHECK(strlen(util_errmsg()) > 0);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_table");
}
