/* The killed-holder robustness fact printed beside iwin32-bench-sync's
 * times (bench_robust.c). */
#ifndef IWIN32_BENCH_ROBUST_H
#define IWIN32_BENCH_ROBUST_H
void bench_robustness(void);
#endif
