/* zombie: a parent with two children that have ended but that it has not
 * collected yet (one exited with status 7, one killed by SIGTERM); it
 * works for ~2.5 s, then collects them by pid and prints what it got. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	pid_t a, b;
	int st;

	a = fork();
	if (a == 0)
		_exit(7);
	b = fork();
	if (b == 0) {
		for (;;)
			pause();
	}
	kill(b, SIGTERM);
	for (int i = 0; i < 25; i++) {
		nanosleep(&nap, NULL);
		printf("tick %d\n", i);
	}
	if (waitpid(a, &st, 0) != a)
		return 1;
	printf("child a: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	if (waitpid(b, &st, 0) != b)
		return 1;
	printf("child b: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}
