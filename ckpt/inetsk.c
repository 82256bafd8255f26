/* inetsk.c: TCP, UDP and UDP-Lite sockets, IPv4 and IPv6. A socket comes
 * back bound to its address and port, listening with its backlog, a
 * datagram socket connected to its peer (UDP has no connection state to
 * lose: its peer may be anywhere), with its options; the datagrams waiting
 * in it are sent again from their senders' addresses. TCP connections
 * with both ends in the job are made again between those ends (tcpsk.c);
 * a connection to the network is refused, naming both addresses, unless
 * the user accepts to lose it (dump --tcp-close): the thawed job then
 * finds it reset, as after a network loss. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/sockdiag.h"
#include "ckpt/sockopt.h"
#include "ckpt/sockqueue.h"
#include "ckpt/socks.h"
#include "ckpt/util.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

static bool has_port(const struct sockaddr_storage *a, socklen_t len)
{
	if (a->ss_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ((const struct sockaddr_in *)a)->sin_port != 0;
	if (a->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return ((const struct sockaddr_in6 *)a)->sin6_port != 0;
	return false;
}

static const char *proto_name(int proto)
{
	return proto == IPPROTO_TCP ? "TCP" : proto == IPPROTO_UDP ? "UDP" :
	       proto == IPPROTO_UDPLITE ? "UDP-Lite" : NULL;
}

int inet_dump(struct dump_ctx *c, int s, Fd *f, int family)
{
	struct sockaddr_storage a = { 0 }, b = { 0 };
	socklen_t la = sizeof(a), lb = sizeof(b), l;
	char local[160] = "(none)", peer[160] = "(none)";
	int type = 0, proto = 0, listening = 0, state = TCP_CLOSE;
	bool connected, ended = false;

	l = sizeof(int);
	if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &l) < 0 ||
	    (l = sizeof(int), getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &proto, &l)) < 0 ||
	    (l = sizeof(int), getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l)) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &la) < 0) {
		pr_perror("process %d: cannot read the socket of fd %d", c->pid, f->fd);
		return -1;
	}
	connected = getpeername(s, (struct sockaddr *)&b, &lb) == 0;
	sock_addr_str(&a, la, local, sizeof(local));
	if (connected)
		sock_addr_str(&b, lb, peer, sizeof(peer));
	const char *what = proto_name(proto);
	if (!what || (type != SOCK_STREAM && type != SOCK_DGRAM)) {
		pr_err("process %d: fd %d is a network socket of protocol %d (local %s, peer %s), "
		       "which jobfreeze cannot freeze", c->pid, f->fd, proto, local, peer);
		return -1;
	}
	if (proto == IPPROTO_TCP) {
		struct tcp_info ti;
		l = sizeof(ti);
		if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0) {
			pr_perror("process %d: cannot read the TCP state of fd %d", c->pid, f->fd);
			return -1;
		}
		state = ti.tcpi_state;
		if (state == TCP_SYN_SENT || state == TCP_SYN_RECV) {
			pr_err("process %d: fd %d is a TCP connection from %s being made: try again "
			       "in a moment", c->pid, f->fd, local);
			return -1;
		}
		/* a connection over (both FINs, or a reset): it holds no port any
		 * more, reads its end (and what was left) */
		ended = state == TCP_CLOSE && !listening && ti.tcpi_advmss > 0;
		if (ended)
			f->has_sock_peer_gone = f->sock_peer_gone = 1;
	} else if (connected)
		state = TCP_ESTABLISHED;
	f->kind = FD__KIND__INET_SOCK;
	f->has_sock_family = f->has_sock_type = f->has_sock_proto = f->has_sock_state = 1;
	f->sock_family = family;
	f->sock_type = type;
	f->sock_proto = proto;
	f->sock_state = listening ? TCP_LISTEN : state;
	if (has_port(&a, la) && !ended)
		sock_set_bytes(&f->sock_local, &f->has_sock_local, &a, la);
	if (connected)
		sock_set_bytes(&f->sock_remote, &f->has_sock_remote, &b, lb);
	return sockopt_dump(c->pid, s, f, proto == IPPROTO_TCP && (connected || ended));
}

/* Whether a socket bound at L receives what is sent to A */
static bool receives(const struct sockaddr_storage *l, const struct sockaddr_storage *a)
{
	return sock_addr_eq(l, a) || (sock_wildcard(l) && sock_port(l) == sock_port(a));
}

struct udp_check {
	const struct sk_index *ix;
	const struct inet_diag_info *list;
	size_t n;
	int proto;
	const char *what;
};

/* A datagram comes back sent from its sender's address: one of the job's
 * sockets, or a port nobody holds now (bound for the moment at the thaw). */
