/* crc32c.h: CRC32C (Castagnoli) checksums of image payloads and page runs,
 * using the SSE4.2 instruction when the CPU has it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The CRC32C of LEN bytes at BUF, going on from CRC (0 to start). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The same a bit at a time: what the tests check crc32c against. */
uint32_t crc32c_reference(uint32_t crc, const void *buf, size_t len);
