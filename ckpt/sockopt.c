/* sockopt.c: socket options. The kernel does not say which options a
 * program set, so each option of a table is read from the job's socket
 * and from a new socket of the same family, type and protocol, and only
 * those that differ are recorded (as raw bytes, as getsockopt gave them)
 * and set again. Buffer sizes come back only when the program fixed them
 * (SO_BUF_LOCK tells): the kernel tunes the others itself. A classic BPF
 * filter is read back with SO_GET_FILTER and attached again. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/filter.h>
#include "ckpt/log.h"
#include "ckpt/sockopt.h"
#include "ckpt/util.h"

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX 62
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#ifndef IP_RECVERR_RFC4884
#define IP_RECVERR_RFC4884 26
#endif
#ifndef IPV6_RECVERR_RFC4884
#define IPV6_RECVERR_RFC4884 31
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef TCP_INQ
#define TCP_INQ 36
#endif
#define SOL_UDPLITE 136
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11

enum {
	BIND      = 1 << 0,   /* set before bind: it decides how the bind goes */
	PRIV      = 1 << 1,   /* an ordinary user may not set it: refused */
	UNCONN    = 1 << 2,   /* the kernel's own value on a connected TCP socket */
	FORCED    = 1 << 3,   /* the restore uses it itself: always set last */
	INET4     = 1 << 4,   /* for this family only */
	INET6     = 1 << 5,
	INET      = INET4 | INET6,
	BUF       = 1 << 6,   /* a buffer size: only when locked (SO_BUF_LOCK) */
	FILTER    = 1 << 7,   /* SO_GET_FILTER: a classic BPF program */
	DGRAM     = 1 << 8,   /* datagram sockets only (multicast) */
};

struct opt {
	int level, name;
	const char *label;
	unsigned flags;
};

#define O(level, name, flags) { level, name, #name, flags }

/* In the order they are set again (a filter before its lock, buffers
 * before their locks); options that mean nothing for a socket (an error
 * reading them from both sockets) are passed over. */