static int check_udp_sender(void *arg, const struct sockaddr_storage *from, socklen_t len)
{
	struct udp_check *u = arg;
	char name[160];

	for (size_t i = 0; i < u->ix->n; i++) {
		const Fd *g = u->ix->r[i].f;
		struct sockaddr_storage l = { 0 };
		if (g->kind != FD__KIND__INET_SOCK || (int)g->sock_proto != u->proto ||
		    !g->has_sock_local || g->sock_local.len > sizeof(l))
			continue;
		memcpy(&l, g->sock_local.data, g->sock_local.len);
		if (receives(&l, from))
			return 0;
	}
	for (size_t i = 0; i < u->n; i++)
		if (receives(&u->list[i].local, from)) {
			sock_addr_str(from, len, name, sizeof(name));
			pr_err("a datagram from %s, a socket outside the job, waits in %s: it could "
			       "not be sent from there again; try again once it is read", name, u->what);
			return -1;
		}
	return 0;
}

static const struct inet_diag_info *diag_find(const struct inet_diag_info *l, size_t n, uint64_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].ino == ino)
			return &l[i];
	return NULL;
}

/* Shutdown states and backlogs as the kernel lists them; what waits in the
 * datagram sockets. */
static int dump_proto(const struct sk_index *ix, int proto)
{
	struct inet_diag_info *list = NULL;
	size_t n = 0;
	bool any = false;
	int ret = -1;

	for (size_t i = 0; i < ix->n; i++)
		any |= ix->r[i].f->kind == FD__KIND__INET_SOCK && (int)ix->r[i].f->sock_proto == proto;
	if (!any)
		return 0;
	if (inet_diag_list(proto, &list, &n) < 0)
		return -1;
	for (size_t i = 0; i < ix->n; i++) {
		struct sk_ref *x = &ix->r[i];
		Fd *f = x->f;
		const struct inet_diag_info *d;
		char what[96];
		uint64_t bytes;
		int s;

		if (f->kind != FD__KIND__INET_SOCK || (int)f->sock_proto != proto)
			continue;
		if ((d = diag_find(list, n, f->sock_ino))) {
			f->has_sock_shutdown = 1;
			f->sock_shutdown = d->shutdown;
			if (f->sock_state == TCP_LISTEN) {
				f->has_sock_backlog = 1;
				f->sock_backlog = d->wqueue;
			}
		}
		if (proto == IPPROTO_TCP)
			continue;
		snprintf(what, sizeof(what), "the %s socket of fd %d of process %d",
			 proto_name(proto), f->fd, x->c->pid);
		struct udp_check u = { ix, list, n, proto, what };
		s = sk_grab(x);
		if (s < 0 || sockq_save(x->c, s, f, what, check_udp_sender, &u, &bytes) < 0) {
			if (s >= 0)
				close(s);
			goto out;
		}
		close(s);
	}
	ret = 0;
out:
	free(list);
	return ret;
}

int inetsk_dump_job(const struct sk_index *ix)
{
	if (dump_proto(ix, IPPROTO_TCP) < 0 || dump_proto(ix, IPPROTO_UDP) < 0 ||
	    dump_proto(ix, IPPROTO_UDPLITE) < 0)
		return -1;
	return 0;
}

/* ---- restore ------------------------------------------------------------ */

static bool is_inet(const struct job_sock *js)
{
	return js->f->kind == FD__KIND__INET_SOCK;
}

/* Makes S, a new TCP socket, one whose connection was reset: connected to
 * a listener of our own on the loopback, whose side is closed at once
 * with SO_LINGER 0 (an RST). Its first read gives ECONNRESET, then EOF. */
static int reset_tcp(int s, int family, const Fd *f)
{
	struct sockaddr_storage a = { 0 };
	socklen_t la;
	struct linger lg = { 1, 0 };
	int lst, acc = -1, ret = -1;

	if (family == AF_INET) {
		struct sockaddr_in *in = (void *)&a;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		la = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (void *)&a;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		la = sizeof(*in6);
	}
	lst = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lst < 0 || bind(lst, (struct sockaddr *)&a, la) < 0 || listen(lst, 1) < 0 ||
	    getsockname(lst, (struct sockaddr *)&a, &la) < 0 || connect(s, (struct sockaddr *)&a, la) < 0 ||
	    (acc = accept4(lst, NULL, NULL, SOCK_CLOEXEC)) < 0 ||
	    setsockopt(acc, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0) {
		pr_perror("cannot make a reset connection on the loopback for the job's fd %d", f->fd);
		goto out;
	}
	ret = 0;
out:
	if (acc >= 0)
		close(acc);	/* the RST */
	if (lst >= 0)
		close(lst);
	return ret;
}

