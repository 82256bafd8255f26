/* restore.c: the order of a restore. The restoring process reads and checks
 * the images, enters a new user namespace and forks the init of a new pid
 * and time namespace; that init forks the job with its dumped pid, lets it
 * exec its own program under ptrace, rebuilds it by injected system calls,
 * lets it go, reaps it and reports its exit to the restoring process. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/wait.h>
#include "ckpt/cpu.h"
#include "ckpt/crashpoint.h"
#include "ckpt/imgcheck.h"
#include "ckpt/log.h"
#include "ckpt/ns.h"
#include "ckpt/owners.h"
#include "ckpt/passedfd.h"
#include "ckpt/pgrp.h"
#include "ckpt/proc.h"
#include "ckpt/ptrace.h"
#include "ckpt/pagefile.h"
#include "ckpt/restore.h"
#include "ckpt/thawcheck.h"
#include "ckpt/util.h"

/* What init tells the restoring process over the status pipe. */
enum { MSG_READY = 1, MSG_FAILED = 2, MSG_EXITED = 3, MSG_STOPPED = 4, MSG_CONTINUED = 5 };
struct status_msg {
	int kind;
	int value;     /* MSG_READY: the job's pid in its namespace; MSG_EXITED: its
			* wait status; MSG_STOPPED: the signal that stopped it */
	struct ckpt_stats stats;
};

/* What one restore holds for the whole job. */
struct restore_job {
	const struct restore_opts *o;
	struct ckpt_stats *stats;
	struct image_dir dir;
	Inventory *inv;
	struct restore_ctx *procs;        /* parents before children, the root first */
	size_t n;
	int keep_at;                      /* the restore socket's fd in every process */
	struct pipe_table pipes;
	struct shm_table shm;
	struct sock_table socks;
	struct pty_table ptys;
	pid_t group;                      /* restore -d: the job's own process group */
	struct pgrp_plan *plan;           /* per process: its group and session */
	int sock[2];                      /* init's end, the job's end */
	int owners_server;                /* owners.c: the stat server, or -1 */
	int owners_ctl[2];                /* init's end, the top processes' end */
};

static int load_process(struct restore_job *j, struct restore_ctx *r, const ProcEntry *pe)
{
	char name[64], file[PATH_MAX + 64];

	snprintf(name, sizeof(name), "proc-%d.img", pe->pid);
	r->o = j->o;
	r->stats = j->stats;
	r->dir = &j->dir;
	r->inv = j->inv;
	r->pipes = &j->pipes;
	r->socks = &j->socks;
	r->shm = &j->shm;
	r->ptys = &j->ptys;
	r->img = (Process *)image_read_msg(&j->dir, name, IMG_PROCESS, &process__descriptor);
	if (!r->img)
		return -1;
	snprintf(file, sizeof(file), "%s/%s", j->dir.path, name);
	return image_check_process(r->img, pe, file);
}

/* Reads and checks the images: -1 if they cannot be read, 1 if this
 * machine cannot thaw them (every reason reported), 0 to go on. */
static int load_job(struct restore_job *j, bool cpu_here)
{
	char file[PATH_MAX + 64];
	Inventory *inv;

	inv = j->inv = (Inventory *)image_read_msg(&j->dir, "inventory.img", IMG_INVENTORY,
						   &inventory__descriptor);
	if (!inv)
		return -1;
	snprintf(file, sizeof(file), "%s/inventory.img", j->dir.path);
	if (image_check_inventory(inv, file) < 0)
		return -1;
	j->procs = xcalloc(inv->n_procs, sizeof(struct restore_ctx));
	j->n = inv->n_procs;
	j->keep_at = 3;
	j->plan = xcalloc(j->n ? j->n : 1, sizeof(*j->plan));
	if (pgrp_plan(inv->procs, j->n, j->plan) < 0)
		return -1;
	for (size_t i = 0; i < j->n; i++) {
		if (inv->procs[i]->zombie)
			continue;	/* no image: it only has an exit status */
		if (load_process(j, &j->procs[i], inv->procs[i]) < 0)
			return -1;
		if (files_max_fd(j->procs[i].img) + 1 > j->keep_at)
			j->keep_at = files_max_fd(j->procs[i].img) + 1;
	}
	/* whether this machine can thaw it: every reason, before anything */
	return thaw_check(inv, j->procs, j->n, j->o, cpu_here) < 0 ? 1 : 0;
}

