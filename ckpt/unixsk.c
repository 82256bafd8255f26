/* unixsk.c: unix sockets. Each comes back as the kind of socket it was:
 * bound to its name (a relative one from where it was bound; one whose
 * file was unlinked is bound and unlinked again), listening with the
 * connections it had not accepted yet, connected to its peer (made by
 * connect and accept where the ends had names, so that getsockname and
 * getpeername say what they said; a socketpair where they had none), a
 * datagram socket connected to another of the job or to a named socket
 * outside it. What waits in each receive queue is queued again from the
 * socket that had sent it (sockqueue.c). A connection to a socket outside
 * the job is refused, or with --ext-unix-close found closed. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <linux/sockios.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/passedfd.h"
#include "ckpt/skplace.h"
#include "ckpt/sockdiag.h"
#include "ckpt/sockopt.h"
#include "ckpt/sockqueue.h"
#include "ckpt/socks.h"
#include "ckpt/util.h"

#define GC_WAIT_MS 2000      /* how long a killed job's abstract name may stay taken */
#define UNIX_RCV_SHUTDOWN 1
#define UNIX_SEND_SHUTDOWN 2

static bool named(const Fd *f)
{
	return f->has_sock_local && f->sock_local.len > sizeof(sa_family_t);
}

/* Whether its peer had a name (it was connected to something named) */
static bool peer_named(const Fd *f)
{
	return f->has_sock_peer_addr && f->sock_peer_addr.len > sizeof(sa_family_t);
}

/* A path name (not abstract) */
static bool path_name(const ProtobufCBinaryData *a)
{
	return a->len > sizeof(sa_family_t) && a->data[sizeof(sa_family_t)] != 0;
}

static bool same_addr(const ProtobufCBinaryData *a, const void *b, size_t blen)
{
	return a->len == blen && !memcmp(a->data, b, blen);
}

/* ---- dump --------------------------------------------------------------- */

/* The file a socket bound to a path made: still there, or unlinked (or
 * replaced). A relative name was bound from some directory: the working
 * directory, where it is looked for. */
