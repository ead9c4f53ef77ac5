/* main.c - the critsim command: dispatch to subcommands, print errors, set exit statuses.
 *
 * Every subcommand lives in src/cli/cmd_NAME.c and defines `const cmd_def cmd_NAME`; the registry
 * (registry.c) lists them, so adding a command touches no shared file.
 * Exit status: the command's (0 ok, 1 numerical failure, 2 usage); on failure the recorded message is
 * printed as one line "critsim CMD: MESSAGE" on stderr.
 */
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

#include "linalg.h"
#include "opts.h"
#include "publish.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "critsim %s - critical learning periods in deep linear and convolutional networks\n\n"
            "usage: critsim COMMAND [--model FILE.ini] [options]   (critsim COMMAND --help for options)\n\n"
            "commands:\n",
            CS_VERSION);
    const cmd_def *const *all = cmd_all();
    for (int i = 0; all[i]; i++)
        fprintf(f, "  %-9s %s\n", all[i]->name, all[i]->summary);
    fprintf(f, "\nexit status: 0 success, 1 a run failed numerically, 2 bad usage or input\n");
}

static int declares_out(const cmd_def *cmd)
{
    for (int i = 0; cmd->specs[i].name; i++)
        if (!strcmp(cmd->specs[i].name, "out")) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off(); /* every GSL status is checked where it is returned */
    linalg_blas_idle();          /* OpenBLAS's worker would poll the other core through our set-up */
    if (argc < 2) {
        usage(stderr);
        return CS_EUSAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CS_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("critsim %s\n", CS_VERSION);
        return CS_OK;
    }
    const cmd_def *cmd = cmd_find(argv[1]);
    if (!cmd) {
        fprintf(stderr, "critsim: unknown command '%s'; run 'critsim --help' for the list\n", argv[1]);
        return CS_EUSAGE;
    }
    opts *o = NULL;
    util_clearerr();
    int rc = opts_parse(&o, cmd, argc - 1, argv + 1);
    if (rc == OPTS_HELP) return CS_OK;
    /* the run folder is marked in progress until the run has published its outputs (publish.h);
     * analyze reads run folders and writes only derived tables, so it does not mark its --out */
    const char *out =
        rc == CS_OK && strcmp(cmd->name, "analyze") != 0 && declares_out(cmd) ? opts_str(o, "out") : NULL;
    if (out && out[0])
        rc = pub_mark_begin(out, opts_cmdline(o));
    else
        out = NULL;
    if (rc == CS_OK) rc = cmd->run(o);
    if (out) pub_mark_end(out, rc);
    if (rc != CS_OK) {
        const char *msg = opts_errmsg(cmd);
        fprintf(stderr, "critsim %s: %s\n", cmd->name, msg[0] ? msg : "failed (no message recorded)");
    }
    opts_free(o);
    fflush(stdout);
    return rc;
}
