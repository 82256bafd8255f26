/* features.c: runs small live probes of every kernel feature the engine needs
 * (in forked children, all reaped) and explains what each missing one costs. */
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include "ckpt/features.h"
#include "ckpt/log.h"
#include "ckpt/util.h"

/* Constants and structures newer than the Debian 12 (6.1) headers, or kept
 * local so that newer headers cannot clash with them. */
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

/* clone3(2) arguments up to set_tid_size (CLONE_ARGS_SIZE_VER1, Linux 5.5). */
struct jf_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
};

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
#define PROBE_SET_TID	500
#define TIMENS_OFFSET_S	10
#define CHILD_TIMEOUT_MS 10000

/* A cell the process_vm and pagemap probes find at the same address in the
 * forked target. */
static volatile uint64_t probe_cell = PROBE_MAGIC;

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static void set_detail(struct feature_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_detail(struct feature_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

static void add_detail(struct feature_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_detail(struct feature_result *r, const char *fmt, ...)
{
	size_t n = strlen(r->detail);
	va_list ap;

	if (n >= sizeof(r->detail) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(r->detail + n, sizeof(r->detail) - n, fmt, ap);
	va_end(ap);
}

/* Reads a sysctl-like file holding one integer. 0, or -1 with errno
 * (ENOENT when the knob does not exist on this kernel). */
static int read_long_file(const char *path, long *out)
{
	_cleanup_free_ char *s = read_file(path, NULL);
	char *end;

	if (!s)
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n')) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int write_string_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write_all(fd, s, strlen(s)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits for our child pid (waitpid flags plus WNOHANG) for up to timeout_ms.
 * A child that is still there then is SIGKILLed and reaped. Returns 0 with
 * *status set, 1 when the child had to be killed, -1 on a waitpid error. */
static int wait_child(pid_t pid, int *status, int flags, int timeout_ms)
{
	int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
	long nap_ns = 20000;

	for (;;) {
		pid_t r = waitpid(pid, status, flags | WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR) {
			pr_perror("features: waitpid(%d)", pid);
			return -1;
		}
		if (mono_ns() > deadline)
			break;
		struct timespec ts = { 0, nap_ns };
		nanosleep(&ts, NULL);	/* EINTR only shortens the nap */
		if (nap_ns < 5000000)
			nap_ns *= 2;
	}
	pr_warn("features: probe child %d did not answer in %d ms, killing it",
		pid, timeout_ms);
	if (kill(pid, SIGKILL) < 0)
		pr_perror("features: kill(%d)", pid);
	while (waitpid(pid, status, __WALL) < 0) {
		if (errno != EINTR) {
			pr_perror("features: waitpid(%d)", pid);
			return -1;
		}
	}
	return 1;
}

/* In a forked probe child: die with the parent, so a killed `check` never
 * leaves probes behind. parent is the forker's PID, or 0 when it is not
 * visible (the child is PID 1 of a new pid namespace). */
static void child_guard(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(125);
	if (getppid() != parent)
		_exit(125);	/* the parent died before the prctl */
}

static const char *exit_desc(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* The traced target: one forked child serves the ptrace, rseq, process_vm,
 * pidfd, pagemap and xstate probes. */

struct target {
	pid_t pid;		/* -1 once reaped */
	bool stopped;		/* seized and in a PTRACE_INTERRUPT stop */
	int pipe_r, pipe_w;	/* a pipe the target shares, for pidfd_getfd */
};

static int target_start(struct target *t)
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
		child_guard(parent);
		for (;;)
			pause();
	}
	return 0;
}

static void target_stop(struct target *t)
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
		child_guard(parent);
		if (ptrace(PTRACE_SEIZE, target, 0, 0) < 0)
			_exit(errno > 0 && errno < 120 ? errno : 120);
		/* Exiting detaches the tracee. */
		_exit(0);
	}
	if (wait_child(pid, &status, 0, CHILD_TIMEOUT_MS) != 0)
		return ETIMEDOUT;
	if (!WIFEXITED(status) || WEXITSTATUS(status) >= 120)
		return ECHILD;
	return WEXITSTATUS(status);
}

static void probe_ptrace(struct feature_report *rep, struct target *t)
{
	struct feature_result *r = &rep->f[FEATURE_PTRACE];
	long scope;
	int status, e, sib_err;

	if (read_long_file("/proc/sys/kernel/yama/ptrace_scope", &scope) == 0)
		rep->yama_scope = (int)scope;
	else
		rep->yama_scope = -1;

	sib_err = seize_from_sibling(t->pid);
	rep->ptrace_non_child = sib_err == 0;

	if (ptrace(PTRACE_SEIZE, t->pid, 0, PTRACE_O_EXITKILL) < 0) {
		e = errno;
		set_detail(r, "PTRACE_SEIZE on own child: %s (%s); yama ptrace_scope: %s",
			   errname(e), strerror(e), yama_meaning(rep->yama_scope));
		return;
	}
	if (ptrace(PTRACE_INTERRUPT, t->pid, 0, 0) < 0) {
		e = errno;
		set_detail(r, "PTRACE_INTERRUPT: %s (%s)", errname(e), strerror(e));
		return;
	}
	int w = wait_child(t->pid, &status, __WALL, CHILD_TIMEOUT_MS);
	if (w != 0) {
		if (w == 1)
			t->pid = -1;
		set_detail(r, "no stop after PTRACE_INTERRUPT");
		return;
	}
	if (!WIFSTOPPED(status)) {
		char buf[48];
		t->pid = -1;	/* it exited: reaped by wait_child */
		set_detail(r, "probe child gone after PTRACE_INTERRUPT (%s)",
			   exit_desc(status, buf, sizeof(buf)));
		return;
	}
	t->stopped = true;
	if ((status >> 16) != PTRACE_EVENT_STOP) {
		set_detail(r, "PTRACE_INTERRUPT gave a stop with signal %d, not an event stop",
			   WSTOPSIG(status));
		return;
	}
	r->ok = true;
	if (rep->ptrace_non_child)
		set_detail(r, "PTRACE_SEIZE/INTERRUPT on own processes; yama ptrace_scope: %s",
			   yama_meaning(rep->yama_scope));
	else
		set_detail(r, "PTRACE_SEIZE/INTERRUPT on descendants only (non-child: %s); "
			   "yama ptrace_scope: %s", errname(sib_err), yama_meaning(rep->yama_scope));
}

static bool need_stopped_target(struct feature_result *r, const struct target *t)
{
	if (t->pid > 0 && t->stopped)
		return true;
	set_detail(r, "not tested: needs a ptrace-stopped probe child (see ptrace)");
	return false;
}

static void probe_rseq(struct feature_report *rep, struct target *t)
{
	struct feature_result *r = &rep->f[FEATURE_RSEQ];
	struct jf_rseq_config conf;
	long n;

	if (!need_stopped_target(r, t))
		return;
	memset(&conf, 0, sizeof(conf));
	n = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t->pid, sizeof(conf), &conf);
	if (n < 0) {
		int e = errno;
		set_detail(r, "PTRACE_GET_RSEQ_CONFIGURATION: %s (%s)%s", errname(e),
			   strerror(e), e == EIO ? ": kernel older than 5.13" : "");
		return;
	}
	r->ok = true;
	if (conf.rseq_abi_pointer)
		set_detail(r, "PTRACE_GET_RSEQ_CONFIGURATION: area at 0x%llx, size %u, "
			   "signature 0x%x", (unsigned long long)conf.rseq_abi_pointer,
			   conf.rseq_abi_size, conf.signature);
	else
		set_detail(r, "PTRACE_GET_RSEQ_CONFIGURATION works (the probe child has "
			   "no rseq registered)");
}

static void probe_process_vm(struct feature_report *rep, struct target *t)
{
	struct feature_result *r = &rep->f[FEATURE_PROCESS_VM];
	uint64_t val = 0, newval = PROBE_MAGIC2;
	struct iovec local, remote;
	ssize_t n;
	int e;

	if (!need_stopped_target(r, t))
		return;
	remote.iov_base = (void *)&probe_cell;
	remote.iov_len = sizeof(val);
	local.iov_base = &val;
	local.iov_len = sizeof(val);
	n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
	if (n != (ssize_t)sizeof(val)) {
		e = n < 0 ? errno : EIO;
		set_detail(r, "process_vm_readv: %s (%s)", errname(e), strerror(e));
		return;
	}
	if (val != PROBE_MAGIC) {
		set_detail(r, "process_vm_readv read 0x%llx, not the expected value",
			   (unsigned long long)val);
		return;
	}
	local.iov_base = &newval;
	n = process_vm_writev(t->pid, &local, 1, &remote, 1, 0);
	if (n != (ssize_t)sizeof(newval)) {
		e = n < 0 ? errno : EIO;
		set_detail(r, "process_vm_writev: %s (%s)", errname(e), strerror(e));
		return;
	}
	local.iov_base = &val;
	n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
	if (n != (ssize_t)sizeof(val) || val != PROBE_MAGIC2) {
		set_detail(r, "process_vm_writev did not change the probe child's memory");
		return;
	}
	r->ok = true;
	set_detail(r, "process_vm_readv/process_vm_writev on a traced child");
}

static void probe_pidfd(struct feature_report *rep, struct target *t)
{
	struct feature_result *r = &rep->f[FEATURE_PIDFD];
	struct stat a, b;
	char c = 'j', back = 0;
	int pidfd, fd, e;

	if (t->pid <= 0) {
		set_detail(r, "not tested: no probe child");
		return;
	}
	pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	if (pidfd < 0) {
		e = errno;
		set_detail(r, "pidfd_open: %s (%s)%s", errname(e), strerror(e),
			   e == ENOSYS ? ": kernel older than 5.3" : "");
		return;
	}
	fd = (int)syscall(SYS_pidfd_getfd, pidfd, t->pipe_w, 0);
	if (fd < 0) {
		e = errno;
		set_detail(r, "pidfd_getfd: %s (%s)%s", errname(e), strerror(e),
			   e == ENOSYS ? ": kernel older than 5.6" : "");
		close(pidfd);
		return;
	}
	if (fstat(fd, &a) < 0 || fstat(t->pipe_w, &b) < 0) {
		e = errno;
		set_detail(r, "fstat: %s (%s)", errname(e), strerror(e));
		goto out;
	}
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		set_detail(r, "pidfd_getfd returned another file than the child's fd");
		goto out;
	}
	if (write(fd, &c, 1) != 1 || read(t->pipe_r, &back, 1) != 1 || back != c) {
		set_detail(r, "the fd taken with pidfd_getfd does not carry data");
		goto out;
	}
	r->ok = true;
	set_detail(r, "pidfd_open + pidfd_getfd took a pipe from the probe child");
out:
	close(fd);
	close(pidfd);
}

