/* cowedge: a parent and children that each make the memory they share
 * with it their own in another way, so that a thaw which rebuilds a child
 * by forking its parent (ckpt/cow.c) must undo and redo each of them.
 * Usage: cowedge STOPFILE
 *
 * The parent fills 4 MiB of anonymous memory and writes a page of a
 * private mapping of its own program, sets a SIGUSR1 handler and an
 * alternate signal stack, and forks one child per role:
 *   0 changes nothing;
 *   1 unmaps half of the shared memory and maps new memory of its own;
 *   2 makes a part read-only, gives a part up (MADV_DONTNEED: zeroes) and
 *     writes a few pages;
 *   3 resets SIGUSR1, handles SIGUSR2, drops the signal stack, writes
 *     another page of the program mapping;
 *   4 writes all of the shared memory;
 *   5 forks a grandchild of its own, which writes a page.
 * Then the parent writes a quarter of the shared memory and another page
 * of the program mapping. Every process checks all it should hold (bytes,
 * protections through /proc/self/maps, signal actions, signal stack) each
 * 100 ms until STOPFILE exists; a child exits 0 when every check passed, or
 * with the number of the check that failed. The parent prints one line per
 * child, in order, and its own result. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL
#define SHARED_PAGES 1024
#define ROLES 6

static unsigned char *shared, *prog, *own, *grand_own;
static size_t prog_len;
static unsigned char *altstack;
static const char *stop_file;
static int role = -1;            /* -1: the parent; ROLES: the grandchild */
static volatile sig_atomic_t got;

static void on_signal(int sig) { got = sig; }

/* The 64-bit words of page P in version V: 16 of them over and over, so
 * that the pages are stored compressed (a thaw writes those from its
 * worker threads, raw ones from its main thread). */
static uint64_t word(size_t p, unsigned v, size_t k)
{
	uint64_t x = (p + 1) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(v + 1) * 0xbf58476d1ce4e5b9ULL ^
		     (k % 16);
	x ^= x >> 31;
	return x * 0x94d049bb133111ebULL | 1;
}

static void fill(unsigned char *page, size_t p, unsigned v)
{
	uint64_t *w = (uint64_t *)page;
	for (size_t k = 0; k < PG / 8; k++)
		w[k] = word(p, v, k);
}

static int check_page(const unsigned char *page, size_t p, unsigned v)
{
	const uint64_t *w = (const uint64_t *)page;
	for (size_t k = 0; k < PG / 8; k++)
		if (w[k] != word(p, v, k))
			return -1;
	return 0;
}

static int zero_page(const unsigned char *page)
{
	for (size_t k = 0; k < PG; k++)
		if (page[k])
			return -1;
	return 0;
}

/* The version page P of the shared memory holds in this process; -1:
 * zero; -2: unmapped. */
static int shared_version(size_t p)
{
	switch (role) {
	case -1:
		return p < SHARED_PAGES / 4 ? 1 : 0;
	case 1:
		return p >= SHARED_PAGES / 2 ? -2 : 0;
	case 2:
		if (p >= 100 && p < 200)
			return -1;
		if (p >= 300 && p < 310)
			return 2;
		return 0;
	case 4:
		return 40;
	default:
		return 0;
	}
}

/* The protection /proc/self/maps shows at ADDR ("rw-p"...), or "" */
static void prot_at(const void *addr, char out[5])
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &a, &b, perms) == 3 &&
		    a <= (unsigned long)addr && (unsigned long)addr < b) {
			memcpy(out, perms, 5);
			break;
		}
	}
	fclose(f);
}

/* The program's own bytes at page P (what the mapping shows unwritten). */
static int file_page(size_t p, unsigned char *buf)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, PG, p * PG);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	memset(buf + n, 0, PG - n);
	return 0;
}

