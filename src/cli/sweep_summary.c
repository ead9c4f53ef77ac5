/* sweep_summary.c - the tables of a sweep: grid.dat (written and read back), summary.dat and
 * summary_seeds.dat from the points' outcome files, and the merging of shard folders.  Conventions and
 * file formats in sweep.h; the grid is sweep_grid.c, the executor sweep_exec.c.
 *
 * Mathematics: mean and sample standard deviation over seeds (two passes, in point order, so that the
 * summary is reproducible bit for bit).
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

/* ---- grid.dat ---------------------------------------------------------------------------- */

typedef struct {
    char engine[64];
    char version[64];     /* "0.1.0+BUILDID" from the first line: the build that wrote it */
    int shard_i, shard_n; /* "# shard: I/N" (1/1 when absent) */
    char model[1024];
    int ncols;
    char **cols; /* varied columns */
    long np;
    char **ids;  /* np ids (16 hex) */
    char **vals; /* np * ncols values */
} grid_file;

static void grid_file_free(grid_file *gf)
{
    sweep_strv_free(gf->cols, gf->ncols);
    sweep_strv_free(gf->ids, (int)gf->np);
    sweep_strv_free(gf->vals, (int)(gf->np * gf->ncols));
    memset(gf, 0, sizeof *gf);
}

int sweep_write_grid(const sweep_grid *g, const sweep_config *c, unsigned long long mh,
                     unsigned long long *ids)
{
    table *t = table_open(c->out, "grid.dat", NULL);
    if (!t) return CS_EUSAGE;
    long np = sweep_grid_size(g);
    table_meta(t, "engine: %s", c->cmd->name);
    table_meta(t, "model: %s", c->model ? c->model : "-");
    table_meta(t, "model-hash: %016llx", mh);
    table_meta(t, "points: %ld (point folders: points/ID)", np);
    if (c->shard_n > 1) table_meta(t, "shard: %d/%d", c->shard_i, c->shard_n); /* for sweep --merge */
    char cols[4096] = "index id";
    for (int i = 0; i < g->naxes; i++) {
        strcat(cols, " ");
        strcat(cols, g->ax[i].key);
        if (g->ax[i].var[0]) {
            strcat(cols, " ");
            strcat(cols, g->ax[i].var);
        }
    }
    table_columns(t, cols);
    FILE *f = table_stream(t);
    int idx[SWEEP_MAX_AXES];
    for (long p = 0; p < np; p++) {
        sweep_grid_point(g, p, idx);
        fprintf(f, "%ld %016llx", p, ids[p]);
        for (int i = 0; i < g->naxes; i++) {
            fprintf(f, " %s", g->ax[i].val[idx[i]]);
            if (g->ax[i].var[0]) fprintf(f, " %s", g->ax[i].varval[idx[i]]);
        }
        fputc('\n', f);
    }
    return table_close(t);
}

/* Split a line into whitespace-separated tokens (in place). */
static int tokens(char *line, char **tok, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < max; t = strtok_r(NULL, " \t\r\n", &save))
        tok[n++] = t;
    return n;
}

/* The version token of a table's first line "# critsim 0.1.0+ID: NAME" ("" when absent). */
static void version_token(const char *line, char *buf, size_t n)
{
    buf[0] = '\0';
    if (strncmp(line, "# critsim ", 10) != 0) return;
    const char *e = strchr(line + 10, ':');
    if (!e || e - (line + 10) >= (long)n) return;
    memcpy(buf, line + 10, (size_t)(e - (line + 10)));
    buf[e - (line + 10)] = '\0';
}

