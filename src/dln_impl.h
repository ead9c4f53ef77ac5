/* dln_impl.h - the layout of struct dln and the engine's internal functions, private to the linear
 * engine (src/dln.c, dln_item.c, dln_completion.c, dln_kernels.c, dln_access.c).
 *
 * Callers see `dln` as an opaque type (include/dln.h) and read it through accessors (dln_n_chain,
 * dln_params, dln_map, ...), in the style of GSL's workspaces: the fields below (dimensions, the weight
 * block theta, the active deficit state, one scratch block, the ODE driver and the thread team's job
 * arguments) can change with the engine without touching a caller.  Shapes and conventions of the model
 * are in include/dln.h.  Include this header from the engine's own files only.  The functions declared
 * at the end pass work between the engine's files (dln_ for the engine's parts, dlnk_ for the kernels);
 * they are not part of the library's interface.
 */
#ifndef CRITSIM_DLN_IMPL_H
#define CRITSIM_DLN_IMPL_H

#include "dln.h"

typedef struct dln_team dln_team; /* threads of one gradient (dln.c) */
#define DLN_TEAM_MAX 8            /* members of a team at most (dln_set_threads) */

struct dln {
    dln_cfg cfg;
    const task *task;
    int n_chain, depth, width, n_out, n_in, completion;
    int in_dim[DLN_MAX_CHAIN], in_off[DLN_MAX_CHAIN];
    size_t n_param;
    size_t *w_off; /* (n_chain * depth): offset of W^p_l (l = 1..D) at [p * D + l - 1] */
    size_t chain_off[DLN_MAX_CHAIN + 1];
    double *theta; /* (n_param) all weights */
    double *grad;  /* (n_param) scratch gradient */
    double loss_c; /* 1 or n_items */
    /* active deficit state (dln_set_step) */
    unsigned long long active_mask;
    int gated[DLN_MAX_CHAIN];
    int n_les[DLN_MAX_CHAIN];
    int les_mode[DLN_MAX_CHAIN][8];
    int switched, m_eff;
    const double *tgt_active;              /* completion: active target */
    double *sxx_eff, *syx_eff, tr_syy_eff; /* item: effective statistics */
    const double *tgt_item;                /* item, no input deficit: active target T (else NULL) */
    double r0_eff;                         /* irreducible loss tr Syy - <T, Syx> (mean form) */
    deficit_list defs;
    /* scratch, carved from one block */
    double *scratch;
    double **prefix;              /* [p * D + l], l = 1..D-1: (dims[l] x in_dim[p]); completion: transposed */
    double **suffix;              /* [l], l = 1..D-1: (n_out x dims[l]) */
    double *omega[DLN_MAX_CHAIN]; /* (n_out x in_dim[p]) raw end-to-end maps */
    double *omega_tot, *E, *C;    /* (n_out x n_in) */
    double *Gp;                   /* (n_out x n_in) */
    double *A, *A2;               /* (width x n_in) or (n_in x width); A2 completion only */
    double *resid;                /* (n_obs) */
    int *row_ptr, *row_k, *row_c; /* completion: observed entries grouped by row (CSR): index k, column */
    int *col_ptr, *col_k, *col_r; /* ... and by column: index k, row */
    double *vec;                  /* (max dim) */
    double *nl_x, *nl_y;          /* nonlinear chains: (max(width, n_out) x n_in) backward buffers */
    float *sp;                    /* cfg.single: one block for the float32 step (dln_completion.c) */
    /* gradient flow */
    void *ode;
    long n_rhs;
    unsigned long flow_nmax; /* ReLU: solver steps allowed per dln_flow_advance (DLN_RELU_NMAX) */
    /* threads (dln_set_threads): the completion gradient of one chain, the item step of 2+ pathways */
    double *fx;     /* the fused linear engine's scratch (dln_item.c, fx_scratch; allocated at first use) */
    int reference;  /* dln_use_reference */
    dln_team *team; /* NULL: one thread */
    const double *job_theta; /* arguments of the running team job */
    double *job_grad;
    double job_lr, job_loss; /* the item step's (grad_items on a team): learning rate in, loss out */
};

/* ---- internal: between the engine's files ---------------------------------------------------- */

/* dln.c: the team of threads (dln_set_threads).  dln_team_run runs job(d, tid) on every member (the
 * caller is member 0) and returns when all have finished; dln_team_barrier waits for every member (a
 * no-op for NULL or one member); dln_team_size: the number of members (1 for NULL). */
void dln_team_run(dln_team *tm, dln *d, void (*job)(dln *, int));
void dln_team_barrier(dln_team *tm, int tid);
int dln_team_size(const dln_team *tm);

/* dln_item.c: item tasks.  dln_items_fused: the fused linear engine applies (linear chains, an item
 * task, dln_use_reference not set).  dln_items_grad: the loss at theta and, grad != NULL, its gradient;
 * grad NULL (fused engine only): theta (= d->theta) -= lr * gradient in the same pass. */
int dln_items_fused(const dln *d);
double dln_items_grad(dln *d, const double *theta, double *grad, double lr);

/* dln_completion.c: matrix completion.  dln_completion_grad: the loss at theta and its gradient into
 * grad; dln_single_gd_step: one float32 GD step of d->theta (cfg.single), returning the loss. */
double dln_completion_grad(dln *d, const double *theta, double *grad);
double dln_single_gd_step(dln *d, double lr);

/* dln_kernels.c (their arithmetic: the file's opening comment).  dlnk_gemm: C = alpha op(A) op(B) +
 * beta C, row-major.  dlnk_fx_fwd: C (m x n) = W (m x k) B (k x n).  dlnk_fx_back: one layer of the fused
 * backward pass, W (m x k), Hin (m x n), PT (n x k, NULL: identity), Hout (k x n, NULL: not formed) =
 * W^T Hin; then the layer gradient Hin PT into G, or, G NULL, W -= lr * gradient.  dlnk_act_apply:
 * x <- phi(x); dlnk_act_backward: g <- g .* phi'(z), phi' read from y = phi(z). */
void dlnk_gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A, int lda, const double *B,
               int ldb, double beta, double *C, int ldc);
/* rows [r0, r0 + m) of a product of m_full rows (alpha 1, beta 0; A points at row r0 of op(A), C at row r0
 * of C): the kernel is chosen by the whole product's shape, so the rows are the same bit for bit however
 * the product is split between threads (when the small kernel fits the whole product, or on one thread) */
void dlnk_gemm_rows(int m_full, int ta, int tb, int m, int n, int k, const double *A, int lda,
                    const double *B, int ldb, double *C, int ldc);
void dlnk_fx_fwd(int m, int n, int k, const double *W, const double *B, double *C);
void dlnk_fx_back(int m, int k, int n, double *W, const double *Hin, const double *PT, double *Hout,
                  double lr, double *G);
void dlnk_act_apply(dln_act a, double *x, size_t n);
void dlnk_act_backward(dln_act a, const double *y, double *g, size_t n);

#endif
