/* mem.h: constants shared by the memory dump and restore. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ckpt/image.h"
#include "ckpt/spans.h"

#define PM_PRESENT   (1ULL << 63)
#define PM_SWAP      (1ULL << 62)
#define PM_FILE      (1ULL << 61)   /* file page or shared anonymous page */
#define PM_EXCLUSIVE (1ULL << 56)   /* mapped by this process only */

/* Vma.madv bits: the VmFlags replayed with madvise() at restore. */
#define VMA_MADV_DONTFORK   (1u << 0)
#define VMA_MADV_WIPEONFORK (1u << 1)
#define VMA_MADV_HUGEPAGE   (1u << 2)
#define VMA_MADV_NOHUGEPAGE (1u << 3)
#define VMA_MADV_DONTDUMP   (1u << 4)
#define VMA_MADV_SEQUENTIAL (1u << 5)
#define VMA_MADV_RANDOM     (1u << 6)
#define VMA_MADV_MERGEABLE  (1u << 7)
#define VMA_MADV_LOCKED     (1u << 8)   /* mlock: replayed with mlock2() */
#define VMA_MADV_LOCKONFAULT (1u << 9)  /* mlock2(MLOCK_ONFAULT) */

/* Newer than the system's headers. */
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08              /* Linux 6.11: a mapping type of its own */
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102          /* Linux 6.13 */
#endif
#define PM_GUARD     (1ULL << 58)       /* pagemap: a guard region marker (6.14) */

/* Whether a 4 KiB page holds only zero bytes (such pages are not stored). */
static inline bool page_is_zero(const unsigned char *p)
{
	const uint64_t *w = (const uint64_t *)p;

	/* 64 bytes at a time, stopping at the first that are not zero: most
	 * pages a dump reads are not, and are then left at once */
	for (size_t i = 0; i < 4096 / 8; i += 8) {
		uint64_t acc = 0;
		for (size_t k = 0; k < 8; k++)
			acc |= w[i + k];
		if (acc)
			return false;
	}
	return true;
}

/* Bytes of page data moved per system call, both ways. */
#define MEM_BATCH_BYTES (1u << 20)
#define MEM_BATCH_IOVS  1024

/* The kernel's own areas (vdso, vvar, vsyscall, a thaw's vDSO copy: vdso.c),
 * never mapped as the job's memory. */
static inline bool mem_is_kernel_area(const Vma *v)
{
	return v->kind == VMA__KIND__VDSO || v->kind == VMA__KIND__VVAR ||
	       v->kind == VMA__KIND__VVAR_VCLOCK || v->kind == VMA__KIND__VSYSCALL || v->vdso_copy;
}

/* Copy-on-write sharing with a parent (mem.c decides, cow.c rebuilds).
 * Whether CHILD can be rebuilt by forking PARENT without exec: the same
 * program, the kernel's areas at the same addresses. */
bool mem_fork_ok(const Process *parent, const Process *child);
/* The parts of CHILD's area V that such a fork leaves in place: where one
 * of PARENT's areas lies at the same addresses with the same kind, file
 * and offset, flags and advice. Added to OUT. Dump and restore decide by
 * this same rule which pages can be the parent's. */
void mem_fork_kept(const Process *parent, const Vma *v, struct spans *out);
/* The first of P's areas that ends above ADDR (n_vmas if none). */
size_t mem_area_above(const Process *p, uint64_t addr);