static const struct opt opts[] = {
	O(SOL_SOCKET, SO_REUSEADDR, BIND | FORCED),
	O(SOL_SOCKET, SO_REUSEPORT, BIND),
	O(SOL_SOCKET, SO_BINDTOIFINDEX, BIND),
	O(SOL_IP, IP_FREEBIND, BIND | FORCED | INET),
	O(SOL_IP, IP_TRANSPARENT, BIND | PRIV | INET4),
	O(SOL_IP, IP_BIND_ADDRESS_NO_PORT, BIND | INET),
	O(SOL_IP, IP_LOCAL_PORT_RANGE, BIND | INET),
	O(SOL_IPV6, IPV6_V6ONLY, BIND | INET6),
	O(SOL_IPV6, IPV6_TRANSPARENT, BIND | PRIV | INET6),
	O(SOL_SOCKET, SO_DEBUG, PRIV),
	O(SOL_SOCKET, SO_MARK, PRIV),
	O(SOL_SOCKET, SO_KEEPALIVE, 0),
	O(SOL_SOCKET, SO_DONTROUTE, 0),
	O(SOL_SOCKET, SO_BROADCAST, 0),
	O(SOL_SOCKET, SO_LINGER, 0),
	O(SOL_SOCKET, SO_OOBINLINE, 0),
	O(SOL_SOCKET, SO_NO_CHECK, 0),
	O(SOL_SOCKET, SO_PRIORITY, 0),
	O(SOL_SOCKET, SO_RCVLOWAT, 0),
	O(SOL_SOCKET, SO_RCVTIMEO_OLD, 0),
	O(SOL_SOCKET, SO_SNDTIMEO_OLD, 0),
	O(SOL_SOCKET, SO_PASSCRED, 0),
	O(SOL_SOCKET, SO_PASSSEC, 0),
	O(SOL_SOCKET, SO_PASSPIDFD, 0),
	O(SOL_SOCKET, SO_TIMESTAMP_OLD, 0),
	O(SOL_SOCKET, SO_TIMESTAMPNS_OLD, 0),
	O(SOL_SOCKET, SO_TIMESTAMPING_OLD, 0),
	O(SOL_SOCKET, SO_RXQ_OVFL, 0),
	O(SOL_SOCKET, SO_WIFI_STATUS, 0),
	O(SOL_SOCKET, SO_PEEK_OFF, 0),
	O(SOL_SOCKET, SO_NOFCS, 0),
	O(SOL_SOCKET, SO_MAX_PACING_RATE, 0),
	O(SOL_SOCKET, SO_ZEROCOPY, 0),
	O(SOL_SOCKET, SO_RCVMARK, 0),
	O(SOL_SOCKET, SO_GET_FILTER, FILTER),
	O(SOL_SOCKET, SO_LOCK_FILTER, 0),
	O(SOL_IP, IP_TOS, INET4),
	O(SOL_IP, IP_TTL, INET4),
	O(SOL_IP, IP_OPTIONS, INET4),
	O(SOL_IP, IP_RECVOPTS, INET4),
	O(SOL_IP, IP_RETOPTS, INET4),
	O(SOL_IP, IP_PKTINFO, INET4),
	O(SOL_IP, IP_MTU_DISCOVER, INET4),
	O(SOL_IP, IP_RECVERR, INET4),
	O(SOL_IP, IP_RECVTTL, INET4),
	O(SOL_IP, IP_RECVTOS, INET4),
	O(SOL_IP, IP_PASSSEC, INET4),
	O(SOL_IP, IP_MINTTL, INET4),
	O(SOL_IP, IP_CHECKSUM, INET4),
	O(SOL_IP, IP_RECVFRAGSIZE, INET4),
	O(SOL_IP, IP_RECVERR_RFC4884, INET4),
	O(SOL_IP, IP_RECVORIGDSTADDR, INET4),
	O(SOL_IP, IP_MULTICAST_IF, INET4 | DGRAM),
	O(SOL_IP, IP_MULTICAST_TTL, INET4 | DGRAM),
	O(SOL_IP, IP_MULTICAST_LOOP, INET4 | DGRAM),
	O(SOL_IP, IP_MULTICAST_ALL, INET4 | DGRAM),
	O(SOL_IP, IP_UNICAST_IF, INET4),
	O(SOL_IPV6, IPV6_UNICAST_HOPS, INET6),
	O(SOL_IPV6, IPV6_MULTICAST_IF, INET6 | DGRAM),
	O(SOL_IPV6, IPV6_MULTICAST_HOPS, INET6 | DGRAM),
	O(SOL_IPV6, IPV6_MULTICAST_LOOP, INET6 | DGRAM),
	O(SOL_IPV6, IPV6_MULTICAST_ALL, INET6 | DGRAM),
	O(SOL_IPV6, IPV6_RECVPKTINFO, INET6),
	O(SOL_IPV6, IPV6_RECVHOPLIMIT, INET6),
	O(SOL_IPV6, IPV6_RECVRTHDR, INET6),
	O(SOL_IPV6, IPV6_RECVHOPOPTS, INET6),
	O(SOL_IPV6, IPV6_RECVDSTOPTS, INET6),
	O(SOL_IPV6, IPV6_RECVTCLASS, INET6),
	O(SOL_IPV6, IPV6_TCLASS, INET6),
	O(SOL_IPV6, IPV6_MTU_DISCOVER, INET6),
	O(SOL_IPV6, IPV6_RECVERR, INET6),
	O(SOL_IPV6, IPV6_RECVERR_RFC4884, INET6),
	O(SOL_IPV6, IPV6_DONTFRAG, INET6),
	O(SOL_IPV6, IPV6_RECVPATHMTU, INET6),
	O(SOL_IPV6, IPV6_AUTOFLOWLABEL, INET6),
	O(SOL_IPV6, IPV6_MINHOPCOUNT, INET6),
	O(SOL_IPV6, IPV6_RECVORIGDSTADDR, INET6),
	O(SOL_IPV6, IPV6_UNICAST_IF, INET6),
	O(IPPROTO_TCP, TCP_NODELAY, 0),
	O(IPPROTO_TCP, TCP_MAXSEG, UNCONN),
	O(IPPROTO_TCP, TCP_CORK, 0),
	O(IPPROTO_TCP, TCP_KEEPIDLE, 0),
	O(IPPROTO_TCP, TCP_KEEPINTVL, 0),
	O(IPPROTO_TCP, TCP_KEEPCNT, 0),
	O(IPPROTO_TCP, TCP_SYNCNT, 0),
	O(IPPROTO_TCP, TCP_LINGER2, 0),
	O(IPPROTO_TCP, TCP_DEFER_ACCEPT, 0),
	O(IPPROTO_TCP, TCP_WINDOW_CLAMP, 0),
	O(IPPROTO_TCP, TCP_CONGESTION, 0),
	O(IPPROTO_TCP, TCP_USER_TIMEOUT, 0),
	O(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, 0),
	O(IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0),
	O(IPPROTO_TCP, TCP_FASTOPEN, 0),
	O(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 0),
	O(IPPROTO_TCP, TCP_INQ, 0),
	O(IPPROTO_TCP, TCP_SAVE_SYN, 0),
	O(IPPROTO_UDP, UDP_CORK, 0),
	O(IPPROTO_UDP, UDP_SEGMENT, 0),
	O(IPPROTO_UDP, UDP_GRO, 0),
	O(SOL_UDPLITE, UDPLITE_SEND_CSCOV, 0),
	O(SOL_UDPLITE, UDPLITE_RECV_CSCOV, 0),
	O(SOL_SOCKET, SO_SNDBUF, BUF),
	O(SOL_SOCKET, SO_RCVBUF, BUF),
	O(SOL_SOCKET, SO_BUF_LOCK, FORCED),
};

