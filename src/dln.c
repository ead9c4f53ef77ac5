/* dln.c - deep linear networks on full weight matrices: exact gradient, GD and gradient flow.
 *
 * Purpose and mathematics: see include/dln.h (model, loss, gradient, deficits, integrators).
 * Implementation notes: one block theta holds every weight; one scratch block holds every
 * intermediate (prefix products P_l = W_l ... W_1 per chain, suffix products S_l = W_D ... W_{l+1},
 * end-to-end maps, residuals), so dln_grad and the ODE right-hand side allocate nothing.  For each
 * chain, dL/dW_l = S_l^T G P_{l-1}^T is formed as (S_l^T G) P_{l-1}^T (item tasks: G is n_out x
 * in_dim, small) or, for completion, with G applied sparsely (row updates over observed entries).
 * Linear chains on item tasks use the fused engine instead (fx_*, described above fx_fwd): the
 * backward runs down the layers with H_{l-1} = W_l^T H_l and updates each weight matrix in the same
 * pass; the suffix form stays for nonlinear chains and as dln_use_reference.
 * Completion with one chain can split each gradient over a team of threads (dln_set_threads) that
 * write disjoint rows, so its trajectory does not depend on the number of threads.
 * Non-goals: biases, non-linear layers, float32.
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
#include "rsv.h"
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

#ifdef __AVX512F__
/* Small products (the multipath networks: width ~100, 8 inputs, 15 outputs) without OpenBLAS's call
 * overhead and packing (a 100 x 100 by 100 x 8 product: 2.8 us against 5.8 us).  Every element of C is
 * one chain of fused multiply-adds over k in increasing order, started from zero, plus 0.0 at the end:
 * the operations and order of OpenBLAS's Haswell dgemm kernel (the one this project's machines pin) for
 * m a multiple of 4, k <= 128, alpha 1, beta 0, so with that kernel the results are the same bit for
 * bit (tests/test_dln.c checks 392 shapes when OpenBLAS reports Haswell, else a
 * rounding bound).  Other OpenBLAS kernels order their sums differently: there the results differ
 * from before in the last digits, as they already differed between kernels.  C (m x n) = op(A) op(B);
 * op(B) is read as rows of B (tb = 0) or of a transposed copy in `bt` (tb = 1, n k <= SMALL_BT
 * doubles).  Returns 0 (nothing done) outside those shapes. */
#include <immintrin.h>
#define SMALL_BT 16384
int dln_gemm_small(int ta, int tb, int m, int n, int k, const double *A, int lda, const double *B, int ldb,
                   double *C, int ldc)
{
    static _Thread_local double bt[SMALL_BT];
    if (m % 4 || k > 128 || (long)m * n * k > 400000 || (tb && (long)n * k > SMALL_BT)) return 0;
    if (tb) { /* op(B) = B^T: bt (k x n) */
        for (int j = 0; j < n; j++)
            for (int q = 0; q < k; q++)
                bt[(long)q * n + j] = B[(long)j * ldb + q];
        B = bt, ldb = n;
    }
    const __m512d zero = _mm512_setzero_pd();
    for (int j = 0; j < n; j += 8) {
        __mmask8 mk = (__mmask8)(n - j >= 8 ? 0xFF : (1u << (n - j)) - 1);
        int i = 0;
        for (; i + 4 <= m; i += 4) {
            __m512d c0 = zero, c1 = zero, c2 = zero, c3 = zero;
            for (int q = 0; q < k; q++) {
                __m512d b = _mm512_maskz_loadu_pd(mk, B + (long)q * ldb + j);
                const double *a = ta ? A + (long)q * lda + i : A + (long)i * lda + q;
                long s = ta ? 1 : lda;
                c0 = _mm512_fmadd_pd(_mm512_set1_pd(a[0]), b, c0);
                c1 = _mm512_fmadd_pd(_mm512_set1_pd(a[s]), b, c1);
                c2 = _mm512_fmadd_pd(_mm512_set1_pd(a[2 * s]), b, c2);
                c3 = _mm512_fmadd_pd(_mm512_set1_pd(a[3 * s]), b, c3);
            }
            _mm512_mask_storeu_pd(C + (long)i * ldc + j, mk, _mm512_add_pd(c0, zero));
            _mm512_mask_storeu_pd(C + (long)(i + 1) * ldc + j, mk, _mm512_add_pd(c1, zero));
            _mm512_mask_storeu_pd(C + (long)(i + 2) * ldc + j, mk, _mm512_add_pd(c2, zero));
            _mm512_mask_storeu_pd(C + (long)(i + 3) * ldc + j, mk, _mm512_add_pd(c3, zero));
        }
        for (; i < m; i++) {
            __m512d c0 = zero;
            for (int q = 0; q < k; q++) {
                __m512d b = _mm512_maskz_loadu_pd(mk, B + (long)q * ldb + j);
                double a = ta ? A[(long)q * lda + i] : A[(long)i * lda + q];
                c0 = _mm512_fmadd_pd(_mm512_set1_pd(a), b, c0);
            }
            _mm512_mask_storeu_pd(C + (long)i * ldc + j, mk, _mm512_add_pd(c0, zero));
        }
    }
    return 1;
}
#endif

static void gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda, const double *B,
                 int ldb, double beta, double *C, int ldc)
{
#ifdef __AVX512F__
    if (alpha == 1.0 && beta == 0.0 && dln_gemm_small(ta, tb, m, n, k, A, lda, B, ldb, C, ldc)) return;
#endif
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha,
                A, lda, B, ldb, beta, C, ldc);
}

/* Sparse-pass kernels (rows of w ~ 100 doubles): GCC vector extensions (unaligned 8-double vectors;
 * lowered to whatever the target has), accumulators kept in registers; a BLAS call per observed entry
 * would cost more in call overhead than the multiply-adds it performs. */
typedef double v8d __attribute__((vector_size(64), aligned(8)));
#define LD(p) (*(const v8d *)(p))

static double dot(int w, const double *a, const double *b)
{
    v8d s0 = {0}, s1 = {0};
    int j = 0;
    for (; j + 16 <= w; j += 16) {
        s0 += LD(a + j) * LD(b + j);
        s1 += LD(a + j + 8) * LD(b + j + 8);
    }
    for (; j + 8 <= w; j += 8)
        s0 += LD(a + j) * LD(b + j);
    s0 += s1;
    double s = ((s0[0] + s0[1]) + (s0[2] + s0[3])) + ((s0[4] + s0[5]) + (s0[6] + s0[7]));
    for (; j < w; j++)
        s += a[j] * b[j];
    return s;
}

/* y (w) += sum over the entries e in [e0, e1) with index k = kk[e] < m of r[k] * X[src[e] * w + :];
 * y is read and written once per block of 32 doubles. */
static void accum_rows(int w, double *restrict y, int e0, int e1, const int *restrict kk,
                       const int *restrict src, int m, const double *restrict r, const double *restrict X)
{
    int j = 0;
    for (; j + 32 <= w; j += 32) {
        v8d a0 = LD(y + j), a1 = LD(y + j + 8), a2 = LD(y + j + 16), a3 = LD(y + j + 24);
        for (int e = e0; e < e1; e++) {
            int k = kk[e];
            if (k >= m) continue;
            const double g = r[k], *x = X + (size_t)src[e] * w + j;
            a0 += g * LD(x);
            a1 += g * LD(x + 8);
            a2 += g * LD(x + 16);
            a3 += g * LD(x + 24);
        }
        *(v8d *)(y + j) = a0;
        *(v8d *)(y + j + 8) = a1;
        *(v8d *)(y + j + 16) = a2;
        *(v8d *)(y + j + 24) = a3;
    }
    for (; j + 8 <= w; j += 8) {
        v8d a0 = LD(y + j);
        for (int e = e0; e < e1; e++) {
            int k = kk[e];
            if (k < m) a0 += r[k] * LD(X + (size_t)src[e] * w + j);
        }
        *(v8d *)(y + j) = a0;
    }
    if (j < w)
        for (int e = e0; e < e1; e++) {
            int k = kk[e];
            if (k >= m) continue;
            const double g = r[k], *x = X + (size_t)src[e] * w;
            for (int q = j; q < w; q++)
                y[q] += g * x[q];
        }
}

/* ---- a team of threads for one gradient (matrix completion, one chain) ------------------------ */
/* The calling thread is member 0; members 1..n-1 are persistent workers.  A job is one function run
 * by every member with its index; members meet at team_barrier() (sense-reversing, spinning, since
 * the phases between barriers last microseconds).  An idle worker spins a while, then sleeps on a
 * condition variable.  Every member writes disjoint rows, so results do not depend on the number of
 * threads (the loss is summed per row, then over rows in order by member 0). */
