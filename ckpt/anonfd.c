/* anonfd.c: file descriptors on anonymous inodes: eventfd, signalfd,
 * timerfd and epoll. Their state is in /proc/PID/fdinfo, kept as text in
 * the image. eventfd, signalfd and timerfd are made again in init and
 * handed to the job like files; an epoll set is made inside the process
 * that owns it (the first of those sharing it, after fork, which pass it
 * on), since it names its targets by that process's fd numbers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define INFO_MAX 65536

int anonfd_kind(const char *link)
{
	if (!strcmp(link, "anon_inode:[eventfd]"))
		return FD__KIND__EVENTFD;
	if (!strcmp(link, "anon_inode:[signalfd]"))
		return FD__KIND__SIGNALFD;
	if (!strcmp(link, "anon_inode:[timerfd]"))
		return FD__KIND__TIMERFD;
	if (!strcmp(link, "anon_inode:[eventpoll]"))
		return FD__KIND__EPOLL;
	if (!strcmp(link, "anon_inode:inotify"))
		return FD__KIND__INOTIFY;
	return -1;
}

#ifndef KCMP_EPOLL_TFD
#define KCMP_EPOLL_TFD 7
#endif

/* Which fd of the process holds the file of each entry of the epoll set
 * F: the entry's own number, unless the process closed it (the file lives
 * on under another number: dup'ed before) or put another file there.
 * Refused when no fd of the process holds it. */
static int epoll_targets(struct dump_ctx *c, Fd *f, const char *info, const int *fds, size_t nr)
{
	size_t n = 0;
	int *nums, ret = -1;

	for (const char *p = info; (p = strstr(p, "tfd:")); p++)
		n++;
	nums = xcalloc(n ? n : 1, sizeof(int));
	f->epoll_src = xcalloc(n ? n : 1, sizeof(int32_t));
	for (const char *p = info; (p = strstr(p, "tfd:")); p++) {
		struct { uint32_t efd, tfd, toff; } slot = { f->fd, 0, 0 };
		int tfd, src = -1;

		if (sscanf(p, "tfd: %d", &tfd) != 1 || tfd < 0) {
			pr_err("cannot parse the epoll set of fd %d of process %d", f->fd, c->pid);
			goto out;
		}
		slot.tfd = tfd;
		/* entries on one number are told apart by their rank among them
		 * (the order of fdinfo is the kernel's) */
		for (size_t k = 0; k < f->n_epoll_src; k++)
			slot.toff += nums[k] == tfd;
		for (size_t k = 0; k <= nr && src < 0; k++) {
			int cand = k == 0 ? tfd : fds[k - 1];
			if (syscall(SYS_kcmp, c->pid, c->pid, KCMP_EPOLL_TFD, cand, &slot) == 0)
				src = cand;
		}
		if (src < 0) {
			pr_err("process %d: the epoll set of fd %d watches a file under fd number %d that "
			       "the process no longer holds (it closed it; only another process has it): "
			       "jobfreeze cannot give the set that file again; let the process remove it "
			       "(EPOLL_CTL_DEL) first", c->pid, f->fd, tfd);
			goto out;
		}
		nums[f->n_epoll_src] = tfd;
		f->epoll_src[f->n_epoll_src++] = src;
	}
	ret = 0;
out:
	free(nums);
	return ret;
}

int anonfd_dump(struct dump_ctx *c, Fd *f, int kind, char *info, const int *fds, size_t nr)
{
	f->info = info;		/* freed with the image */
	if (strlen(info) > INFO_MAX) {
		pr_err("process %d: fd %d (%s) has too much state to save", c->pid, f->fd, f->path);
		return -1;
	}
	f->kind = kind;
	if (kind == FD__KIND__EPOLL)
		return epoll_targets(c, f, info, fds, nr);
	return kind == FD__KIND__INOTIFY ? inotify_dump(c, f, info) : 0;
}

