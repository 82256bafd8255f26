/* unixsk.c: unix sockets. Those whose both ends are in the job
 * (socketpairs, connections made inside it) come back as one socketpair;
 * what waits in each receive queue is copied with MSG_PEEK at an advancing
 * SO_PEEK_OFF, so a failed or -R dump leaves it in place, one record per
 * message, and sent again from the other end at restore. Listening sockets
 * are bound again to their address. A socket connected outside the job is
 * refused, or with --ext-unix-close found closed (its peer gone). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <sys/un.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/passedfd.h"
#include "ckpt/restore.h"
#include "ckpt/sockdiag.h"
#include "ckpt/util.h"

#define PEEK_MAX (1 << 20)            /* bigger than any unix message the default limits allow */
#define SOCK_DATA_MAX (16ULL << 20)   /* per socket, in the image */
#define UNIX_RCV_SHUTDOWN 1
#define UNIX_SEND_SHUTDOWN 2

/* Copies the receive queue of S (the job's fd FD) into NAME: each message
 * as a 32-bit length and its bytes (and the fds in flight with it, when
 * the length has QUEUED_WITH_FDS). */
/* The copy must hold every byte the kernel says is queued (SIOCINQ: all
 * of a stream's or seqpacket socket's queue; of a datagram socket only the
 * first message, which the kernel cannot be asked to count). A short copy
 * fails the dump instead of losing data. */
static int check_copied(struct dump_ctx *c, int s, const Fd *f, uint64_t bytes)
{
	int inq = -1;

	if (f->sock_type == SOCK_DGRAM)
		return 0;
	if (ioctl(s, SIOCINQ, &inq) < 0) {
		pr_perror("process %d: cannot read how much waits in the unix socket of fd %d",
			  c->pid, f->fd);
		return -1;
	}
	if ((uint64_t)inq != bytes) {
		pr_err("process %d: %d bytes wait in the unix socket of fd %d, and %llu could be "
		       "copied: the job would lose the rest, so it is not frozen", c->pid, inq,
		       f->fd, (unsigned long long)bytes);
		return -1;
	}
	return 0;
}

static int save_queue(struct dump_ctx *c, int s, const Fd *f, const char *name)
{
	int off0 = -1, zero = 0, out = -1, ret = -1;
	socklen_t l = sizeof(off0);
	char *buf = xmalloc(PEEK_MAX), *fds = NULL, where[96];
	size_t fds_len = 0;
	uint64_t total = 0;

	if (getsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off0, &l) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
		pr_perror("process %d: cannot set a peek offset on the unix socket of fd %d",
			  c->pid, f->fd);
		free(buf);
		return -1;
	}
	out = image_create_raw(c->dir, name);
	if (out < 0)
		goto out;
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int) * 253)];
		struct iovec iov = { buf, PEEK_MAX };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(s, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		uint32_t len;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			pr_perror("process %d: cannot copy what waits in the unix socket of fd %d",
				  c->pid, f->fd);
			goto out;
		}
		snprintf(where, sizeof(where), "the unix socket of fd %d of process %d", f->fd, c->pid);
		if (passedfd_describe(&mh, &fds, &fds_len, where) < 0)
			goto out;
		if (mh.msg_flags & MSG_CTRUNC) {
			pr_err("%s holds more file descriptors in flight with one message than "
			       "jobfreeze can take (253)", where);
			goto out;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			pr_err("process %d: a message of more than %d bytes waits in the unix socket "
			       "of fd %d: too big to freeze", c->pid, PEEK_MAX, f->fd);
			goto out;
		}
		if (n == 0) {
			if (f->sock_type == SOCK_STREAM || (f->sock_shutdown & UNIX_RCV_SHUTDOWN))
				break;	/* the end of the stream: the other side shut down */
			pr_err("process %d: an empty datagram waits in the unix socket of fd %d: "
			       "jobfreeze cannot copy it", c->pid, f->fd);
			goto out;
		}
		total += n;
		if (total > SOCK_DATA_MAX) {
			pr_err("process %d: more than %llu bytes wait in the unix socket of fd %d: too "
			       "much to freeze", c->pid, SOCK_DATA_MAX, f->fd);
			goto out;
		}
		len = n | (fds ? QUEUED_WITH_FDS : 0);
		if (write_all(out, &len, sizeof(len)) < 0 || write_all(out, buf, n) < 0 ||
		    (fds && write_all(out, fds, fds_len) < 0)) {
			pr_perror("cannot write %s/%s", c->dir->path, name);
			goto out;
		}
		c->stats->bytes_written += n + sizeof(len) + fds_len;
		free(fds);
		fds = NULL;
	}
	if (check_copied(c, s, f, total) < 0)
		goto out;
	if (fsync(out) < 0) {
		pr_perror("cannot sync %s/%s", c->dir->path, name);
		goto out;
	}
	ret = 0;
