/* procfd.c: fds on processes: files of /proc (/proc/PID/stat, a /proc/PID
 * directory, /proc/self/maps...), namespace files (/proc/self/ns/net) and
 * pidfds. They name processes of the job by pid, which a thaw keeps, so
 * they are opened again, in init, once every process of the job exists,
 * and handed to their process: /proc/self/ns/X then names the thawed job's
 * own namespace. One on a process that had ended (a pidfd of a collected
 * child, /proc/PID of a dead one) is opened on a stand-in that init makes
 * for the moment, with that pid for a /proc file, and that then ends again
 * as the original did; all pidfds of one ended process share one
 * stand-in, as they shared one pidfs inode. Refused at dump: such an fd on
 * a process outside the job, a /proc of another pid namespace, a
 * namespace no process of the job is in. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/ns.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define PROC_SUPER_MAGIC 0x9fa0
#define NSFS_MAGIC 0x6e736673
#define PID_FS_MAGIC 0x50494446
#define OPEN_ONLY (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)
#define PIDFD_THREAD O_EXCL

/* Linux 6.13: what a pidfd knows of its process, its wait status once
 * collected (PIDFD_INFO_EXIT). */
struct pidfd_info {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info)
#define PIDFD_INFO_EXIT (1ULL << 3)

static unsigned long fs_type(pid_t pid, int fd)
{
	char path[64];
	struct statfs sf;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return statfs(path, &sf) == 0 ? (unsigned long)sf.f_type : 0;
}

/* "net:[4026531833]" */
static bool ns_link(const char *link)
{
	const char *b = strstr(link, ":[");

	return b && b > link && link[strlen(link) - 1] == ']' && strspn(link, "abcdefghijklmnopqrstuvwxyz_") ==
	       (size_t)(b - link);
}

static void dead_pidfd(struct dump_ctx *c, int fd, Fd *f)
{
	char path[64];
	struct stat st;
	struct pidfd_info pi = { .mask = PIDFD_INFO_EXIT };
	int h;

	f->has_proc_dead = f->has_dead_id = 1;
	f->proc_dead = 1;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, fd);
	if (stat(path, &st) == 0)
		f->dead_id = st.st_ino;
	h = grab_fd(c->pid, fd);
	if (h >= 0 && ioctl(h, PIDFD_GET_INFO, &pi) == 0 && (pi.mask & PIDFD_INFO_EXIT)) {
		f->has_dead_status = 1;
		f->dead_status = pi.exit_code;
	}
	if (h >= 0)
		close(h);
}

int procfd_dump(struct dump_ctx *c, int fd, Fd *f, const char *link, const char *info)
{
	const char *p;
	int pid;

	if (!strcmp(link, "anon_inode:[pidfd]") || (!strncmp(link, "pidfd:", 6) &&
						   fs_type(c->pid, fd) == PID_FS_MAGIC)) {
		f->kind = FD__KIND__PIDFD;
		if (!(p = strstr(info, "\nPid:")) || sscanf(p + 5, "%d", &pid) != 1) {
			pr_err("process %d: cannot tell which process its pidfd %d is on", c->pid, fd);
			return -1;
		}
		if (pid == 0) {
			pr_err("process %d: fd %d is a pidfd of a process in a pid namespace jobfreeze "
			       "does not see: it cannot be frozen", c->pid, fd);
			return -1;
		}
		f->has_proc_pid = 1;
		f->proc_pid = pid;	/* as we see it, until procfds_resolve */
		/* A pidfd of a thread (PIDFD_THREAD) says so by O_EXCL in its
		 * flags, which files.c drops as a flag only open(2) takes. */
		if ((p = strstr(info, "flags:")) && (strtoul(p + 6, NULL, 8) & PIDFD_THREAD))
			f->flags |= PIDFD_THREAD;
		if (pid < 0)
			dead_pidfd(c, fd, f);
		return 0;
	}
	if (ns_link(link) && fs_type(c->pid, fd) == NSFS_MAGIC) {
		f->kind = FD__KIND__NSFILE;
		return 0;
	}
	if (!strncmp(link, "/proc", 5) && (!link[5] || link[5] == '/') &&
	    fs_type(c->pid, fd) == PROC_SUPER_MAGIC) {
		f->kind = FD__KIND__PROC;
		return 0;
	}
	return 1;
}

