/* pgrp.c: process groups and sessions made inside the job (set -m shells,
 * setsid, setpgid, tmux's panes), planned from the inventory and rebuilt
 * by injection, with their controlling terminals.
 *
 * A process is in the session its parent was in when it forked it, until
 * it calls setsid(). So a session leader forks the children that stayed in
 * its first session before its setsid(), and the others after. A process
 * in a session its parent never was in was reparented: the process that
 * forked it exited, and it went to its parent, a child subreaper. It is
 * made again the same way: a process of its session forks a short-lived
 * helper, which forks it and exits, so that it goes to its parent (the
 * subreapers in between not subreapers for that moment). A session whose
 * leader has exited is made by a stand-in leader with its pid, which
 * calls setsid() and forks the helpers of its first members. A group
 * whose leader has exited is made by a stand-in with the leader's pid,
 * forked in the group's session. The stand-ins go once the members have
 * joined. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/ns.h"
#include "ckpt/pgrp.h"
#include "ckpt/proc.h"
#include "ckpt/ptrace.h"
#include "ckpt/pty.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define ANY (-1)	/* a session leader may be forked in any session */

/* One process as the job sees it: ppid 0 for a top process, pgid/sid 0
 * when outside the job's pid namespace or not recorded (older images). */
struct pgrp_proc {
	pid_t pid, ppid, pgid, sid;
	bool leader_gone, zombie;
	bool sid_gone;      /* the leader of its session has exited */
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

/* Whether A is B or one of its ancestors. */
static bool ancestor(const struct pgrp_plan *plan, long a, long b)
{
	for (; b >= 0; b = plan[b].parent)
		if (b == a)
			return true;
	return false;
}

/* Whether process PP (-1: init) may fork a child into session SID: a
 * leader not yet bound to be born in another. */
static bool may_give(const struct pgrp_proc *p, const pid_t *want, const pid_t *fork,
		     const struct pgrp_plan *plan, long pp, pid_t sid)
{
	if (pp < 0)
		return sid == 0;
	if (!plan[pp].setsid)
		return want[pp] == sid;
	return sid == p[pp].pid || fork[pp] == sid || fork[pp] == ANY;
}

/* The session each process must be born in (FORK, ANY for a leader free
 * to be born anywhere), worked out from the leaves up: a child that stays
 * in its leader parent's first session is forked before the parent's
 * setsid() (BEFORE); one its parent cannot fork into its session is made
 * by a helper (plan->helper). WANT: each one's session at the end, 0 the
 * main one. */
static void plan_births(const struct pgrp_proc *p, size_t n, const pid_t *want, pid_t *fork,
			bool *before, struct pgrp_plan *plan)
{
	for (size_t i = 0; i < n; i++)
		fork[i] = plan[i].setsid ? ANY : want[i];
	for (size_t c = n; c-- > 0;) {
		long par = plan[c].parent;

		if (fork[c] == ANY || (par >= 0 && plan[par].setsid && fork[c] == p[par].pid))
			continue;	/* made after its parent's setsid(), or anywhere */
		if (par < 0 ? fork[c] == 0 : !plan[par].setsid && fork[c] == want[par])
			continue;	/* in its parent's session */
		/* in the session the parent leader was born in */
		if (par >= 0 && plan[par].setsid &&
		    (fork[par] == fork[c] ||
		     (fork[par] == ANY && may_give(p, want, fork, plan, plan[par].parent, fork[c])))) {
			fork[par] = fork[c];
			before[c] = true;
			plan[par].before++;
			continue;
		}
		plan[c].helper = true;
		plan[c].born_sid = fork[c];
	}
}

/* Who forks the helper of process C, born in session Y: a process that
 * is in Y when C is made and is its parent A or below A, not below C
 * itself: Y's leader, else (Y's leader has exited) Y's stand-in leader,
 * forked by the deepest of the parents of Y's reparented members, else
 * a member of Y. */
static int plan_maker(const struct pgrp_proc *p, size_t n, const pid_t *want, size_t c,
		      struct pgrp_plan *plan)
{
	long a = plan[c].parent, l, sl = -1;
	pid_t y = plan[c].born_sid;

