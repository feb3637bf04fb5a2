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
#endif
