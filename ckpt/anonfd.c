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

int anonfd_dump(struct dump_ctx *c, Fd *f, int kind, char *info)
{
	f->info = info;		/* freed with the image */
	if (strlen(info) > INFO_MAX) {
		pr_err("process %d: fd %d (%s) has too much state to save", c->pid, f->fd, f->path);
		return -1;
	}
	f->kind = kind;
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

int epoll_restore(struct restore_ctx *r)
{
	for (size_t i = 0; i < r->img->n_fds; i++) {
		const Fd *f = r->img->fds[i];
		const char *p;
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
		for (p = f->info; p && (p = strstr(p, "tfd:")); p++) {
			int tfd;
			unsigned events;
			unsigned long long data;
			struct epoll_event ev;
			long ret;

			if (sscanf(p, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3) {
				pr_err("damaged image: the epoll set of fd %d", f->fd);
				return -1;
			}
			ev.events = events;
			ev.data.u64 = data;
			uint64_t at = scratch_put(r, 0, &ev, sizeof(ev));
			ret = at ? INJECT(&r->in, SYS_epoll_ctl, f->fd, EPOLL_CTL_ADD, tfd, at) : -EFAULT;
			if (ret < 0) {
				pr_err("cannot watch fd %d in the epoll set of fd %d again: %s", tfd, f->fd,
				       strerror(-ret));
				return -1;
			}
		}
		if ((f->flags & O_NONBLOCK) && INJECT(&r->in, SYS_fcntl, f->fd, F_SETFL, O_NONBLOCK) < 0)
			pr_warn("cannot make the epoll fd %d non-blocking", f->fd);
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
