/* inject.c: system calls run inside a traced task by pointing its rip at a
 * `syscall` instruction and stepping through the entry and exit stops, or
 * at code of ours in its scratch area that makes the calls and stops the
 * task (one resume for one call or a batch); and reaching into another
 * process: its memory, its fds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "ckpt/crashpoint.h"
#include "ckpt/inject.h"
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/ptrace.h"
#include "ckpt/util.h"

void inject_init(struct inject *in, pid_t tid, uint64_t syscall_ip,
		 const struct user_regs_struct *base)
{
	memset(in, 0, sizeof(*in));
	in->tid = tid;
	in->syscall_ip = syscall_ip;
	in->base = *base;
}

/* The signal the task stopped to take (STATUS) is taken off and kept, to
 * be queued again once we are done. */
static void hold_signal(struct inject *in, int status)
{
	if (in->nr_held < (int)(sizeof(in->held) / sizeof(in->held[0])) &&
	    ptrace(PTRACE_GETSIGINFO, in->tid, 0, &in->held[in->nr_held]) == 0)
		in->nr_held++;
	else
		pr_warn("task %d: signal %d arrived during the dump and was lost", in->tid,
			WSTOPSIG(status));
	pr_debug("task %d: signal %d held back during injection", in->tid, WSTOPSIG(status));
}

/* Resumes the task with REQUEST (PTRACE_SYSCALL, PTRACE_SINGLESTEP) until
 * it stops with STOPSIG: at the next syscall stop, after one instruction.
 * A signal about to be delivered on the way is taken off and kept, so no
 * handler runs while we work. */
static int resume_until(struct inject *in, int request, int stopsig)
{
	int status;

	for (;;) {
		if (ptrace(request, in->tid, 0, 0) < 0) {
			pr_perror("cannot resume task %d for an injected syscall or step", in->tid);
			return -1;
		}
		if (ptrace_wait_stop(in->tid, &status) < 0)
			return -1;
		if (WSTOPSIG(status) == stopsig && !(status >> 16))
			return 0;
		if (status >> 16)
			continue;	/* a ptrace event (stop, clone), not a signal */
		hold_signal(in, status);
	}
}

static int step_to_syscall_stop(struct inject *in)
{
	return resume_until(in, PTRACE_SYSCALL, SIGTRAP | 0x80);
}

int inject_step(struct inject *in, struct user_regs_struct *regs)
{
	/* (a signal that comes first is kept: the instruction has not run) */
	if (resume_until(in, PTRACE_SINGLESTEP, SIGTRAP) < 0)
		return -1;
	return ptrace_get_regs(in->tid, regs);
}

/* The machine code of a batch (x86-64): per call, its number and
 * arguments loaded as immediates, `syscall`, the result stored at an
 * absolute address; at the end the task stops itself with
 * tgkill(getpid(), gettid(), SIGSTOP). SIGSTOP, unlike the SIGTRAP of an
 * int3, can neither be caught nor blocked, so the kernel does not reset a
 * handler of the job's to deliver it. */
struct code {
	unsigned char *p;
};

static void emit(struct code *c, const void *bytes, size_t n)
{
	memcpy(c->p, bytes, n);
	c->p += n;
}

static void emit_imm(struct code *c, unsigned char rex, unsigned char op, uint64_t v)
{
	unsigned char b[10] = { rex, op };

	memcpy(b + 2, &v, 8);
	emit(c, b, sizeof(b));
}

#define BATCH_CALL_BYTES (7 * 10 + 2 + 10)
#define BATCH_END_BYTES  40

/* The end of injected code: the task stops itself. */
static const unsigned char stop_self[] = {
	0xb8, 39, 0, 0, 0,		/* mov $SYS_getpid, %eax */
	0x0f, 0x05,			/* syscall */
	0x48, 0x89, 0xc7,		/* mov %rax, %rdi */
	0xb8, 186, 0, 0, 0,		/* mov $SYS_gettid, %eax */
	0x0f, 0x05,			/* syscall */
	0x48, 0x89, 0xc6,		/* mov %rax, %rsi */
	0xba, SIGSTOP, 0, 0, 0,		/* mov $SIGSTOP, %edx */
	0xb8, 234, 0, 0, 0,		/* mov $SYS_tgkill, %eax */
	0x0f, 0x05,			/* syscall: the task stops here, */
	0xeb, 0xfe,			/* and were we gone, stays: jmp . */
};
_Static_assert(sizeof(stop_self) <= BATCH_END_BYTES, "batch end");
/* where the task stops, from the start of stop_self */
#define STOP_AT (sizeof(stop_self) - 2)

