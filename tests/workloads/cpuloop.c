/* cpuloop: a CPU-bound job for the freeze/thaw tests.
 *
 * Runs a fixed number of rounds of a xorshift64* generator folded into an
 * FNV-1a hash and prints the running checksum every CHUNK rounds. All state
 * lives in registers and on the stack, so a restore that gets any register
 * or stack page wrong changes the printed numbers.
 *
 * The whole output stays well under one stdio buffer (4 KiB) and is never
 * flushed before exit: the snapshot test (dump -R, restore --inherit-fd 1)
 * relies on the restored copy printing every line itself.
 *
 * Usage: cpuloop [CHUNKS]   (default 20 chunks, about 2.5 s)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
	long chunks = argc > 1 ? strtol(argv[1], NULL, 0) : 20;
	uint64_t state = 0x9E3779B97F4A7C15ULL;
	uint64_t fnv = 0xcbf29ce484222325ULL;
	uint64_t odd = 0;

	if (chunks <= 0)
		chunks = 20;
	printf("cpuloop: %ld chunks of %u rounds\n", chunks, CHUNK);
	for (long c = 1; c <= chunks; c++) {
		for (uint32_t i = 0; i < CHUNK; i++) {
			uint64_t r = xorshift64s(&state);

			fnv ^= r >> 32;
			fnv *= 0x100000001b3ULL;
			odd += r & 1;
		}
		printf("chunk %3ld: fnv=%016llx state=%016llx odd=%llu\n", c,
		       (unsigned long long)fnv, (unsigned long long)state,
		       (unsigned long long)odd);
	}
	printf("cpuloop: done\n");
	return 0;
}