/* ---- once every process is read ---- */

/* The job's pid or tid of what we see as HOST, or 0. */
static int job_id(struct dump_ctx *ctx, size_t n, pid_t host)
{
	for (size_t i = 0; i < n; i++) {
		if (ctx[i].pid == host)
			return ctx[i].status.nspid;
		for (size_t t = 0; ctx[i].img && t < ctx[i].nr_thr && t < ctx[i].img->n_threads; t++)
			if (ctx[i].thr[t].tid == host)
				return ctx[i].img->threads[t]->tid;
	}
	return 0;
}

/* Whether JOB (as the job sees it) is a pid or tid of the job. */
static bool in_job(struct dump_ctx *ctx, size_t n, int job)
{
	for (size_t i = 0; i < n; i++) {
		if (ctx[i].status.nspid == job)
			return true;
		for (size_t t = 0; ctx[i].img && t < ctx[i].img->n_threads; t++)
			if (ctx[i].img->threads[t]->tid == job)
				return true;
	}
	return false;
}

static int resolve_pidfd(struct dump_ctx *ctx, size_t n, struct dump_ctx *c, Fd *f)
{
	int job;

	if (f->proc_dead)
		return 0;
	job = job_id(ctx, n, f->proc_pid);
	if (!job) {
		pr_err("process %d: fd %d is a pidfd of process %d, which is not part of the job: "
		       "after a thaw it could not name it; freeze them together, or close it",
		       c->pid, f->fd, f->proc_pid);
		return -1;
	}
	f->proc_pid = job;
	return 0;
}

static int resolve_ns(struct dump_ctx *ctx, size_t n, struct dump_ctx *c, Fd *f)
{
	char path[128], type[32], name[48];
	struct stat st, o;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, f->fd);
	if (stat(path, &st) < 0 || sscanf(f->path, "%31[a-z_]:", type) != 1) {
		pr_perror("cannot look at the namespace fd %d of process %d", f->fd, c->pid);
		return -1;
	}
	for (int kind = 0; kind < 2; kind++) {
		snprintf(name, sizeof(name), kind ? "%s_for_children" : "%s", type);
		for (size_t i = 0; i < n; i++) {
			if (ctx[i].zombie)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/ns/%s", ctx[i].pid, name);
			if (stat(path, &o) == 0 && o.st_ino == st.st_ino && o.st_dev == st.st_dev) {
				pr_info("process %d: fd %d is the %s namespace of process %d: after the thaw, "
					"the thawed job's own", c->pid, f->fd, type, ctx[i].status.nspid);
				free(f->path);
				f->path = xstrdup(name);
				f->has_proc_pid = 1;
				f->proc_pid = ctx[i].status.nspid;
				return 0;
			}
		}
	}
	pr_err("process %d: fd %d is a namespace (%s) that no process of the job is in: jobfreeze "
	       "cannot make it again; close it before freezing", c->pid, f->fd, f->path);
	return -1;
}

static int resolve_proc(struct dump_ctx *ctx, size_t n, struct dump_ctx *c, Fd *f)
{
	char path[PATH_MAX + 64];
	struct stat st, jp, now;
	const char *rest = f->path + 5;
	int pid;
	char *end;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, f->fd);
	if (stat(path, &st) < 0) {
		pr_perror("cannot look at fd %d of process %d (%s)", f->fd, c->pid, f->path);
		return -1;
	}
	/* the pids in its path are those the job sees, in its own /proc */
	snprintf(path, sizeof(path), "/proc/%d/root/proc", c->pid);
	if (stat(path, &jp) < 0 || jp.st_dev != st.st_dev) {
		pr_err("process %d: fd %d is %s, of a /proc that is not the one the job has at /proc: "
		       "jobfreeze cannot open it again", c->pid, f->fd, f->path);
		return -1;
	}
	if (*rest == '/')
		rest++;
	pid = strtol(rest, &end, 10);
	if (end == rest || (*end && *end != '/') || pid <= 0)
		return 0;	/* not a process's: opened again as it is */
	f->has_proc_pid = 1;
	f->proc_pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/root%s", c->pid, f->path);
	bool same = stat(path, &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev;
	bool ours = in_job(ctx, n, pid);
	if (same && !ours) {
		pr_err("process %d: fd %d is %s, a file of process %d, which is not part of the job: "
		       "after a thaw it would name another process; freeze them together, or close it",
		       c->pid, f->fd, f->path, pid);
		return -1;
	}
	if (!same && ours) {
		pr_err("process %d: fd %d is %s, a file of a process %d that ended, whose pid is now "
		       "that of a process of the job: it cannot be made again", c->pid, f->fd, f->path,
		       pid);
		return -1;
	}
	if (!same) {
		f->has_proc_dead = 1;
		f->proc_dead = 1;
	}
	return 0;
}

