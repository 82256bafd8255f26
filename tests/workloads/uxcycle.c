/* uxcycle TOKEN: two unix datagram sockets, a pair bound to abstract names
 * with bytes that are not text in them ("\0jfc\0TOKEN" and "\0jfc\1TOKEN"),
 * each in flight in the other's queue (SCM_RIGHTS): once the job is killed
 * they hold each other, and their names, until the kernel's garbage
 * collector frees them. After 1.5 s each file is received, its name and
 * its peer's checked, and a datagram sent through it. An uninterrupted run
 * and a thawed one print the same. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static socklen_t name(struct sockaddr_un *a, int which, const char *token)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, "\0jfc", 4);
	a->sun_path[4] = (char)which;
	snprintf(a->sun_path + 5, sizeof(a->sun_path) - 5, "%s", token);
	return offsetof(struct sockaddr_un, sun_path) + 5 + strlen(token);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void pass(int over, int fd)
{
	char c = 'f', cb[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec v = { &c, 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	if (sendmsg(over, &m, 0) != 1)
		die("sendmsg");
}

static int take(int from)
{
	char c, cb[CMSG_SPACE(sizeof(int))];
	struct iovec v = { &c, 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	struct cmsghdr *h;
	int fd;

	if (recvmsg(from, &m, MSG_DONTWAIT) != 1 || !(h = CMSG_FIRSTHDR(&m)) ||
	    h->cmsg_type != SCM_RIGHTS)
		die("recvmsg");
	memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

static const char *same(int s, int which, const char *token, int peer)
{
	struct sockaddr_un a, b;
	socklen_t l = sizeof(b), la = name(&a, which, token);

	if ((peer ? getpeername(s, (struct sockaddr *)&b, &l) :
		    getsockname(s, (struct sockaddr *)&b, &l)) < 0)
		return "none";
	return l == la && !memcmp(&a, &b, l) ? "as bound" : "another";
}

int main(int argc, char **argv)
{
	struct sockaddr_un a;
	struct timespec t = { 1, 500000000 };
	int sk[2], got[2];
	char buf[16];

	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sk) < 0)
		die("socketpair");
	for (int i = 0; i < 2; i++)
		if (bind(sk[i], (struct sockaddr *)&a, name(&a, i, argv[1])) < 0)
			die("bind");
	pass(sk[0], sk[0]);	/* sk[0]'s file waits in sk[1], and the other way */
	pass(sk[1], sk[1]);
	printf("uxcycle: each socket in flight in the other\n");
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
	got[0] = take(sk[1]);
	got[1] = take(sk[0]);
	for (int i = 0; i < 2; i++)
		printf("uxcycle: socket %d received: name %s, peer %s\n", i,
		       same(got[i], i, argv[1], 0), same(got[i], !i, argv[1], 1));
	if (send(got[0], "hello", 5, 0) != 5 || recv(sk[1], buf, sizeof(buf), 0) != 5)
		die("datagram");
	printf("uxcycle: a datagram through the received socket: %.5s\n", buf);
	return 0;
}
