/* avx512: keeps the job's live state in the AVX-512 and AMX registers.
 *
 * Phase 1 loads 32 zmm registers and the mask registers k1-k7 from memory,
 * then runs one long inline-asm loop that mixes them (64-bit add, rotate,
 * xor, byte adds under the k masks, masks refreshed from zmm sign bits) and
 * never touches memory until it stores them back. A freeze almost always
 * lands inside that loop, so any zmm or k bit that the thaw gets wrong
 * changes the printed checksums.
 *
 * If the CPU has AMX-TILE and AMX-INT8 and the kernel grants XTILEDATA, each
 * zmm block is followed by a block that does the same with the eight tile
 * registers: ldtilecfg, then a loop of tdpbssd that feeds every tile into
 * another one (tilerelease after each block).
 *
 * Blocks go on until the job is told to stop (stop.h: a block, zmm and
 * then tiles, is its unit).
 *
 * Usage: avx512 [--no-amx] [BLOCKS]   (--no-amx: zmm/k blocks only, never
 *                                      use AMX; BLOCKS: a fixed count)
 *
 * Exits 77 (skip) when the CPU lacks AVX-512F or AVX-512BW.
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "stop.h"

#define ZITERS  (3000u * 1000)
#define TITERS  (600u * 1000)

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA  18

struct zstate {
	uint64_t z[32][8];
	uint64_t k[8];		/* k[0] unused: k0 is only a scratch */
} __attribute__((aligned(64)));

static struct zstate zs;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t fnv_bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* zmm[a] = ((zmm[a] + zmm[b]) rol r) ^ zmm[c], then bytes += zmm[d] under k */
#define ZSTEP(a, b, c, d, k, r) \
	"vpaddq %%zmm" #b ", %%zmm" #a ", %%zmm" #a "\n\t" \
	"vprolq $" #r ", %%zmm" #a ", %%zmm" #a "\n\t" \
	"vpxorq %%zmm" #c ", %%zmm" #a ", %%zmm" #a "\n\t" \
	"vpaddb %%zmm" #d ", %%zmm" #a ", %%zmm" #a "%{%%k" #k "%}\n\t"

#define ZLOAD(i)  "vmovdqu64 " #i "*64(%[z]), %%zmm" #i "\n\t"
#define ZSTORE(i) "vmovdqu64 %%zmm" #i ", " #i "*64(%[z])\n\t"
#define KLOAD(i)  "kmovq 2048+" #i "*8(%[z]), %%k" #i "\n\t"
#define KSTORE(i) "kmovq %%k" #i ", 2048+" #i "*8(%[z])\n\t"

