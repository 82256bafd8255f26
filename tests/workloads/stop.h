/* stop.h: how a workload that works in units knows when to end.
 *
 * A job sized by an amount of work ends before the test freezes it on a
 * fast machine. These jobs work until told to stop: after each unit they
 * ask wl_stop(units done so far), which looks for the file "stop" in the
 * working directory:
 *  - absent: go on;
 *  - empty: end WL_MORE units after the one in which it was first seen.
 *    A test makes it while the job is frozen, so the thawed job goes on
 *    working for a while, then ends;
 *  - holding a number N: end after unit N. The uninterrupted run that a
 *    test compares the thawed one with (tests/run.sh reads N from the
 *    thawed job's last line): for a given N the output is the same.
 * A count on the command line (wl_stop_after) ends the job after that many
 * units instead, for the benchmarks and to try a workload by hand.
 * The last line a job prints is "NAME: stopped after N UNITS".
 */
#pragma once
#include <stdio.h>
#include <stdlib.h>

#ifndef WL_MORE
#define WL_MORE 2
#endif

static long wl_target;		/* the unit to end after; 0: not known yet */

/* A fixed count from the command line (0 or less: none). */
static inline void wl_stop_after(long units)
{
	if (units > 0)
		wl_target = units;
}

static inline int wl_stop(long done)
{
	if (!wl_target) {
		FILE *f = fopen("stop", "r");
		long n = 0;

		if (!f)
			return 0;
		if (fscanf(f, "%ld", &n) != 1 || n <= 0)
			n = done + WL_MORE;
		fclose(f);
		wl_target = n;
	}
	return done >= wl_target;
}