static int bound_file(struct dump_ctx *c, Fd *f, const struct unix_diag_info *u)
{
	const struct sockaddr_un *a = (const void *)f->sock_local.data;
	size_t n = strnlen(a->sun_path, f->sock_local.len - offsetof(struct sockaddr_un, sun_path));
	char *path = xasprintf("%.*s", (int)n, a->sun_path), *full = path;
	struct stat st;

	if (path[0] != '/') {
		f->sock_bind_dir = xstrdup(c->img->cwd);
		full = xasprintf("%s/%s", c->img->cwd, path);
	}
	if (stat(full, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == u->vfs_ino &&
	    major(st.st_dev) == (u->vfs_dev >> 20) && minor(st.st_dev) == (u->vfs_dev & 0xfffff)) {
		f->has_sock_file_mode = 1;
		f->sock_file_mode = st.st_mode & 07777;
	} else {
		f->has_sock_unlinked = 1;
		f->sock_unlinked = 1;
	}
	if (full != path)
		free(full);
	free(path);
	return 0;
}

int unixsk_dump(struct dump_ctx *c, int s, Fd *f, uint64_t ino)
{
	struct unix_diag_info u;
	struct sockaddr_storage a;
	socklen_t la = sizeof(a);
	int ret = -1;

	if (unix_diag_get(ino, &u) < 0)
		return -1;
	f->kind = FD__KIND__UNIX_SOCK;
	f->has_sock_ino = f->has_sock_peer = f->has_sock_type = f->has_sock_state = 1;
	f->has_sock_shutdown = 1;
	f->sock_ino = ino;
	f->sock_peer = u.peer;
	f->sock_type = u.type;
	f->sock_state = u.state;
	f->sock_shutdown = u.shutdown;
	if (u.name[0]) {
		if (getsockname(s, (struct sockaddr *)&a, &la) < 0) {
			pr_perror("process %d: cannot read the address of the socket of fd %d",
				  c->pid, f->fd);
			goto out;
		}
		sock_set_bytes(&f->sock_local, &f->has_sock_local, &a, la);
		if (u.has_vfs && path_name(&f->sock_local) && bound_file(c, f, &u) < 0)
			goto out;
	}
	if (u.state == TCP_LISTEN) {
		f->has_sock_backlog = 1;
		f->sock_backlog = u.wqueue;
		f->n_sock_pending = u.nr_icons;
		f->sock_pending = xcalloc(u.nr_icons ? u.nr_icons : 1, sizeof(uint64_t));
		for (size_t i = 0; i < u.nr_icons; i++)
			f->sock_pending[i] = u.icons[i];
	} else {
		/* its peer's name: to connect to again when the peer is not
		 * ours. (A datagram socket says it is connected only here: the
		 * kernel calls one that others connected to established too.) */
		la = sizeof(a);
		if (getpeername(s, (struct sockaddr *)&a, &la) == 0 && la >= sizeof(sa_family_t)) {
			sock_set_bytes(&f->sock_peer_addr, &f->has_sock_peer_addr, &a, la);
			if (path_name(&f->sock_peer_addr) &&
			    ((struct sockaddr_un *)&a)->sun_path[0] != '/' && !f->sock_bind_dir)
				f->sock_bind_dir = xstrdup(c->img->cwd);
		}
	}
	ret = sockopt_dump(c->pid, s, f, false);
out:
	unix_diag_free(&u);
	return ret;
}

static struct sk_ref *job_listener(const struct sk_index *ix, const ProtobufCBinaryData *name)
{
	for (size_t i = 0; i < ix->n; i++) {
		const Fd *g = ix->r[i].f;
		if (g->kind == FD__KIND__UNIX_SOCK && g->sock_state == TCP_LISTEN && named(g) &&
		    same_addr(&g->sock_local, name->data, name->len))
			return &ix->r[i];
	}
	return NULL;
}

/* A socket bound (not accepted) at ADDR, in the job */
static struct sk_ref *job_bound(const struct sk_index *ix, const void *addr, size_t len)
{
	for (size_t i = 0; i < ix->n; i++) {
		const Fd *g = ix->r[i].f;
		if (g->kind == FD__KIND__UNIX_SOCK && named(g) && !g->sock_accepted &&
		    same_addr(&g->sock_local, addr, len))
			return &ix->r[i];
	}
	return NULL;
}

/* Connections to a listener of the job, not accepted yet: the job's own
 * clients come back in the queue in order; others are refused, or dropped
 * with --ext-unix-close. */
static int check_pending(const struct sk_index *ix, struct sk_ref *l)
{
	Fd *f = l->f;
	size_t k = 0;
	char name[160];

	sock_bin_str(&f->sock_local, name, sizeof(name));
	for (size_t i = 0; i < f->n_sock_pending; i++) {
		struct sk_ref *cl = f->sock_pending[i] ? sk_index_find(ix, f->sock_pending[i]) : NULL;
		if (cl && cl->f->kind == FD__KIND__UNIX_SOCK) {
			int outq = 0, s = sk_grab(cl);
			if (s < 0)
				return -1;
			ioctl(s, SIOCOUTQ, &outq);
			close(s);
			if (outq) {
				pr_err("process %d: fd %d sent %d bytes on a connection to %s that the "
				       "listener has not accepted yet: they cannot be read to save them; "
				       "try again once it is accepted", cl->c->pid, cl->f->fd, outq, name);
				return -1;
			}
			cl->f->has_sock_listener = 1;
			cl->f->sock_listener = f->sock_ino;
			f->sock_pending[k++] = f->sock_pending[i];
			continue;
		}
		if (!f->sock_pending[i]) {
			pr_err("process %d: fd %d listens at %s, where a connection was made and closed "
			       "before it was accepted (what it sent cannot be read): try again once "
			       "it is accepted", l->c->pid, f->fd, name);
			return -1;
		}
		if (!l->c->o->ext_unix_close) {
			pr_err("process %d: fd %d listens at %s, where a program outside the job waits "
			       "to be accepted: freezing would cut it off; dump --ext-unix-close drops "
			       "such connections", l->c->pid, f->fd, name);
			return -1;
		}
	}
	f->n_sock_pending = k;
	return 0;
}

/* Its peer is not in the job: a datagram socket connects again to a
 * named peer; anything else is refused, or found closed. */
static int check_outside(struct sk_ref *x)
{
	Fd *f = x->f;
	struct unix_diag_info u;
	char name[160] = "an unnamed socket";

	if (unix_diag_get_quiet(f->sock_peer, &u) < 0) {
		f->sock_peer = 0;	/* closed: what it sent stays readable */
		f->has_sock_peer_gone = f->sock_peer_gone = 1;
		return 0;
	}
	unix_diag_free(&u);
	if (f->has_sock_peer_addr)
		sock_bin_str(&f->sock_peer_addr, name, sizeof(name));
	if (f->sock_type == SOCK_DGRAM && f->has_sock_peer_addr &&
	    f->sock_peer_addr.len > sizeof(sa_family_t)) {
		f->sock_peer = 0;	/* connected by name again */
		f->has_sock_peer_outside = f->sock_peer_outside = 1;
		return 0;
	}
	if (x->c->o->ext_unix_close) {
		/* What it had received stays readable, then the end. */
		pr_info("process %d: fd %d, a unix socket connected to %s, will be found closed",
			x->c->pid, f->fd, name);
		f->sock_peer = 0;
		f->has_sock_peer_gone = f->sock_peer_gone = 1;
		return 0;
	}
	pr_err("process %d: fd %d is a unix socket connected to %s, outside the job: freezing "
	       "would cut that connection; dump --ext-unix-close drops it (the thawed job finds "
	       "it closed)", x->c->pid, f->fd, name);
	return -1;
}

static bool peer_outside(const Fd *f)
{
	return f->sock_peer_outside;
}

/* Whether unix sockets A and B are bound to the same file (the kernel
 * gives an accepted socket its listener's) */
static bool same_file(uint64_t a, uint64_t b)
{
	struct unix_diag_info x, y;
	bool same = false;

	if (unix_diag_get_quiet(a, &x) < 0)
		return false;
	if (unix_diag_get_quiet(b, &y) == 0) {
		same = x.has_vfs && y.has_vfs && x.vfs_ino == y.vfs_ino && x.vfs_dev == y.vfs_dev;
		unix_diag_free(&y);
	}
	unix_diag_free(&x);
	return same;
}

/* Whether X's name is its listener's (it was accepted) rather than its own:
 * a listener of the job has it (and, a path, its file); else the other end
 * is unnamed (a client need not bind, the accepted end always has a
 * name), or, both named, the later made. */
static bool accepted(const struct sk_index *ix, const Fd *f, const Fd *peer)
{
	struct sk_ref *l;

	if (!named(f) || f->sock_type == SOCK_DGRAM || f->sock_state != TCP_ESTABLISHED ||
	    f->sock_listener)
		return false;
	if ((l = job_listener(ix, &f->sock_local)))
		return !path_name(&f->sock_local) || same_file(f->sock_ino, l->f->sock_ino);
	if (!peer)
		return true;
	return !named(peer) || f->sock_ino > peer->sock_ino;
}

static int check_sender(void *arg, const struct sockaddr_storage *from, socklen_t len)
{
	const struct sk_index *ix = ((void **)arg)[0];
	const char *what = ((void **)arg)[1];
	char name[160];

	if (job_bound(ix, from, len))
		return 0;
	sock_addr_str(from, len, name, sizeof(name));
	pr_err("a message from %s, outside the job, waits in %s: it could not be sent from "
	       "there again; try again once it is read", name, what);
	return -1;
}

int unixsk_dump_job(const struct sk_index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		if (ix->r[i].f->kind == FD__KIND__UNIX_SOCK && ix->r[i].f->sock_state == TCP_LISTEN &&
		    check_pending(ix, &ix->r[i]) < 0)
			return -1;
	for (size_t i = 0; i < ix->n; i++) {
		struct sk_ref *x = &ix->r[i];
		Fd *f = x->f;
		struct sk_ref *p;

		if (f->kind != FD__KIND__UNIX_SOCK || f->sock_state == TCP_LISTEN)
			continue;
		p = f->sock_peer ? sk_index_find(ix, f->sock_peer) : NULL;
		if (f->sock_peer && !p && check_outside(x) < 0)
			return -1;
		if (p && f->sock_type != SOCK_DGRAM && p->f->sock_peer != f->sock_ino) {
			pr_err("process %d: fd %d is a unix connection whose other end is not "
			       "connected back: it cannot be frozen", x->c->pid, f->fd);
			return -1;
		}
		/* an end whose peer has closed (the kernel forgets which) */
		if (!f->sock_peer && !f->sock_peer_gone && !f->sock_listener &&
		    (f->sock_type == SOCK_DGRAM ? f->has_sock_peer_addr && !peer_outside(f)
						: f->sock_state == TCP_ESTABLISHED))
			f->has_sock_peer_gone = f->sock_peer_gone = 1;
		if (accepted(ix, f, p ? p->f : NULL))
			f->has_sock_accepted = f->sock_accepted = 1;
	}
	for (size_t i = 0; i < ix->n; i++) {
		struct sk_ref *x = &ix->r[i];
		char what[96];
		uint64_t bytes;
		int s;

		/* (an unconnected stream socket has no queue) */
		if (x->f->kind != FD__KIND__UNIX_SOCK || x->f->sock_state == TCP_LISTEN ||
		    (x->f->sock_type != SOCK_DGRAM && x->f->sock_state != TCP_ESTABLISHED))
			continue;
		snprintf(what, sizeof(what), "the unix socket of fd %d of process %d", x->f->fd,
			 x->c->pid);
		s = sk_grab(x);
		if (s < 0)
			return -1;
		void *arg[2] = { (void *)ix, what };
		int r = sockq_save(x->c, s, x->f, what, check_sender, arg, &bytes);
		close(s);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* ---- restore ------------------------------------------------------------ */

/* Runs in DIR (a relative name's), coming back to where it was. */
struct in_dir {
	int here;
};

static int enter_dir(const char *dir, struct in_dir *d)
{
	d->here = -1;
	if (!dir)
		return 0;
	d->here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->here < 0 || chdir(dir) < 0) {
		pr_perror("cannot enter %s, where a socket of the job was bound", dir);
		if (d->here >= 0)
			close(d->here);
		d->here = -1;
		return -1;
	}
	return 0;
}

static int leave_dir(struct in_dir *d)
{
	int ret = 0;

	if (d->here < 0)
		return 0;
	if (fchdir(d->here) < 0) {
		pr_perror("cannot go back to the restore's directory");
		ret = -1;
	}
	close(d->here);
	d->here = -1;
	return ret;
}

static int make_sock(struct job_sock *js)
{
	js->fd = socket(AF_UNIX, js->f->sock_type | SOCK_CLOEXEC, 0);
	if (js->fd < 0) {
		pr_perror("cannot make a unix socket for the job's fd %d", js->f->fd);
		return -1;
	}
	return sockopt_restore(js->fd, js->f, SOCKOPT_BIND);
}

static int make_pair(struct job_sock *a, struct job_sock *b, int *other)
{
	int sv[2];

	if (socketpair(AF_UNIX, a->f->sock_type | SOCK_CLOEXEC, 0, sv) < 0) {
		pr_perror("cannot make a unix socket pair for the job's fd %d", a->f->fd);
		return -1;
	}
	a->fd = sv[0];
	if (b)
		b->fd = sv[1];
	else
		*other = sv[1];
	if (sockopt_restore(sv[0], a->f, SOCKOPT_BIND) < 0 ||
	    (b && sockopt_restore(sv[1], b->f, SOCKOPT_BIND) < 0))
		return -1;
	return 0;
}

static int addr_of(const ProtobufCBinaryData *b, struct sockaddr_un *a, socklen_t *la)
{
	if (b->len > sizeof(*a) || b->len < sizeof(sa_family_t)) {
		pr_err("damaged image: a unix socket address of %zu bytes", b->len);
		return -1;
	}
	memset(a, 0, sizeof(*a));
	memcpy(a, b->data, b->len);
	*la = b->len;
	return 0;
}

/* A socket file at PATH (in the current directory) that nobody listens to
 * any more, left by the job's earlier life: true, and it is removed. */
static bool stale(const char *path, int type)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int probe = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	bool gone;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	gone = probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof(a)) < 0 &&
	       errno == ECONNREFUSED && unlink(path) == 0;
	if (probe >= 0)
		close(probe);
	return gone;
}

