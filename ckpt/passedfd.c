/* passedfd.c: the files in flight with a message (SCM_RIGHTS) in a queue
 * record: references to the holder's in-flight list (inflight.c) at dump,
 * those files sent along with the message again at restore; and the files
 * described by path of images of an earlier version. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "ckpt/dump.h"
#include "ckpt/holders.h"
#include "ckpt/log.h"
#include "ckpt/passedfd.h"
#include "ckpt/pipedata.h"
#include "ckpt/restore.h"
#include "ckpt/socks.h"
#include "ckpt/util.h"

#define MAX_PASSED 253    /* the kernel's SCM_MAX_FD */
#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

struct passed {
	uint32_t flags;
	uint64_t pos;
	uint16_t path_len;    /* then the path, not NUL-terminated */
} __attribute__((packed));

struct ref {
	int32_t pid;          /* the process whose in-flight list holds it */
	uint32_t index;
};

/* ---- dump ---- */

bool passedfd_same(int a, int b)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

/* The index of FD's file (ours) in C's in-flight list (found there by
 * passedfd_discover), FD closed; -1 (said) if it is not there. */
static int inflight_find(struct dump_ctx *c, int fd, const char *where)
{
	for (size_t i = 0; c->img && i < c->img->n_inflight; i++)
		if (passedfd_same(c->held[i], fd)) {
			close(fd);
			return i;
		}
	close(fd);
	pr_err("a file in flight in %s was not seen before: try again", where);
	return -1;
}

/* Each fd a peek at MH received, through FN (which closes it) */
int passedfd_each(struct msghdr *mh, int (*fn)(void *arg, int fd), void *arg)
{
	int ret = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int *fds = (int *)CMSG_DATA(cm);
		size_t nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nr; i++) {
			if (ret == 0)
				ret = fn(arg, fds[i]);
			else
				close(fds[i]);
		}
	}
	return ret;
}

struct refs {
	struct dump_ctx *c;
	const char *where;
	char **out;
	size_t *len;
};

static int add_ref(void *arg, int fd)
{
	struct refs *s = arg;
	struct ref r = { s->c->img->pid, 0 };
	int i = inflight_find(s->c, fd, s->where);

	if (i < 0)
		return -1;
	r.index = i;
	*s->out = xrealloc(*s->out, *s->len + sizeof(r));
	memcpy(*s->out + *s->len, &r, sizeof(r));
	*s->len += sizeof(r);
	return 0;
}

int passedfd_refs(struct dump_ctx *c, struct msghdr *mh, char **out, size_t *len, const char *where)
{
	uint32_t count;
	struct refs s = { c, where, out, len };
	int ret;

	*out = NULL;
	*len = sizeof(count);
	*out = xcalloc(1, sizeof(count));
	ret = passedfd_each(mh, add_ref, &s);
	count = (*len - sizeof(count)) / sizeof(struct ref);
	if (ret < 0 || !count) {
		free(*out);
		*out = NULL;
		*len = 0;
		return ret;
	}
	memcpy(*out, &count, sizeof(count));
	return 0;
}

/* ---- restore ---- */

size_t passedfd_refs_len(const char *refs, size_t avail)
{
	uint32_t count;

	if (avail < sizeof(count))
		return 0;
	memcpy(&count, refs, sizeof(count));
	if (!count || count > MAX_PASSED || (avail - sizeof(count)) / sizeof(struct ref) < count)
		return 0;
	return sizeof(count) + count * sizeof(struct ref);
}

int passedfd_resolve(struct restore_ctx *procs, size_t n, const char *refs, size_t len,
		     int *fds, size_t *nr)
{
	uint32_t count;

	if (passedfd_refs_len(refs, len) == 0)
		return -1;
	memcpy(&count, refs, sizeof(count));
	*nr = 0;
	for (uint32_t k = 0; k < count; k++) {
		struct ref r;
		int fd = -1;
		memcpy(&r, refs + sizeof(count) + k * sizeof(r), sizeof(r));
		for (size_t i = 0; i < n && fd < 0; i++)
			if (procs[i].img && procs[i].img->pid == r.pid && procs[i].inflight_fd &&
			    r.index < procs[i].img->n_inflight)
				fd = procs[i].inflight_fd[r.index];
		if (fd < 0) {
			pr_err("damaged image: a file in flight of process %d, number %u", r.pid, r.index);
			return -1;
		}
		fds[(*nr)++] = fd;
	}
	return 0;
}

int passedfd_sendmsg(int from, const struct sockaddr *to, socklen_t to_len, const char *data,
		     uint32_t len, const int *fds, size_t nr, const char *where)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_PASSED)];
	struct iovec iov = { (void *)data, len };
	struct msghdr mh = { .msg_name = (void *)to, .msg_namelen = to ? to_len : 0, .msg_iov = &iov,
			     .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * nr) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * nr);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * nr);
	if (sendmsg(from, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
		pr_perror("cannot queue a message with %zu file descriptors again in %s", nr, where);
		return -1;
	}
	return 0;
}

/* ---- images of an earlier version: files in flight by path ---- */

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
	int fds[MAX_PASSED] = { 0 };	/* (all set before use; -O1 cannot tell) */
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
	if (passedfd_sendmsg(from, to, to_len, data, len, fds, count, where) < 0)
		goto out;
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
