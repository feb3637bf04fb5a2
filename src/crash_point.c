/* Crash points (see crash_point.h); compiled only into the tests' copy of
 * the library. */
#include "crash_point.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Placed by the linker around the section's records. */
extern struct iw_crash_point __start_iw_crash_points[];
extern struct iw_crash_point __stop_iw_crash_points[];

static pthread_once_t armed_once = PTHREAD_ONCE_INIT;
static char armed_name[128];
static unsigned armed_hit = 1;
static bool armed_stop;

/* IWIN32_CRASH_AT=<name>[:<n>]; anything malformed arms nothing. */
static void read_armed(void)
{
    const char *text = getenv("IWIN32_CRASH_AT");
    if (text == NULL || strlen(text) >= sizeof armed_name)
        return;
    strcpy(armed_name, text);
    char *colon = strchr(armed_name, ':');
    if (colon != NULL) {
        *colon = '\0';
        char *end;
        unsigned long n = strtoul(colon + 1, &end, 10);
        if (*end != '\0' || n == 0)
            armed_name[0] = '\0';
        armed_hit = (unsigned)n;
    }
}

void iw_crash_point_pass(struct iw_crash_point *point)
{
    unsigned hit = __atomic_add_fetch(&point->hits, 1, __ATOMIC_RELAXED);
    pthread_once(&armed_once, read_armed);
    if (hit == armed_hit && strcmp(point->name, armed_name) == 0) {
        if (armed_stop)
            raise(SIGSTOP);
        else
            _exit(IW_CRASH_EXIT_CODE);
    }
}

void iw_crash_point_stop_at(const char *name)
{
    pthread_once(&armed_once, read_armed);
    snprintf(armed_name, sizeof armed_name, "%s", name);
    armed_stop = true;
    /* The next pass: a forked child inherits its parent's counts. */
    armed_hit = 1;
    for (struct iw_crash_point *p = __start_iw_crash_points; p < __stop_iw_crash_points; p++)
        if (strcmp(p->name, name) == 0)
            armed_hit = __atomic_load_n(&p->hits, __ATOMIC_RELAXED) + 1;
}

size_t iw_crash_points_all(struct iw_crash_point **first)
{
    *first = __start_iw_crash_points;
    return (size_t)(__stop_iw_crash_points - __start_iw_crash_points);
}
