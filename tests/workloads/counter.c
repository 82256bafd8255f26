/* counter: the demo job. Prints an increasing counter every 0.2 s.
 *
 * Usage: counter [N]   stops after N lines (default 15, about 3 s);
 *                      N = 0 counts forever.
 *
 * Each line is flushed as it is printed, so `tail -f` on the output shows
 * the job pausing while frozen and going on from where it was after a thaw.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 0) : 15;

	for (long i = 1; n <= 0 || i <= n; i++) {
		struct timespec ts = { 0, 200 * 1000 * 1000 }, rem;

		while (nanosleep(&ts, &rem) && errno == EINTR)
			ts = rem;
		printf("counter: %ld\n", i);
		fflush(stdout);
	}
	return 0;
}
