/* kcompat.c: what the job's state asks of the kernel that thaws it. The
 * machine, or its kernel, may have changed since the freeze: an update,
 * another machine, an older kernel booted again. Each line of the table is
 * one thing a job may hold that not every kernel can give back, with the
 * probe that asks this kernel (cheaply, in this process) and a message
 * that says what and which kernel has it; the thaw refuses before it
 * touches anything instead of failing half-way or crashing later. The
 * kernel's CPU-dependent parts are cpu.c's; its vDSO is vdso.c's. A new
 * kernel feature a restore relies on gets a line here. */
#include <errno.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <linux/prctl.h>
#include "ckpt/kcompat.h"
#include "ckpt/log.h"
#include "ckpt/util.h"

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#endif
#define PR_TIMER_CREATE_RESTORE_IDS_GET 2
#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif
/* The rseq area every kernel since 4.18 takes; larger ones need 6.3+. */
#define RSEQ_ORIG_SIZE 32

/* POSIX timers come back with their ids only where the kernel lets a
 * process choose them. */
static int timer_ids(const Inventory *inv, const Process *p)
{
	if (!p->n_posix_timers || prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET,
					0, 0, 0) >= 0)
		return 0;
	pr_err("process %d has %zu POSIX timers, whose ids only Linux 6.17 or later can give back "
	       "(PR_TIMER_CREATE_RESTORE_IDS); this kernel cannot (frozen under %s)", p->pid,
	       p->n_posix_timers, inv->kernel);
	return 1;
}

/* A C library that registered a larger rseq area than the original 32
 * bytes (the kernel offered its extended rseq, Linux 6.3+) needs a kernel
 * that takes that size. */
static int rseq_size(const Inventory *inv, const Process *p)
{
	unsigned long have = getauxval(AT_RSEQ_FEATURE_SIZE);

	for (size_t i = 0; i < p->n_threads; i++) {
		const Thread *t = p->threads[i];
		if (!t->has_rseq_len || t->rseq_len == RSEQ_ORIG_SIZE || (have && t->rseq_len >= have))
			continue;
		pr_err("thread %d of process %d registered a %u-byte rseq area (extended rseq of "
		       "Linux 6.3 or later, kernel %s); this kernel takes %s", t->tid, p->pid,
		       t->rseq_len, inv->kernel, have ? "smaller ones only" : "32 bytes only");
		return 1;
	}
	return 0;
}

/* Every resource limit the job had is one this kernel knows. */
static int rlimits(const Inventory *inv, const Process *p)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl;
		if (prlimit(0, p->rlimits[i]->resource, NULL, &rl) == 0 || errno != EINVAL)
			continue;
		pr_err("process %d has resource limit %u, which this kernel does not know (frozen "
		       "under %s)", p->pid, p->rlimits[i]->resource, inv->kernel);
		return 1;
	}
	return 0;
}

/* The memory layout goes back with PR_SET_MM_MAP: this kernel's struct
 * must be the one jobfreeze fills. */
static int mm_map(const Inventory *inv, const Process *p)
{
	unsigned int size = 0;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0) == 0 &&
	    size == sizeof(struct prctl_mm_map))
		return 0;
	if (p->pid != inv->root_pid)
		return 0;	/* said once for the job */
	if (size)
		pr_err("this kernel's PR_SET_MM_MAP takes a %u-byte layout, jobfreeze knows the "
		       "%zu-byte one: a jobfreeze built for this kernel is needed", size,
		       sizeof(struct prctl_mm_map));
	else
		pr_err("this kernel cannot set a process's memory layout (PR_SET_MM_MAP: a kernel "
		       "without CONFIG_CHECKPOINT_RESTORE)");
	return 1;
}

/* The job's clocks go on through a time namespace (Linux 5.6+). */
static int time_ns(const Inventory *inv, const Process *p)
{
	if (p->pid != inv->root_pid || access("/proc/self/ns/time", F_OK) == 0)
		return 0;
	pr_err("this kernel has no time namespaces (Linux 5.6 or later, CONFIG_TIME_NS): the "
	       "job's clocks could not go on where they stopped");
	return 1;
}

static int (*const checks[])(const Inventory *inv, const Process *p) = {
	timer_ids, rseq_size, rlimits, mm_map, time_ns,
};

int kcompat_check(const Inventory *inv, const Process *p)
{
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
		bad += checks[i](inv, p);
	return bad ? -1 : 0;
}
