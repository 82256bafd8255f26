/* fown.c: who hears of an fd's events by signal: its owner (F_SETOWN,
 * F_SETOWN_EX: a thread, a process or a process group of the job), the
 * signal (F_SETSIG) and O_ASYNC, which programs set on pipes, sockets and
 * terminals to be told of input by SIGIO. Only the process can tell them
 * (injected fcntl) and set them again: once every process of the job
 * exists, since an owner must. O_ASYNC is set again by the process itself
 * too, so that the signal names its own fd (si_fd). An owner outside the
 * job is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

/* Kinds whose files may have an owner (fcntl F_GETOWN works on them). */
static bool ownable(const Fd *f)
{
	switch (f->kind) {
	case FD__KIND__EVENTFD:
	case FD__KIND__SIGNALFD:
	case FD__KIND__TIMERFD:
	case FD__KIND__EPOLL:
	case FD__KIND__OPATH:
	case FD__KIND__PROC:
	case FD__KIND__NSFILE:
	case FD__KIND__PIDFD:
		return false;
	default:
		return !(f->flags & O_PATH);
	}
}

/* Fds asked at once: F_GETOWN_EX and F_GETSIG of each, in one batch. */
#define FOWN_BATCH (INJECT_BATCH_MAX / 2)

/* The owners and signals of N fds F, asked in one round trip into the
 * process (two each cost more than the calls). */
static int fown_ask(struct dump_ctx *c, Fd **f, size_t n)
{
	struct inject_call calls[2 * FOWN_BATCH];
	struct f_owner_ex own[FOWN_BATCH];
	long ret[2 * FOWN_BATCH];

	for (size_t k = 0; k < n; k++) {
		calls[2 * k] = (struct inject_call){ SYS_fcntl,
			{ f[k]->fd, F_GETOWN_EX, c->in.scratch + k * sizeof(own[0]) } };
		calls[2 * k + 1] = (struct inject_call){ SYS_fcntl, { f[k]->fd, F_GETSIG } };
	}
	if (inject_batch(&c->in, calls, 2 * n, ret) < 0 ||
	    remote_read(c->pid, c->in.scratch, own, n * sizeof(own[0])) < 0) {
		pr_err("cannot read the owners of the fds of process %d", c->pid);
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		long r = ret[2 * k], sig = ret[2 * k + 1];
		if (r < 0 || sig < 0) {
			pr_err("cannot read the owner of fd %d of process %d: %s", f[k]->fd, c->pid,
			       strerror(r < 0 ? -r : -sig));
			return -1;
		}
		if (!own[k].pid && !sig)
			continue;
		f[k]->has_fown_type = f[k]->has_fown_pid = f[k]->has_fown_sig = 1;
		f[k]->fown_type = own[k].type;
		f[k]->fown_pid = own[k].pid;
		f[k]->fown_sig = sig;
	}
	return 0;
}

int fowns_dump(struct dump_ctx *c)
{
	Fd *f[FOWN_BATCH];
	size_t n = 0;

	for (size_t i = 0; i < c->img->n_fds; i++) {
		if (!ownable(c->img->fds[i]))
			continue;
		f[n++] = c->img->fds[i];
		if (n == FOWN_BATCH) {
			if (fown_ask(c, f, n) < 0)
				return -1;
			n = 0;
		}
	}
	return n ? fown_ask(c, f, n) : 0;
}

int fowns_check(struct dump_ctx *ctx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
			const Fd *f = ctx[i].img->fds[k];
			bool found = !f->fown_pid;

			for (size_t m = 0; m < n && !found; m++) {
				if (f->fown_type == F_OWNER_PGRP)
					found = ctx[m].status.nspgid == f->fown_pid;
				else if (f->fown_type == F_OWNER_PID || ctx[m].zombie)
					found = ctx[m].status.nspid == f->fown_pid;
				else
					for (size_t t = 0; ctx[m].img && t < ctx[m].img->n_threads; t++)
						found |= ctx[m].img->threads[t]->tid == f->fown_pid;
			}
			if (!found) {
				pr_err("process %d: the signals of fd %d (%s) go to %s %d, which is not part "
				       "of the job (F_SETOWN): after a thaw they could not reach it; freeze "
				       "them together", ctx[i].pid, f->fd, f->path ? f->path : "?",
				       f->fown_type == F_OWNER_PGRP ? "process group" :
				       f->fown_type == F_OWNER_TID ? "thread" : "process", f->fown_pid);
				return -1;
			}
		}
	return 0;
}

/* ---- restore ---- */

static long restore_one(struct restore_ctx *r, const Fd *f)
{
	struct f_owner_ex own = { .type = f->fown_type, .pid = f->fown_pid };
	uint64_t at;
	long ret = 0;

	if (f->has_fown_pid) {
		at = scratch_put(r, 0, &own, sizeof(own));
		ret = at ? INJECT(&r->in, SYS_fcntl, f->fd, F_SETOWN_EX, at) : -EFAULT;
		if (ret >= 0 && f->fown_sig)
			ret = INJECT(&r->in, SYS_fcntl, f->fd, F_SETSIG, f->fown_sig);
	}
	/* set by this process, which the signal then names (si_fd) */
	if (ret >= 0 && (f->flags & O_ASYNC)) {
		ret = INJECT(&r->in, SYS_fcntl, f->fd, F_SETFL, f->flags & ~O_ASYNC);
		if (ret >= 0)
			ret = INJECT(&r->in, SYS_fcntl, f->fd, F_SETFL, f->flags);
	}
	return ret;
}

int fowns_restore(struct restore_ctx *procs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; procs[i].img && k < procs[i].img->n_fds; k++) {
			const Fd *f = procs[i].img->fds[k];
			bool done = false;
			long ret;

			if (!f->has_fown_pid && !(f->flags & O_ASYNC))
				continue;
			/* once per open file description: the first holder */
			for (size_t a = 0; a <= i && !done; a++)
				for (size_t b = 0; procs[a].img && b < (a == i ? k : procs[a].img->n_fds); b++)
					done |= f->has_desc_id && procs[a].img->fds[b]->has_desc_id &&
						procs[a].img->fds[b]->desc_id == f->desc_id;
			if (done || procs[i].img->has_files_from)
				continue;
			ret = restore_one(&procs[i], f);
			if (ret < 0) {
				pr_err("cannot give the job's fd %d (process %d) its owner and signal "
				       "again: %s", f->fd, procs[i].img->pid, strerror(-ret));
				return -1;
			}
		}
	return 0;
}