#define OPT_MAX 256    /* bytes of the largest option read (IP_OPTIONS: 40) */
#define FILTER_MAX 4096    /* BPF_MAXINSNS */

static bool applies(const struct opt *o, int family, int type, int proto)
{
	if ((o->flags & DGRAM) && type != SOCK_DGRAM)
		return false;
	if ((o->flags & INET) && family != AF_INET && family != AF_INET6)
		return false;
	if ((o->flags & INET) == INET4 && family != AF_INET)
		return false;
	if ((o->flags & INET) == INET6 && family != AF_INET6)
		return false;
	if (o->level == IPPROTO_TCP)
		return proto == IPPROTO_TCP;
	if (o->level == IPPROTO_UDP)
		return proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE;
	if (o->level == SOL_UDPLITE)
		return proto == IPPROTO_UDPLITE;
	return true;
}

/* The value of O on S into BUF; its length, or -1 when it means nothing
 * for this socket. A filter is read as its instructions. */
static int get_opt(int s, const struct opt *o, void *buf, size_t size)
{
	socklen_t len = size;

	if (o->flags & FILTER) {
		/* the length is counted in instructions, both ways */
		len = 0;
		if (getsockopt(s, o->level, o->name, NULL, &len) < 0)
			return -1;
		if (len == 0)
			return 0;
		if (len > size / sizeof(struct sock_filter))
			return -2;
		if (getsockopt(s, o->level, o->name, buf, &len) < 0)
			return -1;
		return len * sizeof(struct sock_filter);
	}
	if (getsockopt(s, o->level, o->name, buf, &len) < 0)
		return -1;
	return len;
}

static void record(Fd *f, const struct opt *o, const void *val, int len)
{
	SockOpt *so = xmalloc(sizeof(*so));

	sock_opt__init(so);
	so->level = o->level;
	so->name = o->name;
	so->value.len = len;
	so->value.data = xmalloc(len ? len : 1);
	memcpy(so->value.data, val, len);
	f->sock_opts = xrealloc(f->sock_opts, (f->n_sock_opts + 1) * sizeof(SockOpt *));
	f->sock_opts[f->n_sock_opts++] = so;
}

static int probe_socket(int family, int type, int proto)
{
	int s = socket(family, type | SOCK_CLOEXEC, family == AF_UNIX ? 0 : proto);

	if (s < 0)
		pr_perror("cannot make a socket of family %d, type %d to compare options with",
			  family, type);
	return s;
}

