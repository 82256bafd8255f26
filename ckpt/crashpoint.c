/* crashpoint.c: the crash hook of the test-only build (JF_CRASH_HOOKS):
 * SIGKILL, which nothing can catch or clean up after, like a power cut of
 * the process alone; and the hold hook that pauses there for race tests. */
#ifdef JF_CRASH_HOOKS
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/crashpoint.h"
#include "ckpt/util.h"

static const char *const phases[] = { CRASH_PHASES };

/* JOBFREEZE_HOLD_AT=PHASE, JOBFREEZE_HOLD_FILE=F: at PHASE, makes F.held
 * and waits (at most a minute) for F to exist: a race test does the other
 * command in between, at a known point rather than by luck of timing. */
static void hold_point(const char *phase)
{
	const char *at = getenv("JOBFREEZE_HOLD_AT"), *file = getenv("JOBFREEZE_HOLD_FILE");
	char held[4096];
	int fd;

	if (!at || !file || strcmp(at, phase))
		return;
	snprintf(held, sizeof(held), "%s.held", file);
	fd = open(held, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(held);
		return;
	}
	close(fd);
	for (int i = 0; i < 6000 && access(file, F_OK) < 0; i++)
		usleep(10000);
}

void crash_point(const char *phase)
{
	const char *at = getenv("JOBFREEZE_CRASH_AT");
	bool known = false;

	for (size_t i = 0; i < ARRAY_SIZE(phases); i++)
		known |= !strcmp(phases[i], phase);
	if (!known) {
		/* a call site whose name the list lacks: the tests would miss it */
		fprintf(stderr, "crash point %s is not in CRASH_PHASES\n", phase);
		abort();
	}
	hold_point(phase);
	if (!at || strcmp(at, phase))
		return;
	/* The tests check that the crash happened where they asked. */
	dprintf(2, "jobfreeze-crashtest: crash at %s (pid %d)\n", phase, getpid());
	/* The init of a pid namespace (a restore's) ignores signals from inside
	 * it, its own SIGKILL too; its exit has the same effect: the kernel
	 * kills everything in the namespace, and nothing of ours runs. */
	if (getpid() == 1)
		_exit(128 + SIGKILL);
	kill(getpid(), SIGKILL);
	pause();
}

/* JOBFREEZE_CRASH_AT=list: the phases, one a line, for the tests. */
__attribute__((constructor)) static void list_phases(void)
{
	const char *at = getenv("JOBFREEZE_CRASH_AT");

	if (!at || strcmp(at, "list"))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++)
		printf("%s\n", phases[i]);
	exit(0);
}
#endif