	if (a < 0) {
		pr_err("process %d is in session %d, which its parent (outside the job) was not "
		       "in: it cannot be forked into that session again", p[c].pid, p[c].sid);
		return -1;
	}
	plan[c].maker = plan[c].sl_maker = -2;
	l = y ? index_of(p, n, y) : -1;
	if (l >= 0 && !p[l].zombie && want[l] == y && ancestor(plan, a, l) &&
	    !ancestor(plan, (long)c, l))
		plan[c].maker = l;
	if (plan[c].maker == -2 && y && l < 0) {
		for (size_t k = 0; k < n; k++)
			if (plan[k].helper && plan[k].born_sid == y && plan[k].parent >= 0 &&
			    (sl < 0 || ancestor(plan, sl, plan[k].parent)))
				sl = plan[k].parent;
		if (sl >= 0 && ancestor(plan, a, sl) && !ancestor(plan, (long)c, sl)) {
			plan[c].maker = -1;
			plan[c].sl_maker = sl;
		}
	}
	for (size_t b = 0; b < n && plan[c].maker == -2; b++)
		if (b != c && !p[b].zombie && want[b] == y && !plan[b].setsid &&
		    ancestor(plan, a, (long)b) && !ancestor(plan, (long)c, (long)b))
			plan[c].maker = (long)b;
	if (plan[c].maker == -2) {
		pr_err("process %d is in session %d and was reparented to process %d when the "
		       "process that forked it exited: to make it again, a process of that session "
		       "must be process %d or below it, and there is none", p[c].pid, y, p[a].pid,
		       p[a].pid);
		return -1;
	}
	return 0;
}

/* Parents before children, the children made before their parent's
 * setsid() first; a process made by a helper after the helper's maker
 * (and its setsid()), which comes after its parent: ORDER[k] is the
 * process to make k-th. */
static int plan_order(const struct pgrp_proc *p, const struct pgrp_plan *plan, const bool *before,
		      size_t n, size_t *order)
{
	long *after = xcalloc(n ? n : 1, sizeof(long));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		after[i] = !plan[i].helper ? plan[i].parent
					   : plan[i].maker >= 0 ? plan[i].maker : plan[i].sl_maker;
		if (after[i] < 0)
			order[k++] = i;
	}
	for (size_t q = 0; q < k; q++)
		for (int pass = 0; pass < 2; pass++)
			for (size_t c = 0; c < n; c++)
				if (after[c] == (long)order[q] && before[c] == !pass)
					order[k++] = c;
	free(after);
	if (k < n) {
		for (size_t i = 0; i < n; i++) {
			bool placed = false;
			for (size_t q = 0; q < k; q++)
				placed |= order[q] == i;
			if (!placed && plan[i].helper) {
				pr_err("process %d, reparented out of its session's tree, cannot be "
				       "made again before the processes below it that its session "
				       "needs", p[i].pid);
				return -1;
			}
		}
		pr_err("internal: the processes cannot be ordered");
		return -1;
	}
	return 0;
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

/* The plan of P[N] into PLAN, the making order into ORDER; BIRTHS_ONLY:
 * only who is made by a helper, nothing refused. */
static int plan_procs(const struct pgrp_proc *p, size_t n, struct pgrp_plan *plan, size_t *order,
		      bool births_only)
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
		/* (a session whose leader has exited is made again too) */
		want[i] = p[i].sid_gone && p[i].sid != main_sid ? p[i].sid
								 : inner(p, n, p[i].sid, main_sid);
		plan[i].setsid = want[i] && want[i] == p[i].pid;
		plan[i].parent = index_of(p, n, p[i].ppid);
		if (plan[i].parent >= (long)i) {
			pr_err("internal: process %d is listed before its parent", p[i].pid);
			goto out;
		}
	}
	plan_births(p, n, want, fork, before, plan);
	ret = 0;
	if (births_only)
		goto out;
	ret = -1;
	for (size_t i = 0; i < n; i++)
		if (plan[i].helper && plan_maker(p, n, want, i, plan) < 0)
			goto out;
	if (plan_groups(p, n, want, main_pgid, plan) < 0 || plan_ctty(p, n, want, plan) < 0 ||
	    plan_order(p, plan, before, n, order) < 0)
		goto out;
	ret = 0;
