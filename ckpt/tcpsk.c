/* tcpsk.c: TCP connections with both ends in the job (a server and its
 * own clients over the loopback). An ordinary user cannot repair a TCP
 * connection, but both ends are ours: at thaw the client end is bound to
 * its old address and connects to the server's, through the job's own
 * listener when it has one (accepted before the connections that were
 * waiting to be accepted join its queue), or a listener of the moment.
 * What was sent and not read yet is in the receiver's queue by the time
 * it is copied: data still in the sender's queue, held back by the
 * receiver's full window, is let in first by widening that window for a
 * moment. It is sent again from the other end, then each end's shutdown
 * and options. A connection whose other end had closed gets a stand-in
 * that sends what was left and closes again. Before the job is killed,
 * its connections are set to end with a reset: no TIME_WAIT is left to
 * hold their ports against the thaw. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/sockdiag.h"
#include "ckpt/sockopt.h"
#include "ckpt/sockqueue.h"
#include "ckpt/socks.h"
#include "ckpt/util.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#define RCV_SHUTDOWN 1
#define SEND_SHUTDOWN 2
#define DRAIN_MS 3000        /* how long data in flight may take to land */
#define WIDE (1 << 30)

static bool is_tcp(const Fd *f)
{
	return f->kind == FD__KIND__INET_SOCK && f->sock_proto == IPPROTO_TCP;
}

static bool connected(const Fd *f)
{
	return is_tcp(f) && f->sock_state != TCP_LISTEN && f->sock_state != TCP_CLOSE &&
	       f->has_sock_remote && f->has_sock_local;
}

static void addr(const ProtobufCBinaryData *b, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (b->len)	/* (an address not recorded has no data) */
		memcpy(ss, b->data, b->len < sizeof(*ss) ? b->len : sizeof(*ss));
}

/* Whether a listener bound at L takes connections to A */
static bool takes(const Fd *l, const ProtobufCBinaryData *a)
{
	struct sockaddr_storage x, y, vx, vy;

	addr(&l->sock_local, &x);
	addr(a, &y);
	if (sock_addr_eq(&x, &y))
		return true;
	sock_addr_v6(&x, &vx);
	sock_addr_v6(&y, &vy);
	return sock_wildcard(&x) && ((struct sockaddr_in6 *)&vx)->sin6_port ==
			       ((struct sockaddr_in6 *)&vy)->sin6_port;
}

static bool ends_meet(const Fd *a, const Fd *b)
{
	struct sockaddr_storage al, ar, bl, br;

	addr(&a->sock_local, &al);
	addr(&a->sock_remote, &ar);
	addr(&b->sock_local, &bl);
	addr(&b->sock_remote, &br);
	return sock_addr_eq(&al, &br) && sock_addr_eq(&ar, &bl);
}

/* ---- dump --------------------------------------------------------------- */

static const struct inet_diag_info *other_end(const struct inet_diag_info *l, size_t n, const Fd *f)
{
	struct sockaddr_storage loc, rem;

	addr(&f->sock_local, &loc);
	addr(&f->sock_remote, &rem);
	for (size_t i = 0; i < n; i++)
		if (sock_addr_eq(&l[i].local, &rem) && sock_addr_eq(&l[i].remote, &loc))
			return &l[i];
	return NULL;
}

static struct sk_ref *job_listener(const struct sk_index *ix, const ProtobufCBinaryData *a)
{
	for (size_t i = 0; i < ix->n; i++)
		if (is_tcp(ix->r[i].f) && ix->r[i].f->sock_state == TCP_LISTEN &&
		    ix->r[i].f->has_sock_local && takes(ix->r[i].f, a))
			return &ix->r[i];
	return NULL;
}

/* Its other end: in the job; waiting in a listener's queue; closed; or
 * outside (refused, or found reset with --tcp-close). */
