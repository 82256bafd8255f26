/* pty.c: pseudo-terminals the job runs (tmux's panes, script, expect).
 * A pty whose master the job holds is the job's own: it comes back with
 * its number, in a devpts instance of the thaw's own bound over /dev/pts
 * in the job's mount namespace (a program such as tmux keeps each pane's
 * /dev/pts/N), with the slave's settings, window size, lock, packet and
 * exclusive modes, whether its slave was ever opened, the bytes waiting
 * both ways (ptydata.c), and the session and foreground group it is the
 * controlling terminal of (made in the processes by pgrp.c with
 * pty_make_ctty and pty_set_foregrounds). A slave whose master is not the
 * job's is the job's terminal, which the thaw's terminal replaces
 * (files.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <asm/termbits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "ckpt/dump.h"
#include "ckpt/holders.h"
#include "ckpt/log.h"
#include "ckpt/ns.h"
#include "ckpt/pty.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define PTY_INDEX_MAX 4096    /* kernel.pty.max by default: no index reaches it (imgcheck.c) */

long pty_index_of_rdev(dev_t rdev)
{
	unsigned ma = major(rdev);

	return ma >= 136 && ma <= 143 ? (long)(ma - 136) * 256 + minor(rdev) : -1;
}

dev_t pty_decode_dev(unsigned v)
{
	return makedev((v & 0xfff00) >> 8, (v & 0xff) | ((v >> 12) & 0xfff00));
}

/* A slave description of our own, through the master (whatever the mount
 * namespace shows): FLAGS O_PATH only names it, without opening the tty. */
static int open_peer(int m, int flags, const char *what)
{
	int s = ioctl(m, TIOCGPTPEER, flags | O_NOCTTY | O_CLOEXEC);

	if (s < 0)
		pr_perror("cannot open the slave of %s", what);
	return s;
}

/* ---- dump ---------------------------------------------------------------- */

static int master_dump(struct dump_ctx *c, int fd, Fd *f)
{
	int m = grab_fd(c->pid, fd), s = -1, ret = -1;
	unsigned idx;
	struct stat st;

	if (m < 0)
		return -1;
	if (ioctl(m, TIOCGPTN, &idx) < 0) {
		pr_perror("process %d: cannot read the number of the pseudo-terminal of fd %d",
			  c->pid, fd);
		goto out;
	}
	s = open_peer(m, O_PATH, "a pseudo-terminal of the job");
	if (s < 0 || fstat(s, &st) < 0) {
		pr_perror("process %d: cannot find the devpts of the pseudo-terminal of fd %d",
			  c->pid, fd);
		goto out;
	}
	f->kind = FD__KIND__PTY_MASTER;
	f->has_pty_index = f->has_pty_dev = 1;
	f->pty_index = idx;
	f->pty_dev = st.st_dev;
	ret = 0;
out:
	if (s >= 0)
		close(s);
	close(m);
	return ret;
}

int pty_fd_dump(struct dump_ctx *c, int fd, Fd *f, const struct stat *st)
{
	long idx = pty_index_of_rdev(st->st_rdev);
	unsigned dev;
	int t;

	f->kind = FD__KIND__TTY;
	if (major(st->st_rdev) == 5 && minor(st->st_rdev) == 2)
		return master_dump(c, fd, f);
	if (idx >= 0) {
		f->has_pty_index = f->has_pty_dev = 1;
		f->pty_index = idx;
		f->pty_dev = st->st_dev;
		return 0;
	}
	if (major(st->st_rdev) != 5 || minor(st->st_rdev) != 0)
		return 0;
	/* /dev/tty: the controlling terminal it was opened on */
	t = grab_fd(c->pid, fd);
	if (t < 0)
		return -1;
	if (ioctl(t, TIOCGDEV, &dev) == 0 && (idx = pty_index_of_rdev(pty_decode_dev(dev))) >= 0) {
		f->has_pty_index = 1;
		f->pty_index = idx;
	}
	close(t);
	return 0;
}