static void probe_pagemap(struct feature_report *rep, struct target *t)
{
	struct feature_result *r = &rep->f[FEATURE_PAGEMAP];
	char path[64];
	uint64_t ent;
	long psz = sysconf(_SC_PAGESIZE);
	ssize_t n;
	int fd, e;

	if (t->pid <= 0) {
		set_detail(r, "not tested: no probe child");
		return;
	}
	if (psz <= 0)
		psz = 4096;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		set_detail(r, "open /proc/PID/pagemap: %s (%s)", errname(e), strerror(e));
		return;
	}
	n = pread(fd, &ent, sizeof(ent), ((uintptr_t)&probe_cell / psz) * sizeof(ent));
	e = errno;
	close(fd);
	if (n != (ssize_t)sizeof(ent)) {
		if (n >= 0)
			e = EIO;
		set_detail(r, "read /proc/PID/pagemap: %s (%s)", errname(e), strerror(e));
		return;
	}
	r->ok = true;
	if (!(ent & (PM_PRESENT | PM_SWAPPED)))
		set_detail(r, "/proc/PID/pagemap readable (probe page shown as absent)");
	else
		set_detail(r, "/proc/PID/pagemap readable: present/swapped/exclusive bits "
			   "visible, PFNs %s", (ent & PM_PFN_MASK) || (ent & PM_SWAPPED) ?
			   "visible" : "hidden (fine)");
}