static int bind_name(int s, const Fd *f, const ProtobufCBinaryData *name, const char *what)
{
	struct sockaddr_un a;
	socklen_t la;
	char text[160];
	int r;

	if (addr_of(name, &a, &la) < 0)
		return -1;
	sock_bin_str(name, text, sizeof(text));
	r = bind(s, (struct sockaddr *)&a, la);
	if (r < 0 && errno == EADDRINUSE && path_name(name) && stale(a.sun_path, f->sock_type))
		r = bind(s, (struct sockaddr *)&a, la);
	/* an abstract name may still be held by the killed job's own socket:
	 * sockets in flight in each other outlive their processes until the
	 * kernel's garbage collector, which runs on its own time, frees them */
	for (int64_t end = now_ns() + GC_WAIT_MS * 1000000LL;
	     r < 0 && errno == EADDRINUSE && !path_name(name) && now_ns() < end;) {
		usleep(20000);
		r = bind(s, (struct sockaddr *)&a, la);
	}
	if (r < 0 && errno == EADDRINUSE)
		pr_err("the job's fd %d %s %s, where another program listens now: stop it, then "
		       "thaw again", f->fd, what, text);
	else if (r < 0)
		pr_perror("cannot bind the job's fd %d to %s again", f->fd, text);
	return r;
}

