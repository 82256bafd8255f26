/* pipe.c: pipes between the processes of a job. Each end the job holds is
 * recorded with its open file description's flags; once every process is
 * read, the data queued in each pipe is copied (pipedata.c) through a read
 * end of the job. At restore init makes the pipe, queues the data again,
 * and gives every open file description of the job one of its own, opened
 * again through /proc/self/fd, with its own flags: two descriptions of one
 * end must not share O_NONBLOCK. A pipe with an end outside the job is
 * refused: that process would be cut off from it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/dump.h"
#include "ckpt/holders.h"
#include "ckpt/log.h"
#include "ckpt/pipedata.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

int pipe_dump(struct dump_ctx *c, int fd, Fd *f, uint64_t ino)
{
	f->kind = FD__KIND__PIPE;
	f->has_pipe_id = 1;
	f->pipe_id = ino;
	return 0;
}

/* ---- the job's pipes, once every process is read ---- */

struct pipe_ref {
	struct dump_ctx *c;
	const Fd *f;
};

/* The end of pipe ID the copy is taken through: a read end of the job if
 * it has one (pidfd_getfd needs no permission on the pipe, which may be
 * another user's), else a new read end opened through /proc. */
static int pipe_source(struct pipe_ref *refs, size_t nr, char *what, size_t what_len)
{
	struct pipe_ref *r = &refs[0];
	char path[64];
	int fd;

	for (size_t i = 0; i < nr; i++)
		if ((refs[i].f->flags & O_ACCMODE) == O_RDONLY) {
			r = &refs[i];
			break;
		}
	snprintf(what, what_len, "the pipe of fd %d of process %d", r->f->fd, r->c->pid);
	if ((r->f->flags & O_ACCMODE) == O_RDONLY)
		return grab_fd(r->c->pid, r->f->fd);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", r->c->pid, r->f->fd);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == EACCES)
		pr_err("%s was made by another user and the job holds only its write end: its "
		       "queued data cannot be read to save it", what);
	else if (fd < 0)
		pr_perror("cannot open %s to copy its data", what);
	return fd;
}

static int dump_one_pipe(struct image_dir *dir, uint64_t id, struct pipe_ref *refs, size_t nr,
			 struct pipe_list *out, struct ckpt_stats *stats)
{
	char name[64], what[96];
	bool packets = false;
	PipeData *pd;
	int src, ret;

	for (size_t i = 0; i < nr; i++)
		packets |= !!(refs[i].f->flags & O_DIRECT);
	src = pipe_source(refs, nr, what, sizeof(what));
	if (src < 0)
		return -1;
	pd = pipe_list_add(out, id, 0);
	snprintf(name, sizeof(name), "pipe-%llu.img", (unsigned long long)id);
	ret = pipedata_save(dir, name, src, packets, pd, what, &stats->bytes_written);
	close(src);
	return ret;
}

int pipes_dump_data(struct dump_ctx *ctx, size_t n, struct pipe_list *out)
{
	struct pipe_ref *refs = NULL;
	size_t cap = 0;
	int ret = 0;

	for (size_t i = 0; i < n && ret == 0; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds && ret == 0; k++) {
			const Fd *f = ctx[i].img->fds[k];
			size_t nr = 0;

			if (f->kind != FD__KIND__PIPE || pipe_list_find(out, f->pipe_id, 0))
				continue;
			/* every fd of the job on this pipe, from this one on */
			for (size_t j = i; j < n; j++)
				for (size_t m = j == i ? k : 0; ctx[j].img && m < ctx[j].img->n_fds; m++) {
					const Fd *g = ctx[j].img->fds[m];
					if (g->kind != FD__KIND__PIPE || g->pipe_id != f->pipe_id)
						continue;
					if (nr == cap)
						refs = xrealloc(refs, (cap = cap ? 2 * cap : 8) * sizeof(*refs));
					refs[nr++] = (struct pipe_ref){ &ctx[j], g };
				}
			ret = dump_one_pipe(ctx[0].dir, f->pipe_id, refs, nr, out, ctx[0].stats);
		}
	free(refs);
	return ret;
}

struct outside {
	struct dump_ctx *ctx;
	size_t n;
};

static int outside_holder(void *arg, pid_t pid, const char *fd_path, const char *link)
{
	struct outside *o = arg;
	unsigned long long ino;

	if (sscanf(link, "pipe:[%llu]", &ino) != 1)
		return 0;
	for (size_t i = 0; i < o->n; i++)
		for (size_t k = 0; o->ctx[i].img && k < o->ctx[i].img->n_fds; k++) {
			const Fd *f = o->ctx[i].img->fds[k];
			if (f->kind != FD__KIND__PIPE || f->pipe_id != ino)
				continue;
			pr_err("fd %d of process %d is a pipe (%s) that process %d, outside the job, "
			       "also holds (%s): freezing the job would cut it off; freeze them "
			       "together (a common ancestor, or --pgid)", f->fd, o->ctx[i].pid, link,
			       pid, fd_path);
			return -1;
		}
	return 0;
}

int pipes_check_outside(struct dump_ctx *ctx, size_t n)
{
	struct outside o = { ctx, n };
	pid_t *job = xcalloc(n ? n : 1, sizeof(pid_t));
	bool any = false;
	int ret;

	for (size_t i = 0; i < n; i++) {
		job[i] = ctx[i].pid;
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++)
			any |= ctx[i].img->fds[k]->kind == FD__KIND__PIPE;
	}
	ret = any ? holders_walk(job, n, outside_holder, &o) : 0;
	free(job);
	return ret;
}

