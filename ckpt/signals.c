/* signals.c: what the job does with signals: dispositions (only visible
 * from inside, so read by injected rt_sigaction), pending queues (peeked,
 * never consumed), the alternate stack and interval timers. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include "ckpt/dump.h"
#include "ckpt/guard.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#ifndef PTRACE_PEEKSIGINFO_SHARED
#define PTRACE_PEEKSIGINFO_SHARED 1
#endif

/* The kernel's struct sigaction on x86_64 (what rt_sigaction takes). */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

/* As in <linux/ptrace.h>, which clashes with glibc's <sys/ptrace.h>. */
struct peeksiginfo_args {
	uint64_t off;
	uint32_t flags;
	int32_t nr;
};

struct kstack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

#define NSIG_KERNEL 64

/* Each action is read by an injected rt_sigaction, all in one batch. */
static int dump_sigactions(struct dump_ctx *c)
{
	struct inject_call calls[NSIG_KERNEL];
	struct ksigaction ka[NSIG_KERNEL];
	long ret[NSIG_KERNEL];
	uint64_t out = c->in.scratch + 4096;
	Process *img = c->img;
	size_t n = 0;

	for (int sig = 1; sig <= NSIG_KERNEL; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			calls[n++] = (struct inject_call){ SYS_rt_sigaction,
				{ sig, 0, out + (sig - 1) * sizeof(ka[0]), 8 } };
	if (inject_batch(&c->in, calls, n, ret) < 0 ||
	    remote_read(c->pid, out, ka, sizeof(ka)) < 0)
		return -1;
	img->sigactions = xcalloc(NSIG_KERNEL, sizeof(SigAction *));
	for (size_t i = 0; i < n; i++) {
		int sig = calls[i].a[0];
		const struct ksigaction *k = &ka[sig - 1];

		if (ret[i] < 0) {
			pr_err("cannot read the action of signal %d in process %d: %s", sig, c->pid,
			       strerror(-ret[i]));
			return -1;
		}
		if (!k->handler && !k->flags && !k->mask)
			continue;	/* SIG_DFL, as a new process has it */
		SigAction *sa = xmalloc(sizeof(*sa));
		sig_action__init(sa);
		sa->signo = sig;
		sa->handler = k->handler;
		sa->flags = k->flags;
		sa->restorer = k->restorer;
		sa->mask = k->mask;
		img->sigactions[img->n_sigactions++] = sa;
	}
	return 0;
}

/* Copies a signal queue without taking anything off it. */
static int peek_pending(pid_t tid, bool shared, SigInfo ***out, size_t *n)
{
	siginfo_t si[32];
	size_t cap = 0;

	memset(si, 0, sizeof(si));	/* filled by the kernel; valgrind cannot tell */

	*n = 0;
	*out = NULL;
	for (uint64_t off = 0;; ) {
		struct peeksiginfo_args a = {
			.off = off, .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0, .nr = 32,
		};
		long got = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si);
		if (got < 0) {
			pr_perror("cannot read the %s pending signals of task %d",
				  shared ? "process-wide" : "thread", tid);
			return -1;
		}
		if (got == 0)
			return 0;
		for (long i = 0; i < got; i++) {
			if (*n == cap)
				*out = xrealloc(*out, (cap = cap ? cap * 2 : 8) * sizeof(SigInfo *));
			SigInfo *s = xmalloc(sizeof(*s));
			sig_info__init(s);
			s->raw.len = sizeof(siginfo_t);
			s->raw.data = xmalloc(sizeof(siginfo_t));
			memcpy(s->raw.data, &si[i], sizeof(siginfo_t));
			(*out)[(*n)++] = s;
		}
		off += got;
	}
}

int itimers_disarm(struct dump_ctx *c)
{
	static const struct itimerval zero;
	uint64_t old = c->in.scratch + sizeof(zero);
	struct inject_call calls[3];
	long ret[3];

	/* Stopping the timers first means no SIGALRM can slip in between reading
	 * the pending queue and the end of the dump; a released job gets them
	 * back. The three in one batch, each old value to its own place. */
	if (remote_write(c->pid, c->in.scratch, &zero, sizeof(zero)) < 0)
		return -1;
	for (int w = 0; w < 3; w++)
		calls[w] = (struct inject_call){ SYS_setitimer,
			{ w, c->in.scratch, old + w * sizeof(zero) } };
	if (inject_batch(&c->in, calls, 3, ret) < 0)
		return -1;
	c->itimers_disarmed = true;
	if (remote_read(c->pid, old, c->itimers, sizeof(c->itimers)) < 0)
		return -1;
	for (int w = 0; w < 3; w++)
		if (ret[w] < 0) {
			pr_err("cannot read interval timer %d of process %d: %s", w, c->pid,
			       strerror(-ret[w]));
			return -1;
		}
	guard_timers(c->pid, c->in.syscall_ip, c->in.scratch, c->in.scratch_size, c->itimers);
	return 0;
}