/* Binds S to A and moves its file to VIA (both relative to the current
 * directory, or absolute), a file at A set aside meanwhile */
static int bind_move(int s, const struct sockaddr_un *a, socklen_t la, const char *via)
{
	char *aside = xasprintf("%s.jobfreeze-aside", a->sun_path);
	bool moved = rename(a->sun_path, aside) == 0;
	int ret = bind(s, (const struct sockaddr *)a, la);

	if (ret == 0 && rename(a->sun_path, via) < 0) {
		pr_perror("cannot move the file of the job's unlinked socket %s aside", a->sun_path);
		ret = -2;
	}
	if (moved && rename(aside, a->sun_path) < 0)
		pr_perror("cannot put %s back in place", a->sun_path);
	free(aside);
	return ret;
}

/* A socket whose file was unlinked: bound to its name (a file there set
 * aside meanwhile), its file moved to a hidden name next to it for the
 * job's sockets to connect to, until the restore unlinks it. Where its
 * own place is gone or not ours, in a place made for it (skplace.c). */
static int bind_unlinked(struct job_sock *js)
{
	struct sockaddr_un a;
	socklen_t la;
	char *via, *cwd = NULL;
	int ret, err;

	if (addr_of(&js->f->sock_local, &a, &la) < 0)
		return -1;
	via = xasprintf("%s.jobfreeze-%llu", a.sun_path, (unsigned long long)js->ino);
	ret = bind_move(js->fd, &a, la, via);
	err = errno;
	if (ret == -1 && (err == ENOENT || err == EACCES || err == EPERM || err == EROFS ||
			  err == ENOTDIR)) {
		struct in_dir d;
		js->place = skplace_make(a.sun_path, &cwd);
		if (js->place && enter_dir(cwd, &d) == 0) {
			ret = bind_move(js->fd, &a, la, via);
			err = errno;
			if (leave_dir(&d) < 0 && ret == 0)
				ret = -2;
		} else if (!js->place && errno == EEXIST) {
			errno = err;	/* the place is there: its own error says it */
		}
	}
	if (ret == -1) {
		errno = err;
		pr_perror("cannot bind the job's fd %d to its unlinked name %s again", js->f->fd,
			  a.sun_path);
	}
	if (ret == 0 && cwd) {
		js->via = xasprintf("%s/%s", cwd, via);
		free(via);
	} else if (ret == 0 && js->f->sock_bind_dir && via[0] != '/') {
		js->via = xasprintf("%s/%s", js->f->sock_bind_dir, via);
		free(via);
	} else if (ret == 0)
		js->via = via;
	else
		free(via);
	free(cwd);
	return ret == 0 ? 0 : -1;
}

