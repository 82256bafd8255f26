/* thaw.c: a thaw from the store: the job is locked (two thaws of one job
 * cannot both run it), given this terminal, restored, and its images
 * deleted only once it runs again. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "ckpt/crashpoint.h"
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "session/autosave.h"
#include "session/job.h"
#include "tty/newpty.h"
#include "tty/terminal.h"

/* JOBS[I] is a snapshot of an autosave that a thaw without an id must not
 * take: its job still runs, or a newer snapshot of it is there. */
static bool stale_snapshot(const struct job_meta *jobs, size_t n, size_t i)
{
	if (!*jobs[i].autosave)
		return false;
	if (store_job_runs(&jobs[i]))
		return true;
	for (size_t k = 0; k < n; k++)
		if (!strcmp(jobs[k].autosave, jobs[i].autosave) && jobs[k].snapshot > jobs[i].snapshot)
			return true;
	return false;
}

int session_default_job(struct store *s, struct job_meta *m)
{
	struct job_meta *jobs;
	char *me = tty_self_name();
	size_t n;
	int pick = -1;

	if (store_list(s, &jobs, &n)) {
		free(me);
		return JF_FAILED;
	}
	/* The newest frozen from this terminal, else the newest of all; of
	 * an autosave, only its newest snapshot once its job is gone. */
	for (size_t i = n; i-- > 0 && pick < 0;)
		if (me && !strcmp(jobs[i].tty, me) && !stale_snapshot(jobs, n, i))
			pick = i;
	for (size_t i = n; i-- > 0 && pick < 0;)
		if (!stale_snapshot(jobs, n, i))
			pick = i;
	free(me);
	if (pick < 0) {
		store_list_free(jobs, n);
		pr_err("there is no frozen job to thaw");
		return JF_NO_JOB;
	}
	*m = jobs[pick];
	memset(&jobs[pick], 0, sizeof(jobs[pick]));
	store_list_free(jobs, n);
	return 0;
}

struct thaw {
	struct store *s;
	const struct thaw_opts *o;
	struct job_meta *m;
	int lock;
	bool winch;
	char *reading, *used;     /* the job's directory while read, once used up */
};

/* In the restore's init, the job rebuilt and about to run: its images are
 * used up from now on (renamed: a crash of anything from here on leaves
 * the job running and its images gone, never both). */
static int releasing(void *arg)
{
	struct thaw *t = arg;

	if (rename(t->reading, t->used) < 0) {
		pr_perror("cannot mark the images of job %s used (%s)", t->m->id, t->reading);
		return -1;
	}
	return 0;
}

/* The job runs again: its images go (unless kept), the lock with them,
 * and a full-screen program learns the size of its new terminal. */
static void ready(void *arg, pid_t job)
{
	struct thaw *t = arg;

	crash_point("thaw-ready");
	if (t->o->keep) {
		store_thaw_undo(t->s, t->m->id);
	} else {
		store_thaw_done(t->s, t->m->id);
		if (*t->m->autosave)
			autosave_thawed(t->s, t->m);
	}
	close(t->lock);
	t->lock = -1;
	if (t->winch)
		kill(-getpgrp(), SIGWINCH);
}

int session_thaw(struct store *s, const struct thaw_opts *o, int *wstatus)
{
	struct restore_opts r = { .resume_stopped = true, .tty_fd = -1 };
	struct job_meta m;
	struct thaw t = { .s = s, .o = o, .m = &m, .lock = -1 };
	struct termios saved;
	bool restore_termios = false;
	pid_t relay = 0;
	int ret;

	*wstatus = 0;
	ret = o->key ? store_find(s, o->key, &m) : session_default_job(s, &m);
	if (ret)
		return ret;
	/* A snapshot of a job that runs on: thawed, it would run twice. */
	if (*m.autosave && store_job_runs(&m)) {
		pr_err("job %s is snapshot %u of autosave %s, and the job still runs (process %d): "
		       "thawed, it would run twice. 'jobfreeze %d' freezes it for real (and ends "
		       "its autosave); 'jobthaw' then brings it back", m.id, m.snapshot, m.autosave,
		       m.pid, m.pid);
		ret = JF_BUSY;
		goto out;
	}
	t.lock = store_lock(s, m.id);
	if (t.lock < 0) {
		ret = -t.lock;
		goto out;
	}
	if (*m.tty) {
		if (o->new_pty)
			r.tty_fd = pty_relay_start(&relay);
		else
			r.tty_fd = tty_open(o->tty_path, true, m.id);
		if (r.tty_fd < 0) {
			ret = o->new_pty ? JF_FAILED : JF_USAGE;
			goto out;
		}
		bool fg = !o->detach && !o->bg && tty_we_are_foreground(r.tty_fd);
		/* A job frozen while it ran in the foreground gets its terminal
		 * settings back (raw mode, no echo); a stopped one sets its own
		 * again when continued. */
		if (fg && m.tty_foreground && !m.stopped && tcgetattr(r.tty_fd, &saved) == 0) {
			restore_termios = true;
			tty_apply_termios(r.tty_fd, m.termios);
		}
		t.winch = fg || o->new_pty;
	}
	if (store_thaw_begin(s, m.id) < 0) {
		ret = JF_FAILED;
		goto out;
	}
	crash_point("thaw-aside");
	t.reading = store_thaw_path(s, m.id, false);
	t.used = store_thaw_path(s, m.id, true);
	r.dir = t.reading;
	/* A tmux server is a daemon: back, it listens on its socket again. */
	r.detached = o->detach || !strcmp(m.kind, "tmux");
	r.ignore_cpu_features = o->ignore_cpu_features;
	r.ready = ready;
	r.ready_arg = &t;
	if (!o->keep) {
		r.releasing = releasing;
		r.releasing_arg = &t;
	}
	fprintf(stderr, "%s\n", m.command);
	if (ckpt_restore(&r, wstatus) < 0) {
		store_thaw_undo(s, m.id);
		pr_err("job %s was not thawed; its images are kept in %s", m.id, m.dir);
		ret = JF_FAILED;
	} else if (!strcmp(m.kind, "tmux")) {
		fprintf(stderr, "the tmux server listens on %s again: tmux -S %s attach\n", m.socket,
			m.socket);
	}
	if (restore_termios)
		tcsetattr(r.tty_fd, TCSADRAIN, &saved);
out:
	if (r.tty_fd >= 0)
		close(r.tty_fd);
	if (relay > 0)
		pty_relay_finish(relay);
	if (t.lock >= 0)
		close(t.lock);
	free(t.reading);
	free(t.used);
	meta_free(&m);
	return ret;
}