/* Everything but the TCP connections inside the job (tcpsk.c) */
static int make_one(struct job_sock *js)
{
	const Fd *f = js->f;
	char addr[160] = "";
	int s;

	if ((f->sock_family != AF_INET && f->sock_family != AF_INET6) ||
	    (f->sock_type != SOCK_STREAM && f->sock_type != SOCK_DGRAM)) {
		pr_err("damaged image: the network socket of fd %d", f->fd);
		return -1;
	}
	if (f->sock_type == SOCK_STREAM && (f->sock_peer || f->sock_peer_gone || f->sock_listener))
		return 0;	/* a connection inside the job: tcpsk.c */
	s = js->fd = sock_new(f);
	if (s < 0)
		return -1;
	/* (a connection found reset needs no address: its old one may still
	 * be held by the end of the connection it was) */
	if (f->has_sock_local && !(f->sock_type == SOCK_STREAM && f->has_sock_remote) &&
	    inet_bind(s, f) < 0)
		return -1;
	if (f->has_sock_local)
		sock_bin_str(&f->sock_local, addr, sizeof(addr));
	if (f->sock_state == TCP_LISTEN &&
	    listen(s, f->has_sock_backlog ? (int)f->sock_backlog : SOMAXCONN) < 0) {
		pr_perror("cannot listen at %s again for the job's fd %d", addr, f->fd);
		return -1;
	}
	if (f->has_sock_remote) {
		struct sockaddr_storage b;
		socklen_t lb;
		if (f->sock_type == SOCK_STREAM)
			return reset_tcp(s, f->sock_family, f);
		if (sock_addr_of(&f->sock_remote, f, &b, &lb) < 0)
			return -1;
		if (connect(s, (struct sockaddr *)&b, lb) < 0) {
			sock_bin_str(&f->sock_remote, addr, sizeof(addr));
			pr_perror("cannot point the job's socket (fd %d) at its peer %s again", f->fd,
				  addr);
			return -1;
		}
	}
	return 0;
}

int inetsk_build(struct sock_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (is_inet(&t->s[i]) && t->s[i].fd < 0 && make_one(&t->s[i]) < 0)
			return -1;
	return 0;
}

/* Where a datagram for TO is sent: its own address, the loopback when it
 * was bound to any, in the family of the sender */
static int dest_of(const struct job_sock *to, const struct sockaddr_storage *from,
		   struct sockaddr_storage *d, socklen_t *ld)
{
	struct sockaddr_storage l;
	socklen_t ll;

	if (!to->f->has_sock_local || sock_addr_of(&to->f->sock_local, to->f, &l, &ll) < 0) {
		pr_err("nobody can send again what waited in the unbound socket of fd %d",
		       to->f->fd);
		return -1;
	}
	memset(d, 0, sizeof(*d));
	if (from->ss_family == AF_INET) {
		struct sockaddr_in *i = (void *)d;
		i->sin_family = AF_INET;
		i->sin_port = sock_port(&l);
		if (sock_wildcard(&l))
			i->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (l.ss_family == AF_INET)
			i->sin_addr = ((struct sockaddr_in *)&l)->sin_addr;
		else
			memcpy(&i->sin_addr, &((struct sockaddr_in6 *)&l)->sin6_addr.s6_addr[12], 4);
		*ld = sizeof(*i);
	} else {
		struct sockaddr_in6 *i = (void *)d;
		sock_addr_v6(&l, d);
		if (sock_wildcard(&l))
			i->sin6_addr = in6addr_loopback;
		*ld = sizeof(*i);
	}
	return 0;
}

/* A datagram sent again from its sender's address, by a socket bound
 * there for the moment (the job's own sockets let it share their ports
 * until they are configured). */
static int udp_send(void *arg, const struct sock_msg *m)
{
	struct sock_refill *u = arg;
	struct sockaddr_storage d;
	socklen_t ld;
	int s, one = 1, ret = -1;

	if (!m->from) {
		pr_err("a datagram without a sender waited in %s", u->what);
		return -1;
	}
	if (dest_of(u->to, m->from, &d, &ld) < 0)
		return -1;
	s = socket(m->from->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, u->to->f->sock_proto);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (const struct sockaddr *)m->from, m->from_len) < 0) {
		char name[160];
		sock_addr_str(m->from, m->from_len, name, sizeof(name));
		pr_perror("cannot send again, from %s, a datagram that waited in %s", name, u->what);
		goto out;
	}
	ret = sockq_send(s, (struct sockaddr *)&d, ld, m, u->what);
out:
	if (s >= 0)
		close(s);
	return ret;
}

static bool is_dgram(const Fd *f)
{
	return f->kind == FD__KIND__INET_SOCK && f->sock_type == SOCK_DGRAM;
}

int inetsk_refill(struct sock_table *t, struct image_dir *dir)
{
	return sock_refill_all(t, dir, is_dgram, udp_send, "datagram socket");
}

int inetsk_configure(struct job_sock *js)
{
	const Fd *f = js->f;
	int how = f->sock_shutdown & 3, s = js->fd;

	if (sockopt_restore(s, f, SOCKOPT_FINAL) < 0)
		return -1;
	/* a datagram socket keeps the flags even unconnected (ENOTCONN) */
	if (how && shutdown(s, how == 3 ? SHUT_RDWR : how == 1 ? SHUT_RD : SHUT_WR) < 0 &&
	    errno != ENOTCONN) {
		pr_perror("cannot shut the socket of the job's fd %d down as it was", f->fd);
		return -1;
	}
	return 0;
}
