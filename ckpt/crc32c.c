/* crc32c.c: CRC32C over image data. The hardware path does 8 bytes per
 * instruction so checksumming page data stays far below disk speed. */
#include <cpuid.h>
#include <stdbool.h>
#include <string.h>
#include "ckpt/crc32c.h"

static uint32_t table[256];

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[i] = c;
	}
}

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	if (!table[1])
		make_table();
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

static bool have_sse42(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	return c & bit_SSE4_2;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	static int hw = -1;

	if (hw < 0)
		hw = have_sse42();
	crc = ~crc;
	crc = hw ? crc32c_hw(crc, buf, len) : crc32c_sw(crc, buf, len);
	return ~crc;
}