static int bind_own(struct job_sock *js)
{
	const Fd *f = js->f;
	struct in_dir d;
	int ret;

	if (enter_dir(path_name(&f->sock_local) ? f->sock_bind_dir : NULL, &d) < 0)
		return -1;
	if (f->sock_unlinked)
		ret = bind_unlinked(js);
	else
		ret = bind_name(js->fd, f, &f->sock_local,
				f->sock_state == TCP_LISTEN ? "listened at" : "was bound to");
	if (ret == 0 && f->has_sock_file_mode && path_name(&f->sock_local)) {
		struct sockaddr_un a;
		socklen_t la;
		if (addr_of(&f->sock_local, &a, &la) == 0 && chmod(a.sun_path, f->sock_file_mode) < 0)
			pr_warn("cannot give the socket file %s its mode %o", a.sun_path,
				f->sock_file_mode);
	}
	if (leave_dir(&d) < 0)
		ret = -1;
	if (ret == 0 && f->sock_state == TCP_LISTEN &&
	    listen(js->fd, f->has_sock_backlog ? (int)f->sock_backlog : SOMAXCONN) < 0) {
		pr_perror("cannot listen again with the job's fd %d", f->fd);
		ret = -1;
	}
	return ret;
}

/* Where the job's socket T is reached while the job is built: its hidden
 * file when its own was unlinked (in that file's directory: a path may be
 * longer than an address holds), else its name (a relative one from its
 * directory). *DIR: the directory to be in (malloc'd, or NULL). */
static int reach(const struct job_sock *t, struct sockaddr_un *a, socklen_t *la, char **dir)
{
	*dir = NULL;
	if (!t->via) {
		if (addr_of(&t->f->sock_local, a, la) < 0)
			return -1;
		if (path_name(&t->f->sock_local) && t->f->sock_bind_dir)
			*dir = xstrdup(t->f->sock_bind_dir);
		return 0;
	}
	const char *slash = strrchr(t->via, '/');
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(slash ? slash + 1 : t->via) >= sizeof(a->sun_path)) {
		pr_err("the name %s is too long to reach the job's fd %d by", t->via, t->f->fd);
		return -1;
	}
	strcpy(a->sun_path, slash ? slash + 1 : t->via);
	*la = sizeof(*a);
	if (slash)
		*dir = slash == t->via ? xstrdup("/") : xasprintf("%.*s", (int)(slash - t->via), t->via);
	return 0;
}

/* Connects S to the job's socket T (through its hidden file when its own
 * was unlinked), or to the address NAME (relative to DIR) */
static int connect_to(int s, const struct job_sock *t, const ProtobufCBinaryData *name,
		      const char *dir, int fd)
{
	struct sockaddr_un a;
	socklen_t la;
	struct in_dir d;
	char text[160], *where = NULL;
	int r;

	if (t) {
		if (reach(t, &a, &la, &where) < 0)
			return -1;
		name = &t->f->sock_local;
		dir = where;
	} else {
		if (addr_of(name, &a, &la) < 0)
			return -1;
		if (!path_name(name))
			dir = NULL;
	}
	r = enter_dir(dir, &d);
	if (r == 0) {
		r = connect(s, (struct sockaddr *)&a, la);
		if (r < 0) {
			sock_bin_str(name, text, sizeof(text));
			pr_perror("cannot connect the job's fd %d to %s again", fd, text);
		}
		if (leave_dir(&d) < 0)
			r = -1;
	}
	free(where);
	return r;
}