/* The value after "KEY" in the fdinfo text, or NULL. */
static const char *field(const char *info, const char *key)
{
	const char *p = info;
	size_t k = strlen(key);

	while (p && *p) {
		if (!strncmp(p, key, k))
			return p + k;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

int anonfd_open(const Fd *f)
{
	const char *v;
	int fd = -1, nb = f->flags & O_NONBLOCK;

	if (!f->info)
		goto bad;
	switch (f->kind) {
	case FD__KIND__EVENTFD: {
		unsigned long long count;
		int sem = 0;
		if (!(v = field(f->info, "eventfd-count:")) || sscanf(v, "%llx", &count) != 1 ||
		    count > UINT32_MAX)
			goto bad;
		if ((v = field(f->info, "eventfd-semaphore:")))
			sem = atoi(v);
		fd = eventfd(0, EFD_CLOEXEC | (nb ? EFD_NONBLOCK : 0) | (sem ? EFD_SEMAPHORE : 0));
		if (fd >= 0 && count) {
			uint64_t c = count;
			if (write(fd, &c, sizeof(c)) != sizeof(c)) {
				close(fd);
				fd = -1;
			}
		}
		break;
	}
	case FD__KIND__SIGNALFD: {
		unsigned long long mask;
		sigset_t set;
		if (!(v = field(f->info, "sigmask:")) || sscanf(v, "%llx", &mask) != 1)
			goto bad;
		sigemptyset(&set);
		for (int sig = 1; sig <= 64; sig++)
			if (mask & (1ULL << (sig - 1)))
				sigaddset(&set, sig);
		fd = signalfd(-1, &set, SFD_CLOEXEC | (nb ? SFD_NONBLOCK : 0));
		break;
	}
	case FD__KIND__TIMERFD: {
		int clockid;
		unsigned long long ticks, vs, vns, is, ins;
		struct itimerspec its;
		if (!(v = field(f->info, "clockid:")) || sscanf(v, "%d", &clockid) != 1 ||
		    !(v = field(f->info, "ticks:")) || sscanf(v, "%llu", &ticks) != 1 ||
		    !(v = field(f->info, "it_value:")) || sscanf(v, " (%llu, %llu)", &vs, &vns) != 2 ||
		    !(v = field(f->info, "it_interval:")) || sscanf(v, " (%llu, %llu)", &is, &ins) != 2)
			goto bad;
		fd = timerfd_create(clockid, TFD_CLOEXEC | (nb ? TFD_NONBLOCK : 0));
		if (fd < 0)
			break;
		/* The time it had left, relative: frozen time does not pass for the
		 * job. Expirations not read yet come back as one, at once. */
		its.it_value.tv_sec = vs;
		its.it_value.tv_nsec = vns;
		its.it_interval.tv_sec = is;
		its.it_interval.tv_nsec = ins;
		if (ticks) {
			its.it_value.tv_sec = 0;
			its.it_value.tv_nsec = 1;
		}
		if ((vs || vns || ticks) && timerfd_settime(fd, 0, &its, NULL) < 0) {
			close(fd);
			fd = -1;
		}
		break;
	}
	default:
		goto bad;
	}
	if (fd < 0)
		pr_perror("cannot make the job's fd %d (%s) again", f->fd, f->path);
	return fd;
bad:
	pr_err("damaged image: the state of the job's fd %d (%s)", f->fd, f->path ? f->path : "?");
	return -1;
}

/* Watches SRC's file in the epoll set EP under the number TFD, as the
 * process once did: through TFD itself, or, when the process has closed
 * TFD or put another file there since, by lending TFD to SRC's file for
 * the call and putting back what was there. */
static long epoll_add(struct restore_ctx *r, int ep, int tfd, int src, unsigned events,
		      uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	uint64_t at = scratch_put(r, 0, &ev, sizeof(ev));
	long ret, saved = -1, fdflags = 0;

	if (!at)
		return -EFAULT;
	if (src == tfd)
		return INJECT(&r->in, SYS_epoll_ctl, ep, EPOLL_CTL_ADD, tfd, at);
	fdflags = INJECT(&r->in, SYS_fcntl, tfd, F_GETFD);
	if (fdflags >= 0) {
		saved = INJECT(&r->in, SYS_fcntl, tfd, F_DUPFD, 0);
		if (saved < 0)
			return saved;
	}
	ret = INJECT(&r->in, SYS_dup2, src, tfd);
	if (ret >= 0)
		ret = INJECT(&r->in, SYS_epoll_ctl, ep, EPOLL_CTL_ADD, tfd, at);
	if (saved >= 0) {
		long back = INJECT(&r->in, SYS_dup3, saved, tfd, fdflags & FD_CLOEXEC ? O_CLOEXEC : 0);
		INJECT(&r->in, SYS_close, saved);
		if (back < 0 && ret >= 0)
			ret = back;
	} else {
		INJECT(&r->in, SYS_close, tfd);
	}
	return ret;
}

/* Adds the entries of epoll set F (in the process) for which WANT says so:
 * all of them (TFD -1), or those watching the number TFD. */
static int epoll_fill(struct restore_ctx *r, const Fd *f, int tfd_only)
{
	size_t k = 0;

	for (const char *p = f->info; p && (p = strstr(p, "tfd:")); p++, k++) {
		int tfd;
		unsigned events;
		unsigned long long data;
		long ret;

		if (sscanf(p, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3 ||
		    (f->n_epoll_src && k >= f->n_epoll_src)) {
			pr_err("damaged image: the epoll set of fd %d", f->fd);
			return -1;
		}
		if (tfd_only >= 0 && tfd != tfd_only)
			continue;
		ret = epoll_add(r, f->fd, tfd, f->n_epoll_src ? f->epoll_src[k] : tfd, events, data);
		if (ret < 0) {
			pr_err("cannot watch fd %d in the epoll set of fd %d again: %s", tfd, f->fd,
			       strerror(-ret));
			return -1;
		}
	}
	return 0;
}

int epoll_restore(struct restore_ctx *r)
{
	for (size_t i = 0; i < r->img->n_fds; i++) {
		const Fd *f = r->img->fds[i];
		long ep;

		if (f->kind != FD__KIND__EPOLL || (r->epoll_given && r->epoll_given[i]))
			continue;
		ep = INJECT(&r->in, SYS_epoll_create1, f->cloexec ? EPOLL_CLOEXEC : 0);
		if (ep >= 0 && ep != f->fd) {
			long d = INJECT(&r->in, SYS_dup3, ep, f->fd, f->cloexec ? O_CLOEXEC : 0);
			INJECT(&r->in, SYS_close, ep);
			ep = d;
		}
		if (ep < 0) {
			pr_err("cannot make the epoll set of fd %d again: %s", f->fd, strerror(-ep));
			return -1;
		}
		if (epoll_fill(r, f, -1) < 0)
			return -1;
		if ((f->flags & O_NONBLOCK) && INJECT(&r->in, SYS_fcntl, f->fd, F_SETFL, O_NONBLOCK) < 0)
			pr_warn("cannot make the epoll fd %d non-blocking", f->fd);
	}
	return 0;
}

int epoll_watch_again(struct restore_ctx *r, int tfd)
{
	for (size_t i = 0; i < r->img->n_fds; i++) {
		const Fd *f = r->img->fds[i];
		if (f->kind == FD__KIND__EPOLL && !(r->epoll_given && r->epoll_given[i]) &&
		    epoll_fill(r, f, tfd) < 0)
			return -1;
	}
	return 0;
}

int epoll_share(struct restore_ctx *procs, size_t n, size_t i)
{
	struct restore_ctx *r = &procs[i];

	for (size_t a = 0; r->img && a < r->img->n_fds; a++) {
		const Fd *f = r->img->fds[a];
		int ep = -1;

		if (f->kind != FD__KIND__EPOLL || !f->has_desc_id || (r->epoll_given && r->epoll_given[a]))
			continue;
		for (size_t k = i + 1; k < n; k++)
			for (size_t b = 0; procs[k].img && b < procs[k].img->n_fds; b++) {
				const Fd *g = procs[k].img->fds[b];
				if (g->kind != FD__KIND__EPOLL || !g->has_desc_id || g->desc_id != f->desc_id)
					continue;
				/* The set itself, from the process that built it, in
				 * place of the placeholder prepared for it. */
				if (ep < 0 && (ep = grab_fd(r->job, f->fd)) < 0)
					return -1;
				int dup = fcntl(ep, F_DUPFD_CLOEXEC, 0);
				if (dup < 0) {
					pr_perror("cannot duplicate the epoll set of fd %d", f->fd);
					close(ep);
					return -1;
				}
				close(procs[k].fd_src[b]);
				procs[k].fd_src[b] = dup;
				if (!procs[k].epoll_given)
					procs[k].epoll_given = xcalloc(procs[k].img->n_fds, sizeof(bool));
				procs[k].epoll_given[b] = true;
			}
		if (ep >= 0)
			close(ep);
	}
	return 0;
}