/* Where the job holds a pty's master, for reading its state. */
struct pty_ref {
	PtysPair *p;
	struct dump_ctx *c;
	int fd;                /* the master's fd in c, -1 when hung up */
	int nr_slaves;         /* PTY_SLAVE fds of the job on it */
	int slave_fd;          /* one of them (in slave_c) */
	struct dump_ctx *slave_c;
};

struct pty_refs {
	struct pty_ref *r;
	size_t n;
};

static struct pty_ref *ref_find(struct pty_refs *refs, uint64_t dev, uint32_t idx, bool any_dev)
{
	for (size_t i = 0; i < refs->n; i++)
		if (refs->r[i].p->index == idx && (any_dev || refs->r[i].p->dev == dev))
			return &refs->r[i];
	return NULL;
}

static struct pty_ref *ref_add(struct pty_refs *refs, struct pty_list *l, uint64_t dev,
			       uint32_t idx)
{
	PtysPair *p = xmalloc(sizeof(*p));

	ptys_pair__init(p);
	p->index = idx;
	p->dev = dev;
	l->p = xrealloc(l->p, (l->n + 1) * sizeof(*l->p));
	l->p[l->n++] = p;
	refs->r = xrealloc(refs->r, (refs->n + 1) * sizeof(*refs->r));
	refs->r[refs->n] = (struct pty_ref){ .p = p, .fd = -1, .slave_fd = -1 };
	return &refs->r[refs->n++];
}

/* A slave whose master has closed: its fds only say EIO, and so they will
 * again (the pair is made, then its master closed). */
static bool hung_up(struct dump_ctx *c, int fd)
{
	struct pty_termios t;
	int s = grab_fd(c->pid, fd);
	bool hup;

	if (s < 0)
		return false;
	hup = ioctl(s, TCGETS2, &t) < 0 && errno == EIO;
	close(s);
	return hup;
}

/* Whether the pty of R is the controlling terminal of C's session (a
 * /dev/tty says only the number of the terminal it was opened on). */
static bool terminal_of(const struct pty_ref *r, const struct dump_ctx *c)
{
	int m = r->fd >= 0 ? grab_fd(r->c->pid, r->fd) : -1;
	pid_t sid = 0;

	if (m < 0)
		return false;
	if (ioctl(m, TIOCGSID, &sid) < 0)
		sid = 0;
	close(m);
	return sid && sid == c->stat.session;
}

/* Which pty each terminal fd of the job is: the job's own or its terminal. */
static void classify(struct dump_ctx *ctx, size_t n, struct pty_refs *refs, struct pty_list *l)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
			Fd *f = ctx[i].img->fds[k];
			struct pty_ref *r;
			if (f->kind != FD__KIND__PTY_MASTER)
				continue;
			r = ref_find(refs, f->pty_dev, f->pty_index, false);
			if (!r)
				r = ref_add(refs, l, f->pty_dev, f->pty_index);
			if (r->fd < 0) {
				r->c = &ctx[i];
				r->fd = f->fd;
			}
		}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
			Fd *f = ctx[i].img->fds[k];
			struct pty_ref *r;
			if (f->kind != FD__KIND__TTY || !f->has_pty_index)
				continue;
			r = ref_find(refs, f->pty_dev, f->pty_index, !f->has_pty_dev);
			if (r && !f->has_pty_dev && !terminal_of(r, &ctx[i]))
				r = NULL;	/* a /dev/tty of the job's terminal, of that number */
			if (!r && f->has_pty_dev && hung_up(&ctx[i], f->fd)) {
				r = ref_add(refs, l, f->pty_dev, f->pty_index);
				r->p->has_hung_up = 1;
				r->p->hung_up = 1;
			}
			if (!r)
				continue;	/* the job's terminal */
			f->kind = f->has_pty_dev ? FD__KIND__PTY_SLAVE : FD__KIND__PTY_CTTY;
			if (f->kind == FD__KIND__PTY_SLAVE && !r->nr_slaves++) {
				r->slave_c = &ctx[i];
				r->slave_fd = f->fd;
			}
		}
}