out:
	/* The job's own peek offset (usually -1: none) must be as it was. */
	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off0, sizeof(off0)) < 0) {
		pr_perror("process %d: cannot put back the peek offset of the unix socket of fd %d",
			  c->pid, f->fd);
		ret = -1;
	}
	if (out >= 0)
		close(out);
	free(fds);
	free(buf);
	return ret;
}

static int unix_dump(struct dump_ctx *c, int s, Fd *f, uint64_t ino)
{
	struct unix_diag_info u;
	char name[64];
	int v;
	socklen_t l = sizeof(v);

	if (unix_diag_get(ino, &u) < 0)
		return -1;
	f->kind = FD__KIND__UNIX_SOCK;
	f->has_sock_ino = f->has_sock_peer = f->has_sock_type = f->has_sock_state = 1;
	f->has_sock_shutdown = f->has_sock_rcvbuf = f->has_sock_sndbuf = 1;
	f->sock_ino = ino;
	f->sock_peer = u.peer;
	f->sock_type = u.type;
	f->sock_state = u.state;
	f->sock_shutdown = u.shutdown;
	if (u.state == TCP_LISTEN) {
		/* bound again at thaw; connections not accepted yet are lost */
		struct sockaddr_storage a;
		socklen_t la = sizeof(a);
		if (getsockname(s, (struct sockaddr *)&a, &la) < 0) {
			pr_perror("process %d: cannot read the address of the socket of fd %d",
				  c->pid, f->fd);
			return -1;
		}
		f->sock_local.data = xmalloc(la);
		memcpy(f->sock_local.data, &a, la);
		f->sock_local.len = la;
		f->has_sock_local = 1;
		return 0;
	}
	/* (an accepted connection whose client has gone carries the
	 * listener's name, and comes back like any end left alone) */
	if (!u.peer && u.name[0] && u.state != TCP_ESTABLISHED) {
		pr_err("process %d: fd %d is a unix socket bound to %s and connected to nothing "
		       "(a datagram receiver?): such sockets cannot be frozen yet", c->pid, f->fd,
		       u.name);
		return -1;
	}
	if (getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l) < 0) {
		pr_perror("process %d: cannot read the buffer sizes of the socket of fd %d", c->pid, f->fd);
		return -1;
	}
	f->sock_rcvbuf = v;
	l = sizeof(v);
	if (getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l) < 0) {
		pr_perror("process %d: cannot read the buffer sizes of the socket of fd %d", c->pid, f->fd);
		return -1;
	}
	f->sock_sndbuf = v;
	snprintf(name, sizeof(name), "sock-%llu.img", (unsigned long long)ino);
	/* Once per socket: the first of its fds in the job saves its queue. */
	for (size_t i = 0; i < c->dir->nr_created; i++)
		if (!strcmp(c->dir->created[i], name))
			return 0;
	return save_queue(c, s, f, name);
}

