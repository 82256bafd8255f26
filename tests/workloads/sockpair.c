/* sockpair: a client (the parent) and a server (its child) talking over
 * socketpairs of each type (stream, datagram, seqpacket). The client
 * sends batches of requests ahead and sleeps, so that at any moment
 * requests wait in the server's sockets and replies in the client's, in
 * both directions, with message boundaries that matter (each message
 * peeked before it is read: a dump peeks too). A fourth pair
 * holds words the server sent and then shut down: read at the very end.
 * The output is deterministic. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCHES 12
#define PER 5

static int read_full(int fd, char *buf, size_t len)
{
	size_t at = 0;

	while (at < len) {
		ssize_t n = read(fd, buf + at, len - at);
		if (n <= 0)
			return -1;
		at += n;
	}
	return 0;
}

static unsigned sum(const char *s, size_t n)
{
	unsigned h = 5381;
	for (size_t i = 0; i < n; i++)
		h = h * 33 + (unsigned char)s[i];
	return h;
}

static void server(int st, int dg, int sq, int last)
{
	char req[32], rep[128];

	/* words to be read only at the very end, after our shutdown */
	if (write(last, "server's last words", 19) != 19 || shutdown(last, SHUT_WR) < 0)
		_exit(2);
	while (read_full(st, req, sizeof(req)) == 0) {
		usleep(25000);	/* slower than the client: requests wait too */
		char fixed[32] = { 0 };
		snprintf(fixed, sizeof(fixed), "stream reply %08x", sum(req, sizeof(req)));
		if (write(st, fixed, sizeof(fixed)) != sizeof(fixed))
			_exit(3);
		for (int k = 0, fd = dg; k < 2; k++, fd = sq) {
			ssize_t n = recv(fd, req, sizeof(req), 0);
			if (n <= 0)
				_exit(4);
			/* a reply whose length depends on the request */
			int len = snprintf(rep, sizeof(rep), "%s reply to %.*s %08x %.*s",
					   k ? "seqpacket" : "dgram", (int)n, req, sum(req, n),
					   (int)(n % 17), "................");
			if (send(fd, rep, len, 0) != len)
				_exit(5);
		}
	}
	if (write(st, "bye", 3) != 3)
		_exit(6);
	_exit(0);
}

int main(void)
{
	int st[2], dg[2], sq[2], last[2], status;
	char buf[256];
	pid_t pid;

	/* all in memory until the end: a snapshot's thaw prints it all too */
	/* (glibc ignores the size unless it is given the buffer) */
	static char out_buf[1 << 16];
	setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, last) < 0) {
		perror("socketpair");
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(st[0]);
		close(dg[0]);
		close(sq[0]);
		close(last[0]);
		server(st[1], dg[1], sq[1], last[1]);
	}
	close(st[1]);
	close(dg[1]);
	close(sq[1]);
	close(last[1]);
	for (int b = 0; b < BATCHES; b++) {
		for (int k = 0; k < PER; k++) {
			char req[32] = { 0 };
			int len = snprintf(req, sizeof(req), "req %d.%d%.*s", b, k, k * 3, "xxxxxxxxxxxxxxx");
			if (write(st[0], req, sizeof(req)) != sizeof(req) || send(dg[0], req, len, 0) != len ||
			    send(sq[0], req, len, 0) != len) {
				perror("send");
				return 1;
			}
		}
		usleep(150000);
		for (int k = 0; k < PER; k++) {
			if (read_full(st[0], buf, 32) < 0) {
				fprintf(stderr, "stream reply missing\n");
				return 1;
			}
			printf("%d.%d %.32s\n", b, k, buf);
			for (int t = 0, fd = dg[0]; t < 2; t++, fd = sq[0]) {
				/* a peek first: what the dump peeked must not show */
				ssize_t p = recv(fd, buf, sizeof(buf) - 1, MSG_PEEK);
				ssize_t n = recv(fd, buf + 128, sizeof(buf) - 129, 0);
				if (p < 0 || n < 0) {
					perror("recv");
					return 1;
				}
				printf("%d.%d %.*s (%s)\n", b, k, (int)n, buf + 128,
				       p == n && !memcmp(buf, buf + 128, n) ? "as peeked" : "NOT as peeked");
			}
		}
	}
	shutdown(st[0], SHUT_WR);
	ssize_t n = read(st[0], buf, sizeof(buf));
	printf("server says %.*s\n", (int)(n > 0 ? n : 0), buf);
	n = read(last[0], buf, sizeof(buf));
	printf("then %.*s", (int)(n > 0 ? n : 0), buf);
	n = read(last[0], buf, sizeof(buf));
	printf(", then %s\n", n == 0 ? "end of stream" : "more");
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	printf("server exited %d\n", WEXITSTATUS(status));
	return 0;
}
