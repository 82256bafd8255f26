/* tcpfin PORT: TCP connections of the job that end while it is frozen,
 * and a port two listeners share. The server (this process) listens on
 * 127.0.0.1:PORT with two sockets bound there by SO_REUSEPORT, the first
 * of which clears it after the second is bound. Its child connects twice:
 *   data  both ends write until their queues are full, then shut their
 *         sending side down: what they sent, and the FINs, wait behind
 *         full windows (a freeze lets them through: the connection ends,
 *         and the end that said FIN first waits in TIME_WAIT);
 *   ctl   the child says there how much it sent and read.
 * After 1.5 s each end reads the other's stream to its end. Then a third
 * connection is made to the shared port and accepted by either listener.
 * The server prints what each saw (counts compared, not printed: they
 * depend on the kernel's buffers), its listeners' SO_REUSEPORT, and
 * whether its ends' addresses stayed as they were: an uninterrupted run
 * and a thawed one print the same. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOLD_MS 1500

static struct sockaddr_in srv;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int listener(int reuseport)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &reuseport, sizeof(int)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&srv, sizeof(srv)) < 0 || listen(s, 8) < 0)
		die("listen");
	return s;
}

static int dial(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&srv, sizeof(srv)) < 0)
		die("connect");
	return s;
}

/* Accepts from whichever listener got the connection */
static int accept_any(int a, int b)
{
	struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };

	if (poll(p, 2, 10000) <= 0)
		die("poll");
	int s = accept(p[0].revents & POLLIN ? a : b, NULL, NULL);
	if (s < 0)
		die("accept");
	return s;
}

static unsigned char pattern(long i, int who)
{
	return (unsigned char)(i * 13 + who + i / 509);
}

/* Writes the pattern until the queues are full; the count */
static long fill(int s, int who)
{
	unsigned char buf[4096];
	long n = 0;
	int fl = fcntl(s, F_GETFL);

	fcntl(s, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		for (int i = 0; i < (int)sizeof(buf); i++)
			buf[i] = pattern(n + i, who);
		ssize_t w = write(s, buf, sizeof(buf));
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			die("write");
		n += w;
	}
	fcntl(s, F_SETFL, fl);
	return n;
}

/* Reads to the end; the count, -1 if a byte was not the pattern's */
static long drain(int s, int who)
{
	unsigned char buf[4096];
	long n = 0, bad = 0;
	ssize_t r;

	while ((r = read(s, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++, n++)
			bad += buf[i] != pattern(n, who);
	if (r < 0)
		die("read");
	return bad ? -1 : n;
}

static void sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static int same_name(int s, const struct sockaddr_in *was, int peer)
{
	struct sockaddr_in a = { 0 };
	socklen_t l = sizeof(a);

	if ((peer ? getsockopt(s, SOL_SOCKET, SO_PEERNAME, &a, &l) :
		    getsockname(s, (struct sockaddr *)&a, &l)) < 0)
		return 0;
	return a.sin_port == was->sin_port && a.sin_addr.s_addr == was->sin_addr.s_addr;
}

int main(int argc, char **argv)
{
	int l1, l2, data, ctl, zero = 0, v;
	long sent, got, child[2];
	struct sockaddr_in me, peer;
	socklen_t len;
	pid_t pid;

	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	srv.sin_family = AF_INET;
	srv.sin_port = htons(atoi(argv[1]));
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l1 = listener(1);
	l2 = listener(1);
	if (setsockopt(l1, SOL_SOCKET, SO_REUSEPORT, &zero, sizeof(zero)) < 0)
		die("SO_REUSEPORT");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(l1);
		close(l2);
		data = dial();
		ctl = dial();
		sent = fill(data, 2);
		shutdown(data, SHUT_WR);
		sleep_ms(HOLD_MS);
		got = drain(data, 1);
		long say[2] = { sent, got };
		if (write(ctl, say, sizeof(say)) != sizeof(say))
			die("ctl");
		return 0;
	}
	data = accept_any(l1, l2);
	ctl = accept_any(l1, l2);
	len = sizeof(me);
	getsockname(data, (struct sockaddr *)&me, &len);
	len = sizeof(peer);
	getpeername(data, (struct sockaddr *)&peer, &len);
	sent = fill(data, 1);
	shutdown(data, SHUT_WR);
	printf("tcpfin: both ends of the data connection full and shut down\n");
	sleep_ms(HOLD_MS);
	got = drain(data, 2);
	if (read(ctl, child, sizeof(child)) != sizeof(child))
		die("ctl read");
	printf("tcpfin: server read %s, child read %s\n",
	       got < 0 ? "wrong bytes" : got == child[0] ? "all the child sent" : "a wrong count",
	       child[1] < 0 ? "wrong bytes" : child[1] == sent ? "all the server sent" : "a wrong count");
	printf("tcpfin: data end's own address %s, its peer's %s\n",
	       same_name(data, &me, 0) ? "kept" : "changed", same_name(data, &peer, 1) ? "kept" : "changed");
	len = sizeof(v);
	getsockopt(l1, SOL_SOCKET, SO_REUSEPORT, &v, &len);
	printf("tcpfin: first listener SO_REUSEPORT %d", v);
	len = sizeof(v);
	getsockopt(l2, SOL_SOCKET, SO_REUSEPORT, &v, &len);
	printf(", second %d\n", v);
	int c = dial(), a = accept_any(l1, l2);
	if (write(c, "ping", 4) != 4 || read(a, child, 4) != 4)
		die("third connection");
	printf("tcpfin: a new connection to the shared port accepted\n");
	close(c);
	close(a);
	waitpid(pid, &v, 0);
	printf("tcpfin: child exited %d\n", WIFEXITED(v) ? WEXITSTATUS(v) : -1);
	return 0;
}