static void probe_pagemap_scan(struct feature_report *rep)
{
	struct feature_result *r = &rep->f[FEATURE_PAGEMAP_SCAN];
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
		set_detail(r, "mmap: %s (%s)", errname(e), strerror(e));
		return;
	}
	mem[0] = 1;
	mem[2 * psz] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		set_detail(r, "open /proc/self/pagemap: %s (%s)", errname(e), strerror(e));
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
		set_detail(r, "ioctl(PAGEMAP_SCAN): %s (%s)%s", errname(e), strerror(e),
			   e == ENOTTY || e == EINVAL ? ": kernel older than 6.7" : "");
		goto out;
	}
	if (n != 2 || regs[0].start != (uintptr_t)mem ||
	    regs[0].end != (uintptr_t)mem + psz ||
	    regs[1].start != (uintptr_t)mem + 2 * psz ||
	    regs[1].end != (uintptr_t)mem + 3 * psz) {
		set_detail(r, "ioctl(PAGEMAP_SCAN) gave %d regions, not the 2 touched pages", n);
		goto out;
	}
	r->ok = true;
	set_detail(r, "ioctl(PAGEMAP_SCAN) on /proc/self/pagemap found the present pages");
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

static void probe_xstate(struct feature_report *rep, struct target *t)
{
	struct feature_result *r = &rep->f[FEATURE_XSTATE];
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
	if (!need_stopped_target(r, t)) {
		add_detail(r, "; %s", cpuid_info);
		return;
	}

	size_t cap = 64 * 1024;
	_cleanup_free_ void *buf = xcalloc(1, cap);
	struct iovec iov = { .iov_base = buf, .iov_len = cap };

	if (ptrace(PTRACE_GETREGSET, t->pid, NT_X86_XSTATE, &iov) < 0) {
		int e = errno;
		set_detail(r, "PTRACE_GETREGSET NT_X86_XSTATE: %s (%s); %s", errname(e),
			   strerror(e), cpuid_info);
		return;
	}
	rep->xstate_ptrace = (uint32_t)iov.iov_len;
	/* Legacy area (512) plus XSAVE header (64) at least. */
	if (iov.iov_len < 576) {
		set_detail(r, "PTRACE_GETREGSET NT_X86_XSTATE gave only %zu bytes; %s",
			   iov.iov_len, cpuid_info);
		return;
	}
	r->ok = true;
	set_detail(r, "%zu bytes via PTRACE_GETREGSET; %s", iov.iov_len, cpuid_info);
}

