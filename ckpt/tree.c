/* tree.c: the processes of a job: a process and all its descendants, found
 * through /proc/PID/task/TID/children, parents listed before children; or
 * the processes of a group, from one listing of /proc (the process table)
 * that the command asking takes once and passes down. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "ckpt/proc.h"
#include "ckpt/log.h"
#include "ckpt/tree.h"
#include "ckpt/util.h"

int proc_table_read(struct proc_table *t)
{
	size_t cap = 0;
	struct dirent *de;
	DIR *proc = opendir("/proc");

	t->p = NULL;
	t->n = 0;
	if (!proc) {
		pr_perror("cannot list /proc");
		return -1;
	}
	while ((de = readdir(proc))) {
		struct proc_stat st;
		struct stat sb;
		int pid;

		/* (a process that ended meanwhile is simply not listed) */
		if (parse_int(de->d_name, &pid) < 0 || proc_stat_quiet(pid, &st) < 0 ||
		    fstatat(dirfd(proc), de->d_name, &sb, 0) < 0)
			continue;
		if (t->n == cap)
			t->p = xrealloc(t->p, (cap = cap * 2 + 64) * sizeof(*t->p));
		t->p[t->n++] = (struct proc_row){ .pid = pid, .ppid = st.ppid, .pgrp = st.pgrp,
						  .session = st.session, .state = st.state,
						  .uid = sb.st_uid, .start_time = st.start_time };
	}
	closedir(proc);
	return 0;
}

void proc_table_free(struct proc_table *t)
{
	free(t->p);
	t->p = NULL;
	t->n = 0;
}

const struct proc_row *proc_table_find(const struct proc_table *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->p[i].pid == pid)
			return &t->p[i];
	return NULL;
}

/* In start order; the same tick (a pipeline's stages often share one): in
 * pid order. */
static int cmp_start(const void *a, const void *b)
{
	const struct proc_row *x = *(const struct proc_row *const *)a;
	const struct proc_row *y = *(const struct proc_row *const *)b;

	if (x->start_time != y->start_time)
		return x->start_time < y->start_time ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

size_t proc_table_group_tops(const struct proc_table *t, pid_t pgid, pid_t **tops)
{
	const struct proc_row **rows = xcalloc(t->n ? t->n : 1, sizeof(*rows));
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct proc_row *r = &t->p[i], *parent;
		if (r->pgrp != pgid || r->state == 'Z')
			continue;	/* an exited stage is its shell's business */
		parent = proc_table_find(t, r->ppid);
		if (parent && parent->pgrp == pgid)
			continue;
		rows[n++] = r;
	}
	if (n)	/* (qsort wants an array, even of nothing) */
		qsort(rows, n, sizeof(*rows), cmp_start);
	*tops = xcalloc(n ? n : 1, sizeof(pid_t));
	for (size_t i = 0; i < n; i++)
		(*tops)[i] = rows[i]->pid;
	free(rows);
	return n;
}

/* Appends the children of every thread of PID to the list. */
static int add_children(pid_t pid, pid_t **pids, size_t *n, size_t *cap)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;	/* it has just ended; its parent's check will say */
		pr_perror("cannot list the threads of process %d", pid);
		return -1;
	}
	while ((de = readdir(d))) {
		char cpath[96], *text, *save = NULL;
		int tid;

		if (de->d_name[0] == '.' || parse_int(de->d_name, &tid) < 0)
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%d/children", pid, tid);
		text = read_file(cpath, NULL);
		if (!text)
			continue;	/* the thread ended meanwhile */
		for (char *t = strtok_r(text, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
			int child;
			if (parse_int(t, &child) < 0)
				continue;
			if (*n == *cap)
				*pids = xrealloc(*pids, (*cap = *cap * 2 + 8) * sizeof(pid_t));
			(*pids)[(*n)++] = child;
		}
		free(text);
	}
	closedir(d);
	return 0;
}

