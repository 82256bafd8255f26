/* sessions: sessions made inside the job in the orders that make them
 * hard to make again (ZDTM's session00 and session01, without their
 * orphans). R leads a session of its own (as a daemon does); A forks A1,
 * then calls setsid(): A1 stays in R's session, its parent A in another;
 * B forks B1 and calls setsid(), B1 forks B2 and calls setsid(): B2 is in
 * R's session under two leaders of others; C leads a session with a group
 * led by C1, which C2 joined, and C1 exits (C collects it): the group
 * lives on, leaderless. Every process prints, ~each 100 ms, its session
 * and group by the name of their leader. Lines interleave: compare sorted. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { R, A, A1, B, B1, B2, C, C1, C2, NR };
static const char *const names[NR] = { "R", "A", "A1", "B", "B1", "B2", "C", "C1", "C2" };
#define ROUNDS 30

struct shared {
	volatile pid_t pid[NR];
	volatile int ready;
};
static struct shared *sh;
static int me;
#include "named.h"


static void rounds(int n)
{
	for (int r = 0; r < n; r++) {
		printf("%s %02d sid=%s pgrp=%s\n", names[me], r, name_of(getsid(0)), name_of(getpgrp()));
		nap_ms(100);
	}
}

/* Waits until all but the exited C1 are set up. */
static void ready_and_wait(void)
{
	__sync_fetch_and_add(&sh->ready, 1);
	while (sh->ready < NR - 1)
		nap_ms(1);
}

static void leaf(void)
{
	ready_and_wait();
	rounds(ROUNDS);
	exit(10 + me);
}

int main(void)
{
	if (named_start() < 0)
		return 2;
	if (setsid() < 0)
		return 3;
	if (spawn(A) == 0) {
		if (spawn(A1) == 0)
			leaf();
		setsid();
		ready_and_wait();
		rounds(ROUNDS);
		collect(A1);
		exit(10 + A);
	}
	if (spawn(B) == 0) {
		if (spawn(B1) == 0) {
			if (spawn(B2) == 0)
				leaf();
			setsid();
			ready_and_wait();
			rounds(ROUNDS);
			collect(B2);
			exit(10 + B1);
		}
		setsid();
		ready_and_wait();
		rounds(ROUNDS);
		collect(B1);
		exit(10 + B);
	}
	if (spawn(C) == 0) {
		setsid();
		if (spawn(C1) == 0) {
			setpgid(0, 0);
			while (!sh->pid[C2] || getpgid(sh->pid[C2]) != getpid())
				nap_ms(1);
			exit(10 + C1);
		}
		if (spawn(C2) == 0) {
			while (getpgid(sh->pid[C1]) != sh->pid[C1])
				nap_ms(1);
			setpgid(0, sh->pid[C1]);
			leaf();
		}
		collect(C1);
		ready_and_wait();
		rounds(ROUNDS);
		collect(C2);
		exit(10 + C);
	}
	ready_and_wait();
	rounds(ROUNDS);
	collect(A);
	collect(B);
	collect(C);
	printf("R done\n");
	return 0;
}