/* ---------------------------------------------------------------------- */
/* Namespaces: one forked child makes a user namespace mapping its own uid
 * and gid, then (inside it) a time namespace and a pid namespace whose
 * init creates a process with a chosen PID through clone3 set_tid. Results
 * come back in a shared anonymous page. */

enum ns_step {
	STEP_NOT_RUN = 0,
	STEP_OK,
	STEP_SKIPPED,		/* the user namespace is unusable */
	STEP_UNSHARE_USER,
	STEP_SETGROUPS,
	STEP_UID_MAP,
	STEP_GID_MAP,
	STEP_UNSHARE_TIME,
	STEP_TIMENS_OFFSETS,
	STEP_TIMENS_FORK,
	STEP_TIMENS_CHILD,	/* the child in the time namespace failed */
	STEP_TIMENS_CLOCK,	/* the offset is not visible */
	STEP_UNSHARE_PID,
	STEP_PIDNS_FORK,
	STEP_PIDNS_INIT,	/* the first child is not PID 1 */
	STEP_CLONE3,
	STEP_SET_TID,		/* the new process got another PID */
	STEP_PIDNS_CHILD,	/* the process made by clone3 failed */
};

static const char *step_name(int step)
{
	switch (step) {
	case STEP_UNSHARE_USER:	  return "unshare(CLONE_NEWUSER)";
	case STEP_SETGROUPS:	  return "write /proc/self/setgroups";
	case STEP_UID_MAP:	  return "write /proc/self/uid_map";
	case STEP_GID_MAP:	  return "write /proc/self/gid_map";
	case STEP_UNSHARE_TIME:	  return "unshare(CLONE_NEWTIME)";
	case STEP_TIMENS_OFFSETS: return "write /proc/self/timens_offsets";
	case STEP_TIMENS_FORK:	  return "fork into the time namespace";
	case STEP_TIMENS_CHILD:	  return "clock_gettime in the time namespace";
	case STEP_UNSHARE_PID:	  return "unshare(CLONE_NEWPID)";
	case STEP_PIDNS_FORK:	  return "fork into the pid namespace";
	case STEP_CLONE3:	  return "clone3 with set_tid";
	case STEP_PIDNS_CHILD:	  return "the set_tid child";
	default:		  return "probe";
	}
}

struct ns_shared {
	int user_step, user_err;
	uid_t uid;
	gid_t gid;
	bool in_userns;		/* the time/pid probes ran in the new user ns */

	int time_step, time_err;
	int64_t time_child_ns;	/* CLOCK_MONOTONIC seen in the time namespace */
	int64_t time_delta_ns;	/* minus the one outside */

	int pid_step, pid_err;
	int pid1;		/* getpid() of the namespace's first process */
	int pid_made;		/* clone3's answer, in the namespace */
	int pid_seen;		/* getpid() in the set_tid child */
};

static void ns_fail(int *step, int *err, int which)
{
	*step = which;
	*err = errno;
}

