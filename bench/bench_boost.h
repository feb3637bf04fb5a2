/*
 * Boost.Interprocess as a peer column in iwin32-bench-shm and
 * iwin32-bench-sync (issue 11): C entry points into bench_boost.cpp, built
 * only where the Boost headers are found (IWIN32_BENCH_BOOST defined).
 * Names are Boost's (no leading '/'); the objects live in /dev/shm
 * (shared memory: "<name>", mutex and semaphore: "sem.<name>").
 */
#ifndef IWIN32_BENCH_BOOST_H
#define IWIN32_BENCH_BOOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* n cycles of shared_memory_object(create_only) + truncate + mapped_region
 * + a write to every page + unmap + remove. */
void bip_shm_create(const char *name, uint32_t size, unsigned n);
/* n cycles of shared_memory_object(open_only) + mapped_region + a read of
 * every page + unmap, of an object made by bip_shm_make. */
void bip_shm_open(const char *name, uint32_t size, unsigned n);
void bip_shm_make(const char *name, uint32_t size);

/* A named_mutex and a named_semaphore (initial count 0) under `prefix`. */
void bip_sync_setup(const char *prefix);
double bip_mutex(unsigned n);  /* ns per lock + unlock, uncontended */
double bip_sem(unsigned n);    /* ns per post + wait */
void bip_sync_teardown(void);

/* A child process locks a named_mutex and is SIGKILLed; then
 * timed_lock(now + ms) here.  Returns 1 if the lock was taken (the mutex
 * was freed with its holder), 0 if the timed lock timed out (it stayed
 * locked), -1 on an error (message in err). */
int bip_killed_holder(const char *name, unsigned ms, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
