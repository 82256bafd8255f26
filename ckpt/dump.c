/* dump.c: the order of a dump. Validate, seize, read everything, write and
 * sync the images, and only then kill the job; on any failure the job is
 * put back exactly as it was and the partial images are removed. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include "ckpt/clock.h"
#include "ckpt/cpu.h"
#include "ckpt/crashpoint.h"
#include "ckpt/dump.h"
#include "ckpt/fileid.h"
#include "ckpt/guard.h"
#include "ckpt/log.h"
#include "ckpt/owners.h"
#include "ckpt/passedfd.h"
#include "ckpt/pgrp.h"
#include "ckpt/ptrace.h"
#include "ckpt/tree.h"
#include "ckpt/util.h"

#define SCRATCH_SIZE 65536

/* Another user's process: only root may freeze it, and only when asked
 * to, since the images (its memory) are then given to that user. */
static bool other_user_refused(struct dump_ctx *c)
{
	const uid_t *u = c->status.uid;

	if (geteuid() != 0) {
		pr_err("process %d belongs to uid %u, not to you (uid %u): you can only freeze "
		       "your own processes", c->pid, u[1], geteuid());
		return true;
	}
	if (!c->o->allow_other_user) {
		pr_err("process %d belongs to uid %u, not to root: add --allow-other-user to freeze "
		       "it (the images then belong to uid %u)", c->pid, u[1], u[1]);
		return true;
	}
	if (u[0] != u[1] || u[1] != u[2] || u[1] == 0) {
		pr_err("process %d runs with uids %u/%u/%u (real/effective/saved): it cannot be "
		       "given back to one user", c->pid, u[0], u[1], u[2]);
		return true;
	}
	return false;
}

/* Kernels without the "Kthread:" line of /proc/PID/status (before 6.x)
 * still show PF_KTHREAD in the flags of /proc/PID/stat. */
static bool kernel_thread(const struct dump_ctx *c)
{
	struct proc_stat st;

	return c->status.kthread || (proc_stat_quiet(c->pid, &st) == 0 && (st.flags & 0x00200000));
}

/* What this version cannot restore is refused before anything is touched. */
static int check_target(struct dump_ctx *c)
{
	pid_t pid = c->pid;

	if (pid <= 0) {
		pr_err("%d is not a process id", pid);
		return -1;
	}
	if (pid == getpid()) {
		pr_err("jobfreeze cannot freeze itself%s", pid == c->o->pid ? "" :
		       ": it runs inside the job you named; run it from outside the job");
		return -1;
	}
	if (proc_parse_status(pid, &c->status) < 0) {
		if ((errno == ENOENT || errno == ESRCH) && pid != c->o->pid)
			errno = EAGAIN;	/* a descendant ended since listed */
		else if (errno == ENOENT || errno == ESRCH)
			pr_err("process %d does not exist", pid);
		else
			pr_perror("cannot read the status of process %d", pid);
		return -1;
	}
	if (c->status.tgid != pid) {
		pr_err("%d is a thread of process %d: give the process id", pid, c->status.tgid);
		return -1;
	}
	if (kernel_thread(c) || pid == 1) {
		pr_err("process %d is %s: it cannot be frozen", pid,
		       pid == 1 ? "the system's init" : "a kernel thread");
		return -1;
	}
	if ((c->status.uid[0] != getuid() || c->status.uid[1] != geteuid() ||
	     c->status.uid[2] != geteuid()) && other_user_refused(c))
		return -1;
	if (c->status.state == 'Z' && c->status.threads > 1) {
		/* (its threads live on: not a zombie, and its main thread never
		 * stops for a tracer; it would be waited for as one forever) */
		pr_err("process %d: its main thread has exited (pthread_exit in main) while %d other "
		       "thread%s run on: jobfreeze cannot freeze such a process", pid,
		       c->status.threads - 1, c->status.threads > 2 ? "s" : "");
		return -1;
	}
	if (c->status.state == 'Z') {
		if (c->o->pgid == 0 && pid == c->o->pid) {
			pr_err("process %d has already exited (it is a zombie)", pid);
			errno = ESRCH;
			return -1;
		}
		/* A child its parent in the job has not collected yet: it comes
		 * back as such, with its exit status. */
		struct proc_stat st;
		if (proc_stat_quiet(pid, &st) < 0) {
			errno = EAGAIN;	/* collected meanwhile */
			return -1;
		}
		c->zombie = true;
		c->exit_status = st.exit_code;
		return 0;
	}
	/* A sandbox cannot be read back without privileges: it would come back
	 * without it. The one filter a thaw gives is ours, and comes again. */
	if (c->status.seccomp == 1 ||
	    (c->status.seccomp == 2 && !owners_filter_is_ours(pid, c->status.seccomp_filters))) {
		pr_err("process %d runs in a seccomp sandbox (%s): an ordinary user cannot read its "
		       "rules back, and it would come back unprotected; run the job without the "
		       "sandbox to freeze it", pid,
		       c->status.seccomp == 1 ? "strict mode" : "a filter of its own");
		return -1;
	}
	/* Seen before we stop it: once traced it shows as a tracing stop. */
	c->was_stopped = c->status.state == 'T';
	if (c->status.nspid == 1) {
		pr_err("process %d is the init of its pid namespace: it cannot be frozen", pid);
		return -1;
	}
	return 0;
}

static int dump_exe(struct dump_ctx *c)
{
	char path[64], link[4096];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", c->pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0 || stat(path, &st) < 0) {
		pr_perror("cannot read the program of process %d (%s)", c->pid, path);
		return -1;
	}
	link[n] = 0;
	if (n > 10 && !strcmp(link + n - 10, " (deleted)")) {
		pr_err("the program of process %d (%s) was deleted or replaced on disk since it "
		       "started: it could not be started again to thaw it", c->pid, link);
		return -1;
	}
	c->img->exe = fileid_make_cached(&c->shared->fileids, link, &st);
	return 0;
}

static struct inject *thr_in(struct dump_ctx *c, size_t i)
{
	return i ? &c->thr[i].in : &c->in;
}