int procfds_resolve(struct dump_ctx *ctx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
			Fd *f = ctx[i].img->fds[k];
			int r = 0;

			if (f->kind == FD__KIND__PIDFD)
				r = resolve_pidfd(ctx, n, &ctx[i], f);
			else if (f->kind == FD__KIND__NSFILE)
				r = resolve_ns(ctx, n, &ctx[i], f);
			else if (f->kind == FD__KIND__PROC)
				r = resolve_proc(ctx, n, &ctx[i], f);
			if (r < 0)
				return -1;
		}
	return 0;
}

/* ---- restore ---- */

static bool late(const Fd *f)
{
	return f->kind == FD__KIND__PIDFD || f->kind == FD__KIND__NSFILE ||
	       (f->kind == FD__KIND__PROC && f->proc_pid);
}

static int open_proc(const Fd *f)
{
	int fd = open(f->path, (f->flags & ~OPEN_ONLY) | O_CLOEXEC);

	if (fd < 0) {
		pr_perror("cannot open %s again as the job's fd %d", f->path, f->fd);
		return -1;
	}
	if (f->pos && !(f->flags & O_PATH) && lseek(fd, f->pos, SEEK_SET) < 0) {
		pr_perror("cannot seek %s to offset %llu for the job's fd %d", f->path,
			  (unsigned long long)f->pos, f->fd);
		close(fd);
		return -1;
	}
	return fd;
}

int procfd_open(const Fd *f)
{
	if (!late(f))
		return open_proc(f);
	/* a stand-in until every process exists (procfds_restore), which an
	 * epoll set may watch meanwhile, and which never reads ready */
	int fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		pr_perror("cannot make a stand-in for the job's fd %d", f->fd);
	return fd;
}

/* A process of init's that waits to end as told (its wait status ST): a
 * stand-in for one that had ended. PID: the pid it must have, or 0. */
struct stand_in {
	pid_t pid;
	int go;
};

static int stand_in_start(struct stand_in *s, pid_t pid)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0) {
		pr_perror("pipe");
		return -1;
	}
	s->pid = pid ? clone_with_pid(pid) : fork();
	if (s->pid == 0) {
		unsigned char code = 0;
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		close(p[1]);
		if (read(p[0], &code, 1) != 1)
			code = 0;
		_exit(code);
	}
	close(p[0]);
	if (s->pid < 0) {
		if (!pid)
			pr_perror("fork");
		close(p[1]);
		return -1;
	}
	s->go = p[1];
	return 0;
}

static void stand_in_end(struct stand_in *s, int status)
{
	unsigned char code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;

	if (WIFSIGNALED(status))
		kill(s->pid, WTERMSIG(status));
	else if (write(s->go, &code, 1) != 1)
		kill(s->pid, SIGKILL);
	close(s->go);
	while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* The init fds of the late fds, one per open file description. */
struct late_set {
	struct late_fd {
		const Fd *f;
		int fd;
	} *v;
	size_t n;
};

static struct late_fd *late_find(struct late_set *ls, const Fd *f)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].f == f || (f->has_desc_id && ls->v[i].f->has_desc_id &&
					ls->v[i].f->desc_id == f->desc_id))
			return &ls->v[i];
	return NULL;
}

static void late_add(struct late_set *ls, const Fd *f, int fd)
{
	ls->v = xrealloc(ls->v, (ls->n + 1) * sizeof(*ls->v));
	ls->v[ls->n++] = (struct late_fd){ f, fd };
}

