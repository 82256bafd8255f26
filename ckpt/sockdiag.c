/* sockdiag.c: what the kernel tells about sockets, for unixsk.c and
 * inetsk.c alike: one NETLINK_SOCK_DIAG query per unix socket, by inode (it
 * works without privileges and is the only way to learn a socket's peer),
 * the list of TCP and UDP sockets (to find a connection's other end and
 * who holds it), and socket addresses as text for messages. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/unix_diag.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/sockdiag.h"
#include "ckpt/util.h"

static void parse_attrs(struct unix_diag_info *u, struct rtattr *a, int len)
{
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		size_t n = RTA_PAYLOAD(a);
		switch (a->rta_type) {
		case UNIX_DIAG_PEER:
			if (n >= 4)
				u->peer = *(uint32_t *)RTA_DATA(a);
			break;
		case UNIX_DIAG_RQLEN:
			if (n >= sizeof(struct unix_diag_rqlen))
			{
				u->rqueue = ((struct unix_diag_rqlen *)RTA_DATA(a))->udiag_rqueue;
				u->wqueue = ((struct unix_diag_rqlen *)RTA_DATA(a))->udiag_wqueue;
			}
			break;
		case UNIX_DIAG_SHUTDOWN:
			if (n >= 1)
				u->shutdown = *(uint8_t *)RTA_DATA(a);
			break;
		case UNIX_DIAG_VFS:
			if (n >= sizeof(struct unix_diag_vfs)) {
				const struct unix_diag_vfs *v = RTA_DATA(a);
				u->has_vfs = true;
				u->vfs_ino = v->udiag_vfs_ino;
				u->vfs_dev = v->udiag_vfs_dev;
			}
			break;
		case UNIX_DIAG_ICONS:
			u->nr_icons = n / sizeof(uint32_t);
			u->icons = xmalloc(n ? n : 1);
			memcpy(u->icons, RTA_DATA(a), u->nr_icons * sizeof(uint32_t));
			break;
		case UNIX_DIAG_NAME: {
			const char *p = RTA_DATA(a);
			if (n >= sizeof(u->name) - 1)
				n = sizeof(u->name) - 2;
			if (n && p[0] == 0) {	/* abstract: shown as @name */
				u->name[0] = '@';
				memcpy(u->name + 1, p + 1, n - 1);
				u->name[n] = 0;
			} else {
				memcpy(u->name, p, n);
				u->name[n] = 0;
			}
			break;
		}
		}
	}
}

static int unix_diag_query(uint64_t ino, struct unix_diag_info *u, bool quiet)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = { 0 };
	char buf[32768];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	int nl, ret = -1;
	ssize_t n;

	memset(u, 0, sizeof(*u));
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0) {
		pr_perror("cannot open a NETLINK_SOCK_DIAG socket to look at unix socket %llu",
			  (unsigned long long)ino);
		return -1;
	}
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = ~0U;
	req.r.udiag_ino = ino;
	req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_VFS |
			   UDIAG_SHOW_ICONS;
	req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0U;
	if (send(nl, &req, sizeof(req), 0) != sizeof(req) || (n = recv(nl, buf, sizeof(buf), 0)) < 0) {
		pr_perror("cannot ask the kernel about unix socket %llu (sock_diag)",
			  (unsigned long long)ino);
		goto out;
	}
	if (!NLMSG_OK(h, n) || h->nlmsg_type == NLMSG_ERROR) {
		int e = h->nlmsg_type == NLMSG_ERROR ? -((struct nlmsgerr *)NLMSG_DATA(h))->error : EIO;
		if (!quiet)
			pr_err("the kernel does not describe unix socket %llu (sock_diag): %s",
			       (unsigned long long)ino, strerror(e));
		goto out;
	}
	struct unix_diag_msg *m = NLMSG_DATA(h);
	u->ino = m->udiag_ino;
	u->type = m->udiag_type;
	u->state = m->udiag_state;
	parse_attrs(u, (struct rtattr *)(m + 1), h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	ret = 0;
out:
	close(nl);
	return ret;
}

int unix_diag_get(uint64_t ino, struct unix_diag_info *u)
{
	return unix_diag_query(ino, u, false);
}

int unix_diag_get_quiet(uint64_t ino, struct unix_diag_info *u)
{
	return unix_diag_query(ino, u, true);
}

void unix_diag_free(struct unix_diag_info *u)
{
	free(u->icons);
	u->icons = NULL;
	u->nr_icons = 0;
}

/* (copied field by field through typed structs: the storage is read and
 * written as several types, which the optimizer may not assume apart) */
void sock_addr_v6(const struct sockaddr_storage *a, struct sockaddr_storage *v6)
{
	struct sockaddr_in6 o = { .sin6_family = AF_INET6 };
	sa_family_t family;

	memcpy(&family, a, sizeof(family));
	if (family == AF_INET) {
		struct sockaddr_in i;
		memcpy(&i, a, sizeof(i));
		o.sin6_port = i.sin_port;
		o.sin6_addr.s6_addr[10] = o.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&o.sin6_addr.s6_addr[12], &i.sin_addr, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 i;
		memcpy(&i, a, sizeof(i));
		o.sin6_port = i.sin6_port;
		o.sin6_addr = i.sin6_addr;
	}
	memset(v6, 0, sizeof(*v6));
	memcpy(v6, &o, sizeof(o));
}