int sock_dump(struct dump_ctx *c, int fd, Fd *f, uint64_t ino)
{
	int s = grab_fd(c->pid, fd), family = -1, ret;
	socklen_t l = sizeof(family);

	if (s < 0)
		return -1;
	if (getsockopt(s, SOL_SOCKET, SO_DOMAIN, &family, &l) < 0) {
		pr_perror("process %d: cannot read the family of the socket of fd %d", c->pid, fd);
		close(s);
		return -1;
	}
	if (family == AF_UNIX)
		ret = unix_dump(c, s, f, ino);
	else if (family == AF_INET || family == AF_INET6)
		ret = inet_dump(c, s, f, family);
	else {
		pr_err("process %d: fd %d is a socket of family %d, which jobfreeze cannot freeze",
		       c->pid, fd, family);
		ret = -1;
	}
	close(s);
	return ret;
}

static const Fd *find_sock(struct dump_ctx *ctx, size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++)
			if (ctx[i].img->fds[k]->kind == FD__KIND__UNIX_SOCK &&
			    ctx[i].img->fds[k]->sock_ino == ino)
				return ctx[i].img->fds[k];
	return NULL;
}

/* Whether a unix socket of the job listens at NAME (as sock_diag shows it). */
static bool listener_in_job(struct dump_ctx *ctx, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
			const Fd *f = ctx[i].img->fds[k];
			struct sockaddr_storage ss = { 0 };
			char s[160];

			if (f->kind != FD__KIND__UNIX_SOCK || f->sock_state != TCP_LISTEN ||
			    !f->has_sock_local || f->sock_local.len > sizeof(ss))
				continue;
			memcpy(&ss, f->sock_local.data, f->sock_local.len);
			sock_addr_str(&ss, f->sock_local.len, s, sizeof(s));
			if (!strcmp(s, name))
				return true;
		}
	return false;
}

int unixsk_check_peers(struct dump_ctx *ctx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
			Fd *f = ctx[i].img->fds[k];
			const Fd *p;
			struct unix_diag_info u;

			if (f->kind != FD__KIND__UNIX_SOCK || !f->sock_peer)
				continue;
			p = find_sock(ctx, n, f->sock_peer);
			if (p && p->sock_peer == f->sock_ino)
				continue;
			if (p) {
				pr_err("process %d: fd %d is a unix socket connected to one of the "
				       "job that is not connected back (a datagram sender): that "
				       "cannot be frozen yet", ctx[i].pid, f->fd);
				return -1;
			}
			if (unix_diag_get(f->sock_peer, &u) < 0)
				u.name[0] = 0;
			if (u.name[0] && listener_in_job(ctx, n, u.name)) {
				pr_err("process %d: fd %d is a unix connection to %s, a listener of the "
				       "job, not accepted yet: try again in a moment", ctx[i].pid, f->fd,
				       u.name);
				return -1;
			}
			if (ctx[i].o->ext_unix_close) {
				/* What it had received stays readable, then the end. */
				pr_info("process %d: fd %d, a unix socket connected to %s, will be "
					"found closed", ctx[i].pid, f->fd, u.name[0] ? u.name : "?");
				f->sock_peer = 0;
				f->sock_state = TCP_ESTABLISHED;
				f->sock_shutdown = UNIX_RCV_SHUTDOWN | UNIX_SEND_SHUTDOWN;
				continue;
			}
			pr_err("process %d: fd %d is a unix socket connected to %s, outside the job: "
			       "freezing would cut that connection; dump --ext-unix-close drops it "
			       "(the thawed job finds it closed)", ctx[i].pid, f->fd,
			       u.name[0] ? u.name : "an unnamed socket");
			return -1;
		}
	return 0;
}

/* ---- restore ---------------------------------------------------------- */

static struct job_sock *find_job_sock(struct sock_table *t, uint64_t ino)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].ino == ino)
			return &t->s[i];
	return NULL;
}

static void add_job_sock(struct sock_table *t, uint64_t ino, int fd)
{
	t->s = xrealloc(t->s, (t->n + 1) * sizeof(*t->s));
	t->s[t->n++] = (struct job_sock){ .ino = ino, .fd = fd };
}

