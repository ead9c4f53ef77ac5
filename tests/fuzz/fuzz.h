/* fuzz.h - the fuzz harness framework: one entry point per reader of untrusted input.
 *
 * A harness tests/fuzz/fuzz_NAME.c defines
 *     int fuzz_NAME(const uint8_t *data, size_t n);
 * which feeds the bytes to one reader (through a scratch file: the readers take paths) and checks
 * what the reader promises when it accepts the input (shapes consistent with the data, every element
 * readable).  It returns 0, or -1 when such a promise is broken; a crash, a sanitizer report or an
 * abort is a failure by itself.  The file ends with FUZZ_TARGET(NAME).
 *
 * Two builds of the same harness (Makefile):
 *  - `make fuzz`: clang -fsanitize=fuzzer,address,undefined with FUZZ_LIBFUZZER defined, where
 *    FUZZ_TARGET(NAME) defines LLVMFuzzerTestOneInput; each target runs FUZZ_SECONDS seconds on its
 *    seed corpus tests/fuzz/corpus/NAME/ (new inputs go to build-fuzz/corpus/NAME/).
 *  - `make check`: the replay driver (replay.c, gcc, the normal build) runs every file of every
 *    corpus through its harness, one counted check per file.
 * Adding a harness: write fuzz_NAME.c, put seed inputs (every reproducer of a past bug) under
 * corpus/NAME/; the Makefile finds both.
 */
#ifndef CRITSIM_FUZZ_H
#define CRITSIM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Harnesses add what they read here, so that the reads are not optimised away. */
extern volatile double fuzz_sink;

/* A per-process scratch folder (created on first use, removed at exit). */
const char *fuzz_dir(void);
/* Write the n bytes to fuzz_dir()/NAME (NAME may contain sub-folders: created) and
 * return the file's path (valid until the next call). */
const char *fuzz_file(const char *name, const uint8_t *data, size_t n);

#ifdef FUZZ_LIBFUZZER
#define FUZZ_TARGET(name)                                                                                    \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);                                               \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)                                                \
    {                                                                                                        \
        fuzz_##name(data, n);                                                                                \
        return 0;                                                                                            \
    }
#else
#define FUZZ_TARGET(name)
#endif

#endif
