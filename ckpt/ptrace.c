/* ptrace.c: seize/interrupt (never SIGSTOP: a seized task resumes by itself
 * if the freezer dies), wait for stops, registers and xstate. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "ckpt/hardening.h"
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/ptrace.h"
#include "ckpt/util.h"

int ptrace_wait_stop(pid_t tid, int *status)
{
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("waitpid on task %d", tid);
			return -1;
		}
		if (WIFEXITED(*status)) {
			pr_err("task %d exited with status %d while stopped by jobfreeze", tid,
			       WEXITSTATUS(*status));
			errno = ESRCH;
			return -1;
		}
		if (WIFSIGNALED(*status)) {
			pr_err("task %d was killed by signal %d (%s) while stopped by jobfreeze", tid,
			       WTERMSIG(*status), strsignal(WTERMSIG(*status)));
			errno = ESRCH;
			return -1;
		}
		return 0;
	}
}

/* What task TID waits for in the kernel (its wchan), in BUF */
static const char *waits_in(pid_t tid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/wchan", tid);
	buf[0] = '\0';
	f = fopen(path, "re");
	if (f) {
		if (!fgets(buf, size, f))
			buf[0] = '\0';
		fclose(f);
	}
	return buf;
}

/* A task that does not stop after PTRACE_INTERRUPT is blocked where no
 * signal reaches it: a parent whose vfork() child has not exec'd or
 * exited yet (the stop comes only after), or a wait in the kernel that is
 * not interruptible (a hung NFS server, a device). Waited for as long as a
 * slow machine may need, then refused, saying which, rather than hanging
 * the freeze: the job goes on. */
#define STOP_WAIT_MS 10000
/* A vfork() child execs at once, unless the machine is busy: under load
 * it may wait its turn for a good part of a second. */
#define VFORK_WAIT_MS 3000

static void pending_add(pid_t tid);

static int wait_interrupted(pid_t tid, int *status)
{
	long waited_us = 0, step = 50;
	char wchan[64];

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);
		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR) {
			pr_perror("waitpid on task %d", tid);
			return -1;
		}
		if (waited_us >= VFORK_WAIT_MS * 1000L && proc_state_of(tid) == 'D' &&
		    (strstr(waits_in(tid, wchan, sizeof(wchan)), "vfork") ||
		     !strcmp(wchan, "kernel_clone"))) {
			pr_err("process %d is in vfork(), waiting for its child to exec or exit: it "
			       "cannot be stopped before that; try again once the child has (a "
			       "program being started: usually a moment; a child that never does "
			       "keeps its parent unfreezable)", tid);
			errno = EBUSY;
			return -1;
		}
		if (waited_us >= STOP_WAIT_MS * 1000L) {
			pr_err("process %d did not stop within %d s: it waits in the kernel (%s, "
			       "state %c) where no signal reaches it; try again later",
			       tid, STOP_WAIT_MS / 1000, waits_in(tid, wchan, sizeof(wchan))[0] ?
			       wchan : "unknown", proc_state_of(tid));
			errno = EBUSY;
			return -1;
		}
		usleep(step);
		waited_us += step;
		if (step < 10000)
			step *= 2;
	}
}

int ptrace_seize_stop(pid_t tid, int *stopsig)
{
	int status;

	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD) < 0) {
		/* gone (ESRCH) or refused (EPERM): the caller says what it means */
		if (errno != ESRCH && errno != EPERM)
			pr_perror("cannot attach to process %d (PTRACE_SEIZE)", tid);
		return -1;
	}
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		pr_perror("cannot stop process %d (PTRACE_INTERRUPT)", tid);
		goto detach;
	}
	for (;;) {
		if (wait_interrupted(tid, &status) < 0)
			goto detach;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			errno = ESRCH;	/* it was ending as we came */
			return -1;
		}
		if (status >> 16 == PTRACE_EVENT_STOP) {
			/* a job-control stop reports its signal; our interrupt SIGTRAP */
			if (stopsig)
				*stopsig = WSTOPSIG(status);
			return 0;
		}
		/* A signal was being delivered: let it go as it would have; the
		 * interrupt stays pending and stops the task right after. */
		int sig = WSTOPSIG(status);
		if (sig == (SIGTRAP | 0x80))
			sig = 0;
		if (ptrace(PTRACE_CONT, tid, 0, sig) < 0) {
			pr_perror("cannot pass signal %d on to process %d", sig, tid);
			goto detach;
		}
	}
detach:
	/* (a task that never stopped cannot be detached: it is let go once it
	 * stops, ckpt_let_go_pending; errno says why it failed) */
	{
		int e = errno;
		if (ptrace(PTRACE_DETACH, tid, 0, 0) < 0 && errno == ESRCH)
			pending_add(tid);
		errno = e;
	}
	return -1;
}

/* Tasks seized that never stopped, to let go once they do. */
#define MAX_PENDING 64
static pid_t pending[MAX_PENDING];
static size_t nr_pending;

