/* crc32c.c: CRC32C over image data.
 *
 * Every page a dump writes is checksummed on the thread that reads the
 * job: one chain of crc32 instructions (about 9 GB/s here) was an eighth
 * of an incremental snapshot's time. With PCLMULQDQ, four 16-byte
 * remainders are folded forward side by side, 64 bytes a step, and the
 * last one goes through the crc32 instruction.
 *
 * Folding, in the CRC's own bit order (the first bit of a message is its
 * highest power of x): a 16-byte block whose halves are L (first) and H
 * stands for L x^64 + H; followed by D bits more it stands for
 * L x^(64+D) + H x^D, which is, modulo P, the carry-less product of L
 * with x^(63+D) mod P plus that of H with x^(D-1) mod P (PCLMULQDQ on
 * bit-reflected operands multiplies by x once more): a 16-byte block
 * again, whose CRC is the same. Those constants are computed at start,
 * not written here; a unit test checks the result against the CRC done
 * a bit at a time. */
#include <cpuid.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <wmmintrin.h>
#include <smmintrin.h>
#include "ckpt/crc32c.h"

/* The Castagnoli polynomial (x^32 + ...) without its x^32 term: as
 * written, bit d the coefficient of x^d, and bit-reflected (bit 31: x^0),
 * the order the CRC works in. */
#define POLY_NORMAL 0x1EDC6F41u
#define POLY_REFLECTED 0x82F63B78u

static uint32_t table[256];

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY_REFLECTED : c >> 1;
		table[i] = c;
	}
}

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* One chain of crc32 instructions (without the inversions). */
__attribute__((target("sse4.2")))
static uint64_t chain(uint64_t c, const unsigned char *p, size_t len)
{
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return c;
}

/* x^N mod P, bit-reflected into a 64-bit operand of PCLMULQDQ */
static uint64_t xpow_mod(unsigned n)
{
	uint32_t v = 1;	/* x^0; bit d: the coefficient of x^d */
	uint64_t k = 0;

	while (n--)
		v = (v & 0x80000000u) ? (v << 1) ^ POLY_NORMAL : v << 1;
	for (int d = 0; d < 32; d++)
		if (v & (1u << d))
			k |= 1ull << (63 - d);
	return k;
}

/* (low half: x^(63+D) mod P, high half: x^(D-1) mod P) for D = 512
 * (from one block to the one four further) and D = 128 (to the next) */
static __m128i fold_by4, fold_by1;

__attribute__((target("pclmul,sse4.2")))
static __m128i fold(__m128i acc, __m128i k, __m128i next)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(acc, k, 0x00),
					   _mm_clmulepi64_si128(acc, k, 0x11)),
			     next);
}

__attribute__((target("pclmul,sse4.2")))
static uint32_t crc32c_fold(uint32_t crc, const unsigned char *p, size_t len)
{
	__m128i a0, a1, a2, a3;

	if (len < 128)
		return (uint32_t)chain(crc, p, len);
	/* (the CRC so far goes into the first bytes: the same remainder) */
	a0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)crc));
	a1 = _mm_loadu_si128((const __m128i *)(p + 16));
	a2 = _mm_loadu_si128((const __m128i *)(p + 32));
	a3 = _mm_loadu_si128((const __m128i *)(p + 48));
	p += 64;
	len -= 64;
	while (len >= 64) {
		a0 = fold(a0, fold_by4, _mm_loadu_si128((const __m128i *)p));
		a1 = fold(a1, fold_by4, _mm_loadu_si128((const __m128i *)(p + 16)));
		a2 = fold(a2, fold_by4, _mm_loadu_si128((const __m128i *)(p + 32)));
		a3 = fold(a3, fold_by4, _mm_loadu_si128((const __m128i *)(p + 48)));
		p += 64;
		len -= 64;
	}
	a1 = fold(a0, fold_by1, a1);
	a2 = fold(a1, fold_by1, a2);
	a3 = fold(a2, fold_by1, a3);
	while (len >= 16) {
		a3 = fold(a3, fold_by1, _mm_loadu_si128((const __m128i *)p));
		p += 16;
		len -= 16;
	}
	uint64_t c = __builtin_ia32_crc32di(0, (uint64_t)_mm_cvtsi128_si64(a3));
	c = __builtin_ia32_crc32di(c, (uint64_t)_mm_extract_epi64(a3, 1));
	return (uint32_t)chain(c, p, len);
}

static enum { SOFTWARE, CRC32, FOLD } how;

static void setup(void)
{
	unsigned a, b, c, d;

	make_table();
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_2))
		return;
	how = CRC32;
	if (c & bit_PCLMUL) {
		fold_by4 = _mm_set_epi64x((long long)xpow_mod(511), (long long)xpow_mod(575));
		fold_by1 = _mm_set_epi64x((long long)xpow_mod(127), (long long)xpow_mod(191));
		how = FOLD;
	}
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, setup);
	crc = ~crc;
	switch (how) {
	case FOLD:
		crc = crc32c_fold(crc, buf, len);
		break;
	case CRC32:
		crc = (uint32_t)chain(crc, buf, len);
		break;
	default:
		crc = crc32c_sw(crc, buf, len);
	}
	return ~crc;
}

/* A times B modulo P, both in the CRC's reflected order (bit 31: x^0). */
static uint32_t mul_mod(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;

	for (uint32_t bit = 1u << 31; bit; bit >>= 1) {
		if (a & bit)
			prod ^= b;
		b = b & 1 ? (b >> 1) ^ POLY_REFLECTED : b >> 1;	/* b times x */
	}
	return prod;
}

/* Joining: without the inversions a CRC is linear, and with them too the
 * CRC of A then B is that of A carried over |B| bytes of zeroes (times
 * x^(8|B|) mod P) plus that of B. x^(2^k) mod P by squaring. */
static uint32_t x2k[64];	/* x^(2^k) mod P */

static void make_powers(void)
{
	x2k[0] = 1u << 30;	/* x^1 */
	for (int k = 1; k < 64; k++)
		x2k[k] = mul_mod(x2k[k - 1], x2k[k - 1]);
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, make_powers);
	/* (len_b bytes: 8 * len_b bits, x^(2^(k+3)) for each bit k of len_b) */
	for (int k = 3; len_b && k < 64; k++, len_b >>= 1)
		if (len_b & 1)
			crc_a = mul_mod(x2k[k], crc_a);
	return crc_a ^ crc_b;
}

uint32_t crc32c_reference(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ POLY_REFLECTED : crc >> 1;
	}
	return ~crc;
}
