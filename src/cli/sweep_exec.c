/* sweep_exec.c - running a sweep: the point files under OUT/points, one forked child per point (--jobs
 * at a time), deficit trunks that points branch from, failures, resumption.  Conventions and
 * guarantees in sweep.h; the grid is sweep_grid.c, summaries and merging sweep_summary.c.
 *
 * Non-goals: threads (each point runs in a forked child, which isolates crashes, exit() calls and the
 * engines' static state), retry policies, remote execution.
 */
#define _GNU_SOURCE /* memfd_create through syscall() */
#include "sweep.h"
#include "sweep_int.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/syscall.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "publish.h"
#include "deficit.h"
#include "linalg.h"
#include "table.h"
#include "util.h"

/* ---- point files ------------------------------------------------------------------------- */

/* OUT/points/ID<suffix>: ".dat" (outcomes; the point is finished iff it exists), ".failed", ".log",
 * "" (the engine's run folder with --full). */
static void point_file(char *buf, size_t n, const char *out, unsigned long long id, const char *suffix)
{
    snprintf(buf, n, "%s/points/%016llx%s", out, id, suffix);
}

int sweep_path_exists(const char *p)
{
    return access(p, F_OK) == 0;
}

/* rm -r of a scratch run folder (engines may write subfolders such as snap/). */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *path)
{
    if (sweep_path_exists(path)) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Scratch folders /dev/shm/critsim-sweep.PID of sweeps that were killed (PID no longer exists). */
static void remove_stale_scratch(void)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        if (strncmp(e->d_name, "critsim-sweep.", 14) != 0 || util_parse_long(e->d_name + 14, &pid) != 0)
            continue;
        if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char p[300];
            snprintf(p, sizeof p, "/dev/shm/%s", e->d_name);
            remove_tree(p);
        }
    }
    closedir(d);
}

/* Publish DIR/NAME = text atomically (publish.h). */
static int write_atomic(const char *dir, const char *name, const char *text)
{
    char fin[4300];
    util_path(fin, sizeof fin, dir, name);
    return pub_write(fin, text, strlen(text), 0);
}

/* Last line of the log file P that starts with "critsim" (else the last non-empty line), into buf. */
static void last_message(const char *p, char *buf, size_t n)
{
    char line[1024];
    buf[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f) return;
    char any[1024] = "";
    while (fgets(line, sizeof line, f)) {
        char *t = sweep_trim(line);
        if (!*t) continue;
        snprintf(any, sizeof any, "%s", t);
        if (!strncmp(t, "critsim", 7)) snprintf(buf, n, "%s", t);
    }
    fclose(f);
    if (!buf[0]) snprintf(buf, n, "%s", any);
}

/* ---- execution --------------------------------------------------------------------------- */

/* Child: the point's options on top of the parent's parsed model (inherited through fork); the engine
 * runs in `rundir` (a scratch folder in memory, or OUT/points/ID with --full); on success its
 * final.dat is published as OUT/points/ID.dat (tmp + rename), on failure its output is saved as
 * OUT/points/ID.log.  Output goes to an in-memory file: creating files costs more than a small engine
 * run on some file systems. */
