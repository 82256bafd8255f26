/* locks.c: file locks the job holds (flock, POSIX record locks, OFD
 * locks, leases), read from the "lock:" lines of /proc/PID/fdinfo and
 * taken again by the restored process itself (injected), on the same fd
 * and range: POSIX locks belong to a process, so nobody else could take
 * them for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

/* One "lock:" line, e.g. "lock:\t1: POSIX  ADVISORY  WRITE 1234 00:2e:56 0 EOF". */
static int parse_lock(struct dump_ctx *c, const Fd *f, const char *line, FileLock *l)
{
	char kind[16], mode[16], rw[16], end[32];
	unsigned long long start;
	int id;

	if (sscanf(line, "lock: %d: %15s %15s %15s %*s %*s %llu %31s", &id, kind, mode, rw, &start,
		   end) != 6)
		goto bad;
	file_lock__init(l);
	if (!strcmp(kind, "FLOCK"))
		l->kind = FILE_LOCK__KIND__FLOCK;
	else if (!strcmp(kind, "POSIX"))
		l->kind = FILE_LOCK__KIND__POSIX;
	else if (!strcmp(kind, "OFDLCK"))
		l->kind = FILE_LOCK__KIND__OFD;
	else if (!strcmp(kind, "LEASE"))
		l->kind = FILE_LOCK__KIND__LEASE;
	else {
		pr_err("process %d holds a %s lock on fd %d (%s): only flock, POSIX and OFD locks "
		       "and leases can be frozen", c->pid, kind, f->fd, f->path);
		return -1;
	}
	/* A lease being broken (BREAKING; BREAKER: the opener waiting) has a
	 * break timer and a waiting opener that cannot be made again. */
	if (l->kind == FILE_LOCK__KIND__LEASE && strcmp(mode, "ACTIVE")) {
		pr_err("process %d holds a lease on fd %d (%s) that is being broken (the file "
		       "was opened again): a lease in that state cannot be frozen; try again once "
		       "the holder has given it up (F_SETLEASE F_UNLCK, or closed the file) or "
		       "the break time (/proc/sys/fs/lease-break-time) has passed",
		       c->pid, f->fd, f->path);
		return -1;
	}
	if ((l->kind != FILE_LOCK__KIND__LEASE && strcmp(mode, "ADVISORY")) ||
	    (strcmp(rw, "READ") && strcmp(rw, "WRITE"))) {
		pr_err("process %d holds a %s %s lock on fd %d (%s): only advisory read and write "
		       "locks can be frozen", c->pid, mode, rw, f->fd, f->path);
		return -1;
	}
	l->write = !strcmp(rw, "WRITE");
	l->start = start;
	if (strcmp(end, "EOF")) {
		unsigned long long last;
		if (sscanf(end, "%llu", &last) != 1 || last < start)
			goto bad;
		l->len = last - start + 1;
	}
	return 0;
bad:
	pr_err("cannot understand the lock that process %d holds on fd %d: '%s'", c->pid, f->fd, line);
	return -1;
}

int locks_dump(struct dump_ctx *c, Fd *f, const char *info)
{
	for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char line[256];
		size_t n = strcspn(p, "\n");

		if (strncmp(p, "lock:", 5))
			continue;
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		if (strstr(line, "->"))
			continue;	/* a waiter blocked on this lock: its syscall restarts */
		FileLock *l = xmalloc(sizeof(*l));
		f->locks = xrealloc(f->locks, (f->n_locks + 1) * sizeof(*f->locks));
		f->locks[f->n_locks++] = l;
		if (parse_lock(c, f, line, l) < 0)
			return -1;
	}
	return 0;
}

int locks_restore(struct restore_ctx *r)
{
	for (size_t i = 0; i < r->img->n_fds; i++) {
		const Fd *f = r->img->fds[i];

		for (size_t k = 0; k < f->n_locks; k++) {
			const FileLock *l = f->locks[k];
			long ret;

			if (l->kind == FILE_LOCK__KIND__FLOCK) {
				ret = INJECT(&r->in, SYS_flock, f->fd, (l->write ? LOCK_EX : LOCK_SH) | LOCK_NB);
			} else if (l->kind == FILE_LOCK__KIND__LEASE) {
				/* (again on another fd of the same open file: the
				 * same lease, set twice) */
				ret = INJECT(&r->in, SYS_fcntl, f->fd, F_SETLEASE,
					     l->write ? F_WRLCK : F_RDLCK);
			} else {
				struct flock fl = { .l_type = l->write ? F_WRLCK : F_RDLCK,
						    .l_whence = SEEK_SET, .l_start = l->start,
						    .l_len = l->len };
				uint64_t at = scratch_put(r, 0, &fl, sizeof(fl));
				int cmd = l->kind == FILE_LOCK__KIND__OFD ? F_OFD_SETLK : F_SETLK;
				ret = at ? INJECT(&r->in, SYS_fcntl, f->fd, cmd, at) : -EFAULT;
			}
			if (ret < 0) {
				pr_err("process %d cannot take its %s lock on fd %d (%s) again: %s%s",
				       r->img->pid, l->write ? "write" : "read", f->fd,
				       f->path ? f->path : "?", strerror(-ret),
				       l->kind == FILE_LOCK__KIND__LEASE && ret == -EAGAIN ?
				       " (a lease needs the file open nowhere else, for writing "
				       "nowhere else for a read lease: close it there)" :
				       ret == -EAGAIN || ret == -EWOULDBLOCK || ret == -EACCES ?
				       " (another process holds it now: stop it, or thaw the job "
				       "once it has let go)" : "");
				return -1;
			}
		}
	}
	return 0;
}
