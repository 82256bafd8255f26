/* tests/unit/crc32c.c: crc32c() (folded with PCLMULQDQ, ckpt/crc32c.c)
 * against the bit-at-a-time reference: lengths around its 16- and
 * 64-byte steps and the 128 bytes below which it does not fold, every
 * alignment, a checksum continued over several calls, and two joined
 * with crc32c_combine, as page runs are. Random data from the seed given
 * as argument (the runner's). Prints "ok N" or what differs; exits 1 on
 * a difference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "ckpt/crc32c.h"

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
	enum { SIZE = 64 << 10 };
	static unsigned char buf[SIZE + 64];
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
	/* (known value: the CRC32C of "123456789") */
	if (crc32c(0, "123456789", 9) != 0xE3069283u) {
		printf("crc32c(\"123456789\") = %08x, not e3069283\n", crc32c(0, "123456789", 9));
		return 1;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rng(&seed);
	/* zero runs too: a page of a job is often mostly zeroes */
	for (size_t i = 5000; i < 9000; i++)
		buf[i] = 0;
	size_t checks = 0;
	static const size_t lens[] = { 0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 143,
				       144, 191, 192, 193, 4095, 4096, 4097, 8192, 16384 + 3, SIZE };
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (size_t off = 0; off < 64; off++, checks++) {
			uint32_t want = crc32c_reference(0, buf + off, lens[l]);
			uint32_t got = crc32c(0, buf + off, lens[l]);
			if (got != want) {
				printf("length %zu at offset %zu: %08x, not %08x\n", lens[l], off, got, want);
				return 1;
			}
		}
	for (int t = 0; t < 2000; t++, checks++) {
		size_t off = rng(&seed) % 64, len = rng(&seed) % (SIZE - 64);
		size_t cut1 = len ? rng(&seed) % len : 0;
		size_t cut2 = cut1 + (len - cut1 ? rng(&seed) % (len - cut1) : 0);
		uint32_t want = crc32c_reference(0, buf + off, len);
		uint32_t got = crc32c(0, buf + off, cut1);
		got = crc32c(got, buf + off + cut1, cut2 - cut1);
		got = crc32c(got, buf + off + cut2, len - cut2);
		if (got != want) {
			printf("length %zu at offset %zu, in three calls cut at %zu and %zu: %08x, not %08x\n",
			       len, off, cut1, cut2, got, want);
			return 1;
		}
	}
	for (int t = 0; t < 2000; t++, checks++) {
		size_t off = rng(&seed) % 64, len = rng(&seed) % (SIZE - 64);
		size_t cut = len ? rng(&seed) % len : 0;
		uint32_t want = crc32c_reference(0, buf + off, len);
		uint32_t got = crc32c_combine(crc32c(0, buf + off, cut), crc32c(0, buf + off + cut, len - cut),
					      len - cut);
		if (got != want) {
			printf("length %zu at offset %zu, joined at %zu: %08x, not %08x\n", len, off, cut,
			       got, want);
			return 1;
		}
	}
	printf("ok %zu\n", checks);
	return 0;
}