static void child_main(const sweep_grid *g, const sweep_config *c, opts *o, long p, unsigned long long id,
                       const char *rundir, int scratch, pid_t parent, const char *branch)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed sweep takes its points with it */
    if (getppid() != parent) _exit(128 + SIGKILL);
    char logp[4300], fin[4300], src[4300];
    point_file(logp, sizeof logp, c->out, id, ".log");
    int fd = (int)syscall(SYS_memfd_create, "critsim-point", 0);
    if (fd < 0) fd = open(logp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    linalg_blas_threads(LINALG_BLAS_WORKER);
    util_clearerr();
    const cmd_def *cmd = c->cmd;
    int idx[SWEEP_MAX_AXES];
    sweep_grid_point(g, p, idx);
    size_t cl = 64 + strlen(cmd->name) + strlen(c->out) + 40 + (c->model ? strlen(c->model) : 0);
    for (int i = 0; i < g->naxes; i++)
        cl += strlen(g->ax[i].key) + strlen(g->ax[i].val[idx[i]]) + 8;
    char *cmdline = util_malloc(cl);
    snprintf(cmdline, cl, "critsim %s%s%s", cmd->name, c->model ? " --model " : "", c->model ? c->model : "");
    int rc = CS_OK;
    for (int i = 0; rc == CS_OK && i < g->naxes; i++) {
        rc = opts_set(o, g->ax[i].key, g->ax[i].val[idx[i]]);
        strcat(strcat(strcat(strcat(cmdline, " --"), g->ax[i].key), " "), g->ax[i].val[idx[i]]);
    }
    if (rc == CS_OK) rc = opts_set(o, "out", rundir);
    if (rc == CS_OK && !c->full && sweep_has_spec(cmd, "final-only")) rc = opts_set(o, "final-only", "true");
    if (rc == CS_OK && branch) { /* continue exactly from the deficit trunk (the command line stays the
                                  * point's: the run is the same, bit for bit) */
        rc = opts_set(o, "branch", branch);
        if (rc == CS_OK) rc = opts_set(o, "branch-mode", "exact");
    }
    char home[4300]; /* provenance names the point's folder in the sweep, where --full would write */
    point_file(home, sizeof home, c->out, id, "");
    strcat(strcat(cmdline, " --out "), home);
    if (rc == CS_OK) {
        opts_set_cmdline(o, cmdline);
        rc = cmd->run(o);
    }
    fflush(NULL);
    if (rc == CS_OK) { /* publish: copy final.dat to points/ID.dat (publish.h) */
        util_path(src, sizeof src, rundir, "final.dat");
        point_file(fin, sizeof fin, c->out, id, ".dat");
        if (access(src, F_OK) != 0)
            rc = util_seterr(CS_EFAIL, "the engine exited 0 but wrote no final.dat (%s)", src);
        else if (pub_copy(src, fin, 0) != CS_OK)
            rc = CS_EFAIL;
        if (rc != CS_OK) fprintf(stderr, "critsim sweep: %s\n", util_errmsg());
    } else {
        const char *m = opts_errmsg(cmd);
        fprintf(stderr, "critsim %s: %s\n", cmd->name, m[0] ? m : "failed (no message recorded)");
    }
    fflush(stderr);
    if (scratch) remove_tree(rundir);
    struct stat sb;
    if (rc != CS_OK && fd >= 0 && fstat(fd, &sb) == 0 && sb.st_nlink == 0) { /* save the memfd as ID.log */
        pub *lp = pub_open(logp, 0);
        if (lp) {
            FILE *lf = pub_stream(lp);
            fprintf(lf, "# %s\n", cmdline);
            char buf[8192];
            ssize_t n;
            lseek(fd, 0, SEEK_SET);
            while ((n = read(fd, buf, sizeof buf)) > 0)
                fwrite(buf, 1, (size_t)n, lf);
            pub_commit(lp);
        }
    }
    _exit(rc < 0 || rc > 255 ? 1 : rc);
}

/* ---- deficit trunks ---------------------------------------------------------------------------
 *
 * Points that differ only in where their single deficit window [S, E) ends (and in --epochs /
 * --clean-epochs) share their first E epochs exactly: the engine's training state after E epochs does
 * not depend on what comes later.  Such points (engines with --branch-mode exact and --checkpoint-at,
 * i.e. critsim cnn) are grouped by a trunk key; a group of two or more points of the shard gets one
 * trunk run with the deficit [S, E_max) that keeps ckpt_E.bin at every E of the group, in
 * OUT/trunks/TID/ (TID hashes the key and the list of E, so another grid or shard gets another
 * trunk).  Each point then continues from ckpt_E.bin with --branch-mode exact, which the engine
 * guarantees to be bit-identical to the run from scratch.  The trunk runs with --resume, so a killed
 * sweep continues it; the engine writes ckpt_E.bin before checkpoint.bin, so every checkpoint up to
 * the trunk's epoch exists.  A trunk's folder is removed once all its points are finished. */

enum { TR_IDLE, TR_RUNNING, TR_DONE, TR_FAILED };

typedef struct {
    unsigned long long key; /* trunk key (shared options), then the folder id */
    long p;                 /* a point of the group */
    long end;               /* its deficit's END */
} trunk_cand;

typedef struct {
    unsigned long long id;
    char dir[4300];    /* OUT/trunks/TID */
    long rep;          /* a point of the trunk: its options but for the deficit's end, epochs, clean-epochs */
    char prefix[128];  /* the deficit up to its END: KIND[:ARGS]@START- */
    long *ends, nends; /* distinct END values of the trunk's points in the shard, ascending */
    long *members, nmembers;
    long target; /* epochs to run now (0: every checkpoint the unfinished points need exists) */
    pid_t pid;
    int state, code;
    char msg[600];
} trunk;

/* The text value of option `key` for point idx: the axis value, or the model's (NULL when unset). */
static const char *point_value(const sweep_grid *g, const int *idx, const opts *base, const char *key)
{
    for (int i = 0; i < g->naxes; i++)
        if (!strcmp(g->ax[i].key, key)) return g->ax[i].val[idx[i]];
    return opts_str(base, key);
}

static int trunk_key_skip(const char *k)
{
    return !strcmp(k, "deficit") || !strcmp(k, "epochs") || !strcmp(k, "clean-epochs");
}

