/* task.h - the learning tasks of the full-matrix linear engine (`critsim flow`): exact population
 * statistics of multi-source regression tasks, and deep matrix completion.
 *
 * Item tasks (hier, lowrank, latent, statistics from files) are described by their second moments
 *   Sigma_xx = E[x x^T]  (n_in x n_in),  Sigma_yx = E[y x^T]  (n_out x n_in),  tr Sigma_yy,
 * and the squared loss of a linear map Omega (n_out x n_in) is, exactly and without sampling,
 *   L_mean(Omega) = 1/2 E||y - Omega x||^2 = 1/2 [tr Syy - 2 <Omega, Syx> + <Omega Sxx, Omega>],
 *   L_sum = n_items * L_mean   (the official multipath code's 0.5 * MSELoss(reduction='sum')).
 * The "target map" is the least-squares optimum T = Syx Sxx^+ (n_out x n_in); its thin SVD
 * T = U diag(s) V^T gives the fixed singular vectors against which K_p = U^T Omega_p V is read
 * (U (n_out x rank), V (n_in x rank) -- V itself, not V^T --, s descending; rank = min(n_out, n_in)).
 *   hier     : the 8-item / 15-feature hierarchy of docs/theory.md#tasks; one-hot items, X = I_8, so
 *              Sxx = I/8, Syx = Y^T/8, T = Y^T (singular values sqrt15, sqrt7, sqrt3, sqrt3, 1, 1, 1, 1).
 *   lowrank  : one-hot items like hier (Sxx = I/n_in, n_items = n_in) with a random target
 *              T = U diag(sv) V^T (Haar-random U, V) of chosen singular values sv.
 *   latent   : population task (n_items = 1) built from independent N(0, I_k) latents
 *              zeta = [z_s, z_1..z_P, n, u]:  x_p = A_p (sqrt(1-g) m_p + sqrt(g) (n + [p = last] u)) + eps_p,
 *              m_p = sqrt(rho) z_s + sqrt(1-rho) z_p, eps_p ~ N(0, noise_p I);
 *              y = C (sqrt(1-g) (sqrt(rho) z_s + sqrt(1-rho) sum_p z_p / sqrt(P)) + sqrt(g) u).
 *              rho = redundancy (rho = 1: every source carries the same signal), g = synergy (the part
 *              of y that only the difference x_last - x_first reveals; the first source alone carries
 *              none of it).  A_p (d_p x k) random semi-orthogonal, C (n_out x k) random orthogonal
 *              columns times 1.  Sxx, Syx, Syy follow exactly from the linear maps.
 *   file     : --sigma-xx / --sigma-yx given (n_items = 1); tr Syy = <T, Syx> (noise-free outputs).
 *   item task with --target FILE : one-hot items with that target map (like lowrank).
 * The one-hot tasks (hier, lowrank, --target) have explicit input samples, the n_in items x_j = e_j
 * (task.onehot = 1), so a network that is not linear can be evaluated on them; latent and file tasks
 * exist only as moments.
 * Completion (docs/theory.md#deep-matrix-factorisation): target matrix M* (n_out x n_in); m observed entries
 * (row, col), 0-based, in a fixed order ("the first M" for subset deficits).  Generated:
 * M* = A B^T / sqrt(r), A, B i.i.d. N(0,1), rescaled so that ||M*||_F^2 = n_out * n_in; positions drawn
 * uniformly without replacement.  The second target (switch) has rank rank2 and the same positions.
 *
 * Sources: the input is the concatenation of n_src source blocks, source p occupying columns
 * [src_off[p], src_off[p] + src_dim[p]).
 *
 * Non-goals: sampled mini-batches, biases, non-square losses.
 */
#ifndef CRITSIM_TASK_H
#define CRITSIM_TASK_H

#define TASK_MAX_SRC 16

typedef enum { TASK_HIER, TASK_LOWRANK, TASK_LATENT, TASK_COMPLETION, TASK_FILE } task_kind;

typedef struct {
    task_kind kind;
    /* sources (0: one per pathway, split evenly); src_dims (n_src values) or NULL */
    int n_src;
    const int *src_dims;
    unsigned long seed;
    /* lowrank */
    int n_out, n_in;
    const double *sv;
    int n_sv;
    /* latent */
    int latent_dim;
    double redundancy, synergy;
    const double *noise_var; /* n_noise values, one per source (or one for all); may be NULL */
    int n_noise;
    /* completion */
    int n, rank1, rank2, n_obs;
    /* files (NULL: not given) */
    const char *target_file, *target2_file, *observed_file, *sxx_file, *syx_file;
    int need_target2; /* generate a second target when no file is given */
} task_cfg;

typedef struct {
    task_kind kind;
    int n_out, n_in;
    int n_src, src_dim[TASK_MAX_SRC], src_off[TASK_MAX_SRC];
    double n_items; /* P: sum loss = P * mean loss */
    int onehot;     /* 1: explicit inputs, the n_in one-hot items (X = I; hier, lowrank, --target);
                       0: given by moments only (latent, statistics files) or completion */
    double *sxx;    /* (n_in x n_in) item tasks; NULL for completion */
    double *syx;    /* (n_out x n_in) item tasks; NULL for completion */
    double tr_syy;
    double *target;  /* (n_out x n_in) T (item) or M* (completion) */
    double *target2; /* second target or NULL */
    double *syx2;    /* Syx of the second target (= T2 Sxx) or NULL */
    double tr_syy2;
    int rank;          /* min(n_out, n_in) */
    double *U, *s, *V; /* U (n_out x rank), s (rank), V (n_in x rank) of the target */
    int n_obs;
    int *obs_r, *obs_c; /* (n_obs) 0-based positions, completion only */
} task;

/* Build the task (files read, dimensions checked).  CS_OK or CS_EUSAGE with a message naming the file,
 * the task_cfg field ("task_cfg.rank1": the command layer writes its option instead) and the fix.  On
 * failure *t is left freed. */
int task_build(const task_cfg *c, task *t);
void task_free(task *t); /* NULL-safe; zeroes the struct */

/* The hierarchical 15 x 8 matrix Y^T of docs/theory.md#tasks (row = feature, column = item). */
void task_hier_yt(double *yt);

/* Mean loss of an item task's map Omega under statistics (sxx, syx, tr_syy): exact formula above. */
double task_item_loss(int n_out, int n_in, const double *sxx, const double *syx, double tr_syy,
                      const double *omega);

const char *task_kind_name(task_kind k);

/* npy_load_matrix with the error message kept on one line. */
int task_load_matrix(const char *path, const char *what, int *rows, int *cols, double **data);

#endif
