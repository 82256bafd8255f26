/* forker: a parent that forks 3 workers and waits for each by its pid.
 * Usage: forker [STEPS]
 *
 * Each worker hashes for ~2.5 s (with short sleeps), checking that its
 * parent is still the same process, writes a line to the stdout they all
 * share, and exits with a status made from its hash. The parent prints
 * each worker's status as waitpid(pid) returns it: after a thaw, the pids
 * it kept must still name its children.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 3

static int work(int me, int steps, pid_t parent)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)me;
	struct timespec nap = { 0, 10 * 1000 * 1000 };

	for (int s = 0; s < steps; s++) {
		for (int i = 0; i < 200000; i++)
			h = (h ^ (uint64_t)i) * 0x100000001b3ULL;
		if (getppid() != parent)
			return 99;
		nanosleep(&nap, NULL);
	}
	/* All write to the one stdout they share (one offset): the lines of
	 * the workers, in their order (each line as long as the others: a
	 * worker waits for those before it, whatever a freeze or a loaded
	 * machine did to their pace), then the parent's buffered ones. */
	char line[64];
	int n = snprintf(line, sizeof(line), "worker %d done: %016llx\n", me, (unsigned long long)h);
	struct stat st;
	for (int w = 0; w < 1000 && fstat(1, &st) == 0 && S_ISREG(st.st_mode) &&
	     st.st_size < (off_t)me * n; w++)
		nanosleep(&nap, NULL);
	if (write(1, line, n) != n)
		return 98;
	return (int)(h % 97) + 1;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 200;
	pid_t pids[WORKERS], me = getpid();

	for (int i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0)
			_exit(work(i, steps + 20 * i, me));
	}
	printf("forker: %d workers\n", WORKERS);
	for (int i = 0; i < WORKERS; i++) {
		int st;
		if (waitpid(pids[i], &st, 0) != pids[i]) {
			perror("waitpid");
			return 1;
		}
		printf("worker %d: %s %d\n", i, WIFEXITED(st) ? "exit" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
	return 0;
}
