/* pgrp.h: the job's own process groups and sessions, planned from what the
 * dump saw and made again at restore by injected setsid()/setpgid(), with
 * their controlling terminals (the job's own ptys, pty.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "ckpt/image.h"

struct restore_ctx;

/* What one process does at restore. The job's main group and session
 * (the root's, unless the root leads a session without the job's
 * terminal: the restoring command's, or restore -d's own group) need
 * nothing; neither do groups and sessions led by a process outside the
 * job, which come back as the main ones. */
struct pgrp_plan {
	bool setsid;      /* leads a session of the job: setsid() once made */
	int before;       /* its children forked before its setsid() (listed
			   * first among its children): still to be made */
	long parent;      /* its parent's index, -1 for a top process */
	bool inner;       /* in a session of the job, not the main one */
	long ctty;        /* the job's pty that is its controlling terminal, or -1 */
	pid_t pgid;       /* a group of the job to be in; 0: the main group */
	bool stand_in;    /* its leader has exited: a stand-in makes it */
	pid_t stand_in_sid; /* the session of that group; 0: the main one */
	/* Reparented to its parent (a child subreaper) when the process that
	 * forked it exited, it is in a session its parent never was in: a
	 * process of that session (MAKER) forks a helper with a pid nobody
	 * has, the helper forks it (born in that session) and goes, and it
	 * is reparented to its parent as it was. */
	bool helper;
	pid_t born_sid;   /* the session it is born in (0: the main one) */
	long maker;       /* the process of that session that forks the helper;
			   * -1: the session's stand-in leader (its leader has
			   * exited), forked by SL_MAKER, which calls setsid() */
	long sl_maker;
	pid_t helper_pid; /* the helper's pid: no process of the job has it */
};

/* Fills PLAN[N] from the inventory's N processes (parents before their
 * children, the root first; an image without job_pgid/job_sid: nothing to
 * do) and orders PROCS the way they are to be made (still parents first);
 * refuses (an error naming the process) a job whose groups and sessions
 * cannot be made again by forking. */
int pgrp_plan(ProcEntry **procs, size_t n, struct pgrp_plan *plan);
/* At dump, before the memory is read: which of the inventory's N
 * processes (only pid, ppid, job_sid, sid_leader_gone and zombie needed)
 * a restore makes by a helper (HELPER[i]): their memory is not their
 * parent's. */
void pgrp_helpers(ProcEntry **procs, size_t n, bool *helper);
/* Right after process I of PROCS is made (and rebuilt, or held as a
 * zombie), before it forks: what is due in its session, and in its
 * parent's (a setsid() once the children it forked before are made). */
int pgrp_made(struct restore_ctx *procs, struct pgrp_plan *plan, size_t i);
/* A process made by a helper (plan->helper): the helper is forked (and
 * the stand-in leader of its session first, if due), the subreapers set
 * so that the helper's end gives the process to its parent; H gets the
 * helper, which forks the process (as its parent would). */
int pgrp_helper_start(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t i,
		      struct restore_ctx *h);
/* Once the helper H has forked process I: the helper goes, and is
 * collected; I is checked to be its parent's child; the subreapers are
 * as the images have them again. */
int pgrp_helper_end(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t i,
		    struct restore_ctx *h);
/* Once every process exists: each group made by its leader, then joined;
 * each pty's foreground group; the stand-ins go. */
int pgrp_make_groups(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t n);
