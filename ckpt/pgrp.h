/* pgrp.h: the job's own process groups and sessions, planned from what the
 * dump saw and made again at restore by injected setsid()/setpgid(). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "ckpt/image.h"

struct restore_ctx;

/* What one process does at restore. The job's main group and session
 * (the root's: the restoring command's, or restore -d's own group) need
 * nothing; neither do groups and sessions led by a process outside the
 * job, which come back as the main ones. */
struct pgrp_plan {
	bool setsid;      /* leads a session of the job: setsid() once made */
	pid_t pgid;       /* a group of the job to be in; 0: the main group */
	bool stand_in;    /* its leader has exited: a stand-in makes it */
};

/* Fills PLAN[N] from the inventory's N processes (parents before their
 * children, the root first; an image without job_pgid/job_sid: nothing to
 * do); refuses (an error naming the process) a job whose groups
 * and sessions cannot be made again by forking parents first. */
int pgrp_plan(ProcEntry *const *procs, size_t n, struct pgrp_plan *plan);
/* Right after process R is made, before it forks its children. */
int pgrp_make_session(struct restore_ctx *r, const struct pgrp_plan *pl);
/* Once every process exists: each group made by its leader, then joined. */
int pgrp_make_groups(struct restore_ctx *procs, const struct pgrp_plan *plan, size_t n);