/* Seizes every thread, again and again until no new one shows up: once
 * all known threads are stopped, none can start another. */
static int seize_threads(struct dump_ctx *c)
{
	char path[64];
	bool more = true;

	snprintf(path, sizeof(path), "/proc/%d/task", c->pid);
	while (more) {
		struct dirent *de;
		DIR *d = opendir(path);

		more = false;
		if (!d && errno == ENOENT) {
			errno = EAGAIN;	/* it ended and was collected since listed */
			return -1;
		}
		if (!d) {
			pr_perror("cannot list the threads of process %d (%s)", c->pid, path);
			return -1;
		}
		while ((de = readdir(d))) {
			int tid;
			bool known = false;

			if (de->d_name[0] == '.' || parse_int(de->d_name, &tid) < 0)
				continue;
			for (size_t i = 0; i < c->nr_thr; i++)
				known |= c->thr[i].tid == tid;
			if (known)
				continue;
			int sig = 0;
			if (ptrace_seize_stop(tid, &sig) < 0) {
				if (errno == ESRCH && tid != c->pid)
					continue;	/* the thread ended meanwhile */
				if (errno == ESRCH)
					errno = EAGAIN;	/* the process did: the job changed */
				else if (errno == EPERM)
					errno = ptrace_refusal_lasts(tid) ? EPERM : EAGAIN;
				closedir(d);
				return -1;
			}
			if (tid == c->pid && c->was_stopped && sig != SIGTRAP)
				c->stop_signo = sig;
			c->thr = xrealloc(c->thr, (c->nr_thr + 1) * sizeof(*c->thr));
			memset(&c->thr[c->nr_thr], 0, sizeof(c->thr[0]));
			c->thr[c->nr_thr++].tid = tid;
			more = true;
		}
		closedir(d);
	}
	/* The leader first: process-wide calls are injected into it. */
	for (size_t i = 1; i < c->nr_thr; i++)
		if (c->thr[i].tid == c->pid) {
			struct dump_thread tmp = c->thr[0];
			c->thr[0] = c->thr[i];
			c->thr[i] = tmp;
		}
	if (!c->nr_thr || c->thr[0].tid != c->pid) {
		pr_err("the main thread of process %d has ended: such a process cannot be frozen",
		       c->pid);
		return -1;
	}
	return 0;
}

/* The thread's record: registers and xstate now; the rest comes later. */
static Thread *new_thread(struct dump_ctx *c, size_t i)
{
	struct dump_thread *d = &c->thr[i];
	struct proc_status st;
	Thread *t;
	void *xs;
	size_t xlen;

	if (ptrace_get_regs(d->tid, &d->regs) < 0 || proc_parse_status(d->tid, &st) < 0 ||
	    ptrace_get_xstate(d->tid, &xs, &xlen) < 0)
		return NULL;
	t = xmalloc(sizeof(*t));
	thread__init(t);
	t->tid = st.nspid;
	t->regs.len = sizeof(d->regs);
	t->regs.data = xmalloc(sizeof(d->regs));
	memcpy(t->regs.data, &d->regs, sizeof(d->regs));
	t->xstate.data = xs;
	t->xstate.len = xlen;
	return t;
}

/* Lets the kernel put back a syscall's temporary signal mask (sigsuspend,
 * ppoll, pselect) with one harmless call, and reads the real mask; the
 * guard learns the thread (before any call through the stub, where a
 * thread the guard does not know would be left spinning). */
static int read_signals(struct dump_ctx *c, size_t i)
{
	struct dump_thread *d = &c->thr[i];
	long ret = INJECT0(thr_in(c, i), SYS_getpid);

	if (ret < 0) {
		pr_err("cannot run a system call in task %d: %s", d->tid, strerror(-ret));
		return -1;
	}
	if (ptrace(PTRACE_GETSIGMASK, d->tid, sizeof(d->sigmask), &d->sigmask) < 0) {
		pr_perror("cannot read the signal mask of task %d", d->tid);
		return -1;
	}
	c->img->threads[i]->sigmask = d->sigmask;
	guard_thread(c->pid, d->tid, &d->regs, d->sigmask);
	return 0;
}

/* Blocks everything: no handler may run while we work inside the process.
 * Parked in the stub first (inject_park): were we killed from now on, the
 * thread would run none of its own code with that mask. */
static int hold_signals(struct dump_ctx *c, size_t i)
{
	struct dump_thread *d = &c->thr[i];
	uint64_t all = ~0ULL;

	if (inject_park(thr_in(c, i)) < 0)
		return -1;
	if (ptrace(PTRACE_SETSIGMASK, d->tid, sizeof(all), &all) < 0) {
		pr_perror("cannot block signals in task %d", d->tid);
		return -1;
	}
	d->mask_changed = true;
	return 0;
}

/* The pid of the process whose dumping-side pid is HOST, as the job sees
 * it; 0 when it is not part of the job. */
static int32_t job_pid_of(struct dump_ctx *ctx, size_t n, pid_t host)
{
	for (size_t i = 0; i < n; i++)
		if (ctx[i].pid == host)
			return ctx[i].status.nspid;
	return 0;
}

/* Whether process group PGID (as we see it) lost its leader: it is no
 * process of the job, and no process at all. */
static bool leader_gone(struct dump_ctx *ctx, size_t n, pid_t pgid)
{
	char path[64];

	if (job_pid_of(ctx, n, pgid))
		return false;
	snprintf(path, sizeof(path), "/proc/%d", pgid);
	return access(path, F_OK) < 0 && errno == ENOENT;
}

/* Whether the leader of session SID (as we see it) has exited: it is no
 * process of the job, and no process leads a session by that id. */
static bool session_gone(struct dump_ctx *ctx, size_t n, pid_t sid)
{
	struct proc_stat st;

	if (sid <= 0 || job_pid_of(ctx, n, sid))
		return false;
	if (proc_stat_quiet(sid, &st) < 0)
		return errno == ENOENT || errno == ESRCH;
	return st.session != sid;
}

/* Which processes a thaw makes by a helper, reparented out of the tree
 * of their session (pgrp.c): BY_HELPER[i]. Their memory is not their
 * parent's. Read once the job is stopped. */
