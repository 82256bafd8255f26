/* socks.c: the sockets of a job as a whole. At dump, after every process
 * is read: each socket once, against the others (a peer, a listener, a
 * sender in the job or not), and what waits in its queue. At restore,
 * before any process's fds are opened: every socket of the job is made in
 * init, in an order that lets names, listeners and connections be as they
 * were (unixsk.c, inetsk.c, tcpsk.c); once the files are all open (what
 * was in flight in a queue among them), the queues are filled again, the
 * stand-ins of closed peers close, and each socket gets its options and
 * shutdown. The fds of the job are duplicates of these. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/passedfd.h"
#include "ckpt/skplace.h"
#include "ckpt/socks.h"
#include "ckpt/util.h"

static bool is_sock(const Fd *f)
{
	return f->kind == FD__KIND__UNIX_SOCK || f->kind == FD__KIND__INET_SOCK;
}

/* ---- dump --------------------------------------------------------------- */

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
	f->has_sock_ino = 1;
	f->sock_ino = ino;
	if (family == AF_UNIX)
		ret = unixsk_dump(c, s, f, ino);
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

int unixsk_check_peers(struct dump_ctx *ctx, size_t n)
{
	struct sk_index ix;
	int ret;

	if (passedfd_discover(ctx, n) < 0)
		return -1;
	sk_index_build(ctx, n, &ix);
	ret = unixsk_dump_job(&ix) < 0 || tcpsk_dump_job(&ix) < 0 || inetsk_dump_job(&ix) < 0 ? -1 : 0;
	sk_index_free(&ix);
	return ret;
}

void socks_abort(struct dump_ctx *ctx, size_t n)
{
	struct sk_index ix;

	sk_index_build(ctx, n, &ix);
	tcpsk_abort(&ix);
	sk_index_free(&ix);
}

/* ---- restore ------------------------------------------------------------ */

int socks_prepare(struct sock_table *t, struct restore_ctx *procs, size_t n)
{
	t->procs = procs;
	t->nr_procs = n;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; procs[i].img && k < procs[i].img->n_fds + procs[i].img->n_inflight; k++) {
			const Process *img = procs[i].img;
			const Fd *f = k < img->n_fds ? img->fds[k] : img->inflight[k - img->n_fds];
			if (!is_sock(f) || sock_find_fd(t, f))
				continue;
			if (f->kind == FD__KIND__UNIX_SOCK && !f->has_sock_ino) {
				pr_err("damaged image: the unix socket of fd %d", f->fd);
				return -1;
			}
			t->s = xrealloc(t->s, (t->n + 1) * sizeof(*t->s));
			t->s[t->n++] = (struct job_sock){ .ino = f->has_sock_ino ? f->sock_ino : 0,
							  .fd = -1, .f = f, .partner = -1 };
		}
	if (unixsk_build(t) < 0 || (n && procs[0].o->tcp_close && tcpsk_close_all(t) < 0) ||
	    inetsk_build(t) < 0 || tcpsk_build(t, n ? procs[0].dir : NULL) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].fd < 0) {
			pr_err("damaged image: nothing makes the socket of the job's fd %d again",
			       t->s[i].f->fd);
			return -1;
		}
	return 0;
}

int socks_finish(struct sock_table *t, struct image_dir *dir)
{
	if (unixsk_refill(t, dir) < 0 || inetsk_refill(t, dir) < 0 || tcpsk_refill(t, dir) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *js = &t->s[i];
		if (js->partner >= 0) {
			close(js->partner);	/* the closed peer closes again */
			js->partner = -1;
		}
		if (js->via) {
			if (unlink(js->via) < 0)
				pr_perror("cannot unlink %s again", js->via);
			free(js->via);
			js->via = NULL;
		}
	}
	/* (once every hidden file is gone: another socket may have been
	 * bound in a directory made for the first) */
	for (size_t i = 0; i < t->n; i++) {
		skplace_remove(t->s[i].place);
		free(t->s[i].place);
		t->s[i].place = NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *js = &t->s[i];
		const Fd *f = js->f;
		if ((f->kind == FD__KIND__UNIX_SOCK ? unixsk_configure(js) :
		     f->sock_type == SOCK_STREAM ? tcpsk_configure(js) : inetsk_configure(js)) < 0)
			return -1;
		js->configured = true;
	}
	return 0;
}

void sock_table_close(struct sock_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->s[i].fd >= 0)
			close(t->s[i].fd);
		if (t->s[i].partner >= 0)
			close(t->s[i].partner);
		if (t->s[i].via)
			unlink(t->s[i].via);
		free(t->s[i].via);
	}
	for (size_t i = 0; i < t->n; i++) {
		skplace_remove(t->s[i].place);
		free(t->s[i].place);
	}
	free(t->s);
	t->s = NULL;
	t->n = 0;
}
