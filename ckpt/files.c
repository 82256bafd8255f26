/* files.c: the job's file descriptors. Regular files and devices are
 * reopened by path at their offset and flags; deleted files travel in the
 * image; the job's terminal becomes the restoring side's terminal (pty.c
 * tells it from the ptys the job runs itself). Anything else is refused at
 * dump, naming the fd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include "ckpt/dump.h"
#include "ckpt/fileid.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

/* Flags that only mean something at open time or are kept elsewhere. */
#define OPEN_ONLY_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)

static bool is_tty_dev(dev_t rdev)
{
	unsigned ma = major(rdev), mi = minor(rdev);

	return (ma >= 136 && ma <= 143) ||		/* /dev/pts/N */
	       (ma == 4 && mi < 128) ||			/* virtual consoles, ttyS */
	       (ma == 5 && mi <= 2);			/* /dev/tty, /dev/console, /dev/ptmx */
}

static bool is_deleted(const char *link)
{
	static const char del[] = " (deleted)";
	size_t l = strlen(link);

	return l > sizeof(del) - 1 && !strcmp(link + l - (sizeof(del) - 1), del);
}

/* An O_PATH fd: only a place in the file tree, opened again by path with
 * its flags (O_NOFOLLOW: a symlink itself); made again when it is gone. */
static int opath_dump(struct dump_ctx *c, int fd, Fd *f, const struct stat *st, char *link)
{
	struct stat now;

	f->kind = FD__KIND__OPATH;
	if (link[0] != '/') {
		pr_err("process %d: fd %d is an O_PATH fd on %s, which jobfreeze cannot freeze yet",
		       c->pid, fd, link);
		return -1;
	}
	if (is_deleted(link) || lstat(link, &now) < 0 || now.st_ino != st->st_ino ||
	    now.st_dev != st->st_dev) {
		int r = ghost_add_fd(c, f, fd, st, link);
		if (r <= 0)
			return r;
	}
	f->file = fileid_make(f->path, st);
	return 0;
}

static const char *kind_of_link(const char *link)
{
	if (!strncmp(link, "socket:", 7))
		return "a socket";
	if (!strncmp(link, "anon_inode:", 11))
		return link + 11;
	return NULL;
}