/* Sends again, through FROM, what waited for socket INO (sock-INO.img). */
static int refill(struct restore_ctx *r, uint64_t ino, int from)
{
	char name[64];
	uint64_t size, at = 0;
	char *buf;
	int in, ret = -1;

	snprintf(name, sizeof(name), "sock-%llu.img", (unsigned long long)ino);
	in = image_open_raw(r->dir, name, &size);
	if (in < 0)
		return -1;
	if (size > SOCK_DATA_MAX + (SOCK_DATA_MAX >> 4)) {
		pr_err("image file %s/%s is damaged (%llu bytes)", r->dir->path, name,
		       (unsigned long long)size);
		close(in);
		return -1;
	}
	buf = xmalloc(size ? size : 1);
	if (read_all(in, buf, size) != (ssize_t)size) {
		pr_perror("cannot read %s/%s", r->dir->path, name);
		goto out;
	}
	while (at < size) {
		uint32_t len;
		if (size - at < sizeof(len))
			goto bad;
		memcpy(&len, buf + at, sizeof(len));
		at += sizeof(len);
		bool with_fds = len & QUEUED_WITH_FDS;
		len &= ~QUEUED_WITH_FDS;
		if (len > size - at)
			goto bad;
		if (with_fds) {
			size_t used;
			if (passedfd_send(from, buf + at, len, buf + at + len, size - at - len, &used,
					  name) < 0)
				goto out;
			at += used;
		} else if (send(from, buf + at, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
			pr_perror("cannot queue %u bytes again in a unix socket of the job (%s)", len,
				  name);
			goto out;
		}
		at += len;
	}
	ret = 0;
	goto out;
bad:
	pr_err("image file %s/%s is damaged (message lengths)", r->dir->path, name);
out:
	free(buf);
	close(in);
	return ret;
}

/* Binds S to the job's unix address A, from the job's working directory
 * (a relative path was bound from there). A socket file left by the job's
 * earlier life, which nobody listens to, is replaced. */
static int unix_bind(struct restore_ctx *r, int s, const Fd *f, const struct sockaddr_un *a,
		     socklen_t la, const char *name)
{
	bool path = la > offsetof(struct sockaddr_un, sun_path) && a->sun_path[0];
	int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), ret = -1;

	if (here < 0 || chdir(r->img->cwd) < 0) {
		pr_perror("cannot enter %s to bind the job's socket %s", r->img->cwd, name);
		goto out;
	}
	ret = bind(s, (const struct sockaddr *)a, la);
	if (ret < 0 && errno == EADDRINUSE && path) {
		int probe = socket(AF_UNIX, f->sock_type | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (const struct sockaddr *)a, la) < 0 &&
		    errno == ECONNREFUSED && unlink(a->sun_path) == 0)
			ret = bind(s, (const struct sockaddr *)a, la);
		else
			errno = EADDRINUSE;
		if (probe >= 0)
			close(probe);
	}
	if (ret < 0) {
		if (errno == EADDRINUSE)
			pr_err("the job's fd %d listened at %s, where another program listens now: "
			       "stop it, then thaw again", f->fd, name);
		else
			pr_perror("cannot bind the job's fd %d to %s again", f->fd, name);
	}
	if (fchdir(here) < 0) {
		pr_perror("cannot go back to the restore's directory");
		ret = -1;
	}
out:
	if (here >= 0)
		close(here);
	return ret;
}