static void ns_probe_user(struct ns_shared *sh)
{
	char map[64];

	sh->uid = geteuid();
	sh->gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0) {
		ns_fail(&sh->user_step, &sh->user_err, STEP_UNSHARE_USER);
		return;
	}
	/* From here on we are in the new namespace, mapped or not. */
	sh->in_userns = true;
	if (write_string_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) {
		ns_fail(&sh->user_step, &sh->user_err, STEP_SETGROUPS);
		return;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)sh->uid, (unsigned)sh->uid);
	if (write_string_file("/proc/self/uid_map", map) < 0) {
		ns_fail(&sh->user_step, &sh->user_err, STEP_UID_MAP);
		return;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)sh->gid, (unsigned)sh->gid);
	if (write_string_file("/proc/self/gid_map", map) < 0) {
		ns_fail(&sh->user_step, &sh->user_err, STEP_GID_MAP);
		return;
	}
	sh->user_step = STEP_OK;
}

static void ns_probe_time(struct ns_shared *sh)
{
	char offsets[64];
	int64_t before;
	pid_t pid, self = getpid();
	int status;

	before = mono_ns();
	if (unshare(CLONE_NEWTIME) < 0) {
		ns_fail(&sh->time_step, &sh->time_err, STEP_UNSHARE_TIME);
		return;
	}
	snprintf(offsets, sizeof(offsets), "monotonic %d 0\nboottime %d 0\n",
		 TIMENS_OFFSET_S, TIMENS_OFFSET_S);
	if (write_string_file("/proc/self/timens_offsets", offsets) < 0) {
		ns_fail(&sh->time_step, &sh->time_err, STEP_TIMENS_OFFSETS);
		return;
	}
	pid = fork();
	if (pid < 0) {
		ns_fail(&sh->time_step, &sh->time_err, STEP_TIMENS_FORK);
		return;
	}
	if (pid == 0) {
		child_guard(self);
		sh->time_child_ns = mono_ns();
		_exit(sh->time_child_ns < 0 ? 1 : 0);
	}
	if (wait_child(pid, &status, 0, CHILD_TIMEOUT_MS) != 0 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = ECHILD;
		ns_fail(&sh->time_step, &sh->time_err, STEP_TIMENS_CHILD);
		return;
	}
	sh->time_delta_ns = sh->time_child_ns - before;
	/* The child ran after `before`, so the delta is the offset plus a
	 * little; allow a slow machine a few seconds. */
	if (sh->time_delta_ns < (int64_t)TIMENS_OFFSET_S * 1000000000 ||
	    sh->time_delta_ns > (int64_t)(TIMENS_OFFSET_S + 5) * 1000000000) {
		sh->time_step = STEP_TIMENS_CLOCK;
		return;
	}
	sh->time_step = STEP_OK;
}

/* Runs as PID 1 of the new pid namespace. */
static int ns_pid1(struct ns_shared *sh)
{
	struct jf_clone_args args;
	pid_t tid = PROBE_SET_TID, pid, self;
	int status;

	self = (pid_t)syscall(SYS_getpid);
	sh->pid1 = self;
	if (self != 1) {
		sh->pid_step = STEP_PIDNS_INIT;
		return 1;
	}
	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid = (uintptr_t)&tid;
	args.set_tid_size = 1;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		ns_fail(&sh->pid_step, &sh->pid_err, STEP_CLONE3);
		return 1;
	}
	if (pid == 0) {
		/* No PDEATHSIG needed: when PID 1 dies, the namespace goes. */
		sh->pid_seen = (int)syscall(SYS_getpid);
		_exit(0);
	}
	sh->pid_made = pid;
	if (wait_child(pid, &status, 0, CHILD_TIMEOUT_MS) != 0 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = ECHILD;
		ns_fail(&sh->pid_step, &sh->pid_err, STEP_PIDNS_CHILD);
		return 1;
	}
	if (pid != PROBE_SET_TID || sh->pid_seen != PROBE_SET_TID) {
		sh->pid_step = STEP_SET_TID;
		return 1;
	}
	sh->pid_step = STEP_OK;
	return 0;
}

static void ns_probe_pid(struct ns_shared *sh)
{
	pid_t pid;
	int status;

	if (unshare(CLONE_NEWPID) < 0) {
		ns_fail(&sh->pid_step, &sh->pid_err, STEP_UNSHARE_PID);
		return;
	}
	pid = fork();
	if (pid < 0) {
		ns_fail(&sh->pid_step, &sh->pid_err, STEP_PIDNS_FORK);
		return;
	}
	if (pid == 0) {
		child_guard(0);
		_exit(ns_pid1(sh));
	}
	/* The child records its own steps; one that never got to record any
	 * is reported by the caller as a dead probe. */
	if (wait_child(pid, &status, 0, CHILD_TIMEOUT_MS) != 0)
		pr_warn("features: the pid namespace probe %d had to be killed", pid);
}

