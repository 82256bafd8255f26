/* ptrace.h: seizing and stopping tasks without signals, their registers
 * and extended (FPU/AVX/AMX) state. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* PTRACE_SEIZE + PTRACE_INTERRUPT, then waits for the interrupt stop.
 * A signal arriving meanwhile is delivered, as it would have been.
 * *STOPSIG (if given): the signal of the job-control stop the task was
 * in (SIGSTOP, SIGTSTP...), else SIGTRAP. On failure the task is
 * detached (or was never attached), or, if it never stopped, let go once
 * it does (ckpt_let_go_pending). */
int ptrace_seize_stop(pid_t tid, int *stopsig);
/* After PTRACE_SEIZE failed with EPERM on a process of ours: true (and
 * says why) if that will last (a tracer already, Yama); false for the
 * instant an exec makes a process untraceable. */
bool ptrace_refusal_lasts(pid_t tid);
/* Waits for the next stop of a traced task; returns the wait status.
 * Reports an exit as an error naming the task. */
int ptrace_wait_stop(pid_t tid, int *status);

int ptrace_get_regs(pid_t tid, struct user_regs_struct *r);
int ptrace_set_regs(pid_t tid, const struct user_regs_struct *r);
/* Reads the xstate into a new buffer; *len is what the kernel saves. */
int ptrace_get_xstate(pid_t tid, void **buf, size_t *len);
int ptrace_set_xstate(pid_t tid, const void *buf, size_t len);

/* Rewrites registers saved inside an interrupted system call so that the
 * task restarts it the way the kernel would have when it resumes from any
 * kind of stop. Returns true if a restart was set up. */
bool regs_apply_restart(struct user_regs_struct *r);