static int read_grid(const char *dir, grid_file *gf)
{
    memset(gf, 0, sizeof *gf);
    gf->shard_i = gf->shard_n = 1;
    char p[4200];
    util_path(p, sizeof p, dir, "grid.dat");
    FILE *f = fopen(p, "r");
    if (!f)
        return util_seterr(CS_EUSAGE, "cannot read '%s': %s; is '%s' a sweep folder?", p, strerror(errno),
                           dir);
    char *line = util_malloc(1 << 16), *hdr = util_malloc(1 << 16);
    hdr[0] = '\0';
    char *tok[2 + 2 * SWEEP_MAX_AXES + 1];
    int ccap = 0, icap = 0, vcap = 0, nvals = 0, nids = 0, rc = CS_OK;
    while (fgets(line, 1 << 16, f)) {
        if (line[0] == '#') {
            if (!strncmp(line, "# critsim ", 10) && !gf->version[0])
                version_token(line, gf->version, sizeof gf->version);
            else if (!strncmp(line, "# shard: ", 9) &&
                     (sscanf(line + 9, "%d/%d", &gf->shard_i, &gf->shard_n) != 2 || gf->shard_n < 1 ||
                      gf->shard_i < 1 || gf->shard_i > gf->shard_n)) {
                rc = util_seterr(CS_EUSAGE, "'%s': bad line '%s'", p, sweep_trim(line));
                break;
            }
            if (!strncmp(line, "# engine: ", 10))
                snprintf(gf->engine, sizeof gf->engine, "%s", sweep_trim(line + 10));
            else if (!strncmp(line, "# model: ", 9))
                snprintf(gf->model, sizeof gf->model, "%s", sweep_trim(line + 9));
            snprintf(hdr, 1 << 16, "%s", line + 1);
            continue;
        }
        if (!gf->cols) {
            int n = tokens(hdr, tok, (int)(sizeof tok / sizeof tok[0]));
            if (n < 2 || strcmp(tok[0], "index") || strcmp(tok[1], "id")) {
                rc = util_seterr(CS_EUSAGE,
                                 "'%s': no 'index id ...' column line; was it written by critsim sweep?", p);
                break;
            }
            for (int k = 2; k < n; k++)
                sweep_strv_push(&gf->cols, &gf->ncols, &ccap, tok[k]);
            if (!gf->cols) gf->cols = util_calloc(1, sizeof *gf->cols);
        }
        int n = tokens(line, tok, (int)(sizeof tok / sizeof tok[0]));
        if (n == 0) continue;
        if (n != 2 + gf->ncols) {
            rc = util_seterr(CS_EUSAGE, "'%s': row %ld has %d fields, want %d", p, gf->np, n, 2 + gf->ncols);
            break;
        }
        sweep_strv_push(&gf->ids, &nids, &icap, tok[1]);
        for (int k = 0; k < gf->ncols; k++)
            sweep_strv_push(&gf->vals, &nvals, &vcap, tok[2 + k]);
        gf->np++;
    }
    fclose(f);
    free(line);
    free(hdr);
    if (rc != CS_OK) grid_file_free(gf);
    return rc;
}

/* ---- summaries --------------------------------------------------------------------------- */

typedef struct {
    int status; /* 0 ok, >0 failed, -1 not run */
    char msg[512];
    int nk;
    char **keys, **vals;
} point_result;

static void read_point(const char *out, const char *id, point_result *r)
{
    char p[4300], line[4096];
    memset(r, 0, sizeof *r);
    snprintf(p, sizeof p, "%s/points/%s.dat", out, id);
    FILE *f = fopen(p, "r");
    if (f) {
        int kc = 0, vc = 0, nv = 0;
        while (fgets(line, sizeof line, f)) {
            if (line[0] == '#') continue;
            char *tok[3];
            int n = tokens(line, tok, 3);
            if (n < 2) continue;
            sweep_strv_push(&r->keys, &r->nk, &kc, tok[0]);
            sweep_strv_push(&r->vals, &nv, &vc, tok[1]);
        }
        fclose(f);
        return;
    }
    snprintf(p, sizeof p, "%s/points/%s.failed", out, id);
    f = fopen(p, "r");
    if (!f) {
        r->status = -1;
        snprintf(r->msg, sizeof r->msg, "not run");
        return;
    }
    r->status = 1;
    if (fgets(line, sizeof line, f)) sscanf(line, "status %d", &r->status);
    if (fgets(line, sizeof line, f)) snprintf(r->msg, sizeof r->msg, "%s", sweep_trim(line));
    fclose(f);
}

