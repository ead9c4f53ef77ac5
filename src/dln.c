/* dln.c - deep linear networks on full weight matrices: allocation, deficits, the step and the flow.
 *
 * Purpose and mathematics: see include/dln.h (model, loss, gradient, deficits, integrators; non-goals).
 * The engine lives in four files that share the private layout and internal functions of
 * src/dln_impl.h:
 *   dln.c             allocation (one block theta holds every weight, one scratch block every
 *                     intermediate: prefix products P_l = W_l ... W_1 per chain, suffix products
 *                     S_l = W_D ... W_{l+1}, end-to-end maps, residuals, so dln_grad and the ODE
 *                     right-hand side allocate nothing), initialisation, deficits (dln_set_step turns
 *                     the active set into effective statistics once per change), the team of threads,
 *                     dln_grad and the GD step (dispatch to the files below), the gradient flow (GSL
 *                     odeiv2, right-hand side -dln_grad);
 *   dln_item.c        item tasks: the chains' forward maps, the loss and gradient dL/dW_l =
 *                     S_l^T G P_{l-1}^T, the fused step of linear chains (the backward runs down the
 *                     layers with H_{l-1} = W_l^T H_l and updates each weight matrix in the same pass),
 *                     the step of 2+ pathways on the team, and the readouts from the maps (dln_maps,
 *                     dln_modes, test losses, sampled source variances);
 *   dln_completion.c  matrix completion: G applied sparsely (row updates over observed entries), one
 *                     chain's gradient split over the team in disjoint rows (a trajectory independent of
 *                     the number of threads), the float32 step;
 *   dln_kernels.c     the dense kernels: the small AVX-512 product, the fused step's fx_* kernels (fixed
 *                     fma chains: the same bits with or without AVX-512), the activations.
 * dln_access.c holds the accessors of the opaque struct.
 */
#include "dln_impl.h"

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_odeiv2.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "linalg.h"
#include "util.h"

double *dln_weight(const dln *d, const double *theta, int p, int l) /* l = 1..D */
{
    return (double *)theta + d->w_off[(size_t)p * d->depth + l - 1];
}
int dln_rows(const dln *d, int l)
{
    return l == d->depth ? d->n_out : d->width;
}
int dln_cols(const dln *d, int p, int l)
{
    return l == 1 ? d->in_dim[p] : d->width;
}

/* ---- a team of threads for one gradient (completion with one chain; the item step of 2+ pathways) */
/* The calling thread is member 0; members 1..n-1 are persistent workers.  A job is one function run
 * by every member with its index; members meet at dln_team_barrier() (sense-reversing, spinning, since
 * the phases between barriers last microseconds).  An idle worker spins a while, then sleeps on a
 * condition variable.  Every member writes disjoint rows, so results do not depend on the number of
 * threads (the loss is summed per row, then over rows in order by member 0). */