/* 0, or the number of the first check that failed. */
static int check_all(void)
{
	static unsigned char file[PG];
	char perms[5];

	for (size_t p = 0; p < SHARED_PAGES; p++) {
		int v = shared_version(p);
		if (v == -2)
			continue;
		if (v == -1 ? zero_page(shared + p * PG) : check_page(shared + p * PG, p, v))
			return 10;
	}
	/* the program mapping: page 0 written by the parent before the fork,
	 * page 1 by role 3, page 2 by the parent after */
	for (size_t p = 0; p < 3; p++) {
		bool written = p == 0 || (p == 1 && role == 3) || (p == 2 && role == -1);
		if (written ? check_page(prog + p * PG, 1000 + p, 7) :
		    file_page(p, file) < 0 || memcmp(prog + p * PG, file, PG))
			return 20 + (int)p;
	}
	if (role == 1) {
		prot_at(shared + SHARED_PAGES / 2 * PG, perms);
		if (perms[0])
			return 30;
		for (size_t p = 0; p < 16; p++)
			if (check_page(own + p * PG, 500 + p, 1))
				return 31;
	}
	if (role == 2) {
		prot_at(shared + 50 * PG, perms);
		if (strcmp(perms, "r--p"))
			return 32;
		prot_at(shared, perms);
		if (strcmp(perms, "rw-p"))
			return 33;
	}
	if (role == ROLES && check_page(grand_own, 777, 3))
		return 34;
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	if ((role == 3) != (sa.sa_handler == SIG_DFL))
		return 40;
	sigaction(SIGUSR2, NULL, &sa);
	if ((role == 3) != (sa.sa_handler == on_signal))
		return 41;
	stack_t ss;
	sigaltstack(NULL, &ss);
	if ((role == 3) != !!(ss.ss_flags & SS_DISABLE) || (role != 3 && ss.ss_sp != altstack))
		return 42;
	return 0;
}

static int run_checks(void)
{
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	int r;

	do {
		if ((r = check_all()))
			return r;
		nanosleep(&nap, NULL);
	} while (access(stop_file, F_OK) < 0);
	return check_all();
}

static void take_role(void)
{
	switch (role) {
	case 1:
		/* (mapped first: it must not land in the hole) */
		own = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		munmap(shared + SHARED_PAGES / 2 * PG, SHARED_PAGES / 2 * PG);
		for (size_t p = 0; p < 16; p++)
			fill(own + p * PG, 500 + p, 1);
		break;
	case 2:
		mprotect(shared + 40 * PG, 20 * PG, PROT_READ);
		madvise(shared + 100 * PG, 100 * PG, MADV_DONTNEED);
		for (size_t p = 300; p < 310; p++)
			fill(shared + p * PG, p, 2);
		break;
	case 3: {
		struct sigaction sa = { .sa_handler = on_signal };
		stack_t off = { .ss_flags = SS_DISABLE };
		signal(SIGUSR1, SIG_DFL);
		sigaction(SIGUSR2, &sa, NULL);
		sigaltstack(&off, NULL);
		fill(prog + PG, 1001, 7);
		break;
	}
	case 4:
		for (size_t p = 0; p < SHARED_PAGES; p++)
			fill(shared + p * PG, p, 40);
		break;
	}
}

int main(int argc, char **argv)
{
	pid_t kids[ROLES];
	int fd, failed = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: cowedge STOPFILE\n");
		return 2;
	}
	stop_file = argv[1];
	shared = mmap(NULL, SHARED_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	fd = open("/proc/self/exe", O_RDONLY);
	prog_len = 3 * PG;
	prog = fd < 0 ? MAP_FAILED : mmap(NULL, prog_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	grand_own = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	altstack = malloc(SIGSTKSZ);
	if (shared == MAP_FAILED || prog == MAP_FAILED || grand_own == MAP_FAILED || !altstack) {
		perror("cowedge: setting up");
		return 2;
	}
	close(fd);
	for (size_t p = 0; p < SHARED_PAGES; p++)
		fill(shared + p * PG, p, 0);
	fill(prog, 1000, 7);
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_ONSTACK };
	stack_t ss = { .ss_sp = altstack, .ss_size = SIGSTKSZ };
	sigaction(SIGUSR1, &sa, NULL);
	sigaltstack(&ss, NULL);
	fflush(stdout);
	for (int i = 0; i < ROLES; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("fork");
			return 2;
		}
		if (kids[i] == 0) {
			role = i;
			take_role();
			if (role == 5) {
				pid_t g = fork();
				if (g == 0) {
					role = ROLES;
					fill(grand_own, 777, 3);
					_exit(run_checks());
				}
				int r = run_checks(), st;
				if (waitpid(g, &st, 0) != g || !WIFEXITED(st))
					_exit(50);
				_exit(r ? r : WEXITSTATUS(st));
			}
			_exit(run_checks());
		}
	}
	for (size_t p = 0; p < SHARED_PAGES / 4; p++)
		fill(shared + p * PG, p, 1);
	fill(prog + 2 * PG, 1002, 7);
	int mine = run_checks();
	for (int i = 0; i < ROLES; i++) {
		int st;
		if (waitpid(kids[i], &st, 0) != kids[i]) {
			perror("waitpid");
			return 2;
		}
		printf("child %d (role %d): %s %d\n", i, i, WIFEXITED(st) ? "exit" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		failed |= !WIFEXITED(st) || WEXITSTATUS(st);
	}
	printf("parent: %d\n", mine);
	return failed || mine;
}
