/* tree.h: which processes make a job: a process and its descendants, or a
 * process group's, the latter from one listing of /proc (the process
 * table) that a command takes once and passes down, so that all it asks
 * about the group is answered from the same moment. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* One process, as /proc/PID/stat showed it when the table was read. */
struct proc_row {
	pid_t pid, ppid, pgrp, session;
	char state;
	uid_t uid;                        /* owner of /proc/PID */
	unsigned long long start_time;    /* clock ticks after boot */
};

struct proc_table {
	struct proc_row *p;
	size_t n;
};

/* Every process this one can see, in one pass over /proc. */
int proc_table_read(struct proc_table *t);
void proc_table_free(struct proc_table *t);
/* PID's row, NULL if it was not there. */
const struct proc_row *proc_table_find(const struct proc_table *t, pid_t pid);
/* The processes of group PGID whose parent is outside it and which have not
 * exited (a pipeline's stages, siblings under the shell), in the order they
 * started: their number, and their pids in *TOPS (to free). */
size_t proc_table_group_tops(const struct proc_table *t, pid_t pgid, pid_t **tops);

/* PID and its descendants, parents before children */
int tree_collect(pid_t root, pid_t **pids, size_t *n);
/* The top processes of group PGID in table T (NULL: read now), each
 * followed by its descendants */
int pgid_collect(const struct proc_table *t, pid_t pgid, pid_t **pids, size_t *n);
