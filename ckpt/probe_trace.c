/* probe_trace.c: the probes of tracing and memory (ptrace, rseq,
 * process_vm, pidfd_getfd, pagemap, PAGEMAP_SCAN, xstate), all on one
 * forked child that the ptrace probe seizes and stops: the way a freeze
 * reaches a job. */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "ckpt/log.h"
#include "ckpt/probe.h"
#include "ckpt/util.h"

/* Constants and structures newer than the Debian 12 (6.1) headers, or kept
 * local so that newer headers cannot clash with them. */
#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

/* The PTRACE_GET_RSEQ_CONFIGURATION answer (Linux 5.13). */
struct jf_rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/* The PAGEMAP_SCAN ioctl on /proc/PID/pagemap (Linux 6.7). */
struct jf_page_region {
	uint64_t start;
	uint64_t end;		/* exclusive */
	uint64_t categories;
};

struct jf_pm_scan_arg {
	uint64_t size;		/* sizeof(struct jf_pm_scan_arg) */
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;	/* written by the kernel */
	uint64_t vec;		/* struct jf_page_region array */
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define JF_PAGEMAP_SCAN		_IOWR('f', 16, struct jf_pm_scan_arg)
#define JF_PAGE_IS_PRESENT	(1ULL << 3)

/* /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT	(1ULL << 63)
#define PM_SWAPPED	(1ULL << 62)
#define PM_EXCLUSIVE	(1ULL << 56)
#define PM_PFN_MASK	((1ULL << 55) - 1)

/* XCR0 bits. */
#define XFEATURE_AVX512	((1ULL << 5) | (1ULL << 6) | (1ULL << 7))
#define XFEATURE_AMX	((1ULL << 17) | (1ULL << 18))

#define PROBE_MAGIC	0x6a6f62667265657aULL	/* "jobfreez" */
#define PROBE_MAGIC2	0x7468617773746f6eULL

/* A cell the process_vm and pagemap probes find at the same address in the
 * forked target. */
static volatile uint64_t probe_cell = PROBE_MAGIC;

/* The traced child: one forked child serves all the probes here. */

struct probe_target {
	pid_t pid;		/* -1 once reaped */
	bool stopped;		/* seized and in a PTRACE_INTERRUPT stop */
	int pipe_r, pipe_w;	/* a pipe the target shares, for pidfd_getfd */
};

static int target_start(struct probe_target *t)
{
	int p[2];
	pid_t parent = getpid();

	t->pid = -1;
	t->stopped = false;
	t->pipe_r = t->pipe_w = -1;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		pr_perror("features: pipe2");
		return -1;
	}
	t->pipe_r = p[0];
	t->pipe_w = p[1];
	t->pid = fork();
	if (t->pid < 0) {
		pr_perror("features: fork");
		return -1;
	}
	if (t->pid == 0) {
		probe_child_guard(parent);
		for (;;)
			pause();
	}
	return 0;
}

static void target_stop(struct probe_target *t)
{
	int status;

	if (t->pid > 0) {
		if (kill(t->pid, SIGKILL) < 0)
			pr_perror("features: kill(%d)", t->pid);
		while (waitpid(t->pid, &status, __WALL) < 0) {
			if (errno != EINTR) {
				pr_perror("features: waitpid(%d)", t->pid);
				break;
			}
		}
		t->pid = -1;
	}
	if (t->pipe_r >= 0)
		close(t->pipe_r);
	if (t->pipe_w >= 0)
		close(t->pipe_w);
	t->pipe_r = t->pipe_w = -1;
}

/* The traced child, made by the first probe that needs one: NULL, R saying
 * why, when there is none. */
static struct probe_target *target_get(struct probe_env *env, struct feature_result *r)
{
	if (!env->target && !env->target_err) {
		env->target = xcalloc(1, sizeof(*env->target));
		probe_cell = PROBE_MAGIC;
		if (target_start(env->target) < 0)
			env->target_err = errno ? errno : EIO;
	}
	if (env->target_err) {
		probe_detail(r, "not tested: no probe child (%s)", probe_errname(env->target_err));
		return NULL;
	}
	if (env->target->pid <= 0) {
		probe_detail(r, "not tested: no probe child");
		return NULL;
	}
	return env->target;
}

/* The same, stopped by the ptrace probe. */
static struct probe_target *stopped_target(struct probe_env *env, struct feature_result *r)
{
	struct probe_target *t = env->target;

	if (t && t->pid > 0 && t->stopped)
		return t;
	if (env->target_err)
		probe_detail(r, "not tested: no probe child (%s)", probe_errname(env->target_err));
	else
		probe_detail(r, "not tested: needs a ptrace-stopped probe child (see ptrace)");
	return NULL;
}

