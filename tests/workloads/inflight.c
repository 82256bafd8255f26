/* inflight: files in flight in a unix socket (sent with SCM_RIGHTS, not
 * received yet) when frozen: both ends of a pipe holding data, each end
 * sent alone and closed by the sender; a pipe end the sender keeps too;
 * an end of a socketpair with a message waiting in it; a socket in flight
 * that itself carries a pipe in flight; an eventfd with a count. They are
 * received after 2.5 s and each is used; prints what it got. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static void send_fd(int via, int fd, const char *tag)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)tag, strlen(tag) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(via, &mh, 0) < 0)
		perror("sendmsg");
}

static int recv_fd(int via, char *tag, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { tag, len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(via, &mh, 0);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fd = -1;

	tag[n > 0 ? n : 0] = 0;
	if (n > 0 && cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static void show(const char *what, int fd)
{
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));

	printf("%s: '%.*s'\n", what, (int)(n > 0 ? n : 0), buf);
}

int main(void)
{
	int via[2], p[2], q[2], sp[2], inner[2], r[2], ev;
	char tag[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, via);
	pipe(p);
	if (write(p[1], "queued in a pipe in flight", 26) != 26)
		return 1;
	send_fd(via[0], p[0], "read end");
	send_fd(via[0], p[1], "write end");
	close(p[0]);
	close(p[1]);
	pipe(q);
	send_fd(via[0], q[1], "a write end kept too");
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	if (write(sp[1], "waiting in a socket in flight", 29) != 29)
		return 1;
	send_fd(via[0], sp[0], "a socket");
	close(sp[0]);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, inner);
	pipe(r);
	if (write(r[1], "deeper", 6) != 6)
		return 1;
	send_fd(inner[0], r[0], "nested pipe");
	close(r[0]);
	send_fd(via[0], inner[1], "a socket carrying a pipe");
	close(inner[1]);
	ev = eventfd(5, 0);
	send_fd(via[0], ev, "an eventfd");
	close(ev);

	usleep(2500000);	/* (a second after the latest freeze point) */

	int rd = recv_fd(via[1], tag, sizeof(tag));
	printf("got the %s\n", tag);
	int wr = recv_fd(via[1], tag, sizeof(tag));
	printf("got the %s\n", tag);
	show("the pipe held", rd);
	if (write(wr, "and goes on", 11) != 11)
		return 1;
	show("through it", rd);
	int qw = recv_fd(via[1], tag, sizeof(tag));
	printf("got %s\n", tag);
	if (write(qw, "via either", 10) != 10)
		return 1;
	show("the kept read end", q[0]);
	int s = recv_fd(via[1], tag, sizeof(tag));
	printf("got %s\n", tag);
	show("it held", s);
	if (write(s, "back", 4) != 4)
		return 1;
	show("its peer got", sp[1]);
	int in = recv_fd(via[1], tag, sizeof(tag));
	printf("got %s\n", tag);
	int deep = recv_fd(in, tag, sizeof(tag));
	printf("and from it a %s\n", tag);
	show("which held", deep);
	int e = recv_fd(via[1], tag, sizeof(tag));
	uint64_t count = 0;
	if (read(e, &count, sizeof(count)) != sizeof(count))
		return 1;
	printf("got %s counting %llu\n", tag, (unsigned long long)count);
	return 0;
}
