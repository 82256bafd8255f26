/* layout: a job whose state is in its address space layout and in the
 * attributes the kernel keeps for it. Usage: layout DATAFILE SUBDIR
 *
 * Before its main loop it sets a name (PR_SET_NAME), umask, an rlimit and a
 * personality flag, enters SUBDIR, and maps: DATAFILE shared (writes go to
 * the file), a private copy of it written to, shared anonymous memory, a
 * page with content then made PROT_NONE, and a private mapping of a file it
 * then deletes. During ~2.5 s of work it keeps checking all of these and at
 * the end prints what it sees: everything must read the same whether or not
 * it was frozen and thawed on the way (and its pid must not have changed).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
#define STEPS 50

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *c = p;
	while (n--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash_file(const char *path)
{
	char buf[8192];
	uint64_t h = 0xcbf29ce484222325ULL;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		h = fnv(buf, n, h);
	close(fd);
	return h;
}

/* Deep recursion: the stack must still grow down after a thaw. */
static uint64_t deep(int n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	return n ? deep(n - 1) + pad[0] : 1;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 777, 4096 };
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	pid_t pid0 = getpid();
	char tmpl[] = "layout-ghost.XXXXXX", name[17] = { 0 };
	unsigned char *shf, *cow, *shanon, *none, *ghost;
	int fd, gfd;

	if (argc < 3) {
		fprintf(stderr, "usage: layout DATAFILE SUBDIR\n");
		return 2;
	}
	/* (glibc ignores the size unless it is given the buffer) */
	static char out_buf[1 << 16];
	setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
	prctl(PR_SET_NAME, "layout-job");
	umask(027);
	setrlimit(RLIMIT_NOFILE, &rl);
	personality(PER_LINUX | ADDR_NO_RANDOMIZE);
	if (chdir(argv[2])) {
		perror("chdir");
		return 1;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || ftruncate(fd, 4 * PG)) {
		perror(argv[1]);
		return 1;
	}
	shf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cow = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	shanon = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gfd = mkstemp(tmpl);
	if (shf == MAP_FAILED || cow == MAP_FAILED || shanon == MAP_FAILED || none == MAP_FAILED ||
	    gfd < 0 || ftruncate(gfd, 2 * PG)) {
		perror("setup");
		return 1;
	}
	ghost = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, gfd, 0);
	if (ghost == MAP_FAILED) {
		perror("mmap ghost");
		return 1;
	}
	close(gfd);
	memset(ghost, 'g', 2 * PG);
	unlink(tmpl);
	memset(none, 'n', 2 * PG);
	mprotect(none, 2 * PG, PROT_NONE);
	memset(cow, 'c', PG);		/* private: the file keeps its bytes */

	uint64_t acc = 1;
	for (int step = 0; step < STEPS; step++) {
		shf[step * 64 % (4 * PG)] = (unsigned char)('A' + step % 26);
		shanon[step * 97 % (8 * PG)] ^= (unsigned char)step;
		acc = fnv(shanon, 8 * PG, acc) ^ fnv(cow, 4 * PG, acc);
		acc += deep(2000 + step);
		if (step % 10 == 0) {
			mprotect(none, 2 * PG, PROT_READ);
			acc = fnv(none, 2 * PG, acc);
			mprotect(none, 2 * PG, PROT_NONE);
			printf("step %2d: acc=%016llx\n", step, (unsigned long long)acc);
		}
		nanosleep(&ts, NULL);
	}
	msync(shf, 4 * PG, MS_SYNC);

	char cwd[4096], exe[4096] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0)
		exe[n] = 0;
	getrlimit(RLIMIT_NOFILE, &rl);
	prctl(PR_GET_NAME, name);
	mode_t um = umask(0);
	mprotect(none, 2 * PG, PROT_READ);
	printf("pid unchanged: %s\n", getpid() == pid0 ? "yes" : "no");
	printf("name: %s\n", name);
	printf("umask: %03o\n", um);
	printf("nofile: %llu %llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
	printf("personality: %#x\n", personality(0xffffffff));
	printf("cwd ends with subdir: %s\n", getcwd(cwd, sizeof(cwd)) &&
	       strstr(cwd, argv[2]) ? "yes" : "no");
	printf("exe is layout: %s\n", strstr(exe, "layout") ? "yes" : "no");
	{
		/* /proc/self/cmdline is read from the arg area the mm points at */
		uint64_t want = 0xcbf29ce484222325ULL;
		for (int i = 0; i < argc; i++)
			want = fnv(argv[i], strlen(argv[i]) + 1, want);
		printf("cmdline intact: %s\n", hash_file("/proc/self/cmdline") == want ? "yes" : "no");
	}
	printf("auxv pagesz %lu hwcap %lx\n", getauxval(AT_PAGESZ), getauxval(AT_HWCAP));
	printf("shared file: %016llx\n", (unsigned long long)hash_file(argv[1]));
	printf("private copy: %016llx\n", (unsigned long long)fnv(cow, 4 * PG, 0));
	printf("deleted file mapping: %016llx\n", (unsigned long long)fnv(ghost, 2 * PG, 0));
	printf("protnone page: %c%c\n", none[0], none[2 * PG - 1]);
	printf("acc: %016llx\n", (unsigned long long)acc);
	return 0;
}