void probe_trace_end(struct probe_env *env)
{
	if (!env->target)
		return;
	target_stop(env->target);
	free(env->target);
	env->target = NULL;
}

static const char *yama_meaning(int scope)
{
	switch (scope) {
	case -1: return "not present";
	case 0:  return "0 (classic: any process of the same user)";
	case 1:  return "1 (restricted: only descendants, or a PR_SET_PTRACER grant)";
	case 2:  return "2 (admin only: needs CAP_SYS_PTRACE)";
	case 3:  return "3 (no attach: ptrace is off until reboot)";
	default: return "unknown value";
	}
}

/* Seizes the target from a sibling, which is not its ancestor: the normal
 * situation of `jobfreeze dump -t PID`. Returns 0 or an errno value. */
static int seize_from_sibling(pid_t target)
{
	pid_t parent = getpid(), pid;
	int status;

	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		probe_child_guard(parent);
		if (ptrace(PTRACE_SEIZE, target, 0, 0) < 0)
			_exit(errno > 0 && errno < 120 ? errno : 120);
		/* Exiting detaches the tracee. */
		_exit(0);
	}
	if (probe_wait_child(pid, &status, 0, CHILD_TIMEOUT_MS) != 0)
		return ETIMEDOUT;
	if (!WIFEXITED(status) || WEXITSTATUS(status) >= 120)
		return ECHILD;
	return WEXITSTATUS(status);
}

void probe_ptrace(struct probe_env *env, struct feature_result *r)
{
	struct feature_report *rep = env->rep;
	struct probe_target *t;
	long scope;
	int status, e, sib_err;

	if (probe_read_long("/proc/sys/kernel/yama/ptrace_scope", &scope) == 0)
		rep->yama_scope = (int)scope;
	else
		rep->yama_scope = -1;

	if (!(t = target_get(env, r)))
		return;
	sib_err = seize_from_sibling(t->pid);
	rep->ptrace_non_child = sib_err == 0;

	if (ptrace(PTRACE_SEIZE, t->pid, 0, PTRACE_O_EXITKILL) < 0) {
		e = errno;
		probe_detail(r, "PTRACE_SEIZE on own child: %s (%s); yama ptrace_scope: %s",
			   probe_errname(e), strerror(e), yama_meaning(rep->yama_scope));
		return;
	}
	if (ptrace(PTRACE_INTERRUPT, t->pid, 0, 0) < 0) {
		e = errno;
		probe_detail(r, "PTRACE_INTERRUPT: %s (%s)", probe_errname(e), strerror(e));
		return;
	}
	int w = probe_wait_child(t->pid, &status, __WALL, CHILD_TIMEOUT_MS);
	if (w != 0) {
		if (w == 1)
			t->pid = -1;
		probe_detail(r, "no stop after PTRACE_INTERRUPT");
		return;
	}
	if (!WIFSTOPPED(status)) {
		char buf[48];
		t->pid = -1;	/* it exited: reaped by probe_wait_child */
		probe_detail(r, "probe child gone after PTRACE_INTERRUPT (%s)",
			   probe_exit_desc(status, buf, sizeof(buf)));
		return;
	}
	t->stopped = true;
	if ((status >> 16) != PTRACE_EVENT_STOP) {
		probe_detail(r, "PTRACE_INTERRUPT gave a stop with signal %d, not an event stop",
			   WSTOPSIG(status));
		return;
	}
	r->ok = true;
	if (rep->ptrace_non_child)
		probe_detail(r, "PTRACE_SEIZE/INTERRUPT on own processes; yama ptrace_scope: %s",
			   yama_meaning(rep->yama_scope));
	else
		probe_detail(r, "PTRACE_SEIZE/INTERRUPT on descendants only (non-child: %s); "
			   "yama ptrace_scope: %s", probe_errname(sib_err), yama_meaning(rep->yama_scope));
}

void probe_rseq(struct probe_env *env, struct feature_result *r)
{
	struct probe_target *t = stopped_target(env, r);
	struct jf_rseq_config conf;
	long n;

	if (!t)
		return;
	memset(&conf, 0, sizeof(conf));
	n = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t->pid, sizeof(conf), &conf);
	if (n < 0) {
		int e = errno;
		probe_detail(r, "PTRACE_GET_RSEQ_CONFIGURATION: %s (%s)%s", probe_errname(e),
			   strerror(e), e == EIO ? ": kernel older than 5.13" : "");
		return;
	}
	r->ok = true;
	if (conf.rseq_abi_pointer)
		probe_detail(r, "PTRACE_GET_RSEQ_CONFIGURATION: area at 0x%llx, size %u, "
			   "signature 0x%x", (unsigned long long)conf.rseq_abi_pointer,
			   conf.rseq_abi_size, conf.signature);
	else
		probe_detail(r, "PTRACE_GET_RSEQ_CONFIGURATION works (the probe child has "
			   "no rseq registered)");
}

