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
};

/* Fills PLAN[N] from the inventory's N processes (parents before their
 * children, the root first; an image without job_pgid/job_sid: nothing to
 * do) and orders PROCS the way they are to be made (still parents first);
 * refuses (an error naming the process) a job whose groups and sessions
 * cannot be made again by forking. */
int pgrp_plan(ProcEntry **procs, size_t n, struct pgrp_plan *plan);
/* Right after process I of PROCS is made (and rebuilt, or held as a
 * zombie), before it forks: what is due in its session, and in its
 * parent's (a setsid() once the children it forked before are made). */
int pgrp_made(struct restore_ctx *procs, struct pgrp_plan *plan, size_t i);
/* Once every process exists: each group made by its leader, then joined;
 * each pty's foreground group. */
int pgrp_make_groups(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t n);
