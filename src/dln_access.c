/* dln_access.c - read access to the linear engine's state (include/dln.h: dln_n_chain, dln_params,
 * dln_map, ...).  The struct's layout is private to the engine (src/dln_impl.h); these functions are
 * what callers see of it, so the engine can change its fields, scratch and threads without them.
 * No arithmetic here: every function returns a field, or a pointer into the engine's buffers whose
 * shape and lifetime include/dln.h states.
 */
#include "dln_impl.h"

const dln_cfg *dln_config(const dln *d)
{
    return &d->cfg;
}
const task *dln_task(const dln *d)
{
    return d->task;
}
int dln_n_chain(const dln *d)
{
    return d->n_chain;
}
int dln_depth(const dln *d)
{
    return d->depth;
}
int dln_width(const dln *d)
{
    return d->width;
}
int dln_n_out(const dln *d)
{
    return d->n_out;
}
int dln_n_in(const dln *d)
{
    return d->n_in;
}
int dln_in_dim(const dln *d, int p)
{
    return d->in_dim[p];
}
int dln_is_completion(const dln *d)
{
    return d->completion;
}
double dln_loss_scale(const dln *d)
{
    return d->loss_c;
}
size_t dln_n_param(const dln *d)
{
    return d->n_param;
}
size_t dln_chain_offset(const dln *d, int p)
{
    return d->chain_off[p];
}
double *dln_params(dln *d)
{
    return d->theta;
}
double *dln_gradient(dln *d)
{
    return d->grad;
}
const double *dln_map(const dln *d, int p)
{
    return d->omega[p];
}
const double *dln_total_map(const dln *d)
{
    return d->omega_tot;
}
const double *dln_test_map(const dln *d)
{
    return d->E; /* dln_test_loss and dln_loss_without form their total in E (dln_item.c) */
}
const double *dln_hidden(const dln *d)
{
    return d->prefix[d->depth - 1]; /* P_{D-1} of chain 0 (prefix[p * D + l], p = 0) */
}
const deficit_list *dln_deficits(const dln *d)
{
    return &d->defs;
}
int dln_n_lesions(const dln *d, int p)
{
    return d->n_les[p];
}
void dln_set_flow_nmax(dln *d, unsigned long n)
{
    d->flow_nmax = n;
}
