/* publish.h - atomic publication of files: the project's one way to write a file under its final name.
 *
 * A file is written under a fresh temporary name in the folder of its final name and renamed onto the
 * final name only once everything was written without error, so a reader sees either the previous
 * file or the complete new one, never a half-written one.  The temporary name is DIR/.NAME.tmp.XXXXXX
 * with six random characters, created with open(O_CREAT | O_EXCL | O_NOFOLLOW): a file or a symbolic
 * link planted at a predictable name can neither be overwritten nor redirect the write (O_EXCL fails
 * on any existing name, a link included; another name is drawn).  rename() replaces a link at the
 * final name itself and never writes through it.  Paths are allocated, never truncated: a name the
 * system cannot hold (ENAMETOOLONG) is an error with a message, like any other I/O error.
 *
 * Errors record one line naming the final path (util_seterr) and return CS_EUSAGE: a file that cannot
 * be written is an input/environment problem (full or read-only disk, missing folder), not a numerical
 * failure.  The temporary file is removed on every failure path.
 *
 * Non-goals: fsync of the folder after rename (PUB_SYNC syncs the file's data, which is what a
 * checkpoint that is resumed from needs); locking against two writers (the last rename wins).
 */
#ifndef CRITSIM_PUBLISH_H
#define CRITSIM_PUBLISH_H

#include <stddef.h>
#include <stdio.h>

enum { PUB_SYNC = 1 }; /* fsync the data before the rename (checkpoints) */

typedef struct pub pub;

/* Start writing PATH: the temporary file is created in PATH's folder (which must exist).  NULL with
 * the error recorded on failure. */
pub *pub_open(const char *path, int flags);
/* The stream to write to (fully buffered). */
FILE *pub_stream(pub *p);
/* The temporary file's name (for a writer that reads back what it wrote). */
const char *pub_tmp_path(const pub *p);
/* Flush, check for write errors, (fsync), close and rename onto the final name; frees p.  CS_OK or
 * CS_EUSAGE with the error recorded (the temporary file removed). */
int pub_commit(pub *p);
/* Close and remove the temporary file without publishing; frees p (NULL is a no-op). */
void pub_abort(pub *p);

/* Convenience: publish PATH with the n bytes at data. */
int pub_write(const char *path, const void *data, size_t n, int flags);
/* Convenience: publish a copy of the file FROM as TO. */
int pub_copy(const char *from, const char *to, int flags);

/* Run-folder marker DIR/.in-progress (one line: the pid and the command).  pub_mark_begin creates DIR
 * (mkdir -p) and the marker before a run writes anything; pub_mark_end removes it once the run has
 * published its outputs (status CS_OK, or CS_EFAIL after the FAILED tables).  A run that stops with
 * a usage/I/O error (CS_EUSAGE) keeps the marker if it published anything since pub_mark_begin (a
 * folder with some new and some old files), and otherwise removes it (and DIR, when pub_mark_begin
 * created it and it is empty).  Readers of run folders (analyze, sweep --merge) refuse a marked folder
 * with pub_check_unmarked.  A run restarted on its folder (cnn --resume, a restarted sweep) marks it
 * again and clears it when done; nothing is ever deleted but the marker. */
#define PUB_MARKER ".in-progress"
int pub_mark_begin(const char *dir, const char *what);
void pub_mark_end(const char *dir, int status);
/* CS_OK, or CS_EUSAGE naming the folder when it carries the marker; `what` names the folder's role. */
int pub_check_unmarked(const char *dir, const char *what);

#endif
