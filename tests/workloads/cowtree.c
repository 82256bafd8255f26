/* cowtree: a tree of N processes sharing memory copy-on-write, the way
 * pre-fork servers and worker pools do. Usage: cowtree [-g] N STOPFILE
 * (-g: in a process group of its own, as a shell job)
 *
 * The root fills 16 MiB and forks up to 9 children, which fork the other
 * processes as their own children; every process then writes 64 KiB of
 * its own and waits until STOPFILE exists; then it checks all it holds
 * (the 16 MiB it shares with the root, its own 64 KiB). A process exits 0
 * when its check passed and each of its children did; the root prints the
 * number of processes and whether all were right. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL
#define SHARED (16UL << 20)
#define OWN (64UL << 10)
#define TOP 9

static unsigned char *shared, *own;

static uint64_t word(uint64_t seed, size_t k)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ k * 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x * 0x94d049bb133111ebULL | 1;
}

static void fill(unsigned char *at, size_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)at;
	for (size_t k = 0; k < len / 8; k++)
		w[k] = word(seed, k);
}

static int holds(const unsigned char *at, size_t len, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)at;
	for (size_t k = 0; k < len / 8; k++)
		if (w[k] != word(seed, k))
			return 0;
	return 1;
}

/* Process number ME of the tree (0 the root): checks until told to stop. */
static int live(int me, const char *stop, pid_t *kids, int nkids)
{
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	int ok;

	/* (checked once at the end: a hundred processes reading 16 MiB again
	 * and again would keep the machine busy) */
	fill(own, OWN, 1000 + me);
	while (access(stop, F_OK) < 0)
		nanosleep(&nap, NULL);
	ok = holds(shared, SHARED, 1) && holds(own, OWN, 1000 + me);
	for (int i = 0; i < nkids; i++) {
		int st;
		ok &= waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	pid_t kids[TOP], *grand = NULL;
	int n, top, next;

	if (argc == 4 && !strcmp(argv[1], "-g")) {
		setpgid(0, 0);
		argv++;
		argc--;
	}
	n = argc == 3 ? atoi(argv[1]) : 0;
	if (n < 1) {
		fprintf(stderr, "usage: cowtree [-g] N STOPFILE\n");
		return 2;
	}
	shared = mmap(NULL, SHARED, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	own = mmap(NULL, OWN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	grand = calloc(n, sizeof(pid_t));
	if (shared == MAP_FAILED || own == MAP_FAILED || !grand) {
		perror("cowtree");
		return 2;
	}
	fill(shared, SHARED, 1);
	top = n - 1 < TOP ? n - 1 : TOP;
	next = 1 + top;
	for (int i = 0; i < top; i++) {
		/* child i gets an equal share of the rest as its children */
		int mine = (n - 1 - top) / top + (i < (n - 1 - top) % top);
		int first = next;
		next += mine;
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("fork");
			return 2;
		}
		if (kids[i] == 0) {
			for (int k = 0; k < mine; k++) {
				grand[k] = fork();
				if (grand[k] < 0)
					_exit(2);
				if (grand[k] == 0)
					_exit(live(first + k, argv[2], NULL, 0));
			}
			_exit(live(1 + i, argv[2], grand, mine));
		}
	}
	int r = live(0, argv[2], kids, top);
	printf("cowtree: %d processes, %s\n", n, r ? "something was wrong" : "all right");
	return r;
}
