/* sysv: a parent and its child take turns, ordered by a SysV semaphore
 * set, incrementing a counter in a SysV shared memory segment they both
 * have attached (the child inherits the attachment). The ids go to
 * ./ipc.ids (they differ between runs); both objects are removed at the
 * end (with the argument "rmid", the segment is marked for removal as soon
 * as both have it attached). A second segment, attached writable, has its
 * first page mprotected read-only: after a thaw both pages hold what they
 * held, the second is writable, and the first can be made writable again.
 * The output is deterministic. */
#include <string.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define TURNS 20

static int sem;

static void op(int num, int delta)
{
	struct sembuf b = { .sem_num = num, .sem_op = delta };
	while (semop(sem, &b, 1) < 0)
		;
}

static void play(volatile int *mem, int mine, int theirs, const char *who)
{
	for (int i = 0; i < TURNS; i++) {
		op(mine, -1);
		mem[0]++;
		mem[1 + mem[0] % 1000] = mem[0] * 7;
		printf("%s: counter %d\n", who, mem[0]);
		usleep(50000);
		op(theirs, 1);
	}
}

int main(int argc, char **argv)
{
	long pg = sysconf(_SC_PAGESIZE);
	int shm = shmget(IPC_PRIVATE, 12288, IPC_CREAT | 0600), st;
	int two = shmget(IPC_PRIVATE, 2 * pg, IPC_CREAT | 0600);
	FILE *ids = fopen("ipc.ids", "w");

	setvbuf(stdout, NULL, _IOLBF, 0);
	sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	if (shm < 0 || two < 0 || sem < 0 || !ids)
		return 1;
	fprintf(ids, "%d %d %d\n", shm, sem, two);
	fclose(ids);
	volatile int *mem = shmat(shm, NULL, 0);
	if (mem == (void *)-1 || semctl(sem, 0, SETVAL, 1) < 0)
		return 1;
	char *mp = shmat(two, NULL, 0);
	if (mp == (char *)-1)
		return 1;
	mp[0] = 'R';
	mp[pg] = 'W';
	if (mprotect(mp, pg, PROT_READ) < 0)
		return 1;
	pid_t pid = fork();
	if (pid > 0 && argc > 1 && !strcmp(argv[1], "rmid"))
		shmctl(shm, IPC_RMID, NULL);	/* the child has its own attachment already */
	if (pid == 0) {
		play(mem, 1, 0, "child ");
		_exit(0);
	}
	play(mem, 0, 1, "parent");
	waitpid(pid, &st, 0);
	int sum = 0;
	for (int i = 1; i <= 2 * TURNS; i++)
		sum += mem[1 + i] == (i) * 7;
	printf("child exited %d; counter %d; %d of %d marks right\n", WEXITSTATUS(st), mem[0], sum,
	       2 * TURNS);
	mp[pg + 1] = 'w';
	printf("mprotected segment: %c, then %c%c; the first page made writable again: %s\n",
	       mp[0], mp[pg], mp[pg + 1], mprotect(mp, pg, PROT_READ | PROT_WRITE) == 0 ? "yes" : "no");
	shmdt(mp);
	shmctl(two, IPC_RMID, NULL);
	shmdt((void *)mem);
	shmctl(shm, IPC_RMID, NULL);
	semctl(sem, 0, IPC_RMID);
	return 0;
}
