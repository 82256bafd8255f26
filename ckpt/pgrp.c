/* pgrp.c: process groups and sessions made inside the job (set -m shells,
 * setsid, setpgid, tmux's panes), planned from the inventory and rebuilt
 * by injection, with their controlling terminals.
 *
 * A process is in the session its parent was in when it forked it, until
 * it calls setsid(). So a session leader forks the children that stayed in
 * its first session before its setsid(), and the others after; a process
 * in a session its parent never was in (it was reparented) cannot be made
 * again and is refused at dump. A group whose leader has exited is made by
 * a stand-in with the leader's pid, forked in the group's session, which
 * goes once the members have joined. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/ns.h"
#include "ckpt/pgrp.h"
#include "ckpt/proc.h"
#include "ckpt/pty.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define ANY (-1)	/* a session leader may be forked in any session */

/* One process as the job sees it: ppid 0 for a top process, pgid/sid 0
 * when outside the job's pid namespace or not recorded (older images). */
struct pgrp_proc {
	pid_t pid, ppid, pgid, sid;
	bool leader_gone, zombie;
	long ctty;          /* one of the job's ptys, or -1 */
	bool outer;         /* its terminal is the job's (the thaw's) */
};

static long index_of(const struct pgrp_proc *p, size_t n, pid_t pid)
{
	for (size_t i = 0; pid && i < n; i++)
		if (p[i].pid == pid)
			return (long)i;
	return -1;
}

/* ID (a pgid or sid) if it is made again inside the job: led by a process
 * of the job and not the main one; 0 otherwise. */
static pid_t inner(const struct pgrp_proc *p, size_t n, pid_t id, pid_t main_id)
{
	return id && id != main_id && index_of(p, n, id) >= 0 ? id : 0;
}

static void reparented(const struct pgrp_proc *p)
{
	pr_err("process %d is in session %d, which it was not forked into by a descendant of "
	       "its leader (it was reparented): jobfreeze can only make sessions again along "
	       "the process tree", p->pid, p->sid);
}

/* The session each process must be born in (FORK, ANY for a leader free
 * to be born anywhere), worked out from the leaves up: a child that stays
 * in its leader parent's first session is forked before the parent's
 * setsid() (BEFORE). WANT: each one's session at the end, 0 the main one. */
static int plan_births(const struct pgrp_proc *p, size_t n, const pid_t *want, pid_t *fork,
		       bool *before, struct pgrp_plan *plan)
{
	for (size_t i = 0; i < n; i++)
		fork[i] = plan[i].setsid ? ANY : want[i];
	for (size_t c = n; c-- > 0;) {
		long par = plan[c].parent;

		if (fork[c] == ANY || (par >= 0 && plan[par].setsid && fork[c] == p[par].pid))
			continue;	/* made after its parent's setsid(), or anywhere */
		if (par < 0) {
			if (fork[c] == 0)
				continue;	/* a child of init: the main session */
			reparented(&p[c]);
			return -1;
		}
		if (!plan[par].setsid) {
			if (fork[c] != want[par]) {
				reparented(&p[c]);
				return -1;
			}
			continue;
		}
		/* in the session the parent leader was born in */
		if (fork[par] != ANY && fork[par] != fork[c]) {
			reparented(&p[c]);
			return -1;
		}
		fork[par] = fork[c];
		before[c] = true;
		plan[par].before++;
	}
	return 0;
}

/* Parents before children, the children made before their parent's
 * setsid() first: ORDER[k] is the process to make k-th. */
static void plan_order(const struct pgrp_plan *plan, const bool *before, size_t n, size_t *order)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (plan[i].parent < 0)
			order[k++] = i;
	for (size_t q = 0; q < k; q++)
		for (int pass = 0; pass < 2; pass++)
			for (size_t c = 0; c < n; c++)
				if (plan[c].parent == (long)order[q] && before[c] == !pass)
					order[k++] = c;
}