/* Unmaps what exec set up, except the kernel's areas and the scratch page. */
static int clear_exec_layout(struct restore_ctx *r, const struct proc_maps *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct proc_vma *v = &m->v[i];
		long ret;

		if (v->path && (!strcmp(v->path, "[vdso]") || !strcmp(v->path, "[vvar]") ||
				!strcmp(v->path, "[vvar_vclock]") || !strcmp(v->path, "[vsyscall]")))
			continue;
		ret = INJECT(&r->in, SYS_munmap, v->start, v->end - v->start);
		if (ret < 0) {
			pr_err("cannot unmap %#lx-%#lx in the new process: %s", (unsigned long)v->start,
			       (unsigned long)v->end, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

#define ERESTART_RESTARTBLOCK 516

/* The registers the job resumes with. A syscall interrupted by the dump
 * restarts as the kernel would restart it. A relative sleep keeps its
 * restart state in the old kernel; it goes on for the time it had left,
 * which the kernel wrote to the caller's remaining-time buffer, or, when the
 * caller gave none (usleep), for its whole duration again: a little longer
 * than asked, never shorter, since callers such as usleep do not retry; so
 * does a poll() with a timeout. */
static void final_regs(const Thread *t, struct user_regs_struct *regs)
{
	memcpy(regs, t->regs.data, sizeof(*regs));
	if ((long)regs->orig_rax >= 0 && (long)regs->rax == -ERESTART_RESTARTBLOCK) {
		if (regs->orig_rax == SYS_nanosleep) {
			if (regs->rsi)
				regs->rdi = regs->rsi;
		} else if (regs->orig_rax == SYS_clock_nanosleep && !(regs->rsi & 1 /* TIMER_ABSTIME */)) {
			if (regs->r10)
				regs->rdx = regs->r10;
		} else if (regs->orig_rax == SYS_poll) {
			/* (its timeout, rdx, whole again: poll loops such as
			 * script's take EINTR for an error) */
		} else {
			/* poll, futex with a timeout...: EINTR, which callers retry */
			regs->rax = -EINTR;
			regs->orig_rax = -1;
			return;
		}
		regs->rax = regs->orig_rax;
		regs->rip -= 2;
		regs->orig_rax = -1;
		return;
	}
	regs_apply_restart(regs);
}

/* A thread of the job, made by the main thread with the dumped tid. */
static int create_thread(struct restore_ctx *r, size_t i)
{
	return task_clone(r, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			  CLONE_SYSVSEM, r->img->threads[i]->tid, "thread", &r->thr_in[i]);
}

static struct inject *thread_in(struct restore_ctx *r, size_t i)
{
	return i ? &r->thr_in[i] : &r->in;
}

/* Registers, FPU/vector state and signal mask: what a thread resumes with. */
static int finish_thread(struct restore_ctx *r, size_t i)
{
	const Thread *t = r->img->threads[i];
	pid_t tid = thread_in(r, i)->tid;
	struct user_regs_struct regs;
	uint64_t mask = t->sigmask;

	final_regs(t, &regs);
	if (ptrace_set_regs(tid, &regs) < 0 ||
	    cpu_xstate_restore(tid, t, r->inv, r->cpu, r->o->ignore_cpu_features) < 0)
		return -1;
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask) < 0) {
		pr_perror("cannot restore the signal mask of thread %d", t->tid);
		return -1;
	}
	return 0;
}

/* A process started by exec of its program: what exec set up goes (but
 * for the kernel's areas, moved back where the job had them), a scratch
 * area comes, the CPU is asked. */
static int exec_prepare(struct restore_ctx *r)
{
	struct user_regs_struct exec_regs;
	struct proc_maps m = { 0 };
	uint64_t all = ~0ULL, ip;
	int ret = -1;

	if (ptrace_get_regs(r->job, &exec_regs) < 0)
		return -1;
	/* New threads inherit this: nothing is delivered while we work. */
	if (ptrace(PTRACE_SETSIGMASK, r->job, sizeof(all), &all) < 0) {
		pr_perror("cannot block signals in the new process");
		return -1;
	}
	if (proc_parse_maps(r->job, false, &m) < 0 || inject_find_syscall(r->job, &m, &ip) < 0)
		goto out;
	inject_init(&r->in, r->job, ip, &exec_regs);
	if (scratch_setup(r, &m) < 0 || cpu_restore_check(r) < 0 || clear_exec_layout(r, &m) < 0 ||
	    vdso_restore(r) < 0)
		goto out;
	ret = 0;
out:
	proc_maps_free(&m);
	return ret;
}

/* A process forked from its parent (cow.c) has the parent's memory,
 * scratch area, kernel areas and blocked signals, on the same CPU; what it
 * inherited of the rest is undone. */
static int fork_prepare(struct restore_ctx *r)
{
	r->cpu = xmalloc(sizeof(*r->cpu));
	*r->cpu = *r->parent->cpu;
	return cow_forget_parent(r);
}

/* Rebuilds the process: memory, then the rest. */
static int restore_task(struct restore_ctx *r)
{
	int64_t t0 = now_ns();

	if ((r->parent ? fork_prepare(r) : exec_prepare(r)) < 0)
		return -1;
	if (mem_restore_layout(r) < 0 || (r->parent && cow_restore_layout(r) < 0) ||
	    mem_restore_pages(r) < 0 || mm_restore(r) < 0 || mem_restore_protections(r) < 0)
		return -1;
	r->stats->mem_restore_ns += now_ns() - t0;
	t0 = now_ns();
	crash_point("restore-memory");
	if (task_restore(r) < 0 || signals_restore(r) < 0 || files_finish(r) < 0 ||
	    epoll_restore(r) < 0 || locks_restore(r) < 0)
		return -1;
	r->thr_in = xcalloc(r->img->n_threads, sizeof(struct inject));
	for (size_t i = 1; i < r->img->n_threads; i++)
		if (create_thread(r, i) < 0)
			return -1;
	if (ptimers_restore(r) < 0)
		return -1;
	for (size_t i = 0; i < r->img->n_threads; i++) {
		const Thread *ti = r->img->threads[i];
		if (thread_task_restore(r, thread_in(r, i), ti) < 0 ||
		    thread_signals_restore(r, thread_in(r, i), ti) < 0 ||
		    thread_pending_restore(r, thread_in(r, i), ti) < 0)
			return -1;
	}
	if (pending_restore(r) < 0)
		return -1;
	r->stats->rtask_ns += now_ns() - t0;
	return 0;
}

/* The last steps, once the whole tree exists: the restore socket and the
 * scratch area go, every thread gets its registers and mask. */
static int finish_process(struct restore_job *j, struct restore_ctx *r)
{
	INJECT(&r->in, SYS_close, j->keep_at);
	INJECT(&r->in, SYS_munmap, r->in.scratch, r->in.scratch_size);
	if (task_finish(r) < 0)
		return -1;
	for (size_t i = 0; i < r->img->n_threads; i++)
		if (finish_thread(r, i) < 0)
			return -1;
	return 0;
}

/* A child process C of P: P forks it (injected, with C's pid), C drops
 * what it inherited, receives its own fds, enters its directory and
 * execs its own program; then it is rebuilt like the root. */
static int fork_child(struct restore_job *j, struct restore_ctx *p, struct restore_ctx *c)
{
	const char *comm = c->img->threads[0]->comm ? c->img->threads[0]->comm : "job";
	uint64_t path, argv0, argv[2], env[1] = { 0 }, argv_at, env_at;
	long ret;

	if (task_clone(p, SIGCHLD, c->img->pid, "child", &c->in) < 0)
		return -1;
	c->job = c->img->pid;
	if (files_receive(c, j->sock[0], j->keep_at) < 0 || files_chdir(c, true) < 0)
		return -1;
	/* its parent's memory is what it shared: no exec (cow.c) */
	if (c->img->has_cow_parent) {
		c->parent = p;
		return 0;
	}
	path = scratch_put(c, 2048, c->img->exe->path, strlen(c->img->exe->path) + 1);
	argv0 = scratch_put(c, 2048 + 4096 + 64, comm, strlen(comm) + 1);
	argv[0] = argv0;
	argv[1] = 0;
	argv_at = scratch_put(c, 2048 + 4096, argv, sizeof(argv));
	env_at = scratch_put(c, 2048 + 4096 + 32, env, sizeof(env));
	ret = path && argv0 && argv_at && env_at ? INJECT(&c->in, SYS_execve, path, argv_at, env_at)
						  : -EFAULT;
	if (ret < 0) {
		pr_err("cannot start the program %s of process %d again: %s", c->img->exe->path,
		       c->img->pid, strerror(-ret));
		return -1;
	}
	return 0;
}

/* A child C that shares P's fd table (cloned with CLONE_FILES and not
 * exec'd since, which would have unshared it): cloned so, and not exec'd
 * (its program is P's); its memory is rebuilt like any other's. */
static int share_child(struct restore_ctx *p, struct restore_ctx *c)
{
	const Thread *t = p->img->threads[0];
	long ret = 0;

	if (c->img->files_from != p->img->pid || strcmp(c->img->exe->path, p->img->exe->path)) {
		pr_err("damaged image: process %d shares the fd table of process %d, not of its parent",
		       c->img->pid, c->img->files_from);
		return -1;
	}

	if (task_clone(p, SIGCHLD | CLONE_FILES, c->img->pid, "child", &c->in) < 0)
		return -1;
	c->job = c->img->pid;
	/* a clone keeps its parent's rseq area, which is about to be unmapped
	 * (exec would have dropped it) */
	if (t->has_rseq_ptr && t->rseq_ptr)
		ret = INJECT(&c->in, SYS_rseq, t->rseq_ptr, t->rseq_len, 1 /* RSEQ_FLAG_UNREGISTER */,
			     t->rseq_sig);
	if (ret < 0) {
		pr_err("cannot drop the rseq area process %d had from its parent: %s", c->img->pid,
		       strerror(-ret));
		return -1;
	}
	files_shared_table(c);
	return files_chdir(c, true);
}

static void report(int fd, int kind, int value, const struct ckpt_stats *stats)
{
	struct status_msg msg = { kind, value, *stats };

	if (write(fd, &msg, sizeof(msg)) != sizeof(msg))
		(void)0;	/* the restoring side is gone (detached): nobody to tell */
}

/* A top process of the job, between fork and exec: trace me, fds, cwd,
 * exec its program. */
static void job_child(struct restore_job *j, struct restore_ctx *r)
{
	char *argv[] = { r->img->threads[0]->comm ? r->img->threads[0]->comm : (char *)"job", NULL };
	char *envp[] = { NULL };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0) {
		pr_perror("PTRACE_TRACEME in the new process");
		_exit(127);
	}
	/* A detached job is nobody's foreground job: a process group of its
	 * own keeps it out of the restoring command's, which is orphaned (and
	 * its stopped members sent SIGHUP) when that command and its caller
	 * are gone. In the foreground it stays in ours: ^C and ^Z reach it. */
	if (j->o->detached && !j->plan[r - j->procs].setsid && setpgid(0, j->group) < 0) {
		pr_perror("cannot give the detached job a process group");
		_exit(127);
	}
	/* While it still has every capability in the user namespace; its
	 * children inherit the filter. Without it, owners show as 65534. */
	if (j->owners_ctl[1] >= 0 && owners_filter_install(j->owners_ctl[1]) < 0)
		pr_warn("the thawed job sees the files of other users as owned by uid 65534");
	/* (first: files_install closes what is not the job's) */
	if (files_chdir(r, false) < 0 || files_install(r, j->sock[1], j->keep_at) < 0)
		_exit(127);
	execve(r->img->exe->path, argv, envp);
	pr_perror("cannot start the job's program %s", r->img->exe->path);
	_exit(127);
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A child that had exited and that its parent had not collected: forked
 * from the parent, it is held until it is in its group (zombie_exit). */
static int make_zombie(struct restore_ctx *p, struct restore_ctx *z, const ProcEntry *pe)
{
	if (task_clone(p, SIGCHLD, pe->pid, "exited child", &z->in) < 0)
		return -1;
	z->job = pe->pid;
	return 0;
}

/* The held child Z exits again the same way, and waits as a zombie for
 * the parent to collect it. (The parent may get one more SIGCHLD.) */
static int zombie_exit(struct restore_ctx *z, const ProcEntry *pe)
{
	struct user_regs_struct regs;
	struct inject in = z->in;
	int st = pe->exit_status;

	regs = in.base;
	if (WIFSIGNALED(st)) {
		/* Killed by a signal: the default action of that signal, once
		 * it is let go (SIGKILL has no other). Not dumpable, it leaves
		 * no core file behind: a core it dumped when it died is not
		 * dumped twice (its status loses WCOREDUMP). */
		static const uint64_t dfl[4] = { 0 };
		uint64_t none = 0;
		int sig = WTERMSIG(st), status;
		/* (queued while blocked, as it inherited: delivered once let go) */
		if (remote_write(z->job, in.scratch, dfl, sizeof(dfl)) < 0 ||
		    (sig != SIGKILL && INJECT(&in, SYS_rt_sigaction, sig, in.scratch, 0, 8) < 0) ||
		    INJECT(&in, SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
		    (sig != SIGKILL && INJECT(&in, SYS_kill, pe->pid, sig) < 0) ||
		    ptrace(PTRACE_SETSIGMASK, z->job, sizeof(none), &none) < 0) {
			pr_err("cannot make child %d die of signal %d again", pe->pid, sig);
			return -1;
		}
		if (sig == SIGKILL) {
			/* It dies at once, still traced: its tracer collects that,
			 * and it is left a zombie to its parent. */
			if (kill(z->job, SIGKILL) < 0 || waitpid(z->job, &status, __WALL) < 0) {
				pr_perror("cannot make child %d die of SIGKILL again", pe->pid);
				return -1;
			}
			return 0;
		}
	} else {
		regs.rax = SYS_exit_group;
		regs.orig_rax = -1;
		regs.rdi = WEXITSTATUS(st);
		regs.rip = in.syscall_ip;
		if (ptrace_set_regs(z->job, &regs) < 0)
			return -1;
	}
	if (ptrace(PTRACE_DETACH, z->job, 0, 0) < 0) {
		pr_perror("cannot let the exited child %d go", pe->pid);
		return -1;
	}
	return 0;
}

/* A top process of the job (one with no parent in it): a child of init,
 * exec'd under ptrace with its own fds. */
static int start_top(struct restore_job *j, struct restore_ctx *r)
{
	int status;

	r->job = clone_with_pid(r->img->pid);
	if (r->job < 0)
		return -1;
	if (r->job == 0)
		job_child(j, r);
	if (!j->group && !j->plan[r - j->procs].setsid)
		j->group = r->job;	/* the first top process leads the group */
	if (waitpid(r->job, &status, __WALL) < 0 || !WIFSTOPPED(status)) {
		pr_err("the program %s of process %d could not be started again",
		       r->img->exe->path, r->img->pid);
		return -1;
	}
	if (ptrace(PTRACE_SETOPTIONS, r->job, 0,
		   PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE |
		   PTRACE_O_TRACEFORK | PTRACE_O_TRACEEXEC) < 0) {
		pr_perror("cannot trace the new process %d", r->img->pid);
		return -1;
	}
	return 0;
}

/* Process I (C), a child of P: forked by P, or, reparented to P when the
 * process that forked it exited, by a helper forked in its session
 * (pgrp.c), which then goes. */
static int make_child(struct restore_job *j, size_t i, struct restore_ctx *p,
		      struct restore_ctx *c)
{
	const ProcEntry *pe = j->inv->procs[i];
	struct restore_ctx h;
	int ret;

	if (!j->plan[i].helper)
		return pe->zombie ? make_zombie(p, c, pe)
		       : c->img->has_files_from ? share_child(p, c) : fork_child(j, p, c);
	if (c->img && (c->img->has_files_from || c->img->has_cow_parent)) {
		pr_err("damaged image: process %d, reparented to process %d, shares its %s", pe->pid,
		       pe->ppid, c->img->has_files_from ? "fd table" : "memory");
		return -1;
	}
	if (pgrp_helper_start(j->procs, j->plan, i, &h) < 0)
		return -1;
	ret = pe->zombie ? make_zombie(&h, c, pe) : fork_child(j, &h, c);
	/* (before its own state: a parent-death signal would fire now) */
	if (ret < 0 || pgrp_helper_end(j->procs, j->plan, i, &h) < 0)
		return -1;
	return 0;
}

/* Rebuilds every process: each top one as a child of init, the others
 * forked from their already rebuilt parent; then all are finished and let
 * go. */
static int restore_tree(struct restore_job *j)
{
	int64_t t;

	for (size_t i = 0; i < j->n; i++) {
		struct restore_ctx *c = &j->procs[i];
		t = now_ns();
		if (!j->inv->procs[i]->ppid) {
			if (start_top(j, c) < 0)
				return -1;
		} else {
			struct restore_ctx *p = NULL;
			for (size_t k = 0; k < i; k++)
				if (j->procs[k].img && j->procs[k].img->pid == j->inv->procs[i]->ppid)
					p = &j->procs[k];
			if (!p)
				return -1;
			if (j->inv->procs[i]->zombie) {
				if (make_child(j, i, p, c) < 0 || pgrp_made(j->procs, j->plan, i) < 0)
					return -1;
				continue;
			}
			if (make_child(j, i, p, c) < 0)
				return -1;
			/* (a clone sharing its parent's fds is no exec either) */
			if (c->img->has_files_from && c->img->has_cow_parent)
				c->parent = p;
		}
		j->stats->spawn_ns += now_ns() - t;
		/* its session (once its own program runs: injection needs it)
		 * before it forks its children into it */
		if (restore_task(c) < 0)
			return -1;
		t = now_ns();
		if (pgrp_made(j->procs, j->plan, i) < 0 || epoll_share(j->procs, j->n, i) < 0)
			return -1;
		j->stats->rtask_ns += now_ns() - t;
	}
	t = now_ns();
	/* every child forked: the parents get their own pages back */
	for (size_t i = 0; i < j->n; i++)
		if (j->procs[i].img && j->procs[i].img->n_base_pages &&
		    cow_finish_base(&j->procs[i]) < 0)
			return -1;
	/* every process exists: the fds that name them; every process has
	 * mapped the memfds: their last seals */
	if (procfds_restore(j->procs, j->n) < 0 || shmem_finish(&j->procs[0]) < 0 ||
	    pgrp_make_groups(j->procs, j->plan, j->n) < 0)
		return -1;
	/* (once the groups they may name exist) */
	if (fowns_restore(j->procs, j->n) < 0)
		return -1;
	for (size_t i = 0; i < j->n; i++)
		if (j->inv->procs[i]->zombie && zombie_exit(&j->procs[i], j->inv->procs[i]) < 0)
			return -1;
	crash_point("restore-built");
	for (size_t i = 0; i < j->n; i++)
		if (j->procs[i].img && finish_process(j, &j->procs[i]) < 0)
			return -1;
	j->stats->finish_ns += now_ns() - t;
	return 0;
}

/* The signal a process frozen while stopped is stopped with again: the one
 * that stopped it (a shell tells "Stopped (tty input)" from "Stopped" by
 * it), when it stops it as it did: no handler of the job's own, not
 * blocked. Else SIGSTOP. */
static int stop_signal(const Process *img, const ProcEntry *pe)
{
	int sig = pe->has_stop_signo ? pe->stop_signo : SIGSTOP;

	if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
		return SIGSTOP;
	if (img->threads[0]->sigmask & (1ULL << (sig - 1)))
		return SIGSTOP;
	for (size_t i = 0; i < img->n_sigactions; i++)
		if ((int)img->sigactions[i]->signo == sig &&
		    img->sigactions[i]->handler != (uint64_t)(uintptr_t)SIG_DFL)
			return SIGSTOP;
	return sig;
}

/* The kernel drops SIGTSTP, SIGTTIN and SIGTTOU sent to a process group
 * with no parent outside it in the session (orphaned): such a process
 * would run on. It is stopped with SIGSTOP then. */
static void check_stopped(pid_t pid, int sig)
{
	struct proc_stat st;

	for (int i = 0; i < 200; i++) {
		if (proc_stat_quiet(pid, &st) < 0 || st.state == 'T')
			return;
		usleep(1000);
	}
	pr_warn("process %d did not stop again on signal %d (its process group is orphaned "
		"now): stopped with SIGSTOP instead", pid, sig);
	kill(pid, SIGSTOP);
}

/* The point of no return: the rebuilt job is let go. */
static int release_job(struct restore_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		struct restore_ctx *r = &j->procs[i];
		if (!r->img)
			continue;
		/* A job frozen while stopped (^Z) comes back stopped, unless asked. */
		if (j->o->leave_stopped)
			kill(r->job, SIGSTOP);
		else if (j->inv->procs[i]->stopped && !j->o->resume_stopped)
			kill(r->job, stop_signal(r->img, j->inv->procs[i]));
		for (size_t t = r->img->n_threads; t-- > 0;)
			if (ptrace(PTRACE_DETACH, thread_in(r, t)->tid, 0, 0) < 0) {
				pr_perror("cannot let thread %d of the restored job go",
					  r->img->threads[t]->tid);
				return -1;
			}
		/* Continued, it hears it as after `fg`: programs that redraw or
		 * set their terminal up again in a SIGCONT handler do so. */
		if (j->inv->procs[i]->stopped && j->o->resume_stopped && !j->o->leave_stopped)
			kill(r->job, SIGCONT);
	}
	for (size_t i = 0; i < j->n; i++) {
		int sig = j->procs[i].img ? stop_signal(j->procs[i].img, j->inv->procs[i]) : SIGSTOP;
		if (sig != SIGSTOP && !j->o->leave_stopped && j->inv->procs[i]->stopped &&
		    !j->o->resume_stopped)
			check_stopped(j->procs[i].job, sig);
	}
	return 0;
}

/* What init's waiting needs: the job's status goes to the restoring side. */
struct init_wait {
	struct restore_job *j;
	int status_fd;
	pid_t status_pid;
	int job_status;
};

/* Job control: the job's stops and continues are told to the restoring
 * process, which stops and continues with it, so that the shell that
 * waits for it sees what the job does. Collects what has changed; 1 once
 * no child is left. */
static int wait_children(void *arg)
{
	struct init_wait *w = arg;
	int status;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			return 1;
		if (pid == 0)
			return 0;
		if (pid != w->status_pid)
			continue;
		if (WIFSTOPPED(status))
			report(w->status_fd, MSG_STOPPED, WSTOPSIG(status), w->j->stats);
		else if (WIFCONTINUED(status))
			report(w->status_fd, MSG_CONTINUED, 0, w->j->stats);
		else
			w->job_status = status;
	}
}

