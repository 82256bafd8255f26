/* dgrams PORT: datagram sockets with datagrams waiting in them. UDP over
 * IPv4 (bound, connected, one never bound that sent from a port of the
 * kernel's choosing), over IPv6 (connected both ways, one shut down for
 * writing), UDP-Lite with a checksum coverage, ones bound with IP_FREEBIND
 * and IPV6_FREEBIND to addresses this machine does not have, two sharing
 * a port (SO_REUSEPORT), one filtered by a classic BPF program; unix datagram sockets bound to relative and abstract names,
 * clients connected to a server, a socketpair whose other end closed. All
 * is sent at the start and read after 2.5 s; then each socket is used
 * again. Prints what it got, from whom, and the options it set. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#define UDPLITE_SEND_CSCOV 10

static int port, c_port;	/* the base, and the one the kernel chose for c */

static struct sockaddr_in in4(const char *ip, int p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(p) };
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static struct sockaddr_in6 in6(int p)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(p),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	return a;
}

static int udp(int family, int proto, const void *addr, socklen_t len)
{
	int s = socket(family, SOCK_DGRAM, proto);
	if (s < 0 || (addr && bind(s, addr, len) < 0)) {
		perror("udp");
		exit(1);
	}
	return s;
}

static int unix_dgram(const char *name, int abstract)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	socklen_t len = sizeof(sa_family_t) + strlen(name) + (abstract ? 1 : 0);

	if (abstract)
		memcpy(a.sun_path + 1, name, strlen(name));
	else {
		strcpy(a.sun_path, name);
		unlink(name);
	}
	if (s < 0 || (name[0] && bind(s, (struct sockaddr *)&a, len) < 0)) {
		perror("unix");
		exit(1);
	}
	return s;
}

static void to(int s, const void *addr, socklen_t len, const char *msg)
{
	if (sendto(s, msg, strlen(msg), 0, addr, addr ? len : 0) < 0)
		perror("sendto");
}

static void peer_name(const struct sockaddr_storage *a, socklen_t len, char *out, size_t size)
{
	char ip[64] = "";

	if (len == 0) {
		snprintf(out, size, "(unnamed)");
	} else if (a->ss_family == AF_INET) {
		const struct sockaddr_in *i = (const void *)a;
		inet_ntop(AF_INET, &i->sin_addr, ip, sizeof(ip));
		if (ntohs(i->sin_port) == c_port)
			snprintf(out, size, "%s, c's port", ip);
		else
			snprintf(out, size, "%s:+%d", ip, ntohs(i->sin_port) - port);
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *i = (const void *)a;
		inet_ntop(AF_INET6, &i->sin6_addr, ip, sizeof(ip));
		snprintf(out, size, "[%s]:+%d", ip, ntohs(i->sin6_port) - port);
	} else if (a->ss_family == AF_UNIX && len > sizeof(sa_family_t)) {
		const struct sockaddr_un *u = (const void *)a;
		const char *last = strrchr(u->sun_path + 1, '-');
		if (u->sun_path[0])
			snprintf(out, size, "%s", u->sun_path);
		else	/* (its name holds the port, to be unique: not printed) */
			snprintf(out, size, "@...%s", last ? last : "");
	} else
		snprintf(out, size, "(unnamed)");
}

/* everything waiting in S, one line each */
static void drain(const char *what, int s)
{
	for (;;) {
		char buf[256], from[128];
		struct sockaddr_storage a;
		socklen_t len = sizeof(a);
		ssize_t n = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&a, &len);
		if (n < 0)
			break;
		peer_name(&a, len, from, sizeof(from));
		printf("%s: '%.*s' from %s\n", what, (int)n, buf, from);
	}
}

