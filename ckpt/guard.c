/* guard.c: the dump's guard. A child of jobfreeze reads, through a pipe,
 * what each held thread and process must get back; "done" means jobfreeze
 * finished and it exits. End of file without "done" means jobfreeze died
 * holding the job: once the kernel has let the job go, the guard seizes
 * it, gives a thread caught in an injected call its registers back (it
 * waits in the dump's stub, see dump.c), re-arms the timers, unmaps the
 * scratch memory, puts back signal masks, and lets it go. */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/guard.h"
#include "ckpt/inject.h"
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/ptrace.h"
#include "ckpt/util.h"

enum { REC_THREAD = 1, REC_TIMERS, REC_STUB, REC_DONE };

/* One pipe write each, under PIPE_BUF: never torn. */
struct guard_rec {
	int kind;
	pid_t tid;
	pid_t pid;              /* REC_THREAD: its process */
	uint64_t sigmask;
	struct user_regs_struct regs;
	uint64_t syscall_ip, scratch, scratch_size;
	bool stopped;           /* REC_STUB: the process was stopped (^Z) when seized */
	struct itimerval it[3];
};

/* One dump per jobfreeze process: the guard is process-wide, like the log. */
static int guard_fd = -1;
static pid_t guard_pid;

static void send_rec(const struct guard_rec *r)
{
	if (guard_fd >= 0 && write_all(guard_fd, r, sizeof(*r)) < 0)
		pr_warn("the dump's guard is gone: were jobfreeze killed now, the job could be "
			"left with its signals blocked");
}

void guard_thread(pid_t pid, pid_t tid, const struct user_regs_struct *regs, uint64_t sigmask)
{
	struct guard_rec r = { .kind = REC_THREAD, .tid = tid, .pid = pid, .sigmask = sigmask,
			       .regs = *regs };

	send_rec(&r);
}

void guard_stub(pid_t pid, uint64_t stub, uint64_t scratch, uint64_t scratch_size, bool stopped)
{
	struct guard_rec r = { .kind = REC_STUB, .tid = pid, .syscall_ip = stub,
			       .scratch = scratch, .scratch_size = scratch_size, .stopped = stopped };

	send_rec(&r);
}

void guard_timers(pid_t pid, uint64_t syscall_ip, uint64_t scratch, uint64_t scratch_size,
		  const struct itimerval it[3])
{
	struct guard_rec r = { .kind = REC_TIMERS, .tid = pid, .syscall_ip = syscall_ip,
			       .scratch = scratch, .scratch_size = scratch_size };

	memcpy(r.it, it, sizeof(r.it));
	send_rec(&r);
}

/* Seizes TID once the dead jobfreeze no longer traces it (EPERM until the
 * kernel has detached it); false if it is gone. The kernel lets the job
 * run as soon as it detaches it: its threads spin in the dump's stub
 * (inject.c parks them there between calls) and burn a CPU meanwhile;
 * without a stub they would run their own code with signals blocked and
 * timers stopped. We wake on jobfreeze's end before the kernel detaches
 * the job (its files are closed first), so we keep trying without
 * sleeping for the first 200 ms (yielding the CPU only), then every
 * 100 us. */
static bool seize_again(pid_t tid)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 50000;) {
		if (ptrace_seize_stop(tid, NULL) == 0)
			return true;
		if (errno != EPERM)
			return false;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000000000L + now.tv_nsec - t0.tv_nsec < 200000000L) {
			sched_yield();
			continue;
		}
		usleep(100);
		i++;
	}
	return false;
}

static void rearm(const struct guard_rec *p)
{
	struct user_regs_struct regs;
	struct inject in;

	if (ptrace_get_regs(p->tid, &regs) < 0)
		return;
	inject_init(&in, p->tid, p->syscall_ip, &regs);
	for (int w = 0; w < 3; w++) {
		struct itimerval v = p->it[w];
		/* a periodic timer whose signal is pending reads as value 0 */
		if (!v.it_value.tv_sec && !v.it_value.tv_usec &&
		    (v.it_interval.tv_sec || v.it_interval.tv_usec))
			v.it_value.tv_usec = 1;
		if (remote_write(p->tid, p->scratch, &v, sizeof(v)) == 0)
			INJECT(&in, SYS_setitimer, w, p->scratch, 0);
	}
	INJECT(&in, SYS_munmap, p->scratch, p->scratch_size);
}

/* The SIGSTOP a thread sent itself at the end of injected code, not
 * acted on yet (pending), is taken off: resumed, it stops to take it
 * before it runs anything, and we let it go without it. */
static void drop_pending_stop(pid_t tid)
{
	char path[64], *text, *line;
	uint64_t pending = 0;
	int status;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	text = read_file(path, NULL);
	line = text ? strstr(text, "\nSigPnd:") : NULL;
	if (line)
		parse_u64(strtok(line + 8, " \t\n"), 16, &pending);
	free(text);
	if (!(pending & (1ULL << (SIGSTOP - 1))))
		return;
	if (ptrace(PTRACE_CONT, tid, 0, 0) < 0 || ptrace_wait_stop(tid, &status) < 0)
		pr_perror("cannot take a stop off task %d", tid);
}

