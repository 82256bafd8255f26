/* named.h: for workloads whose processes go by names (sessions, orphans)
 * and print the ids they see by those names. Before including it, the
 * workload defines NR, names[NR] and a `struct shared` holding
 * `volatile pid_t pid[NR]`, mapped shared at `sh` before the first fork,
 * and `me`, the running process's name index. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, ms % 1000 * 1000000 };
	while (nanosleep(&t, &t) < 0)
		;
}

/* The name of the process with pid V, "other" for one not the job's. */
static const char *name_of(pid_t v)
{
	for (int i = 0; i < NR; i++)
		if (sh->pid[i] == v)
			return names[i];
	return v < 0 ? "error" : "other";
}

/* fork(): the child is WHO; both know its pid */
static pid_t spawn(int who)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		me = who;
		sh->pid[who] = getpid();
	} else {
		sh->pid[who] = pid;
	}
	return pid;
}

/* Waits for child WHO and says how it ended. */
static void collect(int who)
{
	int st;
	pid_t got = waitpid(sh->pid[who], &st, 0);

	printf("%s collected %s: %d\n", names[me], got == sh->pid[who] ? names[who] : "?",
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* The first process, named 0: its output by lines, the table shared.
 * -1 on failure. */
static int named_start(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	me = 0;
	sh->pid[0] = getpid();
	return 0;
}