#define TEAM_MAX 8
struct dln_team {
    int n;
    pthread_t th[TEAM_MAX];
    atomic_int gen, done, quit, sleeping, count, sense;
    int lsense[TEAM_MAX];
    void (*job)(dln *d, int tid);
    dln *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void team_barrier(dln_team *tm, int tid)
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

/* Run job on every member; returns when all have finished. */
static void team_run(dln_team *tm, dln *d, void (*job)(dln *, int))
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
    if (n < 1 || n > TEAM_MAX)
        return util_seterr(CS_EUSAGE, "dln_set_threads.n %d: give 1 to %d", n, TEAM_MAX);
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

int dln_alloc(const dln_cfg *cfg, const task *t, dln **out)
{
    *out = NULL;
    if (cfg->depth < 1)
        return util_seterr(CS_EUSAGE, "dln_cfg.depth must be >= 1 (number of weight matrices)");
    if (cfg->depth > 1 && cfg->width < 1) return util_seterr(CS_EUSAGE, "dln_cfg.width must be >= 1");
    int completion = t->kind == TASK_COMPLETION;
    int nl = cfg->act != DLN_ACT_LINEAR;
    if (nl && !t->onehot)
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
    int nc = cfg->arch == DLN_FUSED ? 1 : cfg->n_chain;
    if (nc < 1 || nc > DLN_MAX_CHAIN)
        return util_seterr(CS_EUSAGE, "dln_cfg.n_chain must lie in [1, %d]", DLN_MAX_CHAIN);
    int shared = cfg->arch == DLN_PATHS && (cfg->shared_input || completion || t->n_src == 1);
    if (cfg->arch == DLN_PATHS && !shared && nc != t->n_src)
        return util_seterr(
            CS_EUSAGE,
            "dln_cfg.arch paths reads one source per pathway: %d pathways but the task has %d sources; "
            "set task_cfg.n_src %d, or use dln_cfg.shared_input",
            nc, t->n_src, nc);
    dln *d = util_calloc(1, sizeof *d);
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
    int D = d->depth;
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

    /* scratch sizes */
    int no = d->n_out, ni = d->n_in, w = d->width, mx = no > ni ? no : ni;
    if (w > mx) mx = w;
    size_t need = 0;
    for (int p = 0; p < nc; p++)
        need += (size_t)(D - 1) * w * d->in_dim[p] + (size_t)no * d->in_dim[p];
    need += (size_t)(D - 1) * no * w;     /* suffix */
    need += 4 * (size_t)no * ni;          /* omega_tot, E, C, Gp */
    need += (size_t)(w > 0 ? w : 1) * ni; /* A */
    if (completion) need += (size_t)t->n_obs + (size_t)(w > 0 ? w : 1) * ni;
    need += (size_t)mx;
    if (!completion) need += 2 * (size_t)ni * ni + (size_t)no * ni; /* sxx_eff, syx_eff */
    int mwo = w > no ? w : no;
    if (nl) need += 2 * (size_t)mwo * ni; /* nl_x, nl_y */
    d->scratch = util_calloc(need, sizeof(double));
    double *s = d->scratch;
    d->prefix = util_calloc((size_t)nc * D, sizeof *d->prefix);
    d->suffix = util_calloc((size_t)D, sizeof *d->suffix);
    for (int p = 0; p < nc; p++) {
        for (int l = 1; l < D; l++) {
            d->prefix[(size_t)p * D + l] = s;
            s += (size_t)w * d->in_dim[p];
        }
        d->omega[p] = s;
        s += (size_t)no * d->in_dim[p];
    }
    for (int l = 1; l < D; l++) {
        d->suffix[l] = s;
        s += (size_t)no * w;
    }
    d->omega_tot = s;
    s += (size_t)no * ni;
    d->E = s;
    s += (size_t)no * ni;
    d->C = s;
    s += (size_t)no * ni;
    d->Gp = s;
    s += (size_t)no * ni;
    d->A = s;
    s += (size_t)(w > 0 ? w : 1) * ni;
    if (completion) {
        d->resid = s;
        s += t->n_obs;
        d->A2 = s;
        s += (size_t)(w > 0 ? w : 1) * ni;
    }
    d->vec = s;
    s += mx;
    if (!completion) {
        d->sxx_eff = s;
        s += (size_t)ni * ni;
        d->syx_eff = s;
        s += (size_t)no * ni;
        s += (size_t)ni * ni;
    }
    if (nl) {
        d->nl_x = s;
        s += (size_t)mwo * ni;
        d->nl_y = s;
        s += (size_t)mwo * ni;
    }
    CS_ASSERT((size_t)(s - d->scratch) <= need);
    if (completion) { /* observed entries grouped by row and by column (counting sort, stable) */
        int m = t->n_obs;
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
    if (cfg->single) { /* thetaf, gradf (n_param); prefixes; Omega_tot and G (no x ni); H, H2 (w x ni) */
        size_t nsp = 2 * off + (size_t)nc * (D > 1 ? D - 1 : 0) * w * ni + 2 * (size_t)no * ni +
                     2 * (size_t)(w > 0 ? w : 1) * ni;
        d->sp = util_calloc(nsp, sizeof(float));
    }
    d->defs.n = 0;
    d->active_mask = ~0ULL;
    d->flow_nmax = DLN_RELU_NMAX;
    dln_set_step(d, 0);
    *out = d;
    return CS_OK;
}

static void flow_free(dln *d);

void dln_use_reference(dln *d, int on)
{
    d->reference = on;
}

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
    /* without input deficits the stable form of the loss applies (see grad_items) */
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

/* ---- forward maps and gradient --------------------------------------------------------------- */

const char *dln_act_name(dln_act a)
{
    return a == DLN_ACT_RELU ? "relu" : a == DLN_ACT_TANH ? "tanh" : "linear";
}

int dln_act_parse(const char *s, dln_act *out)
{
    static const char *names[] = {"linear", "relu", "tanh"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (dln_act)i;
            return CS_OK;
        }
    return util_seterr(CS_EUSAGE, "dln_cfg.act '%s': give linear, relu or tanh", s ? s : "");
}

/* x <- phi(x), n values */
static void act_apply(dln_act a, double *x, size_t n)
{
    if (a == DLN_ACT_RELU) {
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] > 0 ? x[i] : 0;
    } else if (a == DLN_ACT_TANH)
        for (size_t i = 0; i < n; i++)
            x[i] = tanh(x[i]);
}

/* g <- g .* phi'(z), with phi' read from the activation y = phi(z): relu [y > 0], tanh 1 - y^2 */
static void act_backward(dln_act a, const double *y, double *g, size_t n)
{
    if (a == DLN_ACT_RELU) {
        for (size_t i = 0; i < n; i++)
            if (!(y[i] > 0)) g[i] = 0;
    } else if (a == DLN_ACT_TANH)
        for (size_t i = 0; i < n; i++)
            g[i] *= 1 - y[i] * y[i];
}

/* Nonlinear chain p on the one-hot items (X = I): activations A_l = phi(W_l A_{l-1}) into the prefix
 * buffers (A_1 = phi(W_1)), the response F (n_out x in_dim) into d->omega[p]. */
static void chain_forward_nl(dln *d, const double *theta, int p)
{
    int D = d->depth, w = d->width, ni = d->in_dim[p], no = d->n_out;
    dln_act a = d->cfg.act;
    if (D == 1)
        memcpy(d->omega[p], dln_weight(d, theta, p, 1), (size_t)no * ni * sizeof(double));
    else {
        double **P = d->prefix + (size_t)p * D;
        memcpy(P[1], dln_weight(d, theta, p, 1), (size_t)w * ni * sizeof(double));
        act_apply(a, P[1], (size_t)w * ni);
        for (int l = 2; l < D; l++) {
            gemm(0, 0, w, ni, w, 1.0, dln_weight(d, theta, p, l), w, P[l - 1], ni, 0.0, P[l], ni);
            act_apply(a, P[l], (size_t)w * ni);
        }
        gemm(0, 0, no, ni, w, 1.0, dln_weight(d, theta, p, D), w, P[D - 1], ni, 0.0, d->omega[p], ni);
    }
    if (d->cfg.act_output) act_apply(a, d->omega[p], (size_t)no * ni);
}

/* Backward pass of nonlinear chain p for G = dL/dF_p (n_out x in_dim[p]); needs chain_forward_nl's
 * activations.  D_D = G (.* phi'(Z_D)), dL/dW_l = D_l A_{l-1}^T (A_0 = I), D_{l-1} = (W_l^T D_l) .* phi'. */
static void chain_backward_nl(dln *d, const double *theta, int p, const double *G, double *grad)
{
    int D = d->depth, w = d->width, ni = d->in_dim[p], no = d->n_out;
    dln_act a = d->cfg.act;
    double **P = d->prefix + (size_t)p * D, *x = d->nl_x, *y = d->nl_y;
    const double *delta = G;
    if (d->cfg.act_output) {
        memcpy(x, G, (size_t)no * ni * sizeof(double));
        act_backward(a, d->omega[p], x, (size_t)no * ni);
        delta = x;
    }
    if (D == 1) {
        memcpy(dln_weight(d, grad, p, 1), delta, (size_t)no * ni * sizeof(double));
        return;
    }
    gemm(0, 1, no, w, ni, 1.0, delta, ni, P[D - 1], ni, 0.0, dln_weight(d, grad, p, D), w);
    gemm(1, 0, w, ni, no, 1.0, dln_weight(d, theta, p, D), w, delta, ni, 0.0, y, ni);
    act_backward(a, P[D - 1], y, (size_t)w * ni);
    for (int l = D - 1; l >= 2; l--) { /* y = D_l (w x ni) */
        gemm(0, 1, w, w, ni, 1.0, y, ni, P[l - 1], ni, 0.0, dln_weight(d, grad, p, l), w);
        gemm(1, 0, w, ni, w, 1.0, dln_weight(d, theta, p, l), w, y, ni, 0.0, x, ni);
        act_backward(a, P[l - 1], x, (size_t)w * ni);
        double *tmp = x;
        x = y;
        y = tmp;
    }
    memcpy(dln_weight(d, grad, p, 1), y, (size_t)w * ni * sizeof(double));
}

/* prefix products of chain p and its end-to-end map into d->omega[p]. */
static void chain_forward(dln *d, const double *theta, int p)
{
    int D = d->depth, w = d->width, ni = d->in_dim[p], no = d->n_out;
    if (d->cfg.act != DLN_ACT_LINEAR) {
        chain_forward_nl(d, theta, p);
        return;
    }
    if (D == 1) {
        memcpy(d->omega[p], dln_weight(d, theta, p, 1), (size_t)no * ni * sizeof(double));
        return;
    }
    double **P = d->prefix + (size_t)p * D;
    memcpy(P[1], dln_weight(d, theta, p, 1), (size_t)w * ni * sizeof(double));
    for (int l = 2; l < D; l++)
        gemm(0, 0, w, ni, w, 1.0, dln_weight(d, theta, p, l), w, P[l - 1], ni, 0.0, P[l], ni);
    gemm(0, 0, no, ni, w, 1.0, dln_weight(d, theta, p, D), w, P[D - 1], ni, 0.0, d->omega[p], ni);
}

/* C = (I - sum u u^T) C (I - sum v v^T) over chain p's lesioned modes; C is (n_out x n_in). */
static void lesion_project(dln *d, int p, double *C)
{
    const task *t = d->task;
    int no = d->n_out, ni = d->n_in, r = t->rank;
    double *tmp = d->vec;
    for (int k = 0; k < d->n_les[p]; k++) {
        int m = d->les_mode[p][k];
        /* tmp (n_in) = u^T C ; C -= u tmp^T */
        for (int j = 0; j < ni; j++)
            tmp[j] = 0;
        for (int i = 0; i < no; i++) {
            double ui = t->U[i * r + m];
            for (int j = 0; j < ni; j++)
                tmp[j] += ui * C[(size_t)i * ni + j];
        }
        for (int i = 0; i < no; i++) {
            double ui = t->U[i * r + m];
            for (int j = 0; j < ni; j++)
                C[(size_t)i * ni + j] -= ui * tmp[j];
        }
        /* C -= (C v) v^T */
        for (int i = 0; i < no; i++) {
            double cv = 0;
            for (int j = 0; j < ni; j++)
                cv += C[(size_t)i * ni + j] * t->V[j * r + m];
            for (int j = 0; j < ni; j++)
                C[(size_t)i * ni + j] -= cv * t->V[j * r + m];
        }
    }
}

static void embed_add(dln *d, int p, const double *M, double *tot)
{
    int ni = d->n_in, nip = d->in_dim[p], off = d->in_off[p];
    for (int i = 0; i < d->n_out; i++)
        for (int j = 0; j < nip; j++)
            tot[(size_t)i * ni + off + j] += M[(size_t)i * nip + j];
}

/* Backward pass of chain p for the dense gradient Gp (n_out x in_dim[p]) of its end-to-end map. */
static void chain_backward_dense(dln *d, const double *theta, int p, const double *Gp, double *grad)
{
    int D = d->depth, w = d->width, ni = d->in_dim[p], no = d->n_out;
    if (d->cfg.act != DLN_ACT_LINEAR) {
        chain_backward_nl(d, theta, p, Gp, grad);
        return;
    }
    if (D == 1) {
        memcpy(dln_weight(d, grad, p, 1), Gp, (size_t)no * ni * sizeof(double));
        return;
    }
    double **P = d->prefix + (size_t)p * D, **S = d->suffix;
    /* suffix S_l = W_D ... W_{l+1} (n_out x w) */
    memcpy(S[D - 1], dln_weight(d, theta, p, D), (size_t)no * w * sizeof(double));
    for (int l = D - 2; l >= 1; l--)
        gemm(0, 0, no, w, w, 1.0, S[l + 1], w, dln_weight(d, theta, p, l + 1), w, 0.0, S[l], w);
    /* layer D: Gp P_{D-1}^T */
    gemm(0, 1, no, w, ni, 1.0, Gp, ni, P[D - 1], ni, 0.0, dln_weight(d, grad, p, D), w);
    for (int l = D - 1; l >= 1; l--) {
        if (l == 1) { /* S_1^T Gp */
            gemm(1, 0, w, ni, no, 1.0, S[1], w, Gp, ni, 0.0, dln_weight(d, grad, p, 1), ni);
        } else { /* (S_l^T Gp) P_{l-1}^T */
            gemm(1, 0, w, ni, no, 1.0, S[l], w, Gp, ni, 0.0, d->A, ni);
            gemm(0, 1, w, w, ni, 1.0, d->A, ni, P[l - 1], ni, 0.0, dln_weight(d, grad, p, l), w);
        }
    }
}

/* ---- linear networks on item tasks: the fused step ----------------------------------------------------
 * Forward per chain: P_1 = W_1, P_l = W_l P_{l-1} (l = 2..D-1), Omega_p = W_D P_{D-1}, with the transposes
 * PT_l (n x width) kept for the backward.  Backward from G = dL/dOmega_p down the layers: H_D = G,
 * dL/dW_l = H_l P_{l-1}^T (P_0 = I: dL/dW_1 = H_1), H_{l-1} = W_l^T H_l: one pass over the rows of each
 * W_l forms H_{l-1} (with the pre-step W_l) and then updates those rows in place, W_l -= lr dL/dW_l, so a
 * GD step reads each weight matrix twice (forward, backward) and writes it once, and no gradient is
 * stored (dln_grad writes dL/dW_l instead of updating).  This is about 3/4 of the flops of the suffix
 * form S_l^T G P_{l-1}^T of chain_backward_dense (no n_out x width x width suffix products).
 * Every entry is one chain of fused multiply-adds in a fixed order, started from zero: P_l[i, j] over
 * q = 0..k-1 of W_l[i, q] P_{l-1}[q, j]; H_{l-1}[q, j] over rows i = 0..m-1 of W_l[i, q] H_l[i, j];
 * dL/dW_l[i, q] over j = 0..n-1 of H_l[i, j] PT_{l-1}[j, q]; the update fma(-lr, g, w).  The AVX-512
 * kernels and the portable loops compute exactly these, so the results are the same bits on every
 * machine with fma (and independent of OpenBLAS's kernel).  The sums run in another order than the
 * previous engine's products (kept as dln_use_reference for tests): an output change at the rounding
 * level, measured in tests/test_dln.c. */

/* C (m x n) = W (m x k) B (k x n), all row-major with natural strides. */
static void fx_fwd(int m, int n, int k, const double *W, const double *B, double *C)
{
#ifdef __AVX512F__
    const __m512d z = _mm512_setzero_pd();
    for (int j = 0; j < n; j += 8) {
        __mmask8 mk = (__mmask8)(n - j >= 8 ? 0xFF : (1u << (n - j)) - 1);
        int i = 0;
        for (; i + 8 <= m; i += 8) {
            __m512d c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z;
            const double *w = W + (size_t)i * k;
            for (int q = 0; q < k; q++) {
                __m512d b = _mm512_maskz_loadu_pd(mk, B + (size_t)q * n + j);
                c0 = _mm512_fmadd_pd(_mm512_set1_pd(w[q]), b, c0);
                c1 = _mm512_fmadd_pd(_mm512_set1_pd(w[(size_t)k + q]), b, c1);
                c2 = _mm512_fmadd_pd(_mm512_set1_pd(w[2 * (size_t)k + q]), b, c2);
                c3 = _mm512_fmadd_pd(_mm512_set1_pd(w[3 * (size_t)k + q]), b, c3);
                c4 = _mm512_fmadd_pd(_mm512_set1_pd(w[4 * (size_t)k + q]), b, c4);
                c5 = _mm512_fmadd_pd(_mm512_set1_pd(w[5 * (size_t)k + q]), b, c5);
                c6 = _mm512_fmadd_pd(_mm512_set1_pd(w[6 * (size_t)k + q]), b, c6);
                c7 = _mm512_fmadd_pd(_mm512_set1_pd(w[7 * (size_t)k + q]), b, c7);
            }
            double *c = C + (size_t)i * n + j;
            _mm512_mask_storeu_pd(c, mk, c0);
            _mm512_mask_storeu_pd(c + n, mk, c1);
            _mm512_mask_storeu_pd(c + 2 * (size_t)n, mk, c2);
            _mm512_mask_storeu_pd(c + 3 * (size_t)n, mk, c3);
            _mm512_mask_storeu_pd(c + 4 * (size_t)n, mk, c4);
            _mm512_mask_storeu_pd(c + 5 * (size_t)n, mk, c5);
            _mm512_mask_storeu_pd(c + 6 * (size_t)n, mk, c6);
            _mm512_mask_storeu_pd(c + 7 * (size_t)n, mk, c7);
        }
        for (; i < m; i++) {
            __m512d c0 = z;
            const double *w = W + (size_t)i * k;
            for (int q = 0; q < k; q++)
                c0 = _mm512_fmadd_pd(_mm512_set1_pd(w[q]), _mm512_maskz_loadu_pd(mk, B + (size_t)q * n + j),
                                     c0);
            _mm512_mask_storeu_pd(C + (size_t)i * n + j, mk, c0);
        }
    }
#else
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double c = 0;
            for (int q = 0; q < k; q++)
                c = fma(W[(size_t)i * k + q], B[(size_t)q * n + j], c);
            C[(size_t)i * n + j] = c;
        }
#endif
}