/* Is point p a deficit-removal point that can branch from a trunk?  Then *end, prefix and *key. */
static int trunk_candidate(const sweep_grid *g, const sweep_config *c, const opts *base,
                           unsigned long long mh, long p, long *end, char *prefix, size_t nprefix,
                           unsigned long long *key)
{
    int idx[SWEEP_MAX_AXES], order[SWEEP_MAX_AXES], dax = -1;
    sweep_grid_point(g, p, idx);
    for (int i = 0; i < g->naxes; i++) {
        const char *k = g->ax[i].key;
        if (!strcmp(k, "deficit")) dax = i;
        if (!strcmp(k, "branch") || !strcmp(k, "branch-mode") || !strcmp(k, "resume") ||
            !strcmp(k, "checkpoint-at"))
            return 0;
    }
    if (dax < 0 || opts_str(base, "branch") || opts_flag(base, "resume")) return 0;
    const char *v = g->ax[dax].val[idx[dax]];
    deficit d;
    if (strchr(v, '+') || deficit_parse(v, &d) != CS_OK) {
        util_clearerr();
        return 0;
    }
    const char *at = strchr(v, '@'), *dash = at ? strchr(at, '-') : NULL;
    if (d.kind == DEF_SWITCH || d.end < 1 || !dash || (size_t)(dash - v) + 2 > nprefix) return 0;
    long clean = 0, epochs = 0;
    const char *cv = point_value(g, idx, base, "clean-epochs"), *ev = point_value(g, idx, base, "epochs");
    if ((cv && util_parse_long(cv, &clean)) || !ev || util_parse_long(ev, &epochs)) return 0;
    static const char *const per_epoch[] = {"snap-every", "fisher-every", NULL}; /* files an exact branch */
    for (int i = 0; per_epoch[i]; i++) {                                         /* does not carry over */
        long k = 0;
        const char *kv =
            sweep_has_spec(c->cmd, per_epoch[i]) ? point_value(g, idx, base, per_epoch[i]) : NULL;
        if (kv && (util_parse_long(kv, &k) || k != 0)) return 0;
    }
    if (d.end > (clean > 0 ? d.end + clean : epochs)) return 0; /* the deficit outlasts the run */
    memcpy(prefix, v, (size_t)(dash - v) + 1);
    prefix[dash - v + 1] = '\0';
    *end = d.end;
    for (int i = 0; i < g->naxes; i++)
        order[i] = i;
    for (int i = 1; i < g->naxes; i++) /* insertion sort by key, as the point id */
        for (int j = i; j > 0 && strcmp(g->ax[order[j - 1]].key, g->ax[order[j]].key) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    unsigned long long h = sweep_hash_bytes(FNV_BASIS, "trunk", 6);
    h = sweep_hash_bytes(h, c->cmd->name, strlen(c->cmd->name) + 1);
    h = sweep_hash_bytes(h, &mh, sizeof mh);
    for (int k = 0; k < g->naxes; k++) {
        const sweep_axis *a = &g->ax[order[k]];
        if (trunk_key_skip(a->key)) continue;
        h = sweep_hash_bytes(h, a->key, strlen(a->key));
        h = sweep_hash_bytes(h, "=", 1);
        h = sweep_hash_bytes(h, a->val[idx[order[k]]], strlen(a->val[idx[order[k]]]) + 1);
    }
    *key = sweep_hash_bytes(h, prefix, strlen(prefix) + 1);
    return 1;
}

static int cand_cmp(const void *a, const void *b)
{
    const trunk_cand *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->p < y->p ? -1 : x->p > y->p;
}

static int long_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static void trunk_ckpt(const trunk *t, long end, char *buf, size_t n)
{
    snprintf(buf, n, "%s/ckpt_%ld.bin", t->dir, end);
}

/* Group the shard's trunk candidates; ptr[p] = trunk index of todo point p (or -1), pend[p] its END.
 * Returns the number of trunks (array *out). */
static int plan_trunks(const sweep_grid *g, const sweep_config *c, const opts *base, unsigned long long mh,
                       const long *todo, long ntodo, int *ptr, long *pend, trunk **out)
{
    static const char *const need[] = {"deficit",     "epochs",        "clean-epochs", "branch",
                                       "branch-mode", "checkpoint-at", "resume",       NULL};
    *out = NULL;
    for (int i = 0; need[i]; i++)
        if (!sweep_has_spec(c->cmd, need[i])) return 0;
    long np = sweep_grid_size(g), nc = 0;
    trunk_cand *cand = util_malloc(((size_t)np + 1) * sizeof *cand);
    char prefix[128];
    for (long p = 0; p < np; p++) {
        if (!sweep_in_shard(p, c->shard_i, c->shard_n)) continue;
        long e;
        unsigned long long k;
        if (trunk_candidate(g, c, base, mh, p, &e, prefix, sizeof prefix, &k))
            cand[nc++] = (trunk_cand){k, p, e};
    }
    qsort(cand, (size_t)nc, sizeof *cand, cand_cmp);
    char *in_todo = util_calloc((size_t)np + 1, 1);
    for (long k = 0; k < ntodo; k++)
        in_todo[todo[k]] = 1;
    trunk *tr = NULL;
    int ntr = 0;
    for (long a = 0, b; a < nc; a = b) {
        for (b = a + 1; b < nc && cand[b].key == cand[a].key;)
            b++;
        if (b - a < 2) continue; /* one point: nothing to share */
        long nt = 0;
        for (long k = a; k < b; k++)
            nt += in_todo[cand[k].p];
        if (nt == 0) { /* all finished: a folder left by a sweep killed before its cleanup goes */
            long *e = util_malloc((size_t)(b - a) * sizeof *e), u = 0;
            for (long k = a; k < b; k++)
                e[k - a] = cand[k].end;
            qsort(e, (size_t)(b - a), sizeof *e, long_cmp);
            for (long k = 0; k < b - a; k++)
                if (!u || e[k] != e[u - 1]) e[u++] = e[k];
            char dir[4300];
            snprintf(dir, sizeof dir, "%s/trunks/%016llx", c->out,
                     sweep_hash_bytes(cand[a].key, e, (size_t)u * sizeof *e));
            if (!c->plan) remove_tree(dir);
            free(e);
            continue;
        }
        tr = realloc(tr, (size_t)(ntr + 1) * sizeof *tr);
        if (!tr) util_malloc((size_t)-1);
        trunk *t = &tr[ntr++];
        memset(t, 0, sizeof *t);
        t->rep = cand[a].p;
        long e;
        unsigned long long k0;
        trunk_candidate(g, c, base, mh, t->rep, &e, t->prefix, sizeof t->prefix, &k0);
        t->ends = util_malloc((size_t)(b - a) * sizeof *t->ends);
        t->members = util_malloc((size_t)(b - a) * sizeof *t->members);
        for (long k = a; k < b; k++) {
            t->ends[t->nends++] = cand[k].end;
            t->members[t->nmembers++] = cand[k].p;
        }
        qsort(t->ends, (size_t)t->nends, sizeof *t->ends, long_cmp);
        long u = 0;
        for (long k = 0; k < t->nends; k++)
            if (!u || t->ends[k] != t->ends[u - 1]) t->ends[u++] = t->ends[k];
        t->nends = u;
        unsigned long long h = sweep_hash_bytes(cand[a].key, t->ends, (size_t)u * sizeof *t->ends);
        t->id = h;
        snprintf(t->dir, sizeof t->dir, "%s/trunks/%016llx", c->out, h);
        for (long k = a; k < b; k++) {
            long p = cand[k].p;
            if (!in_todo[p]) continue;
            ptr[p] = ntr - 1;
            pend[p] = cand[k].end;
            char ck[4400];
            trunk_ckpt(t, cand[k].end, ck, sizeof ck);
            if (!sweep_path_exists(ck) && cand[k].end > t->target) t->target = cand[k].end;
        }
        t->state = t->target > 0 ? TR_IDLE : TR_DONE;
    }
    free(in_todo);
    free(cand);
    *out = tr;
    return ntr;
}

static void trunks_free(trunk *tr, int n)
{
    for (int i = 0; i < n; i++) {
        free(tr[i].ends);
        free(tr[i].members);
    }
    free(tr);
}

/* Child: the trunk run (engine options of its representative point; the deficit [S, E_max), no clean
 * epochs, --epochs target, --checkpoint-at every END, --resume) in t->dir, output appended to
 * t->dir/trunk.log. */
static void trunk_main(const sweep_grid *g, const sweep_config *c, opts *o, const trunk *t, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(128 + SIGKILL);
    char logp[4400];
    if (util_mkdir_p(t->dir) != CS_OK) _exit(2);
    util_path(logp, sizeof logp, t->dir, "trunk.log");
    int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    linalg_blas_threads(LINALG_BLAS_WORKER);
    util_clearerr();
    int idx[SWEEP_MAX_AXES];
    sweep_grid_point(g, t->rep, idx);
    char def[200], target[32], *at = NULL;
    size_t al = 16;
    FILE *ms = open_memstream(&at, &al);
    for (long k = 0; ms && k < t->nends; k++)
        fprintf(ms, "%s%ld", k ? "," : "", t->ends[k]);
    if (ms) fclose(ms);
    snprintf(def, sizeof def, "%s%ld", t->prefix, t->ends[t->nends - 1]);
    snprintf(target, sizeof target, "%ld", t->target);
    char *cmdline = NULL;
    size_t cl = 0;
    ms = open_memstream(&cmdline, &cl);
    int rc = at && ms ? CS_OK : util_seterr(CS_EFAIL, "out of memory");
    if (ms)
        fprintf(ms, "critsim %s%s%s", c->cmd->name, c->model ? " --model " : "", c->model ? c->model : "");
    for (int i = 0; rc == CS_OK && i < g->naxes; i++) {
        if (trunk_key_skip(g->ax[i].key)) continue;
        rc = opts_set(o, g->ax[i].key, g->ax[i].val[idx[i]]);
        fprintf(ms, " --%s %s", g->ax[i].key, g->ax[i].val[idx[i]]);
    }
    const char *set[][2] = {{"deficit", def},      {"clean-epochs", "0"},     {"epochs", target},
                            {"checkpoint-at", at}, {"checkpoint-every", "0"}, {"resume", "true"},
                            {"out", t->dir}};
    for (size_t i = 0; rc == CS_OK && i < sizeof set / sizeof set[0]; i++) {
        if (!sweep_has_spec(c->cmd, set[i][0])) continue;
        rc = opts_set(o, set[i][0], set[i][1]);
        if (!strcmp(set[i][1], "true"))
            fprintf(ms, " --%s", set[i][0]);
        else
            fprintf(ms, " --%s %s", set[i][0], set[i][1]);
    }
    if (ms) fclose(ms);
    if (rc == CS_OK) {
        opts_set_cmdline(o, cmdline);
        fprintf(stderr, "critsim sweep: trunk %s\n", cmdline);
        rc = c->cmd->run(o);
    }
    if (rc != CS_OK) {
        const char *m = opts_errmsg(c->cmd);
        fprintf(stderr, "critsim %s: %s\n", c->cmd->name, m[0] ? m : "failed (no message recorded)");
    }
    fflush(NULL);
    _exit(rc < 0 || rc > 255 ? 1 : rc);
}

/* Remove the folders of trunks whose points (of the shard) are all finished, then OUT/trunks if empty. */
static void trunks_cleanup(const sweep_config *c, const trunk *tr, int ntr, const unsigned long long *ids)
{
    char path[4300];
    for (int i = 0; i < ntr; i++) {
        int all = 1;
        for (long k = 0; all && k < tr[i].nmembers; k++) {
            point_file(path, sizeof path, c->out, ids[tr[i].members[k]], ".dat");
            all = sweep_path_exists(path);
        }
        if (all) remove_tree(tr[i].dir);
    }
    util_path(path, sizeof path, c->out, "trunks");
    rmdir(path);
}

typedef struct {
    pid_t pid;
    long p; /* point index, or -1 - trunk index */
} slot;

/* SIGINT / SIGTERM / SIGHUP in the parent: stop starting points, kill the running ones, say how to
 * resume.  (Finished points are already published; the killed ones simply run again next time.) */
static volatile sig_atomic_t sweep_stop;
static void on_stop(int sig)
{
    sweep_stop = sig;
}

static void describe(const sweep_grid *g, long p, char *buf, size_t n)
{
    int idx[SWEEP_MAX_AXES];
    sweep_grid_point(g, p, idx);
    buf[0] = '\0';
    for (int i = 0; i < g->naxes; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s=%s", i ? " " : "", g->ax[i].key, g->ax[i].val[idx[i]]);
    }
}

/* Record point p as failed: OUT/points/ID.failed ("status N" and a message) and a line on stderr. */
static void record_failure(const sweep_grid *g, const sweep_config *c, const char *pts, long p,
                           unsigned long long id, int code, char *msg)
{
    for (char *m = msg; *m; m++)
        if (*m == '\n' || *m == '\r') *m = ' ';
    char text[800], name[64];
    snprintf(text, sizeof text, "status %d\n%.760s\n", code, msg);
    snprintf(name, sizeof name, "%016llx.failed", id);
    write_atomic(pts, name, text);
    if (!c->quiet) {
        char as[2048];
        describe(g, p, as, sizeof as);
        fprintf(stderr, "critsim sweep: point %ld (%s) failed with status %d: %s\n", p, as, code, msg);
    }
}

/* The executor's state while sweep_run runs the points of its shard (sweep_run's steps below). */
typedef struct {
    const sweep_grid *g;
    const sweep_config *c;
    sweep_stats *st;
    opts *base; /* the model file parsed once; every child (after fork) changes its own copy */
    const unsigned long long *ids;
    const long *todo; /* the points to run, in order */
    long ntodo;
    trunk *tr; /* deficit trunks; ptr[p] the trunk of point p (-1: from scratch), pend[p] its END */
    int ntr;
    const int *ptr;
    const long *pend;
    char pts[4200];    /* OUT/points */
    char scratch[256]; /* scratch run folders in memory, or "" */
    slot *run;         /* jobs slots, pid 0 when free */
    int jobs, running;
    char *started;  /* started[k]: todo[k] started (or failed without starting) */
    long lo, nleft; /* todo[lo..] holds every point not started yet; nleft of them */
    pid_t self;
} exec_state;

static const int stop_sigs[3] = {SIGINT, SIGTERM, SIGHUP};

static void slot_take(exec_state *x, pid_t pid, long p)
{
    for (int s = 0; s < x->jobs; s++)
        if (!x->run[s].pid) {
            x->run[s].pid = pid;
            x->run[s].p = p;
            break;
        }
    x->running++;
}

/* Scratch run folders in memory (/dev/shm) unless the full tables are wanted or it is unusable. */
static void make_scratch(const sweep_config *c, long ntodo, char *scratch, size_t n)
{
    scratch[0] = '\0';
    if (c->full || ntodo == 0) return;
    remove_stale_scratch();
    snprintf(scratch, n, "/dev/shm/critsim-sweep.%ld", (long)getpid());
    if (mkdir(scratch, 0700) != 0 && errno == EEXIST) { /* left by an earlier process with our pid */
        remove_tree(scratch);
        if (mkdir(scratch, 0700) != 0) scratch[0] = '\0';
    } else if (!sweep_path_exists(scratch)) {
        scratch[0] = '\0';
    }
}

/* Start idle trunks while slots are free (trunks first: their points wait for them). */
static int start_trunks(exec_state *x)
{
    for (int t = 0; t < x->ntr && x->running < x->jobs && !sweep_stop; t++) {
        if (x->tr[t].state != TR_IDLE) continue;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) return util_seterr(CS_EFAIL, "fork failed: %s", strerror(errno));
        if (pid == 0) {
            for (int k = 0; k < 3; k++)
                signal(stop_sigs[k], SIG_DFL);
            trunk_main(x->g, x->c, x->base, &x->tr[t], x->self);
        }
        x->tr[t].state = TR_RUNNING;
        x->tr[t].pid = pid;
        slot_take(x, pid, -1 - t);
    }
    return CS_OK;
}

