/* passfd: file descriptors in flight. The process sends itself, over a
 * socketpair, an open file (read up to offset 5) and /dev/null with a
 * message, closes its own copies, and counts for about 2.5 s before it
 * receives them: a freeze meanwhile finds them in flight. Then it reads
 * the rest of the file through the received fd. Deterministic output. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	int sp[2], fds[2];
	char cbuf[CMSG_SPACE(sizeof(fds))], buf[64];
	struct iovec iov = { (char *)"two files", 9 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	FILE *f = fopen("passfd.data", "w");

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!f || fputs("0123456789abcdefghij\n", f) < 0 || fclose(f) != 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) < 0) {
		perror("setup");
		return 1;
	}
	fds[0] = open("passfd.data", O_RDONLY);
	fds[1] = open("/dev/null", O_WRONLY);
	if (fds[0] < 0 || fds[1] < 0 || read(fds[0], buf, 5) != 5) {
		perror("open");
		return 1;
	}
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(sp[0], &mh, 0) != 9) {
		perror("sendmsg");
		return 1;
	}
	close(fds[0]);
	close(fds[1]);
	for (int i = 1; i <= 25; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		printf("tick %d\n", i);
	}
	memset(&mh, 0, sizeof(mh));
	iov = (struct iovec){ buf, sizeof(buf) };
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	ssize_t n = recvmsg(sp[1], &mh, 0);
	cm = CMSG_FIRSTHDR(&mh);
	if (n < 0 || !cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(fds))) {
		printf("no files came with the message\n");
		return 1;
	}
	memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	printf("message '%.*s' with %zu fds\n", (int)n, buf,
	       (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	n = read(fds[0], buf, sizeof(buf));
	printf("the file from offset 5: %.*s", (int)(n > 0 ? n : 0), buf);
	printf("write to the second: %zd\n", write(fds[1], "x", 1));
	return 0;
}