/* One layer of the backward pass: W (m x k), Hin = dL/d(layer output) (m x n), PT = the layer input
 * transposed (n x k; NULL: the input is the identity, k = n, g = Hin).  Hout (k x n, may be NULL) =
 * W^T Hin with the W given; then g = Hin PT (m x k) is written to G, or, G NULL, W = fma(-lr, g, W). */
static void fx_back(int m, int k, int n, double *W, const double *Hin, const double *PT, double *Hout,
                    double lr, double *G)
{
    if (Hout) memset(Hout, 0, (size_t)k * n * sizeof *Hout);
#ifdef __AVX512F__
    const __m512d z = _mm512_setzero_pd(), nlr = _mm512_set1_pd(-lr);
    for (int b0 = 0; b0 < m; b0 += 16) { /* blocks of 16 rows: Hout (all 16 rows), then the update */
        int bb = m - b0 < 16 ? m - b0 : 16;
        if (Hout && bb == 16)
            for (int j = 0; j < n; j += 8) {
                __mmask8 mk = (__mmask8)(n - j >= 8 ? 0xFF : (1u << (n - j)) - 1);
                const double *h = Hin + (size_t)b0 * n + j, *w = W + (size_t)b0 * k;
                __m512d hh[16];
#pragma GCC unroll 16
                for (int r = 0; r < 16; r++)
                    hh[r] = _mm512_maskz_loadu_pd(mk, h + (size_t)r * n);
                for (int q = 0; q < k; q++) {
                    double *o = Hout + (size_t)q * n + j;
                    __m512d a = _mm512_maskz_loadu_pd(mk, o);
#pragma GCC unroll 16
                    for (int r = 0; r < 16; r++)
                        a = _mm512_fmadd_pd(_mm512_set1_pd(w[(size_t)r * k + q]), hh[r], a);
                    _mm512_mask_storeu_pd(o, mk, a);
                }
            }
        for (int i0 = b0; i0 < b0 + bb; i0 += 8) {
            int rb = b0 + bb - i0 < 8 ? b0 + bb - i0 : 8;
            const double *w = W + (size_t)i0 * k;
            if (Hout && bb != 16)
                for (int j = 0; j < n; j += 8) {
                    __mmask8 mk = (__mmask8)(n - j >= 8 ? 0xFF : (1u << (n - j)) - 1);
                    const double *h = Hin + (size_t)i0 * n + j;
                    if (rb == 8) {
                        __m512d h0 = _mm512_maskz_loadu_pd(mk, h), h1 = _mm512_maskz_loadu_pd(mk, h + n),
                                h2 = _mm512_maskz_loadu_pd(mk, h + 2 * (size_t)n),
                                h3 = _mm512_maskz_loadu_pd(mk, h + 3 * (size_t)n),
                                h4 = _mm512_maskz_loadu_pd(mk, h + 4 * (size_t)n),
                                h5 = _mm512_maskz_loadu_pd(mk, h + 5 * (size_t)n),
                                h6 = _mm512_maskz_loadu_pd(mk, h + 6 * (size_t)n),
                                h7 = _mm512_maskz_loadu_pd(mk, h + 7 * (size_t)n);
                        for (int q = 0; q < k; q++) {
                            double *o = Hout + (size_t)q * n + j;
                            __m512d a = _mm512_maskz_loadu_pd(mk, o);
                            a = _mm512_fmadd_pd(_mm512_set1_pd(w[q]), h0, a);
                            a = _mm512_fmadd_pd(_mm512_set1_pd(w[(size_t)k + q]), h1, a);
                            a = _mm512_fmadd_pd(_mm512_set1_pd(w[2 * (size_t)k + q]), h2, a);
                            a = _mm512_fmadd_pd(_mm512_set1_pd(w[3 * (size_t)k + q]), h3, a);
                            a = _mm512_fmadd_pd(_mm512_set1_pd(w[4 * (size_t)k + q]), h4, a);
                            a = _mm512_fmadd_pd(_mm512_set1_pd(w[5 * (size_t)k + q]), h5, a);
                            a = _mm512_fmadd_pd(_mm512_set1_pd(w[6 * (size_t)k + q]), h6, a);
                            a = _mm512_fmadd_pd(_mm512_set1_pd(w[7 * (size_t)k + q]), h7, a);
                            _mm512_mask_storeu_pd(o, mk, a);
                        }
                    } else
                        for (int q = 0; q < k; q++) {
                            double *o = Hout + (size_t)q * n + j;
                            __m512d a = _mm512_maskz_loadu_pd(mk, o);
                            for (int r = 0; r < rb; r++)
                                a = _mm512_fmadd_pd(_mm512_set1_pd(w[(size_t)r * k + q]),
                                                    _mm512_maskz_loadu_pd(mk, h + (size_t)r * n), a);
                            _mm512_mask_storeu_pd(o, mk, a);
                        }
                }
            if (rb == 8 && n == 8 && PT) { /* 16 columns of PT in registers, shared by the 8 rows */
                for (int q = 0; q < k; q += 16) {
                    int left = k - q;
                    __mmask8 m0 = (__mmask8)(left >= 8 ? 0xFF : (1u << left) - 1),
                             m1 = (__mmask8)(left >= 16 ? 0xFF
                                             : left > 8 ? (1u << (left - 8)) - 1
                                                        : 0);
                    __m512d p0[8], p1[8];
#pragma GCC unroll 8
                    for (int j = 0; j < 8; j++) {
                        p0[j] = _mm512_maskz_loadu_pd(m0, PT + (size_t)j * k + q);
                        p1[j] = _mm512_maskz_loadu_pd(m1, PT + (size_t)j * k + q + 8);
                    }
                    for (int r = 0; r < 8; r++) {
                        const double *hr = Hin + (size_t)(i0 + r) * 8;
                        __m512d g0 = z, g1 = z;
#pragma GCC unroll 8
                        for (int j = 0; j < 8; j++) {
                            __m512d h = _mm512_set1_pd(hr[j]);
                            g0 = _mm512_fmadd_pd(h, p0[j], g0);
                            g1 = _mm512_fmadd_pd(h, p1[j], g1);
                        }
                        if (G) {
                            double *o = G + (size_t)(i0 + r) * k + q;
                            _mm512_mask_storeu_pd(o, m0, g0);
                            _mm512_mask_storeu_pd(o + 8, m1, g1);
                        } else {
                            double *o = W + (size_t)(i0 + r) * k + q;
                            _mm512_mask_storeu_pd(o, m0,
                                                  _mm512_fmadd_pd(nlr, g0, _mm512_maskz_loadu_pd(m0, o)));
                            _mm512_mask_storeu_pd(o + 8, m1,
                                                  _mm512_fmadd_pd(nlr, g1, _mm512_maskz_loadu_pd(m1, o + 8)));
                        }
                    }
                }
                continue;
            }
            for (int r = 0; r < rb; r++) { /* g and the update, 4 chunks of 8 columns at a time */
                double *wr = W + (size_t)(i0 + r) * k, *gr = G ? G + (size_t)(i0 + r) * k : NULL;
                const double *hr = Hin + (size_t)(i0 + r) * n;
                for (int q = 0; q < k; q += 32) {
                    __mmask8 mk[4];
                    for (int c = 0; c < 4; c++) {
                        int left = k - q - 8 * c;
                        mk[c] = (__mmask8)(left >= 8 ? 0xFF : left > 0 ? (1u << left) - 1 : 0);
                    }
                    __m512d g0, g1, g2, g3;
                    if (PT) {
                        g0 = g1 = g2 = g3 = z;
                        for (int j = 0; j < n; j++) {
                            const double *pt = PT + (size_t)j * k + q;
                            __m512d h = _mm512_set1_pd(hr[j]);
                            g0 = _mm512_fmadd_pd(h, _mm512_maskz_loadu_pd(mk[0], pt), g0);
                            g1 = _mm512_fmadd_pd(h, _mm512_maskz_loadu_pd(mk[1], pt + 8), g1);
                            g2 = _mm512_fmadd_pd(h, _mm512_maskz_loadu_pd(mk[2], pt + 16), g2);
                            g3 = _mm512_fmadd_pd(h, _mm512_maskz_loadu_pd(mk[3], pt + 24), g3);
                        }
                    } else {
                        g0 = _mm512_maskz_loadu_pd(mk[0], hr + q);
                        g1 = _mm512_maskz_loadu_pd(mk[1], hr + q + 8);
                        g2 = _mm512_maskz_loadu_pd(mk[2], hr + q + 16);
                        g3 = _mm512_maskz_loadu_pd(mk[3], hr + q + 24);
                    }
                    if (gr) {
                        _mm512_mask_storeu_pd(gr + q, mk[0], g0);
                        _mm512_mask_storeu_pd(gr + q + 8, mk[1], g1);
                        _mm512_mask_storeu_pd(gr + q + 16, mk[2], g2);
                        _mm512_mask_storeu_pd(gr + q + 24, mk[3], g3);
                    } else {
                        double *o = wr + q;
                        _mm512_mask_storeu_pd(o, mk[0],
                                              _mm512_fmadd_pd(nlr, g0, _mm512_maskz_loadu_pd(mk[0], o)));
                        _mm512_mask_storeu_pd(o + 8, mk[1],
                                              _mm512_fmadd_pd(nlr, g1, _mm512_maskz_loadu_pd(mk[1], o + 8)));
                        _mm512_mask_storeu_pd(o + 16, mk[2],
                                              _mm512_fmadd_pd(nlr, g2, _mm512_maskz_loadu_pd(mk[2], o + 16)));
                        _mm512_mask_storeu_pd(o + 24, mk[3],
                                              _mm512_fmadd_pd(nlr, g3, _mm512_maskz_loadu_pd(mk[3], o + 24)));
                    }
                }
            }
        }
    }
#else
    for (int i = 0; i < m; i++) {
        double *wr = W + (size_t)i * k;
        const double *hr = Hin + (size_t)i * n;
        if (Hout)
            for (int q = 0; q < k; q++)
                for (int j = 0; j < n; j++)
                    Hout[(size_t)q * n + j] = fma(wr[q], hr[j], Hout[(size_t)q * n + j]);
        for (int q = 0; q < k; q++) {
            double g = 0;
            if (PT)
                for (int j = 0; j < n; j++)
                    g = fma(hr[j], PT[(size_t)j * k + q], g);
            else
                g = hr[q];
            if (G)
                G[(size_t)i * k + q] = g;
            else
                wr[q] = fma(-lr, g, wr[q]);
        }
    }
#endif
}