/* Start points while slots are free; *waiting counts the points whose trunk has not reached their END
 * yet.  A point whose trunk failed or finished without its checkpoint fails without starting. */
static int start_points(exec_state *x, int *waiting)
{
    const sweep_config *c = x->c;
    *waiting = 0;
    while (x->lo < x->ntodo && x->started[x->lo])
        x->lo++;
    for (long k = x->lo; k < x->ntodo && x->running < x->jobs && !sweep_stop; k++) {
        if (x->started[k]) continue;
        long p = x->todo[k];
        char ck[4400] = "";
        if (x->ptr && x->ptr[p] >= 0) {
            trunk *t = &x->tr[x->ptr[p]];
            trunk_ckpt(t, x->pend[p], ck, sizeof ck);
            if (!sweep_path_exists(ck)) {
                if (t->state == TR_IDLE || t->state == TR_RUNNING) {
                    (*waiting)++;
                    continue;
                }
                char msg[9500];
                if (t->state == TR_FAILED)
                    snprintf(msg, sizeof msg, "its deficit trunk %s failed: %s", t->dir, t->msg);
                else
                    snprintf(msg, sizeof msg, "its deficit trunk %s finished without %s", t->dir, ck);
                x->started[k] = 1;
                x->nleft--;
                x->st->ran++;
                x->st->failed++;
                record_failure(x->g, c, x->pts, p, x->ids[p], t->state == TR_FAILED ? t->code : 1, msg);
                continue;
            }
        }
        char rundir[4300];
        if (x->scratch[0])
            snprintf(rundir, sizeof rundir, "%s/%016llx", x->scratch, x->ids[p]);
        else
            point_file(rundir, sizeof rundir, c->out, x->ids[p], "");
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) return util_seterr(CS_EFAIL, "fork failed: %s", strerror(errno));
        if (pid == 0) {
            for (int k2 = 0; k2 < 3; k2++)
                signal(stop_sigs[k2], SIG_DFL);
            child_main(x->g, c, x->base, p, x->ids[p], rundir, x->scratch[0] != '\0', x->self,
                       ck[0] ? ck : NULL);
        }
        x->started[k] = 1;
        x->nleft--;
        slot_take(x, pid, p);
    }
    return CS_OK;
}