/* PID 1 of the job's pid namespace. Never returns. */
static void restore_init(struct restore_job *j, int status_fd)
{
	pid_t status_pid = j->inv->has_status_pid ? j->inv->status_pid : j->inv->root_pid;
	int status;

	log_set_prefix("restore");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	if (ns_mount_proc() < 0 || pty_table_build(&j->ptys, j->inv) < 0 ||
	    socks_prepare(&j->socks, j->procs, j->n) < 0)
		goto fail;
	int64_t t = now_ns();
	for (size_t i = 0; i < j->n; i++)
		if (j->procs[i].img && (files_prepare(&j->procs[i], j->procs, i) < 0 ||
					passedfd_prepare(&j->procs[i]) < 0))
			goto fail;
	if (pty_table_finish(&j->ptys) < 0 || socks_finish(&j->socks, &j->dir) < 0)
		goto fail;
	for (size_t i = 0; i < j->n; i++)
		if (j->procs[i].img)
			passedfd_close(&j->procs[i]);	/* (sent with their messages) */
	j->stats->rfiles_ns = now_ns() - t;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, j->sock) < 0) {
		pr_perror("socketpair");
		goto fail;
	}
	if (j->owners_server >= 0 &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, j->owners_ctl) < 0) {
		pr_perror("socketpair");
		goto fail;
	}
	for (size_t i = 0; i < j->n; i++) {
		j->procs[i].sock = j->sock[0];
		j->procs[i].keep_at = j->keep_at;
	}
	if (restore_tree(j) < 0)
		goto fail_kill;
	t = now_ns();
	for (size_t i = 0; i < j->n; i++)
		for (size_t k = 0; j->procs[i].img && k < j->procs[i].img->n_fds; k++)
			close(j->procs[i].fd_src[k]);
	close(j->sock[0]);
	close(j->sock[1]);
	if (j->owners_ctl[1] >= 0)
		close(j->owners_ctl[1]);
	pipe_table_close(&j->pipes);
	sock_table_close(&j->socks);
	shm_table_close(&j->shm);
	pty_table_close(&j->ptys);
	/* The restoring side may leave as soon as it hears (restore -d): we
	 * must outlive it from now on, as the job's reaper. Holding its
	 * terminal or pipes would keep them open for nothing. From here on,
	 * the job runs whatever happens to the restoring side: the caller
	 * marks its images used up first (a job store deletes them), so that
	 * a crash never leaves the job both running and still frozen. */
	prctl(PR_SET_PDEATHSIG, 0);
	crash_point("restore-run");
	if (j->o->releasing && j->o->releasing(j->o->releasing_arg) < 0)
		goto fail_kill;
	if (release_job(j) < 0)
		goto fail_kill;
	j->stats->finish_ns += now_ns() - t;
	report(status_fd, MSG_READY, j->procs[0].job, j->stats);
	for (int fd = 0; fd < 1024; fd++)
		if (fd != status_fd && fd != j->owners_ctl[0] && fd != j->owners_server)
			close(fd);
	log_set_fd(-1);
	struct init_wait w = { .j = j, .status_fd = status_fd, .status_pid = status_pid };
	owners_serve(j->owners_ctl[0], j->owners_server, wait_children, &w);
	report(status_fd, MSG_EXITED, w.job_status, j->stats);
	_exit(exit_code(w.job_status));