static int pidfd_of(pid_t pid, const Fd *f)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, f->flags & (O_NONBLOCK | PIDFD_THREAD));

	if (fd < 0)
		pr_perror("cannot open a pidfd of process %d again as the job's fd %d", f->proc_pid,
			  f->fd);
	else
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* Every pidfd of the ended process G (DEAD_ID), on one stand-in. */
static int dead_pidfds(struct restore_ctx *procs, size_t n, struct late_set *ls, const Fd *g)
{
	struct stand_in s;
	int ret = 0;

	if (stand_in_start(&s, 0) < 0)
		return -1;
	for (size_t i = 0; i < n && !ret; i++)
		for (size_t k = 0; procs[i].img && k < procs[i].img->n_fds && !ret; k++) {
			const Fd *f = procs[i].img->fds[k];
			if (f->kind != FD__KIND__PIDFD || !f->proc_dead || f->dead_id != g->dead_id ||
			    late_find(ls, f))
				continue;
			int fd = pidfd_of(s.pid, f);
			if (fd < 0)
				ret = -1;
			else
				late_add(ls, f, fd);
		}
	stand_in_end(&s, g->has_dead_status ? g->dead_status : 0);
	return ret;
}

static int open_late(struct restore_ctx *procs, size_t n, struct late_set *ls, const Fd *f)
{
	char path[64];
	struct stand_in s;
	int fd;

	if (late_find(ls, f))
		return 0;
	switch (f->kind) {
	case FD__KIND__PIDFD:
		if (f->proc_dead)
			return dead_pidfds(procs, n, ls, f);
		fd = pidfd_of(f->proc_pid, f);
		break;
	case FD__KIND__NSFILE:
		if (!f->path || strspn(f->path, "abcdefghijklmnopqrstuvwxyz_") != strlen(f->path)) {
			pr_err("damaged image: the namespace of the job's fd %d", f->fd);
			return -1;
		}
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", f->proc_pid, f->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			pr_perror("cannot open %s as the job's fd %d", path, f->fd);
		break;
	default:
		if (!f->proc_dead) {
			fd = open_proc(f);
			break;
		}
		/* a file of process PID, which had ended: of a stand-in
		 * with its pid, which ends again */
		if (stand_in_start(&s, f->proc_pid) < 0) {
			pr_err("cannot make a stand-in of the ended process %d for the job's fd %d (%s)",
			       f->proc_pid, f->fd, f->path);
			return -1;
		}
		fd = open_proc(f);
		stand_in_end(&s, 0);
		break;
	}
	if (fd < 0)
		return -1;
	late_add(ls, f, fd);
	return 0;
}

/* Puts init's fd SRC at F's number in process R, in place of its stand-in. */
static int install(struct restore_ctx *r, const Fd *f, int src)
{
	long got, ret;

	if (fd_send(r->sock, src) < 0)
		return -1;
	got = fd_recv(r, r->keep_at);
	if (got < 0) {
		pr_err("cannot give process %d its fd %d: %s", r->img->pid, f->fd, strerror(-got));
		return -1;
	}
	ret = INJECT(&r->in, SYS_dup3, got, f->fd, f->cloexec ? O_CLOEXEC : 0);
	INJECT(&r->in, SYS_close, got);
	if (ret < 0) {
		pr_err("cannot give process %d its fd %d: %s", r->img->pid, f->fd, strerror(-ret));
		return -1;
	}
	return epoll_watch_again(r, f->fd);
}

int procfds_restore(struct restore_ctx *procs, size_t n)
{
	struct late_set ls = { 0 };
	int ret = -1;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; procs[i].img && k < procs[i].img->n_fds; k++)
			if (late(procs[i].img->fds[k]) && open_late(procs, n, &ls, procs[i].img->fds[k]) < 0)
				goto out;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; procs[i].img && k < procs[i].img->n_fds; k++) {
			const Fd *f = procs[i].img->fds[k];
			if (late(f) && install(&procs[i], f, late_find(&ls, f)->fd) < 0)
				goto out;
		}
	ret = 0;
out:
	for (size_t i = 0; i < ls.n; i++)
		close(ls.v[i].fd);
	free(ls.v);
	return ret;
}