static size_t batch_code(unsigned char *buf, uint64_t results, const struct inject_call *calls,
			 size_t n)
{
	/* rdi rsi rdx r10 r8 r9, as mov-immediate opcodes */
	static const unsigned char rex[6] = { 0x48, 0x48, 0x48, 0x49, 0x49, 0x49 };
	static const unsigned char op[6] = { 0xbf, 0xbe, 0xba, 0xba, 0xb8, 0xb9 };
	static const unsigned char syscall_insn[2] = { 0x0f, 0x05 };
	struct code c = { buf };

	for (size_t i = 0; i < n; i++) {
		emit_imm(&c, 0x48, 0xb8, calls[i].nr);	/* mov $nr, %rax */
		for (int k = 0; k < 6; k++)
			emit_imm(&c, rex[k], op[k], calls[i].a[k]);
		emit(&c, syscall_insn, sizeof(syscall_insn));
		emit_imm(&c, 0x48, 0xa3, results + i * 8);	/* movabs %rax, results[i] */
	}
	emit(&c, stop_self, sizeof(stop_self));
	return c.p - buf;
}

/* Runs the task from the registers R (rip: injected code) until it stops
 * itself at END; R gets the registers it stopped with. */
static int run_code(struct inject *in, struct user_regs_struct *r, uint64_t end)
{
	int status;

	r->orig_rax = -1;
	if (ptrace_set_regs(in->tid, r) < 0)
		return -1;
	for (;;) {
		if (ptrace(PTRACE_CONT, in->tid, 0, 0) < 0) {
			pr_perror("cannot resume task %d for injected calls", in->tid);
			return -1;
		}
		/* crash tests: killed while the task runs our code (the guard
		 * gives it its registers back, see guard.c) */
		if (in->stub)
			crash_point("dump-injecting");
		if (ptrace_wait_stop(in->tid, &status) < 0)
			return -1;
		if (status >> 16)
			continue;	/* a ptrace event (a fork), not a signal */
		if (WSTOPSIG(status) == SIGSTOP && ptrace_get_regs(in->tid, r) == 0 && r->rip == end)
			return 0;	/* ours: the next resume discards it */
		if (WSTOPSIG(status) == SIGSEGV || WSTOPSIG(status) == SIGILL ||
		    WSTOPSIG(status) == SIGBUS) {
			siginfo_t si = { 0 };
			ptrace(PTRACE_GETSIGINFO, in->tid, 0, &si);
			ptrace_get_regs(in->tid, r);
			pr_err("task %d could not run the injected calls (signal %d at %#llx, address "
			       "%p, code %d)", in->tid, WSTOPSIG(status), r->rip, si.si_addr, si.si_code);
			return -1;
		}
		hold_signal(in, status);
	}
}

/* Between calls. With the dump's stub, the task waits parked in the
 * stub's jump to itself: were we killed now, the kernel would let it go
 * with its signals blocked and its timers stopped, and its own code must
 * not run like that (a raise() whose handler cannot run); spinning there,
 * it runs none until the guard has put it back (guard.c). The dump's
 * release gives it its own registers. Without a stub, back to where it
 * was, its syscall set to restart. */
static int back_to_base(struct inject *in)
{
	struct user_regs_struct back = in->base;

	if (in->stub) {
		back.rip = in->syscall_ip + 2;
		back.orig_rax = -1;
	} else {
		regs_apply_restart(&back);
	}
	return ptrace_set_regs(in->tid, &back);
}

/* One call through code in the scratch area: `syscall`, its result kept in
 * r12, and the task stops itself: one resume instead of two (stops at the
 * call's entry and exit). Not for calls that replace or unmap that code,
 * or never return to it. */
static const unsigned char one_call[] = {
	0x0f, 0x05,			/* syscall: set up in the registers */
	0x49, 0x89, 0xc4,		/* mov %rax, %r12 */
};

static bool overlaps(uint64_t a, uint64_t len, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + len;
}

static bool one_call_ok(const struct inject *in, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
			uint64_t a5)
{
	uint64_t at = in->scratch + INJECT_ONE_AT, len = sizeof(one_call) + sizeof(stop_self);

	if (!in->scratch_exec || !in->scratch)
		return false;
	switch (nr) {
	case SYS_execve: case SYS_execveat: case SYS_exit: case SYS_exit_group:
	case SYS_rt_sigreturn: case SYS_vfork:
	/* a signal it sends itself unblocked would act before the stop (a
	 * zombie made again dies of it): after the call, as the job goes on */
	case SYS_kill: case SYS_tkill: case SYS_tgkill:
		return false;
	case SYS_munmap: case SYS_mmap: case SYS_mprotect: case SYS_madvise:
		return !overlaps(a1, a2, at, len);
	case SYS_mremap:
		return !overlaps(a1, a2, at, len) && !overlaps(a5, a3, at, len);
	default:
		return true;
	}
}

