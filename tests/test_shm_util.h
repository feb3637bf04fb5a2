/*
 * What the shared-memory tests share (test_shm.c: Create/Open results,
 * parameter errors, mappings, the real-time guarantees; test_shm_names.c:
 * names): a snapshot of the node, to show that a failed call left nothing
 * behind, and ASSERT_FAILS, which checks it.
 */
#ifndef IWIN32_TEST_SHM_UTIL_H
#define IWIN32_TEST_SHM_UTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <iwin32.h>

#include "test_node.h"

/* What the node holds, to show that a failed call left nothing behind. */
struct snapshot {
    char files[8192];
    uint64_t used;
};

/* The pool first: its query makes the node (".node") where no call has yet,
 * which a listing taken before it would not show. */
static inline void snap(struct snapshot *s)
{
    s->used = tn_pool_used();
    tn_list_dir(tn_root(), s->files, sizeof s->files);
}

static inline void assert_unchanged(const struct snapshot *before)
{
    struct snapshot now;
    snap(&now);
    assert_string_equal(now.files, before->files);
    assert_int_equal(now.used, before->used);
}

/* A failed Create/Open: NULL, the expected error, and nothing new in the node. */
#define ASSERT_FAILS(call, err)                                                               \
    do {                                                                                      \
        struct snapshot before_;                                                              \
        snap(&before_);                                                                       \
        SetLastError(SENTINEL);                                                               \
        HANDLE h_ = (call);                                                                   \
        DWORD e_ = GetLastError();                                                            \
        assert_null(h_);                                                                      \
        assert_int_equal(e_, (err));                                                          \
        assert_unchanged(&before_);                                                           \
    } while (0)
#endif