/* Scratch of the fused step (allocated at its first use): PT_l per chain and layer l = 1..D-1
 * (in_dim[p] x width), then two (width x n_in) backward buffers per team member (TEAM_MAX pairs: the
 * pages of members that never run are never touched). */
static double *fx_scratch(dln *d)
{
    if (!d->fx) {
        size_t w = (size_t)(d->width > 0 ? d->width : 1), n = 0;
        for (int p = 0; p < d->n_chain; p++)
            n += (size_t)(d->depth > 1 ? d->depth - 1 : 0) * w * d->in_dim[p];
        d->fx = util_malloc((n + 2 * TEAM_MAX * w * (size_t)d->n_in) * sizeof(double));
    }
    return d->fx;
}

/* PT_l of chain p (l = 1..D-1) in the scratch */
static double *fx_pt(dln *d, int p, int l)
{
    size_t off = 0, w = (size_t)d->width;
    for (int q = 0; q < p; q++)
        off += (size_t)(d->depth - 1) * w * d->in_dim[q];
    return fx_scratch(d) + off + (size_t)(l - 1) * w * d->in_dim[p];
}

/* the two backward buffers of team member tid, after every PT_l */
static double *fx_h(dln *d, int tid)
{
    size_t off = 0;
    for (int q = 0; q < d->n_chain; q++)
        off += (size_t)(d->depth - 1) * d->width * d->in_dim[q];
    return fx_scratch(d) + off + (size_t)tid * 2 * d->width * d->n_in;
}