static int unix_listen(struct restore_ctx *r, const Fd *f)
{
	struct sockaddr_storage ss = { 0 };
	char name[160];
	int s;

	if (!f->has_sock_local || f->sock_local.len > sizeof(struct sockaddr_un) ||
	    f->sock_local.len < sizeof(sa_family_t)) {
		pr_err("damaged image: the listening socket of fd %d has no address", f->fd);
		return -1;
	}
	memcpy(&ss, f->sock_local.data, f->sock_local.len);
	sock_addr_str(&ss, f->sock_local.len, name, sizeof(name));
	s = socket(AF_UNIX, f->sock_type | SOCK_CLOEXEC, 0);
	if (s < 0) {
		pr_perror("cannot make a unix socket for the job's fd %d", f->fd);
		return -1;
	}
	if (unix_bind(r, s, f, (const struct sockaddr_un *)&ss, f->sock_local.len, name) < 0 ||
	    listen(s, SOMAXCONN) < 0) {
		if (errno != EADDRINUSE)
			pr_perror("cannot listen at %s again for the job's fd %d", name, f->fd);
		close(s);
		return -1;
	}
	add_job_sock(r->socks, f->sock_ino, s);
	return 0;
}

/* The sockets of F, made in init: a pair with its peer (or with an end
 * closed at once when the peer was gone), or a lone unconnected one. */
static int make_socks(struct restore_ctx *r, const Fd *f)
{
	int type = f->sock_type, sv[2], big = 1 << 20;

	if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) {
		pr_err("damaged image: unix socket of fd %d has type %d", f->fd, type);
		return -1;
	}
	if (f->sock_state == TCP_LISTEN)
		return unix_listen(r, f);
	if (!f->sock_peer && f->sock_state != TCP_ESTABLISHED) {
		int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
		if (s < 0) {
			pr_perror("cannot make a unix socket for the job's fd %d", f->fd);
			return -1;
		}
		add_job_sock(r->socks, f->sock_ino, s);
		return 0;
	}
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) {
		pr_perror("cannot make a unix socket pair for the job's fd %d", f->fd);
		return -1;
	}
	add_job_sock(r->socks, f->sock_ino, sv[0]);
	/* Room for what waited, whatever limits the job had set. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (!f->sock_peer) {
		/* Its peer had closed: what it had sent is still to be read. */
		int ret = refill(r, f->sock_ino, sv[1]);
		close(sv[1]);
		return ret;
	}
	add_job_sock(r->socks, f->sock_peer, sv[1]);
	if (refill(r, f->sock_ino, sv[1]) < 0 || refill(r, f->sock_peer, sv[0]) < 0)
		return -1;
	return 0;
}

/* Buffer sizes and shutdown of one end, once its queues are full again. */
static int configure(int s, const Fd *f)
{
	int rcv = f->sock_rcvbuf / 2, snd = f->sock_sndbuf / 2;	/* the kernel doubles them */

	if ((rcv && setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) < 0) ||
	    (snd && setsockopt(s, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) < 0))
		pr_warn("cannot give the socket of the job's fd %d its buffer sizes", f->fd);
	if (((f->sock_shutdown & UNIX_RCV_SHUTDOWN) && shutdown(s, SHUT_RD) < 0 && errno != ENOTCONN) ||
	    ((f->sock_shutdown & UNIX_SEND_SHUTDOWN) && shutdown(s, SHUT_WR) < 0 && errno != ENOTCONN)) {
		pr_perror("cannot shut the socket of the job's fd %d down as it was", f->fd);
		return -1;
	}
	return 0;
}

int unixsk_open(struct restore_ctx *r, const Fd *f)
{
	struct job_sock *js = find_job_sock(r->socks, f->sock_ino);
	int fd;

	if (!js) {
		if (make_socks(r, f) < 0)
			return -1;
		js = find_job_sock(r->socks, f->sock_ino);
	}
	if (!js->configured) {
		if (configure(js->fd, f) < 0)
			return -1;
		js->configured = true;
	}
	fd = fcntl(js->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		pr_perror("cannot duplicate a unix socket for the job's fd %d", f->fd);
		return -1;
	}
	if ((f->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		pr_perror("cannot make the job's fd %d non-blocking", f->fd);
		close(fd);
		return -1;
	}
	return fd;
}

void sock_table_close(struct sock_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		close(t->s[i].fd);
	free(t->s);
	t->s = NULL;
	t->n = 0;
}
