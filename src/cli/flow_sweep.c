/* flow_sweep.c - `critsim flow --switch-sweep T1,T2,...` (the command: cmd_flow.c; shared: flow_int.h):
 * one trunk without the switch, run to the last T, and from the trunk's state at each T a branch with
 * switch@T for --continue more updates into DIR/switch_T/; DIR/switch_sweep.dat lists
 * `switch_step steps final_loss test_loss` per branch.  Exact: every branch starts from the state of one
 * deterministic trunk, as a fresh run with the same seed and switch@T would.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow_int.h"
#include "linalg.h"

/* ---- switch-sweep branches in parallel processes --------------------------------------------- */
/* The trunk runs in this process; at each switch step its state is kept, and a forked child runs the
 * branch from it (copy-on-write of the whole engine) into DIR/switch_T/, so every branch is the same
 * computation whatever the number of jobs.  While the trunk runs it occupies one of the --jobs slots.
 * A child reports its outcome through a pipe and leaves with _exit (the trunk's open tables, inherited
 * with their stdio buffers, are never flushed twice). */
typedef struct {
    int st, crc; /* flow_run_steps status, flow_out_close status */
    double final_loss, final_test;
    char why[480];
} br_result;

typedef struct {
    int n, jobs, n_ready, next, running;
    const opts *o;
    const char *out; /* the sweep's run folder */
    size_t n_param;
    double *theta; /* (n x n_param) trunk states at the switch steps */
    pid_t *pid;    /* (n) 0: not started or reaped */
    int *fd;       /* (n) read end of each child's pipe */
    br_result *res;
} br_sched;

static int br_sched_init(br_sched *bs, const opts *o, const char *out, int n, size_t n_param)
{
    long jobs;
    memset(bs, 0, sizeof *bs);
    int rc = opts_long(o, "jobs", &jobs);
    if (rc) return rc;
    if (jobs == 0) jobs = sysconf(_SC_NPROCESSORS_ONLN);
    bs->jobs = jobs < 1 ? 1 : (int)jobs;
    /* the trunk shares the cores with the branches: OpenBLAS's own threads would only contend (small
     * products; 66 s instead of 44 s for the official D = 3 sweep on 2 cores) */
    if (bs->jobs > 1) linalg_blas_threads(LINALG_BLAS_WORKER);
    bs->n = n;
    bs->o = o;
    bs->out = out;
    bs->n_param = n_param;
    bs->theta = util_malloc((size_t)n * n_param * sizeof(double));
    bs->pid = util_calloc((size_t)n, sizeof(pid_t));
    bs->fd = util_calloc((size_t)n, sizeof(int));
    bs->res = util_calloc((size_t)n, sizeof(br_result));
    return CS_OK;
}

static void br_sched_free(br_sched *bs)
{
    free(bs->theta);
    free(bs->pid);
    free(bs->fd);
    free(bs->res);
}

static void br_child(const br_sched *bs, int i, int wfd, const run_out *tmpl, dln *d, const deficit_list *dl,
                     const long *sw, long cont, int meth, double epsabs, double epsrel)
{
    br_result res;
    memset(&res, 0, sizeof res);
    linalg_blas_threads(LINALG_BLAS_WORKER);
    dln_forget_threads(d); /* the trunk's workers did not come through fork() */
    memcpy(dln_params(d), bs->theta + (size_t)i * bs->n_param, bs->n_param * sizeof(double));
    deficit_list bl = *dl;
    char spec[64], name[64], bdir[PATH_MAX];
    snprintf(spec, sizeof spec, "switch@%ld", sw[i]);
    deficit_parse(spec, &bl.d[bl.n++]);
    dln_set_deficits(d, &bl);
    snprintf(name, sizeof name, "switch_%ld", sw[i]);
    util_path(bdir, sizeof bdir, bs->out, name);
    run_out br = *tmpl;
    br.t_wall0 = util_now();
    br.first = sw[i];
    if ((res.crc = flow_out_open(&br, bs->o, d, bdir, sw[i] + cont))) {
        res.st = res.crc;
        snprintf(res.why, sizeof res.why, "%s", opts_errmsg(&cmd_flow));
    } else {
        if (tmpl->flow) dln_flow_alloc(d, (dln_stepper)meth, epsabs, epsrel, tmpl->lr * 0.1);
        long bfs = 0;
        res.st = flow_run_steps(&br, sw[i], sw[i] + cont, &bfs);
        snprintf(res.why, sizeof res.why, "%s", opts_errmsg(&cmd_flow));
        res.crc = flow_out_close(&br, res.st, bfs, res.why);
        res.final_loss = br.final_loss;
        res.final_test = br.final_test;
    }
    ssize_t w = write(wfd, &res, sizeof res);
    _exit(w == (ssize_t)sizeof res ? 0 : 3);
}

