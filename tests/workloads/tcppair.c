/* tcppair PORT [HALF_MS]: TCP connections with both ends in the job, over
 * the loopback. A server (this process) listens on 127.0.0.1:PORT and
 * [::1]:PORT+1; its child connects four times:
 *   bulk  a stream written as fast as it goes for 2 s and read slowly,
 *         so that the reader's window is full and the writer's queue too;
 *   rpc   (IPv6, TCP_NODELAY) requests answered one by one for ~2 s;
 *   half  "hello" and a shutdown, read by the server only after 1 s
 *         (HALF_MS), then "bye" and the end the other way;
 *   late  left waiting in the listener's queue, accepted after 1.5 s.
 * The server sets options on its ends and prints them at the end, with
 * what each connection saw: an uninterrupted run and a thawed one print
 * the same. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BULK_MS 2000
#define CHUNK 65536

static struct sockaddr_in a4;
static struct sockaddr_in6 a6;

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static unsigned char pattern(unsigned long i)
{
	return (unsigned char)(i * 7 + i / 251);
}

static int dial(int v6)
{
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (s < 0 || (v6 ? connect(s, (struct sockaddr *)&a6, sizeof(a6))
			 : connect(s, (struct sockaddr *)&a4, sizeof(a4))) < 0) {
		perror("connect");
		exit(1);
	}
	return s;
}

static int read_full(int s, char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(s, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

/* the child: its four connections; its exit status says what went wrong */
static int client(void)
{
	static unsigned char buf[CHUNK];
	int bulk = dial(0), half = dial(0), late = dial(0), rpc = dial(1), one = 1, bad = 0;
	unsigned long off = 0;
	long end = now_ms() + BULK_MS;
	char msg[64];

	if (write(half, "hello", 5) != 5 || shutdown(half, SHUT_WR) < 0)
		bad |= 1;
	setsockopt(rpc, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in6 me;
	socklen_t ml = sizeof(me);
	getsockname(rpc, (struct sockaddr *)&me, &ml);
	/* (10 bytes, as every message on it: a stream keeps no boundaries) */
	int n = snprintf(msg, sizeof(msg), "port %05u", ntohs(me.sin6_port));
	if (write(rpc, msg, n) != n)
		bad |= 2;
	for (int i = 0; now_ms() < end; i++) {
		/* a burst of bulk, then one request */
		for (int k = 0; k < CHUNK; k++)
			buf[k] = pattern(off + k);
		ssize_t w = send(bulk, buf, CHUNK, MSG_DONTWAIT);
		if (w > 0)
			off += w;
		else if (w < 0 && errno != EAGAIN)
			bad |= 4;
		n = snprintf(msg, sizeof(msg), "req %06d", i);
		char rep[16];
		if (write(rpc, msg, n) != n || read_full(rpc, rep, 10) < 0 ||
		    memcmp(rep, "rep", 3) || strncmp(rep + 4, msg + 4, 6))
			bad |= 8;
		usleep(w > 0 ? 0 : 2000);
	}
	/* the rest of the bulk, blocking, then its end */
	shutdown(bulk, SHUT_WR);
	shutdown(rpc, SHUT_WR);
	if (read(half, msg, sizeof(msg)) != 3 || memcmp(msg, "bye", 3) || read(half, msg, 1) != 0)
		bad |= 16;
	if (read(late, msg, 3) != 3 || memcmp(msg, "acc", 3) || write(late, "late", 4) != 4)
		bad |= 32;
	return bad;
}

static void set(int s, int level, int name, int v)
{
	if (setsockopt(s, level, name, &v, sizeof(v)) < 0)
		perror("setsockopt");
}

static int get(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	getsockopt(s, level, name, &v, &l);
	return v;
}

static int listener(int v6, int port)
{
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6) {
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons(port);
		a6.sin6_addr = in6addr_loopback;
	} else {
		a4.sin_family = AF_INET;
		a4.sin_port = htons(port);
		a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (s < 0 || (v6 ? bind(s, (struct sockaddr *)&a6, sizeof(a6))
			 : bind(s, (struct sockaddr *)&a4, sizeof(a4))) < 0 || listen(s, 16) < 0) {
		perror("listen");
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	static unsigned char buf[CHUNK];
	int port = argc > 1 ? atoi(argv[1]) : 0, l4, l6, bulk, half, rpc, late = -1, st;
	long half_ms = argc > 2 ? atol(argv[2]) : 1000;
	unsigned long off = 0;
	int pattern_ok = 1, bulk_end = 0, rpc_n = 0, rpc_end = 0, half_done = 0, late_done = 0;
	unsigned client_port = 0;
	char msg[64];
	pid_t pid;
	long t0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!port)
		return 2;
	l4 = listener(0, port);
	l6 = listener(1, port + 1);
	pid = fork();
	if (pid == 0)
		_exit(client());
	t0 = now_ms();
	bulk = accept(l4, NULL, NULL);
	half = accept(l4, NULL, NULL);
	rpc = accept(l6, NULL, NULL);
	if (bulk < 0 || half < 0 || rpc < 0)
		return 1;
	set(bulk, SOL_SOCKET, SO_KEEPALIVE, 1);
	set(bulk, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	set(bulk, IPPROTO_TCP, TCP_KEEPINTVL, 11);
	set(bulk, IPPROTO_TCP, TCP_KEEPCNT, 5);
	set(rpc, IPPROTO_TCP, TCP_NODELAY, 1);
	set(half, IPPROTO_TCP, TCP_CORK, 1);
	set(half, SOL_SOCKET, SO_RCVBUF, 40000);
	struct linger lg = { 1, 3 };
	setsockopt(half, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	while (!bulk_end || !rpc_end || !half_done || !late_done) {
		struct pollfd p[3] = { { bulk_end ? -1 : bulk, POLLIN, 0 }, { rpc_end ? -1 : rpc, POLLIN, 0 },
				       { late, POLLIN, 0 } };
		poll(p, 3, 5);
		long t = now_ms() - t0;
		if (p[0].revents) {
			/* slowly: a chunk every 5 ms */
			ssize_t n = read(bulk, buf, 16384);
			if (n == 0)
				bulk_end = 1;
			for (ssize_t k = 0; k < n; k++)
				pattern_ok &= buf[k] == pattern(off + k);
			if (n > 0)
				off += n;
			usleep(5000);
		}
		if (p[1].revents) {
			ssize_t n = read_full(rpc, msg, 10) < 0 ? 0 : 10;
			if (n == 0)
				rpc_end = 1;
			else if (!client_port)
				client_port = atoi(msg + 5);
			else {
				msg[0] = 'r', msg[1] = 'e', msg[2] = 'p';
				if (write(rpc, msg, 10) != 10)
					return 1;
				rpc_n++;
			}
		}
		if (!half_done && t >= half_ms) {
			char h[16];
			ssize_t n = read(half, h, sizeof(h)), e = read(half, h + 8, 1);
			printf("half: got '%.*s', then %s\n", (int)(n > 0 ? n : 0), h,
			       e == 0 ? "the end" : "more");
			set(half, IPPROTO_TCP, TCP_CORK, 0);
			if (write(half, "bye", 3) != 3)
				return 1;
			printf("half: options: cork %d, rcvbuf %d, linger %d/%d\n",
			       get(half, IPPROTO_TCP, TCP_CORK), get(half, SOL_SOCKET, SO_RCVBUF),
			       lg.l_onoff, lg.l_linger);
			socklen_t ll = sizeof(lg);
			getsockopt(half, SOL_SOCKET, SO_LINGER, &lg, &ll);
			printf("half: linger read back %d/%d\n", lg.l_onoff, lg.l_linger);
			close(half);
			half_done = 1;
		}
		if (late < 0 && t >= 1500) {
			late = accept(l4, NULL, NULL);
			if (late < 0 || write(late, "acc", 3) != 3)
				return 1;
		} else if (late >= 0 && p[2].revents && !late_done) {
			ssize_t n = read(late, msg, 4);
			printf("late: accepted after 1.5 s, got '%.*s'\n", (int)(n > 0 ? n : 0), msg);
			late_done = 1;
		}
	}
	struct sockaddr_in6 peer;
	socklen_t pl = sizeof(peer);
	getpeername(rpc, (struct sockaddr *)&peer, &pl);
	printf("bulk: %s, then the end\n", pattern_ok ? "every byte in order" : "CORRUPTED");
	printf("bulk: options: keepalive %d, idle %d, interval %d, count %d\n",
	       get(bulk, SOL_SOCKET, SO_KEEPALIVE), get(bulk, IPPROTO_TCP, TCP_KEEPIDLE),
	       get(bulk, IPPROTO_TCP, TCP_KEEPINTVL), get(bulk, IPPROTO_TCP, TCP_KEEPCNT));
	printf("rpc: %s round trips, then the end; nodelay %d; the client's port %s\n",
	       rpc_n > 20 ? "many" : "few", get(rpc, IPPROTO_TCP, TCP_NODELAY),
	       ntohs(peer.sin6_port) == client_port ? "kept" : "CHANGED");
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	printf("client: %s (%d)\n", st == 0 ? "all went well" : "FAILED", WEXITSTATUS(st));
	return 0;
}