/* Forward of linear chain p: prefixes P_l (d->prefix), their transposes (pt != 0), Omega_p. */
static void fx_forward(dln *d, const double *theta, int p, int pt)
{
    int D = d->depth, w = d->width, n = d->in_dim[p], no = d->n_out;
    if (D == 1) {
        memcpy(d->omega[p], dln_weight(d, theta, p, 1), (size_t)no * n * sizeof(double));
        return;
    }
    double **P = d->prefix + (size_t)p * D;
    memcpy(P[1], dln_weight(d, theta, p, 1), (size_t)w * n * sizeof(double));
    for (int l = 2; l < D; l++)
        fx_fwd(w, n, w, dln_weight(d, theta, p, l), P[l - 1], P[l]);
    fx_fwd(no, n, w, dln_weight(d, theta, p, D), P[D - 1], d->omega[p]);
    if (pt)
        for (int l = 1; l < D; l++) {
            double *T = fx_pt(d, p, l);
            for (int i = 0; i < w; i++)
                for (int j = 0; j < n; j++)
                    T[(size_t)j * w + i] = P[l][(size_t)i * n + j];
        }
}

/* Backward of linear chain p from G = dL/dOmega_p (n_out x in_dim[p]): grad != NULL: the gradient into
 * grad; else theta (= d->theta) -= lr * gradient, in the same pass. */
static void fx_backward(dln *d, double *theta, int p, const double *G, double *grad, double lr, int tid)
{
    int D = d->depth, w = d->width, n = d->in_dim[p], no = d->n_out;
#define GR(l) (grad ? dln_weight(d, grad, p, l) : NULL)
    if (D == 1) {
        fx_back(no, n, n, dln_weight(d, theta, p, 1), G, NULL, NULL, lr, GR(1));
        return;
    }
    double *Ha = fx_h(d, tid), *Hb = Ha + (size_t)w * d->n_in;
    fx_back(no, w, n, dln_weight(d, theta, p, D), G, fx_pt(d, p, D - 1), Ha, lr, GR(D));
    for (int l = D - 1; l >= 2; l--) {
        fx_back(w, w, n, dln_weight(d, theta, p, l), Ha, fx_pt(d, p, l - 1), Hb, lr, GR(l));
        double *t = Ha;
        Ha = Hb;
        Hb = t;
    }
    fx_back(w, n, n, dln_weight(d, theta, p, 1), Ha, NULL, NULL, lr, GR(1));
#undef GR
}

/* The fused linear engine applies (dln_use_reference not set): linear chains on an item task. */
static int fx_ok(const dln *d)
{
    return !d->completion && d->cfg.act == DLN_ACT_LINEAR && !d->reference;
}

/* Item tasks, the total map from the chains' maps d->omega[p] (in chain order), the residual
 * R = c (Omega Sxx - Syx) into d->E and the loss c/2 (trSyy + <Omega, R/c> - <Omega, Syx>). */
static double items_residual(dln *d, int fast)
{
    int no = d->n_out, ni = d->n_in;
    double *tot = d->omega_tot;
    memset(tot, 0, (size_t)no * ni * sizeof *tot);
    for (int p = 0; p < d->n_chain; p++) {
        if (d->n_les[p]) {
            memset(d->C, 0, (size_t)no * ni * sizeof(double));
            embed_add(d, p, d->omega[p], d->C);
            lesion_project(d, p, d->C);
            for (size_t i = 0; i < (size_t)no * ni; i++)
                tot[i] += d->C[i];
        } else
            embed_add(d, p, d->omega[p], tot);
    }
    /* R = Omega Sxx - Syx into E; loss = c/2 (trSyy + <Omega, R> - <Omega, Syx>) */
    if (fast)
        fx_fwd(no, ni, ni, tot, d->sxx_eff, d->E);
    else
        gemm(0, 0, no, ni, ni, 1.0, tot, ni, d->sxx_eff, ni, 0.0, d->E, ni);
    double a = 0, b = 0;
    for (size_t i = 0; i < (size_t)no * ni; i++) {
        d->E[i] -= d->syx_eff[i];
        a += tot[i] * d->E[i];
        b += tot[i] * d->syx_eff[i];
        d->E[i] *= d->loss_c;
    }
    if (d->tgt_item) { /* no input deficit: L = c/2 (r0 + <(Omega - T) Sxx, Omega - T>), R = (Omega - T) Sxx
                        */
        double q = 0;
        for (size_t i = 0; i < (size_t)no * ni; i++)
            q += (tot[i] - d->tgt_item[i]) * d->E[i];
        return 0.5 * d->loss_c * (d->r0_eff + q / d->loss_c);
    }
    return 0.5 * d->loss_c * (d->tr_syy_eff + a - b);
}

/* Item tasks, the backward pass of chain p from d->E (tid: the team member, whose buffers it uses). */
static void items_backward(dln *d, const double *theta, double *grad, double lr, int p, int fast, int tid)
{
    int no = d->n_out, ni = d->n_in;
    if (d->gated[p]) {
        if (grad) memset(grad + d->chain_off[p], 0, (d->chain_off[p + 1] - d->chain_off[p]) * sizeof(double));
        return;
    }
    const double *G = d->E;
    int nip = d->in_dim[p];
    if (d->n_les[p]) {
        memcpy(d->C, d->E, (size_t)no * ni * sizeof(double));
        lesion_project(d, p, d->C);
        G = d->C;
    }
    if (nip != ni || d->in_off[p] != 0) {
        for (int i = 0; i < no; i++)
            memcpy(d->Gp + (size_t)i * nip, G + (size_t)i * ni + d->in_off[p], (size_t)nip * sizeof(double));
        G = d->Gp;
    }
    if (fast)
        fx_backward(d, (double *)theta, p, G, grad, lr, tid);
    else
        chain_backward_dense(d, theta, p, G, grad);
}

/* Minimum width for the item step on a team: below it a chain's forward or backward (~width^2 n_in
 * multiply-adds) is as short as the barriers between them (tens of us when a core is shared). */
