/* fifo.c: named pipes (FIFOs) the job holds. A FIFO only the job holds
 * dies with it, with its queued data: that data is copied like a pipe's
 * (pipedata.c) and queued again at restore, in the FIFO found again by
 * path, or in one made again under its old name when it had been unlinked.
 * A FIFO that a process outside the job holds too lives on in the kernel
 * with its data: it is only opened again by path (it must not have been
 * unlinked, or it could not be found). Every open file description of the
 * job gets one of its own, with its own flags. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ckpt/dump.h"
#include "ckpt/fileid.h"
#include "ckpt/holders.h"
#include "ckpt/log.h"
#include "ckpt/pipedata.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

static const char deleted_suffix[] = " (deleted)";

int fifo_dump(struct dump_ctx *c, int fd, Fd *f, const struct stat *st, const char *link)
{
	size_t l = strlen(link), sl = sizeof(deleted_suffix) - 1;
	char *path = xstrdup(link);
	bool unlinked = l > sl && !strcmp(link + l - sl, deleted_suffix);
	struct stat now;

	if (unlinked)
		path[l - sl] = 0;
	else if (stat(path, &now) < 0 || now.st_ino != st->st_ino || now.st_dev != st->st_dev)
		unlinked = true;	/* renamed away or replaced: the name finds another */
	free(f->path);
	f->path = path;
	f->kind = FD__KIND__FIFO;
	f->file = fileid_make(path, st);
	f->has_pipe_id = 1;
	f->pipe_id = st->st_ino;
	if (unlinked) {
		f->has_unlinked = 1;
		f->unlinked = 1;
		pr_info("process %d: fd %d is the named pipe %s, unlinked since it was opened", c->pid,
			fd, path);
	}
	return 0;
}

/* ---- the job's FIFOs, once every process is read ---- */

struct fifo_ref {
	struct dump_ctx *c;
	Fd *f;
};

struct job_fifo {
	uint64_t ino, dev;
	struct fifo_ref *refs;
	size_t nr;
	pid_t outside;          /* a process outside the job that holds it, or 0 */
	char *outside_fd;
};

struct fifo_set {
	struct job_fifo *v;
	size_t n;
};

static void collect(struct dump_ctx *ctx, size_t n, struct fifo_set *s)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
			Fd *f = ctx[i].img->fds[k];
			struct job_fifo *j = NULL;

			if (f->kind != FD__KIND__FIFO)
				continue;
			for (size_t m = 0; m < s->n && !j; m++)
				if (s->v[m].ino == f->file->ino && s->v[m].dev == f->file->dev)
					j = &s->v[m];
			if (!j) {
				s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
				j = &s->v[s->n++];
				*j = (struct job_fifo){ .ino = f->file->ino, .dev = f->file->dev };
			}
			j->refs = xrealloc(j->refs, (j->nr + 1) * sizeof(*j->refs));
			j->refs[j->nr++] = (struct fifo_ref){ &ctx[i], f };
		}
}

static int outside_holder(void *arg, pid_t pid, const char *fd_path, const char *link)
{
	struct fifo_set *s = arg;
	struct stat st;

	if (link[0] != '/')
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		const char *path = s->v[i].refs[0].f->path;
		size_t pl = strlen(path);
		/* the same name, then the same inode */
		if (strncmp(link, path, pl) || (link[pl] && strcmp(link + pl, deleted_suffix)))
			continue;
		if (stat(fd_path, &st) < 0 || st.st_ino != s->v[i].ino || st.st_dev != s->v[i].dev)
			continue;
		if (!s->v[i].outside) {
			s->v[i].outside = pid;
			s->v[i].outside_fd = xstrdup(fd_path);
		}
	}
	return 0;
}

/* Our own fd to read FIFO J's queued data through: a readable fd of the
 * job, or the FIFO opened again for reading. */
static int fifo_source(struct job_fifo *j, char *what, size_t what_len)
{
	struct fifo_ref *r = &j->refs[0];
	char path[64];
	int fd;

	for (size_t i = 0; i < j->nr; i++)
		if ((j->refs[i].f->flags & O_ACCMODE) != O_WRONLY) {
			r = &j->refs[i];
			break;
		}
	snprintf(what, what_len, "the named pipe %s (fd %d of process %d)", r->f->path, r->f->fd,
		 r->c->pid);
	if ((r->f->flags & O_ACCMODE) != O_WRONLY)
		return grab_fd(r->c->pid, r->f->fd);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", r->c->pid, r->f->fd);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		pr_perror("cannot open %s for reading, to copy its queued data", what);
	return fd;
}