static int find_helper_made(struct dump_ctx *ctx, size_t n, bool *by_helper)
{
	ProcEntry *pe = xcalloc(n, sizeof(*pe));
	ProcEntry **pes = xcalloc(n, sizeof(*pes));
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		struct dump_ctx *c = &ctx[i];
		if ((!c->zombie && proc_parse_status(c->pid, &c->status) < 0) ||
		    proc_parse_stat(c->pid, &c->stat) < 0)
			goto out;
		proc_entry__init(&pe[i]);
		pes[i] = &pe[i];
		pe[i].pid = c->status.nspid;
		pe[i].ppid = i ? job_pid_of(ctx, n, c->status.ppid) : 0;
		pe[i].has_job_sid = 1;
		pe[i].job_sid = c->status.nssid;
		pe[i].sid_leader_gone = session_gone(ctx, n, c->stat.session);
		pe[i].zombie = c->zombie;
	}
	pgrp_helpers(pes, n, by_helper);
	ret = 0;
out:
	free(pes);
	free(pe);
	return ret;
}

static int write_inventory(struct dump_ctx *ctx, size_t n, const struct pipe_list *pipes,
			   const struct pty_list *ptys, struct ghost_set *ghosts)
{
	Inventory inv = INVENTORY__INIT;
	ProcEntry *pe = xcalloc(n, sizeof(ProcEntry));
	ProcEntry **pes = xcalloc(n, sizeof(ProcEntry *));
	int32_t **tids = xcalloc(n, sizeof(int32_t *));
	struct utsname u;
	struct timespec rt;
	struct cpu_view cpu;
	char *boot_id;
	int ret = -1;

	if (uname(&u) < 0) {
		pr_perror("uname");
		goto out_free;
	}
	boot_id = read_file("/proc/sys/kernel/random/boot_id", NULL);
	if (boot_id)
		boot_id[strcspn(boot_id, "\n")] = 0;
	clock_gettime(CLOCK_REALTIME, &rt);
	inv.format_version = IMAGE_FORMAT_VERSION;
	inv.tool_version = (char *)"0.1.0";
	inv.kernel = u.release;
	inv.boot_id = boot_id ? boot_id : (char *)"";
	inv.dump_realtime_ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
	if (job_clocks(ctx[0].pid, &inv.monotonic_ns, &inv.boottime_ns) < 0)
		goto out;
	inv.root_pid = ctx[0].status.nspid;
	for (size_t i = 0; i < n; i++) {
		struct dump_ctx *c = &ctx[i];
		proc_entry__init(&pe[i]);
		pes[i] = &pe[i];
		size_t nt = c->img ? c->img->n_threads : 0;
		tids[i] = xcalloc(nt ? nt : 1, sizeof(int32_t));
		for (size_t k = 0; k < nt; k++)
			tids[i][k] = c->img->threads[k]->tid;
		pe[i].pid = c->status.nspid;
		if (c->zombie) {
			pe[i].has_zombie = pe[i].has_exit_status = 1;
			pe[i].zombie = 1;
			pe[i].exit_status = c->exit_status;
		}
		pe[i].ppid = i ? job_pid_of(ctx, n, c->status.ppid) : 0;
		pe[i].pgid = c->stat.pgrp;
		pe[i].sid = c->stat.session;
		pe[i].has_job_pgid = pe[i].has_job_sid = 1;
		pe[i].job_pgid = c->status.nspgid;
		pe[i].job_sid = c->status.nssid;
		pe[i].has_pgid_leader_gone = 1;
		pe[i].pgid_leader_gone = leader_gone(ctx, n, c->stat.pgrp);
		pe[i].has_sid_leader_gone = 1;
		pe[i].sid_leader_gone = session_gone(ctx, n, c->stat.session);
		pe[i].n_tids = nt;
		pe[i].tids = tids[i];
		pe[i].host_pid = c->pid;
		pe[i].stopped = c->was_stopped;
		if (c->was_stopped && c->stop_signo) {
			pe[i].has_stop_signo = 1;
			pe[i].stop_signo = c->stop_signo;
		}
		pty_ctty_entry(ptys, c, &pe[i]);
	}
	inv.pages_stored = ctx[0].stats->pages_written;
	inv.n_procs = n;
	inv.procs = pes;
	/* Refused now, while the job can go on running, rather than at thaw. */
	struct pgrp_plan *plan = xcalloc(n, sizeof(*plan));
	int planned = pgrp_plan(pes, n, plan);
	/* (one made by a helper is not its parent's clone) */
	for (size_t k = 0; planned == 0 && k < n; k++)
		for (size_t i = 0; plan[k].helper && i < n; i++)
			if (ctx[i].status.nspid == pes[k]->pid && ctx[i].img &&
			    ctx[i].img->has_files_from) {
				pr_err("process %d shares its fd table with its parent %d, but was "
				       "reparented to it out of its session's tree: it cannot be made "
				       "again", pes[k]->pid, pes[k]->ppid);
				planned = -1;
			}
	free(plan);
	if (planned < 0)
		goto out;
	/* The job's exit status is its last-started top process's (a
	 * pipeline's last stage). */
	for (size_t i = 0; i < n; i++)
		if (!pe[i].ppid) {
			inv.has_status_pid = 1;
			inv.status_pid = pe[i].pid;
		}
	inv.xstate_size = ctx[0].img->threads[0]->xstate.len;
	inv.uid = ctx[0].o->allow_other_user ? ctx[0].status.uid[1] : geteuid();
	inv.gid = ctx[0].o->allow_other_user ? ctx[0].status.gid[1] : getegid();
	inv.n_pipes = pipes->n;
	inv.pipes = pipes->p;
	inv.n_ptys = ptys->n;
	inv.ptys = ptys->p;
	/* the CPU as the job's programs see it: CPUID run in the job itself
	 * (an emulator running jobfreeze, valgrind, shows a CPU of its own) */
	if (!ctx[0].in.stub || cpu_view_task(&ctx[0].in, ctx[0].in.scratch + CPU_PROBE_CODE,
					     ctx[0].in.scratch + CPU_PROBE_BUF,
					     ctx[0].in.syscall_ip, &cpu) < 0)
		cpu_view_self(&cpu);
	cpu_record(&inv, &cpu);
	inv.ghosts = ghosts_records(ghosts, &inv.n_ghosts);
	ret = image_write_msg(ctx[0].dir, "inventory.img", IMG_INVENTORY, &inv.base);
	free(inv.ghosts);
	cpu_record_free(&inv);
out:
	free(boot_id);
out_free:
	for (size_t i = 0; i < n; i++)
		free(tids[i]);
	free(tids);
	free(pes);
	free(pe);
	return ret;
}