/* The pid (JOB_PGRP: the group) as the job sees it of HOST as we see it;
 * 0 if no process of the job has it. */
static pid_t job_view(struct dump_ctx *ctx, size_t n, pid_t host, bool group)
{
	for (size_t i = 0; host > 0 && i < n; i++) {
		if (!group && ctx[i].pid == host)
			return ctx[i].status.nspid;
		if (group && !ctx[i].zombie && ctx[i].stat.pgrp == host)
			return ctx[i].status.nspgid;
	}
	return 0;
}

/* The image's field B (with its HAS) takes over BUF. */
static void keep(ProtobufCBinaryData *b, protobuf_c_boolean *has, void *buf, size_t len)
{
	b->data = buf;
	b->len = len;
	*has = 1;
}

/* Copies the bytes waiting both ways, and queues them again at once: the
 * job finds its pty as it was whatever the dump does next. */
static int dump_queues(struct pty_ref *r, int m, int sl, const struct pty_termios *t,
		       const char *what)
{
	PtysPair *p = r->p;
	char *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0;
	int s = -1, ret = -1;

	if (p->slave == PTYS_PAIR__SLAVE_STATE__NEVER_OPENED)
		return 0;	/* (opening its slave now would change that) */
	/* (a locked or exclusive slave cannot be opened: for a moment it is not) */
	if ((p->locked && ioctl(m, TIOCSPTLCK, &(int){ 0 }) < 0) ||
	    (p->slave_excl && ioctl(sl, TIOCNXCL) < 0)) {
		pr_perror("cannot unlock %s to copy what waits in it", what);
		goto relock;
	}
	s = open_peer(m, O_RDWR | O_NONBLOCK, what);
	if (s < 0)
		goto relock;
	if (pty_take_output(m, p->packet, &out, &out_len, what) < 0)
		goto out;
	if (p->slave == PTYS_PAIR__SLAVE_STATE__OPEN &&
	    pty_take_input(m, s, t, &in, &in_len, what) < 0)
		goto put_back;
	ret = 0;
	if (in_len && (keep(&p->input, &p->has_input, in, in_len),
		       pty_put_input(m, s, t, in, in_len, what) < 0))
		ret = -1;
put_back:
	if (out_len && (keep(&p->output, &p->has_output, out, out_len),
			pty_put_output(m, s, t, out, out_len, what) < 0))
		ret = -1;
out:
	/* (a slave closed before is closed again: the master sees EIO as before) */
	close(s);
relock:
	if ((p->locked && ioctl(m, TIOCSPTLCK, &(int){ 1 }) < 0) ||
	    (p->slave_excl && ioctl(sl, TIOCEXCL) < 0)) {
		pr_perror("cannot lock %s again", what);
		ret = -1;
	}
	return ret;
}

