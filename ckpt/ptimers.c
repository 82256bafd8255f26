/* ptimers.c: POSIX timers (timer_create). /proc/PID/timers lists them
 * (id, signal and value, notification, clock); the time left and the
 * interval come from timer_gettime injected into the process. At restore
 * the process makes them again with the same ids (the kernel takes the
 * id we ask for once PR_TIMER_CREATE_RESTORE_IDS is on, Linux 6.17+) and
 * arms them with the time they had left: the job's clocks do not move
 * while it is on disk (clock.c), so a relative time is the faithful one. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif
#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif
#define NSEC 1000000000ULL

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * NSEC + t->tv_nsec;
}

static struct timespec ns_ts(uint64_t ns)
{
	return (struct timespec){ .tv_sec = ns / NSEC, .tv_nsec = ns % NSEC };
}

/* The job's tid of the thread the dumping side knows as HOST; 0 if none. */
static int job_tid(struct dump_ctx *c, int host)
{
	for (size_t i = 0; i < c->nr_thr; i++)
		if (c->thr[i].tid == host)
			return c->img->threads[i]->tid;
	return 0;
}

/* One "ID: ..." block of /proc/PID/timers into T; P points after it. */
static int parse_timer(struct dump_ctx *c, char **p, PosixTimer *t)
{
	char how[16], whom[8];
	unsigned long long val;
	int id, sig, who, clock, n = 0;

	/* "notify: signal/tid.N": SIGEV_SIGNAL | SIGEV_THREAD_ID to thread N;
	 * "signal/pid.N" and "none/pid.N" to the process */
	if (sscanf(*p, "ID: %d\nsignal: %d/%llx\nnotify: %15[a-z]/%7[a-z].%d\nClockID: %d\n%n", &id,
		   &sig, &val, how, whom, &who, &clock, &n) != 7 || !n) {
		pr_err("cannot understand the POSIX timers of process %d (/proc/%d/timers)", c->pid,
		       c->pid);
		return -1;
	}
	*p += n;
	posix_timer__init(t);
	t->id = id;
	t->signo = sig;
	t->sigval = val;
	t->clock = clock;
	if (!strcmp(how, "signal") && strcmp(whom, "tid")) {
		t->notify = SIGEV_SIGNAL;
	} else if (!strcmp(how, "none") && strcmp(whom, "tid")) {
		t->notify = SIGEV_NONE;
	} else if (!strcmp(how, "signal") && !strcmp(whom, "tid")) {
		/* (glibc's SIGEV_THREAD is this, to its helper thread) */
		t->notify = SIGEV_THREAD_ID;
		t->has_notify_tid = 1;
		t->notify_tid = job_tid(c, who);
		if (!t->notify_tid) {
			pr_err("POSIX timer %d of process %d signals thread %d, which is not one of "
			       "its own", id, c->pid, who);
			return -1;
		}
	} else {
		pr_err("POSIX timer %d of process %d notifies by '%s', which jobfreeze does not know",
		       id, c->pid, how);
		return -1;
	}
	return 0;
}

int ptimers_dump(struct dump_ctx *c)
{
	char path[64], *text, *p;
	size_t cap = 0;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/timers", c->pid);
	text = read_file(path, NULL);
	if (!text) {
		pr_perror("cannot read %s", path);
		return -1;
	}
	for (p = text; *p;) {
		struct itimerspec its;
		PosixTimer *t = xmalloc(sizeof(*t));
		long r;

		if (c->img->n_posix_timers == cap)
			c->img->posix_timers = xrealloc(c->img->posix_timers,
							(cap = cap ? cap * 2 : 4) * sizeof(PosixTimer *));
		c->img->posix_timers[c->img->n_posix_timers++] = t;
		if (parse_timer(c, &p, t) < 0)
			goto out;
		r = INJECT(&c->in, SYS_timer_gettime, t->id, c->in.scratch);
		if (r < 0 || remote_read(c->pid, c->in.scratch, &its, sizeof(its)) < 0) {
			pr_err("cannot read POSIX timer %d of process %d: %s", t->id, c->pid,
			       strerror(r < 0 ? -r : errno));
			goto out;
		}
		t->value_ns = ts_ns(&its.it_value);
		t->interval_ns = ts_ns(&its.it_interval);
	}
	ret = 0;
out:
	free(text);
	return ret;
}

/* Restores one timer: a sigevent and the wanted id in the scratch area,
 * timer_create, then timer_settime. */
static int restore_one(struct restore_ctx *r, const PosixTimer *t)
{
	struct sigevent sev;
	struct itimerspec its = { .it_value = ns_ts(t->value_ns), .it_interval = ns_ts(t->interval_ns) };
	int id = t->id;
	uint64_t sev_at, id_at, its_at;
	long ret;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = t->notify;
	sev.sigev_signo = t->signo;
	sev.sigev_value.sival_ptr = (void *)(uintptr_t)t->sigval;
	if (t->notify == SIGEV_THREAD_ID)
		sev._sigev_un._tid = t->notify_tid;
	sev_at = scratch_put(r, 0, &sev, sizeof(sev));
	id_at = scratch_put(r, 128, &id, sizeof(id));
	its_at = scratch_put(r, 192, &its, sizeof(its));
	if (!sev_at || !id_at || !its_at)
		return -1;
	ret = INJECT(&r->in, SYS_timer_create, t->clock, sev_at, id_at);
	if (ret == 0 && (remote_read(r->job, id_at, &id, sizeof(id)) < 0 || id != t->id))
		ret = -EEXIST;
	if (ret == 0 && (t->value_ns || t->interval_ns))
		ret = INJECT(&r->in, SYS_timer_settime, t->id, 0, its_at, 0);
	if (ret < 0) {
		pr_err("process %d cannot make its POSIX timer %d (clock %d) again: %s", r->img->pid,
		       t->id, t->clock, strerror(-ret));
		return -1;
	}
	return 0;
}

int ptimers_restore(struct restore_ctx *r)
{
	long ret;

	if (!r->img->n_posix_timers)
		return 0;
	ret = INJECT(&r->in, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON,
		     0, 0, 0);
	if (ret < 0) {
		pr_err("process %d had POSIX timers, and this kernel cannot give them back their "
		       "ids (PR_TIMER_CREATE_RESTORE_IDS, Linux 6.17 or later): %s", r->img->pid,
		       strerror(-ret));
		return -1;
	}
	for (size_t i = 0; i < r->img->n_posix_timers; i++)
		if (restore_one(r, r->img->posix_timers[i]) < 0)
			return -1;
	ret = INJECT(&r->in, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF,
		     0, 0, 0);
	if (ret < 0) {
		pr_err("cannot turn PR_TIMER_CREATE_RESTORE_IDS off in process %d: %s", r->img->pid,
		       strerror(-ret));
		return -1;
	}
	return 0;
}
