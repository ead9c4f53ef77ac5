/* version.c - the build id: a hash of the source tree (Makefile, src/, include/) computed at build
 * time into build/buildid.h.  CS_VERSION alone stays the same across changes; the build id tells two
 * builds apart in table headers ("# critsim 0.1.0+ID: NAME"), so that merging sweep shards of
 * different builds can be refused. */
#include "version.h"

#include "buildid.h"
#include "util.h"

const char *cs_build_id(void)
{
    return CS_BUILD_ID;
}

const char *cs_version_line(void)
{
    return CS_VERSION "+" CS_BUILD_ID;
}
