/* registry.c - the command registry: every subcommand by name, for main.c and for `critsim sweep`.
 *
 * Each src/cli/cmd_NAME.c defines `const cmd_def cmd_NAME`; the Makefile generates build/cmds.inc
 * (one CMD(NAME) line per file, sorted), so adding a command touches no shared file.  Kept apart from
 * main.c so that the sweep executor and the tests link the commands without the program's main(). */
#include <string.h>

#include "opts.h"

#define CMD(n) extern const cmd_def cmd_##n;
#include "cmds.inc"
#undef CMD

static const cmd_def *const registry[] = {
#define CMD(n) &cmd_##n,
#include "cmds.inc"
#undef CMD
    NULL};

const cmd_def *const *cmd_all(void)
{
    return registry;
}

const cmd_def *cmd_find(const char *name)
{
    for (int i = 0; registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}