static int dump_one_fifo(struct dump_ctx *ctx, struct job_fifo *j, struct pipe_list *out)
{
	char name[96], what[PATH_MAX + 96];
	bool packets = false;
	PipeData *pd;
	int src, ret;

	if (j->outside) {
		const Fd *f = j->refs[0].f;
		if (f->unlinked) {
			pr_err("fd %d of process %d is the named pipe %s, which was unlinked and which "
			       "process %d, outside the job, also holds (%s): it could not be found "
			       "again; freeze them together", f->fd, j->refs[0].c->pid, f->path,
			       j->outside, j->outside_fd);
			return -1;
		}
		pr_info("the named pipe %s is also held by process %d, outside the job: its data "
			"stays in the kernel, and the job opens it again by its name", f->path,
			j->outside);
		for (size_t i = 0; i < j->nr; i++) {
			j->refs[i].f->has_fifo_shared = 1;
			j->refs[i].f->fifo_shared = 1;
		}
		return 0;
	}
	for (size_t i = 0; i < j->nr; i++)
		packets |= !!(j->refs[i].f->flags & O_DIRECT);
	src = fifo_source(j, what, sizeof(what));
	if (src < 0)
		return -1;
	pd = pipe_list_add(out, j->ino, j->dev);
	snprintf(name, sizeof(name), "fifo-%llu-%llu.img", (unsigned long long)j->dev,
		 (unsigned long long)j->ino);
	ret = pipedata_save(ctx[0].dir, name, src, packets, pd, what, &ctx[0].stats->bytes_written);
	close(src);
	return ret;
}

int fifos_dump_data(struct dump_ctx *ctx, size_t n, struct pipe_list *out)
{
	struct fifo_set s = { 0 };
	pid_t *job;
	int ret = 0;

	collect(ctx, n, &s);
	if (!s.n)
		return 0;
	job = xcalloc(n, sizeof(pid_t));
	for (size_t i = 0; i < n; i++)
		job[i] = ctx[i].pid;
	ret = holders_walk(job, n, outside_holder, &s);
	for (size_t i = 0; i < s.n && ret == 0; i++)
		ret = dump_one_fifo(ctx, &s.v[i], out);
	for (size_t i = 0; i < s.n; i++) {
		free(s.v[i].refs);
		free(s.v[i].outside_fd);
	}
	free(s.v);
	free(job);
	return ret;
}

/* ---- restore ---- */

/* A FIFO held outside the job too (or an image from before FIFO data):
 * opened again by its name, where the other side kept it. */
static int open_by_path(const Fd *f)
{
	int fd = open(f->path, (f->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENXIO)
			pr_err("the job's fd %d wrote to the named pipe %s, which nobody reads now: "
			       "start its reader first", f->fd, f->path);
		else
			pr_perror("cannot open the named pipe %s again as the job's fd %d", f->path,
				  f->fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, f->flags) < 0) {
		pr_perror("cannot give the job's fd %d on the named pipe %s its flags", f->fd, f->path);
		close(fd);
		return -1;
	}
	return fd;
}

/* An unlinked FIFO, made again under its old name if free, else under a
 * hidden name next to it, opened, and unlinked again. */
static int recreate(const Fd *f)
{
	char *dirc = xstrdup(f->path), *basec = xstrdup(f->path), *path = NULL;
	char *dir = dirname(dirc), *base = basename(basec);
	int fd = -1;

	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		free(path);
		path = attempt ? xasprintf("%s/.%s.jobfreeze-%d-%d", dir, base, getpid(), attempt)
			       : xasprintf("%s/%s", dir, base);
		if (mkfifo(path, 0600) < 0) {
			if (errno == EEXIST)
				continue;
			pr_perror("cannot make the unlinked named pipe %s again (the job's fd %d)",
				  path, f->fd);
			break;
		}
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			pr_perror("cannot open the named pipe %s made again", path);
		else if (fchmod(fd, f->file->mode & 07777) < 0) {
			pr_perror("cannot give the named pipe %s made again its mode", path);
			close(fd);
			fd = -1;
		}
		unlink(path);
		break;
	}
	free(path);
	free(dirc);
	free(basec);
	return fd;
}

static struct job_pipe *make_fifo(struct restore_ctx *r, const Fd *f, const char *what)
{
	const PipeData *pd = pipedata_find(r->inv, f->pipe_id, f->file->dev);
	char name[96];
	struct stat st;
	int fd, queued = 0;

	if (!pd) {
		pr_err("damaged image: no record of the data of the named pipe %s", f->path);
		return NULL;
	}
	fd = f->unlinked ? recreate(f) : open(f->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (!f->unlinked)
			pr_perror("cannot open %s again", what);
		return NULL;
	}
	struct job_pipe *p = pipe_table_add(r->pipes, f->pipe_id, f->file->dev, fd, -1);
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		pr_err("%s is no longer a named pipe", what);
		return NULL;
	}
	if (ioctl(fd, FIONREAD, &queued) < 0) {
		pr_perror("cannot read how much %s holds", what);
		return NULL;
	}
	if (queued) {
		pr_err("%s holds %d bytes that another process wrote into it since the job was "
		       "frozen: they would be mixed with the job's own", what, queued);
		return NULL;
	}
	snprintf(name, sizeof(name), "fifo-%llu-%llu.img", (unsigned long long)f->file->dev,
		 (unsigned long long)f->pipe_id);
	if (pipedata_refill(r->dir, name, pd, fd, what) < 0)
		return NULL;
	return p;
}

int fifo_open(struct restore_ctx *r, const Fd *f)
{
	char what[PATH_MAX + 64];
	struct job_pipe *p;

	if (f->fifo_shared || !f->has_pipe_id || !f->file)
		return open_by_path(f);
	snprintf(what, sizeof(what), "the named pipe %s", f->path);
	p = pipe_table_find(r->pipes, f->pipe_id, f->file->dev);
	if (!p && !(p = make_fifo(r, f, what)))
		return -1;
	return pipe_reopen(p->end[0], f, what);
}
