/* task.c - tasks of the full-matrix linear engine: exact population statistics and matrix completion.
 *
 * Purpose: build Sigma_xx, Sigma_yx, tr Sigma_yy, the target map T = Syx Sxx^+ and its thin SVD for
 * the item tasks, and the target matrix plus observed positions for matrix completion.  The
 * mathematics of every task is written in include/task.h.  Nothing is sampled except the random
 * matrices that define a task (seeded by cfg->seed through GSL's mt19937).
 * Non-goals: data sets of samples, mini-batches.
 */
#include "task.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#include "linalg.h"
#include "npy.h"
#include "util.h"

const char *task_kind_name(task_kind k)
{
    static const char *const names[] = {"hier", "lowrank", "latent", "completion", "file"};
    return (unsigned)k < 5 ? names[k] : "?";
}

void task_hier_yt(double *yt)
{
    memset(yt, 0, 15 * 8 * sizeof *yt);
    for (int j = 0; j < 8; j++) {
        yt[0 * 8 + j] = 1;           /* root */
        yt[(1 + j / 4) * 8 + j] = 1; /* two halves */
        yt[(3 + j / 2) * 8 + j] = 1; /* four pairs */
        yt[(7 + j) * 8 + j] = 1;     /* one feature per item */
    }
}

double task_item_loss(int n_out, int n_in, const double *sxx, const double *syx, double tr_syy,
                      const double *omega)
{
    /* 1/2 [tr Syy - 2 <Omega, Syx> + <Omega Sxx, Omega>] */
    double quad = 0, lin = 0;
    for (int i = 0; i < n_out; i++) {
        const double *w = omega + (size_t)i * n_in;
        for (int j = 0; j < n_in; j++) {
            double r = 0;
            for (int k = 0; k < n_in; k++)
                r += w[k] * sxx[(size_t)k * n_in + j];
            quad += r * w[j];
            lin += w[j] * syx[(size_t)i * n_in + j];
        }
    }
    return 0.5 * (tr_syy - 2 * lin + quad);
}

void task_free(task *t)
{
    if (!t) return;
    free(t->sxx);
    free(t->syx);
    free(t->target);
    free(t->target2);
    free(t->syx2);
    free(t->U);
    free(t->s);
    free(t->V);
    free(t->obs_r);
    free(t->obs_c);
    memset(t, 0, sizeof *t);
}