/* --allow-other-user: the images go to the job's user (all its processes
 * must be that user's), before the job is killed. */
static int give_images(struct dump_ctx *ctx, size_t n, struct image_dir *dir)
{
	uid_t uid = ctx[0].status.uid[1];

	if (!ctx[0].o->allow_other_user || uid == geteuid())
		return 0;
	for (size_t i = 1; i < n; i++)
		if (ctx[i].status.uid[1] != uid) {
			pr_err("process %d belongs to uid %u, process %d to uid %u: the images of a "
			       "job of several users cannot be given to one", ctx[0].pid, uid,
			       ctx[i].pid, ctx[i].status.uid[1]);
			return -1;
		}
	return image_dir_chown(dir, uid, ctx[0].status.gid[1]);
}

/* Puts the threads back as they were: timers, held signals, scratch
 * memory, registers (an interrupted syscall set to restart), signal masks;
 * then lets them go. */
static void release(struct dump_ctx *c, bool stop)
{
	if (!c->nr_thr)
		return;
	if (c->in.tid && c->in.scratch) {
		for (size_t i = c->nr_thr; i-- > 0;)
			inject_requeue_held(thr_in(c, i), c->status.nspid);
		itimers_rearm(c);
		INJECT(&c->in, SYS_munmap, c->in.scratch, c->in.scratch_size);
	}
	for (size_t i = 0; i < c->nr_thr; i++) {
		struct dump_thread *d = &c->thr[i];
		struct user_regs_struct regs = d->regs;

		if (regs.rip) {
			regs_apply_restart(&regs);
			ptrace_set_regs(d->tid, &regs);
		}
		if (d->mask_changed &&
		    ptrace(PTRACE_SETSIGMASK, d->tid, sizeof(d->sigmask), &d->sigmask) < 0)
			pr_perror("cannot restore the signal mask of task %d", d->tid);
	}
	if (stop)
		kill(c->pid, SIGSTOP);
	for (size_t i = 0; i < c->nr_thr; i++)
		if (ptrace(PTRACE_DETACH, c->thr[i].tid, 0, 0) < 0)
			pr_perror("cannot let task %d go (PTRACE_DETACH)", c->thr[i].tid);
	c->nr_thr = 0;
}

/* After SIGKILL: the process is still traced, so it could not run meanwhile. */
static void finish_kill(struct dump_ctx *c)
{
	int status;

	/* We are their tracer: reap the exit notifications meant for us, the
	 * leader's last (it is not reported before the other threads). */
	for (size_t i = c->nr_thr; i-- > 0;)
		while (waitpid(c->thr[i].tid, &status, __WALL) < 0 && errno == EINTR)
			;
	c->nr_thr = 0;
}

/* Injected calls run from a stub in the scratch memory, a `syscall` and a
 * jump to itself, rather than from the vdso's syscall instruction: were
 * jobfreeze killed during a call, the kernel lets the thread go, and it
 * would run on into the vdso's code with the registers of our call. In the
 * stub it stops, spinning, and the guard gives it back its own. */
static const unsigned char inject_stub[] = { 0x0f, 0x05, 0xeb, 0xfe };
#define STUB_OFF (SCRATCH_SIZE - 16)

/* Adds the time since *T to *TO and starts the next part at now. */
static void lap(int64_t *t, int64_t *to)
{
	int64_t now = now_ns();

	*to += now - *t;
	*t = now;
}

/* The memory layout of every process (/proc/PID/smaps, whose VmFlags
 * nothing else gives, and which costs a walk of the page tables: half a
 * millisecond for a python process) is read by a thread of its own, ahead
 * of the main thread, from the moment the job is stopped and before any
 * scratch memory exists in it. */
struct maps_ahead {
	pthread_t th;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dump_ctx *ctx;
	size_t n, done;                   /* ctx[0..done).maps are read */
	int *err;                         /* per process: 0, or the errno of the read */
	int32_t *job_pid;                 /* per process: its pid in the job (its files'
					   * names), 0 for a zombie */
	bool stop;
};

static void *maps_ahead_run(void *arg)
{
	struct maps_ahead *m = arg;

	for (size_t i = 0; i < m->n; i++) {
		struct dump_ctx *c = &m->ctx[i];
		int e = 0;

		if (!c->zombie && proc_parse_maps(c->pid, true, &c->maps) < 0)
			e = errno ? errno : EINVAL;
		pthread_mutex_lock(&m->mu);
		m->err[i] = e;
		m->done = i + 1;
		pthread_cond_broadcast(&m->cv);
		bool stop = m->stop;
		pthread_mutex_unlock(&m->mu);
		if (stop)
			break;
		/* and, meanwhile, the process's two files (image.h) */
		if (m->job_pid[i]) {
			char name[64];
			snprintf(name, sizeof(name), "pages-%d.img", m->job_pid[i]);
			image_make_ahead(c->dir, name);
			snprintf(name, sizeof(name), "proc-%d.img", m->job_pid[i]);
			image_make_ahead(c->dir, name);
		}
	}
	return NULL;
}

static void maps_ahead_start(struct maps_ahead *m, struct dump_ctx *ctx, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->ctx = ctx;
	m->n = n;
	m->err = xcalloc(n ? n : 1, sizeof(int));
	/* (read now: the main thread reads each status again as it goes) */
	m->job_pid = xcalloc(n ? n : 1, sizeof(int32_t));
	for (size_t i = 0; i < n; i++)
		m->job_pid[i] = ctx[i].zombie ? 0 : ctx[i].status.nspid;
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->running = pthread_create(&m->th, NULL, maps_ahead_run, m) == 0;
}