/* Body of the forked namespace child. */
static int ns_child(struct ns_shared *sh)
{
	ns_probe_user(sh);
	if (sh->user_step != STEP_OK && sh->in_userns) {
		/* Stuck in an unmapped namespace: nothing more is meaningful. */
		sh->time_step = sh->pid_step = STEP_SKIPPED;
		return 0;
	}
	ns_probe_time(sh);
	ns_probe_pid(sh);
	return 0;
}

static void report_userns(struct feature_report *rep, const struct ns_shared *sh)
{
	struct feature_result *r = &rep->f[FEATURE_USERNS];
	long clone_knob = -1, max_ns = -1, aa = -1;
	bool has_clone = read_long_file("/proc/sys/kernel/unprivileged_userns_clone", &clone_knob) == 0;
	bool has_max = read_long_file("/proc/sys/user/max_user_namespaces", &max_ns) == 0;
	bool has_aa = read_long_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &aa) == 0;

	if (sh->user_step == STEP_OK) {
		r->ok = true;
		set_detail(r, "uid %u and gid %u mapped to themselves",
			   (unsigned)sh->uid, (unsigned)sh->gid);
	} else if (sh->user_step == STEP_NOT_RUN) {
		set_detail(r, "the probe process died before reporting");
	} else {
		set_detail(r, "%s: %s (%s)", step_name(sh->user_step),
			   errname(sh->user_err), strerror(sh->user_err));
	}
	if (has_max)
		add_detail(r, "; max_user_namespaces %ld%s", max_ns,
			   max_ns == 0 ? " (disabled)" : "");
	if (has_clone)
		add_detail(r, "; unprivileged_userns_clone %ld%s", clone_knob,
			   clone_knob == 0 ? " (disabled: sysctl kernel.unprivileged_userns_clone=1)" : "");
	if (has_aa)
		add_detail(r, "; apparmor_restrict_unprivileged_userns %ld%s", aa,
			   aa ? " (restricted: install jobfreeze's AppArmor profile)" : "");
}

static void report_timens(struct feature_report *rep, const struct ns_shared *sh)
{
	struct feature_result *r = &rep->f[FEATURE_TIMENS];
	const char *where = sh->in_userns ? "" : " (outside a user namespace)";

	switch (sh->time_step) {
	case STEP_OK:
		r->ok = true;
		set_detail(r, "CLONE_NEWTIME with timens_offsets \"monotonic %d 0\": the "
			   "clock inside ran %.3f s ahead", TIMENS_OFFSET_S,
			   sh->time_delta_ns / 1e9);
		break;
	case STEP_NOT_RUN:
		set_detail(r, "the probe process died before reporting");
		break;
	case STEP_SKIPPED:
		set_detail(r, "not tested: needs a working user namespace");
		break;
	case STEP_TIMENS_CLOCK:
		set_detail(r, "offset of %d s written but the clock inside differs by %.3f s",
			   TIMENS_OFFSET_S, sh->time_delta_ns / 1e9);
		break;
	default:
		set_detail(r, "%s: %s (%s)%s%s", step_name(sh->time_step),
			   errname(sh->time_err), strerror(sh->time_err), where,
			   sh->time_step == STEP_UNSHARE_TIME && sh->time_err == EINVAL ?
			   ": kernel without CONFIG_TIME_NS (5.6+)" : "");
		break;
	}
}

static void report_pidns(struct feature_report *rep, const struct ns_shared *sh)
{
	struct feature_result *r = &rep->f[FEATURE_PIDNS];
	const char *where = sh->in_userns ? "" : " (outside a user namespace)";

	switch (sh->pid_step) {
	case STEP_OK:
		r->ok = true;
		set_detail(r, "new pid namespace%s: clone3 set_tid=%d from PID 1 gave "
			   "getpid() == %d", sh->in_userns ? " in the user namespace" : "",
			   PROBE_SET_TID, sh->pid_seen);
		break;
	case STEP_NOT_RUN:
		set_detail(r, "the probe process died before reporting");
		break;
	case STEP_SKIPPED:
		set_detail(r, "not tested: needs a working user namespace");
		break;
	case STEP_PIDNS_INIT:
		set_detail(r, "the first process of the new pid namespace is PID %d, not 1",
			   sh->pid1);
		break;
	case STEP_SET_TID:
		set_detail(r, "clone3 set_tid=%d made PID %d (it sees itself as %d)",
			   PROBE_SET_TID, sh->pid_made, sh->pid_seen);
		break;
	case STEP_CLONE3:
		set_detail(r, "%s: %s (%s)%s%s", step_name(sh->pid_step),
			   errname(sh->pid_err), strerror(sh->pid_err), where,
			   sh->pid_err == ENOSYS ? ": kernel older than 5.3" :
			   sh->pid_err == E2BIG || sh->pid_err == EINVAL ?
			   ": kernel without set_tid (5.5+)" : "");
		break;
	default:
		set_detail(r, "%s: %s (%s)%s", step_name(sh->pid_step),
			   errname(sh->pid_err), strerror(sh->pid_err), where);
		break;
	}
}