static int key_index(char **keys, int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], k)) return i;
    return -1;
}

/* The rows of summary.dat (t open): one per point of the shard, the grid's columns, every outcome key
 * any point wrote (okeys, in order of appearance; nan where a point lacks it) and the status. */
static int summary_rows(table *t, const grid_file *gf, const point_result *res, char **okeys, int nok,
                        int shard_i, int shard_n, long np, long nfailed)
{
    table_meta(t, "sweep of critsim %s, model %s", gf->engine, gf->model);
    if (shard_n > 1)
        table_meta(t, "shard %d/%d: %ld of the grid's %ld points", shard_i, shard_n, np, gf->np);
    else
        table_meta(t, "points: %ld", gf->np);
    table_meta(t, "finished: %ld, failed or not run: %ld", np - nfailed, nfailed);
    for (long p = 0; p < gf->np; p++) {
        if (!sweep_in_shard(p, shard_i, shard_n) || res[p].status == 0) continue;
        char as[2048] = "";
        for (int k = 0; k < gf->ncols; k++) {
            size_t l = strlen(as);
            snprintf(as + l, sizeof as - l, "%s%s=%s", k ? " " : "", gf->cols[k],
                     gf->vals[p * gf->ncols + k]);
        }
        table_meta(t, "failed: point %ld (%s) id %s status %d: %s", p, as, gf->ids[p], res[p].status,
                   res[p].msg);
    }
    size_t cl = 16;
    for (int k = 0; k < gf->ncols; k++)
        cl += strlen(gf->cols[k]) + 1;
    for (int k = 0; k < nok; k++)
        cl += strlen(okeys[k]) + 1;
    char *cols = util_malloc(cl);
    cols[0] = '\0';
    for (int k = 0; k < gf->ncols; k++)
        strcat(strcat(cols, k ? " " : ""), gf->cols[k]);
    for (int k = 0; k < nok; k++)
        strcat(strcat(cols, cols[0] ? " " : ""), okeys[k]);
    strcat(strcat(cols, cols[0] ? " " : ""), "status");
    table_columns(t, cols);
    free(cols);
    FILE *f = table_stream(t);
    for (long p = 0; p < gf->np; p++) {
        if (!sweep_in_shard(p, shard_i, shard_n)) continue;
        int first = 1;
        for (int k = 0; k < gf->ncols; k++, first = 0)
            fprintf(f, "%s%s", first ? "" : " ", gf->vals[p * gf->ncols + k]);
        for (int k = 0; k < nok; k++, first = 0) {
            int j = key_index(res[p].keys, res[p].nk, okeys[k]);
            fprintf(f, "%s%s", first ? "" : " ", j >= 0 ? res[p].vals[j] : "nan");
        }
        fprintf(f, "%s%d\n", first ? "" : " ", res[p].status);
    }
    return table_close(t);
}

/* The rows of summary_seeds.dat (t open): the finished points grouped over the seed column, the mean
 * and sample sd of every outcome key per group. */
