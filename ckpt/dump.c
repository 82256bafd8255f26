/* dump.c: the order of a dump. Validate, seize, read everything, write and
 * sync the images, and only then kill the job; on any failure the job is
 * put back exactly as it was and the partial images are removed. */
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
	if (c->status.threads != 1) {
		pr_err("process %d has %d threads: multi-threaded processes cannot be frozen yet",
		       pid, c->status.threads);
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

static Thread *new_thread(struct dump_ctx *c)
{
	Thread *t = xmalloc(sizeof(*t));
	void *xs;
	size_t xlen;

	thread__init(t);
	t->tid = c->status.nspid;
	t->regs.len = sizeof(c->regs);
	t->regs.data = xmalloc(sizeof(c->regs));
	memcpy(t->regs.data, &c->regs, sizeof(c->regs));
	if (ptrace_get_xstate(c->pid, &xs, &xlen) < 0) {
		free(t->regs.data);
		free(t);
		return NULL;
	}
	t->xstate.data = xs;
	t->xstate.len = xlen;
	return t;
}

static int write_inventory(struct dump_ctx *c)
{
	Inventory inv = INVENTORY__INIT;
	ProcEntry pe = PROC_ENTRY__INIT;
	ProcEntry *pes[1] = { &pe };
	int32_t tids[1] = { c->status.nspid };
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
	pe.n_tids = 1;
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
	free(boot_id);
	return ret;
}

/* Puts the task back as it was: timers, scratch memory, registers (with
 * an interrupted syscall set to restart), signal mask; then lets it go. */
static void release(struct dump_ctx *c, bool stop)
{
	struct user_regs_struct regs = c->regs;

	if (!c->seized)
		return;
	if (c->in.tid) {
		itimers_rearm(c);
		if (c->in.scratch) {
			inject_requeue_held(&c->in, c->status.nspid);
			INJECT(&c->in, SYS_munmap, c->in.scratch, c->in.scratch_size);
		}
	}
	regs_apply_restart(&regs);
	ptrace_set_regs(c->pid, &regs);
	if (c->mask_changed && ptrace(PTRACE_SETSIGMASK, c->pid, sizeof(c->sigmask), &c->sigmask) < 0)
		pr_perror("cannot restore the signal mask of process %d", c->pid);
	if (stop)
		kill(c->pid, SIGSTOP);
	if (ptrace(PTRACE_DETACH, c->pid, 0, 0) < 0)
		pr_perror("cannot let process %d go (PTRACE_DETACH)", c->pid);
	c->seized = false;
}

/* Kills the dumped job; it is still traced, so it cannot run meanwhile. */
static int finish_kill(struct dump_ctx *c)
{
	int status;

	if (kill(c->pid, SIGKILL) < 0) {
		pr_perror("cannot kill process %d after dumping it", c->pid);
		return -1;
	}
	/* We are its tracer: reap the exit notification meant for us. */
	while (waitpid(c->pid, &status, __WALL) < 0 && errno == EINTR)
		;
	c->seized = false;
	return 0;
}

static int do_dump(struct dump_ctx *c)
{
	uint64_t syscall_ip;
	uint64_t all = ~0ULL;
	int64_t t;
	long ret;

	t = now_ns();
	if (ptrace_seize_stop(c->pid) < 0)
		return -1;
	c->seized = true;
	c->stats->seize_ns = now_ns() - t;
	t = now_ns();
	/* Checked again now that it cannot change under us. */
	if (proc_parse_status(c->pid, &c->status) < 0 || c->status.threads != 1) {
		pr_err("process %d started a thread while being frozen: multi-threaded processes "
		       "cannot be frozen yet", c->pid);
		return -1;
	}
	if (proc_parse_stat(c->pid, &c->stat) < 0 || proc_parse_maps(c->pid, true, &c->maps) < 0)
		return -1;
	if (ptrace_get_regs(c->pid, &c->regs) < 0)
		return -1;
	c->img = xmalloc(sizeof(*c->img));
	process__init(c->img);
	c->img->pid = c->status.nspid;
	c->img->threads = xcalloc(1, sizeof(Thread *));
	c->img->threads[0] = new_thread(c);
	if (!c->img->threads[0])
		return -1;
	c->img->n_threads = 1;
	if (vdso_dump(c, &syscall_ip) < 0)
		return -1;
	inject_init(&c->in, c->pid, syscall_ip, &c->regs);
	/* Stopped inside sigsuspend, ppoll or pselect, the task runs under the
	 * call's temporary mask; the kernel puts the real one back as it leaves
	 * the stop. One harmless call lets it, before the mask is read. */
	ret = INJECT0(&c->in, SYS_getpid);
	if (ret < 0) {
		pr_err("cannot run a system call in process %d: %s", c->pid, strerror(-ret));
		return -1;
	}
	if (ptrace(PTRACE_GETSIGMASK, c->pid, sizeof(c->sigmask), &c->sigmask) < 0) {
		pr_perror("cannot read the signal mask of process %d", c->pid);
		return -1;
	}
	c->img->threads[0]->sigmask = c->sigmask;
	/* No handler may run while we work inside the process. */
	if (ptrace(PTRACE_SETSIGMASK, c->pid, sizeof(all), &all) < 0) {
		pr_perror("cannot block signals in process %d", c->pid);
		return -1;
	}
	c->mask_changed = true;
	ret = INJECT(&c->in, SYS_mmap, 0, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ret < 0) {
		pr_err("cannot get scratch memory in process %d: %s", c->pid, strerror(-ret));
		return -1;
	}
	c->in.scratch = ret;
	c->in.scratch_size = SCRATCH_SIZE;
	/* What the harmless call took off the queue goes back on it, blocked. */
	if (inject_requeue_held(&c->in, c->status.nspid) < 0)
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
	if (c.seized)
		release(&c, false);
	proc_maps_free(&c.maps);
	if (c.img)
		protobuf_c_message_free_unpacked(&c.img->base, NULL);
	image_dir_close(&c.dir);
	return ret;
}
