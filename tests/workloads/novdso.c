/* novdso: a process without a vDSO (as under a kernel booted with vdso=0):
 * it unmaps its [vvar], [vvar_vclock] and [vdso] at start, then works
 * through ROUNDS rounds of 150 ms of CLOCK_MONOTONIC read by system calls
 * (the C library's clock_gettime would call into the unmapped vDSO),
 * printing a checksum of its work per round, and at the end whether it
 * still has no [vdso]. The output is the same on every run.
 *
 * Usage: novdso [ROUNDS]   (default 16)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int64_t mono(void)
{
	struct timespec t;

	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Unmaps the kernel's areas (UNMAP) or counts them. */
static int kernel_areas(int unmap)
{
	char line[512];
	unsigned long a, b;
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vdso]") && !strstr(line, "[vvar]") && !strstr(line, "[vvar_vclock]"))
			continue;
		n++;
		if (unmap && sscanf(line, "%lx-%lx", &a, &b) == 2 && munmap((void *)a, b - a) < 0)
			n = -1000;
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 16;
	uint64_t x = 88172645463325252ULL, sum = 0;

	if (kernel_areas(1) < 0) {
		printf("cannot unmap the vDSO\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("novdso: %d rounds, [vdso] areas left: %d\n", rounds, kernel_areas(0));
	for (int r = 1; r <= rounds; r++) {
		int64_t t0 = mono();
		uint64_t steps = 0;
		while (mono() - t0 < 150000000) {
			/* a fixed amount per check: the checksum counts rounds, not speed */
			for (int i = 0; i < 1000; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
			}
			steps++;
		}
		sum += r * 7919;
		printf("round %d: %s, sum %llu\n", r, steps ? "worked" : "idle",
		       (unsigned long long)sum);
	}
	printf("novdso: done, [vdso] areas: %d\n", kernel_areas(0));
	return 0;
}
