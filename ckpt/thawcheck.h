/* thawcheck.h: whether this machine can thaw a job whose images are
 * loaded (PROCS[i].img, NULL for a zombie): -1 after reporting every
 * reason it cannot. CPU_HERE: this process asks the CPU too. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "ckpt/ckpt.h"
#include "ckpt/image.h"

struct restore_ctx;
int thaw_check(const Inventory *inv, struct restore_ctx *procs, size_t n,
	       const struct restore_opts *o, bool cpu_here);