/* Reap one finished child (block: wait for one); returns 1 if one was reaped. */
static int br_reap(br_sched *bs, int block)
{
    int status;
    pid_t pid;
    do
        pid = waitpid(-1, &status, block ? 0 : WNOHANG);
    while (pid < 0 && errno == EINTR);
    if (pid < 0 && block) { /* no child left to wait for (SIGCHLD ignored by a parent?): fail the rest */
        for (int i = 0; i < bs->n; i++)
            if (bs->pid[i]) {
                memset(&bs->res[i], 0, sizeof bs->res[i]);
                bs->res[i].st = bs->res[i].crc = CS_EFAIL;
                snprintf(bs->res[i].why, sizeof bs->res[i].why, "its process could not be waited for: %s",
                         strerror(errno));
                close(bs->fd[i]);
                bs->pid[i] = 0;
            }
        bs->running = 0;
        return 0;
    }
    if (pid <= 0) return 0;
    for (int i = 0; i < bs->n; i++) {
        if (bs->pid[i] != pid) continue;
        br_result *res = &bs->res[i];
        ssize_t got;
        do
            got = read(bs->fd[i], res, sizeof *res);
        while (got < 0 && errno == EINTR);
        close(bs->fd[i]);
        if (got != (ssize_t)sizeof *res) {
            memset(res, 0, sizeof *res);
            res->st = res->crc = CS_EFAIL;
            if (WIFSIGNALED(status))
                snprintf(res->why, sizeof res->why, "its process died of signal %d", WTERMSIG(status));
            else
                snprintf(res->why, sizeof res->why, "its process ended without a result (status %d)",
                         WEXITSTATUS(status));
        }
        bs->pid[i] = 0;
        bs->running--;
        return 1;
    }
    return 1; /* not ours (cannot happen: the engine has no other children) */
}

/* Start ready branches while slots are free; with the trunk finished, wait until all have started. */
static int br_sched_launch(br_sched *bs, const run_out *tmpl, dln *d, const deficit_list *dl, const long *sw,
                           long cont, int meth, double epsabs, double epsrel, int trunk_running)
{
    int limit = trunk_running ? bs->jobs - 1 : bs->jobs;
    for (;;) {
        while (br_reap(bs, 0)) {
        }
        while (bs->running < limit && bs->next < bs->n_ready) {
            int i = bs->next, pfd[2];
            if (pipe(pfd)) return util_seterr(CS_EFAIL, "switch sweep: pipe failed: %s", strerror(errno));
            fflush(NULL);
            pid_t self = getpid(), pid = fork();
            if (pid < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return util_seterr(CS_EFAIL, "switch sweep: fork failed: %s (try --jobs 1)", strerror(errno));
            }
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed trunk (even kill -9) takes its branches along */
                if (getppid() != self) _exit(128 + SIGKILL);
                close(pfd[0]);
                br_child(bs, i, pfd[1], tmpl, d, dl, sw, cont, meth, epsabs, epsrel);
            }
            close(pfd[1]);
            bs->pid[i] = pid;
            bs->fd[i] = pfd[0];
            bs->next++;
            bs->running++;
        }
        if (trunk_running || bs->next >= bs->n) return CS_OK;
        br_reap(bs, 1);
    }
}

/* Wait for every started branch; returns the number whose outputs could not be written. */
static int br_sched_wait(br_sched *bs)
{
    while (bs->running > 0)
        br_reap(bs, 1);
    int bad = 0;
    for (int i = 0; i < bs->next; i++)
        bad += bs->res[i].crc != 0 && bs->res[i].st == CS_OK;
    return bad;
}

