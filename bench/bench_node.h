/*
 * A benchmark's private node and its clean-up, shared by the benchmarks.
 */
#ifndef BENCH_NODE_H
#define BENCH_NODE_H

/* Names the node /dev/shm/iwin32-<tag>-<pid> in IWIN32_ROOT (made by the
 * library's first call). */
void bench_node_use(const char *tag);

/* Removes the node with every file in it, once; nothing if none was named. */
void bench_node_remove(void);

/* Unlinks every file of dir whose name starts with prefix ("": all). */
void bench_remove_matching(const char *dir, const char *prefix);
#endif
