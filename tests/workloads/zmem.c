/* zmem: a job whose memory is part compressible (text-like lines), part
 * random, changing a little at each pass.
 *
 * Usage: zmem COMP_MIB RAND_MIB [CHANGE_KIB [PASSES]]
 *
 * Fills COMP_MIB MiB with numbered text lines and RAND_MIB MiB with
 * pseudo-random bytes, then makes the file "ready". Each pass rewrites
 * CHANGE_KIB KiB (default 256), half in each area at a place that moves
 * with the pass, then checksums both areas and prints the sum; it runs
 * until told to stop (stop.h) or PASSES passes. With the file "stepwise"
 * present at start, it waits before each pass for a file "step" (and
 * removes it), writing "done" with the pass number after it: the
 * benchmarks change the memory by exactly CHANGE_KIB between snapshots.
 * Output depends only on the arguments and the number of passes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "stop.h"

#define MIB (1024UL * 1024)

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static const char *words[] = { "alpha", "beta", "gamma", "delta", "frozen", "thawed", "job",
			       "memory", "page", "chunk", "snapshot", "disk" };

/* Text lines from SEED into P[0..LEN). */
static void fill_text(char *p, size_t len, uint64_t seed)
{
	size_t at = 0;
	char line[96];

	while (at < len) {
		uint64_t r = rng(&seed);
		int n = snprintf(line, sizeof(line), "%08llu %s %s %s %u\n",
				 (unsigned long long)(r % 100000000), words[r % 12], words[(r >> 8) % 12],
				 words[(r >> 16) % 12], (unsigned)(r >> 40) % 1000);
		size_t k = (size_t)n < len - at ? (size_t)n : len - at;
		memcpy(p + at, line, k);
		at += k;
	}
}

static void fill_random(uint64_t *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++)
		p[i] = rng(&seed);
}

static uint64_t checksum(const uint64_t *w, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}

static void *area(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("zmem: mmap");
		exit(2);
	}
	return p;
}

int main(int argc, char **argv)
{
	size_t clen, rlen, change;
	bool stepwise = access("stepwise", F_OK) == 0;
	char *text;
	uint64_t *rnd;

	if (argc < 3) {
		fprintf(stderr, "usage: zmem COMP_MIB RAND_MIB [CHANGE_KIB [PASSES]]\n");
		return 2;
	}
	clen = strtoul(argv[1], NULL, 0) * MIB;
	rlen = strtoul(argv[2], NULL, 0) * MIB;
	change = (argc > 3 ? strtoul(argv[3], NULL, 0) : 256) * 1024 / 2 / 4096 * 4096;
	if (argc > 4)
		wl_stop_after(strtol(argv[4], NULL, 0));
	if (clen < MIB || rlen < MIB || change > clen || change > rlen) {
		fprintf(stderr, "zmem: each area takes 1 MiB at least, and more than a change\n");
		return 2;
	}
	text = area(clen);
	rnd = area(rlen);
	fill_text(text, clen, 1);
	fill_random(rnd, rlen, 2);
	fclose(fopen("ready", "w"));
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long pass = 1;; pass++) {
		if (stepwise) {
			while (access("step", F_OK) != 0)
				usleep(2000);
			unlink("step");
		}
		if (change) {
			size_t ct = (pass * change) % (clen - change + 1) / 4096 * 4096;
			size_t rt = (pass * change) % (rlen - change + 1) / 4096 * 4096;
			fill_text(text + ct, change, 1000 + pass);
			fill_random((uint64_t *)((char *)rnd + rt), change, 2000 + pass);
		}
		uint64_t sum = checksum((const uint64_t *)text, clen / 8, 7);
		sum = checksum(rnd, rlen / 8, sum);
		printf("zmem: pass %ld sum %016llx\n", pass, (unsigned long long)sum);
		if (stepwise) {
			FILE *f = fopen("done.tmp", "w");
			fprintf(f, "%ld\n", pass);
			fclose(f);
			rename("done.tmp", "done");
		}
		if (wl_stop(pass)) {
			printf("zmem: stopped after %ld passes\n", pass);
			return 0;
		}
	}
}