static void probe_namespaces(struct feature_report *rep)
{
	struct ns_shared *sh;
	pid_t pid, self = getpid();
	int status;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		int e = errno;
		set_detail(&rep->f[FEATURE_USERNS], "mmap: %s (%s)", errname(e), strerror(e));
		set_detail(&rep->f[FEATURE_PIDNS], "not tested");
		set_detail(&rep->f[FEATURE_TIMENS], "not tested");
		return;
	}
	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid < 0) {
		int e = errno;
		set_detail(&rep->f[FEATURE_USERNS], "fork: %s (%s)", errname(e), strerror(e));
		set_detail(&rep->f[FEATURE_PIDNS], "not tested");
		set_detail(&rep->f[FEATURE_TIMENS], "not tested");
		goto out;
	}
	if (pid == 0) {
		child_guard(self);
		_exit(ns_child(sh));
	}
	if (wait_child(pid, &status, 0, 3 * CHILD_TIMEOUT_MS) < 0)
		pr_warn("features: the namespace probe child %d was not reaped", pid);
	report_userns(rep, sh);
	report_timens(rep, sh);
	report_pidns(rep, sh);
out:
	if (munmap(sh, sizeof(*sh)) < 0)
		pr_perror("features: munmap");
}

/* ---------------------------------------------------------------------- */

static void probe_cap(struct feature_report *rep)
{
	struct feature_result *r = &rep->f[FEATURE_CAP_CR];
	cap_flag_value_t eff = CAP_CLEAR, perm = CAP_CLEAR, admin = CAP_CLEAR;
	long last_cap = -1;
	cap_t caps;

	if (read_long_file("/proc/sys/kernel/cap_last_cap", &last_cap) == 0 &&
	    last_cap < CAP_CHECKPOINT_RESTORE) {
		set_detail(r, "kernel has no CAP_CHECKPOINT_RESTORE (cap_last_cap %ld; 5.9+)",
			   last_cap);
		return;
	}
	caps = cap_get_proc();
	if (!caps) {
		int e = errno;
		set_detail(r, "cap_get_proc: %s (%s)", errname(e), strerror(e));
		return;
	}
	if (cap_get_flag(caps, CAP_CHECKPOINT_RESTORE, CAP_EFFECTIVE, &eff) < 0 ||
	    cap_get_flag(caps, CAP_CHECKPOINT_RESTORE, CAP_PERMITTED, &perm) < 0 ||
	    cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin) < 0) {
		int e = errno;
		set_detail(r, "cap_get_flag: %s (%s)", errname(e), strerror(e));
		cap_free(caps);
		return;
	}
	if (cap_free(caps) < 0)
		pr_perror("features: cap_free");
	rep->has_cap_cr = eff == CAP_SET || admin == CAP_SET;
	r->ok = rep->has_cap_cr;
	if (eff == CAP_SET)
		set_detail(r, "held: a thaw could also restore in the current namespaces");
	else if (admin == CAP_SET)
		set_detail(r, "CAP_SYS_ADMIN held (it covers it): a thaw could also restore "
			   "in the current namespaces");
	else if (perm == CAP_SET)
		set_detail(r, "permitted but not effective");
	else
		set_detail(r, "not held (setcap cap_checkpoint_restore+ep on the binary would give it)");
}

struct feature_def {
	const char *name;
	unsigned needed_for;
	const char *cost;
};

