/* pidwrap: forks children that exit at once until the kernel hands out a
 * pid smaller than the first one it gave: the pids have wrapped around, as
 * they do every few seconds on a busy machine with the usual pid_max of
 * 32768. A test runs it to make a process started later have a smaller pid
 * than one started before. Gives up after pid_max + 1000 forks (exit 1);
 * exit 2 when pid_max is too large to wrap in a test's time.
 *
 * pidwrap PID CMD...: forks until a child gets PID (free again: its
 * process ended), which then runs CMD; an old pid taken by a new process,
 * as a busy machine does. Exit 1 if three rounds of the pids did not give
 * it (another process took it). */
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

/* Children until one is TARGET, which runs CMD. */
static int take(pid_t target, char **cmd, long max)
{
	for (volatile long i = 0; i < 3 * max; i++) {
		pid_t p = vfork();
		if (p < 0) {
			perror("pidwrap: vfork");
			return 1;
		}
		if (p == 0) {
			if (getpid() == target) {
				execvp(cmd[0], cmd);
				_exit(127);
			}
			_exit(0);
		}
		if (p == target)
			return 0;
		if (waitpid(p, NULL, 0) < 0) {
			perror("pidwrap: waitpid");
			return 1;
		}
	}
	fprintf(stderr, "pidwrap: pid %d did not come in three rounds of the pids\n", (int)target);
	return 1;
}

int main(int argc, char **argv)
{
	long max = pid_max();
	pid_t first = -1;

	if (max < 0)
		return 1;
	if (max > 200000) {
		fprintf(stderr, "pidwrap: pid_max is %ld: too many forks to wrap around\n", max);
		return 2;
	}
	if (argc > 2)
		return take((pid_t)atoi(argv[1]), argv + 2, max);
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