static bool timerisset_v(const struct timeval *tv)
{
	return tv->tv_sec || tv->tv_usec;
}

/* A periodic ITIMER_REAL whose SIGALRM is still pending reads as value 0:
 * the kernel re-arms it only when that signal is dequeued. Arming it to
 * fire at once keeps it going; the extra SIGALRM merges with the pending
 * one (standard signals do not queue twice). */
static struct itimerval live_itimer(const struct itimerval *v)
{
	struct itimerval r = *v;

	if (!timerisset_v(&r.it_value) && timerisset_v(&r.it_interval))
		r.it_value.tv_usec = 1;
	return r;
}

void itimers_rearm(struct dump_ctx *c)
{
	if (!c->itimers_disarmed)
		return;
	for (int w = 0; w < 3; w++) {
		struct itimerval v = live_itimer(&c->itimers[w]);
		if (!timerisset_v(&v.it_value))
			continue;
		if (remote_write(c->pid, c->in.scratch, &v, sizeof(v)) < 0 ||
		    INJECT(&c->in, SYS_setitimer, w, c->in.scratch, 0) < 0)
			pr_err("could not re-arm interval timer %d of process %d", w, c->pid);
	}
	c->itimers_disarmed = false;
}

static uint64_t tv_us(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

int signals_dump(struct dump_ctx *c)
{
	Process *img = c->img;
	size_t n;

	if (dump_sigactions(c) < 0)
		return -1;
	img->itimers = xcalloc(3, sizeof(Itimer *));
	for (int w = 0; w < 3; w++) {
		if (!timerisset_v(&c->itimers[w].it_value) && !timerisset_v(&c->itimers[w].it_interval))
			continue;
		Itimer *it = xmalloc(sizeof(*it));
		itimer__init(it);
		it->which = w;
		it->value_us = tv_us(&c->itimers[w].it_value);
		it->interval_us = tv_us(&c->itimers[w].it_interval);
		img->itimers[img->n_itimers++] = it;
	}
	if (peek_pending(c->pid, true, &img->shared_pending, &n) < 0)
		return -1;
	img->n_shared_pending = n;
	return 0;
}

int thread_signals_dump(struct inject *in, Thread *t)
{
	struct kstack ss = { 0 };
	size_t n;
	long ret;

	if (peek_pending(in->tid, false, &t->pending, &n) < 0)
		return -1;
	t->n_pending = n;
	ret = INJECT(in, SYS_sigaltstack, 0, in->scratch);
	if (ret < 0) {
		pr_err("cannot read the signal stack of task %d: %s", in->tid, strerror(-ret));
		return -1;
	}
	if (remote_read(in->tid, in->scratch, &ss, sizeof(ss)) < 0)
		return -1;
	t->altstack_sp = ss.sp;
	t->altstack_size = ss.size;
	t->altstack_flags = ss.flags;
	return 0;
}

/* The signals process PID ignores now (SigIgn of /proc/PID/status). */
static uint64_t ignored_now(pid_t pid)
{
	char path[64], *text, *line;
	uint64_t mask = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	text = read_file(path, NULL);
	line = text ? strstr(text, "\nSigIgn:") : NULL;
	if (line) {
		line += 8;
		line[strcspn(line, "\n")] = 0;
		parse_u64(line + strspn(line, " \t"), 16, &mask);
	}
	free(text);
	return mask;
}

/* Every action and interval timer, in one batch of injected calls. The
 * image keeps no record of a default action; a new process has kept,
 * across its exec, what its maker ignored (a shell's SIGTSTP, SIGTTOU...,
 * init's SIGPIPE), and one forked from its parent what the parent ignored:
 * those go back to the default. */
int signals_restore(struct restore_ctx *r)
{
	Process *img = r->img;
	size_t n = img->n_sigactions, k = img->n_itimers, nc = 0;
	struct ksigaction *ka = xcalloc(n + 1, sizeof(*ka));
	struct itimerval *it = xcalloc(k + 1, sizeof(*it));
	struct inject_call *c = xcalloc(NSIG_KERNEL + n + k + 1, sizeof(*c));
	long *ret = xcalloc(NSIG_KERNEL + n + k + 1, sizeof(*ret));
	/* where they go in the scratch area: 64 actions, 3 timers, a default */
	const size_t at = 4096, it_at = at + NSIG_KERNEL * sizeof(*ka);
	const size_t dfl_at = it_at + 3 * sizeof(*it);
	const struct ksigaction dfl = { 0 };
	uint64_t ign = ignored_now(r->job);
	int rc = -1;

	if (n > NSIG_KERNEL || k > 3) {
		pr_err("damaged image: %zu signal actions, %zu interval timers", n, k);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ign &= ~(1ULL << ((img->sigactions[i]->signo - 1) & 63));
	for (unsigned sig = 1; sig <= NSIG_KERNEL; sig++)
		if (ign & (1ULL << (sig - 1)))
			c[nc++] = (struct inject_call){ SYS_rt_sigaction,
				{ sig, r->in.scratch + dfl_at, 0, 8 } };
	for (size_t i = 0; i < n; i++) {
		const SigAction *sa = img->sigactions[i];
		ka[i] = (struct ksigaction){ sa->handler, sa->flags, sa->restorer, sa->mask };
		c[nc++] = (struct inject_call){ SYS_rt_sigaction,
			{ sa->signo, r->in.scratch + at + i * sizeof(*ka), 0, 8 } };
	}
	for (size_t i = 0; i < k; i++) {
		const Itimer *t = img->itimers[i];
		it[i] = live_itimer(&(struct itimerval){
			.it_interval = { t->interval_us / 1000000, t->interval_us % 1000000 },
			.it_value = { t->value_us / 1000000, t->value_us % 1000000 },
		});
		c[nc++] = (struct inject_call){ SYS_setitimer,
			{ t->which, r->in.scratch + it_at + i * sizeof(*it), 0 } };
	}
	if ((n && !scratch_put(r, at, ka, n * sizeof(*ka))) ||
	    (k && !scratch_put(r, it_at, it, k * sizeof(*it))) ||
	    !scratch_put(r, dfl_at, &dfl, sizeof(dfl)) || inject_batch(&r->in, c, nc, ret) < 0)
		goto out;
	for (size_t i = 0; i < nc; i++)
		if (ret[i] < 0) {
			if (c[i].nr == SYS_setitimer)
				pr_err("cannot restore interval timer %u: %s", (unsigned)c[i].a[0],
				       strerror(-ret[i]));
			else
				pr_err("cannot restore the action of signal %u: %s", (unsigned)c[i].a[0],
				       strerror(-ret[i]));
			goto out;
		}
	rc = 0;
out:
	free(ka);
	free(it);
	free(c);
	free(ret);
	return rc;
}

int thread_signals_restore(struct restore_ctx *r, struct inject *in, const Thread *t)
{
	if (!(t->altstack_flags & SS_DISABLE)) {
		struct kstack ss = { .sp = t->altstack_sp, .size = t->altstack_size,
				     .flags = t->altstack_flags & ~SS_ONSTACK };
		uint64_t p = scratch_put(r, 0, &ss, sizeof(ss));
		long ret = p ? INJECT(in, SYS_sigaltstack, p, 0) : -EFAULT;
		if (ret < 0) {
			pr_err("cannot restore the signal stack of thread %d at %#lx: %s", t->tid,
			       (unsigned long)t->altstack_sp, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* Queues a saved siginfo again, from inside the job itself: the kernel lets
 * a process queue any siginfo to itself, but not to others. TID 0 means
 * the process-wide queue. */
static int requeue(struct restore_ctx *r, struct inject *in, const SigInfo *s, pid_t tid)
{
	siginfo_t si;
	uint64_t p;
	long ret;

	if (s->raw.len != sizeof(si)) {
		pr_err("damaged pending signal record (%zu bytes)", s->raw.len);
		return -1;
	}
	memcpy(&si, s->raw.data, sizeof(si));
	if (si.si_signo < 1 || si.si_signo > NSIG_KERNEL) {
		pr_err("damaged pending signal record (signal %d)", si.si_signo);
		return -1;
	}
	p = scratch_put(r, 0, &si, sizeof(si));
	if (!p)
		return -1;
	if (!tid)
		ret = INJECT(in, SYS_rt_sigqueueinfo, r->img->pid, si.si_signo, p);
	else
		ret = INJECT(in, SYS_rt_tgsigqueueinfo, r->img->pid, tid, si.si_signo, p);
	if (ret < 0) {
		pr_err("cannot queue pending signal %d again: %s", si.si_signo, strerror(-ret));
		return -1;
	}
	return 0;
}

int pending_restore(struct restore_ctx *r)
{
	for (size_t i = 0; i < r->img->n_shared_pending; i++)
		if (requeue(r, &r->in, r->img->shared_pending[i], 0) < 0)
			return -1;
	return 0;
}

int thread_pending_restore(struct restore_ctx *r, struct inject *in, const Thread *t)
{
	for (size_t i = 0; i < t->n_pending; i++)
		if (requeue(r, in, t->pending[i], t->tid) < 0)
			return -1;
	return 0;
}
