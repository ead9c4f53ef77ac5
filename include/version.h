/* version.h - the build id (a hash of the source tree, computed by the Makefile) and the version
 * token of table headers, "0.1.0+ID" (semantic-versioning build metadata). */
#ifndef CRITSIM_VERSION_H
#define CRITSIM_VERSION_H

const char *cs_build_id(void);     /* 12 hex digits */
const char *cs_version_line(void); /* CS_VERSION "+" build id */

#endif