static int dump_pair(struct dump_ctx *ctx, size_t n, struct pty_ref *r)
{
	PtysPair *p = r->p;
	struct pty_termios t;
	struct winsize ws;
	int m, s, sl = -1, v, ret = -1;
	pid_t host;
	struct stat st;
	char what[96];

	snprintf(what, sizeof(what), "the pseudo-terminal /dev/pts/%u of process %d", p->index,
		 r->c->pid);
	m = grab_fd(r->c->pid, r->fd);
	if (m < 0)
		return -1;
	if (pty_get_termios(m, &t, what) < 0 || ioctl(m, TIOCGWINSZ, &ws) < 0 ||
	    ioctl(m, TIOCGPTLCK, &v) < 0) {
		pr_perror("cannot read the state of %s", what);
		goto out;
	}
	p->has_locked = p->has_packet = p->has_master_excl = p->has_slave_excl = 1;
	p->locked = v;
	if (ioctl(m, TIOCGPKT, &v) < 0 || (p->packet = v, ioctl(m, TIOCGEXCL, &v) < 0)) {
		pr_perror("cannot read the modes of %s", what);
		goto out;
	}
	p->master_excl = v;
	keep(&p->termios, &p->has_termios, memcpy(xmalloc(sizeof(t)), &t, sizeof(t)), sizeof(t));
	keep(&p->winsize, &p->has_winsize, memcpy(xmalloc(sizeof(ws)), &ws, sizeof(ws)), sizeof(ws));
	/* its session and foreground group, which must be the job's */
	p->has_session = p->has_fg_pgrp = 1;
	if (ioctl(m, TIOCGSID, &host) == 0) {
		p->session = job_view(ctx, n, host, false);
		if (!p->session) {
			pr_err("%s is the controlling terminal of session %d, outside the job: "
			       "freeze that session's leader with it", what, host);
			goto out;
		}
		if (ioctl(m, TIOCGPGRP, &host) == 0)
			p->fg_pgrp = job_view(ctx, n, host, true);
	} else if (errno != ENOTTY) {
		pr_perror("cannot read the session of %s", what);
		goto out;
	}
	s = open_peer(m, O_PATH, what);
	if (s < 0 || fstat(s, &st) < 0) {
		pr_perror("cannot see the mode of %s", what);
		if (s >= 0)
			close(s);
		goto out;
	}
	close(s);
	p->has_mode = 1;
	p->mode = st.st_mode & 07777;
	p->has_slave = 1;
	if (r->nr_slaves) {
		sl = grab_fd(r->slave_c->pid, r->slave_fd);
		if (sl < 0)
			goto out;
		p->slave = PTYS_PAIR__SLAVE_STATE__OPEN;
		if (ioctl(sl, TIOCGEXCL, &v) < 0)
			v = 0;
		p->slave_excl = v;
	} else {
		/* EPOLLHUP on the master: its slave was open and has closed */
		struct pollfd pf = { .fd = m, .events = POLLIN };
		poll(&pf, 1, 0);
		p->slave = pf.revents & POLLHUP ? PTYS_PAIR__SLAVE_STATE__CLOSED
						 : PTYS_PAIR__SLAVE_STATE__NEVER_OPENED;
	}
	ret = dump_queues(r, m, sl, &t, what);
out:
	if (sl >= 0)
		close(sl);
	close(m);
	return ret;
}

/* A process outside the job with a slave of the job's ptys open would be
 * cut off from it. */
static int outside_holder(void *arg, pid_t pid, const char *fd_path, const char *link)
{
	const struct pty_list *l = arg;
	struct stat st;
	long idx;

	if (strncmp(link, "/dev/pts/", 9) || stat(fd_path, &st) < 0 ||
	    (idx = pty_index_of_rdev(st.st_rdev)) < 0)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->p[i]->index == idx && l->p[i]->dev == st.st_dev && !l->p[i]->hung_up) {
			pr_err("the pseudo-terminal %s of the job is open in process %d, outside the "
			       "job: freeze that process with it, or close it there", link, pid);
			return -1;
		}
	return 0;
}

int ptys_dump(struct dump_ctx *ctx, size_t n, struct pty_list *out)
{
	struct pty_refs refs = { 0 };
	pid_t *job;
	int ret = -1;

	classify(ctx, n, &refs, out);
	if (!refs.n)
		return 0;
	for (size_t i = 0; i < refs.n; i++)
		if (refs.r[i].fd >= 0 && dump_pair(ctx, n, &refs.r[i]) < 0)
			goto out;
	job = xcalloc(n, sizeof(pid_t));
	for (size_t i = 0; i < n; i++)
		job[i] = ctx[i].pid;
	ret = holders_walk(job, n, outside_holder, out) ? -1 : 0;
	free(job);
out:
	free(refs.r);
	return ret;
}

void pty_list_free(struct pty_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		protobuf_c_message_free_unpacked(&l->p[i]->base, NULL);
	free(l->p);
	l->p = NULL;
	l->n = 0;
}

