/* sweep_int.h - what the three files of the sweep module share (sweep_grid.c, sweep_exec.c,
 * sweep_summary.c); private to them.  The module's interface is sweep.h.
 */
#ifndef CRITSIM_SWEEP_INT_H
#define CRITSIM_SWEEP_INT_H

#include "sweep.h"

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* sweep_grid.c */
char *sweep_trim(char *s); /* white space removed at both ends, in place */
void sweep_strv_push(char ***v, int *n, int *cap, const char *s);
void sweep_strv_free(char **v, int n);
int sweep_has_spec(const cmd_def *cmd, const char *name); /* the engine has option `name` */

/* sweep_exec.c */
int sweep_path_exists(const char *p);

/* sweep_summary.c: OUT/grid.dat of the grid g (ids: the point ids, in point order) */
int sweep_write_grid(const sweep_grid *g, const sweep_config *c, unsigned long long mh,
                     unsigned long long *ids);

#endif
