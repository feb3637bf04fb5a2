/*
 * What both fuzz harnesses share: a private node for the process, the
 * check that nothing is left in it, and how a broken invariant is reported.
 *
 * fz_node_setup() runs from LLVMFuzzerInitialize, before the first library
 * call: it makes /dev/shm/iwin32-fuzz-<harness>-XXXXXX (the "base") and
 * points IWIN32_ROOT at its subdirectory "node", which the library creates.
 * The base is removed when the process exits normally (libFuzzer ends a
 * -max_total_time or -runs session with exit()); a crash leaves it for
 * inspection.
 */
#ifndef IWIN32_FUZZ_NODE_H
#define IWIN32_FUZZ_NODE_H
#include <stdio.h>
#include <stdlib.h>

#include <iwin32.h>

/* The last error set before a call whose success must leave it alone. */
#define FZ_SENTINEL ((DWORD)0xC0FFEEu)

/* A broken invariant: say which and abort(), which libFuzzer reports as a
 * crash and saves the input for. */
#define FZ_CHECK(cond, ...)                                                            \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* Makes the private node; pool_mb, when not 0, becomes IWIN32_POOL_MB. */
void fz_node_setup(const char *harness, unsigned pool_mb);

/* Object files in the node ("n-", "h-", "u-", "t-"); the only one, if
 * exactly one, is copied into only (IW_FILE_NAME_SIZE bytes), else only[0]
 * is 0.  Aborts if the base holds anything but the node: no name may reach
 * outside the node directory. */
int fz_node_objects(char *only);

/* Aborts unless the node holds no object file and the pool is empty. */
void fz_check_node_empty(void);
#endif