static struct job_sock *find_listener(struct sock_table *t, const ProtobufCBinaryData *name)
{
	for (size_t i = 0; i < t->n; i++) {
		const Fd *g = t->s[i].f;
		if (g->kind == FD__KIND__UNIX_SOCK && g->sock_state == TCP_LISTEN && named(g) &&
		    same_addr(&g->sock_local, name->data, name->len) && t->s[i].fd >= 0)
			return &t->s[i];
	}
	return NULL;
}

/* A listener at NAME for a moment, to accept one connection through:
 * -2 when none can be made there now (someone else's, or the directory
 * gone). */
static int temp_listener(const Fd *f, const ProtobufCBinaryData *name, const char *dir)
{
	struct sockaddr_un a;
	socklen_t la;
	struct in_dir d;
	int tmp, r;

	if (addr_of(name, &a, &la) < 0)
		return -1;
	tmp = socket(AF_UNIX, f->sock_type | SOCK_CLOEXEC, 0);
	if (tmp < 0) {
		pr_perror("cannot make a listener for the job's fd %d", f->fd);
		return -1;
	}
	if (enter_dir(path_name(name) ? dir : NULL, &d) < 0) {
		close(tmp);
		return -1;
	}
	r = bind(tmp, (struct sockaddr *)&a, la);
	if (r < 0 && errno == EADDRINUSE && path_name(name) && stale(a.sun_path, f->sock_type))
		r = bind(tmp, (struct sockaddr *)&a, la);
	if (r == 0)
		r = listen(tmp, 1);
	leave_dir(&d);
	if (r < 0) {
		close(tmp);
		return -2;
	}
	return tmp;
}

static void temp_listener_close(int tmp, const ProtobufCBinaryData *name, const char *dir)
{
	struct sockaddr_un a;
	socklen_t la;
	struct in_dir d;

	if (path_name(name) && addr_of(name, &a, &la) == 0 && enter_dir(dir, &d) == 0) {
		unlink(a.sun_path);
		leave_dir(&d);
	}
	close(tmp);
}

/* The accepted end of a connection from CLIENT to a listener at NAME: the
 * job's own, or one made for the moment. -2 where no listener can be made
 * now. */
static int accept_from(struct sock_table *t, int client, const Fd *f,
		       const ProtobufCBinaryData *name, const char *dir)
{
	struct job_sock *l = find_listener(t, name);
	int tmp = -1, s = -1;

	if (!l && (tmp = temp_listener(f, name, dir)) < 0)
		return tmp;
	if (connect_to(client, l, name, dir, f->fd) == 0) {
		s = accept4(l ? l->fd : tmp, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0)
			pr_perror("cannot accept the connection of the job's fd %d again", f->fd);
	}
	if (tmp >= 0)
		temp_listener_close(tmp, name, dir);
	return s;
}

static struct job_sock *peer_of(struct sock_table *t, const Fd *f)
{
	return f->sock_peer ? sock_find(t, f->sock_peer) : NULL;
}

static bool is_unix(const struct job_sock *js)
{
	return js->f->kind == FD__KIND__UNIX_SOCK;
}

/* Whether its peer had closed (images of an earlier version said so by a
 * connected stream end without a peer) */
static bool peer_gone(const Fd *f)
{
	return f->has_sock_peer_gone ? f->sock_peer_gone :
	       f->sock_state == TCP_ESTABLISHED && !f->sock_peer && !f->sock_listener &&
	       f->sock_type != SOCK_DGRAM;
}

/* Two unnamed ends connected to each other: a stream's, or a datagram
 * socket connected to an unnamed one (which only socketpair makes). */
static int make_pairs(struct sock_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *js = &t->s[i], *p;

		if (!is_unix(js) || js->fd >= 0 || !(p = peer_of(t, js->f)) || p->fd >= 0 ||
		    named(p->f) || (js->f->sock_type != SOCK_DGRAM && named(js->f)))
			continue;
		if (make_pair(js, p, NULL) < 0)
			return -1;
		js->connected = true;
		p->connected = p->f->sock_peer == js->ino;
	}
	return 0;
}

/* A stand-in for the peer of JS that had closed, connected to it: through
 * a listener at NAME (the old peer's address) where one can be made, else
 * any. It sends what was queued, then closes. */
