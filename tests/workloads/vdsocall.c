/* vdsocall: calls every function of the vDSO through pointers resolved at
 * start, as the C library does, and checks each answer against the system
 * call it stands for; a second thread spins in clock_gettime, so that a
 * freeze mostly finds it inside the vDSO's code.
 *
 * At start it reads the vDSO's own symbol table (AT_SYSINFO_EHDR) and
 * keeps the addresses; glibc's clock_gettime, gettimeofday, time,
 * sched_getcpu and clock_getres use its own cached ones. For ROUNDS rounds
 * of 150 ms of its CLOCK_MONOTONIC it calls each through both, between
 * two system calls, and checks that the clocks read in order (raw <= vDSO
 * <= raw), that clock_getres and getrandom's parameters are the system
 * call's, that getcpu names a CPU that exists. It prints one line per
 * round and, at the end, what it sees of its vDSO: a [vdso] in
 * /proc/self/maps at the auxv's address, with ELF program headers there
 * (dl_iterate_phdr, as unwinders use it). Anything wrong prints a FAIL
 * line and exits 1; the output is otherwise the same on every run.
 *
 * Usage: vdsocall [ROUNDS]   (default 16)
 */
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*gettime_fn)(clockid_t, struct timespec *);
typedef int (*tod_fn)(struct timeval *, void *);
typedef time_t (*time_fn)(time_t *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);
typedef ssize_t (*getrandom_fn)(void *, size_t, unsigned, void *, size_t);

static struct {
	gettime_fn gettime, getres;
	tod_fn tod;
	time_fn time;
	getcpu_fn getcpu;
	getrandom_fn getrandom;
} v;

static int failures;
static atomic_int stop;

#define FAIL(...) do { printf("FAIL: " __VA_ARGS__); putchar('\n'); failures++; } while (0)

/* The vDSO's function NAME, from its dynamic symbols (section headers). */
static void *vdso_sym(const char *name)
{
	const unsigned char *base = (const void *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const void *)base;
	const Elf64_Shdr *sh;
	uint64_t load = 0;

	if (!base)
		return NULL;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(base + eh->e_phoff + i * sizeof(*ph));
		if (ph->p_type == PT_LOAD) {
			load = ph->p_vaddr - ph->p_offset;
			break;
		}
	}
	sh = (const void *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *s = (const void *)(base + sh[i].sh_offset);
		const char *str = (const char *)base + sh[sh[i].sh_link].sh_offset;
		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		for (size_t k = 0; k < sh[i].sh_size / sizeof(*s); k++)
			if (!strcmp(str + s[k].st_name, name) && s[k].st_shndx != SHN_UNDEF)
				return (void *)(base + s[k].st_value - load);
	}
	return NULL;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void raw_gettime(clockid_t c, struct timespec *t)
{
	syscall(SYS_clock_gettime, c, t);
}

static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
				    CLOCK_BOOTTIME, CLOCK_REALTIME_COARSE,
				    CLOCK_MONOTONIC_COARSE, CLOCK_TAI };

/* raw <= F <= raw for clock C. */
static void check_clock(const char *what, gettime_fn f, clockid_t c)
{
	struct timespec a, b, z;

	raw_gettime(c, &a);
	if (f(c, &b) != 0) {
		FAIL("%s(%d) failed", what, c);
		return;
	}
	raw_gettime(c, &z);
	/* a coarse clock's tick reaches the vDSO's data a moment after the
	 * kernel's own: a tick's slack */
	int64_t slack = c == CLOCK_REALTIME_COARSE || c == CLOCK_MONOTONIC_COARSE ? 100000000 : 0;
	if (ns(&b) < ns(&a) - slack || ns(&b) > ns(&z) + slack)
		FAIL("%s(%d) read %lld, outside the system calls' %lld..%lld", what, c,
		     (long long)ns(&b), (long long)ns(&a), (long long)ns(&z));
}

static void check_res(const char *what, gettime_fn f, clockid_t c)
{
	struct timespec a, b;

	syscall(SYS_clock_getres, c, &a);
	if (f(c, &b) != 0 || ns(&a) != ns(&b))
		FAIL("%s(%d) gave %lld, the system call %lld", what, c, (long long)ns(&b),
		     (long long)ns(&a));
}

static void check_tod(const char *what, tod_fn f)
{
	struct timeval a, b, z;

	syscall(SYS_gettimeofday, &a, NULL);
	f(&b, NULL);
	syscall(SYS_gettimeofday, &z, NULL);
	if (timercmp(&b, &a, <) || timercmp(&b, &z, >))
		FAIL("%s read %ld.%06ld, outside %ld.%06ld..%ld.%06ld", what, b.tv_sec, b.tv_usec,
		     a.tv_sec, a.tv_usec, z.tv_sec, z.tv_usec);
}

