/* sockbase.c: what the socket files share below them: the job's sockets
 * at dump, one entry each (struct sk_index); at restore, the table of the
 * job's sockets, a new socket of an image's kind, an address from an
 * image, a TCP or UDP socket bound at its old address. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/sockdiag.h"
#include "ckpt/sockopt.h"
#include "ckpt/sockqueue.h"
#include "ckpt/socks.h"
#include "ckpt/util.h"

void sock_bin_str(const ProtobufCBinaryData *b, char *out, size_t size)
{
	struct sockaddr_storage ss = { 0 };

	if (b->len)	/* (an address not recorded has no data) */
		memcpy(&ss, b->data, b->len < sizeof(ss) ? b->len : sizeof(ss));
	sock_addr_str(&ss, b->len, out, size);
}

void sock_set_bytes(ProtobufCBinaryData *b, protobuf_c_boolean *has, const void *p, size_t len)
{
	b->data = xmalloc(len ? len : 1);
	memcpy(b->data, p, len);
	b->len = len;
	*has = 1;
}

bool sock_wildcard(const struct sockaddr_storage *a)
{
	struct sockaddr_storage v6;
	struct sockaddr_in6 i;
	static const struct in6_addr any = IN6ADDR_ANY_INIT;

	sock_addr_v6(a, &v6);
	memcpy(&i, &v6, sizeof(i));
	return !memcmp(&i.sin6_addr, &any, sizeof(any)) ||
	       (i.sin6_addr.s6_addr32[2] == htonl(0xffff) && !i.sin6_addr.s6_addr32[3]);
}

socklen_t sock_addr_as(int family, const struct sockaddr_storage *a, struct sockaddr_storage *out)
{
	struct sockaddr_storage v6;
	struct sockaddr_in6 i6;
	struct sockaddr_in i4 = { .sin_family = AF_INET };

	sock_addr_v6(a, &v6);
	if (family == AF_INET6) {
		*out = v6;
		return sizeof(struct sockaddr_in6);
	}
	memcpy(&i6, &v6, sizeof(i6));
	if (family != AF_INET || !IN6_IS_ADDR_V4MAPPED(&i6.sin6_addr))
		return 0;
	i4.sin_port = i6.sin6_port;
	memcpy(&i4.sin_addr, &i6.sin6_addr.s6_addr[12], 4);
	memset(out, 0, sizeof(*out));
	memcpy(out, &i4, sizeof(i4));
	return sizeof(i4);
}

uint16_t sock_port(const struct sockaddr_storage *a)
{
	struct sockaddr_storage v6;
	struct sockaddr_in6 i;

	sock_addr_v6(a, &v6);
	memcpy(&i, &v6, sizeof(i));
	return i.sin6_port;
}

static bool is_sock(const Fd *f)
{
	return f->kind == FD__KIND__UNIX_SOCK || f->kind == FD__KIND__INET_SOCK;
}

struct sk_ref *sk_index_find(const struct sk_index *ix, uint64_t ino)
{
	for (size_t i = 0; i < ix->n; i++)
		if (ix->r[i].f->sock_ino == ino)
			return &ix->r[i];
	return NULL;
}

static void sk_index_add(struct sk_index *ix, struct dump_ctx *c, Fd *f, int held)
{
	if (!is_sock(f) || sk_index_find(ix, f->sock_ino))
		return;
	ix->r = xrealloc(ix->r, (ix->n + 1) * sizeof(*ix->r));
	ix->r[ix->n++] = (struct sk_ref){ c, f, held };
}

/* (the job's fds first, then what is in flight) */
void sk_index_build(struct dump_ctx *ctx, size_t n, struct sk_index *ix)
{
	ix->r = NULL;
	ix->n = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++)
			sk_index_add(ix, &ctx[i], ctx[i].img->fds[k], -1);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_inflight; k++)
			sk_index_add(ix, &ctx[i], ctx[i].img->inflight[k], ctx[i].held[k]);
}

int sk_grab(const struct sk_ref *r)
{
	int s;

	if (r->held < 0)
		return grab_fd(r->c->pid, r->f->fd);
	s = fcntl(r->held, F_DUPFD_CLOEXEC, 0);
	if (s < 0)
		pr_perror("cannot duplicate a socket in flight");
	return s;
}

void sk_index_free(struct sk_index *ix)
{
	free(ix->r);
	ix->r = NULL;
	ix->n = 0;
}