static int connect_partner(struct sock_table *t, struct job_sock *js, const ProtobufCBinaryData *name)
{
	const Fd *f = js->f;
	int s = -2;

	if (name)
		s = accept_from(t, js->fd, f, name, f->sock_bind_dir);
	if (s == -2) {
		/* an abstract name of the kernel's choosing (autobind) */
		int l = socket(AF_UNIX, f->sock_type | SOCK_CLOEXEC, 0);
		struct sockaddr_un a;
		socklen_t la = sizeof(a);
		if (l < 0 || bind(l, (struct sockaddr *)&(sa_family_t){ AF_UNIX }, sizeof(sa_family_t)) < 0 ||
		    listen(l, 1) < 0 || getsockname(l, (struct sockaddr *)&a, &la) < 0 ||
		    connect(js->fd, (struct sockaddr *)&a, la) < 0 ||
		    (s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
			pr_perror("cannot connect the job's fd %d to a stand-in for its closed peer",
				  f->fd);
		if (l >= 0)
			close(l);
	}
	if (s < 0)
		return -1;
	js->partner = s;
	return 0;
}

/* A datagram socket whose peer had closed: connected to a stand-in that
 * sends what was queued and closes (sending then says ECONNREFUSED, as it
 * would have). */
static int dgram_partner(struct job_sock *js)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t la = sizeof(a);
	int tmp;

	if (js->fd < 0)
		return make_pair(js, NULL, &js->partner);
	tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (tmp < 0 || bind(tmp, (struct sockaddr *)&a, sizeof(sa_family_t)) < 0 ||
	    getsockname(tmp, (struct sockaddr *)&a, &la) < 0 ||
	    connect(js->fd, (struct sockaddr *)&a, la) < 0 ||
	    connect_to(tmp, js, NULL, NULL, js->f->fd) < 0) {
		pr_perror("cannot connect the job's fd %d to a stand-in for its closed peer",
			  js->f->fd);
		if (tmp >= 0)
			close(tmp);
		return -1;
	}
	js->partner = tmp;
	return 0;
}

/* An accepted end: connected from its peer (or a stand-in when the peer
 * had closed) through its listener's name. */
static int make_accepted(struct sock_table *t, struct job_sock *js)
{
	const Fd *f = js->f;
	struct job_sock *p = peer_of(t, f);
	int client = -1, s;

	if (p && p->fd < 0 && make_sock(p) < 0)
		return -1;
	client = p ? p->fd : socket(AF_UNIX, f->sock_type | SOCK_CLOEXEC, 0);
	if (client < 0) {
		pr_perror("cannot make a stand-in for the closed peer of the job's fd %d", f->fd);
		return -1;
	}
	s = accept_from(t, client, f, &f->sock_local, f->sock_bind_dir);
	if (s == -2 && (!p || !named(p->f))) {
		/* its names lost, said: a plain pair */
		if (p) {
			close(p->fd);
			p->fd = -1;
		} else
			close(client);
		if (make_pair(js, p, &client) < 0)
			return -1;
		s = js->fd;
	} else if (s < 0) {
		if (!p)
			close(client);
		return -1;
	}
	js->fd = s;
	js->connected = true;
	if (p)
		p->connected = true;
	else
		js->partner = client;
	return 0;
}

int unixsk_build(struct sock_table *t)
{
	if (make_pairs(t) < 0)
		return -1;
	/* every name bound, every listener listening */
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *js = &t->s[i];
		if (!is_unix(js) || !named(js->f) || js->f->sock_accepted)
			continue;
		if ((js->fd < 0 && make_sock(js) < 0) || bind_own(js) < 0)
			return -1;
	}
	/* connections accepted, before the ones left waiting join the queue */
	for (size_t i = 0; i < t->n; i++)
		if (is_unix(&t->s[i]) && t->s[i].f->sock_accepted && t->s[i].fd < 0 &&
		    make_accepted(t, &t->s[i]) < 0)
			return -1;
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *l = &t->s[i];
		if (!is_unix(l) || l->f->sock_state != TCP_LISTEN)
			continue;
		for (size_t k = 0; k < l->f->n_sock_pending; k++) {
			struct job_sock *c = sock_find(t, l->f->sock_pending[k]);
			if (!c)
				continue;
			if ((c->fd < 0 && make_sock(c) < 0) ||
			    connect_to(c->fd, l, NULL, NULL, c->f->fd) < 0)
				return -1;
			c->connected = true;
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		struct job_sock *js = &t->s[i], *p;
		const Fd *f = js->f;

		if (!is_unix(js) || js->connected || f->sock_state == TCP_LISTEN)
			continue;
		if (peer_gone(f) && f->sock_type == SOCK_DGRAM) {
			if (dgram_partner(js) < 0)
				return -1;
			continue;
		}
		if (peer_gone(f) && js->fd < 0 && !peer_named(f)) {
			if (make_pair(js, NULL, &js->partner) < 0)
				return -1;
			continue;
		}
		if (js->fd < 0 && make_sock(js) < 0)
			return -1;
		if (peer_gone(f)) {
			if (connect_partner(t, js, peer_named(f) ? &f->sock_peer_addr : NULL) < 0)
				return -1;
		} else if ((p = peer_of(t, f))) {
			if (connect_to(js->fd, p, NULL, NULL, f->fd) < 0)
				return -1;
		} else if (f->sock_peer_outside &&
			   connect_to(js->fd, NULL, &f->sock_peer_addr, f->sock_bind_dir, f->fd) < 0)
			return -1;
		js->connected = true;
	}
	return 0;
}