static int plan_groups(const struct pgrp_proc *p, size_t n, const pid_t *want, pid_t main_pgid,
		       struct pgrp_plan *plan)
{
	for (size_t i = 0; i < n; i++) {
		plan[i].pgid = inner(p, n, p[i].pgid, main_pgid);
		/* A group whose leader has exited: a stand-in with its pid, made
		 * in its session, leads it until the members have joined. */
		if (!plan[i].pgid && p[i].leader_gone && p[i].pgid && p[i].pgid != main_pgid) {
			plan[i].pgid = p[i].pgid;
			plan[i].stand_in = true;
			plan[i].stand_in_sid = want[i];
		}
		if (want[i] && !plan[i].pgid) {
			pr_err("process %d is in process group %d of session %d, led by a process "
			       "outside the job: such a group cannot be made again",
			       p[i].pid, p[i].pgid, p[i].sid);
			return -1;
		}
	}
	/* A group lives in one session: its leader's. */
	for (size_t i = 0; i < n; i++) {
		long leader = index_of(p, n, plan[i].pgid);
		if (plan[i].pgid && !plan[i].stand_in && want[leader] != want[i]) {
			pr_err("process %d and the leader of its process group %d are in different "
			       "sessions: the group cannot be made again", p[i].pid, plan[i].pgid);
			return -1;
		}
	}
	return 0;
}

static int plan_ctty(const struct pgrp_proc *p, size_t n, const pid_t *want,
		     struct pgrp_plan *plan)
{
	for (size_t i = 0; i < n; i++) {
		long leader = index_of(p, n, want[i]);

		plan[i].inner = want[i] != 0;
		plan[i].ctty = p[i].ctty;
		if (p[i].ctty < 0)
			continue;
		/* Only a session leader takes a terminal; the others inherit it. */
		if (!want[i] || leader < 0 || p[leader].zombie || p[leader].ctty != p[i].ctty) {
			pr_err("process %d has the job's /dev/pts/%ld as its controlling terminal, "
			       "and the leader of its session %d has not: it cannot be given it again",
			       p[i].pid, p[i].ctty, p[i].sid);
			return -1;
		}
	}
	return 0;
}

static int plan_procs(const struct pgrp_proc *p, size_t n, struct pgrp_plan *plan, size_t *order)
{
	/* The root leads a session of its own (a daemon, tmux's server):
	 * made again, unless its terminal is the job's, which is the thaw's. */
	bool root_leads = n && p[0].sid == p[0].pid && !p[0].outer;
	pid_t main_sid = root_leads ? 0 : p[0].sid, main_pgid = root_leads ? 0 : p[0].pgid;
	pid_t *want = xcalloc(n ? n : 1, sizeof(pid_t)), *fork = xcalloc(n ? n : 1, sizeof(pid_t));
	bool *before = xcalloc(n ? n : 1, sizeof(bool));
	int ret = -1;

	memset(plan, 0, n * sizeof(*plan));
	for (size_t i = 0; i < n; i++) {
		want[i] = inner(p, n, p[i].sid, main_sid);
		plan[i].setsid = want[i] && want[i] == p[i].pid;
		plan[i].parent = index_of(p, n, p[i].ppid);
		if (plan[i].parent >= (long)i) {
			pr_err("internal: process %d is listed before its parent", p[i].pid);
			goto out;
		}
	}
	if (plan_births(p, n, want, fork, before, plan) < 0 ||
	    plan_groups(p, n, want, main_pgid, plan) < 0 || plan_ctty(p, n, want, plan) < 0)
		goto out;
	plan_order(plan, before, n, order);
	ret = 0;
out:
	free(want);
	free(fork);
	free(before);
	return ret;
}