/* A thread stopped in its process's stub (right after the injected
 * syscall, on the jump to itself), or anywhere in the code of injected
 * calls in its scratch memory (inject.c: it ends in a SIGSTOP, then a jump
 * to itself), gets back its registers as seized, its interrupted syscall
 * set to restart. Returns the stub's record when it was in injected code
 * that stops its process. */
static const struct guard_rec *unloop(const struct guard_rec *t, const struct guard_rec *recs,
				      size_t n)
{
	struct user_regs_struct now, back = t->regs;

	if (ptrace_get_regs(t->tid, &now) < 0)
		return NULL;
	for (size_t k = 0; k < n; k++) {
		const struct guard_rec *s = &recs[k];
		bool in_stub = now.rip == s->syscall_ip + 2;
		if (s->kind != REC_STUB || s->tid != t->pid ||
		    !(in_stub || (now.rip >= s->scratch && now.rip < s->scratch + s->scratch_size)))
			continue;
		regs_apply_restart(&back);
		if (ptrace_set_regs(t->tid, &back) < 0)
			pr_perror("cannot give task %d its registers back", t->tid);
		if (!in_stub)
			drop_pending_stop(t->tid);
		return in_stub ? NULL : s;
	}
	return NULL;
}

static void repair(struct guard_rec *recs, size_t n)
{
	log_set_prefix("guard");
	pr_err("jobfreeze died while it held the job: putting it back as it was");
	for (size_t i = 0; i < n; i++)
		if (recs[i].kind == REC_THREAD && !seize_again(recs[i].tid))
			recs[i].kind = 0;	/* gone */
	const struct guard_rec **stopped_by_us = xcalloc(n + 1, sizeof(*stopped_by_us));
	size_t nr_stopped = 0;
	for (size_t i = 0; i < n; i++)
		if (recs[i].kind == REC_THREAD) {
			const struct guard_rec *s = unloop(&recs[i], recs, n);
			if (s && !s->stopped)
				stopped_by_us[nr_stopped++] = s;
		}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n; k++)
			if (recs[i].kind == REC_TIMERS && recs[k].kind == REC_THREAD &&
			    recs[k].tid == recs[i].tid)
				rearm(&recs[i]);
	/* Its registers to a thread caught in the middle of an injected call:
	 * let go, it finished the call and stopped in the stub's loop. Not to
	 * the others: between calls a thread has its own (inject_syscall_at),
	 * and has run on with them since the kernel let it go; those of the
	 * seize would take it back to before what it did meanwhile. */
	for (size_t i = 0; i < n; i++) {
		struct guard_rec *r = &recs[i];
		if (r->kind != REC_THREAD)
			continue;
		if (ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(r->sigmask), &r->sigmask) < 0)
			pr_perror("cannot put task %d back as it was", r->tid);
		if (ptrace(PTRACE_DETACH, r->tid, 0, 0) < 0)
			pr_perror("cannot let task %d go", r->tid);
	}
	/* A process caught in injected code may have stopped itself on the
	 * way out (its SIGSTOP, no longer taken off by jobfreeze; let go, a
	 * task in such a stop is woken to stop again: its state settles a
	 * moment later): it was running, it runs on. */
	for (size_t i = 0; i < nr_stopped; i++)
		for (int tries = 0; tries < 50; tries++) {
			if (proc_state_of(stopped_by_us[i]->tid) == 'T') {
				if (kill(stopped_by_us[i]->tid, SIGCONT) < 0)
					pr_perror("cannot continue process %d", stopped_by_us[i]->tid);
				break;
			}
			usleep(2000);
		}
	free(stopped_by_us);
}

static void guard_main(int rfd)
{
	struct guard_rec *recs = NULL, r;
	size_t n = 0;

	prctl(PR_SET_NAME, "jobfreeze-guard");
	/* what kills jobfreeze's process group (^C, a hangup) must leave us
	 * to clean up after it */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	for (;;) {
		ssize_t got = read_all(rfd, &r, sizeof(r));
		if (got != (ssize_t)sizeof(r))
			break;		/* end of file: jobfreeze is gone */
		if (r.kind == REC_DONE) {
			free(recs);
			_exit(0);
		}
		recs = xrealloc(recs, (n + 1) * sizeof(*recs));
		recs[n++] = r;
	}
	repair(recs, n);
	free(recs);
	_exit(0);
}

void guard_start(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0) {
		pr_warn("no guard for this dump (pipe: %s)", strerror(errno));
		return;
	}
	guard_pid = fork();
	if (guard_pid < 0) {
		pr_warn("no guard for this dump (fork: %s)", strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (guard_pid == 0) {
		close(p[1]);
		guard_main(p[0]);
	}
	close(p[0]);
	guard_fd = p[1];
}

void guard_stop(void)
{
	struct guard_rec r = { .kind = REC_DONE };
	int status;

	if (guard_fd < 0)
		return;
	send_rec(&r);
	close(guard_fd);
	guard_fd = -1;
	while (waitpid(guard_pid, &status, 0) < 0 && errno == EINTR)
		;
}