/* Drops jobfreeze's own processes from the list (PARENT[i]: the index of
 * pids[i]'s parent, i > 0), keeping the order. When the tree holds a
 * thawed job, that job is all that is kept: a shell that forked to wait
 * for its jobthaw (zsh does, when a function is stopped) stays out. */
static void drop_freezers(pid_t *pids, const size_t *parent, size_t *n)
{
	bool *freezer = xcalloc(*n, sizeof(bool)), *under = xcalloc(*n, sizeof(bool));
	bool thawed = false;
	size_t k = 0;

	for (size_t i = 0; i < *n; i++) {
		/* (this very process stays: the dump refuses a job it runs in) */
		freezer[i] = pids[i] != getpid() && proc_runs_self(pids[i]);
		under[i] = i && (under[parent[i]] || freezer[parent[i]]);
		thawed |= under[i] && !freezer[i];
	}
	for (size_t i = 0; i < *n; i++)
		if (!freezer[i] && (under[i] || !thawed))
			pids[k++] = pids[i];
	*n = k;
	free(freezer);
	free(under);
}

/* ROOT and its descendants but jobfreeze's own; possibly none. */
static int tree_walk(pid_t root, pid_t **pids, size_t *n)
{
	size_t cap = 8, *parent = NULL;

	*pids = xmalloc(cap * sizeof(pid_t));
	(*pids)[0] = root;
	*n = 1;
	for (size_t i = 0; i < *n; i++) {
		size_t before = *n;
		if (*n > 4096) {
			pr_err("process %d has more than 4096 descendants: too many to freeze", root);
			goto fail;
		}
		if (add_children((*pids)[i], pids, n, &cap) < 0)
			goto fail;
		parent = xrealloc(parent, cap * sizeof(size_t));
		for (size_t c = before; c < *n; c++)
			parent[c] = i;
	}
	drop_freezers(*pids, parent, n);
	free(parent);
	return 0;
fail:
	free(parent);
	free(*pids);
	*pids = NULL;
	return -1;
}

int tree_collect(pid_t root, pid_t **pids, size_t *n)
{
	/* Before the walk: below init, a thawed job's restorer would make the
	 * thawed job all that is kept (drop_freezers), and init itself would
	 * never be looked at and refused. */
	if (root == 1) {
		pr_err("process 1 is the system's init: it cannot be frozen");
		return -1;
	}
	if (tree_walk(root, pids, n) < 0)
		return -1;
	if (!*n) {
		pr_err("process %d is jobfreeze itself and runs no job", root);
		free(*pids);
		*pids = NULL;
		return -1;
	}
	return 0;
}

int pgid_collect(const struct proc_table *procs, pid_t pgid, pid_t **pids, size_t *n)
{
	struct proc_table own = { 0 };
	pid_t *roots = NULL;
	size_t nr_roots;

	if (!procs) {
		if (proc_table_read(&own) < 0)
			return -1;
		procs = &own;
	}
	/* The group's members whose parent is not in the group (the stages of
	 * a pipeline, siblings under the shell), in start order: the last
	 * stage of a pipeline is started last. */
	nr_roots = proc_table_group_tops(procs, pgid, &roots);
	proc_table_free(&own);
	if (!nr_roots) {
		pr_err("no process of yours is in process group %d", pgid);
		free(roots);
		return -1;
	}
	*pids = NULL;
	*n = 0;
	for (size_t i = 0; i < nr_roots; i++) {
		pid_t *sub;
		size_t nr_sub;

		if (tree_walk(roots[i], &sub, &nr_sub) < 0) {
			free(roots);
			free(*pids);
			return -1;
		}
		*pids = xrealloc(*pids, (*n + nr_sub) * sizeof(pid_t));
		memcpy(*pids + *n, sub, nr_sub * sizeof(pid_t));
		*n += nr_sub;
		free(sub);
	}
	free(roots);
	if (!*n) {
		pr_err("process group %d holds only jobfreeze itself, no job", pgid);
		free(*pids);
		*pids = NULL;
		return -1;
	}
	return 0;
}
