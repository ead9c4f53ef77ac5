/* publish.c - write-to-temporary-and-rename publication with unpredictable, exclusively created
 * temporary names (see publish.h).  Mathematics: none.
 *
 * Temporary names: DIR/.BASE.tmp.XXXXXX, BASE cut to 200 bytes so that the name stays under NAME_MAX
 * whenever BASE itself does; XXXXXX from 36 bits drawn from getrandom() (a clock/pid/counter mix when
 * that fails).  open(O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666): the umask applies as
 * for any file the user creates; EEXIST draws another name (up to 64 times). */
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static long pub_commits; /* files published by this process (pub_mark_end) */

struct pub {
    char *final; /* malloc'ed */
    char *tmp;   /* malloc'ed */
    FILE *f;
    int flags;
};

enum { PUB_BUF = 1 << 16 };

/* A path for a message: long ones shortened to their head and tail (the buffer of util_seterr holds 1023
 * characters, and the reason after the path must survive). */
static const char *shown(const char *path, char *buf, size_t n)
{
    size_t l = strlen(path);
    if (l < 240) return path;
    snprintf(buf, n, "%.80s...%s", path, path + l - 150);
    return buf;
}

static uint64_t draw(void)
{
    static uint64_t counter;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
    }
    r ^= ++counter * 0x9e3779b97f4a7c15ull; /* splitmix64 finaliser */
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
    return r ^ (r >> 31);
}

pub *pub_open(const char *path, int flags)
{
    CS_ASSERT(path);
    size_t n = strlen(path);
    if (n == 0) {
        util_seterr(CS_EUSAGE, "cannot write a file with an empty name");
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0; /* folder part including the '/' */
    const char *base = path + dl;
    size_t bl = strlen(base);
    if (bl > 200) bl = 200;
    pub *p = util_calloc(1, sizeof *p);
    p->final = util_strdup(path);
    p->tmp = util_malloc(dl + bl + 32);
    p->flags = flags;
    static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    int fd = -1, err = 0;
    for (int attempt = 0; attempt < 64; attempt++) {
        uint64_t r = draw();
        char sfx[7];
        for (int i = 0; i < 6; i++, r /= 62)
            sfx[i] = alnum[r % 62];
        sfx[6] = '\0';
        snprintf(p->tmp, dl + bl + 32, "%.*s.%.*s.tmp.%s", (int)dl, path, (int)bl, base, sfx);
        fd = open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) break;
    }
    if (fd < 0) err = errno;
    if (fd >= 0) {
        p->f = fdopen(fd, "wb");
        if (!p->f) {
            err = errno;
            close(fd);
            unlink(p->tmp);
        }
    }
    if (!p->f) {
        char sb[256];
        util_seterr(CS_EUSAGE, "cannot write '%s': %s; choose a writable folder", shown(path, sb, sizeof sb),
                    strerror(err ? err : EIO));
        free(p->final);
        free(p->tmp);
        free(p);
        return NULL;
    }
    setvbuf(p->f, NULL, _IOFBF, PUB_BUF);
    return p;
}

FILE *pub_stream(pub *p)
{
    return p->f;
}

const char *pub_tmp_path(const pub *p)
{
    return p->tmp;
}

static void release(pub *p)
{
    free(p->final);
    free(p->tmp);
    free(p);
}

int pub_commit(pub *p)
{
    int err = 0;
    if (fflush(p->f) != 0 || ferror(p->f)) err = errno ? errno : EIO;
    if (!err && (p->flags & PUB_SYNC) && fsync(fileno(p->f)) != 0) err = errno;
    if (fclose(p->f) != 0 && !err) err = errno ? errno : EIO;
    p->f = NULL;
    int status = CS_OK;
    char sb[256];
    if (err)
        status = util_seterr(CS_EUSAGE, "write error on '%s': %s (disk full?)",
                             shown(p->final, sb, sizeof sb), strerror(err));
    else if (rename(p->tmp, p->final) != 0)
        status = util_seterr(CS_EUSAGE, "cannot publish '%s': %s", shown(p->final, sb, sizeof sb),
                             strerror(errno));
    if (status != CS_OK)
        unlink(p->tmp);
    else
        pub_commits++;
    release(p);
    return status;
}

void pub_abort(pub *p)
{
    if (!p) return;
    if (p->f) fclose(p->f);
    unlink(p->tmp);
    release(p);
}

int pub_write(const char *path, const void *data, size_t n, int flags)
{
    pub *p = pub_open(path, flags);
    if (!p) return CS_EUSAGE;
    if (n) fwrite(data, 1, n, p->f);
    return pub_commit(p);
}

int pub_copy(const char *from, const char *to, int flags)
{
    FILE *in = fopen(from, "rb");
    if (!in) return util_seterr(CS_EUSAGE, "cannot read '%s': %s", from, strerror(errno));
    pub *p = pub_open(to, flags);
    if (!p) {
        fclose(in);
        return CS_EUSAGE;
    }
    char buf[1 << 15];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, p->f);
    int rerr = ferror(in);
    fclose(in);
    if (rerr) {
        pub_abort(p);
        return util_seterr(CS_EUSAGE, "read error on '%s'", from);
    }
    return pub_commit(p);
}

/* ---- run-folder marker ---------------------------------------------------------------------- */

static long mark_commits = -1; /* pub_commits after the marker was written; -1: no marker of ours */
static int mark_created_dir;

static char *marker_path(const char *dir)
{
    size_t n = strlen(dir) + sizeof PUB_MARKER + 2;
    char *p = util_malloc(n);
    snprintf(p, n, "%s/%s", dir, PUB_MARKER);
    return p;
}

int pub_mark_begin(const char *dir, const char *what)
{
    mark_created_dir = access(dir, F_OK) != 0;
    if (util_mkdir_p(dir) != CS_OK) return CS_EUSAGE;
    char *p = marker_path(dir), line[256];
    int n = snprintf(line, sizeof line, "pid %ld: %.200s\n", (long)getpid(), what ? what : "critsim");
    int rc = pub_write(p, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1), 0);
    free(p);
    mark_commits = rc == CS_OK ? pub_commits : -1;
    return rc;
}

void pub_mark_end(const char *dir, int status)
{
    if (mark_commits < 0) return;
    int published = pub_commits != mark_commits;
    mark_commits = -1;
    if (status != CS_OK && status != CS_EFAIL && published) return; /* a mixed folder stays marked */
    char *p = marker_path(dir);
    unlink(p);
    free(p);
    if (status != CS_OK && status != CS_EFAIL && mark_created_dir) rmdir(dir); /* only if empty */
}

int pub_check_unmarked(const char *dir, const char *what)
{
    char *p = marker_path(dir);
    int marked = access(p, F_OK) == 0;
    free(p);
    if (!marked) return CS_OK;
    char sb[256];
    return util_seterr(
        CS_EUSAGE,
        "%s '%s' is marked in progress (%s: a run is writing it, or it stopped before publishing "
        "all its outputs); wait for it, or re-run it into this folder",
        what, shown(dir, sb, sizeof sb), PUB_MARKER);
}
