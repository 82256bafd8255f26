/* kcompat.h: what the job's state asks of the kernel that thaws it
 * (POSIX timer ids, extended rseq, resource limits, PR_SET_MM_MAP, time
 * namespaces), checked before a thaw touches anything. */
#pragma once
#include "ckpt/image.h"

/* Reports each thing process P of the job (INV) needs and this kernel has
 * not; -1 if there is any. */
int kcompat_check(const Inventory *inv, const Process *p);
