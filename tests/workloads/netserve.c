/* netserve PORT: a server listening on 127.0.0.1:PORT (TCP) and at
 * ./srv.sock (unix). Every 100 ms, 20 times, it forks a client that
 * connects to both, sends a request and prints the replies: the listeners
 * must still be there, at the same addresses, after a thaw. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in tcp_addr;
static struct sockaddr_un unix_addr = { .sun_family = AF_UNIX, .sun_path = "srv.sock" };

static void client(int round)
{
	char buf[64];
	for (int k = 0; k < 2; k++) {
		int s = socket(k ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
		int ok = k ? connect(s, (struct sockaddr *)&unix_addr, sizeof(unix_addr))
			   : connect(s, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr));
		if (s < 0 || ok < 0) {
			printf("round %d: cannot connect over %s\n", round, k ? "unix" : "TCP");
			_exit(1);
		}
		int len = snprintf(buf, sizeof(buf), "round %d over %s", round, k ? "unix" : "TCP");
		if (write(s, buf, len) != len)
			_exit(1);
		ssize_t n = read(s, buf, sizeof(buf));
		printf("%.*s\n", (int)(n > 0 ? n : 0), buf);
		close(s);
	}
	_exit(0);
}

static int serve(int lst)
{
	char buf[64];
	int c = accept(lst, NULL, NULL);
	ssize_t n = c < 0 ? -1 : read(c, buf, sizeof(buf));

	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		buf[i] = buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i];
	if (write(c, buf, n) != n)
		return -1;
	close(c);
	return 0;
}

int main(int argc, char **argv)
{
	int one = 1, t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_UNIX, SOCK_STREAM, 0);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2)
		return 2;
	tcp_addr.sin_family = AF_INET;
	tcp_addr.sin_port = htons(atoi(argv[1]));
	tcp_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unlink("srv.sock");
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(t, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)) < 0 || listen(t, 8) < 0 ||
	    bind(u, (struct sockaddr *)&unix_addr, sizeof(unix_addr)) < 0 || listen(u, 8) < 0) {
		perror("listen");
		return 1;
	}
	for (int round = 1; round <= 20; round++) {
		usleep(100000);
		pid_t pid = fork();
		if (pid == 0)
			client(round);
		int st;
		if (pid < 0 || serve(t) < 0 || serve(u) < 0 || waitpid(pid, &st, 0) != pid || st)
			return 1;
	}
	unlink("srv.sock");
	return 0;
}