out:
	free(want);
	free(fork);
	free(before);
	return ret;
}

/* The lowest pid no process or thread of the job has, nor a group or
 * session of it. */
static pid_t free_pid(ProcEntry **procs, size_t n)
{
	for (pid_t pid = 2;; pid++) {
		bool used = false;
		for (size_t i = 0; i < n && !used; i++) {
			const ProcEntry *e = procs[i];
			used = e->pid == pid || e->job_pgid == pid || e->job_sid == pid;
			for (size_t t = 0; t < e->n_tids && !used; t++)
				used = e->tids[t] == pid;
		}
		if (!used)
			return pid;
	}
}

static struct pgrp_proc *procs_of(ProcEntry **procs, size_t n)
{
	struct pgrp_proc *p = xcalloc(n ? n : 1, sizeof(*p));

	for (size_t i = 0; i < n; i++)
		p[i] = (struct pgrp_proc){ procs[i]->pid, procs[i]->ppid,
					   procs[i]->has_job_pgid ? procs[i]->job_pgid : 0,
					   procs[i]->has_job_sid ? procs[i]->job_sid : 0,
					   procs[i]->pgid_leader_gone, procs[i]->zombie,
					   procs[i]->sid_leader_gone,
					   procs[i]->has_ctty_pty ? (long)procs[i]->ctty_pty : -1,
					   procs[i]->ctty_outer };
	return p;
}

void pgrp_helpers(ProcEntry **procs, size_t n, bool *helper)
{
	struct pgrp_proc *p = procs_of(procs, n);
	struct pgrp_plan *plan = xcalloc(n ? n : 1, sizeof(*plan));
	size_t *order = xcalloc(n ? n : 1, sizeof(*order));

	memset(helper, 0, n * sizeof(*helper));
	/* (the root's terminal the job's or not: which is not known yet) */
	for (int outer = 0; outer < 2; outer++) {
		if (n)
			p[0].outer = outer;
		if (plan_procs(p, n, plan, order, true) == 0)
			for (size_t i = 0; i < n; i++)
				helper[i] |= plan[i].helper;
	}
	free(order);
	free(plan);
	free(p);
}