int task_load_matrix(const char *path, const char *what, int *rows, int *cols, double **data)
{
    int rc = npy_load_matrix(path, what, rows, cols, data);
    if (rc) { /* keep the message on one line (a bad token may carry the line's newline) */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", util_errmsg());
        for (char *p = msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
        util_seterr(rc, "%s", msg);
    }
    return rc;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static void random_orth_cols(gsl_rng *rng, int n, int k, double *A) /* (n x k), orthonormal columns */
{
    int m = n > k ? n : k;
    double *Q = util_malloc((size_t)m * m * sizeof *Q);
    linalg_random_orthogonal(rng, m, Q);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            A[i * k + j] = Q[i * m + j];
    free(Q);
}

/* T (n_out x n_in) = U diag(sv) V^T with Haar-random U, V; sv padded with zeros. */
static void random_lowrank(gsl_rng *rng, int n_out, int n_in, const double *sv, int nsv, double *T)
{
    int r = n_out < n_in ? n_out : n_in;
    double *U = util_malloc((size_t)n_out * r * sizeof *U), *V = util_malloc((size_t)n_in * r * sizeof *V);
    random_orth_cols(rng, n_out, r, U);
    random_orth_cols(rng, n_in, r, V);
    memset(T, 0, (size_t)n_out * n_in * sizeof *T);
    for (int a = 0; a < r && a < nsv; a++)
        for (int i = 0; i < n_out; i++)
            for (int j = 0; j < n_in; j++)
                T[i * n_in + j] += sv[a] * U[i * r + a] * V[j * r + a];
    free(U);
    free(V);
}

/* M* = A B^T / sqrt(r), rescaled to mean squared entry 1. */
static void random_completion_target(gsl_rng *rng, int nr, int nc, int r, double *M)
{
    double *A = util_malloc((size_t)nr * r * sizeof *A), *B = util_malloc((size_t)nc * r * sizeof *B);
    for (int i = 0; i < nr * r; i++)
        A[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    for (int i = 0; i < nc * r; i++)
        B[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    linalg_gemm(0, 1, nr, nc, r, 1.0 / sqrt((double)r), A, B, 0.0, M);
    double ss = 0;
    for (int i = 0; i < nr * nc; i++)
        ss += M[i] * M[i];
    double f = sqrt((double)nr * nc / ss);
    for (int i = 0; i < nr * nc; i++)
        M[i] *= f;
    free(A);
    free(B);
}

/* Pseudo-inverse of the symmetric (n x n) S via its SVD; singular values below 1e-12 * s_max dropped. */
static int pinv_sym(int n, const double *S, double *P)
{
    double *U = util_malloc((size_t)n * n * sizeof *U), *V = util_malloc((size_t)n * n * sizeof *V);
    double *s = util_malloc((size_t)n * sizeof *s);
    int rc = linalg_svd(n, n, S, U, s, V);
    if (rc == CS_OK) {
        memset(P, 0, (size_t)n * n * sizeof *P);
        for (int a = 0; a < n; a++) {
            if (!(s[a] > 1e-12 * s[0])) continue;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    P[i * n + j] += V[i * n + a] * U[j * n + a] / s[a];
        }
    }
    free(U);
    free(V);
    free(s);
    return rc;
}

static int load_exact(const char *path, const char *what, int want_r, int want_c, const char *dims_from,
                      double **out)
{
    int r, c;
    double *d = NULL;
    int rc = task_load_matrix(path, what, &r, &c, &d);
    if (rc) return rc;
    if ((want_r >= 0 && r != want_r) || (want_c >= 0 && c != want_c)) {
        free(d);
        return util_seterr(CS_EUSAGE,
                           "%s: '%s' is %d x %d but %s needs %d x %d; fix the file or the dimensions", what,
                           path, r, c, dims_from, want_r >= 0 ? want_r : r, want_c >= 0 ? want_c : c);
    }
    for (long i = 0; i < (long)r * c; i++)
        if (!isfinite(d[i])) {
            free(d);
            return util_seterr(CS_EUSAGE, "%s: '%s' holds a non-finite value at row %ld column %ld", what,
                               path, i / c, i % c);
        }
    *out = d;
    return CS_OK;
}

static int load_observed(const char *path, int nr, int nc, task *t)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return util_seterr(CS_EUSAGE,
                           "task_cfg.observed_file: cannot open '%s'; give a file of 'row col' lines", path);
    int cap = 1024, n = 0, line = 0;
    int *r = util_malloc((size_t)cap * sizeof *r), *c = util_malloc((size_t)cap * sizeof *c);
    char buf[512];
    int rc = CS_OK;
    while (fgets(buf, sizeof buf, f)) {
        line++;
        char *p = buf;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == 0) continue;
        long a, b;
        char *e1, *e2;
        a = strtol(p, &e1, 10);
        b = strtol(e1, &e2, 10);
        int two = e1 != p && e2 != e1; /* checked before the trailing blanks: "3\n" is one column */
        while (*e2 == ' ' || *e2 == '\t' || *e2 == '\r' || *e2 == '\n')
            e2++;
        if (!two || *e2) {
            rc = util_seterr(CS_EUSAGE,
                             "task_cfg.observed_file: '%s' line %d is not 'row col' (two 0-based integers)",
                             path, line);
            break;
        }
        if (a < 0 || a >= nr || b < 0 || b >= nc) {
            rc = util_seterr(
                CS_EUSAGE,
                "task_cfg.observed_file: '%s' line %d: entry (%ld, %ld) is outside the %d x %d target", path,
                line, a, b, nr, nc);
            break;
        }
        if (n == cap) {
            cap *= 2;
            int *r2 = util_malloc((size_t)cap * sizeof *r2), *c2 = util_malloc((size_t)cap * sizeof *c2);
            memcpy(r2, r, (size_t)n * sizeof *r);
            memcpy(c2, c, (size_t)n * sizeof *c);
            free(r);
            free(c);
            r = r2;
            c = c2;
        }
        r[n] = (int)a;
        c[n] = (int)b;
        n++;
    }
    fclose(f);
    if (rc == CS_OK && n == 0)
        rc = util_seterr(CS_EUSAGE, "task_cfg.observed_file: '%s' lists no entries", path);
    if (rc == CS_OK) { /* duplicates would silently weight an entry twice */
        char *seen = util_calloc((size_t)nr * nc, 1);
        for (int i = 0; i < n && rc == CS_OK; i++) {
            if (seen[(size_t)r[i] * nc + c[i]])
                rc = util_seterr(CS_EUSAGE, "task_cfg.observed_file: '%s' lists entry (%d, %d) twice", path,
                                 r[i], c[i]);
            seen[(size_t)r[i] * nc + c[i]] = 1;
        }
        free(seen);
    }
    if (rc) {
        free(r);
        free(c);
        return rc;
    }
    t->n_obs = n;
    t->obs_r = r;
    t->obs_c = c;
    return CS_OK;
}

static int set_sources(const task_cfg *c, task *t)
{
    int ns = c->n_src > 0 ? c->n_src : 1;
    if (ns > TASK_MAX_SRC)
        return util_seterr(CS_EUSAGE, "at most %d sources are supported (got %d)", TASK_MAX_SRC, ns);
    if (c->src_dims) {
        int tot = 0;
        for (int p = 0; p < ns; p++) {
            if (c->src_dims[p] < 1)
                return util_seterr(CS_EUSAGE, "task_cfg.src_dims: every source needs at least 1 input");
            tot += c->src_dims[p];
        }
        if (tot != t->n_in)
            return util_seterr(CS_EUSAGE,
                               "task_cfg.src_dims add up to %d but the task has %d inputs; make them add up",
                               tot, t->n_in);
        for (int p = 0; p < ns; p++)
            t->src_dim[p] = c->src_dims[p];
    } else {
        if (ns > t->n_in)
            return util_seterr(CS_EUSAGE,
                               "%d sources cannot split %d inputs; use fewer sources or task_cfg.src_dims",
                               ns, t->n_in);
        for (int p = 0; p < ns; p++)
            t->src_dim[p] = t->n_in / ns + (p < t->n_in % ns);
    }
    t->n_src = ns;
    int off = 0;
    for (int p = 0; p < ns; p++) {
        t->src_off[p] = off;
        off += t->src_dim[p];
    }
    return CS_OK;
}

/* latent task: x = B zeta + eps, y = Cy zeta (see task.h). */
static int build_latent(const task_cfg *c, gsl_rng *rng, task *t)
{
    int k = c->latent_dim, P = c->n_src > 0 ? c->n_src : 2;
    if (k < 1) return util_seterr(CS_EUSAGE, "task_cfg.latent_dim must be >= 1");
    if (!(c->redundancy >= 0 && c->redundancy <= 1))
        return util_seterr(CS_EUSAGE, "task_cfg.redundancy must lie in [0, 1]");
    if (!(c->synergy >= 0 && c->synergy <= 1))
        return util_seterr(CS_EUSAGE, "task_cfg.synergy must lie in [0, 1]");
    if (P > TASK_MAX_SRC) return util_seterr(CS_EUSAGE, "at most %d sources", TASK_MAX_SRC);
    if (c->n_noise > 1 && c->n_noise != P)
        return util_seterr(CS_EUSAGE,
                           "task_cfg.noise_var gives %d values for %d sources; give one or one per source",
                           c->n_noise, P);
    int dims[TASK_MAX_SRC], nin = 0;
    for (int p = 0; p < P; p++) {
        dims[p] = c->src_dims ? c->src_dims[p] : k;
        if (dims[p] < 1)
            return util_seterr(CS_EUSAGE, "task_cfg.src_dims: every source needs at least 1 input");
        nin += dims[p];
    }
    int nout = c->n_out > 0 ? c->n_out : k;
    int L = k * (P + 3); /* zeta = [z_s, z_1..z_P, n, u] */
    double rho = c->redundancy, g = c->synergy;
    double *B = util_calloc((size_t)nin * L, sizeof *B), *Cy = util_calloc((size_t)nout * L, sizeof *Cy);
    double *A = util_malloc((size_t)(nin > nout ? nin : nout) * k * sizeof *A);
    int off = 0;
    for (int p = 0; p < P; p++) {
        int d = dims[p];
        random_orth_cols(rng, d, k < d ? k : d, A); /* d x min(k, d) */
        int kk = k < d ? k : d;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < kk; j++) {
                double a = A[i * kk + j];
                double *row = B + (size_t)(off + i) * L;
                row[0 * k + j] += a * sqrt(1 - g) * sqrt(rho);
                row[(1 + p) * k + j] += a * sqrt(1 - g) * sqrt(1 - rho);
                row[(P + 1) * k + j] += a * sqrt(g);
                if (p == P - 1) row[(P + 2) * k + j] += a * sqrt(g);
            }
        off += d;
    }
    random_orth_cols(rng, nout, k < nout ? k : nout, A);
    int kc = k < nout ? k : nout;
    for (int i = 0; i < nout; i++)
        for (int j = 0; j < kc; j++) {
            double a = A[i * kc + j];
            double *row = Cy + (size_t)i * L;
            row[0 * k + j] += a * sqrt(1 - g) * sqrt(rho);
            for (int p = 0; p < P; p++)
                row[(1 + p) * k + j] += a * sqrt(1 - g) * sqrt(1 - rho) / sqrt((double)P);
            row[(P + 2) * k + j] += a * sqrt(g);
        }
    t->n_in = nin;
    t->n_out = nout;
    t->n_items = 1;
    t->sxx = util_malloc((size_t)nin * nin * sizeof *t->sxx);
    t->syx = util_malloc((size_t)nout * nin * sizeof *t->syx);
    linalg_gemm(0, 1, nin, nin, L, 1.0, B, B, 0.0, t->sxx);
    linalg_gemm(0, 1, nout, nin, L, 1.0, Cy, B, 0.0, t->syx);
    off = 0;
    for (int p = 0; p < P; p++) {
        double v = c->n_noise == 0 ? 0 : c->noise_var[c->n_noise == 1 ? 0 : p];
        if (!(v >= 0)) {
            free(A);
            free(B);
            free(Cy);
            return util_seterr(CS_EUSAGE, "task_cfg.noise_var must be >= 0");
        }
        for (int i = 0; i < dims[p]; i++)
            t->sxx[(size_t)(off + i) * nin + off + i] += v;
        off += dims[p];
    }
    double tr = 0;
    for (long i = 0; i < (long)nout * L; i++)
        tr += Cy[i] * Cy[i];
    t->tr_syy = tr;
    free(A);
    free(B);
    free(Cy);
    task_cfg c2 = *c;
    c2.n_src = P;
    int dd[TASK_MAX_SRC];
    for (int p = 0; p < P; p++)
        dd[p] = dims[p];
    c2.src_dims = dd;
    return set_sources(&c2, t);
}

/* ---- build ----------------------------------------------------------------------------------- */

/* task_build's steps.  Each fills t and returns CS_OK or the error; task_build frees t on failure. */

/* completion: the target (file or random of rank rank1), the observed entries (file or m distinct
 * random positions), the second target, one source */
static int build_completion(const task_cfg *c, gsl_rng *rng, task *t)
{
    int rc = CS_OK;
    int nr = c->n, nc = c->n;
    if (c->target_file) {
        int r, cc;
        double *d;
        rc = task_load_matrix(c->target_file, "task_cfg.target_file", &r, &cc, &d);
        if (rc) return rc;
        free(d);
        nr = r;
        nc = cc;
        rc = load_exact(c->target_file, "task_cfg.target_file", nr, nc, "the task", &t->target);
        if (rc) return rc;
    } else {
        if (c->n < 1) {
            return util_seterr(CS_EUSAGE, "task_cfg.n must be >= 1 for matrix completion");
        }
        if (c->rank1 < 1 || c->rank1 > c->n) {
            return util_seterr(CS_EUSAGE, "task_cfg.rank1 %d must lie in [1, task_cfg.n = %d]", c->rank1,
                               c->n);
        }
        t->target = util_malloc((size_t)nr * nc * sizeof *t->target);
        random_completion_target(rng, nr, nc, c->rank1, t->target);
    }
    t->n_out = nr;
    t->n_in = nc;
    t->n_items = 1;
    if (c->observed_file) {
        rc = load_observed(c->observed_file, nr, nc, t);
        if (rc) return rc;
    } else {
        long N = (long)nr * nc;
        if (c->n_obs < 1 || c->n_obs > N) {
            return util_seterr(CS_EUSAGE, "task_cfg.n_obs %d must lie in [1, %ld] (rows x cols)", c->n_obs,
                               N);
        }
        int *perm = util_malloc((size_t)N * sizeof *perm);
        for (long i = 0; i < N; i++)
            perm[i] = (int)i;
        t->n_obs = c->n_obs;
        t->obs_r = util_malloc((size_t)c->n_obs * sizeof(int));
        t->obs_c = util_malloc((size_t)c->n_obs * sizeof(int));
        for (int i = 0; i < c->n_obs; i++) { /* partial Fisher-Yates: m distinct positions in draw order */
            long j = i + (long)gsl_rng_uniform_int(rng, (unsigned long)(N - i));
            int tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
            t->obs_r[i] = perm[i] / nc;
            t->obs_c[i] = perm[i] % nc;
        }
        free(perm);
    }
    if (c->target2_file) {
        rc = load_exact(c->target2_file, "task_cfg.target2_file", nr, nc,
                        "task_cfg.target_file (first target)", &t->target2);
        if (rc) return rc;
    } else if (c->need_target2) {
        if (c->rank2 < 1 || c->rank2 > (nr < nc ? nr : nc)) {
            return util_seterr(CS_EUSAGE, "task_cfg.rank2 %d must lie in [1, %d]", c->rank2,
                               nr < nc ? nr : nc);
        }
        t->target2 = util_malloc((size_t)nr * nc * sizeof *t->target2);
        random_completion_target(rng, nr, nc, c->rank2, t->target2);
    }
    task_cfg c1 = *c;
    c1.n_src = 1;
    c1.src_dims = NULL;
    rc = set_sources(&c1, t);
    if (rc) return rc;
    return CS_OK;
}

/* the statistics from files: Syx (out x in) and a symmetric Sxx (in x in) */
static int build_files(const task_cfg *c, task *t)
{
    int rc = CS_OK;
    if (!c->sxx_file || !c->syx_file) {
        return util_seterr(CS_EUSAGE, "task_cfg.sxx_file and task_cfg.syx_file must be given together");
    }
    int r, cc;
    rc = task_load_matrix(c->syx_file, "task_cfg.syx_file", &r, &cc, &t->syx);
    if (rc) return rc;
    t->n_out = r;
    t->n_in = cc;
    rc =
        load_exact(c->sxx_file, "task_cfg.sxx_file", cc, cc, "task_cfg.syx_file (its column count)", &t->sxx);
    if (rc) return rc;
    for (int i = 0; i < cc; i++)
        for (int j = 0; j < i; j++)
            if (fabs(t->sxx[i * cc + j] - t->sxx[j * cc + i]) > 1e-12 * (1 + fabs(t->sxx[i * cc + j]))) {
                return util_seterr(
                    CS_EUSAGE,
                    "task_cfg.sxx_file: '%s' is not symmetric (entries (%d,%d) and (%d,%d) differ)",
                    c->sxx_file, i, j, j, i);
            }
    t->kind = TASK_FILE;
    t->n_items = 1;
    rc = set_sources(c, t);
    if (rc) return rc;
    return CS_OK;
}

/* one-hot items: hier, lowrank, or a target file; Sxx = I / n, Syx = T / n */
static int build_onehot(const task_cfg *c, gsl_rng *rng, task *t)
{
    int rc = CS_OK;
    if (c->target_file) {
        int r, cc;
        rc = task_load_matrix(c->target_file, "task_cfg.target_file", &r, &cc, &t->target);
        if (rc) return rc;
        t->n_out = r;
        t->n_in = cc;
    } else if (c->kind == TASK_HIER) {
        t->n_out = 15;
        t->n_in = 8;
        t->target = util_malloc(15 * 8 * sizeof *t->target);
        task_hier_yt(t->target);
    } else {
        if (c->n_out < 1 || c->n_in < 1) {
            return util_seterr(CS_EUSAGE, "task_cfg.n_out and task_cfg.n_in must be >= 1");
        }
        int r = c->n_out < c->n_in ? c->n_out : c->n_in;
        if (c->n_sv < 1 || c->n_sv > r) {
            return util_seterr(CS_EUSAGE,
                               "task_cfg.sv gives %d singular values; a %d x %d lowrank target takes 1 to %d",
                               c->n_sv, c->n_out, c->n_in, r);
        }
        t->n_out = c->n_out;
        t->n_in = c->n_in;
        t->target = util_malloc((size_t)t->n_out * t->n_in * sizeof *t->target);
        random_lowrank(rng, t->n_out, t->n_in, c->sv, c->n_sv, t->target);
    }
    int ni = t->n_in, no = t->n_out;
    t->n_items = ni;
    t->onehot = 1;
    t->sxx = util_calloc((size_t)ni * ni, sizeof *t->sxx);
    for (int i = 0; i < ni; i++)
        t->sxx[i * ni + i] = 1.0 / ni;
    t->syx = util_malloc((size_t)no * ni * sizeof *t->syx);
    for (int i = 0; i < no * ni; i++)
        t->syx[i] = t->target[i] / ni;
    rc = set_sources(c, t);
    if (rc) return rc;
    return CS_OK;
}

/* item tasks: the target T = Syx Sxx^+ when only moments were given, tr Syy, the second target */
static int item_targets(const task_cfg *c, gsl_rng *rng, task *t)
{
    int rc = CS_OK;
    int ni = t->n_in, no = t->n_out;
    if (!t->target) { /* T = Syx Sxx^+ */
        double *P = util_malloc((size_t)ni * ni * sizeof *P);
        rc = pinv_sym(ni, t->sxx, P);
        if (rc) {
            free(P);
            return rc;
        }
        t->target = util_malloc((size_t)no * ni * sizeof *t->target);
        linalg_gemm(0, 0, no, ni, ni, 1.0, t->syx, P, 0.0, t->target);
        free(P);
    }
    if (t->kind != TASK_LATENT) {
        double tr = 0;
        for (int i = 0; i < no * ni; i++)
            tr += t->target[i] * t->syx[i];
        t->tr_syy = tr;
    }
    if (c->target2_file || c->need_target2) {
        if (c->target2_file) {
            rc = load_exact(c->target2_file, "task_cfg.target2_file", no, ni, "the task's target",
                            &t->target2);
            if (rc) return rc;
        } else {
            /* a second target with the same singular values and new random singular vectors */
            int r = no < ni ? no : ni;
            double *s = util_malloc((size_t)r * sizeof *s);
            rc = linalg_svd(no, ni, t->target, NULL, s, NULL);
            if (rc) {
                free(s);
                return rc;
            }
            t->target2 = util_malloc((size_t)no * ni * sizeof *t->target2);
            random_lowrank(rng, no, ni, s, r, t->target2);
            free(s);
        }
        t->syx2 = util_malloc((size_t)no * ni * sizeof *t->syx2);
        linalg_gemm(0, 0, no, ni, ni, 1.0, t->target2, t->sxx, 0.0, t->syx2);
        double tr = 0;
        for (int i = 0; i < no * ni; i++)
            tr += t->target2[i] * t->syx2[i];
        t->tr_syy2 = tr;
    }
    return CS_OK;
}

int task_build(const task_cfg *c, task *t)
{
    memset(t, 0, sizeof *t);
    t->kind = c->kind;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, c->seed);
    int rc;
    if (c->kind == TASK_COMPLETION)
        rc = build_completion(c, rng, t);
    else if (c->sxx_file || c->syx_file)
        rc = build_files(c, t);
    else if (c->kind == TASK_LATENT)
        rc = build_latent(c, rng, t);
    else
        rc = build_onehot(c, rng, t);
    if (rc == CS_OK && c->kind != TASK_COMPLETION) rc = item_targets(c, rng, t);
    if (rc == CS_OK) {
        t->rank = t->n_out < t->n_in ? t->n_out : t->n_in;
        t->U = util_malloc((size_t)t->n_out * t->rank * sizeof *t->U);
        t->V = util_malloc((size_t)t->n_in * t->rank * sizeof *t->V);
        t->s = util_malloc((size_t)t->rank * sizeof *t->s);
        rc = linalg_svd(t->n_out, t->n_in, t->target, t->U, t->s, t->V);
    }
    gsl_rng_free(rng);
    if (rc != CS_OK) {
        task_free(t);
        return rc;
    }
    return CS_OK;
}