static int seeds_rows(table *t, const grid_file *gf, const point_result *res, char **okeys, int nok,
                      int shard_i, int shard_n)
{
    int seedc = key_index(gf->cols, gf->ncols, "seed");
    table_meta(t, "sweep of critsim %s, model %s: mean and sample sd over seeds of the finished points",
               gf->engine, gf->model);
    if (shard_n > 1) table_meta(t, "shard %d/%d", shard_i, shard_n);
    size_t cl = 32;
    for (int k = 0; k < gf->ncols; k++)
        cl += strlen(gf->cols[k]) + 1;
    for (int k = 0; k < nok; k++)
        cl += 2 * strlen(okeys[k]) + 12;
    char *cols = util_malloc(cl);
    cols[0] = '\0';
    for (int k = 0; k < gf->ncols; k++)
        if (k != seedc) strcat(strcat(cols, cols[0] ? " " : ""), gf->cols[k]);
    strcat(strcat(cols, cols[0] ? " " : ""), "n");
    for (int k = 0; k < nok; k++) {
        strcat(strcat(strcat(cols, " "), okeys[k]), "_mean");
        strcat(strcat(strcat(cols, " "), okeys[k]), "_sd");
    }
    table_columns(t, cols);
    free(cols);
    FILE *f = table_stream(t);
    char *done = util_calloc((size_t)gf->np + 1, 1);
    long *members = util_malloc(((size_t)gf->np + 1) * sizeof *members);
    for (long p = 0; p < gf->np; p++) {
        if (!sweep_in_shard(p, shard_i, shard_n) || done[p]) continue;
        long nm = 0;
        for (long q = p; q < gf->np; q++) {
            if (done[q] || !sweep_in_shard(q, shard_i, shard_n)) continue;
            int same = 1;
            for (int k = 0; k < gf->ncols && same; k++)
                if (k != seedc && strcmp(gf->vals[p * gf->ncols + k], gf->vals[q * gf->ncols + k])) same = 0;
            if (!same) {
                if (seedc == gf->ncols - 1) break; /* seed is the fastest axis: a group is one block */
                continue;
            }
            done[q] = 1;
            if (res[q].status == 0) members[nm++] = q;
            if (seedc < 0) break;
        }
        int first = 1;
        for (int k = 0; k < gf->ncols; k++)
            if (k != seedc) {
                fprintf(f, "%s%s", first ? "" : " ", gf->vals[p * gf->ncols + k]);
                first = 0;
            }
        fprintf(f, "%s%ld", first ? "" : " ", nm);
        for (int k = 0; k < nok; k++) {
            double sum = 0, ss = 0;
            for (long m = 0; m < nm; m++) {
                int j = key_index(res[members[m]].keys, res[members[m]].nk, okeys[k]);
                sum += j >= 0 ? strtod(res[members[m]].vals[j], NULL) : NAN;
            }
            double mean = nm ? sum / (double)nm : NAN;
            for (long m = 0; m < nm; m++) {
                int j = key_index(res[members[m]].keys, res[members[m]].nk, okeys[k]);
                double d = (j >= 0 ? strtod(res[members[m]].vals[j], NULL) : NAN) - mean;
                ss += d * d;
            }
            double sd = nm >= 2 ? sqrt(ss / (double)(nm - 1)) : NAN;
            if (isnan(mean))
                fprintf(f, " nan");
            else
                fprintf(f, " %.17g", mean);
            if (isnan(sd))
                fprintf(f, " nan");
            else
                fprintf(f, " %.17g", sd);
        }
        fputc('\n', f);
    }
    free(done);
    free(members);
    return table_close(t);
}

int sweep_summarize(const char *out, int shard_i, int shard_n, long *nfailed)
{
    grid_file gf;
    int rc = read_grid(out, &gf);
    if (rc != CS_OK) return rc;
    *nfailed = 0;
    long np = 0;
    point_result *res = util_calloc((size_t)gf.np + 1, sizeof *res);
    char **okeys = NULL;
    int nok = 0, okcap = 0;
    for (long p = 0; p < gf.np; p++) {
        if (!sweep_in_shard(p, shard_i, shard_n)) continue;
        np++;
        read_point(out, gf.ids[p], &res[p]);
        if (res[p].status != 0) (*nfailed)++;
        for (int k = 0; k < res[p].nk; k++)
            if (key_index(okeys, nok, res[p].keys[k]) < 0)
                sweep_strv_push(&okeys, &nok, &okcap, res[p].keys[k]);
    }
    /* summary.dat */
    table *t = table_open(out, "summary.dat", NULL);
    if (!t) rc = CS_EUSAGE;
    if (t) rc = summary_rows(t, &gf, res, okeys, nok, shard_i, shard_n, np, *nfailed);
    /* summary_seeds.dat: group over the seed column */
    if (rc == CS_OK) t = table_open(out, "summary_seeds.dat", NULL);
    if (rc == CS_OK && !t) rc = CS_EUSAGE;
    if (rc == CS_OK) rc = seeds_rows(t, &gf, res, okeys, nok, shard_i, shard_n);
    for (long p = 0; p < gf.np; p++) {
        sweep_strv_free(res[p].keys, res[p].nk);
        sweep_strv_free(res[p].vals, res[p].nk);
    }
    free(res);
    sweep_strv_free(okeys, nok);
    grid_file_free(&gf);
    return rc;
}

