/* dump.c: the order of a dump. Validate, seize, read everything, write and
 * sync the images, and only then kill the job; on any failure the job is
 * put back exactly as it was and the partial images are removed. */
#include <dirent.h>
#include <errno.h>
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
#include "ckpt/dump.h"
#include "ckpt/fileid.h"
#include "ckpt/log.h"
#include "ckpt/ptrace.h"
#include "ckpt/util.h"

#define SCRATCH_SIZE 65536

/* What this version cannot restore is refused before anything is touched. */
static int check_target(struct dump_ctx *c)
{
	pid_t pid = c->pid;
	char path[96];
	char *children;

	if (pid <= 0) {
		pr_err("%d is not a process id", pid);
		return -1;
	}
	if (pid == getpid()) {
		pr_err("jobfreeze cannot freeze itself");
		return -1;
	}
	if (proc_parse_status(pid, &c->status) < 0) {
		if (errno == ENOENT || errno == ESRCH)
			pr_err("process %d does not exist", pid);
		else
			pr_perror("cannot read the status of process %d", pid);
		return -1;
	}
	if (c->status.tgid != pid) {
		pr_err("%d is a thread of process %d: give the process id", pid, c->status.tgid);
		return -1;
	}
	if (c->status.kthread || pid == 1) {
		pr_err("process %d is %s: it cannot be frozen", pid,
		       pid == 1 ? "the system's init" : "a kernel thread");
		return -1;
	}
	if (c->status.uid[0] != getuid() || c->status.uid[1] != geteuid() ||
	    c->status.uid[2] != geteuid()) {
		pr_err("process %d belongs to uid %u, not to you (uid %u): you can only freeze "
		       "your own processes", pid, c->status.uid[1], geteuid());
		return -1;
	}
	if (c->status.state == 'Z') {
		pr_err("process %d has already exited (it is a zombie)", pid);
		return -1;
	}
	if (c->status.nspid == 1) {
		pr_err("process %d is the init of its pid namespace: it cannot be frozen", pid);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	children = read_file(path, NULL);
	if (children && children[0]) {
		children[strcspn(children, "\n")] = 0;
		pr_err("process %d has child processes (%s): process trees cannot be frozen yet",
		       pid, children);
		free(children);
		return -1;
	}
	free(children);
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
	c->img->exe = fileid_make(link, &st);
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
			if (ptrace_seize_stop(tid) < 0) {
				if (errno == ESRCH && tid != c->pid)
					continue;	/* the thread ended meanwhile */
				closedir(d);
				return -1;
			}
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
 * ppoll, pselect) with one harmless call, reads the real mask, and blocks
 * everything: no handler may run while we work inside the process. */
static int hold_signals(struct dump_ctx *c, size_t i)
{
	struct dump_thread *d = &c->thr[i];
	uint64_t all = ~0ULL;
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
	if (ptrace(PTRACE_SETSIGMASK, d->tid, sizeof(all), &all) < 0) {
		pr_perror("cannot block signals in task %d", d->tid);
		return -1;
	}
	d->mask_changed = true;
	return 0;
}

static int write_inventory(struct dump_ctx *c)
{
	Inventory inv = INVENTORY__INIT;
	ProcEntry pe = PROC_ENTRY__INIT;
	ProcEntry *pes[1] = { &pe };
	int32_t *tids = xcalloc(c->img->n_threads, sizeof(int32_t));
	struct utsname u;
	struct timespec rt;
	char *boot_id;
	int ret;

	if (uname(&u) < 0) {
		pr_perror("uname");
		return -1;
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
	if (job_clocks(c->pid, &inv.monotonic_ns, &inv.boottime_ns) < 0) {
		free(boot_id);
		return -1;
	}
	inv.root_pid = c->status.nspid;
	pe.pid = c->status.nspid;
	pe.ppid = 0;
	pe.pgid = c->stat.pgrp;
	pe.sid = c->stat.session;
	for (size_t i = 0; i < c->img->n_threads; i++)
		tids[i] = c->img->threads[i]->tid;
	pe.n_tids = c->img->n_threads;
	pe.tids = tids;
	pe.host_pid = c->pid;
	pe.stopped = c->stat.state == 'T';
	inv.n_procs = 1;
	inv.procs = pes;
	inv.xstate_size = c->img->threads[0]->xstate.len;
	inv.uid = geteuid();
	inv.gid = getegid();
	inv.pages_stored = c->stats->pages_written;
	ret = image_write_msg(&c->dir, "inventory.img", IMG_INVENTORY, &inv.base);
	free(tids);
	free(boot_id);
	return ret;
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

/* Kills the dumped job; it is still traced, so it cannot run meanwhile. */
static int finish_kill(struct dump_ctx *c)
{
	int status;

	if (kill(c->pid, SIGKILL) < 0) {
		pr_perror("cannot kill process %d after dumping it", c->pid);
		return -1;
	}
	/* We are their tracer: reap the exit notifications meant for us, the
	 * leader's last (it is not reported before the other threads). */
	for (size_t i = c->nr_thr; i-- > 0;)
		while (waitpid(c->thr[i].tid, &status, __WALL) < 0 && errno == EINTR)
			;
	c->nr_thr = 0;
	return 0;
}

static int do_dump(struct dump_ctx *c)
{
	uint64_t syscall_ip;
	int64_t t;
	long ret;

	t = now_ns();
	if (seize_threads(c) < 0)
		return -1;
	c->stats->seize_ns = now_ns() - t;
	t = now_ns();
	/* Checked again now that it cannot change under us. */
	if (proc_parse_status(c->pid, &c->status) < 0)
		return -1;
	if (proc_parse_stat(c->pid, &c->stat) < 0 || proc_parse_maps(c->pid, true, &c->maps) < 0)
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
	if (vdso_dump(c, &syscall_ip) < 0)
		return -1;
	for (size_t i = 0; i < c->nr_thr; i++)
		inject_init(thr_in(c, i), c->thr[i].tid, syscall_ip, &c->thr[i].regs);
	if (hold_signals(c, 0) < 0)
		return -1;
	ret = INJECT(&c->in, SYS_mmap, 0, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ret < 0) {
		pr_err("cannot get scratch memory in process %d: %s", c->pid, strerror(-ret));
		return -1;
	}
	c->in.scratch = ret;
	c->in.scratch_size = SCRATCH_SIZE;
	for (size_t i = 0; i < c->nr_thr; i++) {
		struct inject *in = thr_in(c, i);

		in->scratch = c->in.scratch;
		in->scratch_size = SCRATCH_SIZE;
		if ((i && hold_signals(c, i) < 0) ||
		    /* what the harmless call took off the queue goes back, blocked */
		    inject_requeue_held(in, c->status.nspid) < 0)
			return -1;
	}
	for (size_t i = 0; i < c->nr_thr; i++)
		if (thread_task_dump(thr_in(c, i), c->img->threads[i], c->pid) < 0 ||
		    thread_signals_dump(thr_in(c, i), c->img->threads[i]) < 0)
			return -1;
	if (itimers_disarm(c) < 0 || mem_dump_vmas(c) < 0 || mm_dump(c) < 0 || task_dump(c) < 0 ||
	    signals_dump(c) < 0 || dump_exe(c) < 0)
		return -1;
	c->stats->info_ns = now_ns() - t;
	t = now_ns();
	if (files_dump(c) < 0)
		return -1;
	c->stats->files_ns = now_ns() - t;
	t = now_ns();
	if (mem_dump_pages(c) < 0)
		return -1;
	c->stats->mem_ns = now_ns() - t;
	t = now_ns();
	char name[64];
	snprintf(name, sizeof(name), "proc-%d.img", c->img->pid);
	if (image_write_msg(&c->dir, name, IMG_PROCESS, &c->img->base) < 0)
		return -1;
	/* The inventory is written last: an image without it is incomplete. */
	if (write_inventory(c) < 0)
		return -1;
	c->stats->write_ns = now_ns() - t;
	t = now_ns();
	if (image_dir_sync(&c->dir) < 0)
		return -1;
	c->stats->sync_ns = now_ns() - t;
	return 0;
}

int ckpt_dump(const struct dump_opts *o)
{
	struct ckpt_stats dummy = { 0 };
	struct dump_ctx c = { .o = o, .pid = o->pid, .stats = o->stats ? o->stats : &dummy };
	int64_t t0;
	int ret = -1;

	c.dir.fd = -1;
	if (check_target(&c) < 0)
		return -1;
	if (image_dir_create(o->dir, &c.dir) < 0)
		return -1;
	t0 = now_ns();
	if (do_dump(&c) < 0) {
		release(&c, false);
		image_dir_discard(&c.dir);
		pr_err("process %d was not frozen and goes on running", c.pid);
		goto out;
	}
	if (o->leave_running || o->leave_stopped)
		release(&c, o->leave_stopped);
	else if (finish_kill(&c) < 0) {
		/* Never both frozen and running: the image goes, the job stays. */
		release(&c, false);
		image_dir_discard(&c.dir);
		goto out;
	}
	ret = 0;
out:
	c.stats->frozen_ns = now_ns() - t0;
	if (c.nr_thr)
		release(&c, false);
	proc_maps_free(&c.maps);
	free(c.thr);
	if (c.img)
		protobuf_c_message_free_unpacked(&c.img->base, NULL);
	image_dir_close(&c.dir);
	return ret;
}