static void check_time(const char *what, time_fn f)
{
	time_t a = syscall(SYS_time, NULL), b = f(NULL), z = syscall(SYS_time, NULL);

	if (b < a || b > z)
		FAIL("%s read %ld, outside %ld..%ld", what, (long)b, (long)a, (long)z);
}

static void check_cpu(const char *what, getcpu_fn f)
{
	unsigned cpu = ~0u, node = ~0u;
	long n = sysconf(_SC_NPROCESSORS_CONF);

	if (f(&cpu, &node, NULL) != 0 || cpu >= (unsigned)n || node >= 1024)
		FAIL("%s gave cpu %u node %u (%ld CPUs)", what, cpu, node, n);
}

static long glibc_getcpu(unsigned *cpu, unsigned *node, void *unused)
{
	int c = sched_getcpu();

	(void)unused;
	*cpu = c;
	*node = 0;
	return c < 0 ? -1 : 0;
}

static int glibc_tod(struct timeval *tv, void *tz)
{
	return gettimeofday(tv, tz);
}

/* The parameters of getrandom's state, asked with a length of ~0. */
static void check_random(void)
{
	unsigned char p[64], q[64];

	memset(p, 0, sizeof(p));
	memcpy(q, p, sizeof(q));
	if (v.getrandom(NULL, 0, 0, p, ~0UL) != 0)
		FAIL("__vdso_getrandom refused its parameter query");
	else if (!memcmp(p, q, sizeof(p)))
		FAIL("__vdso_getrandom gave no parameters");
}

static void one_pass(void)
{
	for (size_t i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		check_clock("vdso clock_gettime", v.gettime, clocks[i]);
		check_clock("glibc clock_gettime", clock_gettime, clocks[i]);
		check_res("vdso clock_getres", v.getres, clocks[i]);
		check_res("glibc clock_getres", clock_getres, clocks[i]);
	}
	check_tod("vdso gettimeofday", v.tod);
	check_tod("glibc gettimeofday", glibc_tod);
	check_time("vdso time", v.time);
	check_time("glibc time", time);
	check_cpu("vdso getcpu", v.getcpu);
	check_cpu("glibc sched_getcpu", glibc_getcpu);
	if (v.getrandom)
		check_random();
}

/* Spins in the vDSO: monotonic time never goes back. */
static void *spinner(void *arg)
{
	struct timespec last = { 0 }, now;
	unsigned long calls = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		v.gettime(CLOCK_MONOTONIC, &now);
		if (ns(&now) < ns(&last)) {
			FAIL("the spinner's monotonic clock went back");
			break;
		}
		last = now;
		calls++;
	}
	return (void *)calls;
}

static int seen_vdso;

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (info->dlpi_addr == getauxval(AT_SYSINFO_EHDR) ||
	    (info->dlpi_phnum && (uintptr_t)info->dlpi_phdr - getauxval(AT_SYSINFO_EHDR) < 4096))
		for (int i = 0; i < info->dlpi_phnum; i++)
			seen_vdso |= info->dlpi_phdr[i].p_type == PT_DYNAMIC;
	return 0;
}

/* Where the job can look: [vdso] in its maps at the auxv's address. */
static void check_maps(void)
{
	unsigned long at = getauxval(AT_SYSINFO_EHDR), start;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-", &start) == 1 && start == at)
			found = 1;
	if (f)
		fclose(f);
	printf("[vdso] at the auxv's address: %s\n", found ? "yes" : "no");
	dl_iterate_phdr(phdr_cb, NULL);
	printf("the vDSO's ELF headers readable: %s\n", seen_vdso ? "yes" : "no");
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 16;
	pthread_t th;
	void *calls;

	v.gettime = (gettime_fn)vdso_sym("__vdso_clock_gettime");
	v.getres = (gettime_fn)vdso_sym("__vdso_clock_getres");
	v.tod = (tod_fn)vdso_sym("__vdso_gettimeofday");
	v.time = (time_fn)vdso_sym("__vdso_time");
	v.getcpu = (getcpu_fn)vdso_sym("__vdso_getcpu");
	v.getrandom = (getrandom_fn)vdso_sym("__vdso_getrandom");
	if (!v.gettime || !v.getres || !v.tod || !v.time || !v.getcpu) {
		printf("no vDSO with the five functions\n");
		return 77;
	}
	printf("vdsocall: %d rounds\n", rounds);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_create(&th, NULL, spinner, NULL)) {
		perror("pthread_create");
		return 1;
	}
	for (int r = 1; r <= rounds; r++) {
		struct timespec t0, t;
		int passes = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			one_pass();
			passes++;
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while (ns(&t) - ns(&t0) < 150000000 && !failures);
		printf("round %d: %s\n", r, failures ? "FAILED" : "ok");
		if (failures)
			break;
	}
	atomic_store(&stop, 1);
	pthread_join(th, &calls);
	printf("spinner: %s\n", calls ? "called" : "never ran");
	check_maps();
	printf("vdsocall: %s\n", failures ? "FAILED" : "done");
	return failures ? 1 : 0;
}