/* A child ended: a trunk (its state, and its message when it failed) or a point (published, or
 * recorded as failed with the last line of its log). */
static void reap(exec_state *x, pid_t pid, int status)
{
    const sweep_config *c = x->c;
    char path[4300];
    int s = 0;
    while (s < x->jobs && x->run[s].pid != pid)
        s++;
    if (s == x->jobs) return; /* not one of ours */
    long p = x->run[s].p;
    x->run[s].pid = 0;
    x->running--;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    if (p < 0) { /* a trunk */
        trunk *t = &x->tr[-1 - p];
        t->pid = 0;
        t->code = code;
        t->state = code == 0 ? TR_DONE : TR_FAILED;
        if (code != 0) {
            if (WIFSIGNALED(status))
                snprintf(t->msg, sizeof t->msg, "killed by signal %d", WTERMSIG(status));
            else {
                util_path(path, sizeof path, t->dir, "trunk.log");
                last_message(path, t->msg, sizeof t->msg);
            }
            if (!c->quiet)
                fprintf(stderr, "critsim sweep: deficit trunk %s failed with status %d: %s\n", t->dir, code,
                        t->msg);
        }
        return;
    }
    x->st->ran++;
    char msg[600] = "";
    point_file(path, sizeof path, c->out, x->ids[p], ".dat");
    if (code == 0 && !sweep_path_exists(path)) {
        code = 1;
        snprintf(msg, sizeof msg, "critsim sweep: the point exited 0 but published no %016llx.dat",
                 x->ids[p]);
    }
    if (code == 0) {
        point_file(path, sizeof path, c->out, x->ids[p], ".failed");
        unlink(path);
        point_file(path, sizeof path, c->out, x->ids[p], ".log");
        unlink(path);
        return;
    }
    x->st->failed++;
    if (x->scratch[0]) { /* a child killed by a signal leaves its scratch folder */
        char rundir[4300];
        snprintf(rundir, sizeof rundir, "%s/%016llx", x->scratch, x->ids[p]);
        remove_tree(rundir);
    }
    if (!msg[0]) {
        if (WIFSIGNALED(status))
            snprintf(msg, sizeof msg, "killed by signal %d", WTERMSIG(status));
        else {
            point_file(path, sizeof path, c->out, x->ids[p], ".log");
            last_message(path, msg, sizeof msg);
            if (!msg[0]) snprintf(msg, sizeof msg, "the point exited with status %d and no message", code);
        }
    }
    record_failure(x->g, c, x->pts, p, x->ids[p], code, msg);
}