void probe_process_vm(struct probe_env *env, struct feature_result *r)
{
	struct probe_target *t = stopped_target(env, r);
	uint64_t val = 0, newval = PROBE_MAGIC2;
	struct iovec local, remote;
	ssize_t n;
	int e;

	if (!t)
		return;
	remote.iov_base = (void *)&probe_cell;
	remote.iov_len = sizeof(val);
	local.iov_base = &val;
	local.iov_len = sizeof(val);
	n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
	if (n != (ssize_t)sizeof(val)) {
		e = n < 0 ? errno : EIO;
		probe_detail(r, "process_vm_readv: %s (%s)", probe_errname(e), strerror(e));
		return;
	}
	if (val != PROBE_MAGIC) {
		probe_detail(r, "process_vm_readv read 0x%llx, not the expected value",
			   (unsigned long long)val);
		return;
	}
	local.iov_base = &newval;
	n = process_vm_writev(t->pid, &local, 1, &remote, 1, 0);
	if (n != (ssize_t)sizeof(newval)) {
		e = n < 0 ? errno : EIO;
		probe_detail(r, "process_vm_writev: %s (%s)", probe_errname(e), strerror(e));
		return;
	}
	local.iov_base = &val;
	n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
	if (n != (ssize_t)sizeof(val) || val != PROBE_MAGIC2) {
		probe_detail(r, "process_vm_writev did not change the probe child's memory");
		return;
	}
	r->ok = true;
	probe_detail(r, "process_vm_readv/process_vm_writev on a traced child");
}

void probe_pidfd(struct probe_env *env, struct feature_result *r)
{
	struct probe_target *t = target_get(env, r);
	struct stat a, b;
	char c = 'j', back = 0;
	int pidfd, fd, e;

	if (!t)
		return;
	pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	if (pidfd < 0) {
		e = errno;
		probe_detail(r, "pidfd_open: %s (%s)%s", probe_errname(e), strerror(e),
			   e == ENOSYS ? ": kernel older than 5.3" : "");
		return;
	}
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, t->pipe_w, 0);
	if (fd < 0) {
		e = errno;
		probe_detail(r, "pidfd_getfd: %s (%s)%s", probe_errname(e), strerror(e),
			   e == ENOSYS ? ": kernel older than 5.6" : "");
		close(pidfd);
		return;
	}
	if (fstat(fd, &a) < 0 || fstat(t->pipe_w, &b) < 0) {
		e = errno;
		probe_detail(r, "fstat: %s (%s)", probe_errname(e), strerror(e));
		goto out;
	}
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		probe_detail(r, "pidfd_getfd returned another file than the child's fd");
		goto out;
	}
	if (write(fd, &c, 1) != 1 || read(t->pipe_r, &back, 1) != 1 || back != c) {
		probe_detail(r, "the fd taken with pidfd_getfd does not carry data");
		goto out;
	}
	r->ok = true;
	probe_detail(r, "pidfd_open + pidfd_getfd took a pipe from the probe child");
out:
	close(fd);
	close(pidfd);
}

void probe_pagemap(struct probe_env *env, struct feature_result *r)
{
	struct probe_target *t = target_get(env, r);
	char path[64];
	uint64_t ent;
	long psz = sysconf(_SC_PAGESIZE);
	ssize_t n;
	int fd, e;

	if (!t)
		return;
	if (psz <= 0)
		psz = 4096;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		probe_detail(r, "open /proc/PID/pagemap: %s (%s)", probe_errname(e), strerror(e));
		return;
	}
	n = pread(fd, &ent, sizeof(ent), ((uintptr_t)&probe_cell / psz) * sizeof(ent));
	e = errno;
	close(fd);
	if (n != (ssize_t)sizeof(ent)) {
		if (n >= 0)
			e = EIO;
		probe_detail(r, "read /proc/PID/pagemap: %s (%s)", probe_errname(e), strerror(e));
		return;
	}
	r->ok = true;
	if (!(ent & (PM_PRESENT | PM_SWAPPED)))
		probe_detail(r, "/proc/PID/pagemap readable (probe page shown as absent)");
	else
		probe_detail(r, "/proc/PID/pagemap readable: present/swapped/exclusive bits "
			   "visible, PFNs %s", (ent & PM_PFN_MASK) || (ent & PM_SWAPPED) ?
			   "visible" : "hidden (fine)");
}

