/* inflight.c: files in flight in a unix socket (SCM_RIGHTS sent, not
 * received yet). Before the job's sockets are looked at together, a peek
 * through every queue gives us copies of them; each joins the in-flight
 * list of the process whose socket holds it, described as an fd of the
 * job is (a file by path, a pipe with what it holds, a socket, an eventfd,
 * signalfd or timerfd), and is opened again in init at restore, to travel
 * with its message (passedfd.c). It comes back as an open file of its
 * own: one the sender still shares with a descriptor of its own is no
 * longer shared (two descriptions of the same pipe or file). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "ckpt/dump.h"
#include "ckpt/holders.h"
#include "ckpt/log.h"
#include "ckpt/passedfd.h"
#include "ckpt/pipedata.h"
#include "ckpt/restore.h"
#include "ckpt/socks.h"
#include "ckpt/util.h"

#define MAX_PASSED 253    /* the kernel's SCM_MAX_FD */


/* F for the file FD (ours) in flight in WHERE; -1 (said) for a kind that
 * cannot travel in an image. */
static int describe(struct dump_ctx *c, int fd, Fd *f, const char *where)
{
	char path[64], link[4096];
	struct stat st;
	ssize_t n;
	int kind;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0 || fstat(fd, &st) < 0) {
		pr_perror("cannot look at a file descriptor in flight in %s", where);
		return -1;
	}
	link[n] = 0;
	f->flags = fcntl(fd, F_GETFL) & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
	f->path = xstrdup(link);
	if (S_ISSOCK(st.st_mode)) {
		int family = -1;
		socklen_t l = sizeof(family);
		getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &l);
		f->has_sock_ino = 1;
		f->sock_ino = st.st_ino;
		if (family == AF_UNIX)
			return unixsk_dump(c, fd, f, st.st_ino);
		if (family == AF_INET || family == AF_INET6)
			return inet_dump(c, fd, f, family);
	} else if (!strncmp(link, "pipe:[", 6)) {
		f->kind = FD__KIND__PIPE;
		f->has_pipe_id = 1;
		f->pipe_id = st.st_ino;
		return 0;
	} else if ((kind = anonfd_kind(link)) == FD__KIND__EVENTFD || kind == FD__KIND__SIGNALFD ||
		   kind == FD__KIND__TIMERFD) {
		char *info;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		if (!(info = read_file(path, NULL))) {
			pr_perror("cannot read %s, a file in flight in %s", path, where);
			return -1;
		}
		return anonfd_dump(c, f, kind, info, NULL, 0);	/* (no epoll: no fds to watch) */
	} else if (link[0] == '/' && !(n > 10 && !strcmp(link + n - 10, " (deleted)")) &&
		   (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
		    (S_ISCHR(st.st_mode) && major(st.st_rdev) != 5 && major(st.st_rdev) != 4 &&
		     (major(st.st_rdev) < 136 || major(st.st_rdev) > 143)))) {
		f->kind = S_ISREG(st.st_mode) ? FD__KIND__REG : S_ISDIR(st.st_mode) ? FD__KIND__DIR :
			  FD__KIND__CHR;
		f->pos = S_ISCHR(st.st_mode) ? 0 : (uint64_t)lseek(fd, 0, SEEK_CUR);
		return 0;
	}
	pr_err("%s holds a file descriptor in flight (SCM_RIGHTS, not received yet) on %s: "
	       "jobfreeze cannot freeze such a file in flight; try again once the job has "
	       "received it", where, link);
	return -1;
}

/* The index of FD's file (ours) in C's in-flight list, added (FD kept) if
 * new, else FD closed; -1 (said) if it cannot travel. */
