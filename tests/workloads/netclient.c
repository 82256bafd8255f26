/* netclient tcp PORT | unix PATH: connects to a server outside the job
 * (127.0.0.1:PORT or the unix socket PATH), prints its greeting, then
 * reads until the connection is lost (closed, or reset by a thaw after
 * dump --tcp-close / --ext-unix-close), and goes on with 10 ticks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	bool tcp = argc == 3 && !strcmp(argv[1], "tcp");
	char buf[64];
	int s = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 3)
		return 2;
	in.sin_port = htons(atoi(argv[2]));
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", argv[2]);
	/* the server may still be starting */
	for (int i = 0; i < 200; i++) {
		s = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
		if (tcp ? connect(s, (struct sockaddr *)&in, sizeof(in)) == 0
			: connect(s, (struct sockaddr *)&un, sizeof(un)) == 0)
			break;
		close(s);
		s = -1;
		usleep(20000);
	}
	if (s < 0) {
		printf("cannot connect\n");
		return 1;
	}
	ssize_t n = read(s, buf, sizeof(buf));
	printf("got %.*s", (int)(n > 0 ? n : 0), buf);
	while ((n = read(s, buf, sizeof(buf))) > 0)
		;
	printf("connection lost\n");
	for (int i = 1; i <= 10; i++) {
		usleep(100000);
		printf("tick %d\n", i);
	}
	return 0;
}