void pty_ctty_entry(const struct pty_list *l, const struct dump_ctx *c, ProcEntry *pe)
{
	long idx;

	if (c->zombie || !c->stat.tty_nr)
		return;
	idx = pty_index_of_rdev(pty_decode_dev(c->stat.tty_nr));
	for (size_t i = 0; idx >= 0 && i < l->n; i++)
		if (l->p[i]->index == idx && !l->p[i]->hung_up) {
			pe->has_ctty_pty = 1;
			pe->ctty_pty = idx;
			return;
		}
	pe->has_ctty_outer = 1;
	pe->ctty_outer = 1;
}

/* ---- restore ------------------------------------------------------------- */

static struct job_pty *table_find(struct pty_table *t, uint32_t idx)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->t[i].p->index == idx)
			return &t->t[i];
	return NULL;
}

/* Opens masters in the instance until each pty has its number: the kernel
 * gives the lowest free one, so the numbers below are taken by fillers,
 * closed once all are made. */
static int allocate(struct pty_table *t)
{
	struct rlimit rl;
	int *fill = NULL, nr_fill = 0, ret = -1;
	size_t got = 0;
	uint32_t max = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->t[i].p->index > max)
			max = t->t[i].p->index;
	if (max >= PTY_INDEX_MAX) {
		pr_err("damaged image: pseudo-terminal number %u", max);
		return -1;
	}
	/* (init's own limit: the fillers may be many) */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	while (got < t->n) {
		int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
		struct job_pty *jp;
		unsigned idx;

		if (m < 0) {
			pr_perror("cannot make pseudo-terminal /dev/pts/%d for the job (pty.max in "
				  "/proc/sys/kernel/pty may be too low)", nr_fill + (int)got);
			goto out;
		}
		if (ioctl(m, TIOCGPTN, &idx) < 0) {
			pr_perror("cannot read the number of a new pseudo-terminal");
			close(m);
			goto out;
		}
		jp = table_find(t, idx);
		if (jp && jp->master < 0) {
			jp->master = m;
			got++;
			continue;
		}
		if (idx > max) {
			pr_err("the job's pseudo-terminals could not get their numbers back (got %u)", idx);
			close(m);
			goto out;
		}
		fill = xrealloc(fill, (nr_fill + 1) * sizeof(int));
		fill[nr_fill++] = m;
	}
	ret = 0;
out:
	for (int i = 0; i < nr_fill; i++)
		close(fill[i]);
	free(fill);
	return ret;
}

static int setup_pair(struct job_pty *jp)
{
	const PtysPair *p = jp->p;
	struct pty_termios t;
	char what[64], path[64];
	int ret = -1;

	snprintf(what, sizeof(what), "the job's pseudo-terminal /dev/pts/%u", p->index);
	snprintf(path, sizeof(path), "/dev/pts/%u", p->index);
	if (p->has_mode && chmod(path, p->mode & 0777) < 0)
		pr_warn("cannot give %s its mode %o: %s", what, p->mode, strerror(errno));
	if (ioctl(jp->master, TIOCSPTLCK, &(int){ 0 }) < 0) {
		pr_perror("cannot unlock %s", what);
		return -1;
	}
	if (p->hung_up)
		return 0;	/* its slaves are opened, then it hangs up (finish) */
	if (p->termios.len != sizeof(t) || p->winsize.len != sizeof(struct winsize)) {
		pr_err("damaged image: the settings of %s", what);
		return -1;
	}
	memcpy(&t, p->termios.data, sizeof(t));
	if (pty_set_termios(jp->master, &t, what) < 0)
		return -1;
	if (ioctl(jp->master, TIOCSWINSZ, p->winsize.data) < 0) {
		pr_perror("cannot give %s its window size", what);
		return -1;
	}
	if (p->slave != PTYS_PAIR__SLAVE_STATE__NEVER_OPENED) {
		jp->slave = open_peer(jp->master, O_RDWR | O_NONBLOCK, what);
		if (jp->slave < 0)
			return -1;
		if (pty_put_output(jp->master, jp->slave, &t, (const char *)p->output.data,
				   p->output.len, what) < 0 ||
		    pty_put_input(jp->master, jp->slave, &t, (const char *)p->input.data,
				  p->input.len, what) < 0)
			goto out;
	}
	if (p->packet && ioctl(jp->master, TIOCPKT, &(int){ 1 }) < 0) {
		pr_perror("cannot put %s in packet mode", what);
		goto out;
	}
	ret = 0;
out:
	/* A slave that had been closed is closed again: the master reads EIO. */
	if (p->slave == PTYS_PAIR__SLAVE_STATE__CLOSED && jp->slave >= 0) {
		close(jp->slave);
		jp->slave = -1;
	}
	return ret;
}