fail_kill:
	for (size_t i = j->n; i-- > 0;)
		if (j->procs[i].job > 0)
			kill(j->procs[i].job, SIGKILL);
	while (waitpid(-1, &status, __WALL) > 0)
		;
fail:
	report(status_fd, MSG_FAILED, 0, j->stats);
	_exit(1);
}

/* The first child of PID, as this process sees it; -1 if none. */
static pid_t child_of(pid_t parent)
{
	char path[96], *s;
	int pid = -1;

	if (parent <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", parent, parent);
	s = read_file(path, NULL);
	if (s) {
		s[strcspn(s, " \n")] = 0;
		if (parse_int(s, &pid) < 0)
			pid = -1;
	}
	free(s);
	return pid;
}

/* The restoring process's child: makes the namespaces and forks their init,
 * then waits for it. Never returns. */
static void run_starter(struct restore_job *j, int pipefd[2])
{
	struct ckpt_stats none = { 0 };
	int status;
	pid_t init;

	close(pipefd[0]);
	/* Until the job runs, a dead restorer takes everything down with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ns_enter_user() < 0 || ns_unshare_job(j->inv->monotonic_ns, j->inv->boottime_ns) < 0)
		goto fail;
	init = fork();
	if (init < 0) {
		pr_perror("fork");
		goto fail;
	}
	if (init == 0)
		restore_init(j, pipefd[1]);
	/* We only wait from now on, possibly for the job's whole life: holding
	 * the caller's terminal or pipes would keep them open for nothing. */
	for (int fd = 0; fd < 1024; fd++)
		close(fd);
	/* In the job's process group, ^C and ^\ are the job's business. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(init, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	_exit(exit_code(status));
fail:
	report(pipefd[1], MSG_FAILED, 0, &none);
	_exit(1);
}

static int write_pidfile(const char *path, pid_t pid)
{
	char buf[32];
	int fd, n = snprintf(buf, sizeof(buf), "%d\n", pid);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n) {
		pr_perror("cannot write pid file %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The job stopped itself (SIGTSTP from vim's ^Z, SIGTTIN when it reads the
 * terminal in the background): we stop with the same signal, so that our
 * shell sees a stopped job and its `fg` or `bg` continues us both. When
 * the stop came from the terminal (^Z) we were stopped with it, and the
 * job is already running again by the time we hear of it. */
static void follow_stop(pid_t job, int sig)
{
	struct proc_stat st;

	if (proc_stat_quiet(job, &st) == 0 && (st.state == 'T' || st.state == 't'))
		raise(sig);
}

static int read_msg(int fd, struct status_msg *m)
{
	ssize_t n;

	do
		n = read(fd, m, sizeof(*m));
	while (n < 0 && errno == EINTR);
	return n == sizeof(*m) ? 0 : -1;
}

static void job_free(struct restore_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		struct restore_ctx *r = &j->procs[i];
		free(r->fd_src);
		free(r->epoll_given);
		free(r->has_pages);
		free(r->thr_in);
		free(r->cpu);
		pf_reader_close(r->pages);
		if (r->img)
			protobuf_c_message_free_unpacked(&r->img->base, NULL);
	}
	free(j->procs);
	free(j->plan);
	if (j->inv)
		protobuf_c_message_free_unpacked(&j->inv->base, NULL);
	image_dir_close(&j->dir);
}

/* Init holds every fd of every process of the job until all are built:
 * a job of many processes needs more than the usual soft limit of 1024.
 * (The job's processes get their own limits back, task_restore.) */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			pr_debug("cannot raise the limit of open files: %s", strerror(errno));
	}
}

