/* test_publish.c - atomic publication (publish.h): temporary names, links planted at the final name,
 * cleanup on failure, the convenience writers. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "publish.h"
#include "util.h"

static char dir[] = "/tmp/critsim-test-publish-XXXXXX";

static int n_entries(void) /* files in dir, '.' and '..' excluded */
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

static size_t slurp(const char *p, char *buf, size_t cap)
{
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return n;
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    char fin[512], victim[512], buf[256];
    snprintf(fin, sizeof fin, "%s/t.dat", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);

    /* the temporary file lies in the final name's folder, hidden, and nothing is under the final name
     * before the commit */
    pub *p = pub_open(fin, 0), *q = pub_open(fin, 0);
    CHECK(p != NULL && q != NULL);
    if (p && q) {
        char pre[512];
        snprintf(pre, sizeof pre, "%s/.t.dat.tmp.", dir);
        CHECK(strncmp(pub_tmp_path(p), pre, strlen(pre)) == 0);
        CHECK(strlen(pub_tmp_path(p)) == strlen(pre) + 6);
        CHECK(strcmp(pub_tmp_path(p), pub_tmp_path(q)) != 0); /* two writers, two names */
        fputs("first\n", pub_stream(p));
        CHECK(access(fin, F_OK) != 0);
        CHECK_INT(pub_commit(p), CS_OK);
        slurp(fin, buf, sizeof buf);
        CHECK(strcmp(buf, "first\n") == 0);
        pub_abort(q); /* removes its temporary file */
    }
    CHECK_INT(n_entries(), 1);

    /* a symbolic link planted at the final name is replaced, its target untouched */
    FILE *v = fopen(victim, "w");
    fputs("precious\n", v);
    fclose(v);
    unlink(fin);
    CHECK(symlink(victim, fin) == 0);
    CHECK_INT(pub_write(fin, "table\n", 6, PUB_SYNC), CS_OK);
    slurp(victim, buf, sizeof buf);
    CHECK(strcmp(buf, "precious\n") == 0);
    struct stat st;
    CHECK(lstat(fin, &st) == 0 && S_ISREG(st.st_mode));
    slurp(fin, buf, sizeof buf);
    CHECK(strcmp(buf, "table\n") == 0);

    /* copies; a missing source or folder is a usage error naming the path, and leaves nothing behind */
    char cp[512];
    snprintf(cp, sizeof cp, "%s/copy.dat", dir);
    CHECK_INT(pub_copy(fin, cp, 0), CS_OK);
    slurp(cp, buf, sizeof buf);
    CHECK(strcmp(buf, "table\n") == 0);
    util_clearerr();
    CHECK_INT(pub_copy("/nonexistent-critsim/x", cp, 0), CS_EUSAGE);
    CHECK(strstr(util_errmsg(), "/nonexistent-critsim/x") != NULL);
    char nodir[512];
    snprintf(nodir, sizeof nodir, "%s/no/such/t.dat", dir);
    CHECK(pub_open(nodir, 0) == NULL);
    CHECK(strstr(util_errmsg(), nodir) != NULL);
    CHECK_INT(n_entries(), 3); /* victim, t.dat, copy.dat */

    /* a name longer than the system allows is an error with a message, never a truncated path */
    char longp[6000];
    int k = snprintf(longp, sizeof longp, "%s/", dir);
    memset(longp + k, 'a', 300);
    strcpy(longp + k + 300, "/t.dat");
    util_clearerr();
    CHECK(pub_open(longp, 0) == NULL);
    CHECK(strstr(util_errmsg(), "too long") != NULL);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_publish");
}