static int find_peer(const struct sk_index *ix, struct sk_ref *x, const struct inet_diag_info *l,
		     size_t n)
{
	Fd *f = x->f;
	const struct inet_diag_info *d;
	char loc[160], rem[160];

	for (size_t i = 0; i < ix->n; i++)
		if (ix->r[i].f != f && connected(ix->r[i].f) && ends_meet(f, ix->r[i].f)) {
			f->has_sock_peer = 1;
			f->sock_peer = ix->r[i].f->sock_ino;
			return 0;
		}
	sock_bin_str(&f->sock_local, loc, sizeof(loc));
	sock_bin_str(&f->sock_remote, rem, sizeof(rem));
	d = other_end(l, n, f);
	if (d && !d->ino && (d->state == TCP_ESTABLISHED || d->state == TCP_SYN_RECV)) {
		struct sk_ref *ls = job_listener(ix, &f->sock_remote);
		if (ls) {
			if (d->rqueue) {
				pr_err("process %d: fd %d sent %u bytes on its connection to %s, which "
				       "the job has not accepted yet: they cannot be read to save them; "
				       "try again once it is accepted", x->c->pid, f->fd, d->rqueue, rem);
				return -1;
			}
			f->has_sock_listener = 1;
			f->sock_listener = ls->f->sock_ino;
			ls->f->sock_pending = xrealloc(ls->f->sock_pending,
						       (ls->f->n_sock_pending + 1) * sizeof(uint64_t));
			ls->f->sock_pending[ls->f->n_sock_pending++] = f->sock_ino;
			return 0;
		}
	} else if (!d || !d->ino) {
		/* closing (FIN_WAIT, TIME_WAIT...) or gone: what it sent is
		 * still to be read, then the end */
		f->has_sock_peer_gone = f->sock_peer_gone = 1;
		return 0;
	}
	if (!x->c->o->tcp_close) {
		pr_err("process %d: fd %d is a TCP socket (local %s, peer %s): a network connection "
		       "cannot be frozen; dump --tcp-close drops it (the thawed job finds it reset)",
		       x->c->pid, f->fd, loc, rem);
		return -1;
	}
	pr_info("process %d: fd %d, TCP connection %s to %s, will be found reset", x->c->pid, f->fd,
		loc, rem);
	return 0;
}

static int outq(int s)
{
	int n = 0;

	if (ioctl(s, SIOCOUTQ, &n) < 0)
		return -1;
	return n;
}

struct window {
	int rcvbuf, locks, clamp;
	bool wide;
};

static void widen(int s, struct window *w)
{
	socklen_t l = sizeof(int);
	int big = WIDE;

	getsockopt(s, SOL_SOCKET, SO_RCVBUF, &w->rcvbuf, &l);
	l = sizeof(int);
	if (getsockopt(s, SOL_SOCKET, SO_BUF_LOCK, &w->locks, &l) < 0)
		w->locks = -1;
	l = sizeof(int);
	getsockopt(s, IPPROTO_TCP, TCP_WINDOW_CLAMP, &w->clamp, &l);
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(s, IPPROTO_TCP, TCP_WINDOW_CLAMP, &big, sizeof(big));
	w->wide = true;
}

static void narrow(int s, const struct window *w)
{
	int half = w->rcvbuf / 2;

	if (!w->wide)
		return;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &half, sizeof(half));
	if (w->locks >= 0)
		setsockopt(s, SOL_SOCKET, SO_BUF_LOCK, &w->locks, sizeof(w->locks));
	setsockopt(s, IPPROTO_TCP, TCP_WINDOW_CLAMP, &w->clamp, sizeof(w->clamp));
}

/* Waits until all that X's peer (SENDER, or -1: a closed one, known by
 * the kernel's list) sent is in X's receive queue, widening X's window
 * when it holds data back; 0 once there, -1 (said) if it stays out. */