static int inflight_index(struct dump_ctx *c, int fd, const char *where)
{
	Process *img = c->img;
	Fd *f;

	for (size_t i = 0; i < img->n_inflight; i++)
		if (passedfd_same(c->held[i], fd)) {
			close(fd);
			return i;
		}
	f = xmalloc(sizeof(*f));
	fd__init(f);
	f->fd = img->n_inflight;
	img->inflight = xrealloc(img->inflight, (img->n_inflight + 1) * sizeof(Fd *));
	c->held = xrealloc(c->held, (img->n_inflight + 1) * sizeof(int));
	img->inflight[img->n_inflight] = f;
	c->held[img->n_inflight++] = fd;	/* (freed with the image, closed with the dump) */
	return describe(c, fd, f, where) < 0 ? -1 : f->fd;
}

struct seen {
	struct dump_ctx *c;
	const char *where;
	char **out;
	size_t *len;
};

static int add_found(void *arg, int fd)
{
	struct seen *s = arg;

	return inflight_index(s->c, fd, s->where) < 0 ? -1 : 0;
}

/* Peeks through the whole queue of S (our copy), adding the files in
 * flight there to C's list. An unconnected socket has none. */
static int discover_queue(struct dump_ctx *c, int s, const char *where)
{
	int off0 = -1, zero = 0, ret = 0;
	socklen_t l = sizeof(off0);
	char *buf = xmalloc(1 << 16);

	if (getsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off0, &l) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
		pr_perror("cannot set a peek offset on %s", where);
		free(buf);
		return -1;
	}
	while (ret == 0) {
		char cbuf[CMSG_SPACE(sizeof(int) * MAX_PASSED)];
		struct iovec iov = { buf, 1 << 16 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(s, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		struct seen sn = { c, where, NULL, NULL };

		if (n < 0)
			break;	/* the end (EAGAIN), or not connected */
		ret = passedfd_each(&mh, add_found, &sn);
		if (n == 0)
			break;	/* the end of a stream; an empty datagram (the copy refuses it) */
	}
	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off0, sizeof(off0)) < 0) {
		pr_perror("cannot put back the peek offset of %s", where);
		ret = -1;
	}
	free(buf);
	return ret;
}

static bool peeked_before(uint64_t *seen, size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (seen[i] == ino)
			return true;
	return false;
}

int passedfd_discover(struct dump_ctx *ctx, size_t n)
{
	uint64_t *seen = NULL;
	size_t nr = 0;
	int ret = 0;

	for (size_t i = 0; i < n && ret == 0; i++) {
		struct dump_ctx *c = &ctx[i];
		for (size_t k = 0; c->img && k < c->img->n_fds + c->img->n_inflight && ret == 0; k++) {
			bool own = k < c->img->n_fds;
			Fd *f = own ? c->img->fds[k] : c->img->inflight[k - c->img->n_fds];
			char where[96];
			int s;

			if (f->kind != FD__KIND__UNIX_SOCK || f->sock_state == TCP_LISTEN ||
			    peeked_before(seen, nr, f->sock_ino))
				continue;
			seen = xrealloc(seen, (nr + 1) * sizeof(*seen));
			seen[nr++] = f->sock_ino;
			snprintf(where, sizeof(where), own ? "the unix socket of fd %d of process %d" :
				 "a unix socket in flight (%d) in process %d", f->fd, c->pid);
			s = own ? grab_fd(c->pid, f->fd) :
				  fcntl(c->held[k - c->img->n_fds], F_DUPFD_CLOEXEC, 0);
			if (s < 0) {
				ret = -1;
				break;
			}
			ret = discover_queue(c, s, where);
			close(s);
		}
	}
	free(seen);
	return ret;
}

struct outside {
	struct dump_ctx *ctx;
	size_t n;
};

static bool job_holds_pipe(struct dump_ctx *ctx, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++)
			if (ctx[i].img->fds[k]->kind == FD__KIND__PIPE && ctx[i].img->fds[k]->pipe_id == id)
				return true;
	return false;
}

/* A pipe only in flight whose other end a process outside the job holds
 * would be cut off from it */