static int dump_one_fd(struct dump_ctx *c, int fd, const int *fds, size_t nr)
{
	char path[64], link[4096];
	struct proc_fdinfo fi;
	struct stat st;
	char *info = NULL;
	ssize_t n;
	Fd *f;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		pr_perror("cannot read %s", path);
		return -1;
	}
	link[n] = 0;
	if (stat(path, &st) < 0) {
		pr_perror("cannot stat fd %d of process %d (%s)", fd, c->pid, link);
		return -1;
	}
	if (proc_parse_fdinfo(c->pid, fd, &fi, &info) < 0) {
		free(info);
		return -1;
	}
	/* The text is the state of an anon inode fd (anonfd.c); nothing else keeps it. */
	int anon = anonfd_kind(link);

	f = xmalloc(sizeof(*f));
	fd__init(f);
	c->img->fds[c->img->n_fds++] = f;
	f->fd = fd;
	f->flags = fi.flags & ~OPEN_ONLY_FLAGS;
	f->cloexec = !!(fi.flags & O_CLOEXEC);
	f->pos = fi.pos;
	f->path = xstrdup(link);
	if (fi.locked && locks_dump(c, f, info) < 0) {
		free(info);
		return -1;
	}
	/* on a process: a /proc file, a namespace, a pidfd */
	int pr = procfd_dump(c, fd, f, link, info);
	if (pr <= 0) {
		free(info);
		return pr;
	}
	if (anon < 0) {
		free(info);
		info = NULL;
	}

	if (fi.flags & O_PATH)
		return opath_dump(c, fd, f, &st, link);
	if (S_ISCHR(st.st_mode) && is_tty_dev(st.st_rdev))
		return pty_fd_dump(c, fd, f, &st);
	unsigned long long pipe_ino;
	if (sscanf(link, "pipe:[%llu]", &pipe_ino) == 1)
		return pipe_dump(c, fd, f, pipe_ino);
	if (anon >= 0)
		return anonfd_dump(c, f, anon, info, fds, nr);
	unsigned long long sock_ino;
	if (sscanf(link, "socket:[%llu]", &sock_ino) == 1)
		return sock_dump(c, fd, f, sock_ino);
	if (link[0] != '/') {
		const char *k = kind_of_link(link);
		pr_err("process %d: fd %d is %s (%s), which jobfreeze cannot freeze yet; close it "
		       "or run the job without it", c->pid, fd, k ? k : "not a file", link);
		return -1;
	}
	if (S_ISCHR(st.st_mode)) {
		f->kind = FD__KIND__CHR;
		f->file = fileid_make(link, &st);
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		f->kind = FD__KIND__DIR;
		if (is_deleted(link))
			return ghost_add_fd(c, f, fd, &st, link) < 0 ? -1 : 0;
		f->file = fileid_make(link, &st);
		return 0;
	}
	if (S_ISFIFO(st.st_mode))
		return fifo_dump(c, fd, f, &st, link);
	if (!S_ISREG(st.st_mode)) {
		pr_err("process %d: fd %d is %s (%s), which jobfreeze cannot freeze yet", c->pid, fd,
		       S_ISFIFO(st.st_mode) ? "a named pipe" : S_ISSOCK(st.st_mode) ? "a socket" :
		       "a special file", link);
		return -1;
	}
	if (!strncmp(link, "/memfd:", 7) && is_deleted(link) && st.st_nlink == 0) {
		f->kind = FD__KIND__MEMFD;
		return ghost_add_fd(c, f, fd, &st, link) < 0 ? -1 : 0;
	}
	struct stat now;
	/* renamed over or moved: only the open file has the content */
	if (is_deleted(link) || stat(link, &now) < 0 || now.st_ino != st.st_ino ||
	    now.st_dev != st.st_dev) {
		int r = ghost_add_fd(c, f, fd, &st, link);
		if (r <= 0) {
			f->kind = FD__KIND__DELETED;
			return r;
		}
	}
	f->kind = FD__KIND__REG;
	f->file = fileid_make(f->path, &st);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int files_dump(struct dump_ctx *c)
{
	char path[64], link[4096];
	struct dirent *de;
	int *fds = NULL;
	size_t nr = 0, cap = 0;
	DIR *d;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cwd", c->pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		pr_perror("cannot read the working directory of process %d", c->pid);
		return -1;
	}
	link[n] = 0;
	if (is_deleted(link)) {
		struct stat st;
		link[n - 10] = 0;
		if (stat(path, &st) < 0) {
			pr_perror("cannot stat the working directory of process %d", c->pid);
			return -1;
		}
		/* made again, and removed again, before it comes back there */
		if (ghost_add_cwd(c, &st, link) < 0)
			return -1;
	}
	c->img->cwd = xstrdup(link);

	snprintf(path, sizeof(path), "/proc/%d/fd", c->pid);
	d = opendir(path);
	if (!d) {
		pr_perror("cannot list %s", path);
		return -1;
	}
	while ((de = readdir(d))) {
		int fd;
		if (de->d_name[0] == '.')
			continue;
		if (parse_int(de->d_name, &fd) < 0)
			continue;
		if (nr == cap)
			fds = xrealloc(fds, (cap = cap ? cap * 2 : 32) * sizeof(int));
		fds[nr++] = fd;
	}
	closedir(d);
	if (nr)	/* (qsort wants an array, even of nothing) */
		qsort(fds, nr, sizeof(int), cmp_int);
	c->img->fds = xcalloc(nr, sizeof(Fd *));
	for (size_t i = 0; i < nr; i++)
		if (dump_one_fd(c, fds[i], fds, nr) < 0) {
			free(fds);
			return -1;
		}
	free(fds);
	return fowns_dump(c);
}

#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

/* The pid of process I's parent, as the job sees it. */
static int job_ppid(struct dump_ctx *ctx, size_t n, size_t i)
{
	for (size_t k = 0; k < n; k++)
		if (ctx[k].pid == ctx[i].status.ppid)
			return ctx[k].status.nspid;
	return 0;
}

/* One fd of the job, to be sorted by its open file description */
struct fd_ref {
	const struct dump_ctx *c;
	Fd *f;
};

static int kcmp_failed;

/* By kind, then by the kernel's own order of open file descriptions
 * (kcmp orders them: equal, less, greater), so that fds sharing one
 * description end up side by side: a sort, not every pair compared (a job
 * of 300 processes with 700 fds each made 2e10 comparisons) */
