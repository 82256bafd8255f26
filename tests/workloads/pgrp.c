/* pgrp: a job that makes process groups and a session of its own. Every
 * process prints, ~each 100 ms, its group and session by the name of
 * their leader (never a pid), the parent signals a group and collects
 * whole groups with waitpid(-pgid). Lines interleave: compare sorted. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* P the parent (main group); X joins Y's group although forked first; Y
 * leads it and exits halfway (a zombie leader until P collects it); Z
 * leads a group with its child Z1; S leads a session with S1 (a group of
 * its own in it) and S2 (in S's group). */
enum { P, X, Y, Z, Z1, S, S1, S2, NR };
static const char *const names[NR] = { "P", "X", "Y", "Z", "Z1", "S", "S1", "S2" };
#define ROUNDS 40

struct shared {
	volatile pid_t pid[NR];
	volatile int ready;           /* processes done with their setup */
	volatile int usr1[NR];        /* SIGUSR1 each has received */
};
static struct shared *sh;
static int me;

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, ms % 1000 * 1000000 };
	while (nanosleep(&t, &t) < 0)
		;
}

/* The name of the process whose pid is V ("main": the main group or
 * session, whatever its number, as seen from here). */
static const char *name_of(pid_t v, pid_t main_id)
{
	if (v == main_id)
		return "main";
	for (int i = 0; i < NR; i++)
		if (sh->pid[i] == v)
			return names[i];
	return v < 0 ? "error" : "other";
}

static void say(int round)
{
	pid_t p = sh->pid[P], mg, ms, g, s;
	char line[256];

	/* The main group and session take the thawing command's numbers: all
	 * is read again if a thaw came in between. */
	do {
		mg = getpgid(p);
		ms = getsid(p);
		g = getpgrp();
		s = getsid(0);
	} while (mg != getpgid(p) || ms != getsid(p));
	int n = snprintf(line, sizeof(line), "%s %02d pgrp=%s sid=%s\n", names[me], round,
			 name_of(g, mg), name_of(s, ms));
	if (write(1, line, n) != n)
		_exit(99);
}

static void on_usr1(int sig)
{
	(void)sig;
	sh->usr1[me]++;
}

/* Every one of the NR processes, P too, before any goes on: were one of
 * them left behind (Z1 just forked, its `me` not set yet), it would count
 * P's first signal as Z's, and P would wait for Z1 round after round. */
static void ready_and_wait(void)
{
	__sync_fetch_and_add(&sh->ready, 1);
	while (sh->ready < NR)
		nap_ms(1);
}

static void rounds(int last)
{
	for (int r = 0; r < last; r++) {
		say(r);
		nap_ms(100);
	}
}

static pid_t spawn(int who, void (*body)(void))
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		me = who;
		sh->pid[who] = getpid();
		body();
		_exit(100);
	}
	sh->pid[who] = pid;
	return pid;
}

static void run_x(void)
{
	while (!sh->pid[Y] || getpgid(sh->pid[Y]) != sh->pid[Y])
		nap_ms(1);
	if (setpgid(0, sh->pid[Y]) < 0)
		_exit(3);
	ready_and_wait();
	rounds(ROUNDS);
	_exit(11);
}

static void run_y(void)
{
	if (setpgid(0, 0) < 0)
		_exit(3);
	ready_and_wait();
	rounds(ROUNDS / 2);
	_exit(12);
}

/* P signals group Z once a round of its own, and its rounds drift behind
 * ours: every signal is in before the count is printed. */
static void all_signals(void)
{
	for (int w = 0; w < 5000 && sh->usr1[me] < ROUNDS; w++)
		nap_ms(1);
}

static void run_z1(void)
{
	ready_and_wait();
	rounds(ROUNDS);
	all_signals();
	printf("Z1 got %d SIGUSR1\n", sh->usr1[Z1]);
	fflush(stdout);
	_exit(0);
}

static void run_z(void)
{
	int st;
	if (setpgid(0, 0) < 0)
		_exit(3);
	spawn(Z1, run_z1);
	ready_and_wait();
	rounds(ROUNDS);
	all_signals();
	if (waitpid(sh->pid[Z1], &st, 0) != sh->pid[Z1])
		_exit(4);
	printf("Z got %d SIGUSR1, Z1 exited %d\n", sh->usr1[Z], WEXITSTATUS(st));
	fflush(stdout);
	_exit(13);
}

static void run_s1(void)
{
	if (setpgid(0, 0) < 0)
		_exit(3);
	ready_and_wait();
	rounds(ROUNDS);
	_exit(21);
}

static void run_s2(void)
{
	ready_and_wait();
	rounds(ROUNDS);
	_exit(22);
}

/* Collects the child of the group led by WHO, which must be one. */
static int reap_group(int leader, int who, const char *how)
{
	int st;
	pid_t got = waitpid(-sh->pid[leader], &st, 0);
	if (got < 0) {
		printf("%s waitpid(-%s): %s\n", how, names[leader], strerror(errno));
		return -1;
	}
	printf("%s waitpid(-%s) got %s exit %d\n", how, names[leader], name_of(got, 0),
	       WEXITSTATUS(st));
	return got == sh->pid[who] ? 0 : -1;
}

static void run_s(void)
{
	if (setsid() < 0)
		_exit(3);
	spawn(S1, run_s1);
	spawn(S2, run_s2);
	ready_and_wait();
	rounds(ROUNDS);
	/* within its session too, a group at a time */
	if (reap_group(S1, S1, "S") < 0 || reap_group(S, S2, "S") < 0)
		_exit(5);
	fflush(stdout);
	_exit(14);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	int ok = 0, st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);	/* inherited by Z and Z1 */
	me = P;
	sh->pid[P] = getpid();
	spawn(X, run_x);
	spawn(Y, run_y);
	spawn(Z, run_z);
	spawn(S, run_s);
	ready_and_wait();
	for (int r = 0; r < ROUNDS; r++) {
		say(r);
		/* the whole group Z, one signal at a time (they never merge) */
		if (kill(-sh->pid[Z], SIGUSR1) < 0)
			printf("P kill(-Z): %s\n", strerror(errno));
		for (int w = 0; w < 5000 && (sh->usr1[Z] <= r || sh->usr1[Z1] <= r); w++)
			nap_ms(1);
		nap_ms(100);
	}
	/* X first or Y first: waitpid(-Y) takes them as they come */
	for (int i = 0; i < 2; i++) {
		pid_t got = waitpid(-sh->pid[Y], &st, 0);
		if (got != sh->pid[X] && got != sh->pid[Y])
			ok = -1;
		else
			printf("P waitpid(-Y) got a child exit %d\n", WEXITSTATUS(st) +
			       (got == sh->pid[X] ? 100 : 200));
	}
	if (reap_group(Z, Z, "P") < 0 || reap_group(S, S, "P") < 0)
		ok = -1;
	if (waitpid(-1, &st, WNOHANG) != -1)
		ok = -1;
	printf("P done\n");
	return ok < 0 ? 1 : 0;
}