int pty_table_build(struct pty_table *t, const Inventory *inv)
{
	memset(t, 0, sizeof(*t));
	if (!inv->n_ptys)
		return 0;
	if (ns_mount_devpts() < 0)
		return -1;
	t->t = xcalloc(inv->n_ptys, sizeof(*t->t));
	for (size_t i = 0; i < inv->n_ptys; i++) {
		if (table_find(t, inv->ptys[i]->index)) {
			pr_err("damaged image: pseudo-terminal %u twice", inv->ptys[i]->index);
			return -1;
		}
		t->t[t->n++] = (struct job_pty){ .p = inv->ptys[i], .master = -1, .slave = -1 };
	}
	if (allocate(t) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		if (setup_pair(&t->t[i]) < 0)
			return -1;
	return 0;
}

int pty_open(struct restore_ctx *r, const Fd *f)
{
	struct job_pty *jp = f->has_pty_index ? table_find(r->ptys, f->pty_index) : NULL;
	int fd;

	if (!jp || jp->master < 0) {
		pr_err("damaged image: the job's fd %d names no pseudo-terminal of the job", f->fd);
		return -1;
	}
	switch (f->kind) {
	case FD__KIND__PTY_MASTER:
		fd = fcntl(jp->master, F_DUPFD_CLOEXEC, 0);
		if (fd < 0 || fcntl(fd, F_SETFL, f->flags & (O_NONBLOCK | O_APPEND)) < 0) {
			pr_perror("cannot give the job its fd %d, the master of /dev/pts/%u", f->fd,
				  f->pty_index);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return fd;
	case FD__KIND__PTY_SLAVE:
		return open_peer(jp->master, f->flags & (O_ACCMODE | O_NONBLOCK | O_APPEND),
				 "a pseudo-terminal of the job");
	default:
		/* /dev/tty: opened again by the process once it has its terminal
		 * (pty_reopen_tty); until then a placeholder */
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
}

int pty_table_finish(struct pty_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct job_pty *jp = &t->t[i];
		const PtysPair *p = jp->p;
		char what[64];

		snprintf(what, sizeof(what), "the job's pseudo-terminal /dev/pts/%u", p->index);
		if (p->hung_up) {
			close(jp->master);	/* the job's slave fds are hung up */
			jp->master = -1;
			continue;
		}
		if ((p->slave_excl && jp->slave >= 0 && ioctl(jp->slave, TIOCEXCL) < 0) ||
		    (p->master_excl && ioctl(jp->master, TIOCEXCL) < 0) ||
		    (p->locked && ioctl(jp->master, TIOCSPTLCK, &(int){ 1 }) < 0)) {
			pr_perror("cannot give %s its exclusive and lock modes", what);
			return -1;
		}
		if (jp->slave >= 0)
			close(jp->slave);	/* the job's own fds hold it open */
		jp->slave = -1;
	}
	return 0;
}

void pty_table_close(struct pty_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->t[i].master >= 0)
			close(t->t[i].master);
		if (t->t[i].slave >= 0)
			close(t->t[i].slave);
	}
	free(t->t);
	memset(t, 0, sizeof(*t));
}

/* ---- controlling terminals, inside the processes ------------------------- */

/* Runs ioctl(fd, REQ, ARG) in process R on the master of pty IDX, passed in
 * from init (a master's ioctls act on its slave); ARG points to an int
 * argument, or is NULL. */
