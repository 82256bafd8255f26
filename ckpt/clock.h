/* clock.h: the job's CLOCK_MONOTONIC and CLOCK_BOOTTIME, seen through the
 * time namespaces of the job and of jobfreeze itself. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

/* The clocks as process PID reads them now, in nanoseconds. */
int job_clocks(pid_t pid, int64_t *mono, int64_t *boot);
/* Writes the offsets that make a new time namespace's clocks read MONO and
 * BOOT now, to /proc/self/timens_offsets (after unshare(CLONE_NEWTIME)). */
int timens_set_clocks(int64_t mono, int64_t boot);
