/* uxconn: a server listening at ./conn.sock accepts one connection from
 * its child, which sends three messages over 300 ms and exits; the server
 * reads them only after 2.2 s, then the end of the stream. Frozen in
 * between, the accepted socket holds the messages of a client that has
 * gone. Then it accepts a second client, to show the listener is back. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = "conn.sock" };

static void client(int n)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	char msg[32];

	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		_exit(1);
	for (int i = 1; i <= n; i++) {
		int len = snprintf(msg, sizeof(msg), "client message %d.", i);
		if (write(s, msg, len) != len)
			_exit(2);
		usleep(100000);
	}
	_exit(0);
}

int main(void)
{
	int l = socket(AF_UNIX, SOCK_STREAM, 0), st;
	char buf[256];

	setvbuf(stdout, NULL, _IOLBF, 0);
	unlink("conn.sock");
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(l, 4) < 0)
		return 1;
	for (int round = 1; round <= 2; round++) {
		pid_t pid = fork();
		if (pid == 0)
			client(round == 1 ? 3 : 1);
		int c = accept(l, NULL, NULL);
		if (c < 0 || waitpid(pid, &st, 0) != pid)
			return 1;
		usleep(round == 1 ? 2200000 : 100000);
		ssize_t n, total = 0;
		while ((n = read(c, buf, sizeof(buf))) > 0) {
			printf("round %d: %.*s\n", round, (int)n, buf);
			total += n;
		}
		printf("round %d: %zd bytes, then %s\n", round, total, n == 0 ? "the end" : "an error");
		close(c);
	}
	unlink("conn.sock");
	return 0;
}
