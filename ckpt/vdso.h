/* vdso.h: what vdso.c (the job's vDSO: recorded at dump, checked and put
 * back at a thaw) and vdso_move.c (where the kernel's areas go in the new
 * process) share. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "ckpt/image.h"
#include "ckpt/restore.h"

/* No vDSO is anywhere near this. */
#define VDSO_MAX (1 << 20)

/* The kernel's areas, in the order they lie in every process. */
enum { VVAR, VCLOCK, VDSO, NR_AREAS };
extern const char *const vdso_area_names[NR_AREAS];

/* Where the job had each area (empty: it had none). */
void vdso_image_areas(const Process *img, struct range a[NR_AREAS]);
/* Moves each area the new process has (CUR, updated) to DEST (0: unmaps
 * it), moving through gaps free of the job's layout and of BUSY. */
int vdso_place(struct restore_ctx *r, struct range cur[NR_AREAS], const uint64_t dest[NR_AREAS],
	       const struct range *busy, size_t nr_busy);
/* Under another kernel: this kernel's areas (CUR, its vDSO's bytes TEXT)
 * near the job's old vDSO (WANT), the old vDSO's bytes back at their
 * address, each of its functions leading to this kernel's one. */
int vdso_forward(struct restore_ctx *r, struct range cur[NR_AREAS],
		 const struct range want[NR_AREAS], const unsigned char *text, size_t len);
/* Whether every function of the job's vDSO has room for a jump (-1 after
 * reporting each that has not). */
int vdso_forward_check(const Process *img);
