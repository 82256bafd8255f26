/* crashpoint.c: the crash hook of the test-only build (JF_CRASH_HOOKS):
 * SIGKILL, which nothing can catch or clean up after, like a power cut of
 * the process alone. */
#ifdef JF_CRASH_HOOKS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/crashpoint.h"
#include "ckpt/util.h"

static const char *const phases[] = { CRASH_PHASES };

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
