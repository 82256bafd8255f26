/* unfreezable MODE PROGRAM [ARGS...]: forks a child that no tracer can
 * stop or freeze, then execs PROGRAM (the job's work). The child:
 *  - vfork: vforks a grandchild that neither execs nor exits until the
 *    file "stop" appears, so the child waits in vfork() all that time;
 *  - vforklater: vforks once the file "vfork" appears (a job that can be
 *    frozen until then), a grandchild that exits once "vforkend" does;
 *    the child then exits (PROGRAM goes on);
 *  - deadmain: starts a thread that waits for "stop", and ends its main
 *    thread with pthread_exit().
 * Both end once "stop" exists (a test makes it to end the job). */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Waits until the file NAME exists in the working directory. */
static void wait_file(const char *name)
{
	while (access(name, F_OK) != 0)
		usleep(20000);
}

static void *waiter(void *arg)
{
	(void)arg;
	wait_file("stop");
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t child;

	if (argc < 3 || (strcmp(argv[1], "vfork") && strcmp(argv[1], "vforklater") &&
			 strcmp(argv[1], "deadmain"))) {
		fprintf(stderr, "usage: unfreezable vfork|vforklater|deadmain PROGRAM [ARGS...]\n");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		if (!strncmp(argv[1], "vfork", 5)) {
			bool later = !strcmp(argv[1], "vforklater");
			if (later)
				wait_file("vfork");
			pid_t g = vfork();
			if (g == 0) {
				wait_file(later ? "vforkend" : "stop");
				_exit(0);
			}
			waitpid(g, NULL, 0);
			_exit(0);
		}
		pthread_t t;
		if (pthread_create(&t, NULL, waiter, NULL) != 0)
			_exit(1);
		pthread_exit(NULL);
	}
	usleep(100000);	/* (the child in its state before the job's work) */
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 1;
}