static int getint(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(s, level, name, &v, &l);
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = in4("127.0.0.1", 0), b, fb;
	struct sockaddr_in6 d, e;
	int one = 1, cov = 12;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || !(port = atoi(argv[1])))
		return 2;
	a = in4("127.0.0.1", port);
	b = in4("127.0.0.1", port + 1);
	int sa = udp(AF_INET, 0, &a, sizeof(a)), sb = udp(AF_INET, 0, &b, sizeof(b));
	int sc = udp(AF_INET, 0, NULL, 0);	/* bound by its first sendto */
	connect(sb, (struct sockaddr *)&a, sizeof(a));
	setsockopt(sa, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	setsockopt(sa, IPPROTO_IP, IP_TOS, &(int){ 0x10 }, sizeof(int));
	to(sa, &b, sizeof(b), "a to b, one");
	to(sa, &b, sizeof(b), "a to b, two");
	to(sb, NULL, 0, "b to a");
	to(sc, &a, sizeof(a), "c to a");
	struct sockaddr_in ca;
	socklen_t cl = sizeof(ca);
	getsockname(sc, (struct sockaddr *)&ca, &cl);
	c_port = ntohs(ca.sin_port);

	d = in6(port + 2);
	e = in6(port + 3);
	int sd = udp(AF_INET6, 0, &d, sizeof(d)), se = udp(AF_INET6, 0, &e, sizeof(e));
	connect(sd, (struct sockaddr *)&e, sizeof(e));
	connect(se, (struct sockaddr *)&d, sizeof(d));
	to(sd, NULL, 0, "d to e");
	to(se, NULL, 0, "e to d");
	shutdown(sd, SHUT_WR);

	struct sockaddr_in f = in4("127.0.0.1", port + 4), g = in4("127.0.0.1", port + 5);
	int sf = udp(AF_INET, IPPROTO_UDPLITE, &f, sizeof(f)), sg = udp(AF_INET, IPPROTO_UDPLITE, &g, sizeof(g));
	setsockopt(sf, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, &cov, sizeof(cov));
	to(sf, &g, sizeof(g), "lite f to g");

	int sh = socket(AF_INET, SOCK_DGRAM, 0);
	fb = in4("192.0.2.77", port + 6);
	setsockopt(sh, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(sh, (struct sockaddr *)&fb, sizeof(fb)) < 0)
		perror("freebind");

	/* two sockets sharing a port (SO_REUSEPORT); one bound with
	 * IPV6_FREEBIND to an address this machine does not have */
	struct sockaddr_in rp = in4("127.0.0.1", port + 8);
	int r1 = socket(AF_INET, SOCK_DGRAM, 0), r2 = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(r1, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(r2, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(r1, (struct sockaddr *)&rp, sizeof(rp)) < 0 || bind(r2, (struct sockaddr *)&rp, sizeof(rp)) < 0)
		perror("reuseport");
	struct sockaddr_in6 fb6 = { .sin6_family = AF_INET6, .sin6_port = htons(port + 9) };
	inet_pton(AF_INET6, "2001:db8::77", &fb6.sin6_addr);
	int sj = socket(AF_INET6, SOCK_DGRAM, 0);
	setsockopt(sj, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	if (bind(sj, (struct sockaddr *)&fb6, sizeof(fb6)) < 0)
		perror("ipv6 freebind");

	/* a filter keeping the first 4 bytes of each datagram (after the
	 * 8 of its UDP header) */
	struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, 12) };
	struct sock_fprog prog = { 1, code };
	struct sockaddr_in fi = in4("127.0.0.1", port + 7);
	int si = udp(AF_INET, 0, &fi, sizeof(fi));
	setsockopt(si, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
	to(sc, &fi, sizeof(fi), "filtered");

	int srv = unix_dgram("srv.dg", 0), c1 = unix_dgram("", 0), c2 = unix_dgram("cli.dg", 0);
	char abname[64];
	snprintf(abname, sizeof(abname), "dgrams-%d-abstract", port);
	int ab = unix_dgram(abname, 1), lone = unix_dgram("lone.dg", 0), pair[2];
	struct sockaddr_un sn = { .sun_family = AF_UNIX, .sun_path = "srv.dg" };
	connect(c1, (struct sockaddr *)&sn, sizeof(sn));
	connect(c2, (struct sockaddr *)&sn, sizeof(sn));
	setsockopt(srv, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	to(c1, NULL, 0, "from the unnamed client");
	to(c2, NULL, 0, "from the named client");
	to(ab, &sn, sizeof(sn), "from the abstract one");
	to(c1, NULL, 0, "the unnamed client again");
	socketpair(AF_UNIX, SOCK_DGRAM, 0, pair);
	to(pair[1], NULL, 0, "left by a closed end");
	close(pair[1]);

	usleep(2500000);	/* (a second after the latest freeze point) */

	drain("udp a", sa);
	drain("udp b", sb);
	drain("udp6 d", sd);
	drain("udp6 e", se);
	drain("udplite g", sg);
	drain("filtered", si);
	drain("unix srv", srv);
	drain("unix pair", pair[0]);

	/* each used again */
	to(sb, NULL, 0, "b to a, after");
	drain("udp a", sa);
	printf("udp6 d sends after its shutdown: %s\n",
	       send(sd, "x", 1, 0) < 0 && errno == EPIPE ? "EPIPE" : "went");
	to(sa, &ca, sizeof(ca), "a answers c");
	char buf[64];
	ssize_t n = recv(sc, buf, sizeof(buf), 0);
	printf("udp c, from the port the kernel chose: '%.*s'\n", (int)(n > 0 ? n : 0), buf);
	to(sc, &fi, sizeof(fi), "filtered again");
	drain("filtered", si);
	to(c2, NULL, 0, "named client, after");
	drain("unix srv", srv);
	int c3 = unix_dgram("", 0);
	struct sockaddr_un ln = { .sun_family = AF_UNIX, .sun_path = "lone.dg" };
	to(c3, &ln, sizeof(ln), "to the lone one");
	drain("unix lone", lone);
	printf("unix pair sends to its closed end: %s\n",
	       send(pair[0], "x", 1, 0) < 0 && errno == ECONNREFUSED ? "ECONNREFUSED" : "went");
	printf("options: broadcast %d, tos %#x, passcred %d, udplite coverage %d, freebind %d\n",
	       getint(sa, SOL_SOCKET, SO_BROADCAST), getint(sa, IPPROTO_IP, IP_TOS),
	       getint(srv, SOL_SOCKET, SO_PASSCRED), getint(sf, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV),
	       getint(sh, IPPROTO_IP, IP_FREEBIND));
	struct sockaddr_in6 j6;
	socklen_t jl = sizeof(j6);
	char jip[64] = "?";
	getsockname(sj, (struct sockaddr *)&j6, &jl);
	inet_ntop(AF_INET6, &j6.sin6_addr, jip, sizeof(jip));
	printf("options: reuseport %d and %d, ipv6 freebind %d at %s\n",
	       getint(r1, SOL_SOCKET, SO_REUSEPORT), getint(r2, SOL_SOCKET, SO_REUSEPORT),
	       getint(sj, IPPROTO_IPV6, IPV6_FREEBIND), jip);
	unlink("srv.dg");
	unlink("cli.dg");
	unlink("lone.dg");
	return 0;
}