/* ^Z pressed while the job was being built, and held since (SIGTSTP
 * blocked): were it let through, the thaw would stop and the job, once
 * built, run on behind a shell that calls it stopped. It is given to the
 * job instead, once the job runs in our process group (the shell's
 * foreground job), as if pressed that moment: the job stops, and so do we
 * (follow_stop does not come into it: we stop on the same signal). Where
 * the job is not ours to stop (a failed thaw, a detached job) it is
 * dropped. Either way SIGTSTP acts on us again from here on. */
static void tstp_release(const sigset_t *old, pid_t job)
{
	sigset_t pending, tstp;

	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	if (sigpending(&pending) == 0 && sigismember(&pending, SIGTSTP)) {
		if (job > 0 && getpgid(job) == getpgrp()) {
			pr_debug("^Z during the thaw: the job is stopped now");
			if (kill(-getpgrp(), SIGTSTP) < 0)
				pr_warn("cannot stop the thawed job as ^Z asked: %s", strerror(errno));
		} else {
			struct timespec none = { 0 };
			sigtimedwait(&tstp, NULL, &none);
		}
	}
	sigprocmask(SIG_SETMASK, old, NULL);
}

int ckpt_restore(const struct restore_opts *o, int *wstatus)
{
	struct ckpt_stats dummy = { 0 };
	struct restore_job j = { .o = o, .stats = o->stats ? o->stats : &dummy, .sock = { -1, -1 },
				 .owners_server = -1, .owners_ctl = { -1, -1 } };
	struct status_msg msg;
	int pipefd[2] = { -1, -1 }, status, ret = -1;
	int64_t t0 = now_ns();
	pid_t starter;
	sigset_t tstp, old_mask;
	bool held = true;

	*wstatus = 0;
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	sigprocmask(SIG_BLOCK, &tstp, &old_mask);	/* tstp_release */
	raise_fd_limit();
	if (image_dir_open(o->dir, &j.dir) < 0)
		return -1;
	/* (the CPU is asked in the job's new processes: restore_task) */
	if (load_job(&j, false) != 0)
		goto out;
	int64_t loaded = now_ns() - t0;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		pr_perror("pipe");
		goto out;
	}
	/* Outside the namespaces, for the owners the job sees (owners.c);
	 * JOBFREEZE_KERNEL_IDS=1 leaves them as the kernel shows them. */
	if (!getenv("JOBFREEZE_KERNEL_IDS") && owners_server_start(&j.owners_server) < 0)
		pr_warn("the thawed job sees the files of other users as owned by uid 65534");
	/* A starter process enters the new namespaces, so that this process
	 * stays in the caller's (its terminal, its shell, sanitizers' ptrace). */
	starter = fork();
	if (starter < 0) {
		pr_perror("fork");
		goto out;
	}
	if (starter == 0)
		run_starter(&j, pipefd);
	close(pipefd[1]);
	pipefd[1] = -1;
	if (read_msg(pipefd[0], &msg) < 0 || msg.kind != MSG_READY) {
		waitpid(starter, &status, 0);
		pr_err("the job was not restored; the images in %s are left as they were", o->dir);
		goto out;
	}
	/* (init's figures; ours come after) */
	*j.stats = msg.stats;
	j.stats->load_ns = loaded;
	j.stats->nr_procs = j.n;
	j.stats->restore_ns = now_ns() - t0;
	pid_t job = child_of(child_of(starter));
	pr_info("restored process %d (pid %d here)", j.inv->root_pid, job);
	if (o->pidfile && (job < 0 || write_pidfile(o->pidfile, job) < 0)) {
		pr_err("the job runs, but its pid could not be written to %s", o->pidfile);
		ret = 0;
		goto out;
	}
	if (o->ready)
		o->ready(o->ready_arg, job);
	if (o->detached) {
		ret = 0;
		goto out;
	}
	/* The job gets ^C and ^Z from the terminal itself; we only wait. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	tstp_release(&old_mask, job);
	held = false;
	for (;;) {
		if (read_msg(pipefd[0], &msg) < 0) {
			pr_err("lost track of the restored job");
			goto out;
		}
		if (msg.kind == MSG_EXITED)
			break;
		if (msg.kind == MSG_STOPPED)
			follow_stop(job, msg.value);
	}
	*wstatus = msg.value;
	while (waitpid(starter, &status, 0) < 0 && errno == EINTR)
		;
	ret = 0;
out:
	if (held)
		tstp_release(&old_mask, -1);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (j.owners_server >= 0)
		close(j.owners_server);
	job_free(&j);
	return ret;
}

int ckpt_check(const struct restore_opts *o)
{
	struct ckpt_stats dummy = { 0 };
	struct restore_job j = { .o = o, .stats = &dummy };
	int ret = -1;

	if (image_dir_open(o->dir, &j.dir) < 0)
		return -1;
	ret = load_job(&j, true);
	job_free(&j);
	return ret;
}
