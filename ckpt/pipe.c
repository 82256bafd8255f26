/* pipe.c: pipes between the processes of a job. The data buffered in a
 * pipe is copied with tee(2), which leaves it in the pipe (a failed or
 * -R dump must not take it from the job), and written into a new pipe of
 * the same capacity at restore. A pipe with an end outside the job is
 * refused: that process would be cut off from it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define PIPE_DATA_MAX (1 << 20)

/* Copies what is buffered in the pipe behind /proc/PID/fd/FD into NAME. */
static int save_pipe_data(struct dump_ctx *c, int fd, const char *name, uint32_t *size)
{
	char path[64];
	int src = -1, tmp[2] = { -1, -1 }, out = -1, ret = -1;
	char *buf = NULL;
	ssize_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, fd);
	src = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (src < 0) {
		pr_perror("cannot open the pipe behind fd %d of process %d", fd, c->pid);
		goto out;
	}
	int cap = fcntl(src, F_GETPIPE_SZ);
	if (cap < 0 || pipe2(tmp, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    fcntl(tmp[1], F_SETPIPE_SZ, cap) < 0) {
		pr_perror("cannot make a pipe to copy pipe data of process %d", c->pid);
		goto out;
	}
	*size = cap;
	n = tee(src, tmp[1], INT_MAX, SPLICE_F_NONBLOCK);
	if (n < 0 && errno != EAGAIN) {
		pr_perror("cannot copy the data buffered in the pipe of fd %d of process %d", fd,
			  c->pid);
		goto out;
	}
	if (n < 0)
		n = 0;	/* empty */
	buf = xmalloc(n ? n : 1);
	if (read_all(tmp[0], buf, n) != n) {
		pr_perror("cannot read copied pipe data");
		goto out;
	}
	out = image_create_raw(c->dir, name);
	if (out < 0)
		goto out;
	if (write_synced(out, buf, n) < 0) {
		pr_perror("cannot write %s/%s", c->dir->path, name);
		goto out;
	}
	c->stats->bytes_written += n;
	ret = 0;
out:
	free(buf);
	if (src >= 0)
		close(src);
	if (tmp[0] >= 0)
		close(tmp[0]);
	if (tmp[1] >= 0)
		close(tmp[1]);
	if (out >= 0)
		close(out);
	return ret;
}

int pipe_dump(struct dump_ctx *c, int fd, Fd *f, uint64_t ino)
{
	char name[64];
	uint32_t size = 0;

	f->kind = FD__KIND__PIPE;
	f->has_pipe_id = 1;
	f->pipe_id = ino;
	snprintf(name, sizeof(name), "pipe-%llu.img", (unsigned long long)ino);
	/* Once per pipe: the first of its fds in the job saves its data. */
	for (size_t i = 0; i < c->dir->nr_created; i++)
		if (!strcmp(c->dir->created[i], name))
			return 0;
	if (save_pipe_data(c, fd, name, &size) < 0)
		return -1;
	f->has_pipe_size = 1;
	f->pipe_size = size;
	return 0;
}

static bool in_job(struct dump_ctx *ctx, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (ctx[i].pid == pid)
			return true;
	return false;
}

int pipes_check_outside(struct dump_ctx *ctx, size_t n)
{
	bool any = false;
	struct dirent *pe;
	DIR *proc;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++)
			any |= ctx[i].img->fds[k]->kind == FD__KIND__PIPE;
	if (!any)
		return 0;
	proc = opendir("/proc");
	if (!proc) {
		pr_perror("cannot list /proc");
		return -1;
	}
	/* Only processes of our own user can hold our pipes and be read here;
	 * others are unreadable, and cannot share a pipe with us unless passed. */
	while (ret == 0 && (pe = readdir(proc))) {
		char dpath[64], lpath[384], link[64];
		struct dirent *fe;
		DIR *fds;
		int pid;

		if (parse_int(pe->d_name, &pid) < 0 || in_job(ctx, n, pid) || pid == getpid())
			continue;
		snprintf(dpath, sizeof(dpath), "/proc/%d/fd", pid);
		fds = opendir(dpath);
		if (!fds)
			continue;
		while (ret == 0 && (fe = readdir(fds))) {
			ssize_t l;
			unsigned long long ino;

			snprintf(lpath, sizeof(lpath), "%s/%s", dpath, fe->d_name);
			l = readlink(lpath, link, sizeof(link) - 1);
			if (l <= 0)
				continue;
			link[l] = 0;
			if (sscanf(link, "pipe:[%llu]", &ino) != 1)
				continue;
			for (size_t i = 0; i < n && ret == 0; i++)
				for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
					const Fd *f = ctx[i].img->fds[k];
					if (f->kind != FD__KIND__PIPE || f->pipe_id != ino)
						continue;
					pr_err("fd %d of process %d is a pipe (%s) that process %d, outside "
					       "the job, also holds (fd %s): freezing the job would cut "
					       "it off; freeze them together (a common ancestor, or --pgid)",
					       f->fd, ctx[i].pid, link, pid, fe->d_name);
					ret = -1;
					break;
				}
		}
		closedir(fds);
	}
	closedir(proc);
	return ret;
}

/* Makes the job's pipe ID in init, refilled from pipe-ID.img. */
static struct job_pipe *make_pipe(struct restore_ctx *r, const Fd *f)
{
	struct pipe_table *t = r->pipes;
	struct job_pipe *p;
	char name[64];
	uint64_t size;
	char *buf = NULL;
	int in;

	snprintf(name, sizeof(name), "pipe-%llu.img", (unsigned long long)f->pipe_id);
	in = image_open_raw(r->dir, name, &size);
	if (in < 0)
		return NULL;
	if (size > PIPE_DATA_MAX) {
		pr_err("image file %s/%s is damaged (%llu bytes of pipe data)", r->dir->path, name,
		       (unsigned long long)size);
		close(in);
		return NULL;
	}
	t->p = xrealloc(t->p, (t->n + 1) * sizeof(*t->p));
	p = &t->p[t->n];
	p->id = f->pipe_id;
	if (pipe2(p->end, O_CLOEXEC) < 0) {
		pr_perror("cannot make a pipe for the job");
		close(in);
		return NULL;
	}
	t->n++;
	if (f->has_pipe_size && f->pipe_size && fcntl(p->end[1], F_SETPIPE_SZ, f->pipe_size) < 0)
		pr_warn("cannot give a pipe of the job its size of %u bytes", f->pipe_size);
	buf = xmalloc(size ? size : 1);
	if (read_all(in, buf, size) != (ssize_t)size || write_all(p->end[1], buf, size) < 0) {
		pr_perror("cannot refill a pipe of the job from %s/%s", r->dir->path, name);
		p = NULL;
	}
	free(buf);
	close(in);
	return p;
}

int pipe_open(struct restore_ctx *r, const Fd *f)
{
	struct job_pipe *p = NULL;
	int end, fd;

	for (size_t i = 0; i < r->pipes->n; i++)
		if (r->pipes->p[i].id == f->pipe_id)
			p = &r->pipes->p[i];
	if (!p && !(p = make_pipe(r, f)))
		return -1;
	end = (f->flags & O_ACCMODE) == O_RDONLY ? p->end[0] : p->end[1];
	fd = fcntl(end, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		pr_perror("cannot duplicate a pipe end for the job's fd %d", f->fd);
	else if ((f->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		pr_perror("cannot make the job's fd %d non-blocking", f->fd);
	return fd;
}

void pipe_table_close(struct pipe_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		close(t->p[i].end[0]);
		close(t->p[i].end[1]);
	}
	free(t->p);
	t->p = NULL;
	t->n = 0;
}