/* ---- merge ------------------------------------------------------------------------------- */

static int copy_file(const char *from, const char *todir, const char *name)
{
    char fin[4300];
    util_path(fin, sizeof fin, todir, name);
    return pub_copy(from, fin, 0);
}

/* The shards must be the N parts of one sweep: one grid, one build, each part I/N exactly once. */
static int check_shards(const char *const *dirs, int ndirs, const grid_file *gs)
{
    const grid_file *g0 = &gs[0];
    for (int d = 1; d < ndirs; d++) {
        const grid_file *gd = &gs[d];
        if (strcmp(gd->version, g0->version) != 0)
            return util_seterr(CS_EUSAGE,
                               "shard '%s' was run by critsim %s, shard '%s' by critsim %s (another build); "
                               "run every shard with one build",
                               dirs[d], gd->version[0] ? gd->version : "(no version line)", dirs[0],
                               g0->version[0] ? g0->version : "(no version line)");
        int same = gd->np == g0->np && gd->ncols == g0->ncols && !strcmp(gd->engine, g0->engine);
        for (int k = 0; same && k < g0->ncols; k++)
            same = !strcmp(gd->cols[k], g0->cols[k]);
        for (long p = 0; same && p < g0->np; p++)
            same = !strcmp(gd->ids[p], g0->ids[p]);
        if (!same)
            return util_seterr(CS_EUSAGE,
                               "shard '%s' is a sweep of another grid or model file than '%s' (grid.dat "
                               "differs); merge the shards of one sweep",
                               dirs[d], dirs[0]);
        if (gd->shard_n != g0->shard_n)
            return util_seterr(
                CS_EUSAGE, "shard '%s' is part %d/%d, but '%s' is part %d/%d; merge the parts of one split",
                dirs[d], gd->shard_i, gd->shard_n, dirs[0], g0->shard_i, g0->shard_n);
        for (int e = 0; e < d; e++)
            if (gs[e].shard_i == gd->shard_i)
                return util_seterr(CS_EUSAGE, "'%s' and '%s' are both shard %d/%d; give each shard once",
                                   dirs[e], dirs[d], gd->shard_i, gd->shard_n);
    }
    for (int i = 1; i <= g0->shard_n; i++) {
        int found = 0;
        for (int d = 0; d < ndirs && !found; d++)
            found = gs[d].shard_i == i;
        if (!found)
            return util_seterr(CS_EUSAGE, "shard %d/%d is missing (%d of %d folders given); add its folder",
                               i, g0->shard_n, ndirs, g0->shard_n);
    }
    return CS_OK;
}

/* A point file's first line must carry the build of its shard's grid.dat. */
static int check_point_build(const char *path, const char *dir, const char *version)
{
    FILE *f = fopen(path, "r");
    if (!f) return util_seterr(CS_EUSAGE, "cannot read '%s': %s", path, strerror(errno));
    char line[256] = "", v[64] = "";
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    fclose(f);
    version_token(line, v, sizeof v);
    if (strcmp(v, version) != 0)
        return util_seterr(CS_EUSAGE,
                           "shard '%s': '%s' was written by critsim %s, the shard's grid.dat by critsim %s "
                           "(another build); rerun the shard with one build in a fresh folder",
                           dir, path, v[0] ? v : "(no version line)", version);
    return CS_OK;
}