/* The executor loop: start trunks and points on free slots, reap children, until every point ran or a
 * stop signal came.  CS_OK, or CS_EFAIL (interrupted, fork/waitpid failed). */
static int execute(exec_state *x, double t0)
{
    const sweep_config *c = x->c;
    sweep_stats *st = x->st;
    double last_note = util_now();
    while (x->nleft > 0 || x->running > 0) {
        if (sweep_stop) {
            for (int k = 0; k < x->jobs; k++)
                if (x->run[k].pid) kill(x->run[k].pid, SIGKILL);
            return util_seterr(
                CS_EFAIL,
                "interrupted by signal %d after %ld of %ld points; run the same command again to "
                "continue",
                (int)sweep_stop, st->skipped + st->ran - st->failed, st->points);
        }
        if (!c->quiet && util_now() - last_note > 10) {
            fprintf(stderr, "critsim sweep: %ld of %ld points done (%ld failed), %.0f s\n",
                    st->skipped + st->ran, st->points, st->failed, util_now() - t0);
            last_note = util_now();
        }
        int rc, waiting;
        if ((rc = start_trunks(x)) != CS_OK || (rc = start_points(x, &waiting)) != CS_OK) return rc;
        if (x->running == 0) {
            if (x->nleft > 0 && !sweep_stop) /* cannot happen: a waiting point's trunk is idle or running */
                return util_seterr(CS_EFAIL, "internal error: %ld points wait for no running trunk",
                                   x->nleft);
            continue;
        }
        int status;
        pid_t pid;
        if (waiting > 0 && x->running < x->jobs) { /* a free slot: poll, so that waiting points start as
                                                    * soon as their trunk checkpoint appears */
            pid = waitpid(-1, &status, WNOHANG);
            if (pid == 0) {
                struct timespec ts = {0, 50000000};
                nanosleep(&ts, NULL);
                continue;
            }
        } else
            pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            return util_seterr(CS_EFAIL, "waitpid failed: %s", strerror(errno));
        }
        reap(x, pid, status);
    }
    return CS_OK;
}