int sockopt_dump(int pid, int s, Fd *f, bool connected)
{
	static char mine[FILTER_MAX * sizeof(struct sock_filter)], fresh[OPT_MAX];
	int family = 0, type = 0, proto = 0, locks = -1, probe, ret = -1;
	socklen_t l = sizeof(int);

	if (getsockopt(s, SOL_SOCKET, SO_DOMAIN, &family, &l) < 0 ||
	    (l = sizeof(int), getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &l)) < 0 ||
	    (l = sizeof(int), getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &proto, &l)) < 0) {
		pr_perror("process %d: cannot read the kind of the socket of fd %d", pid, f->fd);
		return -1;
	}
	probe = probe_socket(family, type, proto);
	if (probe < 0)
		return -1;
	l = sizeof(locks);
	if (getsockopt(s, SOL_SOCKET, SO_BUF_LOCK, &locks, &l) < 0)
		locks = -1;	/* before Linux 5.14: recorded when they differ */
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const struct opt *o = &opts[i];
		int a, b;

		if (!applies(o, family, type, proto) || ((o->flags & UNCONN) && connected))
			continue;
		a = get_opt(s, o, mine, o->flags & FILTER ? sizeof(mine) : OPT_MAX);
		if (a == -2 || (a < 0 && o->flags & FILTER && errno == EACCES)) {
			pr_err("process %d: the socket of fd %d has a socket filter that cannot be "
			       "read back (an eBPF program, or too long): it would come back "
			       "unfiltered; detach it to freeze the job", pid, f->fd);
			goto out;
		}
		if (a < 0)
			continue;
		b = get_opt(probe, o, fresh, OPT_MAX);
		/* a buffer size is set again as it was, then its lock put back
		 * as it was (SO_BUF_LOCK): one the kernel tunes goes on from there */
		if (o->flags & BUF) {
			if (locks < 0 && a == b && !memcmp(mine, fresh, a))
				continue;
		} else if ((o->flags & FILTER) ? a == 0 : a == b && !memcmp(mine, fresh, a))
			continue;
		if (o->flags & PRIV) {
			pr_err("process %d: the socket of fd %d has %s set, which an ordinary user "
			       "cannot set again; clear it to freeze the job", pid, f->fd, o->label);
			goto out;
		}
		record(f, o, mine, a);
	}
	ret = 0;
out:
	close(probe);
	return ret;
}

static const SockOpt *find(const Fd *f, int level, int name)
{
	for (size_t i = 0; i < f->n_sock_opts; i++)
		if ((int)f->sock_opts[i]->level == level && (int)f->sock_opts[i]->name == name)
			return f->sock_opts[i];
	return NULL;
}

bool sockopt_int(const Fd *f, int level, int name, int *v)
{
	const SockOpt *so = find(f, level, name);

	if (!so || so->value.len < sizeof(int))
		return false;
	memcpy(v, so->value.data, sizeof(int));
	return true;
}

static int set_one(int s, const Fd *f, const struct opt *o, const SockOpt *so)
{
	int r;

	if (o->flags & FILTER) {
		struct sock_fprog prog = { .len = so->value.len / sizeof(struct sock_filter),
					   .filter = (struct sock_filter *)so->value.data };
		if (!prog.len || prog.len > FILTER_MAX || so->value.len % sizeof(struct sock_filter)) {
			pr_err("damaged image: the socket filter of the job's fd %d", f->fd);
			return -1;
		}
		r = setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
	} else if (o->flags & BUF) {
		int v;
		if (so->value.len != sizeof(int)) {
			pr_err("damaged image: %s of the job's fd %d", o->label, f->fd);
			return -1;
		}
		memcpy(&v, so->value.data, sizeof(v));
		v /= 2;	/* the kernel doubles what it is given */
		r = setsockopt(s, o->level, o->name, &v, sizeof(v));
	} else {
		if (so->value.len > OPT_MAX) {
			pr_err("damaged image: %s of the job's fd %d", o->label, f->fd);
			return -1;
		}
		r = setsockopt(s, o->level, o->name, so->value.data, so->value.len);
	}
	if (r < 0) {
		pr_perror("cannot set %s of the job's fd %d again", o->label, f->fd);
		return -1;
	}
	return 0;
}

int sockopt_restore(int s, const Fd *f, enum sockopt_phase phase)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const struct opt *o = &opts[i];
		const SockOpt *so = find(f, o->level, o->name);
		int zero = 0;

		if (phase == SOCKOPT_BIND) {
			if (so && (o->flags & BIND) && set_one(s, f, o, so) < 0)
				return -1;
			continue;
		}
		if (so && (!(o->flags & BIND) || (o->flags & FORCED))) {
			if (set_one(s, f, o, so) < 0)
				return -1;
		} else if (!so && (o->flags & FORCED) &&
			   /* (an image of an earlier version kept SO_REUSEADDR alone) */
			   setsockopt(s, o->level, o->name,
				      o->name == SO_REUSEADDR && o->level == SOL_SOCKET &&
				      f->sock_reuseaddr ? &(int){ 1 } : &zero, sizeof(zero)) < 0 &&
			   errno != ENOPROTOOPT && errno != EOPNOTSUPP) {
			/* the restore set it for itself: a new socket's value again */
			pr_perror("cannot clear %s of the job's fd %d", o->label, f->fd);
			return -1;
		}
	}
	return 0;
}