static int by_description(const void *x, const void *y)
{
	const struct fd_ref *a = x, *b = y;
	long r;

	if (a->f->kind != b->f->kind)
		return a->f->kind < b->f->kind ? -1 : 1;
	r = syscall(SYS_kcmp, a->c->pid, b->c->pid, KCMP_FILE, a->f->fd, b->f->fd);
	if (r < 0) {
		if (!kcmp_failed)
			pr_perror("cannot compare fd %d of process %d with fd %d of process %d (kcmp)",
				  a->f->fd, a->c->pid, b->f->fd, b->c->pid);
		kcmp_failed = 1;
		return 0;
	}
	return r == 0 ? 0 : r == 1 ? -1 : 1;
}

int files_share(struct dump_ctx *ctx, size_t n)
{
	struct fd_ref *refs;
	size_t nr = 0, k = 0;
	uint32_t next = 1;

	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; ctx[i].img && a < ctx[i].img->n_fds; a++)
			nr += !ctx[i].img->fds[a]->has_desc_id;
	refs = xcalloc(nr ? nr : 1, sizeof(*refs));
	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; ctx[i].img && a < ctx[i].img->n_fds; a++)
			if (!ctx[i].img->fds[a]->has_desc_id)
				refs[k++] = (struct fd_ref){ &ctx[i], ctx[i].img->fds[a] };
	kcmp_failed = 0;
	qsort(refs, nr, sizeof(*refs), by_description);
	if (kcmp_failed) {
		free(refs);
		return -1;
	}
	/* each run of one description takes, for now, its start's index; the
	 * descriptions are then numbered in the order their first fd comes in
	 * the job */
	for (size_t i = 0; i < nr; i = k) {
		for (k = i + 1; k < nr && by_description(&refs[i], &refs[k]) == 0; k++)
			;
		for (size_t m = i; m < k; m++) {
			refs[m].f->has_desc_id = 1;
			refs[m].f->desc_id = (uint32_t)i + 1;
		}
	}
	free(refs);
	if (kcmp_failed)
		return -1;
	uint32_t *renum = xcalloc(nr + 1, sizeof(*renum));
	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; ctx[i].img && a < ctx[i].img->n_fds; a++) {
			Fd *f = ctx[i].img->fds[a];
			if (!renum[f->desc_id])
				renum[f->desc_id] = next++;
		}
	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; ctx[i].img && a < ctx[i].img->n_fds; a++)
			ctx[i].img->fds[a]->desc_id = renum[ctx[i].img->fds[a]->desc_id];
	free(renum);
	return 0;
}

#ifndef KCMP_FILES
#define KCMP_FILES 2
#endif

/* By the kernel's order of fd tables (kcmp, as by_description), so that
 * processes sharing one (CLONE_FILES) end up side by side: every pair
 * compared was 80,000 system calls for a job of 400 processes. */
static int by_table(const void *x, const void *y)
{
	const struct dump_ctx *a = *(struct dump_ctx *const *)x, *b = *(struct dump_ctx *const *)y;
	long r = syscall(SYS_kcmp, a->pid, b->pid, KCMP_FILES, 0, 0);

	if (r < 0) {
		if (!kcmp_failed)
			pr_perror("cannot compare the fd tables of processes %d and %d (kcmp)",
				  a->pid, b->pid);
		kcmp_failed = 1;
		return 0;
	}
	return r == 0 ? 0 : r == 1 ? -1 : 1;
}

/* Processes sharing one fd table: the first of them in the job keeps it,
 * each other one is made again by cloning it from its parent, which must
 * share it too. [G, E) of BY share one. */
static int share_table(struct dump_ctx *ctx, size_t n, struct dump_ctx **by, size_t g, size_t e)
{
	struct dump_ctx *first = by[g];

	for (size_t m = g + 1; m < e; m++)
		if (by[m] < first)
			first = by[m];
	for (size_t m = g; m < e; m++) {
		struct dump_ctx *c = by[m];
		bool parent_shares = false;

		if (c == first)
			continue;
		for (size_t q = g; q < e; q++)
			parent_shares |= by[q]->pid == c->status.ppid;
		if (!parent_shares) {
			pr_err("process %d shares its fd table with process %d (CLONE_FILES), which is "
			       "not its parent, and its parent does not: jobfreeze cannot make such a "
			       "table again", c->pid, first->pid);
			return -1;
		}
		c->img->has_files_from = 1;
		c->img->files_from = job_ppid(ctx, n, (size_t)(c - ctx));
		pr_info("process %d shares the fd table of its parent", c->pid);
	}
	return 0;
}