int pgrp_plan(ProcEntry **procs, size_t n, struct pgrp_plan *plan)
{
	struct pgrp_proc *p = procs_of(procs, n);
	size_t *order = xcalloc(n ? n : 1, sizeof(*order));
	int ret;

	ret = plan_procs(p, n, plan, order, false);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (plan[i].helper)
			plan[i].helper_pid = free_pid(procs, n);
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
		for (size_t k = 0; k < n; k++) {
			if (pl[k].parent >= 0)
				pl[k].parent = where[pl[k].parent];
			if (pl[k].helper && pl[k].maker >= 0)
				pl[k].maker = where[pl[k].maker];
			if (pl[k].helper && pl[k].sl_maker >= 0)
				pl[k].sl_maker = where[pl[k].sl_maker];
		}
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

/* ---- processes made by a helper --------------------------------------- */

/* IN for the task PID that MAKER forked by task_clone (it has MAKER's
 * scratch area), as it stands. */
static int attach_forked(struct restore_ctx *maker, pid_t pid, struct restore_ctx *out)
{
	struct user_regs_struct regs;

	memset(out, 0, sizeof(*out));
	if (ptrace_get_regs(pid, &regs) < 0)
		return -1;
	inject_init(&out->in, pid, maker->in.syscall_ip, &regs);
	out->in.scratch = maker->in.scratch;
	out->in.scratch_size = maker->in.scratch_size;
	out->in.scratch_exec = maker->in.scratch_exec;
	out->job = pid;
	return 0;
}

/* The process that forks process I's helper, in I's session: a process
 * of the job, or the session's stand-in leader (made now if not yet). */
static int helper_maker(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t i,
			bool make, struct restore_ctx *sl, struct restore_ctx **out)
{
	const struct pgrp_plan *pl = &plan[i];
	struct restore_ctx *m;
	pid_t sid = pl->born_sid;
	long ret;

	if (pl->maker >= 0) {
		*out = &procs[pl->maker];
		return 0;
	}
	m = &procs[pl->sl_maker];
	if (make && kill(sid, 0) < 0) {
		struct inject in;
		if (task_clone(m, 0, sid, "the stand-in leader of session", &in) < 0)
			return -1;
		ret = INJECT0(&in, SYS_setsid);
		if (ret != sid) {
			pr_err("cannot make session %d again, whose leader had exited (setsid): %s",
			       sid, ret < 0 ? strerror(-ret) : "it got another session id");
			return -1;
		}
	}
	*out = sl;
	return attach_forked(m, sid, sl);
}

static int set_subreaper(struct restore_ctx *r, bool on)
{
	long ret = INJECT(&r->in, SYS_prctl, PR_SET_CHILD_SUBREAPER, on, 0, 0, 0);

	if (ret < 0) {
		pr_err("process %d cannot %s a child subreaper: %s", r->job,
		       on ? "become" : "stop being", strerror(-ret));
		return -1;
	}
	return 0;
}

/* While process I's helper goes (HELPING), I's parent is a child subreaper
 * and no process between it and the helper is: the helper's orphan goes
 * to that parent. Then as the images have them. */
static int helper_subreapers(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t i,
			     bool helping)
{
	long a = plan[i].parent;
	long x = plan[i].maker >= 0 ? plan[i].maker : plan[i].sl_maker;

	for (; x >= 0 && x != a; x = plan[x].parent)
		if (procs[x].img && procs[x].img->child_subreaper &&
		    set_subreaper(&procs[x], !helping) < 0)
			return -1;
	if (x != a) {
		pr_err("internal: the maker of process %d is not below its parent", procs[i].job);
		return -1;
	}
	return procs[a].img->child_subreaper ? 0 : set_subreaper(&procs[a], helping);
}

int pgrp_helper_start(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t i,
		      struct restore_ctx *h)
{
	struct restore_ctx sl, *m;

	if (helper_maker(procs, plan, i, true, &sl, &m) < 0 ||
	    helper_subreapers(procs, plan, i, true) < 0)
		return -1;
	memset(h, 0, sizeof(*h));
	/* (no exit signal: its parent is told nothing) */
	if (task_clone(m, 0, plan[i].helper_pid, "the helper that forks a reparented process, "
		       "helper", &h->in) < 0)
		return -1;
	h->job = plan[i].helper_pid;
	return 0;
}

int pgrp_helper_end(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t i,
		    struct restore_ctx *h)
{
	struct restore_ctx sl, *m;
	struct proc_stat st;
	pid_t want = procs[plan[i].parent].job;
	long ret;

	if (helper_maker(procs, plan, i, false, &sl, &m) < 0)
		return -1;
	/* (we trace it: we hear its end first, then its parent collects it) */
	if (kill(h->job, SIGKILL) < 0 || waitpid(h->job, NULL, __WALL) < 0) {
		pr_perror("cannot end helper %d", h->job);
		return -1;
	}
	ret = INJECT(&m->in, SYS_wait4, h->job, 0, __WALL, 0);
	if (ret != h->job) {
		pr_err("process %d cannot collect helper %d: %s", m->job, h->job,
		       ret < 0 ? strerror(-ret) : "another child came");
		return -1;
	}
	if (proc_stat_quiet(procs[i].job, &st) < 0 || st.ppid != want) {
		pr_err("process %d did not go to its parent %d when its helper %d exited", procs[i].job,
		       want, h->job);
		return -1;
	}
	return helper_subreapers(procs, plan, i, false);
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
	struct stand_in *s = xcalloc(2 * n + 1, sizeof(*s));
	size_t nr = 0;
	int ret = -1;

	/* the stand-in leaders of sessions: each leads its first group too */
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		if (!plan[i].helper || plan[i].maker != -1)
			continue;
		for (size_t k = 0; k < nr; k++)
			known |= s[k].pid == plan[i].born_sid;
		if (!known)
			s[nr++] = (struct stand_in){ plan[i].born_sid, &procs[plan[i].sl_maker] };
	}

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