#define ITEMS_TEAM_MIN_WIDTH 256

/* The item step on a team (dln_set_threads; fused linear chains, each on the whole input, no lesion):
 * member tid runs chains tid, tid + n, ...: their forward; barrier; member 0 alone the total map,
 * residual and loss; barrier; their backward, with member tid's own buffers.  Every sum is the one
 * thread's, in the same order: the same bits for any number of members. */
static void items_team_job(dln *d, int tid)
{
    dln_team *tm = d->team;
    int nt = tm->n;
    const double *theta = d->job_theta;
    for (int p = tid; p < d->n_chain; p += nt)
        fx_forward(d, theta, p, 1);
    team_barrier(tm, tid);
    if (tid == 0) d->job_loss = items_residual(d, 1);
    team_barrier(tm, tid);
    for (int p = tid; p < d->n_chain; p += nt)
        items_backward(d, theta, d->job_grad, d->job_lr, p, 1, tid);
}

static int items_team_ok(const dln *d)
{
    if (!d->team || d->n_chain < 2 || d->width < ITEMS_TEAM_MIN_WIDTH || d->depth < 2) return 0;
    for (int p = 0; p < d->n_chain; p++)
        if (d->n_les[p] || d->in_dim[p] != d->n_in || d->in_off[p] != 0) return 0;
    return 1;
}

/* Item tasks: loss at theta and, grad != NULL, its gradient; grad NULL (fused engine only): theta (=
 * d->theta) -= lr * gradient in the same pass. */
static double grad_items(dln *d, const double *theta, double *grad, double lr)
{
    int fast = fx_ok(d);
    if (fast && items_team_ok(d)) {
        fx_scratch(d); /* allocated here, not by two members at once on their first use */
        d->job_theta = theta;
        d->job_grad = grad;
        d->job_lr = lr;
        team_run(d->team, d, items_team_job);
        return d->job_loss;
    }
    for (int p = 0; p < d->n_chain; p++)
        if (fast)
            fx_forward(d, theta, p, 1);
        else
            chain_forward(d, theta, p);
    double loss = items_residual(d, fast);
    for (int p = 0; p < d->n_chain; p++)
        items_backward(d, theta, grad, lr, p, fast, 0);
    return loss;
}

/* Matrix completion, chain p, D >= 2.  Rows [j0, j1) of the transposed prefixes PT_l = (W_l ... W_1)^T
 * (n x w), l = 1..D-1; row j of PT_l needs only row j of PT_{l-1}, so a thread owning rows [j0, j1)
 * needs no barrier between layers.  D = 2 stores PT_1 = W_1^T explicitly. */
static void completion_prefix(dln *d, const double *theta, int p, int j0, int j1)
{
    int D = d->depth, w = d->width, n = d->in_dim[p];
    double **PT = d->prefix + (size_t)p * D;
    const double *W1 = dln_weight(d, theta, p, 1);
    if (D == 2) {
        for (int j = j0; j < j1; j++)
            for (int i = 0; i < w; i++)
                PT[1][(size_t)j * w + i] = W1[(size_t)i * n + j];
    } else if (j1 > j0) {
        gemm(1, 1, j1 - j0, w, w, 1.0, W1 + j0, n, dln_weight(d, theta, p, 2), w, 0.0, PT[2] + (size_t)j0 * w,
             w);
        for (int l = 3; l < D; l++)
            gemm(0, 1, j1 - j0, w, w, 1.0, PT[l - 1] + (size_t)j0 * w, w, dln_weight(d, theta, p, l), w, 0.0,
                 PT[l] + (size_t)j0 * w, w);
    }
}

/* Matrix completion, chain p, D >= 2, residuals r (already divided by m) in d->resid: the gradients of
 * layers 1..D-1 as member tid of nt (tm: the team, NULL for one thread).  HT_l = G^T S_l (n x w), S_l =
 * W_D ... W_{l+1}: one sparse pass gives HT_{D-1} = G^T W_D (rows [j0, j1)); then grad_l = HT_l^T PT_{l-1}
 * (rows [k0, k1)) and HT_{l-1} = HT_l W_l (rows [j0, j1)), down to grad_1 = HT_1^T = W_2^T HT_2^T. */
static void completion_backward(dln *d, const double *theta, double *grad, int p, dln_team *tm, int tid,
                                int nt)
{
    int D = d->depth, w = d->width, n = d->in_dim[p], m = d->m_eff;
    int j0 = (int)((long)n * tid / nt), j1 = (int)((long)n * (tid + 1) / nt);
    int k0 = (int)((long)w * tid / nt), k1 = (int)((long)w * (tid + 1) / nt);
    double **PT = d->prefix + (size_t)p * D;
    const double *W1 = dln_weight(d, theta, p, 1), *WD = dln_weight(d, theta, p, D);
    double *HT = d->A, *HN = d->A2;
    memset(HT + (size_t)j0 * w, 0, (size_t)(j1 - j0) * w * sizeof(double));
    for (int j = j0; j < j1; j++)
        accum_rows(w, HT + (size_t)j * w, d->col_ptr[j], d->col_ptr[j + 1], d->col_k, d->col_r, m, d->resid,
                   WD);
    team_barrier(tm, tid);
    for (int l = D - 1; l >= 1; l--) {
        double *gl = dln_weight(d, grad, p, l);
        if (l == 1) { /* D = 2 only */
            for (int k = k0; k < k1; k++)
                for (int j = 0; j < n; j++)
                    gl[(size_t)k * n + j] = HT[(size_t)j * w + k];
            break;
        }
        if (k1 > k0) {
            if (l == 2)
                gemm(1, 1, k1 - k0, w, n, 1.0, HT + k0, w, W1, n, 0.0, gl + (size_t)k0 * w,
                     w); /* HT^T W_1^T */
            else
                gemm(1, 0, k1 - k0, w, n, 1.0, HT + k0, w, PT[l - 1], w, 0.0, gl + (size_t)k0 * w, w);
        }
        if (l == 2) { /* grad_1 = (HT_2 W_2)^T = W_2^T HT_2^T, formed directly (no transpose pass) */
            if (k1 > k0)
                gemm(1, 1, k1 - k0, n, w, 1.0, dln_weight(d, theta, p, 2) + k0, w, HT, w, 0.0,
                     dln_weight(d, grad, p, 1) + (size_t)k0 * n, n);
            break;
        }
        if (j1 > j0)
            gemm(0, 0, j1 - j0, w, w, 1.0, HT + (size_t)j0 * w, w, dln_weight(d, theta, p, l), w, 0.0,
                 HN + (size_t)j0 * w, w);
        team_barrier(tm, tid);
        double *tmp = HT;
        HT = HN;
        HN = tmp;
    }
}

/* One chain, D >= 2, not gated (matrix completion as in the papers): the gradient as a team job.
 * Member tid of nt owns rows [j0, j1) of the n x w blocks, rows [i0, i1) of the output and rows
 * [k0, k1) of the w-row layer gradients; barriers separate the phases.  Every row's squared
 * residuals go to d->vec[i], summed in row order by the caller. */
static void completion_fused_job(dln *d, int tid)
{
    dln_team *tm = d->team;
    int nt = tm ? tm->n : 1;
    const double *theta = d->job_theta;
    double *grad = d->job_grad;
    int D = d->depth, w = d->width, n = d->n_in, no = d->n_out, m = d->m_eff;
    const double *M = d->tgt_active, *WD = dln_weight(d, theta, 0, D);
    double *r = d->resid, *ssr = d->vec;
    completion_prefix(d, theta, 0, (int)((long)n * tid / nt), (int)((long)n * (tid + 1) / nt));
    team_barrier(tm, tid);
    /* residuals of rows [i0, i1), then each row's layer-D gradient while PL's rows are hot */
    const double *PL = d->prefix[D - 1];
    double *gD = dln_weight(d, grad, 0, D);
    for (int i = (int)((long)no * tid / nt), i1 = (int)((long)no * (tid + 1) / nt); i < i1; i++) {
        double ss = 0;
        for (int e = d->row_ptr[i]; e < d->row_ptr[i + 1]; e++) {
            int k = d->row_k[e];
            if (k >= m) continue;
            double v =
                dot(w, WD + (size_t)i * w, PL + (size_t)d->row_c[e] * w) - M[(size_t)i * n + d->row_c[e]];
            ss += v * v;
            r[k] = v / m;
        }
        ssr[i] = ss;
        double *g = gD + (size_t)i * w;
        memset(g, 0, (size_t)w * sizeof(double));
        accum_rows(w, g, d->row_ptr[i], d->row_ptr[i + 1], d->row_k, d->row_c, m, r, PL);
    }
    team_barrier(tm, tid);
    completion_backward(d, theta, grad, 0, tm, tid, nt);
}