static long inject_one(struct inject *in, struct user_regs_struct *r)
{
	uint64_t at = in->scratch + INJECT_ONE_AT;

	if (!in->one_ready) {
		unsigned char code[sizeof(one_call) + sizeof(stop_self)];
		memcpy(code, one_call, sizeof(one_call));
		memcpy(code + sizeof(one_call), stop_self, sizeof(stop_self));
		if (remote_write(in->tid, at, code, sizeof(code)) < 0)
			return -ESRCH;
		in->one_ready = true;
	}
	r->rip = at;
	if (run_code(in, r, at + sizeof(one_call) + STOP_AT) < 0)
		return -ESRCH;
	return (long)r->r12;
}

int inject_park(struct inject *in)
{
	if (!in->stub)
		return 0;
	return back_to_base(in) < 0 ? -1 : 0;
}

long inject_syscall(struct inject *in, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		    uint64_t a4, uint64_t a5, uint64_t a6)
{
	return inject_syscall_at(in, in->syscall_ip, nr, a1, a2, a3, a4, a5, a6);
}

long inject_syscall_at(struct inject *in, uint64_t ip, long nr, uint64_t a1, uint64_t a2,
		       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6)
{
	struct user_regs_struct r = in->base;

	r.rax = nr;
	r.orig_rax = -1;	/* or the kernel's restart logic rewrites rax/rip */
	r.rdi = a1;
	r.rsi = a2;
	r.rdx = a3;
	r.r10 = a4;
	r.r8 = a5;
	r.r9 = a6;
	r.rip = ip;
	in->calls++;
	in->trips++;
	long ret;
	if (ip == in->syscall_ip && one_call_ok(in, nr, a1, a2, a3, a5)) {
		ret = inject_one(in, &r);
	} else {
		if (ptrace_set_regs(in->tid, &r) < 0)
			return -ESRCH;
		if (step_to_syscall_stop(in) < 0)
			return -ESRCH;
		/* crash tests: killed in the middle of a call (see the dump's stub) */
		if (in->stub)
			crash_point("dump-injecting");
		if (step_to_syscall_stop(in) < 0)
			return -ESRCH;
		if (ptrace_get_regs(in->tid, &r) < 0)
			return -ESRCH;
		ret = (long)r.rax;
	}
	if (ret == -ESRCH || back_to_base(in) < 0)
		return -ESRCH;
	pr_debug("task %d: injected syscall %ld(%#lx, %#lx, %#lx, %#lx, ...) = %ld", in->tid, nr,
		 (unsigned long)a1, (unsigned long)a2, (unsigned long)a3, (unsigned long)a4, ret);
	return ret;
}

int inject_batch(struct inject *in, const struct inject_call *calls, size_t n, long *ret)
{
	size_t code_max = n * BATCH_CALL_BYTES + BATCH_END_BYTES;
	uint64_t code = in->scratch + INJECT_BATCH_AT, results = code + code_max;
	struct user_regs_struct r;
	unsigned char *buf;
	size_t len;
	int rc = -1;

	if (!in->scratch_exec || n > INJECT_BATCH_MAX ||
	    INJECT_BATCH_AT + code_max + n * 8 > in->scratch_size) {
		for (size_t i = 0; i < n; i++) {
			const uint64_t *a = calls[i].a;
			ret[i] = inject_syscall(in, calls[i].nr, a[0], a[1], a[2], a[3], a[4], a[5]);
			if (ret[i] == -ESRCH)
				return -1;
		}
		return 0;
	}
	buf = xmalloc(code_max);
	len = batch_code(buf, results, calls, n);
	in->calls += n;
	in->trips++;
	r = in->base;
	r.rip = code;
	if (remote_write(in->tid, code, buf, len) < 0 || run_code(in, &r, code + len - 2) < 0 ||
	    remote_read(in->tid, results, ret, n * sizeof(long)) < 0)
		goto out;
	pr_debug("task %d: %zu injected calls in one batch", in->tid, n);
	rc = 0;
out:
	/* Back to where the task was, as after a single call. */
	if (back_to_base(in) < 0)
		rc = -1;
	free(buf);
	return rc;
}