/* OUT/grid.dat = the shards' grid.dat without the shard line: the unsharded sweep's grid.dat. */
static int write_merged_grid(const char *dir, const char *out)
{
    char src[4200], fin[4300];
    util_path(src, sizeof src, dir, "grid.dat");
    util_path(fin, sizeof fin, out, "grid.dat");
    FILE *in = fopen(src, "r");
    if (!in) return util_seterr(CS_EUSAGE, "cannot read '%s': %s", src, strerror(errno));
    pub *p = pub_open(fin, 0);
    if (!p) {
        fclose(in);
        return CS_EUSAGE;
    }
    char *line = util_malloc(1 << 16);
    while (fgets(line, 1 << 16, in))
        if (strncmp(line, "# shard: ", 9) != 0) fputs(line, pub_stream(p));
    int bad = ferror(in);
    fclose(in);
    free(line);
    if (bad) {
        pub_abort(p);
        return util_seterr(CS_EUSAGE, "cannot read '%s'", src);
    }
    return pub_commit(p);
}

int sweep_merge(const char *const *dirs, int ndirs, const char *out, long *nmissing)
{
    *nmissing = 0;
    if (ndirs < 1) return util_seterr(CS_EUSAGE, "--merge needs one or more sweep folders DIR1,DIR2,...");
    for (int d = 0; d < ndirs; d++) /* a shard still running (or stopped midway) is not merged */
        if (strcmp(dirs[d], out) != 0 && pub_check_unmarked(dirs[d], "sweep shard") != CS_OK)
            return CS_EUSAGE;
    grid_file *gs = util_calloc((size_t)ndirs, sizeof *gs);
    int rc = CS_OK, nread = 0;
    for (; nread < ndirs && rc == CS_OK; nread++)
        rc = read_grid(dirs[nread], &gs[nread]);
    if (rc == CS_OK) rc = check_shards(dirs, ndirs, gs);
    grid_file g0 = gs[0];
    memset(&gs[0], 0, sizeof gs[0]);
    for (int d = 0; d < nread; d++)
        grid_file_free(&gs[d]);
    free(gs);
    if (rc != CS_OK) {
        grid_file_free(&g0);
        return rc;
    }
    if (rc == CS_OK) {
        char pts[4200];
        util_path(pts, sizeof pts, out, "points");
        rc = util_mkdir_p(pts);
    }
    if (rc == CS_OK) rc = write_merged_grid(dirs[0], out);
    for (long p = 0; rc == CS_OK && p < g0.np; p++) {
        char opts_dir[4200], fin[4300], from[4300] = "", name[64];
        int fromd = 0;
        util_path(opts_dir, sizeof opts_dir, out, "points");
        snprintf(fin, sizeof fin, "%s/%s.dat", opts_dir, g0.ids[p]);
        if (sweep_path_exists(fin)) continue;
        for (int pass = 0; pass < 2 && !from[0]; pass++) /* a finished copy wins over a failure record */
            for (int d = 0; d < ndirs && !from[0]; d++) {
                snprintf(name, sizeof name, "%s%s", g0.ids[p], pass == 0 ? ".dat" : ".failed");
                char cand[4300];
                snprintf(cand, sizeof cand, "%s/points/%s", dirs[d], name);
                if (strcmp(dirs[d], out) != 0 && sweep_path_exists(cand)) {
                    snprintf(from, sizeof from, "%s", cand);
                    fromd = d;
                }
            }
        if (!from[0]) continue;
        if (strstr(name, ".dat")) rc = check_point_build(from, dirs[fromd], g0.version);
        if (rc == CS_OK) rc = copy_file(from, opts_dir, name);
        if (rc == CS_OK && strstr(name, ".dat")) {
            snprintf(fin, sizeof fin, "%s/%s.failed", opts_dir, g0.ids[p]);
            unlink(fin);
        }
    }
    grid_file_free(&g0);
    if (rc != CS_OK) return rc;
    rc = sweep_summarize(out, 1, 1, nmissing);
    if (rc == CS_OK && *nmissing > 0)
        return util_seterr(CS_EFAIL,
                           "%ld points failed or are missing from the shards (named in %s/summary.dat)",
                           *nmissing, out);
    return rc;
}
