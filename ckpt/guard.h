/* guard.h: a watcher process for the time a dump holds the job. If
 * jobfreeze dies before it lets the job go (killed, crashed), the guard
 * puts back what only jobfreeze knew: registers, signal masks, timers. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/user.h>

/* Forks the guard (one per dump, for the whole process). Without one (fork
 * failed) the dump goes on, unguarded, after a warning. */
void guard_start(void);
/* What thread TID of process PID is to get back: its registers as seized
 * (if it was caught in an injected call), its mask. */
void guard_thread(pid_t pid, pid_t tid, const struct user_regs_struct *regs, uint64_t sigmask);
/* The address of process PID's stub (dump.c): a thread let go in the
 * middle of a call stops 2 bytes past it; and its scratch memory, where
 * the code of injected calls runs (inject.c), which stops the process
 * (STOPPED: it was stopped already when seized). */
void guard_stub(pid_t pid, uint64_t stub, uint64_t scratch, uint64_t scratch_size, bool stopped);
/* Process PID's interval timers, disarmed, and the scratch memory (for the
 * calls that re-arm them, then unmapped) reached through SYSCALL_IP. */
void guard_timers(pid_t pid, uint64_t syscall_ip, uint64_t scratch, uint64_t scratch_size,
		  const struct itimerval it[3]);
/* The job is let go or killed: the guard leaves without touching it. */
void guard_stop(void);