struct job_sock *sock_find(struct sock_table *t, uint64_t ino)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].ino == ino)
			return &t->s[i];
	return NULL;
}

int sock_addr_of(const ProtobufCBinaryData *a, const Fd *f, struct sockaddr_storage *ss,
		 socklen_t *len)
{
	if (a->len > sizeof(*ss) || a->len < sizeof(sa_family_t) ||
	    (f->kind == FD__KIND__INET_SOCK && a->len < sizeof(struct sockaddr_in))) {
		pr_err("damaged image: an address of the socket of fd %d", f->fd);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, a->data, a->len);
	*len = a->len;
	return 0;
}


int sock_new(const Fd *f)
{
	int family = f->kind == FD__KIND__UNIX_SOCK ? AF_UNIX : (int)f->sock_family;
	int s = socket(family, f->sock_type | SOCK_CLOEXEC, family == AF_UNIX ? 0 : (int)f->sock_proto);

	if (s < 0) {
		pr_perror("cannot make a socket for the job's fd %d", f->fd);
		return -1;
	}
	if (sockopt_restore(s, f, SOCKOPT_BIND) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Binds S at F's address. The restore lets its sockets share their ports
 * while it builds the job (SO_REUSEADDR, each put back as it was later):
 * an earlier life's TIME_WAIT, a connection's two ends on one port. An
 * address that is no more this machine's is bound all the same (free
 * bind), said. */
int inet_bind(int s, const Fd *f)
{
	struct sockaddr_storage a;
	socklen_t la;
	char addr[160];
	int one = 1;

	if (sock_addr_of(&f->sock_local, f, &a, &la) < 0)
		return -1;
	sock_bin_str(&f->sock_local, addr, sizeof(addr));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int r = bind(s, (struct sockaddr *)&a, la);
	if (r < 0 && errno == EADDRNOTAVAIL &&
	    setsockopt(s, SOL_IP, IP_FREEBIND, &one, sizeof(one)) == 0) {
		/* (it was bound with IP_FREEBIND; or its address went away) */
		r = bind(s, (struct sockaddr *)&a, la);
		if (r == 0 && !sockopt_int(f, SOL_IP, IP_FREEBIND, &one))
			pr_warn("the job's fd %d was bound to %s, which is not an address of this "
				"machine now", f->fd, addr);
	}
	if (r == 0)
		return 0;
	if (errno == EADDRINUSE)
		pr_err("the job's fd %d was bound to %s, which another program uses now: stop it, "
		       "then thaw again", f->fd, addr);
	else
		pr_perror("cannot bind the job's fd %d to %s again", f->fd, addr);
	return -1;
}


int sock_refill_all(struct sock_table *t, struct image_dir *dir, bool (*which)(const Fd *f),
		    int (*send)(void *arg, const struct sock_msg *m), const char *label)
{
	for (size_t i = 0; i < t->n; i++) {
		struct sock_refill u = { t, &t->s[i], "" };

		if (!which(t->s[i].f))
			continue;
		snprintf(u.what, sizeof(u.what), "the %s of the job's fd %d", label, t->s[i].f->fd);
		if (sockq_refill(dir, t->s[i].ino, send, &u) < 0)
			return -1;
	}
	return 0;
}

/* An image from before sockets had their inodes recorded (a TCP or UDP
 * one): its own entry, found by its record */
struct job_sock *sock_find_fd(struct sock_table *t, const Fd *f)
{
	if (f->has_sock_ino)
		return sock_find(t, f->sock_ino);
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].f == f)
			return &t->s[i];
	return NULL;
}

static int open_sock(struct restore_ctx *r, const Fd *f)
{
	struct job_sock *js = sock_find_fd(r->socks, f);
	int fd;

	if (!js || js->fd < 0) {
		pr_err("the socket of the job's fd %d was not made", f->fd);
		return -1;
	}
	fd = fcntl(js->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		pr_perror("cannot duplicate a socket for the job's fd %d", f->fd);
		return -1;
	}
	if ((f->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		pr_perror("cannot make the job's fd %d non-blocking", f->fd);
		close(fd);
		return -1;
	}
	return fd;
}

int unixsk_open(struct restore_ctx *r, const Fd *f)
{
	return open_sock(r, f);
}

int inet_open(struct restore_ctx *r, const Fd *f)
{
	return open_sock(r, f);
}