int pgrp_plan(ProcEntry **procs, size_t n, struct pgrp_plan *plan)
{
	struct pgrp_proc *p = xcalloc(n ? n : 1, sizeof(*p));
	size_t *order = xcalloc(n ? n : 1, sizeof(*order));
	int ret;

	for (size_t i = 0; i < n; i++)
		p[i] = (struct pgrp_proc){ procs[i]->pid, procs[i]->ppid,
					   procs[i]->has_job_pgid ? procs[i]->job_pgid : 0,
					   procs[i]->has_job_sid ? procs[i]->job_sid : 0,
					   procs[i]->pgid_leader_gone, procs[i]->zombie,
					   procs[i]->has_ctty_pty ? (long)procs[i]->ctty_pty : -1,
					   procs[i]->ctty_outer };
	ret = plan_procs(p, n, plan, order);
	if (ret == 0) {
		/* in making order, each parent's index renumbered */
		ProcEntry **pe = xcalloc(n ? n : 1, sizeof(*pe));
		struct pgrp_plan *pl = xcalloc(n ? n : 1, sizeof(*pl));
		size_t *where = xcalloc(n ? n : 1, sizeof(*where));
		for (size_t k = 0; k < n; k++) {
			pe[k] = procs[order[k]];
			pl[k] = plan[order[k]];
			where[order[k]] = k;
		}
		for (size_t k = 0; k < n; k++)
			if (pl[k].parent >= 0)
				pl[k].parent = where[pl[k].parent];
		memcpy(procs, pe, n * sizeof(*pe));
		memcpy(plan, pl, n * sizeof(*pl));
		free(pe);
		free(pl);
		free(where);
	}
	free(order);
	free(p);
	return ret;
}

/* ---- restore ---------------------------------------------------------- */

/* The terminal of process R as init sees it: its pty number, -1 for none,
 * -2 for another terminal. */
static long ctty_now(struct restore_ctx *r)
{
	struct proc_stat st;
	long idx;

	if (proc_stat_quiet(r->job, &st) < 0)
		return -2;
	if (!st.tty_nr)
		return -1;
	idx = pty_index_of_rdev(pty_decode_dev(st.tty_nr));
	return idx >= 0 ? idx : -2;
}

/* Its controlling terminal as it was, and its /dev/tty fds with it. */
static int fix_ctty(struct restore_ctx *r, const struct pgrp_plan *pl)
{
	long now;

	if (!r->img || !pl->inner)
		return 0;	/* (zombies hold nothing; the main session has the thaw's) */
	now = ctty_now(r);
	if (pl->ctty >= 0 && now != pl->ctty) {
		if (!pl->setsid) {
			pr_err("process %d did not inherit its controlling terminal /dev/pts/%ld",
			       r->job, pl->ctty);
			return -1;
		}
		if (pty_make_ctty(r, pl->ctty) < 0)
			return -1;
	} else if (pl->ctty < 0 && now != -1 && pty_drop_ctty(r) < 0)
		return -1;
	return pty_reopen_tty(r);
}

static int make_session(struct restore_ctx *r, const struct pgrp_plan *pl)
{
	long ret = INJECT0(&r->in, SYS_setsid);

	if (ret != r->job) {
		pr_err("process %d cannot lead its own session again (setsid): %s", r->job,
		       ret < 0 ? strerror(-ret) : "it got another session id");
		return -1;
	}
	return fix_ctty(r, pl);
}

int pgrp_made(struct restore_ctx *procs, struct pgrp_plan *plan, size_t i)
{
	long par = plan[i].parent;

	if (plan[i].setsid ? !plan[i].before && make_session(&procs[i], &plan[i]) < 0
			   : fix_ctty(&procs[i], &plan[i]) < 0)
		return -1;
	/* its parent's setsid(), once the children it had before are made */
	if (par >= 0 && plan[par].setsid && plan[par].before && !--plan[par].before &&
	    make_session(&procs[par], &plan[par]) < 0)
		return -1;
	return 0;
}