__attribute__((target("avx512f,avx512bw"), noinline))
static void zloop(struct zstate *s, uint64_t iters)
{
	__asm__ volatile(
		ZLOAD(0) ZLOAD(1) ZLOAD(2) ZLOAD(3) ZLOAD(4) ZLOAD(5)
		ZLOAD(6) ZLOAD(7) ZLOAD(8) ZLOAD(9) ZLOAD(10) ZLOAD(11)
		ZLOAD(12) ZLOAD(13) ZLOAD(14) ZLOAD(15) ZLOAD(16) ZLOAD(17)
		ZLOAD(18) ZLOAD(19) ZLOAD(20) ZLOAD(21) ZLOAD(22) ZLOAD(23)
		ZLOAD(24) ZLOAD(25) ZLOAD(26) ZLOAD(27) ZLOAD(28) ZLOAD(29)
		ZLOAD(30) ZLOAD(31)
		KLOAD(1) KLOAD(2) KLOAD(3) KLOAD(4) KLOAD(5) KLOAD(6) KLOAD(7)
		".p2align 4\n"
		"1:\n\t"
		ZSTEP(0, 1, 5, 11, 1, 1)
		ZSTEP(1, 2, 6, 12, 2, 8)
		ZSTEP(2, 3, 7, 13, 3, 15)
		ZSTEP(3, 4, 8, 14, 4, 22)
		ZSTEP(4, 5, 9, 15, 5, 29)
		ZSTEP(5, 6, 10, 16, 6, 36)
		ZSTEP(6, 7, 11, 17, 7, 43)
		ZSTEP(7, 8, 12, 18, 1, 50)
		ZSTEP(8, 9, 13, 19, 2, 57)
		ZSTEP(9, 10, 14, 20, 3, 3)
		ZSTEP(10, 11, 15, 21, 4, 10)
		ZSTEP(11, 12, 16, 22, 5, 17)
		ZSTEP(12, 13, 17, 23, 6, 24)
		ZSTEP(13, 14, 18, 24, 7, 31)
		ZSTEP(14, 15, 19, 25, 1, 38)
		ZSTEP(15, 16, 20, 26, 2, 45)
		ZSTEP(16, 17, 21, 27, 3, 52)
		ZSTEP(17, 18, 22, 28, 4, 59)
		ZSTEP(18, 19, 23, 29, 5, 5)
		ZSTEP(19, 20, 24, 30, 6, 12)
		ZSTEP(20, 21, 25, 31, 7, 19)
		ZSTEP(21, 22, 26, 0, 1, 26)
		ZSTEP(22, 23, 27, 1, 2, 33)
		ZSTEP(23, 24, 28, 2, 3, 40)
		ZSTEP(24, 25, 29, 3, 4, 47)
		ZSTEP(25, 26, 30, 4, 5, 54)
		ZSTEP(26, 27, 31, 5, 6, 61)
		ZSTEP(27, 28, 0, 6, 7, 7)
		ZSTEP(28, 29, 1, 7, 1, 14)
		ZSTEP(29, 30, 2, 8, 2, 21)
		ZSTEP(30, 31, 3, 9, 3, 28)
		ZSTEP(31, 0, 4, 10, 4, 35)
		/* masks: fold in the sign bits of two registers, then chain */
		"vpmovb2m %%zmm7, %%k0\n\t"
		"kxorq %%k0, %%k1, %%k1\n\t"
		"kaddq %%k1, %%k2, %%k2\n\t"
		"kxorq %%k2, %%k3, %%k3\n\t"
		"kaddq %%k3, %%k4, %%k4\n\t"
		"vpmovb2m %%zmm23, %%k0\n\t"
		"kxorq %%k4, %%k5, %%k5\n\t"
		"kaddq %%k0, %%k5, %%k5\n\t"
		"kaddq %%k5, %%k6, %%k6\n\t"
		"kxorq %%k6, %%k7, %%k7\n\t"
		"kaddq %%k7, %%k1, %%k1\n\t"
		"dec %[n]\n\t"
		"jnz 1b\n\t"
		ZSTORE(0) ZSTORE(1) ZSTORE(2) ZSTORE(3) ZSTORE(4) ZSTORE(5)
		ZSTORE(6) ZSTORE(7) ZSTORE(8) ZSTORE(9) ZSTORE(10) ZSTORE(11)
		ZSTORE(12) ZSTORE(13) ZSTORE(14) ZSTORE(15) ZSTORE(16) ZSTORE(17)
		ZSTORE(18) ZSTORE(19) ZSTORE(20) ZSTORE(21) ZSTORE(22) ZSTORE(23)
		ZSTORE(24) ZSTORE(25) ZSTORE(26) ZSTORE(27) ZSTORE(28) ZSTORE(29)
		ZSTORE(30) ZSTORE(31)
		KSTORE(1) KSTORE(2) KSTORE(3) KSTORE(4) KSTORE(5) KSTORE(6) KSTORE(7)
		"vzeroupper\n\t"
		: [n] "+r"(iters)
		: [z] "r"(s)
		: "memory", "cc",
		  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
		  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
		  "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
		  "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",
		  "xmm29", "xmm30", "xmm31",
		  "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7");
}

/* ---- AMX ---- */

struct tilecfg {
	uint8_t palette;
	uint8_t start_row;
	uint8_t reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
} __attribute__((packed, aligned(64)));

static struct tilecfg tcfg;
static int32_t tiles[8][16][16] __attribute__((aligned(64)));

#define TLOAD(i)  "tileloadd (%[t],%[stride],1), %%tmm" #i "\n\t" \
		  "add $1024, %[t]\n\t"
#define TSTORE(i) "tilestored %%tmm" #i ", (%[t],%[stride],1)\n\t" \
		  "add $1024, %[t]\n\t"

