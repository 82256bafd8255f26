/* imgcheck.h: the checks a restore makes on unpacked image messages before
 * it uses a single field (counts, ids, address ranges). */
#pragma once
#include <stdbool.h>
#include "ckpt/image.h"

/* FILE names the image file in messages. Each returns 0, or -1 after
 * reporting what is wrong with FILE. */
int image_check_inventory(const Inventory *inv, const char *file);
/* IMG is proc-PID.img of the inventory's entry PE. */
int image_check_process(const Process *img, const ProcEntry *pe, const char *file);

/* mem.c: VMAs sorted, aligned, disjoint, in user space; page runs each
 * inside one VMA whose contents come from the image (marked in HAS_PAGES,
 * one per VMA). */
int mem_validate(const Process *img, bool *has_pages);
