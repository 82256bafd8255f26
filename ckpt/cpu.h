/* cpu.h: the CPU a job ran on, as its programs saw it (CPUID's
 * instruction-set flags, the XSAVE features the OS enabled, the layout of
 * the saved vector registers), recorded at dump and compared at a thaw;
 * the saved xstate laid out again for this CPU. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "ckpt/image.h"

struct inject;

/* What CPUID and XGETBV answer a program: the leaves cpu.c compares and
 * the XSAVE layout (leaf 0xd). */
#define CPU_QUERIES_MAX 48
struct cpu_view {
	size_t n;
	uint32_t leaf[CPU_QUERIES_MAX], sub[CPU_QUERIES_MAX];
	uint32_t reg[CPU_QUERIES_MAX][4];     /* eax, ebx, ecx, edx */
	uint64_t xcr0;
};

/* As this process sees it (an emulator such as valgrind shows its own
 * CPU: the engine asks the job's processes, cpu_view_task, when it can). */
void cpu_view_self(struct cpu_view *v);
/* Where in a 64 KiB scratch area the probe's code and answers go (no
 * other user of the dump's or the restore's scratch goes there). */
#define CPU_PROBE_CODE 32768
#define CPU_PROBE_BUF  40960

/* As the traced task of IN sees it: a few instructions written at CODE
 * (executable scratch memory) run there, their answers at BUF; the call
 * ends by a jump to the syscall instruction at SYSCALL_AT (the dump's stub)
 * or, if 0, one of its own. -1 when the task cannot run CPUID (reported
 * at debug level: the caller uses cpu_view_self). */
int cpu_view_task(struct inject *in, uint64_t code, uint64_t buf, uint64_t syscall_at,
		  struct cpu_view *v);

/* Fills INV's cpuid, xcr0 and xsave_areas from V; the free undoes it. */
void cpu_record(Inventory *inv, const struct cpu_view *v);
void cpu_record_free(Inventory *inv);

/* Whether the CPU V has what the job may use: every flag the freezing CPU
 * had (WITH_FLAGS), every XSAVE component a thread of PROCS (NULL for a
 * zombie) holds, AMX where a process asked for it. Each missing one is
 * reported; IGNORE (--ignore-cpu-features) makes them warnings. -1 if the
 * job cannot be thawed on V. */
int cpu_check(const Inventory *inv, const Process *const *procs, size_t n,
	      const struct cpu_view *v, bool with_flags, bool ignore);

/* Whether the CPU V and its kernel keep AMX tile data (XCR0). */
bool cpu_has_amx(const struct cpu_view *v);

/* Sets task TID's FPU/vector registers to thread T's saved ones, laid out
 * for the CPU V (the freezing CPU's layout is in INV); components it lacks
 * are dropped only when IGNORE. */
int cpu_xstate_restore(pid_t tid, const Thread *t, const Inventory *inv,
		       const struct cpu_view *v, bool ignore);