static void tloop(uint64_t iters)
{
	void *t = tiles;

	__asm__ volatile(
		"ldtilecfg (%[cfg])\n\t"
		TLOAD(0) TLOAD(1) TLOAD(2) TLOAD(3)
		TLOAD(4) TLOAD(5) TLOAD(6) TLOAD(7)
		".p2align 4\n"
		"1:\n\t"
		/* AT&T order: src2, src1, dst; dst += src1 . src2 */
		"tdpbssd %%tmm5, %%tmm4, %%tmm0\n\t"
		"tdpbssd %%tmm6, %%tmm0, %%tmm1\n\t"
		"tdpbssd %%tmm7, %%tmm1, %%tmm2\n\t"
		"tdpbssd %%tmm4, %%tmm2, %%tmm3\n\t"
		"tdpbssd %%tmm5, %%tmm3, %%tmm4\n\t"
		"tdpbssd %%tmm6, %%tmm4, %%tmm5\n\t"
		"tdpbssd %%tmm7, %%tmm5, %%tmm6\n\t"
		"tdpbssd %%tmm0, %%tmm6, %%tmm7\n\t"
		"dec %[n]\n\t"
		"jnz 1b\n\t"
		"sub $8192, %[t]\n\t"
		TSTORE(0) TSTORE(1) TSTORE(2) TSTORE(3)
		TSTORE(4) TSTORE(5) TSTORE(6) TSTORE(7)
		"tilerelease\n\t"
		: [n] "+r"(iters), [t] "+r"(t)
		: [cfg] "r"(&tcfg), [stride] "r"((uint64_t)64)
		: "memory", "cc");
}

static int have_amx(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (d & (1u << 24)) && (d & (1u << 25));	/* AMX-TILE, AMX-INT8 */
}

static int amx_setup(uint64_t *seed)
{
	if (!have_amx()) {
		printf("amx: not supported by the CPU\n");
		return 0;
	}
	if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)) {
		printf("amx: XTILEDATA permission refused\n");
		return 0;
	}
	memset(&tcfg, 0, sizeof(tcfg));
	tcfg.palette = 1;
	for (int i = 0; i < 8; i++) {
		tcfg.colsb[i] = 64;
		tcfg.rows[i] = 16;
	}
	for (int i = 0; i < 8; i++)
		for (int r = 0; r < 16; r++)
			for (int c = 0; c < 16; c++)
				tiles[i][r][c] = (int32_t)splitmix(seed);
	printf("amx: enabled, %u iterations per block\n", TITERS);
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t seed = 0x5eed0fa57ULL;
	int amx = 0, noamx = argc > 1 && !strcmp(argv[1], "--no-amx");
	int blk;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f") ||
	    !__builtin_cpu_supports("avx512bw")) {
		printf("avx512: CPU lacks AVX-512F/BW, skipping\n");
		return 77;
	}

	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 8; j++)
			zs.z[i][j] = splitmix(&seed);
	for (int i = 1; i < 8; i++)
		zs.k[i] = splitmix(&seed);
	wl_stop_after(argc > 1 + noamx ? strtol(argv[1 + noamx], NULL, 0) : 0);
	printf("avx512: blocks of %u iterations\n", ZITERS);
	if (noamx)
		printf("amx: not used (--no-amx)\n");
	else
		amx = amx_setup(&seed);

	/* Alternate the two loops so that a freeze at a random point lands
	 * in either one about as often. */
	for (blk = 1;; blk++) {
		zloop(&zs, amx ? ZITERS : 2 * ZITERS);
		printf("zmm block %2d: sum=%016llx k1=%016llx k7=%016llx\n", blk,
		       (unsigned long long)fnv_bytes(zs.z, sizeof(zs.z), 0xcbf29ce484222325ULL),
		       (unsigned long long)zs.k[1], (unsigned long long)zs.k[7]);
		if (amx) {
			tloop(TITERS);
			printf("amx block %2d: sum=%016llx\n", blk,
			       (unsigned long long)fnv_bytes(tiles, sizeof(tiles),
							     0xcbf29ce484222325ULL));
		}
		if (wl_stop(blk))
			break;
	}
	printf("avx512: stopped after %d blocks\n", blk);
	return 0;
}
