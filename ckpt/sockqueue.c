/* sockqueue.c: a socket's receive queue, copied and queued again. The
 * copy peeks (MSG_PEEK) at an advancing SO_PEEK_OFF, so that a failed or
 * -R dump leaves the queue as it was; the job's own peek offset is put
 * back after. Each record of sock-INO.img: a 32-bit length (with flag
 * bits), the bytes, the sender's address when QUEUED_FROM (a 16-bit length
 * and the address), the files in flight with it when QUEUED_WITH_REFS
 * (passedfd.h; by path when QUEUED_WITH_FDS, in images of an earlier
 * version). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/passedfd.h"
#include "ckpt/sockqueue.h"
#include "ckpt/util.h"

#define PEEK_MAX (1 << 20)            /* bigger than any message the default limits allow */
#define SOCK_DATA_MAX (64ULL << 20)   /* per socket, in the image */
#define QUEUED_FROM 0x40000000u
#define QUEUED_LEN_MASK 0x1fffffffu

/* The copy must hold every byte the kernel says is queued (SIOCINQ: all
 * of a stream's or seqpacket socket's queue; of a datagram socket only the
 * first message, which the kernel cannot be asked to count). A short copy
 * fails the dump instead of losing data. */
static int check_copied(int s, int type, uint64_t bytes, const char *what)
{
	int inq = -1;

	if (type == SOCK_DGRAM)
		return 0;
	if (ioctl(s, SIOCINQ, &inq) < 0) {
		pr_perror("cannot read how much waits in %s", what);
		return -1;
	}
	if ((uint64_t)inq != bytes) {
		pr_err("%d bytes wait in %s, and %llu could be copied: the job would lose the rest, "
		       "so it is not frozen", inq, what, (unsigned long long)bytes);
		return -1;
	}
	return 0;
}

static int write_record(int out, const char *buf, uint32_t n, const struct msghdr *mh,
			const char *fds, size_t fds_len, uint64_t *written)
{
	uint16_t alen = mh->msg_namelen;
	bool from = mh->msg_namelen > sizeof(sa_family_t);
	uint32_t len = n | (fds ? QUEUED_WITH_REFS : 0) | (from ? QUEUED_FROM : 0);

	if (write_all(out, &len, sizeof(len)) < 0 || write_all(out, buf, n) < 0 ||
	    (from && (write_all(out, &alen, sizeof(alen)) < 0 ||
		      write_all(out, mh->msg_name, alen) < 0)) ||
	    (fds && write_all(out, fds, fds_len) < 0))
		return -1;
	*written += sizeof(len) + n + (from ? sizeof(alen) + alen : 0) + fds_len;
	return 0;
}

int sockq_save(struct dump_ctx *c, int s, const Fd *f, const char *what, sockq_from_fn from_fn,
	       void *arg, uint64_t *bytes)
{
	int off0 = -1, zero = 0, out = -1, ret = -1, type = f->sock_type;
	socklen_t l = sizeof(off0);
	char *buf = xmalloc(PEEK_MAX), *fds = NULL, name[64];
	size_t fds_len = 0;
	uint64_t total = 0;

	*bytes = 0;
	snprintf(name, sizeof(name), "sock-%llu.img", (unsigned long long)f->sock_ino);
	for (size_t i = 0; i < c->dir->nr_created; i++)
		if (!strcmp(c->dir->created[i], name)) {
			free(buf);
			return 0;	/* saved through another fd of the socket */
		}
	if (getsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off0, &l) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
		pr_perror("cannot set a peek offset on %s (Linux 6.9 or later peeks into TCP)", what);
		free(buf);
		return -1;
	}
	out = image_create_raw(c->dir, name);
	if (out < 0)
		goto out;
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int) * 253)];
		struct sockaddr_storage sender;
		struct iovec iov = { buf, PEEK_MAX };
		struct msghdr mh = { .msg_name = &sender, .msg_namelen = sizeof(sender), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(s, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			pr_perror("cannot copy what waits in %s", what);
			goto out;
		}
		if (passedfd_refs(c, &mh, &fds, &fds_len, what) < 0)
			goto out;
		if (mh.msg_flags & MSG_CTRUNC) {
			pr_err("%s holds more file descriptors in flight with one message than "
			       "jobfreeze can take (253)", what);
			goto out;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			pr_err("a message of more than %d bytes waits in %s: too big to freeze",
			       PEEK_MAX, what);
			goto out;
		}
		if (n == 0) {
			if (type != SOCK_DGRAM || (f->sock_shutdown & 1 /* RCV_SHUTDOWN */))
				break;	/* the end of the stream: the other side shut down */
			pr_err("an empty datagram waits in %s: jobfreeze cannot copy it (try again "
			       "once it is read)", what);
			goto out;
		}
		if (type != SOCK_DGRAM || mh.msg_namelen <= sizeof(sa_family_t))
			mh.msg_namelen = 0;	/* a stream's sender is its peer */
		else if (from_fn && from_fn(arg, &sender, mh.msg_namelen) < 0)
			goto out;
		total += n;
		if (total > SOCK_DATA_MAX) {
			pr_err("more than %llu bytes wait in %s: too much to freeze", SOCK_DATA_MAX, what);
			goto out;
		}
		if (write_record(out, buf, n, &mh, fds, fds_len, &c->stats->bytes_written) < 0) {
			pr_perror("cannot write %s/%s", c->dir->path, name);
			goto out;
		}
		free(fds);
		fds = NULL;
	}
	if (check_copied(s, type, total, what) < 0)
		goto out;
	if (fsync(out) < 0) {
		pr_perror("cannot sync %s/%s", c->dir->path, name);
		goto out;
	}
	*bytes = total;
	ret = 0;