void probe_pagemap_scan(struct probe_env *env, struct feature_result *r)
{
	struct jf_page_region regs[4];
	struct jf_pm_scan_arg arg;
	long psz = sysconf(_SC_PAGESIZE);
	char *mem;
	int fd, n, e;

	if (psz <= 0)
		psz = 4096;
	mem = mmap(NULL, 4 * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		e = errno;
		probe_detail(r, "mmap: %s (%s)", probe_errname(e), strerror(e));
		return;
	}
	mem[0] = 1;
	mem[2 * psz] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		probe_detail(r, "open /proc/self/pagemap: %s (%s)", probe_errname(e), strerror(e));
		goto out;
	}
	memset(&arg, 0, sizeof(arg));
	memset(regs, 0, sizeof(regs));
	arg.size = sizeof(arg);
	arg.start = (uintptr_t)mem;
	arg.end = (uintptr_t)mem + 4 * psz;
	arg.vec = (uintptr_t)regs;
	arg.vec_len = ARRAY_SIZE(regs);
	arg.category_mask = JF_PAGE_IS_PRESENT;
	arg.return_mask = JF_PAGE_IS_PRESENT;
	n = ioctl(fd, JF_PAGEMAP_SCAN, &arg);
	e = errno;
	close(fd);
	if (n < 0) {
		probe_detail(r, "ioctl(PAGEMAP_SCAN): %s (%s)%s", probe_errname(e), strerror(e),
			   e == ENOTTY || e == EINVAL ? ": kernel older than 6.7" : "");
		goto out;
	}
	if (n != 2 || regs[0].start != (uintptr_t)mem ||
	    regs[0].end != (uintptr_t)mem + psz ||
	    regs[1].start != (uintptr_t)mem + 2 * psz ||
	    regs[1].end != (uintptr_t)mem + 3 * psz) {
		probe_detail(r, "ioctl(PAGEMAP_SCAN) gave %d regions, not the 2 touched pages", n);
		goto out;
	}
	r->ok = true;
	probe_detail(r, "ioctl(PAGEMAP_SCAN) on /proc/self/pagemap found the present pages");
out:
	if (munmap(mem, 4 * psz) < 0)
		pr_perror("features: munmap");
}

#if defined(__x86_64__) || defined(__i386__)
static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}
#endif

void probe_xstate(struct probe_env *env, struct feature_result *r)
{
	struct feature_report *rep = env->rep;
	struct probe_target *t;
	char cpuid_info[128] = "";

#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;

	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE)) {
		rep->xcr0 = read_xcr0();
		if (__get_cpuid_count(0xd, 0, &a, &b, &c, &d)) {
			rep->xstate_cpuid = b;
			rep->xstate_cpuid_max = c;
		}
		snprintf(cpuid_info, sizeof(cpuid_info),
			 "CPUID 0xd: %u (max %u); XCR0 0x%llx: AVX-512 %s, AMX %s",
			 rep->xstate_cpuid, rep->xstate_cpuid_max,
			 (unsigned long long)rep->xcr0,
			 (rep->xcr0 & XFEATURE_AVX512) == XFEATURE_AVX512 ? "yes" : "no",
			 (rep->xcr0 & XFEATURE_AMX) == XFEATURE_AMX ? "yes" : "no");
	} else {
		snprintf(cpuid_info, sizeof(cpuid_info), "XSAVE not enabled by the OS");
	}
#else
	snprintf(cpuid_info, sizeof(cpuid_info), "not an x86 machine");
#endif
	if (!(t = stopped_target(env, r))) {
		probe_add_detail(r, "; %s", cpuid_info);
		return;
	}

	size_t cap = 64 * 1024;
	_cleanup_free_ void *buf = xcalloc(1, cap);
	struct iovec iov = { .iov_base = buf, .iov_len = cap };

	if (ptrace(PTRACE_GETREGSET, t->pid, NT_X86_XSTATE, &iov) < 0) {
		int e = errno;
		probe_detail(r, "PTRACE_GETREGSET NT_X86_XSTATE: %s (%s); %s", probe_errname(e),
			   strerror(e), cpuid_info);
		return;
	}
	rep->xstate_ptrace = (uint32_t)iov.iov_len;
	/* Legacy area (512) plus XSAVE header (64) at least. */
	if (iov.iov_len < 576) {
		probe_detail(r, "PTRACE_GETREGSET NT_X86_XSTATE gave only %zu bytes; %s",
			   iov.iov_len, cpuid_info);
		return;
	}
	r->ok = true;
	probe_detail(r, "%zu bytes via PTRACE_GETREGSET; %s", iov.iov_len, cpuid_info);
}
