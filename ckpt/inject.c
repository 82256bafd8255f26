/* inject.c: system calls run inside a traced task by pointing its rip at a
 * `syscall` instruction and stepping through the entry and exit stops; and
 * reaching into another process: its memory, its fds. */
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
	/* Back to where the task was (its syscall set to restart) between
	 * calls: were we killed now, it would go on as if never touched. */
	struct user_regs_struct back = in->base;
	regs_apply_restart(&back);
	if (ptrace_set_regs(in->tid, &back) < 0)
		return -ESRCH;
	pr_debug("task %d: injected syscall %ld(%#lx, %#lx, %#lx, %#lx, ...) = %ld", in->tid, nr,
		 (unsigned long)a1, (unsigned long)a2, (unsigned long)a3, (unsigned long)a4,
		 (long)r.rax);
	return (long)r.rax;
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
