/* inetsk.c: TCP and UDP sockets. A connection to the network cannot be
 * carried across a freeze: it is refused, naming both addresses, unless
 * the user accepts to lose it (dump --tcp-close), in which case the thawed
 * job finds it reset, as after a network loss. Listening sockets and bound
 * UDP sockets are bound again to their address at thaw. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/sockdiag.h"
#include "ckpt/util.h"

static bool has_port(const struct sockaddr_storage *a, socklen_t len)
{
	if (a->ss_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ((const struct sockaddr_in *)a)->sin_port != 0;
	if (a->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return ((const struct sockaddr_in6 *)a)->sin6_port != 0;
	return false;
}

static void set_bytes(ProtobufCBinaryData *b, protobuf_c_boolean *has, const void *p, size_t len)
{
	b->data = xmalloc(len);
	memcpy(b->data, p, len);
	b->len = len;
	*has = 1;
}

int inet_dump(struct dump_ctx *c, int s, Fd *f, int family)
{
	struct sockaddr_storage a = { 0 }, b = { 0 };
	socklen_t la = sizeof(a), lb = sizeof(b), l;
	char local[160] = "(none)", peer[160] = "(none)";
	int type = 0, proto = 0, listening = 0;
	bool connected;

	l = sizeof(int);
	if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &l) < 0 ||
	    (l = sizeof(int), getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &proto, &l)) < 0 ||
	    (l = sizeof(int), getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l)) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &la) < 0) {
		pr_perror("process %d: cannot read the socket of fd %d", c->pid, f->fd);
		return -1;
	}
	int reuse = 0;
	l = sizeof(reuse);
	if (getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &reuse, &l) < 0) {
		pr_perror("process %d: cannot read the options of the socket of fd %d", c->pid, f->fd);
		return -1;
	}
	f->has_sock_reuseaddr = 1;
	f->sock_reuseaddr = !!reuse;
	connected = getpeername(s, (struct sockaddr *)&b, &lb) == 0;
	sock_addr_str(&a, la, local, sizeof(local));
	if (connected)
		sock_addr_str(&b, lb, peer, sizeof(peer));
	const char *what = proto == IPPROTO_TCP ? "TCP" : proto == IPPROTO_UDP ? "UDP" : NULL;
	if (!what) {
		pr_err("process %d: fd %d is a network socket of protocol %d (local %s, peer %s), "
		       "which jobfreeze cannot freeze", c->pid, f->fd, proto, local, peer);
		return -1;
	}
	if (proto == IPPROTO_TCP && !listening && !connected) {
		struct tcp_info ti;
		l = sizeof(ti);
		/* connecting, or closing: a connection all the same */
		if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 && ti.tcpi_state != TCP_CLOSE)
			connected = true;
	}
	if (connected && !c->o->tcp_close) {
		pr_err("process %d: fd %d is a %s socket (local %s, peer %s): a network connection "
		       "cannot be frozen; dump --tcp-close drops it (the thawed job finds it "
		       "reset)", c->pid, f->fd, what, local, peer);
		return -1;
	}
	if (connected)
		pr_info("process %d: fd %d, %s connection %s to %s, will be found reset", c->pid,
			f->fd, what, local, peer);
	if (listening && proto == IPPROTO_TCP) {
		struct tcp_info ti;
		l = sizeof(ti);
		/* for a listener, tcpi_unacked is its accept queue */
		if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 && ti.tcpi_unacked)
			pr_warn("process %d: %u connections to %s wait to be accepted on fd %d; their "
				"clients will find them reset", c->pid, ti.tcpi_unacked, local, f->fd);
	}
	f->kind = FD__KIND__INET_SOCK;
	f->has_sock_family = f->has_sock_type = f->has_sock_proto = f->has_sock_state = 1;
	f->sock_family = family;
	f->sock_type = type;
	f->sock_proto = proto;
	f->sock_state = listening ? TCP_LISTEN : connected ? TCP_ESTABLISHED : TCP_CLOSE;
	if (has_port(&a, la) && !(connected && proto == IPPROTO_TCP))
		set_bytes(&f->sock_local, &f->has_sock_local, &a, la);
	if (connected)
		set_bytes(&f->sock_remote, &f->has_sock_remote, &b, lb);
	return 0;
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

int inet_open(struct restore_ctx *r, const Fd *f)
{
	int family = f->sock_family, s, one = 1, reuse = f->sock_reuseaddr;
	const struct sockaddr *local = (const void *)f->sock_local.data;
	char addr[160] = "";

	if ((family != AF_INET && family != AF_INET6) ||
	    (f->sock_type != SOCK_STREAM && f->sock_type != SOCK_DGRAM) ||
	    (f->has_sock_local && (f->sock_local.len > sizeof(struct sockaddr_storage) ||
				   f->sock_local.len < sizeof(struct sockaddr_in))) ||
	    (f->has_sock_remote && f->sock_remote.len > sizeof(struct sockaddr_storage))) {
		pr_err("damaged image: the network socket of fd %d", f->fd);
		return -1;
	}
	s = socket(family, f->sock_type | SOCK_CLOEXEC, f->sock_proto);
	if (s < 0) {
		pr_perror("cannot make a network socket for the job's fd %d", f->fd);
		return -1;
	}
	if (f->has_sock_local) {
		struct sockaddr_storage ss = { 0 };
		memcpy(&ss, f->sock_local.data, f->sock_local.len);
		sock_addr_str(&ss, f->sock_local.len, addr, sizeof(addr));
		/* What the job's earlier life left behind (TIME_WAIT) must not
		 * keep it from its own port. */
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, local, f->sock_local.len) < 0) {
			if (errno == EADDRINUSE)
				pr_err("the job's fd %d was bound to %s, which another program uses "
				       "now: stop it, then thaw again", f->fd, addr);
			else
				pr_perror("cannot bind the job's fd %d to %s again", f->fd, addr);
			goto fail;
		}
		if (!reuse && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) < 0) {
			pr_perror("cannot set SO_REUSEADDR of the job's fd %d as it was", f->fd);
			goto fail;
		}
	}
	if (f->sock_state == TCP_LISTEN && listen(s, SOMAXCONN) < 0) {
		pr_perror("cannot listen at %s again for the job's fd %d", addr, f->fd);
		goto fail;
	}
	if (f->has_sock_remote) {
		if (f->sock_type == SOCK_STREAM) {
			if (reset_tcp(s, family, f) < 0)
				goto fail;
		} else if (connect(s, (const struct sockaddr *)f->sock_remote.data, f->sock_remote.len) < 0) {
			pr_perror("cannot point the job's UDP socket (fd %d) at its peer again", f->fd);
			goto fail;
		}
	}
	if ((f->flags & O_NONBLOCK) && fcntl(s, F_SETFL, O_NONBLOCK) < 0) {
		pr_perror("cannot make the job's fd %d non-blocking", f->fd);
		goto fail;
	}
	return s;
fail:
	close(s);
	return -1;
}