out:
	/* The job's own peek offset (usually -1: none) must be as it was. */
	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off0, sizeof(off0)) < 0) {
		pr_perror("cannot put back the peek offset of %s", what);
		ret = -1;
	}
	if (out >= 0)
		close(out);
	free(fds);
	free(buf);
	return ret;
}

int sockq_send_fds(int from, const struct sockaddr *to, socklen_t to_len, const struct sock_msg *m,
		   const int *fds, size_t nr, const char *what)
{
	if (!nr)
		return sockq_send(from, to, to_len, m, what);
	return passedfd_sendmsg(from, to, to_len, m->data, m->len, fds, nr, what);
}

int sockq_send(int from, const struct sockaddr *to, socklen_t to_len, const struct sock_msg *m,
	       const char *what)
{
	size_t used;

	if (m->fds)
		return passedfd_send(from, to, to_len, m->data, m->len, m->fds, m->fds_len, &used,
				     what);
	if (sendto(from, m->data, m->len, MSG_DONTWAIT | MSG_NOSIGNAL, to, to_len) != (ssize_t)m->len) {
		pr_perror("cannot queue %u bytes again in %s", m->len, what);
		return -1;
	}
	return 0;
}

int sockq_refill(struct image_dir *dir, uint64_t ino, sockq_send_fn send_fn, void *arg)
{
	char name[64];
	uint64_t size, at = 0;
	char *buf = NULL;
	int in, ret = -1;

	snprintf(name, sizeof(name), "sock-%llu.img", (unsigned long long)ino);
	if (faccessat(dir->fd, name, F_OK, 0) < 0 && errno == ENOENT)
		return 0;	/* nothing was queued */
	in = image_open_raw(dir, name, &size);
	if (in < 0)
		return -1;
	if (size > SOCK_DATA_MAX + (SOCK_DATA_MAX >> 4)) {
		pr_err("image file %s/%s is damaged (%llu bytes)", dir->path, name,
		       (unsigned long long)size);
		goto out;
	}
	buf = xmalloc(size ? size : 1);
	if (read_all(in, buf, size) != (ssize_t)size) {
		pr_perror("cannot read %s/%s", dir->path, name);
		goto out;
	}
	while (at < size) {
		struct sockaddr_storage from;
		struct sock_msg m = { 0 };
		uint32_t len;
		uint16_t alen;

		if (size - at < sizeof(len))
			goto bad;
		memcpy(&len, buf + at, sizeof(len));
		at += sizeof(len);
		m.len = len & QUEUED_LEN_MASK;
		if (m.len > size - at)
			goto bad;
		m.data = buf + at;
		at += m.len;
		if (len & QUEUED_FROM) {
			if (size - at < sizeof(alen))
				goto bad;
			memcpy(&alen, buf + at, sizeof(alen));
			at += sizeof(alen);
			if (alen > sizeof(from) || alen > size - at)
				goto bad;
			memset(&from, 0, sizeof(from));
			memcpy(&from, buf + at, alen);
			at += alen;
			m.from = &from;
			m.from_len = alen;
		}
		if (len & QUEUED_WITH_FDS) {
			m.fds = buf + at;
			m.fds_len = passedfd_desc_len(m.fds, size - at);
			if (!m.fds_len)
				goto bad;
			at += m.fds_len;
		} else if (len & QUEUED_WITH_REFS) {
			m.refs = buf + at;
			m.refs_len = passedfd_refs_len(m.refs, size - at);
			if (!m.refs_len)
				goto bad;
			at += m.refs_len;
		}
		if (send_fn(arg, &m) < 0)
			goto out;
	}
	ret = 0;
	goto out;
bad:
	pr_err("image file %s/%s is damaged (message records)", dir->path, name);
out:
	free(buf);
	close(in);
	return ret;
}
