/* dln_impl.h - the layout of struct dln, private to the linear engine (src/dln.c, src/dln_access.c).
 *
 * Callers see `dln` as an opaque type (include/dln.h) and read it through accessors (dln_n_chain,
 * dln_params, dln_map, ...), in the style of GSL's workspaces: the fields below (dimensions, the weight
 * block theta, the active deficit state, one scratch block, the ODE driver and the thread team's job
 * arguments) can change with the engine without touching a caller.  Shapes and conventions of the model
 * are in include/dln.h.  Include this header from the engine's own files only.
 */
#ifndef CRITSIM_DLN_IMPL_H
#define CRITSIM_DLN_IMPL_H

#include "dln.h"

typedef struct dln_team dln_team; /* threads of one gradient (dln.c) */

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
    float *sp;                    /* cfg.single: one block for the float32 step (dln.c, single_*) */
    /* gradient flow */
    void *ode;
    long n_rhs;
    unsigned long flow_nmax; /* ReLU: solver steps allowed per dln_flow_advance (DLN_RELU_NMAX) */
    /* threads (dln_set_threads): the completion gradient of one chain, the item step of 2+ pathways */
    double *fx;     /* the fused linear engine's scratch (dln.c, fx_scratch; allocated at its first use) */
    int reference;  /* dln_use_reference */
    dln_team *team; /* NULL: one thread */
    const double *job_theta; /* arguments of the running team job */
    double *job_grad;
    double job_lr, job_loss; /* the item step's (grad_items on a team): learning rate in, loss out */
};

#endif