struct dln_team {
    int n;
    pthread_t th[DLN_TEAM_MAX];
    atomic_int gen, done, quit, sleeping, count, sense;
    int lsense[DLN_TEAM_MAX];
    void (*job)(dln *d, int tid);
    dln *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

void dln_team_barrier(dln_team *tm, int tid)
{
    if (!tm || tm->n < 2) return;
    int ls = tm->lsense[tid] = !tm->lsense[tid];
    if (atomic_fetch_add(&tm->count, 1) == tm->n - 1) {
        atomic_store(&tm->count, 0);
        atomic_store(&tm->sense, ls);
    } else
        for (long spin = 0; atomic_load(&tm->sense) != ls; spin++)
            if (spin > 1000000) sched_yield(); /* ~1 ms: the member we wait for lost its core */
}

typedef struct {
    dln_team *tm;
    int tid;
} team_arg;

static void *team_worker(void *arg)
{
    team_arg a = *(team_arg *)arg;
    free(arg);
    dln_team *tm = a.tm;
    int seen = 0;
    for (;;) {
        int g = atomic_load(&tm->gen);
        for (long spin = 0; g == seen && !atomic_load(&tm->quit) && spin < 2000000; spin++)
            g = atomic_load(&tm->gen);
        if (g == seen && !atomic_load(&tm->quit)) {
            pthread_mutex_lock(&tm->mu);
            atomic_fetch_add(&tm->sleeping, 1);
            while ((g = atomic_load(&tm->gen)) == seen && !atomic_load(&tm->quit))
                pthread_cond_wait(&tm->cv, &tm->mu);
            atomic_fetch_sub(&tm->sleeping, 1);
            pthread_mutex_unlock(&tm->mu);
        }
        if (atomic_load(&tm->quit)) break;
        seen = g;
        tm->job(tm->d, a.tid);
        atomic_fetch_add(&tm->done, 1);
    }
    return NULL;
}

int dln_team_size(const dln_team *tm)
{
    return tm ? tm->n : 1;
}

/* Run job on every member; returns when all have finished. */
void dln_team_run(dln_team *tm, dln *d, void (*job)(dln *, int))
{
    tm->job = job;
    tm->d = d;
    atomic_store(&tm->done, 0);
    atomic_fetch_add(&tm->gen, 1);
    if (atomic_load(&tm->sleeping)) {
        pthread_mutex_lock(&tm->mu);
        pthread_cond_broadcast(&tm->cv);
        pthread_mutex_unlock(&tm->mu);
    }
    job(d, 0);
    for (long spin = 0; atomic_load(&tm->done) != tm->n - 1; spin++)
        if (spin > 1000000) sched_yield();
}

static void team_free(dln_team *tm)
{
    if (!tm) return;
    atomic_store(&tm->quit, 1);
    pthread_mutex_lock(&tm->mu);
    pthread_cond_broadcast(&tm->cv);
    pthread_mutex_unlock(&tm->mu);
    for (int i = 1; i < tm->n; i++)
        pthread_join(tm->th[i], NULL);
    pthread_mutex_destroy(&tm->mu);
    pthread_cond_destroy(&tm->cv);
    free(tm);
}

int dln_set_threads(dln *d, int n)
{
    if (n < 1 || n > DLN_TEAM_MAX)
        return util_seterr(CS_EUSAGE, "dln_set_threads.n %d: give 1 to %d", n, DLN_TEAM_MAX);
    team_free(d->team);
    d->team = NULL;
    if (n == 1) return CS_OK;
    dln_team *tm = util_calloc(1, sizeof *tm);
    tm->n = n;
    pthread_mutex_init(&tm->mu, NULL);
    pthread_cond_init(&tm->cv, NULL);
    for (int i = 1; i < n; i++) {
        team_arg *a = util_malloc(sizeof *a);
        a->tm = tm;
        a->tid = i;
        if (pthread_create(&tm->th[i], NULL, team_worker, a)) {
            free(a);
            tm->n = i; /* join the ones started */
            team_free(tm);
            return util_seterr(CS_EFAIL, "could not start %d threads; try dln_set_threads.n 1", n);
        }
    }
    d->team = tm;
    return CS_OK;
}

void dln_forget_threads(dln *d)
{
    d->team = NULL; /* after fork: the workers exist only in the parent (the block is left to it) */
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

/* The number of chains cfg builds (arch fused: one). */
static int alloc_n_chain(const dln_cfg *cfg)
{
    return cfg->arch == DLN_FUSED ? 1 : cfg->n_chain;
}

/* Pathways that each read the whole input: arch paths with shared_input, on completion or on a task of
 * one source. */
static int alloc_shared_input(const dln_cfg *cfg, const task *t)
{
    return cfg->arch == DLN_PATHS && (cfg->shared_input || t->kind == TASK_COMPLETION || t->n_src == 1);
}

/* Refuse what the engine cannot build from cfg on task t: CS_OK, or CS_EUSAGE with a message. */
static int alloc_check(const dln_cfg *cfg, const task *t)
{
    if (cfg->depth < 1)
        return util_seterr(CS_EUSAGE, "dln_cfg.depth must be >= 1 (number of weight matrices)");
    if (cfg->depth > 1 && cfg->width < 1) return util_seterr(CS_EUSAGE, "dln_cfg.width must be >= 1");
    int completion = t->kind == TASK_COMPLETION;
    if (cfg->act != DLN_ACT_LINEAR && !t->onehot)
        return util_seterr(
            CS_EUSAGE,
            "dln_cfg.act %s needs input samples, which the %s task does not have (%s); use task_cfg.kind "
            "hier|lowrank or task_cfg.target_file FILE (one-hot items), or dln_cfg.act linear",
            dln_act_name(cfg->act),
            t->kind == TASK_FILE ? "task_cfg.sxx_file/task_cfg.syx_file" : task_kind_name(t->kind),
            completion ? "a matrix of observed entries" : "it is given by its moments only");
    if (cfg->single && !completion)
        return util_seterr(CS_EUSAGE, "float32 weights (dln_cfg.single) are implemented for "
                                      "task_cfg.kind completion only; use double precision");
    int nc = alloc_n_chain(cfg);
    if (nc < 1 || nc > DLN_MAX_CHAIN)
        return util_seterr(CS_EUSAGE, "dln_cfg.n_chain must lie in [1, %d]", DLN_MAX_CHAIN);
    if (cfg->arch == DLN_PATHS && !alloc_shared_input(cfg, t) && nc != t->n_src)
        return util_seterr(
            CS_EUSAGE,
            "dln_cfg.arch paths reads one source per pathway: %d pathways but the task has %d sources; "
            "set task_cfg.n_src %d, or use dln_cfg.shared_input",
            nc, t->n_src, nc);
    return CS_OK;
}

/* The dimensions, the loss constant and each chain's input columns (a source, or the whole input). */
static void alloc_dims(dln *d, const dln_cfg *cfg, const task *t)
{
    int completion = t->kind == TASK_COMPLETION, nc = alloc_n_chain(cfg), shared = alloc_shared_input(cfg, t);
    d->cfg = *cfg;
    d->task = t;
    d->n_chain = nc;
    d->depth = cfg->depth;
    d->width = cfg->depth > 1 ? cfg->width : 0;
    d->n_out = t->n_out;
    d->n_in = t->n_in;
    d->completion = completion;
    d->loss_c = (!completion && cfg->loss == DLN_LOSS_SUM) ? t->n_items : 1.0;
    for (int p = 0; p < nc; p++) {
        if (cfg->arch == DLN_FUSED || shared) {
            d->in_off[p] = 0;
            d->in_dim[p] = t->n_in;
        } else {
            d->in_off[p] = t->src_off[p];
            d->in_dim[p] = t->src_dim[p];
        }
    }
}

/* The weights' places in theta, chain after chain and layer after layer (W^p_l at w_off[p * D + l - 1],
 * chain p in [chain_off[p], chain_off[p + 1])), and the blocks theta and grad, zeroed. */
static void alloc_weights(dln *d)
{
    int nc = d->n_chain, D = d->depth;
    d->w_off = util_malloc((size_t)nc * D * sizeof *d->w_off);
    size_t off = 0;
    for (int p = 0; p < nc; p++) {
        d->chain_off[p] = off;
        for (int l = 1; l <= D; l++) {
            d->w_off[(size_t)p * D + l - 1] = off;
            off += (size_t)dln_rows(d, l) * dln_cols(d, p, l);
        }
    }
    d->chain_off[nc] = off;
    d->n_param = off;
    d->theta = util_calloc(off, sizeof *d->theta);
    d->grad = util_calloc(off, sizeof *d->grad);
}

/* Doubles in the scratch block: what alloc_scratch carves from it. */
static size_t scratch_size(const dln *d)
{
    int nc = d->n_chain, D = d->depth, no = d->n_out, ni = d->n_in, w = d->width;
    int mx = no > ni ? no : ni, mwo = w > no ? w : no;
    if (w > mx) mx = w;
    size_t need = 0;
    for (int p = 0; p < nc; p++)
        need += (size_t)(D - 1) * w * d->in_dim[p] + (size_t)no * d->in_dim[p];
    need += (size_t)(D - 1) * no * w;     /* suffix */
    need += 4 * (size_t)no * ni;          /* omega_tot, E, C, Gp */
    need += (size_t)(w > 0 ? w : 1) * ni; /* A */
    if (d->completion) need += (size_t)d->task->n_obs + (size_t)(w > 0 ? w : 1) * ni;
    need += (size_t)mx;
    if (!d->completion) need += 2 * (size_t)ni * ni + (size_t)no * ni; /* sxx_eff, syx_eff */
    if (d->cfg.act != DLN_ACT_LINEAR) need += 2 * (size_t)mwo * ni;    /* nl_x, nl_y */
    return need;
}

/* The next n doubles of the scratch block at *s. */
static double *carve(double **s, size_t n)
{
    double *p = *s;
    *s += n;
    return p;
}

/* The scratch block and its parts, in this order: per chain the prefixes P_l (l = 1..D-1) and Omega_p;
 * the suffixes S_l; Omega_tot, E, C, Gp; A; completion: the residuals and A2; vec; item tasks: the
 * effective statistics; nonlinear chains: their backward buffers. */
static void alloc_scratch(dln *d)
{
    int nc = d->n_chain, D = d->depth, no = d->n_out, ni = d->n_in, w = d->width;
    int mx = no > ni ? no : ni, mwo = w > no ? w : no;
    if (w > mx) mx = w;
    size_t need = scratch_size(d);
    d->scratch = util_calloc(need, sizeof(double));
    double *s = d->scratch;
    d->prefix = util_calloc((size_t)nc * D, sizeof *d->prefix);
    d->suffix = util_calloc((size_t)D, sizeof *d->suffix);
    for (int p = 0; p < nc; p++) {
        for (int l = 1; l < D; l++)
            d->prefix[(size_t)p * D + l] = carve(&s, (size_t)w * d->in_dim[p]);
        d->omega[p] = carve(&s, (size_t)no * d->in_dim[p]);
    }
    for (int l = 1; l < D; l++)
        d->suffix[l] = carve(&s, (size_t)no * w);
    d->omega_tot = carve(&s, (size_t)no * ni);
    d->E = carve(&s, (size_t)no * ni);
    d->C = carve(&s, (size_t)no * ni);
    d->Gp = carve(&s, (size_t)no * ni);
    d->A = carve(&s, (size_t)(w > 0 ? w : 1) * ni);
    if (d->completion) {
        d->resid = carve(&s, (size_t)d->task->n_obs);
        d->A2 = carve(&s, (size_t)(w > 0 ? w : 1) * ni);
    }
    d->vec = carve(&s, (size_t)mx);
    if (!d->completion) {
        d->sxx_eff = carve(&s, (size_t)ni * ni);
        d->syx_eff = carve(&s, (size_t)no * ni);
        carve(&s, (size_t)ni * ni); /* a further n_in x n_in, counted in scratch_size and unused */
    }
    if (d->cfg.act != DLN_ACT_LINEAR) {
        d->nl_x = carve(&s, (size_t)mwo * ni);
        d->nl_y = carve(&s, (size_t)mwo * ni);
    }
    CS_ASSERT((size_t)(s - d->scratch) <= need);
}

/* Completion: the observed entries grouped by row (row_ptr, row_k, row_c) and by column (col_ptr, col_k,
 * col_r), each group in the order of the entries (a stable counting sort). */
static void alloc_obs_index(dln *d)
{
    const task *t = d->task;
    int no = d->n_out, ni = d->n_in, m = t->n_obs;
    d->row_ptr = util_calloc((size_t)no + 1, sizeof(int));
    d->col_ptr = util_calloc((size_t)ni + 1, sizeof(int));
    d->row_k = util_malloc((size_t)m * sizeof(int));
    d->row_c = util_malloc((size_t)m * sizeof(int));
    d->col_k = util_malloc((size_t)m * sizeof(int));
    d->col_r = util_malloc((size_t)m * sizeof(int));
    for (int k = 0; k < m; k++) {
        d->row_ptr[t->obs_r[k] + 1]++;
        d->col_ptr[t->obs_c[k] + 1]++;
    }
    for (int i = 0; i < no; i++)
        d->row_ptr[i + 1] += d->row_ptr[i];
    for (int j = 0; j < ni; j++)
        d->col_ptr[j + 1] += d->col_ptr[j];
    int *fr = util_malloc((size_t)(no > ni ? no : ni) * sizeof(int));
    memcpy(fr, d->row_ptr, (size_t)no * sizeof(int));
    for (int k = 0; k < m; k++) {
        int e = fr[t->obs_r[k]]++;
        d->row_k[e] = k;
        d->row_c[e] = t->obs_c[k];
    }
    memcpy(fr, d->col_ptr, (size_t)ni * sizeof(int));
    for (int k = 0; k < m; k++) {
        int e = fr[t->obs_c[k]]++;
        d->col_k[e] = k;
        d->col_r[e] = t->obs_r[k];
    }
    free(fr);
}

/* cfg.single: the float32 block of single_grad (dln_completion.c): thetaf, gradf (n_param); the
 * prefixes; Omega_tot and G (n_out x n_in); H, H2 (width x n_in). */
static void alloc_single(dln *d)
{
    int nc = d->n_chain, D = d->depth, no = d->n_out, ni = d->n_in, w = d->width;
    size_t nsp = 2 * d->n_param + (size_t)nc * (D > 1 ? D - 1 : 0) * w * ni + 2 * (size_t)no * ni +
                 2 * (size_t)(w > 0 ? w : 1) * ni;
    d->sp = util_calloc(nsp, sizeof(float));
}

int dln_alloc(const dln_cfg *cfg, const task *t, dln **out)
{
    *out = NULL;
    int rc = alloc_check(cfg, t);
    if (rc) return rc;
    dln *d = util_calloc(1, sizeof *d);
    alloc_dims(d, cfg, t);
    alloc_weights(d);
    alloc_scratch(d);
    if (d->completion) alloc_obs_index(d);
    if (cfg->single) alloc_single(d);
    d->defs.n = 0;
    d->active_mask = ~0ULL;
    d->flow_nmax = DLN_RELU_NMAX;
    dln_set_step(d, 0);
    *out = d;
    return CS_OK;
}

static void flow_free(dln *d);

void dln_free(dln *d)
{
    if (!d) return;
    team_free(d->team);
    flow_free(d);
    free(d->row_ptr);
    free(d->col_ptr);
    free(d->row_k);
    free(d->row_c);
    free(d->col_k);
    free(d->col_r);
    free(d->w_off);
    free(d->theta);
    free(d->grad);
    free(d->scratch);
    free(d->sp);
    free(d->fx);
    free(d->prefix);
    free(d->suffix);
    free(d);
}

/* ---- initialisation -------------------------------------------------------------------------- */

int dln_set_layer(dln *d, int p, int l, const double *w, int rows, int cols, const char *what)
{
    int r = dln_rows(d, l), c = dln_cols(d, p, l);
    if (rows != r || cols != c)
        return util_seterr(
            CS_EUSAGE,
            "%s: layer %d of pathway %c is %d x %d but the model needs %d x %d (out x in); check "
            "dln_cfg.depth/dln_cfg.width/the task or the file",
            what, l, 'a' + p, rows, cols, r, c);
    memcpy(dln_weight(d, d->theta, p, l), w, (size_t)r * c * sizeof *w);
    return CS_OK;
}

int dln_init(dln *d, dln_init_kind kind, double scale, double noise, const double *k0, int n_k, gsl_rng *rng)
{
    int D = d->depth;
    double a = pow(scale, 1.0 / D);
    if (kind == DLN_INIT_ALIGNED) {
        const task *t = d->task;
        for (int p = 0; p < d->n_chain; p++)
            if (d->in_dim[p] != d->n_in)
                return util_seterr(CS_EUSAGE,
                                   "dln_init.kind aligned needs every pathway to read the whole input: "
                                   "use dln_cfg.shared_input or dln_cfg.arch fused");
        int r = t->rank, kk = D > 1 && d->width < r ? d->width : r;
        if (n_k != 1 && n_k != r)
            return util_seterr(
                CS_EUSAGE, "dln_init.k0 gives %d values but the task has %d modes; give 1 or %d", n_k, r, r);
        double *R = NULL;
        if (D > 1) {
            R = util_malloc((size_t)d->width * d->width * sizeof *R);
            linalg_random_orthogonal(rng, d->width, R);
        }
        memset(d->theta, 0, d->n_param * sizeof *d->theta);
        int w = d->width, no = d->n_out, ni = d->n_in;
        for (int p = 0; p < d->n_chain; p++)
            for (int m = 0; m < kk; m++) {
                double K = k0[n_k == 1 ? 0 : m];
                double dm = pow(fabs(K), 1.0 / D), d1 = K < 0 ? -dm : dm;
                const double *u = t->U, *v = t->V;
                if (D == 1) {
                    double *W = dln_weight(d, d->theta, p, 1);
                    for (int i = 0; i < no; i++)
                        for (int j = 0; j < ni; j++)
                            W[i * ni + j] += K * u[i * r + m] * v[j * r + m];
                    continue;
                }
                double *W = dln_weight(d, d->theta, p, 1); /* R D V^T */
                for (int i = 0; i < w; i++)
                    for (int j = 0; j < ni; j++)
                        W[i * ni + j] += d1 * R[i * w + m] * v[j * r + m];
                for (int l = 2; l < D; l++) {
                    W = dln_weight(d, d->theta, p, l);
                    for (int i = 0; i < w; i++)
                        for (int j = 0; j < w; j++)
                            W[i * w + j] += dm * R[i * w + m] * R[j * w + m];
                }
                W = dln_weight(d, d->theta, p, D); /* U D R^T */
                for (int i = 0; i < no; i++)
                    for (int j = 0; j < w; j++)
                        W[i * w + j] += dm * u[i * r + m] * R[j * w + m];
            }
        free(R);
        return CS_OK;
    }
    for (int p = 0; p < d->n_chain; p++)
        for (int l = 1; l <= D; l++) {
            int rows = dln_rows(d, l), cols = dln_cols(d, p, l);
            double *W = dln_weight(d, d->theta, p, l);
            if (kind == DLN_INIT_GAUSS) {
                double sd = a / sqrt((double)cols);
                for (int i = 0; i < rows * cols; i++)
                    W[i] = gsl_ran_gaussian_ziggurat(rng, sd);
            } else if (kind == DLN_INIT_ORTHOGONAL) {
                int n = rows > cols ? rows : cols;
                double *Q = util_malloc((size_t)n * n * sizeof *Q);
                linalg_random_orthogonal(rng, n, Q);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++)
                        W[i * cols + j] = a * Q[i * n + j];
                free(Q);
            } else {
                memset(W, 0, (size_t)rows * cols * sizeof *W);
                for (int i = 0; i < rows && i < cols; i++)
                    W[i * cols + i] = a + (noise > 0 ? noise * gsl_ran_gaussian_ziggurat(rng, 1.0) : 0.0);
            }
        }
    return CS_OK;
}

/* ---- deficits -------------------------------------------------------------------------------- */

int dln_set_deficits(dln *d, const deficit_list *dl)
{
    const task *t = d->task;
    for (int i = 0; i < dl->n; i++) {
        const deficit *df = &dl->d[i];
        int idx;
        long m;
        double v;
        switch (df->kind) {
        case DEF_GATE:
            if (deficit_arg_source(df, 0, d->n_chain, &idx)) return CS_EUSAGE;
            break;
        case DEF_LESION:
            if (deficit_arg_source(df, 0, d->n_chain, &idx)) return CS_EUSAGE;
            if (df->nargs < 2)
                return util_seterr(CS_EUSAGE, "deficit '%s': lesion needs a mode, e.g. lesion:a:1@0-1000",
                                   df->text);
            if (deficit_arg_long(df, 1, 0, t->rank - 1, &m)) return CS_EUSAGE;
            if (d->completion)
                return util_seterr(CS_EUSAGE,
                                   "deficit '%s': lesion is not supported for task_cfg.kind completion",
                                   df->text);
            break;
        case DEF_REMOVE:
        case DEF_NOISE:
        case DEF_DECORRELATE:
            if (df->kind != DEF_REMOVE && d->cfg.act != DLN_ACT_LINEAR)
                return util_seterr(
                    CS_EUSAGE,
                    "deficit '%s': %s edits the input moments, which no input samples of a "
                    "nonlinear network (dln_cfg.act %s) realise; use remove, gate or lesion, or "
                    "dln_cfg.act linear",
                    df->text, deficit_kind_name(df->kind), dln_act_name(d->cfg.act));
            if (d->completion)
                return util_seterr(
                    CS_EUSAGE,
                    "deficit '%s': %s needs an item task (hier|lowrank|latent|statistics files), "
                    "not completion",
                    df->text, deficit_kind_name(df->kind));
            if (df->kind != DEF_DECORRELATE && deficit_arg_source(df, 0, t->n_src, &idx)) return CS_EUSAGE;
            if (df->kind == DEF_NOISE) {
                if (df->nargs < 2)
                    return util_seterr(
                        CS_EUSAGE, "deficit '%s': noise needs a variance, e.g. noise:b:0.5@0-100", df->text);
                if (deficit_arg_double(df, 1, 0, 1e300, &v)) return CS_EUSAGE;
            }
            break;
        case DEF_SUBSET:
            if (!d->completion)
                return util_seterr(CS_EUSAGE, "deficit '%s': subset needs task_cfg.kind completion",
                                   df->text);
            if (df->nargs < 1)
                return util_seterr(CS_EUSAGE, "deficit '%s': subset needs a count, e.g. subset:1000@0-5000",
                                   df->text);
            if (deficit_arg_long(df, 0, 1, t->n_obs, &m)) return CS_EUSAGE;
            break;
        case DEF_SWITCH:
            if (!t->target2)
                return util_seterr(
                    CS_EUSAGE, "deficit '%s': no second target; give task_cfg.target2_file FILE", df->text);
            break;
        default:
            return deficit_unsupported(df, "flow", "gate lesion remove noise decorrelate subset switch");
        }
    }
    int nl[DLN_MAX_CHAIN] = {0};
    for (int i = 0; i < dl->n; i++)
        if (dl->d[i].kind == DEF_LESION) {
            int p = dl->d[i].val[0].src;
            if (++nl[p] > 8) return util_seterr(CS_EUSAGE, "at most 8 lesions per pathway");
        }
    d->defs = *dl;
    d->active_mask = ~0ULL;
    dln_set_step(d, 0);
    return CS_OK;
}

void dln_set_step(dln *d, long t)
{
    unsigned long long mask = 0;
    for (int i = 0; i < d->defs.n; i++)
        if (deficit_active(&d->defs.d[i], t)) mask |= 1ULL << i;
    if (mask == d->active_mask) return;
    d->active_mask = mask;
    const task *tk = d->task;
    memset(d->gated, 0, sizeof d->gated);
    memset(d->n_les, 0, sizeof d->n_les);
    d->switched = 0;
    d->m_eff = tk->n_obs;
    for (int i = 0; i < d->defs.n; i++) {
        if (!(mask >> i & 1)) continue;
        const deficit *df = &d->defs.d[i];
        if (df->kind == DEF_GATE)
            d->gated[df->val[0].src] = 1;
        else if (df->kind == DEF_LESION) {
            int p = df->val[0].src;
            d->les_mode[p][d->n_les[p]++] = (int)df->val[1].i; /* validated in dln_set_deficits */
        } else if (df->kind == DEF_SWITCH)
            d->switched = 1;
        else if (df->kind == DEF_SUBSET) {
            long m = df->val[0].i;
            if (m < d->m_eff) d->m_eff = (int)m;
        }
    }
    if (d->completion) {
        d->tgt_active = d->switched ? tk->target2 : tk->target;
        return;
    }
    int ni = d->n_in, no = d->n_out;
    memcpy(d->sxx_eff, tk->sxx, (size_t)ni * ni * sizeof(double));
    memcpy(d->syx_eff, d->switched ? tk->syx2 : tk->syx, (size_t)no * ni * sizeof(double));
    d->tr_syy_eff = d->switched ? tk->tr_syy2 : tk->tr_syy;
    /* without input deficits the stable form of the loss applies (items_residual, dln_item.c) */
    int input_def = 0;
    for (int i = 0; i < d->defs.n; i++)
        if ((mask >> i & 1) && (d->defs.d[i].kind == DEF_REMOVE || d->defs.d[i].kind == DEF_NOISE ||
                                d->defs.d[i].kind == DEF_DECORRELATE))
            input_def = 1;
    d->tgt_item = input_def ? NULL : (d->switched ? tk->target2 : tk->target);
    if (d->tgt_item) {
        double r0 = d->tr_syy_eff;
        for (size_t i = 0; i < (size_t)no * ni; i++)
            r0 -= d->tgt_item[i] * d->syx_eff[i];
        d->r0_eff = r0 > 0 ? r0 : 0; /* irreducible loss (0 for noise-free targets, up to rounding) */
    }
    for (int i = 0; i < d->defs.n; i++) { /* decorrelate first, then noise, then remove */
        if (!(mask >> i & 1) || d->defs.d[i].kind != DEF_DECORRELATE) continue;
        for (int p = 0; p < tk->n_src; p++)
            for (int q = 0; q < tk->n_src; q++) {
                if (p == q) continue;
                for (int a = 0; a < tk->src_dim[p]; a++)
                    for (int b = 0; b < tk->src_dim[q]; b++)
                        d->sxx_eff[(size_t)(tk->src_off[p] + a) * ni + tk->src_off[q] + b] = 0;
            }
    }
    for (int i = 0; i < d->defs.n; i++) {
        const deficit *df = &d->defs.d[i];
        if (!(mask >> i & 1) || df->kind != DEF_NOISE) continue;
        int p = df->val[0].src;
        double v = df->val[1].r;
        for (int a = 0; a < tk->src_dim[p]; a++)
            d->sxx_eff[(size_t)(tk->src_off[p] + a) * (ni + 1)] += v;
    }
    for (int i = 0; i < d->defs.n; i++) {
        const deficit *df = &d->defs.d[i];
        if (!(mask >> i & 1) || df->kind != DEF_REMOVE) continue;
        int p = df->val[0].src;
        for (int a = tk->src_off[p]; a < tk->src_off[p] + tk->src_dim[p]; a++) {
            for (int j = 0; j < ni; j++)
                d->sxx_eff[(size_t)a * ni + j] = d->sxx_eff[(size_t)j * ni + a] = 0;
            for (int j = 0; j < no; j++)
                d->syx_eff[(size_t)j * ni + a] = 0;
        }
    }
}

/* ---- the gradient and the GD step ------------------------------------------------------------ */

double dln_grad(dln *d, const double *theta, double *grad)
{
    return d->completion ? dln_completion_grad(d, theta, grad) : dln_items_grad(d, theta, grad, 0);
}

void dln_gd_apply(dln *d, double lr)
{
    for (int p = 0; p < d->n_chain; p++) {
        if (d->gated[p]) continue;
        if (dln_items_fused(d)) { /* the fused step's update, fma(-lr, g, w), for the same bits */
            for (size_t i = d->chain_off[p]; i < d->chain_off[p + 1]; i++)
                d->theta[i] = fma(-lr, d->grad[i], d->theta[i]);
            continue;
        }
        int n = (int)(d->chain_off[p + 1] - d->chain_off[p]);
        cblas_daxpy(n, -lr, d->grad + d->chain_off[p], 1, d->theta + d->chain_off[p], 1);
    }
}

double dln_gd_step(dln *d, double lr)
{
    if (d->sp) return dln_single_gd_step(d, lr);
    if (dln_items_fused(d)) return dln_items_grad(d, d->theta, NULL, lr);
    double loss = dln_grad(d, d->theta, d->grad);
    dln_gd_apply(d, lr);
    return loss;
}

/* ---- gradient flow --------------------------------------------------------------------------- */

typedef struct {
    gsl_odeiv2_system sys;
    gsl_odeiv2_driver *drv;
} flow_state;

static int flow_rhs(double t, const double *y, double *dydt, void *params)
{
    dln *d = params;
    d->n_rhs++;
    double loss = dln_grad(d, y, dydt);
    if (!isfinite(loss)) return GSL_EBADFUNC;
    for (size_t i = 0; i < d->n_param; i++)
        dydt[i] = -dydt[i];
    return GSL_SUCCESS;
}

static void flow_free(dln *d)
{
    flow_state *f = d->ode;
    if (!f) return;
    if (f->drv) gsl_odeiv2_driver_free(f->drv);
    free(f);
    d->ode = NULL;
}

int dln_flow_alloc(dln *d, dln_stepper st, double epsabs, double epsrel, double h0)
{
    flow_free(d);
    flow_state *f = util_calloc(1, sizeof *f);
    f->sys.function = flow_rhs;
    f->sys.jacobian = NULL;
    f->sys.dimension = d->n_param;
    f->sys.params = d;
    const gsl_odeiv2_step_type *T = st == DLN_RKF45  ? gsl_odeiv2_step_rkf45
                                    : st == DLN_RKCK ? gsl_odeiv2_step_rkck
                                                     : gsl_odeiv2_step_rk8pd;
    f->drv = gsl_odeiv2_driver_alloc_y_new(&f->sys, T, h0, epsabs, epsrel);
    if (!f->drv) {
        free(f);
        return util_seterr(CS_EFAIL, "cannot allocate the GSL odeiv2 driver");
    }
    /* ReLU makes the right-hand side discontinuous: where a unit's input is pushed onto its kink by some
     * items and off it by others, the flow slides along the kink and an adaptive stepper crawls; a
     * bound on the steps per call turns that into a clear failure (linear and tanh flows: no bound) */
    if (d->cfg.act == DLN_ACT_RELU) gsl_odeiv2_driver_set_nmax(f->drv, d->flow_nmax);
    d->ode = f;
    d->n_rhs = 0;
    return CS_OK;
}

int dln_flow_advance(dln *d, double t0, double t1)
{
    flow_state *f = d->ode;
    CS_ASSERT(f);
    if (t1 <= t0) return CS_OK;
    double t = t0;
    int st = gsl_odeiv2_driver_apply(f->drv, &t, t1, d->theta);
    if (st == GSL_EMAXITER)
        return util_seterr(
            CS_EFAIL,
            "gradient flow stalled at time %.9g: over %lu solver steps without reaching the next "
            "record (a ReLU unit sliding along its kink makes the flow discontinuous); use "
            "dln_method gd",
            t, d->flow_nmax);
    if (st != GSL_SUCCESS)
        return util_seterr(CS_EFAIL, "gradient flow failed at time %.9g (%s)", t,
                           st == GSL_EBADFUNC ? "the state became non-finite" : gsl_strerror(st));
    return CS_OK;
}

void dln_flow_stats(const dln *d, long *steps, long *failed, long *rhs)
{
    const flow_state *f = d->ode;
    *steps = f ? (long)f->drv->e->count : 0;
    *failed = f ? (long)f->drv->e->failed_steps : 0;
    *rhs = d->n_rhs;
}