/* The points of this shard that have no published result yet (todo, in order), and the counts. */
static long plan_todo(const sweep_grid *g, const sweep_config *c, const unsigned long long *ids, long np,
                      long *todo, sweep_stats *st)
{
    char path[4300];
    long ntodo = 0;
    for (long p = 0; p < np; p++) {
        if (!sweep_in_shard(p, c->shard_i, c->shard_n)) continue;
        st->points++;
        point_file(path, sizeof path, c->out, ids[p], ".dat");
        if (sweep_path_exists(path))
            st->skipped++;
        else
            todo[ntodo++] = p;
    }
    return ntodo;
}

int sweep_run(const sweep_grid *g, const sweep_config *c, sweep_stats *st)
{
    double t0 = util_now();
    memset(st, 0, sizeof *st);
    int rc = sweep_validate(g, c);
    if (rc != CS_OK) return rc;
    exec_state x = {.g = g, .c = c, .st = st};
    util_path(x.pts, sizeof x.pts, c->out, "points");
    if ((rc = util_mkdir_p(x.pts)) != CS_OK) return rc;
    unsigned long long mh;
    if ((rc = sweep_hash_file(c->model, &mh)) != CS_OK) return rc;
    long np = sweep_grid_size(g);
    unsigned long long *ids = util_malloc((size_t)np * sizeof *ids);
    for (long p = 0; p < np; p++)
        ids[p] = sweep_point_id(g, p, c->cmd->name, mh);
    if ((rc = sweep_write_grid(g, c, mh, ids)) != CS_OK) {
        free(ids);
        return rc;
    }
    long *todo = util_malloc((size_t)np * sizeof *todo);
    long ntodo = plan_todo(g, c, ids, np, todo, st);
    opts *base = NULL;
    char *argv[3] = {(char *)c->cmd->name, "--model", (char *)c->model};
    rc = opts_parse(&base, c->cmd, c->model ? 3 : 1, argv);
    if (rc != CS_OK) {
        free(todo);
        free(ids);
        return rc;
    }
    trunk *tr = NULL;
    int ntr = 0;
    int *ptr = NULL;
    long *pend = NULL;
    if (!c->no_trunks && ntodo > 0) {
        ptr = util_malloc((size_t)np * sizeof *ptr);
        pend = util_malloc((size_t)np * sizeof *pend);
        for (long p = 0; p < np; p++)
            ptr[p] = -1;
        ntr = plan_trunks(g, c, base, mh, todo, ntodo, ptr, pend, &tr);
        for (long k = 0; k < ntodo; k++)
            st->branched += ptr[todo[k]] >= 0;
        st->trunks = ntr;
    }
    if (c->plan) {
        trunks_free(tr, ntr);
        free(ptr);
        free(pend);
        opts_free(base);
        free(todo);
        free(ids);
        st->wall_s = util_now() - t0;
        return CS_OK;
    }
    x.base = base;
    x.ids = ids;
    x.todo = todo;
    x.ntodo = x.nleft = ntodo;
    x.tr = tr;
    x.ntr = ntr;
    x.ptr = ptr;
    x.pend = pend;
    make_scratch(c, ntodo, x.scratch, sizeof x.scratch);
    x.jobs = c->jobs < 1 ? 1 : c->jobs;
    x.run = util_calloc((size_t)x.jobs, sizeof *x.run);
    x.started = util_calloc((size_t)ntodo + 1, 1);
    x.self = getpid();
    linalg_blas_threads(LINALG_BLAS_WORKER);
    struct sigaction sa, old[3];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: waitpid returns EINTR */
    sigemptyset(&sa.sa_mask);
    sweep_stop = 0;
    for (int k = 0; k < 3; k++)
        sigaction(stop_sigs[k], &sa, &old[k]);
    rc = execute(&x, t0);
    if (rc == CS_OK) {
        trunks_cleanup(c, tr, ntr, ids);
        long nf = 0;
        rc = sweep_summarize(c->out, c->shard_i, c->shard_n, &nf);
        if (rc == CS_OK && nf > 0)
            rc = util_seterr(CS_EFAIL,
                             "%ld of %ld points failed (named in %s/summary.dat; logs in %s/points/ID.log)",
                             nf, st->points, c->out, c->out);
    }
    while (x.running > 0) { /* only after an error: collect the children */
        int status;
        if (wait(&status) < 0 && errno != EINTR) break;
        x.running--;
    }
    for (int k = 0; k < 3; k++)
        sigaction(stop_sigs[k], &old[k], NULL);
    if (x.scratch[0]) remove_tree(x.scratch);
    st->wall_s = util_now() - t0;
    opts_free(base);
    trunks_free(tr, ntr);
    free(ptr);
    free(pend);
    free(x.started);
    free(x.run);
    free(todo);
    free(ids);
    return rc;
}