static double grad_completion(dln *d, const double *theta, double *grad)
{
    const task *t = d->task;
    int D = d->depth, w = d->width, n = d->n_in, no = d->n_out, m = d->m_eff;
    if (d->n_chain == 1 && D >= 2 && !d->gated[0]) {
        d->job_theta = theta;
        d->job_grad = grad;
        if (d->team)
            team_run(d->team, d, completion_fused_job);
        else
            completion_fused_job(d, 0);
        double ss = 0;
        for (int i = 0; i < no; i++)
            ss += d->vec[i];
        return 0.5 * ss / m;
    }
    /* several chains (or a gated one, or D = 1), one thread: residuals summed over the chains */
    const double *M = d->tgt_active;
    double *r = d->resid, ss = 0;
    for (int k = 0; k < m; k++)
        r[k] = 0;
    for (int p = 0; p < d->n_chain; p++) {
        if (D == 1) {
            const double *W = dln_weight(d, theta, p, 1);
            for (int k = 0; k < m; k++)
                r[k] += W[(size_t)t->obs_r[k] * n + t->obs_c[k]];
            continue;
        }
        completion_prefix(d, theta, p, 0, n);
        const double *WD = dln_weight(d, theta, p, D), *PL = d->prefix[(size_t)p * D + D - 1];
        for (int i = 0; i < no; i++)
            for (int e = d->row_ptr[i]; e < d->row_ptr[i + 1]; e++) {
                int k = d->row_k[e];
                if (k < m) r[k] += dot(w, WD + (size_t)i * w, PL + (size_t)d->row_c[e] * w);
            }
    }
    for (int k = 0; k < m; k++) {
        r[k] -= M[(size_t)t->obs_r[k] * n + t->obs_c[k]];
        ss += r[k] * r[k];
        r[k] /= m;
    }
    for (int p = 0; p < d->n_chain; p++) {
        double *gw = grad + d->chain_off[p];
        if (d->gated[p] || D == 1) memset(gw, 0, (d->chain_off[p + 1] - d->chain_off[p]) * sizeof(double));
        if (d->gated[p]) continue;
        if (D == 1) {
            for (int k = 0; k < m; k++)
                gw[(size_t)t->obs_r[k] * n + t->obs_c[k]] += r[k];
            continue;
        }
        /* layer D: G P_{D-1}^T, row i += r * PT_{D-1}[j, :]; then the layers below */
        double *gD = dln_weight(d, grad, p, D);
        memset(gD, 0, (size_t)no * w * sizeof(double));
        for (int i = 0; i < no; i++)
            accum_rows(w, gD + (size_t)i * w, d->row_ptr[i], d->row_ptr[i + 1], d->row_k, d->row_c, m, r,
                       d->prefix[(size_t)p * D + D - 1]);
        completion_backward(d, theta, grad, p, NULL, 0, 1);
    }
    return 0.5 * ss / m;
}

double dln_grad(dln *d, const double *theta, double *grad)
{
    return d->completion ? grad_completion(d, theta, grad) : grad_items(d, theta, grad, 0);
}

/* ---- float32 matrix completion (cfg.single) ---------------------------------------------------- */

static void sgemm(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                A, lda, B, ldb, 0.0f, C, ldc);
}

/* Loss and gradient of the float weights thf into gf (both n_param floats), single thread.  Per chain:
 * prefixes P_l = W_l P_{l-1} (P_1 = W_1), map W_D P_{D-1}; the total map; G (no x n) = residual / m at
 * the first m_eff observed entries, 0 elsewhere; then dL/dW_D = G P_{D-1}^T, H = W_D^T G, dL/dW_l =
 * H P_{l-1}^T, H <- W_l^T H, dL/dW_1 = H (D = 1: G).  Sum of squares in double. */
static double single_grad(dln *d, const float *thf, float *gf)
{
    const task *t = d->task;
    int D = d->depth, w = d->width, n = d->n_in, no = d->n_out, m = d->m_eff, nc = d->n_chain;
    size_t np = d->n_param;
    float *pre = d->sp + 2 * np, *tot = pre + (size_t)nc * (D > 1 ? D - 1 : 0) * w * n,
          *G = tot + (size_t)no * n, *H = G + (size_t)no * n, *H2 = H + (size_t)(w > 0 ? w : 1) * n;
#define WF(p, l) (thf + d->w_off[(size_t)(p)*D + (l)-1])
#define GF(p, l) (gf + d->w_off[(size_t)(p)*D + (l)-1])
#define PF(p, l) (pre + ((size_t)(p) * (D - 1) + (l)-1) * w * n) /* l = 1..D-1 */
    for (int p = 0; p < nc; p++) {
        if (D == 1) {
            if (p == 0)
                memcpy(tot, WF(0, 1), (size_t)no * n * sizeof(float));
            else
                for (size_t i = 0; i < (size_t)no * n; i++)
                    tot[i] += WF(p, 1)[i];
            continue;
        }
        memcpy(PF(p, 1), WF(p, 1), (size_t)w * n * sizeof(float));
        for (int l = 2; l < D; l++)
            sgemm(0, 0, w, n, w, WF(p, l), w, PF(p, l - 1), n, PF(p, l), n);
        if (p == 0)
            sgemm(0, 0, no, n, w, WF(p, D), w, PF(p, D - 1), n, tot, n);
        else {
            sgemm(0, 0, no, n, w, WF(p, D), w, PF(p, D - 1), n, G, n);
            for (size_t i = 0; i < (size_t)no * n; i++)
                tot[i] += G[i];
        }
    }
    memset(G, 0, (size_t)no * n * sizeof(float));
    const double *M = d->tgt_active;
    double ss = 0;
    for (int k = 0; k < m; k++) {
        size_t e = (size_t)t->obs_r[k] * n + t->obs_c[k];
        float r = tot[e] - (float)M[e];
        ss += (double)r * r;
        G[e] = r / (float)m;
    }
    for (int p = 0; p < nc; p++) {
        size_t len = d->chain_off[p + 1] - d->chain_off[p];
        if (d->gated[p]) {
            memset(gf + d->chain_off[p], 0, len * sizeof(float));
            continue;
        }
        if (D == 1) {
            memcpy(GF(p, 1), G, (size_t)no * n * sizeof(float));
            continue;
        }
        sgemm(0, 1, no, w, n, G, n, PF(p, D - 1), n, GF(p, D), w);
        sgemm(1, 0, w, n, no, WF(p, D), w, G, n, H, n);
        for (int l = D - 1; l >= 2; l--) {
            sgemm(0, 1, w, w, n, H, n, PF(p, l - 1), n, GF(p, l), w);
            sgemm(1, 0, w, n, w, WF(p, l), w, H, n, H2, n);
            float *tmp = H;
            H = H2;
            H2 = tmp;
        }
        memcpy(GF(p, 1), H, (size_t)w * n * sizeof(float));
    }
#undef WF
#undef GF
#undef PF
    return 0.5 * ss / m;
}

double dln_grad_single(dln *d, const double *theta, double *grad)
{
    CS_ASSERT(d->sp);
    float *thf = d->sp, *gf = d->sp + d->n_param;
    for (size_t i = 0; i < d->n_param; i++)
        thf[i] = (float)theta[i];
    double loss = single_grad(d, thf, gf);
    for (size_t i = 0; i < d->n_param; i++)
        grad[i] = gf[i];
    return loss;
}

/* float32 GD step: theta rounded, stepped in float, stored back exactly */
static double single_gd_step(dln *d, double lr)
{
    float *thf = d->sp, *gf = d->sp + d->n_param, a = (float)lr;
    for (size_t i = 0; i < d->n_param; i++)
        thf[i] = (float)d->theta[i];
    double loss = single_grad(d, thf, gf);
    for (int p = 0; p < d->n_chain; p++) {
        if (d->gated[p]) continue;
        for (size_t i = d->chain_off[p]; i < d->chain_off[p + 1]; i++)
            thf[i] -= a * gf[i];
    }
    for (size_t i = 0; i < d->n_param; i++)
        d->theta[i] = thf[i];
    return loss;
}