static int drain(struct sk_ref *x, int s, int sender)
{
	struct window w = { 0 };
	int64_t end = now_ns() + DRAIN_MS * 1000000LL;
	char c, loc[160];
	int left = 0;

	for (int round = 0;; round++) {
		if (sender >= 0)
			left = outq(sender);
		else {
			struct inet_diag_info *l;
			size_t n;
			const struct inet_diag_info *d;
			if (inet_diag_list(IPPROTO_TCP, &l, &n) < 0)
				return -1;
			d = other_end(l, n, x->f);
			left = d ? (int)d->wqueue : 0;
			free(l);
		}
		if (left <= 0 || now_ns() > end)
			break;
		if (round == 2)
			widen(s, &w);
		/* a peek makes the receiver say how much room it has now */
		recv(s, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		usleep(round < 10 ? 100 : 1000);
	}
	narrow(s, &w);
	if (left > 0) {
		sock_bin_str(&x->f->sock_local, loc, sizeof(loc));
		pr_err("process %d: %d bytes sent to fd %d (TCP, %s) by the other end in the job do "
		       "not get into its receive queue: try again", x->c->pid, left, x->f->fd, loc);
		return -1;
	}
	return 0;
}

static int save_queue(const struct sk_index *ix, struct sk_ref *x)
{
	struct sk_ref *p = x->f->sock_peer ? sk_index_find(ix, x->f->sock_peer) : NULL;
	int s = sk_grab(x), sender = -1, ret = -1;
	char what[96];
	uint64_t bytes;

	if (s < 0)
		return -1;
	if (p && (sender = sk_grab(p)) < 0)
		goto out;
	snprintf(what, sizeof(what), "the TCP socket of fd %d of process %d", x->f->fd, x->c->pid);
	if (drain(x, s, sender) == 0)
		ret = sockq_save(x->c, s, x->f, what, NULL, NULL, &bytes);
out:
	if (sender >= 0)
		close(sender);
	close(s);
	return ret;
}

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int tcpsk_dump_job(const struct sk_index *ix)
{
	struct inet_diag_info *l = NULL;
	size_t n = 0, mine;
	bool any = false;
	int ret = -1;

	for (size_t i = 0; i < ix->n; i++)
		any |= is_tcp(ix->r[i].f);
	if (!any)
		return 0;
	if (inet_diag_list(IPPROTO_TCP, &l, &n) < 0)
		return -1;
	for (size_t i = 0; i < ix->n; i++)
		if (connected(ix->r[i].f) && find_peer(ix, &ix->r[i], l, n) < 0)
			goto out;
	for (size_t i = 0; i < ix->n; i++) {
		Fd *f = ix->r[i].f;
		const struct inet_diag_info *d = NULL;
		char loc[160];

		if (!is_tcp(f) || f->sock_state != TCP_LISTEN)
			continue;
		/* (created in this order: about the order they were accepted in) */
		if (f->n_sock_pending)	/* (qsort wants an array, even of nothing) */
			qsort(f->sock_pending, f->n_sock_pending, sizeof(uint64_t), cmp_ino);
		for (size_t k = 0; k < n && !d; k++)
			if (l[k].ino == f->sock_ino)
				d = &l[k];
		mine = f->n_sock_pending;
		if (d && d->rqueue > mine && !ix->r[i].c->o->tcp_close) {
			sock_bin_str(&f->sock_local, loc, sizeof(loc));
			pr_err("process %d: %u connections from outside the job to %s wait to be "
			       "accepted on fd %d: freezing would cut them off; dump --tcp-close drops "
			       "them", ix->r[i].c->pid, d->rqueue - (unsigned)mine, loc, f->fd);
			goto out;
		}
	}
	for (size_t i = 0; i < ix->n; i++)
		if (is_tcp(ix->r[i].f) && (ix->r[i].f->sock_peer || ix->r[i].f->sock_peer_gone) &&
		    save_queue(ix, &ix->r[i]) < 0)
			goto out;
	ret = 0;
out:
	free(l);
	return ret;
}

void tcpsk_abort(const struct sk_index *ix)
{
	struct linger lg = { 1, 0 };

	for (size_t i = 0; i < ix->n; i++) {
		const Fd *f = ix->r[i].f;
		int s;

		if (!connected(f) || !(f->sock_peer || f->sock_peer_gone || f->sock_listener))
			continue;
		s = sk_grab(&ix->r[i]);
		if (s < 0)
			continue;
		if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
			pr_warn("the TCP connection of fd %d of process %d may hold its port for a "
				"minute after the job is killed", f->fd, ix->r[i].c->pid);
		close(s);
	}
}

/* ---- restore ------------------------------------------------------------ */

static struct job_sock *listener_for(struct sock_table *t, const ProtobufCBinaryData *a)
{
	for (size_t i = 0; i < t->n; i++)
		if (is_tcp(t->s[i].f) && t->s[i].f->sock_state == TCP_LISTEN && t->s[i].fd >= 0 &&
		    t->s[i].f->has_sock_local && takes(t->s[i].f, a))
			return &t->s[i];
	return NULL;
}

/* A socket for end F, bound at its address, its window wide open for
 * what will be queued to it */
static int bound_end(const Fd *f)
{
	int s = sock_new(f), big = WIDE;

	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(s, IPPROTO_TCP, TCP_WINDOW_CLAMP, &big, sizeof(big));
	if (inet_bind(s, f) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* CLIENT connects to TO, and the other end is accepted: by the job's
 * listener there, or one made for the moment. F names the job's fd. */
static int connect_accept(struct sock_table *t, int client, const ProtobufCBinaryData *to,
			  const Fd *f)
{
	struct job_sock *l = listener_for(t, to);
	struct sockaddr_storage a;
	socklen_t la;
	int tmp = -1, s = -1, one = 1;
	char name[160];

	sock_bin_str(to, name, sizeof(name));
	if (sock_addr_of(to, f, &a, &la) < 0)
		return -1;
	if (!l) {
		tmp = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (tmp < 0 || setsockopt(tmp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(tmp, (struct sockaddr *)&a, la) < 0 || listen(tmp, 1) < 0) {
			if (errno == EADDRINUSE)
				pr_err("the job's fd %d was connected to %s, which another program "
				       "uses now: stop it, then thaw again", f->fd, name);
			else
				pr_perror("cannot listen at %s to connect the job's fd %d again", name,
					  f->fd);
			goto out;
		}
	}
	/* (a client of an IPv6 listener may be an IPv4 socket: mapped back) */
	struct sockaddr_storage ca;
	int family = 0;
	socklen_t lf = sizeof(family), lca;
	getsockopt(client, SOL_SOCKET, SO_DOMAIN, &family, &lf);
	lca = sock_addr_as(family, &a, &ca);
	if (!lca || connect(client, (struct sockaddr *)&ca, lca) < 0) {
		pr_perror("cannot connect the job's fd %d to %s again", f->fd, name);
		goto out;
	}
	s = accept4(l ? l->fd : tmp, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		pr_perror("cannot accept the connection of the job's fd %d again", f->fd);
	else {
		int big = WIDE;
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		setsockopt(s, IPPROTO_TCP, TCP_WINDOW_CLAMP, &big, sizeof(big));
	}
out:
	if (tmp >= 0)
		close(tmp);
	return s;
}

/* A connection of the job: the end that was accepted from a listener of
 * the job (or else either) is made by accept. */
static int make_pair(struct sock_table *t, struct job_sock *x, struct job_sock *p)
{
	struct job_sock *server = x, *client = p;

	if (listener_for(t, &p->f->sock_local) ||
	    (!listener_for(t, &x->f->sock_local) && p->ino > x->ino)) {
		server = p;
		client = x;
	}
	client->fd = bound_end(client->f);
	if (client->fd < 0)
		return -1;
	server->fd = connect_accept(t, client->fd, &server->f->sock_local, server->f);
	if (server->fd < 0)
		return -1;
	x->connected = p->connected = true;
	return 0;
}

/* An end whose other end had closed: connected to a stand-in at the old
 * peer's address, which sends what was left and closes. */
static int make_orphan(struct sock_table *t, struct job_sock *x)
{
	const Fd *f = x->f;
	Fd stand = *f;
	int s;

	if (listener_for(t, &f->sock_local)) {
		/* it was accepted: the stand-in connects from the peer's address */
		stand.sock_local = f->sock_remote;
		stand.n_sock_opts = 0;
		x->partner = bound_end(&stand);
		if (x->partner < 0)
			return -1;
		x->fd = connect_accept(t, x->partner, &f->sock_local, f);
		return x->fd < 0 ? -1 : 0;
	}
	x->fd = bound_end(f);
	if (x->fd < 0)
		return -1;
	s = connect_accept(t, x->fd, &f->sock_remote, f);
	if (s < 0)
		return -1;
	x->partner = s;
	return 0;
}

/* Sends LEN bytes through S, waiting for room as long as the receiver
 * takes them in. */
static int send_all(int s, const char *data, size_t len, const char *what)
{
	int64_t end = now_ns() + DRAIN_MS * 1000000LL;

	while (len) {
		ssize_t n = send(s, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			pr_perror("cannot queue again what waited in %s", what);
			return -1;
		}
		if (now_ns() > end) {
			pr_err("%zu bytes that waited in %s find no room again", len, what);
			return -1;
		}
		poll(&(struct pollfd){ .fd = s, .events = POLLOUT }, 1, 10);
	}
	return 0;
}

struct tcp_send {
	int from;
	char what[64];
};

static int tcp_send(void *arg, const struct sock_msg *m)
{
	struct tcp_send *u = arg;

	if (m->fds || m->from) {
		pr_err("damaged image: a record of %s", u->what);
		return -1;
	}
	return send_all(u->from, m->data, m->len, u->what);
}

/* A TCP socket come back closed, as CLOSE as one whose both ends said
 * FIN: it reads the end of the stream, without an error. Its own address
 * is not taken (a connection to a listener of the moment on the loopback,
 * closed both ways). */
static int close_one(struct job_sock *x, struct image_dir *dir)
{
	const Fd *f = x->f;
	struct sockaddr_storage a = { 0 };
	socklen_t la = f->sock_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	struct tcp_info ti;
	int l = -1, peer = -1, ret = -1;

	a.ss_family = f->sock_family;
	if (f->sock_family == AF_INET6) {
		struct sockaddr_in6 i = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		memcpy(&a, &i, sizeof(i));
	} else {
		struct sockaddr_in i = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		memcpy(&a, &i, sizeof(i));
	}
	x->fd = sock_new(f);
	l = socket(f->sock_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (x->fd < 0 || l < 0 || bind(l, (struct sockaddr *)&a, la) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &la) < 0 ||
	    connect(x->fd, (struct sockaddr *)&a, la) < 0 ||
	    (peer = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		pr_perror("cannot make a closed TCP socket for the job's fd %d", f->fd);
		goto out;
	}
	if (dir) {
		/* what it had still to read comes before the end */
		struct tcp_send u = { peer, "" };
		snprintf(u.what, sizeof(u.what), "the closed TCP socket of the job's fd %d", f->fd);
		if (sockq_refill(dir, x->ino, tcp_send, &u) < 0)
			goto out;
	}
	if (shutdown(peer, SHUT_WR) < 0) {
		pr_perror("cannot make a closed TCP socket for the job's fd %d", f->fd);
		goto out;
	}
	/* its FIN is in once the end reads as such; then ours, and its ACK */
	poll(&(struct pollfd){ .fd = x->fd, .events = POLLRDHUP }, 1, DRAIN_MS);
	if (shutdown(x->fd, SHUT_WR) < 0) {
		pr_perror("cannot close the TCP socket of the job's fd %d", f->fd);
		goto out;
	}
	for (int64_t end = now_ns() + DRAIN_MS * 1000000LL; now_ns() < end; usleep(200)) {
		socklen_t lt = sizeof(ti);
		if (getsockopt(x->fd, IPPROTO_TCP, TCP_INFO, &ti, &lt) == 0 && ti.tcpi_state == TCP_CLOSE) {
			ret = 0;
			break;
		}
	}
	if (ret < 0)
		pr_err("the TCP socket of the job's fd %d does not close", f->fd);
	x->closed = true;
out:
	if (peer >= 0)
		close(peer);
	if (l >= 0)
		close(l);
	return ret;
}

int tcpsk_close_all(struct sock_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const Fd *f = t->s[i].f;
		if (is_tcp(f) && t->s[i].fd < 0 && f->sock_state != TCP_LISTEN && f->has_sock_remote &&
		    close_one(&t->s[i], NULL) < 0)
			return -1;
	}
	return 0;
}

int tcpsk_build(struct sock_table *t, struct image_dir *dir)
{
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *x = &t->s[i], *p;

		if (!is_tcp(x->f) || x->fd >= 0 || !x->f->sock_peer)
			continue;
		p = sock_find(t, x->f->sock_peer);
		if (!p || p->fd >= 0 || !is_tcp(p->f)) {
			pr_err("damaged image: the other end of the TCP connection of fd %d",
			       x->f->fd);
			return -1;
		}
		if (make_pair(t, x, p) < 0)
			return -1;
	}
	/* the connections the listeners had not accepted, in their order */
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *l = &t->s[i];
		if (!is_tcp(l->f) || l->f->sock_state != TCP_LISTEN)
			continue;
		for (size_t k = 0; k < l->f->n_sock_pending; k++) {
			struct job_sock *c = sock_find(t, l->f->sock_pending[k]);
			struct sockaddr_storage a;
			socklen_t la;
			char name[160];
			if (!c || c->fd >= 0)
				continue;
			c->fd = bound_end(c->f);
			if (c->fd < 0 || sock_addr_of(&c->f->sock_remote, c->f, &a, &la) < 0)
				return -1;
			if (connect(c->fd, (struct sockaddr *)&a, la) < 0) {
				sock_bin_str(&c->f->sock_remote, name, sizeof(name));
				pr_perror("cannot connect the job's fd %d to %s again", c->f->fd, name);
				return -1;
			}
			c->connected = true;
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *x = &t->s[i];
		if (!is_tcp(x->f) || x->fd >= 0 || !x->f->sock_peer_gone)
			continue;
		if ((x->f->sock_state == TCP_CLOSE ? close_one(x, dir) : make_orphan(t, x)) < 0)
			return -1;
	}
	return 0;
}


int tcpsk_refill(struct sock_table *t, struct image_dir *dir)
{
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *x = &t->s[i], *p;
		struct tcp_send u;

		if (!is_tcp(x->f) || x->closed || !(x->f->sock_peer || x->partner >= 0))
			continue;
		p = x->f->sock_peer ? sock_find(t, x->f->sock_peer) : NULL;
		u.from = x->partner >= 0 ? x->partner : p ? p->fd : -1;
		snprintf(u.what, sizeof(u.what), "the TCP socket of the job's fd %d", x->f->fd);
		if (u.from < 0 || sockq_refill(dir, x->ino, tcp_send, &u) < 0)
			return -1;
	}
	return 0;
}

/* Its options; a FIN the end had sent is sent again; a FIN it had
 * received came from its peer's shutdown (or its stand-in's close) and
 * needs nothing more. */
int tcpsk_configure(struct job_sock *js)
{
	const Fd *f = js->f;

	if (sockopt_restore(js->fd, f, SOCKOPT_FINAL) < 0)
		return -1;
	int how = f->has_sock_shutdown && !js->closed ? f->sock_shutdown : 0;

	if ((how & SEND_SHUTDOWN) && shutdown(js->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
		pr_perror("cannot shut the TCP socket of the job's fd %d down as it was", f->fd);
		return -1;
	}
	if ((how & RCV_SHUTDOWN) && !f->sock_peer_gone && f->sock_peer) {
		/* RCV without the peer's FIN: its own shutdown(SHUT_RD) */
		if (f->sock_state == TCP_CLOSE_WAIT || f->sock_state == TCP_LAST_ACK)
			return 0;
		if (shutdown(js->fd, SHUT_RD) < 0 && errno != ENOTCONN) {
			pr_perror("cannot shut the TCP socket of the job's fd %d down as it was", f->fd);
			return -1;
		}
	}
	return 0;
}
