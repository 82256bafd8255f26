/* inject.h: running a system call inside a stopped, traced task, and
 * reading or writing its memory. The tracer keeps all logic in plain C. */
#pragma once
#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct inject {
	pid_t    tid;
	uint64_t syscall_ip;              /* a `syscall` instruction in the task */
	bool     stub;                    /* syscall_ip is the dump's stub, where a
					   * thread waits between calls and where one
					   * let go during a call stops */
	struct user_regs_struct base;     /* registers each injected call starts from */
	uint64_t scratch;                 /* scratch memory in the task (0: none) */
	size_t   scratch_size;
	bool     scratch_exec;            /* executable too: injected code may run there */
	bool     one_ready;               /* the code of a single call is in place */
	/* Signals the task was about to take while we resumed it for an
	 * injected call: taken off (not delivered), to be queued again. */
	siginfo_t held[16];
	int      nr_held;
	unsigned long calls;              /* injected so far, for the statistics */
	unsigned long trips;              /* times the task ran for them (a batch is one) */
};

void inject_init(struct inject *in, pid_t tid, uint64_t syscall_ip,
		 const struct user_regs_struct *base);
/* Runs syscall NR with up to six arguments in the task. Returns what the
 * syscall returned (-errno on failure), or -ESRCH if the task is lost.
 * With an executable scratch area, through code there that ends in a stop
 * the task sends itself: one resume instead of two. */
long inject_syscall(struct inject *in, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		    uint64_t a4, uint64_t a5, uint64_t a6);
/* The same, executing from IP instead: code the tracer wrote into the task,
 * ending in a `syscall` instruction. */
long inject_syscall_at(struct inject *in, uint64_t ip, long nr, uint64_t a1, uint64_t a2,
		       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6);
#define INJECT0(in, nr) inject_syscall(in, nr, 0, 0, 0, 0, 0, 0)
#define INJECT(in, nr, ...) inject_syscall_va(in, nr, __VA_ARGS__)
#define inject_syscall_va(in, nr, ...) _inject_pick(__VA_ARGS__, _INJ6, _INJ5, _INJ4, _INJ3, \
			_INJ2, _INJ1)(in, nr, __VA_ARGS__)
#define _inject_pick(a, b, c, d, e, f, g, ...) g
#define _INJ1(in, nr, a) inject_syscall(in, nr, (uint64_t)(a), 0, 0, 0, 0, 0)
#define _INJ2(in, nr, a, b) inject_syscall(in, nr, (uint64_t)(a), (uint64_t)(b), 0, 0, 0, 0)
#define _INJ3(in, nr, a, b, c) inject_syscall(in, nr, (uint64_t)(a), (uint64_t)(b), \
			(uint64_t)(c), 0, 0, 0)
#define _INJ4(in, nr, a, b, c, d) inject_syscall(in, nr, (uint64_t)(a), (uint64_t)(b), \
			(uint64_t)(c), (uint64_t)(d), 0, 0)
#define _INJ5(in, nr, a, b, c, d, e) inject_syscall(in, nr, (uint64_t)(a), (uint64_t)(b), \
			(uint64_t)(c), (uint64_t)(d), (uint64_t)(e), 0)
#define _INJ6(in, nr, a, b, c, d, e, f) inject_syscall(in, nr, (uint64_t)(a), (uint64_t)(b), \
			(uint64_t)(c), (uint64_t)(d), (uint64_t)(e), (uint64_t)(f))

/* With the dump's stub: the task waits in it between calls rather than
 * at its own registers (see back_to_base); nothing without one. */
int inject_park(struct inject *in);

/* Several calls run inside the task in one go. */
struct inject_call {
	long nr;
	uint64_t a[6];
};
/* Where in the scratch area the code of a batch goes, and how many calls
 * it holds at most. */
#define INJECT_BATCH_AT  8192
#define INJECT_BATCH_MAX 256
/* ... and where single calls run from (inject_syscall), just below */
#define INJECT_ONE_AT    (INJECT_BATCH_AT - 128)
/* Runs the N calls one after another inside the task with one resume
 * instead of one each (a ptrace round trip per call costs more than most
 * calls): code written to the scratch area at INJECT_BATCH_AT, ending in a
 * SIGSTOP the task sends itself, which is discarded (and in a jump to
 * itself, where it waits were we gone: guard.c). RET[i] gets what call i
 * returned. Without executable scratch memory the calls are injected one
 * by one. Returns 0, or -1 if the task could not run them. */
int inject_batch(struct inject *in, const struct inject_call *calls, size_t n, long *ret);

/* Runs one instruction of the task from where it stands, holding back
 * the signals that come meanwhile like an injected call; REGS gets the
 * registers after it. */
int inject_step(struct inject *in, struct user_regs_struct *regs);

/* Queues the held signals again, from inside the task (which may queue any
 * siginfo to itself); SELF is its pid as it sees it. */
int inject_requeue_held(struct inject *in, pid_t self);

/* Copies between the tracer and the task. Writes fall back to
 * /proc/PID/mem, which may write through read-only protections. */
int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len);
/* A copy, in this process, of fd FD of process PID (pidfd_getfd: the same
 * open file), or -1 (reported). */
int grab_fd(pid_t pid, int fd);

/* Finds the offset of a `syscall` instruction (0f 05) in a code buffer. */
long find_syscall_insn(const unsigned char *code, size_t len);
/* The address of a `syscall` instruction that PID can execute, from its
 * mappings M: in its [vdso], else in its own code; -1 (reported) if none. */
struct proc_maps;
int inject_find_syscall(pid_t pid, const struct proc_maps *m, uint64_t *ip);
