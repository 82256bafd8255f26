/* cpuloop: a CPU-bound job for the freeze/thaw tests.
 *
 * Runs rounds of a xorshift64* generator folded into an FNV-1a hash and
 * prints the running checksum every CHUNK rounds, until told to stop
 * (stop.h: a chunk is its unit). All state lives in registers and on the
 * stack, so a restore that gets any register or stack page wrong changes
 * the printed numbers.
 *
 * The output stays in one 64 KiB stdio buffer (some 800 chunks) and is
 * never flushed before exit: the snapshot test (dump -R, restore
 * --inherit-fd 1) relies on the restored copy printing every line itself.
 *
 * Usage: cpuloop [CHUNKS]   (CHUNKS: a fixed count, about 0.12 s each;
 *                           without it, until told to stop)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "stop.h"

#define CHUNK (48u * 1000 * 1000)

static uint64_t xorshift64s(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

int main(int argc, char **argv)
{
	uint64_t state = 0x9E3779B97F4A7C15ULL;
	uint64_t fnv = 0xcbf29ce484222325ULL;
	uint64_t odd = 0;
	long c;
	/* (glibc ignores the size unless it is given the buffer) */
	static char out_buf[1 << 16];

	setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
	wl_stop_after(argc > 1 ? strtol(argv[1], NULL, 0) : 0);
	printf("cpuloop: chunks of %u rounds\n", CHUNK);
	for (c = 1;; c++) {
		for (uint32_t i = 0; i < CHUNK; i++) {
			uint64_t r = xorshift64s(&state);

			fnv ^= r >> 32;
			fnv *= 0x100000001b3ULL;
			odd += r & 1;
		}
		printf("chunk %3ld: fnv=%016llx state=%016llx odd=%llu\n", c,
		       (unsigned long long)fnv, (unsigned long long)state,
		       (unsigned long long)odd);
		if (wl_stop(c))
			break;
	}
	printf("cpuloop: stopped after %ld chunks\n", c);
	return 0;
}