static const struct feature_def feature_defs[FEATURE_COUNT] = {
	[FEATURE_PTRACE] = { "ptrace", FEATURE_FREEZE | FEATURE_THAW,
		"no freeze, no thaw: jobs cannot be stopped, read or rebuilt" },
	[FEATURE_USERNS] = { "userns", FEATURE_THAW,
		"no thaw: exact PIDs need a user+pid namespace (or CAP_CHECKPOINT_RESTORE)" },
	[FEATURE_PIDNS] = { "pidns-set-tid", FEATURE_THAW,
		"no thaw: the job's PIDs and TIDs cannot be given back" },
	[FEATURE_TIMENS] = { "timens", FEATURE_THAW,
		"no thaw: CLOCK_MONOTONIC/BOOTTIME would jump for the job" },
	[FEATURE_RSEQ] = { "rseq", FEATURE_FREEZE,
		"no freeze: the job's rseq registration cannot be read" },
	[FEATURE_PROCESS_VM] = { "process-vm", FEATURE_FREEZE | FEATURE_THAW,
		"no freeze, no thaw: memory cannot be copied in bulk" },
	[FEATURE_PIDFD] = { "pidfd-getfd", FEATURE_FREEZE | FEATURE_THAW,
		"no freeze, no thaw: open files cannot be taken from or given to the job" },
	[FEATURE_PAGEMAP] = { "pagemap", FEATURE_FREEZE,
		"no freeze: which pages exist cannot be known" },
	[FEATURE_PAGEMAP_SCAN] = { "pagemap-scan", 0,
		"slower dumps: pagemap is read instead" },
	[FEATURE_XSTATE] = { "xstate", FEATURE_FREEZE | FEATURE_THAW,
		"no freeze, no thaw: FPU/SSE/AVX registers cannot be saved" },
	[FEATURE_CAP_CR] = { "cap-checkpoint-restore", 0,
		"thaws always need a new user+pid namespace, never the current ones" },
};

int features_probe_all(struct feature_report *rep)
{
	struct sigaction old_chld, dfl;
	bool chld_changed = false;
	struct utsname u;
	struct target t;

	memset(rep, 0, sizeof(*rep));
	rep->yama_scope = -1;
	for (int i = 0; i < FEATURE_COUNT; i++) {
		rep->f[i].name = feature_defs[i].name;
		rep->f[i].needed_for = feature_defs[i].needed_for;
		rep->f[i].required = feature_defs[i].needed_for != 0;
		rep->f[i].cost = feature_defs[i].cost;
	}
	if (uname(&u) < 0) {
		pr_perror("features: uname");
		return -1;
	}
	snprintf(rep->kernel, sizeof(rep->kernel), "%s", u.release);
	snprintf(rep->machine, sizeof(rep->machine), "%s", u.machine);

	/* With SIGCHLD ignored, children are reaped by the kernel and
	 * waitpid() fails: undo that while the probes run. */
	if (sigaction(SIGCHLD, NULL, &old_chld) < 0) {
		pr_perror("features: sigaction(SIGCHLD)");
		return -1;
	}
	if (old_chld.sa_handler == SIG_IGN || (old_chld.sa_flags & SA_NOCLDWAIT)) {
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		if (sigemptyset(&dfl.sa_mask) < 0 || sigaction(SIGCHLD, &dfl, NULL) < 0) {
			pr_perror("features: sigaction(SIGCHLD)");
			return -1;
		}
		chld_changed = true;
	}

	probe_cell = PROBE_MAGIC;
	if (target_start(&t) < 0) {
		int e = errno;
		for (int i = 0; i < FEATURE_COUNT; i++)
			set_detail(&rep->f[i], "not tested: no probe child (%s)", errname(e));
	} else {
		probe_ptrace(rep, &t);
		probe_rseq(rep, &t);
		probe_process_vm(rep, &t);
		probe_pidfd(rep, &t);
		probe_pagemap(rep, &t);
		probe_xstate(rep, &t);
	}
	target_stop(&t);
	probe_pagemap_scan(rep);
	probe_namespaces(rep);
	probe_cap(rep);

	if (chld_changed && sigaction(SIGCHLD, &old_chld, NULL) < 0)
		pr_perror("features: sigaction(SIGCHLD)");

	rep->freeze_ok = rep->thaw_ok = true;
	for (int i = 0; i < FEATURE_COUNT; i++) {
		if (rep->f[i].ok)
			continue;
		if (rep->f[i].needed_for & FEATURE_FREEZE)
			rep->freeze_ok = false;
		if (rep->f[i].needed_for & FEATURE_THAW)
			rep->thaw_ok = false;
	}
	return 0;
}

const struct feature_result *features_find(const struct feature_report *rep,
					   const char *name)
{
	for (int i = 0; i < FEATURE_COUNT; i++)
		if (rep->f[i].name && !strcmp(rep->f[i].name, name))
			return &rep->f[i];
	return NULL;
}
