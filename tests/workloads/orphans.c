/* orphans: processes of sessions made inside the job that were reparented
 * to the job's root, a child subreaper, when the process that forked them
 * exited (the shapes of ZDTM's session00, session01 and
 * child_subreaper_and_reparent). R makes itself a child subreaper and
 * leads a session of its own.
 *  - D forks D1 and exits: D1 stays in R's session, a child of R.
 *  - N calls setsid(), forks N1 (which forks N1c), N2 (which makes a group
 *    of its own) and Z (which exits at once), and exits: the session N and
 *    the group N live on without their leader; N1, N2 and the zombie Z are
 *    R's children.
 *  - S calls setsid(), forks H, which forks S1 and exits; S collects H and
 *    then makes itself a child subreaper: S1, in S's session, is R's child.
 * Every live process prints, ~each 100 ms for ROUNDS rounds, its session,
 * group and parent by the name of their process, and whether they are
 * still those it had once set up (R's parent is not the job's: not
 * checked). Lines interleave: compare sorted. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { R, D, D1, N, N1, N1C, N2, Z, S, H, S1, NR };
static const char *const names[NR] = { "R", "D", "D1", "N", "N1", "N1c", "N2", "Z", "S", "H", "S1" };
/* the processes that live on (the others have exited) */
static const int live[] = { R, D1, N1, N1C, N2, S, S1 };
#define NR_LIVE (sizeof(live) / sizeof(live[0]))
#define ROUNDS 30

struct shared {
	volatile pid_t pid[NR];
	volatile int ready;
};
static struct shared *sh;
static int me;
#include "named.h"


/* Until the process that forked me has exited and I am R's. */
static void until_orphaned(void)
{
	while (getppid() != sh->pid[R])
		nap_ms(1);
}

/* Set up: waits until every live process is, then prints its rounds. */
static void run(void)
{
	pid_t sid, pgid, ppid;

	__sync_fetch_and_add(&sh->ready, 1);
	while (sh->ready < (int)NR_LIVE)
		nap_ms(1);
	sid = getsid(0);
	pgid = getpgrp();
	ppid = getppid();
	for (int r = 0; r < ROUNDS; r++) {
		bool same = getsid(0) == sid && getpgrp() == pgid && (me == R || getppid() == ppid);
		printf("%s %02d sid=%s pgrp=%s ppid=%s %s\n", names[me], r, name_of(getsid(0)),
		       name_of(getpgrp()), me == R ? "-" : name_of(getppid()), same ? "same" : "CHANGED");
		nap_ms(100);
	}
}

static void leaf(void)
{
	run();
	exit(10 + me);
}

int main(void)
{
	if (named_start() < 0)
		return 2;
	if (setsid() < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("setsid/PR_SET_CHILD_SUBREAPER");
		return 3;
	}
	if (spawn(D) == 0) {
		if (spawn(D1) == 0) {
			until_orphaned();
			leaf();
		}
		exit(10 + D);
	}
	collect(D);
	if (spawn(N) == 0) {
		setsid();
		if (spawn(N1) == 0) {
			until_orphaned();
			if (spawn(N1C) == 0)
				leaf();
			run();
			collect(N1C);
			exit(10 + N1);
		}
		if (spawn(N2) == 0) {
			setpgid(0, 0);
			until_orphaned();
			leaf();
		}
		if (spawn(Z) == 0)
			exit(10 + Z);
		exit(10 + N);
	}
	collect(N);
	if (spawn(S) == 0) {
		setsid();
		if (spawn(H) == 0) {
			if (spawn(S1) == 0) {
				until_orphaned();
				leaf();
			}
			exit(10 + H);
		}
		collect(H);
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
			exit(4);
		run();
		exit(10 + S);
	}
	/* Z stays a zombie until the end */
	run();
	collect(D1);
	collect(N1);
	collect(N2);
	collect(S1);
	collect(S);
	collect(Z);
	printf("R done\n");
	return 0;
}
