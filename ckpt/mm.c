/* mm.c: the mm's own bookkeeping: code/data/brk/stack boundaries, the
 * argument and environment areas (/proc/self/cmdline) and the auxv. Exec
 * set them for the new program; PR_SET_MM_MAP puts the job's back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/prctl.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define AUXV_MAX 4096

int mm_dump(struct dump_ctx *c)
{
	MmInfo *mm = xmalloc(sizeof(*mm));
	char path[64];
	size_t len;
	long brk;

	mm_info__init(mm);
	c->img->mm = mm;
	mm->start_code = c->stat.startcode;
	mm->end_code = c->stat.endcode;
	mm->start_data = c->stat.start_data;
	mm->end_data = c->stat.end_data;
	mm->start_brk = c->stat.start_brk;
	mm->start_stack = c->stat.startstack;
	mm->arg_start = c->stat.arg_start;
	mm->arg_end = c->stat.arg_end;
	mm->env_start = c->stat.env_start;
	mm->env_end = c->stat.env_end;
	/* The current break is in no /proc file: ask the process. */
	brk = INJECT(&c->in, SYS_brk, 0);
	if (brk < 0) {
		pr_err("cannot read the program break of process %d: %s", c->pid, strerror(-brk));
		return -1;
	}
	mm->brk = brk;
	snprintf(path, sizeof(path), "/proc/%d/auxv", c->pid);
	mm->auxv.data = (uint8_t *)read_file(path, &len);
	if (!mm->auxv.data) {
		pr_perror("cannot read %s", path);
		return -1;
	}
	if (len > AUXV_MAX || len % 16) {
		pr_err("%s has an unexpected size (%zu bytes)", path, len);
		return -1;
	}
	mm->auxv.len = len;
	return 0;
}

int mm_restore(struct restore_ctx *r)
{
	const MmInfo *mm = r->img->mm;
	struct prctl_mm_map map = {
		.start_code = mm->start_code, .end_code = mm->end_code,
		.start_data = mm->start_data, .end_data = mm->end_data,
		.start_brk = mm->start_brk, .brk = mm->brk,
		.start_stack = mm->start_stack,
		.arg_start = mm->arg_start, .arg_end = mm->arg_end,
		.env_start = mm->env_start, .env_end = mm->env_end,
		.auxv_size = mm->auxv.len,
		.exe_fd = -1,	/* exec already made /proc/self/exe the job's binary */
	};
	uint64_t auxv, p;
	long ret;

	if (mm->auxv.len > AUXV_MAX || mm->auxv.len % 16) {
		pr_err("damaged image: auxv of %zu bytes", mm->auxv.len);
		return -1;
	}
	/* The kernel reads the struct and the auxv from the job's memory. */
	auxv = scratch_put(r, 256, mm->auxv.data, mm->auxv.len);
	if (!auxv)
		return -1;
	map.auxv = (__u64 *)auxv;
	p = scratch_put(r, 0, &map, sizeof(map));
	if (!p)
		return -1;
	ret = INJECT(&r->in, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, p, sizeof(map), 0);
	if (ret < 0) {
		pr_err("cannot restore the job's memory layout (prctl PR_SET_MM_MAP: %s)",
		       strerror(-ret));
		return -1;
	}
	return 0;
}
