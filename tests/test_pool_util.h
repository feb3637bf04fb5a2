/*
 * What the pool tests share (test_pool.c: the accounting and the
 * IWIN32_POOL_MB setting; test_pool_churn.c: iwin32PoolInfo and refusals
 * under churn): their node, made with IWIN32_POOL_MB=4, and its size.
 */
#ifndef IWIN32_TEST_POOL_UTIL_H
#define IWIN32_TEST_POOL_UTIL_H
#include <stdlib.h>

#include "test_node.h"

#define MIB (1u << 20)
#define POOL (4u * MIB)

/* tn_setup(), and the node's pool 4 MiB (POOL): the library makes the node
 * on its first call, with the pool IWIN32_POOL_MB gives. */
static inline void pool_setup(const char *test_name)
{
    tn_setup(test_name);
    setenv("IWIN32_POOL_MB", "4", 1);
}
#endif
