/* flow_int.h - what the three files of `critsim flow` share (cmd_flow.c, flow_run.c, flow_sweep.c);
 * private to them.  The command itself is cmd_flow (registry.c).
 *
 *   cmd_flow.c    options -> task_cfg, dln_cfg, deficits, initial weights; the command's run()
 *   flow_run.c    one run folder: its tables (loss.dat, modes.dat, sv.dat, final.dat, weights, snap/) and
 *                 the steps (GD or gradient flow) that fill them
 *   flow_sweep.c  --switch-sweep: the trunk and its forked branches, switch_sweep.dat
 */
#ifndef CRITSIM_FLOW_INT_H
#define CRITSIM_FLOW_INT_H

#include "deficit.h"
#include "dln.h"
#include "opts.h"
#include "snap.h"
#include "table.h"
#include "task.h"
#include "util.h"

extern const cmd_def cmd_flow; /* messages: opts_errmsg(&cmd_flow) names the options */

/* One run folder being written: the run's settings (filled by the caller before flow_out_open), its
 * open tables and scratch (from `loss` on, set by flow_out_open), the last recorded losses. */
typedef struct {
    const opts *o;
    dln *d;
    const task *t;
    int flow; /* 0: gd */
    double lr, t_wall0;
    long every, snap_every, last, first;
    int sv_top;
    char dir[PATH_MAX];
    table *loss, *modes, *sv;
    snap_writer *snap;
    double *K, *svals, *buf; /* scratch */
    const double *v0;        /* the task's V when square (rank = n_in): starting basis of linalg_sv_small */
    int fused_hidden;
    int n_units;         /* nonlinear fused runs: sampled SV_a, SV_b per snapshot (dln_rsv_sampled) */
    double *sva, *svb;   /* (n_units) */
    char act_line[160];  /* the provenance line naming the activation */
    char prec_line[160]; /* ... and the precision */
    double final_loss, final_test;
} run_out;

/* flow_run.c */
/* Open DIR's tables (loss.dat, modes.dat, sv.dat; snap/ unless snap_every = 0) for a run to step `last`;
 * everything from r->loss on is reset.  On failure nothing is left open. */
int flow_out_open(run_out *r, const opts *o, dln *d, const char *dir, long last);
/* Close the tables (status != CS_OK: marked FAILED at fail_step with `why`), write the weights and
 * final.dat, free the scratch; returns status, or else the first I/O error. */
int flow_out_close(run_out *r, int status, long fail_step, const char *why);
/* Advance dln_params(d) from step s0 to s1, recording at multiples of every and at r->last. */
int flow_run_steps(run_out *r, long s0, long s1, long *fail_step);

/* flow_sweep.c: --switch-sweep T1,T2,... from the state of d (initialised) with the settings of r */
int flow_switch_sweep(const opts *o, run_out *r, dln *d, const deficit_list *dl, const char *out, long cont,
                      int meth, double epsabs, double epsrel);

#endif
