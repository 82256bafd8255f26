/* crc32c.h: CRC32C (Castagnoli) checksums of image payloads and page runs,
 * using the SSE4.2 instruction when the CPU has it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The CRC32C of LEN bytes at BUF, going on from CRC (0 to start). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The CRC32C of A followed by B, from that of A (CRC_A), that of B
 * (CRC_B, started from 0) and B's length: page runs are checksummed in
 * pieces, on several threads, and joined in order. */
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
/* The same a bit at a time: what the tests check crc32c against. */
uint32_t crc32c_reference(uint32_t crc, const void *buf, size_t len);
