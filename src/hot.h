/*
 * The fast paths - Set, Reset, Pulse, Release, a wait's first try, the
 * generic sleep and what runs right after a wake - are marked IW_HOT: GCC
 * puts them in .text.hot, which the linker keeps together.  A real-time
 * loop at 1 kHz does other work between two calls, which evicts the
 * library from the caches and the TLB: each page of code the path touches
 * then costs a page walk, and spread over the library's text the path
 * touched five or six (the wake latency figures in the README).
 */
#ifndef IW_HOT_H
#define IW_HOT_H
#define IW_HOT __attribute__((hot))
/* On the function GCC emits first into .text.hot (GCC 12 with LTO:
 * wait.c's sleep_and_poll): the section then starts on a page, and the
 * whole path (3.2 KiB: Set, Release, the single wait, the sleep, the
 * polls, the reference drop) lies in that one page.  On another function
 * the alignment would split the section in two instead: `nm -n` on the
 * library shows the layout. */
#define IW_HOT_FIRST __attribute__((hot, aligned(4096)))
#endif
