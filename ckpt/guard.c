/* guard.c: the dump's guard. A child of jobfreeze reads, through a pipe,
 * what each held thread and process must get back; "done" means jobfreeze
 * finished and it exits. End of file without "done" means jobfreeze died
 * holding the job: once the kernel has let the job go, the guard seizes
 * it, gives a thread caught in an injected call its registers back (it
 * waits in the dump's stub, see dump.c), re-arms the timers, unmaps the
 * scratch memory, puts back signal masks, and lets it go. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/guard.h"
#include "ckpt/inject.h"
#include "ckpt/log.h"
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

void guard_stub(pid_t pid, uint64_t stub)
{
	struct guard_rec r = { .kind = REC_STUB, .tid = pid, .syscall_ip = stub };

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
 * run as soon as it detaches it, with its signals still blocked and its
 * timers stopped: we look again every 100 us, not every 10 ms. */
static bool seize_again(pid_t tid)
{
	for (int i = 0; i < 50000; i++) {
		if (ptrace_seize_stop(tid, NULL) == 0)
			return true;
		if (errno != EPERM)
			return false;
		usleep(100);
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

/* A thread stopped in its process's stub (right after the injected
 * syscall, on the jump to itself) gets back its registers as seized, its
 * interrupted syscall set to restart. */
static void unloop(const struct guard_rec *t, const struct guard_rec *recs, size_t n)
{
	struct user_regs_struct now, back = t->regs;

	if (ptrace_get_regs(t->tid, &now) < 0)
		return;
	for (size_t k = 0; k < n; k++)
		if (recs[k].kind == REC_STUB && recs[k].tid == t->pid &&
		    now.rip == recs[k].syscall_ip + 2) {
			regs_apply_restart(&back);
			if (ptrace_set_regs(t->tid, &back) < 0)
				pr_perror("cannot give task %d its registers back", t->tid);
			return;
		}
}

static void repair(struct guard_rec *recs, size_t n)
{
	log_set_prefix("guard");
	pr_err("jobfreeze died while it held the job: putting it back as it was");
	for (size_t i = 0; i < n; i++)
		if (recs[i].kind == REC_THREAD && !seize_again(recs[i].tid))
			recs[i].kind = 0;	/* gone */
	for (size_t i = 0; i < n; i++)
		if (recs[i].kind == REC_THREAD)
			unloop(&recs[i], recs, n);
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
