/* passedfd.c: fds in flight in a unix socket. A peek at the message gives
 * us copies of them; a regular file or a character device is described by
 * path, open flags and offset, and opened again at restore to go with the
 * message. Pipes and sockets in flight would need their other ends found
 * in the job: refused. (The file comes back as an open file of its own:
 * an offset the sender still shares with it is no longer shared.) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/passedfd.h"
#include "ckpt/util.h"

#define MAX_PASSED 253    /* the kernel's SCM_MAX_FD */

struct passed {
	uint32_t flags;
	uint64_t pos;
	uint16_t path_len;    /* then the path, not NUL-terminated */
} __attribute__((packed));

static void put(char **buf, size_t *len, const void *p, size_t n)
{
	*buf = xrealloc(*buf, *len + n);
	memcpy(*buf + *len, p, n);
	*len += n;
}

/* Describes FD into *OUT; -1 if its kind cannot travel. */
static int describe_one(int fd, char **out, size_t *len, const char *where)
{
	char link[64], path[4096];
	struct passed p = { 0 };
	struct stat st;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (fstat(fd, &st) < 0 || n <= 0) {
		pr_perror("cannot look at a file descriptor in flight in %s", where);
		return -1;
	}
	path[n] = 0;
	if (!(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) || path[0] != '/' ||
	    (n > 10 && !strcmp(path + n - 10, " (deleted)"))) {
		pr_err("%s holds a file descriptor in flight (SCM_RIGHTS, not received yet) on %s: "
		       "only files and devices still on disk can be frozen in flight; try again "
		       "once the job has received it", where, path);
		return -1;
	}
	p.flags = fcntl(fd, F_GETFL);
	p.pos = S_ISREG(st.st_mode) ? (uint64_t)lseek(fd, 0, SEEK_CUR) : 0;
	p.path_len = n;
	put(out, len, &p, sizeof(p));
	put(out, len, path, n);
	return 0;
}

int passedfd_describe(struct msghdr *mh, char **out, size_t *len, const char *where)
{
	uint32_t count = 0;
	int ret = 0;

	*out = NULL;
	*len = 0;
	put(out, len, &count, sizeof(count));
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int *fds = (int *)CMSG_DATA(cm);
		size_t nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nr; i++) {
			if (ret == 0 && describe_one(fds[i], out, len, where) < 0)
				ret = -1;
			count++;
			close(fds[i]);
		}
	}
	if (ret < 0 || !count) {
		free(*out);
		*out = NULL;
		*len = 0;
		return ret;
	}
	memcpy(*out, &count, sizeof(count));
	return 0;
}

size_t passedfd_desc_len(const char *desc, size_t avail)
{
	uint32_t count;
	size_t at = sizeof(count);

	if (avail < sizeof(count))
		return 0;
	memcpy(&count, desc, sizeof(count));
	if (!count || count > MAX_PASSED)
		return 0;
	for (uint32_t i = 0; i < count; i++) {
		struct passed p;
		if (avail - at < sizeof(p))
			return 0;
		memcpy(&p, desc + at, sizeof(p));
		at += sizeof(p);
		if (avail - at < p.path_len)
			return 0;
		at += p.path_len;
	}
	return at;
}

int passedfd_send(int from, const struct sockaddr *to, socklen_t to_len, const char *data,
		  uint32_t len, const char *desc, size_t desc_len, size_t *used, const char *where)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_PASSED)];
	int fds[MAX_PASSED];
	uint32_t count;
	size_t at = sizeof(count), opened = 0;
	int ret = -1;

	if (desc_len < sizeof(count))
		goto bad;
	memcpy(&count, desc, sizeof(count));
	if (!count || count > MAX_PASSED)
		goto bad;
	for (; opened < count; opened++) {
		struct passed p;
		char path[4096];
		if (desc_len - at < sizeof(p))
			goto bad;
		memcpy(&p, desc + at, sizeof(p));
		at += sizeof(p);
		if (!p.path_len || p.path_len >= sizeof(path) || desc_len - at < p.path_len)
			goto bad;
		memcpy(path, desc + at, p.path_len);
		path[p.path_len] = 0;
		at += p.path_len;
		fds[opened] = open(path, (p.flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_NOCTTY | O_CLOEXEC);
		if (fds[opened] < 0) {
			pr_perror("cannot open %s again, a file in flight in %s", path, where);
			goto out;
		}
		if (p.pos && lseek(fds[opened], p.pos, SEEK_SET) < 0) {
			pr_perror("cannot seek %s (in flight in %s) to %llu", path, where,
				  (unsigned long long)p.pos);
			close(fds[opened]);
			goto out;
		}
	}
	struct iovec iov = { (void *)data, len };
	struct msghdr mh = { .msg_name = (void *)to, .msg_namelen = to ? to_len : 0, .msg_iov = &iov,
			     .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * count) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * count);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * count);
	if (sendmsg(from, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
		pr_perror("cannot queue a message with %u file descriptors again in %s", count, where);
		goto out;
	}
	*used = at;
	ret = 0;
	goto out;
bad:
	pr_err("the file descriptors in flight saved for %s are damaged", where);
out:
	for (size_t i = 0; i < opened; i++)
		close(fds[i]);
	return ret;
}