static int join_group(struct restore_ctx *r, pid_t pgid)
{
	long ret = INJECT(&r->in, SYS_setpgid, 0, pgid);

	if (ret < 0) {
		pr_err("process %d cannot join its process group %d again (setpgid): %s",
		       r->job, pgid, strerror(-ret));
		return -1;
	}
	return 0;
}

/* A stand-in leads a group whose leader has exited until the members have
 * joined: a child of init in the main session, or forked by a process
 * of the group's session (by PARENT, told nothing: no exit signal). */
struct stand_in {
	pid_t pid;
	struct restore_ctx *parent;   /* NULL: init's child */
};

static int stand_in_main(pid_t pgid, struct stand_in *s)
{
	pid_t pid = clone_with_pid(pgid);

	if (pid < 0)
		return -1;
	if (pid == 0) {
		for (;;)
			pause();
	}
	*s = (struct stand_in){ pid, NULL };
	/* (a parent may move its child that has not exec'd) */
	if (setpgid(pid, pid) < 0) {
		pr_perror("cannot make process group %d again, whose leader had exited", pgid);
		return -1;
	}
	return 0;
}

static int stand_in_inner(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t n,
			  size_t member, struct stand_in *s)
{
	struct restore_ctx *q = NULL;
	struct inject in;
	pid_t pgid = plan[member].pgid;
	long ret;

	/* (any process of the session, be it one held to exit as a zombie:
	 * the member itself at least) */
	for (size_t k = 0; k < n && !q; k++)
		if (procs[k].job > 0 && plan[k].inner &&
		    getsid(procs[k].job) == plan[member].stand_in_sid)
			q = &procs[k];
	if (!q) {
		pr_err("no process of session %d is there to make its process group %d again",
		       plan[member].stand_in_sid, pgid);
		return -1;
	}
	if (task_clone(q, 0, pgid, "the stand-in leader of process group", &in) < 0)
		return -1;
	*s = (struct stand_in){ pgid, q };
	ret = INJECT(&in, SYS_setpgid, 0, 0);
	if (ret < 0) {
		pr_err("cannot make process group %d again, whose leader had exited: %s", pgid,
		       strerror(-ret));
		return -1;
	}
	return 0;
}

/* The stand-ins go once their groups have members: a group outlives its
 * leader, and its id is not given to another process meanwhile. */
static void stand_ins_go(struct stand_in *s, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		kill(s[i].pid, SIGKILL);
		/* (we trace a forked one: we hear its end first, then its parent
		 * collects it, unknowing) */
		waitpid(s[i].pid, NULL, __WALL);
		if (s[i].parent)
			INJECT(&s[i].parent->in, SYS_wait4, s[i].pid, 0, __WALL, 0);
	}
	free(s);
}

int pgrp_make_groups(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t n)
{
	struct stand_in *s = xcalloc(n ? n : 1, sizeof(*s));
	size_t nr = 0;
	int ret = -1;

	/* Leaders first (a session leader already leads its group), so that
	 * a member made before its leader finds the group. */
	for (size_t i = 0; i < n; i++) {
		bool made = false;
		for (size_t k = 0; k < nr; k++)
			made |= s[k].pid == plan[i].pgid;
		if (plan[i].stand_in && !made) {
			int r = plan[i].stand_in_sid ? stand_in_inner(procs, plan, n, i, &s[nr])
						     : stand_in_main(plan[i].pgid, &s[nr]);
			if (s[nr].pid > 0)
				nr++;
			if (r < 0)
				goto out;
		}
		if (plan[i].pgid == procs[i].job && !plan[i].setsid &&
		    join_group(&procs[i], 0) < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (plan[i].pgid && plan[i].pgid != procs[i].job &&
		    join_group(&procs[i], plan[i].pgid) < 0)
			goto out;
	/* (while the stand-ins hold their groups: a shell's foreground job
	 * may be a pipeline whose first stage has exited) */
	ret = pty_set_foregrounds(procs, n);
out:
	stand_ins_go(s, nr);
	return ret;
}