int inject_requeue_held(struct inject *in, pid_t self)
{
	int n = in->nr_held;

	in->nr_held = 0;
	for (int i = 0; i < n; i++) {
		long ret;
		if (remote_write(in->tid, in->scratch, &in->held[i], sizeof(siginfo_t)) < 0)
			return -1;
		ret = INJECT(in, SYS_rt_sigqueueinfo, self, in->held[i].si_signo, in->scratch);
		if (ret < 0) {
			pr_err("cannot queue signal %d again in task %d: %s", in->held[i].si_signo,
			       in->tid, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

static int proc_mem_rw(pid_t pid, uint64_t addr, void *buf, size_t len, int write)
{
	char path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len) {
		n = write ? pwrite(fd, buf, len, addr) : pread(fd, buf, len, addr);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO;
			close(fd);
			return -1;
		}
		buf = (char *)buf + n;
		addr += n;
		len -= n;
	}
	close(fd);
	return 0;
}

int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)addr, len };

	if (process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len)
		return 0;
	/* Unreadable protections (PROT_NONE): /proc/PID/mem reads with FOLL_FORCE. */
	if (proc_mem_rw(pid, addr, buf, len, 0) == 0)
		return 0;
	pr_perror("cannot read %zu bytes at %#lx in process %d", len, (unsigned long)addr, pid);
	return -1;
}

int remote_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = { (void *)buf, len }, r = { (void *)addr, len };

	if (process_vm_writev(pid, &l, 1, &r, 1, 0) == (ssize_t)len)
		return 0;
	if (proc_mem_rw(pid, addr, (void *)buf, len, 1) == 0)
		return 0;
	pr_perror("cannot write %zu bytes at %#lx in process %d", len, (unsigned long)addr, pid);
	return -1;
}

long find_syscall_insn(const unsigned char *code, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (code[i] == 0x0f && code[i + 1] == 0x05)
			return i;
	return -1;
}

/* Looks for a `syscall` in V's bytes, read a chunk at a time (overlapping
 * by one byte, so that a pair split between two chunks is found). */
static int scan_vma(pid_t pid, const struct proc_vma *v, uint64_t *ip)
{
	enum { CHUNK = 1 << 16 };
	unsigned char *buf = xmalloc(CHUNK);
	int ret = -1;

	for (uint64_t at = v->start; at + 1 < v->end && ret < 0; at += CHUNK - 1) {
		size_t len = v->end - at < CHUNK ? v->end - at : CHUNK;
		struct iovec l = { buf, len }, r = { (void *)at, len };
		long off;

		/* quietly: an unreadable area is simply no candidate */
		if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)len)
			break;
		off = find_syscall_insn(buf, len);
		if (off >= 0) {
			*ip = at + off;
			ret = 0;
		}
	}
	free(buf);
	return ret;
}

/* The [vdso] first: small, always there on an ordinary process, the same
 * for every process. A process that unmapped it (a program started on a
 * kernel booted with vdso=0 behaves alike) has syscall instructions in its
 * own code: its C library's text. Only executing the two bytes matters, so
 * any readable executable mapping will do, but [vsyscall], which the
 * kernel emulates at three fixed entry points only. */
int inject_find_syscall(pid_t pid, const struct proc_maps *m, uint64_t *ip)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < m->n; i++) {
			const struct proc_vma *v = &m->v[i];
			bool vdso = v->path && !strcmp(v->path, "[vdso]");

			if (pass == 0 ? !vdso : vdso || (v->path && !strcmp(v->path, "[vsyscall]")))
				continue;
			if ((v->prot & (PROT_READ | PROT_EXEC)) != (PROT_READ | PROT_EXEC))
				continue;
			if (scan_vma(pid, v, ip) == 0) {
				pr_debug("process %d: system calls run from %#lx (%s)", pid,
					 (unsigned long)*ip, v->path ? v->path : "anonymous code");
				return 0;
			}
		}
	pr_err("process %d has no system call instruction in any code it can read (no [vdso] "
	       "either): jobfreeze cannot run system calls in it", pid);
	return -1;
}

/* A copy of fd FD of PID in this process (same open file), or -1. */
int grab_fd(pid_t pid, int fd)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0), s = -1;

	if (pfd < 0) {
		pr_perror("cannot open a pidfd of process %d", pid);
		return -1;
	}
	s = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	if (s < 0)
		pr_perror("cannot look at fd %d of process %d (pidfd_getfd)", fd, pid);
	close(pfd);
	return s;
}