int files_tables(struct dump_ctx *ctx, size_t n)
{
	struct dump_ctx **by = xcalloc(n ? n : 1, sizeof(*by));
	size_t nr = 0, e;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		if (!ctx[i].zombie)
			by[nr++] = &ctx[i];
	kcmp_failed = 0;
	qsort(by, nr, sizeof(*by), by_table);
	for (size_t g = 0; !kcmp_failed && !ret && g < nr; g = e) {
		for (e = g + 1; e < nr && by_table(&by[g], &by[e]) == 0; e++)
			;
		if (e - g > 1)
			ret = share_table(ctx, n, by, g, e);
	}
	free(by);
	return kcmp_failed ? -1 : ret;
}

int files_check(struct restore_ctx *r)
{
	const Process *img = r->img;
	char what[96];
	int ret = 0;	/* every file that changed is named, not only the first */

	if (fileid_check(img->exe, "the job's program") < 0)
		ret = -1;
	for (size_t i = 0; i < img->n_vmas; i++) {
		if (!img->vmas[i]->file || (i && img->vmas[i - 1]->file &&
					    !strcmp(img->vmas[i - 1]->file->path, img->vmas[i]->file->path)))
			continue;	/* (a library's next mapping: named once) */
		snprintf(what, sizeof(what), "file mapped by the job at %#lx,",
			 (unsigned long)img->vmas[i]->start);
		bool shared_rw = (img->vmas[i]->flags & MAP_SHARED) &&
				 ((img->vmas[i]->prot & PROT_WRITE) || img->vmas[i]->may_write);
		if ((shared_rw ? fileid_check_size : fileid_check)(img->vmas[i]->file, what) < 0)
			ret = -1;
	}
	for (size_t i = 0; i < img->n_fds; i++) {
		const Fd *f = img->fds[i];
		bool inherited = false;
		for (size_t k = 0; k < r->o->nr_inherit; k++)
			inherited |= r->o->inherit[k].job_fd == f->fd;
		if (inherited || !f->file || f->kind == FD__KIND__DELETED || f->unlinked ||
		    f->has_ghost_id)
			continue;
		snprintf(what, sizeof(what), "file open as the job's fd %d,", f->fd);
		if (f->kind == FD__KIND__OPATH) {
			/* a place, not contents: it must only still be there */
			if (!S_ISLNK(f->file->mode) && fileid_check_exists(f->file, what) < 0)
				return -1;
			continue;
		}
		/* A file the job only writes to (its output, a log) may have been
		 * written by others since, the shell that ran it for one: the job
		 * goes on writing at its offset, or appending. What it reads must
		 * be what it read. */
		if ((f->flags & O_ACCMODE) == O_WRONLY && f->kind == FD__KIND__REG) {
			if (fileid_check_exists(f->file, what) < 0)
				ret = -1;
		} else if (fileid_check(f->file, what) < 0)
			ret = -1;
	}
	return ret;
}

/* Brings a deleted file of an image from before ghost.c back (its own
 * copy for each fd): created next to where it was, filled from the image,
 * opened, and unlinked again. */
static int ghost_restore(struct restore_ctx *r, const Fd *f)
{
	char name[64], *dirc = xstrdup(f->path), *basec = xstrdup(f->path);
	char *dir = dirname(dirc), *base = basename(basec), *path = NULL;
	int in = -1, out = -1, job, ret = -1;
	uint64_t size;

	snprintf(name, sizeof(name), "ghost-%d-%d.img", r->img->pid, f->fd);
	in = image_open_raw(r->dir, name, &size);
	if (in < 0)
		goto out;
	if (f->file && size != f->file->size) {
		pr_err("image file %s/%s is truncated or damaged (%llu bytes, expected %llu)",
		       r->dir->path, name, (unsigned long long)size, (unsigned long long)f->file->size);
		goto out;
	}
	for (int attempt = 0; attempt < 100 && out < 0; attempt++) {
		free(path);
		path = attempt ? xasprintf("%s/.%s.jobfreeze-%d-%d", dir, base, getpid(), attempt)
			       : xasprintf("%s/%s", dir, base);
		out = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			   f->file ? f->file->mode & 0777 : 0600);
		if (out < 0 && errno != EEXIST) {
			pr_perror("cannot recreate the deleted file %s (the job's fd %d)", path, f->fd);
			goto out;
		}
	}
	if (out < 0) {
		pr_err("cannot find a free name to recreate the deleted file %s", f->path);
		goto out;
	}
	unlink(path);
	if (copy_fd(in, out, NULL) < 0) {
		pr_perror("cannot fill the recreated deleted file %s from %s/%s", f->path,
			  r->dir->path, name);
		goto out;
	}
	/* The job's own open flags (O_WRONLY, O_APPEND...) on the same file. */
	snprintf(name, sizeof(name), "/proc/self/fd/%d", out);
	job = open(name, (f->flags & ~OPEN_ONLY_FLAGS) | O_CLOEXEC);
	if (job < 0) {
		pr_perror("cannot reopen the recreated deleted file %s", f->path);
		goto out;
	}
	if (lseek(job, f->pos, SEEK_SET) < 0) {
		pr_perror("cannot seek the recreated deleted file %s", f->path);
		close(job);
		goto out;
	}
	close(out);
	out = job;
	ret = out;
	out = -1;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(path);
	free(dirc);
	free(basec);
	return ret;
}