/* ---- the list of PipeData records a dump collects ---- */

PipeData *pipe_list_add(struct pipe_list *l, uint64_t id, uint64_t fifo_dev)
{
	PipeData *pd = xmalloc(sizeof(*pd));

	pipe_data__init(pd);
	pd->id = id;
	if (fifo_dev) {
		pd->has_fifo_dev = 1;
		pd->fifo_dev = fifo_dev;
	}
	l->p = xrealloc(l->p, (l->n + 1) * sizeof(*l->p));
	l->p[l->n++] = pd;
	return pd;
}

PipeData *pipe_list_find(const struct pipe_list *l, uint64_t id, uint64_t fifo_dev)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->p[i]->id == id && l->p[i]->fifo_dev == fifo_dev)
			return l->p[i];
	return NULL;
}

void pipe_list_free(struct pipe_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		pipedata_clear(l->p[i]);
		free(l->p[i]);
	}
	free(l->p);
	l->p = NULL;
	l->n = 0;
}

/* ---- restore ---- */

struct job_pipe *pipe_table_find(struct pipe_table *t, uint64_t id, uint64_t dev)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->p[i].id == id && t->p[i].dev == dev)
			return &t->p[i];
	return NULL;
}

struct job_pipe *pipe_table_add(struct pipe_table *t, uint64_t id, uint64_t dev, int fd0, int fd1)
{
	t->p = xrealloc(t->p, (t->n + 1) * sizeof(*t->p));
	t->p[t->n] = (struct job_pipe){ .id = id, .dev = dev, .end = { fd0, fd1 } };
	return &t->p[t->n++];
}

int pipe_reopen(int any, const Fd *f, const char *what)
{
	char path[64];
	int fd;

	/* Non-blocking for the open itself: a FIFO's read end would wait for
	 * a writer. The job's own flags come right after. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", any);
	fd = open(path, (f->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s again for the job's fd %d", what, f->fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, f->flags) < 0) {
		pr_perror("cannot give the job's fd %d on %s its flags %#o", f->fd, what, f->flags);
		close(fd);
		return -1;
	}
	return fd;
}

/* Images from before PipeData: the bare data file, Fd.pipe_size. */
static int refill_legacy(struct restore_ctx *r, const Fd *f, int w, const char *name)
{
	PipeData pd = PIPE_DATA__INIT;
	uint64_t size;
	char *buf = NULL;
	int in, ret = -1;

	in = image_open_raw(r->dir, name, &size);
	if (in < 0)
		return -1;
	if (size > PIPE_CAPACITY_MAX) {
		pr_err("image file %s/%s is damaged (%llu bytes of pipe data)", r->dir->path, name,
		       (unsigned long long)size);
		goto out;
	}
	buf = xmalloc(size ? size : 1);
	if (read_all(in, buf, size) != (ssize_t)size) {
		pr_perror("cannot read image file %s/%s", r->dir->path, name);
		goto out;
	}
	pd.capacity = f->has_pipe_size && f->pipe_size ? f->pipe_size : 65536;
	if (fcntl(w, F_SETPIPE_SZ, pd.capacity) < 0 || write_all(w, buf, size) < 0) {
		pr_perror("cannot refill a pipe of the job from %s/%s", r->dir->path, name);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	close(in);
	return ret;
}

/* Makes the job's pipe F names in init, its data queued again. */
static struct job_pipe *make_pipe(struct restore_ctx *r, const Fd *f)
{
	const PipeData *pd = pipedata_find(r->inv, f->pipe_id, 0);
	char name[64], what[64];
	int end[2];

	snprintf(name, sizeof(name), "pipe-%llu.img", (unsigned long long)f->pipe_id);
	snprintf(what, sizeof(what), "pipe %llu of the job", (unsigned long long)f->pipe_id);
	if (pipe2(end, O_CLOEXEC) < 0) {
		pr_perror("cannot make a pipe for the job");
		return NULL;
	}
	/* In the table at once, so that a failure below closes it too. */
	struct job_pipe *p = pipe_table_add(r->pipes, f->pipe_id, 0, end[0], end[1]);
	if (pd ? pipedata_refill(r->dir, name, pd, end[1], what) : refill_legacy(r, f, end[1], name))
		return NULL;
	return p;
}

int pipe_open(struct restore_ctx *r, const Fd *f)
{
	struct job_pipe *p = pipe_table_find(r->pipes, f->pipe_id, 0);
	int e = (f->flags & O_ACCMODE) == O_WRONLY, fd;
	char what[64];

	if (!p && !(p = make_pipe(r, f)))
		return -1;
	snprintf(what, sizeof(what), "pipe %llu of the job", (unsigned long long)f->pipe_id);
	/* A description made by pipe() has no O_LARGEFILE, one opened again
	 * through /proc has it (F_SETFL cannot change it): each end made by
	 * pipe() goes to one such description, the others are opened again. */
	if (p->given[e] || (f->flags & O_LARGEFILE))
		return pipe_reopen(p->end[0], f, what);
	p->given[e] = true;
	fd = fcntl(p->end[e], F_DUPFD_CLOEXEC, 0);
	if (fd < 0 || fcntl(fd, F_SETFL, f->flags) < 0) {
		pr_perror("cannot give the job's fd %d on %s its flags %#o", f->fd, what, f->flags);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

void pipe_table_close(struct pipe_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->p[i].end[0] >= 0)
			close(t->p[i].end[0]);
		if (t->p[i].end[1] >= 0)
			close(t->p[i].end[1]);
	}
	free(t->p);
	t->p = NULL;
	t->n = 0;
}
