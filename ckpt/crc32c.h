/* crc32c.h: CRC32C (Castagnoli) checksums of image payloads and page runs,
 * using the SSE4.2 instruction when the CPU has it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