/* ---- what waited, queued again ------------------------------------------ */

/* Sends M (with the NR fds FDS) through FROM to DST by its name (a
 * relative one from its directory, an unlinked one through its hidden
 * file) */
static int send_to(int from, const struct job_sock *dst, const struct sock_msg *m, const int *fds,
		   size_t nr, const char *what)
{
	struct sockaddr_un a;
	socklen_t la;
	struct in_dir d;
	char *dir;
	int r;

	if (reach(dst, &a, &la, &dir) < 0)
		return -1;
	r = enter_dir(dir, &d);
	if (r == 0) {
		r = sockq_send_fds(from, (struct sockaddr *)&a, la, m, fds, nr, what);
		if (leave_dir(&d) < 0)
			r = -1;
	}
	free(dir);
	return r;
}

/* Who sends each message again: a datagram's named sender, the peer (or
 * its stand-in), or, for an unnamed sender, a socket of the moment; with
 * the files that were in flight with it. */
static int unix_send(void *arg, const struct sock_msg *m)
{
	struct sock_refill *u = arg;
	struct job_sock *to = u->to, *p = peer_of(u->t, to->f);
	const Fd *f = to->f;
	int fds[253], from = -1, tmp = -1, r;
	bool by_name = false;
	size_t nr = 0;

	if (m->refs && passedfd_resolve(u->t->procs, u->t->nr_procs, m->refs, m->refs_len, fds, &nr) < 0)
		return -1;
	if (f->sock_type != SOCK_DGRAM)
		from = to->partner >= 0 ? to->partner : p ? p->fd : -1;
	else if (m->from) {
		for (size_t i = 0; i < u->t->n && from < 0; i++) {
			struct job_sock *s = &u->t->s[i];
			if (is_unix(s) && named(s->f) && !s->f->sock_accepted &&
			    same_addr(&s->f->sock_local, m->from, m->from_len))
				from = s->fd;
		}
		by_name = named(f);
	} else if (to->partner >= 0)
		from = to->partner;
	else if (p && p->f->sock_peer == to->ino && !named(p->f))
		from = p->fd;
	else if (named(f)) {
		from = tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		by_name = true;
	}
	if (from < 0) {
		pr_err("nobody sends again what waited in %s", u->what);
		return -1;
	}
	r = by_name ? send_to(from, to, m, fds, nr, u->what)
		    : sockq_send_fds(from, NULL, 0, m, fds, nr, u->what);
	if (tmp >= 0)
		close(tmp);
	return r;
}

static bool is_unix_data(const Fd *f)
{
	return f->kind == FD__KIND__UNIX_SOCK && f->sock_state != TCP_LISTEN;
}

int unixsk_refill(struct sock_table *t, struct image_dir *dir)
{
	int big = 16 << 20;

	/* room for what waited, whatever limits the job had set: its own
	 * come back with its options */
	for (size_t i = 0; i < t->n; i++)
		if (is_unix(&t->s[i])) {
			setsockopt(t->s[i].fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
			if (t->s[i].partner >= 0)
				setsockopt(t->s[i].partner, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		}
	return sock_refill_all(t, dir, is_unix_data, unix_send, "unix socket");
}

int unixsk_configure(struct job_sock *js)
{
	const Fd *f = js->f;
	int s = js->fd;

	if (sockopt_restore(s, f, SOCKOPT_FINAL) < 0)
		return -1;
	if (!f->n_sock_opts && (f->sock_rcvbuf || f->sock_sndbuf)) {
		/* an image of an earlier version: its buffer sizes only */
		int rcv = f->sock_rcvbuf / 2, snd = f->sock_sndbuf / 2;
		if ((rcv && setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) < 0) ||
		    (snd && setsockopt(s, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) < 0))
			pr_warn("cannot give the socket of the job's fd %d its buffer sizes", f->fd);
	}
	if (((f->sock_shutdown & UNIX_RCV_SHUTDOWN) && shutdown(s, SHUT_RD) < 0 && errno != ENOTCONN) ||
	    ((f->sock_shutdown & UNIX_SEND_SHUTDOWN) && shutdown(s, SHUT_WR) < 0 && errno != ENOTCONN)) {
		pr_perror("cannot shut the socket of the job's fd %d down as it was", f->fd);
		return -1;
	}
	return 0;
}