bool sock_addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage x, y;
	struct sockaddr_in6 p, q;

	sock_addr_v6(a, &x);
	sock_addr_v6(b, &y);
	memcpy(&p, &x, sizeof(p));
	memcpy(&q, &y, sizeof(q));
	return p.sin6_port == q.sin6_port && !memcmp(&p.sin6_addr, &q.sin6_addr, 16);
}

/* the address ADDR (4 or 16 bytes as inet_diag gives it) and PORT, mapped */
static void diag_addr(int family, const uint32_t *addr, uint16_t port, struct sockaddr_storage *out)
{
	struct sockaddr_storage a = { 0 };

	if (family == AF_INET) {
		struct sockaddr_in i = { .sin_family = AF_INET, .sin_port = port };
		memcpy(&i.sin_addr, addr, 4);
		memcpy(&a, &i, sizeof(i));
	} else {
		struct sockaddr_in6 i = { .sin6_family = AF_INET6, .sin6_port = port };
		memcpy(&i.sin6_addr, addr, 16);
		memcpy(&a, &i, sizeof(i));
	}
	sock_addr_v6(&a, out);
}

static void add_inet(const struct nlmsghdr *h, struct inet_diag_info **out, size_t *n, size_t *cap)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	struct inet_diag_info *d;
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));

	if (*n == *cap)
		*out = xrealloc(*out, (*cap = *cap ? 2 * *cap : 64) * sizeof(**out));
	d = &(*out)[(*n)++];
	memset(d, 0, sizeof(*d));
	d->state = m->idiag_state;
	d->ino = m->idiag_inode;
	d->rqueue = m->idiag_rqueue;
	d->wqueue = m->idiag_wqueue;
	diag_addr(m->idiag_family, m->id.idiag_src, m->id.idiag_sport, &d->local);
	diag_addr(m->idiag_family, m->id.idiag_dst, m->id.idiag_dport, &d->remote);
	for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == INET_DIAG_SHUTDOWN && RTA_PAYLOAD(a) >= 1)
			d->shutdown = *(uint8_t *)RTA_DATA(a);
}

/* One dump request (FAMILY, PROTO), its answers appended to *OUT. */
static int inet_dump_one(int family, int proto, struct inet_diag_info **out, size_t *n, size_t *cap)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = { 0 };
	char *buf = xmalloc(65536);
	int nl, ret = -1;

	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0) {
		pr_perror("cannot open a NETLINK_SOCK_DIAG socket to list the network sockets");
		free(buf);
		return -1;
	}
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = family;
	req.r.sdiag_protocol = proto;
	req.r.idiag_states = ~0U;
	req.r.idiag_ext = 1 << (INET_DIAG_SHUTDOWN - 1);
	if (send(nl, &req, sizeof(req), 0) != sizeof(req)) {
		pr_perror("cannot ask the kernel for its network sockets (sock_diag)");
		goto out;
	}
	for (;;) {
		ssize_t len = recv(nl, buf, 65536, 0);
		if (len < 0) {
			pr_perror("cannot read the kernel's list of network sockets (sock_diag)");
			goto out;
		}
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				ret = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				int e = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
				/* a protocol this kernel does not list (no UDP-Lite): none */
				if (e == ENOENT || e == EINVAL || e == EOPNOTSUPP) {
					ret = 0;
					goto out;
				}
				pr_err("the kernel does not list its network sockets (sock_diag): %s",
				       strerror(e));
				goto out;
			}
			add_inet(h, out, n, cap);
		}
	}
out:
	close(nl);
	free(buf);
	return ret;
}

int inet_diag_list(int proto, struct inet_diag_info **out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (inet_dump_one(AF_INET, proto, out, n, &cap) < 0 ||
	    inet_dump_one(AF_INET6, proto, out, n, &cap) < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* "1.2.3.4:80", "[::1]:22", "/path", "@abstract", or "(none)". */
void sock_addr_str(const struct sockaddr_storage *ss, unsigned len, char *out, unsigned long size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (len < sizeof(sa_family_t)) {
		snprintf(out, size, "(none)");
		return;
	}
	switch (ss->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(out, size, "%s:%u", ip, ntohs(a->sin_port));
		return;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(out, size, "[%s]:%u", ip, ntohs(a->sin6_port));
		return;
	}
	case AF_UNIX: {
		const struct sockaddr_un *a = (const void *)ss;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (!n)
			snprintf(out, size, "(unnamed)");
		else if (!a->sun_path[0]) {
			/* an abstract name: any bytes, those not printable as \xNN */
			size_t k = snprintf(out, size, "@");
			for (size_t i = 1; i < n && k + 5 < size; i++) {
				unsigned char c = a->sun_path[i];
				k += snprintf(out + k, size - k, c > ' ' && c < 0x7f && c != '\\' ?
					      "%c" : "\\x%02x", c);
			}
		} else
			snprintf(out, size, "%.*s", (int)strnlen(a->sun_path, n), a->sun_path);
		return;
	}
	}
	snprintf(out, size, "(family %d)", ss->ss_family);
}
