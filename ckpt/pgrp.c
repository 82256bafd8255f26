/* pgrp.c: process groups and sessions made inside the job (set -m shells,
 * setsid, setpgid), planned from the inventory and rebuilt by injection. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/ns.h"
#include "ckpt/pgrp.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

/* One process as the job sees it: ppid 0 for a top process, pgid/sid 0
 * when outside the job's pid namespace or not recorded (older images). */
struct pgrp_proc {
	pid_t pid, ppid, pgid, sid;
	bool leader_gone;
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

static int plan_procs(const struct pgrp_proc *p, size_t n, struct pgrp_plan *plan)
{
	/* The session each process ends up in at restore (0: the main one):
	 * its own if it calls setsid, else the one its parent forked it in. */
	pid_t *sess = xcalloc(n ? n : 1, sizeof(*sess));
	int ret = -1;

	memset(plan, 0, n * sizeof(*plan));
	for (size_t i = 0; i < n; i++) {
		pid_t want_sid = inner(p, n, p[i].sid, p[0].sid);
		long parent = index_of(p, n, p[i].ppid);

		plan[i].pgid = inner(p, n, p[i].pgid, p[0].pgid);
		/* A group of the main session whose leader has exited: a child
		 * of init (in that session) stands in for the leader. */
		if (!plan[i].pgid && !want_sid && p[i].leader_gone && p[i].pgid &&
		    p[i].pgid != p[0].pgid) {
			plan[i].pgid = p[i].pgid;
			plan[i].stand_in = true;
		}
		plan[i].setsid = want_sid && want_sid == p[i].pid;
		sess[i] = plan[i].setsid ? p[i].pid : parent >= 0 && (size_t)parent < i ? sess[parent] : 0;
		if (sess[i] != want_sid) {
			pr_err("process %d is in session %d, which it was not forked into by a "
			       "descendant of its leader (it was reparented): jobfreeze can only make "
			       "sessions again along the process tree", p[i].pid, p[i].sid);
			goto out;
		}
		if (want_sid && !plan[i].pgid) {
			pr_err("process %d is in process group %d of session %d, and the group's "
			       "leader has exited: such a group cannot be made again",
			       p[i].pid, p[i].pgid, p[i].sid);
			goto out;
		}
	}
	/* A group lives in one session: its leader's, whenever it is made. */
	for (size_t i = 0; i < n; i++) {
		long leader = index_of(p, n, plan[i].pgid);
		if (plan[i].pgid && !plan[i].stand_in && sess[leader] != sess[i]) {
			pr_err("process %d and the leader of its process group %d would come back "
			       "in different sessions: the group cannot be made again",
			       p[i].pid, plan[i].pgid);
			goto out;
		}
	}
	ret = 0;
out:
	free(sess);
	return ret;
}

int pgrp_plan(ProcEntry *const *procs, size_t n, struct pgrp_plan *plan)
{
	struct pgrp_proc *p = xcalloc(n ? n : 1, sizeof(*p));
	int ret;

	for (size_t i = 0; i < n; i++)
		p[i] = (struct pgrp_proc){ procs[i]->pid, procs[i]->ppid,
					   procs[i]->has_job_pgid ? procs[i]->job_pgid : 0,
					   procs[i]->has_job_sid ? procs[i]->job_sid : 0,
					   procs[i]->pgid_leader_gone };
	ret = plan_procs(p, n, plan);
	free(p);
	return ret;
}

int pgrp_make_session(struct restore_ctx *r, const struct pgrp_plan *pl)
{
	long ret;

	if (!pl->setsid)
		return 0;
	ret = INJECT0(&r->in, SYS_setsid);
	if (ret != r->job) {
		pr_err("process %d cannot lead its own session again (setsid): %s", r->job,
		       ret < 0 ? strerror(-ret) : "it got another session id");
		return -1;
	}
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

/* A child of init with pid PGID, leading a group of that id in init's
 * session (the main one) until the members joined it; 0 if one of the NR
 * stand-ins IDS is already there, -1 on failure. */
static pid_t stand_in(pid_t pgid, const pid_t *ids, size_t nr)
{
	pid_t pid;

	for (size_t i = 0; i < nr; i++)
		if (ids[i] == pgid)
			return 0;	/* made for another member */
	pid = clone_with_pid(pgid);
	if (pid < 0)
		return -1;
	if (pid == 0) {
		for (;;)
			pause();
	}
	/* (a parent may move its child that has not exec'd) */
	if (setpgid(pid, pid) < 0) {
		pr_perror("cannot make process group %d again, whose leader had exited", pgid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* The stand-ins go once their groups have members: a group outlives its
 * leader, and its id is not given to another process meanwhile. */
static void stand_ins_go(pid_t *ids, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		kill(ids[i], SIGKILL);
		waitpid(ids[i], NULL, 0);
	}
	free(ids);
}

int pgrp_make_groups(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t n)
{
	pid_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
	size_t nr = 0;
	int ret = -1;

	/* Leaders first (a session leader already leads its group), so that
	 * a member made before its leader finds the group. */
	for (size_t i = 0; i < n; i++) {
		pid_t pid = plan[i].stand_in ? stand_in(plan[i].pgid, ids, nr) : 0;
		if (pid < 0)
			goto out;
		if (pid > 0)
			ids[nr++] = pid;
		if (plan[i].pgid == procs[i].job && !plan[i].setsid &&
		    join_group(&procs[i], 0) < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (plan[i].pgid && plan[i].pgid != procs[i].job &&
		    join_group(&procs[i], plan[i].pgid) < 0)
			goto out;
	ret = 0;
out:
	stand_ins_go(ids, nr);
	return ret;
}