/* C's layout (C is ctx[I]): read ahead, or now. */
static int maps_ahead_take(struct maps_ahead *m, struct dump_ctx *c, size_t i)
{
	int e;

	if (!m || !m->running)
		return proc_parse_maps(c->pid, true, &c->maps);
	pthread_mutex_lock(&m->mu);
	while (m->done <= i)
		pthread_cond_wait(&m->cv, &m->mu);
	e = m->err[i];
	pthread_mutex_unlock(&m->mu);
	errno = e;
	return e ? -1 : 0;
}

/* Stops the reader after the process it is on, waits for it. */
static void maps_ahead_free(struct maps_ahead *m)
{
	if (!m->err)
		return;
	if (m->running) {
		pthread_mutex_lock(&m->mu);
		m->stop = true;
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->th, NULL);
		m->running = false;
	}
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m->err);
	free(m->job_pid);
	m->err = NULL;
}

/* Process C, ctx[AT] of the job, its layout read ahead by M. */
static int do_dump(struct dump_ctx *c, struct maps_ahead *m, size_t at)
{
	struct ckpt_stats *s = c->stats;
	uint64_t syscall_ip, stub = 0;
	int64_t t = now_ns();
	long ret;

	/* Checked again now that it cannot change under us. */
	if (proc_parse_status(c->pid, &c->status) < 0)
		return -1;
	if (proc_parse_stat(c->pid, &c->stat) < 0 || maps_ahead_take(m, c, at) < 0)
		return -1;
	c->img = xmalloc(sizeof(*c->img));
	process__init(c->img);
	c->img->pid = c->status.nspid;
	c->img->threads = xcalloc(c->nr_thr, sizeof(Thread *));
	for (size_t i = 0; i < c->nr_thr; i++) {
		c->img->threads[i] = new_thread(c, i);
		if (!c->img->threads[i])
			return -1;
		c->img->n_threads++;
	}
	if (inject_find_syscall(c->pid, &c->maps, &syscall_ip) < 0 || vdso_dump(c) < 0)
		return -1;
	for (size_t i = 0; i < c->nr_thr; i++)
		inject_init(thr_in(c, i), c->thr[i].tid, syscall_ip, &c->thr[i].regs);
	if (vdso_step_out(c) < 0)
		return -1;
	for (size_t i = 0; i < c->nr_thr; i++)
		if (read_signals(c, i) < 0)
			return -1;
	/* (signals are blocked once the stub exists: from then on, a thread
	 * let go by our death waits there until the guard comes) */
	ret = INJECT(&c->in, SYS_mmap, 0, SCRATCH_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ret == -EACCES || ret == -EPERM)	/* no executable memory: no stub */
		ret = INJECT(&c->in, SYS_mmap, 0, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else if (ret >= 0 && remote_write(c->pid, ret + STUB_OFF, inject_stub, sizeof(inject_stub)) == 0)
		stub = ret + STUB_OFF;
	if (ret < 0) {
		pr_err("cannot get scratch memory in process %d: %s", c->pid, strerror(-ret));
		return -1;
	}
	c->in.scratch = ret;
	c->in.scratch_size = SCRATCH_SIZE;
	if (stub)
		guard_stub(c->pid, stub, ret, SCRATCH_SIZE, c->was_stopped);
	for (size_t i = 0; i < c->nr_thr; i++) {
		struct inject *in = thr_in(c, i);

		in->scratch = c->in.scratch;
		in->scratch_size = SCRATCH_SIZE;
		if (stub) {
			in->syscall_ip = stub;
			in->stub = true;
			/* (and injected code runs there: inject_batch) */
			in->scratch_exec = true;
		}
		if (hold_signals(c, i) < 0 ||
		    /* what the harmless call took off the queue goes back, blocked */
		    inject_requeue_held(in, c->status.nspid) < 0)
			return -1;
	}
	lap(&t, &s->regs_ns);
	for (size_t i = 0; i < c->nr_thr; i++)
		if (thread_task_dump(thr_in(c, i), c->img->threads[i], c->pid) < 0 ||
		    thread_signals_dump(thr_in(c, i), c->img->threads[i]) < 0)
			return -1;
	if (itimers_disarm(c) < 0 || mem_dump_vmas(c) < 0 || mm_dump(c) < 0 || task_dump(c) < 0 ||
	    signals_dump(c) < 0 || dump_exe(c) < 0)
		return -1;
	lap(&t, &s->info_ns);
	if (files_dump(c) < 0 || ptimers_dump(c) < 0)
		return -1;
	lap(&t, &s->files_ns);
	return 0;	/* its pages: the memory worker's (below) */
}

/* A process's pages are read, compared with its parent's, compressed and
 * written (mem_dump_pages) by a thread of their own while the main thread
 * goes on with the next processes: nothing of that needs ptrace (only the
 * tracer's thread may use it), and the two CPUs of a small machine share
 * the work. Once the main thread has handed over the last process, it
 * dumps pages too, of processes whose parent is done (a child's pages are
 * compared with its parent's): the siblings of a pre-fork server or a
 * worker pool, two at a time. Each thread counts into stats of its own
 * (the worker's are added at the end). Without the thread, the pages are
 * dumped in line. */
struct mem_worker {
	pthread_t th;
	bool made, running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dump_ctx **q;              /* in the order handed over; NULL: taken */
	size_t head, tail;                /* q[head..tail) hold those not taken */
	bool closed;                      /* no more will come */
	bool failed;                      /* a process's pages could not be dumped */
	bool stop;                        /* the dump failed: leave the rest */
	struct ckpt_stats stats;          /* the worker's counters */
	int64_t busy_ns;                  /* time it worked */
	unsigned char *buf[2];            /* page buffers: the worker's, the main thread's */
};

/* The first process handed over whose pages may be dumped now, taken;
 * NULL if none. Under w->mu. */
static struct dump_ctx *mem_take(struct mem_worker *w)
{
	for (size_t i = w->head; i < w->tail; i++) {
		struct dump_ctx *c = w->q[i];

		if (!c || !mem_dump_ready(c))
			continue;
		w->q[i] = NULL;
		while (w->head < w->tail && !w->q[w->head])
			w->head++;
		mem_dump_started(c);
		return c;
	}
	return NULL;
}

/* Dumps processes as they become ready until none is left to take (all
 * handed over: CLOSED) or one failed. STATS: this thread's counters, NULL
 * for the process's own; *BUSY gets the time worked. Under w->mu. */
static void mem_work(struct mem_worker *w, unsigned char **buf, struct ckpt_stats *stats,
		     int64_t *busy)
{
	for (;;) {
		if (w->failed || w->stop || (w->closed && w->head == w->tail))
			break;
		struct dump_ctx *c = mem_take(w);
		if (!c) {
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		pthread_mutex_unlock(&w->mu);
		struct ckpt_stats *own = c->stats;
		int64_t t = now_ns();
		if (stats)
			c->stats = stats;
		int r = mem_dump_pages(c, buf);
		c->stats = own;
		pthread_mutex_lock(&w->mu);
		*busy += now_ns() - t;
		mem_dump_finished(c);
		if (r < 0)
			w->failed = true;
		pthread_cond_broadcast(&w->cv);
	}
}

static void *mem_worker_run(void *arg)
{
	struct mem_worker *w = arg;

	pthread_mutex_lock(&w->mu);
	mem_work(w, &w->buf[0], &w->stats, &w->busy_ns);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void mem_worker_start(struct mem_worker *w, size_t n)
{
	memset(w, 0, sizeof(*w));
	w->q = xcalloc(n ? n : 1, sizeof(*w->q));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->made = true;
	w->running = pthread_create(&w->th, NULL, mem_worker_run, w) == 0;
	if (!w->running)
		pr_debug("no thread for the memory: read in line");
}

/* C's pages, dumped by the worker (or now); -1 once any failed. */
static int mem_worker_put(struct mem_worker *w, struct dump_ctx *c, int64_t *t)
{
	bool failed;

	if (!w->running) {
		mem_dump_started(c);
		int r = mem_dump_pages(c, &w->buf[1]);
		mem_dump_finished(c);
		lap(t, &c->stats->mem_ns);
		return r;
	}
	pthread_mutex_lock(&w->mu);
	w->q[w->tail++] = c;
	failed = w->failed;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return failed ? -1 : 0;
}

/* Dumps the pages of the processes still waiting alongside the worker
 * (not after a failure), then waits until every process handed over is
 * done; what the main thread spent counts as memory time (*T: its clock).
 * -1 if any failed. */
static int mem_worker_finish(struct mem_worker *w, struct ckpt_stats *s, int64_t *t)
{
	int64_t busy = 0;

	if (!w->running)
		return w->failed ? -1 : 0;
	pthread_mutex_lock(&w->mu);
	w->closed = true;
	pthread_cond_broadcast(&w->cv);
	mem_work(w, &w->buf[1], NULL, &busy);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	w->running = false;
	lap(t, &s->mem_ns);
	s->mem_alongside_ns += w->busy_ns;
	s->pages_scanned += w->stats.pages_scanned;
	s->pages_zero += w->stats.pages_zero;
	s->pages_shared += w->stats.pages_shared;
	s->pages_written += w->stats.pages_written;
	s->bytes_written += w->stats.bytes_written;
	s->bytes_stored += w->stats.bytes_stored;
	s->bytes_linked += w->stats.bytes_linked;
	memset(&w->stats, 0, sizeof(w->stats));
	return w->failed ? -1 : 0;
}

/* Stops the worker after the process it is on (a failed dump), frees it. */
static void mem_worker_free(struct mem_worker *w)
{
	int64_t t = now_ns();
	struct ckpt_stats dummy = { 0 };

	if (!w->made)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_mutex_unlock(&w->mu);
	mem_worker_finish(w, &dummy, &t);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	mem_page_buf_free(&w->buf[0]);
	mem_page_buf_free(&w->buf[1]);
	free(w->q);
	w->made = false;
}

/* A zombie's wait status, asked of its parent (waitid with WNOWAIT, which
 * leaves it uncollected): /proc shows it only for a zombie that was
 * dumpable, and a SIGSEGV'd one often was not. */
static int zombie_statuses(struct dump_ctx *ctx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct dump_ctx *z = &ctx[i], *p = NULL;
		siginfo_t si;
		long ret;

		if (!z->zombie)
			continue;
		for (size_t k = 0; k < n; k++)
			if (ctx[k].pid == z->status.ppid && !ctx[k].zombie)
				p = &ctx[k];
		if (!p) {
			pr_err("process %d has exited and waits for its parent %d, which is not in the "
			       "job: freeze that parent with it", z->pid, z->status.ppid);
			return -1;
		}
		ret = INJECT(&p->in, SYS_waitid, P_PID, z->status.nspid, p->in.scratch,
			     WEXITED | WNOWAIT, 0);
		if (ret < 0 || remote_read(p->pid, p->in.scratch, &si, sizeof(si)) < 0 ||
		    si.si_pid != z->status.nspid) {
			pr_err("cannot read how child %d of process %d exited: %s", z->pid, p->pid,
			       ret < 0 ? strerror(-ret) : "it is not waitable");
			return -1;
		}
		if (si.si_code == CLD_EXITED)
			z->exit_status = (si.si_status & 0xff) << 8;
		else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
			z->exit_status = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
	}
	return 0;
}

/* A process of a session or a group the job made, but not in the job: its
 * parent exited and init (or a subreaper outside) adopted it. It would go
 * on running cut off from its session while the job is frozen, and not
 * come back with it: refused. (A zombie of such a session is let be: its
 * new parent collects it.) Checked last, once pgrp.c has said what it
 * refuses of the job's own groups. */
static int orphans_check(struct dump_ctx *ctx, size_t n)
{
	struct proc_table t;
	int ret = 0;

	if (proc_table_read(&t) < 0)
		return -1;
	for (size_t i = 0; i < t.n && ret == 0; i++) {
		const struct proc_row *e = &t.p[i];
		bool ours = false;

		if (e->state == 'Z')
			continue;
		for (size_t k = 0; k < n && !ours; k++)
			ours = ctx[k].pid == e->pid;
		for (size_t k = 0; k < n && !ours && ret == 0; k++) {
			const struct dump_ctx *c = &ctx[k];
			bool session = e->session == c->pid && c->stat.session == c->pid;
			if (c->zombie || !(session || (e->pgrp == c->pid && c->stat.pgrp == c->pid)))
				continue;
			pr_err("process %d is in the %s that process %d of the job leads, but not in "
			       "the job (its parent exited and it was adopted outside): it would be left "
			       "behind, running; freeze it with the job by freezing the process that "
			       "adopted it, or end it first", e->pid, session ? "session" : "process group",
			       c->pid);
			ret = -1;
		}
	}
	proc_table_free(&t);
	return ret;
}

static void dump_ctx_free(struct dump_ctx *ctx, size_t n)
{
	for (size_t i = 0; ctx && i < n; i++) {
		mem_dump_free(&ctx[i]);
		proc_maps_free(&ctx[i].maps);
		free(ctx[i].thr);
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_inflight; k++)
			close(ctx[i].held[k]);
		free(ctx[i].held);
		if (ctx[i].img)
			protobuf_c_message_free_unpacked(&ctx[i].img->base, NULL);
	}
}

/* The job's processes, from PROCS when given (a group's: see tree.h). */
static int collect(const struct dump_opts *o, const struct proc_table *procs, pid_t **pids,
		   size_t *n)
{
	return o->pgid ? pgid_collect(procs, o->pgid, pids, n) : tree_collect(o->pid, pids, n);
}

/* Every process of the job stopped before any is read: a parent still
 * running could fork, or change what it shares with its children. */
static int seize_all(struct dump_ctx *ctx, size_t n)
{
	pid_t *now;
	size_t nr_now;

	for (size_t i = 0; i < n; i++)
		if (!ctx[i].zombie && seize_threads(&ctx[i]) < 0)
			return -1;
	if (collect(ctx[0].o, NULL, &now, &nr_now) < 0)
		return -1;
	bool same = nr_now == n;
	for (size_t i = 0; same && i < n; i++)
		same = now[i] == ctx[i].pid;
	free(now);
	if (!same) {
		errno = EAGAIN;	/* a process started or ended in between */
		return -1;
	}
	return 0;
}

/* T: the clock of the parts (write, sync); the last sync is left to the
 * caller's. */
static int write_images(struct dump_ctx *ctx, size_t n, const struct pipe_list *pipes,
			const struct pty_list *ptys, struct ghost_set *ghosts, int64_t *t)
{
	struct ckpt_stats *s = ctx[0].stats;

	for (size_t i = 0; i < n; i++) {
		char name[64];
		if (ctx[i].zombie)
			continue;
		snprintf(name, sizeof(name), "proc-%d.img", ctx[i].img->pid);
		if (image_write_msg(ctx[i].dir, name, IMG_PROCESS, &ctx[i].img->base) < 0)
			return -1;
	}
	lap(t, &s->write_ns);
	/* Everything else is on disk before the inventory, which marks the
	 * image complete: written and synced last. */
	if (image_dir_sync(ctx[0].dir) < 0)
		return -1;
	lap(t, &s->sync_ns);
	crash_point("dump-writing");
	if (write_inventory(ctx, n, pipes, ptys, ghosts) < 0)
		return -1;
	lap(t, &s->write_ns);
	return image_dir_sync(ctx[0].dir);
}

/* The image is complete and synced: from now on, if this process dies,
 * the kernel kills the job too, so that it never both runs on and waits
 * to be thawed (which would run it twice). */
static void kill_with_me(struct dump_ctx *ctx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < ctx[i].nr_thr; k++)
			if (ptrace(PTRACE_SETOPTIONS, ctx[i].thr[k].tid, 0,
				   PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) < 0)
				pr_perror("cannot tie task %d to jobfreeze (PTRACE_O_EXITKILL): were "
					  "jobfreeze killed now, the job would go on", ctx[i].thr[k].tid);
}