static int pipe_outside(void *arg, pid_t pid, const char *fd_path, const char *link)
{
	struct outside *o = arg;
	unsigned long long ino;

	if (sscanf(link, "pipe:[%llu]", &ino) != 1 || job_holds_pipe(o->ctx, o->n, ino))
		return 0;
	for (size_t i = 0; i < o->n; i++)
		for (size_t k = 0; o->ctx[i].img && k < o->ctx[i].img->n_inflight; k++) {
			const Fd *f = o->ctx[i].img->inflight[k];
			if (f->kind != FD__KIND__PIPE || f->pipe_id != ino)
				continue;
			pr_err("a pipe (%s) in flight in a unix socket of process %d is held by process "
			       "%d, outside the job, too (%s): freezing the job would cut it off",
			       link, o->ctx[i].pid, pid, fd_path);
			return -1;
		}
	return 0;
}

int passedfd_pipes(struct dump_ctx *ctx, size_t n, struct pipe_list *out)
{
	struct outside o = { ctx, n };
	pid_t *job = xcalloc(n ? n : 1, sizeof(pid_t));
	bool any = false;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		job[i] = ctx[i].pid;
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_inflight && ret == 0; k++) {
			const Fd *f = ctx[i].img->inflight[k];
			char name[64], what[96], path[64];
			int src;

			if (f->kind != FD__KIND__PIPE || pipe_list_find(out, f->pipe_id, 0))
				continue;
			any = true;
			snprintf(what, sizeof(what), "a pipe in flight in process %d", ctx[i].pid);
			snprintf(path, sizeof(path), "/proc/self/fd/%d", ctx[i].held[k]);
			src = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			if (src < 0) {
				pr_perror("cannot open %s to copy its data", what);
				ret = -1;
				break;
			}
			snprintf(name, sizeof(name), "pipe-%llu.img", (unsigned long long)f->pipe_id);
			ret = pipedata_save(ctx[0].dir, name, src, f->flags & O_DIRECT,
					    pipe_list_add(out, f->pipe_id, 0), what,
					    &ctx[0].stats->bytes_written);
			close(src);
		}
	}
	if (ret == 0 && any)
		ret = holders_walk(job, n, pipe_outside, &o);
	free(job);
	return ret;
}

/* ---- restore ---- */

int passedfd_prepare(struct restore_ctx *r)
{
	r->inflight_fd = xcalloc(r->img->n_inflight ? r->img->n_inflight : 1, sizeof(int));
	for (size_t i = 0; i < r->img->n_inflight; i++)
		r->inflight_fd[i] = -1;
	for (size_t i = 0; i < r->img->n_inflight; i++) {
		const Fd *f = r->img->inflight[i];
		int fd = -1;

		switch (f->kind) {
		case FD__KIND__PIPE:
			fd = pipe_open(r, f);
			break;
		case FD__KIND__UNIX_SOCK:
			fd = unixsk_open(r, f);
			break;
		case FD__KIND__INET_SOCK:
			fd = inet_open(r, f);
			break;
		case FD__KIND__EVENTFD:
		case FD__KIND__SIGNALFD:
		case FD__KIND__TIMERFD:
			fd = anonfd_open(f);
			break;
		case FD__KIND__REG:
		case FD__KIND__CHR:
		case FD__KIND__DIR:
			if (!f->path)
				break;
			fd = open(f->path, f->flags | O_CLOEXEC | O_NOCTTY);
			if (fd < 0)
				pr_perror("cannot open %s again, a file in flight in the job", f->path);
			else if (f->pos && lseek(fd, f->pos, SEEK_SET) < 0) {
				pr_perror("cannot seek %s, a file in flight in the job", f->path);
				close(fd);
				fd = -1;
			}
			break;
		default:
			pr_err("damaged image: a file in flight of kind %d", f->kind);
			break;
		}
		if (fd < 0)
			return -1;
		r->inflight_fd[i] = fd;
	}
	return 0;
}

void passedfd_close(struct restore_ctx *r)
{
	for (size_t i = 0; r->inflight_fd && i < r->img->n_inflight; i++)
		if (r->inflight_fd[i] >= 0)
			close(r->inflight_fd[i]);
	free(r->inflight_fd);
	r->inflight_fd = NULL;
}