void dln_gd_apply(dln *d, double lr)
{
    for (int p = 0; p < d->n_chain; p++) {
        if (d->gated[p]) continue;
        if (fx_ok(d)) { /* the fused step's update, fma(-lr, g, w), for the same bits */
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
    if (d->sp) return single_gd_step(d, lr);
    if (fx_ok(d)) return grad_items(d, d->theta, NULL, lr);
    double loss = dln_grad(d, d->theta, d->grad);
    dln_gd_apply(d, lr);
    return loss;
}

void dln_maps(dln *d, const double *theta, double *omega_tot)
{
    int no = d->n_out, ni = d->n_in;
    if (omega_tot) memset(omega_tot, 0, (size_t)no * ni * sizeof *omega_tot);
    for (int p = 0; p < d->n_chain; p++) {
        int D = d->depth, w = d->width, nip = d->in_dim[p];
        if (d->cfg.act != DLN_ACT_LINEAR)
            chain_forward_nl(d, theta, p);
        else if (fx_ok(d))
            fx_forward(d, theta, p, 0);
        else if (D == 1)
            memcpy(d->omega[p], dln_weight(d, theta, p, 1), (size_t)no * nip * sizeof(double));
        else {
            double **P = d->prefix + (size_t)p * D;
            memcpy(P[1], dln_weight(d, theta, p, 1), (size_t)w * nip * sizeof(double));
            for (int l = 2; l < D; l++)
                gemm(0, 0, w, nip, w, 1.0, dln_weight(d, theta, p, l), w, P[l - 1], nip, 0.0, P[l], nip);
            gemm(0, 0, no, nip, w, 1.0, dln_weight(d, theta, p, D), w, P[D - 1], nip, 0.0, d->omega[p], nip);
        }
        if (omega_tot) {
            if (d->n_les[p] && !d->completion) {
                memset(d->C, 0, (size_t)no * ni * sizeof(double));
                embed_add(d, p, d->omega[p], d->C);
                lesion_project(d, p, d->C);
                for (size_t i = 0; i < (size_t)no * ni; i++)
                    omega_tot[i] += d->C[i];
            } else
                embed_add(d, p, d->omega[p], omega_tot);
        }
    }
}

void dln_modes(const dln *d, double *K)
{
    const task *t = d->task;
    int r = t->rank, no = d->n_out;
    for (int p = 0; p < d->n_chain; p++) {
        int nip = d->in_dim[p], off = d->in_off[p];
#ifdef __AVX512F__
        /* eight modes a at a time, lane a summing in the order of the loop below, with its separate
         * products and sums (ISO C: no contraction): the same bits */
        const double *om = d->omega[p];
        const __m512d z = _mm512_setzero_pd();
        for (int a0 = 0; a0 < r; a0 += 8) {
            __mmask8 mk = (__mmask8)(r - a0 >= 8 ? 0xFF : (1u << (r - a0)) - 1);
            __m512d sv = z;
            for (int i = 0; i < no; i++) {
                __m512d ui = _mm512_maskz_loadu_pd(mk, t->U + (size_t)i * r + a0);
                __mmask8 nz = _mm512_mask_cmp_pd_mask(mk, ui, z, _CMP_NEQ_UQ); /* ui != 0 (NaN too) */
                if (!nz) continue;
                __m512d rv = z;
                for (int j = 0; j < nip; j++)
                    rv = _mm512_add_pd(
                        rv, _mm512_mul_pd(_mm512_set1_pd(om[(size_t)i * nip + j]),
                                          _mm512_maskz_loadu_pd(mk, t->V + (size_t)(off + j) * r + a0)));
                sv = _mm512_mask_add_pd(sv, nz, sv, _mm512_mul_pd(ui, rv));
            }
            _mm512_mask_storeu_pd(K + (size_t)p * r + a0, mk, sv);
        }
        continue;
#endif
        for (int a = 0; a < r; a++) {
            double s = 0;
            for (int i = 0; i < no; i++) {
                double ui = t->U[i * r + a];
                if (ui == 0) continue;
                double rv = 0;
                for (int j = 0; j < nip; j++)
                    rv += d->omega[p][(size_t)i * nip + j] * t->V[(off + j) * r + a];
                s += ui * rv;
            }
            K[p * r + a] = s;
        }
    }
}

double dln_test_loss_of(const dln *d, const double *tot)
{
    const task *t = d->task;
    int no = d->n_out, ni = d->n_in;
    if (d->completion) {
        const double *M = d->switched ? t->target2 : t->target;
        double ss = 0;
        for (size_t i = 0; i < (size_t)no * ni; i++)
            ss += (tot[i] - M[i]) * (tot[i] - M[i]);
        return ss / ((double)no * ni);
    }
    /* stable form: c/2 (r0 + <(Omega - T) Sxx, Omega - T>), T the active target (the minimiser) */
    const double *syx = d->switched ? t->syx2 : t->syx, *T = d->switched ? t->target2 : t->target;
    double r0 = d->switched ? t->tr_syy2 : t->tr_syy, q = 0;
    for (size_t i = 0; i < (size_t)no * ni; i++)
        r0 -= T[i] * syx[i];
#ifdef __AVX512F__
    /* rs for eight columns j at a time, each lane summing over k in order with separate products and
     * sums (ISO C: no contraction); q then summed over j in order: the same bits as the loop below */
    for (int i = 0; i < no; i++) {
        const double *oi = tot + (size_t)i * ni, *ti = T + (size_t)i * ni;
        for (int j0 = 0; j0 < ni; j0 += 8) {
            __mmask8 mk = (__mmask8)(ni - j0 >= 8 ? 0xFF : (1u << (ni - j0)) - 1);
            __m512d rv = _mm512_setzero_pd();
            for (int k = 0; k < ni; k++)
                rv =
                    _mm512_add_pd(rv, _mm512_mul_pd(_mm512_set1_pd(oi[k] - ti[k]),
                                                    _mm512_maskz_loadu_pd(mk, t->sxx + (size_t)k * ni + j0)));
            double rs[8];
            _mm512_storeu_pd(rs, rv);
            for (int j = j0; j < ni && j < j0 + 8; j++)
                q += rs[j - j0] * (oi[j] - ti[j]);
        }
    }
#else
    for (int i = 0; i < no; i++)
        for (int j = 0; j < ni; j++) {
            double rs = 0;
            for (int k = 0; k < ni; k++)
                rs += (tot[(size_t)i * ni + k] - T[(size_t)i * ni + k]) * t->sxx[(size_t)k * ni + j];
            q += rs * (tot[(size_t)i * ni + j] - T[(size_t)i * ni + j]);
        }
#endif
    return 0.5 * d->loss_c * ((r0 > 0 ? r0 : 0) + q);
}

double dln_test_loss(dln *d, const double *theta)
{
    double *tot = d->E; /* scratch: E is recomputed by every dln_grad */
    dln_maps(d, theta, tot);
    return dln_test_loss_of(d, tot);
}

double dln_loss_without(dln *d, const double *theta, int p)
{
    const task *t = d->task;
    int no = d->n_out, ni = d->n_in;
    double *tot = d->E;
    dln_maps(d, theta, tot);
    if (d->n_chain >= 2) { /* the total without chain p: the other chains' (lesioned) maps */
        memset(tot, 0, (size_t)no * ni * sizeof *tot);
        for (int q = 0; q < d->n_chain; q++) {
            if (q == p) continue;
            if (d->n_les[q] && !d->completion) {
                memset(d->C, 0, (size_t)no * ni * sizeof(double));
                embed_add(d, q, d->omega[q], d->C);
                lesion_project(d, q, d->C);
                for (size_t i = 0; i < (size_t)no * ni; i++)
                    tot[i] += d->C[i];
            } else
                embed_add(d, q, d->omega[q], tot);
        }
    } else
        for (int i = 0; i < no; i++)
            memset(tot + (size_t)i * ni + t->src_off[p], 0, (size_t)t->src_dim[p] * sizeof *tot);
    return dln_test_loss_of(d, tot);
}

/* ---- sampled source variances (nonlinear fused networks) -------------------------------------- */

int dln_rsv_units(const dln *d)
{
    const task *t = d->task;
    if (d->n_chain != 1 || d->depth < 2 || !t->onehot || t->n_src != 2 || d->in_dim[0] != d->n_in) return 0;
    return d->n_in * d->width;
}

typedef struct {
    dln *d;
    const double *theta;
    double *X, *H, *H2; /* (n x n) inputs of one evaluation, (w x n) hidden scratch */
} rsv_ctx;

/* Last hidden layer (after phi) for slot s = 0..n-1: source a from item (s + ia) mod n, source b from
 * item (s + ib) mod n; z[s * w + u]. */
static void rsv_eval(void *vc, int ia, int ib, float *z)
{
    rsv_ctx *c = vc;
    dln *d = c->d;
    const task *t = d->task;
    int n = d->n_in, w = d->width, D = d->depth, nb = t->src_off[1];
    memset(c->X, 0, (size_t)n * n * sizeof(double));
    for (int s = 0; s < n; s++) { /* X column s: a's part of item ja, b's part of item jb */
        int ja = (s + ia) % n, jb = (s + ib) % n;
        if (ja < nb) c->X[(size_t)ja * n + s] = 1;
        if (jb >= nb) c->X[(size_t)jb * n + s] = 1;
    }
    double *h = c->H, *h2 = c->H2;
    gemm(0, 0, w, n, n, 1.0, dln_weight(d, c->theta, 0, 1), n, c->X, n, 0.0, h, n);
    act_apply(d->cfg.act, h, (size_t)w * n);
    for (int l = 2; l < D; l++) {
        gemm(0, 0, w, n, w, 1.0, dln_weight(d, c->theta, 0, l), w, h, n, 0.0, h2, n);
        act_apply(d->cfg.act, h2, (size_t)w * n);
        double *tmp = h;
        h = h2;
        h2 = tmp;
    }
    for (int s = 0; s < n; s++)
        for (int u = 0; u < w; u++)
            z[(size_t)s * w + u] = (float)h[(size_t)u * n + s];
}

int dln_rsv_sampled(dln *d, const double *theta, double *sv_a, double *sv_b)
{
    int nu = dln_rsv_units(d);
    if (!nu)
        return util_seterr(CS_EUSAGE, "sampled source variances need a fused network (dln_cfg.arch fused, "
                                      "dln_cfg.depth >= 2) on a one-hot task with two sources");
    int n = d->n_in, w = d->width;
    rsv_ctx c = {d, theta, NULL, NULL, NULL};
    c.X = util_malloc(((size_t)n * n + 2 * (size_t)w * n) * sizeof(double));
    c.H = c.X + (size_t)n * n;
    c.H2 = c.H + (size_t)w * n;
    double *rsv = util_malloc((size_t)nu * sizeof *rsv);
    rsv_sampled(&c, rsv_eval, n, (size_t)nu, rsv, sv_a, sv_b);
    free(rsv);
    free(c.X);
    return CS_OK;
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
