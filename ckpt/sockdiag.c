/* sockdiag.c: what the kernel tells about sockets, for unixsk.c and
 * inetsk.c alike: one NETLINK_SOCK_DIAG query per unix socket, by inode (it
 * works without privileges and is the only way to learn a socket's peer),
 * and socket addresses as text for messages. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/sockdiag.h"

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
				u->rqueue = ((struct unix_diag_rqlen *)RTA_DATA(a))->udiag_rqueue;
			break;
		case UNIX_DIAG_SHUTDOWN:
			if (n >= 1)
				u->shutdown = *(uint8_t *)RTA_DATA(a);
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

int unix_diag_get(uint64_t ino, struct unix_diag_info *u)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = { 0 };
	char buf[4096];
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
	req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN;
	req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0U;
	if (send(nl, &req, sizeof(req), 0) != sizeof(req) || (n = recv(nl, buf, sizeof(buf), 0)) < 0) {
		pr_perror("cannot ask the kernel about unix socket %llu (sock_diag)",
			  (unsigned long long)ino);
		goto out;
	}
	if (!NLMSG_OK(h, n) || h->nlmsg_type == NLMSG_ERROR) {
		int e = h->nlmsg_type == NLMSG_ERROR ? -((struct nlmsgerr *)NLMSG_DATA(h))->error : EIO;
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
		else if (!a->sun_path[0])
			snprintf(out, size, "@%.*s", (int)(n - 1), a->sun_path + 1);
		else
			snprintf(out, size, "%.*s", (int)strnlen(a->sun_path, n), a->sun_path);
		return;
	}
	}
	snprintf(out, size, "(family %d)", ss->ss_family);
}
