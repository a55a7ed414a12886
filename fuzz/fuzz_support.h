/* What every fuzz target may need: the key logs to decrypt with, and the
 * outputs of a real run pointed at /dev/null.
 */
#ifndef ENROLLMON_FUZZ_SUPPORT_H
#define ENROLLMON_FUZZ_SUPPORT_H

#include "monitor/analysis.h"
#include "monitor/tls_decrypt.h"

#include <stdio.h>

/* The key logs named by ENROLLMON_FUZZ_KEYLOG (a file, or a directory whose
 * *.keys files are all read), loaded once; NULL when unset.  With the key
 * logs of the captures the seeds came from, the seeds decrypt, and the
 * fuzzer starts inside the CAPF and HTTP conversations.  A file that
 * cannot be read aborts: a campaign must not run without what it was
 * told to use. */
const tls_keys_t *fuzz_keys_from_env(void);

/* /dev/null for writing, opened once. */
FILE *fuzz_null_stream(void);

/* Every output of a real run (EVE JSON, the report, the verdict report),
 * written to /dev/null: their formatting of hostile values is fuzzed too. */
void fuzz_add_null_sinks(analysis_t *a);

#endif
