/* pidwrap: forks children that exit at once until the kernel hands out a
 * pid smaller than the first one it gave: the pids have wrapped around, as
 * they do every few seconds on a busy machine with the usual pid_max of
 * 32768. A test runs it to make a process started later have a smaller pid
 * than one started before. Gives up after pid_max + 1000 forks (exit 1);
 * exit 2 when pid_max is too large to wrap in a test's time. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static long pid_max(void)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	long max = -1;

	if (!f) {
		perror("/proc/sys/kernel/pid_max");
		return -1;
	}
	if (fscanf(f, "%ld", &max) != 1)
		max = -1;
	fclose(f);
	return max;
}

int main(void)
{
	long max = pid_max();
	pid_t first = -1;

	if (max < 0)
		return 1;
	if (max > 200000) {
		fprintf(stderr, "pidwrap: pid_max is %ld: too many forks to wrap around\n", max);
		return 2;
	}
	for (long i = 0; i < max + 1000; i++) {
		pid_t p = vfork();
		if (p < 0) {
			perror("pidwrap: vfork");
			return 1;
		}
		if (p == 0)
			_exit(0);
		if (waitpid(p, NULL, 0) < 0) {
			perror("pidwrap: waitpid");
			return 1;
		}
		if (first < 0)
			first = p;
		else if (p < first)
			return 0;
	}
	fprintf(stderr, "pidwrap: the pids did not wrap around in %ld forks\n", max + 1000);
	return 1;
}