static long master_ioctl(struct restore_ctx *r, uint32_t idx, unsigned long req, const int *arg)
{
	struct job_pty *jp = table_find(r->ptys, idx);
	uint64_t a = 0;
	long fd, ret;

	if (!jp || jp->master < 0)
		return -ENOENT;
	if (arg && !(a = scratch_put(r, 0, arg, sizeof(*arg))))
		return -EFAULT;
	if (fd_send(r->sock, jp->master) < 0)
		return -EIO;
	fd = fd_recv(r, r->keep_at);
	if (fd < 0)
		return fd;
	ret = INJECT(&r->in, SYS_ioctl, fd, req, a);
	INJECT(&r->in, SYS_close, fd);
	return ret;
}

int pty_make_ctty(struct restore_ctx *r, uint32_t idx)
{
	long ret = master_ioctl(r, idx, TIOCSCTTY, NULL);

	if (ret < 0) {
		pr_err("process %d cannot get its controlling terminal /dev/pts/%u again: %s",
		       r->job, idx, strerror(-ret));
		return -1;
	}
	return 0;
}

/* Opens /dev/tty in R (its controlling terminal), runs REQ on it, closes
 * it; or, with TARGET >= 0, puts it at that fd number. */
static long on_dev_tty(struct restore_ctx *r, int flags, unsigned long req, int target)
{
	uint64_t path = scratch_put(r, 0, "/dev/tty", 9);
	long fd, ret = 0;

	if (!path)
		return -EFAULT;
	fd = INJECT(&r->in, SYS_openat, AT_FDCWD, path, flags | O_NOCTTY | O_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	if (target >= 0)
		ret = INJECT(&r->in, SYS_dup3, fd, target, flags & O_CLOEXEC);
	else
		ret = INJECT(&r->in, SYS_ioctl, fd, req, 0);
	INJECT(&r->in, SYS_close, fd);
	return ret < 0 ? ret : 0;
}

int pty_drop_ctty(struct restore_ctx *r)
{
	long ret = on_dev_tty(r, O_RDWR, TIOCNOTTY, -1);

	if (ret < 0) {
		pr_err("process %d cannot leave the controlling terminal it had not: %s", r->job,
		       strerror(-ret));
		return -1;
	}
	return 0;
}

int pty_reopen_tty(struct restore_ctx *r)
{
	for (size_t i = 0; r->img && i < r->img->n_fds; i++) {
		const Fd *f = r->img->fds[i];
		long ret;
		if (f->kind != FD__KIND__PTY_CTTY)
			continue;
		ret = on_dev_tty(r, (f->flags & (O_ACCMODE | O_NONBLOCK | O_APPEND)) |
				    (f->cloexec ? O_CLOEXEC : 0), 0, f->fd);
		if (ret < 0) {
			pr_err("process %d cannot open /dev/tty again as its fd %d: %s", r->job, f->fd,
			       strerror(-ret));
			return -1;
		}
	}
	return 0;
}

int pty_set_foregrounds(struct restore_ctx *procs, size_t n)
{
	if (!n || !procs[0].ptys)
		return 0;
	for (size_t i = 0; i < procs[0].ptys->n; i++) {
		const PtysPair *p = procs[0].ptys->t[i].p;
		struct restore_ctx *leader = NULL;
		long ret;

		if (!p->session || !p->fg_pgrp)
			continue;
		for (size_t k = 0; k < n && !leader; k++)
			if (procs[k].img && procs[k].job == p->session)
				leader = &procs[k];
		if (!leader)
			continue;	/* (refused at dump: a session with a terminal has its leader) */
		ret = master_ioctl(leader, p->index, TIOCSPGRP, &p->fg_pgrp);
		if (ret < 0) {
			pr_err("cannot make process group %d the foreground of /dev/pts/%u again: %s",
			       p->fg_pgrp, p->index, strerror(-ret));
			return -1;
		}
	}
	return 0;
}