/* --switch-sweep T1,T2,...: one trunk without the switch, run to the last T, and from the trunk's
 * state at each T a forked branch with switch@T for `cont` more updates; switch_sweep.dat collects their
 * final losses. */
int flow_switch_sweep(const opts *o, run_out *r, dln *d, const deficit_list *dl, const char *out, long cont,
                      int meth, double epsabs, double epsrel)
{
    for (int i = 0; i < dl->n; i++)
        if (dl->d[i].kind == DEF_SWITCH) {
            return util_seterr(CS_EUSAGE,
                               "--switch-sweep sets the switch itself; drop switch@ from --deficit");
        }
    if (dl->n + 1 > DEFICIT_MAX) return util_seterr(CS_EUSAGE, "too many deficits for --switch-sweep");
    long *sw = NULL;
    int n_sw;
    int rc = opts_list_long(o, "switch-sweep", &sw, &n_sw);
    if (rc) return rc;
    for (int i = 1; i < n_sw; i++)
        if (sw[i] <= sw[i - 1]) {
            free(sw);
            return util_seterr(CS_EUSAGE, "--switch-sweep: steps must increase strictly");
        }
    table *sum = table_open(out, "switch_sweep.dat", opts_prov(o));
    if (!sum) {
        free(sw);
        return CS_EUSAGE;
    }
    table_meta(sum,
               "one trunk without switch; branch T: switch@T, %ld more updates (steps = T + %ld); official "
               "T_c = T - 1",
               cont, cont);
    table_columns(sum, "switch_step steps final_loss test_loss");
    long trunk_last = sw[n_sw - 1];
    run_out tr;
    tr = *r;
    if ((rc = flow_out_open(&tr, o, d, out, trunk_last))) {
        table_discard(sum);
        free(sw);
        return rc;
    }
    br_sched bs;
    long fs = 0;
    int st = br_sched_init(&bs, o, out, n_sw, dln_n_param(d));
    for (int i = 0; i < n_sw && st == CS_OK; i++) {
        st = flow_run_steps(&tr, i ? sw[i - 1] : 0, sw[i], &fs);
        if (st) break;
        memcpy(bs.theta + (size_t)i * dln_n_param(d), dln_params(d), dln_n_param(d) * sizeof(double));
        bs.n_ready = i + 1;
        st = br_sched_launch(&bs, r, d, dl, sw, cont, meth, epsabs, epsrel, 1);
    }
    char why[512];
    snprintf(why, sizeof why, "%s", opts_errmsg(&cmd_flow));
    if (st == CS_OK) { /* trunk done: every core serves the remaining branches */
        st = br_sched_launch(&bs, r, d, dl, sw, cont, meth, epsabs, epsrel, 0);
        snprintf(why, sizeof why, "%s", opts_errmsg(&cmd_flow));
    }
    int bad = br_sched_wait(&bs);
    int nfail = 0;
    for (int i = 0; i < n_sw && st == CS_OK; i++) {
        const br_result *b = &bs.res[i];
        table_row(sum, "%ld %ld %.17g %.17g", sw[i], sw[i] + cont, b->st ? NAN : b->final_loss,
                  b->st ? NAN : b->final_test);
        if (b->st) fprintf(stderr, "critsim flow: branch switch@%ld failed: %s\n", sw[i], b->why);
        nfail += b->st != CS_OK;
    }
    if (st == CS_OK && bad) {
        st = CS_EFAIL;
        snprintf(why, sizeof why, "a branch could not write its outputs (see the messages above)");
    }
    br_sched_free(&bs);
    rc = flow_out_close(&tr, st, fs, why);
    int s2 = st == CS_OK ? table_close(sum) : table_fail(sum, fs, why);
    if (st) {
        util_seterr(st, "%s", why);
        rc = st;
    } else if (!rc)
        rc = s2;
    if (!rc && nfail)
        rc = util_seterr(CS_EFAIL, "%d of %d switch-sweep branches failed (nan rows in switch_sweep.dat)",
                         nfail, n_sw);
    free(sw);
    return rc;
}
