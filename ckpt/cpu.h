/* cpu.h: the CPU a job ran on, as its programs saw it (CPUID's
 * instruction-set flags, the XSAVE features the OS enabled, the layout of
 * the saved vector registers), recorded at dump and compared at a thaw;
 * the saved xstate laid out again for this CPU. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "ckpt/image.h"

/* Fills INV's cpuid, xcr0 and xsave_areas from this CPU. */
void cpu_record(Inventory *inv);
void cpu_record_free(Inventory *inv);

/* Whether this CPU has what the job may use: every flag the freezing CPU
 * had, every XSAVE component a thread's saved state holds. Each missing
 * one is reported; IGNORE (--ignore-cpu-features) makes the flags
 * warnings. Returns -1 if the job cannot be thawed here. */
int cpu_check(const Inventory *inv, const Process *const *procs, size_t n, bool ignore);

/* Whether this CPU and kernel keep AMX tile data (XCR0). */
bool cpu_has_amx(void);

/* Sets task TID's FPU/vector registers to thread T's saved ones, laid out
 * for this CPU (the freezing CPU's layout is in INV); components this CPU
 * lacks are dropped only when IGNORE. */
int cpu_xstate_restore(pid_t tid, const Thread *t, const Inventory *inv, bool ignore);