int ckpt_dump(const struct dump_opts *o)
{
	struct ckpt_stats dummy = { 0 };
	struct ckpt_stats *stats = o->stats ? o->stats : &dummy;
	struct image_dir dir = { .fd = -1 };
	struct pipe_list pipes = { 0 };
	struct pty_list ptys = { 0 };
	struct ghost_set *ghosts = NULL;
	struct dump_shared shared = { 0 };
	struct mem_worker mw = { 0 };
	struct maps_ahead ma = { 0 };
	struct image_dir prev = { .fd = -1 };
	struct dump_ctx *ctx = NULL;
	pid_t *pids = NULL;
	bool *by_helper = NULL;
	size_t n = 0;
	int64_t t0, t;
	int ret = -1;

	if (o->pgid <= 0 && o->pid <= 0) {
		pr_err("%d is not a process id", o->pid);
		return -1;
	}
	if (image_dir_create(o->dir, &dir) < 0)
		return -1;
	/* an incremental snapshot: what the earlier one holds is linked */
	if (o->prev_dir) {
		if (image_dir_open(o->prev_dir, &prev) == 0)
			shared.prev = &prev;
		else
			pr_warn("the earlier snapshot %s cannot be used: every page is written",
				o->prev_dir);
	}
	t0 = t = now_ns();
	guard_start();
	/* Processes come and go (a build starts a compiler, a child exits and
	 * is collected): list and stop the job again until it held still. */
	for (int attempt = 1;; attempt++) {
		int r = 0;

		/* (the caller's table only at first: it is stale once the job
		 * has changed) */
		if (collect(o, attempt == 1 ? o->procs : NULL, &pids, &n) < 0)
			goto fail_quiet;
		ctx = xcalloc(n, sizeof(*ctx));
		for (size_t i = 0; i < n && r == 0; i++) {
			ctx[i] = (struct dump_ctx){ .o = o, .pid = pids[i], .stats = stats, .dir = &dir,
						    .shared = &shared };
			r = check_target(&ctx[i]);
		}
		if (r == 0)
			r = seize_all(ctx, n);
		if (r == 0)
			break;
		int e = errno;
		for (size_t i = n; i-- > 0;)
			release(&ctx[i], false);
		dump_ctx_free(ctx, n);
		free(ctx);
		free(pids);
		ctx = NULL;
		pids = NULL;
		if (e != EAGAIN)
			goto fail_quiet;
		if (attempt == 20) {
			pr_err("the job kept changing while being frozen (processes starting, ending, "
			       "or not collected by their parent, as zombies): try again");
			goto fail_quiet;
		}
		usleep(10000 * attempt);
	}
	lap(&t, &stats->seize_ns);
	crash_point("dump-seized");
	/* which files with no name the job shares between fds and mappings */
	ghosts = ghosts_prescan(ctx, n, o->ghost_limit);
	by_helper = xcalloc(n, sizeof(bool));
	if (find_helper_made(ctx, n, by_helper) < 0)
		goto fail;
	/* (parents are listed before their children) */
	for (size_t i = 0; i < n; i++) {
		ctx[i].ghosts = ghosts;
		for (size_t k = 0; k < i && !by_helper[i]; k++)
			if (ctx[k].pid == ctx[i].status.ppid && !ctx[k].zombie) {
				ctx[i].parent = &ctx[k];
				for (struct dump_ctx *a = &ctx[k]; a; a = a->parent)
					a->nr_descendants++;
			}
	}
	lap(&t, &stats->seize_ns);
	maps_ahead_start(&ma, ctx, n);
	mem_worker_start(&mw, n);
	for (size_t i = 0; i < n; i++) {
		if (ctx[i].zombie)
			continue;
		int r = do_dump(&ctx[i], &ma, i);
		for (size_t k = 0; k < ctx[i].nr_thr; k++) {
			stats->injected += thr_in(&ctx[i], k)->calls;
			stats->injected_trips += thr_in(&ctx[i], k)->trips;
		}
		t = now_ns();
		if (r < 0 || mem_worker_put(&mw, &ctx[i], &t) < 0)
			goto fail;
	}
	maps_ahead_free(&ma);
	t = now_ns();
	if (mem_worker_finish(&mw, stats, &t) < 0)
		goto fail;
	crash_point("dump-memory");
	t = now_ns();
	/* Queued data is copied once the whole job is known: through a read
	 * end of the job when it has one, and not for a FIFO the world shares. */
	if (zombie_statuses(ctx, n) < 0 || files_share(ctx, n) < 0 || ptys_dump(ctx, n, &ptys) < 0 ||
	    files_tables(ctx, n) < 0 || procfds_resolve(ctx, n) < 0 || fowns_check(ctx, n) < 0 ||
	    pipes_check_outside(ctx, n) < 0 || unixsk_check_peers(ctx, n) < 0 ||
	    inotify_resolve(ctx, n) < 0 || pipes_dump_data(ctx, n, &pipes) < 0 ||
	    passedfd_pipes(ctx, n, &pipes) < 0 || fifos_dump_data(ctx, n, &pipes) < 0 ||
	    ghosts_dump_data(ctx, n, ghosts) < 0)
		goto fail;
	lap(&t, &stats->job_ns);
	if (write_images(ctx, n, &pipes, &ptys, ghosts, &t) < 0 || orphans_check(ctx, n) < 0 ||
	    give_images(ctx, n, &dir) < 0)
		goto fail;
	lap(&t, &stats->sync_ns);
	stats->nr_procs = n;
	/* A job store marks the image complete, then (the job tied to us) moves
	 * it into place: a crash between the two leaves a complete image of a
	 * job that died with us, which the store takes in. */
	if (o->prepare && o->prepare(o->commit_arg) < 0)
		goto fail;
	if (!o->leave_running && !o->leave_stopped)
		kill_with_me(ctx, n);
	crash_point("dump-synced");
	if (o->commit && o->commit(o->commit_arg) < 0)
		goto fail;
	lap(&t, &stats->store_ns);
	if (o->leave_running || o->leave_stopped) {
		for (size_t i = n; i-- > 0;)
			release(&ctx[i], o->leave_stopped);
	} else {
		crash_point("dump-kill");
		socks_abort(ctx, n);
		for (size_t i = 0; i < n; i++)
			if (kill(ctx[i].pid, SIGKILL) < 0 && errno != ESRCH) {
				pr_perror("cannot kill process %d after dumping it", ctx[i].pid);
				goto fail;
			}
		for (size_t i = n; i-- > 0;)
			finish_kill(&ctx[i]);
	}
	ret = 0;
	goto done;
fail:
	/* (the threads read no process that is let go) */
	maps_ahead_free(&ma);
	mem_worker_free(&mw);
	/* Never both frozen and running: the image goes, the job stays. */
	bool stopped = n > 0;
	for (size_t i = n; i-- > 0;) {
		stopped &= ctx[i].was_stopped;
		release(&ctx[i], false);
	}
	/* (a job stopped by ^Z is left stopped: "running" would alarm) */
	const char *left = stopped ? "is left stopped, as it was" : "goes on running";
	if (o->pgid)
		pr_err("process group %d was not frozen and %s", o->pgid, left);
	else
		pr_err("process %d%s was not frozen and %s", o->pid,
		       n > 1 ? " with its descendants" : "", left);
fail_quiet:
	image_dir_discard(&dir);
done:
	maps_ahead_free(&ma);
	mem_worker_free(&mw);
	guard_stop();
	if (ret == 0)
		lap(&t, &stats->release_ns);
	stats->frozen_ns = now_ns() - t0;
	dump_ctx_free(ctx, n);
	fileid_cache_free(&shared.fileids);
	pipe_list_free(&pipes);
	pty_list_free(&ptys);
	ghosts_free(ghosts);
	free(ctx);
	free(pids);
	free(by_helper);
	image_dir_close(&dir);
	if (prev.fd >= 0)
		image_dir_close(&prev);
	return ret;
}
