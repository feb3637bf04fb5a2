/*
 * The fast paths are kept in two page-aligned pages of code, one per side
 * of a wake: a real-time loop at 1 kHz does other work between two calls,
 * which evicts the library from the caches and the TLB, and each page of
 * code a path touches then costs a page walk (spread over the library's
 * text, the path touched five or six: the wake latency figures in the
 * README).
 *
 *   IW_HOT_WAIT    a wait's first try, the generic sleep and what runs
 *                  right after a wake, up to the wait's return;
 *   IW_HOT_SIGNAL  Set and Release, up to the wake call.
 *
 * Each macro names a section that cmake/hot_text.ld places in an output
 * section of its own, aligned to a page; tests/check_hot_text.cmake fails
 * an optimized build's tests when either outgrows its page.  One page for
 * both no longer fits (4.2 KiB), and a waiter and a waker are usually two
 * processes, each touching its own side alone.  Without the script (the
 * static library, linked by the user) the sections land in .text,
 * together.
 */
#ifndef IW_HOT_H
#define IW_HOT_H
#define IW_HOT_WAIT __attribute__((hot, section(".text.iwin32_wait")))
#define IW_HOT_SIGNAL __attribute__((hot, section(".text.iwin32_signal")))
#endif