/* A description of its own on the job's object F names (a deleted file,
 * directory or symlink, a memfd), with F's flags and offset. */
static int ghost_open(struct restore_ctx *r, const Fd *f)
{
	struct job_shm *s = shm_get(r, f->ghost_id);
	char path[64];
	int fd;

	if (!s)
		return -1;
	if (s->g && s->g->kind == FILES_GHOST__KIND__SYMLINK) {
		/* (opened through /proc, O_NOFOLLOW would give the /proc link) */
		fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			pr_perror("cannot give the job's fd %d its deleted symlink %s", f->fd, f->path);
		return fd;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", s->fd);
	if (s->g && s->g->kind == FILES_GHOST__KIND__MEMFD && !s->given &&
	    (f->flags & O_ACCMODE) == O_RDWR && !(f->flags & O_PATH)) {
		/* The memfd's own description, which memfd_create made: unlike
		 * one opened again, it does not count as a writer, and the job
		 * may exec the memfd (fexecve) while holding it. */
		s->given = true;
		fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
		if (fd >= 0 && fcntl(fd, F_SETFL, f->flags & ~(OPEN_ONLY_FLAGS | O_ASYNC)) < 0) {
			close(fd);
			fd = -1;
		}
	} else {
		int flags = f->flags & ~(OPEN_ONLY_FLAGS | O_NOFOLLOW);
		/* (a file made with O_TMPFILE keeps that flag, which would make
		 * this open another file) */
		if (s->g && s->g->kind != FILES_GHOST__KIND__DIR)
			flags &= ~(__O_TMPFILE | O_DIRECTORY);
		fd = open(path, flags | O_CLOEXEC);
	}
	if (fd < 0) {
		pr_perror("cannot open %s, made again, as the job's fd %d", f->path, f->fd);
		return -1;
	}
	if (!(f->flags & O_PATH) && lseek(fd, f->pos, SEEK_SET) < 0) {
		pr_perror("cannot seek %s to offset %llu for the job's fd %d", f->path,
			  (unsigned long long)f->pos, f->fd);
		close(fd);
		return -1;
	}
	return fd;
}

static int open_one(struct restore_ctx *r, const Fd *f)
{
	for (size_t k = 0; k < r->o->nr_inherit; k++)
		if (r->o->inherit[k].job_fd == f->fd) {
			int fd = fcntl(r->o->inherit[k].my_fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0)
				pr_perror("cannot use fd %d given with --inherit-fd",
					  r->o->inherit[k].my_fd);
			return fd;
		}
	switch (f->kind) {
	case FD__KIND__TTY:
		if (r->o->tty_fd < 0) {
			pr_err("the job's fd %d was its terminal (%s), and this restore has none: run "
			       "it from a terminal, or give the job a file with --inherit-fd %d:FD",
			       f->fd, f->path, f->fd);
			return -1;
		}
		return fcntl(r->o->tty_fd, F_DUPFD_CLOEXEC, 0);
	case FD__KIND__DELETED:
		return f->has_ghost_id ? ghost_open(r, f) : ghost_restore(r, f);
	case FD__KIND__MEMFD:
		return ghost_open(r, f);
	case FD__KIND__FIFO:
		return fifo_open(r, f);
	case FD__KIND__PIPE:
		return pipe_open(r, f);
	case FD__KIND__UNIX_SOCK:
		return unixsk_open(r, f);
	case FD__KIND__INET_SOCK:
		return inet_open(r, f);
	case FD__KIND__EVENTFD:
	case FD__KIND__SIGNALFD:
	case FD__KIND__TIMERFD:
		return anonfd_open(f);
	case FD__KIND__INOTIFY:
		return inotify_open(f);
	case FD__KIND__PROC:
	case FD__KIND__NSFILE:
	case FD__KIND__PIDFD:
		return procfd_open(f);
	case FD__KIND__PTY_MASTER:
	case FD__KIND__PTY_SLAVE:
	case FD__KIND__PTY_CTTY:
		return pty_open(r, f);
	case FD__KIND__EPOLL:
		/* made inside the process (epoll_restore); a placeholder until then */
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	case FD__KIND__REG:
	case FD__KIND__CHR:
	case FD__KIND__DIR:
	case FD__KIND__OPATH: {
		if (f->has_ghost_id)
			return ghost_open(r, f);
		int fd = open(f->path, (f->flags & ~OPEN_ONLY_FLAGS) | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			pr_perror("cannot reopen %s as the job's fd %d", f->path, f->fd);
			return -1;
		}
		if (f->kind != FD__KIND__CHR && !(f->flags & O_PATH) &&
		    lseek(fd, f->pos, SEEK_SET) < 0) {
			pr_perror("cannot seek %s to offset %llu for the job's fd %d", f->path,
				  (unsigned long long)f->pos, f->fd);
			close(fd);
			return -1;
		}
		return fd;
	}
	default:
		break;
	}
	pr_err("damaged image: fd %d of unknown kind %d", f->fd, f->kind);
	return -1;
}

/* An init fd already open on the description DESC_ID, or -1. */
static int shared_src(struct restore_ctx *r, size_t upto, struct restore_ctx *prev, size_t nr_prev,
		      uint32_t desc_id)
{
	for (size_t k = 0; k < upto; k++)
		if (r->img->fds[k]->has_desc_id && r->img->fds[k]->desc_id == desc_id)
			return r->fd_src[k];
	for (size_t p = 0; p < nr_prev; p++)
		for (size_t k = 0; prev[p].img && k < prev[p].img->n_fds; k++)
			if (prev[p].img->fds[k]->has_desc_id && prev[p].img->fds[k]->desc_id == desc_id)
				return prev[p].fd_src[k];
	return -1;
}

int files_prepare(struct restore_ctx *r, struct restore_ctx *prev, size_t nr_prev)
{
	r->fd_src = xcalloc(r->img->n_fds, sizeof(int));
	for (size_t i = 0; i < r->img->n_fds; i++)
		r->fd_src[i] = -1;
	for (size_t i = 0; i < r->img->n_fds; i++) {
		const Fd *f = r->img->fds[i];
		int same = -1;

		if (f->fd < 0 || f->fd > 1 << 20) {
			pr_err("damaged image: fd number %d", f->fd);
			return -1;
		}
		if (f->has_desc_id && f->kind != FD__KIND__TTY)
			same = shared_src(r, i, prev, nr_prev, f->desc_id);
		/* Shared with an fd prepared before: the same description, one offset. */
		r->fd_src[i] = same >= 0 ? fcntl(same, F_DUPFD_CLOEXEC, 0) : open_one(r, f);
		if (r->fd_src[i] < 0) {
			if (same >= 0)
				pr_perror("cannot open the job's fd %d of process %d again", f->fd,
					  r->img->pid);
			return -1;
		}
	}
	return 0;
}

int files_chdir(struct restore_ctx *r, bool injected)
{
	struct job_shm *s;
	long ret;

	if (!r->img->has_cwd_ghost) {
		if (!injected)
			ret = chdir(r->img->cwd) < 0 ? -errno : 0;
		else {
			uint64_t at = scratch_put(r, 2048, r->img->cwd, strlen(r->img->cwd) + 1);
			ret = at ? INJECT(&r->in, SYS_chdir, at) : -EFAULT;
		}
	} else if (!(s = shm_get(r, r->img->cwd_ghost))) {
		return -1;
	} else if (!injected) {
		ret = fchdir(s->fd) < 0 ? -errno : 0;
	} else {
		/* the deleted directory, made again in init, passed in */
		ret = fd_send(r->sock, s->fd) < 0 ? -EIO : fd_recv(r, r->keep_at);
		if (ret >= 0) {
			long fd = ret;
			ret = INJECT(&r->in, SYS_fchdir, fd);
			INJECT(&r->in, SYS_close, fd);
		}
	}
	if (ret < 0)
		pr_err("process %d cannot enter its working directory %s%s: %s", r->img->pid,
		       r->img->cwd, r->img->has_cwd_ghost ? " (deleted, made again)" : "",
		       strerror(-ret));
	return ret < 0 ? -1 : 0;
}

void files_shared_table(struct restore_ctx *r)
{
	/* its epoll sets are those its parent made, in the same table */
	free(r->epoll_given);
	r->epoll_given = xcalloc(r->img->n_fds ? r->img->n_fds : 1, sizeof(bool));
	for (size_t i = 0; i < r->img->n_fds; i++)
		r->epoll_given[i] = true;
}

int files_max_fd(const Process *img)
{
	int max = 2;

	for (size_t i = 0; i < img->n_fds; i++)
		if (img->fds[i]->fd > max)
			max = img->fds[i]->fd;
	return max;
}

/* Runs in the forked job before exec: every fd to its number, nothing else
 * left open. Only async-signal-safe calls. */
int files_install(struct restore_ctx *r, int keep, int keep_at)
{
	int base = keep_at + 1;

	/* Move the sources and the log out of the way of the target numbers. */
	for (size_t i = 0; i < r->img->n_fds; i++) {
		int hi = fcntl(r->fd_src[i], F_DUPFD_CLOEXEC, base);
		if (hi < 0)
			return -1;
		r->fd_src[i] = hi;
	}
	int log = fcntl(log_get_fd(), F_DUPFD_CLOEXEC, base);
	if (log >= 0)
		log_set_fd(log);
	int keep_hi = fcntl(keep, F_DUPFD_CLOEXEC, base);
	if (keep_hi < 0)
		return -1;
	for (int fd = 0; fd < base; fd++) {
		bool target = false;
		for (size_t i = 0; i < r->img->n_fds; i++)
			target |= r->img->fds[i]->fd == fd;
		if (!target)
			close(fd);
	}
	for (size_t i = 0; i < r->img->n_fds; i++)
		if (dup2(r->fd_src[i], r->img->fds[i]->fd) < 0) {
			pr_perror("cannot install the job's fd %d", r->img->fds[i]->fd);
			return -1;
		}
	/* Whatever else this process inherited must not reach the job. */
	if (syscall(SYS_close_range, base, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) {
		pr_perror("cannot mark inherited fds close-on-exec");
		return -1;
	}
	if (dup2(keep_hi, keep_at) < 0) {
		pr_perror("cannot keep the restore socket at fd %d", keep_at);
		return -1;
	}
	return 0;
}

int files_receive(struct restore_ctx *r, int sock, int keep_at)
{
	long ret;

	/* What it inherited from its parent is not its own. */
	if ((keep_at > 0 && INJECT(&r->in, SYS_close_range, 0, keep_at - 1, 0) < 0) ||
	    INJECT(&r->in, SYS_close_range, keep_at + 1, ~0U, 0) < 0) {
		pr_err("cannot close the fds process %d inherited", r->img->pid);
		return -1;
	}
	for (size_t i = 0; i < r->img->n_fds; i++) {
		int target = r->img->fds[i]->fd;

		if (fd_send(sock, r->fd_src[i]) < 0)
			return -1;
		ret = fd_recv(r, keep_at);
		if (ret >= 0 && ret != target) {
			long d = INJECT(&r->in, SYS_dup2, ret, target);
			INJECT(&r->in, SYS_close, ret);
			ret = d;
		}
		if (ret < 0) {
			pr_err("cannot give process %d its fd %d: %s", r->img->pid, target,
			       strerror(-ret));
			return -1;
		}
	}
	return 0;
}

int files_finish(struct restore_ctx *r)
{
	for (size_t i = 0; i < r->img->n_fds; i++) {
		const Fd *f = r->img->fds[i];
		long ret;
		if (!f->cloexec)
			continue;
		ret = INJECT(&r->in, SYS_fcntl, f->fd, F_SETFD, FD_CLOEXEC);
		if (ret < 0) {
			pr_err("cannot set close-on-exec on the job's fd %d: %s", f->fd, strerror(-ret));
			return -1;
		}
	}
	return 0;
}
