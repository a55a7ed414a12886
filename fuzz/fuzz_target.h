/* The two entry points every fuzz target defines: libFuzzer's, also called
 * by replay_main.c (the driver used when no fuzzing engine is linked).
 */
#ifndef ENROLLMON_FUZZ_TARGET_H
#define ENROLLMON_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

/* Once, before the first input (load keys, open /dev/null, ...). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One input.  Returns 0 (libFuzzer's contract); a bug aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
