/* dump.h: the state of one dump, shared by the per-object files
 * (mem.c, vdso.c, signals.c, files.c) that fill the process image. */
#pragma once
#include <stdbool.h>
#include <sys/time.h>
#include <sys/user.h>
#include "ckpt/ckpt.h"
#include "ckpt/image.h"
#include "ckpt/inject.h"
#include "ckpt/proc.h"

struct dump_ctx {
	const struct dump_opts *o;
	struct ckpt_stats *stats;
	pid_t pid;                        /* as the dumping side sees it */
	struct proc_status status;
	struct proc_stat stat;
	struct proc_maps maps;            /* parsed before any scratch memory exists */
	struct inject in;
	struct user_regs_struct regs;     /* as the task was stopped */
	uint64_t sigmask;                 /* its blocked mask, restored on release */
	bool seized;
	bool mask_changed;
	bool itimers_disarmed;
	struct itimerval itimers[3];      /* what the disarmed timers held */
	struct image_dir dir;
	Process *img;
};

/* mem.c */
int mem_dump_vmas(struct dump_ctx *c);
int mem_dump_pages(struct dump_ctx *c);
/* vdso.c: finds a syscall instruction in the task's [vdso] and records its checksum */
int vdso_dump(struct dump_ctx *c, uint64_t *syscall_ip);
/* signals.c */
int signals_dump(struct dump_ctx *c);
int itimers_disarm(struct dump_ctx *c);
void itimers_rearm(struct dump_ctx *c);
/* files.c */
int files_dump(struct dump_ctx *c);
/* task.c: rseq, robust list, tid address, AMX permission, personality,
 * umask, rlimits, comm */
int task_dump(struct dump_ctx *c);
/* mm.c: code/data/brk/stack/args/env boundaries and the auxv */
int mm_dump(struct dump_ctx *c);