static void pending_add(pid_t tid)
{
	if (nr_pending < MAX_PENDING)
		pending[nr_pending++] = tid;
	else
		pr_warn("task %d stays traced (and stopped, once it stops) until this process ends",
			tid);
}

int ckpt_let_go_pending(void)
{
	size_t k = 0;

	for (size_t i = 0; i < nr_pending; i++) {
		pid_t tid = pending[i];
		int status;
		pid_t r = waitpid(tid, &status, __WALL | WNOHANG);

		if (r == 0) {	/* still blocked */
			pending[k++] = tid;
			continue;
		}
		if (r < 0 || !WIFSTOPPED(status))
			continue;	/* gone */
		/* Our interrupt's stop: let it go on. A signal being delivered
		 * first: let go with it, as it would have come. */
		int sig = status >> 16 == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(status);
		if (sig == (SIGTRAP | 0x80))
			sig = 0;
		if (ptrace(PTRACE_DETACH, tid, 0, sig) < 0 && errno != ESRCH) {
			pr_perror("cannot let task %d go", tid);
			pending[k++] = tid;
		}
	}
	nr_pending = k;
	return (int)k;
}

int ptrace_get_regs(pid_t tid, struct user_regs_struct *r)
{
	if (ptrace(PTRACE_GETREGS, tid, 0, r) < 0) {
		pr_perror("cannot read the registers of task %d", tid);
		return -1;
	}
	return 0;
}

int ptrace_set_regs(pid_t tid, const struct user_regs_struct *r)
{
	if (ptrace(PTRACE_SETREGS, tid, 0, r) < 0) {
		pr_perror("cannot set the registers of task %d", tid);
		return -1;
	}
	return 0;
}

/* Larger than any xstate (AMX makes ~11 KiB); the kernel says how much it
 * filled. CPUID is not asked: emulators (valgrind) report less than the
 * kernel really saves. */
#define XSTATE_MAX (64 << 10)

int ptrace_get_xstate(pid_t tid, void **buf, size_t *len)
{
	struct iovec iov = { .iov_base = xcalloc(1, XSTATE_MAX), .iov_len = XSTATE_MAX };

	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) < 0) {
		pr_perror("cannot read the FPU/AVX state of task %d (NT_X86_XSTATE)", tid);
		free(iov.iov_base);
		return -1;
	}
	*buf = xrealloc(iov.iov_base, iov.iov_len);
	*len = iov.iov_len;
	return 0;
}

int ptrace_set_xstate(pid_t tid, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov) < 0) {
		pr_perror("cannot restore the FPU/AVX state of task %d (NT_X86_XSTATE, %zu bytes)",
			  tid, len);
		return -1;
	}
	return 0;
}

#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

bool regs_apply_restart(struct user_regs_struct *r)
{
	long ret = (long)r->rax;

	if ((long)r->orig_rax < 0)
		return false;
	switch (-ret) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
		/* No handler runs in between, so even ERESTARTSYS restarts. */
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	case ERESTART_RESTARTBLOCK:
		r->rax = SYS_restart_syscall;
		r->rip -= 2;
		break;
	default:
		return false;
	}
	/* The restart is in the registers now; keep the kernel from doing it twice. */
	r->orig_rax = -1;
	return true;
}

/* The kernel gives the /proc files of a process that is not dumpable
 * (it runs a program its user may not read, or said PR_SET_DUMPABLE 0)
 * to root, and lets no ordinary user trace it. False, said why, for such
 * a process of ours. An exec in progress makes it so for an instant (a
 * `set -m` shell's job starting its program): looked at again for 300 ms
 * before the process is said not dumpable, so that the caller's retry
 * meets it dumpable. */
static bool dumpable(pid_t tid, const struct proc_status *st)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d/mem", tid);
	for (int i = 0; i < 30; i++) {
		char state = proc_state_of(tid);
		/* (an exiting process has let its memory go, which gives its
		 * /proc files to root too: gone or a zombie, it is no refusal) */
		if (stat(path, &sb) < 0 || sb.st_uid == st->uid[1] || state == 'Z' ||
		    state == 'X' || state == '?')
			return true;
		usleep(10000);
	}
	pr_err("cannot attach to process %d: it is not dumpable (it runs a program you may "
	       "execute but not read, or it called prctl(PR_SET_DUMPABLE, 0)), and the kernel "
	       "lets no ordinary user trace such a process; make the program readable, or leave "
	       "its dumpable flag set, to freeze it", tid);
	return false;
}

bool ptrace_refusal_lasts(pid_t tid)
{
	struct proc_status st;
	char *advice = NULL;
	int tracer = 0, scope;

	if (proc_parse_status(tid, &st) == 0)
		tracer = st.tracer;
	if (!tracer && geteuid() != 0 && !dumpable(tid, &st))
		return true;
	scope = hardening_yama_scope();
	if (tracer)
		pr_err("cannot attach to process %d: it is traced already by process %d (a debugger "
		       "or strace?); detach that first", tid, tracer);
	else if ((advice = hardening_yama_advice(scope)))
		pr_err("cannot attach to process %d: %s", tid, advice);
	free(advice);
	return tracer || scope > 0;
}
