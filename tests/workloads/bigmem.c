/* bigmem: a job with a lot of anonymous memory, some of it a zero hole.
 *
 * Usage: bigmem [MIB [PASSES]]   (default 512 MiB; PASSES: a fixed count)
 *
 * Maps MIB MiB, fills it with a pseudo-random pattern, then zeroes a hole in
 * the middle two ways: madvise(MADV_DONTNEED) on up to 64 MiB (the pages go
 * away) and memset on up to 16 MiB just after it (the pages stay, full of
 * zeros). Then it runs passes until told to stop (stop.h: a pass is its
 * unit); each pass checksums the whole area, checks that the hole still
 * reads as zeros and rewrites one word in every page outside the hole, so
 * memory keeps changing while the job runs. Output depends only on MIB and
 * on the number of passes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "stop.h"

#define MIB (1024UL * 1024)
#define PAGE_WORDS (4096 / 8)

static uint64_t mix(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t checksum(const uint64_t *w, size_t n)
{
	uint64_t a = 1, b = 2, c = 3, d = 4;
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		a = (a + w[i]) * 0x100000001b3ULL;
		b = (b ^ w[i + 1]) * 0xff51afd7ed558ccdULL;
		c = (c + w[i + 2]) * 0xc4ceb9fe1a85ec53ULL;
		d = (d ^ w[i + 3]) * 0x9E3779B97F4A7C15ULL;
	}
	for (; i < n; i++)
		a = (a + w[i]) * 0x100000001b3ULL;
	return mix(a) ^ mix(b + 1) ^ mix(c + 2) ^ mix(d + 3);
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 0) : 512;
	size_t len, n, hole_off, hole_len, zero_off, zero_len;
	long p;
	uint64_t *w;

	if (mib < 8) {
		fprintf(stderr, "bigmem: size must be at least 8 MiB\n");
		return 2;
	}
	len = (size_t)mib * MIB;
	n = len / 8;
	/* the hole: [hole_off, hole_off + hole_len) dropped with MADV_DONTNEED,
	 * then [zero_off, zero_off + zero_len) cleared with memset */
	hole_len = (size_t)(mib / 8 < 64 ? mib / 8 : 64) * MIB;
	zero_len = (size_t)(mib / 32 < 16 ? (mib / 32 ? mib / 32 : 1) : 16) * MIB;
	hole_off = (len / 2) & ~(MIB - 1);
	zero_off = hole_off + hole_len;
	wl_stop_after(argc > 2 ? strtol(argv[2], NULL, 0) : 0);

	w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED) {
		perror("bigmem: mmap");
		return 1;
	}
	printf("bigmem: %ld MiB, hole %zu+%zu MiB at %zu MiB\n",
	       mib, hole_len / MIB, zero_len / MIB, hole_off / MIB);
	for (size_t i = 0; i < n; i++)
		w[i] = mix(i ^ 0xb16b00b5ULL);
	if (madvise((char *)w + hole_off, hole_len, MADV_DONTNEED)) {
		perror("bigmem: madvise");
		return 1;
	}
	memset((char *)w + zero_off, 0, zero_len);
	printf("filled: sum=%016llx\n", (unsigned long long)checksum(w, n));

	for (p = 1;; p++) {
		size_t bad = 0;
		const uint64_t *h = (const uint64_t *)((char *)w + hole_off);

		for (size_t i = 0; i < (hole_len + zero_len) / 8; i++)
			bad += h[i] != 0;
		/* one word per page outside the hole, at a place that moves */
		for (size_t pg = 0; pg < n / PAGE_WORDS; pg++) {
			size_t i = pg * PAGE_WORDS + (size_t)((p * 37 + pg) % PAGE_WORDS);

			if (i * 8 >= hole_off && i * 8 < zero_off + zero_len)
				continue;
			w[i] = mix(w[i] + (uint64_t)p);
		}
		printf("pass %3ld: sum=%016llx hole=%s", p,
		       (unsigned long long)checksum(w, n), bad ? "BAD" : "zero");
		if (bad)
			printf(" (%zu nonzero words)", bad);
		printf("\n");
		if (wl_stop(p))
			break;
	}
	printf("bigmem: stopped after %ld passes\n", p);
	return 0;
}
